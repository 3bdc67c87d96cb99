/* test_section_manifest.c - the manifest of a persistent spill directory
 * (src/tier/section_manifest.c): damaged (flipped bytes, truncated, empty)
 * it makes every section call MGOV_ECORRUPT and leaves the directory as it
 * was; repaired, it opens, a file it does not name goes into the
 * quarantine (not deleted) and a half made next manifest is removed.  A
 * FIFO in its place is damage too: no call waits on it.  Orphans: the
 * file of a section the manifest lacks and a generation above the one it
 * names are quarantined, bytes intact, an older generation superseded by
 * a healthy one is removed, files that are not ours are kept; with no
 * manifest at all every section file (the current ones too) is
 * quarantined, beside those already there (a name taken gets a suffix).
 * The quarantine's own calls are tested in test_section_quarantine.c.
 *
 * Every test runs in a fresh scratch directory ($TMPDIR points at it); the
 * persistent spill directory is <scratch>/store (persist_helpers.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "memgov.h"
#include "persist_helpers.h"
#include "spill_helpers.h"

/* =============================================================== manifest */

static void test_corrupt_manifest(void **state)
{
    (void)state;
    ph_blob_t a = ph_blob_new(6000, 300), b = ph_blob_new(4096, 301);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "alpha 1", &a);
    ph_sec_put(gov, "beta-2", &b);
    ph_gov_close(gov);
    /* leftovers a healthy open would remove: a bad manifest must not */
    char ghost[PATH_MAX], tmp[PATH_MAX], mpath[PATH_MAX];
    ph_store_path(ghost, sizeof ghost, "sec-00000000000000ff-ghost");
    ph_store_path(tmp, sizeof tmp, PH_MANIFEST ".tmp");
    ph_store_path(mpath, sizeof mpath, PH_MANIFEST);
    ph_write_file(ghost, "boo", 3);
    ph_write_file(tmp, "half a manifest", 15);
    uint8_t orig[4096];
    size_t mlen = ph_read_file(mpath, orig, sizeof orig);
    PH_CHECK(mlen > 28);

    char before[4096], after[4096];
    sh_list(ph_store, before, sizeof before);
    PH_CHECK(strstr(before, PH_LOCKFILE) == NULL);
    /* flipped bytes (magic, count, next generation, a name, the crc), then
     * truncated (-(n + 1): to n bytes) to 10 bytes and to nothing */
    const long flips[] = { 0, 12, 17, (long)mlen / 2, (long)mlen - 1, -11, -1 };
    for (size_t f = 0; f < sizeof flips / sizeof flips[0]; f++) {
        if (flips[f] >= 0) {
            ph_write_file(mpath, orig, mlen);
            ph_flip_byte(mpath, (off_t)flips[f]);
        } else {
            ph_write_file(mpath, orig, (size_t)-flips[f] - 1);
        }
        uint8_t damaged[4096];
        size_t dlen = ph_read_file(mpath, damaged, sizeof damaged);
        gov = ph_gov_open();
        mgov_section_t *s = (mgov_section_t *)&s;
        PH_CHECK_RC(mgov_section_open(gov, "alpha 1", NULL, &s), MGOV_ECORRUPT);
        PH_CHECK(s == NULL);
        PH_CHECK_RC(mgov_section_open(gov, "new one", NULL, &s), MGOV_ECORRUPT);
        ph_listing_t l;
        PH_CHECK_RC(mgov_section_foreach(gov, ph_listing_cb, &l), MGOV_ECORRUPT);
        PH_CHECK_RC(mgov_section_remove(gov, "beta-2"), MGOV_ECORRUPT);
        ph_gov_close(gov);
        sh_list(ph_store, after, sizeof after);
        if (strcmp(before, after) != 0)
            ph_check_fail(__FILE__, __LINE__, "damage %ld: the store was [%s], now [%s]", flips[f],
                          before, after);
        uint8_t now[4096];
        size_t nlen = ph_read_file(mpath, now, sizeof now);
        PH_CHECK(nlen == dlen && memcmp(now, damaged, dlen) == 0); /* left as it was */
    }

    /* repaired, it opens; now the leftovers go: the half made manifest is
     * removed, the file it does not name is kept aside, whole */
    ph_write_file(mpath, orig, mlen);
    gov = ph_gov_open();
    mgov_section_t *s = ph_sec_open(gov, "alpha 1", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &a);
    ph_sec_close(s);
    s = ph_sec_open(gov, "beta-2", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &b);
    ph_sec_close(s);
    PH_CHECK(!ph_exists(ghost));
    PH_CHECK(!ph_exists(tmp));
    char qghost[PATH_MAX];
    ph_quarantine_path(qghost, sizeof qghost, "sec-00000000000000ff-ghost");
    uint8_t boo[16];
    PH_CHECK(ph_read_file(qghost, boo, sizeof boo) == 3 && memcmp(boo, "boo", 3) == 0);
    PH_CHECK_U64(ph_quarantine_entries(), 1);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 2);
    const char *quarantine[] = { PH_QUARANTINE, NULL };
    ph_dir_check(&l, true, quarantine);
    ph_gov_close(gov);
    ph_blob_free(&a);
    ph_blob_free(&b);
}

