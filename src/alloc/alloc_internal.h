/* alloc/alloc_internal.h - internal: what the allocators (arena, epochs,
 * bufpool) share: AddressSanitizer poisoning and the choice of a region.
 * Not installed.
 */
#ifndef MGOV_ALLOC_INTERNAL_H
#define MGOV_ALLOC_INTERNAL_H

#include <stddef.h>

#include "memgov/governor.h"

#if defined(__SANITIZE_ADDRESS__)
#define MGOV__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MGOV__ASAN 1
#endif
#endif

#ifdef MGOV__ASAN
#include <sanitizer/asan_interface.h>
/* Marks [p, p+n) unaddressable / addressable for AddressSanitizer. */
#define MGOV__POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define MGOV__UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define MGOV__POISON(p, n) ((void)(p), (void)(n))
#define MGOV__UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The region an allocator charges: `name`, or when NULL the
 * execution-buffers region ("execution_buffers", else region 0).
 * MGOV_OK with *region set, MGOV_EINVAL (no governor), MGOV_ENOTFOUND (no
 * region of that name). */
int mgov__alloc_region(const mgov_t *gov, const char *name, int *region);

/* The system page size (cached). */
size_t mgov__page_size(void);

#endif /* MGOV_ALLOC_INTERNAL_H */
