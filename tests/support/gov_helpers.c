/* gov_helpers.c - test helpers for the governor tests (see gov_helpers.h).
 *
 * The mock consumer keeps its RAM bytes in a real grant, so evicting and
 * spilling move the governor's accounting exactly as a real consumer would:
 * evict shrinks the grant, spill shrinks it and counts the bytes "on disk",
 * reload takes them back with a fresh grant merged into the held one.
 *
 * Locking: one mutex per log and per mock; never held while calling a hook,
 * and the mock never calls the governor's reserve path (which could reclaim)
 * while holding its mutex, only shrinks and merges (no callbacks).
 */
#include "gov_helpers.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ------------------------------------------------------------ event log */

gh_evlog_t *gh_evlog_new(void)
{
    gh_evlog_t *log = calloc(1, sizeof *log);
    assert_non_null(log);
    pthread_mutex_init(&log->mu, NULL);
    return log;
}

void gh_evlog_free(gh_evlog_t *log)
{
    if (!log)
        return;
    pthread_mutex_destroy(&log->mu);
    free(log);
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, MGOV_NAME_MAX + 1, "%s", src);
}

void gh_evlog_cb(void *ctx, const mgov_event_t *ev)
{
    gh_evlog_t *log = ctx;
    pthread_mutex_lock(&log->mu);
    if (log->n < GH_EVLOG_MAX) {
        gh_event_t *e = &log->ev[log->n++];
        memset(e, 0, sizeof *e);
        e->ev = *ev;
        e->ev.name = NULL;
        e->ev.region_name = NULL;
        if (ev->name) {
            e->has_name = true;
            copy_name(e->name, ev->name);
        }
        if (ev->region_name) {
            e->has_region_name = true;
            copy_name(e->region_name, ev->region_name);
        }
    } else {
        log->dropped++;
    }
    pthread_mutex_unlock(&log->mu);
}

void gh_evlog_clear(gh_evlog_t *log)
{
    pthread_mutex_lock(&log->mu);
    log->n = 0;
    log->dropped = 0;
    pthread_mutex_unlock(&log->mu);
}

size_t gh_evlog_count(gh_evlog_t *log, mgov_event_type_t type)
{
    size_t k = 0;
    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i < log->n; i++)
        k += log->ev[i].ev.type == type;
    pthread_mutex_unlock(&log->mu);
    return k;
}

bool gh_evlog_nth(gh_evlog_t *log, mgov_event_type_t type, size_t idx, gh_event_t *out)
{
    bool found = false;
    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i < log->n; i++) {
        if (log->ev[i].ev.type != type)
            continue;
        if (idx-- == 0) {
            *out = log->ev[i];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&log->mu);
    return found;
}

size_t gh_evlog_all(gh_evlog_t *log, mgov_event_type_t type, gh_event_t *out, size_t max)
{
    size_t k = 0;
    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i < log->n && k < max; i++)
        if (log->ev[i].ev.type == type)
            out[k++] = log->ev[i];
    pthread_mutex_unlock(&log->mu);
    return k;
}

bool gh_evlog_named(gh_evlog_t *log, mgov_event_type_t type, const char *name, size_t idx,
                    gh_event_t *out)
{
    bool found = false;
    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i < log->n; i++) {
        const gh_event_t *e = &log->ev[i];
        if (e->ev.type != type || !e->has_name || strcmp(e->name, name) != 0)
            continue;
        if (idx-- == 0) {
            *out = *e;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&log->mu);
    return found;
}

/* ------------------------------------------------------------- call log */

gh_calllog_t *gh_calllog_new(void)
{
    gh_calllog_t *cl = calloc(1, sizeof *cl);
    assert_non_null(cl);
    pthread_mutex_init(&cl->mu, NULL);
    return cl;
}

void gh_calllog_free(gh_calllog_t *cl)
{
    if (!cl)
        return;
    pthread_mutex_destroy(&cl->mu);
    free(cl);
}

void gh_calllog_clear(gh_calllog_t *cl)
{
    pthread_mutex_lock(&cl->mu);
    cl->n = 0;
    pthread_mutex_unlock(&cl->mu);
}

void gh_calllog_add(gh_calllog_t *cl, const char *name, gh_op_t op, uint64_t target)
{
    pthread_mutex_lock(&cl->mu);
    if (cl->n < GH_CALLLOG_MAX) {
        gh_call_t *c = &cl->calls[cl->n++];
        copy_name(c->name, name);
        c->op = op;
        c->target = target;
    }
    pthread_mutex_unlock(&cl->mu);
}

static void append(char *buf, size_t cap, size_t *len, const char *s)
{
    int n = snprintf(buf + *len, cap - *len, "%s%s", *len ? "," : "", s);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

const char *gh_calllog_names(gh_calllog_t *cl, gh_op_t op, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&cl->mu);
    for (size_t i = 0; i < cl->n; i++)
        if (cl->calls[i].op == op)
            append(buf, cap, &len, cl->calls[i].name);
    pthread_mutex_unlock(&cl->mu);
    return buf;
}

