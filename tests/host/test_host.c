/* test_host.c - the budget shared by the processes of a host (src/host/,
 * src/governor/host_link.c).
 *
 * Several processes: the test runs itself again (fork + exec of
 * /proc/self/exe with "member ..." arguments) as members that lease, hold,
 * churn, stall in a reclaim or sit on the segment's lock; they report on a
 * pipe and are killed with SIGKILL where a test says.  The parent watches
 * the shared state through mgov_host_read and checks that the sum of the
 * leases never passes the budget, that dead members' leases come back,
 * that asks are answered, that room goes to waiters, that damaged segments
 * are refused or repaired, and that failures leave nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "fault_helpers.h"
#include "host/host.h"
#include "governor/internal.h"
#include "host/host_layout.h"
#include "memgov.h"
#include "sys/fault.h"
#include "sys/sys.h"

#define MiB ((uint64_t)1 << 20)
#define MS 1000000ll
#define BUDGET (8 * MiB)

/* ------------------------------------------------------------ helpers */

static char host_name[64];
static unsigned host_seq;

static const char *new_host(void)
{
    snprintf(host_name, sizeof host_name, "t%d-%u", (int)getpid(), host_seq++);
    return host_name;
}

static void shm_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "/dev/shm/memgov.%u.%s", (unsigned)geteuid(), name);
}

static bool shm_exists(const char *name)
{
    char p[128];
    shm_path(name, p, sizeof p);
    return access(p, F_OK) == 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static mgov_t *member_gov(const char *name, uint64_t host_budget)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = host_budget;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    return gov;
}

static mgov_host_view_t *view_of(const char *name)
{
    static mgov_host_view_t v;
    assert_int_equal(mgov_host_read(name, &v), MGOV_OK);
    return &v;
}

/* Waits (up to ms) until fn(view) holds. */
static bool eventually(const char *name, bool (*fn)(const mgov_host_view_t *, void *), void *arg,
                       long ms)
{
    for (long t = 0; t < ms; t += 2) {
        mgov_host_view_t v;
        if (mgov_host_read(name, &v) == MGOV_OK && fn(&v, arg))
            return true;
        sleep_ms(2);
    }
    return false;
}

static bool has_event(const mgov_host_view_t *v, void *arg)
{
    for (unsigned i = 0; i < v->n_events; i++)
        if (v->events[i].type == (mgov_host_event_type_t)(uintptr_t)arg)
            return true;
    return false;
}

static void take_most(mgov_t *gov, const char *what);

/* --------------------------------------------------- member processes */

typedef struct {
    pid_t pid;
    FILE *from; /* its reports */
    int to;     /* its commands */
} member_t;

static void member_start(member_t *m, const char *mode, const char *name, const char *a,
                         const char *b)
{
    int up[2], down[2];
    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    assert_int_equal(pipe2(down, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no member behind */
        dup2(up[1], 1);
        dup2(down[0], 0);
        char budget[32];
        snprintf(budget, sizeof budget, "%llu", (unsigned long long)BUDGET);
        execl("/proc/self/exe", "test_host", "member", mode, name, budget, a ? a : "0",
              b ? b : "0", (char *)NULL);
        _exit(127);
    }
    close(up[1]);
    close(down[0]);
    m->pid = pid;
    m->from = fdopen(up[0], "r");
    m->to = down[1];
    assert_non_null(m->from);
}

/* The member's next report line (without the newline). */
static char *member_line(member_t *m, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, m->from))
        fail_msg("member %d said nothing (exited?)", (int)m->pid);
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

static void member_expect(member_t *m, const char *what)
{
    char line[128];
    assert_string_equal(member_line(m, line, sizeof line), what);
}

static void member_say(member_t *m, const char *cmd)
{
    size_t n = strlen(cmd);
    assert_int_equal(write(m->to, cmd, n), (ssize_t)n);
}

/* Ends the member (SIGKILL when kill_it, else closes its commands and
 * waits for a clean exit 0). */
static void member_end(member_t *m, bool kill_it)
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

