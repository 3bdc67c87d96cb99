/* tests/tier/test_section.c - sections within one governor: round trips
 * through every tier, writes in RAM and on disk against a model, writes
 * to a spilled section (reloaded first, or on disk without room), names,
 * pinned views blocking moves, overrides, max_ram, pressure-driven spills,
 * reload_eligible's order and stopping point, events, and every injected
 * I/O and allocation failure of a spill, a disk write and a reload leaving
 * the section intact and nothing behind.
 *
 * Each test gets a scratch TMPDIR and a governor whose spill directory is
 * the persistent "<scratch>/spill" (so the tests can look at and damage its
 * files); restarts and crashes are in test_section_persist.c.
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

#include "gov_helpers.h"
#include "memgov/section.h"
#include "spill_helpers.h"
#include "sys/fault.h"

typedef struct fx {
    sh_scratch_t scratch;
    char dir[4096];
    gh_evlog_t *log;
    mgov_t *gov;
} fx_t;

static void gov_make(fx_t *f, uint64_t budget, uint64_t quota)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = budget;
    cfg.spill_dir = f->dir;
    cfg.spill_quota = quota;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = f->log;
    assert_int_equal(mgov_create(&cfg, &f->gov), MGOV_OK);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    sh_scratch_init(&f->scratch);
    snprintf(f->dir, sizeof f->dir, "%s/spill", f->scratch.ft.root);
    f->log = gh_evlog_new();
    gov_make(f, 64 * GH_MiB, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    mgov__fault_disarm_all();
    if (f->gov) {
        /* a persistent directory keeps its files: drop them */
        char list[8192];
        sh_list(f->dir, list, sizeof list);
        for (char *p = strtok(list, ","); p; p = strtok(NULL, ",")) {
            if (strncmp(p, "sec-", 4) == 0) {
                char name[MGOV_NAME_MAX + 1];
                snprintf(name, sizeof name, "%s", p + 21);
                mgov_section_remove(f->gov, name);
            }
        }
        assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", f->dir, "sections.manifest");
    unlink(path);
    rmdir(f->dir);
    gh_evlog_free(f->log);
    sh_scratch_fini(&f->scratch);
    free(f);
    return 0;
}

static mgov_section_t *open_cfg(fx_t *f, const char *name, const mgov_section_config_t *cfg)
{
    mgov_section_t *s = NULL;
    assert_int_equal(mgov_section_open(f->gov, name, cfg, &s), MGOV_OK);
    return s;
}

/* The section's bytes equal expect[0..n). */
static void assert_content(mgov_section_t *s, const void *expect, size_t n)
{
    mgov_section_view_t v;
    assert_int_equal(mgov_section_pin(s, &v), MGOV_OK);
    assert_int_equal(v.len, n);
    if (n)
        assert_memory_equal(v.data, expect, n);
    else
        assert_null(v.data);
    mgov_section_unpin(s, &v);
    assert_int_equal(mgov_section_length(s), n);
}

static uint64_t spill_bytes(fx_t *f)
{
    mgov_stats_t st;
    assert_int_equal(mgov_stats(f->gov, &st), MGOV_OK);
    return st.spill_bytes;
}

static int n_files(fx_t *f)
{
    return sh_count_entries(f->dir);
}

/* ------------------------------------------------------------ round trips */

static void test_round_trips(void **state)
{
    fx_t *f = *state;
    static const size_t sizes[] = { 0, 1, 7, 100, 4095, 4096, 4097, 65536 + 3, (1u << 20) + 11,
                                    3 * 4096 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        uint8_t *data = malloc(n + 1);
        sh_fill(data, n, 1000 + i, false);
        char name[32];
        snprintf(name, sizeof name, "rt%zu", n);
        mgov_section_t *s = open_cfg(f, name, NULL);
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
        assert_content(s, data, n);
        if (!n) /* an empty section becomes data by a resize to 0 */
            assert_int_equal(mgov_section_resize(s, 0), MGOV_OK);
        uint64_t used_before = mgov_used(f->gov);
        assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
        if (n) {
            assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
            assert_true(mgov_used(f->gov) < used_before);
        }
        assert_content(s, data, n);
        assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
        assert_int_equal(mgov_section_tier(s), n ? MGOV_TIER_IN_MEMORY : MGOV_TIER_UNINITIALIZED);
        assert_content(s, data, n);
        /* clean: spilling again writes nothing new */
        uint64_t disk = spill_bytes(f);
        assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
        assert_int_equal(spill_bytes(f), disk);
        assert_content(s, data, n);
        assert_int_equal(mgov_section_close(s), MGOV_OK);
        /* reopened in the same governor: found on disk */
        if (n) {
            s = open_cfg(f, name, NULL);
            assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
            assert_content(s, data, n);
            assert_int_equal(mgov_section_close(s), MGOV_OK);
        }
        free(data);
    }
    assert_int_equal(mgov_used(f->gov), 0);
}

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

