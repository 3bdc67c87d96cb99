/* test_pressure.c - pressure levels: transitions at the default and custom
 * thresholds to the exact byte, hysteresis on the way down (default and
 * custom), one MGOV_EV_PRESSURE per change with old/new level and
 * increasing seq, the transitions counter, level names, MGOV_RSS_PRESSURE
 * against a fake /proc/self/statm, and the proactive eviction owed when a
 * level is entered (deferred by MGOV_NO_RECLAIM to the next reserve).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "faketree.h"
#include "gov_helpers.h"
#include "memgov/governor.h"
#include "sys/sys.h"

#define MiB GH_MiB
#define EXEC MGOV_REGION_EXECUTION_BUFFERS
#define N MGOV_PRESSURE_NORMAL
#define M MGOV_PRESSURE_MODERATE
#define H MGOV_PRESSURE_HIGH
#define C MGOV_PRESSURE_CRITICAL

typedef struct {
    uint64_t bytes;
    mgov_pressure_t level;
} step_t;

/* Drives one grant through `steps` (each resize to an exact usage) and
 * checks the level after each; returns the number of level changes. */
static unsigned run_steps(mgov_t *gov, mgov_grant_t *g, const step_t *steps, size_t n)
{
    unsigned changes = 0;
    mgov_pressure_t prev = mgov_pressure(gov);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mgov_grant_resize(g, steps[i].bytes), MGOV_OK);
        assert_int_equal(mgov_used(gov), steps[i].bytes);
        mgov_pressure_t now = mgov_pressure(gov);
        if (now != steps[i].level)
            fail_msg("step %zu: used %llu: level %s, expected %s", i,
                     (unsigned long long)steps[i].bytes, mgov_pressure_name(now),
                     mgov_pressure_name(steps[i].level));
        changes += now != prev;
        prev = now;
    }
    return changes;
}

/* Checks the PRESSURE events: one per change, chained old -> new, seq
 * increasing, and returns how many. */
static size_t check_chain(gh_evlog_t *log, mgov_pressure_t first_old)
{
    static gh_event_t ev[512];
    size_t n = gh_evlog_all(log, MGOV_EV_PRESSURE, ev, 512);
    mgov_pressure_t prev = first_old;
    uint64_t seq = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ev[i].ev.old_level, prev);
        assert_int_not_equal(ev[i].ev.level, ev[i].ev.old_level);
        assert_true(ev[i].ev.seq > seq);
        assert_int_equal(ev[i].ev.region, -1);
        seq = ev[i].ev.seq;
        prev = ev[i].ev.level;
    }
    return n;
}

