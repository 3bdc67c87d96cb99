/* sys/shm.c - the shared-memory wrappers of sys/shm.h: a fault check, the
 * system call, errors as -errno.  Stateless; thread-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys/fault.h"
#include "sys/shm.h"

static int fail(int err)
{
    errno = err;
    return -err;
}

int mgov__shm_open(const char *name, int flags, mode_t mode)
{
    if (mgov__fault_now(MGOV_FAULT_SHM))
        return fail(mgov__fault_errno(MGOV_FAULT_SHM));
    int fd;
    do
        fd = shm_open(name, flags | O_CLOEXEC | O_NOFOLLOW, mode);
    while (fd < 0 && errno == EINTR);
    return fd >= 0 ? fd : fail(errno);
}

int mgov__shm_unlink(const char *name)
{
    return shm_unlink(name) == 0 ? 0 : fail(errno);
}

int mgov__shm_size(int fd, off_t len)
{
    if (mgov__fault_now(MGOV_FAULT_SHM))
        return fail(mgov__fault_errno(MGOV_FAULT_SHM));
    int rc;
    do
        rc = ftruncate(fd, len);
    while (rc < 0 && errno == EINTR);
    return rc == 0 ? 0 : fail(errno);
}

static struct flock range(short type, off_t off, off_t len)
{
    /* l_pid must be 0 for the OFD commands */
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = len };
    return fl;
}

int mgov__ofd_lock(int fd, off_t off, off_t len)
{
    if (mgov__fault_now(MGOV_FAULT_LOCK))
        return fail(mgov__fault_errno(MGOV_FAULT_LOCK));
    struct flock fl = range(F_WRLCK, off, len);
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    /* EACCES is the other spelling of "held by someone else" */
    return fail(errno == EACCES ? EAGAIN : errno);
}

int mgov__ofd_unlock(int fd, off_t off, off_t len)
{
    struct flock fl = range(F_UNLCK, off, len);
    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : fail(errno);
}

int mgov__ofd_held(int fd, off_t off, off_t len)
{
    struct flock fl = range(F_WRLCK, off, len);
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
        return fail(errno);
    return fl.l_type != F_UNLCK;
}

int mgov__futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tp = &ts;
    }
    /* not FUTEX_PRIVATE_FLAG: the word is shared between processes */
    long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, tp, NULL, 0);
    if (rc == 0 || errno == EAGAIN)
        return 0;
    return fail(errno);
}

int mgov__futex_wake(uint32_t *word, int n)
{
    long rc = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
    return rc >= 0 ? (int)rc : fail(errno);
}
