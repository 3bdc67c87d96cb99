/* governor/grant.c - admission and the life of a grant: reserve (fail-fast),
 * resize, split, merge, release.
 *
 * The admission protocol.  A charge of b bytes to region R touches up to
 * three counters, in this order, each with one atomic step that checks the
 * limit it guards:
 *
 *   1. R->word += b (+ one live grant)   check: R.used + b <= R.limit
 *   2. committed += delta                check (unless REVOCABLE):
 *                                          committed + delta <= ceiling
 *   3. used += b                         check: used + b <= ceiling
 *
 * committed = sum over regions of max(used, reserved), so the bytes a
 * region holds inside its own reservation cost nothing there (delta = 0:
 * they are guaranteed), and bytes beyond it must leave every other region's
 * unused reservation untouched.  If a later step fails, the earlier ones are
 * undone.  Each transition of R's bytes adds exactly
 * max(new, reserved) - max(old, reserved) to committed, computed from the
 * value the atomic step returned, so committed telescopes to its definition
 * whatever the interleaving.  Undoing can make other requests fail
 * spuriously for an instant, never succeed wrongly: used is checked with a
 * CAS, so it never exceeds the budget, and R.used never exceeds R.limit.
 *
 * With no limit and no reservations (the default regions), a reserve is one
 * atomic add and one CAS, a release two atomic subtractions.
 *
 * Settings that change (mgov_region_set, the rebalancer; region.c).  The
 * region word carries the generation of the region's settings in force
 * (reservation, limit).  A step reads the settings of the generation its
 * own atomic step saw: a limit check is a CAS on the whole word, so it
 * succeeds only if the generation it checked against is still in force;
 * an add (no limit in force when it started) re-checks the limit of the
 * generation it saw, and undoes itself if that one refuses it (only
 * possible once settings have changed: gen != 0); the committed delta of
 * every transition uses the reservation of the generation its step saw,
 * and the setter adjusts committed at the CAS that changes generation.
 * So every admission is checked against the settings in force at its
 * step, and committed keeps telescoping.  (Generations are reused after
 * 15 changes: a step stalled between its atomic step and its read of the
 * settings for 15 changes of the same region would read newer ones.)
 *
 * Memory order.  Each counter's own check needs only its atomic step.  The
 * order between counters matters for one thing, the waiters (wait.c): a
 * release's steps (region word, committed, used) are seq_cst and precede
 * its seq_cst load of n_waiters, which pairs with a waiter's seq_cst
 * increment of n_waiters and the seq_cst reads after it.  A charge's
 * steps are seq_cst too, so every step of the protocol sits in that one
 * order (the waiters' own attempts are charges, and an undo is a
 * release).  The first load of each CAS loop is relaxed: a value too old
 * either fails the CAS (and is read again) or refuses a request, which
 * then takes the slow path; a waiter's first attempt comes after its own
 * seq_cst reads of these counters (enqueue_locked, wait.c).  Bounds and
 * thresholds are read relaxed: each is a value on its own.
 *
 * Locking: none on the fast path.  mgov__uncharge takes wait_lock (via
 * mgov__wake_waiters) only when requests are queued.
 */
#include <string.h>

#include "governor/internal.h"

#define KNOWN_FLAGS (MGOV_URGENT | MGOV_REVOCABLE | MGOV_NO_RECLAIM)
#define INLINE static inline __attribute__((always_inline))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

bool mgov__is_urgent(const mgov_t *gov, int region, unsigned flags)
{
    return (flags & MGOV_URGENT) || region == gov->spill_region;
}

INLINE uint64_t ceiling_of(const mgov_t *gov, int region, unsigned flags)
{
    if ((flags & MGOV_URGENT) || region == gov->spill_region)
        return atomic_load_explicit(&gov->budget, memory_order_relaxed);
    return atomic_load_explicit(&gov->level_bytes[3], memory_order_relaxed);
}

uint64_t mgov__ceiling(const mgov_t *gov, int region, unsigned flags)
{
    return ceiling_of(gov, region, flags);
}