static void run_model(fx_t *f, const char *name, const mgov_section_config_t *cfg, int ops,
                      uint64_t seed)
{
    mgov_section_t *s = open_cfg(f, name, cfg);
    model_t m = { 0 };
    uint8_t *scratch = malloc(9000);
    uint64_t rng = seed;
    unsigned disk = 0, ram = 0;
    for (int i = 0; i < ops; i++) {
        int rc = random_op(s, &m, &rng, scratch);
        assert_true(rc == MGOV_OK || rc == MGOV_ENOTSUP);
        assert_content(s, m.b, m.len);
        if (mgov_section_tier(s) == MGOV_TIER_ON_DISK)
            disk++;
        else
            ram++;
    }
    if (!cfg || cfg->tier == MGOV_SECTION_AUTO)
        assert_true(disk > 0 && ram > 0); /* both paths were walked */
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    free(scratch);
    free(m.b);
}

static void test_writes_model(void **state)
{
    fx_t *f = *state;
    run_model(f, "model", NULL, 400, 42);
    mgov_section_config_t cap = MGOV_SECTION_CONFIG_INIT;
    cap.max_ram = 12000;
    run_model(f, "capped", &cap, 300, 7);
    mgov_section_config_t fd = MGOV_SECTION_CONFIG_INIT;
    fd.tier = MGOV_SECTION_FORCE_DISK;
    run_model(f, "forced", &fd, 120, 9);
    assert_int_equal(mgov_used(f->gov), 0);
}

static void test_write_errors(void **state)
{
    fx_t *f = *state;
    mgov_section_t *s = open_cfg(f, "w", NULL);
    assert_int_equal(mgov_section_append(s, "abc", 3), MGOV_OK);
    assert_int_equal(mgov_section_write(s, 4, "x", 1), MGOV_EINVAL); /* past the end */
    assert_int_equal(mgov_section_write(s, 3, "de", 2), MGOV_OK);    /* at the end: appends */
    assert_int_equal(mgov_section_truncate(s, 6), MGOV_EINVAL);
    assert_int_equal(mgov_section_append(s, NULL, 1), MGOV_EINVAL);
    assert_int_equal(mgov_section_append(s, NULL, 0), MGOV_OK);
    assert_int_equal(mgov_section_resize(s, UINT64_MAX), MGOV_EINVAL);
    assert_int_equal(mgov_section_write(s, 1, "x", SIZE_MAX), MGOV_EINVAL);
    assert_content(s, "abcde", 5);
    /* a shrink then a grow reads zeros, in RAM and on disk */
    assert_int_equal(mgov_section_truncate(s, 2), MGOV_OK);
    assert_int_equal(mgov_section_resize(s, 4), MGOV_OK);
    assert_content(s, "ab\0\0", 4);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    mgov_section_config_t fd = MGOV_SECTION_CONFIG_INIT;
    fd.tier = MGOV_SECTION_FORCE_DISK;
    s = open_cfg(f, "wd", &fd);
    assert_int_equal(mgov_section_append(s, "abcd", 4), MGOV_OK);
    assert_int_equal(mgov_section_truncate(s, 1), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK); /* written on disk */
    assert_int_equal(mgov_section_resize(s, 3), MGOV_OK);
    assert_content(s, "a\0\0", 3);
    assert_int_equal(mgov_section_write(s, 4, "x", 1), MGOV_EINVAL);
    assert_int_equal(mgov_section_truncate(s, 4), MGOV_EINVAL);
    assert_content(s, "a\0\0", 3);
    assert_int_equal(mgov_section_append(NULL, "a", 1), MGOV_EINVAL);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_close(NULL), MGOV_EINVAL);
    assert_int_equal(mgov_section_spill(NULL, 0), MGOV_EINVAL);
    assert_int_equal(mgov_section_reload(NULL, 0), MGOV_EINVAL);
    assert_int_equal(mgov_section_pin(NULL, NULL), MGOV_EINVAL);
    mgov_section_unpin(NULL, NULL);
}

