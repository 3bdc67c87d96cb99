/* governor/wait.c - blocking reservations: one FIFO queue, hand-off
 * admission, deadlines.
 *
 *   wq_head -> [w1: exec 8 MiB, budget] -> [w2: index 1 MiB, limit] -> ...
 *
 * A blocked request enqueues a waiter (on its own stack) and sleeps on the
 * waiter's condition variable.  Whoever returns memory (a release, a shrink,
 * a reclaim, a budget increase) scans the queue from the head and charges on
 * the waiters' behalf, in order:
 *   - a waiter refused for the budget blocks every later ordinary waiter
 *     (so a large request is never starved by small ones); urgent and
 *     spill-staging waiters are blocked only by earlier urgent ones;
 *   - a waiter refused for its region's limit blocks only its region.
 * A granted waiter leaves the queue with its grant already charged and is
 * signalled; it cannot lose it to a later arrival.
 *
 * New requests respect the queue too (mgov__held_back): while an ordinary
 * waiter is blocked on the budget, or any waiter of the same region is
 * queued, a new ordinary request does not bypass it.
 *
 * No lost wake-ups: a waiter increments n_waiters (seq_cst), reads the
 * counters and ceilings a release writes (seq_cst), and then makes its
 * first admission attempt under wait_lock; a releaser returns its bytes
 * (seq_cst steps: the region's word, committed, `used`; grant.c) and then
 * reads n_waiters (seq_cst).  Either the releaser sees the waiter and scans
 * under wait_lock, or the waiter's reads see the released bytes.  Those
 * reads are what make the attempt's relaxed loads (the first read of each
 * CAS loop) count: without them they could be satisfied before the
 * increment is visible.  A budget increase is a release of the same kind
 * (mgov_set_budget: the new ceiling, then n_waiters).
 *
 * While it waits, a waiter runs reclaim passes (shared with any pass already
 * running) at growing intervals, so a consumer that frees memory later than
 * its callback returned is still noticed when it releases.
 *
 * Locking: wait_lock guards the queue and every waiter's fields.  Events are
 * emitted by the waiting thread after it has left the queue, never under the
 * lock.
 */
#include <errno.h>
#include <string.h>

#include "governor/internal.h"
#include "sys/debug.h"
#include "sys/sys.h"

#define RECLAIM_RETRY_MIN_NS (5 * 1000 * 1000ull)    /* 5 ms */
#define RECLAIM_RETRY_MAX_NS (200 * 1000 * 1000ull)  /* 200 ms */

enum { W_WAITING = 1 };

struct mgov_waiter {
    mgov_waiter_t *prev, *next;
    int region;
    uint64_t bytes;
    unsigned flags;
    bool urgent;
    int why;    /* the rule that refused it last (MGOV__WHY_*) */
    int status; /* W_WAITING, then MGOV_OK or MGOV_ELIMIT */
    pthread_cond_t cond;
};

/* Keeps budget_waiters equal to the number of queued ordinary waiters whose
 * last refusal was the budget.  Under wait_lock. */
static void set_why_locked(mgov_t *gov, mgov_waiter_t *w, int why)
{
    mgov__assert_held(&gov->wait_lock);
    if (w->urgent || w->why == why)
        return;
    /* seq_cst: pairs with the loads in held_back (grant.c): a new request
     * ordered after the increment is held back.  The waiter counts are
     * changed only by seq_cst steps, so those loads read them in one order
     * with everything else of the protocol. */
    if (w->why == MGOV__WHY_BUDGET)
        atomic_fetch_sub(&gov->budget_waiters, 1);
    if (why == MGOV__WHY_BUDGET)
        atomic_fetch_add(&gov->budget_waiters, 1);
    w->why = why;
}

