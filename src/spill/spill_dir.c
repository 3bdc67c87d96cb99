/* spill/spill_dir.c - spill directories: opening (configured or private),
 * the lock, the quota, the list of live files, closing; and the
 * governor's directory.
 *
 *   configured  cfg->path, made 0700 when missing; an existing one must be
 *               a real directory (opened O_DIRECTORY|O_NOFOLLOW: a symlink
 *               or anything else is MGOV_EINVAL; so is a lock name taken by
 *               anything but a regular file).  Its leftover
 *               spill-<n>.tmp files are removed once we hold its lock;
 *               nothing else in it is touched.
 *   private     $TMPDIR/memgov-<pid>-<random> (mkdir 0700; /tmp when
 *               TMPDIR is unset or empty), after the dead owners' private
 *               directories beside it are swept (spill_stale.c).  Removed
 *               at close.
 *
 * The lock.  memgov.lock (O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600) is flock'ed
 * LOCK_EX|LOCK_NB for the directory's lifetime and holds our pid (written
 * only once locked: spill_stale.c relies on it).  flock conflicts between
 * open file descriptions, so a second open of the same directory, in this
 * process or another, is MGOV_EBUSY.  Close unlinks the lock file while
 * still holding the lock; an opener that locked the old, unlinked file
 * meanwhile sees that it is no longer the one in the directory and tries
 * again.  A lock file with other links (a hard link to a file outside) is
 * never written: its name is unlinked and a new lock made.
 *
 * Everything in the directory is reached through dirfd (openat, unlinkat):
 * renaming or replacing the path after open cannot redirect us.
 *
 * The quota: cfg->quota, or half the free space (f_bavail x f_frsize) of
 * the file system at open.  `used` is reserved by CAS before each write
 * (spill_writer.c) and can never exceed it.
 *
 * Locking: see spill_internal.h (dir->mu guards the file list only).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "governor/hooks.h"
#include "spill/spill_internal.h"
#include "sys/fault.h"
#include "sys/fileio.h"

#define LOCK_TRIES 8
#define NAME_TRIES 64

/* MGOV_EIO with errno left at err. */
static int io_error(int err)
{
    errno = err;
    return MGOV_EIO;
}

/* ---------------------------------------------------------------- lock */

/* flock(LOCK_EX|LOCK_NB); in a private directory we just made, a lock held
 * by someone else can only be another process's sweep looking at it for a
 * moment (spill_stale.c), so wait for it a little. */
static int lock_fd(int fd, bool fresh)
{
    for (int waits = 0;; waits++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK || !fresh || waits == 1000)
            return -1;
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
}

