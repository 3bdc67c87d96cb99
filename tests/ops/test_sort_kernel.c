/* test_sort_kernel.c - the in-memory sorting kernels (ops/sort_radix.c,
 * ops/sort_kernel.c) against reference sorts written here: a stable merge
 * sort of indices (and, for large inputs, qsort with the input index as
 * the last key).  Fixed records: many record sizes, key sizes and offsets,
 * key distributions, sizes around the insertion-sort threshold, both
 * directions; the input index sits in the bytes outside the key, so a
 * stability slip changes the output.  Entries: random byte strings over
 * small alphabets with 0x00 and 0xff, long shared prefixes, the order of
 * zero bytes and proper prefixes; the comparison-callback variant with a
 * counting comparator.  Buffers are allocated to their exact size, so the
 * ASan build catches any access outside them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "op_fixture.h"
#include "ops/sort_kernel.h"

/* ------------------------------------------------------------------ data */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* ------------------------------------------------ the reference orders */

/* What the references compare: fixed keys, or entries' bytes. */
typedef struct ref {
    const unsigned char *recs;
    size_t rec_size, key_off, key_size;
    const mgov__sort_entry_t *entries;
    bool desc;
} ref_t;

static int ref_cmp3(const ref_t *r, size_t a, size_t b)
{
    int c;
    if (r->entries) {
        const unsigned char *ra = r->entries[a].rec, *rb = r->entries[b].rec;
        c = mgov__sort_bytes_cmp(mgov__sort_rec_data(ra), mgov__sort_rec_len(ra),
                                 mgov__sort_rec_data(rb), mgov__sort_rec_len(rb));
    } else {
        c = memcmp(r->recs + a * r->rec_size + r->key_off, r->recs + b * r->rec_size + r->key_off,
                   r->key_size);
    }
    return r->desc ? -c : c;
}

/* Stable merge sort of the indices 0..n-1 (the small and medium reference). */
static void ref_merge(const ref_t *r, size_t *ix, size_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    ref_merge(r, ix, tmp, h);
    ref_merge(r, ix + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = ref_cmp3(r, ix[j], ix[i]) < 0 ? ix[j++] : ix[i++];
    while (i < h)
        tmp[k++] = ix[i++];
    while (j < n)
        tmp[k++] = ix[j++];
    memcpy(ix, tmp, n * sizeof *ix);
}

/* qsort with the index as the last key: the large reference. */
static int ref_qsort_cmp(const void *pa, const void *pb, void *ctx)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int c = ref_cmp3(ctx, a, b);
    return c ? c : (a > b) - (a < b);
}

/* The stable order of the n inputs, as indices. */
static size_t *ref_order(const ref_t *r, size_t n)
{
    size_t *ix = xmalloc(n * sizeof *ix);
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    if (n > 20000) {
        qsort_r(ix, n, sizeof *ix, ref_qsort_cmp, (void *)r);
    } else {
        size_t *tmp = xmalloc(n * sizeof *tmp);
        ref_merge(r, ix, tmp, n);
        free(tmp);
    }
    return ix;
}

/* -------------------------------------------------------- fixed records */

typedef enum dist {
    D_RANDOM,
    D_EQUAL,
    D_FEW,      /* 5 distinct keys */
    D_SORTED,   /* random keys, already in order */
    D_REVERSE,  /* random keys, in reverse order */
    D_LAST,     /* keys differing only in their last byte */
    D_ALPHABET, /* bytes from {00, 01, 7f, 80, ff} */
    D_HEX,      /* hex digits: the top bit never varies */
    D_SKEW,     /* 3 in 4 keys share all but their last byte: one big bucket */
    D_COUNT
} dist_t;

static const char *const dist_name[] = { "random", "equal",    "few", "sorted",
                                         "reverse", "last", "alphabet", "hex", "skew" };

