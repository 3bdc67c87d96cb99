/* ops/sort_radix.c - the radix half of the sorting kernels (sort_kernel.h):
 * mgov__sort_fixed (fixed-width records by a byte key) and
 * mgov__sort_entries_bytes (entries by their cached prefix; runs of equal
 * prefixes are finished by the merge sort in sort_kernel.c).
 *
 * One engine for both: a most-significant-digit-first radix sort that moves
 * whole records between the caller's two buffers.  A key is read 8 bytes at
 * a time as a big-endian integer, a "chunk" (the last one zero padded); an
 * entry's key is its prefix, one chunk.  Sorting a range, on one chunk:
 *
 *   diff   the OR of (key ^ first key) over the range: the bits that vary.
 *          Bits above the highest one are the same in every record, so no
 *          pass is spent on them (keys of 16 distinct values take one
 *          pass); no varying bit left means the next chunk, or done.
 *   digit  the b bits just below the highest varying bit: b = 11 (2048
 *          buckets) for large ranges, log2(n) - 1 for small ones.
 *   pass   count the digits, then copy every record from cur to its bucket
 *          in alt, in input order (stable; descending = buckets in reverse
 *          order, still stable).
 *   walk   each bucket, now in alt, is sorted the same way with cur and alt
 *          swapped; below SMALL records it is insertion sorted instead.
 *          A range under 2^16 records keeps its pass's bucket sizes (4 KiB
 *          of stack); a larger one finds its buckets by reading the keys
 *          again, which also gives each bucket its diff.
 *
 * The first pass of a large input counts the top 11 bits of the key while
 * it looks for the varying bits; when one of the top 3 bits varies (random
 * keys, text) that count is the pass's, and one read of the input is
 * saved.
 *
 * Why MSD and not LSD (10M 16-byte records, random 8-byte keys, median of
 * 7 in a throwaway program; qsort 2053 ms): this sort 224 ms; LSD with
 * every digit's histogram counted up front and constant digits skipped
 * 342 ms (8-bit digits), 381 ms (11-bit), 501 ms (16-bit); one MSD pass
 * then LSD inside the buckets 301 ms (8 + 8 bits), 244 ms (10 + 9),
 * 241 ms (11 + 11).  After an 11-bit pass the buckets fit in L2 and a
 * second pass leaves a few records each, so a record moves about twice
 * where LSD moves it eight times, and pass skipping works per bucket.
 * More in bench/RESULTS.md.
 *
 * Where the result lands: each range is told which of its two buffers must
 * hold it at the end (to_alt); the top level asks for alt, where the first
 * pass puts everything (a leaf's insertion sort copies into the buffer
 * wanted as it goes).  Only a bucket of equal keys made in the other
 * buffer is copied, and an input that needs no pass stays where it is.
 *
 * Stack: a pass's 2048 counters (16 KiB) live only during the pass; a
 * bucket holding more than half its range is looped on, not recursed into,
 * so recursion is at most log2(n / SMALL) deep: under 100 KiB at worst,
 * about 20 KiB for random keys.
 *
 * Threads: after the first pass of an input of at least PARALLEL_MIN
 * records, its buckets are sorted in two halves (split at a bucket
 * boundary) on the calling thread and one more, joined before returning;
 * the halves share no byte.  No allocation, no locks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "ops/sort_kernel.h"

#define INLINE static inline __attribute__((always_inline))

enum {
    SMALL = 24,   /* ranges below this are insertion sorted */
    MAX_BITS = 11, /* 2048 buckets: the counters stay in L1 */
    TMP_MAX = 64, /* in-place insertion keeps a record this small on the stack */
    SMALL_RANGE = 1 << 16, /* below this, a pass keeps its bucket sizes */
    PARALLEL_MIN = 1 << 20, /* from here the first pass's buckets are sorted on two threads */
};

typedef enum key_mode {
    KEY_PREFIX, /* an entry: the native uint64_t prefix */
    KEY_WINDOW, /* 8 bytes loaded around the chunk, shifted and masked */
    KEY_BYTES,  /* records shorter than 8 bytes: byte by byte */
} key_mode_t;

/* The record layouts with inner loops of their own.  In the fixed sizes
 * the compiler knows the record size, so a record is copied with one or
 * two moves; the others go through copy_rec's overlapping moves. */
typedef enum kind { K_ENTRY, K_W8, K_W16, K_W24, K_W32, K_WANY, K_BYTES } kind_t;

