/* tests/tier/test_section.c - sections within one governor: round trips
 * through every tier, names, pinned views blocking moves, overrides,
 * max_ram, pressure-driven spills, reload_eligible's order and stopping
 * point, events, and every injected I/O and allocation failure of a spill
 * and a reload leaving the section intact and nothing behind.
 *
 * Each test gets the fixture of section_fx.h (a persistent spill directory
 * the test can look at and damage).  Writes are in test_section_write.c;
 * restarts and crashes in test_section_persist.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "section_fx.h"

/* ------------------------------------------------------------ round trips */

static void test_round_trips(void **state)
{
    sfx_t *f = *state;
    static const size_t sizes[] = { 0, 1, 7, 100, 4095, 4096, 4097, 65536 + 3, (1u << 20) + 11,
                                    3 * 4096 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        uint8_t *data = malloc(n + 1);
        sh_fill(data, n, 1000 + i, false);
        char name[32];
        snprintf(name, sizeof name, "rt%zu", n);
        mgov_section_t *s = sfx_open(f, name, NULL);
        assert_int_equal(mgov_section_tier(s), MGOV_TIER_UNINITIALIZED);
        /* in uneven pieces */
        for (size_t at = 0; at < n;) {
            size_t step = (at * 7 + 13) % 5000 + 1;
            if (step > n - at)
                step = n - at;
            assert_int_equal(mgov_section_append(s, data + at, step), MGOV_OK);
            at += step;
        }
        assert_int_equal(mgov_section_tier(s),
                         n ? MGOV_TIER_IN_MEMORY : MGOV_TIER_UNINITIALIZED);
        sfx_assert_content(s, data, n);
        if (!n) /* an empty section becomes data by a resize to 0 */
            assert_int_equal(mgov_section_resize(s, 0), MGOV_OK);
        uint64_t used_before = mgov_used(f->gov);
        assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
        if (n) {
            assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
            assert_true(mgov_used(f->gov) < used_before);
        }
        sfx_assert_content(s, data, n);
        assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
        assert_int_equal(mgov_section_tier(s), n ? MGOV_TIER_IN_MEMORY : MGOV_TIER_UNINITIALIZED);
        sfx_assert_content(s, data, n);
        /* clean: spilling again writes nothing new */
        uint64_t disk = sfx_spill_bytes(f);
        assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
        assert_int_equal(sfx_spill_bytes(f), disk);
        sfx_assert_content(s, data, n);
        assert_int_equal(mgov_section_close(s), MGOV_OK);
        /* reopened in the same governor: found on disk */
        if (n) {
            s = sfx_open(f, name, NULL);
            assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
            sfx_assert_content(s, data, n);
            assert_int_equal(mgov_section_close(s), MGOV_OK);
        }
        free(data);
    }
    assert_int_equal(mgov_used(f->gov), 0);
}

/* ------------------------------------------------------------------ names */

