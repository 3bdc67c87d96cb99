/* test_spill_writer.c - writing spill files (src/spill/spill_writer.c):
 * argument errors of writers, readers and files; round trips of many sizes
 * for every codec built in and several block sizes, in pieces of several
 * sizes, read back with mgov_spill_read and mgov_spill_read_view mixed
 * (mode 0600, the size on disk what the quota counts); abort; the quota
 * reached mid-write and by the footer; and injected ENOSPC, EDQUOT, EIO and
 * EFBIG on each write.  Every failure must leave no file, no quota and no
 * grant behind.
 *
 * Every test runs with the fixture of spill_helpers.h (a standalone spill
 * directory in a scratch TMPDIR; the teardown disarms faults and checks that
 * no file and no quota are left).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"
#include "spill/spill_format.h"
#include "spill_helpers.h"
#include "sys/fault.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static void test_argument_errors(void **state)
{
    (void)state;
    mgov_spill_writer_t *w = (mgov_spill_writer_t *)&w;
    mgov_spill_options_t o = MGOV_SPILL_OPTIONS_INIT;
    assert_int_equal(mgov_spill_writer_create(NULL, &o, &w), MGOV_EINVAL);
    assert_null(w);
    assert_int_equal(mgov_spill_writer_create(sh_dir, &o, NULL), MGOV_EINVAL);
    o.block_size = 4095;
    assert_int_equal(mgov_spill_writer_create(sh_dir, &o, &w), MGOV_EINVAL);
    o.block_size = 64 * MiB + 1;
    assert_int_equal(mgov_spill_writer_create(sh_dir, &o, &w), MGOV_EINVAL);
    o.block_size = 0;
    o.codec = (mgov_codec_t)3;
    assert_int_equal(mgov_spill_writer_create(sh_dir, &o, &w), MGOV_EINVAL);
    for (int c = MGOV_CODEC_LZ4; c <= MGOV_CODEC_ZSTD; c++) {
        o.codec = (mgov_codec_t)c;
        if (!mgov_codec_available(o.codec)) {
            assert_int_equal(mgov_spill_writer_create(sh_dir, &o, &w), MGOV_ENOTSUP);
            assert_null(w);
        }
    }
    sh_assert_clean(sh_dir);

    /* NULL options: the defaults */
    assert_int_equal(mgov_spill_writer_create(sh_dir, NULL, &w), MGOV_OK);
    assert_int_equal(mgov_spill_dir_files(sh_dir), 1);
    assert_int_equal(mgov_spill_write(NULL, "x", 1), MGOV_EINVAL);
    assert_int_equal(mgov_spill_write(w, NULL, 1), MGOV_EINVAL);
    assert_int_equal(mgov_spill_write(w, NULL, 0), MGOV_OK);
    assert_int_equal(mgov_spill_write(w, "abc", 3), MGOV_OK);
    /* finish without somewhere to put the file: the writer is gone, and so is its file */
    assert_int_equal(mgov_spill_writer_finish(w, NULL), MGOV_EINVAL);
    sh_assert_clean(sh_dir);
    mgov_spill_file_t *f = (mgov_spill_file_t *)&f;
    assert_int_equal(mgov_spill_writer_finish(NULL, &f), MGOV_EINVAL);
    assert_null(f);

    mgov_spill_reader_t *r = (mgov_spill_reader_t *)&r;
    assert_int_equal(mgov_spill_reader_open(NULL, NULL, &r), MGOV_EINVAL);
    assert_null(r);
    assert_int_equal(mgov_spill_reader_open_fd(-1, NULL, &r), MGOV_EINVAL);
    mgov_spill_reader_config_t rc = MGOV_SPILL_READER_CONFIG_INIT;
    rc.max_block = 4095;
    int fd = sh_memfd_with("x", 1);
    assert_int_equal(mgov_spill_reader_open_fd(fd, &rc, &r), MGOV_EINVAL);
    close(fd);
    fd = open(mgov_spill_dir_path(sh_dir), O_RDONLY | O_DIRECTORY);
    assert_int_equal(mgov_spill_reader_open_fd(fd, NULL, &r), MGOV_EINVAL); /* not a file */
    close(fd);
    size_t got = 5;
    const void *p = &p;
    assert_int_equal(mgov_spill_read(NULL, &got, 1, &got), MGOV_EINVAL);
    assert_int_equal(mgov_spill_read_view(NULL, 1, &p), MGOV_EINVAL);
    assert_null(p);

    /* NULL is a no-op for every destructor */
    mgov_spill_writer_abort(NULL);
    mgov_spill_file_destroy(NULL);
    mgov_spill_reader_close(NULL);
    mgov_spill_dir_close(NULL);
    assert_null(mgov_spill_file_path(NULL));
    assert_int_equal(mgov_spill_file_raw_bytes(NULL), 0);
    assert_int_equal(mgov_spill_file_stored_bytes(NULL), 0);
    sh_assert_clean(sh_dir);
}

