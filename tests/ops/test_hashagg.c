/* test_hashagg.c - the hash aggregation (ops/hashagg*.c) against a
 * reference aggregation made by sorting: fixed keys of many widths and
 * variable keys (empty and 0x00 bytes included), every built-in aggregate
 * and a user-defined one, budgets from 1 MiB to one that holds everything,
 * and the distributions that break engines: all keys equal, all distinct,
 * Zipf-like skew, one key holding half the rows, keys that differ only in
 * their high or only in their low bytes, and every key with the same hash
 * (the sort fallback).  Then its edges and failures: empty input, one row,
 * integer overflow, bad arguments, a quota hit, damaged spill files, every
 * allocation, mapping and write failing in turn, spills asked from another
 * thread.  After every case the governor counts nothing and the spill
 * directory holds no file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov/hashagg.h"
#include "op_fixture.h"
#include "op_stress.h"
#include "ops/hashagg_internal.h"

__extension__ typedef __int128 i128;

#define KMAX 64

/* ------------------------------------------------------------------ data */

typedef enum { D_UNIFORM, D_EQUAL, D_DISTINCT, D_ZIPF, D_HALF } dist_t;
typedef enum { K_LOW, K_HIGH } kplace_t; /* where the group id's bytes go */

typedef struct row {
    unsigned char key[KMAX];
    size_t klen;
    int64_t vi;
    double vf;
} row_t;

/* The group id of row i. */
static uint64_t group_of(dist_t d, uint64_t i, uint64_t groups, uint64_t *s)
{
    switch (d) {
    case D_EQUAL: return 0;
    case D_DISTINCT: return i;
    case D_ZIPF: {
        double u = (double)(of_rng(s) >> 11) / (double)(1ull << 53);
        return (uint64_t)((double)groups * u * u * u);
    }
    case D_HALF: return i % 2 ? 0 : of_rng(s) % groups;
    default: return of_rng(s) % groups;
    }
}

/* A key of klen bytes from a group id: its bytes at the start (K_HIGH:
 * keys differ in their first bytes only) or at the end (K_LOW). */
static void make_key(row_t *r, uint64_t g, size_t klen, kplace_t where)
{
    memset(r->key, 0, klen);
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(g >> (56 - 8 * i)); /* big-endian: distinct ids, distinct keys */
    size_t n = klen < 8 ? klen : 8;
    if (where == K_HIGH)
        memcpy(r->key, b + 8 - n, n);
    else
        memcpy(r->key + klen - n, b + 8 - n, n);
    r->klen = klen;
}

typedef struct spec {
    size_t key_size;    /* 0: variable keys */
    uint64_t rows, groups;
    dist_t dist;
    kplace_t place;
    uint64_t budget;
    bool const_hash;
    uint64_t seed;
} spec_t;

static row_t *make_rows(const spec_t *sp)
{
    row_t *rows = calloc(sp->rows ? sp->rows : 1, sizeof *rows);
    uint64_t s = sp->seed | 1;
    for (uint64_t i = 0; i < sp->rows; i++) {
        uint64_t g = group_of(sp->dist, i, sp->groups, &s);
        row_t *r = &rows[i];
        if (sp->key_size) {
            make_key(r, g, sp->key_size, sp->place);
        } else {
            /* variable: length from the id (0 included), bytes with 0x00 */
            size_t len = (size_t)(g % 23);
            uint64_t x = g * 0x9e3779b97f4a7c15ull;
            for (size_t j = 0; j < len; j++) {
                r->key[j] = (unsigned char)(j == 0 ? g : x >> (j % 8 * 8));
                if (j % 5 == 3)
                    r->key[j] = 0;
            }
            if (len > 0) /* the id in the first bytes keeps keys of one length distinct */
                for (size_t j = 0; j < 8 && j < len; j++)
                    r->key[j] = (unsigned char)(g >> (8 * j));
            r->klen = len;
        }
        r->vi = (int64_t)(of_rng(&s) % 2000001) - 1000000;
        r->vf = (double)((int64_t)(of_rng(&s) % 1001) - 500); /* integers: sums exact */
    }
    return rows;
}

/* ------------------------------------------------------------- reference */

