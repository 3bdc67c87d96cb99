/* test_bufpool.c - the buffer pool (src/alloc/bufpool*.c): configuration,
 * every function and error, alignment, reference counting across threads,
 * reuse without system allocations, the cache and its LRU eviction, FIFO
 * order with mixed sizes, deadlines, destroy with a deadline,
 * out-of-memory at every allocation point, the invariant check, and ASan
 * poisoning of released buffers.  The pool under a governor (grants per
 * span, region, refusals, reclaim and debt: bufpool_gov.c) is tested in
 * test_bufpool_gov.c.
 *
 * Every test ends with the pool's invariant check and, with a governor,
 * usage back to zero and a clean mgov_destroy.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc/bufpool_internal.h"
#include "bufpool_helpers.h"
#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov.h"
#include "sys/fault.h"
#include "sys/sys.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define PG 4096 /* the tests' buffer size */

static uint64_t gov_consumers(mgov_t *gov)
{
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    return s.consumers;
}

/* ------------------------------------------------------------ create */

static void test_create_defaults(void **state)
{
    (void)state;
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.max_memory = 1 * MiB;
    mgov_bufpool_t *p = NULL;
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_OK);
    assert_int_equal(mgov_bufpool_buffer_size(p), MGOV_BUFPOOL_DEFAULT_BUFFER);
    assert_int_equal(mgov_bufpool_alignment(p), MGOV_BUFPOOL_DEFAULT_ALIGN);
    assert_null(mgov_bufpool_name(p)); /* no governor */
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.buffer_size, 4096);
    assert_int_equal(s.max_memory, 1 * MiB);
    assert_int_equal(s.bytes_held, 0);
    assert_int_equal(s.sys_allocs, 0); /* nothing up front */
    bh_destroy(p);
    assert_int_equal(mgov_bufpool_destroy(NULL, 0), MGOV_OK);
    assert_int_equal(mgov_bufpool_destroy(NULL, -1), MGOV_OK);
    assert_int_equal(mgov_bufpool_buffer_size(NULL), 0);
    assert_int_equal(mgov_bufpool_alignment(NULL), 0);
    assert_null(mgov_bufpool_name(NULL));
}

static void test_create_sizes(void **state)
{
    (void)state;
    size_t ok[] = { 64, 128, 4096, 65536, 64u << 20 };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mgov_bufpool_t *p = bh_pool_new(ok[i], 64u << 20, NULL);
        assert_int_equal(mgov_bufpool_buffer_size(p), ok[i]);
        mgov_bufs_t *b = bh_take(p, 1);
        assert_int_equal(mgov_bufs_bytes(b), ok[i]);
        memset(mgov_bufs_data(b), 0x5a, ok[i]);
        mgov_bufs_release(b);
        bh_destroy(p);
    }
}

