/* test_arena_stress.c - a thread-safe arena under contention (run it under
 * ThreadSanitizer): threads allocate objects of random sizes and
 * alignments, some larger than half a chunk, from one arena with small
 * chunks, so chunks are added concurrently all the time.  Each object is
 * filled with a pattern naming its owner; at the end every pattern must be
 * intact (no two objects overlap), every object aligned, the bookkeeping
 * consistent, and the governor's usage equal to the arena's chunks.
 *
 * MGOV_STRESS_OPS sets the objects per thread (default 200000).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"
#include "memgov/arena.h"

#define THREADS 4

typedef struct {
    unsigned char *p;
    uint32_t size;
    uint16_t align;
} obj_t;

typedef struct {
    mgov_arena_t *a;
    unsigned id;
    long n;
    obj_t *objs;
    uint64_t bytes;
} worker_t;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (w->id + 1);
    for (long i = 0; i < w->n; i++) {
        uint64_t r = rng_next(&seed);
        uint32_t size = (r % 1000 == 0) ? (uint32_t)(3000 + r % 5000) /* > half a chunk */
                                        : (uint32_t)(r % 200);
        uint16_t align = (uint16_t)(1u << ((r >> 20) % 8)); /* 1 .. 128 */
        unsigned char *p = mgov_arena_alloc(w->a, size, align);
        if (!p) {
            fprintf(stderr, "alloc failed: %d\n", mgov_arena_last_error(w->a));
            abort();
        }
        memset(p, (int)(w->id * 31 + (unsigned)i) & 0xff, size);
        w->objs[i] = (obj_t){ p, size, align };
        w->bytes += size;
    }
    return NULL;
}

static void test_concurrent_allocation(void **state)
{
    (void)state;
    long n = (long)gh_stress_ops(200000);
    mgov_t *gov = gh_gov_new((uint64_t)4 << 30, NULL);
    mgov_arena_config_t cfg = MGOV_ARENA_CONFIG_INIT;
    cfg.gov = gov;
    cfg.chunk_size = 8192;
    cfg.flags = MGOV_ARENA_THREAD_SAFE;
    mgov_arena_t *a = NULL;
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_OK);

    worker_t w[THREADS];
    pthread_t th[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        w[t] = (worker_t){ .a = a, .id = t, .n = n, .objs = calloc((size_t)n, sizeof(obj_t)) };
        assert_non_null(w[t].objs);
        assert_int_equal(pthread_create(&th[t], NULL, worker, &w[t]), 0);
    }
    uint64_t total = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        total += w[t].bytes;
    }
    for (unsigned t = 0; t < THREADS; t++) {
        for (long i = 0; i < n; i++) {
            const obj_t *o = &w[t].objs[i];
            assert_int_equal((uintptr_t)o->p % o->align, 0);
            unsigned char want = (unsigned char)((t * 31 + (unsigned)i) & 0xff);
            for (uint32_t k = 0; k < o->size; k++)
                if (o->p[k] != want)
                    fail_msg("object %u/%ld overwritten at byte %u", t, i, k);
        }
        free(w[t].objs);
    }
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    assert_true(mgov_arena_used(a) >= total);
    assert_true(mgov_arena_used(a) <= mgov_arena_reserved(a));
    assert_int_equal(mgov_used(gov), mgov_arena_reserved(a));
    mgov_arena_reset(a);
    assert_int_equal(mgov_used(gov), 8192);
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
