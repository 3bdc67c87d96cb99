/* ops/hashagg_internal.h - internal: the state of a hash aggregation,
 * shared by hashagg.c (lifecycle, push, output), hashagg_state.c (the
 * aggregates' states), hashagg_table.c (the hash tables and row stores) and
 * hashagg_pass.c (spilling, passes over spilled partitions, the sort
 * fallback).  Not installed.
 *
 * A pass aggregates one source (the pushed input at level 0, or a spilled
 * partition's file at level L) into 2^bits partitions by the top bits of
 * the level's hash (ops/op_partition.h).  Each partition in RAM has
 *
 *   slots  the shared slot array (ops/op_table.h); a reference is the
 *          row's index + 1 (fixed keys) or its byte offset / 8 + 1
 *          (variable keys)
 *   rows   the groups, appended:
 *            fixed key:    [ key | pad to 8 | states ]          row_size bytes
 *            variable key: [ u32 len | key | pad to 8 | states ]
 *          states: one per aggregate at lay.off[i], lay.size bytes in all
 *
 * both grant-backed movable buffers of the operator (alloc/gbuf.h), with
 * huge pages once large.  A spilled partition has no table: its groups
 * were written, and its later records go to its writer, as partial states
 * (records [ key | states ], ops/op_partition.h's files).
 *
 * Memory.  The operator's buffers stay within `limit` (its memory less one
 * open writer per partition), so spilling can always open its files.  A
 * growth that does not fit spills the largest partition in RAM (or, with
 * nothing in RAM, sends the record's own partition to disk).
 *
 * Threading: one thread drives it; the consumer ops are the base's.
 */
#ifndef MGOV_OPS_HASHAGG_INTERNAL_H
#define MGOV_OPS_HASHAGG_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "memgov/hashagg.h"
#include "memgov/sort.h"
#include "ops/op.h"
#include "ops/op_partition.h"
#include "ops/op_table.h"

#define MGOV__HA_BATCH 256       /* rows hashed and prefetched together */
#define MGOV__HA_MAX_KEY_DEFAULT ((size_t)1 << 20)
#define MGOV__HA_UDF_STATE_MAX 4096

/* ---------------------------------------------------------------- states */

typedef struct mgov__agg_layout {
    unsigned n;
    mgov_agg_spec_t spec[MGOV_HASHAGG_MAX_AGGS];
    mgov_agg_udf_t udf[MGOV_HASHAGG_MAX_AGGS]; /* USER only */
    uint32_t off[MGOV_HASHAGG_MAX_AGGS];       /* state offsets, multiples of 8 */
    uint32_t size;                             /* all states, a multiple of 8 */
    bool batchable;                            /* no USER aggregate */
} mgov__agg_layout_t;

/* Checks the specs and lays the states out.  MGOV_EINVAL. */
int mgov__agg_layout(mgov__agg_layout_t *lay, const mgov_agg_spec_t *specs, unsigned n,
                     unsigned n_inputs);
/* A fresh group's states from its first row. */
void mgov__agg_init(const mgov__agg_layout_t *lay, unsigned char *st, const mgov_value_t *v);
/* One more row: inline (below), the inner step of the aggregation. */
static inline void mgov__agg_update(const mgov__agg_layout_t *lay, unsigned char *st,
                                    const mgov_value_t *v);
/* Merges partial states `from` (8-aligned) into `into`. */
void mgov__agg_merge(const mgov__agg_layout_t *lay, unsigned char *into,
                     const unsigned char *from);
/* The results; returns the overflow mask (bit i: sum i does not fit). */
uint32_t mgov__agg_finalize(const mgov__agg_layout_t *lay, const unsigned char *st,
                            mgov_value_t *out);

/* ------------------------------------------------------------ partitions */

enum { HA_OUT_NONE, HA_OUT_MEM, HA_OUT_SORT, HA_OUT_DONE };

struct mgov_hashagg {
    mgov__op_t op;
    size_t key_size;          /* 0: variable */
    size_t max_key;
    unsigned n_inputs;
    mgov__agg_layout_t lay;
    size_t state_off;         /* fixed keys: offset of the states in a row */
    size_t row_size;          /* fixed keys: bytes of a row */
    size_t rec_fixed;         /* fixed keys: bytes of a spill record; 0: variable */
    size_t step;              /* row store growth step */
    uint64_t limit;           /* cap on the operator's buffers in a pass */
    bool const_hash;          /* test hook: every key hashes alike */
    bool finished;
    void (*progress)(void *ctx, const mgov_hashagg_stats_t *st);
    void *progress_ctx;

    mgov__op_pass_t pass;     /* the pass running: partitions, files (ops/op_table.h) */
    mgov__part_stack_t todo;  /* spilled partitions waiting for a pass */

    /* work memory: batch, results and scratch states (see hashagg.c) */
    mgov__gbuf_t work;
    unsigned char *bkeys;     /* MGOV__HA_BATCH fixed keys */
    mgov_value_t *bvals;      /* MGOV__HA_BATCH x n_inputs */
    mgov_value_t *results;    /* n aggregates */
    unsigned char *tmp;       /* lay.size: a state block */
    unsigned char *carry;     /* rec_fixed bytes: a record cut by a block */
    unsigned char *stage;     /* fixed keys: MGOV__HA_BATCH records of a file, as rows */
    unsigned nb;              /* rows in the batch */

