/* sys/fileio.h - internal: the file operations of the library.
 *
 * Every open, read, write, fsync, rename and mmap memgov makes goes through
 * these wrappers, so a test can make any of them fail with the errno it
 * chooses (sys/fault.h: MGOV_FAULT_OPEN, _WRITE, _READ, _FSYNC, _RENAME,
 * _MKDIR, _MMAP: mgov__mmap, mgov__mmap_anon, mgov__mmap_reserve,
 * mgov__mremap).
 * An injected failure happens before the system call, so it has no effect
 * on the file.
 *
 * Conventions: a wrapper returns 0 (or a descriptor) on success and -errno
 * on failure, with errno set to the same value, so a caller can turn it into
 * a status and still leave errno for its own caller.  EINTR is retried;
 * short reads and writes are continued until done (reads stop early only at
 * the end of the file).
 *
 * Named fileio, not file: src/ is on the include path, and a sys/file.h
 * here would hide the system's <sys/file.h> (flock) from every source.
 *
 * Thread safety: as the system calls they wrap.
 */
#ifndef MGOV_SYS_FILEIO_H
#define MGOV_SYS_FILEIO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "memgov/common.h"

/* open(2) / openat(2): a descriptor, or -errno. */
int mgov__open(const char *path, int flags, mode_t mode);
int mgov__openat(int dirfd, const char *path, int flags, mode_t mode);

/* Writes all n bytes at the file offset / at `off`: 0 or -errno (bytes
 * may have been written before the error). */
int mgov__write_all(int fd, const void *buf, size_t n);
int mgov__pwrite_all(int fd, const void *buf, size_t n, off_t off);

/* writev(2) until every iovec is written: as mgov__write_all.  iov is
 * consumed (advanced) as it goes. */
int mgov__writev_all(int fd, struct iovec *iov, int iovcnt);

/* Reads up to n bytes from the file offset / from `off`; *got < n only at
 * the end of the file.  0 or -errno (*got then says what was read). */
int mgov__read_full(int fd, void *buf, size_t n, size_t *got);
int mgov__pread_full(int fd, void *buf, size_t n, off_t off, size_t *got);

/* preadv(2) until every iovec is full or the end of the file: the same
 * contract as mgov__pread_full.  iov is consumed (advanced) as it fills. */
int mgov__preadv_full(int fd, struct iovec *iov, int iovcnt, off_t off, size_t *got);

int mgov__fsync(int fd);
int mgov__rename(const char *from, const char *to);
int mgov__renameat(int fromdir, const char *from, int todir, const char *to);
/* Moves `from` to `to` only if nothing is at `to` (-EEXIST then, and
 * nothing changes): renameat2(RENAME_NOREPLACE), never following a
 * symlink at either name.  On a file system without it (EINVAL), a
 * regular file or a symlink is moved by linkat + unlinkat, which cannot
 * replace anything either; a directory there is -EINVAL.  Injected as
 * MGOV_FAULT_RENAME. */
int mgov__renameat_noreplace(int fromdir, const char *from, int todir, const char *to);
/* mkdirat(2): 0 or -errno; injected as MGOV_FAULT_MKDIR. */
int mgov__mkdirat(int dirfd, const char *path, mode_t mode);

/* mmap(2): 0 with *out set, or -errno (*out = NULL). */
int mgov__mmap(size_t len, int prot, int flags, int fd, off_t off, void **out);
int mgov__munmap(void *p, size_t len);
/* An anonymous read-write mapping of len bytes (a multiple of the page
 * size) for large, long-lived data, injected as MGOV_FAULT_MMAP.  From
 * MGOV__HUGE_MIN bytes on it is aligned to 2 MiB and advised
 * MADV_HUGEPAGE, so where the kernel gives transparent huge pages it is
 * faulted in 2 MiB at a time (a 1 GiB reload: ~0.2 s instead of ~0.45 s of
 * page faults).  With populate its pages are faulted in now
 * (MADV_POPULATE_WRITE or MAP_POPULATE; advice: a failure there is not an
 * error).  Its resident size never exceeds len.  0, or -errno. */
#define MGOV__HUGE_MIN ((size_t)4 << 20)
int mgov__mmap_anon(size_t len, int populate, void **out);
/* mremap(2) with MREMAP_MAYMOVE (injected as MGOV_FAULT_MMAP): 0 with *p
 * updated, or -errno (*p unchanged and still mapped). */
int mgov__mremap(void **p, size_t old_len, size_t new_len);

/* Address space only: len bytes (a multiple of the page size) mapped
 * read-write with MAP_NORESERVE, so pages become resident (and count) only
 * as they are first written; for memory that grows in place up to a bound
 * known at the start (an operator's records, a hash table).  From 2 MiB on
 * it is 2 MiB-aligned.  Injected as MGOV_FAULT_MMAP.  0 with *out set, or
 * -errno. */
int mgov__mmap_reserve(size_t len, void **out);
/* On a reservation (base 2 MiB-aligned; nothing otherwise): advises huge
 * pages for the 2 MiB runs of it that lie wholly below `to` but not below
 * `from` (a use grown from `from` to `to` bytes), so a run that is
 * all in use faults in as one page (on this kind of machine a 4 KiB page's
 * first touch costs microseconds, a huge page's barely more); and takes
 * the advice back from the run holding `from` up to `to`, for a range no
 * longer in use (so no huge page can reach past what is charged). */
void mgov__pages_huge_runs(void *base, size_t from, size_t to);
void mgov__pages_no_huge_from(void *base, size_t from, size_t to);
/* Advice on an anonymous mapping of ours, never an error: huge pages for
 * [p, p+len) (MADV_HUGEPAGE; p and len 2 MiB multiples give whole huge
 * pages, and none can reach past the mapping's end), and faulting
 * [p, p+len) in now (MADV_POPULATE_WRITE, or touching a byte a page on
 * kernels without it): one call instead of a trap per page. */
void mgov__pages_advise_huge(void *p, size_t len);
void mgov__pages_populate(void *p, size_t len);

/* Gives the pages of [p, p+len) back to the system (MADV_DONTNEED): they
 * read as zeros if touched again.  p and len page-aligned.  Never injected:
 * giving memory back is what failure paths do. */
void mgov__pages_discard(void *p, size_t len);

/* unlinkat(2) (flags 0 or AT_REMOVEDIR); never injected: removing is what
 * failure paths do. */
int mgov__unlinkat(int dirfd, const char *path, int flags);

/* The status for an errno from a system call, in one place: ENOSPC and
 * EDQUOT are MGOV_ENOSPC (a full disk or quota), ENOMEM (and EMFILE,
 * ENFILE: out of descriptors) are MGOV_ENOMEM, anything else MGOV_EIO.
 * err may be given as errno or as -errno (the wrappers' returns). */
int mgov__status_from_errno(int err);

#endif /* MGOV_SYS_FILEIO_H */
