/* test_section_quarantine.c - the quarantine of a persistent spill
 * directory (src/tier/section_quarantine.c): opening a directory whose
 * manifest is missing, or names other sections, moves the section files
 * aside, bytes intact, each an event and counted in the stats, never
 * deleted; a generation superseded by a healthy newer one is removed, one
 * whose newer file is damaged is kept aside; the same name quarantined
 * twice keeps both.  Listing checks headers and data and reports only
 * regular files without blocking on a FIFO; restore makes a file an
 * ordinary section again under a new generation (or another name), and
 * refuses a name in use, a damaged file and bad names, changing nothing;
 * discard deletes for good.  Squatters (a directory or symlink named like
 * the next generation's file, a directory as sec-manifest.tmp) no longer
 * wedge writes (D11).  Injected failures of the mkdir and rename paths
 * leave every file where it was, never lost.
 *
 * Every test runs in a fresh scratch directory ($TMPDIR points at it); the
 * persistent spill directory is <scratch>/store (persist_helpers.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "memgov.h"
#include "persist_helpers.h"
#include "sys/fault.h"

/* A whole file, malloc'ed (free it); its length in *n. */
static uint8_t *slurp(const char *path, size_t *n)
{
    struct stat sb;
    PH_CHECK(lstat(path, &sb) == 0 && S_ISREG(sb.st_mode));
    uint8_t *b = malloc((size_t)sb.st_size + 1);
    PH_CHECK(b != NULL);
    *n = ph_read_file(path, b, (size_t)sb.st_size + 1);
    return b;
}

/* path holds exactly b[0, n). */
static bool same_bytes(const char *path, const uint8_t *b, size_t n)
{
    size_t m;
    uint8_t *got = slurp(path, &m);
    bool eq = m == n && memcmp(got, b, n) == 0;
    free(got);
    return eq;
}

/* Puts the sections, and the name of each one's file into files[i]. */
static void put_all(const char *const *names, const ph_blob_t *blobs, int n, char files[][64])
{
    mgov_t *gov = ph_gov_open();
    for (int i = 0; i < n; i++)
        ph_sec_put(gov, names[i], &blobs[i]);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    for (int i = 0; i < n; i++)
        ph_secfile_name(files[i], 64, names[i], ph_listing_find(&l, names[i])->generation);
    ph_gov_close(gov);
}

static void drop_manifest(void)
{
    char p[PATH_MAX];
    ph_store_path(p, sizeof p, PH_MANIFEST);
    PH_CHECK(unlink(p) == 0);
}

static uint64_t quarantined_stat(mgov_t *gov)
{
    mgov_stats_t st;
    PH_CHECK_RC(mgov_stats(gov, &st), MGOV_OK);
    return st.sections_quarantined;
}

static const char *const q_extra[] = { PH_QUARANTINE, NULL };

static void count_cb(void *arg, const mgov_section_quarantined_t *q)
{
    (void)q;
    ((ph_qlisting_t *)arg)->n++;
}

/* ========================================================== missing manifest */

/* No manifest: every section file is moved aside, bytes intact, each one an
 * event and counted; nothing is listed, nothing deleted; a later open has
 * nothing more to move; and a restore brings one back. */