static void enqueue_locked(mgov_t *gov, mgov_waiter_t *w)
{
    mgov__assert_held(&gov->wait_lock);
    w->next = NULL;
    w->prev = gov->wq_tail;
    if (gov->wq_tail)
        gov->wq_tail->next = w;
    else
        gov->wq_head = w;
    gov->wq_tail = w;
    /* seq_cst: pairs with the loads in held_back (grant.c), as above */
    atomic_fetch_add(&gov->regions[w->region].waiters, 1);
    /* seq_cst: pairs with the load of n_waiters after a release (uncharge
     * in grant.c, mgov_set_budget); see the file comment */
    atomic_fetch_add(&gov->n_waiters, 1);
    /* Then seq_cst loads of everything a release writes and an admission
     * reads: they come after the increment in the single order, so they see
     * a release that missed this waiter, and the attempt's relaxed loads,
     * later in this thread, see nothing older (read-read coherence).  Loads,
     * not a fence: gcc's TSan does not support atomic_thread_fence. */
    (void)atomic_load(&gov->region_word[w->region]);
    (void)atomic_load(&gov->committed);
    (void)atomic_load(&gov->used);
    (void)atomic_load(&gov->level_bytes[3]);
    (void)atomic_load(&gov->budget);
}

static void dequeue_locked(mgov_t *gov, mgov_waiter_t *w, int status)
{
    mgov__assert_held(&gov->wait_lock);
    set_why_locked(gov, w, MGOV__WHY_NONE);
    if (w->prev)
        w->prev->next = w->next;
    else
        gov->wq_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        gov->wq_tail = w->prev;
    /* seq_cst as the increments (enqueue_locked) */
    atomic_fetch_sub(&gov->regions[w->region].waiters, 1);
    atomic_fetch_sub(&gov->n_waiters, 1);
    w->status = status;
    pthread_cond_signal(&w->cond);
}

/* Hands memory to waiters in FIFO order, as the file comment describes. */
static void scan_locked(mgov_t *gov)
{
    mgov__assert_held(&gov->wait_lock);
    bool budget_blocked = false, urgent_blocked = false;
    uint32_t region_blocked = 0;
    mgov_waiter_t *w = gov->wq_head;
    while (w) {
        mgov_waiter_t *next = w->next;
        uint32_t bit = 1u << w->region;
        if (mgov__check_fits_ever(gov, w->region, w->bytes, w->flags) != MGOV_OK) {
            /* after a budget shrink: fail it now, wherever it stands */
            dequeue_locked(gov, w, MGOV_ELIMIT);
        } else if (region_blocked & bit) {
            set_why_locked(gov, w, MGOV__WHY_LIMIT); /* behind its region only */
        } else if (w->urgent ? urgent_blocked : budget_blocked) {
            set_why_locked(gov, w, MGOV__WHY_BUDGET); /* behind the budget */
            region_blocked |= bit;
        } else {
            int why;
            if (mgov__charge(gov, w->region, w->bytes, w->flags, true, &why) == MGOV_OK) {
                dequeue_locked(gov, w, MGOV_OK);
            } else {
                set_why_locked(gov, w, why);
                region_blocked |= bit;
                if (why == MGOV__WHY_BUDGET) {
                    if (w->urgent)
                        urgent_blocked = true;
                    else
                        budget_blocked = true;
                }
            }
        }
        w = next;
    }
}

void mgov__wake_waiters(mgov_t *gov)
{
    pthread_mutex_lock(&gov->wait_lock);
    scan_locked(gov);
    pthread_mutex_unlock(&gov->wait_lock);
}

static uint64_t shortfall_of(mgov_t *gov, const mgov_waiter_t *w)
{
    uint64_t limit = mgov__limit_now(gov, w->region);
    if (w->why == MGOV__WHY_LIMIT && limit) {
        uint64_t u = mgov__region_used(gov, w->region);
        return u + w->bytes > limit ? u + w->bytes - limit : w->bytes;
    }
    uint64_t used = atomic_load_explicit(&gov->used, memory_order_relaxed); /* an estimate */
    uint64_t ceiling = mgov__ceiling(gov, w->region, w->flags);
    return used + w->bytes > ceiling ? used + w->bytes - ceiling : w->bytes;
}

