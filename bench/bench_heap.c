/* bench/bench_heap.c - the cost of a heap allocation, and whether RSS
 * follows the governor's count after churn.
 *
 * Part 1: malloc + free of 16, 64 and 256 bytes (each block written once),
 * 1 and 2 threads, subjects interleaved in rounds (median of the rounds):
 *   glibc      malloc + free (the host's allocator)
 *   je         mgov__je_malloc + mgov__je_free: jemalloc used directly, its
 *              fast path (the thread's automatic tcache, automatic arenas)
 *   je arena   mgov__je_mallocx + mgov__je_sdallocx with MALLOCX_ARENA(a) |
 *              MALLOCX_TCACHE(t): jemalloc used directly the way a heap must
 *              (an arena of its own, one explicit tcache per thread)
 *   heap       mgov_heap_malloc + mgov_heap_free (one heap, both threads)
 *   heap szd   mgov_heap_malloc + mgov_heap_free_sized (no size lookup)
 * Two patterns: a pair (malloc, then free at once) and a batch (64
 * mallocs, then their 64 frees).  Targets: heap <= 1.5x glibc and
 * <= 1.2x bare jemalloc.
 *
 * Part 2 (churn): a heap (default settings) charging a 4 GiB governor
 * keeps a live set of 256 MiB of small blocks (16..256 bytes), then,
 * churn-rounds times, allocates 1 GiB more of such blocks and frees them
 * all; then asks the governor to reclaim (mgov_reclaim at MODERATE: the
 * heap's consumer gives its slack back and returns free pages).  Blocks
 * are chained through their first word, so every byte the test holds is a
 * heap block.  Reports RSS and the governor's count before and after;
 * target: RSS after reclaim within 5% of the count.
 *
 * Usage: bench_heap [pairs-per-round] [rounds] [churn-rounds]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/je.h"
#include "bench_util.h"
#include "memgov.h"
#include "sys/sys.h"

#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define BATCH 64

enum { S_GLIBC, S_JE, S_JEX, S_HEAP, S_HEAP_SIZED, N_SUBJ };

static long pairs;
static size_t size;
static int subject, batch;
static mgov_heap_t *heap;
static unsigned arena;
static void *volatile sink;

static void loop(void *arg)
{
    (void)arg;
    int tflags = 0;
    unsigned tc = 0;
    if (subject == S_JEX) { /* this thread's own explicit tcache */
        size_t sz = sizeof tc;
        if (mgov__je_mallctl("tcache.create", &tc, &sz, NULL, 0) != 0)
            abort();
        tflags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE(tc);
    }
    void *v[BATCH];
    long rounds = batch ? pairs / BATCH : pairs;
    int n = batch ? BATCH : 1;
    for (long i = 0; i < rounds; i++) {
        switch (subject) {
        case S_GLIBC:
            for (int k = 0; k < n; k++) {
                v[k] = malloc(size);
                *(volatile char *)v[k] = 1;
            }
            for (int k = 0; k < n; k++)
                free(v[k]);
            break;
        case S_JE:
            for (int k = 0; k < n; k++) {
                v[k] = mgov__je_malloc(size);
                *(volatile char *)v[k] = 1;
            }
            for (int k = 0; k < n; k++)
                mgov__je_free(v[k]);
            break;
        case S_JEX:
            for (int k = 0; k < n; k++) {
                v[k] = mgov__je_mallocx(size, tflags);
                *(volatile char *)v[k] = 1;
            }
            for (int k = 0; k < n; k++)
                mgov__je_sdallocx(v[k], size, tflags);
            break;
        case S_HEAP:
            for (int k = 0; k < n; k++) {
                v[k] = mgov_heap_malloc(heap, size);
                *(volatile char *)v[k] = 1;
            }
            for (int k = 0; k < n; k++)
                mgov_heap_free(heap, v[k]);
            break;
        case S_HEAP_SIZED:
            for (int k = 0; k < n; k++) {
                v[k] = mgov_heap_malloc(heap, size);
                *(volatile char *)v[k] = 1;
            }
            for (int k = 0; k < n; k++)
                mgov_heap_free_sized(heap, v[k], size);
            break;
        }
    }
    sink = v[0];
    if (subject == S_JEX)
        mgov__je_mallctl("tcache.destroy", NULL, NULL, &tc, sizeof tc);
}

static void part_speed(long pairs_per_round, int rounds)
{
    static const size_t sizes[] = { 16, 64, 256 };
    pairs = pairs_per_round;
    printf("malloc+free, ns per pair (median of %d rounds of %ld pairs per thread)\n", rounds,
           pairs);
    printf("%-7s %-5s %7s | %8s %8s %8s %8s %8s | %9s %9s %9s | %9s %9s\n", "pattern", "size",
           "threads", "glibc", "je", "je arena", "heap", "heap szd", "heap/glibc", "heap/je",
           "heap/je-ar", "szd/glibc", "szd/je-ar");
    for (batch = 0; batch <= 1; batch++)
        for (int threads = 1; threads <= 2; threads++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                size = sizes[si];
                double t[N_SUBJ][64];
                for (int r = 0; r < rounds; r++)
                    for (int s = 0; s < N_SUBJ; s++) {
                        subject = (s + r) % N_SUBJ; /* rotate who goes first */
                        uint64_t ns = bench_threads_ns(loop, NULL, threads);
                        t[subject][r] = (double)ns / (double)pairs;
                    }
                double m[N_SUBJ];
                for (int s = 0; s < N_SUBJ; s++)
                    m[s] = bench_median(t[s], (size_t)rounds);
                printf("%-7s %-5zu %7d | %8.2f %8.2f %8.2f %8.2f %8.2f | %8.2fx %8.2fx %8.2fx | "
                       "%8.2fx %8.2fx\n",
                       batch ? "batch64" : "pair", size, threads, m[S_GLIBC], m[S_JE], m[S_JEX],
                       m[S_HEAP], m[S_HEAP_SIZED], m[S_HEAP] / m[S_GLIBC], m[S_HEAP] / m[S_JE],
                       m[S_HEAP] / m[S_JEX], m[S_HEAP_SIZED] / m[S_GLIBC],
                       m[S_HEAP_SIZED] / m[S_JEX]);
            }
}