static void test_create_invalid(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_bufpool_t *p = (mgov_bufpool_t *)&p; /* must be cleared on error */
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.max_memory = MiB;
    assert_int_equal(mgov_bufpool_create(NULL, &p), MGOV_EINVAL);
    assert_null(p);
    assert_int_equal(mgov_bufpool_create(&cfg, NULL), MGOV_EINVAL);

    const size_t bad_sizes[] = { 1, 32, 63, 100, 1000, 4097, 128u << 20, (size_t)1 << 40 };
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        cfg.buffer_size = bad_sizes[i];
        p = (mgov_bufpool_t *)&p;
        assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);
        assert_null(p);
    }
    cfg.buffer_size = 4096;

    const size_t bad_align[] = { 3, 48, 100, 8192 * 4, (size_t)1 << 20 };
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        cfg.alignment = bad_align[i];
        assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);
    }
    cfg.alignment = 128;
    cfg.flags = MGOV_BUFPOOL_PAGE_ALIGNED; /* both: ambiguous */
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);
    cfg.alignment = 0;
    cfg.flags = 0x80;
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);
    cfg.flags = MGOV_BUFPOOL_PAGE_ALIGNED | MGOV_BUFPOOL_NO_AGE | 4;
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);
    cfg.flags = 0;

    cfg.max_memory = 4095; /* under one buffer */
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);
    cfg.max_memory = 0; /* no cap and no governor */
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);

    /* with a governor */
    cfg.gov = gov;
    cfg.region = "no_such_region";
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_ENOTFOUND);
    assert_null(p);
    cfg.region = NULL;
    cfg.name = "";
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);
    cfg.name = "bad\nname";
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EINVAL);
    cfg.name = "pages";
    mgov_bufpool_t *first = NULL;
    assert_int_equal(mgov_bufpool_create(&cfg, &first), MGOV_OK);
    assert_string_equal(mgov_bufpool_name(first), "pages");
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_EEXIST);
    assert_null(p);
    assert_int_equal(gov_consumers(gov), 1); /* the failed ones left nothing */
    bh_destroy(first);
    assert_int_equal(gov_consumers(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* Fails each allocation of create in turn: a clean ENOMEM each time. */
static void test_create_enomem(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.gov = gov;
    int failures = 0;
    for (long k = 0; k < 20; k++) {
        mgov_bufpool_t *p = (mgov_bufpool_t *)&p;
        mgov__fault_arm(MGOV_FAULT_ALLOC, k, 1);
        int rc = mgov_bufpool_create(&cfg, &p);
        long hits = mgov__fault_hits(MGOV_FAULT_ALLOC);
        mgov__fault_disarm_all();
        if (rc == MGOV_OK) {
            assert_int_equal(hits, 0);
            bh_destroy(p);
            break;
        }
        assert_int_equal(rc, MGOV_ENOMEM);
        assert_null(p);
        assert_int_equal(gov_consumers(gov), 0);
        failures++;
    }
    assert_int_equal(failures, 3); /* pool, shards, the governor's consumer */
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------------------------------- alloc */

static void test_alloc_release_basic(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 64 * KiB, NULL);
    mgov_bufs_t *b = NULL;
    assert_int_equal(mgov_bufpool_alloc(p, 3, 0, &b), MGOV_OK);
    unsigned char *d = mgov_bufs_data(b);
    assert_non_null(d);
    assert_int_equal((uintptr_t)d % 64, 0);
    assert_int_equal(mgov_bufs_count(b), 3);
    assert_int_equal(mgov_bufs_bytes(b), 3 * PG);
    assert_int_equal(mgov_bufs_refs(b), 1);
    for (size_t i = 0; i < 3; i++)
        assert_ptr_equal(mgov_bufs_buf(b, i), d + i * PG);
    assert_null(mgov_bufs_buf(b, 3));
    assert_null(mgov_bufs_buf(b, SIZE_MAX));
    memset(d, 0xab, 3 * PG); /* the whole span is ours */

    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.buffers_in_use, 3);
    assert_int_equal(s.spans_live, 1);
    assert_int_equal(s.peak_in_use, 3);
    assert_int_equal(s.bytes_held, 3 * PG);
    assert_int_equal(s.allocs, 1);
    assert_int_equal(s.reuses, 0);
    assert_int_equal(s.sys_allocs, 1);
    bh_check(p);

    mgov_bufs_release(b);
    s = bh_stats(p);
    assert_int_equal(s.buffers_in_use, 0);
    assert_int_equal(s.spans_live, 0);
    assert_int_equal(s.buffers_cached, 3);
    assert_int_equal(s.spans_cached, 1);
    assert_int_equal(s.bytes_held, 3 * PG); /* cached memory is still held */
    assert_int_equal(s.peak_held, 3 * PG);
    bh_check(p);

    /* the same count comes back from the cache: the same memory */
    mgov_bufs_t *again = bh_take(p, 3);
    assert_ptr_equal(mgov_bufs_data(again), d);
    s = bh_stats(p);
    assert_int_equal(s.allocs, 2);
    assert_int_equal(s.reuses, 1);
    assert_int_equal(s.sys_allocs, 1);
    mgov_bufs_release(again);
    bh_destroy(p);
}

static void test_alloc_errors(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 8 * PG, NULL);
    mgov_bufs_t *b = (mgov_bufs_t *)&b;
    assert_int_equal(mgov_bufpool_alloc(NULL, 1, 0, &b), MGOV_EINVAL);
    assert_null(b);
    assert_int_equal(mgov_bufpool_alloc(p, 1, 0, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_bufpool_try_alloc(p, 1, NULL), MGOV_EINVAL);
    b = (mgov_bufs_t *)&b;
    assert_int_equal(mgov_bufpool_alloc(p, 0, -1, &b), MGOV_EINVAL);
    assert_null(b);
    /* n x size overflows: distinct from "larger than the cap" */
    assert_int_equal(mgov_bufpool_alloc(p, SIZE_MAX / 2, -1, &b), MGOV_EOVERFLOW);
    assert_int_equal(mgov_bufpool_alloc(p, (SIZE_MAX >> 12) + 1, -1, &b), MGOV_EOVERFLOW);
    /* larger than the cap: at once, even blocking forever */
    assert_int_equal(mgov_bufpool_alloc(p, 9, -1, &b), MGOV_ELIMIT);
    assert_int_equal(mgov_bufpool_alloc(p, SIZE_MAX >> 12, -1, &b), MGOV_ELIMIT);
    assert_null(b);
    /* does not fit now */
    mgov_bufs_t *all = bh_take(p, 8);
    b = (mgov_bufs_t *)&b;
    assert_int_equal(mgov_bufpool_try_alloc(p, 1, &b), MGOV_EBUDGET);
    assert_null(b);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.refusals, 3); /* ELIMIT x2, EBUDGET */
    assert_int_equal(s.waits, 0);
    mgov_bufs_release(all);

    /* the accessors and retain/release take NULL */
    assert_null(mgov_bufs_data(NULL));
    assert_null(mgov_bufs_buf(NULL, 0));
    assert_int_equal(mgov_bufs_count(NULL), 0);
    assert_int_equal(mgov_bufs_bytes(NULL), 0);
    assert_int_equal(mgov_bufs_refs(NULL), 0);
    mgov_bufs_retain(NULL);
    mgov_bufs_release(NULL);
    assert_int_equal(mgov_bufpool_stats(NULL, &s), MGOV_EINVAL);
    assert_int_equal(mgov_bufpool_stats(p, NULL), MGOV_EINVAL);
    bh_destroy(p);
}