static void fill_key(unsigned char *k, size_t ks, dist_t d, uint64_t *rng, const unsigned char *few)
{
    static const unsigned char alpha[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
    switch (d) {
    case D_EQUAL:
        memset(k, 0xa5, ks);
        break;
    case D_FEW:
        memcpy(k, few + (of_rng(rng) % 5) * ks, ks);
        break;
    case D_LAST:
        memset(k, 0x3c, ks);
        k[ks - 1] = (unsigned char)of_rng(rng);
        break;
    case D_ALPHABET:
        for (size_t i = 0; i < ks; i++)
            k[i] = alpha[of_rng(rng) % sizeof alpha];
        break;
    case D_SKEW:
        if (of_rng(rng) % 4) {
            memcpy(k, few, ks);
            k[ks - 1] = (unsigned char)of_rng(rng);
        } else {
            for (size_t i = 0; i < ks; i++)
                k[i] = (unsigned char)of_rng(rng);
        }
        break;
    case D_HEX:
        for (size_t i = 0; i < ks; i++)
            k[i] = (unsigned char)"0123456789abcdef"[of_rng(rng) % 16];
        break;
    default:
        for (size_t i = 0; i < ks; i++)
            k[i] = (unsigned char)of_rng(rng);
        break;
    }
}

/* n records with keys of distribution d; the other bytes hold the input
 * index (little endian, repeated), so every record is told apart. */
static unsigned char *make_recs(size_t n, size_t rs, size_t ko, size_t ks, dist_t d, uint64_t seed)
{
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    unsigned char *recs = xmalloc(n * rs);
    unsigned char *few = xmalloc(5 * ks);
    for (size_t i = 0; i < 5 * ks; i++)
        few[i] = (unsigned char)of_rng(&rng);
    for (size_t i = 0; i < n; i++)
        fill_key(recs + i * rs + ko, ks, d, &rng, few);
    free(few);
    if ((d == D_SORTED || d == D_REVERSE) && n > 1) {
        ref_t r = { .recs = recs, .rec_size = rs, .key_off = ko, .key_size = ks,
                    .desc = d == D_REVERSE };
        size_t *ix = ref_order(&r, n);
        unsigned char *sorted = xmalloc(n * rs);
        for (size_t i = 0; i < n; i++)
            memcpy(sorted + i * rs, recs + ix[i] * rs, rs);
        free(ix);
        free(recs);
        recs = sorted;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = recs + i * rs;
        for (size_t b = 0, j = 0; b < rs; b++) {
            if (b >= ko && b < ko + ks)
                continue;
            p[b] = (unsigned char)(i >> (8 * (j++ % 4)));
        }
    }
    return recs;
}

/* Sorts n records both ways and compares with the reference. */
static void check_fixed(size_t n, size_t rs, size_t ko, size_t ks, dist_t d, uint64_t seed)
{
    unsigned char *in = make_recs(n, rs, ko, ks, d, seed);
    for (int desc = 0; desc <= 1; desc++) {
        ref_t r = { .recs = in, .rec_size = rs, .key_off = ko, .key_size = ks, .desc = desc };
        size_t *ix = ref_order(&r, n);
        unsigned char *recs = xmalloc(n * rs), *scratch = xmalloc(n * rs);
        memcpy(recs, in, n * rs);
        memset(scratch, 0xee, n * rs);
        unsigned char *out = mgov__sort_fixed(recs, scratch, n, rs, ko, ks, desc);
        assert_true(out == recs || out == scratch);
        for (size_t i = 0; i < n; i++) {
            if (memcmp(out + i * rs, in + ix[i] * rs, rs) != 0) {
                print_error("n=%zu rec=%zu key=%zu@%zu %s %s: record %zu is input %zu?\n", n, rs,
                            ks, ko, dist_name[d], desc ? "desc" : "asc", i, ix[i]);
                fail();
            }
        }
        free(recs);
        free(scratch);
        free(ix);
    }
    free(in);
}

static const size_t small_ns[] = { 0, 1, 2, 3, 23, 24, 25, 63, 64, 65, 200, 1000 };

static void test_fixed_shapes(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const size_t rec_sizes[] = { 1, 3, 8, 16, 24, 32, 37 };
    static const size_t key_sizes[] = { 1, 2, 3, 7, 8, 9, 16, 20 };
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof rec_sizes / sizeof *rec_sizes; a++) {
        size_t rs = rec_sizes[a];
        for (size_t b = 0; b < sizeof key_sizes / sizeof *key_sizes; b++) {
            size_t ks = key_sizes[b];
            if (ks > rs)
                continue;
            /* key at the start, the middle and the end of the record */
            size_t offs[] = { 0, (rs - ks) / 2, rs - ks };
            for (size_t o = 0; o < 3; o++) {
                if (o > 0 && offs[o] == offs[o - 1])
                    continue;
                for (size_t c = 0; c < sizeof small_ns / sizeof *small_ns; c++)
                    for (int d = 0; d < D_COUNT; d++)
                        check_fixed(small_ns[c], rs, offs[o], ks, (dist_t)d, seed++);
            }
        }
    }
}

