/* tier/tier_internal.h - internal: what the section sources share.  Not
 * installed.
 *
 * The store (one per governor, in its tier-state slot) knows every section
 * by name: an entry per open section and per copy on disk.  An entry's disk
 * fields (gen, length, crc, status, verified) describe the file the
 * manifest names; gen 0 means no file.
 *
 * A section is a state machine over its tier:
 *   UNINITIALIZED --write--> IN_MEMORY --spill--> ON_DISK --reload--> IN_MEMORY
 *   any --write (ForceDisk, over max_ram, or ON_DISK)--> ON_DISK (new generation)
 * Data lives in `ram` (IN_MEMORY, and UNINITIALIZED after a truncate to 0
 * keeps nothing) or in the entry's file (ON_DISK, mapped at `map` once read).
 * In RAM, `dirty` says whether the bytes differ from the file the entry
 * names (a clean reloaded section spills by dropping its RAM).
 *
 * Locking (outermost first; none is held across a governor call, except
 * manifest_mu, which is held across the manifest's I/O only):
 *   s->mu          a section's state; `busy` marks the one operation that
 *                  moves or changes it (it drops mu for I/O and governor
 *                  calls; others wait on s->cond while busy or pinned)
 *   store->manifest_mu  serializes replacing the manifest
 *   store->mu      the entries array and every entry's fields (a leaf)
 */
#ifndef MGOV_TIER_INTERNAL_H
#define MGOV_TIER_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/section.h"
#include "memgov/spill.h"
#include "spill/spill_kept.h"
#include "sys/debug.h"
#include "sys/sys.h"

/* The governor's layer-state slot of the section store (governor/hooks.h):
 * above the spill directory's, which the store uses. */
#define MGOV__TIER_SLOT 1

#define MGOV__SECTION_HEADER 4096u /* data starts here: page aligned in the mapping */

/* The names of the tier's files in a spill directory, all under the prefix
 * the spill layer reserves for files kept by the layers above (so the sweep
 * of a dead process's private directory removes them too):
 *   sec-<16 hex digits>-<name>      a section's file (one generation)
 *   sec-manifest[.tmp]              the manifest, and its next version
 *   sec-quarantine/                 files the manifest does not account
 *                                   for, kept aside (section_quarantine.c)
 * ('m' and 'q' are not hex digits: neither parses as a section file). */
#define MGOV__SECTION_FILE_PREFIX MGOV__SPILL_KEPT_PREFIX
#define MGOV__SECTION_MANIFEST MGOV__SPILL_KEPT_PREFIX "manifest"
#define MGOV__SECTION_MANIFEST_TMP MGOV__SPILL_KEPT_PREFIX "manifest.tmp"
#define MGOV__SECTION_QUARANTINE MGOV__SPILL_KEPT_PREFIX "quarantine"

typedef struct mgov__tier_entry {
    char name[MGOV_NAME_MAX + 1];
    uint64_t gen;         /* of the file the manifest names; 0 = none */
    uint64_t length;      /* of that file's data */
    uint32_t crc;         /* crc32c of that data */
    uint8_t override;     /* the section's override when it was written */
    int status;           /* MGOV_OK, or MGOV_ECORRUPT: unavailable */
    bool verified;        /* the data's crc was checked (or we wrote it) */
    bool moving;          /* its file is being restored from the quarantine
                             or removed: not listed, opened nor removed
                             until that commit ends */
    mgov_section_t *open; /* the open section, or NULL */
} mgov__tier_entry_t;

typedef struct mgov__reap_item mgov__reap_item_t;

/* Moves into the quarantine made while the store is being made, reported
 * once the governor's layer lock is released (section_quarantine.c). */
typedef struct mgov__qnote {
    char name[NAME_MAX + 1];
    uint64_t bytes;
    int status;
} mgov__qnote_t;
typedef struct mgov__qnotes {
    mgov__qnote_t *v;
    size_t n, cap;
} mgov__qnotes_t;

