/* test_section_persist.c - tiered sections on disk across governors,
 * restarts and crashes (src/tier/): what a persistent spill directory
 * holds after a clean exit (spilled sections found ON_DISK with the same
 * bytes, unspilled ones not), after a SIGKILL at every write, fsync,
 * rename and open of a sequence of updates (each section whole, old or
 * new, the whole directory a prefix of the sequence, no stray files), with
 * damaged section files or manifest (MGOV_ECORRUPT where it belongs, the
 * rest usable, nothing removed on a bad manifest), with orphan files, and
 * in a private spill directory (everything goes with the governor, and a
 * killed owner's directory goes with the next private directory made
 * beside it).
 *
 * Every test runs in a fresh scratch directory ($TMPDIR points at it); the
 * persistent spill directory is <scratch>/store.  Children made with fork
 * report failed checks on stderr and exit 3; they never return into
 * cmocka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"
#include "spill_helpers.h"
#include "sys/fault.h"

#define MiB ((size_t)1 << 20)
#define HDR ((size_t)4096) /* a section file's header */
#define MANIFEST "sections.manifest"
#define LOCKFILE "memgov.lock"

static sh_scratch_t scratch;
static char store[PATH_MAX]; /* the persistent spill directory */

/* ------------------------------------------------------------ checking */

/* Checks that work in the test process (cmocka) and in a forked child
 * (message on stderr, _exit(3)). */
static bool in_child;
static const char *check_context; /* what is being checked, for messages */

__attribute__((format(printf, 3, 4))) static void check_fail(const char *file, int line,
                                                              const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *ctx = check_context ? check_context : "";
    const char *sep = check_context ? ": " : "";
    if (in_child) {
        fprintf(stderr, "[child %ld] %s:%d: %s%s%s\n", (long)getpid(), file, line, ctx, sep, msg);
        _exit(3);
    }
    print_error("%s:%d: %s%s%s\n", file, line, ctx, sep, msg);
    _fail(file, line);
    abort(); /* not reached */
}

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            check_fail(__FILE__, __LINE__, "check failed: %s", #c);                                \
    } while (0)

#define CHECK_RC(expr, want)                                                                       \
    do {                                                                                           \
        int rc_ = (expr), want_ = (want);                                                          \
        if (rc_ != want_)                                                                          \
            check_fail(__FILE__, __LINE__, "%s = %s, expected %s", #expr, mgov_status_name(rc_),   \
                       mgov_status_name(want_));                                                   \
    } while (0)

#define CHECK_U64(a, b)                                                                            \
    do {                                                                                           \
        uint64_t a_ = (a), b_ = (b);                                                               \
        if (a_ != b_)                                                                              \
            check_fail(__FILE__, __LINE__, "%s = %llu, expected %s = %llu", #a,                    \
                       (unsigned long long)a_, #b, (unsigned long long)b_);                        \
    } while (0)

/* snprintf that must not truncate */
__attribute__((format(printf, 3, 4))) static void pf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < cap);
}

static double now_s(void)
{
    return (double)gh_now_ns() / 1e9;
}

/* --------------------------------------------------------------- setup */

static int setup(void **state)
{
    (void)state;
    umask(022);
    in_child = false;
    check_context = NULL;
    sh_scratch_init(&scratch);
    pf(store, sizeof store, "%s/store", scratch.ft.root);
    return 0;
}

static void crash_data_free(void);

static int teardown(void **state)
{
    (void)state;
    mgov__fault_disarm_all();
    crash_data_free(); /* when the crash test failed */
    assert_int_equal(faketree_remove(&scratch.ft, "store"), 0);
    sh_scratch_fini(&scratch);
    return 0;
}

/* ------------------------------------------------------------- contents */

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob_t;

static blob_t blob_new(size_t n, uint64_t seed)
{
    blob_t b = { malloc(n ? n : 1), n };
    CHECK(b.p != NULL);
    sh_fill(b.p, n, seed, false);
    return b;
}

/* a copy of b with `len` bytes of seed's data written at off (growing it) */
static blob_t blob_patch(const blob_t *b, size_t off, size_t len, uint64_t seed)
{
    size_t n = off + len > b->n ? off + len : b->n;
    blob_t r = { malloc(n ? n : 1), n };
    CHECK(r.p != NULL && off <= b->n);
    memcpy(r.p, b->p, b->n);
    sh_fill(r.p + off, len, seed, false);
    return r;
}

static void blob_free(blob_t *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

/* ------------------------------------------------------------ governors */

static mgov_t *gov_at(const char *spill_dir)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 256 * MiB;
    cfg.spill_dir = spill_dir;
    mgov_t *gov = NULL;
    CHECK_RC(mgov_create(&cfg, &gov), MGOV_OK);
    CHECK(gov != NULL);
    return gov;
}

static mgov_t *gov_open(void)
{
    return gov_at(store);
}

static void gov_close(mgov_t *gov)
{
    CHECK_RC(mgov_destroy(gov), MGOV_OK);
}

/* ------------------------------------------------------------- sections */

static mgov_section_t *sec_open_cfg(mgov_t *gov, const char *name, mgov_tier_t tier,
                                    const mgov_section_config_t *cfg)
{
    mgov_section_t *s = NULL;
    CHECK_RC(mgov_section_open(gov, name, cfg, &s), MGOV_OK);
    CHECK(s != NULL);
    if (mgov_section_tier(s) != tier)
        check_fail(__FILE__, __LINE__, "section '%s' opened %s, expected %s", name,
                   mgov_tier_name(mgov_section_tier(s)), mgov_tier_name(tier));
    return s;
}

static mgov_section_t *sec_open(mgov_t *gov, const char *name, mgov_tier_t tier)
{
    return sec_open_cfg(gov, name, tier, NULL);
}

/* Opened ForceDisk: every write is a new generation of its file (an Auto
 * section would come back to RAM to be written). */