typedef struct group {
    unsigned char key[KMAX];
    size_t klen;
    int64_t count;
    i128 sum_i;
    double sum_f;
    int64_t min_i, max_i;
    double min_f, max_f;
    int64_t sq; /* the user aggregate: sum of squares of vi mod 2^61-1 */
} group_t;

static int key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (al > bl) - (al < bl);
}

static int row_cmp(const void *pa, const void *pb)
{
    const row_t *a = pa, *b = pb;
    return key_cmp(a->key, a->klen, b->key, b->klen);
}

static int group_cmp(const void *pa, const void *pb)
{
    const group_t *a = pa, *b = pb;
    return key_cmp(a->key, a->klen, b->key, b->klen);
}

#define SQ_MOD ((int64_t)((1ull << 61) - 1))

static int64_t sq_add(int64_t a, int64_t b)
{
    return (int64_t)(((i128)a + b) % SQ_MOD);
}

static int64_t sq_of(int64_t v)
{
    return (int64_t)(((i128)v * v) % SQ_MOD);
}

/* Groups of the rows, in key order; *n groups. */
static group_t *reference(row_t *rows, uint64_t nrows, size_t *n)
{
    row_t *sorted = malloc((nrows ? nrows : 1) * sizeof *sorted);
    memcpy(sorted, rows, nrows * sizeof *rows);
    qsort(sorted, nrows, sizeof *sorted, row_cmp);
    group_t *g = calloc(nrows ? nrows : 1, sizeof *g);
    size_t k = 0;
    for (uint64_t i = 0; i < nrows; i++) {
        const row_t *r = &sorted[i];
        if (k == 0 || key_cmp(g[k - 1].key, g[k - 1].klen, r->key, r->klen) != 0) {
            group_t *x = &g[k++];
            memcpy(x->key, r->key, r->klen);
            x->klen = r->klen;
            x->min_i = x->max_i = r->vi;
            x->min_f = x->max_f = r->vf;
        }
        group_t *x = &g[k - 1];
        x->count++;
        x->sum_i += r->vi;
        x->sum_f += r->vf;
        if (r->vi < x->min_i)
            x->min_i = r->vi;
        if (r->vi > x->max_i)
            x->max_i = r->vi;
        x->min_f = fmin(x->min_f, r->vf);
        x->max_f = fmax(x->max_f, r->vf);
        x->sq = sq_add(x->sq, sq_of(r->vi));
    }
    free(sorted);
    *n = k;
    return g;
}

/* --------------------------------------------------- the user aggregate */

static void sq_init(void *ctx, void *state)
{
    (void)ctx;
    memset(state, 0, sizeof(int64_t));
}

static void sq_update(void *ctx, void *state, const mgov_value_t *v)
{
    (void)ctx;
    int64_t s;
    memcpy(&s, state, sizeof s);
    s = sq_add(s, sq_of(v->i64));
    memcpy(state, &s, sizeof s);
}

static void sq_merge(void *ctx, void *into, const void *from)
{
    (void)ctx;
    int64_t a, b;
    memcpy(&a, into, sizeof a);
    memcpy(&b, from, sizeof b);
    a = sq_add(a, b);
    memcpy(into, &a, sizeof a);
}

static void sq_finalize(void *ctx, const void *state, mgov_value_t *out)
{
    (void)ctx;
    memcpy(&out->i64, state, sizeof out->i64);
}

static const mgov_agg_udf_t sq_udf = { sizeof(int64_t), sq_init, sq_update, sq_merge,
                                       sq_finalize, NULL };

/* count, sum, min and max of both inputs, and (with udf) the user one */
static const mgov_agg_spec_t all_aggs[] = {
    { MGOV_AGG_COUNT, 0, NULL },   { MGOV_AGG_SUM_I64, 0, NULL }, { MGOV_AGG_SUM_F64, 1, NULL },
    { MGOV_AGG_MIN_I64, 0, NULL }, { MGOV_AGG_MAX_I64, 0, NULL }, { MGOV_AGG_MIN_F64, 1, NULL },
    { MGOV_AGG_MAX_F64, 1, NULL }, { MGOV_AGG_USER, 0, &sq_udf },
};