typedef struct mgov__tier_store {
    mgov_t *gov;
    mgov_spill_dir_t *dir;
    int dirfd;
    pthread_mutex_t manifest_mu;
    pthread_mutex_t mu;
    mgov__tier_entry_t **entries; /* sorted by name */
    size_t n, cap;
    uint64_t next_gen;            /* the next file's generation (> every entry's) */
    mgov__qnotes_t *qnotes;       /* while the store is made: where moves are noted */

    /* the reaper (section_reaper.c), under reap_mu */
    pthread_mutex_t reap_mu;
    pthread_cond_t reap_cond, reap_idle;
    mgov__reap_item_t *reap_head;
    bool reap_busy, reap_stop, reaper_started;
    pthread_t reaper;
} mgov__tier_store_t;

struct mgov_section {
    mgov__tier_store_t *store;
    mgov__tier_entry_t *entry; /* lives while the section is open */
    mgov_consumer_t *consumer;
    mgov_section_config_t cfg; /* its region resolved into `region` */
    int region;

    pthread_mutex_t mu;
    pthread_cond_t cond;  /* busy or pins went down */
    bool busy;
    bool readable;        /* busy, but views may be pinned meanwhile (a spill writing) */
    pthread_t busy_owner;
    unsigned pins;
    _Atomic int tier;     /* mgov_tier_t; read without mu by the tier op */
    _Atomic uint64_t length;
    _Atomic uint64_t ram_bytes; /* == grant.bytes, published for usage() and listing */

    /* IN_MEMORY (owned by the busy holder, or under mu) */
    uint8_t *ram;         /* anonymous mapping of ram_cap bytes, or NULL */
    size_t ram_cap;
    mgov_grant_t grant;   /* ram_cap bytes */
    bool dirty;           /* RAM differs from the entry's file */

    /* ON_DISK */
    void *map;            /* the file mapped read-only, or NULL until read */
    size_t map_len;
};

/* tier, length and ram_bytes are published for readers without s->mu (the
 * governor's usage and tier ops, listings, mgov_section_tier and _length).
 * Each is a value on its own that guards no other field (ram and map are
 * read under s->mu or the busy mark), so they are read and written
 * relaxed; their writers hold the busy mark (or are opening the section). */
static inline mgov_tier_t mgov__sec_tier(const mgov_section_t *s)
{
    return (mgov_tier_t)atomic_load_explicit(&((mgov_section_t *)s)->tier, memory_order_relaxed);
}
static inline uint64_t mgov__sec_length(const mgov_section_t *s)
{
    return atomic_load_explicit(&((mgov_section_t *)s)->length, memory_order_relaxed);
}
static inline uint64_t mgov__sec_ram_bytes(const mgov_section_t *s)
{
    return atomic_load_explicit(&((mgov_section_t *)s)->ram_bytes, memory_order_relaxed);
}
static inline void mgov__sec_set_tier(mgov_section_t *s, mgov_tier_t tier)
{
    atomic_store_explicit(&s->tier, (int)tier, memory_order_relaxed);
}
static inline void mgov__sec_set_length(mgov_section_t *s, uint64_t length)
{
    atomic_store_explicit(&s->length, length, memory_order_relaxed);
}
static inline void mgov__sec_set_ram_bytes(mgov_section_t *s, uint64_t bytes)
{
    atomic_store_explicit(&s->ram_bytes, bytes, memory_order_relaxed);
}

/* ---------------------------------------------------------------- store */

/* The governor's store, made (spill directory opened, manifest read) on
 * first use.  Errors: those of mgov_spill_dir_get and the manifest. */
int mgov__tier_store(mgov_t *gov, mgov__tier_store_t **out);
/* The entry named `name`, or NULL; under store->mu. */
mgov__tier_entry_t *mgov__tier_find(mgov__tier_store_t *st, const char *name);
/* Inserts a new entry (name order); under store->mu.  MGOV_ENOMEM. */
int mgov__tier_insert(mgov__tier_store_t *st, const char *name, mgov__tier_entry_t **out);
/* Removes and frees the entry; under store->mu. */
void mgov__tier_erase(mgov__tier_store_t *st, mgov__tier_entry_t *e);
/* MGOV_OK for a valid section name, else MGOV_EINVAL. */
int mgov__section_name_check(const char *name);
/* Generations are 1 .. MGOV__GEN_END - 1; next_gen stays above every one
 * handed out, and MGOV__GEN_END there means they are used up (reached only
 * through a crafted manifest: one a second would take 580 billion years). */
