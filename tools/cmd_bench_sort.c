/* cmd_bench_sort.c - `memgov bench sort`: the external sort's benchmark.
 * N records of 16 bytes, made in this process,
 *
 *   [ key: cli_mix64(i) (splitmix64), big-endian (8) | payload: i, little-endian (8) ]
 *
 * are pushed into a fixed-width sort (key = the first 8 bytes) under a
 * governor with the given budget, then drained.  It reports the wall time
 * (and its three phases: push, the merge passes of finish, output), the
 * bytes the sort spilled (raw and as stored), and the process's peak RSS
 * (getrusage's ru_maxrss) against the budget.  Defaults: 50 million records
 * (800,000,000 bytes) under 256 MiB, the benchmark.
 *
 * The output is checked as it is drained: every key is not below the one
 * before, every record is intact (its key is the hash of its payload), the
 * count is N, and two sums over the payloads (of i, and of a second hash
 * of i) equal the input's, so nothing was lost or duplicated.  splitmix64
 * is a bijection, so keys are distinct and the order is total.  The checks
 * cost a few instructions per record and no memory.
 *
 * A signal (signals.h) stops the push or the drain within SIGNAL_EVERY
 * records; the sort and the governor are destroyed, their spill files
 * with them, and the process ends by the signal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memgov.h>

#include "cli.h"
#include "cli_bench.h"
#include "signals.h"

#define BENCH_RECORDS 50000000ull
#define REC_SIZE 16
#define KEY_SIZE 8
#define SIGNAL_EVERY 0xffff /* records between looks for a signal, less one */

static const char *const phases[CLI_BENCH_PHASES] = { "push", "merge", "output" };

typedef struct bench_result {
    cli_bench_t b;           /* the options, the times, the check's outcome */
    uint64_t records;
    mgov_sort_stats_t st;
    uint64_t peak_rss;
    uint64_t records_out;
} bench_result_t;

