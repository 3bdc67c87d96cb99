/* governor/internal.h - the governor's state, shared by the files of
 * src/governor/.  Not installed.
 *
 * Counters (lock-free; see grant.c for the admission protocol)
 *
 *   gov->used        bytes granted in all regions; CAS-checked against the
 *                    ceiling, so it never exceeds the budget.
 *   gov->region_word[i]
 *                    live grants mod 2^12 (bits 52-63) | settings
 *                    generation (bits 48-51) | bytes of region i (bits
 *                    0-47); one atomic add charges grants and bytes.
 *                    regions[i].grant_wraps counts the 2^12 wraps of the
 *                    grant field.  Bytes fit in 48 bits because the budget
 *                    is at most MGOV_BUDGET_MAX (2^46 - 1): a region's
 *                    bytes plus those of requests in flight fit.  The
 *                    generation names the region's settings in force
 *                    (regions[i].set[gen]: reservation and limit), so a
 *                    step on the word knows which settings it was made
 *                    under (region.c: mgov_region_set).
 *   gov->committed   sum over regions of max(used, reserved); maintained only
 *                    when some region has a reservation (has_reservations).
 *
 *   Every grant writes `used` and its region's word, so they share one
 *   cache line (regions 0..6; later ones spill to the next line): under
 *   contention a reserve moves one line between cores, not two.  What the
 *   fast path only reads (bounds, waiter counts, peaks) lives on other
 *   lines, written rarely.

 * Locks, in the order they may be nested (outer first):
 *   regions_lock     changes of region settings, loans (region.c, rebalance.c)
 *   wait_lock        the FIFO queue of blocked requests (wait.c)
 *   consumers_lock   the consumer list, consumer refs/running (consumer.c)
 *   reclaim_lock     the one-pass-at-a-time state (reclaim.c)
 *   pressure_lock    level transitions and thresholds (pressure.c)
 *   No lock is held while a consumer op or the event callback runs.
 */
#ifndef MGOV_GOVERNOR_INTERNAL_H
#define MGOV_GOVERNOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "governor/hooks.h"
#include "memgov/governor.h"

#define MGOV__CACHELINE 64
#define MGOV__BYTES_MASK (((uint64_t)1 << 48) - 1)
#define MGOV__GEN_SHIFT 48
#define MGOV__GEN_MASK ((uint64_t)0xF << MGOV__GEN_SHIFT)
#define MGOV__GRANT_SHIFT 52
#define MGOV__GRANT_ONE ((uint64_t)1 << MGOV__GRANT_SHIFT)
#define MGOV__GRANT_FIELD 0xFFFu
/* Generation 0 is the settings given at create; changes cycle through
 * 1..15 and never come back to 0, so gen 0 means "never changed". */
#define MGOV__GENS 16

/* Why a charge was refused. */
enum { MGOV__WHY_NONE, MGOV__WHY_LIMIT, MGOV__WHY_BUDGET };

/* One generation of a region's settings.  Written (relaxed) by the setter
 * before the seq_cst CAS that puts its generation into the region word,
 * and not written again while that generation is in force. */
typedef struct mgov_region_settings {
    _Atomic uint64_t reserved, limit; /* limit 0: none */
} mgov_region_settings_t;

typedef struct mgov_region {
    /* read on every grant of the region, written rarely */
    _Alignas(MGOV__CACHELINE) _Atomic uint64_t peak;
    _Atomic unsigned waiters;      /* queued requests of this region */
    _Atomic uint64_t grant_wraps;
    /* nonzero when the settings in force have a limit: charges then check
     * it with a CAS; otherwise they add, and re-check when gen != 0 */
    _Atomic uint64_t limit_hint;
    mgov_region_settings_t set[MGOV__GENS];
    /* cold */
    char name[MGOV_NAME_MAX + 1];
    _Atomic uint64_t refusals, waits, wait_ns, timeouts;
    /* under regions_lock: the limit the user set (create, mgov_region_set);
     * the one in force differs by what the rebalancer moved */
    uint64_t own_limit;
    /* rebalance.c, its thread only */
    uint64_t rb_refusals, rb_waits;
    unsigned rb_idle_ticks;
} mgov_region_t;

