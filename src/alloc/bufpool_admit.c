/* alloc/bufpool_admit.c - the slow path: admission against the cap, the FIFO
 * queue of blocked requests, deadlines, setting up new spans, and what a
 * release owes the queue.
 *
 * Admission (admit_locked), for n buffers (need = n x buffer_size bytes):
 *   1. a cached span of exactly n buffers in any shard (the caller's first)
 *      is handed out: BP_REUSED;
 *   2. otherwise new memory is admitted when held - cached + need <= cap
 *      (cached spans can always be freed to make room), evicting the oldest
 *      cached spans until held - evicted + need <= cap, and counting need as
 *      setup at once: BP_NEW.  The caller then frees the victims, takes over
 *      their grants (shrinking them to need, or reserving the difference)
 *      and allocates, all with no lock held;
 *   3. otherwise BP_NOFIT.
 *   Every shard lock is held across the three steps, so what the check sees
 *   is what the eviction finds.
 *
 * The queue.  A request that does not fit, or finds anyone queued, waits at
 * the tail (non-blocking ones fail with MGOV_EBUDGET instead).  Only the head
 * may be admitted; whoever may have made room (a release, a failed setup
 * giving its bytes back, a head leaving on timeout) runs the scan: admit the
 * head, hand it the outcome, signal it, and go on with the next head until
 * one does not fit.  So waiters are served strictly in arrival order, a large
 * head holds back every smaller request behind it, and only the waiters let
 * through are woken.  A woken waiter already owns its admission; it cannot
 * lose it to a later arrival.
 *
 * The grant is reserved after the pool's admission, outside the lock:
 * fail-fast for non-blocking requests, else waiting in the governor's own
 * FIFO queue until the request's deadline.  Any failure gives the admitted
 * bytes back and runs the scan.
 *
 * Locking: p->mu guards the queue, held/setup, the registry, `active`,
 * `destroyers`, `debt`; the shards are locked inside it (all of them, in
 * index order) for admission and eviction.  No governor call, and no free of
 * a span, happens under either.
 */
#include <string.h>

#include "alloc/bufpool_internal.h"
#include "sys/debug.h"
#include "sys/sys.h"

void mgov__bp_gate_update_locked(mgov_bufpool_t *p)
{
    mgov__assert_held(&p->mu);
    unsigned g = 0;
    if (p->wq_head || p->destroyers)
        g |= BP_GATE_WAITERS;
    if (p->closing)
        g |= BP_GATE_CLOSING;
    if (p->debt)
        g |= BP_GATE_DEBT;
    atomic_store_explicit(&p->gate, g, memory_order_relaxed);
}

/* See the file comment. */
static int admit_locked(mgov_bufpool_t *p, size_t n, unsigned shard, mgov_bufs_t **span,
                        mgov_bufs_t **victims)
{
    mgov__assert_held(&p->mu);
    uint64_t need = (uint64_t)n << p->shift, evicted = 0;
    mgov__bp_lock_shards(p);
    for (unsigned i = 0; i < p->n_shards; i++) {
        mgov_bufs_t *b = bp_cache_pop(&p->shards[(shard + i) & p->shard_mask], n);
        if (b) {
            bp_handout(&p->shards[shard], shard, b, true);
            mgov__bp_unlock_shards(p);
            *span = b;
            return BP_REUSED;
        }
    }
    if (p->cap) {
        uint64_t held = atomic_load_explicit(&p->held, memory_order_relaxed);
        if (held - mgov__bp_cached_bytes_locked(p) + need > p->cap) {
            mgov__bp_unlock_shards(p);
            return BP_NOFIT;
        }
        if (held + need > p->cap)
            evicted = mgov__bp_evict_locked(p, held + need - p->cap, victims);
    }
    mgov__bp_unlock_shards(p);
    /* The victims' bytes, up to need, pass to this request: counted once, as
     * setup.  The rest stays leaving until the request has freed them. */
    uint64_t carried = evicted < need ? evicted : need;
    p->leaving -= carried;
    mgov__bp_held_add_locked(p, need - carried);
    p->setup += need;
    return BP_NEW;
}

/* ------------------------------------------------------------ the queue */

static void enqueue_locked(mgov_bufpool_t *p, bp_waiter_t *w)
{
    mgov__assert_held(&p->mu);
    w->next = NULL;
    w->prev = p->wq_tail;
    if (p->wq_tail)
        p->wq_tail->next = w;
    else
        p->wq_head = w;
    p->wq_tail = w;
    p->n_waiters++;
    mgov__bp_gate_update_locked(p);
}