/* 100k records: the radix passes, pass skipping, buckets looped on. */
static void test_fixed_large(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const size_t shapes[][3] = {
        /* rec, key offset, key size */
        { 16, 0, 8 }, { 8, 0, 8 }, { 24, 4, 16 }, { 32, 8, 9 }, { 37, 3, 20 }, { 3, 1, 2 },
        { 1, 0, 1 },  { 16, 13, 3 },
    };
    uint64_t seed = 1000;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int d = 0; d < D_COUNT; d++)
            check_fixed(100000, shapes[s][0], shapes[s][1], shapes[s][2], (dist_t)d, seed++);
}

/* From 2^20 records the first pass's buckets are sorted on two threads,
 * split at a bucket boundary: each distribution puts the split elsewhere
 * (or finds none, e.g. all keys equal, one big bucket). */
static void test_fixed_two_threads(void **state)
{
    (void)state;
    static const dist_t dists[] = { D_RANDOM, D_EQUAL, D_SKEW };
    uint64_t seed = 5000;
    for (size_t d = 0; d < sizeof dists / sizeof *dists; d++)
        check_fixed((1u << 20) + 12345, 16, 0, 8, dists[d], seed++);
}

/* Record sizes without a fast path of their own (copied in overlapping
 * moves), around the sizes where the radix sort changes its ways: 2^16
 * records (bucket sizes kept or not). */
static void test_fixed_other_sizes(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const size_t shapes[][3] = {
        /* rec, key offset, key size */
        { 2, 0, 2 },  { 5, 1, 4 },   { 7, 0, 7 },   { 12, 4, 8 },  { 20, 2, 17 },
        { 40, 33, 7 }, { 64, 0, 64 }, { 65, 60, 5 }, { 100, 10, 3 },
    };
    static const size_t ns[] = { 2, 30, 300, 3000, 65535, 65536 };
    uint64_t seed = 5000;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t c = 0; c < sizeof ns / sizeof *ns; c++)
            for (int d = 0; d < D_COUNT; d++)
                if (ns[c] < 60000 || d == D_RANDOM || d == D_FEW || d == D_LAST)
                    check_fixed(ns[c], shapes[s][0], shapes[s][1], shapes[s][2], (dist_t)d, seed++);
}

/* Keys longer than a chunk: the whole record (key_size 0 in the public
 * API), with long equal stretches. */
static void test_fixed_long_keys(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    for (size_t n = 2; n <= 5000; n *= 5)
        for (int d = 0; d < D_COUNT; d++) {
            check_fixed(n, 37, 0, 37, (dist_t)d, n * 31 + (size_t)d);
            check_fixed(n, 130, 0, 130, (dist_t)d, n * 37 + (size_t)d);
            check_fixed(n, 130, 50, 70, (dist_t)d, n * 41 + (size_t)d);
        }
}

/* Record i has only key bit i set: every pass splits off a few records, and
 * the rest is one large bucket after another. */
