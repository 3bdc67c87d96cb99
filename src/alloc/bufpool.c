/* alloc/bufpool.c - creating and destroying a buffer pool.
 *
 * Create validates and copies the configuration, sizes the shards (one per
 * CPU, a power of two from 2 to 32) and registers the pool with its governor.
 * Nothing else is allocated up front: spans come on demand and stay cached.
 *
 * Destroy, in order:
 *   1. under mu: mark the pool closing, cancel the queued requests, count
 *      itself in `destroyers` (so releases call in), then lock and unlock
 *      every shard once: each fast allocation either ran before (and is
 *      counted in its shard's in_use) or sees CLOSING;
 *   2. wait, up to the deadline, until the pool is idle: no live span, no
 *      request inside the slow path (`active`), no release on its way into
 *      mu (`wakers`).  A live span is counted in its shard under the shard's
 *      lock, and a release that will call in counts itself in `wakers` in the
 *      same critical section as its push, so reading the shards and then
 *      `wakers` cannot miss one;
 *   3. on timeout: MGOV_EBUSY, the pool stays closing and valid;
 *   4. else unregister the consumer (after which no evict runs), free every
 *      cached span with its grant, free the pool.
 *
 * Locking: see bufpool_internal.h.  Destroy holds no lock while it
 * unregisters from the governor (an evict in flight needs mu).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/bufpool_internal.h"
#include "sys/fault.h"
#include "sys/sys.h"

#define KNOWN_FLAGS (MGOV_BUFPOOL_PAGE_ALIGNED | MGOV_BUFPOOL_NO_AGE)

static unsigned shard_count(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = 2;
    while (n < BP_MAX_SHARDS && (long)n < cpus)
        n *= 2;
    return n;
}

static bool pow2(size_t x)
{
    return x && !(x & (x - 1));
}

/* Checks cfg and fills the fixed fields of p.  Create runs it on a scratch
 * copy first, so a bad configuration allocates nothing. */
static int configure(mgov_bufpool_t *p, const mgov_bufpool_config_t *cfg)
{
    size_t size = cfg->buffer_size ? cfg->buffer_size : MGOV_BUFPOOL_DEFAULT_BUFFER;
    if (!pow2(size) || size < MGOV_BUFPOOL_MIN_BUFFER || size > MGOV_BUFPOOL_MAX_BUFFER)
        return MGOV_EINVAL;
    if (cfg->flags & ~(unsigned)KNOWN_FLAGS)
        return MGOV_EINVAL;
    size_t align;
    if (cfg->flags & MGOV_BUFPOOL_PAGE_ALIGNED) {
        if (cfg->alignment)
            return MGOV_EINVAL;
        align = mgov__page_size();
    } else {
        align = cfg->alignment ? cfg->alignment : MGOV_BUFPOOL_DEFAULT_ALIGN;
        if (!pow2(align) || align > mgov__page_size())
            return MGOV_EINVAL;
    }
    if (cfg->max_memory && cfg->max_memory < size)
        return MGOV_EINVAL; /* not even one buffer */
    if (!cfg->max_memory && !cfg->gov)
        return MGOV_EINVAL; /* nothing would bound it */

    p->buffer_size = size;
    p->flags = cfg->flags;
    p->shift = (unsigned)__builtin_ctzll(size);
    p->align = align;
    p->alloc_round = align;
    p->cap = cfg->max_memory;
    p->max_n = SIZE_MAX >> p->shift;
    if (p->cap && (p->cap >> p->shift) < p->max_n)
        p->max_n = (size_t)(p->cap >> p->shift);
    p->gov = cfg->gov;
    return MGOV_OK;
}

static int init_sync(mgov_bufpool_t *p)
{
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return MGOV_ENOMEM;
    if (mgov__cond_init_monotonic(&p->idle_cond) != MGOV_OK) {
        pthread_mutex_destroy(&p->mu);
        return MGOV_ENOMEM;
    }
    return MGOV_OK;
}

static void free_pool(mgov_bufpool_t *p)
{
    free(p->shards);
    free(p);
}