typedef struct radix {
    kind_t kind;
    size_t rec_size;
    size_t key_off, key_size;
    size_t n_chunks;
    bool desc;
} radix_t;

/* Where chunk c of every key is read from. */
typedef struct chunk {
    size_t c;
    size_t at;       /* KEY_WINDOW: offset of the 8 bytes loaded; KEY_BYTES: of the chunk */
    unsigned shift;  /* KEY_WINDOW: brings the chunk's first byte to the top */
    unsigned len;    /* bytes in the chunk, 1..8 */
    uint64_t mask;   /* the chunk's bits, at the top */
    size_t rest_off; /* the key bytes after this chunk (leaf comparisons) */
    size_t rest_len;
} chunk_t;

#define KINDS(X)                                                                                   \
    X(K_ENTRY, sizeof(mgov__sort_entry_t), KEY_PREFIX)                                            \
    X(K_W8, 8, KEY_WINDOW)                                                                         \
    X(K_W16, 16, KEY_WINDOW)                                                                       \
    X(K_W24, 24, KEY_WINDOW)                                                                       \
    X(K_W32, 32, KEY_WINDOW)                                                                       \
    X(K_WANY, rx->rec_size, KEY_WINDOW)                                                            \
    X(K_BYTES, rx->rec_size, KEY_BYTES)

static void chunk_at(const radix_t *rx, size_t c, chunk_t *ck)
{
    size_t off = rx->key_off + 8 * c, left = rx->key_size - 8 * c;
    ck->c = c;
    ck->len = left < 8 ? (unsigned)left : 8;
    ck->mask = ~(uint64_t)0 << (64 - 8 * ck->len);
    ck->rest_off = off + ck->len;
    ck->rest_len = left - ck->len;
    if (rx->rec_size >= 8) {
        /* the 8 bytes at the chunk, or the record's last 8 */
        ck->at = off + 8 <= rx->rec_size ? off : rx->rec_size - 8;
        ck->shift = (unsigned)(8 * (off - ck->at));
    } else {
        ck->at = off;
        ck->shift = 0;
    }
}

INLINE uint64_t load_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

INLINE uint64_t key_of(const chunk_t *ck, const unsigned char *rec, key_mode_t mode)
{
    if (mode == KEY_PREFIX) {
        uint64_t v;
        memcpy(&v, rec + offsetof(mgov__sort_entry_t, prefix), sizeof v);
        return v;
    }
    if (mode == KEY_WINDOW)
        return (load_be64(rec + ck->at) << ck->shift) & ck->mask;
    uint64_t v = 0;
    for (unsigned i = 0; i < ck->len; i++)
        v = v << 8 | rec[ck->at + i];
    return v << (64 - 8 * ck->len);
}

/* Copies one record (never overlapping).  The fast sizes are constants
 * here; other sizes up to 64 bytes take two or four overlapping moves, so
 * that no record costs a call to memcpy. */
INLINE void copy_rec(unsigned char *d, const unsigned char *s, size_t rs)
{
    if (rs == 8 || rs == 16 || rs == 24 || rs == 32 || rs > 64) {
        memcpy(d, s, rs);
    } else if (rs > 32) {
        memcpy(d, s, 16);
        memcpy(d + 16, s + 16, 16);
        memcpy(d + rs - 32, s + rs - 32, 16);
        memcpy(d + rs - 16, s + rs - 16, 16);
    } else if (rs > 16) {
        memcpy(d, s, 16);
        memcpy(d + rs - 16, s + rs - 16, 16);
    } else if (rs > 8) {
        memcpy(d, s, 8);
        memcpy(d + rs - 8, s + rs - 8, 8);
    } else if (rs >= 4) {
        memcpy(d, s, 4);
        memcpy(d + rs - 4, s + rs - 4, 4);
    } else {
        d[0] = s[0];
        d[rs - 1] = s[rs - 1];
        d[rs / 2] = s[rs / 2];
    }
}

/* a strictly before b in the sort order, keys compared from chunk ck on
 * (earlier chunks are equal within a range) */
