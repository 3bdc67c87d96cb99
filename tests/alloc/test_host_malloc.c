/* test_host_malloc.c - memgov never replaces the host program's malloc.
 *
 * memgov's heaps are built on jemalloc, linked into the library under
 * private names (cmake/jemalloc.cmake).  This program is built twice:
 * against libmemgov.a (alloc.host_malloc) and against libmemgov.so
 * (alloc.host_malloc_shared).  In both, every allocator entry point the
 * program calls must be glibc's own (the address the program resolved is
 * the one libc.so.6 exports), glibc's malloc must serve malloc (its
 * mallinfo2 counts the block), and no jemalloc name (mallocx, mallctl,
 * ...) may be visible; while a heap, in the same process, allocates from
 * jemalloc.  Sanitizer builds replace malloc themselves: there only the
 * names are checked.  Uses only the public API.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memgov.h"

#if defined(MGOV_SANITIZED)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

typedef struct entry {
    const char *name;
    void *addr; /* as this program resolved it */
} entry_t;

static void test_entry_points_are_libc(void **state)
{
    (void)state;
    if (SANITIZED)
        skip(); /* the sanitizer's malloc, by design */
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(libc);
    const entry_t entries[] = {
        { "malloc", (void *)&malloc },
        { "free", (void *)&free },
        { "calloc", (void *)&calloc },
        { "realloc", (void *)&realloc },
        { "posix_memalign", (void *)&posix_memalign },
        { "aligned_alloc", (void *)&aligned_alloc },
        { "memalign", (void *)&memalign },
        { "valloc", (void *)&valloc },
        { "malloc_usable_size", (void *)&malloc_usable_size },
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        void *theirs = dlsym(libc, entries[i].name);
        if (entries[i].addr != theirs)
            fail_msg("%s resolves to %p, libc.so.6's is %p", entries[i].name, entries[i].addr,
                     theirs);
        /* and the process-wide lookup finds the same */
        assert_ptr_equal(dlsym(RTLD_DEFAULT, entries[i].name), theirs);
    }
    dlclose(libc);
}

static void test_glibc_serves_malloc(void **state)
{
    (void)state;
    if (SANITIZED)
        skip();
    struct mallinfo2 before = mallinfo2();
    char *p = malloc(100000); /* under glibc's mmap threshold: from its heap */
    assert_non_null(p);
    memset(p, 1, 100000);
    struct mallinfo2 after = mallinfo2();
    assert_true(after.uordblks >= before.uordblks + 100000);
    /* glibc's chunk header: usable size is 8 mod 16 on x86_64, never
     * jemalloc's size class (100352) */
    assert_true(malloc_usable_size(p) >= 100000 && malloc_usable_size(p) < 100000 + 32);
    free(p);
}

static void test_no_jemalloc_names(void **state)
{
    (void)state;
    const char *names[] = { "mallocx", "rallocx", "xallocx", "sallocx", "dallocx", "sdallocx",
                            "nallocx", "mallctl", "mallctlnametomib", "mallctlbymib",
                            "malloc_stats_print", "malloc_conf", "malloc_message",
                            "je_malloc_default", "mgov__je_malloc", "mgov__je_mallctl" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (dlsym(RTLD_DEFAULT, names[i]))
            fail_msg("%s is visible to the program", names[i]);
}

static void test_heap_alongside(void **state)
{
    (void)state;
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = (uint64_t)64 << 20;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    mgov_heap_config_t hc = MGOV_HEAP_CONFIG_INIT;
    hc.gov = gov;
    mgov_heap_t *h = NULL;
    assert_int_equal(mgov_heap_create(&hc, &h), MGOV_OK);
    void *a = mgov_heap_malloc(h, 100);
    void *b = malloc(100);
    assert_non_null(a);
    assert_non_null(b);
    /* each allocator frees its own blocks; the heap's are jemalloc's size
     * classes (112 for 100 bytes) */
    assert_int_equal(mgov_heap_usable_size(h, a), 112);
    assert_true(mgov_used(gov) >= 112);
    free(b);
    mgov_heap_free(h, a);
    assert_int_equal(mgov_heap_destroy(h), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_points_are_libc),
        cmocka_unit_test(test_glibc_serves_malloc),
        cmocka_unit_test(test_no_jemalloc_names),
        cmocka_unit_test(test_heap_alongside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
