/* spill_helpers.c - test helpers for the spill layer (see spill_helpers.h).
 *
 * No shared state except the environment (sh_scratch_*) and the file
 * fixture (sh_dir, sh_dir_path, its scratch tree); no locks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "spill_helpers.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "spill/spill_internal.h"
#include "sys/fault.h"

void sh_scratch_init(sh_scratch_t *s)
{
    assert_int_equal(faketree_create(&s->ft, "memgov-spill-test-"), 0);
    const char *old = getenv("TMPDIR");
    s->old_tmpdir = old ? strdup(old) : NULL;
    assert_int_equal(setenv("TMPDIR", s->ft.root, 1), 0);
}

void sh_scratch_fini(sh_scratch_t *s)
{
    int left = sh_count_entries(s->ft.root);
    char list[1024];
    if (left != 0)
        print_error("scratch directory not empty: %s\n", sh_list(s->ft.root, list, sizeof list));
    if (s->old_tmpdir)
        setenv("TMPDIR", s->old_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(s->old_tmpdir);
    s->old_tmpdir = NULL;
    assert_int_equal(faketree_destroy(&s->ft), 0);
    assert_int_equal(left, 0);
}

int sh_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *sh_list(const char *dir, char *buf, size_t cap)
{
    buf[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return buf;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? "," : "", names[i]);
        if (w > 0 && (size_t)w < cap - len)
            len += (size_t)w;
        free(names[i]);
    }
    return buf;
}

uint64_t sh_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

void sh_fill(void *p, size_t n, uint64_t seed, bool compressible)
{
    unsigned char *b = p;
    uint64_t st = seed * 0x9e3779b97f4a7c15ull + 1;
    size_t i = 0;
    if (!compressible) {
        for (; i + 8 <= n; i += 8) {
            uint64_t v = sh_rand(&st);
            memcpy(b + i, &v, 8);
        }
        for (; i < n; i++)
            b[i] = (unsigned char)sh_rand(&st);
        return;
    }
    while (i < n) {
        uint64_t v = sh_rand(&st);
        size_t run = 1 + (size_t)(v % 23);
        unsigned char c = (unsigned char)('a' + (v >> 8) % 6);
        for (size_t k = 0; k < run && i < n; k++)
            b[i++] = c;
    }
}

mgov_spill_file_t *sh_write_file(mgov_spill_dir_t *dir, const mgov_spill_options_t *opts,
                                 const void *data, size_t n, size_t chunk)
{
    mgov_spill_writer_t *w = NULL;
    assert_int_equal(mgov_spill_writer_create(dir, opts, &w), MGOV_OK);
    const unsigned char *p = data;
    size_t done = 0;
    while (done < n) {
        size_t take = chunk && chunk < n - done ? chunk : n - done;
        assert_int_equal(mgov_spill_write(w, p + done, take), MGOV_OK);
        done += take;
    }
    mgov_spill_file_t *f = NULL;
    assert_int_equal(mgov_spill_writer_finish(w, &f), MGOV_OK);
    assert_non_null(f);
    assert_int_equal(mgov_spill_file_raw_bytes(f), n);
    sh_check_dir(dir);
    return f;
}

int sh_read_back(mgov_spill_reader_t *r, const void *expect, size_t n, uint64_t seed,
                 size_t max_view)
{
    const unsigned char *e = expect;
    unsigned char *buf = malloc(n + 1);
    if (!buf)
        return MGOV_ENOMEM;
    uint64_t st = seed | 1;
    size_t pos = 0;
    int rc = MGOV_OK;
    while (pos < n && rc == MGOV_OK) {
        uint64_t v = sh_rand(&st);
        size_t want = 1 + (size_t)((v >> 8) % (v & 1 ? 64 : 70000));
        if (want > n - pos)
            want = n - pos;
        if (max_view && (v >> 4) % 3 == 0) {
            if (want > max_view)
                want = max_view;
            const void *p = NULL;
            rc = mgov_spill_read_view(r, want, &p);
            rc = rc == 1 ? (memcmp(p, e + pos, want) ? MGOV_ECANCELED : MGOV_OK)
                 : rc == 0 ? MGOV_ECANCELED /* the end, before the data's */
                           : rc;
            pos += want;
        } else {
            size_t got = 0;
            rc = mgov_spill_read(r, buf, want, &got);
            rc = rc == 1 ? (got != want || memcmp(buf, e + pos, want) ? MGOV_ECANCELED : MGOV_OK)
                 : rc == 0 ? MGOV_ECANCELED
                           : rc;
            pos += got;
        }
    }
    if (rc == MGOV_OK) { /* the end, both ways */
        size_t got = 99;
        const void *p = NULL;
        rc = mgov_spill_read(r, buf, 1, &got);
        rc = rc == 0 && got == 0 ? MGOV_OK : rc >= 0 ? MGOV_ECANCELED : rc;
        if (rc == MGOV_OK) {
            rc = mgov_spill_read_view(r, 1, &p);
            rc = rc == 0 ? MGOV_OK : rc == 1 ? MGOV_ECANCELED : rc;
        }
    }
    free(buf);
    return rc;
}

