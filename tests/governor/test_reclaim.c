/* test_reclaim.c - reclaim: victim order and "each gives what it can",
 * what each level does, FORCE_RAM, spill errors, mgov_spill_all /
 * mgov_spill_consumer, mgov_reload_eligible, callbacks that re-enter the
 * governor, reclaim on the reserve path (fail-fast and blocking, including a
 * consumer that releases later from another thread), one pass at a time,
 * region-scoped reclaim, events and counters.
 */
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov/governor.h"
#include "sys/fault.h"

#define MiB GH_MiB
#define EXEC MGOV_REGION_EXECUTION_BUFFERS

typedef struct {
    mgov_t *gov;
    gh_evlog_t *log;
    gh_calllog_t *cl;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->log = gh_evlog_new();
    f->cl = gh_calllog_new();
    f->gov = gh_gov_new(100 * MiB, f->log);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    mgov__fault_disarm_all(); /* first: a failed case may have left one armed */
    fx_t *f = *state;
    int rc = mgov_destroy(f->gov);
    gh_evlog_free(f->log);
    gh_calllog_free(f->cl);
    free(f);
    return rc == MGOV_OK ? 0 : -1;
}

static mgov_stats_t stats(mgov_t *gov)
{
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    return s;
}

/* Pays any proactive reclaim owed (so later counts start clean). */
static void settle(mgov_t *gov)
{
    mgov_grant_t g = gh_take(gov, 0, 0, 0);
    mgov_grant_release(&g);
}

/* ------------------------------------------------------------ order */

static void test_victim_order(void **state)
{
    fx_t *f = *state;
    gh_mock_t c1, c2, c3, c4;
    gh_mock_init(&c1, f->gov, "c1", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&c2, f->gov, "c2", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&c3, f->gov, "c3", 0, GH_HAS_ALL, f->cl);
    gh_mock_init(&c4, f->gov, "c4", 1, GH_HAS_ALL, f->cl);
    assert_int_equal(gh_mock_register(&c1, 40, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&c2, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&c3, 30, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&c4, 10, 0), MGOV_OK);
    char buf[256];

    /* nobody holds anything: all asked, lowest priority first, LRU within */
    assert_int_equal(mgov_reclaim(f->gov, 10 * MiB, MGOV_PRESSURE_MODERATE), 0);
    assert_string_equal(gh_calllog_names(f->cl, GH_OP_EVICT, buf, sizeof buf), "c2,c4,c3,c1");

    /* each gives what it can before the next: 4 + 6, the third not called */
    gh_mock_hold(&c2, 8 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&c4, 8 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&c3, 8 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&c2.evict_max, 4 * MiB);
    atomic_store(&c4.evict_max, 6 * MiB);
    gh_calllog_clear(f->cl);
    assert_int_equal(mgov_reclaim(f->gov, 10 * MiB, MGOV_PRESSURE_MODERATE), 10 * MiB);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "c2:e,c4:e");
    assert_int_equal(f->cl->calls[0].target, 10 * MiB);
    assert_int_equal(f->cl->calls[1].target, 6 * MiB);
    assert_int_equal(gh_mock_held(&c2), 4 * MiB);
    assert_int_equal(gh_mock_held(&c4), 2 * MiB);
    assert_int_equal(gh_mock_held(&c3), 8 * MiB);
    assert_int_equal(atomic_load(&c3.n_evict), 1); /* only from the first pass */

    /* a victim giving more than asked ends the pass too */
    atomic_store(&c2.evict_report_extra, 20 * MiB);
    gh_calllog_clear(f->cl);
    assert_int_equal(mgov_reclaim(f->gov, 1 * MiB, MGOV_PRESSURE_MODERATE), 21 * MiB);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "c2:e");

    gh_mock_fini(&c1);
    gh_mock_fini(&c2);
    gh_mock_fini(&c3);
    gh_mock_fini(&c4);
}

/* ------------------------------------------------------------ levels */

static void test_levels(void **state)
{
    fx_t *f = *state;
    gh_mock_t a, b;
    gh_mock_init(&a, f->gov, "a", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&b, f->gov, "b", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&a, 10 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&b, 10 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&a.evict_max, 2 * MiB);
    atomic_store(&a.spill_max, 3 * MiB);
    atomic_store(&b.evict_max, 0);
    assert_int_equal(gh_mock_register(&a, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&b, 20, 0), MGOV_OK);
    char buf[256];

    /* NORMAL: nothing, not even a pass */
    assert_int_equal(mgov_reclaim(f->gov, 10 * MiB, MGOV_PRESSURE_NORMAL), 0);
    assert_int_equal(f->cl->n, 0);
    assert_int_equal(stats(f->gov).reclaim_passes, 0);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RECLAIM), 0);
    /* target 0 and a bad level: nothing */
    assert_int_equal(mgov_reclaim(f->gov, 0, MGOV_PRESSURE_CRITICAL), 0);
    assert_int_equal(mgov_reclaim(f->gov, 1 * MiB, (mgov_pressure_t)4), 0);
    assert_int_equal(mgov_reclaim(f->gov, 1 * MiB, (mgov_pressure_t)-1), 0);
    assert_int_equal(f->cl->n, 0);

    /* MODERATE: evict only */
    assert_int_equal(mgov_reclaim(f->gov, 10 * MiB, MGOV_PRESSURE_MODERATE), 2 * MiB);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "a:e,b:e");
    assert_int_equal(atomic_load(&a.n_spill) + atomic_load(&b.n_spill), 0);

    /* HIGH: per victim, evict then spill the rest */
    gh_calllog_clear(f->cl);
    assert_int_equal(mgov_reclaim(f->gov, 10 * MiB, MGOV_PRESSURE_HIGH), 10 * MiB);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "a:e,a:t,a:s,b:e,b:t,b:s");
    assert_int_equal(f->cl->calls[0].target, 10 * MiB);
    assert_int_equal(f->cl->calls[2].target, 8 * MiB);
    assert_int_equal(f->cl->calls[3].target, 5 * MiB);
    assert_int_equal(f->cl->calls[5].target, 5 * MiB);
    assert_int_equal(gh_mock_spilled(&a), 3 * MiB);
    assert_int_equal(gh_mock_spilled(&b), 5 * MiB);

    /* CRITICAL acts like HIGH; evict alone enough: no spill for a */
    atomic_store(&a.evict_max, UINT64_MAX);
    gh_calllog_clear(f->cl);
    assert_int_equal(mgov_reclaim(f->gov, 1 * MiB, MGOV_PRESSURE_CRITICAL), 1 * MiB);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "a:e");
    gh_calllog_clear(f->cl);
    atomic_store(&a.evict_max, 0);
    assert_int_equal(mgov_reclaim(f->gov, 1 * MiB, MGOV_PRESSURE_CRITICAL), 1 * MiB);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "a:e,a:t,a:s");

    gh_mock_fini(&a);
    gh_mock_fini(&b);
}

