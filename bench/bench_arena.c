/* bench/bench_arena.c - the cost of an arena allocation, and of a reset.
 *
 * Per object, for 16-, 32- and 64-byte objects, in one process and
 * interleaved in rounds so machine noise hits every subject alike:
 *   malloc     N x malloc(size) (first byte written) then N x free
 *   arena      N x mgov_arena_alloc(size) (first byte written) then one reset
 *              (single-threaded mode: the inline bump)
 *   arena-ts   the same in MGOV_ARENA_THREAD_SAFE mode (out of line, CAS)
 * Both arenas charge a governor by chunk (1 MiB chunks).  Two batch sizes:
 *   warm       N = 8192: a batch fits the chunk a reset keeps, so this is the
 *              cost of the allocator itself (the steady state of a query loop)
 *   growing    N = 200000 (3-13 MiB): every round adds chunks and the reset
 *              returns them, so fresh pages are faulted in each round; malloc
 *              reuses its heap.  This is the price of giving memory back.
 * Reports the median ns per object and the ratio malloc / arena (target:
 * >= 20x); and, warm, the arena without writing the objects (the bump
 * alone: a char store into an object may alias the arena's cursor, which
 * the compiler must then reload).
 *
 * Then: reset of an arena holding 1 GiB (1024 chunks of 1 MiB, every page
 * touched), against free() of 1024 malloc'd 1 MiB blocks, also touched.
 *
 * Usage: bench_arena [rounds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memgov.h"
#include "memgov/arena.h"
#include "bench_util.h"
#include "sys/sys.h"

static void **ptrs;

static double run_malloc(size_t size, long n_objs)
{
    uint64_t t0 = mgov__now_ns();
    for (long i = 0; i < n_objs; i++) {
        unsigned char *p = malloc(size);
        if (!p)
            abort();
        p[0] = (unsigned char)i;
        ptrs[i] = p;
    }
    for (long i = 0; i < n_objs; i++)
        free(ptrs[i]);
    return (double)(mgov__now_ns() - t0) / (double)n_objs;
}

static double run_arena(mgov_arena_t *a, size_t size, long n_objs)
{
    uint64_t t0 = mgov__now_ns();
    for (long i = 0; i < n_objs; i++) {
        unsigned char *p = mgov_arena_alloc(a, size, 0);
        if (!p)
            abort();
        p[0] = (unsigned char)i;
        ptrs[i] = p;
    }
    mgov_arena_reset(a);
    return (double)(mgov__now_ns() - t0) / (double)n_objs;
}

/* The same without writing the objects: a caller's char store may alias
 * the arena's cursor, which forces a reload of the cursor after each one;
 * without it the compiler keeps the cursor in a register.  This is the
 * bump itself. */
static double run_arena_unwritten(mgov_arena_t *a, size_t size, long n_objs)
{
    uint64_t t0 = mgov__now_ns();
    for (long i = 0; i < n_objs; i++) {
        void *p = mgov_arena_alloc(a, size, 0);
        if (!p)
            abort();
        ptrs[i] = p;
    }
    mgov_arena_reset(a);
    return (double)(mgov__now_ns() - t0) / (double)n_objs;
}

static double median(double *v, int n)
{
    return bench_median(v, (size_t)n);
}

static mgov_arena_t *arena_new(mgov_t *gov, unsigned flags)
{
    mgov_arena_config_t cfg = MGOV_ARENA_CONFIG_INIT;
    cfg.gov = gov;
    cfg.flags = flags;
    mgov_arena_t *a = NULL;
    if (mgov_arena_create(&cfg, &a) != MGOV_OK)
        abort();
    return a;
}

