/* governor/hooks.c - the spill layer's state and disk counters, held by the
 * governor (see hooks.h).
 *
 * Invariants: spill_state is set at most once, under spill_lock, and only
 * read after the lock (or by mgov_destroy, when no other thread runs).
 * spill_disk never goes below zero; spill_disk_peak >= every value it took.
 * Locking: spill_lock is a leaf: nothing else is taken while it is held,
 * and make() must not call back into this governor's spill state.
 */
#include "governor/hooks.h"

#include "governor/internal.h"

int mgov__spill_state(mgov_t *gov, int (*make)(mgov_t *gov, void *arg, void **state), void *arg,
                      void (*free_fn)(void *state), void **out)
{
    if (!gov || !make || !free_fn || !out)
        return MGOV_EINVAL;
    int rc = MGOV_OK;
    pthread_mutex_lock(&gov->spill_lock);
    if (!gov->spill_state) {
        void *state = NULL;
        rc = make(gov, arg, &state);
        if (rc == MGOV_OK) {
            gov->spill_state = state;
            gov->spill_state_free = free_fn;
        }
    }
    *out = rc == MGOV_OK ? gov->spill_state : NULL;
    pthread_mutex_unlock(&gov->spill_lock);
    return rc;
}

void mgov__spill_disk_add(mgov_t *gov, int64_t delta)
{
    if (!gov || !delta)
        return;
    if (delta < 0) {
        uint64_t d = (uint64_t)-delta, cur = atomic_load(&gov->spill_disk);
        while (!atomic_compare_exchange_weak(&gov->spill_disk, &cur, cur > d ? cur - d : 0))
            ;
        return;
    }
    uint64_t now = atomic_fetch_add(&gov->spill_disk, (uint64_t)delta) + (uint64_t)delta;
    uint64_t peak = atomic_load(&gov->spill_disk_peak);
    while (now > peak && !atomic_compare_exchange_weak(&gov->spill_disk_peak, &peak, now))
        ;
}

void mgov__spill_quota_set(mgov_t *gov, uint64_t bytes)
{
    if (gov)
        atomic_store(&gov->spill_quota_now, bytes);
}
