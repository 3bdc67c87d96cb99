/* cmd_bench_agg.c - `memgov bench agg`: the hash aggregation's benchmark.
 * N rows, made in this process, row i being
 *
 *   key:   cli_mix64(i) % G (splitmix64), as an 8-byte fixed-width key
 *   value: i
 *
 * are pushed into a hash aggregation (GROUP BY key, SUM_I64 of value)
 * under a governor with the given budget, then drained.  It reports the
 * wall time (and its phases: push, finish, output), the groups out, the
 * bytes spilled, and the process's peak RSS (getrusage's ru_maxrss)
 * against the budget.  Defaults: 50 million rows into 5 million groups
 * under 256 MiB, the benchmark.
 *
 * The check, independent of the operator: before the timed run a bitmap
 * of G bits (G / 8 bytes, malloc'd outside the governor; it counts in
 * the peak RSS, not in the budget) marks every key mix(i) % G for i < N,
 * giving the number of distinct keys.  While draining, each group's key
 * must be below G and marked, and is unmarked (so a key that comes twice
 * is caught), its sum must not be flagged as overflowing and must be at
 * most N(N-1)/2, and the sums are added in 128 bits.  At the end the
 * groups must number the distinct keys, and the sum of the sums must be
 * N(N-1)/2 exactly: a row lost or counted twice changes it.
 *
 * A signal (signals.h) stops the push or the drain within SIGNAL_EVERY
 * rows or groups; the aggregation and the governor are destroyed, their
 * spill files with them, and the process ends by the signal.
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

#define BENCH_ROWS 50000000ull
#define BENCH_GROUPS 5000000ull
#define KEY_SIZE 8
#define SIGNAL_EVERY 0xffff /* rows or groups between looks for a signal, less one */

static const char *const phases[CLI_BENCH_PHASES] = { "push", "finish", "output" };

typedef struct bench_result {
    cli_bench_t b;           /* the options, the times, the check's outcome */
    uint64_t rows, groups;
    mgov_hashagg_stats_t st;
    uint64_t peak_rss;
    uint64_t distinct;       /* keys the rows have, from the bitmap */
    uint64_t groups_out;
} bench_result_t;

static uint64_t row_key(uint64_t i, uint64_t groups)
{
    return cli_mix64(i) % groups;
}

/* Marks the keys of the N rows in `seen` (G bits); returns how many are
 * distinct. */
static uint64_t keys_mark(const bench_result_t *r, uint64_t *seen)
{
    uint64_t distinct = 0;

    for (uint64_t i = 0; i < r->rows; i++) {
        uint64_t k = row_key(i, r->groups), bit = (uint64_t)1 << (k & 63);
        distinct += (seen[k >> 6] & bit) == 0;
        seen[k >> 6] |= bit;
    }
    return distinct;
}

/* Pushes the N rows, a vector of PUSH_BATCH at a time (as an engine feeds
 * it: mgov_hashagg_push_batch).  Returns CLI_EXIT_OK, or CLI_EXIT_FAILURE
 * after a message, or on a signal. */
