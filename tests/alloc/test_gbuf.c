/* test_gbuf.c - grant-backed buffers (alloc/gbuf): the grant follows cap
 * byte for byte through grow, grow_from, shrink, move and free, in both
 * kinds; a fixed buffer grows in place and its huge pages never reach past
 * cap; a refused or failed grow changes nothing.
 *
 * Threading: main thread only.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc/gbuf.h"
#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov/governor.h"
#include "sys/fault.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static size_t page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Pages of [p, p + len) resident now (mincore); -1 if any is unmapped. */
static long resident(const void *p, size_t len)
{
    size_t n = (len + page() - 1) / page();
    unsigned char *vec = malloc(n);
    assert_non_null(vec);
    long r = -1;
    if (mincore((void *)p, n * page(), vec) == 0) {
        r = 0;
        for (size_t i = 0; i < n; i++)
            r += vec[i] & 1;
    }
    free(vec);
    return r;
}

static void test_movable_follows_grant(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    _Atomic uint64_t pub = 0;
    mgov__gbuf_t g;
    assert_int_equal(mgov__gbuf_init(&g, gov, 0, MGOV_REVOCABLE, 0, &pub), MGOV_OK);
    assert_null(g.base);
    assert_int_equal(mgov__gbuf_grow(&g, 1, 0, 0, 0), MGOV_OK);
    assert_int_equal(g.cap, page());
    assert_int_equal(gh_region_used(gov, 0), page());
    assert_int_equal(atomic_load(&pub), page());
    memset(g.base, 0x5a, g.cap);
    /* want above need: taken when free, the bytes kept across the move */
    assert_int_equal(mgov__gbuf_grow(&g, 10 * KiB, 6 * MiB, 0, MGOV__GBUF_POPULATE), MGOV_OK);
    assert_int_equal(g.cap, 6 * MiB);
    assert_int_equal(g.base[page() - 1], 0x5a);
    assert_int_equal(gh_region_used(gov, 0), 6 * MiB);
    assert_int_equal(resident(g.base, g.cap), (long)(g.cap / page()));
    mgov__gbuf_shrink(&g, 5000);
    assert_int_equal(g.cap, 2 * page());
    assert_int_equal(gh_region_used(gov, 0), 2 * page());
    assert_int_equal(atomic_load(&pub), 2 * page());
    mgov__gbuf_t to;
    mgov__gbuf_move(&to, &g);
    assert_int_equal(g.cap, 0);
    mgov__gbuf_free(&g); /* moved from: nothing to give */
    assert_int_equal(gh_region_used(gov, 0), 2 * page());
    mgov__gbuf_free(&to);
    assert_int_equal(gh_region_used(gov, 0), 0);
    assert_int_equal(atomic_load(&pub), 0);
    mgov__gbuf_free(NULL);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_fixed_grows_in_place(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(256 * MiB, NULL);
    mgov__gbuf_t g;
    assert_int_equal(mgov__gbuf_init(&g, gov, 0, 0, 64 * MiB, NULL), MGOV_OK);
    assert_int_equal((uintptr_t)g.base % (2 * MiB), 0); /* its 2 MiB runs can be huge */
    unsigned char *base = g.base;
    size_t caps[] = { 100 * KiB, 3 * MiB, 5 * MiB + 3 * KiB, 9 * MiB, 40 * MiB };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        assert_int_equal(mgov__gbuf_grow(&g, caps[i], 0, 0, 0), MGOV_OK);
        assert_ptr_equal(g.base, base);
        memset(g.base, (int)i + 1, g.cap); /* every byte in use */
        /* nothing resident past cap, whatever pages the kernel chose */
        assert_int_equal(resident(g.base + g.cap, 64 * MiB - g.cap), 0);
        assert_int_equal(gh_region_used(gov, 0), g.cap);
    }
    /* past its reservation: refused, nothing changed */
    assert_int_equal(mgov__gbuf_grow(&g, 65 * MiB, 0, 0, 0), MGOV_ELIMIT);
    assert_int_equal(g.cap, 40 * MiB);
    /* shrunk to a cap inside a huge run: that run's pages past it go */
    mgov__gbuf_shrink(&g, 3 * MiB + 5 * KiB);
    assert_int_equal(g.cap, 3 * MiB + 8 * KiB);
    assert_int_equal(resident(g.base + g.cap, 64 * MiB - g.cap), 0);
    assert_int_equal(gh_region_used(gov, 0), g.cap);
    assert_int_equal(g.base[0], 5); /* kept bytes kept */
    /* grown again: the advice taken back does not hand out a huge page
     * past the new cap */
    assert_int_equal(mgov__gbuf_grow(&g, 3 * MiB + 900 * KiB, 0, 0, 0), MGOV_OK);
    memset(g.base, 7, g.cap);
    assert_int_equal(resident(g.base + g.cap, 64 * MiB - g.cap), 0);
    mgov__gbuf_free(&g);
    assert_int_equal(gh_region_used(gov, 0), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_refusals_change_nothing(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(8 * MiB, NULL);
    for (size_t max = 0; max <= 16 * MiB; max += 16 * MiB) {
        mgov__gbuf_t g;
        assert_int_equal(mgov__gbuf_init(&g, gov, 0, 0, max, NULL), MGOV_OK);
        assert_int_equal(mgov__gbuf_grow(&g, MiB, 0, 0, 0), MGOV_OK);
        g.base[0] = 42;
        /* over the budget (or the region's limit): the governor's refusal */
        int over = mgov__gbuf_grow(&g, 9 * MiB, 0, 0, MGOV_NO_RECLAIM);
        assert_true(over == MGOV_EBUDGET || over == MGOV_ELIMIT);
        assert_int_equal(g.cap, MiB);
        assert_int_equal(gh_region_used(gov, 0), MiB);
        /* a mapping that fails: the grant it took goes back */
        mgov__fault_arm_errno(MGOV_FAULT_MMAP, 0, 1, ENOMEM);
        int rc = mgov__gbuf_grow(&g, 2 * MiB, 0, 0, 0);
        mgov__fault_disarm_all();
        if (max == 0) { /* fixed buffers map nothing to grow */
            assert_int_equal(rc, MGOV_ENOMEM);
            assert_int_equal(g.cap, MiB);
            assert_int_equal(gh_region_used(gov, 0), MiB);
        }
        assert_int_equal(g.base[0], 42);
        mgov__gbuf_free(&g);
        assert_int_equal(gh_region_used(gov, 0), 0);
    }
    /* no address space for a reservation */
    mgov__gbuf_t g;
    mgov__fault_arm_errno(MGOV_FAULT_MMAP, 0, 1, ENOMEM);
    assert_int_equal(mgov__gbuf_init(&g, gov, 0, 0, 4 * MiB, NULL), MGOV_ENOMEM);
    mgov__fault_disarm_all();
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_grow_from_a_grant(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(16 * MiB, NULL);
    mgov_grant_t src = gh_take(gov, 0, 3 * MiB, 0);
    mgov__gbuf_t a, b;
    assert_int_equal(mgov__gbuf_init(&a, gov, 0, 0, 0, NULL), MGOV_OK);
    assert_int_equal(mgov__gbuf_init(&b, gov, 0, 0, 8 * MiB, NULL), MGOV_OK);
    assert_int_equal(mgov__gbuf_grow_from(&a, 2 * MiB, &src), MGOV_OK);
    assert_int_equal(src.bytes, MiB);
    assert_int_equal(mgov__gbuf_grow_from(&b, 2 * MiB, &src), MGOV_EINVAL); /* too small */
    assert_int_equal(mgov__gbuf_grow_from(&b, MiB, &src), MGOV_OK);
    assert_int_equal(src.bytes, 0);
    assert_int_equal(gh_region_used(gov, 0), 3 * MiB); /* moved, not added */
    mgov_grant_t other = gh_take(gov, 1, page(), 0);
    assert_int_equal(mgov__gbuf_grow_from(&b, 2 * MiB, &other), MGOV_EINVAL); /* region */
    mgov_grant_release(&other);
    mgov_grant_release(&src);
    mgov__gbuf_free(&a);
    mgov__gbuf_free(&b);
    assert_int_equal(gh_region_used(gov, 0), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_movable_follows_grant),
        FH_TEST(test_fixed_grows_in_place),
        FH_TEST(test_refusals_change_nothing),
        FH_TEST(test_grow_from_a_grant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
