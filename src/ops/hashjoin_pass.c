/* ops/hashjoin_pass.c - how a hash join runs when memory runs out: spilling
 * build partitions, joining probe rows, passes over spilled partition
 * pairs, and the chunked join of a pair that does not shrink when split.
 *
 *   pass (level L): build rows -> partitions in RAM
 *     a growth that does not fit  -> the largest partition in RAM is
 *                                    written to its build file and freed;
 *                                    its later build rows, and all its
 *                                    probe rows, go to its files
 *   a spill asked while probing   -> the same (the build rows keep their
 *                                    matched bits in their records)
 *   end of the pass               -> each spilled partition's pair of files
 *                                    goes on the stack for a pass at L+1
 *   a build file not smaller than -> joined in chunks: as much of it as
 *   9/10 of its parent's, or at      fits is loaded, the whole probe file
 *   the deepest level                streams past it, again until it is
 *                                    all loaded; a probe row's matched bit
 *                                    travels in its record from one chunk's
 *                                    probe file to the next (outer, semi
 *                                    and anti joins need the whole answer
 *                                    before they emit)
 *
 * So every pass either shrinks its partitions (a fresh hash per level
 * spreads distinct keys) or joins in chunks, whose memory is bounded
 * whatever the key distribution: the join always ends within the budget.
 *
 * Invariants: a partition is in RAM or has an open build writer, never
 * both; a file taken from the stack is destroyed on every path.
 * Locking: none; the operator's thread.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/hashjoin_internal.h"
#include "sys/fault.h"

#define REQUEST_EVERY 4096 /* records between looks at the spill request */

void mgov__hj_progress(mgov_hashjoin_t *j)
{
    if (!j->progress)
        return;
    mgov_hashjoin_stats_t st;
    mgov_hashjoin_stats(j, &st);
    j->progress(j->progress_ctx, &st);
}

static bool budget_error(int rc)
{
    return rc == MGOV_EBUDGET || rc == MGOV_ELIMIT || rc == MGOV_ETIMEDOUT;
}

bool mgov__hj_needs_build_flags(const mgov_hashjoin_t *j)
{
    return j->type == MGOV_JOIN_BUILD_OUTER || j->type == MGOV_JOIN_FULL;
}

bool mgov__hj_probe_side_output(const mgov_hashjoin_t *j)
{
    return j->type == MGOV_JOIN_PROBE_OUTER || j->type == MGOV_JOIN_FULL ||
           j->type == MGOV_JOIN_ANTI;
}

/* ----------------------------------------------------------------- records */

/* A record's pieces: its header (flags, and a variable key's length) into
 * hdr, then the key and the payload. */
static void record_pieces(const mgov_hashjoin_t *j, unsigned char hdr[11], unsigned flags,
                          const void *key, size_t klen, const void *payload, size_t plen,
                          mgov__piece_t pc[3])
{
    hdr[0] = (unsigned char)flags;
    size_t h = 1 + (j->key_size ? 0 : mgov__leb_put(hdr + 1, klen));
    pc[0] = (mgov__piece_t){ hdr, h };
    pc[1] = (mgov__piece_t){ key, klen };
    pc[2] = (mgov__piece_t){ payload, plen };
}

static int put_record(mgov_hashjoin_t *j, mgov__part_out_t *po, unsigned p, unsigned flags,
                      const void *key, size_t klen, const void *payload, size_t plen)
{
    unsigned char hdr[11];
    mgov__piece_t pc[3];
    record_pieces(j, hdr, flags, key, klen, payload, plen, pc);
    return mgov__part_putv(po, p, pc, 3);
}

static int write_record(mgov_hashjoin_t *j, mgov_spill_writer_t *w, unsigned flags,
                        const void *key, size_t klen, const void *payload, size_t plen)
{
    unsigned char hdr[11];
    mgov__piece_t pc[3];
    record_pieces(j, hdr, flags, key, klen, payload, plen, pc);
    return mgov__rec_putv(w, 0, pc, 3);
}

