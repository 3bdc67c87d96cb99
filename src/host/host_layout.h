/* host/host_layout.h - internal: the shared segment of a host budget, as
 * every member process maps it, and the helpers that read it defensively.
 *
 *   /dev/shm/memgov.<uid>.<name>   (mode 0600, owned by the user)
 *
 *   +---------------------------------------------------------------+
 *   | header: magic, version, sizes, budget, chunk, thresholds, crc |  fixed at create
 *   | mutex   (robust, process-shared)                              |
 *   | bell    (futex word: room came back, an ask, a member left)   |
 *   | ev_seq                                                        |
 *   | slots[MGOV__HOST_SLOTS]: one per member process               |
 *   | events[MGOV__HOST_EVENTS]: a ring, the last events            |
 *   +---------------------------------------------------------------+
 *
 * OFD locks on the segment's file (sys/shm.h) carry what the kernel must
 * clean up when a process dies:
 *   byte 0        the setup lock: held while creating, validating or
 *                 replacing the segment, while claiming a slot at attach,
 *                 and by the last member out while it unlinks the name;
 *   byte 1 + i    slot i's life: held by its owner from before the slot is
 *                 marked LIVE until after it is marked FREE.  A LIVE slot
 *                 whose byte nobody holds belongs to a dead process.
 *
 * Invariants (under the mutex):
 *   - sum over LIVE slots of `leased` <= budget, always: a lease grows only
 *     by one store after the sum was checked, and a dead member's lease
 *     counts until it is taken back;
 *   - a FREE slot holds nothing (leased 0).
 * The header is written once, under the setup lock, before any member can
 * map it, and checked (magic, version, sizes, ranges, crc) by every
 * process that attaches.  Nothing read from the segment is trusted: every
 * value goes through a clamp or a range check before it is used (a
 * damaged value makes a member refuse or repair, never crash or overrun).
 *
 * Locking: the mutex guards every slot, the events and ev_seq.  The bell
 * is an atomic, read and waited on without it.  Lock order: a member's
 * own lease lock (host.c) before the mutex; the setup lock before both.
 */
#ifndef MGOV_HOST_LAYOUT_H
#define MGOV_HOST_LAYOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgov/host.h"

#define MGOV__HOST_MAGIC 0x54534f48564f474dull /* "MGOVHOST" little-endian */
#define MGOV__HOST_VERSION 1u
#define MGOV__HOST_SLOTS MGOV_HOST_MAX_MEMBERS
#define MGOV__HOST_EVENTS 64u
#define MGOV__HOST_LOCK_SETUP 0
#define MGOV__HOST_LOCK_SLOT0 1

enum { MGOV__SLOT_FREE = 0, MGOV__SLOT_LIVE = 1 };

typedef struct mgov__host_slot {
    uint32_t state;        /* MGOV__SLOT_FREE or _LIVE */
    uint32_t gen;          /* bumped at each claim: one incarnation of the slot */
    int32_t pid;           /* as its owner sees itself; for people only */
    uint32_t weight;       /* 1..MGOV_HOST_WEIGHT_MAX */
    uint64_t guarantee;    /* bytes no other member may take */
    uint64_t leased;       /* bytes of the budget it holds */
    uint64_t used;         /* bytes its governor granted (published each tick) */
    uint64_t want;         /* bytes a refused lease asked for; 0: none */
    uint64_t want_at;      /* CLOCK_MONOTONIC ns of the last refusal */
    uint64_t ask;          /* bytes the others ask it to give back */
    uint64_t ask_at;
    uint32_t ask_seq, answer_seq; /* an ask is outstanding while they differ */
    uint32_t level;        /* its governor's pressure level */
    uint32_t late;         /* 1: did not answer an ask in time (no new leases) */
    char comm[16];         /* its command name, NUL-padded (maybe not terminated) */
    uint64_t attached_at;  /* CLOCK_REALTIME ns */
    uint64_t pad[2];
} mgov__host_slot_t;

typedef struct mgov__host_event {
    uint64_t seq, time_ns; /* CLOCK_REALTIME ns */
    uint32_t type;         /* mgov_host_event_type_t */
    int32_t slot, pid;
    uint32_t pad;
    uint64_t bytes;
} mgov__host_event_t;

