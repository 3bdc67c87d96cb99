/* test_heap.c - heaps: every call (malloc, calloc, realloc growing and
 * shrinking, aligned allocation, free and sized free, usable size), the accounting
 * against the governor (slack bounds, big blocks charged exactly), free
 * from another thread, destroy with live blocks (the leak report), the
 * failure paths (a refused budget or limit: NULL, a clear reason, nothing
 * charged), reclaim giving slack and memory back (RSS measured), names,
 * stats in mgov_stats, and the arguments checked.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"

/* ThreadSanitizer keeps the shadow of memory a program touched resident
 * after the program returns it: RSS says nothing there. */
#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#ifndef TSAN
#define TSAN 0
#endif

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define SLACK (64 * KiB)

typedef struct fx {
    gh_evlog_t *log;
    mgov_t *gov;
    mgov_heap_t *heap;
    int region;
} fx_t;

static int setup_with(void **state, uint64_t budget, uint64_t limit, size_t slack, int decay)
{
    fx_t *f = calloc(1, sizeof *f);
    f->log = gh_evlog_new();
    mgov_region_config_t regions[2] = { { "execution_buffers", 0, limit }, { "other", 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = budget;
    cfg.regions = regions;
    cfg.n_regions = 2;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = f->log;
    if (mgov_create(&cfg, &f->gov) != MGOV_OK)
        return -1;
    mgov_heap_config_t hc = MGOV_HEAP_CONFIG_INIT;
    hc.gov = f->gov;
    hc.slack = slack;
    hc.decay_ms = decay;
    if (mgov_heap_create(&hc, &f->heap) != MGOV_OK)
        return -1;
    f->region = mgov_region_find(f->gov, "execution_buffers");
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 256 * MiB, 0, SLACK, -1);
}

static int setup_small(void **state)
{
    return setup_with(state, 4 * MiB, 0, SLACK, -1);
}

static int setup_limited(void **state)
{
    return setup_with(state, 256 * MiB, 2 * MiB, SLACK, -1);
}

static int teardown(void **state)
{
    fx_t *f = *state;
    if (f->heap)
        mgov_heap_destroy(f->heap);
    int rc = mgov_destroy(f->gov);
    gh_evlog_free(f->log);
    free(f);
    return rc == MGOV_OK ? 0 : -1;
}

static uint64_t used(fx_t *f)
{
    return gh_region_used(f->gov, f->region);
}

static mgov_heap_stats_t hstats(fx_t *f)
{
    mgov_heap_stats_t st;
    assert_int_equal(mgov_heap_stats(f->heap, &st), MGOV_OK);
    return st;
}

/* The accounting rule: allocated + metadata <= count <= that + threads x slack. */
static void assert_accounting(fx_t *f)
{
    mgov_heap_stats_t st = hstats(f);
    uint64_t u = used(f);
    assert_int_equal(st.charged, u);
    assert_true(u >= st.allocated + st.metadata);
    assert_true(u - st.allocated - st.metadata <= st.threads * SLACK);
    assert_int_equal(mgov_heap_check(f->heap), MGOV_OK);
}

/* The count less the allocator's metadata (counted since the last reclaim). */
static uint64_t used_nometa(fx_t *f)
{
    return used(f) - hstats(f).metadata;
}

/* ------------------------------------------------------------ calls */

static void test_malloc_free(void **state)
{
    fx_t *f = *state;
    enum { N = 1000 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        size_t sz = (size_t)(i % 300) + 1;
        p[i] = mgov_heap_malloc(f->heap, sz);
        assert_non_null(p[i]);
        assert_true(mgov_heap_usable_size(f->heap, p[i]) >= sz);
        memset(p[i], i & 0xff, sz);
    }
    mgov_heap_stats_t st = hstats(f);
    assert_int_equal(st.mallocs, N);
    assert_int_equal(st.frees, 0);
    assert_true(st.allocated >= N * 150);
    assert_accounting(f);
    for (int i = 0; i < N; i++) {
        size_t sz = (size_t)(i % 300) + 1;
        for (size_t k = 0; k < sz; k++)
            assert_int_equal(((unsigned char *)p[i])[k], i & 0xff);
        mgov_heap_free(f->heap, p[i]);
    }
    st = hstats(f);
    assert_int_equal(st.frees, N);
    assert_int_equal(st.allocated, 0);
    assert_accounting(f);
    mgov_heap_free(f->heap, NULL); /* ignored */
    /* size 0: a unique pointer */
    void *z1 = mgov_heap_malloc(f->heap, 0), *z2 = mgov_heap_malloc(f->heap, 0);
    assert_non_null(z1);
    assert_non_null(z2);
    assert_ptr_not_equal(z1, z2);
    mgov_heap_free(f->heap, z1);
    mgov_heap_free(f->heap, z2);
    assert_int_equal(mgov_heap_last_error(f->heap), MGOV_OK);
}

static void test_free_sized(void **state)
{
    fx_t *f = *state;
    size_t sizes[] = { 1, 16, 100, 1000, 5000, 40000, 2 * MiB };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        void *p = mgov_heap_malloc(f->heap, sizes[k]);
        assert_non_null(p);
        memset(p, 3, sizes[k]);
        assert_true(hstats(f).allocated >= sizes[k]);
        mgov_heap_free_sized(f->heap, p, sizes[k]);
        assert_int_equal(hstats(f).allocated, 0);
        assert_accounting(f);
    }
    mgov_heap_free_sized(f->heap, NULL, 10); /* ignored */
    mgov_heap_stats_t st = hstats(f);
    assert_int_equal(st.mallocs, st.frees);
}