int mgov__hj_parse_record(const mgov_hashjoin_t *j, const unsigned char *rec, size_t len,
                          unsigned *flags, const unsigned char **key, size_t *klen,
                          const unsigned char **payload, size_t *plen)
{
    if (len < 1 || rec[0] > MGOV__HJ_F_MATCHED)
        return MGOV_ECORRUPT;
    *flags = rec[0];
    size_t at = 1, k = j->key_size;
    if (!k) {
        uint32_t v = 0;
        for (unsigned shift = 0;; shift += 7) {
            if (at >= len || (shift == 28 && (rec[at] & 0xf0)))
                return MGOV_ECORRUPT;
            v |= (uint32_t)(rec[at] & 0x7f) << shift;
            if (!(rec[at++] & 0x80))
                break;
        }
        k = v;
        if (k > j->max_key)
            return MGOV_ECORRUPT;
    }
    if (len - at < k || len - at - k > j->max_payload)
        return MGOV_ECORRUPT;
    *key = rec + at;
    *klen = k;
    *payload = rec + at + k;
    *plen = len - at - k;
    return MGOV_OK;
}

/* ---------------------------------------------------------------- the pass */

/* Writes partition q's build rows (with their matched bits) to its build
 * file and frees them; its later rows of both sides go to its files. */
static int spill_part(mgov_hashjoin_t *j, unsigned q)
{
    mgov__op_pass_t *ps = &j->pass;
    mgov__ptab_t *pt = &ps->parts[q];
    int rc = mgov__part_out_begin(&j->pass.out[HJ_SIDE_BUILD], q);
    for (size_t off = 0; off < pt->used && rc == MGOV_OK;) {
        const unsigned char *row = pt->rows.base + off, *key, *payload;
        size_t klen, plen;
        mgov__hj_row_parts(row, &key, &klen, &payload, &plen);
        unsigned flags = mgov__hj_row_word(row) & MGOV__HJ_MATCHED ? MGOV__HJ_F_MATCHED : 0;
        rc = put_record(j, &j->pass.out[HJ_SIDE_BUILD], q, flags, key, klen, payload, plen);
        off += mgov__hj_row_bytes(klen, plen);
    }
    if (rc != MGOV_OK)
        return rc;
    mgov__ptab_free(pt);
    j->st.partitions_spilled++;
    mgov__op_spilled(&j->op);
    mgov__hj_progress(j);
    return MGOV_OK;
}

int mgov__hj_spill_largest(mgov_hashjoin_t *j)
{
    int q = j->pass.active && j->pass.parts ? mgov__op_pass_largest(&j->pass) : -1;
    if (q < 0)
        return 0;
    int rc = spill_part(j, (unsigned)q);
    return rc == MGOV_OK ? 1 : rc;
}

int mgov__hj_take_request(mgov_hashjoin_t *j)
{
    if (!mgov__op_take_request(&j->op) || !j->pass.active || !j->pass.parts)
        return MGOV_OK;
    int q = mgov__op_pass_largest(&j->pass);
    return q >= 0 ? spill_part(j, (unsigned)q) : MGOV_OK;
}

void mgov__hj_prefetch_batch(mgov_hashjoin_t *j, const unsigned char *keys, size_t kstride,
                             size_t n, uint64_t *hv)
{
    mgov__op_pass_t *ps = &j->pass;
    for (size_t i = 0; i < n; i++)
        hv[i] = mgov__part_hash(keys + i * kstride, j->key_size, ps->level, j->const_hash);
    mgov__hj_prefetch_hv(j, hv, n);
}

