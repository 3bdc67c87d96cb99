/* test_file.c - spill files (src/spill/spill_writer.c,
 * spill_reader.c, codec.c): codec names; argument errors; round trips of
 * many sizes for every codec built in and several block sizes, read back
 * with mgov_spill_read and mgov_spill_read_view mixed; views across blocks
 * and larger than a block; several readers at once; a fresh reader from a
 * descriptor; the quota reached mid-write; injected ENOSPC, EDQUOT and EIO
 * on write, open and read; an allocation failure at every allocation point;
 * buffer grants refused by the governor; and corrupt files: every byte
 * flipped, every truncation, crafted headers with valid checksums (huge
 * lengths and block sizes, wrong codecs, trailing bytes).  Every failure
 * must leave no file, no quota and no grant behind.
 *
 * Builds without lz4 or zstd (the TSan configuration) skip those codecs and
 * check that they are MGOV_ENOTSUP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"
#include "spill/spill_format.h"
#include "spill/spill_internal.h"
#include "spill_helpers.h"
#include "sys/fault.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define SPILL MGOV_REGION_SPILL_STAGING

static sh_scratch_t scratch;
static mgov_spill_dir_t *dir;  /* standalone, in scratch/d */
static char dir_path[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    sh_scratch_init(&scratch);
    assert_true(strlen(scratch.ft.root) + 3 <= sizeof dir_path);
    strcpy(dir_path, scratch.ft.root);
    strcat(dir_path, "/d");
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = dir_path;
    assert_int_equal(mgov_spill_dir_open(&cfg, &dir), MGOV_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mgov__fault_disarm_all();
    assert_int_equal(mgov_spill_dir_files(dir), 0);
    assert_int_equal(mgov_spill_dir_used(dir), 0);
    mgov_spill_dir_close(dir);
    dir = NULL;
    assert_int_equal(rmdir(dir_path), 0); /* empty: the lock file went too */
    sh_scratch_fini(&scratch);
    return 0;
}

/* Nothing but the lock file in d/, and nothing counted. */
static void assert_clean(mgov_spill_dir_t *d)
{
    char list[1024];
    assert_string_equal(sh_list(mgov_spill_dir_path(d), list, sizeof list), "memgov.lock");
    assert_int_equal(mgov_spill_dir_files(d), 0);
    assert_int_equal(mgov_spill_dir_used(d), 0);
}

static unsigned available_codecs(mgov_codec_t out[3])
{
    unsigned n = 0;
    for (int c = MGOV_CODEC_NONE; c <= MGOV_CODEC_ZSTD; c++)
        if (mgov_codec_available((mgov_codec_t)c))
            out[n++] = (mgov_codec_t)c;
    return n;
}

static mgov_spill_options_t opts_of(mgov_codec_t codec, size_t block_size)
{
    mgov_spill_options_t o = MGOV_SPILL_OPTIONS_INIT;
    o.codec = codec;
    o.block_size = block_size;
    return o;
}

static int read_file(const mgov_spill_file_t *f, const void *expect, size_t n, uint64_t seed,
                     size_t max_view)
{
    mgov_spill_reader_t *r = NULL;
    int rc = mgov_spill_reader_open(f, &r);
    if (rc != MGOV_OK)
        return rc;
    rc = sh_read_back(r, expect, n, seed, max_view);
    mgov_spill_reader_close(r);
    return rc;
}

/* Opens a reader on fd (max_block 0: default) and reads it all. */
static int read_fd(int fd, size_t max_block, mgov_t *gov, const void *expect, size_t n)
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

static int memfd_with(const void *p, size_t n)
{
    int fd = memfd_create("spill-test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, n, 0), (ssize_t)n);
    return fd;
}

/* The bytes of a file on disk. */
static unsigned char *slurp(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char *p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    assert_int_equal(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return p;
}

/* ---------------------------------------------------------------- codecs */

static void test_codec_names(void **state)
{
    (void)state;
    assert_string_equal(mgov_codec_name(MGOV_CODEC_NONE), "none");
    assert_string_equal(mgov_codec_name(MGOV_CODEC_LZ4), "lz4");
    assert_string_equal(mgov_codec_name(MGOV_CODEC_ZSTD), "zstd");
    assert_string_equal(mgov_codec_name((mgov_codec_t)7), "unknown");
    assert_true(mgov_codec_available(MGOV_CODEC_NONE));
    assert_false(mgov_codec_available((mgov_codec_t)3));

    mgov_codec_t c = (mgov_codec_t)9;
    assert_int_equal(mgov_codec_parse("none", &c), MGOV_OK);
    assert_int_equal(c, MGOV_CODEC_NONE);
    const char *names[] = { "lz4", "LZ4", "zstd", "Zstd" };
    const mgov_codec_t want[] = { MGOV_CODEC_LZ4, MGOV_CODEC_LZ4, MGOV_CODEC_ZSTD, MGOV_CODEC_ZSTD };
    for (int i = 0; i < 4; i++) {
        c = (mgov_codec_t)9;
        int rc = mgov_codec_parse(names[i], &c);
        assert_int_equal(rc, mgov_codec_available(want[i]) ? MGOV_OK : MGOV_ENOTSUP);
        assert_int_equal(c, want[i]); /* set either way */
    }
    c = (mgov_codec_t)9;
    assert_int_equal(mgov_codec_parse("gzip", &c), MGOV_EINVAL);
    assert_int_equal(mgov_codec_parse("", &c), MGOV_EINVAL);
    assert_int_equal(c, 9);
    assert_int_equal(mgov_codec_parse(NULL, &c), MGOV_EINVAL);
    assert_int_equal(mgov_codec_parse("lz4", NULL), MGOV_EINVAL);
}

static void test_argument_errors(void **state)
{
    (void)state;
    mgov_spill_writer_t *w = (mgov_spill_writer_t *)&w;
    mgov_spill_options_t o = MGOV_SPILL_OPTIONS_INIT;
    assert_int_equal(mgov_spill_writer_create(NULL, &o, &w), MGOV_EINVAL);
    assert_null(w);
    assert_int_equal(mgov_spill_writer_create(dir, &o, NULL), MGOV_EINVAL);
    o.block_size = 4095;
    assert_int_equal(mgov_spill_writer_create(dir, &o, &w), MGOV_EINVAL);
    o.block_size = 64 * MiB + 1;
    assert_int_equal(mgov_spill_writer_create(dir, &o, &w), MGOV_EINVAL);
    o.block_size = 0;
    o.codec = (mgov_codec_t)3;
    assert_int_equal(mgov_spill_writer_create(dir, &o, &w), MGOV_EINVAL);
    for (int c = MGOV_CODEC_LZ4; c <= MGOV_CODEC_ZSTD; c++) {
        o.codec = (mgov_codec_t)c;
        if (!mgov_codec_available(o.codec)) {
            assert_int_equal(mgov_spill_writer_create(dir, &o, &w), MGOV_ENOTSUP);
            assert_null(w);
        }
    }
    assert_clean(dir);

    /* NULL options: the defaults */
    assert_int_equal(mgov_spill_writer_create(dir, NULL, &w), MGOV_OK);
    assert_int_equal(mgov_spill_dir_files(dir), 1);
    assert_int_equal(mgov_spill_write(NULL, "x", 1), MGOV_EINVAL);
    assert_int_equal(mgov_spill_write(w, NULL, 1), MGOV_EINVAL);
    assert_int_equal(mgov_spill_write(w, NULL, 0), MGOV_OK);
    assert_int_equal(mgov_spill_write(w, "abc", 3), MGOV_OK);
    /* finish without somewhere to put the file: the writer is gone, and so is its file */
    assert_int_equal(mgov_spill_writer_finish(w, NULL), MGOV_EINVAL);
    assert_clean(dir);
    mgov_spill_file_t *f = (mgov_spill_file_t *)&f;
    assert_int_equal(mgov_spill_writer_finish(NULL, &f), MGOV_EINVAL);
    assert_null(f);

    mgov_spill_reader_t *r = (mgov_spill_reader_t *)&r;
    assert_int_equal(mgov_spill_reader_open(NULL, &r), MGOV_EINVAL);
    assert_null(r);
    assert_int_equal(mgov_spill_reader_open_fd(-1, NULL, &r), MGOV_EINVAL);
    mgov_spill_reader_config_t rc = MGOV_SPILL_READER_CONFIG_INIT;
    rc.max_block = 4095;
    int fd = memfd_with("x", 1);
    assert_int_equal(mgov_spill_reader_open_fd(fd, &rc, &r), MGOV_EINVAL);
    close(fd);
    fd = open(mgov_spill_dir_path(dir), O_RDONLY | O_DIRECTORY);
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
    assert_clean(dir);
}

/* ----------------------------------------------------------- round trips */

static void round_trip(mgov_codec_t codec, size_t bs, size_t n, bool compressible, size_t chunk,
                       uint64_t seed)
{
    unsigned char *data = malloc(n + 1);
    assert_non_null(data);
    sh_fill(data, n, seed, compressible);
    mgov_spill_options_t o = opts_of(codec, bs);
    mgov_spill_file_t *f = sh_write_file(dir, &o, data, n, chunk);

    /* the size on disk is the file's, and what the quota counts */
    struct stat st;
    assert_int_equal(stat(mgov_spill_file_path(f), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal((uint64_t)st.st_size, mgov_spill_file_stored_bytes(f));
    assert_int_equal(mgov_spill_dir_used(dir), mgov_spill_file_stored_bytes(f));
    size_t bsz = bs ? bs : MiB, blocks = (n + bsz - 1) / bsz;
    uint64_t overhead = MGOV__SPILL_MIN_FILE + MGOV__SPILL_BLOCK_HDR * blocks;
    if (codec == MGOV_CODEC_NONE || !compressible)
        assert_int_equal(mgov_spill_file_stored_bytes(f), n + overhead);
    else if (n >= 4096)
        assert_true(mgov_spill_file_stored_bytes(f) < n / 2);

    int rc = read_file(f, data, n, seed, 3 * bsz + 5);
    if (rc != MGOV_OK)
        fail_msg("codec %s block %zu size %zu: %s", mgov_codec_name(codec), bsz, n,
                 mgov_status_name(rc));
    mgov_spill_file_destroy(f);
    assert_clean(dir);
    free(data);
}

static void test_round_trips(void **state)
{
    (void)state;
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
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

static void test_codec_levels(void **state)
{
    (void)state;
    const int levels[] = { -100000, -5, -1, 1, 9, 19, 1000 };
    size_t n = 100 * KiB;
    unsigned char *data = malloc(n);
    sh_fill(data, n, 5, true);
    for (int c = MGOV_CODEC_LZ4; c <= MGOV_CODEC_ZSTD; c++) {
        if (!mgov_codec_available((mgov_codec_t)c))
            continue;
        for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
            mgov_spill_options_t o = opts_of((mgov_codec_t)c, 16 * KiB);
            o.level = levels[i]; /* out-of-range levels are clamped */
            mgov_spill_file_t *f = sh_write_file(dir, &o, data, n, 0);
            if (levels[i] >= -5) /* the fastest settings may not compress at all */
                assert_true(mgov_spill_file_stored_bytes(f) < n);
            assert_int_equal(read_file(f, data, n, 3, 0), MGOV_OK);
            mgov_spill_file_destroy(f);
        }
    }
    free(data);
    assert_clean(dir);
}

/* ----------------------------------------------------------------- views */

static void test_views(void **state)
{
    (void)state;
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    size_t bs = 4 * KiB, n = 5 * bs + 10;
    unsigned char *data = malloc(n);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, c, c == 1);
        mgov_spill_options_t o = opts_of(codecs[c], bs);
        mgov_spill_file_t *f = sh_write_file(dir, &o, data, n, 0);

        mgov_spill_reader_t *r = NULL;
        assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_OK);
        const void *p = NULL;
        assert_int_equal(mgov_spill_read_view(r, 0, &p), MGOV_OK); /* nothing asked */
        assert_non_null(p);
        assert_int_equal(mgov_spill_read_view(r, 100, &p), MGOV_OK); /* inside block 0 */
        assert_memory_equal(p, data, 100);
        const void *in_block = p;
        assert_int_equal(mgov_spill_read_view(r, bs - 100, &p), MGOV_OK); /* to its end */
        assert_ptr_equal(p, (const char *)in_block + 100);                 /* zero copy */
        assert_memory_equal(p, data + 100, bs - 100);
        assert_int_equal(mgov_spill_read_view(r, 10, &p), MGOV_OK); /* block 1 */
        assert_memory_equal(p, data + bs, 10);
        assert_int_equal(mgov_spill_read_view(r, bs, &p), MGOV_OK); /* across 1 and 2 */
        assert_memory_equal(p, data + bs + 10, bs);
        assert_int_equal(mgov_spill_read_view(r, 2 * bs + 7, &p), MGOV_OK); /* larger than a block */
        assert_memory_equal(p, data + 2 * bs + 10, 2 * bs + 7);
        size_t pos = 4 * bs + 17, got = 0;
        unsigned char tail[16];
        assert_int_equal(mgov_spill_read(r, tail, 3, &got), MGOV_OK);
        assert_int_equal(got, 3);
        assert_memory_equal(tail, data + pos, 3);
        pos += 3;
        /* asking for more than is left: some bytes remain, fewer than asked */
        assert_int_equal(mgov_spill_read_view(r, n - pos + 1, &p), MGOV_ECORRUPT);
        assert_int_equal(mgov_spill_read(r, tail, 1, &got), MGOV_ECORRUPT); /* dead */
        assert_int_equal(got, 0);
        mgov_spill_reader_close(r);

        /* exactly what is left, then the end */
        assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_OK);
        assert_int_equal(mgov_spill_read_view(r, n, &p), MGOV_OK); /* the whole file */
        assert_memory_equal(p, data, n);
        assert_int_equal(mgov_spill_read_view(r, 1, &p), MGOV_ENOTFOUND);
        assert_null(p);
        assert_int_equal(mgov_spill_read_view(r, 1, &p), MGOV_ENOTFOUND); /* stays there */
        assert_int_equal(mgov_spill_read(r, tail, 5, &got), MGOV_OK);
        assert_int_equal(got, 0);
        mgov_spill_reader_close(r);

        /* views above max_block are refused without harm */
        int fd = open(mgov_spill_file_path(f), O_RDONLY | O_CLOEXEC);
        mgov_spill_reader_config_t rc = MGOV_SPILL_READER_CONFIG_INIT;
        rc.max_block = 2 * bs;
        assert_int_equal(mgov_spill_reader_open_fd(fd, &rc, &r), MGOV_OK);
        close(fd); /* the reader has its own */
        assert_int_equal(mgov_spill_read_view(r, 2 * bs + 1, &p), MGOV_EINVAL);
        assert_int_equal(mgov_spill_read_view(r, 2 * bs, &p), MGOV_OK);
        assert_memory_equal(p, data, 2 * bs);
        assert_int_equal(sh_read_back(r, data + 2 * bs, n - 2 * bs, 9, 2 * bs), MGOV_OK);
        mgov_spill_reader_close(r);
        mgov_spill_file_destroy(f);
    }
    free(data);
    assert_clean(dir);
}

/* read_some: zero copy, never across a block, 0 bytes only at the end. */
static void test_read_some(void **state)
{
    (void)state;
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    size_t bs = 4 * KiB, n = 3 * bs + 123;
    unsigned char *data = malloc(n);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, 40 + c, c == 1);
        mgov_spill_options_t o = opts_of(codecs[c], bs);
        mgov_spill_file_t *f = sh_write_file(dir, &o, data, n, 0);
        mgov_spill_reader_t *r = NULL;
        assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_OK);
        const void *p = NULL;
        size_t got = 1, pos = 0;
        assert_int_equal(mgov_spill_read_some(NULL, 1, &p, &got), MGOV_EINVAL);
        assert_int_equal(mgov_spill_read_some(r, 1, NULL, &got), MGOV_EINVAL);
        assert_int_equal(mgov_spill_read_some(r, 0, &p, &got), MGOV_OK);
        assert_int_equal(got, 0);
        assert_int_equal(mgov_spill_read_some(r, 100, &p, &got), MGOV_OK);
        assert_int_equal(got, 100);
        assert_memory_equal(p, data, 100);
        pos = 100;
        /* asking past the block's end stops at it */
        assert_int_equal(mgov_spill_read_some(r, 2 * bs, &p, &got), MGOV_OK);
        assert_int_equal(got, bs - 100);
        assert_memory_equal(p, data + pos, got);
        pos += got;
        /* odd pieces to the end: every byte once, in order */
        for (;;) {
            assert_int_equal(mgov_spill_read_some(r, 1000, &p, &got), MGOV_OK);
            if (got == 0)
                break;
            assert_true(got <= 1000);
            assert_true(pos + got <= n);
            assert_memory_equal(p, data + pos, got);
            pos += got;
        }
        assert_int_equal(pos, n);
        assert_int_equal(mgov_spill_read_some(r, 1000, &p, &got), MGOV_OK); /* stays at the end */
        assert_int_equal(got, 0);
        mgov_spill_reader_close(r);
        mgov_spill_file_destroy(f);
    }
    free(data);
    assert_clean(dir);
}

