/* test_host.c - the budget shared by the processes of a host (src/host/,
 * src/governor/host_link.c), as one process sees it: joining and leaving,
 * names and permissions, leases in chunks, guarantees and weights, every
 * failure of attach, segments left over or damaged, and threads of two
 * members racing the agents' lease shrinks.  Several processes and their
 * deaths: test_host_crash.c.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_helpers.h"
#include "governor/internal.h"
#include "host/host_layout.h"
#include "host_fx.h"
#include "memgov.h"
#include "sys/fault.h"
#include "sys/sys.h"

/* ------------------------------------------------------------- in-process */

static void test_join_and_leave(void **state)
{
    (void)state;
    const char *name = hfx_name();
    int fds = hfx_open_fds();
    mgov_t *a = hfx_gov(name, HFX_BUDGET), *b = hfx_gov(name, 64 * MiB);
    assert_true(hfx_exists(name));
    /* the file: the user's own, closed to others */
    char p[128];
    struct stat st;
    hfx_path(name, p, sizeof p);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_mode & 077, 0);
    /* the creator's budget rules; the joiner governs the shared one */
    assert_int_equal(mgov_budget(a), HFX_BUDGET);
    assert_int_equal(mgov_budget(b), HFX_BUDGET);
    mgov_host_view_t *v = hfx_view(name);
    assert_int_equal(v->budget, HFX_BUDGET);
    assert_int_equal(v->n_members, 2);
    assert_true(hfx_has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_CREATED));

    mgov_grant_t ga, gb;
    assert_int_equal(mgov_try_reserve(a, 0, 3 * MiB, 0, &ga), MGOV_OK);
    assert_int_equal(mgov_try_reserve(b, 0, 3 * MiB, 0, &gb), MGOV_OK);
    mgov_host_member_t ma;
    assert_int_equal(mgov_host_member(a, &ma), MGOV_OK);
    assert_true(ma.leased >= 3 * MiB && ma.leased <= HFX_BUDGET);
    assert_int_equal(ma.pid, getpid());
    v = hfx_view(name);
    assert_true(v->leased <= HFX_BUDGET && v->leased >= 6 * MiB);
    /* what neither lease can hold now is refused, not over-leased */
    mgov_grant_t gc;
    assert_int_equal(mgov_try_reserve(a, 0, 3 * MiB, MGOV_NO_RECLAIM, &gc), MGOV_EBUDGET);
    assert_true(hfx_view(name)->leased <= HFX_BUDGET);
    mgov_grant_release(&ga);
    mgov_grant_release(&gb);
    assert_int_equal(mgov_destroy(a), MGOV_OK);
    assert_true(hfx_exists(name));
    assert_int_equal(mgov_destroy(b), MGOV_OK);
    /* the last one out removes the segment */
    assert_false(hfx_exists(name));
    mgov_host_view_t gone;
    assert_int_equal(mgov_host_read(name, &gone), MGOV_ENOTFOUND);
    assert_int_equal(hfx_open_fds(), fds);
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
        cfg.host_budget = HFX_BUDGET;
        mgov_t *gov = (mgov_t *)1;
        assert_int_equal(mgov_create(&cfg, &gov), MGOV_EINVAL);
        assert_null(gov);
        mgov_host_view_t v;
        assert_int_equal(mgov_host_read(bad[i], &v), MGOV_EINVAL);
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = hfx_name();
    cfg.host_weight = MGOV_HOST_WEIGHT_MAX + 1;
    mgov_t *gov;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_EINVAL);
    cfg.host_weight = 0;
    cfg.host_budget = HFX_BUDGET;
    cfg.host_guarantee = HFX_BUDGET + 1;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_EBUDGET);
    assert_false(hfx_exists(cfg.host));
}

