/* mix_ana.c - the demo's analytics: one thread that takes the sections the
 * ingest sealed (a window) and runs three queries over their points with
 * memgov's spilling operators, in the analytics region:
 *
 *   SELECT series, count(*), sum(value), min(value), max(value) GROUP BY series
 *   SELECT * ORDER BY value
 *   SELECT ... FROM points JOIN series_meta USING (series)
 *
 * and checks each against what the ingest kept: the GROUP BY's counts and
 * sums per series against the ingest's totals' growth since the last
 * window, their running min/max/count/sum against the totals themselves;
 * the sort's output in order, as many rows, the same sum; the join's rows,
 * sum of values and sum of metadata weights.  After the ingest ends it
 * drains what is left, so every point ingested is aggregated once.
 *
 * Threading: one thread; the operators are its own.  The sections of a
 * window are its own until it releases them (mix_ts_release).
 */
#include <string.h>

#include "mix.h"

#define SEG_POINTS 4096u /* the most points a segment holds (mix_ts.c) */

static int32_t weight_of(uint32_t series)
{
    return (int32_t)(series * 7919u % 100u) + 1;
}

typedef int (*feed_fn)(void *ctx, const mix_point_t *pts, size_t n);

/* Calls fn for the points of every segment of the window's sections. */
static int feed(mix_ana_t *a, mix_tsec_t *list, mix_point_t *pts, feed_fn fn, void *ctx)
{
    for (mix_tsec_t *s = list; s; s = s->next) {
        if (atomic_load(&a->m->abandon))
            return MGOV_ECANCELED;
        mgov_section_view_t view;
        int rc = mix_pin_ram(a->m, s->sec, &view, false, NULL, NULL);
        if (rc != MGOV_OK)
            return rc;
        const uint8_t *p = view.data;
        size_t left = view.len;
        while (left && rc == MGOV_OK) {
            size_t used;
            long n = mix_seg_decode(p, left, &used, pts, SEG_POINTS);
            if (n < 0) {
                rc = MGOV_ECORRUPT;
                break;
            }
            rc = fn(ctx, pts, (size_t)n);
            p += used;
            left -= used;
        }
        mgov_section_unpin(s->sec, &view);
        if (rc != MGOV_OK)
            return rc;
    }
    return MGOV_OK;
}

/* ---------------------------------------------------------- GROUP BY */

typedef struct agg_feed {
    mgov_hashagg_t *h;
    uint32_t keys[SEG_POINTS];
    mgov_value_t vals[SEG_POINTS];
} agg_feed_t;

static int agg_push(void *ctx, const mix_point_t *pts, size_t n)
{
    agg_feed_t *f = ctx;
    for (size_t i = 0; i < n; i++) {
        f->keys[i] = pts[i].series;
        f->vals[i].i64 = pts[i].value;
    }
    return mgov_hashagg_push_batch(f->h, f->keys, f->vals, n);
}

