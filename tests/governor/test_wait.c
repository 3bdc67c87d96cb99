/* test_wait.c - blocking reservations (src/governor/wait.c): FIFO order,
 * wake-up on release, deadlines, fairness towards non-blocking requests,
 * budget changes while waiting, and many waiters of mixed sizes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"
#include "sys/sys.h"

#define MS 1000000ll

#ifdef MGOV_SANITIZED
#define SLACK_MS 400 /* sanitizers slow wake-ups down */
#else
#define SLACK_MS 150
#endif

static unsigned waiters_now(mgov_t *gov)
{
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    return (unsigned)s.waiters;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* A request run in its own thread. */
typedef struct {
    mgov_t *gov;
    int region;
    uint64_t bytes;
    unsigned flags;
    int64_t timeout_ns;
    int rc;
    uint64_t took_ns;
    _Atomic int order; /* when it was granted, from a shared counter; -1 before */
    mgov_grant_t grant;
    pthread_t thread;
    bool joined;
} req_t;

static _Atomic int grant_order;

static void *req_main(void *arg)
{
    req_t *r = arg;
    uint64_t t0 = mgov__now_ns();
    r->rc = mgov_reserve(r->gov, r->region, r->bytes, r->flags, r->timeout_ns, &r->grant);
    r->took_ns = mgov__now_ns() - t0;
    if (r->rc == MGOV_OK)
        atomic_store(&r->order, atomic_fetch_add(&grant_order, 1));
    return NULL;
}

static void req_start(req_t *r, mgov_t *gov, int region, uint64_t bytes, int64_t timeout_ns)
{
    memset(r, 0, sizeof *r);
    r->gov = gov;
    r->region = region;
    r->bytes = bytes;
    r->timeout_ns = timeout_ns;
    atomic_init(&r->order, -1);
    assert_int_equal(pthread_create(&r->thread, NULL, req_main, r), 0);
}

static void req_join(req_t *r)
{
    assert_int_equal(pthread_join(r->thread, NULL), 0);
    r->joined = true;
}

static void test_fits_at_once(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t g;
    assert_int_equal(mgov_reserve(gov, 0, 500, 0, 0, &g), MGOV_OK);
    assert_int_equal(mgov_reserve(gov, 0, 400, 0, -1, &g), MGOV_OK);
    assert_int_equal(mgov_used(gov), 900);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.regions[0].waits, 0);
    assert_int_equal(mgov_destroy(gov), MGOV_ELEAKED); /* the two grants leak on purpose */
}

