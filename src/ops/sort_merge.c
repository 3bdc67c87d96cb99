/* ops/sort_merge.c - merging an external sort's runs: a loser tree over
 * run readers, intermediate passes when the runs outnumber the readers the
 * memory allows, and the output pass that feeds mgov_sort_next.
 *
 * Fan-in is found, not guessed: readers charge their buffers to spill
 * staging, so the sort opens readers over its runs until the governor
 * refuses one.  When all runs fit, that is the output pass; otherwise
 * neighbouring runs are merged in groups (one reader fewer, for the
 * writer) until they do.
 *
 * Invariants: a source's rec is NULL once its run is exhausted; ties are
 * won by the lower source index (the earlier run), so merges are stable.
 * In the output pass the winner is moved on only at the next call, so the
 * record returned stays valid until then.
 *
 * Locking: none; the sorting thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/sort_internal.h"
#include "spill/spill_costs.h"
#include "sys/fault.h"

#define EMPTY UINT32_MAX
#define PROGRESS_BYTES ((uint64_t)64 << 20)

/* ----------------------------------------------------------------- sources */

/* A fixed-width record's ordering keys: its first 8 key bytes as an
 * integer, and that in output order for fast merges. */
static inline void fixed_key(const mgov_sort_t *s, mgov_sort_source_t *src)
{
    size_t kl = s->key_size < 8 ? s->key_size : 8;
    src->key = mgov__sort_prefix(src->in.rec + s->key_off, kl);
    src->okey = (s->flags & MGOV_SORT_DESCENDING) ? ~src->key : src->key;
}

static int source_next(mgov_sort_t *s, mgov_sort_source_t *src)
{
    if (src->left == 0) {
        src->in.rec = NULL;
        src->okey = UINT64_MAX;
        src->rank |= UINT32_C(1) << 31;
        return MGOV_OK;
    }
    int rc = mgov__recin_next(&src->in);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return MGOV_ECORRUPT; /* fewer records than the run holds */
    if (s->rec_size)
        fixed_key(s, src);
    else
        src->key = s->cmp ? 0 : mgov__sort_prefix(src->in.rec, src->in.len);
    src->left--;
    return MGOV_OK;
}

/* True when source a's record comes before source b's. */
static inline bool before(const mgov_sort_t *s, const mgov_sort_source_t *src, unsigned a,
                          unsigned b)
{
    const mgov__recin_t *x = &src[a].in, *y = &src[b].in;
    if (!x->rec)
        return false;
    if (!y->rec)
        return true;
    int c;
    if (s->cmp) {
        c = s->cmp(s->cmp_ctx, x->rec, x->len, y->rec, y->len);
    } else if (src[a].key != src[b].key) {
        c = src[a].key < src[b].key ? -1 : 1;
    } else if (s->rec_size) {
        c = s->key_size <= 8 ? 0
                             : memcmp(x->rec + s->key_off + 8, y->rec + s->key_off + 8,
                                      s->key_size - 8);
    } else {
        c = mgov__sort_bytes_cmp(x->rec, x->len, y->rec, y->len);
    }
    if (s->flags & MGOV_SORT_DESCENDING)
        c = -c;
    return c ? c < 0 : a < b;
}

/* Carries source i up the tree: the loser of each match stays, the winner
 * goes on.  During the build an empty node keeps the first arrival. */
static void replay(const mgov_sort_t *s, mgov_sort_merge_t *m, unsigned i)
{
    unsigned w = i;
    for (unsigned t = (i + m->k) / 2; t > 0; t /= 2) {
        if (m->tree[t] == EMPTY) {
            m->tree[t] = w;
            return;
        }
        if (before(s, m->src, m->tree[t], w)) {
            unsigned l = w;
            w = m->tree[t];
            m->tree[t] = l;
        }
    }
    m->tree[0] = w;
}

