/* governor/governor.c - creating, configuring and destroying a governor.
 *
 * Everything fixed at create (regions, thresholds' fractions, flags, the
 * event callback) is validated and copied here, so the hot paths read plain
 * fields.  The budget alone changes at run time (mgov_set_budget); it and
 * the byte thresholds derived from it are atomics.
 *
 * Destroy reports what is still alive (grants per region, consumers) through
 * the event callback and frees it all.  It must not race with any other use
 * of the governor.
 */
#include <stdlib.h>
#include <string.h>

#include "governor/internal.h"
#include "memgov/sysinfo.h"
#include "sys/fault.h"
#include "sys/sys.h"

static const mgov_region_config_t default_regions[] = {
    { "graph_storage", 0, 0 },
    { "index_buffers", 0, 0 },
    { "execution_buffers", 0, 0 },
    { "spill_staging", 0, 0 },
};

static bool region_name_ok(const char *name)
{
    size_t n = name ? strnlen(name, MGOV_NAME_MAX + 1) : 0;
    if (n == 0 || n > MGOV_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static double or_default(double v, double def)
{
    return v == 0 ? def : v;
}

static int copy_regions(mgov_t *gov, const mgov_config_t *cfg, uint64_t budget)
{
    const mgov_region_config_t *rc = default_regions;
    unsigned n = 4;
    if (cfg->regions) {
        if (cfg->n_regions == 0 || cfg->n_regions > MGOV_MAX_REGIONS)
            return MGOV_EINVAL;
        rc = cfg->regions;
        n = cfg->n_regions;
    } else if (cfg->n_regions) {
        return MGOV_EINVAL;
    }
    gov->n_regions = n;
    gov->spill_region = -1;
    uint64_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!region_name_ok(rc[i].name))
            return MGOV_EINVAL;
        for (unsigned j = 0; j < i; j++)
            if (strcmp(rc[i].name, rc[j].name) == 0)
                return MGOV_EINVAL;
        if (rc[i].limit && rc[i].limit < rc[i].reserved)
            return MGOV_EINVAL;
        if (rc[i].reserved > budget || total + rc[i].reserved > budget)
            return MGOV_EINVAL;
        total += rc[i].reserved;
        mgov_region_t *r = &gov->regions[i];
        strcpy(r->name, rc[i].name);
        atomic_init(&r->set[0].reserved, rc[i].reserved);
        atomic_init(&r->set[0].limit, rc[i].limit);
        atomic_init(&r->limit_hint, rc[i].limit);
        r->own_limit = rc[i].limit;
        if (strcmp(r->name, "spill_staging") == 0)
            gov->spill_region = (int)i;
    }
    atomic_init(&gov->total_reserved, total);
    gov->has_reservations = total > 0 || (cfg->flags & MGOV_RESERVATIONS);
    /* committed starts as the sum of max(0, reserved) over empty regions */
    atomic_init(&gov->committed, total);
    return MGOV_OK;
}

static void destroy_locks(mgov_t *gov)
{
    pthread_mutex_destroy(&gov->regions_lock);
    pthread_mutex_destroy(&gov->sources_lock);
    pthread_mutex_destroy(&gov->pressure_lock);
    for (unsigned i = 0; i < MGOV__LAYER_SLOTS; i++)
        pthread_mutex_destroy(&gov->layer_lock[i]);
    pthread_mutex_destroy(&gov->wait_lock);
    pthread_mutex_destroy(&gov->consumers_lock);
    pthread_cond_destroy(&gov->consumer_cond);
    pthread_mutex_destroy(&gov->reclaim_lock);
    pthread_cond_destroy(&gov->reclaim_cond);
}