INLINE int fits_ever(const mgov_t *gov, int region, uint64_t bytes, unsigned flags)
{
    /* the hint spares regions without a limit two loads; a stale 0 only
     * lets a request through to the charge, which checks the limit */
    uint64_t limit =
        atomic_load_explicit(&gov->regions[region].limit_hint, memory_order_relaxed)
            ? mgov__limit_now(gov, region)
            : 0;
    if ((limit && bytes > limit) || bytes > ceiling_of(gov, region, flags))
        return MGOV_ELIMIT;
    return MGOV_OK;
}

int mgov__check_fits_ever(const mgov_t *gov, int region, uint64_t bytes, unsigned flags)
{
    return fits_ever(gov, region, bytes, flags);
}

uint64_t mgov__region_grants(const mgov_t *gov, int region)
{
    uint64_t wraps = atomic_load_explicit(&gov->regions[region].grant_wraps, memory_order_relaxed);
    uint64_t w = atomic_load_explicit(&gov->region_word[region], memory_order_relaxed);
    return (wraps << 12) + (w >> MGOV__GRANT_SHIFT);
}

/* Keeps grant_wraps in step when the 12-bit grant field of a region word
 * wraps (4096 live grants): old_word is the value before adding (added) or
 * removing one grant. */
INLINE void count_grant_wrap(mgov_t *gov, int region, uint64_t old_word, bool added)
{
    uint64_t field = old_word >> MGOV__GRANT_SHIFT;
    if (unlikely(added && field == MGOV__GRANT_FIELD))
        atomic_fetch_add_explicit(&gov->regions[region].grant_wraps, 1, memory_order_relaxed);
    else if (unlikely(!added && field == 0))
        atomic_fetch_sub_explicit(&gov->regions[region].grant_wraps, 1, memory_order_relaxed);
}

static inline uint64_t committed_delta(uint64_t reserved, uint64_t from, uint64_t to)
{
    /* May be "negative": callers add it as a wrapped unsigned value. */
    return max_u64(to, reserved) - max_u64(from, reserved);
}

/* The settings of the generation a step on the region word saw. */
INLINE const mgov_region_settings_t *settings_of(const mgov_t *gov, int region, uint64_t word)
{
    return &gov->regions[region].set[mgov__word_gen(word)];
}

INLINE uint64_t reserved_of(const mgov_t *gov, int region, uint64_t word)
{
    return atomic_load_explicit(&settings_of(gov, region, word)->reserved, memory_order_relaxed);
}

/* Takes bytes (and grants) back out of a region; returns the committed
 * delta of that transition. */
INLINE uint64_t region_sub(mgov_t *gov, int region, uint64_t bytes, unsigned grants)
{
    /* seq_cst: a release step, before uncharge's load of n_waiters (see
     * Memory order) */
    uint64_t old = atomic_fetch_sub_explicit(&gov->region_word[region],
                                             bytes + grants * MGOV__GRANT_ONE,
                                             memory_order_seq_cst);
    if (grants)
        count_grant_wrap(gov, region, old, false);
    uint64_t ob = mgov__word_bytes(old);
    return committed_delta(reserved_of(gov, region, old), ob, ob - bytes);
}