/* ----------------------------------------------------------- round trips */

static void round_trip(mgov_codec_t codec, size_t bs, size_t n, bool compressible, size_t chunk,
                       uint64_t seed)
{
    unsigned char *data = malloc(n + 1);
    assert_non_null(data);
    sh_fill(data, n, seed, compressible);
    mgov_spill_options_t o = sh_opts(codec, bs);
    mgov_spill_file_t *f = sh_write_file(sh_dir, &o, data, n, chunk);

    /* the size on disk is the file's, and what the quota counts */
    struct stat st;
    assert_int_equal(stat(mgov_spill_file_path(f), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal((uint64_t)st.st_size, mgov_spill_file_stored_bytes(f));
    assert_int_equal(mgov_spill_dir_used(sh_dir), mgov_spill_file_stored_bytes(f));
    size_t bsz = bs ? bs : MiB, blocks = (n + bsz - 1) / bsz;
    uint64_t overhead = MGOV__SPILL_MIN_FILE + MGOV__SPILL_BLOCK_HDR * blocks;
    if (codec == MGOV_CODEC_NONE || !compressible)
        assert_int_equal(mgov_spill_file_stored_bytes(f), n + overhead);
    else if (n >= 4096)
        assert_true(mgov_spill_file_stored_bytes(f) < n / 2);

    int rc = sh_read_file(f, data, n, seed, 3 * bsz + 5);
    if (rc != MGOV_OK)
        fail_msg("codec %s block %zu size %zu: %s", mgov_codec_name(codec), bsz, n,
                 mgov_status_name(rc));
    mgov_spill_file_destroy(f);
    sh_assert_clean(sh_dir);
    free(data);
}

static void test_round_trips(void **state)
{
    (void)state;
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    const size_t bss[] = { 4 * KiB, 64 * KiB, 0 };
    uint64_t seed = 1;
    for (unsigned c = 0; c < nc; c++)
        for (size_t b = 0; b < 3; b++) {
            size_t bs = bss[b] ? bss[b] : MiB;
            const size_t sizes[] = { 0, 1, 100, 4095, bs - 1, bs, bs + 1, 2 * bs, 3 * bs + 123 };
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
                for (int comp = 0; comp < 2; comp++) {
                    round_trip(codecs[c], bss[b], sizes[i], comp, 0, seed++);
                    if (sizes[i] <= 70000)
                        round_trip(codecs[c], bss[b], sizes[i], comp, 7, seed++);
                    round_trip(codecs[c], bss[b], sizes[i], comp, 1000, seed++);
                }
        }
    /* random sizes with a small block */
    uint64_t st = 42;
    for (int k = 0; k < 20; k++) {
        size_t n = (size_t)(sh_rand(&st) % (40 * KiB));
        round_trip(codecs[k % nc], 4 * KiB, n, k & 1, (size_t)(sh_rand(&st) % 5000), seed++);
    }
}

static void test_abort(void **state)
{
    (void)state;
    unsigned char buf[10000];
    sh_fill(buf, sizeof buf, 1, false);
    mgov_spill_options_t o = sh_opts(MGOV_CODEC_NONE, 4 * KiB);
    mgov_spill_writer_t *w;
    assert_int_equal(mgov_spill_writer_create(sh_dir, &o, &w), MGOV_OK);
    assert_int_equal(mgov_spill_write(w, buf, sizeof buf), MGOV_OK); /* two blocks out */
    assert_true(mgov_spill_dir_used(sh_dir) > 8 * KiB);
    assert_int_equal(mgov_spill_dir_files(sh_dir), 1);
    sh_check_dir(sh_dir); /* a live writer's file counts, between writes */
    mgov_spill_writer_abort(w);
    sh_assert_clean(sh_dir);
}

static void test_quota_mid_write(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    uint64_t before = mgov_used(gov);
    size_t bs = 16 * KiB;
    mgov_spill_dir_t *d = sh_dir_with(gov, 2 * bs + bs / 2);
    assert_int_equal(mgov_spill_dir_quota(d), 2 * bs + bs / 2);
    unsigned char *buf = malloc(2 * bs);
    sh_fill(buf, 2 * bs, 3, false);
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        mgov_spill_options_t o = sh_opts(codecs[c], bs);
        mgov_spill_writer_t *w;
        assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
        assert_true(mgov_used(gov) > before); /* buffers charged */
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_ENOSPC); /* third block */
        assert_true(mgov_spill_dir_used(d) <= mgov_spill_dir_quota(d));
        sh_check_dir(d); /* the refused write gave its reservation back */
        assert_int_equal(mgov_spill_write(w, buf, 1), MGOV_ENOSPC); /* dead */
        mgov_spill_file_t *f = (mgov_spill_file_t *)&f;
        assert_int_equal(mgov_spill_writer_finish(w, &f), MGOV_ENOSPC);
        assert_null(f);
        sh_assert_clean(d);
        sh_assert_gov_clean(gov, before);

        /* reached by the footer: finish fails, nothing left */
        assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs / 2 - 40), MGOV_OK); /* buffered */
        assert_int_equal(mgov_spill_writer_finish(w, &f), MGOV_ENOSPC);
        assert_null(f);
        sh_assert_clean(d);
        sh_assert_gov_clean(gov, before);
    }
    /* two files share it: the second finds the space taken */
    mgov_spill_options_t o = sh_opts(MGOV_CODEC_NONE, bs);
    mgov_spill_file_t *f1 = sh_write_file(d, &o, buf, bs + bs / 2, 0);
    mgov_spill_writer_t *w;
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
    assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_ENOSPC);
    mgov_spill_writer_abort(w);
    assert_int_equal(mgov_spill_dir_files(d), 1);
    mgov_spill_file_destroy(f1);
    sh_assert_clean(d);
    sh_assert_gov_clean(gov, before);
    free(buf);
    sh_dir_reopen(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_injected_write_errors(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    uint64_t before = mgov_used(gov);
    mgov_spill_dir_t *d = sh_dir_with(gov, 0);
    size_t bs = 4 * KiB, n = 3 * bs + 100;
    unsigned char *buf = malloc(n);
    sh_fill(buf, n, 8, true);
    const int errs[] = { ENOSPC, EDQUOT, EIO, EFBIG };
    const int want[] = { MGOV_ENOSPC, MGOV_ENOSPC, MGOV_EIO, MGOV_EIO };
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    for (unsigned c = 0; c < nc; c++)
        for (int e = 0; e < 4; e++)
            for (long at = 0; at < 4; at++) { /* three blocks, then the last write */
                mgov_spill_options_t o = sh_opts(codecs[c], bs);
                mgov_spill_writer_t *w;
                assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
                mgov__fault_arm_errno(MGOV_FAULT_WRITE, at, 1, errs[e]);
                int rc = mgov_spill_write(w, buf, n);
                mgov_spill_file_t *f = NULL;
                if (rc == MGOV_OK) {
                    rc = mgov_spill_writer_finish(w, &f);
                } else {
                    assert_int_equal(mgov_spill_write(w, buf, 1), rc); /* sticks */
                    assert_int_equal(mgov_spill_writer_finish(w, &f), rc);
                }
                mgov__fault_disarm_all();
                assert_int_equal(rc, want[e]);
                assert_null(f);
                if (want[e] == MGOV_EIO)
                    assert_int_equal(errno, errs[e]);
                sh_assert_clean(d);
                sh_assert_gov_clean(gov, before);
            }
    /* failing abort paths too: written blocks, then abort */
    mgov_spill_options_t o = sh_opts(MGOV_CODEC_NONE, bs);
    mgov_spill_writer_t *w;
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
    mgov__fault_arm_errno(MGOV_FAULT_WRITE, 1, -1, EIO);
    assert_int_equal(mgov_spill_write(w, buf, n), MGOV_EIO);
    mgov__fault_disarm_all();
    mgov_spill_writer_abort(w);
    sh_assert_clean(d);
    sh_assert_gov_clean(gov, before);
    free(buf);
    sh_dir_reopen(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, sh_file_setup, sh_file_teardown)
    const struct CMUnitTest tests[] = {
        T(test_argument_errors),
        T(test_round_trips),
        T(test_abort),
        T(test_quota_mid_write),
        T(test_injected_write_errors),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
