/* bufpool_helpers.c - test helpers for the buffer pool (see
 * bufpool_helpers.h).
 *
 * Locking: none of their own; requests publish their results through
 * `done` (release) and are read after an acquire load or a join.
 */
#include "bufpool_helpers.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "alloc/bufpool_internal.h"
#include "sys/sys.h"

static _Atomic int order_counter;

mgov_bufpool_t *bh_pool_new(size_t size, uint64_t cap, mgov_t *gov)
{
    mgov_bufpool_config_t cfg = MGOV_BUFPOOL_CONFIG_INIT;
    cfg.buffer_size = size;
    cfg.max_memory = cap;
    cfg.gov = gov;
    mgov_bufpool_t *p = NULL;
    assert_int_equal(mgov_bufpool_create(&cfg, &p), MGOV_OK);
    assert_non_null(p);
    return p;
}

mgov_bufpool_stats_t bh_stats(const mgov_bufpool_t *p)
{
    mgov_bufpool_stats_t s;
    assert_int_equal(mgov_bufpool_stats(p, &s), MGOV_OK);
    return s;
}

void bh_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void bh_wait_waiters(const mgov_bufpool_t *p, unsigned waiters)
{
    for (int i = 0; i < 10000 && bh_stats(p).waiters != waiters; i++)
        bh_sleep_ms(1);
    assert_int_equal(bh_stats(p).waiters, waiters);
}

mgov_bufs_t *bh_take(mgov_bufpool_t *p, size_t n)
{
    mgov_bufs_t *b = NULL;
    assert_int_equal(mgov_bufpool_try_alloc(p, n, &b), MGOV_OK);
    assert_non_null(b);
    assert_int_equal(mgov_bufs_count(b), n);
    return b;
}

void bh_check(mgov_bufpool_t *p)
{
    assert_int_equal(mgov__bufpool_check(p), MGOV_OK);
}

void bh_destroy(mgov_bufpool_t *p)
{
    bh_check(p);
    assert_int_equal(mgov_bufpool_destroy(p, 0), MGOV_OK);
}

void bh_order_reset(void)
{
    atomic_store(&order_counter, 0);
}

static void *req_main(void *arg)
{
    bh_req_t *r = arg;
    uint64_t t0 = mgov__now_ns();
    r->rc = mgov_bufpool_alloc(r->pool, r->n, r->timeout_ns, &r->bufs);
    r->took_ns = mgov__now_ns() - t0;
    if (r->rc == MGOV_OK)
        atomic_store(&r->order, atomic_fetch_add(&order_counter, 1));
    atomic_store_explicit(&r->done, true, memory_order_release);
    return NULL;
}

void bh_req_start(bh_req_t *r, mgov_bufpool_t *p, size_t n, int64_t timeout_ns)
{
    memset(r, 0, sizeof *r);
    r->pool = p;
    r->n = n;
    r->timeout_ns = timeout_ns;
    r->rc = 1;
    atomic_init(&r->order, -1);
    atomic_init(&r->done, false);
    assert_int_equal(pthread_create(&r->thread, NULL, req_main, r), 0);
}

void bh_req_start_queued(bh_req_t *r, mgov_bufpool_t *p, size_t n, int64_t timeout_ns,
                         unsigned before)
{
    bh_req_start(r, p, n, timeout_ns);
    bh_wait_waiters(p, before + 1);
}

void bh_req_join(bh_req_t *r)
{
    if (!r->joined) {
        assert_int_equal(pthread_join(r->thread, NULL), 0);
        r->joined = true;
    }
}

bool bh_req_join_ms(bh_req_t *r, unsigned ms)
{
    for (unsigned i = 0; i < ms && !atomic_load_explicit(&r->done, memory_order_acquire); i++)
        bh_sleep_ms(1);
    if (!atomic_load_explicit(&r->done, memory_order_acquire))
        return false;
    bh_req_join(r);
    return true;
}

void bh_req_release(bh_req_t *r)
{
    mgov_bufs_release(r->bufs);
    r->bufs = NULL;
}
