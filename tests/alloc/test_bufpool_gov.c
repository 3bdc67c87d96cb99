/* test_bufpool_gov.c - the buffer pool under a governor
 * (src/alloc/bufpool_gov.c): a grant per span in the pool's region, the
 * consumer the pool registers (name, region, priority), the governor's
 * refusals (never fits, not now, woken by another holder's release),
 * reclaim evicting cached spans and the debt paid on release, out-of-memory
 * at each allocation a new span makes, destroy while a request waits in
 * the governor, and generated consumer names.
 *
 * Every test ends with the pool's invariant check, usage back to zero and a
 * clean mgov_destroy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bufpool_helpers.h"
#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov.h"
#include "sys/fault.h"
#include "sys/sys.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define PG 4096 /* the tests' buffer size */

typedef struct {
    int found;
    int region;
    unsigned priority;
} consumer_seen_t;

static void see_consumer(void *arg, const char *name, int region, unsigned priority,
                         mgov_tier_t tier)
{
    (void)tier;
    consumer_seen_t *c = arg;
    if (strncmp(name, "bufpool-", 8) == 0 || strcmp(name, "io") == 0) {
        c->found++;
        c->region = region;
        c->priority = priority;
    }
}

/* Every span carries a grant in the pool's region; cached spans keep it;
 * destroy gives them all back. */
static void test_gov_grants_per_span(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_bufpool_t *p = bh_pool_new(PG, 0, gov); /* no cap of its own */
    const char *name = mgov_bufpool_name(p);
    assert_non_null(name);
    assert_int_equal(strncmp(name, "bufpool-", 8), 0);
    consumer_seen_t seen = { 0 };
    assert_int_equal(mgov_consumer_foreach(gov, see_consumer, &seen), MGOV_OK);
    assert_int_equal(seen.found, 1);
    assert_int_equal(seen.region, MGOV_REGION_EXECUTION_BUFFERS);
    assert_int_equal(seen.priority, MGOV_PRIORITY_QUERY_CACHE);

    mgov_bufs_t *a = bh_take(p, 4), *b = bh_take(p, 1);
    assert_int_equal(gh_region_used(gov, MGOV_REGION_EXECUTION_BUFFERS), 5 * PG);
    assert_int_equal(mgov_used(gov), 5 * PG);
    mgov_bufs_release(a);
    assert_int_equal(mgov_used(gov), 5 * PG); /* cached: still held */
    assert_int_equal(bh_stats(p).bytes_held, 5 * PG);
    mgov_bufs_release(b);
    bh_check(p);
    bh_destroy(p);
    assert_int_equal(mgov_used(gov), 0);

    /* a named region, a name, a priority */
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.buffer_size = PG;
    cfg.gov = gov;
    cfg.region = "index_buffers";
    cfg.name = "io";
    cfg.priority = MGOV_PRIORITY_INDEX_BUFFERS;
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_OK);
    assert_string_equal(mgov_bufpool_name(p), "io");
    memset(&seen, 0, sizeof seen);
    assert_int_equal(mgov_consumer_foreach(gov, see_consumer, &seen), MGOV_OK);
    assert_int_equal(seen.region, MGOV_REGION_INDEX_BUFFERS);
    assert_int_equal(seen.priority, MGOV_PRIORITY_INDEX_BUFFERS);
    a = bh_take(p, 2);
    assert_int_equal(gh_region_used(gov, MGOV_REGION_INDEX_BUFFERS), 2 * PG);
    mgov_bufs_release(a);
    bh_destroy(p);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    /* no region named execution_buffers: region 0 */
    mgov_region_config_t regions[] = { { "hot", 0, 0 }, { "cold", 0, 0 } };
    gov = gh_gov_regions(64 * MiB, regions, 2);
    p = bh_pool_new(PG, 0, gov);
    a = bh_take(p, 1);
    assert_int_equal(gh_region_used(gov, 0), PG);
    mgov_bufs_release(a);
    bh_destroy(p);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* The governor's refusals: never fits (ELIMIT at once, even blocking),
 * does not fit now (EBUDGET, ETIMEDOUT), and a blocked request woken when
 * another holder releases. */
