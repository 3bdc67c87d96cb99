/* test_epochs.c - epoch sets (src/alloc/epochs.c): epochs begin without a
 * chunk, allocations land in the current epoch, retiring frees old epochs'
 * arenas (at once, or at the last release of an acquired one), the current
 * epoch is never retired, failures leave the set as it was, grants go back
 * to the governor; and, with threads, that a reader never sees an epoch
 * without its arena while others begin and retire epochs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov.h"
#include "memgov/arena.h"
#include "sys/fault.h"

#define KiB ((size_t)1 << 10)

static mgov_epochs_t *epochs_new(mgov_t *gov, size_t chunk)
{
    mgov_arena_config_t cfg = MGOV_ARENA_CONFIG_INIT;
    cfg.gov = gov;
    cfg.chunk_size = chunk;
    mgov_epochs_t *s = NULL;
    assert_int_equal(mgov_epochs_create(&cfg, &s), MGOV_OK);
    return s;
}

static void test_create_and_errors(void **state)
{
    (void)state;
    mgov_epochs_t *s = NULL;
    assert_int_equal(mgov_epochs_create(NULL, &s), MGOV_OK);
    assert_int_equal(mgov_epochs_current(s), 0);
    assert_int_equal(mgov_epochs_count(s), 1);
    assert_int_equal(mgov_epochs_reserved(s), 0); /* no chunk until used */
    assert_int_equal(mgov_epochs_last_error(s), MGOV_OK);
    mgov_epochs_destroy(s);
    mgov_epochs_destroy(NULL);

    assert_int_equal(mgov_epochs_create(NULL, NULL), MGOV_EINVAL);
    mgov_arena_config_t bad = MGOV_ARENA_CONFIG_INIT;
    bad.chunk_size = 1;
    s = (mgov_epochs_t *)&bad;
    assert_int_equal(mgov_epochs_create(&bad, &s), MGOV_EINVAL);
    assert_null(s);
    mgov_t *gov = gh_gov_new(64 << 20, NULL);
    bad.chunk_size = 0;
    bad.gov = gov;
    bad.region = "nope";
    assert_int_equal(mgov_epochs_create(&bad, &s), MGOV_ENOTFOUND);
    for (long i = 0; i < 3; i++) { /* each allocation of create, failed in turn */
        mgov__fault_arm(MGOV_FAULT_ALLOC, i, 1);
        assert_int_equal(mgov_epochs_create(NULL, &s), MGOV_ENOMEM);
        mgov__fault_disarm_all();
    }

    assert_int_equal(mgov_epochs_current(NULL), 0);
    assert_int_equal(mgov_epochs_begin(NULL, NULL), MGOV_EINVAL);
    mgov_arena_t *a;
    assert_int_equal(mgov_epochs_acquire(NULL, 0, &a), MGOV_EINVAL);
    assert_null(mgov_epochs_alloc(NULL, 1, 0, NULL));
    assert_int_equal(mgov_epochs_last_error(NULL), MGOV_EINVAL);
    assert_int_equal(mgov_epochs_retire(NULL, 5), 0);
    assert_int_equal(mgov_epochs_count(NULL), 0);
    assert_int_equal(mgov_epochs_reserved(NULL), 0);
    mgov_epochs_release(NULL, NULL);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_allocations_go_to_current_epoch(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 << 20, NULL);
    mgov_epochs_t *s = epochs_new(gov, 4 * KiB);
    uint64_t in = 99;
    char *p0 = mgov_epochs_alloc(s, 100, 0, &in);
    assert_non_null(p0);
    assert_int_equal(in, 0);
    assert_int_equal(mgov_epochs_reserved(s), 4 * KiB);

    uint64_t e = 0;
    assert_int_equal(mgov_epochs_begin(s, &e), MGOV_OK);
    assert_int_equal(e, 1);
    assert_int_equal(mgov_epochs_current(s), 1);
    assert_int_equal(mgov_epochs_count(s), 2);
    assert_int_equal(mgov_used(gov), 4 * KiB); /* epoch 1 costs nothing yet */

    char *p1 = mgov_epochs_alloc(s, 100, 0, &in);
    assert_non_null(p1);
    assert_int_equal(in, 1);
    memset(p1, 1, 100);
    mgov_arena_t *a1 = NULL;
    assert_int_equal(mgov_epochs_acquire(s, 1, &a1), MGOV_OK);
    assert_int_equal(mgov_arena_reserved(a1), 4 * KiB);
    assert_int_equal(mgov_arena_used(a1), 100);
    mgov_epochs_release(s, a1);
    assert_int_equal(mgov_used(gov), 8 * KiB);

    assert_null(mgov_epochs_alloc(s, 100, 3, NULL));
    assert_int_equal(mgov_epochs_last_error(s), MGOV_EINVAL);
    assert_int_equal(mgov_epochs_acquire(s, 7, &a1), MGOV_ENOTFOUND);
    assert_null(a1);
    mgov_epochs_destroy(s);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_retire(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 << 20, NULL);
    mgov_epochs_t *s = epochs_new(gov, 4 * KiB);
    for (int e = 0; e < 5; e++) {
        assert_non_null(mgov_epochs_alloc(s, 1000, 0, NULL));
        if (e < 4)
            assert_int_equal(mgov_epochs_begin(s, NULL), MGOV_OK);
    }
    assert_int_equal(mgov_epochs_count(s), 5);
    assert_int_equal(mgov_used(gov), 5 * 4 * KiB);

    assert_int_equal(mgov_epochs_retire(s, 2), 2); /* epochs 0 and 1 */
    assert_int_equal(mgov_epochs_count(s), 3);
    assert_int_equal(mgov_used(gov), 3 * 4 * KiB);
    mgov_arena_t *a;
    assert_int_equal(mgov_epochs_acquire(s, 0, &a), MGOV_ENOTFOUND);
    assert_int_equal(mgov_epochs_acquire(s, 1, &a), MGOV_ENOTFOUND);
    assert_int_equal(mgov_epochs_retire(s, 2), 0); /* already gone */

    /* an acquired epoch is retired at once but freed at its last release */
    mgov_arena_t *held;
    assert_int_equal(mgov_epochs_acquire(s, 2, &held), MGOV_OK);
    mgov_arena_t *again;
    assert_int_equal(mgov_epochs_acquire(s, 2, &again), MGOV_OK);
    assert_ptr_equal(held, again);
    assert_int_equal(mgov_epochs_retire(s, 3), 1);
    assert_int_equal(mgov_epochs_acquire(s, 2, &a), MGOV_ENOTFOUND);
    assert_non_null(mgov_arena_alloc(held, 10, 0)); /* still usable */
    assert_int_equal(mgov_epochs_count(s), 2);
    mgov_epochs_release(s, again);
    assert_int_equal(mgov_used(gov), 3 * 4 * KiB);
    mgov_epochs_release(s, held);
    assert_int_equal(mgov_used(gov), 2 * 4 * KiB);
    mgov_epochs_release(s, held); /* unknown now: ignored */

    /* the current epoch is never retired */
    assert_int_equal(mgov_epochs_retire(s, UINT64_MAX), 1); /* epoch 3 only */
    assert_int_equal(mgov_epochs_current(s), 4);
    assert_int_equal(mgov_epochs_count(s), 1);
    assert_non_null(mgov_epochs_alloc(s, 10, 0, NULL));
    mgov_epochs_destroy(s);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_many_epochs_retired_in_batches(void **state)
{
    (void)state;
    mgov_epochs_t *s = epochs_new(NULL, 4 * KiB);
    for (int e = 0; e < 100; e++) {
        assert_non_null(mgov_epochs_alloc(s, 64, 0, NULL));
        assert_int_equal(mgov_epochs_begin(s, NULL), MGOV_OK);
    }
    assert_int_equal(mgov_epochs_count(s), 101);
    assert_int_equal(mgov_epochs_retire(s, 100), 100);
    assert_int_equal(mgov_epochs_count(s), 1);
    mgov_epochs_destroy(s);
}

