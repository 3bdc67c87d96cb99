/* demo_script.c - the demo's script: a table of phases, run in order, each
 * one printed step.  Sizes scale with the budget (the default is 64 MiB):
 *
 *   normal -> moderate (the governor evicts from the cache) -> high (it
 *   evicts and spills the index to disk) -> reload -> high with a view of
 *   the index pinned (the governor's spills of it are skipped: EBUSY) ->
 *   critical (an urgent request uses the headroom above the critical
 *   threshold) -> refusals (EBUDGET, ELIMIT) -> a query waits in a second
 *   thread -> the view is unpinned and mgov_spill_all frees the index's
 *   memory and wakes it -> back to normal -> an arena and a buffer pool
 *   (demo_alloc.c) -> mgov_reload_eligible.
 *
 * The queries' grants live in script_t from the phase that takes them to
 * the one that ends them.  Each phase checks what it is there to show.
 */
#include <inttypes.h>
#include <time.h>

#include "demo.h"

/* A query in a second thread that waits for its memory (mgov_reserve). */
typedef struct waiter {
    demo_t *d;
    uint64_t bytes;
    mgov_grant_t grant;
    int rc;
    bool done;                       /* under d->mu */
} waiter_t;

typedef struct script {
    demo_t *d;
    uint64_t u;                      /* the demo's unit: budget / 64 */
    mgov_grant_t query_a, query_b, query_c, urgent;
    waiter_t w;                      /* query D, waiting */
    pthread_t thread;
    bool started;                    /* the waiter's thread runs */
} script_t;

/* Bytes from the current usage to `fraction` of the budget, rounded up to
 * a sixteenth of the unit so the numbers stay readable. */
static uint64_t bytes_to_reach(demo_t *d, double fraction)
{
    uint64_t goal = (uint64_t)((double)d->budget * fraction);
    uint64_t used = mgov_used(d->gov);
    uint64_t grain = d->unit / 16 ? d->unit / 16 : 1;

    if (goal <= used)
        return grain;
    return (goal - used + grain - 1) / grain * grain;
}

