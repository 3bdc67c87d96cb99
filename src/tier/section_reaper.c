/* tier/section_reaper.c - removing superseded section files off the
 * caller's path.
 *
 * Once a new manifest is in place, the previous generation of a section's
 * file is garbage; unlinking it makes the file system free all its extents
 * and cached pages, which for a large section costs a good part of a spill
 * (about 200 ms per GiB here).  So a spill hands the old file to this
 * reaper: one thread per store, started on first use, that unlinks files
 * in order and gives their quota back.  If it cannot be started (or the
 * queue entry cannot be allocated) the caller removes the file itself.  A
 * crash before the reaper gets to a file is harmless: the next open
 * removes a generation older than a healthy current one
 * (section_quarantine.c), the one kind of file it deletes.
 *
 * Invariants: a queued file is named by no manifest and by no entry; its
 * quota charge (when `charged`) is still held until it is unlinked.
 * Locking: reap_mu guards the queue and the flags; it is a leaf, never held
 * across an unlink.
 */
#include <stdlib.h>
#include <string.h>

#include "sys/fault.h"
#include "tier/tier_internal.h"

struct mgov__reap_item {
    mgov__reap_item_t *next;
    char name[MGOV_NAME_MAX + 1];
    uint64_t gen, length;
    bool charged;
};

static void *reaper_main(void *arg)
{
    mgov__tier_store_t *st = arg;
    pthread_mutex_lock(&st->reap_mu);
    for (;;) {
        mgov__reap_item_t *it = st->reap_head;
        if (!it) {
            if (st->reap_stop)
                break;
            pthread_cond_wait(&st->reap_cond, &st->reap_mu);
            continue;
        }
        st->reap_head = it->next;
        st->reap_busy = true;
        pthread_mutex_unlock(&st->reap_mu);
        mgov__secfile_remove(st, it->name, it->gen, it->length, it->charged);
        free(it);
        pthread_mutex_lock(&st->reap_mu);
        st->reap_busy = false;
        pthread_cond_broadcast(&st->reap_idle);
    }
    pthread_mutex_unlock(&st->reap_mu);
    return NULL;
}

void mgov__tier_reap(mgov__tier_store_t *st, const char *name, uint64_t gen, uint64_t length,
                     bool charged)
{
    mgov__reap_item_t *it = mgov__malloc(sizeof *it);
    if (it) {
        it->next = NULL;
        strcpy(it->name, name);
        it->gen = gen;
        it->length = length;
        it->charged = charged;
        pthread_mutex_lock(&st->reap_mu);
        if (!st->reaper_started && !st->reap_stop &&
            pthread_create(&st->reaper, NULL, reaper_main, st) == 0)
            st->reaper_started = true;
        if (st->reaper_started && !st->reap_stop) {
            mgov__reap_item_t **tail = &st->reap_head;
            while (*tail)
                tail = &(*tail)->next;
            *tail = it;
            pthread_cond_signal(&st->reap_cond);
            it = NULL;
        }
        pthread_mutex_unlock(&st->reap_mu);
        free(it);
        if (!it)
            return;
    }
    mgov__secfile_remove(st, name, gen, length, charged); /* no reaper: do it here */
}

void mgov__tier_reap_drain(mgov__tier_store_t *st)
{
    pthread_mutex_lock(&st->reap_mu);
    while (st->reap_head || st->reap_busy)
        pthread_cond_wait(&st->reap_idle, &st->reap_mu);
    pthread_mutex_unlock(&st->reap_mu);
}

void mgov__tier_reap_stop(mgov__tier_store_t *st)
{
    pthread_mutex_lock(&st->reap_mu);
    st->reap_stop = true;
    bool started = st->reaper_started;
    pthread_cond_signal(&st->reap_cond);
    pthread_mutex_unlock(&st->reap_mu);
    if (started)
        pthread_join(st->reaper, NULL); /* it drains the queue first */
}