static void test_heap_calloc(void **state)
{
    fx_t *f = *state;
    /* dirty the arena first, so zeroing is real work */
    for (int r = 0; r < 4; r++) {
        unsigned char *p = mgov_heap_malloc(f->heap, 4096);
        memset(p, 0xab, 4096);
        mgov_heap_free(f->heap, p);
    }
    unsigned char *p = mgov_heap_calloc(f->heap, 512, 8);
    assert_non_null(p);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(p[i], 0);
    mgov_heap_free(f->heap, p);
    assert_null(mgov_heap_calloc(f->heap, SIZE_MAX / 2, 3));
    assert_int_equal(mgov_heap_last_error(f->heap), MGOV_EOVERFLOW);
    void *z = mgov_heap_calloc(f->heap, 0, 8);
    assert_non_null(z);
    mgov_heap_free(f->heap, z);
    assert_accounting(f);
}

static void test_heap_realloc(void **state)
{
    fx_t *f = *state;
    unsigned char *p = mgov_heap_realloc(f->heap, NULL, 10); /* as malloc */
    assert_non_null(p);
    for (int i = 0; i < 10; i++)
        p[i] = (unsigned char)i;
    /* grow through small, large and big (charged exactly) sizes */
    size_t sizes[] = { 100, 5000, 40000, 3 * MiB, 64, 1 };
    size_t keep = 10;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned char *q = mgov_heap_realloc(f->heap, p, sizes[k]);
        assert_non_null(q);
        size_t n = keep < sizes[k] ? keep : sizes[k];
        for (size_t i = 0; i < n; i++)
            assert_int_equal(q[i], (unsigned char)i);
        for (size_t i = n; i < sizes[k]; i++)
            q[i] = (unsigned char)i;
        keep = sizes[k];
        p = q;
        assert_true(mgov_heap_usable_size(f->heap, p) >= sizes[k]);
        assert_accounting(f);
        assert_int_equal(hstats(f).allocated, mgov_heap_usable_size(f->heap, p));
    }
    void *z = mgov_heap_realloc(f->heap, p, 0); /* size 0 is 1 */
    assert_non_null(z);
    mgov_heap_free(f->heap, z);
    assert_int_equal(hstats(f).allocated, 0);
    assert_accounting(f);
}

