/* memgov.h - umbrella header: everything a user of memgov needs.
 *
 * memgov governs the memory of a data system inside one process: one budget,
 * named regions, grants, pressure levels and consumers that evict or spill.
 * Each module has its own header under memgov/; including this one is
 * enough: the allocators (arena.h, bufpool.h, heap.h) charge the budget too. */
#ifndef MEMGOV_H
#define MEMGOV_H

#include "memgov/arena.h"
#include "memgov/bufpool.h"
#include "memgov/common.h"
#include "memgov/governor.h"
#include "memgov/heap.h"
#include "memgov/host.h"
#include "memgov/section.h"
#include "memgov/size.h"
#include "memgov/sort.h"
#include "memgov/hashagg.h"
#include "memgov/hashjoin.h"
#include "memgov/spill.h"
#include "memgov/sysinfo.h"

#endif /* MEMGOV_H */
