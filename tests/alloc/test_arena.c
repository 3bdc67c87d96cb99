/* test_arena.c - arenas (src/alloc/arena.c, arena_scope.c): creation and
 * its errors, alignment, every allocation function and its failures
 * (overflow, budget, system), dedicated chunks, reset, marks and rewind,
 * the byte counts, check() on good and damaged arenas, grants returned to
 * the governor on every path, and AddressSanitizer poisoning (a death test
 * in a child process, in ASan builds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc/alloc_internal.h"
#include "alloc/arena_internal.h"
#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov.h"
#include "memgov/arena.h"
#include "sys/fault.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define EXEC MGOV_REGION_EXECUTION_BUFFERS

static mgov_arena_t *arena_new(mgov_t *gov, size_t chunk, unsigned flags)
{
    mgov_arena_config_t cfg = MGOV_ARENA_CONFIG_INIT;
    cfg.gov = gov;
    cfg.chunk_size = chunk;
    cfg.flags = flags;
    mgov_arena_t *a = NULL;
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_OK);
    assert_non_null(a);
    return a;
}

/* ------------------------------------------------------------ lifecycle */

static void test_create_defaults_and_errors(void **state)
{
    (void)state;
    mgov_arena_t *a = NULL;
    assert_int_equal(mgov_arena_create(NULL, &a), MGOV_OK);
    assert_int_equal(mgov_arena_reserved(a), 0); /* no chunk until used */
    assert_int_equal(mgov_arena_chunk_count(a), 0);
    assert_int_equal(mgov_arena_used(a), 0);
    assert_int_equal(mgov_arena_last_error(a), MGOV_OK);
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    assert_non_null(mgov_arena_alloc(a, 1, 0));
    assert_int_equal(mgov_arena_reserved(a), MGOV_ARENA_DEFAULT_CHUNK);
    mgov_arena_destroy(a);
    mgov_arena_destroy(NULL);

    mgov_arena_config_t cfg = MGOV_ARENA_CONFIG_INIT;
    assert_int_equal(mgov_arena_create(&cfg, NULL), MGOV_EINVAL);
    cfg.chunk_size = MGOV_ARENA_MIN_CHUNK - 1;
    a = (mgov_arena_t *)&cfg;
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_EINVAL);
    assert_null(a); /* *out is cleared on failure */
    cfg.chunk_size = MGOV_ARENA_MAX_CHUNK + 1;
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_EINVAL);
    cfg.chunk_size = 0;
    cfg.flags = 0x80;
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_EINVAL);
    cfg.flags = 0;
    cfg.grant_flags = 0x80;
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_EINVAL);

    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    cfg.grant_flags = 0;
    cfg.gov = gov;
    cfg.region = "no_such_region";
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_ENOTFOUND);
    cfg.region = "index_buffers";
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_OK);
    assert_non_null(mgov_arena_alloc(a, 10, 0));
    assert_int_equal(gh_region_used(gov, MGOV_REGION_INDEX_BUFFERS), MGOV_ARENA_DEFAULT_CHUNK);
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);

    /* a governor without an "execution_buffers" region: region 0 */
    mgov_destroy(gov);
    const mgov_region_config_t only[] = { { "solo", 0, 0 } };
    gov = gh_gov_regions(64 * MiB, only, 1);
    a = arena_new(gov, 0, 0);
    assert_non_null(mgov_arena_alloc(a, 10, 0));
    assert_int_equal(gh_region_used(gov, 0), MGOV_ARENA_DEFAULT_CHUNK);
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_create_enomem(void **state)
{
    (void)state;
    mgov_arena_t *a = NULL;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 1);
    assert_int_equal(mgov_arena_create(NULL, &a), MGOV_ENOMEM);
    assert_null(a);
    mgov__fault_disarm_all();
}

/* ----------------------------------------------------------- allocation */

