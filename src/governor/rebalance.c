/* governor/rebalance.c - the rebalancer (MGOV_REBALANCE): limit lent by
 * regions that stay well below theirs to regions whose requests wait or
 * are refused at theirs, and taken back when the lender needs it.
 *
 * Only regions with a limit of their own (own_limit: create or
 * mgov_region_set) take part.  The limit in force of region i is
 *
 *     own_limit[i] - sum_j lent[i][j] + sum_j lent[j][i]
 *
 * Each tick (rebalance_interval_ms, the monitor thread):
 *   busy(i)   requests of i wait now, or waited or were refused since the
 *             last tick while i used at least 90% of its limit in force
 *             (so the limit is what holds them back);
 *   idle(i)   i uses less than half its limit in force; idle_ticks counts
 *             the consecutive idle ticks.
 *   1. Give back: a lender that is busy, or uses 75% of its limit in
 *      force, gets every loan back at once; a borrower left over its
 *      smaller limit admits nothing until it is under it again, and a
 *      reclaim pass runs on its consumers.
 *   2. Lend: each busy region that has lent nothing borrows from the
 *      region idle for at least 10 ticks with the most room above its
 *      floor, max(reserved, 2 x used, own_limit / 4): half that room, at
 *      most half the borrower's own limit (at least 64 KiB, or nothing),
 *      and never past the critical ceiling (critical x budget).
 * A lender's limit never goes below its floor, so its reservation (its
 * guarantee) is never lent.  Every move is an MGOV_EV_REBALANCE event.
 *
 * Locking: the loans and own limits are under regions_lock; the tick
 * takes it for each decision and drops it before events and reclaim.
 * rb_* fields are the monitor thread's own.
 */
#include "governor/internal.h"
#include "sys/debug.h"

#define MIN_MOVE ((uint64_t)64 << 10)
#define LENDER_IDLE_TICKS 10

static uint64_t limit_of_locked(const mgov_t *gov, int i)
{
    uint64_t l = gov->regions[i].own_limit;
    for (unsigned j = 0; j < gov->n_regions; j++)
        l = l - gov->lent[i][j] + gov->lent[j][i];
    return l;
}

static uint64_t lent_by_locked(const mgov_t *gov, int i)
{
    uint64_t s = 0;
    for (unsigned j = 0; j < gov->n_regions; j++)
        s += gov->lent[i][j];
    return s;
}

static void reapply_locked(mgov_t *gov, int i)
{
    mgov__region_apply_locked(gov, i, mgov__reserved_now(gov, i), limit_of_locked(gov, i));
}

void mgov__loans_settle_locked(mgov_t *gov, int region, int *touched, unsigned *n_touched)
{
    mgov__assert_held(&gov->regions_lock);
    *n_touched = 0;
    for (unsigned j = 0; j < gov->n_regions; j++) {
        if ((int)j == region || (!gov->lent[region][j] && !gov->lent[j][region]))
            continue;
        gov->lent[region][j] = gov->lent[j][region] = 0;
        touched[(*n_touched)++] = (int)j;
    }
    for (unsigned k = 0; k < *n_touched; k++)
        reapply_locked(gov, touched[k]);
}

typedef struct tick_view {
    bool busy, idle;
    uint64_t used, limit;
} tick_view_t;

/* Gives back every loan of lender i (regions_lock held); fills borrowers. */
static unsigned give_back_locked(mgov_t *gov, int i, int *borrowers, uint64_t *amounts)
{
    unsigned n = 0;
    for (unsigned j = 0; j < gov->n_regions; j++) {
        if (!gov->lent[i][j])
            continue;
        amounts[n] = gov->lent[i][j];
        borrowers[n++] = (int)j;
        gov->lent[i][j] = 0;
        reapply_locked(gov, (int)j);
    }
    if (n)
        reapply_locked(gov, i);
    return n;
}

