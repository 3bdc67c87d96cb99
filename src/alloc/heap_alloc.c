/* alloc/heap_alloc.c - the heap's calls (malloc, calloc, realloc, aligned,
 * free, usable size) and the per-thread slots behind them.
 *
 * The fast path of an allocation: find the calling thread's slot for the
 * heap (a thread-local cache of the last heap used, else a short table),
 * check that its slack covers an upper bound of the block's usable size,
 * ask jemalloc (the heap's arena, the thread's own explicit tcache for
 * it), and subtract the usable size, which jemalloc's per-thread counter
 * of allocated bytes gives without a lookup.  A free adds the usable size
 * back (jemalloc's counter of freed bytes).  Neither touches the governor
 * nor any memory another thread writes: no locked instruction of ours.
 *
 *   usable size <= size + size/4 + 16    (jemalloc's classes: 4 per
 *                                         doubling, 16-byte quantum)
 *
 * The slow paths: refill (the slack short; the governor is asked for
 * slack/2 beyond the block, first without reclaim, then for the block
 * alone as configured), return (a free took the slack past its maximum:
 * back down to slack/2), big blocks (above slack/2: charged and returned
 * exactly), and the give-back asked by reclaim (heap->ask moved).
 *
 * The thread table holds, per heap this thread used, its slot, keyed by
 * the heap's id (ids are never reused, so an entry of a destroyed heap
 * never matches a new one).  Entries whose slot is dead (heap destroyed)
 * are freed when the table next grows, and at thread exit.  Thread exit
 * (a pthread key destructor) gives every live slot's slack back, destroys
 * its tcache and folds its counters into the heap.
 *
 * ThreadSanitizer: jemalloc is not instrumented, so the reuse of a freed
 * block by another thread is made visible to TSan by hand: a free is a
 * release on the block's address, an allocation an acquire.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc_internal.h"
#include "alloc/heap_internal.h"
#include "alloc/je.h"
#include "sys/fault.h"
#include "sys/debug.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define R memory_order_relaxed

#if defined(__SANITIZE_THREAD__)
#define MGOV__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MGOV__TSAN 1
#endif
#endif
#ifdef MGOV__TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#define TSAN_RELEASE(p) __tsan_release(p)
#else
#define TSAN_ACQUIRE(p) ((void)(p))
#define TSAN_RELEASE(p) ((void)(p))
#endif

pthread_mutex_t mgov__heaps_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------- thread table */

typedef struct tls_entry {
    uint64_t id;
    mgov__heap_slot_t *s;
} tls_entry_t;

typedef struct tls_table {
    uint64_t last_id;           /* cache of the last heap used */
    mgov__heap_slot_t *last;
    tls_entry_t *v;
    unsigned n, cap;
    uint64_t *allocp, *deallocp; /* jemalloc's counters of this thread (usable bytes) */
    unsigned busy;              /* inside a slow path that may reach the governor */
    int error;                  /* when no slot could be made */
    bool keyed;
} tls_table_t;

/* initial-exec: jemalloc makes libmemgov.so need static TLS anyway, and
 * the fast path then reads it without a call */
static __thread tls_table_t tls __attribute__((tls_model("initial-exec")));
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_key_ok;

bool mgov__heap_busy(void)
{
    return tls.busy != 0;
}

static void slot_retire_locked(mgov__heap_slot_t *s)
{
    /* heaps_lock held; the slot is alive: its heap exists */
    mgov_heap_t *h = s->heap;
    int64_t avail = atomic_load_explicit(&s->avail, R);
    pthread_mutex_lock(&h->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->slots = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->n_slots--;
    h->gone_mallocs += atomic_load_explicit(&s->mallocs, R);
    h->gone_frees += atomic_load_explicit(&s->frees, R);
    h->gone_in += atomic_load_explicit(&s->bytes_in, R);
    h->gone_out += atomic_load_explicit(&s->bytes_out, R);
    pthread_mutex_unlock(&h->lock);
    if (avail > 0)
        mgov__heap_uncharge(h, (uint64_t)avail);
    if (s->tcache != MGOV__HEAP_NO_TCACHE)
        mgov__je_mallctl("tcache.destroy", NULL, NULL, &s->tcache, sizeof s->tcache);
}

static void thread_exit(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mgov__heaps_lock);
    for (unsigned i = 0; i < tls.n; i++) {
        mgov__heap_slot_t *s = tls.v[i].s;
        /* acquire: pairs with the release in mgov_heap_destroy; after it
         * the heap no longer touches the slot */
        if (!atomic_load_explicit(&s->dead, memory_order_acquire))
            slot_retire_locked(s);
        free(s);
    }
    pthread_mutex_unlock(&mgov__heaps_lock);
    free(tls.v);
    tls = (tls_table_t){ 0 };
}

