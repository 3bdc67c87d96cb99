/* ops/sort_buffer.c - the records an external sort holds in RAM, and the
 * runs it writes when they must leave (layout in ops/sort_internal.h).
 *
 * Invariants: each buffer's need for the records in RAM (and the scratch to
 * sort them) is within its cap at every return; a buffer's pages beyond its
 * cap are not resident.  A run is added to s->runs only once its file is
 * complete.
 *
 * Locking: none; the sorting thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/sort_internal.h"
#include "sys/fault.h"
#include "sys/sys.h"

#define AREA_MAX ((size_t)1 << 40)
#define AREA_MIN ((size_t)1 << 20)

static size_t round_up(uint64_t v, uint64_t to)
{
    return (size_t)((v + to - 1) / to * to);
}

/* What each record buffer needs for n records holding `data` bytes of
 * (len, bytes) records: need[0] data, need[1] aux, need[2] aux2. */
static void needs_of(const mgov_sort_t *s, uint64_t n, uint64_t data, uint64_t need[3])
{
    if (s->rec_size) {
        need[0] = need[1] = n * s->rec_size;
        need[2] = 0;
    } else {
        need[0] = data;
        need[1] = need[2] = n * sizeof(mgov__sort_entry_t);
    }
}

uint64_t mgov__sort_buffer_need(const mgov_sort_t *s, uint64_t n, uint64_t data)
{
    uint64_t need[3];
    needs_of(s, n, data, need);
    return need[0] + need[1] + need[2];
}

static mgov__gbuf_t *buf(mgov_sort_t *s, int i)
{
    return i == 0 ? &s->data : i == 1 ? &s->aux : &s->aux2;
}

static mgov__sort_entry_t *entries(const mgov_sort_t *s)
{
    return (mgov__sort_entry_t *)s->aux.base;
}

int mgov__sort_buffer_init(mgov_sort_t *s)
{
    size_t area = s->op.mem > AREA_MAX ? AREA_MAX : mgov__page_round(s->op.mem);
    if (area < AREA_MIN)
        area = AREA_MIN;
    int bufs = s->rec_size ? 2 : 3;
    /* address space only: pages become resident as records arrive.  A
     * system that refuses that much (strict overcommit) gets smaller areas */
    for (;;) {
        int rc = MGOV_OK;
        for (int i = 0; i < bufs && rc == MGOV_OK; i++)
            rc = mgov__op_buf_init(&s->op, buf(s, i), area);
        if (rc == MGOV_OK)
            break;
        mgov__sort_buffer_free(s);
        if (area <= AREA_MIN)
            return MGOV_ENOMEM;
        area = mgov__page_round(area / 2);
    }
    s->area = area;
    return mgov__op_buf_init(&s->op, &s->last, 0); /* movable: maps nothing yet */
}

void mgov__sort_buffer_free(mgov_sort_t *s)
{
    for (int i = 0; i < 3; i++)
        mgov__gbuf_free(buf(s, i));
}

void mgov__sort_buffer_release(mgov_sort_t *s)
{
    for (int i = 0; i < 3; i++)
        mgov__gbuf_shrink(buf(s, i), 0);
    s->n = 0;
    s->data_used = 0;
}

/* Sorts the records in RAM; returns where they are, in order. */
static void sort_now(mgov_sort_t *s, const unsigned char **fixed, const mgov__sort_entry_t **ent)
{
    bool desc = s->flags & MGOV_SORT_DESCENDING;
    if (s->rec_size) {
        *fixed = mgov__sort_fixed(s->data.base, s->aux.base, (size_t)s->n, s->rec_size,
                                  s->key_off, s->key_size, desc);
        *ent = NULL;
    } else {
        mgov__sort_entry_t *scratch = (mgov__sort_entry_t *)s->aux2.base;
        *fixed = NULL;
        *ent = s->cmp ? mgov__sort_entries_cmp(entries(s), scratch, (size_t)s->n, s->cmp,
                                               s->cmp_ctx, desc)
                      : mgov__sort_entries_bytes(entries(s), scratch, (size_t)s->n, desc);
    }
}

void mgov__sort_buffer_sort_in_place(mgov_sort_t *s)
{
    sort_now(s, &s->out_fixed, &s->out_entries);
    s->out_pos = 0;
}

