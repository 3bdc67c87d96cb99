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

static const char *const level_names[] = { "normal", "moderate", "high", "critical" };

const char *mgov_pressure_name(mgov_pressure_t level)
{
    if ((unsigned)level > MGOV_PRESSURE_CRITICAL)
        return "unknown";
    return level_names[level];
}

static uint64_t frac_of(double fr, uint64_t budget)
{
    double v = fr * (double)budget;
    return v >= (double)budget ? budget : (uint64_t)v;
}

/* Sets bounds for the fast check from the level.  Under pressure_lock. */
static void bounds_set_locked(mgov_t *gov, int level)
{
    mgov__assert_held(&gov->pressure_lock);
    uint64_t hyst = atomic_load(&gov->hyst_bytes);
    uint64_t up =
        level < MGOV_PRESSURE_CRITICAL ? atomic_load(&gov->level_bytes[level + 1]) : UINT64_MAX;
    uint64_t down = 0;
    if (level > MGOV_PRESSURE_NORMAL && !(gov->flags & MGOV_RSS_PRESSURE)) {
        /* With RSS pressure, RSS may hold the level while `used` is low:
         * downward moves are found by sampling instead. */
        uint64_t t = atomic_load(&gov->level_bytes[level]);
        down = t > hyst ? t - hyst : 0;
    }
    atomic_store(&gov->level_up_at, up);
    atomic_store(&gov->level_down_at, down);
}

void mgov__thresholds_set(mgov_t *gov, uint64_t budget)
{
    pthread_mutex_lock(&gov->pressure_lock);
    atomic_store(&gov->level_bytes[0], 0);
    for (int i = 1; i < 4; i++)
        atomic_store(&gov->level_bytes[i], frac_of(gov->level_frac[i], budget));
    atomic_store(&gov->hyst_bytes, frac_of(gov->hyst_frac, budget));
    bounds_set_locked(gov, atomic_load(&gov->level));
    pthread_mutex_unlock(&gov->pressure_lock);
}

uint64_t mgov__effective_used(mgov_t *gov)
{
    uint64_t used = atomic_load(&gov->used);
    if (gov->flags & MGOV_RSS_PRESSURE) {
        uint64_t rss = atomic_load(&gov->rss);
        if (rss > used)
            used = rss;
    }
    return used;
}

static int level_for(mgov_t *gov, uint64_t eff, int cur)
{
    int lvl = cur;
    while (lvl < MGOV_PRESSURE_CRITICAL && eff >= atomic_load(&gov->level_bytes[lvl + 1]))
        lvl++;
    if (lvl != cur)
        return lvl;
    uint64_t hyst = atomic_load(&gov->hyst_bytes);
    while (lvl > MGOV_PRESSURE_NORMAL && eff + hyst < atomic_load(&gov->level_bytes[lvl]))
        lvl--;
    return lvl;
}

void mgov__pressure_update(mgov_t *gov)
{
    pthread_mutex_lock(&gov->pressure_lock);
    int old = atomic_load(&gov->level);
    uint64_t eff = mgov__effective_used(gov);
    int lvl = level_for(gov, eff, old);
    if (lvl != old) {
        atomic_store(&gov->level, lvl);
        atomic_fetch_add(&gov->transitions, 1);
        if (lvl > old && lvl >= MGOV_PRESSURE_MODERATE) {
            int pending = atomic_load(&gov->reclaim_pending);
            while (pending < lvl &&
                   !atomic_compare_exchange_weak(&gov->reclaim_pending, &pending, lvl))
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
        ev.used = atomic_load(&gov->used);
        mgov__emit(gov, &ev);
    }
}

static void rss_sample(mgov_t *gov, uint64_t now)
{
    uint64_t rss = mgov_rss_now();
    atomic_store(&gov->rss, rss);
    uint64_t peak = atomic_load(&gov->rss_peak);
    while (rss > peak && !atomic_compare_exchange_weak(&gov->rss_peak, &peak, rss))
        ;
    atomic_store(&gov->rss_sampled_at, now);
}

void mgov__rss_maybe_sample(mgov_t *gov)
{
    uint64_t now = mgov__coarse_now_ns();
    uint64_t last = atomic_load_explicit(&gov->rss_sampled_at, memory_order_relaxed);
    if (now - last < RSS_SAMPLE_NS)
        return;
    /* One thread samples; the others go on with the last value. */
    if (!atomic_compare_exchange_strong(&gov->rss_sampled_at, &last, now))
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
    return (mgov_pressure_t)atomic_load(&gov->level);
}
