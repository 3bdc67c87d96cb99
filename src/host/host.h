/* host/host.h - internal: what the governor asks of the host layer, the
 * budget shared by the processes of a host (memgov/host.h).  The host
 * layer sits below the governor: it knows two of the governor's counters
 * and a few callbacks, nothing else.  Not installed.
 *
 * The lease protocol.  The governor's `used` never exceeds its `lease`
 * (the bytes this process holds of the shared budget):
 *   - a charge checks used + b <= lease in its CAS loop on `used`, then
 *     re-reads the lease (seq_cst) and undoes itself if the lease fell
 *     below what it charged (grant.c);
 *   - a lease shrinks (mgov__host_* below, under the member's lease lock)
 *     by storing the lower lease (seq_cst) and then reading `used`
 *     (seq_cst); if used is above the new lease it puts the old one back.
 *   Store-then-load on both sides, all seq_cst: at least one of the two
 *   sees the other, so no charge keeps bytes beyond a lease that shrank,
 *   and the bytes a shrink returns to the host were never in use.
 *   - a lease grows only after the host granted the bytes (under the
 *     segment's mutex), so lease <= the slot's `leased`, always.
 *
 * Thread safety: every function is thread-safe.  Lock order: the
 * governor's wait_lock (mgov__host_grow runs under it from a waiter scan),
 * then the member's lease lock, then the segment's mutex.  The callbacks
 * are called by the member's agent thread with none of these held.
 */
#ifndef MGOV_HOST_HOST_H
#define MGOV_HOST_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "memgov/host.h"

typedef struct mgov__host mgov__host_t;

typedef struct mgov__host_ops {
    void *ctx;
    _Atomic uint64_t *used;  /* the governor's counters */
    _Atomic uint64_t *lease;
    /* Asked by the host to give back `bytes`: reclaim from consumers.  The
     * host returns what is then unused itself. */
    void (*reclaim)(void *ctx, uint64_t bytes);
    /* Room came back to the host: let waiters try again. */
    void (*room)(void *ctx);
    /* Requests waiting now; and the pressure level, for people. */
    unsigned (*waiters)(void *ctx);
    int (*level)(void *ctx);
} mgov__host_ops_t;

typedef struct mgov__host_config {
    const char *name;
    uint64_t budget;     /* when created; 0: 75% of the process limit */
    unsigned weight;     /* 0: 1 */
    uint64_t guarantee;
} mgov__host_config_t;

/* Creates or joins the host budget and starts the member's agent thread,
 * which may call ops from then on.  *ops is copied.  Errors as
 * mgov_create's host errors (memgov/governor.h); nothing is left behind
 * on failure (no descriptor, mapping, slot or segment). */
int mgov__host_attach(const mgov__host_config_t *cfg, const mgov__host_ops_t *ops,
                      mgov__host_t **out);
/* Stops the agent (no callback runs after it returns), gives the whole
 * lease back and leaves; the last member out removes the segment.  NULL:
 * nothing. */
void mgov__host_detach(mgov__host_t *h);

/* The shared budget (fixed at its creation). */
uint64_t mgov__host_budget(const mgov__host_t *h);

/* Grows the lease so that it is at least `need` bytes, if the host has the
 * room and its policy allows (fair share, guarantees, an unanswered ask):
 * true when the lease is now >= need.  On refusal the member's want is
 * recorded and the members beyond their fair share are asked to give back. */
bool mgov__host_grow(mgov__host_t *h, uint64_t need);

/* This member's slot as the host sees it (mgov_host_member). */
int mgov__host_member(mgov__host_t *h, mgov_host_member_t *out);

/* Tests: locks the segment's mutex and keeps it (a member killed while
 * holding it).  MGOV_OK or the lock's error. */
int mgov__host_test_hold_lock(mgov__host_t *h);

#endif /* MGOV_HOST_HOST_H */
