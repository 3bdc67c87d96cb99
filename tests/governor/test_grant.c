/* test_grant.c - admission (src/governor/grant.c): the rule of DESIGN.md
 * case by case, the spill reserve, reservations, limits, and the life of a
 * grant (resize, split, merge, release).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "governor/internal.h"
#include "gov_helpers.h"
#include "memgov.h"

#define MiB ((uint64_t)1 << 20)

static uint64_t region_grants(mgov_t *gov, int r)
{
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    return s.regions[r].live_grants;
}

static void test_reserve_release_basic(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(100 * MiB, NULL, 0);
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, MGOV_REGION_EXECUTION_BUFFERS, 10 * MiB, 0, &g),
                     MGOV_OK);
    assert_ptr_equal(g.gov, gov);
    assert_int_equal(g.bytes, 10 * MiB);
    assert_int_equal(g.region, MGOV_REGION_EXECUTION_BUFFERS);
    assert_int_equal(mgov_used(gov), 10 * MiB);
    assert_int_equal(gh_region_used(gov, MGOV_REGION_EXECUTION_BUFFERS), 10 * MiB);
    assert_int_equal(region_grants(gov, MGOV_REGION_EXECUTION_BUFFERS), 1);
    mgov_grant_release(&g);
    assert_null(g.gov);
    assert_int_equal(g.bytes, 0);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(region_grants(gov, MGOV_REGION_EXECUTION_BUFFERS), 0);
    mgov_grant_release(&g); /* idempotent */
    mgov_grant_release(NULL);
    mgov_grant_t empty = MGOV_GRANT_INIT;
    mgov_grant_release(&empty);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_reserve_bad_arguments(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(100 * MiB, NULL, 0);
    mgov_grant_t g = { .gov = gov, .bytes = 7 };
    assert_int_equal(mgov_try_reserve(NULL, 0, 1, 0, &g), MGOV_EINVAL);
    assert_null(g.gov);
    assert_int_equal(mgov_try_reserve(gov, 0, 1, 0, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_try_reserve(gov, -1, 1, 0, &g), MGOV_EINVAL);
    assert_int_equal(mgov_try_reserve(gov, 4, 1, 0, &g), MGOV_EINVAL);
    assert_int_equal(mgov_try_reserve(gov, 0, 1, 0x80, &g), MGOV_EINVAL);
    assert_int_equal(mgov_reserve(NULL, 0, 1, 0, 0, &g), MGOV_EINVAL);
    assert_int_equal(mgov_reserve(gov, 9, 1, 0, 0, &g), MGOV_EINVAL);
    assert_int_equal(mgov_reserve(gov, 0, 1, 0, 0, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_zero_byte_grant_is_live(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(100 * MiB, NULL, 0);
    mgov_grant_t g;
    assert_int_equal(mgov_try_reserve(gov, 0, 0, 0, &g), MGOV_OK);
    assert_ptr_equal(g.gov, gov);
    assert_int_equal(region_grants(gov, 0), 1);
    assert_int_equal(mgov_destroy(gov), MGOV_ELEAKED); /* a leaked empty grant is a leak */
}

/* Rule 2: ordinary requests stop at critical x budget, the spill-staging
 * region and URGENT requests may use the whole budget. */
static void test_ceiling_and_spill_reserve(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000000, NULL, 0); /* critical 0.95 -> 950000 */
    mgov_grant_t a, b, c, d;
    assert_int_equal(mgov_try_reserve(gov, 2, 950000, MGOV_NO_RECLAIM, &a), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 2, 1, MGOV_NO_RECLAIM, &b), MGOV_EBUDGET);
    assert_null(b.gov);
    assert_int_equal(mgov_try_reserve(gov, 0, 1, MGOV_NO_RECLAIM | MGOV_REVOCABLE, &b),
                     MGOV_EBUDGET);
    /* urgent: the headroom above critical */
    assert_int_equal(mgov_try_reserve(gov, 2, 30000, MGOV_URGENT, &b), MGOV_OK);
    /* spill staging: same headroom, no flag needed */
    assert_int_equal(mgov_try_reserve(gov, MGOV_REGION_SPILL_STAGING, 20000, 0, &c), MGOV_OK);
    assert_int_equal(mgov_used(gov), 1000000);
    /* the budget itself is never exceeded */
    assert_int_equal(mgov_try_reserve(gov, MGOV_REGION_SPILL_STAGING, 1, 0, &d), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 1, 1, MGOV_URGENT, &d), MGOV_EBUDGET);
    mgov_grant_release(&a);
    mgov_grant_release(&b);
    mgov_grant_release(&c);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* A request that can never fit fails at once with ELIMIT. */
static void test_never_fits_is_elimit(void **state)
{
    (void)state;
    mgov_region_config_t regions[] = { { "capped", 0, 1000 }, { "free", 0, 0 },
                                       { "spill_staging", 0, 0 } };
    mgov_t *gov = gh_gov_regions(100000, regions, 3);
    mgov_grant_t g;
    assert_int_equal(mgov_try_reserve(gov, 0, 1001, 0, &g), MGOV_ELIMIT);
    assert_int_equal(mgov_reserve(gov, 0, 1001, 0, -1, &g), MGOV_ELIMIT); /* never blocks */
    assert_int_equal(mgov_try_reserve(gov, 1, 95001, 0, &g), MGOV_ELIMIT);
    assert_int_equal(mgov_reserve(gov, 1, 95001, 0, -1, &g), MGOV_ELIMIT);
    assert_int_equal(mgov_try_reserve(gov, 1, 100001, MGOV_URGENT, &g), MGOV_ELIMIT);
    assert_int_equal(mgov_try_reserve(gov, 2, 100001, 0, &g), MGOV_ELIMIT);
    /* fits the whole budget when urgent */
    assert_int_equal(mgov_try_reserve(gov, 1, 95001, MGOV_URGENT, &g), MGOV_OK);
    mgov_grant_release(&g);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.regions[0].refusals, 2);
    assert_int_equal(s.regions[1].refusals, 3);
    assert_int_equal(s.regions[2].refusals, 1);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* Rule 1: a region's limit. */
static void test_region_limit(void **state)
{
    (void)state;
    mgov_region_config_t regions[] = { { "capped", 0, 1000 }, { "other", 0, 0 } };
    mgov_t *gov = gh_gov_regions(100000, regions, 2);
    mgov_grant_t a, b, c;
    assert_int_equal(mgov_try_reserve(gov, 0, 600, 0, &a), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 0, 400, 0, &b), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 0, 1, 0, &c), MGOV_EBUDGET); /* fits later */
    assert_int_equal(mgov_try_reserve(gov, 0, 1, MGOV_URGENT, &c), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 1, 5000, 0, &c), MGOV_OK); /* other regions unaffected */
    mgov_grant_release(&c);
    assert_int_equal(mgov_grant_resize(&a, 601), MGOV_EBUDGET);
    assert_int_equal(a.bytes, 600);
    assert_int_equal(mgov_grant_resize(&a, 1001), MGOV_ELIMIT);
    mgov_grant_release(&b);
    assert_int_equal(mgov_grant_resize(&a, 1000), MGOV_OK);
    assert_int_equal(gh_region_used(gov, 0), 1000);
    mgov_grant_release(&a);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* Rule 3: other regions' unused reservations are taken only revocably;
 * a region's own reservation is guaranteed. */
