/* mix_cache.c - the demo's query-result cache: top-k answers of vector
 * queries by query seed, in a hash table with an LRU list, every entry and
 * the table allocated from a heap charged to the cache's region.  It is a
 * governor consumer (priority MGOV_PRIORITY_QUERY_CACHE, so it goes first):
 * evict drops the least recently used entries.
 *
 * Invariants: bytes is the sum of the entries' usable sizes; every entry is
 * in its bucket and in the list exactly once.
 * Locking: mu guards the table and the list.  Heap calls that may allocate
 * (and so reclaim, and so call evict here) run without mu; frees may run
 * under it (a free never reclaims).
 */
#include <stdlib.h>
#include <string.h>

#include "mix.h"

#define CACHE_BUCKETS 4096u

struct mix_centry {
    uint64_t seed;
    mix_centry_t *chain;          /* next in the bucket */
    mix_centry_t *prev, *next;    /* LRU list */
    size_t size;                  /* usable bytes */
    mix_topk_t result;
    float query[MIX_DIM];         /* the query, kept to check a hit */
};

static mix_centry_t **bucket(mix_cache_t *c, uint64_t seed)
{
    return &c->table[cli_mix64(seed) % CACHE_BUCKETS];
}

static void lru_unlink_locked(mix_cache_t *c, mix_centry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_locked(mix_cache_t *c, mix_centry_t *e)
{
    e->prev = NULL;
    e->next = c->lru_head;
    if (c->lru_head)
        c->lru_head->prev = e;
    c->lru_head = e;
    if (!c->lru_tail)
        c->lru_tail = e;
}

/* Removes e from the table and the list and frees it. */
static void drop_locked(mix_cache_t *c, mix_centry_t *e)
{
    mix_centry_t **p = bucket(c, e->seed);
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    lru_unlink_locked(c, e);
    c->bytes -= e->size;
    c->entries--;
    mgov_heap_free(c->heap, e);
}

static uint64_t cache_usage(void *ctx)
{
    mix_cache_t *c = ctx;
    pthread_mutex_lock(&c->mu);
    uint64_t b = c->bytes;
    pthread_mutex_unlock(&c->mu);
    return b;
}

static uint64_t cache_evict(void *ctx, uint64_t target)
{
    mix_cache_t *c = ctx;
    uint64_t freed = 0;
    pthread_mutex_lock(&c->mu);
    while (c->lru_tail && freed < target) {
        freed += c->lru_tail->size;
        drop_locked(c, c->lru_tail);
        atomic_fetch_add_explicit(&c->evicted, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&c->mu);
    /* the heap's free pages go back when the heap's own consumer is asked */
    return freed;
}

int mix_cache_open(mix_cache_t *c, mix_t *m)
{
    c->m = m;
    pthread_mutex_init(&c->mu, NULL);
    int rc = mix_heap(m, m->reg[MIX_R_CACHE], "cache-heap", &c->heap);
    if (rc != MGOV_OK)
        return rc;
    c->table = mgov_heap_calloc(c->heap, CACHE_BUCKETS, sizeof *c->table);
    if (!c->table)
        return mgov_heap_last_error(c->heap);
    static const mgov_consumer_ops_t ops = { .usage = cache_usage, .evict = cache_evict };
    mgov_consumer_config_t cc = {
        .name = "query-cache",
        .region = m->reg[MIX_R_CACHE],
        .priority = MGOV_PRIORITY_QUERY_CACHE,
        .ops = &ops,
        .ctx = c,
    };
    return mgov_consumer_register(m->gov, &cc, &c->consumer);
}

void mix_cache_close(mix_cache_t *c)
{
    mgov_consumer_unregister(c->consumer);
    c->consumer = NULL;
    if (c->table) {
        pthread_mutex_lock(&c->mu);
        while (c->lru_tail)
            drop_locked(c, c->lru_tail);
        pthread_mutex_unlock(&c->mu);
        mgov_heap_free(c->heap, c->table);
        c->table = NULL;
    }
    pthread_mutex_destroy(&c->mu);
}

bool mix_cache_get(mix_cache_t *c, uint64_t seed, mix_topk_t *out)
{
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    for (mix_centry_t *e = *bucket(c, seed); e; e = e->chain) {
        if (e->seed != seed)
            continue;
        float q[MIX_DIM];
        mix_vec_query(q, seed);
        if (memcmp(q, e->query, sizeof q) != 0) {
            pthread_mutex_unlock(&c->mu);
            mix_fail(c->m, "query cache: the entry of query %llu holds another query",
                     (unsigned long long)seed);
            return false;
        }
        *out = e->result;
        lru_unlink_locked(c, e);
        lru_push_locked(c, e);
        hit = true;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    if (hit)
        mgov_consumer_touch(c->consumer);
    atomic_fetch_add_explicit(hit ? &c->hits : &c->misses, 1, memory_order_relaxed);
    return hit;
}

void mix_cache_put(mix_cache_t *c, uint64_t seed, const mix_topk_t *r)
{
    mix_centry_t *e = mgov_heap_malloc(c->heap, sizeof *e); /* no lock: may reclaim */
    if (!e) {
        atomic_fetch_add_explicit(&c->refused, 1, memory_order_relaxed);
        return; /* a cache may decline: the answer was computed anyway */
    }
    e->seed = seed;
    e->result = *r;
    e->size = mgov_heap_usable_size(c->heap, e);
    mix_vec_query(e->query, seed);

    pthread_mutex_lock(&c->mu);
    for (mix_centry_t *o = *bucket(c, seed); o; o = o->chain) {
        if (o->seed == seed) { /* another thread put it first */
            pthread_mutex_unlock(&c->mu);
            mgov_heap_free(c->heap, e);
            return;
        }
    }
    mix_centry_t **b = bucket(c, seed);
    e->chain = *b;
    *b = e;
    lru_push_locked(c, e);
    c->bytes += e->size;
    c->entries++;
    pthread_mutex_unlock(&c->mu);
}
