/* tier/section_store.c - the governor's sections: names, entries, the
 * store's lifetime, listing and removing copies on disk.
 *
 * The store is made on first use (mgov_section_open, _remove, _foreach):
 * it opens the governor's spill directory and reads its manifest.  It is
 * freed by mgov_destroy (after its reaper has removed what it was given);
 * in a private spill directory its files go then.  mgov_section_remove and
 * mgov_section_foreach wait for the reaper first, so after them the
 * directory holds exactly what the manifest names.
 *
 * Invariants: entries is sorted by name, names unique; an entry with
 * open == NULL has a file (gen != 0), or its file is being restored from
 * the quarantine or removed (`moving`: hidden from listings, opens and
 * removals until its commit ends, so no open can take an entry a removal
 * is about to free): an entry is erased when its section closes without
 * a file, or when its file is removed and it is not open.
 * Locking: store->mu guards entries and every entry field (a leaf lock).
 */
#include <stdlib.h>
#include <string.h>

#include "governor/hooks.h"
#include "sys/fault.h"
#include "sys/fileio.h"
#include "tier/tier_internal.h"

int mgov__section_name_check(const char *name)
{
    if (!name || !name[0] || name[0] == '.' || strstr(name, ".."))
        return MGOV_EINVAL;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++)
        if (n >= MGOV_NAME_MAX || *p < 0x20 || *p > 0x7e || *p == '/')
            return MGOV_EINVAL;
    return MGOV_OK;
}

