/* test_section_file.c - damaged section files (src/tier/section_file.c):
 * a flipped data byte found by the first pin or the first reload, a
 * damaged header, a truncated file and a missing one.  Each is
 * MGOV_ECORRUPT where it belongs (listed, opened, pinned, reloaded,
 * written), the healthy sections beside them do not notice, removing a bad
 * one frees its name, and the next governor finds only the good ones.  A
 * FIFO in a file's place is damage too, found without waiting on it; a
 * file that cannot be read (EACCES) is not (MGOV_EIO); a crafted length
 * does not wrap the listed disk bytes.
 *
 * Every test runs in a fresh scratch directory ($TMPDIR points at it); the
 * persistent spill directory is <scratch>/store (persist_helpers.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "memgov.h"
#include "persist_helpers.h"
#include "sys/fault.h"

/* ============================================================== corruption */

enum { B_GOOD1, B_GOOD2, B_DATA_PIN, B_DATA_RELOAD, B_HEADER, B_TRUNC, B_GONE, B_N };
static const char *const bad_names[B_N] = {
    [B_GOOD1] = "good one",    [B_GOOD2] = "good-2",  [B_DATA_PIN] = "data pin-1",
    [B_DATA_RELOAD] = "data-reload", [B_HEADER] = "header 3", [B_TRUNC] = "trunc-4",
    [B_GONE] = "gone 5",
};
static const size_t bad_len[B_N] = {
    [B_GOOD1] = 5000,        [B_GOOD2] = 3 * 4096, [B_DATA_PIN] = 20000,
    [B_DATA_RELOAD] = 20000, [B_HEADER] = 3000,    [B_TRUNC] = 7000,
    [B_GONE] = 100,
};

static void expect_unavailable(mgov_t *gov, const char *name)
{
    mgov_section_t *s = (mgov_section_t *)&s;
    int rc = mgov_section_open(gov, name, NULL, &s);
    if (rc != MGOV_ECORRUPT)
        ph_check_fail(__FILE__, __LINE__, "opening '%s': %s, expected MGOV_ECORRUPT", name,
                      mgov_status_name(rc));
    PH_CHECK(s == NULL);
}

static int listed_status(mgov_t *gov, const char *name)
{
    ph_listing_t l;
    ph_sec_list(gov, &l);
    const mgov_section_info_t *in = ph_listing_find(&l, name);
    PH_CHECK(in != NULL);
    return in->status;
}

