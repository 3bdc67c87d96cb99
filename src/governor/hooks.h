/* governor/hooks.h - internal: what the layers above the governor may ask
 * of it beyond the public API, and nothing else (they never include
 * governor/internal.h).  Not installed.
 *
 *   layer states     a slot per layer for its per-governor state (the
 *                    spill directory, the section store), made once on
 *                    first use and freed by mgov_destroy (layers.c)
 *   regions          which region a module charges, decided here once
 *                    (grant.c, governor.c)
 *   admission        whether a request could ever fit (grant.c)
 *   consumers        unique names, and reports of moves a consumer made on
 *                    its own (consumer.c, reclaim.c)
 *   disk gauges      bytes in spill files, shown in mgov_stats, and files
 *                    the tier put in quarantine (stats.c)
 *   stats sources    figures a layer adds to mgov_stats (the heaps; stats.c)
 *
 * Thread safety: every function here is thread-safe.
 */
#ifndef MGOV_GOVERNOR_HOOKS_H
#define MGOV_GOVERNOR_HOOKS_H

#include <stdint.h>

#include "memgov/governor.h"

/* ----------------------------------------------------------- layer states */

/* Slots, one per layer that keeps per-governor state, numbered by height:
 * a layer's make() may use the states of lower slots (the section store
 * opens the spill directory), never of higher ones.  The layers name their
 * own slot (spill_internal.h, tier_internal.h). */
#define MGOV__LAYER_SLOTS 4

/* Makes the state of `slot` on first use and returns it in *out.  The first
 * caller runs make(gov, arg, &state) under the slot's lock (slot locks nest
 * from high to low); make returns MGOV_OK or an error, which is returned
 * and leaves nothing attached (a later call tries again).  Later callers get
 * the same state.  mgov_destroy runs free_fn(state) for every slot, highest
 * first, before it reports leaks.  MGOV_EINVAL for bad arguments. */
int mgov__layer_state(mgov_t *gov, unsigned slot,
                      int (*make)(mgov_t *gov, void *arg, void **state), void *arg,
                      void (*free_fn)(void *state), void **out);

/* ---------------------------------------------------------------- regions */

/* The region a module's config names: `name`, or when NULL the region
 * named `dflt`, or region 0 when the governor has none of that name.
 * MGOV_OK with *region set, MGOV_EINVAL (NULL gov or region),
 * MGOV_ENOTFOUND (no region called `name`). */
int mgov__region_resolve(const mgov_t *gov, const char *name, const char *dflt, int *region);

/* The region spill buffers are charged to: the one named "spill_staging"
 * (it may use the whole budget: the spill reserve), else region 0. */
int mgov__region_spill(const mgov_t *gov);

/* -------------------------------------------------------------- admission */

/* MGOV_OK when `bytes` could ever fit in `region` with `flags`, else
 * MGOV_ELIMIT (over the region's limit or the request's ceiling). */
int mgov__check_fits_ever(const mgov_t *gov, int region, uint64_t bytes, unsigned flags);

/* -------------------------------------------------------------- consumers */

/* Registers a consumer; with cfg->name NULL it is named "<prefix>-<n>"
 * with the first n (from a process-wide counter) whose name is free,
 * trying up to 64 names.  Errors as mgov_consumer_register. */
int mgov__consumer_register_unique(mgov_t *gov, const mgov_consumer_config_t *cfg,
                                   const char *prefix, mgov_consumer_t **out);

/* Reports a move a consumer made when asked directly rather than through
 * the governor (a section's explicit spill or reload, an override applied
 * at open) the way the governor's own paths do: counted in the stats
 * (spills, spill_failures, reloads, reload_failures) and emitted as an
 * event of `type` with the consumer's name and region, bytes, freed,
 * count and status. */
void mgov__consumer_report(mgov_consumer_t *c, mgov_event_type_t type, uint64_t bytes,
                           uint64_t freed, uint64_t count, int status);

/* ------------------------------------------------------------ disk gauges */

/* Bytes on disk in spill files: delta > 0 when written, < 0 when removed.
 * Feeds mgov_stats' spill_bytes and spill_bytes_peak. */
void mgov__spill_disk_add(mgov_t *gov, int64_t delta);

/* The quota in force (the configured one, or the default computed when the
 * spill directory was made), shown in mgov_stats' spill_quota. */
void mgov__spill_quota_set(mgov_t *gov, uint64_t bytes);

/* A section file moved into the quarantine (status MGOV_OK: counted in
 * mgov_stats' sections_quarantined), or a move that failed: emitted as
 * MGOV_EV_QUARANTINED with name, bytes and status. */
void mgov__quarantine_report(mgov_t *gov, const char *name, uint64_t bytes, int status);

/* ---------------------------------------------------------- stats sources */

/* A layer that adds figures of its own to mgov_stats (the heaps: their
 * per-region bytes).  The node lives in the layer's object; fn is called
 * by mgov_stats with the governor's sources lock held, after the
 * governor's own fields are filled, and must only add to out's heap
 * fields (it may take its own locks, never call into the governor). */
typedef struct mgov__stats_source {
    void (*fn)(void *arg, mgov_stats_t *out);
    void *arg;
    struct mgov__stats_source *prev, *next;
} mgov__stats_source_t;

void mgov__stats_source_add(mgov_t *gov, mgov__stats_source_t *src);
/* Returns after any mgov_stats running src->fn has finished with it. */
void mgov__stats_source_remove(mgov_t *gov, mgov__stats_source_t *src);

#endif /* MGOV_GOVERNOR_HOOKS_H */
