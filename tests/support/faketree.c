/* faketree.c - test helper: build and remove throw-away trees under /tmp
 * (fake /proc and /sys for memory detection, spill directories, ...).
 *
 * Invariant: every path handed out stays below ft->root; faketree_destroy
 * walks with nftw(FTW_DEPTH | FTW_PHYS) so it never follows a symlink out
 * of the tree.  No shared state, no locks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "faketree.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int faketree_create(faketree_t *ft, const char *prefix)
{
    int n = snprintf(ft->root, sizeof ft->root, "/tmp/%sXXXXXX",
                     prefix ? prefix : "memgov-test-");
    if (n < 0 || (size_t)n >= sizeof ft->root) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(ft->root) ? 0 : -1;
}

const char *faketree_path(faketree_t *ft, const char *rel)
{
    while (*rel == '/')
        rel++;
    int n = snprintf(ft->scratch, sizeof ft->scratch, "%s/%s", ft->root, rel);
    if (n < 0 || (size_t)n >= sizeof ft->scratch)
        return NULL;
    return ft->scratch;
}

/* mkdir -p on an absolute path (modified in place, restored). */
static int mkdir_p(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = saved;
        if (rc < 0 && errno != EEXIST)
            return -1;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Creates the parent directories of absolute path. */
static int mkdir_parent(char *path)
{
    char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return 0;
    *slash = '\0';
    int rc = mkdir_p(path);
    *slash = '/';
    return rc;
}

/* Copies root + "/" + rel into path (PATH_MAX bytes): a private copy, so
 * later faketree_path calls cannot change it.  -1 with ENAMETOOLONG. */
static int resolve(faketree_t *ft, const char *rel, char *path)
{
    const char *p = faketree_path(ft, rel);
    if (p == NULL) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(path, p);
    return 0;
}

int faketree_mkdir(faketree_t *ft, const char *rel)
{
    char path[PATH_MAX];
    if (resolve(ft, rel, path) != 0)
        return -1;
    return mkdir_p(path);
}

int faketree_write_bytes(faketree_t *ft, const char *rel, const void *data, size_t len)
{
    char path[PATH_MAX];
    if (resolve(ft, rel, path) != 0)
        return -1;
    if (mkdir_parent(path) < 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -1;
    const char *b = data;
    while (len > 0) {
        ssize_t w = write(fd, b, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        b += w;
        len -= (size_t)w;
    }
    return close(fd);
}

int faketree_write(faketree_t *ft, const char *rel, const char *content)
{
    return faketree_write_bytes(ft, rel, content, strlen(content));
}

int faketree_writef(faketree_t *ft, const char *rel, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    char *buf = malloc((size_t)n + 1);
    if (buf == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = faketree_write_bytes(ft, rel, buf, (size_t)n);
    free(buf);
    return rc;
}

int faketree_symlink(faketree_t *ft, const char *rel, const char *target)
{
    char path[PATH_MAX];
    if (resolve(ft, rel, path) != 0)
        return -1;
    if (mkdir_parent(path) < 0)
        return -1;
    return symlink(target, path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DNR) { /* unreadable dir (non-root after chmod 0) */
        if (chmod(path, 0700) < 0 || nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
            return -1;
        return 0;
    }
    if (flag == FTW_DP || flag == FTW_D) {
        chmod(path, 0700); /* a test may have made it unreadable */
        return rmdir(path) < 0 ? -1 : 0;
    }
    return unlink(path) < 0 ? -1 : 0;
}

static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    chmod(path, 0700);
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int faketree_remove(faketree_t *ft, const char *rel)
{
    char path[PATH_MAX];
    if (resolve(ft, rel, path) != 0)
        return -1;
    return remove_tree(path);
}

int faketree_destroy(faketree_t *ft)
{
    if (ft->root[0] == '\0')
        return 0;
    int rc = remove_tree(ft->root);
    ft->root[0] = '\0';
    return rc;
}

int faketree_chmod(faketree_t *ft, const char *rel, mode_t mode)
{
    const char *p = faketree_path(ft, rel);
    if (p == NULL) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return chmod(p, mode);
}
