/* test_rebalance.c - the rebalancer (MGOV_REBALANCE, src/governor/
 * rebalance.c): an idle region's room flows to a busy one whose request
 * waits at its limit, and flows back when the lender needs it (the
 * borrower's consumers are asked to give the excess back); a lender's
 * reservation is never lent; mgov_region_set settles loans; every move is
 * an event.  The rebalancer ticks every 10 ms here, and a lender must be
 * idle for 10 ticks, so the waits below poll with deadlines.
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

#include "gov_helpers.h"
#include "memgov.h"

#define MiB GH_MiB
#define MS 1000000ll

enum { R_BUSY, R_IDLE, R_FREE, R_SPILL };

static mgov_t *make(gh_evlog_t *log, uint64_t idle_reserved)
{
    mgov_region_config_t regions[4] = { { "busy", 0, 16 * MiB },
                                        { "idle", idle_reserved, 64 * MiB },
                                        { "free", 0, 0 },
                                        { "spill_staging", 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 256 * MiB;
    cfg.regions = regions;
    cfg.n_regions = 4;
    cfg.flags = MGOV_REBALANCE;
    cfg.rebalance_interval_ms = 10;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = log;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    return gov;
}

static uint64_t limit_of(mgov_t *gov, int region)
{
    uint64_t lim = 0;
    assert_int_equal(mgov_region_get(gov, region, NULL, &lim), MGOV_OK);
    return lim;
}

typedef struct req {
    mgov_t *gov;
    int region;
    uint64_t bytes;
    int64_t timeout_ns;
    int rc;
    mgov_grant_t g;
} req_t;

static void *blocking(void *arg)
{
    req_t *r = arg;
    r->rc = mgov_reserve(r->gov, r->region, r->bytes, 0, r->timeout_ns, &r->g);
    return NULL;
}

static bool wait_until_limit(mgov_t *gov, int region, uint64_t want, unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        if (limit_of(gov, region) == want)
            return true;
        gh_sleep_ms(1);
    }
    return false;
}

static void test_room_flows_and_comes_back(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = make(log, 0);
    /* the busy region holds 12 of its 16 MiB in a consumer that can give
     * memory back, and asks for 8 MiB more: it waits at its limit */
    gh_mock_t m;
    gh_mock_init(&m, gov, "busy-cache", R_BUSY, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 12 * MiB, 0);
    atomic_store(&m.evict_max, 0); /* it will not evict while the test waits */
    atomic_store(&m.spill_max, 0);
    assert_int_equal(gh_mock_register(&m, 50, 0), MGOV_OK);
    req_t r = { gov, R_BUSY, 8 * MiB, 5000 * MS, -100, MGOV_GRANT_INIT };
    pthread_t t;
    pthread_create(&t, NULL, blocking, &r);
    pthread_join(t, NULL);
    /* the idle region lent it room: min(half its spare above its floor
     * (64 - 16) / 2, half the borrower's own limit) = 8 MiB */
    assert_int_equal(r.rc, MGOV_OK);
    assert_int_equal(limit_of(gov, R_BUSY), 24 * MiB);
    assert_int_equal(limit_of(gov, R_IDLE), 56 * MiB);
    gh_event_t ev;
    assert_true(gh_evlog_nth(log, MGOV_EV_REBALANCE, 0, &ev));
    assert_string_equal(ev.region_name, "busy");
    assert_string_equal(ev.name, "idle");
    assert_int_equal(ev.ev.bytes, 8 * MiB);
    assert_int_equal(ev.ev.count, 1);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_true(s.rebalance_moves >= 1);

    /* the lender needs its room back: it uses 75% of what it has left */
    atomic_store(&m.evict_max, UINT64_MAX);
    mgov_grant_t gi = gh_take(gov, R_IDLE, 44 * MiB, 0);
    assert_true(wait_until_limit(gov, R_IDLE, 64 * MiB, 3000));
    assert_int_equal(limit_of(gov, R_BUSY), 16 * MiB);
    assert_true(gh_evlog_nth(log, MGOV_EV_REBALANCE, 1, &ev));
    assert_string_equal(ev.region_name, "busy");
    assert_int_equal(ev.ev.count, 0);
    assert_int_equal(ev.ev.bytes, 8 * MiB);
    /* the borrower held 20 MiB over a 16 MiB limit: its consumer was asked
     * for the excess (4 MiB), right after the limit came back */
    for (int i = 0; i < 3000 && gh_region_used(gov, R_BUSY) > 16 * MiB; i++)
        gh_sleep_ms(1);
    assert_int_equal(gh_region_used(gov, R_BUSY), 16 * MiB);
    assert_int_equal(gh_mock_held(&m), 8 * MiB);
    mgov_grant_t gx;
    assert_int_equal(mgov_try_reserve(gov, R_BUSY, 1, MGOV_NO_RECLAIM, &gx), MGOV_EBUDGET);
    /* and the idle region can use all of its own limit again */
    mgov_grant_t gi2 = gh_take(gov, R_IDLE, 20 * MiB, 0);
    mgov_grant_release(&gi2);
    mgov_grant_release(&gi);
    mgov_grant_release(&r.g);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_guarantee_never_lent(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    /* the idle region's reservation is 60 of its 64 MiB: its floor is 60,
     * so at most (64 - 60) / 2 = 2 MiB can be lent */
    mgov_t *gov = make(log, 60 * MiB);
    mgov_grant_t g = gh_take(gov, R_BUSY, 16 * MiB, 0);
    req_t r = { gov, R_BUSY, 4 * MiB, 600 * MS, -100, MGOV_GRANT_INIT };
    pthread_t t;
    pthread_create(&t, NULL, blocking, &r);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, MGOV_ETIMEDOUT);
    assert_true(limit_of(gov, R_IDLE) >= 60 * MiB);
    /* the loan it could make was at most 2 MiB */
    gh_event_t ev;
    for (size_t i = 0; gh_evlog_nth(log, MGOV_EV_REBALANCE, i, &ev); i++)
        assert_true(ev.ev.bytes <= 2 * MiB);
    /* the idle region still gets all of its reservation */
    mgov_grant_t gi = gh_take(gov, R_IDLE, 60 * MiB, 0);
    mgov_grant_release(&gi);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_region_set_settles_loans(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = make(log, 0);
    mgov_grant_t g = gh_take(gov, R_BUSY, 12 * MiB, 0);
    req_t r = { gov, R_BUSY, 8 * MiB, 5000 * MS, -100, MGOV_GRANT_INIT };
    pthread_t t;
    pthread_create(&t, NULL, blocking, &r);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, MGOV_OK);
    assert_int_equal(limit_of(gov, R_IDLE), 56 * MiB);
    /* the lender's own limit is set: its loan is settled first */
    assert_int_equal(mgov_region_set(gov, R_IDLE, 0, 32 * MiB), MGOV_OK);
    assert_int_equal(limit_of(gov, R_IDLE), 32 * MiB);
    assert_int_equal(limit_of(gov, R_BUSY), 16 * MiB);
    mgov_grant_release(&r.g);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_room_flows_and_comes_back),
        cmocka_unit_test(test_guarantee_never_lent),
        cmocka_unit_test(test_region_set_settles_loans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
