/* alloc/bufpool_fast.c - the fast paths: allocation from the caller's shard
 * cache, retain, release, and the accessors of an allocation.
 *
 * An allocation that finds a cached span of its exact count in its own
 * shard, with nobody queued and the pool open, costs one shard lock and no
 * shared write; so does a release.  Everything else (a miss, a queue, a
 * closing pool, bad arguments) goes to the slow path (bufpool_admit.c).
 *
 * Fairness: the fast path runs only while the gate shows no waiter, so it
 * never overtakes a queued request.  A request racing with one that is just
 * queueing is ordered before it, as if it had arrived first.
 *
 * Release: the last reference (a plain load of 1 means the caller holds the
 * only one: nobody else can retain it) pushes the span into the cache of the
 * shard it came from and reads the gate in the same critical section; if
 * someone is queued, destroy waits, or the governor is owed memory, it counts
 * itself in p->wakers before unlocking and calls mgov__bp_after_release.  A
 * release that saw no such bit touches nothing of the pool after unlocking
 * its shard, so destroy may free the pool as soon as it can take that lock.
 *
 * Locking: one shard lock at a time, never with p->mu.
 */
#include "alloc/bufpool_internal.h"
#include "sys/sys.h"

/* Threads get slots round robin; a thread uses the shard of its slot. */
static _Atomic unsigned next_slot;
static _Thread_local unsigned tls_slot; /* slot + 1; 0 = not assigned yet */

static inline unsigned my_shard(const mgov_bufpool_t *p)
{
    unsigned s = tls_slot;
    if (bp_unlikely(s == 0)) {
        s = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed) + 1;
        if (s == 0)
            s = 1; /* after 2^32 threads */
        tls_slot = s;
    }
    return (s - 1) & p->shard_mask;
}

/* Arguments the fast path does not take: the errors of mgov_bufpool_alloc
 * that need no state. */
static int refuse(mgov_bufpool_t *p, size_t n, mgov_bufs_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    if (!p || n == 0)
        return MGOV_EINVAL;
    if (n > (SIZE_MAX >> p->shift))
        return MGOV_EOVERFLOW;
    atomic_fetch_add_explicit(&p->refusals, 1, memory_order_relaxed);
    return MGOV_ELIMIT; /* over the cap */
}

int mgov_bufpool_alloc(mgov_bufpool_t *p, size_t n, int64_t timeout_ns, mgov_bufs_t **out)
{
    /* n - 1 >= max_n: n == 0 (wraps) or more than can ever fit */
    if (bp_unlikely(!p || !out || n - 1 >= p->max_n))
        return refuse(p, n, out);
    unsigned shard = my_shard(p);
    bp_shard_t *s = &p->shards[shard];
    bp_lock(&s->lock);
    if (bp_likely(!(atomic_load_explicit(&p->gate, memory_order_relaxed) &
                    (BP_GATE_WAITERS | BP_GATE_CLOSING)))) {
        mgov_bufs_t *b = bp_cache_pop(s, n);
        if (bp_likely(b != NULL)) {
            bp_handout(s, shard, b, true);
            bp_unlock(&s->lock);
            bp_stamp(p, b);
            bp_unpoison(b);
            *out = b;
            return MGOV_OK;
        }
    }
    bp_unlock(&s->lock);
    return mgov__bp_alloc_slow(p, n, timeout_ns, shard, out);
}

int mgov_bufpool_try_alloc(mgov_bufpool_t *p, size_t n, mgov_bufs_t **out)
{
    return mgov_bufpool_alloc(p, n, 0, out);
}

void mgov_bufs_retain(mgov_bufs_t *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); /* the caller holds one */
}

void mgov_bufs_release(mgov_bufs_t *b)
{
    if (!b)
        return;
    /* acquire: pairs with the release half of other holders' decrements, so
     * their writes to the buffers happen before the span is reused */
    unsigned r = atomic_load_explicit(&b->refs, memory_order_acquire);
    if (r != 1) {
        if (r == 0)
            return; /* already returned: a double release, ignored */
        /* acq_rel: the release half pairs with the acquire of whoever drops
         * the last reference (the load above, or this RMW), so our writes
         * to the buffers happen before the span is reused; the acquire
         * half is that acquire when the last one is ours */
        if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
            return;
    }
    mgov_bufpool_t *p = b->pool;
    bp_shard_t *s = &p->shards[b->shard];
    bp_poison(b); /* before the push: once cached, another thread may take it */
    bp_lock(&s->lock);
    atomic_store_explicit(&b->refs, 0, memory_order_relaxed);
    bp_cache_push(s, b);
    s->in_use -= b->count;
    s->live--;
    unsigned gate = atomic_load_explicit(&p->gate, memory_order_relaxed);
    bool call_in = gate & (BP_GATE_WAITERS | BP_GATE_DEBT);
    if (bp_unlikely(call_in))
        atomic_fetch_add_explicit(&p->wakers, 1, memory_order_relaxed);
    bp_unlock(&s->lock);
    if (bp_unlikely(call_in))
        mgov__bp_after_release(p);
}

/* ---------------------------------------------------------- accessors */

void *mgov_bufs_data(const mgov_bufs_t *b)
{
    return b ? b->data : NULL;
}

void *mgov_bufs_buf(const mgov_bufs_t *b, size_t i)
{
    return b && i < b->count ? b->data + (i << b->shift) : NULL;
}

size_t mgov_bufs_count(const mgov_bufs_t *b)
{
    return b ? b->count : 0;
}

size_t mgov_bufs_bytes(const mgov_bufs_t *b)
{
    return b ? b->bytes : 0;
}

unsigned mgov_bufs_refs(const mgov_bufs_t *b)
{
    return b ? atomic_load_explicit(&b->refs, memory_order_relaxed) : 0;
}