const char *gh_calllog_str(gh_calllog_t *cl, char *buf, size_t cap)
{
    static const char letters[] = "uesrt";
    size_t len = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&cl->mu);
    for (size_t i = 0; i < cl->n; i++) {
        char one[MGOV_NAME_MAX + 4];
        snprintf(one, sizeof one, "%s:%c", cl->calls[i].name, letters[cl->calls[i].op]);
        append(buf, cap, &len, one);
    }
    pthread_mutex_unlock(&cl->mu);
    return buf;
}

/* ---------------------------------------------------------- mock consumer */

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

static void note(gh_mock_t *m, gh_op_t op, uint64_t target)
{
    if (m->calls)
        gh_calllog_add(m->calls, m->name, op, target);
    if (m->hook)
        m->hook(m, op, target);
}

static uint64_t mock_usage(void *ctx)
{
    gh_mock_t *m = ctx;
    atomic_fetch_add(&m->n_usage, 1);
    note(m, GH_OP_USAGE, 0);
    pthread_mutex_lock(&m->mu);
    uint64_t u = m->grant.bytes + m->spilled;
    pthread_mutex_unlock(&m->mu);
    return u;
}

static uint64_t mock_evict(void *ctx, uint64_t target)
{
    gh_mock_t *m = ctx;
    atomic_fetch_add(&m->n_evict, 1);
    atomic_store(&m->last_evict_target, target);
    note(m, GH_OP_EVICT, target);
    pthread_mutex_lock(&m->mu);
    uint64_t n = min3(target, atomic_load(&m->evict_max), m->grant.bytes);
    if (n && m->grant.gov)
        assert_int_equal(mgov_grant_resize(&m->grant, m->grant.bytes - n), MGOV_OK);
    pthread_mutex_unlock(&m->mu);
    return n + atomic_load(&m->evict_report_extra);
}

static int mock_spill(void *ctx, uint64_t target, uint64_t *freed)
{
    gh_mock_t *m = ctx;
    atomic_fetch_add(&m->n_spill, 1);
    atomic_store(&m->last_spill_target, target);
    note(m, GH_OP_SPILL, target);
    int rc = atomic_load(&m->spill_rc);
    if (rc != MGOV_OK) {
        *freed = 0;
        return rc;
    }
    pthread_mutex_lock(&m->mu);
    uint64_t n = min3(target, atomic_load(&m->spill_max), m->grant.bytes);
    if (n && m->grant.gov)
        assert_int_equal(mgov_grant_resize(&m->grant, m->grant.bytes - n), MGOV_OK);
    m->spilled += n;
    pthread_mutex_unlock(&m->mu);
    *freed = n;
    return MGOV_OK;
}

static int mock_reload(void *ctx)
{
    gh_mock_t *m = ctx;
    atomic_fetch_add(&m->n_reload, 1);
    note(m, GH_OP_RELOAD, 0);
    int rc = atomic_load(&m->reload_rc);
    if (rc != MGOV_OK)
        return rc;
    pthread_mutex_lock(&m->mu);
    uint64_t want = m->spilled;
    pthread_mutex_unlock(&m->mu);
    /* Reserve outside the mock's lock: the reserve path may reclaim. */
    mgov_grant_t g = MGOV_GRANT_INIT;
    rc = mgov_try_reserve(m->gov, m->region, want, MGOV_NO_RECLAIM, &g);
    if (rc != MGOV_OK)
        return rc;
    pthread_mutex_lock(&m->mu);
    if (m->grant.gov)
        assert_int_equal(mgov_grant_merge(&m->grant, &g), MGOV_OK);
    else
        m->grant = g;
    m->spilled -= want;
    if (m->tier_forced == MGOV_TIER_ON_DISK)
        m->tier_forced = -1;
    pthread_mutex_unlock(&m->mu);
    return MGOV_OK;
}

static mgov_tier_t mock_tier(void *ctx)
{
    gh_mock_t *m = ctx;
    atomic_fetch_add(&m->n_tier, 1);
    note(m, GH_OP_TIER, 0);
    pthread_mutex_lock(&m->mu);
    mgov_tier_t t;
    if (m->tier_forced >= 0)
        t = (mgov_tier_t)m->tier_forced;
    else if (m->grant.bytes)
        t = MGOV_TIER_IN_MEMORY;
    else if (m->spilled)
        t = MGOV_TIER_ON_DISK;
    else
        t = MGOV_TIER_UNINITIALIZED;
    pthread_mutex_unlock(&m->mu);
    return t;
}

