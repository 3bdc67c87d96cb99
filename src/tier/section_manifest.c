/* tier/section_manifest.c - the list of sections with a copy on disk.
 *
 * "sec-manifest" (integers little-endian; docs/section.md):
 *   0   magic "MGOVMANI"
 *   8   u32 version (1)
 *   12  u32 count
 *   16  u64 next generation
 *   24  count entries: u64 gen, u64 length, u32 crc32c of the data,
 *       u8 override, u8 name length (1..63), name bytes
 *   end u32 crc32c of everything before
 * It is replaced, never edited: the new version is written to
 * sec-manifest.tmp, synced, renamed over the old one and the directory
 * synced, so a reader finds the old or the new version, whole.  A
 * sec-manifest.tmp found first is a failed commit's (removed), or when it
 * is not a regular file a squatter, moved into the quarantine: it cannot
 * wedge every later commit.
 *
 * Loading reads it, checks the header of every file it names, and only
 * then sweeps the files it does not account for: into the quarantine,
 * never deleted, except superseded generations (section_quarantine.c).
 *
 * Locking: commit runs under the store's manifest_mu (held across its I/O)
 * and takes store->mu only to copy the entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/crc32c.h"
#include "sys/fault.h"
#include "sys/fileio.h"
#include "sys/le.h"
#include "tier/tier_internal.h"

#define MAGIC "MGOVMANI"
#define VERSION 1u
#define FIXED 24u
#define ENTRY_FIXED 22u
#define MAX_BYTES ((size_t)64 << 20)

/* ------------------------------------------------------------------ write */

/* Serializes the entries that have a file; *out is malloc'ed. */
static int encode(mgov__tier_store_t *st, uint8_t **out, size_t *len)
{
    pthread_mutex_lock(&st->mu);
    size_t cap = FIXED + 4;
    for (unsigned i = 0; i < st->n; i++)
        cap += ENTRY_FIXED + strlen(st->entries[i]->name);
    uint8_t *b = mgov__malloc(cap);
    if (!b) {
        pthread_mutex_unlock(&st->mu);
        return MGOV_ENOMEM;
    }
    size_t at = FIXED;
    uint32_t count = 0;
    for (unsigned i = 0; i < st->n; i++) {
        const mgov__tier_entry_t *e = st->entries[i];
        if (!e->gen)
            continue;
        size_t n = strlen(e->name);
        mgov__put_u64(b + at, e->gen);
        mgov__put_u64(b + at + 8, e->length);
        mgov__put_u32(b + at + 16, e->crc);
        b[at + 20] = e->override;
        b[at + 21] = (uint8_t)n;
        memcpy(b + at + ENTRY_FIXED, e->name, n);
        at += ENTRY_FIXED + n;
        count++;
    }
    memcpy(b, MAGIC, 8);
    mgov__put_u32(b + 8, VERSION);
    mgov__put_u32(b + 12, count);
    mgov__put_u64(b + 16, st->next_gen);
    pthread_mutex_unlock(&st->mu);
    mgov__put_u32(b + at, mgov__crc32c(0, b, at));
    *out = b;
    *len = at + 4;
    return MGOV_OK;
}

int mgov__manifest_commit(mgov__tier_store_t *st)
{
    uint8_t *b;
    size_t len;
    int rc = encode(st, &b, &len);
    if (rc != MGOV_OK)
        return rc;
    rc = mgov__quarantine_clear_tmp(st); /* a failed commit's, or a squatter */
    if (rc != MGOV_OK) {
        free(b);
        return rc;
    }
    int fd = mgov__openat(st->dirfd, MGOV__SECTION_MANIFEST_TMP,
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(b);
        return mgov__status_from_errno(fd);
    }
    int e = mgov__write_all(fd, b, len);
    if (!e)
        e = mgov__fsync(fd);
    close(fd);
    free(b);
    if (!e)
        e = mgov__renameat(st->dirfd, MGOV__SECTION_MANIFEST_TMP, st->dirfd,
                           MGOV__SECTION_MANIFEST);
    if (e) {
        mgov__unlinkat(st->dirfd, MGOV__SECTION_MANIFEST_TMP, 0);
        return mgov__status_from_errno(e);
    }
    /* the rename is durable once the directory is; if this fails the new
     * manifest may or may not survive a crash, and both are whole */
    e = mgov__fsync(st->dirfd);
    return e ? mgov__status_from_errno(e) : MGOV_OK;
}

/* ------------------------------------------------------------------- read */