int mgov_bufpool_create(const mgov_bufpool_config_t *cfg, mgov_bufpool_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    if (!cfg)
        return MGOV_EINVAL;
    mgov_bufpool_t probe;
    memset(&probe, 0, sizeof probe);
    int rc = configure(&probe, cfg);
    if (rc != MGOV_OK)
        return rc;

    /* aligned: the gate and each shard live on their own cache lines */
    size_t size = (sizeof(mgov_bufpool_t) + BP_CACHELINE - 1) & ~(size_t)(BP_CACHELINE - 1);
    mgov_bufpool_t *p = mgov__aligned_alloc(BP_CACHELINE, size);
    if (!p)
        return MGOV_ENOMEM;
    memset(p, 0, size);
    configure(p, cfg); /* cannot fail: checked above */
    p->n_shards = shard_count();
    p->shard_mask = p->n_shards - 1;
    p->shards = mgov__aligned_alloc(BP_CACHELINE, p->n_shards * sizeof(bp_shard_t));
    if (!p->shards) {
        free(p);
        return MGOV_ENOMEM;
    }
    memset(p->shards, 0, p->n_shards * sizeof(bp_shard_t));
    for (unsigned i = 0; i < p->n_shards; i++)
        atomic_init(&p->shards[i].lock.v, 0);
    atomic_init(&p->gate, 0);
    atomic_init(&p->wakers, 0);
    atomic_init(&p->held, 0);
    rc = init_sync(p);
    if (rc != MGOV_OK) {
        free_pool(p);
        return rc;
    }
    if (p->gov) {
        rc = mgov__bp_gov_register(p, cfg);
        if (rc != MGOV_OK) {
            pthread_cond_destroy(&p->idle_cond);
            pthread_mutex_destroy(&p->mu);
            free_pool(p);
            return rc;
        }
    }
    *out = p;
    return MGOV_OK;
}

/* Step 2 of destroy.  Under mu. */
static bool idle_locked(mgov_bufpool_t *p)
{
    mgov__assert_held(&p->mu);
    if (p->active)
        return false;
    uint64_t live = 0;
    for (unsigned i = 0; i < p->n_shards; i++) {
        bp_shard_t *s = &p->shards[i];
        bp_lock(&s->lock);
        live += s->live;
        bp_unlock(&s->lock);
    }
    /* after the shards: a release that calls in counted itself before its unlock */
    return live == 0 && atomic_load_explicit(&p->wakers, memory_order_relaxed) == 0;
}

int mgov_bufpool_destroy(mgov_bufpool_t *p, int64_t timeout_ns)
{
    if (!p)
        return MGOV_OK;
    uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : mgov__now_ns() + (uint64_t)timeout_ns;
    pthread_mutex_lock(&p->mu);
    p->destroyers++;
    if (!p->closing) {
        p->closing = true;
        mgov__bp_cancel_waiters_locked(p);
        mgov__bp_gate_update_locked(p);
        mgov__bp_lock_shards(p);
        mgov__bp_unlock_shards(p);
    } else {
        mgov__bp_gate_update_locked(p);
    }
    while (!idle_locked(p)) {
        if (deadline == UINT64_MAX) {
            pthread_cond_wait(&p->idle_cond, &p->mu);
            continue;
        }
        if (mgov__now_ns() >= deadline) {
            p->destroyers--;
            mgov__bp_gate_update_locked(p);
            pthread_mutex_unlock(&p->mu);
            return MGOV_EBUSY;
        }
        struct timespec ts = mgov__ns_to_timespec(deadline);
        pthread_cond_timedwait(&p->idle_cond, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);

    if (p->consumer)
        mgov_consumer_unregister(p->consumer); /* waits for an evict in flight */
    mgov_bufs_t *spans = NULL;
    pthread_mutex_lock(&p->mu);
    mgov__bp_lock_shards(p);
    mgov__bp_evict_locked(p, UINT64_MAX, &spans);
    mgov__bp_unlock_shards(p);
    pthread_mutex_unlock(&p->mu);
    mgov__bp_spans_free(p, spans);

    pthread_cond_destroy(&p->idle_cond);
    pthread_mutex_destroy(&p->mu);
    free_pool(p);
    return MGOV_OK;
}

size_t mgov_bufpool_buffer_size(const mgov_bufpool_t *p)
{
    return p ? p->buffer_size : 0;
}

size_t mgov_bufpool_alignment(const mgov_bufpool_t *p)
{
    return p ? p->align : 0;
}

const char *mgov_bufpool_name(const mgov_bufpool_t *p)
{
    return p && p->consumer ? mgov_consumer_name(p->consumer) : NULL;
}
