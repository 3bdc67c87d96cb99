/* tier/section_write.c - changing a section's bytes: append, write at an
 * offset, resize, truncate.
 *
 * Every write is one change: the new length, and optionally `len` bytes at
 * `offset`; bytes past the old length that the change does not write are
 * zero.  It is applied either
 *   in RAM:   growing the anonymous mapping (capacity doubles, reserved
 *             first; a refusal changes nothing), then copying; or
 *   on disk:  as a new generation of the section's file, streamed from the
 *             old bytes (RAM or mapping) with the change applied, then
 *             committed like a spill; the section is ON_DISK afterwards.
 * Disk when the section is ForceDisk, the new length passes max_ram
 * (AUTO), or it is ON_DISK and the bytes the write keeps cannot come back
 * to RAM without reclaim; a ForceRam section over its max_ram is
 * MGOV_ELIMIT.
 *
 * Locking: the write holds the section's busy mark for its whole length
 * (waiting up to pin_wait_ns for views), so it is atomic to readers.
 */
#include <stdint.h>
#include <string.h>

#include "governor/hooks.h"
#include "sys/fileio.h"
#include "tier/tier_internal.h"

typedef enum { CH_APPEND, CH_WRITE, CH_RESIZE, CH_TRUNCATE } change_kind_t;

typedef struct change {
    change_kind_t kind;
    uint64_t offset;
    const uint8_t *data;
    size_t len;
    uint64_t new_len; /* set once the old length is known */
} change_t;

/* Fills in offset and new_len against the current length. */
static int change_resolve(change_t *ch, uint64_t old_len)
{
    switch (ch->kind) {
    case CH_APPEND:
        ch->offset = old_len;
        /* fall through */
    case CH_WRITE:
        if (ch->offset > old_len || ch->len > UINT64_MAX / 2 - ch->offset)
            return MGOV_EINVAL;
        ch->new_len = ch->offset + ch->len > old_len ? ch->offset + ch->len : old_len;
        break;
    case CH_TRUNCATE:
        if (ch->new_len > old_len)
            return MGOV_EINVAL;
        break;
    case CH_RESIZE:
        if (ch->new_len > UINT64_MAX / 2)
            return MGOV_EINVAL;
        break;
    }
    return ch->new_len > SIZE_MAX - MGOV__SECTION_HEADER ? MGOV_EINVAL : MGOV_OK;
}

/* ------------------------------------------------------------------ RAM */

static int ram_grow(mgov_section_t *s, uint64_t need)
{
    size_t want = mgov__page_round(need);
    if (want <= s->ram_cap)
        return MGOV_OK;
    size_t dbl = s->ram_cap * 2 > want ? s->ram_cap * 2 : want;
    if (s->cfg.max_ram && dbl > mgov__page_round(s->cfg.max_ram))
        dbl = want > mgov__page_round(s->cfg.max_ram) ? want : mgov__page_round(s->cfg.max_ram);
    mgov_grant_t extra = MGOV_GRANT_INIT;
    /* doubling is a guess: only if it fits without asking anyone for memory */
    if (dbl > want && mgov__section_reserve(s, dbl - s->ram_cap, 0, MGOV_NO_RECLAIM, &extra) !=
                          MGOV_OK)
        dbl = want;
    if (!extra.gov) {
        int rc = mgov__section_reserve(s, dbl - s->ram_cap, s->cfg.timeout_ns, 0, &extra);
        if (rc != MGOV_OK)
            return rc;
    }
    void *p = s->ram;
    int err = p ? mgov__mremap(&p, s->ram_cap, dbl)
                : mgov__mmap_anon(dbl, 0, &p);
    if (err) {
        mgov_grant_release(&extra);
        return MGOV_ENOMEM;
    }
    if (s->grant.gov)
        mgov_grant_merge(&s->grant, &extra);
    else
        s->grant = extra;
    s->ram = p;
    s->ram_cap = dbl;
    mgov__sec_set_ram_bytes(s, s->grant.bytes);
    return MGOV_OK;
}

