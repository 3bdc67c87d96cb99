/* cmd_bench_join.c - `memgov bench join`: the hash join's benchmark.  N
 * build rows and N probe rows, made in this process,
 *
 *   build row i:  key cli_mix64(i) % N,      payload i
 *   probe row i:  key cli_mix64(i + 7) % N,  payload i
 *
 * (keys and payloads 8 bytes each, fixed width), are joined by an inner
 * hash join under a governor with the given budget: the build rows are
 * pushed in vectors of BATCH rows (mgov_hashjoin_build_batch), the probe
 * rows too (mgov_hashjoin_probe_batch, each vector's output drained before
 * the next), then the probe is finished and the rest drained, as an engine
 * feeds a join.  Keys repeat on both sides (about 0.63 N distinct keys per
 * side), so the output is a cross product per key: about N pairs.  It
 * reports the wall time (and its phases: build, probe, rest after
 * probe_finish), the pairs, the bytes spilled, the partitions, levels and
 * chunked pairs, and the process's peak RSS (getrusage's ru_maxrss) at the
 * end of the join against the budget.  Defaults: 20 million rows a side
 * under 256 MiB, the benchmark.
 *
 * The check, independent of the join and after it (the join is destroyed
 * first, and the check's time is reported apart): a sort-merge count under
 * the same governor.  The 2N rows go into one external sort (mgov_sort) as
 * 16-byte records, the key big-endian then the side and the payload; the
 * sorted stream is walked key by key, counting B build and P probe rows
 * and adding f(payload) over the build rows into SB and g(payload) over
 * the probe rows into SP, where f and g are two 64-bit hashes.  The pairs
 * must be the sum of B x P over the keys, and the join's checksum, the sum
 * over its pairs of f(build payload) x g(probe payload) mod 2^64, must be
 * the sum of SB x SP: a pair lost, doubled, or made of rows whose keys
 * differ changes it.
 *
 * A signal (signals.h) stops the join or the check within 16 vectors or
 * SIGNAL_EVERY records; the operators and the governor are destroyed,
 * their spill files with them, and the process ends by the signal.
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

#define BENCH_ROWS 20000000ull
#define KEY_SIZE 8
#define PAYLOAD_SIZE 8
#define BATCH 4096          /* rows per vector */
#define CHECK_REC 16        /* key (8, big-endian), side bit and payload (8, big-endian) */
#define PROBE_BIT ((uint64_t)1 << 63)
#define SIGNAL_EVERY 0xffff /* records between looks for a signal, less one */

static const char *const phases[CLI_BENCH_PHASES] = { "build", "probe", "rest" };

typedef struct bench_result {
    cli_bench_t b;           /* the options, the times, the check's outcome */
    uint64_t rows;
    double secs_check;
    mgov_hashjoin_stats_t st;
    mgov_sort_stats_t check_st;
    uint64_t peak_rss_join;  /* ru_maxrss when the join ended */
    uint64_t peak_rss;       /* at the end of the check */
    uint64_t pairs, sum;     /* from the join */
    uint64_t want_pairs, want_sum, keys; /* from the check */
} bench_result_t;

static uint64_t build_key(uint64_t i, uint64_t n)
{
    return cli_mix64(i) % n;
}

static uint64_t probe_key(uint64_t i, uint64_t n)
{
    return cli_mix64(i + 7) % n;
}

/* The checksum's two hashes of a payload. */
static uint64_t f_build(uint64_t i)
{
    return cli_mix64(2 * i);
}

static uint64_t g_probe(uint64_t i)
{
    return cli_mix64(2 * i + 1);
}

/* Pulls the join's rows until next returns 0, counting the pairs and
 * adding their checksum. */
