/* test_governor.c - creating, configuring and destroying a governor:
 * defaults, every invalid configuration, MEMGOV_BUDGET, regions (default and
 * custom, the spill-staging role), mgov_set_budget (grow, shrink below usage,
 * invalid values, waiters that can no longer fit), the spill settings, leak
 * reports at destroy, and NULL handling of every accessor.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov/governor.h"
#include "memgov/sysinfo.h"
#include "sys/fault.h"

#define MiB GH_MiB
#define EXEC MGOV_REGION_EXECUTION_BUFFERS

static mgov_t *const POISON = (mgov_t *)(uintptr_t)0x1;

static int teardown(void **state)
{
    (void)state;
    mgov__fault_disarm_all(); /* a failed case may have left one armed */
    unsetenv("MEMGOV_BUDGET");
    return 0;
}

/* create must fail with EINVAL and leave *out NULL */
static void expect_einval(const mgov_config_t *cfg)
{
    mgov_t *gov = POISON;
    assert_int_equal(mgov_create(cfg, &gov), MGOV_EINVAL);
    assert_null(gov);
}

static void expect_ok(const mgov_config_t *cfg)
{
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(cfg, &gov), MGOV_OK);
    assert_non_null(gov);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------------------------------ defaults */

static void test_create_null_cfg(void **state)
{
    (void)state;
    uint64_t expect = 0;
    assert_int_equal(mgov_default_budget(&expect), MGOV_OK);
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(NULL, &gov), MGOV_OK);
    assert_non_null(gov);
    assert_int_equal(mgov_budget(gov), expect);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_region_count(gov), 4);
    assert_int_equal(mgov_pressure(gov), MGOV_PRESSURE_NORMAL);
    assert_null(mgov_spill_dir(gov));
    assert_int_equal(mgov_spill_quota(gov), 0);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_true(s.moderate == 0.70 && s.high == 0.85 && s.critical == 0.95);
    assert_true(s.hysteresis == 0.02);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    /* a zeroed config is the same as NULL */
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_budget(gov), expect);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_create_out_null(void **state)
{
    (void)state;
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    assert_int_equal(mgov_create(&cfg, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_create(NULL, NULL), MGOV_EINVAL);
}

/* ------------------------------------------------------- invalid configs */

static void test_create_bad_thresholds(void **state)
{
    (void)state;
    static const double bad[][3] = {
        { 0.90, 0.80, 0.95 }, /* moderate > high */
        { 0.80, 0.80, 0.95 }, /* moderate == high */
        { 0.70, 0.96, 0.95 }, /* high > critical */
        { 0.70, 0.95, 0.95 }, /* high == critical */
        { 0.70, 0.85, 1.01 }, /* critical > 1 */
        { -0.1, 0.85, 0.95 }, /* negative */
        { 0.90, 0, 0 },       /* 0.90 above the default high */
        { 0, 0, 0.60 },       /* critical below the default moderate */
        { 0, 0.99, 0 },       /* high above the default critical */
        { 1.5, 2.0, 3.0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mgov_config_t cfg = MGOV_CONFIG_INIT;
        cfg.budget = 10 * MiB;
        cfg.moderate = bad[i][0];
        cfg.high = bad[i][1];
        cfg.critical = bad[i][2];
        expect_einval(&cfg);
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.moderate = __builtin_nan("");
    expect_einval(&cfg);

    /* the edges that are allowed */
    cfg.moderate = 0.01;
    cfg.high = 0.02;
    cfg.critical = 1.0;
    expect_ok(&cfg);
}

static void test_create_bad_hysteresis(void **state)
{
    (void)state;
    const double bad[] = { 0.5, 0.6, 1.0, -0.01, -1.0, __builtin_nan("") };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mgov_config_t cfg = MGOV_CONFIG_INIT;
        cfg.budget = 10 * MiB;
        cfg.hysteresis = bad[i];
        expect_einval(&cfg);
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.hysteresis = 0.49;
    expect_ok(&cfg);
    cfg.hysteresis = 0.001;
    expect_ok(&cfg);
}

static void test_create_bad_region_counts(void **state)
{
    (void)state;
    mgov_region_config_t regions[17];
    char names[17][8];
    for (int i = 0; i < 17; i++) {
        snprintf(names[i], sizeof names[i], "r%d", i);
        regions[i] = (mgov_region_config_t){ names[i], 0, 0 };
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.regions = regions;
    cfg.n_regions = 0;
    expect_einval(&cfg);
    cfg.n_regions = 17;
    expect_einval(&cfg);
    cfg.n_regions = 16;
    expect_ok(&cfg);
    cfg.n_regions = 1;
    expect_ok(&cfg);

    /* n_regions without regions */
    cfg.regions = NULL;
    cfg.n_regions = 4;
    expect_einval(&cfg);
    cfg.n_regions = 1;
    expect_einval(&cfg);
}

static void test_create_bad_region_names(void **state)
{
    (void)state;
    char long64[65], long63[64];
    memset(long64, 'a', 64);
    long64[64] = '\0';
    memset(long63, 'b', 63);
    long63[63] = '\0';
    const char *bad[] = { NULL, "", long64, "with space", "a/b", "tab\t", "new\nline",
                          "quote\"", "caf\xc3\xa9", "semi;colon", "brace{" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mgov_region_config_t regions[2] = { { "ok", 0, 0 }, { bad[i], 0, 0 } };
        mgov_config_t cfg = MGOV_CONFIG_INIT;
        cfg.budget = 10 * MiB;
        cfg.regions = regions;
        cfg.n_regions = 2;
        expect_einval(&cfg);
    }
    mgov_region_config_t good[3] = { { long63, 0, 0 }, { "A.b-c_9", 0, 0 }, { "x", 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.regions = good;
    cfg.n_regions = 3;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_region_find(gov, long63), 0);
    assert_string_equal(mgov_region_name(gov, 1), "A.b-c_9");
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_create_duplicate_names(void **state)
{
    (void)state;
    mgov_region_config_t regions[3] = { { "a", 0, 0 }, { "b", 0, 0 }, { "a", 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.regions = regions;
    cfg.n_regions = 3;
    expect_einval(&cfg);
    /* names differ only in case: distinct */
    regions[2].name = "A";
    expect_ok(&cfg);
}

static void test_create_bad_reservations(void **state)
{
    (void)state;
    mgov_region_config_t regions[2] = { { "a", 60 * MiB, 0 }, { "b", 41 * MiB, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 100 * MiB;
    cfg.regions = regions;
    cfg.n_regions = 2;
    expect_einval(&cfg); /* 101 MiB reserved of 100 */
    regions[1].reserved = 40 * MiB;
    expect_ok(&cfg); /* exactly the budget */
    regions[0].reserved = 101 * MiB;
    regions[1].reserved = 0;
    expect_einval(&cfg); /* one region alone over the budget */

    /* limit below its reservation */
    regions[0] = (mgov_region_config_t){ "a", 10 * MiB, 5 * MiB };
    expect_einval(&cfg);
    regions[0].limit = 10 * MiB - 1;
    expect_einval(&cfg);
    regions[0].limit = 10 * MiB; /* equal is fine */
    expect_ok(&cfg);
    regions[0].limit = 0; /* no limit */
    expect_ok(&cfg);
}

static void test_create_bad_budget_and_flags(void **state)
{
    (void)state;
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = MGOV_BUDGET_MAX + 1;
    expect_einval(&cfg);
    cfg.budget = UINT64_MAX;
    expect_einval(&cfg);
    cfg.budget = MGOV_BUDGET_MAX;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_budget(gov), MGOV_BUDGET_MAX);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    cfg.budget = 10 * MiB;
    cfg.flags = 0x10; /* no such flag */
    expect_einval(&cfg);
    cfg.flags = MGOV_RSS_PRESSURE | 0x80;
    expect_einval(&cfg);
    cfg.flags = MGOV_RSS_PRESSURE;
    expect_ok(&cfg);
}

/* ------------------------------------------------------- MEMGOV_BUDGET */

static void test_env_budget(void **state)
{
    (void)state;
    assert_int_equal(setenv("MEMGOV_BUDGET", "64M", 1), 0);
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(NULL, &gov), MGOV_OK);
    assert_int_equal(mgov_budget(gov), 64 * MiB);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    assert_int_equal(setenv("MEMGOV_BUDGET", "1.5GiB", 1), 0);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_budget(gov), 1536 * MiB);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    /* an explicit budget wins over the environment */
    cfg.budget = 10 * MiB;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_budget(gov), 10 * MiB);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    /* garbage, zero, over the maximum */
    cfg.budget = 0;
    const char *bad[] = { "garbage", "", "0", "12Q", "-5M" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(setenv("MEMGOV_BUDGET", bad[i], 1), 0);
        expect_einval(&cfg);
        expect_einval(NULL);
    }
    assert_int_equal(setenv("MEMGOV_BUDGET", "1024T", 1), 0); /* 1 PiB > 64 TiB */
    expect_einval(&cfg);
    /* the explicit budget does not even look at a bad variable */
    assert_int_equal(setenv("MEMGOV_BUDGET", "garbage", 1), 0);
    cfg.budget = 1 * MiB;
    expect_ok(&cfg);
    unsetenv("MEMGOV_BUDGET");
}

/* ------------------------------------------------------------- regions */

static void test_default_regions(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(10 * MiB, NULL);
    static const char *names[] = { "graph_storage", "index_buffers", "execution_buffers",
                                   "spill_staging" };
    assert_int_equal(mgov_region_count(gov), 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(mgov_region_name(gov, i), names[i]);
        assert_int_equal(mgov_region_find(gov, names[i]), i);
    }
    assert_int_equal(mgov_region_find(gov, "graph_storage"), MGOV_REGION_GRAPH_STORAGE);
    assert_int_equal(mgov_region_find(gov, "index_buffers"), MGOV_REGION_INDEX_BUFFERS);
    assert_int_equal(mgov_region_find(gov, "execution_buffers"), MGOV_REGION_EXECUTION_BUFFERS);
    assert_int_equal(mgov_region_find(gov, "spill_staging"), MGOV_REGION_SPILL_STAGING);
    assert_int_equal(mgov_region_find(gov, "nope"), MGOV_ENOTFOUND);
    assert_int_equal(mgov_region_find(gov, ""), MGOV_ENOTFOUND);
    assert_int_equal(mgov_region_find(gov, "Graph_Storage"), MGOV_ENOTFOUND);
    assert_int_equal(mgov_region_find(gov, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_region_find(NULL, "graph_storage"), MGOV_EINVAL);
    assert_null(mgov_region_name(gov, -1));
    assert_null(mgov_region_name(gov, 4));
    assert_null(mgov_region_name(gov, 1000));
    assert_null(mgov_region_name(NULL, 0));
    assert_int_equal(mgov_region_count(NULL), 0);

    /* default regions: spill_staging may use the headroom above critical */
    mgov_grant_t g = gh_take(gov, EXEC, 9 * MiB, MGOV_NO_RECLAIM); /* ceiling 9.5 MiB */
    mgov_grant_t h = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, EXEC, 1 * MiB, MGOV_NO_RECLAIM, &h), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, MGOV_REGION_SPILL_STAGING, 1 * MiB, MGOV_NO_RECLAIM,
                                      &h),
                     MGOV_OK);
    mgov_grant_release(&h);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_custom_regions_copied(void **state)
{
    (void)state;
    char n0[16] = "hot", n1[16] = "cold";
    mgov_region_config_t regions[2] = { { n0, 1 * MiB, 4 * MiB }, { n1, 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.regions = regions;
    cfg.n_regions = 2;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    /* the config, strings included, need not outlive the call */
    strcpy(n0, "changed");
    memset(regions, 0, sizeof regions);
    assert_int_equal(mgov_region_count(gov), 2);
    assert_string_equal(mgov_region_name(gov, 0), "hot");
    assert_string_equal(mgov_region_name(gov, 1), "cold");
    assert_int_equal(mgov_region_find(gov, "cold"), 1);
    assert_int_equal(mgov_region_find(gov, "graph_storage"), MGOV_ENOTFOUND);
    assert_null(mgov_region_name(gov, 2));
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.n_regions, 2);
    assert_int_equal(s.regions[0].reserved, 1 * MiB);
    assert_int_equal(s.regions[0].limit, 4 * MiB);
    /* requests in a region index past the custom count are invalid */
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, 2, 1, 0, &g), MGOV_EINVAL);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_custom_spill_staging_role(void **state)
{
    (void)state;
    const mgov_region_config_t regions[2] = { { "work", 0, 0 }, { "spill_staging", 0, 0 } };
    mgov_t *gov = gh_gov_regions(1000000, regions, 2); /* ceiling 950000 */
    int spill = mgov_region_find(gov, "spill_staging");
    assert_int_equal(spill, 1);

    /* a request above the ordinary ceiling can never fit in "work" ... */
    mgov_grant_t g = MGOV_GRANT_INIT, s = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, 0, 950001, 0, &g), MGOV_ELIMIT);
    /* ... but fits in spill_staging, up to the whole budget */
    assert_int_equal(mgov_try_reserve(gov, spill, 1000000, 0, &s), MGOV_OK);
    mgov_grant_release(&s);
    assert_int_equal(mgov_try_reserve(gov, spill, 1000001, 0, &s), MGOV_ELIMIT);

    /* fill "work" to the ceiling: ordinary requests stop, spill_staging goes on */
    g = gh_take(gov, 0, 950000, MGOV_NO_RECLAIM);
    mgov_grant_t h = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, 0, 1, MGOV_NO_RECLAIM, &h), MGOV_EBUDGET);
    assert_null(h.gov);
    assert_int_equal(mgov_try_reserve(gov, spill, 50000, MGOV_NO_RECLAIM, &s), MGOV_OK);
    assert_int_equal(mgov_used(gov), 1000000);
    /* and not past the budget */
    assert_int_equal(mgov_try_reserve(gov, spill, 1, MGOV_NO_RECLAIM, &h), MGOV_EBUDGET);
    mgov_grant_release(&s);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_custom_without_spill_staging(void **state)
{
    (void)state;
    const mgov_region_config_t regions[2] = { { "work", 0, 0 }, { "spill", 0, 0 } };
    mgov_t *gov = gh_gov_regions(1000000, regions, 2);
    mgov_grant_t g = gh_take(gov, 0, 950000, MGOV_NO_RECLAIM);
    mgov_grant_t h = MGOV_GRANT_INIT;
    /* no region has the role: "spill" is ordinary */
    assert_int_equal(mgov_try_reserve(gov, 1, 1, MGOV_NO_RECLAIM, &h), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 1, 950001, 0, &h), MGOV_ELIMIT);
    /* MGOV_URGENT still reaches the headroom */
    assert_int_equal(mgov_try_reserve(gov, 1, 50000, MGOV_URGENT | MGOV_NO_RECLAIM, &h), MGOV_OK);
    assert_int_equal(mgov_used(gov), 1000000);
    mgov_grant_release(&h);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ---------------------------------------------------------- set_budget */

static void test_set_budget_grow(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(10 * MiB, log);
    mgov_grant_t g = gh_take(gov, EXEC, 9 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(mgov_pressure(gov), MGOV_PRESSURE_HIGH);
    mgov_grant_t h = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, EXEC, 1 * MiB, MGOV_NO_RECLAIM, &h), MGOV_EBUDGET);

    gh_evlog_clear(log);
    assert_int_equal(mgov_set_budget(gov, 20 * MiB), MGOV_OK);
    assert_int_equal(mgov_budget(gov), 20 * MiB);
    assert_int_equal(mgov_used(gov), 9 * MiB);
    assert_int_equal(mgov_pressure(gov), MGOV_PRESSURE_NORMAL);
    assert_int_equal(gh_evlog_count(log, MGOV_EV_BUDGET), 1);
    gh_event_t e;
    assert_true(gh_evlog_nth(log, MGOV_EV_BUDGET, 0, &e));
    assert_int_equal(e.ev.bytes, 20 * MiB);
    assert_int_equal(e.ev.used, 9 * MiB);
    assert_int_equal(e.ev.region, -1);
    assert_false(e.has_region_name);
    assert_true(gh_evlog_nth(log, MGOV_EV_PRESSURE, 0, &e));
    assert_int_equal(e.ev.old_level, MGOV_PRESSURE_HIGH);
    assert_int_equal(e.ev.level, MGOV_PRESSURE_NORMAL);

    /* thresholds keep their fractions: the new ceiling is 19 MiB */
    assert_int_equal(mgov_try_reserve(gov, EXEC, 10 * MiB, MGOV_NO_RECLAIM, &h), MGOV_OK);
    mgov_grant_t k = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, EXEC, 1, MGOV_NO_RECLAIM, &k), MGOV_EBUDGET);
    assert_null(k.gov);
    assert_int_equal(mgov_used(gov), 19 * MiB);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.budget, 20 * MiB);
    assert_true(s.moderate == 0.70);
    mgov_grant_release(&h);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_set_budget_shrink_below_usage(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(100 * MiB, log);
    mgov_grant_t g = gh_take(gov, EXEC, 50 * MiB, 0);
    assert_int_equal(mgov_set_budget(gov, 40 * MiB), MGOV_OK);
    assert_int_equal(mgov_budget(gov), 40 * MiB);
    assert_int_equal(mgov_used(gov), 50 * MiB); /* nothing to reclaim */
    assert_int_equal(mgov_pressure(gov), MGOV_PRESSURE_CRITICAL);
    gh_event_t e;
    assert_true(gh_evlog_nth(log, MGOV_EV_BUDGET, 0, &e));
    assert_int_equal(e.ev.bytes, 40 * MiB);
    assert_int_equal(e.ev.used, 50 * MiB);

    /* no ordinary admission while over the new ceiling (38 MiB), nor urgent
     * over the budget, with or without reclaim */
    mgov_grant_t h = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, EXEC, 1, MGOV_NO_RECLAIM, &h), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, EXEC, 1, 0, &h), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, EXEC, 1, MGOV_URGENT, &h), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, MGOV_REGION_SPILL_STAGING, 1, 0, &h), MGOV_EBUDGET);
    assert_int_equal(mgov_grant_resize(&g, 50 * MiB + 1), MGOV_ELIMIT); /* can never fit */
    assert_int_equal(g.bytes, 50 * MiB);
    /* a request over the new ceiling can never fit */
    uint64_t ceiling = 40 * MiB * 95 / 100; /* 0.95 x 40 MiB, exact */
    assert_int_equal(mgov_try_reserve(gov, EXEC, ceiling + 1, 0, &h), MGOV_ELIMIT);

    /* back under the ceiling: admission resumes, exactly up to it */
    assert_int_equal(mgov_grant_resize(&g, 30 * MiB), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, EXEC, ceiling - 30 * MiB, MGOV_NO_RECLAIM, &h), MGOV_OK);
    mgov_grant_t k = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, EXEC, 1, MGOV_NO_RECLAIM, &k), MGOV_EBUDGET);
    mgov_grant_release(&h);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_set_budget_shrink_reclaims(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(100 * MiB, log);
    gh_mock_t m;
    gh_mock_init(&m, gov, "cache", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 60 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(gh_mock_register(&m, MGOV_PRIORITY_QUERY_CACHE, 0), MGOV_OK);

    assert_int_equal(mgov_set_budget(gov, 50 * MiB), MGOV_OK);
    /* asked for used - new ceiling: 60 MiB - 47.5 MiB */
    assert_int_equal(atomic_load(&m.n_evict), 1);
    assert_int_equal(atomic_load(&m.last_evict_target), 60 * MiB - 50 * MiB * 95 / 100);
    assert_int_equal(atomic_load(&m.n_spill), 0); /* evicting was enough */
    assert_int_equal(mgov_used(gov), 50 * MiB * 95 / 100);
    assert_int_equal(gh_mock_held(&m), 50 * MiB * 95 / 100);
    gh_event_t e;
    assert_true(gh_evlog_nth(log, MGOV_EV_RECLAIM, 0, &e));
    assert_int_equal(e.ev.level, MGOV_PRESSURE_CRITICAL);
    assert_int_equal(e.ev.bytes, 60 * MiB - 50 * MiB * 95 / 100);
    assert_int_equal(e.ev.freed, e.ev.bytes);

    /* evict gives nothing: spill does it */
    atomic_store(&m.evict_max, 0);
    assert_int_equal(mgov_set_budget(gov, 40 * MiB), MGOV_OK);
    assert_int_equal(atomic_load(&m.n_spill), 1);
    assert_int_equal(mgov_used(gov), 40 * MiB * 95 / 100);

    /* growing does not reclaim */
    unsigned ne = atomic_load(&m.n_evict), ns = atomic_load(&m.n_spill);
    assert_int_equal(mgov_set_budget(gov, 100 * MiB), MGOV_OK);
    assert_int_equal(atomic_load(&m.n_evict), ne);
    assert_int_equal(atomic_load(&m.n_spill), ns);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_set_budget_invalid(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_region_config_t regions[2] = { { "a", 6 * MiB, 0 }, { "b", 4 * MiB, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 100 * MiB;
    cfg.regions = regions;
    cfg.n_regions = 2;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = log;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);

    assert_int_equal(mgov_set_budget(NULL, 10 * MiB), MGOV_EINVAL);
    assert_int_equal(mgov_set_budget(gov, 0), MGOV_EINVAL);
    assert_int_equal(mgov_set_budget(gov, MGOV_BUDGET_MAX + 1), MGOV_EINVAL);
    assert_int_equal(mgov_set_budget(gov, UINT64_MAX), MGOV_EINVAL);
    assert_int_equal(mgov_set_budget(gov, 10 * MiB - 1), MGOV_EINVAL); /* below reserved sum */
    assert_int_equal(mgov_budget(gov), 100 * MiB);
    assert_int_equal(gh_evlog_count(log, MGOV_EV_BUDGET), 0);
    assert_int_equal(mgov_set_budget(gov, 10 * MiB), MGOV_OK); /* exactly the sum */
    assert_int_equal(mgov_set_budget(gov, MGOV_BUDGET_MAX), MGOV_OK);
    assert_int_equal(mgov_budget(gov), MGOV_BUDGET_MAX);
    assert_int_equal(gh_evlog_count(log, MGOV_EV_BUDGET), 2);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

typedef struct {
    mgov_t *gov;
    uint64_t bytes;
    int64_t timeout_ns;
    int rc;
    uint64_t took_ns;
    mgov_grant_t g;
} waiter_t;

static void *waiter_main(void *arg)
{
    waiter_t *w = arg;
    uint64_t t0 = gh_now_ns();
    w->rc = mgov_reserve(w->gov, EXEC, w->bytes, 0, w->timeout_ns, &w->g);
    w->took_ns = gh_now_ns() - t0;
    return NULL;
}

static void test_set_budget_shrink_fails_impossible_waiter(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    mgov_grant_t g = gh_take(gov, EXEC, 90 * MiB, MGOV_NO_RECLAIM);
    waiter_t w = { .gov = gov, .bytes = 50 * MiB, .timeout_ns = 3000000000ll };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
    gh_wait_waiters(gov, 1);
    /* 50 MiB can never fit under a 40 MiB budget (ceiling 38 MiB) */
    assert_int_equal(mgov_set_budget(gov, 40 * MiB), MGOV_OK);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, MGOV_ELIMIT);
    assert_true(w.took_ns < 2000000000ull);
    assert_null(w.g.gov);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_set_budget_shrink_fails_impossible_waiter_behind_another(void **state)
{
    (void)state;
    /* The contract: "Requests that can no longer ever fit fail with
     * MGOV_ELIMIT, waiters included" - also one queued behind a waiter that
     * is blocked on the budget. */
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    mgov_grant_t g = gh_take(gov, EXEC, 90 * MiB, MGOV_NO_RECLAIM);
    waiter_t w1 = { .gov = gov, .bytes = 10 * MiB, .timeout_ns = 3000000000ll };
    waiter_t w2 = { .gov = gov, .bytes = 50 * MiB, .timeout_ns = 3000000000ll };
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, waiter_main, &w1), 0);
    gh_wait_waiters(gov, 1);
    assert_int_equal(pthread_create(&t2, NULL, waiter_main, &w2), 0);
    gh_wait_waiters(gov, 2);
    assert_int_equal(mgov_set_budget(gov, 40 * MiB), MGOV_OK);
    /* w1 (10 MiB) can still fit once usage drops; w2 (50 MiB) never can and
     * must fail at once, not when w1 leaves the queue (its timeout).
     * Both threads are joined before asserting: they write to this frame. */
    pthread_join(t2, NULL);
    mgov_grant_release(&g); /* lets w1 in */
    pthread_join(t1, NULL);
    assert_int_equal(w2.rc, MGOV_ELIMIT);
    assert_true(w2.took_ns < 2000000000ull);
    assert_int_equal(w1.rc, MGOV_OK);
    mgov_grant_release(&w1.g);
    mgov_grant_release(&w2.g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ---------------------------------------------------------- spill dir */

static void test_spill_settings(void **state)
{
    (void)state;
    char dir[64] = "/tmp/memgov-spill-test";
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.spill_dir = dir;
    cfg.spill_quota = 123456789;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    strcpy(dir, "/elsewhere");
    assert_non_null(mgov_spill_dir(gov));
    assert_string_equal(mgov_spill_dir(gov), "/tmp/memgov-spill-test");
    assert_ptr_not_equal(mgov_spill_dir(gov), dir);
    assert_int_equal(mgov_spill_quota(gov), 123456789);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    gov = gh_gov_new(10 * MiB, NULL);
    assert_null(mgov_spill_dir(gov));
    assert_int_equal(mgov_spill_quota(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_null(mgov_spill_dir(NULL));
    assert_int_equal(mgov_spill_quota(NULL), 0);
}

/* ------------------------------------------------------------- destroy */

static void test_destroy_clean(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(10 * MiB, log);
    mgov_grant_t g = gh_take(gov, EXEC, 1 * MiB, 0);
    mgov_grant_t z = gh_take(gov, 0, 0, 0);
    gh_mock_t m;
    gh_mock_init(&m, gov, "c", 0, GH_HAS_ALL, NULL);
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);
    mgov_grant_release(&g);
    mgov_grant_release(&z);
    gh_mock_fini(&m);
    gh_evlog_clear(log);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_int_equal(gh_evlog_count(log, MGOV_EV_LEAKED_GRANTS), 0);
    assert_int_equal(gh_evlog_count(log, MGOV_EV_LEAKED_CONSUMER), 0);
    assert_int_equal(mgov_destroy(NULL), MGOV_OK);
    gh_evlog_free(log);
}

static int dummy_reload(void *ctx)
{
    (void)ctx;
    return MGOV_OK;
}

static void test_destroy_reports_leaks(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(100 * MiB, log);
    mgov_grant_t a = gh_take(gov, MGOV_REGION_GRAPH_STORAGE, 1 * MiB, 0);
    mgov_grant_t b = gh_take(gov, MGOV_REGION_GRAPH_STORAGE, 2 * MiB, 0);
    mgov_grant_t c = gh_take(gov, EXEC, 5 * MiB, 0);
    mgov_grant_t d = gh_take(gov, EXEC, 7 * MiB, 0);
    mgov_grant_release(&d); /* released ones are not reported */
    static const mgov_consumer_ops_t ops = { .reload = dummy_reload };
    mgov_consumer_config_t cc = { .name = "leaky", .region = MGOV_REGION_INDEX_BUFFERS,
                                  .priority = 5, .ops = &ops };
    mgov_consumer_t *cons = NULL;
    assert_int_equal(mgov_consumer_register(gov, &cc, &cons), MGOV_OK);
    gh_evlog_clear(log);

    assert_int_equal(mgov_destroy(gov), MGOV_ELEAKED);
    (void)a;
    (void)b;
    (void)c;

    assert_int_equal(gh_evlog_count(log, MGOV_EV_LEAKED_GRANTS), 2);
    gh_event_t e;
    assert_true(gh_evlog_nth(log, MGOV_EV_LEAKED_GRANTS, 0, &e));
    assert_int_equal(e.ev.region, MGOV_REGION_GRAPH_STORAGE);
    assert_true(e.has_region_name);
    assert_string_equal(e.region_name, "graph_storage");
    assert_int_equal(e.ev.count, 2);
    assert_int_equal(e.ev.bytes, 3 * MiB);
    assert_true(gh_evlog_nth(log, MGOV_EV_LEAKED_GRANTS, 1, &e));
    assert_int_equal(e.ev.region, EXEC);
    assert_string_equal(e.region_name, "execution_buffers");
    assert_int_equal(e.ev.count, 1);
    assert_int_equal(e.ev.bytes, 5 * MiB);

    assert_int_equal(gh_evlog_count(log, MGOV_EV_LEAKED_CONSUMER), 1);
    assert_true(gh_evlog_nth(log, MGOV_EV_LEAKED_CONSUMER, 0, &e));
    assert_true(e.has_name);
    assert_string_equal(e.name, "leaky");
    assert_int_equal(e.ev.region, MGOV_REGION_INDEX_BUFFERS);
    assert_string_equal(e.region_name, "index_buffers");
    gh_evlog_free(log);
}

static void test_destroy_leaked_empty_grant(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(10 * MiB, log);
    mgov_grant_t z = gh_take(gov, MGOV_REGION_SPILL_STAGING, 0, 0); /* live, 0 bytes */
    (void)z;
    assert_int_equal(mgov_destroy(gov), MGOV_ELEAKED);
    gh_event_t e;
    assert_int_equal(gh_evlog_count(log, MGOV_EV_LEAKED_GRANTS), 1);
    assert_true(gh_evlog_nth(log, MGOV_EV_LEAKED_GRANTS, 0, &e));
    assert_int_equal(e.ev.region, MGOV_REGION_SPILL_STAGING);
    assert_int_equal(e.ev.count, 1);
    assert_int_equal(e.ev.bytes, 0);
    gh_evlog_free(log);
}

static void test_destroy_leaked_consumer_only(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(10 * MiB, NULL); /* no event callback: still EBUSY */
    static const mgov_consumer_ops_t ops = { 0 };
    mgov_consumer_config_t cc = { .name = "x", .region = 0, .ops = &ops };
    mgov_consumer_t *c1 = NULL, *c2 = NULL;
    assert_int_equal(mgov_consumer_register(gov, &cc, &c1), MGOV_OK);
    cc.name = "y";
    assert_int_equal(mgov_consumer_register(gov, &cc, &c2), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_ELEAKED);
}

/* ----------------------------------------------------------- ENOMEM */

static void test_create_out_of_memory(void **state)
{
    (void)state;
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.spill_dir = "/tmp/x";
    mgov_t *gov = POISON;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 1); /* the governor itself */
    int rc = mgov_create(&cfg, &gov);
    mgov__fault_disarm_all();
    assert_int_equal(rc, MGOV_ENOMEM);
    assert_null(gov);

    gov = POISON;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 1, 1); /* the spill_dir copy (ASan: no leak) */
    rc = mgov_create(&cfg, &gov);
    mgov__fault_disarm_all();
    assert_int_equal(rc, MGOV_ENOMEM);
    assert_null(gov);

    /* and then it works */
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ---------------------------------------------------------------- NULL */

static void test_null_accessors(void **state)
{
    (void)state;
    assert_int_equal(mgov_budget(NULL), 0);
    assert_int_equal(mgov_used(NULL), 0);
    assert_int_equal(mgov_set_budget(NULL, 1), MGOV_EINVAL);
    assert_null(mgov_spill_dir(NULL));
    assert_int_equal(mgov_spill_quota(NULL), 0);
    assert_int_equal(mgov_region_find(NULL, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_region_count(NULL), 0);
    assert_null(mgov_region_name(NULL, 0));
    assert_int_equal(mgov_pressure(NULL), MGOV_PRESSURE_NORMAL);
    assert_int_equal(mgov_destroy(NULL), MGOV_OK);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(NULL, &s), MGOV_EINVAL);
    assert_int_equal(mgov_reclaim(NULL, 1, MGOV_PRESSURE_HIGH), 0);
    assert_int_equal(mgov_spill_all(NULL), MGOV_EINVAL);
    assert_int_equal(mgov_spill_consumer(NULL, "x"), MGOV_EINVAL);
    assert_int_equal(mgov_reload_eligible(NULL, 1.0), 0);
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(NULL, 0, 1, 0, &g), MGOV_EINVAL);
    assert_int_equal(mgov_reserve(NULL, 0, 1, 0, 0, &g), MGOV_EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_null_cfg),
        T(test_create_out_null),
        T(test_create_bad_thresholds),
        T(test_create_bad_hysteresis),
        T(test_create_bad_region_counts),
        T(test_create_bad_region_names),
        T(test_create_duplicate_names),
        T(test_create_bad_reservations),
        T(test_create_bad_budget_and_flags),
        T(test_env_budget),
        T(test_default_regions),
        T(test_custom_regions_copied),
        T(test_custom_spill_staging_role),
        T(test_custom_without_spill_staging),
        T(test_set_budget_grow),
        T(test_set_budget_shrink_below_usage),
        T(test_set_budget_shrink_reclaims),
        T(test_set_budget_invalid),
        T(test_set_budget_shrink_fails_impossible_waiter),
        T(test_set_budget_shrink_fails_impossible_waiter_behind_another),
        T(test_spill_settings),
        T(test_destroy_clean),
        T(test_destroy_reports_leaks),
        T(test_destroy_leaked_empty_grant),
        T(test_destroy_leaked_consumer_only),
        T(test_create_out_of_memory),
        T(test_null_accessors),
    };
    unsetenv("MEMGOV_BUDGET");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