/* Gives memory back after a shrink, when a quarter or less is still used. */
static void ram_shrink(mgov_section_t *s, uint64_t len)
{
    size_t keep = mgov__page_round(len);
    if (keep > s->ram_cap / 4)
        return;
    if (keep == 0) {
        mgov__section_ram_free(s);
        return;
    }
    void *p = s->ram;
    if (mgov__mremap(&p, s->ram_cap, keep) != 0)
        return; /* keep the larger mapping: still correct */
    s->ram = p;
    s->ram_cap = keep;
    mgov_grant_resize(&s->grant, keep);
    mgov__sec_set_ram_bytes(s, s->grant.bytes);
}

static int ram_apply(mgov_section_t *s, const change_t *ch, uint64_t old_len)
{
    if (ch->new_len > old_len) {
        int rc = ram_grow(s, ch->new_len);
        if (rc != MGOV_OK)
            return rc;
        /* bytes a shrink left behind must read as zero */
        uint64_t zero_to = ch->len ? ch->offset : ch->new_len;
        if (zero_to > old_len)
            memset(s->ram + old_len, 0, (size_t)(zero_to - old_len));
    }
    if (ch->len)
        memcpy(s->ram + ch->offset, ch->data, ch->len);
    if (ch->new_len < old_len)
        ram_shrink(s, ch->new_len);
    pthread_mutex_lock(&s->mu);
    mgov__sec_set_length(s, ch->new_len);
    mgov__sec_set_tier(s, MGOV_TIER_IN_MEMORY);
    s->dirty = true;
    pthread_mutex_unlock(&s->mu);
    return MGOV_OK;
}

/* ------------------------------------------------------------------ disk */

/* The current bytes, wherever they are (mapping the file if needed). */
static int current_bytes(mgov_section_t *s, const uint8_t **out)
{
    *out = s->ram;
    if (mgov__sec_tier(s) != MGOV_TIER_ON_DISK || !mgov__sec_length(s))
        return MGOV_OK;
    if (!s->map) {
        int rc = mgov__section_map_busy(s);
        if (rc != MGOV_OK)
            return rc;
    }
    *out = (const uint8_t *)s->map + MGOV__SECTION_HEADER;
    return MGOV_OK;
}

static int disk_apply(mgov_section_t *s, const change_t *ch, uint64_t old_len)
{
    const uint8_t *src;
    int rc = current_bytes(s, &src);
    if (rc != MGOV_OK)
        return rc;
    mgov__secpart_t parts[3];
    unsigned n = 0;
    if (ch->len) { /* old[0, offset) + data + old[offset + len, old_len) */
        parts[n++] = (mgov__secpart_t){ src, ch->offset };
        parts[n++] = (mgov__secpart_t){ ch->data, ch->len };
        if (ch->offset + ch->len < old_len)
            parts[n++] = (mgov__secpart_t){ src + ch->offset + ch->len,
                                            old_len - ch->offset - ch->len };
    } else { /* a resize: old[0, min) + zeros */
        uint64_t keep = ch->new_len < old_len ? ch->new_len : old_len;
        parts[n++] = (mgov__secpart_t){ src, keep };
        if (ch->new_len > keep)
            parts[n++] = (mgov__secpart_t){ NULL, ch->new_len - keep };
    }
    uint64_t gen;
    uint32_t crc;
    rc = mgov__secfile_write(s->store, s->entry->name, parts, n, &gen, &crc);
    if (rc == MGOV_OK)
        rc = mgov__section_commit_file(s, gen, ch->new_len, crc);
    if (rc != MGOV_OK)
        return rc;
    /* busy: no view can be pinned; no lock of ours is held in the release */
    mgov__section_ram_free(s);
    mgov__section_unmap(s); /* the old generation's: mapped again when read */
    s->dirty = false;
    mgov__sec_set_length(s, ch->new_len);
    mgov__sec_set_tier(s, MGOV_TIER_ON_DISK);
    return MGOV_OK;
}

