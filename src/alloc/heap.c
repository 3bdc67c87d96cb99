/* alloc/heap.c - heaps: create, destroy, reclaim, stats (the calls are in
 * heap_alloc.c; the structures and their invariants in heap_internal.h).
 *
 * A heap is one jemalloc arena (mallctl "arenas.create") with default
 * extent hooks, used only through its own explicit tcaches, so its blocks
 * never mix with another heap's.  Its dirty pages decay back to the system
 * after decay_ms; muzzy decay is off (0), so a purge returns pages with
 * MADV_DONTNEED and RSS drops at once.
 *
 * It charges the governor through one grant (live_grants 1 per heap):
 * refills and big blocks reserve a temporary grant outside the heap's lock
 * and merge it in; returns split a part off under the lock and release it
 * after.  So the governor (and its reclaim, which may call back into this
 * heap's consumer) is never entered with the lock held.
 *
 * Its consumer (priority 0 by default: visited first, costs no one):
 *   usage  the bytes charged;
 *   evict  asks every thread to give its slack back (heap->ask; each does
 *          at its next call), gives back the calling thread's own at once
 *          when it is not inside a heap call, purges the arena (what the
 *          heap freed goes back to the system), and brings the metadata it
 *          counts up to date.  Returns the bytes given back now.
 *
 * Destroy: no thread may use the heap; the slots' tcaches are destroyed,
 * slots of other threads are marked dead (their threads free them), what
 * is still allocated is reported (MGOV_EV_LEAKED_BLOCKS), the arena is
 * destroyed (every block freed at once) and the grant released.
 *
 * Locking: see heap_internal.h.  The stats source runs under the
 * governor's sources lock and takes the heap's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc_internal.h"
#include "alloc/heap_internal.h"
#include "alloc/je.h"
#include "sys/fault.h"
#include "sys/debug.h"

#define R memory_order_relaxed
#define KNOWN_GRANT_FLAGS ((unsigned)(MGOV_URGENT | MGOV_REVOCABLE | MGOV_NO_RECLAIM))

static _Atomic uint64_t heap_ids;

int mgov__heap_arena_ctl(const mgov_heap_t *h, const char *what, void *oldp, size_t *oldlen,
                         void *newp, size_t newlen)
{
    char name[64];
    snprintf(name, sizeof name, "arena.%u.%s", h->arena, what);
    return mgov__je_mallctl(name, oldp, oldlen, newp, newlen) == 0 ? MGOV_OK : MGOV_EIO;
}

static int arena_stat(const mgov_heap_t *h, const char *what, size_t *out)
{
    char name[80];
    size_t sz = sizeof *out;
    snprintf(name, sizeof name, "stats.arenas.%u.%s", h->arena, what);
    return mgov__je_mallctl(name, out, &sz, NULL, 0) == 0 ? 0 : -1;
}

static void stats_epoch(void)
{
    uint64_t e = 1;
    size_t sz = sizeof e;
    mgov__je_mallctl("epoch", &e, &sz, &e, sz);
}

/* -------------------------------------------------------- the grant */

int mgov__heap_charge(mgov_heap_t *h, uint64_t bytes, bool guess)
{
    mgov_grant_t g = MGOV_GRANT_INIT;
    int rc = guess ? mgov_try_reserve(h->gov, h->region, bytes,
                                      h->grant_flags | MGOV_NO_RECLAIM, &g)
             : h->timeout_ns == 0
                 ? mgov_try_reserve(h->gov, h->region, bytes, h->grant_flags, &g)
                 : mgov_reserve(h->gov, h->region, bytes, h->grant_flags, h->timeout_ns, &g);
    if (rc != MGOV_OK)
        return rc;
    pthread_mutex_lock(&h->lock);
    mgov_grant_merge(&h->grant, &g); /* same governor and region: cannot fail */
    atomic_store_explicit(&h->charged, h->grant.bytes, R);
    pthread_mutex_unlock(&h->lock);
    return MGOV_OK;
}