/* ----------------------------------------------------------------- runs */

typedef struct outcome {
    int rc;                  /* first failure, or MGOV_OK */
    group_t *groups;         /* what came out, sorted */
    size_t n;
    mgov_hashagg_stats_t st;
} outcome_t;

static mgov_hashagg_config_t config_of(mgov_t *gov, size_t key_size, unsigned n_aggs)
{
    mgov_hashagg_config_t c = MGOV_HASHAGG_CONFIG_INIT;
    c.gov = gov;
    c.key_size = key_size;
    c.max_key = KMAX;
    c.n_inputs = 2;
    c.aggs = all_aggs;
    c.n_aggs = n_aggs;
    c.timeout_ns = MGOV_HASHAGG_DEFAULT_TIMEOUT_NS;
    return c;
}

/* Runs the rows through a new operator; collects the groups.  Returns the
 * first error (the operator is destroyed either way). */
static outcome_t run(mgov_t *gov, const spec_t *sp, const row_t *rows, unsigned n_aggs)
{
    outcome_t o = { 0 };
    mgov_hashagg_config_t c = config_of(gov, sp->key_size, n_aggs);
    mgov_hashagg_t *h;
    if ((o.rc = mgov_hashagg_create(&c, &h)) != MGOV_OK)
        return o;
    if (sp->const_hash)
        mgov__hashagg_test_constant_hash(h);
    for (uint64_t i = 0; i < sp->rows && o.rc == MGOV_OK; i++) {
        mgov_value_t v[2] = { { .i64 = rows[i].vi }, { .f64 = rows[i].vf } };
        o.rc = mgov_hashagg_push(h, rows[i].key, rows[i].klen, v);
    }
    if (o.rc == MGOV_OK)
        o.rc = mgov_hashagg_finish(h);
    o.groups = calloc(sp->rows ? sp->rows : 1, sizeof *o.groups);
    mgov_hashagg_group_t g;
    int rc = 0;
    while (o.rc == MGOV_OK && (rc = mgov_hashagg_next(h, &g)) == 1) {
        if (o.n == sp->rows) { /* more groups than rows: wrong */
            o.rc = MGOV_ECORRUPT;
            break;
        }
        group_t *x = &o.groups[o.n++];
        assert_true(g.key_len <= KMAX);
        if (g.key_len)
            memcpy(x->key, g.key, g.key_len);
        else
            assert_null(g.key);
        x->klen = g.key_len;
        assert_int_equal(g.overflow, 0);
        x->count = g.values[0].i64;
        if (n_aggs > 1)
            x->sum_i = g.values[1].i64;
        if (n_aggs > 2) {
            x->sum_f = g.values[2].f64;
            x->min_i = g.values[3].i64;
            x->max_i = g.values[4].i64;
            x->min_f = g.values[5].f64;
            x->max_f = g.values[6].f64;
        }
        if (n_aggs > 7)
            x->sq = g.values[7].i64;
    }
    if (o.rc == MGOV_OK && rc < 0)
        o.rc = rc;
    if (o.rc != MGOV_OK) /* sticky */
        assert_int_equal(mgov_hashagg_next(h, &g), o.rc);
    mgov_hashagg_stats(h, &o.st);
    mgov_hashagg_destroy(h);
    qsort(o.groups, o.n, sizeof *o.groups, group_cmp);
    return o;
}

static void expect_equal(const outcome_t *o, const group_t *ref, size_t n, unsigned n_aggs)
{
    assert_int_equal(o->n, n);
    for (size_t i = 0; i < n; i++) {
        const group_t *a = &o->groups[i], *b = &ref[i];
        assert_int_equal(a->klen, b->klen);
        if (a->klen)
            assert_memory_equal(a->key, b->key, a->klen);
        assert_int_equal(a->count, b->count);
        if (n_aggs > 1)
            assert_true(a->sum_i == b->sum_i);
        if (n_aggs > 2) {
            assert_true(a->sum_f == b->sum_f);
            assert_int_equal(a->min_i, b->min_i);
            assert_int_equal(a->max_i, b->max_i);
            assert_true(a->min_f == b->min_f);
            assert_true(a->max_f == b->max_f);
        }
        if (n_aggs > 7)
            assert_int_equal(a->sq, b->sq);
    }
}

