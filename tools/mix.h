/* mix.h - `memgov demo`: a mixed workload of real engines held inside one
 * ceiling by one governor, checked and plotted.  The parts:
 *
 *   cmd_demo.c     options (--tour hands over to the scripted tour, demo.h)
 *   mix_main.c     the governor and its regions, the engines' threads, the end
 *   mix_vec.c      vector search: shards in tiered sections, exact top-k
 *   mix_ts.c       time-series ingest: pool buffers sealed into segments
 *   mix_seg.c      the segments' encoding (delta and zigzag varints)
 *   mix_ana.c      analytics: GROUP BY, ORDER BY and a join over the segments
 *   mix_cache.c    the query-result cache, a consumer that evicts
 *   mix_sample.c   every 50 ms: a TSV row, the checks, the status line
 *   mix_report.c   the final report and the verdict
 *   mix_plot.c     the PNG, drawn by gnuplot from the TSV
 *
 * Each engine has its own region (a reservation and a limit) and a heap
 * charged to it for its small objects.  Engines run in their own threads
 * from mix_start to mix_stop; the main thread samples.
 *
 * Locking: each engine's lock guards its own state only and is never held
 * while calling into the governor (a reserve may reclaim, and reclaim runs
 * the cache's evict, which takes the cache's lock, in the calling thread).
 * Counters that the sampler reads are atomics (relaxed: statistics).
 */
#ifndef MEMGOV_TOOLS_MIX_H
#define MEMGOV_TOOLS_MIX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <memgov.h>

#include "cli.h"

enum { MIX_R_VEC, MIX_R_TS, MIX_R_ANA, MIX_R_CACHE, MIX_R_SPILL, MIX_NREG };

#define MIX_DIM 128             /* floats per vector */
#define MIX_K 10                /* top-k */
#define MIX_REFS 8              /* queries with a brute-force reference */
#define MIX_SERIES 1000         /* time series */
#define MIX_QUERY_THREADS 2
#define MIX_WAIT_NS ((int64_t)5 * 1000 * 1000 * 1000)
#define MIX_SAMPLE_MS 50

typedef struct mix mix_t;

typedef struct mix_opts {
    uint64_t memory;            /* the ceiling: the governor's budget */
    uint64_t index_bytes;       /* the vector index; 0 = 3/4 of memory */
    unsigned seconds;
    const char *tsv, *png;
    bool quiet;
} mix_opts_t;

/* A top-k result, best first: (distance, id) ascending. */
typedef struct mix_topk {
    unsigned n;
    float dist[MIX_K];
    uint32_t id[MIX_K];
} mix_topk_t;

typedef struct mix_vec {
    mix_t *m;
    mgov_heap_t *heap;
    unsigned n_shards;
    uint32_t per_shard;          /* vectors per shard (the last may hold fewer) */
    uint32_t n_vectors;
    mgov_section_t **shards;     /* from heap */
    mix_topk_t ref[MIX_REFS];    /* brute-force answers, computed at build */
    pthread_t threads[MIX_QUERY_THREADS];
    unsigned n_threads;
    _Atomic uint64_t queries, scanned, cache_hits, checked, reloads;
    _Atomic uint64_t reload_waits;     /* shard reloads and appends retried */
} mix_vec_t;

/* Per-series aggregates, as the ingest keeps them and analytics finds them. */
typedef struct mix_agg {
    uint64_t count;
    int64_t sum, min, max;
} mix_agg_t;

/* One section of sealed segments. */
typedef struct mix_tsec {
    mgov_section_t *sec;
    char name[24];
    uint64_t points, bytes;
    int64_t sum;
    struct mix_tsec *next;
} mix_tsec_t;

typedef struct mix_ts {
    mix_t *m;
    mgov_heap_t *heap;
    mgov_bufpool_t *pool;
    size_t points_per_buf;
    uint64_t sec_bytes;          /* a section is sealed once this long */
    uint64_t backlog_cap;        /* sealed bytes not yet analysed, at most */
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;          /* everything below */
    pthread_cond_t cond;         /* backlog shrank, a section is ready, the end */
    mix_tsec_t *ready_head, *ready_tail; /* sealed, not yet analysed, oldest first */
    uint64_t backlog;            /* bytes in the ready list */
    mix_agg_t *sealed;           /* [MIX_SERIES]: totals of every sealed section */
    uint64_t sealed_points;
    int64_t sealed_sum;
    bool done;                   /* the ingest ended and sealed everything */
    unsigned sec_no;

    _Atomic uint64_t points, segments, backlog_waits, buf_waits, append_waits;
} mix_ts_t;

typedef struct mix_ana {
    mix_t *m;
    mgov_heap_t *heap;
    mix_agg_t *seen;             /* [MIX_SERIES]: what the GROUP BYs found, added up */
    mix_agg_t *prev;             /* [MIX_SERIES]: the ingest's totals at the last window */
    pthread_t thread;
    bool started;
    _Atomic uint64_t queries, windows, points, rows_sorted, rows_joined, spills;
} mix_ana_t;

typedef struct mix_centry mix_centry_t;

typedef struct mix_cache {
    mix_t *m;
    mgov_heap_t *heap;
    mgov_consumer_t *consumer;
    pthread_mutex_t mu;          /* the table and the list */
    mix_centry_t **table;        /* buckets, from heap */
    mix_centry_t *lru_head, *lru_tail; /* head: most recent */
    uint64_t bytes, entries;
    _Atomic uint64_t hits, misses, evicted, refused;
} mix_cache_t;

/* What the sampler keeps between samples and for the report. */
typedef struct mix_samples {
    FILE *tsv;
    uint64_t n, last_spills, last_reloads;
    uint64_t peak_untracked, peak_used, peak_rss_sampled;
    uint64_t last_status_ns, status_every_ns;
    uint64_t prev_scanned, prev_points, prev_queries, prev_ns;
    bool tty, status_open;
} mix_samples_t;

