/* gov_helpers.h - test helpers for the governor: an event recorder, a log
 * of consumer calls (to observe reclaim order), a scriptable mock consumer,
 * and small threading utilities (semaphores with deadlines, sleeping).
 *
 * Lifecycle
 *   gh_evlog_new -> pass gh_evlog_cb/log as on_event/event_ctx -> read it
 *   -> gh_evlog_free (after mgov_destroy: destroy reports leaks through it).
 *   gh_mock_init -> gh_mock_hold (takes a grant) -> gh_mock_register ->
 *   ... -> gh_mock_fini (unregisters unless already gone, releases the grant).
 *
 * Threading
 *   The event log and the call log are mutex-protected: events may come from
 *   any thread.  A mock's state is guarded by its own mutex (m->mu) or is
 *   atomic, so its ops may run in several threads at once.  Ops call the
 *   optional hook first, with no helper lock held, so a hook may block,
 *   re-enter the governor or unregister consumers.
 *
 * The helpers use cmocka's assertions for setup steps that must not fail.
 */
#ifndef MGOV_TEST_GOV_HELPERS_H
#define MGOV_TEST_GOV_HELPERS_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/governor.h"

#define GH_KiB ((uint64_t)1 << 10)
#define GH_MiB ((uint64_t)1 << 20)
#define GH_GiB ((uint64_t)1 << 30)

/* ------------------------------------------------------------ event log */

#define GH_EVLOG_MAX 4096

typedef struct gh_event {
    mgov_event_t ev;        /* copy; its string pointers are cleared */
    char name[MGOV_NAME_MAX + 1];
    char region_name[MGOV_NAME_MAX + 1];
    bool has_name, has_region_name;
} gh_event_t;

typedef struct gh_evlog {
    pthread_mutex_t mu;
    size_t n, dropped;
    gh_event_t ev[GH_EVLOG_MAX];
} gh_evlog_t;

/* Allocated on the heap (the log is large). */
gh_evlog_t *gh_evlog_new(void);
void gh_evlog_free(gh_evlog_t *log);
void gh_evlog_cb(void *ctx, const mgov_event_t *ev);
void gh_evlog_clear(gh_evlog_t *log);
size_t gh_evlog_count(gh_evlog_t *log, mgov_event_type_t type);
/* The idx-th (0-based) event of `type` copied into *out; false if none. */
bool gh_evlog_nth(gh_evlog_t *log, mgov_event_type_t type, size_t idx, gh_event_t *out);
/* All events of `type` in order, up to max; returns how many. */
size_t gh_evlog_all(gh_evlog_t *log, mgov_event_type_t type, gh_event_t *out, size_t max);
/* The event of `type` about consumer `name`, the idx-th such. */
bool gh_evlog_named(gh_evlog_t *log, mgov_event_type_t type, const char *name, size_t idx,
                    gh_event_t *out);

/* ------------------------------------------------------------- call log */

typedef enum { GH_OP_USAGE, GH_OP_EVICT, GH_OP_SPILL, GH_OP_RELOAD, GH_OP_TIER } gh_op_t;

#define GH_CALLLOG_MAX 1024

typedef struct gh_call {
    char name[MGOV_NAME_MAX + 1];
    gh_op_t op;
    uint64_t target;
} gh_call_t;

typedef struct gh_calllog {
    pthread_mutex_t mu;
    size_t n;
    gh_call_t calls[GH_CALLLOG_MAX];
} gh_calllog_t;

gh_calllog_t *gh_calllog_new(void);
void gh_calllog_free(gh_calllog_t *cl);
void gh_calllog_clear(gh_calllog_t *cl);
void gh_calllog_add(gh_calllog_t *cl, const char *name, gh_op_t op, uint64_t target);
/* Names of the calls of `op`, in order, joined with ',' into buf. */
const char *gh_calllog_names(gh_calllog_t *cl, gh_op_t op, char *buf, size_t cap);
/* Every call as "name:op" joined with ',' (op: u e s r t). */
const char *gh_calllog_str(gh_calllog_t *cl, char *buf, size_t cap);

/* ---------------------------------------------------------- mock consumer */

