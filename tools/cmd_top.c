/* cmd_top.c - `memgov top [--once] [--interval MS] [--dir DIR] PID`: a live
 * view of the governors of a running process.
 *
 * A process whose environment has MEMGOV_STATS set has each of its
 * governors write its stats, every second, to DIR/<pid>-<n>.json (see
 * docs/governor.md "The stats file"): DIR is MEMGOV_STATS when it is an
 * absolute path, else $XDG_RUNTIME_DIR/memgov, else /tmp/memgov-<uid>, a
 * directory only its user can enter, files only its user can read.  This
 * command finds those files for PID and shows them: budget, usage and
 * pressure; the process's real memory and the part the governor does not
 * count; and per region its bytes, limit, reservation, heaps, waits and
 * refusals.  It reads files and nothing else: it sends nothing to the
 * process and changes nothing.
 *
 * It redraws every interval (1 s) until interrupted, clearing the screen
 * when standard output is a terminal; --once prints one view and exits.
 * The JSON is the library's own (mgov_stats_json), read with a few
 * targeted lookups, not a general parser: a file that does not parse is
 * reported and skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <memgov.h>

#include "cli.h"
#include "cmd_top.h"

#define FILE_MAX ((size_t)1 << 20)
#define MAX_FILES 16

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

void cmd_top_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov top [--once] [--interval MS] [--dir DIR] PID\n"
            "\n"
            "Shows the governors of a running process, live: budget, usage,\n"
            "pressure, the process's real memory and the part outside the\n"
            "governor, and per region its bytes, limit, reservation, heaps, waits\n"
            "and refusals.  The process must run with MEMGOV_STATS set in its\n"
            "environment (MEMGOV_STATS=1, or a directory): its governors then\n"
            "write their stats every second to a file only its user can read.\n"
            "This command only reads those files.\n"
            "\n"
            "Options:\n"
            "  -1, --once          print one view and exit\n"
            "  -i, --interval MS   redraw every MS milliseconds (default 1000)\n"
            "  -d, --dir DIR       where the files are (default: MEMGOV_STATS when it\n"
            "                      is a directory, else $XDG_RUNTIME_DIR/memgov, else\n"
            "                      /tmp/memgov-<uid>)\n"
            "  -h, --help          show this help and exit\n"
            "\n"
            "Exit status: 0 success, 1 no stats file for PID, 2 bad usage.\n");
}

/* ------------------------------------------------------------ reading */

static void default_dir(char *dir, size_t cap)
{
    const char *env = getenv("MEMGOV_STATS");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (env && env[0] == '/')
        snprintf(dir, cap, "%s", env);
    else if (xdg && xdg[0] == '/')
        snprintf(dir, cap, "%s/memgov", xdg);
    else
        snprintf(dir, cap, "/tmp/memgov-%u", (unsigned)geteuid());
}

/* The number after "key": in [s, end), or false. */
static bool num(const char *s, const char *end, const char *key, uint64_t *out)
{
    char pat[64];
    size_t n = (size_t)snprintf(pat, sizeof pat, "\"%s\":", key);
    for (const char *p = s; p && p + n <= end; p++) {
        p = strstr(p, pat);
        if (!p || p + n > end)
            return false;
        const char *v = p + n;
        if (*v < '0' || *v > '9')
            continue;
        return cli_decimal(v, strspn(v, "0123456789"), out);
    }
    return false;
}

/* The string after "key": in [s, end) into buf. */
static bool str(const char *s, const char *end, const char *key, char *buf, size_t cap)
{
    char pat[64];
    size_t n = (size_t)snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(s, pat);
    if (!p || p + n > end)
        return false;
    p += n;
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q || (size_t)(q - p) >= cap)
        return false;
    memcpy(buf, p, (size_t)(q - p));
    buf[q - p] = '\0';
    return true;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    char *buf = malloc(FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FILE_MAX, fp) : 0;
    fclose(fp);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* ------------------------------------------------------------ showing */

static const char *sz(uint64_t v, char *buf)
{
    mgov_size_format(v, buf, 32);
    return buf;
}

