/* op_stress.h - threads that press an operator's governor from outside,
 * for the operator tests (tests/ops/): an asker that keeps asking the
 * governor to give memory back while an operator runs, and the stress
 * harness (test_*_stress.c), where workers in threads, each running an
 * operator, share one governor while an asker reclaims and spills in turn.
 *
 *   op_stress_run: asker up --> workers up --> workers joined
 *     --> asker stopped --> the jobs checked (of_fail) --> their sums
 *
 * Threads hold pointers into the caller's frame (the asker, the jobs),
 * and a failed cmocka check longjmps out of it: nothing here asserts
 * while a thread of its runs, every thread ends before op_stress_run
 * checks anything, and a caller of op_asker_start checks its results only
 * after op_asker_stop.
 *
 * Threading: called from the main thread; a worker sees only its job.
 */
#ifndef MGOV_TEST_OP_STRESS_H
#define MGOV_TEST_OP_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "memgov/governor.h"
#include "op_fixture.h"

/* Until stopped, asks gov to spill every consumer (or the one named), and
 * with reclaim set, in turn, to reclaim 1 MiB at high pressure; then
 * sleeps pause_ms, or only yields when 0. */
typedef struct op_asker {
    mgov_t *gov;
    const char *consumer;  /* NULL: every consumer (mgov_spill_all) */
    bool reclaim;
    unsigned pause_ms;
    unsigned long asked;   /* spill requests that returned MGOV_OK; read once stopped */
    _Atomic bool stop;
    pthread_t thread;
} op_asker_t;

/* Starts the asker described by *a (the rest zero).  Returns 0, or the
 * error of pthread_create. */
int op_asker_start(op_asker_t *a);
/* Stops it and waits for its thread. */
void op_asker_stop(op_asker_t *a);

/* What a stress job starts with: the caller sets gov, the worker the rest
 * (in op_stress_run's sums, the jobs' totals). */
typedef struct op_job {
    mgov_t *gov;
    int rc;            /* the worker's first failure, or MGOV_OK */
    uint64_t spilled;  /* partitions or runs its operator spilled */
    uint64_t asked;    /* spill requests its operator had */
} op_job_t;

/* Runs worker(job i) for the n jobs of job_size bytes at jobs (each
 * starting with an op_job_t), each in a thread, beside an asker on e's
 * governor that reclaims and spills in turn every 2 ms.  Once every thread
 * has ended, fails the case (of_fail) when a thread could not be made or
 * a job failed ("WHAT I: error"); else returns the jobs' totals. */
op_job_t op_stress_run(of_env_t *e, void *(*worker)(void *job), void *jobs, size_t job_size,
                       unsigned n, const char *what);

#endif /* MGOV_TEST_OP_STRESS_H */