void mgov__rebalance_tick(mgov_t *gov)
{
    tick_view_t v[MGOV_MAX_REGIONS];
    unsigned n = gov->n_regions;
    for (unsigned i = 0; i < n; i++) {
        mgov_region_t *r = &gov->regions[i];
        /* statistics and gauges: relaxed */
        uint64_t refusals = atomic_load_explicit(&r->refusals, memory_order_relaxed);
        uint64_t waits = atomic_load_explicit(&r->waits, memory_order_relaxed);
        unsigned waiting = atomic_load_explicit(&r->waiters, memory_order_relaxed);
        bool demand = waiting || refusals != r->rb_refusals || waits != r->rb_waits;
        r->rb_refusals = refusals;
        r->rb_waits = waits;
        v[i].used = mgov__region_used(gov, (int)i);
        v[i].limit = mgov__limit_now(gov, (int)i);
        v[i].busy = v[i].limit && demand && (waiting || v[i].used >= v[i].limit / 10 * 9);
        v[i].idle = v[i].limit && !demand && v[i].used < v[i].limit / 2;
        r->rb_idle_ticks = v[i].idle ? r->rb_idle_ticks + 1 : 0;
    }

    /* 1. give back */
    for (unsigned i = 0; i < n; i++) {
        int borrowers[MGOV_MAX_REGIONS];
        uint64_t amounts[MGOV_MAX_REGIONS];
        unsigned nb = 0;
        pthread_mutex_lock(&gov->regions_lock);
        if (lent_by_locked(gov, (int)i) &&
            (v[i].busy || v[i].used >= limit_of_locked(gov, (int)i) / 4 * 3))
            nb = give_back_locked(gov, (int)i, borrowers, amounts);
        pthread_mutex_unlock(&gov->regions_lock);
        for (unsigned k = 0; k < nb; k++) {
            atomic_fetch_add_explicit(&gov->rebalance_moves, 1, memory_order_relaxed);
            mgov__region_event(gov, MGOV_EV_REBALANCE, borrowers[k], gov->regions[i].name,
                               amounts[k], 0);
        }
        if (nb && atomic_load(&gov->n_waiters)) /* seq_cst: as region.c */
            mgov__wake_waiters(gov);
        for (unsigned k = 0; k < nb; k++)
            mgov__region_enforce(gov, borrowers[k]);
    }

    /* 2. lend */
    uint64_t ceiling = atomic_load_explicit(&gov->level_bytes[3], memory_order_relaxed);
    for (unsigned b = 0; b < n; b++) {
        if (!v[b].busy)
            continue;
        int lender = -1;
        uint64_t amount = 0;
        pthread_mutex_lock(&gov->regions_lock);
        uint64_t own_b = gov->regions[b].own_limit;
        if (own_b && !lent_by_locked(gov, (int)b)) {
            uint64_t best = 0;
            for (unsigned i = 0; i < n; i++) {
                const mgov_region_t *r = &gov->regions[i];
                if (i == b || !r->own_limit || r->rb_idle_ticks < LENDER_IDLE_TICKS)
                    continue;
                uint64_t lim = limit_of_locked(gov, (int)i);
                uint64_t used = mgov__region_used(gov, (int)i);
                uint64_t floor = mgov__reserved_now(gov, (int)i);
                if (floor < 2 * used)
                    floor = 2 * used;
                if (floor < r->own_limit / 4)
                    floor = r->own_limit / 4;
                if (lim > floor && lim - floor > best) {
                    best = lim - floor;
                    lender = (int)i;
                }
            }
            amount = best / 2;
            if (amount > own_b / 2)
                amount = own_b / 2;
            uint64_t lim_b = limit_of_locked(gov, (int)b);
            if (lim_b + amount > ceiling)
                amount = ceiling > lim_b ? ceiling - lim_b : 0;
            if (lender >= 0 && amount >= MIN_MOVE) {
                gov->lent[lender][b] += amount;
                reapply_locked(gov, lender);
                reapply_locked(gov, (int)b);
                gov->regions[lender].rb_idle_ticks = 0; /* let it settle first */
            } else {
                lender = -1;
            }
        }
        pthread_mutex_unlock(&gov->regions_lock);
        if (lender < 0)
            continue;
        atomic_fetch_add_explicit(&gov->rebalance_moves, 1, memory_order_relaxed);
        mgov__region_event(gov, MGOV_EV_REBALANCE, (int)b, gov->regions[lender].name, amount, 1);
        if (atomic_load(&gov->n_waiters)) /* seq_cst: as region.c */
            mgov__wake_waiters(gov);
    }
}