static void test_alignment(void **state)
{
    (void)state;
    for (unsigned ts = 0; ts <= 1; ts++) {
        mgov_arena_t *a = arena_new(NULL, 64 * KiB, ts ? MGOV_ARENA_THREAD_SAFE : 0);
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        for (size_t al = 1; al <= page; al *= 2) {
            for (int i = 0; i < 5; i++) {
                assert_non_null(mgov_arena_alloc(a, 1, 1)); /* misalign the position */
                char *p = mgov_arena_alloc(a, 24, al);
                assert_non_null(p);
                assert_int_equal((uintptr_t)p % al, 0);
                memset(p, 0xab, 24);
            }
        }
        char *p = mgov_arena_alloc(a, 3, 0);
        assert_int_equal((uintptr_t)p % MGOV_ARENA_DEFAULT_ALIGN, 0);
        size_t used = mgov_arena_used(a);
        assert_null(mgov_arena_alloc(a, 8, 3));
        assert_int_equal(mgov_arena_last_error(a), MGOV_EINVAL);
        assert_null(mgov_arena_alloc(a, 8, page * 2));
        assert_int_equal(mgov_arena_last_error(a), MGOV_EINVAL);
        assert_int_equal(mgov_arena_used(a), used); /* failures change nothing */
        assert_int_equal(mgov_arena_check(a), MGOV_OK);
        mgov_arena_destroy(a);
    }
}

static void test_bump_is_contiguous(void **state)
{
    (void)state;
    mgov_arena_t *a = arena_new(NULL, 64 * KiB, 0);
    char *p = mgov_arena_alloc(a, 16, 16);
    for (int i = 1; i < 100; i++) {
        char *q = mgov_arena_alloc(a, 16, 16);
        assert_ptr_equal(q, p + 16 * i);
    }
    assert_int_equal(mgov_arena_used(a), 1600);
    /* size 0: a valid pointer, nothing consumed */
    char *z = mgov_arena_alloc(a, 0, 16);
    assert_non_null(z);
    assert_int_equal(mgov_arena_used(a), 1600);
    mgov_arena_destroy(a);
}

static void test_zalloc_strdup_memdup(void **state)
{
    (void)state;
    mgov_arena_t *a = arena_new(NULL, 4 * KiB, 0);
    char *dirty = mgov_arena_alloc(a, 1000, 0);
    memset(dirty, 0xff, 1000);
    mgov_arena_reset(a); /* the same chunk is reused: its bytes are dirty */
    unsigned char *z = mgov_arena_zalloc(a, 1000, 0);
    assert_ptr_equal(z, dirty);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(z[i], 0);
    assert_non_null(mgov_arena_zalloc(a, 0, 0));

    char *s = mgov_arena_strdup(a, "hello, arena");
    assert_string_equal(s, "hello, arena");
    assert_string_equal(mgov_arena_strdup(a, ""), "");
    assert_null(mgov_arena_strdup(a, NULL));
    assert_int_equal(mgov_arena_last_error(a), MGOV_EINVAL);

    const uint64_t v[3] = { 1, 2, 3 };
    uint64_t *d = mgov_arena_memdup(a, v, sizeof v);
    assert_memory_equal(d, v, sizeof v);
    assert_int_equal((uintptr_t)d % MGOV_ARENA_DEFAULT_ALIGN, 0);
    assert_non_null(mgov_arena_memdup(a, NULL, 0));
    assert_null(mgov_arena_memdup(a, NULL, 1));
    assert_int_equal(mgov_arena_last_error(a), MGOV_EINVAL);

    /* NULL arena everywhere */
    assert_null(mgov_arena_alloc(NULL, 1, 0));
    assert_null(mgov_arena_zalloc(NULL, 1, 0));
    assert_null(mgov_arena_alloc_array(NULL, 1, 1, 0));
    assert_null(mgov_arena_strdup(NULL, "x"));
    assert_null(mgov_arena_memdup(NULL, v, 1));
    assert_int_equal(mgov_arena_last_error(NULL), MGOV_EINVAL);
    assert_int_equal(mgov_arena_used(NULL), 0);
    assert_int_equal(mgov_arena_reserved(NULL), 0);
    assert_int_equal(mgov_arena_chunk_count(NULL), 0);
    assert_int_equal(mgov_arena_check(NULL), MGOV_EINVAL);
    mgov_arena_reset(NULL);
    mgov_arena_destroy(a);
}