/* A second, unrelated hash for the checksum. */
static uint64_t mix2(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static void put_be64(unsigned char *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

/* Payload sums of the input, compared with the output's. */
typedef struct sums {
    uint64_t sum, sum2;              /* of i, and of mix2(i) */
} sums_t;

/* Pushes the N records, summing their payloads.  Returns CLI_EXIT_OK, or
 * CLI_EXIT_FAILURE after a message, or on a signal. */
static int bench_push(const bench_result_t *r, mgov_sort_t *sort, sums_t *in)
{
    unsigned char rec[REC_SIZE];

    for (uint64_t i = 0; i < r->records; i++) {
        put_be64(rec, cli_mix64(i));
        memcpy(rec + KEY_SIZE, &i, 8);
        in->sum += i;
        in->sum2 += mix2(i);
        int rc = mgov_sort_push(sort, rec, REC_SIZE);
        if (rc != MGOV_OK)
            return cli_runtime_error("bench sort", rc, "push of record %" PRIu64, i);
        if ((i & SIGNAL_EVERY) == 0 && cli_signal_pending())
            return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* Drains the sort, checking every record, the count and the sums; a
 * failed check is r->b.ok = false.  Returns as bench_push. */
static int bench_drain(bench_result_t *r, mgov_sort_t *sort, const sums_t *in)
{
    uint64_t n = 0, prev = 0;
    sums_t out = { 0, 0 };
    const void *p;
    size_t len;
    int rc;

    r->b.ok = true;
    while ((rc = mgov_sort_next(sort, &p, &len)) == 1) {
        const unsigned char *q = p;
        uint64_t key = get_be64(q), payload;
        memcpy(&payload, q + KEY_SIZE, 8);
        if (r->b.ok && (len != REC_SIZE || key != cli_mix64(payload) || payload >= r->records)) {
            snprintf(r->b.failure, sizeof r->b.failure,
                     "record %" PRIu64 " of the output is damaged (length %zu, payload %" PRIu64
                     ")", n, len, payload);
            r->b.ok = false;
        }
        if (r->b.ok && n > 0 && key < prev) {
            snprintf(r->b.failure, sizeof r->b.failure,
                     "out of order at record %" PRIu64 ": key %016" PRIx64 " after %016" PRIx64,
                     n, key, prev);
            r->b.ok = false;
        }
        prev = key;
        out.sum += payload;
        out.sum2 += mix2(payload);
        if ((n++ & SIGNAL_EVERY) == 0 && cli_signal_pending())
            return CLI_EXIT_FAILURE;
    }
    if (rc < 0)
        return cli_runtime_error("bench sort", rc, "next, after %" PRIu64 " records", n);
    r->records_out = n;
    if (r->b.ok && n != r->records) {
        snprintf(r->b.failure, sizeof r->b.failure,
                 "%" PRIu64 " records out of %" PRIu64 " in", n, r->records);
        r->b.ok = false;
    }
    if (r->b.ok && (out.sum != in->sum || out.sum2 != in->sum2)) {
        snprintf(r->b.failure, sizeof r->b.failure,
                 "payload checksums differ: records were lost or duplicated");
        r->b.ok = false;
    }
    return CLI_EXIT_OK;
}

/* Runs the benchmark (cli_bench_steps_t's run). */
static int bench_run(void *arg)
{
    bench_result_t *r = arg;
    mgov_t *gov = NULL;
    mgov_sort_t *sort = NULL;
    sums_t in = { 0, 0 };
    int rc, exit_rc = CLI_EXIT_FAILURE;

    uint64_t t[CLI_BENCH_PHASES + 1];
    t[0] = cli_now_ns();
    if (cli_bench_gov_create(&r->b, &gov) != CLI_EXIT_OK)
        return CLI_EXIT_FAILURE;

    mgov_sort_config_t scfg = MGOV_SORT_CONFIG_INIT;
    scfg.gov = gov;
    scfg.name = "bench-sort";
    scfg.timeout_ns = MGOV_SORT_DEFAULT_TIMEOUT_NS; /* memory others give back is waited for */
    scfg.record_size = REC_SIZE;
    scfg.key_size = KEY_SIZE;
    scfg.spill.codec = r->b.codec;
    errno = 0;
    if ((rc = mgov_sort_create(&scfg, &sort)) != MGOV_OK) {
        cli_bench_create_failed(&r->b, rc, errno, "sort");
        goto out;
    }

    if (bench_push(r, sort, &in) != CLI_EXIT_OK)
        goto out;
    t[1] = cli_now_ns();
    if ((rc = mgov_sort_finish(sort)) != MGOV_OK) {
        cli_runtime_error("bench sort", rc, "finish");
        goto out;
    }
    if (cli_signal_pending())
        goto out;
    t[2] = cli_now_ns();
    if (bench_drain(r, sort, &in) != CLI_EXIT_OK)
        goto out;
    t[3] = cli_now_ns();

    mgov_sort_stats(sort, &r->st);
    cli_bench_time(&r->b, t);
    r->peak_rss = cli_peak_rss();
    exit_rc = CLI_EXIT_OK;
out:
    mgov_sort_destroy(sort);
    return cli_bench_gov_destroy(&r->b, gov, exit_rc);
}

static void print_text(const void *arg)
{
    const bench_result_t *r = arg;
    const mgov_sort_stats_t *st = &r->st;
    uint64_t bytes = r->records * REC_SIZE;

    printf("memgov bench sort: %" PRIu64 " records of %d bytes (%s), key %d bytes = hash of i, "
           "payload i\n", r->records, REC_SIZE, cli_size(bytes).s, KEY_SIZE);
    cli_bench_print_budget(&r->b);
    cli_bench_print_time(&r->b, r->records, "records");
    printf("  spilled      %s stored, %s raw (%" PRIu64 " / %" PRIu64 " bytes); %" PRIu64
           " run%s, %u merge pass%s\n", cli_size(st->spilled_stored).s,
           cli_size(st->spilled_raw).s, st->spilled_stored, st->spilled_raw, st->runs,
           st->runs == 1 ? "" : "s", st->merge_passes, st->merge_passes == 1 ? "" : "es");
    if (st->input_runs)
        printf("  input runs   %" PRIu64 " cut while pushing, %s to %s raw\n", st->input_runs,
               cli_size(st->input_run_min).s, cli_size(st->input_run_max).s);
    cli_bench_print_rss(&r->b, r->peak_rss, "");
    cli_bench_print_peak(&r->b, "sort memory", st->memory_peak);
    if (r->b.ok)
        printf("  check        ok: %" PRIu64 " records out, in order, none lost or "
               "duplicated\n", r->records_out);
    else
        printf("  check        FAILED: %s\n", r->b.failure);
}

static void print_json(const void *arg)
{
    const bench_result_t *r = arg;
    const mgov_sort_stats_t *st = &r->st;

    printf("{\"benchmark\": \"sort\", \"records\": %" PRIu64 ", \"record_size\": %d, "
           "\"key_size\": %d, \"budget\": %" PRIu64 ", \"codec\": \"%s\",\n",
           r->records, REC_SIZE, KEY_SIZE, r->b.budget, mgov_codec_name(r->b.codec));
    cli_bench_json_time(&r->b);
    printf(" \"spilled_stored\": %" PRIu64 ", \"spilled_raw\": %" PRIu64 ", \"runs\": %" PRIu64
           ", \"merge_passes\": %u,\n", st->spilled_stored, st->spilled_raw, st->runs,
           st->merge_passes);
    printf(" \"input_runs\": %" PRIu64 ", \"input_run_min\": %" PRIu64
           ", \"input_run_max\": %" PRIu64 ",\n", st->input_runs, st->input_run_min,
           st->input_run_max);
    printf(" \"peak_rss\": %" PRIu64 ", \"peak_rss_pct_of_budget\": %.2f, "
           "\"sort_memory_peak\": %" PRIu64 ",\n", r->peak_rss,
           cli_bench_pct(r->peak_rss, r->b.budget), st->memory_peak);
    printf(" \"records_out\": %" PRIu64 ", ", r->records_out);
    cli_bench_json_end(&r->b);
}

void bench_sort_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov bench sort [--records N] [--memory SIZE] [--compress CODEC]\n"
            "                         [--spill-dir DIR] [--json]\n"
            "\n"
            "Makes N records of 16 bytes in this process (key: a 64-bit hash of i,\n"
            "big-endian, in the first 8 bytes; payload: i in the last 8), sorts them by\n"
            "key with memgov's external sort under a governor with the given budget,\n"
            "and drains the output, checking that it is in order and complete (count\n"
            "and payload checksums).  Prints the wall time (and its phases), the bytes\n"
            "spilled (as stored and raw), and the process's peak RSS against the\n"
            "budget.\n"
            "\n"
            "Options:\n"
            "  -n, --records N        records to sort (default 50000000: 800 MB)\n"
            CLI_BENCH_HELP_MEMORY
            "      --compress CODEC   compress spilled runs: none (default), lz4, zstd\n"
            CLI_BENCH_HELP_REST
            "\n"
            "Exit status: 0 success, 1 the output was not sorted or not complete, or\n"
            "the library failed, 2 bad usage.\n");
}

/* -n N, the records. */
static int bench_option(void *arg, int c, const char *text)
{
    bench_result_t *r = arg;

    (void)c;
    return cli_parse_count("bench sort", "--records", text, 1, UINT64_MAX / REC_SIZE,
                           &r->records);
}

int bench_sort(int argc, char **argv)
{
    static const struct option opts[] = {
        { "records", required_argument, NULL, 'n' },
        CLI_BENCH_LONGOPTS,
    };
    static const cli_bench_def_t def = {
        { "bench sort", bench_sort_help }, ":n:" CLI_BENCH_SHORTOPTS, opts, phases,
        bench_option, bench_run, print_text, print_json,
    };
    bench_result_t r = { .records = BENCH_RECORDS };

    return cli_bench_main(&def, &r.b, &r, argc, argv);
}