enum {
    GH_HAS_USAGE = 1u,
    GH_HAS_EVICT = 2u,
    GH_HAS_SPILL = 4u,
    GH_HAS_RELOAD = 8u,
    GH_HAS_TIER = 16u,
    GH_HAS_ALL = 31u,
};

typedef struct gh_mock gh_mock_t;
/* Called at the start of each op (before the mock does its work).  Runs with
 * no helper lock held. */
typedef void (*gh_hook_fn)(gh_mock_t *m, gh_op_t op, uint64_t target);

struct gh_mock {
    mgov_t *gov;
    _Atomic(mgov_consumer_t *) c; /* NULL once unregistered */
    char name[MGOV_NAME_MAX + 1];
    int region;
    gh_calllog_t *calls;          /* optional */
    mgov_consumer_ops_t ops;

    pthread_mutex_t mu;           /* guards grant, spilled, tier_forced */
    mgov_grant_t grant;           /* the bytes it holds in RAM */
    uint64_t spilled;             /* bytes "on disk" */
    int tier_forced;              /* -1, or the mgov_tier_t the tier op returns */

    /* behaviour (set before the ops can run, or atomically) */
    _Atomic uint64_t evict_max;   /* most bytes one evict frees (0: none) */
    _Atomic uint64_t spill_max;   /* most bytes one spill frees */
    _Atomic uint64_t evict_report_extra; /* added to evict's result, not freed */
    _Atomic int spill_rc, reload_rc;     /* forced error when != MGOV_OK */
    gh_hook_fn hook;
    void *hook_arg;

    /* observations */
    _Atomic unsigned n_usage, n_evict, n_spill, n_reload, n_tier;
    _Atomic uint64_t last_evict_target, last_spill_target;
};

/* Initializes a mock with every op in `ops_mask`; evict and spill free up
 * to everything they hold. */
void gh_mock_init(gh_mock_t *m, mgov_t *gov, const char *name, int region, unsigned ops_mask,
                  gh_calllog_t *calls);
/* Takes `bytes` in its region (flags for the reserve); asserts success. */
void gh_mock_hold(gh_mock_t *m, uint64_t bytes, unsigned flags);
/* Registers it; returns the status. */
int gh_mock_register(gh_mock_t *m, unsigned priority, unsigned flags);
uint64_t gh_mock_held(gh_mock_t *m);
uint64_t gh_mock_spilled(gh_mock_t *m);
void gh_mock_set_spilled(gh_mock_t *m, uint64_t bytes); /* plays "already on disk" */
void gh_mock_force_tier(gh_mock_t *m, int tier);        /* -1 = derived */
/* Unregisters (if still registered) and releases its grant. */
void gh_mock_fini(gh_mock_t *m);
/* Unregisters it; returns the status and clears m->c. */
int gh_mock_unregister(gh_mock_t *m);

/* -------------------------------------------------------------- threads */

/* sem_wait with a deadline in ms; returns true when it got the semaphore. */
bool gh_sem_wait_ms(sem_t *s, unsigned ms);
void gh_sleep_ms(unsigned ms);
uint64_t gh_now_ns(void);
/* Polls mgov_stats (1 ms steps, up to 10 s) until exactly n requests wait
 * in the governor; fails the case otherwise. */
void gh_wait_waiters(mgov_t *gov, unsigned n);
/* Operations a stress thread makes: MGOV_STRESS_OPS when it is set to a
 * positive number, else dflt. */
unsigned long gh_stress_ops(unsigned long dflt);

/* A governor with default regions, given budget and optional event log;
 * asserts success. */
mgov_t *gh_gov_new(uint64_t budget, gh_evlog_t *log);
/* The same with the given regions (NULL, 0: the defaults) and no log. */
mgov_t *gh_gov_regions(uint64_t budget, const mgov_region_config_t *regions, unsigned n);
/* Bytes the governor counts in one region now (from mgov_stats). */
uint64_t gh_region_used(mgov_t *gov, int region);
/* Runs mgov_try_reserve; asserts success; returns the grant. */
mgov_grant_t gh_take(mgov_t *gov, int region, uint64_t bytes, unsigned flags);

#endif /* MGOV_TEST_GOV_HELPERS_H */
