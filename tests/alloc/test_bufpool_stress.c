/* test_bufpool_stress.c - the buffer pool under concurrent random load.
 *
 * Worker threads allocate random counts (1 .. the whole cap) in all three
 * forms (non-blocking, short deadlines, forever), write their id into what
 * they get, hand allocations to each other through a mailbox (retain, then
 * the receiver releases), and release in random order.  A thread only ever
 * waits forever while it holds nothing, so the load cannot deadlock by
 * itself: a waiter that never returns is a lost wake-up, which the main
 * thread reports after a deadline instead of hanging.
 *
 * A watcher checks all along that the pool never holds more than its cap
 * and that the buffers the workers hold never exceed it either; with a
 * governor it also runs reclaim passes (the pool's evict op racing the
 * workers) and the pool's invariant check.  At the end everything must be
 * back: nothing in use, nobody queued, destroy succeeds, the governor's
 * usage is zero.
 *
 * A second case queues many waiters of different sizes behind a full pool
 * and releases it piece by piece: every one of them must be woken.  A third
 * races destroy against the last releases, made from other threads (destroy
 * must neither hang nor free the pool under a release still inside it); a
 * fourth runs fast-path traffic (cache hits only) against stats,
 * foreach_live and the invariant check.
 *
 * Threads never call cmocka asserts: they count violations, which the main
 * thread asserts on.  MGOV_STRESS_OPS sets the operations per worker.
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

#include "alloc/bufpool_internal.h"
#include "bufpool_helpers.h"
#include "gov_helpers.h"
#include "memgov.h"
#include "sys/sys.h"

#define WORKERS 6
#define HELD_MAX 3
#define MAILBOX 8
#define BUF 4096
#define CAP_BUFS 16
#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)

static mgov_bufpool_t *pool;
static mgov_t *gov;
static long ops_per_worker;
static _Atomic int done;
static _Atomic long in_hand;      /* buffers the workers (and the mailbox) hold */
static _Atomic long corrupt, bad_rc, watcher_checks;
/* what the watcher and the workers check; each must stay 0 */
enum { V_HELD, V_IN_USE, V_IN_HAND, V_GRANTS, N_V };
static const char *const v_name[N_V] = { "pool holds more than its cap",
                                         "more buffers in use than the cap",
                                         "workers hold more than the cap",
                                         "grants exceed the cap" };
static _Atomic long violations[N_V];
static _Atomic long n_ok, n_refused, n_timeouts, n_forever;

/* ------------------------------------------------------------ mailbox */

static pthread_mutex_t mb_lock = PTHREAD_MUTEX_INITIALIZER;
static mgov_bufs_t *mailbox[MAILBOX];
static unsigned mb_n;

static bool mb_put(mgov_bufs_t *b)
{
    pthread_mutex_lock(&mb_lock);
    bool ok = mb_n < MAILBOX;
    if (ok)
        mailbox[mb_n++] = b;
    pthread_mutex_unlock(&mb_lock);
    return ok;
}

static mgov_bufs_t *mb_take(void)
{
    pthread_mutex_lock(&mb_lock);
    mgov_bufs_t *b = mb_n ? mailbox[--mb_n] : NULL;
    pthread_mutex_unlock(&mb_lock);
    return b;
}

/* ------------------------------------------------------------ workers */

typedef struct {
    unsigned id, seed;
    mgov_bufs_t *held[HELD_MAX];
    unsigned n;
    pthread_t thread;
    _Atomic bool finished;
} worker_t;

static unsigned rnd(worker_t *w, unsigned n)
{
    return (unsigned)rand_r(&w->seed) % n;
}

/* Mostly a few common counts (so cached spans get reused and the fast path
 * races too), sometimes any count up to the whole cap. */
static size_t rnd_count(worker_t *w)
{
    static const size_t common[] = { 1, 1, 1, 1, 2, 2, 4, 8, 16 };
    if (rnd(w, 4) == 0)
        return 1 + rnd(w, CAP_BUFS);
    return common[rnd(w, sizeof common / sizeof common[0])];
}

static void stamp(mgov_bufs_t *b, unsigned id)
{
    for (size_t i = 0; i < mgov_bufs_count(b); i++) {
        unsigned char *d = mgov_bufs_buf(b, i);
        d[0] = (unsigned char)id;
        d[BUF - 1] = (unsigned char)id;
    }
}

static bool stamped(mgov_bufs_t *b, unsigned id)
{
    for (size_t i = 0; i < mgov_bufs_count(b); i++) {
        unsigned char *d = mgov_bufs_buf(b, i);
        if (d[0] != (unsigned char)id || d[BUF - 1] != (unsigned char)id)
            return false;
    }
    return true;
}

