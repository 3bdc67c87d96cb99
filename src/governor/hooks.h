/* governor/hooks.h - internal: what the layers above the governor may ask of
 * it beyond the public API.  Not installed.
 *
 * The tier layer keeps its sections' shared state (the manifest) the same
 * way, in a second slot, and reports its own moves through the governor's
 * counters and events.
 *
 * The spill layer keeps one spill directory per governor.  The governor
 * cannot call up into that layer, so it only holds the state (an opaque
 * pointer made once, on first use, and the function that frees it at
 * mgov_destroy) and the disk counters that appear in its stats.
 *
 * Thread safety: every function here is thread-safe.
 */
#ifndef MGOV_GOVERNOR_HOOKS_H
#define MGOV_GOVERNOR_HOOKS_H

#include <stdint.h>

#include "memgov/governor.h"

/* Makes the spill state of gov on first use and returns it in *out.  The
 * first caller runs make(gov, arg, &state) under the governor's spill lock
 * (no other governor lock is held); make returns MGOV_OK or an error, which
 * is returned and leaves nothing attached (a later call tries again).  Later
 * callers get the same state.  free_fn(state) runs at mgov_destroy. */
int mgov__spill_state(mgov_t *gov, int (*make)(mgov_t *gov, void *arg, void **state), void *arg,
                      void (*free_fn)(void *state), void **out);

/* The tier layer's state (its sections), made and freed like the spill
 * state, before it at mgov_destroy.  make may call mgov_spill_dir_get. */
int mgov__tier_state(mgov_t *gov, int (*make)(mgov_t *gov, void *arg, void **state), void *arg,
                     void (*free_fn)(void *state), void **out);

/* Reports a move a consumer made when asked directly rather than through
 * the governor (a section's explicit spill or reload, an override applied
 * at open) the way the governor's own paths do: counted in the stats
 * (spills, spill_failures, reloads, reload_failures) and emitted as an
 * event of `type` with the consumer's name and region, bytes, freed,
 * count and status. */
void mgov__consumer_report(mgov_consumer_t *c, mgov_event_type_t type, uint64_t bytes,
                           uint64_t freed, uint64_t count, int status);

/* Bytes on disk in spill files: delta > 0 when written, < 0 when removed.
 * Feeds mgov_stats' spill_bytes and spill_bytes_peak. */
void mgov__spill_disk_add(mgov_t *gov, int64_t delta);

/* The quota in force (the configured one, or the default computed when the
 * spill directory was made), shown in mgov_stats' spill_quota. */
void mgov__spill_quota_set(mgov_t *gov, uint64_t bytes);

#endif /* MGOV_GOVERNOR_HOOKS_H */
