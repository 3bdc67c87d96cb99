/* tier/section_file.c - a section's file: one generation of its data.
 *
 * Layout (integers little-endian; docs/section.md):
 *   0    magic "MGOVSECT"
 *   8    u32 version (1)
 *   12   u32 header size (4096: the data offset)
 *   16   u64 data length
 *   24   u64 generation
 *   32   u32 crc32c of the data
 *   36   u32 name length (1..63)
 *   40   name, zero-padded to 64 bytes
 *   104  u32 crc32c of bytes 0..104
 *   108  zeros up to 4096, then the data
 * Written data first, header last, then fsync: a file whose header checks
 * is complete.  Names are "sec-<generation as 16 hex digits>-<name>"; the
 * manifest says which generation is current.  A new file is created
 * O_EXCL: when its name is taken (by anything: a directory or symlink
 * squatting there) it moves on to the next generation, a bounded number of
 * times.  A file no entry knows (one in the quarantine) is inspected on
 * its own terms: its header read for whatever it names, its data read in
 * pieces, never mapped.
 *
 * Stateless; thread-safe (files of different generations never collide).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/crc32c.h"
#include "sys/fault.h"
#include "sys/fileio.h"
#include "sys/le.h"
#include "tier/tier_internal.h"

#define MAGIC "MGOVSECT"
#define VERSION 1u
#define HDR_CRC_AT 104u
#define CHUNK ((size_t)8 << 20) /* checksummed while still in cache */

void mgov__secfile_name(char *buf, const char *name, uint64_t gen)
{
    snprintf(buf, MGOV__SECFILE_NAME_MAX, MGOV__SECTION_FILE_PREFIX "%016llx-%s",
             (unsigned long long)gen, name);
}

bool mgov__secfile_parse(const char *file, uint64_t *gen, char name[MGOV_NAME_MAX + 1])
{
    size_t plen = strlen(MGOV__SECTION_FILE_PREFIX);
    if (strncmp(file, MGOV__SECTION_FILE_PREFIX, plen) != 0)
        return false;
    const char *p = file + plen;
    uint64_t g = 0;
    for (int i = 0; i < 16; i++, p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            return false;
        g = g << 4 | (uint64_t)d;
    }
    if (*p++ != '-' || mgov__section_name_check(p) != MGOV_OK)
        return false;
    *gen = g;
    snprintf(name, MGOV_NAME_MAX + 1, "%s", p);
    return true;
}

static void header_encode(uint8_t *h, const char *name, uint64_t gen, uint64_t length, uint32_t crc)
{
    memset(h, 0, MGOV__SECTION_HEADER);
    memcpy(h, MAGIC, 8);
    mgov__put_u32(h + 8, VERSION);
    mgov__put_u32(h + 12, MGOV__SECTION_HEADER);
    mgov__put_u64(h + 16, length);
    mgov__put_u64(h + 24, gen);
    mgov__put_u32(h + 32, crc);
    size_t n = strlen(name);
    mgov__put_u32(h + 36, (uint32_t)n);
    memcpy(h + 40, name, n);
    mgov__put_u32(h + HDR_CRC_AT, mgov__crc32c(0, h, HDR_CRC_AT));
}

/* MGOV_OK when h is a valid header on its own (whatever section and
 * generation it names), with its fields in *hdr. */
static int header_parse(const uint8_t *h, mgov__sechdr_t *hdr)
{
    uint32_t n = mgov__get_u32(h + 36);
    if (memcmp(h, MAGIC, 8) != 0 || mgov__get_u32(h + 8) != VERSION ||
        mgov__get_u32(h + 12) != MGOV__SECTION_HEADER ||
        mgov__get_u32(h + HDR_CRC_AT) != mgov__crc32c(0, h, HDR_CRC_AT) || n == 0 ||
        n > MGOV_NAME_MAX)
        return MGOV_ECORRUPT;
    memcpy(hdr->name, h + 40, n);
    hdr->name[n] = '\0';
    hdr->gen = mgov__get_u64(h + 24);
    hdr->length = mgov__get_u64(h + 16);
    hdr->crc = mgov__get_u32(h + 32);
    if (strlen(hdr->name) != n || mgov__section_name_check(hdr->name) != MGOV_OK || !hdr->gen)
        return MGOV_ECORRUPT;
    return MGOV_OK;
}