/* A segment of the name that is open to others is refused, never used. */
static void test_mode_refused(void **state)
{
    (void)state;
    const char *name = hfx_name();
    char shm[96];
    snprintf(shm, sizeof shm, "/memgov.%u.%s", (unsigned)geteuid(), name);
    int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0644), 0);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = HFX_BUDGET;
    mgov_t *gov;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_EIO);
    mgov_host_view_t v;
    assert_int_equal(mgov_host_read(name, &v), MGOV_EIO);
    assert_true(hfx_exists(name)); /* not ours to remove */
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
    const char *name = hfx_name();
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
        cfg.host_budget = HFX_BUDGET;
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
    const char *name = hfx_name();
    mgov_t *gov = hfx_gov(name, HFX_BUDGET);
    mgov_host_member_t m;
    assert_int_equal(mgov_host_member(gov, &m), MGOV_OK);
    assert_int_equal(m.leased, 0);
    mgov_grant_t g[16];
    uint64_t chunk = hfx_view(name)->chunk;
    assert_int_equal(chunk, HFX_BUDGET / 64);
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
        hfx_sleep_ms(2);
    assert_true(m.leased <= 2 * chunk);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
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
    int fds = hfx_open_fds();
    for (unsigned k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        for (long after = 0; after < 3; after++) {
            const char *name = hfx_name();
            mgov_config_t cfg = MGOV_CONFIG_INIT;
            cfg.host = name;
            cfg.host_budget = HFX_BUDGET;
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
            if (hfx_exists(name) || hfx_open_fds() != fds)
                fail_msg("fault kind %d after %ld (rc %d): left a segment or a descriptor",
                         (int)kinds[k].kind, after, rc);
        }
    }
    /* a joiner that fails leaves the segment to its creator */
    const char *name = hfx_name();
    mgov_t *a = hfx_gov(name, HFX_BUDGET), *b = NULL;
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    mgov__fault_arm(MGOV_FAULT_LOCK, 1, 1); /* the setup lock passes, the slot's fails */
    assert_int_equal(mgov_create(&cfg, &b), MGOV_EIO);
    mgov__fault_disarm_all();
    assert_true(hfx_exists(name));
    assert_int_equal(hfx_view(name)->n_members, 1);
    assert_int_equal(mgov_destroy(a), MGOV_OK);
    assert_false(hfx_exists(name));
}

/* A guarantee is room no other member may lease; guarantees that would
 * pass the budget are refused. */
static void test_guarantee(void **state)
{
    (void)state;
    const char *name = hfx_name();
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = HFX_BUDGET;
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
    mgov_host_view_t *v = hfx_view(name);
    assert_int_equal(v->n_members, 2);
    assert_int_equal(v->leased, HFX_BUDGET);
    unsigned weights = 0;
    for (unsigned i = 0; i < v->n_members; i++)
        weights += v->members[i].weight;
    assert_int_equal(weights, 4);
    mgov_grant_release(&ga);
    mgov_grant_release(&gb);
    assert_int_equal(mgov_destroy(b), MGOV_OK);
    assert_int_equal(mgov_destroy(a), MGOV_OK);
    assert_false(hfx_exists(name));
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
    const char *name = hfx_name();
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
        mgov_t *gov = hfx_gov(name, HFX_BUDGET);
        mgov_host_view_t *vv = hfx_view(name);
        assert_int_equal(vv->n_members, 1);
        assert_int_equal(vv->budget, HFX_BUDGET);
        assert_true(hfx_has_event(vv, (void *)(uintptr_t)MGOV_HOST_EV_REPLACED));
        mgov_grant_t g;
        assert_int_equal(mgov_try_reserve(gov, 0, 2 * MiB, 0, &g), MGOV_OK);
        mgov_grant_release(&g);
        assert_int_equal(mgov_destroy(gov), MGOV_OK);
        assert_false(hfx_exists(name));
    }
}

static bool repaired(const mgov_host_view_t *v, void *arg)
{
    (void)arg;
    return v->n_members == 1 && v->leased <= v->budget && hfx_has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_REPAIRED);
}

/* Damage while a member lives: a bad header is refused to newcomers; bad
 * slot values are repaired by the member (its own slot) and the reaper
 * (a slot nobody holds). */
static void test_damaged_values(void **state)
{
    (void)state;
    const char *name = hfx_name();
    mgov_t *a = hfx_gov(name, HFX_BUDGET);
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
    s->budget = HFX_BUDGET;

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
    assert_true(hfx_eventually(name, repaired, NULL, 2000));
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
    assert_true(hfx_view(name)->leased <= HFX_BUDGET);
    mgov_grant_release(&gb);
    mgov_grant_release(&g);
    unmap_raw(s, fd);
    assert_int_equal(mgov_destroy(b), MGOV_OK);
    assert_int_equal(mgov_destroy(a), MGOV_OK);
    assert_false(hfx_exists(name));
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
    const char *name = hfx_name();
    mgov_t *gov[2] = { hfx_gov(name, 4 * MiB), hfx_gov(name, 0) };
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
        assert_true(hfx_view(name)->leased <= 4 * MiB);
        hfx_sleep_ms(1);
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
    assert_false(hfx_exists(name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_join_and_leave),
        FH_TEST(test_names),
        FH_TEST(test_mode_refused),
        FH_TEST(test_other_user),
        FH_TEST(test_lease_in_chunks),
        FH_TEST(test_guarantee),
        FH_TEST(test_attach_faults),
        FH_TEST(test_stale_segment_replaced),
        FH_TEST(test_damaged_values),
        FH_TEST(test_threads_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