static void test_fixed_one_bit_each(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    enum { N = 1024, KS = N / 8, RS = KS + 4 };
    unsigned char *in = xmalloc((size_t)N * RS);
    memset(in, 0, (size_t)N * RS);
    for (size_t i = 0; i < N; i++) {
        size_t b = (i * 389) % N; /* a permutation of the bits */
        in[i * RS + b / 8] = (unsigned char)(0x80 >> (b % 8));
        memcpy(in + i * RS + KS, &(uint32_t){ (uint32_t)i }, 4);
    }
    for (int desc = 0; desc <= 1; desc++) {
        ref_t r = { .recs = in, .rec_size = RS, .key_size = KS, .desc = desc };
        size_t *ix = ref_order(&r, N);
        unsigned char *recs = xmalloc((size_t)N * RS), *scratch = xmalloc((size_t)N * RS);
        memcpy(recs, in, (size_t)N * RS);
        unsigned char *out = mgov__sort_fixed(recs, scratch, N, RS, 0, KS, desc);
        for (size_t i = 0; i < N; i++)
            assert_memory_equal(out + i * RS, in + ix[i] * RS, RS);
        free(recs);
        free(scratch);
        free(ix);
    }
    free(in);
}

/* Big-endian integer keys come out in numeric order; descending too. */
static void test_fixed_numeric_order(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    enum { N = 5000 };
    uint64_t rng = 7;
    unsigned char *recs = xmalloc(N * 16), *scratch = xmalloc(N * 16);
    for (int desc = 0; desc <= 1; desc++) {
        for (size_t i = 0; i < N; i++) {
            uint64_t k = of_rng(&rng) % 100000, be = __builtin_bswap64(k);
            memcpy(recs + i * 16, &be, 8);
            memcpy(recs + i * 16 + 8, &i, 8);
        }
        unsigned char *out = mgov__sort_fixed(recs, scratch, N, 16, 0, 8, desc);
        for (size_t i = 1; i < N; i++) {
            uint64_t a, b, ia, ib;
            memcpy(&a, out + (i - 1) * 16, 8);
            memcpy(&b, out + i * 16, 8);
            memcpy(&ia, out + (i - 1) * 16 + 8, 8);
            memcpy(&ib, out + i * 16 + 8, 8);
            a = __builtin_bswap64(a);
            b = __builtin_bswap64(b);
            assert_true(desc ? a >= b : a <= b);
            if (a == b)
                assert_true(ia < ib); /* stable */
        }
    }
    free(recs);
    free(scratch);
}

/* -------------------------------------------------------------- entries */

/* Records (4-byte length + bytes) packed in one buffer, and their entries. */
typedef struct strs {
    unsigned char *buf;
    mgov__sort_entry_t *e;
    size_t n;
} strs_t;

static void strs_init(strs_t *s, size_t n, size_t max_bytes)
{
    s->buf = xmalloc(n * 4 + max_bytes);
    s->e = xmalloc(n * sizeof *s->e);
    s->n = 0;
}

static void strs_add(strs_t *s, size_t *used, const void *data, uint32_t len)
{
    unsigned char *r = s->buf + *used;
    memcpy(r, &len, 4);
    if (len)
        memcpy(r + 4, data, len);
    *used += 4 + len;
    s->e[s->n].rec = r;
    s->e[s->n].prefix = mgov__sort_prefix(data, len);
    s->n++;
}

static void strs_free(strs_t *s)
{
    free(s->buf);
    free(s->e);
}

typedef enum sdist {
    S_BIN,     /* lengths 0..40 over {00, ff} */
    S_SMALL,   /* lengths 0..40 over {00, 01, 'a', ff} */
    S_SHARED,  /* a 30-byte shared prefix, then 0..12 bytes over {00, 'a', ff} */
    S_SHORT,   /* lengths 0..9 over {00, 'a'}: equal prefixes, different records */
    S_TEXT,    /* "<16 hex>\t<number>" */
    S_COUNT
} sdist_t;