/* MGOV_OK when h is a valid header for (name, gen, length); *crc = data crc. */
static int header_decode(const uint8_t *h, const char *name, uint64_t gen, uint64_t length,
                         uint32_t *crc)
{
    mgov__sechdr_t hdr;
    if (header_parse(h, &hdr) != MGOV_OK || hdr.length != length || hdr.gen != gen ||
        strcmp(hdr.name, name) != 0)
        return MGOV_ECORRUPT;
    *crc = hdr.crc;
    return MGOV_OK;
}

static int write_parts(int fd, const mgov__secpart_t *parts, unsigned n_parts, uint32_t *crc)
{
    static const uint8_t zeros[65536];
    uint32_t c = 0;
    off_t off = MGOV__SECTION_HEADER;
    for (unsigned i = 0; i < n_parts; i++) {
        for (uint64_t done = 0; done < parts[i].len;) {
            size_t step = parts[i].data ? CHUNK : sizeof zeros;
            if (step > parts[i].len - done)
                step = (size_t)(parts[i].len - done);
            const uint8_t *p = parts[i].data ? parts[i].data + done : zeros;
            c = mgov__crc32c(c, p, step);
            int rc = mgov__pwrite_all(fd, p, step, off);
            if (rc)
                return mgov__status_from_errno(rc);
            off += (off_t)step;
            done += step;
        }
    }
    *crc = c;
    return MGOV_OK;
}

/* Creates the file of a new generation of `name`: *gen is drawn from the
 * store's counter, and a name something else already holds (a directory
 * or symlink squatting there, D11) is skipped for the next generation. */
static int create_new(mgov__tier_store_t *st, const char *name, uint64_t *gen, int *fd_out)
{
    int fd = -EEXIST;
    for (int tries = 0; tries < MGOV__GEN_TRIES && fd == -EEXIST; tries++) {
        int rc = mgov__tier_next_gen(st, gen);
        if (rc != MGOV_OK)
            return rc;
        char fname[MGOV__SECFILE_NAME_MAX];
        mgov__secfile_name(fname, name, *gen);
        fd = mgov__openat(st->dirfd, fname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          0600);
    }
    if (fd < 0)
        return mgov__status_from_errno(fd); /* errno kept */
    *fd_out = fd;
    return MGOV_OK;
}

int mgov__secfile_write(mgov__tier_store_t *st, const char *name, const mgov__secpart_t *parts,
                        unsigned n_parts, uint64_t *gen, uint32_t *crc)
{
    uint64_t length = 0;
    for (unsigned i = 0; i < n_parts; i++)
        length += parts[i].len;
    int rc = mgov__spill_dir_charge(st->dir, MGOV__SECTION_HEADER + length);
    if (rc == MGOV_ENOSPC) { /* superseded files still with the reaper hold quota */
        mgov__tier_reap_drain(st);
        rc = mgov__spill_dir_charge(st->dir, MGOV__SECTION_HEADER + length);
    }
    if (rc != MGOV_OK)
        return rc;
    int fd = -1;
    rc = create_new(st, name, gen, &fd);
    if (rc != MGOV_OK) {
        int err = errno;
        mgov__spill_dir_uncharge(st->dir, MGOV__SECTION_HEADER + length);
        errno = err;
        return rc;
    }
    uint8_t h[MGOV__SECTION_HEADER];
    rc = write_parts(fd, parts, n_parts, crc);
    if (rc == MGOV_OK) {
        header_encode(h, name, *gen, length, *crc);
        int e = mgov__pwrite_all(fd, h, sizeof h, 0);
        if (!e)
            e = mgov__fsync(fd);
        rc = e ? mgov__status_from_errno(e) : MGOV_OK;
    }
    close(fd);
    if (rc != MGOV_OK)
        mgov__secfile_remove(st, name, *gen, length, true);
    return rc;
}

