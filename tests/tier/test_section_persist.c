/* test_section_persist.c - tiered sections on disk across governors and
 * restarts (src/tier/section_store.c): what a persistent spill directory
 * holds after a clean exit (spilled sections listed ON_DISK with the same
 * bytes, at the same generation after every restart; sections written only
 * in RAM, or never written, not listed), and a private spill directory
 * (everything goes with the governor, and a killed owner's directory goes
 * with the next private directory made beside it).  Crashes are tested in
 * test_section_crash.c, damaged section files in test_section_file.c, the
 * manifest and orphan files in test_section_manifest.c.
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
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "memgov.h"
#include "persist_helpers.h"
#include "spill_helpers.h"

#define MiB ((size_t)1 << 20)

/* ================================================================ restart */

static const struct {
    const char *name;
    size_t len;
    uint64_t seed;
} restart_secs[] = {
    { "empty 0", 0, 100 },
    { "one-1", 1, 101 },
    { "page 4095", 4095, 102 },
    { "page-4096", 4096, 103 },
    { "p 4097-x", 4097, 104 },
    { "big-1048579 b", MiB + 3, 105 },
};
#define N_RESTART (sizeof restart_secs / sizeof restart_secs[0])
#define UNSPILLED "unspilled-7 x"
#define NEVER "never 0-written"

static void restart_child(const ph_blob_t *data, const ph_blob_t *unspilled)
{
    mgov_t *gov = ph_gov_open();
    for (size_t i = 0; i < N_RESTART; i++) {
        const char *name = restart_secs[i].name;
        if (data[i].n) {
            ph_sec_put(gov, name, &data[i]);
            continue;
        }
        /* empty, but written: in RAM with no bytes */
        mgov_section_t *s = ph_sec_open(gov, name, MGOV_TIER_UNINITIALIZED);
        PH_CHECK_RC(mgov_section_append(s, "0123456789", 10), MGOV_OK);
        PH_CHECK_RC(mgov_section_truncate(s, 0), MGOV_OK);
        PH_CHECK_U64(mgov_section_length(s), 0);
        PH_CHECK_RC(mgov_section_spill(s, -1), MGOV_OK);
        ph_sec_close(s);
    }
    /* written in RAM after its spill: the spilled bytes persist, not these */
    mgov_section_t *s = ph_sec_open(gov, restart_secs[2].name, MGOV_TIER_ON_DISK);
    PH_CHECK_RC(mgov_section_reload(s, -1), MGOV_OK);
    PH_CHECK(mgov_section_tier(s) == MGOV_TIER_IN_MEMORY);
    PH_CHECK_RC(mgov_section_write(s, 0, "changed in RAM only", 19), MGOV_OK);
    PH_CHECK_RC(mgov_section_append(s, "more", 4), MGOV_OK);
    ph_sec_close(s);
    /* opened and spilled with nothing written: nothing to persist */
    s = ph_sec_open(gov, NEVER, MGOV_TIER_UNINITIALIZED);
    PH_CHECK_RC(mgov_section_spill(s, -1), MGOV_OK);
    PH_CHECK(mgov_section_tier(s) == MGOV_TIER_UNINITIALIZED);
    ph_sec_close(s);
    /* written, never spilled */
    s = ph_sec_open(gov, UNSPILLED, MGOV_TIER_UNINITIALIZED);
    PH_CHECK_RC(mgov_section_append(s, unspilled->p, unspilled->n), MGOV_OK);
    PH_CHECK(mgov_section_tier(s) == MGOV_TIER_IN_MEMORY);
    ph_sec_close(s);
    ph_gov_close(gov);
    _exit(0);
}

/* The listing after the restart: exactly the spilled sections, on disk. */
static void restart_check_listing(mgov_t *gov, uint64_t *gens)
{
    ph_listing_t l;
    ph_sec_list(gov, &l);
    PH_CHECK_U64(l.n, N_RESTART);
    for (size_t i = 0; i < N_RESTART; i++) {
        const mgov_section_info_t *in = ph_listing_find(&l, restart_secs[i].name);
        if (!in)
            ph_check_fail(__FILE__, __LINE__, "'%s' not listed", restart_secs[i].name);
        PH_CHECK(in->tier == MGOV_TIER_ON_DISK);
        PH_CHECK_RC(in->status, MGOV_OK);
        PH_CHECK(!in->open);
        PH_CHECK_U64(in->length, restart_secs[i].len);
        PH_CHECK_U64(in->disk_bytes, PH_HDR + restart_secs[i].len);
        PH_CHECK_U64(in->ram_bytes, 0);
        PH_CHECK(in->generation > 0);
        PH_CHECK(in->override == MGOV_SECTION_AUTO);
        if (gens[i])
            PH_CHECK_U64(in->generation, gens[i]);
        gens[i] = in->generation;
        for (size_t j = 0; j < i; j++)
            PH_CHECK(gens[j] != gens[i]);
    }
    PH_CHECK(ph_listing_find(&l, UNSPILLED) == NULL);
    PH_CHECK(ph_listing_find(&l, NEVER) == NULL);
    ph_dir_check(&l, true, NULL);
}