typedef struct gen_arg {
    const char *name;
    uint64_t gen;
} gen_arg_t;

static void gen_fn(void *arg, const mgov_section_info_t *in)
{
    gen_arg_t *a = arg;
    if (strcmp(in->name, a->name) == 0)
        a->gen = in->generation;
}

/* The generation of the file of section `name`, from the listing. */
static uint64_t generation_of(fx_t *f, const char *name)
{
    gen_arg_t a = { name, 0 };
    assert_int_equal(mgov_section_foreach(f->gov, gen_fn, &a), MGOV_OK);
    return a.gen;
}

/* Flips one data byte of section `name`'s file. */
static void damage_data(fx_t *f, const char *name, uint64_t gen, uint64_t off)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sec-%016llx-%s", f->dir, (unsigned long long)gen, name);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 4096 + (off_t)off), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, 4096 + (off_t)off), 1);
    close(fd);
}

/* A write to an Auto section on disk brings it back to RAM first when its
 * bytes fit without reclaim; otherwise it is a new generation on disk; a
 * damaged file is the write's error; a failed reload is not a write. */
static void test_write_spilled(void **state)
{
    fx_t *f = *state;
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
    mgov_section_t *s = open_cfg(f, "ws", NULL);
    assert_int_equal(mgov_section_append(s, data, n), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    uint64_t gen = generation_of(f, "ws");

    /* room in the budget: reloaded (an event), then written in RAM */
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_append(s, data + n, 5), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOADED), 1);
    assert_int_equal(generation_of(f, "ws"), gen); /* the file is untouched */
    assert_content(s, data, n + 5);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    gen = generation_of(f, "ws");

    /* no room without reclaim: a new generation on disk, no one reclaimed */
    mgov_section_t *other = open_cfg(f, "other", NULL);
    assert_int_equal(mgov_section_append(other, data, GH_MiB), MGOV_OK);
    mgov_grant_t g;
    uint64_t room = mgov_budget(f->gov) * 95 / 100 - mgov_used(f->gov);
    assert_int_equal(mgov_try_reserve(f->gov, 2, room, 0, &g), MGOV_OK);
    assert_int_equal(mgov_pressure(f->gov), MGOV_PRESSURE_NORMAL);
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_section_append(s, data + n + 5, 5), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_true(generation_of(f, "ws") > gen);
    assert_int_equal(mgov_section_tier(other), MGOV_TIER_IN_MEMORY);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOADED), 0);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_SPILLED), 0);
    assert_content(s, data, n + 10);
    /* nor when the mapping for the reload fails */
    mgov_grant_release(&g);
    gen = generation_of(f, "ws");
    mgov__fault_arm_errno(MGOV_FAULT_MMAP, 0, 1, 0);
    assert_int_equal(mgov_section_truncate(s, n), MGOV_OK);
    mgov__fault_disarm_all();
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_true(generation_of(f, "ws") > gen);
    assert_content(s, data, n);

    /* a read error in the reload fails the write and changes nothing */
    assert_int_equal(mgov_section_close(s), MGOV_OK); /* unmapped */
    s = open_cfg(f, "ws", NULL);
    gen = generation_of(f, "ws");
    uint64_t used = mgov_used(f->gov);
    mgov__fault_arm_errno(MGOV_FAULT_READ, 0, 1, 0);
    assert_int_equal(mgov_section_write(s, 0, "xy", 2), MGOV_EIO);
    mgov__fault_disarm_all();
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(generation_of(f, "ws"), gen);
    assert_int_equal(mgov_used(f->gov), used);
    assert_content(s, data, n);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_close(other), MGOV_OK);

    /* data damaged on disk, found by the write's reload after a restart */
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    f->gov = NULL;
    damage_data(f, "ws", gen, 12345);
    gov_make(f, 64 * GH_MiB, 0);
    s = open_cfg(f, "ws", NULL);
    assert_int_equal(mgov_section_append(s, "x", 1), MGOV_ECORRUPT);
    assert_int_equal(mgov_section_length(s), n);
    mgov_section_view_t v;
    assert_int_equal(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    assert_int_equal(mgov_used(f->gov), 0);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_remove(f->gov, "ws"), MGOV_OK);
    free(data);
}

/* ------------------------------------------------------------------ names */

