/* persist_helpers.c - the helpers of the section persistence tests (see
 * persist_helpers.h).
 *
 * State: the scratch tree and store path of the running case, and whether
 * this process is a forked child; no locks (main thread only).
 */
#include "persist_helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "sys/crc32c.h"
#include "sys/fault.h"

/* ------------------------------------------------------------ checking */

bool ph_in_child;
const char *ph_check_context;

void ph_check_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *ctx = ph_check_context ? ph_check_context : "";
    const char *sep = ph_check_context ? ": " : "";
    if (ph_in_child) {
        fprintf(stderr, "[child %ld] %s:%d: %s%s%s\n", (long)getpid(), file, line, ctx, sep, msg);
        _exit(3);
    }
    print_error("%s:%d: %s%s%s\n", file, line, ctx, sep, msg);
    _fail(file, line);
    abort(); /* not reached */
}

void ph_pf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    PH_CHECK(n >= 0 && (size_t)n < cap);
}

double ph_now_s(void)
{
    return (double)gh_now_ns() / 1e9;
}

/* --------------------------------------------------------------- setup */

sh_scratch_t ph_scratch;
char ph_store[PATH_MAX];

int ph_setup(void **state)
{
    (void)state;
    umask(022);
    ph_in_child = false;
    ph_check_context = NULL;
    sh_scratch_init(&ph_scratch);
    ph_pf(ph_store, sizeof ph_store, "%s/store", ph_scratch.ft.root);
    return 0;
}

int ph_teardown(void **state)
{
    (void)state;
    mgov__fault_disarm_all(); /* first: a failed case may have left one armed */
    assert_int_equal(faketree_remove(&ph_scratch.ft, "store"), 0);
    sh_scratch_fini(&ph_scratch);
    return 0;
}

/* ------------------------------------------------------------- contents */

ph_blob_t ph_blob_new(size_t n, uint64_t seed)
{
    ph_blob_t b = { malloc(n ? n : 1), n };
    PH_CHECK(b.p != NULL);
    sh_fill(b.p, n, seed, false);
    return b;
}

ph_blob_t ph_blob_patch(const ph_blob_t *b, size_t off, size_t len, uint64_t seed)
{
    size_t n = off + len > b->n ? off + len : b->n;
    ph_blob_t r = { malloc(n ? n : 1), n };
    PH_CHECK(r.p != NULL && off <= b->n);
    memcpy(r.p, b->p, b->n);
    sh_fill(r.p + off, len, seed, false);
    return r;
}

void ph_blob_free(ph_blob_t *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

/* ------------------------------------------------------------ governors */

mgov_t *ph_gov_at(const char *spill_dir)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 256 * GH_MiB;
    cfg.spill_dir = spill_dir;
    mgov_t *gov = NULL;
    PH_CHECK_RC(mgov_create(&cfg, &gov), MGOV_OK);
    PH_CHECK(gov != NULL);
    return gov;
}

mgov_t *ph_gov_open(void)
{
    return ph_gov_at(ph_store);
}

void ph_gov_close(mgov_t *gov)
{
    PH_CHECK_RC(mgov_destroy(gov), MGOV_OK);
}

static void record_event(void *ctx, const mgov_event_t *e)
{
    ph_events_t *ev = ctx;
    if (e->type != MGOV_EV_QUARANTINED)
        return;
    if (ev->n < 64) {
        ph_pf(ev->names[ev->n], sizeof ev->names[ev->n], "%s", e->name ? e->name : "(null)");
        ev->bytes[ev->n] = e->bytes;
        ev->status[ev->n] = e->status;
    }
    ev->n++;
    ev->failed += e->status != MGOV_OK;
}

mgov_t *ph_gov_events(ph_events_t *ev)
{
    memset(ev, 0, sizeof *ev);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 256 * GH_MiB;
    cfg.spill_dir = ph_store;
    cfg.on_event = record_event;
    cfg.event_ctx = ev;
    mgov_t *gov = NULL;
    PH_CHECK_RC(mgov_create(&cfg, &gov), MGOV_OK);
    return gov;
}

/* ------------------------------------------------------------- sections */

mgov_section_t *ph_sec_open_cfg(mgov_t *gov, const char *name, mgov_tier_t tier,
                                const mgov_section_config_t *cfg)
{
    mgov_section_t *s = NULL;
    PH_CHECK_RC(mgov_section_open(gov, name, cfg, &s), MGOV_OK);
    PH_CHECK(s != NULL);
    if (mgov_section_tier(s) != tier)
        ph_check_fail(__FILE__, __LINE__, "section '%s' opened %s, expected %s", name,
                      mgov_tier_name(mgov_section_tier(s)), mgov_tier_name(tier));
    return s;
}

mgov_section_t *ph_sec_open(mgov_t *gov, const char *name, mgov_tier_t tier)
{
    return ph_sec_open_cfg(gov, name, tier, NULL);
}

