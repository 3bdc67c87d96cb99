/* alloc/arena.c - arenas: creation, destruction and allocation (the slow
 * path behind the inline bump in memgov/arena.h).
 *
 * A chunk is one aligned system allocation: its header, then its data.  It
 * is charged to the governor before it is allocated and the grant is
 * returned after it is freed, so the arena's grants always cover its
 * memory.  Requests larger than half a chunk (or that could not fit in an
 * empty one) get a dedicated chunk sized for them; it is linked into the
 * list but never becomes `cur`, so the chunk being bumped keeps its space.
 *
 * Locking: single-threaded mode has none.  Thread-safe mode bumps `cur`'s
 * position with a CAS; adding a chunk reserves and allocates it with no lock
 * held (the governor may run reclaim in this thread), then links it under
 * a->lock.  When another thread installed a chunk meanwhile, ours is freed
 * and the bump retried there.  The invariants are in arena_internal.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc_internal.h"
#include "alloc/arena_internal.h"
#include "sys/fault.h"

/* dedicated chunks are cache-line aligned; standard ones page aligned and a
 * whole number of pages, so their end satisfies the inline path's rule */
#define CHUNK_ALIGN ((size_t)64)
#define STD_CHUNK_ALIGN MGOV__ARENA_INLINE_ALIGN
#define HEADER_SIZE ((sizeof(mgov__chunk_t) + CHUNK_ALIGN - 1) & ~(CHUNK_ALIGN - 1))
#define KNOWN_FLAGS ((unsigned)MGOV_ARENA_THREAD_SAFE)
#define KNOWN_GRANT_FLAGS ((unsigned)(MGOV_URGENT | MGOV_REVOCABLE | MGOV_NO_RECLAIM))

#ifdef MGOV__ASAN
/* each allocation starts on its own shadow granule, so its end can be
 * poisoned exactly and concurrent unpoisoning never shares a granule */
#define MIN_ALIGN ((size_t)8)
#else
#define MIN_ALIGN ((size_t)1)
#endif

static void *fail(mgov_arena_t *a, int rc)
{
    atomic_store_explicit(&a->last_error, rc, memory_order_relaxed);
    return NULL;
}

static uintptr_t align_up(uintptr_t v, size_t al)
{
    return (v + (al - 1)) & ~(uintptr_t)(al - 1);
}

/* The address of `size` bytes aligned to `al` at `pos` in c, or 0. */
static uintptr_t fit(const mgov__chunk_t *c, uintptr_t pos, size_t size, size_t al)
{
    uintptr_t p = align_up(pos, al);
    if (p < pos || p > c->end || size > c->end - p)
        return 0;
    return p;
}

static uintptr_t bump_plain(mgov__chunk_t *c, size_t size, size_t al)
{
    uintptr_t p = fit(c, atomic_load_explicit(&c->pos, memory_order_relaxed), size, al);
    if (p)
        atomic_store_explicit(&c->pos, p + size, memory_order_relaxed);
    return p;
}

static uintptr_t bump_atomic(mgov__chunk_t *c, size_t size, size_t al)
{
    uintptr_t pos = atomic_load_explicit(&c->pos, memory_order_relaxed);
    for (;;) {
        uintptr_t p = fit(c, pos, size, al);
        if (!p)
            return 0;
        if (atomic_compare_exchange_weak_explicit(&c->pos, &pos, p + size, memory_order_relaxed,
                                                  memory_order_relaxed))
            return p;
    }
}

static void *hand_out(uintptr_t p, size_t size)
{
    MGOV__UNPOISON((void *)p, size);
    return (void *)p;
}

/* --------------------------------------------------------------- chunks */

/* A new chunk, charged and allocated, not linked: a standard one of
 * a->chunk_size bytes, or a dedicated one with room for `need` data bytes. */
static int chunk_new(mgov_arena_t *a, bool dedicated, size_t need, mgov__chunk_t **out)
{
    size_t size = a->chunk_size;
    if (dedicated) {
        if (need > SIZE_MAX - HEADER_SIZE - CHUNK_ALIGN)
            return MGOV_EOVERFLOW;
        size = (HEADER_SIZE + need + CHUNK_ALIGN - 1) & ~(CHUNK_ALIGN - 1);
    }
    mgov_grant_t g = MGOV_GRANT_INIT;
    if (a->gov) {
        int rc = a->timeout_ns == 0
                     ? mgov_try_reserve(a->gov, a->region, size, a->grant_flags, &g)
                     : mgov_reserve(a->gov, a->region, size, a->grant_flags, a->timeout_ns, &g);
        if (rc != MGOV_OK)
            return rc;
    }
    mgov__chunk_t *c = mgov__aligned_alloc(dedicated ? CHUNK_ALIGN : STD_CHUNK_ALIGN, size);
    if (!c) {
        mgov_grant_release(&g);
        return MGOV_ENOMEM;
    }
    c->next = NULL;
    c->seq = 0;
    c->base = (uintptr_t)c + HEADER_SIZE;
    c->end = (uintptr_t)c + size;
    atomic_init(&c->pos, c->base);
    c->size = size;
    c->dedicated = dedicated;
    c->grant = g;
    MGOV__POISON((void *)c->base, c->end - c->base);
    *out = c;
    return MGOV_OK;
}

