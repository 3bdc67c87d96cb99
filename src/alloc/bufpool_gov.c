/* alloc/bufpool_gov.c - the pool as the governor sees it: a consumer whose
 * usage is the bytes it holds and whose evict op frees cached spans, and the
 * grant each new span reserves.
 *
 * Evict frees cached spans, oldest first, worth about the target, and
 * releases their grants before it returns.  When the cache holds less than
 * the target, the rest becomes a debt (bounded by the bytes in use): the
 * next releases refill the cache and pay it from there, so memory the
 * governor asked for goes back as soon as the pool has it, and the
 * governor's blocked requesters are woken by those grant releases.
 *
 * Reservation: a non-blocking request makes one fail-fast attempt
 * (mgov_try_reserve, which may run one reclaim pass); a blocking one tries
 * without reclaim first, and only when that fails counts as waiting and
 * calls mgov_reserve with the rest of its deadline (reclaim, then the
 * governor's FIFO queue).
 *
 * Locking: the ops take p->mu and the shard locks; both are dropped before
 * any grant is released.  Nothing here is called with a pool lock held.
 */
#include <stdio.h>

#include "alloc/bufpool_internal.h"
#include "governor/hooks.h"
#include "sys/sys.h"

static uint64_t op_usage(void *ctx)
{
    mgov_bufpool_t *p = ctx;
    return atomic_load_explicit(&p->held, memory_order_relaxed);
}

static uint64_t op_evict(void *ctx, uint64_t target)
{
    mgov_bufpool_t *p = ctx;
    mgov_bufs_t *victims = NULL;
    pthread_mutex_lock(&p->mu);
    mgov__bp_lock_shards(p);
    uint64_t got = mgov__bp_evict_locked(p, target, &victims);
    if (got < target) {
        /* what is in use now can come back later */
        uint64_t in_use = atomic_load_explicit(&p->held, memory_order_relaxed) -
                          mgov__bp_cached_bytes_locked(p) - p->setup - p->leaving;
        uint64_t owed = p->debt + (target - got);
        p->debt = owed < in_use ? owed : in_use;
    }
    mgov__bp_unlock_shards(p);
    mgov__bp_gate_update_locked(p);
    pthread_mutex_unlock(&p->mu);
    mgov__bp_spans_free(p, victims); /* their grants go back before we return */
    atomic_fetch_add_explicit(&p->evicted_bytes, got, memory_order_relaxed);
    mgov__bp_leaving_done(p, got);
    return got;
}

static const mgov_consumer_ops_t bufpool_ops = {
    .usage = op_usage,
    .evict = op_evict,
};

int mgov__bp_gov_register(mgov_bufpool_t *p, const mgov_bufpool_config_t *cfg)
{
    int region;
    int rc = mgov__region_resolve(cfg->gov, cfg->region, MGOV__ALLOC_DEFAULT_REGION,
                                  &region);
    if (rc != MGOV_OK)
        return rc; /* MGOV_ENOTFOUND */
    p->region = region;

    mgov_consumer_config_t cc = {
        .name = cfg->name,
        .region = region,
        .priority = cfg->priority ? cfg->priority : MGOV_PRIORITY_QUERY_CACHE,
        .ops = &bufpool_ops,
        .ctx = p,
    };
    return mgov__consumer_register_unique(cfg->gov, &cc, "bufpool", &p->consumer);
}

int mgov__bp_gov_fits_ever(const mgov_bufpool_t *p, uint64_t bytes)
{
    return mgov__check_fits_ever(p->gov, p->region, bytes, 0);
}

int mgov__bp_gov_reserve(mgov_bufpool_t *p, uint64_t bytes, int64_t timeout_ns,
                         uint64_t deadline, mgov_grant_t *g, uint64_t *waited_ns)
{
    *waited_ns = 0;
    if (timeout_ns == 0)
        return mgov_reserve(p->gov, p->region, bytes, 0, 0, g); /* fail fast */
    int rc = mgov_try_reserve(p->gov, p->region, bytes, MGOV_NO_RECLAIM, g);
    if (rc != MGOV_EBUDGET)
        return rc;
    uint64_t t0 = mgov__now_ns();
    int64_t left = -1;
    if (deadline != UINT64_MAX)
        left = deadline > t0 ? (int64_t)(deadline - t0) : 0;
    rc = mgov_reserve(p->gov, p->region, bytes, 0, left, g);
    uint64_t t1 = mgov__now_ns();
    *waited_ns = t1 > t0 ? t1 - t0 : 1;
    return rc;
}
