/* memgov/heap.h - heaps: malloc, calloc, realloc, aligned allocation and
 * free whose every byte is charged to a governor region.
 *
 * A heap is a jemalloc arena of its own (jemalloc from Debian's
 * libjemalloc-dev, linked into memgov under private names: the program's
 * own malloc is never replaced; see docs/heap.md).  It charges its region
 * by the usable size of each block, without an atomic operation per call:
 * each thread keeps a slack of bytes already reserved from the governor
 * (MGOV_HEAP_DEFAULT_SLACK, configurable) and refills or returns it in
 * batches.  So, for a heap used by T threads with slack S:
 *
 *     allocated + metadata  <=  governor's count  <=  allocated + metadata + T x S
 *
 * where `allocated` is the usable bytes of the blocks alive, `metadata`
 * the allocator's own records for the heap's arena (they grow with the
 * most the heap ever held and are never returned; counted as of the last
 * reclaim or trim), and the count is what mgov_stats shows in the heap's
 * region.  Blocks larger than S/2 are charged one by one, exactly.  The
 * count is never below what is allocated: a block is charged before it
 * exists.
 *
 * When the governor reclaims (pressure MODERATE or above, or a kernel
 * pressure signal), the heap's consumer asks every thread to give its
 * slack back (each does at its next heap call; the reclaiming thread at
 * once), returns the heap's free pages to the operating system and counts
 * the allocator's metadata, so RSS follows the count.  mgov_heap_trim does
 * the same on demand.
 *
 * Lifecycle
 *   mgov_heap_create -> malloc/free ... from any threads -> mgov_heap_destroy.
 *   Destroy every heap before its governor.  Destroy frees every block
 *   still allocated at once and reports them (MGOV_EV_LEAKED_BLOCKS).
 *
 * Threading
 *   Every function is thread-safe, except destroy: no other thread may use
 *   the heap during or after it.  A block may be freed (or reallocated) by
 *   any thread, through the heap that allocated it; passing another heap is
 *   undefined behaviour (debug builds check it).
 *   An allocation that must refill the slack may run governor reclaim in
 *   the calling thread (governor.h "Callbacks"): do not allocate while
 *   holding a lock your consumers' callbacks take, or create the heap with
 *   MGOV_NO_RECLAIM in grant_flags.
 *
 * Errors
 *   Allocation functions return NULL and record why for the calling
 *   thread, which mgov_heap_last_error returns: MGOV_EINVAL (NULL heap, an
 *   alignment that is not a power of two), MGOV_EOVERFLOW (n x size),
 *   MGOV_EBUDGET / MGOV_ELIMIT / MGOV_ETIMEDOUT (the governor refused the
 *   bytes; nothing is charged), MGOV_ENOMEM (the system refused).  A
 *   failed call changes nothing: realloc leaves the old block as it was.
 *   Size 0 is served as size 1 (a unique pointer, freed as usual).
 */
#ifndef MEMGOV_HEAP_H
#define MEMGOV_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "memgov/common.h"
#include "memgov/governor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgov_heap mgov_heap_t;

#define MGOV_HEAP_DEFAULT_SLACK ((size_t)256 << 10) /* per thread */
#define MGOV_HEAP_MIN_SLACK ((size_t)4096)
#define MGOV_HEAP_DEFAULT_DECAY_MS 1000

typedef struct mgov_heap_config {
    mgov_t *gov;          /* required */
    /* Region charged; NULL = "execution_buffers" (region 0 if the governor
     * has no region of that name). */
    const char *region;
    /* Its consumer's name (1..MGOV_NAME_MAX printable bytes, unique in the
     * governor); NULL = "heap-<n>". */
    const char *name;
    unsigned grant_flags; /* MGOV_URGENT, MGOV_REVOCABLE, MGOV_NO_RECLAIM */
    /* How long a refill may wait for the budget: 0 = not at all (fail
     * fast after at most one reclaim pass); < 0 = forever. */
    int64_t timeout_ns;
    /* Bytes each thread keeps reserved ahead; 0 = MGOV_HEAP_DEFAULT_SLACK;
     * at least MGOV_HEAP_MIN_SLACK. */
    size_t slack;
    /* How long freed pages stay with the heap before they go back to the
     * system when nothing reclaims: 0 = MGOV_HEAP_DEFAULT_DECAY_MS; < 0 =
     * only when reclaimed or trimmed. */
    int decay_ms;
    /* Its consumer's priority (lower is reclaimed first; its evict only
     * returns slack and free pages, so 0, the default, costs no one). */
    unsigned priority;
} mgov_heap_config_t;
#define MGOV_HEAP_CONFIG_INIT { 0 }