static int drain(bench_result_t *r, mgov_hashjoin_t *join)
{
    mgov_hashjoin_row_t row;
    uint64_t b, p;
    int rc;

    while ((rc = mgov_hashjoin_next(join, &row)) == 1) {
        if (!row.has_build || !row.has_probe || row.build_len != PAYLOAD_SIZE ||
            row.probe_len != PAYLOAD_SIZE || row.key_len != KEY_SIZE) {
            if (r->b.ok)
                snprintf(r->b.failure, sizeof r->b.failure, "row %" PRIu64 " of the output is not "
                         "a pair of 8-byte payloads with an 8-byte key", r->pairs);
            r->b.ok = false;
            continue;
        }
        memcpy(&b, row.build, 8);
        memcpy(&p, row.probe, 8);
        r->sum += f_build(b) * g_probe(p);
        r->pairs++;
    }
    if (rc < 0)
        return cli_runtime_error("bench join", rc, "next, after %" PRIu64 " pairs", r->pairs);
    return CLI_EXIT_OK;
}

/* The vector of rows i.. of a side (at most BATCH): keys by key_of,
 * payloads the rows' numbers.  Returns how many. */
static size_t batch_fill(const bench_result_t *r, uint64_t i,
                         uint64_t (*key_of)(uint64_t, uint64_t), uint64_t *keys,
                         uint64_t *payloads)
{
    size_t n = r->rows - i < BATCH ? (size_t)(r->rows - i) : BATCH;

    for (size_t x = 0; x < n; x++) {
        keys[x] = key_of(i + x, r->rows);
        payloads[x] = i + x;
    }
    return n;
}

/* The join, timed from start (its governor's creation).  Returns
 * CLI_EXIT_OK, or CLI_EXIT_FAILURE after a message, or on a signal. */
static int bench_join_run(bench_result_t *r, mgov_t *gov, uint64_t start)
{
    static uint64_t keys[BATCH], payloads[BATCH];
    mgov_hashjoin_t *join = NULL;
    uint64_t t[CLI_BENCH_PHASES + 1] = { start };
    int rc, exit_rc = CLI_EXIT_FAILURE;

    mgov_hashjoin_config_t jcfg = MGOV_HASHJOIN_CONFIG_INIT;
    jcfg.gov = gov;
    jcfg.name = "bench-join";
    jcfg.type = MGOV_JOIN_INNER;
    jcfg.key_size = KEY_SIZE;
    jcfg.max_payload = PAYLOAD_SIZE;
    jcfg.timeout_ns = MGOV_HASHJOIN_DEFAULT_TIMEOUT_NS;
    jcfg.spill.codec = r->b.codec;
    errno = 0;
    if ((rc = mgov_hashjoin_create(&jcfg, &join)) != MGOV_OK)
        return cli_bench_create_failed(&r->b, rc, errno, "join");

    for (uint64_t i = 0; i < r->rows; i += BATCH) {
        size_t n = batch_fill(r, i, build_key, keys, payloads);
        if ((rc = mgov_hashjoin_build_batch(join, keys, payloads, PAYLOAD_SIZE, n)) != MGOV_OK) {
            cli_runtime_error("bench join", rc, "build of rows from %" PRIu64, i);
            goto out;
        }
        if (((i / BATCH) & 15) == 0 && cli_signal_pending())
            goto out;
    }
    if ((rc = mgov_hashjoin_build_finish(join)) != MGOV_OK) {
        cli_runtime_error("bench join", rc, "build_finish");
        goto out;
    }
    t[1] = cli_now_ns();

    for (uint64_t i = 0; i < r->rows; i += BATCH) {
        size_t n = batch_fill(r, i, probe_key, keys, payloads);
        if ((rc = mgov_hashjoin_probe_batch(join, keys, payloads, PAYLOAD_SIZE, n)) != MGOV_OK) {
            cli_runtime_error("bench join", rc, "probe of rows from %" PRIu64, i);
            goto out;
        }
        if (drain(r, join) != CLI_EXIT_OK)
            goto out;
        if (((i / BATCH) & 15) == 0 && cli_signal_pending())
            goto out;
    }
    t[2] = cli_now_ns();
    if ((rc = mgov_hashjoin_probe_finish(join)) != MGOV_OK) {
        cli_runtime_error("bench join", rc, "probe_finish");
        goto out;
    }
    if (drain(r, join) != CLI_EXIT_OK || cli_signal_pending())
        goto out;
    t[3] = cli_now_ns();

    mgov_hashjoin_stats(join, &r->st);
    cli_bench_time(&r->b, t);
    r->peak_rss_join = cli_peak_rss();
    exit_rc = CLI_EXIT_OK;
out:
    mgov_hashjoin_destroy(join);
    return exit_rc;
}