static void key_make(void)
{
    tls_key_ok = pthread_key_create(&tls_key, thread_exit) == 0;
}

static int table_init(void)
{
    if (tls.keyed)
        return MGOV_OK;
    pthread_once(&tls_once, key_make);
    if (!tls_key_ok)
        return MGOV_ENOMEM;
    size_t sz = sizeof tls.allocp;
    if (mgov__je_mallctl("thread.allocatedp", &tls.allocp, &sz, NULL, 0) != 0 ||
        mgov__je_mallctl("thread.deallocatedp", &tls.deallocp, &sz, NULL, 0) != 0)
        return MGOV_ENOMEM;
    if (pthread_setspecific(tls_key, &tls) != 0)
        return MGOV_ENOMEM;
    tls.keyed = true;
    return MGOV_OK;
}

/* Frees entries of destroyed heaps. */
static void table_sweep(void)
{
    unsigned k = 0;
    for (unsigned i = 0; i < tls.n; i++) {
        mgov__heap_slot_t *s = tls.v[i].s;
        /* acquire: as in thread_exit */
        if (atomic_load_explicit(&s->dead, memory_order_acquire)) {
            if (tls.last == s) {
                tls.last = NULL;
                tls.last_id = 0;
            }
            free(s);
        } else {
            tls.v[k++] = tls.v[i];
        }
    }
    tls.n = k;
}

mgov__heap_slot_t *mgov__heap_slot_find(mgov_heap_t *h)
{
    if (tls.last_id == h->id)
        return tls.last;
    for (unsigned i = 0; i < tls.n; i++)
        if (tls.v[i].id == h->id)
            return tls.v[i].s;
    return NULL;
}

static mgov__heap_slot_t *slot_new(mgov_heap_t *h)
{
    int rc = table_init();
    if (rc != MGOV_OK) {
        tls.error = rc;
        return NULL;
    }
    if (tls.n == tls.cap) {
        table_sweep();
        if (tls.n == tls.cap) {
            unsigned cap = tls.cap ? tls.cap * 2 : 8;
            tls_entry_t *v = realloc(tls.v, cap * sizeof *v);
            if (!v) {
                tls.error = MGOV_ENOMEM;
                return NULL;
            }
            tls.v = v;
            tls.cap = cap;
        }
    }
    mgov__heap_slot_t *s = mgov__calloc(1, sizeof *s);
    if (!s) {
        tls.error = MGOV_ENOMEM;
        return NULL;
    }
    /* a tcache of its own for this heap: jemalloc's automatic one would
     * mix the blocks of several heaps (its bins are per size, not arena) */
    unsigned tc;
    size_t sz = sizeof tc;
    if (mgov__je_mallctl("tcache.create", &tc, &sz, NULL, 0) == 0) {
        s->tcache = tc;
        s->flags = MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE(tc);
    } else { /* jemalloc's explicit tcaches are used up: slower, still right */
        s->tcache = MGOV__HEAP_NO_TCACHE;
        s->flags = MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE_NONE;
    }
    s->seen_ask = atomic_load_explicit(&h->ask, R);
    s->heap = h;
    pthread_mutex_lock(&h->lock);
    s->next = h->slots;
    if (s->next)
        s->next->prev = s;
    h->slots = s;
    h->n_slots++;
    pthread_mutex_unlock(&h->lock);
    tls.v[tls.n++] = (tls_entry_t){ h->id, s };
    return s;
}

mgov__heap_slot_t *mgov__heap_slot_get(mgov_heap_t *h)
{
    mgov__heap_slot_t *s = mgov__heap_slot_find(h);
    if (!s && !(s = slot_new(h)))
        return NULL;
    tls.last_id = h->id;
    tls.last = s;
    return s;
}

static inline mgov__heap_slot_t *slot_of(mgov_heap_t *h)
{
    if (likely(tls.last_id == h->id))
        return tls.last;
    return mgov__heap_slot_get(h);
}

