/* ops/hashagg_table.c - a partition's groups: the shared slot array
 * (ops/op_table.h) over a row store (layout in ops/hashagg_internal.h).
 *
 * Lookup walks the slots whose tag matches and compares keys.  A new group
 * reserves its slot first (the array doubles at 3/4 full, re-inserting the
 * rows in order) and its row second (the store grows by doubling up to a
 * step, by mremap), each within the operator's limit; a refusal changes
 * nothing.
 *
 * Invariants: every row has exactly one slot; groups <= 3/4 of the slots.
 * Locking: none; the operator's thread.
 */
#include <string.h>

#include "ops/hashagg_internal.h"


static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

const unsigned char *mgov__ha_row_key(const mgov_hashagg_t *h, const unsigned char *row,
                                      size_t *klen)
{
    if (h->key_size) {
        *klen = h->key_size;
        return row;
    }
    uint32_t len;
    memcpy(&len, row, sizeof len);
    *klen = len;
    return row + sizeof len;
}

unsigned char *mgov__ha_row_states(const mgov_hashagg_t *h, unsigned char *row)
{
    if (h->key_size)
        return row + h->state_off;
    uint32_t len;
    memcpy(&len, row, sizeof len);
    return row + round8(sizeof len + len);
}

size_t mgov__ha_row_bytes(const mgov_hashagg_t *h, size_t klen)
{
    return h->key_size ? h->row_size : round8(sizeof(uint32_t) + klen) + h->lay.size;
}

static inline __attribute__((always_inline)) bool key_eq(const mgov_hashagg_t *h,
                                                        const unsigned char *row, const void *key,
                   size_t klen)
{
    if (h->key_size == 8) {
        uint64_t a, b;
        memcpy(&a, row, 8);
        memcpy(&b, key, 8);
        return a == b;
    }
    if (h->key_size)
        return memcmp(row, key, h->key_size) == 0;
    uint32_t len;
    memcpy(&len, row, sizeof len);
    return len == klen && (klen == 0 || memcmp(row + sizeof len, key, klen) == 0);
}

/* A row as the shared walks see it: every row has its group's slot. */
static bool row_of(const void *ctx, const unsigned char *row, const unsigned char **key,
                   size_t *klen, size_t *bytes)
{
    const mgov_hashagg_t *h = ctx;
    *key = mgov__ha_row_key(h, row, klen);
    *bytes = mgov__ha_row_bytes(h, *klen);
    return true;
}

int mgov__ha_find_or_add(mgov_hashagg_t *h, mgov__ptab_t *pt, uint64_t hv, const void *key,
                         size_t klen, unsigned char **row, bool *fresh)
{
    if (pt->slots.mask) {
        uint64_t i = mgov__slots_first(&pt->slots, hv), ref;
        while ((ref = mgov__slots_next(&pt->slots, hv, &i)) != 0) {
            unsigned char *r = mgov__ha_row(h, pt, ref);
            if (key_eq(h, r, key, klen)) {
                *row = r;
                *fresh = false;
                return MGOV_OK;
            }
        }
    }
    /* a new group: the slot first, then its row */
    mgov__row_layout_t lay = { row_of, h, h->key_size != 0, h->pass.level, h->const_hash };
    int rc = mgov__ptab_slot_reserve(&h->op, pt, h->limit, &lay);
    if (rc != MGOV_OK)
        return rc;
    size_t rb = mgov__ha_row_bytes(h, klen);
    if ((rc = mgov__ptab_rows_reserve(&h->op, pt, pt->used + rb, h->limit)) != MGOV_OK)
        return rc;
    unsigned char *r = pt->rows.base + pt->used;
    uint64_t ref;
    if (h->key_size) {
        memcpy(r, key, h->key_size);
        ref = pt->nrows + 1;
    } else {
        uint32_t len = (uint32_t)klen;
        memcpy(r, &len, sizeof len);
        if (klen)
            memcpy(r + sizeof len, key, klen);
        ref = pt->used / 8 + 1;
    }
    mgov__slots_put(&pt->slots, hv, ref);
    pt->used += rb;
    pt->nrows++;
    *row = r;
    *fresh = true;
    return MGOV_OK;
}

/* The row of an existing group of a fixed key, or NULL. */
static inline unsigned char *find_fixed(const mgov_hashagg_t *h, const mgov__ptab_t *pt,
                                        uint64_t hv, const unsigned char *key)
{
    uint64_t i = mgov__slots_first(&pt->slots, hv), ref;
    while ((ref = mgov__slots_next(&pt->slots, hv, &i)) != 0) {
        unsigned char *r = mgov__ha_row(h, pt, ref);
        if (key_eq(h, r, key, h->key_size))
            return r;
    }
    return NULL;
}

int mgov__ha_absorb_batch(mgov_hashagg_t *h, const unsigned char *keys, size_t kstride,
                          const unsigned char *pay, size_t pstride, bool states, unsigned n)
{
    uint64_t hv[MGOV__HA_BATCH];
    mgov__ptab_t *pts[MGOV__HA_BATCH];
    mgov__op_pass_t *ps = &h->pass;
    size_t ks = h->key_size;
    /* three sweeps, so the cache misses of a sweep overlap: slots, rows,
     * then the work */
    for (unsigned i = 0; i < n; i++) {
        hv[i] = mgov__part_hash(keys + i * kstride, ks, ps->level, h->const_hash);
        unsigned p = mgov__part_of(hv[i], ps->bits);
        pts[i] = mgov__part_out_open(&h->pass.out[0], p) ? NULL : &ps->parts[p];
        if (pts[i] && pts[i]->slots.mask)
            __builtin_prefetch(mgov__slots_home(&pts[i]->slots, hv[i]));
    }
    for (unsigned i = 0; i < n; i++) {
        const mgov__ptab_t *pt = pts[i];
        if (!pt || !pt->slots.mask)
            continue;
        uint64_t s = *mgov__slots_home(&pt->slots, hv[i]);
        if (s && s >> 48 == mgov__part_tag(hv[i])) {
            const unsigned char *row = mgov__ha_row(h, pt, s & MGOV__SLOT_REF_MASK);
            __builtin_prefetch(row);
            __builtin_prefetch(row + h->row_size - 1); /* a row may cross a line */
        }
    }
    for (unsigned i = 0; i < n; i++) {
        const unsigned char *key = keys + i * kstride, *p = pay + i * pstride;
        const mgov_value_t *v = states ? NULL : (const mgov_value_t *)(const void *)p;
        mgov__ptab_t *pt = pts[i];
        unsigned char *row;
        if (pt && pt->slots.mask && (row = find_fixed(h, pt, hv[i], key)) != NULL) {
            if (states)
                mgov__agg_merge(&h->lay, row + h->state_off, p);
            else
                mgov__agg_update(&h->lay, row + h->state_off, v);
            continue;
        }
        /* a new group, or a partition on disk (a spill may change which) */
        int rc = mgov__ha_absorb(h, key, ks, hv[i], v, states ? p : NULL);
        if (rc != MGOV_OK)
            return rc;
        if (mgov__part_out_open(&h->pass.out[0], mgov__part_of(hv[i], ps->bits)))
            for (unsigned j = i + 1; j < n; j++) /* spilled meanwhile: revisit */
                if (pts[j] && mgov__part_out_open(&h->pass.out[0], mgov__part_of(hv[j], ps->bits)))
                    pts[j] = NULL;
    }
    return MGOV_OK;
}

