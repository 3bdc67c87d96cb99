/* cli.h - what the memgov command's files share: the command entry points,
 * exit statuses, and helpers for messages, sizes, the standard streams and
 * the clock (cli.c), options and their values (cli_args.c), and spill
 * directories that cannot be opened (cli_spill.c).  Jobs (sort, groupby,
 * join) and benchmarks share more: cli_job.h, cli_bench.h.
 *
 * Conventions every command follows:
 *   - output goes to stdout, diagnostics to stderr as one line
 *     "memgov CMD: message";
 *   - exit 0 on success, CLI_EXIT_FAILURE (1) when something failed at run
 *     time (the message ends with the reason: mgov_strerror's text, or the
 *     system's when it is more precise), CLI_EXIT_USAGE (2)
 *     for bad usage, followed by a hint to run --help.  One exception:
 *     `memgov sort` exits as sort(1) does, CLI_EXIT_TROUBLE (2) for any
 *     failure, so scripts can swap one for the other, and `memgov
 *     groupby` and `memgov join` as memgov sort;
 *   - options are read with cli_getopt (getopt_long, opterr off, -h
 *     for help, bad options reported) and their values with
 *     one strict parser per kind (cli_args.c), so every command words them
 *     and accepts them the same way.
 */
#ifndef MEMGOV_TOOLS_CLI_H
#define MEMGOV_TOOLS_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <memgov.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_TROUBLE = 2, /* memgov sort (as sort(1)), groupby and join: any failure */
};

#if defined(__GNUC__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