static void test_alignment(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* default: a cache line */
    mgov_bufpool_t *p = bh_pool_new(64, 64 * KiB, NULL);
    for (size_t n = 1; n <= 9; n++) {
        mgov_bufs_t *b = bh_take(p, n);
        assert_int_equal((uintptr_t)mgov_bufs_data(b) % 64, 0);
        for (size_t i = 0; i < n; i++)
            assert_ptr_equal(mgov_bufs_buf(b, i), (unsigned char *)mgov_bufs_data(b) + i * 64);
        mgov_bufs_release(b);
    }
    bh_destroy(p);

    /* explicit, and page-aligned for O_DIRECT, also with buffers smaller than a page */
    const size_t sizes[] = { 64, 512, 4096, 16384 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int mode = 0; mode < 2; mode++) {
            mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
            cfg.buffer_size = sizes[k];
            cfg.max_memory = 1 * MiB;
            if (mode == 0)
                cfg.alignment = 256;
            else
                cfg.flags = MGOV_BUFPOOL_PAGE_ALIGNED;
            size_t want = mode == 0 ? 256 : page;
            assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_OK);
            assert_int_equal(mgov_bufpool_alignment(p), want);
            mgov_bufs_t *bs[5];
            for (size_t n = 1; n <= 5; n++) {
                bs[n - 1] = bh_take(p, n);
                unsigned char *d = mgov_bufs_data(bs[n - 1]);
                assert_int_equal((uintptr_t)d % want, 0);
                memset(d, 1, mgov_bufs_bytes(bs[n - 1]));
                assert_ptr_equal(mgov_bufs_buf(bs[n - 1], n - 1), d + (n - 1) * sizes[k]);
            }
            for (size_t n = 0; n < 5; n++)
                mgov_bufs_release(bs[n]);
            bh_destroy(p);
        }
    }
}

typedef struct {
    mgov_bufs_t *b;
    unsigned char seen;
} handoff_t;

static void *consume_and_release(void *arg)
{
    handoff_t *h = arg;
    unsigned char *d = mgov_bufs_buf(h->b, 1);
    h->seen = d[7];
    d[8] = 0x42;
    mgov_bufs_release(h->b);
    return NULL;
}

static void test_retain_release_other_thread(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 64 * KiB, NULL);
    /* 1. shared: both threads hold a reference, the main one releases last */
    mgov_bufs_t *b = bh_take(p, 2);
    ((unsigned char *)mgov_bufs_buf(b, 1))[7] = 0x17;
    mgov_bufs_retain(b);
    assert_int_equal(mgov_bufs_refs(b), 2);
    handoff_t h = { .b = b };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, consume_and_release, &h), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(h.seen, 0x17);
    assert_int_equal(mgov_bufs_refs(b), 1);
    assert_int_equal(((unsigned char *)mgov_bufs_buf(b, 1))[8], 0x42);
    assert_int_equal(bh_stats(p).buffers_in_use, 2);
    mgov_bufs_release(b);
    assert_int_equal(bh_stats(p).buffers_in_use, 0);

    /* 2. handed over: the other thread's release is the last one */
    b = bh_take(p, 2);
    h.b = b;
    assert_int_equal(pthread_create(&t, NULL, consume_and_release, &h), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.buffers_in_use, 0);
    assert_int_equal(s.buffers_cached, 2);
    bh_check(p);

    /* a release of an allocation already returned is ignored */
    mgov_bufs_release(b);
    s = bh_stats(p);
    assert_int_equal(s.buffers_cached, 2);
    assert_int_equal(s.spans_cached, 1);
    bh_destroy(p);
}

