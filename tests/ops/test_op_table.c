/* test_op_table.c - the hash operators' shared tables (ops/op_table) and
 * partition arithmetic (ops/op_partition.h): slot arrays that keep every
 * reference through growth, arrays sized for chaining that read zero until
 * written, row stores within the operator's limit, a pass's partitions in
 * RAM, and how wide a pass over a spilled file is.
 *
 * Threading: main thread only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_helpers.h"
#include "gov_helpers.h"
#include "op_fixture.h"
#include "ops/op_partition.h"
#include "ops/op_table.h"

#define MiB ((uint64_t)1 << 20)

typedef struct fx {
    mgov_t *gov;
    mgov__op_t op;
} fx_t;

static void fx_open(fx_t *f, uint64_t budget)
{
    f->gov = gh_gov_new(budget, NULL);
    mgov__op_config_t cfg = { .gov = f->gov, .prefix = "optable" };
    assert_int_equal(mgov__op_init(&f->op, &cfg), MGOV_OK);
}

static void fx_close(fx_t *f)
{
    assert_int_equal(atomic_load(&f->op.charged), 0); /* every buffer given back */
    mgov__op_fini(&f->op);
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
}

/* The slots' re-insertion walk over an array of hashes (ref = index + 1). */
typedef struct hashes {
    const uint64_t *hv;
    uint64_t n;
} hashes_t;

static bool each_hash(void *ctx, uint64_t i, uint64_t *hv, uint64_t *ref)
{
    const hashes_t *h = ctx;
    if (i >= h->n)
        return false;
    *hv = h->hv[i];
    *ref = i + 1;
    return true;
}

static bool holds(const mgov__slots_t *s, uint64_t hv, uint64_t ref)
{
    uint64_t i = mgov__slots_first(s, hv), r;
    while ((r = mgov__slots_next(s, hv, &i)) != 0)
        if (r == ref)
            return true;
    return false;
}

static void test_slots_keep_every_reference(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f, 64 * MiB);
    enum { N = 50000 };
    uint64_t *hv = malloc(N * sizeof *hv);
    assert_non_null(hv);
    for (uint64_t i = 0; i < N; i++) /* every 7th hash repeats: equal keys' slots */
        hv[i] = i % 7 == 6 ? hv[i - 1] : of_mix(i);
    mgov__slots_t s;
    assert_int_equal(mgov__slots_init(&f.op, &s), MGOV_OK);
    hashes_t h = { hv, 0 };
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(mgov__slots_reserve(&f.op, &s, UINT64_MAX, each_hash, &h), MGOV_OK);
        mgov__slots_put(&s, hv[i], i + 1);
        h.n = i + 1;
        assert_true(s.used * 4 <= (s.mask + 1) * 3);
    }
    for (uint64_t i = 0; i < N; i++)
        assert_true(holds(&s, hv[i], i + 1));
    assert_false(holds(&s, of_mix(N + 1), 1));
    /* past the limit: refused, the array as it was */
    uint64_t mask = s.mask;
    while (s.used + 1 <= (s.mask + 1) / 4 * 3) {
        mgov__slots_put(&s, of_mix(h.n), h.n + 1);
        h.n++;
    }
    assert_int_equal(mgov__slots_reserve(&f.op, &s, atomic_load(&f.op.charged), each_hash, &h),
                     MGOV_ELIMIT);
    assert_int_equal(s.mask, mask);
    mgov__slots_free(&s);
    free(hv);
    fx_close(&f);
}

static void test_slots_sized_for_chains(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f, 64 * MiB);
    mgov__slots_t s;
    assert_int_equal(mgov__slots_init(&f.op, &s), MGOV_OK);
    assert_int_equal(mgov__slots_size(&f.op, &s, 1, UINT64_MAX), MGOV_OK);
    assert_int_equal(s.mask + 1, 512); /* the smallest array */
    uint64_t *a = (uint64_t *)(void *)s.buf.base;
    a[3] = 77;
    assert_int_equal(mgov__slots_size(&f.op, &s, 100000, UINT64_MAX), MGOV_OK);
    assert_int_equal(s.mask + 1, 131072);
    a = (uint64_t *)(void *)s.buf.base;
    assert_int_equal(a[3], 77); /* what was written is kept */
    for (uint64_t i = 4; i <= s.mask; i++)
        if (a[i] != 0)
            fail_msg("slot %llu reads %llu", (unsigned long long)i, (unsigned long long)a[i]);
    assert_int_equal(atomic_load(&f.op.charged), (s.mask + 1) * 8);
    /* fewer: nothing to do; past the limit: refused */
    assert_int_equal(mgov__slots_size(&f.op, &s, 5, UINT64_MAX), MGOV_OK);
    assert_int_equal(mgov__slots_size(&f.op, &s, 300000, 2 * MiB), MGOV_ELIMIT);
    assert_int_equal(s.mask + 1, 131072);
    mgov__slots_free(&s);
    fx_close(&f);
}