INLINE bool rec_before(bool desc, const chunk_t *ck, uint64_t ka, const unsigned char *a,
                       const unsigned char *b, key_mode_t mode)
{
    int c;
    if (mode == KEY_PREFIX) {
        mgov__sort_entry_t ea, eb;
        memcpy(&ea, a, sizeof ea);
        memcpy(&eb, b, sizeof eb);
        c = mgov__sort_entry_cmp(&ea, &eb);
    } else {
        uint64_t kb = key_of(ck, b, mode);
        if (ka != kb)
            c = ka < kb ? -1 : 1;
        else if (ck->rest_len)
            c = memcmp(a + ck->rest_off, b + ck->rest_off, ck->rest_len);
        else
            return false;
    }
    return desc ? c > 0 : c < 0;
}

/* ------------------------------------------------------- the inner loops */

INLINE uint64_t diff_body(const chunk_t *ck, const unsigned char *p, size_t n, size_t rs,
                          key_mode_t mode)
{
    const chunk_t k = *ck; /* a local: stores through char pointers cannot change it */
    uint64_t k0 = key_of(&k, p, mode), d = 0;
    for (size_t i = 1; i < n; i++)
        d |= key_of(&k, p + i * rs, mode) ^ k0;
    return d;
}

/* One pass: the records of src into their buckets of digit
 * (key >> sh) & (2^bits - 1) in dst.  off: 2^bits counters.  sizes, when
 * not NULL (n < 2^16), receives the buckets' sizes in the order of dst.
 * guess, when not NULL, means the digit is the chunk's top 11 bits taken
 * on trust: the varying bits are found while counting, and unless one of
 * the top 3 bits varies nothing moves (returns false; *guess = the varying
 * bits).  ASCII text, whose top bit never varies, passes. */
INLINE bool scatter_body(const radix_t *rx, const chunk_t *ck, const unsigned char *src,
                         unsigned char *dst, size_t n, unsigned sh, unsigned bits, size_t *off,
                         uint16_t *sizes, uint64_t *guess, size_t rs, key_mode_t mode)
{
    const chunk_t k = *ck;
    size_t m = (size_t)1 << bits, dmask = m - 1;
    memset(off, 0, m * sizeof *off);
    if (guess) {
        uint64_t k0 = key_of(&k, src, mode), d = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t ki = key_of(&k, src + i * rs, mode);
            off[(ki >> sh) & dmask]++;
            d |= ki ^ k0;
        }
        if (!(d >> 61)) { /* fewer than 8 of the 11 bits vary: count again */
            *guess = d;
            return false;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            off[(key_of(&k, src + i * rs, mode) >> sh) & dmask]++;
    }
    size_t at = 0;
    for (size_t j = 0; j < m; j++) {
        size_t d = rx->desc ? m - 1 - j : j, c = off[d];
        if (sizes)
            sizes[j] = (uint16_t)c;
        off[d] = at;
        at += c * rs;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *r = src + i * rs;
        size_t d = (key_of(&k, r, mode) >> sh) & dmask;
        copy_rec(dst + off[d], r, rs);
        off[d] += rs;
    }
    return true;
}

/* Insertion sort of the n records at cur into cur or alt (to_alt). */
INLINE void insertion_body(const radix_t *rx, const chunk_t *ck, unsigned char *cur,
                           unsigned char *alt, size_t n, bool to_alt, size_t rs, key_mode_t mode)
{
    const chunk_t k = *ck;
    const bool desc = rx->desc;
    unsigned char tmp[TMP_MAX];
    const unsigned char *src = cur;
    unsigned char *dst = to_alt ? alt : cur;
    if (!to_alt && rs > TMP_MAX) {
        memcpy(alt, cur, n * rs); /* sorted back into cur from alt */
        src = alt;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *x = src + i * rs;
        if (src == dst) {
            copy_rec(tmp, x, rs);
            x = tmp;
        }
        uint64_t kx = mode == KEY_PREFIX ? 0 : key_of(&k, x, mode);
        size_t j = i;
        while (j > 0 && rec_before(desc, &k, kx, x, dst + (j - 1) * rs, mode)) {
            copy_rec(dst + j * rs, dst + (j - 1) * rs, rs);
            j--;
        }
        copy_rec(dst + j * rs, x, rs);
    }
}

/* ------------------------------------------------------------ dispatch */

static uint64_t range_diff(const radix_t *rx, const chunk_t *ck, const unsigned char *p, size_t n)
{
    switch (rx->kind) {
#define X(k, rs, mode)                                                                             \
    case k:                                                                                        \
        return diff_body(ck, p, n, rs, mode);
        KINDS(X)
#undef X
    }
    return 0;
}