static void rec_make(unsigned char *rec, uint64_t key, uint64_t tagged)
{
    for (int b = 0; b < 8; b++) {
        rec[b] = (unsigned char)(key >> (56 - 8 * b));
        rec[8 + b] = (unsigned char)(tagged >> (56 - 8 * b));
    }
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int b = 0; b < 8; b++)
        v = v << 8 | p[b];
    return v;
}

/* The check: a sort-merge count of the pairs and their checksum (see the
 * top of the file), under the same governor.  Returns as bench_join_run. */
static int bench_check(bench_result_t *r, mgov_t *gov)
{
    mgov_sort_t *sort = NULL;
    unsigned char rec[CHECK_REC];
    int rc, exit_rc = CLI_EXIT_FAILURE;
    uint64_t t0 = cli_now_ns();

    mgov_sort_config_t scfg = MGOV_SORT_CONFIG_INIT;
    scfg.gov = gov;
    scfg.name = "bench-join-check";
    scfg.record_size = CHECK_REC;
    scfg.key_size = KEY_SIZE; /* the key; the order within a key does not matter */
    scfg.timeout_ns = MGOV_SORT_DEFAULT_TIMEOUT_NS;
    scfg.spill.codec = r->b.codec;
    if ((rc = mgov_sort_create(&scfg, &sort)) != MGOV_OK)
        return cli_runtime_error("bench join", rc, "cannot create the check's sort");

    for (uint64_t i = 0; i < 2 * r->rows; i++) {
        bool probe = i >= r->rows;
        uint64_t row = probe ? i - r->rows : i;
        rec_make(rec, probe ? probe_key(row, r->rows) : build_key(row, r->rows),
                 row | (probe ? PROBE_BIT : 0));
        if ((rc = mgov_sort_push(sort, rec, CHECK_REC)) != MGOV_OK) {
            cli_runtime_error("bench join", rc, "the check's sort, push");
            goto out;
        }
        if ((i & SIGNAL_EVERY) == 0 && cli_signal_pending())
            goto out;
    }
    if ((rc = mgov_sort_finish(sort)) != MGOV_OK) {
        cli_runtime_error("bench join", rc, "the check's sort, finish");
        goto out;
    }

    const void *p;
    size_t len;
    uint64_t key = 0, nb = 0, np = 0, sb = 0, sp = 0, n = 0;
    bool any = false;
    while ((rc = mgov_sort_next(sort, &p, &len)) == 1) {
        uint64_t k = be64(p), tagged = be64((const unsigned char *)p + 8);
        if (any && k != key) {
            r->want_pairs += nb * np;
            r->want_sum += sb * sp;
            r->keys++;
            nb = np = sb = sp = 0;
        }
        if (any && k < key) {
            snprintf(r->b.failure, sizeof r->b.failure, "the check's sort is out of order at "
                     "record %" PRIu64, n);
            r->b.ok = false;
        }
        any = true;
        key = k;
        if (tagged & PROBE_BIT) {
            np++;
            sp += g_probe(tagged & ~PROBE_BIT);
        } else {
            nb++;
            sb += f_build(tagged);
        }
        if ((n++ & SIGNAL_EVERY) == 0 && cli_signal_pending())
            goto out;
    }
    if (rc < 0) {
        cli_runtime_error("bench join", rc, "the check's sort, next");
        goto out;
    }
    if (any) {
        r->want_pairs += nb * np;
        r->want_sum += sb * sp;
        r->keys++;
    }
    if (r->b.ok && n != 2 * r->rows) {
        snprintf(r->b.failure, sizeof r->b.failure, "the check's sort returned %" PRIu64 " of %"
                 PRIu64 " records", n, 2 * r->rows);
        r->b.ok = false;
    }
    if (r->b.ok && r->pairs != r->want_pairs) {
        snprintf(r->b.failure, sizeof r->b.failure, "the join returned %" PRIu64 " pairs, the "
                 "sort-merge count is %" PRIu64, r->pairs, r->want_pairs);
        r->b.ok = false;
    }
    if (r->b.ok && r->sum != r->want_sum) {
        snprintf(r->b.failure, sizeof r->b.failure, "the pairs' checksum is %016" PRIx64 ", the "
                 "sort-merge's %016" PRIx64 ": pairs lost, doubled or mismatched", r->sum,
                 r->want_sum);
        r->b.ok = false;
    }
    mgov_sort_stats(sort, &r->check_st);
    r->secs_check = cli_secs(t0, cli_now_ns());
    exit_rc = CLI_EXIT_OK;
out:
    mgov_sort_destroy(sort);
    return exit_rc;
}