typedef struct mgov__host_seg {
    /* header: written once under the setup lock, then only read */
    uint64_t magic;
    uint32_t version, size;      /* size: sizeof(mgov__host_seg_t) */
    uint32_t n_slots, n_events;
    uint64_t budget, chunk;
    uint32_t high_permille;      /* host-wide pressure: asks begin above it */
    uint32_t answer_ms;          /* an ask unanswered this long makes its member late */
    uint64_t created_at;         /* CLOCK_REALTIME ns */
    uint32_t crc;                /* crc32c of the fields above */
    uint32_t pad0;
    _Alignas(64) pthread_mutex_t mutex;
    _Atomic uint32_t bell;
    uint32_t pad1;
    uint64_t ev_seq;             /* events made so far (under the mutex) */
    _Alignas(64) mgov__host_slot_t slots[MGOV__HOST_SLOTS];
    mgov__host_event_t events[MGOV__HOST_EVENTS];
} mgov__host_seg_t;

/* crc32c of the header's fixed fields. */
uint32_t mgov__host_header_crc(const mgov__host_seg_t *s);
/* MGOV_OK when the header is one this code wrote (magic, version, sizes,
 * budget and chunk in range, crc), else MGOV_ECORRUPT. */
int mgov__host_header_check(const mgov__host_seg_t *s);

/* The segment's bytes as trusted values: v, or `max` when larger. */
static inline uint64_t mgov__host_clamp(uint64_t v, uint64_t max) { return v > max ? max : v; }
/* a + b, saturating. */
static inline uint64_t mgov__host_sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* ---- host_seg.c: naming, mapping and the setup lock */

/* "/memgov.<euid>.<name>" into buf (cap bytes): MGOV_OK, or MGOV_EINVAL for
 * a name that is not 1..MGOV_NAME_MAX bytes of [A-Za-z0-9_.-] not starting
 * with '.'. */
int mgov__host_shm_name(const char *name, char *buf, size_t cap);
/* Takes the setup lock, retrying for up to timeout_ns (a member holds it
 * for microseconds; a stuck one is a timeout, not a hang).  MGOV_OK,
 * MGOV_ETIMEDOUT, or the lock's error as a status. */
int mgov__host_setup_lock(int fd, uint64_t timeout_ns);
void mgov__host_setup_unlock(int fd);
/* The object behind fd is the user's own regular file, closed to others
 * (no group or other permission bits), still linked: MGOV_OK; MGOV_EIO
 * when it is not ours or is open to others; MGOV_ENOTFOUND when it has been
 * unlinked since it was opened (the last member out removed it). */
int mgov__host_fd_check(int fd, off_t *size);

/* ---- host_slot.c: the mutex and the slots, each call with the mutex held
 * where its name ends in _locked */

/* Locks the segment's mutex, waiting at most 2 s.  A dead owner's lock
 * (EOWNERDEAD) is made consistent and returned as MGOV_OK with *recovered
 * set (the caller repairs what the dead owner may have left half-done).
 * MGOV_ETIMEDOUT, or MGOV_ECORRUPT for a mutex that cannot be used. */
int mgov__host_mutex_lock(mgov__host_seg_t *s, bool *recovered);
void mgov__host_mutex_unlock(mgov__host_seg_t *s);
/* Initializes the mutex (robust, process-shared): MGOV_OK or MGOV_ENOMEM. */
int mgov__host_mutex_init(pthread_mutex_t *m);
/* Appends an event to the ring. */
void mgov__host_event_locked(mgov__host_seg_t *s, mgov_host_event_type_t type, int slot,
                             int32_t pid, uint64_t bytes);
/* Rings the bell: every member's agent wakes and looks. */
void mgov__host_bell(mgov__host_seg_t *s);
/* Takes back the slots of dead members (a LIVE slot whose lock byte no
 * description holds), and frees slots whose state is not a state; `self`
 * (-1: none) is never looked at.  Returns how many were taken back. */
unsigned mgov__host_reap_locked(mgov__host_seg_t *s, int fd, int self);
/* What `slot` may add to its lease now without taking from any other
 * member's lease or unused guarantee: budget - sum over other LIVE slots
 * of max(leased, guarantee) - its own lease (clamped, saturating). */
uint64_t mgov__host_room_locked(const mgov__host_seg_t *s, int slot);
/* A member's fair share: max(guarantee, budget x weight / total weight of
 * the LIVE slots). */
uint64_t mgov__host_fair_locked(const mgov__host_seg_t *s, int slot);
/* Sum of the slots' leases (each clamped to the budget; saturating). */
uint64_t mgov__host_leased_locked(const mgov__host_seg_t *s);

#endif /* MGOV_HOST_LAYOUT_H */
