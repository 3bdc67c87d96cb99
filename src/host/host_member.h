/* host/host_member.h - internal to src/host/: one process's membership of
 * a host budget (the mgov__host_t behind host.h), shared by host.c (attach,
 * detach, leases) and host_agent.c (the member's agent thread).
 *
 * Locking: lease_lock serializes changes of this member's lease (grow,
 * shrink): `leased` and the governor's lease change only under it, and
 * the slot's `leased` is written with both it and the segment's mutex
 * held, so either lock is enough to read it.  The rest is fixed between
 * attach and detach, or the agent's alone.
 */
#ifndef MGOV_HOST_MEMBER_H
#define MGOV_HOST_MEMBER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/host.h"
#include "host/host_layout.h"

#define MGOV__HOST_TICK_NS (10 * 1000 * 1000ull) /* the agent's period */
#define MGOV__HOST_WANT_NS (1000 * 1000 * 1000ull) /* a want older than this is stale */

struct mgov__host {
    int fd;
    mgov__host_seg_t *seg;
    size_t map_len;
    char shm_name[96];
    int slot;
    uint32_t gen;
    int32_t pid;
    unsigned weight;
    uint64_t guarantee;
    uint64_t budget, chunk, high_bytes, answer_ns; /* trusted copies of the header */
    mgov__host_ops_t ops;

    pthread_mutex_t lease_lock;
    uint64_t leased; /* what this member holds of the budget */

    pthread_t agent;
    bool agent_started;
    unsigned ticks; /* the agent's own */
    _Atomic bool stop;
};

/* Writes this member's own fields into its slot (claim, repair). */
void mgov__host_slot_fill_locked(mgov__host_t *h);
/* Asks the LIVE members other than `self` that hold the most beyond their
 * fair share, and have no ask outstanding, to give back `need` bytes in
 * all.  Returns how many were asked. */
unsigned mgov__host_ask_locked(mgov__host_t *h, uint64_t need);
/* Gives back what the governor does not use, keeping `keep` bytes of slack
 * (rounded to chunks).  Returns the bytes given back. */
uint64_t mgov__host_shrink(mgov__host_t *h, uint64_t keep);

/* ---- host_agent.c */
int mgov__host_agent_start(mgov__host_t *h);
void mgov__host_agent_stop(mgov__host_t *h);

#endif /* MGOV_HOST_MEMBER_H */
