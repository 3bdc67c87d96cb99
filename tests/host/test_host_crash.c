/* test_host_crash.c - a host budget shared by several processes, and
 * their deaths: the test runs itself again as members (host_fx.h) that
 * lease, hold, churn, stall in a reclaim or sit on the segment's lock, and
 * kills them with SIGKILL where a test says.  It watches the shared state
 * through mgov_host_read: the leases never add up to more than the budget,
 * a dead member's lease comes back (another member can then reserve 7/8 of
 * the budget), asks are delivered and answered, a late member gets no new
 * lease, room given back goes to the process that waits, a budget whose
 * members all died is replaced whole, and members with the same pid in
 * different pid namespaces are told apart.
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

/* Every member dead (the last one killed holding a lease): the segment
 * stays, and the next process replaces it with a whole budget. */
static void test_all_dead(void **state)
{
    (void)state;
    const char *name = hfx_name();
    hfx_member_t m;
    hfx_member_start(&m, "consumer", name, "6291456", NULL);
    hfx_member_expect(&m, "held");
    hfx_member_end(&m, true);
    assert_true(hfx_exists(name));
    mgov_t *gov = hfx_gov(name, HFX_BUDGET);
    mgov_host_view_t *v = hfx_view(name);
    assert_int_equal(v->n_members, 1);
    assert_int_equal(v->leased, 0);
    assert_true(hfx_has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_REPLACED));
    hfx_take_most(gov, "of everyone");
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
}

/* Four members churning on an 8 MiB budget; a watcher reads the shared
 * state as fast as it can: the leases never add up to more than the
 * budget.  Then every member is killed in turn and the budget comes back
 * whole. */
static void test_sum_never_exceeds(void **state)
{
    (void)state;
    const char *name = hfx_name();
    mgov_t *gov = hfx_gov(name, HFX_BUDGET); /* keeps the segment */
    hfx_member_t m[4];
    for (int i = 0; i < 4; i++) {
        hfx_member_start(&m[i], "churn", name, NULL, NULL);
        hfx_member_expect(&m[i], "ready");
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
    assert_true(max_leased > HFX_BUDGET / 2); /* they did compete for it */
    for (int i = 0; i < 4; i++) {
        hfx_member_end(&m[i], true);
        assert_true(hfx_eventually(name, hfx_members_leq, (void *)(uintptr_t)(4 - i), 2000));
    }
    /* all dead: the survivor can lease the whole budget */
    mgov_grant_t g;
    assert_int_equal(mgov_reserve(gov, 0, HFX_BUDGET * 9 / 10, 0, 2000 * MS, &g), MGOV_OK);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
}

/* SIGKILL at many points of a member's life: while it leases (churn, at
 * random moments), while it holds the segment's lock, while it answers an
 * ask.  Survivors go on, and each time the dead lease comes back: a member
 * can then take what only the whole budget holds. */
static void test_kill_while_leasing(void **state)
{
    (void)state;
    const char *name = hfx_name();
    mgov_t *gov = hfx_gov(name, HFX_BUDGET);
    hfx_member_t survivor;
    hfx_member_start(&survivor, "churn", name, NULL, NULL);
    hfx_member_expect(&survivor, "ready");
    unsigned seed = 17;
    for (int round = 0; round < 12; round++) {
        hfx_member_t m;
        hfx_member_start(&m, "churn", name, NULL, NULL);
        hfx_member_expect(&m, "ready");
        hfx_sleep_ms(rand_r(&seed) % 40);
        hfx_member_end(&m, true);
        assert_true(hfx_eventually(name, hfx_members_leq, (void *)(uintptr_t)2, 2000));
        assert_true(hfx_view(name)->leased <= HFX_BUDGET);
    }
    hfx_member_end(&survivor, false); /* it went on all along, and leaves cleanly */
    hfx_take_most(gov, "while leasing");
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
}

static void test_kill_holding_lock(void **state)
{
    (void)state;
    const char *name = hfx_name();
    mgov_t *gov = hfx_gov(name, HFX_BUDGET);
    hfx_member_t m;
    hfx_member_start(&m, "lock", name, NULL, NULL);
    hfx_member_expect(&m, "locked");
    /* while a live member sits on it: a bounded wait, a clean error */
    int fds = hfx_open_fds();
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    mgov_t *late = NULL;
    assert_int_equal(mgov_create(&cfg, &late), MGOV_ETIMEDOUT);
    assert_null(late);
    assert_int_equal(hfx_open_fds(), fds);
    mgov_host_view_t busy;
    assert_int_equal(mgov_host_read(name, &busy), MGOV_ETIMEDOUT);
    hfx_member_end(&m, true);
    hfx_take_most(gov, "holding the lock");
    assert_true(hfx_eventually(name, hfx_members_leq, (void *)(uintptr_t)1, 2000));
    mgov_host_view_t *v = hfx_view(name);
    assert_true(hfx_has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_RECOVERED));
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
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
    const char *name = hfx_name();
    hfx_member_t m;
    hfx_member_start(&m, "consumer", name, "7340032", NULL); /* 7 MiB */
    hfx_member_expect(&m, "held");
    mgov_t *gov = hfx_gov(name, 0);
    waiter_t w = { .gov = gov, .bytes = 4 * MiB };
    pthread_t t;
    pthread_create(&t, NULL, wait_main, &w);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, MGOV_OK);
    mgov_host_view_t *v = hfx_view(name);
    assert_true(hfx_has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_ASKED));
    assert_true(hfx_has_event(v, (void *)(uintptr_t)MGOV_HOST_EV_ANSWERED));
    hfx_member_end(&m, false);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
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
    const char *name = hfx_name();
    hfx_member_t m;
    hfx_member_start(&m, "stall", name, "7340032", NULL);
    hfx_member_expect(&m, "held");
    mgov_t *gov = hfx_gov(name, 0);
    waiter_t w = { .gov = gov, .bytes = 4 * MiB };
    pthread_t t;
    pthread_create(&t, NULL, wait_main, &w);
    hfx_member_expect(&m, "inreclaim");
    assert_true(hfx_eventually(name, late_member, NULL, 3000));
    assert_true(hfx_has_event(hfx_view(name), (void *)(uintptr_t)MGOV_HOST_EV_LATE));
    hfx_member_say(&m, "grow\n"); /* late: no new lease */
    hfx_member_expect(&m, "grow -3");
    hfx_member_end(&m, true);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, MGOV_OK);
    assert_true(hfx_has_event(hfx_view(name), (void *)(uintptr_t)MGOV_HOST_EV_DIED));
    hfx_take_most(gov, "while answering");
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
}

