/* alloc/je.h - internal: jemalloc, under the private names memgov links it
 * with (cmake/jemalloc.cmake renames every symbol of libjemalloc_pic.a:
 * malloc -> mgov__je_malloc, mallocx -> mgov__je_mallocx, ...).  Not
 * installed.
 *
 * jemalloc's header is used for its macros and types (MALLOCX_ARENA, ...)
 * with JEMALLOC_NO_RENAME, and its je_* declarations are pointed at the
 * renamed symbols.  Only the heap (heap*.c) and the benchmark use it.
 */
#ifndef MGOV_ALLOC_JE_H
#define MGOV_ALLOC_JE_H

#define JEMALLOC_NO_RENAME
#define JEMALLOC_NO_DEMANGLE
#define je_aligned_alloc mgov__je_aligned_alloc
#define je_calloc mgov__je_calloc
#define je_dallocx mgov__je_dallocx
#define je_free mgov__je_free
#define je_mallctl mgov__je_mallctl
#define je_mallctlbymib mgov__je_mallctlbymib
#define je_mallctlnametomib mgov__je_mallctlnametomib
#define je_malloc mgov__je_malloc
#define je_malloc_conf mgov__je_malloc_conf
#define je_malloc_conf_2_conf_harder mgov__je_malloc_conf_2_conf_harder
#define je_malloc_message mgov__je_malloc_message
#define je_malloc_stats_print mgov__je_malloc_stats_print
#define je_malloc_usable_size mgov__je_malloc_usable_size
#define je_mallocx mgov__je_mallocx
#define je_nallocx mgov__je_nallocx
#define je_posix_memalign mgov__je_posix_memalign
#define je_rallocx mgov__je_rallocx
#define je_realloc mgov__je_realloc
#define je_sallocx mgov__je_sallocx
#define je_sdallocx mgov__je_sdallocx
#define je_xallocx mgov__je_xallocx
#define je_memalign mgov__je_memalign
#define je_valloc mgov__je_valloc
#include <jemalloc/jemalloc.h>

#endif /* MGOV_ALLOC_JE_H */
