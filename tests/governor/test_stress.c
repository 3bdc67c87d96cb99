/* test_stress.c - the governor under concurrent random load.
 *
 * 4 worker threads x MGOV_STRESS_OPS (default 10^6) random operations each:
 * fail-fast, urgent and revocable reserves, blocking reserves with short
 * deadlines, resize, split, merge, release, and grants handed to a cache
 * consumer that the governor's reclaim evicts from.  Regions have
 * reservations and limits so every admission rule is exercised.
 *
 * A watcher thread checks, all along, that usage never exceeds the budget
 * and no region exceeds its limit.  At quiescence the grants the threads
 * hold must add up to what each region counts; after releasing them all,
 * every counter must be back to zero.  Threads never call cmocka asserts:
 * they count violations, which the main thread asserts on.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "governor/internal.h"
#include "gov_helpers.h"
#include "memgov.h"

#define THREADS 4
#define HELD_MAX 32
#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define BUDGET (64 * MiB)

enum { R_HOT, R_COLD, R_EXEC, R_SPILL, N_REGIONS };
static const mgov_region_config_t regions[N_REGIONS] = {
    { "hot", 8 * MiB, 32 * MiB },
    { "cold", 0, 0 },
    { "exec", 4 * MiB, 0 },
    { "spill_staging", 0, 16 * MiB },
};

static mgov_t *gov;
static _Atomic int done;
static _Atomic uint64_t over_budget, over_limit, bad_rc, watcher_checks;
static _Atomic uint64_t n_ok, n_refused, n_waited_ok, n_timeouts, n_events;

/* ------------------------------------------------- the cache consumer */

#define CACHE_MAX 4096
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static mgov_grant_t cache[CACHE_MAX];
static unsigned cache_n;

static uint64_t cache_evict(void *ctx, uint64_t target)
{
    (void)ctx;
    uint64_t freed = 0;
    pthread_mutex_lock(&cache_lock);
    while (cache_n && freed < target) {
        mgov_grant_t g = cache[--cache_n];
        freed += g.bytes;
        mgov_grant_release(&g);
    }
    pthread_mutex_unlock(&cache_lock);
    return freed;
}

static uint64_t cache_usage(void *ctx)
{
    (void)ctx;
    uint64_t sum = 0;
    pthread_mutex_lock(&cache_lock);
    for (unsigned i = 0; i < cache_n; i++)
        sum += cache[i].bytes;
    pthread_mutex_unlock(&cache_lock);
    return sum;
}

