/* tier/section.c - a section's life: open, close, the consumer it is to the
 * governor, pinned views, and the busy mark that serializes what changes it.
 *
 * Invariants: while busy, only the busy owner changes ram, map, length and
 * tier; pins > 0 means ram (IN_MEMORY) or map (ON_DISK) stays where the
 * views point.  A spill marks itself `readable` while it only reads the
 * RAM (writing the file): views may be pinned then, and it waits for them
 * before releasing the RAM.  A thread never waits for its own busy mark: it gets
 * MGOV_EBUSY (a reclaim pass started by our own growth asking us to spill).
 * The governor's calls (spill, reload ops) wait for views, never for a busy
 * mark: its owner may itself be waiting for the reclaim pass that called
 * us, so they skip a busy section at once.
 *
 * Locking: s->mu guards busy, busy_owner, pins and the fields above; it is
 * dropped for I/O and governor calls (which may call our consumer ops).
 * The order is s->mu, then store->mu.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "governor/hooks.h"
#include "sys/fault.h"
#include "sys/sys.h"
#include "tier/tier_internal.h"

/* ------------------------------------------------------------- busy mark */

/* One wait for pinned views to go (s->mu held, s->pins > 0): MGOV_OK once
 * woken, MGOV_EBUSY when the caller does not wait (wait_ns 0),
 * MGOV_ETIMEDOUT when `until` passed with views still pinned. */
static int pins_wait_step(mgov_section_t *s, int64_t wait_ns, const struct timespec *until)
{
    if (wait_ns == 0)
        return MGOV_EBUSY;
    if (wait_ns < 0)
        pthread_cond_wait(&s->cond, &s->mu);
    else if (pthread_cond_timedwait(&s->cond, &s->mu, until) == ETIMEDOUT && s->pins)
        return MGOV_ETIMEDOUT;
    return MGOV_OK;
}

static struct timespec deadline(int64_t wait_ns)
{
    return mgov__ns_to_timespec(mgov__now_ns() + (uint64_t)(wait_ns > 0 ? wait_ns : 0));
}

int mgov__section_busy_begin_locked(mgov_section_t *s, int64_t wait_ns, bool wait_busy)
{
    mgov__assert_held(&s->mu);
    if (s->busy && (!wait_busy || pthread_equal(s->busy_owner, pthread_self())))
        return MGOV_EBUSY;
    struct timespec until = deadline(wait_ns);
    for (;;) {
        if (s->busy) { /* another operation: it ends on its own */
            if (!wait_busy)
                return MGOV_EBUSY;
            pthread_cond_wait(&s->cond, &s->mu);
        } else if (s->pins) { /* readers: as long as the caller allows */
            int rc = pins_wait_step(s, wait_ns, &until);
            if (rc != MGOV_OK)
                return rc;
        } else {
            break;
        }
    }
    s->busy = true;
    s->busy_owner = pthread_self();
    return MGOV_OK;
}

int mgov__section_wait_unpinned_locked(mgov_section_t *s, int64_t wait_ns)
{
    mgov__assert_held(&s->mu);
    struct timespec until = deadline(wait_ns);
    while (s->pins) {
        int rc = pins_wait_step(s, wait_ns, &until);
        if (rc != MGOV_OK)
            return rc;
    }
    return MGOV_OK;
}

void mgov__section_busy_end_locked(mgov_section_t *s)
{
    mgov__assert_held(&s->mu);
    mgov__section_assert_busy(s);
    s->busy = false;
    s->readable = false;
    pthread_cond_broadcast(&s->cond);
}

