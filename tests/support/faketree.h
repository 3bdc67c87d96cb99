/* faketree.h - test helper: a throw-away directory tree under /tmp.
 *
 * Lifecycle: faketree_create() makes a fresh mkdtemp directory; the other
 * calls add files and directories below it (paths relative to the root,
 * parents created as needed); faketree_destroy() removes everything and
 * must be called exactly once, also after a failed test step.
 *
 * Every function returns 0 on success and -1 with errno set on failure; none
 * aborts, so callers assert on the result.  Not thread-safe: one tree per
 * thread.  Does not depend on memgov or cmocka.
 */
#ifndef MGOV_TEST_FAKETREE_H
#define MGOV_TEST_FAKETREE_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct faketree {
    char root[PATH_MAX];    /* absolute path of the tree, no trailing '/' */
    char scratch[PATH_MAX]; /* faketree_path()'s result lives here */
} faketree_t;

/* Creates /tmp/<prefix>XXXXXX (prefix may be NULL: "memgov-test-"). */
int faketree_create(faketree_t *ft, const char *prefix);

/* Removes the whole tree (files, dirs, symlinks; never follows links). */
int faketree_destroy(faketree_t *ft);

/* root + "/" + rel, in ft->scratch: valid until the next faketree_path. */
const char *faketree_path(faketree_t *ft, const char *rel);

/* Creates directory rel and any missing parents (mode 0755). */
int faketree_mkdir(faketree_t *ft, const char *rel);

/* Creates or truncates file rel with `content` (a C string; "" for an
 * empty file), creating parent directories. */
int faketree_write(faketree_t *ft, const char *rel, const char *content);

/* The same with arbitrary bytes (may contain NULs). */
int faketree_write_bytes(faketree_t *ft, const char *rel, const void *data, size_t len);

/* The same with a printf format. */
int faketree_writef(faketree_t *ft, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Creates symlink rel -> target (target used verbatim), creating parents. */
int faketree_symlink(faketree_t *ft, const char *rel, const char *target);

/* Removes file, symlink or whole directory rel; missing is not an error. */
int faketree_remove(faketree_t *ft, const char *rel);

/* Sets the mode of rel (e.g. 0 to make it unreadable for non-root users). */
int faketree_chmod(faketree_t *ft, const char *rel, mode_t mode);

#endif /* MGOV_TEST_FAKETREE_H */