static void test_rows_within_limit(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f, 64 * MiB);
    mgov__op_pass_t ps = { .bits_max = 4, .sides = 1 };
    assert_int_equal(mgov__op_pass_begin(&f.op, &ps, 0, UINT64_MAX, 4), MGOV_OK);
    assert_int_equal(ps.n, 16);
    assert_int_equal(mgov__op_pass_largest(&ps), -1); /* none holds a row */
    mgov__ptab_t *pt = &ps.parts[3];
    unsigned char *base = NULL;
    for (size_t need = 100; need < 20 * MiB; need *= 3) {
        assert_int_equal(mgov__ptab_rows_reserve(&f.op, pt, need, 32 * MiB), MGOV_OK);
        assert_true(pt->rows.cap >= need);
        if (!base)
            base = pt->rows.base;
        assert_ptr_equal(pt->rows.base, base); /* rows grow in place: references hold */
        pt->used = need;
        pt->nrows = need / 16;
    }
    size_t cap = pt->rows.cap;
    assert_int_equal(mgov__ptab_rows_reserve(&f.op, pt, 40 * MiB, 32 * MiB), MGOV_ELIMIT);
    assert_int_equal(pt->rows.cap, cap);
    assert_int_equal(mgov__op_pass_largest(&ps), 3);
    assert_int_equal(mgov__ptab_bytes(pt), cap);
    mgov__op_pass_free(&ps);
    assert_null(ps.parts);
    assert_false(ps.active);
    /* a pass one partition wide */
    assert_int_equal(mgov__op_pass_begin(&f.op, &ps, 1, 1000, 0), MGOV_OK);
    assert_int_equal(ps.n, 1);
    assert_int_equal(ps.deepest, 1);
    mgov__op_pass_free(&ps);
    fx_close(&f);
}

static void test_pass_width_and_stuck(void **state)
{
    (void)state;
    mgov__op_pass_t ps = { .bits_max = 4, .bits = 4, .in_bytes = 1000 };
    mgov__part_file_t first = { .bytes = 600, .parent_bytes = UINT64_MAX };
    mgov__part_file_t split = { .bytes = 100, .parent_bytes = 1000 };
    mgov__part_file_t same = { .bytes = 950, .parent_bytes = 1000 };
    assert_int_equal(mgov__op_pass_width(&ps, &first, 700, 800), 0); /* fits: one table */
    assert_int_equal(mgov__op_pass_width(&ps, &split, 300, 800), 0);
    assert_int_equal(mgov__op_pass_width(&ps, &first, 900, 800), 4); /* does not fit */
    assert_int_equal(mgov__op_pass_width(&ps, &same, 100, 800), 4);  /* did not shrink */
    /* a split pass whose file did not shrink is stuck; a one-way pass's is not */
    assert_true(mgov__op_pass_stuck(&ps, 950));
    assert_false(mgov__op_pass_stuck(&ps, 800));
    ps.bits = 0;
    assert_false(mgov__op_pass_stuck(&ps, 950));
    ps.bits = 4;
    ps.in_bytes = UINT64_MAX; /* the pushed input: never stuck */
    assert_false(mgov__op_pass_stuck(&ps, UINT64_MAX - 1));
}

static void test_partition_bits(void **state)
{
    (void)state;
    uint64_t h = 0xfedcba9876543210ull;
    assert_int_equal(mgov__part_of(h, 0), 0);
    assert_int_equal(mgov__part_of(h, 4), 0xf);
    assert_int_equal(mgov__part_of(h, 1), 1);
    assert_int_equal(mgov__part_tag(h), 0xba98);
    /* levels hash apart; the same level agrees with itself */
    uint64_t k = 12345;
    assert_int_equal(mgov__part_hash(&k, 8, 1, false), mgov__part_hash(&k, 8, 1, false));
    assert_int_not_equal(mgov__part_hash(&k, 8, 0, false), mgov__part_hash(&k, 8, 1, false));
    assert_int_equal(mgov__part_hash(&k, 8, 3, true), mgov__part_hash("x", 1, 0, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_slots_keep_every_reference),
        FH_TEST(test_slots_sized_for_chains),
        FH_TEST(test_rows_within_limit),
        FH_TEST(test_pass_width_and_stuck),
        FH_TEST(test_partition_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
