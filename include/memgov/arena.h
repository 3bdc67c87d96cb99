/* memgov/arena.h - arenas: chunked bump allocation charged to the budget,
 * freed all at once; and epoch sets, which map epochs to arenas and retire
 * old ones.
 *
 * An arena hands out memory by bumping a pointer through chunks (default
 * 1 MiB).  Each chunk is backed by a grant from the governor in the arena's
 * region (default "execution_buffers"), so every byte an arena holds is
 * counted; with no governor it works the same, uncounted.  Objects are not
 * freed one by one: mgov_arena_reset() frees them all, mgov_arena_rewind()
 * frees everything allocated since a mark.
 *
 * Lifecycle
 *   mgov_arena_create -> alloc ... -> reset / rewind ... -> mgov_arena_destroy.
 *   No chunk (and no grant) exists until the first allocation.
 *
 * Threading
 *   Default: single-threaded.  One thread at a time may call any function on
 *   an arena (hand it between threads with your own synchronization).
 *   MGOV_ARENA_THREAD_SAFE: the allocation functions (alloc, zalloc,
 *   alloc_array, strdup, memdup) may run in many threads at once: a bump is
 *   one atomic step inside a chunk, a lock is taken only to add a chunk.
 *   mark, rewind, reset, used, check and destroy must still not run while
 *   any thread allocates.
 *   Allocating may run governor reclaim in the calling thread (see
 *   governor.h "Callbacks"): do not allocate while holding a lock that your
 *   consumers' callbacks take, or pass MGOV_NO_RECLAIM in grant_flags.
 *
 * Errors
 *   Allocation functions return NULL on failure and record the reason,
 *   which mgov_arena_last_error() returns: MGOV_EINVAL (NULL arena, an
 *   alignment that is not a power of two or is above the page size),
 *   MGOV_EOVERFLOW (count x size, or size plus alignment, not
 *   representable), MGOV_EBUDGET / MGOV_ELIMIT / MGOV_ETIMEDOUT (the
 *   governor refused the chunk), MGOV_ENOMEM (the system refused it).  A
 *   failed allocation leaves the arena as it was.
 *
 * AddressSanitizer
 *   In a library built with AddressSanitizer, space not handed out is
 *   poisoned: reading or writing past the end of an allocation into it is
 *   reported, as is touching memory after reset or rewind.  Each allocation
 *   then starts on an 8-byte boundary so its end can be poisoned exactly.
 */
#ifndef MEMGOV_ARENA_H
#define MEMGOV_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "memgov/common.h"
#include "memgov/governor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgov_arena mgov_arena_t;

enum {
    /* allocation functions may be called from many threads at once */
    MGOV_ARENA_THREAD_SAFE = 1u,
};

#define MGOV_ARENA_DEFAULT_CHUNK ((size_t)1 << 20)
#define MGOV_ARENA_MIN_CHUNK ((size_t)4096)
#define MGOV_ARENA_MAX_CHUNK ((size_t)1 << 40)
/* The alignment of an allocation that asks for 0. */
#define MGOV_ARENA_DEFAULT_ALIGN ((size_t)16)

typedef struct mgov_arena_config {
    /* Bytes per chunk, header included (the grant of a chunk is exactly its
     * size); 0 = MGOV_ARENA_DEFAULT_CHUNK.  Must be within
     * [MGOV_ARENA_MIN_CHUNK, MGOV_ARENA_MAX_CHUNK]; rounded up to a multiple
     * of 4096.  A request larger than
     * half a chunk gets a chunk of its own, sized to fit it. */
    size_t chunk_size;
    mgov_t *gov;          /* NULL: no governor, nothing is charged */
    /* Region charged for chunks; NULL = "execution_buffers" (region 0 if
     * the governor has no region of that name). */
    const char *region;
    unsigned grant_flags; /* passed to the governor: MGOV_URGENT, ... */
    /* How long adding a chunk may wait for the budget: 0 = not at all
     * (fail fast, after at most one reclaim pass); < 0 = forever. */
    int64_t timeout_ns;
    unsigned flags;       /* MGOV_ARENA_THREAD_SAFE */
} mgov_arena_config_t;
#define MGOV_ARENA_CONFIG_INIT { 0 }

/* Creates an empty arena (no chunk yet).  cfg may be NULL: all defaults, no
 * governor.  Errors: MGOV_EINVAL (NULL out, chunk_size out of range,
 * unknown flags or grant_flags), MGOV_ENOTFOUND (a region name the governor
 * does not have), MGOV_ENOMEM. */