static int read_all(int fd, uint8_t **out, size_t *len)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return mgov__status_from_errno(errno);
    if (!S_ISREG(sb.st_mode) || sb.st_size < (off_t)(FIXED + 4) || (size_t)sb.st_size > MAX_BYTES)
        return MGOV_ECORRUPT;
    size_t n = (size_t)sb.st_size, got;
    uint8_t *b = mgov__malloc(n);
    if (!b)
        return MGOV_ENOMEM;
    int e = mgov__pread_full(fd, b, n, 0, &got);
    if (e || got != n) {
        free(b);
        return e ? mgov__status_from_errno(e) : MGOV_ECORRUPT;
    }
    *out = b;
    *len = n;
    return MGOV_OK;
}

/* Parses b into entries (status and verified left to the caller). */
static int decode(mgov__tier_store_t *st, const uint8_t *b, size_t len)
{
    if (memcmp(b, MAGIC, 8) != 0 || mgov__get_u32(b + 8) != VERSION ||
        mgov__get_u32(b + len - 4) != mgov__crc32c(0, b, len - 4))
        return MGOV_ECORRUPT;
    uint32_t count = mgov__get_u32(b + 12);
    uint64_t max_gen = 0;
    size_t at = FIXED, end = len - 4;
    for (uint32_t i = 0; i < count; i++) {
        if (end - at < ENTRY_FIXED)
            return MGOV_ECORRUPT;
        size_t n = b[at + 21];
        char name[MGOV_NAME_MAX + 1];
        if (n == 0 || n > MGOV_NAME_MAX || end - at - ENTRY_FIXED < n)
            return MGOV_ECORRUPT;
        memcpy(name, b + at + ENTRY_FIXED, n);
        name[n] = '\0';
        uint64_t gen = mgov__get_u64(b + at);
        if (gen == 0 || b[at + 20] > MGOV_SECTION_FORCE_RAM ||
            mgov__section_name_check(name) != MGOV_OK || mgov__tier_find(st, name))
            return MGOV_ECORRUPT;
        mgov__tier_entry_t *e;
        int rc = mgov__tier_insert(st, name, &e);
        if (rc != MGOV_OK)
            return rc;
        e->gen = gen;
        e->length = mgov__get_u64(b + at + 8);
        e->crc = mgov__get_u32(b + at + 16);
        e->override = b[at + 20];
        if (gen > max_gen)
            max_gen = gen;
        at += ENTRY_FIXED + n;
    }
    if (at != end)
        return MGOV_ECORRUPT;
    /* every generation handed out must be new: a next one not above all
     * the entries' (or 0) would reuse a live file's name */
    uint64_t next = mgov__get_u64(b + 16);
    if (next <= max_gen)
        return MGOV_ECORRUPT;
    st->next_gen = next;
    return MGOV_OK;
}

int mgov__manifest_load(mgov__tier_store_t *st)
{
    /* O_NONBLOCK: a FIFO there must not block the open (read_all refuses
     * anything but a regular file) */
    int fd = mgov__openat(st->dirfd, MGOV__SECTION_MANIFEST,
                          O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
    if (fd < 0 && fd != -ENOENT)
        return fd == -ELOOP ? MGOV_ECORRUPT : mgov__status_from_errno(fd);
    if (fd >= 0) {
        uint8_t *b = NULL;
        size_t len = 0;
        int rc = read_all(fd, &b, &len);
        close(fd);
        if (rc == MGOV_OK)
            rc = decode(st, b, len);
        free(b);
        if (rc != MGOV_OK)
            return rc; /* the caller frees what was inserted */
    }
    for (unsigned i = 0; i < st->n; i++) {
        mgov__tier_entry_t *e = st->entries[i];
        /* damaged: MGOV_ECORRUPT; unreadable (EACCES, an I/O error):
         * MGOV_EIO, unavailable too but not said to be damaged, so nobody
         * is led to remove what may be intact; the next store checks again */
        e->status = mgov__secfile_check(st, e->name, e->gen, e->length);
    }
    /* after the checks: whether an older generation is garbage depends on
     * whether the current one is healthy */
    int rc = mgov__quarantine_sweep(st);
    if (rc != MGOV_OK)
        return rc;
    for (unsigned i = 0; i < st->n; i++)
        if (st->entries[i]->status == MGOV_OK)
            mgov__spill_dir_charge_found(st->dir, MGOV__SECTION_HEADER + st->entries[i]->length);
    return MGOV_OK;
}
