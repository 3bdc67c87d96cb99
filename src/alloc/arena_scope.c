/* alloc/arena_scope.c - freeing in bulk (reset, marks, rewind) and
 * inspection (used, reserved, check) of arenas.
 *
 * None of these may run while another thread allocates from the arena (see
 * memgov/arena.h), so they take no lock: they read and rewrite the chunk
 * list directly.  They keep the invariants listed in arena_internal.h; check
 * verifies them.
 */
#include "alloc/alloc_internal.h"
#include "alloc/arena_internal.h"

/* Frees every chunk newer than `newer_than` except `keep`, recounting the
 * survivors.  Makes `keep` (or, if NULL, no chunk) the one being bumped. */
static void drop_chunks(mgov_arena_t *a, uint64_t newer_than, mgov__chunk_t *keep)
{
    mgov__chunk_t **link = &a->head;
    size_t n = 0, bytes = 0;
    for (mgov__chunk_t *c = a->head, *next; c; c = next) {
        next = c->next;
        if (c != keep && c->seq > newer_than) {
            mgov__arena_chunk_free(c);
            continue;
        }
        *link = c;
        link = &c->next;
        n++;
        bytes += c->size;
    }
    *link = NULL;
    a->n_chunks = n;
    atomic_store_explicit(&a->reserved, bytes, memory_order_relaxed);
    atomic_store_explicit(&a->cur, keep, memory_order_relaxed);
}

/* Moves c's position back to `pos` and poisons what lies beyond. */
static void truncate_chunk(mgov__chunk_t *c, uintptr_t pos)
{
    atomic_store_explicit(&c->pos, pos, memory_order_relaxed);
    MGOV__POISON((void *)pos, c->end - pos);
}

/* The oldest standard chunk newer than `newer_than`: the one to keep. */
static mgov__chunk_t *oldest_standard(const mgov_arena_t *a, uint64_t newer_than)
{
    mgov__chunk_t *keep = NULL;
    for (mgov__chunk_t *c = a->head; c && c->seq > newer_than; c = c->next)
        if (!c->dedicated)
            keep = c;
    return keep;
}

void mgov_arena_reset(mgov_arena_t *a)
{
    if (!a)
        return;
    mgov__chunk_t *keep = oldest_standard(a, 0);
    drop_chunks(a, 0, keep);
    if (keep)
        truncate_chunk(keep, keep->base);
    a->generation++;
    mgov__arena_cursor_load(a);
}

mgov_arena_mark_t mgov_arena_mark(mgov_arena_t *a)
{
    mgov_arena_mark_t m = { 0, 0, 0, 0 };
    if (!a)
        return m;
    m.generation = a->generation;
    m.newest_seq = a->head ? a->head->seq : 0;
    mgov__chunk_t *c = atomic_load_explicit(&a->cur, memory_order_relaxed);
    if (c) {
        m.chunk_seq = c->seq;
        m.offset = mgov__arena_chunk_pos(a, c) - c->base;
    }
    return m;
}

int mgov_arena_rewind(mgov_arena_t *a, mgov_arena_mark_t m)
{
    if (!a || m.generation != a->generation || m.chunk_seq > m.newest_seq ||
        m.newest_seq > a->next_seq || (m.chunk_seq == 0 && m.offset != 0))
        return MGOV_EINVAL;
    mgov__chunk_t *target = NULL;
    if (m.chunk_seq != 0) {
        for (mgov__chunk_t *c = a->head; c && c->seq >= m.chunk_seq; c = c->next)
            if (c->seq == m.chunk_seq)
                target = c;
        if (!target || target->dedicated ||
            m.offset > mgov__arena_chunk_pos(a, target) - target->base)
            return MGOV_EINVAL;
    }
    mgov__arena_cursor_sync(a);
    if (target) {
        drop_chunks(a, m.newest_seq, target);
        truncate_chunk(target, target->base + m.offset);
    } else {
        /* nothing was being bumped: keep one newer standard chunk, empty */
        mgov__chunk_t *keep = oldest_standard(a, m.newest_seq);
        drop_chunks(a, m.newest_seq, keep);
        if (keep)
            truncate_chunk(keep, keep->base);
    }
    mgov__arena_cursor_load(a);
    return MGOV_OK;
}

size_t mgov_arena_used(const mgov_arena_t *a)
{
    size_t used = 0;
    for (const mgov__chunk_t *c = a ? a->head : NULL; c; c = c->next)
        used += mgov__arena_chunk_pos(a, c) - c->base;
    return used;
}

size_t mgov_arena_reserved(const mgov_arena_t *a)
{
    return a ? atomic_load_explicit(&a->reserved, memory_order_relaxed) : 0;
}

size_t mgov_arena_chunk_count(const mgov_arena_t *a)
{
    return a ? a->n_chunks : 0;
}

static bool chunk_ok(const mgov_arena_t *a, const mgov__chunk_t *c, uint64_t prev_seq)
{
    uintptr_t pos = mgov__arena_chunk_pos(a, c);
    if (c->seq == 0 || c->seq >= prev_seq || c->base < (uintptr_t)c || c->end < c->base ||
        c->end - (uintptr_t)c != c->size || pos < c->base || pos > c->end)
        return false;
    if (a->gov)
        return c->grant.gov == a->gov && c->grant.region == a->region && c->grant.bytes == c->size;
    return c->grant.gov == NULL;
}

int mgov_arena_check(const mgov_arena_t *a)
{
    if (!a)
        return MGOV_EINVAL;
    const mgov__chunk_t *cur = atomic_load_explicit(&a->cur, memory_order_relaxed);
    size_t n = 0, bytes = 0;
    bool cur_found = cur == NULL;
    uint64_t prev = a->next_seq + 1;
    for (const mgov__chunk_t *c = a->head; c; c = c->next) {
        if (n >= a->n_chunks || !chunk_ok(a, c, prev))
            return MGOV_ECORRUPT;
        prev = c->seq;
        cur_found |= c == cur;
        n++;
        bytes += c->size;
    }
    if (n != a->n_chunks || bytes != atomic_load_explicit(&a->reserved, memory_order_relaxed) ||
        !cur_found || (cur && cur->dedicated))
        return MGOV_ECORRUPT;
    bool cursor_on = a->cursor_enabled && cur;
    if (cursor_on ? a->cursor.end != cur->end || a->cursor.limit != a->chunk_size / 2 + 1
                  : a->cursor.limit != 0)
        return MGOV_ECORRUPT;
    return MGOV_OK;
}
