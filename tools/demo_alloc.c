/* demo_alloc.c - the demo's two allocator phases, the only ones that use
 * real memory besides the index: a query's arena, charged to
 * execution_buffers chunk by chunk, and a write pipe's buffer pool, whose
 * writer waits (FIFO, with a deadline) until the flusher gives buffers
 * back.  After each step execution_buffers must count exactly what the
 * queries and the allocator hold.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "demo.h"

/* A query's arena: rows of real memory, charged chunk by chunk. */
void demo_arena(demo_t *d)
{
    const uint64_t want = 4 * d->unit;
    size_t chunk = (size_t)(d->unit / 4) & ~(size_t)4095;
    if (chunk < MGOV_ARENA_MIN_CHUNK)
        chunk = MGOV_ARENA_MIN_CHUNK;
    demo_step(d, "a query builds %s of 48-byte rows in an arena (chunks of %s, each one grant)",
              cli_size(want).s, cli_size(chunk).s);
    mgov_arena_config_t acfg = MGOV_ARENA_CONFIG_INIT;
    acfg.gov = d->gov;
    acfg.region = "execution_buffers";
    acfg.chunk_size = chunk;
    mgov_arena_t *arena;
    int rc = mgov_arena_create(&acfg, &arena);
    if (rc != MGOV_OK) {
        demo_fail(d, "mgov_arena_create: %s", mgov_strerror(rc));
        return;
    }
    uint64_t rows = 0;
    while (mgov_arena_used(arena) < want) {
        unsigned char *row = mgov_arena_alloc(arena, 48, 8);
        if (!row) {
            demo_fail(d, "arena allocation: %s", mgov_strerror(mgov_arena_last_error(arena)));
            break;
        }
        memset(row, (int)(rows++ & 0xff), 48);
    }
    demo_say(d, "  ", "%" PRIu64 " rows: %s used, %s reserved in %zu chunks; execution_buffers "
             "counts %s more", rows, cli_size(mgov_arena_used(arena)).s,
             cli_size(mgov_arena_reserved(arena)).s, mgov_arena_chunk_count(arena),
             cli_size(mgov_arena_reserved(arena)).s);
    demo_check_exec(d, mgov_arena_reserved(arena), "with the arena full");
    demo_expect_ok(d, mgov_arena_check(arena), "mgov_arena_check");
    mgov_arena_reset(arena);
    demo_say(d, "  ", "mgov_arena_reset: one chunk kept (%s), the other grants returned",
             cli_size(mgov_arena_reserved(arena)).s);
    demo_check_exec(d, mgov_arena_reserved(arena), "after the reset");
    mgov_arena_destroy(arena);
    demo_check_exec(d, 0, "after the arena is destroyed");
    demo_show_state(d);
}

typedef struct pipe_writer {
    mgov_bufpool_t *pool;
    mgov_bufs_t *bufs;
    int rc;
} pipe_writer_t;

static void *pipe_writer_main(void *arg)
{
    pipe_writer_t *w = arg;
    w->rc = mgov_bufpool_alloc(w->pool, 3, DEMO_WAIT_TIMEOUT_NS, &w->bufs);
    return NULL;
}

/* A write pipe's buffer pool: a cap of four buffers, and a writer that
 * waits for the flusher to give two back. */
void demo_bufpool(demo_t *d)
{
    size_t size = 64;
    while (size * 2 <= d->unit / 4 && size * 2 <= ((size_t)64 << 20))
        size *= 2;
    demo_step(d, "a write pipe's buffer pool (4 buffers of %s at most): the flusher holds 2, "
              "a writer asks for 3 and waits", cli_size(size).s);
    mgov_bufpool_config_t pcfg = MGOV_BUFPOOL_CONFIG_INIT;
    pcfg.buffer_size = size;
    pcfg.max_memory = 4 * (uint64_t)size;
    pcfg.gov = d->gov;
    pcfg.region = "execution_buffers";
    pcfg.name = "write_pipe";
    mgov_bufpool_t *pool;
    int rc = mgov_bufpool_create(&pcfg, &pool);
    if (rc != MGOV_OK) {
        demo_fail(d, "mgov_bufpool_create: %s", mgov_strerror(rc));
        return;
    }
    mgov_bufs_t *flusher = NULL;
    demo_expect_ok(d, mgov_bufpool_try_alloc(pool, 2, &flusher), "the flusher's 2 buffers");
    pipe_writer_t w = { .pool = pool, .bufs = NULL, .rc = MGOV_ECANCELED };
    pthread_t thread;
    bool started = pthread_create(&thread, NULL, pipe_writer_main, &w) == 0;
    if (!started)
        demo_fail(d, "cannot start a thread");
    mgov_bufpool_stats_t ps = { 0 };
    for (int i = 0; started && i < 2000; i++) { /* until the writer is queued */
        mgov_bufpool_stats(pool, &ps);
        if (ps.waiters == 1)
            break;
        struct timespec ms = { 0, NS_PER_MS };
        nanosleep(&ms, NULL);
    }
    demo_say(d, "  ", "%" PRIu64 " writer waiting; %" PRIu64 " buffers in use", ps.waiters,
             ps.buffers_in_use);
    if (ps.waiters != 1)
        demo_fail(d, "the writer did not wait for the pool");
    demo_say(d, "  ", "the flusher releases its 2 buffers");
    mgov_bufs_release(flusher);
    if (started)
        pthread_join(thread, NULL);
    demo_expect_ok(d, w.rc, "the writer's 3 buffers");
    mgov_bufpool_stats(pool, &ps);
    demo_say(d, "  ", "the writer got %zu buffers after waiting %.1f ms; the pool holds %s "
             "(%" PRIu64 " system allocations), all counted in execution_buffers",
             mgov_bufs_count(w.bufs), (double)ps.wait_ns / 1e6, cli_size(ps.bytes_held).s,
             ps.sys_allocs);
    demo_check_exec(d, ps.bytes_held, "with the pool in use");
    mgov_bufs_release(w.bufs);
    demo_expect_ok(d, mgov_bufpool_destroy(pool, DEMO_WAIT_TIMEOUT_NS), "mgov_bufpool_destroy");
    demo_check_exec(d, 0, "after the pool is destroyed");
}