static void test_names(void **state)
{
    sfx_t *f = *state;
    char longest[MGOV_NAME_MAX + 1], too_long[MGOV_NAME_MAX + 2];
    memset(longest, 'n', MGOV_NAME_MAX);
    longest[MGOV_NAME_MAX] = '\0';
    memset(too_long, 'n', MGOV_NAME_MAX + 1);
    too_long[MGOV_NAME_MAX + 1] = '\0';
    const char *bad[] = { "", ".", "..", "a/b", "/abs", "a..b", ".hidden", "tab\there",
                          "nl\n", "del\x7f", "hi\x80", too_long };
    mgov_section_t *s = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(mgov_section_open(f->gov, bad[i], NULL, &s), MGOV_EINVAL);
        assert_null(s);
        assert_int_equal(mgov_section_remove(f->gov, bad[i]), MGOV_EINVAL);
    }
    assert_int_equal(mgov_section_open(f->gov, NULL, NULL, &s), MGOV_EINVAL);
    assert_int_equal(mgov_section_open(NULL, "x", NULL, &s), MGOV_EINVAL);
    assert_int_equal(mgov_section_open(f->gov, "x", NULL, NULL), MGOV_EINVAL);
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.override = (mgov_section_override_t)7;
    assert_int_equal(mgov_section_open(f->gov, "x", &c, &s), MGOV_EINVAL);
    c.override = MGOV_SECTION_AUTO;
    c.region = "no_such_region";
    assert_int_equal(mgov_section_open(f->gov, "x", &c, &s), MGOV_ENOTFOUND);
    c.region = NULL;

    const char *good[] = { longest, "with space", "a.b", "x-1_2", "~!@#$%^&*()" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        s = sfx_open(f, good[i], NULL);
        assert_string_equal(mgov_section_name(s), good[i]);
        assert_int_equal(mgov_section_append(s, good[i], strlen(good[i])), MGOV_OK);
        assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
        mgov_section_t *dup = NULL;
        assert_int_equal(mgov_section_open(f->gov, good[i], NULL, &dup), MGOV_EEXIST);
        assert_int_equal(mgov_section_remove(f->gov, good[i]), MGOV_EBUSY);
        assert_int_equal(mgov_section_close(s), MGOV_OK);
        assert_int_equal(mgov_section_remove(f->gov, good[i]), MGOV_OK);
        assert_int_equal(mgov_section_remove(f->gov, good[i]), MGOV_ENOTFOUND);
    }
    /* a consumer of the same name */
    gh_mock_t m;
    gh_mock_init(&m, f->gov, "taken", 0, 0, NULL);
    assert_int_equal(gh_mock_register(&m, 10, 0), MGOV_OK);
    assert_int_equal(mgov_section_open(f->gov, "taken", NULL, &s), MGOV_EEXIST);
    gh_mock_fini(&m);
    assert_int_equal(sfx_files(f), 2); /* the lock and the manifest, listing nothing */
}

/* ------------------------------------------------------------------- pins */

typedef struct pinner {
    mgov_section_t *s;
    sem_t pinned, release;
} pinner_t;

static void *pin_thread(void *arg)
{
    pinner_t *p = arg;
    mgov_section_view_t v;
    assert_int_equal(mgov_section_pin(p->s, &v), MGOV_OK);
    sem_post(&p->pinned);
    sem_wait(&p->release);
    mgov_section_unpin(p->s, &v);
    return NULL;
}

static void test_pins_block_moves(void **state)
{
    sfx_t *f = *state;
    mgov_section_t *s = sfx_open(f, "pinned", NULL);
    uint8_t data[10000];
    sh_fill(data, sizeof data, 3, false);
    assert_int_equal(mgov_section_append(s, data, sizeof data), MGOV_OK);
    pinner_t p = { .s = s };
    sem_init(&p.pinned, 0, 0);
    sem_init(&p.release, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, pin_thread, &p);
    sem_wait(&p.pinned);
    /* skipped at once, or after waiting, and the caller is told which */
    assert_int_equal(mgov_section_spill(s, 0), MGOV_EBUSY);
    assert_int_equal(mgov_section_spill(s, 20 * 1000 * 1000), MGOV_ETIMEDOUT);
    assert_int_equal(mgov_spill_consumer(f->gov, "pinned"), MGOV_EBUSY);
    assert_int_equal(mgov_spill_all(f->gov), MGOV_EBUSY);
    assert_int_equal(mgov_section_append(s, "x", 1), MGOV_EBUSY);
    assert_int_equal(mgov_section_close(s), MGOV_EBUSY);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    gh_event_t e;
    assert_true(gh_evlog_named(f->log, MGOV_EV_SPILL_FAILED, "pinned", 0, &e));
    assert_int_equal(e.ev.status, MGOV_EBUSY);
    /* a second pin in this thread is fine: views are shared */
    mgov_section_view_t v2;
    assert_int_equal(mgov_section_pin(s, &v2), MGOV_OK);
    mgov_section_unpin(s, &v2);
    /* a waiting spill goes through once the view is released */
    sem_post(&p.release);
    assert_int_equal(mgov_section_spill(s, -1), MGOV_OK);
    pthread_join(t, NULL);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    /* the same with an ON_DISK view against a reload */
    pthread_create(&t, NULL, pin_thread, &p);
    sem_wait(&p.pinned);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_EBUSY);
    assert_int_equal(mgov_reload_eligible(f->gov, 1.0), 0);
    sem_post(&p.release);
    pthread_join(t, NULL);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    sfx_assert_content(s, data, sizeof data);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    sem_destroy(&p.pinned);
    sem_destroy(&p.release);
}

