/* cmd_host.c - `memgov host NAME [--watch]`: the budget shared by the
 * processes of a host (memgov/host.h) as its members see it: each member
 * (pid, command, weight, guarantee, leased, used, pressure, whether it
 * waits, is asked to give back or is late), the totals, and the host's
 * events; with --watch, the view every interval and events as they happen,
 * until interrupted.  It reads the shared segment (mgov_host_read) and
 * joins nothing.  `memgov host --demo` and `--bench` live in host_demo.c
 * and host_bench.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <memgov.h>

#include "cli.h"
#include "cmd_host.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

void cmd_host_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov host [--watch] [--interval MS] NAME\n"
            "       memgov host --demo [--workers N] [--memory SIZE] [--seconds S]\n"
            "       memgov host --bench [--pairs N] [--rounds R]\n"
            "\n"
            "Shows the memory budget NAME that several processes of this user share\n"
            "(a governor created with mgov_config_t.host = \"NAME\"): each member's\n"
            "pid, command, weight, guarantee, leased and used bytes and pressure, the\n"
            "totals, and the last events (joined, left, died, asked, answered, late,\n"
            "refused, repaired).  It reads the shared state and joins nothing.\n"
            "\n"
            "Options:\n"
            "  -w, --watch         show the view every interval, and events as they\n"
            "                      happen, until interrupted\n"
            "  -i, --interval MS   the view's period with --watch (default 1000)\n"
            "      --demo          start N worker processes sharing one budget, kill\n"
            "                      one with SIGKILL mid-run, check the others go on\n"
            "                      and the budget comes back whole\n"
            "      --workers N     demo workers (default 4)\n"
            "  -m, --memory SIZE   the demo's shared budget (default 64M, at least 8M)\n"
            "      --seconds S     the demo's length (default 3)\n"
            "      --bench         reserve+release pairs in 1, 2 and 4 processes\n"
            "                      sharing a budget against one local governor, and\n"
            "                      the time a member's death takes to be noticed\n"
            "      --pairs N       pairs per process and round (default 2000000)\n"
            "      --rounds R      rounds of each figure; the median is shown (default 3)\n"
            "  -h, --help          show this help and exit\n"
            "\n"
            "Exit status: 0 success, 1 no such host (or the demo's check failed),\n"
            "2 bad usage.\n");
}

static const char *clock_str(uint64_t realtime_ns, char *buf, size_t cap)
{
    time_t t = (time_t)(realtime_ns / 1000000000u);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t n = strftime(buf, cap, "%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03u", (unsigned)(realtime_ns / 1000000u % 1000u));
    return buf;
}

void host_event_print(const mgov_host_event_t *e)
{
    char when[32];
    printf("  %s  %-9s", clock_str(e->time_ns, when, sizeof when),
           mgov_host_event_name(e->type));
    if (e->slot >= 0)
        printf("  pid %d (slot %d)", e->pid, e->slot);
    else
        printf("  by pid %d", e->pid);
    if (e->bytes)
        printf("  %s", cli_size(e->bytes).s);
    putchar('\n');
}

static int show_view(const char *name, const mgov_host_view_t *v)
{
    printf("host %s: budget %s, leased %s (%.0f%%), used %s, %u member%s, chunk %s, asks "
           "above %.0f%%\n",
           name, cli_size(v->budget).s, cli_size(v->leased).s,
           v->budget ? 100.0 * (double)v->leased / (double)v->budget : 0.0, cli_size(v->used).s,
           v->n_members, v->n_members == 1 ? "" : "s", cli_size(v->chunk).s, v->high * 100);
    printf("  %-8s %-16s %6s %11s %11s %11s %-9s %s\n", "PID", "COMMAND", "WEIGHT",
           "GUARANTEE", "LEASED", "USED", "PRESSURE", "STATE");
    for (unsigned i = 0; i < v->n_members; i++) {
        const mgov_host_member_t *m = &v->members[i];
        char state[96] = "";
        size_t n = 0;
        if (m->want)
            n += (size_t)snprintf(state + n, sizeof state - n, "waits %s ", cli_size(m->want).s);
        if (m->ask && n < sizeof state)
            n += (size_t)snprintf(state + n, sizeof state - n, "asked %s ", cli_size(m->ask).s);
        if (m->late && n < sizeof state)
            snprintf(state + n, sizeof state - n, "late");
        char comm[17];
        size_t k = 0;
        for (; k < 16 && m->comm[k]; k++) /* a name from shared memory: printable only */
            comm[k] = m->comm[k] >= 0x20 && m->comm[k] < 0x7f ? m->comm[k] : '?';
        comm[k] = '\0';
        printf("  %-8d %-16s %6u %11s %11s %11s %-9s %s\n", m->pid, comm, m->weight,
               cli_size(m->guarantee).s, cli_size(m->leased).s, cli_size(m->used).s,
               mgov_pressure_name((mgov_pressure_t)m->level), state[0] ? state : "-");
    }
    return CLI_EXIT_OK;
}

