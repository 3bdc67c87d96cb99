/* host/host_seg.c - the shared segment as a file: its name, the setup
 * lock, the checks made before a byte of it is trusted (owner, mode,
 * still linked, header).  See host_layout.h for the layout.
 *
 * The name carries the user's id (/memgov.<euid>.<name>), so users never
 * share a budget by accident nor squat one another's names; the object is
 * created 0600 and refused when it is not the user's own or is open to
 * group or others.  Names cannot hold a '/': no path can be reached from
 * one.
 *
 * Stateless; thread-safe.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/host_layout.h"
#include "memgov/governor.h"
#include "sys/crc32c.h"
#include "sys/fileio.h"
#include "sys/shm.h"
#include "sys/sys.h"

int mgov__host_shm_name(const char *name, char *buf, size_t cap)
{
    size_t n = name ? strnlen(name, MGOV_NAME_MAX + 1) : 0;
    if (n == 0 || n > MGOV_NAME_MAX || name[0] == '.')
        return MGOV_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return MGOV_EINVAL;
    }
    int w = snprintf(buf, cap, "/memgov.%u.%s", (unsigned)geteuid(), name);
    return w > 0 && (size_t)w < cap ? MGOV_OK : MGOV_EINVAL;
}

int mgov__host_setup_lock(int fd, uint64_t timeout_ns)
{
    uint64_t deadline = mgov__now_ns() + timeout_ns;
    for (;;) {
        int rc = mgov__ofd_lock(fd, MGOV__HOST_LOCK_SETUP, 1);
        if (rc == 0)
            return MGOV_OK;
        if (rc != -EAGAIN)
            return mgov__status_from_errno(rc);
        if (mgov__now_ns() >= deadline)
            return MGOV_ETIMEDOUT;
        /* held for microseconds by whoever has it: poll gently */
        struct timespec ts = { 0, 200 * 1000 };
        nanosleep(&ts, NULL);
    }
}

void mgov__host_setup_unlock(int fd)
{
    (void)mgov__ofd_unlock(fd, MGOV__HOST_LOCK_SETUP, 1);
}

int mgov__host_fd_check(int fd, off_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return mgov__status_from_errno(errno);
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return MGOV_EIO;
    if (st.st_nlink == 0)
        return MGOV_ENOTFOUND;
    *size = st.st_size;
    return MGOV_OK;
}

uint32_t mgov__host_header_crc(const mgov__host_seg_t *s)
{
    return mgov__crc32c(0, s, offsetof(mgov__host_seg_t, crc));
}

int mgov__host_header_check(const mgov__host_seg_t *s)
{
    /* chunk: at least a page, and a fraction of the budget (host.c) */
    if (s->magic != MGOV__HOST_MAGIC || s->version != MGOV__HOST_VERSION ||
        s->size != sizeof *s || s->n_slots != MGOV__HOST_SLOTS ||
        s->n_events != MGOV__HOST_EVENTS || s->budget == 0 || s->budget > MGOV_BUDGET_MAX ||
        s->chunk < 4096 || s->chunk > s->budget || s->high_permille == 0 ||
        s->high_permille > 1000 || s->answer_ms == 0 || s->answer_ms > 60000 ||
        s->crc != mgov__host_header_crc(s))
        return MGOV_ECORRUPT;
    return MGOV_OK;
}
