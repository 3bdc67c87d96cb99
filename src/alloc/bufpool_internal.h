/* alloc/bufpool_internal.h - the buffer pool's state, shared by the files of
 * src/alloc/bufpool*.c.  Not installed.
 *
 * Memory
 *
 *   A span is one allocation's memory plus its handle (mgov_bufs_t), which
 *   carries the span's governor grant.  Handle and grant stay with the span
 *   while it is cached, so reuse makes no system allocation and no governor
 *   call.  Bytes of the pool are in exactly one of these states:
 *
 *     setup     admitted to a request that is obtaining its memory
 *     live      in a span handed out, refs >= 1 (counted in its shard)
 *     cached    in a span in its shard's cache, poisoned under ASan
 *     leaving   in an evicted span not yet freed (memory and grant)
 *
 *   held = setup + live + cached + leaving, and with a cap, held <= cap
 *   always.  New memory is admitted when held - cached + need <= cap:
 *   cached spans are evicted to make room, and their bytes stay counted
 *   (leaving) until their memory and grant are really gone, so the room is
 *   never handed out twice: the pool's real memory and its grants never
 *   exceed held.  A request that evicted spans frees them before it
 *   allocates and takes over their grants (shrunk or grown to its size), so
 *   the bytes they stood for move to it without a gap in which another
 *   request could take them.

 * Shards
 *
 *   The cache is split in shards, one per CPU (a power of two, 2..32); a
 *   thread uses the shard of its slot (slots are handed out round robin to
 *   threads on first use).  A shard keeps its cached spans by buffer count
 *   (exact-count reuse) and in LRU order, plus the in-use counters of the
 *   spans allocated from it; a span returns to the shard it was allocated
 *   from.  The fast paths (reuse from the own shard, release) take only the
 *   shard's lock, so threads on different shards share no written line.
 *
 *     shard: lock | in_use live peak allocs reuses | cached_bytes cached_spans
 *            bucket[count-1] (counts 1..32), bucket[32 + hash] (larger)
 *            lru_head (newest) <-> ... <-> lru_tail (oldest)
 *
 * Locks, in the order they nest (outer first):
 *   p->mu            the slow path: admission, the FIFO queue, held/setup,
 *                    the registry of spans, counters of the slow path
 *   shard[0..n].lock each shard's cache and counters, taken in index order
 *                    when several are held
 *   The governor is never called with either held (its reclaim may call the
 *   pool's evict op, which takes p->mu).
 *
 * The gate
 *
 *   p->gate (bits BP_GATE_*) is written under p->mu and read, relaxed, inside
 *   a shard's critical section by the fast paths.  That is enough to lose no
 *   wake-up: a waiter sets WAITERS under p->mu before it examines every
 *   shard under that shard's lock; a release pushes its span and reads the
 *   gate in one critical section of its shard.  Whichever takes that shard's
 *   lock second sees the other's write.  The same argument lets destroy
 *   (CLOSING, then one lock/unlock round over the shards) know that every
 *   later fast allocation sees CLOSING and every earlier one is counted.
 */
#ifndef MGOV_ALLOC_BUFPOOL_INTERNAL_H
#define MGOV_ALLOC_BUFPOOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc/alloc_internal.h"
#include "memgov/bufpool.h"
#include "sys/debug.h"
#include "sys/sys.h"

#define BP_CACHELINE 64
#define BP_DIRECT 32                       /* counts 1..32: a bucket each */
#define BP_HASHED 32                       /* larger counts: hashed buckets */
#define BP_BUCKETS (BP_DIRECT + BP_HASHED)
#define BP_MAX_SHARDS 32

#define bp_likely(x) __builtin_expect(!!(x), 1)
#define bp_unlikely(x) __builtin_expect(!!(x), 0)

enum {
    BP_GATE_WAITERS = 1u, /* requests queued, or destroy waiting: releases must call in */
    BP_GATE_CLOSING = 2u, /* destroy began: allocations fail */
    BP_GATE_DEBT = 4u,    /* the governor asked for more than the cache had */
};

/* ------------------------------------------------------------------ locks */

/* A test-and-test-and-set spin lock that yields after a short spin: the
 * critical sections it guards are a few list operations. */
typedef struct bp_lock {
    _Atomic int v;
} bp_lock_t;