static void test_missing_manifest(void **state)
{
    (void)state;
    const char *names[3] = { "alpha", "beta 2", "gamma-3" };
    ph_blob_t b[3] = { ph_blob_new(6000, 500), ph_blob_new(70000, 501), ph_blob_new(1, 502) };
    char files[3][64];
    put_all(names, b, 3, files);
    uint8_t *bytes[3];
    size_t len[3];
    char p[PATH_MAX];
    for (int i = 0; i < 3; i++) {
        ph_store_path(p, sizeof p, files[i]);
        bytes[i] = slurp(p, &len[i]);
    }
    drop_manifest();

    ph_events_t ev;
    mgov_t *gov = ph_gov_events(&ev);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 0);
    PH_CHECK_U64(ev.n, 3);
    PH_CHECK_U64(ev.failed, 0);
    PH_CHECK_U64(quarantined_stat(gov), 3);
    for (int i = 0; i < 3; i++) {
        bool seen = false;
        for (unsigned e = 0; e < 3; e++)
            if (strcmp(ev.names[e], files[i]) == 0) {
                seen = true;
                PH_CHECK_U64(ev.bytes[e], PH_HDR + b[i].n);
            }
        PH_CHECK(seen);
        ph_store_path(p, sizeof p, files[i]);
        PH_CHECK(!ph_exists(p));
        ph_quarantine_path(p, sizeof p, files[i]);
        PH_CHECK(same_bytes(p, bytes[i], len[i]));
    }
    struct stat sb;
    ph_store_path(p, sizeof p, PH_QUARANTINE);
    PH_CHECK(lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
    ph_dir_check(&l, false, q_extra);

    ph_qlisting_t ql;
    ph_qlist(gov, &ql);
    PH_CHECK_U64(ql.n, 3);
    for (int i = 0; i < 3; i++) {
        const mgov_section_quarantined_t *q = ph_qlisting_find(&ql, files[i]);
        PH_CHECK(q && q->status == MGOV_OK && q->name && strcmp(q->name, names[i]) == 0);
        PH_CHECK_U64(q->length, b[i].n);
        PH_CHECK_U64(q->disk_bytes, PH_HDR + b[i].n);
        PH_CHECK(q->generation >= 1);
    }
    ph_gov_close(gov);

    /* nothing more to put aside; one comes back */
    gov = ph_gov_events(&ev);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[1], NULL), MGOV_OK);
    PH_CHECK_U64(ev.n, 0);
    mgov_section_t *s = ph_sec_open(gov, names[1], MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &b[1]);
    ph_sec_close(s);
    ph_gov_close(gov);
    for (int i = 0; i < 3; i++) {
        free(bytes[i]);
        ph_blob_free(&b[i]);
    }
}

/* A manifest that checks but is another directory's: it names sections
 * whose files are not here (unavailable), and the real ones are moved
 * aside, not deleted (what a listing used to do to four real sections). */
static void test_wrong_manifest(void **state)
{
    (void)state;
    const char *names[4] = { "a", "b", "c", "d" };
    ph_blob_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = ph_blob_new(3000 + 1000 * (size_t)i, 510 + (uint64_t)i);
    char files[4][64];
    put_all(names, b, 4, files);
    /* another store's manifest: sections x and y */
    char other[PATH_MAX], om[PATH_MAX], mpath[PATH_MAX];
    ph_pf(other, sizeof other, "%s/other", ph_scratch.ft.root);
    mgov_t *gov = ph_gov_at(other);
    ph_blob_t x = ph_blob_new(500, 520);
    ph_sec_put(gov, "x", &x);
    ph_sec_put(gov, "y", &x);
    ph_gov_close(gov);
    ph_pf(om, sizeof om, "%s/" PH_MANIFEST, other);
    uint8_t m[4096];
    size_t mlen = ph_read_file(om, m, sizeof m);
    ph_store_path(mpath, sizeof mpath, PH_MANIFEST);
    ph_write_file(mpath, m, mlen);
    PH_CHECK_RC(faketree_remove(&ph_scratch.ft, "other"), 0);

    gov = ph_gov_open();
    ph_listing_t l;
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 2);
    PH_CHECK_RC(l.info[0].status, MGOV_ECORRUPT); /* x: no file here */
    PH_CHECK_RC(l.info[1].status, MGOV_ECORRUPT);
    ph_qlisting_t ql;
    ph_qlist(gov, &ql);
    PH_CHECK_U64(ql.n, 4);
    for (int i = 0; i < 4; i++) {
        const mgov_section_quarantined_t *q = ph_qlisting_find(&ql, files[i]);
        PH_CHECK(q && q->status == MGOV_OK && strcmp(q->name, names[i]) == 0);
        PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[i], NULL), MGOV_OK);
    }
    PH_CHECK_RC(mgov_section_remove(gov, "x"), MGOV_OK);
    PH_CHECK_RC(mgov_section_remove(gov, "y"), MGOV_OK);
    ph_gov_close(gov);

    gov = ph_gov_open(); /* as if nothing had happened */
    for (int i = 0; i < 4; i++) {
        mgov_section_t *s = ph_sec_open(gov, names[i], MGOV_TIER_ON_DISK);
        ph_sec_expect(s, &b[i]);
        ph_sec_close(s);
    }
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 4);
    ph_dir_check(&l, true, q_extra);
    PH_CHECK_U64(ph_quarantine_entries(), 0);
    ph_gov_close(gov);
    ph_blob_free(&x);
    for (int i = 0; i < 4; i++)
        ph_blob_free(&b[i]);
}

