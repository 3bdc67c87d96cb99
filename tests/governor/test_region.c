/* test_region.c - region settings changed at run time (src/governor/
 * region.c): limits raised and lowered, a shrink below what a region
 * holds (reclaim from its consumers, nothing else blocked), waiters woken
 * or failed by a change, reservations changed (others cannot take them,
 * the committed counter stays exact), the errors, and the events.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "governor/internal.h"
#include "gov_helpers.h"
#include "memgov.h"

#define MiB GH_MiB
#define MS 1000000ll

enum { R_A, R_B, R_SPILL };

static mgov_t *make(uint64_t budget, gh_evlog_t *log, unsigned flags, uint64_t a_res,
                    uint64_t a_limit)
{
    mgov_region_config_t regions[3] = {
        { "a", a_res, a_limit }, { "b", 0, 0 }, { "spill_staging", 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = budget;
    cfg.regions = regions;
    cfg.n_regions = 3;
    cfg.flags = flags;
    cfg.on_event = log ? gh_evlog_cb : NULL;
    cfg.event_ctx = log;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    return gov;
}

/* committed == sum over regions of max(used, reserved), at quiescence */
static void assert_committed_exact(mgov_t *gov)
{
    if (!gov->has_reservations)
        return;
    uint64_t sum = 0;
    for (unsigned i = 0; i < gov->n_regions; i++) {
        uint64_t u = mgov__region_used(gov, (int)i), r = mgov__reserved_now(gov, (int)i);
        sum += u > r ? u : r;
    }
    assert_int_equal(atomic_load(&gov->committed), sum);
    assert_int_equal(atomic_load(&gov->total_reserved),
                     mgov__reserved_now(gov, 0) + mgov__reserved_now(gov, 1) +
                         mgov__reserved_now(gov, 2));
}