static void test_begin_failure_keeps_current(void **state)
{
    (void)state;
    mgov_epochs_t *s = epochs_new(NULL, 4 * KiB);
    for (int i = 0; i < 7; i++) /* fill the first slot array (8) */
        assert_int_equal(mgov_epochs_begin(s, NULL), MGOV_OK);
    uint64_t e = 99;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 1); /* the arena */
    assert_int_equal(mgov_epochs_begin(s, &e), MGOV_ENOMEM);
    mgov__fault_arm(MGOV_FAULT_ALLOC, 1, 1); /* growing the slot array */
    assert_int_equal(mgov_epochs_begin(s, &e), MGOV_ENOMEM);
    mgov__fault_disarm_all();
    assert_int_equal(e, 99);
    assert_int_equal(mgov_epochs_current(s), 7);
    assert_int_equal(mgov_epochs_count(s), 8);
    assert_int_equal(mgov_epochs_begin(s, &e), MGOV_OK);
    assert_int_equal(e, 8);
    mgov_epochs_destroy(s);
}

/* ------------------------------------------------------------- threads */

typedef struct {
    mgov_epochs_t *s;
    _Atomic bool stop;
    _Atomic uint64_t retired_below; /* every epoch below this may be gone */
    _Atomic long allocs, misses;
} race_t;

