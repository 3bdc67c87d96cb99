/* governor/consumer.c - consumers: subsystems holding memory the governor
 * can ask back (evict, spill, reload).
 *
 * A consumer's life:  register -> [victim snapshots ref it; its ops run
 * between enter/leave] -> unregister -> freed when nothing refers to it.
 *
 * Two counts keep a consumer alive without holding a lock across callbacks:
 *   refs     snapshots (a reclaim pass's victim list) that may still visit it;
 *   running  its callbacks running now, in any thread.
 * Unregister marks it `unregistering` (enter fails from then on, so no new
 * callback starts), unlinks it, and waits until `running` drops to the
 * number of its callbacks on the calling thread's own stack (0 unless it
 * unregisters itself from inside a callback).  The struct is freed by
 * whoever sees refs == 0 and running == 0 last: unregister itself, or the
 * last leave/unref.  After unregister returns, ctx is never touched again.
 *
 * A thread-local stack of the callbacks running on this thread tells
 * unregister how many of them are its own, and tells reclaim that it is
 * nested in a callback (so it does not wait for itself).
 *
 * Locking: gov->consumers_lock guards the list, refs, running and the flags
 * above; consumer_cond signals `running` going down.  Never held during an
 * op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "governor/internal.h"
#include "sys/debug.h"
#include "sys/fault.h"

static _Thread_local mgov__frame_t *tls_frames;

static unsigned own_frames(const mgov_consumer_t *c)
{
    unsigned n = 0;
    for (const mgov__frame_t *f = tls_frames; f; f = f->prev)
        n += f->c == c;
    return n;
}

bool mgov__in_callback(const mgov_t *gov)
{
    for (const mgov__frame_t *f = tls_frames; f; f = f->prev)
        if (f->c->gov == gov)
            return true;
    return false;
}

static bool name_ok(const char *name)
{
    size_t n = name ? strnlen(name, MGOV_NAME_MAX + 1) : 0;
    if (n == 0 || n > MGOV_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e)
            return false;
    return true;
}

static mgov_consumer_t *find_locked(mgov_t *gov, const char *name)
{
    mgov__assert_held(&gov->consumers_lock);
    for (mgov_consumer_t *c = gov->consumers; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int mgov_consumer_register(mgov_t *gov, const mgov_consumer_config_t *cfg,
                           mgov_consumer_t **out)
{
    if (!gov || !cfg || !out || !cfg->ops || !name_ok(cfg->name) || cfg->region < 0 ||
        (unsigned)cfg->region >= gov->n_regions || (cfg->flags & ~MGOV_FORCE_RAM))
        return MGOV_EINVAL;
    mgov_consumer_t *c = mgov__calloc(1, sizeof *c);
    if (!c)
        return MGOV_ENOMEM;
    c->gov = gov;
    strcpy(c->name, cfg->name);
    c->region = cfg->region;
    c->priority = cfg->priority;
    atomic_init(&c->flags, cfg->flags);
    /* version 1 (and 0) has the five ops; later fields would be read only
     * for a caller whose header had them */
    c->ops = (mgov_consumer_ops_t){ .version = MGOV_CONSUMER_OPS_VERSION,
                                    .usage = cfg->ops->usage,
                                    .evict = cfg->ops->evict,
                                    .spill = cfg->ops->spill,
                                    .reload = cfg->ops->reload,
                                    .tier = cfg->ops->tier };
    c->ctx = cfg->ctx;
    atomic_init(&c->last_touch,
                atomic_fetch_add_explicit(&gov->touch_clock, 1, memory_order_relaxed) + 1);

    pthread_mutex_lock(&gov->consumers_lock);
    if (find_locked(gov, c->name)) {
        pthread_mutex_unlock(&gov->consumers_lock);
        free(c);
        return MGOV_EEXIST;
    }
    c->next = gov->consumers;
    if (c->next)
        c->next->prev = c;
    gov->consumers = c;
    gov->n_consumers++;
    pthread_mutex_unlock(&gov->consumers_lock);
    *out = c;
    return MGOV_OK;
}

