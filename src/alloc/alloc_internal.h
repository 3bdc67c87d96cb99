/* alloc/alloc_internal.h - internal: what the allocators (arena, epochs,
 * bufpool) share: AddressSanitizer poisoning and the default region.
 * Not installed.
 */
#ifndef MGOV_ALLOC_INTERNAL_H
#define MGOV_ALLOC_INTERNAL_H

#include <stddef.h>

#include "governor/hooks.h"
#include "memgov/governor.h"
#include "sys/sys.h"

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

/* The region an allocator charges when its config names none. */
#define MGOV__ALLOC_DEFAULT_REGION "execution_buffers"

#endif /* MGOV_ALLOC_INTERNAL_H */
