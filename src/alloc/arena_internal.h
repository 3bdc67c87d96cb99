/* alloc/arena_internal.h - internal: the layout of an arena and its chunks,
 * shared by arena.c (creation, allocation) and arena_scope.c (reset, marks,
 * inspection).  Not installed.
 *
 * Invariants
 *   - The chunk list (head) runs newest first: seq strictly decreasing.
 *   - Every chunk lies in one allocation of `size` bytes starting at the
 *     chunk header; its data is [base, end) and base <= pos <= end.
 *   - With a governor, chunk->grant holds exactly chunk->size bytes in the
 *     arena's region; without one the grant is empty.
 *   - reserved == sum of chunk sizes, n_chunks == list length.
 *   - cur is the chunk being bumped (NULL before the first allocation); it
 *     is never a dedicated (oversized) chunk.
 *   - Cursor on (single-threaded mode, not under ASan): cursor.pos/end mirror
 *     cur's free space and cursor.pos is authoritative for cur; cur->pos is
 *     brought up to date by cursor_sync() before any bookkeeping.  Cursor
 *     off: cursor.limit = 0, which fails the inline check, and chunk->pos is
 *     authoritative (bumped by CAS in thread-safe mode).
 *   - Standard chunks are page aligned and a whole number of pages, so
 *     their `end` is MGOV__ARENA_INLINE_ALIGN aligned (the inline path
 *     relies on it); dedicated ones are cache-line aligned.
 */
#ifndef MGOV_ALLOC_ARENA_INTERNAL_H
#define MGOV_ALLOC_ARENA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "memgov/arena.h"

typedef struct mgov__chunk {
    struct mgov__chunk *next; /* older */
    uint64_t seq;             /* 1, 2, ... in creation order */
    uintptr_t base, end;      /* the data area */
    _Atomic uintptr_t pos;    /* next free byte */
    size_t size;              /* bytes allocated, header included */
    bool dedicated;           /* holds one oversized request */
    mgov_grant_t grant;
} mgov__chunk_t;

struct mgov_arena {
    mgov_arena_cursor_t cursor; /* first: the inline fast path reads it */
    _Atomic(mgov__chunk_t *) cur;
    mgov__chunk_t *head;
    size_t n_chunks;
    _Atomic size_t reserved;
    uint64_t next_seq;
    uint64_t generation;

    size_t chunk_size;
    mgov_t *gov;
    int region;
    unsigned grant_flags;
    int64_t timeout_ns;
    bool thread_safe;
    bool cursor_enabled; /* single-threaded and not under ASan */
    _Atomic int last_error;
    pthread_mutex_t lock; /* thread-safe mode: adding chunks */
};

/* Writes the cursor's position back into cur (cursor on). */
void mgov__arena_cursor_sync(mgov_arena_t *a);
/* Points the cursor at cur's free space (cursor on), or disables it. */
void mgov__arena_cursor_load(mgov_arena_t *a);
/* A chunk's position, reading the cursor for cur. */
uintptr_t mgov__arena_chunk_pos(const mgov_arena_t *a, const mgov__chunk_t *c);
/* Poisons a chunk's data, returns its grant and frees it. */
void mgov__arena_chunk_free(mgov__chunk_t *c);
/* Creates an arena charging `region` (already resolved). */
int mgov__arena_create_in(const mgov_arena_config_t *cfg, int region, mgov_arena_t **out);

#endif /* MGOV_ALLOC_ARENA_INTERNAL_H */