/* A FIFO named like the manifest: opening it must not wait for a writer
 * (every section call would hang); it is a damaged manifest. */
static void fifo_manifest_child(void *arg)
{
    (void)arg;
    mgov_t *gov = ph_gov_open();
    mgov_section_t *s = NULL;
    PH_CHECK_RC(mgov_section_open(gov, "alpha", NULL, &s), MGOV_ECORRUPT);
    ph_listing_t l;
    PH_CHECK_RC(mgov_section_foreach(gov, ph_listing_cb, &l), MGOV_ECORRUPT);
    PH_CHECK_RC(mgov_section_remove(gov, "alpha"), MGOV_ECORRUPT);
    ph_gov_close(gov);
}

static void test_fifo_manifest(void **state)
{
    (void)state;
    ph_blob_t a = ph_blob_new(5000, 310);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "alpha", &a);
    ph_gov_close(gov);
    char mpath[PATH_MAX];
    ph_store_path(mpath, sizeof mpath, PH_MANIFEST);
    uint8_t orig[4096];
    size_t mlen = ph_read_file(mpath, orig, sizeof orig);
    PH_CHECK(unlink(mpath) == 0 && mkfifo(mpath, 0600) == 0);
    char before[4096], after[4096];
    sh_list(ph_store, before, sizeof before);

    ph_run_child_within(fifo_manifest_child, NULL, 10);
    sh_list(ph_store, after, sizeof after);
    PH_CHECK(strcmp(before, after) == 0); /* nothing touched */
    struct stat st;
    PH_CHECK(lstat(mpath, &st) == 0 && S_ISFIFO(st.st_mode));

    /* the manifest back: all is there */
    PH_CHECK(unlink(mpath) == 0);
    ph_write_file(mpath, orig, mlen);
    gov = ph_gov_open();
    mgov_section_t *s = ph_sec_open(gov, "alpha", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &a);
    ph_sec_close(s);
    ph_gov_close(gov);
    ph_blob_free(&a);
}

/* ============================================================ generations */

/* Sets the manifest's next generation (offset 16) and, with entry_gen not
 * 0, its first entry's generation (offset 24; docs/section.md). */
static void craft_manifest(const char *mpath, uint64_t next_gen, uint64_t entry_gen)
{
    ph_manifest_set_u64(mpath, 16, next_gen);
    if (entry_gen)
        ph_manifest_set_u64(mpath, 24, entry_gen);
}

/* The next generation must be above every entry's (else the next file
 * could take a live one's name), and handing out generations must never
 * wrap: a put that cannot have a new generation fails, it does not
 * "succeed" into a file the manifest then loses (D7). */