void mgov__hj_prefetch_hv(mgov_hashjoin_t *j, const uint64_t *hv, size_t n)
{
    mgov__op_pass_t *ps = &j->pass;
    if (!j->sealed)
        return; /* building: rows are appended, nothing is looked up */
    for (size_t i = 0; i < n; i++) {
        const mgov__ptab_t *pt = &ps->parts[mgov__part_of(hv[i], ps->bits)];
        if (pt->slots.mask)
            __builtin_prefetch(mgov__slots_home(&pt->slots, hv[i]));
    }
    for (size_t i = 0; i < n; i++) {
        const mgov__ptab_t *pt = &ps->parts[mgov__part_of(hv[i], ps->bits)];
        if (!pt->slots.mask)
            continue;
        uint64_t s = mgov__hj_head(pt, hv[i]);
        if (s)
            __builtin_prefetch(mgov__hj_row(pt, s));
    }
    /* the chain's second row (a key's second match, or the row before it) */
    for (size_t i = 0; i < n; i++) {
        const mgov__ptab_t *pt = &ps->parts[mgov__part_of(hv[i], ps->bits)];
        uint64_t s = mgov__hj_head(pt, hv[i]);
        if (s && (s = mgov__hj_next_ref(mgov__hj_row(pt, s))) != 0)
            __builtin_prefetch(mgov__hj_row(pt, s));
    }
}

int mgov__hj_build_row_hv(mgov_hashjoin_t *j, uint64_t hv, const void *key, size_t klen,
                          const void *payload, size_t plen, unsigned flags)
{
    mgov__op_pass_t *ps = &j->pass;
    unsigned p = mgov__part_of(hv, ps->bits);
    for (;;) {
        if (mgov__part_out_open(&j->pass.out[HJ_SIDE_BUILD], p))
            return put_record(j, &j->pass.out[HJ_SIDE_BUILD], p, flags, key, klen, payload, plen);
        int rc = mgov__hj_add(j, &ps->parts[p], hv, key, klen, payload, plen,
                              flags & MGOV__HJ_F_MATCHED);
        if (rc == MGOV_OK || !budget_error(rc))
            return rc;
        /* no room: the largest partition in RAM goes to disk, or with none,
         * this row's own (its writer comes from spill staging) */
        int q = mgov__op_pass_largest(&j->pass);
        if ((rc = spill_part(j, q >= 0 ? (unsigned)q : p)) != MGOV_OK)
            return rc;
    }
}

void mgov__hj_cur_set(mgov_hashjoin_t *j, mgov__ptab_t *pt, uint64_t hv, const void *key,
                      size_t klen, const void *payload, size_t plen, unsigned flags, bool final)
{
    mgov__hj_cur_t *c = &j->cur;
    *c = (mgov__hj_cur_t){ .active = true, .final = final, .flags = flags, .key = key,
                           .payload = payload, .klen = klen, .plen = plen, .hv = hv,
                           .pt = pt };
}

int mgov__hj_probe_row_hv(mgov_hashjoin_t *j, uint64_t hv, const void *key, size_t klen,
                          const void *payload, size_t plen, unsigned flags)
{
    mgov__op_pass_t *ps = &j->pass;
    unsigned p = mgov__part_of(hv, ps->bits);
    if (mgov__part_out_open(&j->pass.out[HJ_SIDE_BUILD], p)) {
        /* its partition is on disk: joined when the pair is read back,
         * unless nothing could come of it */
        if (!mgov__hj_probe_side_output(j) && j->pass.out[HJ_SIDE_BUILD].records[p] == 0)
            return 0;
        int rc = put_record(j, &j->pass.out[HJ_SIDE_PROBE], p, flags, key, klen, payload, plen);
        return rc < 0 ? rc : 0;
    }
    if (!mgov__hj_probe_side_output(j) && ps->parts[p].nrows == 0)
        return 0; /* an empty partition: no match can come */
    mgov__hj_cur_set(j, &ps->parts[p], hv, key, klen, payload, plen, flags, true);
    return 1;
}

