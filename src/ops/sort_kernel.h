/* ops/sort_kernel.h - internal: the in-memory sorting kernels of the
 * external sort (radix sort for byte keys: fixed-width keys and the
 * prefixes of variable records; merge sort for the rest).  Pure functions
 * over caller-owned memory: no allocation, no governor, no locks;
 * thread-safe on distinct buffers.  sort_radix.c holds the radix sort,
 * sort_kernel.c the merge sort.
 *
 * Every kernel is stable: records whose keys compare equal keep their input
 * order, ascending or descending.
 */
#ifndef MGOV_OPS_SORT_KERNEL_H
#define MGOV_OPS_SORT_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "memgov/sort.h"

/* ---- fixed-width records */

/* Sorts n records of rec_size bytes by the key_size bytes at key_off,
 * compared as unsigned bytes (descending: largest first).  scratch holds
 * n * rec_size bytes.  The sorted records end up in recs or in scratch:
 * the return value says which (the other buffer's content is undefined).
 * n may be 0 or 1.  An MSD radix sort (sort_radix.c); uses up to about
 * 100 KiB of stack. */
unsigned char *mgov__sort_fixed(unsigned char *recs, unsigned char *scratch, size_t n,
                                size_t rec_size, size_t key_off, size_t key_size,
                                bool descending);

/* ---- variable-length records
 *
 * A record in memory is a 4-byte length (native byte order, possibly
 * unaligned) followed by its bytes; an entry points at it and caches the
 * first 8 bytes as a big-endian integer (zero padded), so most comparisons
 * never touch the record. */
typedef struct mgov__sort_entry {
    uint64_t prefix;
    const unsigned char *rec;
} mgov__sort_entry_t;

static inline uint32_t mgov__sort_rec_len(const unsigned char *rec)
{
    uint32_t len;
    memcpy(&len, rec, sizeof len);
    return len;
}

static inline const unsigned char *mgov__sort_rec_data(const unsigned char *rec)
{
    return rec + sizeof(uint32_t);
}

/* The first min(len, 8) bytes as a big-endian integer, zero padded. */
static inline uint64_t mgov__sort_prefix(const void *data, size_t len)
{
    unsigned char b[8] = { 0 };
    if (len) /* an empty record may have no buffer */
        memcpy(b, data, len < 8 ? len : 8);
    uint64_t v;
    memcpy(&v, b, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Bytewise order (memcmp over the common length, then the shorter first):
 * < 0, 0, > 0.  Only the bytes, not the prefix. */
static inline int mgov__sort_bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0; /* an empty record may have no buffer */
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

/* Bytewise order of two entries' records (as mgov__sort_bytes_cmp), read
 * from the records only when the prefixes are equal: then their first
 * min(8, alen, blen) bytes are equal, and the comparison starts after them. */
static inline int mgov__sort_entry_cmp(const mgov__sort_entry_t *a, const mgov__sort_entry_t *b)
{
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    uint32_t alen = mgov__sort_rec_len(a->rec), blen = mgov__sort_rec_len(b->rec);
    uint32_t skip = alen < blen ? alen : blen;
    if (skip > 8)
        skip = 8;
    return mgov__sort_bytes_cmp(mgov__sort_rec_data(a->rec) + skip, alen - skip,
                                mgov__sort_rec_data(b->rec) + skip, blen - skip);
}

/* Sorts n entries in bytewise order of their records (descending: largest
 * first).  scratch holds n entries.  Returns entries or scratch, whichever
 * holds the result.  An MSD radix sort on the prefixes (sort_radix.c;
 * stack as mgov__sort_fixed); runs of equal prefixes are merge sorted. */
mgov__sort_entry_t *mgov__sort_entries_bytes(mgov__sort_entry_t *entries,
                                             mgov__sort_entry_t *scratch, size_t n,
                                             bool descending);

/* Sorts n entries with cmp(ctx, a, alen, b, blen) over the records' bytes
 * (descending: reversed order, equal records still in input order).
 * scratch holds n entries.  Returns entries or scratch.  A merge sort
 * (sort_kernel.c); a NULL cmp means bytewise order. */
mgov__sort_entry_t *mgov__sort_entries_cmp(mgov__sort_entry_t *entries,
                                           mgov__sort_entry_t *scratch, size_t n,
                                           mgov_sort_cmp_fn cmp, void *ctx, bool descending);

/* Internal to the kernels: the stable merge sort in bytewise order
 * (mgov__sort_entry_cmp) of the n entries at cur, into alt when to_alt,
 * else back into cur; the other buffer (n entries) is scratch.  The radix
 * sort hands it the runs of equal prefixes. */
void mgov__sort_entries_bytes_merge(mgov__sort_entry_t *cur, mgov__sort_entry_t *alt, size_t n,
                                    bool to_alt, bool descending);

#endif /* MGOV_OPS_SORT_KERNEL_H */
