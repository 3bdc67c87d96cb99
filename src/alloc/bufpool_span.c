/* alloc/bufpool_span.c - spans (one allocation's memory and handle) and the
 * shard caches taken as a whole: making and freeing spans, the registry of
 * spans, `held`, and eviction.
 *
 * A span is two system allocations: the handle (malloc) and the buffers
 * (aligned_alloc, the size rounded up to a multiple of the alignment, as C11
 * and ASan require).  Keeping the handle apart means a page-aligned span of
 * page-sized buffers wastes no page on a header.
 *
 * Eviction takes cached spans oldest first, visiting the shards round robin
 * (each shard keeps its own LRU order; comparing ages across shards would
 * need a shared clock on the release path).  Evicted spans are detached under
 * the locks and freed by the caller after it has dropped them (freeing
 * releases the span's grant, a governor call); until then their bytes stay
 * in held as leaving, so nobody else is admitted into that room early.
 *
 * Locking: see bufpool_internal.h.  The functions named _locked run under
 * p->mu (and every shard lock where they say so); span_new/span_free hold
 * no lock.
 */
#include <sched.h>
#include <stdlib.h>

#include "alloc/bufpool_internal.h"
#include "sys/fault.h"

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void mgov__bp_lock_slow(bp_lock_t *l)
{
    for (unsigned spins = 0;; spins++) {
        /* acquire: pairs with the release in bp_unlock */
        if (!atomic_load_explicit(&l->v, memory_order_relaxed) &&
            !atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
            return;
        if (spins < 64)
            cpu_relax();
        else
            sched_yield(); /* the holder may be preempted: let it run */
    }
}

int mgov__bp_span_new(mgov_bufpool_t *p, size_t n, mgov_bufs_t **out)
{
    *out = NULL;
    /* a cache line of its own: each cycle writes it (refs, links, stamp),
     * and another thread's handle must not share the line */
    mgov_bufs_t *b = mgov__aligned_alloc(BP_CACHELINE, sizeof *b);
    if (!b)
        return MGOV_ENOMEM;
    size_t bytes = n << p->shift;
    /* The cap or the governor's budget keeps bytes far from SIZE_MAX; a
     * rounding that wraps would fail as ENOMEM anyway. */
    size_t alloc = (bytes + p->alloc_round - 1) & ~(p->alloc_round - 1);
    void *data = alloc >= bytes ? mgov__aligned_alloc(p->align, alloc) : NULL;
    if (!data) {
        free(b);
        return MGOV_ENOMEM;
    }
    b->data = data;
    b->count = n;
    b->bytes = bytes;
    b->pool = p;
    b->shift = p->shift;
    b->shard = 0;
    atomic_init(&b->refs, 0);
    atomic_init(&b->cached, false);
    atomic_init(&b->born_ns, 0);
    b->next = b->prev = b->lru_next = b->lru_prev = NULL;
    b->reg_next = b->reg_prev = NULL;
    b->grant = (mgov_grant_t)MGOV_GRANT_INIT;
    atomic_fetch_add_explicit(&p->sys_allocs, 1, memory_order_relaxed);
    *out = b;
    return MGOV_OK;
}

void mgov__bp_span_free(mgov_bufpool_t *p, mgov_bufs_t *b)
{
    bp_unpoison(b); /* cached spans are poisoned; free() must not trip on it */
    free(b->data);
    mgov_grant_release(&b->grant);
    free(b);
    atomic_fetch_add_explicit(&p->sys_frees, 1, memory_order_relaxed);
}

void mgov__bp_spans_free(mgov_bufpool_t *p, mgov_bufs_t *list)
{
    while (list) {
        mgov_bufs_t *next = list->next;
        mgov__bp_span_free(p, list);
        list = next;
    }
}

uint64_t mgov__bp_victims_take(mgov_bufpool_t *p, mgov_bufs_t *list, mgov_grant_t *g)
{
    uint64_t bytes = 0;
    while (list) {
        mgov_bufs_t *next = list->next;
        bytes += list->bytes;
        if (list->grant.gov) {
            if (g->gov)
                mgov_grant_merge(g, &list->grant); /* same governor and region */
            else
                *g = list->grant;
            list->grant = (mgov_grant_t)MGOV_GRANT_INIT;
        }
        mgov__bp_span_free(p, list);
        list = next;
    }
    return bytes;
}

void mgov__bp_leaving_done(mgov_bufpool_t *p, uint64_t bytes)
{
    if (!bytes)
        return;
    pthread_mutex_lock(&p->mu);
    p->leaving -= bytes;
    mgov__bp_held_sub_locked(p, bytes);
    mgov__bp_scan_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void mgov__bp_lock_shards(mgov_bufpool_t *p)
{
    for (unsigned i = 0; i < p->n_shards; i++)
        bp_lock(&p->shards[i].lock);
}

void mgov__bp_unlock_shards(mgov_bufpool_t *p)
{
    for (unsigned i = p->n_shards; i-- > 0;)
        bp_unlock(&p->shards[i].lock);
}

uint64_t mgov__bp_cached_bytes_locked(const mgov_bufpool_t *p)
{
    bp_assert_all_locked(p);
    uint64_t sum = 0;
    for (unsigned i = 0; i < p->n_shards; i++)
        sum += p->shards[i].cached_bytes;
    return sum;
}

void mgov__bp_registry_add_locked(mgov_bufpool_t *p, mgov_bufs_t *b)
{
    mgov__assert_held(&p->mu);
    b->reg_prev = NULL;
    b->reg_next = p->registry;
    if (p->registry)
        p->registry->reg_prev = b;
    p->registry = b;
}

static void registry_remove_locked(mgov_bufpool_t *p, mgov_bufs_t *b)
{
    mgov__assert_held(&p->mu);
    if (b->reg_prev)
        b->reg_prev->reg_next = b->reg_next;
    else
        p->registry = b->reg_next;
    if (b->reg_next)
        b->reg_next->reg_prev = b->reg_prev;
    b->reg_next = b->reg_prev = NULL;
}

void mgov__bp_held_add_locked(mgov_bufpool_t *p, uint64_t bytes)
{
    mgov__assert_held(&p->mu);
    uint64_t h = atomic_load_explicit(&p->held, memory_order_relaxed) + bytes;
    atomic_store_explicit(&p->held, h, memory_order_relaxed);
    if (h > p->peak_held)
        p->peak_held = h;
}

void mgov__bp_held_sub_locked(mgov_bufpool_t *p, uint64_t bytes)
{
    mgov__assert_held(&p->mu);
    uint64_t h = atomic_load_explicit(&p->held, memory_order_relaxed);
    atomic_store_explicit(&p->held, h - bytes, memory_order_relaxed);
}

uint64_t mgov__bp_evict_locked(mgov_bufpool_t *p, uint64_t bytes, mgov_bufs_t **victims)
{
    bp_assert_all_locked(p);
    uint64_t got = 0;
    unsigned empty = 0; /* consecutive shards found empty */
    while (got < bytes && empty < p->n_shards) {
        bp_shard_t *s = &p->shards[p->evict_cursor];
        p->evict_cursor = (p->evict_cursor + 1) & p->shard_mask;
        mgov_bufs_t *b = s->lru_tail;
        if (!b) {
            empty++;
            continue;
        }
        empty = 0;
        bp_cache_unlink(s, b);
        registry_remove_locked(p, b);
        p->leaving += b->bytes;
        got += b->bytes;
        b->next = *victims;
        *victims = b;
    }
    return got;
}
