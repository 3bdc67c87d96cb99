/* governor/host_link.c - the governor's side of a host budget
 * (memgov/host.h): joining it at create, leaving it at destroy, growing
 * the lease when a charge passes it, and the callbacks the host layer's
 * agent makes (give back by reclaim, let waiters retry).
 *
 * The host layer sits below the governor (host/host.h) and reaches it
 * only through these callbacks and two counters, `used` and `lease`.
 * Without a host, `lease` is UINT64_MAX and nothing here runs.
 *
 * Locking: none of its own.  The callbacks run in the host agent's thread
 * with no lock held; mgov__host_lease_grow may run under wait_lock (a
 * waiter scan charges), which the host layer's locks nest inside.
 */
#include <string.h>

#include "governor/internal.h"
#include "host/host.h"

static void host_reclaim(void *ctx, uint64_t bytes)
{
    mgov_t *gov = ctx;
    /* the host needs memory back now: spilling is fair game */
    mgov__reclaim_pass(gov, bytes, MGOV_PRESSURE_HIGH, -1);
}

static void host_room(void *ctx)
{
    mgov__wake_waiters(ctx);
}

static unsigned host_waiters(void *ctx)
{
    mgov_t *gov = ctx;
    return atomic_load_explicit(&gov->n_waiters, memory_order_relaxed);
}

static int host_level(void *ctx)
{
    return (int)mgov_pressure(ctx);
}

int mgov__host_link(mgov_t *gov, const mgov_config_t *cfg)
{
    atomic_init(&gov->lease, UINT64_MAX);
    if (!cfg->host)
        return MGOV_OK;
    mgov__host_config_t hc = { .name = cfg->host, .budget = cfg->host_budget,
                               .weight = cfg->host_weight, .guarantee = cfg->host_guarantee };
    mgov__host_ops_t ops = { .ctx = gov, .used = &gov->used, .lease = &gov->lease,
                             .reclaim = host_reclaim, .room = host_room,
                             .waiters = host_waiters, .level = host_level };
    /* nothing is leased until the first charge asks */
    atomic_store(&gov->lease, 0);
    int rc = mgov__host_attach(&hc, &ops, &gov->host);
    if (rc != MGOV_OK)
        atomic_store(&gov->lease, UINT64_MAX);
    return rc;
}

uint64_t mgov__host_shared_budget(const mgov_t *gov)
{
    return gov->host ? mgov__host_budget(gov->host) : 0;
}

void mgov__host_unlink(mgov_t *gov)
{
    mgov__host_detach(gov->host);
    gov->host = NULL;
}

bool mgov__host_lease_grow(mgov_t *gov, uint64_t need)
{
    return gov->host && mgov__host_grow(gov->host, need);
}

int mgov_host_member(mgov_t *gov, mgov_host_member_t *out)
{
    if (!gov || !out)
        return MGOV_EINVAL;
    if (!gov->host)
        return MGOV_ENOTFOUND;
    return mgov__host_member(gov->host, out);
}