static mgov_section_t *sec_open_disk(mgov_t *gov, const char *name, mgov_tier_t tier)
{
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.tier = MGOV_SECTION_FORCE_DISK;
    return sec_open_cfg(gov, name, tier, &c);
}

static void sec_close(mgov_section_t *s)
{
    CHECK_RC(mgov_section_close(s), MGOV_OK);
}

/* The section's bytes are exactly data[0, n). */
static bool sec_equals(mgov_section_t *s, const void *data, size_t n)
{
    mgov_section_view_t v;
    CHECK_RC(mgov_section_pin(s, &v), MGOV_OK);
    bool eq = v.len == n && mgov_section_length(s) == n &&
              (n == 0 ? v.data == NULL : v.data != NULL && memcmp(v.data, data, n) == 0);
    mgov_section_unpin(s, &v);
    return eq;
}

static void sec_expect(mgov_section_t *s, const blob_t *b)
{
    if (!sec_equals(s, b->p, b->n))
        check_fail(__FILE__, __LINE__, "section '%s' (%llu bytes) does not hold its %zu bytes",
                   mgov_section_name(s), (unsigned long long)mgov_section_length(s), b->n);
}

/* Opens a new section, writes b in RAM (two appends), spills it, closes it. */
static void sec_put(mgov_t *gov, const char *name, const blob_t *b)
{
    mgov_section_t *s = sec_open(gov, name, MGOV_TIER_UNINITIALIZED);
    size_t half = b->n / 2;
    CHECK_RC(mgov_section_append(s, b->p, half), MGOV_OK);
    CHECK_RC(mgov_section_append(s, b->p + half, b->n - half), MGOV_OK);
    CHECK(mgov_section_tier(s) == (b->n ? MGOV_TIER_IN_MEMORY : MGOV_TIER_UNINITIALIZED));
    CHECK_RC(mgov_section_spill(s, -1), MGOV_OK);
    if (b->n)
        CHECK(mgov_section_tier(s) == MGOV_TIER_ON_DISK);
    sec_close(s);
}

/* --------------------------------------------------------------- listing */

typedef struct listing {
    unsigned n;
    char names[64][MGOV_NAME_MAX + 1];
    mgov_section_info_t info[64];
} listing_t;

static void listing_cb(void *arg, const mgov_section_info_t *info)
{
    listing_t *l = arg;
    CHECK(l->n < 64);
    pf(l->names[l->n], sizeof l->names[l->n], "%s", info->name);
    l->info[l->n] = *info;
    l->info[l->n].name = l->names[l->n];
    l->n++;
}

static void sec_list(mgov_t *gov, listing_t *l)
{
    memset(l, 0, sizeof *l);
    CHECK_RC(mgov_section_foreach(gov, listing_cb, l), MGOV_OK);
    for (unsigned i = 1; i < l->n; i++) /* name order */
        CHECK(strcmp(l->names[i - 1], l->names[i]) < 0);
}

static const mgov_section_info_t *listing_find(const listing_t *l, const char *name)
{
    for (unsigned i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return &l->info[i];
    return NULL;
}

static void secfile_name(char *out, size_t cap, const char *name, uint64_t gen)
{
    pf(out, cap, "sec-%016llx-%s", (unsigned long long)gen, name);
}

static void store_path(char *out, size_t cap, const char *file)
{
    pf(out, cap, "%s/%s", store, file);
}

/* The store directory holds exactly: memgov.lock (optional), the manifest
 * (required when need_manifest), one file per listed section with a file,
 * named for its generation, and the names in `extra` (NULL-terminated).
 * A stray file fails at once, or with `stray` set, is counted (the first
 * one's name goes to stray) and the count returned. */
static int dir_check_strays(const listing_t *l, bool need_manifest, const char *const *extra,
                            char *stray, size_t stray_cap)
{
    int strays = 0;
    bool seen[64] = { false }, seen_extra[16] = { false }, manifest = false;
    DIR *d = opendir(store);
    CHECK(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *f = de->d_name;
        if (strcmp(f, ".") == 0 || strcmp(f, "..") == 0 || strcmp(f, LOCKFILE) == 0)
            continue;
        if (strcmp(f, MANIFEST) == 0) {
            manifest = true;
            continue;
        }
        bool known = false;
        for (unsigned i = 0; i < l->n && !known; i++) {
            char want[256];
            if (!l->info[i].generation)
                continue;
            secfile_name(want, sizeof want, l->names[i], l->info[i].generation);
            if (strcmp(f, want) == 0)
                known = seen[i] = true;
        }
        for (unsigned k = 0; extra && extra[k] && !known; k++)
            if (strcmp(f, extra[k]) == 0)
                known = seen_extra[k] = true;
        if (!known && stray) {
            if (!strays++)
                pf(stray, stray_cap, "%s", f);
        } else if (!known) {
            char name[NAME_MAX + 1], list[4096];
            pf(name, sizeof name, "%s", f);
            closedir(d);
            check_fail(__FILE__, __LINE__, "stray file '%s' in the store (%s)", name,
                       sh_list(store, list, sizeof list));
        }
    }
    closedir(d);
    bool any_file = false;
    for (unsigned i = 0; i < l->n; i++) {
        if (!l->info[i].generation)
            continue;
        any_file = true;
        if (!seen[i])
            check_fail(__FILE__, __LINE__, "the file of section '%s' (gen %llu) is missing",
                       l->names[i], (unsigned long long)l->info[i].generation);
    }
    for (unsigned k = 0; extra && extra[k]; k++)
        if (!seen_extra[k])
            check_fail(__FILE__, __LINE__, "'%s' is missing from the store", extra[k]);
    if (need_manifest || any_file)
        CHECK(manifest);
    return strays;
}

static void dir_check(const listing_t *l, bool need_manifest, const char *const *extra)
{
    dir_check_strays(l, need_manifest, extra, NULL, 0);
}

/* ------------------------------------------------------------ processes */

static pid_t fork_child(void)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        in_child = true;
    return pid;
}

