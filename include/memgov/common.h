/* memgov/common.h - status codes, version and export macros shared by every
 * memgov header, and the conventions every header follows.
 *
 * Every function that can fail returns an int: MGOV_OK (0) or one of the
 * negative MGOV_E... codes below.  The list is generated once from
 * MGOV_STATUS_MAP so the enum, mgov_strerror() and mgov_status_name() can
 * never disagree.
 *
 * Conventions of the whole API:
 *   - Timeouts are int64_t nanoseconds: 0 means "do not wait" (fail at once
 *     with the refusal, e.g. MGOV_EBUDGET or MGOV_EBUSY), < 0 means wait
 *     forever, > 0 is a deadline (MGOV_ETIMEDOUT when it passes).
 *   - Streams (mgov_sort_next, mgov_spill_read...) return 1 with an item, 0
 *     at the end, or a negative error.
 *   - Destroy and close functions accept NULL and do nothing.  Those that
 *     return an int return MGOV_OK when done, and MGOV_EBUSY when they did
 *     nothing because something still holds the handle (pinned views,
 *     allocations alive): it stays valid, call again.  mgov_destroy alone
 *     always destroys and says MGOV_ELEAKED when something was left alive.
 *   - Configs are structs with an _INIT macro; zero means the default.  A
 *     config names a region by name (NULL: the module's default region);
 *     the governor's own calls take the region's index (mgov_region_find).
 *   - A string or pointer a function returns is owned by the library; its
 *     header says until when it stays valid.  Never free it.
 *
 * Thread safety: everything declared here is thread-safe.
 */
#ifndef MEMGOV_COMMON_H
#define MEMGOV_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MGOV_BUILDING_LIBRARY) && defined(__GNUC__)
#define MGOV_API __attribute__((visibility("default")))
#else
#define MGOV_API
#endif

#define MGOV_VERSION_MAJOR 0
#define MGOV_VERSION_MINOR 1
#define MGOV_VERSION_PATCH 0
#define MGOV_VERSION_STRING "0.1.0"

/* XX(NAME, value, message) */
#define MGOV_STATUS_MAP(XX)                                                    \
    XX(OK, 0, "success")                                                       \
    XX(EINVAL, -1, "invalid argument")                                         \
    XX(ENOMEM, -2, "out of system memory")                                     \
    XX(EBUDGET, -3, "does not fit in the memory budget now")                   \
    XX(ELIMIT, -4, "can never fit: over a region's limit or the budget")       \
    XX(ETIMEDOUT, -5, "timed out")                                             \
    XX(EBUSY, -6, "resource busy")                                             \
    XX(ENOTFOUND, -7, "not found")                                             \
    XX(EEXIST, -8, "already exists")                                           \
    XX(EIO, -9, "input/output error")                                          \
    XX(ENOSPC, -10, "no space left (disk full or quota reached)")              \
    XX(ECORRUPT, -11, "corrupt data")                                          \
    XX(ENOTSUP, -12, "operation not supported")                                \
    XX(ECANCELED, -13, "canceled")                                             \
    XX(EOVERFLOW, -14, "size overflows: count x size is not representable")             \
    XX(ELEAKED, -15, "destroyed, but something was still alive (reported as events)")

typedef enum mgov_status {
#define MGOV__STATUS_ENUM(name, value, msg) MGOV_##name = (value),
    MGOV_STATUS_MAP(MGOV__STATUS_ENUM)
#undef MGOV__STATUS_ENUM
} mgov_status_t;

/* A human-readable message for a status code; "unknown status" for a value
 * that is not one of the codes.  The string is static: never free it. */
MGOV_API const char *mgov_strerror(int status);

/* The code's name without the prefix, e.g. "EBUDGET"; "UNKNOWN" otherwise. */
MGOV_API const char *mgov_status_name(int status);

/* The library's version as "MAJOR.MINOR.PATCH" (static string).  Compare with
 * MGOV_VERSION_STRING to detect a header/library mismatch. */
MGOV_API const char *mgov_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_COMMON_H */
