/* host/host_slot.c - the segment's mutex and its slots: locking with
 * recovery from a dead owner, the event ring, the bell, taking back the
 * slots of dead members, and the sums the lease policy needs.
 *
 * The mutex is robust and process-shared: the kernel marks it when its
 * owner dies holding it, and the next locker gets EOWNERDEAD, makes it
 * consistent and goes on.  What a dead owner may have left half-done is
 * harmless by construction: each change it makes under the mutex is one
 * store of a slot field (a lease, a state) whose every value keeps the
 * invariants, and the reaper frees the dead owner's slot.
 *
 * Every value read from a slot is clamped or range-checked here: sums
 * saturate, leases count at most the budget, a weight outside
 * 1..MGOV_HOST_WEIGHT_MAX counts as 1.
 *
 * Locking: functions ending in _locked need the segment's mutex.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "host/host_layout.h"
#include "sys/shm.h"
#include "sys/sys.h"

#define LOCK_TIMEOUT_NS (2 * 1000 * 1000 * 1000ull)

int mgov__host_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0)
        return MGOV_ENOMEM;
    int rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc == 0 ? MGOV_OK : MGOV_ENOMEM;
}

int mgov__host_mutex_lock(mgov__host_seg_t *s, bool *recovered)
{
    *recovered = false;
    /* trylock with backoff rather than timedlock: the sections it guards
     * last microseconds, a bound keeps a stuck or damaged mutex from
     * hanging a member, and TSan's timedlock does not follow EOWNERDEAD */
    uint64_t deadline = mgov__now_ns() + LOCK_TIMEOUT_NS;
    long nap_ns = 1000;
    int rc;
    for (unsigned spins = 0;; spins++) {
        rc = pthread_mutex_trylock(&s->mutex);
        if (rc != EBUSY)
            break;
        if (spins < 64) {
            sched_yield();
            continue;
        }
        if (mgov__now_ns() >= deadline)
            return MGOV_ETIMEDOUT;
        struct timespec ts = { 0, nap_ns };
        nanosleep(&ts, NULL);
        nap_ns = nap_ns < 256000 ? nap_ns * 2 : nap_ns;
    }
    if (rc == 0)
        return MGOV_OK;
    if (rc == EOWNERDEAD) {
        /* its owner died holding it: every state it can have left is one
         * the slots' checks accept (see the file comment) */
        if (pthread_mutex_consistent(&s->mutex) != 0) {
            pthread_mutex_unlock(&s->mutex);
            return MGOV_ECORRUPT;
        }
        *recovered = true;
        return MGOV_OK;
    }
    return MGOV_ECORRUPT; /* ENOTRECOVERABLE, EINVAL: a damaged mutex */
}

void mgov__host_mutex_unlock(mgov__host_seg_t *s)
{
    pthread_mutex_unlock(&s->mutex);
}

void mgov__host_event_locked(mgov__host_seg_t *s, mgov_host_event_type_t type, int slot,
                             int32_t pid, uint64_t bytes)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seq = s->ev_seq++;
    mgov__host_event_t *e = &s->events[seq % MGOV__HOST_EVENTS];
    *e = (mgov__host_event_t){ .seq = seq, .type = (uint32_t)type, .slot = slot, .pid = pid,
                               .bytes = bytes,
                               .time_ns = (uint64_t)ts.tv_sec * 1000000000u +
                                          (uint64_t)ts.tv_nsec };
}

void mgov__host_bell(mgov__host_seg_t *s)
{
    /* seq_cst: a waiter reads the bell, re-checks the slots under the
     * mutex, then waits on the value it read: a ring after its read is a
     * value change the futex sees */
    atomic_fetch_add(&s->bell, 1);
    (void)mgov__futex_wake((uint32_t *)&s->bell, 1 << 30);
}

static void slot_clear(mgov__host_slot_t *sl)
{
    uint32_t gen = sl->gen;
    memset(sl, 0, sizeof *sl);
    sl->gen = gen; /* the next claim makes a new incarnation */
    sl->state = MGOV__SLOT_FREE;
}

unsigned mgov__host_reap_locked(mgov__host_seg_t *s, int fd, int self)
{
    unsigned n = 0;
    for (int i = 0; i < (int)MGOV__HOST_SLOTS; i++) {
        mgov__host_slot_t *sl = &s->slots[i];
        if (i == self || (sl->state == MGOV__SLOT_FREE && sl->leased == 0))
            continue;
        int held = mgov__ofd_held(fd, MGOV__HOST_LOCK_SLOT0 + i, 1);
        if (held != 0)
            continue; /* alive, or the kernel cannot say: keep it */
        if (sl->state == MGOV__SLOT_LIVE)
            mgov__host_event_locked(s, MGOV_HOST_EV_DIED, i, sl->pid,
                                    mgov__host_clamp(sl->leased, s->budget));
        else
            mgov__host_event_locked(s, MGOV_HOST_EV_REPAIRED, i, sl->pid, 0);
        slot_clear(sl);
        n++;
    }
    return n;
}

static bool live(const mgov__host_slot_t *sl) { return sl->state == MGOV__SLOT_LIVE; }

static uint64_t weight_of(const mgov__host_slot_t *sl)
{
    return sl->weight >= 1 && sl->weight <= MGOV_HOST_WEIGHT_MAX ? sl->weight : 1;
}

uint64_t mgov__host_room_locked(const mgov__host_seg_t *s, int slot)
{
    uint64_t budget = s->budget, taken = 0;
    for (int i = 0; i < (int)MGOV__HOST_SLOTS; i++) {
        const mgov__host_slot_t *sl = &s->slots[i];
        uint64_t l = mgov__host_clamp(sl->leased, budget);
        if (i == slot) {
            taken = mgov__host_sat_add(taken, l);
        } else if (live(sl) || l) {
            /* a slot that is not LIVE but holds bytes counts until reaped */
            uint64_t g = live(sl) ? mgov__host_clamp(sl->guarantee, budget) : 0;
            taken = mgov__host_sat_add(taken, l > g ? l : g);
        }
    }
    return taken >= budget ? 0 : budget - taken;
}

uint64_t mgov__host_fair_locked(const mgov__host_seg_t *s, int slot)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < MGOV__HOST_SLOTS; i++)
        if (live(&s->slots[i]))
            total += weight_of(&s->slots[i]);
    const mgov__host_slot_t *me = &s->slots[slot];
    if (total == 0)
        total = 1;
    /* budget <= 2^46, weight <= 1000: the product fits */
    uint64_t fair = s->budget / total * weight_of(me);
    uint64_t g = mgov__host_clamp(me->guarantee, s->budget);
    return fair > g ? fair : g;
}

uint64_t mgov__host_leased_locked(const mgov__host_seg_t *s)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < MGOV__HOST_SLOTS; i++)
        sum = mgov__host_sat_add(sum, mgov__host_clamp(s->slots[i].leased, s->budget));
    return sum;
}