static int group_by(mix_ana_t *a, mix_tsec_t *list, mix_point_t *pts, const mix_agg_t *totals)
{
    static const mgov_agg_spec_t aggs[] = {
        { MGOV_AGG_COUNT, 0, NULL },
        { MGOV_AGG_SUM_I64, 0, NULL },
        { MGOV_AGG_MIN_I64, 0, NULL },
        { MGOV_AGG_MAX_I64, 0, NULL },
    };
    mgov_hashagg_config_t hc = MGOV_HASHAGG_CONFIG_INIT;
    hc.gov = a->m->gov;
    hc.region = mgov_region_name(a->m->gov, a->m->reg[MIX_R_ANA]);
    hc.name = "groupby";
    hc.key_size = sizeof(uint32_t);
    hc.n_inputs = 1;
    hc.aggs = aggs;
    hc.n_aggs = 4;
    hc.timeout_ns = MGOV_HASHAGG_DEFAULT_TIMEOUT_NS;
    agg_feed_t *f = mgov_heap_malloc(a->heap, sizeof *f);
    if (!f)
        return mgov_heap_last_error(a->heap);
    int rc = mgov_hashagg_create(&hc, &f->h);
    if (rc == MGOV_OK && (rc = feed(a, list, pts, agg_push, f)) == MGOV_OK)
        rc = mgov_hashagg_finish(f->h);
    mgov_hashagg_group_t g;
    int more = 0;
    unsigned groups = 0;
    while (rc == MGOV_OK && (more = mgov_hashagg_next(f->h, &g)) == 1) {
        uint32_t s;
        memcpy(&s, g.key, sizeof s);
        const mgov_value_t *v = g.values;
        mix_agg_t *seen = &a->seen[s], *prev = &a->prev[s];
        if ((uint64_t)v[0].i64 != totals[s].count - prev->count ||
            v[1].i64 != totals[s].sum - prev->sum || g.overflow)
            mix_fail(a->m,
                     "GROUP BY: series %u: count %lld sum %lld, the ingest says %llu and %lld",
                     s, (long long)v[0].i64, (long long)v[1].i64,
                     (unsigned long long)(totals[s].count - prev->count),
                     (long long)(totals[s].sum - prev->sum));
        if (seen->count == 0 || v[2].i64 < seen->min)
            seen->min = v[2].i64;
        if (seen->count == 0 || v[3].i64 > seen->max)
            seen->max = v[3].i64;
        seen->count += (uint64_t)v[0].i64;
        seen->sum += v[1].i64;
        groups++;
    }
    if (rc == MGOV_OK && more < 0)
        rc = more;
    mgov_hashagg_stats_t st;
    if (f->h && mgov_hashagg_stats(f->h, &st) == MGOV_OK)
        atomic_fetch_add_explicit(&a->spills, st.partitions_spilled, memory_order_relaxed);
    mgov_hashagg_destroy(f->h);
    mgov_heap_free(a->heap, f);
    if (rc != MGOV_OK)
        return rc;
    for (unsigned s = 0; s < MIX_SERIES; s++) {
        const mix_agg_t *w = &totals[s], *g2 = &a->seen[s];
        if (w->count != g2->count || w->sum != g2->sum ||
            (w->count && (w->min != g2->min || w->max != g2->max))) {
            mix_fail(a->m, "GROUP BY: series %u over all windows differs from the ingest's totals",
                     s);
            break;
        }
    }
    memcpy(a->prev, totals, MIX_SERIES * sizeof *totals);
    (void)groups;
    return MGOV_OK;
}

/* ---------------------------------------------------------- ORDER BY */

typedef struct sort_rec {
    uint8_t key[4]; /* the value, big-endian with its sign bit flipped */
    uint32_t series;
    uint64_t time;
} sort_rec_t;

static int sort_push(void *ctx, const mix_point_t *pts, size_t n)
{
    mgov_sort_t *s = ctx;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)pts[i].value ^ 0x80000000u;
        sort_rec_t r = { { (uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8), (uint8_t)k },
                         pts[i].series, pts[i].time };
        int rc = mgov_sort_push(s, &r, sizeof r);
        if (rc != MGOV_OK)
            return rc;
    }
    return MGOV_OK;
}

static int order_by(mix_ana_t *a, mix_tsec_t *list, mix_point_t *pts, uint64_t want_n,
                    int64_t want_sum)
{
    mgov_sort_config_t sc = MGOV_SORT_CONFIG_INIT;
    sc.gov = a->m->gov;
    sc.region = mgov_region_name(a->m->gov, a->m->reg[MIX_R_ANA]);
    sc.name = "orderby";
    sc.record_size = sizeof(sort_rec_t);
    sc.key_size = 4;
    sc.timeout_ns = MGOV_SORT_DEFAULT_TIMEOUT_NS;
    mgov_sort_t *s = NULL;
    int rc = mgov_sort_create(&sc, &s);
    if (rc == MGOV_OK && (rc = feed(a, list, pts, sort_push, s)) == MGOV_OK)
        rc = mgov_sort_finish(s);
    uint64_t n = 0;
    int64_t sum = 0;
    uint32_t last = 0;
    bool ordered = true;
    const void *rec;
    size_t len;
    int more = 0;
    while (rc == MGOV_OK && (more = mgov_sort_next(s, &rec, &len)) == 1) {
        sort_rec_t r;
        memcpy(&r, rec, sizeof r);
        uint32_t k = (uint32_t)r.key[0] << 24 | (uint32_t)r.key[1] << 16 |
                     (uint32_t)r.key[2] << 8 | r.key[3];
        if (n && k < last)
            ordered = false;
        last = k;
        sum += (int32_t)(k ^ 0x80000000u);
        n++;
    }
    if (rc == MGOV_OK && more < 0)
        rc = more;
    mgov_sort_stats_t st;
    if (s && mgov_sort_stats(s, &st) == MGOV_OK)
        atomic_fetch_add_explicit(&a->spills, st.runs, memory_order_relaxed);
    mgov_sort_destroy(s);
    if (rc != MGOV_OK)
        return rc;
    if (!ordered || n != want_n || sum != want_sum)
        mix_fail(a->m, "ORDER BY value: %s, %llu rows (want %llu), sum %lld (want %lld)",
                 ordered ? "in order" : "OUT OF ORDER", (unsigned long long)n,
                 (unsigned long long)want_n, (long long)sum, (long long)want_sum);
    atomic_fetch_add_explicit(&a->rows_sorted, n, memory_order_relaxed);
    return MGOV_OK;
}