static void test_reservations(void **state)
{
    (void)state;
    /* budget 100, ceiling 95; A reserves 40, B reserves 30, C none */
    mgov_region_config_t regions[] = { { "A", 40, 0 }, { "B", 30, 0 }, { "C", 0, 0 } };
    mgov_t *gov = gh_gov_regions(100, regions, 3);
    mgov_grant_t c1, c2, a1, a2, b1, x;
    const unsigned nr = MGOV_NO_RECLAIM;

    /* C may use 95 - 40 - 30 = 25 ordinarily */
    assert_int_equal(mgov_try_reserve(gov, 2, 25, nr, &c1), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 2, 1, nr, &x), MGOV_EBUDGET);
    /* A and B get their whole reservations regardless */
    assert_int_equal(mgov_try_reserve(gov, 0, 40, nr, &a1), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 1, 30, nr, &b1), MGOV_OK);
    assert_int_equal(mgov_used(gov), 95);
    /* beyond its reservation A competes like anyone */
    assert_int_equal(mgov_try_reserve(gov, 0, 1, nr, &x), MGOV_EBUDGET);
    mgov_grant_release(&c1);
    assert_int_equal(mgov_try_reserve(gov, 0, 26, nr, &x), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 0, 25, nr, &a2), MGOV_OK);
    mgov_grant_release(&a2);
    mgov_grant_release(&a1);
    mgov_grant_release(&b1);
    assert_int_equal(mgov_used(gov), 0);

    /* B's unused reservation blocks A beyond 95 - 30 = 65 ... */
    assert_int_equal(mgov_try_reserve(gov, 0, 66, nr, &x), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 0, 65, nr, &a1), MGOV_OK);
    mgov_grant_release(&a1);
    /* ... unless the request is revocable */
    assert_int_equal(mgov_try_reserve(gov, 0, 80, nr | MGOV_REVOCABLE, &a1), MGOV_OK);
    /* C revocably borrows what is left under the ceiling */
    assert_int_equal(mgov_try_reserve(gov, 2, 15, nr | MGOV_REVOCABLE, &c2), MGOV_OK);
    /* B's guarantee was borrowed: B must wait for reclaim (here: refused) */
    assert_int_equal(mgov_try_reserve(gov, 1, 1, nr, &x), MGOV_EBUDGET);
    mgov_grant_release(&c2);
    mgov_grant_release(&a1);
    /* own reservation is guaranteed even while others borrow beyond theirs */
    assert_int_equal(mgov_try_reserve(gov, 2, 55, nr | MGOV_REVOCABLE, &c2), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 0, 40, nr, &a1), MGOV_OK);
    assert_int_equal(mgov_used(gov), 95);
    mgov_grant_release(&a1);
    mgov_grant_release(&c2);

    /* the committed counter is back to the sum of reservations */
    assert_int_equal(atomic_load(&gov->committed), 70);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* Urgent requests may use the top slice but still respect others'
 * reservations (they are not revocable). */
