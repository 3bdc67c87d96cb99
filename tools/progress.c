/* progress.c - the progress line (see progress.h).
 *
 * Each redraw is one write(2) of "\r<text>\033[K": the text over the old
 * one, the rest of the old line erased.  The text is cut to the terminal's
 * width minus one, so it never wraps (a wrapped line cannot be redrawn with
 * '\r').  Failures to write are ignored: progress is a courtesy.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"

#define PROGRESS_DELAY_NS 1000000000ull  /* silent for the first second */
#define PROGRESS_PERIOD_NS 100000000ull  /* at most ten redraws a second */
#define PROGRESS_WIDTH 80                /* when the terminal does not say */

void cli_progress_init(cli_progress_t *p)
{
    const char *env = getenv("MEMGOV_PROGRESS");

    memset(p, 0, sizeof *p);
    p->start_ns = cli_now_ns();
    p->delay_ns = PROGRESS_DELAY_NS;
    if (env != NULL && strcmp(env, "0") == 0) {
        p->on = false;
    } else if (env != NULL && strcmp(env, "1") == 0) {
        p->on = true;
        p->delay_ns = 0;
    } else {
        p->on = isatty(STDERR_FILENO) == 1;
    }
}

bool cli_progress_due(cli_progress_t *p)
{
    if (!p->on)
        return false;
    uint64_t now = cli_now_ns();
    if (now - p->start_ns < p->delay_ns)
        return false;
    if (p->shown && now - p->last_ns < PROGRESS_PERIOD_NS)
        return false;
    p->last_ns = now;
    return true;
}

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void cli_progress_show(cli_progress_t *p, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (!p->on)
        return;
    int width = PROGRESS_WIDTH;
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        width = ws.ws_col;
    if (width > (int)sizeof line - 8)
        width = (int)sizeof line - 8;

    line[0] = '\r';
    va_start(ap, fmt);
    int n = vsnprintf(line + 1, (size_t)width, fmt, ap); /* width - 1 characters */
    va_end(ap);
    if (n < 0)
        return;
    size_t len = 1 + ((size_t)n < (size_t)width - 1 ? (size_t)n : (size_t)width - 1);
    memcpy(line + len, "\033[K", 3);
    write_all(line, len + 3);
    p->shown = true;
}

void cli_progress_clear(cli_progress_t *p)
{
    if (!p->shown)
        return;
    write_all("\r\033[K", 4);
    p->shown = false;
}
