/* cli_spill.c - why a spill directory could not be opened, in words, for
 * the commands that open one (sort, bench sort, sections).
 *
 * mgov_spill_dir_open (reached through mgov_sort_create or the first
 * section call) returns MGOV_EINVAL, MGOV_EBUSY or MGOV_EIO with errno
 * kept, but not which of its steps failed: making the directory, opening
 * it, or creating its lock file memgov.lock.  errno alone misleads
 * ("'/proc': No such file or directory" for a directory that exists, where
 * the lock file could not be made), so this looks at the directory itself
 * and says which step it was.  It only reads (lstat); it runs after the
 * failure, so what it finds may have changed since, which costs a less
 * precise message, never a wrong action.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <memgov.h>

#include "cli.h"

#define LOCK_NAME "memgov.lock" /* docs/spill.md */

static const char *why_invalid(const char *dir, char *buf, size_t cap)
{
    struct stat sb;

    if (lstat(dir, &sb) != 0)
        return strerror(errno);
    if (S_ISLNK(sb.st_mode))
        return "it is a symbolic link (spill directories are opened without following links)";
    if (!S_ISDIR(sb.st_mode))
        return "not a directory";
    snprintf(buf, cap, "%s/%s", dir, LOCK_NAME);
    if (lstat(buf, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        snprintf(buf, cap, "its lock file %s is not a regular file", LOCK_NAME);
        return buf;
    }
    return mgov_strerror(MGOV_EINVAL);
}

const char *cli_spill_dir_why(const char *dir, int status, int err, char *buf, size_t cap)
{
    struct stat sb;

    switch (status) {
    case MGOV_EBUSY:
        return "another live memgov process is using it";
    case MGOV_EINVAL:
        return why_invalid(dir, buf, cap);
    case MGOV_EIO: {
        if (err == 0)
            break;
        int found = lstat(dir, &sb) == 0 ? 0 : errno;
        if (found == ENOENT)
            snprintf(buf, cap, "cannot create it: %s", strerror(err));
        else if (found == 0 && S_ISDIR(sb.st_mode))
            snprintf(buf, cap, "cannot create files in it: %s", strerror(err));
        else
            snprintf(buf, cap, "%s", strerror(err));
        return buf;
    }
    default:
        break;
    }
    return mgov_strerror(status);
}

int cli_spill_dir_error(const char *cmd, int failure, const char *dir, int status, int err)
{
    char buf[512];

    if (dir != NULL) {
        cli_error(cmd, "cannot use spill directory '%s': %s", dir,
                  cli_spill_dir_why(dir, status, err, buf, sizeof buf));
    } else {
        const char *tmp = getenv("TMPDIR");
        if (tmp == NULL || tmp[0] == '\0')
            tmp = "/tmp";
        cli_error(cmd, "cannot make a spill directory under %s: %s", tmp,
                  cli_spill_dir_why(tmp, status, err, buf, sizeof buf));
    }
    return failure;
}
