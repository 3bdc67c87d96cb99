/* bench/bench_bufpool.c - the cost of a buffer-pool allocation.
 *
 * Measures, in one process and interleaved in rounds so machine noise hits
 * every subject alike (median of the rounds):
 *   malloc 4K     malloc(4096) + free                      (baseline)
 *   pool 1x4K     mgov_bufpool_alloc(1) + mgov_bufs_release, 4 KiB buffers
 *   gov 1x4K      the same on a pool charged to a governor
 *   noage 1x4K    the same on a pool made with MGOV_BUFPOOL_NO_AGE (what the
 *                 age stamp of foreach_live costs)
 *   malloc 64K    malloc(65536) + free                     (baseline)
 *   pool 16x4K    mgov_bufpool_alloc(16) + release
 *   gov 16x4K     the same on the governed pool
 * each with 1 thread and with 2 threads (both on the same pool, and the same
 * malloc arenas).  Every iteration writes one byte of the memory so neither
 * side can be optimized away.  Reports ns per pair per thread and the pool's
 * ratio to malloc+free of the same bytes (target: <= 1.00).
 *
 * Then the wake-up latency: a pool capped at one buffer; one thread holds
 * it, another blocks in mgov_bufpool_alloc; the time from just before the
 * release to just after the waiter's alloc returns is one sample (median and
 * 90th percentile).  The same hand-off through a bare mutex + condition
 * variable is the baseline.
 *
 * Usage: bench_bufpool [pairs-per-round] [rounds] [wakeups]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memgov.h"
#include "bench_util.h"
#include "sys/sys.h"

#define KiB ((size_t)1 << 10)

enum { S_MALLOC1, S_POOL1, S_GOV1, S_NOAGE1, S_MALLOC16, S_POOL16, S_GOV16, N_SUBJ };
static const char *const subj_name[] = { "malloc+free 4 KiB",  "pool 1 x 4 KiB",
                                         "pool+gov 1 x 4 KiB", "pool 1 x 4 KiB, no age",
                                         "malloc+free 64 KiB", "pool 16 x 4 KiB",
                                         "pool+gov 16 x 4 KiB" };
static const int baseline_of[] = { -1, S_MALLOC1, S_MALLOC1, S_MALLOC1,
                                   -1, S_MALLOC16, S_MALLOC16 };

static mgov_t *gov;
static mgov_bufpool_t *pool, *gpool, *npool;
static long pairs;
static void *volatile sink;

static void run_malloc(size_t bytes)
{
    for (long i = 0; i < pairs; i++) {
        unsigned char *p = malloc(bytes);
        if (!p)
            abort();
        p[i & 4095] = (unsigned char)i;
        sink = p;
        free(p);
    }
}

static void run_pool(mgov_bufpool_t *p, size_t n)
{
    for (long i = 0; i < pairs; i++) {
        mgov_bufs_t *b;
        if (mgov_bufpool_try_alloc(p, n, &b) != MGOV_OK)
            abort();
        unsigned char *d = mgov_bufs_data(b);
        d[i & 4095] = (unsigned char)i;
        sink = d;
        mgov_bufs_release(b);
    }
}

static void run(int subj)
{
    switch (subj) {
    case S_MALLOC1: run_malloc(4 * KiB); break;
    case S_POOL1: run_pool(pool, 1); break;
    case S_GOV1: run_pool(gpool, 1); break;
    case S_NOAGE1: run_pool(npool, 1); break;
    case S_MALLOC16: run_malloc(64 * KiB); break;
    case S_POOL16: run_pool(pool, 16); break;
    case S_GOV16: run_pool(gpool, 16); break;
    default: abort();
    }
}

static void run_subject(void *subj)
{
    run((int)(intptr_t)subj);
}

/* ns per pair per thread */
static double measure(int subj, int threads)
{
    return (double)bench_threads_ns(run_subject, (void *)(intptr_t)subj, threads) /
           (double)pairs;
}

static double median(double *v, size_t n)
{
    return bench_median(v, n);
}

