/* governor/stats.c - snapshots of the governor's counters, as a struct,
 * JSON and Prometheus text; and the counters the layers above feed (bytes
 * in spill files, section files quarantined).
 *
 * The fast path updates `used` and the regions' words without a lock, so a
 * snapshot re-reads them until `used` is the same before and after the
 * regions and the regions add up to it (at most a few tries; under constant
 * churn the last read is returned).  Slow-path counters are monotonic and
 * read once each.  The text forms are built from one snapshot with an
 * snprintf-like appender that keeps counting past the end of the buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "governor/internal.h"
#include "memgov/sysinfo.h"
#include "sys/sys.h"

#define SNAPSHOT_TRIES 16
/* Counters, peaks and gauges are values on their own: read relaxed. */
#define R memory_order_relaxed

int mgov_stats(const mgov_t *cgov, mgov_stats_t *out)
{
    if (!cgov || !out)
        return MGOV_EINVAL;
    mgov_t *gov = (mgov_t *)cgov; /* sampling RSS updates derived state only */
    memset(out, 0, sizeof *out);

    uint64_t rss = mgov_rss_now();
    if (rss) {
        atomic_store_explicit(&gov->rss, rss, R);
        uint64_t peak = atomic_load_explicit(&gov->rss_peak, R);
        while (rss > peak &&
               !atomic_compare_exchange_weak_explicit(&gov->rss_peak, &peak, rss, R, R))
            ;
    }
    out->rss = rss;
    out->rss_peak = atomic_load_explicit(&gov->rss_peak, R);
    out->spill_bytes = atomic_load_explicit(&gov->spill_disk, R);
    out->spill_bytes_peak = atomic_load_explicit(&gov->spill_disk_peak, R);
    out->spill_quota = atomic_load_explicit(&gov->spill_quota_now, R);

    out->n_regions = gov->n_regions;
    for (int tries = 0; tries < SNAPSHOT_TRIES; tries++) {
        /* seq_cst, as mgov__region_used's: these reads stay in this order
         * among the grants' seq_cst steps, so equal `used` before and after
         * brackets the regions' reads (like a seqlock's check) */
        uint64_t before = atomic_load(&gov->used), sum = 0;
        for (unsigned i = 0; i < gov->n_regions; i++) {
            out->regions[i].used = mgov__region_used(gov, (int)i);
            out->regions[i].live_grants = mgov__region_grants(gov, (int)i);
            sum += out->regions[i].used;
        }
        out->used = atomic_load(&gov->used);
        if (before == out->used && sum == out->used)
            break;
    }
    for (unsigned i = 0; i < gov->n_regions; i++) {
        const mgov_region_t *r = &gov->regions[i];
        mgov_region_stats_t *s = &out->regions[i];
        memcpy(s->name, r->name, sizeof s->name);
        s->peak = atomic_load_explicit(&r->peak, R);
        s->reserved = mgov__reserved_now(gov, (int)i);
        s->limit = mgov__limit_now(gov, (int)i);
        s->refusals = atomic_load_explicit(&r->refusals, R);
        s->waits = atomic_load_explicit(&r->waits, R);
        s->wait_ns = atomic_load_explicit(&r->wait_ns, R);
        s->timeouts = atomic_load_explicit(&r->timeouts, R);
    }
    out->budget = atomic_load_explicit(&gov->budget, R);
    out->peak = atomic_load_explicit(&gov->peak, R);
    out->moderate = gov->level_frac[1];
    out->high = gov->level_frac[2];
    out->critical = gov->level_frac[3];
    out->hysteresis = gov->hyst_frac;
    out->pressure = (mgov_pressure_t)atomic_load_explicit(&gov->level, R);
    out->pressure_transitions = atomic_load_explicit(&gov->transitions, R);
    out->reclaim_passes = atomic_load_explicit(&gov->reclaim_passes, R);
    out->reclaim_asked = atomic_load_explicit(&gov->reclaim_asked, R);
    out->reclaim_freed = atomic_load_explicit(&gov->reclaim_freed, R);
    out->malloc_trims = atomic_load_explicit(&gov->malloc_trims, R);
    out->evictions = atomic_load_explicit(&gov->evictions, R);
    out->spills = atomic_load_explicit(&gov->spills, R);
    out->spill_failures = atomic_load_explicit(&gov->spill_failures, R);
    out->reloads = atomic_load_explicit(&gov->reloads, R);
    out->reload_failures = atomic_load_explicit(&gov->reload_failures, R);
    out->waiters = atomic_load_explicit(&gov->n_waiters, R);
    out->kernel_signals = atomic_load_explicit(&gov->kernel_signals, R);
    out->rebalance_moves = atomic_load_explicit(&gov->rebalance_moves, R);
    out->sections_quarantined = atomic_load_explicit(&gov->sections_quarantined, R);
    pthread_mutex_lock(&gov->consumers_lock);
    out->consumers = gov->n_consumers;
    pthread_mutex_unlock(&gov->consumers_lock);

    /* what the kernel counts: the owned cgroup v2, else RSS */
    mgov__cgroup_mem_t cg;
    out->real = rss;
    if (gov->cgroup_dir && mgov__cgroup_mem_read(gov->cgroup_dir, &cg) == 0) {
        out->cgroup_current = cg.current;
        out->cgroup_anon = cg.anon;
        if (cg.current)
            out->real = cg.current;
    }
    out->untracked = out->real > out->used ? out->real - out->used : 0;

    /* the layers' figures (the heaps) */
    pthread_mutex_lock(&gov->sources_lock);
    for (mgov__stats_source_t *src = gov->sources; src; src = src->next)
        src->fn(src->arg, out);
    pthread_mutex_unlock(&gov->sources_lock);
    for (unsigned i = 0; i < gov->n_regions; i++)
        out->heaps += out->heap[i].heaps;
    return MGOV_OK;
}