static void count_in(long bufs)
{
    long now = atomic_fetch_add(&in_hand, bufs) + bufs;
    if (now > CAP_BUFS)
        atomic_fetch_add(&violations[V_IN_HAND], 1);
}

/* Drops the counted reference.  (A handed-over allocation is counted once,
 * by its receiver; the sender's extra reference is not counted.) */
static void drop(mgov_bufs_t *b)
{
    atomic_fetch_sub(&in_hand, (long)mgov_bufs_count(b));
    mgov_bufs_release(b);
}

static void release_slot(worker_t *w, unsigned i)
{
    mgov_bufs_t *b = w->held[i];
    if (!stamped(b, w->id))
        atomic_fetch_add(&corrupt, 1);
    w->held[i] = w->held[--w->n];
    drop(b);
}

static void drain_mailbox(void)
{
    mgov_bufs_t *b;
    while ((b = mb_take()) != NULL)
        drop(b);
}

static void release_all(worker_t *w)
{
    while (w->n)
        release_slot(w, w->n - 1);
    drain_mailbox();
}

static void one_alloc(worker_t *w)
{
    size_t n = rnd_count(w);
    int64_t timeout;
    unsigned form = rnd(w, 10);
    if (form < 4) {
        timeout = 0;
    } else if (form < 9 || w->n) {
        timeout = (int64_t)(100 + rnd(w, 1900)) * 1000;
    } else {
        release_all(w); /* forever only with empty hands: no hold-and-wait */
        timeout = -1;
        atomic_fetch_add_explicit(&n_forever, 1, memory_order_relaxed);
    }
    mgov_bufs_t *b = NULL;
    int rc = mgov_bufpool_alloc(pool, n, timeout, &b);
    if (rc == MGOV_OK) {
        count_in((long)n);
        if (mgov_bufs_count(b) != n)
            atomic_fetch_add(&corrupt, 1);
        stamp(b, w->id);
        atomic_fetch_add_explicit(&n_ok, 1, memory_order_relaxed);
        if (w->n < HELD_MAX)
            w->held[w->n++] = b;
        else
            drop(b);
    } else if (rc == MGOV_EBUDGET && timeout == 0) {
        atomic_fetch_add_explicit(&n_refused, 1, memory_order_relaxed);
    } else if (rc == MGOV_ETIMEDOUT && timeout > 0) {
        atomic_fetch_add_explicit(&n_timeouts, 1, memory_order_relaxed);
    } else if (gov && (rc == MGOV_EBUDGET || rc == MGOV_ETIMEDOUT)) {
        atomic_fetch_add_explicit(&n_refused, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add(&bad_rc, 1);
    }
}

static void one_op(worker_t *w)
{
    unsigned op = rnd(w, 10);
    if (op < 5 || w->n == 0) {
        one_alloc(w);
    } else if (op < 8) {
        release_slot(w, rnd(w, w->n));
    } else if (op < 9) {
        /* hand one over: the mailbox gets its own reference, and the
         * sender's goes while the receiver may already be releasing */
        unsigned i = rnd(w, w->n);
        mgov_bufs_t *b = w->held[i];
        if (!stamped(b, w->id))
            atomic_fetch_add(&corrupt, 1);
        w->held[i] = w->held[--w->n];
        mgov_bufs_retain(b);
        if (mb_put(b)) {
            mgov_bufs_release(b);
        } else {
            mgov_bufs_release(b);
            drop(b);
        }
    } else {
        mgov_bufs_t *b = mb_take();
        if (b)
            drop(b);
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (long i = 0; i < ops_per_worker; i++)
        one_op(w);
    release_all(w);
    atomic_store(&w->finished, true);
    return NULL;
}

static void *watcher_main(void *arg)
{
    unsigned seed = 12345;
    (void)arg;
    while (!atomic_load(&done)) {
        mgov_bufpool_stats_t s;
        if (mgov_bufpool_stats(pool, &s) != MGOV_OK)
            atomic_fetch_add(&bad_rc, 1);
        if (s.bytes_held > CAP_BUFS * BUF)
            atomic_fetch_add(&violations[V_HELD], 1);
        if (s.buffers_in_use > CAP_BUFS)
            atomic_fetch_add(&violations[V_IN_USE], 1);
        if (atomic_load(&in_hand) > CAP_BUFS)
            atomic_fetch_add(&violations[V_IN_HAND], 1);
        if (gov) {
            /* the pool's grants never exceed what it holds, nor the cap */
            if (mgov_used(gov) > CAP_BUFS * BUF)
                atomic_fetch_add(&violations[V_GRANTS], 1);
            mgov_reclaim(gov, (1 + (uint64_t)(rand_r(&seed) % 4)) * BUF, MGOV_PRESSURE_MODERATE);
        }
        if (mgov__bufpool_check(pool) != MGOV_OK)
            atomic_fetch_add(&corrupt, 1);
        atomic_fetch_add(&watcher_checks, 1);
        bh_sleep_ms(1);
    }
    return NULL;
}

static long env_ops(void)
{
#ifdef MGOV_SANITIZED
    return (long)gh_stress_ops(2000);
#else
    return (long)gh_stress_ops(4000);
#endif
}

static void reset_counters(void)
{
    atomic_store(&done, 0);
    atomic_store(&in_hand, 0);
    atomic_store(&corrupt, 0);
    atomic_store(&bad_rc, 0);
    atomic_store(&watcher_checks, 0);
    atomic_store(&n_ok, 0);
    atomic_store(&n_refused, 0);
    atomic_store(&n_timeouts, 0);
    atomic_store(&n_forever, 0);
    for (int i = 0; i < N_V; i++)
        atomic_store(&violations[i], 0);
}

static void assert_no_violations(void)
{
    for (int i = 0; i < N_V; i++)
        if (atomic_load(&violations[i]))
            fail_msg("%s: %ld times", v_name[i], atomic_load(&violations[i]));
}

static void run_load(bool with_gov)
{
    ops_per_worker = env_ops();
    reset_counters();
    gov = with_gov ? gh_gov_new(64 * MiB, NULL) : NULL;
    pool = bh_pool_new(BUF, CAP_BUFS * BUF, gov);

    worker_t w[WORKERS];
    memset(w, 0, sizeof w);
    pthread_t watcher;
    assert_int_equal(pthread_create(&watcher, NULL, watcher_main, NULL), 0);
    for (unsigned i = 0; i < WORKERS; i++) {
        w[i].id = i + 1;
        w[i].seed = 1000 + i * 7919 + (with_gov ? 1 : 0);
        atomic_init(&w[i].finished, false);
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
    /* every worker must finish: a forever waiter left behind is a lost wake-up */
    uint64_t deadline = mgov__now_ns() + 120000 * BH_MS;
    for (unsigned i = 0; i < WORKERS; i++) {
        while (!atomic_load(&w[i].finished) && mgov__now_ns() < deadline)
            bh_sleep_ms(5);
        if (!atomic_load(&w[i].finished)) {
            mgov_bufpool_stats_t s = bh_stats(pool);
            fail_msg("worker %u never finished: waiters %llu, in use %llu, cached %llu", i,
                     (unsigned long long)s.waiters, (unsigned long long)s.buffers_in_use,
                     (unsigned long long)s.buffers_cached);
        }
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
    }
    atomic_store(&done, 1);
    assert_int_equal(pthread_join(watcher, NULL), 0);

    mgov_bufpool_stats_t s = bh_stats(pool);
    print_message("%s: %ld ok, %ld refused, %ld timeouts, %ld forever; waits %llu, "
                  "reuses %llu of %llu, sys allocs %llu, evicted %llu B, %ld checks\n",
                  with_gov ? "pool+governor" : "pool", atomic_load(&n_ok),
                  atomic_load(&n_refused), atomic_load(&n_timeouts), atomic_load(&n_forever),
                  (unsigned long long)s.waits, (unsigned long long)s.reuses,
                  (unsigned long long)s.allocs, (unsigned long long)s.sys_allocs,
                  (unsigned long long)s.evicted_bytes, atomic_load(&watcher_checks));
    assert_no_violations();
    assert_int_equal(atomic_load(&corrupt), 0);
    assert_int_equal(atomic_load(&bad_rc), 0);
    assert_int_equal(atomic_load(&in_hand), 0);
    assert_true(atomic_load(&n_ok) > 0);
    assert_true(s.waits > 0);
    assert_int_equal(s.buffers_in_use, 0);
    assert_int_equal(s.spans_live, 0);
    assert_int_equal(s.waiters, 0);
    assert_true(s.bytes_held <= CAP_BUFS * BUF);
    assert_int_equal(mgov__bufpool_check(pool), MGOV_OK);
    if (gov)
        assert_int_equal(mgov_used(gov), s.bytes_held); /* a grant per byte held */
    assert_int_equal(mgov_bufpool_destroy(pool, 0), MGOV_OK);
    if (gov) {
        assert_int_equal(mgov_used(gov), 0);
        assert_int_equal(mgov_destroy(gov), MGOV_OK);
    }
}

static void test_random_load(void **state)
{
    (void)state;
    run_load(false);
}

static void test_random_load_governed(void **state)
{
    (void)state;
    run_load(true);
}

/* ------------------------------------------------- a crowd of waiters */

#define CROWD 12

typedef struct {
    size_t n;
    int rc;
    pthread_t thread;
    _Atomic bool done;
} crowd_t;

static void *crowd_main(void *arg)
{
    crowd_t *c = arg;
    mgov_bufs_t *b = NULL;
    c->rc = mgov_bufpool_alloc(pool, c->n, -1, &b);
    if (c->rc == MGOV_OK) {
        count_in((long)c->n);
        bh_sleep_ms(1);
        drop(b);
    }
    atomic_store(&c->done, true);
    return NULL;
}

/* Many waiters of different sizes queue behind a full pool; it is released
 * one buffer at a time: every waiter is woken, one after another. */
static void test_crowd_of_waiters(void **state)
{
    (void)state;
    reset_counters();
    gov = NULL;
    pool = bh_pool_new(BUF, CAP_BUFS * BUF, NULL);
    mgov_bufs_t *single[CAP_BUFS];
    for (int i = 0; i < CAP_BUFS; i++)
        single[i] = bh_take(pool, 1);
    count_in(CAP_BUFS);
    crowd_t c[CROWD];
    unsigned seed = 7;
    for (unsigned i = 0; i < CROWD; i++) {
        c[i].n = 1 + (size_t)(rand_r(&seed) % CAP_BUFS);
        if (i == 0)
            c[i].n = CAP_BUFS; /* the whole pool first */
        atomic_init(&c[i].done, false);
        assert_int_equal(pthread_create(&c[i].thread, NULL, crowd_main, &c[i]), 0);
        bh_wait_waiters(pool, i + 1);
    }
    for (int i = 0; i < CAP_BUFS; i++) {
        atomic_fetch_sub(&in_hand, 1);
        mgov_bufs_release(single[i]);
    }
    for (unsigned i = 0; i < CROWD; i++) {
        for (int k = 0; k < 20000 && !atomic_load(&c[i].done); k++)
            bh_sleep_ms(1);
        if (!atomic_load(&c[i].done))
            fail_msg("waiter %u (%zu buffers) was never woken", i, c[i].n);
        assert_int_equal(pthread_join(c[i].thread, NULL), 0);
        assert_int_equal(c[i].rc, MGOV_OK);
    }
    assert_no_violations();
    mgov_bufpool_stats_t s = bh_stats(pool);
    assert_int_equal(s.waits, CROWD);
    assert_int_equal(s.waiters, 0);
    assert_int_equal(s.buffers_in_use, 0);
    assert_int_equal(mgov__bufpool_check(pool), MGOV_OK);
    assert_int_equal(mgov_bufpool_destroy(pool, 0), MGOV_OK);
}

/* ------------------------------------------- destroy against releases */

#define RACERS 4
#define RACE_SPANS 3

typedef struct {
    mgov_bufs_t *spans[RACE_SPANS];
    pthread_barrier_t *bar;
    unsigned seed;
} racer_t;

static void *racer_main(void *arg)
{
    racer_t *r = arg;
    pthread_barrier_wait(r->bar);
    for (int i = 0; i < RACE_SPANS; i++) {
        uint64_t until = mgov__now_ns() + (uint64_t)(rand_r(&r->seed) % 200) * 1000;
        while (mgov__now_ns() < until)
            ;
        mgov_bufs_retain(r->spans[i]);
        mgov_bufs_release(r->spans[i]);
        mgov_bufs_release(r->spans[i]);
    }
    return NULL;
}

static void test_destroy_races_releases(void **state)
{
    (void)state;
#ifdef MGOV_SANITIZED
    const int rounds = 30;
#else
    const int rounds = 200;
#endif
    for (int round = 0; round < rounds; round++) {
        mgov_t *g = round % 2 ? gh_gov_new(64 * MiB, NULL) : NULL;
        mgov_bufpool_t *p = bh_pool_new(BUF, CAP_BUFS * BUF, g);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, RACERS + 1);
        racer_t r[RACERS];
        pthread_t t[RACERS];
        for (unsigned i = 0; i < RACERS; i++) {
            r[i].bar = &bar;
            r[i].seed = (unsigned)round * 31 + i;
            for (int k = 0; k < RACE_SPANS; k++)
                r[i].spans[k] = bh_take(p, 1);
            assert_int_equal(pthread_create(&t[i], NULL, racer_main, &r[i]), 0);
        }
        if (round % 3 == 0) /* some with the cache already visited by a waiter */
            mgov_bufs_release(bh_take(p, 2));
        pthread_barrier_wait(&bar);
        assert_int_equal(mgov_bufpool_destroy(p, round % 4 ? -1 : 10000 * BH_MS), MGOV_OK);
        for (unsigned i = 0; i < RACERS; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
        pthread_barrier_destroy(&bar);
        if (g) {
            assert_int_equal(mgov_used(g), 0);
            assert_int_equal(mgov_destroy(g), MGOV_OK);
        }
    }
}

/* --------------------------------------------- fast path vs inspection */

static _Atomic long live_seen;

static void count_live(void *arg, const mgov_bufs_t *b, size_t count, unsigned refs,
                       uint64_t age_ns)
{
    (void)arg;
    (void)age_ns;
    if (mgov_bufs_count(b) != count || count == 0 || refs > 2)
        atomic_fetch_add(&corrupt, 1);
    atomic_fetch_add_explicit(&live_seen, 1, memory_order_relaxed);
}

static void *hitter_main(void *arg)
{
    worker_t *w = arg;
    for (long i = 0; i < ops_per_worker * 5; i++) {
        size_t n = 1 + (size_t)rnd(w, 2);
        mgov_bufs_t *b = NULL;
        if (mgov_bufpool_try_alloc(pool, n, &b) != MGOV_OK) {
            atomic_fetch_add(&bad_rc, 1);
            continue;
        }
        stamp(b, w->id);
        if (rnd(w, 8) == 0) {
            mgov_bufs_retain(b);
            mgov_bufs_release(b);
        }
        if (!stamped(b, w->id))
            atomic_fetch_add(&corrupt, 1);
        mgov_bufs_release(b);
    }
    atomic_store(&w->finished, true);
    return NULL;
}

static void test_fast_path_vs_inspection(void **state)
{
    (void)state;
    ops_per_worker = env_ops();
    reset_counters();
    gov = NULL;
    pool = bh_pool_new(BUF, 4 * WORKERS * BUF, NULL);
    /* warm every shard's cache with both counts */
    worker_t w[WORKERS];
    memset(w, 0, sizeof w);
    for (unsigned i = 0; i < WORKERS; i++) {
        w[i].id = i + 1;
        w[i].seed = 99 + i;
        atomic_init(&w[i].finished, false);
        assert_int_equal(pthread_create(&w[i].thread, NULL, hitter_main, &w[i]), 0);
    }
    long rounds = 0;
    for (bool all = false; !all; rounds++) {
        mgov_bufpool_stats_t s = bh_stats(pool);
        if (s.buffers_in_use > 2 * WORKERS)
            atomic_fetch_add(&violations[V_IN_USE], 1);
        if (mgov_bufpool_foreach_live(pool, count_live, NULL) < 0)
            atomic_fetch_add(&bad_rc, 1);
        if (mgov__bufpool_check(pool) != MGOV_OK)
            atomic_fetch_add(&corrupt, 1);
        all = true;
        for (unsigned i = 0; i < WORKERS; i++)
            all = all && atomic_load(&w[i].finished);
    }
    for (unsigned i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
    mgov_bufpool_stats_t s = bh_stats(pool);
    print_message("fast path: %llu allocations, %llu from the cache, %llu system; "
                  "%ld inspections saw %ld live\n",
                  (unsigned long long)s.allocs, (unsigned long long)s.reuses,
                  (unsigned long long)s.sys_allocs, rounds, atomic_load(&live_seen));
    assert_no_violations();
    assert_int_equal(atomic_load(&corrupt), 0);
    assert_int_equal(atomic_load(&bad_rc), 0);
    assert_int_equal(s.allocs, (uint64_t)ops_per_worker * 5 * WORKERS);
    assert_true(s.sys_allocs <= 2 * WORKERS); /* at most one span per count in flight */
    assert_true(s.peak_in_use <= 2 * WORKERS);
    assert_int_equal(s.buffers_in_use, 0);
    assert_int_equal(mgov__bufpool_check(pool), MGOV_OK);
    assert_int_equal(mgov_bufpool_destroy(pool, 0), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_load),
        cmocka_unit_test(test_random_load_governed),
        cmocka_unit_test(test_crowd_of_waiters),
        cmocka_unit_test(test_destroy_races_releases),
        cmocka_unit_test(test_fast_path_vs_inspection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