/* ------------------------------------------------------------ wake-ups */

/* One thread (the releaser) holds the only buffer; the other (the waiter)
 * blocks for it.  The releaser waits until the waiter is queued, lets it
 * fall asleep, notes the time and releases; the waiter notes the time its
 * alloc returned, gives the buffer back and says so through `phase`.  The
 * threads never touch the pool while the other is on its way out of it.
 * The baseline passes a token through a mutex and a condition variable with
 * the same protocol. */
static long n_wakeups;
static mgov_bufpool_t *wpool;
static _Atomic uint64_t release_at, woke_at;
static _Atomic int phase; /* 0 go, 1 waiter about to block, 2 waiter done */
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccond;
static bool token, cwaiting;

static void spin_ns(uint64_t ns)
{
    uint64_t until = mgov__now_ns() + ns;
    while (mgov__now_ns() < until)
        ;
}

static void wait_phase(int want)
{
    while (atomic_load(&phase) != want)
        ;
}

static bool pool_has_waiter(void)
{
    mgov_bufpool_stats_t s;
    mgov_bufpool_stats(wpool, &s);
    return s.waiters != 0;
}

static bool cond_has_waiter(void)
{
    pthread_mutex_lock(&cmu);
    bool w = cwaiting;
    pthread_mutex_unlock(&cmu);
    return w;
}

static void *pool_waiter(void *arg)
{
    (void)arg;
    for (long i = 0; i < n_wakeups; i++) {
        wait_phase(0);
        atomic_store(&phase, 1);
        mgov_bufs_t *b;
        if (mgov_bufpool_alloc(wpool, 1, -1, &b) != MGOV_OK)
            abort();
        atomic_store(&woke_at, mgov__now_ns());
        mgov_bufs_release(b);
        atomic_store(&phase, 2);
    }
    return NULL;
}

static void *cond_waiter(void *arg)
{
    (void)arg;
    for (long i = 0; i < n_wakeups; i++) {
        wait_phase(0);
        atomic_store(&phase, 1);
        pthread_mutex_lock(&cmu);
        cwaiting = true;
        while (!token)
            pthread_cond_wait(&ccond, &cmu);
        token = false;
        cwaiting = false;
        pthread_mutex_unlock(&cmu);
        atomic_store(&woke_at, mgov__now_ns());
        atomic_store(&phase, 2);
    }
    return NULL;
}

static void handoffs(bool use_pool, double *lat)
{
    pthread_t t;
    atomic_store(&phase, 2);
    pthread_create(&t, NULL, use_pool ? pool_waiter : cond_waiter, NULL);
    for (long i = 0; i < n_wakeups; i++) {
        mgov_bufs_t *b = NULL;
        if (use_pool && mgov_bufpool_try_alloc(wpool, 1, &b) != MGOV_OK)
            abort();
        atomic_store(&phase, 0);
        wait_phase(1);
        while (!(use_pool ? pool_has_waiter() : cond_has_waiter()))
            spin_ns(2000); /* do not hammer the lock the waiter needs */
        spin_ns(50000);    /* let it fall asleep */
        atomic_store(&release_at, mgov__now_ns());
        if (use_pool) {
            mgov_bufs_release(b);
        } else {
            pthread_mutex_lock(&cmu);
            token = true;
            pthread_cond_signal(&ccond);
            pthread_mutex_unlock(&cmu);
        }
        wait_phase(2);
        lat[i] = (double)(atomic_load(&woke_at) - atomic_load(&release_at));
    }
    pthread_join(t, NULL);
}