void mgov__secfile_remove(mgov__tier_store_t *st, const char *name, uint64_t gen, uint64_t length,
                          bool charged)
{
    char fname[MGOV__SECFILE_NAME_MAX];
    mgov__secfile_name(fname, name, gen);
    mgov__unlinkat(st->dirfd, fname, 0);
    if (charged)
        mgov__spill_dir_uncharge(st->dir, MGOV__SECTION_HEADER + length);
}

/* Opens (name, gen) and checks its header and size; *crc = data crc.
 * O_NONBLOCK: a FIFO in the file's place would block the open until a
 * writer came; it is refused as damage, like anything not a regular file. */
static int open_checked(mgov__tier_store_t *st, const char *name, uint64_t gen, uint64_t length,
                        uint32_t *crc, int *fd_out)
{
    if (length > SIZE_MAX - MGOV__SECTION_HEADER)
        return MGOV_ECORRUPT; /* no write makes one (a crafted manifest); the sums below wrap */
    char fname[MGOV__SECFILE_NAME_MAX];
    mgov__secfile_name(fname, name, gen);
    int fd = mgov__openat(st->dirfd, fname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
    if (fd < 0)
        return fd == -ENOENT || fd == -ELOOP ? MGOV_ECORRUPT : mgov__status_from_errno(fd);
    uint8_t h[MGOV__SECTION_HEADER];
    size_t got;
    struct stat sb;
    int rc = MGOV_OK;
    if (fstat(fd, &sb) != 0)
        rc = mgov__status_from_errno(errno);
    else if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != MGOV__SECTION_HEADER + length)
        rc = MGOV_ECORRUPT;
    else if ((rc = mgov__pread_full(fd, h, sizeof h, 0, &got)) != 0)
        rc = mgov__status_from_errno(rc);
    else if (got != sizeof h)
        rc = MGOV_ECORRUPT;
    else
        rc = header_decode(h, name, gen, length, crc);
    if (rc != MGOV_OK) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return MGOV_OK;
}

int mgov__secfile_check(mgov__tier_store_t *st, const char *name, uint64_t gen, uint64_t length)
{
    uint32_t crc;
    int fd;
    int rc = open_checked(st, name, gen, length, &crc, &fd);
    if (rc == MGOV_OK)
        close(fd);
    return rc;
}

int mgov__secfile_map(mgov__tier_store_t *st, const mgov__tier_entry_t *e, bool verify,
                      void **map, size_t *map_len)
{
    *map = NULL;
    *map_len = 0;
    uint32_t crc;
    int fd;
    int rc = open_checked(st, e->name, e->gen, e->length, &crc, &fd);
    if (rc != MGOV_OK)
        return rc;
    if (crc != e->crc) {
        close(fd);
        return MGOV_ECORRUPT;
    }
    size_t len = MGOV__SECTION_HEADER + (size_t)e->length;
    void *p;
    rc = mgov__mmap(len, PROT_READ, MAP_SHARED, fd, 0, &p);
    close(fd); /* the mapping keeps the file */
    if (rc)
        return mgov__status_from_errno(rc);
    if (verify && mgov__crc32c(0, (const uint8_t *)p + MGOV__SECTION_HEADER, e->length) != crc) {
        mgov__munmap(p, len);
        return MGOV_ECORRUPT;
    }
    *map = p;
    *map_len = len;
    return MGOV_OK;
}

int mgov__secfile_read(mgov__tier_store_t *st, const mgov__tier_entry_t *e, uint8_t *dst,
                       uint64_t len)
{
    if (len > e->length)
        return MGOV_EINVAL;
    uint32_t crc;
    int fd;
    int rc = open_checked(st, e->name, e->gen, e->length, &crc, &fd);
    if (rc != MGOV_OK)
        return rc;
    uint32_t c = 0;
    for (uint64_t done = 0; done < len && rc == MGOV_OK;) {
        size_t step = len - done < CHUNK ? (size_t)(len - done) : CHUNK;
        size_t got;
        int err =
            mgov__pread_full(fd, dst + done, step, (off_t)(MGOV__SECTION_HEADER + done), &got);
        if (err)
            rc = mgov__status_from_errno(err);
        else if (got != step)
            rc = MGOV_ECORRUPT; /* shrank under us */
        else
            c = mgov__crc32c(c, dst + done, step);
        done += step;
    }
    close(fd);
    /* a prefix cannot be checked against the whole data's crc: the caller
     * reads one only from a file whose data was verified */
    if (rc == MGOV_OK && crc != e->crc)
        rc = MGOV_ECORRUPT;
    if (rc == MGOV_OK && len == e->length && c != crc)
        rc = MGOV_ECORRUPT;
    return rc;
}