void mgov__heap_uncharge(mgov_heap_t *h, uint64_t bytes)
{
    if (!bytes)
        return;
    mgov_grant_t g = MGOV_GRANT_INIT;
    pthread_mutex_lock(&h->lock);
    MGOV__ASSERT(bytes <= h->grant.bytes);
    if (bytes > h->grant.bytes)
        bytes = h->grant.bytes;
    mgov_grant_split(&h->grant, bytes, &g);
    atomic_store_explicit(&h->charged, h->grant.bytes, R);
    pthread_mutex_unlock(&h->lock);
    mgov_grant_release(&g);
}

/* ------------------------------------------------------- the consumer */

static uint64_t heap_usage(void *ctx)
{
    mgov_heap_t *h = ctx;
    return atomic_load_explicit(&h->charged, R);
}

static void purge(mgov_heap_t *h)
{
    mgov__heap_arena_ctl(h, "purge", NULL, NULL, NULL, 0);
}

void mgov__heap_meta_sync(mgov_heap_t *h)
{
    size_t base;
    stats_epoch();
    if (arena_stat(h, "base", &base) != 0)
        return;
    pthread_mutex_lock(&h->lock);
    uint64_t meta = h->meta;
    pthread_mutex_unlock(&h->lock);
    if (base > meta) {
        /* it exists whatever the governor says: counted when it fits (no
         * reclaim from here: this runs inside one), else at the next sync */
        if (mgov__heap_charge(h, base - meta, true) == MGOV_OK) {
            pthread_mutex_lock(&h->lock);
            h->meta += base - meta;
            pthread_mutex_unlock(&h->lock);
        }
    } else if (base < meta) {
        pthread_mutex_lock(&h->lock);
        h->meta -= meta - base;
        pthread_mutex_unlock(&h->lock);
        mgov__heap_uncharge(h, meta - base);
    }
}

static uint64_t heap_evict(void *ctx, uint64_t target)
{
    (void)target;
    mgov_heap_t *h = ctx;
    /* relaxed: a request, read by each thread at its next call */
    atomic_fetch_add_explicit(&h->ask, 1, R);
    uint64_t freed = 0;
    mgov__heap_slot_t *s = mgov__heap_slot_find(h);
    if (s && !mgov__heap_busy()) {
        freed = (uint64_t)atomic_load_explicit(&s->avail, R);
        mgov__heap_slot_drain(h, s);
    }
    purge(h);
    mgov__heap_meta_sync(h);
    return freed;
}

static mgov_tier_t heap_tier(void *ctx)
{
    (void)ctx;
    return MGOV_TIER_IN_MEMORY;
}

static const mgov_consumer_ops_t heap_ops = {
    .version = MGOV_CONSUMER_OPS_VERSION,
    .usage = heap_usage,
    .evict = heap_evict,
    .tier = heap_tier,
};

int mgov_heap_trim(mgov_heap_t *h)
{
    if (!h)
        return MGOV_EINVAL;
    atomic_fetch_add_explicit(&h->ask, 1, R); /* relaxed: as in heap_evict */
    mgov__heap_slot_t *s = mgov__heap_slot_find(h);
    if (s && !mgov__heap_busy())
        mgov__heap_slot_drain(h, s);
    purge(h);
    mgov__heap_meta_sync(h);
    return MGOV_OK;
}

/* ------------------------------------------------------------- stats */

typedef struct sums {
    uint64_t mallocs, frees, in, out, threads;
    int64_t slack;
} sums_t;

static void sum_locked(mgov_heap_t *h, sums_t *o)
{
    mgov__assert_held(&h->lock);
    *o = (sums_t){ h->gone_mallocs, h->gone_frees, h->gone_in, h->gone_out, 0, 0 };
    for (mgov__heap_slot_t *s = h->slots; s; s = s->next) {
        o->mallocs += atomic_load_explicit(&s->mallocs, R);
        o->frees += atomic_load_explicit(&s->frees, R);
        o->in += atomic_load_explicit(&s->bytes_in, R);
        o->out += atomic_load_explicit(&s->bytes_out, R);
        o->slack += atomic_load_explicit(&s->avail, R);
        o->threads++;
    }
}

