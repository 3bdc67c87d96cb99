/* test_hashjoin.c - the grace hash join (ops/hashjoin*.c) against a
 * reference join made by sorting both sides (and a nested loop for the
 * small cases): every join type, fixed and variable keys, budgets from
 * 1 MiB to one that holds everything, empty sides, no matches, 1:1,
 * 1000 x 1000 rows on one key, a build side larger than the probe side,
 * every key equal (a cross product under 1 MiB: the chunked join), keys
 * that differ only in their high or low bytes, and every key with the same
 * hash.  Then its failures: bad arguments and misuse, a quota hit, damaged
 * spill files, every allocation, mapping and write failing in turn, spills
 * asked from another thread.  Outputs are compared as multisets: a row's
 * identity is (kind, key, build row, probe row), and both sides accumulate
 * the count and two sums of a 64-bit mix of every row, so a missing, extra
 * or wrong row shows.  After every case the governor counts nothing and
 * the spill directory holds no file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov/hashjoin.h"
#include "op_fixture.h"
#include "op_stress.h"
#include "ops/hashjoin_internal.h"

#define KMAX 24

/* ------------------------------------------------------------------ data */

typedef struct row {
    unsigned char key[KMAX];
    size_t klen;
    uint64_t id; /* its payload: the row's number, tagged by side */
} row_t;

typedef enum { K_LOW, K_HIGH, K_VAR } kshape_t;

static void make_key(row_t *r, uint64_t g, size_t ksize, kshape_t shape)
{
    memset(r->key, 0, KMAX);
    if (shape == K_VAR) { /* lengths 0..12, zero bytes inside */
        r->klen = (size_t)(g % 13);
        for (size_t i = 0; i < r->klen; i++)
            r->key[i] = i < 8 ? (unsigned char)(g >> (8 * i)) : (unsigned char)(i % 3 ? 0 : g);
        return;
    }
    r->klen = ksize;
    size_t n = ksize < 8 ? ksize : 8;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)(g >> (8 * (n - 1 - i)));
        if (shape == K_HIGH)
            r->key[i] = b;
        else
            r->key[ksize - n + i] = b;
    }
}

typedef struct side {
    uint64_t rows, keys; /* keys drawn from 0..keys-1; 0 keys: all equal */
    uint64_t offset;     /* added to the key id: shifts the ranges apart */
} side_t;

typedef struct spec {
    mgov_join_type_t type;
    size_t key_size;     /* 0: variable */
    kshape_t shape;
    side_t build, probe;
    uint64_t budget;
    bool const_hash;
    uint64_t seed;
} spec_t;

static row_t *make_side(const spec_t *sp, const side_t *sd, uint64_t tag, uint64_t seed)
{
    row_t *r = calloc(sd->rows ? sd->rows : 1, sizeof *r);
    uint64_t s = seed | 1;
    for (uint64_t i = 0; i < sd->rows; i++) {
        uint64_t g = sd->keys ? of_rng(&s) % sd->keys + sd->offset : sd->offset;
        make_key(&r[i], g, sp->key_size ? sp->key_size : 8,
                 sp->key_size ? sp->shape : K_VAR);
        r[i].id = tag | i;
    }
    return r;
}

/* --------------------------------------------------------------- checksums */

#define BUILD_TAG ((uint64_t)1 << 62)
#define PROBE_TAG ((uint64_t)1 << 61)

typedef struct sums {
    uint64_t count, a, b;
    uint64_t kinds[3]; /* rows of each kind, for messages */
} sums_t;

enum { OUT_MATCH, OUT_PROBE, OUT_BUILD };

static void account(sums_t *s, int kind, const void *key, size_t klen, uint64_t bid, uint64_t pid)
{
    uint64_t h = of_mix((uint64_t)kind * 0x100000001b3ull ^ klen);
    const unsigned char *k = key;
    for (size_t i = 0; i < klen; i++)
        h = of_mix(h ^ k[i]);
    h = of_mix(h ^ bid);
    h = of_mix(h ^ pid);
    s->count++;
    s->kinds[kind]++;
    s->a += h;
    s->b += of_mix(h);
}

