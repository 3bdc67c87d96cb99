/* memgov/host.h - one budget shared by several processes on a host.
 *
 * A governor created with mgov_config_t.host = "NAME" draws its memory from
 * a budget shared by every process that names the same host (as the same
 * user).  The first one creates the budget; later ones join it; the last
 * one out removes it.  Each governor leases room from the shared budget in
 * chunks and hands it out to its grants with its usual lock-free path, so a
 * grant that fits in the current lease costs what a local one costs.
 *
 *   - The shared budget is fixed by the process that creates it
 *     (host_budget, else 75% of what its cgroup or the machine allows; see
 *     memgov/sysinfo.h).  A process that joins uses it as its own budget
 *     unless it asked for a smaller one.
 *   - The sum of the leases never exceeds the shared budget, whatever the
 *     interleaving and whoever dies.
 *   - Host-wide pressure: past 85% of the shared budget, or when a lease is
 *     refused, the members holding most beyond their fair share
 *     (budget x weight / total weight, at least their guarantee) are asked
 *     to give back: their governors reclaim from their own consumers and
 *     return what they no longer use.  A member that leaves an ask
 *     unanswered for a second gets no new lease until it answers.  While
 *     some member waits for room, members beyond their fair share get no
 *     new lease either.  A member waiting for room is woken when room
 *     comes back, across processes.
 *   - Death: a member killed at any point (SIGKILL included) is detected
 *     by the others (the kernel drops its lock on its slot) and its lease
 *     is taken back, within a tick (10 ms) of the next member that looks.
 *
 * See docs/host.md for the protocol.
 *
 * Threading: every function here is thread-safe.
 *
 * Limits: a forked child that does not exec keeps its parent's slot alive
 * until it exits (it shares the descriptor whose lock marks the slot).
 */
#ifndef MEMGOV_HOST_H
#define MEMGOV_HOST_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mgov;

#define MGOV_HOST_MAX_MEMBERS 64u
#define MGOV_HOST_WEIGHT_MAX 1000u

/* XX(NAME, value, name): what the host's event ring records. */
#define MGOV_HOST_EVENT_MAP(XX)                                                                    \
    XX(CREATED, 0, "created")     /* bytes: the budget */                                          \
    XX(REPLACED, 1, "replaced")   /* a left-over or damaged segment was replaced */                \
    XX(JOINED, 2, "joined")       /* a member attached */                                          \
    XX(LEFT, 3, "left")           /* a member detached; bytes: what it held */                     \
    XX(DIED, 4, "died")           /* a dead member was found; bytes: the lease taken back */       \
    XX(ASKED, 5, "asked")         /* a member was asked to give back bytes */                      \
    XX(ANSWERED, 6, "answered")   /* a member answered; bytes: what it gave back */                \
    XX(LATE, 7, "late")           /* a member did not answer in time */                            \
    XX(REFUSED, 8, "refused")     /* a lease was refused; bytes: asked for */                      \
    XX(REPAIRED, 9, "repaired")   /* damaged slot values were repaired */                          \
    XX(RECOVERED, 10, "recovered") /* the lock of a dead owner was recovered */

typedef enum mgov_host_event_type {
#define MGOV__HOST_EVENT_ENUM(name, value, str) MGOV_HOST_EV_##name = (value),
    MGOV_HOST_EVENT_MAP(MGOV__HOST_EVENT_ENUM)
#undef MGOV__HOST_EVENT_ENUM
} mgov_host_event_type_t;

typedef struct mgov_host_event {
    uint64_t seq;      /* increases by one per event of the host */
    uint64_t time_ns;  /* CLOCK_REALTIME */
    mgov_host_event_type_t type;
    int slot;          /* the member's slot, -1 when about none */
    int pid;
    uint64_t bytes;
} mgov_host_event_t;

typedef struct mgov_host_member {
    unsigned slot, gen;  /* slot index, and which incarnation of it */
    int pid;             /* as the member sees itself (its pid namespace) */
    char comm[17];       /* its command name */
    unsigned weight;
    uint64_t guarantee, leased, used;
    uint64_t want;       /* bytes it waits for; 0 when it does not */
    uint64_t ask;        /* bytes it is asked to give back; 0 when none */
    int level;           /* its governor's mgov_pressure_t */
    bool late;           /* did not answer an ask in time */
    uint64_t attached_at; /* CLOCK_REALTIME ns */
} mgov_host_member_t;

typedef struct mgov_host_view {
    uint64_t budget, chunk;
    double high;         /* host-wide pressure threshold (fraction) */
    uint64_t leased, used; /* over the members */
    unsigned n_members;
    mgov_host_member_t members[MGOV_HOST_MAX_MEMBERS];
    uint64_t ev_seq;     /* events made so far */
    unsigned n_events;   /* the last ones, oldest first */
    mgov_host_event_t events[64];
} mgov_host_view_t;

/* Reads the host budget NAME (this user's) without joining it: a snapshot
 * taken under its lock.  Errors: MGOV_EINVAL (bad name, NULL out),
 * MGOV_ENOTFOUND (no such host), MGOV_ECORRUPT (a damaged segment),
 * MGOV_EIO (a segment of that name that is not the user's own or is open
 * to others), MGOV_ETIMEDOUT (its lock could not be taken within 2 s). */
MGOV_API int mgov_host_read(const char *name, mgov_host_view_t *out);

/* This governor's own membership (its slot as the host sees it).  Errors:
 * MGOV_EINVAL (NULL), MGOV_ENOTFOUND (a governor without a host),
 * MGOV_ETIMEDOUT, MGOV_ECORRUPT. */
MGOV_API int mgov_host_member(struct mgov *gov, mgov_host_member_t *out);

/* "created", "joined", ...; "unknown" otherwise. */
MGOV_API const char *mgov_host_event_name(mgov_host_event_type_t type);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_HOST_H */