/* -------------------------------------------------------- force RAM */

static void test_force_ram_never_spilled(void **state)
{
    fx_t *f = *state;
    gh_mock_t pinned, loose, nospill;
    gh_mock_init(&pinned, f->gov, "pinned", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&loose, f->gov, "loose", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&nospill, f->gov, "nospill", EXEC, GH_HAS_ALL & ~GH_HAS_SPILL, f->cl);
    gh_mock_hold(&pinned, 10 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&loose, 10 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&pinned.evict_max, 1 * MiB);
    atomic_store(&loose.evict_max, 0);
    assert_int_equal(gh_mock_register(&pinned, 10, MGOV_FORCE_RAM), MGOV_OK);
    assert_int_equal(gh_mock_register(&loose, 20, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&nospill, 30, 0), MGOV_OK);
    char buf[256];

    /* evicted, not spilled; the next victim spills */
    assert_int_equal(mgov_reclaim(f->gov, 4 * MiB, MGOV_PRESSURE_CRITICAL), 4 * MiB);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "pinned:e,loose:e,loose:t,loose:s");
    assert_int_equal(gh_mock_held(&pinned), 9 * MiB);
    assert_int_equal(gh_mock_spilled(&pinned), 0);

    /* spill_all skips it (and the one with no spill op) */
    gh_calllog_clear(f->cl);
    assert_int_equal(mgov_spill_all(f->gov), MGOV_OK);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "loose:t,loose:s");
    assert_int_equal(f->cl->calls[1].target, UINT64_MAX);
    assert_int_equal(gh_mock_held(&loose), 0);
    assert_int_equal(gh_mock_held(&pinned), 9 * MiB);

    assert_int_equal(mgov_spill_consumer(f->gov, "pinned"), MGOV_EBUSY);
    assert_int_equal(mgov_spill_consumer(f->gov, "nospill"), MGOV_ENOTSUP);
    assert_int_equal(mgov_spill_consumer(f->gov, "nobody"), MGOV_ENOTFOUND);
    assert_int_equal(mgov_spill_consumer(f->gov, ""), MGOV_ENOTFOUND);
    assert_int_equal(mgov_spill_consumer(f->gov, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_spill_consumer(NULL, "loose"), MGOV_EINVAL);
    assert_int_equal(atomic_load(&pinned.n_spill), 0);
    /* loose holds nothing now: its tier says ON_DISK, so it is not asked */
    assert_int_equal(mgov_spill_consumer(f->gov, "loose"), MGOV_OK);
    assert_int_equal(atomic_load(&loose.n_spill), 2);

    gh_mock_fini(&pinned);
    gh_mock_fini(&loose);
    gh_mock_fini(&nospill);
}

/* ------------------------------------------------------ spill errors */

static void test_spill_error_reported_and_reclaim_goes_on(void **state)
{
    fx_t *f = *state;
    gh_mock_t bad, good;
    gh_mock_init(&bad, f->gov, "bad", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&good, f->gov, "good", 1, GH_HAS_ALL, f->cl);
    gh_mock_hold(&bad, 10 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&good, 10 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&bad.evict_max, 0);
    atomic_store(&good.evict_max, 0);
    atomic_store(&bad.spill_rc, MGOV_EIO);
    assert_int_equal(gh_mock_register(&bad, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&good, 20, 0), MGOV_OK);

    assert_int_equal(mgov_reclaim(f->gov, 5 * MiB, MGOV_PRESSURE_HIGH), 5 * MiB);
    assert_int_equal(atomic_load(&bad.n_spill), 1);
    assert_int_equal(atomic_load(&good.n_spill), 1);
    assert_int_equal(atomic_load(&good.last_spill_target), 5 * MiB); /* bad freed nothing */
    gh_event_t e;
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_SPILL_FAILED), 1);
    assert_true(gh_evlog_nth(f->log, MGOV_EV_SPILL_FAILED, 0, &e));
    assert_string_equal(e.name, "bad");
    assert_int_equal(e.ev.status, MGOV_EIO);
    assert_int_equal(e.ev.region, EXEC);
    assert_string_equal(e.region_name, "execution_buffers");
    assert_false(gh_evlog_named(f->log, MGOV_EV_SPILLED, "bad", 0, &e));
    assert_true(gh_evlog_named(f->log, MGOV_EV_SPILLED, "good", 0, &e));
    assert_int_equal(e.ev.freed, 5 * MiB);
    mgov_stats_t s = stats(f->gov);
    assert_int_equal(s.spill_failures, 1);
    assert_int_equal(s.spills, 1);

    /* the consumer's error comes back from mgov_spill_consumer */
    assert_int_equal(mgov_spill_consumer(f->gov, "bad"), MGOV_EIO);
    assert_int_equal(stats(f->gov).spill_failures, 2);
    gh_mock_fini(&bad);
    gh_mock_fini(&good);
}