/* ============================================================ generations */

/* An older generation beside a healthy current one is the reaper's
 * unfinished work: removed.  Beside a damaged current one it may be the
 * only good copy: kept aside, and restorable under another name. */
static void test_superseded(void **state)
{
    (void)state;
    ph_blob_t v1 = ph_blob_new(5000, 530), v2 = ph_blob_new(7000, 531);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "s", &v1);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    uint64_t g1 = l.info[0].generation;
    char f1[64], f2[64], p1[PATH_MAX], p2[PATH_MAX];
    ph_secfile_name(f1, sizeof f1, "s", g1);
    ph_store_path(p1, sizeof p1, f1);
    size_t n1;
    uint8_t *old = slurp(p1, &n1);
    mgov_section_t *s = ph_sec_open_disk(gov, "s", MGOV_TIER_ON_DISK);
    PH_CHECK_RC(mgov_section_write(s, 0, v2.p, v2.n), MGOV_OK);
    ph_sec_close(s);
    ph_sec_list(gov, &l);
    uint64_t g2 = l.info[0].generation;
    PH_CHECK(g2 > g1);
    ph_gov_close(gov);
    ph_secfile_name(f2, sizeof f2, "s", g2);
    ph_store_path(p2, sizeof p2, f2);

    /* a crash before the reaper: the old file is back */
    ph_write_file(p1, old, n1);
    ph_events_t ev;
    gov = ph_gov_events(&ev);
    ph_sec_list(gov, &l);
    PH_CHECK(!ph_exists(p1));
    PH_CHECK_U64(ev.n, 0);
    PH_CHECK_U64(ph_quarantine_entries(), 0);
    ph_dir_check(&l, true, NULL);
    ph_gov_close(gov);

    /* and again, but the current file's header is damaged */
    ph_write_file(p1, old, n1);
    ph_flip_byte(p2, 30);
    gov = ph_gov_events(&ev);
    ph_sec_list(gov, &l);
    PH_CHECK_RC(l.info[0].status, MGOV_ECORRUPT);
    PH_CHECK(!ph_exists(p1));
    PH_CHECK_U64(ev.n, 1);
    PH_CHECK(strcmp(ev.names[0], f1) == 0);
    char q1[PATH_MAX];
    ph_quarantine_path(q1, sizeof q1, f1);
    PH_CHECK(same_bytes(q1, old, n1));
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, f1, NULL), MGOV_EEXIST); /* s is taken */
    PH_CHECK(same_bytes(q1, old, n1));
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, f1, "s before"), MGOV_OK);
    s = ph_sec_open(gov, "s before", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &v1);
    ph_sec_close(s);
    ph_gov_close(gov);
    free(old);
    ph_blob_free(&v1);
    ph_blob_free(&v2);
}

/* The same name quarantined again (a lost manifest restarts generations):
 * both copies kept, the second with a suffix. */