/* -------------------------------------------------------- many readers */

typedef struct reader_job {
    const mgov_spill_file_t *f;
    const unsigned char *data;
    size_t n;
    uint64_t seed;
    int rc;
} reader_job_t;

static void *reader_thread(void *arg)
{
    reader_job_t *j = arg;
    for (int k = 0; k < 3 && j->rc == MGOV_OK; k++)
        j->rc = read_file(j->f, j->data, j->n, j->seed + (uint64_t)k, 20000);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    size_t n = 300 * KiB + 17;
    unsigned char *data = malloc(n);
    sh_fill(data, n, 77, true);
    for (unsigned c = 0; c < nc; c++) {
        mgov_spill_options_t o = opts_of(codecs[c], 16 * KiB);
        mgov_spill_file_t *f = sh_write_file(dir, &o, data, n, 4000);
        reader_job_t jobs[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            jobs[i] = (reader_job_t){ f, data, n, (uint64_t)i * 1000 + 1, MGOV_OK };
            assert_int_equal(pthread_create(&t[i], NULL, reader_thread, &jobs[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(jobs[i].rc, MGOV_OK);
        }
        /* readers open together in one thread, interleaved */
        mgov_spill_reader_t *a, *b;
        assert_int_equal(mgov_spill_reader_open(f, &a), MGOV_OK);
        assert_int_equal(mgov_spill_reader_open(f, &b), MGOV_OK);
        unsigned char x[5000], y[7000];
        size_t pa = 0, pb = 0, got;
        while (pa < n || pb < n) {
            assert_int_equal(mgov_spill_read(a, x, sizeof x, &got), MGOV_OK);
            assert_memory_equal(x, data + pa, got);
            pa += got;
            assert_int_equal(mgov_spill_read(b, y, sizeof y, &got), MGOV_OK);
            assert_memory_equal(y, data + pb, got);
            pb += got;
        }
        mgov_spill_reader_close(a);
        mgov_spill_reader_close(b);
        mgov_spill_file_destroy(f);
    }
    free(data);
    assert_clean(dir);
}

static void test_open_fd_fresh_reader(void **state)
{
    (void)state;
    size_t n = 50 * KiB + 3;
    unsigned char *data = malloc(n);
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, 100 + c, c > 0);
        mgov_spill_options_t o = opts_of(codecs[c], 8 * KiB);
        mgov_spill_file_t *f = sh_write_file(dir, &o, data, n, 0);
        int fd = open(mgov_spill_file_path(f), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read_fd(fd, 0, NULL, data, n), MGOV_OK);
        assert_int_equal(read_fd(fd, 8 * KiB, NULL, data, n), MGOV_OK);
        /* a reader that refuses blocks this large */
        assert_int_equal(read_fd(fd, 4 * KiB, NULL, data, n), MGOV_ECORRUPT);
        close(fd);
        mgov_spill_file_destroy(f);
    }
    free(data);
    assert_clean(dir);
}

static void test_abort(void **state)
{
    (void)state;
    unsigned char buf[10000];
    sh_fill(buf, sizeof buf, 1, false);
    mgov_spill_options_t o = opts_of(MGOV_CODEC_NONE, 4 * KiB);
    mgov_spill_writer_t *w;
    assert_int_equal(mgov_spill_writer_create(dir, &o, &w), MGOV_OK);
    assert_int_equal(mgov_spill_write(w, buf, sizeof buf), MGOV_OK); /* two blocks out */
    assert_true(mgov_spill_dir_used(dir) > 8 * KiB);
    assert_int_equal(mgov_spill_dir_files(dir), 1);
    mgov_spill_writer_abort(w);
    assert_clean(dir);
}

/* ------------------------------------------------------------- failures */

/* The governor is back where it started and shows no spill bytes. */
static void assert_gov_clean(mgov_t *gov, uint64_t used_before)
{
    assert_int_equal(mgov_used(gov), used_before);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.spill_bytes, 0);
}

