/* cli_job.h - what memgov sort, groupby and join share as jobs: the
 * options that set their governor and spilling, the governor itself, their
 * input and output, the progress line, how they word a failure, how they
 * end (cli_job.c), and the --sorted stage of groupby and join, where the
 * lines go out through the external sort (cli_sorted.c).
 *
 *   options --cli_job_option--> cli_job_opts_t
 *   cli_job_start --> cli_job_gov_create --> the command's operator
 *     (cli_job_create_failed) --> inputs (cli_job_input_open, _done)
 *     --> output [--sorted: cli_sorted_create, _push, _out]
 *   clean-up: the operator, cli_job_io_free, cli_job_destroy --> then
 *     cli_signal_exit
 *
 * Failures are said by cli_job_trouble: one line "memgov CMD: ..." and
 * CLI_EXIT_TROUBLE, as sort(1) exits.  With a signal pending nothing is
 * said: what failed did because of it, and the signal ends the process
 * after the clean-up (signals.h).
 *
 * Threading: a job belongs to the command's main thread; the operators'
 * progress callbacks run in it too.
 */
#ifndef MEMGOV_TOOLS_CLI_JOB_H
#define MEMGOV_TOOLS_CLI_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memgov.h>

#include "cli.h"
#include "input.h"
#include "output.h"
#include "progress.h"

#define CLI_JOB_LOOK_EVERY 0x3fffu /* lines or rows between looks at the clock, less one */

/* --memory, --compress, --spill-dir, --spill-quota and --stats. */
typedef struct cli_job_opts {
    uint64_t budget;          /* 0: the governor's default (cli_default_budget) */
    const char *budget_text;  /* --memory as given, for messages; NULL without it */
    mgov_codec_t codec;
    const char *spill_dir;    /* NULL: a private directory under $TMPDIR */
    uint64_t spill_quota;     /* 0: the library's default */
    bool stats;
} cli_job_opts_t;

/* Their getopt values; a command's own long options start at CLI_OPT_JOB_END. */
enum {
    CLI_OPT_MEMORY = 0x100,
    CLI_OPT_COMPRESS,
    CLI_OPT_SPILL_DIR,
    CLI_OPT_SPILL_QUOTA,
    CLI_OPT_STATS,
    CLI_OPT_JOB_END,
};

/* Their entries of a struct option array (not its end). */
#define CLI_JOB_LONGOPTS                                           \
    { "memory", required_argument, NULL, CLI_OPT_MEMORY },         \
    { "compress", required_argument, NULL, CLI_OPT_COMPRESS },     \
    { "spill-dir", required_argument, NULL, CLI_OPT_SPILL_DIR },   \
    { "spill-quota", required_argument, NULL, CLI_OPT_SPILL_QUOTA }, \
    { "stats", no_argument, NULL, CLI_OPT_STATS }

/* Their words in --help, as the commands share them: pieces of a printf
 * format ("%%"); --stats says what each command prints, and memgov sort
 * words --compress and --spill-dir for its runs. */
#define CLI_JOB_HELP_MEMORY                                                          \
    "      --memory SIZE       the governor's budget (default: MEMGOV_BUDGET, or\n"   \
    "                          75%% of the memory this process may use): a size\n"  \
    "                          such as 256M or 1.5G (powers of 1024) or a\n"        \
    "                          percentage of that memory; at least 1M\n"
#define CLI_JOB_HELP_QUOTA                                                            \
    "      --spill-quota SIZE  at most SIZE bytes on disk (default: half the free\n" \
    "                          space of the spill directory's file system)\n"
#define CLI_JOB_HELP_SPILL                                                           \
    "      --compress CODEC    compress spill files: none (default), lz4, zstd\n"    \
    "      --spill-dir DIR     spill to DIR, created when missing (default: a\n"      \
    "                          private directory under $TMPDIR, or /tmp)\n"          \
    CLI_JOB_HELP_QUOTA
#define CLI_JOB_HELP_ENV \
    "Environment: MEMGOV_BUDGET (the default budget), TMPDIR, MEMGOV_PROGRESS.\n"

/* Reads option c (one of CLI_OPT_MEMORY .. CLI_OPT_STATS) with its value
 * into *o.  Returns CLI_EXIT_OK, or the exit status after the message. */
int cli_job_option(const char *cmd, int c, const char *arg, cli_job_opts_t *o);

/* Where the job is: in the command's own operator, or in --sorted's sort. */
typedef enum cli_job_stage {
    CLI_STAGE_RUN,   /* the command's operator; its phases are its own */
    CLI_STAGE_SORT,  /* --sorted: the sort's merge passes */
    CLI_STAGE_WRITE, /* --sorted: the sorted lines going out */
} cli_job_stage_t;

