/* sys/clock.c - monotonic time in nanoseconds.
 *
 * Every deadline in memgov is an absolute CLOCK_MONOTONIC time in ns; waits
 * use condition variables set to the same clock, so changing the wall clock
 * never stretches or cuts a timeout.  No state, no locks.
 */
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
