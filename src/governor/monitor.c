/* governor/monitor.c - the governor's one optional thread: it watches the
 * kernel's pressure signals (MGOV_KERNEL_PRESSURE), runs the rebalancer
 * (MGOV_REBALANCE) and writes the stats file (MEMGOV_STATS).  No thread
 * exists when none of these is asked for.
 *
 *   poll([wake pipe, notifying sources...], next deadline)
 *     -> a source signalled:      mgov_pressure_signal(gov, source)
 *     -> sources read by interval: checked every watch_interval_ms
 *     -> rebalancer:               mgov__rebalance_tick every rebalance_interval_ms
 *     -> stats file:               rewritten every MEMGOV_STATS_INTERVAL_MS (1000)
 *
 * Signals are coalesced: at most one reclaim per SIGNAL_GAP_NS (50 ms),
 * whatever the number of sources that fire together; one that comes
 * within the gap is acted on when the gap ends.
 *
 * The stats file.  With MEMGOV_STATS set (to a directory, or to anything
 * else for the default: $XDG_RUNTIME_DIR/memgov, else /tmp/memgov-<uid>)
 * the monitor writes <dir>/<pid>-<n>.json, n numbering the governors of
 * the process: {"pid":..,"governor":n,"time_ns":..,"stats":<mgov_stats_json>}.
 * The directory is made 0700 and must be a real directory owned by this
 * user with no access for others (else no file, an MGOV_EV_STATS_FILE
 * event says why); the file is 0600, replaced by rename, removed at
 * destroy.  `memgov top PID` reads it.  Nothing is ever read from it.
 *
 * Locking: the thread takes no governor lock of its own; it calls the
 * governor's functions as any thread does.  Start and stop happen in
 * mgov_create and mgov_destroy, where no other thread uses the governor.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "governor/internal.h"
#include "sys/fileio.h"
#include "sys/psrc.h"
#include "sys/sys.h"

#define SIGNAL_GAP_NS (50 * 1000 * 1000ull)
#define STATS_INTERVAL_MS 1000u

struct mgov__monitor {
    pthread_t thread;
    int wake[2];                   /* pipe: a byte = stop */
    mgov__psrc_t src[MGOV__PSRC_MAX];
    unsigned n_src;
    bool watch, rebalance;
    char *stats_path, *stats_tmp;  /* NULL: no stats file */
    unsigned stats_interval_ms;
    unsigned serial;
    uint64_t last_signal_ns;
    char pending[48];              /* a signal held back by the gap, or "" */
};

static _Atomic unsigned gov_serial;

/* ------------------------------------------------------------ signals */

uint64_t mgov_pressure_signal(mgov_t *gov, const char *source)
{
    if (!gov)
        return 0;
    uint64_t used = atomic_load_explicit(&gov->used, memory_order_relaxed);
    uint64_t target = used / 8;
    if (target < ((uint64_t)1 << 20))
        target = (uint64_t)1 << 20;
    /* statistics: relaxed */
    atomic_fetch_add_explicit(&gov->kernel_signals, 1, memory_order_relaxed);
    /* evict, then spill: HIGH, whatever the governor's own level */
    uint64_t freed = mgov__reclaim_pass(gov, target, MGOV_PRESSURE_HIGH, -1);
    mgov__trim(gov);
    if (mgov__has_events(gov)) {
        mgov_event_t ev;
        mgov__event_init(&ev, MGOV_EV_KERNEL_PRESSURE, gov, -1);
        ev.name = source ? source : "user";
        ev.bytes = target;
        ev.freed = freed;
        ev.used = atomic_load_explicit(&gov->used, memory_order_relaxed);
        mgov__emit(gov, &ev);
    }
    return freed;
}

static void source_report(void *arg, const char *name, const char *path, int status,
                          bool notifies)
{
    mgov_t *gov = arg;
    if (!mgov__has_events(gov))
        return;
    mgov_event_t ev;
    mgov__event_init(&ev, MGOV_EV_PRESSURE_SOURCE, gov, -1);
    char label[PATH_MAX + 64];
    snprintf(label, sizeof label, "%s%s%s", name, *path ? " " : "", path);
    ev.name = label;
    ev.status = status;
    ev.count = notifies;
    mgov__emit(gov, &ev);
}

static void signal_from(mgov_t *gov, struct mgov__monitor *m, const char *what)
{
    uint64_t now = mgov__now_ns();
    if (m->last_signal_ns && now - m->last_signal_ns < SIGNAL_GAP_NS) {
        /* too soon after the last: acted on when the gap ends, once,
         * under the name of the latest */
        snprintf(m->pending, sizeof m->pending, "%s", what);
        return;
    }
    m->pending[0] = '\0';
    m->last_signal_ns = now;
    mgov_pressure_signal(gov, what);
}