/* member MODE NAME BUDGET A B */
static int member_main(int argc, char **argv)
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
        sleep_ms(100);
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

/* ------------------------------------------------------------- in-process */

static void test_join_and_leave(void **state)
{
    (void)state;
    const char *name = new_host();
    int fds = open_fds();
    mgov_t *a = member_gov(name, BUDGET), *b = member_gov(name, 64 * MiB);
    assert_true(shm_exists(name));
    /* the file: the user's own, closed to others */
    char p[128];
    struct stat st;
    shm_path(name, p, sizeof p);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_mode & 077, 0);
    /* the creator's budget rules; the joiner governs the shared one */
    assert_int_equal(mgov_budget(a), BUDGET);
    assert_int_equal(mgov_budget(b), BUDGET);
    mgov_host_view_t *v = view_of(name);
    assert_int_equal(v->budget, BUDGET);
    assert_int_equal(v->n_members, 2);
    assert_true(has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_CREATED));

    mgov_grant_t ga, gb;
    assert_int_equal(mgov_try_reserve(a, 0, 3 * MiB, 0, &ga), MGOV_OK);
    assert_int_equal(mgov_try_reserve(b, 0, 3 * MiB, 0, &gb), MGOV_OK);
    mgov_host_member_t ma;
    assert_int_equal(mgov_host_member(a, &ma), MGOV_OK);
    assert_true(ma.leased >= 3 * MiB && ma.leased <= BUDGET);
    assert_int_equal(ma.pid, getpid());
    v = view_of(name);
    assert_true(v->leased <= BUDGET && v->leased >= 6 * MiB);
    /* what neither lease can hold now is refused, not over-leased */
    mgov_grant_t gc;
    assert_int_equal(mgov_try_reserve(a, 0, 3 * MiB, MGOV_NO_RECLAIM, &gc), MGOV_EBUDGET);
    assert_true(view_of(name)->leased <= BUDGET);
    mgov_grant_release(&ga);
    mgov_grant_release(&gb);
    assert_int_equal(mgov_destroy(a), MGOV_OK);
    assert_true(shm_exists(name));
    assert_int_equal(mgov_destroy(b), MGOV_OK);
    /* the last one out removes the segment */
    assert_false(shm_exists(name));
    mgov_host_view_t gone;
    assert_int_equal(mgov_host_read(name, &gone), MGOV_ENOTFOUND);
    assert_int_equal(open_fds(), fds);
    /* no host: ENOTFOUND */
    mgov_t *local;
    assert_int_equal(mgov_create(NULL, &local), MGOV_OK);
    assert_int_equal(mgov_host_member(local, &ma), MGOV_ENOTFOUND);
    mgov_destroy(local);
}

static void test_names(void **state)
{
    (void)state;
    static const char *bad[] = { "", ".hidden", "a/b", "../x", "sp ace", "x\n",
                                 "0123456789012345678901234567890123456789012345678901234567890123" };
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        mgov_config_t cfg = MGOV_CONFIG_INIT;
        cfg.host = bad[i];
        cfg.host_budget = BUDGET;
        mgov_t *gov = (mgov_t *)1;
        assert_int_equal(mgov_create(&cfg, &gov), MGOV_EINVAL);
        assert_null(gov);
        mgov_host_view_t v;
        assert_int_equal(mgov_host_read(bad[i], &v), MGOV_EINVAL);
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = new_host();
    cfg.host_weight = MGOV_HOST_WEIGHT_MAX + 1;
    mgov_t *gov;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_EINVAL);
    cfg.host_weight = 0;
    cfg.host_budget = BUDGET;
    cfg.host_guarantee = BUDGET + 1;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_EBUDGET);
    assert_false(shm_exists(cfg.host));
}

/* A segment of the name that is open to others is refused, never used. */
static void test_mode_refused(void **state)
{
    (void)state;
    const char *name = new_host();
    char shm[96];
    snprintf(shm, sizeof shm, "/memgov.%u.%s", (unsigned)geteuid(), name);
    int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0644), 0);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = BUDGET;
    mgov_t *gov;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_EIO);
    mgov_host_view_t v;
    assert_int_equal(mgov_host_read(name, &v), MGOV_EIO);
    assert_true(shm_exists(name)); /* not ours to remove */
    close(fd);
    shm_unlink(shm);
}