mgov_section_t *ph_sec_open_disk(mgov_t *gov, const char *name, mgov_tier_t tier)
{
    mgov_section_config_t c = MGOV_SECTION_CONFIG_INIT;
    c.override = MGOV_SECTION_FORCE_DISK;
    return ph_sec_open_cfg(gov, name, tier, &c);
}

void ph_sec_close(mgov_section_t *s)
{
    PH_CHECK_RC(mgov_section_close(s), MGOV_OK);
}

bool ph_sec_equals(mgov_section_t *s, const void *data, size_t n)
{
    mgov_section_view_t v;
    PH_CHECK_RC(mgov_section_pin(s, &v), MGOV_OK);
    bool eq = v.len == n && mgov_section_length(s) == n &&
              (n == 0 ? v.data == NULL : v.data != NULL && memcmp(v.data, data, n) == 0);
    mgov_section_unpin(s, &v);
    return eq;
}

void ph_sec_expect(mgov_section_t *s, const ph_blob_t *b)
{
    if (!ph_sec_equals(s, b->p, b->n))
        ph_check_fail(__FILE__, __LINE__, "section '%s' (%llu bytes) does not hold its %zu bytes",
                      mgov_section_name(s), (unsigned long long)mgov_section_length(s), b->n);
}

void ph_sec_put(mgov_t *gov, const char *name, const ph_blob_t *b)
{
    mgov_section_t *s = ph_sec_open(gov, name, MGOV_TIER_UNINITIALIZED);
    size_t half = b->n / 2;
    PH_CHECK_RC(mgov_section_append(s, b->p, half), MGOV_OK);
    PH_CHECK_RC(mgov_section_append(s, b->p + half, b->n - half), MGOV_OK);
    PH_CHECK(mgov_section_tier(s) == (b->n ? MGOV_TIER_IN_MEMORY : MGOV_TIER_UNINITIALIZED));
    PH_CHECK_RC(mgov_section_spill(s, -1), MGOV_OK);
    if (b->n)
        PH_CHECK(mgov_section_tier(s) == MGOV_TIER_ON_DISK);
    ph_sec_close(s);
}

/* --------------------------------------------------------------- listing */

void ph_listing_cb(void *arg, const mgov_section_info_t *info)
{
    ph_listing_t *l = arg;
    PH_CHECK(l->n < 64);
    ph_pf(l->names[l->n], sizeof l->names[l->n], "%s", info->name);
    l->info[l->n] = *info;
    l->info[l->n].name = l->names[l->n];
    l->n++;
}

void ph_sec_list(mgov_t *gov, ph_listing_t *l)
{
    memset(l, 0, sizeof *l);
    PH_CHECK_RC(mgov_section_foreach(gov, ph_listing_cb, l), MGOV_OK);
    for (unsigned i = 1; i < l->n; i++) /* name order */
        PH_CHECK(strcmp(l->names[i - 1], l->names[i]) < 0);
}