int mgov_create(const mgov_config_t *cfg, mgov_t **out)
{
    static const mgov_config_t defaults = MGOV_CONFIG_INIT;
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    if (!cfg)
        cfg = &defaults;

    uint64_t budget = cfg->budget;
    if (budget == 0) {
        int rc = mgov_default_budget(&budget);
        if (rc != MGOV_OK)
            return rc;
    }
    if (budget == 0 || budget > MGOV_BUDGET_MAX)
        return MGOV_EINVAL;
    double mod = or_default(cfg->moderate, 0.70), high = or_default(cfg->high, 0.85);
    double crit = or_default(cfg->critical, 0.95), hyst = or_default(cfg->hysteresis, 0.02);
    if (!(mod > 0 && mod < high && high < crit && crit <= 1.0) || !(hyst > 0 && hyst < 0.5))
        return MGOV_EINVAL;
    if (cfg->flags & ~(unsigned)(MGOV_RSS_PRESSURE | MGOV_KERNEL_PRESSURE | MGOV_REBALANCE |
                                 MGOV_RESERVATIONS))
        return MGOV_EINVAL;

    /* aligned_alloc: the hot counters are cache-line aligned members */
    size_t size = (sizeof(mgov_t) + MGOV__CACHELINE - 1) / MGOV__CACHELINE * MGOV__CACHELINE;
    mgov_t *gov = mgov__aligned_alloc(MGOV__CACHELINE, size);
    if (!gov)
        return MGOV_ENOMEM;
    memset(gov, 0, sizeof *gov);
    int rc = copy_regions(gov, cfg, budget);
    if (rc != MGOV_OK) {
        free(gov);
        return rc;
    }
    if (cfg->spill_dir && !(gov->spill_dir = mgov__strdup(cfg->spill_dir))) {
        free(gov);
        return MGOV_ENOMEM;
    }
    gov->spill_quota = cfg->spill_quota;
    gov->flags = cfg->flags;
    gov->on_event = cfg->on_event;
    gov->event_ctx = cfg->event_ctx;
    gov->level_frac[1] = mod;
    gov->level_frac[2] = high;
    gov->level_frac[3] = crit;
    gov->hyst_frac = hyst;
    gov->watch_interval_ms = cfg->watch_interval_ms ? cfg->watch_interval_ms : 1000;
    gov->rebalance_interval_ms = cfg->rebalance_interval_ms ? cfg->rebalance_interval_ms : 100;
    atomic_init(&gov->budget, budget);

    /* glibc's mutexes and condition variables cannot fail to initialize */
    pthread_mutex_init(&gov->regions_lock, NULL);
    pthread_mutex_init(&gov->sources_lock, NULL);
    pthread_mutex_init(&gov->pressure_lock, NULL);
    for (unsigned i = 0; i < MGOV__LAYER_SLOTS; i++)
        pthread_mutex_init(&gov->layer_lock[i], NULL);
    pthread_mutex_init(&gov->wait_lock, NULL);
    pthread_mutex_init(&gov->consumers_lock, NULL);
    mgov__cond_init_monotonic(&gov->consumer_cond);
    pthread_mutex_init(&gov->reclaim_lock, NULL);
    mgov__cond_init_monotonic(&gov->reclaim_cond);

    mgov__thresholds_set(gov, budget);
    uint64_t rss = mgov_rss_now();
    atomic_init(&gov->rss, rss);
    atomic_init(&gov->rss_peak, rss);
    /* where the kernel counts this process's memory (mgov_stats' real):
     * looked up once; NULL outside a cgroup v2 or when the system's
     * memory cannot be told (not an error) */
    gov->cgroup_dir = mgov__cgroup_v2_dir();
    /* the host budget before the monitor: the monitor's reclaims may
     * charge.  The budget a host member governs is the shared one, unless
     * it asked for less (a host is joined before the budget is known) */
    rc = mgov__host_link(gov, cfg);
    if (rc == MGOV_OK && gov->host) {
        uint64_t shared = mgov__host_shared_budget(gov);
        if (!cfg->budget || cfg->budget > shared)
            budget = shared;
        if (budget < atomic_load_explicit(&gov->total_reserved, memory_order_relaxed))
            rc = MGOV_EINVAL; /* the regions' reservations pass the shared budget */
        atomic_store(&gov->budget, budget);
        mgov__thresholds_set(gov, budget);
    }
    /* the watcher, the rebalancer and the stats file share one thread,
     * started only when asked for; a failure to start it is an error */
    if (rc != MGOV_OK || (rc = mgov__monitor_start(gov)) != MGOV_OK) {
        mgov__host_unlink(gov);
        destroy_locks(gov);
        free(gov->cgroup_dir);
        free(gov->spill_dir);
        free(gov);
        return rc;
    }
    *out = gov;
    return MGOV_OK;
}

