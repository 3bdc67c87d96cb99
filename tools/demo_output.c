/* demo_output.c - what `memgov demo` prints on stdout: the steps, the
 * state after each ("  = ..."), each governor event as it happens
 * ("  * ...", from the event callback), a line after each move of the
 * index, and at the end the table of regions from mgov_stats.
 *
 * Lines are prefixed with the milliseconds since the start and printed
 * under demo.mu, flushed one by one, so the lines of the waiting thread
 * and a failed check on stderr keep their order.  --quiet prints only the
 * table.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

static unsigned elapsed_ms(const demo_t *d, uint64_t t)
{
    return t > d->t0_ns ? (unsigned)((t - d->t0_ns) / NS_PER_MS) : 0;
}

static double pct(const demo_t *d, uint64_t bytes)
{
    return 100.0 * (double)bytes / (double)d->budget;
}

static CLI_PRINTF(3, 0) void vsay(demo_t *d, const char *indent, const char *fmt, va_list ap)
{
    if (d->quiet)
        return;
    pthread_mutex_lock(&d->mu);
    printf("[%4u ms] %s", elapsed_ms(d, cli_now_ns()), indent);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&d->mu);
}

void demo_say(demo_t *d, const char *indent, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(d, indent, fmt, ap);
    va_end(ap);
}

void demo_step(demo_t *d, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    d->step_no++;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!d->quiet && d->step_no > 1) {
        pthread_mutex_lock(&d->mu);
        putchar('\n');
        pthread_mutex_unlock(&d->mu);
    }
    demo_say(d, "", "step %u: %s", d->step_no, text);
}

/* After the governor moved the index: one line saying where it went, once
 * its bytes were read back and compared. */
static void index_note_move(demo_t *d)
{
    demo_index_t *x = &d->index;
    mgov_tier_t tier = mgov_section_tier(x->sec);
    mgov_section_info_t info;

    if (tier == x->shown_tier || !demo_index_info(d, &info))
        return;
    if (tier == MGOV_TIER_ON_DISK) {
        bool ok = demo_index_intact(d, "after the index was spilled");
        if (info.generation != x->shown_gen)
            demo_say(d, "  ", "index: spilled to disk (%s file, generation %" PRIu64 "); read "
                     "back through a pinned view of the mapped file: %s",
                     cli_size(info.disk_bytes).s, info.generation, ok ? "intact" : "CORRUPTED");
        else
            demo_say(d, "  ", "index: spilled to disk: unchanged since its reload, so only its "
                     "RAM was dropped (its file of generation %" PRIu64 ", %s, still holds it); "
                     "read back through a pinned view of the mapped file: %s", info.generation,
                     cli_size(info.disk_bytes).s, ok ? "intact" : "CORRUPTED");
    } else if (tier == MGOV_TIER_IN_MEMORY && x->shown_tier == MGOV_TIER_ON_DISK) {
        bool ok = demo_index_intact(d, "after the index was reloaded");
        demo_say(d, "  ", "index: reloaded into RAM from its file of generation %" PRIu64 " (%s "
                 "charged to index_buffers; the file stays as its spilled copy): %s",
                 info.generation, cli_size(info.ram_bytes).s, ok ? "intact" : "CORRUPTED");
    }
    x->shown_tier = tier;
    x->shown_gen = info.generation;
}

void demo_show_state(demo_t *d)
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

    demo_say(d, "  = ", "%s used (%.1f%%), %s | cache: %u results, %s | index: %s %s | "
             "queries: %s", cli_size(used).s, pct(d, used), mgov_pressure_name(level),
             cached, cli_size(cache_bytes).s, cli_size(index_size).s,
             tier == MGOV_TIER_ON_DISK ? "on disk"
             : tier == MGOV_TIER_IN_MEMORY ? "in RAM" : "(none)",
             cli_size(atomic_load(&d->exec.bytes)).s);
}

void demo_on_event(void *ctx, const mgov_event_t *ev)
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
        if (ev->status == MGOV_EBUSY && ev->name != NULL &&
            strcmp(ev->name, DEMO_INDEX_NAME) == 0)
            d->index_spills_skipped++;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&d->mu);

    if (have_stats)
        demo_check_event(d, ev, &st);
}

void demo_print_header(demo_t *d, const mgov_stats_t *st)
{
    double budget = (double)d->budget;

    if (d->quiet)
        return;
    printf("memgov demo: budget %s; thresholds: moderate %s (%.0f%%), high %s (%.0f%%), "
           "critical %s (%.0f%%)\n",
           cli_size(d->budget).s, cli_size((uint64_t)(budget * st->moderate)).s,
           st->moderate * 100, cli_size((uint64_t)(budget * st->high)).s, st->high * 100,
           cli_size((uint64_t)(budget * st->critical)).s, st->critical * 100);
}

void demo_print_consumers(demo_t *d)
{
    if (d->quiet)
        return;
    printf("consumers: query_cache (graph_storage, priority %u, evicts), "
           "executor (execution_buffers, priority %u),\n"
           "           index (a section of real bytes in index_buffers, priority %u: "
           "spilled to\n"
           "           %s and reloaded)\n\n",
           MGOV_PRIORITY_QUERY_CACHE, MGOV_PRIORITY_EXECUTION_BUFFERS,
           MGOV_PRIORITY_INDEX_BUFFERS,
           d->index.spill_path != NULL ? d->index.spill_path : "the spill directory");
}

void demo_print_table(const mgov_stats_t *st)
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
    printf("pressure %s, %" PRIu64 " level changes; reclaim: %" PRIu64 " passes, asked %s, "
           "freed %s; %" PRIu64 " evictions, %" PRIu64 " spills (%" PRIu64 " failed), %" PRIu64
           " reloads\n",
           mgov_pressure_name(st->pressure), st->pressure_transitions, st->reclaim_passes,
           cli_size(st->reclaim_asked).s, cli_size(st->reclaim_freed).s, st->evictions,
           st->spills, st->spill_failures, st->reloads);
}

void demo_print_verdict(demo_t *d, int destroy_rc)
{
    if (!d->quiet && d->failures == 0)
        printf("\nall released, mgov_destroy: %s; checks passed: %u events, usage peaked at "
               "%s (%.1f%%) within the budget, no region over its limit, every level visited\n",
               mgov_strerror(destroy_rc), d->events, cli_size(d->max_used).s,
               pct(d, d->max_used));
}
