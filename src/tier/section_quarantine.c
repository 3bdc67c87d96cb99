/* tier/section_quarantine.c - section files the manifest does not account
 * for, kept aside instead of deleted: the quarantine.
 *
 * Reading a directory never deletes data.  When the store opens a spill
 * directory (mgov__manifest_load, after each named file's header check)
 * every regular file named like a section file that is not current moves
 * into "sec-quarantine/" in the directory (made 0700 on first need), by
 * rename: never copied, never followed.  One kind is removed instead,
 * because it is the tier's own unfinished garbage collection, not data:
 *
 *   sec-<g>-<name> whose section the manifest names at a generation above
 *   g whose file checks (header valid) is a superseded generation that a
 *   crash kept the reaper (section_reaper.c) from removing.
 *
 * Everything else not current goes to the quarantine: a file of a section
 * the manifest does not name, a generation above the entry's (a write cut
 * by a crash before its commit), any other generation of a section whose
 * own file is damaged, missing or unreadable, and every file when there is
 * no manifest.  So does a sec-manifest.tmp that is not a regular file (a
 * directory or symlink squatting the name would fail every commit; a
 * regular one is a failed commit's half-written manifest, removed).
 * Anything else that is not a regular file is left where it is.
 *
 *   sec-quarantine/
 *     sec-0000000000000007-index        moved here under its own name,
 *     sec-0000000000000007-index.1      or the first free ".<n>": a move
 *     sec-manifest.tmp                  never replaces anything
 *
 * Each move is reported (MGOV_EV_QUARANTINED: name in the quarantine,
 * size) and counted (mgov_stats' sections_quarantined); a move that fails
 * is reported with its status and leaves the file where it was.  From
 * there the public calls list the files (header and data checked),
 * restore one (a new generation, its header rewritten, renamed back and
 * committed: an ordinary section again) or discard one: the only way data
 * in the quarantine is deleted.  They need a persistent directory: a
 * private one's quarantine goes with it (mgov__quarantine_drop, and the
 * spill layer's sweep of dead private directories).
 *
 * Invariants: nothing here unlinks outside the quarantine but superseded
 * generations and a regular sec-manifest.tmp; only regular files in the
 * quarantine are reported, restored or discarded, and no open can block
 * (O_NONBLOCK|O_NOFOLLOW, S_ISREG before a byte is read).  Quarantined
 * files are not charged to the quota; a restored one is, like a file
 * found at open.
 * Locking: the sweep runs while the store is made (no other thread has
 * it); the commit's move of a squatting tmp runs under manifest_mu.  A
 * restore holds manifest_mu from the name's check to its commit, and marks
 * its entry `moving` so no open, removal or listing sees it half made.
 * Listing and discarding take no lock: names change only by atomic
 * renames and unlinks.  The sweep's events are noted and raised once the
 * governor's layer lock is released (never under a governor lock); a
 * commit's move raises its event with manifest_mu held, so the callback
 * must not call section functions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "governor/hooks.h"
#include "sys/fault.h"
#include "sys/fileio.h"
#include "tier/tier_internal.h"

#define QDIR MGOV__SECTION_QUARANTINE
#define SUFFIX_TRIES 1000 /* ".1" .. ".999": the same name quarantined again and again */

/* ------------------------------------------------------------ directory */

/* Opens the quarantine (O_DIRECTORY|O_NOFOLLOW), with `make` making it
 * first when missing.  MGOV_OK with *out; MGOV_ENOTFOUND when there is
 * none (without make); else the status, errno kept (ENOTDIR or ELOOP:
 * something else squats the name). */
static int qdir_open(mgov__tier_store_t *st, bool make, int *out)
{
    bool made = false;
    if (make) {
        int e = mgov__mkdirat(st->dirfd, QDIR, 0700);
        if (e && e != -EEXIST)
            return mgov__status_from_errno(e);
        made = !e;
    }
    int fd = mgov__openat(st->dirfd, QDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0)
        return !make && fd == -ENOENT ? MGOV_ENOTFOUND : mgov__status_from_errno(fd);
    if (made && fchmod(fd, 0700) != 0) { /* whatever the umask */
        int err = errno;
        close(fd);
        errno = err;
        return mgov__status_from_errno(err);
    }
    *out = fd;
    return MGOV_OK;
}

typedef char name_t[NAME_MAX + 1];

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const name_t *)a, *(const name_t *)b);
}

/* The names in directory fd (not "." or ".."), sorted; *names is one
 * malloc'ed block of n slots (free it).  With `filter`, only the names it
 * accepts. */