static void test_spill_all_first_error(void **state)
{
    fx_t *f = *state;
    gh_mock_t a, b, c;
    gh_mock_init(&a, f->gov, "a", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&b, f->gov, "b", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&c, f->gov, "c", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&c, 3 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&a.spill_rc, MGOV_EIO);
    atomic_store(&b.spill_rc, MGOV_ENOSPC);
    /* registered out of order: spilled lowest priority first */
    assert_int_equal(gh_mock_register(&c, 30, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&b, 20, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&a, 10, 0), MGOV_OK);
    char buf[128];
    assert_int_equal(mgov_spill_all(f->gov), MGOV_EIO);
    assert_string_equal(gh_calllog_names(f->cl, GH_OP_SPILL, buf, sizeof buf), "a,b,c");
    assert_int_equal(gh_mock_spilled(&c), 3 * MiB);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_SPILL_FAILED), 2);
    gh_event_t e;
    assert_true(gh_evlog_named(f->log, MGOV_EV_SPILL_FAILED, "b", 0, &e));
    assert_int_equal(e.ev.status, MGOV_ENOSPC);

    atomic_store(&a.spill_rc, MGOV_OK);
    assert_int_equal(mgov_spill_all(f->gov), MGOV_ENOSPC);
    atomic_store(&b.spill_rc, MGOV_OK);
    assert_int_equal(mgov_spill_all(f->gov), MGOV_OK);
    gh_mock_fini(&a);
    gh_mock_fini(&b);
    gh_mock_fini(&c);
    /* no consumers at all */
    assert_int_equal(mgov_spill_all(f->gov), MGOV_OK);
}

/* ------------------------------------------------------------ reload */

static void test_reload_eligible(void **state)
{
    fx_t *f = *state;
    mgov_grant_t base = gh_take(f->gov, 0, 10 * MiB, MGOV_NO_RECLAIM);
    gh_mock_t a, b, c, mem, noreload;
    gh_mock_init(&a, f->gov, "a", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&b, f->gov, "b", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&c, f->gov, "c", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&mem, f->gov, "mem", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&noreload, f->gov, "noreload", EXEC, GH_HAS_ALL & ~GH_HAS_RELOAD, f->cl);
    gh_mock_set_spilled(&a, 30 * MiB);
    gh_mock_set_spilled(&b, 20 * MiB);
    gh_mock_set_spilled(&c, 40 * MiB);
    gh_mock_set_spilled(&noreload, 1 * MiB);
    gh_mock_force_tier(&mem, MGOV_TIER_IN_MEMORY);
    assert_int_equal(gh_mock_register(&c, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&a, 100, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&b, 50, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&mem, 200, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&noreload, 150, 0), MGOV_OK);

    assert_int_equal(mgov_reload_eligible(f->gov, 0), 0);
    assert_int_equal(mgov_reload_eligible(f->gov, -1), 0);
    assert_int_equal(mgov_reload_eligible(f->gov, __builtin_nan("")), 0);
    assert_int_equal(atomic_load(&a.n_reload), 0);

    /* 10 + 30 (a) + 20 (b) = 60 <= 70; + 40 (c) would pass 70 MiB: stop */
    char buf[128];
    assert_int_equal(mgov_reload_eligible(f->gov, 0.70), 2);
    assert_string_equal(gh_calllog_names(f->cl, GH_OP_RELOAD, buf, sizeof buf), "a,b");
    assert_int_equal(mgov_used(f->gov), 60 * MiB);
    assert_int_equal(gh_mock_held(&a), 30 * MiB);
    assert_int_equal(gh_mock_held(&b), 20 * MiB);
    assert_int_equal(gh_mock_spilled(&c), 40 * MiB);
    assert_int_equal(atomic_load(&mem.n_reload), 0);
    assert_int_equal(atomic_load(&noreload.n_reload), 0);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOADED), 2);
    gh_event_t e;
    assert_true(gh_evlog_named(f->log, MGOV_EV_RELOADED, "a", 0, &e));
    assert_int_equal(e.ev.bytes, 30 * MiB);
    assert_int_equal(e.ev.region, EXEC);
    assert_int_equal(stats(f->gov).reloads, 2);

    /* nothing left that fits: 0; a larger target takes c */
    assert_int_equal(mgov_reload_eligible(f->gov, 0.70), 0);
    assert_int_equal(mgov_reload_eligible(f->gov, 0.95), 0); /* 60 + 40 > 95 */
    mgov_grant_release(&base);
    assert_int_equal(mgov_reload_eligible(f->gov, 0.95), 1); /* 50 + 40 <= 95 */
    assert_int_equal(gh_mock_held(&c), 40 * MiB);

    gh_mock_fini(&a);
    gh_mock_fini(&b);
    gh_mock_fini(&c);
    gh_mock_fini(&mem);
    gh_mock_fini(&noreload);
    assert_int_equal(mgov_reload_eligible(NULL, 1.0), 0);
}