static void test_names(void **state)
{
    fx_t *f = *state;
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
    c.tier = (mgov_section_override_t)7;
    assert_int_equal(mgov_section_open(f->gov, "x", &c, &s), MGOV_EINVAL);
    c.tier = MGOV_SECTION_AUTO;
    c.region = 99;
    assert_int_equal(mgov_section_open(f->gov, "x", &c, &s), MGOV_EINVAL);

    const char *good[] = { longest, "with space", "a.b", "x-1_2", "~!@#$%^&*()" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        s = open_cfg(f, good[i], NULL);
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
    assert_int_equal(n_files(f), 2); /* the lock and the manifest, listing nothing */
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
    fx_t *f = *state;
    mgov_section_t *s = open_cfg(f, "pinned", NULL);
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
    assert_content(s, data, sizeof data);
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
    fx_t *f = *state;
    mgov_section_t *s = open_cfg(f, "busy", NULL);
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
    uint64_t disk = spill_bytes(f);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_int_equal(spill_bytes(f), disk);
    assert_content(s, data, 4 * GH_MiB);

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
    assert_content(s, data, 4 * GH_MiB);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    sem_destroy(&p.paused);
    sem_destroy(&p.go);
    free(data);
}

/* A section with pin_wait_ns set waits for views when the governor asks. */
static void test_pin_wait_config(void **state)
{
    fx_t *f = *state;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.pin_wait_ns = 30 * 1000 * 1000;
    mgov_section_t *s = open_cfg(f, "patient", &c);
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
    fx_t *f = *state;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.tier = MGOV_SECTION_FORCE_DISK;
    mgov_section_t *s = open_cfg(f, "cold", &c);
    gh_event_t e;
    assert_true(gh_evlog_named(f->log, MGOV_EV_OVERRIDE, "cold", 0, &e));
    assert_int_equal(e.ev.count, MGOV_SECTION_FORCE_DISK);
    uint8_t data[5000];
    sh_fill(data, sizeof data, 5, false);
    assert_int_equal(mgov_section_append(s, data, sizeof data), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_used(f->gov), 0);
    assert_content(s, data, sizeof data);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_ENOTSUP);
    assert_int_equal(mgov_reload_eligible(f->gov, 1.0), 0);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_RELOAD_FAILED), 0);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    /* reopened with ForceDisk: the copy stays on disk; with Auto it can come back */
    s = open_cfg(f, "cold", &c);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    s = open_cfg(f, "cold", NULL);
    assert_int_equal(mgov_reload_eligible(f->gov, 1.0), 1);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_content(s, data, sizeof data);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
}

static void test_force_ram(void **state)
{
    fx_t *f = *state;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.tier = MGOV_SECTION_FORCE_RAM;
    c.priority = 1; /* the first victim, were it one */
    mgov_section_t *s = open_cfg(f, "hot", &c);
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
    assert_content(s, data, GH_MiB);
    mgov_grant_release(&g);
    free(big);
    /* spilled earlier under Auto, reopened ForceRam: loaded at open */
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    s = open_cfg(f, "hot", NULL);
    assert_int_equal(mgov_section_append(s, data, GH_MiB), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    s = open_cfg(f, "hot", &c);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_content(s, data, GH_MiB);
    /* a ForceRam section over its cap refuses to grow */
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    c.max_ram = GH_MiB + 10;
    s = open_cfg(f, "hot", &c);
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
    s = open_cfg(f, "hot", NULL);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    free(data);
}

static void test_max_ram(void **state)
{
    fx_t *f = *state;
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.max_ram = 64 * GH_KiB;
    mgov_section_t *s = open_cfg(f, "capped", &c);
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
    assert_content(s, data, 164 * GH_KiB + 1);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_ENOTSUP);
    assert_int_equal(mgov_reload_eligible(f->gov, 1.0), 0);
    /* back under the cap it may come back */
    assert_int_equal(mgov_section_truncate(s, 10 * GH_KiB), MGOV_OK);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    assert_content(s, data, 10 * GH_KiB);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    free(data);
}

/* --------------------------------------------------- the governor's moves */