/* Takes memgov.lock in dir->dirfd and writes our pid into it. */
static int lock_take(mgov_spill_dir_t *dir)
{
    for (int tries = 0; tries < LOCK_TRIES; tries++) {
        int fd = mgov__openat(dir->dirfd, MGOV__SPILL_LOCK_NAME,
                              O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
        struct stat st, now;
        if (fd < 0) {
            int err = errno;
            /* a directory (EISDIR) or a symlink (ELOOP) at the name: it is
             * not a lock file, as a FIFO below is not */
            if (fstatat(dir->dirfd, MGOV__SPILL_LOCK_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                !S_ISREG(st.st_mode))
                return MGOV_EINVAL;
            return io_error(err);
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            return MGOV_EINVAL;
        }
        if (lock_fd(fd, dir->is_private) != 0) {
            int err = errno;
            close(fd);
            return err == EWOULDBLOCK ? MGOV_EBUSY : io_error(err);
        }
        /* still the file at that name?  (a closing owner unlinks it while
         * holding the lock; we may have locked that one after it let go) */
        if (fstatat(dir->dirfd, MGOV__SPILL_LOCK_NAME, &now, AT_SYMLINK_NOFOLLOW) != 0 ||
            now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
            close(fd);
            continue;
        }
        /* a hard link to some file elsewhere: the pid below would be written
         * into it.  Unlink our name instead (holding the lock, as a closing
         * owner does) and make a lock of our own on the next try. */
        if (now.st_nlink > 1) {
            mgov__unlinkat(dir->dirfd, MGOV__SPILL_LOCK_NAME, 0);
            close(fd);
            continue;
        }
        char pid[24];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        int rc = ftruncate(fd, 0) == 0 ? mgov__pwrite_all(fd, pid, (size_t)n, 0) : -errno;
        if (rc != 0) {
            mgov__unlinkat(dir->dirfd, MGOV__SPILL_LOCK_NAME, 0);
            close(fd);
            return io_error(-rc);
        }
        dir->lockfd = fd;
        return MGOV_OK;
    }
    return MGOV_EBUSY;
}

/* -------------------------------------------------------------- opening */

static int open_configured(mgov_spill_dir_t *dir, const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (!(dir->path = mgov__malloc(len + 1)))
        return MGOV_ENOMEM;
    memcpy(dir->path, path, len);
    dir->path[len] = '\0';

    bool made = mkdir(dir->path, 0700) == 0;
    if (!made && errno != EEXIST)
        return errno == ENOTDIR ? MGOV_EINVAL : io_error(errno);
    dir->dirfd = mgov__open(dir->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (dir->dirfd < 0)
        return errno == ENOTDIR || errno == ELOOP ? MGOV_EINVAL : io_error(errno);
    if (made && fchmod(dir->dirfd, 0700) != 0) /* whatever the umask */
        return io_error(errno);
    int rc = lock_take(dir);
    if (rc == MGOV_OK)
        mgov__spill_tmp_remove(dir->dirfd);
    return rc;
}

static uint32_t random_u32(void)
{
    uint32_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
    /* no entropy yet: the name only has to be new, mkdir checks that */
    static _Atomic uint32_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec * 2654435761u ^
           atomic_fetch_add_explicit(&counter, 0x9e3779b9u, memory_order_relaxed);
}

static int open_private(mgov_spill_dir_t *dir)
{
    const char *base = secure_getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t blen = strlen(base);
    while (blen > 1 && base[blen - 1] == '/')
        blen--;
    dir->parentfd = mgov__open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dir->parentfd < 0)
        return io_error(errno);
    mgov__spill_stale_sweep(dir->parentfd);

    char name[64];
    int err = EEXIST;
    for (int tries = 0; tries < NAME_TRIES && err == EEXIST; tries++) {
        snprintf(name, sizeof name, MGOV__SPILL_PRIVATE_PREFIX "%ld-%08x", (long)getpid(),
                 random_u32());
        err = mkdirat(dir->parentfd, name, 0700) == 0 ? 0 : errno;
    }
    if (err)
        return io_error(err);
    size_t nlen = strlen(name);
    if (!(dir->path = mgov__malloc(blen + 1 + nlen + 1))) {
        mgov__unlinkat(dir->parentfd, name, AT_REMOVEDIR);
        return MGOV_ENOMEM;
    }
    memcpy(dir->path, base, blen);
    dir->path[blen] = '/';
    memcpy(dir->path + blen + 1, name, nlen + 1);
    dir->name = dir->path + blen + 1;
    dir->is_private = true; /* from here on, close removes it */

    dir->dirfd =
        mgov__openat(dir->parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (dir->dirfd < 0)
        return io_error(errno);
    if (fchmod(dir->dirfd, 0700) != 0)
        return io_error(errno);
    return lock_take(dir);
}

static int quota_default(int dirfd, uint64_t *out)
{
    struct statvfs sv;
    if (fstatvfs(dirfd, &sv) != 0)
        return io_error(errno);
    uint64_t free_bytes;
    if (__builtin_mul_overflow((uint64_t)sv.f_bavail, (uint64_t)sv.f_frsize, &free_bytes))
        free_bytes = UINT64_MAX;
    *out = free_bytes / 2;
    return MGOV_OK;
}

static void dir_free(mgov_spill_dir_t *dir)
{
    mgov__spill_signal_remove(dir); /* before any descriptor goes */
    if (dir->lockfd >= 0) {
        mgov__unlinkat(dir->dirfd, MGOV__SPILL_LOCK_NAME, 0); /* still locked: see lock_take */
        close(dir->lockfd);
    }
    if (dir->dirfd >= 0)
        close(dir->dirfd);
    if (dir->is_private)
        mgov__unlinkat(dir->parentfd, dir->name, AT_REMOVEDIR);
    if (dir->parentfd >= 0)
        close(dir->parentfd);
    pthread_mutex_destroy(&dir->mu);
    free(dir->path);
    free(dir);
}

int mgov_spill_dir_open(const mgov_spill_dir_config_t *cfg, mgov_spill_dir_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    const mgov_spill_dir_config_t defaults = MGOV_SPILL_DIR_CONFIG_INIT;
    if (!cfg)
        cfg = &defaults;
    if (cfg->path && !cfg->path[0])
        return MGOV_EINVAL;
    mgov_spill_dir_t *dir = mgov__calloc(1, sizeof *dir);
    if (!dir)
        return MGOV_ENOMEM;
    dir->dirfd = dir->lockfd = dir->parentfd = dir->sig_slot = -1;
    pthread_mutex_init(&dir->mu, NULL);
    dir->gov = cfg->gov;
    dir->region = cfg->gov ? mgov__region_spill(cfg->gov) : 0;

    int rc = cfg->path ? open_configured(dir, cfg->path) : open_private(dir);
    if (rc == MGOV_OK) {
        dir->quota = cfg->quota;
        if (!dir->quota)
            rc = quota_default(dir->dirfd, &dir->quota);
    }
    if (rc != MGOV_OK) {
        int err = errno;
        dir_free(dir);
        errno = err;
        return rc;
    }
    mgov__spill_signal_add(dir);
    *out = dir;
    return MGOV_OK;
}

void mgov_spill_dir_close(mgov_spill_dir_t *dir)
{
    if (!dir)
        return;
    /* files still alive: a misuse, but leave nothing on disk */
    for (;;) {
        pthread_mutex_lock(&dir->mu);
        mgov_spill_file_t *f = dir->files;
        pthread_mutex_unlock(&dir->mu);
        if (!f)
            break;
        mgov__spill_file_remove(f);
    }
    dir_free(dir);
}

/* -------------------------------------------------- the governor's one */

static int gov_make(mgov_t *gov, void *arg, void **state)
{
    (void)arg;
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = mgov_spill_dir(gov);
    cfg.quota = mgov_spill_quota(gov);
    cfg.gov = gov;
    mgov_spill_dir_t *dir;
    int rc = mgov_spill_dir_open(&cfg, &dir);
    if (rc != MGOV_OK)
        return rc;
    mgov__spill_quota_set(gov, dir->quota);
    *state = dir;
    return MGOV_OK;
}

static void gov_free(void *state)
{
    mgov_spill_dir_close(state);
}

int mgov_spill_dir_get(mgov_t *gov, mgov_spill_dir_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    if (!gov)
        return MGOV_EINVAL;
    void *state;
    int rc = mgov__layer_state(gov, MGOV__SPILL_SLOT, gov_make, NULL, gov_free, &state);
    if (rc == MGOV_OK)
        *out = state;
    return rc;
}

/* -------------------------------------------------------------- queries */

const char *mgov_spill_dir_path(const mgov_spill_dir_t *dir)
{
    return dir ? dir->path : NULL;
}

uint64_t mgov_spill_dir_quota(const mgov_spill_dir_t *dir)
{
    return dir ? dir->quota : 0;
}

uint64_t mgov_spill_dir_used(const mgov_spill_dir_t *dir)
{
    return dir ? atomic_load_explicit(&dir->used, memory_order_relaxed) : 0;
}

unsigned mgov_spill_dir_files(const mgov_spill_dir_t *dir)
{
    return dir ? atomic_load_explicit(&dir->n_files, memory_order_relaxed) : 0;
}

/* ---------------------------------------------------------------- quota */

int mgov__spill_dir_reserve(mgov_spill_dir_t *dir, uint64_t bytes)
{
    uint64_t cur = atomic_load_explicit(&dir->used, memory_order_relaxed);
    do {
        if (bytes > dir->quota || cur > dir->quota - bytes)
            return MGOV_ENOSPC;
        /* acquire: pairs with the release in unreserve, so the governor's
         * gauge sees a removed file's bytes leave before ours arrive */
    } while (!atomic_compare_exchange_weak_explicit(&dir->used, &cur, cur + bytes,
                                                    memory_order_acquire, memory_order_relaxed));
    return MGOV_OK;
}

void mgov__spill_dir_unreserve(mgov_spill_dir_t *dir, uint64_t bytes)
{
    if (bytes) /* release: pairs with the acquire in reserve */
        atomic_fetch_sub_explicit(&dir->used, bytes, memory_order_release);
}

/* ---------------------------------------------------------------- check */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            goto corrupt;                                                                          \
    } while (0)

int mgov__spill_dir_check(mgov_spill_dir_t *dir)
{
    if (!dir)
        return MGOV_EINVAL;
    size_t plen = strlen(dir->path);
    uint64_t disk = 0;
    unsigned n = 0;
    pthread_mutex_lock(&dir->mu);
    CHECK(dir->dirfd >= 0 && dir->lockfd >= 0);
    CHECK(!dir->is_private || (dir->parentfd >= 0 && dir->name && dir->name > dir->path));
    const mgov_spill_file_t *prev = NULL;
    for (const mgov_spill_file_t *f = dir->files; f; prev = f, f = f->next) {
        CHECK(f->dir == dir && f->prev == prev && f->fd >= 0);
        CHECK(f->name_off == plen + 1 && strncmp(f->path, dir->path, plen) == 0 &&
              f->path[plen] == '/' && mgov__spill_tmp_name(f->path + f->name_off));
        CHECK(disk + f->disk >= disk); /* no wrap */
        disk += f->disk;
        n++;
    }
    CHECK(n == atomic_load_explicit(&dir->n_files, memory_order_relaxed));
    uint64_t used = atomic_load_explicit(&dir->used, memory_order_relaxed);
    uint64_t found = atomic_load_explicit(&dir->found, memory_order_relaxed);
    /* kept files and writes in flight count on top of the live files */
    CHECK(used >= disk);
    /* found files may go over the quota, and only they */
    CHECK(used <= dir->quota || used - dir->quota <= found);
    pthread_mutex_unlock(&dir->mu);
    return MGOV_OK;
corrupt:
    pthread_mutex_unlock(&dir->mu);
    return MGOV_ECORRUPT;
}

/* ---------------------------------------------------------------- files */

int mgov__spill_file_create(mgov_spill_dir_t *dir, mgov_spill_file_t **out)
{
    *out = NULL;
    size_t plen = strlen(dir->path);
    /* "/spill-" + 20 digits + ".tmp" + NUL */
    mgov_spill_file_t *f = mgov__calloc(1, sizeof *f + plen + 32);
    if (!f)
        return MGOV_ENOMEM;
    f->dir = dir;
    f->name_off = plen + 1;
    int fd = -EEXIST;
    for (int tries = 0; tries < NAME_TRIES && fd == -EEXIST; tries++) {
        unsigned long long n = atomic_fetch_add_explicit(&dir->seq, 1, memory_order_relaxed);
        snprintf(f->path, plen + 32, "%s/spill-%llu.tmp", dir->path, n);
        fd = mgov__openat(dir->dirfd, f->path + f->name_off,
                          O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        free(f);
        errno = -fd;
        return mgov__status_from_errno(fd);
    }
    f->fd = fd;
    pthread_mutex_lock(&dir->mu);
    f->next = dir->files;
    if (f->next)
        f->next->prev = f;
    dir->files = f;
    atomic_fetch_add_explicit(&dir->n_files, 1, memory_order_relaxed);
    pthread_mutex_unlock(&dir->mu);
    *out = f;
    return MGOV_OK;
}

void mgov__spill_file_remove(mgov_spill_file_t *f)
{
    mgov_spill_dir_t *dir = f->dir;
    pthread_mutex_lock(&dir->mu);
    if (f->prev)
        f->prev->next = f->next;
    else
        dir->files = f->next;
    if (f->next)
        f->next->prev = f->prev;
    atomic_fetch_sub_explicit(&dir->n_files, 1, memory_order_relaxed);
    pthread_mutex_unlock(&dir->mu);

    mgov__unlinkat(dir->dirfd, f->path + f->name_off, 0);
    close(f->fd);
    /* the gauge first: it then never shows more than the quota allows */
    mgov__spill_disk_add(dir->gov, -(int64_t)f->disk);
    mgov__spill_dir_unreserve(dir, f->disk);
    free(f);
}