/* --------------------------------------------------------- stats file */

static void stats_event(mgov_t *gov, const char *path, int status)
{
    if (!mgov__has_events(gov))
        return;
    mgov_event_t ev;
    mgov__event_init(&ev, MGOV_EV_STATS_FILE, gov, -1);
    ev.name = path;
    ev.status = status;
    mgov__emit(gov, &ev);
}

/* The directory MEMGOV_STATS names, made private; MGOV_OK or why not. */
static int stats_dir(const char *env, char *dir, size_t cap)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (env[0] == '/')
        n = snprintf(dir, cap, "%s", env);
    else if (xdg && xdg[0] == '/')
        n = snprintf(dir, cap, "%s/memgov", xdg);
    else
        n = snprintf(dir, cap, "/tmp/memgov-%u", (unsigned)geteuid());
    if (n < 0 || (size_t)n >= cap)
        return MGOV_EINVAL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return mgov__status_from_errno(errno);
    struct stat st;
    if (lstat(dir, &st) != 0)
        return mgov__status_from_errno(errno);
    /* someone else's, a symlink, or open to others: not ours to write in */
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return MGOV_EBUSY;
    return MGOV_OK;
}

static void stats_setup(mgov_t *gov, struct mgov__monitor *m)
{
    const char *env = getenv("MEMGOV_STATS");
    if (!env || !*env || strcmp(env, "0") == 0)
        return;
    char dir[PATH_MAX];
    int rc = stats_dir(env, dir, sizeof dir);
    if (rc != MGOV_OK) {
        stats_event(gov, dir, rc);
        return;
    }
    const char *iv = getenv("MEMGOV_STATS_INTERVAL_MS");
    long ms = iv ? strtol(iv, NULL, 10) : 0;
    m->stats_interval_ms = ms > 0 && ms < 3600000 ? (unsigned)ms : STATS_INTERVAL_MS;
    size_t len = strlen(dir) + 64;
    m->stats_path = malloc(len);
    m->stats_tmp = malloc(len);
    if (!m->stats_path || !m->stats_tmp) {
        free(m->stats_path);
        free(m->stats_tmp);
        m->stats_path = m->stats_tmp = NULL;
        stats_event(gov, dir, MGOV_ENOMEM);
        return;
    }
    snprintf(m->stats_path, len, "%s/%ld-%u.json", dir, (long)getpid(), m->serial);
    snprintf(m->stats_tmp, len, "%s/.%ld-%u.json.tmp", dir, (long)getpid(), m->serial);
    stats_event(gov, m->stats_path, MGOV_OK);
}

static void stats_write(mgov_t *gov, struct mgov__monitor *m)
{
    size_t cap = 16384;
    char *buf = NULL;
    for (int tries = 0; tries < 4; tries++) {
        free(buf);
        if (!(buf = malloc(cap)))
            return;
        int head = snprintf(buf, cap, "{\"pid\":%ld,\"governor\":%u,\"time_ns\":%llu,\"stats\":",
                            (long)getpid(), m->serial, (unsigned long long)mgov__now_ns());
        size_t need = mgov_stats_json(gov, buf + head, cap - (size_t)head - 2);
        if ((size_t)head + need + 2 < cap) {
            size_t len = (size_t)head + need;
            buf[len++] = '}';
            buf[len++] = '\n';
            /* a fresh file every time: a name planted there (a hard link
             * to a file elsewhere, a FIFO) is unlinked, never written */
            unlink(m->stats_tmp);
            int fd = mgov__open(m->stats_tmp,
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd >= 0) {
                int wrc = mgov__write_all(fd, buf, len);
                close(fd);
                if (wrc == 0)
                    mgov__rename(m->stats_tmp, m->stats_path);
                else
                    unlink(m->stats_tmp);
            }
            break;
        }
        cap = (size_t)head + need + 64;
    }
    free(buf);
}

/* ------------------------------------------------------------- thread */

static uint64_t ms_ns(unsigned ms) { return (uint64_t)ms * 1000000ull; }