static void test_generations(void **state)
{
    (void)state;
    ph_blob_t a = ph_blob_new(5000, 320), e = ph_blob_new(3000, 321);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "a", &a);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    uint64_t gen = l.info[0].generation;
    ph_gov_close(gov);
    char mpath[PATH_MAX], before[4096], after[4096];
    ph_store_path(mpath, sizeof mpath, PH_MANIFEST);
    uint8_t orig[4096];
    size_t mlen = ph_read_file(mpath, orig, sizeof orig);

    /* not above an entry's: the manifest is damaged, nothing is touched */
    const uint64_t bad_next[][2] = { { gen, 0 }, { gen - 1, 0 }, { 0, 0 },
                                     { UINT64_MAX, UINT64_MAX } };
    for (size_t i = 0; i < sizeof bad_next / sizeof bad_next[0]; i++) {
        ph_write_file(mpath, orig, mlen);
        craft_manifest(mpath, bad_next[i][0], bad_next[i][1]);
        sh_list(ph_store, before, sizeof before);
        gov = ph_gov_open();
        mgov_section_t *s = NULL;
        PH_CHECK_RC(mgov_section_open(gov, "a", NULL, &s), MGOV_ECORRUPT);
        PH_CHECK_RC(mgov_section_open(gov, "e", NULL, &s), MGOV_ECORRUPT);
        ph_gov_close(gov);
        sh_list(ph_store, after, sizeof after);
        PH_CHECK(strcmp(before, after) == 0);
    }

    /* the last generation: what is there stays readable, and a new file
     * is refused (MGOV_EOVERFLOW), in RAM and straight to disk alike */
    ph_write_file(mpath, orig, mlen);
    craft_manifest(mpath, UINT64_MAX, 0);
    gov = ph_gov_open();
    mgov_section_t *s = ph_sec_open(gov, "a", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &a);
    ph_sec_close(s);
    s = ph_sec_open(gov, "e", MGOV_TIER_UNINITIALIZED);
    PH_CHECK_RC(mgov_section_append(s, e.p, e.n), MGOV_OK);
    PH_CHECK_RC(mgov_section_spill(s, 0), MGOV_EOVERFLOW);
    PH_CHECK(mgov_section_tier(s) == MGOV_TIER_IN_MEMORY);
    ph_sec_expect(s, &e); /* still whole in RAM */
    ph_sec_close(s);
    s = ph_sec_open_disk(gov, "e", MGOV_TIER_UNINITIALIZED);
    PH_CHECK_RC(mgov_section_append(s, e.p, e.n), MGOV_EOVERFLOW);
    PH_CHECK_U64(mgov_section_length(s), 0);
    ph_sec_close(s);
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 1);
    ph_dir_check(&l, true, NULL); /* no file of a wrapped generation */
    ph_gov_close(gov);
    gov = ph_gov_open();
    s = ph_sec_open(gov, "a", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &a);
    ph_sec_close(s);
    ph_gov_close(gov);
    ph_blob_free(&a);
    ph_blob_free(&e);
}

/* ================================================================ orphans */

/* Writes "leftover <i>" into the store's `file`. */
static void plant(const char *file, int i)
{
    char p[PATH_MAX], text[32];
    ph_store_path(p, sizeof p, file);
    ph_pf(text, sizeof text, "leftover %d", i);
    ph_write_file(p, text, strlen(text));
}

/* The quarantine's `file` holds exactly what plant(file, i) wrote. */
static void expect_quarantined(const char *file, int i)
{
    char p[PATH_MAX], text[32];
    uint8_t got[64];
    ph_quarantine_path(p, sizeof p, file);
    if (!ph_exists(p))
        ph_check_fail(__FILE__, __LINE__, "'%s' is not in the quarantine", file);
    ph_pf(text, sizeof text, "leftover %d", i);
    size_t n = ph_read_file(p, got, sizeof got);
    if (n != strlen(text) || memcmp(got, text, n) != 0)
        ph_check_fail(__FILE__, __LINE__, "'%s' in the quarantine does not hold '%s'", file, text);
}

