/* memgov.c - the memgov command: finds the command in argv[1] and hands it
 * the rest, and answers the tool's own --help, --version and
 * `help [COMMAND]`.  What the commands share is in cli.h.
 *
 * Around every command: the standard descriptors are made safe first
 * (cli_stdio_guard), and stdout is flushed and closed last, so output that
 * was lost is an error whichever command wrote it (cli_stdout_close).
 *
 * Exit statuses (see cli.h): 0 success, 1 run-time failure, 2 bad usage;
 * `memgov sort` exits 2 on any failure, as sort(1) does, and so do
 * `memgov groupby` and `memgov join`.
 */
#include <stdio.h>
#include <string.h>

#include <memgov.h>

#include "cli.h"
#include "cmd_host.h"
#include "cmd_top.h"

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);
    int failure;             /* its exit status for a run-time failure */
} command_t;

static const command_t commands[] = {
    { "info", "show the memory this process may use and the governor's defaults",
      cmd_info, cmd_info_help, CLI_EXIT_FAILURE },
    { "demo", "run engines at once under one ceiling (--tour: the scripted tour)",
      cmd_demo, cmd_demo_help, CLI_EXIT_FAILURE },
    { "sort", "sort lines or fixed-width records within a memory budget (as sort(1))",
      cmd_sort, cmd_sort_help, CLI_EXIT_TROUBLE },
    { "groupby", "group delimited lines by key fields: count, sum, min, max, mean",
      cmd_groupby, cmd_groupby_help, CLI_EXIT_TROUBLE },
    { "join", "join two delimited files on a field, as join(1), within a memory budget",
      cmd_join, cmd_join_help, CLI_EXIT_TROUBLE },
    { "bench", "run a benchmark: memgov bench sort, agg, join",
      cmd_bench, cmd_bench_help, CLI_EXIT_FAILURE },
    { "sections", "list the tiered sections kept in a persistent spill directory",
      cmd_sections, cmd_sections_help, CLI_EXIT_FAILURE },
    { "top", "show the governors of a running process, live (MEMGOV_STATS)",
      cmd_top, cmd_top_help, CLI_EXIT_FAILURE },
    { "host", "show a budget shared by processes (--watch); --demo, --bench",
      cmd_host, cmd_host_help, CLI_EXIT_FAILURE },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command_t *command_find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void tool_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov [--help | --version] <command> [options]\n"
            "\n"
            "memgov governs the memory of a data system: one budget, regions,\n"
            "grants, pressure levels, and consumers that evict or spill.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s  %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "  help      show this help, or a command's: memgov help COMMAND\n"
            "\n"
            "Options:\n"
            "  -h, --help     show this help and exit\n"
            "  -V, --version  show the tool's and the library's versions and exit\n"
            "\n"
            "Environment:\n"
            "  MEMGOV_BUDGET  the default budget, a size or a percentage of the\n"
            "                 memory the process may use (e.g. 2G, 40%%)\n"
            "\n"
            "Exit status: 0 success, 1 run-time failure, 2 bad usage; memgov sort,\n"
            "groupby and join exit 2 on any failure, as sort(1) does.\n");
}

static void tool_version(void)
{
    printf("memgov %s (library %s)\n", MGOV_VERSION_STRING, mgov_version());
}

/* `memgov help [COMMAND]` */
static int help_command(int argc, char **argv)
{
    if (argc <= 1) {
        tool_help(stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 2)
        return cli_usage_error("help", "expected one command name, got %d arguments",
                               argc - 1);
    if (strcmp(argv[1], "help") == 0) {
        tool_help(stdout);
        return CLI_EXIT_OK;
    }
    const command_t *cmd = command_find(argv[1]);
    if (cmd == NULL)
        return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    cmd->help(stdout);
    return CLI_EXIT_OK;
}

/* Runs what argv asks for; *cmd is the command, when there is one. */
static int dispatch(int argc, char **argv, const command_t **cmd)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t tool = { NULL, tool_help };
    int c, status;

    /* '+': stop at the command name; its options are its own. */
    while ((c = cli_getopt(&tool, argc, argv, "+:hV", opts, &status)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return status;
        case 'V':
            tool_version();
            return CLI_EXIT_OK;
        }
    }
    if (optind >= argc) {
        char names[256] = "";
        for (size_t i = 0; i < N_COMMANDS; i++) { /* the table's names: none forgotten */
            strncat(names, commands[i].name, sizeof names - strlen(names) - 1);
            strncat(names, ", ", sizeof names - strlen(names) - 1);
        }
        return cli_usage_error(NULL, "missing command (one of: %shelp)", names);
    }

    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* glibc: 0 restarts getopt from scratch for the command */

    if (strcmp(sub_argv[0], "help") == 0)
        return help_command(sub_argc, sub_argv);
    *cmd = command_find(sub_argv[0]);
    if (*cmd == NULL)
        return cli_usage_error(NULL, "unknown command '%s'", sub_argv[0]);
    return (*cmd)->run(sub_argc, sub_argv);
}

int main(int argc, char **argv)
{
    const command_t *cmd = NULL;

    cli_stdio_guard();
    int rc = dispatch(argc, argv, &cmd);
    /* every command's output, help and version included, is checked here */
    return cli_stdout_close(cmd != NULL ? cmd->name : NULL,
                            cmd != NULL ? cmd->failure : CLI_EXIT_FAILURE, rc);
}
