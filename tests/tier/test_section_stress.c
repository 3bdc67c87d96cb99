/* tests/tier/test_section_stress.c - sections under concurrent use: readers
 * pinning views, a writer appending and truncating, a mover spilling and
 * reloading by every route, and a thread whose grants make the governor
 * spill on its own, all at once.  Every byte of a section is a function of
 * its index and offset, so a reader can check any view it gets: a torn or
 * stale view, a lost write or a moved pinned buffer shows as a wrong byte
 * (and as a use-after-unmap under the sanitizers).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov/section.h"
#include "spill_helpers.h"

#define N_SECTIONS 4
#define ROUNDS 400
#define MAX_LEN (3u << 20)

typedef struct world {
    mgov_t *gov;
    mgov_section_t *s[N_SECTIONS];
    _Atomic int stop;
    _Atomic long bad, pins, moves, writes, refusals;
} world_t;

static uint8_t byte_at(int i, uint64_t k)
{
    return (uint8_t)(((k * 2654435761u) >> 7) + (uint64_t)i * 17u);
}

static bool view_ok(int i, const mgov_section_view_t *v, uint64_t *rng)
{
    const uint8_t *p = v->data;
    if (!v->len)
        return true;
    if (p[0] != byte_at(i, 0) || p[v->len - 1] != byte_at(i, v->len - 1))
        return false;
    for (int j = 0; j < 64; j++) {
        uint64_t k = sh_rand(rng) % v->len;
        if (p[k] != byte_at(i, k))
            return false;
    }
    return true;
}

static void *reader(void *arg)
{
    world_t *w = arg;
    uint64_t rng = (uint64_t)(uintptr_t)&rng | 1;
    while (!atomic_load(&w->stop)) {
        int i = (int)(sh_rand(&rng) % N_SECTIONS);
        mgov_section_view_t v;
        int rc = mgov_section_pin(w->s[i], &v);
        if (rc != MGOV_OK) {
            atomic_fetch_add(&w->bad, 1);
            continue;
        }
        if (!view_ok(i, &v, &rng))
            atomic_fetch_add(&w->bad, 1);
        mgov_section_unpin(w->s[i], &v);
        atomic_fetch_add(&w->pins, 1);
    }
    return NULL;
}

static void *writer(void *arg)
{
    world_t *w = arg;
    uint64_t rng = 77;
    uint8_t *buf = malloc(256 * 1024);
    for (int r = 0; r < ROUNDS; r++) {
        int i = (int)(sh_rand(&rng) % N_SECTIONS);
        uint64_t len = mgov_section_length(w->s[i]);
        int rc;
        if (len > MAX_LEN || sh_rand(&rng) % 8 == 0) {
            rc = mgov_section_truncate(w->s[i], len / 3);
        } else {
            size_t n = (size_t)(sh_rand(&rng) % (256 * 1024));
            for (size_t k = 0; k < n; k++)
                buf[k] = byte_at(i, len + k);
            /* only this thread writes: the length cannot change under us */
            rc = mgov_section_append(w->s[i], buf, n);
        }
        if (rc == MGOV_OK)
            atomic_fetch_add(&w->writes, 1);
        else if (rc == MGOV_EBUDGET || rc == MGOV_EBUSY || rc == MGOV_ETIMEDOUT)
            atomic_fetch_add(&w->refusals, 1);
        else
            atomic_fetch_add(&w->bad, 1);
    }
    free(buf);
    atomic_store(&w->stop, 1);
    return NULL;
}

static void *mover(void *arg)
{
    world_t *w = arg;
    uint64_t rng = 99;
    static const char *names[N_SECTIONS] = { "s0", "s1", "s2", "s3" };
    while (!atomic_load(&w->stop)) {
        int i = (int)(sh_rand(&rng) % N_SECTIONS);
        int rc;
        switch (sh_rand(&rng) % 6) {
        case 0: rc = mgov_spill_all(w->gov); break;
        case 1: mgov_reload_eligible(w->gov, 0.6); rc = MGOV_OK; break;
        case 2: rc = mgov_section_spill(w->s[i], 1000000); break;
        case 3: rc = mgov_section_reload(w->s[i], 1000000); break;
        case 4: rc = mgov_spill_consumer(w->gov, names[i]); break;
        default: mgov_reclaim(w->gov, 8 * GH_MiB, MGOV_PRESSURE_HIGH); rc = MGOV_OK; break;
        }
        if (rc == MGOV_OK)
            atomic_fetch_add(&w->moves, 1);
        else if (rc != MGOV_EBUSY && rc != MGOV_ETIMEDOUT && rc != MGOV_EBUDGET &&
                 rc != MGOV_ENOTSUP)
            atomic_fetch_add(&w->bad, 1);
    }
    return NULL;
}

static void *squeezer(void *arg)
{
    world_t *w = arg;
    uint64_t rng = 5;
    while (!atomic_load(&w->stop)) {
        mgov_grant_t g;
        uint64_t n = (4 + sh_rand(&rng) % 12) * GH_MiB;
        if (mgov_try_reserve(w->gov, 1, n, 0, &g) == MGOV_OK) {
            gh_sleep_ms(1);
            mgov_grant_release(&g);
        }
    }
    return NULL;
}

static void test_stress(void **state)
{
    (void)state;
    sh_scratch_t scratch;
    sh_scratch_init(&scratch);
    world_t w = { 0 };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 24 * GH_MiB;
    assert_int_equal(mgov_create(&cfg, &w.gov), MGOV_OK);
    for (int i = 0; i < N_SECTIONS; i++) {
        mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
        c.priority = 30 + 20 * (unsigned)i;
        c.override = i == 3 ? MGOV_SECTION_FORCE_DISK : MGOV_SECTION_AUTO;
        c.max_ram = i == 2 ? 2 * GH_MiB : 0;
        c.pin_wait_ns = i == 1 ? 2000000 : 0;
        c.timeout_ns = 1000000;
        char name[8];
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(mgov_section_open(w.gov, name, &c, &w.s[i]), MGOV_OK);
    }
    pthread_t t[5];
    pthread_create(&t[0], NULL, writer, &w);
    pthread_create(&t[1], NULL, reader, &w);
    pthread_create(&t[2], NULL, reader, &w);
    pthread_create(&t[3], NULL, mover, &w);
    pthread_create(&t[4], NULL, squeezer, &w);
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    print_message("writes %ld, refused %ld, pins %ld, moves %ld\n", atomic_load(&w.writes),
                  atomic_load(&w.refusals), atomic_load(&w.pins), atomic_load(&w.moves));
    assert_int_equal(atomic_load(&w.bad), 0);
    assert_true(atomic_load(&w.writes) > ROUNDS / 2);
    assert_true(atomic_load(&w.pins) > 0 && atomic_load(&w.moves) > 0);
    uint64_t rng = 1;
    for (int i = 0; i < N_SECTIONS; i++) {
        mgov_section_view_t v;
        assert_int_equal(mgov_section_pin(w.s[i], &v), MGOV_OK);
        for (size_t k = 0; k < v.len; k++)
            if (((const uint8_t *)v.data)[k] != byte_at(i, k))
                fail_msg("section %d byte %zu", i, k);
        assert_true(view_ok(i, &v, &rng));
        mgov_section_unpin(w.s[i], &v);
        assert_int_equal(mgov_section_close(w.s[i]), MGOV_OK);
    }
    assert_int_equal(mgov_used(w.gov), 0);
    assert_int_equal(mgov_destroy(w.gov), MGOV_OK);
    sh_scratch_fini(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