static mgov_spill_dir_t *dir_with(mgov_t *gov, uint64_t quota)
{
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = dir_path;
    cfg.quota = quota;
    cfg.gov = gov;
    mgov_spill_dir_close(dir); /* one owner at a time */
    dir = NULL;
    mgov_spill_dir_t *d = NULL;
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_OK);
    return d;
}

static void reopen_default(mgov_spill_dir_t *d)
{
    mgov_spill_dir_close(d);
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = dir_path;
    assert_int_equal(mgov_spill_dir_open(&cfg, &dir), MGOV_OK);
}

static void test_quota_mid_write(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    uint64_t before = mgov_used(gov);
    size_t bs = 16 * KiB;
    mgov_spill_dir_t *d = dir_with(gov, 2 * bs + bs / 2);
    assert_int_equal(mgov_spill_dir_quota(d), 2 * bs + bs / 2);
    unsigned char *buf = malloc(2 * bs);
    sh_fill(buf, 2 * bs, 3, false);
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        mgov_spill_options_t o = opts_of(codecs[c], bs);
        mgov_spill_writer_t *w;
        assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
        assert_true(mgov_used(gov) > before); /* buffers charged */
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_ENOSPC); /* third block */
        assert_true(mgov_spill_dir_used(d) <= mgov_spill_dir_quota(d));
        assert_int_equal(mgov_spill_write(w, buf, 1), MGOV_ENOSPC); /* dead */
        mgov_spill_file_t *f = (mgov_spill_file_t *)&f;
        assert_int_equal(mgov_spill_writer_finish(w, &f), MGOV_ENOSPC);
        assert_null(f);
        assert_clean(d);
        assert_gov_clean(gov, before);

        /* reached by the footer: finish fails, nothing left */
        assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_OK);
        assert_int_equal(mgov_spill_write(w, buf, bs / 2 - 40), MGOV_OK); /* buffered */
        assert_int_equal(mgov_spill_writer_finish(w, &f), MGOV_ENOSPC);
        assert_null(f);
        assert_clean(d);
        assert_gov_clean(gov, before);
    }
    /* two files share it: the second finds the space taken */
    mgov_spill_options_t o = opts_of(MGOV_CODEC_NONE, bs);
    mgov_spill_file_t *f1 = sh_write_file(d, &o, buf, bs + bs / 2, 0);
    mgov_spill_writer_t *w;
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
    assert_int_equal(mgov_spill_write(w, buf, bs), MGOV_ENOSPC);
    mgov_spill_writer_abort(w);
    assert_int_equal(mgov_spill_dir_files(d), 1);
    mgov_spill_file_destroy(f1);
    assert_clean(d);
    assert_gov_clean(gov, before);
    free(buf);
    reopen_default(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_injected_write_errors(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    uint64_t before = mgov_used(gov);
    mgov_spill_dir_t *d = dir_with(gov, 0);
    size_t bs = 4 * KiB, n = 3 * bs + 100;
    unsigned char *buf = malloc(n);
    sh_fill(buf, n, 8, true);
    const int errs[] = { ENOSPC, EDQUOT, EIO, EFBIG };
    const int want[] = { MGOV_ENOSPC, MGOV_ENOSPC, MGOV_EIO, MGOV_EIO };
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    for (unsigned c = 0; c < nc; c++)
        for (int e = 0; e < 4; e++)
            for (long at = 0; at < 4; at++) { /* three blocks, then the last write */
                mgov_spill_options_t o = opts_of(codecs[c], bs);
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
                assert_clean(d);
                assert_gov_clean(gov, before);
            }
    /* failing abort paths too: written blocks, then abort */
    mgov_spill_options_t o = opts_of(MGOV_CODEC_NONE, bs);
    mgov_spill_writer_t *w;
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
    mgov__fault_arm_errno(MGOV_FAULT_WRITE, 1, -1, EIO);
    assert_int_equal(mgov_spill_write(w, buf, n), MGOV_EIO);
    mgov__fault_disarm_all();
    mgov_spill_writer_abort(w);
    assert_clean(d);
    assert_gov_clean(gov, before);
    free(buf);
    reopen_default(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_injected_open_and_read_errors(void **state)
{
    (void)state;
    mgov_spill_writer_t *w = NULL;
    mgov__fault_arm(MGOV_FAULT_OPEN, 0, 1);
    errno = 0;
    assert_int_equal(mgov_spill_writer_create(dir, NULL, &w), MGOV_EIO);
    assert_int_equal(errno, EIO);
    assert_null(w);
    mgov__fault_arm_errno(MGOV_FAULT_OPEN, 0, 1, EDQUOT);
    assert_int_equal(mgov_spill_writer_create(dir, NULL, &w), MGOV_ENOSPC);
    mgov__fault_disarm_all();
    assert_clean(dir);

    size_t n = 20 * KiB;
    unsigned char *buf = malloc(n);
    sh_fill(buf, n, 4, false);
    mgov_spill_options_t o = opts_of(MGOV_CODEC_NONE, 4 * KiB);
    mgov_spill_file_t *f = sh_write_file(dir, &o, buf, n, 0);
    mgov_spill_reader_t *r = NULL;
    for (long at = 0; at < 2; at++) { /* header, footer */
        mgov__fault_arm(MGOV_FAULT_READ, at, 1);
        assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_EIO);
        assert_null(r);
    }
    mgov__fault_arm(MGOV_FAULT_READ, 3, 1); /* the second block */
    assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_OK);
    unsigned char tmp[4 * KiB];
    size_t got;
    assert_int_equal(mgov_spill_read(r, tmp, sizeof tmp, &got), MGOV_OK);
    assert_int_equal(mgov_spill_read(r, tmp, sizeof tmp, &got), MGOV_EIO);
    mgov__fault_disarm_all();
    assert_int_equal(mgov_spill_read(r, tmp, sizeof tmp, &got), MGOV_EIO); /* dead */
    const void *p;
    assert_int_equal(mgov_spill_read_view(r, 1, &p), MGOV_EIO);
    mgov_spill_reader_close(r);
    assert_int_equal(read_file(f, buf, n, 1, 5000), MGOV_OK); /* the file is fine */
    mgov_spill_file_destroy(f);
    free(buf);
    assert_clean(dir);
}

/* Writes, finishes, reads back and destroys a file; the first error. */
static int full_cycle(mgov_spill_dir_t *d, mgov_codec_t codec, const unsigned char *data, size_t n)
{
    mgov_spill_options_t o = opts_of(codec, 4 * KiB);
    mgov_spill_writer_t *w = NULL;
    int rc = mgov_spill_writer_create(d, &o, &w);
    if (rc != MGOV_OK)
        return rc;
    for (size_t done = 0; done < n && rc == MGOV_OK; done += 3000)
        rc = mgov_spill_write(w, data + done, n - done < 3000 ? n - done : 3000);
    mgov_spill_file_t *f = NULL;
    int frc = mgov_spill_writer_finish(w, &f);
    if (rc == MGOV_OK)
        rc = frc;
    if (rc != MGOV_OK) {
        assert_null(f);
        return rc;
    }
    rc = read_file(f, data, n, 11, 9000);
    mgov_spill_file_destroy(f);
    return rc;
}

static void test_alloc_faults(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    uint64_t before = mgov_used(gov);
    mgov_spill_dir_t *d = dir_with(gov, 0);
    size_t n = 20 * KiB;
    unsigned char *data = malloc(n);
    sh_fill(data, n, 6, true);
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        long k;
        int rc = MGOV_ENOMEM;
        for (k = 0; k < 1000 && rc != MGOV_OK; k++) {
            mgov__fault_arm(MGOV_FAULT_ALLOC, k, -1);
            rc = full_cycle(d, codecs[c], data, n);
            long hits = mgov__fault_hits(MGOV_FAULT_ALLOC);
            mgov__fault_disarm_all();
            if (rc == MGOV_OK)
                assert_int_equal(hits, 0);
            else
                assert_int_equal(rc, MGOV_ENOMEM);
            assert_clean(d);
            assert_gov_clean(gov, before);
        }
        assert_int_equal(rc, MGOV_OK);
        print_message("codec %s: %ld allocation points\n", mgov_codec_name(codecs[c]), k - 1);
        assert_true(k - 1 >= 4); /* writer, its buffer, the file, reader, its buffer */
    }
    free(data);
    reopen_default(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_budget_refusals(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(4 * MiB, NULL);
    uint64_t before = mgov_used(gov);
    mgov_spill_dir_t *d = dir_with(gov, 0);
    mgov_spill_options_t o = opts_of(MGOV_CODEC_NONE, 64 * KiB);
    mgov_spill_writer_t *w = NULL;

    /* more than the whole budget: never */
    o.block_size = 8 * MiB;
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_ELIMIT);
    assert_null(w);
    /* the budget is taken: now, and after waiting */
    o.block_size = 64 * KiB;
    mgov_grant_t hog = gh_take(gov, MGOV_REGION_EXECUTION_BUFFERS, 4 * MiB - 32 * KiB, MGOV_URGENT);
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_EBUDGET);
    o.timeout_ns = 20 * 1000000ll;
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_ETIMEDOUT);
    assert_null(w);
    assert_clean(d);
    mgov_grant_release(&hog);
    assert_gov_clean(gov, before);

    /* readers: a file, then its reader refused, then views refused */
    o.timeout_ns = 0;
    o.block_size = 4 * KiB;
    size_t n = 40 * KiB;
    unsigned char *data = malloc(n);
    sh_fill(data, n, 12, false);
    mgov_spill_file_t *f = sh_write_file(d, &o, data, n, 0);
    assert_int_equal(mgov_used(gov), before); /* the writer's grant went with it */
    hog = gh_take(gov, MGOV_REGION_EXECUTION_BUFFERS, 4 * MiB - 4 * KiB, MGOV_URGENT);
    mgov_spill_reader_t *r = NULL;
    assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_EBUDGET);
    assert_null(r);
    mgov_grant_release(&hog);
    assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_OK);
    uint64_t with_reader = mgov_used(gov);
    assert_true(with_reader > before);
    hog = gh_take(gov, MGOV_REGION_EXECUTION_BUFFERS, 4 * MiB - with_reader, MGOV_URGENT);
    const void *p;
    assert_int_equal(mgov_spill_read_view(r, 100, &p), MGOV_OK); /* in a block: no grant */
    assert_int_equal(mgov_spill_read_view(r, 8 * KiB, &p), MGOV_EBUDGET); /* the gather buffer */
    mgov_grant_release(&hog);
    /* refused, not dead: the reader goes on from where it was */
    assert_int_equal(mgov_spill_read_view(r, 8 * KiB, &p), MGOV_OK);
    assert_memory_equal(p, data + 100, 8 * KiB);
    assert_true(mgov_used(gov) > with_reader);
    assert_int_equal(sh_read_back(r, data + 100 + 8 * KiB, n - 100 - 8 * KiB, 2, 12 * KiB), MGOV_OK);
    mgov_spill_reader_close(r);
    assert_int_equal(mgov_used(gov), before);
    mgov_spill_file_destroy(f);
    assert_clean(d);
    assert_gov_clean(gov, before);

    /* the region: spill_staging, or region 0 for a governor without one */
    mgov_region_config_t regions[2] = { { "heap", 0, 0 }, { "other", 0, 0 } };
    mgov_t *g2 = gh_gov_regions(64 * MiB, regions, 2);
    mgov_spill_dir_close(d);
    d = dir_with(g2, 0);
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
    assert_true(gh_region_used(g2, 0) > 0);
    assert_int_equal(gh_region_used(g2, 1), 0);
    mgov_spill_writer_abort(w);
    assert_int_equal(gh_region_used(g2, 0), 0);
    free(data);
    reopen_default(d);
    assert_int_equal(mgov_destroy(g2), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_charges(void **state)
{
    (void)state;
    /* what writers and readers take is what the planning functions say */
    mgov_t *gov = gh_gov_new(256 * MiB, NULL);
    mgov_spill_dir_t *d = dir_with(gov, 0);
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    const size_t bss[] = { 4 * KiB, 64 * KiB, 0 };
    size_t n = 3 * MiB;
    unsigned char *data = malloc(n);
    sh_fill(data, n, 17, false);
    for (unsigned c = 0; c < nc; c++)
        for (int b = 0; b < 3; b++) {
            mgov_spill_options_t o = opts_of(codecs[c], bss[b]);
            mgov_spill_writer_t *w;
            assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
            assert_int_equal(gh_region_used(gov, SPILL),
                             mgov__spill_writer_charge(codecs[c], 0, bss[b]));
            mgov_spill_file_t *f;
            assert_int_equal(mgov_spill_write(w, data, n), MGOV_OK);
            assert_int_equal(mgov_spill_writer_finish(w, &f), MGOV_OK);
            assert_int_equal(mgov_used(gov), 0);
            mgov_spill_reader_t *r;
            assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_OK);
            assert_int_equal(gh_region_used(gov, SPILL), mgov__spill_reader_charge(codecs[c], bss[b]));
            mgov_spill_reader_close(r);
            mgov_spill_file_destroy(f);
            /* a small file's reader takes less */
            f = sh_write_file(d, &o, data, 100, 0);
            assert_int_equal(mgov_spill_reader_open(f, &r), MGOV_OK);
            assert_true(gh_region_used(gov, SPILL) <= mgov__spill_reader_charge(codecs[c], 4 * KiB));
            mgov_spill_reader_close(r);
            mgov_spill_file_destroy(f);
        }
    free(data);
    reopen_default(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------------------------------ corruption */

/* A finished small file's bytes: three full blocks of 4 KiB and a partial. */
static unsigned char *small_file(mgov_codec_t codec, const unsigned char *data, size_t n,
                                 size_t *len)
{
    mgov_spill_options_t o = opts_of(codec, 4 * KiB);
    mgov_spill_file_t *f = sh_write_file(dir, &o, data, n, 0);
    unsigned char *bytes = slurp(mgov_spill_file_path(f), len);
    mgov_spill_file_destroy(f);
    return bytes;
}

static void test_every_byte_flipped(void **state)
{
    (void)state;
    size_t n = 3 * 4 * KiB + 1000;
    unsigned char *data = malloc(n);
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, 21, c > 0); /* compressed blocks for the codecs */
        size_t len;
        unsigned char *bytes = small_file(codecs[c], data, n, &len);
        int fd = memfd_with(bytes, len);
        assert_int_equal(read_fd(fd, 0, NULL, data, n), MGOV_OK);
        const unsigned char masks[] = { 0x01, 0x80, 0xff };
        for (size_t i = 0; i < len; i++)
            for (int m = 0; m < 3; m++) {
                unsigned char b = bytes[i] ^ masks[m];
                assert_int_equal(pwrite(fd, &b, 1, (off_t)i), 1);
                int rc = read_fd(fd, 0, NULL, data, n);
                if (rc != MGOV_ECORRUPT)
                    fail_msg("codec %s: byte %zu ^ 0x%02x: %s", mgov_codec_name(codecs[c]), i,
                             masks[m], mgov_status_name(rc));
                assert_int_equal(pwrite(fd, &bytes[i], 1, (off_t)i), 1);
            }
        close(fd);
        free(bytes);
    }
    free(data);
    assert_clean(dir);
}