int host_show(const char *name)
{
    static mgov_host_view_t v;
    int rc = mgov_host_read(name, &v);
    if (rc != MGOV_OK)
        return rc;
    show_view(name, &v);
    return MGOV_OK;
}

static int read_error(const char *name, int rc)
{
    if (rc == MGOV_ENOTFOUND)
        return cli_error("host", "no host budget named '%s' for this user", name);
    if (rc == MGOV_EINVAL)
        return cli_usage_error("host", "'%s' is not a host name (1 to 63 of A-Z a-z 0-9 _ . -, "
                                       "not starting with '.')",
                               name);
    return cli_runtime_error("host", rc, "cannot read the host budget '%s'", name);
}

static int watch(const char *name, uint64_t interval_ms, bool forever)
{
    static mgov_host_view_t v;
    int rc = mgov_host_read(name, &v);
    if (rc != MGOV_OK)
        return read_error(name, rc);
    show_view(name, &v);
    printf("events:\n");
    for (unsigned i = 0; i < v.n_events; i++)
        host_event_print(&v.events[i]);
    if (!forever)
        return CLI_EXIT_OK;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    uint64_t seen = v.ev_seq, last_view = cli_now_ns();
    while (!stop) {
        fflush(stdout);
        struct timespec nap = { 0, 100 * 1000 * 1000 }; /* events within 0.1 s */
        while (nanosleep(&nap, &nap) != 0 && errno == EINTR && !stop)
            ;
        if (stop)
            break;
        if ((rc = mgov_host_read(name, &v)) != MGOV_OK) {
            if (rc == MGOV_ENOTFOUND) {
                printf("host %s: gone (its last member left)\n", name);
                return CLI_EXIT_OK;
            }
            return read_error(name, rc);
        }
        for (unsigned i = 0; i < v.n_events; i++)
            if (v.events[i].seq >= seen)
                host_event_print(&v.events[i]);
        seen = v.ev_seq;
        if (cli_now_ns() - last_view >= interval_ms * 1000000u) {
            show_view(name, &v);
            last_view = cli_now_ns();
        }
    }
    return CLI_EXIT_OK;
}

int cmd_host(int argc, char **argv)
{
    enum { OPT_DEMO = 256, OPT_WORKERS, OPT_SECONDS, OPT_BENCH, OPT_PAIRS, OPT_ROUNDS };
    static const struct option opts[] = {
        { "watch", no_argument, NULL, 'w' },
        { "interval", required_argument, NULL, 'i' },
        { "demo", no_argument, NULL, OPT_DEMO },
        { "workers", required_argument, NULL, OPT_WORKERS },
        { "memory", required_argument, NULL, 'm' },
        { "seconds", required_argument, NULL, OPT_SECONDS },
        { "bench", no_argument, NULL, OPT_BENCH },
        { "pairs", required_argument, NULL, OPT_PAIRS },
        { "rounds", required_argument, NULL, OPT_ROUNDS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "host", cmd_host_help };
    bool forever = false, demo = false, bench = false;
    uint64_t interval = 1000, workers = 4, budget = 64u << 20, seconds = 3;
    uint64_t pairs = 2000000, rounds = 3;
    int c, rc;
    while ((c = cli_getopt(&cmd, argc, argv, ":wi:m:h", opts, &rc)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return rc;
        case 'w':
            forever = true;
            break;
        case 'i':
            rc = cli_parse_count("host", "--interval", optarg, 10, 3600000, &interval);
            break;
        case OPT_DEMO:
            demo = true;
            break;
        case OPT_BENCH:
            bench = true;
            break;
        case OPT_WORKERS:
            rc = cli_parse_count("host", "--workers", optarg, 2, 32, &workers);
            break;
        case 'm':
            rc = cli_parse_size("host", "--memory", optarg, 0, (uint64_t)8 << 20,
                                MGOV_BUDGET_MAX, &budget);
            break;
        case OPT_SECONDS:
            rc = cli_parse_count("host", "--seconds", optarg, 1, 3600, &seconds);
            break;
        case OPT_PAIRS:
            rc = cli_parse_count("host", "--pairs", optarg, 1000, 1000000000, &pairs);
            break;
        case OPT_ROUNDS:
            rc = cli_parse_count("host", "--rounds", optarg, 1, 99, &rounds);
            break;
        }
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (demo || bench) {
        if (demo && bench)
            return cli_usage_error("host", "--demo and --bench are separate runs");
        if ((rc = cli_no_operands(&cmd, argc, argv)) != CLI_EXIT_OK)
            return rc;
        return demo ? host_demo((unsigned)workers, budget, (unsigned)seconds)
                    : host_bench(pairs, (unsigned)rounds);
    }
    if (optind + 1 != argc)
        return cli_usage_error("host", optind >= argc ? "missing host NAME" : "expected one NAME");
    return watch(argv[optind], interval, forever);
}
