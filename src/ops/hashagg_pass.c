/* ops/hashagg_pass.c - how a hash aggregation runs when memory runs out:
 * spilling partitions, the passes over spilled partitions' files, and the
 * sort fallback for a partition that does not shrink when split.
 *
 *   pass (level L over a source)   records -> partitions in RAM
 *     a growth that does not fit   -> the largest partition in RAM is
 *                                     written (partial states) and freed;
 *                                     its later records go to its file
 *   end of the pass                -> each spilled partition's file goes on
 *                                     the stack, for a pass at level L+1
 *   a file that is not smaller     -> aggregated through the external sort
 *   than 9/10 of the one it came      (equal keys meet in order), as is
 *   from, or at the deepest level     any file past MGOV__PART_MAX_LEVELS
 *
 * So every pass either shrinks its partitions (a fresh hash per level
 * spreads distinct keys) or hands them to the sort, which finishes under
 * any budget: the operator always ends.
 *
 * Invariants: a partition is in RAM or has a writer in the pass, never
 * both; a file popped from the stack is destroyed by the pass that reads
 * it, on every path.
 * Locking: none; the operator's thread.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/hashagg_internal.h"
#include "sys/fault.h"

enum { SIDE_HASH, SIDE_SORT };

#define REQUEST_EVERY 4096 /* records between looks at the spill request */

void mgov__ha_progress(mgov_hashagg_t *h)
{
    if (!h->progress)
        return;
    mgov_hashagg_stats_t st;
    mgov_hashagg_stats(h, &st);
    h->progress(h->progress_ctx, &st);
}

static bool budget_error(int rc)
{
    return rc == MGOV_EBUDGET || rc == MGOV_ELIMIT || rc == MGOV_ETIMEDOUT;
}

/* -------------------------------------------------------------- the pass */

/* Writes partition q's groups to its file and frees its memory; its later
 * records go to the file too. */
static int spill_part(mgov_hashagg_t *h, unsigned q)
{
    mgov__op_pass_t *ps = &h->pass;
    mgov__ptab_t *pt = &ps->parts[q];
    int rc = mgov__part_out_begin(&h->pass.out[0], q);
    size_t off = 0;
    for (uint64_t g = 0; g < pt->nrows && rc == MGOV_OK; g++) {
        unsigned char *row = pt->rows.base + off;
        size_t klen;
        const unsigned char *key = mgov__ha_row_key(h, row, &klen);
        rc = mgov__part_put2(&h->pass.out[0], q, key, klen,
                             mgov__ha_row_states(h, row), h->lay.size);
        off += mgov__ha_row_bytes(h, klen);
    }
    if (rc != MGOV_OK)
        return rc;
    mgov__ptab_free(pt);
    h->st.partitions_spilled++;
    mgov__op_spilled(&h->op);
    mgov__ha_progress(h);
    return MGOV_OK;
}

/* A growth for partition p failed: spill the largest partition in RAM, or
 * with none, send p itself to disk (its writer comes from spill staging,
 * which a spill may always use). */
static int make_room(mgov_hashagg_t *h, unsigned p)
{
    int q = mgov__op_pass_largest(&h->pass);
    return spill_part(h, q >= 0 ? (unsigned)q : p);
}

int mgov__ha_spill_largest(mgov_hashagg_t *h)
{
    int q = h->pass.active ? mgov__op_pass_largest(&h->pass) : -1;
    if (q < 0)
        return 0;
    int rc = spill_part(h, (unsigned)q);
    return rc == MGOV_OK ? 1 : rc;
}

int mgov__ha_take_request(mgov_hashagg_t *h)
{
    if (!mgov__op_take_request(&h->op))
        return MGOV_OK;
    int q = mgov__op_pass_largest(&h->pass);
    return q >= 0 ? spill_part(h, (unsigned)q) : MGOV_OK;
}

/* A record of a spilled partition goes to its file as partial states. */
static int write_record(mgov_hashagg_t *h, unsigned p, const void *key, size_t klen,
                        const mgov_value_t *values, const unsigned char *states)
{
    if (!states) {
        mgov__agg_init(&h->lay, h->tmp, values);
        states = h->tmp;
    }
    return mgov__part_put2(&h->pass.out[0], p, key, klen, states, h->lay.size);
}

int mgov__ha_absorb(mgov_hashagg_t *h, const void *key, size_t klen, uint64_t hv,
                    const mgov_value_t *values, const unsigned char *states)
{
    mgov__op_pass_t *ps = &h->pass;
    unsigned p = mgov__part_of(hv, ps->bits);
    for (;;) {
        if (mgov__part_out_open(&h->pass.out[0], p))
            return write_record(h, p, key, klen, values, states);
        unsigned char *row;
        bool fresh;
        int rc = mgov__ha_find_or_add(h, &ps->parts[p], hv, key, klen, &row, &fresh);
        if (rc == MGOV_OK) {
            unsigned char *st = mgov__ha_row_states(h, row);
            if (states) {
                if (fresh)
                    memcpy(st, states, h->lay.size);
                else
                    mgov__agg_merge(&h->lay, st, states);
            } else if (fresh) {
                mgov__agg_init(&h->lay, st, values);
            } else {
                mgov__agg_update(&h->lay, st, values);
            }
            return MGOV_OK;
        }
        if (!budget_error(rc))
            return rc;
        if ((rc = make_room(h, p)) != MGOV_OK)
            return rc;
    }
}

