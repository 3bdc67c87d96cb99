/* sys/fault.h - internal: fault injection, so tests can walk every failure
 * path (STYLE.md: "fail the Nth allocation, write, fsync or mmap").
 *
 * Library code allocates through mgov__malloc and friends, and does its file
 * I/O through the wrappers of sys/fileio.h; each checks its kind's countdown
 * first.  Tests arm a kind: the next `after` calls succeed, then `count`
 * calls fail (count < 0: all of them), then calls succeed again.  A failing
 * file operation reports the errno chosen with mgov__fault_arm_errno (EIO by
 * default; ENOSPC or EDQUOT play a full disk); a failing allocation returns
 * NULL.  Disarmed (the default) the cost is one relaxed atomic load.
 *
 * Thread safety: arming is atomic per kind; a test that arms a kind should
 * not expect a precise count while other threads make the same calls.
 */
#ifndef MGOV_SYS_FAULT_H
#define MGOV_SYS_FAULT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    MGOV_FAULT_ALLOC,  /* mgov__malloc, mgov__calloc, mgov__aligned_alloc, mgov__strdup */
    MGOV_FAULT_OPEN,   /* mgov__open, mgov__openat */
    MGOV_FAULT_WRITE,  /* mgov__write_all, mgov__pwrite_all */
    MGOV_FAULT_READ,   /* mgov__read_full, mgov__pread_full */
    MGOV_FAULT_FSYNC,  /* mgov__fsync */
    MGOV_FAULT_RENAME, /* mgov__rename, mgov__renameat */
    MGOV_FAULT_MMAP,   /* mgov__mmap, mgov__mmap_anon, mgov__mmap_reserve, mgov__mremap */
    MGOV_FAULT_SHM,    /* mgov__shm_open, mgov__shm_size (sys/shm.h) */
    MGOV_FAULT_LOCK,   /* mgov__ofd_lock (sys/shm.h): taking a lock, never releasing one */
    MGOV_FAULT_MKDIR,  /* mgov__mkdirat */
    MGOV_FAULT_KINDS
} mgov_fault_kind_t;

/* Arms `kind` with the default errno (EIO; ENOMEM for MGOV_FAULT_ALLOC). */
void mgov__fault_arm(mgov_fault_kind_t kind, long after, long count);
/* Arms `kind`; its failing calls report `err` (0: the default). */
void mgov__fault_arm_errno(mgov_fault_kind_t kind, long after, long count, int err);
/* Arms `kind` so that the call after the next `after` kills the process
 * with SIGKILL before it happens: crash tests cut the power there. */
void mgov__fault_arm_crash(mgov_fault_kind_t kind, long after);
/* Arms `kind` so that the call after the next `after` first runs fn(arg)
 * in the calling thread, then happens normally: tests pause an operation
 * at a chosen point (fn must not make calls of the same kind). */
void mgov__fault_arm_hook(mgov_fault_kind_t kind, long after, void (*fn)(void *), void *arg);
void mgov__fault_disarm_all(void);
/* How many calls of this kind failed because of injection, since arming. */
long mgov__fault_hits(mgov_fault_kind_t kind);
/* True when this call must fail (counts it). */
bool mgov__fault_now(mgov_fault_kind_t kind);
/* The errno a failing call of this kind reports. */
int mgov__fault_errno(mgov_fault_kind_t kind);

void *mgov__malloc(size_t n);
/* Makes room for one more element in the array *arrp (a T **; n elements
 * in use, *cap allocated, elem bytes each), doubling from `first`:
 * MGOV_OK, or MGOV_ENOMEM with the array as it was.  Allocates through
 * mgov__malloc, so MGOV_FAULT_ALLOC fails it. */
int mgov__array_room(void *arrp, size_t n, size_t *cap, size_t elem, size_t first);
void *mgov__calloc(size_t n, size_t size);
void *mgov__aligned_alloc(size_t align, size_t n);
char *mgov__strdup(const char *s);

#endif /* MGOV_SYS_FAULT_H */
