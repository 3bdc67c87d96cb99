/* host_demo.c - `memgov host --demo`: worker processes share one budget
 * (memgov/host.h) and compete for it; one is killed with SIGKILL halfway;
 * the others go on, its lease comes back, and when the last worker leaves
 * the shared segment is gone.
 *
 * Each worker is a fork of this process (made before this process starts
 * any thread) with a governor on the host and one consumer, a cache: it
 * keeps reserving blocks of 256 KiB to 2 MiB for the cache until the cache
 * holds 40% of the budget, and drops the oldest block now and then; asked
 * to give back (host-wide pressure, another worker waiting), the cache
 * evicts its oldest blocks.  With four workers each wanting 40%, the
 * budget is over-subscribed: asks, waits and answers happen all the time.
 *
 * The parent joins nothing: it reads the shared state every 20 ms (the
 * sum of the leases must never pass the budget), prints the host's events
 * as they come, kills worker 1 halfway, and checks the end: every other
 * worker exited cleanly having worked after the kill, the victim's lease
 * was taken back (a DIED event, its slot gone), and the segment is removed.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memgov.h>

#include "cli.h"
#include "cmd_host.h"

#define MAX_BLOCKS 256

typedef struct cache {
    mgov_grant_t block[MAX_BLOCKS];
    unsigned head, n; /* a ring: oldest at head */
} cache_t;

static uint64_t cache_usage(void *ctx)
{
    cache_t *c = ctx;
    uint64_t u = 0;
    for (unsigned i = 0; i < c->n; i++)
        u += c->block[(c->head + i) % MAX_BLOCKS].bytes;
    return u;
}

static uint64_t cache_drop_oldest(cache_t *c)
{
    mgov_grant_t *g = &c->block[c->head];
    uint64_t b = g->bytes;
    mgov_grant_release(g);
    c->head = (c->head + 1) % MAX_BLOCKS;
    c->n--;
    return b;
}

