/* memgov/section.h - tiered sections: named byte regions that live in RAM or
 * in a memory-mapped file, and survive restarts.
 *
 * A section is a named, growable run of bytes owned by memgov.  It is in one
 * tier at a time:
 *   MGOV_TIER_UNINITIALIZED  open, no data yet (length 0, nothing in RAM)
 *   MGOV_TIER_IN_MEMORY      in anonymous memory, charged to the governor by
 *                            a grant in the section's region (its capacity)
 *   MGOV_TIER_ON_DISK        in a file of the governor's spill directory,
 *                            mapped read-only when first read; uses no budget
 * Each open section is a consumer of the governor (named as the section, in
 * its region and priority), so pressure spills it, mgov_spill_all and
 * mgov_spill_consumer(gov, name) spill it, mgov_reload_eligible brings it
 * back, and mgov_consumer_foreach lists its tier.
 *
 * Reading is the same in either tier: pin a view (pointer, length), read,
 * unpin.  While any view is pinned the section neither moves between tiers
 * nor changes: a spill, reload or write meeting a pinned view waits for it
 * up to a deadline (MGOV_ETIMEDOUT), or with no wait is skipped at once
 * (MGOV_EBUSY).  Views may be pinned by many threads at once, also while
 * a spill writes the section's file (the spill then waits for them, as its
 * caller allows, before it releases the RAM; if they stay, the section
 * stays in RAM with a clean copy on disk).
 *
 * Writes (append, write at an offset, resize, truncate):
 *   - an AUTO section that is ON_DISK, and that the write leaves within
 *     max_ram, is first brought back to RAM (a reload, reported as one) if
 *     the bytes it keeps fit in the budget without reclaiming anyone or
 *     waiting.  Only those bytes are read: a truncate (or resize down) of a
 *     section that was over max_ram reads just the new length;
 *   - in RAM (UNINITIALIZED or IN_MEMORY, ForceDisk not set, and the new
 *     length within max_ram): applied in place; growing reserves more of the
 *     budget first (capacity doubles, so appends are amortized O(1)); a
 *     refusal leaves the section unchanged.
 *   - otherwise (still ON_DISK: ForceDisk, a new length over max_ram, or no
 *     room in the budget for the reload): the section is rewritten on disk
 *     as a new generation of its file (the old bytes with the change
 *     applied, synced, then swapped in through the manifest), and stays or
 *     becomes ON_DISK; its RAM, if any, is released.  This costs O(length)
 *     per call, so batch writes to such a section.
 *
 * Overrides (mgov_section_config_t.override):
 *   MGOV_SECTION_AUTO        the governor spills it under pressure.
 *   MGOV_SECTION_FORCE_DISK  kept on disk: a copy found at open stays there,
 *                            data written goes straight to disk, and reload
 *                            leaves it alone.
 *   MGOV_SECTION_FORCE_RAM   never spilled (its consumer is MGOV_FORCE_RAM):
 *                            a copy found at open is loaded at open; when the
 *                            budget is exhausted its growth fails instead.
 * A max_ram cap bounds a section's RAM: a section longer than it lives on
 * disk (reload leaves it there) until a write brings it within the cap.
 * An override other than AUTO is reported at open (MGOV_EV_OVERRIDE).
 *
 * Persistence.  A spill writes the whole section to a new file
 * "sec-<generation>-<name>" (a 4 KiB header with magic, version, name,
 * length, generation and crc32c of the data, then the data), fsyncs it, then
 * replaces the directory's manifest ("sec-manifest": write a new file,
 * fsync, rename, fsync the directory), and only then removes the previous
 * file and releases the RAM.  A failure anywhere leaves the section in RAM,
 * intact, and removes what the attempt wrote.  So after a crash, each
 * section is found in its last spilled state, whole, or not at all.
 *
 * With a persistent spill directory (mgov_config_t.spill_dir) a later
 * governor opening the same directory finds the spilled sections: their
 * headers are checked against the manifest when the first section is opened
 * and their data (crc32c) when first read or reloaded.  A section failing
 * its check is unavailable (MGOV_ECORRUPT from open, pin or reload); one
 * whose file cannot be read at all (EACCES, an I/O error) is unavailable as
 * MGOV_EIO, until a later governor can read it; the others open normally;
 * mgov_section_remove drops either.  Files the manifest does not account
 * for (left by a crash, or a lost manifest's) are moved into the
 * quarantine, never deleted (see below).  A restart finds what was
 * spilled, as of its last spill: writes made in RAM after it are not
 * persisted until the section is spilled again.  In a private spill
 * directory (no spill_dir configured) section files go with the governor.
 *
 * Names: 1..MGOV_NAME_MAX bytes of printable ASCII, no '/', no "..", not
 * starting with '.'; unique among the governor's consumers.
 *
 * Thread safety: every function may be called from any thread; different
 * threads may pin, unpin and write the same section at once (writes are
 * serialized; a view sees either all of a write or none of it, since a
 * write waits for pinned views).  Close a section only when no other thread
 * uses it.
 */