/* Runs the benchmark (cli_bench_steps_t's run). */
static int bench_run(void *arg)
{
    bench_result_t *r = arg;
    mgov_t *gov = NULL;
    int exit_rc = CLI_EXIT_FAILURE;

    uint64_t t0 = cli_now_ns();
    if (cli_bench_gov_create(&r->b, &gov) != CLI_EXIT_OK)
        return CLI_EXIT_FAILURE;
    r->b.ok = true;
    if (bench_join_run(r, gov, t0) == CLI_EXIT_OK && !cli_signal_pending() &&
        bench_check(r, gov) == CLI_EXIT_OK) {
        r->peak_rss = cli_peak_rss();
        exit_rc = CLI_EXIT_OK;
    }
    return cli_bench_gov_destroy(&r->b, gov, exit_rc);
}

static void print_text(const void *arg)
{
    const bench_result_t *r = arg;
    const mgov_hashjoin_stats_t *st = &r->st;

    printf("memgov bench join: %" PRIu64 " build and %" PRIu64 " probe rows: key 8 bytes = hash "
           "of i (probe: of i+7) mod %" PRIu64 ", payload i; inner join\n", r->rows, r->rows,
           r->rows);
    cli_bench_print_budget(&r->b);
    cli_bench_print_time(&r->b, 2 * r->rows, "rows");
    printf("  pairs        %" PRIu64 "\n", r->pairs);
    printf("  spilled      %s stored, %s raw (%" PRIu64 " / %" PRIu64 " bytes); %" PRIu64
           " partition%s spilled, %" PRIu64 " file%s, %u level%s of %u partitions, %" PRIu64
           " chunked pair%s (%" PRIu64 " chunks)\n", cli_size(st->spilled_stored).s,
           cli_size(st->spilled_raw).s, st->spilled_stored, st->spilled_raw,
           st->partitions_spilled, st->partitions_spilled == 1 ? "" : "s", st->files,
           st->files == 1 ? "" : "s", st->levels, st->levels == 1 ? "" : "s", st->partitions,
           st->chunked, st->chunked == 1 ? "" : "s", st->chunks);
    cli_bench_print_rss(&r->b, r->peak_rss_join, " at the end of the join");
    cli_bench_print_peak(&r->b, "join memory", st->memory_peak);
    if (r->b.ok)
        printf("  check        ok: %" PRIu64 " pairs over %" PRIu64 " keys and their checksum, "
               "as a sort-merge count finds them (%.2f s, sort spilled %s, peak RSS %s)\n",
               r->want_pairs, r->keys, r->secs_check, cli_size(r->check_st.spilled_stored).s,
               cli_size(r->peak_rss).s);
    else
        printf("  check        FAILED: %s\n", r->b.failure);
    printf("  note         outside the budget: the vectors of %d keys and payloads (%s); the "
           "check runs after the join is destroyed, under the same budget\n", BATCH,
           cli_size(2 * BATCH * 8).s);
}