static int key_cmp(const row_t *a, const row_t *b)
{
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n ? memcmp(a->key, b->key, n) : 0;
    return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

static int row_cmp(const void *pa, const void *pb)
{
    return key_cmp(pa, pb);
}

/* The reference, by sorting both sides and merging their key groups. */
static sums_t reference(const spec_t *sp, row_t *b, row_t *p)
{
    sums_t s = { 0 };
    uint64_t nb = sp->build.rows, np = sp->probe.rows;
    qsort(b, nb, sizeof *b, row_cmp);
    qsort(p, np, sizeof *p, row_cmp);
    mgov_join_type_t t = sp->type;
    bool inner = t == MGOV_JOIN_INNER || t == MGOV_JOIN_PROBE_OUTER ||
                 t == MGOV_JOIN_BUILD_OUTER || t == MGOV_JOIN_FULL;
    bool probe_outer = t == MGOV_JOIN_PROBE_OUTER || t == MGOV_JOIN_FULL;
    bool build_outer = t == MGOV_JOIN_BUILD_OUTER || t == MGOV_JOIN_FULL;
    uint64_t i = 0, k = 0;
    while (i < nb || k < np) {
        int c = i == nb ? 1 : k == np ? -1 : key_cmp(&b[i], &p[k]);
        uint64_t i2 = i, k2 = k;
        if (c <= 0)
            while (i2 < nb && key_cmp(&b[i2], &b[i]) == 0)
                i2++;
        if (c >= 0)
            while (k2 < np && key_cmp(&p[k2], &p[k]) == 0)
                k2++;
        if (c == 0) {
            for (uint64_t x = k; x < k2; x++) {
                if (inner)
                    for (uint64_t y = i; y < i2; y++)
                        account(&s, OUT_MATCH, p[x].key, p[x].klen, b[y].id, p[x].id);
                if (t == MGOV_JOIN_SEMI)
                    account(&s, OUT_PROBE, p[x].key, p[x].klen, 0, p[x].id);
            }
        } else if (c > 0) {
            for (uint64_t x = k; x < k2; x++)
                if (probe_outer || t == MGOV_JOIN_ANTI)
                    account(&s, OUT_PROBE, p[x].key, p[x].klen, 0, p[x].id);
        } else {
            for (uint64_t y = i; y < i2; y++)
                if (build_outer)
                    account(&s, OUT_BUILD, b[y].key, b[y].klen, b[y].id, 0);
        }
        i = i2;
        k = k2;
    }
    return s;
}

/* A nested loop, the other reference (small inputs). */
static sums_t nested_loop(const spec_t *sp, const row_t *b, const row_t *p)
{
    sums_t s = { 0 };
    mgov_join_type_t t = sp->type;
    bool *bm = calloc(sp->build.rows + 1, 1);
    for (uint64_t x = 0; x < sp->probe.rows; x++) {
        bool any = false;
        for (uint64_t y = 0; y < sp->build.rows; y++) {
            if (key_cmp(&b[y], &p[x]))
                continue;
            any = true;
            bm[y] = true;
            if (t != MGOV_JOIN_SEMI && t != MGOV_JOIN_ANTI)
                account(&s, OUT_MATCH, p[x].key, p[x].klen, b[y].id, p[x].id);
        }
        if ((t == MGOV_JOIN_SEMI && any) ||
            (!any && (t == MGOV_JOIN_ANTI || t == MGOV_JOIN_PROBE_OUTER || t == MGOV_JOIN_FULL)))
            account(&s, OUT_PROBE, p[x].key, p[x].klen, 0, p[x].id);
    }
    if (t == MGOV_JOIN_BUILD_OUTER || t == MGOV_JOIN_FULL)
        for (uint64_t y = 0; y < sp->build.rows; y++)
            if (!bm[y])
                account(&s, OUT_BUILD, b[y].key, b[y].klen, b[y].id, 0);
    free(bm);
    return s;
}

/* ------------------------------------------------------------------- runs */

typedef struct outcome {
    int rc;
    sums_t sums;
    mgov_hashjoin_stats_t st;
    uint64_t radix_pairs; /* spilled pairs joined in cache-sized parts */
} outcome_t;

static uint64_t id_of(const void *p, size_t len)
{
    uint64_t v;
    assert_int_equal(len, sizeof v);
    memcpy(&v, p, sizeof v);
    return v;
}

static void account_row(sums_t *s, const mgov_hashjoin_row_t *r)
{
    if (r->key_len)
        assert_non_null(r->key);
    int kind = r->has_build && r->has_probe ? OUT_MATCH : r->has_probe ? OUT_PROBE : OUT_BUILD;
    uint64_t bid = r->has_build ? id_of(r->build, r->build_len) : 0;
    uint64_t pid = r->has_probe ? id_of(r->probe, r->probe_len) : 0;
    account(s, kind, r->key, r->key_len, bid, pid);
}

static mgov_hashjoin_config_t config_of(mgov_t *gov, const spec_t *sp)
{
    mgov_hashjoin_config_t c = MGOV_HASHJOIN_CONFIG_INIT;
    c.gov = gov;
    c.type = sp->type;
    c.key_size = sp->key_size;
    c.max_key = KMAX;
    c.max_payload = 64;
    c.timeout_ns = MGOV_HASHJOIN_DEFAULT_TIMEOUT_NS;
    return c;
}

static outcome_t run(mgov_t *gov, const spec_t *sp, const row_t *b, const row_t *p)
{
    outcome_t o = { 0 };
    mgov_hashjoin_config_t c = config_of(gov, sp);
    mgov_hashjoin_t *j;
    if ((o.rc = mgov_hashjoin_create(&c, &j)) != MGOV_OK)
        return o;
    if (sp->const_hash)
        mgov__hashjoin_test_constant_hash(j);
    for (uint64_t i = 0; i < sp->build.rows && o.rc == MGOV_OK; i++)
        o.rc = mgov_hashjoin_build(j, b[i].key, b[i].klen, &b[i].id, sizeof b[i].id);
    if (o.rc == MGOV_OK)
        o.rc = mgov_hashjoin_build_finish(j);
    mgov_hashjoin_row_t r;
    for (uint64_t i = 0; i < sp->probe.rows && o.rc == MGOV_OK; i++) {
        o.rc = mgov_hashjoin_probe(j, p[i].key, p[i].klen, &p[i].id, sizeof p[i].id);
        int rc;
        while (o.rc == MGOV_OK && (rc = mgov_hashjoin_next(j, &r)) != 0) {
            if (rc < 0)
                o.rc = rc;
            else
                account_row(&o.sums, &r);
        }
    }
    if (o.rc == MGOV_OK)
        o.rc = mgov_hashjoin_probe_finish(j);
    int rc;
    while (o.rc == MGOV_OK && (rc = mgov_hashjoin_next(j, &r)) != 0) {
        if (rc < 0)
            o.rc = rc;
        else
            account_row(&o.sums, &r);
    }
    if (o.rc != MGOV_OK) /* sticky */
        assert_int_equal(mgov_hashjoin_next(j, &r), o.rc);
    mgov_hashjoin_stats(j, &o.st);
    o.radix_pairs = mgov__hashjoin_test_radix_pairs(j);
    mgov_hashjoin_destroy(j);
    return o;
}

static outcome_t check(const spec_t *sp)
{
    of_env_t e;
    of_open(&e, "hashjoin", sp->budget, 0);
    row_t *b = make_side(sp, &sp->build, BUILD_TAG, sp->seed * 2 + 1);
    row_t *p = make_side(sp, &sp->probe, PROBE_TAG, sp->seed * 2 + 2);
    outcome_t o = run(e.gov, sp, b, p);
    if (o.rc != MGOV_OK)
        fail_msg("type %d key_size %zu budget %llu: %s", sp->type, sp->key_size,
                 (unsigned long long)sp->budget, mgov_strerror(o.rc));
    sums_t want = sp->build.rows * sp->probe.rows <= 4000000 ? nested_loop(sp, b, p)
                                                               : reference(sp, b, p);
    if (sp->build.rows * sp->probe.rows <= 4000000) { /* both references agree */
        sums_t ref = reference(sp, b, p);
        assert_int_equal(ref.count, want.count);
        assert_true(ref.a == want.a && ref.b == want.b);
    }
    if (o.sums.count != want.count || o.sums.a != want.a || o.sums.b != want.b)
        fail_msg("type %d key_size %zu budget %llu: %llu rows out, %llu expected%s", sp->type,
                 sp->key_size, (unsigned long long)sp->budget,
                 (unsigned long long)o.sums.count, (unsigned long long)want.count,
                 o.sums.count == want.count ? " (different rows)" : "");
    free(b);
    free(p);
    of_close(&e);
    return o;
}

/* ------------------------------------------------------------------ cases */

static const mgov_join_type_t all_types[] = { MGOV_JOIN_INNER, MGOV_JOIN_PROBE_OUTER,
                                              MGOV_JOIN_BUILD_OUTER, MGOV_JOIN_FULL,
                                              MGOV_JOIN_SEMI, MGOV_JOIN_ANTI };

static void test_types_keys_budgets(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const uint64_t budgets[] = { GH_MiB, 16 * GH_MiB, GH_GiB };
    static const size_t widths[] = { 8, 0, 3 };
    unsigned spilled = 0;
    for (size_t t = 0; t < 6; t++)
        for (size_t w = 0; w < 3; w++)
            for (size_t bi = 0; bi < 3; bi++) {
                spec_t sp = { .type = all_types[t], .key_size = widths[w],
                              .build = { 30000, 20000, 0 }, .probe = { 25000, 20000, 5000 },
                              .budget = budgets[bi], .seed = t * 9 + w * 3 + bi };
                if (widths[w] == 3) /* 3 bytes: room for the ids */
                    sp.shape = K_HIGH;
                mgov_hashjoin_stats_t st = check(&sp).st;
                if (budgets[bi] == GH_GiB)
                    assert_int_equal(st.spilled_raw, 0); /* it fits: nothing written */
                else
                    spilled += st.partitions_spilled > 0;
            }
    assert_true(spilled > 0);
}

/* Spilled pairs that fit are joined in cache-sized parts (several parts a
 * pair here), and their answers are the streaming pass's, for every type. */
static void test_pairs_in_parts(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const size_t widths[] = { 8, 0 };
    for (size_t t = 0; t < 6; t++)
        for (size_t w = 0; w < 2; w++) {
            spec_t sp = { .type = all_types[t], .key_size = widths[w],
                          .build = { 200000, 150000, 0 }, .probe = { 150000, 150000, 50000 },
                          .budget = 8 * GH_MiB, .seed = 40 + t * 2 + w };
            outcome_t o = check(&sp);
            assert_true(o.st.partitions_spilled > 0);
            assert_true(o.radix_pairs > 0);
        }
}

static void test_shapes(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    for (size_t t = 0; t < 6; t++) {
        mgov_join_type_t ty = all_types[t];
        /* empty build, empty probe, no matches, 1:1 */
        check(&(spec_t){ .type = ty, .key_size = 8, .build = { 0, 10, 0 },
                         .probe = { 500, 10, 0 }, .budget = GH_MiB });
        check(&(spec_t){ .type = ty, .key_size = 8, .build = { 500, 10, 0 },
                         .probe = { 0, 10, 0 }, .budget = GH_MiB });
        check(&(spec_t){ .type = ty, .key_size = 8, .build = { 3000, 1000, 0 },
                         .probe = { 3000, 1000, 1000 }, .budget = GH_MiB });
        spec_t one = { .type = ty, .key_size = 8, .build = { 2000, 0, 0 },
                       .probe = { 2000, 0, 0 }, .budget = GH_MiB };
        /* 1:1: distinct keys on both sides, every one matching */
        one.build.keys = one.probe.keys = 1u << 30;
        check(&one);
        /* 1000 x 1000 on one key: a million matches at 1 MiB */
        check(&(spec_t){ .type = ty, .key_size = 8, .build = { 1000, 0, 7 },
                         .probe = { 1000, 0, 7 }, .budget = GH_MiB });
        /* a build side larger than the probe side, keys in high or low bytes */
        for (kshape_t sh = K_LOW; sh <= K_HIGH; sh++)
            check(&(spec_t){ .type = ty, .key_size = 16, .shape = sh,
                             .build = { 60000, 30000, 0 }, .probe = { 5000, 30000, 0 },
                             .budget = GH_MiB, .seed = 3 });
    }
}

/* Every key equal: a cross product under 1 MiB, joined in chunks. */
static void test_cross_product(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    /* 40,000 rows of one key do not fit in 1 MiB; 60 probe rows make 2.4M
     * matches a type */
    uint64_t np = 60;
    for (size_t t = 0; t < 6; t++) {
        spec_t sp = { .type = all_types[t], .key_size = 8, .build = { 40000, 0, 1 },
                      .probe = { np, 0, 1 }, .budget = GH_MiB };
        mgov_hashjoin_stats_t st = check(&sp).st;
        assert_true(st.chunked > 0 && st.chunks > 1);
    }
}

/* Every key hashes alike: the chunked join without equal keys. */
static void test_constant_hash(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    for (size_t t = 0; t < 6; t++) {
        spec_t sp = { .type = all_types[t], .key_size = 0, .build = { 60000, 5000, 0 },
                      .probe = { 3000, 5000, 2000 }, .budget = GH_MiB, .const_hash = true,
                      .seed = 11 };
        mgov_hashjoin_stats_t st = check(&sp).st;
        assert_true(st.chunked > 0);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "hashjoin", GH_MiB, 0);
    spec_t sp = { .type = MGOV_JOIN_INNER, .key_size = 8 };
    mgov_hashjoin_config_t c = config_of(e.gov, &sp);
    mgov_hashjoin_t *j = (mgov_hashjoin_t *)&j;
    assert_int_equal(mgov_hashjoin_create(NULL, &j), MGOV_EINVAL);
    assert_null(j);
    assert_int_equal(mgov_hashjoin_create(&c, NULL), MGOV_EINVAL);
    c.type = (mgov_join_type_t)42;
    assert_int_equal(mgov_hashjoin_create(&c, &j), MGOV_EINVAL);
    c = config_of(e.gov, &sp);
    c.gov = NULL;
    assert_int_equal(mgov_hashjoin_create(&c, &j), MGOV_EINVAL);
    c = config_of(e.gov, &sp);
    c.region = "no_such_region";
    assert_int_equal(mgov_hashjoin_create(&c, &j), MGOV_ENOTFOUND);
    c = config_of(e.gov, &sp);
    assert_int_equal(mgov_hashjoin_create(&c, &j), MGOV_OK);
    uint64_t k = 1, v = 2;
    mgov_hashjoin_row_t r;
    assert_int_equal(mgov_hashjoin_next(j, &r), MGOV_EINVAL); /* before build_finish */
    assert_int_equal(mgov_hashjoin_probe(j, &k, 8, &v, 8), MGOV_EINVAL);
    assert_int_equal(mgov_hashjoin_probe_finish(j), MGOV_EINVAL);
    assert_int_equal(mgov_hashjoin_build(j, &k, 7, &v, 8), MGOV_EINVAL); /* key width */
    assert_int_equal(mgov_hashjoin_build(j, &k, 8, &v, 65), MGOV_EINVAL); /* max_payload */
    assert_int_equal(mgov_hashjoin_build(j, &k, 8, NULL, 8), MGOV_EINVAL);
    assert_int_equal(mgov_hashjoin_build(j, &k, 8, NULL, 0), MGOV_OK); /* empty payload */
    assert_int_equal(mgov_hashjoin_build(j, &k, 8, &v, 8), MGOV_OK);
    assert_int_equal(mgov_hashjoin_build_finish(j), MGOV_OK);
    assert_int_equal(mgov_hashjoin_build_finish(j), MGOV_EINVAL);
    assert_int_equal(mgov_hashjoin_build(j, &k, 8, &v, 8), MGOV_EINVAL); /* after finish */
    assert_int_equal(mgov_hashjoin_probe(j, &k, 8, &v, 8), MGOV_OK);
    assert_int_equal(mgov_hashjoin_probe(j, &k, 8, &v, 8), MGOV_EBUSY); /* not drained */
    assert_int_equal(mgov_hashjoin_probe_finish(j), MGOV_EBUSY);
    assert_int_equal(mgov_hashjoin_next(j, &r), 1);
    assert_true(r.has_build && r.has_probe);
    assert_int_equal(mgov_hashjoin_next(j, &r), 1);
    assert_int_equal(mgov_hashjoin_next(j, &r), 0);
    assert_int_equal(mgov_hashjoin_next(j, &r), 0);
    assert_int_equal(mgov_hashjoin_probe_finish(j), MGOV_OK);
    assert_int_equal(mgov_hashjoin_probe(j, &k, 8, &v, 8), MGOV_EINVAL);
    assert_int_equal(mgov_hashjoin_next(j, &r), 0);
    assert_int_equal(mgov_hashjoin_next(j, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_hashjoin_stats(NULL, NULL), MGOV_EINVAL);
    mgov_hashjoin_destroy(j);
    mgov_hashjoin_destroy(NULL);
    /* destroyed halfway: nothing left */
    sp.key_size = 0;
    c = config_of(e.gov, &sp);
    assert_int_equal(mgov_hashjoin_create(&c, &j), MGOV_OK);
    for (uint64_t i = 0; i < 50000; i++)
        assert_int_equal(mgov_hashjoin_build(j, &i, 1 + i % 8, &i, 8), MGOV_OK);
    mgov_hashjoin_destroy(j);
    of_close(&e);
}

/* A join under 1 MiB over n rows a side; returns its first error. */
/* Drains the output of the last probe row (or the rest): rows out. */
static uint64_t drain(mgov_hashjoin_t *j)
{
    mgov_hashjoin_row_t r;
    uint64_t out = 0;
    int x;
    while ((x = mgov_hashjoin_next(j, &r)) == 1)
        out++;
    assert_int_equal(x, 0);
    return out;
}

/* mgov_hashjoin_spill: build partitions go to disk at once, while building
 * and between probe rows (not while one's output is pending), until none
 * is left in RAM; every pair still comes out. */
static void test_spill_on_demand(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "hashjoin", 64 * GH_MiB, 0);
    spec_t sp = { .type = MGOV_JOIN_INNER, .key_size = 8 };
    mgov_hashjoin_config_t c = config_of(e.gov, &sp);
    mgov_hashjoin_t *j;
    assert_int_equal(mgov_hashjoin_create(&c, &j), MGOV_OK);
    assert_int_equal(mgov_hashjoin_spill(j), 0); /* nothing built yet */
    const uint64_t n = 20000;
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(mgov_hashjoin_build(j, &i, 8, &i, 8), MGOV_OK);
        if (i == n / 2) {
            mgov_hashjoin_stats_t before, after;
            assert_int_equal(mgov_hashjoin_stats(j, &before), MGOV_OK);
            assert_int_equal(mgov_hashjoin_spill(j), 1);
            assert_int_equal(mgov_hashjoin_stats(j, &after), MGOV_OK);
            assert_true(after.memory < before.memory);
            assert_true(after.partitions_spilled > before.partitions_spilled);
        }
    }
    assert_int_equal(mgov_hashjoin_build_finish(j), MGOV_OK);
    uint64_t out = 0;
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(mgov_hashjoin_probe(j, &i, 8, &i, 8), MGOV_OK);
        if (i == n / 2) {
            mgov_hashjoin_row_t r;
            int x = mgov_hashjoin_next(j, &r);
            assert_true(x >= 0);
            out += (uint64_t)x;
            if (x == 1) /* the row's output is not drained yet */
                assert_int_equal(mgov_hashjoin_spill(j), MGOV_EBUSY);
        }
        out += drain(j);
        if (i == n / 2) {
            int rc;
            while ((rc = mgov_hashjoin_spill(j)) == 1)
                ;
            assert_int_equal(rc, 0);
        }
    }
    assert_int_equal(mgov_hashjoin_probe_finish(j), MGOV_OK);
    assert_int_equal(mgov_hashjoin_spill(j), MGOV_EINVAL);
    out += drain(j);
    assert_int_equal(out, n);
    mgov_hashjoin_destroy(j);
    assert_int_equal(mgov_hashjoin_spill(NULL), MGOV_EINVAL);
    of_close(&e);
}

