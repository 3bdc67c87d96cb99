/* section_fx.c - the section tests' fixture and shared checks (see
 * section_fx.h).
 */
#include "section_fx.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

void sfx_gov_make(sfx_t *f, uint64_t budget, uint64_t quota)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = budget;
    cfg.spill_dir = f->dir;
    cfg.spill_quota = quota;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = f->log;
    assert_int_equal(mgov_create(&cfg, &f->gov), MGOV_OK);
}

int sfx_setup(void **state)
{
    sfx_t *f = calloc(1, sizeof *f);
    sh_scratch_init(&f->scratch);
    int n = snprintf(f->dir, sizeof f->dir, "%s/spill", f->scratch.ft.root);
    assert_true(n > 0 && (size_t)n < sizeof f->dir); /* and gcc -O0 sees it checked */
    f->log = gh_evlog_new();
    sfx_gov_make(f, 64 * GH_MiB, 0);
    *state = f;
    return 0;
}

int sfx_teardown(void **state)
{
    sfx_t *f = *state;
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
    snprintf(path, sizeof path, "%s/%s", f->dir, "sec-manifest");
    unlink(path);
    rmdir(f->dir);
    gh_evlog_free(f->log);
    sh_scratch_fini(&f->scratch);
    free(f);
    return 0;
}

mgov_section_t *sfx_open(sfx_t *f, const char *name, const mgov_section_config_t *cfg)
{
    mgov_section_t *s = NULL;
    assert_int_equal(mgov_section_open(f->gov, name, cfg, &s), MGOV_OK);
    return s;
}

void sfx_assert_content(mgov_section_t *s, const void *expect, size_t n)
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

uint64_t sfx_spill_bytes(sfx_t *f)
{
    mgov_stats_t st;
    assert_int_equal(mgov_stats(f->gov, &st), MGOV_OK);
    return st.spill_bytes;
}

int sfx_files(sfx_t *f)
{
    return sh_count_entries(f->dir);
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

uint64_t sfx_generation(sfx_t *f, const char *name)
{
    gen_arg_t a = { name, 0 };
    assert_int_equal(mgov_section_foreach(f->gov, gen_fn, &a), MGOV_OK);
    return a.gen;
}

void sfx_damage(sfx_t *f, const char *name, uint64_t gen, uint64_t off)
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

void sfx_arm(mgov_fault_kind_t kind, long n, int err)
{
    mgov__fault_disarm_all();
    mgov__fault_arm_errno(kind, n, 1, err);
}

void sfx_snapshot(sfx_t *f, char *buf, size_t cap)
{
    sh_list(f->dir, buf, cap);
}
