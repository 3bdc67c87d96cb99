/* memgov/hashagg.h - hash aggregation (GROUP BY) that finishes under any
 * budget.
 *
 * Push rows in (a key and the values to aggregate), finish, then pull the
 * groups out one by one.  Keys are byte strings compared by bytes: fixed
 * width (key_size > 0) or variable length (key_size 0: any bytes, empty
 * keys and 0x00 included).  Each group carries the results of the
 * aggregates the config lists, in that order.
 *
 * Aggregates: count, sum, min, max over signed 64-bit integers or doubles,
 * and user-defined ones (callbacks: init, update, merge, finalize over a
 * state of fixed size).  Every state is mergeable, which is what lets the
 * operator spill partial states and combine them later.  An integer sum is
 * kept in 128 bits, so it is exact whatever the order of the rows; a group
 * whose sum does not fit in 64 bits at the end is reported (its bit in
 * mgov_hashagg_group_t.overflow), never wrapped silently.
 *
 * Memory.  Groups live in hash tables (open addressing over one 64-bit XXH3
 * hash per key) and row stores, one pair per partition of the hash space;
 * both grow by grants in the operator's region (execution_buffers by
 * default), and the operator is a governor consumer.  When a grant cannot
 * grow, or the governor asks it to spill, it writes its largest partition's
 * groups as partial states to that partition's spill file and goes on;
 * later rows of a spilled partition go to the same file.  After the input,
 * each spilled partition is aggregated in turn, split again on a fresh hash
 * when it still does not fit, level after level; a partition that does not
 * shrink when split (every key with the same hash) is aggregated through
 * memgov's external sort instead, so the operator always finishes.  When
 * all groups fit, nothing is written at all.  Open files and write buffers
 * are bounded (one writer per partition of the pass being run, the number
 * of partitions chosen from the budget), and charged to the governor.
 *
 * Output streams: the groups held in RAM come first, then each spilled
 * partition's; a group returned by next stays valid until the next call.
 *
 * Threading: an aggregation is used by one thread at a time and uses no
 * thread of its own.  The governor may call its consumer ops from other
 * threads at any time; they only ask, and it spills at its next push (or
 * pass).  Callbacks (user aggregates) run in the calling thread only.
 *
 * Lifecycle: create, push..., finish, next... until it returns 0, destroy.
 * destroy may be called at any point; it removes every spill file and
 * releases every grant.
 */
#ifndef MEMGOV_HASHAGG_H
#define MEMGOV_HASHAGG_H

#include <stddef.h>
#include <stdint.h>

#include "memgov/common.h"
#include "memgov/governor.h"
#include "memgov/spill.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgov_hashagg mgov_hashagg_t;

/* A value: what a row gives an aggregate, and what a group's result is. */
typedef union mgov_value {
    int64_t i64;
    double f64;
    struct {
        const void *data;
        size_t len;
    } bytes;
} mgov_value_t;

typedef enum mgov_agg_kind {
    MGOV_AGG_COUNT,    /* rows in the group (no input): i64 */
    MGOV_AGG_SUM_I64,  /* i64 result; overflow reported */
    MGOV_AGG_SUM_F64,  /* f64 */
    MGOV_AGG_MIN_I64,
    MGOV_AGG_MAX_I64,
    MGOV_AGG_MIN_F64,  /* NaNs are skipped; NaN only when every input is NaN */
    MGOV_AGG_MAX_F64,
    MGOV_AGG_USER,     /* callbacks: mgov_agg_spec_t.udf */
} mgov_agg_kind_t;

/* A user-defined aggregate.  Its state is state_size plain bytes that the
 * operator moves and writes to spill files as they are (no pointers into
 * other memory).  Called from the pushing thread only. */
typedef struct mgov_agg_udf {
    size_t state_size;                                    /* 1..4096 bytes */
    void (*init)(void *ctx, void *state);                 /* a fresh group */
    void (*update)(void *ctx, void *state, const mgov_value_t *value);
    void (*merge)(void *ctx, void *into, const void *from); /* two partial states */
    /* The result; out->bytes may point into state (valid until the next
     * call on the operator). */
    void (*finalize)(void *ctx, const void *state, mgov_value_t *out);
    void *ctx;
} mgov_agg_udf_t;

typedef struct mgov_agg_spec {
    mgov_agg_kind_t kind;
    unsigned input;            /* which of the row's values feeds it (not for COUNT) */
    const mgov_agg_udf_t *udf; /* MGOV_AGG_USER: copied at create */
} mgov_agg_spec_t;

#define MGOV_HASHAGG_MAX_AGGS 32
#define MGOV_HASHAGG_MAX_INPUTS 32

typedef struct mgov_hashagg_stats {
    uint64_t rows_in;           /* pushed */
    uint64_t groups_out;        /* returned by next so far */
    uint64_t partitions_spilled; /* partition writes begun, all levels */
    uint64_t spill_requests;    /* spills the governor asked for */
    uint64_t spilled_raw, spilled_stored; /* bytes written to spill files */
    uint64_t files;             /* spill files written */
    unsigned levels;            /* deepest partitioning level reached (0: none) */
    unsigned partitions;        /* partitions per level */
    uint64_t sort_fallbacks;    /* partitions aggregated through the sort */
    uint64_t memory, memory_peak; /* the operator's grants now and at most */
} mgov_hashagg_stats_t;

