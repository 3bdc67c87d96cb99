/* host_fx.c - what the tests of host budgets share (tests/host/): unique
 * host names, the segment's file, a view of it, waiting for a condition
 * on the view, and member processes.
 *
 * A member is the test executable run again (fork + exec of
 * /proc/self/exe "member MODE NAME BUDGET A B"): its main hands such
 * arguments to hfx_member_main.  Modes: hold (A bytes until told, then
 * gives back B and tries to take it again), wait (for A bytes, up to B
 * ms), consumer / stall (a consumer holding A bytes that gives them back
 * when asked; stall never returns from the ask; "grow" asks it to lease
 * more), churn (reserve+release until told to stop), lock (sits on the
 * segment's mutex).  It reports on its stdout, a pipe to the test, and
 * dies with the test (PR_SET_PDEATHSIG).
 *
 * Threading: the test's main thread only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "governor/internal.h"
#include "host/host.h"
#include "host_fx.h"
#include "sys/sys.h"

static char host_name[64];
static unsigned host_seq;

const char *hfx_name(void)
{
    snprintf(host_name, sizeof host_name, "t%d-%u", (int)getpid(), host_seq++);
    return host_name;
}

void hfx_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "/dev/shm/memgov.%u.%s", (unsigned)geteuid(), name);
}

bool hfx_exists(const char *name)
{
    char p[128];
    hfx_path(name, p, sizeof p);
    return access(p, F_OK) == 0;
}

void hfx_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

int hfx_open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

mgov_t *hfx_gov(const char *name, uint64_t host_budget)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = host_budget;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    return gov;
}

mgov_host_view_t *hfx_view(const char *name)
{
    static mgov_host_view_t v;
    assert_int_equal(mgov_host_read(name, &v), MGOV_OK);
    return &v;
}

/* Waits (up to ms) until fn(view) holds. */
bool hfx_eventually(const char *name, bool (*fn)(const mgov_host_view_t *, void *), void *arg,
                    long ms)
{
    for (long t = 0; t < ms; t += 2) {
        mgov_host_view_t v;
        if (mgov_host_read(name, &v) == MGOV_OK && fn(&v, arg))
            return true;
        hfx_sleep_ms(2);
    }
    return false;
}

bool hfx_has_event(const mgov_host_view_t *v, void *arg)
{
    for (unsigned i = 0; i < v->n_events; i++)
        if (v->events[i].type == (mgov_host_event_type_t)(uintptr_t)arg)
            return true;
    return false;
}

/* --------------------------------------------------- member processes */

/* In the child: becomes the member (exec). */
static void member_exec(int up, int down, const char *mode, const char *name, const char *a,
                        const char *b)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no member behind */
    dup2(up, 1);
    dup2(down, 0);
    char budget[32];
    snprintf(budget, sizeof budget, "%llu", (unsigned long long)HFX_BUDGET);
    execl("/proc/self/exe", "test_host", "member", mode, name, budget, a ? a : "0",
          b ? b : "0", (char *)NULL);
    _exit(127);
}

static void member_start(hfx_member_t *m, bool new_ns, const char *mode, const char *name,
                         const char *a, const char *b)
{
    int up[2], down[2];
    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    assert_int_equal(pipe2(down, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0 && !new_ns)
        member_exec(up[1], down[0], mode, name, a, b);
    if (pid == 0) {
        /* the member is pid 1 of a new pid namespace, this child its
         * parent: killing this child kills it (PR_SET_PDEATHSIG) */
        if (unshare(CLONE_NEWPID) != 0)
            _exit(126);
        pid_t inner = fork();
        if (inner == 0)
            member_exec(up[1], down[0], mode, name, a, b);
        /* no exec here: close the pipes, or the member never sees the
         * end of its commands */
        close(up[0]);
        close(up[1]);
        close(down[0]);
        close(down[1]);
        int st;
        if (inner < 0 || waitpid(inner, &st, 0) != inner)
            _exit(125);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 124);
    }
    close(up[1]);
    close(down[0]);
    m->pid = pid;
    m->from = fdopen(up[0], "r");
    m->to = down[1];
    assert_non_null(m->from);
}

void hfx_member_start(hfx_member_t *m, const char *mode, const char *name, const char *a,
                      const char *b)
{
    member_start(m, false, mode, name, a, b);
}