static void test_reload_failure_skipped(void **state)
{
    fx_t *f = *state;
    mgov_grant_t base = gh_take(f->gov, 0, 10 * MiB, MGOV_NO_RECLAIM);
    gh_mock_t a, b, c;
    gh_mock_init(&a, f->gov, "a", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&b, f->gov, "b", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&c, f->gov, "c", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_set_spilled(&a, 30 * MiB);
    gh_mock_set_spilled(&b, 20 * MiB);
    gh_mock_set_spilled(&c, 40 * MiB);
    atomic_store(&a.reload_rc, MGOV_EIO);
    assert_int_equal(gh_mock_register(&a, 100, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&b, 50, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&c, 10, 0), MGOV_OK);

    /* a fails (skipped); b: 10 + 20 = 30; c: 30 + 40 = 70 <= 70 */
    assert_int_equal(mgov_reload_eligible(f->gov, 0.70), 2);
    char buf[128];
    assert_string_equal(gh_calllog_names(f->cl, GH_OP_RELOAD, buf, sizeof buf), "a,b,c");
    assert_int_equal(mgov_used(f->gov), 70 * MiB);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOAD_FAILED), 1);
    gh_event_t e;
    assert_true(gh_evlog_nth(f->log, MGOV_EV_RELOAD_FAILED, 0, &e));
    assert_string_equal(e.name, "a");
    assert_int_equal(e.ev.status, MGOV_EIO);
    mgov_stats_t s = stats(f->gov);
    assert_int_equal(s.reloads, 2);
    assert_int_equal(s.reload_failures, 1);
    mgov_grant_release(&base);
    gh_mock_fini(&a);
    gh_mock_fini(&b);
    gh_mock_fini(&c);
}

/* ------------------------------------------------ re-entering callbacks */

typedef struct {
    int try_rc, resize_rc, stats_rc, big_rc, wait_rc;
    uint64_t consumers, nested_reclaim;
    size_t json_len, prom_len;
    mgov_pressure_t level;
    unsigned calls;
} reentry_t;

static reentry_t reentry;

static void reentrant_hook(gh_mock_t *m, gh_op_t op, uint64_t target)
{
    (void)target;
    if (op != GH_OP_EVICT && op != GH_OP_SPILL)
        return;
    mgov_t *gov = m->gov;
    reentry.calls++;
    mgov_grant_t g = MGOV_GRANT_INIT;
    reentry.try_rc = mgov_try_reserve(gov, 0, 1 * MiB, 0, &g);
    reentry.resize_rc = mgov_grant_resize(&g, 2 * MiB);
    mgov_stats_t s;
    reentry.stats_rc = mgov_stats(gov, &s);
    reentry.consumers = s.consumers;
    char buf[4096];
    reentry.json_len = mgov_stats_json(gov, buf, sizeof buf);
    reentry.prom_len = mgov_stats_prometheus(gov, NULL, 0);
    reentry.level = mgov_pressure(gov);
    reentry.nested_reclaim = mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_CRITICAL);
    /* does not fit: fails without reclaiming (no nested pass), no deadlock */
    mgov_grant_t big = MGOV_GRANT_INIT;
    reentry.big_rc = mgov_try_reserve(gov, 0, 90 * MiB, 0, &big);
    reentry.wait_rc = mgov_reserve(gov, 0, 90 * MiB, 0, 20 * 1000 * 1000, &big);
    mgov_grant_release(&g);
    mgov_grant_release(&g); /* idempotent */
}

static void test_callbacks_reenter(void **state)
{
    fx_t *f = *state;
    gh_mock_t m, other;
    gh_mock_init(&m, f->gov, "reentrant", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&other, f->gov, "other", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&m, 50 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&other, 10 * MiB, MGOV_NO_RECLAIM);
    settle(f->gov);
    atomic_store(&m.evict_max, 1 * MiB);
    m.hook = reentrant_hook;
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&other, 20, 0), MGOV_OK);
    memset(&reentry, 0, sizeof reentry);

    assert_int_equal(mgov_reclaim(f->gov, 4 * MiB, MGOV_PRESSURE_HIGH), 4 * MiB);
    assert_int_equal(reentry.calls, 2); /* evict and spill */
    assert_int_equal(reentry.try_rc, MGOV_OK);
    assert_int_equal(reentry.resize_rc, MGOV_OK);
    assert_int_equal(reentry.stats_rc, MGOV_OK);
    assert_int_equal(reentry.consumers, 2);
    assert_true(reentry.json_len > 100);
    assert_true(reentry.prom_len > 100);
    assert_int_equal(reentry.nested_reclaim, 0);
    assert_int_equal(reentry.big_rc, MGOV_EBUDGET);
    assert_int_equal(reentry.wait_rc, MGOV_ETIMEDOUT);
    assert_int_equal(atomic_load(&other.n_evict), 0); /* no nested pass reached it */
    assert_int_equal(gh_mock_held(&m), 46 * MiB);
    assert_int_equal(mgov_used(f->gov), 56 * MiB); /* the callback's grants are gone */
    assert_int_equal(stats(f->gov).reclaim_passes, 1); /* nested passes were skipped */

    /* the same from mgov_spill_consumer and mgov_spill_all */
    memset(&reentry, 0, sizeof reentry);
    assert_int_equal(mgov_spill_consumer(f->gov, "reentrant"), MGOV_OK);
    assert_int_equal(reentry.calls, 1);
    assert_int_equal(reentry.try_rc, MGOV_OK);
    assert_int_equal(reentry.consumers, 2);
    gh_mock_fini(&m);
    gh_mock_fini(&other);
    assert_int_equal(mgov_used(f->gov), 0);
}

