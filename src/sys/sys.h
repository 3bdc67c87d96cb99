/* sys/sys.h - internal: the system layer the governor builds on.
 *
 * Memory detection reads files below two roots, "/proc" and "/sys" by
 * default.  Tests point them at fake trees with mgov__sys_set_roots() to
 * play cgroup v1, v2, none, or unreadable files.  The roots are process-wide
 * and not synchronized: set them before creating governors, from one thread.
 */
#ifndef MGOV_SYS_SYS_H
#define MGOV_SYS_SYS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "memgov/sysinfo.h"

/* NULL restores the default ("/proc", "/sys").  The strings are copied. */
void mgov__sys_set_roots(const char *proc_root, const char *sys_root);

/* The directory of this process's cgroup v2 (below the sys root), as a
 * string to free, or NULL (no v2 hierarchy, unreadable files, no memory). */
char *mgov__cgroup_v2_dir(void);

/* What the kernel counts in a cgroup v2 directory, when this process owns
 * it (cgroup.procs lists this process alone): memory.current and the
 * "anon" line of memory.stat (0 when unreadable).  0 with *out filled when
 * owned, -1 (and *out zeroed) otherwise. */
typedef struct mgov__cgroup_mem {
    int owned;
    uint64_t current, anon;
} mgov__cgroup_mem_t;
int mgov__cgroup_mem_read(const char *dir, mgov__cgroup_mem_t *out);

/* The proc root in use ("/proc" unless a test moved it); NULL when the
 * roots are unusable. */
const char *mgov__proc_root(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mgov__now_ns(void);
/* CLOCK_MONOTONIC_COARSE in nanoseconds: cheap, millisecond-ish resolution. */
uint64_t mgov__coarse_now_ns(void);
/* An absolute CLOCK_MONOTONIC time for pthread_cond_timedwait. */
struct timespec mgov__ns_to_timespec(uint64_t ns);
/* Initializes a condition variable whose timed waits use CLOCK_MONOTONIC,
 * the clock of every deadline above.  MGOV_OK, or MGOV_ENOMEM (the system
 * could not make it; nothing to destroy). */
int mgov__cond_init_monotonic(pthread_cond_t *cond);

/* The system page size, read once (sysconf) and cached; thread-safe. */
size_t mgov__page_size(void);
/* n rounded up to whole pages; the caller makes sure the result fits in a
 * size_t (lengths are bounded where they enter the library). */
static inline size_t mgov__page_round(uint64_t n)
{
    size_t page = mgov__page_size();
    return (size_t)((n + page - 1) / page * page);
}

#endif /* MGOV_SYS_SYS_H */