void mgov__heap_forget(mgov_heap_t *h)
{
    for (unsigned i = 0; i < tls.n; i++) {
        if (tls.v[i].id != h->id)
            continue;
        tls.v[i] = tls.v[--tls.n];
        break;
    }
    if (tls.last_id == h->id) {
        tls.last_id = 0;
        tls.last = NULL;
    }
}

/* --------------------------------------------------------- accounting */

static inline void add_relaxed(_Atomic uint64_t *c, uint64_t v)
{
    /* the owner thread is the only writer: a plain add, no lock prefix */
    atomic_store_explicit(c, atomic_load_explicit(c, R) + v, R);
}

void mgov__heap_slot_drain(mgov_heap_t *h, mgov__heap_slot_t *s)
{
    int64_t avail = atomic_load_explicit(&s->avail, R);
    s->seen_ask = atomic_load_explicit(&h->ask, R);
    if (avail > 0) {
        atomic_store_explicit(&s->avail, 0, R);
        mgov__heap_uncharge(h, (uint64_t)avail);
    }
    if (s->tcache != MGOV__HEAP_NO_TCACHE)
        mgov__je_mallctl("tcache.flush", NULL, NULL, &s->tcache, sizeof s->tcache);
}

static void *fail(mgov__heap_slot_t *s, int rc)
{
    if (s)
        s->last_error = rc;
    else
        tls.error = rc;
    return NULL;
}

/* Makes the slot's avail cover `need` bytes: slack/2 beyond them if that
 * costs no one anything, else just them, as configured. */
static int refill(mgov_heap_t *h, mgov__heap_slot_t *s, int64_t need)
{
    int64_t avail = atomic_load_explicit(&s->avail, R);
    if (avail >= need)
        return MGOV_OK;
    int64_t want = need - avail + h->slack / 2;
    int64_t must = need - avail;
    tls.busy++;
    int rc = mgov__heap_charge(h, (uint64_t)want, true);
    if (rc == MGOV_OK) {
        avail += want;
    } else if ((rc = mgov__heap_charge(h, (uint64_t)must, false)) == MGOV_OK) {
        avail += must;
    }
    tls.busy--;
    atomic_store_explicit(&s->avail, avail, R);
    return rc;
}

/* Returns the slot's avail down to slack/2 (all of it when reclaim asked). */
static void give_back(mgov_heap_t *h, mgov__heap_slot_t *s)
{
    if (atomic_load_explicit(&h->ask, R) != s->seen_ask) {
        mgov__heap_slot_drain(h, s);
        return;
    }
    int64_t avail = atomic_load_explicit(&s->avail, R);
    if (avail > h->slack) {
        atomic_store_explicit(&s->avail, h->slack / 2, R);
        mgov__heap_uncharge(h, (uint64_t)(avail - h->slack / 2));
    }
}

/* Charges `bound` (>= the block's usable size) before the block exists:
 * from the slack, or for a big block directly.  *direct says which. */
static int take(mgov_heap_t *h, mgov__heap_slot_t *s, uint64_t bound, bool *direct)
{
    *direct = bound > (uint64_t)h->big;
    if (*direct) {
        tls.busy++;
        int rc = mgov__heap_charge(h, bound, false);
        tls.busy--;
        return rc;
    }
    if (atomic_load_explicit(&h->ask, R) != s->seen_ask)
        mgov__heap_slot_drain(h, s);
    return refill(h, s, (int64_t)bound);
}

/* Settles a charge of `bound` for a block of `usz` usable bytes. */
static void settle(mgov_heap_t *h, mgov__heap_slot_t *s, uint64_t bound, uint64_t usz,
                   bool direct)
{
    if (direct) {
        if (usz < bound)
            mgov__heap_uncharge(h, bound - usz);
        else if (usz > bound) /* jemalloc promised nallocx: cannot happen */
            MGOV__ASSERT(usz <= bound);
    } else {
        atomic_store_explicit(&s->avail, atomic_load_explicit(&s->avail, R) - (int64_t)usz, R);
    }
    add_relaxed(&s->mallocs, 1);
    add_relaxed(&s->bytes_in, usz);
}

/* Gives back a charge of `bound` that found no block. */
static void unsettle(mgov_heap_t *h, uint64_t bound, bool direct)
{
    if (direct)
        mgov__heap_uncharge(h, bound);
    /* from the slack: nothing was taken out of avail yet */
}

