/* test_fault.c - the fault-injection facility (src/sys/fault.c): countdown,
 * bounded and unbounded failures, disarming, and the allocation wrappers.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_helpers.h"
#include "sys/fault.h"

static void test_disarmed_never_fails(void **state)
{
    (void)state;
    mgov__fault_disarm_all();
    for (int i = 0; i < 1000; i++)
        assert_false(mgov__fault_now(MGOV_FAULT_ALLOC));
    assert_int_equal(mgov__fault_hits(MGOV_FAULT_ALLOC), 0);
}

static void test_after_then_count(void **state)
{
    (void)state;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 3, 2);
    bool seen[8];
    for (int i = 0; i < 8; i++)
        seen[i] = mgov__fault_now(MGOV_FAULT_ALLOC);
    const bool want[8] = { false, false, false, true, true, false, false, false };
    assert_memory_equal(seen, want, sizeof want);
    assert_int_equal(mgov__fault_hits(MGOV_FAULT_ALLOC), 2);
    mgov__fault_disarm_all();
}

static void test_forever(void **state)
{
    (void)state;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, -1);
    for (int i = 0; i < 100; i++)
        assert_true(mgov__fault_now(MGOV_FAULT_ALLOC));
    assert_int_equal(mgov__fault_hits(MGOV_FAULT_ALLOC), 100);
    mgov__fault_disarm_all();
    assert_false(mgov__fault_now(MGOV_FAULT_ALLOC));
}

static void test_count_zero_is_disarmed(void **state)
{
    (void)state;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 0);
    assert_false(mgov__fault_now(MGOV_FAULT_ALLOC));
}

static void test_wrappers(void **state)
{
    (void)state;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 4);
    assert_null(mgov__malloc(16));
    assert_null(mgov__calloc(2, 8));
    assert_null(mgov__aligned_alloc(64, 64));
    assert_null(mgov__strdup("x"));
    void *p = mgov__malloc(16), *q = mgov__calloc(2, 8), *r = mgov__aligned_alloc(64, 64);
    char *s = mgov__strdup("memgov");
    assert_non_null(p);
    assert_non_null(q);
    assert_non_null(r);
    assert_true(((uintptr_t)r & 63) == 0);
    assert_string_equal(s, "memgov");
    assert_memory_equal(q, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    free(p);
    free(q);
    free(r);
    free(s);
    mgov__fault_disarm_all();
}

/* A crash point kills the process at the chosen call, not before. */
static void test_crash(void **state)
{
    (void)state;
    for (long after = 0; after < 3; after++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            mgov__fault_arm_crash(MGOV_FAULT_FSYNC, after);
            for (long i = 0; i < 2; i++)
                if (mgov__fault_now(MGOV_FAULT_FSYNC))
                    _exit(2); /* a crash point must not return */
            _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (after < 2) { /* the (after+1)-th call is the last one made */
            assert_true(WIFSIGNALED(status));
            assert_int_equal(WTERMSIG(status), SIGKILL);
        } else {
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_disarmed_never_fails),
        FH_TEST(test_after_then_count),
        FH_TEST(test_forever),
        FH_TEST(test_count_zero_is_disarmed),
        FH_TEST(test_wrappers),
        FH_TEST(test_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
