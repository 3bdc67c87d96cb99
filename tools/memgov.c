/* memgov.c - the memgov command: finds the command in argv[1] and hands it
 * the rest; answers the tool's own --help, --version and `help [COMMAND]`;
 * and holds the helpers every command shares (messages, sizes, JSON).
 *
 * Exit statuses (see cli.h): 0 success, 1 run-time failure, 2 bad usage;
 * `memgov sort` exits 2 on any failure, as sort(1) does.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <memgov.h>

#include "cli.h"

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    void (*help)(FILE *out);
} command_t;

static const command_t commands[] = {
    { "info", "show the memory this process may use and the governor's defaults",
      cmd_info, cmd_info_help },
    { "demo", "run a scripted workload through every pressure level",
      cmd_demo, cmd_demo_help },
    { "sort", "sort lines or fixed-width records within a memory budget (as sort(1))",
      cmd_sort, cmd_sort_help },
    { "bench", "run a benchmark: memgov bench sort",
      cmd_bench, cmd_bench_help },
    { "sections", "list the tiered sections kept in a persistent spill directory",
      cmd_sections, cmd_sections_help },
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
            "Exit status: 0 success, 1 run-time failure, 2 bad usage; memgov sort\n"
            "exits 2 on any failure, as sort(1) does.\n");
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    opterr = 0;
    /* '+': stop at the command name; its options are its own. */
    while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            tool_help(stdout);
            return CLI_EXIT_OK;
        case 'V':
            tool_version();
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(NULL, c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error(NULL, "missing command (one of: info, demo, sort, bench, sections, "
                                     "help)");

    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* glibc: 0 restarts getopt from scratch for the command */

    if (strcmp(sub_argv[0], "help") == 0)
        return help_command(sub_argc, sub_argv);
    const command_t *cmd = command_find(sub_argv[0]);
    if (cmd == NULL)
        return cli_usage_error(NULL, "unknown command '%s'", sub_argv[0]);
    return cmd->run(sub_argc, sub_argv);
}

/* ------------------------------------------------------- shared helpers */

/* "memgov CMD: " and the message, after what stdout holds so far. */
static CLI_PRINTF(2, 0) void vmessage(const char *cmd, const char *fmt, va_list ap)
{
    fflush(stdout);
    if (cmd != NULL)
        fprintf(stderr, "memgov %s: ", cmd);
    else
        fputs("memgov: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmessage(cmd, fmt, ap);
    va_end(ap);
    if (cmd != NULL && strcmp(cmd, "help") != 0)
        fprintf(stderr, "\nTry 'memgov %s --help' for more information.\n", cmd);
    else
        fputs("\nTry 'memgov --help' for more information.\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_getopt_error(const char *cmd, int c, char **argv)
{
    /* getopt_long leaves optind past the offending word for long options
     * and at the end of a short-option cluster; optopt holds the letter of
     * a bad short option, or the val of a long one given a value it does
     * not take. */
    const char *word = optind > 0 ? argv[optind - 1] : "";

    if (c == ':') {
        if (strncmp(word, "--", 2) == 0)
            return cli_usage_error(cmd, "option '%s' needs a value", word);
        return cli_usage_error(cmd, "option '-%c' needs a value", optopt);
    }
    if (strncmp(word, "--", 2) == 0) {
        int name_len = (int)strcspn(word, "=");
        if (optopt != 0 && word[name_len] == '=')
            return cli_usage_error(cmd, "option '%.*s' takes no value", name_len, word);
        return cli_usage_error(cmd, "unknown option '%.*s'", name_len, word);
    }
    return cli_usage_error(cmd, "unknown option '-%c'", optopt);
}

int cli_runtime_error(const char *cmd, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmessage(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", mgov_strerror(status));
    return CLI_EXIT_FAILURE;
}

int cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmessage(cmd, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAILURE;
}

cli_size_str_t cli_size(uint64_t bytes)
{
    cli_size_str_t r;

    mgov_size_format(bytes, r.s, sizeof r.s);
    return r;
}

void cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}