static void test_corrupt_sections(void **state)
{
    (void)state;
    ph_blob_t data[B_N];
    uint64_t gen[B_N];
    char path[B_N][PATH_MAX];
    for (int i = 0; i < B_N; i++)
        data[i] = ph_blob_new(bad_len[i], 200 + (uint64_t)i);

    mgov_t *gov = ph_gov_open();
    for (int i = 0; i < B_N; i++)
        ph_sec_put(gov, bad_names[i], &data[i]);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, B_N);
    for (int i = 0; i < B_N; i++) {
        gen[i] = ph_listing_find(&l, bad_names[i])->generation;
        char f[256];
        ph_secfile_name(f, sizeof f, bad_names[i], gen[i]);
        ph_store_path(path[i], sizeof path[i], f);
        PH_CHECK(ph_exists(path[i]));
    }
    ph_gov_close(gov);

    /* the damage: data (the header still checks), header, size, presence */
    ph_flip_byte(path[B_DATA_PIN], (off_t)(PH_HDR + 12345));
    ph_flip_byte(path[B_DATA_RELOAD], (off_t)(PH_HDR + bad_len[B_DATA_RELOAD] - 1));
    ph_flip_byte(path[B_HEADER], 50); /* the name's zero padding: only the header crc sees it */
    PH_CHECK(truncate(path[B_TRUNC], (off_t)(PH_HDR + bad_len[B_TRUNC] - 1)) == 0);
    PH_CHECK(unlink(path[B_GONE]) == 0);

    gov = ph_gov_open();
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, B_N); /* all still known, the bad ones unavailable */
    for (int i = 0; i < B_N; i++) {
        const mgov_section_info_t *in = ph_listing_find(&l, bad_names[i]);
        PH_CHECK(in != NULL);
        PH_CHECK_U64(in->generation, gen[i]);
        PH_CHECK(in->tier == MGOV_TIER_ON_DISK);
        bool header_bad = i == B_HEADER || i == B_TRUNC || i == B_GONE;
        if (in->status != (header_bad ? MGOV_ECORRUPT : MGOV_OK))
            ph_check_fail(__FILE__, __LINE__, "'%s' listed with status %s", bad_names[i],
                          mgov_status_name(in->status));
    }
    expect_unavailable(gov, bad_names[B_HEADER]);
    expect_unavailable(gov, bad_names[B_TRUNC]);
    expect_unavailable(gov, bad_names[B_GONE]);

    /* the healthy ones */
    mgov_section_t *good[2];
    for (int i = 0; i < 2; i++) {
        good[i] = ph_sec_open(gov, bad_names[B_GOOD1 + i], MGOV_TIER_ON_DISK);
        ph_sec_expect(good[i], &data[B_GOOD1 + i]);
    }

    /* bad data found by the first pin */
    mgov_section_t *s = ph_sec_open(gov, bad_names[B_DATA_PIN], MGOV_TIER_ON_DISK);
    PH_CHECK_U64(mgov_section_length(s), bad_len[B_DATA_PIN]);
    mgov_section_view_t v = { (void *)&v, 7 };
    PH_CHECK_RC(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    PH_CHECK(v.data == NULL && v.len == 0);
    PH_CHECK_RC(listed_status(gov, bad_names[B_DATA_PIN]), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_reload(s, -1), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_append(s, "x", 1), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_write(s, 0, "x", 1), MGOV_ECORRUPT);
    PH_CHECK_U64(mgov_section_length(s), bad_len[B_DATA_PIN]);
    PH_CHECK_RC(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_remove(gov, bad_names[B_DATA_PIN]), MGOV_EBUSY); /* open */
    ph_sec_close(s);
    expect_unavailable(gov, bad_names[B_DATA_PIN]);

    /* bad data found by the first reload */
    s = ph_sec_open(gov, bad_names[B_DATA_RELOAD], MGOV_TIER_ON_DISK);
    PH_CHECK_RC(mgov_section_reload(s, -1), MGOV_ECORRUPT);
    PH_CHECK(mgov_section_tier(s) == MGOV_TIER_ON_DISK);
    PH_CHECK_RC(listed_status(gov, bad_names[B_DATA_RELOAD]), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_reload(s, -1), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_append(s, "x", 1), MGOV_ECORRUPT);
    ph_sec_close(s);
    expect_unavailable(gov, bad_names[B_DATA_RELOAD]);

    /* the healthy ones did not notice */
    for (int i = 0; i < 2; i++) {
        ph_sec_expect(good[i], &data[B_GOOD1 + i]);
        PH_CHECK_RC(mgov_section_reload(good[i], -1), MGOV_OK);
        ph_sec_expect(good[i], &data[B_GOOD1 + i]);
        ph_sec_close(good[i]);
    }

    /* removing the bad ones frees their names */
    for (int i = B_DATA_PIN; i < B_N; i++) {
        PH_CHECK_RC(mgov_section_remove(gov, bad_names[i]), MGOV_OK);
        PH_CHECK_RC(mgov_section_remove(gov, bad_names[i]), MGOV_ENOTFOUND);
        PH_CHECK(!ph_exists(path[i]));
        s = ph_sec_open(gov, bad_names[i], MGOV_TIER_UNINITIALIZED);
        PH_CHECK_U64(mgov_section_length(s), 0);
        PH_CHECK(ph_sec_equals(s, NULL, 0));
        ph_sec_close(s);
    }
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 2);
    ph_dir_check(&l, true, NULL);
    ph_gov_close(gov);

    /* and the next governor finds only the good ones */
    gov = ph_gov_open();
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 2);
    for (int i = 0; i < 2; i++) {
        const mgov_section_info_t *in = ph_listing_find(&l, bad_names[B_GOOD1 + i]);
        PH_CHECK(in && in->status == MGOV_OK && in->generation == gen[B_GOOD1 + i]);
        s = ph_sec_open(gov, bad_names[B_GOOD1 + i], MGOV_TIER_ON_DISK);
        ph_sec_expect(s, &data[B_GOOD1 + i]);
        ph_sec_close(s);
    }
    ph_dir_check(&l, true, NULL);
    ph_gov_close(gov);
    for (int i = 0; i < B_N; i++)
        ph_blob_free(&data[i]);
}

/* ============================================================ unreadable */

/* A section file that cannot be opened (EACCES: made here by fault
 * injection, since root reads anything) is not damaged: it is MGOV_EIO,
 * never MGOV_ECORRUPT, so nobody is led to remove intact data; the next
 * governor that can read it finds it whole (D10). */