/* Writes the sorted records (dropping repeats under MGOV_SORT_UNIQUE). */
static int write_sorted(mgov_sort_t *s, mgov_spill_writer_t *w, const unsigned char *fixed,
                        const mgov__sort_entry_t *ent, uint64_t *written)
{
    bool unique = s->flags & MGOV_SORT_UNIQUE;
    uint64_t n = s->n, out = 0;
    int rc = MGOV_OK;
    if (s->rec_size) {
        size_t rs = s->rec_size;
        if (!unique) {
            *written = n;
            return mgov_spill_write(w, fixed, (size_t)n * rs);
        }
        /* keep the first record of each group of equal ones, writing
         * the kept records in contiguous segments */
        uint64_t seg = 0;
        for (uint64_t i = 1; i < n && rc == MGOV_OK; i++) {
            if (mgov__sort_compare(s, fixed + (i - 1) * rs, rs, fixed + i * rs, rs))
                continue;
            rc = mgov_spill_write(w, fixed + seg * rs, (size_t)(i - seg) * rs);
            out += i - seg;
            seg = i + 1;
        }
        if (rc == MGOV_OK && seg < n) {
            rc = mgov_spill_write(w, fixed + seg * rs, (size_t)(n - seg) * rs);
            out += n - seg;
        }
        *written = out;
        return rc;
    }
    for (uint64_t i = 0; i < n && rc == MGOV_OK; i++) {
        /* sorted entries point all over the data: fetch ahead of the copy */
        if (i + 16 < n)
            __builtin_prefetch(ent[i + 16].rec);
        const unsigned char *d = mgov__sort_rec_data(ent[i].rec);
        size_t len = mgov__sort_rec_len(ent[i].rec);
        if (unique && i > 0) {
            const unsigned char *p = ent[i - 1].rec;
            if (mgov__sort_compare(s, mgov__sort_rec_data(p), mgov__sort_rec_len(p), d, len) == 0)
                continue;
        }
        rc = mgov__rec_put(w, 0, d, len);
        out++;
    }
    *written = out;
    return rc;
}

/* Gives back the buffer that does not hold the sorted result (the radix
 * scratch, or the other entry array): its pages and its grant. */
static void drop_scratch(mgov_sort_t *s, const void *result)
{
    if (s->rec_size)
        mgov__gbuf_shrink(result == (const void *)s->data.base ? &s->aux : &s->data, 0);
    else
        mgov__gbuf_shrink(result == (const void *)s->aux.base ? &s->aux2 : &s->aux, 0);
}

static bool budget_error(int rc)
{
    return rc == MGOV_EBUDGET || rc == MGOV_ETIMEDOUT;
}

/* A run cut while pushing: the stats that show runs are full (a run cut
 * twice for one request would show as a tiny one). */
static void note_input_run(mgov_sort_stats_t *st, uint64_t raw)
{
    if (!st->input_runs++ || raw < st->input_run_min)
        st->input_run_min = raw;
    if (raw > st->input_run_max)
        st->input_run_max = raw;
}

int mgov__sort_buffer_spill(mgov_sort_t *s, bool release)
{
    if (s->n == 0) {
        if (release)
            mgov__sort_buffer_release(s);
        return MGOV_OK;
    }
    int rc = mgov__array_room(&s->runs, s->n_runs, &s->runs_cap, sizeof *s->runs, 16);
    if (rc != MGOV_OK)
        return rc;
    const unsigned char *fixed;
    const mgov__sort_entry_t *ent;
    sort_now(s, &fixed, &ent);

    mgov_spill_writer_t *w;
    rc = mgov__op_writer_create(&s->op, &w);
    if (budget_error(rc)) {
        /* The writer's buffers come from spill staging's headroom; when
         * that is taken, the sort scratch (no longer needed) makes room. */
        drop_scratch(s, fixed ? (const void *)fixed : (const void *)ent);
        rc = mgov__op_writer_create(&s->op, &w);
    }
    if (rc != MGOV_OK)
        return rc;
    uint64_t written = 0;
    rc = write_sorted(s, w, fixed, ent, &written);
    mgov_spill_file_t *f = NULL;
    if (rc == MGOV_OK)
        rc = mgov_spill_writer_finish(w, &f);
    else
        mgov_spill_writer_abort(w);
    if (rc != MGOV_OK)
        return rc;
    s->runs[s->n_runs++] = (mgov_sort_run_t){ .file = f, .records = written };
    s->st.runs++;
    s->st.spilled_raw += mgov_spill_file_raw_bytes(f);
    s->st.spilled_stored += mgov_spill_file_stored_bytes(f);
    if (!s->finished)
        note_input_run(&s->st, mgov_spill_file_raw_bytes(f));
    s->n = 0;
    s->data_used = 0;
    mgov__op_spilled(&s->op); /* a run asked for by our own growth is written */
    if (release)
        mgov__sort_buffer_release(s);
    mgov__sort_progress(s);
    return MGOV_OK;
}

