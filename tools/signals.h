/* signals.h - how the commands that spill (sort, bench sort) end on a
 * signal: after removing their spill files, never in the middle of it.
 *
 *   SIGINT, SIGTERM, SIGHUP: a handler that only records the signal
 *     (async-signal-safe), installed without SA_RESTART so that a read(2)
 *     blocked on a pipe or a terminal returns EINTR.  The command's loops
 *     look at cli_signal_pending(), tear down (sort destroy, governor
 *     destroy: the spill files and the private directory go) and call
 *     cli_signal_exit(), which raises the signal again with its default
 *     action: the exit status is 128 + signo, as if it was never caught.
 *   SIGPIPE: ignored, so a write to a closed pipe fails with EPIPE; the
 *     command takes that as the end of its output (cli_signal_epipe makes
 *     SIGPIPE the pending signal), tears down without a message and dies
 *     of SIGPIPE, as GNU sort does: `sort big | head -1` exits 141.
 *   A signal ignored when the command starts (nohup, `trap '' PIPE`) stays
 *   ignored; with SIGPIPE ignored, EPIPE is an ordinary write error.
 *
 * The work between two looks at the flag is bounded by the loops: a
 * record pushed or written, a read(2).  A call into the library is not
 * interrupted (mgov_sort_finish's merge passes run to their end first).
 * Helper threads are started with every signal blocked (output.c), so
 * the signals land in the main thread, whose system calls they
 * interrupt.
 */
#ifndef MEMGOV_TOOLS_SIGNALS_H
#define MEMGOV_TOOLS_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

/* Installs the handlers and ignores SIGPIPE, as above.  Call once, before
 * the command makes anything that needs removing. */
void cli_signals_catch(void);

extern volatile sig_atomic_t cli_signal_caught; /* written by the handler only */

/* The first signal caught (or SIGPIPE after cli_signal_epipe), else 0.
 * Inline: cheap enough to call once per record. */
static inline int cli_signal_pending(void)
{
    return cli_signal_caught;
}

/* A write failed with err: true when that is EPIPE on a pipe whose SIGPIPE
 * cli_signals_catch took over; SIGPIPE is then pending. */
bool cli_signal_epipe(int err);

/* When a signal is pending, ends the process by it (default action);
 * otherwise returns. */
void cli_signal_exit(void);

#endif /* MEMGOV_TOOLS_SIGNALS_H */
