/* test_spill_reader.c - reading spill files back (src/spill/spill_reader.c):
 * views across blocks and larger than a block, views above max_block,
 * read_some, several readers at once (threads, and interleaved in one
 * thread), a fresh reader from a descriptor, injected open and read errors;
 * and corrupt files: every byte flipped, every truncation, trailing bytes,
 * crafted files with valid checksums (huge lengths and block sizes, wrong
 * codecs, blocks out of order, footers that disagree, bad compressed
 * data).  A corrupt file is MGOV_ECORRUPT, never a crash or a huge
 * allocation.
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
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* ----------------------------------------------------------------- views */

static void test_views(void **state)
{
    (void)state;
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    size_t bs = 4 * KiB, n = 5 * bs + 10;
    unsigned char *data = malloc(n);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, c, c == 1);
        mgov_spill_options_t o = sh_opts(codecs[c], bs);
        mgov_spill_file_t *f = sh_write_file(sh_dir, &o, data, n, 0);

        mgov_spill_reader_t *r = NULL;
        assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_OK);
        const void *p = NULL;
        assert_int_equal(mgov_spill_read_view(r, 0, &p), 1); /* nothing asked */
        assert_non_null(p);
        assert_int_equal(mgov_spill_read_view(r, 100, &p), 1); /* inside block 0 */
        assert_memory_equal(p, data, 100);
        const void *in_block = p;
        assert_int_equal(mgov_spill_read_view(r, bs - 100, &p), 1); /* to its end */
        assert_ptr_equal(p, (const char *)in_block + 100);                 /* zero copy */
        assert_memory_equal(p, data + 100, bs - 100);
        assert_int_equal(mgov_spill_read_view(r, 10, &p), 1); /* block 1 */
        assert_memory_equal(p, data + bs, 10);
        assert_int_equal(mgov_spill_read_view(r, bs, &p), 1); /* across 1 and 2 */
        assert_memory_equal(p, data + bs + 10, bs);
        assert_int_equal(mgov_spill_read_view(r, 2 * bs + 7, &p), 1); /* larger than a block */
        assert_memory_equal(p, data + 2 * bs + 10, 2 * bs + 7);
        size_t pos = 4 * bs + 17, got = 0;
        unsigned char tail[16];
        assert_int_equal(mgov_spill_read(r, tail, 3, &got), 1);
        assert_int_equal(got, 3);
        assert_memory_equal(tail, data + pos, 3);
        pos += 3;
        /* asking for more than is left: some bytes remain, fewer than asked */
        assert_int_equal(mgov_spill_read_view(r, n - pos + 1, &p), MGOV_ECORRUPT);
        assert_int_equal(mgov_spill_read(r, tail, 1, &got), MGOV_ECORRUPT); /* dead */
        assert_int_equal(got, 0);
        mgov_spill_reader_close(r);

        /* exactly what is left, then the end */
        assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_OK);
        assert_int_equal(mgov_spill_read_view(r, n, &p), 1); /* the whole file */
        assert_memory_equal(p, data, n);
        assert_int_equal(mgov_spill_read_view(r, 1, &p), 0);
        assert_null(p);
        assert_int_equal(mgov_spill_read_view(r, 1, &p), 0); /* stays there */
        assert_int_equal(mgov_spill_read(r, tail, 5, &got), 0); /* the end */
        assert_int_equal(got, 0);
        mgov_spill_reader_close(r);

        /* views above max_block are refused without harm */
        int fd = open(mgov_spill_file_path(f), O_RDONLY | O_CLOEXEC);
        mgov_spill_reader_config_t rc = MGOV_SPILL_READER_CONFIG_INIT;
        rc.max_block = 2 * bs;
        assert_int_equal(mgov_spill_reader_open_fd(fd, &rc, &r), MGOV_OK);
        close(fd); /* the reader has its own */
        assert_int_equal(mgov_spill_read_view(r, 2 * bs + 1, &p), MGOV_EINVAL);
        assert_int_equal(mgov_spill_read_view(r, 2 * bs, &p), 1);
        assert_memory_equal(p, data, 2 * bs);
        assert_int_equal(sh_read_back(r, data + 2 * bs, n - 2 * bs, 9, 2 * bs), MGOV_OK);
        mgov_spill_reader_close(r);
        mgov_spill_file_destroy(f);
    }
    free(data);
    sh_assert_clean(sh_dir);
}