static int spill_run(mgov_t *gov, mgov_join_type_t type, uint64_t n)
{
    spec_t sp = { .type = type, .key_size = 8 };
    mgov_hashjoin_config_t c = config_of(gov, &sp);
    mgov_hashjoin_t *j;
    int rc = mgov_hashjoin_create(&c, &j);
    if (rc != MGOV_OK)
        return rc;
    for (uint64_t i = 0; i < n && rc == MGOV_OK; i++) {
        uint64_t k = of_mix(i) % n;
        rc = mgov_hashjoin_build(j, &k, 8, &i, 8);
    }
    if (rc == MGOV_OK)
        rc = mgov_hashjoin_build_finish(j);
    mgov_hashjoin_row_t r;
    uint64_t out = 0;
    for (uint64_t i = 0; i < n && rc == MGOV_OK; i++) {
        uint64_t k = of_mix(i + 3) % n;
        rc = mgov_hashjoin_probe(j, &k, 8, &i, 8);
        int x;
        while (rc == MGOV_OK && (x = mgov_hashjoin_next(j, &r)) != 0)
            rc = x < 0 ? x : MGOV_OK, out++;
    }
    if (rc == MGOV_OK)
        rc = mgov_hashjoin_probe_finish(j);
    int x;
    while (rc == MGOV_OK && (x = mgov_hashjoin_next(j, &r)) != 0)
        rc = x < 0 ? x : MGOV_OK, out++;
    if (rc != MGOV_OK)
        assert_int_equal(mgov_hashjoin_next(j, &r), rc); /* sticky */
    mgov_hashjoin_destroy(j);
    return rc == MGOV_OK && out == 0 ? MGOV_ECORRUPT : rc;
}

