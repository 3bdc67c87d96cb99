/* test_hashagg_stress.c - three hash aggregations in threads sharing one
 * small budget (fixed and variable keys) while another thread keeps asking
 * the governor to spill everything: every aggregation finishes, each
 * group's count and sum are right, and the governor ends at zero with no
 * file left.  Run under ThreadSanitizer by `make test`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gov_helpers.h"
#include "memgov/hashagg.h"
#include "op_fixture.h"
#include "op_stress.h"

#define AGGS 3
#define GROUPS 20000u

typedef struct job {
    op_job_t op;     /* gov, the first failure, partitions spilled, spill requests */
    unsigned id;
    uint64_t rows;
    bool variable;
    uint64_t groups;
} job_t;

/* Group of row i: the same for every job, so each can check its own. */
static uint64_t key_of(uint64_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return x % GROUPS;
}

static void *aggregate(void *arg)
{
    job_t *j = arg;
    mgov_agg_spec_t aggs[] = { { MGOV_AGG_COUNT, 0, NULL }, { MGOV_AGG_SUM_I64, 0, NULL } };
    mgov_hashagg_config_t c = MGOV_HASHAGG_CONFIG_INIT;
    c.gov = j->op.gov;
    c.key_size = j->variable ? 0 : 8;
    c.n_inputs = 1;
    c.aggs = aggs;
    c.n_aggs = 2;
    c.timeout_ns = MGOV_HASHAGG_DEFAULT_TIMEOUT_NS;
    mgov_hashagg_t *h;
    if ((j->op.rc = mgov_hashagg_create(&c, &h)) != MGOV_OK)
        return NULL;
    uint64_t *count = calloc(GROUPS, sizeof *count);
    for (uint64_t i = 0; i < j->rows && j->op.rc == MGOV_OK; i++) {
        uint64_t k = key_of(i);
        mgov_value_t v = { .i64 = (int64_t)k };
        j->op.rc = mgov_hashagg_push(h, &k, j->variable ? 1 + k % 8 : 8, &v);
    }
    if (j->op.rc == MGOV_OK)
        j->op.rc = mgov_hashagg_finish(h);
    mgov_hashagg_group_t g;
    int rc = 0;
    while (j->op.rc == MGOV_OK && (rc = mgov_hashagg_next(h, &g)) == 1) {
        uint64_t k = 0;
        memcpy(&k, g.key, g.key_len);
        /* a variable key is a prefix of the id: the groups it joins sum up */
        if (k >= GROUPS) {
            j->op.rc = MGOV_ECORRUPT;
            break;
        }
        count[k] += (uint64_t)g.values[0].i64;
        j->groups++;
    }
    if (j->op.rc == MGOV_OK && rc < 0)
        j->op.rc = rc;
    if (j->op.rc == MGOV_OK) {
        uint64_t total = 0;
        for (uint64_t k = 0; k < GROUPS; k++)
            total += count[k];
        if (total != j->rows)
            j->op.rc = MGOV_ECORRUPT;
    }
    mgov_hashagg_stats_t st;
    mgov_hashagg_stats(h, &st);
    j->op.spilled = st.partitions_spilled;
    j->op.asked = st.spill_requests;
    mgov_hashagg_destroy(h);
    free(count);
    return NULL;
}

static void test_aggregations_share_a_budget(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "hashagg-stress", 4 * GH_MiB, 0);
    job_t jobs[AGGS];
    for (unsigned i = 0; i < AGGS; i++)
        jobs[i] = (job_t){ .op.gov = e.gov, .id = i, .rows = 150000 + 50000 * i,
                           .variable = i == 1 };
    op_job_t sum = op_stress_run(&e, aggregate, jobs, sizeof *jobs, AGGS, "aggregation");
    assert_true(sum.spilled > 0);
    assert_true(sum.asked > 0);
    of_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregations_share_a_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
