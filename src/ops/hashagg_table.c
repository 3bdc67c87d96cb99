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
#include "sys/sys.h"


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

/* MGOV_ELIMIT when `more` bytes would take the operator past its limit. */
static int within_limit(const mgov_hashagg_t *h, uint64_t more)
{
    uint64_t now = atomic_load_explicit(&h->op.charged, memory_order_relaxed);
    return now + more > h->limit ? MGOV_ELIMIT : MGOV_OK;
}

/* The rows of a partition, in order, for the slot array's growth. */
typedef struct walk {
    const mgov_hashagg_t *h;
    const mgov__ha_part_t *pt;
    size_t off;
} walk_t;

static bool each_row(void *ctx, uint64_t i, uint64_t *hv, uint64_t *ref)
{
    walk_t *w = ctx;
    if (i >= w->pt->groups)
        return false;
    const unsigned char *row = w->pt->rows.base + w->off;
    size_t klen;
    const unsigned char *key = mgov__ha_row_key(w->h, row, &klen);
    *hv = mgov__part_hash(key, klen, w->h->pass.level, w->h->const_hash);
    *ref = w->h->key_size ? i + 1 : w->off / 8 + 1;
    w->off += mgov__ha_row_bytes(w->h, klen);
    return true;
}

static int rows_grow(mgov_hashagg_t *h, mgov__ha_part_t *pt, size_t need)
{
    int rc = within_limit(h, mgov__page_round(need) - pt->rows.cap);
    if (rc != MGOV_OK)
        return rc;
    /* grow by doubling up to a step: small partitions stay small */
    size_t want = need + (pt->rows.cap < h->step ? pt->rows.cap + 4096 : h->step);
    uint64_t now = atomic_load_explicit(&h->op.charged, memory_order_relaxed);
    uint64_t room = h->limit > now ? h->limit - now : 0;
    if (mgov__page_round(want) - pt->rows.cap > room)
        want = need; /* the step would pass the limit: only what is needed */
    return mgov__op_grow(&h->op, &pt->rows, need, want, 0, MGOV__GBUF_POPULATE);
}

int mgov__ha_find_or_add(mgov_hashagg_t *h, mgov__ha_part_t *pt, uint64_t hv, const void *key,
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
    walk_t w = { h, pt, 0 };
    int rc = mgov__slots_reserve(&h->op, &pt->slots, h->limit, each_row, &w);
    if (rc != MGOV_OK)
        return rc;
    size_t rb = mgov__ha_row_bytes(h, klen);
    if (pt->used + rb > pt->rows.cap && (rc = rows_grow(h, pt, pt->used + rb)) != MGOV_OK)
        return rc;
    unsigned char *r = pt->rows.base + pt->used;
    uint64_t ref;
    if (h->key_size) {
        memcpy(r, key, h->key_size);
        ref = pt->groups + 1;
    } else {
        uint32_t len = (uint32_t)klen;
        memcpy(r, &len, sizeof len);
        if (klen)
            memcpy(r + sizeof len, key, klen);
        ref = pt->used / 8 + 1;
    }
    mgov__slots_put(&pt->slots, hv, ref);
    pt->used += rb;
    pt->groups++;
    *row = r;
    *fresh = true;
    return MGOV_OK;
}

/* The row of an existing group of a fixed key, or NULL. */
static inline unsigned char *find_fixed(const mgov_hashagg_t *h, const mgov__ha_part_t *pt,
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
    mgov__ha_part_t *pts[MGOV__HA_BATCH];
    mgov__ha_pass_t *ps = &h->pass;
    size_t ks = h->key_size;
    /* three sweeps, so the cache misses of a sweep overlap: slots, rows,
     * then the work */
    for (unsigned i = 0; i < n; i++) {
        hv[i] = mgov__part_hash(keys + i * kstride, ks, ps->level, h->const_hash);
        unsigned p = mgov__part_of(hv[i], ps->bits);
        pts[i] = mgov__part_out_open(&ps->out, p) ? NULL : &ps->parts[p];
        if (pts[i] && pts[i]->slots.mask)
            __builtin_prefetch(mgov__slots_home(&pts[i]->slots, hv[i]));
    }
    for (unsigned i = 0; i < n; i++) {
        const mgov__ha_part_t *pt = pts[i];
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
        mgov__ha_part_t *pt = pts[i];
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
        if (mgov__part_out_open(&ps->out, mgov__part_of(hv[i], ps->bits)))
            for (unsigned j = i + 1; j < n; j++) /* spilled meanwhile: revisit */
                if (pts[j] && mgov__part_out_open(&ps->out, mgov__part_of(hv[j], ps->bits)))
                    pts[j] = NULL;
    }
    return MGOV_OK;
}

void mgov__ha_part_free(mgov__ha_part_t *pt)
{
    mgov__slots_free(&pt->slots);
    mgov__gbuf_free(&pt->rows);
    pt->groups = 0;
    pt->used = 0;
}