static void test_array_overflow(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_arena_t *a = arena_new(gov, 64 * KiB, 0);
    uint32_t *arr = mgov_arena_alloc_array(a, 100, sizeof *arr, 0);
    assert_non_null(arr);
    for (int i = 0; i < 100; i++)
        arr[i] = (uint32_t)i;
    size_t used = mgov_arena_used(a), reserved = mgov_arena_reserved(a);
    assert_null(mgov_arena_alloc_array(a, SIZE_MAX / 2, 3, 0));
    assert_int_equal(mgov_arena_last_error(a), MGOV_EOVERFLOW);
    assert_null(mgov_arena_alloc(a, SIZE_MAX - 2, 16));
    assert_int_equal(mgov_arena_last_error(a), MGOV_EOVERFLOW);
    assert_null(mgov_arena_alloc(a, SIZE_MAX - 100, 1)); /* no room for the header */
    assert_int_equal(mgov_arena_last_error(a), MGOV_EOVERFLOW);
    assert_int_equal(mgov_arena_used(a), used);
    assert_int_equal(mgov_arena_reserved(a), reserved);
    assert_int_equal(mgov_used(gov), reserved);
    assert_non_null(mgov_arena_alloc_array(a, 0, 8, 0));
    assert_non_null(mgov_arena_alloc_array(a, 8, 0, 0));
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    mgov_destroy(gov);
}

static void test_large_request_gets_own_chunk(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_arena_t *a = arena_new(gov, 64 * KiB, 0);
    /* sizes and alignments of 8: ASan builds start each allocation on an
     * 8-byte boundary */
    char *small = mgov_arena_alloc(a, 104, 8);
    assert_int_equal(mgov_arena_chunk_count(a), 1);
    char *big = mgov_arena_alloc(a, 40 * KiB, 4096); /* > half a chunk */
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 4096, 0);
    memset(big, 1, 40 * KiB);
    assert_int_equal(mgov_arena_chunk_count(a), 2);
    /* the standard chunk keeps serving small requests */
    char *next = mgov_arena_alloc(a, 8, 8);
    assert_ptr_equal(next, small + 104);
    char *huge = mgov_arena_alloc(a, 3 * MiB, 0);
    assert_non_null(huge);
    memset(huge, 2, 3 * MiB);
    assert_int_equal(mgov_arena_chunk_count(a), 3);
    assert_true(mgov_arena_reserved(a) >= 64 * KiB + 40 * KiB + 3 * MiB);
    assert_int_equal(mgov_used(gov), mgov_arena_reserved(a));
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    mgov_destroy(gov);
}

static void test_chunks_are_charged_and_returned(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(256 * MiB, NULL);
    mgov_arena_t *a = arena_new(gov, 1 * MiB, 0);
    for (int i = 0; i < 10 * 1024; i++) /* 10 MiB of 1 KiB objects */
        memset(mgov_arena_alloc(a, 1000, 8), i, 1000);
    size_t chunks = mgov_arena_chunk_count(a);
    assert_true(chunks >= 10 && chunks <= 11);
    assert_int_equal(mgov_arena_reserved(a), chunks * MiB);
    assert_int_equal(mgov_used(gov), chunks * MiB);
    assert_int_equal(gh_region_used(gov, EXEC), chunks * MiB);
    assert_true(mgov_arena_used(a) >= 10 * 1024 * 1000);
    assert_true(mgov_arena_used(a) <= mgov_arena_reserved(a));

    mgov_arena_reset(a);
    assert_int_equal(mgov_arena_chunk_count(a), 1);
    assert_int_equal(mgov_arena_used(a), 0);
    assert_int_equal(mgov_arena_reserved(a), MiB);
    assert_int_equal(mgov_used(gov), MiB);
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    mgov_arena_reset(a); /* twice is fine */
    assert_int_equal(mgov_used(gov), MiB);
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    mgov_destroy(gov);
}

