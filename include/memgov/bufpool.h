/* memgov/bufpool.h - a pool of equal-sized buffers with a memory cap and
 * backpressure, for I/O paths (write pipes, spill writers, page caches).
 *
 * An allocation (mgov_bufs_t) is n contiguous buffers of the pool's buffer
 * size, addressable one by one:
 *
 *     data -> [ buf 0 ][ buf 1 ] ... [ buf n-1 ]      each buffer_size bytes
 *
 * It is reference-counted: retain it to hand it to another thread; the last
 * release returns it to the pool, which caches it for the next request of
 * the same n (no system allocation in a steady allocate/release cycle).
 *
 * Memory is bounded twice: by the pool's own cap (max_memory: bytes in use
 * plus bytes cached) and, with a governor, by grants: every span of memory
 * the pool holds carries its own grant in the configured region, cached with
 * it.  The pool registers as a consumer of that governor; under pressure the
 * governor's reclaim makes it free cached spans (and their grants).
 *
 * Lifecycle
 *   mgov_bufpool_create() -> allocate / retain / release from any threads
 *   -> mgov_bufpool_destroy(), which waits (with a deadline) until every
 *   allocation is released.  On MGOV_OK the pool is gone; on MGOV_EBUSY it
 *   stays valid (closing: new allocations fail with MGOV_ECANCELED) so the
 *   caller can list what is alive (mgov_bufpool_foreach_live) and call
 *   destroy again.  Once destroy may return MGOV_OK, no thread may start a
 *   call on the pool (those already queued are canceled by destroy), and
 *   two destroys of one pool must not run at once.
 *
 * Threading
 *   Every function here is thread-safe.  An mgov_bufs_t may be retained,
 *   released and read from any thread; its buffers belong to whoever holds a
 *   reference (the pool never touches their contents).  The last release may
 *   come from any thread.
 *
 * Allocation forms and their errors (mgov_bufpool_alloc's timeout)
 *   0    non-blocking: fails at once with MGOV_EBUDGET when the request does
 *        not fit now, or when earlier requests are queued (strict FIFO: a
 *        try never jumps the queue);
 *   > 0  waits at most that many nanoseconds, then MGOV_ETIMEDOUT;
 *   < 0  waits until it fits.
 *   Requests blocked on the cap are served strictly in arrival order, so a
 *   large request is never starved by small ones; a release that lets the
 *   first waiter through wakes it (and only the waiters it lets through).
 *   Requests blocked on the governor's budget wait in the governor's own
 *   FIFO queue.
 *   Requests that can never fit fail at once, even blocking ones: n == 0
 *   (MGOV_EINVAL), n x buffer_size not representable (MGOV_EOVERFLOW), more
 *   than the cap or more than the governor could ever grant (MGOV_ELIMIT).
 */
#ifndef MEMGOV_BUFPOOL_H
#define MEMGOV_BUFPOOL_H

#include "memgov/common.h"
#include "memgov/governor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgov_bufpool mgov_bufpool_t;
typedef struct mgov_bufs mgov_bufs_t; /* one allocation: n contiguous buffers */

#define MGOV_BUFPOOL_MIN_BUFFER ((size_t)64)
#define MGOV_BUFPOOL_MAX_BUFFER ((size_t)64 << 20)  /* 64 MiB */
#define MGOV_BUFPOOL_DEFAULT_BUFFER ((size_t)4096)
#define MGOV_BUFPOOL_DEFAULT_ALIGN ((size_t)64)     /* a cache line */

enum {
    /* Align every allocation to the system page size (for O_DIRECT).  Then
     * `alignment` must be 0. */
    MGOV_BUFPOOL_PAGE_ALIGNED = 1u,
    /* Do not note when allocations are handed out: saves a clock read per
     * allocation (a quarter of a cache hit's cost); foreach_live reports age
     * 0. */
    MGOV_BUFPOOL_NO_AGE = 2u,
};