/* ------------------------------------------------- the spill file fixture */

mgov_spill_dir_t *sh_dir;
char sh_dir_path[PATH_MAX];
static sh_scratch_t file_scratch;

static void dir_open_default(void)
{
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = sh_dir_path;
    assert_int_equal(mgov_spill_dir_open(&cfg, &sh_dir), MGOV_OK);
}

int sh_file_setup(void **state)
{
    (void)state;
    sh_scratch_init(&file_scratch);
    int n = snprintf(sh_dir_path, sizeof sh_dir_path, "%s/d", file_scratch.ft.root);
    assert_true(n > 0 && (size_t)n < sizeof sh_dir_path);
    dir_open_default();
    return 0;
}

int sh_file_teardown(void **state)
{
    (void)state;
    mgov__fault_disarm_all(); /* first: a failed case may have left one armed */
    sh_check_dir(sh_dir);
    assert_int_equal(mgov_spill_dir_files(sh_dir), 0);
    assert_int_equal(mgov_spill_dir_used(sh_dir), 0);
    mgov_spill_dir_close(sh_dir);
    sh_dir = NULL;
    assert_int_equal(rmdir(sh_dir_path), 0); /* empty: the lock file went too */
    sh_scratch_fini(&file_scratch);
    return 0;
}

mgov_spill_dir_t *sh_dir_with(mgov_t *gov, uint64_t quota)
{
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = sh_dir_path;
    cfg.quota = quota;
    cfg.gov = gov;
    mgov_spill_dir_close(sh_dir); /* one owner at a time */
    sh_dir = NULL;
    mgov_spill_dir_t *d = NULL;
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_OK);
    sh_check_dir(d);
    return d;
}

void sh_dir_reopen(mgov_spill_dir_t *d)
{
    mgov_spill_dir_close(d);
    dir_open_default();
}

void sh_check_dir(mgov_spill_dir_t *d)
{
    assert_int_equal(mgov__spill_dir_check(d), MGOV_OK);
}

void sh_assert_clean(mgov_spill_dir_t *d)
{
    sh_check_dir(d);
    char list[1024];
    assert_string_equal(sh_list(mgov_spill_dir_path(d), list, sizeof list), "memgov.lock");
    assert_int_equal(mgov_spill_dir_files(d), 0);
    assert_int_equal(mgov_spill_dir_used(d), 0);
}

void sh_assert_gov_clean(mgov_t *gov, uint64_t used_before)
{
    assert_int_equal(mgov_used(gov), used_before);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.spill_bytes, 0);
}

unsigned sh_codecs(mgov_codec_t out[3])
{
    unsigned n = 0;
    for (int c = MGOV_CODEC_NONE; c <= MGOV_CODEC_ZSTD; c++)
        if (mgov_codec_available((mgov_codec_t)c))
            out[n++] = (mgov_codec_t)c;
    return n;
}

mgov_spill_options_t sh_opts(mgov_codec_t codec, size_t block_size)
{
    mgov_spill_options_t o = MGOV_SPILL_OPTIONS_INIT;
    o.codec = codec;
    o.block_size = block_size;
    return o;
}

int sh_read_file(const mgov_spill_file_t *f, const void *expect, size_t n, uint64_t seed,
                 size_t max_view)
{
    mgov_spill_reader_t *r = NULL;
    int rc = mgov_spill_reader_open(f, NULL, &r);
    if (rc != MGOV_OK)
        return rc;
    rc = sh_read_back(r, expect, n, seed, max_view);
    mgov_spill_reader_close(r);
    return rc;
}

int sh_read_fd(int fd, size_t max_block, mgov_t *gov, const void *expect, size_t n)
{
    mgov_spill_reader_config_t cfg = MGOV_SPILL_READER_CONFIG_INIT;
    cfg.max_block = max_block;
    cfg.gov = gov;
    mgov_spill_reader_t *r = NULL;
    int rc = mgov_spill_reader_open_fd(fd, &cfg, &r);
    if (rc != MGOV_OK) {
        assert_null(r);
        return rc;
    }
    rc = sh_read_back(r, expect, n, n, 3 * 4096);
    mgov_spill_reader_close(r);
    return rc;
}

int sh_memfd_with(const void *p, size_t n)
{
    int fd = memfd_create("spill-test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, n, 0), (ssize_t)n);
    return fd;
}
