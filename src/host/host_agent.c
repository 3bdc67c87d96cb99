/* host/host_agent.c - a member's agent thread: it does for the host what
 * no grant should pay for.  Every tick (10 ms), or at once when the bell
 * rings:
 *   - takes back the leases of dead members (host_slot.c: reap);
 *   - publishes this member's usage and pressure level in its slot, and
 *     repairs the slot from the member's own truth if its values were
 *     damaged;
 *   - answers an ask: reclaim on the governor's consumers, then give back
 *     everything unused, then mark the ask answered;
 *   - gives back slack: what the governor does not use beyond two chunks,
 *     or all of it while another member waits for room;
 *   - past the host-wide threshold, asks the members most beyond their
 *     fair share to give back;
 *   - when the bell rang and requests wait here, lets them try again
 *     (room came back somewhere on the host).
 *
 * Locking: the agent takes the segment's mutex for its reads and writes of
 * the slots, and calls the governor's callbacks with no lock held.
 */
#include <errno.h>
#include <string.h>

#include "host/host_member.h"
#include "sys/shm.h"
#include "sys/sys.h"

#define REAP_EVERY 10 /* ticks: 100 ms */

typedef struct {
    bool answer;      /* an ask is outstanding */
    uint32_t ask_seq;
    uint64_t ask;
    bool others_want; /* another member waits for room */
    bool reaped;
} tick_t;

/* The slot as this member wrote it; anything else is damage. */
static bool slot_damaged_locked(const mgov__host_t *h)
{
    const mgov__host_slot_t *sl = &h->seg->slots[h->slot];
    return sl->state != MGOV__SLOT_LIVE || sl->gen != h->gen || sl->pid != h->pid ||
           sl->weight != h->weight || sl->guarantee != h->guarantee || sl->leased != h->leased;
}

static void tick_locked(mgov__host_t *h, tick_t *t)
{
    mgov__host_seg_t *s = h->seg;
    mgov__host_slot_t *sl = &s->slots[h->slot];
    uint64_t now = mgov__now_ns();
    /* h->leased is stable: its writers hold the mutex too */
    if (slot_damaged_locked(h)) {
        mgov__host_event_locked(s, MGOV_HOST_EV_REPAIRED, h->slot, h->pid, h->leased);
        mgov__host_slot_fill_locked(h);
    }
    sl->used = atomic_load_explicit(h->ops.used, memory_order_relaxed);
    sl->level = (uint32_t)h->ops.level(h->ops.ctx);
    if (sl->want && h->ops.waiters(h->ops.ctx) == 0)
        sl->want = 0; /* nobody here waits any more */
    t->answer = sl->ask_seq != sl->answer_seq;
    t->ask_seq = sl->ask_seq;
    t->ask = mgov__host_clamp(sl->ask, h->budget);
    t->others_want = false;
    for (int i = 0; i < (int)MGOV__HOST_SLOTS; i++) {
        mgov__host_slot_t *o = &s->slots[i];
        if (i == h->slot || o->state != MGOV__SLOT_LIVE)
            continue;
        if (o->want && now - o->want_at < MGOV__HOST_WANT_NS)
            t->others_want = true;
        /* an ask left unanswered too long: no new lease until answered */
        if (o->ask_seq != o->answer_seq && !o->late && now - o->ask_at > h->answer_ns) {
            o->late = 1;
            mgov__host_event_locked(s, MGOV_HOST_EV_LATE, i, o->pid,
                                    mgov__host_clamp(o->ask, h->budget));
        }
    }
    /* a dead member's lease matters at once only to members that wait:
     * otherwise every REAP_EVERY ticks spares the live members' slots a
     * system call each per tick */
    if (t->others_want || sl->want || ++h->ticks % REAP_EVERY == 0)
        t->reaped = mgov__host_reap_locked(s, h->fd, h->slot) > 0;
    uint64_t leased = mgov__host_leased_locked(s);
    if (leased > h->high_bytes)
        mgov__host_ask_locked(h, leased - h->high_bytes);
}

static void answer(mgov__host_t *h, const tick_t *t)
{
    h->ops.reclaim(h->ops.ctx, t->ask);
    uint64_t given = mgov__host_shrink(h, 0);
    mgov__host_seg_t *s = h->seg;
    bool recovered;
    if (mgov__host_mutex_lock(s, &recovered) != MGOV_OK)
        return; /* answered at the next tick */
    mgov__host_slot_t *sl = &s->slots[h->slot];
    if (sl->ask_seq == t->ask_seq) {
        sl->answer_seq = t->ask_seq;
        sl->ask = 0;
        sl->late = 0;
        mgov__host_event_locked(s, MGOV_HOST_EV_ANSWERED, h->slot, h->pid, given);
    }
    mgov__host_mutex_unlock(s);
    mgov__host_bell(s);
}

static void *agent_main(void *arg)
{
    mgov__host_t *h = arg;
    mgov__host_seg_t *s = h->seg;
    uint32_t seen = atomic_load(&s->bell);
    while (!atomic_load(&h->stop)) {
        /* read before looking: a ring after this read wakes the wait below */
        uint32_t bell = atomic_load(&s->bell);
        tick_t t = { 0 };
        bool recovered;
        if (mgov__host_mutex_lock(s, &recovered) == MGOV_OK) {
            if (recovered)
                mgov__host_event_locked(s, MGOV_HOST_EV_RECOVERED, -1, h->pid, 0);
            tick_locked(h, &t);
            mgov__host_mutex_unlock(s);
        }
        if (t.reaped)
            mgov__host_bell(s);
        if (t.answer)
            answer(h, &t);
        else
            mgov__host_shrink(h, t.others_want ? 0 : 2 * h->chunk);
        if ((bell != seen || t.reaped) && h->ops.waiters(h->ops.ctx))
            h->ops.room(h->ops.ctx);
        seen = bell;
        if (atomic_load(&h->stop))
            break;
        (void)mgov__futex_wait((uint32_t *)&s->bell, bell, (int64_t)MGOV__HOST_TICK_NS);
    }
    return NULL;
}

int mgov__host_agent_start(mgov__host_t *h)
{
    atomic_store(&h->stop, false);
    if (pthread_create(&h->agent, NULL, agent_main, h) != 0)
        return MGOV_ENOMEM;
    h->agent_started = true;
    return MGOV_OK;
}

void mgov__host_agent_stop(mgov__host_t *h)
{
    if (!h->agent_started)
        return;
    atomic_store(&h->stop, true);
    mgov__host_bell(h->seg);
    pthread_join(h->agent, NULL);
    h->agent_started = false;
}