typedef struct mgov_waiter mgov_waiter_t;

struct mgov_consumer {
    mgov_t *gov;
    char name[MGOV_NAME_MAX + 1];
    int region;
    unsigned priority;
    _Atomic unsigned flags;
    mgov_consumer_ops_t ops;
    void *ctx;
    _Atomic uint64_t last_touch;
    /* under gov->consumers_lock */
    unsigned refs;    /* snapshots (reclaim victim lists) holding it */
    unsigned running; /* callbacks running now */
    bool unregistering, free_pending;
    mgov_consumer_t *prev, *next;
};

struct mgov {
    /* written by every grant */
    _Alignas(MGOV__CACHELINE) _Atomic uint64_t used;
    _Atomic uint64_t region_word[MGOV_MAX_REGIONS];
    _Alignas(MGOV__CACHELINE) _Atomic uint64_t committed;

    /* read by every grant, written rarely */
    _Alignas(MGOV__CACHELINE) _Atomic uint64_t peak;
    _Atomic uint64_t level_up_at, level_down_at; /* fast pressure check bounds */
    _Atomic unsigned n_waiters;      /* queued requests */
    _Atomic unsigned budget_waiters; /* queued ordinary requests blocked on the budget */
    _Atomic int reclaim_pending;     /* level of a proactive reclaim owed, or 0 */

    /* read-mostly */
    _Alignas(MGOV__CACHELINE) _Atomic uint64_t budget;
    /* What `used` may reach: the bytes leased from the host budget
     * (host/host.h: the lease protocol), UINT64_MAX without a host. */
    _Atomic uint64_t lease;
    struct mgov__host *host;        /* NULL without a host (host_link.c) */
    /* where each pressure level begins, in bytes of the budget: [0] 0,
     * [1] moderate, [2] high, [3] critical (the ceiling of ordinary
     * requests); and the hysteresis below a level before it is left */
    _Atomic uint64_t level_bytes[4];
    _Atomic uint64_t hyst_bytes;
    double level_frac[4], hyst_frac; /* the same as fractions, fixed at create */
    unsigned flags;
    bool has_reservations;          /* `committed` is maintained (fixed at create) */
    _Atomic uint64_t total_reserved; /* written under regions_lock */
    int spill_region;               /* index, or -1 */
    unsigned n_regions;
    mgov_region_t regions[MGOV_MAX_REGIONS];
    char *spill_dir;
    uint64_t spill_quota;

    /* the layers' per-governor states (layers.c): made once, on first use,
     * under their slot's lock; freed by mgov_destroy, highest slot first */
    pthread_mutex_t layer_lock[MGOV__LAYER_SLOTS];
    void *layer_state[MGOV__LAYER_SLOTS];
    void (*layer_free[MGOV__LAYER_SLOTS])(void *state);
    _Atomic uint64_t spill_disk, spill_disk_peak, spill_quota_now; /* stats.c */
    _Atomic uint64_t sections_quarantined;                        /* stats.c */
    void (*on_event)(void *ctx, const mgov_event_t *ev);
    void *event_ctx;
    _Atomic uint64_t event_seq;

    /* region settings and loans (region.c, rebalance.c) */
    pthread_mutex_t regions_lock;
    uint64_t lent[MGOV_MAX_REGIONS][MGOV_MAX_REGIONS]; /* [lender][borrower] bytes */
    _Atomic uint64_t rebalance_moves;

    /* stats sources: the heaps (stats.c, hooks.h) */
    pthread_mutex_t sources_lock;
    mgov__stats_source_t *sources;
    char *cgroup_dir;                /* the process's cgroup v2 directory, or NULL */

    /* the monitor thread: kernel pressure watcher, rebalancer, stats file
     * (monitor.c); NULL when none runs */
    struct mgov__monitor *monitor;
    _Atomic uint64_t kernel_signals;
    unsigned watch_interval_ms, rebalance_interval_ms;

    /* pressure (pressure.c) */
    pthread_mutex_t pressure_lock;
    _Atomic int level;
    _Atomic uint64_t transitions;
    _Atomic uint64_t rss, rss_peak, rss_sampled_at;