static void emit(const mgov_hashjoin_t *j, mgov_hashjoin_row_t *out, const unsigned char *row)
{
    const mgov__hj_cur_t *c = &j->cur;
    *out = (mgov_hashjoin_row_t){ .key = c->klen ? c->key : NULL, .key_len = c->klen,
                                  .has_probe = true, .probe = c->plen ? c->payload : NULL,
                                  .probe_len = c->plen };
    if (row) {
        const unsigned char *bk, *bp;
        size_t bkl, bpl;
        mgov__hj_row_parts(row, &bk, &bkl, &bp, &bpl);
        out->has_build = true;
        out->build = bpl ? bp : NULL;
        out->build_len = bpl;
    }
}

int mgov__hj_cur_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out)
{
    mgov__hj_cur_t *c = &j->cur;
    if (!c->active)
        return 0;
    while (!c->done) {
        if (!c->looked) {
            c->next = mgov__hj_find(c->pt, c->hv, c->key, c->klen);
            c->looked = true;
        }
        if (!c->next) {
            c->done = true;
            break;
        }
        unsigned char *row = mgov__hj_row(c->pt, c->next);
        uint64_t w = mgov__hj_row_word(row);
        c->next = mgov__hj_match(c->pt, mgov__hj_next_ref(row), c->hv, c->key, c->klen);
        c->matched = true;
        if (j->type == MGOV_JOIN_SEMI) {
            c->done = true;
            if (!(c->flags & MGOV__HJ_F_MATCHED)) { /* once, at its first match */
                emit(j, out, NULL);
                return 1;
            }
        } else if (j->type == MGOV_JOIN_ANTI) {
            c->done = true;
        } else {
            if (mgov__hj_needs_build_flags(j) && !(w & MGOV__HJ_MATCHED))
                mgov__hj_row_set_word(row, w | MGOV__HJ_MATCHED);
            emit(j, out, row);
            return 1;
        }
    }
    c->active = false;
    bool matched = c->matched || (c->flags & MGOV__HJ_F_MATCHED);
    if (!c->final) { /* a chunk before the last: its bit goes on */
        mgov_spill_writer_t *w = j->chunk.pw;
        if (!w)
            return 0;
        int rc = write_record(j, w, matched ? MGOV__HJ_F_MATCHED : 0, c->key, c->klen,
                              c->payload, c->plen);
        if (rc != MGOV_OK)
            return rc;
        j->chunk.p_records++;
        return 0;
    }
    if (!matched && mgov__hj_probe_side_output(j)) {
        emit(j, out, NULL);
        return 1;
    }
    return 0;
}

int mgov__hj_pass_begin(mgov_hashjoin_t *j, unsigned level, uint64_t in_bytes, unsigned bits)
{
    j->sealed = false;
    return mgov__op_pass_begin(&j->op, &j->pass, level, in_bytes, bits);
}

int mgov__hj_pass_end(mgov_hashjoin_t *j)
{
    mgov__op_pass_t *ps = &j->pass;
    int rc = MGOV_OK;
    for (unsigned p = 0; p < ps->n && rc == MGOV_OK; p++) {
        if (!mgov__part_out_open(&j->pass.out[HJ_SIDE_BUILD], p))
            continue;
        mgov__part_file_t fb, fp;
        if ((rc = mgov__part_finish(&j->pass.out[HJ_SIDE_BUILD], p, &fb)) != MGOV_OK)
            break;
        if ((rc = mgov__part_finish(&j->pass.out[HJ_SIDE_PROBE], p, &fp)) != MGOV_OK) {
            mgov_spill_file_destroy(fb.file);
            break;
        }
        j->st.files += 1 + (fp.file != NULL);
        j->st.spilled_raw += mgov_spill_file_raw_bytes(fb.file) +
                             (fp.file ? mgov_spill_file_raw_bytes(fp.file) : 0);
        j->st.spilled_stored += mgov_spill_file_stored_bytes(fb.file) +
                                (fp.file ? mgov_spill_file_stored_bytes(fp.file) : 0);
        if (!fp.file && !mgov__hj_needs_build_flags(j)) { /* no probe row: nothing to join */
            mgov_spill_file_destroy(fb.file);
            continue;
        }
        bool stuck = mgov__op_pass_stuck(ps, fb.bytes);
        fb.level = fp.level = ps->level + 1;
        fb.parent_bytes = fp.parent_bytes = ps->in_bytes;
        fb.side = HJ_SIDE_BUILD |
                  (stuck || fb.level >= MGOV__PART_MAX_LEVELS ? HJ_SIDE_CHUNKED : 0);
        fp.side = HJ_SIDE_PROBE;
        if ((rc = mgov__part_stack_push(&j->todo, &fp)) != MGOV_OK) {
            mgov_spill_file_destroy(fp.file);
            mgov_spill_file_destroy(fb.file);
        } else if ((rc = mgov__part_stack_push(&j->todo, &fb)) != MGOV_OK) {
            mgov_spill_file_destroy(fb.file); /* its probe file is on the stack: freed there */
        }
    }
    mgov__part_out_free(&j->pass.out[HJ_SIDE_BUILD]);
    mgov__part_out_free(&j->pass.out[HJ_SIDE_PROBE]);
    j->out_part = 0;
    j->out_off = 0;
    return rc;
}

