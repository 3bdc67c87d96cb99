/* governor/hooks.c - what the layers above ask of the governor (hooks.h):
 * the spill and tier layers' states, the disk counters, and reports of
 * consumers' own moves.
 *
 * Invariants: spill_state (tier_state) is set at most once, under
 * spill_lock (tier_lock), and only read after the lock (or by mgov_destroy,
 * when no other thread runs).
 * spill_disk never goes below zero; spill_disk_peak >= every value it took.
 * Locking: spill_lock is a leaf: nothing else is taken while it is held,
 * and make() must not call back into this governor's spill state.
 * tier_lock is held while the tier's make() runs, which takes spill_lock
 * (it opens the spill directory): always in that order.
 */
#include "governor/hooks.h"

#include "governor/internal.h"

/* One state slot: made once under its lock. */
static int state_slot(mgov_t *gov, pthread_mutex_t *lock, void **slot,
                      void (**slot_free)(void *), int (*make)(mgov_t *, void *, void **),
                      void *arg, void (*free_fn)(void *), void **out)
{
    if (!gov || !make || !free_fn || !out)
        return MGOV_EINVAL;
    int rc = MGOV_OK;
    pthread_mutex_lock(lock);
    if (!*slot) {
        void *state = NULL;
        rc = make(gov, arg, &state);
        if (rc == MGOV_OK) {
            *slot = state;
            *slot_free = free_fn;
        }
    }
    *out = rc == MGOV_OK ? *slot : NULL;
    pthread_mutex_unlock(lock);
    return rc;
}

int mgov__spill_state(mgov_t *gov, int (*make)(mgov_t *gov, void *arg, void **state), void *arg,
                      void (*free_fn)(void *state), void **out)
{
    if (!gov)
        return MGOV_EINVAL;
    return state_slot(gov, &gov->spill_lock, &gov->spill_state, &gov->spill_state_free, make,
                      arg, free_fn, out);
}

int mgov__tier_state(mgov_t *gov, int (*make)(mgov_t *gov, void *arg, void **state), void *arg,
                     void (*free_fn)(void *state), void **out)
{
    if (!gov)
        return MGOV_EINVAL;
    return state_slot(gov, &gov->tier_lock, &gov->tier_state, &gov->tier_state_free, make, arg,
                      free_fn, out);
}

void mgov__consumer_report(mgov_consumer_t *c, mgov_event_type_t type, uint64_t bytes,
                           uint64_t freed, uint64_t count, int status)
{
    if (!c)
        return;
    mgov_t *gov = c->gov;
    switch (type) {
    case MGOV_EV_SPILLED: atomic_fetch_add(&gov->spills, 1); break;
    case MGOV_EV_SPILL_FAILED: atomic_fetch_add(&gov->spill_failures, 1); break;
    case MGOV_EV_RELOADED: atomic_fetch_add(&gov->reloads, 1); break;
    case MGOV_EV_RELOAD_FAILED: atomic_fetch_add(&gov->reload_failures, 1); break;
    default: break;
    }
    if (!mgov__has_events(gov))
        return;
    mgov_event_t ev;
    mgov__event_init(&ev, type, gov, c->region);
    ev.name = c->name;
    ev.bytes = bytes;
    ev.freed = freed;
    ev.count = count;
    ev.status = status;
    mgov__emit(gov, &ev);
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
