/* ops/hashjoin_table.c - a build partition in RAM: the shared slot array
 * (ops/op_table.h) over a row store where rows of one key are chained
 * (layout in ops/hashjoin_internal.h).
 *
 * The first row of a key (bit 62 of its word: "head") has the key's slot;
 * later rows of the key are linked right after it, so adding one costs no
 * walk.  The slot array re-inserts heads only when it grows.
 *
 * Invariants: every head has one slot; every row is in its key's chain;
 * rows never move in the store's offsets (references are offsets).
 * Locking: none; the operator's thread.
 */
#include <string.h>

#include "ops/hashjoin_internal.h"
#include "sys/sys.h"

#define HEAD ((uint64_t)1 << 62)
#define NEXT_MASK (((uint64_t)1 << 48) - 1)

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

uint64_t mgov__hj_row_word(const unsigned char *row)
{
    uint64_t w;
    memcpy(&w, row, sizeof w);
    return w;
}

void mgov__hj_row_set_word(unsigned char *row, uint64_t w)
{
    memcpy(row, &w, sizeof w);
}

void mgov__hj_row_parts(const unsigned char *row, const unsigned char **key, size_t *klen,
                        const unsigned char **payload, size_t *plen)
{
    uint32_t k, p;
    memcpy(&k, row + 8, 4);
    memcpy(&p, row + 12, 4);
    *key = row + MGOV__HJ_ROW_HDR;
    *klen = k;
    *payload = row + MGOV__HJ_ROW_HDR + k;
    *plen = p;
}

size_t mgov__hj_row_bytes(size_t klen, size_t plen)
{
    return round8(MGOV__HJ_ROW_HDR + klen + plen);
}

static bool row_key_is(const unsigned char *row, const void *key, size_t klen)
{
    uint32_t k;
    memcpy(&k, row + 8, 4);
    return k == klen && (klen == 0 || memcmp(row + MGOV__HJ_ROW_HDR, key, klen) == 0);
}

uint64_t mgov__hj_find(const mgov_hashjoin_t *j, const mgov__ptab_t *pt, uint64_t hv,
                       const void *key, size_t klen)
{
    (void)j;
    if (!pt->slots.mask)
        return 0;
    uint64_t i = mgov__slots_first(&pt->slots, hv), ref;
    while ((ref = mgov__slots_next(&pt->slots, hv, &i)) != 0)
        if (row_key_is(mgov__hj_row(pt, ref), key, klen))
            return ref;
    return 0;
}

/* A row as the shared walks see it: only the first row of a key has a
 * slot. */
static bool row_of(const void *ctx, const unsigned char *row, const unsigned char **key,
                   size_t *klen, size_t *bytes)
{
    (void)ctx;
    const unsigned char *payload;
    size_t plen;
    mgov__hj_row_parts(row, key, klen, &payload, &plen);
    *bytes = mgov__hj_row_bytes(*klen, plen);
    return (mgov__hj_row_word(row) & HEAD) != 0;
}

int mgov__hj_add(mgov_hashjoin_t *j, mgov__ptab_t *pt, uint64_t hv, const void *key,
                 size_t klen, const void *payload, size_t plen, bool matched)
{
    uint64_t head = mgov__hj_find(j, pt, hv, key, klen);
    int rc;
    if (!head) {
        mgov__row_layout_t lay = { row_of, j, false, j->pass.level, j->const_hash };
        if ((rc = mgov__ptab_slot_reserve(&j->op, pt, j->limit, &lay)) != MGOV_OK)
            return rc;
    }
    size_t rb = mgov__hj_row_bytes(klen, plen);
    if ((rc = mgov__ptab_rows_reserve(&j->op, pt, pt->used + rb, j->limit)) != MGOV_OK)
        return rc;
    unsigned char *row = pt->rows.base + pt->used;
    uint64_t ref = pt->used / 8 + 1;
    uint32_t k = (uint32_t)klen, p = (uint32_t)plen;
    memcpy(row + 8, &k, 4);
    memcpy(row + 12, &p, 4);
    if (klen)
        memcpy(row + MGOV__HJ_ROW_HDR, key, klen);
    if (plen)
        memcpy(row + MGOV__HJ_ROW_HDR + klen, payload, plen);
    uint64_t w = matched ? MGOV__HJ_MATCHED : 0;
    if (head) { /* linked right after the key's first row */
        unsigned char *h = mgov__hj_row(pt, head);
        uint64_t hw = mgov__hj_row_word(h);
        mgov__hj_row_set_word(row, w | (hw & NEXT_MASK));
        mgov__hj_row_set_word(h, (hw & ~NEXT_MASK) | ref);
    } else {
        mgov__hj_row_set_word(row, w | HEAD);
        mgov__slots_put(&pt->slots, hv, ref);
    }
    pt->used += rb;
    pt->nrows++;
    return MGOV_OK;
}