static void test_restart(void **state)
{
    (void)state;
    double t0 = ph_now_s();
    ph_blob_t data[N_RESTART];
    for (size_t i = 0; i < N_RESTART; i++)
        data[i] = ph_blob_new(restart_secs[i].len, restart_secs[i].seed);
    ph_blob_t unspilled = ph_blob_new(7777, 106);

    pid_t pid = ph_fork_child();
    if (pid == 0)
        restart_child(data, &unspilled);
    ph_expect_exit0(ph_wait_child(pid));

    uint64_t gens[N_RESTART] = { 0 };
    mgov_t *gov = ph_gov_open();
    restart_check_listing(gov, gens);
    for (size_t i = 0; i < N_RESTART; i++) {
        mgov_section_t *s = ph_sec_open(gov, restart_secs[i].name, MGOV_TIER_ON_DISK);
        PH_CHECK_U64(mgov_section_length(s), restart_secs[i].len);
        if (i % 2 == 0) { /* first read through the mapping, then reload */
            ph_sec_expect(s, &data[i]);
            PH_CHECK_RC(mgov_section_reload(s, -1), MGOV_OK);
        } else { /* first read by the reload */
            PH_CHECK_RC(mgov_section_reload(s, -1), MGOV_OK);
        }
        PH_CHECK(mgov_section_tier(s) == MGOV_TIER_IN_MEMORY);
        ph_sec_expect(s, &data[i]);
        ph_sec_close(s);
    }
    const char *fresh[] = { UNSPILLED, NEVER };
    for (int k = 0; k < 2; k++) {
        mgov_section_t *s = ph_sec_open(gov, fresh[k], MGOV_TIER_UNINITIALIZED);
        PH_CHECK_U64(mgov_section_length(s), 0);
        PH_CHECK(ph_sec_equals(s, NULL, 0));
        ph_sec_close(s);
    }
    /* closing sections that were reloaded keeps their copies */
    restart_check_listing(gov, gens);
    ph_gov_close(gov);

    /* and a second restart finds the same */
    gov = ph_gov_open();
    restart_check_listing(gov, gens);
    mgov_section_t *s = ph_sec_open(gov, restart_secs[N_RESTART - 1].name, MGOV_TIER_ON_DISK);
    ph_sec_expect(s, &data[N_RESTART - 1]);
    ph_sec_close(s);
    ph_gov_close(gov);

    for (size_t i = 0; i < N_RESTART; i++)
        ph_blob_free(&data[i]);
    ph_blob_free(&unspilled);
    print_message("restart: %.2f s\n", ph_now_s() - t0);
}

/* ================================================================ private */

/* The one entry of the scratch root named memgov-<pid>-*, into out. */
static void private_dir_of(pid_t pid, char *out, size_t cap)
{
    char prefix[64];
    ph_pf(prefix, sizeof prefix, "memgov-%ld-", (long)pid);
    DIR *d = opendir(ph_scratch.ft.root);
    PH_CHECK(d != NULL);
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            ph_pf(out, cap, "%s/%s", ph_scratch.ft.root, de->d_name);
            found++;
        }
    closedir(d);
    PH_CHECK(found == 1);
}

/* Section files (sec-<generation>-<name>, not the manifest) in dir. */
static int count_secfiles(const char *dir)
{
    DIR *d = opendir(dir);
    PH_CHECK(d != NULL);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "sec-", 4) == 0 && strncmp(de->d_name, PH_MANIFEST, 12) != 0;
    closedir(d);
    return n;
}

static void test_private_dir(void **state)
{
    (void)state;
    ph_blob_t a = ph_blob_new(10000, 500), b = ph_blob_new(MiB + 1, 501), c = ph_blob_new(300, 502);
    mgov_t *gov = ph_gov_at(NULL);
    PH_CHECK(mgov_spill_dir(gov) == NULL);
    ph_sec_put(gov, "a 1", &a);
    ph_sec_put(gov, "b-2", &b);
    mgov_section_t *sc = ph_sec_open(gov, "c", MGOV_TIER_UNINITIALIZED);
    PH_CHECK_RC(mgov_section_append(sc, c.p, c.n), MGOV_OK);
    mgov_section_t *sa = ph_sec_open(gov, "a 1", MGOV_TIER_ON_DISK);
    ph_sec_expect(sa, &a);

    char priv[PATH_MAX], list[1024];
    PH_CHECK(sh_count_entries(ph_scratch.ft.root) == 1);
    private_dir_of(getpid(), priv, sizeof priv);
    PH_CHECK(count_secfiles(priv) == 2);
    ph_pf(list, sizeof list, "%s/" PH_MANIFEST, priv);
    PH_CHECK(ph_exists(list));

    /* another private governor has its own directory and sees none of them */
    mgov_t *gov2 = ph_gov_at(NULL);
    ph_listing_t l;
    ph_sec_list(gov2, &l);
    PH_CHECK_U64(l.n, 0);
    PH_CHECK(sh_count_entries(ph_scratch.ft.root) == 2);
    ph_gov_close(gov2);
    PH_CHECK(sh_count_entries(ph_scratch.ft.root) == 1);

    ph_sec_close(sa);
    ph_sec_close(sc);
    ph_gov_close(gov);
    if (sh_count_entries(ph_scratch.ft.root) != 0)
        ph_check_fail(__FILE__, __LINE__, "left after mgov_destroy: %s",
                      sh_list(ph_scratch.ft.root, list, sizeof list));
    ph_blob_free(&a);
    ph_blob_free(&b);
    ph_blob_free(&c);
}