static void dequeue_locked(mgov_bufpool_t *p, bp_waiter_t *w, int status)
{
    mgov__assert_held(&p->mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        p->wq_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->wq_tail = w->prev;
    w->prev = w->next = NULL;
    p->n_waiters--;
    mgov__bp_gate_update_locked(p);
    w->status = status;
    pthread_cond_signal(&w->cond);
}

void mgov__bp_scan_locked(mgov_bufpool_t *p)
{
    mgov__assert_held(&p->mu);
    bp_waiter_t *w;
    while ((w = p->wq_head) != NULL) {
        int how = admit_locked(p, w->n, w->shard, &w->span, &w->victims);
        if (how == BP_NOFIT)
            break;
        w->how = how;
        dequeue_locked(p, w, MGOV_OK);
    }
}

void mgov__bp_cancel_waiters_locked(mgov_bufpool_t *p)
{
    mgov__assert_held(&p->mu);
    while (p->wq_head)
        dequeue_locked(p, p->wq_head, MGOV_ECANCELED);
}

/* A request leaves the slow path.  Under mu. */
static void leave_locked(mgov_bufpool_t *p)
{
    mgov__assert_held(&p->mu);
    p->active--;
    if (p->destroyers)
        pthread_cond_broadcast(&p->idle_cond);
}

/* Counts how a request that waited ended.  Relaxed: statistics. */
static void count_wait(mgov_bufpool_t *p, uint64_t waited_ns)
{
    if (!waited_ns)
        return;
    atomic_fetch_add_explicit(&p->waits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->wait_ns, waited_ns, memory_order_relaxed);
}

static void count_failure(mgov_bufpool_t *p, int rc)
{
    if (rc == MGOV_ECANCELED) {
        atomic_fetch_add_explicit(&p->cancels, 1, memory_order_relaxed);
        return;
    }
    if (rc == MGOV_ETIMEDOUT)
        atomic_fetch_add_explicit(&p->timeouts, 1, memory_order_relaxed);
    if (rc == MGOV_ETIMEDOUT || rc == MGOV_EBUDGET || rc == MGOV_ELIMIT)
        atomic_fetch_add_explicit(&p->refusals, 1, memory_order_relaxed);
}

/* Queues the request and sleeps until it is admitted (MGOV_OK, with *how,
 * *span, *victims set), the deadline passes (MGOV_ETIMEDOUT) or destroy
 * cancels it (MGOV_ECANCELED).  Under mu, which it releases while asleep. */
static int wait_locked(mgov_bufpool_t *p, size_t n, unsigned shard, uint64_t deadline, int *how,
                       mgov_bufs_t **span, mgov_bufs_t **victims, uint64_t *waited_ns)
{
    mgov__assert_held(&p->mu);
    bp_waiter_t w;
    memset(&w, 0, sizeof w);
    w.n = n;
    w.shard = shard;
    w.status = BP_WAITING;
    if (mgov__cond_init_monotonic(&w.cond) != MGOV_OK)
        return MGOV_ENOMEM;

    uint64_t t0 = mgov__now_ns();
    enqueue_locked(p, &w);
    /* A release that pushed before the gate showed us did not call in. */
    mgov__bp_scan_locked(p);
    while (w.status == BP_WAITING) {
        if (deadline == UINT64_MAX) {
            pthread_cond_wait(&w.cond, &p->mu);
            continue;
        }
        if (mgov__now_ns() >= deadline) {
            bool was_head = p->wq_head == &w;
            dequeue_locked(p, &w, MGOV_ETIMEDOUT);
            if (was_head)
                mgov__bp_scan_locked(p); /* smaller requests behind it may fit */
            break;
        }
        struct timespec ts = mgov__ns_to_timespec(deadline);
        pthread_cond_timedwait(&w.cond, &p->mu, &ts);
    }
    pthread_cond_destroy(&w.cond);
    uint64_t t1 = mgov__now_ns();
    *waited_ns = t1 > t0 ? t1 - t0 : 1;
    if (w.status == MGOV_OK) {
        *how = w.how;
        *span = w.span;
        *victims = w.victims;
    }
    return w.status;
}

/* ------------------------------------------------------- new memory */

/* Obtains a new span for an admitted request (need bytes counted as setup):
 * frees the victims of its admission first and takes over their grants.
 * Called with no lock; returns with none. */
static int setup_new(mgov_bufpool_t *p, size_t n, unsigned shard, int64_t timeout_ns,
                     uint64_t deadline, mgov_bufs_t *victims, uint64_t waited_ns,
                     mgov_bufs_t **out)
{
    uint64_t need = (uint64_t)n << p->shift;
    mgov_grant_t g = MGOV_GRANT_INIT;
    uint64_t evicted = mgov__bp_victims_take(p, victims, &g);
    if (g.gov && g.bytes > need)
        mgov_grant_resize(&g, need); /* shrinking never fails */
    mgov__bp_leaving_done(p, evicted > need ? evicted - need : 0);

    mgov_bufs_t *b = NULL;
    int rc = MGOV_OK;
    if (p->gov && g.bytes < need) {
        mgov_grant_t more = MGOV_GRANT_INIT;
        uint64_t gov_wait = 0;
        rc = mgov__bp_gov_reserve(p, need - g.bytes, timeout_ns, deadline, &more, &gov_wait);
        waited_ns += gov_wait;
        if (rc == MGOV_OK && g.gov)
            mgov_grant_merge(&g, &more);
        else if (rc == MGOV_OK)
            g = more;
    }
    if (rc == MGOV_OK) {
        rc = mgov__bp_span_new(p, n, &b);
        if (rc == MGOV_OK) {
            b->grant = g;
            g = (mgov_grant_t)MGOV_GRANT_INIT;
        }
    }
    if (rc == MGOV_OK) {
        pthread_mutex_lock(&p->mu);
        if (!p->closing) {
            p->setup -= need;
            mgov__bp_registry_add_locked(p, b);
            bp_shard_t *s = &p->shards[shard];
            bp_lock(&s->lock);
            bp_handout(s, shard, b, false);
            bp_unlock(&s->lock);
            leave_locked(p);
            pthread_mutex_unlock(&p->mu);
            count_wait(p, waited_ns);
            bp_stamp(p, b);
            if (p->consumer)
                mgov_consumer_touch(p->consumer);
            *out = b;
            return MGOV_OK;
        }
        pthread_mutex_unlock(&p->mu);
        mgov__bp_span_free(p, b); /* and its grant, before destroy can see us leave */
        rc = MGOV_ECANCELED;
    }
    mgov_grant_release(&g);
    count_wait(p, waited_ns);
    count_failure(p, rc);
    pthread_mutex_lock(&p->mu);
    p->setup -= need;
    mgov__bp_held_sub_locked(p, need);
    mgov__bp_scan_locked(p); /* the room given back may let the head in */
    leave_locked(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ------------------------------------------------------------ entry */

int mgov__bp_alloc_slow(mgov_bufpool_t *p, size_t n, int64_t timeout_ns, unsigned shard,
                        mgov_bufs_t **out)
{
    *out = NULL;
    if (p->gov && mgov__bp_gov_fits_ever(p, (uint64_t)n << p->shift) != MGOV_OK) {
        count_failure(p, MGOV_ELIMIT);
        return MGOV_ELIMIT;
    }
    uint64_t deadline = UINT64_MAX;
    if (timeout_ns > 0)
        deadline = mgov__now_ns() + (uint64_t)timeout_ns;

    mgov_bufs_t *span = NULL, *victims = NULL;
    uint64_t waited_ns = 0;
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        count_failure(p, MGOV_ECANCELED);
        return MGOV_ECANCELED;
    }
    p->active++;
    /* strict FIFO: with anyone queued, even a request that fits waits */
    int how = p->wq_head ? BP_NOFIT : admit_locked(p, n, shard, &span, &victims);
    if (how == BP_NOFIT) {
        int rc = timeout_ns == 0
                     ? MGOV_EBUDGET
                     : wait_locked(p, n, shard, deadline, &how, &span, &victims, &waited_ns);
        if (rc != MGOV_OK) {
            leave_locked(p);
            pthread_mutex_unlock(&p->mu);
            count_wait(p, waited_ns);
            count_failure(p, rc);
            return rc;
        }
    }
    if (how == BP_REUSED) {
        leave_locked(p);
        pthread_mutex_unlock(&p->mu);
        count_wait(p, waited_ns);
        bp_stamp(p, span);
        bp_unpoison(span);
        *out = span;
        return MGOV_OK;
    }
    pthread_mutex_unlock(&p->mu);
    return setup_new(p, n, shard, timeout_ns, deadline, victims, waited_ns, out);
}

/* ---------------------------------------------------------- releases */

void mgov__bp_after_release(mgov_bufpool_t *p)
{
    mgov_bufs_t *victims = NULL;
    pthread_mutex_lock(&p->mu);
    mgov__bp_scan_locked(p);
    if (p->debt) {
        /* pay what the governor was owed from the cache just refilled */
        mgov__bp_lock_shards(p);
        uint64_t got = mgov__bp_evict_locked(p, p->debt, &victims);
        mgov__bp_unlock_shards(p);
        p->debt = got >= p->debt ? 0 : p->debt - got;
        mgov__bp_gate_update_locked(p);
        if (victims) {
            pthread_mutex_unlock(&p->mu);
            /* grants back before destroy can see us leave */
            mgov__bp_spans_free(p, victims);
            atomic_fetch_add_explicit(&p->evicted_bytes, got, memory_order_relaxed);
            pthread_mutex_lock(&p->mu);
            p->leaving -= got;
            mgov__bp_held_sub_locked(p, got);
            mgov__bp_scan_locked(p);
        }
    }
    atomic_fetch_sub_explicit(&p->wakers, 1, memory_order_relaxed);
    if (p->destroyers)
        pthread_cond_broadcast(&p->idle_cond);
    pthread_mutex_unlock(&p->mu);
}