static void test_gov_refusals(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(1 * MiB, NULL); /* ceiling 0.95 MiB */
    mgov_bufpool_t *p = bh_pool_new(64 * KiB, 0, gov);
    mgov_bufs_t *b = (mgov_bufs_t *)&b;
    uint64_t t0 = mgov__now_ns();
    assert_int_equal(mgov_bufpool_alloc(p, 16, -1, &b), MGOV_ELIMIT); /* 1 MiB */
    assert_true(mgov__now_ns() - t0 < 1000 * BH_MS);
    assert_null(b);

    mgov_grant_t other = gh_take(gov, MGOV_REGION_GRAPH_STORAGE, 950 * KiB, 0);
    assert_int_equal(mgov_bufpool_try_alloc(p, 1, &b), MGOV_EBUDGET);
    assert_null(b);
    assert_int_equal(mgov_bufpool_alloc(p, 1, 30 * BH_MS, &b), MGOV_ETIMEDOUT);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.refusals, 3);
    assert_int_equal(s.timeouts, 1);
    assert_int_equal(s.waits, 1); /* it waited in the governor */
    assert_int_equal(s.bytes_held, 0);
    assert_int_equal(mgov_used(gov), 950 * KiB);

    bh_req_t r;
    bh_req_start(&r, p, 1, -1);
    bh_sleep_ms(30);
    assert_false(atomic_load(&r.done));
    mgov_grant_release(&other);
    assert_true(bh_req_join_ms(&r, 5000));
    assert_int_equal(r.rc, MGOV_OK);
    assert_int_equal(mgov_used(gov), 64 * KiB);
    bh_req_release(&r);
    bh_check(p);
    bh_destroy(p);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* The governor's reclaim asks the pool for memory: cached spans go, with
 * their grants, least recently used first. */
static void test_gov_reclaim_evicts_cache(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(64 * MiB, log);
    mgov_bufpool_t *p = bh_pool_new(PG, 64 * PG, gov);
    mgov_bufs_t *live = bh_take(p, 2);
    mgov_bufs_t *c[6];
    for (int i = 0; i < 6; i++)
        c[i] = bh_take(p, 1);
    for (int i = 0; i < 6; i++)
        mgov_bufs_release(c[i]);
    assert_int_equal(mgov_used(gov), 8 * PG);

    uint64_t freed = mgov_reclaim(gov, 3 * PG, MGOV_PRESSURE_MODERATE);
    assert_int_equal(freed, 3 * PG);
    assert_int_equal(mgov_used(gov), 5 * PG);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.evicted_bytes, 3 * PG);
    assert_int_equal(s.spans_cached, 3);
    assert_int_equal(s.sys_frees, 3);
    assert_int_equal(s.bytes_held, 5 * PG);
    gh_event_t ev;
    assert_true(gh_evlog_named(log, MGOV_EV_EVICTED, mgov_bufpool_name(p), 0, &ev));
    assert_int_equal(ev.ev.freed, 3 * PG);
    bh_check(p);

    /* pressure from another grant: the governor's reclaim evicts the rest */
    mgov_grant_t g = MGOV_GRANT_INIT;
    uint64_t room = 64 * MiB * 95 / 100 - 5 * PG;
    assert_int_equal(mgov_try_reserve(gov, MGOV_REGION_GRAPH_STORAGE, room + 2 * PG, 0, &g),
                     MGOV_OK);
    s = bh_stats(p);
    assert_true(s.evicted_bytes >= 5 * PG);
    assert_true(s.spans_cached <= 1);
    mgov_grant_release(&g);
    mgov_bufs_release(live);
    bh_destroy(p);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

/* Asked for more than it has cached, the pool pays the rest as allocations
 * come back: they are freed instead of cached until the debt is paid. */
static void test_gov_debt_paid_on_release(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_bufpool_t *p = bh_pool_new(PG, 0, gov);
    mgov_bufs_t *b[3];
    for (int i = 0; i < 3; i++)
        b[i] = bh_take(p, 1);
    assert_int_equal(mgov_reclaim(gov, 2 * PG, MGOV_PRESSURE_MODERATE), 0);
    bh_check(p);
    mgov_bufs_release(b[0]);
    assert_int_equal(mgov_used(gov), 2 * PG);
    mgov_bufs_release(b[1]);
    assert_int_equal(mgov_used(gov), PG);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.evicted_bytes, 2 * PG);
    assert_int_equal(s.spans_cached, 0);
    mgov_bufs_release(b[2]); /* paid: cached again */
    assert_int_equal(mgov_used(gov), PG);
    assert_int_equal(bh_stats(p).spans_cached, 1);
    bh_check(p);
    bh_destroy(p);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ENOMEM at each allocation a new span makes, with a governor: a clean
 * error, no grant left, no counter moved. */