    /* output */
    int out;                  /* HA_OUT_* */
    unsigned out_part;
    uint64_t out_row;
    size_t out_off;
    mgov_sort_t *sort;        /* the fallback of a partition that would not shrink */
    mgov__gbuf_t cur, pend;   /* the group being assembled, the record after it */
    size_t cur_klen, pend_len;
    bool have_cur, have_pend, sort_done;

    uint64_t progress_groups;
    mgov_hashagg_stats_t st;
};

/* ---- hashagg_table.c */
/* The row of ref. */
static inline unsigned char *mgov__ha_row(const mgov_hashagg_t *h, const mgov__ptab_t *pt,
                                          uint64_t ref)
{
    return pt->rows.base + (ref - 1) * (h->key_size ? h->row_size : 8);
}
/* A row's key, its length and its states. */
const unsigned char *mgov__ha_row_key(const mgov_hashagg_t *h, const unsigned char *row,
                                      size_t *klen);
unsigned char *mgov__ha_row_states(const mgov_hashagg_t *h, unsigned char *row);
/* Bytes a row with a key of klen bytes takes. */
size_t mgov__ha_row_bytes(const mgov_hashagg_t *h, size_t klen);
/* Finds the group of key in partition pt, or makes it (*fresh: its states
 * are to be initialised).  Growth of the table or the rows may be refused:
 * the budget's errors, MGOV_ELIMIT past the operator's limit, with nothing
 * changed. */
int mgov__ha_find_or_add(mgov_hashagg_t *h, mgov__ptab_t *pt, uint64_t hv, const void *key,
                         size_t klen, unsigned char **row, bool *fresh);
/* Aggregates n records of fixed keys at once (at most MGOV__HA_BATCH),
 * record i's key at keys + i * kstride and its payload at pay + i *
 * pstride: n_inputs values of a raw row, or (states) its 8-aligned partial
 * states.  Groups found are updated here; the rest go through
 * mgov__ha_absorb. */
int mgov__ha_absorb_batch(mgov_hashagg_t *h, const unsigned char *keys, size_t kstride,
                          const unsigned char *pay, size_t pstride, bool states, unsigned n);
/* ---- hashagg_pass.c */
/* Aggregates one record: a raw row (values) or partial states (states,
 * 8-aligned), spilling as memory requires. */
int mgov__ha_absorb(mgov_hashagg_t *h, const void *key, size_t klen, uint64_t hv,
                    const mgov_value_t *values, const unsigned char *states);
/* Honours a pending spill request of the governor. */
int mgov__ha_take_request(mgov_hashagg_t *h);
/* Spills the largest partition in RAM: 1, 0 with none, or an error. */
int mgov__ha_spill_largest(mgov_hashagg_t *h);
/* Ends the pass's input: its spilled partitions' files go on the stack. */
int mgov__ha_pass_end(mgov_hashagg_t *h);
/* Runs the next file on the stack: a pass (then output from RAM), or the
 * sort fallback.  0 when the stack is empty. */
int mgov__ha_next_file(mgov_hashagg_t *h);
/* The next group of the sort fallback: 1, 0 at its end, or an error. */
int mgov__ha_sort_next(mgov_hashagg_t *h, mgov_hashagg_group_t *g);
/* Reports progress (when a callback is set). */
void mgov__ha_progress(mgov_hashagg_t *h);

/* ---- test hook (tests only): every key hashes alike from now on */
void mgov__hashagg_test_constant_hash(mgov_hashagg_t *h);

/* ---- inline states (hashagg_state.c has the rest) */

__extension__ typedef __int128 mgov__i128;

/* States are 8-aligned, __int128 wants 16: moved by bytes (two loads). */
static inline mgov__i128 mgov__ld128(const unsigned char *p)
{
    mgov__i128 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void mgov__st128(unsigned char *p, mgov__i128 v)
{
    memcpy(p, &v, sizeof v);
}

/* A NaN is replaced by any number: NaNs are skipped unless all are. */
static inline void mgov__f64_min(double *cur, double v)
{
    if (v < *cur || (isnan(*cur) && !isnan(v)))
        *cur = v;
}

static inline void mgov__f64_max(double *cur, double v)
{
    if (v > *cur || (isnan(*cur) && !isnan(v)))
        *cur = v;
}

static inline void mgov__agg_update(const mgov__agg_layout_t *lay, unsigned char *st,
                                    const mgov_value_t *v)
{
    for (unsigned i = 0; i < lay->n; i++) {
        const mgov_agg_spec_t *s = &lay->spec[i];
        unsigned char *p = st + lay->off[i];
        switch (s->kind) {
        case MGOV_AGG_COUNT: (*(int64_t *)p)++; break;
        case MGOV_AGG_SUM_I64: mgov__st128(p, mgov__ld128(p) + v[s->input].i64); break;
        case MGOV_AGG_SUM_F64: *(double *)p += v[s->input].f64; break;
        case MGOV_AGG_MIN_I64:
            if (v[s->input].i64 < *(int64_t *)p)
                *(int64_t *)p = v[s->input].i64;
            break;
        case MGOV_AGG_MAX_I64:
            if (v[s->input].i64 > *(int64_t *)p)
                *(int64_t *)p = v[s->input].i64;
            break;
        case MGOV_AGG_MIN_F64: mgov__f64_min((double *)p, v[s->input].f64); break;
        case MGOV_AGG_MAX_F64: mgov__f64_max((double *)p, v[s->input].f64); break;
        case MGOV_AGG_USER: s->udf->update(s->udf->ctx, p, &v[s->input]); break;
        }
    }
}

#endif /* MGOV_OPS_HASHAGG_INTERNAL_H */