int mgov__hj_unmatched_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out)
{
    mgov__op_pass_t *ps = &j->pass;
    while (ps->parts && j->out_part < ps->n) {
        mgov__ptab_t *pt = &ps->parts[j->out_part];
        if (mgov__hj_needs_build_flags(j) && mgov__hj_unmatched_in(pt, &j->out_off, out))
            return 1;
        /* walked: its memory goes back (the row returned last is released
         * by this very call) */
        mgov__ptab_free(pt);
        j->out_part++;
        j->out_off = 0;
    }
    mgov__op_pass_free(&j->pass);
    return 0;
}

/* ------------------------------------------------------------ spilled pairs */

/* Stages the file's next records (up to a batch, or what memory allows
 * past the first): copied, hashed at the pass's level, their slots and rows
 * prefetched. */
static int stage_fill(mgov_hashjoin_t *j, mgov__recin_t *in)
{
    mgov__hj_stage_t *sg = &j->stage;
    sg->n = sg->i = 0;
    sg->used = 0;
    int more = 1, rc;
    while (sg->n < MGOV__HJ_BATCH && (more = mgov__recin_next(in)) > 0) {
        unsigned flags;
        const unsigned char *key, *payload;
        size_t klen, plen;
        rc = mgov__hj_parse_record(j, in->rec, in->len, &flags, &key, &klen, &payload, &plen);
        if (rc != MGOV_OK)
            return rc;
        size_t need = sg->used + klen + plen;
        if (need > sg->buf.cap &&
            (rc = mgov__op_grow(&j->op, &sg->buf, need, 2 * need, j->op.timeout_ns, 0)) !=
                MGOV_OK)
            return rc; /* a few KiB (a batch of small records): refused only when starved */
        unsigned char *at = sg->buf.base + sg->used;
        if (klen)
            memcpy(at, key, klen);
        if (plen)
            memcpy(at + klen, payload, plen);
        sg->off[sg->n] = sg->used;
        sg->klen[sg->n] = (uint32_t)klen;
        sg->plen[sg->n] = (uint32_t)plen;
        sg->flags[sg->n] = (uint8_t)flags;
        sg->hv[sg->n] = mgov__part_hash(at, klen, j->pass.level, j->const_hash);
        sg->used = need;
        sg->n++;
    }
    if (more < 0)
        return more;
    sg->more = more > 0; /* a full batch: maybe more; 0: the end was read */
    mgov__hj_prefetch_hv(j, sg->hv, sg->n);
    return MGOV_OK;
}