/* Room given back while another process waits goes to the waiter: the
 * member beyond its fair share cannot take it back. */
static void test_fair_waiting(void **state)
{
    (void)state;
    const char *name = hfx_name();
    mgov_t *gov = hfx_gov(name, HFX_BUDGET); /* holds the segment, leases nothing */
    hfx_member_t hog, waiter;
    hfx_member_start(&hog, "hold", name, "7340032", "2097152"); /* holds 7, gives back 2 */
    hfx_member_expect(&hog, "held");
    hfx_member_start(&waiter, "wait", name, "3145728", "5000"); /* waits for 3 MiB */
    hfx_member_expect(&waiter, "waiting");
    hfx_sleep_ms(50); /* its want is on record */
    hfx_member_say(&hog, "go\n");
    char line[128];
    assert_string_equal(hfx_member_line(&hog, line, sizeof line), "retake -3"); /* MGOV_EBUDGET */
    int rc;
    unsigned long long ms;
    assert_int_equal(sscanf(hfx_member_line(&waiter, line, sizeof line), "got %d %llu", &rc, &ms), 2);
    assert_int_equal(rc, MGOV_OK);
    hfx_member_end(&hog, false);
    hfx_member_end(&waiter, false);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
}

static bool members_with_pid1(const mgov_host_view_t *v, void *arg)
{
    unsigned n = 0;
    for (unsigned i = 0; i < v->n_members; i++)
        n += v->members[i].pid == 1;
    return n == (unsigned)(uintptr_t)arg;
}

/* Two members in two new pid namespaces, both pid 1 there: one killed,
 * only its lease comes back; the other, same pid, is not taken for dead
 * and goes on leasing. */
static void test_pid_namespaces(void **state)
{
    (void)state;
    if (!hfx_can_unshare_pid())
        skip();
    const char *name = hfx_name();
    mgov_t *gov = hfx_gov(name, HFX_BUDGET);
    hfx_member_t a, b;
    hfx_member_start_ns(&a, "consumer", name, "3145728", NULL);
    hfx_member_expect(&a, "held");
    hfx_member_start_ns(&b, "consumer", name, "3145728", NULL);
    hfx_member_expect(&b, "held");
    assert_true(members_with_pid1(hfx_view(name), (void *)(uintptr_t)2));
    hfx_member_end(&a, true);
    assert_true(hfx_eventually(name, hfx_members_leq, (void *)(uintptr_t)2, 2000));
    assert_true(members_with_pid1(hfx_view(name), (void *)(uintptr_t)1));
    hfx_member_say(&b, "grow\n");
    hfx_member_expect(&b, "grow 0");
    mgov_grant_t g; /* a's 3 MiB came back: 8 - 3.5 (b) leaves 4.5 */
    assert_int_equal(mgov_reserve(gov, 0, 4 * MiB, 0, 3000 * MS, &g), MGOV_OK);
    mgov_grant_release(&g);
    assert_int_equal(hfx_view(name)->n_members, 2);
    hfx_member_end(&b, false);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_false(hfx_exists(name));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "member") == 0)
        return hfx_member_main(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        FH_TEST(test_all_dead),
        FH_TEST(test_sum_never_exceeds),
        FH_TEST(test_kill_while_leasing),
        FH_TEST(test_kill_holding_lock),
        FH_TEST(test_reclaim_honoured),
        FH_TEST(test_kill_while_answering),
        FH_TEST(test_fair_waiting),
        FH_TEST(test_pid_namespaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
