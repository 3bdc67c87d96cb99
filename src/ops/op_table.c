/* ops/op_table.c - the hash operators' slot array (see ops/op_table.h).
 *
 * Invariants: used <= 3/4 of the slots; every reference the operator put
 * is in exactly one slot.
 * Locking: none; one operator's thread.
 */
#include "ops/op_table.h"

#include <stdlib.h>

#include "sys/fault.h"
#include "sys/sys.h"

#define INIT_SLOTS 512u

int mgov__slots_init(mgov__op_t *op, mgov__slots_t *s)
{
    s->mask = 0;
    s->used = 0;
    return mgov__op_buf_init_large(op, &s->buf);
}

static void put(uint64_t *a, uint64_t mask, uint64_t hv, uint64_t ref)
{
    uint64_t i = hv & mask;
    while (a[i])
        i = (i + 1) & mask;
    a[i] = mgov__part_tag(hv) << 48 | ref;
}

int mgov__slots_reserve(mgov__op_t *op, mgov__slots_t *s, uint64_t limit,
                        mgov__slots_each_fn each, void *ctx)
{
    if (s->mask && (s->used + 1) * 4 <= (s->mask + 1) * 3)
        return MGOV_OK;
    uint64_t n = s->mask ? (s->mask + 1) * 2 : INIT_SLOTS;
    size_t bytes = (size_t)n * sizeof(uint64_t);
    if (atomic_load_explicit(&op->charged, memory_order_relaxed) + bytes > limit)
        return MGOV_ELIMIT;
    mgov__gbuf_t nb;
    int rc = mgov__op_buf_init_large(op, &nb);
    if (rc != MGOV_OK)
        return rc;
    if ((rc = mgov__op_grow(op, &nb, bytes, bytes, 0, MGOV__GBUF_POPULATE)) != MGOV_OK) {
        mgov__gbuf_free(&nb);
        return rc;
    }
    uint64_t *a = (uint64_t *)nb.base; /* fresh anonymous memory: all empty */
    uint64_t hv, ref;
    for (uint64_t i = 0; s->used && each(ctx, i, &hv, &ref); i++)
        put(a, n - 1, hv, ref);
    mgov__gbuf_free(&s->buf);
    mgov__gbuf_move(&s->buf, &nb);
    s->mask = n - 1;
    return MGOV_OK;
}

int mgov__slots_size(mgov__op_t *op, mgov__slots_t *s, uint64_t n, uint64_t limit)
{
    uint64_t have = s->mask ? s->mask + 1 : 0;
    if (n <= have)
        return MGOV_OK;
    uint64_t want = have ? have : INIT_SLOTS;
    while (want < n)
        want *= 2;
    size_t bytes = (size_t)want * sizeof(uint64_t);
    if (atomic_load_explicit(&op->charged, memory_order_relaxed) + (bytes - s->buf.cap) > limit)
        return MGOV_ELIMIT;
    /* growing keeps what was written; pages never written read 0 */
    int rc = mgov__op_grow(op, &s->buf, bytes, bytes, 0, 0);
    if (rc == MGOV_OK)
        s->mask = want - 1;
    return rc;
}

void mgov__slots_put(mgov__slots_t *s, uint64_t hv, uint64_t ref)
{
    put((uint64_t *)s->buf.base, s->mask, hv, ref);
    s->used++;
}

void mgov__slots_free(mgov__slots_t *s)
{
    mgov__gbuf_free(&s->buf);
    s->mask = 0;
    s->used = 0;
}

typedef struct walk {
    const mgov__ptab_t *pt;
    const mgov__row_layout_t *lay;
    size_t off;
    uint64_t idx;
} walk_t;

static bool each_row(void *ctx, uint64_t i, uint64_t *hv, uint64_t *ref)
{
    (void)i;
    walk_t *w = ctx;
    while (w->off < w->pt->used) {
        const unsigned char *key;
        size_t klen, bytes, off = w->off;
        uint64_t idx = w->idx++;
        bool own = w->lay->row(w->lay->ctx, w->pt->rows.base + off, &key, &klen, &bytes);
        w->off += bytes;
        if (own) {
            *hv = mgov__part_hash(key, klen, w->lay->level, w->lay->const_hash);
            *ref = w->lay->ref_by_index ? idx + 1 : off / 8 + 1;
            return true;
        }
    }
    return false;
}

