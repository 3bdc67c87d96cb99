/* alloc/heap_internal.h - internal: the heap's structures, shared by
 * heap.c (life, reclaim, stats) and heap_alloc.c (the calls and the
 * per-thread slots).  Not installed.
 *
 *   mgov_heap_t ── arena (jemalloc, one per heap), grant (all it charges),
 *      │           consumer (evict: slack back + purge), stats source
 *      └─ slots: one per thread that used it ───────────────────┐
 *                                                                │
 *   thread-local table: [heap id -> slot] ... ─────────────────────┘
 *
 *   slot (per thread, per heap): avail (bytes charged, not allocated),
 *        the thread's explicit jemalloc tcache for this heap, counters.
 *
 * Accounting.  The heap's grant (`charged`) always equals
 *     allocated + sum over slots of avail + meta
 * where allocated is the usable bytes of the blocks alive and meta the
 * arena's metadata (jemalloc's "base": extent records and the like, which
 * grow with the most the heap ever held and are not returned), brought up
 * to date at each reclaim and trim.  A slot's avail
 * stays within [0, slack]: an allocation takes from it (refilling to
 * slack/2 first when it is short), a free adds to it (returning down to
 * slack/2 when it passes slack).  Blocks above slack/2 are charged and
 * returned one by one.  So charged - allocated <= threads x slack, and
 * charged >= allocated always (a block is charged before it exists).
 *
 * Ownership of slots.  A slot is written by its thread only (avail and the
 * counters are atomics so stats can read them, relaxed; no locked
 * instruction on the fast path).  It is linked in its heap's list under
 * heap->lock.  It dies in one of two ways, both under the process-wide
 * mgov__heaps_lock so they cannot cross:
 *   - its thread exits: the slot's avail goes back, its tcache is
 *     destroyed, its counters are folded into the heap, it is unlinked
 *     and freed;
 *   - its heap is destroyed: its tcache is destroyed, it is unlinked and
 *     marked dead (release); its thread frees it when it next looks at
 *     its table, or at exit.
 *
 * Locks, outer first: mgov__heaps_lock, heap->lock.  The governor is never
 * called with either held except to release a grant (no callbacks run).
 */
#ifndef MGOV_ALLOC_HEAP_INTERNAL_H
#define MGOV_ALLOC_HEAP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "governor/hooks.h"
#include "memgov/heap.h"

#define MGOV__HEAP_NO_TCACHE UINT32_MAX

typedef struct mgov__heap_slot mgov__heap_slot_t;

struct mgov__heap_slot {
    /* the owner thread's; others read them relaxed (stats, check) */
    _Atomic int64_t avail;
    _Atomic uint64_t mallocs, frees, bytes_in, bytes_out;
    int flags;           /* MALLOCX_ARENA | MALLOCX_TCACHE(tcache) */
    unsigned tcache;     /* explicit tcache, or MGOV__HEAP_NO_TCACHE */
    uint64_t seen_ask;   /* heap->ask when this thread last gave back */
    int last_error;
    /* under heap->lock */
    mgov_heap_t *heap;
    mgov__heap_slot_t *prev, *next;
    /* set (release) once the heap no longer knows it; then only the owner
     * thread touches it */
    _Atomic bool dead;
};

struct mgov_heap {
    uint64_t id;         /* never reused: thread tables key on it */
    unsigned arena;
    mgov_t *gov;
    int region;
    unsigned grant_flags;
    int64_t timeout_ns;
    int64_t slack;       /* per thread */
    int64_t big;         /* blocks above this are charged one by one: slack / 2 */
    /* bumped by reclaim: threads give their slack back at their next call */
    _Atomic uint64_t ask;

    pthread_mutex_t lock; /* grant, meta, slots, folded counters */
    mgov_grant_t grant;
    uint64_t meta;        /* of the grant: jemalloc's metadata for the arena */
    _Atomic uint64_t charged; /* grant.bytes, for readers without the lock */
    mgov__heap_slot_t *slots;
    unsigned n_slots;
    uint64_t gone_mallocs, gone_frees, gone_in, gone_out; /* of slots gone */

    mgov_consumer_t *consumer;
    mgov__stats_source_t source;
    char name[MGOV_NAME_MAX + 1];
};

/* Process-wide: slot deaths (thread exit vs heap destroy). */
extern pthread_mutex_t mgov__heaps_lock;

/* heap_alloc.c */
/* The calling thread's slot for h: made on first use.  NULL on ENOMEM. */
mgov__heap_slot_t *mgov__heap_slot_get(mgov_heap_t *h);
/* The calling thread's slot for h if it has one (no allocation). */
mgov__heap_slot_t *mgov__heap_slot_find(mgov_heap_t *h);
/* True while the calling thread is inside a heap call that may reach the
 * governor (its slot is mid-change: reclaim must not touch it). */
bool mgov__heap_busy(void);
/* Gives back the slot's whole avail and flushes its tcache (owner only). */
void mgov__heap_slot_drain(mgov_heap_t *h, mgov__heap_slot_t *s);
/* Drops the calling thread's table entry for h (heap destroy). */
void mgov__heap_forget(mgov_heap_t *h);

/* heap.c */
/* Adds bytes to the heap's grant (a refill, or a big block): a reserve
 * outside the lock, merged under it.  With `guess`, a try that costs no
 * one anything (no reclaim, no wait); else as the heap is configured.
 * MGOV_OK or the governor's refusal. */
int mgov__heap_charge(mgov_heap_t *h, uint64_t bytes, bool guess);
/* Brings the metadata the governor counts for the heap up to jemalloc's
 * figure for its arena (at reclaim and trim). */
void mgov__heap_meta_sync(mgov_heap_t *h);
/* Returns bytes from the heap's grant (never fails). */
void mgov__heap_uncharge(mgov_heap_t *h, uint64_t bytes);
/* jemalloc mallctl on "arena.<i>.<what>" (purge, decay, ...). */
int mgov__heap_arena_ctl(const mgov_heap_t *h, const char *what, void *oldp, size_t *oldlen,
                         void *newp, size_t newlen);

#endif /* MGOV_ALLOC_HEAP_INTERNAL_H */