static void test_aligned(void **state)
{
    fx_t *f = *state;
    for (size_t align = 1; align <= 4 * MiB; align <<= 1) {
        void *p = mgov_heap_aligned_alloc(f->heap, align, 24);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        memset(p, 1, 24);
        assert_accounting(f);
        mgov_heap_free(f->heap, p);
    }
    assert_null(mgov_heap_aligned_alloc(f->heap, 24, 100));
    assert_int_equal(mgov_heap_last_error(f->heap), MGOV_EINVAL);
    assert_null(mgov_heap_aligned_alloc(f->heap, 0, 100));
    assert_int_equal(hstats(f).allocated, 0);
    assert_accounting(f);
}

static void test_big_blocks_exact(void **state)
{
    fx_t *f = *state;
    uint64_t before = used(f);
    void *p = mgov_heap_malloc(f->heap, 10 * MiB);
    assert_non_null(p);
    size_t usz = mgov_heap_usable_size(f->heap, p);
    assert_int_equal(used(f) - before, usz); /* no slack taken for it */
    mgov_heap_free(f->heap, p);
    assert_int_equal(used(f), before);
}

static void test_slack_batches(void **state)
{
    fx_t *f = *state;
    /* the first small block takes a batch: slack/2 beyond it */
    void *p = mgov_heap_malloc(f->heap, 16);
    uint64_t after_first = used(f);
    assert_true(after_first >= SLACK / 2 && after_first <= SLACK);
    /* the next ones come out of it: the governor's count does not move */
    void *q[100];
    for (int i = 0; i < 100; i++)
        q[i] = mgov_heap_malloc(f->heap, 16);
    assert_int_equal(used(f), after_first);
    for (int i = 0; i < 100; i++)
        mgov_heap_free(f->heap, q[i]);
    mgov_heap_free(f->heap, p);
    assert_int_equal(used(f), after_first);
    /* freeing more than the slack returns the excess: a big burst */
    enum { N = 4096 };
    void **v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++)
        v[i] = mgov_heap_malloc(f->heap, 100);
    assert_true(used(f) >= N * 112);
    for (int i = 0; i < N; i++)
        mgov_heap_free(f->heap, v[i]);
    free(v);
    assert_true(used(f) <= SLACK);
    assert_accounting(f);
}

/* ---------------------------------------------------- other threads */

typedef struct xfree {
    mgov_heap_t *h;
    void **v;
    int n;
} xfree_t;

static void *free_all(void *arg)
{
    xfree_t *x = arg;
    for (int i = 0; i < x->n; i++)
        mgov_heap_free(x->h, x->v[i]);
    return NULL;
}

static void test_free_from_another_thread(void **state)
{
    fx_t *f = *state;
    enum { N = 20000 };
    xfree_t x = { f->heap, malloc(N * sizeof(void *)), N };
    for (int i = 0; i < N; i++) {
        x.v[i] = mgov_heap_malloc(f->heap, 64);
        assert_non_null(x.v[i]);
    }
    assert_true(used(f) >= N * 64);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_all, &x), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* the other thread's slack went back when it exited; ours is bounded */
    mgov_heap_stats_t st = hstats(f);
    assert_int_equal(st.frees, N);
    assert_int_equal(st.allocated, 0);
    assert_int_equal(st.threads, 1);
    assert_true(used(f) <= SLACK);
    assert_accounting(f);
    free(x.v);
}

/* ------------------------------------------------------ destroy, leak */