static void test_collision(void **state)
{
    (void)state;
    const char *names[1] = { "c" };
    ph_blob_t b = ph_blob_new(4000, 540);
    char files[1][64], p[PATH_MAX], q[PATH_MAX], q1[PATH_MAX], q2[PATH_MAX];
    put_all(names, &b, 1, files);
    ph_store_path(p, sizeof p, files[0]);
    size_t n;
    uint8_t *first = slurp(p, &n);
    drop_manifest();
    mgov_t *gov = ph_gov_open();
    ph_listing_t l;
    ph_sec_list(gov, &l);
    ph_gov_close(gov);

    /* the same name again, other bytes (a damaged copy), twice */
    uint8_t *second = malloc(n);
    PH_CHECK(second != NULL);
    memcpy(second, first, n);
    second[PH_HDR + 10] ^= 1;
    ph_write_file(p, second, n);
    ph_events_t ev;
    gov = ph_gov_events(&ev);
    ph_sec_list(gov, &l);
    PH_CHECK_U64(ev.n, 1);
    ph_pf(q1, sizeof q1, "%s.1", files[0]);
    PH_CHECK(strcmp(ev.names[0], q1) == 0);
    ph_gov_close(gov);
    ph_write_file(p, first, n);
    gov = ph_gov_open();
    ph_sec_list(gov, &l);
    ph_quarantine_path(q, sizeof q, files[0]);
    PH_CHECK(same_bytes(q, first, n));
    ph_quarantine_path(q1, sizeof q1, files[0]);
    strcat(q1, ".1");
    PH_CHECK(same_bytes(q1, second, n));
    ph_quarantine_path(q2, sizeof q2, files[0]);
    strcat(q2, ".2");
    PH_CHECK(same_bytes(q2, first, n));
    ph_qlisting_t ql;
    ph_qlist(gov, &ql);
    PH_CHECK_U64(ql.n, 3);
    PH_CHECK_RC(ql.q[0].status, MGOV_OK);
    PH_CHECK_RC(ql.q[1].status, MGOV_ECORRUPT); /* the header checks, the data does not */
    PH_CHECK(ql.q[1].name && strcmp(ql.q[1].name, "c") == 0 && ql.q[1].length == b.n);
    PH_CHECK_RC(ql.q[2].status, MGOV_OK);
    ph_gov_close(gov);
    free(first);
    free(second);
    ph_blob_free(&b);
}

/* ================================================================ restore */