/* ------------------------------------------------------- reuse, cache */

/* A steady cycle makes no system allocation: counted by the stats, and
 * proven by failing every allocation the library tries meanwhile. */
static void test_reuse_no_system_allocation(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    for (int governed = 0; governed < 2; governed++) {
        mgov_bufpool_t *p = bh_pool_new(PG, 1 * MiB, governed ? gov : NULL);
        const size_t counts[] = { 1, 4, 16, 3 };
        for (size_t i = 0; i < 4; i++) /* warm up: one span per count */
            mgov_bufs_release(bh_take(p, counts[i]));
        mgov_bufpool_stats_t before = bh_stats(p);
        assert_int_equal(before.sys_allocs, 4);
        uint64_t used = mgov_used(gov);

        mgov__fault_arm(MGOV_FAULT_ALLOC, 0, -1); /* every allocation fails from now */
        for (int i = 0; i < 10000; i++) {
            mgov_bufs_t *b = NULL, *c = NULL;
            assert_int_equal(mgov_bufpool_try_alloc(p, counts[i % 4], &b), MGOV_OK);
            assert_int_equal(mgov_bufpool_alloc(p, counts[(i + 1) % 4], -1, &c), MGOV_OK);
            ((unsigned char *)mgov_bufs_data(b))[i % PG] = (unsigned char)i;
            mgov_bufs_release(c);
            mgov_bufs_release(b);
        }
        long hits = mgov__fault_hits(MGOV_FAULT_ALLOC);
        mgov__fault_disarm_all();
        assert_int_equal(hits, 0);

        mgov_bufpool_stats_t after = bh_stats(p);
        assert_int_equal(after.sys_allocs, before.sys_allocs);
        assert_int_equal(after.sys_frees, 0);
        assert_int_equal(after.allocs, before.allocs + 20000);
        assert_int_equal(after.reuses, before.reuses + 20000);
        assert_int_equal(mgov_used(gov), used); /* no grant taken or released */
        bh_destroy(p);
    }
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* New memory over the cap evicts cached spans, oldest first; a cached span
 * of the right count is reused, the newest first. */
static void test_cache_lru_and_cap(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 4 * PG, NULL);
    mgov_bufs_t *a = bh_take(p, 1), *b = bh_take(p, 1), *c = bh_take(p, 1);
    void *da = mgov_bufs_data(a), *db = mgov_bufs_data(b), *dc = mgov_bufs_data(c);
    mgov_bufs_release(a); /* oldest */
    mgov_bufs_release(b);
    mgov_bufs_release(c); /* newest */
    assert_int_equal(bh_stats(p).bytes_held, 3 * PG);

    /* two buffers: held 3 + 2 > 4, so one cached span goes: the oldest */
    mgov_bufs_t *two = bh_take(p, 2);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.sys_frees, 1);
    assert_int_equal(s.spans_cached, 2);
    assert_int_equal(s.bytes_held, 4 * PG);
    /* the newest single comes back first, then the other survivor */
    mgov_bufs_t *x = bh_take(p, 1), *y = bh_take(p, 1);
    assert_ptr_equal(mgov_bufs_data(x), dc);
    assert_ptr_equal(mgov_bufs_data(y), db);
    (void)da;
    assert_int_equal(bh_stats(p).sys_allocs, 4);

    /* full: nothing cached to evict, so nothing fits */
    mgov_bufs_t *z = NULL;
    assert_int_equal(mgov_bufpool_try_alloc(p, 1, &z), MGOV_EBUDGET);
    mgov_bufs_release(two);
    mgov_bufs_release(x);
    mgov_bufs_release(y);
    /* four buffers at once: every cached span is evicted for it */
    mgov_bufs_t *four = bh_take(p, 4);
    s = bh_stats(p);
    assert_int_equal(s.spans_cached, 0);
    assert_int_equal(s.sys_frees, 4);
    assert_int_equal(s.bytes_held, 4 * PG);
    assert_int_equal(s.peak_held, 4 * PG);
    bh_check(p);
    mgov_bufs_release(four);
    bh_destroy(p);
}

/* -------------------------------------------------------- blocking */

