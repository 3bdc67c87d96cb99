/* test_region_stress.c - region settings changed while four threads
 * reserve, resize and release in that region and its neighbour, some of
 * them waiting (src/governor/region.c against grant.c and wait.c).
 *
 * A setter thread alternates the region's limit between LOW and HIGH and
 * its reservation between two values.  A watcher checks, all along:
 *   - usage never exceeds the budget, nor the region HIGH;
 *   - once the region's bytes are seen at or under LOW while LOW is in
 *     force (the set call returned, the next has not begun), they are
 *     never seen above LOW again until the limit is raised: no request is
 *     admitted over the limit in force at its admission;
 * At quiescence the committed counter equals the sum over regions of
 * max(used, reserved) (it telescoped through every change), and every
 * counter is back to zero after the releases.
 *
 * A second case runs the rebalancer every millisecond while four threads
 * make two limited regions busy in turn: no region ever holds more than
 * both limits together, no lender's limit goes below its reservation, and
 * at the end the two limits add up to their own ones again.  Threads count
 * violations; the main thread asserts.  MGOV_STRESS_OPS sets operations per thread.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "governor/internal.h"
#include "gov_helpers.h"
#include "memgov.h"

#define THREADS 4
#define HELD 16
#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define BUDGET (64 * MiB)
#define LOW (6 * MiB)
#define HIGH (24 * MiB)

enum { R_HOT, R_COLD, N_REGIONS };
enum { PH_CHANGING, PH_LOW, PH_HIGH };

static mgov_t *gov;
static _Atomic int done;
/* episode number x 4 + PH_*: an episode the watcher missed is not taken
 * for the one it saw */
static _Atomic uint64_t phase;
static uint64_t episode;
static _Atomic uint64_t over_budget, over_high, over_low, checks, bad_rc, n_ok, n_sets;

/* A reserve's outcome: granted, or refused the ways a busy governor may
 * refuse; anything else is a bug. */