/* Zero (MGOV_BUFPOOL_CONFIG_INIT) means the default for every field. */
typedef struct mgov_bufpool_config {
    /* A power of two from MGOV_BUFPOOL_MIN_BUFFER to MGOV_BUFPOOL_MAX_BUFFER;
     * 0 = MGOV_BUFPOOL_DEFAULT_BUFFER (4 KiB). */
    size_t buffer_size;
    /* The pool's cap on the bytes it holds (in use + cached + being set up),
     * at least one buffer; 0 = no cap of its own, only the governor's grants
     * (then gov is required).  Counted in buffers' bytes: the small handle of
     * each allocation and any rounding for alignment are not counted. */
    uint64_t max_memory;
    /* Alignment of each allocation's first buffer: a power of two up to the
     * page size; 0 = MGOV_BUFPOOL_DEFAULT_ALIGN.  Buffer i is at
     * data + i x buffer_size, so every buffer is aligned to
     * min(alignment, buffer_size). */
    size_t alignment;
    /* Optional: the governor to charge.  It must outlive the pool. */
    mgov_t *gov;
    /* Region charged (with gov): NULL = "execution_buffers", or region 0
     * when the governor has no region of that name. */
    const char *region;
    /* Consumer name registered with gov: NULL = a unique "bufpool-N". */
    const char *name;
    /* Consumer priority (lower is reclaimed first); 0 =
     * MGOV_PRIORITY_QUERY_CACHE: cached free spans are cheap to drop. */
    unsigned priority;
    unsigned flags; /* MGOV_BUFPOOL_PAGE_ALIGNED, MGOV_BUFPOOL_NO_AGE */
} mgov_bufpool_config_t;
#define MGOV_BUFPOOL_CONFIG_INIT { 0 }

/* Creates a pool; cfg is copied (strings included).  With a governor the pool
 * registers as its consumer (name, region, priority above) with `usage`
 * (bytes held) and `evict` (frees cached spans) ops.  Nothing is allocated
 * up front besides the pool's own state.
 * Errors: MGOV_EINVAL (NULL cfg or out, buffer size or alignment out of
 * range or not a power of two, alignment with MGOV_BUFPOOL_PAGE_ALIGNED,
 * unknown flags, max_memory under one buffer, no cap and no governor, a bad
 * consumer name), MGOV_ENOTFOUND (cfg->region not in the governor),
 * MGOV_EEXIST (consumer name taken), MGOV_ENOMEM.  On error *out is NULL and
 * nothing is left registered. */
MGOV_API int mgov_bufpool_create(const mgov_bufpool_config_t *cfg, mgov_bufpool_t **out);

/* Closes the pool: queued and new allocations fail with MGOV_ECANCELED.
 * Then waits up to timeout_ns (< 0: forever, 0: no wait) for every
 * allocation to be released and every request in progress to leave.  On
 * success it unregisters the consumer, frees all memory and releases every
 * grant (the governor's usage is back to what it was before the pool), and
 * returns MGOV_OK: the pool is freed.  On timeout it returns MGOV_EBUSY and
 * the pool stays valid and closing: list what is alive with
 * mgov_bufpool_foreach_live, release it, and call destroy again.  A request
 * already blocked inside the governor (mgov_reserve) is not interrupted; it
 * fails with MGOV_ECANCELED when the governor answers.  NULL: MGOV_OK. */
MGOV_API int mgov_bufpool_destroy(mgov_bufpool_t *pool, int64_t timeout_ns);

/* Allocates n contiguous buffers (see "Allocation forms" above for the
 * timeout).  On success *out holds one reference; release it with
 * mgov_bufs_release.  The memory is not zeroed.  On failure *out is NULL.
 * Errors: MGOV_EINVAL (NULL pool or out, n == 0), MGOV_EOVERFLOW
 * (n x buffer_size overflows), MGOV_ELIMIT (more than the cap, or more than
 * the governor's region limit or ceiling), MGOV_EBUDGET (non-blocking and it
 * does not fit now, earlier requests are queued, or the governor refused),
 * MGOV_ETIMEDOUT, MGOV_ENOMEM (the system allocation failed), MGOV_ECANCELED
 * (the pool is being destroyed). */
MGOV_API int mgov_bufpool_alloc(mgov_bufpool_t *pool, size_t n, int64_t timeout_ns,
                                mgov_bufs_t **out);

/* mgov_bufpool_alloc with timeout 0: never blocks. */
MGOV_API int mgov_bufpool_try_alloc(mgov_bufpool_t *pool, size_t n, mgov_bufs_t **out);

/* The pool's buffer size and alignment in bytes (0 for NULL). */
MGOV_API size_t mgov_bufpool_buffer_size(const mgov_bufpool_t *pool);
MGOV_API size_t mgov_bufpool_alignment(const mgov_bufpool_t *pool);

