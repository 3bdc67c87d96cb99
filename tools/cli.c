/* cli.c - what every command of the memgov tool shares: its messages on
 * stderr ("memgov CMD: ..."), sizes for people, JSON strings, the clock
 * and the peak RSS, and the standard streams' start and end.
 *
 * Every message goes through vmessage, after what stdout holds so far, so
 * the two streams keep their order when they share a terminal or a file.
 * A message is one line whatever it quotes: control characters in it (from
 * a file name, an option's value, an environment variable) are written
 * escaped, "\n" or "\x1b"; bytes from 0x80 up are left for the terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <memgov.h>

#include "cli.h"
#include "signals.h"

static bool stdout_closed; /* by cli_stdout_close: no more flushing it */

/* Writes text to stderr with its control characters escaped. */
static void put_escaped(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '\n')
            fputs("\\n", stderr);
        else if (*p == '\t')
            fputs("\\t", stderr);
        else if (*p == '\r')
            fputs("\\r", stderr);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
}

/* "memgov CMD: " and the message, after what stdout holds so far. */
static CLI_PRINTF(2, 0) void vmessage(const char *cmd, const char *fmt, va_list ap)
{
    char small[1024], *text = small;
    va_list again;

    if (!stdout_closed)
        fflush(stdout);
    fprintf(stderr, "memgov%s%s: ", cmd != NULL ? " " : "", cmd != NULL ? cmd : "");
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (text = malloc((size_t)n + 1)) != NULL)
        vsnprintf(text, (size_t)n + 1, fmt, again);
    va_end(again);
    if (text == NULL) /* no memory for a long one: its start */
        text = small;
    if (n >= 0)
        put_escaped(text);
    if (text != small)
        free(text);
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

uint64_t cli_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cli_peak_rss(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_maxrss * 1024;
}

void cli_charge_program(mgov_t *gov, mgov_grant_t *g)
{
    *g = (mgov_grant_t)MGOV_GRANT_INIT;
    uint64_t own = mgov_rss_now();
    if (own && own <= mgov_budget(gov) / 4)
        (void)mgov_try_reserve(gov, MGOV_REGION_EXECUTION_BUFFERS, own, MGOV_NO_RECLAIM, g);
}

void cli_stdio_guard(void)
{
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        /* the lowest free descriptor is fd: the ones below are open */
        int nfd = open("/dev/null", fd == STDIN_FILENO ? O_WRONLY : O_RDONLY);
        if (nfd >= 0 && nfd != fd)
            close(nfd);
    }
}

int cli_stdout_close(const char *cmd, int failure, int rc)
{
    errno = 0;
    bool lost = fflush(stdout) != 0 || ferror(stdout);
    int err = errno;
    if (fclose(stdout) != 0 && !lost) {
        lost = true;
        err = errno;
    }
    stdout_closed = true;
    if (!lost || rc != CLI_EXIT_OK)
        return rc;
    if (cli_signal_epipe(err)) /* a command that took SIGPIPE over: end by it */
        cli_signal_exit();
    if (err != 0)
        cli_error(cmd, "cannot write to standard output: %s", strerror(err));
    else /* a write failed earlier, leaving the error flag but not its errno */
        cli_error(cmd, "cannot write to standard output: some output was lost");
    return failure;
}