static bool scatter(const radix_t *rx, const chunk_t *ck, const unsigned char *src,
                    unsigned char *dst, size_t n, unsigned sh, unsigned bits, uint16_t *sizes,
                    uint64_t *guess)
{
    size_t off[(size_t)1 << MAX_BITS];
    switch (rx->kind) {
#define X(k, rs, mode)                                                                             \
    case k:                                                                                        \
        return scatter_body(rx, ck, src, dst, n, sh, bits, off, sizes, guess, rs, mode);
        KINDS(X)
#undef X
    }
    return false;
}

static void insertion(const radix_t *rx, const chunk_t *ck, unsigned char *cur,
                      unsigned char *alt, size_t n, bool to_alt)
{
    switch (rx->kind) {
#define X(k, rs, mode)                                                                             \
    case k:                                                                                        \
        insertion_body(rx, ck, cur, alt, n, to_alt, rs, mode);                                     \
        break;
        KINDS(X)
#undef X
    }
}

/* ------------------------------------------------------------ the sort */

static void msd(const radix_t *rx, size_t c, unsigned char *cur, unsigned char *alt, size_t n,
                uint64_t diff, bool to_alt);

/* A range whose keys are all equal: in order already. */
static void leaf_equal(const radix_t *rx, unsigned char *cur, unsigned char *alt, size_t n,
                       bool to_alt)
{
    if (rx->kind == K_ENTRY)
        mgov__sort_entries_bytes_merge((mgov__sort_entry_t *)(void *)cur,
                                       (mgov__sort_entry_t *)(void *)alt, n, to_alt, rx->desc);
    else if (to_alt)
        memcpy(alt, cur, n * rx->rec_size);
}

/* A bucket the walk found: [at, at + n) of the range, and its diff. */
typedef struct bucket {
    size_t at, n;
    uint64_t diff;
} bucket_t;

/* One bucket of a walk: [at, at + bn) of the range, in alt. */
INLINE void bucket_body(const radix_t *rx, const chunk_t *ck, unsigned char *cur,
                        unsigned char *alt, size_t n, size_t at, size_t bn, uint64_t diff,
                        bool to_alt, bucket_t *big, size_t rs, key_mode_t mode)
{
    /* the bucket's own buffers: it is in alt, and stays there when we want alt */
    unsigned char *bcur = alt + at * rs, *balt = cur + at * rs;
    if (bn == 1) {
        if (!to_alt)
            copy_rec(balt, bcur, rs);
    } else if (bn < SMALL) {
        insertion_body(rx, ck, bcur, balt, bn, !to_alt, rs, mode);
    } else if (bn > n / 2) {
        *big = (bucket_t){ .at = at, .n = bn, .diff = diff };
    } else {
        msd(rx, ck->c, bcur, balt, bn, diff, !to_alt);
    }
}

/* Sorts each bucket a pass on the bits above sh left in alt, into alt when
 * to_alt (else back into cur), except one holding more than half the range:
 * that one is returned in *big (n = 0: none) for the caller to loop on.
 * With sizes (from the pass), a bucket's diff is read when needed; without,
 * the buckets are found by reading the keys, and their diffs on the way. */
INLINE void walk_body(const radix_t *rx, const chunk_t *ck, unsigned char *cur,
                      unsigned char *alt, size_t n, unsigned sh, unsigned bits,
                      const uint16_t *sizes, bool to_alt, bucket_t *big, size_t rs,
                      key_mode_t mode)
{
    const chunk_t k = *ck;
    uint64_t low = sh ? ~(uint64_t)0 >> (64 - sh) : 0;
    big->n = 0;
    if (sizes) {
        size_t m = (size_t)1 << bits;
        for (size_t j = 0, i = 0; j < m; j++) {
            size_t bn = sizes[j];
            if (!bn)
                continue;
            uint64_t d = bn >= SMALL ? diff_body(ck, alt + i * rs, bn, rs, mode) & low : 0;
            bucket_body(rx, ck, cur, alt, n, i, bn, d, to_alt, big, rs, mode);
            i += bn;
        }
        return;
    }
    for (size_t i = 0; i < n;) {
        uint64_t k0 = key_of(&k, alt + i * rs, mode), top = k0 >> sh, d = 0;
        size_t j = i + 1;
        for (; j < n; j++) {
            uint64_t kj = key_of(&k, alt + j * rs, mode);
            if (kj >> sh != top)
                break;
            d |= kj ^ k0;
        }
        bucket_body(rx, ck, cur, alt, n, i, j - i, d & low, to_alt, big, rs, mode);
        i = j;
    }
}

