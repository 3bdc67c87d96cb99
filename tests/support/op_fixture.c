/* op_fixture.c - the operator tests' fixture (see op_fixture.h). */
#include "op_fixture.h"

#include <dirent.h>
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

void of_close(of_env_t *e)
{
    assert_int_equal(mgov_used(e->gov), 0);
    assert_int_equal(of_spill_files(e->gov), 0);
    assert_int_equal(mgov_destroy(e->gov), MGOV_OK);
    e->gov = NULL;
    assert_int_equal(rmdir(e->dir), 0); /* the private spill dir went with the governor */
    unsetenv("TMPDIR");
}