/* Commands: argv[0] is the command's name ("info", "demo"). */
int cmd_info(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_sort(int argc, char **argv);
int cmd_groupby(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_sections(int argc, char **argv);
void cmd_info_help(FILE *out);
void cmd_demo_help(FILE *out);
void cmd_sort_help(FILE *out);
void cmd_groupby_help(FILE *out);
void cmd_join_help(FILE *out);
void cmd_bench_help(FILE *out);
void cmd_sections_help(FILE *out);

/* Benchmarks of `memgov bench`: argv[0] is the benchmark's name ("sort"). */
int bench_sort(int argc, char **argv);
void bench_sort_help(FILE *out);
int bench_agg(int argc, char **argv);
void bench_agg_help(FILE *out);
int bench_join(int argc, char **argv);
void bench_join_help(FILE *out);

/* ------------------------------------------------------ messages (cli.c)
 * One line each on stderr, after what stdout holds so far; control
 * characters in the text are written escaped. */

/* "memgov CMD: message: mgov_strerror(status)" on stderr; returns
 * CLI_EXIT_FAILURE. */
int cli_runtime_error(const char *cmd, int status, const char *fmt, ...) CLI_PRINTF(3, 4);

/* "memgov CMD: message" on stderr, the message worded whole by the caller
 * (e.g. ending with strerror(errno)); returns CLI_EXIT_FAILURE. */
int cli_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* "memgov CMD: message" and a --help hint on stderr; returns CLI_EXIT_USAGE.
 * cmd may be NULL for the tool itself (in every message function). */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* A size for people ("64.0 MiB"), by value so it can sit in a printf's
 * arguments: cli_size(n).s lives until the end of the full expression. */
typedef struct cli_size_str {
    char s[32];
} cli_size_str_t;
cli_size_str_t cli_size(uint64_t bytes);

/* Writes `s` as a JSON string literal (quotes and escapes included). */
void cli_json_string(FILE *out, const char *s);

/* ------------------------------------------------- options (cli_args.c) */

/* A command as the option helpers see it. */
typedef struct cli_cmd {
    const char *name;        /* in messages: "sort", "bench sort"; NULL: the tool */
    void (*help)(FILE *out); /* shown for 'h' (-h, --help) */
} cli_cmd_t;

enum {
    CLI_OPT_END = -1,        /* no option left: operands from optind on */
    CLI_OPT_EXIT = -2,       /* the command is done: return *status */
};

/* getopt_long with the tool's conventions: opterr off; shortopts start
 * with ':' (or "+:"); 'h' shows the help (*status CLI_EXIT_OK); a bad
 * option is reported (*status CLI_EXIT_USAGE).  Returns the option,
 * CLI_OPT_END or CLI_OPT_EXIT.  The caller sets optind = 0 before the
 * first call of a command that is not the tool itself. */
int cli_getopt(const cli_cmd_t *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *status);
/* CLI_EXIT_OK when no operand is left after the options, else a usage
 * error naming the first. */
int cli_no_operands(const cli_cmd_t *cmd, int argc, char **argv);

#define CLI_MIN_BUDGET ((uint64_t)1 << 20) /* the smallest budget any command takes */
enum { CLI_SIZE_PERCENT = 1u };           /* a percentage of the process limit is a size */

/* text[0..len) as a decimal number: digits only, no sign or space, at
 * most UINT64_MAX.  *out is written only on success. */
bool cli_decimal(const char *text, size_t len, uint64_t *out);
/* The value of option `opt` (named in messages), min..max.  Each returns
 * CLI_EXIT_OK, or CLI_EXIT_USAGE after the message; *out is written only
 * on success.  A count is decimal digits; a size is digits, an optional
 * fraction and a unit, nothing else ("256M", "1.5G", with
 * CLI_SIZE_PERCENT "10%"); a budget is a size or a percentage,
 * CLI_MIN_BUDGET to MGOV_BUDGET_MAX. */
int cli_parse_count(const char *cmd, const char *opt, const char *text, uint64_t min,
                    uint64_t max, uint64_t *out);
int cli_parse_size(const char *cmd, const char *opt, const char *text, unsigned flags,
                   uint64_t min, uint64_t max, uint64_t *out);
int cli_parse_budget(const char *cmd, const char *opt, const char *text, uint64_t *out);
/* --compress CODEC into *out: an unknown name is bad usage, a codec this
 * build lacks returns `failure` after naming the ones it has. */
int cli_parse_codec(const char *cmd, int failure, const char *text, mgov_codec_t *out);
/* A directory option (--spill-dir): not empty. */
int cli_parse_dir(const char *cmd, const char *opt, const char *text, const char **out);
/* The budget a governor created with budget 0 gets (mgov_default_budget:
 * MEMGOV_BUDGET, or 75% of the process limit), checked as a budget option
 * is.  *env is MEMGOV_BUDGET when set and not empty, else NULL.  Returns
 * CLI_EXIT_OK, or `failure` after saying MEMGOV_BUDGET is not usable. */
int cli_default_budget(const char *cmd, int failure, uint64_t *out, const char **env);
/* Where a budget came from, for a message: "--memory 1M" (opt and its
 * text, when the option gave it), "MEMGOV_BUDGET=2M" (env, as
 * cli_default_budget returned it), or "17.6 GiB, the default". */
void cli_budget_source(char *buf, size_t cap, const char *opt, const char *text, const char *env,
                       uint64_t budget);

/* -------------------------------------- spill directories (cli_spill.c) */

/* Why opening spill directory `dir` failed for a message
 * "cannot use spill directory 'DIR': <why>": status is what the library
 * returned, err the errno it kept (for MGOV_EIO).  The text is static or
 * in buf. */
const char *cli_spill_dir_why(const char *dir, int status, int err, char *buf, size_t cap);
/* "cannot use spill directory 'DIR': <why>", or for the private one (dir
 * NULL) "cannot make a spill directory under $TMPDIR: <why>".  Returns
 * failure. */
int cli_spill_dir_error(const char *cmd, int failure, const char *dir, int status, int err);

/* ----------------------------------------- streams and the clock (cli.c) */

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t cli_now_ns(void);
/* Seconds from one cli_now_ns() reading to a later one. */
static inline double cli_secs(uint64_t from_ns, uint64_t to_ns)
{
    return (double)(to_ns - from_ns) / 1e9;
}
/* The process's peak resident size so far, in bytes (ru_maxrss). */
uint64_t cli_peak_rss(void);
/* Charges the program's own resident pages (its code, libraries and
 * stacks: its RSS before any work) to gov as a grant in
 * execution_buffers, so that a budget bounds the process's RSS and not
 * only what the library allocates.  Nothing is charged (an empty grant)
 * when they are over a quarter of the budget, which could not hold the
 * program anyway, or when the governor refuses.  Release *g before
 * mgov_destroy. */
void cli_charge_program(mgov_t *gov, mgov_grant_t *g);

/* Before anything else: opens /dev/null on each of fds 0, 1, 2 that is
 * closed, the wrong way round (stdin write-only, stdout and stderr
 * read-only), so using them fails as it would have, and no file the
 * command opens (a spill file, DIR) can take their numbers. */
void cli_stdio_guard(void);
/* At the end: flushes and closes stdout.  When output was lost and rc is
 * CLI_EXIT_OK, says so ("cannot write to standard output: ...") and
 * returns `failure`, or, for EPIPE in a command that took SIGPIPE over
 * (signals.h), ends the process by SIGPIPE; else returns rc. */
int cli_stdout_close(const char *cmd, int failure, int rc);

/* splitmix64: a well-mixed 64-bit value for x, for the deterministic data
 * the demo and the benchmarks make and check again. */
static inline uint64_t cli_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

#endif /* MEMGOV_TOOLS_CLI_H */
