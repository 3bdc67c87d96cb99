/* ops/op_table.h - internal: the slot array the hash operators index their
 * rows with.  Not installed.
 *
 *   slots  uint64[2^k], open addressing with linear probing from the hash's
 *          low bits; 0 is empty, else (tag << 48) | ref: the 16-bit tag of
 *          the hash (ops/op_partition.h) and a row reference (> 0, < 2^48)
 *          the operator gives meaning to (a row index + 1, an offset / 8 + 1)
 *
 * It holds references only, so rows never move when it grows: growing
 * makes a fresh zeroed array of twice the size (a grant-backed buffer of
 * the operator, huge pages once large) and re-inserts every row, walking
 * the rows in order rather than the old slots, through the operator's
 * callback.  At most 3/4 full.
 *
 * Lookup is inline: mgov__slots_first / mgov__slots_next walk the slots of
 * a hash whose tag matches, the operator compares the keys.
 *
 * Threading: one operator's thread.
 */
#ifndef MGOV_OPS_OP_TABLE_H
#define MGOV_OPS_OP_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/op.h"
#include "ops/op_partition.h"

#define MGOV__SLOT_REF_MASK (((uint64_t)1 << 48) - 1)

typedef struct mgov__slots {
    mgov__gbuf_t buf;
    uint64_t mask;  /* slots - 1; 0: no array yet */
    uint64_t used;  /* slots taken */
} mgov__slots_t;

/* The rows to re-insert when the array grows: called for i = 0.. until it
 * returns false; sets the row's hash and reference. */
typedef bool (*mgov__slots_each_fn)(void *ctx, uint64_t i, uint64_t *hv, uint64_t *ref);

/* An empty array (nothing mapped). */
int mgov__slots_init(mgov__op_t *op, mgov__slots_t *s);
/* Makes room for one more slot: grows (and re-inserts through each) when
 * the array is missing or 3/4 full.  `limit` caps the operator's charge
 * (MGOV_ELIMIT past it); the governor's refusals; nothing changes on
 * error. */
int mgov__slots_reserve(mgov__op_t *op, mgov__slots_t *s, uint64_t limit,
                        mgov__slots_each_fn each, void *ctx);
/* For an operator that chains its rows off the array instead of probing
 * it (the join's buckets): makes it at least n slots (a power of two),
 * charged but untouched, so every slot reads 0 until the operator writes
 * it; what was there is kept.  `limit` and errors as mgov__slots_reserve. */
int mgov__slots_size(mgov__op_t *op, mgov__slots_t *s, uint64_t n, uint64_t limit);
/* Inserts ref for hv (room reserved). */
void mgov__slots_put(mgov__slots_t *s, uint64_t hv, uint64_t ref);
/* Gives the array back. */
void mgov__slots_free(mgov__slots_t *s);

/* Walks the candidates of hv: *i starts at mgov__slots_first; each call
 * returns the next reference whose tag matches, or 0 at an empty slot. */
static inline uint64_t mgov__slots_first(const mgov__slots_t *s, uint64_t hv)
{
    return hv & s->mask;
}

static inline uint64_t mgov__slots_next(const mgov__slots_t *s, uint64_t hv, uint64_t *i)
{
    const uint64_t *a = (const uint64_t *)s->buf.base;
    uint64_t tag = mgov__part_tag(hv);
    for (;;) {
        uint64_t v = a[*i];
        *i = (*i + 1) & s->mask;
        if (!v)
            return 0;
        if (v >> 48 == tag)
            return v & MGOV__SLOT_REF_MASK;
    }
}

/* The slot hv would be looked up in first (to prefetch it). */
static inline const uint64_t *mgov__slots_home(const mgov__slots_t *s, uint64_t hv)
{
    return (const uint64_t *)s->buf.base + (hv & s->mask);
}

/* ------------------------------------------------------------ partitions */

/* A partition in RAM: the slot array over a row store the operator lays
 * out (rows are appended and never move in its offsets). */
typedef struct mgov__ptab {
    mgov__slots_t slots;
    mgov__gbuf_t rows;
    size_t used;     /* row bytes in use */
    uint64_t nrows;
} mgov__ptab_t;

