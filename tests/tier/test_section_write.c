/* tests/tier/test_section_write.c - changing a section's bytes (append,
 * write at an offset, resize, truncate): writes in RAM and on disk against
 * a model, argument errors, writes to a spilled section (reloaded first,
 * or on disk without room), writes that bring a section back under its
 * max_ram (only the kept bytes read), and every injected failure of a
 * write on disk leaving the old generation in force.
 *
 * Each test gets the fixture of section_fx.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "section_fx.h"

/* --------------------------------------------------------- writes vs model */

typedef struct model {
    uint8_t *b;
    size_t len, cap;
} model_t;

static void model_reserve(model_t *m, size_t n)
{
    if (n > m->cap) {
        m->cap = n * 2;
        m->b = realloc(m->b, m->cap);
    }
}

/* Applies one random operation to both; returns its status. */
static int random_op(mgov_section_t *s, model_t *m, uint64_t *rng, uint8_t *scratch)
{
    uint64_t r = sh_rand(rng);
    size_t n = (size_t)(sh_rand(rng) % 9000);
    sh_fill(scratch, n, r, false);
    int rc;
    switch (r % 6) {
    case 0:
    case 1:
        rc = mgov_section_append(s, scratch, n);
        if (rc == MGOV_OK) {
            model_reserve(m, m->len + n);
            memcpy(m->b + m->len, scratch, n);
            m->len += n;
        }
        return rc;
    case 2: {
        size_t off = m->len ? (size_t)(sh_rand(rng) % (m->len + 1)) : 0;
        rc = mgov_section_write(s, off, scratch, n);
        if (rc == MGOV_OK) {
            model_reserve(m, off + n);
            memcpy(m->b + off, scratch, n);
            if (off + n > m->len)
                m->len = off + n;
        }
        return rc;
    }
    case 3: {
        size_t len = (size_t)(sh_rand(rng) % (m->len + 20000));
        rc = mgov_section_resize(s, len);
        if (rc == MGOV_OK) {
            model_reserve(m, len);
            if (len > m->len)
                memset(m->b + m->len, 0, len - m->len);
            m->len = len;
        }
        return rc;
    }
    case 4: {
        size_t len = m->len ? (size_t)(sh_rand(rng) % (m->len + 1)) : 0;
        rc = mgov_section_truncate(s, len);
        if (rc == MGOV_OK)
            m->len = len;
        return rc;
    }
    default:
        return (r >> 8) % 2 ? mgov_section_spill(s, 0) : mgov_section_reload(s, 0);
    }
}

static void run_model(sfx_t *f, const char *name, const mgov_section_config_t *cfg, int ops,
                      uint64_t seed)
{
    mgov_section_t *s = sfx_open(f, name, cfg);
    model_t m = { 0 };
    uint8_t *scratch = malloc(9000);
    uint64_t rng = seed;
    unsigned disk = 0, ram = 0;
    for (int i = 0; i < ops; i++) {
        int rc = random_op(s, &m, &rng, scratch);
        assert_true(rc == MGOV_OK || rc == MGOV_ENOTSUP);
        sfx_assert_content(s, m.b, m.len);
        if (mgov_section_tier(s) == MGOV_TIER_ON_DISK)
            disk++;
        else
            ram++;
    }
    if (!cfg || cfg->override == MGOV_SECTION_AUTO)
        assert_true(disk > 0 && ram > 0); /* both paths were walked */
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    free(scratch);
    free(m.b);
}

static void test_writes_model(void **state)
{
    sfx_t *f = *state;
    run_model(f, "model", NULL, 400, 42);
    mgov_section_config_t cap = MGOV_SECTION_CONFIG_INIT;
    cap.max_ram = 12000;
    run_model(f, "capped", &cap, 300, 7);
    mgov_section_config_t fd = MGOV_SECTION_CONFIG_INIT;
    fd.override = MGOV_SECTION_FORCE_DISK;
    run_model(f, "forced", &fd, 120, 9);
    assert_int_equal(mgov_used(f->gov), 0);
}