static void test_pressure_spills(void **state)
{
    fx_t *f = *state; /* budget 64 MiB: high at 85% */
    mgov_section_config_t low = MGOV_SECTION_CONFIG_INIT, high = MGOV_SECTION_CONFIG_INIT;
    low.priority = MGOV_PRIORITY_QUERY_CACHE;
    high.priority = MGOV_PRIORITY_ACTIVE_TRANSACTION;
    mgov_section_t *a = open_cfg(f, "cache", &low), *b = open_cfg(f, "txn", &high);
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
    assert_content(a, data, 16 * GH_MiB);
    assert_content(b, data, 16 * GH_MiB);
    /* reads of the spilled one cost no budget */
    assert_int_equal(mgov_used(f->gov), 30 * GH_MiB + 16 * GH_MiB);
    mgov_grant_release(&g);
    assert_int_equal(mgov_reload_eligible(f->gov, 0.7), 1);
    assert_int_equal(mgov_section_tier(a), MGOV_TIER_IN_MEMORY);
    assert_content(a, data, 16 * GH_MiB);
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
    fx_t *f = *state;
    const char *names[] = { "p30", "p100", "p50", "p200" };
    unsigned prio[] = { 30, 100, 50, 200 };
    mgov_section_t *s[4];
    uint8_t *data = malloc(4 * GH_MiB);
    sh_fill(data, 4 * GH_MiB, 10, false);
    for (int i = 0; i < 4; i++) {
        mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
        c.priority = prio[i];
        s[i] = open_cfg(f, names[i], &c);
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
    x = open_cfg(f, "p200", NULL);
    assert_int_equal(mgov_section_tier(x), MGOV_TIER_UNINITIALIZED);
    assert_int_equal(mgov_section_close(x), MGOV_OK);
    free(data);
}

static void test_events_and_stats(void **state)
{
    fx_t *f = *state;
    mgov_section_t *s = open_cfg(f, "ev", NULL);
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

/* Arms `kind` to fail its n-th call (0-based) from now on, with err. */
static void arm(mgov_fault_kind_t kind, long n, int err)
{
    mgov__fault_disarm_all();
    mgov__fault_arm_errno(kind, n, 1, err);
}

/* The files of the spill directory, sorted, as a string. */
static void snapshot(fx_t *f, char *buf, size_t cap)
{
    sh_list(f->dir, buf, cap);
}

/* A spill failing at its n-th `kind` call leaves RAM intact and no trace. */
static void spill_faults(fx_t *f, mgov_fault_kind_t kind, int err, int expect)
{
    mgov_section_t *s = open_cfg(f, "faulty", NULL);
    uint8_t *data = malloc(20 * GH_MiB);
    sh_fill(data, 20 * GH_MiB, 11, false);
    assert_int_equal(mgov_section_append(s, data, 20 * GH_MiB), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK); /* a previous generation */
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_write(s, 5, "new", 3), MGOV_OK);
    memcpy(data + 5, "new", 3);
    char before[4096], after[4096];
    snapshot(f, before, sizeof before);
    uint64_t used = mgov_used(f->gov), disk = spill_bytes(f);
    long n;
    for (n = 0; n < 100; n++) {
        arm(kind, n, err);
        int rc = mgov_section_spill(s, 0);
        mgov__fault_disarm_all();
        if (rc == MGOV_OK)
            break;
        assert_int_equal(rc, expect);
        assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
        assert_int_equal(mgov_used(f->gov), used);
        assert_int_equal(spill_bytes(f), disk);
        snapshot(f, after, sizeof after);
        assert_string_equal(after, before);
        assert_content(s, data, 20 * GH_MiB);
    }
    assert_true(n > 0 || kind == MGOV_FAULT_MMAP); /* the spill itself maps nothing */
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
    assert_content(s, data, 20 * GH_MiB);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    /* what was spilled last is what a reopen finds */
    s = open_cfg(f, "faulty", NULL);
    assert_content(s, data, 20 * GH_MiB);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    assert_int_equal(mgov_section_remove(f->gov, "faulty"), MGOV_OK);
    free(data);
}

static void test_spill_io_failures(void **state)
{
    fx_t *f = *state;
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

/* A write on disk failing anywhere leaves the old generation in force. */
static void test_disk_write_failures(void **state)
{
    fx_t *f = *state;
    static const mgov_fault_kind_t kinds[] = { MGOV_FAULT_WRITE, MGOV_FAULT_FSYNC,
                                               MGOV_FAULT_RENAME, MGOV_FAULT_OPEN,
                                               MGOV_FAULT_MMAP, MGOV_FAULT_ALLOC,
                                               MGOV_FAULT_READ };
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.tier = MGOV_SECTION_FORCE_DISK;
    uint8_t data[30000];
    sh_fill(data, sizeof data, 12, false);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        mgov_section_t *s = open_cfg(f, "dw", &c);
        assert_int_equal(mgov_section_append(s, data, 20000), MGOV_OK);
        assert_int_equal(mgov_section_close(s), MGOV_OK); /* unmapped: the next write maps */
        s = open_cfg(f, "dw", &c);
        char before[4096], after[4096];
        snapshot(f, before, sizeof before);
        uint64_t disk = spill_bytes(f);
        long n;
        for (n = 0; n < 50; n++) {
            arm(kinds[k], n, 0);
            int rc = mgov_section_append(s, data + 20000, 10000);
            mgov__fault_disarm_all();
            if (rc == MGOV_OK)
                break;
            assert_true(rc == MGOV_EIO || rc == MGOV_ENOMEM);
            assert_int_equal(spill_bytes(f), disk);
            snapshot(f, after, sizeof after);
            assert_string_equal(after, before);
            assert_content(s, data, 20000);
        }
        assert_content(s, data, 30000);
        assert_int_equal(mgov_section_close(s), MGOV_OK);
        assert_int_equal(mgov_section_remove(f->gov, "dw"), MGOV_OK);
    }
}

static void test_reload_and_pin_failures(void **state)
{
    fx_t *f = *state;
    mgov_section_t *s = open_cfg(f, "rl", NULL);
    uint8_t data[50000];
    sh_fill(data, sizeof data, 13, false);
    assert_int_equal(mgov_section_append(s, data, sizeof data), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    static const mgov_fault_kind_t kinds[] = { MGOV_FAULT_READ, MGOV_FAULT_OPEN, MGOV_FAULT_MMAP };
    for (size_t k = 0; k < 3; k++) {
        arm(kinds[k], 0, 0);
        int rc = mgov_section_reload(s, 0);
        mgov__fault_disarm_all();
        assert_true(rc == MGOV_EIO || rc == MGOV_ENOMEM);
        assert_int_equal(mgov_section_tier(s), MGOV_TIER_ON_DISK);
        assert_int_equal(mgov_used(f->gov), 0);
        assert_int_equal(mgov_section_close(s), MGOV_OK); /* unmapped: the pin maps */
        s = open_cfg(f, "rl", NULL);
        arm(kinds[k], 0, 0);
        mgov_section_view_t v;
        rc = mgov_section_pin(s, &v);
        mgov__fault_disarm_all();
        assert_true(rc == MGOV_EIO || rc == MGOV_ENOMEM);
        assert_content(s, data, sizeof data);
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
    assert_content(s, data, sizeof data);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
    /* every allocation failing in turn at open */
    for (long n = 0; n < 20; n++) {
        mgov_section_t *x = NULL;
        arm(MGOV_FAULT_ALLOC, n, 0);
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
    fx_t *f = *state;
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    gov_make(f, 64 * GH_MiB, 64 * GH_KiB);
    mgov_section_t *s = open_cfg(f, "q", NULL);
    uint8_t data[100000];
    sh_fill(data, sizeof data, 14, false);
    assert_int_equal(mgov_section_append(s, data, 50000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
    assert_int_equal(mgov_section_append(s, data + 50000, 50000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_ENOSPC);
    assert_int_equal(mgov_section_tier(s), MGOV_TIER_IN_MEMORY);
    assert_content(s, data, 100000);
    /* a spill needs room for the new generation beside the old one */
    assert_int_equal(mgov_section_truncate(s, 12000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_ENOSPC);
    assert_int_equal(mgov_section_truncate(s, 5000), MGOV_OK);
    assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    assert_content(s, data, 5000);
    names_t all = { "" };
    assert_int_equal(mgov_section_foreach(f->gov, list_fn, &all), MGOV_OK); /* reaped by now */
    assert_int_equal(spill_bytes(f), 4096 + 5000);
    /* generation after generation with room for two: the superseded one is
     * with the reaper, and a spill that finds the quota full waits for it */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mgov_section_reload(s, 0), MGOV_OK);
        assert_int_equal(mgov_section_write(s, 0, &i, sizeof i), MGOV_OK);
        assert_int_equal(mgov_section_resize(s, 25000), MGOV_OK);
        assert_int_equal(mgov_section_spill(s, 0), MGOV_OK);
    }
    assert_int_equal(mgov_section_foreach(f->gov, list_fn, &all), MGOV_OK);
    assert_int_equal(spill_bytes(f), 4096 + 25000);
    assert_int_equal(mgov_section_close(s), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_spilled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pins_block_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_wait_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pins_during_spill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_force_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_force_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pressure_spills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_eligible_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_and_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spill_io_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_write_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_and_pin_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
