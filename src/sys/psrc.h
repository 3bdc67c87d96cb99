/* sys/psrc.h - internal: the kernel's memory pressure signals, as file
 * descriptors a watcher polls (the governor's monitor thread) or files it
 * reads every interval.  Not installed.
 *
 *   systemd        $MEMORY_PRESSURE_WATCH: a PSI file (the trigger in
 *                  $MEMORY_PRESSURE_WRITE, base64, is written to it), a FIFO
 *                  or an AF_UNIX socket; "/dev/null" turns it off
 *   psi            <cgroup v2 dir>/memory.pressure, else <proc>/pressure/memory:
 *                  a trigger "some <stall_us> <window_us>" (POLLPRI); where
 *                  writing it is refused (or the file is not the kernel's),
 *                  the "some ... total=" stall time is read every interval
 *                  and a signal is a stall rate at the trigger's or above
 *   memory.events  <cgroup v2 dir>/memory.events: a signal when high, max,
 *                  oom or oom_kill grows (POLLPRI on cgroupfs, else read
 *                  every interval)
 *
 * Nothing here fails a caller: a source that cannot be opened is reported
 * (name, status) and skipped.  A file is trusted to notify only when it
 * lives on procfs or cgroupfs (statfs), so fake files in tests are read
 * every interval, and FIFOs notify as FIFOs do.
 *
 * Threading: a source is used by one thread (the watcher).
 */
#ifndef MGOV_SYS_PSRC_H
#define MGOV_SYS_PSRC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MGOV__PSRC_MAX 4
#define MGOV__PSI_STALL_US 150000u    /* 150 ms of stall ... */
#define MGOV__PSI_WINDOW_US 2000000u  /* ... within 2 s (unprivileged: a multiple of 2 s) */

typedef enum {
    MGOV__PSRC_SYSTEMD,
    MGOV__PSRC_PSI,
    MGOV__PSRC_EVENTS,
} mgov__psrc_kind_t;

typedef enum {
    MGOV__PSRC_NOTIFY_PRI, /* poll POLLPRI (PSI trigger, cgroupfs file) */
    MGOV__PSRC_NOTIFY_IN,  /* poll POLLIN and read (FIFO, socket) */
    MGOV__PSRC_READ,       /* read every interval */
} mgov__psrc_mode_t;

typedef struct mgov__psrc {
    mgov__psrc_kind_t kind;
    mgov__psrc_mode_t mode;
    int fd;                /* -1 for READ sources of PSI (the file is opened each time) */
    char name[48];         /* "systemd", "psi:cgroup", "psi:system", "memory.events" */
    char path[PATH_MAX];
    char last[48];         /* what the last signal was ("memory.events:high") */
    bool primed;
    bool gone;             /* closed after a failure: nothing more from it */
    uint64_t total;        /* READ psi: last "some total" (us) */
    uint64_t total_at_ns;
    uint64_t events[4];    /* memory.events: high, max, oom, oom_kill */
} mgov__psrc_t;

/* Called for each source considered: its name, path (may be ""), status
 * (0: watched; else a negative MGOV_E... why it was skipped) and whether it
 * notifies (true) or is read every interval. */
typedef void (*mgov__psrc_report_fn)(void *arg, const char *name, const char *path, int status,
                                     bool notifies);

/* Opens the sources (at most MGOV__PSRC_MAX) into src; cgroup_dir may be
 * NULL.  Returns how many are usable. */
unsigned mgov__psrc_open_all(mgov__psrc_t *src, const char *cgroup_dir,
                             mgov__psrc_report_fn report, void *arg);

/* The source's fd polled for `events` (POLLPRI or POLLIN), or -1 when it
 * is read every interval. */
int mgov__psrc_pollfd(const mgov__psrc_t *s, short *events);

/* After poll reported revents on its fd: 1 = a pressure signal (s->last
 * says which), 0 = nothing, -1 = the source is gone (closed; skip it). */
int mgov__psrc_ready(mgov__psrc_t *s, short revents);

/* For a source read every interval: 1 = a signal since the last check. */
int mgov__psrc_check(mgov__psrc_t *s, uint64_t now_ns);

void mgov__psrc_close(mgov__psrc_t *s);

/* base64 (standard alphabet, '=' padding, no line breaks) into out; the
 * decoded length, or -1 on garbage or when it does not fit. */
long mgov__base64_decode(const char *in, unsigned char *out, size_t cap);

#endif /* MGOV_SYS_PSRC_H */
