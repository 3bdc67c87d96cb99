/* demo_consumers.c - the demo's three consumers of the governor:
 *
 *   query_cache  graph_storage      priority 30  evict: drops its oldest
 *                                                results, releasing their grants
 *   executor     execution_buffers  priority 40  usage only: queries' working
 *                                                memory, which cannot be reclaimed
 *   index        index_buffers      priority 50  an mgov_section (AUTO) of real
 *                                                bytes, a deterministic pattern:
 *                                                the governor spills it to a file
 *                                                of its private spill directory
 *                                                (under $TMPDIR) and
 *                                                mgov_reload_eligible reads it back
 *
 * The cache and the executor hold grants, not memory.  The cache's state
 * is guarded by its mutex, never held while calling into the governor: a
 * reserve may run reclaim, and so cache_evict, in the calling thread.
 */
#include <inttypes.h>
#include <string.h>

#include "demo.h"

/* --------------------------------------------------------- query cache */

uint64_t demo_cache_usage(void *ctx)
{
    demo_cache_t *c = ctx;

    pthread_mutex_lock(&c->mu);
    uint64_t bytes = c->bytes;
    pthread_mutex_unlock(&c->mu);
    return bytes;
}

/* Drops the oldest results until `target` bytes are freed (at least one). */
static uint64_t cache_evict(void *ctx, uint64_t target)
{
    demo_cache_t *c = ctx;
    mgov_grant_t dropped[DEMO_CACHE_MAX];
    unsigned n = 0;
    uint64_t freed = 0;

    pthread_mutex_lock(&c->mu);
    while (c->count > 0 && (n == 0 || freed < target)) {
        dropped[n] = c->entries[c->head];
        freed += dropped[n].bytes;
        n++;
        c->head = (c->head + 1) % DEMO_CACHE_MAX;
        c->count--;
    }
    c->bytes -= freed;
    c->evicted += n;
    pthread_mutex_unlock(&c->mu);
    /* Released outside our lock: a release may wake waiters and emit events. */
    for (unsigned i = 0; i < n; i++)
        mgov_grant_release(&dropped[i]);
    return freed;
}

int demo_cache_put(demo_t *d, uint64_t bytes)
{
    demo_cache_t *c = &d->cache;
    mgov_grant_t g = MGOV_GRANT_INIT;

    /* Reserve before locking: the reserve may run reclaim, which calls
     * cache_evict in this thread. */
    int rc = mgov_try_reserve(d->gov, d->r_graph, bytes, 0, &g);
    if (rc != MGOV_OK)
        return rc;
    pthread_mutex_lock(&c->mu);
    if (c->count == DEMO_CACHE_MAX) {
        pthread_mutex_unlock(&c->mu);
        mgov_grant_release(&g);
        return MGOV_ENOSPC;
    }
    c->entries[(c->head + c->count) % DEMO_CACHE_MAX] = g;
    c->count++;
    c->bytes += bytes;
    pthread_mutex_unlock(&c->mu);
    mgov_consumer_touch(c->consumer);
    return MGOV_OK;
}

uint64_t demo_cache_evicted(demo_t *d)
{
    pthread_mutex_lock(&d->cache.mu);
    uint64_t evicted = d->cache.evicted;
    pthread_mutex_unlock(&d->cache.mu);
    return evicted;
}

/* ------------------------------------------------------------ executor */

static uint64_t exec_usage(void *ctx)
{
    demo_exec_t *e = ctx;

    return atomic_load(&e->bytes);
}

int demo_exec_take(demo_t *d, uint64_t bytes, unsigned flags, mgov_grant_t *g)
{
    int rc = mgov_try_reserve(d->gov, d->r_exec, bytes, flags, g);
    if (rc == MGOV_OK)
        atomic_fetch_add(&d->exec.bytes, bytes);
    return rc;
}

void demo_exec_done(demo_t *d, mgov_grant_t *g)
{
    atomic_fetch_sub(&d->exec.bytes, g->bytes);
    mgov_grant_release(g);
}

/* --------------------------------------------------------------- index */

static uint8_t pattern_byte(uint64_t off)
{
    uint64_t w = cli_mix64(off / 8);
    uint8_t b[8];
    memcpy(b, &w, 8);
    return b[off % 8];
}

void demo_pattern_fill(uint8_t *buf, uint64_t off, size_t len)
{
    size_t i = 0;
    for (; i < len && (off + i) % 8 != 0; i++) /* up to the first whole word */
        buf[i] = pattern_byte(off + i);
    for (; len - i >= 8; i += 8) {
        uint64_t w = cli_mix64((off + i) / 8);
        memcpy(buf + i, &w, 8);
    }
    for (; i < len; i++)
        buf[i] = pattern_byte(off + i);
}

/* Opens the section (AUTO: the governor spills and reloads it) and finds
 * where its files go. */