static void test_limit_raise_and_lower(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = make(100 * MiB, log, 0, 0, 0);
    uint64_t res = 1, lim = 1;
    assert_int_equal(mgov_region_get(gov, R_A, &res, &lim), MGOV_OK);
    assert_int_equal(res, 0);
    assert_int_equal(lim, 0);

    assert_int_equal(mgov_region_set(gov, R_A, 0, 10 * MiB), MGOV_OK);
    assert_int_equal(mgov_region_get(gov, R_A, NULL, &lim), MGOV_OK);
    assert_int_equal(lim, 10 * MiB);
    gh_event_t ev;
    assert_true(gh_evlog_nth(log, MGOV_EV_REGION, 0, &ev));
    assert_int_equal(ev.ev.bytes, 10 * MiB);
    assert_string_equal(ev.region_name, "a");

    mgov_grant_t g1 = gh_take(gov, R_A, 8 * MiB, 0), g2;
    assert_int_equal(mgov_try_reserve(gov, R_A, 4 * MiB, MGOV_NO_RECLAIM, &g2), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, R_A, 11 * MiB, 0, &g2), MGOV_ELIMIT);
    /* other regions are not affected */
    mgov_grant_t gb = gh_take(gov, R_B, 20 * MiB, 0);

    assert_int_equal(mgov_region_set(gov, R_A, 0, 20 * MiB), MGOV_OK);
    g2 = gh_take(gov, R_A, 4 * MiB, 0);
    /* lower below what it holds (12 MiB): nothing admitted until under */
    assert_int_equal(mgov_region_set(gov, R_A, 0, 6 * MiB), MGOV_OK);
    mgov_grant_t g3;
    assert_int_equal(mgov_try_reserve(gov, R_A, 1, MGOV_NO_RECLAIM, &g3), MGOV_EBUDGET);
    mgov_grant_t gb2 = gh_take(gov, R_B, 1 * MiB, 0); /* b goes on */
    mgov_grant_release(&g1);                          /* 4 MiB left */
    g3 = gh_take(gov, R_A, 2 * MiB, 0);
    assert_int_equal(mgov_try_reserve(gov, R_A, 1, MGOV_NO_RECLAIM, &g1), MGOV_EBUDGET);
    /* no limit again */
    assert_int_equal(mgov_region_set(gov, R_A, 0, 0), MGOV_OK);
    g1 = gh_take(gov, R_A, 30 * MiB, 0);
    assert_int_equal(gh_region_used(gov, R_A), 36 * MiB);
    mgov_grant_release(&g1);
    mgov_grant_release(&g2);
    mgov_grant_release(&g3);
    mgov_grant_release(&gb);
    mgov_grant_release(&gb2);
    assert_int_equal(mgov_used(gov), 0);
    /* many changes: generations are reused, the counts stay right */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mgov_region_set(gov, R_A, 0, (uint64_t)(i % 7 + 1) * MiB), MGOV_OK);
        mgov_grant_t g = gh_take(gov, R_A, (uint64_t)(i % 7 + 1) * MiB, 0);
        assert_int_equal(mgov_try_reserve(gov, R_A, 1, MGOV_NO_RECLAIM, &g1), MGOV_EBUDGET);
        mgov_grant_release(&g);
    }
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.regions[R_A].limit, (99 % 7 + 1) * MiB);
    assert_int_equal(s.regions[R_A].live_grants, 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_shrink_reclaims_from_region(void **state)
{
    (void)state;
    mgov_t *gov = make(100 * MiB, NULL, 0, 0, 0);
    gh_mock_t ma, mb;
    gh_mock_init(&ma, gov, "in-a", R_A, GH_HAS_ALL, NULL);
    gh_mock_init(&mb, gov, "in-b", R_B, GH_HAS_ALL, NULL);
    gh_mock_hold(&ma, 30 * MiB, 0);
    gh_mock_hold(&mb, 30 * MiB, 0);
    assert_int_equal(gh_mock_register(&ma, 50, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&mb, 10, 0), MGOV_OK); /* reclaimed first, if asked */
    assert_int_equal(mgov_region_set(gov, R_A, 0, 10 * MiB), MGOV_OK);
    /* the pass ran on a's consumers only */
    assert_true(gh_mock_held(&ma) <= 10 * MiB);
    assert_int_equal(gh_mock_held(&mb), 30 * MiB);
    assert_true(atomic_load(&ma.n_evict) >= 1);
    assert_int_equal(atomic_load(&mb.n_evict), 0);
    gh_mock_fini(&ma);
    gh_mock_fini(&mb);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

typedef struct req {
    mgov_t *gov;
    int region;
    uint64_t bytes;
    int rc;
    mgov_grant_t g;
} req_t;

static void *blocking(void *arg)
{
    req_t *r = arg;
    r->rc = mgov_reserve(r->gov, r->region, r->bytes, MGOV_NO_RECLAIM, 5000 * MS, &r->g);
    return NULL;
}

static void test_waiters(void **state)
{
    (void)state;
    mgov_t *gov = make(100 * MiB, NULL, 0, 0, 10 * MiB);
    mgov_grant_t g = gh_take(gov, R_A, 8 * MiB, 0);
    /* raising the limit wakes a waiter */
    req_t r = { gov, R_A, 4 * MiB, -100, MGOV_GRANT_INIT };
    pthread_t t;
    pthread_create(&t, NULL, blocking, &r);
    gh_wait_waiters(gov, 1);
    assert_int_equal(mgov_region_set(gov, R_A, 0, 12 * MiB), MGOV_OK);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, MGOV_OK);
    mgov_grant_release(&r.g);
    /* lowering it below a waiter's request fails the waiter at once */
    req_t r2 = { gov, R_A, 9 * MiB, -100, MGOV_GRANT_INIT };
    pthread_create(&t, NULL, blocking, &r2);
    gh_wait_waiters(gov, 1);
    uint64_t t0 = gh_now_ns();
    assert_int_equal(mgov_region_set(gov, R_A, 0, 8 * MiB), MGOV_OK);
    pthread_join(t, NULL);
    assert_int_equal(r2.rc, MGOV_ELIMIT);
    assert_true(gh_now_ns() - t0 < 2000 * MS);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_reservations(void **state)
{
    (void)state;
    /* without tracking, reservations cannot be added */
    mgov_t *plain = make(100 * MiB, NULL, 0, 0, 0);
    assert_int_equal(mgov_region_set(plain, R_A, 10 * MiB, 0), MGOV_ENOTSUP);
    assert_int_equal(mgov_region_set(plain, R_A, 0, 20 * MiB), MGOV_OK);
    assert_int_equal(mgov_destroy(plain), MGOV_OK);

    mgov_t *gov = make(100 * MiB, NULL, MGOV_RESERVATIONS, 0, 0);
    assert_committed_exact(gov);
    mgov_grant_t ga = gh_take(gov, R_A, 10 * MiB, 0);
    assert_int_equal(mgov_region_set(gov, R_A, 60 * MiB, 0), MGOV_OK);
    assert_committed_exact(gov);
    /* b may not take a's free reservation (50 MiB): 95 - 60 = 35 left */
    mgov_grant_t gb, gx;
    assert_int_equal(mgov_try_reserve(gov, R_B, 40 * MiB, MGOV_NO_RECLAIM, &gb), MGOV_EBUDGET);
    gb = gh_take(gov, R_B, 30 * MiB, 0);
    /* revocably it may */
    gx = gh_take(gov, R_B, 20 * MiB, MGOV_REVOCABLE);
    mgov_grant_release(&gx);
    /* a's own requests use its reservation */
    mgov_grant_t ga2 = gh_take(gov, R_A, 40 * MiB, 0);
    assert_committed_exact(gov);
    /* lower the reservation below what a holds */
    assert_int_equal(mgov_region_set(gov, R_A, 5 * MiB, 0), MGOV_OK);
    assert_committed_exact(gov);
    mgov_grant_release(&ga);
    mgov_grant_release(&ga2);
    assert_committed_exact(gov);
    /* b can grow into what a gave up */
    gx = gh_take(gov, R_B, 50 * MiB, 0);
    mgov_grant_release(&gx);
    mgov_grant_release(&gb);
    assert_committed_exact(gov);

    /* errors */
    assert_int_equal(mgov_region_set(gov, R_A, 20 * MiB, 10 * MiB), MGOV_EINVAL);
    assert_int_equal(mgov_region_set(gov, R_A, 101 * MiB, 0), MGOV_EINVAL);
    assert_int_equal(mgov_region_set(gov, R_B, 50 * MiB, 0), MGOV_OK);
    assert_int_equal(mgov_region_set(gov, R_A, 60 * MiB, 0), MGOV_EINVAL); /* 110 > 100 */
    assert_int_equal(mgov_set_budget(gov, 50 * MiB), MGOV_EINVAL);        /* < 55 reserved */
    assert_int_equal(mgov_set_budget(gov, 60 * MiB), MGOV_OK);
    assert_int_equal(mgov_region_set(NULL, R_A, 0, 0), MGOV_EINVAL);
    assert_int_equal(mgov_region_set(gov, 7, 0, 0), MGOV_EINVAL);
    assert_int_equal(mgov_region_set(gov, -1, 0, 0), MGOV_EINVAL);
    assert_int_equal(mgov_region_get(gov, 7, NULL, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_region_get(NULL, 0, NULL, NULL), MGOV_EINVAL);
    assert_committed_exact(gov);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_raise_and_lower),
        cmocka_unit_test(test_shrink_reclaims_from_region),
        cmocka_unit_test(test_waiters),
        cmocka_unit_test(test_reservations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