static void test_reset_keeps_standard_chunk_not_dedicated(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_arena_t *a = arena_new(gov, 64 * KiB, 0);
    assert_non_null(mgov_arena_alloc(a, 1 * MiB, 0)); /* dedicated first */
    char *p = mgov_arena_alloc(a, 8, 8);
    assert_int_equal(mgov_arena_chunk_count(a), 2);
    mgov_arena_reset(a);
    assert_int_equal(mgov_arena_chunk_count(a), 1);
    assert_int_equal(mgov_used(gov), 64 * KiB);
    assert_ptr_equal(mgov_arena_alloc(a, 8, 8), p); /* the kept chunk restarts */
    mgov_arena_destroy(a);

    a = arena_new(gov, 64 * KiB, 0); /* only a dedicated chunk: none kept */
    assert_non_null(mgov_arena_alloc(a, 1 * MiB, 0));
    mgov_arena_reset(a);
    assert_int_equal(mgov_arena_chunk_count(a), 0);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    assert_non_null(mgov_arena_alloc(a, 10, 0));
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    mgov_destroy(gov);
}

/* ---------------------------------------------------------------- marks */

static void test_marks_nest(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_arena_t *a = arena_new(gov, 4 * KiB, 0);
    char *first = mgov_arena_alloc(a, 100, 1);
    memset(first, 'a', 100);
    mgov_arena_mark_t outer = mgov_arena_mark(a);
    size_t used_outer = mgov_arena_used(a);
    char *o1 = mgov_arena_alloc(a, 56, 8);
    mgov_arena_mark_t inner = mgov_arena_mark(a);
    size_t used_inner = mgov_arena_used(a);
    for (int i = 0; i < 100; i++) /* several chunks */
        assert_non_null(mgov_arena_alloc(a, 1000, 1));
    assert_non_null(mgov_arena_alloc(a, 100 * KiB, 1)); /* and a dedicated one */
    assert_true(mgov_arena_chunk_count(a) > 20);

    assert_int_equal(mgov_arena_rewind(a, inner), MGOV_OK);
    assert_int_equal(mgov_arena_used(a), used_inner);
    assert_int_equal(mgov_arena_chunk_count(a), 1);
    assert_int_equal(mgov_used(gov), 4 * KiB);
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    assert_ptr_equal(mgov_arena_alloc(a, 8, 8), o1 + 56); /* bumping resumes there */
    assert_int_equal(mgov_arena_rewind(a, inner), MGOV_OK); /* again: still valid */

    assert_int_equal(mgov_arena_rewind(a, outer), MGOV_OK);
    assert_int_equal(mgov_arena_used(a), used_outer);
    assert_ptr_equal(mgov_arena_alloc(a, 56, 8), o1);
    for (int i = 0; i < 100; i++)
        assert_int_equal(first[i], 'a'); /* what came before the mark survives */
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    mgov_destroy(gov);
}

