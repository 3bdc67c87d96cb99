/* cmd_demo.c - `memgov demo [--budget SIZE] [--quiet]`: a short, scripted
 * workload that drives one governor through every pressure level and back,
 * printing each governor event as it happens.
 *
 * Two synthetic consumers hold grants, not real memory, and one is a real
 * tiered section:
 *
 *   query_cache  graph_storage      priority 30  evict: drops its oldest
 *                                                results, releasing their grants
 *   index        index_buffers      priority 50  an mgov_section (AUTO) of real
 *                                                bytes, a deterministic pattern
 *                                                of a sixteenth of the budget:
 *                                                the governor spills it to a file
 *                                                of its private spill directory
 *                                                (under $TMPDIR) and
 *                                                mgov_reload_eligible reads it back
 *   executor     execution_buffers  priority 40  usage only: queries' working
 *                                                memory, which cannot be reclaimed
 *
 * Real memory: the index (a sixteenth of the budget, in RAM or in the page
 * cache of its file) and the allocator steps near the end (about another
 * sixteenth); everything else is accounting, so any budget works.
 *
 * The script (sizes scale with the budget; the default is 64 MiB):
 *   normal -> moderate (the governor evicts from the cache) -> high (it
 *   evicts and spills the index to disk) -> reload -> high with a view of
 *   the index pinned (the governor's spills of it are skipped: EBUSY) ->
 *   critical (an urgent request uses the headroom above the critical
 *   threshold) -> refusals (EBUDGET, ELIMIT) -> a query waits in a second
 *   thread -> the view is unpinned and mgov_spill_all frees the index's
 *   memory and wakes it -> back to normal -> an arena (real memory, charged
 *   by chunk) -> a buffer pool whose writer waits for buffers ->
 *   mgov_reload_eligible -> a table of regions from mgov_stats.
 *
 * The demo checks itself: at every event usage is within the budget and no
 * region is over its limit; every level is visited; the wait happens and is
 * woken; the refusals carry the expected codes; the pinned index is not
 * spilled (the governor's attempt fails with EBUSY); after every move of the
 * index its bytes are read back (through a pinned view, from RAM or from the
 * mapped file) and compared with the pattern; what the consumers hold
 * equals what the governor counts (for the index, the RAM that
 * mgov_section_foreach reports); at the end the section is closed, nothing
 * is left and mgov_destroy returns MGOV_OK.  A failed check is reported on
 * stderr and the command exits 1.
 *
 * Locking: demo.mu guards printing and the demo's counters; the cache has
 * its own mutex for its state.  None of them is held while calling into the
 * governor, because the governor's callbacks take them (a reserve may run
 * reclaim, and so cache_evict or the section's spill, in the calling
 * thread).  Only the main thread uses the index's fields; the section does
 * its own locking.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <memgov.h>

#include "cli.h"

#define DEFAULT_BUDGET ((uint64_t)64 << 20)
#define MIN_BUDGET ((uint64_t)1 << 20)
#define CACHE_MAX 64
#define NS_PER_MS 1000000LL
#define WAIT_TIMEOUT_NS (2000 * NS_PER_MS)
#define INDEX_NAME "index"
#define INDEX_CHUNK ((size_t)64 << 10) /* bytes per append */

typedef struct demo demo_t;

/* ------------------------------------------------------ the consumers */

typedef struct cache {
    demo_t *demo;
    pthread_mutex_t mu;
    mgov_grant_t entries[CACHE_MAX]; /* a ring: the oldest result at head */
    unsigned head, count;
    uint64_t bytes;
    uint64_t evicted;                /* results dropped by evict, ever */
    mgov_consumer_t *consumer;
} cache_t;

/* The index: a real section.  Used by the main thread only. */
typedef struct index {
    mgov_section_t *sec;
    const char *spill_path;          /* the governor's spill directory */
    mgov_tier_t shown_tier;          /* as index_note_move last reported it */
    uint64_t shown_gen;              /* its file's generation then */
    mgov_section_view_t view;        /* the reader's view (step 6 to 11) */
    bool pinned;
} index_t;

typedef struct executor {
    _Atomic uint64_t bytes;          /* sum of the queries' grants */
    mgov_consumer_t *consumer;
} executor_t;

struct demo {
    mgov_t *gov;
    bool quiet;
    uint64_t budget, unit;           /* unit = budget / 64: "1 MiB" at 64 MiB */
    int r_graph, r_index, r_exec;
    uint64_t exec_limit, index_limit;
    uint64_t index_bytes;            /* what the index holds: budget / 16 */
    uint64_t t0_ns;
    unsigned step_no;

    pthread_mutex_t mu;              /* printing and everything below */
    pthread_cond_t cond;             /* signalled on MGOV_EV_WAIT and waiter exit */
    bool level_seen[4];
    bool came_down_from_critical;
    unsigned events, waits_started, waits_granted;
    unsigned failures;
    uint64_t max_used;
    unsigned index_spills_skipped;   /* MGOV_EV_SPILL_FAILED for the index with EBUSY */

    cache_t cache;
    index_t index;
    executor_t exec;
};

/* ------------------------------------------------------------ output */

static unsigned elapsed_ms(const demo_t *d, uint64_t t)
{
    return t > d->t0_ns ? (unsigned)((t - d->t0_ns) / NS_PER_MS) : 0;
}

static double pct(const demo_t *d, uint64_t bytes)
{
    return 100.0 * (double)bytes / (double)d->budget;
}

/* Prints one line "[  12 ms] <indent><text>" unless quiet. */
static void CLI_PRINTF(3, 4) say(demo_t *d, const char *indent, const char *fmt, ...)
{
    va_list ap;

    if (d->quiet)
        return;
    pthread_mutex_lock(&d->mu);
    printf("[%4u ms] %s", elapsed_ms(d, cli_now_ns()), indent);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&d->mu);
}

#define STEP(d, ...)                                                           \
    do {                                                                       \
        (d)->step_no++;                                                        \
        step_line((d), __VA_ARGS__);                                           \
    } while (0)

