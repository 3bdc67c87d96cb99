/* cli_args.c - options, read the same way by every command: the getopt
 * loop's conventions (cli_getopt), and one strict parser for each kind of
 * value: counts, sizes, budgets (and MEMGOV_BUDGET, checked as a budget).
 *
 * Strict means the whole text is the value, in one spelling: a count is
 * ASCII decimal digits only (no sign, space, base prefix or exponent); a
 * size is digits, an optional fraction and a unit glued to them ("256M",
 * "1.5GiB", "10%"), read by mgov_size_parse once the text has passed that
 * check (the library also takes "5 M", the tool does not).  Out of range
 * and unreadable are told apart in the message.
 *
 * A codec is a name mgov_codec_parse knows; one this build lacks is a
 * failure, not bad usage, and the message names the ones it has.
 *
 * A budget is 1 MiB (below it a governor's regions and a spill's buffers
 * do not fit) to MGOV_BUDGET_MAX, the largest mgov_create takes: the same
 * check for --memory, --budget and MEMGOV_BUDGET.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <memgov.h>

#include "cli.h"

/* Reports what getopt_long returned for a bad option (c is '?' or ':');
 * returns CLI_EXIT_USAGE. */
static int getopt_error(const char *cmd, int c, char **argv)
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

int cli_getopt(const cli_cmd_t *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *status)
{
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    switch (c) {
    case -1:
        return CLI_OPT_END;
    case 'h':
        cmd->help(stdout);
        *status = CLI_EXIT_OK;
        return CLI_OPT_EXIT;
    case '?':
    case ':':
        *status = getopt_error(cmd->name, c, argv);
        return CLI_OPT_EXIT;
    default:
        return c;
    }
}

int cli_no_operands(const cli_cmd_t *cmd, int argc, char **argv)
{
    if (optind < argc)
        return cli_usage_error(cmd->name, "unexpected argument '%s'", argv[optind]);
    return CLI_EXIT_OK;
}

bool cli_decimal(const char *text, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        unsigned d = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

int cli_parse_count(const char *cmd, const char *opt, const char *text, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (!cli_decimal(text, strlen(text), &v))
        return cli_usage_error(cmd, "invalid count '%s' for %s (decimal digits, e.g. 1000000)",
                               text, opt);
    if (v < min || v > max)
        return cli_usage_error(cmd, "%s %s is out of range (%llu to %llu)", opt, text,
                               (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return CLI_EXIT_OK;
}

/* "1.00 MiB to 64.0 TiB minus 1 byte": a bound one below a round size is
 * said so, not rounded down ("63.9 TiB") or up. */
static void range_text(uint64_t min, uint64_t max, char *buf, size_t cap)
{
    if (max != UINT64_MAX && ((max + 1) & ((1u << 20) - 1)) == 0)
        snprintf(buf, cap, "%s to %s minus 1 byte", cli_size(min).s, cli_size(max + 1).s);
    else
        snprintf(buf, cap, "%s to %s", cli_size(min).s, cli_size(max).s);
}

/* Only what a size can be made of: digits, '.', unit letters, '%'. */
static bool size_chars(const char *text)
{
    for (const char *p = text; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '%' || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z')))
            return false;
    return true;
}

int cli_parse_size(const char *cmd, const char *opt, const char *text, unsigned flags,
                   uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t base = 0, bytes;

    if (flags & CLI_SIZE_PERCENT) {
        mgov_sysinfo_t sys;
        mgov_sysinfo_read(&sys);
        base = sys.process_limit; /* 0, unknown: a percentage is refused */
    }
    if (!size_chars(text) || mgov_size_parse(text, base, &bytes) != MGOV_OK)
        return cli_usage_error(cmd, "invalid size '%s' for %s (examples: 256M, 1.5G%s)", text,
                               opt, base != 0 ? ", 10%" : "");
    if (bytes < min || bytes > max) {
        char range[96];
        range_text(min, max, range, sizeof range);
        return cli_usage_error(cmd, "%s %s is out of range (%s)", opt, text, range);
    }
    *out = bytes;
    return CLI_EXIT_OK;
}

int cli_parse_budget(const char *cmd, const char *opt, const char *text, uint64_t *out)
{
    return cli_parse_size(cmd, opt, text, CLI_SIZE_PERCENT, CLI_MIN_BUDGET, MGOV_BUDGET_MAX,
                          out);
}

int cli_default_budget(const char *cmd, int failure, uint64_t *out, const char **env_out)
{
    const char *env = getenv("MEMGOV_BUDGET");
    uint64_t budget = 0;

    *env_out = env != NULL && env[0] != '\0' ? env : NULL;
    /* the library's own reading of MEMGOV_BUDGET, as mgov_create does */
    int rc = mgov_default_budget(&budget);
    if (rc == MGOV_OK && (budget < CLI_MIN_BUDGET || budget > MGOV_BUDGET_MAX))
        rc = MGOV_EINVAL;
    if (rc != MGOV_OK) {
        char range[96];
        range_text(CLI_MIN_BUDGET, MGOV_BUDGET_MAX, range, sizeof range);
        cli_runtime_error(cmd, rc, "MEMGOV_BUDGET='%s' is not a usable budget (a size or a "
                          "percentage, %s)", env != NULL ? env : "", range);
        return failure;
    }
    *out = budget;
    return CLI_EXIT_OK;
}

void cli_budget_source(char *buf, size_t cap, const char *opt, const char *text, const char *env,
                       uint64_t budget)
{
    if (text != NULL)
        snprintf(buf, cap, "%s %s", opt, text);
    else if (env != NULL)
        snprintf(buf, cap, "MEMGOV_BUDGET=%s", env);
    else
        snprintf(buf, cap, "%s, the default", cli_size(budget).s);
}

int cli_parse_codec(const char *cmd, int failure, const char *text, mgov_codec_t *out)
{
    int rc = mgov_codec_parse(text, out);

    if (rc == MGOV_EINVAL)
        return cli_usage_error(cmd, "unknown codec '%s' for --compress (none, lz4, zstd)", text);
    if (rc == MGOV_ENOTSUP) {
        cli_error(cmd, "this build of memgov has no %s support (--compress %s); available: "
                  "none%s%s", text, text, mgov_codec_available(MGOV_CODEC_LZ4) ? ", lz4" : "",
                  mgov_codec_available(MGOV_CODEC_ZSTD) ? ", zstd" : "");
        return failure;
    }
    return CLI_EXIT_OK;
}

int cli_parse_dir(const char *cmd, const char *opt, const char *text, const char **out)
{
    if (text[0] == '\0')
        return cli_usage_error(cmd, "%s needs a directory", opt);
    *out = text;
    return CLI_EXIT_OK;
}