static void test_write_errors(void **state)
{
    sfx_t *f = *state;
    mgov_section_t *s = sfx_open(f, "w", NULL);
    assert_int_equal(mgov_section_append(s, "abc", 3), MGOV_OK);
    assert_int_equal(mgov_section_write(s, 4, "x", 1), MGOV_EINVAL); /* past the end */
    assert_int_equal(mgov_section_write(s, 3, "de", 2), MGOV_OK);    /* at the end: appends */
    assert_int_equal(mgov_section_truncate(s, 6), MGOV_EINVAL);
    assert_int_equal(mgov_section_append(s, NULL, 1), MGOV_EINVAL);
    assert_int_equal(mgov_section_append(s, NULL, 0), MGOV_OK);
    assert_int_equal(mgov_section_resize(s, UINT64_MAX), MGOV_EINVAL);
    assert_int_equal(mgov_section_write(s, 1, "x", SIZE_MAX), MGOV_EINVAL);
    sfx_assert_content(s, "abcde", 5);
    /* a shrink then a grow reads zeros, in RAM and on disk */
    assert_int_equal(mgov_section_truncate(s, 2), MGOV_OK);
    assert_int_equal(mgov_section_resize(s, 4), MGOV_OK);
    sfx_assert_content(s, "ab\0\0", 4);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    mgov_section_config_t fd = MGOV_SECTION_CONFIG_INIT;
    fd.override = MGOV_SECTION_FORCE_DISK;
    s = sfx_open(f, "wd", &fd);
    assert_int_equal(mgov_section_append(s, "abcd", 4), MGOV_OK);
    assert_int_equal(mgov_section_truncate(s, 1), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK); /* written on disk */
    assert_int_equal(mgov_section_resize(s, 3), MGOV_OK);
    sfx_assert_content(s, "a\0\0", 3);
    assert_int_equal(mgov_section_write(s, 4, "x", 1), MGOV_EINVAL);
    assert_int_equal(mgov_section_truncate(s, 4), MGOV_EINVAL);
    sfx_assert_content(s, "a\0\0", 3);
    assert_int_equal(mgov_section_append(NULL, "a", 1), MGOV_EINVAL);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_close(NULL), MGOV_OK); /* closes accept NULL */
    assert_int_equal(mgov_section_spill(NULL, 0), MGOV_EINVAL);
    assert_int_equal(mgov_section_reload(NULL, 0), MGOV_EINVAL);
    assert_int_equal(mgov_section_pin(NULL, NULL), MGOV_EINVAL);
    mgov_section_unpin(NULL, NULL);
}

/* A write to an Auto section on disk brings it back to RAM first when its
 * bytes fit without reclaim; otherwise it is a new generation on disk; a
 * damaged file is the write's error; a failed reload is not a write. */
static void test_write_spilled(void **state)
{
    sfx_t *f = *state;
    /* thresholds near the top, so that filling the budget below moderate
     * starts no reclaim of its own */
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 64 * GH_MiB;
    cfg.moderate = 0.96;
    cfg.high = 0.97;
    cfg.critical = 0.98;
    cfg.spill_dir = f->dir;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = f->log;
    assert_int_equal(mgov_create(&cfg, &f->gov), MGOV_OK);
    const size_t n = 3 * GH_MiB + 7;
    uint8_t *data = malloc(n + 10);
    sh_fill(data, n + 10, 14, false);
    mgov_section_t *s = sfx_open(f, "ws", NULL);
    assert_int_equal(mgov_section_append(s, data, n), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    uint64_t gen = sfx_generation(f, "ws");

    /* room in the budget: reloaded (an event), then written in RAM */
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_append(s, data + n, 5), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOADED), 1);
    assert_int_equal(sfx_generation(f, "ws"), gen); /* the file is untouched */
    sfx_assert_content(s, data, n + 5);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    gen = sfx_generation(f, "ws");

    /* no room without reclaim: a new generation on disk, no one reclaimed */
    mgov_section_t *other = sfx_open(f, "other", NULL);
    assert_int_equal(mgov_section_append(other, data, GH_MiB), MGOV_OK);
    mgov_grant_t g;
    uint64_t room = mgov_budget(f->gov) * 95 / 100 - mgov_used(f->gov);
    assert_int_equal(mgov_try_reserve(f->gov, 2, room, 0, &g), MGOV_OK);
    assert_int_equal(mgov_pressure(f->gov), MGOV_PRESSURE_NORMAL);
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_append(s, data + n + 5, 5), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_true(sfx_generation(f, "ws") > gen);
    assert_int_equal(mgov_section_tier(other), MGOV_TIER_IN_MEMORY);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOADED), 0);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_SPILLED), 0);
    sfx_assert_content(s, data, n + 10);
    /* nor when the mapping for the reload fails */
    mgov_grant_release(&g);
    gen = sfx_generation(f, "ws");
    mgov__fault_arm_errno(MGOV_FAULT_MMAP, 0, 1, 0);
    assert_int_equal(mgov_section_truncate(s, n), MGOV_OK);
    mgov__fault_disarm_all();
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_true(sfx_generation(f, "ws") > gen);
    sfx_assert_content(s, data, n);

    /* a read error in the reload fails the write and changes nothing */
    assert_int_equal(mgov_section_close(s), MGOV_OK); /* unmapped */
    s = sfx_open(f, "ws", NULL);
    gen = sfx_generation(f, "ws");
    uint64_t used = mgov_used(f->gov);
    mgov__fault_arm_errno(MGOV_FAULT_READ, 0, 1, 0);
    assert_int_equal(mgov_section_write(s, 0, "xy", 2), MGOV_EIO);
    mgov__fault_disarm_all();
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(sfx_generation(f, "ws"), gen);
    assert_int_equal(mgov_used(f->gov), used);
    sfx_assert_content(s, data, n);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_close(other), MGOV_OK);

    /* data damaged on disk, found by the write's reload after a restart */
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    f->gov = NULL;
    sfx_damage(f, "ws", gen, 12345);
    sfx_gov_make(f, 64 * GH_MiB, 0);
    s = sfx_open(f, "ws", NULL);
    assert_int_equal(mgov_section_append(s, "x", 1), MGOV_ECORRUPT);
    assert_int_equal(mgov_section_length(s), n);
    mgov_section_view_t v;
    assert_int_equal(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    assert_int_equal(mgov_used(f->gov), 0);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_remove(f->gov, "ws"), MGOV_OK);
    free(data);
}