static void test_invalid_marks(void **state)
{
    (void)state;
    mgov_arena_t *a = arena_new(NULL, 4 * KiB, 0);
    assert_non_null(mgov_arena_alloc(a, 100, 1));
    mgov_arena_mark_t m0 = mgov_arena_mark(a);
    for (int i = 0; i < 10; i++)
        assert_non_null(mgov_arena_alloc(a, 1000, 1));
    mgov_arena_mark_t m1 = mgov_arena_mark(a); /* in a later chunk */
    assert_int_equal(mgov_arena_rewind(a, m0), MGOV_OK);
    size_t used = mgov_arena_used(a);
    assert_int_equal(mgov_arena_rewind(a, m1), MGOV_EINVAL); /* its chunk is gone */
    assert_int_equal(mgov_arena_used(a), used);

    mgov_arena_mark_t same_chunk = mgov_arena_mark(a);
    assert_non_null(mgov_arena_alloc(a, 10, 1));
    mgov_arena_mark_t later = mgov_arena_mark(a);
    assert_int_equal(mgov_arena_rewind(a, same_chunk), MGOV_OK);
    assert_int_equal(mgov_arena_rewind(a, later), MGOV_EINVAL); /* beyond the position */

    mgov_arena_reset(a);
    assert_int_equal(mgov_arena_rewind(a, same_chunk), MGOV_EINVAL); /* before a reset */

    mgov_arena_mark_t forged = mgov_arena_mark(a);
    forged.newest_seq += 100;
    assert_int_equal(mgov_arena_rewind(a, forged), MGOV_EINVAL);
    forged = mgov_arena_mark(a);
    forged.offset = 1 << 20;
    assert_int_equal(mgov_arena_rewind(a, forged), MGOV_EINVAL);
    assert_int_equal(mgov_arena_rewind(NULL, forged), MGOV_EINVAL);
    mgov_arena_mark_t none = mgov_arena_mark(NULL);
    assert_int_equal(none.chunk_seq, 0);
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    mgov_arena_destroy(a);
}

static void test_mark_before_first_chunk(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_arena_t *a = arena_new(gov, 4 * KiB, 0);
    mgov_arena_mark_t empty = mgov_arena_mark(a);
    for (int i = 0; i < 10; i++)
        assert_non_null(mgov_arena_alloc(a, 1000, 1));
    assert_int_equal(mgov_arena_rewind(a, empty), MGOV_OK);
    assert_int_equal(mgov_arena_used(a), 0);
    assert_int_equal(mgov_arena_chunk_count(a), 1); /* one kept for reuse */
    assert_int_equal(mgov_used(gov), 4 * KiB);
    mgov_arena_destroy(a);

    /* a dedicated chunk made before the mark survives the rewind */
    a = arena_new(gov, 4 * KiB, 0);
    char *big = mgov_arena_alloc(a, 10 * KiB, 1);
    memset(big, 'b', 10 * KiB);
    mgov_arena_mark_t m = mgov_arena_mark(a);
    assert_int_equal(m.chunk_seq, 0);
    assert_non_null(mgov_arena_alloc(a, 10, 1));
    assert_non_null(mgov_arena_alloc(a, 20 * KiB, 1));
    assert_int_equal(mgov_arena_rewind(a, m), MGOV_OK);
    assert_int_equal(mgov_arena_chunk_count(a), 2); /* the big one + one kept */
    assert_int_equal(big[10 * KiB - 1], 'b');
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    mgov_destroy(gov);
}

/* ------------------------------------------------------------- failures */