static void CLI_PRINTF(2, 3) step_line(demo_t *d, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!d->quiet && d->step_no > 1) {
        pthread_mutex_lock(&d->mu);
        putchar('\n');
        pthread_mutex_unlock(&d->mu);
    }
    say(d, "", "step %u: %s", d->step_no, text);
}

/* Reports a failed check; the demo goes on but will exit 1. */
static void CLI_PRINTF(2, 3) fail(demo_t *d, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&d->mu);
    d->failures++;
    fflush(stdout);
    fputs("memgov demo: check failed: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&d->mu);
}

static void index_note_move(demo_t *d);

/* The one-line state after a step: usage, level, where the consumers are;
 * first, a line for the index if it moved since the last one. */
static void show_state(demo_t *d)
{
    index_note_move(d);

    uint64_t used = mgov_used(d->gov);
    mgov_pressure_t level = mgov_pressure(d->gov);

    pthread_mutex_lock(&d->cache.mu);
    unsigned cached = d->cache.count;
    uint64_t cache_bytes = d->cache.bytes;
    pthread_mutex_unlock(&d->cache.mu);
    mgov_tier_t tier = mgov_section_tier(d->index.sec);
    uint64_t index_size = mgov_section_length(d->index.sec);

    say(d, "  = ", "%s used (%.1f%%), %s | cache: %u results, %s | index: %s %s | queries: %s",
        cli_size(used).s, pct(d, used), mgov_pressure_name(level), cached,
        cli_size(cache_bytes).s, cli_size(index_size).s,
        tier == MGOV_TIER_ON_DISK ? "on disk" : tier == MGOV_TIER_IN_MEMORY ? "in RAM" : "(none)",
        cli_size(atomic_load(&d->exec.bytes)).s);
}

/* ------------------------------------------------------------ events */

/* The governor's event callback: any thread, possibly several at once, never
 * under a governor lock.  Checks the invariants and prints the event. */
static void on_event(void *ctx, const mgov_event_t *ev)
{
    demo_t *d = ctx;
    mgov_stats_t st;
    bool have_stats = false;
    char line[256];

    /* d->gov is NULL while mgov_destroy runs: no calls back then. */
    if (d->gov != NULL)
        have_stats = mgov_stats(d->gov, &st) == MGOV_OK;
    if (ev->type == MGOV_EV_PRESSURE)
        snprintf(line, sizeof line, "pressure %s -> %s (used %s of %s, %.1f%%)",
                 mgov_pressure_name(ev->old_level), mgov_pressure_name(ev->level),
                 cli_size(ev->used).s, cli_size(d->budget).s, pct(d, ev->used));
    else
        mgov_event_format(ev, line, sizeof line);

    pthread_mutex_lock(&d->mu);
    d->events++;
    if (!d->quiet) {
        printf("[%4u ms]   * %s\n", elapsed_ms(d, ev->time_ns), line);
        fflush(stdout);
    }
    switch (ev->type) {
    case MGOV_EV_PRESSURE:
        if ((unsigned)ev->level < 4)
            d->level_seen[ev->level] = true;
        if (ev->old_level == MGOV_PRESSURE_CRITICAL && ev->level < MGOV_PRESSURE_CRITICAL)
            d->came_down_from_critical = true;
        break;
    case MGOV_EV_WAIT:
        d->waits_started++;
        pthread_cond_broadcast(&d->cond);
        break;
    case MGOV_EV_WAITED:
        d->waits_granted++;
        break;
    case MGOV_EV_SPILL_FAILED:
        if (ev->status == MGOV_EBUSY && ev->name != NULL && strcmp(ev->name, INDEX_NAME) == 0)
            d->index_spills_skipped++;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&d->mu);

    if (!have_stats)
        return;
    if (st.used > st.budget)
        fail(d, "after event #%" PRIu64 " (%s) used %" PRIu64 " > budget %" PRIu64, ev->seq,
             mgov_event_type_name(ev->type), st.used, st.budget);
    for (unsigned i = 0; i < st.n_regions; i++) {
        const mgov_region_stats_t *r = &st.regions[i];
        if (r->limit != 0 && r->used > r->limit)
            fail(d, "region %s uses %" PRIu64 " over its limit %" PRIu64, r->name, r->used,
                 r->limit);
    }
    pthread_mutex_lock(&d->mu);
    if (st.used > d->max_used)
        d->max_used = st.used;
    pthread_mutex_unlock(&d->mu);
}

/* --------------------------------------------------------- query cache */

static uint64_t cache_usage(void *ctx)
{
    cache_t *c = ctx;

    pthread_mutex_lock(&c->mu);
    uint64_t bytes = c->bytes;
    pthread_mutex_unlock(&c->mu);
    return bytes;
}