/* A spill paused in the middle of writing its file (at its fsync). */
typedef struct paused_spill {
    mgov_section_t *s;
    int64_t timeout_ns;
    sem_t paused, go;
    _Atomic int done;
    int rc;
} paused_spill_t;

static void pause_here(void *arg)
{
    paused_spill_t *p = arg;
    sem_post(&p->paused);
    sem_wait(&p->go);
}

static void *spill_thread(void *arg)
{
    paused_spill_t *p = arg;
    p->rc = mgov_section_spill(p->s, p->timeout_ns);
    atomic_store(&p->done, 1);
    return NULL;
}

static void start_paused_spill(paused_spill_t *p, mgov_section_t *s, int64_t timeout_ns,
                               pthread_t *t)
{
    p->s = s;
    p->timeout_ns = timeout_ns;
    atomic_store(&p->done, 0);
    sem_init(&p->paused, 0, 0);
    sem_init(&p->go, 0, 0);
    mgov__fault_arm_hook(MGOV_FAULT_FSYNC, 0, pause_here, p); /* the section file's fsync */
    pthread_create(t, NULL, spill_thread, p);
    assert_true(gh_sem_wait_ms(&p->paused, 10000));
    mgov__fault_disarm_all();
}

/* Readers are not held up by a spill writing its file: they pin the RAM,
 * and the spill releases it only when they are gone. */
static void test_pins_during_spill(void **state)
{
    sfx_t *f = *state;
    mgov_section_t *s = sfx_open(f, "busy", NULL);
    uint8_t *data = malloc(4 * GH_MiB);
    sh_fill(data, 4 * GH_MiB, 21, false);
    assert_int_equal(mgov_section_append(s, data, 4 * GH_MiB), MGOV_OK);

    /* a spill that does not wait: its file is written, the RAM stays */
    paused_spill_t p;
    pthread_t t;
    start_paused_spill(&p, s, 0, &t);
    mgov_section_view_t v;
    assert_int_equal(mgov_section_pin(s, &v), MGOV_OK); /* while the spill is paused */
    assert_int_equal(v.len, 4 * GH_MiB);
    assert_memory_equal(v.data, data, 4 * GH_MiB);
    sem_post(&p.go);
    pthread_join(t, NULL);
    assert_int_equal(p.rc, MGOV_EBUSY);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_memory_equal(v.data, data, 4 * GH_MiB);
    mgov_section_unpin(s, &v);
    sem_destroy(&p.paused);
    sem_destroy(&p.go);
    gh_event_t e;
    assert_true(gh_evlog_named(f->log, MGOV_EV_SPILL_FAILED, "busy", 0, &e));
    /* the file it wrote is a clean copy: the next spill only drops the RAM */
    uint64_t disk = sfx_spill_bytes(f);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_int_equal(sfx_spill_bytes(f), disk);
    sfx_assert_content(s, data, 4 * GH_MiB);

    /* a spill that waits: it finishes when the reader lets go */
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_write(s, 0, "x", 1), MGOV_OK);
    data[0] = 'x';
    start_paused_spill(&p, s, -1, &t);
    assert_int_equal(mgov_section_pin(s, &v), MGOV_OK);
    sem_post(&p.go);
    gh_sleep_ms(30);
    assert_int_equal(atomic_load(&p.done), 0); /* waiting for the view */
    assert_memory_equal(v.data, data, 4 * GH_MiB);
    mgov_section_unpin(s, &v);
    pthread_join(t, NULL);
    assert_int_equal(p.rc, MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    sfx_assert_content(s, data, 4 * GH_MiB);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    sem_destroy(&p.paused);
    sem_destroy(&p.go);
    free(data);
}