/* ------------------------------------------------------------ churn */

/* Allocates `bytes` in blocks of 16..256 bytes, chained through their
 * first word (no array on the side: every byte held is a heap block);
 * returns the chain. */
static void *alloc_chain(mgov_heap_t *h, uint64_t bytes, size_t *count, uint64_t *seed)
{
    void *head = NULL;
    uint64_t got = 0;
    size_t n = 0;
    while (got < bytes) {
        size_t sz = 16 + (size_t)(bench_rng(seed) % 241);
        void **p = mgov_heap_malloc(h, sz);
        if (!p)
            abort();
        memset(p, (int)n, sz);
        *p = head;
        head = p;
        got += sz;
        n++;
    }
    *count = n;
    return head;
}

static void free_chain(mgov_heap_t *h, void *head)
{
    while (head) {
        void *next = *(void **)head;
        mgov_heap_free(h, head);
        head = next;
    }
}

static void part_churn(int rounds)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 4 * GiB;
    mgov_t *gov = NULL;
    if (mgov_create(&cfg, &gov) != MGOV_OK)
        abort();
    mgov_heap_config_t hc = MGOV_HEAP_CONFIG_INIT; /* the defaults: decay 1 s */
    hc.gov = gov;
    mgov_heap_t *h = NULL;
    if (mgov_heap_create(&hc, &h) != MGOV_OK)
        abort();
    uint64_t seed = 12345, rss0 = mgov_rss_now();
    uint64_t t0 = mgov__now_ns();
    size_t n_live, n;
    void *live = alloc_chain(h, 256 * MiB, &n_live, &seed);
    for (int r = 0; r < rounds; r++)
        free_chain(h, alloc_chain(h, 1 * GiB, &n, &seed));
    uint64_t took = mgov__now_ns() - t0;
    mgov_heap_stats_t st;
    mgov_heap_stats(h, &st);
    uint64_t rss1 = mgov_rss_now(), count1 = mgov_used(gov);
    uint64_t r0 = mgov__now_ns();
    mgov_reclaim(gov, 1, MGOV_PRESSURE_MODERATE);
    uint64_t reclaim_ns = mgov__now_ns() - r0;
    uint64_t rss2 = mgov_rss_now(), count2 = mgov_used(gov);
    mgov_heap_stats_t st2;
    mgov_heap_stats(h, &st2);
    printf("\nchurn: live set 256 MiB (%zu blocks of 16..256 bytes), then %d x (1 GiB more in "
           "such blocks, allocated then freed) in %.2f s\n",
           n_live, rounds, (double)took / 1e9);
    printf("  RSS at start %.1f MiB\n", (double)rss0 / MiB);
    printf("  before reclaim: RSS %.1f MiB, governor count %.1f MiB (heap: allocated %.1f, "
           "resident %.1f, dirty %.1f MiB)\n",
           (double)rss1 / MiB, (double)count1 / MiB, (double)st.allocated / MiB,
           (double)st.resident / MiB, (double)st.dirty / MiB);
    printf("  after reclaim (%.1f ms): RSS %.1f MiB, governor count %.1f MiB (heap: allocated "
           "%.1f, resident %.1f, dirty %.1f MiB)\n",
           (double)reclaim_ns / 1e6, (double)rss2 / MiB, (double)count2 / MiB,
           (double)st2.allocated / MiB, (double)st2.resident / MiB, (double)st2.dirty / MiB);
    printf("  RSS / count = %.4f; (RSS - RSS at start) / count = %.4f  (target: within 5%%)\n",
           (double)rss2 / (double)count2, (double)(rss2 - rss0) / (double)count2);
    free_chain(h, live);
    mgov_heap_destroy(h);
    mgov_destroy(gov);
}

int main(int argc, char **argv)
{
    long pairs_per_round = argc > 1 ? atol(argv[1]) : 2000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    int churn = argc > 3 ? atoi(argv[3]) : 4;
    if (pairs_per_round < BATCH || rounds < 1 || rounds > 64 || churn < 0) {
        fprintf(stderr, "usage: bench_heap [pairs-per-round] [rounds<=64] [churn-rounds]\n");
        return 2;
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1 * GiB;
    mgov_t *gov = NULL;
    mgov_heap_config_t hc = MGOV_HEAP_CONFIG_INIT;
    size_t sz = sizeof arena;
    if (mgov_create(&cfg, &gov) != MGOV_OK || !(hc.gov = gov) ||
        mgov_heap_create(&hc, &heap) != MGOV_OK ||
        mgov__je_mallctl("arenas.create", &arena, &sz, NULL, 0) != 0) {
        fprintf(stderr, "bench_heap: setup failed\n");
        return 1;
    }
    part_speed(pairs_per_round, rounds);
    mgov_heap_destroy(heap);
    mgov_destroy(gov);
    if (churn)
        part_churn(churn);
    return 0;
}