void mgov__stats_source_add(mgov_t *gov, mgov__stats_source_t *src)
{
    pthread_mutex_lock(&gov->sources_lock);
    src->prev = NULL;
    src->next = gov->sources;
    if (src->next)
        src->next->prev = src;
    gov->sources = src;
    pthread_mutex_unlock(&gov->sources_lock);
}

void mgov__stats_source_remove(mgov_t *gov, mgov__stats_source_t *src)
{
    pthread_mutex_lock(&gov->sources_lock);
    if (src->prev)
        src->prev->next = src->next;
    else
        gov->sources = src->next;
    if (src->next)
        src->next->prev = src->prev;
    src->prev = src->next = NULL;
    pthread_mutex_unlock(&gov->sources_lock);
}

/* ------------------------------------------------------------ text out */

typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

#define U(x) ((unsigned long long)(x))

size_t mgov_stats_json(const mgov_t *gov, char *buf, size_t cap)
{
    mgov_stats_t s;
    if (mgov_stats(gov, &s) != MGOV_OK)
        return 0;
    out_t o = { buf, cap, 0 };
    if (cap)
        buf[0] = '\0';
    put(&o, "{\"budget\":%llu,\"used\":%llu,\"peak\":%llu,", U(s.budget), U(s.used), U(s.peak));
    put(&o, "\"thresholds\":{\"moderate\":%.6g,\"high\":%.6g,\"critical\":%.6g,"
            "\"hysteresis\":%.6g},",
        s.moderate, s.high, s.critical, s.hysteresis);
    put(&o, "\"pressure\":\"%s\",\"pressure_transitions\":%llu,", mgov_pressure_name(s.pressure),
        U(s.pressure_transitions));
    put(&o, "\"reclaim\":{\"passes\":%llu,\"asked\":%llu,\"freed\":%llu,\"evictions\":%llu,"
            "\"spills\":%llu,\"spill_failures\":%llu,\"reloads\":%llu,"
            "\"reload_failures\":%llu,\"malloc_trims\":%llu},",
        U(s.reclaim_passes), U(s.reclaim_asked), U(s.reclaim_freed), U(s.evictions),
        U(s.spills), U(s.spill_failures), U(s.reloads), U(s.reload_failures), U(s.malloc_trims));
    put(&o, "\"spill\":{\"bytes\":%llu,\"peak\":%llu,\"quota\":%llu},", U(s.spill_bytes),
        U(s.spill_bytes_peak), U(s.spill_quota));
    put(&o, "\"rss\":%llu,\"rss_peak\":%llu,\"real\":%llu,\"untracked\":%llu,"
            "\"cgroup\":{\"current\":%llu,\"anon\":%llu},",
        U(s.rss), U(s.rss_peak), U(s.real), U(s.untracked), U(s.cgroup_current),
        U(s.cgroup_anon));
    put(&o, "\"kernel_signals\":%llu,\"rebalance_moves\":%llu,\"heaps\":%llu,"
            "\"sections_quarantined\":%llu,",
        U(s.kernel_signals), U(s.rebalance_moves), U(s.heaps), U(s.sections_quarantined));
    put(&o, "\"consumers\":%llu,\"waiters\":%llu,\"regions\":[", U(s.consumers),
        U(s.waiters));
    for (unsigned i = 0; i < s.n_regions; i++) {
        const mgov_region_stats_t *r = &s.regions[i];
        const mgov_region_heap_stats_t *h = &s.heap[i];
        /* region names are [A-Za-z0-9_.-]: nothing to escape */
        put(&o, "%s{\"name\":\"%s\",\"used\":%llu,\"peak\":%llu,\"reserved\":%llu,"
                "\"limit\":%llu,\"live_grants\":%llu,\"refusals\":%llu,\"waits\":%llu,"
                "\"wait_ns\":%llu,\"timeouts\":%llu,",
            i ? "," : "", r->name, U(r->used), U(r->peak), U(r->reserved), U(r->limit),
            U(r->live_grants), U(r->refusals), U(r->waits), U(r->wait_ns), U(r->timeouts));
        put(&o, "\"heap\":{\"heaps\":%llu,\"allocated\":%llu,\"charged\":%llu,"
                "\"resident\":%llu,\"dirty\":%llu,\"mallocs\":%llu,\"frees\":%llu}}",
            U(h->heaps), U(h->allocated), U(h->charged), U(h->resident), U(h->dirty),
            U(h->mallocs), U(h->frees));
    }
    put(&o, "]}");
    return o.len;
}

