/* test_section_crash.c - tiered sections after a crash (src/tier/): a
 * child runs a sequence of updates (a rewrite in RAM and spill, two
 * rewrites on disk, a removal, a new section) and is killed by SIGKILL at
 * each write, fsync, rename and open in turn.  Each time the reopened
 * store must hold every section whole, old or new, the whole directory a
 * prefix of the sequence that never shrinks as the kill point moves on,
 * no stray files; the same after a second reopen; and it must take new
 * writes.  What a kill left that the manifest does not name is in the
 * quarantine, never deleted: each file there is one of its section's
 * versions, whole, or damaged (a write cut short).
 *
 * Every test runs in a fresh scratch directory ($TMPDIR points at it); the
 * persistent spill directory is <scratch>/store (persist_helpers.h).
 * Children made with fork report failed checks on stderr and exit 3; they
 * never return into cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "memgov.h"
#include "persist_helpers.h"
#include "spill_helpers.h"
#include "sys/fault.h"

#define MiB ((size_t)1 << 20)

/* ================================================================= crash */

/* Sections of the crash test, and the versions each may hold. */
enum { C_K, C_X, C_Y, C_Z, C_W, C_N };
static const char *const crash_names[C_N] = {
    [C_K] = "k keep 1", [C_X] = "x-ram", [C_Y] = "y disk-2", [C_Z] = "z 9", [C_W] = "w-new 5",
};
#define C_MAXV 3
static ph_blob_t crash_v[C_N][C_MAXV];
static int crash_nv[C_N];

/* The sequence: after step i, section crash_step[i].sec holds version .v
 * (-1: no copy). */
static const struct {
    int sec, v;
    const char *what;
} crash_step[] = {
    { C_X, 1, "X rewritten in RAM (8 MiB + 12345) and spilled" },
    { C_Y, 1, "Y appended on disk" },
    { C_Y, 2, "Y written at an offset on disk" },
    { C_Z, -1, "Z removed" },
    { C_W, 0, "W opened, written and spilled" },
};
#define N_STEPS ((int)(sizeof crash_step / sizeof crash_step[0]))

static void crash_state(int k, int *v)
{
    const int state_a[C_N] = { [C_K] = 0, [C_X] = 0, [C_Y] = 0, [C_Z] = 0, [C_W] = -1 };
    memcpy(v, state_a, sizeof state_a);
    for (int i = 0; i < k; i++)
        v[crash_step[i].sec] = crash_step[i].v;
}

static void crash_data_init(void)
{
    crash_v[C_K][0] = ph_blob_new(4097, 51);
    crash_v[C_X][0] = ph_blob_new(10000, 11);
    crash_v[C_X][1] = ph_blob_new(8 * MiB + 12345, 12);
    crash_v[C_Y][0] = ph_blob_new(70000, 21);
    crash_v[C_Y][1] = ph_blob_patch(&crash_v[C_Y][0], 70000, 5000, 22);
    crash_v[C_Y][2] = ph_blob_patch(&crash_v[C_Y][1], 1000, 3000, 23);
    crash_v[C_Z][0] = ph_blob_new(5000, 31);
    crash_v[C_W][0] = ph_blob_new(9000, 41);
    crash_nv[C_K] = 1;
    crash_nv[C_X] = 2;
    crash_nv[C_Y] = 3;
    crash_nv[C_Z] = 1;
    crash_nv[C_W] = 1;
}

static void crash_data_free(void)
{
    for (int i = 0; i < C_N; i++)
        for (int v = 0; v < C_MAXV; v++)
            ph_blob_free(&crash_v[i][v]);
}

/* The child: state A, then the sequence with a crash armed (or none:
 * kind < 0).  Exits 0 when the sequence ran to its end. */