static int list_names(int fd, bool (*filter)(int fd, const char *name), name_t **names,
                      size_t *n)
{
    *names = NULL;
    *n = 0;
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        int err = errno;
        if (dup_fd >= 0)
            close(dup_fd);
        return mgov__status_from_errno(err);
    }
    rewinddir(d); /* the duplicate shares fd's position, left at the end by earlier listings */
    size_t cap = 0;
    int rc = MGOV_OK;
    struct dirent *de;
    while (rc == MGOV_OK && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            (filter && !filter(fd, de->d_name)))
            continue;
        rc = mgov__array_room(names, *n, &cap, sizeof **names, 16);
        if (rc == MGOV_OK)
            snprintf((*names)[(*n)++], sizeof **names, "%s", de->d_name);
    }
    closedir(d);
    if (rc != MGOV_OK) {
        free(*names);
        *names = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_names);
    return MGOV_OK;
}

/* Reports a move (or a failed one): at once, or, while the store is being
 * made (under the governor's layer lock), noted for mgov__tier_store to
 * report once the lock is released; if the note cannot be kept, at once
 * rather than never. */
static void note(mgov__tier_store_t *st, const char *name, uint64_t bytes, int status)
{
    mgov__qnotes_t *q = st->qnotes;
    if (q && mgov__array_room(&q->v, q->n, &q->cap, sizeof *q->v, 16) == MGOV_OK) {
        mgov__qnote_t *n = &q->v[q->n++];
        snprintf(n->name, sizeof n->name, "%s", name);
        n->bytes = bytes;
        n->status = status;
        return;
    }
    mgov__quarantine_report(st->gov, name, bytes, status);
}

void mgov__quarantine_flush(mgov_t *gov, mgov__qnotes_t *notes)
{
    for (size_t i = 0; i < notes->n; i++)
        mgov__quarantine_report(gov, notes->v[i].name, notes->v[i].bytes, notes->v[i].status);
    free(notes->v);
    notes->v = NULL;
    notes->n = notes->cap = 0;
}

/* Moves `file` (a name in the spill directory) into the quarantine (*qfd:
 * opened, and made, on first need) under its own name or the first free
 * ".<n>" suffix, and reports it.  On error the file stays where it was. */
