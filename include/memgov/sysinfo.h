/* memgov/sysinfo.h - how much memory this process may use, and how much it
 * uses now.
 *
 * The memory a process may use is the smaller of physical RAM and the limit
 * of its memory cgroup: cgroup v2 `memory.max` (the smallest along the path
 * to the root of the hierarchy), or cgroup v1 `memory.limit_in_bytes`.  v1
 * reports "no limit" as a huge number, so any limit at or above RAM counts as
 * no limit.  The default budget of a governor is 75% of that, 1 GiB when it
 * cannot be read; MEMGOV_BUDGET in the environment overrides it (a size or a
 * percentage, see memgov/size.h).
 *
 * Thread safety: every function here is thread-safe.
 */
#ifndef MEMGOV_SYSINFO_H
#define MEMGOV_SYSINFO_H

#include "memgov/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MGOV_DEFAULT_BUDGET_FRACTION 0.75
#define MGOV_FALLBACK_BUDGET ((uint64_t)1 << 30) /* 1 GiB when nothing can be read */

typedef struct mgov_sysinfo {
    uint64_t ram;            /* physical RAM in bytes; 0 = could not be read */
    uint64_t cgroup_limit;   /* the cgroup's limit in bytes; 0 = none or unreadable */
    int cgroup_version;      /* 1 or 2 when the process is in a memory cgroup, 0 otherwise */
    uint64_t process_limit;  /* min(ram, cgroup_limit) ignoring zeros; 0 = unknown */
    uint64_t rss;            /* resident set size now, in bytes; 0 = unreadable */
    uint64_t page_size;      /* bytes */
} mgov_sysinfo_t;

/* Fills *out from /proc and /sys.  Fields that cannot be read are 0; that
 * is not an error.  Returns MGOV_EINVAL only when out is NULL. */
MGOV_API int mgov_sysinfo_read(mgov_sysinfo_t *out);

/* The resident set size of this process now (from /proc/self/statm), in
 * bytes; 0 when it cannot be read.  Costs one open/read/close. */
MGOV_API uint64_t mgov_rss_now(void);

/* The budget a governor created with budget = 0 would get: MEMGOV_BUDGET if
 * set, else 75% of the process limit, else 1 GiB.  Returns MGOV_EINVAL (and
 * leaves *out untouched) when MEMGOV_BUDGET is set but is not a valid size or
 * percentage, or parses to 0. */
MGOV_API int mgov_default_budget(uint64_t *out);

/* A source of the kernel's memory pressure signals on this machine, as a
 * governor created with MGOV_KERNEL_PRESSURE would look for it (see
 * docs/governor.md "Kernel pressure"). */
typedef struct mgov_pressure_source_info {
    char kind[24];   /* "systemd", "psi:cgroup", "psi:system", "memory.events" */
    char path[256];  /* the file ("" when there is none to look at) */
    char note[64];   /* what it is, or why there is no file */
    bool exists, readable, writable; /* writable: a PSI trigger can be set */
} mgov_pressure_source_info_t;

/* Describes the pressure sources (at most max into out; *n says how many
 * there are, 4).  Opens nothing.  MGOV_EINVAL for NULL out or n. */
MGOV_API int mgov_pressure_sources(mgov_pressure_source_info_t *out, unsigned max, unsigned *n);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_SYSINFO_H */