/* Drops the oldest results until `target` bytes are freed (at least one). */
static uint64_t cache_evict(void *ctx, uint64_t target)
{
    cache_t *c = ctx;
    mgov_grant_t dropped[CACHE_MAX];
    unsigned n = 0;
    uint64_t freed = 0;

    pthread_mutex_lock(&c->mu);
    while (c->count > 0 && (n == 0 || freed < target)) {
        dropped[n] = c->entries[c->head];
        freed += dropped[n].bytes;
        n++;
        c->head = (c->head + 1) % CACHE_MAX;
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

static int cache_put(demo_t *d, uint64_t bytes)
{
    cache_t *c = &d->cache;
    mgov_grant_t g = MGOV_GRANT_INIT;

    /* Reserve before locking: the reserve may run reclaim, which calls
     * cache_evict in this thread. */
    int rc = mgov_try_reserve(d->gov, d->r_graph, bytes, 0, &g);
    if (rc != MGOV_OK)
        return rc;
    pthread_mutex_lock(&c->mu);
    if (c->count == CACHE_MAX) {
        pthread_mutex_unlock(&c->mu);
        mgov_grant_release(&g);
        return MGOV_ENOSPC;
    }
    c->entries[(c->head + c->count) % CACHE_MAX] = g;
    c->count++;
    c->bytes += bytes;
    pthread_mutex_unlock(&c->mu);
    mgov_consumer_touch(c->consumer);
    return MGOV_OK;
}

static void cache_clear(demo_t *d)
{
    cache_evict(&d->cache, UINT64_MAX);
}

/* --------------------------------------------------------------- index */

/* The index's bytes: byte `off` is byte off % 8 of the 64-bit word
 * cli_mix64(off / 8) as this machine stores it (splitmix64 of the word's
 * number), so any part of the pattern can be made again to check what the
 * section gives back. */
static uint8_t pattern_byte(uint64_t off)
{
    uint64_t w = cli_mix64(off / 8);
    uint8_t b[8];
    memcpy(b, &w, 8);
    return b[off % 8];
}

static void pattern_fill(uint8_t *buf, uint64_t off, size_t len)
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
    scfg.region = d->r_index;
    scfg.priority = MGOV_PRIORITY_INDEX_BUFFERS;
    scfg.tier = MGOV_SECTION_AUTO;
    /* pin_wait_ns 0: a spill the governor asks for while a view is pinned
     * is skipped at once (MGOV_EBUSY); timeout_ns 0: growth fails fast */
    int rc = mgov_section_open(d->gov, INDEX_NAME, &scfg, &d->index.sec);
    if (rc != MGOV_OK)
        return rc;
    mgov_spill_dir_t *dir;
    if (mgov_spill_dir_get(d->gov, &dir) == MGOV_OK)
        d->index.spill_path = mgov_spill_dir_path(dir);
    d->index.shown_tier = mgov_section_tier(d->index.sec);
    return MGOV_OK;
}

/* Writes `bytes` of the pattern into the index, INDEX_CHUNK at a time (its
 * capacity doubles as it grows, each step reserved first). */
static int index_build(demo_t *d, uint64_t bytes, unsigned *appends)
{
    static uint8_t chunk[INDEX_CHUNK];
    uint64_t done = 0;

    *appends = 0;
    while (done < bytes) {
        size_t n = bytes - done < INDEX_CHUNK ? (size_t)(bytes - done) : INDEX_CHUNK;
        pattern_fill(chunk, done, n);
        int rc = mgov_section_append(d->index.sec, chunk, n);
        if (rc != MGOV_OK)
            return rc;
        done += n;
        (*appends)++;
    }
    return MGOV_OK;
}

/* Compares a view with the pattern; reports the first difference. */
static bool index_view_intact(demo_t *d, const mgov_section_view_t *v, const char *when)
{
    static uint8_t want[INDEX_CHUNK];
    uint64_t len = mgov_section_length(d->index.sec);

    if (v->len != len || (len != 0 && v->data == NULL)) {
        fail(d, "%s: a view of the index shows %zu bytes, its length is %" PRIu64, when, v->len,
             len);
        return false;
    }
    const uint8_t *got = v->data;
    for (uint64_t off = 0; off < len; off += INDEX_CHUNK) {
        size_t n = len - off < INDEX_CHUNK ? (size_t)(len - off) : INDEX_CHUNK;
        pattern_fill(want, off, n);
        if (memcmp(got + off, want, n) == 0)
            continue;
        size_t i = 0;
        while (got[off + i] == want[i])
            i++;
        fail(d, "%s: byte %" PRIu64 " of the index is 0x%02x, expected 0x%02x", when, off + i,
             got[off + i], want[i]);
        return false;
    }
    return true;
}

/* Pins a view (in RAM, or of the mapped file), checks it, unpins it. */
static bool index_intact(demo_t *d, const char *when)
{
    mgov_section_view_t v;
    int rc = mgov_section_pin(d->index.sec, &v);
    if (rc != MGOV_OK) {
        fail(d, "%s: pinning a view of the index: %s", when, mgov_strerror(rc));
        return false;
    }
    bool ok = index_view_intact(d, &v, when);
    mgov_section_unpin(d->index.sec, &v);
    return ok;
}

/* What mgov_section_foreach says about the index (name left NULL). */
typedef struct index_info_arg {
    mgov_section_info_t info;
    bool found;
} index_info_arg_t;

static void index_info_fn(void *arg, const mgov_section_info_t *info)
{
    index_info_arg_t *a = arg;
    if (strcmp(info->name, INDEX_NAME) == 0) {
        a->info = *info;
        a->info.name = NULL;
        a->found = true;
    }
}

static bool index_info(demo_t *d, mgov_section_info_t *out)
{
    index_info_arg_t a = { .found = false };
    int rc = mgov_section_foreach(d->gov, index_info_fn, &a);
    if (rc != MGOV_OK || !a.found) {
        fail(d, "mgov_section_foreach does not list the index: %s",
             rc != MGOV_OK ? mgov_strerror(rc) : "not found");
        memset(out, 0, sizeof *out);
        return false;
    }
    *out = a.info;
    return true;
}

/* After the governor moved the index: one line saying where it went, once
 * its bytes were read back and compared. */
static void index_note_move(demo_t *d)
{
    index_t *x = &d->index;
    mgov_tier_t tier = mgov_section_tier(x->sec);
    mgov_section_info_t info;

    if (tier == x->shown_tier || !index_info(d, &info))
        return;
    if (tier == MGOV_TIER_ON_DISK) {
        bool ok = index_intact(d, "after the index was spilled");
        if (info.generation != x->shown_gen)
            say(d, "  ", "index: spilled to disk (%s file, generation %" PRIu64 "); read back "
                "through a pinned view of the mapped file: %s", cli_size(info.disk_bytes).s,
                info.generation, ok ? "intact" : "CORRUPTED");
        else
            say(d, "  ", "index: spilled to disk: unchanged since its reload, so only its RAM "
                "was dropped (its file of generation %" PRIu64 ", %s, still holds it); read "
                "back through a pinned view of the mapped file: %s", info.generation,
                cli_size(info.disk_bytes).s, ok ? "intact" : "CORRUPTED");
    } else if (tier == MGOV_TIER_IN_MEMORY && x->shown_tier == MGOV_TIER_ON_DISK) {
        bool ok = index_intact(d, "after the index was reloaded");
        say(d, "  ", "index: reloaded into RAM from its file of generation %" PRIu64 " (%s "
            "charged to index_buffers; the file stays as its spilled copy): %s",
            info.generation, cli_size(info.ram_bytes).s, ok ? "intact" : "CORRUPTED");
    }
    x->shown_tier = tier;
    x->shown_gen = info.generation;
}

static void index_close(demo_t *d)
{
    index_t *x = &d->index;

    if (x->pinned) {
        mgov_section_unpin(x->sec, &x->view);
        x->pinned = false;
    }
    if (x->sec != NULL) {
        int rc = mgov_section_close(x->sec);
        if (rc != MGOV_OK)
            fail(d, "closing the index: %s", mgov_strerror(rc));
        x->sec = NULL;
    }
}

static mgov_tier_t index_tier_now(demo_t *d)
{
    return mgov_section_tier(d->index.sec);
}

/* ------------------------------------------------------------ executor */

static uint64_t exec_usage(void *ctx)
{
    executor_t *e = ctx;

    return atomic_load(&e->bytes);
}

static int exec_take(demo_t *d, uint64_t bytes, unsigned flags, mgov_grant_t *g)
{
    int rc = mgov_try_reserve(d->gov, d->r_exec, bytes, flags, g);
    if (rc == MGOV_OK)
        atomic_fetch_add(&d->exec.bytes, bytes);
    return rc;
}

static void exec_done(demo_t *d, mgov_grant_t *g)
{
    atomic_fetch_sub(&d->exec.bytes, g->bytes);
    mgov_grant_release(g);
}

/* A query in a second thread that waits for its memory (mgov_reserve). */
typedef struct waiter {
    demo_t *d;
    uint64_t bytes;
    mgov_grant_t grant;
    int rc;
    bool done;
} waiter_t;

static void *waiter_main(void *arg)
{
    waiter_t *w = arg;
    demo_t *d = w->d;
    mgov_grant_t g = MGOV_GRANT_INIT;

    int rc = mgov_reserve(d->gov, d->r_exec, w->bytes, 0, WAIT_TIMEOUT_NS, &g);
    if (rc == MGOV_OK)
        atomic_fetch_add(&d->exec.bytes, w->bytes);
    pthread_mutex_lock(&d->mu);
    w->grant = g;
    w->rc = rc;
    w->done = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ------------------------------------------------------------- checks */

/* What the consumers hold must be what the governor counts. */
static void check_accounting(demo_t *d, const char *when)
{
    mgov_stats_t st;

    if (mgov_stats(d->gov, &st) != MGOV_OK) {
        fail(d, "%s: mgov_stats failed", when);
        return;
    }
    uint64_t cache = cache_usage(&d->cache);
    mgov_section_info_t info;
    if (!index_info(d, &info))
        return;
    uint64_t index = info.ram_bytes;
    uint64_t exec = atomic_load(&d->exec.bytes);

    if (st.regions[d->r_graph].used != cache)
        fail(d, "%s: graph_storage counts %" PRIu64 " bytes, the cache holds %" PRIu64, when,
             st.regions[d->r_graph].used, cache);
    if (st.regions[d->r_index].used != index)
        fail(d, "%s: index_buffers counts %" PRIu64 " bytes, the index holds %" PRIu64, when,
             st.regions[d->r_index].used, index);
    if (info.tier != mgov_section_tier(d->index.sec) ||
        (info.tier == MGOV_TIER_ON_DISK && index != 0) ||
        (info.tier == MGOV_TIER_IN_MEMORY && index < info.length))
        fail(d, "%s: the index is %s with %" PRIu64 " bytes, holding %" PRIu64 " in RAM", when,
             mgov_tier_name(info.tier), info.length, index);
    if (st.regions[d->r_exec].used != exec)
        fail(d, "%s: execution_buffers counts %" PRIu64 " bytes, queries hold %" PRIu64, when,
             st.regions[d->r_exec].used, exec);
    uint64_t sum = 0;
    for (unsigned i = 0; i < st.n_regions; i++)
        sum += st.regions[i].used;
    if (sum != st.used)
        fail(d, "%s: regions sum to %" PRIu64 " bytes, used is %" PRIu64, when, sum, st.used);
}

static void expect_ok(demo_t *d, int rc, const char *what)
{
    if (rc != MGOV_OK)
        fail(d, "%s: %s", what, mgov_strerror(rc));
}

/* ------------------------------------------------------------ allocators */

static uint64_t region_used(demo_t *d, int region)
{
    mgov_stats_t st;
    return mgov_stats(d->gov, &st) == MGOV_OK ? st.regions[region].used : 0;
}

/* execution_buffers must count exactly what the queries hold plus `extra`. */
static void check_exec(demo_t *d, uint64_t extra, const char *when)
{
    uint64_t counted = region_used(d, d->r_exec), held = atomic_load(&d->exec.bytes) + extra;
    if (counted != held)
        fail(d, "%s: execution_buffers counts %" PRIu64 " bytes, its users hold %" PRIu64,
             when, counted, held);
}

/* A query's arena: rows of real memory, charged chunk by chunk. */
static void demo_arena(demo_t *d)
{
    const uint64_t want = 4 * d->unit;
    size_t chunk = (size_t)(d->unit / 4) & ~(size_t)4095;
    if (chunk < MGOV_ARENA_MIN_CHUNK)
        chunk = MGOV_ARENA_MIN_CHUNK;
    STEP(d, "a query builds %s of 48-byte rows in an arena (chunks of %s, each one grant)",
         cli_size(want).s, cli_size(chunk).s);
    mgov_arena_config_t acfg = MGOV_ARENA_CONFIG_INIT;
    acfg.gov = d->gov;
    acfg.region = "execution_buffers";
    acfg.chunk_size = chunk;
    mgov_arena_t *arena;
    int rc = mgov_arena_create(&acfg, &arena);
    if (rc != MGOV_OK) {
        fail(d, "mgov_arena_create: %s", mgov_strerror(rc));
        return;
    }
    uint64_t rows = 0;
    while (mgov_arena_used(arena) < want) {
        unsigned char *row = mgov_arena_alloc(arena, 48, 8);
        if (!row) {
            fail(d, "arena allocation: %s", mgov_strerror(mgov_arena_last_error(arena)));
            break;
        }
        memset(row, (int)(rows++ & 0xff), 48);
    }
    say(d, "  ", "%" PRIu64 " rows: %s used, %s reserved in %zu chunks; execution_buffers "
        "counts %s more", rows, cli_size(mgov_arena_used(arena)).s,
        cli_size(mgov_arena_reserved(arena)).s, mgov_arena_chunk_count(arena),
        cli_size(mgov_arena_reserved(arena)).s);
    check_exec(d, mgov_arena_reserved(arena), "with the arena full");
    expect_ok(d, mgov_arena_check(arena), "mgov_arena_check");
    mgov_arena_reset(arena);
    say(d, "  ", "mgov_arena_reset: one chunk kept (%s), the other grants returned",
        cli_size(mgov_arena_reserved(arena)).s);
    check_exec(d, mgov_arena_reserved(arena), "after the reset");
    mgov_arena_destroy(arena);
    check_exec(d, 0, "after the arena is destroyed");
    show_state(d);
}

typedef struct pipe_writer {
    mgov_bufpool_t *pool;
    mgov_bufs_t *bufs;
    int rc;
} pipe_writer_t;

static void *pipe_writer_main(void *arg)
{
    pipe_writer_t *w = arg;
    w->rc = mgov_bufpool_alloc(w->pool, 3, WAIT_TIMEOUT_NS, &w->bufs);
    return NULL;
}

/* A write pipe's buffer pool: a cap of four buffers, and a writer that
 * waits for the flusher to give two back. */
static void demo_bufpool(demo_t *d)
{
    size_t size = 64;
    while (size * 2 <= d->unit / 4 && size * 2 <= ((size_t)64 << 20))
        size *= 2;
    STEP(d, "a write pipe's buffer pool (4 buffers of %s at most): the flusher holds 2, "
         "a writer asks for 3 and waits", cli_size(size).s);
    mgov_bufpool_config_t pcfg = MGOV_BUFPOOL_CONFIG_INIT;
    pcfg.buffer_size = size;
    pcfg.max_memory = 4 * (uint64_t)size;
    pcfg.gov = d->gov;
    pcfg.region = "execution_buffers";
    pcfg.name = "write_pipe";
    mgov_bufpool_t *pool;
    int rc = mgov_bufpool_create(&pcfg, &pool);
    if (rc != MGOV_OK) {
        fail(d, "mgov_bufpool_create: %s", mgov_strerror(rc));
        return;
    }
    mgov_bufs_t *flusher = NULL;
    expect_ok(d, mgov_bufpool_try_alloc(pool, 2, &flusher), "the flusher's 2 buffers");
    pipe_writer_t w = { .pool = pool, .bufs = NULL, .rc = MGOV_ECANCELED };
    pthread_t thread;
    bool started = pthread_create(&thread, NULL, pipe_writer_main, &w) == 0;
    if (!started)
        fail(d, "cannot start a thread");
    mgov_bufpool_stats_t ps = { 0 };
    for (int i = 0; started && i < 2000; i++) { /* until the writer is queued */
        mgov_bufpool_stats(pool, &ps);
        if (ps.waiters == 1)
            break;
        struct timespec ms = { 0, NS_PER_MS };
        nanosleep(&ms, NULL);
    }
    say(d, "  ", "%" PRIu64 " writer waiting; %" PRIu64 " buffers in use", ps.waiters,
        ps.buffers_in_use);
    if (ps.waiters != 1)
        fail(d, "the writer did not wait for the pool");
    say(d, "  ", "the flusher releases its 2 buffers");
    mgov_bufs_release(flusher);
    if (started)
        pthread_join(thread, NULL);
    expect_ok(d, w.rc, "the writer's 3 buffers");
    mgov_bufpool_stats(pool, &ps);
    say(d, "  ", "the writer got %zu buffers after waiting %.1f ms; the pool holds %s "
        "(%" PRIu64 " system allocations), all counted in execution_buffers",
        mgov_bufs_count(w.bufs), (double)ps.wait_ns / 1e6, cli_size(ps.bytes_held).s,
        ps.sys_allocs);
    check_exec(d, ps.bytes_held, "with the pool in use");
    mgov_bufs_release(w.bufs);
    expect_ok(d, mgov_bufpool_destroy(pool, WAIT_TIMEOUT_NS), "mgov_bufpool_destroy");
    check_exec(d, 0, "after the pool is destroyed");
}

/* ------------------------------------------------------------- table */

static void print_table(const mgov_stats_t *st)
{
    printf("%-18s %10s %10s %10s %7s %9s %6s\n", "region", "used", "peak", "limit", "grants",
           "refusals", "waits");
    for (unsigned i = 0; i < st->n_regions; i++) {
        const mgov_region_stats_t *r = &st->regions[i];
        printf("%-18s %10s %10s %10s %7" PRIu64 " %9" PRIu64 " %6" PRIu64 "\n", r->name,
               cli_size(r->used).s, cli_size(r->peak).s, r->limit ? cli_size(r->limit).s : "none",
               r->live_grants, r->refusals, r->waits);
    }
    printf("%-18s %10s %10s %10s\n", "total", cli_size(st->used).s, cli_size(st->peak).s,
           cli_size(st->budget).s);
    printf("pressure %s, %" PRIu64 " level changes; reclaim: %" PRIu64 " passes, asked %s, freed %s;"
           " %" PRIu64 " evictions, %" PRIu64 " spills (%" PRIu64 " failed), %" PRIu64
           " reloads\n",
           mgov_pressure_name(st->pressure), st->pressure_transitions, st->reclaim_passes,
           cli_size(st->reclaim_asked).s, cli_size(st->reclaim_freed).s, st->evictions,
           st->spills, st->spill_failures, st->reloads);
}

/* -------------------------------------------------------------- script */

/* Bytes to go from the current usage to `fraction` of the budget, rounded up
 * to a sixteenth of the unit so the numbers stay readable. */
static uint64_t bytes_to_reach(demo_t *d, double fraction)
{
    uint64_t goal = (uint64_t)((double)d->budget * fraction);
    uint64_t used = mgov_used(d->gov);
    uint64_t grain = d->unit / 16 ? d->unit / 16 : 1;

    if (goal <= used)
        return grain;
    return (goal - used + grain - 1) / grain * grain;
}

static void run_script(demo_t *d)
{
    const uint64_t u = d->unit;
    index_t *x = &d->index;
    mgov_grant_t query_a = MGOV_GRANT_INIT, query_b = MGOV_GRANT_INIT;
    mgov_grant_t query_c = MGOV_GRANT_INIT, urgent = MGOV_GRANT_INIT;
    mgov_grant_t refused = MGOV_GRANT_INIT;
    int rc;

    /* Normal: the cache and the index fill up. */
    unsigned n_results = 6;
    STEP(d, "the query cache warms up with %u results of %s", n_results, cli_size(u).s);
    for (unsigned i = 0; i < n_results; i++)
        expect_ok(d, cache_put(d, u), "caching a result");
    show_state(d);

    STEP(d, "the index is built: %s of real bytes appended to section '%s' in index_buffers",
         cli_size(d->index_bytes).s, INDEX_NAME);
    unsigned appends;
    expect_ok(d, index_build(d, d->index_bytes, &appends), "building the index");
    mgov_section_info_t info;
    if (index_info(d, &info))
        say(d, "  ", "index: %s (%" PRIu64 " bytes) in RAM, written in %u appends of at most "
            "%s; its capacity, %s, is charged to index_buffers", cli_size(info.length).s,
            info.length, appends, cli_size(INDEX_CHUNK).s, cli_size(info.ram_bytes).s);
    x->shown_tier = index_tier_now(d);
    index_intact(d, "after the index was built");
    show_state(d);
    check_accounting(d, "after the index is built");

    /* Moderate: the governor evicts cached results. */
    uint64_t a_bytes = bytes_to_reach(d, 0.72);
    STEP(d, "query A takes %s of execution buffers: past the moderate threshold",
         cli_size(a_bytes).s);
    expect_ok(d, exec_take(d, a_bytes, 0, &query_a), "query A");
    show_state(d);
    pthread_mutex_lock(&d->cache.mu);
    uint64_t evicted = d->cache.evicted;
    pthread_mutex_unlock(&d->cache.mu);
    if (evicted == 0)
        fail(d, "crossing into moderate evicted nothing from the cache");
    check_accounting(d, "after query A");

    /* High: the governor evicts again, then spills the index to its file. */
    uint64_t b_bytes = bytes_to_reach(d, 0.90);
    STEP(d, "query B takes %s more, to 90%% of the budget: past the high threshold",
         cli_size(b_bytes).s);
    expect_ok(d, exec_take(d, b_bytes, 0, &query_b), "query B");
    show_state(d);
    /* The cache alone cannot free enough now: the index must have spilled. */
    if (index_tier_now(d) != MGOV_TIER_ON_DISK)
        fail(d, "crossing into high did not spill the index");
    check_accounting(d, "after query B");

    /* Back down, and the index comes back. */
    STEP(d, "query A finishes; mgov_reload_eligible(0.80) brings spilled consumers back");
    exec_done(d, &query_a);
    unsigned reloaded = mgov_reload_eligible(d->gov, 0.80);
    say(d, "  ", "%u consumer(s) reloaded", reloaded);
    if (reloaded != 1 || index_tier_now(d) != MGOV_TIER_IN_MEMORY)
        fail(d, "mgov_reload_eligible(0.80) did not reload the index");
    show_state(d);
    check_accounting(d, "after the reload");

    /* High again, with a view of the index pinned: the governor's spill of
     * it is skipped (MGOV_EBUSY), so nothing can be spilled. */
    uint64_t c_bytes = bytes_to_reach(d, 0.93);
    STEP(d, "a reader pins a view of the index (mgov_section_pin), so the governor cannot "
         "spill it; query C takes %s, to 93%%", cli_size(c_bytes).s);
    unsigned skipped_before = d->index_spills_skipped;
    rc = mgov_section_pin(x->sec, &x->view);
    expect_ok(d, rc, "pinning a view of the index");
    x->pinned = rc == MGOV_OK;
    if (x->pinned && index_view_intact(d, &x->view, "the reader's view"))
        say(d, "  ", "the reader's view: %s in RAM, intact", cli_size(x->view.len).s);
    expect_ok(d, exec_take(d, c_bytes, 0, &query_c), "query C");
    show_state(d);
    pthread_mutex_lock(&d->mu);
    bool skipped = d->index_spills_skipped > skipped_before;
    pthread_mutex_unlock(&d->mu);
    if (!skipped)
        fail(d, "reaching high with the index pinned: the governor did not try to spill it, "
                "or its spill was not refused with EBUSY");
    if (index_tier_now(d) != MGOV_TIER_IN_MEMORY)
        fail(d, "the pinned index left RAM");

    /* Critical: only urgent requests may use the top slice. */
    uint64_t urgent_bytes = bytes_to_reach(d, 0.98);
    STEP(d, "query C's final merge takes %s more with MGOV_URGENT, to 98%%: above critical",
         cli_size(urgent_bytes).s);
    expect_ok(d, exec_take(d, urgent_bytes, MGOV_URGENT, &urgent), "the urgent request");
    show_state(d);
    check_accounting(d, "at critical");

    /* Refusals. */
    STEP(d, "query D asks for %s without waiting (mgov_try_reserve)", cli_size(u).s);
    rc = exec_take(d, u, 0, &refused);
    say(d, "  ", "-> %s: %s", mgov_status_name(rc), mgov_strerror(rc));
    if (rc != MGOV_EBUDGET)
        fail(d, "query D: expected EBUDGET, got %s", mgov_status_name(rc));
    if (rc == MGOV_OK)
        exec_done(d, &refused);

    uint64_t huge = d->exec_limit + 8 * u;
    STEP(d, "query E asks for %s, more than execution_buffers' limit of %s", cli_size(huge).s,
         cli_size(d->exec_limit).s);
    rc = exec_take(d, huge, 0, &refused);
    say(d, "  ", "-> %s: %s", mgov_status_name(rc), mgov_strerror(rc));
    if (rc != MGOV_ELIMIT)
        fail(d, "query E: expected ELIMIT, got %s", mgov_status_name(rc));
    if (rc == MGOV_OK)
        exec_done(d, &refused);

    /* A wait, and the wake-up. */
    waiter_t w = { .d = d, .bytes = u, .grant = MGOV_GRANT_INIT, .rc = MGOV_ECANCELED };
    pthread_t thread;
    STEP(d, "query D asks again from another thread, willing to wait up to %lld ms "
            "(mgov_reserve)", WAIT_TIMEOUT_NS / NS_PER_MS);
    pthread_mutex_lock(&d->mu);
    unsigned waits_before = d->waits_started;
    pthread_mutex_unlock(&d->mu);
    bool started = pthread_create(&thread, NULL, waiter_main, &w) == 0;
    if (!started) {
        fail(d, "cannot start a thread");
    } else {
        pthread_mutex_lock(&d->mu);
        while (d->waits_started == waits_before && !w.done)
            pthread_cond_wait(&d->cond, &d->mu);
        bool waited = !w.done;
        pthread_mutex_unlock(&d->mu);
        if (!waited)
            fail(d, "query D did not wait: %s", mgov_strerror(w.rc));
        /* Let the wait show in the timestamps. */
        struct timespec pause = { 0, 3 * NS_PER_MS };
        nanosleep(&pause, NULL);
    }

    STEP(d, "the reader unpins its view and mgov_spill_all moves the index to disk");
    if (x->pinned) {
        mgov_section_unpin(x->sec, &x->view);
        x->pinned = false;
    }
    rc = mgov_spill_all(d->gov);
    if (rc == MGOV_EBUSY) {
        /* The waiting query runs reclaim passes of its own while it waits
         * (every few ms): one was spilling the index at this very moment,
         * and the governor skips a section that is being moved.  Wait for
         * that move to end (an explicit spill waits for it). */
        say(d, "  ", "the waiting query's own reclaim pass was spilling the index at the same "
            "moment; mgov_section_spill waits for it");
        rc = mgov_section_spill(x->sec, WAIT_TIMEOUT_NS);
    }
    expect_ok(d, rc, "mgov_spill_all");
    if (started) {
        pthread_join(thread, NULL);
        say(d, "  ", "query D %s", w.rc == MGOV_OK ? "got its memory" : mgov_strerror(w.rc));
        expect_ok(d, w.rc, "query D's wait");
    }
    if (index_tier_now(d) != MGOV_TIER_ON_DISK)
        fail(d, "the index is not on disk after mgov_spill_all");
    show_state(d);
    check_accounting(d, "after the wake-up");

    /* Back to normal. */
    STEP(d, "queries B, C and D finish");
    exec_done(d, &urgent);
    exec_done(d, &query_c);
    exec_done(d, &query_b);
    if (w.rc == MGOV_OK)
        exec_done(d, &w.grant);
    show_state(d);

    /* Real memory: the allocators charge the budget as they go. */
    demo_arena(d);
    demo_bufpool(d);

    STEP(d, "mgov_reload_eligible(0.70) brings the index back; the cache warms up again");
    reloaded = mgov_reload_eligible(d->gov, 0.70);
    say(d, "  ", "%u consumer(s) reloaded", reloaded);
    if (reloaded != 1 || index_tier_now(d) != MGOV_TIER_IN_MEMORY)
        fail(d, "mgov_reload_eligible(0.70) did not reload the index");
    for (unsigned i = 0; i < 6; i++)
        expect_ok(d, cache_put(d, u), "caching a result");
    show_state(d);
    check_accounting(d, "at the end");
}

/* ---------------------------------------------------------------- main */

void cmd_demo_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov demo [--budget SIZE] [--quiet]\n"
            "\n"
            "Runs a short scripted workload against one governor and prints every\n"
            "event as it happens: a query cache that evicts, an index that is a real\n"
            "section (a sixteenth of the budget, written with a known pattern) which\n"
            "the governor spills to a file in a private spill directory under $TMPDIR\n"
            "and reloads, and queries whose execution buffers push pressure through\n"
            "normal, moderate, high and critical and back; a pinned view of the index\n"
            "that makes the governor skip its spill, an urgent request, refusals, a\n"
            "request that waits in a second thread and is woken; then an arena and a\n"
            "buffer pool that charge real memory to the budget, with a writer that\n"
            "waits for buffers.  It ends with a table of regions from mgov_stats.\n"
            "The cache and the queries hold grants, not real memory.  The demo checks\n"
            "its own invariants (usage within the budget, every level visited, the\n"
            "index's bytes intact after every move, nothing left at the end).\n"
            "\n"
            "Options:\n"
            "  -b, --budget SIZE  the governor's budget (default 64M); a size such as\n"
            "                     256M or 1.5G, or a percentage of the memory this\n"
            "                     process may use; at least 1M\n"
            "  -q, --quiet        print only the final table\n"
            "  -h, --help         show this help and exit\n"
            "\n"
            "Exit status: 0 success, 1 a check failed or the governor failed,\n"
            "2 bad usage.\n");
}

