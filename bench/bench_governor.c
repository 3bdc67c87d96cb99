/* bench/bench_governor.c - the cost of a grant.
 *
 * Measures, in one process and interleaved in rounds so machine noise hits
 * every subject alike:
 *   atomic   a bare atomic fetch-add + fetch-sub pair on one counter
 *   floor    the four locked operations a grant pair cannot do without
 *            (reserve: CAS on `used` + add to the region word; release: two
 *            subtractions), with no other logic: the protocol's own cost
 *   malloc   malloc(64) + free
 *   grant    mgov_try_reserve(64 bytes) + mgov_grant_release, default regions
 * each uncontended (1 thread) and with 2 threads hammering the same shared
 * state (one counter / one governor / the malloc arenas).  Reports ns per
 * pair (median of the rounds) and the grant's ratio to each baseline.
 *
 * Usage: bench_governor [pairs-per-round] [rounds]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memgov.h"
#include "bench_util.h"
#include "sys/sys.h"

enum { SUBJ_ATOMIC, SUBJ_FLOOR, SUBJ_MALLOC, SUBJ_GRANT, N_SUBJ };
static const char *const subj_name[] = { "atomic add+sub", "4 locked ops (floor)",
                                         "malloc+free 64B", "try_reserve+release" };

/* counter and region word share a line, as `used` and the region words do */
static _Alignas(64) _Atomic uint64_t counter;
static _Atomic uint64_t region_word;
static mgov_t *gov;
static long pairs;
static void *volatile sink;

static void run_atomic(void)
{
    for (long i = 0; i < pairs; i++) {
        atomic_fetch_add(&counter, 64);
        atomic_fetch_sub(&counter, 64);
    }
}

static void run_floor(void)
{
    for (long i = 0; i < pairs; i++) {
        uint64_t u = atomic_load_explicit(&counter, memory_order_relaxed);
        while (!atomic_compare_exchange_weak(&counter, &u, u + 64))
            ;
        atomic_fetch_add(&region_word, 64 + ((uint64_t)1 << 48));
        atomic_fetch_sub(&region_word, 64 + ((uint64_t)1 << 48));
        atomic_fetch_sub(&counter, 64);
    }
}

static void run_malloc(void)
{
    for (long i = 0; i < pairs; i++) {
        void *p = malloc(64);
        sink = p;
        free(p);
    }
}

static void run_grant(void)
{
    for (long i = 0; i < pairs; i++) {
        mgov_grant_t g;
        if (mgov_try_reserve(gov, MGOV_REGION_EXECUTION_BUFFERS, 64, 0, &g) != MGOV_OK)
            abort();
        mgov_grant_release(&g);
    }
}

static void (*const subj_fn[])(void) = { run_atomic, run_floor, run_malloc, run_grant };

static void run_subject(void *subj)
{
    subj_fn[(int)(intptr_t)subj]();
}

/* ns per pair per thread */
static double measure(int subj, int threads)
{
    return (double)bench_threads_ns(run_subject, (void *)(intptr_t)subj, threads) /
           (double)pairs;
}

int main(int argc, char **argv)
{
    pairs = argc > 1 ? atol(argv[1]) : 5000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    if (pairs <= 0 || rounds <= 0 || rounds > 101) {
        fprintf(stderr, "usage: bench_governor [pairs-per-round] [rounds<=101]\n");
        return 2;
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = (uint64_t)1 << 30;
    if (mgov_create(&cfg, &gov) != MGOV_OK)
        return 1;

    double res[2][N_SUBJ][101];
    for (int r = 0; r < rounds; r++)
        for (int th = 1; th <= 2; th++)
            for (int s = 0; s < N_SUBJ; s++)
                res[th - 1][s][r] = measure(s, th);

    printf("memgov governor benchmark: %ld pairs x %d rounds, median ns per pair\n", pairs,
           rounds);
    for (int th = 1; th <= 2; th++) {
        double med[N_SUBJ];
        for (int s = 0; s < N_SUBJ; s++) {
            med[s] = bench_median(res[th - 1][s], (size_t)rounds);
        }
        printf("%d thread%s:\n", th, th > 1 ? "s (same governor/counter)" : "");
        for (int s = 0; s < N_SUBJ; s++)
            printf("  %-24s %8.2f ns\n", subj_name[s], med[s]);
        printf("  ratio grant/atomic     %8.2fx   (target <= 2.00x uncontended)\n",
               med[SUBJ_GRANT] / med[SUBJ_ATOMIC]);
        printf("  ratio floor/atomic     %8.2fx   (what 4 locked ops cost)\n",
               med[SUBJ_FLOOR] / med[SUBJ_ATOMIC]);
        printf("  ratio grant/floor      %8.2fx   (the rest of the fast path)\n",
               med[SUBJ_GRANT] / med[SUBJ_FLOOR]);
        printf("  ratio grant/malloc     %8.2fx\n", med[SUBJ_GRANT] / med[SUBJ_MALLOC]);
    }
    if (mgov_used(gov) != 0)
        return 1;
    return mgov_destroy(gov) == MGOV_OK ? 0 : 1;
}
