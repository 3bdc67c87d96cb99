/* governor/reclaim.c - asking consumers for memory back.
 *
 * A reclaim pass takes a referenced snapshot of the consumers (in one
 * region, or all), ordered lowest priority first and least recently touched
 * first within a priority, and visits each once until the target is met:
 *   level >= MODERATE: evict(target - freed)
 *   level >= HIGH:     then spill(target - freed), unless MGOV_FORCE_RAM or
 *                      its tier op says it is already ON_DISK
 * taking from a victim what it can before moving to the next.  The work is
 * bounded: one call per op per consumer.
 *
 * One pass runs at a time.  A thread that wants a pass while one runs waits
 * for it and takes its result rather than stampeding the consumers.  A pass
 * never waits for itself: a thread already inside a pass or a consumer
 * callback of this governor gets 0 at once (its reserve just fails or waits).
 *
 * After a pass that freed at least 1/16 of the budget the freed heap is
 * given back to the operating system (malloc_trim), so RSS follows the
 * accounting.
 *
 * Locking: reclaim_lock guards reclaim_running/gen/last_freed only; no lock
 * is held while consumer ops or the event callback run.
 */
#include <malloc.h>
#include <string.h>

#include "governor/internal.h"
#include "sys/sys.h"

static _Thread_local const mgov_t *tls_reclaiming;

static void consumer_event(mgov_t *gov, mgov_event_type_t type, const mgov_consumer_t *c,
                           uint64_t asked, uint64_t freed, int status)
{
    if (!mgov__has_events(gov))
        return;
    mgov_event_t ev;
    mgov__event_init(&ev, type, gov, c->region);
    ev.name = c->name;
    ev.bytes = asked;
    ev.freed = freed;
    ev.status = status;
    mgov__emit(gov, &ev);
}