int mgov_destroy(mgov_t *gov)
{
    if (!gov)
        return MGOV_OK;
    /* the monitor thread first: it reclaims and changes limits */
    mgov__monitor_stop(gov);
    /* then the host agent, which reclaims too; the lease goes back whole */
    mgov__host_unlink(gov);
    /* the layers' states go first, top down (sections use the spill
     * directory); removing them needs no grant */
    mgov__layers_destroy(gov);
    bool leaked = gov->n_consumers > 0;
    for (unsigned i = 0; i < gov->n_regions; i++) {
        uint64_t grants = mgov__region_grants(gov, (int)i);
        uint64_t bytes = mgov__region_used(gov, (int)i);
        if (!grants && !bytes)
            continue;
        leaked = true;
        if (mgov__has_events(gov)) {
            mgov_event_t ev;
            mgov__event_init(&ev, MGOV_EV_LEAKED_GRANTS, gov, (int)i);
            ev.count = grants;
            ev.bytes = bytes;
            mgov__emit(gov, &ev);
        }
    }
    mgov__consumers_destroy(gov);
    destroy_locks(gov);
    free(gov->cgroup_dir);
    free(gov->spill_dir);
    free(gov);
    return leaked ? MGOV_ELEAKED : MGOV_OK;
}

uint64_t mgov_budget(const mgov_t *gov)
{
    return gov ? atomic_load_explicit(&gov->budget, memory_order_relaxed) : 0;
}

uint64_t mgov_used(const mgov_t *gov)
{
    return gov ? atomic_load_explicit(&gov->used, memory_order_relaxed) : 0;
}

int mgov_set_budget(mgov_t *gov, uint64_t bytes)
{
    if (!gov || bytes == 0 || bytes > MGOV_BUDGET_MAX)
        return MGOV_EINVAL;
    /* regions_lock: the reservations cannot grow past the new budget
     * meanwhile (mgov_region_set checks under it too) */
    pthread_mutex_lock(&gov->regions_lock);
    if (bytes < atomic_load_explicit(&gov->total_reserved, memory_order_relaxed)) {
        pthread_mutex_unlock(&gov->regions_lock);
        return MGOV_EINVAL;
    }
    /* seq_cst: the budget is the ceiling of urgent requests; a larger one
     * is a release, paired as level_bytes[3] is (mgov__thresholds_set) */
    uint64_t old = atomic_exchange(&gov->budget, bytes);
    pthread_mutex_unlock(&gov->regions_lock);
    mgov__thresholds_set(gov, bytes);
    mgov__pressure_update(gov);
    if (mgov__has_events(gov)) {
        mgov_event_t ev;
        mgov__event_init(&ev, MGOV_EV_BUDGET, gov, -1);
        ev.bytes = bytes;
        ev.used = atomic_load_explicit(&gov->used, memory_order_relaxed);
        mgov__emit(gov, &ev);
    }
    uint64_t used = atomic_load_explicit(&gov->used, memory_order_relaxed);
    uint64_t ceiling = atomic_load_explicit(&gov->level_bytes[3], memory_order_relaxed);
    if (bytes < old && used > ceiling)
        mgov__reclaim_pass(gov, used - ceiling, MGOV_PRESSURE_CRITICAL, -1);
    /* Growing lets waiters in; shrinking may make some impossible.
     * seq_cst: after the new ceilings, and pairs with the waiters' seq_cst reads
     * (wait.c), so no waiter refused under the old ones is missed. */
    if (atomic_load(&gov->n_waiters))
        mgov__wake_waiters(gov);
    return MGOV_OK;
}

const char *mgov_spill_dir(const mgov_t *gov)
{
    return gov ? gov->spill_dir : NULL;
}

uint64_t mgov_spill_quota(const mgov_t *gov)
{
    return gov ? gov->spill_quota : 0;
}

int mgov_region_find(const mgov_t *gov, const char *name)
{
    if (!gov || !name)
        return MGOV_EINVAL;
    for (unsigned i = 0; i < gov->n_regions; i++)
        if (strcmp(gov->regions[i].name, name) == 0)
            return (int)i;
    return MGOV_ENOTFOUND;
}

unsigned mgov_region_count(const mgov_t *gov)
{
    return gov ? gov->n_regions : 0;
}

const char *mgov_region_name(const mgov_t *gov, int region)
{
    if (!gov || region < 0 || (unsigned)region >= gov->n_regions)
        return NULL;
    return gov->regions[region].name;
}

int mgov__region_resolve(const mgov_t *gov, const char *name, const char *dflt, int *region)
{
    if (!gov || !region)
        return MGOV_EINVAL;
    int r = mgov_region_find(gov, name ? name : dflt ? dflt : "");
    if (r < 0) {
        if (name)
            return MGOV_ENOTFOUND;
        r = 0;
    }
    *region = r;
    return MGOV_OK;
}

int mgov__region_spill(const mgov_t *gov)
{
    return gov->spill_region >= 0 ? gov->spill_region : 0;
}
