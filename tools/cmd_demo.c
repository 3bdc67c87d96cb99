/* cmd_demo.c - `memgov demo [--memory SIZE] [--seconds N] ...`: options
 * of the mixed workload (mix.h), or, with --tour, the scripted tour of the
 * pressure levels (demo.h), which reads its own options.
 */
#include <string.h>

#include "demo.h"
#include "mix.h"

#define DEFAULT_MEMORY ((uint64_t)512 << 20)
#define DEFAULT_SECONDS 30

void cmd_demo_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov demo [--memory SIZE] [--seconds N] [--index SIZE]\n"
            "                   [--tsv FILE] [--png FILE] [--quiet]\n"
            "       memgov demo --tour [--budget SIZE] [--quiet]\n"
            "\n"
            "Runs a mixed workload of real engines at once, in their own threads, in\n"
            "one process under one governor whose budget is the ceiling; each engine\n"
            "has its own region with a reservation and a limit:\n"
            "  - vector search: an index of 128-dimension float vectors (larger than\n"
            "    its region's limit) in tiered sections, one per shard; two threads\n"
            "    run exact top-10 searches over every shard; the governor spills cold\n"
            "    shards and the searches reload them; reference queries are checked\n"
            "    against a brute-force answer computed at the start;\n"
            "  - time-series ingest: points into buffers from a buffer pool, sealed\n"
            "    into compressed segments kept in sections; no point is ever dropped;\n"
            "  - analytics: GROUP BY series, ORDER BY value and a join with a\n"
            "    series table (memgov's spilling operators) over the sealed\n"
            "    segments, each result checked against what the ingest kept;\n"
            "  - a query-result cache that evicts under pressure.\n"
            "A status line shows each region, the pressure level, RSS and each\n"
            "engine's throughput (a log line a second when stdout is not a\n"
            "terminal).  Every 50 ms a sample is written to the TSV file; at the end\n"
            "a report, and a PNG drawn from the TSV by gnuplot when it is installed.\n"
            "\n"
            "Checks (exit status 1 when one fails): at every sample no region over\n"
            "its limit and the governor within its budget; peak RSS (VmHWM) at most\n"
            "105%% of the ceiling (not in sanitizer builds); every reference query\n"
            "and every analytics result right; points aggregated == points ingested;\n"
            "at the end every section, heap, pool and file released and\n"
            "mgov_destroy reporting no leak.\n"
            "\n"
            "Options:\n"
            "  -m, --memory SIZE  the ceiling: the governor's budget (default 512M;\n"
            "                     at least 32M); a size such as 128M or 1G\n"
            "  -s, --seconds N    how long the engines run (default 30; 1 to 3600)\n"
            "  -i, --index SIZE   the vector index (default 3/4 of the ceiling)\n"
            "      --tsv FILE     the samples (default memgov-demo.tsv)\n"
            "      --png FILE     the picture (default memgov-demo.png)\n"
            "  -q, --quiet        no status line and no progress, only the report\n"
            "      --tour         the scripted tour instead (memgov demo --tour --help)\n"
            "  -h, --help         show this help and exit\n"
            "\n"
            "Exit status: 0 success, 1 a check failed or the governor failed,\n"
            "2 bad usage.\n");
}

/* Below this the process's own memory (code, libraries, stacks: about 6 MiB,
 * in no region) is more than the 5% the RSS check allows over the ceiling. */
#define MIN_MEMORY ((uint64_t)32 << 20)

int cmd_demo(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--tour") == 0) {
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
            return demo_tour(argc - 1, argv);
        }
    }
    enum { OPT_TSV = 256, OPT_PNG };
    static const struct option opts[] = {
        { "memory", required_argument, NULL, 'm' },
        { "seconds", required_argument, NULL, 's' },
        { "index", required_argument, NULL, 'i' },
        { "tsv", required_argument, NULL, OPT_TSV },
        { "png", required_argument, NULL, OPT_PNG },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "demo", cmd_demo_help };
    mix_opts_t o = {
        .memory = DEFAULT_MEMORY,
        .seconds = DEFAULT_SECONDS,
        .tsv = "memgov-demo.tsv",
        .png = "memgov-demo.png",
    };
    uint64_t v;
    int c, rc;
    while ((c = cli_getopt(&cmd, argc, argv, ":m:s:i:qh", opts, &rc)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return rc;
        case 'm':
            if ((rc = cli_parse_size("demo", "--memory", optarg, 0, MIN_MEMORY,
                                     (uint64_t)64 << 30, &o.memory)) != CLI_EXIT_OK)
                return rc;
            break;
        case 's':
            if ((rc = cli_parse_count("demo", "--seconds", optarg, 1, 3600, &v)) != CLI_EXIT_OK)
                return rc;
            o.seconds = (unsigned)v;
            break;
        case 'i':
            if ((rc = cli_parse_size("demo", "--index", optarg, 0, (uint64_t)1 << 20,
                                     (uint64_t)64 << 30, &o.index_bytes)) != CLI_EXIT_OK)
                return rc;
            break;
        case OPT_TSV:
        case OPT_PNG:
            if (optarg[0] == '\0')
                return cli_usage_error("demo", "%s needs a file name",
                                       c == OPT_TSV ? "--tsv" : "--png");
            *(c == OPT_TSV ? &o.tsv : &o.png) = optarg;
            break;
        case 'q':
            o.quiet = true;
            break;
        }
    }
    if ((rc = cli_no_operands(&cmd, argc, argv)) != CLI_EXIT_OK)
        return rc;
    return mix_run(&o);
}