/* ------------------------------------------------ back under the max_ram cap */

/* Bytes this process has read through read(2)-like calls so far. */
static uint64_t rchar(void)
{
    FILE *fp = fopen("/proc/self/io", "r");
    assert_non_null(fp);
    char line[256];
    unsigned long long v = 0;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "rchar: %llu", &v) == 1)
            break;
    fclose(fp);
    return v;
}

/* The last RELOADED event's bytes; asserts there was exactly one. */
static uint64_t reloaded_bytes(sfx_t *f)
{
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOADED), 1);
    gh_event_t e;
    assert_true(gh_evlog_nth(f->log, MGOV_EV_RELOADED, 0, &e));
    return e.ev.bytes;
}

/* An Auto section pushed over its max_ram (ON_DISK, no RAM). */
static mgov_section_t *over_cap(sfx_t *f, const char *name, const uint8_t *data, size_t cap,
                                size_t len)
{
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.max_ram = cap;
    mgov_section_t *s = sfx_open(f, name, &c);
    assert_int_equal(mgov_section_append(s, data, cap / 2), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(mgov_section_append(s, data + cap / 2, len - cap / 2), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_used(f->gov), 0);
    return s;
}

/* Every kind of write that leaves a spilled Auto section within max_ram
 * brings it back to RAM (section.h, "Writes"), reading only the bytes it
 * keeps; the tier, the governor's count and the bytes are right after it. */
static void test_write_back_under_cap(void **state)
{
    sfx_t *f = *state;
    const size_t big = 64 * GH_MiB / 4; /* 16 MiB: over a 1 MiB cap */
    uint8_t *data = malloc(big);
    sh_fill(data, big, 21, false);

    /* truncate from over the cap to within it: the case */
    mgov_section_t *s = over_cap(f, "t", data, 8192, 12288);
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_truncate(s, 4096), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(mgov_used(f->gov), 4096);
    assert_int_equal(reloaded_bytes(f), 4096);
    sfx_assert_content(s, data, 4096);
    /* it is a section in RAM like any other: it grows there, and its next
     * spill writes the truncated bytes (the old file was longer) */
    assert_int_equal(mgov_section_append(s, data + 4096, 100), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    s = sfx_open(f, "t", NULL);
    sfx_assert_content(s, data, 4196);
    assert_int_equal(mgov_section_close(s), MGOV_OK);

    /* resize down to within the cap */
    s = over_cap(f, "r", data, 8192, 20000);
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_resize(s, 5000), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(mgov_used(f->gov), 8192); /* whole pages */
    assert_int_equal(reloaded_bytes(f), 5000);
    sfx_assert_content(s, data, 5000);
    /* a resize down that stays over the cap stays on disk */
    assert_int_equal(mgov_section_append(s, data + 5000, 15000), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_resize(s, 9000), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_used(f->gov), 0);
    sfx_assert_content(s, data, 9000);
    assert_int_equal(mgov_section_close(s), MGOV_OK);

    /* spilled within the cap: resize up, write at an offset and append
     * each come back to RAM with all the bytes */
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.max_ram = 8192;
    s = sfx_open(f, "w", &c);
    assert_int_equal(mgov_section_append(s, data, 3000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_resize(s, 6000), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(reloaded_bytes(f), 3000);
    uint8_t *expect = calloc(1, 8192);
    memcpy(expect, data, 3000);
    sfx_assert_content(s, expect, 6000);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_write(s, 10, "abc", 3), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(reloaded_bytes(f), 6000);
    memcpy(expect + 10, "abc", 3);
    sfx_assert_content(s, expect, 6000);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_append(s, "xyz", 3), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    memcpy(expect + 6000, "xyz", 3);
    sfx_assert_content(s, expect, 6003);
    assert_int_equal(mgov_used(f->gov), 8192);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    free(expect);

    /* a truncate to 4 KiB of a large file reads 4 KiB, not the file */
    s = over_cap(f, "big", data, GH_MiB, big);
    uint64_t before = rchar();
    assert_int_equal(mgov_section_truncate(s, 4096), MGOV_OK);
    uint64_t read = rchar() - before;
    assert_true(read < 64 * GH_KiB);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(mgov_used(f->gov), 4096);
    sfx_assert_content(s, data, 4096);
    assert_int_equal(mgov_section_close(s), MGOV_OK);

    /* no room in the budget without reclaim: the truncate is done on disk */
    s = over_cap(f, "full", data, 8192, 12288);
    mgov_grant_t g;
    assert_int_equal(mgov_try_reserve(f->gov, 2, mgov_budget(f->gov) * 95 / 100, MGOV_URGENT, &g),
                     MGOV_OK);
    uint64_t used = mgov_used(f->gov);
    uint64_t gen = sfx_generation(f, "full");
    assert_int_equal(mgov_section_truncate(s, 4096), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_true(sfx_generation(f, "full") > gen);
    assert_int_equal(mgov_used(f->gov), used);
    mgov_grant_release(&g);
    sfx_assert_content(s, data, 4096);
    assert_int_equal(mgov_section_close(s), MGOV_OK);

    /* after a restart a file's data is unchecked: it is checked whole
     * before any of it comes back, so damage past the kept bytes is found */
    s = over_cap(f, "old", data, 8192, 3 * 8192);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_remove(f->gov, "t"), MGOV_OK);
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    f->gov = NULL;
    sfx_gov_make(f, 64 * GH_MiB, 0);
    c.max_ram = 8192;
    s = sfx_open(f, "old", &c);
    assert_int_equal(mgov_section_truncate(s, 4096), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    sfx_assert_content(s, data, 4096);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    s = over_cap(f, "bad", data, 8192, 3 * 8192);
    gen = sfx_generation(f, "bad");
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    f->gov = NULL;
    sfx_damage(f, "bad", gen, 5 * 4096);
    sfx_gov_make(f, 64 * GH_MiB, 0);
    s = sfx_open(f, "bad", &c);
    assert_int_equal(mgov_section_truncate(s, 4096), MGOV_ECORRUPT);
    assert_int_equal(mgov_section_length(s), 3 * 8192);
    assert_int_equal(mgov_used(f->gov), 0);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    free(data);
}

/* A write on disk failing anywhere leaves the old generation in force. */
static void test_disk_write_failures(void **state)
{
    sfx_t *f = *state;
    static const mgov_fault_kind_t kinds[] = { MGOV_FAULT_WRITE, MGOV_FAULT_FSYNC,
                                               MGOV_FAULT_RENAME, MGOV_FAULT_OPEN,
                                               MGOV_FAULT_MMAP, MGOV_FAULT_ALLOC,
                                               MGOV_FAULT_READ };
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.override = MGOV_SECTION_FORCE_DISK;
    uint8_t data[30000];
    sh_fill(data, sizeof data, 12, false);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        mgov_section_t *s = sfx_open(f, "dw", &c);
        assert_int_equal(mgov_section_append(s, data, 20000), MGOV_OK);
        assert_int_equal(mgov_section_close(s), MGOV_OK); /* unmapped: the next write maps */
        s = sfx_open(f, "dw", &c);
        char before[4096], after[4096];
        sfx_snapshot(f, before, sizeof before);
        uint64_t disk = sfx_spill_bytes(f);
        long n;
        for (n = 0; n < 50; n++) {
            sfx_arm(kinds[k], n, 0);
            int rc = mgov_section_append(s, data + 20000, 10000);
            mgov__fault_disarm_all();
            if (rc == MGOV_OK)
                break;
            assert_true(rc == MGOV_EIO || rc == MGOV_ENOMEM);
            assert_int_equal(sfx_spill_bytes(f), disk);
            sfx_snapshot(f, after, sizeof after);
            assert_string_equal(after, before);
            sfx_assert_content(s, data, 20000);
        }
        sfx_assert_content(s, data, 30000);
        assert_int_equal(mgov_section_close(s), MGOV_OK);
        assert_int_equal(mgov_section_remove(f->gov, "dw"), MGOV_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_model, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_write_spilled, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_write_back_under_cap, sfx_setup, sfx_teardown),
        cmocka_unit_test_setup_teardown(test_disk_write_failures, sfx_setup, sfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
