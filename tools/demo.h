/* demo.h - the parts of `memgov demo --tour` (the scripted tour of the
 * pressure levels; the mixed workload is mix.h) and the state they share.
 *
 *   demo_tour.c       options, the governor and its regions, the end
 *   demo_consumers.c  the three consumers: query cache, executor, index
 *   demo_script.c     the script: a table of phases run in order
 *   demo_alloc.c      its two allocator phases: an arena, a buffer pool
 *   demo_check.c      the checks, and the verdict at the end
 *   demo_output.c     what it prints: steps, states, events, the table
 *
 * Two consumers hold grants, not real memory; the third, the index, is a
 * real tiered section of a sixteenth of the budget.  Real memory is that
 * and the allocator phases (about another sixteenth), so any budget works.
 *
 * Locking: demo.mu guards printing and the counters below it in demo_t;
 * the cache has its own mutex for its state.  None of them is held while
 * calling into the governor, because the governor's callbacks take them (a
 * reserve may run reclaim, and so demo_cache's evict or the section's
 * spill, in the calling thread).  Only the main thread uses the index's
 * fields; the section does its own locking.
 */
#ifndef MEMGOV_TOOLS_DEMO_H
#define MEMGOV_TOOLS_DEMO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <memgov.h>

#include "cli.h"

#define DEMO_CACHE_MAX 64
#define NS_PER_MS 1000000LL
#define DEMO_WAIT_TIMEOUT_NS (2000 * NS_PER_MS)
#define DEMO_INDEX_NAME "index"
#define DEMO_INDEX_CHUNK ((size_t)64 << 10) /* bytes per append */

typedef struct demo demo_t;

typedef struct demo_cache {
    demo_t *demo;
    pthread_mutex_t mu;
    mgov_grant_t entries[DEMO_CACHE_MAX]; /* a ring: the oldest result at head */
    unsigned head, count;
    uint64_t bytes;
    uint64_t evicted;                /* results dropped by evict, ever */
    mgov_consumer_t *consumer;
} demo_cache_t;

/* The index: a real section.  Used by the main thread only. */
typedef struct demo_index {
    mgov_section_t *sec;
    const char *spill_path;          /* the governor's spill directory */
    mgov_tier_t shown_tier;          /* as demo_index_note_move last reported it */
    uint64_t shown_gen;              /* its file's generation then */
    mgov_section_view_t view;        /* the reader's view (step 6 to 11) */
    bool pinned;
} demo_index_t;

typedef struct demo_exec {
    _Atomic uint64_t bytes;          /* sum of the queries' grants */
    mgov_consumer_t *consumer;
} demo_exec_t;

struct demo {
    mgov_t *gov;                     /* NULL while mgov_destroy runs */
    bool quiet;
    uint64_t budget, unit;           /* unit = budget / 64: "1 MiB" at 64 MiB */
    int r_graph, r_index, r_exec;
    uint64_t exec_limit, index_limit;
    uint64_t index_bytes;            /* what the index holds: budget / 16 */
    uint64_t t0_ns;
    unsigned step_no;

    pthread_mutex_t mu;              /* printing and everything below */
    pthread_cond_t cond;             /* signalled on MGOV_EV_WAIT and waiter exit */
    bool level_seen[4];
    bool came_down_from_critical;
    unsigned events, waits_started, waits_granted;
    unsigned failures;
    uint64_t max_used;
    unsigned index_spills_skipped;   /* MGOV_EV_SPILL_FAILED for the index with EBUSY */

    demo_cache_t cache;
    demo_index_t index;
    demo_exec_t exec;
};

/* The tour's entry point (`memgov demo --tour ...`, argv[0] "demo"). */
int demo_tour(int argc, char **argv);
void demo_tour_help(FILE *out);

/* ------------------------------------------------ demo_consumers.c */

/* Registers the cache and the executor and opens the index (a section
 * registers itself).  On failure says why and counts a failure. */
int demo_consumers_start(demo_t *d);
/* Empties the cache, closes the index, unregisters the others. */
void demo_consumers_stop(demo_t *d);

uint64_t demo_cache_usage(void *ctx);
int demo_cache_put(demo_t *d, uint64_t bytes);
uint64_t demo_cache_evicted(demo_t *d);   /* results evicted so far */

int demo_exec_take(demo_t *d, uint64_t bytes, unsigned flags, mgov_grant_t *g);
void demo_exec_done(demo_t *d, mgov_grant_t *g);

/* The index's bytes: byte `off` is byte off % 8 of cli_mix64(off / 8) as
 * this machine stores it, so any part can be made again to check it. */
void demo_pattern_fill(uint8_t *buf, uint64_t off, size_t len);
int demo_index_build(demo_t *d, uint64_t bytes, unsigned *appends);
mgov_tier_t demo_index_tier(demo_t *d);
/* What mgov_section_foreach says about the index; a failed check if it
 * is not listed. */
bool demo_index_info(demo_t *d, mgov_section_info_t *out);

/* ---------------------------------------------------- demo_script.c */

/* Runs the script, phase by phase. */
void demo_script_run(demo_t *d);

/* ----------------------------------------------------- demo_alloc.c */

void demo_arena(demo_t *d);
void demo_bufpool(demo_t *d);

/* ----------------------------------------------------- demo_check.c */

/* Reports a failed check on stderr; the demo goes on but will exit 1. */
void demo_fail(demo_t *d, const char *fmt, ...) CLI_PRINTF(2, 3);
void demo_expect_ok(demo_t *d, int rc, const char *what);
/* At every event: usage within the budget, no region over its limit. */
void demo_check_event(demo_t *d, const mgov_event_t *ev, const mgov_stats_t *st);
/* What the consumers hold equals what the governor counts. */
void demo_check_accounting(demo_t *d, const char *when);
/* execution_buffers counts what the queries hold plus `extra`. */
void demo_check_exec(demo_t *d, uint64_t extra, const char *when);
/* Compares a view of the index with the pattern. */
bool demo_index_view_intact(demo_t *d, const mgov_section_view_t *v, const char *when);
/* Pins a view (in RAM, or of the mapped file), checks it, unpins it. */
bool demo_index_intact(demo_t *d, const char *when);
/* After everything was released: nothing granted, normal pressure. */
void demo_check_released(demo_t *d);
/* After mgov_destroy: every level visited, a wait granted. */
void demo_check_visits(demo_t *d);

/* ---------------------------------------------------- demo_output.c */

/* "[  12 ms] <indent><text>" unless quiet. */
void demo_say(demo_t *d, const char *indent, const char *fmt, ...) CLI_PRINTF(3, 4);
/* "step N: <text>", after a blank line. */
void demo_step(demo_t *d, const char *fmt, ...) CLI_PRINTF(2, 3);
/* The state after a step: usage, level, where the consumers are; first a
 * line for the index if it moved since the last one. */
void demo_show_state(demo_t *d);
/* The governor's event callback: any thread, never under a governor lock.
 * Prints the event, counts what the checks need, checks the invariants. */
void demo_on_event(void *ctx, const mgov_event_t *ev);
void demo_print_header(demo_t *d, const mgov_stats_t *st);
void demo_print_consumers(demo_t *d);
void demo_print_table(const mgov_stats_t *st);
void demo_print_verdict(demo_t *d, int destroy_rc);

#endif /* MEMGOV_TOOLS_DEMO_H */