static void make_strs(strs_t *s, size_t n, sdist_t d, uint64_t seed)
{
    static const unsigned char bin[] = { 0x00, 0xff }, small[] = { 0x00, 0x01, 'a', 0xff },
                               sh[] = { 0x00, 'a', 0xff }, shrt[] = { 0x00, 'a' };
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 3;
    strs_init(s, n, n * 48);
    size_t used = 0;
    unsigned char b[64];
    for (size_t i = 0; i < n; i++) {
        uint32_t len = 0;
        switch (d) {
        case S_BIN:
            len = (uint32_t)(of_rng(&rng) % 41);
            for (uint32_t j = 0; j < len; j++)
                b[j] = bin[of_rng(&rng) % 2];
            break;
        case S_SMALL:
            len = (uint32_t)(of_rng(&rng) % 41);
            for (uint32_t j = 0; j < len; j++)
                b[j] = small[of_rng(&rng) % 4];
            break;
        case S_SHARED:
            memcpy(b, "https://www.example.com/index/", 30);
            len = 30 + (uint32_t)(of_rng(&rng) % 13);
            for (uint32_t j = 30; j < len; j++)
                b[j] = sh[of_rng(&rng) % 3];
            break;
        case S_SHORT:
            len = (uint32_t)(of_rng(&rng) % 10);
            for (uint32_t j = 0; j < len; j++)
                b[j] = shrt[of_rng(&rng) % 2];
            break;
        default:
            len = (uint32_t)snprintf((char *)b, sizeof b, "%016llx\t%llu",
                                     (unsigned long long)(of_rng(&rng) & 0xffff0000ffffull),
                                     (unsigned long long)(of_rng(&rng) % 1000));
            break;
        }
        strs_add(s, &used, b, len);
    }
}

/* The kernel's output against the reference (which compares whole
 * records, not prefixes): the same records, in the same places (pointers,
 * so equal strings are told apart), prefixes carried along. */
static void check_entries_out(const strs_t *s, const mgov__sort_entry_t *out, bool desc,
                              const char *what)
{
    ref_t r = { .entries = s->e, .desc = desc };
    size_t *ix = ref_order(&r, s->n);
    for (size_t i = 0; i < s->n; i++) {
        if (out[i].rec != s->e[ix[i]].rec || out[i].prefix != s->e[ix[i]].prefix) {
            print_error("%s n=%zu %s: entry %zu is input %zu?\n", what, s->n,
                        desc ? "desc" : "asc", i, ix[i]);
            fail();
        }
    }
    free(ix);
}

static void check_entries_bytes(const strs_t *s, const char *what)
{
    for (int desc = 0; desc <= 1; desc++) {
        mgov__sort_entry_t *e = xmalloc(s->n * sizeof *e), *scratch = xmalloc(s->n * sizeof *e);
        memcpy(e, s->e, s->n * sizeof *e);
        mgov__sort_entry_t *out = mgov__sort_entries_bytes(e, scratch, s->n, desc);
        assert_true(out == e || out == scratch);
        check_entries_out(s, out, desc, what);
        free(e);
        free(scratch);
    }
}

static void test_entries_bytes_random(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const size_t ns[] = { 0, 1, 2, 3, 63, 64, 65, 200, 1000, 100000 };
    static const char *const names[] = { "bin", "small", "shared", "short", "text" };
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++)
        for (int d = 0; d < S_COUNT; d++) {
            strs_t s;
            make_strs(&s, ns[c], (sdist_t)d, ns[c] * 10 + (size_t)d);
            check_entries_bytes(&s, names[d]);
            strs_free(&s);
        }
}

static void test_entries_two_threads(void **state)
{
    (void)state;
    static const sdist_t dists[] = { S_SHORT, S_TEXT };
    for (size_t d = 0; d < sizeof dists / sizeof *dists; d++) {
        strs_t s;
        make_strs(&s, (1u << 20) + 99, dists[d], 77 + d);
        check_entries_bytes(&s, dists[d] == S_TEXT ? "text" : "short");
        strs_free(&s);
    }
}

