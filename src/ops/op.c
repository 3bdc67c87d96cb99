/* ops/op.c - the operator base (see ops/op.h): configuration, the consumer
 * ops every operator shares, sticky failure, growth marked as its own.
 *
 * Invariants: op->charged is the sum of the operator's buffers' caps (they
 * publish into it); op->failed, once set, never changes.
 * Locking: none.  The consumer ops run in any thread and touch atomics
 * only; the thread-local `growing` is set only around the operator's own
 * grant calls, in its own thread.
 */
#include "ops/op.h"

#include <string.h>

#include "governor/hooks.h"
#include "spill/spill_costs.h"
#include "sys/sys.h"

#define BLOCK_MIN ((size_t)16 << 10)
#define BLOCK_MAX ((size_t)1 << 20)

/* The operator whose grant this thread is growing now: a spill request
 * made by that growth's own reclaim asks for a run, not for memory back. */
static _Thread_local const mgov__op_t *growing;

/* ------------------------------------------------------------ consumer ops */

static uint64_t op_usage(void *ctx)
{
    mgov__op_t *op = ctx;
    return atomic_load_explicit(&op->charged, memory_order_relaxed);
}

/* Asks only: the data belongs to the operator's thread, which spills at
 * its next safe point and then releases (waking whoever waits). */
static int op_spill(void *ctx, uint64_t target, uint64_t *freed)
{
    (void)target;
    mgov__op_t *op = ctx;
    if (atomic_load_explicit(&op->charged, memory_order_relaxed) > 0) {
        int want = growing == op ? MGOV__OP_ASKED_RUN : MGOV__OP_ASKED_MEMORY;
        /* MEMORY wins over RUN: someone else waits for it */
        int cur = atomic_load_explicit(&op->asked, memory_order_relaxed);
        while (cur < want && !atomic_compare_exchange_weak_explicit(
                                 &op->asked, &cur, want, memory_order_relaxed,
                                 memory_order_relaxed))
            ;
    }
    *freed = 0;
    return MGOV_OK;
}

static const mgov_consumer_ops_t op_ops = {
    .usage = op_usage,
    .spill = op_spill,
};

/* ---------------------------------------------------------------- set-up */

/* A power of two between 16 KiB and 1 MiB, about 1/64 of the memory the
 * operator may use: small budgets still open many files at once. */
static size_t auto_block(uint64_t mem)
{
    size_t b = BLOCK_MIN;
    while (b < BLOCK_MAX && (uint64_t)b * 2 * 64 <= mem)
        b *= 2;
    return b;
}

int mgov__op_init(mgov__op_t *op, const mgov__op_config_t *cfg)
{
    memset(op, 0, sizeof *op);
    if (!cfg || !cfg->gov)
        return MGOV_EINVAL;
    if (!mgov_codec_available(cfg->spill.codec))
        return (unsigned)cfg->spill.codec > MGOV_CODEC_ZSTD ? MGOV_EINVAL : MGOV_ENOTSUP;
    int rc = mgov__region_resolve(cfg->gov, cfg->region, "execution_buffers", &op->region);
    if (rc != MGOV_OK)
        return rc;
    op->gov = cfg->gov;
    op->max_memory = cfg->max_memory;
    op->mem = mgov_budget(cfg->gov);
    if (op->max_memory && op->max_memory < op->mem)
        op->mem = op->max_memory;
    op->timeout_ns = cfg->timeout_ns;
    op->spill = cfg->spill;
    if (!op->spill.timeout_ns) /* file buffers wait like the operator's memory does */
        op->spill.timeout_ns = op->timeout_ns;
    if (!op->spill.block_size)
        op->spill.block_size = auto_block(op->mem);
    op->writer_cost = mgov__spill_writer_charge(op->spill.codec, op->spill.level,
                                                op->spill.block_size);
    op->reader_cost = mgov__spill_reader_charge(op->spill.codec, op->spill.block_size);
    op->dir = cfg->spill_dir;
    if (!op->dir && (rc = mgov_spill_dir_get(cfg->gov, &op->dir)) != MGOV_OK)
        return rc;
    return MGOV_OK;
}