static void test_destroy_with_live_blocks(void **state)
{
    fx_t *f = *state;
    size_t total = 0;
    for (int i = 0; i < 10; i++) {
        void *p = mgov_heap_malloc(f->heap, 1000);
        total += mgov_heap_usable_size(f->heap, p);
    }
    void *big = mgov_heap_malloc(f->heap, 2 * MiB);
    total += mgov_heap_usable_size(f->heap, big);
    char name[MGOV_NAME_MAX + 1];
    strcpy(name, mgov_heap_name(f->heap));
    assert_int_equal(mgov_heap_destroy(f->heap), MGOV_ELEAKED);
    f->heap = NULL;
    gh_event_t ev;
    assert_true(gh_evlog_nth(f->log, MGOV_EV_LEAKED_BLOCKS, 0, &ev));
    assert_string_equal(ev.name, name);
    assert_int_equal(ev.ev.count, 11);
    assert_int_equal(ev.ev.bytes, total);
    /* everything went back at once */
    assert_int_equal(mgov_used(f->gov), 0);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(f->gov, &s), MGOV_OK);
    assert_int_equal(s.heaps, 0);
    assert_int_equal(s.consumers, 0);
    assert_int_equal(mgov_heap_destroy(NULL), MGOV_OK);
}

static void *use_and_exit(void *arg)
{
    mgov_heap_t *h = arg;
    void *p = mgov_heap_malloc(h, 100);
    mgov_heap_free(h, p);
    return mgov_heap_malloc(h, 200); /* left for destroy */
}

static void test_destroy_after_threads(void **state)
{
    fx_t *f = *state;
    /* a thread that used the heap and is gone, and one still alive whose
     * slot dies with the heap (it frees it later) */
    pthread_t t;
    void *left = NULL;
    assert_int_equal(pthread_create(&t, NULL, use_and_exit, f->heap), 0);
    assert_int_equal(pthread_join(t, &left), 0);
    assert_non_null(left);
    assert_int_equal(mgov_heap_destroy(f->heap), MGOV_ELEAKED);
    f->heap = NULL;
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_LEAKED_BLOCKS), 1);
    assert_int_equal(mgov_used(f->gov), 0);
    /* a new heap is unaffected by the old one's thread entries */
    mgov_heap_config_t hc = MGOV_HEAP_CONFIG_INIT;
    hc.gov = f->gov;
    hc.slack = SLACK;
    assert_int_equal(mgov_heap_create(&hc, &f->heap), MGOV_OK);
    void *p = mgov_heap_malloc(f->heap, 10);
    assert_non_null(p);
    mgov_heap_free(f->heap, p);
    assert_accounting(f);
}

/* ----------------------------------------------------- failure paths */

static void test_budget_refused(void **state)
{
    fx_t *f = *state;
    uint64_t before = used_nometa(f);
    mgov_heap_stats_t st0 = hstats(f);
    /* can never fit: over the critical ceiling of a 4 MiB budget */
    assert_null(mgov_heap_malloc(f->heap, 8 * MiB));
    assert_int_equal(mgov_heap_last_error(f->heap), MGOV_ELIMIT);
    assert_int_equal(used_nometa(f), before);
    /* does not fit now */
    void *a = mgov_heap_malloc(f->heap, 3 * MiB);
    assert_non_null(a);
    uint64_t mid = used_nometa(f);
    assert_null(mgov_heap_malloc(f->heap, 1 * MiB));
    assert_int_equal(mgov_heap_last_error(f->heap), MGOV_EBUDGET);
    assert_int_equal(used_nometa(f), mid); /* a refusal reclaims: metadata counted */
    /* a failed realloc leaves the block as it was */
    memset(a, 7, 100);
    assert_null(mgov_heap_realloc(f->heap, a, 6 * MiB));
    assert_int_equal(((unsigned char *)a)[99], 7);
    assert_int_equal(used_nometa(f), mid); /* a refusal reclaims: metadata counted */
    /* small blocks still come from the slack, until that is short too */
    void *s = mgov_heap_malloc(f->heap, 100);
    assert_non_null(s);
    mgov_heap_free(f->heap, s);
    mgov_heap_free(f->heap, a);
    mgov_heap_stats_t st = hstats(f);
    assert_int_equal(st.mallocs - st0.mallocs, 2);
    assert_int_equal(st.allocated, 0);
    assert_true(gh_evlog_count(f->log, MGOV_EV_REFUSED) >= 3);
    assert_accounting(f);
}