/* -------------------------------------------------------------- JOIN */

typedef struct meta_row {
    int32_t weight;
    char name[12];
} meta_row_t;

typedef struct join_feed {
    mgov_hashjoin_t *j;
    uint64_t rows;
    int64_t sum, weights;
    uint32_t keys[SEG_POINTS];
    int32_t vals[SEG_POINTS];
} join_feed_t;

/* Pulls the join's output until it pauses or ends, adding it up. */
static int join_drain(join_feed_t *f)
{
    mgov_hashjoin_row_t r;
    int more;
    while ((more = mgov_hashjoin_next(f->j, &r)) == 1) {
        int32_t v;
        meta_row_t mr;
        if (!r.has_build || !r.has_probe || r.build_len != sizeof mr || r.probe_len != sizeof v)
            return MGOV_ECORRUPT;
        memcpy(&v, r.probe, sizeof v);
        memcpy(&mr, r.build, sizeof mr);
        f->rows++;
        f->sum += v;
        f->weights += mr.weight;
    }
    return more < 0 ? more : MGOV_OK;
}

static int join_push(void *ctx, const mix_point_t *pts, size_t n)
{
    join_feed_t *f = ctx;
    for (size_t i = 0; i < n; i++) {
        f->keys[i] = pts[i].series;
        f->vals[i] = pts[i].value;
    }
    int rc = mgov_hashjoin_probe_batch(f->j, f->keys, f->vals, sizeof(int32_t), n);
    return rc == MGOV_OK ? join_drain(f) : rc;
}

static int join(mix_ana_t *a, mix_tsec_t *list, mix_point_t *pts, const mix_agg_t *win,
                uint64_t want_n, int64_t want_sum)
{
    mgov_hashjoin_config_t jc = MGOV_HASHJOIN_CONFIG_INIT;
    jc.gov = a->m->gov;
    jc.region = mgov_region_name(a->m->gov, a->m->reg[MIX_R_ANA]);
    jc.name = "join";
    jc.type = MGOV_JOIN_INNER;
    jc.key_size = sizeof(uint32_t);
    jc.max_payload = sizeof(meta_row_t);
    jc.timeout_ns = MGOV_HASHJOIN_DEFAULT_TIMEOUT_NS;
    join_feed_t *f = mgov_heap_calloc(a->heap, 1, sizeof *f);
    if (!f)
        return mgov_heap_last_error(a->heap);
    int rc = mgov_hashjoin_create(&jc, &f->j);
    for (uint32_t s = 0; s < MIX_SERIES && rc == MGOV_OK; s++) {
        meta_row_t mr = { weight_of(s), { 0 } };
        snprintf(mr.name, sizeof mr.name, "series-%u", s);
        rc = mgov_hashjoin_build(f->j, &s, sizeof s, &mr, sizeof mr);
    }
    if (rc == MGOV_OK && (rc = mgov_hashjoin_build_finish(f->j)) == MGOV_OK &&
        (rc = feed(a, list, pts, join_push, f)) == MGOV_OK &&
        (rc = mgov_hashjoin_probe_finish(f->j)) == MGOV_OK)
        rc = join_drain(f);
    mgov_hashjoin_stats_t st;
    if (f->j && mgov_hashjoin_stats(f->j, &st) == MGOV_OK)
        atomic_fetch_add_explicit(&a->spills, st.partitions_spilled, memory_order_relaxed);
    mgov_hashjoin_destroy(f->j);
    int64_t want_w = 0;
    for (uint32_t s = 0; s < MIX_SERIES; s++)
        want_w += (int64_t)win[s].count * weight_of(s);
    if (rc == MGOV_OK && (f->rows != want_n || f->sum != want_sum || f->weights != want_w))
        mix_fail(a->m, "JOIN series_meta: %llu rows (want %llu), sum %lld (want %lld), "
                       "weights %lld (want %lld)",
                 (unsigned long long)f->rows, (unsigned long long)want_n, (long long)f->sum,
                 (long long)want_sum, (long long)f->weights, (long long)want_w);
    atomic_fetch_add_explicit(&a->rows_joined, f->rows, memory_order_relaxed);
    mgov_heap_free(a->heap, f);
    return rc;
}