static void metric(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP memgov_%s %s\n# TYPE memgov_%s %s\n", name, help, name, type);
}

size_t mgov_stats_prometheus(const mgov_t *gov, char *buf, size_t cap)
{
    mgov_stats_t s;
    if (mgov_stats(gov, &s) != MGOV_OK)
        return 0;
    out_t o = { buf, cap, 0 };
    if (cap)
        buf[0] = '\0';
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } global[] = {
        { "budget_bytes", "gauge", "The memory budget.", s.budget },
        { "used_bytes", "gauge", "Bytes granted now.", s.used },
        { "peak_bytes", "gauge", "Most bytes ever granted at once.", s.peak },
        { "pressure_level", "gauge", "0 normal, 1 moderate, 2 high, 3 critical.", s.pressure },
        { "pressure_transitions_total", "counter", "Pressure level changes.",
          s.pressure_transitions },
        { "reclaim_passes_total", "counter", "Reclaim passes run.", s.reclaim_passes },
        { "reclaim_asked_bytes_total", "counter", "Bytes reclaim passes asked for.",
          s.reclaim_asked },
        { "reclaim_freed_bytes_total", "counter", "Bytes consumers reported freed.",
          s.reclaim_freed },
        { "evictions_total", "counter", "Consumer evictions that freed memory.", s.evictions },
        { "spills_total", "counter", "Consumer spills.", s.spills },
        { "spill_failures_total", "counter", "Consumer spills that failed.", s.spill_failures },
        { "reloads_total", "counter", "Consumer reloads.", s.reloads },
        { "reload_failures_total", "counter", "Consumer reloads that failed.",
          s.reload_failures },
        { "malloc_trims_total", "counter", "Heap given back to the system after reclaim.",
          s.malloc_trims },
        { "rss_bytes", "gauge", "Resident set size of the process.", s.rss },
        { "rss_peak_bytes", "gauge", "Largest RSS seen.", s.rss_peak },
        { "real_bytes", "gauge",
          "The process's memory as the kernel counts it (owned cgroup v2, else RSS).", s.real },
        { "untracked_bytes", "gauge", "Real memory the governor does not count.",
          s.untracked },
        { "cgroup_current_bytes", "gauge", "memory.current of the owned cgroup v2 (0: none).",
          s.cgroup_current },
        { "cgroup_anon_bytes", "gauge", "Anonymous memory of the owned cgroup v2 (0: none).",
          s.cgroup_anon },
        { "kernel_signals_total", "counter", "Kernel memory pressure signals acted on.",
          s.kernel_signals },
        { "rebalance_moves_total", "counter", "Limit moves made by the rebalancer.",
          s.rebalance_moves },
        { "heaps", "gauge", "Heaps alive.", s.heaps },
        { "sections_quarantined_total", "counter",
          "Section files moved into a spill directory's quarantine.", s.sections_quarantined },
        { "consumers", "gauge", "Registered consumers.", s.consumers },
        { "waiters", "gauge", "Requests waiting now.", s.waiters },
        { "spill_bytes", "gauge", "Bytes in spill files on disk.", s.spill_bytes },
        { "spill_peak_bytes", "gauge", "Most bytes ever in spill files at once.",
          s.spill_bytes_peak },
        { "spill_quota_bytes", "gauge", "Disk quota for spill files (0 = not yet set).",
          s.spill_quota },
    };
    for (size_t i = 0; i < sizeof global / sizeof global[0]; i++) {
        metric(&o, global[i].name, global[i].type, global[i].help);
        put(&o, "memgov_%s %llu\n", global[i].name, U(global[i].v));
    }
    const struct {
        const char *name, *type, *help;
        size_t off;
    } per_region[] = {
        { "region_used_bytes", "gauge", "Bytes granted in the region.",
          offsetof(mgov_region_stats_t, used) },
        { "region_peak_bytes", "gauge", "Most bytes granted in the region at once.",
          offsetof(mgov_region_stats_t, peak) },
        { "region_reserved_bytes", "gauge", "Bytes guaranteed to the region.",
          offsetof(mgov_region_stats_t, reserved) },
        { "region_limit_bytes", "gauge", "The region's cap (0 = none).",
          offsetof(mgov_region_stats_t, limit) },
        { "region_live_grants", "gauge", "Grants alive in the region.",
          offsetof(mgov_region_stats_t, live_grants) },
        { "region_refusals_total", "counter", "Requests refused in the region.",
          offsetof(mgov_region_stats_t, refusals) },
        { "region_waits_total", "counter", "Requests that waited.",
          offsetof(mgov_region_stats_t, waits) },
        { "region_wait_seconds_total", "counter", "Time spent waiting.",
          offsetof(mgov_region_stats_t, wait_ns) },
        { "region_timeouts_total", "counter", "Waits that timed out.",
          offsetof(mgov_region_stats_t, timeouts) },
    };
    for (size_t m = 0; m < sizeof per_region / sizeof per_region[0]; m++) {
        metric(&o, per_region[m].name, per_region[m].type, per_region[m].help);
        for (unsigned i = 0; i < s.n_regions; i++) {
            uint64_t v;
            memcpy(&v, (const char *)&s.regions[i] + per_region[m].off, sizeof v);
            if (per_region[m].off == offsetof(mgov_region_stats_t, wait_ns))
                put(&o, "memgov_%s{region=\"%s\"} %.9f\n", per_region[m].name,
                    s.regions[i].name, (double)v / 1e9);
            else
                put(&o, "memgov_%s{region=\"%s\"} %llu\n", per_region[m].name,
                    s.regions[i].name, U(v));
        }
    }
    const struct {
        const char *name, *type, *help;
        size_t off;
    } per_heap[] = {
        { "region_heap_allocated_bytes", "gauge", "Bytes of live heap blocks in the region.",
          offsetof(mgov_region_heap_stats_t, allocated) },
        { "region_heap_charged_bytes", "gauge", "Bytes the region's heaps hold (blocks + slack).",
          offsetof(mgov_region_heap_stats_t, charged) },
        { "region_heap_resident_bytes", "gauge",
          "Bytes the region's heaps hold from the system.",
          offsetof(mgov_region_heap_stats_t, resident) },
        { "region_heap_dirty_bytes", "gauge", "Free heap pages not yet returned.",
          offsetof(mgov_region_heap_stats_t, dirty) },
        { "region_heap_mallocs_total", "counter", "Heap allocations in the region.",
          offsetof(mgov_region_heap_stats_t, mallocs) },
        { "region_heap_frees_total", "counter", "Heap frees in the region.",
          offsetof(mgov_region_heap_stats_t, frees) },
    };
    for (size_t m = 0; m < sizeof per_heap / sizeof per_heap[0]; m++) {
        metric(&o, per_heap[m].name, per_heap[m].type, per_heap[m].help);
        for (unsigned i = 0; i < s.n_regions; i++) {
            uint64_t v;
            memcpy(&v, (const char *)&s.heap[i] + per_heap[m].off, sizeof v);
            put(&o, "memgov_%s{region=\"%s\"} %llu\n", per_heap[m].name, s.regions[i].name,
                U(v));
        }
    }
    return o.len;
}