/* replay() for fast merges: one integer comparison per level, and the
 * rank breaks ties (earlier run first; exhausted sources last). */
static void replay_fast(mgov_sort_merge_t *m, unsigned i)
{
    mgov_sort_source_t *src = m->src;
    unsigned w = i;
    uint64_t wk = src[w].okey;
    for (unsigned t = (i + m->k) / 2; t > 0; t /= 2) {
        unsigned o = m->tree[t];
        uint64_t ok = src[o].okey;
        if (ok < wk || (ok == wk && src[o].rank < src[w].rank)) {
            m->tree[t] = w;
            w = o;
            wk = ok;
        }
    }
    m->tree[0] = w;
}

void mgov__sort_merge_close(mgov_sort_merge_t *m)
{
    for (unsigned i = 0; i < m->k; i++)
        mgov_spill_reader_close(m->src[i].reader);
    free(m->src);
    free(m->tree);
    free(m->carry);
    memset(m, 0, sizeof *m);
}

static bool budget_error(int rc)
{
    return rc == MGOV_EBUDGET || rc == MGOV_ETIMEDOUT || rc == MGOV_ELIMIT;
}

/* Opens readers on runs[0..count) until the governor refuses one; *opened
 * says how many are open (m->k).  Errors other than a refusal close all. */
static int merge_open(const mgov_sort_t *s, mgov_sort_merge_t *m, const mgov_sort_run_t *runs,
                      unsigned count, unsigned *opened)
{
    memset(m, 0, sizeof *m);
    *opened = 0;
    m->src = mgov__calloc(count, sizeof *m->src);
    m->tree = mgov__malloc(count * sizeof *m->tree);
    if (s->rec_size && m->src)
        m->carry = mgov__malloc(count * s->rec_size);
    if (!m->src || !m->tree || (s->rec_size && !m->carry)) {
        mgov__sort_merge_close(m);
        return MGOV_ENOMEM;
    }
    int rc = MGOV_OK;
    for (unsigned i = 0; i < count; i++) {
        /* fail fast: never wait for one reader while holding the others;
         * the gather room for the longest record is taken now, so the pass
         * never needs memory it might not get */
        mgov_spill_reader_config_t rc_cfg = MGOV_SPILL_READER_CONFIG_INIT;
        rc_cfg.gather = s->rec_size ? 0 : s->longest + 8;
        rc = mgov_spill_reader_open(runs[i].file, &rc_cfg, &m->src[i].reader);
        if (rc != MGOV_OK)
            break;
        mgov__recin_init(&m->src[i].in, m->src[i].reader, s->rec_size, s->max_record,
                         s->rec_size ? m->carry + i * s->rec_size : NULL);
        m->k++;
        m->src[i].left = runs[i].records;
    }
    *opened = m->k;
    if (rc != MGOV_OK && !budget_error(rc)) {
        mgov__sort_merge_close(m);
        *opened = 0;
    }
    return rc;
}

/* Reads every source's first record and builds the tree. */
static int merge_start(mgov_sort_t *s, mgov_sort_merge_t *m)
{
    m->fast = s->rec_size && s->key_size <= 8 && !s->cmp;
    for (unsigned i = 0; i < m->k; i++) {
        m->src[i].rank = i;
        int rc = source_next(s, &m->src[i]);
        if (rc != MGOV_OK)
            return rc;
        m->tree[i] = EMPTY;
    }
    for (unsigned i = 0; i < m->k; i++)
        replay(s, m, i);
    m->started = true;
    return MGOV_OK;
}

