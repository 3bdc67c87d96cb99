/* test_heap_stress.c - one heap, four threads, random malloc, calloc,
 * realloc and free, with a quarter of the blocks freed by another thread
 * (handed over through a shared mailbox), and reclaim passes asked from
 * the side.
 *
 * A watcher thread checks, all along, the heap's documented bound:
 *
 *     live <= governor's count <= live + metadata + threads x slack
 *                                    + threads x max block
 *
 * where `live` is the usable bytes the workers say they hold (added after
 * an allocation returns, removed before a free: so live <= what is really
 * allocated, which may exceed it by the blocks being allocated right now).
 * It reads live, the count, live again, and checks only when live did not
 * move, so no free can have lowered the count below what it read.
 * At the end: every block freed, the count is the slack alone, and
 * mgov_heap_check passes.  Threads never call cmocka asserts: they count
 * violations.  MGOV_STRESS_OPS sets the operations per thread (default
 * 1000000; a tenth under the sanitizers).
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

#include "gov_helpers.h"
#include "memgov.h"

#define THREADS 4
#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define SLACK (128 * KiB)
#define MAX_BLOCK 2048u
#define HELD 512
#define MAILBOX 256

static mgov_t *gov;
static mgov_heap_t *heap;
static int region;
static _Atomic uint64_t live;
static _Atomic int done;
static _Atomic uint64_t below, above, checks, bad_content, alloc_failed;
static _Atomic(void *) mailbox[MAILBOX];

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t count_now(void)
{
    mgov_stats_t st;
    mgov_stats(gov, &st);
    return st.regions[region].used;
}

static void *watcher(void *arg)
{
    (void)arg;
    while (!atomic_load(&done)) {
        uint64_t l1 = atomic_load(&live);
        uint64_t c = mgov_used(gov);
        uint64_t l2 = atomic_load(&live);
        if (l1 != l2)
            continue;
        atomic_fetch_add(&checks, 1);
        if (c < l1)
            atomic_fetch_add(&below, 1);
        uint64_t bound = l1 + THREADS * SLACK + THREADS * (uint64_t)MAX_BLOCK * 2;
        if (c > bound) {
            /* the count also holds the allocator's metadata: it only
             * grows, so read now it is at least what the count holds */
            mgov_heap_stats_t st;
            mgov_heap_stats(heap, &st);
            if (c > bound + st.metadata)
                atomic_fetch_add(&above, 1);
        }
    }
    return NULL;
}

static void give(void *p, uint64_t usz)
{
    /* stamp the block with its size, so the freeing thread can account it */
    memcpy(p, &usz, sizeof usz);
    for (unsigned i = 0; i < MAILBOX; i++) {
        void *expected = NULL;
        if (atomic_compare_exchange_strong(&mailbox[i], &expected, p))
            return;
    }
    atomic_fetch_sub(&live, usz); /* full: free it ourselves */
    mgov_heap_free(heap, p);
}

static void take_one(unsigned i)
{
    void *p = atomic_exchange(&mailbox[i % MAILBOX], NULL);
    if (!p)
        return;
    uint64_t usz;
    memcpy(&usz, p, sizeof usz);
    atomic_fetch_sub(&live, usz);
    mgov_heap_free(heap, p);
}

typedef struct job {
    unsigned id;
    unsigned long ops;
} job_t;

