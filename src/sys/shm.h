/* sys/shm.h - internal: the system calls of memory shared between
 * processes (src/host/): POSIX shared memory objects, open file
 * description (OFD) locks on them, and futexes in a shared mapping.
 *
 * Conventions as sys/fileio.h: 0 (or a descriptor) on success, -errno on
 * failure with errno set to match; EINTR retried where a retry is right.
 * Injected failures (sys/fault.h) happen before the system call:
 * MGOV_FAULT_SHM for mgov__shm_open and mgov__shm_size, MGOV_FAULT_LOCK for
 * taking an OFD lock.  Unlinking, unlocking, probing and the futex calls
 * are never injected: failure paths and waits use them.
 *
 * OFD locks (fcntl F_OFD_*) belong to the open file description, not to a
 * process or thread: the kernel drops them when the last descriptor of the
 * description is closed, which a process's death does, whatever killed it.
 * They do not depend on pids, so pid reuse and pid namespaces cannot fool
 * them.  Two descriptions in one process (two shm_open calls) conflict as
 * two processes would; one description never conflicts with itself.
 *
 * Thread safety: as the system calls they wrap.
 */
#ifndef MGOV_SYS_SHM_H
#define MGOV_SYS_SHM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* shm_open(3) with O_CLOEXEC | O_NOFOLLOW added: a descriptor, or -errno. */
int mgov__shm_open(const char *name, int flags, mode_t mode);
/* shm_unlink(3): 0 or -errno. */
int mgov__shm_unlink(const char *name);
/* ftruncate(2) of a shared memory object to len bytes: 0 or -errno. */
int mgov__shm_size(int fd, off_t len);

/* Takes an exclusive OFD lock on bytes [off, off+len) of fd without
 * waiting: 0, -EAGAIN when another description holds a conflicting lock,
 * or another -errno. */
int mgov__ofd_lock(int fd, off_t off, off_t len);
/* Releases the OFD lock on [off, off+len): 0 or -errno. */
int mgov__ofd_unlock(int fd, off_t off, off_t len);
/* Whether another description holds a lock on some byte of [off,
 * off+len): 1 yes, 0 no, -errno when the kernel cannot say. */
int mgov__ofd_held(int fd, off_t off, off_t len);

/* FUTEX_WAIT (shared: the word lies in a shared mapping) while *word ==
 * expected, at most timeout_ns (< 0: no limit).  0 when woken or the word
 * differs, -ETIMEDOUT, -EINTR (a signal: callers re-check and wait again). */
int mgov__futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);
/* FUTEX_WAKE of up to n waiters on word: how many were woken, or -errno. */
int mgov__futex_wake(uint32_t *word, int n);

#endif /* MGOV_SYS_SHM_H */