/* A section with pin_wait_ns set waits for views when the governor asks. */
static void test_pin_wait_config(void **state)
{
    sfx_t *f = *state;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.pin_wait_ns = 30 * 1000 * 1000;
    mgov_section_t *s = sfx_open(f, "patient", &c);
    assert_int_equal(mgov_section_append(s, "data", 4), MGOV_OK);
    pinner_t p = { .s = s };
    sem_init(&p.pinned, 0, 0);
    sem_init(&p.release, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, pin_thread, &p);
    sem_wait(&p.pinned);
    assert_int_equal(mgov_spill_consumer(f->gov, "patient"), MGOV_ETIMEDOUT);
    assert_int_equal(mgov_section_append(s, "x", 1), MGOV_ETIMEDOUT);
    sem_post(&p.release);
    pthread_join(t, NULL);
    assert_int_equal(mgov_spill_consumer(f->gov, "patient"), MGOV_OK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    sem_destroy(&p.pinned);
    sem_destroy(&p.release);
}

/* -------------------------------------------------------------- overrides */

static void test_force_disk(void **state)
{
    sfx_t *f = *state;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.override = MGOV_SECTION_FORCE_DISK;
    mgov_section_t *s = sfx_open(f, "cold", &c);
    gh_event_t e;
    assert_true(gh_evlog_named(f->log, MGOV_EV_OVERRIDE, "cold", 0, &e));
    assert_int_equal(e.ev.count, MGOV_SECTION_FORCE_DISK);
    uint8_t data[5000];
    sh_fill(data, sizeof data, 5, false);
    assert_int_equal(mgov_section_append(s, data, sizeof data), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_used(f->gov), 0);
    sfx_assert_content(s, data, sizeof data);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_ENOTSUP);
    assert_int_equal(mgov_reload_eligible(f->gov, 1.0), 0);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOAD_FAILED), 0);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    /* reopened with ForceDisk: the copy stays on disk; with Auto it can come back */
    s = sfx_open(f, "cold", &c);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    s = sfx_open(f, "cold", NULL);
    assert_int_equal(mgov_reload_eligible(f->gov, 1.0), 1);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    sfx_assert_content(s, data, sizeof data);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
}

