/* alloc/epochs.c - epoch sets: one arena per epoch; begin new epochs,
 * allocate in the current one, retire old ones.
 *
 * Invariants
 *   - slots[0..n) holds every epoch whose arena is still alive: the live
 *     ones and the retired ones some thread still holds (refs > 0).
 *   - `current` names a live slot; it is stored only after that slot (and
 *     its arena) exists, so a reader of current always finds its arena.
 *   - A retired slot is never found by acquire; its arena is freed when its
 *     refs reach zero.
 *
 * Locking: s->lock guards the slots.  Arena creation and destruction (which
 * may free chunks and release grants) run outside it.  Allocation in an
 * acquired arena takes no set lock: the arenas are thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc_internal.h"
#include "alloc/arena_internal.h"
#include "sys/fault.h"

typedef struct epoch_slot {
    uint64_t epoch;
    mgov_arena_t *arena;
    unsigned refs;
    bool retired;
} epoch_slot_t;

struct mgov_epochs {
    pthread_mutex_t lock;
    _Atomic uint64_t current;
    _Atomic int last_error;
    mgov_arena_config_t cfg; /* region resolved below; cfg.region unused */
    int region;
    epoch_slot_t *slots;
    size_t n, cap;
};

static int new_arena(const mgov_epochs_t *s, mgov_arena_t **out)
{
    return mgov__arena_create_in(&s->cfg, s->region, out);
}

/* Appends a slot; caller holds the lock.  MGOV_ENOMEM when it cannot grow. */
static int slot_add(mgov_epochs_t *s, uint64_t epoch, mgov_arena_t *a)
{
    if (mgov__array_room(&s->slots, s->n, &s->cap, sizeof *s->slots, 8) != MGOV_OK)
        return MGOV_ENOMEM;
    s->slots[s->n++] = (epoch_slot_t){ .epoch = epoch, .arena = a, .refs = 0, .retired = false };
    return MGOV_OK;
}

static void slot_remove(mgov_epochs_t *s, size_t i)
{
    s->slots[i] = s->slots[--s->n];
}

int mgov_epochs_create(const mgov_arena_config_t *cfg, mgov_epochs_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    mgov_epochs_t *s = mgov__calloc(1, sizeof *s);
    if (!s)
        return MGOV_ENOMEM;
    if (cfg)
        s->cfg = *cfg;
    s->cfg.flags |= MGOV_ARENA_THREAD_SAFE;
    s->cfg.region = NULL;
    int rc = s->cfg.gov ? mgov__region_resolve(s->cfg.gov, cfg ? cfg->region : NULL,
                                               MGOV__ALLOC_DEFAULT_REGION, &s->region)
                        : MGOV_OK;
    mgov_arena_t *first = NULL;
    if (rc == MGOV_OK)
        rc = new_arena(s, &first);
    if (rc == MGOV_OK && pthread_mutex_init(&s->lock, NULL) != 0)
        rc = MGOV_ENOMEM;
    else if (rc == MGOV_OK && (rc = slot_add(s, 0, first)) != MGOV_OK)
        pthread_mutex_destroy(&s->lock);
    if (rc != MGOV_OK) {
        mgov_arena_destroy(first);
        free(s);
        return rc;
    }
    atomic_init(&s->current, 0);
    atomic_init(&s->last_error, MGOV_OK);
    *out = s;
    return MGOV_OK;
}