static void walk(const radix_t *rx, const chunk_t *ck, unsigned char *cur, unsigned char *alt,
                 size_t n, unsigned sh, unsigned bits, const uint16_t *sizes, bool to_alt,
                 bucket_t *big)
{
    switch (rx->kind) {
#define X(k, rs, mode)                                                                             \
    case k:                                                                                        \
        walk_body(rx, ck, cur, alt, n, sh, bits, sizes, to_alt, big, rs, mode);                    \
        break;
        KINDS(X)
#undef X
    }
}

/* One level, n < 2^16: the bucket sizes are kept from the pass (4 KiB of
 * stack for as long as the buckets are being sorted). */
static __attribute__((noinline)) void level_small(const radix_t *rx, const chunk_t *ck,
                                                  unsigned char *cur, unsigned char *alt,
                                                  size_t n, unsigned sh, unsigned bits,
                                                  bool to_alt, bucket_t *big)
{
    uint16_t sizes[(size_t)1 << MAX_BITS];
    scatter(rx, ck, cur, alt, n, sh, bits, sizes, NULL);
    walk(rx, ck, cur, alt, n, sh, bits, sizes, to_alt, big);
}

static unsigned digit_bits(size_t n, unsigned hi)
{
    unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)n);
    unsigned b = lg > MAX_BITS + 1 ? MAX_BITS : lg > 1 ? lg - 1 : 1;
    return b < hi ? b : hi;
}

/* Sorts the n >= SMALL records at cur, whose keys agree before chunk c and
 * on the bits of chunk c outside diff, into alt (to_alt) or cur. */
static void msd(const radix_t *rx, size_t c, unsigned char *cur, unsigned char *alt, size_t n,
                uint64_t diff, bool to_alt)
{
    chunk_t ck;
    chunk_at(rx, c, &ck);
    for (;;) {
        while (diff == 0) {
            if (ck.c + 1 == rx->n_chunks) {
                leaf_equal(rx, cur, alt, n, to_alt);
                return;
            }
            chunk_at(rx, ck.c + 1, &ck);
            diff = range_diff(rx, &ck, cur, n);
        }
        unsigned hi = 64u - (unsigned)__builtin_clzll((unsigned long long)diff);
        unsigned bits = digit_bits(n, hi), sh = hi - bits;
        bucket_t big = { 0 };
        if (n < SMALL_RANGE) {
            level_small(rx, &ck, cur, alt, n, sh, bits, to_alt, &big);
        } else {
            scatter(rx, &ck, cur, alt, n, sh, bits, NULL, NULL);
            walk(rx, &ck, cur, alt, n, sh, bits, NULL, to_alt, &big);
        }
        if (!big.n)
            return;
        unsigned char *bcur = alt + big.at * rx->rec_size, *balt = cur + big.at * rx->rec_size;
        cur = bcur;
        alt = balt;
        n = big.n;
        diff = big.diff;
        to_alt = !to_alt;
    }
}

/* The walk after the first pass over [0, n) of a large input, or one half
 * of it: the buckets are independent, so two halves split at a bucket
 * boundary can be walked on two threads; each loops on its own big one. */
typedef struct walk_part {
    const radix_t *rx;
    const chunk_t *ck;
    unsigned char *cur, *alt;
    size_t n;
    unsigned sh, bits;
} walk_part_t;

static void *walk_part(void *arg)
{
    const walk_part_t *w = arg;
    bucket_t big = { 0 };
    walk(w->rx, w->ck, w->cur, w->alt, w->n, w->sh, w->bits, NULL, true, &big);
    if (big.n)
        msd(w->rx, 0, w->alt + big.at * w->rx->rec_size, w->cur + big.at * w->rx->rec_size,
            big.n, big.diff, false);
    return NULL;
}

/* The first bucket boundary at or after the middle of the pass's output
 * (alt), or n when the second half is all one bucket. */