/* Waits (FIFO, the sort's timeout) for `need` bytes over the buffers,
 * holding none: one grant for all of them, then spread. */
static int wait_for(mgov_sort_t *s, const uint64_t need[3])
{
    uint64_t total = 0;
    for (int i = 0; i < 3; i++)
        total += mgov__page_round(need[i]);
    mgov_grant_t g = MGOV_GRANT_INIT;
    int rc = mgov__op_reserve_wait(&s->op, total, &g);
    for (int i = 0; i < 3 && rc == MGOV_OK; i++)
        rc = mgov__gbuf_grow_from(buf(s, i), need[i], &g);
    mgov_grant_release(&g); /* what page rounding left over, or all on error */
    return rc;
}

/* Grows every buffer to its need, by steps where the budget allows. */
static int grow(mgov_sort_t *s, const uint64_t need[3])
{
    int bufs = s->rec_size ? 2 : 3;
    for (int i = 0; i < bufs; i++) {
        mgov__gbuf_t *b = buf(s, i);
        if (need[i] <= b->cap)
            continue;
        uint64_t want = round_up(need[i], s->step / (uint64_t)bufs);
        if (want > s->area)
            want = s->area;
        int rc = mgov__op_grow(&s->op, b, (size_t)need[i], (size_t)want, 0, 0);
        if (rc != MGOV_OK)
            return rc;
    }
    return MGOV_OK;
}

/* Makes room for one more record of `bytes` (framing included): grows the
 * buffers, or writes a run when they cannot grow. */
static int make_room(mgov_sort_t *s, size_t bytes)
{
    for (int round = 0;; round++) {
        uint64_t need[3];
        needs_of(s, s->n + 1, s->data_used + bytes, need);
        if (need[0] <= s->data.cap && need[1] <= s->aux.cap && need[2] <= s->aux2.cap)
            return MGOV_OK;
        /* the buffers stop where a run writer would no longer fit beside them */
        uint64_t budget = mgov_budget(s->op.gov);
        uint64_t cap = budget > s->op.writer_cost ? budget - s->op.writer_cost : 0;
        if (s->op.max_memory && s->op.max_memory < cap)
            cap = s->op.max_memory;
        cap = cap > s->last.cap ? cap - s->last.cap : 0;
        bool full = need[0] + need[1] + need[2] > cap || need[0] > s->area ||
                    need[1] > s->area || need[2] > s->area;
        int rc = full ? MGOV_ELIMIT : grow(s, need);
        if (rc == MGOV_OK)
            continue;
        /* The buffers cannot grow: the records in RAM become a run.  With
         * nothing in RAM, others hold the budget (the failed grow asked
         * them to spill): wait for what they give back. */
        if (s->n == 0 && rc == MGOV_EBUDGET && !full) {
            /* holding nothing while waiting: two waiting sorts must not
             * each keep part of what the other needs */
            mgov__sort_buffer_release(s);
            if ((rc = wait_for(s, need)) != MGOV_OK)
                return rc;
            continue;
        }
        if (s->n == 0 || round > 0)
            return rc == MGOV_OK ? MGOV_ELIMIT : rc;
        if ((rc = mgov__sort_buffer_spill(s, false)) != MGOV_OK)
            return rc;
    }
}

int mgov__sort_buffer_push(mgov_sort_t *s, const void *rec, size_t len)
{
    int asked = mgov__op_take_request(&s->op);
    if (asked) {
        int rc = mgov__sort_buffer_spill(s, asked == MGOV__OP_ASKED_MEMORY);
        if (rc != MGOV_OK)
            return rc;
    }
    size_t bytes = s->rec_size ? len : sizeof(uint32_t) + len;
    int rc = make_room(s, bytes);
    if (rc != MGOV_OK)
        return rc;
    if (s->rec_size) {
        memcpy(s->data.base + s->n * s->rec_size, rec, len);
    } else {
        unsigned char *p = s->data.base + s->data_used;
        uint32_t l32 = (uint32_t)len;
        memcpy(p, &l32, sizeof l32);
        if (len)
            memcpy(p + sizeof l32, rec, len);
        entries(s)[s->n] = (mgov__sort_entry_t){ len ? mgov__sort_prefix(rec, len) : 0, p };
        s->data_used += bytes;
    }
    s->n++;
    return MGOV_OK;
}