/* One case: the operator against the reference, and nothing left. */
static mgov_hashagg_stats_t check(const spec_t *sp, unsigned n_aggs)
{
    of_env_t e;
    of_open(&e, "hashagg", sp->budget, 0);
    row_t *rows = make_rows(sp);
    size_t n;
    group_t *ref = reference(rows, sp->rows, &n);
    outcome_t o = run(e.gov, sp, rows, n_aggs);
    if (o.rc != MGOV_OK)
        fail_msg("key_size %zu rows %llu budget %llu: %s", sp->key_size,
                 (unsigned long long)sp->rows, (unsigned long long)sp->budget,
                 mgov_strerror(o.rc));
    expect_equal(&o, ref, n, n_aggs);
    free(o.groups);
    free(ref);
    free(rows);
    of_close(&e);
    return o.st;
}

/* ------------------------------------------------------------------ cases */

static void test_key_widths_and_budgets(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const size_t widths[] = { 1, 3, 8, 16, 37, 0 };
    static const uint64_t budgets[] = { GH_MiB, 2 * GH_MiB, 4 * GH_MiB, 16 * GH_MiB, GH_GiB };
    unsigned spilled = 0;
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
        for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
            spec_t sp = { .key_size = widths[w], .rows = 80000,
                          .groups = widths[w] == 1 ? 256 : 40000, .budget = budgets[b],
                          .seed = w * 10 + b + 1 };
            mgov_hashagg_stats_t st = check(&sp, 8);
            if (budgets[b] == GH_GiB)
                assert_int_equal(st.spilled_raw, 0); /* it all fits: nothing written */
            spilled += st.files > 0;
        }
    assert_true(spilled >= 10); /* the small budgets spilled */
}

static void test_distributions(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    static const dist_t dists[] = { D_EQUAL, D_DISTINCT, D_ZIPF, D_HALF, D_UNIFORM };
    for (size_t d = 0; d < sizeof dists / sizeof *dists; d++)
        for (kplace_t pl = K_LOW; pl <= K_HIGH; pl++) {
            spec_t sp = { .key_size = 16, .rows = 100000, .groups = 40000, .dist = dists[d],
                          .place = pl, .budget = GH_MiB, .seed = d + 7 };
            check(&sp, 7);
            sp.key_size = 0;
            check(&sp, 1);
        }
}

/* Every key hashes alike: splitting never shrinks, the sort finishes it. */
static void test_constant_hash_fallback(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    spec_t sp = { .key_size = 8, .rows = 80000, .groups = 30000, .budget = GH_MiB,
                  .const_hash = true, .seed = 3 };
    mgov_hashagg_stats_t st = check(&sp, 8);
    assert_true(st.sort_fallbacks > 0);
    sp.key_size = 0;
    st = check(&sp, 8);
    assert_true(st.sort_fallbacks > 0);
    /* few groups with a constant hash still fit: no fallback needed */
    sp.groups = 100;
    st = check(&sp, 8);
    assert_int_equal(st.files, 0);
}

/* Deep recursion: groups far beyond the budget spread over levels. */
static void test_many_levels(void **state)
{
    (void)state;
    OF_SINGLE_THREADED_CASE();
    spec_t sp = { .key_size = 8, .rows = 400000, .groups = 300000, .budget = GH_MiB,
                  .seed = 5 };
    mgov_hashagg_stats_t st = check(&sp, 2);
    assert_true(st.levels >= 2);
    assert_int_equal(st.sort_fallbacks, 0);
}

static void test_empty_and_one(void **state)
{
    (void)state;
    spec_t sp = { .key_size = 8, .rows = 0, .groups = 1, .budget = GH_MiB };
    check(&sp, 8);
    sp.rows = 1;
    check(&sp, 8);
    sp.key_size = 0;
    sp.dist = D_EQUAL; /* the empty key */
    sp.rows = 3;
    check(&sp, 8);
}

/* mgov_hashagg_spill: partitions go to disk at once, their memory back,
 * until none is left in RAM; pushing goes on and every group comes out
 * whole. */
