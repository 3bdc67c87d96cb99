/* sys/psrc.c - the kernel's memory pressure signals (see sys/psrc.h).
 *
 * Which sources, in this order:
 *   1. systemd   $MEMORY_PRESSURE_WATCH (unset or "/dev/null": skipped);
 *   2. psi       the cgroup's memory.pressure, or <proc>/pressure/memory
 *                when there is no cgroup v2 (one of them: the cgroup's is
 *                the one that matters to a limited process);
 *   3. memory.events of the cgroup v2.
 *
 * How each is watched:
 *   - a PSI file on procfs or cgroupfs, opened for writing, takes a trigger
 *     and then signals with POLLPRI (the kernel also reports POLLERR when
 *     the cgroup goes away: the source is dropped);
 *   - a PSI file that refuses the trigger (EACCES, EPERM, a read-only
 *     cgroupfs, an unprivileged window that is not a multiple of 2 s) or
 *     that is not the kernel's is read every interval instead: a signal is
 *     a "some" stall that grew by at least stall/window of the interval;
 *   - memory.events on cgroupfs signals a change with POLLPRI; elsewhere it
 *     is read every interval; either way a signal is high, max, oom or
 *     oom_kill growing;
 *   - a FIFO (opened read-write, so it never reports a hang-up) or a socket
 *     signals with POLLIN; what was written is read and discarded.
 *
 * Invariants: every file is read with a bounded buffer; numbers are parsed
 * strictly; a source that fails later is closed and skipped, never an
 * error for the governor.
 *
 * Threading: none of its own; a source belongs to one thread.
 */
#include "sys/psrc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "memgov/common.h"
#include "memgov/sysinfo.h"
#include "sys/fileio.h"
#include "sys/sys.h"

#define PROC_MAGIC 0x9fa0
#define CGROUP2_MAGIC 0x63677270
#define CGROUP1_MAGIC 0x27e0eb
#define FILE_CAP 1024

long mgov__base64_decode(const char *in, unsigned char *out, size_t cap)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '=') {
            pad++;
            continue;
        }
        const char *c = pad ? NULL : strchr(alphabet, *p);
        if (!c || !*p)
            return -1; /* garbage, or data after padding */
        acc = acc << 6 | (uint32_t)(c - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (pad > 2)
        return -1;
    return (long)n;
}

static bool kernel_file(int fd)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0)
        return false;
    return sf.f_type == PROC_MAGIC || sf.f_type == CGROUP2_MAGIC || sf.f_type == CGROUP1_MAGIC;
}

static int status_of(int err)
{
    return err == ENOENT ? MGOV_ENOTFOUND : mgov__status_from_errno(err);
}

/* Reads a small file (fd from offset 0, or path) into buf; its length or -1. */
static long read_small(int fd, const char *path, char *buf, size_t cap)
{
    size_t got = 0;
    int own = fd < 0;
    if (own && (fd = mgov__open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0)) < 0)
        return -1;
    int rc = mgov__pread_full(fd, buf, cap - 1, 0, &got);
    if (own)
        close(fd);
    if (rc != 0)
        return -1;
    buf[got] = '\0';
    return (long)got;
}

/* "some avg10=... total=N": N, or -1. */
static int psi_some_total(const char *text, uint64_t *out)
{
    const char *line = strstr(text, "some ");
    if (!line || (line != text && line[-1] != '\n'))
        return -1;
    const char *t = strstr(line, "total=");
    const char *eol = strchr(line, '\n');
    if (!t || (eol && t > eol))
        return -1;
    t += 6;
    uint64_t v = 0;
    if (*t < '0' || *t > '9')
        return -1;
    for (; *t >= '0' && *t <= '9'; t++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*t - '0');
    }
    *out = v;
    return 0;
}

