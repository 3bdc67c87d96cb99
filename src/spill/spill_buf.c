/* spill/spill_buf.c - the I/O buffers of writers and readers, and the grants
 * that pay for them.
 *
 * Buffers are charged before they are allocated and released after they
 * are freed, so a writer's or reader's grant always covers its memory.
 * They go to the governor's spill-staging region, which may use the whole
 * budget (the top slice above the critical threshold is the spill reserve),
 * so a spill can start when ordinary requests are refused.  A buffer is
 * a mapping of whole pages, and its charge is what it takes; freed, it is
 * unmapped, so the process's memory falls with the grant.
 *
 * Stateless; thread-safe.
 */
#include "spill/spill_internal.h"
#include "sys/fileio.h"
#include "sys/sys.h"

int mgov__spill_charge(mgov_t *gov, int region, uint64_t bytes, int64_t timeout_ns,
                       mgov_grant_t *out)
{
    *out = (mgov_grant_t)MGOV_GRANT_INIT;
    if (!gov || bytes == 0)
        return MGOV_OK;
    return mgov_reserve(gov, region, bytes, 0, timeout_ns, out); /* 0: fail fast */
}

size_t mgov__spill_buf_bytes(size_t n)
{
    size_t page = mgov__page_size();
    return (n + page - 1) & ~(page - 1);
}

void *mgov__spill_buf_alloc(size_t n)
{
    void *p;
    return mgov__mmap_anon(mgov__spill_buf_bytes(n), 0, &p) == 0 ? p : NULL;
}

void mgov__spill_buf_free(void *p, size_t n)
{
    if (p)
        (void)mgov__munmap(p, mgov__spill_buf_bytes(n));
}
