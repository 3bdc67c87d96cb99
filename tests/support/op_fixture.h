/* op_fixture.h - the fixture of the operator tests (tests/ops/): a scratch
 * TMPDIR for the governor's private spill directory, looks into that
 * directory (its files, damaging them), the failure cases every operator
 * goes through (faults in turn), and the deterministic data the tests
 * make.  The threads of the stress tests are op_stress.h.
 *
 * Lifecycle: of_open (mkdtemp /tmp/mgov-test-<name>-<pid>-XXXXXX, TMPDIR
 * set to it, a governor with the budget and quota) -> test -> of_close
 * (asserts the governor counts nothing, the spill directory holds no file,
 * mgov_destroy is MGOV_OK, and the scratch directory is empty), or of_fail
 * (removes what is left, then fails the test).
 *
 * Threading: main thread only (cmocka assertions, the environment).
 */
#ifndef MGOV_TEST_OP_FIXTURE_H
#define MGOV_TEST_OP_FIXTURE_H

#include <stdint.h>

#include "memgov/governor.h"

/* ThreadSanitizer runs the operator tests ~15x slower: there only the
 * cases with threads run (the plain and ASan runs walk them all). */
#if defined(__SANITIZE_THREAD__)
#define OF_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OF_UNDER_TSAN 1
#endif
#endif
#ifndef OF_UNDER_TSAN
#define OF_UNDER_TSAN 0
#endif
/* First thing in a case with no thread of its own (needs cmocka.h). */
#define OF_SINGLE_THREADED_CASE() (OF_UNDER_TSAN ? skip() : (void)0)

/* xorshift64: the next of a deterministic sequence from *s (not 0). */
static inline uint64_t of_rng(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* splitmix64's finalizer: a well-mixed 64-bit value for x. */
static inline uint64_t of_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct of_env {
    char dir[256]; /* TMPDIR of the case */
    mgov_t *gov;
} of_env_t;

/* name tells the cases' directories apart; quota 0 is the default. */
void of_open(of_env_t *e, const char *name, uint64_t budget, uint64_t quota);
void of_close(of_env_t *e);
/* Removes what a failed case leaves (the governor, its private spill
 * directory, the scratch directory), then fails with the message.  Every
 * thread of the case must have ended. */
void of_fail(of_env_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Files in the governor's spill directory other than its lock. */
unsigned of_spill_files(mgov_t *gov);
/* Paths of the spill files (spill-*.tmp) of the governor's directory. */
unsigned of_spill_paths(mgov_t *gov, char paths[][512], unsigned max);

typedef enum { OF_FLIP, OF_TRUNCATE } of_damage_t;
/* Flips a byte in the middle of the file, or cuts its last 100 bytes. */
void of_damage(const char *path, of_damage_t how);

/* An operator's run under gov over `rows` rows, spilling at 1 MiB: its
 * first error, or MGOV_OK. */
typedef int (*of_run_fn)(mgov_t *gov, uint64_t rows);

/* An operator behind three calls: start makes one under gov and gives it
 * all its input (enough to spill at 1 MiB); next returns its next output
 * as the operator does (1, 0 at the end, or an error); end destroys it. */
typedef struct of_op {
    void *(*start)(mgov_t *gov);
    int (*next)(void *op);
    void (*end)(void *op);
} of_op_t;

/* The failure cases every operator goes through, described once per
 * operator; each runs under fresh fixtures named `name` at 1 MiB. */
typedef struct of_failures {
    const char *name;
    of_run_fn run;
    uint64_t quota_rows;    /* run's rows that fill a 256 KiB spill quota */
    uint64_t fault_rows;    /* run's rows for the faults: few, but spilling */
    long dense, skip;       /* faults: the Nth call for every N to dense, then every skip + 1 */
    of_op_t damaged;        /* an operator left with spill files to read */
    unsigned damaged_files; /* at least this many */
} of_failures_t;

/* The cases, each a cmocka test with *state the operator's of_failures_t
 * (OF_FAILURE_TESTS lists them), single-threaded (skipped under TSan):
 *   of_quota_test: under a 256 KiB quota, run fails with MGOV_ENOSPC;
 *   of_damaged_test: for each way of damage, every spill file of a started
 *     operator damaged, its output ends in MGOV_ECORRUPT, which stays;
 *   of_faults_test: every allocation, mapping, write (EIO, then ENOSPC)
 *     and read failing in turn, the Nth call of its kind for N from 0
 *     until a run no longer reaches it: each run ends with MGOV_OK or a
 *     clean error (ENOMEM, EIO, ENOSPC), the last, untouched, with MGOV_OK.
 * Each leaves nothing behind (of_close). */
void of_quota_test(void **state);
void of_damaged_test(void **state);
void of_faults_test(void **state);
/* Their entries in a CMUnitTest array, under the names the operators'
 * tests have always given them, with fault_helpers.h's teardown. */
#define OF_FAILURE_TESTS(failures)                                                   \
    { "test_quota_hit", of_quota_test, NULL, fh_disarm, (void *)(failures) },        \
        { "test_damaged_spill_file", of_damaged_test, NULL, fh_disarm,               \
          (void *)(failures) },                                                      \
        { "test_faults_in_turn", of_faults_test, NULL, fh_disarm, (void *)(failures) }

#endif /* MGOV_TEST_OP_FIXTURE_H */