static void test_blocking_forever_woken_by_release(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 2 * PG, NULL);
    mgov_bufs_t *all = bh_take(p, 2);
    bh_req_t r;
    bh_req_start_queued(&r, p, 2, -1, 0);
    bh_sleep_ms(20);
    assert_false(atomic_load(&r.done));
    mgov_bufs_release(all);
    assert_true(bh_req_join_ms(&r, 5000));
    assert_int_equal(r.rc, MGOV_OK);
    assert_int_equal(mgov_bufs_count(r.bufs), 2);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.waits, 1);
    assert_true(s.wait_ns >= 15 * BH_MS);
    assert_int_equal(s.waiters, 0);
    assert_int_equal(s.reuses, 1); /* it got the released span itself */
    bh_req_release(&r);
    bh_destroy(p);
}

static void test_deadline_expires(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 2 * PG, NULL);
    mgov_bufs_t *all = bh_take(p, 2);
    mgov_bufs_t *b = (mgov_bufs_t *)&b;
    uint64_t t0 = mgov__now_ns();
    assert_int_equal(mgov_bufpool_alloc(p, 1, 50 * BH_MS, &b), MGOV_ETIMEDOUT);
    uint64_t took = mgov__now_ns() - t0;
    assert_null(b);
    assert_true(took >= 50 * BH_MS);
    assert_true(took < (50 + 10 * BH_SLACK_MS) * BH_MS);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.timeouts, 1);
    assert_int_equal(s.refusals, 1);
    assert_int_equal(s.waits, 1);
    assert_int_equal(s.waiters, 0);
    bh_check(p);
    mgov_bufs_release(all);
    bh_destroy(p);
}

/* A head that times out lets the smaller requests behind it through at
 * once, with no release. */
static void test_timeout_does_not_block_next(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 4 * PG, NULL);
    mgov_bufs_t *three = bh_take(p, 3); /* one buffer free */
    bh_req_t big, small;
    bh_req_start_queued(&big, p, 4, 100 * BH_MS, 0);
    bh_req_start_queued(&small, p, 1, -1, 1); /* fits, but queues behind big */
    bh_sleep_ms(20);
    assert_false(atomic_load(&small.done));
    assert_true(bh_req_join_ms(&big, 5000));
    assert_int_equal(big.rc, MGOV_ETIMEDOUT);
    assert_true(bh_req_join_ms(&small, BH_SLACK_MS * 10));
    assert_int_equal(small.rc, MGOV_OK);
    assert_int_equal(bh_stats(p).buffers_in_use, 4);
    bh_req_release(&small);
    mgov_bufs_release(three);
    bh_destroy(p);
}

/* Strict arrival order with mixed sizes: a request of the whole cap is not
 * starved by single buffers, and nothing overtakes the head, neither a
 * queued request nor a non-blocking one. */
static void test_fifo_mixed_sizes(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 8 * PG, NULL);
    mgov_bufs_t *single[8];
    for (int i = 0; i < 8; i++)
        single[i] = bh_take(p, 1);
    bh_order_reset();
    bh_req_t w1, w2, w3, w4;
    bh_req_start_queued(&w1, p, 8, -1, 0);
    bh_req_start_queued(&w2, p, 3, -1, 1);
    bh_req_start_queued(&w3, p, 6, -1, 2);
    bh_req_start_queued(&w4, p, 1, -1, 3);

    /* one buffer back: w4 (or a try) would fit, but w1 is first */
    mgov_bufs_release(single[0]);
    bh_sleep_ms(30);
    assert_int_equal(bh_stats(p).waiters, 4);
    mgov_bufs_t *b = NULL;
    assert_int_equal(mgov_bufpool_try_alloc(p, 1, &b), MGOV_EBUDGET);
    assert_false(atomic_load(&w4.done));

    for (int i = 1; i < 8; i++)
        mgov_bufs_release(single[i]);
    assert_true(bh_req_join_ms(&w1, 5000));
    assert_int_equal(w1.rc, MGOV_OK);
    assert_int_equal(atomic_load(&w1.order), 0);
    assert_int_equal(mgov_bufs_count(w1.bufs), 8);
    bh_sleep_ms(30);
    assert_int_equal(bh_stats(p).waiters, 3);

    /* w2 (3) gets in; w3 (6) does not fit beside it, and w4 (1), which
     * would, stays behind w3 */
    bh_req_release(&w1);
    assert_true(bh_req_join_ms(&w2, 5000));
    assert_int_equal(w2.rc, MGOV_OK);
    assert_int_equal(atomic_load(&w2.order), 1);
    bh_sleep_ms(30);
    assert_int_equal(bh_stats(p).waiters, 2);
    assert_false(atomic_load(&w4.done));
    assert_int_equal(mgov_bufpool_try_alloc(p, 1, &b), MGOV_EBUDGET);

    /* one release lets both through, in order */
    bh_req_release(&w2);
    assert_true(bh_req_join_ms(&w3, 5000));
    assert_true(bh_req_join_ms(&w4, 5000));
    assert_int_equal(w3.rc, MGOV_OK);
    assert_int_equal(w4.rc, MGOV_OK);
    assert_true(atomic_load(&w3.order) >= 2 && atomic_load(&w4.order) >= 2);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.buffers_in_use, 7);
    assert_int_equal(s.waits, 4);
    assert_int_equal(s.waiters, 0);
    assert_true(s.bytes_held <= 8 * PG);
    bh_check(p);
    bh_req_release(&w3);
    bh_req_release(&w4);
    bh_destroy(p);
}

