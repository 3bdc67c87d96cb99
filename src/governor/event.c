/* governor/event.c - delivering events to the user's callback, and
 * describing them for people.
 *
 * Events are built on the emitting thread's stack and handed to the
 * callback at once, with no governor lock held.  seq comes from one atomic
 * counter, so it orders events even when threads deliver them concurrently.
 */
#include <stdio.h>
#include <string.h>

#include "governor/internal.h"
#include "memgov/size.h"
#include "sys/sys.h"

void mgov__event_init(mgov_event_t *ev, mgov_event_type_t type, const mgov_t *gov, int region)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->region = region;
    ev->region_name = region >= 0 ? gov->regions[region].name : NULL;
    ev->level = ev->old_level =
        (mgov_pressure_t)atomic_load_explicit(&gov->level, memory_order_relaxed);
}

void mgov__emit(mgov_t *gov, mgov_event_t *ev)
{
    if (!gov->on_event)
        return;
    /* relaxed: seq numbers events; it orders no other data */
    ev->seq = atomic_fetch_add_explicit(&gov->event_seq, 1, memory_order_relaxed) + 1;
    ev->time_ns = mgov__now_ns();
    gov->on_event(gov->event_ctx, ev);
}

static const char *const type_names[] = { /* from MGOV_EVENT_TYPE_MAP (memgov/governor.h) */
#define XX(name, value, str) [MGOV_EV_##name] = str,
    MGOV_EVENT_TYPE_MAP(XX)
#undef XX
};

const char *mgov_event_type_name(mgov_event_type_t type)
{
    if ((unsigned)type >= sizeof type_names / sizeof type_names[0] || !type_names[type])
        return "unknown";
    return type_names[type];
}

size_t mgov_event_format(const mgov_event_t *ev, char *buf, size_t cap)
{
    if (!ev)
        return 0;
    char b[32], f[32], u[32];
    if (ev->bytes == UINT64_MAX) /* spill_all and spill_consumer ask for everything */
        snprintf(b, sizeof b, "everything");
    else
        mgov_size_format(ev->bytes, b, sizeof b);
    mgov_size_format(ev->freed, f, sizeof f);
    mgov_size_format(ev->used, u, sizeof u);
    const char *region = ev->region_name ? ev->region_name : "-";
    const char *name = ev->name ? ev->name : "-";
    double ms = (double)ev->duration_ns / 1e6;
    int n;
    switch (ev->type) {
    case MGOV_EV_PRESSURE:
        n = snprintf(buf, cap, "pressure %s -> %s (used %s)", mgov_pressure_name(ev->old_level),
                     mgov_pressure_name(ev->level), u);
        break;
    case MGOV_EV_RECLAIM:
        n = snprintf(buf, cap, "reclaim at %s: asked %s, freed %s in %.2f ms (used %s)",
                     mgov_pressure_name(ev->level), b, f, ms, u);
        break;
    case MGOV_EV_EVICTED:
    case MGOV_EV_SPILLED:
        n = snprintf(buf, cap, "%s %s (%s): asked %s, freed %s",
                     ev->type == MGOV_EV_EVICTED ? "evicted" : "spilled", name, region, b, f);
        break;
    case MGOV_EV_SPILL_FAILED:
    case MGOV_EV_RELOAD_FAILED:
        n = snprintf(buf, cap, "%s %s (%s): %s",
                     ev->type == MGOV_EV_SPILL_FAILED ? "spill failed for" : "reload failed for",
                     name, region, mgov_strerror(ev->status));
        break;
    case MGOV_EV_RELOADED:
        n = snprintf(buf, cap, "reloaded %s (%s): %s", name, region, b);
        break;
    case MGOV_EV_REFUSED:
        n = snprintf(buf, cap, "refused %s in %s: %s", b, region, mgov_strerror(ev->status));
        break;
    case MGOV_EV_WAIT:
        n = snprintf(buf, cap, "waiting for %s in %s", b, region);
        break;
    case MGOV_EV_WAITED:
        n = snprintf(buf, cap, "granted %s in %s after waiting %.2f ms", b, region, ms);
        break;
    case MGOV_EV_TIMEOUT:
        n = snprintf(buf, cap, "timed out waiting for %s in %s after %.2f ms", b, region, ms);
        break;
    case MGOV_EV_LEAKED_GRANTS:
        n = snprintf(buf, cap, "leaked %llu grant(s) holding %s in %s",
                     (unsigned long long)ev->count, b, region);
        break;
    case MGOV_EV_LEAKED_CONSUMER:
        n = snprintf(buf, cap, "leaked consumer %s (%s)", name, region);
        break;
    case MGOV_EV_BUDGET:
        n = snprintf(buf, cap, "budget set to %s (used %s)", b, u);
        break;
    case MGOV_EV_OVERRIDE:
        n = snprintf(buf, cap, "%s: tier override %s applied at open (%s)", name,
                     ev->count == 1 ? "force_disk" : ev->count == 2 ? "force_ram" : "auto", b);
        break;
    case MGOV_EV_LEAKED_BLOCKS:
        n = snprintf(buf, cap, "heap %s (%s) destroyed with %llu block(s) holding %s", name,
                     region, (unsigned long long)ev->count, b);
        break;
    case MGOV_EV_KERNEL_PRESSURE:
        n = snprintf(buf, cap, "kernel pressure from %s: asked %s, freed %s (used %s)", name, b,
                     f, u);
        break;
    case MGOV_EV_PRESSURE_SOURCE:
        if (ev->status == MGOV_OK)
            n = snprintf(buf, cap, "watching %s (%s)", name,
                         ev->count ? "notifies" : "read every interval");
        else
            n = snprintf(buf, cap, "pressure source %s skipped: %s", name,
                         mgov_strerror(ev->status));
        break;
    case MGOV_EV_REGION: {
        char r2[32];
        mgov_size_format(ev->count, r2, sizeof r2);
        if (ev->bytes)
            n = snprintf(buf, cap, "region %s set: reserved %s, limit %s (used %s)", region, r2,
                         b, u);
        else
            n = snprintf(buf, cap, "region %s set: reserved %s, no limit (used %s)", region, r2,
                         u);
        break;
    }
    case MGOV_EV_REBALANCE:
        if (ev->count)
            n = snprintf(buf, cap, "rebalance: %s lent %s of limit to %s (which uses %s)", name,
                         b, region, u);
        else
            n = snprintf(buf, cap, "rebalance: %s took back %s of limit from %s (which uses %s)",
                         name, b, region, u);
        break;
    case MGOV_EV_STATS_FILE:
        if (ev->status == MGOV_OK)
            n = snprintf(buf, cap, "stats file %s", name);
        else
            n = snprintf(buf, cap, "no stats file in %s: %s", name, mgov_strerror(ev->status));
        break;
    case MGOV_EV_QUARANTINED:
        if (ev->status == MGOV_OK)
            n = snprintf(buf, cap, "quarantined %s (%s)", name, b);
        else
            n = snprintf(buf, cap, "could not quarantine %s: %s", name,
                         mgov_strerror(ev->status));
        break;
    default:
        n = snprintf(buf, cap, "event %d", (int)ev->type);
        break;
    }
    return n < 0 ? 0 : (size_t)n;
}