static void *allocator(void *arg)
{
    race_t *r = arg;
    while (!atomic_load(&r->stop)) {
        uint64_t e = mgov_epochs_current(r->s);
        mgov_arena_t *a = NULL;
        int rc = mgov_epochs_acquire(r->s, e, &a);
        if (rc == MGOV_ENOTFOUND) {
            /* only an epoch already retired may be missing */
            assert_true(e < atomic_load(&r->retired_below));
            atomic_fetch_add(&r->misses, 1);
            continue;
        }
        assert_int_equal(rc, MGOV_OK);
        for (int i = 0; i < 50; i++) {
            uint64_t *p = mgov_arena_alloc(a, sizeof *p, 8);
            assert_non_null(p);
            *p = e;
        }
        mgov_epochs_release(r->s, a);
        /* the one-call form never hands out memory of a retired epoch (the
         * object may die right after, as the main thread retires freely, so
         * only the library touches it: ASan watches that) */
        assert_non_null(mgov_epochs_alloc(r->s, 24, 0, NULL));
        atomic_fetch_add(&r->allocs, 51);
    }
    return NULL;
}

static void test_readers_never_see_an_epoch_without_arena(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(256 << 20, NULL);
    race_t r = { .s = epochs_new(gov, 4 * KiB) };
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, allocator, &r), 0);
    /* at least 2000 epochs, and until the allocators have been busy */
    uint64_t t_end = gh_now_ns() + 2000000000ull;
    for (int round = 0; round < 2000 || (atomic_load(&r.allocs) < 200000 && gh_now_ns() < t_end);
         round++) {
        uint64_t e;
        assert_int_equal(mgov_epochs_begin(r.s, &e), MGOV_OK);
        if (e >= 2) {
            atomic_store(&r.retired_below, e - 1);
            mgov_epochs_retire(r.s, e - 1);
        }
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&r.allocs) > 0);
    assert_true(mgov_epochs_count(r.s) <= 2);
    mgov_epochs_destroy(r.s);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_create_and_errors),
        FH_TEST(test_allocations_go_to_current_epoch),
        FH_TEST(test_retire),
        FH_TEST(test_many_epochs_retired_in_batches),
        FH_TEST(test_begin_failure_keeps_current),
        FH_TEST(test_readers_never_see_an_epoch_without_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