int mgov__ha_pass_end(mgov_hashagg_t *h)
{
    mgov__op_pass_t *ps = &h->pass;
    int rc = MGOV_OK;
    for (unsigned p = 0; p < ps->n && rc == MGOV_OK; p++) {
        mgov__part_file_t f;
        if ((rc = mgov__part_finish(&h->pass.out[0], p, &f)) != MGOV_OK || !f.file)
            continue;
        f.level = ps->level + 1;
        f.parent_bytes = ps->in_bytes;
        /* splitting did not shrink it (every key alike), or it went too
         * deep: the sort finishes it */
        bool stuck = mgov__op_pass_stuck(ps, f.bytes);
        f.side = stuck || f.level >= MGOV__PART_MAX_LEVELS ? SIDE_SORT : SIDE_HASH;
        h->st.files++;
        h->st.spilled_raw += mgov_spill_file_raw_bytes(f.file);
        h->st.spilled_stored += mgov_spill_file_stored_bytes(f.file);
        if ((rc = mgov__part_stack_push(&h->todo, &f)) != MGOV_OK)
            mgov_spill_file_destroy(f.file);
    }
    mgov__part_out_free(&h->pass.out[0]); /* the rest (after an error) is removed */
    return rc;
}

/* ------------------------------------------------------ a spilled file */

/* The key and the (copied, aligned) states of a partial-state record. */
static int split_record(mgov_hashagg_t *h, const unsigned char *rec, size_t len, size_t *klen)
{
    if (len < h->lay.size || (!h->key_size && len - h->lay.size > h->max_key))
        return MGOV_ECORRUPT;
    *klen = len - h->lay.size;
    if (h->lay.size)
        memcpy(h->tmp, rec + *klen, h->lay.size);
    return MGOV_OK;
}

/* Fixed keys: records gathered a batch at a time, laid out as rows (the
 * states 8-aligned), aggregated as the input is. */
static int read_fixed(mgov_hashagg_t *h, mgov__recin_t *in)
{
    for (;;) {
        int rc = mgov__ha_take_request(h);
        if (rc != MGOV_OK)
            return rc;
        unsigned n = 0;
        int more = 1;
        while (n < MGOV__HA_BATCH && (more = mgov__recin_next(in)) > 0) {
            unsigned char *row = h->stage + (size_t)n++ * h->row_size;
            memcpy(row, in->rec, h->key_size);
            if (h->lay.size)
                memcpy(row + h->state_off, in->rec + h->key_size, h->lay.size);
        }
        if (more < 0)
            return more;
        if (n && (rc = mgov__ha_absorb_batch(h, h->stage, h->row_size, h->stage + h->state_off,
                                             h->row_size, true, n)) != MGOV_OK)
            return rc;
        if (more == 0)
            return MGOV_OK;
    }
}

static int read_file(mgov_hashagg_t *h, const mgov__part_file_t *f)
{
    mgov_spill_reader_t *r;
    int rc = mgov_spill_reader_open(f->file, NULL, &r);
    if (rc != MGOV_OK)
        return rc;
    mgov__recin_t in;
    mgov__recin_init(&in, r, h->rec_fixed, h->max_key + h->lay.size, h->carry);
    if (h->key_size) {
        rc = read_fixed(h, &in);
        mgov_spill_reader_close(r);
        return rc;
    }
    for (uint64_t n = 0;; n++) {
        if (n % REQUEST_EVERY == 0 && (rc = mgov__ha_take_request(h)) != MGOV_OK)
            break;
        if ((rc = mgov__recin_next(&in)) <= 0)
            break;
        size_t klen;
        if ((rc = split_record(h, in.rec, in.len, &klen)) != MGOV_OK)
            break;
        uint64_t hv = mgov__part_hash(in.rec, klen, h->pass.level, h->const_hash);
        if ((rc = mgov__ha_absorb(h, in.rec, klen, hv, NULL, h->tmp)) != MGOV_OK)
            break;
    }
    mgov_spill_reader_close(r);
    return rc;
}

/* Orders variable-length partial-state records by their keys only. */
static int key_cmp(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
    const mgov_hashagg_t *h = ctx;
    size_t ka = alen - h->lay.size, kb = blen - h->lay.size, n = ka < kb ? ka : kb;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (ka > kb) - (ka < kb);
}

