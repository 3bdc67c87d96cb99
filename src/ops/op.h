/* ops/op.h - internal: the base every spilling operator is built on (the
 * sort, the hash aggregation, the hash join).  Not installed.
 *
 * An operator is a governor consumer in its region (execution_buffers by
 * default) whose memory is a few grant-backed buffers (alloc/gbuf.h) that
 * publish their size into op->charged: its usage op reads that, so the
 * governor sees every byte it holds.  What spilling needs is planned with
 * the spill layer's costs (writer_cost, reader_cost per file).
 *
 * Spill requests.  The governor calls the spill op from any thread; it
 * never touches the operator's data, it only asks (op->asked), and the
 * operator's own thread spills at its next safe point (a push, a probe)
 * with mgov__op_take_request.  Who asked matters:
 *   MGOV__OP_ASKED_RUN     the request came from the operator's own growth
 *                          (a reclaim its own grant triggered): write what
 *                          it holds and keep the memory to go on with;
 *   MGOV__OP_ASKED_MEMORY  someone else needs memory: write it and give the
 *                          memory back (the waiting requester is woken by
 *                          the release).
 * A spill the operator makes on its own satisfies a RUN request too
 * (mgov__op_spilled clears it), so a run is never cut twice for one
 * request (the reliability review's one-record runs).
 *
 * Failure is sticky: once an entry point fails with anything but
 * MGOV_EINVAL, every later call returns the same status (mgov__op_fail),
 * and the operator can still be destroyed.
 *
 * Lifecycle: mgov__op_init (checks, region, spill directory, costs) ->
 * the operator sets up its buffers -> mgov__op_register (the consumer: its
 * ops may run from then on, before register even returns) -> use ->
 * mgov__op_fini (unregisters first, so no op runs while the rest goes).
 *
 * Threading: one thread drives an operator; the consumer ops touch
 * `charged` and `asked` only (atomics).
 */
#ifndef MGOV_OPS_OP_H
#define MGOV_OPS_OP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/gbuf.h"
#include "memgov/governor.h"
#include "memgov/spill.h"

enum {
    MGOV__OP_ASKED_NONE,
    MGOV__OP_ASKED_RUN,    /* by the operator's own growth: spill, keep the memory */
    MGOV__OP_ASKED_MEMORY, /* for someone else: spill and give the memory back */
};

/* What every operator's config says about being an operator; the public
 * configs carry the same fields under the same names. */
typedef struct mgov__op_config {
    mgov_t *gov;                 /* required */
    const char *region;          /* NULL: "execution_buffers" (region 0 without it) */
    const char *name;            /* consumer name; NULL: "<prefix>-<n>", unique */
    const char *prefix;          /* the operator's kind: "sort", "hashagg", ... */
    unsigned priority;           /* 0: MGOV_PRIORITY_EXECUTION_BUFFERS */
    uint64_t max_memory;         /* cap on the operator's grants; 0: the budget */
    int64_t timeout_ns;          /* waiting for memory holding nothing: 0 = do not
                                    wait, < 0 = forever */
    mgov_spill_dir_t *spill_dir; /* NULL: the governor's */
    mgov_spill_options_t spill;  /* block_size 0: from the memory; timeout_ns 0:
                                    the operator's timeout_ns */
} mgov__op_config_t;

typedef struct mgov__op {
    mgov_t *gov;
    int region;
    uint64_t mem;                /* memory it plans with: the budget, or max_memory */
    uint64_t max_memory;         /* 0: none */
    int64_t timeout_ns;
    mgov_spill_dir_t *dir;
    mgov_spill_options_t spill;  /* resolved: block size and buffer timeout set */
    uint64_t writer_cost;        /* what a spill writer charges to spill staging */
    uint64_t reader_cost;        /* what a spill reader charges (before gathering) */
    mgov_consumer_t *consumer;
    _Atomic uint64_t charged;    /* bytes of every buffer of the operator */
    _Atomic int asked;           /* MGOV__OP_ASKED_* */
    uint64_t charged_peak;       /* the operator's thread only */
    uint64_t spill_requests;     /* requests taken */
    int failed;                  /* sticky status, or MGOV_OK */
} mgov__op_t;