static int wait_child(pid_t pid)
{
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    CHECK(r == pid);
    return status;
}

static void expect_exit0(int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        check_fail(__FILE__, __LINE__, "child %s %d", WIFEXITED(status) ? "exited" : "killed by",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* ------------------------------------------------------------- file edits */

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t c;
    CHECK(pread(fd, &c, 1, at) == 1);
    c ^= 0x20;
    CHECK(pwrite(fd, &c, 1, at) == 1);
    close(fd);
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, cap);
    close(fd);
    CHECK(n >= 0 && (size_t)n < cap);
    return (size_t)n;
}

static void write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, data, n) == (ssize_t)n);
    close(fd);
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

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

static void restart_child(const blob_t *data, const blob_t *unspilled)
{
    mgov_t *gov = gov_open();
    for (size_t i = 0; i < N_RESTART; i++) {
        const char *name = restart_secs[i].name;
        if (data[i].n) {
            sec_put(gov, name, &data[i]);
            continue;
        }
        /* empty, but written: in RAM with no bytes */
        mgov_section_t *s = sec_open(gov, name, MGOV_TIER_UNINITIALIZED);
        CHECK_RC(mgov_section_append(s, "0123456789", 10), MGOV_OK);
        CHECK_RC(mgov_section_truncate(s, 0), MGOV_OK);
        CHECK_U64(mgov_section_length(s), 0);
        CHECK_RC(mgov_section_spill(s, -1), MGOV_OK);
        sec_close(s);
    }
    /* written in RAM after its spill: the spilled bytes persist, not these */
    mgov_section_t *s = sec_open(gov, restart_secs[2].name, MGOV_TIER_ON_DISK);
    CHECK_RC(mgov_section_reload(s, -1), MGOV_OK);
    CHECK(mgov_section_tier(s) == MGOV_TIER_IN_MEMORY);
    CHECK_RC(mgov_section_write(s, 0, "changed in RAM only", 19), MGOV_OK);
    CHECK_RC(mgov_section_append(s, "more", 4), MGOV_OK);
    sec_close(s);
    /* opened and spilled with nothing written: nothing to persist */
    s = sec_open(gov, NEVER, MGOV_TIER_UNINITIALIZED);
    CHECK_RC(mgov_section_spill(s, -1), MGOV_OK);
    CHECK(mgov_section_tier(s) == MGOV_TIER_UNINITIALIZED);
    sec_close(s);
    /* written, never spilled */
    s = sec_open(gov, UNSPILLED, MGOV_TIER_UNINITIALIZED);
    CHECK_RC(mgov_section_append(s, unspilled->p, unspilled->n), MGOV_OK);
    CHECK(mgov_section_tier(s) == MGOV_TIER_IN_MEMORY);
    sec_close(s);
    gov_close(gov);
    _exit(0);
}

/* The listing after the restart: exactly the spilled sections, on disk. */
static void restart_check_listing(mgov_t *gov, uint64_t *gens)
{
    listing_t l;
    sec_list(gov, &l);
    CHECK_U64(l.n, N_RESTART);
    for (size_t i = 0; i < N_RESTART; i++) {
        const mgov_section_info_t *in = listing_find(&l, restart_secs[i].name);
        if (!in)
            check_fail(__FILE__, __LINE__, "'%s' not listed", restart_secs[i].name);
        CHECK(in->tier == MGOV_TIER_ON_DISK);
        CHECK_RC(in->status, MGOV_OK);
        CHECK(!in->open);
        CHECK_U64(in->length, restart_secs[i].len);
        CHECK_U64(in->disk_bytes, HDR + restart_secs[i].len);
        CHECK_U64(in->ram_bytes, 0);
        CHECK(in->generation > 0);
        CHECK(in->override == MGOV_SECTION_AUTO);
        if (gens[i])
            CHECK_U64(in->generation, gens[i]);
        gens[i] = in->generation;
        for (size_t j = 0; j < i; j++)
            CHECK(gens[j] != gens[i]);
    }
    CHECK(listing_find(&l, UNSPILLED) == NULL);
    CHECK(listing_find(&l, NEVER) == NULL);
    dir_check(&l, true, NULL);
}

static void test_restart(void **state)
{
    (void)state;
    double t0 = now_s();
    blob_t data[N_RESTART];
    for (size_t i = 0; i < N_RESTART; i++)
        data[i] = blob_new(restart_secs[i].len, restart_secs[i].seed);
    blob_t unspilled = blob_new(7777, 106);

    pid_t pid = fork_child();
    if (pid == 0)
        restart_child(data, &unspilled);
    expect_exit0(wait_child(pid));

    uint64_t gens[N_RESTART] = { 0 };
    mgov_t *gov = gov_open();
    restart_check_listing(gov, gens);
    for (size_t i = 0; i < N_RESTART; i++) {
        mgov_section_t *s = sec_open(gov, restart_secs[i].name, MGOV_TIER_ON_DISK);
        CHECK_U64(mgov_section_length(s), restart_secs[i].len);
        if (i % 2 == 0) { /* first read through the mapping, then reload */
            sec_expect(s, &data[i]);
            CHECK_RC(mgov_section_reload(s, -1), MGOV_OK);
        } else { /* first read by the reload */
            CHECK_RC(mgov_section_reload(s, -1), MGOV_OK);
        }
        CHECK(mgov_section_tier(s) == MGOV_TIER_IN_MEMORY);
        sec_expect(s, &data[i]);
        sec_close(s);
    }
    const char *fresh[] = { UNSPILLED, NEVER };
    for (int k = 0; k < 2; k++) {
        mgov_section_t *s = sec_open(gov, fresh[k], MGOV_TIER_UNINITIALIZED);
        CHECK_U64(mgov_section_length(s), 0);
        CHECK(sec_equals(s, NULL, 0));
        sec_close(s);
    }
    /* closing sections that were reloaded keeps their copies */
    restart_check_listing(gov, gens);
    gov_close(gov);

    /* and a second restart finds the same */
    gov = gov_open();
    restart_check_listing(gov, gens);
    mgov_section_t *s = sec_open(gov, restart_secs[N_RESTART - 1].name, MGOV_TIER_ON_DISK);
    sec_expect(s, &data[N_RESTART - 1]);
    sec_close(s);
    gov_close(gov);

    for (size_t i = 0; i < N_RESTART; i++)
        blob_free(&data[i]);
    blob_free(&unspilled);
    print_message("restart: %.2f s\n", now_s() - t0);
}