static void test_orphans(void **state)
{
    (void)state;
    ph_blob_t k0 = ph_blob_new(5000, 400), k1 = ph_blob_new(6000, 401);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "keep", &k0);
    mgov_section_t *s = ph_sec_open_disk(gov, "keep", MGOV_TIER_ON_DISK);
    PH_CHECK_RC(mgov_section_write(s, 0, k1.p, k1.n), MGOV_OK); /* a second generation, on disk */
    ph_sec_close(s);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 1);
    uint64_t gen = l.info[0].generation;
    PH_CHECK(gen >= 2);
    ph_gov_close(gov);

    /* what a crash leaves: a file of a section the manifest lacks, an older
     * generation of one it has (the reaper's to remove), a newer one (a
     * write cut before its commit), the next manifest half made */
    char files[4][64];
    ph_pf(files[0], sizeof files[0], "sec-00000000000000ff-ghost");
    ph_secfile_name(files[1], sizeof files[1], "keep", gen - 1);
    ph_secfile_name(files[2], sizeof files[2], "keep", gen + 7);
    ph_pf(files[3], sizeof files[3], PH_MANIFEST ".tmp");
    char p[PATH_MAX];
    for (int i = 0; i < 4; i++)
        plant(files[i], i);
    ph_store_path(p, sizeof p, "notes.txt");
    ph_write_file(p, "not ours", 8);

    gov = ph_gov_open();
    s = ph_sec_open(gov, "keep", MGOV_TIER_ON_DISK);
    for (int i = 0; i < 4; i++) {
        ph_store_path(p, sizeof p, files[i]);
        if (ph_exists(p))
            ph_check_fail(__FILE__, __LINE__, "'%s' is still in the store", files[i]);
    }
    expect_quarantined(files[0], 0); /* unnamed: kept aside */
    expect_quarantined(files[2], 2); /* above the current generation: kept aside */
    PH_CHECK_U64(ph_quarantine_entries(), 2); /* superseded and the tmp: removed */
    ph_store_path(p, sizeof p, "notes.txt");
    PH_CHECK(ph_exists(p));
    ph_sec_expect(s, &k1);
    ph_sec_close(s);
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 1);
    PH_CHECK_U64(l.info[0].generation, gen);
    const char *extra[] = { "notes.txt", PH_QUARANTINE, NULL };
    ph_dir_check(&l, true, extra);
    ph_gov_close(gov);

    /* with no manifest at all: every section file goes to the quarantine,
     * the current one too; names already there get a suffix */
    char cur[64];
    ph_secfile_name(cur, sizeof cur, "keep", gen);
    uint8_t kept[16384];
    ph_store_path(p, sizeof p, cur);
    size_t kept_n = ph_read_file(p, kept, sizeof kept);
    ph_store_path(p, sizeof p, PH_MANIFEST);
    PH_CHECK(unlink(p) == 0);
    for (int i = 0; i < 4; i++)
        plant(files[i], 10 + i);
    gov = ph_gov_open();
    s = ph_sec_open(gov, "keep", MGOV_TIER_UNINITIALIZED);
    for (int i = 0; i < 4; i++) {
        ph_store_path(p, sizeof p, files[i]);
        PH_CHECK(!ph_exists(p));
    }
    char again[80];
    expect_quarantined(files[0], 0); /* the first ones, untouched */
    expect_quarantined(files[2], 2);
    ph_pf(again, sizeof again, "%s.1", files[0]);
    expect_quarantined(again, 10);
    ph_pf(again, sizeof again, "%s.1", files[2]);
    expect_quarantined(again, 12);
    expect_quarantined(files[1], 11); /* no healthy newer generation now */
    ph_quarantine_path(p, sizeof p, cur);
    uint8_t moved[16384];
    PH_CHECK(ph_read_file(p, moved, sizeof moved) == kept_n && memcmp(moved, kept, kept_n) == 0);
    PH_CHECK_U64(ph_quarantine_entries(), 6);
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 1);
    PH_CHECK(l.info[0].open && l.info[0].generation == 0 &&
             l.info[0].tier == MGOV_TIER_UNINITIALIZED);
    ph_dir_check(&l, false, extra);
    ph_sec_close(s);
    ph_gov_close(gov);
    ph_blob_free(&k0);
    ph_blob_free(&k1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ph_setup, ph_teardown)
    const struct CMUnitTest tests[] = {
        T(test_corrupt_manifest),
        T(test_fifo_manifest),
        T(test_generations),
        T(test_orphans),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
