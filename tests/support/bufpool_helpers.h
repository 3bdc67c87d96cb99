/* bufpool_helpers.h - test helpers for the buffer pool: pools made and
 * destroyed with asserted success (and the invariant check), stats in one
 * call, polling for queued requests, and allocation requests run in their
 * own threads (to block them).
 *
 * Lifecycle
 *   bh_req_start -> (the request runs, maybe blocks) -> bh_req_join (or
 *   bh_req_join_ms with a deadline) -> bh_req_release (drops what it got).
 *
 * Threading
 *   A request's fields are written by its thread before it finishes and read
 *   by the test after joining; `done` and `order` are atomic so the test may
 *   poll them before joining.  The helpers use cmocka's assertions from the
 *   test's thread only.
 */
#ifndef MGOV_TEST_BUFPOOL_HELPERS_H
#define MGOV_TEST_BUFPOOL_HELPERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/bufpool.h"

#define BH_MS 1000000ll /* ns */

#ifdef MGOV_SANITIZED
#define BH_SLACK_MS 400 /* sanitizers slow wake-ups down */
#else
#define BH_SLACK_MS 150
#endif

/* A pool of `size`-byte buffers capped at `cap` bytes, optionally charged to
 * gov; asserts success. */
mgov_bufpool_t *bh_pool_new(size_t size, uint64_t cap, mgov_t *gov);
mgov_bufpool_stats_t bh_stats(const mgov_bufpool_t *p);
/* Polls (1 ms steps, up to 10 s) until `waiters` queued requests; asserts. */
void bh_wait_waiters(const mgov_bufpool_t *p, unsigned waiters);
/* mgov_bufpool_try_alloc, asserting success. */
mgov_bufs_t *bh_take(mgov_bufpool_t *p, size_t n);
/* Asserts the pool's invariant check (mgov__bufpool_check) passes. */
void bh_check(mgov_bufpool_t *p);
/* bh_check, then mgov_bufpool_destroy without waiting, asserting MGOV_OK. */
void bh_destroy(mgov_bufpool_t *p);

/* An allocation request run in its own thread. */
typedef struct bh_req {
    mgov_bufpool_t *pool;
    size_t n;
    int64_t timeout_ns;
    int rc;
    mgov_bufs_t *bufs;
    uint64_t took_ns;
    _Atomic int order; /* rank among successful requests (bh_order_reset), -1 before */
    _Atomic bool done;
    pthread_t thread;
    bool joined;
} bh_req_t;

/* Restarts the shared counter that ranks successful requests. */
void bh_order_reset(void);
void bh_req_start(bh_req_t *r, mgov_bufpool_t *p, size_t n, int64_t timeout_ns);
/* Starts the request and waits until it is queued (the pool's waiters go
 * from `before` to before + 1): requests started this way queue in order. */
void bh_req_start_queued(bh_req_t *r, mgov_bufpool_t *p, size_t n, int64_t timeout_ns,
                         unsigned before);
void bh_req_join(bh_req_t *r);
/* Joins within ms milliseconds; returns false (not joined) on timeout. */
bool bh_req_join_ms(bh_req_t *r, unsigned ms);
/* Releases what the request got (if anything). */
void bh_req_release(bh_req_t *r);

void bh_sleep_ms(unsigned ms);

#endif /* MGOV_TEST_BUFPOOL_HELPERS_H */