/* A release wakes only the waiters it lets through. */
static void test_release_wakes_only_what_fits(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 4 * PG, NULL);
    mgov_bufs_t *s[4];
    for (int i = 0; i < 4; i++)
        s[i] = bh_take(p, 1);
    bh_req_t w[3];
    for (unsigned i = 0; i < 3; i++)
        bh_req_start_queued(&w[i], p, 2, -1, i);
    mgov_bufs_release(s[0]);
    mgov_bufs_release(s[1]);
    assert_true(bh_req_join_ms(&w[0], 5000));
    assert_int_equal(w[0].rc, MGOV_OK);
    bh_sleep_ms(30);
    assert_false(atomic_load(&w[1].done));
    assert_false(atomic_load(&w[2].done));
    assert_int_equal(bh_stats(p).waiters, 2);
    mgov_bufs_release(s[2]);
    mgov_bufs_release(s[3]);
    assert_true(bh_req_join_ms(&w[1], 5000));
    bh_sleep_ms(30);
    assert_false(atomic_load(&w[2].done));
    bh_req_release(&w[0]);
    assert_true(bh_req_join_ms(&w[2], 5000));
    assert_int_equal(w[2].rc, MGOV_OK);
    bh_req_release(&w[1]);
    bh_req_release(&w[2]);
    bh_destroy(p);
}

/* A waiter admitted for new memory whose allocation fails gives the room
 * back: the next waiter gets in. */
static void test_waiter_enomem_passes_on(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 2 * PG, NULL);
    mgov_bufs_t *a = bh_take(p, 1), *b = bh_take(p, 1);
    bh_req_t w1, w2;
    bh_req_start_queued(&w1, p, 2, -1, 0);
    bh_req_start_queued(&w2, p, 1, -1, 1);
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 1); /* w1's next allocation */
    mgov_bufs_release(a);
    mgov_bufs_release(b);
    assert_true(bh_req_join_ms(&w1, 5000));
    assert_true(bh_req_join_ms(&w2, 5000));
    assert_int_equal(mgov__fault_hits(MGOV_FAULT_ALLOC), 1);
    mgov__fault_disarm_all();
    assert_int_equal(w1.rc, MGOV_ENOMEM);
    assert_null(w1.bufs);
    assert_int_equal(w2.rc, MGOV_OK);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.buffers_in_use, 1);
    assert_int_equal(s.bytes_held, PG);
    bh_check(p);
    bh_req_release(&w2);
    bh_destroy(p);
}

/* ------------------------------------------------------------ destroy */

typedef struct {
    int n;
    size_t counts[8];
    unsigned refs[8];
    uint64_t min_age;
} live_list_t;

static void collect_live(void *arg, const mgov_bufs_t *b, size_t count, unsigned refs,
                         uint64_t age_ns)
{
    live_list_t *l = arg;
    assert_int_equal(mgov_bufs_count(b), count); /* readable under the callback */
    if (l->n < 8) {
        l->counts[l->n] = count;
        l->refs[l->n] = refs;
    }
    if (age_ns < l->min_age)
        l->min_age = age_ns;
    l->n++;
}

