/* sys/page.c - the system page size, read once.
 *
 * Every layer asks here (the allocators' alignment, spill buffers, section
 * and operator mappings, RSS in pages), so it is read from sysconf one time
 * per process.  A relaxed atomic cache: racing first callers store the same
 * value.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "sys/sys.h"

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