/* ================================================================= crash */

/* Sections of the crash test, and the versions each may hold. */
enum { C_K, C_X, C_Y, C_Z, C_W, C_N };
static const char *const crash_names[C_N] = {
    [C_K] = "k keep 1", [C_X] = "x-ram", [C_Y] = "y disk-2", [C_Z] = "z 9", [C_W] = "w-new 5",
};
#define C_MAXV 3
static blob_t crash_v[C_N][C_MAXV];
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
    crash_v[C_K][0] = blob_new(4097, 51);
    crash_v[C_X][0] = blob_new(10000, 11);
    crash_v[C_X][1] = blob_new(8 * MiB + 12345, 12);
    crash_v[C_Y][0] = blob_new(70000, 21);
    crash_v[C_Y][1] = blob_patch(&crash_v[C_Y][0], 70000, 5000, 22);
    crash_v[C_Y][2] = blob_patch(&crash_v[C_Y][1], 1000, 3000, 23);
    crash_v[C_Z][0] = blob_new(5000, 31);
    crash_v[C_W][0] = blob_new(9000, 41);
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
            blob_free(&crash_v[i][v]);
}

/* The child: state A, then the sequence with a crash armed (or none:
 * kind < 0).  Exits 0 when the sequence ran to its end. */
static void crash_child(int kind, long after)
{
    mgov_t *gov = gov_open();
    for (int i = C_K; i <= C_Z; i++)
        sec_put(gov, crash_names[i], &crash_v[i][0]);
    mgov_section_t *x = sec_open(gov, crash_names[C_X], MGOV_TIER_ON_DISK);
    mgov_section_t *y = sec_open_disk(gov, crash_names[C_Y], MGOV_TIER_ON_DISK);

    if (kind >= 0)
        mgov__fault_arm_crash((mgov_fault_kind_t)kind, after);

    /* 1: X into RAM, rewritten there, spilled */
    CHECK_RC(mgov_section_reload(x, -1), MGOV_OK);
    CHECK(mgov_section_tier(x) == MGOV_TIER_IN_MEMORY);
    const blob_t *x1 = &crash_v[C_X][1];
    CHECK_RC(mgov_section_write(x, 0, x1->p, x1->n), MGOV_OK);
    CHECK(mgov_section_tier(x) == MGOV_TIER_IN_MEMORY);
    CHECK_RC(mgov_section_spill(x, -1), MGOV_OK);
    CHECK(mgov_section_tier(x) == MGOV_TIER_ON_DISK);
    /* 2, 3: Y rewritten on disk twice */
    const blob_t *y1 = &crash_v[C_Y][1], *y2 = &crash_v[C_Y][2];
    CHECK_RC(mgov_section_append(y, y1->p + 70000, 5000), MGOV_OK);
    CHECK(mgov_section_tier(y) == MGOV_TIER_ON_DISK);
    CHECK_RC(mgov_section_write(y, 1000, y2->p + 1000, 3000), MGOV_OK);
    CHECK(mgov_section_tier(y) == MGOV_TIER_ON_DISK);
    /* 4: Z removed */
    CHECK_RC(mgov_section_remove(gov, crash_names[C_Z]), MGOV_OK);
    /* 5: W new */
    sec_put(gov, crash_names[C_W], &crash_v[C_W][0]);

    sec_close(x);
    sec_close(y);
    gov_close(gov);
    _exit(0);
}

typedef struct crash_obs {
    int k;               /* the sequence's prefix found */
    uint64_t gen[C_N];   /* of each section's file; 0 = none */
    int strays;          /* files left that the manifest does not name */
    char stray[NAME_MAX + 1]; /* the first of them */
} crash_obs_t;

