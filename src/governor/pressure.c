/* governor/pressure.c - pressure levels, thresholds with hysteresis, RSS
 * sampling.
 *
 *   used/budget:  0 ......... 70% ......... 85% ......... 95% ...... 100%
 *   level:          NORMAL      MODERATE       HIGH       CRITICAL
 *                             <-hyst|       <-hyst|      <-hyst|
 *
 * A level is entered when the (effective) usage reaches its threshold and
 * left when usage falls below the threshold less the hysteresis, so a
 * workload hovering at a threshold does not flap.  The effective usage is
 * `used`, or with MGOV_RSS_PRESSURE the larger of `used` and the process's
 * RSS, sampled at most once a millisecond.
 *
 * The fast path compares `used` with two precomputed bounds (level_up_at,
 * level_down_at) and calls mgov__pressure_update only when one is crossed.
 * An upward transition into MODERATE or above records a proactive reclaim
 * (reclaim_pending), run by the thread that crossed (grant.c) unless it
 * asked for MGOV_NO_RECLAIM, in which case the next reserving thread runs it.
 *
 * Locking: pressure_lock serializes transitions; the event is emitted after
 * it is dropped (events carry a sequence number for ordering).
 */
#include "governor/internal.h"
#include "sys/debug.h"
#include "sys/sys.h"

#define RSS_SAMPLE_NS (1000 * 1000ull)

static const char *const level_names[] = { /* from MGOV_PRESSURE_MAP (memgov/governor.h) */
#define XX(name, value, str) [MGOV_PRESSURE_##name] = str,
    MGOV_PRESSURE_MAP(XX)
#undef XX
};

const char *mgov_pressure_name(mgov_pressure_t level)
{
    if ((unsigned)level >= sizeof level_names / sizeof level_names[0] || !level_names[level])
        return "unknown";
    return level_names[level];
}

static uint64_t frac_of(double fr, uint64_t budget)
{
    double v = fr * (double)budget;
    return v >= (double)budget ? budget : (uint64_t)v;
}

/* Memory order: the bounds, thresholds, level and RSS samples are each a
 * value on its own, read and written relaxed; pressure_lock orders the
 * transitions.  The one exception is the ceiling (mgov__thresholds_set). */
#define RELAXED memory_order_relaxed

/* Sets bounds for the fast check from the level.  Under pressure_lock. */
static void bounds_set_locked(mgov_t *gov, int level)
{
    mgov__assert_held(&gov->pressure_lock);
    uint64_t hyst = atomic_load_explicit(&gov->hyst_bytes, RELAXED);
    uint64_t up = level < MGOV_PRESSURE_CRITICAL
                      ? atomic_load_explicit(&gov->level_bytes[level + 1], RELAXED)
                      : UINT64_MAX;
    uint64_t down = 0;
    if (level > MGOV_PRESSURE_NORMAL && !(gov->flags & MGOV_RSS_PRESSURE)) {
        /* With RSS pressure, RSS may hold the level while `used` is low:
         * downward moves are found by sampling instead. */
        uint64_t t = atomic_load_explicit(&gov->level_bytes[level], RELAXED);
        down = t > hyst ? t - hyst : 0;
    }
    atomic_store_explicit(&gov->level_up_at, up, RELAXED);
    atomic_store_explicit(&gov->level_down_at, down, RELAXED);
}

void mgov__thresholds_set(mgov_t *gov, uint64_t budget)
{
    pthread_mutex_lock(&gov->pressure_lock);
    atomic_store_explicit(&gov->level_bytes[0], 0, RELAXED);
    /* seq_cst: level_bytes[3] is the ceiling of ordinary requests; a higher
     * one is a release, and mgov_set_budget's seq_cst load of n_waiters
     * after it pairs with the waiters' seq_cst reads (wait.c) */
    for (int i = 1; i < 4; i++)
        atomic_store(&gov->level_bytes[i], frac_of(gov->level_frac[i], budget));
    atomic_store_explicit(&gov->hyst_bytes, frac_of(gov->hyst_frac, budget), RELAXED);
    bounds_set_locked(gov, atomic_load_explicit(&gov->level, RELAXED));
    pthread_mutex_unlock(&gov->pressure_lock);
}