static void test_default_thresholds_exact(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(1000000, log);
    mgov_grant_t g = gh_take(gov, EXEC, 0, MGOV_NO_RECLAIM);
    const step_t up[] = {
        { 699999, N }, { 700000, M }, { 849999, M }, { 850000, H },
        { 949999, H }, { 950000, C },
    };
    assert_int_equal(run_steps(gov, &g, up, sizeof up / sizeof up[0]), 3);
    /* down: a level is left only below threshold - 2% (20000 bytes) */
    const step_t down[] = {
        { 940000, C }, { 930000, C }, { 929999, H }, { 849999, H }, { 830000, H },
        { 829999, M }, { 699999, M }, { 680000, M }, { 679999, N }, { 0, N },
    };
    assert_int_equal(run_steps(gov, &g, down, sizeof down / sizeof down[0]), 3);
    /* and straight back up from HIGH's exit band */
    const step_t again[] = { { 850000, H }, { 830000, H }, { 849999, H }, { 850000, H } };
    assert_int_equal(run_steps(gov, &g, again, sizeof again / sizeof again[0]), 1);

    assert_int_equal(check_chain(log, N), 7);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.pressure_transitions, 7);
    assert_int_equal(s.pressure, H);

    gh_event_t e;
    assert_true(gh_evlog_nth(log, MGOV_EV_PRESSURE, 0, &e));
    assert_int_equal(e.ev.old_level, N);
    assert_int_equal(e.ev.level, M);
    assert_int_equal(e.ev.used, 700000);
    assert_true(gh_evlog_nth(log, MGOV_EV_PRESSURE, 3, &e));
    assert_int_equal(e.ev.old_level, C);
    assert_int_equal(e.ev.level, H);
    assert_int_equal(e.ev.used, 929999);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_jumps_are_one_event(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(1000000, log);
    /* NORMAL -> CRITICAL in one reserve, CRITICAL -> NORMAL in one release */
    mgov_grant_t g = gh_take(gov, EXEC, 990000, MGOV_URGENT | MGOV_NO_RECLAIM);
    assert_int_equal(mgov_pressure(gov), C);
    mgov_grant_release(&g);
    assert_int_equal(mgov_pressure(gov), N);
    assert_int_equal(gh_evlog_count(log, MGOV_EV_PRESSURE), 2);
    gh_event_t e;
    assert_true(gh_evlog_nth(log, MGOV_EV_PRESSURE, 0, &e));
    assert_int_equal(e.ev.old_level, N);
    assert_int_equal(e.ev.level, C);
    assert_int_equal(e.ev.used, 990000);
    assert_true(gh_evlog_nth(log, MGOV_EV_PRESSURE, 1, &e));
    assert_int_equal(e.ev.old_level, C);
    assert_int_equal(e.ev.level, N);
    assert_int_equal(e.ev.used, 0);
    assert_int_equal(check_chain(log, N), 2);

    /* many grants: the level follows the total, not one grant */
    mgov_grant_t a = gh_take(gov, 0, 400000, MGOV_NO_RECLAIM);
    mgov_grant_t b = gh_take(gov, 1, 300000, MGOV_NO_RECLAIM);
    assert_int_equal(mgov_pressure(gov), M);
    mgov_grant_t c = gh_take(gov, 2, 150000, MGOV_NO_RECLAIM);
    assert_int_equal(mgov_pressure(gov), H);
    mgov_grant_release(&a);
    assert_int_equal(mgov_pressure(gov), N);
    mgov_grant_release(&b);
    mgov_grant_release(&c);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.pressure_transitions, 5);
    assert_int_equal(gh_evlog_count(log, MGOV_EV_PRESSURE), 5);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static mgov_t *gov_with(double mod, double high, double crit, double hyst, gh_evlog_t *log)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1000000;
    cfg.moderate = mod;
    cfg.high = high;
    cfg.critical = crit;
    cfg.hysteresis = hyst;
    cfg.on_event = log ? gh_evlog_cb : NULL;
    cfg.event_ctx = log;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    return gov;
}

static void test_custom_hysteresis(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gov_with(0, 0, 0, 0.10, log); /* 100000 bytes */
    mgov_grant_t g = gh_take(gov, EXEC, 0, MGOV_NO_RECLAIM);
    const step_t steps[] = {
        { 700000, M }, { 650000, M }, { 600000, M }, { 599999, N },
        { 850000, H }, { 750000, H }, { 749999, M }, { 600000, M },
        { 950000, C }, { 850000, C }, { 849999, H }, { 0, N },
    };
    assert_int_equal(run_steps(gov, &g, steps, sizeof steps / sizeof steps[0]), 7);
    assert_int_equal(check_chain(log, N), 7);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_true(s.hysteresis == 0.10);
    assert_int_equal(s.pressure_transitions, 7);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_custom_thresholds(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gov_with(0.5, 0.6, 0.9, 0, log);
    mgov_grant_t g = gh_take(gov, EXEC, 0, MGOV_NO_RECLAIM);
    const step_t steps[] = {
        { 499999, N }, { 500000, M }, { 599999, M }, { 600000, H }, { 899999, H },
        { 900000, C }, { 880000, C }, { 879999, H }, { 580000, H }, { 579999, M },
        { 480000, M }, { 479999, N },
    };
    assert_int_equal(run_steps(gov, &g, steps, sizeof steps / sizeof steps[0]), 6);
    /* the ceiling is the custom critical threshold */
    mgov_grant_t h = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, EXEC, 900001, 0, &h), MGOV_ELIMIT);
    assert_int_equal(mgov_grant_resize(&g, 900000), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, EXEC, 1, MGOV_NO_RECLAIM, &h), MGOV_EBUDGET);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_true(s.moderate == 0.5 && s.high == 0.6 && s.critical == 0.9);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    /* critical = 1.0: the whole budget is ordinary */
    gov = gov_with(0.5, 0.6, 1.0, 0, NULL);
    g = gh_take(gov, EXEC, 1000000, MGOV_NO_RECLAIM);
    assert_int_equal(mgov_pressure(gov), C);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_pressure_names(void **state)
{
    (void)state;
    assert_string_equal(mgov_pressure_name(MGOV_PRESSURE_NORMAL), "normal");
    assert_string_equal(mgov_pressure_name(MGOV_PRESSURE_MODERATE), "moderate");
    assert_string_equal(mgov_pressure_name(MGOV_PRESSURE_HIGH), "high");
    assert_string_equal(mgov_pressure_name(MGOV_PRESSURE_CRITICAL), "critical");
    assert_string_equal(mgov_pressure_name((mgov_pressure_t)4), "unknown");
    assert_string_equal(mgov_pressure_name((mgov_pressure_t)-1), "unknown");
    assert_string_equal(mgov_pressure_name((mgov_pressure_t)INT_MAX), "unknown");
    assert_int_equal(mgov_pressure(NULL), MGOV_PRESSURE_NORMAL);
}

