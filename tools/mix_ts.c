/* mix_ts.c - the demo's time-series ingest.
 *
 * One thread makes points (mix_seg.c's stream) into buffers from a buffer
 * pool charged to the timeseries region, seals each full buffer into a
 * compressed segment and appends it to the open section; a section that
 * reaches sec_bytes is handed to analytics (the ready list) and a new one
 * opened.  Sections are tiered: under pressure the governor spills them.
 * Nothing is ever dropped: when a buffer, an append or the backlog must
 * wait, the ingest waits (and counts it).
 *
 * Invariants: `sealed` (and sealed_points, sealed_sum) add up exactly the
 * points of every section handed over, so what analytics took so far, plus
 * the list it takes, is what these totals say.  A point counts as ingested
 * once its segment is appended.
 * Locking: mu guards the ready list, backlog, sealed totals and done; it is
 * never held across a governor call (heap, pool, section).
 */
#include <string.h>
#include <time.h>

#include "mix.h"

#define TS_BUFFER ((size_t)64 << 10)
#define TS_BACKLOG_MAX ((uint64_t)48 << 20)

int mix_ts_open(mix_ts_t *t, mix_t *m)
{
    t->m = m;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    int rc = mix_heap(m, m->reg[MIX_R_TS], "ts-heap", &t->heap);
    if (rc != MGOV_OK)
        return rc;
    mgov_bufpool_config_t pc = MGOV_BUFPOOL_CONFIG_INIT;
    pc.buffer_size = TS_BUFFER;
    pc.max_memory = 4 * TS_BUFFER;
    pc.gov = m->gov;
    pc.region = mgov_region_name(m->gov, m->reg[MIX_R_TS]);
    pc.name = "ts-buffers";
    if ((rc = mgov_bufpool_create(&pc, &t->pool)) != MGOV_OK)
        return rc;
    t->points_per_buf = TS_BUFFER / sizeof(mix_point_t);
    uint64_t lim = m->limit[MIX_R_TS];
    t->sec_bytes = lim / 8 < (256u << 10)  ? (256u << 10)
                   : lim / 8 > (4u << 20) ? (4u << 20)
                                          : lim / 8;
    /* more than the region holds, so sealed sections spill, and windows
     * that fill analytics' region; at most what analytics drains in a few
     * seconds, so the last window at the end is short */
    t->backlog_cap = lim + lim / 2 < TS_BACKLOG_MAX ? lim + lim / 2 : TS_BACKLOG_MAX;
    t->sealed = mgov_heap_calloc(t->heap, MIX_SERIES, sizeof *t->sealed);
    return t->sealed ? MGOV_OK : mgov_heap_last_error(t->heap);
}

static void agg_add(mix_agg_t *a, int64_t v)
{
    if (a->count == 0 || v < a->min)
        a->min = v;
    if (a->count == 0 || v > a->max)
        a->max = v;
    a->count++;
    a->sum += v;
}

static void agg_merge(mix_agg_t *into, const mix_agg_t *from)
{
    if (from->count == 0)
        return;
    if (into->count == 0 || from->min < into->min)
        into->min = from->min;
    if (into->count == 0 || from->max > into->max)
        into->max = from->max;
    into->count += from->count;
    into->sum += from->sum;
}

/* The state of the section being filled. */
typedef struct ts_open {
    mix_tsec_t *s;
    mix_agg_t *cur; /* [MIX_SERIES] */
} ts_open_t;

static int open_section(mix_ts_t *t, ts_open_t *o)
{
    mix_tsec_t *s = mgov_heap_calloc(t->heap, 1, sizeof *s);
    if (!s)
        return mgov_heap_last_error(t->heap);
    snprintf(s->name, sizeof s->name, "ts-%06u", t->sec_no++);
    mgov_section_config_t sc = MGOV_SECTION_CONFIG_INIT;
    sc.region = mgov_region_name(t->m->gov, t->m->reg[MIX_R_TS]);
    sc.priority = MGOV_PRIORITY_IDLE_TRANSACTION; /* sealed data: spilled after the index */
    sc.pin_wait_ns = 0;
    sc.timeout_ns = MIX_WAIT_NS;
    int rc = mgov_section_open(t->m->gov, s->name, &sc, &s->sec);
    if (rc != MGOV_OK) {
        mgov_heap_free(t->heap, s);
        return rc;
    }
    o->s = s;
    memset(o->cur, 0, MIX_SERIES * sizeof *o->cur);
    return MGOV_OK;
}

/* Hands the open section to analytics, its totals into `sealed`. */
static void hand_over(mix_ts_t *t, ts_open_t *o)
{
    mix_tsec_t *s = o->s;
    o->s = NULL;
    s->bytes = mgov_section_length(s->sec);
    pthread_mutex_lock(&t->mu);
    for (unsigned i = 0; i < MIX_SERIES; i++)
        agg_merge(&t->sealed[i], &o->cur[i]);
    t->sealed_points += s->points;
    t->sealed_sum += s->sum;
    if (t->ready_tail)
        t->ready_tail->next = s;
    else
        t->ready_head = s;
    t->ready_tail = s;
    t->backlog += s->bytes;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
}

/* Waits while analytics is behind by more than backlog_cap. */
static void wait_backlog(mix_ts_t *t)
{
    pthread_mutex_lock(&t->mu);
    bool counted = false;
    while (t->backlog > t->backlog_cap && !atomic_load(&t->m->stop)) {
        if (!counted)
            atomic_fetch_add_explicit(&t->backlog_waits, 1, memory_order_relaxed);
        counted = true;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&t->cond, &t->mu, &ts);
    }
    pthread_mutex_unlock(&t->mu);
}