static void test_foreach_live(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 16 * PG, NULL);
    live_list_t l = { .min_age = UINT64_MAX };
    assert_int_equal(mgov_bufpool_foreach_live(p, collect_live, &l), 0);
    assert_int_equal(l.n, 0);
    mgov_bufs_t *a = bh_take(p, 2), *b = bh_take(p, 5), *c = bh_take(p, 1);
    mgov_bufs_retain(b);
    mgov_bufs_release(c); /* cached: not listed */
    assert_int_equal(mgov_bufpool_foreach_live(p, collect_live, &l), 2);
    assert_int_equal(l.n, 2);
    size_t sum = l.counts[0] + l.counts[1];
    unsigned refs = l.refs[0] + l.refs[1];
    assert_int_equal(sum, 7);
    assert_int_equal(refs, 3);
    assert_int_equal(mgov_bufpool_foreach_live(NULL, collect_live, &l), MGOV_EINVAL);
    assert_int_equal(mgov_bufpool_foreach_live(p, NULL, &l), MGOV_EINVAL);
    bh_sleep_ms(20);
    memset(&l, 0, sizeof l);
    l.min_age = UINT64_MAX;
    assert_int_equal(mgov_bufpool_foreach_live(p, collect_live, &l), 2);
    assert_true(l.min_age >= 10 * BH_MS); /* coarse clock: a few ms of slack */
    mgov_bufs_release(a);
    mgov_bufs_release(b);
    mgov_bufs_release(b);
    bh_destroy(p);

    /* without ages: listed all the same, age 0 */
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.max_memory = 16 * PG;
    cfg.flags = MGOV_BUFPOOL_NO_AGE;
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_OK);
    mgov_bufs_release(bh_take(p, 1));
    a = bh_take(p, 1); /* from the cache */
    b = bh_take(p, 2); /* new */
    bh_sleep_ms(10);
    memset(&l, 0, sizeof l);
    l.min_age = UINT64_MAX;
    assert_int_equal(mgov_bufpool_foreach_live(p, collect_live, &l), 2);
    assert_int_equal(l.min_age, 0);
    mgov_bufs_release(a);
    mgov_bufs_release(b);
    bh_destroy(p);
}

/* Destroy with allocations alive: EBUSY after the deadline, the pool stays
 * usable for inspection, new requests are canceled; once released, destroy
 * succeeds. */
static void test_destroy_busy_then_ok(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_bufpool_t *p = bh_pool_new(PG, 16 * PG, gov);
    mgov_bufs_t *a = bh_take(p, 2), *b = bh_take(p, 3);
    mgov_bufs_release(bh_take(p, 4)); /* cached memory too */
    mgov_bufs_retain(b);
    uint64_t t0 = mgov__now_ns();
    assert_int_equal(mgov_bufpool_destroy(p, 50 * BH_MS), MGOV_EBUSY);
    assert_true(mgov__now_ns() - t0 >= 50 * BH_MS);

    live_list_t l = { .min_age = UINT64_MAX };
    assert_int_equal(mgov_bufpool_foreach_live(p, collect_live, &l), 2);
    assert_true(l.counts[0] + l.counts[1] == 5);
    assert_true(l.refs[0] + l.refs[1] == 3);
    assert_true(l.min_age >= 30 * BH_MS); /* coarse clock: a few ms of slack */

    mgov_bufs_t *x = (mgov_bufs_t *)&x;
    assert_int_equal(mgov_bufpool_try_alloc(p, 4, &x), MGOV_ECANCELED); /* even cached */
    assert_null(x);
    assert_int_equal(mgov_bufpool_alloc(p, 1, 10 * BH_MS, &x), MGOV_ECANCELED);
    assert_int_equal(mgov_bufpool_alloc(p, 1, -1, &x), MGOV_ECANCELED);
    assert_int_equal(bh_stats(p).cancels, 3);
    bh_check(p);

    mgov_bufs_release(a);
    assert_int_equal(mgov_bufpool_destroy(p, 0), MGOV_EBUSY);
    mgov_bufs_release(b);
    assert_int_equal(mgov_bufpool_destroy(p, 0), MGOV_EBUSY); /* one reference left */
    mgov_bufs_release(b);
    assert_int_equal(mgov_used(gov), 9 * PG); /* all cached until destroy */
    assert_int_equal(mgov_bufpool_destroy(p, 0), MGOV_OK);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(gov_consumers(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_destroy_cancels_waiters(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 2 * PG, NULL);
    mgov_bufs_t *all = bh_take(p, 2);
    bh_req_t w1, w2;
    bh_req_start_queued(&w1, p, 1, -1, 0);
    bh_req_start_queued(&w2, p, 2, 10000 * BH_MS, 1);
    assert_int_equal(mgov_bufpool_destroy(p, 20 * BH_MS), MGOV_EBUSY);
    assert_true(bh_req_join_ms(&w1, 5000));
    assert_true(bh_req_join_ms(&w2, 5000));
    assert_int_equal(w1.rc, MGOV_ECANCELED);
    assert_int_equal(w2.rc, MGOV_ECANCELED);
    assert_true(w2.took_ns < 5000 * BH_MS);
    mgov_bufpool_stats_t s = bh_stats(p);
    assert_int_equal(s.cancels, 2);
    assert_int_equal(s.waiters, 0);
    mgov_bufs_release(all);
    assert_int_equal(mgov_bufpool_destroy(p, -1), MGOV_OK);
}

static void *release_later(void *arg)
{
    bh_sleep_ms(50);
    mgov_bufs_release(arg);
    return NULL;
}

/* Destroy blocks until the last allocation is released in another thread. */
static void test_destroy_waits_for_release(void **state)
{
    (void)state;
    for (int forever = 0; forever < 2; forever++) {
        mgov_bufpool_t *p = bh_pool_new(PG, 4 * PG, NULL);
        mgov_bufs_t *b = bh_take(p, 3);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, release_later, b), 0);
        uint64_t t0 = mgov__now_ns();
        assert_int_equal(mgov_bufpool_destroy(p, forever ? -1 : 10000 * BH_MS), MGOV_OK);
        assert_true(mgov__now_ns() - t0 >= 30 * BH_MS);
        assert_int_equal(pthread_join(t, NULL), 0);
    }
}