void mgov__spill_disk_add(mgov_t *gov, int64_t delta)
{
    if (!gov || !delta)
        return;
    /* a gauge: relaxed (the spill directory orders its updates, spill_dir.c) */
    if (delta < 0) {
        uint64_t d = (uint64_t)-delta, cur = atomic_load_explicit(&gov->spill_disk, R);
        while (!atomic_compare_exchange_weak_explicit(&gov->spill_disk, &cur, cur > d ? cur - d : 0,
                                                      R, R))
            ;
        return;
    }
    uint64_t now = atomic_fetch_add_explicit(&gov->spill_disk, (uint64_t)delta, R);
    now += (uint64_t)delta;
    uint64_t peak = atomic_load_explicit(&gov->spill_disk_peak, R);
    while (now > peak &&
           !atomic_compare_exchange_weak_explicit(&gov->spill_disk_peak, &peak, now, R, R))
        ;
}

void mgov__spill_quota_set(mgov_t *gov, uint64_t bytes)
{
    if (gov)
        atomic_store_explicit(&gov->spill_quota_now, bytes, R);
}

void mgov__quarantine_report(mgov_t *gov, const char *name, uint64_t bytes, int status)
{
    if (!gov)
        return;
    if (status == MGOV_OK) /* a count: relaxed */
        atomic_fetch_add_explicit(&gov->sections_quarantined, 1, R);
    if (!mgov__has_events(gov))
        return;
    mgov_event_t ev;
    mgov__event_init(&ev, MGOV_EV_QUARANTINED, gov, -1);
    ev.name = name;
    ev.bytes = bytes;
    ev.status = status;
    mgov__emit(gov, &ev);
}