#ifndef MEMGOV_SECTION_H
#define MEMGOV_SECTION_H

#include <stddef.h>
#include <stdint.h>

#include "memgov/common.h"
#include "memgov/governor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgov_section mgov_section_t;

typedef enum mgov_section_override {
    MGOV_SECTION_AUTO = 0,
    MGOV_SECTION_FORCE_DISK = 1,
    MGOV_SECTION_FORCE_RAM = 2,
} mgov_section_override_t;

typedef struct mgov_section_config {
    const char *region;            /* charged region's name; NULL = "graph_storage"
                                      (the first region when there is none so named) */
    unsigned priority;             /* consumer priority; 0 = MGOV_PRIORITY_GRAPH_STORAGE */
    mgov_section_override_t override; /* MGOV_SECTION_AUTO by default */
    uint64_t max_ram;              /* bytes; 0 = no cap */
    int64_t pin_wait_ns;           /* how long a spill or reload asked by the governor,
                                      and a write, wait for pinned views:
                                      0 = not at all (MGOV_EBUSY), < 0 = forever.
                                      (A write waits for another write or move
                                      to end; the governor skips a section
                                      that is being written or moved.) */
    int64_t timeout_ns;            /* how long growth waits for budget; 0 = fail fast */
} mgov_section_config_t;
#define MGOV_SECTION_CONFIG_INIT { 0 }

typedef struct mgov_section_view {
    const void *data; /* NULL when len is 0 */
    size_t len;
} mgov_section_view_t;

/* Opens the section `name` of gov, registering it as a consumer.  A copy
 * spilled earlier in the governor's spill directory (this run, or a
 * previous one with the same persistent directory) is found: the section
 * opens ON_DISK (ForceRam: loaded into RAM now); otherwise it opens
 * UNINITIALIZED.  The first open of a governor opens its spill directory
 * and reads the manifest.  cfg may be NULL (defaults).
 * Errors: MGOV_EINVAL (NULL gov/out, bad name, override, pin or timeout
 * values), MGOV_ENOTFOUND (no region of that name), MGOV_EEXIST (name taken
 * by an open section or another consumer), MGOV_ECORRUPT (its copy on
 * disk failed its check), MGOV_EBUSY (the spill directory is another
 * process's, or a section of that name is being restored from the
 * quarantine or removed by another thread right now), MGOV_EIO,
 * MGOV_ENOMEM, and
 * for ForceRam the budget's refusals.  The first use of a governor's
 * sections may also fail with the status of a move into the quarantine
 * (see below). */
MGOV_API int mgov_section_open(mgov_t *gov, const char *name, const mgov_section_config_t *cfg,
                               mgov_section_t **out);

/* Closes the section: unregisters its consumer and releases its RAM.  Its
 * copy on disk, if any, stays (it is found by the next open); RAM contents
 * written since the last spill are dropped.  MGOV_EBUSY (nothing done, the
 * section stays open) while a view is pinned; NULL: MGOV_OK. */
MGOV_API int mgov_section_close(mgov_section_t *s);

/* Removes the copy on disk of the section `name`, which must not be open
 * (MGOV_EBUSY), including an unavailable one.  MGOV_ENOTFOUND when it has
 * none.  MGOV_EINVAL, MGOV_EIO (the manifest could not be replaced; the
 * copy stays). */
MGOV_API int mgov_section_remove(mgov_t *gov, const char *name);

/* ------------------------------------------------------------------ writes */
/* Every write returns MGOV_OK or: MGOV_EINVAL (NULL, offset past the end,
 * length overflow), MGOV_EBUSY / MGOV_ETIMEDOUT (a view stays pinned, see
 * pin_wait_ns), MGOV_EBUDGET / MGOV_ELIMIT / MGOV_ETIMEDOUT (growth in RAM
 * refused), MGOV_ENOSPC (disk quota, ENOSPC, EDQUOT), MGOV_EIO,
 * MGOV_ENOMEM, MGOV_ECORRUPT (the section is unavailable, or its data was
 * found damaged by the reload before the write), MGOV_EOVERFLOW (a write to
 * disk needs a new file generation and they are used up: reachable only
 * through a crafted manifest).  A failed write leaves the section's bytes
 * as they were (its reload, if it had one, stands). */

