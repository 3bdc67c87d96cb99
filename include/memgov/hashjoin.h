/* memgov/hashjoin.h - a grace hash join that finishes under any budget and
 * on any skew.
 *
 * Two phases.  Build: push the build side's rows (a key and a payload of
 * bytes), then finish the build.  Probe: push probe rows one at a time; after
 * each, pull its joined output with mgov_hashjoin_next until it returns 0;
 * then finish the probe and pull the rest (rows of spilled partitions,
 * unmatched build rows) until next returns 0 again.  Keys are byte strings
 * compared by bytes, fixed width (key_size > 0) or variable length; payloads
 * are any bytes (empty included).
 *
 * Join types (a "match" is a build row and a probe row with equal keys):
 *   MGOV_JOIN_INNER        every match
 *   MGOV_JOIN_PROBE_OUTER  every match, and each probe row with none once,
 *                          without a build row
 *   MGOV_JOIN_BUILD_OUTER  every match, and each build row never matched,
 *                          without a probe row, at the end
 *   MGOV_JOIN_FULL         both
 *   MGOV_JOIN_SEMI         each probe row with at least one match, once
 *   MGOV_JOIN_ANTI         each probe row with none, once
 * Output order is unspecified.
 *
 * Memory.  The build side is hashed (one 64-bit XXH3 hash per key) into
 * partitions held in tables and row stores that grow by grants in the
 * operator's region (execution_buffers by default); rows with equal keys
 * are chained, so a key repeated a million times is one slot.  The operator
 * is a governor consumer.  When the build does not fit, or the governor
 * asks it to spill, its largest partitions go to spill files and later
 * build rows of those partitions go straight there; probe rows of a spilled
 * partition go to its probe file and are joined when the partition is read
 * back.  A partition pair that still does not fit is split again on a fresh
 * hash, level after level; one that does not shrink when split (many rows
 * with one key: a cross product) is joined in chunks instead: as much of
 * the build partition as fits is loaded, the whole probe partition streams
 * past it, and again, so even an input where every key is equal finishes
 * within the budget.  When the build side fits, nothing is written.  Open
 * files and write buffers are bounded by the number of partitions, chosen
 * from the budget, and charged to the governor.
 *
 * Output streams: a probe row with a million matches comes out one match at
 * a time; a row returned by next stays valid until the next call.
 *
 * Threading: a join is used by one thread at a time and starts no thread.
 * The governor may call its consumer ops from other threads at any time;
 * they only ask, and it spills at its next push (or pass).
 *
 * Lifecycle: create, build..., build_finish, (probe, next... until 0)...,
 * probe_finish, next... until 0, destroy.  destroy may be called at any
 * point; it removes every spill file and releases every grant.
 */
#ifndef MEMGOV_HASHJOIN_H
#define MEMGOV_HASHJOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/common.h"
#include "memgov/governor.h"
#include "memgov/spill.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgov_hashjoin mgov_hashjoin_t;

typedef enum mgov_join_type {
    MGOV_JOIN_INNER,
    MGOV_JOIN_PROBE_OUTER,
    MGOV_JOIN_BUILD_OUTER,
    MGOV_JOIN_FULL,
    MGOV_JOIN_SEMI,
    MGOV_JOIN_ANTI,
} mgov_join_type_t;

typedef struct mgov_hashjoin_stats {
    uint64_t build_rows, probe_rows;    /* pushed */
    uint64_t rows_out;                  /* returned by next so far */
    uint64_t partitions_spilled;        /* partition spills begun, all levels */
    uint64_t spill_requests;            /* spills the governor asked for */
    uint64_t spilled_raw, spilled_stored; /* bytes written to spill files */
    uint64_t files;                     /* spill files written */
    unsigned levels;                    /* deepest partitioning level reached */
    unsigned partitions;                /* partitions per level */
    uint64_t chunked;                   /* partition pairs joined in chunks */
    uint64_t chunks;                    /* chunks loaded in all */
    uint64_t memory, memory_peak;       /* the operator's grants now and at most */
} mgov_hashjoin_stats_t;

typedef struct mgov_hashjoin_config {
    mgov_t *gov;                 /* required */
    const char *region;          /* NULL: "execution_buffers" (region 0 without it) */
    const char *name;            /* consumer name; NULL: "hashjoin-<n>" */
    unsigned priority;           /* 0: MGOV_PRIORITY_EXECUTION_BUFFERS */
    mgov_join_type_t type;
    size_t key_size;             /* > 0: fixed-width keys; 0: variable length */
    size_t max_key;              /* variable keys: longest; 0 = 1 MiB */
    size_t max_payload;          /* longest payload; 0 = 16 MiB */
    uint64_t max_memory;         /* cap on the operator's grants; 0 = the budget */
    /* How long it may wait for memory when it holds nothing it could
     * spill: 0 = do not wait, < 0 = forever; MGOV_HASHJOIN_DEFAULT_TIMEOUT_NS
     * when operators share a budget. */
    int64_t timeout_ns;
    mgov_spill_dir_t *spill_dir; /* NULL: the governor's (mgov_spill_dir_get) */
    mgov_spill_options_t spill;  /* codec and level of spill files (raw when the codec's
                                    buffers for a writer per partition would take over a
                                    quarter of the memory); block_size 0 = from the
                                    budget; timeout_ns 0 = the operator's */
    /* Called from the calling thread after each spill and pass; may be NULL. */
    void (*progress)(void *ctx, const mgov_hashjoin_stats_t *st);
    void *progress_ctx;
} mgov_hashjoin_config_t;
#define MGOV_HASHJOIN_CONFIG_INIT { 0 }
#define MGOV_HASHJOIN_DEFAULT_TIMEOUT_NS ((int64_t)10 * 1000 * 1000 * 1000)