static void test_limit_refused(void **state)
{
    fx_t *f = *state;
    assert_null(mgov_heap_malloc(f->heap, 3 * MiB)); /* over the 2 MiB limit */
    assert_int_equal(mgov_heap_last_error(f->heap), MGOV_ELIMIT);
    void *v[64];
    int n = 0;
    for (; n < 64; n++) /* 64 x 40000 > 2 MiB */
        if (!(v[n] = mgov_heap_malloc(f->heap, 40000)))
            break;
    assert_true(n > 20 && n < 64);
    assert_int_equal(mgov_heap_last_error(f->heap), MGOV_EBUDGET);
    assert_true(used(f) <= 2 * MiB);
    for (int i = 0; i < n; i++)
        mgov_heap_free(f->heap, v[i]);
    assert_accounting(f);
}

/* ----------------------------------------------------------- reclaim */

static void test_reclaim_returns_slack_and_pages(void **state)
{
    fx_t *f = *state;
    enum { N = 64 * 1024 }; /* 64 Ki x 1 KiB = 64 MiB */
    void **v = malloc(N * sizeof *v);
    uint64_t rss0 = mgov_rss_now();
    for (int i = 0; i < N; i++) {
        v[i] = mgov_heap_malloc(f->heap, 1000);
        memset(v[i], 1, 1000);
    }
    void *keep = mgov_heap_malloc(f->heap, 16);
    for (int i = 0; i < N; i++)
        mgov_heap_free(f->heap, v[i]);
    free(v);
    uint64_t rss_freed = mgov_rss_now();
    /* decay_ms -1: the pages stay with the heap until reclaimed */
    assert_true(rss_freed > rss0 + 48 * MiB);
    mgov_heap_stats_t st = hstats(f);
    assert_true(st.dirty >= 48 * MiB);
    assert_true(used(f) > st.allocated); /* this thread's slack */

    uint64_t freed = mgov_reclaim(f->gov, 1, MGOV_PRESSURE_MODERATE);
    assert_true(freed > 0); /* this thread's slack, at once */
    st = hstats(f);
    /* slack back: count = allocated + the allocator's metadata, now counted */
    assert_true(st.metadata > 0);
    assert_int_equal(used(f), st.allocated + st.metadata);
    assert_true(st.dirty < 4 * MiB);
    uint64_t rss_after = mgov_rss_now();
    if (!TSAN)
        assert_true(rss_after < rss0 + 12 * MiB);
    assert_true(gh_evlog_count(f->log, MGOV_EV_EVICTED) >= 1);
    mgov_heap_free(f->heap, keep);
    assert_accounting(f);
}

typedef struct asker {
    mgov_heap_t *h;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int step;
} asker_t;

static void wait_step(asker_t *a, int step)
{
    pthread_mutex_lock(&a->mu);
    while (a->step < step)
        pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
}

static void set_step(asker_t *a, int step)
{
    pthread_mutex_lock(&a->mu);
    a->step = step;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void *hold_slack(void *arg)
{
    asker_t *a = arg;
    void *p = mgov_heap_malloc(a->h, 16); /* takes a batch */
    set_step(a, 1);
    wait_step(a, 2);             /* the main thread reclaims */
    mgov_heap_free(a->h, p);     /* the next call gives the slack back */
    set_step(a, 3);
    wait_step(a, 4);
    return NULL;
}

static void test_reclaim_asks_other_threads(void **state)
{
    fx_t *f = *state;
    asker_t a = { .h = f->heap, .mu = PTHREAD_MUTEX_INITIALIZER,
                  .cv = PTHREAD_COND_INITIALIZER };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_slack, &a), 0);
    wait_step(&a, 1);
    assert_true(used(f) >= SLACK / 2); /* the other thread's slack */
    mgov_reclaim(f->gov, 1, MGOV_PRESSURE_HIGH);
    assert_true(used(f) >= SLACK / 2); /* asked, not yet answered */
    set_step(&a, 2);
    wait_step(&a, 3);
    assert_int_equal(used_nometa(f), 0); /* answered at its next call */
    set_step(&a, 4);
    pthread_join(t, NULL);
    assert_accounting(f);
}