/* One governor's view; false when the file does not parse. */
static bool show(const char *path, uint64_t now_ns)
{
    size_t len;
    char *js = slurp(path, &len);
    if (!js)
        return false;
    const char *end = js + len;
    uint64_t gov_n = 0, t = 0, budget = 0, used = 0, peak = 0, rss = 0, real = 0, untracked = 0;
    uint64_t cur = 0, signals = 0, moves = 0, heaps = 0, waiters = 0, consumers = 0;
    char pressure[32] = "?";
    const char *regions = strstr(js, "\"regions\":[");
    bool ok = regions && num(js, regions, "governor", &gov_n) && num(js, regions, "time_ns", &t) &&
              num(js, regions, "budget", &budget) && num(js, regions, "used", &used) &&
              num(js, regions, "peak", &peak) && str(js, regions, "pressure", pressure,
                                                       sizeof pressure);
    if (!ok) {
        free(js);
        return false;
    }
    num(js, regions, "rss", &rss);
    num(js, regions, "real", &real);
    num(js, regions, "untracked", &untracked);
    num(js, regions, "current", &cur);
    num(js, regions, "kernel_signals", &signals);
    num(js, regions, "rebalance_moves", &moves);
    num(js, regions, "heaps", &heaps);
    num(js, regions, "waiters", &waiters);
    num(js, regions, "consumers", &consumers);

    char a[32], b[32], c[32], d[32];
    double age = now_ns > t ? (double)(now_ns - t) / 1e9 : 0;
    printf("governor %" PRIu64 "  (%s, written %.1f s ago)\n", gov_n, path, age);
    printf("  budget %s   used %s (%.1f%%)   peak %s   pressure %s\n", sz(budget, a),
           sz(used, b), budget ? 100.0 * (double)used / (double)budget : 0.0, sz(peak, c),
           pressure);
    printf("  real %s (%s)   untracked %s   rss %s\n", sz(real, a),
           cur ? "cgroup memory.current" : "RSS", sz(untracked, b), sz(rss, c));
    printf("  consumers %" PRIu64 "   heaps %" PRIu64 "   waiting %" PRIu64
           "   kernel signals %" PRIu64 "   rebalancer moves %" PRIu64 "\n",
           consumers, heaps, waiters, signals, moves);
    printf("  %-20s %10s %10s %10s %10s %10s %7s %8s\n", "region", "used", "limit", "reserved",
           "heap", "heap RSS", "waits", "refused");
    for (const char *r = strchr(regions, '{'); r && r < end;) {
        /* a region object: its braces, the heap's inside */
        int depth = 0;
        const char *q = r;
        for (; q < end; q++) {
            depth += *q == '{';
            depth -= *q == '}';
            if (depth == 0)
                break;
        }
        if (q >= end)
            break;
        char name[MGOV_NAME_MAX + 1] = "?";
        uint64_t ru = 0, lim = 0, res = 0, ha = 0, hr = 0, waits = 0, refusals = 0;
        str(r, q, "name", name, sizeof name);
        num(r, q, "used", &ru);
        num(r, q, "limit", &lim);
        num(r, q, "reserved", &res);
        num(r, q, "allocated", &ha);
        num(r, q, "resident", &hr);
        num(r, q, "waits", &waits);
        num(r, q, "refusals", &refusals);
        char e[32];
        printf("  %-20s %10s %10s %10s %10s %10s %7" PRIu64 " %8" PRIu64 "\n", name, sz(ru, a),
               lim ? sz(lim, b) : "-", res ? sz(res, c) : "-", sz(ha, d), sz(hr, e), waits,
               refusals);
        r = q + 1;
        while (r < end && (*r == ',' || *r == ' '))
            r++;
        if (r >= end || *r != '{')
            break;
    }
    free(js);
    return true;
}

/* Every file of pid in dir, sorted; returns how many. */
static int find(const char *dir, long pid, char paths[][PATH_MAX], int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char prefix[32];
    size_t pn = (size_t)snprintf(prefix, sizeof prefix, "%ld-", pid);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, pn) != 0 || len < pn + 6 ||
            strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (strlen(dir) + 1 + len >= PATH_MAX)
            continue;
        memcpy(paths[n], dir, strlen(dir));
        paths[n][strlen(dir)] = '/';
        memcpy(paths[n] + strlen(dir) + 1, e->d_name, len + 1);
        n++;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* a few names: insertion sort */
        for (int j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
            char tmp[PATH_MAX];
            memcpy(tmp, paths[j], PATH_MAX);
            memcpy(paths[j], paths[j - 1], PATH_MAX);
            memcpy(paths[j - 1], tmp, PATH_MAX);
        }
    return n;
}

int cmd_top(int argc, char **argv)
{
    static const struct option opts[] = {
        { "once", no_argument, NULL, '1' },
        { "interval", required_argument, NULL, 'i' },
        { "dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "top", cmd_top_help };
    bool once = false;
    uint64_t interval = 1000;
    char dir[PATH_MAX];
    default_dir(dir, sizeof dir);
    int c, rc;
    while ((c = cli_getopt(&cmd, argc, argv, ":1i:d:h", opts, &rc)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return rc;
        case '1':
            once = true;
            break;
        case 'i':
            if ((rc = cli_parse_count("top", "--interval", optarg, 10, 3600000, &interval)) !=
                CLI_EXIT_OK)
                return rc;
            break;
        case 'd':
            if (!*optarg)
                return cli_usage_error("top", "--dir needs a directory");
            snprintf(dir, sizeof dir, "%s", optarg);
            break;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("top", optind >= argc ? "missing PID" : "expected one PID");
    uint64_t pid;
    const char *p = argv[optind];
    if (!cli_decimal(p, strlen(p), &pid) || pid == 0 || pid > INT32_MAX)
        return cli_usage_error("top", "'%s' is not a process id", p);

    static char paths[MAX_FILES][PATH_MAX];
    bool tty = isatty(STDOUT_FILENO);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (bool first = true; !stop; first = false) {
        int n = find(dir, (long)pid, paths, MAX_FILES);
        if (n <= 0) {
            if (first || once)
                return cli_error("top",
                                 "no stats file for process %" PRIu64 " in %s (does it run with "
                                 "MEMGOV_STATS set?)",
                                 pid, dir);
            printf("process %" PRIu64 ": its stats file is gone (the governor was destroyed, "
                   "or the process ended)\n",
                   pid);
            break;
        }
        if (tty && !once)
            fputs("\033[H\033[2J", stdout);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        printf("memgov top: process %" PRIu64 ", %d governor%s\n", pid, n, n == 1 ? "" : "s");
        for (int i = 0; i < n; i++)
            if (!show(paths[i], now))
                printf("governor file %s: cannot be read now\n", paths[i]);
        if (once)
            break;
        fflush(stdout);
        struct timespec nap = { (time_t)(interval / 1000), (long)(interval % 1000) * 1000000 };
        while (nanosleep(&nap, &nap) != 0 && errno == EINTR && !stop)
            ;
    }
    return CLI_EXIT_OK;
}