void mgov__bp_lock_slow(bp_lock_t *l);

static inline void bp_lock(bp_lock_t *l)
{
    /* acquire: pairs with the release in bp_unlock (the last holder's
     * critical section happens before ours) */
    if (bp_likely(!atomic_exchange_explicit(&l->v, 1, memory_order_acquire)))
        return;
    mgov__bp_lock_slow(l);
}

static inline void bp_unlock(bp_lock_t *l)
{
    /* release: pairs with the acquire in bp_lock and mgov__bp_lock_slow */
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* Debug builds (sys/debug.h): p->mu and every shard lock are held -- by
 * someone, as a lock can tell.  What the functions named "under mu and
 * every shard lock" check first. */
#define bp_assert_all_locked(p)                                                                    \
    do {                                                                                           \
        mgov__assert_held((pthread_mutex_t *)&(p)->mu);                                            \
        for (unsigned i_ = 0; i_ < (p)->n_shards; i_++)                                            \
            MGOV__ASSERT(atomic_load_explicit(&(p)->shards[i_].lock.v, memory_order_relaxed));     \
    } while (0)

/* ------------------------------------------------------------------ spans */

struct mgov_bufs {
    /* fixed while the span exists (the struct is a multiple of a cache line) */
    unsigned char *data;
    size_t count;                    /* buffers */
    size_t bytes;                    /* count x buffer_size */
    mgov_bufpool_t *pool;
    unsigned shift;                  /* log2(buffer_size) */
    /* owner's (live) or shard lock's (cached) */
    unsigned shard;                  /* whose in_use counts it; where it returns */
    _Atomic unsigned refs;           /* 0 while cached */
    _Atomic bool cached;             /* read by foreach_live under p->mu */
    _Atomic uint64_t born_ns;        /* when handed out (coarse clock) */
    mgov_bufs_t *next, *prev;        /* bucket list (cached) or a victim list */
    mgov_bufs_t *lru_next, *lru_prev;
    /* under p->mu */
    mgov_bufs_t *reg_next, *reg_prev;
    mgov_grant_t grant;              /* empty without a governor */
} __attribute__((aligned(BP_CACHELINE)));

typedef struct bp_shard {
    _Alignas(BP_CACHELINE) bp_lock_t lock;
    /* under lock */
    uint64_t in_use, live, peak;     /* buffers / spans allocated from here */
    uint64_t allocs, reuses;
    uint64_t cached_bytes, cached_spans;
    mgov_bufs_t *lru_head, *lru_tail;
    mgov_bufs_t *bucket[BP_BUCKETS];
} bp_shard_t;

/* A blocked request, on its thread's stack. */
typedef struct bp_waiter {
    struct bp_waiter *prev, *next;
    size_t n;
    unsigned shard;
    int status;                      /* BP_WAITING, then MGOV_OK or an error */
    int how;                         /* BP_REUSED or BP_NEW once admitted */
    mgov_bufs_t *span;               /* BP_REUSED: the span */
    mgov_bufs_t *victims;            /* BP_NEW: evicted spans the waiter frees */
    pthread_cond_t cond;
} bp_waiter_t;

enum { BP_WAITING = 1 };
enum { BP_NOFIT, BP_REUSED, BP_NEW }; /* admission outcomes */

struct mgov_bufpool {
    /* fixed at create */
    size_t buffer_size, align, alloc_round;
    unsigned shift, flags;
    uint64_t cap;                    /* 0 = none */
    size_t max_n;                    /* largest n that can ever be admitted */
    unsigned n_shards, shard_mask;
    bp_shard_t *shards;
    mgov_t *gov;
    int region;
    mgov_consumer_t *consumer;

    /* read by every fast path, written rarely under mu */
    _Alignas(BP_CACHELINE) _Atomic unsigned gate;

    /* the slow path */
    _Alignas(BP_CACHELINE) pthread_mutex_t mu;
    pthread_cond_t idle_cond;        /* destroy waits on it */
    bp_waiter_t *wq_head, *wq_tail;  /* FIFO of blocked requests */
    unsigned n_waiters, destroyers;
    unsigned active;                 /* requests inside the slow path */
    bool closing;
    _Atomic unsigned wakers;         /* releases on their way into mu */
    _Atomic uint64_t held;           /* written under mu; read by the usage op */
    uint64_t setup, leaving, peak_held, debt;
    mgov_bufs_t *registry;           /* every span but those setting up */
    unsigned evict_cursor;           /* round robin over shards */

    /* counters: slow path only (relaxed atomics: some are bumped outside mu) */
    _Atomic uint64_t waits, wait_ns, timeouts, refusals, cancels;
    _Atomic uint64_t sys_allocs, sys_frees, evicted_bytes;
};

/* --------------------------------------------------- poisoning, ages */

/* Cached buffers are unaddressable under ASan: a use after release is
 * reported. */
static inline void bp_poison(mgov_bufs_t *b)
{
    MGOV__POISON(b->data, b->bytes);
}

static inline void bp_unpoison(mgov_bufs_t *b)
{
    MGOV__UNPOISON(b->data, b->bytes);
}

/* Notes when b is handed out, for foreach_live: a coarse clock read (about
 * a quarter of a cache hit's cost), skipped with MGOV_BUFPOOL_NO_AGE. */
static inline void bp_stamp(const mgov_bufpool_t *p, mgov_bufs_t *b)
{
    if (bp_likely(!(p->flags & MGOV_BUFPOOL_NO_AGE)))
        atomic_store_explicit(&b->born_ns, mgov__coarse_now_ns(), memory_order_relaxed);
}

/* ---------------------------------------------------- the cache of a shard */

static inline unsigned bp_bucket(size_t count)
{
    if (count <= BP_DIRECT)
        return (unsigned)count - 1;
    /* Fibonacci hashing: the top 5 bits */
    return BP_DIRECT + (unsigned)(((uint64_t)count * 0x9E3779B97F4A7C15ull) >> 59);
}

/* Caches b in s (newest).  Under s->lock. */
static inline void bp_cache_push(bp_shard_t *s, mgov_bufs_t *b)
{
    mgov_bufs_t **head = &s->bucket[bp_bucket(b->count)];
    b->prev = NULL;
    b->next = *head;
    if (*head)
        (*head)->prev = b;
    *head = b;
    b->lru_prev = NULL;
    b->lru_next = s->lru_head;
    if (s->lru_head)
        s->lru_head->lru_prev = b;
    else
        s->lru_tail = b;
    s->lru_head = b;
    s->cached_bytes += b->bytes;
    s->cached_spans++;
    atomic_store_explicit(&b->cached, true, memory_order_relaxed);
}

/* Takes b out of s's cache.  Under s->lock. */
static inline void bp_cache_unlink(bp_shard_t *s, mgov_bufs_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        s->bucket[bp_bucket(b->count)] = b->next;
    if (b->next)
        b->next->prev = b->prev;
    if (b->lru_prev)
        b->lru_prev->lru_next = b->lru_next;
    else
        s->lru_head = b->lru_next;
    if (b->lru_next)
        b->lru_next->lru_prev = b->lru_prev;
    else
        s->lru_tail = b->lru_prev;
    b->next = b->prev = b->lru_next = b->lru_prev = NULL;
    s->cached_bytes -= b->bytes;
    s->cached_spans--;
    atomic_store_explicit(&b->cached, false, memory_order_relaxed);
}

/* The newest cached span of exactly `count` buffers, taken out; NULL if
 * none.  Under s->lock. */
static inline mgov_bufs_t *bp_cache_pop(bp_shard_t *s, size_t count)
{
    mgov_bufs_t *b = s->bucket[bp_bucket(count)];
    while (b && b->count != count)
        b = b->next;
    if (b)
        bp_cache_unlink(s, b);
    return b;
}

/* Counts b, just taken from a cache or newly made, as live in shard s (the
 * caller's) with one reference.  Under s->lock. */
static inline void bp_handout(bp_shard_t *s, unsigned shard, mgov_bufs_t *b, bool reused)
{
    b->shard = shard;
    atomic_store_explicit(&b->refs, 1, memory_order_relaxed);
    s->in_use += b->count;
    s->live++;
    s->allocs++;
    s->reuses += reused;
    if (s->in_use > s->peak)
        s->peak = s->in_use;
}

/* ------------------------------------------------------------ functions */

/* bufpool_span.c: spans and the caches as a whole */
/* Allocates a span's handle and memory (no grant): MGOV_OK or MGOV_ENOMEM. */
int mgov__bp_span_new(mgov_bufpool_t *p, size_t n, mgov_bufs_t **out);
/* Frees a span that is in no list: memory, grant, handle.  No lock held. */
void mgov__bp_span_free(mgov_bufpool_t *p, mgov_bufs_t *b);
/* Frees a list linked through ->next.  No lock held. */
void mgov__bp_spans_free(mgov_bufpool_t *p, mgov_bufs_t *list);
/* Frees the memory and handles of a list of evicted spans, moving their
 * grants into *g (empty or a live grant of the pool's region).  Returns
 * their bytes.  No lock held. */
uint64_t mgov__bp_victims_take(mgov_bufpool_t *p, mgov_bufs_t *list, mgov_grant_t *g);
void mgov__bp_lock_shards(mgov_bufpool_t *p);
void mgov__bp_unlock_shards(mgov_bufpool_t *p);
/* Sum of cached bytes.  Under mu and every shard lock. */
uint64_t mgov__bp_cached_bytes_locked(const mgov_bufpool_t *p);
/* Detaches cached spans, least recently used first (round robin over the
 * shards), until `bytes` are detached or the caches are empty; unlinks them
 * from the registry, counts them as leaving (still in held) and prepends
 * them to *victims.  Returns the bytes detached.  Under mu and every shard
 * lock. */
uint64_t mgov__bp_evict_locked(mgov_bufpool_t *p, uint64_t bytes, mgov_bufs_t **victims);
void mgov__bp_registry_add_locked(mgov_bufpool_t *p, mgov_bufs_t *b);
void mgov__bp_held_add_locked(mgov_bufpool_t *p, uint64_t bytes);
void mgov__bp_held_sub_locked(mgov_bufpool_t *p, uint64_t bytes);
/* Leaving bytes are gone (freed, grants released): out of held, and the
 * room they leave may let the first waiters in.  Takes mu. */
void mgov__bp_leaving_done(mgov_bufpool_t *p, uint64_t bytes);

/* bufpool_admit.c: the slow path */
int mgov__bp_alloc_slow(mgov_bufpool_t *p, size_t n, int64_t timeout_ns, unsigned shard,
                        mgov_bufs_t **out);
/* Called by a release that saw WAITERS or DEBT at its push (which counted it
 * in p->wakers): admits waiters, pays debt, then leaves p->wakers. */
void mgov__bp_after_release(mgov_bufpool_t *p);
/* Admits queued requests in order while the first one fits.  Under mu. */
void mgov__bp_scan_locked(mgov_bufpool_t *p);
/* Recomputes the gate from the queue, destroyers, closing and debt.  Under mu. */
void mgov__bp_gate_update_locked(mgov_bufpool_t *p);
/* Fails every queued request with MGOV_ECANCELED.  Under mu. */
void mgov__bp_cancel_waiters_locked(mgov_bufpool_t *p);

/* bufpool_gov.c: the governor's side */
int mgov__bp_gov_register(mgov_bufpool_t *p, const mgov_bufpool_config_t *cfg);
/* MGOV_OK, or MGOV_ELIMIT when the governor could never grant `bytes`. */
int mgov__bp_gov_fits_ever(const mgov_bufpool_t *p, uint64_t bytes);
/* Reserves the grant of a new span: fail-fast when timeout_ns == 0, else
 * waiting until `deadline` (UINT64_MAX: forever).  *waited_ns > 0 when it had
 * to wait.  Errors: MGOV_EBUDGET, MGOV_ELIMIT, MGOV_ETIMEDOUT, MGOV_ENOMEM. */
int mgov__bp_gov_reserve(mgov_bufpool_t *p, uint64_t bytes, int64_t timeout_ns,
                         uint64_t deadline, mgov_grant_t *g, uint64_t *waited_ns);

/* bufpool_stats.c */
/* Checks every invariant of the file comment at rest (or under load: it
 * takes every lock).  MGOV_OK or MGOV_ECORRUPT.  For tests and debugging. */
int mgov__bufpool_check(mgov_bufpool_t *p);

#endif /* MGOV_ALLOC_BUFPOOL_INTERNAL_H */