/* ------------------------------------------------------------- misc */

static void test_names_and_args(void **state)
{
    fx_t *f = *state;
    assert_non_null(strstr(mgov_heap_name(f->heap), "heap-"));
    mgov_heap_config_t hc = MGOV_HEAP_CONFIG_INIT;
    mgov_heap_t *h = NULL;
    assert_int_equal(mgov_heap_create(NULL, &h), MGOV_EINVAL);
    assert_int_equal(mgov_heap_create(&hc, &h), MGOV_EINVAL); /* no governor */
    assert_int_equal(mgov_heap_create(&hc, NULL), MGOV_EINVAL);
    hc.gov = f->gov;
    hc.slack = 100; /* below the minimum */
    assert_int_equal(mgov_heap_create(&hc, &h), MGOV_EINVAL);
    hc.slack = 0;
    hc.grant_flags = 0x100;
    assert_int_equal(mgov_heap_create(&hc, &h), MGOV_EINVAL);
    hc.grant_flags = 0;
    hc.region = "nope";
    assert_int_equal(mgov_heap_create(&hc, &h), MGOV_ENOTFOUND);
    hc.region = "other";
    hc.name = "my-heap";
    assert_int_equal(mgov_heap_create(&hc, &h), MGOV_OK);
    assert_string_equal(mgov_heap_name(h), "my-heap");
    mgov_heap_t *h2 = NULL;
    assert_int_equal(mgov_heap_create(&hc, &h2), MGOV_EEXIST);
    assert_null(h2);
    /* it charges its own region, and shows in mgov_stats */
    void *p = mgov_heap_malloc(h, 1000);
    uint64_t usz = mgov_heap_usable_size(h, p); /* jemalloc's class: 1024 */
    assert_int_equal(usz, 1024);
    int other = mgov_region_find(f->gov, "other");
    assert_true(gh_region_used(f->gov, other) >= usz);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(f->gov, &s), MGOV_OK);
    assert_int_equal(s.heaps, 2);
    assert_int_equal(s.heap[other].heaps, 1);
    assert_int_equal(s.heap[other].allocated, usz);
    assert_int_equal(s.heap[other].mallocs, 1);
    assert_int_equal(s.heap[other].charged, gh_region_used(f->gov, other));
    assert_true(s.heap[other].resident > 0);
    char js[16384];
    assert_true(mgov_stats_json(f->gov, js, sizeof js) < sizeof js);
    assert_non_null(strstr(js, "\"heap\":{\"heaps\":1,\"allocated\":1024,"));
    mgov_heap_free(h, p);
    assert_int_equal(mgov_heap_destroy(h), MGOV_OK);

    assert_null(mgov_heap_malloc(NULL, 1));
    assert_int_equal(mgov_heap_last_error(NULL), MGOV_EINVAL);
    assert_int_equal(mgov_heap_trim(NULL), MGOV_EINVAL);
    assert_int_equal(mgov_heap_stats(NULL, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_heap_check(NULL), MGOV_EINVAL);
    assert_null(mgov_heap_name(NULL));
    assert_int_equal(mgov_heap_usable_size(f->heap, NULL), 0);
    mgov_heap_free(NULL, p); /* ignored */
}

static void test_trim(void **state)
{
    fx_t *f = *state;
    void *p = mgov_heap_malloc(f->heap, 32);
    assert_true(used(f) > 32);
    assert_int_equal(mgov_heap_trim(f->heap), MGOV_OK);
    assert_int_equal(used_nometa(f), 32);
    mgov_heap_free(f->heap, p);
    assert_accounting(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_malloc_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_sized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap_calloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heap_realloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aligned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_blocks_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slack_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_live_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_after_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_refused, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_limit_refused, setup_limited, teardown),
        cmocka_unit_test_setup_teardown(test_reclaim_returns_slack_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reclaim_asks_other_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