static int index_open(demo_t *d)
{
    mgov_section_config_t scfg = MGOV_SECTION_CONFIG_INIT;
    scfg.region = mgov_region_name(d->gov, d->r_index);
    scfg.priority = MGOV_PRIORITY_INDEX_BUFFERS;
    scfg.override = MGOV_SECTION_AUTO;
    /* pin_wait_ns 0: a spill the governor asks for while a view is pinned
     * is skipped at once (MGOV_EBUSY); timeout_ns 0: growth fails fast */
    int rc = mgov_section_open(d->gov, DEMO_INDEX_NAME, &scfg, &d->index.sec);
    if (rc != MGOV_OK)
        return rc;
    mgov_spill_dir_t *dir;
    if (mgov_spill_dir_get(d->gov, &dir) == MGOV_OK)
        d->index.spill_path = mgov_spill_dir_path(dir);
    d->index.shown_tier = mgov_section_tier(d->index.sec);
    return MGOV_OK;
}

/* Writes `bytes` of the pattern into the index, DEMO_INDEX_CHUNK at a time
 * (its capacity doubles as it grows, each step reserved first). */
int demo_index_build(demo_t *d, uint64_t bytes, unsigned *appends)
{
    static uint8_t chunk[DEMO_INDEX_CHUNK];
    uint64_t done = 0;

    *appends = 0;
    while (done < bytes) {
        size_t n = bytes - done < DEMO_INDEX_CHUNK ? (size_t)(bytes - done) : DEMO_INDEX_CHUNK;
        demo_pattern_fill(chunk, done, n);
        int rc = mgov_section_append(d->index.sec, chunk, n);
        if (rc != MGOV_OK)
            return rc;
        done += n;
        (*appends)++;
    }
    return MGOV_OK;
}

mgov_tier_t demo_index_tier(demo_t *d)
{
    return mgov_section_tier(d->index.sec);
}

/* mgov_section_foreach's callback: keeps the index's entry (name left NULL). */
typedef struct index_info_arg {
    mgov_section_info_t info;
    bool found;
} index_info_arg_t;

static void index_info_fn(void *arg, const mgov_section_info_t *info)
{
    index_info_arg_t *a = arg;
    if (strcmp(info->name, DEMO_INDEX_NAME) == 0) {
        a->info = *info;
        a->info.name = NULL;
        a->found = true;
    }
}

bool demo_index_info(demo_t *d, mgov_section_info_t *out)
{
    index_info_arg_t a = { .found = false };
    int rc = mgov_section_foreach(d->gov, index_info_fn, &a);
    if (rc != MGOV_OK || !a.found) {
        demo_fail(d, "mgov_section_foreach does not list the index: %s",
                  rc != MGOV_OK ? mgov_strerror(rc) : "not found");
        memset(out, 0, sizeof *out);
        return false;
    }
    *out = a.info;
    return true;
}

static void index_close(demo_t *d)
{
    demo_index_t *x = &d->index;

    if (x->pinned) {
        mgov_section_unpin(x->sec, &x->view);
        x->pinned = false;
    }
    if (x->sec != NULL) {
        int rc = mgov_section_close(x->sec);
        if (rc != MGOV_OK)
            demo_fail(d, "closing the index: %s", mgov_strerror(rc));
        x->sec = NULL;
    }
}

/* ------------------------------------------------------- start, stop */

static const mgov_consumer_ops_t cache_ops = { .usage = demo_cache_usage, .evict = cache_evict };
static const mgov_consumer_ops_t exec_ops = { .usage = exec_usage };

int demo_consumers_start(demo_t *d)
{
    const mgov_consumer_config_t consumers[] = {
        { .name = "query_cache", .region = d->r_graph, .priority = MGOV_PRIORITY_QUERY_CACHE,
          .ops = &cache_ops, .ctx = &d->cache },
        { .name = "executor", .region = d->r_exec, .priority = MGOV_PRIORITY_EXECUTION_BUFFERS,
          .ops = &exec_ops, .ctx = &d->exec },
    };
    mgov_consumer_t **handles[] = { &d->cache.consumer, &d->exec.consumer };
    int rc;

    for (unsigned i = 0; i < 2; i++) {
        rc = mgov_consumer_register(d->gov, &consumers[i], handles[i]);
        if (rc != MGOV_OK) {
            cli_runtime_error("demo", rc, "registering consumer %s", consumers[i].name);
            d->failures++;
            return rc;
        }
    }
    /* The index registers itself: a section is a consumer of the governor. */
    rc = index_open(d);
    if (rc != MGOV_OK) {
        cli_runtime_error("demo", rc, "opening section '%s' (in a private spill directory "
                          "under $TMPDIR)", DEMO_INDEX_NAME);
        d->failures++;
    }
    return rc;
}

void demo_consumers_stop(demo_t *d)
{
    mgov_consumer_t **handles[] = { &d->cache.consumer, &d->exec.consumer };

    cache_evict(&d->cache, UINT64_MAX);
    index_close(d); /* its RAM and its consumer go; its file goes with the governor */
    for (unsigned i = 0; i < 2; i++) {
        if (*handles[i] != NULL) {
            demo_expect_ok(d, mgov_consumer_unregister(*handles[i]), "unregistering a consumer");
            *handles[i] = NULL;
        }
    }
}
