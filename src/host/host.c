/* host/host.c - one process's membership of a host budget: attach (create,
 * replace or join the segment, claim a slot), detach (give everything back,
 * the last one out removes the segment), and the lease protocol of
 * host/host.h (grow under the segment's mutex, shrink by the store-then-load
 * handshake with the governor's charges).
 *
 * Attach, under the setup lock (host_layout.h):
 *   - the object is checked (ours, 0600-ish, still linked; one unlinked by
 *     a last member out meanwhile is opened again);
 *   - when no slot lock is held by anyone, no member is alive: the segment
 *     is new, or left by members that all died, or damaged.  It is not
 *     trusted: it is replaced by a fresh one made from this process's
 *     config (MGOV_HOST_EV_REPLACED when it was not empty);
 *   - otherwise its header must check, or attach fails (MGOV_ECORRUPT):
 *     live members use it, so it is not ours to rewrite;
 *   - dead members are reaped, the guarantee checked, a free slot claimed
 *     by taking its lock byte and then marking it LIVE.
 * A failure removes what it made: the slot, and the segment when no other
 * member is alive.
 *
 * Locking: see host_member.h and host/host.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "host/host_member.h"
#include "memgov/governor.h"
#include "memgov/sysinfo.h"
#include "sys/fault.h"
#include "sys/fileio.h"
#include "sys/shm.h"
#include "sys/sys.h"

#define SETUP_TIMEOUT_NS (2 * 1000 * 1000 * 1000ull)
#define HIGH_PERMILLE 850u
#define ANSWER_MS 1000u
#define CHUNK_MIN ((uint64_t)64 << 10)
#define CHUNK_MAX ((uint64_t)4 << 20)

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A few MiB, and at most 1/64 of the budget, so a small budget still
 * spreads over many members. */
static uint64_t chunk_for(uint64_t budget)
{
    uint64_t c = budget / 64;
    c = c < CHUNK_MIN ? CHUNK_MIN : c > CHUNK_MAX ? CHUNK_MAX : c;
    c &= ~(uint64_t)4095;
    return c > budget ? budget : c;
}

static uint64_t round_up(uint64_t v, uint64_t unit)
{
    return (v + unit - 1) / unit * unit;
}

static void header_init(mgov__host_seg_t *s, uint64_t budget)
{
    s->magic = MGOV__HOST_MAGIC;
    s->version = MGOV__HOST_VERSION;
    s->size = sizeof *s;
    s->n_slots = MGOV__HOST_SLOTS;
    s->n_events = MGOV__HOST_EVENTS;
    s->budget = budget;
    s->chunk = chunk_for(budget);
    s->high_permille = HIGH_PERMILLE;
    s->answer_ms = ANSWER_MS;
    s->created_at = realtime_ns();
    s->crc = mgov__host_header_crc(s);
}

static int map_seg(mgov__host_t *h)
{
    void *p;
    h->map_len = mgov__page_round(sizeof(mgov__host_seg_t));
    int rc = mgov__mmap(h->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0, &p);
    if (rc)
        return mgov__status_from_errno(rc);
    h->seg = p;
    return MGOV_OK;
}

/* A fresh segment from this process's config, over whatever was there
 * (nobody is alive to use it). */
static int seg_replace(mgov__host_t *h, const mgov__host_config_t *cfg, bool was_there)
{
    uint64_t budget = cfg->budget;
    if (budget == 0) {
        int rc = mgov_default_budget(&budget);
        if (rc != MGOV_OK)
            return rc;
    }
    if (budget < CHUNK_MIN || budget > MGOV_BUDGET_MAX)
        return MGOV_EINVAL;
    /* truncating to 0 first zeroes every byte a dead member left */
    int rc = mgov__shm_size(h->fd, 0);
    if (rc == 0)
        rc = mgov__shm_size(h->fd, (off_t)sizeof(mgov__host_seg_t));
    if (rc)
        return mgov__status_from_errno(rc);
    if ((rc = map_seg(h)) != MGOV_OK)
        return rc;
    mgov__host_seg_t *s = h->seg;
    if ((rc = mgov__host_mutex_init(&s->mutex)) != MGOV_OK)
        return rc;
    header_init(s, budget);
    pthread_mutex_lock(&s->mutex); /* fresh: cannot fail or be contended */
    mgov__host_event_locked(s, was_there ? MGOV_HOST_EV_REPLACED : MGOV_HOST_EV_CREATED, -1,
                            (int32_t)getpid(), budget);
    pthread_mutex_unlock(&s->mutex);
    return MGOV_OK;
}