MGOV_API int mgov_arena_create(const mgov_arena_config_t *cfg, mgov_arena_t **out);

/* Frees every chunk and returns every grant.  NULL is ignored.  Every
 * pointer the arena handed out becomes invalid. */
MGOV_API void mgov_arena_destroy(mgov_arena_t *a);

/* ------------------------------------------------------------ allocation */

/* `size` bytes aligned to `align` (a power of two up to the page size; 0 =
 * MGOV_ARENA_DEFAULT_ALIGN), uninitialized.  size 0 returns a valid pointer
 * to no bytes.  NULL on failure (see Errors). */
static inline void *mgov_arena_alloc(mgov_arena_t *a, size_t size, size_t align);

/* The same, zero-filled. */
MGOV_API void *mgov_arena_zalloc(mgov_arena_t *a, size_t size, size_t align);

/* n elements of elem_size bytes, uninitialized; MGOV_EOVERFLOW when
 * n x elem_size is not representable. */
MGOV_API void *mgov_arena_alloc_array(mgov_arena_t *a, size_t n, size_t elem_size,
                                      size_t align);

/* A copy of the string s (with its terminator); NULL s is MGOV_EINVAL. */
MGOV_API char *mgov_arena_strdup(mgov_arena_t *a, const char *s);
/* A copy of the n bytes at p, aligned to MGOV_ARENA_DEFAULT_ALIGN; p may be
 * NULL only when n == 0. */
MGOV_API void *mgov_arena_memdup(mgov_arena_t *a, const void *p, size_t n);

/* Why the last allocation on this arena that returned NULL failed
 * (MGOV_OK if none has).  In thread-safe mode, the latest failure of any
 * thread.  NULL arena: MGOV_EINVAL. */
MGOV_API int mgov_arena_last_error(const mgov_arena_t *a);

/* -------------------------------------------------------- freeing in bulk */

/* Frees everything allocated, in O(chunks): keeps the first chunk (its grant
 * too) for the next allocations and returns the others' grants.  Marks taken
 * before a reset become invalid. */
MGOV_API void mgov_arena_reset(mgov_arena_t *a);

/* A position in the arena, to rewind to.  A plain value: copy it freely. */
typedef struct mgov_arena_mark {
    uint64_t generation; /* resets so far */
    uint64_t newest_seq; /* the newest chunk then; 0 = none yet */
    uint64_t chunk_seq;  /* the chunk being bumped then; 0 = none */
    size_t offset;       /* its bytes used then */
} mgov_arena_mark_t;

MGOV_API mgov_arena_mark_t mgov_arena_mark(mgov_arena_t *a);

/* Frees everything allocated since `m` was taken: chunks added since are
 * freed and their grants returned (one is kept for reuse when the mark
 * predates every standard chunk).  Marks nest: rewind to an inner mark, then
 * to an outer one.  Rewinding to a mark invalidates the marks taken after
 * it; reusing such a mark is refused when its chunk is gone or its offset
 * lies beyond the current position, and otherwise frees what was allocated
 * since.  Errors: MGOV_EINVAL (NULL arena, a mark taken before a reset or
 * found invalid as above); the arena is then unchanged. */
MGOV_API int mgov_arena_rewind(mgov_arena_t *a, mgov_arena_mark_t m);

/* -------------------------------------------------------------- inspection */

/* Bytes handed out, alignment padding included.  O(chunks). */
MGOV_API size_t mgov_arena_used(const mgov_arena_t *a);
/* Bytes of chunks held (equal to the arena's grants when it has a
 * governor).  O(1). */
MGOV_API size_t mgov_arena_reserved(const mgov_arena_t *a);
MGOV_API size_t mgov_arena_chunk_count(const mgov_arena_t *a);

/* Verifies the arena's bookkeeping: chunk list and sequence order, every
 * chunk's position within its size, the byte and chunk counts, the grants
 * matching the chunks, the current position.  MGOV_OK, MGOV_EINVAL (NULL),
 * or MGOV_ECORRUPT (something does not add up: memory was overwritten). */
MGOV_API int mgov_arena_check(const mgov_arena_t *a);

/* ------------------------------------------------------------- epoch sets */

/* An epoch set gives each epoch an arena of its own: allocate in the
 * current epoch, begin a new one, retire old ones (their arenas are freed).
 * An epoch becomes current only after its arena exists, so no reader ever
 * sees an epoch without one; an epoch costs a small struct and no chunk
 * until the first allocation in it.
 *
 * Threading: every function is thread-safe.  An arena obtained with
 * mgov_epochs_acquire stays valid until the matching mgov_epochs_release,
 * even if its epoch is retired meanwhile (it is freed at that release). */
