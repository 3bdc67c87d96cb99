/* host_bench.c - `memgov host --bench`: what sharing a budget between
 * processes costs a grant, and how fast a death is noticed.
 *
 *   local      reserve+release pairs of 4 KiB on a governor of its own,
 *              in 1, 2 and 4 processes at once (each its own governor);
 *   host       the same with every process's governor on one host budget
 *              (a 4 KiB grant fits in the current lease: the lease protocol's
 *              fast path);
 *   death      a member holding 7/8 of the budget is killed with SIGKILL;
 *              the time until another member's blocking reserve of 7/8 of
 *              the budget is granted (its lease taken back).
 * Pairs are timed in each process's own CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so processes that share cores do not count each other's turns; each
 * figure is the mean over the processes of one round, and the median over
 * the rounds is shown.  Processes are forks of this one, started together
 * (a pipe is their starting gun).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memgov.h>

#include "cli.h"
#include "cmd_host.h"

#define BENCH_BUDGET ((uint64_t)1 << 30)

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One process's pairs; its ns per pair, or a negative status. */
static double pairs_run(const char *host, uint64_t pairs, int gun)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = BENCH_BUDGET;
    cfg.host = host;
    cfg.host_budget = BENCH_BUDGET;
    mgov_t *gov;
    int rc = mgov_create(&cfg, &gov);
    if (rc != MGOV_OK)
        return rc;
    mgov_grant_t g;
    /* the first grant leases a chunk: the figure is of grants that fit */
    if ((rc = mgov_try_reserve(gov, 0, 4096, 0, &g)) != MGOV_OK)
        return rc;
    mgov_grant_release(&g);
    char go;
    if (read(gun, &go, 1) != 1)
        return MGOV_EIO;
    uint64_t t0 = cpu_ns();
    for (uint64_t i = 0; i < pairs; i++) {
        if (mgov_try_reserve(gov, 0, 4096, 0, &g) != MGOV_OK)
            return MGOV_EBUDGET;
        mgov_grant_release(&g);
    }
    double ns = (double)(cpu_ns() - t0) / (double)pairs;
    mgov_destroy(gov);
    return ns;
}

/* n processes at once; the mean of their ns per pair (< 0 on failure). */
static double round_run(unsigned n, bool shared, uint64_t pairs, unsigned round)
{
    char host[48];
    snprintf(host, sizeof host, "bench-%d-%u", (int)getpid(), round);
    int gun[2], res[2];
    if (pipe(gun) != 0 || pipe(res) != 0)
        return -1;
    pid_t pid[4];
    for (unsigned i = 0; i < n; i++) {
        fflush(NULL);
        pid[i] = fork();
        if (pid[i] == 0) {
            close(gun[1]);
            double ns = pairs_run(shared ? host : NULL, pairs, gun[0]);
            _exit(write(res[1], &ns, sizeof ns) == sizeof ns ? 0 : 1);
        }
    }
    close(gun[0]);
    close(res[1]);
    struct timespec settle = { 0, 100 * 1000 * 1000 }; /* every member joined */
    nanosleep(&settle, NULL);
    char go[4] = { 1, 1, 1, 1 };
    ssize_t w = write(gun[1], go, n);
    close(gun[1]);
    double sum = 0;
    bool ok = w == (ssize_t)n;
    for (unsigned i = 0; i < n; i++) {
        double ns;
        if (read(res[0], &ns, sizeof ns) != sizeof ns || ns < 0)
            ok = false;
        else
            sum += ns;
    }
    close(res[0]);
    for (unsigned i = 0; i < n; i++)
        waitpid(pid[i], NULL, 0);
    return ok ? sum / n : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ms from a member's SIGKILL to another's reserve of 7/8 of the budget. */
static double death_run(unsigned round)
{
    char host[48];
    snprintf(host, sizeof host, "death-%d-%u", (int)getpid(), round);
    uint64_t budget = 64u << 20, most = budget / 8 * 7;
    int ready[2];
    if (pipe(ready) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        mgov_config_t cfg = MGOV_CONFIG_INIT;
        cfg.host = host;
        cfg.host_budget = budget;
        mgov_t *gov;
        mgov_grant_t g;
        if (mgov_create(&cfg, &gov) != MGOV_OK || mgov_try_reserve(gov, 0, most, 0, &g) != MGOV_OK)
            _exit(1);
        (void)!write(ready[1], "r", 1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char r;
    double ms = -1;
    if (read(ready[0], &r, 1) == 1) {
        mgov_config_t cfg = MGOV_CONFIG_INIT;
        cfg.host = host;
        mgov_t *gov;
        if (mgov_create(&cfg, &gov) == MGOV_OK) {
            mgov_grant_t g;
            kill(pid, SIGKILL);
            uint64_t t0 = cli_now_ns();
            if (mgov_reserve(gov, 0, most, 0, 5000 * 1000 * 1000ll, &g) == MGOV_OK)
                ms = (double)(cli_now_ns() - t0) / 1e6;
            mgov_grant_release(&g);
            mgov_destroy(gov);
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(ready[0]);
    return ms;
}

int host_bench(uint64_t pairs, unsigned rounds)
{
    static const unsigned procs[] = { 1, 2, 4 };
    printf("memgov host --bench: reserve+release of 4 KiB, %" PRIu64 " pairs per process, "
           "CPU ns per pair, median of %u rounds\n",
           pairs, rounds);
    printf("  %-10s %12s %12s %8s\n", "processes", "local ns", "host ns", "host/local");
    double v[99];
    for (unsigned p = 0; p < 3; p++) {
        double fig[2];
        for (int shared = 0; shared < 2; shared++) {
            for (unsigned r = 0; r < rounds; r++)
                if ((v[r] = round_run(procs[p], shared, pairs, r)) < 0)
                    return cli_error("host", "the benchmark's processes failed");
            fig[shared] = median(v, rounds);
        }
        printf("  %-10u %12.1f %12.1f %8.2fx\n", procs[p], fig[0], fig[1], fig[1] / fig[0]);
    }
    for (unsigned r = 0; r < rounds; r++)
        if ((v[r] = death_run(r)) < 0)
            return cli_error("host", "the death benchmark failed");
    double med = median(v, rounds); /* sorts v */
    printf("  death of a member holding 7/8 of a 64 MiB budget -> its lease granted to another: "
           "%.1f ms (median of %u; min %.1f, max %.1f)\n",
           med, rounds, v[0], v[rounds - 1]);
    return CLI_EXIT_OK;
}