static void crash_child(int kind, long after)
{
    mgov_t *gov = ph_gov_open();
    for (int i = C_K; i <= C_Z; i++)
        ph_sec_put(gov, crash_names[i], &crash_v[i][0]);
    mgov_section_t *x = ph_sec_open(gov, crash_names[C_X], MGOV_TIER_ON_DISK);
    mgov_section_t *y = ph_sec_open_disk(gov, crash_names[C_Y], MGOV_TIER_ON_DISK);

    if (kind >= 0)
        mgov__fault_arm_crash((mgov_fault_kind_t)kind, after);

    /* 1: X into RAM, rewritten there, spilled */
    PH_CHECK_RC(mgov_section_reload(x, -1), MGOV_OK);
    PH_CHECK(mgov_section_tier(x) == MGOV_TIER_IN_MEMORY);
    const ph_blob_t *x1 = &crash_v[C_X][1];
    PH_CHECK_RC(mgov_section_write(x, 0, x1->p, x1->n), MGOV_OK);
    PH_CHECK(mgov_section_tier(x) == MGOV_TIER_IN_MEMORY);
    PH_CHECK_RC(mgov_section_spill(x, -1), MGOV_OK);
    PH_CHECK(mgov_section_tier(x) == MGOV_TIER_ON_DISK);
    /* 2, 3: Y rewritten on disk twice */
    const ph_blob_t *y1 = &crash_v[C_Y][1], *y2 = &crash_v[C_Y][2];
    PH_CHECK_RC(mgov_section_append(y, y1->p + 70000, 5000), MGOV_OK);
    PH_CHECK(mgov_section_tier(y) == MGOV_TIER_ON_DISK);
    PH_CHECK_RC(mgov_section_write(y, 1000, y2->p + 1000, 3000), MGOV_OK);
    PH_CHECK(mgov_section_tier(y) == MGOV_TIER_ON_DISK);
    /* 4: Z removed */
    PH_CHECK_RC(mgov_section_remove(gov, crash_names[C_Z]), MGOV_OK);
    /* 5: W new */
    ph_sec_put(gov, crash_names[C_W], &crash_v[C_W][0]);

    ph_sec_close(x);
    ph_sec_close(y);
    ph_gov_close(gov);
    _exit(0);
}

typedef struct crash_obs {
    int k;               /* the sequence's prefix found */
    uint64_t gen[C_N];   /* of each section's file; 0 = none */
    int strays;          /* files left that the manifest does not name */
    char stray[NAME_MAX + 1]; /* the first of them */
    unsigned quarantined; /* files in the quarantine */
} crash_obs_t;

static const char *const with_quarantine[] = { PH_QUARANTINE, NULL };

/* The store's quarantine: NULL when there is none, else its name as an
 * `extra` of ph_dir_check. */
static const char *const *quarantine_extra(void)
{
    char q[PATH_MAX];
    ph_store_path(q, sizeof q, PH_QUARANTINE);
    return ph_exists(q) ? with_quarantine : NULL;
}

/* The section a quarantined file belongs to by its name,
 * "sec-<16 hex digits>-<name>" and maybe a ".<n>" suffix; -1: none. */
static int crash_section_of(const char *file)
{
    for (int c = 0; c < C_N; c++) {
        size_t n = strlen(crash_names[c]);
        if (strlen(file) < 21 + n || strncmp(file, "sec-", 4) != 0 || file[20] != '-' ||
            strncmp(file + 21, crash_names[c], n) != 0)
            continue;
        const char *rest = file + 21 + n;
        if (*rest == '\0' || (*rest == '.' && rest[1]))
            return c;
    }
    return -1;
}

/* Every file in the quarantine is a file of one of the sections, and not
 * its current one; whole (header and data check) it holds one of that
 * section's versions.  Returns how many there are. */
static unsigned crash_check_quarantine(mgov_t *gov, const ph_listing_t *l, const char *where)
{
    ph_qlisting_t ql;
    ph_qlist(gov, &ql);
    for (unsigned i = 0; i < ql.n; i++) {
        const mgov_section_quarantined_t *q = &ql.q[i];
        int j = crash_section_of(q->file);
        if (j < 0)
            ph_check_fail(__FILE__, __LINE__, "%s: '%s' in the quarantine is none of ours", where,
                          q->file);
        if (q->status == MGOV_ECORRUPT)
            continue; /* cut short: damaged, and said so */
        if (q->status != MGOV_OK || !q->name || strcmp(q->name, crash_names[j]) != 0)
            ph_check_fail(__FILE__, __LINE__, "%s: '%s' in the quarantine: %s, section '%s'",
                          where, q->file, mgov_status_name(q->status), q->name ? q->name : "-");
        const mgov_section_info_t *in = ph_listing_find(l, crash_names[j]);
        PH_CHECK(!in || in->generation != q->generation);
        char path[PATH_MAX];
        ph_quarantine_path(path, sizeof path, q->file);
        size_t cap = (size_t)q->disk_bytes + 1;
        uint8_t *buf = malloc(cap);
        PH_CHECK(buf != NULL);
        size_t n = ph_read_file(path, buf, cap);
        bool known = false;
        for (int v = 0; v < crash_nv[j] && !known; v++)
            known = n == PH_HDR + crash_v[j][v].n &&
                    memcmp(buf + PH_HDR, crash_v[j][v].p, crash_v[j][v].n) == 0;
        free(buf);
        if (!known)
            ph_check_fail(__FILE__, __LINE__, "%s: '%s' in the quarantine holds none of the "
                          "versions of '%s'", where, q->file, crash_names[j]);
    }
    return ql.n;
}

