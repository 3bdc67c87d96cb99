/* spill/spill_signal.c - removing this process's spill files from a signal
 * handler (mgov_spill_cleanup_from_signal, memgov/spill.h).
 *
 * Every open spill directory is listed in a fixed table of slots, so the
 * handler needs no lock and no allocation: it walks the table, and in each
 * directory it can take, lists the entries with getdents64 on a fresh
 * descriptor and unlinks what this layer makes (spill-<n>.tmp, the lock
 * file; in a private directory also the files kept under the reserved
 * prefix, then the directory itself).  Only system calls and the string
 * functions POSIX calls async-signal-safe.
 *
 * A slot's state:
 *   FREE -> BUSY (an open fills it) -> READY
 *   READY -> CLEANING (the handler works in it) -> READY
 *   READY -> BUSY (a close takes it back; it waits while CLEANING) -> FREE
 * so the handler never uses descriptors a close has started to let go of,
 * and a close never lets them go while the handler uses them.  A handler
 * that interrupts an open or a close in progress skips that directory.
 * A directory opened when every slot is taken is not listed (the table
 * has room for far more directories than a process has open).
 *
 * Locking: none; the slots' states are atomics (acquire/release pairs
 * noted below), the other fields are written only in BUSY.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spill/spill_internal.h"
#include "spill/spill_kept.h"

#define SLOTS 256
#define PASSES 4 /* listings of one directory: unlinking while listing may skip names */

enum { FREE, BUSY, READY, CLEANING };

typedef struct slot {
    _Atomic int state;
    int dirfd, parentfd;
    bool is_private;
    char name[64]; /* private: the directory's name in parentfd */
} slot_t;

static slot_t slots[SLOTS];

/* A linux_dirent64 record, as getdents64(2) lays them out. */
typedef struct dent {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
} dent_t;

void mgov__spill_signal_add(mgov_spill_dir_t *dir)
{
    dir->sig_slot = -1;
    if (dir->is_private && strlen(dir->name) >= sizeof slots[0].name)
        return;
    for (int i = 0; i < SLOTS; i++) {
        int free_state = FREE;
        if (!atomic_compare_exchange_strong_explicit(&slots[i].state, &free_state, BUSY,
                                                     memory_order_acquire, memory_order_relaxed))
            continue;
        slot_t *s = &slots[i];
        s->dirfd = dir->dirfd;
        s->parentfd = dir->parentfd;
        s->is_private = dir->is_private;
        strcpy(s->name, dir->is_private ? dir->name : "");
        /* release: pairs with the handler's acquire CAS; it sees the fields */
        atomic_store_explicit(&s->state, READY, memory_order_release);
        dir->sig_slot = i;
        return;
    }
}

void mgov__spill_signal_remove(mgov_spill_dir_t *dir)
{
    if (dir->sig_slot < 0)
        return;
    slot_t *s = &slots[dir->sig_slot];
    for (;;) {
        int ready = READY;
        /* acquire: pairs with the handler's release when it is done here */
        if (atomic_compare_exchange_weak_explicit(&s->state, &ready, BUSY, memory_order_acquire,
                                                  memory_order_relaxed))
            break;
        sched_yield(); /* a handler is cleaning it: that takes a moment */
    }
    /* release: the next open's acquire CAS sees the slot as we left it */
    atomic_store_explicit(&s->state, FREE, memory_order_release);
    dir->sig_slot = -1;
}

static bool ours(const slot_t *s, const char *name)
{
    return mgov__spill_tmp_name(name) || strcmp(name, MGOV__SPILL_LOCK_NAME) == 0 ||
           (s->is_private && strncmp(name, MGOV__SPILL_KEPT_PREFIX,
                                     sizeof MGOV__SPILL_KEPT_PREFIX - 1) == 0);
}

/* One listing of the slot's directory: unlinks our regular files; how many. */
static unsigned clean_pass(const slot_t *s)
{
    int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned removed = 0;
    _Alignas(8) char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long at = 0; at < n;) {
            const dent_t *d = (const dent_t *)(buf + at);
            at += d->reclen;
            struct stat st;
            if (!ours(s, d->name) ||
                fstatat(s->dirfd, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            if (unlinkat(s->dirfd, d->name, 0) == 0)
                removed++;
        }
    }
    close(fd);
    return removed;
}

unsigned mgov_spill_cleanup_from_signal(void)
{
    int saved = errno; /* a handler must leave errno as it found it */
    unsigned removed = 0;
    for (int i = 0; i < SLOTS; i++) {
        slot_t *s = &slots[i];
        int ready = READY;
        /* acquire: pairs with the open's release (the fields are set) */
        if (!atomic_compare_exchange_strong_explicit(&s->state, &ready, CLEANING,
                                                     memory_order_acquire, memory_order_relaxed))
            continue;
        for (int pass = 0; pass < PASSES; pass++) {
            unsigned n = clean_pass(s);
            removed += n;
            if (!n)
                break;
        }
        if (s->is_private)
            unlinkat(s->parentfd, s->name, AT_REMOVEDIR);
        /* release: pairs with a close's acquire CAS, which then closes */
        atomic_store_explicit(&s->state, READY, memory_order_release);
    }
    errno = saved;
    return removed;
}
