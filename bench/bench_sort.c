/* bench/bench_sort.c - the in-memory sorting kernels (ops/sort_kernel.h)
 * against glibc qsort on the same data, in one process and interleaved in
 * rounds so machine noise hits both alike (median of the rounds):
 *   fixed random    N x 16-byte records, an 8-byte big-endian random key
 *                   then an 8-byte payload: mgov__sort_fixed against qsort
 *                   with a fair comparator (load both keys, bswap, compare)
 *   fixed 16 keys   the same with keys 0..15: the radix sort skips the
 *                   bits that never vary
 *   text lines      N records "<16 hex digits>\t<decimal number>" (4-byte
 *                   length + bytes, packed), sorted as entries (prefix +
 *                   pointer): mgov__sort_entries_bytes against qsort over
 *                   the same entries comparing the records' bytes, and
 *                   against qsort comparing the cached prefixes first
 * Only the sort call is timed: every round first copies the input into the
 * buffer being sorted.  The kernels get scratch of the input's size; qsort
 * allocates its own (glibc's is a merge sort), and the heap is told to keep
 * it so no round pays page faults for it.  Each result is checked once.
 * Target: fixed random >= 5x faster than qsort.
 *
 * Usage: bench_sort [records] [rounds]   (default 10000000 5)
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "ops/sort_kernel.h"
#include "sys/sys.h"

#define MAX_ROUNDS 51

typedef mgov__sort_entry_t entry_t;

static uint64_t load_be64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
}

/* the fair comparator: two loads, two bswaps, one comparison */
static int cmp_key8(const void *a, const void *b)
{
    uint64_t x = load_be64(a), y = load_be64(b);
    return (x > y) - (x < y);
}

static int cmp_entry_bytes(const void *pa, const void *pb)
{
    const entry_t *a = pa, *b = pb;
    return mgov__sort_bytes_cmp(mgov__sort_rec_data(a->rec), mgov__sort_rec_len(a->rec),
                                mgov__sort_rec_data(b->rec), mgov__sort_rec_len(b->rec));
}

static int cmp_entry_prefix(const void *a, const void *b)
{
    return mgov__sort_entry_cmp(a, b);
}

static double ms_since(uint64_t t0)
{
    return (double)(mgov__now_ns() - t0) / 1e6;
}

static void check_fixed(const unsigned char *r, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t a = load_be64(r + (i - 1) * 16), b = load_be64(r + i * 16);
        uint64_t ia, ib;
        memcpy(&ia, r + (i - 1) * 16 + 8, 8);
        memcpy(&ib, r + i * 16 + 8, 8);
        if (a > b || (a == b && ia > ib)) {
            fprintf(stderr, "bench_sort: fixed result out of order at %zu\n", i);
            exit(1);
        }
    }
}

static void check_entries(const entry_t *e, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (cmp_entry_bytes(&e[i - 1], &e[i]) > 0 ||
            (cmp_entry_bytes(&e[i - 1], &e[i]) == 0 && e[i - 1].rec > e[i].rec)) {
            fprintf(stderr, "bench_sort: entries out of order at %zu\n", i);
            exit(1);
        }
}

/* One fixed case: the medians (ms) of the kernel and of qsort, and their ratio. */
static void bench_fixed(const char *name, const unsigned char *in, size_t n, int rounds)
{
    size_t bytes = n * 16;
    unsigned char *recs = malloc(bytes), *scratch = malloc(bytes);
    if (!recs || !scratch)
        abort();
    memset(scratch, 0, bytes);
    double tk[MAX_ROUNDS], tq[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        memcpy(recs, in, bytes);
        uint64_t t0 = mgov__now_ns();
        unsigned char *out = mgov__sort_fixed(recs, scratch, n, 16, 0, 8, false);
        tk[r] = ms_since(t0);
        if (r == 0)
            check_fixed(out, n);

        memcpy(recs, in, bytes);
        t0 = mgov__now_ns();
        qsort(recs, n, 16, cmp_key8);
        tq[r] = ms_since(t0);
    }
    double k = bench_median(tk, (size_t)rounds), q = bench_median(tq, (size_t)rounds);
    printf("  %-34s %10.1f %10.1f %9.2fx\n", name, q, k, q / k);
    free(recs);
    free(scratch);
}

