/* spill/spill_kept.c - the spill directory's side of the files a layer
 * above keeps in it (see spill_kept.h): their quota charges and names.
 *
 * Stateless beyond the directory's atomic counters; thread-safe.
 */
#include <string.h>

#include "governor/hooks.h"
#include "spill/spill_internal.h"
#include "spill/spill_kept.h"

int mgov__spill_dir_fd(const mgov_spill_dir_t *dir)
{
    return dir->dirfd;
}

bool mgov__spill_dir_private(const mgov_spill_dir_t *dir)
{
    return dir->is_private;
}

int mgov__spill_dir_charge(mgov_spill_dir_t *dir, uint64_t bytes)
{
    int rc = mgov__spill_dir_reserve(dir, bytes);
    if (rc == MGOV_OK)
        mgov__spill_disk_add(dir->gov, (int64_t)bytes);
    return rc;
}

void mgov__spill_dir_charge_found(mgov_spill_dir_t *dir, uint64_t bytes)
{
    /* relaxed: counting found bytes frees nothing, so there is no gauge
     * update to order (see mgov__spill_dir_reserve) */
    atomic_fetch_add_explicit(&dir->found, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&dir->used, bytes, memory_order_relaxed);
    mgov__spill_disk_add(dir->gov, (int64_t)bytes);
}

void mgov__spill_dir_uncharge(mgov_spill_dir_t *dir, uint64_t bytes)
{
    /* the gauge first: it then never shows more than the quota allows */
    mgov__spill_disk_add(dir->gov, -(int64_t)bytes);
    mgov__spill_dir_unreserve(dir, bytes);
}

bool mgov__spill_kept_name(const char *name)
{
    return strncmp(name, MGOV__SPILL_KEPT_PREFIX, sizeof MGOV__SPILL_KEPT_PREFIX - 1) == 0;
}
