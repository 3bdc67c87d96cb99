/* test_spill_buf.c - the memory of spill writers and readers
 * (src/spill/spill_buf.c): the grants that pay for their buffers, in the
 * spill-staging region (region 0 for a governor without one); what they
 * take is what mgov__spill_writer_charge and _reader_charge say; refusals
 * (never fits, not now, after a wait; a refused view leaves the reader
 * usable); and an allocation or mapping failure at every point of a write
 * and read-back (the buffers are mappings of their own).  Every failure must leave no file, no quota and no grant
 * behind.
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

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"
#include "spill/spill_internal.h"
#include "spill_helpers.h"
#include "sys/fault.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define SPILL MGOV_REGION_SPILL_STAGING

/* Writes, finishes, reads back and destroys a file; the first error. */
static int full_cycle(mgov_spill_dir_t *d, mgov_codec_t codec, const unsigned char *data, size_t n)
{
    mgov_spill_options_t o = sh_opts(codec, 4 * KiB);
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
    rc = sh_read_file(f, data, n, 11, 9000);
    mgov_spill_file_destroy(f);
    return rc;
}

static void test_alloc_faults(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    uint64_t before = mgov_used(gov);
    mgov_spill_dir_t *d = sh_dir_with(gov, 0);
    size_t n = 20 * KiB;
    unsigned char *data = malloc(n);
    sh_fill(data, n, 6, true);
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    /* the structures come from the allocator, the buffers are mappings */
    static const int kinds[2] = { MGOV_FAULT_ALLOC, MGOV_FAULT_MMAP };
    static const char *const kind_names[2] = { "allocation", "mapping" };
    for (unsigned c = 0; c < nc; c++)
        for (unsigned kd = 0; kd < 2; kd++) {
            long k;
            int rc = MGOV_ENOMEM;
            for (k = 0; k < 1000 && rc != MGOV_OK; k++) {
                mgov__fault_arm(kinds[kd], k, -1);
                rc = full_cycle(d, codecs[c], data, n);
                long hits = mgov__fault_hits(kinds[kd]);
                mgov__fault_disarm_all();
                if (rc == MGOV_OK)
                    assert_int_equal(hits, 0);
                else
                    assert_int_equal(rc, MGOV_ENOMEM);
                sh_assert_clean(d);
                sh_assert_gov_clean(gov, before);
            }
            assert_int_equal(rc, MGOV_OK);
            print_message("codec %s: %ld %s points\n", mgov_codec_name(codecs[c]), k - 1,
                          kind_names[kd]);
            assert_true(k - 1 >= 2); /* writer, reader; the writer's buffer, the reader's */
        }
    free(data);
    sh_dir_reopen(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_budget_refusals(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(4 * MiB, NULL);
    uint64_t before = mgov_used(gov);
    mgov_spill_dir_t *d = sh_dir_with(gov, 0);
    mgov_spill_options_t o = sh_opts(MGOV_CODEC_NONE, 64 * KiB);
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
    sh_assert_clean(d);
    mgov_grant_release(&hog);
    sh_assert_gov_clean(gov, before);

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
    assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_EBUDGET);
    assert_null(r);
    mgov_grant_release(&hog);
    assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_OK);
    uint64_t with_reader = mgov_used(gov);
    assert_true(with_reader > before);
    hog = gh_take(gov, MGOV_REGION_EXECUTION_BUFFERS, 4 * MiB - with_reader, MGOV_URGENT);
    const void *p;
    assert_int_equal(mgov_spill_read_view(r, 100, &p), 1); /* in a block: no grant */
    assert_int_equal(mgov_spill_read_view(r, 8 * KiB, &p), MGOV_EBUDGET); /* the gather buffer */
    mgov_grant_release(&hog);
    /* refused, not dead: the reader goes on from where it was */
    assert_int_equal(mgov_spill_read_view(r, 8 * KiB, &p), 1);
    assert_memory_equal(p, data + 100, 8 * KiB);
    assert_true(mgov_used(gov) > with_reader);
    assert_int_equal(sh_read_back(r, data + 100 + 8 * KiB, n - 100 - 8 * KiB, 2, 12 * KiB), MGOV_OK);
    mgov_spill_reader_close(r);
    assert_int_equal(mgov_used(gov), before);
    mgov_spill_file_destroy(f);
    sh_assert_clean(d);
    sh_assert_gov_clean(gov, before);

    /* the region: spill_staging, or region 0 for a governor without one */
    mgov_region_config_t regions[2] = { { "heap", 0, 0 }, { "other", 0, 0 } };
    mgov_t *g2 = gh_gov_regions(64 * MiB, regions, 2);
    mgov_spill_dir_close(d);
    d = sh_dir_with(g2, 0);
    assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
    assert_true(gh_region_used(g2, 0) > 0);
    assert_int_equal(gh_region_used(g2, 1), 0);
    mgov_spill_writer_abort(w);
    assert_int_equal(gh_region_used(g2, 0), 0);
    free(data);
    sh_dir_reopen(d);
    assert_int_equal(mgov_destroy(g2), MGOV_OK);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_charges(void **state)
{
    (void)state;
    /* what writers and readers take is what the planning functions say */
    mgov_t *gov = gh_gov_new(256 * MiB, NULL);
    mgov_spill_dir_t *d = sh_dir_with(gov, 0);
    mgov_codec_t codecs[3];
    unsigned nc = sh_codecs(codecs);
    const size_t bss[] = { 4 * KiB, 64 * KiB, 0 };
    size_t n = 3 * MiB;
    unsigned char *data = malloc(n);
    sh_fill(data, n, 17, false);
    for (unsigned c = 0; c < nc; c++)
        for (int b = 0; b < 3; b++) {
            mgov_spill_options_t o = sh_opts(codecs[c], bss[b]);
            mgov_spill_writer_t *w;
            assert_int_equal(mgov_spill_writer_create(d, &o, &w), MGOV_OK);
            assert_int_equal(gh_region_used(gov, SPILL),
                             mgov__spill_writer_charge(codecs[c], 0, bss[b]));
            mgov_spill_file_t *f;
            assert_int_equal(mgov_spill_write(w, data, n), MGOV_OK);
            assert_int_equal(mgov_spill_writer_finish(w, &f), MGOV_OK);
            assert_int_equal(mgov_used(gov), 0);
            mgov_spill_reader_t *r;
            assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_OK);
            assert_int_equal(gh_region_used(gov, SPILL), mgov__spill_reader_charge(codecs[c], bss[b]));
            mgov_spill_reader_close(r);
            mgov_spill_file_destroy(f);
            /* a small file's reader takes less */
            f = sh_write_file(d, &o, data, 100, 0);
            assert_int_equal(mgov_spill_reader_open(f, NULL, &r), MGOV_OK);
            assert_true(gh_region_used(gov, SPILL) <= mgov__spill_reader_charge(codecs[c], 4 * KiB));
            mgov_spill_reader_close(r);
            mgov_spill_file_destroy(f);
        }
    free(data);
    sh_dir_reopen(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, sh_file_setup, sh_file_teardown)
    const struct CMUnitTest tests[] = {
        T(test_alloc_faults),
        T(test_budget_refusals),
        T(test_charges),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
