/* test_hashjoin_stress.c - three hash joins in threads sharing one small
 * budget (an inner join, a full outer join with variable keys, a semi
 * join) while another thread keeps asking the governor to spill
 * everything: every join finishes with the right number of rows, and the
 * governor ends at zero with no file left.  Run under ThreadSanitizer by
 * `make test`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gov_helpers.h"
#include "memgov/hashjoin.h"
#include "op_fixture.h"
#include "op_stress.h"

#define JOINS 3
#define ROWS 60000u

typedef struct job {
    op_job_t op;     /* gov, the first failure, partitions spilled */
    mgov_join_type_t type;
    bool variable;
    uint64_t out, want;
} job_t;

/* Build keys are 0..ROWS-1 once each; probe keys i*3 for i < ROWS/2, so
 * the keys below ROWS that are multiples of 3 match once. */
static void *join(void *arg)
{
    job_t *jb = arg;
    mgov_hashjoin_config_t c = MGOV_HASHJOIN_CONFIG_INIT;
    c.gov = jb->op.gov;
    c.type = jb->type;
    c.key_size = jb->variable ? 0 : 8;
    c.timeout_ns = MGOV_HASHJOIN_DEFAULT_TIMEOUT_NS;
    mgov_hashjoin_t *j;
    if ((jb->op.rc = mgov_hashjoin_create(&c, &j)) != MGOV_OK)
        return NULL;
    for (uint64_t i = 0; i < ROWS && jb->op.rc == MGOV_OK; i++)
        jb->op.rc = mgov_hashjoin_build(j, &i, 8, &i, sizeof i);
    if (jb->op.rc == MGOV_OK)
        jb->op.rc = mgov_hashjoin_build_finish(j);
    mgov_hashjoin_row_t r;
    for (uint64_t i = 0; i < ROWS / 2 && jb->op.rc == MGOV_OK; i++) {
        uint64_t k = i * 3;
        jb->op.rc = mgov_hashjoin_probe(j, &k, 8, &i, sizeof i);
        int x;
        while (jb->op.rc == MGOV_OK && (x = mgov_hashjoin_next(j, &r)) != 0)
            x < 0 ? (void)(jb->op.rc = x) : (void)jb->out++;
    }
    if (jb->op.rc == MGOV_OK)
        jb->op.rc = mgov_hashjoin_probe_finish(j);
    int x;
    while (jb->op.rc == MGOV_OK && (x = mgov_hashjoin_next(j, &r)) != 0)
        x < 0 ? (void)(jb->op.rc = x) : (void)jb->out++;
    mgov_hashjoin_stats_t st;
    mgov_hashjoin_stats(j, &st);
    jb->op.spilled = st.partitions_spilled;
    mgov_hashjoin_destroy(j);
    return NULL;
}

static void test_joins_share_a_budget(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "hashjoin-stress", 4 * GH_MiB, 0);
    uint64_t matches = (ROWS + 2) / 3;                 /* probe keys below ROWS */
    job_t jobs[JOINS] = {
        { .op.gov = e.gov, .type = MGOV_JOIN_INNER, .want = matches },
        { .op.gov = e.gov, .type = MGOV_JOIN_FULL, .variable = true,
          .want = matches + (ROWS - matches) + (ROWS / 2 - matches) },
        { .op.gov = e.gov, .type = MGOV_JOIN_SEMI, .want = matches },
    };
    op_job_t sum = op_stress_run(&e, join, jobs, sizeof *jobs, JOINS, "join");
    for (unsigned i = 0; i < JOINS; i++)
        if (jobs[i].out != jobs[i].want)
            of_fail(&e, "join %u: %llu rows, %llu expected", i, (unsigned long long)jobs[i].out,
                    (unsigned long long)jobs[i].want);
    assert_true(sum.spilled > 0);
    of_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_joins_share_a_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
