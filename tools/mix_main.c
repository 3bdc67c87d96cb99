/* mix_main.c - `memgov demo`'s frame: the governor and its five regions
 * (vectors, timeseries, analytics, cache, spill_staging, each with a
 * reservation and a limit), the engines started in their threads, the main
 * thread sampling every 50 ms until the time is up, then the end: engines
 * joined, the ingest's last points analysed, every section, heap and pool
 * closed, the governor destroyed (it must report no leak), the report,
 * the picture and the verdict.
 *
 * The mix_t is static: the event callback may run in any thread until
 * mgov_destroy returns.  Locking: fail_mu serializes failure messages;
 * the event counters are atomics.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "mix.h"
#include "signals.h"

#define MAX_FAIL_MESSAGES 20

/* The process's own memory, outside every region: code, libraries,
 * stacks, stdio (about 6 MiB measured).  The regions share the rest. */
#define OWN_MEMORY ((uint64_t)8 << 20)

/* Shares of what the regions share: reservation and limit per region
 * (thousandths).  The limits add up to 90%: when every engine is at its
 * limit, pressure is past high (the governor spills) and RSS stays under
 * the ceiling. */
static const struct {
    const char *name;
    unsigned reserved, limit;
} region_plan[MIX_NREG] = {
    [MIX_R_VEC] = { "vectors", 300, 450 },
    [MIX_R_TS] = { "timeseries", 40, 80 },
    [MIX_R_ANA] = { "analytics", 100, 330 },
    [MIX_R_CACHE] = { "cache", 10, 40 },
    [MIX_R_SPILL] = { "spill_staging", 20, 0 },
};

void mix_fail(mix_t *m, const char *fmt, ...)
{
    unsigned n = atomic_fetch_add(&m->failures, 1);
    if (n >= MAX_FAIL_MESSAGES)
        return;
    pthread_mutex_lock(&m->fail_mu);
    if (m->smp.status_open) { /* end the status line first */
        fputc('\n', stdout);
        m->smp.status_open = false;
    }
    fflush(stdout);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "memgov demo: check failed: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    pthread_mutex_unlock(&m->fail_mu);
}

double mix_elapsed(const mix_t *m)
{
    return cli_secs(m->t0_ns, cli_now_ns());
}

int mix_thread(mix_t *m, pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    atomic_fetch_add(&m->running, 1);
    int e = pthread_create(t, NULL, fn, arg);
    if (e != 0)
        atomic_fetch_sub(&m->running, 1);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e == 0 ? MGOV_OK : MGOV_ENOMEM;
}

void *mix_thread_exit(mix_t *m)
{
    atomic_fetch_sub(&m->running, 1);
    return NULL;
}

int mix_heap(mix_t *m, int r, const char *name, mgov_heap_t **out)
{
    mgov_heap_config_t hc = MGOV_HEAP_CONFIG_INIT;
    hc.gov = m->gov;
    hc.region = mgov_region_name(m->gov, r);
    hc.name = name;
    hc.timeout_ns = MIX_WAIT_NS;
    hc.slack = 64 << 10;
    return mgov_heap_create(&hc, out);
}

int mix_pin_ram(mix_t *m, mgov_section_t *s, mgov_section_view_t *view, bool quit_on_stop,
                _Atomic uint64_t *reloads, _Atomic uint64_t *waits)
{
    for (int tries = 0; tries < 200; tries++) {
        int rc = mgov_section_pin(s, view);
        if (rc != MGOV_OK)
            return rc;
        if (mgov_section_tier(s) != MGOV_TIER_ON_DISK)
            return MGOV_OK; /* pinned: it stays in RAM until unpinned */
        mgov_section_unpin(s, view);
        rc = mgov_section_reload(s, MIX_WAIT_NS);
        if (rc == MGOV_OK) {
            if (reloads)
                atomic_fetch_add_explicit(reloads, 1, memory_order_relaxed);
            continue;
        }
        if (rc != MGOV_EBUSY && rc != MGOV_ETIMEDOUT && rc != MGOV_EBUDGET)
            return rc;
        if (waits)
            atomic_fetch_add_explicit(waits, 1, memory_order_relaxed);
        if (quit_on_stop && atomic_load(&m->stop))
            return MGOV_ECANCELED;
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    }
    return MGOV_ETIMEDOUT;
}

