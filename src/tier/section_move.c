/* tier/section_move.c - moving a section between RAM and its file.
 *
 * Spill: write the RAM bytes to a new generation's file (synced), replace
 * the manifest, hand the previous generation to the reaper, and only then
 * release the RAM.  Readers may pin views while the file is written; the
 * RAM is released once they are gone (waiting as the caller allows; if
 * they stay, the section stays in RAM with a clean copy on disk and the
 * spill says MGOV_EBUSY or MGOV_ETIMEDOUT).  A clean section (reloaded and
 * not written since) already has its bytes in the current file: its spill
 * only releases the RAM.
 * Reload: reserve the budget, read the file into fresh memory checking its
 * crc32c, drop the mapping; the file stays as the spilled copy.
 *
 * Every function named *_busy runs with the section busy (tier_internal.h)
 * and s->mu not held; the caller's busy mark keeps views and writes away.
 */
#include <stdlib.h>

#include "governor/hooks.h"
#include "sys/fileio.h"
#include "tier/tier_internal.h"

void mgov__section_ram_free(mgov_section_t *s)
{
    if (s->ram)
        mgov__munmap(s->ram, s->ram_cap);
    s->ram = NULL;
    s->ram_cap = 0;
    mgov_grant_release(&s->grant);
    mgov__sec_set_ram_bytes(s, 0);
}

void mgov__section_unmap(mgov_section_t *s)
{
    if (s->map)
        mgov__munmap(s->map, s->map_len);
    s->map = NULL;
    s->map_len = 0;
}

mgov__tier_entry_t mgov__section_entry(mgov_section_t *s)
{
    pthread_mutex_lock(&s->store->mu);
    mgov__tier_entry_t e = *s->entry;
    pthread_mutex_unlock(&s->store->mu);
    return e;
}

void mgov__section_entry_checked(mgov_section_t *s, int rc)
{
    if (rc != MGOV_OK && rc != MGOV_ECORRUPT)
        return;
    pthread_mutex_lock(&s->store->mu);
    if (rc == MGOV_OK)
        s->entry->verified = true;
    else
        s->entry->status = MGOV_ECORRUPT;
    pthread_mutex_unlock(&s->store->mu);
}

int mgov__section_map_busy(mgov_section_t *s)
{
    mgov__section_assert_busy(s);
    mgov__tier_entry_t e = mgov__section_entry(s);
    if (e.status != MGOV_OK)
        return e.status;
    void *map = NULL;
    size_t map_len = 0;
    int rc = mgov__secfile_map(s->store, &e, !e.verified, &map, &map_len);
    mgov__section_entry_checked(s, rc);
    if (rc != MGOV_OK)
        return rc;
    pthread_mutex_lock(&s->mu); /* pins read map under mu */
    s->map = map;
    s->map_len = map_len;
    pthread_mutex_unlock(&s->mu);
    return MGOV_OK;
}

int mgov__section_commit_file(mgov_section_t *s, uint64_t gen, uint64_t length, uint32_t crc)
{
    mgov__tier_store_t *st = s->store;
    mgov__tier_entry_t *e = s->entry;
    pthread_mutex_lock(&st->manifest_mu);
    pthread_mutex_lock(&st->mu);
    mgov__tier_entry_t old = *e;
    e->gen = gen;
    e->length = length;
    e->crc = crc;
    e->override = (uint8_t)s->cfg.override;
    e->status = MGOV_OK;
    e->verified = true;
    pthread_mutex_unlock(&st->mu);
    int rc = mgov__manifest_commit(st);
    if (rc != MGOV_OK) {
        pthread_mutex_lock(&st->mu);
        e->gen = old.gen;
        e->length = old.length;
        e->crc = old.crc;
        e->override = old.override;
        e->status = old.status;
        e->verified = old.verified;
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&st->manifest_mu);
    if (rc != MGOV_OK) {
        mgov__secfile_remove(st, e->name, gen, length, true);
        return rc;
    }
    if (old.gen) /* named by nothing now: off the caller's path */
        mgov__tier_reap(st, e->name, old.gen, old.length, old.status == MGOV_OK);
    return MGOV_OK;
}

/* True when the entry's file holds exactly the RAM bytes. */
static bool clean_copy(mgov_section_t *s)
{
    mgov__tier_entry_t e = mgov__section_entry(s);
    return !s->dirty && e.gen && e.status == MGOV_OK && e.length == mgov__sec_length(s);
}

int mgov__section_spill_busy(mgov_section_t *s, int64_t pin_wait_ns, uint64_t *freed)
{
    mgov__section_assert_busy(s);
    *freed = 0;
    if (mgov__sec_tier(s) != MGOV_TIER_IN_MEMORY)
        return MGOV_OK; /* nothing in RAM */
    if (!clean_copy(s)) {
        /* the RAM only is read from here on: readers may pin meanwhile */
        pthread_mutex_lock(&s->mu);
        s->readable = true;
        pthread_mutex_unlock(&s->mu);
        uint64_t len = mgov__sec_length(s);
        uint64_t gen;
        mgov__secpart_t part = { s->ram, len };
        uint32_t crc;
        int rc = mgov__secfile_write(s->store, s->entry->name, &part, 1, &gen, &crc);
        if (rc == MGOV_OK)
            rc = mgov__section_commit_file(s, gen, len, crc);
        pthread_mutex_lock(&s->mu);
        s->readable = false;
        if (rc == MGOV_OK)
            s->dirty = false; /* the file now holds these bytes */
        pthread_mutex_unlock(&s->mu);
        if (rc != MGOV_OK)
            return rc; /* RAM untouched */
    }
    pthread_mutex_lock(&s->mu);
    /* views pinned while the file was written: the RAM goes when they do,
     * or stays (a clean copy, so the next spill only drops it) */
    int rc = mgov__section_wait_unpinned_locked(s, pin_wait_ns);
    pthread_mutex_unlock(&s->mu);
    if (rc != MGOV_OK)
        return rc;
    /* no view can be pinned now (busy, not readable); the governor's calls
     * in the release run with no lock of ours held */
    *freed = mgov__sec_ram_bytes(s);
    mgov__section_ram_free(s);
    mgov__sec_set_tier(s, MGOV_TIER_ON_DISK);
    return MGOV_OK;
}

