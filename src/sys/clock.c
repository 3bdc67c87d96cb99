/* sys/clock.c - monotonic time in nanoseconds.
 *
 * Every deadline in memgov is an absolute CLOCK_MONOTONIC time in ns; waits
 * use condition variables set to the same clock (mgov__cond_init_monotonic,
 * the one place that sets it), so changing the wall clock never stretches
 * or cuts a timeout.  No state, no locks.
 */
#include "memgov/common.h"
#include "sys/sys.h"

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts); /* cannot fail for these clocks */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mgov__now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t mgov__coarse_now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC_COARSE);
}

struct timespec mgov__ns_to_timespec(uint64_t ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(ns / 1000000000u),
        .tv_nsec = (long)(ns % 1000000000u),
    };
    return ts;
}

int mgov__cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return MGOV_ENOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* cannot fail for this clock */
    int rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc == 0 ? MGOV_OK : MGOV_ENOMEM;
}