static void bench_reset(mgov_t *gov, int rounds)
{
    enum { CHUNKS = 1024 };
    const size_t mib = (size_t)1 << 20;
    double t_reset[101], t_free[101];
    void **blocks = malloc(CHUNKS * sizeof *blocks);
    for (int r = 0; r < rounds; r++) {
        mgov_arena_t *a = arena_new(gov, 0);
        /* 512 KiB objects: two per chunk would not fit with the header, so
         * fill each 1 MiB chunk with 1023 objects of 1 KiB */
        while (mgov_arena_reserved(a) < CHUNKS * mib) {
            unsigned char *p = mgov_arena_alloc(a, 1000, 0);
            if (!p)
                abort();
            memset(p, 1, 1000);
        }
        uint64_t t0 = mgov__now_ns();
        mgov_arena_reset(a);
        t_reset[r] = (double)(mgov__now_ns() - t0);
        mgov_arena_destroy(a);

        for (int i = 0; i < CHUNKS; i++) {
            blocks[i] = malloc(mib - 64);
            memset(blocks[i], 1, mib - 64);
        }
        t0 = mgov__now_ns();
        for (int i = 0; i < CHUNKS; i++)
            free(blocks[i]);
        t_free[r] = (double)(mgov__now_ns() - t0);
    }
    free(blocks);
    double mr = median(t_reset, rounds), mf = median(t_free, rounds);
    printf("reset of an arena holding 1 GiB (1024 x 1 MiB chunks, pages touched):\n");
    printf("  mgov_arena_reset          %10.2f ms  (%.1f us per chunk)\n", mr / 1e6,
           mr / 1e3 / CHUNKS);
    printf("  free() of 1024 x 1 MiB    %10.2f ms\n", mf / 1e6);
    printf("  ratio reset/free          %10.2fx\n", mr / mf);
}

/* ns per object over `reps` batches of n */
static double batch(int subj, mgov_arena_t *a, size_t size, long n, int reps)
{
    double total = 0;
    for (int k = 0; k < reps; k++)
        total += subj == 0   ? run_malloc(size, n)
                 : subj == 3 ? run_arena_unwritten(a, size, n)
                             : run_arena(a, size, n);
    return total / reps;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    if (rounds <= 0 || rounds > 101) {
        fprintf(stderr, "usage: bench_arena [rounds<=101]\n");
        return 2;
    }
    enum { WARM = 8192, GROWING = 200000, WARM_REPS = 50 };
    ptrs = malloc(GROWING * sizeof *ptrs);
    mgov_config_t gcfg = MGOV_CONFIG_INIT;
    gcfg.budget = (uint64_t)4 << 30;
    mgov_t *gov = NULL;
    if (!ptrs || mgov_create(&gcfg, &gov) != MGOV_OK)
        return 1;
    mgov_arena_t *arenas[4] = { NULL, arena_new(gov, 0), arena_new(gov, MGOV_ARENA_THREAD_SAFE),
                                NULL };
    arenas[3] = arenas[1];

    static const size_t sizes[] = { 16, 32, 64 };
    static const long batch_n[] = { WARM, GROWING };
    static const int batch_reps[] = { WARM_REPS, 1 };
    static const char *const batch_name[] = { "warm (8192 objects, fits the kept chunk)",
                                              "growing (200000 objects, chunks come and go)" };
    double res[2][3][4][101];
    for (int r = 0; r < rounds; r++)
        for (int b = 0; b < 2; b++)
            for (int s = 0; s < 3; s++)
                for (int subj = 0; subj < (b == 0 ? 4 : 3); subj++)
                    res[b][s][subj][r] =
                        batch(subj, arenas[subj], sizes[s], batch_n[b], batch_reps[b]);
    printf("memgov arena benchmark: %d rounds, median ns per object\n", rounds);
    for (int b = 0; b < 2; b++) {
        printf("%s:\n", batch_name[b]);
        printf("  size  malloc+free    arena  arena-ts   malloc/arena  malloc/arena-ts\n");
        for (int s = 0; s < 3; s++) {
            double m = median(res[b][s][0], rounds), a = median(res[b][s][1], rounds),
                   t = median(res[b][s][2], rounds);
            printf("  %3zu B %10.2f %8.2f %8.2f   %10.1fx %14.1fx\n", sizes[s], m, a, t, m / a,
                   m / t);
        }
    }
    printf("  (target: malloc/arena >= 20x)\n");
    printf("the bump alone (warm, objects not written: the cursor stays in a register):\n");
    for (int s = 0; s < 3; s++) {
        double m = median(res[0][s][0], rounds), u = median(res[0][s][3], rounds);
        printf("  %3zu B %10.2f %8.2f   malloc/arena %6.1fx\n", sizes[s], m, u, m / u);
    }
    mgov_arena_destroy(arenas[1]);
    mgov_arena_destroy(arenas[2]);
    bench_reset(gov, rounds < 5 ? rounds : 5);
    if (mgov_used(gov) != 0)
        return 1;
    free(ptrs);
    return mgov_destroy(gov) == MGOV_OK ? 0 : 1;
}