static void wakeups(void)
{
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.buffer_size = 4 * KiB;
    cfg.max_memory = 4 * KiB;
    if (mgov_bufpool_create(&cfg, &wpool) != MGOV_OK)
        abort();
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* as the pool's */
    pthread_cond_init(&ccond, &attr);
    pthread_condattr_destroy(&attr);
    double *lp = calloc((size_t)n_wakeups, sizeof(double));
    double *lc = calloc((size_t)n_wakeups, sizeof(double));
    if (!lp || !lc)
        abort();
    handoffs(true, lp);
    handoffs(false, lc);
    double mp = median(lp, (size_t)n_wakeups), mc = median(lc, (size_t)n_wakeups);
    size_t p90 = (size_t)n_wakeups * 9 / 10; /* median() sorted them */
    printf("release -> return of the blocked waiter's alloc (%ld hand-offs):\n", n_wakeups);
    printf("  %-26s median %8.0f ns   p90 %8.0f ns\n", "pool (cap 1 buffer)", mp, lp[p90]);
    printf("  %-26s median %8.0f ns   p90 %8.0f ns\n", "mutex+condvar baseline", mc, lc[p90]);
    printf("  ratio pool/condvar      %8.2fx\n", mp / mc);
    free(lp);
    free(lc);
    pthread_cond_destroy(&ccond);
    if (mgov_bufpool_destroy(wpool, 0) != MGOV_OK)
        abort();
}

int main(int argc, char **argv)
{
    pairs = argc > 1 ? atol(argv[1]) : 2000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    n_wakeups = argc > 3 ? atol(argv[3]) : 1000;
    if (pairs <= 0 || rounds <= 0 || rounds > 101 || n_wakeups <= 0) {
        fprintf(stderr, "usage: bench_bufpool [pairs-per-round] [rounds<=101] [wakeups]\n");
        return 2;
    }
    mgov_config_t gcfg = MGOV_CONFIG_INIT;
    gcfg.budget = (uint64_t)1 << 30;
    if (mgov_create(&gcfg, &gov) != MGOV_OK)
        return 1;
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.buffer_size = 4 * KiB;
    cfg.max_memory = 64u << 20;
    if (mgov_bufpool_create(&cfg, &pool) != MGOV_OK)
        return 1;
    cfg.flags = MGOV_BUFPOOL_NO_AGE;
    if (mgov_bufpool_create(&cfg, &npool) != MGOV_OK)
        return 1;
    cfg.flags = 0;
    cfg.gov = gov; /* and its own cap as well */
    if (mgov_bufpool_create(&cfg, &gpool) != MGOV_OK)
        return 1;

    static double res[2][N_SUBJ][101];
    for (int r = 0; r < rounds; r++)
        for (int th = 1; th <= 2; th++)
            for (int s = 0; s < N_SUBJ; s++)
                res[th - 1][s][r] = measure(s, th);

    printf("memgov buffer pool benchmark: %ld pairs x %d rounds, median ns per pair per thread\n",
           pairs, rounds);
    for (int th = 1; th <= 2; th++) {
        double med[N_SUBJ];
        for (int s = 0; s < N_SUBJ; s++)
            med[s] = median(res[th - 1][s], (size_t)rounds);
        printf("%d thread%s:\n", th, th > 1 ? "s (same pool)" : "");
        for (int s = 0; s < N_SUBJ; s++) {
            printf("  %-22s %8.2f ns", subj_name[s], med[s]);
            if (baseline_of[s] >= 0)
                printf("   %5.2fx malloc+free%s", med[s] / med[baseline_of[s]],
                       med[s] <= med[baseline_of[s]] ? "" : "   (target <= 1.00x: missed)");
            printf("\n");
        }
    }
    mgov_bufpool_stats_t st;
    mgov_bufpool_stats(pool, &st);
    printf("pool: %llu allocations, %llu from the cache, %llu system allocations\n",
           (unsigned long long)st.allocs, (unsigned long long)st.reuses,
           (unsigned long long)st.sys_allocs);
    wakeups();
    if (mgov_bufpool_destroy(pool, 0) != MGOV_OK || mgov_bufpool_destroy(gpool, 0) != MGOV_OK ||
        mgov_bufpool_destroy(npool, 0) != MGOV_OK)
        return 1;
    if (mgov_used(gov) != 0)
        return 1;
    return mgov_destroy(gov) == MGOV_OK ? 0 : 1;
}
