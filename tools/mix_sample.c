/* mix_sample.c - every MIX_SAMPLE_MS, from the main thread: one snapshot
 * of the governor (mgov_stats), written as a TSV row (each region's bytes,
 * the total, RSS, the pressure level, spills and reloads since the last
 * row), checked (no region over its limit, the total within the budget),
 * and, a few times a second, shown: a status line rewritten in place on a
 * terminal, a plain log line a second otherwise.
 *
 * Used by the main thread only (mix_fail, which may run in any thread,
 * reads status_open under fail_mu to end the line first).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mix.h"

int mix_sample_open(mix_t *m)
{
    mix_samples_t *s = &m->smp;
    s->tsv = fopen(m->o.tsv, "w");
    if (!s->tsv) {
        cli_error("demo", "cannot write '%s': %s", m->o.tsv, strerror(errno));
        return MGOV_EIO;
    }
    fprintf(s->tsv, "seconds");
    for (int i = 0; i < MIX_NREG; i++)
        fprintf(s->tsv, "\t%s", mgov_region_name(m->gov, m->reg[i]));
    fprintf(s->tsv, "\tused\trss\tlevel\tspills\treloads\n");
    s->tty = isatty(STDOUT_FILENO) == 1;
    s->status_every_ns = s->tty ? 250000000u : 1000000000u;
    return MGOV_OK;
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

static void status_line(mix_t *m, const mgov_stats_t *st, uint64_t now)
{
    mix_samples_t *s = &m->smp;
    uint64_t scanned = atomic_load(&m->vec.scanned), points = atomic_load(&m->ts.points),
             queries = atomic_load(&m->ana.queries);
    double dt = s->prev_ns ? cli_secs(s->prev_ns, now) : cli_secs(m->t0_ns, now);
    char line[512];
    int n = snprintf(line, sizeof line, "%5.1f s ", cli_secs(m->t0_ns, now));
    /* the engines' regions (spill staging is in the TSV): short enough for
     * a 100-column terminal */
    static const char *const short_name[MIX_NREG] = { "vec", "ts", "ana", "cache" };
    for (int i = 0; i < MIX_R_SPILL && n < (int)sizeof line; i++) {
        const mgov_region_stats_t *r = &st->regions[m->reg[i]];
        n += snprintf(line + n, sizeof line - (size_t)n, " %s %.0f/%.0fM", short_name[i],
                      mib(r->used), mib(r->limit));
    }
    if (n < (int)sizeof line)
        snprintf(line + n, sizeof line - (size_t)n,
                 " | %s | RSS %.0f/%.0fM | %.1fM vec/s %.1fM pts/s %.1f q/s",
                 mgov_pressure_name(st->pressure), mib(st->rss), mib(st->budget),
                 (double)(scanned - s->prev_scanned) / dt / 1e6,
                 (double)(points - s->prev_points) / dt / 1e6,
                 (double)(queries - s->prev_queries) / dt);
    s->prev_scanned = scanned;
    s->prev_points = points;
    s->prev_queries = queries;
    s->prev_ns = now;
    pthread_mutex_lock(&m->fail_mu);
    if (s->tty) {
        /* a line that wraps cannot be rewritten in place: cut it to the width */
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
            strlen(line) >= ws.ws_col)
            line[ws.ws_col - 1] = '\0';
        printf("\r\033[K%s", line);
        s->status_open = true;
    } else {
        printf("%s\n", line);
    }
    fflush(stdout);
    pthread_mutex_unlock(&m->fail_mu);
}

void mix_sample(mix_t *m)
{
    mix_samples_t *s = &m->smp;
    mgov_stats_t st;
    int rc = mgov_stats(m->gov, &st);
    if (rc != MGOV_OK) {
        mix_fail(m, "mgov_stats: %s", mgov_strerror(rc));
        return;
    }
    uint64_t now = cli_now_ns();
    for (int i = 0; i < MIX_NREG; i++) {
        const mgov_region_stats_t *r = &st.regions[m->reg[i]];
        if (r->limit && r->used > r->limit)
            mix_fail(m, "at %.2f s region %s holds %llu bytes, over its limit %llu",
                     cli_secs(m->t0_ns, now), r->name, (unsigned long long)r->used,
                     (unsigned long long)r->limit);
    }
    if (st.used > st.budget)
        mix_fail(m, "at %.2f s the governor grants %llu bytes, over its budget %llu",
                 cli_secs(m->t0_ns, now), (unsigned long long)st.used,
                 (unsigned long long)st.budget);

    fprintf(s->tsv, "%.3f", cli_secs(m->t0_ns, now));
    for (int i = 0; i < MIX_NREG; i++)
        fprintf(s->tsv, "\t%llu", (unsigned long long)st.regions[m->reg[i]].used);
    fprintf(s->tsv, "\t%llu\t%llu\t%d\t%llu\t%llu\n", (unsigned long long)st.used,
            (unsigned long long)st.rss, (int)st.pressure,
            (unsigned long long)(st.spills - s->last_spills),
            (unsigned long long)(st.reloads - s->last_reloads));
    s->last_spills = st.spills;
    s->last_reloads = st.reloads;
    s->n++;
    if (st.untracked > s->peak_untracked)
        s->peak_untracked = st.untracked;
    if (st.used > s->peak_used)
        s->peak_used = st.used;
    if (st.rss > s->peak_rss_sampled)
        s->peak_rss_sampled = st.rss;

    if (!m->o.quiet && now - s->last_status_ns >= s->status_every_ns) {
        s->last_status_ns = now;
        status_line(m, &st, now);
    }
}

void mix_sample_close(mix_t *m)
{
    mix_samples_t *s = &m->smp;
    if (s->status_open) {
        fputc('\n', stdout);
        s->status_open = false;
    }
    if (s->tsv) {
        bool lost = ferror(s->tsv) != 0;
        if (fclose(s->tsv) != 0 || lost)
            mix_fail(m, "writing '%s': %s", m->o.tsv,
                     lost ? "an earlier write failed" : strerror(errno));
    }
    s->tsv = NULL;
}