static void test_spill_on_demand(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "hashagg", 64 * GH_MiB, 0);
    mgov_hashagg_config_t c = config_of(e.gov, 8, 8);
    mgov_hashagg_t *h;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_OK);
    assert_int_equal(mgov_hashagg_spill(h), 0); /* nothing pushed yet */
    for (uint64_t i = 0; i < 40000; i++) {
        uint64_t k = i % 10000;
        mgov_value_t v[2] = { { .i64 = (int64_t)i }, { .f64 = 1 } };
        assert_int_equal(mgov_hashagg_push(h, &k, 8, v), MGOV_OK);
        if (i != 19999)
            continue;
        mgov_hashagg_stats_t before, after;
        assert_int_equal(mgov_hashagg_stats(h, &before), MGOV_OK);
        assert_int_equal(mgov_hashagg_spill(h), 1);
        assert_int_equal(mgov_hashagg_stats(h, &after), MGOV_OK);
        assert_true(after.memory < before.memory);
        assert_true(after.partitions_spilled > before.partitions_spilled);
        int rc, spills = 1;
        while ((rc = mgov_hashagg_spill(h)) == 1)
            spills++;
        assert_int_equal(rc, 0);
        assert_true(spills <= 64);
    }
    assert_int_equal(mgov_hashagg_finish(h), MGOV_OK);
    assert_int_equal(mgov_hashagg_spill(h), MGOV_EINVAL);
    uint64_t groups = 0, rows = 0;
    mgov_hashagg_group_t g;
    int rc;
    while ((rc = mgov_hashagg_next(h, &g)) == 1) {
        groups++;
        rows += (uint64_t)g.values[0].i64;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(groups, 10000);
    assert_int_equal(rows, 40000);
    mgov_hashagg_destroy(h);
    assert_int_equal(mgov_hashagg_spill(NULL), MGOV_EINVAL);
    of_close(&e);
}