void hfx_member_start_ns(hfx_member_t *m, const char *mode, const char *name, const char *a,
                         const char *b)
{
    member_start(m, true, mode, name, a, b);
}

bool hfx_can_unshare_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(CLONE_NEWPID) == 0 ? 0 : 1);
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The member's next report line (without the newline). */
char *hfx_member_line(hfx_member_t *m, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, m->from))
        fail_msg("member %d said nothing (exited?)", (int)m->pid);
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

void hfx_member_expect(hfx_member_t *m, const char *what)
{
    char line[128];
    assert_string_equal(hfx_member_line(m, line, sizeof line), what);
}

void hfx_member_say(hfx_member_t *m, const char *cmd)
{
    size_t n = strlen(cmd);
    assert_int_equal(write(m->to, cmd, n), (ssize_t)n);
}

/* Ends the member (SIGKILL when kill_it, else closes its commands and
 * waits for a clean exit 0). */
void hfx_member_end(hfx_member_t *m, bool kill_it)
{
    if (kill_it)
        kill(m->pid, SIGKILL);
    close(m->to);
    int st;
    assert_int_equal(waitpid(m->pid, &st, 0), m->pid);
    if (kill_it)
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    else
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fclose(m->from);
}

/* A consumer holding grants that it gives back when evicted; with `stall`,
 * eviction reports "inreclaim" and never returns. */
typedef struct {
    mgov_t *gov;
    pthread_mutex_t lock; /* the member's thread fills it while the agent evicts */
    mgov_grant_t g[64];
    unsigned n;
    bool stall;
} holder_t;

static uint64_t holder_usage(void *ctx)
{
    holder_t *h = ctx;
    uint64_t u = 0;
    pthread_mutex_lock(&h->lock);
    for (unsigned i = 0; i < h->n; i++)
        u += h->g[i].bytes;
    pthread_mutex_unlock(&h->lock);
    return u;
}