#define MGOV__GEN_END UINT64_MAX
/* A new file generation in *gen; MGOV_EOVERFLOW once they are used up. */
int mgov__tier_next_gen(mgov__tier_store_t *st, uint64_t *gen);
/* How many generations a new file tries when the names of the first ones
 * are taken (by something that is not our file: a directory or symlink
 * squatting there); each try uses up a generation. */
#define MGOV__GEN_TRIES 16

/* -------------------------------------------------------------- manifest */

/* Reads the manifest into st's entries, checks each named file's header
 * (a failing one: status MGOV_ECORRUPT, or MGOV_EIO when unreadable),
 * puts the files the manifest does not account for into the quarantine
 * (mgov__quarantine_sweep), and charges the healthy files to the quota.
 * No manifest: no entries.  Errors: MGOV_ECORRUPT (the manifest itself),
 * MGOV_EIO, MGOV_ENOSPC (a move into the quarantine failed: the file
 * stays where it was), MGOV_ENOMEM; nothing is charged then. */
int mgov__manifest_load(mgov__tier_store_t *st);
/* Writes the entries with a file as the new manifest, atomically (new
 * file, fsync, rename, fsync of the directory).  The caller holds
 * manifest_mu, and not st->mu.  MGOV_EIO, MGOV_ENOSPC, MGOV_ENOMEM: the old
 * manifest stays. */
int mgov__manifest_commit(mgov__tier_store_t *st);

/* ------------------------------------------------------------- quarantine */

/* At load (no other thread has the store yet; entries read and checked):
 * removes the regular sec-manifest.tmp of a failed commit and the files of
 * superseded generations (a newer one of the same section checks), and
 * moves every other regular section file that is not current, and a
 * sec-manifest.tmp that is not a regular file, into the quarantine.
 * MGOV_OK, or the first move's error (that file and the rest stay). */
int mgov__quarantine_sweep(mgov__tier_store_t *st);
/* Frees the name sec-manifest.tmp before a commit (manifest_mu held): a
 * regular file there is a failed commit's, removed; anything else
 * squatting it is moved into the quarantine.  Errors of the move. */
int mgov__quarantine_clear_tmp(mgov__tier_store_t *st);
/* Reports the moves noted while the store was made (events and stats),
 * and frees the notes.  Called with no lock held. */
void mgov__quarantine_flush(mgov_t *gov, mgov__qnotes_t *notes);
/* A private directory's store going away: its quarantine's regular files,
 * then the quarantine itself (it fails harmlessly if anything else is in
 * it). */
void mgov__quarantine_drop(mgov__tier_store_t *st);

/* ------------------------------------------------------------------ files */

/* A piece of a section file's data: `len` bytes at `data`, or zeros when
 * data is NULL. */
typedef struct mgov__secpart {
    const uint8_t *data;
    uint64_t len;
} mgov__secpart_t;

/* Writes a complete section file for `name` from the parts, synced,
 * charged to the quota, as a new generation (*gen: one from the store's
 * counter whose name is free, up to MGOV__GEN_TRIES tries); *crc gets the
 * data's checksum.  On error nothing is left (no file, no charge).
 * MGOV_ENOSPC, MGOV_EIO (errno kept; EEXIST when every name tried was
 * taken), MGOV_EOVERFLOW (generations used up). */
int mgov__secfile_write(mgov__tier_store_t *st, const char *name, const mgov__secpart_t *parts,
                        unsigned n_parts, uint64_t *gen, uint32_t *crc);
/* Unlinks the file (name, gen) of `length` data bytes; with `charged` (it
 * was counted in the quota: written by us, or found healthy at open) gives
 * its quota back. */
void mgov__secfile_remove(mgov__tier_store_t *st, const char *name, uint64_t gen,
                          uint64_t length, bool charged);