static void test_every_truncation(void **state)
{
    (void)state;
    size_t n = 3 * 4 * KiB + 1000;
    unsigned char *data = malloc(n);
    mgov_codec_t codecs[3];
    unsigned nc = available_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, 22, c > 0);
        size_t len;
        unsigned char *bytes = small_file(codecs[c], data, n, &len);
        int fd = memfd_with(bytes, len);
        /* trailing bytes after the footer */
        assert_int_equal(pwrite(fd, "\0", 1, (off_t)len), 1);
        assert_int_equal(read_fd(fd, 0, NULL, data, n), MGOV_ECORRUPT);
        assert_int_equal(pwrite(fd, bytes, len, (off_t)len), (ssize_t)len); /* a second copy */
        assert_int_equal(read_fd(fd, 0, NULL, data, n), MGOV_ECORRUPT);
        for (size_t l = len; l-- > 0;) {
            assert_int_equal(ftruncate(fd, (off_t)l), 0);
            int rc = read_fd(fd, 0, NULL, data, n);
            if (rc != MGOV_ECORRUPT)
                fail_msg("codec %s: truncated to %zu of %zu: %s", mgov_codec_name(codecs[c]), l,
                         len, mgov_status_name(rc));
        }
        close(fd);
        free(bytes);
    }
    free(data);
    assert_clean(dir);
}

