/* signals.c - catching SIGINT, SIGTERM and SIGHUP, taking SIGPIPE over,
 * and ending by the signal after the clean-up (see signals.h).
 *
 * The handler's only action is a store to cli_signal_caught, a volatile
 * sig_atomic_t: the first signal wins, later ones are dropped (the clean-up is under way).
 * Everything else runs in the main thread, outside the handler.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "signals.h"

volatile sig_atomic_t cli_signal_caught;
static bool pipe_ours; /* SIGPIPE was not ignored at start: we ignore it */

static void on_signal(int sig)
{
    if (cli_signal_caught == 0)
        cli_signal_caught = sig;
}

/* True when sig is ignored now: it was at exec (nohup), so it stays. */
static bool ignored(int sig)
{
    struct sigaction old;

    return sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN;
}

void cli_signals_catch(void)
{
    static const int caught[] = { SIGINT, SIGTERM, SIGHUP };
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read(2) returns EINTR */
    for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
        if (!ignored(caught[i]))
            sigaction(caught[i], &sa, NULL);

    if (!ignored(SIGPIPE)) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
        pipe_ours = true;
    }
}

bool cli_signal_epipe(int err)
{
    if (err != EPIPE || !pipe_ours)
        return false;
    if (cli_signal_caught == 0)
        cli_signal_caught = SIGPIPE;
    return true;
}

void cli_signal_exit(void)
{
    int sig = cli_signal_caught;
    struct sigaction sa;
    sigset_t set;

    if (sig == 0)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached: the default action of each ends us */
}
