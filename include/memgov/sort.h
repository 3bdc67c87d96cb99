/* memgov/sort.h - an external merge sort that finishes under any budget.
 *
 * Push records in, call finish, pull the sorted records out one by one.
 * Records are either fixed width, ordered by a key of key_size bytes at
 * key_offset compared as unsigned bytes (encode keys so that byte order is
 * their order: big-endian integers, sign bit flipped, ...), or of variable
 * length, ordered by a comparison callback or, without one, by their bytes
 * (the order of memcmp, a proper prefix first: `LC_ALL=C sort`).  The sort
 * is stable: records with equal keys come out in the order they went in.
 *
 * Memory: the records held in RAM are charged to a grant in the sort's
 * region, grown as they arrive.  When the grant cannot grow, or when the
 * governor asks the sort to spill (it is a registered consumer), the sort
 * sorts what it holds, writes it as a run to a spill file and goes on.  In
 * RAM fixed-width keys are radix-sorted; other records are merge-sorted.
 * finish merges the runs with a loser tree, in several passes when there
 * are more runs than the memory allows to merge at once; the last pass
 * feeds mgov_sort_next directly, so the result is never held whole.
 *
 * Lifecycle: create, push..., finish, next... until it returns 0, destroy.
 * destroy may be called at any point; it removes every spill file and
 * releases every grant.
 *
 * Thread safety: a sort is used by one thread at a time.  The governor may
 * call its consumer ops from other threads at any time; they only ask, and
 * the sort spills at its next push.  Sorting 2^20 records or more in RAM
 * uses one more thread for a moment (joined before the call returns) when
 * the machine has a second CPU; comparison callbacks never run on it.
 */
#ifndef MEMGOV_SORT_H
#define MEMGOV_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "memgov/common.h"
#include "memgov/governor.h"
#include "memgov/spill.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgov_sort mgov_sort_t;

/* A timeout for mgov_sort_config_t.timeout_ns when operators share a
 * budget: long enough for another operator to write a run and give its
 * memory back. */
#define MGOV_SORT_DEFAULT_TIMEOUT_NS ((int64_t)10 * 1000 * 1000 * 1000)

/* Orders variable-length records: < 0, 0 or > 0 as a sorts before, with or
 * after b.  Called from the sorting thread only. */
typedef int (*mgov_sort_cmp_fn)(void *ctx, const void *a, size_t a_len, const void *b,
                                size_t b_len);

enum {
    MGOV_SORT_DESCENDING = 1u, /* largest first (still stable) */
    MGOV_SORT_UNIQUE = 2u,     /* of records with equal keys, only the first comes out */
};

typedef enum mgov_sort_phase {
    MGOV_SORT_PHASE_INPUT,  /* records are being pushed; runs written */
    MGOV_SORT_PHASE_MERGE,  /* an intermediate merge pass */
    MGOV_SORT_PHASE_OUTPUT, /* the last pass, feeding mgov_sort_next */
} mgov_sort_phase_t;

typedef struct mgov_sort_stats {
    mgov_sort_phase_t phase;
    uint64_t records_in, bytes_in;    /* pushed */
    uint64_t records_out;             /* returned by next so far */
    uint64_t runs;                    /* runs written, all passes */
    uint64_t spill_requests;          /* spills the governor asked for */
    unsigned merge_passes;            /* passes done (the output pass counts when started) */
    unsigned merge_passes_planned;    /* known after finish; 0 when nothing was spilled */
    uint64_t spilled_raw, spilled_stored; /* bytes written to spill files, all passes */
    uint64_t memory, memory_peak;     /* the sort's grant now and at most */
    /* Runs cut from the input while pushing (the last one, written by
     * finish, is not among them): how many, and the raw bytes of the
     * smallest and the largest; 0 when none.  Without other consumers
     * asking for memory, each is close to the memory the sort had. */
    uint64_t input_runs, input_run_min, input_run_max;
} mgov_sort_stats_t;