int mgov__ptab_slot_reserve(mgov__op_t *op, mgov__ptab_t *pt, uint64_t limit,
                            const mgov__row_layout_t *lay)
{
    walk_t w = { pt, lay, 0, 0 };
    return mgov__slots_reserve(op, &pt->slots, limit, each_row, &w);
}

int mgov__ptab_rows_reserve(mgov__op_t *op, mgov__ptab_t *pt, size_t need, uint64_t limit)
{
    if (need <= pt->rows.cap)
        return MGOV_OK;
    uint64_t now = atomic_load_explicit(&op->charged, memory_order_relaxed);
    if (now + (mgov__page_round(need) - pt->rows.cap) > limit)
        return MGOV_ELIMIT;
    /* doubling while small, by steps later; never past the limit */
    size_t step = (size_t)16 << 20;
    size_t want = need + (pt->rows.cap < step ? pt->rows.cap + 4096 : step);
    if (now + (mgov__page_round(want) - pt->rows.cap) > limit)
        want = need;
    return mgov__op_grow(op, &pt->rows, need, want, 0, MGOV__GBUF_POPULATE);
}

void mgov__ptab_free(mgov__ptab_t *pt)
{
    mgov__slots_free(&pt->slots);
    mgov__gbuf_free(&pt->rows);
    pt->used = 0;
    pt->nrows = 0;
}

int mgov__op_pass_begin(mgov__op_t *op, mgov__op_pass_t *ps, unsigned level, uint64_t in_bytes,
                        unsigned bits)
{
    ps->bits = bits;
    ps->n = 1u << bits;
    ps->level = level;
    ps->in_bytes = in_bytes;
    if (level > ps->deepest)
        ps->deepest = level;
    ps->parts = mgov__calloc(ps->n, sizeof *ps->parts);
    if (!ps->parts)
        return MGOV_ENOMEM;
    for (unsigned i = 0; i < ps->sides; i++) {
        int rc = mgov__part_out_init(&ps->out[i], op, ps->n, ps->rec_size);
        if (rc != MGOV_OK)
            return rc;
    }
    for (unsigned p = 0; p < ps->n; p++) {
        int rc = mgov__slots_init(op, &ps->parts[p].slots);
        if (rc == MGOV_OK)
            rc = mgov__op_buf_init_large(op, &ps->parts[p].rows);
        if (rc != MGOV_OK)
            return rc; /* movable buffers map nothing: cannot fail today */
    }
    ps->active = true;
    return MGOV_OK;
}

unsigned mgov__op_pass_width(const mgov__op_pass_t *ps, const mgov__part_file_t *f, uint64_t est,
                             uint64_t fit)
{
    bool shrank = f->parent_bytes == UINT64_MAX || f->bytes < f->parent_bytes / 10 * 9;
    return est <= fit && shrank ? 0 : ps->bits_max;
}

void mgov__op_pass_free(mgov__op_pass_t *ps)
{
    if (ps->parts)
        for (unsigned p = 0; p < ps->n; p++)
            mgov__ptab_free(&ps->parts[p]);
    free(ps->parts);
    ps->parts = NULL;
    for (unsigned i = 0; i < ps->sides; i++)
        mgov__part_out_free(&ps->out[i]);
    ps->active = false;
}

int mgov__op_pass_largest(const mgov__op_pass_t *ps)
{
    int best = -1;
    uint64_t most = 0;
    for (unsigned p = 0; ps->parts && p < ps->n; p++) {
        uint64_t b = mgov__ptab_bytes(&ps->parts[p]);
        if (ps->parts[p].nrows && b > most) {
            most = b;
            best = (int)p;
        }
    }
    return best;
}