static void fill_stats(mgov_heap_t *h, mgov_heap_stats_t *out)
{
    sums_t t;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&h->lock);
    sum_locked(h, &t);
    out->charged = h->grant.bytes;
    out->metadata = h->meta;
    pthread_mutex_unlock(&h->lock);
    out->allocated = t.in > t.out ? t.in - t.out : 0;
    out->mallocs = t.mallocs;
    out->frees = t.frees;
    out->threads = t.threads;
    out->slack = (uint64_t)h->slack;
    size_t v;
    if (arena_stat(h, "resident", &v) == 0)
        out->resident = v;
    if (arena_stat(h, "pdirty", &v) == 0)
        out->dirty = v * mgov__page_size();
}

int mgov_heap_stats(mgov_heap_t *h, mgov_heap_stats_t *out)
{
    if (!h || !out)
        return MGOV_EINVAL;
    stats_epoch();
    fill_stats(h, out);
    return MGOV_OK;
}

static void stats_source(void *arg, mgov_stats_t *out)
{
    mgov_heap_t *h = arg;
    mgov_heap_stats_t st;
    stats_epoch();
    fill_stats(h, &st);
    mgov_region_heap_stats_t *r = &out->heap[h->region];
    r->heaps++;
    r->allocated += st.allocated;
    r->charged += st.charged;
    r->resident += st.resident;
    r->dirty += st.dirty;
    r->mallocs += st.mallocs;
    r->frees += st.frees;
}

int mgov_heap_check(mgov_heap_t *h)
{
    if (!h)
        return MGOV_EINVAL;
    sums_t t;
    bool ok = true;
    pthread_mutex_lock(&h->lock);
    sum_locked(h, &t);
    uint64_t charged = h->grant.bytes, meta = h->meta;
    for (mgov__heap_slot_t *s = h->slots; s; s = s->next) {
        int64_t a = atomic_load_explicit(&s->avail, R);
        ok = ok && a >= 0 && a <= h->slack;
    }
    ok = ok && h->grant.gov == h->gov && charged == atomic_load_explicit(&h->charged, R);
    pthread_mutex_unlock(&h->lock);
    ok = ok && t.in >= t.out && t.mallocs >= t.frees && t.slack >= 0 &&
         charged == t.in - t.out + (uint64_t)t.slack + meta;
    /* jemalloc counts blocks cached in tcaches as allocated: at least ours */
    size_t small = 0, large = 0;
    stats_epoch();
    if (ok && arena_stat(h, "small.allocated", &small) == 0 &&
        arena_stat(h, "large.allocated", &large) == 0)
        ok = small + large >= t.in - t.out;
    return ok ? MGOV_OK : MGOV_ECORRUPT;
}

const char *mgov_heap_name(const mgov_heap_t *h)
{
    return h ? h->name : NULL;
}

/* ---------------------------------------------------------- lifecycle */

static void arena_destroy(unsigned arena)
{
    char name[48];
    snprintf(name, sizeof name, "arena.%u.destroy", arena);
    mgov__je_mallctl(name, NULL, NULL, NULL, 0);
}

