/* governor/region.c - a region's settings (reservation, limit) changed at
 * run time: mgov_region_set, and the rebalancer's loans (rebalance.c) go
 * through mgov__region_apply_locked.
 *
 *   region word:  [ live grants : 12 | gen : 4 | bytes : 48 ]
 *   regions[i].set[gen] = { reserved, limit }
 *
 * The admission steps never take a lock (grant.c).  To change settings,
 * the setter writes them into the next generation's slot and then puts
 * that generation into the region word with one CAS.  Every step on the
 * word sees one generation, and reads that generation's settings:
 *   - a limit check is a CAS of the whole word, so it succeeds only while
 *     the generation it checked against is in force: no request is
 *     admitted over the limit in force at its admission;
 *   - the committed delta of each transition is computed with the
 *     reservation of the generation its step saw, and the setter adds the
 *     change of this region's term, max(u, new) - max(u, old) with u the
 *     region's bytes at its CAS.  It adds the most it could be before the
 *     CAS and corrects after, so `committed` is never below its
 *     definition (other regions' reservations are never taken) and equal
 *     to it once the call returns.
 * The slot of the generation in force is never written; slots are reused
 * after 15 changes (generation 0, the settings of create, only once).
 *
 * Shrinking below what a region holds takes nothing away at once: the
 * region admits nothing until releases (and a reclaim pass on its own
 * consumers, run by the caller) bring it under; other regions go on.
 *
 * Locking: regions_lock serializes setters (mgov_region_set, the
 * rebalancer, mgov_set_budget's check of the reservations' sum) and
 * guards own_limit and the loans; it is taken before wait_lock and never
 * held while consumers or the event callback run.
 */
#include "governor/internal.h"
#include "sys/debug.h"

static inline uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

uint64_t mgov__region_apply_locked(mgov_t *gov, int region, uint64_t reserved, uint64_t limit)
{
    mgov__assert_held(&gov->regions_lock);
    mgov_region_t *r = &gov->regions[region];
    _Atomic uint64_t *word = &gov->region_word[region];
    uint64_t w = atomic_load_explicit(word, memory_order_relaxed);
    unsigned g = mgov__word_gen(w), ng = g + 1 < MGOV__GENS ? g + 1 : 1;
    uint64_t old_res = atomic_load_explicit(&r->set[g].reserved, memory_order_relaxed);

    /* published by the seq_cst CAS below: a step that sees generation ng
     * read-from it, so it sees these */
    atomic_store_explicit(&r->set[ng].reserved, reserved, memory_order_relaxed);
    atomic_store_explicit(&r->set[ng].limit, limit, memory_order_relaxed);
    if (limit) /* a hint only: a value on its own (grant.c re-checks) */
        atomic_store_explicit(&r->limit_hint, limit, memory_order_relaxed);

    /* the most this region's term can grow, added before the change is
     * visible (seq_cst: a charge step) */
    uint64_t grow = reserved > old_res ? reserved - old_res : 0;
    if (gov->has_reservations && grow)
        atomic_fetch_add(&gov->committed, grow);
    /* only setters change the generation, and they hold regions_lock: a
     * failed CAS means bytes or grants moved; try again with them */
    while (!atomic_compare_exchange_weak_explicit(
        word, &w, (w & ~MGOV__GEN_MASK) | ((uint64_t)ng << MGOV__GEN_SHIFT),
        memory_order_seq_cst, memory_order_relaxed))
        ;
    if (!limit)
        atomic_store_explicit(&r->limit_hint, 0, memory_order_relaxed);
    uint64_t u = mgov__word_bytes(w);
    if (gov->has_reservations) {
        /* the term's exact change at the CAS, less what was added ahead
         * (wrapped arithmetic: may be "negative"); seq_cst: a release step
         * when it lowers committed */
        uint64_t fix = max_u64(u, reserved) - max_u64(u, old_res) - grow;
        if (fix)
            atomic_fetch_add(&gov->committed, fix);
    }
    uint64_t total = atomic_load_explicit(&gov->total_reserved, memory_order_relaxed);
    atomic_store_explicit(&gov->total_reserved, total - old_res + reserved,
                          memory_order_relaxed);
    return u;
}

void mgov__region_enforce(mgov_t *gov, int region)
{
    uint64_t limit = mgov__limit_now(gov, region);
    uint64_t used = mgov__region_used(gov, region);
    if (limit && used > limit)
        mgov__reclaim_pass(gov, used - limit, MGOV_PRESSURE_HIGH, region);
}

void mgov__region_event(mgov_t *gov, mgov_event_type_t type, int region, const char *name,
                        uint64_t bytes, uint64_t count)
{
    if (!mgov__has_events(gov))
        return;
    mgov_event_t ev;
    mgov__event_init(&ev, type, gov, region);
    ev.name = name;
    ev.bytes = bytes;
    ev.count = count;
    ev.used = mgov__region_used(gov, region);
    mgov__emit(gov, &ev);
}

int mgov_region_set(mgov_t *gov, int region, uint64_t reserved, uint64_t limit)
{
    if (!gov || region < 0 || (unsigned)region >= gov->n_regions ||
        (limit && limit < reserved) || limit > MGOV_BUDGET_MAX)
        return MGOV_EINVAL;
    pthread_mutex_lock(&gov->regions_lock);
    uint64_t cur_res = mgov__reserved_now(gov, region);
    if (reserved != cur_res && !gov->has_reservations) {
        pthread_mutex_unlock(&gov->regions_lock);
        return MGOV_ENOTSUP;
    }
    uint64_t total = atomic_load_explicit(&gov->total_reserved, memory_order_relaxed);
    if (total - cur_res + reserved > atomic_load_explicit(&gov->budget, memory_order_relaxed)) {
        pthread_mutex_unlock(&gov->regions_lock);
        return MGOV_EINVAL;
    }
    /* what the rebalancer moved is settled first: the new limit is the
     * region's own, and its lenders and borrowers get theirs back */
    int touched[MGOV_MAX_REGIONS];
    unsigned n_touched = 0;
    mgov__loans_settle_locked(gov, region, touched, &n_touched);
    gov->regions[region].own_limit = limit;
    mgov__region_apply_locked(gov, region, reserved, limit);
    pthread_mutex_unlock(&gov->regions_lock);

    mgov__region_event(gov, MGOV_EV_REGION, region, NULL, limit, reserved);
    /* seq_cst: after the CAS that changed the settings, as a release's
     * load (grant.c uncharge); the waiters re-read the word (wait.c) */
    if (atomic_load(&gov->n_waiters))
        mgov__wake_waiters(gov);
    mgov__region_enforce(gov, region);
    for (unsigned i = 0; i < n_touched; i++)
        mgov__region_enforce(gov, touched[i]);
    mgov__pressure_update(gov);
    return MGOV_OK;
}

int mgov_region_get(const mgov_t *gov, int region, uint64_t *reserved, uint64_t *limit)
{
    if (!gov || region < 0 || (unsigned)region >= gov->n_regions)
        return MGOV_EINVAL;
    /* one generation's slot, read while it is in force */
    const mgov_region_settings_t *s = mgov__settings_now(gov, region);
    if (reserved)
        *reserved = atomic_load_explicit(&s->reserved, memory_order_relaxed);
    if (limit)
        *limit = atomic_load_explicit(&s->limit, memory_order_relaxed);
    return MGOV_OK;
}
