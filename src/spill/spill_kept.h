/* spill/spill_kept.h - internal: what a layer above may do with a spill
 * directory beyond the public API: keep files of its own in it.  Not
 * installed.
 *
 * Names that start with MGOV__SPILL_KEPT_PREFIX are reserved for those
 * files: this layer never makes one, and what they hold is not its
 * business.  It only
 *   - counts their bytes against the directory's quota and in the
 *     governor's spill_bytes, as the owner writes and removes them;
 *   - removes them (regular files only) with the rest of a dead process's
 *     private directory, so a crash leaves nothing behind; a real directory
 *     named under the prefix (the tier's quarantine) loses its regular
 *     files named under the prefix and is then removed, when that empties
 *     it.  Nothing else of this layer looks at such a directory: it is not
 *     a spill file, and a configured directory's are never touched.
 * The tier layer names its section files and manifest under this prefix
 * (tier_internal.h).
 *
 * Thread safety: all thread-safe.
 */
#ifndef MGOV_SPILL_KEPT_H
#define MGOV_SPILL_KEPT_H

#include <stdbool.h>
#include <stdint.h>

#include "memgov/spill.h"

#define MGOV__SPILL_KEPT_PREFIX "sec-"

/* The directory's descriptor (for openat, renameat, fsync); owned by dir. */
int mgov__spill_dir_fd(const mgov_spill_dir_t *dir);
/* True for a private directory (removed at close, so nothing in it persists). */
bool mgov__spill_dir_private(const mgov_spill_dir_t *dir);
/* Charges `bytes` of a file about to be written: reserves them in the quota
 * (MGOV_ENOSPC when they do not fit) and adds them to the governor's gauge. */
int mgov__spill_dir_charge(mgov_spill_dir_t *dir, uint64_t bytes);
/* Counts a file found on disk at open: charged even over the quota. */
void mgov__spill_dir_charge_found(mgov_spill_dir_t *dir, uint64_t bytes);
/* Gives back what a charge took, when the file is removed (or never made). */
void mgov__spill_dir_uncharge(mgov_spill_dir_t *dir, uint64_t bytes);
/* True for a name that starts with MGOV__SPILL_KEPT_PREFIX. */
bool mgov__spill_kept_name(const char *name);

#endif /* MGOV_SPILL_KEPT_H */