int mgov__consumer_register_unique(mgov_t *gov, const mgov_consumer_config_t *cfg,
                                   const char *prefix, mgov_consumer_t **out)
{
    static _Atomic unsigned serial; /* process-wide: names stay apart across governors too */
    if (!cfg || cfg->name || !prefix)
        return cfg && cfg->name ? mgov_consumer_register(gov, cfg, out) : MGOV_EINVAL;
    mgov_consumer_config_t cc = *cfg;
    char name[MGOV_NAME_MAX + 1];
    cc.name = name;
    int rc = MGOV_EEXIST;
    for (int tries = 0; tries < 64 && rc == MGOV_EEXIST; tries++) {
        unsigned n = atomic_fetch_add_explicit(&serial, 1, memory_order_relaxed) + 1;
        snprintf(name, sizeof name, "%s-%u", prefix, n);
        rc = mgov_consumer_register(gov, &cc, out);
    }
    return rc;
}

static void unlink_locked(mgov_t *gov, mgov_consumer_t *c)
{
    mgov__assert_held(&gov->consumers_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        gov->consumers = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    gov->n_consumers--;
}

/* Frees c if it is unregistered and nothing refers to it.  Under
 * gov->consumers_lock. */
static bool maybe_free_locked(mgov_consumer_t *c)
{
    mgov__assert_held(&c->gov->consumers_lock);
    if (c->free_pending && c->refs == 0 && c->running == 0) {
        free(c);
        return true;
    }
    return false;
}

int mgov_consumer_unregister(mgov_consumer_t *c)
{
    if (!c)
        return MGOV_OK;
    mgov_t *gov = c->gov;
    unsigned mine = own_frames(c);
    pthread_mutex_lock(&gov->consumers_lock);
    if (c->unregistering) {
        pthread_mutex_unlock(&gov->consumers_lock);
        return MGOV_EINVAL; /* a second unregister of the same handle */
    }
    c->unregistering = true;
    unlink_locked(gov, c);
    while (c->running > mine)
        pthread_cond_wait(&gov->consumer_cond, &gov->consumers_lock);
    c->free_pending = true;
    maybe_free_locked(c);
    pthread_mutex_unlock(&gov->consumers_lock);
    return MGOV_OK;
}

bool mgov__consumer_enter(mgov_consumer_t *c, mgov__frame_t *f)
{
    mgov_t *gov = c->gov;
    pthread_mutex_lock(&gov->consumers_lock);
    bool ok = !c->unregistering;
    if (ok)
        c->running++;
    pthread_mutex_unlock(&gov->consumers_lock);
    if (ok) {
        f->c = c;
        f->prev = tls_frames;
        tls_frames = f;
    }
    return ok;
}

void mgov__consumer_leave(mgov_consumer_t *c, mgov__frame_t *f)
{
    tls_frames = f->prev; /* frames nest: f is the innermost */
    mgov_t *gov = c->gov;
    pthread_mutex_lock(&gov->consumers_lock);
    c->running--;
    if (c->unregistering) {
        pthread_cond_broadcast(&gov->consumer_cond);
        maybe_free_locked(c);
    }
    pthread_mutex_unlock(&gov->consumers_lock);
}

void mgov__consumer_unref(mgov_consumer_t *c)
{
    mgov_t *gov = c->gov;
    pthread_mutex_lock(&gov->consumers_lock);
    c->refs--;
    maybe_free_locked(c);
    pthread_mutex_unlock(&gov->consumers_lock);
}

void mgov_consumer_touch(mgov_consumer_t *c)
{
    if (!c)
        return;
    uint64_t t = atomic_fetch_add_explicit(&c->gov->touch_clock, 1, memory_order_relaxed) + 1;
    atomic_store_explicit(&c->last_touch, t, memory_order_relaxed);
}

int mgov_consumer_set_force_ram(mgov_consumer_t *c, bool on)
{
    if (!c)
        return MGOV_EINVAL;
    /* relaxed: the flag guards no other data; a pass that starts after
     * this call returns sees it */
    if (on)
        atomic_fetch_or_explicit(&c->flags, MGOV_FORCE_RAM, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&c->flags, ~(unsigned)MGOV_FORCE_RAM, memory_order_relaxed);
    return MGOV_OK;
}

const char *mgov_tier_name(mgov_tier_t tier)
{
    switch (tier) {
    case MGOV_TIER_UNINITIALIZED: return "uninitialized";
    case MGOV_TIER_IN_MEMORY: return "in_memory";
    case MGOV_TIER_ON_DISK: return "on_disk";
    }
    return "unknown";
}

const char *mgov_consumer_name(const mgov_consumer_t *c)
{
    return c ? c->name : NULL;
}

/* ------------------------------------------------------------ snapshots */

static int cmp_reclaim(const void *a, const void *b)
{
    const mgov_consumer_t *x = *(mgov_consumer_t *const *)a, *y = *(mgov_consumer_t *const *)b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    uint64_t tx = atomic_load_explicit(&x->last_touch, memory_order_relaxed); /* an LRU hint */
    uint64_t ty = atomic_load_explicit(&y->last_touch, memory_order_relaxed);
    return tx < ty ? -1 : tx > ty;
}

static int cmp_reload(const void *a, const void *b)
{
    const mgov_consumer_t *x = *(mgov_consumer_t *const *)a, *y = *(mgov_consumer_t *const *)b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    uint64_t tx = atomic_load_explicit(&x->last_touch, memory_order_relaxed);
    uint64_t ty = atomic_load_explicit(&y->last_touch, memory_order_relaxed);
    return tx > ty ? -1 : tx < ty; /* most recently used first */
}

int mgov__victims_collect(mgov_t *gov, int region, bool highest_first, mgov_consumer_t ***out,
                          unsigned *n)
{
    *n = 0;
    *out = NULL;
    pthread_mutex_lock(&gov->consumers_lock);
    mgov_consumer_t **v = NULL;
    if (gov->n_consumers && !(v = mgov__malloc(gov->n_consumers * sizeof *v))) {
        pthread_mutex_unlock(&gov->consumers_lock);
        return MGOV_ENOMEM;
    }
    for (mgov_consumer_t *c = gov->consumers; c; c = c->next) {
        if (region >= 0 && c->region != region)
            continue;
        c->refs++;
        v[(*n)++] = c;
    }
    pthread_mutex_unlock(&gov->consumers_lock);
    if (v)
        qsort(v, *n, sizeof *v, highest_first ? cmp_reload : cmp_reclaim);
    *out = v;
    return MGOV_OK;
}

void mgov__victims_free(mgov_consumer_t **v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        mgov__consumer_unref(v[i]);
    free(v);
}

int mgov_consumer_foreach(mgov_t *gov,
                          void (*fn)(void *arg, const char *name, int region, unsigned priority,
                                     mgov_tier_t tier),
                          void *arg)
{
    if (!gov || !fn)
        return MGOV_EINVAL;
    unsigned n;
    mgov_consumer_t **v;
    int rc = mgov__victims_collect(gov, -1, true, &v, &n);
    if (rc != MGOV_OK)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        mgov_consumer_t *c = v[i];
        mgov__frame_t f;
        if (!mgov__consumer_enter(c, &f))
            continue;
        mgov_tier_t tier;
        if (c->ops.tier)
            tier = c->ops.tier(c->ctx);
        else
            tier = c->ops.usage && c->ops.usage(c->ctx) ? MGOV_TIER_IN_MEMORY
                                                        : MGOV_TIER_UNINITIALIZED;
        mgov__consumer_leave(c, &f);
        fn(arg, c->name, c->region, c->priority, tier);
    }
    mgov__victims_free(v, n);
    return MGOV_OK;
}

void mgov__consumers_destroy(mgov_t *gov)
{
    mgov_consumer_t *c = gov->consumers;
    while (c) {
        mgov_consumer_t *next = c->next;
        if (mgov__has_events(gov)) {
            mgov_event_t ev;
            mgov__event_init(&ev, MGOV_EV_LEAKED_CONSUMER, gov, c->region);
            ev.name = c->name;
            mgov__emit(gov, &ev);
        }
        free(c);
        c = next;
    }
    gov->consumers = NULL;
    gov->n_consumers = 0;
}