/* Another user: cannot open a member's segment (0600), and an object of
 * its own name that it does not own is refused.  Needs root (to become
 * `nobody` in a child); skipped otherwise. */
static void test_other_user(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    const char *name = new_host();
    char mine[96], theirs[96];
    snprintf(mine, sizeof mine, "/memgov.0.%s", name);
    snprintf(theirs, sizeof theirs, "/memgov.65534.%s", name);
    /* root's segment as the library makes it (0600, test_join_and_leave);
     * made by hand so that no thread runs when the child is forked */
    int own = shm_open(mine, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(own >= 0);
    /* squatted for them by root, open to all: still not theirs */
    int sq = shm_open(theirs, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(sq >= 0);
    assert_int_equal(fchmod(sq, 0666), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
            _exit(10);
        if (shm_open(mine, O_RDWR, 0) >= 0 || errno != EACCES)
            _exit(11);
        if (shm_open(mine, O_RDONLY, 0) >= 0 || errno != EACCES)
            _exit(12);
        mgov_config_t cfg = MGOV_CONFIG_INIT;
        cfg.host = name;
        cfg.host_budget = BUDGET;
        mgov_t *g = NULL;
        if (mgov_create(&cfg, &g) != MGOV_EIO || g)
            _exit(13);
        mgov_host_view_t v;
        if (mgov_host_read(name, &v) != MGOV_EIO)
            _exit(14);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    close(sq);
    shm_unlink(theirs);
    close(own);
    shm_unlink(mine);
}

static void test_lease_in_chunks(void **state)
{
    (void)state;
    const char *name = new_host();
    mgov_t *gov = member_gov(name, BUDGET);
    mgov_host_member_t m;
    assert_int_equal(mgov_host_member(gov, &m), MGOV_OK);
    assert_int_equal(m.leased, 0);
    mgov_grant_t g[16];
    uint64_t chunk = view_of(name)->chunk;
    assert_int_equal(chunk, BUDGET / 64);
    for (int i = 0; i < 16; i++)
        assert_int_equal(mgov_try_reserve(gov, 0, 4096, 0, &g[i]), MGOV_OK);
    assert_int_equal(mgov_host_member(gov, &m), MGOV_OK);
    assert_int_equal(m.leased, chunk); /* one chunk serves many grants */
    mgov_grant_t big;
    assert_int_equal(mgov_try_reserve(gov, 0, 5 * chunk, 0, &big), MGOV_OK);
    assert_int_equal(mgov_host_member(gov, &m), MGOV_OK);
    assert_int_equal(m.leased, 6 * chunk);
    for (int i = 0; i < 16; i++)
        mgov_grant_release(&g[i]);
    mgov_grant_release(&big);
    /* slack beyond two chunks goes back within a few ticks */
    for (int i = 0; i < 500 && (mgov_host_member(gov, &m), m.leased > 2 * chunk); i++)
        sleep_ms(2);
    assert_true(m.leased <= 2 * chunk);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(shm_exists(name));
}

/* Every failure of attach is a clean error: no descriptor, mapping or
 * segment left. */
static void test_attach_faults(void **state)
{
    (void)state;
    static const struct {
        mgov_fault_kind_t kind;
        int rc;
    } kinds[] = { { MGOV_FAULT_ALLOC, MGOV_ENOMEM }, { MGOV_FAULT_SHM, MGOV_EIO },
                  { MGOV_FAULT_MMAP, MGOV_EIO }, { MGOV_FAULT_LOCK, MGOV_EIO } };
    int fds = open_fds();
    for (unsigned k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        for (long after = 0; after < 3; after++) {
            const char *name = new_host();
            mgov_config_t cfg = MGOV_CONFIG_INIT;
            cfg.host = name;
            cfg.host_budget = BUDGET;
            mgov_t *gov = NULL;
            mgov__fault_arm(kinds[k].kind, after, 1);
            int rc = mgov_create(&cfg, &gov);
            long hits = mgov__fault_hits(kinds[k].kind);
            mgov__fault_disarm_all();
            if (hits == 0) { /* fewer calls of that kind than `after` */
                assert_int_equal(rc, MGOV_OK);
                assert_int_equal(mgov_destroy(gov), MGOV_OK);
            } else {
                assert_int_equal(rc, kinds[k].rc);
                assert_null(gov);
            }
            if (shm_exists(name) || open_fds() != fds)
                fail_msg("fault kind %d after %ld (rc %d): left a segment or a descriptor",
                         (int)kinds[k].kind, after, rc);
        }
    }
    /* a joiner that fails leaves the segment to its creator */
    const char *name = new_host();
    mgov_t *a = member_gov(name, BUDGET), *b = NULL;
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    mgov__fault_arm(MGOV_FAULT_LOCK, 1, 1); /* the setup lock passes, the slot's fails */
    assert_int_equal(mgov_create(&cfg, &b), MGOV_EIO);
    mgov__fault_disarm_all();
    assert_true(shm_exists(name));
    assert_int_equal(view_of(name)->n_members, 1);
    assert_int_equal(mgov_destroy(a), MGOV_OK);
    assert_false(shm_exists(name));
}

/* A guarantee is room no other member may lease; guarantees that would
 * pass the budget are refused. */
static void test_guarantee(void **state)
{
    (void)state;
    const char *name = new_host();
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = BUDGET;
    cfg.host_guarantee = 4 * MiB;
    mgov_t *a, *b, *c;
    assert_int_equal(mgov_create(&cfg, &a), MGOV_OK);
    cfg.host_guarantee = 5 * MiB; /* 4 + 5 > 8 */
    assert_int_equal(mgov_create(&cfg, &c), MGOV_EBUDGET);
    cfg.host_guarantee = 0;
    cfg.host_weight = 3;
    assert_int_equal(mgov_create(&cfg, &b), MGOV_OK);
    mgov_grant_t gb, ga;
    assert_int_equal(mgov_try_reserve(b, 0, 5 * MiB, MGOV_NO_RECLAIM, &gb), MGOV_EBUDGET);
    assert_int_equal(mgov_try_reserve(b, 0, 4 * MiB, MGOV_NO_RECLAIM, &gb), MGOV_OK);
    assert_int_equal(mgov_try_reserve(a, 0, 4 * MiB, MGOV_NO_RECLAIM, &ga), MGOV_OK);
    mgov_host_view_t *v = view_of(name);
    assert_int_equal(v->n_members, 2);
    assert_int_equal(v->leased, BUDGET);
    unsigned weights = 0;
    for (unsigned i = 0; i < v->n_members; i++)
        weights += v->members[i].weight;
    assert_int_equal(weights, 4);
    mgov_grant_release(&ga);
    mgov_grant_release(&gb);
    assert_int_equal(mgov_destroy(b), MGOV_OK);
    assert_int_equal(mgov_destroy(a), MGOV_OK);
    assert_false(shm_exists(name));
}

/* ------------------------------------------------------ damaged segments */

static mgov__host_seg_t *map_raw(const char *name, int *fd)
{
    char shm[96];
    snprintf(shm, sizeof shm, "/memgov.%u.%s", (unsigned)geteuid(), name);
    *fd = shm_open(shm, O_RDWR, 0);
    assert_true(*fd >= 0);
    void *p = mmap(NULL, sizeof(mgov__host_seg_t), PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

static void unmap_raw(mgov__host_seg_t *s, int fd)
{
    munmap(s, sizeof *s);
    close(fd);
}

/* Left by members that all died, or garbage: replaced, never trusted. */
static void test_stale_segment_replaced(void **state)
{
    (void)state;
    const char *name = new_host();
    char shm[96];
    snprintf(shm, sizeof shm, "/memgov.%u.%s", (unsigned)geteuid(), name);
    static const size_t sizes[] = { 100, sizeof(mgov__host_seg_t) };
    for (unsigned k = 0; k < 2; k++) {
        int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        unsigned char junk[4096];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (unsigned char)(i * 131 + 7);
        for (size_t off = 0; off < sizes[k]; off += sizeof junk)
            assert_true(pwrite(fd, junk, sizes[k] - off < sizeof junk ? sizes[k] - off
                                                                         : sizeof junk,
                               (off_t)off) > 0);
        close(fd);
        mgov_host_view_t v;
        assert_int_equal(mgov_host_read(name, &v), MGOV_ECORRUPT);
        mgov_t *gov = member_gov(name, BUDGET);
        mgov_host_view_t *vv = view_of(name);
        assert_int_equal(vv->n_members, 1);
        assert_int_equal(vv->budget, BUDGET);
        assert_true(has_event(vv, (void *)(uintptr_t)MGOV_HOST_EV_REPLACED));
        mgov_grant_t g;
        assert_int_equal(mgov_try_reserve(gov, 0, 2 * MiB, 0, &g), MGOV_OK);
        mgov_grant_release(&g);
        assert_int_equal(mgov_destroy(gov), MGOV_OK);
        assert_false(shm_exists(name));
    }
}

/* Every member dead (the last one killed holding a lease): the segment
 * stays, and the next process replaces it with a whole budget. */
static void test_all_dead(void **state)
{
    (void)state;
    const char *name = new_host();
    member_t m;
    member_start(&m, "consumer", name, "6291456", NULL);
    member_expect(&m, "held");
    member_end(&m, true);
    assert_true(shm_exists(name));
    mgov_t *gov = member_gov(name, BUDGET);
    mgov_host_view_t *v = view_of(name);
    assert_int_equal(v->n_members, 1);
    assert_int_equal(v->leased, 0);
    assert_true(has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_REPLACED));
    take_most(gov, "of everyone");
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(shm_exists(name));
}

static bool repaired(const mgov_host_view_t *v, void *arg)
{
    (void)arg;
    return v->n_members == 1 && v->leased <= v->budget && has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_REPAIRED);
}

/* Damage while a member lives: a bad header is refused to newcomers; bad
 * slot values are repaired by the member (its own slot) and the reaper
 * (a slot nobody holds). */
static void test_damaged_values(void **state)
{
    (void)state;
    const char *name = new_host();
    mgov_t *a = member_gov(name, BUDGET);
    mgov_grant_t g;
    assert_int_equal(mgov_try_reserve(a, 0, MiB, 0, &g), MGOV_OK);
    int fd;
    mgov__host_seg_t *s = map_raw(name, &fd);

    uint64_t magic = s->magic;
    s->magic ^= 1;
    mgov_t *b = NULL;
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    assert_int_equal(mgov_create(&cfg, &b), MGOV_ECORRUPT);
    mgov_host_view_t v;
    assert_int_equal(mgov_host_read(name, &v), MGOV_ECORRUPT);
    s->magic = magic;
    s->budget = MGOV_BUDGET_MAX + 1; /* the crc catches what a range would not */
    assert_int_equal(mgov_create(&cfg, &b), MGOV_ECORRUPT);
    s->budget = BUDGET;

    int self = -1;
    for (int i = 0; i < (int)MGOV__HOST_SLOTS; i++)
        if (s->slots[i].state == MGOV__SLOT_LIVE)
            self = i;
    assert_true(self >= 0);
    pthread_mutex_lock(&s->mutex);
    s->slots[self].leased = UINT64_MAX;
    s->slots[self].weight = 0;
    s->slots[self].state = 77;
    int other = self == 0 ? 1 : 0;
    s->slots[other].state = 9;
    s->slots[other].leased = (uint64_t)1 << 60;
    memset(s->slots[other].comm, 'x', sizeof s->slots[other].comm);
    s->ev_seq = UINT64_MAX - 3; /* the ring's counter too */
    pthread_mutex_unlock(&s->mutex);
    assert_true(eventually(name, repaired, NULL, 2000));
    /* a mutex that is not one (its kind damaged): refused, not used */
    pthread_mutex_lock(&s->mutex);
    int kind = s->mutex.__data.__kind;
    s->mutex.__data.__kind = (kind & 128) | 100;
    assert_int_equal(mgov_create(&cfg, &b), MGOV_ECORRUPT);
    assert_null(b);
    assert_int_equal(mgov_host_read(name, &v), MGOV_ECORRUPT);
    s->mutex.__data.__kind = kind;
    pthread_mutex_unlock(&s->mutex);
    /* a newcomer joins and both can lease */
    assert_int_equal(mgov_create(&cfg, &b), MGOV_OK);
    mgov_grant_t gb;
    assert_int_equal(mgov_try_reserve(b, 0, 2 * MiB, 0, &gb), MGOV_OK);
    assert_true(view_of(name)->leased <= BUDGET);
    mgov_grant_release(&gb);
    mgov_grant_release(&g);
    unmap_raw(s, fd);
    assert_int_equal(mgov_destroy(b), MGOV_OK);
    assert_int_equal(mgov_destroy(a), MGOV_OK);
    assert_false(shm_exists(name));
}

/* ------------------------------------------------------ several processes */

static bool members_leq(const mgov_host_view_t *v, void *arg)
{
    return v->n_members <= (unsigned)(uintptr_t)arg;
}

/* Four members churning on an 8 MiB budget; a watcher reads the shared
 * state as fast as it can: the leases never add up to more than the
 * budget.  Then every member is killed in turn and the budget comes back
 * whole. */
static void test_sum_never_exceeds(void **state)
{
    (void)state;
    const char *name = new_host();
    mgov_t *gov = member_gov(name, BUDGET); /* keeps the segment */
    member_t m[4];
    for (int i = 0; i < 4; i++) {
        member_start(&m[i], "churn", name, NULL, NULL);
        member_expect(&m[i], "ready");
    }
    uint64_t reads = 0, max_leased = 0;
    uint64_t end = mgov__now_ns() + 1500 * MS;
    while (mgov__now_ns() < end) {
        mgov_host_view_t v;
        assert_int_equal(mgov_host_read(name, &v), MGOV_OK);
        assert_true(v.leased <= v.budget);
        uint64_t sum = 0;
        for (unsigned i = 0; i < v.n_members; i++)
            sum += v.members[i].leased;
        assert_true(sum <= v.budget);
        if (v.leased > max_leased)
            max_leased = v.leased;
        reads++;
    }
    assert_true(reads > 100);
    assert_true(max_leased > BUDGET / 2); /* they did compete for it */
    for (int i = 0; i < 4; i++) {
        member_end(&m[i], true);
        assert_true(eventually(name, members_leq, (void *)(uintptr_t)(4 - i), 2000));
    }
    /* all dead: the survivor can lease the whole budget */
    mgov_grant_t g;
    assert_int_equal(mgov_reserve(gov, 0, BUDGET * 9 / 10, 0, 2000 * MS, &g), MGOV_OK);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(shm_exists(name));
}

/* SIGKILL at many points of a member's life: while it leases (churn, at
 * random moments), while it holds the segment's lock, while it answers an
 * ask.  Survivors go on, and each time the dead lease comes back: a member
 * can then take what only the whole budget holds. */
static void take_most(mgov_t *gov, const char *what)
{
    mgov_grant_t g;
    int rc = mgov_reserve(gov, 0, BUDGET * 7 / 8, 0, 3000 * MS, &g);
    if (rc != MGOV_OK)
        fail_msg("after a death %s: reserve of 7/8 of the budget: %s", what, mgov_strerror(rc));
    mgov_grant_release(&g);
}

static void test_kill_while_leasing(void **state)
{
    (void)state;
    const char *name = new_host();
    mgov_t *gov = member_gov(name, BUDGET);
    member_t survivor;
    member_start(&survivor, "churn", name, NULL, NULL);
    member_expect(&survivor, "ready");
    unsigned seed = 17;
    for (int round = 0; round < 12; round++) {
        member_t m;
        member_start(&m, "churn", name, NULL, NULL);
        member_expect(&m, "ready");
        sleep_ms(rand_r(&seed) % 40);
        member_end(&m, true);
        assert_true(eventually(name, members_leq, (void *)(uintptr_t)2, 2000));
        assert_true(view_of(name)->leased <= BUDGET);
    }
    member_end(&survivor, false); /* it went on all along, and leaves cleanly */
    take_most(gov, "while leasing");
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(shm_exists(name));
}

static void test_kill_holding_lock(void **state)
{
    (void)state;
    const char *name = new_host();
    mgov_t *gov = member_gov(name, BUDGET);
    member_t m;
    member_start(&m, "lock", name, NULL, NULL);
    member_expect(&m, "locked");
    /* while a live member sits on it: a bounded wait, a clean error */
    int fds = open_fds();
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    mgov_t *late = NULL;
    assert_int_equal(mgov_create(&cfg, &late), MGOV_ETIMEDOUT);
    assert_null(late);
    assert_int_equal(open_fds(), fds);
    mgov_host_view_t busy;
    assert_int_equal(mgov_host_read(name, &busy), MGOV_ETIMEDOUT);
    member_end(&m, true);
    take_most(gov, "holding the lock");
    assert_true(eventually(name, members_leq, (void *)(uintptr_t)1, 2000));
    mgov_host_view_t *v = view_of(name);
    assert_true(has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_RECOVERED));
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(shm_exists(name));
}

typedef struct {
    mgov_t *gov;
    uint64_t bytes;
    int rc;
    uint64_t took_ms;
} waiter_t;

static void *wait_main(void *arg)
{
    waiter_t *w = arg;
    mgov_grant_t g;
    uint64_t t0 = mgov__now_ns();
    w->rc = mgov_reserve(w->gov, 0, w->bytes, 0, 5000 * MS, &g);
    w->took_ms = (mgov__now_ns() - t0) / 1000000;
    mgov_grant_release(&g);
    return NULL;
}

/* A member holding most of the budget in a consumer is asked to give
 * back when another needs room, and does. */
static void test_reclaim_honoured(void **state)
{
    (void)state;
    const char *name = new_host();
    member_t m;
    member_start(&m, "consumer", name, "7340032", NULL); /* 7 MiB */
    member_expect(&m, "held");
    mgov_t *gov = member_gov(name, 0);
    waiter_t w = { .gov = gov, .bytes = 4 * MiB };
    pthread_t t;
    pthread_create(&t, NULL, wait_main, &w);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, MGOV_OK);
    mgov_host_view_t *v = view_of(name);
    assert_true(has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_ASKED));
    assert_true(has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_ANSWERED));
    member_end(&m, false);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(shm_exists(name));
}

