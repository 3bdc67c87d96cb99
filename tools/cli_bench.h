/* cli_bench.h - what the benchmarks of `memgov bench` (cmd_bench_*.c)
 * share (cli_bench.c): the command around them, the options each takes
 * besides its sizes (--memory, --compress, --spill-dir, --json), the
 * governor it runs under, its timed phases, and the lines every report
 * has.  A benchmark is its definition (cli_bench_def_t) and its result,
 * which holds a cli_bench_t:
 *
 *   bench_X(argc, argv) --> cli_bench_main(def, &r.b, &r, argc, argv):
 *     the options (its own through def->option) --> def->run(r) with the
 *     signals caught (it fills the times, ok and failure) --> a signal that
 *     came ends the process --> def->print_text or print_json --> exit 1
 *     when the check failed
 *
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
#define CLI_BENCH_PHASES 3                     /* the timed phases of a run */

/* A benchmark: what differs from one to the next.  r is its result. */
typedef struct cli_bench_def {
    cli_cmd_t cmd;                             /* "bench sort", its help */
    const char *shortopts;                     /* its own, then CLI_BENCH_SHORTOPTS */
    const struct option *longopts;             /* its own, then CLI_BENCH_LONGOPTS */
    const char *const *phases;                 /* CLI_BENCH_PHASES names: "push", ... */
    /* one of its own options: CLI_EXIT_OK, or the status after the message */
    int (*option)(void *r, int c, const char *arg);
    /* CLI_EXIT_OK, or CLI_EXIT_FAILURE after a message or on a signal; a
     * failed check is ok false, not a failure */
    int (*run)(void *r);
    void (*print_text)(const void *r);
    void (*print_json)(const void *r);
} cli_bench_def_t;

typedef struct cli_bench {
    const cli_bench_def_t *def;
    uint64_t budget;        /* --memory */
    mgov_codec_t codec;     /* --compress */
    const char *spill_dir;  /* --spill-dir; NULL: a private one under $TMPDIR */
    bool json;              /* --json */
    mgov_grant_t program;   /* the program's own pages (cli_charge_program) */
    uint64_t program_bytes; /* what that grant charged (it is gone by the report) */
    double secs;            /* the run's wall time, and each phase's (cli_bench_time) */
    double phase_secs[CLI_BENCH_PHASES];
    bool ok;                /* the check passed */
    char failure[256];      /* else what it found */
} cli_bench_t;

/* getopt values of the shared long options that have no letter. */
enum { CLI_BENCH_OPT_COMPRESS = 0x100, CLI_BENCH_OPT_SPILL_DIR };

/* The shared options: after a benchmark's own short options, and the end
 * of its struct option array. */
#define CLI_BENCH_SHORTOPTS "m:jh"
#define CLI_BENCH_LONGOPTS                                             \
    { "memory", required_argument, NULL, 'm' },                        \
    { "compress", required_argument, NULL, CLI_BENCH_OPT_COMPRESS },   \
    { "spill-dir", required_argument, NULL, CLI_BENCH_OPT_SPILL_DIR }, \
    { "json", no_argument, NULL, 'j' },                                \
    { "help", no_argument, NULL, 'h' },                                \
    { NULL, 0, NULL, 0 }

/* Their words in --help (pieces of a printf format); each benchmark
 * words --compress between them. */
#define CLI_BENCH_HELP_MEMORY                                                       \
    "  -m, --memory SIZE      the governor's budget (default 256M): a size such\n"   \
    "                         as 256M or 1.5G (powers of 1024), or a percentage\n"   \
    "                         of the memory this process may use; at least 1M\n"
#define CLI_BENCH_HELP_REST                                                         \
    "      --spill-dir DIR    spill to DIR (default: a private directory under\n"    \
    "                         $TMPDIR, or /tmp)\n"                                   \
    "  -j, --json             print one JSON object instead of text\n"               \
    "  -h, --help             show this help and exit\n"

/* The benchmark def, r its result holding b, its sizes set to their
 * defaults (the rest zero).  Returns the exit status. */
int cli_bench_main(const cli_bench_def_t *def, cli_bench_t *b, void *r, int argc, char **argv);

/* ------------------------------------------------------------ the run */

/* The governor of the options into *gov.  Returns CLI_EXIT_OK, or
 * CLI_EXIT_FAILURE after the message. */
int cli_bench_gov_create(cli_bench_t *b, mgov_t **gov);
/* An operator's create returned rc (errno err): a spill directory that
 * cannot be used (it is opened then), or "cannot create the WHAT".
 * Returns CLI_EXIT_FAILURE. */
int cli_bench_create_failed(const cli_bench_t *b, int rc, int err, const char *what);
/* The times of def->phases from clock readings (cli_now_ns): t[0] the
 * start, t[i + 1] the end of phase i. */
void cli_bench_time(cli_bench_t *b, const uint64_t t[CLI_BENCH_PHASES + 1]);
/* Destroys the governor (NULL: nothing); memory still granted at the end
 * turns a success rc into a failure. */
int cli_bench_gov_destroy(cli_bench_t *b, mgov_t *gov, int rc);

/* --------------------------------------------------------- the report */

/* part as a percentage of whole (0 when whole is 0). */
double cli_bench_pct(uint64_t part, uint64_t whole);
/* "  time         T s  (push A s, merge B s, output C s; R M UNITs/s)"
 * for n items. */
void cli_bench_print_time(const cli_bench_t *b, uint64_t n, const char *unit);
/* The JSON members " \"seconds\": T, \"seconds_push\": A, ...,\n". */
void cli_bench_json_time(const cli_bench_t *b);
/* "  budget       256 MiB (268435456 bytes), spill codec none; the
 * program's own pages (3.38 MiB) charged to it" */
void cli_bench_print_budget(const cli_bench_t *b);
/* "  peak RSS     X (N bytes)WHEN: P% of the budget"; when is "" or a
 * phrase with its leading space (" at the end of the join"). */
void cli_bench_print_rss(const cli_bench_t *b, uint64_t rss, const char *when);
/* "  WHAT  peak X: P% of the budget", WHAT padded ("sort memory"). */
void cli_bench_print_peak(const cli_bench_t *b, const char *what, uint64_t peak);
/* The end of the JSON object: "\"ok\": true}" or with the failure. */
void cli_bench_json_end(const cli_bench_t *b);

#endif /* MEMGOV_TOOLS_CLI_BENCH_H */