/* Reopens the store and finds which prefix of the sequence it holds. */
static crash_obs_t crash_observe(const char *where)
{
    crash_obs_t o = { .k = -1 };
    mgov_t *gov = ph_gov_open();
    ph_listing_t l;
    ph_sec_list(gov, &l); /* the first use: manifest read, orphans quarantined */
    /* stray files are counted, so that one such failure does not hide how
     * the contents fare at the other kill points */
    o.strays = ph_dir_check_strays(&l, true, quarantine_extra(), o.stray, sizeof o.stray);
    o.quarantined = crash_check_quarantine(gov, &l, where);
    for (unsigned i = 0; i < l.n; i++) {
        const mgov_section_info_t *in = &l.info[i];
        bool ours = false;
        for (int j = 0; j < C_N; j++)
            ours |= strcmp(in->name, crash_names[j]) == 0;
        if (!ours)
            ph_check_fail(__FILE__, __LINE__, "%s: unknown section '%s' listed", where, in->name);
        if (in->status != MGOV_OK || in->tier != MGOV_TIER_ON_DISK || in->open ||
            !in->generation)
            ph_check_fail(__FILE__, __LINE__, "%s: '%s' listed with status %s, tier %s, gen %llu",
                          where, in->name, mgov_status_name(in->status), mgov_tier_name(in->tier),
                          (unsigned long long)in->generation);
    }
    int ver[C_N];
    for (int j = 0; j < C_N; j++) {
        const mgov_section_info_t *in = ph_listing_find(&l, crash_names[j]);
        mgov_section_t *s = NULL;
        int rc = mgov_section_open(gov, crash_names[j], NULL, &s);
        if (rc != MGOV_OK)
            ph_check_fail(__FILE__, __LINE__, "%s: opening '%s': %s", where, crash_names[j],
                          mgov_status_name(rc));
        o.gen[j] = in ? in->generation : 0;
        ver[j] = -2;
        if (mgov_section_tier(s) == MGOV_TIER_UNINITIALIZED) {
            PH_CHECK(in == NULL);
            PH_CHECK_U64(mgov_section_length(s), 0);
            ver[j] = -1;
        } else {
            PH_CHECK(in != NULL && mgov_section_tier(s) == MGOV_TIER_ON_DISK);
            PH_CHECK_U64(mgov_section_length(s), in->length);
            mgov_section_view_t v;
            rc = mgov_section_pin(s, &v);
            if (rc != MGOV_OK)
                ph_check_fail(__FILE__, __LINE__, "%s: pinning '%s': %s", where, crash_names[j],
                              mgov_status_name(rc));
            for (int c = 0; c < crash_nv[j] && ver[j] == -2; c++)
                if (v.len == crash_v[j][c].n && v.len &&
                    memcmp(v.data, crash_v[j][c].p, v.len) == 0)
                    ver[j] = c;
            mgov_section_unpin(s, &v);
            if (ver[j] == -2)
                ph_check_fail(__FILE__, __LINE__, "%s: '%s' (%zu bytes) holds none of its versions",
                              where, crash_names[j], (size_t)in->length);
        }
        ph_sec_close(s);
    }
    ph_gov_close(gov);
    for (int k = 0; k <= N_STEPS && o.k < 0; k++) {
        int want[C_N];
        crash_state(k, want);
        if (memcmp(want, ver, sizeof want) == 0)
            o.k = k;
    }
    if (o.k < 0)
        ph_check_fail(__FILE__, __LINE__,
                      "%s: versions K %d X %d Y %d Z %d W %d are no prefix of the sequence", where,
                      ver[C_K], ver[C_X], ver[C_Y], ver[C_Z], ver[C_W]);
    return o;
}

/* After a crash the store takes new writes: a disk rewrite of K and a new
 * section, found by the next governor. */