/* An event callback may re-enter the governor too. */
static mgov_t *event_gov;
static atomic_uint event_reentries;

static void reentrant_event_cb(void *ctx, const mgov_event_t *ev)
{
    gh_evlog_cb(ctx, ev);
    mgov_stats_t s;
    if (event_gov && mgov_stats(event_gov, &s) == MGOV_OK && mgov_used(event_gov) == s.used) {
        char buf[64];
        mgov_stats_json(event_gov, buf, sizeof buf);
        atomic_fetch_add(&event_reentries, 1);
    }
}

static void test_event_callback_reenters(void **state)
{
    (void)state;
    gh_evlog_t *log = gh_evlog_new();
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 100 * MiB;
    cfg.on_event = reentrant_event_cb;
    cfg.event_ctx = log;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    event_gov = gov;
    atomic_store(&event_reentries, 0);
    gh_mock_t m;
    gh_mock_init(&m, gov, "m", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 80 * MiB, 0); /* pressure events, a proactive pass */
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);
    assert_int_equal(mgov_reclaim(gov, 5 * MiB, MGOV_PRESSURE_HIGH), 5 * MiB);
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, 0, 99 * MiB, 0, &g), MGOV_ELIMIT); /* REFUSED */
    gh_mock_fini(&m);
    event_gov = NULL;
    assert_true(atomic_load(&event_reentries) >= 4);
    assert_int_equal(atomic_load(&event_reentries), log->n);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_evlog_free(log);
}

/* ----------------------------------------------- reclaim on reserving */

static void test_try_reserve_reclaims_then_fits(void **state)
{
    fx_t *f = *state;
    gh_mock_t m;
    gh_mock_init(&m, f->gov, "cache", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&m, 90 * MiB, MGOV_NO_RECLAIM);
    settle(f->gov);
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);

    /* fail-fast: no reclaim */
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(f->gov, 0, 10 * MiB, MGOV_NO_RECLAIM, &g), MGOV_EBUDGET);
    assert_null(g.gov);
    assert_int_equal(atomic_load(&m.n_evict), 0);

    /* with reclaim: asks for the shortfall (90 + 10 - 95), then fits */
    assert_int_equal(mgov_try_reserve(f->gov, 0, 10 * MiB, 0, &g), MGOV_OK);
    assert_ptr_equal(g.gov, f->gov);
    assert_int_equal(g.bytes, 10 * MiB);
    assert_true(atomic_load(&m.n_evict) >= 1);
    assert_int_equal(f->cl->calls[0].op, GH_OP_EVICT);
    assert_int_equal(f->cl->calls[0].target, 5 * MiB);
    assert_true(mgov_used(f->gov) <= 100 * MiB * 95 / 100);
    gh_event_t e;
    assert_true(gh_evlog_nth(f->log, MGOV_EV_RECLAIM, 1, &e)); /* 0 was settle's */
    assert_int_equal(e.ev.bytes, 5 * MiB);
    assert_int_equal(e.ev.freed, 5 * MiB);
    mgov_grant_release(&g);

    /* nothing to give: EBUDGET after the pass */
    atomic_store(&m.evict_max, 0);
    atomic_store(&m.spill_max, 0);
    mgov_grant_t big = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(f->gov, 0, 94 * MiB, MGOV_NO_RECLAIM, &big), MGOV_EBUDGET);
    unsigned before = atomic_load(&m.n_evict);
    assert_int_equal(mgov_try_reserve(f->gov, 0, 94 * MiB, 0, &big), MGOV_EBUDGET);
    assert_int_equal(atomic_load(&m.n_evict), before + 1);
    assert_int_equal(atomic_load(&m.n_spill), 1); /* a refused reserve reclaims at HIGH */
    gh_mock_fini(&m);
}

static void test_refused_reserve_spills_even_at_normal(void **state)
{
    fx_t *f = *state;
    /* "A refused request reclaims at HIGH at least": at NORMAL pressure a
     * spill-only consumer is still asked to spill. */
    gh_mock_t m;
    gh_mock_init(&m, f->gov, "spiller", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&m, 60 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&m.evict_max, 0);
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);
    assert_int_equal(mgov_pressure(f->gov), MGOV_PRESSURE_NORMAL);
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(f->gov, 0, 40 * MiB, 0, &g), MGOV_OK);
    char buf[64];
    /* the refusal's pass at HIGH, then the pass owed for entering CRITICAL
     * (95 MiB back to 95% - 2%) */
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf),
                        "spiller:e,spiller:t,spiller:s,spiller:e,spiller:t,spiller:s");
    assert_int_equal(f->cl->calls[2].target, 5 * MiB); /* 60 + 40 - 95 */
    assert_int_equal(f->cl->calls[5].target, 2 * MiB);
    assert_int_equal(gh_mock_spilled(&m), 7 * MiB);
    assert_int_equal(mgov_used(f->gov), 93 * MiB);
    gh_event_t e;
    assert_true(gh_evlog_nth(f->log, MGOV_EV_RECLAIM, 0, &e));
    assert_int_equal(e.ev.level, MGOV_PRESSURE_HIGH);
    assert_int_equal(e.ev.freed, 5 * MiB);
    assert_true(gh_evlog_nth(f->log, MGOV_EV_RECLAIM, 1, &e));
    assert_int_equal(e.ev.level, MGOV_PRESSURE_CRITICAL);
    mgov_grant_release(&g);
    gh_mock_fini(&m);
}