static void test_overflow(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "hashagg", GH_MiB, 0);
    mgov_agg_spec_t aggs[] = { { MGOV_AGG_SUM_I64, 0, NULL }, { MGOV_AGG_COUNT, 0, NULL },
                               { MGOV_AGG_SUM_I64, 0, NULL } };
    mgov_hashagg_config_t c = MGOV_HASHAGG_CONFIG_INIT;
    c.gov = e.gov;
    c.key_size = 1;
    c.n_inputs = 1;
    c.aggs = aggs;
    c.n_aggs = 3;
    mgov_hashagg_t *h;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_OK);
    /* 'a': MAX + MAX overflows; 'b': MAX + 1 - 2 comes back (exact inside) */
    int64_t va[] = { INT64_MAX, INT64_MAX }, vb[] = { INT64_MAX, 1, -2 };
    for (int i = 0; i < 2; i++)
        assert_int_equal(mgov_hashagg_push(h, "a", 1, &(mgov_value_t){ .i64 = va[i] }), MGOV_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mgov_hashagg_push(h, "b", 1, &(mgov_value_t){ .i64 = vb[i] }), MGOV_OK);
    assert_int_equal(mgov_hashagg_push(h, "c", 1, &(mgov_value_t){ .i64 = INT64_MIN }), MGOV_OK);
    assert_int_equal(mgov_hashagg_push(h, "c", 1, &(mgov_value_t){ .i64 = -1 }), MGOV_OK);
    assert_int_equal(mgov_hashagg_finish(h), MGOV_OK);
    mgov_hashagg_group_t g;
    unsigned seen = 0;
    while (mgov_hashagg_next(h, &g) == 1) {
        char k = *(const char *)g.key;
        seen |= 1u << (k - 'a');
        if (k == 'a') {
            assert_int_equal(g.overflow, 0x5); /* both sums, not the count */
            assert_int_equal(g.values[0].i64, (int64_t)((uint64_t)INT64_MAX * 2));
        } else if (k == 'b') {
            assert_int_equal(g.overflow, 0);
            assert_int_equal(g.values[0].i64, INT64_MAX - 1);
            assert_int_equal(g.values[1].i64, 3);
        } else {
            assert_int_equal(g.overflow, 0x5); /* below INT64_MIN */
        }
    }
    assert_int_equal(seen, 7);
    mgov_hashagg_destroy(h);
    of_close(&e);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "hashagg", GH_MiB, 0);
    mgov_hashagg_t *h = (mgov_hashagg_t *)&h;
    mgov_hashagg_config_t c = config_of(e.gov, 8, 8);
    assert_int_equal(mgov_hashagg_create(NULL, &h), MGOV_EINVAL);
    assert_null(h);
    assert_int_equal(mgov_hashagg_create(&c, NULL), MGOV_EINVAL);
    c.gov = NULL;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_EINVAL);
    c = config_of(e.gov, 8, 8);
    c.n_inputs = 0; /* the aggregates read input 0 and 1 */
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_EINVAL);
    c = config_of(e.gov, 8, MGOV_HASHAGG_MAX_AGGS + 1);
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_EINVAL);
    mgov_agg_spec_t bad[] = { { (mgov_agg_kind_t)99, 0, NULL } };
    c = config_of(e.gov, 8, 1);
    c.aggs = bad;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_EINVAL);
    mgov_agg_udf_t u = sq_udf;
    u.merge = NULL;
    mgov_agg_spec_t user[] = { { MGOV_AGG_USER, 0, &u } };
    c.aggs = user;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_EINVAL);
    u = sq_udf;
    u.state_size = 0;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_EINVAL);
    user[0].udf = NULL;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_EINVAL);
    c = config_of(e.gov, 8, 8);
    c.region = "no_such_region";
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_ENOTFOUND);
    c = config_of(e.gov, 8, 8);
    c.spill.codec = (mgov_codec_t)9;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_EINVAL);

    c = config_of(e.gov, 8, 8);
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_OK);
    mgov_value_t v[2] = { { .i64 = 1 }, { .f64 = 1 } };
    mgov_hashagg_group_t g;
    assert_int_equal(mgov_hashagg_next(h, &g), MGOV_EINVAL); /* before finish */
    assert_int_equal(mgov_hashagg_push(h, "1234567", 7, v), MGOV_EINVAL); /* wrong width */
    assert_int_equal(mgov_hashagg_push(h, NULL, 8, v), MGOV_EINVAL);
    assert_int_equal(mgov_hashagg_push(h, "12345678", 8, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_hashagg_push(NULL, "12345678", 8, v), MGOV_EINVAL);
    assert_int_equal(mgov_hashagg_push(h, "12345678", 8, v), MGOV_OK); /* not failed by those */
    assert_int_equal(mgov_hashagg_finish(h), MGOV_OK);
    assert_int_equal(mgov_hashagg_finish(h), MGOV_EINVAL);
    assert_int_equal(mgov_hashagg_push(h, "12345678", 8, v), MGOV_EINVAL); /* after finish */
    assert_int_equal(mgov_hashagg_next(h, &g), 1);
    assert_int_equal(mgov_hashagg_next(h, &g), 0);
    assert_int_equal(mgov_hashagg_next(h, &g), 0); /* stays at the end */
    assert_int_equal(mgov_hashagg_next(h, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_hashagg_stats(NULL, NULL), MGOV_EINVAL);
    mgov_hashagg_destroy(h);
    mgov_hashagg_destroy(NULL);

    c = config_of(e.gov, 0, 8); /* variable keys: max_key bounds them */
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_OK);
    unsigned char big[KMAX + 1] = { 0 };
    assert_int_equal(mgov_hashagg_push(h, big, KMAX + 1, v), MGOV_EINVAL);
    assert_int_equal(mgov_hashagg_push(h, big, KMAX, v), MGOV_OK);
    assert_int_equal(mgov_hashagg_push(h, NULL, 0, v), MGOV_OK); /* the empty key */
    mgov_hashagg_destroy(h); /* before finish: nothing left */
    of_close(&e);
}