/* A full join of `rows` rows a side (of_failures_t's run). */
static int full_run(mgov_t *gov, uint64_t rows)
{
    return spill_run(gov, MGOV_JOIN_FULL, rows);
}

/* 80000 rows a side, one match each, probed and drained: spilled at
 * 1 MiB, the spilled partitions left for next. */
static void *damaged_start(mgov_t *gov)
{
    spec_t sp = { .type = MGOV_JOIN_INNER, .key_size = 8 };
    mgov_hashjoin_config_t c = config_of(gov, &sp);
    mgov_hashjoin_t *j;
    assert_int_equal(mgov_hashjoin_create(&c, &j), MGOV_OK);
    for (uint64_t i = 0; i < 80000; i++)
        assert_int_equal(mgov_hashjoin_build(j, &i, 8, &i, 8), MGOV_OK);
    assert_int_equal(mgov_hashjoin_build_finish(j), MGOV_OK);
    mgov_hashjoin_row_t r;
    for (uint64_t i = 0; i < 80000; i++) {
        assert_int_equal(mgov_hashjoin_probe(j, &i, 8, &i, 8), MGOV_OK);
        while (mgov_hashjoin_next(j, &r) == 1)
            ;
    }
    assert_int_equal(mgov_hashjoin_probe_finish(j), MGOV_OK);
    return j;
}