typedef struct {
    gh_mock_t *m;
    sem_t go;
    atomic_int armed;
    uint64_t give_back;
    atomic_int released;
} lazy_t;

static lazy_t *lazy;

/* evict frees nothing now, but schedules a release from another thread */
static void lazy_hook(gh_mock_t *m, gh_op_t op, uint64_t target)
{
    (void)m;
    (void)target;
    if (op == GH_OP_EVICT && atomic_exchange(&lazy->armed, 0))
        sem_post(&lazy->go);
}

static void *lazy_releaser(void *arg)
{
    lazy_t *l = arg;
    if (!gh_sem_wait_ms(&l->go, 10000))
        return NULL;
    gh_sleep_ms(50);
    pthread_mutex_lock(&l->m->mu);
    mgov_grant_resize(&l->m->grant, l->m->grant.bytes - l->give_back);
    pthread_mutex_unlock(&l->m->mu);
    atomic_store(&l->released, 1);
    return NULL;
}

static void lazy_case(fx_t *f, unsigned flags)
{
    gh_mock_t m;
    gh_mock_init(&m, f->gov, "lazy", EXEC, GH_HAS_USAGE | GH_HAS_EVICT, f->cl);
    gh_mock_hold(&m, 95 * MiB, MGOV_NO_RECLAIM);
    settle(f->gov);
    atomic_store(&m.evict_max, 0);
    m.hook = lazy_hook;
    lazy_t l = { .m = &m, .give_back = 20 * MiB };
    sem_init(&l.go, 0, 0);
    atomic_init(&l.armed, 1);
    atomic_init(&l.released, 0);
    lazy = &l;
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, lazy_releaser, &l), 0);

    if (flags & MGOV_NO_RECLAIM) /* the reclaim happens before, explicitly */
        assert_int_equal(mgov_reclaim(f->gov, 10 * MiB, MGOV_PRESSURE_HIGH), 0);
    mgov_grant_t g = MGOV_GRANT_INIT;
    uint64_t t0 = gh_now_ns();
    int rc = mgov_reserve(f->gov, 0, 10 * MiB, flags, 5000000000ll, &g);
    uint64_t took = gh_now_ns() - t0;
    pthread_join(t, NULL);
    assert_int_equal(rc, MGOV_OK);
    assert_int_equal(atomic_load(&l.released), 1);
    assert_true(took < 3000000000ull); /* woken by the release, not the deadline */
    assert_int_equal(g.bytes, 10 * MiB);
    assert_int_equal(mgov_used(f->gov), 85 * MiB);
    mgov_stats_t s = stats(f->gov);
    assert_int_equal(s.regions[0].waits, 1);
    assert_int_equal(s.waiters, 0);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_WAIT), 1);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_WAITED), 1);
    mgov_grant_release(&g);
    gh_mock_fini(&m);
    sem_destroy(&l.go);
    lazy = NULL;
}

static void test_late_release_wakes_waiter(void **state)
{
    lazy_case(*state, MGOV_NO_RECLAIM);
}

static void test_late_release_wakes_reclaiming_waiter(void **state)
{
    lazy_case(*state, 0);
}

/* ------------------------------------------------ one pass at a time */

typedef struct {
    sem_t entered, release;
} gate_t;

static gate_t *gate;

static void gate_hook(gh_mock_t *m, gh_op_t op, uint64_t target)
{
    (void)m;
    (void)target;
    if (op == GH_OP_EVICT) {
        sem_post(&gate->entered);
        assert_true(gh_sem_wait_ms(&gate->release, 10000));
    }
}

typedef struct {
    mgov_t *gov;
    uint64_t target;
    uint64_t result;
} reclaimer_t;

static void *reclaimer_main(void *arg)
{
    reclaimer_t *r = arg;
    r->result = mgov_reclaim(r->gov, r->target, MGOV_PRESSURE_MODERATE);
    return NULL;
}

static void test_one_pass_at_a_time(void **state)
{
    fx_t *f = *state;
    gate_t gt;
    sem_init(&gt.entered, 0, 0);
    sem_init(&gt.release, 0, 0);
    gate = &gt;
    gh_mock_t m;
    gh_mock_init(&m, f->gov, "slow", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&m, 7 * MiB, MGOV_NO_RECLAIM);
    m.hook = gate_hook;
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);

    reclaimer_t r1 = { .gov = f->gov, .target = 10 * MiB };
    reclaimer_t r2 = { .gov = f->gov, .target = 20 * MiB };
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, reclaimer_main, &r1), 0);
    assert_true(gh_sem_wait_ms(&gt.entered, 10000));
    assert_int_equal(pthread_create(&t2, NULL, reclaimer_main, &r2), 0);
    gh_sleep_ms(150); /* t2 reaches the running pass and waits for it */
    unsigned during = atomic_load(&m.n_evict);
    sem_post(&gt.release);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    sem_post(&gt.release); /* in case a second pass ran (test fails below) */

    assert_int_equal(during, 1);
    assert_int_equal(atomic_load(&m.n_evict), 1); /* the callback ran once */
    assert_int_equal(r1.result, 7 * MiB);
    assert_int_equal(r2.result, 7 * MiB); /* the same result */
    mgov_stats_t s = stats(f->gov);
    assert_int_equal(s.reclaim_passes, 1);
    assert_int_equal(s.reclaim_freed, 7 * MiB);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RECLAIM), 1);
    m.hook = NULL;
    gh_mock_fini(&m);
    gate = NULL;
    sem_destroy(&gt.entered);
    sem_destroy(&gt.release);
}