typedef struct mgov_sort_config {
    mgov_t *gov;                 /* required */
    const char *region;          /* NULL: "execution_buffers" (region 0 without it) */
    const char *name;            /* consumer name; NULL: "sort" */
    unsigned priority;           /* 0: MGOV_PRIORITY_EXECUTION_BUFFERS */
    size_t record_size;          /* > 0: fixed-width records; 0: variable length */
    size_t key_offset, key_size; /* fixed width: the key; key_size 0 = the whole record */
    mgov_sort_cmp_fn cmp;        /* variable length: NULL = by bytes */
    void *cmp_ctx;
    size_t max_record;           /* variable length: longest record; 0 = 64 MiB */
    uint64_t max_memory;         /* cap on the sort's grant; 0 = what the governor gives */
    /* How long a push may wait for memory when the sort holds no record it
     * could spill (others hold the budget and were asked to give some
     * back), and a merge for room to open two runs: 0 = do not wait (as
     * every timeout in memgov), < 0 = forever, MGOV_SORT_DEFAULT_TIMEOUT_NS
     * is a good choice when several operators share a budget.  Then
     * MGOV_ETIMEDOUT (MGOV_EBUDGET when 0). */
    int64_t timeout_ns;
    unsigned flags;              /* MGOV_SORT_DESCENDING, MGOV_SORT_UNIQUE */
    mgov_spill_dir_t *spill_dir; /* NULL: the governor's (mgov_spill_dir_get) */
    mgov_spill_options_t spill;  /* codec and level of runs; block_size 0 = from the budget;
                                    timeout_ns 0 = the sort's timeout_ns */
    /* Called from the sorting thread after each run and pass, and about
     * every 64 MiB of merge output; may be NULL. */
    void (*progress)(void *ctx, const mgov_sort_stats_t *st);
    void *progress_ctx;
} mgov_sort_config_t;
#define MGOV_SORT_CONFIG_INIT { 0 }

/* Creates a sort (no memory is reserved until the first push).  Errors:
 * MGOV_EINVAL (NULL, no governor, key outside the record, a cmp with fixed
 * records), MGOV_ENOTFOUND (unknown region), MGOV_ENOTSUP (codec not built
 * in), MGOV_ENOMEM, and the errors of registering a consumer. */
MGOV_API int mgov_sort_create(const mgov_sort_config_t *cfg, mgov_sort_t **out);

/* Adds one record (copied).  Fixed width: len must be record_size.
 * When the sort holds records and its grant cannot grow, they become a
 * run; when it holds none, it waits (timeout_ns, FIFO in the governor) for
 * others to give memory back.  Errors: MGOV_EINVAL (wrong length, longer
 * than max_record, after finish), MGOV_ELIMIT (the budget cannot hold even
 * one record and the buffers a run needs), MGOV_ETIMEDOUT (no memory came
 * back in time), MGOV_ENOSPC (spill quota or disk full), MGOV_EIO,
 * MGOV_ENOMEM.  After an error other than MGOV_EINVAL the sort is failed:
 * every later call returns the same error. */
MGOV_API int mgov_sort_push(mgov_sort_t *s, const void *rec, size_t len);

/* Writes the records the sort holds as a run now and gives all its memory
 * back (buffers, pages and grants), from the thread that pushes: for a
 * program that needs that memory for something else at once, such as an
 * input buffer growing for a long line.  The next push takes memory
 * again.  Holding no record, it only gives the memory back.  Returns 1
 * when memory went back, 0 when the sort held none, or an error:
 * MGOV_EINVAL (NULL, after finish), and push's for writing a run (the
 * sort is then failed). */
MGOV_API int mgov_sort_spill(mgov_sort_t *s);

/* Ends the input and runs the merge passes before the last.  Errors as
 * push, plus MGOV_ECORRUPT when a run reads back wrong. */
MGOV_API int mgov_sort_finish(mgov_sort_t *s);

/* The next record: returns 1 and sets *rec, *len (valid until the next call
 * on s), 0 at the end, or a negative error (MGOV_EINVAL before finish,
 * MGOV_ECORRUPT, MGOV_EIO, MGOV_ENOMEM). */
MGOV_API int mgov_sort_next(mgov_sort_t *s, const void **rec, size_t *len);

/* A snapshot of the counters.  MGOV_EINVAL for NULL. */
MGOV_API int mgov_sort_stats(const mgov_sort_t *s, mgov_sort_stats_t *out);

/* Frees the sort: removes its spill files, releases its grants, unregisters
 * its consumer.  NULL is a no-op. */
MGOV_API void mgov_sort_destroy(mgov_sort_t *s);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_SORT_H */