/* Pushes rows under a 1 MiB budget; returns the first error of the run. */
static int spill_run(mgov_t *gov, uint64_t rows, bool drain)
{
    mgov_hashagg_config_t c = config_of(gov, 8, 8);
    mgov_hashagg_t *h;
    int rc = mgov_hashagg_create(&c, &h);
    if (rc != MGOV_OK)
        return rc;
    uint64_t s = 99;
    for (uint64_t i = 0; i < rows && rc == MGOV_OK; i++) {
        uint64_t k = of_rng(&s) % (rows / 2);
        mgov_value_t v[2] = { { .i64 = (int64_t)i }, { .f64 = 1 } };
        rc = mgov_hashagg_push(h, &k, 8, v);
    }
    if (rc == MGOV_OK)
        rc = mgov_hashagg_finish(h);
    uint64_t count = 0;
    mgov_hashagg_group_t g;
    while (rc == MGOV_OK && drain) {
        int r = mgov_hashagg_next(h, &g);
        if (r == 1) {
            count += (uint64_t)g.values[0].i64;
            continue;
        }
        rc = r < 0 ? r : count == rows ? MGOV_OK : MGOV_ECORRUPT;
        break;
    }
    if (rc < 0) {
        mgov_hashagg_group_t g2;
        assert_int_equal(mgov_hashagg_next(h, &g2), rc); /* sticky */
    }
    mgov_hashagg_destroy(h);
    return rc;
}

/* spill_run of `rows` rows, drained (of_failures_t's run). */
static int drained_run(mgov_t *gov, uint64_t rows)
{
    return spill_run(gov, rows, true);
}

/* 150000 rows into 100000 groups, finished: spilled at 1 MiB. */
static void *damaged_start(mgov_t *gov)
{
    mgov_hashagg_config_t c = config_of(gov, 8, 8);
    mgov_hashagg_t *h;
    assert_int_equal(mgov_hashagg_create(&c, &h), MGOV_OK);
    uint64_t s = 5;
    for (uint64_t i = 0; i < 150000; i++) {
        uint64_t k = of_rng(&s) % 100000;
        mgov_value_t v[2] = { { .i64 = 1 }, { .f64 = 1 } };
        assert_int_equal(mgov_hashagg_push(h, &k, 8, v), MGOV_OK);
    }
    assert_int_equal(mgov_hashagg_finish(h), MGOV_OK);
    return h;
}

static int damaged_next(void *h)
{
    mgov_hashagg_group_t g;
    return mgov_hashagg_next(h, &g);
}

static void damaged_end(void *h)
{
    mgov_hashagg_destroy(h);
}

/* A quota hit, damaged spill files, every allocation, mapping and write
 * failing in turn (op_fixture.h): a clean error, or a right result, and
 * nothing left behind either way. */
static const of_failures_t failures = {
    .name = "hashagg", .run = drained_run, .quota_rows = 200000, .fault_rows = 60000,
    .dense = 40, .skip = 9, /* past the first calls, a coarse stride covers the rest */
    .damaged = { damaged_start, damaged_next, damaged_end }, .damaged_files = 1,
};

/* The governor asks for spills from another thread while rows arrive. */
static void test_spill_asked_from_another_thread(void **state)
{
    (void)state;
    spec_t sp = { .key_size = 8, .rows = 300000, .groups = 50000, .budget = 64 * GH_MiB,
                  .seed = 17 };
    of_env_t e;
    of_open(&e, "hashagg", sp.budget, 0);
    row_t *rows = make_rows(&sp);
    size_t n;
    group_t *ref = reference(rows, sp.rows, &n);
    op_asker_t a = { .gov = e.gov, .pause_ms = 1 };
    assert_int_equal(op_asker_start(&a), 0);
    outcome_t o = run(e.gov, &sp, rows, 8);
    op_asker_stop(&a);
    assert_int_equal(o.rc, MGOV_OK);
    expect_equal(&o, ref, n, 8);
    assert_true(o.st.spill_requests > 0);
    assert_true(o.st.partitions_spilled > 0);
    free(o.groups);
    free(ref);
    free(rows);
    of_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_key_widths_and_budgets),
        FH_TEST(test_distributions),
        FH_TEST(test_constant_hash_fallback),
        FH_TEST(test_many_levels),
        FH_TEST(test_empty_and_one),
        FH_TEST(test_spill_on_demand),
        FH_TEST(test_overflow),
        FH_TEST(test_bad_arguments),
        OF_FAILURE_TESTS(&failures),
        FH_TEST(test_spill_asked_from_another_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