int mgov__op_register(mgov__op_t *op, const mgov__op_config_t *cfg)
{
    mgov_consumer_config_t cc = {
        .name = cfg->name,
        .region = op->region,
        .priority = cfg->priority ? cfg->priority : MGOV_PRIORITY_EXECUTION_BUFFERS,
        .ops = &op_ops,
        .ctx = op,
    };
    return mgov__consumer_register_unique(op->gov, &cc, cfg->prefix, &op->consumer);
}

void mgov__op_fini(mgov__op_t *op)
{
    if (op->consumer)
        mgov_consumer_unregister(op->consumer);
    op->consumer = NULL;
}

int mgov__op_fail(mgov__op_t *op, int rc)
{
    if (rc < 0 && rc != MGOV_EINVAL && op->failed == MGOV_OK)
        op->failed = rc;
    return rc;
}

/* ------------------------------------------------------------------ memory */

int mgov__op_buf_init(mgov__op_t *op, mgov__gbuf_t *b, size_t max)
{
    return mgov__gbuf_init(b, op->gov, op->region, MGOV_REVOCABLE, max, &op->charged);
}

int mgov__op_buf_init_large(mgov__op_t *op, mgov__gbuf_t *b)
{
    if (op->mem && op->mem <= SIZE_MAX / 2 &&
        mgov__op_buf_init(op, b, mgov__page_round((size_t)op->mem)) == MGOV_OK)
        return MGOV_OK;
    return mgov__op_buf_init(op, b, 0); /* maps nothing: cannot fail */
}

static void note_peak(mgov__op_t *op)
{
    uint64_t now = atomic_load_explicit(&op->charged, memory_order_relaxed);
    if (now > op->charged_peak)
        op->charged_peak = now;
}

int mgov__op_grow(mgov__op_t *op, mgov__gbuf_t *b, size_t need, size_t want, int64_t timeout_ns,
                  unsigned how)
{
    growing = op;
    int rc = mgov__gbuf_grow(b, need, want, timeout_ns, how);
    growing = NULL;
    if (rc == MGOV_OK)
        note_peak(op);
    return rc;
}

int mgov__op_reserve_wait(mgov__op_t *op, uint64_t bytes, mgov_grant_t *g)
{
    growing = op;
    int rc = mgov_reserve(op->gov, op->region, bytes, MGOV_REVOCABLE, op->timeout_ns, g);
    growing = NULL;
    return rc;
}

int mgov__op_writer_create(mgov__op_t *op, mgov_spill_writer_t **w)
{
    growing = op;
    int rc = mgov_spill_writer_create(op->dir, &op->spill, w);
    growing = NULL;
    return rc;
}

int mgov__op_wait_spill_room(mgov__op_t *op, uint64_t bytes)
{
    mgov_grant_t g = MGOV_GRANT_INIT;
    int rc = mgov_reserve(op->gov, mgov__region_spill(op->gov), bytes, 0, op->timeout_ns, &g);
    mgov_grant_release(&g);
    return rc;
}

uint64_t mgov__op_free_now(const mgov__op_t *op)
{
    uint64_t budget = mgov_budget(op->gov), used = mgov_used(op->gov);
    return budget > used ? budget - used : 0;
}

uint64_t mgov__op_charged(mgov__op_t *op)
{
    note_peak(op);
    return atomic_load_explicit(&op->charged, memory_order_relaxed);
}

void mgov__op_stats(const mgov__op_t *op, uint64_t *spill_requests, uint64_t *memory,
                    uint64_t *memory_peak)
{
    *spill_requests = op->spill_requests;
    *memory = atomic_load_explicit(&op->charged, memory_order_relaxed);
    *memory_peak = op->charged_peak > *memory ? op->charged_peak : *memory;
}

/* --------------------------------------------------------------- requests */

int mgov__op_take_request(mgov__op_t *op)
{
    if (!atomic_load_explicit(&op->asked, memory_order_relaxed))
        return MGOV__OP_ASKED_NONE;
    int asked = atomic_exchange_explicit(&op->asked, MGOV__OP_ASKED_NONE, memory_order_relaxed);
    if (asked)
        op->spill_requests++;
    return asked;
}

void mgov__op_spilled(mgov__op_t *op)
{
    int run = MGOV__OP_ASKED_RUN;
    atomic_compare_exchange_strong_explicit(&op->asked, &run, MGOV__OP_ASKED_NONE,
                                            memory_order_relaxed, memory_order_relaxed);
}