/* read_some: zero copy, never across a block, 0 bytes only at the end. */
static void test_read_some(void **state)
{
    (void)state;
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    size_t bs = 4 * KiB, n = 3 * bs + 123;
    unsigned char *data = malloc(n);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, 40 + c, c == 1);
        mgov_spill_options_t o = sh_opts(codecs[c], bs);
        mgov_spill_file_t *f = sh_write_file(sh_dir, &o, data, n, 0);
        mgov_spill_reader_t *r = NULL;
        assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_OK);
        const void *p = NULL;
        size_t got = 1, pos = 0;
        assert_int_equal(mgov_spill_read_some(NULL, 1, &p, &got), MGOV_EINVAL);
        assert_int_equal(mgov_spill_read_some(r, 1, NULL, &got), MGOV_EINVAL);
        assert_int_equal(mgov_spill_read_some(r, 0, &p, &got), 1); /* nothing asked */
        assert_int_equal(got, 0);
        assert_int_equal(mgov_spill_read_some(r, 100, &p, &got), 1);
        assert_int_equal(got, 100);
        assert_memory_equal(p, data, 100);
        pos = 100;
        /* asking past the block's end stops at it */
        assert_int_equal(mgov_spill_read_some(r, 2 * bs, &p, &got), 1);
        assert_int_equal(got, bs - 100);
        assert_memory_equal(p, data + pos, got);
        pos += got;
        /* odd pieces to the end: every byte once, in order */
        for (;;) {
            int rc = mgov_spill_read_some(r, 1000, &p, &got);
            assert_true(rc == 0 || rc == 1);
            assert_int_equal(rc == 0, got == 0); /* 0: the end, and only there */
            if (rc == 0)
                break;
            assert_true(got <= 1000);
            assert_true(pos + got <= n);
            assert_memory_equal(p, data + pos, got);
            pos += got;
        }
        assert_int_equal(pos, n);
        assert_int_equal(mgov_spill_read_some(r, 1000, &p, &got), 0); /* stays at the end */
        assert_int_equal(got, 0);
        mgov_spill_reader_close(r);
        mgov_spill_file_destroy(f);
    }
    free(data);
    sh_assert_clean(sh_dir);
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
        j->rc = sh_read_file(j->f, j->data, j->n, j->seed + (uint64_t)k, 20000);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    size_t n = 300 * KiB + 17;
    unsigned char *data = malloc(n);
    sh_fill(data, n, 77, true);
    for (unsigned c = 0; c < nc; c++) {
        mgov_spill_options_t o = sh_opts(codecs[c], 16 * KiB);
        mgov_spill_file_t *f = sh_write_file(sh_dir, &o, data, n, 4000);
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
        assert_int_equal(mgov_spill_reader_open(f, NULL, &a), MGOV_OK);
        assert_int_equal(mgov_spill_reader_open(f, NULL, &b), MGOV_OK);
        unsigned char x[5000], y[7000];
        size_t pa = 0, pb = 0, got;
        while (pa < n || pb < n) {
            assert_int_equal(mgov_spill_read(a, x, sizeof x, &got), pa < n);
            assert_memory_equal(x, data + pa, got);
            pa += got;
            assert_int_equal(mgov_spill_read(b, y, sizeof y, &got), pb < n);
            assert_memory_equal(y, data + pb, got);
            pb += got;
        }
        mgov_spill_reader_close(a);
        mgov_spill_reader_close(b);
        mgov_spill_file_destroy(f);
    }
    free(data);
    sh_assert_clean(sh_dir);
}

static void test_open_fd_fresh_reader(void **state)
{
    (void)state;
    size_t n = 50 * KiB + 3;
    unsigned char *data = malloc(n);
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, 100 + c, c > 0);
        mgov_spill_options_t o = sh_opts(codecs[c], 8 * KiB);
        mgov_spill_file_t *f = sh_write_file(sh_dir, &o, data, n, 0);
        int fd = open(mgov_spill_file_path(f), O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(sh_read_fd(fd, 0, NULL, data, n), MGOV_OK);
        assert_int_equal(sh_read_fd(fd, 8 * KiB, NULL, data, n), MGOV_OK);
        /* a reader that refuses blocks this large */
        assert_int_equal(sh_read_fd(fd, 4 * KiB, NULL, data, n), MGOV_ECORRUPT);
        close(fd);
        mgov_spill_file_destroy(f);
    }
    free(data);
    sh_assert_clean(sh_dir);
}