/* Credits a freed block of usz bytes. */
static inline void credit(mgov_heap_t *h, mgov__heap_slot_t *s, uint64_t usz)
{
    add_relaxed(&s->frees, 1);
    add_relaxed(&s->bytes_out, usz);
    if (unlikely(usz > (uint64_t)h->big)) {
        mgov__heap_uncharge(h, usz);
        return;
    }
    int64_t avail = atomic_load_explicit(&s->avail, R) + (int64_t)usz;
    atomic_store_explicit(&s->avail, avail, R);
    if (unlikely(avail > h->slack || atomic_load_explicit(&h->ask, R) != s->seen_ask))
        give_back(h, s);
}

/* ---------------------------------------------------------- allocation */

static inline uint64_t bound_of(size_t size)
{
    return (uint64_t)size + (size >> 2) + 16;
}

/* Every allocation but the common malloc: flags adds MALLOCX_ZERO or an
 * alignment; bound is an upper bound of the usable size. */
static void *alloc_slow(mgov_heap_t *h, mgov__heap_slot_t *s, size_t size, int flags)
{
    uint64_t bound;
    if (flags & ~MALLOCX_ZERO) { /* aligned: jemalloc says exactly */
        bound = mgov__je_nallocx(size, s->flags | flags);
        if (!bound)
            return fail(s, MGOV_ENOMEM);
    } else {
        if (size > SIZE_MAX - (SIZE_MAX >> 2) - 16)
            return fail(s, MGOV_ENOMEM);
        bound = bound_of(size);
    }
    bool direct;
    int rc = take(h, s, bound, &direct);
    if (rc != MGOV_OK)
        return fail(s, rc);
    uint64_t a0 = *tls.allocp;
    void *p = mgov__je_mallocx(size, s->flags | flags);
    if (!p) {
        unsettle(h, bound, direct);
        return fail(s, MGOV_ENOMEM);
    }
    TSAN_ACQUIRE(p);
    settle(h, s, bound, *tls.allocp - a0, direct);
    return p;
}

void *mgov_heap_malloc(mgov_heap_t *h, size_t size)
{
    if (unlikely(!h))
        return fail(NULL, MGOV_EINVAL);
    mgov__heap_slot_t *s = slot_of(h);
    if (unlikely(!s))
        return NULL;
    if (unlikely(size == 0))
        size = 1;
    uint64_t bound = bound_of(size);
    int64_t avail = atomic_load_explicit(&s->avail, R);
    if (unlikely(bound > (uint64_t)avail || size > (size_t)h->big ||
                 atomic_load_explicit(&h->ask, R) != s->seen_ask))
        return alloc_slow(h, s, size, 0);
    uint64_t a0 = *tls.allocp;
    void *p = mgov__je_mallocx(size, s->flags);
    if (unlikely(!p))
        return fail(s, MGOV_ENOMEM);
    TSAN_ACQUIRE(p);
    uint64_t usz = *tls.allocp - a0;
    atomic_store_explicit(&s->avail, avail - (int64_t)usz, R);
    add_relaxed(&s->mallocs, 1);
    add_relaxed(&s->bytes_in, usz);
    return p;
}

void *mgov_heap_calloc(mgov_heap_t *h, size_t n, size_t size)
{
    if (!h)
        return fail(NULL, MGOV_EINVAL);
    mgov__heap_slot_t *s = slot_of(h);
    if (!s)
        return NULL;
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        return fail(s, MGOV_EOVERFLOW);
    return alloc_slow(h, s, total ? total : 1, MALLOCX_ZERO);
}

void *mgov_heap_aligned_alloc(mgov_heap_t *h, size_t align, size_t size)
{
    if (!h)
        return fail(NULL, MGOV_EINVAL);
    mgov__heap_slot_t *s = slot_of(h);
    if (!s)
        return NULL;
    if (align == 0 || (align & (align - 1)) || align > ((size_t)1 << 40))
        return fail(s, MGOV_EINVAL);
    return alloc_slow(h, s, size ? size : 1, MALLOCX_ALIGN(align));
}

static void check_owner(const mgov_heap_t *h, const void *p)
{
#if defined(MGOV_DEBUG) && MGOV_DEBUG
    /* a block freed through the wrong heap would poison that heap's
     * tcache with another arena's memory */
    unsigned arena = UINT32_MAX;
    size_t sz = sizeof arena;
    const void *q = p;
    mgov__je_mallctl("arenas.lookup", &arena, &sz, &q, sizeof q);
    MGOV__ASSERT(arena == h->arena);
#else
    (void)h;
    (void)p;
#endif
}