static int move_in(mgov__tier_store_t *st, int *qfd, const char *file)
{
    struct stat sb;
    uint64_t bytes = fstatat(st->dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                             S_ISREG(sb.st_mode)
                         ? (uint64_t)sb.st_size
                         : 0;
    int rc = *qfd >= 0 ? MGOV_OK : qdir_open(st, true, qfd);
    name_t qname;
    int e = -EEXIST;
    for (unsigned n = 0; rc == MGOV_OK && e == -EEXIST && n < SUFFIX_TRIES; n++) {
        int len = n ? snprintf(qname, sizeof qname, "%s.%u", file, n)
                    : snprintf(qname, sizeof qname, "%s", file);
        e = len < (int)sizeof qname ? mgov__renameat_noreplace(st->dirfd, file, *qfd, qname)
                                    : -ENAMETOOLONG;
    }
    if (rc == MGOV_OK && e)
        rc = mgov__status_from_errno(e);
    int err = errno;
    note(st, rc == MGOV_OK ? qname : file, bytes, rc);
    errno = err;
    return rc;
}

/* --------------------------------------------------------------- at load */

static int clear_tmp(mgov__tier_store_t *st, int *qfd)
{
    struct stat sb;
    if (fstatat(st->dirfd, MGOV__SECTION_MANIFEST_TMP, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? MGOV_OK : mgov__status_from_errno(errno);
    if (!S_ISREG(sb.st_mode))
        return move_in(st, qfd, MGOV__SECTION_MANIFEST_TMP);
    int e = mgov__unlinkat(st->dirfd, MGOV__SECTION_MANIFEST_TMP, 0);
    return e && e != -ENOENT ? mgov__status_from_errno(e) : MGOV_OK;
}

int mgov__quarantine_clear_tmp(mgov__tier_store_t *st)
{
    int qfd = -1;
    int rc = clear_tmp(st, &qfd);
    if (qfd >= 0)
        close(qfd);
    return rc;
}

/* A regular file named like a section file: what the sweep looks at. */
static bool section_file(int dirfd, const char *file)
{
    uint64_t gen;
    char name[MGOV_NAME_MAX + 1];
    struct stat sb;
    return mgov__secfile_parse(file, &gen, name) &&
           fstatat(dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
}

int mgov__quarantine_sweep(mgov__tier_store_t *st)
{
    int qfd = -1;
    int rc = clear_tmp(st, &qfd);
    name_t *files = NULL;
    size_t n = 0;
    if (rc == MGOV_OK) /* listed first: the sweep then changes the directory */
        rc = list_names(st->dirfd, section_file, &files, &n);
    for (size_t i = 0; i < n && rc == MGOV_OK; i++) {
        uint64_t gen;
        char name[MGOV_NAME_MAX + 1];
        if (!mgov__secfile_parse(files[i], &gen, name))
            continue;
        const mgov__tier_entry_t *e = mgov__tier_find(st, name); /* no other thread yet */
        if (e && e->gen == gen)
            continue; /* current */
        if (e && e->gen > gen && e->status == MGOV_OK)
            mgov__unlinkat(st->dirfd, files[i], 0); /* superseded: the reaper's work */
        else
            rc = move_in(st, &qfd, files[i]);
    }
    free(files);
    if (qfd >= 0)
        close(qfd);
    return rc;
}

static bool regular(int dirfd, const char *file)
{
    struct stat sb;
    return fstatat(dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
}

void mgov__quarantine_drop(mgov__tier_store_t *st)
{
    int qfd;
    if (qdir_open(st, false, &qfd) != MGOV_OK)
        return;
    name_t *files;
    size_t n;
    if (list_names(qfd, regular, &files, &n) == MGOV_OK) {
        for (size_t i = 0; i < n; i++)
            mgov__unlinkat(qfd, files[i], 0);
        free(files);
    }
    close(qfd);
    mgov__unlinkat(st->dirfd, QDIR, AT_REMOVEDIR);
}

/* ------------------------------------------------------------ public API */

/* The store of a persistent directory: a private one's quarantine is of no
 * use to anyone (it goes with the governor), so it has none to show. */
static int persistent_store(mgov_t *gov, mgov__tier_store_t **st)
{
    int rc = mgov__tier_store(gov, st);
    if (rc == MGOV_OK && mgov__spill_dir_private((*st)->dir))
        rc = MGOV_ENOTSUP;
    return rc;
}

/* A plain name inside the quarantine. */
static int qname_check(const char *file)
{
    if (!file || !file[0] || strchr(file, '/') || !strcmp(file, ".") || !strcmp(file, "..") ||
        strlen(file) > NAME_MAX)
        return MGOV_EINVAL;
    return MGOV_OK;
}

int mgov_section_quarantine_foreach(mgov_t *gov,
                                    void (*fn)(void *arg, const mgov_section_quarantined_t *q),
                                    void *arg)
{
    if (!gov || !fn)
        return MGOV_EINVAL;
    mgov__tier_store_t *st;
    int rc = persistent_store(gov, &st);
    int qfd;
    if (rc == MGOV_OK)
        rc = qdir_open(st, false, &qfd);
    if (rc == MGOV_ENOTFOUND)
        return MGOV_OK; /* nothing was ever quarantined */
    if (rc != MGOV_OK)
        return rc;
    name_t *files;
    size_t n;
    rc = list_names(qfd, regular, &files, &n);
    for (size_t i = 0; i < n && rc == MGOV_OK; i++) {
        mgov__sechdr_t h;
        uint64_t size;
        int status = mgov__secfile_inspect(qfd, files[i], true, &h, &size, NULL);
        if (status == MGOV_ENOTFOUND)
            continue; /* gone, or no longer a regular file */
        if (status == MGOV_ENOMEM) {
            rc = status;
            break;
        }
        mgov_section_quarantined_t q = {
            .file = files[i],
            .name = h.valid ? h.name : NULL,
            .length = h.valid ? h.length : 0,
            .generation = h.valid ? h.gen : 0,
            .disk_bytes = size,
            .status = status == MGOV_OK || status == MGOV_ECORRUPT ? status : MGOV_EIO,
        };
        fn(arg, &q);
    }
    free(files);
    close(qfd);
    return rc;
}

/* Gives the open quarantined file fd (checked: header h) a new generation
 * as section `name` and commits it.  Holds manifest_mu throughout. */
static int restore_locked(mgov__tier_store_t *st, int qfd, const char *file, int fd,
                          const mgov__sechdr_t *h, const char *name)
{
    pthread_mutex_lock(&st->manifest_mu);
    pthread_mutex_lock(&st->mu);
    mgov__tier_entry_t *e = mgov__tier_find(st, name);
    int rc = e ? MGOV_EEXIST : mgov__tier_insert(st, name, &e);
    if (rc == MGOV_OK)
        e->moving = true; /* the name is ours: no open or removal takes it meanwhile */
    pthread_mutex_unlock(&st->mu);
    if (rc != MGOV_OK) {
        pthread_mutex_unlock(&st->manifest_mu);
        return rc;
    }
    char fname[MGOV__SECFILE_NAME_MAX];
    uint64_t gen = 0;
    int err = -EEXIST;
    /* a new generation's name may be squatted: skip to the next one */
    for (int tries = 0; rc == MGOV_OK && err == -EEXIST && tries < MGOV__GEN_TRIES; tries++) {
        rc = mgov__tier_next_gen(st, &gen);
        if (rc == MGOV_OK)
            rc = mgov__secfile_rehead(fd, name, gen, h->length, h->crc);
        if (rc == MGOV_OK) {
            mgov__secfile_name(fname, name, gen);
            err = mgov__renameat_noreplace(qfd, file, st->dirfd, fname);
        }
    }
    if (rc == MGOV_OK && err)
        rc = err == -ENOENT ? MGOV_ENOTFOUND : mgov__status_from_errno(err);
    if (rc == MGOV_OK) {
        pthread_mutex_lock(&st->mu);
        e->gen = gen;
        e->length = h->length;
        e->crc = h->crc;
        e->override = MGOV_SECTION_AUTO; /* the file does not say what it had */
        e->status = MGOV_OK;
        e->verified = true; /* its data was just checked */
        pthread_mutex_unlock(&st->mu);
        rc = mgov__manifest_commit(st);
        if (rc != MGOV_OK) {
            int keep = errno;
            /* back where it was; if even that fails it is a file no manifest
             * names, which the next open puts in the quarantine again */
            mgov__renameat_noreplace(st->dirfd, fname, qfd, file);
            errno = keep;
        }
    }
    pthread_mutex_lock(&st->mu);
    if (rc == MGOV_OK) {
        /* charged before a removal (which needs manifest_mu) can give it back */
        mgov__spill_dir_charge_found(st->dir, MGOV__SECTION_HEADER + h->length);
        e->moving = false;
    } else {
        mgov__tier_erase(st, e);
    }
    pthread_mutex_unlock(&st->mu);
    pthread_mutex_unlock(&st->manifest_mu);
    return rc;
}

/* What restore and discard start with: the file's name checked, the
 * persistent store and the quarantine opened (*qfd, the caller closes). */
static int quarantine_enter(mgov_t *gov, const char *file, mgov__tier_store_t **st, int *qfd)
{
    if (!gov || qname_check(file) != MGOV_OK)
        return MGOV_EINVAL;
    int rc = persistent_store(gov, st);
    return rc == MGOV_OK ? qdir_open(*st, false, qfd) : rc;
}

int mgov_section_quarantine_restore(mgov_t *gov, const char *file, const char *as_name)
{
    if (as_name && mgov__section_name_check(as_name) != MGOV_OK)
        return MGOV_EINVAL;
    mgov__tier_store_t *st;
    int qfd;
    int rc = quarantine_enter(gov, file, &st, &qfd);
    if (rc != MGOV_OK)
        return rc;
    mgov__sechdr_t h;
    uint64_t size;
    int fd;
    rc = mgov__secfile_inspect(qfd, file, true, &h, &size, &fd);
    if (rc == MGOV_OK) {
        rc = restore_locked(st, qfd, file, fd, &h, as_name ? as_name : h.name);
        int err = errno;
        close(fd);
        errno = err;
    }
    close(qfd);
    return rc;
}

int mgov_section_quarantine_discard(mgov_t *gov, const char *file)
{
    mgov__tier_store_t *st;
    int qfd;
    int rc = quarantine_enter(gov, file, &st, &qfd);
    if (rc != MGOV_OK)
        return rc;
    struct stat sb;
    if (fstatat(qfd, file, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        rc = errno == ENOENT ? MGOV_ENOTFOUND : mgov__status_from_errno(errno);
    else if (!S_ISREG(sb.st_mode))
        rc = MGOV_ENOTFOUND; /* only regular files are quarantined files */
    else if ((rc = mgov__unlinkat(qfd, file, 0)) != 0)
        rc = rc == -ENOENT ? MGOV_ENOTFOUND : mgov__status_from_errno(rc);
    close(qfd);
    return rc;
}
