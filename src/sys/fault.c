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

#include "memgov/common.h"
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

/* Memory order: arming writes a kind's fields relaxed, then sets `armed`
 * with release; a call that finds it armed reads it again with acquire
 * before it reads them, so it sees the fields of that arming (the disarmed
 * path stays one relaxed load).  The counters are counts: relaxed. */
#define R memory_order_relaxed

static void arm(mgov_fault_kind_t kind, long after, long count, int err, bool crash,
                void (*hook)(void *), void *hook_arg)
{
    fault_t *f = &faults[kind];
    atomic_store_explicit(&f->armed, false, R);
    atomic_store_explicit(&f->pass, after < 0 ? 0 : after, R);
    atomic_store_explicit(&f->fail, count, R);
    atomic_store_explicit(&f->hits, 0, R);
    atomic_store_explicit(&f->err, err > 0 ? err : 0, R);
    atomic_store_explicit(&f->crash, crash, R);
    atomic_store_explicit(&f->hook_arg, hook_arg, R);
    atomic_store_explicit(&f->hook, hook, R);
    /* release: pairs with the acquire load in mgov__fault_now */
    atomic_store_explicit(&f->armed, count != 0, memory_order_release);
}

void mgov__fault_arm_errno(mgov_fault_kind_t kind, long after, long count, int err)
{
    arm(kind, after, count, err, false, NULL, NULL);
}

void mgov__fault_arm_hook(mgov_fault_kind_t kind, long after, void (*fn)(void *), void *arg)
{
    arm(kind, after, 1, 0, false, fn, arg);
}

void mgov__fault_arm_crash(mgov_fault_kind_t kind, long after)
{
    arm(kind, after, 1, 0, true, NULL, NULL);
}

void mgov__fault_arm(mgov_fault_kind_t kind, long after, long count)
{
    arm(kind, after, count, 0, false, NULL, NULL);
}

void mgov__fault_disarm_all(void)
{
    for (int k = 0; k < MGOV_FAULT_KINDS; k++)
        atomic_store_explicit(&faults[k].armed, false, R); /* publishes nothing */
}

long mgov__fault_hits(mgov_fault_kind_t kind)
{
    return atomic_load_explicit(&faults[kind].hits, R);
}

bool mgov__fault_now(mgov_fault_kind_t kind)
{
    fault_t *f = &faults[kind];
    if (!atomic_load_explicit(&f->armed, R))
        return false;
    /* acquire: pairs with the release in arm() (a load, not a fence: gcc's
     * TSan does not support atomic_thread_fence) */
    if (!atomic_load_explicit(&f->armed, memory_order_acquire))
        return false;
    if (atomic_fetch_sub_explicit(&f->pass, 1, R) > 0)
        return false;
    long left = atomic_load_explicit(&f->fail, R);
    if (left == 0)
        return false;
    if (left > 0 && atomic_fetch_sub_explicit(&f->fail, 1, R) <= 0)
        return false;
    atomic_fetch_add_explicit(&f->hits, 1, R);
    if (atomic_load_explicit(&f->crash, R))
        raise(SIGKILL); /* a crash test's power cut: before the call happens */
    void (*hook)(void *) = atomic_load_explicit(&f->hook, R);
    if (hook) {
        hook(atomic_load_explicit(&f->hook_arg, R)); /* a test's pause point */
        return false;
    }
    return true;
}

int mgov__fault_errno(mgov_fault_kind_t kind)
{
    int err = atomic_load_explicit(&faults[kind].err, R);
    if (err)
        return err;
    return kind == MGOV_FAULT_ALLOC ? ENOMEM : EIO;
}

void *mgov__malloc(size_t n)
{
    return mgov__fault_now(MGOV_FAULT_ALLOC) ? NULL : malloc(n);
}

int mgov__array_room(void *arrp, size_t n, size_t *cap, size_t elem, size_t first)
{
    if (n < *cap)
        return MGOV_OK;
    size_t c = *cap ? *cap * 2 : first;
    void *grown = mgov__malloc(c * elem);
    if (!grown)
        return MGOV_ENOMEM;
    void **arr = arrp;
    if (n)
        memcpy(grown, *arr, n * elem);
    free(*arr);
    *arr = grown;
    *cap = c;
    return MGOV_OK;
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
