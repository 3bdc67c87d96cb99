/* op_stress.c - the asker and the stress harness (see op_stress.h). */
#include "op_stress.h"

#include <sched.h>

#include "gov_helpers.h"

#define OP_STRESS_MAX 16 /* workers at most */

static void *asker_main(void *arg)
{
    op_asker_t *a = arg;

    for (unsigned long n = 0; !atomic_load(&a->stop); n++) {
        if (a->reclaim && n % 2 == 0)
            (void)mgov_reclaim(a->gov, GH_MiB, MGOV_PRESSURE_HIGH);
        else if (a->consumer != NULL)
            a->asked += mgov_spill_consumer(a->gov, a->consumer) == MGOV_OK;
        else
            a->asked += mgov_spill_all(a->gov) == MGOV_OK;
        if (a->pause_ms != 0)
            gh_sleep_ms(a->pause_ms);
        else
            sched_yield();
    }
    return NULL;
}

int op_asker_start(op_asker_t *a)
{
    atomic_store(&a->stop, false);
    return pthread_create(&a->thread, NULL, asker_main, a);
}

void op_asker_stop(op_asker_t *a)
{
    atomic_store(&a->stop, true);
    pthread_join(a->thread, NULL);
}

op_job_t op_stress_run(of_env_t *e, void *(*worker)(void *job), void *jobs, size_t job_size,
                       unsigned n, const char *what)
{
    op_asker_t asker = { .gov = e->gov, .reclaim = true, .pause_ms = 2 };
    pthread_t th[OP_STRESS_MAX];
    unsigned started = 0;

    if (n <= OP_STRESS_MAX && op_asker_start(&asker) == 0) {
        while (started < n && pthread_create(&th[started], NULL, worker,
                                             (char *)jobs + started * job_size) == 0)
            started++;
        for (unsigned i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        op_asker_stop(&asker);
    }
    /* every thread has ended: now it is safe to fail */
    if (started < n)
        of_fail(e, "started %u of %u %s threads", started, n, what);
    op_job_t sum = { .gov = e->gov, .rc = MGOV_OK };
    for (unsigned i = 0; i < n; i++) {
        const op_job_t *j = (const op_job_t *)((const char *)jobs + i * job_size);
        if (j->rc != MGOV_OK)
            of_fail(e, "%s %u: %s", what, i, mgov_strerror(j->rc));
        sum.spilled += j->spilled;
        sum.asked += j->asked;
    }
    return sum;
}