static void crash_resume(const crash_obs_t *o)
{
    ph_blob_t k1 = ph_blob_patch(&crash_v[C_K][0], crash_v[C_K][0].n, 100, 52);
    ph_blob_t extra = ph_blob_new(3000, 53);
    mgov_t *gov = ph_gov_open();
    mgov_section_t *s = ph_sec_open_disk(gov, crash_names[C_K], MGOV_TIER_ON_DISK);
    PH_CHECK_RC(mgov_section_append(s, k1.p + crash_v[C_K][0].n, 100), MGOV_OK);
    PH_CHECK(mgov_section_tier(s) == MGOV_TIER_ON_DISK);
    ph_sec_close(s);
    ph_sec_put(gov, "after crash", &extra);
    ph_gov_close(gov);

    gov = ph_gov_open();
    ph_listing_t l;
    ph_sec_list(gov, &l);
    if (!o->strays) /* else counted already */
        ph_dir_check(&l, true, quarantine_extra());
    PH_CHECK_U64(ph_quarantine_entries(), o->quarantined); /* writes moved nothing there */
    const mgov_section_info_t *in = ph_listing_find(&l, crash_names[C_K]);
    PH_CHECK(in && in->generation > o->gen[C_K]);
    for (int j = 0; j < C_N; j++) { /* the others are as they were */
        in = ph_listing_find(&l, crash_names[j]);
        if (j != C_K)
            PH_CHECK_U64(in ? in->generation : 0, o->gen[j]);
    }
    s = ph_sec_open(gov, crash_names[C_K], MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &k1);
    ph_sec_close(s);
    s = ph_sec_open(gov, "after crash", MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &extra);
    ph_sec_close(s);
    ph_gov_close(gov);
    ph_blob_free(&k1);
    ph_blob_free(&extra);
}

static void test_crash_points(void **state)
{
    (void)state;
    double t0 = ph_now_s();
    crash_data_init();
    static const struct {
        int kind;
        const char *name;
    } kinds[] = {
        { MGOV_FAULT_WRITE, "write" },
        { MGOV_FAULT_FSYNC, "fsync" },
        { MGOV_FAULT_RENAME, "rename" },
        { MGOV_FAULT_OPEN, "open" },
    };
    int total_kills = 0, stray_points = 0, quarantine_points = 0;
    char stray_example[256] = "";
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        int kills = 0, last_k = 0;
        int seen_k[N_STEPS + 1] = { 0 };
        for (long n = 0;; n++) {
            PH_CHECK(n < 400);
            PH_CHECK_RC(faketree_remove(&ph_scratch.ft, "store"), 0);
            pid_t pid = ph_fork_child();
            if (pid == 0)
                crash_child(kinds[ki].kind, n);
            int status = ph_wait_child(pid);
            static char where[96];
            ph_pf(where, sizeof where, "%s crash #%ld", kinds[ki].name, n);
            ph_check_context = where;
            bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
            if (!killed)
                ph_expect_exit0(status);
            crash_obs_t o = crash_observe(where);
            quarantine_points += o.quarantined > 0;
            if (o.strays && !stray_points++)
                ph_pf(stray_example, sizeof stray_example, "%s: %d, e.g. '%s'", where, o.strays,
                      o.stray);
            /* reopening again finds the same, files and all */
            crash_obs_t o2 = crash_observe(where);
            PH_CHECK(o2.k == o.k);
            PH_CHECK(memcmp(o.gen, o2.gen, sizeof o.gen) == 0);
            PH_CHECK(o2.strays == 0 || o.strays > 0);
            PH_CHECK_U64(o2.quarantined, o.quarantined); /* nothing more to put aside */
            /* later kills never find less done */
            PH_CHECK(o.k >= last_k);
            last_k = o.k;
            seen_k[o.k]++;
            crash_resume(&o);
            ph_check_context = NULL;
            if (!killed) {
                PH_CHECK(o.k == N_STEPS); /* ran to its end */
                break;
            }
            kills++;
        }
        print_message("crash at %-6s: %2d kill points; states found:", kinds[ki].name, kills);
        for (int k = 0; k <= N_STEPS; k++)
            print_message(" %d", seen_k[k]);
        print_message("\n");
        total_kills += kills;
    }
    print_message("crash: %d kill points in %.2f s; at %d of them files were quarantined\n",
                  total_kills, ph_now_s() - t0, quarantine_points);
    PH_CHECK(total_kills >= 15);
    crash_data_free();
    if (stray_points)
        ph_check_fail(__FILE__, __LINE__,
                      "at %d kill points files the manifest does not name were left after "
                      "reopening (first: %s)",
                      stray_points, stray_example);
}

/* The crash data go even when the test failed; then the fixture's teardown
 * (which disarms faults first). */
static int teardown(void **state)
{
    crash_data_free();
    return ph_teardown(state);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ph_setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_crash_points),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
