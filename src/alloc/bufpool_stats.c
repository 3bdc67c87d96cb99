/* alloc/bufpool_stats.c - looking at a pool: stats, the list of live
 * allocations, and the invariant check tests and debugging call.
 *
 * The stats sum the shards one at a time (each under its own lock), so under
 * concurrent use the sums are not one instant's; at rest they are exact.
 * peak_in_use: each shard knows the peak of its own in-use count; their sum
 * is exact when one shard is used and an upper bound otherwise, and the
 * peak of held bytes (exact, kept under mu) bounds it too.
 *
 * foreach_live walks the registry under mu: spans are unlinked and freed
 * only under mu, so every handle it passes stays valid during the callback.
 *
 * Locking: mu, then shard locks in index order.  Under them every atomic
 * is read relaxed: the locks order what it reads.
 */
#include <string.h>

#include "alloc/bufpool_internal.h"
#include "sys/sys.h"

int mgov_bufpool_stats(const mgov_bufpool_t *cp, mgov_bufpool_stats_t *out)
{
    if (!cp || !out)
        return MGOV_EINVAL;
    mgov_bufpool_t *p = (mgov_bufpool_t *)cp; /* locking is not a change */
    memset(out, 0, sizeof *out);
    out->buffer_size = p->buffer_size;
    out->max_memory = p->cap;
    uint64_t peak_sum = 0, cached_bytes = 0;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->n_shards; i++) {
        bp_shard_t *s = &p->shards[i];
        bp_lock(&s->lock);
        out->buffers_in_use += s->in_use;
        out->spans_live += s->live;
        out->allocs += s->allocs;
        out->reuses += s->reuses;
        out->spans_cached += s->cached_spans;
        cached_bytes += s->cached_bytes;
        peak_sum += s->peak;
        bp_unlock(&s->lock);
    }
    out->bytes_held = atomic_load_explicit(&p->held, memory_order_relaxed);
    out->peak_held = p->peak_held;
    out->waiters = p->n_waiters;
    pthread_mutex_unlock(&p->mu);

    out->buffers_cached = cached_bytes >> p->shift;
    uint64_t held_bufs = out->peak_held >> p->shift;
    out->peak_in_use = peak_sum < held_bufs ? peak_sum : held_bufs;
    out->waits = atomic_load_explicit(&p->waits, memory_order_relaxed);
    out->wait_ns = atomic_load_explicit(&p->wait_ns, memory_order_relaxed);
    out->timeouts = atomic_load_explicit(&p->timeouts, memory_order_relaxed);
    out->refusals = atomic_load_explicit(&p->refusals, memory_order_relaxed);
    out->cancels = atomic_load_explicit(&p->cancels, memory_order_relaxed);
    out->sys_allocs = atomic_load_explicit(&p->sys_allocs, memory_order_relaxed);
    out->sys_frees = atomic_load_explicit(&p->sys_frees, memory_order_relaxed);
    out->evicted_bytes = atomic_load_explicit(&p->evicted_bytes, memory_order_relaxed);
    return MGOV_OK;
}

