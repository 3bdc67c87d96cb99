/* ops/hashjoin_radix.c - a spilled pair that fits in memory, joined in
 * parts small enough to stay in the CPU's caches.
 *
 * A streaming pass over a pair (hashjoin_pass.c) builds one table from the
 * build file and probes it in the probe file's order: every probe is a
 * miss to memory, several when its chain is long.  When both files fit in
 * 3/4 of the operator's memory, this pass instead loads both sides into two
 * stores, each ordered by the top `bits` of the pass's hash (2^bits parts
 * of about PART_BYTES of build rows), then joins part by part: a part's
 * build rows are chained off a small bucket array (the seal of
 * hashjoin_table.c over a view of the part) and its probe rows walk it in
 * order.  Each store is written in place: a first read of its file counts
 * the bytes of each part, a second one copies every record to its part's
 * next offset, so no memory is needed beyond the two stores.  On this
 * machine the passes over spilled pairs of `memgov bench join --rows
 * 20000000 --memory 256MiB` take 2.9 s instead of 4.0 s (docs/hashjoin.md).
 *
 *   build store  rows as hashjoin_internal.h lays them, part after part
 *   probe store  [ u32 key_len | u32 payload_len, bit 31 matched | key |
 *                  payload | pad to 8 ], part after part
 *
 * Output: each part's probe rows in order (the probe cursor of
 * hashjoin_pass.c, answering for each row completely: every part holds all
 * the build rows its probe rows can meet), then, for build-outer joins, its
 * build rows never matched.  The memory is the operator's, reserved once
 * when the pass begins (a refusal: the streaming pass instead); a spill
 * asked meanwhile finds nothing to write and the memory goes back when the
 * pair is joined.
 *
 * Invariants: offsets of part k are [off[k], off[k + 1]) of each store;
 * records in a store are whole and in bounds (checked on load).
 * Locking: none; the operator's thread.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/hashjoin_internal.h"
#include "sys/fault.h"
#include "sys/sys.h"

#define PART_BYTES ((uint64_t)256 << 10) /* build rows of a part: cache-sized */
#define MAX_BITS 12u
#define PROBE_HDR 8u
#define PROBE_MATCHED ((uint32_t)1 << 31)

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static size_t probe_row_bytes(size_t klen, size_t plen)
{
    return round8(PROBE_HDR + klen + plen);
}

static unsigned part_of(const mgov__hj_radix_t *rx, uint64_t hv)
{
    return rx->bits ? (unsigned)(hv >> (64 - rx->bits)) : 0;
}

void mgov__hj_radix_free(mgov_hashjoin_t *j)
{
    mgov__hj_radix_t *rx = &j->radix;
    mgov__gbuf_free(&rx->build);
    mgov__gbuf_free(&rx->probe);
    mgov__gbuf_free(&rx->buckets);
    free(rx->words);
    memset(rx, 0, sizeof *rx);
}

/* One read of a file: counts (off == NULL: bytes per part into count) or
 * copies each record to its part's next offset in store (off advanced). */
static int load(mgov_hashjoin_t *j, const mgov__part_file_t *f, bool build, uint64_t *count,
                uint64_t *rows, uint64_t *off, mgov__gbuf_t *store)
{
    mgov__hj_radix_t *rx = &j->radix;
    mgov_spill_reader_t *r;
    int rc = mgov_spill_reader_open(f->file, NULL, &r);
    if (rc != MGOV_OK)
        return rc;
    mgov__recin_t in;
    mgov__recin_init(&in, r, 0, 6 + j->max_key + j->max_payload, NULL);
    while ((rc = mgov__recin_next(&in)) > 0) {
        unsigned flags;
        const unsigned char *key, *payload;
        size_t klen, plen;
        if ((rc = mgov__hj_parse_record(j, in.rec, in.len, &flags, &key, &klen, &payload,
                                        &plen)) != MGOV_OK)
            break;
        uint64_t hv = mgov__hj_hash(j, key, klen);
        unsigned p = part_of(rx, hv);
        size_t bytes = build ? mgov__hj_row_bytes(klen, plen) : probe_row_bytes(klen, plen);
        if (!off) {
            count[p] += bytes;
            if (rows)
                rows[p]++;
            continue;
        }
        if (off[p] + bytes > rx->end[p]) { /* the file changed between the reads */
            rc = MGOV_ECORRUPT;
            break;
        }
        unsigned char *at = store->base + off[p];
        if (build) {
            mgov__hj_row_put(at, hv, key, klen, payload, plen, flags & MGOV__HJ_F_MATCHED);
        } else {
            uint32_t k = (uint32_t)klen, pl = (uint32_t)plen;
            if (flags & MGOV__HJ_F_MATCHED)
                pl |= PROBE_MATCHED;
            memcpy(at, &k, 4);
            memcpy(at + 4, &pl, 4);
            if (klen)
                memcpy(at + PROBE_HDR, key, klen);
            if (plen)
                memcpy(at + PROBE_HDR + klen, payload, plen);
        }
        off[p] += bytes;
    }
    mgov_spill_reader_close(r);
    return rc < 0 ? rc : MGOV_OK;
}