static uint64_t holder_evict(void *ctx, uint64_t target)
{
    holder_t *h = ctx;
    if (h->stall) {
        printf("inreclaim\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    uint64_t freed = 0;
    pthread_mutex_lock(&h->lock);
    while (h->n > 0 && freed < target) {
        freed += h->g[h->n - 1].bytes;
        mgov_grant_release(&h->g[--h->n]);
    }
    pthread_mutex_unlock(&h->lock);
    return freed;
}

static const mgov_consumer_ops_t holder_ops = { .usage = holder_usage, .evict = holder_evict };

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* member MODE NAME HFX_BUDGET A B */
int hfx_member_main(int argc, char **argv)
{
    if (argc < 7)
        return 2;
    const char *mode = argv[2], *name = argv[3];
    uint64_t budget = strtoull(argv[4], NULL, 10);
    uint64_t a = strtoull(argv[5], NULL, 10), b = strtoull(argv[6], NULL, 10);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = budget;
    mgov_t *gov;
    int rc = mgov_create(&cfg, &gov);
    if (rc != MGOV_OK) {
        say("create %d", rc);
        return 1;
    }
    char cmd[64];
    if (strcmp(mode, "hold") == 0) {
        /* holds a bytes (1 MiB grants) until told "go", then releases b
         * bytes and tries to take them again after 100 ms */
        mgov_grant_t g[64];
        unsigned n = 0;
        for (uint64_t got = 0; got < a; got += MiB)
            if ((rc = mgov_reserve(gov, 0, MiB, 0, 5000 * MS, &g[n++])) != MGOV_OK) {
                say("reserve %d", rc);
                return 1;
            }
        say("held");
        if (!fgets(cmd, sizeof cmd, stdin)) {
            while (n)
                mgov_grant_release(&g[--n]);
            return mgov_destroy(gov) == MGOV_OK ? 0 : 1;
        }
        for (uint64_t r = 0; r < b; r += MiB)
            mgov_grant_release(&g[--n]);
        hfx_sleep_ms(100);
        mgov_grant_t again;
        say("retake %d", mgov_try_reserve(gov, 0, b, MGOV_NO_RECLAIM, &again));
        mgov_grant_release(&again);
        while (n)
            mgov_grant_release(&g[--n]);
        while (fgets(cmd, sizeof cmd, stdin))
            ;
    } else if (strcmp(mode, "wait") == 0) {
        /* waits for a bytes, up to b ms */
        mgov_grant_t g;
        uint64_t t0 = mgov__now_ns();
        say("waiting");
        rc = mgov_reserve(gov, 0, a, 0, (int64_t)b * MS, &g);
        say("got %d %llu", rc, (unsigned long long)((mgov__now_ns() - t0) / 1000000));
        while (fgets(cmd, sizeof cmd, stdin)) /* kept until the end */
            ;
        mgov_grant_release(&g);
    } else if (strcmp(mode, "consumer") == 0 || strcmp(mode, "stall") == 0) {
        /* a consumer holding a bytes that gives them back when asked
         * (stall: never returns from the ask) */
        holder_t h = { .gov = gov, .stall = strcmp(mode, "stall") == 0,
                       .lock = PTHREAD_MUTEX_INITIALIZER };
        mgov_consumer_config_t cc = { .name = "holder", .region = 0, .priority = 10,
                                      .ops = &holder_ops, .ctx = &h };
        mgov_consumer_t *c;
        if (mgov_consumer_register(gov, &cc, &c) != MGOV_OK)
            return 1;
        /* NO_RECLAIM: the holder's lock is held (its own evict takes it) */
        pthread_mutex_lock(&h.lock);
        for (uint64_t got = 0; got < a; got += MiB)
            if (mgov_try_reserve(gov, 0, MiB, MGOV_NO_RECLAIM, &h.g[h.n++]) != MGOV_OK)
                return 1;
        pthread_mutex_unlock(&h.lock);
        say("held");
        while (fgets(cmd, sizeof cmd, stdin)) {
            /* "grow": a lease beyond what it holds */
            mgov_grant_t more;
            say("grow %d", mgov_try_reserve(gov, 1, 512 << 10, MGOV_NO_RECLAIM, &more));
            mgov_grant_release(&more);
        }
        mgov_consumer_unregister(c);
        while (h.n)
            mgov_grant_release(&h.g[--h.n]);
    } else if (strcmp(mode, "churn") == 0) {
        /* reserve+release of 16 KiB..1 MiB until the commands end */
        say("ready");
        unsigned seed = (unsigned)getpid();
        mgov_grant_t g[8] = { 0 };
        uint64_t n = 0;
        for (;;) {
            unsigned k = rand_r(&seed) % 8;
            if (g[k].gov)
                mgov_grant_release(&g[k]);
            else
                (void)mgov_reserve(gov, 0, ((uint64_t)1 + rand_r(&seed) % 64) << 14, 0, 2 * MS,
                                   &g[k]);
            if (++n % 256 == 0) {
                struct timespec ts = { 0, 0 };
                nanosleep(&ts, NULL);
                if (n % 4096 == 0) {
                    fd_set r; /* a command or EOF: stop */
                    FD_ZERO(&r);
                    FD_SET(0, &r);
                    struct timeval tv = { 0, 0 };
                    if (select(1, &r, NULL, NULL, &tv) > 0)
                        break;
                }
            }
        }
        for (int k = 0; k < 8; k++)
            mgov_grant_release(&g[k]);
    } else if (strcmp(mode, "lock") == 0) {
        /* sits on the segment's lock until killed */
        if (mgov__host_test_hold_lock(gov->host) != MGOV_OK)
            return 1;
        say("locked");
        for (;;)
            pause();
    } else {
        return 2;
    }
    return mgov_destroy(gov) == MGOV_OK ? 0 : 1;
}

bool hfx_members_leq(const mgov_host_view_t *v, void *arg)
{
    return v->n_members <= (unsigned)(uintptr_t)arg;
}

/* A reserve of 7/8 of the budget within 3 s: only possible once every
 * dead member's lease is back. */
void hfx_take_most(mgov_t *gov, const char *what)
{
    mgov_grant_t g;
    int rc = mgov_reserve(gov, 0, HFX_BUDGET * 7 / 8, 0, 3000 * MS, &g);
    if (rc != MGOV_OK)
        fail_msg("after a death %s: reserve of 7/8 of the budget: %s", what, mgov_strerror(rc));
    mgov_grant_release(&g);
}
