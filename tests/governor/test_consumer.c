/* test_consumer.c - consumers: register/unregister errors, names, LRU order
 * (observed through reclaim order), force-RAM, foreach and its tiers, and
 * unregistering while callbacks run: from another thread (waits for the
 * callback), from inside its own callback, and from a callback unregistering
 * a consumer later in the same pass's victim list.
 */
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_helpers.h"
#include "gov_helpers.h"
#include "memgov/governor.h"
#include "sys/fault.h"

#define MiB GH_MiB
#define EXEC MGOV_REGION_EXECUTION_BUFFERS

static const mgov_consumer_ops_t no_ops = { 0 };

static int reg(mgov_t *gov, const char *name, int region, unsigned prio, unsigned flags,
               const mgov_consumer_ops_t *ops, mgov_consumer_t **out)
{
    mgov_consumer_config_t cfg = { .name = name, .region = region, .priority = prio,
                                   .flags = flags, .ops = ops, .ctx = NULL };
    return mgov_consumer_register(gov, &cfg, out);
}

static uint64_t consumers(mgov_t *gov)
{
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    return s.consumers;
}

/* ---------------------------------------------------------- register */

static void test_register_errors(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(10 * MiB, NULL);
    mgov_consumer_t *c = (mgov_consumer_t *)(uintptr_t)0x1;
    mgov_consumer_config_t cfg = { .name = "ok", .region = 0, .ops = &no_ops };
    assert_int_equal(mgov_consumer_register(NULL, &cfg, &c), MGOV_EINVAL);
    assert_int_equal(mgov_consumer_register(gov, NULL, &c), MGOV_EINVAL);
    assert_int_equal(mgov_consumer_register(gov, &cfg, NULL), MGOV_EINVAL);

    char long64[65], long63[64];
    memset(long64, 'x', 64);
    long64[64] = '\0';
    memset(long63, 'y', 63);
    long63[63] = '\0';
    const char *bad[] = { NULL, "", long64, "new\nline", "tab\there", "bell\a", "del\x7f",
                          "esc\x1b[0m", "caf\xc3\xa9" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(reg(gov, bad[i], 0, 10, 0, &no_ops, &c), MGOV_EINVAL);
    assert_int_equal(reg(gov, "ok", -1, 10, 0, &no_ops, &c), MGOV_EINVAL);
    assert_int_equal(reg(gov, "ok", 4, 10, 0, &no_ops, &c), MGOV_EINVAL);
    assert_int_equal(reg(gov, "ok", 100, 10, 0, &no_ops, &c), MGOV_EINVAL);
    assert_int_equal(reg(gov, "ok", 0, 10, 2, &no_ops, &c), MGOV_EINVAL);
    assert_int_equal(reg(gov, "ok", 0, 10, MGOV_FORCE_RAM | 0x100, &no_ops, &c), MGOV_EINVAL);
    assert_int_equal(reg(gov, "ok", 0, 10, 0, NULL, &c), MGOV_EINVAL);
    assert_int_equal(consumers(gov), 0);

    /* the edges that are fine: 63 bytes, printable ASCII with spaces and
     * punctuation, every op NULL, FORCE_RAM, the last region */
    mgov_consumer_t *a = NULL, *b = NULL, *d = NULL;
    assert_int_equal(reg(gov, long63, 0, 10, 0, &no_ops, &a), MGOV_OK);
    assert_int_equal(reg(gov, "hash join #3 (q=\"x\")", 3, 10, MGOV_FORCE_RAM, &no_ops, &b),
                     MGOV_OK);
    assert_int_equal(reg(gov, "~", 1, 0, 0, &no_ops, &d), MGOV_OK);
    assert_int_equal(consumers(gov), 3);
    assert_string_equal(mgov_consumer_name(a), long63);
    assert_string_equal(mgov_consumer_name(b), "hash join #3 (q=\"x\")");

    /* duplicate names */
    mgov_consumer_t *dup = NULL;
    assert_int_equal(reg(gov, long63, 2, 99, 0, &no_ops, &dup), MGOV_EEXIST);
    assert_null(dup);
    assert_int_equal(consumers(gov), 3);
    /* a freed name can be taken again */
    assert_int_equal(mgov_consumer_unregister(a), MGOV_OK);
    assert_int_equal(consumers(gov), 2);
    assert_int_equal(reg(gov, long63, 2, 99, 0, &no_ops, &a), MGOV_OK);
    assert_int_equal(mgov_consumer_unregister(a), MGOV_OK);
    assert_int_equal(mgov_consumer_unregister(b), MGOV_OK);
    assert_int_equal(mgov_consumer_unregister(d), MGOV_OK);
    assert_int_equal(mgov_consumer_unregister(NULL), MGOV_OK); /* destroys accept NULL */
    assert_int_equal(consumers(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_same_name_two_governors(void **state)
{
    (void)state;
    mgov_t *g1 = gh_gov_new(10 * MiB, NULL), *g2 = gh_gov_new(10 * MiB, NULL);
    mgov_consumer_t *a = NULL, *b = NULL;
    assert_int_equal(reg(g1, "same", 0, 1, 0, &no_ops, &a), MGOV_OK);
    assert_int_equal(reg(g2, "same", 0, 1, 0, &no_ops, &b), MGOV_OK);
    assert_int_equal(mgov_consumer_unregister(a), MGOV_OK);
    assert_int_equal(mgov_consumer_unregister(b), MGOV_OK);
    assert_int_equal(mgov_destroy(g1), MGOV_OK);
    assert_int_equal(mgov_destroy(g2), MGOV_OK);
}

static void test_name_copied(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(10 * MiB, NULL);
    char name[32] = "original";
    mgov_consumer_ops_t ops = { 0 };
    mgov_consumer_t *c = NULL;
    assert_int_equal(reg(gov, name, 0, 1, 0, &ops, &c), MGOV_OK);
    strcpy(name, "changed");
    assert_string_equal(mgov_consumer_name(c), "original");
    assert_ptr_not_equal(mgov_consumer_name(c), name);
    assert_null(mgov_consumer_name(NULL));
    assert_int_equal(mgov_consumer_set_force_ram(NULL, true), MGOV_EINVAL);
    mgov_consumer_touch(NULL); /* ignored */
    assert_int_equal(mgov_consumer_unregister(c), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_ops_copied(void **state)
{
    (void)state;
    /* The ops table is copied at register: changing it later changes nothing. */
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_mock_t m;
    gh_mock_init(&m, gov, "m", EXEC, GH_HAS_ALL, NULL);
    mgov_consumer_ops_t ops = m.ops;
    mgov_consumer_config_t cfg = { .name = "m", .region = EXEC, .priority = 1, .ops = &ops,
                                   .ctx = &m };
    mgov_consumer_t *c = NULL;
    assert_int_equal(mgov_consumer_register(gov, &cfg, &c), MGOV_OK);
    memset(&ops, 0, sizeof ops);
    gh_mock_hold(&m, 5 * MiB, MGOV_NO_RECLAIM);
    assert_int_equal(mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_MODERATE), 1 * MiB);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    assert_int_equal(mgov_consumer_unregister(c), MGOV_OK);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------------------------------- LRU */

static void test_touch_lru_order(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_calllog_t *cl = gh_calllog_new();
    gh_mock_t a, b, c, hi;
    gh_mock_init(&a, gov, "a", EXEC, GH_HAS_EVICT, cl);
    gh_mock_init(&b, gov, "b", EXEC, GH_HAS_EVICT, cl);
    gh_mock_init(&c, gov, "c", EXEC, GH_HAS_EVICT, cl);
    gh_mock_init(&hi, gov, "hi", EXEC, GH_HAS_EVICT, cl);
    assert_int_equal(gh_mock_register(&hi, 50, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&a, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&b, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&c, 10, 0), MGOV_OK);
    char buf[256];

    /* nothing held: every victim is asked, in order */
    assert_int_equal(mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_MODERATE), 0);
    assert_string_equal(gh_calllog_names(cl, GH_OP_EVICT, buf, sizeof buf), "a,b,c,hi");

    gh_calllog_clear(cl);
    mgov_consumer_touch(atomic_load(&a.c));
    mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_MODERATE);
    assert_string_equal(gh_calllog_names(cl, GH_OP_EVICT, buf, sizeof buf), "b,c,a,hi");

    gh_calllog_clear(cl);
    mgov_consumer_touch(atomic_load(&c.c));
    mgov_consumer_touch(atomic_load(&b.c));
    mgov_consumer_touch(atomic_load(&hi.c)); /* priority beats recency */
    mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_MODERATE);
    assert_string_equal(gh_calllog_names(cl, GH_OP_EVICT, buf, sizeof buf), "a,c,b,hi");

    /* the least recently touched gives first: it is the one drained */
    gh_mock_hold(&a, 4 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&b, 4 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&c, 4 * MiB, MGOV_NO_RECLAIM);
    gh_calllog_clear(cl);
    assert_int_equal(mgov_reclaim(gov, 3 * MiB, MGOV_PRESSURE_MODERATE), 3 * MiB);
    assert_string_equal(gh_calllog_names(cl, GH_OP_EVICT, buf, sizeof buf), "a");
    assert_int_equal(gh_mock_held(&a), 1 * MiB);
    assert_int_equal(gh_mock_held(&b), 4 * MiB);
    assert_int_equal(gh_mock_held(&c), 4 * MiB);

    gh_mock_fini(&a);
    gh_mock_fini(&b);
    gh_mock_fini(&c);
    gh_mock_fini(&hi);
    gh_calllog_free(cl);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* -------------------------------------------------------- force RAM */

static void test_set_force_ram(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_mock_t m;
    gh_mock_init(&m, gov, "m", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 10 * MiB, MGOV_NO_RECLAIM);
    atomic_store(&m.evict_max, 0);
    assert_int_equal(gh_mock_register(&m, 10, MGOV_FORCE_RAM), MGOV_OK);
    mgov_consumer_t *c = atomic_load(&m.c);

    assert_int_equal(mgov_spill_consumer(gov, "m"), MGOV_EBUSY);
    assert_int_equal(mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_HIGH), 0);
    assert_int_equal(atomic_load(&m.n_evict), 1); /* evict still applies */
    assert_int_equal(atomic_load(&m.n_spill), 0);

    assert_int_equal(mgov_consumer_set_force_ram(c, false), MGOV_OK);
    assert_int_equal(mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_HIGH), 1 * MiB);
    assert_int_equal(atomic_load(&m.n_spill), 1);
    assert_int_equal(mgov_spill_consumer(gov, "m"), MGOV_OK);
    assert_int_equal(atomic_load(&m.n_spill), 2);
    assert_int_equal(gh_mock_held(&m), 0);

    assert_int_equal(mgov_consumer_set_force_ram(c, true), MGOV_OK);
    assert_int_equal(mgov_consumer_set_force_ram(c, true), MGOV_OK); /* idempotent */
    assert_int_equal(mgov_spill_consumer(gov, "m"), MGOV_EBUSY);
    assert_int_equal(mgov_spill_all(gov), MGOV_OK);
    assert_int_equal(atomic_load(&m.n_spill), 2);
    gh_mock_fini(&m);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ----------------------------------------------------------- foreach */

typedef struct {
    unsigned n;
    struct {
        char name[MGOV_NAME_MAX + 1];
        int region;
        unsigned priority;
        mgov_tier_t tier;
    } seen[16];
    mgov_t *gov;
    uint64_t consumers_seen; /* from mgov_stats inside fn: no lock held */
} seen_t;

static void collect(void *arg, const char *name, int region, unsigned priority,
                    mgov_tier_t tier)
{
    seen_t *s = arg;
    if (s->n < 16) {
        snprintf(s->seen[s->n].name, sizeof s->seen[s->n].name, "%s", name);
        s->seen[s->n].region = region;
        s->seen[s->n].priority = priority;
        s->seen[s->n].tier = tier;
        s->n++;
    }
    if (s->gov) {
        mgov_stats_t st;
        if (mgov_stats(s->gov, &st) == MGOV_OK)
            s->consumers_seen = st.consumers;
    }
}

static int find_seen(const seen_t *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (strcmp(s->seen[i].name, name) == 0)
            return (int)i;
    fail_msg("%s not seen", name);
    return -1;
}

static void test_foreach_tiers(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_mock_t disk, full, empty, none;
    gh_mock_init(&disk, gov, "disk", 0, GH_HAS_ALL, NULL);
    gh_mock_force_tier(&disk, MGOV_TIER_ON_DISK);
    gh_mock_init(&full, gov, "full", 1, GH_HAS_USAGE | GH_HAS_EVICT, NULL); /* no tier op */
    gh_mock_hold(&full, 3 * MiB, MGOV_NO_RECLAIM);
    gh_mock_init(&empty, gov, "empty", 2, GH_HAS_USAGE, NULL); /* no tier op, usage 0 */
    gh_mock_init(&none, gov, "none", 3, 0, NULL);              /* no ops at all */
    assert_int_equal(gh_mock_register(&disk, 100, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&full, 40, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&empty, 30, MGOV_FORCE_RAM), MGOV_OK);
    assert_int_equal(gh_mock_register(&none, 10, 0), MGOV_OK);

    seen_t s = { .gov = gov };
    assert_int_equal(mgov_consumer_foreach(gov, collect, &s), MGOV_OK);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.consumers_seen, 4);
    int i = find_seen(&s, "disk");
    assert_int_equal(s.seen[i].tier, MGOV_TIER_ON_DISK);
    assert_int_equal(s.seen[i].region, 0);
    assert_int_equal(s.seen[i].priority, 100);
    i = find_seen(&s, "full");
    assert_int_equal(s.seen[i].tier, MGOV_TIER_IN_MEMORY);
    assert_int_equal(s.seen[i].region, 1);
    assert_int_equal(s.seen[i].priority, 40);
    i = find_seen(&s, "empty");
    assert_int_equal(s.seen[i].tier, MGOV_TIER_UNINITIALIZED);
    assert_int_equal(s.seen[i].region, 2);
    i = find_seen(&s, "none");
    assert_int_equal(s.seen[i].tier, MGOV_TIER_UNINITIALIZED);
    assert_int_equal(s.seen[i].priority, 10);
    assert_int_equal(atomic_load(&disk.n_tier), 1);
    assert_int_equal(atomic_load(&full.n_usage), 1);

    /* tier from the tier op, as it changes; observation moves nothing */
    gh_mock_force_tier(&disk, MGOV_TIER_IN_MEMORY);
    gh_mock_unregister(&none);
    s = (seen_t){ 0 };
    assert_int_equal(mgov_consumer_foreach(gov, collect, &s), MGOV_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seen[find_seen(&s, "disk")].tier, MGOV_TIER_IN_MEMORY);
    assert_int_equal(atomic_load(&disk.n_evict) + atomic_load(&disk.n_spill) +
                         atomic_load(&disk.n_reload),
                     0);
    assert_int_equal(gh_mock_held(&full), 3 * MiB);

    assert_int_equal(mgov_consumer_foreach(NULL, collect, &s), MGOV_EINVAL);
    assert_int_equal(mgov_consumer_foreach(gov, NULL, &s), MGOV_EINVAL);
    gh_mock_fini(&disk);
    gh_mock_fini(&full);
    gh_mock_fini(&empty);
    gh_mock_fini(&none);

    s = (seen_t){ 0 };
    assert_int_equal(mgov_consumer_foreach(gov, collect, &s), MGOV_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------- unregister while a callback runs */

typedef struct {
    sem_t entered, release;
    atomic_int in_callback, callback_done;
} blocker_t;

static void blocking_hook(gh_mock_t *m, gh_op_t op, uint64_t target)
{
    (void)target;
    blocker_t *b = m->hook_arg;
    if (op != GH_OP_EVICT)
        return;
    atomic_store(&b->in_callback, 1);
    sem_post(&b->entered);
    assert_true(gh_sem_wait_ms(&b->release, 10000));
    atomic_store(&b->callback_done, 1);
}

typedef struct {
    mgov_t *gov;
    uint64_t result;
} reclaimer_t;

static void *reclaimer_main(void *arg)
{
    reclaimer_t *r = arg;
    r->result = mgov_reclaim(r->gov, 1 * MiB, MGOV_PRESSURE_MODERATE);
    return NULL;
}

typedef struct {
    gh_mock_t *m;
    blocker_t *b;
    atomic_int returned;
    int rc;
    int done_when_returned;
} unregisterer_t;

static void *unregisterer_main(void *arg)
{
    unregisterer_t *u = arg;
    u->rc = gh_mock_unregister(u->m);
    u->done_when_returned = atomic_load(&u->b->callback_done);
    atomic_store(&u->returned, 1);
    return NULL;
}

static void test_unregister_waits_for_callback(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    blocker_t b;
    sem_init(&b.entered, 0, 0);
    sem_init(&b.release, 0, 0);
    atomic_init(&b.in_callback, 0);
    atomic_init(&b.callback_done, 0);
    gh_mock_t m;
    gh_mock_init(&m, gov, "slow", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 2 * MiB, MGOV_NO_RECLAIM);
    m.hook = blocking_hook;
    m.hook_arg = &b;
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);

    reclaimer_t r = { .gov = gov };
    pthread_t rt, ut;
    assert_int_equal(pthread_create(&rt, NULL, reclaimer_main, &r), 0);
    assert_true(gh_sem_wait_ms(&b.entered, 10000));

    unregisterer_t u = { .m = &m, .b = &b };
    atomic_init(&u.returned, 0);
    assert_int_equal(pthread_create(&ut, NULL, unregisterer_main, &u), 0);
    gh_sleep_ms(100);
    int early = atomic_load(&u.returned); /* must still be waiting */
    sem_post(&b.release);
    pthread_join(ut, NULL);
    pthread_join(rt, NULL);

    assert_int_equal(early, 0);
    assert_int_equal(u.rc, MGOV_OK);
    assert_int_equal(u.done_when_returned, 1);
    assert_int_equal(r.result, 1 * MiB);
    assert_int_equal(consumers(gov), 0);
    /* gone: a new pass does not call it */
    assert_int_equal(mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_MODERATE), 0);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    gh_mock_fini(&m);
    sem_destroy(&b.entered);
    sem_destroy(&b.release);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------------ unregister from a callback */

static atomic_int self_unreg_rc;

static void self_unregister_hook(gh_mock_t *m, gh_op_t op, uint64_t target)
{
    (void)target;
    /* the first of them: a spill is preceded by a tier query */
    if ((op == GH_OP_EVICT || op == GH_OP_SPILL || op == GH_OP_TIER) && atomic_load(&m->c))
        atomic_store(&self_unreg_rc, gh_mock_unregister(m));
}

static void test_unregister_self_from_callback(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_mock_t m, other;
    gh_mock_init(&m, gov, "self", EXEC, GH_HAS_ALL, NULL);
    gh_mock_init(&other, gov, "other", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&m, 4 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&other, 4 * MiB, MGOV_NO_RECLAIM);
    m.hook = self_unregister_hook;
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&other, 20, 0), MGOV_OK);

    /* evict: unregisters itself, still frees what it was asked for */
    atomic_store(&self_unreg_rc, 1);
    assert_int_equal(mgov_reclaim(gov, 2 * MiB, MGOV_PRESSURE_MODERATE), 2 * MiB);
    assert_int_equal(atomic_load(&self_unreg_rc), MGOV_OK);
    assert_null(atomic_load(&m.c));
    assert_int_equal(consumers(gov), 1);
    assert_int_equal(atomic_load(&other.n_evict), 0);
    /* the next pass goes to the other one */
    assert_int_equal(mgov_reclaim(gov, 1 * MiB, MGOV_PRESSURE_MODERATE), 1 * MiB);
    assert_int_equal(atomic_load(&m.n_evict), 1);
    assert_int_equal(atomic_load(&other.n_evict), 1);

    /* spill (through mgov_spill_consumer) */
    gh_mock_t s;
    gh_mock_init(&s, gov, "spiller", EXEC, GH_HAS_ALL, NULL);
    gh_mock_hold(&s, 1 * MiB, MGOV_NO_RECLAIM);
    s.hook = self_unregister_hook;
    assert_int_equal(gh_mock_register(&s, 5, 0), MGOV_OK);
    atomic_store(&self_unreg_rc, 1);
    assert_int_equal(mgov_spill_consumer(gov, "spiller"), MGOV_OK);
    assert_int_equal(atomic_load(&self_unreg_rc), MGOV_OK);
    assert_int_equal(gh_mock_spilled(&s), 1 * MiB);
    assert_int_equal(mgov_spill_consumer(gov, "spiller"), MGOV_ENOTFOUND);

    /* tier (through foreach) */
    gh_mock_t t;
    gh_mock_init(&t, gov, "tiered", EXEC, GH_HAS_ALL, NULL);
    t.hook = self_unregister_hook;
    assert_int_equal(gh_mock_register(&t, 5, 0), MGOV_OK);
    atomic_store(&self_unreg_rc, 1);
    seen_t seen = { 0 };
    assert_int_equal(mgov_consumer_foreach(gov, collect, &seen), MGOV_OK);
    assert_int_equal(atomic_load(&self_unreg_rc), MGOV_OK);
    assert_int_equal(consumers(gov), 1);

    gh_mock_fini(&m);
    gh_mock_fini(&other);
    gh_mock_fini(&s);
    gh_mock_fini(&t);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static gh_mock_t *victim_to_drop;
static atomic_int drop_rc;

static void unregister_other_hook(gh_mock_t *m, gh_op_t op, uint64_t target)
{
    (void)m;
    (void)target;
    if (op == GH_OP_EVICT && victim_to_drop)
        atomic_store(&drop_rc, gh_mock_unregister(victim_to_drop));
}

static void test_callback_unregisters_later_victim(void **state)
{
    (void)state;
    gh_calllog_t *cl = gh_calllog_new();
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    gh_mock_t first, second, third;
    gh_mock_init(&first, gov, "first", EXEC, GH_HAS_ALL, cl);
    gh_mock_init(&second, gov, "second", EXEC, GH_HAS_ALL, cl);
    gh_mock_init(&third, gov, "third", EXEC, GH_HAS_ALL, cl);
    gh_mock_hold(&second, 8 * MiB, MGOV_NO_RECLAIM);
    gh_mock_hold(&third, 8 * MiB, MGOV_NO_RECLAIM);
    first.hook = unregister_other_hook;
    victim_to_drop = &second;
    atomic_store(&drop_rc, 1);
    assert_int_equal(gh_mock_register(&first, 10, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&second, 20, 0), MGOV_OK);
    assert_int_equal(gh_mock_register(&third, 30, 0), MGOV_OK);

    /* first frees nothing, drops second; second is skipped; third gives */
    assert_int_equal(mgov_reclaim(gov, 4 * MiB, MGOV_PRESSURE_HIGH), 4 * MiB);
    assert_int_equal(atomic_load(&drop_rc), MGOV_OK);
    char buf[256];
    assert_string_equal(gh_calllog_str(cl, buf, sizeof buf), "first:e,first:t,first:s,third:e");
    assert_int_equal(atomic_load(&second.n_evict), 0);
    assert_int_equal(atomic_load(&second.n_spill), 0);
    assert_int_equal(gh_mock_held(&second), 8 * MiB);
    assert_int_equal(gh_mock_held(&third), 4 * MiB);
    assert_int_equal(consumers(gov), 2);
    victim_to_drop = NULL;

    gh_mock_fini(&first);
    gh_mock_fini(&second);
    gh_mock_fini(&third);
    gh_calllog_free(cl);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ----------------------------------------------------------- ENOMEM */

static void never_called(void *arg, const char *name, int region, unsigned priority,
                         mgov_tier_t tier)
{
    (void)name;
    (void)region;
    (void)priority;
    (void)tier;
    (*(int *)arg)++;
}

static void test_out_of_memory(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(10 * MiB, NULL);
    mgov_consumer_t *c = NULL;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 1);
    int rc = reg(gov, "x", 0, 1, 0, &no_ops, &c);
    mgov__fault_disarm_all();
    assert_int_equal(rc, MGOV_ENOMEM);
    assert_null(c);
    assert_int_equal(consumers(gov), 0);
    /* the name was not taken */
    assert_int_equal(reg(gov, "x", 0, 1, 0, &no_ops, &c), MGOV_OK);

    /* foreach cannot take its snapshot: ENOMEM, fn not called */
    int calls = 0;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 1);
    rc = mgov_consumer_foreach(gov, never_called, &calls);
    mgov__fault_disarm_all();
    assert_int_equal(rc, MGOV_ENOMEM);
    assert_int_equal(calls, 0);
    assert_int_equal(mgov_consumer_foreach(gov, never_called, &calls), MGOV_OK);
    assert_int_equal(calls, 1);
    assert_int_equal(mgov_consumer_unregister(c), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_register_errors),
        FH_TEST(test_same_name_two_governors),
        FH_TEST(test_name_copied),
        FH_TEST(test_ops_copied),
        FH_TEST(test_touch_lru_order),
        FH_TEST(test_set_force_ram),
        FH_TEST(test_foreach_tiers),
        FH_TEST(test_unregister_waits_for_callback),
        FH_TEST(test_unregister_self_from_callback),
        FH_TEST(test_callback_unregisters_later_victim),
        FH_TEST(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
