/* test_sort_stress.c - several external sorts in threads sharing one small
 * budget, while another thread keeps asking the governor to reclaim and to
 * spill everything.  The sorts ask each other to spill (each is a consumer
 * the others' growth may reclaim from), so runs are cut from other threads
 * at any moment.  Every output must be complete and in order (stable), and
 * the governor and the spill directory empty at the end.  The threads are
 * op_stress.h's: every one has ended before anything is reported.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gov_helpers.h"
#include "memgov/sort.h"
#include "memgov/spill.h"
#include "op_fixture.h"
#include "op_stress.h"

#define SORTERS 3

typedef struct job {
    op_job_t op;     /* gov, the first failure, runs spilled, spill requests */
    unsigned id;
    uint64_t n;
    bool variable;
} job_t;

static void *sorter(void *arg)
{
    job_t *j = arg;
    mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
    cfg.gov = j->op.gov;
    cfg.timeout_ns = MGOV_SORT_DEFAULT_TIMEOUT_NS; /* they share the budget: wait for it */
    cfg.record_size = j->variable ? 0 : 16;
    cfg.key_size = j->variable ? 0 : 8;
    mgov_sort_t *s;
    if ((j->op.rc = mgov_sort_create(&cfg, &s)) != MGOV_OK)
        return NULL;
    /* keys from a small range: many ties, so stability is tested too */
    for (uint64_t i = 0; i < j->n && j->op.rc == MGOV_OK; i++) {
        uint64_t rec[2] = { __builtin_bswap64(of_mix(i * SORTERS + j->id) % 5000), i };
        j->op.rc = mgov_sort_push(s, rec, j->variable ? 8 + i % 9 : 16);
    }
    if (j->op.rc == MGOV_OK)
        j->op.rc = mgov_sort_finish(s);
    uint64_t count = 0, prev_key = 0, prev_seq = 0;
    const void *p;
    size_t len;
    int rc = 0;
    while (j->op.rc == MGOV_OK && (rc = mgov_sort_next(s, &p, &len)) == 1) {
        uint64_t rec[2] = { 0, 0 };
        memcpy(rec, p, len < 16 ? len : 16);
        uint64_t key = __builtin_bswap64(rec[0]);
        /* variable records carry a cut payload: order by key is checked,
         * and for fixed ones the payload's order among equal keys */
        if (count && (key < prev_key ||
                      (!j->variable && key == prev_key && rec[1] <= prev_seq))) {
            j->op.rc = MGOV_ECORRUPT;
            break;
        }
        prev_key = key;
        prev_seq = rec[1];
        count++;
    }
    if (j->op.rc == MGOV_OK && rc < 0)
        j->op.rc = rc;
    if (j->op.rc == MGOV_OK && count != j->n)
        j->op.rc = MGOV_ECORRUPT;
    mgov_sort_stats_t st;
    mgov_sort_stats(s, &st);
    j->op.spilled = st.runs;
    j->op.asked = st.spill_requests;
    mgov_sort_destroy(s);
    return NULL;
}

static void run(bool variable)
{
    of_env_t e;
    of_open(&e, "sort-stress", 4 * GH_MiB, 0);
    job_t jobs[SORTERS];
    for (unsigned i = 0; i < SORTERS; i++)
        jobs[i] = (job_t){ .op.gov = e.gov, .id = i, .n = 400000 + 100000 * i,
                           .variable = variable };
    op_job_t sum = op_stress_run(&e, sorter, jobs, sizeof *jobs, SORTERS, "sorter");
    assert_true(sum.spilled > SORTERS); /* runs */
    assert_true(sum.asked > 0);
    mgov_spill_dir_t *d;
    assert_int_equal(mgov_spill_dir_get(e.gov, &d), MGOV_OK);
    assert_int_equal(mgov_spill_dir_files(d), 0);
    assert_int_equal(mgov_spill_dir_used(d), 0);
    of_close(&e);
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