static void test_budget_refusals(void **state)
{
    (void)state;
    /* 4 MiB budget, critical at 95%: three 1 MiB chunks fit, not four */
    mgov_t *gov = gh_gov_new(4 * MiB, NULL);
    mgov_arena_t *a = arena_new(gov, MiB, 0);
    int n = 0;
    while (mgov_arena_alloc(a, 256 * KiB, 0))
        n++;
    assert_int_equal(mgov_arena_last_error(a), MGOV_EBUDGET);
    assert_int_equal(mgov_arena_chunk_count(a), 3);
    assert_int_equal(n, 3 * 3); /* 256 KiB + header: three per chunk */
    assert_int_equal(mgov_used(gov), 3 * MiB);
    size_t used = mgov_arena_used(a);
    assert_null(mgov_arena_alloc(a, 64 * MiB, 0)); /* can never fit */
    assert_int_equal(mgov_arena_last_error(a), MGOV_ELIMIT);
    assert_int_equal(mgov_arena_used(a), used);
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    mgov_arena_reset(a);
    assert_int_equal(mgov_used(gov), MiB);
    mgov_arena_destroy(a);

    /* a timeout: the arena waits for the budget, then gives up */
    mgov_grant_t hog = gh_take(gov, EXEC, 3 * MiB, 0);
    mgov_arena_config_t cfg = MGOV_ARENA_CONFIG_INIT;
    cfg.gov = gov;
    cfg.timeout_ns = 20 * 1000 * 1000;
    assert_int_equal(mgov_arena_create(&cfg, &a), MGOV_OK);
    uint64_t t0 = gh_now_ns();
    assert_null(mgov_arena_alloc(a, 8, 0));
    assert_true(gh_now_ns() - t0 >= 15 * 1000 * 1000);
    assert_int_equal(mgov_arena_last_error(a), MGOV_ETIMEDOUT);
    mgov_grant_release(&hog);
    assert_non_null(mgov_arena_alloc(a, 8, 0)); /* now it fits */
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    mgov_destroy(gov);
}

static void test_system_allocation_failure(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    for (unsigned ts = 0; ts <= 1; ts++) {
        mgov_arena_t *a = arena_new(gov, 64 * KiB, ts ? MGOV_ARENA_THREAD_SAFE : 0);
        assert_non_null(mgov_arena_alloc(a, 8, 0));
        size_t used = mgov_arena_used(a);
        mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 1);
        assert_null(mgov_arena_alloc(a, 60 * KiB, 0)); /* dedicated chunk */
        assert_int_equal(mgov_arena_last_error(a), MGOV_ENOMEM);
        mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 1);
        assert_null(mgov_arena_alloc(a, 64 * KiB, 0));
        mgov__fault_disarm_all();
        assert_int_equal(mgov_arena_used(a), used);
        assert_int_equal(mgov_used(gov), 64 * KiB); /* the failed chunks' grants went back */
        /* fill the chunk, then fail the next one */
        while (mgov_arena_chunk_count(a) == 1)
            if (!mgov_arena_alloc(a, 1000, 0))
                fail();
        mgov__fault_arm(MGOV_FAULT_ALLOC, 0, -1);
        int fails = 0;
        for (int i = 0; i < 200; i++)
            fails += mgov_arena_alloc(a, 1000, 0) == NULL;
        mgov__fault_disarm_all();
        assert_true(fails > 0);
        assert_int_equal(mgov_arena_last_error(a), MGOV_ENOMEM);
        assert_int_equal(mgov_used(gov), mgov_arena_reserved(a));
        assert_int_equal(mgov_arena_check(a), MGOV_OK);
        mgov_arena_destroy(a);
        assert_int_equal(mgov_used(gov), 0);
    }
    mgov_destroy(gov);
}

/* ---------------------------------------------------------------- check */