#define PUSH_BATCH 4096
static int bench_push(const bench_result_t *r, mgov_hashagg_t *agg)
{
    static uint64_t keys[PUSH_BATCH];
    static mgov_value_t vals[PUSH_BATCH];
    for (uint64_t i = 0; i < r->rows; i += PUSH_BATCH) {
        size_t n = r->rows - i < PUSH_BATCH ? (size_t)(r->rows - i) : PUSH_BATCH;
        for (size_t x = 0; x < n; x++) {
            keys[x] = row_key(i + x, r->groups);
            vals[x].i64 = (int64_t)(i + x);
        }
        int rc = mgov_hashagg_push_batch(agg, keys, vals, n);
        if (rc != MGOV_OK)
            return cli_runtime_error("bench agg", rc, "push of rows from %" PRIu64, i);
        if (((i / PUSH_BATCH) & 15) == 0 && cli_signal_pending())
            return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* Drains the aggregation, checking every group against `seen` (the
 * bitmap keys_mark made; each key found is unmarked) and the totals; a
 * failed check is r->b.ok = false.  Returns as bench_push. */
static int bench_drain(bench_result_t *r, mgov_hashagg_t *agg, uint64_t *seen)
{
    unsigned __int128 total = 0, want = (unsigned __int128)r->rows * (r->rows - 1) / 2;
    mgov_hashagg_group_t g;
    uint64_t n = 0;
    int rc;

    r->b.ok = true;
    while ((rc = mgov_hashagg_next(agg, &g)) == 1) {
        uint64_t key = 0;
        if (g.key_len == KEY_SIZE)
            memcpy(&key, g.key, KEY_SIZE);
        int64_t sum = g.values[0].i64;
        if (r->b.ok && (g.key_len != KEY_SIZE || key >= r->groups ||
                      !(seen[key >> 6] >> (key & 63) & 1u))) {
            snprintf(r->b.failure, sizeof r->b.failure, "group %" PRIu64 " of the output has key %"
                     PRIu64 " (length %zu), not one of the rows' or already out", n, key,
                     g.key_len);
            r->b.ok = false;
        }
        if (r->b.ok && (g.overflow != 0 || sum < 0 || (unsigned __int128)sum > want)) {
            snprintf(r->b.failure, sizeof r->b.failure, "group %" PRIu64 " (key %" PRIu64 ") has "
                     "sum %" PRId64 "%s", n, key, sum, g.overflow ? ", flagged as overflowing" :
                     ", out of range");
            r->b.ok = false;
        }
        if (key < r->groups)
            seen[key >> 6] &= ~((uint64_t)1 << (key & 63));
        total += (unsigned __int128)(uint64_t)sum;
        if ((n++ & SIGNAL_EVERY) == 0 && cli_signal_pending())
            return CLI_EXIT_FAILURE;
    }
    if (rc < 0)
        return cli_runtime_error("bench agg", rc, "next, after %" PRIu64 " groups", n);
    r->groups_out = n;
    if (r->b.ok && n != r->distinct) {
        snprintf(r->b.failure, sizeof r->b.failure, "%" PRIu64 " groups out, for %" PRIu64
                 " distinct keys", n, r->distinct);
        r->b.ok = false;
    }
    if (r->b.ok && total != want) {
        snprintf(r->b.failure, sizeof r->b.failure, "the sums add up to %.17g, not rows*(rows-1)/2 "
                 "= %.17g: rows were lost or counted twice", (double)total, (double)want);
        r->b.ok = false;
    }
    return CLI_EXIT_OK;
}

/* Runs the benchmark (cli_bench_steps_t's run). */
static int bench_run(void *arg)
{
    bench_result_t *r = arg;
    mgov_t *gov = NULL;
    mgov_hashagg_t *agg = NULL;
    int rc, exit_rc = CLI_EXIT_FAILURE;

    uint64_t *seen = calloc((r->groups + 63) / 64, sizeof *seen);
    if (seen == NULL)
        return cli_error("bench agg", "no memory for the check's bitmap of %" PRIu64 " bits",
                         r->groups);
    r->distinct = keys_mark(r, seen);

    uint64_t t[CLI_BENCH_PHASES + 1];
    t[0] = cli_now_ns();
    if (cli_bench_gov_create(&r->b, &gov) != CLI_EXIT_OK) {
        free(seen);
        return CLI_EXIT_FAILURE;
    }

    static const mgov_agg_spec_t sum = { MGOV_AGG_SUM_I64, 0, NULL };
    mgov_hashagg_config_t acfg = MGOV_HASHAGG_CONFIG_INIT;
    acfg.gov = gov;
    acfg.name = "bench-agg";
    acfg.key_size = KEY_SIZE;
    acfg.n_inputs = 1;
    acfg.aggs = &sum;
    acfg.n_aggs = 1;
    acfg.timeout_ns = MGOV_HASHAGG_DEFAULT_TIMEOUT_NS;
    acfg.spill.codec = r->b.codec;
    errno = 0;
    if ((rc = mgov_hashagg_create(&acfg, &agg)) != MGOV_OK) {
        cli_bench_create_failed(&r->b, rc, errno, "aggregation");
        goto out;
    }

    if (bench_push(r, agg) != CLI_EXIT_OK)
        goto out;
    t[1] = cli_now_ns();
    if ((rc = mgov_hashagg_finish(agg)) != MGOV_OK) {
        cli_runtime_error("bench agg", rc, "finish");
        goto out;
    }
    if (cli_signal_pending())
        goto out;
    t[2] = cli_now_ns();
    if (bench_drain(r, agg, seen) != CLI_EXIT_OK)
        goto out;
    t[3] = cli_now_ns();

    mgov_hashagg_stats(agg, &r->st);
    cli_bench_time(&r->b, t);
    r->peak_rss = cli_peak_rss();
    exit_rc = CLI_EXIT_OK;
out:
    mgov_hashagg_destroy(agg);
    exit_rc = cli_bench_gov_destroy(&r->b, gov, exit_rc);
    free(seen);
    return exit_rc;
}

static void print_text(const void *arg)
{
    const bench_result_t *r = arg;
    const mgov_hashagg_stats_t *st = &r->st;

    printf("memgov bench agg: %" PRIu64 " rows into %" PRIu64 " groups: key %d bytes = hash "
           "of i mod %" PRIu64 ", value i; sum per group\n", r->rows, r->groups, KEY_SIZE,
           r->groups);
    cli_bench_print_budget(&r->b);
    cli_bench_print_time(&r->b, r->rows, "rows");
    printf("  groups out   %" PRIu64 "\n", r->groups_out);
    printf("  spilled      %s stored, %s raw (%" PRIu64 " / %" PRIu64 " bytes); %" PRIu64
           " partition%s spilled, %" PRIu64 " file%s, %u level%s of %u partitions, %" PRIu64
           " sort fallback%s\n", cli_size(st->spilled_stored).s, cli_size(st->spilled_raw).s,
           st->spilled_stored, st->spilled_raw, st->partitions_spilled,
           st->partitions_spilled == 1 ? "" : "s", st->files, st->files == 1 ? "" : "s",
           st->levels, st->levels == 1 ? "" : "s", st->partitions, st->sort_fallbacks,
           st->sort_fallbacks == 1 ? "" : "s");
    cli_bench_print_rss(&r->b, r->peak_rss, "");
    cli_bench_print_peak(&r->b, "agg memory", st->memory_peak);
    if (r->b.ok)
        printf("  check        ok: %" PRIu64 " groups, one per distinct key; the sums add up "
               "to rows*(rows-1)/2; none overflows\n", r->groups_out);
    else
        printf("  check        FAILED: %s\n", r->b.failure);
    printf("  note         the check's bitmap of %" PRIu64 " bits (%s) is outside the budget; "
           "the peak RSS counts it\n", r->groups, cli_size((r->groups + 63) / 64 * 8).s);
}

static void print_json(const void *arg)
{
    const bench_result_t *r = arg;
    const mgov_hashagg_stats_t *st = &r->st;

    printf("{\"benchmark\": \"agg\", \"rows\": %" PRIu64 ", \"groups\": %" PRIu64
           ", \"key_size\": %d, \"budget\": %" PRIu64 ", \"codec\": \"%s\",\n", r->rows,
           r->groups, KEY_SIZE, r->b.budget, mgov_codec_name(r->b.codec));
    cli_bench_json_time(&r->b);
    printf(" \"groups_out\": %" PRIu64 ", \"distinct_keys\": %" PRIu64 ",\n", r->groups_out,
           r->distinct);
    printf(" \"spilled_stored\": %" PRIu64 ", \"spilled_raw\": %" PRIu64
           ", \"partitions_spilled\": %" PRIu64 ", \"files\": %" PRIu64 ", \"levels\": %u, "
           "\"sort_fallbacks\": %" PRIu64 ",\n", st->spilled_stored, st->spilled_raw,
           st->partitions_spilled, st->files, st->levels, st->sort_fallbacks);
    printf(" \"peak_rss\": %" PRIu64 ", \"peak_rss_pct_of_budget\": %.2f, "
           "\"agg_memory_peak\": %" PRIu64 ", \"check_bitmap_bytes\": %" PRIu64 ",\n",
           r->peak_rss, cli_bench_pct(r->peak_rss, r->b.budget), st->memory_peak,
           (r->groups + 63) / 64 * 8);
    printf(" ");
    cli_bench_json_end(&r->b);
}

void bench_agg_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov bench agg [--rows N] [--groups G] [--memory SIZE]\n"
            "                        [--compress CODEC] [--spill-dir DIR] [--json]\n"
            "\n"
            "Makes N rows in this process (row i: key = a 64-bit hash of i modulo G, as\n"
            "an 8-byte key; value = i), sums the values per key with memgov's hash\n"
            "aggregation under a governor with the given budget, and drains the\n"
            "groups, checking them: one group per distinct key (counted beforehand in\n"
            "a bitmap of G bits, outside the budget), no sum overflowing, and the sums\n"
            "adding up to N(N-1)/2 exactly.  Prints the wall time (and its phases),\n"
            "the groups, the bytes spilled, and the process's peak RSS against the\n"
            "budget.\n"
            "\n"
            "Options:\n"
            "  -n, --rows N           rows to aggregate (default 50000000)\n"
            "  -g, --groups G         keys are hash(i) mod G (default 5000000)\n"
            CLI_BENCH_HELP_MEMORY
            "      --compress CODEC   compress spill files: none (default), lz4, zstd\n"
            CLI_BENCH_HELP_REST
            "\n"
            "Exit status: 0 success, 1 the groups failed the check, or the library\n"
            "failed, 2 bad usage.\n");
}

/* -n N (below 2^32 rows: the sum of all values, N(N-1)/2, must fit in 128
 * bits, and each group's in 63) and -g G. */
static int bench_option(void *arg, int c, const char *text)
{
    bench_result_t *r = arg;

    if (c == 'n')
        return cli_parse_count("bench agg", "--rows", text, 1, UINT32_MAX, &r->rows);
    return cli_parse_count("bench agg", "--groups", text, 1, (uint64_t)1 << 34, &r->groups);
}

int bench_agg(int argc, char **argv)
{
    static const struct option opts[] = {
        { "rows", required_argument, NULL, 'n' },
        { "groups", required_argument, NULL, 'g' },
        CLI_BENCH_LONGOPTS,
    };
    static const cli_bench_def_t def = {
        { "bench agg", bench_agg_help }, ":n:g:" CLI_BENCH_SHORTOPTS, opts, phases,
        bench_option, bench_run, print_text, print_json,
    };
    bench_result_t r = { .rows = BENCH_ROWS, .groups = BENCH_GROUPS };

    return cli_bench_main(&def, &r.b, &r, argc, argv);
}