static int damaged_next(void *j)
{
    mgov_hashjoin_row_t r;
    return mgov_hashjoin_next(j, &r);
}

static void damaged_end(void *j)
{
    mgov_hashjoin_destroy(j);
}

/* A quota hit, damaged spill files, faults in turn (op_fixture.h); a
 * join of 40000 rows a side spills at 1 MiB. */
static const of_failures_t failures = {
    .name = "hashjoin", .run = full_run, .quota_rows = 100000, .fault_rows = 40000,
    .dense = 30, .skip = 14,
    .damaged = { damaged_start, damaged_next, damaged_end }, .damaged_files = 2,
};

static void test_spill_asked_from_another_thread(void **state)
{
    (void)state;
    uint64_t asked = 0;
    for (size_t t = 0; t < 6; t += OF_UNDER_TSAN ? 3 : 1) {
        spec_t sp = { .type = all_types[t], .key_size = 8, .build = { 60000, 40000, 0 },
                      .probe = { 60000, 40000, 10000 }, .budget = 64 * GH_MiB, .seed = 21 };
        of_env_t e;
        of_open(&e, "hashjoin", sp.budget, 0);
        row_t *b = make_side(&sp, &sp.build, BUILD_TAG, 5);
        row_t *p = make_side(&sp, &sp.probe, PROBE_TAG, 6);
        op_asker_t a = { .gov = e.gov }; /* no pause: the join is quick */
        assert_int_equal(op_asker_start(&a), 0);
        outcome_t o = run(e.gov, &sp, b, p);
        op_asker_stop(&a);
        assert_int_equal(o.rc, MGOV_OK);
        sums_t want = reference(&sp, b, p);
        if (o.sums.count != want.count || o.sums.a != want.a || o.sums.b != want.b)
            fail_msg("type %d: %llu rows out (%llu %llu %llu), %llu expected (%llu %llu %llu)",
                     sp.type, (unsigned long long)o.sums.count,
                     (unsigned long long)o.sums.kinds[0], (unsigned long long)o.sums.kinds[1],
                     (unsigned long long)o.sums.kinds[2], (unsigned long long)want.count,
                     (unsigned long long)want.kinds[0], (unsigned long long)want.kinds[1],
                     (unsigned long long)want.kinds[2]);
        asked += o.st.spill_requests;
        free(b);
        free(p);
        of_close(&e);
    }
    assert_true(asked > 0); /* a race per join; over six, the asks land */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_types_keys_budgets),
        FH_TEST(test_pairs_in_parts),
        FH_TEST(test_shapes),
        FH_TEST(test_cross_product),
        FH_TEST(test_constant_hash),
        FH_TEST(test_bad_arguments),
        FH_TEST(test_spill_on_demand),
        OF_FAILURE_TESTS(&failures),
        FH_TEST(test_spill_asked_from_another_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