static void test_injected_open_and_read_errors(void **state)
{
    (void)state;
    mgov_spill_writer_t *w = NULL;
    mgov__fault_arm(MGOV_FAULT_OPEN, 0, 1);
    errno = 0;
    assert_int_equal(mgov_spill_writer_create(sh_dir, NULL, &w), MGOV_EIO);
    assert_int_equal(errno, EIO);
    assert_null(w);
    mgov__fault_arm_errno(MGOV_FAULT_OPEN, 0, 1, EDQUOT);
    assert_int_equal(mgov_spill_writer_create(sh_dir, NULL, &w), MGOV_ENOSPC);
    mgov__fault_disarm_all();
    sh_assert_clean(sh_dir);

    size_t n = 20 * KiB;
    unsigned char *buf = malloc(n);
    sh_fill(buf, n, 4, false);
    mgov_spill_options_t o = sh_opts(MGOV_CODEC_NONE, 4 * KiB);
    mgov_spill_file_t *f = sh_write_file(sh_dir, &o, buf, n, 0);
    mgov_spill_reader_t *r = NULL;
    for (long at = 0; at < 2; at++) { /* header, footer */
        mgov__fault_arm(MGOV_FAULT_READ, at, 1);
        assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_EIO);
        assert_null(r);
    }
    mgov__fault_arm(MGOV_FAULT_READ, 3, 1); /* the second block */
    assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_OK);
    unsigned char tmp[4 * KiB];
    size_t got;
    assert_int_equal(mgov_spill_read(r, tmp, sizeof tmp, &got), 1);
    assert_int_equal(mgov_spill_read(r, tmp, sizeof tmp, &got), MGOV_EIO);
    mgov__fault_disarm_all();
    assert_int_equal(mgov_spill_read(r, tmp, sizeof tmp, &got), MGOV_EIO); /* dead */
    const void *p;
    assert_int_equal(mgov_spill_read_view(r, 1, &p), MGOV_EIO);
    mgov_spill_reader_close(r);
    assert_int_equal(sh_read_file(f, buf, n, 1, 5000), MGOV_OK); /* the file is fine */
    mgov_spill_file_destroy(f);
    free(buf);
    sh_assert_clean(sh_dir);
}

/* ------------------------------------------------------------ corruption */

/* A finished small file's bytes: three full blocks of 4 KiB and a partial. */
static unsigned char *small_file(mgov_codec_t codec, const unsigned char *data, size_t n,
                                 size_t *len)
{
    mgov_spill_options_t o = sh_opts(codec, 4 * KiB);
    mgov_spill_file_t *f = sh_write_file(sh_dir, &o, data, n, 0);
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
    unsigned nc = sh_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, 21, c > 0); /* compressed blocks for the codecs */
        size_t len;
        unsigned char *bytes = small_file(codecs[c], data, n, &len);
        int fd = sh_memfd_with(bytes, len);
        assert_int_equal(sh_read_fd(fd, 0, NULL, data, n), MGOV_OK);
        const unsigned char masks[] = { 0x01, 0x80, 0xff };
        for (size_t i = 0; i < len; i++)
            for (int m = 0; m < 3; m++) {
                unsigned char b = bytes[i] ^ masks[m];
                assert_int_equal(pwrite(fd, &b, 1, (off_t)i), 1);
                int rc = sh_read_fd(fd, 0, NULL, data, n);
                if (rc != MGOV_ECORRUPT)
                    fail_msg("codec %s: byte %zu ^ 0x%02x: %s", mgov_codec_name(codecs[c]), i,
                             masks[m], mgov_status_name(rc));
                assert_int_equal(pwrite(fd, &bytes[i], 1, (off_t)i), 1);
            }
        close(fd);
        free(bytes);
    }
    free(data);
    sh_assert_clean(sh_dir);
}

static void test_every_truncation(void **state)
{
    (void)state;
    size_t n = 3 * 4 * KiB + 1000;
    unsigned char *data = malloc(n);
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    for (unsigned c = 0; c < nc; c++) {
        sh_fill(data, n, 22, c > 0);
        size_t len;
        unsigned char *bytes = small_file(codecs[c], data, n, &len);
        int fd = sh_memfd_with(bytes, len);
        /* trailing bytes after the footer */
        assert_int_equal(pwrite(fd, "\0", 1, (off_t)len), 1);
        assert_int_equal(sh_read_fd(fd, 0, NULL, data, n), MGOV_ECORRUPT);
        assert_int_equal(pwrite(fd, bytes, len, (off_t)len), (ssize_t)len); /* a second copy */
        assert_int_equal(sh_read_fd(fd, 0, NULL, data, n), MGOV_ECORRUPT);
        for (size_t l = len; l-- > 0;) {
            assert_int_equal(ftruncate(fd, (off_t)l), 0);
            int rc = sh_read_fd(fd, 0, NULL, data, n);
            if (rc != MGOV_ECORRUPT)
                fail_msg("codec %s: truncated to %zu of %zu: %s", mgov_codec_name(codecs[c]), l,
                         len, mgov_status_name(rc));
        }
        close(fd);
        free(bytes);
    }
    free(data);
    sh_assert_clean(sh_dir);
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
    int fd = sh_memfd_with(buf, len);
    int rc = sh_read_fd(fd, MiB, gov, expect, n);
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
    int fd = sh_memfd_with("MGOVSPL", 8);
    assert_int_equal(sh_read_fd(fd, 0, NULL, a, 0), MGOV_ECORRUPT);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(sh_read_fd(fd, 0, NULL, a, 0), MGOV_ECORRUPT);
    close(fd);
    sh_assert_clean(sh_dir);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, sh_file_setup, sh_file_teardown)
    const struct CMUnitTest tests[] = {
        T(test_views),
        T(test_read_some),
        T(test_concurrent_readers),
        T(test_open_fd_fresh_reader),
        T(test_injected_open_and_read_errors),
        T(test_every_byte_flipped),
        T(test_every_truncation),
        T(test_crafted_files),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