typedef struct mgov_hashagg_config {
    mgov_t *gov;                 /* required */
    const char *region;          /* NULL: "execution_buffers" (region 0 without it) */
    const char *name;            /* consumer name; NULL: "hashagg-<n>" */
    unsigned priority;           /* 0: MGOV_PRIORITY_EXECUTION_BUFFERS */
    size_t key_size;             /* > 0: fixed-width keys; 0: variable length */
    size_t max_key;              /* variable keys: longest; 0 = 1 MiB */
    unsigned n_inputs;           /* values per row: 0..MGOV_HASHAGG_MAX_INPUTS */
    const mgov_agg_spec_t *aggs; /* n_aggs specs, copied */
    unsigned n_aggs;             /* 0..MGOV_HASHAGG_MAX_AGGS (0: distinct keys) */
    uint64_t max_memory;         /* cap on the operator's grants; 0 = the budget */
    /* How long it may wait for memory when it holds nothing it could
     * spill: 0 = do not wait, < 0 = forever; MGOV_HASHAGG_DEFAULT_TIMEOUT_NS
     * when operators share a budget. */
    int64_t timeout_ns;
    mgov_spill_dir_t *spill_dir; /* NULL: the governor's (mgov_spill_dir_get) */
    mgov_spill_options_t spill;  /* codec and level of spill files (raw when the codec's
                                    buffers for a writer per partition would take over a
                                    quarter of the memory); block_size 0 = from the
                                    budget; timeout_ns 0 = the operator's */
    /* Called from the calling thread after each spill and pass, and about
     * every 1M output groups; may be NULL. */
    void (*progress)(void *ctx, const mgov_hashagg_stats_t *st);
    void *progress_ctx;
} mgov_hashagg_config_t;
#define MGOV_HASHAGG_CONFIG_INIT { 0 }
#define MGOV_HASHAGG_DEFAULT_TIMEOUT_NS ((int64_t)10 * 1000 * 1000 * 1000)

/* A group: its key, and one result per aggregate in config order (COUNT and
 * the I64 kinds as i64, the F64 kinds as f64, USER as its finalize says).
 * Valid until the next call on the operator. */
typedef struct mgov_hashagg_group {
    const void *key;           /* NULL when key_len is 0 */
    size_t key_len;
    const mgov_value_t *values;
    uint32_t overflow;         /* bit i: aggregate i, an integer sum, does not fit in
                                  64 bits (its i64 then holds the low 64 bits) */
} mgov_hashagg_group_t;

/* Creates an aggregation (no memory reserved until the first push).
 * Errors: MGOV_EINVAL (NULL, no governor, too many aggregates or inputs, an
 * input index out of range, a USER spec without udf or with a bad state
 * size or a NULL callback), MGOV_ENOTFOUND (unknown region), MGOV_ENOTSUP
 * (codec not built in), MGOV_ENOMEM, the spill directory's errors and
 * those of registering a consumer. */
MGOV_API int mgov_hashagg_create(const mgov_hashagg_config_t *cfg, mgov_hashagg_t **out);

/* Adds one row: its key (key_size bytes, or key_len for variable keys) and
 * n_inputs values (read during the call only; values may be NULL when
 * n_inputs is 0).  Errors: MGOV_EINVAL (wrong key length, a key over
 * max_key, after finish), MGOV_ELIMIT (the budget cannot hold even one
 * group and a spill file's buffers), MGOV_ETIMEDOUT, MGOV_ENOSPC (spill
 * quota or disk full), MGOV_EIO, MGOV_ENOMEM.  After an error other than
 * MGOV_EINVAL the operator is failed: every later call returns it. */
MGOV_API int mgov_hashagg_push(mgov_hashagg_t *h, const void *key, size_t key_len,
                               const mgov_value_t *values);

/* Adds n rows of fixed-width keys at once: keys holds n x key_size bytes,
 * values n x n_inputs values (row-major; NULL when n_inputs is 0).  The
 * same as n pushes, without a call and a copy per row: the way to feed it
 * vectors.  Variable keys: MGOV_EINVAL.  Errors as push; on an error the
 * rows before the failing one were added. */
MGOV_API int mgov_hashagg_push_batch(mgov_hashagg_t *h, const void *keys,
                                     const mgov_value_t *values, size_t n);

/* Writes the largest partition of groups held in RAM to its spill file
 * now and gives its memory back, from the thread that pushes: for a
 * program that needs memory at once (an input buffer growing for a long
 * line), calling it until it returns 0 or the memory is there.  Returns 1
 * when a partition went, 0 when no group is held in RAM, or an error:
 * MGOV_EINVAL (NULL, after finish), and push's for writing (the operator
 * is then failed). */
MGOV_API int mgov_hashagg_spill(mgov_hashagg_t *h);

/* Ends the input.  Errors as push. */
MGOV_API int mgov_hashagg_finish(mgov_hashagg_t *h);

/* The next group: 1 with *out set, 0 at the end, or a negative error
 * (MGOV_EINVAL before finish, MGOV_ECORRUPT for a damaged spill file, and
 * push's errors, since spilled partitions are aggregated here). */
MGOV_API int mgov_hashagg_next(mgov_hashagg_t *h, mgov_hashagg_group_t *out);

/* A snapshot of the counters.  MGOV_EINVAL for NULL. */
MGOV_API int mgov_hashagg_stats(const mgov_hashagg_t *h, mgov_hashagg_stats_t *out);

/* Frees the operator: removes its spill files, releases its grants,
 * unregisters its consumer.  NULL is a no-op. */
MGOV_API void mgov_hashagg_destroy(mgov_hashagg_t *h);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_HASHAGG_H */