static void on_event(void *ctx, const mgov_event_t *ev)
{
    (void)ctx;
    (void)ev;
    atomic_fetch_add_explicit(&n_events, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------ workers */

typedef struct {
    unsigned seed;
    long ops;
    mgov_grant_t held[HELD_MAX];
    unsigned n;
    pthread_t thread;
} worker_t;

static uint64_t rnd(worker_t *w, uint64_t n)
{
    return (uint64_t)rand_r(&w->seed) % n;
}

static uint64_t rnd_size(worker_t *w)
{
    /* mostly small, sometimes large: 1 B .. 4 MiB */
    switch (rnd(w, 4)) {
    case 0: return 1 + rnd(w, 4 * KiB);
    case 1: return 1 + rnd(w, 64 * KiB);
    case 2: return 1 + rnd(w, 512 * KiB);
    default: return 1 + rnd(w, 4 * MiB);
    }
}

static unsigned rnd_flags(worker_t *w)
{
    static const unsigned choices[] = { 0, 0, 0, MGOV_NO_RECLAIM, MGOV_URGENT, MGOV_REVOCABLE,
                                        MGOV_REVOCABLE | MGOV_NO_RECLAIM,
                                        MGOV_URGENT | MGOV_REVOCABLE };
    return choices[rnd(w, sizeof choices / sizeof choices[0])];
}

static void check_rc(int rc, bool blocking)
{
    if (rc == MGOV_OK)
        atomic_fetch_add_explicit(&n_ok, 1, memory_order_relaxed);
    else if (rc == MGOV_EBUDGET || rc == MGOV_ELIMIT)
        atomic_fetch_add_explicit(&n_refused, 1, memory_order_relaxed);
    else if (blocking && rc == MGOV_ETIMEDOUT)
        atomic_fetch_add_explicit(&n_timeouts, 1, memory_order_relaxed);
    else
        atomic_fetch_add(&bad_rc, 1);
}

static void hold(worker_t *w, const mgov_grant_t *g)
{
    if (w->n < HELD_MAX)
        w->held[w->n++] = *g;
    else {
        mgov_grant_t copy = *g;
        mgov_grant_release(&copy);
    }
}

static void drop(worker_t *w, unsigned i)
{
    mgov_grant_release(&w->held[i]);
    w->held[i] = w->held[--w->n];
}

static void one_op(worker_t *w)
{
    mgov_grant_t g;
    unsigned op = (unsigned)rnd(w, 100);
    if (op < 30) {
        int rc = mgov_try_reserve(gov, (int)rnd(w, N_REGIONS), rnd_size(w), rnd_flags(w), &g);
        check_rc(rc, false);
        if (rc == MGOV_OK)
            hold(w, &g);
        else if (g.gov)
            atomic_fetch_add(&bad_rc, 1); /* a refused request leaves an empty grant */
    } else if (op < 55) {
        if (w->n)
            drop(w, (unsigned)rnd(w, w->n));
    } else if (op < 65) {
        if (w->n) {
            mgov_grant_t *h = &w->held[rnd(w, w->n)];
            uint64_t before = h->bytes;
            int rc = mgov_grant_resize(h, rnd_size(w));
            check_rc(rc, false);
            if (rc != MGOV_OK && h->bytes != before)
                atomic_fetch_add(&bad_rc, 1);
        }
    } else if (op < 73) {
        if (w->n && w->n < HELD_MAX) {
            mgov_grant_t *h = &w->held[rnd(w, w->n)];
            if (mgov_grant_split(h, rnd(w, h->bytes + 1), &g) != MGOV_OK)
                atomic_fetch_add(&bad_rc, 1);
            else
                hold(w, &g);
        }
    } else if (op < 81) {
        if (w->n >= 2) {
            unsigned a = (unsigned)rnd(w, w->n), b = (unsigned)rnd(w, w->n);
            if (a != b && w->held[a].region == w->held[b].region) {
                if (mgov_grant_merge(&w->held[a], &w->held[b]) != MGOV_OK)
                    atomic_fetch_add(&bad_rc, 1);
                w->held[b] = w->held[--w->n];
            }
        }
    } else if (op < 83) {
        int64_t deadline = (int64_t)rnd(w, 200000); /* 0 .. 200 us */
        int rc = mgov_reserve(gov, (int)rnd(w, N_REGIONS), rnd_size(w), rnd_flags(w), deadline,
                              &g);
        check_rc(rc, true);
        if (rc == MGOV_OK)
            hold(w, &g), atomic_fetch_add_explicit(&n_waited_ok, 1, memory_order_relaxed);
    } else if (op < 90) {
        /* hand a revocable grant to the cache; reclaim may take it back */
        int rc = mgov_try_reserve(gov, R_COLD, 1 + rnd(w, 256 * KiB),
                                  MGOV_REVOCABLE | MGOV_NO_RECLAIM, &g);
        if (rc == MGOV_OK) {
            pthread_mutex_lock(&cache_lock);
            if (cache_n < CACHE_MAX)
                cache[cache_n++] = g, g.gov = NULL;
            pthread_mutex_unlock(&cache_lock);
            if (g.gov)
                mgov_grant_release(&g);
        }
    } else if (op < 92) {
        mgov_stats_t s;
        if (mgov_stats(gov, &s) != MGOV_OK || s.used > s.budget)
            atomic_fetch_add(&bad_rc, 1);
    } else if (op < 93) {
        if (mgov_reclaim(gov, rnd_size(w), MGOV_PRESSURE_MODERATE) > BUDGET)
            atomic_fetch_add(&bad_rc, 1);
    } else {
        (void)mgov_pressure(gov);
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (long i = 0; i < w->ops; i++)
        one_op(w);
    return NULL;
}

static void *watcher_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&done)) {
        if (mgov_used(gov) > BUDGET)
            atomic_fetch_add(&over_budget, 1);
        for (int r = 0; r < N_REGIONS; r++)
            if (regions[r].limit && mgov__region_used(gov, r) > regions[r].limit)
                atomic_fetch_add(&over_limit, 1);
        atomic_fetch_add_explicit(&watcher_checks, 1, memory_order_relaxed);
    }
    return NULL;
}