uint64_t mgov__effective_used(mgov_t *gov)
{
    uint64_t used = atomic_load_explicit(&gov->used, RELAXED);
    if (gov->flags & MGOV_RSS_PRESSURE) {
        uint64_t rss = atomic_load_explicit(&gov->rss, RELAXED);
        if (rss > used)
            used = rss;
    }
    return used;
}

static int level_for(mgov_t *gov, uint64_t eff, int cur)
{
    int lvl = cur;
    while (lvl < MGOV_PRESSURE_CRITICAL &&
           eff >= atomic_load_explicit(&gov->level_bytes[lvl + 1], RELAXED))
        lvl++;
    if (lvl != cur)
        return lvl;
    uint64_t hyst = atomic_load_explicit(&gov->hyst_bytes, RELAXED);
    while (lvl > MGOV_PRESSURE_NORMAL &&
           eff + hyst < atomic_load_explicit(&gov->level_bytes[lvl], RELAXED))
        lvl--;
    return lvl;
}

void mgov__pressure_update(mgov_t *gov)
{
    pthread_mutex_lock(&gov->pressure_lock);
    int old = atomic_load_explicit(&gov->level, RELAXED);
    uint64_t eff = mgov__effective_used(gov);
    int lvl = level_for(gov, eff, old);
    if (lvl != old) {
        atomic_store_explicit(&gov->level, lvl, RELAXED);
        atomic_fetch_add_explicit(&gov->transitions, 1, RELAXED);
        if (lvl > old && lvl >= MGOV_PRESSURE_MODERATE) {
            /* raised to lvl unless a higher pass is owed already */
            int pending = atomic_load_explicit(&gov->reclaim_pending, RELAXED);
            while (pending < lvl &&
                   !atomic_compare_exchange_weak_explicit(&gov->reclaim_pending, &pending, lvl,
                                                          RELAXED, RELAXED))
                ;
        }
    }
    bounds_set_locked(gov, lvl);
    pthread_mutex_unlock(&gov->pressure_lock);

    if (lvl != old && mgov__has_events(gov)) {
        mgov_event_t ev;
        mgov__event_init(&ev, MGOV_EV_PRESSURE, gov, -1);
        ev.level = (mgov_pressure_t)lvl;
        ev.old_level = (mgov_pressure_t)old;
        ev.used = atomic_load_explicit(&gov->used, RELAXED);
        mgov__emit(gov, &ev);
    }
}

static void rss_sample(mgov_t *gov, uint64_t now)
{
    uint64_t rss = mgov_rss_now();
    atomic_store_explicit(&gov->rss, rss, RELAXED);
    uint64_t peak = atomic_load_explicit(&gov->rss_peak, RELAXED);
    while (rss > peak &&
           !atomic_compare_exchange_weak_explicit(&gov->rss_peak, &peak, rss, RELAXED, RELAXED))
        ;
    atomic_store_explicit(&gov->rss_sampled_at, now, RELAXED);
}

void mgov__rss_maybe_sample(mgov_t *gov)
{
    uint64_t now = mgov__coarse_now_ns();
    uint64_t last = atomic_load_explicit(&gov->rss_sampled_at, RELAXED);
    if (now - last < RSS_SAMPLE_NS)
        return;
    /* One thread samples; the others go on with the last value (the CAS
     * only elects it: relaxed). */
    if (!atomic_compare_exchange_strong_explicit(&gov->rss_sampled_at, &last, now, RELAXED,
                                                 RELAXED))
        return;
    rss_sample(gov, now);
    mgov__pressure_update(gov);
}

mgov_pressure_t mgov_pressure(const mgov_t *cgov)
{
    if (!cgov)
        return MGOV_PRESSURE_NORMAL;
    mgov_t *gov = (mgov_t *)cgov; /* the level is derived state: sampling may refresh it */
    if (gov->flags & MGOV_RSS_PRESSURE)
        mgov__rss_maybe_sample(gov);
    return (mgov_pressure_t)atomic_load_explicit(&gov->level, RELAXED);
}