static void test_check_detects_damage(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_arena_t *a = arena_new(gov, 4 * KiB, 0);
    for (int i = 0; i < 20; i++)
        assert_non_null(mgov_arena_alloc(a, 1000, 1));
    assert_int_equal(mgov_arena_check(a), MGOV_OK);

    a->n_chunks++;
    assert_int_equal(mgov_arena_check(a), MGOV_ECORRUPT);
    a->n_chunks--;
    atomic_fetch_add(&a->reserved, 1);
    assert_int_equal(mgov_arena_check(a), MGOV_ECORRUPT);
    atomic_fetch_sub(&a->reserved, 1);

    mgov__chunk_t *older = a->head->next;
    uintptr_t pos = atomic_load(&older->pos);
    atomic_store(&older->pos, older->end + 1);
    assert_int_equal(mgov_arena_check(a), MGOV_ECORRUPT);
    atomic_store(&older->pos, pos);

    uint64_t seq = older->seq;
    older->seq = a->head->seq + 1;
    assert_int_equal(mgov_arena_check(a), MGOV_ECORRUPT);
    older->seq = seq;

    older->grant.bytes--;
    assert_int_equal(mgov_arena_check(a), MGOV_ECORRUPT);
    older->grant.bytes++;

    older->size += 64;
    assert_int_equal(mgov_arena_check(a), MGOV_ECORRUPT);
    older->size -= 64;

    mgov__chunk_t *cur = atomic_load(&a->cur);
    atomic_store(&a->cur, (mgov__chunk_t *)&seq); /* not in the list */
    assert_int_equal(mgov_arena_check(a), MGOV_ECORRUPT);
    atomic_store(&a->cur, cur);

    if (a->cursor_enabled) {
        a->cursor.end++;
        assert_int_equal(mgov_arena_check(a), MGOV_ECORRUPT);
        a->cursor.end--;
    }
    assert_int_equal(mgov_arena_check(a), MGOV_OK);
    mgov_arena_destroy(a);
    assert_int_equal(mgov_used(gov), 0);
    mgov_destroy(gov);
}

/* ----------------------------------------------------- AddressSanitizer */

#ifdef MGOV__ASAN
/* Runs fn in a child; true when the child died of a sanitizer report. */
static bool dies(void (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDERR_FILENO); /* the expected report */
        fn();
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static volatile char sink;

static void overrun_into_free_space(void)
{
    mgov_arena_t *a = NULL;
    mgov_arena_create(NULL, &a);
    char *p = mgov_arena_alloc(a, 13, 1);
    sink = p[13];
}

static void touch_after_reset(void)
{
    mgov_arena_t *a = NULL;
    mgov_arena_create(NULL, &a);
    char *p = mgov_arena_alloc(a, 64, 0);
    mgov_arena_reset(a);
    p[0] = 1;
}

static void stay_inside(void)
{
    mgov_arena_t *a = NULL;
    mgov_arena_create(NULL, &a);
    char *p = mgov_arena_alloc(a, 13, 1);
    p[12] = 1;
    mgov_arena_destroy(a);
}
#endif

static void test_asan_poisons_free_space(void **state)
{
    (void)state;
#ifdef MGOV__ASAN
    mgov_arena_t *a = arena_new(NULL, 4 * KiB, 0);
    char *p = mgov_arena_alloc(a, 13, 1);
    assert_false(__asan_address_is_poisoned(p + 12));
    assert_true(__asan_address_is_poisoned(p + 13));
    assert_true(__asan_address_is_poisoned(p + 1000));
    mgov_arena_mark_t m = mgov_arena_mark(a);
    char *q = mgov_arena_alloc(a, 100, 1);
    assert_false(__asan_address_is_poisoned(q + 99));
    assert_int_equal(mgov_arena_rewind(a, m), MGOV_OK);
    assert_true(__asan_address_is_poisoned(q));
    mgov_arena_destroy(a);

    assert_true(dies(overrun_into_free_space));
    assert_true(dies(touch_after_reset));
    assert_false(dies(stay_inside));
#else
    skip(); /* poisoning exists only in AddressSanitizer builds */
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_create_defaults_and_errors),
        FH_TEST(test_create_enomem),
        FH_TEST(test_alignment),
        FH_TEST(test_bump_is_contiguous),
        FH_TEST(test_zalloc_strdup_memdup),
        FH_TEST(test_array_overflow),
        FH_TEST(test_large_request_gets_own_chunk),
        FH_TEST(test_chunks_are_charged_and_returned),
        FH_TEST(test_reset_keeps_standard_chunk_not_dedicated),
        FH_TEST(test_marks_nest),
        FH_TEST(test_invalid_marks),
        FH_TEST(test_mark_before_first_chunk),
        FH_TEST(test_budget_refusals),
        FH_TEST(test_system_allocation_failure),
        FH_TEST(test_check_detects_damage),
        FH_TEST(test_asan_poisons_free_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