static void test_random_operations(void **state)
{
    (void)state;
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = BUDGET;
    cfg.regions = regions;
    cfg.n_regions = N_REGIONS;
    cfg.on_event = on_event;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    mgov_consumer_ops_t ops = { .usage = cache_usage, .evict = cache_evict };
    mgov_consumer_config_t cc = { .name = "cache", .region = R_COLD,
                                  .priority = MGOV_PRIORITY_QUERY_CACHE, .ops = &ops };
    mgov_consumer_t *consumer;
    assert_int_equal(mgov_consumer_register(gov, &cc, &consumer), MGOV_OK);

    static worker_t workers[THREADS];
    pthread_t watcher;
    assert_int_equal(pthread_create(&watcher, NULL, watcher_main, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].seed = 0x9e3779b9u * (unsigned)(i + 1);
        workers[i].ops = (long)gh_stress_ops(1000000);
        assert_int_equal(pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(workers[i].thread, NULL), 0);
    atomic_store(&done, 1);
    assert_int_equal(pthread_join(watcher, NULL), 0);

    assert_int_equal(atomic_load(&over_budget), 0);
    assert_int_equal(atomic_load(&over_limit), 0);
    assert_int_equal(atomic_load(&bad_rc), 0);
    assert_true(atomic_load(&watcher_checks) > 0);
    assert_true(atomic_load(&n_ok) > 0);
    assert_true(atomic_load(&n_refused) > 0); /* the budget was really contended */
    assert_true(atomic_load(&n_events) > 0);

    /* quiescent: what the threads and the cache hold is what is counted */
    uint64_t held[N_REGIONS] = { 0 }, grants[N_REGIONS] = { 0 };
    for (int i = 0; i < THREADS; i++)
        for (unsigned j = 0; j < workers[i].n; j++) {
            held[workers[i].held[j].region] += workers[i].held[j].bytes;
            grants[workers[i].held[j].region]++;
        }
    pthread_mutex_lock(&cache_lock);
    for (unsigned j = 0; j < cache_n; j++) {
        held[R_COLD] += cache[j].bytes;
        grants[R_COLD]++;
    }
    pthread_mutex_unlock(&cache_lock);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    uint64_t total = 0;
    for (int r = 0; r < N_REGIONS; r++) {
        assert_int_equal(s.regions[r].used, held[r]);
        assert_int_equal(s.regions[r].live_grants, grants[r]);
        total += held[r];
    }
    assert_int_equal(s.used, total);
    assert_true(s.peak <= BUDGET);
    assert_int_equal(s.waiters, 0);

    for (int i = 0; i < THREADS; i++)
        while (workers[i].n)
            drop(&workers[i], 0);
    cache_evict(NULL, UINT64_MAX);
    assert_int_equal(mgov_consumer_unregister(consumer), MGOV_OK);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(atomic_load(&gov->committed), 8 * MiB + 4 * MiB);
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    for (int r = 0; r < N_REGIONS; r++) {
        assert_int_equal(s.regions[r].used, 0);
        assert_int_equal(s.regions[r].live_grants, 0);
    }
    print_message("stress: %llu ok, %llu refused, %llu waited ok, %llu timeouts, %llu events, "
                  "%llu watcher checks, pressure transitions %llu, reclaim passes %llu\n",
                  (unsigned long long)n_ok, (unsigned long long)n_refused,
                  (unsigned long long)n_waited_ok, (unsigned long long)n_timeouts,
                  (unsigned long long)n_events, (unsigned long long)watcher_checks,
                  (unsigned long long)s.pressure_transitions,
                  (unsigned long long)s.reclaim_passes);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_operations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