static void test_restore(void **state)
{
    (void)state;
    const char *names[2] = { "r1", "r2" };
    ph_blob_t b[2] = { ph_blob_new(9000, 550), ph_blob_new(12000, 551) };
    char files[2][64], q[PATH_MAX];
    put_all(names, b, 2, files);
    drop_manifest();
    mgov_t *gov = ph_gov_open();
    ph_listing_t l;
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 0);
    mgov_spill_dir_t *dir;
    PH_CHECK_RC(mgov_spill_dir_get(gov, &dir), MGOV_OK);
    uint64_t used = mgov_spill_dir_used(dir);

    /* back as an ordinary section: listed, read, charged, a new generation */
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[0], NULL), MGOV_OK);
    ph_quarantine_path(q, sizeof q, files[0]);
    PH_CHECK(!ph_exists(q));
    PH_CHECK_U64(mgov_spill_dir_used(dir), used + PH_HDR + b[0].n);
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 1);
    const mgov_section_info_t *in = ph_listing_find(&l, "r1");
    PH_CHECK(in && in->tier == MGOV_TIER_ON_DISK && in->status == MGOV_OK && !in->open);
    PH_CHECK(in->length == b[0].n && in->generation >= 1);
    mgov_section_t *s = ph_sec_open(gov, "r1", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &b[0]);

    /* its name taken, open or on disk: refused, nothing changes */
    ph_quarantine_path(q, sizeof q, files[1]);
    size_t qn;
    uint8_t *qb = slurp(q, &qn);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[1], "r1"), MGOV_EEXIST); /* open */
    ph_sec_close(s);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[1], "r1"), MGOV_EEXIST); /* on disk */
    PH_CHECK(same_bytes(q, qb, qn));

    /* bad names */
    const char *bad_files[] = { NULL, "", "a/b", ".", "..", "../sec-manifest", "/etc/passwd" };
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        PH_CHECK_RC(mgov_section_quarantine_restore(gov, bad_files[i], NULL), MGOV_EINVAL);
        PH_CHECK_RC(mgov_section_quarantine_discard(gov, bad_files[i]), MGOV_EINVAL);
    }
    const char *bad_as[] = { "", "a/b", ".hidden", "x..y" };
    for (size_t i = 0; i < sizeof bad_as / sizeof bad_as[0]; i++)
        PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[1], bad_as[i]), MGOV_EINVAL);
    PH_CHECK_RC(mgov_section_quarantine_restore(NULL, files[1], NULL), MGOV_EINVAL);
    PH_CHECK_RC(mgov_section_quarantine_foreach(gov, NULL, NULL), MGOV_EINVAL);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, "sec-no-such", NULL), MGOV_ENOTFOUND);
    PH_CHECK(same_bytes(q, qb, qn));

    /* damaged: refused, left as it is (a data byte, then a header byte) */
    char dmg[PATH_MAX];
    ph_quarantine_path(dmg, sizeof dmg, "sec-dmg");
    qb[PH_HDR + 100] ^= 0x40;
    ph_write_file(dmg, qb, qn);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, "sec-dmg", "fine"), MGOV_ECORRUPT);
    PH_CHECK(same_bytes(dmg, qb, qn));
    qb[PH_HDR + 100] ^= 0x40;
    qb[45] ^= 0x40;
    ph_write_file(dmg, qb, qn);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, "sec-dmg", "fine"), MGOV_ECORRUPT);
    PH_CHECK(same_bytes(dmg, qb, qn));
    PH_CHECK_RC(mgov_section_open(gov, "fine", NULL, &s), MGOV_OK); /* no trace of it */
    PH_CHECK(mgov_section_tier(s) == MGOV_TIER_UNINITIALIZED);
    ph_sec_close(s);

    /* under another name: its header says so from now on */
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[1], "r2 new"), MGOV_OK);
    ph_sec_list(gov, &l);
    in = ph_listing_find(&l, "r2 new");
    PH_CHECK(in != NULL);
    char f[64], p[PATH_MAX];
    ph_secfile_name(f, sizeof f, "r2 new", in->generation);
    ph_store_path(p, sizeof p, f);
    size_t n;
    uint8_t *hb = slurp(p, &n);
    PH_CHECK(n == PH_HDR + b[1].n && memcmp(hb + 40, "r2 new", 7) == 0);
    free(hb);
    ph_gov_close(gov);

    /* a later governor finds both, whole */
    gov = ph_gov_open();
    s = ph_sec_open(gov, "r1", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &b[0]);
    ph_sec_close(s);
    s = ph_sec_open(gov, "r2 new", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &b[1]);
    ph_sec_close(s);
    ph_sec_list(gov, &l);
    ph_dir_check(&l, true, q_extra);
    PH_CHECK_U64(ph_quarantine_entries(), 1); /* sec-dmg */
    ph_gov_close(gov);

    /* a private directory has no quarantine to show */
    gov = ph_gov_at(NULL);
    ph_qlisting_t ql;
    PH_CHECK_RC(mgov_section_quarantine_foreach(gov, count_cb, &ql), MGOV_ENOTSUP);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, "sec-dmg", NULL), MGOV_ENOTSUP);
    PH_CHECK_RC(mgov_section_quarantine_discard(gov, "sec-dmg"), MGOV_ENOTSUP);
    ph_gov_close(gov);
    free(qb);
    ph_blob_free(&b[0]);
    ph_blob_free(&b[1]);
}

static void test_discard(void **state)
{
    (void)state;
    const char *names[2] = { "d1", "d2" };
    ph_blob_t b[2] = { ph_blob_new(3000, 560), ph_blob_new(3000, 561) };
    char files[2][64], q[PATH_MAX];
    put_all(names, b, 2, files);
    drop_manifest();
    mgov_t *gov = ph_gov_open();
    PH_CHECK_RC(mgov_section_quarantine_discard(gov, files[0]), MGOV_OK);
    ph_quarantine_path(q, sizeof q, files[0]);
    PH_CHECK(!ph_exists(q));
    PH_CHECK_RC(mgov_section_quarantine_discard(gov, files[0]), MGOV_ENOTFOUND);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[0], NULL), MGOV_ENOTFOUND);
    ph_qlisting_t ql;
    ph_qlist(gov, &ql);
    PH_CHECK(ql.n == 1 && strcmp(ql.files[0], files[1]) == 0);
    PH_CHECK_RC(mgov_section_quarantine_discard(gov, files[1]), MGOV_OK);
    ph_qlist(gov, &ql);
    PH_CHECK_U64(ql.n, 0);
    ph_gov_close(gov);
    ph_blob_free(&b[0]);
    ph_blob_free(&b[1]);
}

