/* sys/fault.c - fault injection for tests (see fault.h).
 *
 * Each kind has an "armed" flag, a countdown of calls to let through, a
 * count of failures to inject and the errno they report.  The flag keeps the
 * disarmed path to one relaxed load.  Counters are atomics: arming from one
 * thread while another allocates is well defined, only the exact call that
 * fails is not.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sys/fault.h"

typedef struct {
    _Atomic bool armed;
    _Atomic long pass;  /* calls still to let through */
    _Atomic long fail;  /* failures still to inject; < 0 = forever */
    _Atomic long hits;
    _Atomic int err;    /* errno of a failing call; 0 = the kind's default */
    _Atomic bool crash; /* the first failing call kills the process instead */
    void (*_Atomic hook)(void *); /* or calls this and lets the call go on */
    void *_Atomic hook_arg;
} fault_t;

static fault_t faults[MGOV_FAULT_KINDS];

void mgov__fault_arm_errno(mgov_fault_kind_t kind, long after, long count, int err)
{
    fault_t *f = &faults[kind];
    atomic_store(&f->armed, false);
    atomic_store(&f->pass, after < 0 ? 0 : after);
    atomic_store(&f->fail, count);
    atomic_store(&f->hits, 0);
    atomic_store(&f->err, err > 0 ? err : 0);
    atomic_store(&f->crash, false);
    atomic_store(&f->hook, NULL);
    atomic_store(&f->armed, count != 0);
}

void mgov__fault_arm_hook(mgov_fault_kind_t kind, long after, void (*fn)(void *), void *arg)
{
    mgov__fault_arm_errno(kind, after, 1, 0);
    atomic_store(&faults[kind].hook_arg, arg);
    atomic_store(&faults[kind].hook, fn);
}

void mgov__fault_arm_crash(mgov_fault_kind_t kind, long after)
{
    mgov__fault_arm_errno(kind, after, 1, 0);
    atomic_store(&faults[kind].crash, true);
}

void mgov__fault_arm(mgov_fault_kind_t kind, long after, long count)
{
    mgov__fault_arm_errno(kind, after, count, 0);
}

void mgov__fault_disarm_all(void)
{
    for (int k = 0; k < MGOV_FAULT_KINDS; k++)
        atomic_store(&faults[k].armed, false);
}

long mgov__fault_hits(mgov_fault_kind_t kind)
{
    return atomic_load(&faults[kind].hits);
}

bool mgov__fault_now(mgov_fault_kind_t kind)
{
    fault_t *f = &faults[kind];
    if (!atomic_load_explicit(&f->armed, memory_order_relaxed))
        return false;
    if (atomic_fetch_sub(&f->pass, 1) > 0)
        return false;
    long left = atomic_load(&f->fail);
    if (left == 0)
        return false;
    if (left > 0 && atomic_fetch_sub(&f->fail, 1) <= 0)
        return false;
    atomic_fetch_add(&f->hits, 1);
    if (atomic_load(&f->crash))
        raise(SIGKILL); /* a crash test's power cut: before the call happens */
    void (*hook)(void *) = atomic_load(&f->hook);
    if (hook) {
        hook(atomic_load(&f->hook_arg)); /* a test's pause point */
        return false;
    }
    return true;
}

int mgov__fault_errno(mgov_fault_kind_t kind)
{
    int err = atomic_load(&faults[kind].err);
    if (err)
        return err;
    return kind == MGOV_FAULT_ALLOC ? ENOMEM : EIO;
}

void *mgov__malloc(size_t n)
{
    return mgov__fault_now(MGOV_FAULT_ALLOC) ? NULL : malloc(n);
}

void *mgov__calloc(size_t n, size_t size)
{
    return mgov__fault_now(MGOV_FAULT_ALLOC) ? NULL : calloc(n, size);
}

void *mgov__aligned_alloc(size_t align, size_t n)
{
    return mgov__fault_now(MGOV_FAULT_ALLOC) ? NULL : aligned_alloc(align, n);
}

char *mgov__strdup(const char *s)
{
    return mgov__fault_now(MGOV_FAULT_ALLOC) ? NULL : strdup(s);
}