/* ------------------------------------------------------ region scope */

static void test_limit_refusal_reclaims_own_region(void **state)
{
    (void)state;
    gh_calllog_t *cl = gh_calllog_new();
    const mgov_region_config_t regions[2] = { { "capped", 0, 10 * MiB }, { "free", 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 100 * MiB;
    cfg.regions = regions;
    cfg.n_regions = 2;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    gh_mock_t a, b;
    gh_mock_init(&a, gov, "in_capped", 0, GH_HAS_ALL, cl);
    gh_mock_init(&b, gov, "in_free", 1, GH_HAS_ALL, cl);
    gh_mock_hold(&a, 10 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&b, 10 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(gh_mock_register(&a, 50, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&b, 10, 0), MGOV_OK); /* lower priority, other region */

    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, 0, 1 * MiB, MGOV_NO_RECLAIM, &g), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 0, 1 * MiB, 0, &g), MGOV_OK);
    char buf[128];
    assert_string_equal(gh_calllog_str(cl, buf, sizeof buf), "in_capped:e");
    assert_int_equal(cl->calls[0].target, 1 * MiB);
    assert_int_equal(gh_mock_held(&b), 10 * MiB);
    mgov_grant_t h = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, 0, 10 * MiB + 1, 0, &h), MGOV_ELIMIT);
    mgov_grant_release(&g);
    gh_mock_fini(&a);
    gh_mock_fini(&b);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    gh_calllog_free(cl);
}

/* --------------------------------------------------- events, counters */

static void test_events_and_counters(void **state)
{
    fx_t *f = *state;
    gh_mock_t v1, v2;
    gh_mock_init(&v1, f->gov, "v1", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&v2, f->gov, "v2", MGOV_REGION_INDEX_BUFFERS, GH_HAS_ALL, f->cl);
    gh_mock_hold(&v1, 5 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&v2, 20 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&v1.evict_max, 2 * MiB);
    atomic_store(&v1.spill_max, 3 * MiB);
    atomic_store(&v2.evict_max, 0);
    assert_int_equal(gh_mock_register(&v1, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&v2, 20, 0), MGOV_OK);

    assert_int_equal(mgov_reclaim(f->gov, 10 * MiB, MGOV_PRESSURE_HIGH), 10 * MiB);
    gh_event_t e;
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_EVICTED), 1); /* v2 freed nothing */
    assert_true(gh_evlog_named(f->log, MGOV_EV_EVICTED, "v1", 0, &e));
    assert_int_equal(e.ev.bytes, 10 * MiB);
    assert_int_equal(e.ev.freed, 2 * MiB);
    assert_int_equal(e.ev.region, EXEC);
    assert_string_equal(e.region_name, "execution_buffers");
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_SPILLED), 2);
    assert_true(gh_evlog_named(f->log, MGOV_EV_SPILLED, "v1", 0, &e));
    assert_int_equal(e.ev.bytes, 8 * MiB);
    assert_int_equal(e.ev.freed, 3 * MiB);
    assert_int_equal(e.ev.status, MGOV_OK);
    assert_true(gh_evlog_named(f->log, MGOV_EV_SPILLED, "v2", 0, &e));
    assert_int_equal(e.ev.bytes, 5 * MiB);
    assert_int_equal(e.ev.freed, 5 * MiB);
    assert_int_equal(e.ev.region, MGOV_REGION_INDEX_BUFFERS);
    uint64_t spilled_seq = e.ev.seq;
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RECLAIM), 1);
    assert_true(gh_evlog_nth(f->log, MGOV_EV_RECLAIM, 0, &e));
    assert_int_equal(e.ev.bytes, 10 * MiB);
    assert_int_equal(e.ev.freed, 10 * MiB);
    assert_int_equal(e.ev.level, MGOV_PRESSURE_HIGH);
    assert_int_equal(e.ev.region, -1);
    assert_int_equal(e.ev.used, 15 * MiB);
    assert_true(e.ev.seq > spilled_seq); /* the pass ends after its victims */

    assert_int_equal(mgov_reclaim(f->gov, 3 * MiB, MGOV_PRESSURE_MODERATE), 0);
    mgov_stats_t s = stats(f->gov);
    assert_int_equal(s.reclaim_passes, 2);
    assert_int_equal(s.reclaim_asked, 13 * MiB);
    assert_int_equal(s.reclaim_freed, 10 * MiB);
    assert_int_equal(s.evictions, 1);
    assert_int_equal(s.spills, 2);
    assert_int_equal(s.spill_failures, 0);
    assert_int_equal(s.used, 15 * MiB);
    gh_mock_fini(&v1);
    gh_mock_fini(&v2);
}

/* A consumer whose tier op says ON_DISK holds nothing to spill: no path
 * asks it, and no empty "spilled" event is reported. */