typedef struct cli_job {
    const char *cmd;             /* "sort", "groupby", "join": in messages */
    const cli_job_opts_t *opts;
    mgov_t *gov;
    mgov_grant_t program;        /* the program's own pages (cli_charge_program) */
    const char *budget_env;      /* MEMGOV_BUDGET, when it gave the budget */
    cli_input_t in;
    cli_output_t out;
    cli_progress_t progress;
    uint64_t t0_ns;              /* the start, for --stats */
    /* --sorted (groupby, join): the lines' way out, through the external sort */
    mgov_sort_t *sorted;
    cli_job_stage_t stage;
    const char *sorted_noun;     /* what it sorts, in the progress line: "groups" */
} cli_job_t;

/* Before the run, on a zeroed job: its command and options, the clock,
 * the progress line, the signals caught. */
void cli_job_start(cli_job_t *j, const char *cmd, const cli_job_opts_t *o);

/* ------------------------------------------------------------ messages */

/* "memgov CMD: message" (the progress line erased first), or nothing with
 * a signal pending.  Returns CLI_EXIT_TROUBLE. */
int cli_job_trouble(cli_job_t *j, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Where the budget came from (cli_budget_source): "--memory 1M", ... */
void cli_job_budget_source(const cli_job_t *j, char *buf, size_t cap);
/* An operator's error rc worded for people: a spill without space or
 * failing, a spill file read back wrong, a budget too small for it, or
 * "the OP failed".  op names the command's operator ("aggregation");
 * past CLI_STAGE_RUN it is the sort. */
int cli_job_op_trouble(cli_job_t *j, int rc, const char *op);
/* Standard output failed with err: the end, quietly, when its reader is
 * gone (SIGPIPE taken over), else "cannot write to standard output". */
int cli_job_output_trouble(cli_job_t *j, int err);

/* ---------------------------------------------------- governor, inputs */

/* The governor of the options (its default budget checked as --memory
 * is).  Returns CLI_EXIT_OK or the exit status after the message. */
int cli_job_gov_create(cli_job_t *j);
/* An operator's create returned st (errno err): a codec the build lacks,
 * a spill directory that cannot be used (it is opened then), or "cannot
 * create the WHAT".  Returns CLI_EXIT_TROUBLE. */
int cli_job_create_failed(cli_job_t *j, int st, int err, const char *what);
/* cli_inputs_size over the n files (none: standard input), said as
 * "cannot read" when one cannot be looked at.  *total as it sets. */
int cli_job_inputs_size(cli_job_t *j, char *const *files, int n, uint64_t *total);
/* "cannot read NAME: strerror(err)" (standard input for "-" or NULL).
 * Returns CLI_EXIT_TROUBLE. */
int cli_job_unreadable(cli_job_t *j, const char *name, int err);
/* The job's input buffer (input.h), charged to its governor: io_buffer
 * bytes, or a 16th of a small budget, but at least min_cap; lines up to
 * max_line.  Said when the budget or malloc refuses it. */
int cli_job_input_init(cli_job_t *j, size_t io_buffer, size_t min_cap, size_t max_line);
/* Opens input `name` in j->in, said as "cannot read" when it fails. */
int cli_job_input_open(cli_job_t *j, const char *name);
/* After reading j->in to rc: a read error, a line longer than max_line or
 * one the budget had no room for said, other values kept; the input
 * closed.  Returns the status. */
int cli_job_input_done(cli_job_t *j, int rc, size_t max_line);

/* ------------------------------------------------------------- the end */

/* Ends a --stats line: the --sorted sort's figures, the budget, the peak
 * RSS and the seconds since the start, and '\n'. */
void cli_job_stats_end(const cli_job_t *j);
/* Frees the input and the output (stdout is not closed).  True when the
 * output's writer thread was left to a pending signal (output.h): then
 * its descriptor must stay open. */
bool cli_job_io_free(cli_job_t *j);
/* Destroys the --sorted sort and the governor, their spill files and
 * private directory with them; after the command destroyed its operator.
 * Memory still granted at the end turns a success rc into a failure. */
int cli_job_destroy(cli_job_t *j, int rc);

/* ---------------------------------------------- --sorted (cli_sorted.c) */

/* The sort the lines go out through, under the job's governor, sharing
 * its budget with the operator (it waits for memory).  cmp orders the
 * lines (NULL: by bytes); max_record 0 is the sort's default; noun names
 * the lines in the progress line.  Returns CLI_EXIT_OK or the status. */
int cli_sorted_create(cli_job_t *j, const char *name, mgov_sort_cmp_fn cmp, void *cmp_ctx,
                      size_t max_record, const char *noun);
/* One line into it; a failure is the sort's. */
int cli_sorted_push(cli_job_t *j, const void *line, size_t len);
/* After the operator: the sort's merge passes, then its lines to the
 * output, each without its first `skip` bytes. */
int cli_sorted_out(cli_job_t *j, size_t skip);

#endif /* MEMGOV_TOOLS_CLI_JOB_H */
