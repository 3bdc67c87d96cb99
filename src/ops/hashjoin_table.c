/* ops/hashjoin_table.c - a build partition in RAM: rows appended to a row
 * store (layout in ops/hashjoin_internal.h), then chained off a bucket
 * array once all of them are in.
 *
 * Adding a row looks nothing up: it is copied to the end of the store and
 * the bucket array (ops/op_table.h, mgov__slots_size) is kept a power of
 * two at least as large as the rows, charged but untouched.  Sealing walks
 * the rows once, in order, and links each to the head of its bucket (the
 * buckets of a window of rows prefetched first), so building costs one
 * sequential copy and one write per row, with no key compared and no
 * resize.  A bucket is the reference of its chain's first row (bits 0..47)
 * and a 16-bit filter of its rows' salts (one bit of 16 per row, bits
 * 48..63): a key whose bit is not there has no row, so most misses cost no
 * row read.  A lookup walks its bucket's chain, comparing a 14-bit salt of
 * the hash before a key.
 *
 * Invariants: before the seal every row's next is 0 and the buckets are
 * zero; after it every row is in its bucket's chain and no row is added;
 * rows never move in the store's offsets (references are offsets).
 * Locking: none; the operator's thread.
 */
#include <string.h>

#include "ops/hashjoin_internal.h"
#include "sys/debug.h"
#include "sys/sys.h"

#define NEXT_MASK (((uint64_t)1 << 48) - 1)
#define SALT_MASK ((uint64_t)0x3fff << 48)
#define SEAL_WINDOW 64 /* rows whose buckets are prefetched together */

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* The salt of a hash: bits the bucket index (low bits) and the partition
 * (top bits) do not use. */
static uint64_t salt_of(uint64_t hv)
{
    return ((hv >> 32) & 0x3fff) << 48;
}

/* The bucket filter's bit for a hash (bits 46..49 of it: apart from the
 * salt's, so the two tests are independent). */
static uint64_t filter_bit(uint64_t hv)
{
    return (uint64_t)1 << (48 + ((hv >> 46) & 15));
}

/* Keys compare by bytes; the common widths compare inline. */
static bool key_eq(const unsigned char *a, const void *b, size_t n)
{
    switch (n) {
    case 0: return true;
    case 4: return memcmp(a, b, 4) == 0;
    case 8: return memcmp(a, b, 8) == 0;
    case 16: return memcmp(a, b, 16) == 0;
    default: return memcmp(a, b, n) == 0;
    }
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

uint64_t mgov__hj_match(const mgov__ptab_t *pt, uint64_t ref, uint64_t hv, const void *key,
                        size_t klen)
{
    uint64_t salt = salt_of(hv);
    while (ref) {
        const unsigned char *row = mgov__hj_row(pt, ref);
        uint64_t w = mgov__hj_row_word(row);
        uint32_t k;
        memcpy(&k, row + 8, 4);
        if ((w & SALT_MASK) == salt && k == klen && key_eq(row + MGOV__HJ_ROW_HDR, key, klen))
            return ref;
        ref = w & NEXT_MASK;
    }
    return 0;
}

uint64_t mgov__hj_head(const mgov__ptab_t *pt, uint64_t hv)
{
    if (!pt->slots.mask || !pt->nrows)
        return 0;
    uint64_t b = *mgov__slots_home(&pt->slots, hv);
    return b & filter_bit(hv) ? b & NEXT_MASK : 0;
}

uint64_t mgov__hj_find(const mgov__ptab_t *pt, uint64_t hv, const void *key, size_t klen)
{
    return mgov__hj_match(pt, mgov__hj_head(pt, hv), hv, key, klen);
}

uint64_t mgov__hj_next_ref(const unsigned char *row)
{
    return mgov__hj_row_word(row) & NEXT_MASK;
}

void mgov__hj_row_put(unsigned char *row, uint64_t hv, const void *key, size_t klen,
                      const void *payload, size_t plen, bool matched)
{
    uint32_t k = (uint32_t)klen, p = (uint32_t)plen;
    mgov__hj_row_set_word(row, (matched ? MGOV__HJ_MATCHED : 0) | salt_of(hv));
    memcpy(row + 8, &k, 4);
    memcpy(row + 12, &p, 4);
    if (klen)
        memcpy(row + MGOV__HJ_ROW_HDR, key, klen);
    if (plen)
        memcpy(row + MGOV__HJ_ROW_HDR + klen, payload, plen);
}

int mgov__hj_unmatched_in(const mgov__ptab_t *pt, size_t *off, mgov_hashjoin_row_t *out)
{
    while (*off < pt->used) {
        const unsigned char *row = pt->rows.base + *off, *key, *payload;
        size_t klen, plen;
        mgov__hj_row_parts(row, &key, &klen, &payload, &plen);
        *off += mgov__hj_row_bytes(klen, plen);
        if (mgov__hj_row_word(row) & MGOV__HJ_MATCHED)
            continue;
        *out = (mgov_hashjoin_row_t){ .key = klen ? key : NULL, .key_len = klen,
                                      .has_build = true, .build = plen ? payload : NULL,
                                      .build_len = plen };
        return 1;
    }
    return 0;
}

int mgov__hj_add(mgov_hashjoin_t *j, mgov__ptab_t *pt, uint64_t hv, const void *key,
                 size_t klen, const void *payload, size_t plen, bool matched)
{
    MGOV__ASSERT(!j->sealed);
    size_t rb = mgov__hj_row_bytes(klen, plen);
    int rc = mgov__ptab_rows_reserve(&j->op, pt, pt->used + rb, j->limit);
    if (rc == MGOV_OK)
        rc = mgov__slots_size(&j->op, &pt->slots, pt->nrows + 1, j->limit);
    if (rc != MGOV_OK)
        return rc;
    mgov__hj_row_put(pt->rows.base + pt->used, hv, key, klen, payload, plen, matched);
    pt->used += rb;
    pt->nrows++;
    return MGOV_OK;
}

void mgov__hj_seal(mgov_hashjoin_t *j, mgov__ptab_t *pt)
{
    if (!pt->nrows)
        return;
    uint64_t *bucket = (uint64_t *)(void *)pt->slots.buf.base;
    size_t off = 0;
    while (off < pt->used) {
        size_t at[SEAL_WINDOW];
        uint64_t idx[SEAL_WINDOW], bit[SEAL_WINDOW];
        unsigned n = 0;
        for (; n < SEAL_WINDOW && off < pt->used; n++) {
            const unsigned char *key, *payload;
            size_t klen, plen;
            mgov__hj_row_parts(pt->rows.base + off, &key, &klen, &payload, &plen);
            uint64_t hv = mgov__hj_hash(j, key, klen);
            idx[n] = hv & pt->slots.mask;
            bit[n] = filter_bit(hv);
            __builtin_prefetch(&bucket[idx[n]], 1);
            at[n] = off;
            off += mgov__hj_row_bytes(klen, plen);
        }
        for (unsigned i = 0; i < n; i++) {
            unsigned char *row = pt->rows.base + at[i];
            uint64_t w = mgov__hj_row_word(row), b = bucket[idx[i]];
            mgov__hj_row_set_word(row, (w & ~NEXT_MASK) | (b & NEXT_MASK));
            bucket[idx[i]] = (b & ~NEXT_MASK) | bit[i] | (at[i] / 8 + 1);
        }
    }
}

void mgov__hj_seal_pass(mgov_hashjoin_t *j)
{
    for (unsigned p = 0; j->pass.parts && p < j->pass.n; p++)
        mgov__hj_seal(j, &j->pass.parts[p]);
    j->sealed = true;
}