    /* blocked requests (wait.c) */
    pthread_mutex_t wait_lock;
    mgov_waiter_t *wq_head, *wq_tail;

    /* consumers (consumer.c) */
    pthread_mutex_t consumers_lock;
    pthread_cond_t consumer_cond;
    mgov_consumer_t *consumers;
    unsigned n_consumers;
    _Atomic uint64_t touch_clock;

    /* reclaim (reclaim.c) */
    pthread_mutex_t reclaim_lock;
    pthread_cond_t reclaim_cond;
    bool reclaim_running;
    uint64_t reclaim_gen, reclaim_last_freed;
    _Atomic uint64_t reclaim_passes, reclaim_asked, reclaim_freed, malloc_trims;
    _Atomic uint64_t evictions, spills, spill_failures, reloads, reload_failures;
};

/* ---- grant.c: admission */
static inline uint64_t mgov__word_bytes(uint64_t w) { return w & MGOV__BYTES_MASK; }
static inline unsigned mgov__word_gen(uint64_t w)
{
    return (unsigned)((w & MGOV__GEN_MASK) >> MGOV__GEN_SHIFT);
}
/* The settings in force now (relaxed: a value on its own; see region.c). */
static inline const mgov_region_settings_t *mgov__settings_now(const mgov_t *gov, int region)
{
    uint64_t w = atomic_load_explicit(&gov->region_word[region], memory_order_relaxed);
    return &gov->regions[region].set[mgov__word_gen(w)];
}
static inline uint64_t mgov__limit_now(const mgov_t *gov, int region)
{
    return atomic_load_explicit(&mgov__settings_now(gov, region)->limit, memory_order_relaxed);
}
static inline uint64_t mgov__reserved_now(const mgov_t *gov, int region)
{
    return atomic_load_explicit(&mgov__settings_now(gov, region)->reserved,
                                memory_order_relaxed);
}
bool mgov__is_urgent(const mgov_t *gov, int region, unsigned flags);
uint64_t mgov__ceiling(const mgov_t *gov, int region, unsigned flags);
/* Charges bytes (and one live grant when new_grant) if the admission rule
 * allows; *why says which rule refused.  No locks, no events. */
int mgov__charge(mgov_t *gov, int region, uint64_t bytes, unsigned flags, bool new_grant,
                 int *why);
/* Returns bytes (and `grants_ended` live grants) to the budget; updates
 * pressure and wakes waiters.  Takes wait_lock when there are waiters. */
void mgov__uncharge(mgov_t *gov, int region, uint64_t bytes, unsigned grants_ended);
/* After a successful charge, outside every lock: pressure transitions and
 * the proactive reclaim they owe (unless MGOV_NO_RECLAIM). */
void mgov__after_charge(mgov_t *gov, unsigned flags);
uint64_t mgov__region_grants(const mgov_t *gov, int region);
/* seq_cst: mgov_stats brackets these reads with loads of `used` in the
 * grants' single order (stats.c) */
static inline uint64_t mgov__region_used(const mgov_t *gov, int region)
{
    return mgov__word_bytes(atomic_load(&gov->region_word[region]));
}

/* ---- wait.c */
/* True when an earlier waiter has precedence over a new request. */
bool mgov__held_back(const mgov_t *gov, int region, unsigned flags);
void mgov__wake_waiters(mgov_t *gov);
int mgov__reserve_wait(mgov_t *gov, int region, uint64_t bytes, unsigned flags,
                       int64_t timeout_ns, mgov_grant_t *out);

/* ---- pressure.c */
void mgov__thresholds_set(mgov_t *gov, uint64_t budget);
void mgov__pressure_update(mgov_t *gov);
/* The pressure update the fast path asks for: cheap unless a bound is crossed. */
static inline void mgov__pressure_check(mgov_t *gov, uint64_t used_now)
{
    if (used_now >= atomic_load_explicit(&gov->level_up_at, memory_order_relaxed) ||
        used_now < atomic_load_explicit(&gov->level_down_at, memory_order_relaxed))
        mgov__pressure_update(gov);
}
/* With MGOV_RSS_PRESSURE: samples RSS when the last sample is older than 1 ms. */
void mgov__rss_maybe_sample(mgov_t *gov);
uint64_t mgov__effective_used(mgov_t *gov);