/* One buffer of points, sealed into a segment of the open section.  On
 * failure nothing was counted. */
static int ingest_buffer(mix_ts_t *t, ts_open_t *o, uint64_t first, uint8_t *scratch)
{
    mgov_bufs_t *b = NULL;
    int rc;
    while ((rc = mgov_bufpool_alloc(t->pool, 1, MIX_WAIT_NS, &b)) == MGOV_ETIMEDOUT ||
           rc == MGOV_EBUDGET) {
        atomic_fetch_add_explicit(&t->buf_waits, 1, memory_order_relaxed);
        if (atomic_load(&t->m->stop))
            return MGOV_ECANCELED; /* no point was made yet: none is lost */
    }
    if (rc != MGOV_OK)
        return rc;
    mix_point_t *pts = mgov_bufs_data(b);
    size_t n = t->points_per_buf;
    for (size_t i = 0; i < n; i++)
        mix_point_make(first + i, &pts[i]);
    size_t len = mix_seg_encode(pts, n, scratch);
    /* the points exist now: wait as long as it takes, stopping or not */
    while ((rc = mgov_section_append(o->s->sec, scratch, len)) == MGOV_ETIMEDOUT ||
           rc == MGOV_EBUDGET || rc == MGOV_EBUSY)
        atomic_fetch_add_explicit(&t->append_waits, 1, memory_order_relaxed);
    if (rc == MGOV_OK) {
        for (size_t i = 0; i < n; i++) {
            agg_add(&o->cur[pts[i].series], pts[i].value);
            o->s->sum += pts[i].value;
        }
        o->s->points += n;
        atomic_fetch_add_explicit(&t->points, n, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->segments, 1, memory_order_relaxed);
    }
    mgov_bufs_release(b);
    return rc;
}

static void *ingest_thread(void *arg)
{
    mix_ts_t *t = arg;
    ts_open_t o = { NULL, NULL };
    uint8_t *scratch = mgov_heap_malloc(t->heap, mix_seg_bound(t->points_per_buf));
    o.cur = mgov_heap_malloc(t->heap, MIX_SERIES * sizeof *o.cur);
    int rc = scratch && o.cur ? MGOV_OK : mgov_heap_last_error(t->heap);
    for (uint64_t next = 0; rc == MGOV_OK && !atomic_load(&t->m->stop);) {
        wait_backlog(t);
        if (!o.s && (rc = open_section(t, &o)) != MGOV_OK)
            break;
        if ((rc = ingest_buffer(t, &o, next, scratch)) != MGOV_OK)
            break;
        next += t->points_per_buf;
        if (mgov_section_length(o.s->sec) >= t->sec_bytes)
            hand_over(t, &o);
    }
    if (rc != MGOV_OK && rc != MGOV_ECANCELED)
        mix_fail(t->m, "time-series ingest: %s", mgov_strerror(rc));
    if (o.s)
        hand_over(t, &o); /* what it holds is counted: analytics must see it */
    mgov_heap_free(t->heap, scratch);
    mgov_heap_free(t->heap, o.cur);
    pthread_mutex_lock(&t->mu);
    t->done = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    return mix_thread_exit(t->m);
}

int mix_ts_start(mix_ts_t *t)
{
    int rc = mix_thread(t->m, &t->thread, ingest_thread, t);
    if (rc != MGOV_OK)
        return rc;
    t->started = true;
    return MGOV_OK;
}

void mix_ts_join(mix_ts_t *t)
{
    if (t->started)
        pthread_join(t->thread, NULL);
    t->started = false;
}

mix_tsec_t *mix_ts_take(mix_ts_t *t, int64_t wait_ns, mix_agg_t *totals, bool *done)
{
    pthread_mutex_lock(&t->mu);
    if (!t->ready_head && !t->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)wait_ns;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&t->cond, &t->mu, &ts);
    }
    mix_tsec_t *list = t->ready_head;
    t->ready_head = t->ready_tail = NULL;
    memcpy(totals, t->sealed, MIX_SERIES * sizeof *totals);
    *done = t->done && !list;
    pthread_mutex_unlock(&t->mu);
    return list;
}

void mix_ts_release(mix_ts_t *t, mix_tsec_t *s)
{
    int rc = mgov_section_close(s->sec);
    if (rc != MGOV_OK)
        mix_fail(t->m, "closing section %s: %s", s->name, mgov_strerror(rc));
    rc = mgov_section_remove(t->m->gov, s->name);
    if (rc != MGOV_OK && rc != MGOV_ENOTFOUND)
        mix_fail(t->m, "removing section %s: %s", s->name, mgov_strerror(rc));
    pthread_mutex_lock(&t->mu);
    t->backlog -= s->bytes;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    mgov_heap_free(t->heap, s);
}

void mix_ts_close(mix_ts_t *t)
{
    mix_agg_t *tmp = NULL;
    bool done;
    if (t->sealed) {
        tmp = mgov_heap_malloc(t->heap, MIX_SERIES * sizeof *tmp);
        /* sections analytics never took (it failed): close and remove them */
        for (mix_tsec_t *s = tmp ? mix_ts_take(t, 0, tmp, &done) : NULL, *n; s; s = n) {
            n = s->next;
            mix_ts_release(t, s);
        }
        mgov_heap_free(t->heap, tmp);
        mgov_heap_free(t->heap, t->sealed);
        t->sealed = NULL;
    }
    if (t->pool) {
        int rc = mgov_bufpool_destroy(t->pool, MIX_WAIT_NS);
        if (rc != MGOV_OK)
            mix_fail(t->m, "destroying the ingest's buffer pool: %s", mgov_strerror(rc));
        t->pool = NULL;
    }
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mu);
}