/* memory.events: high, max, oom, oom_kill into ev (missing keys stay 0). */
static int events_parse(const char *text, uint64_t ev[4])
{
    static const char *const keys[4] = { "high", "max", "oom", "oom_kill" };
    memset(ev, 0, 4 * sizeof ev[0]);
    int found = 0;
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        for (int k = 0; k < 4; k++) {
            size_t n = strlen(keys[k]);
            if (strncmp(line, keys[k], n) != 0 || line[n] != ' ')
                continue;
            const char *p = line + n + 1;
            uint64_t v = 0;
            if (*p < '0' || *p > '9')
                break;
            for (; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (uint64_t)(*p - '0');
            ev[k] = v;
            found = 1;
            break;
        }
        line = eol ? eol + 1 : NULL;
    }
    return found ? 0 : -1;
}

/* A PSI file: trigger (POLLPRI) if the kernel takes it, else read. */
static int open_psi(mgov__psrc_t *s, const char *path, const unsigned char *trigger,
                    size_t trigger_len, bool *notifies)
{
    snprintf(s->path, sizeof s->path, "%s", path);
    int fd = mgov__open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd >= 0) {
        if (kernel_file(fd) && mgov__write_all(fd, trigger, trigger_len) == 0) {
            s->fd = fd;
            s->mode = MGOV__PSRC_NOTIFY_PRI;
            *notifies = true;
            return MGOV_OK;
        }
        close(fd); /* refused, or not the kernel's: read the averages */
    }
    char buf[FILE_CAP];
    if (read_small(-1, path, buf, sizeof buf) < 0)
        return status_of(errno);
    if (psi_some_total(buf, &s->total) != 0)
        return MGOV_ECORRUPT;
    s->fd = -1;
    s->mode = MGOV__PSRC_READ;
    s->primed = true;
    s->total_at_ns = mgov__now_ns();
    *notifies = false;
    return MGOV_OK;
}

static int open_systemd(mgov__psrc_t *s, bool *notifies)
{
    const char *watch = getenv("MEMORY_PRESSURE_WATCH");
    if (!watch || !*watch)
        return MGOV_ENOTFOUND;
    snprintf(s->path, sizeof s->path, "%s", watch);
    if (strcmp(watch, "/dev/null") == 0)
        return MGOV_ENOTSUP; /* turned off by the service manager */
    unsigned char trig[256];
    long tlen = 0;
    const char *w = getenv("MEMORY_PRESSURE_WRITE");
    if (w && *w && (tlen = mgov__base64_decode(w, trig, sizeof trig)) < 0)
        return MGOV_EINVAL;
    struct stat st;
    if (stat(watch, &st) != 0)
        return status_of(errno);
    if (S_ISFIFO(st.st_mode)) {
        /* read-write: we are a writer too, so no hang-up when theirs closes */
        int fd = mgov__open(watch, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
        if (fd < 0 && (fd = mgov__open(watch, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0)) < 0)
            return status_of(errno);
        s->fd = fd;
        s->mode = MGOV__PSRC_NOTIFY_IN;
        *notifies = true;
        return MGOV_OK;
    }
    if (S_ISSOCK(st.st_mode)) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(watch) >= sizeof sa.sun_path)
            return MGOV_EINVAL;
        strcpy(sa.sun_path, watch);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return status_of(errno);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            (tlen > 0 && mgov__write_all(fd, trig, (size_t)tlen) != 0)) {
            int err = errno;
            close(fd);
            return status_of(err);
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        s->fd = fd;
        s->mode = MGOV__PSRC_NOTIFY_IN;
        *notifies = true;
        return MGOV_OK;
    }
    /* a PSI file: the trigger systemd chose, or ours */
    char ours[64];
    if (tlen <= 0) { /* with its NUL: the kernel reads the last byte as one */
        tlen = snprintf(ours, sizeof ours, "some %u %u", MGOV__PSI_STALL_US,
                        MGOV__PSI_WINDOW_US) + 1;
        memcpy(trig, ours, (size_t)tlen);
    }
    return open_psi(s, watch, trig, (size_t)tlen, notifies);
}