/* The consumer name the pool registered with its governor (valid until
 * destroy), or NULL without a governor or for NULL. */
MGOV_API const char *mgov_bufpool_name(const mgov_bufpool_t *pool);

/* Adds a reference (the caller must hold one).  NULL is ignored. */
MGOV_API void mgov_bufs_retain(mgov_bufs_t *b);

/* Drops a reference; the last one returns the allocation to its pool (cached
 * for reuse, or freed when the governor has asked for memory back) and wakes
 * the first waiters it lets through.  b must not be used afterwards by this
 * holder.  Never blocks for long (short internal locks only); never calls
 * the governor except to release the grant of freed memory.  NULL is
 * ignored; releasing more often than retained is a bug (a release of an
 * allocation already returned is ignored when it can be detected). */
MGOV_API void mgov_bufs_release(mgov_bufs_t *b);

/* Accessors: valid while the caller holds a reference.  NULL b gives NULL/0. */
MGOV_API void *mgov_bufs_data(const mgov_bufs_t *b);           /* buffer 0 */
MGOV_API void *mgov_bufs_buf(const mgov_bufs_t *b, size_t i);  /* NULL when i >= count */
MGOV_API size_t mgov_bufs_count(const mgov_bufs_t *b);         /* n */
MGOV_API size_t mgov_bufs_bytes(const mgov_bufs_t *b);         /* n x buffer_size */
MGOV_API unsigned mgov_bufs_refs(const mgov_bufs_t *b);        /* a snapshot */

/* Calls fn for every allocation still alive (handed out and not yet
 * returned): its handle, buffer count, references and age (time since it was
 * handed out).  This is what destroy's MGOV_EBUSY refers to.  fn runs with
 * the pool's lock held, so allocations are not freed under it: fn may read b
 * with the mgov_bufs_* accessors but must not call any other function of
 * this pool or its allocations (no retain, release, alloc, stats), or it
 * deadlocks.  Returns the number of allocations listed (>= 0), or
 * MGOV_EINVAL for NULL pool or fn. */
MGOV_API int mgov_bufpool_foreach_live(mgov_bufpool_t *pool,
                                       void (*fn)(void *arg, const mgov_bufs_t *b, size_t count,
                                                  unsigned refs, uint64_t age_ns),
                                       void *arg);

typedef struct mgov_bufpool_stats {
    size_t buffer_size;
    uint64_t max_memory;      /* the cap (0: none) */
    uint64_t buffers_in_use;  /* in allocations handed out and not returned */
    uint64_t peak_in_use;     /* see below */
    uint64_t buffers_cached;  /* in returned allocations kept for reuse */
    uint64_t spans_live;      /* allocations handed out now */
    uint64_t spans_cached;    /* cached allocations */
    uint64_t bytes_held;      /* in use + cached + being set up: what the cap bounds,
                                 and what the pool's grants add up to */
    uint64_t peak_held;
    uint64_t waiters;         /* requests queued for the cap now */
    uint64_t waits;           /* requests that had to wait (for the pool or the governor) */
    uint64_t wait_ns;         /* total time they waited */
    uint64_t timeouts;        /* requests that failed with MGOV_ETIMEDOUT */
    uint64_t refusals;        /* failed for lack of memory: EBUDGET, ELIMIT, ETIMEDOUT */
    uint64_t cancels;         /* queued or in progress when destroy began */
    uint64_t allocs;          /* successful allocations */
    uint64_t reuses;          /* ... of which served from the cache */
    uint64_t sys_allocs;      /* spans allocated from the system */
    uint64_t sys_frees;       /* spans freed to the system */
    uint64_t evicted_bytes;   /* freed at the governor's request */
} mgov_bufpool_stats_t;

/* A snapshot.  With concurrent use the fields are read at slightly different
 * moments (each shard of the cache in turn), so they may not add up
 * exactly; at rest they do.  peak_in_use is exact while one thread uses the
 * pool; with several, each cache shard counts its own peak and their sum
 * (capped by peak_held) is reported: an upper bound.
 * Errors: MGOV_EINVAL for NULL. */
MGOV_API int mgov_bufpool_stats(const mgov_bufpool_t *pool, mgov_bufpool_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_BUFPOOL_H */
