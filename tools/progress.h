/* progress.h - a one-line progress display on stderr, redrawn in place with
 * '\r', for commands that may run for a while.
 *
 * It shows only when stderr is a terminal and the job has run for more than
 * a second (short jobs stay silent), at most ten times a second, and the
 * line is erased at the end, so the terminal is left as it was.  The
 * environment variable MEMGOV_PROGRESS overrides the choice: "0" never
 * shows it; "1" shows it even when stderr is not a terminal, from the
 * start (for scripts and tests).  Not thread-safe: one per thread.
 */
#ifndef MEMGOV_TOOLS_PROGRESS_H
#define MEMGOV_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

typedef struct cli_progress {
    bool on;             /* may ever show */
    bool shown;          /* a line is on the screen now */
    uint64_t start_ns;   /* when the job started */
    uint64_t delay_ns;   /* nothing is shown before start + delay */
    uint64_t last_ns;    /* the last redraw */
} cli_progress_t;

/* Decides, from stderr and MEMGOV_PROGRESS, whether to show anything, and
 * starts the clock. */
void cli_progress_init(cli_progress_t *p);

/* True when a redraw is due now: on, past the first second, and a tenth of
 * a second after the last one.  Reads the clock; cheap enough to call once
 * per block of work, not once per record. */
bool cli_progress_due(cli_progress_t *p);

/* Draws the line (cut to the terminal's width).  Call when due. */
void cli_progress_show(cli_progress_t *p, const char *fmt, ...) CLI_PRINTF(2, 3);

/* Erases the line, if one is shown: before any other message on stderr,
 * and at the end. */
void cli_progress_clear(cli_progress_t *p);

#endif /* MEMGOV_TOOLS_PROGRESS_H */
