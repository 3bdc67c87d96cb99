/* sys/fileio.c - the file wrappers of sys/fileio.h: a fault check, the system
 * call, EINTR and short transfers handled, errors as -errno.
 *
 * A write that returns 0 for a non-empty buffer makes no progress and would
 * loop forever; it is reported as EIO.  Stateless; thread-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sys/fault.h"
#include "sys/fileio.h"
#include "sys/sys.h"

/* -errno, with errno set to match. */
static int fail(int err)
{
    errno = err;
    return -err;
}

static int injected(mgov_fault_kind_t kind)
{
    return mgov__fault_now(kind) ? fail(mgov__fault_errno(kind)) : 0;
}

int mgov__openat(int dirfd, const char *path, int flags, mode_t mode)
{
    int rc = injected(MGOV_FAULT_OPEN);
    if (rc)
        return rc;
    int fd;
    do
        fd = openat(dirfd, path, flags, mode);
    while (fd < 0 && errno == EINTR);
    return fd >= 0 ? fd : fail(errno);
}

int mgov__open(const char *path, int flags, mode_t mode)
{
    return mgov__openat(AT_FDCWD, path, flags, mode);
}

/* write or pwrite (off < 0: the file offset) until done. */
static int write_loop(int fd, const void *buf, size_t n, off_t off)
{
    int rc = injected(MGOV_FAULT_WRITE);
    if (rc)
        return rc;
    const char *p = buf;
    while (n > 0) {
        ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return fail(errno);
        }
        if (w == 0)
            return fail(EIO);
        p += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return 0;
}

int mgov__write_all(int fd, const void *buf, size_t n)
{
    return write_loop(fd, buf, n, -1);
}

int mgov__pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
    return off < 0 ? fail(EINVAL) : write_loop(fd, buf, n, off);
}

/* Moves iov past `done` bytes; returns the iovecs left. */
static int iov_advance(struct iovec **iovp, int iovcnt, size_t done)
{
    struct iovec *iov = *iovp;
    while (iovcnt > 0 && (done > 0 || iov->iov_len == 0)) {
        size_t take = done < iov->iov_len ? done : iov->iov_len;
        iov->iov_base = (char *)iov->iov_base + take;
        iov->iov_len -= take;
        done -= take;
        if (iov->iov_len == 0) {
            iov++;
            iovcnt--;
        }
    }
    *iovp = iov;
    return iovcnt;
}

int mgov__writev_all(int fd, struct iovec *iov, int iovcnt)
{
    int rc = injected(MGOV_FAULT_WRITE);
    if (rc)
        return rc;
    iovcnt = iov_advance(&iov, iovcnt, 0);
    while (iovcnt > 0) {
        ssize_t w = writev(fd, iov, iovcnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return fail(errno);
        }
        if (w == 0)
            return fail(EIO);
        iovcnt = iov_advance(&iov, iovcnt, (size_t)w);
    }
    return 0;
}

static int read_loop(int fd, void *buf, size_t n, off_t off, size_t *got)
{
    *got = 0;
    int rc = injected(MGOV_FAULT_READ);
    if (rc)
        return rc;
    char *p = buf;
    while (*got < n) {
        ssize_t r = off < 0 ? read(fd, p + *got, n - *got) : pread(fd, p + *got, n - *got, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fail(errno);
        }
        if (r == 0)
            break; /* end of file */
        *got += (size_t)r;
        if (off >= 0)
            off += r;
    }
    return 0;
}

int mgov__read_full(int fd, void *buf, size_t n, size_t *got)
{
    return read_loop(fd, buf, n, -1, got);
}

int mgov__pread_full(int fd, void *buf, size_t n, off_t off, size_t *got)
{
    if (off < 0) {
        *got = 0;
        return fail(EINVAL);
    }
    return read_loop(fd, buf, n, off, got);
}

int mgov__preadv_full(int fd, struct iovec *iov, int iovcnt, off_t off, size_t *got)
{
    *got = 0;
    if (off < 0)
        return fail(EINVAL);
    int rc = injected(MGOV_FAULT_READ);
    if (rc)
        return rc;
    iovcnt = iov_advance(&iov, iovcnt, 0);
    while (iovcnt > 0) {
        ssize_t r = preadv(fd, iov, iovcnt, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fail(errno);
        }
        if (r == 0)
            break; /* end of file */
        *got += (size_t)r;
        off += r;
        iovcnt = iov_advance(&iov, iovcnt, (size_t)r);
    }
    return 0;
}

int mgov__fsync(int fd)
{
    int rc = injected(MGOV_FAULT_FSYNC);
    if (rc)
        return rc;
    while (fsync(fd) != 0)
        if (errno != EINTR)
            return fail(errno);
    return 0;
}

int mgov__renameat(int fromdir, const char *from, int todir, const char *to)
{
    int rc = injected(MGOV_FAULT_RENAME);
    if (rc)
        return rc;
    return renameat(fromdir, from, todir, to) == 0 ? 0 : fail(errno);
}