int mgov__section_busy_begin(mgov_section_t *s, int64_t wait_ns, bool wait_busy)
{
    pthread_mutex_lock(&s->mu);
    int rc = mgov__section_busy_begin_locked(s, wait_ns, wait_busy);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void mgov__section_busy_end(mgov_section_t *s)
{
    pthread_mutex_lock(&s->mu);
    mgov__section_busy_end_locked(s);
    pthread_mutex_unlock(&s->mu);
}

bool mgov__section_disk_bound(const mgov_section_t *s, uint64_t length)
{
    return s->cfg.override == MGOV_SECTION_FORCE_DISK ||
           (s->cfg.override == MGOV_SECTION_AUTO && s->cfg.max_ram && length > s->cfg.max_ram);
}

/* ---------------------------------------------------------- consumer ops */

static uint64_t op_usage(void *ctx)
{
    mgov_section_t *s = ctx;
    if (mgov__sec_tier(s) != MGOV_TIER_ON_DISK)
        return mgov__sec_ram_bytes(s);
    uint64_t len = mgov__sec_length(s);
    return mgov__section_disk_bound(s, len) ? 0 : len;
}

static int op_spill(void *ctx, uint64_t target, uint64_t *freed)
{
    (void)target; /* a section moves whole */
    mgov_section_t *s = ctx;
    int rc = mgov__section_busy_begin(s, s->cfg.pin_wait_ns, false);
    if (rc != MGOV_OK)
        return rc;
    rc = mgov__section_spill_busy(s, s->cfg.pin_wait_ns, freed);
    mgov__section_busy_end(s);
    return rc;
}

static int op_reload(void *ctx)
{
    mgov_section_t *s = ctx;
    if (mgov__section_disk_bound(s, mgov__sec_length(s)))
        return MGOV_ENOTSUP; /* stays on disk by policy */
    int rc = mgov__section_busy_begin(s, s->cfg.pin_wait_ns, false);
    if (rc != MGOV_OK)
        return rc;
    rc = mgov__section_reload_busy(s, s->cfg.timeout_ns, 0, UINT64_MAX);
    mgov__section_busy_end(s);
    return rc;
}

static mgov_tier_t op_tier(void *ctx)
{
    mgov_section_t *s = ctx;
    return mgov__sec_tier(s);
}

static const mgov_consumer_ops_t section_ops = {
    .usage = op_usage, .spill = op_spill, .reload = op_reload, .tier = op_tier,
};

/* ------------------------------------------------------------ open, close */

static int config_check(const mgov_section_config_t *c)
{
    return (unsigned)c->override > MGOV_SECTION_FORCE_RAM ? MGOV_EINVAL : MGOV_OK;
}

/* Takes the name in the store: a new entry, or the copy on disk's. */
static int claim_entry(mgov__tier_store_t *st, const char *name, mgov_section_t *s)
{
    pthread_mutex_lock(&st->mu);
    mgov__tier_entry_t *e = mgov__tier_find(st, name);
    int rc = MGOV_OK;
    if (e && e->moving)
        rc = MGOV_EBUSY; /* being restored from the quarantine or removed right now */
    else if (e && e->open)
        rc = MGOV_EEXIST;
    else if (e && e->status != MGOV_OK)
        rc = e->status;
    else if (!e)
        rc = mgov__tier_insert(st, name, &e);
    if (rc == MGOV_OK) {
        e->open = s;
        s->entry = e;
        mgov__sec_set_length(s, e->gen ? e->length : 0);
        mgov__sec_set_tier(s, e->gen ? MGOV_TIER_ON_DISK : MGOV_TIER_UNINITIALIZED);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static void release_entry(mgov_section_t *s)
{
    mgov__tier_store_t *st = s->store;
    pthread_mutex_lock(&st->mu);
    s->entry->open = NULL;
    if (!s->entry->gen)
        mgov__tier_erase(st, s->entry);
    pthread_mutex_unlock(&st->mu);
}

static void section_free(mgov_section_t *s)
{
    mgov__section_ram_free(s);
    mgov__section_unmap(s);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Applies a ForceRam override at open: the copy on disk comes into RAM. */
static int force_ram_load(mgov_section_t *s)
{
    if (mgov__sec_tier(s) != MGOV_TIER_ON_DISK)
        return MGOV_OK;
    int rc = mgov__section_busy_begin(s, -1, true);
    if (rc != MGOV_OK)
        return rc;
    rc = mgov__section_reload_busy(s, s->cfg.timeout_ns, 0, UINT64_MAX);
    mgov__section_busy_end(s);
    return rc;
}

int mgov_section_open(mgov_t *gov, const char *name, const mgov_section_config_t *cfg,
                      mgov_section_t **out)
{
    if (out)
        *out = NULL;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    if (cfg)
        c = *cfg;
    if (!gov || !out || mgov__section_name_check(name) != MGOV_OK || config_check(&c) != MGOV_OK)
        return MGOV_EINVAL;
    if (!c.priority)
        c.priority = MGOV_PRIORITY_GRAPH_STORAGE;
    int region;
    int rc = mgov__region_resolve(gov, c.region, "graph_storage", &region);
    if (rc != MGOV_OK)
        return rc;
    c.region = NULL; /* the caller's string need not outlive the call */
    mgov__tier_store_t *st;
    rc = mgov__tier_store(gov, &st);
    if (rc != MGOV_OK)
        return rc;
    mgov_section_t *s = mgov__calloc(1, sizeof *s);
    if (!s)
        return MGOV_ENOMEM;
    s->store = st;
    s->cfg = c;
    s->region = region;
    pthread_mutex_init(&s->mu, NULL);
    mgov__cond_init_monotonic(&s->cond); /* glibc's cannot fail */
    rc = claim_entry(st, name, s);
    if (rc != MGOV_OK) {
        section_free(s);
        return rc;
    }
    mgov_consumer_config_t cc = {
        .name = s->entry->name,
        .region = region,
        .priority = c.priority,
        .flags = c.override == MGOV_SECTION_FORCE_RAM ? MGOV_FORCE_RAM : 0,
        .ops = &section_ops,
        .ctx = s,
    };
    rc = mgov_consumer_register(gov, &cc, &s->consumer);
    if (rc == MGOV_OK && c.override == MGOV_SECTION_FORCE_RAM)
        rc = force_ram_load(s);
    if (rc != MGOV_OK) {
        if (s->consumer)
            mgov_consumer_unregister(s->consumer);
        release_entry(s);
        section_free(s);
        return rc;
    }
    if (c.override != MGOV_SECTION_AUTO)
        mgov__consumer_report(s->consumer, MGOV_EV_OVERRIDE, mgov__sec_length(s), 0,
                              (uint64_t)c.override, MGOV_OK);
    *out = s;
    return MGOV_OK;
}

int mgov_section_close(mgov_section_t *s)
{
    if (!s)
        return MGOV_OK;
    pthread_mutex_lock(&s->mu);
    bool pinned = s->pins > 0;
    pthread_mutex_unlock(&s->mu);
    if (pinned)
        return MGOV_EBUSY;
    /* first: no governor callback runs on it after this */
    mgov_consumer_unregister(s->consumer);
    mgov__section_busy_begin(s, -1, true); /* another thread's write may still run */
    release_entry(s);
    section_free(s);
    return MGOV_OK;
}

/* ------------------------------------------------------------------ views */

int mgov_section_pin(mgov_section_t *s, mgov_section_view_t *out)
{
    if (!s || !out)
        return MGOV_EINVAL;
    out->data = NULL;
    out->len = 0;
    pthread_mutex_lock(&s->mu);
    if (s->busy && pthread_equal(s->busy_owner, pthread_self())) {
        pthread_mutex_unlock(&s->mu);
        return MGOV_EBUSY;
    }
    while (s->busy && !s->readable)
        pthread_cond_wait(&s->cond, &s->mu);
    int rc = MGOV_OK;
    uint64_t len = mgov__sec_length(s);
    if (mgov__sec_tier(s) == MGOV_TIER_ON_DISK && len && !s->map) {
        /* map it: the first reader after a spill or a restart */
        s->busy = true;
        s->busy_owner = pthread_self();
        pthread_mutex_unlock(&s->mu);
        rc = mgov__section_map_busy(s);
        pthread_mutex_lock(&s->mu);
        mgov__section_busy_end_locked(s);
    } else if (mgov__sec_tier(s) == MGOV_TIER_ON_DISK) {
        rc = mgov__section_entry(s).status;
    }
    if (rc == MGOV_OK) {
        s->pins++;
        if (len) {
            out->data = mgov__sec_tier(s) == MGOV_TIER_ON_DISK
                            ? (const uint8_t *)s->map + MGOV__SECTION_HEADER
                            : s->ram;
            out->len = (size_t)len;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == MGOV_OK)
        mgov_consumer_touch(s->consumer);
    return rc;
}

void mgov_section_unpin(mgov_section_t *s, mgov_section_view_t *view)
{
    if (!s || !view)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->pins && --s->pins == 0)
        pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    view->data = NULL;
    view->len = 0;
}

/* ---------------------------------------------------------- observability */

const char *mgov_section_name(const mgov_section_t *s)
{
    return s ? s->entry->name : NULL;
}

mgov_tier_t mgov_section_tier(const mgov_section_t *s)
{
    return s ? mgov__sec_tier(s) : MGOV_TIER_UNINITIALIZED;
}

uint64_t mgov_section_length(const mgov_section_t *s)
{
    return s ? mgov__sec_length(s) : 0;
}