/* Checks the header of (name, gen): magic, version, its crc, name, gen,
 * length and the file's size.  MGOV_ECORRUPT (also for a missing file), MGOV_EIO. */
int mgov__secfile_check(mgov__tier_store_t *st, const char *name, uint64_t gen, uint64_t length);
/* Maps the data of (name, gen) read-only: *map covers the header and the
 * data (map_len bytes).  With verify, the data's crc32c must be `crc`
 * (MGOV_ECORRUPT, nothing mapped).  MGOV_EIO, MGOV_ENOMEM. */
int mgov__secfile_map(mgov__tier_store_t *st, const mgov__tier_entry_t *e, bool verify,
                      void **map, size_t *map_len);
/* Reads the first `len` bytes (<= e->length) of the entry's file data into
 * dst.  The whole data (len == e->length) is checked against its crc32c; a
 * prefix cannot be, so read one only from a file whose data was verified.
 * MGOV_ECORRUPT, MGOV_EIO, MGOV_EINVAL (len over the length). */
int mgov__secfile_read(mgov__tier_store_t *st, const mgov__tier_entry_t *e, uint8_t *dst,
                       uint64_t len);
/* Formats "sec-<gen as 16 hex>-<name>" into buf (at least MGOV__SECFILE_NAME_MAX). */
#define MGOV__SECFILE_NAME_MAX (4 + 16 + 1 + MGOV_NAME_MAX + 1)
void mgov__secfile_name(char *buf, const char *name, uint64_t gen);
/* Parses a file name of that form: true with *gen and the name in `name`. */
bool mgov__secfile_parse(const char *file, uint64_t *gen, char name[MGOV_NAME_MAX + 1]);

/* What a section file's header says, read on its own (a file no entry
 * knows: one in the quarantine).  valid: the header checked (magic,
 * version, its crc, a valid name, a generation); the fields are its. */
typedef struct mgov__sechdr {
    bool valid;
    char name[MGOV_NAME_MAX + 1];
    uint64_t gen, length;
    uint32_t crc;
} mgov__sechdr_t;
/* Inspects `file` in dirfd: a regular file (opened O_NONBLOCK|O_NOFOLLOW,
 * fstat'ed before a byte is read), its header valid and its size the
 * header's length plus the header, and with `data` its data's crc32c
 * (read, not mapped).  *hdr and *size (bytes on disk) are filled as far as
 * known.  With fd_out the file is opened read-write and kept open on
 * MGOV_OK.  MGOV_OK, MGOV_ECORRUPT (damaged), MGOV_ENOTFOUND (no regular
 * file of that name), MGOV_EIO (unreadable; errno kept), MGOV_ENOMEM. */
int mgov__secfile_inspect(int dirfd, const char *file, bool data, mgov__sechdr_t *hdr,
                          uint64_t *size, int *fd_out);
/* Rewrites the header of the open section file fd for (name, gen),
 * keeping its length and data crc, and fsyncs the file.  MGOV_EIO,
 * MGOV_ENOSPC (errno kept). */
int mgov__secfile_rehead(int fd, const char *name, uint64_t gen, uint64_t length, uint32_t crc);

/* ----------------------------------------------------------------- reaper */

/* Drops a superseded file in the background (section_reaper.c). */
void mgov__tier_reap(mgov__tier_store_t *st, const char *name, uint64_t gen, uint64_t length,
                     bool charged);
/* Waits until every file handed to the reaper is gone. */
void mgov__tier_reap_drain(mgov__tier_store_t *st);
/* Drains and ends the reaper (at store free). */
void mgov__tier_reap_stop(mgov__tier_store_t *st);

/* --------------------------------------------------------------- section */

/* The busy mark.  Names say what the caller holds: *_locked, s->mu (as
 * everywhere in memgov); *_busy, the section's busy mark and NOT s->mu
 * (they drop nothing: they take s->mu themselves for a moment when they
 * publish a change).  Debug builds check both (sys/debug.h). */