static void test_force_ram(void **state)
{
    sfx_t *f = *state;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.override = MGOV_SECTION_FORCE_RAM;
    c.priority = 1; /* the first victim, were it one */
    mgov_section_t *s = sfx_open(f, "hot", &c);
    gh_event_t e;
    assert_true(gh_evlog_named(f->log, MGOV_EV_OVERRIDE, "hot", 0, &e));
    assert_int_equal(e.ev.count, MGOV_SECTION_FORCE_RAM);
    uint8_t *data = malloc(GH_MiB);
    sh_fill(data, GH_MiB, 6, false);
    assert_int_equal(mgov_section_append(s, data, GH_MiB), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_EBUSY);
    assert_int_equal(mgov_spill_consumer(f->gov, "hot"), MGOV_EBUSY);
    assert_int_equal(mgov_spill_all(f->gov), MGOV_OK);
    mgov_reclaim(f->gov, 64 * GH_MiB, MGOV_PRESSURE_CRITICAL);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    /* the budget runs out: its growth fails rather than spilling it */
    mgov_grant_t g;
    assert_int_equal(mgov_try_reserve(f->gov, 1, mgov_budget(f->gov) * 9 / 10 - 2 * GH_MiB, 0, &g),
                     MGOV_OK);
    uint8_t *big = calloc(1, 8 * GH_MiB);
    assert_int_equal(mgov_section_append(s, big, 8 * GH_MiB), MGOV_EBUDGET);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    sfx_assert_content(s, data, GH_MiB);
    mgov_grant_release(&g);
    free(big);
    /* spilled earlier under Auto, reopened ForceRam: loaded at open */
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    s = sfx_open(f, "hot", NULL);
    assert_int_equal(mgov_section_append(s, data, GH_MiB), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    s = sfx_open(f, "hot", &c);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    sfx_assert_content(s, data, GH_MiB);
    /* a ForceRam section over its cap refuses to grow */
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    c.max_ram = GH_MiB + 10;
    s = sfx_open(f, "hot", &c);
    assert_int_equal(mgov_section_append(s, data, 11), MGOV_ELIMIT);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    /* not loadable at open: open fails and leaves nothing */
    c.max_ram = 0;
    assert_int_equal(mgov_try_reserve(f->gov, 1, mgov_budget(f->gov) * 95 / 100 - GH_MiB / 2, 0, &g),
                     MGOV_OK);
    mgov_section_t *s2 = NULL;
    assert_int_equal(mgov_section_open(f->gov, "hot", &c, &s2), MGOV_EBUDGET);
    assert_null(s2);
    mgov_grant_release(&g);
    s = sfx_open(f, "hot", NULL);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    free(data);
}

static void test_max_ram(void **state)
{
    sfx_t *f = *state;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.max_ram = 64 * GH_KiB;
    mgov_section_t *s = sfx_open(f, "capped", &c);
    uint8_t *data = malloc(200 * GH_KiB);
    sh_fill(data, 200 * GH_KiB, 8, false);
    for (size_t at = 0; at < 64 * GH_KiB; at += 8 * GH_KiB) {
        assert_int_equal(mgov_section_append(s, data + at, 8 * GH_KiB), MGOV_OK);
        assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
        assert_true(mgov_used(f->gov) <= 64 * GH_KiB);
    }
    /* one byte past the cap: the section lives on disk, RAM released */
    assert_int_equal(mgov_section_append(s, data + 64 * GH_KiB, 1), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_used(f->gov), 0);
    assert_int_equal(mgov_section_append(s, data + 64 * GH_KiB + 1, 100 * GH_KiB), MGOV_OK);
    sfx_assert_content(s, data, 164 * GH_KiB + 1);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_ENOTSUP);
    assert_int_equal(mgov_reload_eligible(f->gov, 1.0), 0);
    /* a write that brings it back under the cap brings it back to RAM
     * (more in test_section_write.c) */
    assert_int_equal(mgov_section_truncate(s, 10 * GH_KiB), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    sfx_assert_content(s, data, 10 * GH_KiB);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    free(data);
}

/* --------------------------------------------------- the governor's moves */

static void test_pressure_spills(void **state)
{
    sfx_t *f = *state; /* budget 64 MiB: high at 85% */
    mgov_section_config_t low = MGOV_SECTION_CONFIG_INIT, high = MGOV_SECTION_CONFIG_INIT;
    low.priority = MGOV_PRIORITY_QUERY_CACHE;
    high.priority = MGOV_PRIORITY_ACTIVE_TRANSACTION;
    mgov_section_t *a = sfx_open(f, "cache", &low), *b = sfx_open(f, "txn", &high);
    uint8_t *data = malloc(16 * GH_MiB);
    sh_fill(data, 16 * GH_MiB, 9, false);
    assert_int_equal(mgov_section_append(a, data, 16 * GH_MiB), MGOV_OK);
    assert_int_equal(mgov_section_append(b, data, 16 * GH_MiB), MGOV_OK);
    /* another user's grant needs room: the governor spills the cache */
    mgov_grant_t g;
    assert_int_equal(mgov_try_reserve(f->gov, 1, 30 * GH_MiB, 0, &g), MGOV_OK);
    assert_int_equal(mgov_section_tier(a), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_tier(b), MGOV_TIER_IN_MEMORY);
    gh_event_t e;
    assert_true(gh_evlog_named(f->log, MGOV_EV_SPILLED, "cache", 0, &e));
    sfx_assert_content(a, data, 16 * GH_MiB);
    sfx_assert_content(b, data, 16 * GH_MiB);
    /* reads of the spilled one cost no budget */
    assert_int_equal(mgov_used(f->gov), 30 * GH_MiB + 16 * GH_MiB);
    mgov_grant_release(&g);
    assert_int_equal(mgov_reload_eligible(f->gov, 0.7), 1);
    assert_int_equal(mgov_section_tier(a), MGOV_TIER_IN_MEMORY);
    sfx_assert_content(a, data, 16 * GH_MiB);
    assert_int_equal(mgov_section_close(a), MGOV_OK);
    assert_int_equal(mgov_section_close(b), MGOV_OK);
    free(data);
}

typedef struct names {
    char buf[512];
} names_t;

static void list_fn(void *arg, const mgov_section_info_t *in)
{
    names_t *n = arg;
    char one[160];
    snprintf(one, sizeof one, "%s%s:%s:%s%s", n->buf[0] ? "," : "", in->name,
             mgov_tier_name(in->tier), in->open ? "open" : "closed",
             in->status == MGOV_OK ? "" : ":corrupt");
    strncat(n->buf, one, sizeof n->buf - strlen(n->buf) - 1);
}

static void test_reload_eligible_order(void **state)
{
    sfx_t *f = *state;
    const char *names[] = { "p30", "p100", "p50", "p200" };
    unsigned prio[] = { 30, 100, 50, 200 };
    mgov_section_t *s[4];
    uint8_t *data = malloc(4 * GH_MiB);
    sh_fill(data, 4 * GH_MiB, 10, false);
    for (int i = 0; i < 4; i++) {
        mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
        c.priority = prio[i];
        s[i] = sfx_open(f, names[i], &c);
        assert_int_equal(mgov_section_append(s[i], data, 4 * GH_MiB), MGOV_OK);
    }
    assert_int_equal(mgov_spill_all(f->gov), MGOV_OK);
    assert_int_equal(mgov_used(f->gov), 0);
    names_t before = { "" };
    assert_int_equal(mgov_section_foreach(f->gov, list_fn, &before), MGOV_OK);
    assert_string_equal(before.buf, "p100:on_disk:open,p200:on_disk:open,p30:on_disk:open,"
                                    "p50:on_disk:open");
    /* p200's file is damaged behind our back: its reload fails, is reported, skipped */
    char list[4096], path[4200];
    sh_list(f->dir, list, sizeof list);
    /* find the file name token that ends with -p200 */
    char *tok = strtok(list, ",");
    while (tok && !strstr(tok, "-p200"))
        tok = strtok(NULL, ",");
    assert_non_null(tok);
    snprintf(path, sizeof path, "%s/%s", f->dir, tok);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 4096 + 1000), 1);
    close(fd);
    gh_evlog_clear(f->log);
    /* 0.15 x 64 MiB = 9.6 MiB: p100 and p50 (4 MiB each) fit, p30 does not */
    assert_int_equal(mgov_reload_eligible(f->gov, 0.15), 2);
    gh_event_t ev[8];
    size_t n = gh_evlog_all(f->log, MGOV_EV_RELOADED, ev, 8);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].name, "p100");
    assert_string_equal(ev[1].name, "p50");
    assert_true(gh_evlog_named(f->log, MGOV_EV_RELOAD_FAILED, "p200", 0, &ev[0]));
    assert_int_equal(ev[0].ev.status, MGOV_ECORRUPT);
    assert_int_equal(mgov_section_tier(s[0]), MGOV_TIER_ON_DISK); /* p30: stopped before it */
    assert_int_equal(mgov_section_tier(s[2]), MGOV_TIER_IN_MEMORY);
    assert_int_equal(mgov_used(f->gov), 8 * GH_MiB);
    mgov_section_view_t v;
    assert_int_equal(mgov_section_pin(s[3], &v), MGOV_ECORRUPT);
    names_t after = { "" };
    assert_int_equal(mgov_section_foreach(f->gov, list_fn, &after), MGOV_OK);
    assert_string_equal(after.buf, "p100:in_memory:open,p200:on_disk:open:corrupt,"
                                   "p30:on_disk:open,p50:in_memory:open");
    for (int i = 0; i < 4; i++)
        assert_int_equal(mgov_section_close(s[i]), MGOV_OK);
    /* the unavailable one cannot be opened until removed */
    mgov_section_t *x = NULL;
    assert_int_equal(mgov_section_open(f->gov, "p200", NULL, &x), MGOV_ECORRUPT);
    assert_int_equal(mgov_section_remove(f->gov, "p200"), MGOV_OK);
    x = sfx_open(f, "p200", NULL);
    assert_int_equal(mgov_section_tier(x), MGOV_TIER_UNINITIALIZED);
    assert_int_equal(mgov_section_close(x), MGOV_OK);
    free(data);
}