static bool late_member(const mgov_host_view_t *v, void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < v->n_members; i++)
        if (v->members[i].late)
            return true;
    return false;
}

/* A member that never finishes answering is marked late (no new lease);
 * killed in the middle of its answer, its lease comes back. */
static void test_kill_while_answering(void **state)
{
    (void)state;
    const char *name = new_host();
    member_t m;
    member_start(&m, "stall", name, "7340032", NULL);
    member_expect(&m, "held");
    mgov_t *gov = member_gov(name, 0);
    waiter_t w = { .gov = gov, .bytes = 4 * MiB };
    pthread_t t;
    pthread_create(&t, NULL, wait_main, &w);
    member_expect(&m, "inreclaim");
    assert_true(eventually(name, late_member, NULL, 3000));
    assert_true(has_event(view_of(name), (void *)(uintptr_t)MGOV_HOST_EV_LATE));
    member_say(&m, "grow\n"); /* late: no new lease */
    member_expect(&m, "grow -3");
    member_end(&m, true);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, MGOV_OK);
    assert_true(has_event(view_of(name), (void *)(uintptr_t)MGOV_HOST_EV_DIED));
    take_most(gov, "while answering");
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(shm_exists(name));
}

/* Room given back while another process waits goes to the waiter: the
 * member beyond its fair share cannot take it back. */