void mgov_heap_free(mgov_heap_t *h, void *p)
{
    if (unlikely(!p || !h))
        return;
    check_owner(h, p);
    mgov__heap_slot_t *s = slot_of(h);
    TSAN_RELEASE(p);
    if (unlikely(!s)) {
        /* no slot (out of memory): free without a cache, return the bytes */
        size_t usz = mgov__je_sallocx(p, 0);
        mgov__je_dallocx(p, MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE_NONE);
        mgov__heap_uncharge(h, usz);
        pthread_mutex_lock(&h->lock);
        h->gone_frees++;
        h->gone_out += usz;
        pthread_mutex_unlock(&h->lock);
        return;
    }
    uint64_t d0 = *tls.deallocp;
    mgov__je_dallocx(p, s->flags);
    credit(h, s, *tls.deallocp - d0);
}

void mgov_heap_free_sized(mgov_heap_t *h, void *p, size_t size)
{
    if (unlikely(!p || !h))
        return;
    check_owner(h, p);
    /* the size must name p's class: jemalloc's sdallocx trusts it */
    MGOV__ASSERT(mgov__je_nallocx(size ? size : 1, 0) == mgov__je_sallocx(p, 0));
    mgov__heap_slot_t *s = slot_of(h);
    if (unlikely(!s)) {
        mgov_heap_free(h, p);
        return;
    }
    TSAN_RELEASE(p);
    uint64_t d0 = *tls.deallocp;
    mgov__je_sdallocx(p, size ? size : 1, s->flags);
    credit(h, s, *tls.deallocp - d0);
}

void *mgov_heap_realloc(mgov_heap_t *h, void *p, size_t size)
{
    if (!p)
        return mgov_heap_malloc(h, size);
    if (!h)
        return fail(NULL, MGOV_EINVAL);
    check_owner(h, p);
    mgov__heap_slot_t *s = slot_of(h);
    if (!s)
        return NULL;
    if (size == 0)
        size = 1;
    uint64_t old = mgov__je_sallocx(p, 0);
    uint64_t nu = mgov__je_nallocx(size, s->flags);
    if (!nu)
        return fail(s, MGOV_ENOMEM);
    bool direct = false;
    uint64_t more = nu > old ? nu - old : 0;
    if (more) {
        int rc = take(h, s, more, &direct);
        if (rc != MGOV_OK)
            return fail(s, rc);
    }
    TSAN_RELEASE(p);
    void *q = mgov__je_rallocx(p, size, s->flags);
    if (!q) {
        if (more)
            unsettle(h, more, direct);
        return fail(s, MGOV_ENOMEM);
    }
    TSAN_ACQUIRE(q);
    uint64_t now = mgov__je_sallocx(q, 0);
    if (more) {
        /* took `more` for the growth; the block grew by now - old */
        if (direct)
            mgov__heap_uncharge(h, more - (now - old));
        else
            atomic_store_explicit(&s->avail,
                                  atomic_load_explicit(&s->avail, R) - (int64_t)(now - old), R);
    }
    if (q != p) {
        add_relaxed(&s->mallocs, 1);
        add_relaxed(&s->frees, 1);
    }
    add_relaxed(&s->bytes_in, now);
    add_relaxed(&s->bytes_out, old);
    if (now < old) { /* shrunk: the difference is free */
        uint64_t freed = old - now;
        if (freed > (uint64_t)h->big) {
            mgov__heap_uncharge(h, freed);
        } else {
            atomic_store_explicit(&s->avail,
                                  atomic_load_explicit(&s->avail, R) + (int64_t)freed, R);
            if (atomic_load_explicit(&s->avail, R) > h->slack)
                give_back(h, s);
        }
    }
    return q;
}

size_t mgov_heap_usable_size(mgov_heap_t *h, const void *p)
{
    if (!h || !p)
        return 0;
    return mgov__je_sallocx(p, 0);
}

int mgov_heap_last_error(const mgov_heap_t *h)
{
    if (!h)
        return MGOV_EINVAL;
    mgov__heap_slot_t *s = mgov__heap_slot_find((mgov_heap_t *)h);
    return s ? s->last_error : tls.error;
}
