/* cli_bench.c - what the benchmarks share (see cli_bench.h): the command
 * around them, their common options, their governor, their timed phases
 * and the lines every report has, so the three read and fail alike.
 */
#include <inttypes.h>
#include <stdio.h>

#include <memgov.h>

#include "cli_bench.h"
#include "signals.h"

/* One of the shared options, c ('m', 'j' or a CLI_BENCH_OPT_). */
static int shared_option(cli_bench_t *b, int c, const char *arg)
{
    const char *name = b->def->cmd.name;

    switch (c) {
    case 'm':
        return cli_parse_budget(name, "--memory", arg, &b->budget);
    case CLI_BENCH_OPT_COMPRESS:
        return cli_parse_codec(name, CLI_EXIT_FAILURE, arg, &b->codec);
    case CLI_BENCH_OPT_SPILL_DIR:
        return cli_parse_dir(name, "--spill-dir", arg, &b->spill_dir);
    default: /* 'j' */
        b->json = true;
        return CLI_EXIT_OK;
    }
}

int cli_bench_main(const cli_bench_def_t *def, cli_bench_t *b, void *r, int argc, char **argv)
{
    int c, rc;

    b->def = def;
    b->budget = CLI_BENCH_BUDGET;
    b->codec = MGOV_CODEC_NONE;
    while ((c = cli_getopt(&def->cmd, argc, argv, def->shortopts, def->longopts, &rc)) !=
           CLI_OPT_END) {
        if (c == CLI_OPT_EXIT)
            return rc;
        if (c == 'm' || c == 'j' || c == CLI_BENCH_OPT_COMPRESS || c == CLI_BENCH_OPT_SPILL_DIR)
            rc = shared_option(b, c, optarg);
        else
            rc = def->option(r, c, optarg);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if ((rc = cli_no_operands(&def->cmd, argc, argv)) != CLI_EXIT_OK)
        return rc;

    cli_signals_catch();
    rc = def->run(r);
    cli_signal_exit(); /* the operators are gone: end by the signal, when one came */
    if (rc != CLI_EXIT_OK)
        return rc;
    if (b->json)
        def->print_json(r);
    else
        def->print_text(r);
    if (!b->ok)
        return cli_error(def->cmd.name, "check failed: %s", b->failure);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ the run */

int cli_bench_gov_create(cli_bench_t *b, mgov_t **gov)
{
    mgov_config_t gcfg = MGOV_CONFIG_INIT;
    gcfg.budget = b->budget;
    gcfg.spill_dir = b->spill_dir;
    int rc = mgov_create(&gcfg, gov);
    if (rc != MGOV_OK)
        return cli_runtime_error(b->def->cmd.name, rc, "cannot create the governor");
    cli_charge_program(*gov, &b->program);
    b->program_bytes = b->program.bytes;
    return CLI_EXIT_OK;
}

int cli_bench_create_failed(const cli_bench_t *b, int rc, int err, const char *what)
{
    if (rc == MGOV_EINVAL || rc == MGOV_EBUSY || rc == MGOV_EIO) /* the spill directory */
        return cli_spill_dir_error(b->def->cmd.name, CLI_EXIT_FAILURE, b->spill_dir, rc, err);
    return cli_runtime_error(b->def->cmd.name, rc, "cannot create the %s", what);
}

void cli_bench_time(cli_bench_t *b, const uint64_t t[CLI_BENCH_PHASES + 1])
{
    b->secs = cli_secs(t[0], t[CLI_BENCH_PHASES]);
    for (int i = 0; i < CLI_BENCH_PHASES; i++)
        b->phase_secs[i] = cli_secs(t[i], t[i + 1]);
}

int cli_bench_gov_destroy(cli_bench_t *b, mgov_t *gov, int rc)
{
    mgov_grant_release(&b->program);
    int st = mgov_destroy(gov);

    if (st != MGOV_OK && rc == CLI_EXIT_OK)
        return cli_runtime_error(b->def->cmd.name, st, "memory still granted at the end");
    return rc;
}

/* --------------------------------------------------------- the report */

double cli_bench_pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

void cli_bench_print_time(const cli_bench_t *b, uint64_t n, const char *unit)
{
    printf("  time         %.2f s  (", b->secs);
    for (int i = 0; i < CLI_BENCH_PHASES; i++)
        printf("%s%s %.2f s", i ? ", " : "", b->def->phases[i], b->phase_secs[i]);
    printf("; %.1f M %s/s)\n", b->secs > 0 ? (double)n / b->secs / 1e6 : 0.0, unit);
}

void cli_bench_json_time(const cli_bench_t *b)
{
    printf(" \"seconds\": %.3f", b->secs);
    for (int i = 0; i < CLI_BENCH_PHASES; i++)
        printf(", \"seconds_%s\": %.3f", b->def->phases[i], b->phase_secs[i]);
    printf(",\n");
}

void cli_bench_print_budget(const cli_bench_t *b)
{
    printf("  budget       %s (%" PRIu64 " bytes), spill codec %s", cli_size(b->budget).s,
           b->budget, mgov_codec_name(b->codec));
    if (b->program_bytes)
        printf("; the program's own pages (%s) charged to it", cli_size(b->program_bytes).s);
    printf("\n");
}

void cli_bench_print_rss(const cli_bench_t *b, uint64_t rss, const char *when)
{
    printf("  peak RSS     %s (%" PRIu64 " bytes)%s: %.1f%% of the budget\n", cli_size(rss).s, rss,
           when, cli_bench_pct(rss, b->budget));
}

void cli_bench_print_peak(const cli_bench_t *b, const char *what, uint64_t peak)
{
    printf("  %-13speak %s: %.1f%% of the budget\n", what, cli_size(peak).s,
           cli_bench_pct(peak, b->budget));
}

void cli_bench_json_end(const cli_bench_t *b)
{
    printf("\"program_bytes\": %" PRIu64 ", \"ok\": %s", b->program_bytes,
           b->ok ? "true" : "false");
    if (!b->ok) {
        printf(", \"failure\": ");
        cli_json_string(stdout, b->failure);
    }
    printf("}\n");
}