static void bench_text(size_t n, int rounds)
{
    /* "<16 hex>\t<number>": at most 16 + 1 + 20 bytes */
    unsigned char *buf = malloc(n * (4 + 40));
    entry_t *in = malloc(n * sizeof *in), *e = malloc(n * sizeof *e),
            *scratch = malloc(n * sizeof *e);
    if (!buf || !in || !e || !scratch)
        abort();
    memset(scratch, 0, n * sizeof *e);
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        char line[48];
        uint32_t len = (uint32_t)snprintf(line, sizeof line, "%016llx\t%llu",
                                          (unsigned long long)bench_rng(&rng),
                                          (unsigned long long)(bench_rng(&rng) % 1000000));
        unsigned char *r = buf + used;
        memcpy(r, &len, 4);
        memcpy(r + 4, line, len);
        used += 4 + len;
        in[i].rec = r;
        in[i].prefix = mgov__sort_prefix(line, len);
    }
    double tk[MAX_ROUNDS], tq[MAX_ROUNDS], tp[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        memcpy(e, in, n * sizeof *e);
        uint64_t t0 = mgov__now_ns();
        entry_t *out = mgov__sort_entries_bytes(e, scratch, n, false);
        tk[r] = ms_since(t0);
        if (r == 0)
            check_entries(out, n);

        memcpy(e, in, n * sizeof *e);
        t0 = mgov__now_ns();
        qsort(e, n, sizeof *e, cmp_entry_bytes);
        tq[r] = ms_since(t0);

        memcpy(e, in, n * sizeof *e);
        t0 = mgov__now_ns();
        qsort(e, n, sizeof *e, cmp_entry_prefix);
        tp[r] = ms_since(t0);
    }
    double k = bench_median(tk, (size_t)rounds), q = bench_median(tq, (size_t)rounds),
           p = bench_median(tp, (size_t)rounds);
    printf("  %-34s %10.1f %10.1f %9.2fx\n", "text lines, qsort by bytes", q, k, q / k);
    printf("  %-34s %10.1f %10.1f %9.2fx\n", "text lines, qsort by prefix+bytes", p, k, p / k);
    free(buf);
    free(in);
    free(e);
    free(scratch);
}

int main(int argc, char **argv)
{
    long long nl = argc > 1 ? atoll(argv[1]) : 10000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (nl < 2 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_sort [records>=2] [rounds<=%d]\n", MAX_ROUNDS);
        return 2;
    }
    size_t n = (size_t)nl;
    /* keep qsort's buffer in the heap between calls: no page faults */
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);

    unsigned char *in = malloc(n * 16);
    if (!in)
        abort();
    printf("memgov sort kernels: %zu records, %d rounds, median ms of the sort call\n", n,
           rounds);
    printf("  %-34s %10s %10s %10s\n", "case", "qsort", "kernel", "qsort/it");

    uint64_t rng = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = bench_rng(&rng);
        memcpy(in + i * 16, &k, 8); /* random bytes: the byte order does not matter */
        memcpy(in + i * 16 + 8, &(uint64_t){ i }, 8);
    }
    bench_fixed("fixed 16 B, random 8-byte key", in, n, rounds);

    for (size_t i = 0; i < n; i++) {
        uint64_t k = __builtin_bswap64(bench_rng(&rng) % 16);
        memcpy(in + i * 16, &k, 8);
    }
    bench_fixed("fixed 16 B, 16 distinct keys", in, n, rounds);
    free(in);

    bench_text(n, rounds);
    printf("  (target: fixed random >= 5x)\n");
    return 0;
}