/* --------------------------------------------------------- crafted files */

typedef struct craft_block {
    uint32_t raw_len, stored_len;
    uint8_t codec;
    const void *data;   /* stored_len bytes, or NULL: zeros for `have` bytes */
    size_t have;        /* bytes actually in the file (default stored_len) */
    int32_t seq;        /* -1: the index */
} craft_block_t;

typedef struct craft {
    uint8_t codec;
    uint32_t block_size;
    const craft_block_t *blocks;
    int n;
    const mgov__spill_footer_t *footer; /* NULL: the true totals */
} craft_t;

/* Builds a file with valid checksums from c; returns its length. */
static size_t craft_file(const craft_t *c, unsigned char *out)
{
    mgov__spill_fhdr_t fh = { .codec = c->codec, .block_size = c->block_size };
    mgov__spill_fhdr_encode(out, &fh);
    size_t pos = MGOV__SPILL_FILE_HDR;
    mgov__spill_footer_t tot = { 0, 0, 0 };
    for (int i = 0; i < c->n; i++) {
        const craft_block_t *b = &c->blocks[i];
        size_t have = b->have ? b->have : b->stored_len;
        unsigned char *data = out + pos + MGOV__SPILL_BLOCK_HDR;
        if (b->data)
            memcpy(data, b->data, have);
        else
            memset(data, 0, have);
        mgov__spill_bhdr_t h = { .raw_len = b->raw_len,
                                 .stored_len = b->stored_len,
                                 .codec = b->codec,
                                 .seq = b->seq < 0 ? (uint32_t)i : (uint32_t)b->seq,
                                 .data_crc = mgov__crc32c(0, data, have) };
        mgov__spill_bhdr_encode(out + pos, &h);
        pos += MGOV__SPILL_BLOCK_HDR + have;
        tot.blocks++;
        tot.raw_bytes += b->raw_len;
        tot.stored_bytes += have;
    }
    mgov__spill_bhdr_t end = { .seq = (uint32_t)c->n };
    mgov__spill_bhdr_encode(out + pos, &end);
    pos += MGOV__SPILL_BLOCK_HDR;
    mgov__spill_footer_encode(out + pos, c->footer ? c->footer : &tot);
    return pos + MGOV__SPILL_FOOTER;
}