void gh_mock_init(gh_mock_t *m, mgov_t *gov, const char *name, int region, unsigned ops_mask,
                  gh_calllog_t *calls)
{
    memset(m, 0, sizeof *m);
    m->gov = gov;
    atomic_init(&m->c, NULL);
    copy_name(m->name, name);
    m->region = region;
    m->calls = calls;
    pthread_mutex_init(&m->mu, NULL);
    m->tier_forced = -1;
    atomic_init(&m->evict_max, UINT64_MAX);
    atomic_init(&m->spill_max, UINT64_MAX);
    atomic_init(&m->spill_rc, MGOV_OK);
    atomic_init(&m->reload_rc, MGOV_OK);
    if (ops_mask & GH_HAS_USAGE)
        m->ops.usage = mock_usage;
    if (ops_mask & GH_HAS_EVICT)
        m->ops.evict = mock_evict;
    if (ops_mask & GH_HAS_SPILL)
        m->ops.spill = mock_spill;
    if (ops_mask & GH_HAS_RELOAD)
        m->ops.reload = mock_reload;
    if (ops_mask & GH_HAS_TIER)
        m->ops.tier = mock_tier;
}

void gh_mock_hold(gh_mock_t *m, uint64_t bytes, unsigned flags)
{
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(m->gov, m->region, bytes, flags, &g), MGOV_OK);
    pthread_mutex_lock(&m->mu);
    if (m->grant.gov)
        assert_int_equal(mgov_grant_merge(&m->grant, &g), MGOV_OK);
    else
        m->grant = g;
    pthread_mutex_unlock(&m->mu);
}

int gh_mock_register(gh_mock_t *m, unsigned priority, unsigned flags)
{
    mgov_consumer_config_t cfg = {
        .name = m->name, .region = m->region, .priority = priority, .flags = flags,
        .ops = &m->ops, .ctx = m,
    };
    mgov_consumer_t *c = NULL;
    int rc = mgov_consumer_register(m->gov, &cfg, &c);
    if (rc == MGOV_OK)
        atomic_store(&m->c, c);
    return rc;
}

uint64_t gh_mock_held(gh_mock_t *m)
{
    pthread_mutex_lock(&m->mu);
    uint64_t b = m->grant.bytes;
    pthread_mutex_unlock(&m->mu);
    return b;
}

uint64_t gh_mock_spilled(gh_mock_t *m)
{
    pthread_mutex_lock(&m->mu);
    uint64_t b = m->spilled;
    pthread_mutex_unlock(&m->mu);
    return b;
}

void gh_mock_set_spilled(gh_mock_t *m, uint64_t bytes)
{
    pthread_mutex_lock(&m->mu);
    m->spilled = bytes;
    pthread_mutex_unlock(&m->mu);
}

void gh_mock_force_tier(gh_mock_t *m, int tier)
{
    pthread_mutex_lock(&m->mu);
    m->tier_forced = tier;
    pthread_mutex_unlock(&m->mu);
}

int gh_mock_unregister(gh_mock_t *m)
{
    mgov_consumer_t *c = atomic_exchange(&m->c, NULL);
    if (!c)
        return MGOV_EINVAL;
    return mgov_consumer_unregister(c);
}

void gh_mock_fini(gh_mock_t *m)
{
    mgov_consumer_t *c = atomic_exchange(&m->c, NULL);
    if (c)
        assert_int_equal(mgov_consumer_unregister(c), MGOV_OK);
    pthread_mutex_lock(&m->mu);
    mgov_grant_release(&m->grant);
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_destroy(&m->mu);
}

/* -------------------------------------------------------------- threads */

void gh_wait_waiters(mgov_t *gov, unsigned n)
{
    mgov_stats_t s;
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
        if (s.waiters == n)
            return;
        gh_sleep_ms(1);
    }
    fail_msg("%llu requests wait in the governor, not %u", (unsigned long long)s.waiters, n);
}

unsigned long gh_stress_ops(unsigned long dflt)
{
    const char *env = getenv("MGOV_STRESS_OPS");
    long n = env ? atol(env) : 0;
    return n > 0 ? (unsigned long)n : dflt;
}

uint64_t gh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool gh_sem_wait_ms(sem_t *s, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    for (;;) {
        if (sem_timedwait(s, &ts) == 0)
            return true;
        if (errno != EINTR)
            return false;
    }
}

void gh_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static mgov_t *gov_create(mgov_config_t *cfg)
{
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(cfg, &gov), MGOV_OK);
    assert_non_null(gov);
    return gov;
}

mgov_t *gh_gov_new(uint64_t budget, gh_evlog_t *log)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = budget;
    if (log) {
        cfg.on_event = gh_evlog_cb;
        cfg.event_ctx = log;
    }
    return gov_create(&cfg);
}

mgov_t *gh_gov_regions(uint64_t budget, const mgov_region_config_t *regions, unsigned n)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = budget;
    cfg.regions = regions;
    cfg.n_regions = n;
    return gov_create(&cfg);
}

mgov_grant_t gh_take(mgov_t *gov, int region, uint64_t bytes, unsigned flags)
{
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, region, bytes, flags, &g), MGOV_OK);
    assert_int_equal(g.bytes, bytes);
    return g;
}

uint64_t gh_region_used(mgov_t *gov, int region)
{
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    return s.regions[region].used;
}