/* ============================================================ odd entries */

/* A FIFO, a symlink and a directory in the quarantine: not reported, not
 * restored nor discarded, not waited on, left as they are. */
static void odd_child(void *arg)
{
    const char *file = arg;
    mgov_t *gov = ph_gov_open();
    ph_qlisting_t ql;
    ph_qlist(gov, &ql);
    PH_CHECK(ql.n == 1 && strcmp(ql.files[0], file) == 0 && ql.q[0].status == MGOV_OK);
    const char *odd[] = { "sec-fifo", "sec-link", "sec-dir" };
    for (int i = 0; i < 3; i++) {
        PH_CHECK_RC(mgov_section_quarantine_restore(gov, odd[i], "odd"), MGOV_ENOTFOUND);
        PH_CHECK_RC(mgov_section_quarantine_discard(gov, odd[i]), MGOV_ENOTFOUND);
    }
    ph_gov_close(gov);
}

static void test_odd_entries(void **state)
{
    (void)state;
    const char *names[1] = { "o" };
    ph_blob_t b = ph_blob_new(2000, 570);
    char files[1][64], p[PATH_MAX], target[PATH_MAX];
    put_all(names, &b, 1, files);
    drop_manifest();
    mgov_t *gov = ph_gov_open();
    ph_listing_t l;
    ph_sec_list(gov, &l);
    ph_gov_close(gov);
    ph_quarantine_path(p, sizeof p, "sec-fifo");
    PH_CHECK(mkfifo(p, 0600) == 0);
    ph_pf(target, sizeof target, "%s/target", ph_scratch.ft.root);
    ph_write_file(target, "outside", 7);
    ph_quarantine_path(p, sizeof p, "sec-link");
    PH_CHECK(symlink(target, p) == 0);
    ph_quarantine_path(p, sizeof p, "sec-dir");
    PH_CHECK(mkdir(p, 0700) == 0);

    ph_run_child_within(odd_child, files[0], 10);
    struct stat sb;
    ph_quarantine_path(p, sizeof p, "sec-fifo");
    PH_CHECK(lstat(p, &sb) == 0 && S_ISFIFO(sb.st_mode));
    ph_quarantine_path(p, sizeof p, "sec-link");
    PH_CHECK(lstat(p, &sb) == 0 && S_ISLNK(sb.st_mode));
    ph_quarantine_path(p, sizeof p, "sec-dir");
    PH_CHECK(lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode));
    PH_CHECK(same_bytes(target, (const uint8_t *)"outside", 7));
    PH_CHECK_U64(ph_quarantine_entries(), 4);
    PH_CHECK(unlink(target) == 0);
    ph_blob_free(&b);
}

/* ============================================================== squatters */

/* A directory and a symlink named like the next generations' files, and a
 * directory as sec-manifest.tmp (at open, and again while open): writes go
 * on with fresh generations; the tmp squatter is moved aside, the others
 * are left alone (D11: every put used to fail with an I/O error). */