/* Reads a crafted file with a small governor attached: an attempt to
 * charge a huge buffer would show as ELIMIT, not ECORRUPT. */
static int read_crafted(const craft_t *c, const void *expect, size_t n)
{
    static unsigned char buf[256 * 1024];
    size_t len = craft_file(c, buf);
    mgov_t *gov = gh_gov_new(8 * MiB, NULL);
    int fd = memfd_with(buf, len);
    int rc = read_fd(fd, MiB, gov, expect, n);
    close(fd);
    assert_int_equal(mgov_used(gov), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    return rc;
}

static void test_crafted_files(void **state)
{
    (void)state;
    static unsigned char a[8192], z[8192];
    sh_fill(a, sizeof a, 31, false);
    const uint32_t bs = 4096;

    /* the crafter makes good files */
    craft_block_t good[2] = { { 4096, 4096, 0, a, 0, -1 }, { 100, 100, 0, a + 4096, 0, -1 } };
    craft_t c = { 0, bs, good, 2, NULL };
    assert_int_equal(read_crafted(&c, a, 4196), MGOV_OK);
    craft_t empty = { 0, bs, NULL, 0, NULL };
    assert_int_equal(read_crafted(&empty, a, 0), MGOV_OK);

    /* block sizes: huge, too small, above max_block (1 MiB here) */
    const uint32_t bad_bs[] = { 0xffffffffu, (uint32_t)(64 * MiB + 1), 2 * MiB, 4095, 0 };
    for (int i = 0; i < 5; i++) {
        c.block_size = bad_bs[i];
        assert_int_equal(read_crafted(&c, a, 4196), MGOV_ECORRUPT);
    }
    c.block_size = bs;

    /* codec ids: unknown in the header; in a block, not the file's */
    for (int id = 3; id < 256; id += 84) {
        c.codec = (uint8_t)id;
        assert_int_equal(read_crafted(&c, a, 4196), MGOV_ECORRUPT);
    }
    c.codec = 0;
    craft_block_t mixed[1] = { { 100, 50, MGOV_CODEC_LZ4, a, 0, -1 } };
    craft_t cm = { 0, bs, mixed, 1, NULL };
    assert_int_equal(read_crafted(&cm, a, 100), MGOV_ECORRUPT);
    for (int id = MGOV_CODEC_LZ4; id <= MGOV_CODEC_ZSTD; id++)
        if (!mgov_codec_available((mgov_codec_t)id)) { /* a good file this build cannot read */
            c.codec = (uint8_t)id;
            assert_int_equal(read_crafted(&c, a, 4196), MGOV_ENOTSUP);
            c.codec = 0;
        }

    /* lengths: raw_len above the block size (the totals still fit) */
    craft_block_t big_raw[2] = { { 5000, 5000, 0, a, 0, -1 }, { 100, 100, 0, a, 0, -1 } };
    craft_t cb = { 0, bs, big_raw, 2, NULL };
    assert_int_equal(read_crafted(&cb, a, 5100), MGOV_ECORRUPT);
    /* huge raw_len / stored_len in a block whose file holds few bytes */
    craft_block_t huge[1] = { { 0xffffffffu, 100, 0, a, 100, -1 } };
    craft_t ch = { 0, bs, huge, 1, NULL };
    assert_int_equal(read_crafted(&ch, a, 100), MGOV_ECORRUPT);
    huge[0] = (craft_block_t){ 100, 0xfffffff0u, 0, a, 100, -1 };
    assert_int_equal(read_crafted(&ch, a, 100), MGOV_ECORRUPT);
    huge[0] = (craft_block_t){ 0xffffffffu, 0xffffffffu, 0, a, 100, -1 };
    assert_int_equal(read_crafted(&ch, a, 100), MGOV_ECORRUPT);
    /* raw_len 0 where a block should be, stored_len != raw_len when raw */
    huge[0] = (craft_block_t){ 100, 99, 0, a, 0, -1 };
    assert_int_equal(read_crafted(&ch, a, 100), MGOV_ECORRUPT);
    huge[0] = (craft_block_t){ 100, 101, 0, a, 0, -1 };
    assert_int_equal(read_crafted(&ch, a, 100), MGOV_ECORRUPT);
    /* blocks out of order */
    craft_block_t swapped[2] = { { 4096, 4096, 0, a, 0, 1 }, { 100, 100, 0, a + 4096, 0, 0 } };
    craft_t cs = { 0, bs, swapped, 2, NULL };
    assert_int_equal(read_crafted(&cs, a, 4196), MGOV_ECORRUPT);

    /* footers that disagree with the blocks (valid checksums) */
    const mgov__spill_footer_t feet[] = {
        { 3, 4196, 4196 },                   /* one block too many: size mismatch */
        { 1, 4196, 4196 + 24 },              /* one too few */
        { 2, 4197, 4196 },                   /* raw total off by one */
        { 2, UINT64_MAX, 4196 },             /* huge */
        { UINT64_MAX / 24, 4196, 4196 },     /* huge count */
        { 2, 4196 - 1, 4196 },               /* stored > raw */
        { 2, 3 * 4096, 4196 },               /* raw above what 2 blocks hold */
    };
    for (size_t i = 0; i < sizeof feet / sizeof feet[0]; i++) {
        craft_t cf = { 0, bs, good, 2, &feet[i] };
        assert_int_equal(read_crafted(&cf, a, 4196), MGOV_ECORRUPT);
    }

    /* compressed blocks */
    memset(z, 'q', sizeof z);
    for (int id = MGOV_CODEC_LZ4; id <= MGOV_CODEC_ZSTD; id++) {
        if (!mgov_codec_available((mgov_codec_t)id))
            continue;
        mgov__cctx_t *cc;
        assert_int_equal(mgov__cctx_new((mgov_codec_t)id, 0, bs, &cc), MGOV_OK);
        unsigned char packed[4096];
        size_t plen;
        assert_int_equal(mgov__compress(cc, z, 4096, packed, sizeof packed, &plen), MGOV_OK);
        mgov__cctx_free(cc);
        assert_true(plen > 0 && plen < 4096);
        craft_block_t pb[1] = { { 4096, (uint32_t)plen, (uint8_t)id, packed, 0, -1 } };
        craft_t cp = { (uint8_t)id, bs, pb, 1, NULL };
        assert_int_equal(read_crafted(&cp, z, 4096), MGOV_OK);
        pb[0].raw_len = 4095; /* decodes to more than it says */
        assert_int_equal(read_crafted(&cp, z, 4095), MGOV_ECORRUPT);
        pb[0].raw_len = 4096;
        craft_block_t pb2[2] = { { 4096, (uint32_t)plen, (uint8_t)id, packed, 0, -1 },
                                 { 100, 100, 0, z, 0, -1 } };
        craft_t cp2 = { (uint8_t)id, bs, pb2, 2, NULL };
        pb2[0].raw_len = 4096; /* fine */
        assert_int_equal(read_crafted(&cp2, z, 4196), MGOV_OK);
        pb2[1].raw_len = 200; /* a raw block must be exactly its stored bytes */
        assert_int_equal(read_crafted(&cp2, z, 4296), MGOV_ECORRUPT);
        /* a block "compressed" to no smaller than itself */
        craft_block_t same[1] = { { 100, 100, (uint8_t)id, z, 0, -1 } };
        craft_t csame = { (uint8_t)id, bs, same, 1, NULL };
        assert_int_equal(read_crafted(&csame, z, 100), MGOV_ECORRUPT);
        /* garbage that is not the codec's format, with a valid checksum */
        craft_block_t junk[1] = { { 4096, 500, (uint8_t)id, a, 0, -1 } };
        craft_t cj = { (uint8_t)id, bs, junk, 1, NULL };
        assert_int_equal(read_crafted(&cj, a, 4096), MGOV_ECORRUPT);
        /* the codec's data cut short */
        craft_block_t cut[1] = { { 4096, (uint32_t)plen - 1, (uint8_t)id, packed, 0, -1 } };
        craft_t cc2 = { (uint8_t)id, bs, cut, 1, NULL };
        assert_int_equal(read_crafted(&cc2, z, 4096), MGOV_ECORRUPT);
    }

    /* too small to be a file */
    int fd = memfd_with("MGOVSPL", 8);
    assert_int_equal(read_fd(fd, 0, NULL, a, 0), MGOV_ECORRUPT);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(read_fd(fd, 0, NULL, a, 0), MGOV_ECORRUPT);
    close(fd);
    assert_clean(dir);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_codec_names),
        T(test_argument_errors),
        T(test_round_trips),
        T(test_codec_levels),
        T(test_views),
        T(test_read_some),
        T(test_concurrent_readers),
        T(test_open_fd_fresh_reader),
        T(test_abort),
        T(test_quota_mid_write),
        T(test_injected_write_errors),
        T(test_injected_open_and_read_errors),
        T(test_alloc_faults),
        T(test_budget_refusals),
        T(test_charges),
        T(test_every_byte_flipped),
        T(test_every_truncation),
        T(test_crafted_files),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