struct mix {
    mix_opts_t o;
    mgov_t *gov;
    int reg[MIX_NREG];
    const char *rname[MIX_NREG]; /* static strings: valid after the governor is gone */
    uint64_t reserved[MIX_NREG], limit[MIX_NREG];
    uint64_t t0_ns, run_ns;      /* the engines started; how long they ran */
    atomic_bool stop;            /* engines: finish what you are doing and return */
    atomic_bool abandon;         /* a signal came: analytics drops what is left */
    _Atomic unsigned running;    /* engine threads not yet returned */

    pthread_mutex_t fail_mu;     /* failure messages */
    _Atomic unsigned failures;
    _Atomic uint64_t ev_spills[MIX_NREG], ev_reloads[MIX_NREG], ev_waits[MIX_NREG],
        ev_refusals[MIX_NREG], ev_evictions[MIX_NREG];
    _Atomic uint64_t destroy_leaks;

    mix_vec_t vec;
    mix_ts_t ts;
    mix_ana_t ana;
    mix_cache_t cache;
    mix_samples_t smp;
};

/* ------------------------------------------------------------ mix_main.c */

/* Runs the workload with these options; returns the exit status. */
int mix_run(const mix_opts_t *o);
/* A failed check: "memgov demo: check failed: ..." on stderr (the first
 * few), counted; the demo goes on and exits 1. */
void mix_fail(mix_t *m, const char *fmt, ...) CLI_PRINTF(2, 3);
/* A heap for an engine's small objects, charged to region r. */
int mix_heap(mix_t *m, int r, const char *name, mgov_heap_t **out);
/* Pins section s with its bytes in RAM: reloads it while it is on disk
 * (never reading it through the mapping of its file, whose pages would be
 * resident but charged to no region), retrying while the budget is short;
 * with quit_on_stop, MGOV_ECANCELED once the engines are told to stop.
 * Counts reloads and waits (either may be NULL). */
int mix_pin_ram(mix_t *m, mgov_section_t *s, mgov_section_view_t *view, bool quit_on_stop,
                _Atomic uint64_t *reloads, _Atomic uint64_t *waits);
/* Starts an engine thread with every signal blocked (they go to the
 * main thread, whose sleep they interrupt), counted in `running`. */
int mix_thread(mix_t *m, pthread_t *t, void *(*fn)(void *), void *arg);
/* An engine thread returns through this. */
void *mix_thread_exit(mix_t *m);
/* Seconds since the engines started. */
double mix_elapsed(const mix_t *m);

/* -------------------------------------------------------------- engines */

int mix_vec_build(mix_vec_t *v, mix_t *m);   /* the index and its references */
int mix_vec_start(mix_vec_t *v);
void mix_vec_join(mix_vec_t *v);
void mix_vec_close(mix_vec_t *v);
/* Squared L2 distance, the one code both the queries and the reference use. */
float mix_vec_dist(const float *a, const float *b);
void mix_vec_query(float *q, uint64_t seed);  /* the query vector of seed */

int mix_ts_open(mix_ts_t *t, mix_t *m);
int mix_ts_start(mix_ts_t *t);
void mix_ts_join(mix_ts_t *t);
void mix_ts_close(mix_ts_t *t);
/* Takes every ready section (oldest first) and copies the totals they add
 * up to into totals[MIX_SERIES]; *points is their count.  Waits up to
 * wait_ns for one when none is ready; *done when the ingest ended and
 * nothing is left.  The caller owns the list and gives each section back
 * with mix_ts_release. */
mix_tsec_t *mix_ts_take(mix_ts_t *t, int64_t wait_ns, mix_agg_t *totals, bool *done);
void mix_ts_release(mix_ts_t *t, mix_tsec_t *s);

int mix_ana_open(mix_ana_t *a, mix_t *m);
int mix_ana_start(mix_ana_t *a);
void mix_ana_join(mix_ana_t *a);
void mix_ana_close(mix_ana_t *a);

int mix_cache_open(mix_cache_t *c, mix_t *m);
void mix_cache_close(mix_cache_t *c);
bool mix_cache_get(mix_cache_t *c, uint64_t seed, mix_topk_t *out);
void mix_cache_put(mix_cache_t *c, uint64_t seed, const mix_topk_t *r);

/* ---------------------------------------------------------- mix_seg.c */

/* A point: time, series, value. */
typedef struct mix_point {
    uint64_t time;
    uint32_t series;
    int32_t value;
} mix_point_t;

/* Point number i of the deterministic stream. */
void mix_point_make(uint64_t i, mix_point_t *p);
/* The longest encoding of n points. */
size_t mix_seg_bound(size_t n);
/* Encodes n points as one segment into out (mix_seg_bound(n) bytes);
 * returns its length. */
size_t mix_seg_encode(const mix_point_t *pts, size_t n, uint8_t *out);
/* Decodes the segment at in[0..len): its length through *used, its points
 * into pts (room for cap).  Returns the count, or -1 when it is damaged. */
long mix_seg_decode(const uint8_t *in, size_t len, size_t *used, mix_point_t *pts, size_t cap);

/* --------------------------------------------------- sampling and report */

int mix_sample_open(mix_t *m);
/* One sample: a TSV row, the checks, the status line when it is time. */
void mix_sample(mix_t *m);
void mix_sample_close(mix_t *m);
void mix_report(mix_t *m, const mgov_stats_t *st);
/* The picture from the TSV: MGOV_OK, or a note said on stdout and why not
 * returned (gnuplot missing is not a failure of the demo). */
void mix_plot(mix_t *m);

#endif /* MEMGOV_TOOLS_MIX_H */
