/* ops/op_table.c - the hash operators' slot array (see ops/op_table.h).
 *
 * Invariants: used <= 3/4 of the slots; every reference the operator put
 * is in exactly one slot.
 * Locking: none; one operator's thread.
 */
#include "ops/op_table.h"

#include "sys/sys.h"

#define INIT_SLOTS 512u

int mgov__slots_init(mgov__op_t *op, mgov__slots_t *s)
{
    s->mask = 0;
    s->used = 0;
    return mgov__op_buf_init(op, &s->buf, 0);
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
    int rc = mgov__op_buf_init(op, &nb, 0);
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