/* The next record of a merge: 1, 0 at the end, or an error. */
static int merge_pull(mgov_sort_t *s, mgov_sort_merge_t *m, const unsigned char **rec,
                      size_t *len)
{
    if (m->pending_advance) {
        unsigned w = m->tree[0];
        mgov_sort_source_t *src = &m->src[w];
        if (m->fast && src->left > 0 && mgov__recin_step(&src->in)) {
            /* the common step, inline: the next record of the window */
            src->left--;
            fixed_key(s, src);
        } else {
            int rc = source_next(s, src);
            if (rc != MGOV_OK)
                return rc;
        }
        if (m->fast)
            replay_fast(m, w);
        else
            replay(s, m, w);
        m->pending_advance = false;
    }
    const mgov__recin_t *win = &m->src[m->tree[0]].in;
    if (!win->rec)
        return 0;
    *rec = win->rec;
    *len = win->len;
    m->pending_advance = true;
    return 1;
}

/* ------------------------------------------------------------------ passes */

void mgov__sort_runs_destroy(mgov_sort_t *s)
{
    for (unsigned i = 0; i < s->n_runs; i++)
        mgov_spill_file_destroy(s->runs[i].file);
    free(s->runs);
    s->runs = NULL;
    s->n_runs = s->runs_cap = 0;
}

/* Merges runs[0..count) (their readers open in m) into one new run. */
static int merge_group(mgov_sort_t *s, mgov_sort_merge_t *m, mgov_spill_writer_t *w,
                       mgov_sort_run_t *out)
{
    int rc;
    if ((rc = merge_start(s, m)) != MGOV_OK) {
        mgov_spill_writer_abort(w);
        return rc;
    }
    uint64_t records = 0;
    const unsigned char *rec = NULL;
    size_t len = 0;
    while ((rc = merge_pull(s, m, &rec, &len)) > 0) {
        if ((rc = mgov__rec_put(w, s->rec_size, rec, len)) != MGOV_OK)
            break;
        records++;
    }
    if (rc != MGOV_OK) {
        mgov_spill_writer_abort(w);
        return rc;
    }
    mgov_spill_file_t *f;
    if ((rc = mgov_spill_writer_finish(w, &f)) != MGOV_OK)
        return rc;
    *out = (mgov_sort_run_t){ .file = f, .records = records };
    s->st.runs++;
    s->st.spilled_raw += mgov_spill_file_raw_bytes(f);
    s->st.spilled_stored += mgov_spill_file_stored_bytes(f);
    return MGOV_OK;
}

/* One intermediate pass: neighbouring groups of `fan` runs become one run
 * each.  The runs array is rewritten in place, in order. */
static int merge_pass(mgov_sort_t *s, unsigned fan)
{
    unsigned out = 0;
    for (unsigned i = 0; i < s->n_runs;) {
        unsigned count = s->n_runs - i < fan ? s->n_runs - i : fan;
        if (count == 1) {
            s->runs[out++] = s->runs[i++];
            continue;
        }
        /* the writer first: it may wait for memory, holding nothing else */
        mgov_spill_writer_t *w;
        int rc = mgov_spill_writer_create(s->op.dir, &s->op.spill, &w);
        mgov_sort_merge_t m = { 0 };
        unsigned opened = 0;
        if (rc == MGOV_OK) {
            rc = merge_open(s, &m, &s->runs[i], count, &opened);
            if (budget_error(rc) && opened >= 2) {
                count = opened; /* merge the neighbours that fit */
                rc = MGOV_OK;
            }
            if (rc != MGOV_OK) {
                mgov__sort_merge_close(&m);
                mgov_spill_writer_abort(w);
            }
        }
        if (rc == MGOV_OK) {
            mgov_sort_run_t merged;
            rc = merge_group(s, &m, w, &merged);
            mgov__sort_merge_close(&m);
            if (rc == MGOV_OK) {
                for (unsigned j = 0; j < count; j++)
                    mgov_spill_file_destroy(s->runs[i + j].file);
                s->runs[out++] = merged;
                i += count;
                continue;
            }
        }
        /* keep the array whole (runs not yet merged move down) so destroy
         * still finds every file */
        memmove(&s->runs[out], &s->runs[i], (s->n_runs - i) * sizeof *s->runs);
        s->n_runs = out + (s->n_runs - i);
        return rc;
    }
    s->n_runs = out;
    s->st.merge_passes++;
    mgov__sort_progress(s);
    return MGOV_OK;
}