/* ------------------------------------------------ files of no known entry */

/* The crc32c of `len` data bytes of fd, read in pieces (a file not known
 * to the store is read, never mapped: it may shrink under us).  MGOV_OK
 * when it is `crc`, MGOV_ECORRUPT when not (or the file is shorter). */
static int data_check(int fd, uint64_t len, uint32_t crc)
{
    size_t cap = len < CHUNK ? (size_t)len : CHUNK;
    uint8_t *buf = cap ? mgov__malloc(cap) : NULL;
    if (cap && !buf)
        return MGOV_ENOMEM;
    uint32_t c = 0;
    int rc = MGOV_OK;
    for (uint64_t done = 0; done < len && rc == MGOV_OK;) {
        size_t step = len - done < cap ? (size_t)(len - done) : cap, got;
        int e = mgov__pread_full(fd, buf, step, (off_t)(MGOV__SECTION_HEADER + done), &got);
        if (e)
            rc = mgov__status_from_errno(e);
        else if (got != step)
            rc = MGOV_ECORRUPT;
        else
            c = mgov__crc32c(c, buf, step);
        done += step;
    }
    free(buf);
    return rc == MGOV_OK && c != crc ? MGOV_ECORRUPT : rc;
}

int mgov__secfile_inspect(int dirfd, const char *file, bool data, mgov__sechdr_t *hdr,
                          uint64_t *size, int *fd_out)
{
    hdr->valid = false;
    *size = 0;
    if (fd_out)
        *fd_out = -1;
    struct stat sb;
    if (fstatat(dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? MGOV_ENOTFOUND : mgov__status_from_errno(errno);
    if (!S_ISREG(sb.st_mode))
        return MGOV_ENOTFOUND; /* only regular files are ours */
    /* O_NONBLOCK: if a FIFO took the name since, the open must not wait */
    int fd = mgov__openat(dirfd, file,
                          (fd_out ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
    if (fd < 0)
        return fd == -ENOENT || fd == -ELOOP || fd == -ENXIO ? MGOV_ENOTFOUND
                                                               : mgov__status_from_errno(fd);
    int rc = fstat(fd, &sb) != 0 ? mgov__status_from_errno(errno)
             : S_ISREG(sb.st_mode) ? MGOV_OK
                                   : MGOV_ENOTFOUND;
    if (rc == MGOV_OK) {
        uint8_t h[MGOV__SECTION_HEADER];
        size_t got;
        *size = (uint64_t)sb.st_size;
        int e = mgov__pread_full(fd, h, sizeof h, 0, &got);
        rc = e                ? mgov__status_from_errno(e)
             : got != sizeof h ? MGOV_ECORRUPT
                               : header_parse(h, hdr);
    }
    if (rc == MGOV_OK) {
        hdr->valid = true;
        if (hdr->length > SIZE_MAX - MGOV__SECTION_HEADER ||
            *size != MGOV__SECTION_HEADER + hdr->length)
            rc = MGOV_ECORRUPT;
        else if (data)
            rc = data_check(fd, hdr->length, hdr->crc);
    }
    if (rc == MGOV_OK && fd_out)
        *fd_out = fd;
    else
        close(fd);
    return rc;
}

int mgov__secfile_rehead(int fd, const char *name, uint64_t gen, uint64_t length, uint32_t crc)
{
    uint8_t h[MGOV__SECTION_HEADER];
    header_encode(h, name, gen, length, crc);
    int e = mgov__pwrite_all(fd, h, sizeof h, 0);
    if (!e)
        e = mgov__fsync(fd); /* the data too: a crash's leftover may never have been synced */
    return e ? mgov__status_from_errno(e) : MGOV_OK;
}