static void test_events_and_stats(void **state)
{
    sfx_t *f = *state;
    mgov_section_t *s = sfx_open(f, "ev", NULL);
    assert_int_equal(mgov_section_append(s, "hello", 5), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK); /* already there: no event */
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    mgov_stats_t st;
    assert_int_equal(mgov_stats(f->gov, &st), MGOV_OK);
    assert_int_equal(st.spills, 1);
    assert_int_equal(st.reloads, 1);
    assert_true(st.spill_bytes >= 4096 + 5);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_SPILLED), 1);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOADED), 1);
    gh_event_t e;
    assert_true(gh_evlog_nth(f->log, MGOV_EV_SPILLED, 0, &e));
    char line[256];
    e.ev.name = e.name;
    e.ev.region_name = e.region_name;
    mgov_event_format(&e.ev, line, sizeof line);
    assert_non_null(strstr(line, "ev"));
    mgov_event_t ov = { .type = MGOV_EV_OVERRIDE, .name = "x", .count = 1, .region = -1 };
    mgov_event_format(&ov, line, sizeof line);
    assert_non_null(strstr(line, "force_disk"));
    assert_string_equal(mgov_event_type_name(MGOV_EV_OVERRIDE), "override");
    assert_string_equal(mgov_tier_name(MGOV_TIER_ON_DISK), "on_disk");
    assert_string_equal(mgov_section_override_name(MGOV_SECTION_FORCE_RAM), "force_ram");
    assert_string_equal(mgov_section_override_name((mgov_section_override_t)9), "unknown");
    assert_int_equal(mgov_section_close(s), MGOV_OK);
}