/* An output row, valid until the next call on the join.  The key is the
 * probe row's, or the build row's for an unmatched build row. */
typedef struct mgov_hashjoin_row {
    const void *key;    /* NULL when key_len is 0 */
    size_t key_len;
    bool has_build;     /* false: a probe row without a match (probe-outer, semi, anti) */
    const void *build;  /* the build row's payload (NULL when build_len is 0) */
    size_t build_len;
    bool has_probe;     /* false: a build row never matched (build-outer) */
    const void *probe;  /* the probe row's payload */
    size_t probe_len;
} mgov_hashjoin_row_t;

/* Creates a join (no memory reserved until the first push).  Errors:
 * MGOV_EINVAL (NULL, no governor, an unknown type, limits too large),
 * MGOV_ENOTFOUND (unknown region), MGOV_ENOTSUP (codec not built in),
 * MGOV_ENOMEM, the spill directory's errors and those of registering a
 * consumer. */
MGOV_API int mgov_hashjoin_create(const mgov_hashjoin_config_t *cfg, mgov_hashjoin_t **out);

/* Adds a build row (copied).  Errors: MGOV_EINVAL (wrong key length, a key
 * or payload over its maximum, after build_finish), MGOV_ELIMIT (the budget
 * cannot hold even one row and a spill file's buffers), MGOV_ETIMEDOUT,
 * MGOV_ENOSPC (spill quota or disk full), MGOV_EIO, MGOV_ENOMEM.  After an
 * error other than MGOV_EINVAL the join is failed: every later call returns
 * it. */
MGOV_API int mgov_hashjoin_build(mgov_hashjoin_t *j, const void *key, size_t key_len,
                                 const void *payload, size_t payload_len);

/* Adds n build rows of fixed-width keys at once: keys holds n x key_size
 * bytes, payloads n x payload_size (NULL when payload_size is 0).  The
 * same as n calls of build, hashed and prefetched together: the way to
 * feed it vectors.  Variable keys: MGOV_EINVAL.  Errors as build; on an
 * error the rows before the failing one were added. */
MGOV_API int mgov_hashjoin_build_batch(mgov_hashjoin_t *j, const void *keys,
                                       const void *payloads, size_t payload_size, size_t n);

/* Writes the largest partition of build rows held in RAM to its spill
 * file now and gives its memory back (its probe rows then go to disk as
 * well), from the thread that builds and probes: for a program that needs
 * memory at once (an input buffer growing for a long line), calling it
 * until it returns 0 or the memory is there.  Returns 1 when a partition
 * went, 0 when none is held in RAM, or an error: MGOV_EINVAL (NULL, after
 * probe_finish), MGOV_EBUSY (a probe row's output is not drained), and
 * build's for writing (the join is then failed). */
MGOV_API int mgov_hashjoin_spill(mgov_hashjoin_t *j);

/* Ends the build side.  Errors as build. */
MGOV_API int mgov_hashjoin_build_finish(mgov_hashjoin_t *j);

/* Adds a probe row (copied); pull its output with next until it returns 0
 * before the next probe (MGOV_EBUSY otherwise: the row is not taken).
 * Errors: MGOV_EINVAL (before build_finish, after probe_finish, lengths),
 * MGOV_EBUSY, and build's. */
MGOV_API int mgov_hashjoin_probe(mgov_hashjoin_t *j, const void *key, size_t key_len,
                                 const void *payload, size_t payload_len);

/* Adds n probe rows of fixed-width keys at once (copied, as probe does):
 * next then returns their output, row after row, and 0 once all of it is
 * out.  Hashed and prefetched together.  Variable keys: MGOV_EINVAL.
 * Errors as probe. */
MGOV_API int mgov_hashjoin_probe_batch(mgov_hashjoin_t *j, const void *keys,
                                       const void *payloads, size_t payload_size, size_t n);

/* Ends the probe side: next then returns the rest.  MGOV_EBUSY while the
 * last probe row's output is not drained. */
MGOV_API int mgov_hashjoin_probe_finish(mgov_hashjoin_t *j);

/* The next output row: 1 with *out set; 0 when the output of the last
 * probe row is drained (before probe_finish) or at the end (after it); or a
 * negative error (MGOV_EINVAL before build_finish, MGOV_ECORRUPT for a
 * damaged spill file, and build's, since spilled partitions are joined
 * here). */
MGOV_API int mgov_hashjoin_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out);

/* A snapshot of the counters.  MGOV_EINVAL for NULL. */
MGOV_API int mgov_hashjoin_stats(const mgov_hashjoin_t *j, mgov_hashjoin_stats_t *out);

/* Frees the join: removes its spill files, releases its grants, unregisters
 * its consumer.  NULL is a no-op. */
MGOV_API void mgov_hashjoin_destroy(mgov_hashjoin_t *j);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_HASHJOIN_H */
