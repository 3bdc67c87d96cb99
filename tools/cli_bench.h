/* cli_bench.h - what the benchmarks of `memgov bench` (cmd_bench_*.c)
 * share (cli_bench.c): the options each takes besides its sizes (--memory,
 * --compress, --spill-dir, --json), the governor it runs under, the lines
 * every report has, and the steps after the options.
 *
 *   bench_X: cli_bench_init, cli_getopt with CLI_BENCH_SHORTOPTS and
 *     CLI_BENCH_LONGOPTS (its own options handled, the others through
 *     cli_bench_option) --> cli_bench_main(b, ..., steps, r):
 *     steps->run(r) with the signals caught --> the signal, if one came,
 *     ends the process --> steps->print_text or print_json --> exit 1
 *     when the check failed
 *
 * A benchmark's result holds its cli_bench_t: run fills ok and failure.
 * Messages name the benchmark ("memgov bench sort: ..."); run-time
 * failures exit CLI_EXIT_FAILURE (1), bad usage CLI_EXIT_USAGE (2).
 * Main thread only.
 */
#ifndef MEMGOV_TOOLS_CLI_BENCH_H
#define MEMGOV_TOOLS_CLI_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include <memgov.h>

#include "cli.h"

#define CLI_BENCH_BUDGET ((uint64_t)256 << 20) /* --memory's default: the benchmarks */

typedef struct cli_bench {
    const cli_cmd_t *cmd;   /* cmd->name is in messages: "bench sort" */
    uint64_t budget;        /* --memory */
    mgov_codec_t codec;     /* --compress */
    const char *spill_dir;  /* --spill-dir; NULL: a private one under $TMPDIR */
    bool json;              /* --json */
    bool ok;                /* the check passed */
    char failure[256];      /* else what it found */
} cli_bench_t;

/* The defaults, for the command cmd. */
void cli_bench_init(cli_bench_t *b, const cli_cmd_t *cmd);

/* getopt values of the shared long options that have no letter. */
enum { CLI_BENCH_OPT_COMPRESS = 0x100, CLI_BENCH_OPT_SPILL_DIR };

/* The shared options: appended to a benchmark's own short options, and
 * the end of its struct option array. */
#define CLI_BENCH_SHORTOPTS "m:jh"
#define CLI_BENCH_LONGOPTS                                             \
    { "memory", required_argument, NULL, 'm' },                        \
    { "compress", required_argument, NULL, CLI_BENCH_OPT_COMPRESS },   \
    { "spill-dir", required_argument, NULL, CLI_BENCH_OPT_SPILL_DIR }, \
    { "json", no_argument, NULL, 'j' },                                \
    { "help", no_argument, NULL, 'h' },                                \
    { NULL, 0, NULL, 0 }

/* Reads shared option c ('m', 'j' or a CLI_BENCH_OPT_) with its value.
 * Returns CLI_EXIT_OK, or the exit status after the message. */
int cli_bench_option(cli_bench_t *b, int c, const char *arg);

/* A benchmark's steps, each given its result r. */
typedef struct cli_bench_steps {
    /* CLI_EXIT_OK, or CLI_EXIT_FAILURE after a message or on a signal;
     * a failed check is b->ok false, not a failure */
    int (*run)(void *r);
    void (*print_text)(const void *r);
    void (*print_json)(const void *r);
} cli_bench_steps_t;

/* After the options: no operand may follow them; runs with the signals
 * caught, and once run has returned (its operators and governor gone)
 * ends by a signal that came; then prints the report and says when the
 * check failed.  Returns the exit status. */
int cli_bench_main(cli_bench_t *b, int argc, char **argv, const cli_bench_steps_t *steps,
                   void *r);

/* ------------------------------------------------------------ the run */

/* The governor of the options into *gov.  Returns CLI_EXIT_OK, or
 * CLI_EXIT_FAILURE after the message. */
int cli_bench_gov_create(const cli_bench_t *b, mgov_t **gov);
/* An operator's create returned rc (errno err): a spill directory that
 * cannot be used (it is opened then), or "cannot create the WHAT".
 * Returns CLI_EXIT_FAILURE. */
int cli_bench_create_failed(const cli_bench_t *b, int rc, int err, const char *what);
/* Destroys the governor (NULL: nothing); memory still granted at the end
 * turns a success rc into a failure. */
int cli_bench_gov_destroy(const cli_bench_t *b, mgov_t *gov, int rc);

/* --------------------------------------------------------- the report */

/* part as a percentage of whole (0 when whole is 0). */
double cli_bench_pct(uint64_t part, uint64_t whole);
/* "  budget       256 MiB (268435456 bytes), spill codec none" */
void cli_bench_print_budget(const cli_bench_t *b);
/* "  peak RSS     X (N bytes)WHEN: P% of the budget"; when is "" or a
 * phrase with its leading space (" at the end of the join"). */
void cli_bench_print_rss(const cli_bench_t *b, uint64_t rss, const char *when);
/* "  WHAT  peak X: P% of the budget", WHAT padded ("sort memory"). */
void cli_bench_print_peak(const cli_bench_t *b, const char *what, uint64_t peak);
/* The end of the JSON object: "\"ok\": true}" or with the failure. */
void cli_bench_json_end(const cli_bench_t *b);

#endif /* MEMGOV_TOOLS_CLI_BENCH_H */