static int sort_begin(mgov_hashagg_t *h, mgov__part_file_t *f)
{
    mgov_sort_config_t sc = MGOV_SORT_CONFIG_INIT;
    sc.gov = h->op.gov;
    sc.region = mgov_region_name(h->op.gov, h->op.region);
    sc.record_size = h->rec_fixed;
    sc.key_size = h->key_size;
    sc.cmp = h->key_size ? NULL : key_cmp;
    sc.cmp_ctx = h;
    sc.max_record = h->key_size ? 0 : h->max_key + h->lay.size;
    sc.max_memory = h->op.max_memory;
    sc.timeout_ns = h->op.timeout_ns;
    sc.spill_dir = h->op.dir;
    sc.spill = h->op.spill;
    int rc = mgov_sort_create(&sc, &h->sort);
    mgov_spill_reader_t *r = NULL;
    if (rc == MGOV_OK)
        rc = mgov_spill_reader_open(f->file, NULL, &r);
    if (rc == MGOV_OK) {
        mgov__recin_t in;
        mgov__recin_init(&in, r, h->rec_fixed, h->max_key + h->lay.size, h->carry);
        while ((rc = mgov__recin_next(&in)) > 0) {
            if (in.len < h->lay.size) {
                rc = MGOV_ECORRUPT;
                break;
            }
            if ((rc = mgov_sort_push(h->sort, in.rec, in.len)) != MGOV_OK)
                break;
        }
        mgov_spill_reader_close(r);
    }
    mgov_spill_file_destroy(f->file);
    if (rc == MGOV_OK)
        rc = mgov_sort_finish(h->sort);
    h->st.sort_fallbacks++;
    h->have_cur = h->have_pend = h->sort_done = false;
    return rc;
}

int mgov__ha_next_file(mgov_hashagg_t *h)
{
    mgov__part_file_t f;
    if (!mgov__part_stack_pop(&h->todo, &f))
        return 0;
    int rc;
    if (f.side == SIDE_SORT) {
        if ((rc = sort_begin(h, &f)) != MGOV_OK)
            return rc;
        h->out = HA_OUT_SORT;
        return 1;
    }
    /* its groups' rows, slots (up to 8/3 of 8 bytes a group), padding */
    uint64_t est = f.bytes + f.records * 30;
    rc = mgov__op_pass_begin(&h->op, &h->pass, f.level, f.bytes,
                             mgov__op_pass_width(&h->pass, &f, est, h->limit / 4 * 3));
    if (rc == MGOV_OK)
        rc = read_file(h, &f);
    mgov_spill_file_destroy(f.file);
    if (rc == MGOV_OK)
        rc = mgov__ha_pass_end(h);
    if (rc != MGOV_OK)
        return rc;
    mgov__ha_progress(h);
    h->out = HA_OUT_MEM;
    h->out_part = 0;
    h->out_row = 0;
    h->out_off = 0;
    return 1;
}

/* ------------------------------------------------------- the sort's output */

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Makes the group being assembled the record's (key padded, states). */
static int cur_set(mgov_hashagg_t *h, const unsigned char *rec, size_t len)
{
    size_t klen = len - h->lay.size, need = round8(klen) + h->lay.size;
    int rc = mgov__op_grow(&h->op, &h->cur, need ? need : 1, need, 0, 0);
    if (rc != MGOV_OK)
        return rc;
    if (klen)
        memcpy(h->cur.base, rec, klen);
    if (h->lay.size)
        memcpy(h->cur.base + round8(klen), rec + klen, h->lay.size);
    h->cur_klen = klen;
    h->have_cur = true;
    return MGOV_OK;
}

static void cur_emit(mgov_hashagg_t *h, mgov_hashagg_group_t *g)
{
    g->key = h->cur_klen ? h->cur.base : NULL;
    g->key_len = h->cur_klen;
    g->overflow = mgov__agg_finalize(&h->lay, h->cur.base + round8(h->cur_klen), h->results);
    g->values = h->results;
    h->have_cur = false;
}

int mgov__ha_sort_next(mgov_hashagg_t *h, mgov_hashagg_group_t *g)
{
    for (;;) {
        int rc;
        if (h->have_pend) { /* the record that ended the group returned last */
            h->have_pend = false;
            if ((rc = cur_set(h, h->pend.base, h->pend_len)) != MGOV_OK)
                return rc;
        }
        if (h->sort_done) {
            if (!h->have_cur)
                return 0;
            cur_emit(h, g);
            return 1;
        }
        const void *p;
        size_t len;
        if ((rc = mgov_sort_next(h->sort, &p, &len)) < 0)
            return rc;
        if (rc == 0) {
            h->sort_done = true;
            continue;
        }
        const unsigned char *rec = p;
        size_t klen = len - h->lay.size;
        if (!h->have_cur) {
            if ((rc = cur_set(h, rec, len)) != MGOV_OK)
                return rc;
            continue;
        }
        if (klen == h->cur_klen && (klen == 0 || memcmp(rec, h->cur.base, klen) == 0)) {
            if (h->lay.size) {
                memcpy(h->tmp, rec + klen, h->lay.size);
                mgov__agg_merge(&h->lay, h->cur.base + round8(klen), h->tmp);
            }
            continue;
        }
        /* a new key: keep its record for the next call, return the group */
        if ((rc = mgov__op_grow(&h->op, &h->pend, len ? len : 1, len, 0, 0)) != MGOV_OK)
            return rc;
        if (len)
            memcpy(h->pend.base, rec, len);
        h->pend_len = len;
        h->have_pend = true;
        cur_emit(h, g);
        return 1;
    }
}