static void test_timeout_accuracy(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t full, g;
    assert_int_equal(mgov_try_reserve(gov, 0, 950, 0, &full), MGOV_OK);

    uint64_t t0 = mgov__now_ns();
    /* 0 does not wait: exactly mgov_try_reserve */
    assert_int_equal(mgov_reserve(gov, 1, 10, 0, 0, &g), MGOV_EBUDGET);
    assert_true(mgov__now_ns() - t0 < (uint64_t)SLACK_MS * MS);
    assert_null(g.gov);

    const int64_t timeouts[] = { 20 * MS, 60 * MS, 120 * MS };
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        t0 = mgov__now_ns();
        assert_int_equal(mgov_reserve(gov, 1, 10, 0, timeouts[i], &g), MGOV_ETIMEDOUT);
        uint64_t took = mgov__now_ns() - t0;
        assert_true(took >= (uint64_t)timeouts[i]);
        assert_true(took < (uint64_t)timeouts[i] + (uint64_t)SLACK_MS * MS);
    }
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.regions[1].timeouts, 3); /* a zero timeout is a refusal, */
    assert_int_equal(s.regions[1].waits, 3);    /* and does not wait */
    assert_true(s.regions[1].wait_ns >= (uint64_t)(200 * MS));
    assert_int_equal(s.waiters, 0);
    mgov_grant_release(&full);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_wakeup_on_release(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t full;
    assert_int_equal(mgov_try_reserve(gov, 0, 950, 0, &full), MGOV_OK);
    req_t r;
    req_start(&r, gov, 2, 300, 10000 * MS);
    gh_wait_waiters(gov, 1);
    sleep_ms(20);
    uint64_t t0 = mgov__now_ns();
    assert_int_equal(mgov_grant_resize(&full, 600), MGOV_OK);
    req_join(&r);
    assert_int_equal(r.rc, MGOV_OK);
    assert_true(mgov__now_ns() - t0 < (uint64_t)SLACK_MS * MS);
    assert_int_equal(r.grant.bytes, 300);
    assert_int_equal(mgov_used(gov), 900);
    mgov_grant_release(&r.grant);
    mgov_grant_release(&full);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_wait_forever_woken(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t full;
    assert_int_equal(mgov_try_reserve(gov, 0, 950, 0, &full), MGOV_OK);
    req_t r;
    req_start(&r, gov, 0, 950, -1);
    gh_wait_waiters(gov, 1);
    mgov_grant_release(&full);
    req_join(&r);
    assert_int_equal(r.rc, MGOV_OK);
    mgov_grant_release(&r.grant);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* Waiters are served in arrival order: a big request is not overtaken by
 * later small ones, blocking or not. */
static void test_fifo_order(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t full, x;
    assert_int_equal(mgov_try_reserve(gov, 0, 950, 0, &full), MGOV_OK);
    atomic_store(&grant_order, 0);
    req_t big, s1, s2;
    req_start(&big, gov, 1, 500, 10000 * MS);
    gh_wait_waiters(gov, 1);
    req_start(&s1, gov, 2, 100, 10000 * MS);
    gh_wait_waiters(gov, 2);
    req_start(&s2, gov, 1, 100, 10000 * MS);
    gh_wait_waiters(gov, 3);

    /* 200 free: enough for the small ones, not for the first */
    assert_int_equal(mgov_grant_resize(&full, 750), MGOV_OK);
    sleep_ms(30);
    assert_int_equal(waiters_now(gov), 3);
    /* a new non-blocking request does not overtake either */
    assert_int_equal(mgov_try_reserve(gov, 2, 10, 0, &x), MGOV_EBUDGET);
    /* ... except an urgent one, which uses the spill reserve */
    assert_int_equal(mgov_try_reserve(gov, 2, 10, MGOV_URGENT, &x), MGOV_OK);
    mgov_grant_release(&x);

    /* 500 free: only the first fits; it goes, the small ones still wait */
    assert_int_equal(mgov_grant_resize(&full, 450), MGOV_OK);
    req_join(&big);
    assert_int_equal(big.rc, MGOV_OK);
    assert_int_equal(waiters_now(gov), 2);
    /* 100 free: the second in line, not the third */
    assert_int_equal(mgov_grant_resize(&full, 350), MGOV_OK);
    req_join(&s1);
    assert_int_equal(s1.rc, MGOV_OK);
    assert_int_equal(waiters_now(gov), 1);
    assert_int_equal(mgov_grant_resize(&full, 250), MGOV_OK);
    req_join(&s2);
    assert_int_equal(s2.rc, MGOV_OK);
    assert_int_equal(atomic_load(&big.order), 0);
    assert_int_equal(atomic_load(&s1.order), 1);
    assert_int_equal(atomic_load(&s2.order), 2);
    assert_int_equal(mgov_used(gov), 950);
    mgov_grant_release(&big.grant);
    mgov_grant_release(&s1.grant);
    mgov_grant_release(&s2.grant);
    mgov_grant_release(&full);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(waiters_now(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* A waiter blocked only by its region's limit holds back that region, not
 * the others. */
static void test_limit_waiter_blocks_only_its_region(void **state)
{
    (void)state;
    mgov_region_config_t regions[] = { { "capped", 0, 100 }, { "free", 0, 0 } };
    mgov_t *gov = gh_gov_regions(1000, regions, 2);
    mgov_grant_t cap, x;
    assert_int_equal(mgov_try_reserve(gov, 0, 90, 0, &cap), MGOV_OK);
    req_t r;
    req_start(&r, gov, 0, 50, 10000 * MS);
    gh_wait_waiters(gov, 1);
    assert_int_equal(mgov_try_reserve(gov, 1, 500, 0, &x), MGOV_OK);
    mgov_grant_release(&x);
    assert_int_equal(mgov_try_reserve(gov, 0, 5, 0, &x), MGOV_EBUDGET); /* behind the waiter */
    mgov_grant_release(&cap);
    req_join(&r);
    assert_int_equal(r.rc, MGOV_OK);
    mgov_grant_release(&r.grant);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* Growing the budget admits waiters; shrinking it can make them
 * impossible, which they learn at once. */
static void test_budget_changes_while_waiting(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t full;
    assert_int_equal(mgov_try_reserve(gov, 0, 900, 0, &full), MGOV_OK);
    req_t grow;
    req_start(&grow, gov, 1, 500, 10000 * MS);
    gh_wait_waiters(gov, 1);
    assert_int_equal(mgov_set_budget(gov, 2000), MGOV_OK);
    req_join(&grow);
    assert_int_equal(grow.rc, MGOV_OK);
    mgov_grant_release(&grow.grant);

    req_t doomed;
    req_start(&doomed, gov, 1, 1001, 10000 * MS); /* 900 + 1001 > 1900; can never fit 950 */
    gh_wait_waiters(gov, 1);
    uint64_t t0 = mgov__now_ns();
    assert_int_equal(mgov_set_budget(gov, 1000), MGOV_OK);
    req_join(&doomed);
    assert_int_equal(doomed.rc, MGOV_ELIMIT);
    assert_true(mgov__now_ns() - t0 < (uint64_t)SLACK_MS * MS);
    mgov_grant_release(&full);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

typedef struct {
    _Atomic int wait, waited, timeout;
} wait_events_t;

static void count_events(void *ctx, const mgov_event_t *ev)
{
    wait_events_t *w = ctx;
    if (ev->type == MGOV_EV_WAIT)
        atomic_fetch_add(&w->wait, 1);
    else if (ev->type == MGOV_EV_WAITED)
        atomic_fetch_add(&w->waited, 1);
    else if (ev->type == MGOV_EV_TIMEOUT)
        atomic_fetch_add(&w->timeout, 1);
}

static void test_wait_events(void **state)
{
    (void)state;
    wait_events_t w = { 0 };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1000;
    cfg.on_event = count_events;
    cfg.event_ctx = &w;
    mgov_t *gov;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    mgov_grant_t full, g;
    assert_int_equal(mgov_try_reserve(gov, 0, 950, 0, &full), MGOV_OK);
    assert_int_equal(mgov_reserve(gov, 0, 10, 0, 5 * MS, &g), MGOV_ETIMEDOUT);
    assert_int_equal(atomic_load(&w.wait), 1);
    assert_int_equal(atomic_load(&w.timeout), 1);
    req_t r;
    req_start(&r, gov, 0, 10, 10000 * MS);
    gh_wait_waiters(gov, 1);
    mgov_grant_release(&full);
    req_join(&r);
    assert_int_equal(r.rc, MGOV_OK);
    assert_int_equal(atomic_load(&w.wait), 2);
    assert_int_equal(atomic_load(&w.waited), 1);
    mgov_grant_release(&r.grant);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* Many waiters of different sizes and regions; releases in random pieces.
 * Every waiter is served, nothing is lost, usage ends at zero. */
static void test_many_mixed_waiters(void **state)
{
    (void)state;
    enum { N = 24 };
    mgov_t *gov = gh_gov_regions(10000, NULL, 0);
    mgov_grant_t full;
    assert_int_equal(mgov_try_reserve(gov, 0, 9500, 0, &full), MGOV_OK);
    req_t r[N];
    unsigned seed = 12345;
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        uint64_t bytes = 50 + (uint64_t)(rand_r(&seed) % 700);
        total += bytes;
        /* ordinary regions only: spill staging would use the headroom at once */
        req_start(&r[i], gov, rand_r(&seed) % 3, bytes, 20000 * MS);
    }
    gh_wait_waiters(gov, N);
    /* give memory back in uneven pieces; waiters release right after */
    while (full.bytes) {
        uint64_t step = full.bytes < 700 ? full.bytes : 100 + (uint64_t)(rand_r(&seed) % 600);
        assert_int_equal(mgov_grant_resize(&full, full.bytes - step), MGOV_OK);
        sleep_ms(1);
        for (int i = 0; i < N; i++) {
            /* a granted request returns its memory so others can pass */
            if (!r[i].joined && atomic_load(&r[i].order) >= 0) {
                req_join(&r[i]);
                assert_int_equal(r[i].rc, MGOV_OK);
                mgov_grant_release(&r[i].grant);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        if (!r[i].joined)
            req_join(&r[i]);
        assert_int_equal(r[i].rc, MGOV_OK);
        mgov_grant_release(&r[i].grant);
    }
    assert_true(total > 0);
    mgov_grant_release(&full); /* empty but still a live grant */
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(waiters_now(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits_at_once),
        cmocka_unit_test(test_timeout_accuracy),
        cmocka_unit_test(test_wakeup_on_release),
        cmocka_unit_test(test_wait_forever_woken),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_limit_waiter_blocks_only_its_region),
        cmocka_unit_test(test_budget_changes_while_waiting),
        cmocka_unit_test(test_wait_events),
        cmocka_unit_test(test_many_mixed_waiters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
