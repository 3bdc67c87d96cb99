/* bench/bench_util.h - what the benchmarks share: the median of the rounds,
 * and timing a function run by several threads started together.
 * Header-only: each bench_*.c is an executable of its own.
 */
#ifndef MGOV_BENCH_UTIL_H
#define MGOV_BENCH_UTIL_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "sys/sys.h"

#define BENCH_MAX_THREADS 8

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v and returns its median. */
/* xorshift64: reproducible bytes for benchmarks (state must not be 0). */
static inline uint64_t bench_rng(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct bench_job {
    void (*fn)(void *);
    void *arg;
    pthread_barrier_t bar;
} bench_job_t;

static void *bench_thread_main(void *p)
{
    bench_job_t *j = p;
    pthread_barrier_wait(&j->bar);
    j->fn(j->arg);
    return NULL;
}

/* Runs fn(arg) in `threads` threads released together; returns the
 * nanoseconds from their release until the last one ended. */
static inline uint64_t bench_threads_ns(void (*fn)(void *), void *arg, int threads)
{
    pthread_t t[BENCH_MAX_THREADS];
    bench_job_t job = { .fn = fn, .arg = arg };
    if (threads < 1 || threads > BENCH_MAX_THREADS)
        abort();
    pthread_barrier_init(&job.bar, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, bench_thread_main, &job) != 0)
            abort();
    pthread_barrier_wait(&job.bar);
    uint64_t start = mgov__now_ns();
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    uint64_t ns = mgov__now_ns() - start;
    pthread_barrier_destroy(&job.bar);
    return ns;
}

#endif /* MGOV_BENCH_UTIL_H */