int mgov__renameat_noreplace(int fromdir, const char *from, int todir, const char *to)
{
    int rc = injected(MGOV_FAULT_RENAME);
    if (rc)
        return rc;
    if (renameat2(fromdir, from, todir, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL)
        return fail(errno);
    /* no RENAME_NOREPLACE here: a new link fails with EEXIST just the same */
    if (linkat(fromdir, from, todir, to, 0) != 0)
        return fail(errno == EPERM ? EINVAL : errno); /* EPERM: a directory */
    if (unlinkat(fromdir, from, 0) != 0) {
        int err = errno;
        unlinkat(todir, to, 0); /* the new link: `from` still holds the file */
        return fail(err);
    }
    return 0;
}

int mgov__mkdirat(int dirfd, const char *path, mode_t mode)
{
    int rc = injected(MGOV_FAULT_MKDIR);
    if (rc)
        return rc;
    return mkdirat(dirfd, path, mode) == 0 ? 0 : fail(errno);
}

int mgov__rename(const char *from, const char *to)
{
    return mgov__renameat(AT_FDCWD, from, AT_FDCWD, to);
}

int mgov__mmap(size_t len, int prot, int flags, int fd, off_t off, void **out)
{
    *out = NULL;
    int rc = injected(MGOV_FAULT_MMAP);
    if (rc)
        return rc;
    void *p = mmap(NULL, len, prot, flags, fd, off);
    if (p == MAP_FAILED)
        return fail(errno);
    *out = p;
    return 0;
}

#define HUGE_PAGE ((size_t)2 << 20)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels say EINVAL */
#endif

/* len bytes of anonymous read-write memory at a 2 MiB-aligned address:
 * mapped 2 MiB larger, the ends cut off.  0, or -errno. */
static int map_aligned(size_t len, int flags, uint8_t **out)
{
    if (len > SIZE_MAX - HUGE_PAGE)
        return fail(ENOMEM);
    size_t span = len + HUGE_PAGE;
    uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return fail(errno);
    uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (p + span > a + len)
        munmap(a + len, (size_t)(p + span - (a + len)));
    *out = a;
    return 0;
}

int mgov__mmap_anon(size_t len, int populate, void **out)
{
    *out = NULL;
    int rc = injected(MGOV_FAULT_MMAP);
    if (rc)
        return rc;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    if (len < MGOV__HUGE_MIN) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | (populate ? MAP_POPULATE : 0),
                       -1, 0);
        if (p == MAP_FAILED)
            return fail(errno);
        *out = p;
        return 0;
    }
    uint8_t *a;
    if ((rc = map_aligned(len, flags, &a)) != 0)
        return rc;
    mgov__pages_advise_huge(a, len);
    if (populate)
        mgov__pages_populate(a, len);
    *out = a;
    return 0;
}

int mgov__mremap(void **p, size_t old_len, size_t new_len)
{
    int rc = injected(MGOV_FAULT_MMAP);
    if (rc)
        return rc;
    void *q = mremap(*p, old_len, new_len, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return fail(errno);
    *p = q;
    return 0;
}

int mgov__munmap(void *p, size_t len)
{
    return munmap(p, len) == 0 ? 0 : fail(errno);
}

int mgov__mmap_reserve(size_t len, void **out)
{
    *out = NULL;
    int rc = injected(MGOV_FAULT_MMAP);
    if (rc)
        return rc;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (len < HUGE_PAGE) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
        if (p == MAP_FAILED)
            return fail(errno);
        *out = p;
        return 0;
    }
    uint8_t *a; /* its 2 MiB runs can be huge pages (mgov__pages_huge_runs) */
    if ((rc = map_aligned(len, flags, &a)) == 0)
        *out = a;
    return rc;
}

void mgov__pages_huge_runs(void *base, size_t from, size_t to)
{
    size_t a = from & ~(HUGE_PAGE - 1), b = to & ~(HUGE_PAGE - 1); /* runs newly whole */
    if (((uintptr_t)base & (HUGE_PAGE - 1)) == 0 && b > a)
        mgov__pages_advise_huge((uint8_t *)base + a, b - a);
}

void mgov__pages_no_huge_from(void *base, size_t from, size_t to)
{
#ifdef MADV_NOHUGEPAGE
    size_t a = from & ~(HUGE_PAGE - 1);
    if (((uintptr_t)base & (HUGE_PAGE - 1)) == 0 && to > a)
        (void)madvise((uint8_t *)base + a, to - a, MADV_NOHUGEPAGE);
#else
    (void)base;
    (void)from;
    (void)to;
#endif
}

void mgov__pages_advise_huge(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    if (len)
        (void)madvise(p, len, MADV_HUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

void mgov__pages_populate(void *p, size_t len)
{
    if (len && madvise(p, len, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) {
        volatile uint8_t *v = p; /* an older kernel: fault them by hand */
        size_t page = mgov__page_size();
        for (size_t off = 0; off < len; off += page)
            v[off] = v[off];
    }
}

void mgov__pages_discard(void *p, size_t len)
{
    if (len)
        (void)madvise(p, len, MADV_DONTNEED); /* advice on our own mapping: cannot fail usefully */
}

int mgov__unlinkat(int dirfd, const char *path, int flags)
{
    return unlinkat(dirfd, path, flags) == 0 ? 0 : fail(errno);
}

int mgov__status_from_errno(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case ENOSPC:
    case EDQUOT:
        return MGOV_ENOSPC;
    case ENOMEM:
    case EMFILE:
    case ENFILE:
        return MGOV_ENOMEM;
    default:
        return MGOV_EIO;
    }
}