static int read_build_file(mgov_hashjoin_t *j, const mgov__part_file_t *fb)
{
    mgov_spill_reader_t *r;
    int rc = mgov_spill_reader_open(fb->file, NULL, &r);
    if (rc != MGOV_OK)
        return rc;
    mgov__recin_t in;
    mgov__recin_init(&in, r, 0, 6 + j->max_key + j->max_payload, NULL);
    mgov__hj_stage_t *sg = &j->stage;
    do {
        if ((rc = mgov__hj_take_request(j)) != MGOV_OK || (rc = stage_fill(j, &in)) != MGOV_OK)
            break;
        for (unsigned i = 0; i < sg->n && rc == MGOV_OK; i++) {
            const unsigned char *at = sg->buf.base + sg->off[i];
            rc = mgov__hj_build_row_hv(j, sg->hv[i], at, sg->klen[i], at + sg->klen[i],
                                       sg->plen[i], sg->flags[i]);
        }
    } while (rc == MGOV_OK && sg->more);
    mgov_spill_reader_close(r);
    sg->n = sg->i = 0;
    return rc;
}

static int chunk_begin(mgov_hashjoin_t *j, const mgov__part_file_t *fb,
                       const mgov__part_file_t *fp);

int mgov__hj_pair_start(mgov_hashjoin_t *j)
{
    mgov__part_file_t fb, fp;
    if (!mgov__part_stack_pop(&j->todo, &fb))
        return 0;
    if (!mgov__part_stack_pop(&j->todo, &fp)) { /* pushed in pairs: cannot happen */
        mgov_spill_file_destroy(fb.file);
        return MGOV_ECORRUPT;
    }
    int rc;
    if (fb.side & HJ_SIDE_CHUNKED) {
        if ((rc = chunk_begin(j, &fb, &fp)) != MGOV_OK)
            return rc;
        j->state = HJ_CHUNK;
        return 1;
    }
    if ((rc = mgov__hj_radix_begin(j, &fb, &fp)) != 0) {
        mgov_spill_file_destroy(fb.file);
        mgov_spill_file_destroy(fp.file);
        if (rc < 0)
            return rc;
        mgov__hj_progress(j);
        j->state = HJ_RADIX;
        return 1;
    }
    /* its rows (a header and padding each) and buckets (up to 16 bytes a row) */
    uint64_t est = fb.bytes + fb.records * (MGOV__HJ_ROW_HDR + 7 + 16);
    rc = mgov__hj_pass_begin(j, fb.level, fb.bytes,
                             mgov__op_pass_width(&j->pass, &fb, est, j->limit / 4 * 3));
    if (rc == MGOV_OK && (rc = read_build_file(j, &fb)) == MGOV_OK)
        mgov__hj_seal_pass(j);
    mgov_spill_file_destroy(fb.file);
    j->pfile = fp;
    j->pr = NULL;
    j->stage.n = j->stage.i = 0;
    j->stage.more = true;
    if (rc == MGOV_OK && fp.file)
        rc = mgov_spill_reader_open(fp.file, NULL, &j->pr);
    if (rc == MGOV_OK && j->pr)
        mgov__recin_init(&j->pin, j->pr, 0, 6 + j->max_key + j->max_payload, NULL);
    if (rc != MGOV_OK)
        return rc;
    mgov__hj_progress(j);
    j->state = HJ_FILE;
    return 1;
}

static void pair_probe_close(mgov_hashjoin_t *j)
{
    mgov_spill_reader_close(j->pr);
    j->pr = NULL;
    mgov_spill_file_destroy(j->pfile.file);
    j->pfile.file = NULL;
}

