/* ops/hashagg_table.c - a partition's hash table and row store (layout in
 * ops/hashagg_internal.h).
 *
 * Lookup probes linearly from the hash's slot bits, comparing the 16-bit
 * tag before touching a row.  A new group grows the table first (doubling
 * at 3/4 full: a fresh zeroed table, filled by walking the rows in order,
 * so the old table is read once and the rows sequentially) and the rows
 * second (by steps, mremap), each within the operator's limit; a refusal
 * changes nothing.
 *
 * Invariants: every row has exactly one slot; groups <= 3/4 of the slots.
 * Locking: none; the operator's thread.
 */
#include <string.h>

#include "ops/hashagg_internal.h"
#include "sys/sys.h"

#define REF_MASK (((uint64_t)1 << 48) - 1)
#define INIT_SLOTS 512u

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

static void slot_put(uint64_t *slots, uint64_t mask, uint64_t hv, uint64_t ref)
{
    uint64_t i = hv & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = mgov__part_tag(hv) << 48 | ref;
}

static int table_grow(mgov_hashagg_t *h, mgov__ha_part_t *pt)
{
    uint64_t n = pt->mask ? (pt->mask + 1) * 2 : INIT_SLOTS;
    size_t bytes = (size_t)n * sizeof(uint64_t);
    int rc = within_limit(h, bytes);
    if (rc != MGOV_OK)
        return rc;
    mgov__gbuf_t nb;
    if ((rc = mgov__op_buf_init(&h->op, &nb, 0)) != MGOV_OK)
        return rc;
    if ((rc = mgov__op_grow(&h->op, &nb, bytes, bytes, 0, MGOV__GBUF_POPULATE)) != MGOV_OK) {
        mgov__gbuf_free(&nb);
        return rc;
    }
    uint64_t *slots = (uint64_t *)nb.base; /* fresh anonymous memory: all empty */
    size_t off = 0;
    for (uint64_t g = 0; g < pt->groups; g++) {
        unsigned char *row = pt->rows.base + off;
        size_t klen;
        const unsigned char *key = mgov__ha_row_key(h, row, &klen);
        uint64_t hv = mgov__part_hash(key, klen, h->pass.level, h->const_hash);
        slot_put(slots, n - 1, hv, h->key_size ? g + 1 : off / 8 + 1);
        off += mgov__ha_row_bytes(h, klen);
    }
    mgov__gbuf_free(&pt->slots);
    mgov__gbuf_move(&pt->slots, &nb);
    pt->mask = n - 1;
    return MGOV_OK;
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
    uint64_t tag = mgov__part_tag(hv);
    if (pt->mask) {
        const uint64_t *slots = (const uint64_t *)pt->slots.base;
        for (uint64_t i = hv & pt->mask;; i = (i + 1) & pt->mask) {
            uint64_t s = slots[i];
            if (!s)
                break;
            if (s >> 48 == tag) {
                unsigned char *r = mgov__ha_row(h, pt, s & REF_MASK);
                if (key_eq(h, r, key, klen)) {
                    *row = r;
                    *fresh = false;
                    return MGOV_OK;
                }
            }
        }
    }
    /* a new group: the table first, then its row */
    int rc;
    if (!pt->mask || (pt->groups + 1) * 4 > (pt->mask + 1) * 3)
        if ((rc = table_grow(h, pt)) != MGOV_OK)
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
    slot_put((uint64_t *)pt->slots.base, pt->mask, hv, ref);
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
    const uint64_t *slots = (const uint64_t *)pt->slots.base;
    uint64_t tag = mgov__part_tag(hv);
    for (uint64_t i = hv & pt->mask;; i = (i + 1) & pt->mask) {
        uint64_t s = slots[i];
        if (!s)
            return NULL;
        if (s >> 48 == tag) {
            unsigned char *r = mgov__ha_row(h, pt, s & REF_MASK);
            if (key_eq(h, r, key, h->key_size))
                return r;
        }
    }
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
        if (pts[i] && pts[i]->mask)
            __builtin_prefetch((const uint64_t *)pts[i]->slots.base + (hv[i] & pts[i]->mask));
    }
    for (unsigned i = 0; i < n; i++) {
        const mgov__ha_part_t *pt = pts[i];
        if (!pt || !pt->mask)
            continue;
        uint64_t s = ((const uint64_t *)pt->slots.base)[hv[i] & pt->mask];
        if (s && s >> 48 == mgov__part_tag(hv[i])) {
            const unsigned char *row = mgov__ha_row(h, pt, s & REF_MASK);
            __builtin_prefetch(row);
            __builtin_prefetch(row + h->row_size - 1); /* a row may cross a line */
        }
    }
    for (unsigned i = 0; i < n; i++) {
        const unsigned char *key = keys + i * kstride, *p = pay + i * pstride;
        const mgov_value_t *v = states ? NULL : (const mgov_value_t *)(const void *)p;
        mgov__ha_part_t *pt = pts[i];
        unsigned char *row;
        if (pt && pt->mask && (row = find_fixed(h, pt, hv[i], key)) != NULL) {
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
    mgov__gbuf_free(&pt->slots);
    mgov__gbuf_free(&pt->rows);
    pt->mask = 0;
    pt->groups = 0;
    pt->used = 0;
}
