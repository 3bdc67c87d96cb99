/* alloc/gbuf.c - grant-backed growable memory (see alloc/gbuf.h).
 *
 * The order is the point: a grow reserves before it maps and releases the
 * reservation if mapping fails; a shrink discards the pages before it
 * gives the grant back, so there is no moment when memory is resident but
 * not charged.
 *
 * Locking: none; one thread per buffer.
 */
#include "alloc/gbuf.h"

#include <stdbool.h>
#include <string.h>

#include "sys/fileio.h"
#include "sys/sys.h"

static void publish(mgov__gbuf_t *g, size_t old_cap)
{
    if (g->published && g->cap != old_cap) {
        if (g->cap > old_cap)
            atomic_fetch_add_explicit(g->published, g->cap - old_cap, memory_order_relaxed);
        else
            atomic_fetch_sub_explicit(g->published, old_cap - g->cap, memory_order_relaxed);
    }
}

int mgov__gbuf_init(mgov__gbuf_t *g, mgov_t *gov, int region, unsigned flags, size_t max,
                    _Atomic uint64_t *published)
{
    memset(g, 0, sizeof *g);
    g->gov = gov;
    g->region = region;
    g->flags = flags;
    g->published = published;
    if (max) {
        size_t len = mgov__page_round(max);
        void *p;
        if (mgov__mmap_reserve(len, &p) != 0)
            return MGOV_ENOMEM;
        g->base = p;
        g->max = len;
    }
    return MGOV_OK;
}

/* Adds `bytes` to the grant: fail-fast or waiting, with `flags` on top of
 * the buffer's own. */
static int charge_more(mgov__gbuf_t *g, uint64_t bytes, int64_t timeout_ns, unsigned flags)
{
    mgov_grant_t more = MGOV_GRANT_INIT;
    flags |= g->flags;
    int rc = timeout_ns == 0 ? mgov_try_reserve(g->gov, g->region, bytes, flags, &more)
                             : mgov_reserve(g->gov, g->region, bytes, flags, timeout_ns, &more);
    if (rc != MGOV_OK)
        return rc;
    if (!g->grant.gov) {
        g->grant = more;
        g->grant.flags = g->flags; /* later resizes: the buffer's flags only */
    } else if ((rc = mgov_grant_merge(&g->grant, &more)) != MGOV_OK) {
        mgov_grant_release(&more);
    }
    return rc;
}

/* Maps what the grant now covers (movable): new_cap bytes; with populate,
 * faults the new pages in. */
static int map_to(mgov__gbuf_t *g, size_t new_cap, bool populate)
{
    if (g->max) { /* fixed: the reservation is there; pages fault in */
        mgov__pages_huge_runs(g->base, g->cap, new_cap);
        if (populate)
            mgov__pages_populate(g->base + g->cap, new_cap - g->cap);
        return MGOV_OK;
    }
    void *p = g->base;
    int err = p ? mgov__mremap(&p, g->cap, new_cap) : mgov__mmap_anon(new_cap, populate, &p);
    if (err)
        return MGOV_ENOMEM;
    if (g->base && new_cap >= MGOV__HUGE_MIN) { /* grown past the threshold */
        mgov__pages_advise_huge(p, new_cap);
        if (populate)
            mgov__pages_populate((unsigned char *)p + g->cap, new_cap - g->cap);
    } else if (g->base && populate) {
        mgov__pages_populate((unsigned char *)p + g->cap, new_cap - g->cap);
    }
    g->base = p;
    return MGOV_OK;
}

int mgov__gbuf_grow(mgov__gbuf_t *g, size_t need, size_t want, int64_t timeout_ns, unsigned how)
{
    size_t n = mgov__page_round(need);
    if (n <= g->cap)
        return MGOV_OK;
    if (g->max && n > g->max)
        return MGOV_ELIMIT;
    size_t w = want > need ? mgov__page_round(want) : n;
    if (g->max && w > g->max)
        w = g->max;
    unsigned flags = how & ~MGOV__GBUF_POPULATE;
    int rc = MGOV_EBUDGET;
    if (w > n) /* the guess: only if it costs no one anything */
        rc = charge_more(g, w - g->cap, 0, flags | MGOV_NO_RECLAIM);
    if (rc == MGOV_OK)
        n = w;
    else if ((rc = charge_more(g, n - g->cap, timeout_ns, flags)) != MGOV_OK)
        return rc;
    if ((rc = map_to(g, n, how & MGOV__GBUF_POPULATE)) != MGOV_OK) {
        mgov_grant_resize(&g->grant, g->cap); /* shrinking never fails */
        if (!g->cap)
            mgov_grant_release(&g->grant);
        return rc;
    }
    size_t old = g->cap;
    g->cap = n;
    publish(g, old);
    return MGOV_OK;
}

int mgov__gbuf_grow_from(mgov__gbuf_t *g, size_t need, mgov_grant_t *src)
{
    size_t n = mgov__page_round(need);
    if (n <= g->cap)
        return MGOV_OK;
    if (g->max && n > g->max)
        return MGOV_ELIMIT;
    uint64_t more = n - g->cap;
    if (!src || src->gov != g->gov || src->region != g->region || src->bytes < more)
        return MGOV_EINVAL;
    int rc = map_to(g, n, false); /* address space only: nothing resident yet */
    if (rc != MGOV_OK)
        return rc;
    mgov_grant_t part = MGOV_GRANT_INIT;
    mgov_grant_split(src, more, &part); /* cannot fail: checked above */
    if (!g->grant.gov) {
        g->grant = part;
        g->grant.flags = g->flags;
    } else {
        mgov_grant_merge(&g->grant, &part); /* same governor and region */
    }
    size_t old = g->cap;
    g->cap = n;
    publish(g, old);
    return MGOV_OK;
}

void mgov__gbuf_shrink(mgov__gbuf_t *g, size_t keep)
{
    size_t k = mgov__page_round(keep);
    if (k >= g->cap)
        return;
    size_t old = g->cap;
    if (g->max) {
        mgov__pages_discard(g->base + k, g->cap - k);
        mgov__pages_no_huge_from(g->base, k, g->cap);
    } else if (k == 0) {
        mgov__munmap(g->base, g->cap);
        g->base = NULL;
    } else {
        void *p = g->base;
        if (mgov__mremap(&p, g->cap, k) != 0)
            return; /* keep the larger mapping: still correct, still charged */
        g->base = p;
    }
    g->cap = k;
    if (k)
        mgov_grant_resize(&g->grant, k);
    else
        mgov_grant_release(&g->grant);
    publish(g, old);
}

void mgov__gbuf_free(mgov__gbuf_t *g)
{
    if (!g)
        return;
    mgov__gbuf_shrink(g, 0);
    if (g->max && g->base)
        mgov__munmap(g->base, g->max);
    g->base = NULL;
    g->max = 0;
}

void mgov__gbuf_move(mgov__gbuf_t *to, mgov__gbuf_t *from)
{
    *to = *from;
    from->base = NULL;
    from->cap = 0;
    from->max = 0;
    from->grant = (mgov_grant_t)MGOV_GRANT_INIT;
}