INLINE void peak_raise(_Atomic uint64_t *peak, uint64_t v)
{
    uint64_t p = atomic_load_explicit(peak, memory_order_relaxed);
    while (unlikely(v > p) &&
           !atomic_compare_exchange_weak_explicit(peak, &p, v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

/* Step 2 (only with reservations).  Returns false when the check failed;
 * the delta is then not applied. */
static bool committed_charge(mgov_t *gov, uint64_t reserved, uint64_t old_bytes,
                             uint64_t new_bytes, unsigned flags, uint64_t ceiling,
                             uint64_t *delta)
{
    *delta = committed_delta(reserved, old_bytes, new_bytes);
    if (*delta == 0)
        return true;
    /* seq_cst: a charge step (see Memory order) */
    if (flags & MGOV_REVOCABLE) {
        atomic_fetch_add_explicit(&gov->committed, *delta, memory_order_seq_cst);
        return true;
    }
    uint64_t c = atomic_load_explicit(&gov->committed, memory_order_relaxed);
    do {
        if (c + *delta > ceiling)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&gov->committed, &c, c + *delta,
                                                    memory_order_seq_cst,
                                                    memory_order_relaxed));
    return true;
}

/* The whole admission protocol; *used_now is `used` after the charge. */
INLINE int charge(mgov_t *gov, int region, uint64_t bytes, unsigned flags, bool new_grant,
                  int *why, uint64_t *used_now)
{
    mgov_region_t *r = &gov->regions[region];
    _Atomic uint64_t *word = &gov->region_word[region];
    uint64_t add = bytes + (new_grant ? MGOV__GRANT_ONE : 0);
    uint64_t old;

    /* 1. the region (seq_cst steps: see Memory order) */
    if (unlikely(atomic_load_explicit(&r->limit_hint, memory_order_relaxed))) {
        old = atomic_load_explicit(word, memory_order_relaxed);
        do {
            /* the limit of the generation this CAS expects: it succeeds
             * only while that generation is in force */
            uint64_t limit =
                atomic_load_explicit(&settings_of(gov, region, old)->limit, memory_order_relaxed);
            if (limit && mgov__word_bytes(old) + bytes > limit) {
                *why = MGOV__WHY_LIMIT;
                return MGOV_EBUDGET;
            }
        } while (!atomic_compare_exchange_weak_explicit(word, &old, old + add,
                                                        memory_order_seq_cst,
                                                        memory_order_relaxed));
    } else {
        old = atomic_fetch_add_explicit(word, add, memory_order_seq_cst);
        if (unlikely(mgov__word_gen(old) != 0)) {
            /* settings have changed since create: the generation this add
             * landed in may have a limit (set after the hint was read) */
            uint64_t limit =
                atomic_load_explicit(&settings_of(gov, region, old)->limit, memory_order_relaxed);
            if (limit && mgov__word_bytes(old) + bytes > limit) {
                *why = MGOV__WHY_LIMIT;
                uint64_t undo = region_sub(gov, region, bytes, new_grant ? 1 : 0);
                if (gov->has_reservations) {
                    /* the add and its undo are two transitions of the
                     * region's bytes: both are accounted */
                    uint64_t net = committed_delta(reserved_of(gov, region, old),
                                                   mgov__word_bytes(old),
                                                   mgov__word_bytes(old) + bytes) +
                                   undo;
                    if (net) /* seq_cst: an undo is a release step */
                        atomic_fetch_add_explicit(&gov->committed, net, memory_order_seq_cst);
                }
                return MGOV_EBUDGET;
            }
        }
    }
    if (new_grant)
        count_grant_wrap(gov, region, old, true);
    uint64_t r_used = mgov__word_bytes(old) + bytes;
    uint64_t ceiling = ceiling_of(gov, region, flags);

    /* 2. other regions' reservations */
    uint64_t delta = 0;
    bool delta_applied = true;
    if (unlikely(gov->has_reservations))
        delta_applied = committed_charge(gov, reserved_of(gov, region, old),
                                         mgov__word_bytes(old), r_used, flags, ceiling, &delta);

    /* 3. the budget (seq_cst CAS: see Memory order), within the host
     * lease (host/host.h: the lease protocol) */
    if (likely(delta_applied)) {
        uint64_t used = atomic_load_explicit(&gov->used, memory_order_relaxed);
        for (;;) {
            if (unlikely(used + bytes > ceiling))
                goto refuse;
            /* relaxed: the re-read after the CAS is what the handshake needs */
            if (unlikely(used + bytes > atomic_load_explicit(&gov->lease, memory_order_relaxed))) {
                if (!mgov__host_lease_grow(gov, used + bytes))
                    goto refuse;
                used = atomic_load_explicit(&gov->used, memory_order_relaxed);
                continue;
            }
            if (likely(atomic_compare_exchange_weak_explicit(&gov->used, &used, used + bytes,
                                                             memory_order_seq_cst,
                                                             memory_order_relaxed)))
                break;
        }
        /* seq_cst: pairs with a lease shrink's store of the lower lease and
         * its load of used (host.c: mgov__host_shrink); if the shrink missed
         * this charge, this load sees the lower lease */
        if (unlikely(used + bytes > atomic_load(&gov->lease))) {
            atomic_fetch_sub_explicit(&gov->used, bytes, memory_order_seq_cst);
            goto refuse;
        }
        peak_raise(&gov->regions[region].peak, r_used);
        peak_raise(&gov->peak, used + bytes);
        *used_now = used + bytes;
        return MGOV_OK;
    }

refuse:
    *why = MGOV__WHY_BUDGET;
    {
        uint64_t undo = region_sub(gov, region, bytes, new_grant ? 1 : 0);
        if (gov->has_reservations) {
            /* Every transition of the region's bytes is accounted: the
             * forward one (not applied if its check failed) and the undo. */
            uint64_t net = undo + (delta_applied ? 0 : delta);
            if (net) /* seq_cst: an undo is a release step */
                atomic_fetch_add_explicit(&gov->committed, net, memory_order_seq_cst);
        }
    }
    return MGOV_EBUDGET;
}

int mgov__charge(mgov_t *gov, int region, uint64_t bytes, unsigned flags, bool new_grant,
                 int *why)
{
    uint64_t used_now;
    return charge(gov, region, bytes, flags, new_grant, why, &used_now);
}

/* What must follow a change of `used` beyond the counters: pressure, RSS
 * sampling, a proactive reclaim owed.  One test on the fast path. */
INLINE bool after_change_needed(const mgov_t *gov, uint64_t used_now)
{
    return unlikely((gov->flags & MGOV_RSS_PRESSURE) ||
                    used_now >= atomic_load_explicit(&gov->level_up_at, memory_order_relaxed) ||
                    used_now < atomic_load_explicit(&gov->level_down_at, memory_order_relaxed) ||
                    atomic_load_explicit(&gov->reclaim_pending, memory_order_relaxed));
}

INLINE void uncharge(mgov_t *gov, int region, uint64_t bytes, unsigned grants_ended)
{
    /* the release steps, seq_cst, before the load of n_waiters below */
    uint64_t delta = region_sub(gov, region, bytes, grants_ended);
    if (unlikely(gov->has_reservations) && delta)
        atomic_fetch_add_explicit(&gov->committed, delta, memory_order_seq_cst);
    uint64_t used = atomic_fetch_sub_explicit(&gov->used, bytes, memory_order_seq_cst) - bytes;
    if (unlikely((gov->flags & MGOV_RSS_PRESSURE) ||
                 used < atomic_load_explicit(&gov->level_down_at, memory_order_relaxed))) {
        if (gov->flags & MGOV_RSS_PRESSURE)
            mgov__rss_maybe_sample(gov);
        mgov__pressure_check(gov, used);
    }
    /* seq_cst: pairs with the waiter's increment of n_waiters and its reads
     * before its admission attempt (enqueue_locked, wait.c); one of the two
     * sees the other. */
    if (unlikely(atomic_load_explicit(&gov->n_waiters, memory_order_seq_cst)))
        mgov__wake_waiters(gov);
}

void mgov__uncharge(mgov_t *gov, int region, uint64_t bytes, unsigned grants_ended)
{
    uncharge(gov, region, bytes, grants_ended);
}

void mgov__after_charge(mgov_t *gov, unsigned flags)
{
    if (gov->flags & MGOV_RSS_PRESSURE)
        mgov__rss_maybe_sample(gov);
    mgov__pressure_check(gov, atomic_load_explicit(&gov->used, memory_order_relaxed));
    if (!(flags & MGOV_NO_RECLAIM) &&
        atomic_load_explicit(&gov->reclaim_pending, memory_order_relaxed) &&
        !mgov__in_callback(gov)) {
        /* relaxed: claiming the owed pass needs only the exchange itself */
        int level = atomic_exchange_explicit(&gov->reclaim_pending, 0, memory_order_relaxed);
        if (level >= MGOV_PRESSURE_MODERATE) {
            /* Back under the level's threshold (less hysteresis): "improve
             * the situation", not empty the caches. */
            uint64_t floor = atomic_load_explicit(&gov->level_bytes[level], memory_order_relaxed);
            uint64_t hyst = atomic_load_explicit(&gov->hyst_bytes, memory_order_relaxed);
            floor = floor > hyst ? floor - hyst : 0;
            uint64_t eff = mgov__effective_used(gov);
            if (eff > floor)
                mgov__reclaim_pass(gov, eff - floor, (mgov_pressure_t)level, -1);
        }
    }
}

INLINE bool held_back(const mgov_t *gov, int region, unsigned flags)
{
    /* seq_cst loads: pair with the waiter counts' increments (enqueue_locked
     * and set_why_locked, wait.c); a request that misses one came first */
    if (likely(!atomic_load_explicit(&gov->budget_waiters, memory_order_seq_cst) &&
               !atomic_load_explicit(&gov->regions[region].waiters, memory_order_seq_cst)))
        return false;
    return !mgov__is_urgent(gov, region, flags);
}

bool mgov__held_back(const mgov_t *gov, int region, unsigned flags)
{
    return held_back(gov, region, flags);
}

/* -------------------------------------------------------------- public */

static void refused(mgov_t *gov, int region, uint64_t bytes, int status)
{
    atomic_fetch_add_explicit(&gov->regions[region].refusals, 1, memory_order_relaxed);
    if (mgov__has_events(gov)) {
        mgov_event_t ev;
        mgov__event_init(&ev, MGOV_EV_REFUSED, gov, region);
        ev.bytes = bytes;
        ev.status = status;
        mgov__emit(gov, &ev);
    }
}

/* How much reclaim would let `bytes` in: the shortfall against whichever
 * rule refused, at least `bytes` when it cannot be told. */
static uint64_t shortfall(mgov_t *gov, int region, uint64_t bytes, unsigned flags, int why)
{
    uint64_t limit = mgov__limit_now(gov, region);
    if (why == MGOV__WHY_LIMIT && limit) {
        uint64_t u = mgov__region_used(gov, region);
        return u + bytes > limit ? u + bytes - limit : bytes;
    }
    uint64_t used = atomic_load_explicit(&gov->used, memory_order_relaxed); /* an estimate */
    uint64_t ceiling = ceiling_of(gov, region, flags);
    return used + bytes > ceiling ? used + bytes - ceiling : bytes;
}

/* The slow attempt shared by try_reserve and resize, after the fast one
 * failed: one reclaim pass, then a second charge. */
static int charge_after_reclaim(mgov_t *gov, int region, uint64_t bytes, unsigned flags,
                                bool new_grant, int why)
{
    if ((flags & MGOV_NO_RECLAIM) || mgov__in_callback(gov) || held_back(gov, region, flags))
        return MGOV_EBUDGET;
    mgov_pressure_t level = mgov_pressure(gov);
    if (level < MGOV_PRESSURE_HIGH)
        level = MGOV_PRESSURE_HIGH; /* memory is needed now: spilling is fair game */
    mgov__reclaim_pass(gov, shortfall(gov, region, bytes, flags, why), level,
                       why == MGOV__WHY_LIMIT ? region : -1);
    if (held_back(gov, region, flags))
        return MGOV_EBUDGET;
    uint64_t used_now;
    return charge(gov, region, bytes, flags, new_grant, &why, &used_now);
}

INLINE bool request_ok(const mgov_t *gov, int region, unsigned flags, const void *out)
{
    return likely(gov && out && region >= 0 && (unsigned)region < gov->n_regions &&
                  !(flags & ~KNOWN_FLAGS));
}

static int reserve_slow(mgov_t *gov, int region, uint64_t bytes, unsigned flags,
                        int64_t timeout_ns, bool blocking, mgov_grant_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = fits_ever(gov, region, bytes, flags);
    if (rc == MGOV_OK) {
        int why = MGOV__WHY_BUDGET;
        uint64_t used_now;
        if (!held_back(gov, region, flags))
            rc = charge(gov, region, bytes, flags, true, &why, &used_now);
        else
            rc = MGOV_EBUDGET;
        if (rc != MGOV_OK) {
            if (blocking)
                rc = mgov__reserve_wait(gov, region, bytes, flags, timeout_ns, out);
            else
                rc = charge_after_reclaim(gov, region, bytes, flags, true, why);
        }
    }
    if (rc != MGOV_OK) {
        refused(gov, region, bytes, rc);
        return rc;
    }
    *out = (mgov_grant_t){ .gov = gov, .bytes = bytes, .region = region, .flags = flags };
    mgov__after_charge(gov, flags);
    return MGOV_OK;
}

/* The fast path both reserve forms share: no stores before the atomics
 * (a locked instruction waits for earlier stores to drain). */
INLINE int reserve_fast(mgov_t *gov, int region, uint64_t bytes, unsigned flags,
                        int64_t timeout_ns, bool blocking, mgov_grant_t *out)
{
    if (!request_ok(gov, region, flags, out)) {
        if (out)
            memset(out, 0, sizeof *out);
        return MGOV_EINVAL;
    }
    int why;
    uint64_t used_now;
    if (likely(!held_back(gov, region, flags) && fits_ever(gov, region, bytes, flags) == MGOV_OK &&
               charge(gov, region, bytes, flags, true, &why, &used_now) == MGOV_OK)) {
        out->gov = gov;
        out->bytes = bytes;
        out->region = region;
        out->flags = flags;
        if (after_change_needed(gov, used_now))
            mgov__after_charge(gov, flags);
        return MGOV_OK;
    }
    return reserve_slow(gov, region, bytes, flags, timeout_ns, blocking, out);
}

int mgov_try_reserve(mgov_t *gov, int region, uint64_t bytes, unsigned flags,
                     mgov_grant_t *out)
{
    return reserve_fast(gov, region, bytes, flags, 0, false, out);
}

int mgov_reserve(mgov_t *gov, int region, uint64_t bytes, unsigned flags, int64_t timeout_ns,
                 mgov_grant_t *out)
{
    /* 0 does not wait: exactly mgov_try_reserve (MGOV_EBUDGET, no queue) */
    return reserve_fast(gov, region, bytes, flags, timeout_ns, timeout_ns != 0, out);
}

INLINE bool grant_live(const mgov_grant_t *g)
{
    return likely(g && g->gov && g->region >= 0 && (unsigned)g->region < g->gov->n_regions);
}

int mgov_grant_resize(mgov_grant_t *g, uint64_t new_bytes)
{
    if (!grant_live(g))
        return MGOV_EINVAL;
    mgov_t *gov = g->gov;
    if (new_bytes <= g->bytes) {
        uint64_t give = g->bytes - new_bytes;
        if (give)
            uncharge(gov, g->region, give, 0);
        g->bytes = new_bytes;
        return MGOV_OK;
    }
    uint64_t more = new_bytes - g->bytes;
    int rc = fits_ever(gov, g->region, new_bytes, g->flags);
    if (rc == MGOV_OK) {
        int why = MGOV__WHY_BUDGET;
        uint64_t used_now;
        rc = held_back(gov, g->region, g->flags)
                 ? MGOV_EBUDGET
                 : charge(gov, g->region, more, g->flags, false, &why, &used_now);
        if (rc != MGOV_OK)
            rc = charge_after_reclaim(gov, g->region, more, g->flags, false, why);
    }
    if (rc != MGOV_OK) {
        refused(gov, g->region, more, rc);
        return rc;
    }
    g->bytes = new_bytes;
    mgov__after_charge(gov, g->flags);
    return MGOV_OK;
}

int mgov_grant_split(mgov_grant_t *g, uint64_t bytes, mgov_grant_t *out)
{
    if (!grant_live(g) || !out || out == g || bytes > g->bytes)
        return MGOV_EINVAL;
    uint64_t old = atomic_fetch_add_explicit(&g->gov->region_word[g->region], MGOV__GRANT_ONE,
                                             memory_order_relaxed);
    count_grant_wrap(g->gov, g->region, old, true);
    g->bytes -= bytes;
    *out = (mgov_grant_t){ .gov = g->gov, .bytes = bytes, .region = g->region,
                           .flags = g->flags };
    return MGOV_OK;
}

int mgov_grant_merge(mgov_grant_t *into, mgov_grant_t *from)
{
    if (!grant_live(into) || !grant_live(from) || into == from || into->gov != from->gov ||
        into->region != from->region)
        return MGOV_EINVAL;
    uint64_t old = atomic_fetch_sub_explicit(&into->gov->region_word[into->region],
                                             MGOV__GRANT_ONE, memory_order_relaxed);
    count_grant_wrap(into->gov, into->region, old, false);
    into->bytes += from->bytes;
    memset(from, 0, sizeof *from);
    return MGOV_OK;
}

void mgov_grant_release(mgov_grant_t *g)
{
    if (!grant_live(g))
        return;
    uncharge(g->gov, g->region, g->bytes, 1);
    /* zeroed after the atomics: see reserve_fast */
    g->gov = NULL;
    g->bytes = 0;
    g->region = 0;
    g->flags = 0;
}