/* Offsets from per-part byte counts: off[k] = the sum before k; returns
 * the total. */
static uint64_t prefix(const uint64_t *count, uint64_t *off, unsigned n)
{
    uint64_t at = 0;
    for (unsigned k = 0; k < n; k++) {
        off[k] = at;
        at += count[k];
    }
    off[n] = at;
    return at;
}

/* Both stores filled, or MGOV_EBUSY when the memory is not there now (the
 * caller streams instead); other errors are the files'.  Its arrays are
 * one allocation made before any reader opens, so the readers' buffers,
 * freed, are not pinned under them in the C heap. */
static int fill(mgov_hashjoin_t *j, const mgov__part_file_t *fb, const mgov__part_file_t *fp)
{
    mgov__hj_radix_t *rx = &j->radix;
    unsigned n = 1u << rx->bits;
    rx->words = mgov__calloc(7 * (size_t)n + 3, sizeof *rx->words);
    if (!rx->words)
        return MGOV_ENOMEM;
    rx->boff = rx->words;
    rx->poff = rx->boff + n + 1;
    rx->brows = rx->poff + n + 1;
    rx->end = rx->brows + n;
    uint64_t *at = rx->end + n, *bcount = at + n + 1, *pcount = bcount + n;
    int rc;
    if ((rc = load(j, fb, true, bcount, rx->brows, NULL, NULL)) != MGOV_OK ||
        (fp->file && (rc = load(j, fp, false, pcount, NULL, NULL, NULL)) != MGOV_OK))
        return rc;
    uint64_t bbytes = prefix(bcount, rx->boff, n), pbytes = prefix(pcount, rx->poff, n);
    uint64_t most = 0;
    for (unsigned k = 0; k < n; k++)
        if (rx->brows[k] > most)
            most = rx->brows[k];
    uint64_t nb = 1;
    while (nb < most)
        nb *= 2;
    /* all of it now, within the limit, or the streaming pass */
    uint64_t need = mgov__page_round(bbytes) + mgov__page_round(pbytes) +
                    mgov__page_round(nb * sizeof(uint64_t));
    if (atomic_load_explicit(&j->op.charged, memory_order_relaxed) + need > j->limit)
        return MGOV_EBUSY;
    rc = mgov__op_grow(&j->op, &rx->build, bbytes ? bbytes : 1, 0, 0, MGOV_NO_RECLAIM);
    if (rc == MGOV_OK)
        rc = mgov__op_grow(&j->op, &rx->probe, pbytes ? pbytes : 1, 0, 0, MGOV_NO_RECLAIM);
    if (rc == MGOV_OK)
        rc = mgov__op_grow(&j->op, &rx->buckets, nb * sizeof(uint64_t), 0, 0, MGOV_NO_RECLAIM);
    if (rc != MGOV_OK)
        return rc == MGOV_EBUDGET || rc == MGOV_ELIMIT || rc == MGOV_ETIMEDOUT ? MGOV_EBUSY : rc;
    memcpy(at, rx->boff, (n + 1) * sizeof *at);
    for (unsigned k = 0; k < n; k++)
        rx->end[k] = rx->boff[k + 1];
    rc = load(j, fb, true, NULL, NULL, at, &rx->build);
    if (rc == MGOV_OK && fp->file) {
        memcpy(at, rx->poff, (n + 1) * sizeof *at);
        for (unsigned k = 0; k < n; k++)
            rx->end[k] = rx->poff[k + 1];
        rc = load(j, fp, false, NULL, NULL, at, &rx->probe);
    }
    return rc;
}