void mgov__arena_chunk_free(mgov__chunk_t *c)
{
    mgov_grant_t g = c->grant;
    MGOV__UNPOISON((void *)c->base, c->end - c->base);
    free(c);
    mgov_grant_release(&g);
}

/* Links c as the newest chunk, and as cur unless dedicated.  Thread-safe
 * mode: caller holds a->lock. */
static void chunk_link(mgov_arena_t *a, mgov__chunk_t *c)
{
    c->seq = ++a->next_seq;
    c->next = a->head;
    a->head = c;
    a->n_chunks++;
    atomic_fetch_add_explicit(&a->reserved, c->size, memory_order_relaxed);
    if (!c->dedicated) {
        /* the cursor is touched only when on: in thread-safe mode other
         * threads read it (inline) while this one links */
        if (a->cursor_enabled)
            mgov__arena_cursor_sync(a);
        /* release: pairs with the acquire in alloc_shared: a thread that
         * finds c there sees its header (base, end, pos) */
        atomic_store_explicit(&a->cur, c, memory_order_release);
        if (a->cursor_enabled)
            mgov__arena_cursor_load(a);
    }
}

/* ----------------------------------------------------------- the cursor */

void mgov__arena_cursor_sync(mgov_arena_t *a)
{
    mgov__chunk_t *c = atomic_load_explicit(&a->cur, memory_order_relaxed);
    if (a->cursor_enabled && c)
        atomic_store_explicit(&c->pos, a->cursor.pos, memory_order_relaxed);
}

void mgov__arena_cursor_load(mgov_arena_t *a)
{
    mgov__chunk_t *c = atomic_load_explicit(&a->cur, memory_order_relaxed);
    if (a->cursor_enabled && c) {
        a->cursor.pos = atomic_load_explicit(&c->pos, memory_order_relaxed);
        a->cursor.end = c->end;
        a->cursor.limit = a->chunk_size / 2 + 1;
    } else {
        a->cursor.pos = 0;
        a->cursor.end = 0;
        a->cursor.limit = 0; /* the inline path always declines */
    }
}

uintptr_t mgov__arena_chunk_pos(const mgov_arena_t *a, const mgov__chunk_t *c)
{
    if (a->cursor_enabled && c == atomic_load_explicit(&a->cur, memory_order_relaxed))
        return a->cursor.pos;
    return atomic_load_explicit(&c->pos, memory_order_relaxed);
}

/* ------------------------------------------------------------ lifecycle */

int mgov__arena_create_in(const mgov_arena_config_t *cfg, int region, mgov_arena_t **out)
{
    size_t chunk = cfg->chunk_size ? cfg->chunk_size : MGOV_ARENA_DEFAULT_CHUNK;
    if (chunk < MGOV_ARENA_MIN_CHUNK || chunk > MGOV_ARENA_MAX_CHUNK ||
        (cfg->flags & ~KNOWN_FLAGS) || (cfg->grant_flags & ~KNOWN_GRANT_FLAGS))
        return MGOV_EINVAL;
    mgov_arena_t *a = mgov__calloc(1, sizeof *a);
    if (!a)
        return MGOV_ENOMEM;
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        free(a);
        return MGOV_ENOMEM;
    }
    a->chunk_size = (chunk + STD_CHUNK_ALIGN - 1) & ~(STD_CHUNK_ALIGN - 1);
    a->gov = cfg->gov;
    a->region = region;
    a->grant_flags = cfg->grant_flags;
    a->timeout_ns = cfg->timeout_ns;
    a->thread_safe = (cfg->flags & MGOV_ARENA_THREAD_SAFE) != 0;
#ifdef MGOV__ASAN
    a->cursor_enabled = false; /* every allocation must unpoison its bytes */
#else
    a->cursor_enabled = !a->thread_safe;
#endif
    atomic_init(&a->cur, NULL);
    atomic_init(&a->reserved, 0);
    atomic_init(&a->last_error, MGOV_OK);
    mgov__arena_cursor_load(a);
    *out = a;
    return MGOV_OK;
}