static void test_gov_enomem_each_point(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_bufpool_t *p = bh_pool_new(PG, 0, gov);
    mgov_bufs_t *keep = bh_take(p, 1);
    int failures = 0;
    for (long k = 0; k < 10; k++) {
        mgov_bufpool_stats_t before = bh_stats(p);
        uint64_t used = mgov_used(gov);
        mgov_bufs_t *b = (mgov_bufs_t *)&b;
        mgov__fault_arm(MGOV_FAULT_ALLOC, k, 1);
        int rc = mgov_bufpool_alloc(p, 2, (k & 1) ? 100 * BH_MS : 0, &b);
        mgov__fault_disarm_all();
        bh_check(p);
        if (rc == MGOV_OK) {
            assert_int_equal(mgov_used(gov), used + 2 * PG);
            mgov_bufs_release(b);
            break;
        }
        failures++;
        assert_int_equal(rc, MGOV_ENOMEM);
        assert_null(b);
        mgov_bufpool_stats_t after = bh_stats(p);
        assert_int_equal(mgov_used(gov), used);
        assert_int_equal(after.bytes_held, before.bytes_held);
        assert_int_equal(after.sys_allocs, before.sys_allocs);
        assert_int_equal(after.buffers_in_use, before.buffers_in_use);
        assert_int_equal(after.allocs, before.allocs);
    }
    assert_int_equal(failures, 2); /* the handle, the buffers */
    mgov_bufs_release(keep);
    bh_destroy(p);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* A request blocked inside the governor is not interrupted by destroy: it
 * is canceled when the governor answers, and gives its grant back. */
static void test_gov_destroy_during_governor_wait(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(1 * MiB, NULL);
    mgov_bufpool_t *p = bh_pool_new(64 * KiB, 0, gov);
    mgov_grant_t other = gh_take(gov, MGOV_REGION_GRAPH_STORAGE, 950 * KiB, 0);
    bh_req_t r;
    bh_req_start(&r, p, 1, -1);
    gh_wait_waiters(gov, 1); /* in the governor's queue, not only started */
    assert_int_equal(mgov_bufpool_destroy(p, 20 * BH_MS), MGOV_EBUSY);
    assert_false(atomic_load(&r.done));
    mgov_grant_release(&other);
    assert_true(bh_req_join_ms(&r, 5000));
    assert_int_equal(r.rc, MGOV_ECANCELED);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_bufpool_destroy(p, 1000 * BH_MS), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static uint64_t no_usage(void *ctx)
{
    (void)ctx;
    return 0;
}

/* Generated consumer names skip the ones taken; after 64 taken in a row,
 * create gives up with EEXIST. */
static void test_gov_generated_names(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_bufpool_t *p = bh_pool_new(PG, 0, gov);
    unsigned k = 0;
    assert_int_equal(sscanf(mgov_bufpool_name(p), "bufpool-%u", &k), 1);
    bh_destroy(p);

    static const mgov_consumer_ops_t ops = { .usage = no_usage };
    mgov_consumer_t *taken[70];
    char name[MGOV_NAME_MAX + 1];
    for (unsigned i = 0; i < 70; i++) {
        snprintf(name, sizeof name, "bufpool-%u", k + 1 + i);
        mgov_consumer_config_t cc = { .name = name, .region = 0, .ops = &ops };
        assert_int_equal(mgov_consumer_register(gov, &cc, &taken[i]), MGOV_OK);
    }
    /* the next 64 names are all taken */
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.gov = gov;
    p = (mgov_bufpool_t *)&p;
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EEXIST);
    assert_null(p);
    /* the seq moved past them: the next name is free */
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_OK);
    assert_int_equal(sscanf(mgov_bufpool_name(p), "bufpool-%u", &k), 1);
    bh_destroy(p);
    for (unsigned i = 0; i < 70; i++)
        assert_int_equal(mgov_consumer_unregister(taken[i]), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_gov_grants_per_span),
        FH_TEST(test_gov_refusals),
        FH_TEST(test_gov_reclaim_evicts_cache),
        FH_TEST(test_gov_debt_paid_on_release),
        FH_TEST(test_gov_enomem_each_point),
        FH_TEST(test_gov_destroy_during_governor_wait),
        FH_TEST(test_gov_generated_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