static size_t middle_boundary(const walk_part_t *w)
{
    key_mode_t mode = w->rx->kind == K_ENTRY   ? KEY_PREFIX
                      : w->rx->kind == K_BYTES ? KEY_BYTES
                                               : KEY_WINDOW;
    size_t rs = w->rx->rec_size, mid = w->n / 2;
    uint64_t top = key_of(w->ck, w->alt + (mid - 1) * rs, mode) >> w->sh;
    while (mid < w->n && key_of(w->ck, w->alt + mid * rs, mode) >> w->sh == top)
        mid++;
    return mid;
}

/* Walks the first pass's buckets, on two threads for inputs of at least
 * PARALLEL_MIN records when there is a second CPU (one thread otherwise,
 * or when the thread cannot be made). */
static void walk_first_pass(const walk_part_t *all)
{
    static _Atomic long cpus; /* asked once; a race only asks twice */
    if (!atomic_load_explicit(&cpus, memory_order_relaxed))
        atomic_store_explicit(&cpus, sysconf(_SC_NPROCESSORS_ONLN), memory_order_relaxed);
    size_t mid;
    if (all->n < PARALLEL_MIN || atomic_load_explicit(&cpus, memory_order_relaxed) < 2 ||
        (mid = middle_boundary(all)) >= all->n) {
        walk_part((void *)all);
        return;
    }
    size_t rs = all->rx->rec_size;
    walk_part_t lo = *all, hi = *all;
    lo.n = mid;
    hi.cur += mid * rs;
    hi.alt += mid * rs;
    hi.n -= mid;
    pthread_t th;
    if (pthread_create(&th, NULL, walk_part, &hi) != 0) {
        walk_part(&hi);
        walk_part(&lo);
        return;
    }
    walk_part(&lo);
    pthread_join(th, NULL);
}

/* Sorts n >= 2 records: returns cur or alt, whichever holds them. */
static unsigned char *radix_sort(const radix_t *rx, unsigned char *cur, unsigned char *alt,
                                 size_t n)
{
    chunk_t ck;
    chunk_at(rx, 0, &ck);
    if (n < SMALL) {
        insertion(rx, &ck, cur, alt, n, false);
        return cur;
    }
    uint64_t diff;
    if (n >= SMALL_RANGE) {
        /* the first pass moves everything to alt, and it stays there */
        unsigned bits = digit_bits(n, 64), sh = 64 - bits;
        if (scatter(rx, &ck, cur, alt, n, sh, bits, NULL, &diff)) {
            walk_part_t all = { rx, &ck, cur, alt, n, sh, bits };
            walk_first_pass(&all);
            return alt;
        }
    } else {
        diff = range_diff(rx, &ck, cur, n);
    }
    while (diff == 0) {
        if (ck.c + 1 == rx->n_chunks) {
            leaf_equal(rx, cur, alt, n, false);
            return cur;
        }
        chunk_at(rx, ck.c + 1, &ck);
        diff = range_diff(rx, &ck, cur, n);
    }
    /* the first pass moves everything to alt: it stays there */
    msd(rx, ck.c, cur, alt, n, diff, true);
    return alt;
}

unsigned char *mgov__sort_fixed(unsigned char *recs, unsigned char *scratch, size_t n,
                                size_t rec_size, size_t key_off, size_t key_size,
                                bool descending)
{
    if (n < 2 || key_size == 0) /* no key: every record equal, input order */
        return recs;
    radix_t rx = {
        .rec_size = rec_size,
        .key_off = key_off,
        .key_size = key_size,
        .n_chunks = (key_size + 7) / 8,
        .desc = descending,
    };
    switch (rec_size) {
    case 8: rx.kind = K_W8; break;
    case 16: rx.kind = K_W16; break;
    case 24: rx.kind = K_W24; break;
    case 32: rx.kind = K_W32; break;
    default: rx.kind = rec_size >= 8 ? K_WANY : K_BYTES; break;
    }
    return radix_sort(&rx, recs, scratch, n);
}

mgov__sort_entry_t *mgov__sort_entries_bytes(mgov__sort_entry_t *entries,
                                             mgov__sort_entry_t *scratch, size_t n,
                                             bool descending)
{
    if (n < 2)
        return entries;
    radix_t rx = {
        .kind = K_ENTRY,
        .rec_size = sizeof *entries,
        .key_size = 8,
        .n_chunks = 1,
        .desc = descending,
    };
    unsigned char *r = radix_sort(&rx, (unsigned char *)(void *)entries,
                                  (unsigned char *)(void *)scratch, n);
    return r == (unsigned char *)(void *)entries ? entries : scratch;
}