int mgov_arena_create(const mgov_arena_config_t *cfg, mgov_arena_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    static const mgov_arena_config_t defaults = MGOV_ARENA_CONFIG_INIT;
    if (!cfg)
        cfg = &defaults;
    int region = 0;
    if (cfg->gov) {
        int rc = mgov__region_resolve(cfg->gov, cfg->region, MGOV__ALLOC_DEFAULT_REGION,
                                      &region);
        if (rc != MGOV_OK)
            return rc;
    }
    return mgov__arena_create_in(cfg, region, out);
}

void mgov_arena_destroy(mgov_arena_t *a)
{
    if (!a)
        return;
    for (mgov__chunk_t *c = a->head, *next; c; c = next) {
        next = c->next;
        mgov__arena_chunk_free(c);
    }
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* ----------------------------------------------------------- allocation */

static void *alloc_single(mgov_arena_t *a, size_t size, size_t al, bool dedicated, size_t need)
{
    mgov__chunk_t *c = atomic_load_explicit(&a->cur, memory_order_relaxed);
    if (c && !dedicated) {
        mgov__arena_cursor_sync(a);
        uintptr_t p = bump_plain(c, size, al);
        if (p) {
            mgov__arena_cursor_load(a);
            return hand_out(p, size);
        }
    }
    mgov__chunk_t *n;
    int rc = chunk_new(a, dedicated, need, &n);
    if (rc != MGOV_OK)
        return fail(a, rc);
    uintptr_t p = bump_plain(n, size, al); /* fits: chunk_new sized it */
    chunk_link(a, n);
    return hand_out(p, size);
}

static void *alloc_shared(mgov_arena_t *a, size_t size, size_t al, bool dedicated, size_t need)
{
    for (;;) {
        /* acquire: pairs with the release in chunk_link (c's header) */
        mgov__chunk_t *c = atomic_load_explicit(&a->cur, memory_order_acquire);
        if (c && !dedicated) {
            uintptr_t p = bump_atomic(c, size, al);
            if (p)
                return hand_out(p, size);
        }
        mgov__chunk_t *n;
        int rc = chunk_new(a, dedicated, need, &n);
        if (rc != MGOV_OK)
            return fail(a, rc);
        uintptr_t p = bump_plain(n, size, al); /* still private: no race */
        pthread_mutex_lock(&a->lock);
        if (dedicated || atomic_load_explicit(&a->cur, memory_order_relaxed) == c) {
            chunk_link(a, n);
            pthread_mutex_unlock(&a->lock);
            return hand_out(p, size);
        }
        pthread_mutex_unlock(&a->lock);
        mgov__arena_chunk_free(n); /* another thread added a chunk: use it */
    }
}

void *mgov_arena_alloc_slow(mgov_arena_t *a, size_t size, size_t align)
{
    if (!a)
        return NULL;
    size_t al = align ? align : MGOV_ARENA_DEFAULT_ALIGN;
    if ((al & (al - 1)) != 0 || al > mgov__page_size())
        return fail(a, MGOV_EINVAL);
    if (al < MIN_ALIGN)
        al = MIN_ALIGN;
    if (size > SIZE_MAX - al)
        return fail(a, MGOV_EOVERFLOW);
    /* room that holds `size` aligned to `al` wherever the data area starts
     * (chunk data starts CHUNK_ALIGN-aligned) */
    size_t need = size + (al > CHUNK_ALIGN ? al - CHUNK_ALIGN : 0);
    bool dedicated = size > a->chunk_size / 2 || need > a->chunk_size - HEADER_SIZE;
    return a->thread_safe ? alloc_shared(a, size, al, dedicated, need)
                          : alloc_single(a, size, al, dedicated, need);
}

void *mgov_arena_zalloc(mgov_arena_t *a, size_t size, size_t align)
{
    void *p = mgov_arena_alloc(a, size, align);
    if (p && size)
        memset(p, 0, size);
    return p;
}

void *mgov_arena_alloc_array(mgov_arena_t *a, size_t n, size_t elem_size, size_t align)
{
    if (!a)
        return NULL;
    if (elem_size && n > SIZE_MAX / elem_size)
        return fail(a, MGOV_EOVERFLOW);
    return mgov_arena_alloc(a, n * elem_size, align);
}

char *mgov_arena_strdup(mgov_arena_t *a, const char *s)
{
    if (!a)
        return NULL;
    if (!s)
        return fail(a, MGOV_EINVAL);
    size_t n = strlen(s) + 1;
    char *p = mgov_arena_alloc(a, n, 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

void *mgov_arena_memdup(mgov_arena_t *a, const void *src, size_t n)
{
    if (!a)
        return NULL;
    if (!src && n)
        return fail(a, MGOV_EINVAL);
    void *p = mgov_arena_alloc(a, n, 0);
    if (p && n)
        memcpy(p, src, n);
    return p;
}

int mgov_arena_last_error(const mgov_arena_t *a)
{
    return a ? atomic_load_explicit(&a->last_error, memory_order_relaxed) : MGOV_EINVAL;
}
