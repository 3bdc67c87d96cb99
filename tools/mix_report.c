/* mix_report.c - `memgov demo`'s final report: what each engine did (its
 * throughput, and its region's spills, reloads, waits and refusals), each
 * region's peak against its limit, the process's peak RSS (VmHWM, as the
 * kernel reports it) against the ceiling, untracked memory, and the
 * checks that need the whole run (peak RSS; results checked at all).
 * Main thread only, after the engines stopped.
 */
#include <inttypes.h>

#include "mix.h"

/* Peak RSS may pass the ceiling by this much (thousandths): the process's
 * code, stacks and libraries are outside any region. */
#define RSS_SLACK_PERMILLE 1050u

static unsigned long long ld(_Atomic uint64_t *a)
{
    return (unsigned long long)atomic_load(a);
}

static void engine_line(mix_t *m, int r, const char *name, const char *what)
{
    printf("  %-14s %-44s %7llu %7llu %6llu %8llu\n", name, what, ld(&m->ev_spills[r]),
           ld(&m->ev_reloads[r]), ld(&m->ev_waits[r]), ld(&m->ev_refusals[r]));
}

void mix_report(mix_t *m, const mgov_stats_t *st)
{
    double secs = (double)m->run_ns / 1e9;
    char what[128];
    printf("\nmemgov demo: %.1f s, one process, one governor, ceiling %s\n\n", secs,
           cli_size(m->o.memory).s);
    printf("  %-14s %-44s %7s %7s %6s %8s\n", "engine", "throughput", "spills", "reloads",
           "waits", "refusals");
    unsigned long long q = ld(&m->vec.queries), hits = ld(&m->vec.cache_hits);
    snprintf(what, sizeof what, "%.2fM vectors searched/s, %.1f queries/s",
             (double)ld(&m->vec.scanned) / secs / 1e6, (double)q / secs);
    engine_line(m, MIX_R_VEC, "vector search", what);
    snprintf(what, sizeof what, "%.2fM points ingested/s (%.1fM points)",
             (double)ld(&m->ts.points) / secs / 1e6, (double)ld(&m->ts.points) / 1e6);
    engine_line(m, MIX_R_TS, "time series", what);
    snprintf(what, sizeof what, "%.2f queries/s (%llu windows, %llu op spills)",
             (double)ld(&m->ana.queries) / secs, ld(&m->ana.windows), ld(&m->ana.spills));
    engine_line(m, MIX_R_ANA, "analytics", what);
    snprintf(what, sizeof what, "%llu hits of %llu queries, %llu evicted", hits, q,
             ld(&m->cache.evicted));
    engine_line(m, MIX_R_CACHE, "query cache", what);
    printf("  retried inside the engines: shard reloads and appends %llu; the ingest's\n"
           "  buffers %llu, appends %llu, and waits for analytics' backlog %llu\n",
           ld(&m->vec.reload_waits), ld(&m->ts.buf_waits), ld(&m->ts.append_waits),
           ld(&m->ts.backlog_waits));
    printf("\n  %-14s %12s %12s %12s\n", "region", "peak", "limit", "reserved");
    for (int i = 0; i < MIX_NREG; i++) {
        const mgov_region_stats_t *r = &st->regions[m->reg[i]];
        printf("  %-14s %12s %12s %12s\n", r->name, cli_size(r->peak).s,
               r->limit ? cli_size(r->limit).s : "none", cli_size(r->reserved).s);
    }
    uint64_t hwm = cli_peak_rss();
    double pct = 100.0 * (double)hwm / (double)m->o.memory;
    printf("\n  peak RSS (VmHWM) %s of the ceiling %s: %.1f%%\n", cli_size(hwm).s,
           cli_size(m->o.memory).s, pct);
    printf("  governor's peak %s; untracked memory (RSS - granted) at most %s\n",
           cli_size(st->peak).s, cli_size(m->smp.peak_untracked).s);
    printf("  spills %llu, reloads %llu, evictions %llu, reclaim passes %llu, trims %llu\n",
           (unsigned long long)st->spills, (unsigned long long)st->reloads,
           (unsigned long long)st->evictions, (unsigned long long)st->reclaim_passes,
           (unsigned long long)st->malloc_trims);
    printf("  checked: %llu reference queries, %llu analytics windows (%llu rows sorted,\n"
           "  %llu joined), %llu points aggregated of %llu ingested, %llu samples\n",
           ld(&m->vec.checked), ld(&m->ana.windows), ld(&m->ana.rows_sorted),
           ld(&m->ana.rows_joined), ld(&m->ana.points), ld(&m->ts.points),
           (unsigned long long)m->smp.n);

    if (hwm > m->o.memory / 1000 * RSS_SLACK_PERMILLE) {
#ifdef MGOV_SANITIZED
        printf("  (peak RSS not checked: a sanitizer build keeps its shadow memory resident)\n");
#else
        mix_fail(m, "peak RSS %s is over 105%% of the ceiling %s", cli_size(hwm).s,
                 cli_size(m->o.memory).s);
#endif
    }
    if (ld(&m->vec.checked) == 0)
        mix_fail(m, "no vector query was checked against the reference");
    if (ld(&m->ana.windows) == 0)
        mix_fail(m, "no analytics window was run");
}
