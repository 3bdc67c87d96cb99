/* test_sort_stress.c - several external sorts in threads sharing one small
 * budget, while another thread keeps asking the governor to reclaim and to
 * spill everything.  The sorts ask each other to spill (each is a consumer
 * the others' growth may reclaim from), so runs are cut from other threads
 * at any moment.  Every output must be complete and in order (stable), and
 * the governor and the spill directory empty at the end.  run() joins every
 * thread before it reports anything (a failure longjmps out of its frame).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gov_helpers.h"
#include "memgov/sort.h"
#include "memgov/spill.h"

#define SORTERS 3

typedef struct job {
    mgov_t *gov;
    unsigned id;
    uint64_t n;
    bool variable;
    int rc;          /* first failure, or MGOV_OK */
    uint64_t runs, asked;
} job_t;

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void *sorter(void *arg)
{
    job_t *j = arg;
    mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
    cfg.gov = j->gov;
    cfg.timeout_ns = MGOV_SORT_DEFAULT_TIMEOUT_NS; /* they share the budget: wait for it */
    cfg.record_size = j->variable ? 0 : 16;
    cfg.key_size = j->variable ? 0 : 8;
    mgov_sort_t *s;
    if ((j->rc = mgov_sort_create(&cfg, &s)) != MGOV_OK)
        return NULL;
    /* keys from a small range: many ties, so stability is tested too */
    for (uint64_t i = 0; i < j->n && j->rc == MGOV_OK; i++) {
        uint64_t rec[2] = { __builtin_bswap64(mix(i * SORTERS + j->id) % 5000), i };
        j->rc = mgov_sort_push(s, rec, j->variable ? 8 + i % 9 : 16);
    }
    if (j->rc == MGOV_OK)
        j->rc = mgov_sort_finish(s);
    uint64_t count = 0, prev_key = 0, prev_seq = 0;
    const void *p;
    size_t len;
    int rc = 0;
    while (j->rc == MGOV_OK && (rc = mgov_sort_next(s, &p, &len)) == 1) {
        uint64_t rec[2] = { 0, 0 };
        memcpy(rec, p, len < 16 ? len : 16);
        uint64_t key = __builtin_bswap64(rec[0]);
        /* variable records carry a cut payload: order by key is checked,
         * and for fixed ones the payload's order among equal keys */
        if (count && (key < prev_key ||
                      (!j->variable && key == prev_key && rec[1] <= prev_seq))) {
            j->rc = MGOV_ECORRUPT;
            break;
        }
        prev_key = key;
        prev_seq = rec[1];
        count++;
    }
    if (j->rc == MGOV_OK && rc < 0)
        j->rc = rc;
    if (j->rc == MGOV_OK && count != j->n)
        j->rc = MGOV_ECORRUPT;
    mgov_sort_stats_t st;
    mgov_sort_stats(s, &st);
    j->runs = st.runs;
    j->asked = st.spill_requests;
    mgov_sort_destroy(s);
    return NULL;
}

typedef struct pest {
    mgov_t *gov;
    _Atomic bool stop;
    unsigned long rounds;
} pest_t;

static void *pester(void *arg)
{
    pest_t *p = arg;
    while (!atomic_load(&p->stop)) {
        if (p->rounds % 2)
            mgov_spill_all(p->gov);
        else
            mgov_reclaim(p->gov, GH_MiB, MGOV_PRESSURE_HIGH);
        p->rounds++;
        gh_sleep_ms(2);
    }
    return NULL;
}

/* Removes what a failed run leaves (the governor, with its private spill
 * directory, and the scratch directory), then fails the test. */
static void fail_run(mgov_t *gov, const char *dir, const char *why)
{
    mgov_destroy(gov);
    rmdir(dir);
    unsetenv("TMPDIR");
    fail_msg("%s", why);
}

static void run(bool variable)
{
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/mgov-test-sort-stress-%d-XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(dir));
    setenv("TMPDIR", dir, 1);
    mgov_t *gov = gh_gov_new(4 * GH_MiB, NULL);

    job_t jobs[SORTERS];
    pthread_t th[SORTERS], pt;
    pest_t pest = { .gov = gov };
    bool pester_up = pthread_create(&pt, NULL, pester, &pest) == 0;
    unsigned started = 0;
    while (pester_up && started < SORTERS) {
        unsigned i = started;
        jobs[i] = (job_t){ .gov = gov, .id = i, .n = 400000 + 100000 * i, .variable = variable };
        if (pthread_create(&th[i], NULL, sorter, &jobs[i]) != 0)
            break;
        started++;
    }
    /* Every thread ends before anything is reported: a failed check
     * longjmps out of this frame, and the threads hold pointers into it
     * (the pester its pest_t, the sorters their jobs). */
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    atomic_store(&pest.stop, true);
    if (pester_up)
        pthread_join(pt, NULL);

    char why[256] = "";
    if (!pester_up || started < SORTERS)
        snprintf(why, sizeof why, "started %u of %u sorters (pester %s)", started, SORTERS,
                 pester_up ? "up" : "not started");
    uint64_t runs = 0, asked = 0;
    for (unsigned i = 0; i < started; i++) {
        if (!why[0] && jobs[i].rc != MGOV_OK)
            snprintf(why, sizeof why, "sorter %u: %s", i, mgov_strerror(jobs[i].rc));
        runs += jobs[i].runs;
        asked += jobs[i].asked;
    }
    if (why[0])
        fail_run(gov, dir, why);
    assert_true(runs > SORTERS);
    assert_true(asked > 0);
    assert_int_equal(mgov_used(gov), 0);
    mgov_spill_dir_t *d;
    assert_int_equal(mgov_spill_dir_get(gov, &d), MGOV_OK);
    assert_int_equal(mgov_spill_dir_files(d), 0);
    assert_int_equal(mgov_spill_dir_used(d), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_int_equal(rmdir(dir), 0);
    unsetenv("TMPDIR");
}

static void test_fixed_sorters_share_a_budget(void **state)
{
    (void)state;
    run(false);
}

static void test_variable_sorters_share_a_budget(void **state)
{
    (void)state;
    run(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_sorters_share_a_budget),
        cmocka_unit_test(test_variable_sorters_share_a_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