static void test_squatters(void **state)
{
    (void)state;
    ph_blob_t e0 = ph_blob_new(1000, 580), e1 = ph_blob_new(3000, 581), e2 = ph_blob_new(500, 582);
    mgov_t *gov = ph_gov_open();
    ph_sec_put(gov, "e0", &e0);
    ph_listing_t l;
    ph_sec_list(gov, &l);
    uint64_t g = l.info[0].generation;
    ph_gov_close(gov);
    char f1[64], f2[64], p1[PATH_MAX], p2[PATH_MAX], tmp[PATH_MAX], p[PATH_MAX], target[PATH_MAX];
    ph_secfile_name(f1, sizeof f1, "e", g + 1);
    ph_secfile_name(f2, sizeof f2, "e", g + 2);
    ph_store_path(p1, sizeof p1, f1);
    ph_store_path(p2, sizeof p2, f2);
    ph_pf(target, sizeof target, "%s/target", ph_scratch.ft.root);
    ph_write_file(target, "outside", 7);
    PH_CHECK(mkdir(p1, 0700) == 0 && symlink(target, p2) == 0);
    ph_store_path(tmp, sizeof tmp, PH_MANIFEST ".tmp");
    PH_CHECK(mkdir(tmp, 0700) == 0);
    ph_pf(p, sizeof p, "%s/inside", tmp);
    ph_write_file(p, "in", 2);

    ph_events_t ev;
    gov = ph_gov_events(&ev);
    ph_sec_put(gov, "e", &e1); /* in RAM, then spilled */
    PH_CHECK_U64(ev.n, 1);
    PH_CHECK(strcmp(ev.names[0], PH_MANIFEST ".tmp") == 0 && ev.status[0] == MGOV_OK);
    ph_quarantine_path(p, sizeof p, PH_MANIFEST ".tmp/inside");
    PH_CHECK(same_bytes(p, (const uint8_t *)"in", 2));
    /* while open: a new squatter on the tmp name, and a write on disk */
    PH_CHECK(mkdir(tmp, 0700) == 0);
    mgov_section_t *s = ph_sec_open_disk(gov, "e", MGOV_TIER_ON_DISK);
    PH_CHECK_RC(mgov_section_append(s, e2.p, e2.n), MGOV_OK);
    ph_sec_close(s);
    PH_CHECK_U64(ev.n, 2);
    PH_CHECK(strcmp(ev.names[1], PH_MANIFEST ".tmp.1") == 0);
    ph_qlisting_t ql;
    ph_qlist(gov, &ql);
    PH_CHECK_U64(ql.n, 0); /* directories are not reported */
    ph_gov_close(gov);

    struct stat sb;
    PH_CHECK(lstat(p1, &sb) == 0 && S_ISDIR(sb.st_mode));
    PH_CHECK(lstat(p2, &sb) == 0 && S_ISLNK(sb.st_mode));
    PH_CHECK(same_bytes(target, (const uint8_t *)"outside", 7));
    gov = ph_gov_open();
    ph_blob_t both = ph_blob_patch(&e1, e1.n, e2.n, 0);
    memcpy(both.p + e1.n, e2.p, e2.n);
    s = ph_sec_open(gov, "e", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &both);
    ph_sec_close(s);
    ph_sec_list(gov, &l);
    PH_CHECK(ph_listing_find(&l, "e")->generation > g + 2);
    const char *extra[] = { PH_QUARANTINE, f1, f2, NULL };
    ph_dir_check(&l, true, extra);
    ph_gov_close(gov);
    PH_CHECK(rmdir(p1) == 0 && unlink(p2) == 0 && unlink(target) == 0);
    ph_blob_free(&both);
    ph_blob_free(&e0);
    ph_blob_free(&e1);
    ph_blob_free(&e2);
}

/* ================================================================= faults */

/* The opening fails with `rc` (the kind armed to fail its first call) and
 * every file is still where it was. */
static void open_fails(mgov_fault_kind_t kind, long after, int rc, char files[][64], int n)
{
    ph_events_t ev;
    mgov_t *gov = ph_gov_events(&ev);
    mgov_spill_dir_t *dir;
    PH_CHECK_RC(mgov_spill_dir_get(gov, &dir), MGOV_OK); /* its opens done */
    mgov__fault_arm(kind, after, 1);
    ph_listing_t l;
    memset(&l, 0, sizeof l);
    PH_CHECK_RC(mgov_section_foreach(gov, ph_listing_cb, &l), rc);
    mgov__fault_disarm_all();
    PH_CHECK(ev.failed == 1 && ev.status[ev.n - 1] == rc);
    char p[PATH_MAX];
    for (int i = 0; i < n; i++) {
        ph_store_path(p, sizeof p, files[i]);
        PH_CHECK(ph_exists(p));
    }
    ph_gov_close(gov);
}