/* Zero bytes and proper prefixes: "" < "a" < "a\0" < "a\0\0" < "ab", and
 * around the prefix's 8 bytes. */
static void test_entries_bytes_zeros_and_prefixes(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const struct {
        const char *s;
        uint32_t len;
    } order[] = {
        { "", 0 },
        { "\0", 1 },
        { "\0\0", 2 },
        { "\0\0\0\0\0\0\0\0", 8 },
        { "\0\0\0\0\0\0\0\0\0", 9 },
        { "a", 1 },
        { "a\0", 2 },
        { "a\0\0", 3 },
        { "a\0\0\0\0\0\0", 7 },
        { "a\0\0\0\0\0\0\0", 8 },
        { "a\0\0\0\0\0\0\0\0", 9 },
        { "a\0\0\0\0\0\0\0\x01", 9 },
        { "a\0\0\0\0\0\0\x01", 8 },
        { "ab", 2 },
        { "abcdefgh", 8 },
        { "abcdefgh\0", 9 },
        { "abcdefghi", 9 },
        { "abcdefghij", 10 },
        { "abcdefgi", 8 },
        { "\xff", 1 },
        { "\xff\xff\xff\xff\xff\xff\xff\xff", 8 },
        { "\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9 },
    };
    enum { K = sizeof order / sizeof *order, COPIES = 7 };
    /* the list, several times over, shuffled: also checks stability */
    strs_t s;
    strs_init(&s, K * COPIES, K * COPIES * 16);
    size_t used = 0;
    uint64_t rng = 99;
    size_t pick[K * COPIES];
    for (size_t i = 0; i < K * COPIES; i++)
        pick[i] = i % K;
    for (size_t i = K * COPIES - 1; i > 0; i--) {
        size_t j = of_rng(&rng) % (i + 1), t = pick[i];
        pick[i] = pick[j];
        pick[j] = t;
    }
    for (size_t i = 0; i < K * COPIES; i++)
        strs_add(&s, &used, order[pick[i]].s, order[pick[i]].len);
    check_entries_bytes(&s, "zeros");

    /* and the kernel's own order is the list's */
    for (int desc = 0; desc <= 1; desc++) {
        mgov__sort_entry_t e[K * COPIES], scratch[K * COPIES];
        memcpy(e, s.e, sizeof e);
        const mgov__sort_entry_t *out = mgov__sort_entries_bytes(e, scratch, K * COPIES, desc);
        for (size_t i = 0; i < K * COPIES; i++) {
            size_t want = desc ? K - 1 - i / COPIES : i / COPIES;
            assert_int_equal(mgov__sort_rec_len(out[i].rec), order[want].len);
            assert_memory_equal(mgov__sort_rec_data(out[i].rec), order[want].s, order[want].len);
        }
    }
    strs_free(&s);
}

/* The header's entry comparison agrees with the bytewise one. */
static void test_entry_cmp_agrees(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    strs_t s;
    make_strs(&s, 4000, S_SHORT, 5);
    for (size_t i = 0; i + 1 < s.n; i++) {
        const mgov__sort_entry_t *a = &s.e[i], *b = &s.e[(i * 7919) % s.n];
        int want = mgov__sort_bytes_cmp(mgov__sort_rec_data(a->rec), mgov__sort_rec_len(a->rec),
                                        mgov__sort_rec_data(b->rec), mgov__sort_rec_len(b->rec));
        int got = mgov__sort_entry_cmp(a, b);
        assert_int_equal((want > 0) - (want < 0), (got > 0) - (got < 0));
    }
    strs_free(&s);
}

/* --------------------------------------------------- comparison callback */

typedef struct counter {
    unsigned long calls;
} counter_t;

static int cmp_by_len(void *ctx, const void *a, size_t al, const void *b, size_t bl)
{
    (void)a;
    (void)b;
    ((counter_t *)ctx)->calls++;
    return (al > bl) - (al < bl);
}

static int cmp_bytes(void *ctx, const void *a, size_t al, const void *b, size_t bl)
{
    ((counter_t *)ctx)->calls++;
    return mgov__sort_bytes_cmp(a, al, b, bl);
}

static void test_entries_cmp(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const size_t ns[] = { 0, 1, 2, 3, 15, 16, 17, 63, 64, 65, 1000, 100000 };
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
        size_t n = ns[c];
        strs_t s;
        make_strs(&s, n, S_SMALL, n + 17);
        unsigned long bound = 2 * n; /* a merge sort's comparisons: about n log2 n */
        for (size_t m = n; m > 1; m /= 2)
            bound += n;
        for (int desc = 0; desc <= 1; desc++) {
            mgov__sort_entry_t *e = xmalloc(n * sizeof *e), *scratch = xmalloc(n * sizeof *e);

            /* bytewise through the callback: the same order as the reference */
            counter_t cnt = { 0 };
            memcpy(e, s.e, n * sizeof *e);
            const mgov__sort_entry_t *out = mgov__sort_entries_cmp(e, scratch, n, cmp_bytes, &cnt,
                                                                   desc);
            check_entries_out(&s, out, desc, "cmp bytes");
            assert_true(cnt.calls <= bound);

            /* by length only: records of one length keep their input order */
            cnt.calls = 0;
            memcpy(e, s.e, n * sizeof *e);
            out = mgov__sort_entries_cmp(e, scratch, n, cmp_by_len, &cnt, desc);
            assert_true(cnt.calls <= bound);
            for (size_t i = 1; i < n; i++) {
                uint32_t la = mgov__sort_rec_len(out[i - 1].rec);
                uint32_t lb = mgov__sort_rec_len(out[i].rec);
                assert_true(desc ? la >= lb : la <= lb);
                if (la == lb) /* the records were laid out in input order */
                    assert_true(out[i - 1].rec < out[i].rec);
            }

            /* NULL: bytewise */
            memcpy(e, s.e, n * sizeof *e);
            out = mgov__sort_entries_cmp(e, scratch, n, NULL, NULL, desc);
            check_entries_out(&s, out, desc, "cmp NULL");
            free(e);
            free(scratch);
        }
        strs_free(&s);
    }
}

