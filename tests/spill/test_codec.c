/* test_codec.c - the codecs of spill blocks (src/spill/codec.c): names and
 * parsing, availability in this build, and compression levels (out of range
 * ones clamped) on files written and read back.
 *
 * Every test runs with the fixture of spill_helpers.h (a standalone spill
 * directory in a scratch TMPDIR; the teardown disarms faults and checks that
 * no file and no quota are left).  Builds without lz4 or zstd (the TSan
 * configuration) check that those codecs are MGOV_ENOTSUP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "memgov.h"
#include "spill_helpers.h"

#define KiB ((size_t)1 << 10)

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
            mgov_spill_options_t o = sh_opts((mgov_codec_t)c, 16 * KiB);
            o.level = levels[i]; /* out-of-range levels are clamped */
            mgov_spill_file_t *f = sh_write_file(sh_dir, &o, data, n, 0);
            if (levels[i] >= -5) /* the fastest settings may not compress at all */
                assert_true(mgov_spill_file_stored_bytes(f) < n);
            assert_int_equal(sh_read_file(f, data, n, 3, 0), MGOV_OK);
            mgov_spill_file_destroy(f);
        }
    }
    free(data);
    sh_assert_clean(sh_dir);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, sh_file_setup, sh_file_teardown)
    const struct CMUnitTest tests[] = {
        T(test_codec_names),
        T(test_codec_levels),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