/* ------------------------------------------------------------ windows */

static int window(mix_ana_t *a, mix_tsec_t *list, mix_point_t *pts, const mix_agg_t *totals,
                  mix_agg_t *win)
{
    uint64_t n = 0;
    int64_t sum = 0;
    for (mix_tsec_t *s = list; s; s = s->next) {
        n += s->points;
        sum += s->sum;
    }
    for (unsigned s = 0; s < MIX_SERIES; s++) {
        win[s].count = totals[s].count - a->prev[s].count;
        win[s].sum = totals[s].sum - a->prev[s].sum;
    }
    int rc = group_by(a, list, pts, totals);
    if (rc == MGOV_OK)
        atomic_fetch_add_explicit(&a->queries, 1, memory_order_relaxed);
    if (rc == MGOV_OK && (rc = order_by(a, list, pts, n, sum)) == MGOV_OK)
        atomic_fetch_add_explicit(&a->queries, 1, memory_order_relaxed);
    if (rc == MGOV_OK && (rc = join(a, list, pts, win, n, sum)) == MGOV_OK)
        atomic_fetch_add_explicit(&a->queries, 1, memory_order_relaxed);
    if (rc == MGOV_OK) {
        atomic_fetch_add_explicit(&a->points, n, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->windows, 1, memory_order_relaxed);
    }
    return rc;
}

static void *analytics_thread(void *arg)
{
    mix_ana_t *a = arg;
    mix_t *m = a->m;
    mix_point_t *pts = mgov_heap_malloc(a->heap, SEG_POINTS * sizeof *pts);
    mix_agg_t *totals = mgov_heap_malloc(a->heap, MIX_SERIES * sizeof *totals);
    mix_agg_t *win = mgov_heap_malloc(a->heap, MIX_SERIES * sizeof *win);
    int rc = pts && totals && win ? MGOV_OK : mgov_heap_last_error(a->heap);
    bool done = false;
    while (rc == MGOV_OK && !done) {
        mix_tsec_t *list = mix_ts_take(&m->ts, 100 * 1000 * 1000, totals, &done);
        if (list && !atomic_load(&m->abandon))
            rc = window(a, list, pts, totals, win);
        for (mix_tsec_t *s = list, *n; s; s = n) {
            n = s->next;
            mix_ts_release(&m->ts, s);
        }
    }
    if (rc != MGOV_OK && !atomic_load(&m->abandon)) {
        mix_fail(m, "analytics: %s", mgov_strerror(rc));
        atomic_store(&m->stop, true); /* the ingest must not wait for it */
    }
    mgov_heap_free(a->heap, pts);
    mgov_heap_free(a->heap, totals);
    mgov_heap_free(a->heap, win);
    return mix_thread_exit(m);
}

int mix_ana_open(mix_ana_t *a, mix_t *m)
{
    a->m = m;
    int rc = mix_heap(m, m->reg[MIX_R_ANA], "ana-heap", &a->heap);
    if (rc != MGOV_OK)
        return rc;
    a->seen = mgov_heap_calloc(a->heap, MIX_SERIES, sizeof *a->seen);
    a->prev = mgov_heap_calloc(a->heap, MIX_SERIES, sizeof *a->prev);
    return a->seen && a->prev ? MGOV_OK : mgov_heap_last_error(a->heap);
}

int mix_ana_start(mix_ana_t *a)
{
    int rc = mix_thread(a->m, &a->thread, analytics_thread, a);
    if (rc != MGOV_OK)
        return rc;
    a->started = true;
    return MGOV_OK;
}

void mix_ana_join(mix_ana_t *a)
{
    if (a->started)
        pthread_join(a->thread, NULL);
    a->started = false;
}

void mix_ana_close(mix_ana_t *a)
{
    if (!a->heap)
        return; /* never opened */
    mgov_heap_free(a->heap, a->seen);
    mgov_heap_free(a->heap, a->prev);
    a->seen = a->prev = NULL;
}