static void test_on_disk_not_asked_to_spill(void **state)
{
    fx_t *f = *state;
    gh_mock_t disk, ram;
    gh_mock_init(&disk, f->gov, "disk", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_init(&ram, f->gov, "ram", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&disk, 2 * MiB, MGOV_NO_RECLAIM); /* says ON_DISK all the same */
    gh_mock_hold(&ram, 4 * MiB, MGOV_NO_RECLAIM);
    gh_mock_force_tier(&disk, MGOV_TIER_ON_DISK);
    atomic_store(&disk.evict_max, 0);
    atomic_store(&ram.evict_max, 0);
    assert_int_equal(gh_mock_register(&disk, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&ram, 20, 0), MGOV_OK);
    char buf[256];

    assert_int_equal(mgov_reclaim(f->gov, 1 * MiB, MGOV_PRESSURE_HIGH), 1 * MiB);
    assert_string_equal(gh_calllog_str(f->cl, buf, sizeof buf), "disk:e,disk:t,ram:e,ram:t,ram:s");
    gh_calllog_clear(f->cl);
    assert_int_equal(mgov_spill_all(f->gov), MGOV_OK);
    assert_string_equal(gh_calllog_names(f->cl, GH_OP_SPILL, buf, sizeof buf), "ram");
    assert_int_equal(mgov_spill_consumer(f->gov, "disk"), MGOV_OK);
    assert_int_equal(atomic_load(&disk.n_spill), 0);
    assert_int_equal(gh_mock_held(&disk), 2 * MiB);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_SPILLED), 2); /* both of ram's */
    gh_event_t e;
    assert_false(gh_evlog_named(f->log, MGOV_EV_SPILLED, "disk", 0, &e));
    assert_int_equal(stats(f->gov).spills, 2);

    gh_mock_fini(&disk);
    gh_mock_fini(&ram);
}

/* ----------------------------------------------------------- ENOMEM */

static void test_out_of_memory(void **state)
{
    fx_t *f = *state;
    gh_mock_t m;
    gh_mock_init(&m, f->gov, "m", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&m, 10 * MiB, MGOV_NO_RECLAIM);
    gh_mock_set_spilled(&m, 0);
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);

    /* no snapshot: nothing is asked, nothing freed, a clean error */
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, -1);
    uint64_t freed = mgov_reclaim(f->gov, 1 * MiB, MGOV_PRESSURE_HIGH);
    int all = mgov_spill_all(f->gov);
    int one = mgov_spill_consumer(f->gov, "m");
    unsigned reloaded = mgov_reload_eligible(f->gov, 1.0);
    mgov_grant_t g = MGOV_GRANT_INIT;
    int big = mgov_try_reserve(f->gov, 0, 90 * MiB, 0, &g); /* reclaim cannot help */
    mgov__fault_disarm_all();
    assert_int_equal(freed, 0);
    assert_int_equal(all, MGOV_ENOMEM);
    assert_int_equal(one, MGOV_ENOMEM);
    assert_int_equal(reloaded, 0);
    assert_int_equal(big, MGOV_EBUDGET);
    assert_null(g.gov);
    assert_int_equal(f->cl->n, 0);
    assert_int_equal(gh_mock_held(&m), 10 * MiB);

    /* memory back: it works */
    assert_int_equal(mgov_reclaim(f->gov, 1 * MiB, MGOV_PRESSURE_HIGH), 1 * MiB);
    assert_int_equal(mgov_try_reserve(f->gov, 0, 90 * MiB, 0, &g), MGOV_OK);
    mgov_grant_release(&g);
    gh_mock_fini(&m);
}

/* A pass that frees at least 1/16 of the budget gives the heap back to the
 * operating system (malloc_trim); a smaller one does not. */
static void test_large_reclaim_trims_heap(void **state)
{
    fx_t *f = *state;
    gh_mock_t m;
    gh_mock_init(&m, f->gov, "m", EXEC, GH_HAS_ALL, f->cl);
    gh_mock_hold(&m, 40 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);
    assert_int_equal(stats(f->gov).malloc_trims, 0);
    assert_int_equal(mgov_reclaim(f->gov, 1 * MiB, MGOV_PRESSURE_MODERATE), 1 * MiB);
    assert_int_equal(stats(f->gov).malloc_trims, 0); /* 1 MiB < 100 MiB / 16 */
    assert_int_equal(mgov_reclaim(f->gov, 7 * MiB, MGOV_PRESSURE_MODERATE), 7 * MiB);
    assert_int_equal(stats(f->gov).malloc_trims, 1);
    char json[4096];
    assert_true(mgov_stats_json(f->gov, json, sizeof json) < sizeof json);
    assert_non_null(strstr(json, "\"malloc_trims\":1"));
    gh_mock_fini(&m);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_victim_order),
        T(test_levels),
        T(test_force_ram_never_spilled),
        T(test_spill_error_reported_and_reclaim_goes_on),
        T(test_spill_all_first_error),
        T(test_reload_eligible),
        T(test_reload_failure_skipped),
        T(test_callbacks_reenter),
        FH_TEST(test_event_callback_reenters),
        T(test_try_reserve_reclaims_then_fits),
        T(test_refused_reserve_spills_even_at_normal),
        T(test_late_release_wakes_waiter),
        T(test_late_release_wakes_reclaiming_waiter),
        T(test_one_pass_at_a_time),
        FH_TEST(test_limit_refusal_reclaims_own_region),
        T(test_events_and_counters),
        T(test_on_disk_not_asked_to_spill),
        T(test_out_of_memory),
        T(test_large_reclaim_trims_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