static unsigned passes_for(unsigned runs, unsigned fan, unsigned last_fan)
{
    unsigned p = 1;
    while (runs > last_fan) {
        runs = (runs + fan - 1) / fan;
        p++;
    }
    return p;
}

/* What one run reader may take: its buffers and, for variable records, room
 * to gather the longest record across a block boundary. */
static uint64_t reader_bytes(const mgov_sort_t *s)
{
    uint64_t per = s->op.reader_cost;
    if (!s->rec_size)
        per += mgov__spill_buf_bytes(s->longest + 8);
    return per;
}

/* How many run readers fit in the memory free now, leaving room for a
 * writer when `writing`: each costs its buffers and, for variable records,
 * room to gather the longest record across a block boundary. */
static unsigned fan_in(const mgov_sort_t *s, bool writing)
{
    uint64_t room = mgov__op_free_now(&s->op);
    if (writing)
        room = room > s->op.writer_cost ? room - s->op.writer_cost : 0;
    uint64_t per = reader_bytes(s);
    uint64_t fan = room / (per ? per : 1);
    return fan < 2 ? 2 : fan > UINT32_MAX / 2 ? UINT32_MAX / 2 : (unsigned)fan;
}

int mgov__sort_merge_prepare(mgov_sort_t *s)
{
    int rc = mgov__sort_buffer_spill(s, true);
    if (rc != MGOV_OK)
        return rc;
    mgov__sort_buffer_release(s);
    if (s->n_runs == 0) { /* nothing was pushed: an empty output */
        s->st.phase = MGOV_SORT_PHASE_OUTPUT;
        return MGOV_OK;
    }
    s->st.phase = MGOV_SORT_PHASE_MERGE;
    for (unsigned waits = 0;;) {
        unsigned fan = fan_in(s, false), opened = 0;
        if (fan >= s->n_runs) {
            rc = merge_open(s, &s->merge, s->runs, s->n_runs, &opened);
            if (rc == MGOV_OK) {
                if (!s->st.merge_passes_planned)
                    s->st.merge_passes_planned = s->st.merge_passes + 1;
                s->st.phase = MGOV_SORT_PHASE_OUTPUT;
                s->st.merge_passes++;
                return merge_start(s, &s->merge);
            }
            mgov__sort_merge_close(&s->merge);
            if (!budget_error(rc))
                return rc;
            fan = opened; /* the estimate was too kind: what opened is the measure */
        }
        unsigned wfan = fan_in(s, true);
        if (fan >= 3 && wfan >= fan)
            wfan = fan - 1;
        if (!s->st.merge_passes_planned)
            s->st.merge_passes_planned =
                s->st.merge_passes + passes_for(s->n_runs, wfan, fan > wfan ? fan : wfan + 1);
        rc = merge_pass(s, wfan);
        if (rc == MGOV_OK)
            continue;
        if (!budget_error(rc))
            return rc;
        /* Not even a two-way merge fits now: others hold the memory.  Wait
         * for it holding nothing, so two merging sorts never wait on each
         * other. */
        if (++waits > 100)
            return MGOV_ETIMEDOUT;
        if ((rc = mgov__op_wait_spill_room(&s->op, s->op.writer_cost + 2 * reader_bytes(s))) !=
            MGOV_OK)
            return rc;
    }
}

int mgov__sort_merge_next(mgov_sort_t *s, const unsigned char **rec, size_t *len)
{
    int rc = merge_pull(s, &s->merge, rec, len);
    if (rc > 0) {
        s->progress_bytes += *len;
        if (s->progress_bytes >= PROGRESS_BYTES) {
            s->progress_bytes = 0;
            mgov__sort_progress(s);
        }
    }
    return rc;
}