/* ------------------------------------------------------------------ entry */

/* An Auto section on disk comes back to RAM before a write that leaves it
 * within max_ram, when the bytes the write keeps fit in the budget without
 * asking anyone for memory (no reclaim, no wait): *reloaded says how many
 * came back.  Only the kept bytes are read: a shrink's reload is the
 * truncation itself (*old_len becomes the new length).  When they do not
 * fit (or the mapping fails) the write goes to disk instead; a damaged or
 * unreadable file is the write's error, as it would be on disk. */
static int reload_for_write(mgov_section_t *s, const change_t *ch, uint64_t *old_len,
                            uint64_t *reloaded)
{
    uint64_t keep = ch->new_len < *old_len ? ch->new_len : *old_len;
    int rc = mgov__section_reload_busy(s, 0, MGOV_NO_RECLAIM, keep);
    if (rc == MGOV_OK) {
        *reloaded = keep;
        *old_len = keep;
    } else if (rc == MGOV_EBUDGET || rc == MGOV_ELIMIT || rc == MGOV_ENOMEM || rc == MGOV_ENOTSUP) {
        rc = MGOV_OK; /* stays on disk */
    }
    return rc;
}

/* Applies a change that changes something (busy held). */
static int apply_change(mgov_section_t *s, const change_t *ch, uint64_t old_len,
                        uint64_t *reloaded)
{
    if (s->cfg.override == MGOV_SECTION_FORCE_RAM && s->cfg.max_ram && ch->new_len > s->cfg.max_ram)
        return MGOV_ELIMIT;
    bool disk_bound = mgov__section_disk_bound(s, ch->new_len);
    if (mgov__sec_tier(s) == MGOV_TIER_ON_DISK && !disk_bound) {
        int rc = reload_for_write(s, ch, &old_len, reloaded);
        if (rc != MGOV_OK)
            return rc;
    }
    if (disk_bound || mgov__sec_tier(s) == MGOV_TIER_ON_DISK)
        return disk_apply(s, ch, old_len);
    return ram_apply(s, ch, old_len);
}

static int apply(mgov_section_t *s, change_t *ch)
{
    if (!s || (ch->len && !ch->data))
        return MGOV_EINVAL;
    int rc = mgov__section_busy_begin(s, s->cfg.pin_wait_ns, true);
    if (rc != MGOV_OK)
        return rc;
    uint64_t reloaded = UINT64_MAX; /* bytes brought back to RAM, if any */
    uint64_t old_len = mgov__sec_length(s);
    rc = change_resolve(ch, old_len);
    if (rc == MGOV_OK && mgov__sec_tier(s) == MGOV_TIER_ON_DISK)
        rc = mgov__section_entry(s).status;
    if (rc == MGOV_OK && (ch->new_len != old_len || ch->len))
        rc = apply_change(s, ch, old_len, &reloaded);
    mgov__section_busy_end(s);
    if (reloaded != UINT64_MAX) /* a move, even when the write then failed */
        mgov__consumer_report(s->consumer, MGOV_EV_RELOADED, reloaded, 0, 0, MGOV_OK);
    if (rc == MGOV_OK)
        mgov_consumer_touch(s->consumer);
    return rc;
}

int mgov_section_append(mgov_section_t *s, const void *data, size_t len)
{
    change_t ch = { .kind = CH_APPEND, .data = data, .len = len };
    return apply(s, &ch);
}

int mgov_section_write(mgov_section_t *s, uint64_t offset, const void *data, size_t len)
{
    change_t ch = { .kind = CH_WRITE, .offset = offset, .data = data, .len = len };
    return apply(s, &ch);
}

int mgov_section_resize(mgov_section_t *s, uint64_t length)
{
    change_t ch = { .kind = CH_RESIZE, .new_len = length };
    return apply(s, &ch);
}

int mgov_section_truncate(mgov_section_t *s, uint64_t length)
{
    change_t ch = { .kind = CH_TRUNCATE, .new_len = length };
    return apply(s, &ch);
}
