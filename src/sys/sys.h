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