/* Reopens the store and finds which prefix of the sequence it holds. */
static crash_obs_t crash_observe(const char *where)
{
    crash_obs_t o = { .k = -1 };
    mgov_t *gov = gov_open();
    listing_t l;
    sec_list(gov, &l); /* the first use: manifest read, orphans removed */
    /* stray files are counted, so that one such failure does not hide how
     * the contents fare at the other kill points */
    o.strays = dir_check_strays(&l, true, NULL, o.stray, sizeof o.stray);
    for (unsigned i = 0; i < l.n; i++) {
        const mgov_section_info_t *in = &l.info[i];
        bool ours = false;
        for (int j = 0; j < C_N; j++)
            ours |= strcmp(in->name, crash_names[j]) == 0;
        if (!ours)
            check_fail(__FILE__, __LINE__, "%s: unknown section '%s' listed", where, in->name);
        if (in->status != MGOV_OK || in->tier != MGOV_TIER_ON_DISK || in->open ||
            !in->generation)
            check_fail(__FILE__, __LINE__, "%s: '%s' listed with status %s, tier %s, gen %llu",
                       where, in->name, mgov_status_name(in->status), mgov_tier_name(in->tier),
                       (unsigned long long)in->generation);
    }
    int ver[C_N];
    for (int j = 0; j < C_N; j++) {
        const mgov_section_info_t *in = listing_find(&l, crash_names[j]);
        mgov_section_t *s = NULL;
        int rc = mgov_section_open(gov, crash_names[j], NULL, &s);
        if (rc != MGOV_OK)
            check_fail(__FILE__, __LINE__, "%s: opening '%s': %s", where, crash_names[j],
                       mgov_status_name(rc));
        o.gen[j] = in ? in->generation : 0;
        ver[j] = -2;
        if (mgov_section_tier(s) == MGOV_TIER_UNINITIALIZED) {
            CHECK(in == NULL);
            CHECK_U64(mgov_section_length(s), 0);
            ver[j] = -1;
        } else {
            CHECK(in != NULL && mgov_section_tier(s) == MGOV_TIER_ON_DISK);
            CHECK_U64(mgov_section_length(s), in->length);
            mgov_section_view_t v;
            rc = mgov_section_pin(s, &v);
            if (rc != MGOV_OK)
                check_fail(__FILE__, __LINE__, "%s: pinning '%s': %s", where, crash_names[j],
                           mgov_status_name(rc));
            for (int c = 0; c < crash_nv[j] && ver[j] == -2; c++)
                if (v.len == crash_v[j][c].n && v.len &&
                    memcmp(v.data, crash_v[j][c].p, v.len) == 0)
                    ver[j] = c;
            mgov_section_unpin(s, &v);
            if (ver[j] == -2)
                check_fail(__FILE__, __LINE__, "%s: '%s' (%zu bytes) holds none of its versions",
                           where, crash_names[j], (size_t)in->length);
        }
        sec_close(s);
    }
    gov_close(gov);
    for (int k = 0; k <= N_STEPS && o.k < 0; k++) {
        int want[C_N];
        crash_state(k, want);
        if (memcmp(want, ver, sizeof want) == 0)
            o.k = k;
    }
    if (o.k < 0)
        check_fail(__FILE__, __LINE__,
                   "%s: versions K %d X %d Y %d Z %d W %d are no prefix of the sequence", where,
                   ver[C_K], ver[C_X], ver[C_Y], ver[C_Z], ver[C_W]);
    return o;
}

/* After a crash the store takes new writes: a disk rewrite of K and a new
 * section, found by the next governor. */
static void crash_resume(const crash_obs_t *o)
{
    blob_t k1 = blob_patch(&crash_v[C_K][0], crash_v[C_K][0].n, 100, 52);
    blob_t extra = blob_new(3000, 53);
    mgov_t *gov = gov_open();
    mgov_section_t *s = sec_open_disk(gov, crash_names[C_K], MGOV_TIER_ON_DISK);
    CHECK_RC(mgov_section_append(s, k1.p + crash_v[C_K][0].n, 100), MGOV_OK);
    CHECK(mgov_section_tier(s) == MGOV_TIER_ON_DISK);
    sec_close(s);
    sec_put(gov, "after crash", &extra);
    gov_close(gov);

    gov = gov_open();
    listing_t l;
    sec_list(gov, &l);
    if (!o->strays) /* else counted already */
        dir_check(&l, true, NULL);
    const mgov_section_info_t *in = listing_find(&l, crash_names[C_K]);
    CHECK(in && in->generation > o->gen[C_K]);
    for (int j = 0; j < C_N; j++) { /* the others are as they were */
        in = listing_find(&l, crash_names[j]);
        if (j != C_K)
            CHECK_U64(in ? in->generation : 0, o->gen[j]);
    }
    s = sec_open(gov, crash_names[C_K], MGOV_TIER_ON_DISK);
    sec_expect(s, &k1);
    sec_close(s);
    s = sec_open(gov, "after crash", MGOV_TIER_ON_DISK);
    sec_expect(s, &extra);
    sec_close(s);
    gov_close(gov);
    blob_free(&k1);
    blob_free(&extra);
}