static int open_events(mgov__psrc_t *s, const char *cgroup_dir, bool *notifies)
{
    if (!cgroup_dir)
        return MGOV_ENOTFOUND;
    if (snprintf(s->path, sizeof s->path, "%s/memory.events", cgroup_dir) >= (int)sizeof s->path)
        return MGOV_EINVAL;
    int fd = mgov__open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0)
        return status_of(errno);
    char buf[FILE_CAP];
    if (read_small(fd, NULL, buf, sizeof buf) < 0 || events_parse(buf, s->events) != 0) {
        close(fd);
        return MGOV_ECORRUPT;
    }
    s->primed = true;
    s->fd = fd;
    *notifies = kernel_file(fd);
    s->mode = *notifies ? MGOV__PSRC_NOTIFY_PRI : MGOV__PSRC_READ;
    return MGOV_OK;
}

unsigned mgov__psrc_open_all(mgov__psrc_t *src, const char *cgroup_dir,
                             mgov__psrc_report_fn report, void *arg)
{
    unsigned n = 0;
    for (int k = 0; k < 3; k++) {
        mgov__psrc_t *s = &src[n];
        memset(s, 0, sizeof *s);
        s->fd = -1;
        bool notifies = false;
        int rc;
        if (k == 0) {
            s->kind = MGOV__PSRC_SYSTEMD;
            snprintf(s->name, sizeof s->name, "systemd");
            rc = open_systemd(s, &notifies);
        } else if (k == 1) {
            s->kind = MGOV__PSRC_PSI;
            char trig[64];
            /* with its NUL: the kernel turns the last byte written into one */
            int tl = snprintf(trig, sizeof trig, "some %u %u", MGOV__PSI_STALL_US,
                              MGOV__PSI_WINDOW_US) + 1;
            char path[PATH_MAX];
            const char *proc = mgov__proc_root();
            if (cgroup_dir) {
                snprintf(s->name, sizeof s->name, "psi:cgroup");
                if (snprintf(path, sizeof path, "%s/memory.pressure", cgroup_dir) >=
                    (int)sizeof path)
                    path[0] = '\0';
            } else {
                snprintf(s->name, sizeof s->name, "psi:system");
                if (!proc ||
                    snprintf(path, sizeof path, "%s/pressure/memory", proc) >= (int)sizeof path)
                    path[0] = '\0';
            }
            rc = path[0] ? open_psi(s, path, (const unsigned char *)trig, (size_t)tl, &notifies)
                         : MGOV_ENOTFOUND;
        } else {
            s->kind = MGOV__PSRC_EVENTS;
            snprintf(s->name, sizeof s->name, "memory.events");
            rc = open_events(s, cgroup_dir, &notifies);
        }
        if (report)
            report(arg, s->name, s->path, rc, notifies);
        if (rc == MGOV_OK && n < MGOV__PSRC_MAX)
            n++;
        else if (s->fd >= 0)
            close(s->fd);
    }
    return n;
}

int mgov__psrc_pollfd(const mgov__psrc_t *s, short *events)
{
    if (s->gone || s->fd < 0 || s->mode == MGOV__PSRC_READ)
        return -1;
    *events = s->mode == MGOV__PSRC_NOTIFY_PRI ? POLLPRI : POLLIN;
    return s->fd;
}

/* memory.events read again: 1 when a counter grew (s->last names it). */
static int events_changed(mgov__psrc_t *s)
{
    static const char *const keys[4] = { "high", "max", "oom", "oom_kill" };
    char buf[FILE_CAP];
    uint64_t ev[4];
    if (read_small(s->fd, NULL, buf, sizeof buf) < 0 || events_parse(buf, ev) != 0)
        return -1;
    int grew = -1;
    for (int k = 3; k >= 0; k--) /* the gravest that grew */
        if (ev[k] > s->events[k] && grew < 0)
            grew = k;
    memcpy(s->events, ev, sizeof ev);
    if (grew < 0)
        return 0;
    snprintf(s->last, sizeof s->last, "memory.events:%s", keys[grew]);
    return 1;
}