/* Waits (s->mu held) until the section is neither busy nor pinned, then
 * marks it busy for the calling thread.  Another thread's busy mark is
 * waited for until it ends (it is bounded: I/O, or that operation's own
 * budget timeout), or, without wait_busy (the governor's calls), is
 * MGOV_EBUSY at once.  Pinned views are waited for up to wait_ns (0: not
 * at all, MGOV_EBUSY; < 0: forever; else MGOV_ETIMEDOUT).  Busy in this
 * very thread: MGOV_EBUSY. */
int mgov__section_busy_begin_locked(mgov_section_t *s, int64_t wait_ns, bool wait_busy);
/* Ends the busy mark (s->mu held) and wakes waiters. */
void mgov__section_busy_end_locked(mgov_section_t *s);
/* The same two for a caller that does not hold s->mu: they take it. */
int mgov__section_busy_begin(mgov_section_t *s, int64_t wait_ns, bool wait_busy);
void mgov__section_busy_end(mgov_section_t *s);

/* Debug builds: the calling thread holds s's busy mark.  Read without
 * s->mu: while this thread holds the mark no other thread writes busy or
 * busy_owner, so only a broken precondition can race here. */
#define mgov__section_assert_busy(s)                                                               \
    MGOV__ASSERT((s)->busy && pthread_equal((s)->busy_owner, pthread_self()))

/* Waits (s->mu held) until no view is pinned: wait_ns as in
 * mgov__section_busy_begin_locked.  MGOV_OK, MGOV_EBUSY, MGOV_ETIMEDOUT. */
int mgov__section_wait_unpinned_locked(mgov_section_t *s, int64_t wait_ns);

/* Moves (busy, s->mu not held).  A spill lets views be pinned while it
 * writes, then waits up to pin_wait_ns for them before it releases the
 * RAM. */
int mgov__section_spill_busy(mgov_section_t *s, int64_t pin_wait_ns, uint64_t *freed);
/* A reload reserves with these grant flags (MGOV_NO_RECLAIM: without
 * asking anyone for memory) and timeout_ns as mgov__section_reserve.  It
 * brings back the first `keep` bytes (UINT64_MAX: all of them); keeping
 * fewer than the length is a truncation to `keep`, done by the reload: the
 * section's length becomes keep and its RAM differs from its file.  A file
 * not yet verified is verified whole first (mapped), so no unchecked byte
 * comes back.  MGOV_ENOTSUP when the bytes kept are over max_ram or the
 * section is ForceDisk. */
int mgov__section_reload_busy(mgov_section_t *s, int64_t timeout_ns, unsigned flags,
                              uint64_t keep);
/* Reserves `bytes` in the section's region (revocable when AUTO, plus
 * `flags`): fail fast when timeout_ns is 0, else waiting up to it. */
int mgov__section_reserve(mgov_section_t *s, uint64_t bytes, int64_t timeout_ns, unsigned flags,
                          mgov_grant_t *out);
/* A copy of the section's entry, taken under store->mu. */
mgov__tier_entry_t mgov__section_entry(mgov_section_t *s);
/* Records what reading the entry's file found: MGOV_OK marks its data
 * verified, MGOV_ECORRUPT makes the section unavailable; other errors
 * (I/O, memory) change nothing. */
void mgov__section_entry_checked(mgov_section_t *s, int rc);
/* Maps the entry's file (ON_DISK; busy, s->mu not held), checking the
 * data's crc32c the first time: sets map and map_len.  An unavailable
 * section is its status; MGOV_ECORRUPT, MGOV_EIO, MGOV_ENOMEM. */
int mgov__section_map_busy(mgov_section_t *s);
/* Releases RAM and its grant. */
void mgov__section_ram_free(mgov_section_t *s);
/* Unmaps the file mapping, if any. */
void mgov__section_unmap(mgov_section_t *s);
/* True when the section must stay on disk: ForceDisk, or length over max_ram. */
bool mgov__section_disk_bound(const mgov_section_t *s, uint64_t length);
/* Commits the entry's new file: sets (gen, length, crc), replaces the
 * manifest, and removes the previous file.  On error the entry is as before
 * and the new file is removed.  Not under any lock. */
int mgov__section_commit_file(mgov_section_t *s, uint64_t gen, uint64_t length, uint32_t crc);

#endif /* MGOV_TIER_INTERNAL_H */