static void test_crash_points(void **state)
{
    (void)state;
    double t0 = now_s();
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
    int total_kills = 0, stray_points = 0;
    char stray_example[256] = "";
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        int kills = 0, last_k = 0;
        int seen_k[N_STEPS + 1] = { 0 };
        for (long n = 0;; n++) {
            CHECK(n < 400);
            CHECK_RC(faketree_remove(&scratch.ft, "store"), 0);
            pid_t pid = fork_child();
            if (pid == 0)
                crash_child(kinds[ki].kind, n);
            int status = wait_child(pid);
            static char where[96];
            pf(where, sizeof where, "%s crash #%ld", kinds[ki].name, n);
            check_context = where;
            bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
            if (!killed)
                expect_exit0(status);
            crash_obs_t o = crash_observe(where);
            if (o.strays && !stray_points++)
                pf(stray_example, sizeof stray_example, "%s: %d, e.g. '%s'", where, o.strays,
                   o.stray);
            /* reopening again finds the same, files and all */
            crash_obs_t o2 = crash_observe(where);
            CHECK(o2.k == o.k);
            CHECK(memcmp(o.gen, o2.gen, sizeof o.gen) == 0);
            CHECK(o2.strays == 0 || o.strays > 0);
            /* later kills never find less done */
            CHECK(o.k >= last_k);
            last_k = o.k;
            seen_k[o.k]++;
            crash_resume(&o);
            check_context = NULL;
            if (!killed) {
                CHECK(o.k == N_STEPS); /* ran to its end */
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
    print_message("crash: %d kill points in %.2f s\n", total_kills, now_s() - t0);
    CHECK(total_kills >= 15);
    crash_data_free();
    if (stray_points)
        check_fail(__FILE__, __LINE__,
                   "at %d kill points files the manifest does not name were left after "
                   "reopening (first: %s)",
                   stray_points, stray_example);
}

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
        check_fail(__FILE__, __LINE__, "opening '%s': %s, expected MGOV_ECORRUPT", name,
                   mgov_status_name(rc));
    CHECK(s == NULL);
}

static int listed_status(mgov_t *gov, const char *name)
{
    listing_t l;
    sec_list(gov, &l);
    const mgov_section_info_t *in = listing_find(&l, name);
    CHECK(in != NULL);
    return in->status;
}

static void test_corrupt_sections(void **state)
{
    (void)state;
    blob_t data[B_N];
    uint64_t gen[B_N];
    char path[B_N][PATH_MAX];
    for (int i = 0; i < B_N; i++)
        data[i] = blob_new(bad_len[i], 200 + (uint64_t)i);

    mgov_t *gov = gov_open();
    for (int i = 0; i < B_N; i++)
        sec_put(gov, bad_names[i], &data[i]);
    listing_t l;
    sec_list(gov, &l);
    CHECK_U64(l.n, B_N);
    for (int i = 0; i < B_N; i++) {
        gen[i] = listing_find(&l, bad_names[i])->generation;
        char f[256];
        secfile_name(f, sizeof f, bad_names[i], gen[i]);
        store_path(path[i], sizeof path[i], f);
        CHECK(exists(path[i]));
    }
    gov_close(gov);

    /* the damage: data (the header still checks), header, size, presence */
    flip_byte(path[B_DATA_PIN], (off_t)(HDR + 12345));
    flip_byte(path[B_DATA_RELOAD], (off_t)(HDR + bad_len[B_DATA_RELOAD] - 1));
    flip_byte(path[B_HEADER], 50); /* the name's zero padding: only the header crc sees it */
    CHECK(truncate(path[B_TRUNC], (off_t)(HDR + bad_len[B_TRUNC] - 1)) == 0);
    CHECK(unlink(path[B_GONE]) == 0);

    gov = gov_open();
    sec_list(gov, &l);
    CHECK_U64(l.n, B_N); /* all still known, the bad ones unavailable */
    for (int i = 0; i < B_N; i++) {
        const mgov_section_info_t *in = listing_find(&l, bad_names[i]);
        CHECK(in != NULL);
        CHECK_U64(in->generation, gen[i]);
        CHECK(in->tier == MGOV_TIER_ON_DISK);
        bool header_bad = i == B_HEADER || i == B_TRUNC || i == B_GONE;
        if (in->status != (header_bad ? MGOV_ECORRUPT : MGOV_OK))
            check_fail(__FILE__, __LINE__, "'%s' listed with status %s", bad_names[i],
                       mgov_status_name(in->status));
    }
    expect_unavailable(gov, bad_names[B_HEADER]);
    expect_unavailable(gov, bad_names[B_TRUNC]);
    expect_unavailable(gov, bad_names[B_GONE]);

    /* the healthy ones */
    mgov_section_t *good[2];
    for (int i = 0; i < 2; i++) {
        good[i] = sec_open(gov, bad_names[B_GOOD1 + i], MGOV_TIER_ON_DISK);
        sec_expect(good[i], &data[B_GOOD1 + i]);
    }

    /* bad data found by the first pin */
    mgov_section_t *s = sec_open(gov, bad_names[B_DATA_PIN], MGOV_TIER_ON_DISK);
    CHECK_U64(mgov_section_length(s), bad_len[B_DATA_PIN]);
    mgov_section_view_t v = { (void *)&v, 7 };
    CHECK_RC(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    CHECK(v.data == NULL && v.len == 0);
    CHECK_RC(listed_status(gov, bad_names[B_DATA_PIN]), MGOV_ECORRUPT);
    CHECK_RC(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    CHECK_RC(mgov_section_reload(s, -1), MGOV_ECORRUPT);
    CHECK_RC(mgov_section_append(s, "x", 1), MGOV_ECORRUPT);
    CHECK_RC(mgov_section_write(s, 0, "x", 1), MGOV_ECORRUPT);
    CHECK_U64(mgov_section_length(s), bad_len[B_DATA_PIN]);
    CHECK_RC(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    CHECK_RC(mgov_section_remove(gov, bad_names[B_DATA_PIN]), MGOV_EBUSY); /* open */
    sec_close(s);
    expect_unavailable(gov, bad_names[B_DATA_PIN]);

    /* bad data found by the first reload */
    s = sec_open(gov, bad_names[B_DATA_RELOAD], MGOV_TIER_ON_DISK);
    CHECK_RC(mgov_section_reload(s, -1), MGOV_ECORRUPT);
    CHECK(mgov_section_tier(s) == MGOV_TIER_ON_DISK);
    CHECK_RC(listed_status(gov, bad_names[B_DATA_RELOAD]), MGOV_ECORRUPT);
    CHECK_RC(mgov_section_pin(s, &v), MGOV_ECORRUPT);
    CHECK_RC(mgov_section_reload(s, -1), MGOV_ECORRUPT);
    CHECK_RC(mgov_section_append(s, "x", 1), MGOV_ECORRUPT);
    sec_close(s);
    expect_unavailable(gov, bad_names[B_DATA_RELOAD]);

    /* the healthy ones did not notice */
    for (int i = 0; i < 2; i++) {
        sec_expect(good[i], &data[B_GOOD1 + i]);
        CHECK_RC(mgov_section_reload(good[i], -1), MGOV_OK);
        sec_expect(good[i], &data[B_GOOD1 + i]);
        sec_close(good[i]);
    }

    /* removing the bad ones frees their names */
    for (int i = B_DATA_PIN; i < B_N; i++) {
        CHECK_RC(mgov_section_remove(gov, bad_names[i]), MGOV_OK);
        CHECK_RC(mgov_section_remove(gov, bad_names[i]), MGOV_ENOTFOUND);
        CHECK(!exists(path[i]));
        s = sec_open(gov, bad_names[i], MGOV_TIER_UNINITIALIZED);
        CHECK_U64(mgov_section_length(s), 0);
        CHECK(sec_equals(s, NULL, 0));
        sec_close(s);
    }
    sec_list(gov, &l);
    CHECK_U64(l.n, 2);
    dir_check(&l, true, NULL);
    gov_close(gov);

    /* and the next governor finds only the good ones */
    gov = gov_open();
    sec_list(gov, &l);
    CHECK_U64(l.n, 2);
    for (int i = 0; i < 2; i++) {
        const mgov_section_info_t *in = listing_find(&l, bad_names[B_GOOD1 + i]);
        CHECK(in && in->status == MGOV_OK && in->generation == gen[B_GOOD1 + i]);
        s = sec_open(gov, bad_names[B_GOOD1 + i], MGOV_TIER_ON_DISK);
        sec_expect(s, &data[B_GOOD1 + i]);
        sec_close(s);
    }
    dir_check(&l, true, NULL);
    gov_close(gov);
    for (int i = 0; i < B_N; i++)
        blob_free(&data[i]);
}

static void test_corrupt_manifest(void **state)
{
    (void)state;
    blob_t a = blob_new(6000, 300), b = blob_new(4096, 301);
    mgov_t *gov = gov_open();
    sec_put(gov, "alpha 1", &a);
    sec_put(gov, "beta-2", &b);
    gov_close(gov);
    /* leftovers a healthy open would remove: a bad manifest must not */
    char ghost[PATH_MAX], tmp[PATH_MAX], mpath[PATH_MAX];
    store_path(ghost, sizeof ghost, "sec-00000000000000ff-ghost");
    store_path(tmp, sizeof tmp, MANIFEST ".tmp");
    store_path(mpath, sizeof mpath, MANIFEST);
    write_file(ghost, "boo", 3);
    write_file(tmp, "half a manifest", 15);
    uint8_t orig[4096];
    size_t mlen = read_file(mpath, orig, sizeof orig);
    CHECK(mlen > 28);

    char before[4096], after[4096];
    sh_list(store, before, sizeof before);
    CHECK(strstr(before, LOCKFILE) == NULL);
    /* flipped bytes (magic, count, next generation, a name, the crc), then
     * truncated (-(n + 1): to n bytes) to 10 bytes and to nothing */
    const long flips[] = { 0, 12, 17, (long)mlen / 2, (long)mlen - 1, -11, -1 };
    for (size_t f = 0; f < sizeof flips / sizeof flips[0]; f++) {
        if (flips[f] >= 0) {
            write_file(mpath, orig, mlen);
            flip_byte(mpath, (off_t)flips[f]);
        } else {
            write_file(mpath, orig, (size_t)-flips[f] - 1);
        }
        uint8_t damaged[4096];
        size_t dlen = read_file(mpath, damaged, sizeof damaged);
        gov = gov_open();
        mgov_section_t *s = (mgov_section_t *)&s;
        CHECK_RC(mgov_section_open(gov, "alpha 1", NULL, &s), MGOV_ECORRUPT);
        CHECK(s == NULL);
        CHECK_RC(mgov_section_open(gov, "new one", NULL, &s), MGOV_ECORRUPT);
        listing_t l;
        CHECK_RC(mgov_section_foreach(gov, listing_cb, &l), MGOV_ECORRUPT);
        CHECK_RC(mgov_section_remove(gov, "beta-2"), MGOV_ECORRUPT);
        gov_close(gov);
        sh_list(store, after, sizeof after);
        if (strcmp(before, after) != 0)
            check_fail(__FILE__, __LINE__, "damage %ld: the store was [%s], now [%s]", flips[f],
                       before, after);
        uint8_t now[4096];
        size_t nlen = read_file(mpath, now, sizeof now);
        CHECK(nlen == dlen && memcmp(now, damaged, dlen) == 0); /* left as it was */
    }

    /* repaired, it opens; now the leftovers go */
    write_file(mpath, orig, mlen);
    gov = gov_open();
    mgov_section_t *s = sec_open(gov, "alpha 1", MGOV_TIER_ON_DISK);
    sec_expect(s, &a);
    sec_close(s);
    s = sec_open(gov, "beta-2", MGOV_TIER_ON_DISK);
    sec_expect(s, &b);
    sec_close(s);
    CHECK(!exists(ghost));
    CHECK(!exists(tmp));
    listing_t l;
    sec_list(gov, &l);
    CHECK_U64(l.n, 2);
    dir_check(&l, true, NULL);
    gov_close(gov);
    blob_free(&a);
    blob_free(&b);
}

/* ================================================================ orphans */

static void test_orphans(void **state)
{
    (void)state;
    blob_t k0 = blob_new(5000, 400), k1 = blob_new(6000, 401);
    mgov_t *gov = gov_open();
    sec_put(gov, "keep", &k0);
    mgov_section_t *s = sec_open_disk(gov, "keep", MGOV_TIER_ON_DISK);
    CHECK_RC(mgov_section_write(s, 0, k1.p, k1.n), MGOV_OK); /* a second generation, on disk */
    sec_close(s);
    listing_t l;
    sec_list(gov, &l);
    CHECK_U64(l.n, 1);
    uint64_t gen = l.info[0].generation;
    CHECK(gen >= 2);
    gov_close(gov);

    /* what a crash leaves: a file of a section the manifest lacks, files of
     * other generations of one it has, the next manifest half made */
    char files[4][64];
    pf(files[0], sizeof files[0], "sec-00000000000000ff-ghost");
    secfile_name(files[1], sizeof files[1], "keep", gen - 1);
    secfile_name(files[2], sizeof files[2], "keep", gen + 7);
    pf(files[3], sizeof files[3], MANIFEST ".tmp");
    char p[PATH_MAX];
    for (int i = 0; i < 4; i++) {
        store_path(p, sizeof p, files[i]);
        write_file(p, "leftover", 8);
    }
    store_path(p, sizeof p, "notes.txt");
    write_file(p, "not ours", 8);

    gov = gov_open();
    s = sec_open(gov, "keep", MGOV_TIER_ON_DISK);
    for (int i = 0; i < 4; i++) {
        store_path(p, sizeof p, files[i]);
        if (exists(p))
            check_fail(__FILE__, __LINE__, "'%s' was not removed", files[i]);
    }
    store_path(p, sizeof p, "notes.txt");
    CHECK(exists(p));
    sec_expect(s, &k1);
    sec_close(s);
    sec_list(gov, &l);
    CHECK_U64(l.n, 1);
    CHECK_U64(l.info[0].generation, gen);
    const char *extra[] = { "notes.txt", NULL };
    dir_check(&l, true, extra);
    gov_close(gov);

    /* with no manifest at all: every section file is an orphan */
    CHECK_RC(faketree_remove(&scratch.ft, "store"), 0);
    CHECK_RC(faketree_mkdir(&scratch.ft, "store"), 0);
    for (int i = 0; i < 4; i++) {
        store_path(p, sizeof p, files[i]);
        write_file(p, "leftover", 8);
    }
    store_path(p, sizeof p, "notes.txt");
    write_file(p, "not ours", 8);
    gov = gov_open();
    s = sec_open(gov, "keep", MGOV_TIER_UNINITIALIZED);
    for (int i = 0; i < 4; i++) {
        store_path(p, sizeof p, files[i]);
        CHECK(!exists(p));
    }
    sec_list(gov, &l);
    CHECK_U64(l.n, 1);
    CHECK(l.info[0].open && l.info[0].generation == 0 &&
          l.info[0].tier == MGOV_TIER_UNINITIALIZED);
    dir_check(&l, false, extra);
    sec_close(s);
    gov_close(gov);
    blob_free(&k0);
    blob_free(&k1);
}

/* ================================================================ private */

/* The one entry of the scratch root named memgov-<pid>-*, into out. */
static void private_dir_of(pid_t pid, char *out, size_t cap)
{
    char prefix[64];
    pf(prefix, sizeof prefix, "memgov-%ld-", (long)pid);
    DIR *d = opendir(scratch.ft.root);
    CHECK(d != NULL);
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            pf(out, cap, "%s/%s", scratch.ft.root, de->d_name);
            found++;
        }
    closedir(d);
    CHECK(found == 1);
}

/* Files named sec-* in dir. */
static int count_secfiles(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "sec-", 4) == 0;
    closedir(d);
    return n;
}

static void test_private_dir(void **state)
{
    (void)state;
    blob_t a = blob_new(10000, 500), b = blob_new(MiB + 1, 501), c = blob_new(300, 502);
    mgov_t *gov = gov_at(NULL);
    CHECK(mgov_spill_dir(gov) == NULL);
    sec_put(gov, "a 1", &a);
    sec_put(gov, "b-2", &b);
    mgov_section_t *sc = sec_open(gov, "c", MGOV_TIER_UNINITIALIZED);
    CHECK_RC(mgov_section_append(sc, c.p, c.n), MGOV_OK);
    mgov_section_t *sa = sec_open(gov, "a 1", MGOV_TIER_ON_DISK);
    sec_expect(sa, &a);

    char priv[PATH_MAX], list[1024];
    CHECK(sh_count_entries(scratch.ft.root) == 1);
    private_dir_of(getpid(), priv, sizeof priv);
    CHECK(count_secfiles(priv) == 2);
    pf(list, sizeof list, "%s/" MANIFEST, priv);
    CHECK(exists(list));

    /* another private governor has its own directory and sees none of them */
    mgov_t *gov2 = gov_at(NULL);
    listing_t l;
    sec_list(gov2, &l);
    CHECK_U64(l.n, 0);
    CHECK(sh_count_entries(scratch.ft.root) == 2);
    gov_close(gov2);
    CHECK(sh_count_entries(scratch.ft.root) == 1);

    sec_close(sa);
    sec_close(sc);
    gov_close(gov);
    if (sh_count_entries(scratch.ft.root) != 0)
        check_fail(__FILE__, __LINE__, "left after mgov_destroy: %s",
                   sh_list(scratch.ft.root, list, sizeof list));
    blob_free(&a);
    blob_free(&b);
    blob_free(&c);
}

/* A killed owner's private directory, section files and all, is swept by
 * the next private directory made beside it (spill_tier.h, spill_stale.c). */
static void test_private_dir_dead_owner(void **state)
{
    (void)state;
    blob_t a = blob_new(10000, 510), b = blob_new(3 * 4096, 511);
    char priv[PATH_MAX], list[1024];
    pid_t pid = fork_child();
    if (pid == 0) {
        mgov_t *cg = gov_at(NULL);
        sec_put(cg, "a 1", &a);
        sec_put(cg, "b-2", &b);
        raise(SIGKILL);
        _exit(4);
    }
    int status = wait_child(pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    private_dir_of(pid, priv, sizeof priv);
    CHECK(count_secfiles(priv) == 2);
    pf(list, sizeof list, "%s/" MANIFEST, priv);
    CHECK(exists(list));
    mgov_t *gov = gov_at(NULL);
    mgov_section_t *s = sec_open(gov, "a 1", MGOV_TIER_UNINITIALIZED); /* makes our directory */
    if (exists(priv))
        check_fail(__FILE__, __LINE__, "the dead owner's directory is still there: %s",
                   sh_list(priv, list, sizeof list));
    CHECK(sh_count_entries(scratch.ft.root) == 1);
    sec_close(s);
    gov_close(gov);
    CHECK(sh_count_entries(scratch.ft.root) == 0);
    blob_free(&a);
    blob_free(&b);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_restart),
        T(test_crash_points),
        T(test_corrupt_sections),
        T(test_corrupt_manifest),
        T(test_orphans),
        T(test_private_dir),
        T(test_private_dir_dead_owner),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