/* Runs in the agent's thread while the worker's own thread adds blocks:
 * the lock keeps the ring whole. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t cache_evict(void *ctx, uint64_t target)
{
    cache_t *c = ctx;
    uint64_t freed = 0;
    pthread_mutex_lock(&cache_lock);
    while (c->n > 0 && freed < target)
        freed += cache_drop_oldest(c);
    pthread_mutex_unlock(&cache_lock);
    return freed;
}

static const mgov_consumer_ops_t cache_ops = { .usage = cache_usage, .evict = cache_evict };

/* A worker: returns its exit status; writes "ops_before ops_after" on fd. */
static int worker(const char *name, uint64_t budget, unsigned seconds, int fd)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = budget;
    mgov_t *gov;
    int rc = mgov_create(&cfg, &gov);
    if (rc != MGOV_OK) {
        fprintf(stderr, "memgov host: worker %d: cannot join '%s': %s\n", (int)getpid(), name,
                mgov_strerror(rc));
        return 1;
    }
    static cache_t cache;
    mgov_consumer_config_t cc = { .name = "cache", .region = MGOV_REGION_EXECUTION_BUFFERS,
                                  .priority = MGOV_PRIORITY_QUERY_CACHE, .ops = &cache_ops,
                                  .ctx = &cache };
    mgov_consumer_t *consumer;
    if ((rc = mgov_consumer_register(gov, &cc, &consumer)) != MGOV_OK)
        return 1;
    uint64_t start = cli_now_ns(), half = start + (uint64_t)seconds * 500000000u;
    uint64_t end = start + (uint64_t)seconds * 1000000000u, ops[2] = { 0, 0 };
    unsigned seed = (unsigned)getpid();
    while (cli_now_ns() < end) {
        uint64_t bytes = (uint64_t)(256 + rand_r(&seed) % 1792) << 10;
        mgov_grant_t g;
        /* outside the cache's lock: reclaim on the way may evict from it */
        rc = mgov_reserve(gov, MGOV_REGION_EXECUTION_BUFFERS, bytes, 0, 200 * 1000 * 1000, &g);
        pthread_mutex_lock(&cache_lock);
        if (rc == MGOV_OK) {
            if (cache.n == MAX_BLOCKS)
                cache_drop_oldest(&cache);
            cache.block[(cache.head + cache.n++) % MAX_BLOCKS] = g;
            ops[cli_now_ns() >= half]++;
        }
        if (cache_usage(&cache) > budget / 10 * 4 || rand_r(&seed) % 4 == 0)
            if (cache.n)
                cache_drop_oldest(&cache);
        pthread_mutex_unlock(&cache_lock);
    }
    mgov_consumer_unregister(consumer);
    while (cache.n)
        cache_drop_oldest(&cache);
    rc = mgov_destroy(gov);
    dprintf(fd, "%" PRIu64 " %" PRIu64 "\n", ops[0], ops[1]);
    return rc == MGOV_OK ? 0 : 1;
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int host_demo(unsigned workers, uint64_t budget, unsigned seconds)
{
    char name[48];
    snprintf(name, sizeof name, "demo-%d", (int)getpid());
    printf("memgov host --demo: %u workers share '%s' (%s); worker 1 is killed with SIGKILL "
           "after %.1f s\n",
           workers, name, cli_size(budget).s, seconds / 2.0);
    fflush(stdout);
    pid_t pid[32];
    int pipes[32];
    for (unsigned i = 0; i < workers; i++) {
        int p[2];
        if (pipe(p) != 0)
            return cli_error("host", "cannot make a pipe: %s", strerror(errno));
        fflush(NULL);
        pid[i] = fork();
        if (pid[i] < 0)
            return cli_error("host", "cannot start a worker: %s", strerror(errno));
        if (pid[i] == 0) {
            close(p[0]);
            _exit(worker(name, budget, seconds, p[1]));
        }
        close(p[1]);
        pipes[i] = p[0];
    }
    bool ok = true, killed = false;
    uint64_t start = cli_now_ns(), kill_at = start + (uint64_t)seconds * 500000000u;
    uint64_t end = start + (uint64_t)seconds * 1000000000u + 2000000000u;
    uint64_t seen = 0, max_leased = 0, kill_ns = 0, died_ns = 0;
    static mgov_host_view_t v;
    while (cli_now_ns() < end) {
        nap_ms(20);
        if (!killed && cli_now_ns() >= kill_at) {
            kill(pid[1], SIGKILL);
            kill_ns = cli_now_ns();
            killed = true;
            printf("  -- killed worker %d (SIGKILL)\n", (int)pid[1]);
        }
        int rc = mgov_host_read(name, &v);
        if (rc == MGOV_ENOTFOUND && killed)
            break; /* everyone left */
        if (rc != MGOV_OK)
            continue; /* not made yet */
        if (v.leased > v.budget) {
            printf("  !! leases add up to %s, over the budget\n", cli_size(v.leased).s);
            ok = false;
        }
        if (v.leased > max_leased)
            max_leased = v.leased;
        /* the victim's slot gone: its lease was taken back (the ring may
         * have moved past its DIED event when asks come fast) */
        bool victim_in = false;
        for (unsigned i = 0; i < v.n_members; i++)
            victim_in = victim_in || v.members[i].pid == pid[1];
        if (killed && !victim_in && !died_ns)
            died_ns = cli_now_ns();
        for (unsigned i = 0; i < v.n_events; i++) {
            const mgov_host_event_t *e = &v.events[i];
            if (e->seq < seen)
                continue;
            /* asks and refusals come by the hundred: the first few only */
            if ((e->type != MGOV_HOST_EV_ASKED && e->type != MGOV_HOST_EV_ANSWERED &&
                 e->type != MGOV_HOST_EV_REFUSED) ||
                e->seq < 12)
                host_event_print(e);
        }
        seen = v.ev_seq;
    }
    printf("  leases peaked at %s of %s (never over it: %s)\n", cli_size(max_leased).s,
           cli_size(budget).s, ok ? "yes" : "NO");
    if (died_ns)
        printf("  the victim's death noticed and its lease taken back within %.0f ms "
               "(this view polls every 20 ms)\n",
               (double)(died_ns - kill_ns) / 1e6);
    else {
        printf("  !! the victim's death was not seen\n");
        ok = false;
    }
    for (unsigned i = 0; i < workers; i++) {
        int st;
        waitpid(pid[i], &st, 0);
        char line[64] = "";
        ssize_t n = read(pipes[i], line, sizeof line - 1);
        close(pipes[i]);
        line[n > 0 ? n : 0] = '\0';
        if (i == 1) {
            printf("  worker %d: killed\n", (int)pid[i]);
            continue;
        }
        unsigned long long before = 0, after = 0;
        bool fine = WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
                    sscanf(line, "%llu %llu", &before, &after) == 2 && after > 0;
        printf("  worker %d: %s, %llu blocks before the kill, %llu after\n", (int)pid[i],
               fine ? "went on and left cleanly" : "FAILED", before, after);
        ok = ok && fine;
    }
    int rc = mgov_host_read(name, &v);
    printf("  the shared segment after the last worker: %s\n",
           rc == MGOV_ENOTFOUND ? "removed" : "STILL THERE");
    ok = ok && rc == MGOV_ENOTFOUND;
    printf("%s\n", ok ? "demo passed: the budget was whole again after the death"
                      : "demo FAILED");
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