/* A killed owner's private directory, section files and all, is swept by
 * the next private directory made beside it (spill_kept.h, spill_stale.c). */
static void test_private_dir_dead_owner(void **state)
{
    (void)state;
    ph_blob_t a = ph_blob_new(10000, 510), b = ph_blob_new(3 * 4096, 511);
    char priv[PATH_MAX], list[1024];
    pid_t pid = ph_fork_child();
    if (pid == 0) {
        mgov_t *cg = ph_gov_at(NULL);
        ph_sec_put(cg, "a 1", &a);
        ph_sec_put(cg, "b-2", &b);
        raise(SIGKILL);
        _exit(4);
    }
    int status = ph_wait_child(pid);
    PH_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    private_dir_of(pid, priv, sizeof priv);
    PH_CHECK(count_secfiles(priv) == 2);
    ph_pf(list, sizeof list, "%s/" PH_MANIFEST, priv);
    PH_CHECK(ph_exists(list));
    mgov_t *gov = ph_gov_at(NULL);
    mgov_section_t *s = ph_sec_open(gov, "a 1", MGOV_TIER_UNINITIALIZED); /* makes our directory */
    if (ph_exists(priv))
        ph_check_fail(__FILE__, __LINE__, "the dead owner's directory is still there: %s",
                      sh_list(priv, list, sizeof list));
    PH_CHECK(sh_count_entries(ph_scratch.ft.root) == 1);
    ph_sec_close(s);
    ph_gov_close(gov);
    PH_CHECK(sh_count_entries(ph_scratch.ft.root) == 0);
    ph_blob_free(&a);
    ph_blob_free(&b);
}

/* ------------------------------------------------- remove against open */

typedef struct opener {
    mgov_t *gov;
    atomic_bool stop;
    unsigned opened, refused;
    int bad; /* an open status no removal explains, or 0 */
} opener_t;

/* Opens and closes "x" again and again while the main thread writes and
 * removes it: an open during a removal's commit used to claim the entry
 * the removal then freed (a use after free, seen by ASan). */
static void *opener_main(void *arg)
{
    opener_t *o = arg;
    while (!atomic_load(&o->stop)) {
        mgov_section_t *s;
        int rc = mgov_section_open(o->gov, "x", NULL, &s);
        if (rc == MGOV_OK) {
            o->opened++;
            mgov_section_close(s);
            sched_yield(); /* the main thread gets its turns at the name */
        } else if (rc == MGOV_EBUSY || rc == MGOV_EEXIST) {
            o->refused++;
        } else if (!o->bad) {
            o->bad = rc;
        }
    }
    return NULL;
}

static void test_remove_against_open(void **state)
{
    (void)state;
    mgov_t *gov = ph_gov_open();
    opener_t o = { .gov = gov };
    pthread_t t;
    PH_CHECK(pthread_create(&t, NULL, opener_main, &o) == 0);
    static unsigned char data[4096];
    unsigned removed = 0;
    /* 300 removals, however the threads are scheduled (each turn may find
     * the name held by the opener) */
    for (int i = 0; removed < 300 && i < 1000000; i++) {
        mgov_section_t *s;
        int rc = mgov_section_open(gov, "x", NULL, &s);
        if (rc != MGOV_OK)
            continue; /* the opener has it, or it is being removed */
        if (mgov_section_length(s) == 0 && mgov_section_append(s, data, sizeof data) == MGOV_OK)
            (void)mgov_section_spill(s, -1);
        mgov_section_close(s);
        rc = mgov_section_remove(gov, "x");
        PH_CHECK(rc == MGOV_OK || rc == MGOV_EBUSY || rc == MGOV_ENOTFOUND);
        removed += rc == MGOV_OK;
    }
    atomic_store(&o.stop, true);
    PH_CHECK(pthread_join(t, NULL) == 0);
    if (o.bad)
        ph_check_fail(__FILE__, __LINE__, "open returned %s", mgov_strerror(o.bad));
    PH_CHECK(removed > 0 && o.opened > 0);
    (void)mgov_section_remove(gov, "x");
    ph_gov_close(gov);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ph_setup, ph_teardown)
    const struct CMUnitTest tests[] = {
        T(test_restart),
        T(test_private_dir),
        T(test_private_dir_dead_owner),
        T(test_remove_against_open),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