const mgov_section_info_t *ph_listing_find(const ph_listing_t *l, const char *name)
{
    for (unsigned i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return &l->info[i];
    return NULL;
}

void ph_secfile_name(char *out, size_t cap, const char *name, uint64_t gen)
{
    ph_pf(out, cap, "sec-%016llx-%s", (unsigned long long)gen, name);
}

void ph_store_path(char *out, size_t cap, const char *file)
{
    ph_pf(out, cap, "%s/%s", ph_store, file);
}

/* ------------------------------------------------------------ quarantine */

static void qlisting_cb(void *arg, const mgov_section_quarantined_t *q)
{
    ph_qlisting_t *l = arg;
    PH_CHECK(l->n < 64 && q->file != NULL);
    ph_pf(l->files[l->n], sizeof l->files[l->n], "%s", q->file);
    l->q[l->n] = *q;
    l->q[l->n].file = l->files[l->n];
    if (q->name) {
        ph_pf(l->names[l->n], sizeof l->names[l->n], "%s", q->name);
        l->q[l->n].name = l->names[l->n];
    }
    l->n++;
}

void ph_qlist(mgov_t *gov, ph_qlisting_t *l)
{
    memset(l, 0, sizeof *l);
    PH_CHECK_RC(mgov_section_quarantine_foreach(gov, qlisting_cb, l), MGOV_OK);
    for (unsigned i = 1; i < l->n; i++)
        PH_CHECK(strcmp(l->files[i - 1], l->files[i]) < 0);
}

const mgov_section_quarantined_t *ph_qlisting_find(const ph_qlisting_t *l, const char *file)
{
    for (unsigned i = 0; i < l->n; i++)
        if (strcmp(l->files[i], file) == 0)
            return &l->q[i];
    return NULL;
}

void ph_quarantine_path(char *out, size_t cap, const char *file)
{
    ph_pf(out, cap, "%s/" PH_QUARANTINE "/%s", ph_store, file);
}

unsigned ph_quarantine_entries(void)
{
    char q[PATH_MAX];
    ph_store_path(q, sizeof q, PH_QUARANTINE);
    DIR *d = opendir(q);
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

int ph_dir_check_strays(const ph_listing_t *l, bool need_manifest, const char *const *extra,
                        char *stray, size_t stray_cap)
{
    int strays = 0;
    bool seen[64] = { false }, seen_extra[16] = { false }, manifest = false;
    DIR *d = opendir(ph_store);
    PH_CHECK(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *f = de->d_name;
        if (strcmp(f, ".") == 0 || strcmp(f, "..") == 0 || strcmp(f, PH_LOCKFILE) == 0)
            continue;
        if (strcmp(f, PH_MANIFEST) == 0) {
            manifest = true;
            continue;
        }
        bool known = false;
        for (unsigned i = 0; i < l->n && !known; i++) {
            char want[256];
            if (!l->info[i].generation)
                continue;
            ph_secfile_name(want, sizeof want, l->names[i], l->info[i].generation);
            if (strcmp(f, want) == 0)
                known = seen[i] = true;
        }
        for (unsigned k = 0; extra && extra[k] && !known; k++)
            if (strcmp(f, extra[k]) == 0)
                known = seen_extra[k] = true;
        if (!known && stray) {
            if (!strays++)
                ph_pf(stray, stray_cap, "%s", f);
        } else if (!known) {
            char name[NAME_MAX + 1], list[4096];
            ph_pf(name, sizeof name, "%s", f);
            closedir(d);
            ph_check_fail(__FILE__, __LINE__, "stray file '%s' in the store (%s)", name,
                          sh_list(ph_store, list, sizeof list));
        }
    }
    closedir(d);
    bool any_file = false;
    for (unsigned i = 0; i < l->n; i++) {
        if (!l->info[i].generation)
            continue;
        any_file = true;
        if (!seen[i])
            ph_check_fail(__FILE__, __LINE__, "the file of section '%s' (gen %llu) is missing",
                          l->names[i], (unsigned long long)l->info[i].generation);
    }
    for (unsigned k = 0; extra && extra[k]; k++)
        if (!seen_extra[k])
            ph_check_fail(__FILE__, __LINE__, "'%s' is missing from the store", extra[k]);
    if (need_manifest || any_file)
        PH_CHECK(manifest);
    return strays;
}

void ph_dir_check(const ph_listing_t *l, bool need_manifest, const char *const *extra)
{
    ph_dir_check_strays(l, need_manifest, extra, NULL, 0);
}

/* ------------------------------------------------------------ processes */

pid_t ph_fork_child(void)
{
    fflush(NULL);
    pid_t pid = fork();
    PH_CHECK(pid >= 0);
    if (pid == 0)
        ph_in_child = true;
    return pid;
}

int ph_wait_child(pid_t pid)
{
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    PH_CHECK(r == pid);
    return status;
}

void ph_expect_exit0(int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        ph_check_fail(__FILE__, __LINE__, "child %s %d", WIFEXITED(status) ? "exited" : "killed by",
                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

void ph_run_child_within(void (*fn)(void *arg), void *arg, unsigned seconds)
{
    pid_t pid = ph_fork_child();
    if (pid == 0) {
        alarm(seconds); /* SIGALRM ends a child that blocks */
        fn(arg);
        _exit(0);
    }
    int status = ph_wait_child(pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        ph_check_fail(__FILE__, __LINE__, "the child blocked for %u s", seconds);
    ph_expect_exit0(status);
}

/* ------------------------------------------------------------- file edits */

void ph_flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    PH_CHECK(fd >= 0);
    uint8_t c;
    PH_CHECK(pread(fd, &c, 1, at) == 1);
    c ^= 0x20;
    PH_CHECK(pwrite(fd, &c, 1, at) == 1);
    close(fd);
}

size_t ph_read_file(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    PH_CHECK(fd >= 0);
    ssize_t n = read(fd, buf, cap);
    close(fd);
    PH_CHECK(n >= 0 && (size_t)n < cap);
    return (size_t)n;
}

void ph_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    PH_CHECK(fd >= 0);
    PH_CHECK(write(fd, data, n) == (ssize_t)n);
    close(fd);
}

bool ph_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

void ph_manifest_set_u64(const char *path, size_t at, uint64_t v)
{
    uint8_t m[4096];
    size_t n = ph_read_file(path, m, sizeof m);
    PH_CHECK(n >= at + 8 + 4);
    for (int i = 0; i < 8; i++)
        m[at + (size_t)i] = (uint8_t)(v >> (8 * i));
    uint32_t crc = mgov__crc32c(0, m, n - 4);
    for (int i = 0; i < 4; i++)
        m[n - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    ph_write_file(path, m, n);
}