/* ------------------------------------------------------- injected failures */

/* A spill failing at its n-th `kind` call leaves RAM intact and no trace. */
static void spill_faults(sfx_t *f, mgov_fault_kind_t kind, int err, int expect)
{
    mgov_section_t *s = sfx_open(f, "faulty", NULL);
    uint8_t *data = malloc(20 * GH_MiB);
    sh_fill(data, 20 * GH_MiB, 11, false);
    assert_int_equal(mgov_section_append(s, data, 20 * GH_MiB), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK); /* a previous generation */
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_write(s, 5, "new", 3), MGOV_OK);
    memcpy(data + 5, "new", 3);
    char before[4096], after[4096];
    sfx_snapshot(f, before, sizeof before);
    uint64_t used = mgov_used(f->gov), disk = sfx_spill_bytes(f);
    long n;
    for (n = 0; n < 100; n++) {
        sfx_arm(kind, n, err);
        int rc = mgov_section_spill(s, 0);
        mgov__fault_disarm_all();
        if (rc == MGOV_OK)
            break;
        assert_int_equal(rc, expect);
        assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
        assert_int_equal(mgov_used(f->gov), used);
        assert_int_equal(sfx_spill_bytes(f), disk);
        sfx_snapshot(f, after, sizeof after);
        assert_string_equal(after, before);
        sfx_assert_content(s, data, 20 * GH_MiB);
    }
    assert_true(n > 0 || kind == MGOV_FAULT_MMAP); /* the spill itself maps nothing */
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    sfx_assert_content(s, data, 20 * GH_MiB);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    /* what was spilled last is what a reopen finds */
    s = sfx_open(f, "faulty", NULL);
    sfx_assert_content(s, data, 20 * GH_MiB);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_remove(f->gov, "faulty"), MGOV_OK);
    free(data);
}

static void test_spill_io_failures(void **state)
{
    sfx_t *f = *state;
    spill_faults(f, MGOV_FAULT_WRITE, 0, MGOV_EIO);
    spill_faults(f, MGOV_FAULT_WRITE, ENOSPC, MGOV_ENOSPC);
    spill_faults(f, MGOV_FAULT_WRITE, EDQUOT, MGOV_ENOSPC);
    spill_faults(f, MGOV_FAULT_FSYNC, 0, MGOV_EIO);
    spill_faults(f, MGOV_FAULT_RENAME, 0, MGOV_EIO);
    spill_faults(f, MGOV_FAULT_OPEN, 0, MGOV_EIO);
    spill_faults(f, MGOV_FAULT_OPEN, ENOSPC, MGOV_ENOSPC);
    spill_faults(f, MGOV_FAULT_ALLOC, 0, MGOV_ENOMEM);
    spill_faults(f, MGOV_FAULT_MMAP, 0, MGOV_EIO);
}