/* Creates a heap.  Errors: MGOV_EINVAL (NULL cfg, out or gov, slack below
 * the minimum, unknown grant_flags, a bad name), MGOV_ENOTFOUND (no such
 * region), MGOV_EEXIST (the name is taken), MGOV_ENOMEM (the system, or
 * jemalloc has no arena left). */
MGOV_API int mgov_heap_create(const mgov_heap_config_t *cfg, mgov_heap_t **out);

/* Frees every block at once (O(pages), not O(blocks)), gives every byte
 * back to the governor and the system, and destroys the heap.  Blocks
 * still allocated are reported first (MGOV_EV_LEAKED_BLOCKS: count, bytes)
 * and MGOV_ELEAKED is returned; otherwise MGOV_OK.  Cannot be refused:
 * the heap is gone either way.  NULL: MGOV_OK. */
MGOV_API int mgov_heap_destroy(mgov_heap_t *h);

/* ------------------------------------------------------------ allocation */

MGOV_API void *mgov_heap_malloc(mgov_heap_t *h, size_t size);
/* n x size bytes, zeroed; MGOV_EOVERFLOW when not representable. */
MGOV_API void *mgov_heap_calloc(mgov_heap_t *h, size_t n, size_t size);
/* Resizes p (NULL: as malloc), moving it when it must; the first
 * min(old, new) bytes are kept.  On failure NULL, and p is untouched. */
MGOV_API void *mgov_heap_realloc(mgov_heap_t *h, void *p, size_t size);
/* size bytes aligned to `align`, a power of two (any size of it). */
MGOV_API void *mgov_heap_aligned_alloc(mgov_heap_t *h, size_t align, size_t size);
/* Frees p (NULL is ignored), from any thread. */
MGOV_API void mgov_heap_free(mgov_heap_t *h, void *p);
/* The same, told the size: faster (no lookup of the block's size).  size
 * is the size p was allocated with (or anything up to its usable size);
 * not for blocks from mgov_heap_aligned_alloc (debug builds check). */
MGOV_API void mgov_heap_free_sized(mgov_heap_t *h, void *p, size_t size);
/* The bytes usable at p (at least what was asked; what is charged). */
MGOV_API size_t mgov_heap_usable_size(mgov_heap_t *h, const void *p);

/* Why the calling thread's last allocation on this heap returned NULL
 * (MGOV_OK if none did).  NULL heap: MGOV_EINVAL. */
MGOV_API int mgov_heap_last_error(const mgov_heap_t *h);

/* ------------------------------------------------------------- reclaim */

/* Gives the calling thread's slack back, asks the other threads to do the
 * same at their next call, and returns the heap's free pages to the
 * system.  MGOV_OK, or MGOV_EINVAL for NULL. */
MGOV_API int mgov_heap_trim(mgov_heap_t *h);

/* ---------------------------------------------------------------- stats */

typedef struct mgov_heap_stats {
    uint64_t allocated; /* usable bytes of the blocks alive */
    uint64_t charged;   /* bytes the governor counts for the heap: allocated + slack
                           + metadata */
    uint64_t resident;  /* bytes the allocator holds from the system (jemalloc's
                           resident: pages in use, free pages not yet returned,
                           and its metadata) */
    uint64_t dirty;     /* of those, free pages not yet returned */
    uint64_t mallocs;   /* allocations (malloc, calloc, aligned, realloc that moved or
                           started from NULL) */
    uint64_t frees;     /* frees (and reallocs that moved) */
    uint64_t threads;   /* threads holding slack now */
    uint64_t slack;     /* the configured slack per thread */
    uint64_t metadata;  /* of charged: the allocator's metadata for the heap (extent
                           records ...: it grows with the most the heap ever held),
                           as of the last reclaim or trim */
} mgov_heap_stats_t;

/* A snapshot.  With no call in flight on the heap, charged - allocated -
 * metadata is the slack the threads hold, at most threads x slack.
 * Errors: MGOV_EINVAL. */
MGOV_API int mgov_heap_stats(mgov_heap_t *h, mgov_heap_stats_t *out);

/* The heap's consumer name (valid until destroy); NULL for NULL. */
MGOV_API const char *mgov_heap_name(const mgov_heap_t *h);

/* Checks the accounting at a quiet moment (no call in flight): the
 * governor's count equals allocated + every thread's slack + metadata,
 * each slack is
 * within [0, slack], allocations minus frees match the bytes, and
 * jemalloc's view of the arena agrees.  MGOV_OK, MGOV_EINVAL, or
 * MGOV_ECORRUPT. */
MGOV_API int mgov_heap_check(mgov_heap_t *h);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_HEAP_H */