void mgov__host_slot_fill_locked(mgov__host_t *h)
{
    mgov__host_slot_t *sl = &h->seg->slots[h->slot];
    sl->gen = h->gen;
    sl->pid = h->pid;
    sl->weight = h->weight;
    sl->guarantee = h->guarantee;
    sl->leased = h->leased;
    char comm[17] = { 0 };
    (void)prctl(PR_GET_NAME, comm, 0, 0, 0);
    memcpy(sl->comm, comm, sizeof sl->comm);
    sl->state = MGOV__SLOT_LIVE;
}

/* Under the setup lock and the mutex: checks the guarantee, claims a slot. */
static int claim_locked(mgov__host_t *h)
{
    mgov__host_seg_t *s = h->seg;
    uint64_t guaranteed = h->guarantee;
    for (unsigned i = 0; i < MGOV__HOST_SLOTS; i++)
        if (s->slots[i].state == MGOV__SLOT_LIVE)
            guaranteed = mgov__host_sat_add(guaranteed,
                                            mgov__host_clamp(s->slots[i].guarantee, s->budget));
    if (guaranteed > s->budget)
        return MGOV_EBUDGET;
    for (int i = 0; i < (int)MGOV__HOST_SLOTS; i++) {
        mgov__host_slot_t *sl = &s->slots[i];
        if (sl->state != MGOV__SLOT_FREE || sl->leased)
            continue;
        int rc = mgov__ofd_lock(h->fd, MGOV__HOST_LOCK_SLOT0 + i, 1);
        if (rc == -EAGAIN)
            continue; /* its member is leaving: its lock goes after its state */
        if (rc)
            return mgov__status_from_errno(rc);
        h->slot = i;
        h->gen = sl->gen + 1;
        memset(sl, 0, sizeof *sl);
        sl->attached_at = realtime_ns();
        mgov__host_slot_fill_locked(h);
        mgov__host_event_locked(s, MGOV_HOST_EV_JOINED, i, h->pid, h->guarantee);
        return MGOV_OK;
    }
    return MGOV_EBUSY;
}

/* One try at opening and joining; MGOV_ENOTFOUND: the object was unlinked
 * meanwhile, open it again. */