static void test_unreadable_section_file(void **state)
{
    (void)state;
    ph_blob_t a = ph_blob_new(4000, 260), b = ph_blob_new(7000, 261);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "a", &a);
    ph_sec_put(gov, "b", &b);
    ph_gov_close(gov);

    gov = ph_gov_open();
    mgov_spill_dir_t *d;
    PH_CHECK_RC(mgov_spill_dir_get(gov, &d), MGOV_OK); /* its opens done */
    /* the store's first open is the manifest; every one after it fails */
    mgov__fault_arm_errno(MGOV_FAULT_OPEN, 1, -1, EACCES);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    mgov__fault_disarm_all();
    PH_CHECK_U64(l.n, 2);
    for (unsigned i = 0; i < 2; i++)
        if (l.info[i].status != MGOV_EIO)
            ph_check_fail(__FILE__, __LINE__, "'%s' listed with status %s, expected EIO",
                          l.info[i].name, mgov_status_name(l.info[i].status));
    mgov_section_t *s = (mgov_section_t *)&s;
    PH_CHECK_RC(mgov_section_open(gov, "a", NULL, &s), MGOV_EIO);
    PH_CHECK(s == NULL);
    ph_gov_close(gov);

    gov = ph_gov_open();
    s = ph_sec_open(gov, "a", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &a);
    ph_sec_close(s);
    s = ph_sec_open(gov, "b", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &b);
    ph_sec_close(s);
    ph_sec_list(gov, &l);
    ph_dir_check(&l, true, NULL);
    ph_gov_close(gov);
    ph_blob_free(&a);
    ph_blob_free(&b);
}

/* A crafted length of 2^64 - 1 in the manifest: the section is damaged,
 * and its listed disk bytes (header + length) do not wrap to 4095. */
static void test_crafted_length(void **state)
{
    (void)state;
    ph_blob_t a = ph_blob_new(4000, 270);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "a", &a);
    ph_gov_close(gov);
    char mpath[PATH_MAX];
    ph_store_path(mpath, sizeof mpath, PH_MANIFEST);
    ph_manifest_set_u64(mpath, 24 + 8, UINT64_MAX); /* the first entry's length */

    gov = ph_gov_open();
    ph_listing_t l;
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 1);
    PH_CHECK_RC(l.info[0].status, MGOV_ECORRUPT);
    PH_CHECK_U64(l.info[0].length, UINT64_MAX);
    PH_CHECK(l.info[0].disk_bytes >= l.info[0].length); /* saturated, not wrapped */
    expect_unavailable(gov, "a");
    PH_CHECK_RC(mgov_section_remove(gov, "a"), MGOV_OK);
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 0);
    ph_dir_check(&l, true, NULL);
    ph_gov_close(gov);
    ph_blob_free(&a);
}

/* ================================================================= a FIFO */

/* A FIFO named like a section's file: checking it at open must not wait
 * for a writer; the section is unavailable (MGOV_ECORRUPT), its neighbour
 * is not, and removing it drops the name. */
static void fifo_file_child(void *arg)
{
    const ph_blob_t *good = arg;
    mgov_t *gov = ph_gov_open();
    PH_CHECK_RC(listed_status(gov, "fifo"), MGOV_ECORRUPT);
    PH_CHECK_RC(listed_status(gov, "good"), MGOV_OK);
    expect_unavailable(gov, "fifo");
    mgov_section_t *s = ph_sec_open(gov, "good", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, good);
    ph_sec_close(s);
    PH_CHECK_RC(mgov_section_remove(gov, "fifo"), MGOV_OK);
    ph_gov_close(gov);
}

static void test_fifo_section_file(void **state)
{
    (void)state;
    ph_blob_t good = ph_blob_new(3000, 250), other = ph_blob_new(2000, 251);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "good", &good);
    ph_sec_put(gov, "fifo", &other);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    char f[256], path[PATH_MAX];
    ph_secfile_name(f, sizeof f, "fifo", ph_listing_find(&l, "fifo")->generation);
    ph_store_path(path, sizeof path, f);
    ph_gov_close(gov);
    PH_CHECK(unlink(path) == 0 && mkfifo(path, 0600) == 0);

    ph_run_child_within(fifo_file_child, &good, 10);
    PH_CHECK(!ph_exists(path));
    gov = ph_gov_open();
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 1);
    ph_dir_check(&l, true, NULL);
    ph_gov_close(gov);
    ph_blob_free(&good);
    ph_blob_free(&other);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ph_setup, ph_teardown)
    const struct CMUnitTest tests[] = {
        T(test_corrupt_sections),
        T(test_fifo_section_file),
        T(test_unreadable_section_file),
        T(test_crafted_length),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