static void test_fair_waiting(void **state)
{
    (void)state;
    const char *name = new_host();
    mgov_t *gov = member_gov(name, BUDGET); /* holds the segment, leases nothing */
    member_t hog, waiter;
    member_start(&hog, "hold", name, "7340032", "2097152"); /* holds 7, gives back 2 */
    member_expect(&hog, "held");
    member_start(&waiter, "wait", name, "3145728", "5000"); /* waits for 3 MiB */
    member_expect(&waiter, "waiting");
    sleep_ms(50); /* its want is on record */
    member_say(&hog, "go\n");
    char line[128];
    assert_string_equal(member_line(&hog, line, sizeof line), "retake -3"); /* MGOV_EBUDGET */
    int rc;
    unsigned long long ms;
    assert_int_equal(sscanf(member_line(&waiter, line, sizeof line), "got %d %llu", &rc, &ms), 2);
    assert_int_equal(rc, MGOV_OK);
    member_end(&hog, false);
    member_end(&waiter, false);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(shm_exists(name));
}

/* ------------------------------------------------------------- threads */

typedef struct {
    mgov_t *gov;
    _Atomic bool *stop;
    uint64_t ops;
} churner_t;

static void *churn_main(void *arg)
{
    churner_t *c = arg;
    unsigned seed = (unsigned)(uintptr_t)c;
    mgov_grant_t g[4] = { 0 };
    while (!atomic_load(c->stop)) {
        unsigned k = rand_r(&seed) % 4;
        if (g[k].gov)
            mgov_grant_release(&g[k]);
        else
            (void)mgov_try_reserve(c->gov, 0, ((uint64_t)1 + rand_r(&seed) % 32) << 14, 0, &g[k]);
        c->ops++;
    }
    for (int k = 0; k < 4; k++)
        mgov_grant_release(&g[k]);
    return NULL;
}