static void wait_event(mgov_t *gov, mgov_event_type_t type, int region, uint64_t bytes,
                       uint64_t waited_ns)
{
    if (!mgov__has_events(gov))
        return;
    mgov_event_t ev;
    mgov__event_init(&ev, type, gov, region);
    ev.bytes = bytes;
    ev.duration_ns = waited_ns;
    mgov__emit(gov, &ev);
}

int mgov__reserve_wait(mgov_t *gov, int region, uint64_t bytes, unsigned flags,
                       int64_t timeout_ns, mgov_grant_t *out)
{
    uint64_t start = mgov__now_ns();
    uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
    mgov_waiter_t w = { .region = region, .bytes = bytes, .flags = flags,
                        .urgent = mgov__is_urgent(gov, region, flags),
                        .why = MGOV__WHY_NONE, .status = W_WAITING };
    if (mgov__cond_init_monotonic(&w.cond) != MGOV_OK)
        return MGOV_ENOMEM;

    pthread_mutex_lock(&gov->wait_lock);
    enqueue_locked(gov, &w);
    scan_locked(gov);
    bool waited = false, announce = timeout_ns != 0;
    uint64_t retry_ns = RECLAIM_RETRY_MIN_NS;
    bool may_reclaim = !(flags & MGOV_NO_RECLAIM) && !mgov__in_callback(gov);
    while (w.status == W_WAITING) {
        if (!waited && announce) {
            waited = true;
            atomic_fetch_add_explicit(&gov->regions[region].waits, 1, memory_order_relaxed);
            pthread_mutex_unlock(&gov->wait_lock);
            wait_event(gov, MGOV_EV_WAIT, region, bytes, 0);
            pthread_mutex_lock(&gov->wait_lock);
            continue;
        }
        if (may_reclaim) {
            uint64_t need = shortfall_of(gov, &w);
            int scope = w.why == MGOV__WHY_LIMIT && mgov__limit_now(gov, region) ? region : -1;
            pthread_mutex_unlock(&gov->wait_lock);
            mgov_pressure_t level = mgov_pressure(gov);
            uint64_t freed = mgov__reclaim_pass(
                gov, need, level < MGOV_PRESSURE_HIGH ? MGOV_PRESSURE_HIGH : level, scope);
            pthread_mutex_lock(&gov->wait_lock);
            if (w.status != W_WAITING)
                break;
            scan_locked(gov);
            if (w.status != W_WAITING)
                break;
            retry_ns = freed ? RECLAIM_RETRY_MIN_NS
                             : (retry_ns * 2 > RECLAIM_RETRY_MAX_NS ? RECLAIM_RETRY_MAX_NS
                                                                    : retry_ns * 2);
        }
        uint64_t now = mgov__now_ns();
        if (now >= deadline) {
            dequeue_locked(gov, &w, MGOV_ETIMEDOUT);
            break;
        }
        uint64_t wake = may_reclaim && deadline - now > retry_ns ? now + retry_ns : deadline;
        if (wake == UINT64_MAX) {
            pthread_cond_wait(&w.cond, &gov->wait_lock);
        } else {
            struct timespec ts = mgov__ns_to_timespec(wake);
            pthread_cond_timedwait(&w.cond, &gov->wait_lock, &ts);
        }
    }
    pthread_mutex_unlock(&gov->wait_lock);
    pthread_cond_destroy(&w.cond);

    uint64_t waited_ns = mgov__now_ns() - start;
    if (waited)
        atomic_fetch_add_explicit(&gov->regions[region].wait_ns, waited_ns,
                                  memory_order_relaxed);
    if (w.status == MGOV_OK) {
        *out = (mgov_grant_t){ .gov = gov, .bytes = bytes, .region = region, .flags = flags };
        if (waited)
            wait_event(gov, MGOV_EV_WAITED, region, bytes, waited_ns);
        return MGOV_OK;
    }
    if (w.status == MGOV_ETIMEDOUT) {
        atomic_fetch_add_explicit(&gov->regions[region].timeouts, 1, memory_order_relaxed);
        wait_event(gov, MGOV_EV_TIMEOUT, region, bytes, waited_ns);
    }
    return w.status;
}