static void on_event(void *ctx, const mgov_event_t *ev)
{
    mix_t *m = ctx;
    if (ev->region < 0 || ev->region >= MIX_NREG)
        return;
    _Atomic uint64_t *c = NULL;
    switch (ev->type) {
    case MGOV_EV_SPILLED: c = m->ev_spills; break;
    case MGOV_EV_RELOADED: c = m->ev_reloads; break;
    case MGOV_EV_WAIT: c = m->ev_waits; break;
    case MGOV_EV_REFUSED: c = m->ev_refusals; break;
    case MGOV_EV_EVICTED: c = m->ev_evictions; break;
    case MGOV_EV_LEAKED_GRANTS:
    case MGOV_EV_LEAKED_CONSUMER:
    case MGOV_EV_LEAKED_BLOCKS:
        atomic_fetch_add(&m->destroy_leaks, 1);
        break;
    default: break;
    }
    if (c)
        atomic_fetch_add_explicit(&c[ev->region], 1, memory_order_relaxed);
}

static int governor_create(mix_t *m)
{
    mgov_region_config_t regions[MIX_NREG];
    uint64_t shared = m->o.memory - OWN_MEMORY; /* --memory is at least 32M */
    for (int i = 0; i < MIX_NREG; i++) {
        m->reserved[i] = shared / 1000 * region_plan[i].reserved;
        m->limit[i] = shared / 1000 * region_plan[i].limit;
        m->rname[i] = region_plan[i].name;
        regions[i] = (mgov_region_config_t){ region_plan[i].name, m->reserved[i], m->limit[i] };
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = m->o.memory;
    cfg.regions = regions;
    cfg.n_regions = MIX_NREG;
    cfg.flags = MGOV_RSS_PRESSURE;
    cfg.spill_quota = m->o.index_bytes * 4 > ((uint64_t)1 << 30) ? m->o.index_bytes * 4
                                                                  : (uint64_t)1 << 30;
    cfg.on_event = on_event;
    cfg.event_ctx = m;
    int rc = mgov_create(&cfg, &m->gov);
    for (int i = 0; rc == MGOV_OK && i < MIX_NREG; i++)
        m->reg[i] = mgov_region_find(m->gov, region_plan[i].name);
    return rc;
}

/* Opens the engines and builds the index; says what failed. */
static int engines_open(mix_t *m)
{
    int rc;
    if ((rc = mix_cache_open(&m->cache, m)) != MGOV_OK)
        return cli_runtime_error("demo", rc, "opening the query cache");
    if ((rc = mix_ts_open(&m->ts, m)) != MGOV_OK)
        return cli_runtime_error("demo", rc, "opening the time-series store");
    if ((rc = mix_ana_open(&m->ana, m)) != MGOV_OK)
        return cli_runtime_error("demo", rc, "opening analytics");
    if (!m->o.quiet) {
        printf("building the vector index: %s of %u-dimension vectors (region limit %s)...\n",
               cli_size(m->o.index_bytes).s, MIX_DIM, cli_size(m->limit[MIX_R_VEC]).s);
        fflush(stdout);
    }
    uint64_t t = cli_now_ns();
    if ((rc = mix_vec_build(&m->vec, m)) != MGOV_OK)
        return cli_runtime_error("demo", rc, "building the vector index");
    if (!m->o.quiet)
        printf("  %u vectors in %u shards, %.1f s; %u reference answers by brute force\n",
               m->vec.n_vectors, m->vec.n_shards, cli_secs(t, cli_now_ns()), MIX_REFS);
    return CLI_EXIT_OK;
}

static int engines_start(mix_t *m)
{
    int rc;
    if ((rc = mix_vec_start(&m->vec)) != MGOV_OK || (rc = mix_ts_start(&m->ts)) != MGOV_OK ||
        (rc = mix_ana_start(&m->ana)) != MGOV_OK)
        return cli_runtime_error("demo", rc, "starting the engines' threads");
    return CLI_EXIT_OK;
}

/* Stops the engines, sampling on while they finish (the last analytics
 * window belongs in the picture); after a signal analytics abandons what
 * is left. */
static void engines_stop(mix_t *m)
{
    atomic_store(&m->stop, true);
    struct timespec tick = { 0, MIX_SAMPLE_MS * 1000000L };
    while (atomic_load(&m->running) > 0) {
        if (cli_signal_pending())
            atomic_store(&m->abandon, true);
        nanosleep(&tick, NULL);
        if (m->smp.tsv)
            mix_sample(m);
    }
    mix_vec_join(&m->vec);
    mix_ts_join(&m->ts);   /* it seals what it holds */
    mix_ana_join(&m->ana); /* it analyses what is left, then returns */
}

static void heap_destroy(mix_t *m, mgov_heap_t **h, const char *what)
{
    if (!*h)
        return;
    int rc = mgov_heap_destroy(*h);
    if (rc != MGOV_OK)
        mix_fail(m, "the %s heap: %s", what, mgov_strerror(rc));
    *h = NULL;
}

static void count_section(void *arg, const mgov_section_info_t *info)
{
    (void)info;
    (*(unsigned *)arg)++;
}

/* Closes everything; the stats taken just before the governor goes. */
static void engines_close(mix_t *m, mgov_stats_t *st)
{
    mix_vec_close(&m->vec);
    mix_ts_close(&m->ts);
    mix_ana_close(&m->ana);
    mix_cache_close(&m->cache);
    heap_destroy(m, &m->vec.heap, "vector");
    heap_destroy(m, &m->ts.heap, "time-series");
    heap_destroy(m, &m->ana.heap, "analytics");
    heap_destroy(m, &m->cache.heap, "cache");

    unsigned sections = 0;
    int rc = mgov_section_foreach(m->gov, count_section, &sections);
    if (rc != MGOV_OK)
        mix_fail(m, "listing sections: %s", mgov_strerror(rc));
    else if (sections)
        mix_fail(m, "%u section(s) left at the end", sections);
    memset(st, 0, sizeof *st);
    if ((rc = mgov_stats(m->gov, st)) != MGOV_OK)
        mix_fail(m, "mgov_stats: %s", mgov_strerror(rc));
    else if (st->used || st->consumers || st->spill_bytes)
        mix_fail(m, "left at the end: %s granted, %llu consumer(s), %s in spill files",
                 cli_size(st->used).s, (unsigned long long)st->consumers,
                 cli_size(st->spill_bytes).s);
}

int mix_run(const mix_opts_t *o)
{
    static mix_t mix;
    mix_t *m = &mix;
    memset(m, 0, sizeof *m);
    m->o = *o;
    if (!m->o.index_bytes)
        m->o.index_bytes = m->o.memory / 4 * 3;
    pthread_mutex_init(&m->fail_mu, NULL);

    cli_signals_catch();
    int rc = governor_create(m);
    if (rc != MGOV_OK)
        return cli_runtime_error("demo", rc, "mgov_create");
    /* the spill directory first: a $TMPDIR that cannot take it is said
     * plainly, before any work */
    mgov_spill_dir_t *dir;
    if ((rc = mgov_spill_dir_get(m->gov, &dir)) != MGOV_OK) {
        int err = errno;
        mgov_destroy(m->gov);
        return cli_spill_dir_error("demo", CLI_EXIT_FAILURE, NULL, rc, err);
    }
    int status = engines_open(m);
    if (status == CLI_EXIT_OK && (rc = mix_sample_open(m)) != MGOV_OK)
        status = CLI_EXIT_FAILURE;
    m->t0_ns = cli_now_ns();
    if (status == CLI_EXIT_OK)
        status = engines_start(m);
    if (status == CLI_EXIT_OK) {
        uint64_t end = m->t0_ns + (uint64_t)m->o.seconds * 1000000000u;
        struct timespec tick = { 0, MIX_SAMPLE_MS * 1000000L };
        while (cli_now_ns() < end && !atomic_load(&m->stop) && !cli_signal_pending()) {
            nanosleep(&tick, NULL);
            mix_sample(m);
        }
    }
    engines_stop(m);
    m->run_ns = cli_now_ns() - m->t0_ns;
    if (m->smp.tsv)
        mix_sample(m); /* the state after the last analysis */
    if (cli_signal_pending() || atomic_load(&m->abandon)) {
        /* interrupted: remove everything (the spill files go with the
         * governor), then end by the signal */
        mgov_stats_t st;
        engines_close(m, &st);
        mix_sample_close(m);
        mgov_destroy(m->gov);
        m->gov = NULL;
        fflush(stdout);
        cli_signal_exit();
        return CLI_EXIT_FAILURE; /* not reached: a signal is pending */
    }
    uint64_t ingested = atomic_load(&m->ts.points), analysed = atomic_load(&m->ana.points);
    if (status == CLI_EXIT_OK && ingested != analysed)
        mix_fail(m, "points ingested %llu, aggregated %llu", (unsigned long long)ingested,
                 (unsigned long long)analysed);

    mgov_stats_t st;
    engines_close(m, &st);
    mix_sample_close(m);
    rc = mgov_destroy(m->gov);
    m->gov = NULL;
    if (rc != MGOV_OK || atomic_load(&m->destroy_leaks))
        mix_fail(m, "mgov_destroy: %s (%llu leak report(s))", mgov_strerror(rc),
                 (unsigned long long)atomic_load(&m->destroy_leaks));
    if (status == CLI_EXIT_OK) {
        mix_report(m, &st);
        mix_plot(m);
    }
    pthread_mutex_destroy(&m->fail_mu);
    unsigned failures = atomic_load(&m->failures);
    if (status != CLI_EXIT_OK)
        return status;
    if (failures) {
        fflush(stdout);
        return cli_error("demo", "%u check(s) failed", failures);
    }
    printf("all checks passed\n");
    return CLI_EXIT_OK;
}
