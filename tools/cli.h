/* cli.h - what the memgov command's files share: the command entry points,
 * exit statuses and small helpers for messages, sizes and the clock
 * (cli.c).
 *
 * Conventions every command follows:
 *   - output goes to stdout, diagnostics to stderr as one line
 *     "memgov CMD: message";
 *   - exit 0 on success, CLI_EXIT_FAILURE (1) when something failed at run
 *     time (the message carries mgov_strerror's text), CLI_EXIT_USAGE (2)
 *     for bad usage, followed by a hint to run --help.  One exception:
 *     `memgov sort` exits as sort(1) does, CLI_EXIT_TROUBLE (2) for any
 *     failure, so scripts can swap one for the other;
 *   - options are parsed with getopt_long, opterr off, errors reported
 *     through cli_getopt_error so every command words them the same way.
 */
#ifndef MEMGOV_TOOLS_CLI_H
#define MEMGOV_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_TROUBLE = 2, /* memgov sort: any failure, as sort(1) */
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
int cmd_bench(int argc, char **argv);
int cmd_sections(int argc, char **argv);
void cmd_info_help(FILE *out);
void cmd_demo_help(FILE *out);
void cmd_sort_help(FILE *out);
void cmd_bench_help(FILE *out);
void cmd_sections_help(FILE *out);

/* Benchmarks of `memgov bench`: argv[0] is the benchmark's name ("sort"). */
int bench_sort(int argc, char **argv);
void bench_sort_help(FILE *out);

/* "memgov CMD: message" and a --help hint on stderr; returns CLI_EXIT_USAGE.
 * cmd may be NULL for the tool itself. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* Reports what getopt_long returned for a bad option (c is '?' or ':');
 * returns CLI_EXIT_USAGE. */
int cli_getopt_error(const char *cmd, int c, char **argv);

/* "memgov CMD: message: mgov_strerror(status)" on stderr; returns
 * CLI_EXIT_FAILURE. */
int cli_runtime_error(const char *cmd, int status, const char *fmt, ...) CLI_PRINTF(3, 4);

/* "memgov CMD: message" on stderr, the message worded whole by the caller
 * (e.g. ending with strerror(errno)); returns CLI_EXIT_FAILURE. */
int cli_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* A size for people ("64.0 MiB"), by value so it can sit in a printf's
 * arguments: cli_size(n).s lives until the end of the full expression. */
typedef struct cli_size_str {
    char s[32];
} cli_size_str_t;
cli_size_str_t cli_size(uint64_t bytes);

/* Writes `s` as a JSON string literal (quotes and escapes included). */
void cli_json_string(FILE *out, const char *s);

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t cli_now_ns(void);

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