/* Threads of two members in one process reserve and release while the
 * agents shrink and grow the leases (the handshake of host/host.h): no
 * member's usage passes its lease, the leases never pass the budget, and
 * everything comes back. */
static void test_threads_stress(void **state)
{
    (void)state;
    const char *name = new_host();
    mgov_t *gov[2] = { member_gov(name, 4 * MiB), member_gov(name, 0) };
    _Atomic bool stop = false;
    churner_t c[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (churner_t){ .gov = gov[i % 2], .stop = &stop };
        pthread_create(&t[i], NULL, churn_main, &c[i]);
    }
    uint64_t end = mgov__now_ns() + 1000 * MS;
    while (mgov__now_ns() < end) {
        for (int i = 0; i < 2; i++) {
            /* lease first: a lease only shrinks to what is in use */
            uint64_t used = mgov_used(gov[i]);
            assert_true(used <= 4 * MiB);
        }
        assert_true(view_of(name)->leased <= 4 * MiB);
        sleep_ms(1);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(c[i].ops > 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mgov_used(gov[i]), 0);
        assert_int_equal(mgov_destroy(gov[i]), MGOV_OK);
    }
    assert_false(shm_exists(name));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "member") == 0)
        return member_main(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        FH_TEST(test_join_and_leave),
        FH_TEST(test_names),
        FH_TEST(test_mode_refused),
        FH_TEST(test_other_user),
        FH_TEST(test_lease_in_chunks),
        FH_TEST(test_guarantee),
        FH_TEST(test_attach_faults),
        FH_TEST(test_stale_segment_replaced),
        FH_TEST(test_all_dead),
        FH_TEST(test_damaged_values),
        FH_TEST(test_sum_never_exceeds),
        FH_TEST(test_kill_while_leasing),
        FH_TEST(test_kill_holding_lock),
        FH_TEST(test_reclaim_honoured),
        FH_TEST(test_kill_while_answering),
        FH_TEST(test_fair_waiting),
        FH_TEST(test_threads_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
