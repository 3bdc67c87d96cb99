/* cmd_bench.c - `memgov bench BENCHMARK [options]`: the tool's benchmarks,
 * one per file (cmd_bench_<name>.c).  This file only finds the benchmark
 * named after `bench` and answers `memgov bench --help` with the list.
 *
 * A benchmark prints its figures for people, or one JSON object with
 * --json, and checks its own result: exit 0 when the check passed, 1 when
 * it failed or the library failed, 2 for bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct benchmark {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);
} benchmark_t;

static const benchmark_t benchmarks[] = {
    { "sort", "N 16-byte records sorted under a budget: time, bytes spilled, peak RSS",
      bench_sort, bench_sort_help },
    { "agg", "N rows summed into G groups by hash under a budget: time, spilled, RSS",
      bench_agg, bench_agg_help },
    { "join", "N build rows joined with N probe rows by hash under a budget: time, RSS",
      bench_join, bench_join_help },
};
#define N_BENCHMARKS (sizeof benchmarks / sizeof benchmarks[0])

void cmd_bench_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov bench BENCHMARK [options]\n"
            "       memgov bench BENCHMARK --help\n"
            "\n"
            "Runs one of the library's benchmarks in this process and prints its\n"
            "figures (or one JSON object with --json).  Each benchmark checks its\n"
            "own result.\n"
            "\n"
            "Benchmarks:\n");
    for (size_t i = 0; i < N_BENCHMARKS; i++)
        fprintf(out, "  %-6s  %s\n", benchmarks[i].name, benchmarks[i].summary);
    fprintf(out,
            "\n"
            "Options:\n"
            "  -h, --help  show this help and exit\n"
            "\n"
            "Exit status: 0 success, 1 the benchmark's check or the library failed,\n"
            "2 bad usage.\n");
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "bench", cmd_bench_help };
    int c, status;

    /* '+': stop at the benchmark's name; its options are its own. */
    while ((c = cli_getopt(&cmd, argc, argv, "+:h", opts, &status)) != CLI_OPT_END)
        if (c == CLI_OPT_EXIT)
            return status;
    if (optind >= argc)
        return cli_usage_error("bench", "missing benchmark (one of: sort, agg, join)");

    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* glibc: restart getopt for the benchmark's options */
    for (size_t i = 0; i < N_BENCHMARKS; i++)
        if (strcmp(benchmarks[i].name, sub_argv[0]) == 0)
            return benchmarks[i].run(sub_argc, sub_argv);
    return cli_usage_error("bench", "unknown benchmark '%s'", sub_argv[0]);
}