/* ---- consumer.c */
/* A callback in progress on this thread (on the caller's stack). */
typedef struct mgov__frame {
    mgov_consumer_t *c;
    struct mgov__frame *prev;
} mgov__frame_t;
/* Brackets every call of a consumer op: enter fails once the consumer is
 * unregistering; leave must get the same frame, innermost first. */
bool mgov__consumer_enter(mgov_consumer_t *c, mgov__frame_t *f);
void mgov__consumer_leave(mgov_consumer_t *c, mgov__frame_t *f);
void mgov__consumer_unref(mgov_consumer_t *c);
/* A referenced snapshot of the consumers (of one region, or all with -1),
 * sorted for reclaim (priority ascending, least recently touched first), or
 * for reload when `highest_first`.  MGOV_OK or MGOV_ENOMEM; release with
 * mgov__victims_free. */
int mgov__victims_collect(mgov_t *gov, int region, bool highest_first, mgov_consumer_t ***out,
                          unsigned *n);
void mgov__victims_free(mgov_consumer_t **v, unsigned n);
void mgov__consumers_destroy(mgov_t *gov); /* reports and frees leftovers */

/* ---- reclaim.c */
/* One pass (shared with a pass already running).  region -1 = all. */
uint64_t mgov__reclaim_pass(mgov_t *gov, uint64_t target, mgov_pressure_t level, int region);
bool mgov__in_callback(const mgov_t *gov);
/* Gives the freed heap back to the system now (malloc_trim), counted in
 * malloc_trims. */
void mgov__trim(mgov_t *gov);

/* ---- region.c */
/* Puts new settings in force for a region (under regions_lock): the next
 * generation, committed adjusted at the CAS that installs it, waiters
 * woken.  Returns the region's bytes at that moment. */
uint64_t mgov__region_apply_locked(mgov_t *gov, int region, uint64_t reserved, uint64_t limit);
/* After settings changed: reclaim from the region when it holds more than
 * its limit (no lock held). */
void mgov__region_enforce(mgov_t *gov, int region);
void mgov__region_event(mgov_t *gov, mgov_event_type_t type, int region, const char *name,
                        uint64_t bytes, uint64_t count);

/* ---- rebalance.c (the monitor thread) */
void mgov__rebalance_tick(mgov_t *gov);
/* Settles every loan of `region` (as lender or borrower), under regions_lock. */
void mgov__loans_settle_locked(mgov_t *gov, int region, int *touched, unsigned *n_touched);

/* ---- monitor.c */
int mgov__monitor_start(mgov_t *gov);
void mgov__monitor_stop(mgov_t *gov);

/* ---- host_link.c: the budget shared by the processes of a host */
/* Joins cfg->host (nothing without one): MGOV_OK or attach's error. */
int mgov__host_link(mgov_t *gov, const mgov_config_t *cfg);
/* The shared budget of the host joined (0 without one). */
uint64_t mgov__host_shared_budget(const mgov_t *gov);
/* Leaves it, giving the lease back (mgov_destroy, before anything else). */
void mgov__host_unlink(mgov_t *gov);
/* The charge's slow step when `used + bytes` passed the lease but not the
 * ceiling: grows the lease; true when it now covers `need`. */
bool mgov__host_lease_grow(mgov_t *gov, uint64_t need);

/* ---- layers.c */
/* Frees every layer's state, highest slot first (mgov_destroy). */
void mgov__layers_destroy(mgov_t *gov);

/* ---- event.c */
void mgov__event_init(mgov_event_t *ev, mgov_event_type_t type, const mgov_t *gov, int region);
void mgov__emit(mgov_t *gov, mgov_event_t *ev);
static inline bool mgov__has_events(const mgov_t *gov) { return gov->on_event != NULL; }

#endif /* MGOV_GOVERNOR_INTERNAL_H */
