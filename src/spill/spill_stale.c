/* spill/spill_stale.c - removing what dead owners left behind.
 *
 * Two sweeps, both conservative: only names this layer makes or reserves,
 * only regular files and real directories (never through a symlink), only
 * the owner's lock file, its spill-<n>.tmp files (and in a private
 * directory the files kept under the reserved prefix, spill_kept.h, also
 * one level down in a real directory so named), and rmdir, which fails
 * harmlessly on a directory that holds anything else.
 *
 *   mgov__spill_tmp_remove    in a directory whose lock we hold: the
 *                             spill-<n>.tmp files of a previous owner.
 *   mgov__spill_stale_sweep   beside a new private directory: the private
 *                             directories memgov-<pid>-<suffix> of dead
 *                             processes, owned by our uid.
 *
 * Who is dead.  An owner flocks memgov.lock (LOCK_EX) for its lifetime and
 * only then writes its pid into it; the kernel drops the lock when the
 * process dies, however it dies.  So a lock file we can flock and that
 * holds a pid belongs to a dead owner.  An empty one may belong to an owner
 * between creating and locking it, and a directory without a lock file to
 * one that has not created it yet (or is closing): those are dead only if
 * the pid in the directory's name no longer exists (kill(pid, 0) ESRCH).
 * A directory whose lock file is replaced or removed while we look belongs
 * to an owner that is closing: it removes it itself.
 *
 * Races between two sweepers are harmless: both may unlink the same files
 * (ENOENT is ignored) and rmdir the same directory.  A sweeper holds a live
 * owner's lock only for the moment it looks; an owner that meets it while
 * locking its brand-new directory waits for it (spill_dir.c).
 *
 * Stateless; thread-safe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spill/spill_internal.h"
#include "spill/spill_kept.h"
#include "sys/fileio.h"

bool mgov__spill_tmp_name(const char *name)
{
    if (strncmp(name, "spill-", 6) != 0)
        return false;
    const char *p = name + 6, *d = p;
    while (*p >= '0' && *p <= '9')
        p++;
    return p > d && strcmp(p, ".tmp") == 0;
}

/* A DIR over a duplicate of fd (the caller keeps fd), or NULL. */
static DIR *dir_over(int fd)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return NULL;
    DIR *d = fdopendir(dup_fd);
    if (!d)
        close(dup_fd);
    else
        rewinddir(d); /* the duplicate shares fd's position: a listing left it at the end */
    return d;
}

void mgov__spill_tmp_remove(int dirfd)
{
    DIR *d = dir_over(dirfd);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (mgov__spill_tmp_name(e->d_name) &&
            fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            mgov__unlinkat(dirfd, e->d_name, 0);
    }
    closedir(d);
}

/* The pid of a name memgov-<pid>-<suffix> (suffix: letters and digits), or
 * 0 when the name is not one. */
static pid_t private_pid(const char *name)
{
    size_t plen = strlen(MGOV__SPILL_PRIVATE_PREFIX);
    if (strncmp(name, MGOV__SPILL_PRIVATE_PREFIX, plen) != 0)
        return 0;
    const char *p = name + plen;
    long pid = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        pid = pid * 10 + (*p - '0');
        if (pid > 0x7fffffffL)
            return 0;
    }
    if (pid <= 0 || *p != '-' || !p[1])
        return 0;
    for (p++; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return 0;
    return (pid_t)pid;
}

static bool pid_gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Removes the regular files named under the reserved prefix in dfd; with
 * `subdirs`, also the real directories so named (the tier layer's
 * quarantine), after their own such files: one level, never through a
 * symlink, and rmdir fails harmlessly on one that holds anything else. */
static void remove_kept(int dfd, bool subdirs)
{
    DIR *d = dir_over(dfd);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (!mgov__spill_kept_name(e->d_name) ||
            fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            mgov__unlinkat(dfd, e->d_name, 0);
        } else if (S_ISDIR(st.st_mode) && subdirs) {
            int sub = mgov__openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                                   0);
            if (sub < 0)
                continue;
            remove_kept(sub, false);
            close(sub);
            mgov__unlinkat(dfd, e->d_name, AT_REMOVEDIR);
        }
    }
    closedir(d);
}

/* Removes what memgov puts in a private directory: spill files and what is
 * kept under the reserved prefix (regular files, and directories of them). */
static void remove_owned(int dfd)
{
    mgov__spill_tmp_remove(dfd);
    remove_kept(dfd, true);
}

/* When the private directory dfd (named for pid) belongs to a dead owner,
 * removes its lock file and the files memgov made and returns true.  The lock is
 * held while they are removed, so no new owner can appear meanwhile. */
static bool clean_if_dead(int dfd, pid_t pid)
{
    int lfd = mgov__openat(dfd, MGOV__SPILL_LOCK_NAME,
                           O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
    if (lfd < 0) {
        if (errno != ENOENT || !pid_gone(pid))
            return false;
        remove_owned(dfd);
        return true;
    }
    bool dead = false;
    struct stat st, now;
    if (fstat(lfd, &st) == 0 && S_ISREG(st.st_mode) && flock(lfd, LOCK_EX | LOCK_NB) == 0 &&
        fstatat(dfd, MGOV__SPILL_LOCK_NAME, &now, AT_SYMLINK_NOFOLLOW) == 0 && same_file(&st, &now))
        dead = now.st_size > 0 || pid_gone(pid);
    if (dead) {
        remove_owned(dfd);
        mgov__unlinkat(dfd, MGOV__SPILL_LOCK_NAME, 0);
    }
    close(lfd); /* drops the lock, if we took it */
    return dead;
}

void mgov__spill_stale_sweep(int basefd)
{
    DIR *d = dir_over(basefd);
    if (!d)
        return;
    uid_t uid = geteuid();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t pid = private_pid(e->d_name);
        struct stat st, st2;
        if (!pid || fstatat(basefd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode) || st.st_uid != uid)
            continue;
        int dfd =
            mgov__openat(basefd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (dfd < 0)
            continue;
        /* the directory we opened is the one we checked */
        bool dead = fstat(dfd, &st2) == 0 && same_file(&st, &st2) && clean_if_dead(dfd, pid);
        close(dfd);
        if (dead)
            mgov__unlinkat(basefd, e->d_name, AT_REMOVEDIR); /* fails if anything else is in it */
    }
    closedir(d);
}