static void test_urgent_respects_reservations(void **state)
{
    (void)state;
    mgov_region_config_t regions[] = { { "A", 0, 0 }, { "B", 20, 0 } };
    mgov_t *gov = gh_gov_regions(100, regions, 2);
    mgov_grant_t g, x;
    assert_int_equal(mgov_try_reserve(gov, 0, 81, MGOV_URGENT | MGOV_NO_RECLAIM, &x),
                     MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 0, 80, MGOV_URGENT, &g), MGOV_OK);
    mgov_grant_release(&g);
    assert_int_equal(mgov_try_reserve(gov, 0, 100, MGOV_URGENT | MGOV_REVOCABLE, &g), MGOV_OK);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_resize(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t g, other;
    assert_int_equal(mgov_try_reserve(gov, 1, 100, 0, &g), MGOV_OK);
    assert_int_equal(mgov_grant_resize(&g, 500), MGOV_OK);
    assert_int_equal(g.bytes, 500);
    assert_int_equal(mgov_used(gov), 500);
    assert_int_equal(mgov_grant_resize(&g, 200), MGOV_OK);
    assert_int_equal(mgov_used(gov), 200);
    assert_int_equal(mgov_grant_resize(&g, 0), MGOV_OK);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(region_grants(gov, 1), 1); /* still alive */
    assert_int_equal(mgov_grant_resize(&g, 950), MGOV_OK);
    assert_int_equal(mgov_grant_resize(&g, 951), MGOV_ELIMIT); /* over the ceiling */
    assert_int_equal(mgov_grant_resize(&g, 900), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 2, 50, 0, &other), MGOV_OK);
    assert_int_equal(mgov_grant_resize(&g, 901), MGOV_EBUDGET); /* fits later */
    assert_int_equal(g.bytes, 900);
    assert_int_equal(mgov_used(gov), 950);
    mgov_grant_release(&other);
    assert_int_equal(mgov_grant_resize(&g, 950), MGOV_OK);
    /* an urgent grant grows into the headroom */
    assert_int_equal(mgov_try_reserve(gov, 1, 10, MGOV_URGENT, &other), MGOV_OK);
    assert_int_equal(mgov_grant_resize(&other, 50), MGOV_OK);
    assert_int_equal(mgov_used(gov), 1000);
    mgov_grant_release(&other);
    mgov_grant_release(&g);
    assert_int_equal(mgov_grant_resize(&g, 10), MGOV_EINVAL); /* released */
    assert_int_equal(mgov_grant_resize(NULL, 10), MGOV_EINVAL);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_split_merge(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_t *gov2 = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t g, part, far, rel = MGOV_GRANT_INIT, elsewhere;
    assert_int_equal(mgov_try_reserve(gov, 2, 300, MGOV_REVOCABLE, &g), MGOV_OK);
    assert_int_equal(mgov_grant_split(&g, 301, &part), MGOV_EINVAL);
    assert_int_equal(mgov_grant_split(&g, 10, &g), MGOV_EINVAL);
    assert_int_equal(mgov_grant_split(&g, 10, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_grant_split(&rel, 0, &part), MGOV_EINVAL);
    assert_int_equal(mgov_grant_split(&g, 100, &part), MGOV_OK);
    assert_int_equal(g.bytes, 200);
    assert_int_equal(part.bytes, 100);
    assert_int_equal(part.region, 2);
    assert_int_equal(part.flags, MGOV_REVOCABLE);
    assert_int_equal(mgov_used(gov), 300);
    assert_int_equal(region_grants(gov, 2), 2);
    assert_int_equal(mgov_grant_split(&g, 200, &far), MGOV_OK); /* all of it */
    assert_int_equal(g.bytes, 0);
    assert_int_equal(region_grants(gov, 2), 3);

    assert_int_equal(mgov_grant_merge(&part, &part), MGOV_EINVAL);
    assert_int_equal(mgov_grant_merge(&part, &rel), MGOV_EINVAL);
    assert_int_equal(mgov_grant_merge(NULL, &part), MGOV_EINVAL);
    assert_int_equal(mgov_try_reserve(gov, 1, 5, 0, &elsewhere), MGOV_OK);
    assert_int_equal(mgov_grant_merge(&part, &elsewhere), MGOV_EINVAL); /* other region */
    mgov_grant_release(&elsewhere);
    assert_int_equal(mgov_try_reserve(gov2, 2, 5, 0, &elsewhere), MGOV_OK);
    assert_int_equal(mgov_grant_merge(&part, &elsewhere), MGOV_EINVAL); /* other governor */
    mgov_grant_release(&elsewhere);

    assert_int_equal(mgov_grant_merge(&part, &far), MGOV_OK);
    assert_int_equal(part.bytes, 300);
    assert_null(far.gov);
    assert_int_equal(region_grants(gov, 2), 2);
    assert_int_equal(mgov_grant_merge(&part, &g), MGOV_OK);
    assert_int_equal(region_grants(gov, 2), 1);
    mgov_grant_release(&far); /* emptied by merge: no effect */
    assert_int_equal(mgov_used(gov), 300);
    mgov_grant_release(&part);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(region_grants(gov, 2), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_int_equal(mgov_destroy(gov2), MGOV_OK);
}

/* Live grant counts stay exact past the 16-bit field of the region word. */
static void test_many_live_grants(void **state)
{
    (void)state;
    enum { N = 140000 };
    mgov_t *gov = gh_gov_regions(1 << 30, NULL, 0);
    mgov_grant_t *g = calloc(N, sizeof *g);
    assert_non_null(g);
    for (int i = 0; i < N; i++)
        assert_int_equal(mgov_try_reserve(gov, 3, 1, 0, &g[i]), MGOV_OK);
    assert_int_equal(region_grants(gov, 3), N);
    assert_int_equal(gh_region_used(gov, 3), N);
    for (int i = 0; i < N; i += 2)
        mgov_grant_release(&g[i]);
    assert_int_equal(region_grants(gov, 3), N / 2);
    for (int i = 1; i < N; i += 2)
        mgov_grant_release(&g[i]);
    assert_int_equal(region_grants(gov, 3), 0);
    assert_int_equal(mgov_used(gov), 0);
    free(g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_peaks(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t a, b;
    assert_int_equal(mgov_try_reserve(gov, 0, 300, 0, &a), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 1, 200, 0, &b), MGOV_OK);
    mgov_grant_release(&a);
    assert_int_equal(mgov_try_reserve(gov, 0, 100, 0, &a), MGOV_OK);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.peak, 500);
    assert_int_equal(s.regions[0].peak, 300);
    assert_int_equal(s.regions[1].peak, 200);
    assert_int_equal(s.used, 300);
    mgov_grant_release(&a);
    mgov_grant_release(&b);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* Shrinking the budget below usage: nothing ordinary is admitted until
 * usage is back under the new ceiling; usage is never pushed higher. */
static void test_budget_shrink_blocks_admission(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_grant_t a, x;
    assert_int_equal(mgov_try_reserve(gov, 0, 900, 0, &a), MGOV_OK);
    assert_int_equal(mgov_set_budget(gov, 500), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 0, 1, 0, &x), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 3, 1, 0, &x), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(gov, 0, 600, 0, &x), MGOV_ELIMIT);
    assert_int_equal(mgov_grant_resize(&a, 400), MGOV_OK);
    assert_int_equal(mgov_try_reserve(gov, 0, 75, 0, &x), MGOV_OK); /* 475 = 0.95 x 500 */
    mgov_grant_release(&x);
    mgov_grant_release(&a);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* MGOV_NO_RECLAIM fails fast: no consumer is asked. */
static _Atomic int evict_calls;
static mgov_grant_t cache_grant;
static uint64_t cache_evict(void *ctx, uint64_t target)
{
    (void)ctx;
    (void)target;
    atomic_fetch_add(&evict_calls, 1);
    uint64_t freed = cache_grant.bytes;
    mgov_grant_release(&cache_grant);
    return freed;
}

static void test_no_reclaim_flag(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_regions(1000, NULL, 0);
    mgov_consumer_ops_t ops = { .evict = cache_evict };
    mgov_consumer_config_t cc = { .name = "cache", .region = 0, .priority = 30, .ops = &ops };
    mgov_consumer_t *c;
    assert_int_equal(mgov_consumer_register(gov, &cc, &c), MGOV_OK);
    /* 650 stays under the moderate threshold: no proactive eviction */
    assert_int_equal(mgov_try_reserve(gov, 0, 650, 0, &cache_grant), MGOV_OK);
    mgov_grant_t x;
    atomic_store(&evict_calls, 0);
    assert_int_equal(mgov_try_reserve(gov, 1, 400, MGOV_NO_RECLAIM, &x), MGOV_EBUDGET);
    assert_int_equal(atomic_load(&evict_calls), 0);
    assert_int_equal(mgov_grant_resize(&cache_grant, 650), MGOV_OK);
    /* without the flag, one reclaim pass runs and the retry succeeds */
    assert_int_equal(mgov_try_reserve(gov, 1, 400, 0, &x), MGOV_OK);
    assert_int_equal(atomic_load(&evict_calls), 1);
    mgov_grant_release(&x);
    assert_int_equal(mgov_consumer_unregister(c), MGOV_OK);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

typedef struct {
    int refused, last_status;
    uint64_t last_bytes;
    int last_region;
} refusal_log_t;

static void on_event(void *ctx, const mgov_event_t *ev)
{
    refusal_log_t *log = ctx;
    if (ev->type != MGOV_EV_REFUSED)
        return;
    log->refused++;
    log->last_status = ev->status;
    log->last_bytes = ev->bytes;
    log->last_region = ev->region;
}

static void test_refusal_events(void **state)
{
    (void)state;
    refusal_log_t log = { 0 };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1000;
    cfg.on_event = on_event;
    cfg.event_ctx = &log;
    mgov_t *gov;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    mgov_grant_t a, x;
    assert_int_equal(mgov_try_reserve(gov, 1, 900, 0, &a), MGOV_OK);
    assert_int_equal(log.refused, 0);
    assert_int_equal(mgov_try_reserve(gov, 2, 100, 0, &x), MGOV_EBUDGET);
    assert_int_equal(log.refused, 1);
    assert_int_equal(log.last_status, MGOV_EBUDGET);
    assert_int_equal(log.last_bytes, 100);
    assert_int_equal(log.last_region, 2);
    assert_int_equal(mgov_try_reserve(gov, 2, 5000, 0, &x), MGOV_ELIMIT);
    assert_int_equal(log.refused, 2);
    assert_int_equal(log.last_status, MGOV_ELIMIT);
    mgov_grant_release(&a);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_release_basic),
        cmocka_unit_test(test_reserve_bad_arguments),
        cmocka_unit_test(test_zero_byte_grant_is_live),
        cmocka_unit_test(test_ceiling_and_spill_reserve),
        cmocka_unit_test(test_never_fits_is_elimit),
        cmocka_unit_test(test_region_limit),
        cmocka_unit_test(test_reservations),
        cmocka_unit_test(test_urgent_respects_reservations),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_split_merge),
        cmocka_unit_test(test_many_live_grants),
        cmocka_unit_test(test_peaks),
        cmocka_unit_test(test_budget_shrink_blocks_admission),
        cmocka_unit_test(test_no_reclaim_flag),
        cmocka_unit_test(test_refusal_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