static void count_rc(int rc)
{
    if (rc == MGOV_OK)
        atomic_fetch_add(&n_ok, 1);
    else if (rc != MGOV_EBUDGET && rc != MGOV_ELIMIT && rc != MGOV_ETIMEDOUT)
        atomic_fetch_add(&bad_rc, 1);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *watcher(void *arg)
{
    (void)arg;
    bool seen_under = false;
    uint64_t last_phase = UINT64_MAX;
    while (!atomic_load(&done)) {
        uint64_t ph_ep = atomic_load(&phase);
        uint64_t r = mgov__region_used(gov, R_HOT); /* seq_cst */
        uint64_t u = atomic_load(&gov->used);
        if (atomic_load(&phase) != ph_ep) /* changed meanwhile: read again */
            continue;
        if (ph_ep != last_phase) {
            seen_under = false;
            last_phase = ph_ep;
        }
        int ph = (int)(ph_ep & 3);
        atomic_fetch_add(&checks, 1);
        if (u > BUDGET)
            atomic_fetch_add(&over_budget, 1);
        if (r > HIGH)
            atomic_fetch_add(&over_high, 1);
        if (ph == PH_LOW) {
            if (r <= LOW)
                seen_under = true;
            else if (seen_under)
                atomic_fetch_add(&over_low, 1);
        }
    }
    return NULL;
}

static void *setter(void *arg)
{
    (void)arg;
    uint64_t seed = 42;
    while (!atomic_load(&done)) {
        uint64_t res = (rnd(&seed) & 1) ? 4 * MiB : 1 * MiB;
        atomic_store(&phase, ++episode * 4 + PH_CHANGING);
        if (mgov_region_set(gov, R_HOT, res, LOW) != MGOV_OK)
            atomic_fetch_add(&bad_rc, 1);
        atomic_store(&phase, ++episode * 4 + PH_LOW);
        for (volatile int i = 0; i < 20000; i++)
            ;
        atomic_store(&phase, ++episode * 4 + PH_CHANGING);
        if (mgov_region_set(gov, R_HOT, res, HIGH) != MGOV_OK)
            atomic_fetch_add(&bad_rc, 1);
        atomic_store(&phase, ++episode * 4 + PH_HIGH);
        for (volatile int i = 0; i < 20000; i++)
            ;
        atomic_fetch_add(&n_sets, 2);
    }
    return NULL;
}

typedef struct job {
    unsigned id;
    unsigned long ops;
} job_t;

static void *work(void *arg)
{
    job_t *j = arg;
    uint64_t seed = (j->id + 1) * 0x9e3779b97f4a7c15ull;
    mgov_grant_t held[HELD];
    memset(held, 0, sizeof held);
    for (unsigned long n = 0; n < j->ops; n++) {
        uint64_t r = rnd(&seed);
        unsigned k = (unsigned)(r % HELD);
        int region = (r >> 8) & 3 ? R_HOT : R_COLD;
        uint64_t bytes = ((r >> 16) % 512 + 1) * 4 * KiB; /* 4 KiB .. 2 MiB */
        unsigned what = (unsigned)((r >> 32) % 8);
        if (held[k].gov) {
            if (what < 2)
                mgov_grant_resize(&held[k], bytes);
            else
                mgov_grant_release(&held[k]);
            continue;
        }
        int rc;
        unsigned flags = MGOV_NO_RECLAIM | ((r >> 40) % 5 == 0 ? MGOV_REVOCABLE : 0);
        if (what == 7)
            rc = mgov_reserve(gov, region, bytes, flags, 200000, &held[k]);
        else
            rc = mgov_try_reserve(gov, region, bytes, flags, &held[k]);
        count_rc(rc);
    }
    for (unsigned k = 0; k < HELD; k++)
        mgov_grant_release(&held[k]);
    return NULL;
}

static void test_settings_change_under_load(void **state)
{
    (void)state;
    unsigned long ops = 400000;
#if defined(MGOV_SANITIZED)
    ops /= 8;
#endif
    ops = gh_stress_ops(ops);
    mgov_region_config_t regions[N_REGIONS] = { { "hot", 1 * MiB, HIGH }, { "cold", 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = BUDGET;
    cfg.regions = regions;
    cfg.n_regions = N_REGIONS;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    atomic_store(&phase, PH_HIGH);

    pthread_t w, s, t[THREADS];
    job_t jobs[THREADS];
    pthread_create(&w, NULL, watcher, NULL);
    pthread_create(&s, NULL, setter, NULL);
    for (unsigned i = 0; i < THREADS; i++) {
        jobs[i] = (job_t){ i, ops };
        pthread_create(&t[i], NULL, work, &jobs[i]);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&done, 1);
    pthread_join(s, NULL);
    pthread_join(w, NULL);

    printf("checks %llu, settings changed %llu times, grants %llu; over: budget %llu, "
           "high %llu, low %llu\n",
           (unsigned long long)checks, (unsigned long long)n_sets, (unsigned long long)n_ok,
           (unsigned long long)over_budget, (unsigned long long)over_high,
           (unsigned long long)over_low);
    assert_int_equal(bad_rc, 0);
    assert_int_equal(over_budget, 0);
    assert_int_equal(over_high, 0);
    assert_int_equal(over_low, 0);
    assert_true(n_sets > 10);
    assert_true(n_ok > 1000);
    /* everything released: every counter is back to its resting value */
    assert_int_equal(atomic_load(&gov->used), 0);
    for (int i = 0; i < N_REGIONS; i++) {
        assert_int_equal(mgov__region_used(gov, i), 0);
        assert_int_equal(mgov__region_grants(gov, i), 0);
    }
    assert_int_equal(atomic_load(&gov->committed),
                     mgov__reserved_now(gov, R_HOT) + mgov__reserved_now(gov, R_COLD));
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------------- the rebalancer under load */

static _Atomic uint64_t lender_below_guarantee, rb_checks;

static void *rb_watcher(void *arg)
{
    (void)arg;
    while (!atomic_load(&done)) {
        uint64_t la, lb;
        mgov_region_get(gov, R_HOT, NULL, &la);
        mgov_region_get(gov, R_COLD, NULL, &lb);
        uint64_t ua = mgov__region_used(gov, R_HOT), ub = mgov__region_used(gov, R_COLD);
        atomic_fetch_add(&rb_checks, 1);
        if (atomic_load(&gov->used) > BUDGET)
            atomic_fetch_add(&over_budget, 1);
        /* a region never holds more than both own limits together */
        if (ua > 32 * MiB || ub > 32 * MiB)
            atomic_fetch_add(&over_high, 1);
        /* a lender's limit never goes below its reservation */
        if (la < 4 * MiB || lb < 4 * MiB)
            atomic_fetch_add(&lender_below_guarantee, 1);
    }
    return NULL;
}

/* Every thread works in the same region for RB_PHASE_MS, then in the
 * other: by the clock, not by counts, so the idle region is idle whatever
 * each thread's speed (a sanitizer's, a loaded machine's) and the
 * rebalancer sees a lender idle for its 10 ticks in every phase. */
#define RB_PHASE_MS 50
#define RB_PHASES 6 /* at least: three turns each */
static uint64_t rb_start_ns;

static void *rb_work(void *arg)
{
    job_t *j = arg;
    uint64_t seed = (j->id + 7) * 0x9e3779b97f4a7c15ull;
    mgov_grant_t held[HELD];
    memset(held, 0, sizeof held);
    for (unsigned long n = 0;; n++) {
        uint64_t turn = (gh_now_ns() - rb_start_ns) / (RB_PHASE_MS * 1000000ull);
        if (n >= j->ops && turn >= RB_PHASES)
            break;
        uint64_t r = rnd(&seed);
        unsigned k = (unsigned)(r % HELD);
        int region = turn % 2 ? R_HOT : R_COLD;
        if (held[k].gov) {
            mgov_grant_release(&held[k]);
            continue;
        }
        uint64_t bytes = ((r >> 16) % 256 + 1) * 16 * KiB; /* 16 KiB .. 4 MiB */
        int rc = mgov_reserve(gov, region, bytes, MGOV_NO_RECLAIM, 300000, &held[k]);
        count_rc(rc);
    }
    for (unsigned k = 0; k < HELD; k++)
        mgov_grant_release(&held[k]);
    return NULL;
}

static void test_rebalancer_under_load(void **state)
{
    (void)state;
    unsigned long ops = 20000;
#if defined(MGOV_SANITIZED)
    ops /= 4;
#endif
    ops = gh_stress_ops(ops);
    atomic_store(&done, 0);
    atomic_store(&over_budget, 0);
    atomic_store(&over_high, 0);
    atomic_store(&bad_rc, 0);
    atomic_store(&n_ok, 0);
    mgov_region_config_t regions[N_REGIONS] = { { "hot", 4 * MiB, 16 * MiB },
                                                { "cold", 4 * MiB, 16 * MiB } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = BUDGET;
    cfg.regions = regions;
    cfg.n_regions = N_REGIONS;
    cfg.flags = MGOV_REBALANCE;
    cfg.rebalance_interval_ms = 1;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    pthread_t w, t[THREADS];
    job_t jobs[THREADS];
    pthread_create(&w, NULL, rb_watcher, NULL);
    rb_start_ns = gh_now_ns();
    for (unsigned i = 0; i < THREADS; i++) {
        jobs[i] = (job_t){ i, ops };
        pthread_create(&t[i], NULL, rb_work, &jobs[i]);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&done, 1);
    pthread_join(w, NULL);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    printf("rebalancer: %llu moves, %llu grants, %llu checks; over budget %llu, over both "
           "limits %llu, below a guarantee %llu\n",
           (unsigned long long)s.rebalance_moves, (unsigned long long)n_ok,
           (unsigned long long)rb_checks, (unsigned long long)over_budget,
           (unsigned long long)over_high, (unsigned long long)lender_below_guarantee);
    assert_int_equal(bad_rc, 0);
    assert_int_equal(over_budget, 0);
    assert_int_equal(over_high, 0);
    assert_int_equal(lender_below_guarantee, 0);
    assert_true(n_ok > 1000);
    assert_true(s.rebalance_moves > 0);
    /* loans move limit, never make any: the two limits add up to the own ones */
    uint64_t la, lb;
    mgov_region_get(gov, R_HOT, NULL, &la);
    mgov_region_get(gov, R_COLD, NULL, &lb);
    assert_int_equal(la + lb, 32 * MiB);
    assert_int_equal(atomic_load(&gov->used), 0);
    assert_int_equal(atomic_load(&gov->committed), 8 * MiB);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_change_under_load),
        cmocka_unit_test(test_rebalancer_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