/* Index of the first entry whose name is >= name. */
static unsigned lower_bound(const mgov__tier_store_t *st, const char *name)
{
    unsigned lo = 0, hi = st->n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (strcmp(st->entries[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

mgov__tier_entry_t *mgov__tier_find(mgov__tier_store_t *st, const char *name)
{
    unsigned i = lower_bound(st, name);
    return i < st->n && strcmp(st->entries[i]->name, name) == 0 ? st->entries[i] : NULL;
}

int mgov__tier_insert(mgov__tier_store_t *st, const char *name, mgov__tier_entry_t **out)
{
    if (mgov__array_room(&st->entries, st->n, &st->cap, sizeof *st->entries, 16) != MGOV_OK)
        return MGOV_ENOMEM;
    mgov__tier_entry_t *e = mgov__calloc(1, sizeof *e);
    if (!e)
        return MGOV_ENOMEM;
    strcpy(e->name, name); /* checked: at most MGOV_NAME_MAX bytes */
    unsigned i = lower_bound(st, name);
    memmove(st->entries + i + 1, st->entries + i, (st->n - i) * sizeof *st->entries);
    st->entries[i] = e;
    st->n++;
    *out = e;
    return MGOV_OK;
}

void mgov__tier_erase(mgov__tier_store_t *st, mgov__tier_entry_t *e)
{
    unsigned i = lower_bound(st, e->name);
    memmove(st->entries + i, st->entries + i + 1, (st->n - i - 1) * sizeof *st->entries);
    st->n--;
    free(e);
}

int mgov__tier_next_gen(mgov__tier_store_t *st, uint64_t *gen)
{
    pthread_mutex_lock(&st->mu);
    int rc = MGOV_OK;
    if (st->next_gen == MGOV__GEN_END) /* never wraps: 0 means "no file" */
        rc = MGOV_EOVERFLOW;
    else
        *gen = st->next_gen++;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---------------------------------------------------------------- lifetime */

static void store_free(void *state)
{
    mgov__tier_store_t *st = state;
    mgov__tier_reap_stop(st);
    bool drop = mgov__spill_dir_private(st->dir);
    for (unsigned i = 0; i < st->n; i++) {
        mgov__tier_entry_t *e = st->entries[i];
        if (drop && e->gen)
            mgov__secfile_remove(st, e->name, e->gen, e->length, e->status == MGOV_OK);
        free(e);
    }
    if (drop) {
        mgov__unlinkat(st->dirfd, MGOV__SECTION_MANIFEST, 0);
        mgov__quarantine_drop(st); /* so the directory's rmdir can succeed */
    }
    free(st->entries);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->manifest_mu);
    pthread_mutex_destroy(&st->reap_mu);
    pthread_cond_destroy(&st->reap_cond);
    pthread_cond_destroy(&st->reap_idle);
    free(st);
}

static int store_make(mgov_t *gov, void *arg, void **state)
{
    mgov_spill_dir_t *dir;
    int rc = mgov_spill_dir_get(gov, &dir);
    if (rc != MGOV_OK)
        return rc;
    mgov__tier_store_t *st = mgov__calloc(1, sizeof *st);
    if (!st)
        return MGOV_ENOMEM;
    st->gov = gov;
    st->dir = dir;
    st->dirfd = mgov__spill_dir_fd(dir);
    st->next_gen = 1;
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->manifest_mu, NULL);
    pthread_mutex_init(&st->reap_mu, NULL);
    pthread_cond_init(&st->reap_cond, NULL);
    pthread_cond_init(&st->reap_idle, NULL);
    st->qnotes = arg; /* reported by mgov__tier_store, once the layer lock is released */
    rc = mgov__manifest_load(st);
    st->qnotes = NULL;
    if (rc != MGOV_OK) {
        for (unsigned i = 0; i < st->n; i++) /* decoded so far; nothing charged */
            free(st->entries[i]);
        free(st->entries);
        pthread_mutex_destroy(&st->mu);
        pthread_mutex_destroy(&st->manifest_mu);
        pthread_mutex_destroy(&st->reap_mu);
        pthread_cond_destroy(&st->reap_cond);
        pthread_cond_destroy(&st->reap_idle);
        free(st);
        return rc;
    }
    *state = st;
    return MGOV_OK;
}

int mgov__tier_store(mgov_t *gov, mgov__tier_store_t **out)
{
    void *state;
    mgov__qnotes_t notes = { 0 };
    int rc = mgov__layer_state(gov, MGOV__TIER_SLOT, store_make, &notes, store_free, &state);
    mgov__quarantine_flush(gov, &notes); /* events under no governor lock */
    *out = state;
    return rc;
}

/* ----------------------------------------------------------------- remove */

int mgov_section_remove(mgov_t *gov, const char *name)
{
    if (!gov || mgov__section_name_check(name) != MGOV_OK)
        return MGOV_EINVAL;
    mgov__tier_store_t *st;
    int rc = mgov__tier_store(gov, &st);
    if (rc != MGOV_OK)
        return rc;
    mgov__tier_reap_drain(st); /* when it returns, the disk holds what the manifest says */
    pthread_mutex_lock(&st->manifest_mu);
    pthread_mutex_lock(&st->mu);
    mgov__tier_entry_t *e = mgov__tier_find(st, name);
    rc = !e || !e->gen ? MGOV_ENOTFOUND : e->open || e->moving ? MGOV_EBUSY : MGOV_OK;
    uint64_t gen = 0, length = 0;
    int status = MGOV_OK;
    if (rc == MGOV_OK) {
        gen = e->gen;
        length = e->length;
        status = e->status;
        e->gen = 0; /* dropped from the manifest written next */
        e->moving = true; /* no open claims it while the commit runs */
    }
    pthread_mutex_unlock(&st->mu);
    if (rc == MGOV_OK) {
        rc = mgov__manifest_commit(st);
        pthread_mutex_lock(&st->mu);
        if (rc == MGOV_OK) {
            mgov__tier_erase(st, e);
        } else {
            e->gen = gen; /* the old manifest stays: so does the copy */
            e->moving = false;
        }
        pthread_mutex_unlock(&st->mu);
        if (rc == MGOV_OK)
            mgov__secfile_remove(st, name, gen, length, status == MGOV_OK);
    }
    pthread_mutex_unlock(&st->manifest_mu);
    return rc;
}

/* ---------------------------------------------------------------- listing */

const char *mgov_section_override_name(mgov_section_override_t o)
{
    switch (o) {
    case MGOV_SECTION_AUTO: return "auto";
    case MGOV_SECTION_FORCE_DISK: return "force_disk";
    case MGOV_SECTION_FORCE_RAM: return "force_ram";
    }
    return "unknown";
}

/* A file's size, header included; saturating: a crafted length in the
 * manifest must not wrap to a small number. */
static uint64_t disk_bytes(uint64_t length)
{
    return length > UINT64_MAX - MGOV__SECTION_HEADER ? UINT64_MAX : MGOV__SECTION_HEADER + length;
}

int mgov_section_foreach(mgov_t *gov, void (*fn)(void *arg, const mgov_section_info_t *info),
                         void *arg)
{
    if (!gov || !fn)
        return MGOV_EINVAL;
    mgov__tier_store_t *st;
    int rc = mgov__tier_store(gov, &st);
    if (rc != MGOV_OK)
        return rc;
    mgov__tier_reap_drain(st); /* the disk holds what is listed */
    /* a snapshot, so fn runs with no lock held */
    pthread_mutex_lock(&st->mu);
    unsigned n = 0;
    for (unsigned i = 0; i < st->n; i++)
        n += !st->entries[i]->moving; /* coming or going */
    mgov_section_info_t *v = n ? mgov__calloc(n, sizeof *v) : NULL;
    char(*names)[MGOV_NAME_MAX + 1] = n ? mgov__malloc(n * sizeof *names) : NULL;
    if (n && (!v || !names)) {
        pthread_mutex_unlock(&st->mu);
        free(v);
        free(names);
        return MGOV_ENOMEM;
    }
    for (unsigned i = 0, j = 0; j < n; i++) {
        const mgov__tier_entry_t *e = st->entries[i];
        if (e->moving)
            continue;
        mgov_section_info_t *x = &v[j];
        x->name = names[j];
        strcpy(names[j++], e->name);
        x->status = e->status;
        x->generation = e->gen;
        x->disk_bytes = e->gen ? disk_bytes(e->length) : 0;
        x->override = (mgov_section_override_t)e->override;
        x->tier = MGOV_TIER_ON_DISK;
        x->length = e->length;
        mgov_section_t *s = e->open;
        if (s) {
            x->open = 1;
            x->override = s->cfg.override;
            x->tier = mgov__sec_tier(s);
            x->length = mgov__sec_length(s);
            x->ram_bytes = mgov__sec_ram_bytes(s);
        }
    }
    pthread_mutex_unlock(&st->mu);
    for (unsigned i = 0; i < n; i++)
        fn(arg, &v[i]);
    free(v);
    free(names);
    return MGOV_OK;
}