/* Appends len bytes (data may be NULL when len is 0). */
MGOV_API int mgov_section_append(mgov_section_t *s, const void *data, size_t len);
/* Writes len bytes at offset <= length, growing the section if they reach
 * past its end. */
MGOV_API int mgov_section_write(mgov_section_t *s, uint64_t offset, const void *data, size_t len);
/* Sets the length: growing fills with zero bytes, shrinking drops the tail. */
MGOV_API int mgov_section_resize(mgov_section_t *s, uint64_t length);
/* Shrinks to length (MGOV_EINVAL if it is larger than the section). */
MGOV_API int mgov_section_truncate(mgov_section_t *s, uint64_t length);

/* ------------------------------------------------------------------- reads */

/* Pins a view of the whole section.  An ON_DISK section is mapped (and,
 * the first time after a restart, its checksum verified) here.  Waits while
 * the section is moving or being written.  Errors: MGOV_EINVAL,
 * MGOV_ECORRUPT, MGOV_EIO, MGOV_ENOMEM. */
MGOV_API int mgov_section_pin(mgov_section_t *s, mgov_section_view_t *out);
/* Releases a view from mgov_section_pin; the view must not be used after.
 * NULL arguments are ignored. */
MGOV_API void mgov_section_unpin(mgov_section_t *s, mgov_section_view_t *view);

/* -------------------------------------------------------------------- moves */

/* Spills the section to disk now (an explicit spill: ForceRam sections are
 * refused with MGOV_EBUSY).  Waits up to timeout_ns for pinned views
 * (0: MGOV_EBUSY at once, < 0: forever; MGOV_ETIMEDOUT).  Already on disk
 * or never written (UNINITIALIZED): MGOV_OK, nothing done; a section
 * written and then truncated to 0 is spilled as an empty file.  Errors as
 * writes; on error the section stays in RAM, intact.  Reported as MGOV_EV_SPILLED / MGOV_EV_SPILL_FAILED. */
MGOV_API int mgov_section_spill(mgov_section_t *s, int64_t timeout_ns);

/* Brings an ON_DISK section back into RAM (its file stays as the spilled
 * copy until the next spill replaces it).  timeout_ns bounds the wait for
 * pinned views and for the budget.  Not on disk: MGOV_OK.  ForceDisk, or
 * longer than max_ram: MGOV_ENOTSUP.  Errors: MGOV_EBUSY, MGOV_ETIMEDOUT,
 * the budget's refusals, MGOV_ECORRUPT (the file failed its check: the
 * section becomes unavailable), MGOV_EIO, MGOV_ENOMEM.  Reported as
 * MGOV_EV_RELOADED / MGOV_EV_RELOAD_FAILED. */
MGOV_API int mgov_section_reload(mgov_section_t *s, int64_t timeout_ns);

/* ------------------------------------------------------------ observability */

/* The section's name (the library's copy), valid until the section is
 * closed; NULL for NULL. */
MGOV_API const char *mgov_section_name(const mgov_section_t *s);
MGOV_API mgov_tier_t mgov_section_tier(const mgov_section_t *s);
MGOV_API uint64_t mgov_section_length(const mgov_section_t *s);

typedef struct mgov_section_info {
    const char *name;              /* valid during the callback only */
    mgov_tier_t tier;              /* ON_DISK for a copy found on disk but not open */
    mgov_section_override_t override;
    int open;                      /* 1 when open in this governor */
    int status;                    /* MGOV_OK; when unavailable MGOV_ECORRUPT (its
                                      file failed its check) or MGOV_EIO (its file
                                      could not be read, e.g. EACCES: not known
                                      to be damaged) */
    uint64_t length;               /* bytes of data */
    uint64_t ram_bytes;            /* charged to the budget now */
    uint64_t disk_bytes;           /* its file, header included; 0 when none */
    uint64_t generation;           /* of its file; 0 when none */
} mgov_section_info_t;

/* Calls fn for every section the governor knows: those open, and copies on
 * disk not opened yet, in name order.  It first waits for superseded files
 * (previous generations, removed in the background after a spill) to be
 * gone, so the directory then holds exactly the files listed.  Observability only: it moves
 * nothing.  fn runs with no lock held and must not open or close sections.
 * Errors: MGOV_EINVAL, and those of reading the manifest on first use. */
MGOV_API int mgov_section_foreach(mgov_t *gov,
                                  void (*fn)(void *arg, const mgov_section_info_t *info),
                                  void *arg);

/* "auto", "force_disk", "force_ram"; "unknown" otherwise.  Static strings. */
MGOV_API const char *mgov_section_override_name(mgov_section_override_t o);