int mgov__hj_file_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out)
{
    mgov__hj_stage_t *sg = &j->stage;
    for (;;) {
        int rc = mgov__hj_cur_next(j, out);
        if (rc != 0)
            return rc;
        if (sg->i == sg->n) {
            if (j->pr && (sg->n == 0 || sg->more)) {
                if ((rc = mgov__hj_take_request(j)) != MGOV_OK ||
                    (rc = stage_fill(j, &j->pin)) != MGOV_OK)
                    return rc;
            } else {
                sg->n = 0;
            }
            if (sg->n == 0) { /* the probe file is joined: the pass ends */
                pair_probe_close(j);
                rc = mgov__hj_pass_end(j);
                return rc < 0 ? rc : 0;
            }
        }
        unsigned i = sg->i++;
        const unsigned char *at = sg->buf.base + sg->off[i];
        if ((rc = mgov__hj_probe_row_hv(j, sg->hv[i], at, sg->klen[i], at + sg->klen[i],
                                        sg->plen[i], sg->flags[i])) < 0)
            return rc;
    }
}

/* ------------------------------------------------------------ chunked pairs */

enum { CH_STREAM, CH_UNMATCHED };

void mgov__hj_chunk_free(mgov_hashjoin_t *j)
{
    mgov__hj_chunk_t *ch = &j->chunk;
    mgov_spill_reader_close(ch->br);
    mgov_spill_reader_close(ch->pr);
    mgov_spill_writer_abort(ch->pw);
    mgov_spill_file_destroy(ch->b.file);
    mgov_spill_file_destroy(ch->p.file);
    memset(ch, 0, sizeof *ch);
    mgov__gbuf_shrink(&j->pend, 0);
}

/* A build record into the chunk's table (every key in one partition). */
static int chunk_add(mgov_hashjoin_t *j, const unsigned char *rec, size_t len)
{
    unsigned flags;
    const unsigned char *key, *payload;
    size_t klen, plen;
    int rc = mgov__hj_parse_record(j, rec, len, &flags, &key, &klen, &payload, &plen);
    if (rc != MGOV_OK)
        return rc;
    uint64_t hv = mgov__part_hash(key, klen, j->pass.level, j->const_hash);
    return mgov__hj_add(j, &j->pass.parts[0], hv, key, klen, payload, plen,
                        flags & MGOV__HJ_F_MATCHED);
}

/* Keeps a build record that did not fit for the next chunk. */
static int keep_pending(mgov_hashjoin_t *j, const unsigned char *rec, size_t len)
{
    int rc = mgov__op_grow(&j->op, &j->pend, len ? len : 1, 0, j->op.timeout_ns, 0);
    if (rc != MGOV_OK)
        return rc;
    memcpy(j->pend.base, rec, len);
    j->pend_len = len;
    j->chunk.have_pend = true;
    return MGOV_OK;
}

/* Loads the next chunk of the build file, then opens the probe side. */
static int chunk_load(mgov_hashjoin_t *j)
{
    mgov__hj_chunk_t *ch = &j->chunk;
    int rc = mgov__hj_pass_begin(j, ch->b.level, ch->b.bytes, 0); /* one table: every key */
    if (rc != MGOV_OK)
        return rc;
    j->out_part = 0; /* where its unmatched rows are walked from, after the stream */
    j->out_off = 0;
    mgov__ptab_t *pt = &j->pass.parts[0];
    if (ch->have_pend) {
        rc = chunk_add(j, j->pend.base, j->pend_len);
        if (budget_error(rc)) {
            /* not even one row fits now: others hold the memory; wait for
             * it holding nothing, as the operator's timeout allows */
            mgov_grant_t g = MGOV_GRANT_INIT;
            rc = mgov__op_reserve_wait(&j->op, mgov__hj_row_bytes(j->pend_len, 0) + 8192, &g);
            mgov_grant_release(&g);
            if (rc == MGOV_OK)
                rc = chunk_add(j, j->pend.base, j->pend_len);
        }
        if (rc != MGOV_OK)
            return rc;
        ch->have_pend = false;
    }
    while (!ch->b_done) {
        if ((rc = mgov__recin_next(&ch->bin)) < 0)
            return rc;
        if (rc == 0) {
            ch->b_done = true;
            break;
        }
        rc = chunk_add(j, ch->bin.rec, ch->bin.len);
        if (budget_error(rc) && pt->nrows > 0) {
            if ((rc = keep_pending(j, ch->bin.rec, ch->bin.len)) != MGOV_OK)
                return rc;
            break;
        }
        if (rc != MGOV_OK)
            return rc;
    }
    mgov__hj_seal_pass(j);
    ch->last = ch->b_done && !ch->have_pend;
    j->st.chunks++;
    /* the probe side streams past it; its rows' bits go on unless last */
    if (ch->p.file && (rc = mgov_spill_reader_open(ch->p.file, NULL, &ch->pr)) != MGOV_OK)
        return rc;
    if (ch->pr)
        mgov__recin_init(&ch->pin, ch->pr, 0, 6 + j->max_key + j->max_payload, NULL);
    if (ch->pr && !ch->last && j->type != MGOV_JOIN_INNER &&
        j->type != MGOV_JOIN_BUILD_OUTER)
        rc = mgov_spill_writer_create(j->op.dir, &j->op.spill, &ch->pw);
    ch->p_records = 0;
    mgov__hj_progress(j);
    return rc;
}