/* Checks cfg and fills op (nothing registered, nothing reserved).
 * Errors: MGOV_EINVAL (no governor, a bad codec number), MGOV_ENOTSUP
 * (codec not built in), MGOV_ENOTFOUND (unknown region), the spill
 * directory's errors. */
int mgov__op_init(mgov__op_t *op, const mgov__op_config_t *cfg);

/* Registers the operator as a consumer (named cfg->name, or uniquely after
 * cfg->prefix).  Errors: mgov_consumer_register's. */
int mgov__op_register(mgov__op_t *op, const mgov__op_config_t *cfg);

/* Unregisters the consumer (waiting for its ops in flight).  The
 * operator's buffers are its own to free afterwards. */
void mgov__op_fini(mgov__op_t *op);

/* Makes rc sticky (not MGOV_EINVAL, nor MGOV_OK) and returns it. */
int mgov__op_fail(mgov__op_t *op, int rc);

/* A buffer charged to the operator's region, revocable (the operator can
 * always give it back by spilling), publishing into op->charged.  max > 0:
 * fixed (address space reserved now); 0: movable. */
int mgov__op_buf_init(mgov__op_t *op, mgov__gbuf_t *b, size_t max);
/* The same for a buffer that may grow to the operator's whole memory (a
 * partition's rows, a slot array): fixed over op->mem of address space, so
 * it grows in place (no copy, no remap) and its whole 2 MiB runs are huge
 * pages; movable where the system will not reserve that much. */
int mgov__op_buf_init_large(mgov__op_t *op, mgov__gbuf_t *b);

/* mgov__gbuf_grow for the operator's buffer, marked as the operator's own
 * growth: a spill request its reclaim makes of this operator is
 * MGOV__OP_ASKED_RUN. */
int mgov__op_grow(mgov__op_t *op, mgov__gbuf_t *b, size_t need, size_t want, int64_t timeout_ns,
                  unsigned how);

/* Reserves `bytes` in the operator's region waiting up to its timeout
 * (FIFO) as its own growth, into *g (a grant the caller spreads over its
 * buffers with mgov__gbuf_grow_from). */
int mgov__op_reserve_wait(mgov__op_t *op, uint64_t bytes, mgov_grant_t *g);

/* mgov_spill_writer_create on the operator's directory and options, for a
 * spill of its own, marked as its own growth: the reclaim the writer's
 * buffers may cause asks this operator for a run (MGOV__OP_ASKED_RUN,
 * which the spill being written satisfies), not for its memory back; a
 * request for memory left behind would cut the next run after one
 * record (the reliability review's one-record runs). */
int mgov__op_writer_create(mgov__op_t *op, mgov_spill_writer_t **w);

/* Waits (FIFO, the operator's timeout) until `bytes` are free in spill
 * staging, then lets them go again: a merge or a partition pass that cannot
 * open even two files waits for room holding nothing. */
int mgov__op_wait_spill_room(mgov__op_t *op, uint64_t bytes);

/* Bytes of the budget free now (budget - used; 0 when over). */
uint64_t mgov__op_free_now(const mgov__op_t *op);

/* Takes the pending spill request (MGOV__OP_ASKED_*), counting it. */
int mgov__op_take_request(mgov__op_t *op);

/* The operator spilled on its own: a pending RUN request is satisfied. */
void mgov__op_spilled(mgov__op_t *op);

/* Bytes charged now, and the peak (updated by the operator's thread). */
uint64_t mgov__op_charged(mgov__op_t *op);

/* The counters every operator's stats share: spill requests taken, memory
 * now and at most. */
void mgov__op_stats(const mgov__op_t *op, uint64_t *spill_requests, uint64_t *memory,
                    uint64_t *memory_peak);

#endif /* MGOV_OPS_OP_H */
