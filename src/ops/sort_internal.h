/* ops/sort_internal.h - internal: the state of an external sort, shared by
 * sort.c (lifecycle, push, next), sort_buffer.c (records in RAM and runs)
 * and sort_merge.c (the loser tree and the passes).  Not installed.
 *
 * The sort is an operator (ops/op.h): a consumer in its region whose
 * memory is grant-backed buffers (alloc/gbuf.h), fixed so records never
 * move while they are in RAM:
 *   fixed width:  data  = records, n * rec_size bytes
 *                 aux   = radix scratch of the same size
 *   variable:     data  = (u32 len, bytes) records
 *                 aux   = entries[n] (prefix, pointer into data)
 *                 aux2  = entry scratch[n]
 *   UNIQUE:       last  = a copy of the record returned last (movable)
 * Each buffer's grant covers its pages; pages are given back with the
 * grant, so RSS follows the charge.  Spill files' buffers are charged by
 * the spill layer to spill staging.
 *
 * Runs.  A run is a spill file of sorted records in the framing of
 * spill/spill_records.h.  Runs are kept in input order (run i holds records
 * pushed before those of run i + 1), and merges combine neighbours only, so
 * ties resolved by run order keep the sort stable.
 *
 * Threading.  One thread drives a sort.  The governor may call the consumer
 * ops (the base's) from any thread: they touch atomics only.
 */
#ifndef MGOV_OPS_SORT_INTERNAL_H
#define MGOV_OPS_SORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/sort.h"
#include "memgov/spill.h"
#include "ops/op.h"
#include "ops/sort_kernel.h"
#include "spill/spill_records.h"

typedef struct mgov_sort_run {
    mgov_spill_file_t *file;
    uint64_t records;
} mgov_sort_run_t;

/* One input of a merge: a run being read, and its current record. */
typedef struct mgov_sort_source {
    mgov_spill_reader_t *reader;
    mgov__recin_t in;         /* in.rec == NULL once the run is exhausted */
    uint64_t left;            /* records not yet taken, the current one included */
    uint64_t key;             /* first key bytes as a big-endian integer (ordering hint) */
    uint64_t okey;            /* fast merges: key in output order; UINT64_MAX when done */
    uint32_t rank;            /* fast merges: source index; high bit set when done */
} mgov_sort_source_t;

/* A k-way merge of neighbouring runs with a loser tree. */
typedef struct mgov_sort_merge {
    mgov_sort_source_t *src;
    unsigned k;
    unsigned *tree;           /* tree[0] = winner; tree[1..k-1] = losers */
    unsigned char *carry;     /* fixed width: the sources' carry buffers */
    bool started;
    bool fast;                /* fixed width, key <= 8 bytes: (okey, rank) decides */
    bool pending_advance;     /* the winner was returned; move it on the next call */
} mgov_sort_merge_t;

struct mgov_sort {
    mgov__op_t op;
    unsigned flags;
    size_t rec_size;          /* 0 = variable length */
    size_t key_off, key_size;
    mgov_sort_cmp_fn cmp;
    void *cmp_ctx;
    size_t max_record;
    uint64_t step;            /* growth step of the buffers, together */
    size_t longest;           /* variable: the longest record pushed */
    void (*progress)(void *ctx, const mgov_sort_stats_t *st);
    void *progress_ctx;
    bool finished;

    /* records in RAM (see the header comment) */
    size_t area;              /* address space of each fixed buffer */
    mgov__gbuf_t data, aux, aux2;
    size_t data_used;         /* variable: bytes of data in use */
    uint64_t n;               /* records in RAM */

    /* sorted records in RAM, when nothing was spilled (output phase) */
    const unsigned char *out_fixed;
    const mgov__sort_entry_t *out_entries;
    uint64_t out_pos;

    mgov_sort_run_t *runs;
    unsigned n_runs;
    size_t runs_cap;
    mgov_sort_merge_t merge;  /* the output pass, when runs exist */

    /* MGOV_SORT_UNIQUE: a copy of the last record returned */
    mgov__gbuf_t last;
    size_t last_len;
    bool have_last;

    uint64_t progress_bytes;  /* output bytes since the last progress call */
    mgov_sort_stats_t st;
};

/* ---- sort.c */
/* Reports progress (when a callback is set). */
void mgov__sort_progress(mgov_sort_t *s);
/* Orders two records: < 0, 0, > 0 (direction applied; ties are equal). */
int mgov__sort_compare(const mgov_sort_t *s, const unsigned char *a, size_t alen,
                       const unsigned char *b, size_t blen);
/* Checks the sort's invariants (tests and debug builds): MGOV_OK, or
 * MGOV_ECORRUPT naming nothing (a bug). */
int mgov__sort_check(const mgov_sort_t *s);

/* ---- sort_buffer.c */
int mgov__sort_buffer_init(mgov_sort_t *s);
void mgov__sort_buffer_free(mgov_sort_t *s);
/* Appends one record, growing the buffers or spilling a run as needed. */
int mgov__sort_buffer_push(mgov_sort_t *s, const void *rec, size_t len);
/* Sorts the records in RAM and writes them as a run (nothing when empty);
 * afterwards the buffer is empty.  release: also give its memory back. */
int mgov__sort_buffer_spill(mgov_sort_t *s, bool release);
/* Sorts the records in RAM for output without spilling. */
void mgov__sort_buffer_sort_in_place(mgov_sort_t *s);
/* Gives every byte of the record buffers back (pages and grants). */
void mgov__sort_buffer_release(mgov_sort_t *s);
/* Bytes the record buffers need for n records holding `data` bytes. */
uint64_t mgov__sort_buffer_need(const mgov_sort_t *s, uint64_t n, uint64_t data);

/* ---- sort_merge.c */
/* Merges runs until the rest can be merged at once, then opens the output
 * pass over them. */
int mgov__sort_merge_prepare(mgov_sort_t *s);
/* The next record of the output pass: 1, 0 at the end, or an error. */
int mgov__sort_merge_next(mgov_sort_t *s, const unsigned char **rec, size_t *len);
void mgov__sort_merge_close(mgov_sort_merge_t *m);
void mgov__sort_runs_destroy(mgov_sort_t *s);

#endif /* MGOV_OPS_SORT_INTERNAL_H */