static void test_faults(void **state)
{
    (void)state;
    const char *names[2] = { "f1", "f2" };
    ph_blob_t b[2] = { ph_blob_new(5000, 590), ph_blob_new(6000, 591) };
    char files[2][64], p[PATH_MAX], q[PATH_MAX];
    put_all(names, b, 2, files);
    drop_manifest();

    /* moving in: the quarantine cannot be made, a rename fails, something
     * else holds the quarantine's name */
    open_fails(MGOV_FAULT_MKDIR, 0, MGOV_EIO, files, 2);
    PH_CHECK_U64(ph_quarantine_entries(), 0);
    open_fails(MGOV_FAULT_RENAME, 0, MGOV_EIO, files, 2);
    ph_store_path(q, sizeof q, PH_QUARANTINE);
    PH_CHECK(rmdir(q) == 0);
    ph_write_file(q, "squatter", 8);
    mgov_t *gov = ph_gov_open();
    errno = 0;
    ph_listing_t l;
    PH_CHECK_RC(mgov_section_foreach(gov, ph_listing_cb, &l), MGOV_EIO);
    PH_CHECK(errno == ENOTDIR);
    ph_gov_close(gov);
    for (int i = 0; i < 2; i++) {
        ph_store_path(p, sizeof p, files[i]);
        PH_CHECK(ph_exists(p));
    }
    PH_CHECK(unlink(q) == 0);

    /* now in */
    gov = ph_gov_open();
    ph_sec_list(gov, &l);
    PH_CHECK_U64(ph_quarantine_entries(), 2);

    /* restoring: its rename, its header's fsync, the manifest's rename
     * (moved back), the manifest's and the move back's (left in the
     * directory: quarantined again by the next open) */
    static const struct {
        mgov_fault_kind_t kind;
        long after, count;
        bool stays;
    } cut[] = {
        { MGOV_FAULT_RENAME, 0, 1, true },
        { MGOV_FAULT_FSYNC, 0, 1, true },
        { MGOV_FAULT_RENAME, 1, 1, true },
        { MGOV_FAULT_RENAME, 1, -1, false },
    };
    ph_quarantine_path(q, sizeof q, files[0]);
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        mgov__fault_arm(cut[i].kind, cut[i].after, cut[i].count);
        PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[0], NULL), MGOV_EIO);
        mgov__fault_disarm_all();
        ph_sec_list(gov, &l);
        PH_CHECK_U64(l.n, 0);
        mgov_section_t *s = ph_sec_open(gov, "f1", MGOV_TIER_UNINITIALIZED);
        ph_sec_close(s);
        ph_qlisting_t ql;
        ph_qlist(gov, &ql);
        if (cut[i].stays) {
            const mgov_section_quarantined_t *qq = ph_qlisting_find(&ql, files[0]);
            PH_CHECK(qq && qq->status == MGOV_OK && qq->length == b[0].n);
        } else { /* in the directory under its new generation's name */
            PH_CHECK(ph_qlisting_find(&ql, files[0]) == NULL);
            ph_gov_close(gov);
            ph_events_t ev;
            gov = ph_gov_events(&ev);
            ph_sec_list(gov, &l);
            PH_CHECK(ev.n == 1 && ev.failed == 0);
            PH_CHECK_RC(mgov_section_quarantine_restore(gov, ev.names[0], NULL), MGOV_OK);
        }
    }
    mgov_section_t *s = ph_sec_open(gov, "f1", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &b[0]);
    ph_sec_close(s);
    PH_CHECK_RC(mgov_section_quarantine_restore(gov, files[1], NULL), MGOV_OK);
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, 2);
    ph_dir_check(&l, true, q_extra);
    PH_CHECK_U64(ph_quarantine_entries(), 0);
    ph_gov_close(gov);
    ph_blob_free(&b[0]);
    ph_blob_free(&b[1]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ph_setup, ph_teardown)
    const struct CMUnitTest tests[] = {
        T(test_missing_manifest),
        T(test_wrong_manifest),
        T(test_superseded),
        T(test_collision),
        T(test_restore),
        T(test_discard),
        T(test_odd_entries),
        T(test_squatters),
        T(test_faults),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
