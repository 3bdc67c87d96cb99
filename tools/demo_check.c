/* demo_check.c - the demo checks itself: at every event usage is within
 * the budget and no region is over its limit; after the steps that move
 * memory, what the consumers hold equals what the governor counts (for the
 * index, the RAM mgov_section_foreach reports); after every move of the
 * index its bytes are read back through a pinned view and compared with
 * the pattern; at the end nothing is granted, pressure is normal, every
 * level was visited and a waiting request was granted.
 *
 * A failed check is one line on stderr and counts in d->failures; the demo
 * goes on, so one run shows every failure, and exits 1 at the end.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

void demo_fail(demo_t *d, const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&d->mu);
    d->failures++;
    cli_error("demo", "check failed: %s", text);
    pthread_mutex_unlock(&d->mu);
}

void demo_expect_ok(demo_t *d, int rc, const char *what)
{
    if (rc != MGOV_OK)
        demo_fail(d, "%s: %s", what, mgov_strerror(rc));
}

void demo_check_event(demo_t *d, const mgov_event_t *ev, const mgov_stats_t *st)
{
    if (st->used > st->budget)
        demo_fail(d, "after event #%" PRIu64 " (%s) used %" PRIu64 " > budget %" PRIu64, ev->seq,
                  mgov_event_type_name(ev->type), st->used, st->budget);
    for (unsigned i = 0; i < st->n_regions; i++) {
        const mgov_region_stats_t *r = &st->regions[i];
        if (r->limit != 0 && r->used > r->limit)
            demo_fail(d, "region %s uses %" PRIu64 " over its limit %" PRIu64, r->name, r->used,
                      r->limit);
    }
    pthread_mutex_lock(&d->mu);
    if (st->used > d->max_used)
        d->max_used = st->used;
    pthread_mutex_unlock(&d->mu);
}

void demo_check_accounting(demo_t *d, const char *when)
{
    mgov_stats_t st;

    if (mgov_stats(d->gov, &st) != MGOV_OK) {
        demo_fail(d, "%s: mgov_stats failed", when);
        return;
    }
    uint64_t cache = demo_cache_usage(&d->cache);
    mgov_section_info_t info;
    if (!demo_index_info(d, &info))
        return;
    uint64_t index = info.ram_bytes;
    uint64_t exec = atomic_load(&d->exec.bytes);

    if (st.regions[d->r_graph].used != cache)
        demo_fail(d, "%s: graph_storage counts %" PRIu64 " bytes, the cache holds %" PRIu64,
                  when, st.regions[d->r_graph].used, cache);
    if (st.regions[d->r_index].used != index)
        demo_fail(d, "%s: index_buffers counts %" PRIu64 " bytes, the index holds %" PRIu64,
                  when, st.regions[d->r_index].used, index);
    if (info.tier != mgov_section_tier(d->index.sec) ||
        (info.tier == MGOV_TIER_ON_DISK && index != 0) ||
        (info.tier == MGOV_TIER_IN_MEMORY && index < info.length))
        demo_fail(d, "%s: the index is %s with %" PRIu64 " bytes, holding %" PRIu64 " in RAM",
                  when, mgov_tier_name(info.tier), info.length, index);
    if (st.regions[d->r_exec].used != exec)
        demo_fail(d, "%s: execution_buffers counts %" PRIu64 " bytes, queries hold %" PRIu64,
                  when, st.regions[d->r_exec].used, exec);
    uint64_t sum = 0;
    for (unsigned i = 0; i < st.n_regions; i++)
        sum += st.regions[i].used;
    if (sum != st.used)
        demo_fail(d, "%s: regions sum to %" PRIu64 " bytes, used is %" PRIu64, when, sum,
                  st.used);
}

void demo_check_exec(demo_t *d, uint64_t extra, const char *when)
{
    mgov_stats_t st;
    uint64_t counted = mgov_stats(d->gov, &st) == MGOV_OK ? st.regions[d->r_exec].used : 0;
    uint64_t held = atomic_load(&d->exec.bytes) + extra;

    if (counted != held)
        demo_fail(d, "%s: execution_buffers counts %" PRIu64 " bytes, its users hold %" PRIu64,
                  when, counted, held);
}

/* Reports the first difference from the pattern. */
bool demo_index_view_intact(demo_t *d, const mgov_section_view_t *v, const char *when)
{
    static uint8_t want[DEMO_INDEX_CHUNK];
    uint64_t len = mgov_section_length(d->index.sec);

    if (v->len != len || (len != 0 && v->data == NULL)) {
        demo_fail(d, "%s: a view of the index shows %zu bytes, its length is %" PRIu64, when,
                  v->len, len);
        return false;
    }
    const uint8_t *got = v->data;
    for (uint64_t off = 0; off < len; off += DEMO_INDEX_CHUNK) {
        size_t n = len - off < DEMO_INDEX_CHUNK ? (size_t)(len - off) : DEMO_INDEX_CHUNK;
        demo_pattern_fill(want, off, n);
        if (memcmp(got + off, want, n) == 0)
            continue;
        size_t i = 0;
        while (got[off + i] == want[i])
            i++;
        demo_fail(d, "%s: byte %" PRIu64 " of the index is 0x%02x, expected 0x%02x", when,
                  off + i, got[off + i], want[i]);
        return false;
    }
    return true;
}

bool demo_index_intact(demo_t *d, const char *when)
{
    mgov_section_view_t v;
    int rc = mgov_section_pin(d->index.sec, &v);
    if (rc != MGOV_OK) {
        demo_fail(d, "%s: pinning a view of the index: %s", when, mgov_strerror(rc));
        return false;
    }
    bool ok = demo_index_view_intact(d, &v, when);
    mgov_section_unpin(d->index.sec, &v);
    return ok;
}

void demo_check_released(demo_t *d)
{
    uint64_t left = mgov_used(d->gov);
    if (left != 0)
        demo_fail(d, "%" PRIu64 " bytes still granted after everything was released", left);
    if (mgov_pressure(d->gov) != MGOV_PRESSURE_NORMAL)
        demo_fail(d, "pressure is %s after everything was released",
                  mgov_pressure_name(mgov_pressure(d->gov)));
}

void demo_check_visits(demo_t *d)
{
    static const char *const level_names[] = { "normal", "moderate", "high", "critical" };

    for (int l = 0; l < 4; l++)
        if (!d->level_seen[l])
            demo_fail(d, "pressure never reached %s", level_names[l]);
    if (!d->came_down_from_critical)
        demo_fail(d, "pressure never came down from critical");
    if (d->waits_granted == 0)
        demo_fail(d, "no waiting request was granted");
}