/* --------------------------------------------------------------- quarantine */
/* Opening a persistent spill directory never deletes a section file it
 * cannot account for: files the manifest does not name (all of them when
 * it is missing), generations above the current one, and other
 * generations of a section whose own file is damaged, missing or
 * unreadable are moved aside into the directory's subdirectory
 * "sec-quarantine" (by rename, never copied), each reported as
 * MGOV_EV_QUARANTINED (name: its name in the quarantine, bytes: its size)
 * and counted in mgov_stats' sections_quarantined.  A name taken there
 * gets a suffix (".1", ".2", ...): nothing is ever replaced.  The one
 * exception is the tier's own unfinished cleanup: an older generation of a
 * section whose newer file the manifest names and whose header checks is
 * removed, as it would have been had the process not crashed.  A
 * sec-manifest.tmp that is not a regular file (it would fail every commit)
 * is moved to the quarantine too.  If a move fails, the file stays where
 * it was and the call that opened the store (the first mgov_section_open,
 * _remove, _foreach or a quarantine call) fails with the move's status.
 * The calls below list, restore and discard what is there.  The events of
 * opening are raised once the store is open, with no lock held; one
 * raised when a write moves a squatting sec-manifest.tmp aside runs with
 * the store's manifest lock held: the event callback must not call section
 * functions (nor may it anyway: a section's own growth may be running).
 *
 * They work on the governor's persistent spill directory
 * (mgov_config_t.spill_dir) only: with a private one (whose files go with
 * the governor) they return MGOV_ENOTSUP.  `file` is a plain name inside
 * the quarantine (no '/', not "." or "..": else MGOV_EINVAL), as listed.
 * Thread safety: any thread, also while sections are used. */

typedef struct mgov_section_quarantined {
    const char *file;     /* its name in the quarantine: what restore and
                             discard take; valid during the callback only */
    const char *name;     /* the section named in its header; NULL when the
                             header does not check; valid during the callback */
    uint64_t length;      /* data bytes its header says; 0 when it does not check */
    uint64_t generation;  /* its header's; 0 when it does not check */
    uint64_t disk_bytes;  /* its size on disk */
    int status;           /* MGOV_OK: header and data check (restore takes it);
                             MGOV_ECORRUPT: damaged (a header that does not check,
                             a size that does not match it, or data that fails its
                             crc32c); MGOV_EIO: it could not be read */
} mgov_section_quarantined_t;

/* Calls fn for every regular file in the quarantine, in name order, after
 * checking its header and reading its data against its crc32c (so the
 * call costs a read of everything there).  Anything that is not a regular
 * file is not reported; nothing is opened in a way that could block (a
 * FIFO, a symlink).  fn runs with no lock held.  No quarantine: MGOV_OK
 * and no call.  Errors: MGOV_EINVAL, MGOV_ENOTSUP, MGOV_ENOMEM, MGOV_EIO
 * (the quarantine cannot be read: errno kept, ENOTDIR when something else
 * holds its name), and those of opening the store. */
MGOV_API int mgov_section_quarantine_foreach(mgov_t *gov,
                                             void (*fn)(void *arg,
                                                        const mgov_section_quarantined_t *q),
                                             void *arg);

/* Restores the quarantined `file` as an ordinary section: its header and
 * data are checked, it gets a new generation (its header rewritten with it,
 * and with as_name when given: NULL keeps the name in its header), is
 * synced, renamed back into the directory as that generation's file and
 * committed through the manifest.  Then mgov_section_foreach lists it
 * ON_DISK (override AUTO) and mgov_section_open reads it; its bytes are
 * charged to the disk quota like a file found at open.  Errors, after
 * which it is still in the quarantine: MGOV_EINVAL (a bad file name or
 * as_name), MGOV_ENOTSUP, MGOV_ENOTFOUND (no regular file of that name
 * there), MGOV_EEXIST (a section of that name exists, open or on disk:
 * nothing changed; restore it under another name, or remove that one
 * first), MGOV_ECORRUPT (damaged: nothing changed), MGOV_EIO /
 * MGOV_ENOSPC (errno kept; its header may then carry the new generation,
 * still valid), MGOV_EOVERFLOW (generations used up), MGOV_ENOMEM.  (After
 * a failed commit it is moved back; should that move fail too, it is left
 * in the directory as a file no manifest names, which the next opening of
 * the directory moves into the quarantine again: never lost.) */
MGOV_API int mgov_section_quarantine_restore(mgov_t *gov, const char *file,
                                             const char *as_name);

/* Deletes the quarantined `file` for good: the only way data in the
 * quarantine goes.  Errors: MGOV_EINVAL, MGOV_ENOTSUP, MGOV_ENOTFOUND (no
 * regular file of that name there), MGOV_EIO. */
MGOV_API int mgov_section_quarantine_discard(mgov_t *gov, const char *file);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_SECTION_H */