static int chunk_begin(mgov_hashjoin_t *j, const mgov__part_file_t *fb,
                       const mgov__part_file_t *fp)
{
    mgov__hj_chunk_t *ch = &j->chunk;
    memset(ch, 0, sizeof *ch);
    ch->b = *fb;
    ch->p = *fp;
    j->st.chunked++;
    int rc = mgov_spill_reader_open(ch->b.file, NULL, &ch->br);
    if (rc != MGOV_OK)
        return rc;
    mgov__recin_init(&ch->bin, ch->br, 0, 6 + j->max_key + j->max_payload, NULL);
    return chunk_load(j);
}

/* The probe side of a chunk is joined: the next chunk's probe file (with
 * the bits) replaces it. */
static int chunk_stream_end(mgov_hashjoin_t *j)
{
    mgov__hj_chunk_t *ch = &j->chunk;
    mgov_spill_reader_close(ch->pr);
    ch->pr = NULL;
    if (!ch->pw)
        return MGOV_OK;
    mgov_spill_file_t *f = NULL;
    int rc = mgov_spill_writer_finish(ch->pw, &f);
    ch->pw = NULL;
    if (rc != MGOV_OK)
        return rc;
    j->st.files++;
    j->st.spilled_raw += mgov_spill_file_raw_bytes(f);
    j->st.spilled_stored += mgov_spill_file_stored_bytes(f);
    mgov_spill_file_destroy(ch->p.file);
    ch->p.file = f;
    ch->p.records = ch->p_records;
    return MGOV_OK;
}

int mgov__hj_chunk_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out)
{
    mgov__hj_chunk_t *ch = &j->chunk;
    for (;;) {
        int rc = mgov__hj_cur_next(j, out);
        if (rc != 0)
            return rc;
        if (ch->pr) {
            if ((rc = mgov__recin_next(&ch->pin)) < 0)
                return rc;
            if (rc > 0) {
                unsigned flags;
                const unsigned char *key, *payload;
                size_t klen, plen;
                if ((rc = mgov__hj_parse_record(j, ch->pin.rec, ch->pin.len, &flags, &key,
                                                &klen, &payload, &plen)) != MGOV_OK)
                    return rc;
                uint64_t hv = mgov__part_hash(key, klen, j->pass.level, j->const_hash);
                mgov__hj_cur_set(j, &j->pass.parts[0], hv, key, klen, payload, plen, flags,
                                 ch->last);
                continue;
            }
            if ((rc = chunk_stream_end(j)) != MGOV_OK)
                return rc;
        }
        /* the chunk's build rows never matched (build-outer), then the next
         * chunk, or the end */
        if ((rc = mgov__hj_unmatched_next(j, out)) != 0)
            return rc;
        if (ch->last) {
            mgov__hj_chunk_free(j);
            return 0;
        }
        if ((rc = chunk_load(j)) != MGOV_OK)
            return rc;
    }
}