void mgov__consumer_report(mgov_consumer_t *c, mgov_event_type_t type, uint64_t bytes,
                           uint64_t freed, uint64_t count, int status)
{
    if (!c)
        return;
    mgov_t *gov = c->gov;
    _Atomic uint64_t *counter = NULL; /* statistics: relaxed */
    switch (type) {
    case MGOV_EV_SPILLED: counter = &gov->spills; break;
    case MGOV_EV_SPILL_FAILED: counter = &gov->spill_failures; break;
    case MGOV_EV_RELOADED: counter = &gov->reloads; break;
    case MGOV_EV_RELOAD_FAILED: counter = &gov->reload_failures; break;
    default: break;
    }
    if (counter)
        atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
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

/* Spills one consumer (entered by the caller); counts and reports it. */
static int spill_one(mgov_t *gov, mgov_consumer_t *c, uint64_t target, uint64_t *freed)
{
    (void)gov;
    *freed = 0;
    int rc = c->ops.spill(c->ctx, target, freed);
    if (rc != MGOV_OK)
        *freed = 0;
    mgov__consumer_report(c, rc == MGOV_OK ? MGOV_EV_SPILLED : MGOV_EV_SPILL_FAILED, target,
                          *freed, 0, rc);
    return rc;
}

static bool may_spill(const mgov_consumer_t *c)
{
    return c->ops.spill &&
           !(atomic_load_explicit(&c->flags, memory_order_relaxed) & MGOV_FORCE_RAM);
}

/* A consumer whose tier op says it is on disk has nothing to spill: it is
 * not asked (and no empty "spilled" event is reported).  Entered only. */
static bool on_disk(const mgov_consumer_t *c)
{
    return c->ops.tier && c->ops.tier(c->ctx) == MGOV_TIER_ON_DISK;
}

static uint64_t run_pass(mgov_t *gov, uint64_t target, mgov_pressure_t level, int region)
{
    unsigned n;
    mgov_consumer_t **v;
    uint64_t freed = 0;
    if (mgov__victims_collect(gov, region, false, &v, &n) != MGOV_OK)
        return 0; /* out of memory: this pass frees nothing; the caller is refused */
    for (unsigned i = 0; i < n && freed < target; i++) {
        mgov_consumer_t *c = v[i];
        mgov__frame_t f;
        if (!mgov__consumer_enter(c, &f))
            continue;
        if (level >= MGOV_PRESSURE_MODERATE && c->ops.evict) {
            uint64_t got = c->ops.evict(c->ctx, target - freed);
            if (got) {
                atomic_fetch_add_explicit(&gov->evictions, 1, memory_order_relaxed);
                consumer_event(gov, MGOV_EV_EVICTED, c, target - freed, got, MGOV_OK);
            }
            freed += got;
        }
        if (freed < target && level >= MGOV_PRESSURE_HIGH && may_spill(c) && !on_disk(c)) {
            uint64_t got;
            spill_one(gov, c, target - freed, &got);
            freed += got;
        }
        mgov__consumer_leave(c, &f);
    }
    mgov__victims_free(v, n);
    return freed;
}

void mgov__trim(mgov_t *gov)
{
    malloc_trim(0);
    atomic_fetch_add_explicit(&gov->malloc_trims, 1, memory_order_relaxed);
}

uint64_t mgov__reclaim_pass(mgov_t *gov, uint64_t target, mgov_pressure_t level, int region)
{
    if (target == 0 || level < MGOV_PRESSURE_MODERATE || tls_reclaiming == gov ||
        mgov__in_callback(gov))
        return 0;

    pthread_mutex_lock(&gov->reclaim_lock);
    if (gov->reclaim_running) {
        uint64_t gen = gov->reclaim_gen;
        while (gov->reclaim_running && gov->reclaim_gen == gen)
            pthread_cond_wait(&gov->reclaim_cond, &gov->reclaim_lock);
        uint64_t result = gov->reclaim_last_freed;
        pthread_mutex_unlock(&gov->reclaim_lock);
        return result;
    }
    gov->reclaim_running = true;
    pthread_mutex_unlock(&gov->reclaim_lock);

    uint64_t start = mgov__now_ns();
    const mgov_t *outer = tls_reclaiming;
    tls_reclaiming = gov;
    uint64_t freed = run_pass(gov, target, level, region);
    tls_reclaiming = outer;
    uint64_t took = mgov__now_ns() - start;

    /* statistics, and the budget as a yardstick: relaxed */
    atomic_fetch_add_explicit(&gov->reclaim_passes, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&gov->reclaim_asked, target, memory_order_relaxed);
    atomic_fetch_add_explicit(&gov->reclaim_freed, freed, memory_order_relaxed);
    if (freed && freed >= atomic_load_explicit(&gov->budget, memory_order_relaxed) / 16)
        mgov__trim(gov);

    pthread_mutex_lock(&gov->reclaim_lock);
    gov->reclaim_running = false;
    gov->reclaim_gen++;
    gov->reclaim_last_freed = freed;
    pthread_cond_broadcast(&gov->reclaim_cond);
    pthread_mutex_unlock(&gov->reclaim_lock);

    if (mgov__has_events(gov)) {
        mgov_event_t ev;
        mgov__event_init(&ev, MGOV_EV_RECLAIM, gov, region);
        ev.level = level;
        ev.bytes = target;
        ev.freed = freed;
        ev.duration_ns = took;
        ev.used = atomic_load_explicit(&gov->used, memory_order_relaxed);
        mgov__emit(gov, &ev);
    }
    mgov__pressure_update(gov);
    /* seq_cst, as in uncharge (grant.c): pairs with the waiters' seq_cst reads
     * (wait.c).  The consumers' releases have checked already; this scans
     * once more for what the pass as a whole let in. */
    if (atomic_load(&gov->n_waiters))
        mgov__wake_waiters(gov);
    return freed;
}

uint64_t mgov_reclaim(mgov_t *gov, uint64_t target_bytes, mgov_pressure_t level)
{
    if (!gov || (unsigned)level > MGOV_PRESSURE_CRITICAL)
        return 0;
    return mgov__reclaim_pass(gov, target_bytes, level, -1);
}

int mgov_spill_all(mgov_t *gov)
{
    if (!gov)
        return MGOV_EINVAL;
    unsigned n;
    mgov_consumer_t **v;
    int first_error = mgov__victims_collect(gov, -1, false, &v, &n);
    if (first_error != MGOV_OK)
        return first_error;
    for (unsigned i = 0; i < n; i++) {
        mgov_consumer_t *c = v[i];
        mgov__frame_t f;
        if (!may_spill(c) || !mgov__consumer_enter(c, &f))
            continue;
        uint64_t freed;
        int rc = on_disk(c) ? MGOV_OK : spill_one(gov, c, UINT64_MAX, &freed);
        mgov__consumer_leave(c, &f);
        if (rc != MGOV_OK && first_error == MGOV_OK)
            first_error = rc;
    }
    mgov__victims_free(v, n);
    mgov__pressure_update(gov);
    return first_error;
}

int mgov_spill_consumer(mgov_t *gov, const char *name)
{
    if (!gov || !name)
        return MGOV_EINVAL;
    unsigned n;
    mgov_consumer_t **v;
    int rc = mgov__victims_collect(gov, -1, false, &v, &n);
    if (rc != MGOV_OK)
        return rc;
    rc = MGOV_ENOTFOUND;
    for (unsigned i = 0; i < n; i++) {
        mgov_consumer_t *c = v[i];
        if (strcmp(c->name, name) != 0)
            continue;
        mgov__frame_t f;
        if (!c->ops.spill)
            rc = MGOV_ENOTSUP;
        else if (atomic_load_explicit(&c->flags, memory_order_relaxed) & MGOV_FORCE_RAM)
            rc = MGOV_EBUSY;
        else if (!mgov__consumer_enter(c, &f))
            rc = MGOV_ENOTFOUND; /* unregistered meanwhile */
        else {
            uint64_t freed;
            rc = on_disk(c) ? MGOV_OK : spill_one(gov, c, UINT64_MAX, &freed);
            mgov__consumer_leave(c, &f);
        }
        break;
    }
    mgov__victims_free(v, n);
    mgov__pressure_update(gov);
    return rc;
}

unsigned mgov_reload_eligible(mgov_t *gov, double target_fraction)
{
    if (!gov || !(target_fraction > 0))
        return 0;
    unsigned n, reloaded = 0;
    mgov_consumer_t **v;
    if (mgov__victims_collect(gov, -1, true, &v, &n) != MGOV_OK)
        return 0;
    double limit =
        target_fraction * (double)atomic_load_explicit(&gov->budget, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
        mgov_consumer_t *c = v[i];
        mgov__frame_t f;
        if (!c->ops.reload || !c->ops.tier || !mgov__consumer_enter(c, &f))
            continue;
        if (c->ops.tier(c->ctx) != MGOV_TIER_ON_DISK) {
            mgov__consumer_leave(c, &f);
            continue;
        }
        uint64_t need = c->ops.usage ? c->ops.usage(c->ctx) : 0;
        if ((double)(atomic_load_explicit(&gov->used, memory_order_relaxed) + need) > limit) {
            mgov__consumer_leave(c, &f);
            break; /* stop before passing the target: lower priorities wait */
        }
        int rc = c->ops.reload(c->ctx);
        if (rc == MGOV_OK) {
            reloaded++;
            mgov__consumer_report(c, MGOV_EV_RELOADED, need, 0, 0, MGOV_OK);
        } else if (rc != MGOV_ENOTSUP) { /* ENOTSUP: stays on disk by policy */
            mgov__consumer_report(c, MGOV_EV_RELOAD_FAILED, need, 0, 0, rc);
        }
        mgov__consumer_leave(c, &f);
    }
    mgov__victims_free(v, n);
    return reloaded;
}