static void *work(void *arg)
{
    job_t *j = arg;
    uint64_t seed = (uint64_t)(j->id + 1) * 0x9e3779b97f4a7c15ull;
    void *held[HELD] = { 0 };
    uint64_t held_sz[HELD] = { 0 };
    for (unsigned long n = 0; n < j->ops; n++) {
        uint64_t r = rnd(&seed);
        unsigned slot = (unsigned)(r % HELD);
        unsigned what = (unsigned)((r >> 16) % 16);
        if (held[slot]) {
            unsigned char tag = ((unsigned char *)held[slot])[held_sz[slot] - 1];
            if (tag != (unsigned char)slot)
                atomic_fetch_add(&bad_content, 1);
            if (what < 4) { /* hand it to another thread */
                give(held[slot], held_sz[slot]);
            } else if (what < 6) { /* realloc */
                size_t sz = 16 + (size_t)((r >> 24) % MAX_BLOCK);
                atomic_fetch_sub(&live, held_sz[slot]);
                void *q = mgov_heap_realloc(heap, held[slot], sz);
                if (!q) {
                    atomic_fetch_add(&live, held_sz[slot]);
                    atomic_fetch_add(&alloc_failed, 1);
                    continue;
                }
                held[slot] = q;
                held_sz[slot] = mgov_heap_usable_size(heap, q);
                atomic_fetch_add(&live, held_sz[slot]);
                ((unsigned char *)q)[held_sz[slot] - 1] = (unsigned char)slot;
                continue;
            } else {
                atomic_fetch_sub(&live, held_sz[slot]);
                mgov_heap_free(heap, held[slot]);
            }
            held[slot] = NULL;
            continue;
        }
        size_t sz = 8 + (size_t)((r >> 24) % MAX_BLOCK);
        void *p = what < 2 ? mgov_heap_calloc(heap, 1, sz) : mgov_heap_malloc(heap, sz);
        if (!p) {
            atomic_fetch_add(&alloc_failed, 1);
            continue;
        }
        held[slot] = p;
        held_sz[slot] = mgov_heap_usable_size(heap, p);
        atomic_fetch_add(&live, held_sz[slot]);
        ((unsigned char *)p)[held_sz[slot] - 1] = (unsigned char)slot;
        if (what == 15)
            take_one((unsigned)(r >> 40));
        if ((n & 0xffff) == 0 && j->id == 0)
            mgov_reclaim(gov, 1, MGOV_PRESSURE_HIGH); /* slack back, pages back */
    }
    for (unsigned i = 0; i < HELD; i++)
        if (held[i]) {
            atomic_fetch_sub(&live, held_sz[i]);
            mgov_heap_free(heap, held[i]);
        }
    return NULL;
}

static void test_slack_bound_under_threads(void **state)
{
    (void)state;
    unsigned long ops = 1000000;
#if defined(MGOV_SANITIZED)
    ops /= 10;
#endif
    ops = gh_stress_ops(ops);

    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1024 * MiB;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    region = mgov_region_find(gov, "execution_buffers");
    mgov_heap_config_t hc = MGOV_HEAP_CONFIG_INIT;
    hc.gov = gov;
    hc.slack = SLACK;
    assert_int_equal(mgov_heap_create(&hc, &heap), MGOV_OK);

    pthread_t w, t[THREADS];
    job_t jobs[THREADS];
    assert_int_equal(pthread_create(&w, NULL, watcher, NULL), 0);
    for (unsigned i = 0; i < THREADS; i++) {
        jobs[i] = (job_t){ i, ops };
        assert_int_equal(pthread_create(&t[i], NULL, work, &jobs[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&done, 1);
    pthread_join(w, NULL);
    for (unsigned i = 0; i < MAILBOX; i++)
        take_one(i);

    printf("checks %llu, below %llu, above %llu, failed allocations %llu\n",
           (unsigned long long)checks, (unsigned long long)below, (unsigned long long)above,
           (unsigned long long)alloc_failed);
    assert_true(checks > 0);
    assert_int_equal(below, 0);
    assert_int_equal(above, 0);
    assert_int_equal(bad_content, 0);
    assert_int_equal(alloc_failed, 0);
    assert_int_equal(live, 0);
    mgov_heap_stats_t st;
    assert_int_equal(mgov_heap_stats(heap, &st), MGOV_OK);
    assert_int_equal(st.allocated, 0);
    assert_int_equal(st.mallocs, st.frees);
    assert_int_equal(mgov_heap_check(heap), MGOV_OK);
    /* the workers are gone: their slack went back; only ours is left */
    assert_true(count_now() <= SLACK + st.metadata);
    assert_true(st.metadata > 0); /* reclaim counted it */
    assert_int_equal(mgov_heap_destroy(heap), MGOV_OK);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_bound_under_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
