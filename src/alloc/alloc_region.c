/* alloc/alloc_region.c - small shared helpers of the allocators: which
 * region to charge, the page size.  Stateless apart from a cached value;
 * thread-safe.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "alloc/alloc_internal.h"

int mgov__alloc_region(const mgov_t *gov, const char *name, int *region)
{
    if (!gov || !region)
        return MGOV_EINVAL;
    int r = mgov_region_find(gov, name ? name : "execution_buffers");
    if (r < 0) {
        if (name)
            return MGOV_ENOTFOUND;
        r = 0;
    }
    *region = r;
    return MGOV_OK;
}

size_t mgov__page_size(void)
{
    static _Atomic size_t cached;
    size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
    if (p == 0) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&cached, p, memory_order_relaxed);
    }
    return p;
}