static int parse_budget(const char *text, uint64_t *out)
{
    mgov_sysinfo_t sys;

    mgov_sysinfo_read(&sys);
    uint64_t bytes;
    if (mgov_size_parse(text, sys.process_limit, &bytes) != MGOV_OK)
        return cli_usage_error("demo", "invalid size '%s' for --budget (examples: 64M, 1.5G, 10%%)",
                               text);
    if (bytes < MIN_BUDGET || bytes > MGOV_BUDGET_MAX)
        return cli_usage_error("demo", "--budget %s is out of range (1 MiB to 64 TiB)", text);
    *out = bytes;
    return CLI_EXIT_OK;
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        { "budget", required_argument, NULL, 'b' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t budget = DEFAULT_BUDGET;
    bool quiet = false;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if ((rc = parse_budget(optarg, &budget)) != CLI_EXIT_OK)
                return rc;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            cmd_demo_help(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error("demo", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);

    static demo_t demo; /* static: large, and the callbacks may outlive a frame */
    demo_t *d = &demo;
    memset(d, 0, sizeof *d);
    d->quiet = quiet;
    d->budget = budget;
    d->unit = budget / 64;
    d->exec_limit = 60 * d->unit;
    d->index_limit = 32 * d->unit;
    d->index_bytes = 4 * d->unit;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cond, NULL);
    pthread_mutex_init(&d->cache.mu, NULL);
    d->cache.demo = d;
    atomic_init(&d->exec.bytes, 0);
    d->level_seen[MGOV_PRESSURE_NORMAL] = true;

    const mgov_region_config_t regions[] = {
        { .name = "graph_storage" },
        { .name = "index_buffers", .limit = d->index_limit },
        { .name = "execution_buffers", .limit = d->exec_limit },
        { .name = "spill_staging" },
    };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = budget;
    cfg.regions = regions;
    cfg.n_regions = 4;
    cfg.on_event = on_event;
    cfg.event_ctx = d;

    d->t0_ns = cli_now_ns();
    mgov_t *gov;
    rc = mgov_create(&cfg, &gov);
    if (rc != MGOV_OK)
        return cli_runtime_error("demo", rc, "mgov_create");
    d->gov = gov;
    d->r_graph = mgov_region_find(gov, "graph_storage");
    d->r_index = mgov_region_find(gov, "index_buffers");
    d->r_exec = mgov_region_find(gov, "execution_buffers");

    mgov_stats_t st;
    mgov_stats(gov, &st);
    if (!quiet)
        printf("memgov demo: budget %s; thresholds: moderate %s (%.0f%%), high %s (%.0f%%), "
               "critical %s (%.0f%%)\n",
               cli_size(budget).s, cli_size((uint64_t)((double)budget * st.moderate)).s,
               st.moderate * 100, cli_size((uint64_t)((double)budget * st.high)).s,
               st.high * 100, cli_size((uint64_t)((double)budget * st.critical)).s,
               st.critical * 100);

    const mgov_consumer_ops_t cache_ops = { .usage = cache_usage, .evict = cache_evict };
    const mgov_consumer_ops_t exec_ops = { .usage = exec_usage };
    const mgov_consumer_config_t consumers[] = {
        { .name = "query_cache", .region = d->r_graph, .priority = MGOV_PRIORITY_QUERY_CACHE,
          .ops = &cache_ops, .ctx = &d->cache },
        { .name = "executor", .region = d->r_exec, .priority = MGOV_PRIORITY_EXECUTION_BUFFERS,
          .ops = &exec_ops, .ctx = &d->exec },
    };
    mgov_consumer_t **handles[] = { &d->cache.consumer, &d->exec.consumer };
    for (unsigned i = 0; i < 2; i++) {
        rc = mgov_consumer_register(gov, &consumers[i], handles[i]);
        if (rc != MGOV_OK) {
            cli_runtime_error("demo", rc, "registering consumer %s", consumers[i].name);
            d->failures++;
            goto shutdown;
        }
    }
    /* The index registers itself: a section is a consumer of the governor. */
    rc = index_open(d);
    if (rc != MGOV_OK) {
        cli_runtime_error("demo", rc, "opening section '%s' (in a private spill directory "
                          "under $TMPDIR)", INDEX_NAME);
        d->failures++;
        goto shutdown;
    }
    if (!quiet)
        printf("consumers: query_cache (graph_storage, priority %u, evicts), "
               "executor (execution_buffers, priority %u),\n"
               "           index (a section of real bytes in index_buffers, priority %u: "
               "spilled to\n"
               "           %s and reloaded)\n\n",
               MGOV_PRIORITY_QUERY_CACHE, MGOV_PRIORITY_EXECUTION_BUFFERS,
               MGOV_PRIORITY_INDEX_BUFFERS,
               d->index.spill_path != NULL ? d->index.spill_path : "the spill directory");

    run_script(d);

    /* The final table, while the last workload is still in place. */
    rc = mgov_stats(gov, &st);
    if (rc != MGOV_OK) {
        cli_runtime_error("demo", rc, "mgov_stats");
        d->failures++;
    } else {
        if (!quiet)
            printf("\n");
        print_table(&st);
    }

shutdown:
    cache_clear(d);
    index_close(d); /* its RAM and its consumer go; its file goes with the governor */
    for (unsigned i = 0; i < 2; i++) {
        if (*handles[i] != NULL) {
            expect_ok(d, mgov_consumer_unregister(*handles[i]), "unregistering a consumer");
            *handles[i] = NULL;
        }
    }
    uint64_t left = mgov_used(gov);
    if (left != 0)
        fail(d, "%" PRIu64 " bytes still granted after everything was released", left);
    if (mgov_pressure(gov) != MGOV_PRESSURE_NORMAL)
        fail(d, "pressure is %s after everything was released",
             mgov_pressure_name(mgov_pressure(gov)));

    d->gov = NULL;
    rc = mgov_destroy(gov);
    if (rc != MGOV_OK)
        fail(d, "mgov_destroy: %s", mgov_strerror(rc));

    static const char *const level_names[] = { "normal", "moderate", "high", "critical" };
    for (int l = 0; l < 4; l++)
        if (!d->level_seen[l])
            fail(d, "pressure never reached %s", level_names[l]);
    if (!d->came_down_from_critical)
        fail(d, "pressure never came down from critical");
    if (d->waits_granted == 0)
        fail(d, "no waiting request was granted");

    if (!quiet && d->failures == 0)
        printf("\nall released, mgov_destroy: %s; checks passed: %u events, usage peaked at "
               "%s (%.1f%%) within the budget, no region over its limit, every level visited\n",
               mgov_strerror(rc), d->events, cli_size(d->max_used).s, pct(d, d->max_used));
    fflush(stdout);

    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->cache.mu);
    if (d->failures != 0) {
        fprintf(stderr, "memgov demo: %u check(s) failed\n", d->failures);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}
