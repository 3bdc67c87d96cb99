/* ops/sort_internal.h - internal: the state of an external sort, shared by
 * sort.c (lifecycle, push, the consumer), sort_buffer.c (records in RAM and
 * runs) and sort_merge.c (the loser tree and the passes).  Not installed.
 *
 * Memory.  Records in RAM live in address space mapped once at create
 * (anonymous, MAP_NORESERVE) and touched as it fills, so growing never
 * copies; the bytes in use are covered by one grant (s->grant), grown by
 * steps and shrunk, with the pages beyond it given back (MADV_DONTNEED), so
 * RSS follows the grant.
 *   fixed width:  recs[n * rec_size] + radix scratch of the same size:
 *                 2 * n * rec_size bytes charged
 *   variable:     data[] of (u32 len, bytes) records + entries[n] + entry
 *                 scratch[n]: data + 2 * n * sizeof(entry) bytes charged
 * Spill files' buffers are charged by the spill layer to spill staging.
 *
 * Runs.  A run is a spill file of sorted records: fixed width records back
 * to back; variable length each as a LEB128 length then its bytes.  Runs
 * are kept in input order (run i holds records pushed before those of run
 * i + 1), and merges combine neighbours only, so ties resolved by run order
 * keep the sort stable.
 *
 * Threading.  One thread drives a sort.  The governor may call the consumer
 * ops from any thread: they touch only spill_asked and charged (atomics).
 */
#ifndef MGOV_OPS_SORT_INTERNAL_H
#define MGOV_OPS_SORT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/sort.h"
#include "memgov/spill.h"
#include "ops/sort_kernel.h"

/* What a spill request asks of the sorting thread at its next push. */
enum {
    MGOV__SORT_ASKED_NONE,
    MGOV__SORT_ASKED_RUN,    /* made by the sort's own growth: write a run, keep the memory */
    MGOV__SORT_ASKED_MEMORY, /* made for someone else: write a run and give the memory back */
};

typedef struct mgov_sort_run {
    mgov_spill_file_t *file;
    uint64_t records;
} mgov_sort_run_t;

/* One input of a merge: a run being read, and its current record. */
typedef struct mgov_sort_source {
    mgov_spill_reader_t *reader;
    uint64_t left;            /* records not yet taken, the current one included */
    const unsigned char *rec; /* current record, valid until the reader moves */
    size_t len;
    uint64_t key;             /* first key bytes as a big-endian integer (ordering hint) */
    uint64_t okey;            /* fast merges: key in output order; UINT64_MAX when done */
    uint32_t rank;            /* fast merges: source index; high bit set when done */
    /* fixed width: a window of whole records in the reader's block, and a
     * record that a block boundary cuts, assembled in carry */
    size_t win_left;          /* records left in the window after rec */
    unsigned char *carry;     /* rec_size bytes */
    size_t tail;              /* bytes of the cut record already in carry */
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
    mgov_t *gov;
    int region;
    unsigned flags;
    size_t rec_size;          /* 0 = variable length */
    size_t key_off, key_size;
    mgov_sort_cmp_fn cmp;
    void *cmp_ctx;
    size_t max_record;
    uint64_t max_memory;      /* cap on the grant (0 = none) */
    int64_t timeout_ns;       /* waiting for memory with nothing to spill */
    uint64_t step;            /* grant growth step */
    uint64_t writer_cost;     /* what a run writer charges to spill staging */
    uint64_t reader_cost;     /* what a run reader charges (before gathering) */
    size_t longest;           /* variable: the longest record pushed */
    mgov_spill_dir_t *dir;
    mgov_spill_options_t spill;
    void (*progress)(void *ctx, const mgov_sort_stats_t *st);
    void *progress_ctx;

    mgov_consumer_t *consumer;
    mgov_grant_t grant;
    _Atomic uint64_t charged;   /* grant.bytes, readable from other threads */
    _Atomic int spill_asked;    /* MGOV__SORT_ASKED_*: the governor's spill request */
    int failed;                 /* sticky error, or MGOV_OK */
    bool finished;

    /* records in RAM (see the header comment) */
    unsigned char *map;         /* one mapping: data area, then entries/scratch area */
    size_t map_size, area;      /* total, and the size of each of the two halves */
    size_t touched;             /* bytes of each half that may be resident */
    unsigned char *data;        /* fixed: records; variable: (len, bytes) records */
    size_t data_used;
    mgov__sort_entry_t *entries; /* variable only: inside the second half */
    size_t entries_cap;          /* entries that fit beside the data */
    uint64_t n;                  /* records in RAM */

    /* sorted records in RAM, when nothing was spilled (output phase) */
    const unsigned char *out_fixed;
    const mgov__sort_entry_t *out_entries;
    uint64_t out_pos;

    mgov_sort_run_t *runs;
    unsigned n_runs, runs_cap;
    mgov_sort_merge_t merge;    /* the output pass, when runs exist */

    /* MGOV_SORT_UNIQUE: a copy of the last record returned */
    unsigned char *last;
    size_t last_len, last_cap;
    bool have_last;

    uint64_t progress_bytes;    /* output bytes since the last progress call */
    mgov_sort_stats_t st;
};

/* ---- sort.c */
/* Reports progress (when a callback is set). */
void mgov__sort_progress(mgov_sort_t *s);
/* Orders two records: < 0, 0, > 0 (direction applied; ties are equal). */
int mgov__sort_compare(const mgov_sort_t *s, const unsigned char *a, size_t alen,
                       const unsigned char *b, size_t blen);
/* Grows or shrinks the grant (kept in charged). */
int mgov__sort_charge(mgov_sort_t *s, uint64_t bytes);
/* Grows the grant to bytes, waiting in the governor's queue (timeout_ns). */
int mgov__sort_charge_wait(mgov_sort_t *s, uint64_t bytes);

/* ---- sort_buffer.c */
int mgov__sort_buffer_init(mgov_sort_t *s);
void mgov__sort_buffer_free(mgov_sort_t *s);
/* Appends one record, growing the grant or spilling a run as needed. */
int mgov__sort_buffer_push(mgov_sort_t *s, const void *rec, size_t len);
/* Sorts the records in RAM and writes them as a run (nothing when empty);
 * afterwards the buffer is empty.  release: also give its memory back. */
int mgov__sort_buffer_spill(mgov_sort_t *s, bool release);
/* Sorts the records in RAM for output without spilling. */
void mgov__sort_buffer_sort_in_place(mgov_sort_t *s);
/* Gives every byte of RAM back (pages and grant). */
void mgov__sort_buffer_release(mgov_sort_t *s);

/* ---- sort_merge.c */
/* Merges runs until the rest can be merged at once, then opens the output
 * pass over them. */
int mgov__sort_merge_prepare(mgov_sort_t *s);
/* The next record of the output pass: 1, 0 at the end, or an error. */
int mgov__sort_merge_next(mgov_sort_t *s, const unsigned char **rec, size_t *len);
void mgov__sort_merge_close(mgov_sort_merge_t *m);
/* Writes record framing for one record to w. */
int mgov__sort_run_put(mgov_sort_t *s, mgov_spill_writer_t *w, const unsigned char *rec,
                       size_t len);
void mgov__sort_runs_destroy(mgov_sort_t *s);

#endif /* MGOV_OPS_SORT_INTERNAL_H */