int mgov__hj_radix_begin(mgov_hashjoin_t *j, const mgov__part_file_t *fb,
                         const mgov__part_file_t *fp)
{
    /* both sides' rows and headers, the buckets of the largest part */
    uint64_t est = fb->bytes + fb->records * (MGOV__HJ_ROW_HDR + 7) + PART_BYTES +
                   (fp->file ? fp->bytes + fp->records * (PROBE_HDR + 7) : 0);
    if (est > j->limit / 4 * 3)
        return 0;
    mgov__hj_radix_t *rx = &j->radix;
    memset(rx, 0, sizeof *rx);
    uint64_t rows = fb->bytes + fb->records * (MGOV__HJ_ROW_HDR + 7);
    while (rx->bits < MAX_BITS && (rows >> rx->bits) > PART_BYTES)
        rx->bits++;
    int rc = mgov__op_buf_init_large(&j->op, &rx->build);
    if (rc == MGOV_OK)
        rc = mgov__op_buf_init_large(&j->op, &rx->probe);
    if (rc == MGOV_OK)
        rc = mgov__op_buf_init_large(&j->op, &rx->buckets);
    j->pass.level = fb->level; /* the hash of this level */
    if (fb->level > j->pass.deepest)
        j->pass.deepest = fb->level;
    if (rc == MGOV_OK)
        rc = fill(j, fb, fp);
    if (rc != MGOV_OK) {
        mgov__hj_radix_free(j);
        return rc == MGOV_EBUSY ? 0 : rc;
    }
    j->radix_pairs++;
    return 1;
}

/* Makes part k the view the probe cursor walks, chained. */
static void part_open(mgov_hashjoin_t *j, unsigned k)
{
    mgov__hj_radix_t *rx = &j->radix;
    uint64_t nb = 1;
    while (nb < rx->brows[k])
        nb *= 2;
    memset(rx->buckets.base, 0, nb * sizeof(uint64_t));
    mgov__ptab_t *v = &rx->view;
    memset(v, 0, sizeof *v);
    v->rows.base = rx->build.base + rx->boff[k];
    v->used = rx->boff[k + 1] - rx->boff[k];
    v->nrows = rx->brows[k];
    v->slots.buf.base = rx->buckets.base;
    v->slots.mask = nb - 1;
    mgov__hj_seal(j, v);
    rx->at = rx->poff[k];
}

int mgov__hj_radix_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out)
{
    mgov__hj_radix_t *rx = &j->radix;
    unsigned n = 1u << rx->bits;
    for (;;) {
        int rc = mgov__hj_cur_next(j, out);
        if (rc != 0)
            return rc;
        if (rx->part >= n) {
            mgov__hj_radix_free(j);
            return 0;
        }
        if (rx->phase == 0) {
            if (!rx->opened) {
                part_open(j, rx->part);
                rx->opened = true;
            }
            size_t end = rx->poff[rx->part + 1];
            if (rx->at < end) {
                const unsigned char *r = rx->probe.base + rx->at;
                uint32_t k, pl;
                memcpy(&k, r, 4);
                memcpy(&pl, r + 4, 4);
                unsigned flags = pl & PROBE_MATCHED ? MGOV__HJ_F_MATCHED : 0;
                pl &= ~PROBE_MATCHED;
                size_t next = rx->at + probe_row_bytes(k, pl);
                rx->at = next;
                uint64_t hv = mgov__hj_hash(j, r + PROBE_HDR, k);
                if (rx->view.nrows || mgov__hj_probe_side_output(j))
                    mgov__hj_cur_set(j, &rx->view, hv, r + PROBE_HDR, k, r + PROBE_HDR + k, pl,
                                     flags, true);
                continue;
            }
            rx->phase = 1;
            rx->at = 0;
        }
        /* its build rows never matched (build-outer joins) */
        if (mgov__hj_needs_build_flags(j) && mgov__hj_unmatched_in(&rx->view, &rx->at, out))
            return 1;
        rx->part++;
        rx->phase = 0;
        rx->at = 0;
        rx->opened = false;
    }
}