static void print_json(const void *arg)
{
    const bench_result_t *r = arg;
    const mgov_hashjoin_stats_t *st = &r->st;

    printf("{\"benchmark\": \"join\", \"rows\": %" PRIu64 ", \"key_size\": %d, \"payload_size\": "
           "%d, \"budget\": %" PRIu64 ", \"codec\": \"%s\",\n", r->rows, KEY_SIZE, PAYLOAD_SIZE,
           r->b.budget, mgov_codec_name(r->b.codec));
    cli_bench_json_time(&r->b);
    printf(" \"pairs\": %" PRIu64 ",\n", r->pairs);
    printf(" \"spilled_stored\": %" PRIu64 ", \"spilled_raw\": %" PRIu64
           ", \"partitions_spilled\": %" PRIu64 ", \"files\": %" PRIu64 ", \"levels\": %u, "
           "\"partitions\": %u, \"chunked\": %" PRIu64 ", \"chunks\": %" PRIu64 ",\n",
           st->spilled_stored, st->spilled_raw, st->partitions_spilled, st->files, st->levels,
           st->partitions, st->chunked, st->chunks);
    printf(" \"peak_rss\": %" PRIu64 ", \"peak_rss_pct_of_budget\": %.2f, "
           "\"join_memory_peak\": %" PRIu64 ",\n", r->peak_rss_join,
           cli_bench_pct(r->peak_rss_join, r->b.budget), st->memory_peak);
    printf(" \"check_pairs\": %" PRIu64 ", \"check_keys\": %" PRIu64 ", \"check_seconds\": %.3f, "
           "\"check_spilled\": %" PRIu64 ", \"peak_rss_with_check\": %" PRIu64 ",\n",
           r->want_pairs, r->keys, r->secs_check, r->check_st.spilled_stored, r->peak_rss);
    printf(" ");
    cli_bench_json_end(&r->b);
}

void bench_join_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov bench join [--rows N] [--memory SIZE] [--compress CODEC]\n"
            "                         [--spill-dir DIR] [--json]\n"
            "\n"
            "Makes N build rows (row i: key = a 64-bit hash of i modulo N, as an 8-byte\n"
            "key; payload = i) and N probe rows (key = the hash of i+7 modulo N;\n"
            "payload = i) in this process, joins them with memgov's hash join (inner)\n"
            "under a governor with the given budget, fed in vectors of %d rows, and\n"
            "counts the pairs.  Then it checks them: a sort-merge count with memgov's\n"
            "external sort under the same budget must find as many pairs, and the same\n"
            "checksum over their payloads.  Prints the wall time (and its phases), the\n"
            "pairs, the bytes spilled, and the process's peak RSS against the budget.\n"
            "\n"
            "Options:\n"
            "  -n, --rows N           rows a side (default 20000000)\n"
            CLI_BENCH_HELP_MEMORY
            "      --compress CODEC   compress spill files: none (default), lz4, zstd\n"
            CLI_BENCH_HELP_REST
            "\n"
            "Exit status: 0 success, 1 the pairs failed the check, or the library\n"
            "failed, 2 bad usage.\n", BATCH);
}

/* -n N, below 2^32 rows: the pairs are at most N^2, counted in 64 bits. */
static int bench_option(void *arg, int c, const char *text)
{
    bench_result_t *r = arg;

    (void)c;
    return cli_parse_count("bench join", "--rows", text, 1, UINT32_MAX, &r->rows);
}

int bench_join(int argc, char **argv)
{
    static const struct option opts[] = {
        { "rows", required_argument, NULL, 'n' },
        CLI_BENCH_LONGOPTS,
    };
    static const cli_bench_def_t def = {
        { "bench join", bench_join_help }, ":n:" CLI_BENCH_SHORTOPTS, opts, phases,
        bench_option, bench_run, print_text, print_json,
    };
    bench_result_t r = { .rows = BENCH_ROWS };

    return cli_bench_main(&def, &r.b, &r, argc, argv);
}