static void test_reload_and_pin_failures(void **state)
{
    sfx_t *f = *state;
    mgov_section_t *s = sfx_open(f, "rl", NULL);
    uint8_t data[50000];
    sh_fill(data, sizeof data, 13, false);
    assert_int_equal(mgov_section_append(s, data, sizeof data), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    static const mgov_fault_kind_t kinds[] = { MGOV_FAULT_READ, MGOV_FAULT_OPEN, MGOV_FAULT_MMAP };
    for (size_t k = 0; k < 3; k++) {
        sfx_arm(kinds[k], 0, 0);
        int rc = mgov_section_reload(s, 0);
        mgov__fault_disarm_all();
        assert_true(rc == MGOV_EIO || rc == MGOV_ENOMEM);
        assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
        assert_int_equal(mgov_used(f->gov), 0);
        assert_int_equal(mgov_section_close(s), MGOV_OK); /* unmapped: the pin maps */
        s = sfx_open(f, "rl", NULL);
        sfx_arm(kinds[k], 0, 0);
        mgov_section_view_t v;
        rc = mgov_section_pin(s, &v);
        mgov__fault_disarm_all();
        assert_true(rc == MGOV_EIO || rc == MGOV_ENOMEM);
        sfx_assert_content(s, data, sizeof data);
    }
    /* the budget says no: nothing changes */
    mgov_grant_t g;
    assert_int_equal(mgov_try_reserve(f->gov, 1, mgov_budget(f->gov) * 95 / 100 - 4096, 0, &g),
                     MGOV_OK);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_EBUDGET);
    assert_int_equal(mgov_section_reload(s, 10 * 1000 * 1000), MGOV_ETIMEDOUT);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    mgov_grant_release(&g);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    sfx_assert_content(s, data, sizeof data);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    /* every allocation failing in turn at open */
    for (long n = 0; n < 20; n++) {
        mgov_section_t *x = NULL;
        sfx_arm(MGOV_FAULT_ALLOC, n, 0);
        int rc = mgov_section_open(f->gov, "fresh", NULL, &x);
        mgov__fault_disarm_all();
        if (rc == MGOV_OK) {
            assert_int_equal(mgov_section_close(x), MGOV_OK);
            break;
        }
        assert_int_equal(rc, MGOV_ENOMEM);
        assert_null(x);
    }
}

/* The quota bounds section files too. */
static void test_quota(void **state)
{
    sfx_t *f = *state;
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    sfx_gov_make(f, 64 * GH_MiB, 64 * GH_KiB);
    mgov_section_t *s = sfx_open(f, "q", NULL);
    uint8_t data[100000];
    sh_fill(data, sizeof data, 14, false);
    assert_int_equal(mgov_section_append(s, data, 50000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_append(s, data + 50000, 50000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_ENOSPC);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    sfx_assert_content(s, data, 100000);
    /* a spill needs room for the new generation beside the old one */
    assert_int_equal(mgov_section_truncate(s, 12000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_ENOSPC);
    assert_int_equal(mgov_section_truncate(s, 5000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    sfx_assert_content(s, data, 5000);
    names_t all = { "" };
    assert_int_equal(mgov_section_foreach(f->gov, list_fn, &all), MGOV_OK); /* reaped by now */
    assert_int_equal(sfx_spill_bytes(f), 4096 + 5000);
    /* generation after generation with room for two: the superseded one is
     * with the reaper, and a spill that finds the quota full waits for it */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
        assert_int_equal(mgov_section_write(s, 0, &i, sizeof i), MGOV_OK);
        assert_int_equal(mgov_section_resize(s, 25000), MGOV_OK);
        assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    }
    assert_int_equal(mgov_section_foreach(f->gov, list_fn, &all), MGOV_OK);
    assert_int_equal(sfx_spill_bytes(f), 4096 + 25000);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trips, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_names, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_pins_block_moves, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_pin_wait_config, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_pins_during_spill, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_force_disk, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_force_ram, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_max_ram, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_pressure_spills, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_reload_eligible_order, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_events_and_stats, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_spill_io_failures, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_reload_and_pin_failures, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_quota, sfx_setup, sfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