int mgov_heap_create(const mgov_heap_config_t *cfg, mgov_heap_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    if (!cfg || !cfg->gov || (cfg->grant_flags & ~KNOWN_GRANT_FLAGS) ||
        (cfg->slack && cfg->slack < MGOV_HEAP_MIN_SLACK) || cfg->slack > ((size_t)1 << 40))
        return MGOV_EINVAL;
    int region;
    int rc = mgov__region_resolve(cfg->gov, cfg->region, MGOV__ALLOC_DEFAULT_REGION, &region);
    if (rc != MGOV_OK)
        return rc;
    mgov_heap_t *h = mgov__calloc(1, sizeof *h);
    if (!h)
        return MGOV_ENOMEM;
    size_t sz = sizeof h->arena;
    if (mgov__je_mallctl("arenas.create", &h->arena, &sz, NULL, 0) != 0) {
        free(h);
        return MGOV_ENOMEM;
    }
    /* relaxed: a unique number */
    h->id = atomic_fetch_add_explicit(&heap_ids, 1, R) + 1;
    h->gov = cfg->gov;
    h->region = region;
    h->grant_flags = cfg->grant_flags;
    h->timeout_ns = cfg->timeout_ns;
    h->slack = (int64_t)(cfg->slack ? cfg->slack : MGOV_HEAP_DEFAULT_SLACK);
    h->big = h->slack / 2;
    pthread_mutex_init(&h->lock, NULL);

    ssize_t dirty = cfg->decay_ms < 0 ? -1 : cfg->decay_ms ? cfg->decay_ms
                                                            : MGOV_HEAP_DEFAULT_DECAY_MS;
    ssize_t muzzy = 0; /* dirty pages are returned outright, not lazily */
    mgov__heap_arena_ctl(h, "dirty_decay_ms", NULL, NULL, &dirty, sizeof dirty);
    mgov__heap_arena_ctl(h, "muzzy_decay_ms", NULL, NULL, &muzzy, sizeof muzzy);

    /* the heap's one grant, empty for now */
    rc = mgov_try_reserve(h->gov, region, 0, h->grant_flags | MGOV_NO_RECLAIM, &h->grant);
    if (rc == MGOV_OK) {
        h->grant.flags = h->grant_flags;
        mgov_consumer_config_t cc = { .name = cfg->name, .region = region,
                                      .priority = cfg->priority, .ops = &heap_ops, .ctx = h };
        rc = mgov__consumer_register_unique(h->gov, &cc, "heap", &h->consumer);
    }
    if (rc != MGOV_OK) {
        mgov_grant_release(&h->grant);
        arena_destroy(h->arena);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return rc;
    }
    snprintf(h->name, sizeof h->name, "%s", mgov_consumer_name(h->consumer));
    h->source = (mgov__stats_source_t){ .fn = stats_source, .arg = h };
    mgov__stats_source_add(h->gov, &h->source);
    *out = h;
    return MGOV_OK;
}

int mgov_heap_destroy(mgov_heap_t *h)
{
    if (!h)
        return MGOV_OK;
    mgov__stats_source_remove(h->gov, &h->source);
    /* what is left, reported while the consumer (its name) exists; no
     * thread uses the heap, so the sums are exact */
    sums_t t;
    pthread_mutex_lock(&h->lock);
    sum_locked(h, &t);
    pthread_mutex_unlock(&h->lock);
    uint64_t blocks = t.mallocs - t.frees, bytes = t.in > t.out ? t.in - t.out : 0;
    if (blocks || bytes)
        mgov__consumer_report(h->consumer, MGOV_EV_LEAKED_BLOCKS, bytes, 0, blocks, MGOV_OK);
    /* no evict runs from here on (unregister waits for those in flight) */
    mgov_consumer_unregister(h->consumer);

    mgov__heap_slot_t *own = mgov__heap_slot_find(h);
    pthread_mutex_lock(&mgov__heaps_lock);
    pthread_mutex_lock(&h->lock);
    for (mgov__heap_slot_t *s = h->slots, *next; s; s = next) {
        next = s->next;
        if (s->tcache != MGOV__HEAP_NO_TCACHE)
            mgov__je_mallctl("tcache.destroy", NULL, NULL, &s->tcache, sizeof s->tcache);
        s->prev = s->next = NULL;
        if (s != own) /* release: the last touch; its thread frees it (acquire) */
            atomic_store_explicit(&s->dead, true, memory_order_release);
    }
    h->slots = NULL;
    h->n_slots = 0;
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_unlock(&mgov__heaps_lock);
    if (own) {
        mgov__heap_forget(h);
        free(own);
    }
    arena_destroy(h->arena); /* every block at once */
    mgov_grant_release(&h->grant);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return blocks || bytes ? MGOV_ELEAKED : MGOV_OK;
}