/* How an operator lays out its rows, for the walks the shared code makes
 * over them (re-inserting them when the slot array grows). */
typedef struct mgov__row_layout {
    /* The row at `row`: its key and the bytes it takes; false when it has
     * no slot of its own (a later row of a chain). */
    bool (*row)(const void *ctx, const unsigned char *row, const unsigned char **key,
                size_t *klen, size_t *bytes);
    const void *ctx;
    bool ref_by_index; /* references are row index + 1 (rows of one size), else offset / 8 + 1 */
    unsigned level;    /* the hash the slots were made with */
    bool const_hash;
} mgov__row_layout_t;

/* mgov__slots_reserve for pt's slot array, its rows walked by `lay`. */
int mgov__ptab_slot_reserve(mgov__op_t *op, mgov__ptab_t *pt, uint64_t limit,
                            const mgov__row_layout_t *lay);

/* Grows pt's rows to hold `need` bytes: doubling up to a 16 MiB step,
 * faulted in at once, within `limit` of the operator's charge (MGOV_ELIMIT
 * past it: the operator spills); the governor's refusals. */
int mgov__ptab_rows_reserve(mgov__op_t *op, mgov__ptab_t *pt, size_t need, uint64_t limit);
void mgov__ptab_free(mgov__ptab_t *pt);
static inline uint64_t mgov__ptab_bytes(const mgov__ptab_t *pt)
{
    return pt->slots.buf.cap + pt->rows.cap;
}

/* The partitions of a pass: a source split 2^bits ways at `level`, each in
 * RAM or spilled to its files, one set of files per side of the data (the
 * aggregation has one, the join two: build and probe). */
typedef struct mgov__op_pass {
    unsigned level;
    unsigned bits, n;         /* this pass's width: 2^bits partitions */
    unsigned bits_max;        /* set once, at the operator's create: the width it plans for */
    unsigned sides;           /* likewise: sets of partition files, 1 or 2 */
    size_t rec_size;          /* likewise: the files' framing */
    mgov__ptab_t *parts;
    mgov__part_out_t out[2];  /* the spilled partitions' files, per side */
    uint64_t in_bytes;        /* its source file's raw bytes; UINT64_MAX: the pushed input */
    unsigned deepest;         /* the deepest level a pass has begun at */
    bool active;
} mgov__op_pass_t;

/* Starts a pass: 2^bits empty partitions and no file yet.  MGOV_ENOMEM. */
int mgov__op_pass_begin(mgov__op_t *op, mgov__op_pass_t *ps, unsigned level, uint64_t in_bytes,
                        unsigned bits);
/* The width of a pass over spilled file f whose tables would take about
 * `est` bytes: one partition when that fits in `fit` and f came out of a
 * split that shrank it, else bits_max.  One table where one will do: its
 * rows grow in place to many 2 MiB runs (huge pages), where sixteen small
 * tables would each grow 4 KiB page by page; and a file that a one-way
 * pass had to spill is split the next time. */
unsigned mgov__op_pass_width(const mgov__op_pass_t *ps, const mgov__part_file_t *f, uint64_t est,
                             uint64_t fit);
/* Whether a file that pass ps wrote for partition of `bytes` failed to
 * shrink (a split that did not spread the keys: the same keys again). */
static inline bool mgov__op_pass_stuck(const mgov__op_pass_t *ps, uint64_t bytes)
{
    return ps->bits && ps->in_bytes != UINT64_MAX && bytes >= ps->in_bytes / 10 * 9;
}
/* Frees its partitions (their memory back) and aborts the files still
 * being written. */
void mgov__op_pass_free(mgov__op_pass_t *ps);
/* True when partition p is spilled in this pass (its first side's file is
 * open). */
static inline bool mgov__op_pass_spilled(const mgov__op_pass_t *ps, unsigned p)
{
    return mgov__part_out_open(&ps->out[0], p);
}
/* The partition in RAM holding the most, or -1 when none holds a row. */
int mgov__op_pass_largest(const mgov__op_pass_t *ps);

#endif /* MGOV_OPS_OP_TABLE_H */