/* Reserves `bytes` for s: at once, or waiting up to timeout_ns. */
int mgov__section_reserve(mgov_section_t *s, uint64_t bytes, int64_t timeout_ns, unsigned flags,
                          mgov_grant_t *out)
{
    mgov_t *gov = s->store->gov;
    flags |= s->cfg.override == MGOV_SECTION_AUTO ? MGOV_REVOCABLE : 0;
    return mgov_reserve(gov, s->region, bytes, flags, timeout_ns, out); /* 0: fail fast */
}

int mgov__section_reload_busy(mgov_section_t *s, int64_t timeout_ns, unsigned flags,
                              uint64_t keep)
{
    mgov__section_assert_busy(s);
    if (mgov__sec_tier(s) != MGOV_TIER_ON_DISK)
        return MGOV_OK;
    uint64_t len = mgov__sec_length(s);
    if (keep < len)
        len = keep;
    if (mgov__section_disk_bound(s, len))
        return MGOV_ENOTSUP;
    mgov__tier_entry_t e = mgov__section_entry(s);
    if (e.status != MGOV_OK)
        return e.status;
    if (len < e.length && !e.verified) {
        /* a prefix cannot be checked on its own: check the whole once */
        int rc = s->map ? MGOV_OK : mgov__section_map_busy(s);
        if (rc != MGOV_OK)
            return rc;
        e = mgov__section_entry(s);
    }
    size_t cap = mgov__page_round(len);
    mgov_grant_t g = MGOV_GRANT_INIT;
    int rc = mgov__section_reserve(s, cap, timeout_ns, flags, &g);
    if (rc != MGOV_OK)
        return rc;
    void *ram = NULL;
    if (cap) {
        /* populated up front: faulting a page at a time inside the reads
         * costs more than the copy itself */
        int err = mgov__mmap_anon(cap, 1, &ram);
        rc = err ? MGOV_ENOMEM : mgov__secfile_read(s->store, &e, ram, len);
    }
    if (len == e.length || rc == MGOV_ECORRUPT) /* a prefix proves nothing good */
        mgov__section_entry_checked(s, rc);
    if (rc != MGOV_OK) {
        if (ram)
            mgov__munmap(ram, cap);
        mgov_grant_release(&g);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    mgov__section_unmap(s);
    s->ram = ram;
    s->ram_cap = cap;
    s->grant = g;
    mgov__sec_set_ram_bytes(s, g.bytes);
    s->dirty = len != e.length;
    mgov__sec_set_length(s, len);
    mgov__sec_set_tier(s, MGOV_TIER_IN_MEMORY);
    pthread_mutex_unlock(&s->mu);
    return MGOV_OK;
}

/* ----------------------------------------------------------- explicit moves */

int mgov_section_spill(mgov_section_t *s, int64_t timeout_ns)
{
    if (!s)
        return MGOV_EINVAL;
    if (s->cfg.override == MGOV_SECTION_FORCE_RAM)
        return MGOV_EBUSY;
    int rc = mgov__section_busy_begin(s, timeout_ns, true);
    uint64_t freed = 0;
    bool moved = false;
    if (rc == MGOV_OK) {
        moved = mgov__sec_tier(s) == MGOV_TIER_IN_MEMORY;
        rc = mgov__section_spill_busy(s, timeout_ns, &freed);
        mgov__section_busy_end(s);
    }
    if (rc != MGOV_OK)
        mgov__consumer_report(s->consumer, MGOV_EV_SPILL_FAILED, mgov__sec_length(s), 0, 0, rc);
    else if (moved)
        mgov__consumer_report(s->consumer, MGOV_EV_SPILLED, mgov__sec_length(s), freed, 0, rc);
    return rc;
}

int mgov_section_reload(mgov_section_t *s, int64_t timeout_ns)
{
    if (!s)
        return MGOV_EINVAL;
    int rc = mgov__section_busy_begin(s, timeout_ns, true);
    bool moved = false;
    if (rc == MGOV_OK) {
        moved = mgov__sec_tier(s) == MGOV_TIER_ON_DISK;
        rc = mgov__section_reload_busy(s, timeout_ns, 0, UINT64_MAX);
        mgov__section_busy_end(s);
    }
    if (rc != MGOV_OK && rc != MGOV_ENOTSUP)
        mgov__consumer_report(s->consumer, MGOV_EV_RELOAD_FAILED, mgov__sec_length(s), 0, 0,
                              rc);
    else if (rc == MGOV_OK && moved)
        mgov__consumer_report(s->consumer, MGOV_EV_RELOADED, mgov__sec_length(s), 0, 0, rc);
    return rc;
}