int mgov_bufpool_foreach_live(mgov_bufpool_t *p,
                              void (*fn)(void *arg, const mgov_bufs_t *b, size_t count,
                                         unsigned refs, uint64_t age_ns),
                              void *arg)
{
    if (!p || !fn)
        return MGOV_EINVAL;
    int n = 0;
    uint64_t now = mgov__coarse_now_ns();
    pthread_mutex_lock(&p->mu);
    for (mgov_bufs_t *b = p->registry; b; b = b->reg_next) {
        if (atomic_load_explicit(&b->cached, memory_order_relaxed))
            continue;
        uint64_t born = atomic_load_explicit(&b->born_ns, memory_order_relaxed);
        uint64_t age = born && born < now ? now - born : 0;
        fn(arg, b, b->count, atomic_load_explicit(&b->refs, memory_order_relaxed), age);
        if (n < INT32_MAX)
            n++;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* ------------------------------------------------------------- check */

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            goto corrupt;                                                                      \
    } while (0)

/* One shard's cache: lists agree with each other and with the counters. */
static bool shard_ok(const bp_shard_t *s)
{
    uint64_t spans = 0, bytes = 0, in_buckets = 0;
    const mgov_bufs_t *prev = NULL;
    for (const mgov_bufs_t *b = s->lru_head; b; prev = b, b = b->lru_next) {
        if (b->lru_prev != prev || !atomic_load_explicit(&b->cached, memory_order_relaxed) ||
            atomic_load_explicit(&b->refs, memory_order_relaxed) != 0)
            return false;
        spans++;
        bytes += b->bytes;
    }
    if (s->lru_tail != prev || spans != s->cached_spans || bytes != s->cached_bytes)
        return false;
    for (unsigned k = 0; k < BP_BUCKETS; k++) {
        prev = NULL;
        for (const mgov_bufs_t *b = s->bucket[k]; b; prev = b, b = b->next) {
            if (b->prev != prev || bp_bucket(b->count) != k)
                return false;
            in_buckets++;
        }
    }
    return in_buckets == spans && s->peak >= s->in_use;
}

int mgov__bufpool_check(mgov_bufpool_t *p)
{
    if (!p)
        return MGOV_EINVAL;
    uint64_t live[BP_MAX_SHARDS] = { 0 }, in_use[BP_MAX_SHARDS] = { 0 };
    pthread_mutex_lock(&p->mu);
    mgov__bp_lock_shards(p);
    uint64_t reg_bytes = 0, reg_cached = 0;
    const mgov_bufs_t *prev = NULL;
    for (const mgov_bufs_t *b = p->registry; b; prev = b, b = b->reg_next) {
        CHECK(b->reg_prev == prev && b->pool == p && b->count >= 1 &&
              b->bytes == b->count << p->shift && ((uintptr_t)b->data & (p->align - 1)) == 0);
        CHECK(p->gov ? b->grant.gov == p->gov && b->grant.bytes == b->bytes
                     : b->grant.gov == NULL);
        reg_bytes += b->bytes;
        if (atomic_load_explicit(&b->cached, memory_order_relaxed)) {
            reg_cached += b->bytes;
        } else {
            CHECK(b->shard < p->n_shards);
            live[b->shard]++;
            in_use[b->shard] += b->count;
        }
    }
    uint64_t held = atomic_load_explicit(&p->held, memory_order_relaxed);
    CHECK(reg_bytes + p->setup + p->leaving == held);
    CHECK(reg_cached == mgov__bp_cached_bytes_locked(p));
    CHECK(!p->cap || held <= p->cap);
    CHECK(held <= p->peak_held);
    for (unsigned i = 0; i < p->n_shards; i++) {
        const bp_shard_t *s = &p->shards[i];
        CHECK(shard_ok(s) && s->live == live[i] && s->in_use == in_use[i]);
    }
    unsigned queued = 0;
    for (const bp_waiter_t *w = p->wq_head; w; w = w->next)
        queued++;
    CHECK(queued == p->n_waiters && (p->wq_head == NULL) == (p->wq_tail == NULL));
    unsigned gate = atomic_load_explicit(&p->gate, memory_order_relaxed);
    CHECK(!!(gate & BP_GATE_WAITERS) == (p->wq_head || p->destroyers));
    CHECK(!!(gate & BP_GATE_CLOSING) == p->closing && !!(gate & BP_GATE_DEBT) == !!p->debt);
    mgov__bp_unlock_shards(p);
    pthread_mutex_unlock(&p->mu);
    return MGOV_OK;
corrupt:
    mgov__bp_unlock_shards(p);
    pthread_mutex_unlock(&p->mu);
    return MGOV_ECORRUPT;
}