static void *waiter_main(void *arg)
{
    waiter_t *w = arg;
    demo_t *d = w->d;
    mgov_grant_t g = MGOV_GRANT_INIT;

    int rc = mgov_reserve(d->gov, d->r_exec, w->bytes, 0, DEMO_WAIT_TIMEOUT_NS, &g);
    if (rc == MGOV_OK)
        atomic_fetch_add(&d->exec.bytes, w->bytes);
    pthread_mutex_lock(&d->mu);
    w->grant = g;
    w->rc = rc;
    w->done = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ------------------------------------------------------------- phases */

/* Normal: the cache and the index fill up. */
static void cache_warms(script_t *s)
{
    demo_t *d = s->d;
    unsigned n_results = 6;

    demo_step(d, "the query cache warms up with %u results of %s", n_results, cli_size(s->u).s);
    for (unsigned i = 0; i < n_results; i++)
        demo_expect_ok(d, demo_cache_put(d, s->u), "caching a result");
    demo_show_state(d);
}

static void index_built(script_t *s)
{
    demo_t *d = s->d;
    unsigned appends;
    mgov_section_info_t info;

    demo_step(d, "the index is built: %s of real bytes appended to section '%s' in "
              "index_buffers", cli_size(d->index_bytes).s, DEMO_INDEX_NAME);
    demo_expect_ok(d, demo_index_build(d, d->index_bytes, &appends), "building the index");
    if (demo_index_info(d, &info))
        demo_say(d, "  ", "index: %s (%" PRIu64 " bytes) in RAM, written in %u appends of at "
                 "most %s; its capacity, %s, is charged to index_buffers",
                 cli_size(info.length).s, info.length, appends, cli_size(DEMO_INDEX_CHUNK).s,
                 cli_size(info.ram_bytes).s);
    d->index.shown_tier = demo_index_tier(d);
    demo_index_intact(d, "after the index was built");
    demo_show_state(d);
    demo_check_accounting(d, "after the index is built");
}

/* Moderate: the governor evicts cached results. */
static void moderate(script_t *s)
{
    demo_t *d = s->d;
    uint64_t bytes = bytes_to_reach(d, 0.72);

    demo_step(d, "query A takes %s of execution buffers: past the moderate threshold",
              cli_size(bytes).s);
    demo_expect_ok(d, demo_exec_take(d, bytes, 0, &s->query_a), "query A");
    demo_show_state(d);
    if (demo_cache_evicted(d) == 0)
        demo_fail(d, "crossing into moderate evicted nothing from the cache");
    demo_check_accounting(d, "after query A");
}

/* High: the governor evicts again, then spills the index to its file. */
static void high(script_t *s)
{
    demo_t *d = s->d;
    uint64_t bytes = bytes_to_reach(d, 0.90);

    demo_step(d, "query B takes %s more, to 90%% of the budget: past the high threshold",
              cli_size(bytes).s);
    demo_expect_ok(d, demo_exec_take(d, bytes, 0, &s->query_b), "query B");
    demo_show_state(d);
    /* The cache alone cannot free enough now: the index must have spilled. */
    if (demo_index_tier(d) != MGOV_TIER_ON_DISK)
        demo_fail(d, "crossing into high did not spill the index");
    demo_check_accounting(d, "after query B");
}

/* Back down, and the index comes back. */
static void reload(script_t *s)
{
    demo_t *d = s->d;

    demo_step(d, "query A finishes; mgov_reload_eligible(0.80) brings spilled consumers back");
    demo_exec_done(d, &s->query_a);
    unsigned reloaded = mgov_reload_eligible(d->gov, 0.80);
    demo_say(d, "  ", "%u consumer(s) reloaded", reloaded);
    if (reloaded != 1 || demo_index_tier(d) != MGOV_TIER_IN_MEMORY)
        demo_fail(d, "mgov_reload_eligible(0.80) did not reload the index");
    demo_show_state(d);
    demo_check_accounting(d, "after the reload");
}

/* High again, with a view of the index pinned: the governor's spill of it
 * is skipped (MGOV_EBUSY), so nothing can be spilled. */
static void pinned(script_t *s)
{
    demo_t *d = s->d;
    demo_index_t *x = &d->index;
    uint64_t bytes = bytes_to_reach(d, 0.93);

    demo_step(d, "a reader pins a view of the index (mgov_section_pin), so the governor cannot "
              "spill it; query C takes %s, to 93%%", cli_size(bytes).s);
    unsigned skipped_before = d->index_spills_skipped;
    int rc = mgov_section_pin(x->sec, &x->view);
    demo_expect_ok(d, rc, "pinning a view of the index");
    x->pinned = rc == MGOV_OK;
    if (x->pinned && demo_index_view_intact(d, &x->view, "the reader's view"))
        demo_say(d, "  ", "the reader's view: %s in RAM, intact", cli_size(x->view.len).s);
    demo_expect_ok(d, demo_exec_take(d, bytes, 0, &s->query_c), "query C");
    demo_show_state(d);
    pthread_mutex_lock(&d->mu);
    bool skipped = d->index_spills_skipped > skipped_before;
    pthread_mutex_unlock(&d->mu);
    if (!skipped)
        demo_fail(d, "reaching high with the index pinned: the governor did not try to spill "
                  "it, or its spill was not refused with EBUSY");
    if (demo_index_tier(d) != MGOV_TIER_IN_MEMORY)
        demo_fail(d, "the pinned index left RAM");
}

/* Critical: only urgent requests may use the top slice. */
static void critical(script_t *s)
{
    demo_t *d = s->d;
    uint64_t bytes = bytes_to_reach(d, 0.98);

    demo_step(d, "query C's final merge takes %s more with MGOV_URGENT, to 98%%: above "
              "critical", cli_size(bytes).s);
    demo_expect_ok(d, demo_exec_take(d, bytes, MGOV_URGENT, &s->urgent), "the urgent request");
    demo_show_state(d);
    demo_check_accounting(d, "at critical");
}

/* A request that must be refused with `want`; granted anyway, it is given
 * back. */
static void refused(script_t *s, uint64_t bytes, int want, const char *who)
{
    demo_t *d = s->d;
    mgov_grant_t g = MGOV_GRANT_INIT;

    int rc = demo_exec_take(d, bytes, 0, &g);
    demo_say(d, "  ", "-> %s: %s", mgov_status_name(rc), mgov_strerror(rc));
    if (rc != want)
        demo_fail(d, "%s: expected %s, got %s", who, mgov_status_name(want),
                  mgov_status_name(rc));
    if (rc == MGOV_OK)
        demo_exec_done(d, &g);
}

static void refused_budget(script_t *s)
{
    demo_step(s->d, "query D asks for %s without waiting (mgov_try_reserve)", cli_size(s->u).s);
    refused(s, s->u, MGOV_EBUDGET, "query D");
}

static void refused_limit(script_t *s)
{
    demo_t *d = s->d;
    uint64_t huge = d->exec_limit + 8 * s->u;

    demo_step(d, "query E asks for %s, more than execution_buffers' limit of %s",
              cli_size(huge).s, cli_size(d->exec_limit).s);
    refused(s, huge, MGOV_ELIMIT, "query E");
}

/* A wait: query D again, from a thread that blocks in mgov_reserve. */
static void waits(script_t *s)
{
    demo_t *d = s->d;

    s->w = (waiter_t){ .d = d, .bytes = s->u, .grant = MGOV_GRANT_INIT, .rc = MGOV_ECANCELED };
    demo_step(d, "query D asks again from another thread, willing to wait up to %lld ms "
              "(mgov_reserve)", DEMO_WAIT_TIMEOUT_NS / NS_PER_MS);
    pthread_mutex_lock(&d->mu);
    unsigned waits_before = d->waits_started;
    pthread_mutex_unlock(&d->mu);
    s->started = pthread_create(&s->thread, NULL, waiter_main, &s->w) == 0;
    if (!s->started) {
        demo_fail(d, "cannot start a thread");
        return;
    }
    pthread_mutex_lock(&d->mu);
    while (d->waits_started == waits_before && !s->w.done)
        pthread_cond_wait(&d->cond, &d->mu);
    bool waited = !s->w.done;
    pthread_mutex_unlock(&d->mu);
    if (!waited)
        demo_fail(d, "query D did not wait: %s", mgov_strerror(s->w.rc));
    /* Let the wait show in the timestamps. */
    struct timespec pause = { 0, 3 * NS_PER_MS };
    nanosleep(&pause, NULL);
}

/* The wake-up: the view is unpinned, the index spilled, query D served. */
static void woken(script_t *s)
{
    demo_t *d = s->d;
    demo_index_t *x = &d->index;

    demo_step(d, "the reader unpins its view and mgov_spill_all moves the index to disk");
    if (x->pinned) {
        mgov_section_unpin(x->sec, &x->view);
        x->pinned = false;
    }
    int rc = mgov_spill_all(d->gov);
    if (rc == MGOV_EBUSY) {
        /* The waiting query runs reclaim passes of its own while it waits
         * (every few ms): one was spilling the index at this very moment,
         * and the governor skips a section that is being moved.  Wait for
         * that move to end (an explicit spill waits for it). */
        demo_say(d, "  ", "the waiting query's own reclaim pass was spilling the index at the "
                 "same moment; mgov_section_spill waits for it");
        rc = mgov_section_spill(x->sec, DEMO_WAIT_TIMEOUT_NS);
    }
    demo_expect_ok(d, rc, "mgov_spill_all");
    if (s->started) {
        pthread_join(s->thread, NULL);
        demo_say(d, "  ", "query D %s",
                 s->w.rc == MGOV_OK ? "got its memory" : mgov_strerror(s->w.rc));
        demo_expect_ok(d, s->w.rc, "query D's wait");
    }
    if (demo_index_tier(d) != MGOV_TIER_ON_DISK)
        demo_fail(d, "the index is not on disk after mgov_spill_all");
    demo_show_state(d);
    demo_check_accounting(d, "after the wake-up");
}

/* Back to normal. */
static void queries_end(script_t *s)
{
    demo_t *d = s->d;

    demo_step(d, "queries B, C and D finish");
    demo_exec_done(d, &s->urgent);
    demo_exec_done(d, &s->query_c);
    demo_exec_done(d, &s->query_b);
    if (s->w.rc == MGOV_OK)
        demo_exec_done(d, &s->w.grant);
    demo_show_state(d);
}

/* Real memory: the allocators charge the budget as they go. */
static void arena(script_t *s)
{
    demo_arena(s->d);
}

static void bufpool(script_t *s)
{
    demo_bufpool(s->d);
}

static void reload_again(script_t *s)
{
    demo_t *d = s->d;

    demo_step(d, "mgov_reload_eligible(0.70) brings the index back; the cache warms up again");
    unsigned reloaded = mgov_reload_eligible(d->gov, 0.70);
    demo_say(d, "  ", "%u consumer(s) reloaded", reloaded);
    if (reloaded != 1 || demo_index_tier(d) != MGOV_TIER_IN_MEMORY)
        demo_fail(d, "mgov_reload_eligible(0.70) did not reload the index");
    for (unsigned i = 0; i < 6; i++)
        demo_expect_ok(d, demo_cache_put(d, s->u), "caching a result");
    demo_show_state(d);
    demo_check_accounting(d, "at the end");
}

/* -------------------------------------------------------------- table */

typedef void (*phase_fn)(script_t *s);

/* In order: each phase starts from the state the one before left. */
static const phase_fn phases[] = {
    cache_warms, index_built,          /* normal */
    moderate,                          /* the cache evicts */
    high,                              /* the index spills */
    reload,                            /* normal, the index back in RAM */
    pinned,                            /* high, nothing can be spilled */
    critical,                          /* the spill reserve */
    refused_budget, refused_limit,     /* EBUDGET, ELIMIT */
    waits, woken,                      /* a waiter, woken by a spill */
    queries_end,                       /* normal */
    arena, bufpool,                    /* real memory, charged */
    reload_again,                      /* the index back again */
};

void demo_script_run(demo_t *d)
{
    script_t s = {
        .d = d,
        .u = d->unit,
        .query_a = MGOV_GRANT_INIT,
        .query_b = MGOV_GRANT_INIT,
        .query_c = MGOV_GRANT_INIT,
        .urgent = MGOV_GRANT_INIT,
        .w = { .grant = MGOV_GRANT_INIT, .rc = MGOV_ECANCELED },
    };

    for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++)
        phases[i](&s);
}