/* Sorted input costs about one comparison per entry per merge level. */
static void test_entries_cmp_presorted(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    enum { N = 4096 };
    strs_t s;
    strs_init(&s, N, N * 8);
    size_t used = 0;
    for (uint32_t i = 0; i < N; i++) {
        unsigned char b[4] = { (unsigned char)(i >> 24), (unsigned char)(i >> 16),
                               (unsigned char)(i >> 8), (unsigned char)i };
        strs_add(&s, &used, b, 4);
    }
    mgov__sort_entry_t *e = xmalloc(N * sizeof *e), *scratch = xmalloc(N * sizeof *e);
    memcpy(e, s.e, N * sizeof *e);
    counter_t cnt = { 0 };
    const mgov__sort_entry_t *out = mgov__sort_entries_cmp(e, scratch, N, cmp_bytes, &cnt, false);
    check_entries_out(&s, out, false, "presorted");
    assert_true(cnt.calls < 2 * N); /* a full merge sort would make ~N log2 N = 12 N */
    free(e);
    free(scratch);
    strs_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_shapes),
        cmocka_unit_test(test_fixed_large),
        cmocka_unit_test(test_fixed_two_threads),
        cmocka_unit_test(test_fixed_other_sizes),
        cmocka_unit_test(test_fixed_long_keys),
        cmocka_unit_test(test_fixed_one_bit_each),
        cmocka_unit_test(test_fixed_numeric_order),
        cmocka_unit_test(test_entries_bytes_random),
        cmocka_unit_test(test_entries_two_threads),
        cmocka_unit_test(test_entries_bytes_zeros_and_prefixes),
        cmocka_unit_test(test_entry_cmp_agrees),
        cmocka_unit_test(test_entries_cmp),
        cmocka_unit_test(test_entries_cmp_presorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
