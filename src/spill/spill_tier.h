/* spill/spill_tier.h - internal: what the tier layer (sections) uses of a
 * spill directory beyond the public API.  Not installed.
 *
 * Section files live in the spill directory beside spill files, under
 * names this layer also knows, so that the sweep of a dead process's
 * private directory removes them too:
 *   sec-<16 hex digits>-<name>      a section's file (one generation)
 *   sections.manifest[.tmp]         the manifest, and its next version
 * Their bytes count against the directory's quota and show in the
 * governor's spill_bytes, like spill files.
 *
 * Thread safety: all thread-safe.
 */
#ifndef MGOV_SPILL_TIER_H
#define MGOV_SPILL_TIER_H

#include <stdbool.h>
#include <stdint.h>

#include "memgov/spill.h"

#define MGOV__SECTION_FILE_PREFIX "sec-"
#define MGOV__SECTION_MANIFEST "sections.manifest"
#define MGOV__SECTION_MANIFEST_TMP "sections.manifest.tmp"

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
/* True for the names above. */
bool mgov__spill_section_name(const char *name);

#endif /* MGOV_SPILL_TIER_H */