/* The invariant check notices a counter that disagrees with the lists. */
static void test_check_detects_corruption(void **state)
{
    (void)state;
    mgov_bufpool_t *p = bh_pool_new(PG, 16 * PG, NULL);
    mgov_bufs_t *a = bh_take(p, 2);
    mgov_bufs_release(bh_take(p, 3));
    bh_check(p);
    assert_int_equal(mgov__bufpool_check(NULL), MGOV_EINVAL);

    atomic_fetch_add(&p->held, PG); /* held no longer the sum of its parts */
    assert_int_equal(mgov__bufpool_check(p), MGOV_ECORRUPT);
    atomic_fetch_sub(&p->held, PG);

    bp_shard_t *s = &p->shards[a->shard];
    s->in_use++; /* in use no longer what the live spans add up to */
    assert_int_equal(mgov__bufpool_check(p), MGOV_ECORRUPT);
    s->in_use--;

    for (unsigned i = 0; i < p->n_shards; i++) {
        if (!p->shards[i].cached_spans)
            continue;
        p->shards[i].cached_bytes += PG; /* a cache that disagrees with its lists */
        assert_int_equal(mgov__bufpool_check(p), MGOV_ECORRUPT);
        p->shards[i].cached_bytes -= PG;
    }
    bh_check(p);
    mgov_bufs_release(a);
    bh_destroy(p);
}

/* --------------------------------------------------------- sanitizer */

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

/* A buffer written after its release dies under ASan (cached spans are
 * poisoned); a reused one is writable again. */
static void test_asan_use_after_release(void **state)
{
    (void)state;
#ifdef TEST_ASAN
    mgov_bufpool_t *p = bh_pool_new(PG, 16 * PG, NULL);
    mgov_bufs_t *b = bh_take(p, 2);
    unsigned char *d = mgov_bufs_buf(b, 1);
    mgov_bufs_release(b);
    print_message("expected below: the child's AddressSanitizer report (use-after-poison)\n");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        d[5] = 1; /* use after release */
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0));
    b = bh_take(p, 2); /* reused: addressable again */
    assert_ptr_equal(mgov_bufs_buf(b, 1), d);
    d[5] = 1;
    mgov_bufs_release(b);
    bh_destroy(p);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_create_defaults),
        FH_TEST(test_create_sizes),
        FH_TEST(test_create_invalid),
        FH_TEST(test_create_enomem),
        FH_TEST(test_alloc_release_basic),
        FH_TEST(test_alloc_errors),
        FH_TEST(test_alignment),
        FH_TEST(test_retain_release_other_thread),
        FH_TEST(test_reuse_no_system_allocation),
        FH_TEST(test_cache_lru_and_cap),
        FH_TEST(test_blocking_forever_woken_by_release),
        FH_TEST(test_deadline_expires),
        FH_TEST(test_timeout_does_not_block_next),
        FH_TEST(test_fifo_mixed_sizes),
        FH_TEST(test_release_wakes_only_what_fits),
        FH_TEST(test_waiter_enomem_passes_on),
        FH_TEST(test_foreach_live),
        FH_TEST(test_destroy_busy_then_ok),
        FH_TEST(test_destroy_cancels_waiters),
        FH_TEST(test_destroy_waits_for_release),
        FH_TEST(test_check_detects_corruption),
        FH_TEST(test_asan_use_after_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