void mgov_epochs_destroy(mgov_epochs_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        mgov_arena_destroy(s->slots[i].arena);
    free(s->slots);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

uint64_t mgov_epochs_current(const mgov_epochs_t *s)
{
    /* acquire: pairs with the release in mgov_epochs_begin, so a thread
     * that reads e also sees e's slot (mgov_epochs_acquire takes the lock
     * anyway; this keeps the guarantee of the file comment on its own) */
    return s ? atomic_load_explicit(&s->current, memory_order_acquire) : 0;
}

int mgov_epochs_begin(mgov_epochs_t *s, uint64_t *epoch)
{
    if (!s)
        return MGOV_EINVAL;
    mgov_arena_t *a;
    int rc = new_arena(s, &a);
    if (rc != MGOV_OK)
        return rc;
    pthread_mutex_lock(&s->lock);
    uint64_t e = atomic_load_explicit(&s->current, memory_order_relaxed) + 1;
    rc = slot_add(s, e, a);
    if (rc == MGOV_OK) /* release: pairs with the acquire in mgov_epochs_current */
        atomic_store_explicit(&s->current, e, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    if (rc != MGOV_OK) {
        mgov_arena_destroy(a);
        return rc;
    }
    if (epoch)
        *epoch = e;
    return MGOV_OK;
}

int mgov_epochs_acquire(mgov_epochs_t *s, uint64_t epoch, mgov_arena_t **out)
{
    if (!s || !out)
        return MGOV_EINVAL;
    *out = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        if (s->slots[i].epoch == epoch && !s->slots[i].retired) {
            s->slots[i].refs++;
            *out = s->slots[i].arena;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return *out ? MGOV_OK : MGOV_ENOTFOUND;
}

/* Drops a reference to a; frees it if its epoch is retired and this was the
 * last.  Returns true when its epoch had been retired. */
static bool epoch_put(mgov_epochs_t *s, mgov_arena_t *a)
{
    mgov_arena_t *dead = NULL;
    bool retired = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        epoch_slot_t *sl = &s->slots[i];
        if (sl->arena != a || sl->refs == 0)
            continue;
        retired = sl->retired;
        if (--sl->refs == 0 && retired) {
            dead = a;
            slot_remove(s, i);
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    mgov_arena_destroy(dead);
    return retired;
}

void mgov_epochs_release(mgov_epochs_t *s, mgov_arena_t *a)
{
    if (s && a)
        epoch_put(s, a);
}

void *mgov_epochs_alloc(mgov_epochs_t *s, size_t size, size_t align, uint64_t *epoch)
{
    if (!s)
        return NULL;
    for (;;) {
        /* current may move on between the load and the acquire, and the
         * epoch it named be retired: then take the newer current */
        uint64_t e;
        mgov_arena_t *a;
        do
            e = mgov_epochs_current(s);
        while (mgov_epochs_acquire(s, e, &a) == MGOV_ENOTFOUND);
        void *p = mgov_arena_alloc(a, size, align);
        int err = p ? MGOV_OK : mgov_arena_last_error(a);
        bool retired = epoch_put(s, a);
        if (!p) {
            atomic_store_explicit(&s->last_error, err, memory_order_relaxed);
            return NULL;
        }
        if (!retired) {
            if (epoch)
                *epoch = e;
            return p;
        }
        /* its epoch was retired while we allocated: p went with it */
    }
}

int mgov_epochs_last_error(const mgov_epochs_t *s)
{
    return s ? atomic_load_explicit(&s->last_error, memory_order_relaxed) : MGOV_EINVAL;
}

size_t mgov_epochs_retire(mgov_epochs_t *s, uint64_t before)
{
    if (!s)
        return 0;
    size_t retired = 0, n_dead = 0;
    mgov_arena_t *dead[16];
    for (;;) {
        /* free in batches so the arenas are destroyed outside the lock */
        n_dead = 0;
        pthread_mutex_lock(&s->lock);
        uint64_t cur = atomic_load_explicit(&s->current, memory_order_relaxed);
        for (size_t i = 0; i < s->n && n_dead < 16;) {
            epoch_slot_t *sl = &s->slots[i];
            if (sl->retired || sl->epoch >= before || sl->epoch == cur) {
                i++;
                continue;
            }
            sl->retired = true;
            retired++;
            if (sl->refs == 0) {
                dead[n_dead++] = sl->arena;
                slot_remove(s, i);
            } else {
                i++;
            }
        }
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < n_dead; i++)
            mgov_arena_destroy(dead[i]);
        if (n_dead < 16)
            return retired;
    }
}

size_t mgov_epochs_count(const mgov_epochs_t *s)
{
    if (!s)
        return 0;
    mgov_epochs_t *m = (mgov_epochs_t *)s; /* the lock is not part of the value */
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++)
        n += !m->slots[i].retired;
    pthread_mutex_unlock(&m->lock);
    return n;
}

size_t mgov_epochs_reserved(const mgov_epochs_t *s)
{
    if (!s)
        return 0;
    mgov_epochs_t *m = (mgov_epochs_t *)s;
    size_t bytes = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++)
        if (!m->slots[i].retired)
            bytes += mgov_arena_reserved(m->slots[i].arena);
    pthread_mutex_unlock(&m->lock);
    return bytes;
}