static void test_set_budget_moves_level(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(1000000, log);
    mgov_grant_t g = gh_take(gov, EXEC, 600000, MGOV_NO_RECLAIM);
    assert_int_equal(mgov_pressure(gov), N);
    assert_int_equal(mgov_set_budget(gov, 700000), MGOV_OK); /* 85.7% */
    assert_int_equal(mgov_pressure(gov), H);
    assert_int_equal(mgov_set_budget(gov, 2000000), MGOV_OK); /* 30% */
    assert_int_equal(mgov_pressure(gov), N);
    assert_int_equal(check_chain(log, N), 2);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

/* ------------------------------------------------------------ RSS */

typedef struct {
    faketree_t ft;
    uint64_t page;
} rss_fixture_t;

static int rss_setup(void **state)
{
    rss_fixture_t *f = calloc(1, sizeof *f);
    if (!f || faketree_create(&f->ft, "memgov-pressure-") < 0) {
        free(f);
        return -1;
    }
    long ps = sysconf(_SC_PAGESIZE);
    f->page = ps > 0 ? (uint64_t)ps : 4096;
    if (faketree_write(&f->ft, "proc/self/statm", "1000 10 0 0 0 0 0\n") < 0)
        return -1;
    char proc[PATH_MAX + 8];
    snprintf(proc, sizeof proc, "%s/proc", f->ft.root);
    mgov__sys_set_roots(proc, NULL);
    *state = f;
    return 0;
}

static int rss_teardown(void **state)
{
    rss_fixture_t *f = *state;
    mgov__sys_set_roots(NULL, NULL);
    int rc = faketree_destroy(&f->ft);
    free(f);
    return rc;
}

static void set_resident(rss_fixture_t *f, uint64_t pages)
{
    assert_int_equal(faketree_writef(&f->ft, "proc/self/statm", "2000 %llu 0 0 0 0 0\n",
                                     (unsigned long long)pages),
                     0);
}

/* RSS is sampled at most once a millisecond (by a coarse clock): poll. */
static mgov_pressure_t poll_level(mgov_t *gov, mgov_pressure_t want)
{
    mgov_pressure_t lvl = mgov_pressure(gov);
    for (int i = 0; i < 500 && lvl != want; i++) {
        gh_sleep_ms(2);
        lvl = mgov_pressure(gov);
    }
    return lvl;
}

static void test_rss_pressure(void **state)
{
    rss_fixture_t *f = *state;
    gh_evlog_t *log = gh_evlog_new();
    set_resident(f, 900); /* 90% of a 1000-page budget */
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1000 * f->page;
    cfg.flags = MGOV_RSS_PRESSURE;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = log;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    mgov_grant_t g = gh_take(gov, EXEC, f->page, MGOV_NO_RECLAIM); /* 0.1% accounted */
    assert_int_equal(mgov_used(gov), f->page);

    assert_int_equal(poll_level(gov, H), H);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.rss, 900 * f->page);
    assert_int_equal(s.used, f->page);
    assert_int_equal(s.pressure, H);

    /* 75%: down to MODERATE (below 85% - 2%) */
    set_resident(f, 750);
    assert_int_equal(poll_level(gov, M), M);
    /* inside the hysteresis band (69%): stays MODERATE */
    set_resident(f, 690);
    gh_sleep_ms(5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(mgov_pressure(gov), M);
        gh_sleep_ms(2);
    }
    /* 10%: NORMAL */
    set_resident(f, 100);
    assert_int_equal(poll_level(gov, N), N);
    /* 96%: CRITICAL, though only one page is accounted */
    set_resident(f, 960);
    assert_int_equal(poll_level(gov, C), C);
    /* admission still uses the accounted bytes */
    mgov_grant_t h = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, EXEC, 100 * f->page, MGOV_NO_RECLAIM, &h), MGOV_OK);
    mgov_grant_release(&h);

    size_t n = check_chain(log, N);
    assert_true(n >= 4);
    gh_event_t e;
    assert_true(gh_evlog_nth(log, MGOV_EV_PRESSURE, 0, &e));
    assert_int_equal(e.ev.old_level, N);
    assert_int_equal(e.ev.level, H);
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.rss_peak, 960 * f->page);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_rss_ignored_without_flag(void **state)
{
    rss_fixture_t *f = *state;
    set_resident(f, 990);
    mgov_t *gov = gh_gov_new(1000 * f->page, NULL);
    mgov_grant_t g = gh_take(gov, EXEC, f->page, MGOV_NO_RECLAIM);
    gh_sleep_ms(5);
    assert_int_equal(mgov_pressure(gov), N);
    mgov_grant_release(&g);
    assert_int_equal(mgov_pressure(gov), N);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_rss_level_owes_proactive_reclaim(void **state)
{
    rss_fixture_t *f = *state;
    set_resident(f, 900);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1000 * f->page;
    cfg.flags = MGOV_RSS_PRESSURE;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    gh_mock_t m;
    gh_mock_init(&m, gov, "cache", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 100 * f->page, MGOV_NO_RECLAIM);
    assert_int_equal(gh_mock_register(&m, MGOV_PRIORITY_QUERY_CACHE, 0), MGOV_OK);
    assert_int_equal(poll_level(gov, H), H); /* from RSS alone */
    assert_int_equal(atomic_load(&m.n_evict), 0);

    /* the next reserve pays: back to 85% - 2% of the budget, measured with
     * RSS: 900 - 830 pages */
    mgov_grant_t g = gh_take(gov, 0, f->page, 0);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    assert_int_equal(atomic_load(&m.last_evict_target), 70 * f->page);
    assert_int_equal(gh_mock_held(&m), 30 * f->page);
    /* admission never looked at RSS: the reserve itself fit */
    assert_int_equal(g.bytes, f->page);
    mgov_grant_release(&g);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_rss_mode_level_follows_release(void **state)
{
    rss_fixture_t *f = *state;
    set_resident(f, 10);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1000 * f->page;
    cfg.flags = MGOV_RSS_PRESSURE;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    /* accounted bytes above RSS: they set the level */
    mgov_grant_t g = gh_take(gov, EXEC, 960 * f->page, MGOV_URGENT | MGOV_NO_RECLAIM);
    assert_int_equal(mgov_pressure(gov), C);
    mgov_grant_release(&g);
    /* downward moves are found by sampling (at most every ms): soon NORMAL */
    assert_int_equal(poll_level(gov, N), N);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------------------- proactive reclaim */

static void test_moderate_runs_proactive_eviction(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(100 * MiB, log);
    gh_mock_t m;
    gh_mock_init(&m, gov, "cache", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 30 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(gh_mock_register(&m, MGOV_PRIORITY_QUERY_CACHE, 0), MGOV_OK);
    assert_int_equal(atomic_load(&m.n_evict), 0);

    /* 30 + 40 = 70 MiB: MODERATE is entered, the crossing thread evicts back
     * to the threshold less the hysteresis (68 MiB) */
    mgov_grant_t g = gh_take(gov, 0, 40 * MiB, 0);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    assert_int_equal(atomic_load(&m.last_evict_target), 2 * MiB);
    assert_int_equal(atomic_load(&m.n_spill), 0); /* MODERATE only evicts */
    assert_int_equal(mgov_used(gov), 68 * MiB);
    assert_int_equal(gh_mock_held(&m), 28 * MiB);
    assert_int_equal(mgov_pressure(gov), M);
    gh_event_t e;
    assert_true(gh_evlog_nth(log, MGOV_EV_RECLAIM, 0, &e));
    assert_int_equal(e.ev.level, M);
    assert_int_equal(e.ev.bytes, 2 * MiB);
    assert_int_equal(e.ev.freed, 2 * MiB);

    /* staying at the level owes nothing more */
    mgov_grant_t h = gh_take(gov, 0, 1 * MiB, 0);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    mgov_grant_release(&h);
    mgov_grant_release(&g);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

static void test_high_runs_proactive_spill(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_mock_t m;
    gh_mock_init(&m, gov, "sorter", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 50 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&m.evict_max, 1 * MiB);
    assert_int_equal(gh_mock_register(&m, MGOV_PRIORITY_EXECUTION_BUFFERS, 0), MGOV_OK);
    /* 50 + 36 = 86 MiB: HIGH; target 86 - (85 - 2) = 3 MiB: evict 1, spill 2 */
    mgov_grant_t g = gh_take(gov, 0, 36 * MiB, 0);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    assert_int_equal(atomic_load(&m.n_spill), 1);
    uint64_t thr_high = 100 * MiB * 85 / 100, hyst = 100 * MiB * 2 / 100;
    uint64_t target = 86 * MiB - (thr_high - hyst);
    assert_int_equal(atomic_load(&m.last_evict_target), target);
    assert_int_equal(atomic_load(&m.last_spill_target), target - 1 * MiB);
    assert_int_equal(gh_mock_spilled(&m), target - 1 * MiB);
    assert_int_equal(mgov_used(gov), thr_high - hyst);
    mgov_grant_release(&g);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_no_reclaim_defers_proactive_eviction(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_mock_t m;
    gh_mock_init(&m, gov, "cache", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 30 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(gh_mock_register(&m, MGOV_PRIORITY_QUERY_CACHE, 0), MGOV_OK);

    mgov_grant_t g = gh_take(gov, 0, 40 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(mgov_pressure(gov), M);
    assert_int_equal(atomic_load(&m.n_evict), 0); /* deferred */
    mgov_grant_t h = gh_take(gov, 0, 4 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(atomic_load(&m.n_evict), 0); /* still deferred */
    assert_int_equal(mgov_used(gov), 74 * MiB);

    /* the next reserve without the flag pays what is owed */
    mgov_grant_t k = gh_take(gov, 0, 1 * MiB, 0);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    assert_int_equal(atomic_load(&m.last_evict_target), 75 * MiB - 68 * MiB);
    assert_int_equal(mgov_used(gov), 68 * MiB);
    /* paid once */
    mgov_grant_t j = gh_take(gov, 0, 0, 0);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    mgov_grant_release(&j);
    mgov_grant_release(&k);
    mgov_grant_release(&h);
    mgov_grant_release(&g);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_proactive_not_owed_when_already_down(void **state)
{
    (void)state;
    /* Owed with NO_RECLAIM, but usage fell back below the floor before the
     * next reserve: nothing to evict. */
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_mock_t m;
    gh_mock_init(&m, gov, "cache", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 30 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(gh_mock_register(&m, MGOV_PRIORITY_QUERY_CACHE, 0), MGOV_OK);
    mgov_grant_t g = gh_take(gov, 0, 40 * MiB, MGOV_NO_RECLAIM);
    mgov_grant_release(&g);
    mgov_grant_t k = gh_take(gov, 0, 1 * MiB, 0);
    assert_int_equal(atomic_load(&m.n_evict), 0);
    mgov_grant_release(&k);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_thresholds_exact),
        cmocka_unit_test(test_jumps_are_one_event),
        cmocka_unit_test(test_custom_hysteresis),
        cmocka_unit_test(test_custom_thresholds),
        cmocka_unit_test(test_pressure_names),
        cmocka_unit_test(test_set_budget_moves_level),
        cmocka_unit_test_setup_teardown(test_rss_pressure, rss_setup, rss_teardown),
        cmocka_unit_test_setup_teardown(test_rss_ignored_without_flag, rss_setup, rss_teardown),
        cmocka_unit_test_setup_teardown(test_rss_level_owes_proactive_reclaim, rss_setup,
                                        rss_teardown),
        cmocka_unit_test_setup_teardown(test_rss_mode_level_follows_release, rss_setup,
                                        rss_teardown),
        cmocka_unit_test(test_moderate_runs_proactive_eviction),
        cmocka_unit_test(test_high_runs_proactive_spill),
        cmocka_unit_test(test_no_reclaim_defers_proactive_eviction),
        cmocka_unit_test(test_proactive_not_owed_when_already_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
