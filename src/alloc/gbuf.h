/* alloc/gbuf.h - internal: grant-backed growable memory.
 *
 * One contiguous run of bytes whose capacity is covered, byte for byte, by
 * one grant.  It reserves first and maps after; it gives pages and grant
 * back together when it shrinks; so the process's RSS follows the grant.
 * Two kinds:
 *
 *   fixed    the address space of `max` bytes is reserved at init
 *            (MAP_NORESERVE: no memory yet; 2 MiB-aligned from 2 MiB on);
 *            growing charges the grant and lets pages fault in as they
 *            are written, so the bytes never move and pointers into them
 *            stay valid (an operator's rows, a hash table, a sort's
 *            records).  The 2 MiB runs wholly below cap are advised huge
 *            pages, so none reaches past cap.
 *   movable  mapped only as needed (mgov__mmap_anon: 2 MiB-aligned with
 *            huge pages from 4 MiB on) and grown by mremap, so a grow may
 *            move it (a section's RAM, a hash table's rows); advised huge
 *            pages once it reaches 4 MiB.  Its mapping ends at cap, so a
 *            huge page never holds bytes the grant does not cover.
 *
 *            0                      cap                       max
 *   base ->  [ charged, may be resident | reserved address space ]
 *
 * Invariants: cap is a whole number of pages; grant.bytes == cap (0 with
 * no live grant); pages at or beyond cap are not resident (discarded when
 * cap shrinks).  With `published`, every change of cap is added to that
 * counter, so a consumer's usage op can read the sum of several buffers
 * from any thread.
 *
 * Threading: a buffer is used by one thread at a time; only `published`
 * is read by others (relaxed: a gauge, ordered with nothing).
 */
#ifndef MGOV_ALLOC_GBUF_H
#define MGOV_ALLOC_GBUF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/governor.h"

/* mgov__gbuf_grow's `how`: grant flags (MGOV_NO_RECLAIM, MGOV_URGENT) plus: */
#define MGOV__GBUF_POPULATE 0x100u /* fault the new pages in now: one call, not a
                                      trap per page (they will be written anyway) */

typedef struct mgov__gbuf {
    mgov_t *gov;
    int region;
    unsigned flags;            /* the grant's flags (MGOV_REVOCABLE ...) */
    unsigned char *base;       /* fixed: the reservation; movable: NULL until mapped */
    size_t cap;                /* usable bytes, == grant.bytes */
    size_t max;                /* fixed: bytes of address space reserved; 0: movable */
    mgov_grant_t grant;
    _Atomic uint64_t *published; /* optional gauge of the charged bytes */
} mgov__gbuf_t;

/* Sets up an empty buffer charging `region` of gov with grant `flags`.
 * max > 0 makes it fixed, reserving max bytes (rounded up to pages) of
 * address space now: MGOV_ENOMEM when the system refuses (strict
 * overcommit: try a smaller max).  max 0 makes it movable (nothing
 * mapped).  published may be NULL. */
int mgov__gbuf_init(mgov__gbuf_t *g, mgov_t *gov, int region, unsigned flags, size_t max,
                    _Atomic uint64_t *published);

/* Makes cap >= need (rounded up to pages).  With want > need it first
 * tries to take want without reclaim or waiting (a guess that costs no one
 * anything: doubling, a growth step), then settles for need: at once
 * (timeout_ns 0; mgov_try_reserve's one reclaim pass unless `how` has
 * MGOV_NO_RECLAIM) or waiting up to timeout_ns (< 0 forever).  The grant
 * grows first; the mapping after.  Errors: the governor's (MGOV_EBUDGET,
 * MGOV_ELIMIT, MGOV_ETIMEDOUT), MGOV_ELIMIT for a fixed buffer asked past
 * its max, MGOV_ENOMEM when the mapping fails.  On error nothing changed. */
int mgov__gbuf_grow(mgov__gbuf_t *g, size_t need, size_t want, int64_t timeout_ns, unsigned how);

/* Makes cap >= need (rounded up to pages) with bytes taken from *src, a
 * grant of the same governor and region already reserved (a wait's
 * result, spread over several buffers); src keeps the rest.  Errors:
 * MGOV_EINVAL (src too small or not the buffer's region), MGOV_ELIMIT (a
 * fixed buffer past its max), MGOV_ENOMEM (mapping; src unchanged). */
int mgov__gbuf_grow_from(mgov__gbuf_t *g, size_t need, mgov_grant_t *src);

/* Gives back every page from `keep` (rounded up to pages) on, with its
 * share of the grant.  keep >= cap does nothing.  A movable buffer whose
 * mremap fails keeps its larger mapping and grant (still correct).  Never
 * fails. */
void mgov__gbuf_shrink(mgov__gbuf_t *g, size_t keep);

/* Gives back all memory and the grant and unmaps (a fixed buffer's
 * reservation too).  The buffer may be set up again.  NULL-safe. */
void mgov__gbuf_free(mgov__gbuf_t *g);

/* Moves the contents of *from into *to (empty), leaving *from empty. */
void mgov__gbuf_move(mgov__gbuf_t *to, mgov__gbuf_t *from);

#endif /* MGOV_ALLOC_GBUF_H */