static void *monitor_main(void *arg)
{
    mgov_t *gov = arg;
    struct mgov__monitor *m = gov->monitor;
    uint64_t now = mgov__now_ns();
    uint64_t next_watch = now + ms_ns(gov->watch_interval_ms);
    uint64_t next_rb = now + ms_ns(gov->rebalance_interval_ms);
    uint64_t next_stats = now; /* the file exists from the start */
    for (;;) {
        struct pollfd pfd[1 + MGOV__PSRC_MAX];
        int map[1 + MGOV__PSRC_MAX];
        unsigned np = 0;
        bool polled = false;
        pfd[np] = (struct pollfd){ .fd = m->wake[0], .events = POLLIN };
        map[np++] = -1;
        for (unsigned i = 0; i < m->n_src; i++) {
            short evs;
            int fd = mgov__psrc_pollfd(&m->src[i], &evs);
            if (fd >= 0) {
                pfd[np] = (struct pollfd){ .fd = fd, .events = evs };
                map[np++] = (int)i;
            } else if (!m->src[i].gone) {
                polled = true;
            }
        }
        now = mgov__now_ns();
        uint64_t next = UINT64_MAX;
        if (polled && next_watch < next)
            next = next_watch;
        if (m->rebalance && next_rb < next)
            next = next_rb;
        if (m->stats_path && next_stats < next)
            next = next_stats;
        if (m->pending[0] && m->last_signal_ns + SIGNAL_GAP_NS < next)
            next = m->last_signal_ns + SIGNAL_GAP_NS;
        int timeout = next == UINT64_MAX ? -1
                      : next <= now      ? 0
                                         : (int)((next - now + 999999) / 1000000);
        int rc = poll(pfd, np, timeout);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
            break; /* stop */
        for (unsigned k = 1; rc > 0 && k < np; k++) {
            if (!pfd[k].revents)
                continue;
            mgov__psrc_t *s = &m->src[map[k]];
            if (mgov__psrc_ready(s, pfd[k].revents) == 1)
                signal_from(gov, m, s->last);
        }
        now = mgov__now_ns();
        if (m->pending[0] && now >= m->last_signal_ns + SIGNAL_GAP_NS) {
            char what[sizeof m->pending];
            memcpy(what, m->pending, sizeof what);
            signal_from(gov, m, what);
        }
        if (polled && now >= next_watch) {
            for (unsigned i = 0; i < m->n_src; i++)
                if (mgov__psrc_check(&m->src[i], now) == 1)
                    signal_from(gov, m, m->src[i].last);
            next_watch = now + ms_ns(gov->watch_interval_ms);
        }
        if (m->rebalance && now >= next_rb) {
            mgov__rebalance_tick(gov);
            next_rb = now + ms_ns(gov->rebalance_interval_ms);
        }
        if (m->stats_path && now >= next_stats) {
            stats_write(gov, m);
            next_stats = mgov__now_ns() + ms_ns(m->stats_interval_ms);
        }
    }
    return NULL;
}

static void monitor_free(struct mgov__monitor *m)
{
    for (unsigned i = 0; i < m->n_src; i++)
        mgov__psrc_close(&m->src[i]);
    if (m->wake[0] >= 0)
        close(m->wake[0]);
    if (m->wake[1] >= 0)
        close(m->wake[1]);
    if (m->stats_path)
        unlink(m->stats_path);
    free(m->stats_path);
    free(m->stats_tmp);
    free(m);
}

int mgov__monitor_start(mgov_t *gov)
{
    const char *env = getenv("MEMGOV_STATS");
    bool stats = env && *env && strcmp(env, "0") != 0;
    bool watch = gov->flags & MGOV_KERNEL_PRESSURE, rebalance = gov->flags & MGOV_REBALANCE;
    if (!watch && !rebalance && !stats)
        return MGOV_OK;
    struct mgov__monitor *m = calloc(1, sizeof *m);
    if (!m)
        return MGOV_ENOMEM;
    m->wake[0] = m->wake[1] = -1;
    m->watch = watch;
    m->rebalance = rebalance;
    /* relaxed: a serial number, ordered with nothing */
    m->serial = atomic_fetch_add_explicit(&gov_serial, 1, memory_order_relaxed) + 1;
    if (pipe2(m->wake, O_CLOEXEC) != 0) {
        monitor_free(m);
        return MGOV_ENOMEM;
    }
    gov->monitor = m;
    if (watch)
        m->n_src = mgov__psrc_open_all(m->src, gov->cgroup_dir, source_report, gov);
    if (stats)
        stats_setup(gov, m);
    if (pthread_create(&m->thread, NULL, monitor_main, gov) != 0) {
        gov->monitor = NULL;
        monitor_free(m);
        return MGOV_ENOMEM;
    }
    return MGOV_OK;
}

void mgov__monitor_stop(mgov_t *gov)
{
    struct mgov__monitor *m = gov->monitor;
    if (!m)
        return;
    char b = 1;
    while (write(m->wake[1], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(m->thread, NULL);
    gov->monitor = NULL;
    monitor_free(m);
}