int mgov__psrc_ready(mgov__psrc_t *s, short revents)
{
    if (s->kind == MGOV__PSRC_EVENTS) {
        int rc = events_changed(s);
        if (rc < 0) {
            mgov__psrc_close(s);
            return -1;
        }
        return rc;
    }
    if (s->mode == MGOV__PSRC_NOTIFY_IN) {
        char buf[256];
        ssize_t r;
        int got = 0;
        while ((r = read(s->fd, buf, sizeof buf)) > 0)
            got = 1;
        if (r == 0 && !got && (revents & POLLHUP)) { /* the socket's peer left */
            mgov__psrc_close(s);
            return -1;
        }
        snprintf(s->last, sizeof s->last, "%s", s->name);
        return got;
    }
    /* a PSI trigger: POLLPRI fires; POLLERR alone means it is gone */
    if ((revents & POLLERR) && !(revents & POLLPRI)) {
        mgov__psrc_close(s);
        return -1;
    }
    snprintf(s->last, sizeof s->last, "%s", s->name);
    return (revents & POLLPRI) ? 1 : 0;
}

int mgov__psrc_check(mgov__psrc_t *s, uint64_t now_ns)
{
    if (s->gone || s->mode != MGOV__PSRC_READ)
        return 0;
    if (s->kind == MGOV__PSRC_EVENTS)
        return events_changed(s) > 0;
    char buf[FILE_CAP];
    uint64_t total;
    if (read_small(-1, s->path, buf, sizeof buf) < 0 || psi_some_total(buf, &total) != 0)
        return 0; /* unreadable for now: try again next interval */
    uint64_t stalled = total > s->total ? total - s->total : 0;
    uint64_t span_us = (now_ns - s->total_at_ns) / 1000;
    s->total = total;
    s->total_at_ns = now_ns;
    /* the trigger's rate: stall/window of the time that passed */
    if (span_us == 0 ||
        stalled * MGOV__PSI_WINDOW_US < (uint64_t)MGOV__PSI_STALL_US * span_us)
        return 0;
    snprintf(s->last, sizeof s->last, "%s", s->name);
    return 1;
}

void mgov__psrc_close(mgov__psrc_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->gone = true;
}

/* ----------------------------------------------------------------- public */

static void describe(mgov_pressure_source_info_t *o, const char *kind, const char *path,
                     const char *note)
{
    memset(o, 0, sizeof *o);
    snprintf(o->kind, sizeof o->kind, "%s", kind);
    snprintf(o->path, sizeof o->path, "%s", path ? path : "");
    snprintf(o->note, sizeof o->note, "%s", note ? note : "");
    if (!path || !*path)
        return;
    struct stat st;
    o->exists = stat(path, &st) == 0;
    o->readable = o->exists && access(path, R_OK) == 0;
    o->writable = o->exists && access(path, W_OK) == 0;
}

int mgov_pressure_sources(mgov_pressure_source_info_t *out, unsigned max, unsigned *n)
{
    if (!out || !n)
        return MGOV_EINVAL;
    mgov_pressure_source_info_t all[4];
    const char *watch = getenv("MEMORY_PRESSURE_WATCH");
    describe(&all[0], "systemd", watch && *watch ? watch : NULL,
             watch && *watch ? "$MEMORY_PRESSURE_WATCH" : "$MEMORY_PRESSURE_WATCH is not set");
    char *dir = mgov__cgroup_v2_dir();
    char path[PATH_MAX];
    if (dir && snprintf(path, sizeof path, "%s/memory.pressure", dir) < (int)sizeof path)
        describe(&all[1], "psi:cgroup", path, "PSI trigger on the cgroup v2");
    else
        describe(&all[1], "psi:cgroup", NULL, "no cgroup v2 directory");
    const char *proc = mgov__proc_root();
    if (proc && snprintf(path, sizeof path, "%s/pressure/memory", proc) < (int)sizeof path)
        describe(&all[2], "psi:system", path, "PSI trigger on the whole system");
    else
        describe(&all[2], "psi:system", NULL, "no /proc");
    if (dir && snprintf(path, sizeof path, "%s/memory.events", dir) < (int)sizeof path)
        describe(&all[3], "memory.events", path, "cgroup v2 high/max/oom counters");
    else
        describe(&all[3], "memory.events", NULL, "no cgroup v2 directory");
    free(dir);
    unsigned k = 0;
    for (; k < 4 && k < max; k++)
        out[k] = all[k];
    *n = 4;
    return MGOV_OK;
}