static int attach_once(mgov__host_t *h, const mgov__host_config_t *cfg)
{
    bool created = false;
    int fd = mgov__shm_open(h->shm_name, O_RDWR, 0);
    if (fd == -ENOENT) {
        fd = mgov__shm_open(h->shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
        created = fd >= 0;
        if (fd == -EEXIST)
            return MGOV_ENOTFOUND; /* made meanwhile by another: open it */
    }
    if (fd < 0)
        return fd == -EACCES ? MGOV_EIO : mgov__status_from_errno(fd);
    h->fd = fd;
    int rc = mgov__host_setup_lock(fd, SETUP_TIMEOUT_NS);
    if (rc != MGOV_OK) {
        /* an empty object of ours: whoever opened it meanwhile finds it
         * unlinked under the setup lock and opens the name again */
        if (created)
            (void)mgov__shm_unlink(h->shm_name);
        goto out_close;
    }
    off_t size = 0;
    int others = 1; /* until known, the segment is not ours to remove */
    if ((rc = mgov__host_fd_check(fd, &size)) != MGOV_OK)
        goto out_unlock;
    others = mgov__ofd_held(fd, MGOV__HOST_LOCK_SLOT0, MGOV__HOST_SLOTS);
    if (others < 0) {
        rc = mgov__status_from_errno(others);
        others = 1;
        goto out_unlock;
    }
    if (!others) {
        rc = seg_replace(h, cfg, size != 0);
    } else if (size != (off_t)sizeof(mgov__host_seg_t)) {
        rc = MGOV_ECORRUPT;
    } else if ((rc = map_seg(h)) == MGOV_OK) {
        rc = mgov__host_header_check(h->seg);
    }
    if (rc != MGOV_OK)
        goto out_unlock;
    mgov__host_seg_t *s = h->seg;
    h->budget = s->budget;
    h->chunk = s->chunk;
    h->high_bytes = s->budget / 1000 * s->high_permille;
    h->answer_ns = (uint64_t)s->answer_ms * 1000000u;
    if (h->guarantee > h->budget) {
        rc = MGOV_EBUDGET;
        goto out_unlock;
    }
    bool recovered;
    if ((rc = mgov__host_mutex_lock(s, &recovered)) != MGOV_OK)
        goto out_unlock;
    if (recovered)
        mgov__host_event_locked(s, MGOV_HOST_EV_RECOVERED, -1, h->pid, 0);
    mgov__host_reap_locked(s, fd, -1);
    rc = claim_locked(h);
    mgov__host_mutex_unlock(s);
    if (rc != MGOV_OK)
        goto out_unlock;
    mgov__host_setup_unlock(fd);
    return MGOV_OK;

out_unlock:
    /* made the segment and nobody else is in it: remove it */
    if (!others)
        (void)mgov__shm_unlink(h->shm_name);
    mgov__host_setup_unlock(fd);
out_close:
    if (h->seg)
        mgov__munmap(h->seg, h->map_len);
    h->seg = NULL;
    close(fd);
    h->fd = -1;
    return rc;
}

int mgov__host_attach(const mgov__host_config_t *cfg, const mgov__host_ops_t *ops,
                      mgov__host_t **out)
{
    *out = NULL;
    if (cfg->weight > MGOV_HOST_WEIGHT_MAX)
        return MGOV_EINVAL;
    mgov__host_t *h = mgov__calloc(1, sizeof *h);
    if (!h)
        return MGOV_ENOMEM;
    int rc = mgov__host_shm_name(cfg->name, h->shm_name, sizeof h->shm_name);
    if (rc != MGOV_OK) {
        free(h);
        return rc;
    }
    h->fd = -1;
    h->slot = -1;
    h->pid = (int32_t)getpid();
    h->weight = cfg->weight ? cfg->weight : 1;
    h->guarantee = cfg->guarantee;
    h->ops = *ops;
    pthread_mutex_init(&h->lease_lock, NULL);
    for (int tries = 0; tries < 8; tries++)
        if ((rc = attach_once(h, cfg)) != MGOV_ENOTFOUND)
            break;
    if (rc == MGOV_OK && (rc = mgov__host_agent_start(h)) != MGOV_OK) {
        mgov__host_detach(h); /* no agent to stop: it leaves the slot */
        return rc;
    }
    if (rc != MGOV_OK) {
        pthread_mutex_destroy(&h->lease_lock);
        free(h);
        return rc;
    }
    *out = h;
    return MGOV_OK;
}

void mgov__host_detach(mgov__host_t *h)
{
    if (!h)
        return;
    mgov__host_agent_stop(h);
    mgov__host_seg_t *s = h->seg;
    /* no charge runs any more (mgov_destroy): the lease goes with the slot */
    atomic_store(h->ops.lease, 0);
    bool setup = mgov__host_setup_lock(h->fd, SETUP_TIMEOUT_NS) == MGOV_OK;
    bool recovered;
    if (mgov__host_mutex_lock(s, &recovered) == MGOV_OK) {
        mgov__host_slot_t *sl = &s->slots[h->slot];
        mgov__host_event_locked(s, MGOV_HOST_EV_LEFT, h->slot, h->pid,
                                mgov__host_clamp(sl->leased, s->budget));
        uint32_t gen = sl->gen;
        memset(sl, 0, sizeof *sl);
        sl->gen = gen;
        mgov__host_mutex_unlock(s);
    }
    /* if the mutex could not be taken, the slot stays LIVE and is reaped
     * as a dead member's once its lock is released below */
    mgov__host_bell(s);
    (void)mgov__ofd_unlock(h->fd, MGOV__HOST_LOCK_SLOT0 + h->slot, 1);
    if (setup) {
        if (mgov__ofd_held(h->fd, MGOV__HOST_LOCK_SLOT0, MGOV__HOST_SLOTS) == 0)
            (void)mgov__shm_unlink(h->shm_name);
        mgov__host_setup_unlock(h->fd);
    }
    mgov__munmap(h->seg, h->map_len);
    close(h->fd);
    pthread_mutex_destroy(&h->lease_lock);
    free(h);
}

uint64_t mgov__host_budget(const mgov__host_t *h)
{
    return h->budget;
}

/* ----------------------------------------------------------------- leases */

unsigned mgov__host_ask_locked(mgov__host_t *h, uint64_t need)
{
    mgov__host_seg_t *s = h->seg;
    unsigned asked = 0;
    uint64_t now = mgov__now_ns();
    while (need > 0) {
        int best = -1;
        uint64_t best_excess = 0;
        for (int i = 0; i < (int)MGOV__HOST_SLOTS; i++) {
            mgov__host_slot_t *sl = &s->slots[i];
            if (i == h->slot || sl->state != MGOV__SLOT_LIVE || sl->ask_seq != sl->answer_seq)
                continue;
            uint64_t l = mgov__host_clamp(sl->leased, s->budget);
            uint64_t fair = mgov__host_fair_locked(s, i);
            if (l > fair && l - fair > best_excess) {
                best = i;
                best_excess = l - fair;
            }
        }
        if (best < 0)
            break;
        mgov__host_slot_t *sl = &s->slots[best];
        uint64_t ask = best_excess < need ? best_excess : need;
        sl->ask = ask;
        sl->ask_at = now;
        sl->ask_seq++;
        mgov__host_event_locked(s, MGOV_HOST_EV_ASKED, best, sl->pid, ask);
        need -= ask;
        asked++;
    }
    return asked;
}

/* Another member waits for room (a fresh want). */
static bool others_want_locked(const mgov__host_t *h, uint64_t now)
{
    for (int i = 0; i < (int)MGOV__HOST_SLOTS; i++) {
        const mgov__host_slot_t *sl = &h->seg->slots[i];
        if (i != h->slot && sl->state == MGOV__SLOT_LIVE && sl->want &&
            now - sl->want_at < MGOV__HOST_WANT_NS)
            return true;
    }
    return false;
}

/* The policy: why a lease of `want` more bytes is refused, or 0 with
 * *grant set (>= want, whole chunks when there is room). */
static bool lease_allowed_locked(mgov__host_t *h, uint64_t want, uint64_t now, uint64_t *grant)
{
    mgov__host_seg_t *s = h->seg;
    mgov__host_slot_t *sl = &s->slots[h->slot];
    if (sl->ask_seq != sl->answer_seq && now - sl->ask_at > h->answer_ns) {
        if (!sl->late)
            mgov__host_event_locked(s, MGOV_HOST_EV_LATE, h->slot, h->pid, sl->ask);
        sl->late = 1;
        return false;
    }
    if (others_want_locked(h, now) && h->leased + want > mgov__host_fair_locked(s, h->slot))
        return false; /* others wait: no growth beyond the fair share */
    uint64_t room = mgov__host_room_locked(s, h->slot);
    if (room < want)
        return false;
    uint64_t g = round_up(want, h->chunk);
    *grant = g < room ? g : room;
    return true;
}

bool mgov__host_grow(mgov__host_t *h, uint64_t need)
{
    pthread_mutex_lock(&h->lease_lock);
    if (need <= atomic_load(h->ops.lease) || need > h->budget) {
        bool ok = need <= atomic_load(h->ops.lease);
        pthread_mutex_unlock(&h->lease_lock);
        return ok;
    }
    uint64_t want = need - h->leased, grant = 0;
    mgov__host_seg_t *s = h->seg;
    bool recovered, ok = false, ring = false;
    if (mgov__host_mutex_lock(s, &recovered) == MGOV_OK) {
        mgov__host_slot_t *sl = &s->slots[h->slot];
        uint64_t now = mgov__now_ns();
        if (recovered)
            mgov__host_event_locked(s, MGOV_HOST_EV_RECOVERED, -1, h->pid, 0);
        bool allowed = lease_allowed_locked(h, want, now, &grant);
        /* dead members' leases are the first room to look for */
        if (!allowed && mgov__host_reap_locked(s, h->fd, h->slot)) {
            ring = true;
            allowed = lease_allowed_locked(h, want, now, &grant);
        }
        if (allowed) {
            h->leased += grant;
            sl->leased = h->leased;
            sl->want = 0;
            ok = true;
        } else {
            bool first = !sl->want;
            if (first)
                mgov__host_event_locked(s, MGOV_HOST_EV_REFUSED, h->slot, h->pid, want);
            sl->want = want;
            sl->want_at = now;
            uint64_t leased = mgov__host_leased_locked(s);
            uint64_t short_by = leased + want > h->budget ? leased + want - h->budget : want;
            /* asked members, and members with slack, look; a retry that
             * changes nothing rings nothing (waiters retry on every ring) */
            if (mgov__host_ask_locked(h, short_by) || first)
                ring = true;
        }
        mgov__host_mutex_unlock(s);
    }
    if (ok) /* seq_cst: after the host granted it (host/host.h) */
        atomic_store(h->ops.lease, h->leased);
    pthread_mutex_unlock(&h->lease_lock);
    if (ring)
        mgov__host_bell(s);
    return ok;
}

uint64_t mgov__host_shrink(mgov__host_t *h, uint64_t keep)
{
    pthread_mutex_lock(&h->lease_lock);
    uint64_t l = h->leased;
    uint64_t target = round_up(atomic_load(h->ops.used) + keep, h->chunk);
    if (target >= l) {
        pthread_mutex_unlock(&h->lease_lock);
        return 0;
    }
    /* the handshake of host/host.h: store the lower lease, then read used
     * (both seq_cst; pairs with the charge's CAS on used and its re-read of
     * the lease, grant.c) */
    atomic_store(h->ops.lease, target);
    if (atomic_load(h->ops.used) > target) {
        atomic_store(h->ops.lease, l);
        pthread_mutex_unlock(&h->lease_lock);
        return 0;
    }
    bool recovered;
    mgov__host_seg_t *s = h->seg;
    if (mgov__host_mutex_lock(s, &recovered) != MGOV_OK) {
        atomic_store(h->ops.lease, l); /* not returned: still ours */
        pthread_mutex_unlock(&h->lease_lock);
        return 0;
    }
    h->leased = target;
    s->slots[h->slot].leased = target;
    mgov__host_mutex_unlock(s);
    pthread_mutex_unlock(&h->lease_lock);
    mgov__host_bell(s);
    return l - target;
}

int mgov__host_member(mgov__host_t *h, mgov_host_member_t *out)
{
    bool recovered;
    int rc = mgov__host_mutex_lock(h->seg, &recovered);
    if (rc != MGOV_OK)
        return rc;
    const mgov__host_slot_t *sl = &h->seg->slots[h->slot];
    memset(out, 0, sizeof *out);
    out->slot = (unsigned)h->slot;
    out->gen = h->gen;
    out->pid = h->pid;
    memcpy(out->comm, sl->comm, sizeof sl->comm);
    out->weight = h->weight;
    out->guarantee = h->guarantee;
    out->leased = h->leased;
    out->used = atomic_load_explicit(h->ops.used, memory_order_relaxed);
    out->want = mgov__host_clamp(sl->want, h->budget);
    out->ask = sl->ask_seq != sl->answer_seq ? mgov__host_clamp(sl->ask, h->budget) : 0;
    out->level = h->ops.level(h->ops.ctx);
    out->late = sl->late != 0;
    out->attached_at = sl->attached_at;
    mgov__host_mutex_unlock(h->seg);
    return MGOV_OK;
}

int mgov__host_test_hold_lock(mgov__host_t *h)
{
    bool recovered;
    return mgov__host_mutex_lock(h->seg, &recovered);
}