typedef struct mgov_epochs mgov_epochs_t;

/* Creates a set whose current epoch is 0.  Each epoch's arena is made with
 * *cfg (NULL: defaults), always in MGOV_ARENA_THREAD_SAFE mode.  Errors as
 * mgov_arena_create. */
MGOV_API int mgov_epochs_create(const mgov_arena_config_t *cfg, mgov_epochs_t **out);

/* Frees every epoch's arena.  Arenas still acquired are freed too: their
 * users must be done.  NULL is ignored. */
MGOV_API void mgov_epochs_destroy(mgov_epochs_t *s);

/* The current epoch. */
MGOV_API uint64_t mgov_epochs_current(const mgov_epochs_t *s);

/* Begins a new epoch (current + 1): makes its arena, then publishes it as
 * current.  *epoch (may be NULL) receives it.  Errors: MGOV_EINVAL,
 * MGOV_ENOMEM (the current epoch is unchanged). */
MGOV_API int mgov_epochs_begin(mgov_epochs_t *s, uint64_t *epoch);

/* The arena of a live epoch, held until mgov_epochs_release.  Errors:
 * MGOV_EINVAL (NULL arguments), MGOV_ENOTFOUND (never begun, or retired). */
MGOV_API int mgov_epochs_acquire(mgov_epochs_t *s, uint64_t epoch, mgov_arena_t **out);
MGOV_API void mgov_epochs_release(mgov_epochs_t *s, mgov_arena_t *a);

/* Allocates in the current epoch (acquire, alloc, release in one call) and
 * stores that epoch in *epoch (may be NULL): the object lives until that
 * epoch is retired.  If the epoch is retired while the call runs, it
 * allocates again in the new current one, so it never returns memory of an
 * epoch already retired.  NULL on failure; mgov_epochs_last_error tells
 * why.  Two short lock sections per call: for many objects, acquire the
 * arena once. */
MGOV_API void *mgov_epochs_alloc(mgov_epochs_t *s, size_t size, size_t align, uint64_t *epoch);
MGOV_API int mgov_epochs_last_error(const mgov_epochs_t *s);

/* Retires every epoch older than `before` (the current epoch is never
 * retired).  Their arenas are freed now, or at their last release if
 * acquired.  Returns how many epochs were retired. */
MGOV_API size_t mgov_epochs_retire(mgov_epochs_t *s, uint64_t before);

/* Live (not retired) epochs, and the bytes their arenas hold. */
MGOV_API size_t mgov_epochs_count(const mgov_epochs_t *s);
MGOV_API size_t mgov_epochs_reserved(const mgov_epochs_t *s);

/* ------------------------------------------------- the inline fast path */

/* ABI, not API: an arena begins with this cursor over the free space of its
 * current chunk, so the common allocation is a few inline instructions.
 * Never write it.  `end` is aligned to MGOV__ARENA_INLINE_ALIGN (standard
 * chunks are), so aligning pos up never passes it.  The library disables
 * the cursor (limit 0) in thread-safe mode, in AddressSanitizer builds and
 * before the first chunk; every allocation then takes
 * mgov_arena_alloc_slow, which behaves the same. */
typedef struct mgov_arena_cursor {
    uintptr_t pos, end;
    size_t limit; /* requests of this size or more take the slow path */
} mgov_arena_cursor_t;
#define MGOV__ARENA_INLINE_ALIGN ((size_t)4096)

/* The out-of-line allocation path; call mgov_arena_alloc instead. */
MGOV_API void *mgov_arena_alloc_slow(mgov_arena_t *a, size_t size, size_t align);

static inline void *mgov_arena_alloc(mgov_arena_t *a, size_t size, size_t align)
{
    size_t al = align ? align : MGOV_ARENA_DEFAULT_ALIGN;
    if (a && (al & (al - 1)) == 0 && al <= MGOV__ARENA_INLINE_ALIGN) {
        mgov_arena_cursor_t *c = (mgov_arena_cursor_t *)(void *)a;
        uintptr_t p = (c->pos + (al - 1)) & ~(uintptr_t)(al - 1);
        if (size < c->limit && size <= c->end - p) {
            c->pos = p + size;
            return (void *)p;
        }
    }
    return mgov_arena_alloc_slow(a, size, align);
}

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_ARENA_H */
