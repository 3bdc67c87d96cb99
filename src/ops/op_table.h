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

#endif /* MGOV_OPS_OP_TABLE_H */
