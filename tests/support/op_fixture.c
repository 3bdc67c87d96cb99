/* op_fixture.c - the operator tests' fixture (see op_fixture.h). */
#include "op_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "memgov/spill.h"
#include "sys/fault.h"

#define OF_BUDGET ((uint64_t)1 << 20) /* the failure cases': small enough to spill */

void of_open(of_env_t *e, const char *name, uint64_t budget, uint64_t quota)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/mgov-test-%s-%d-XXXXXX", name, (int)getpid());
    assert_non_null(mkdtemp(e->dir));
    setenv("TMPDIR", e->dir, 1);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = budget;
    cfg.spill_quota = quota;
    assert_int_equal(mgov_create(&cfg, &e->gov), MGOV_OK);
}

unsigned of_spill_files(mgov_t *gov)
{
    mgov_spill_dir_t *d;
    assert_int_equal(mgov_spill_dir_get(gov, &d), MGOV_OK);
    DIR *dir = opendir(mgov_spill_dir_path(d));
    assert_non_null(dir);
    unsigned n = 0;
    struct dirent *de;
    while ((de = readdir(dir)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            strcmp(de->d_name, "memgov.lock"))
            n++;
    closedir(dir);
    return n;
}

unsigned of_spill_paths(mgov_t *gov, char paths[][512], unsigned max)
{
    mgov_spill_dir_t *d;
    assert_int_equal(mgov_spill_dir_get(gov, &d), MGOV_OK);
    DIR *dir = opendir(mgov_spill_dir_path(d));
    assert_non_null(dir);
    unsigned n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < max)
        if (strncmp(de->d_name, "spill-", 6) == 0)
            snprintf(paths[n++], 512, "%s/%s", mgov_spill_dir_path(d), de->d_name);
    closedir(dir);
    return n;
}

void of_damage(const char *path, of_damage_t how)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    if (how == OF_FLIP) {
        unsigned char b;
        off_t at = sb.st_size / 2;
        assert_int_equal(pread(fd, &b, 1, at), 1);
        b ^= 0x20;
        assert_int_equal(pwrite(fd, &b, 1, at), 1);
    } else {
        assert_int_equal(ftruncate(fd, sb.st_size > 100 ? sb.st_size - 100 : 0), 0);
    }
    close(fd);
}

/* Damages every spill file of the governor, at least min of them. */
static void damage_spills(mgov_t *gov, of_damage_t how, unsigned min)
{
    char paths[64][512];
    unsigned n = of_spill_paths(gov, paths, 64);

    assert_true(n >= min);
    for (unsigned i = 0; i < n; i++)
        of_damage(paths[i], how);
}

void of_quota_test(void **state)
{
    const of_failures_t *f = *state;
    of_env_t e;

    OF_SINGLE_THREADED_CASE();
    of_open(&e, f->name, OF_BUDGET, OF_BUDGET / 4);
    assert_int_equal(f->run(e.gov, f->quota_rows), MGOV_ENOSPC);
    of_close(&e);
}

void of_damaged_test(void **state)
{
    const of_failures_t *f = *state;

    OF_SINGLE_THREADED_CASE();
    for (of_damage_t how = OF_FLIP; how <= OF_TRUNCATE; how++) {
        of_env_t e;
        of_open(&e, f->name, OF_BUDGET, 0);
        void *op = f->damaged.start(e.gov);
        damage_spills(e.gov, how, f->damaged_files);
        int rc;
        while ((rc = f->damaged.next(op)) == 1)
            ;
        assert_int_equal(rc, MGOV_ECORRUPT);
        assert_int_equal(f->damaged.next(op), MGOV_ECORRUPT);
        f->damaged.end(op);
        of_close(&e);
    }
}

void of_faults_test(void **state)
{
    static const struct {
        mgov_fault_kind_t kind;
        int err;
    } kinds[] = { { MGOV_FAULT_ALLOC, 0 }, { MGOV_FAULT_MMAP, 0 }, { MGOV_FAULT_WRITE, 0 },
                  { MGOV_FAULT_WRITE, ENOSPC }, { MGOV_FAULT_READ, 0 } };
    const of_failures_t *f = *state;

    OF_SINGLE_THREADED_CASE();
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        long n;
        for (n = 0; n < 400; n++) {
            of_env_t e;
            of_open(&e, f->name, OF_BUDGET, 0);
            mgov__fault_arm_errno(kinds[k].kind, n, 1, kinds[k].err);
            int rc = f->run(e.gov, f->fault_rows);
            long hits = mgov__fault_hits(kinds[k].kind);
            mgov__fault_disarm_all();
            of_close(&e);
            if (hits == 0) {
                assert_int_equal(rc, MGOV_OK);
                break;
            }
            if (!(rc == MGOV_OK || rc == MGOV_ENOMEM || rc == MGOV_EIO || rc == MGOV_ENOSPC))
                fail_msg("fault %zu at call %ld: %d %s", k, n, rc, mgov_strerror(rc));
            if (n > f->dense)
                n += f->skip;
        }
        assert_true(n < 400);
        assert_true(n > 0 || kinds[k].kind == MGOV_FAULT_MMAP); /* the calls were there */
    }
}

void of_fail(of_env_t *e, const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    mgov_destroy(e->gov);
    e->gov = NULL;
    rmdir(e->dir);
    unsetenv("TMPDIR");
    fail_msg("%s", why);
}

void of_close(of_env_t *e)
{
    assert_int_equal(mgov_used(e->gov), 0);
    assert_int_equal(of_spill_files(e->gov), 0);
    assert_int_equal(mgov_destroy(e->gov), MGOV_OK);
    e->gov = NULL;
    assert_int_equal(rmdir(e->dir), 0); /* the private spill dir went with the governor */
    unsetenv("TMPDIR");
}
