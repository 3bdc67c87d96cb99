/* test_dir.c - spill directories (src/spill/spill_dir.c, spill_stale.c):
 * private directories (name, mode 0700, the lock file 0600 with our pid,
 * removal at close) and the $TMPDIR fallbacks; configured directories
 * (made when missing, kept at close, a second open is MGOV_EBUSY in this
 * process and in another, a crashed owner's spill-*.tmp removed at reopen
 * and nothing else); bad paths; the sweep of dead processes' private
 * directories (a SIGKILLed child's is removed; a live child's, look-alikes,
 * symlinks and unknown files are not); the governor's directory
 * (mgov_spill_dir_get) and the stats it feeds; the invariant check
 * (mgov__spill_dir_check), run after the operations here and catching
 * damage made by hand.
 *
 * Every test runs with TMPDIR pointing at a scratch directory, which must
 * be empty again at its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"
#include "spill/spill_internal.h"
#include "spill_helpers.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static sh_scratch_t scratch;
static char buf[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    umask(022);
    sh_scratch_init(&scratch);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh_scratch_fini(&scratch);
    return 0;
}

/* snprintf that must not truncate */
__attribute__((format(printf, 3, 4))) static void pf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < cap);
}

static const char *in_scratch(const char *rel)
{
    pf(buf, sizeof buf, "%s/%s", scratch.ft.root, rel);
    return buf;
}

static const char *join(const char *dir, const char *name)
{
    static char out[2][PATH_MAX];
    static int k;
    k ^= 1;
    pf(out[k], sizeof out[k], "%s/%s", dir, name);
    return out[k];
}

/* "memgov-<pid>-<rest>" */
static const char *named(long pid, const char *rest)
{
    static char out[2][128];
    static int k;
    k ^= 1;
    pf(out[k], sizeof out[k], "memgov-%ld-%s", pid, rest);
    return out[k];
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static mgov_spill_dir_t *open_at(const char *path, uint64_t quota, mgov_t *gov)
{
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = path;
    cfg.quota = quota;
    cfg.gov = gov;
    mgov_spill_dir_t *d = NULL;
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_OK);
    assert_non_null(d);
    sh_check_dir(d);
    return d;
}

static mgov_spill_file_t *small_file(mgov_spill_dir_t *d, size_t n)
{
    static unsigned char data[64 * 1024];
    assert_true(n <= sizeof data);
    sh_fill(data, n, n, false);
    mgov_spill_options_t o = MGOV_SPILL_OPTIONS_INIT;
    o.block_size = 4 * KiB;
    return sh_write_file(d, &o, data, n, 0);
}

static void assert_lock_file(const char *dir, pid_t pid)
{
    const char *lock = join(dir, "memgov.lock");
    mode_t m = mode_of(lock);
    assert_true(S_ISREG(m));
    assert_int_equal(m & 0777, 0600);
    char text[32] = { 0 }, want[32];
    int fd = open(lock, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(read(fd, text, sizeof text - 1) > 0);
    close(fd);
    pf(want, sizeof want, "%ld\n", (long)pid);
    assert_string_equal(text, want);
}

/* --------------------------------------------------------------- private */

static void test_private_dir(void **state)
{
    (void)state;
    mgov_spill_dir_t *d = NULL;
    assert_int_equal(mgov_spill_dir_open(NULL, &d), MGOV_OK);
    const char *path = mgov_spill_dir_path(d);
    char prefix[PATH_MAX];
    pf(prefix, sizeof prefix, "%s/memgov-%ld-", scratch.ft.root, (long)getpid());
    assert_memory_equal(path, prefix, strlen(prefix));
    const char *suffix = path + strlen(prefix);
    assert_int_equal(strlen(suffix), 8);
    assert_int_equal(strspn(suffix, "0123456789abcdef"), 8);

    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(st.st_uid, geteuid());
    assert_lock_file(path, getpid());

    /* the default quota: half the free space of the file system */
    struct statvfs sv;
    assert_int_equal(statvfs(path, &sv), 0);
    uint64_t total = (uint64_t)sv.f_blocks * sv.f_frsize;
    assert_true(mgov_spill_dir_quota(d) > 0);
    assert_true(mgov_spill_dir_quota(d) <= total / 2);
    assert_int_equal(mgov_spill_dir_used(d), 0);
    assert_int_equal(mgov_spill_dir_files(d), 0);

    mgov_spill_file_t *f = small_file(d, 5000);
    const char *fp = mgov_spill_file_path(f);
    assert_string_equal(fp, join(path, "spill-0.tmp"));
    assert_int_equal(mode_of(fp) & 0777, 0600);
    assert_int_equal(mgov_spill_dir_files(d), 1);
    assert_int_equal(mgov_spill_dir_used(d), mgov_spill_file_stored_bytes(f));
    char list[256];
    assert_string_equal(sh_list(path, list, sizeof list), "memgov.lock,spill-0.tmp");

    /* another private directory beside it: both live */
    mgov_spill_dir_t *d2 = NULL;
    assert_int_equal(mgov_spill_dir_open(NULL, &d2), MGOV_OK);
    assert_string_not_equal(mgov_spill_dir_path(d2), path);
    assert_int_equal(sh_count_entries(scratch.ft.root), 2);
    mgov_spill_dir_close(d2);
    assert_true(exists(path));
    assert_true(exists(fp));

    mgov_spill_file_destroy(f);
    assert_false(exists(join(path, "spill-0.tmp")));
    sh_check_dir(d);
    mgov_spill_dir_close(d);
    assert_int_equal(sh_count_entries(scratch.ft.root), 0);
}

static void test_private_tmpdir_fallbacks(void **state)
{
    (void)state;
    mgov_spill_dir_t *d = NULL;
    /* empty or unset: /tmp */
    for (int k = 0; k < 2; k++) {
        if (k == 0)
            setenv("TMPDIR", "", 1);
        else
            unsetenv("TMPDIR");
        assert_int_equal(mgov_spill_dir_open(NULL, &d), MGOV_OK);
        char *path = strdup(mgov_spill_dir_path(d));
        assert_memory_equal(path, "/tmp/memgov-", 12);
        mgov_spill_dir_close(d);
        assert_false(exists(path));
        free(path);
    }
    /* a trailing slash is not doubled */
    char with_slash[PATH_MAX];
    pf(with_slash, sizeof with_slash, "%s//", scratch.ft.root);
    setenv("TMPDIR", with_slash, 1);
    assert_int_equal(mgov_spill_dir_open(NULL, &d), MGOV_OK);
    pf(with_slash, sizeof with_slash, "%s/memgov-", scratch.ft.root);
    assert_memory_equal(mgov_spill_dir_path(d), with_slash, strlen(with_slash));
    mgov_spill_dir_close(d);

    /* missing, or not a directory */
    setenv("TMPDIR", in_scratch("nonexistent"), 1);
    errno = 0;
    assert_int_equal(mgov_spill_dir_open(NULL, &d), MGOV_EIO);
    assert_int_equal(errno, ENOENT);
    assert_null(d);
    assert_int_equal(faketree_write(&scratch.ft, "plain", "x"), 0);
    setenv("TMPDIR", in_scratch("plain"), 1);
    assert_int_equal(mgov_spill_dir_open(NULL, &d), MGOV_EIO);
    assert_int_equal(errno, ENOTDIR);
    assert_int_equal(faketree_remove(&scratch.ft, "plain"), 0);
    setenv("TMPDIR", scratch.ft.root, 1);
}

/* ------------------------------------------------------------ configured */

/* In a child: tries to open path and exits with the status's magnitude. */
static int open_in_child(const char *path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
        cfg.path = path;
        mgov_spill_dir_t *d = NULL;
        int rc = mgov_spill_dir_open(&cfg, &d);
        mgov_spill_dir_close(d);
        _exit(-rc);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return -WEXITSTATUS(status);
}

static void test_configured_dir(void **state)
{
    (void)state;
    char path[PATH_MAX];
    pf(path, sizeof path, "%s", in_scratch("cfg"));
    mgov_spill_dir_t *d = open_at(path, 0, NULL);
    assert_string_equal(mgov_spill_dir_path(d), path);
    assert_int_equal(mode_of(path) & 0777, 0700); /* made */
    assert_lock_file(path, getpid());

    /* held: by this process through another open, and by another process */
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = path;
    mgov_spill_dir_t *d2 = (mgov_spill_dir_t *)&d2;
    assert_int_equal(mgov_spill_dir_open(&cfg, &d2), MGOV_EBUSY);
    assert_null(d2);
    assert_int_equal(open_in_child(path), MGOV_EBUSY);
    assert_lock_file(path, getpid()); /* the refused ones changed nothing */

    /* files alive at close are removed too; the directory stays */
    small_file(d, 3000);
    small_file(d, 9000);
    assert_int_equal(mgov_spill_dir_files(d), 2);
    sh_check_dir(d);
    mgov_spill_dir_close(d);
    assert_int_equal(sh_count_entries(path), 0);
    assert_int_equal(open_in_child(path), MGOV_OK);

    /* an existing directory: its mode and other contents are left alone */
    assert_int_equal(chmod(path, 0750), 0);
    assert_int_equal(faketree_write(&scratch.ft, "cfg/keep.txt", "keep"), 0);
    pf(buf, sizeof buf, "%s/", path); /* trailing slash */
    d = open_at(buf, 12345, NULL);
    assert_string_equal(mgov_spill_dir_path(d), path);
    assert_int_equal(mgov_spill_dir_quota(d), 12345);
    assert_int_equal(mode_of(path) & 0777, 0750);
    mgov_spill_dir_close(d);
    assert_true(exists(join(path, "keep.txt")));
    assert_int_equal(faketree_remove(&scratch.ft, "cfg"), 0);
}

static void test_configured_crash_leftovers(void **state)
{
    (void)state;
    char path[PATH_MAX];
    pf(path, sizeof path, "%s", in_scratch("cfg"));
    /* a child opens it, leaves a finished file and an unfinished one, and dies */
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
        cfg.path = path;
        mgov_spill_dir_t *d = NULL;
        mgov_spill_writer_t *w = NULL;
        mgov_spill_file_t *f = NULL;
        char c = 'x';
        if (mgov_spill_dir_open(&cfg, &d) != MGOV_OK || mgov_spill_writer_create(d, NULL, &w) != MGOV_OK ||
            mgov_spill_write(w, &c, 1) != MGOV_OK || mgov_spill_writer_finish(w, &f) != MGOV_OK ||
            mgov_spill_writer_create(d, NULL, &w) != MGOV_OK)
            c = 'e';
        if (write(p[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    assert_int_equal(c, 'x');
    assert_int_equal(open_in_child(path), MGOV_EBUSY); /* alive */
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char list[512];
    assert_string_equal(sh_list(path, list, sizeof list), "memgov.lock,spill-0.tmp,spill-1.tmp");

    /* things that look like ours but are not, and one that is elsewhere */
    assert_int_equal(faketree_write(&scratch.ft, "cfg/spill-x.tmp", "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "cfg/spill-7.tmp.bak", "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "cfg/xspill-7.tmp", "k"), 0);
    assert_int_equal(faketree_mkdir(&scratch.ft, "cfg/spill-12.tmp"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "cfg/sub/spill-3.tmp", "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "target", "t"), 0);
    assert_int_equal(faketree_symlink(&scratch.ft, "cfg/spill-5.tmp", "../target"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "cfg/spill-44.tmp", "stale"), 0);

    /* the dead owner's lock is free: reopened, its temporary files go */
    mgov_spill_dir_t *d = open_at(path, 0, NULL);
    assert_lock_file(path, getpid());
    assert_string_equal(sh_list(path, list, sizeof list),
                        "memgov.lock,spill-12.tmp,spill-5.tmp,spill-7.tmp.bak,spill-x.tmp,sub,"
                        "xspill-7.tmp");
    assert_true(exists(in_scratch("target")));
    assert_true(exists(in_scratch("cfg/sub/spill-3.tmp")));
    assert_int_equal(mgov_spill_dir_files(d), 0);
    assert_int_equal(mgov_spill_dir_used(d), 0);
    /* new files get names that are free */
    mgov_spill_file_t *f = small_file(d, 100);
    assert_string_equal(mgov_spill_file_path(f), join(path, "spill-0.tmp"));
    mgov_spill_file_destroy(f);
    sh_check_dir(d);
    mgov_spill_dir_close(d);
    assert_int_equal(faketree_remove(&scratch.ft, "cfg"), 0);
    assert_int_equal(faketree_remove(&scratch.ft, "target"), 0);
}

static void test_configured_errors(void **state)
{
    (void)state;
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    mgov_spill_dir_t *d = (mgov_spill_dir_t *)&d;
    assert_int_equal(mgov_spill_dir_open(&cfg, NULL), MGOV_EINVAL);
    cfg.path = "";
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_EINVAL);
    assert_null(d);

    /* not a directory; a symlink to one; a dangling symlink */
    assert_int_equal(faketree_write(&scratch.ft, "file", "x"), 0);
    assert_int_equal(faketree_mkdir(&scratch.ft, "real"), 0);
    assert_int_equal(faketree_symlink(&scratch.ft, "link", "real"), 0);
    assert_int_equal(faketree_symlink(&scratch.ft, "dangling", "nowhere"), 0);
    const char *bad[] = { "file", "link", "dangling", "file/sub" };
    char path[PATH_MAX];
    for (int i = 0; i < 4; i++) {
        pf(path, sizeof path, "%s", in_scratch(bad[i]));
        cfg.path = path;
        assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_EINVAL);
        assert_null(d);
    }
    assert_int_equal(sh_count_entries(in_scratch("real")), 0); /* nothing went through the link */
    assert_false(exists(in_scratch("nowhere")));

    /* a missing parent: the system's error */
    pf(path, sizeof path, "%s", in_scratch("missing/cfg"));
    cfg.path = path;
    errno = 0;
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_EIO);
    assert_int_equal(errno, ENOENT);

    /* a lock file that is not a regular file: MGOV_EINVAL, as the FIFO
     * below, so a caller can say the lock file is the trouble (D11) */
    assert_int_equal(faketree_mkdir(&scratch.ft, "real/memgov.lock"), 0);
    pf(path, sizeof path, "%s", in_scratch("real"));
    cfg.path = path;
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_EINVAL);
    assert_int_equal(faketree_remove(&scratch.ft, "real/memgov.lock"), 0);
    assert_int_equal(faketree_symlink(&scratch.ft, "real/memgov.lock", "../file"), 0);
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_EINVAL); /* never followed */
    assert_int_equal(faketree_remove(&scratch.ft, "real/memgov.lock"), 0);
    /* a FIFO: opened without waiting for a writer, refused as not a file */
    assert_int_equal(mkfifo(join(path, "memgov.lock"), 0600), 0);
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_EINVAL);
    assert_int_equal(faketree_remove(&scratch.ft, "real/memgov.lock"), 0);
    assert_int_equal(mode_of(in_scratch("file")) & 0777, 0644);

    /* a directory we cannot write to */
    if (geteuid() != 0) {
        assert_int_equal(chmod(path, 0500), 0);
        assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_EIO);
        assert_int_equal(errno, EACCES);
        assert_int_equal(chmod(path, 0700), 0);
    }
    d = open_at(path, 0, NULL); /* and now it works */
    mgov_spill_dir_close(d);
    for (int i = 0; i < 3; i++)
        assert_int_equal(faketree_remove(&scratch.ft, bad[i]), 0);
    assert_int_equal(faketree_remove(&scratch.ft, "real"), 0);
}

/* ----------------------------------------------------------------- stale */

/* A child that opens a private directory, leaves a spill file in it, sends
 * the directory's path and waits to be killed. */
static pid_t owner_child(char *path, size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        mgov_spill_dir_t *d = NULL;
        mgov_spill_writer_t *w = NULL;
        char msg[PATH_MAX] = "error";
        static char block[8192];
        mgov_spill_options_t o = MGOV_SPILL_OPTIONS_INIT;
        o.block_size = 4096;
        if (mgov_spill_dir_open(NULL, &d) == MGOV_OK && mgov_spill_writer_create(d, &o, &w) == MGOV_OK &&
            mgov_spill_write(w, block, sizeof block) == MGOV_OK)
            pf(msg, sizeof msg, "%s", mgov_spill_dir_path(d));
        if (write(p[1], msg, strlen(msg) + 1) < 0)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(p[0], path + n, cap - n)) > 0)
        if (memchr(path + n, '\0', (size_t)r)) {
            n += (size_t)r;
            break;
        } else {
            n += (size_t)r;
        }
    close(p[0]);
    assert_true(n > 0 && path[n - 1] == '\0');
    assert_string_not_equal(path, "error");
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_stale_private_dirs(void **state)
{
    (void)state;
    char dead_path[PATH_MAX], live_path[PATH_MAX];
    pid_t dead = owner_child(dead_path, sizeof dead_path);
    pid_t live = owner_child(live_path, sizeof live_path);
    char list[512];
    assert_string_equal(sh_list(dead_path, list, sizeof list), "memgov.lock,spill-0.tmp");
    kill_and_reap(dead); /* its lock is gone with it; its files stay */
    assert_true(exists(join(dead_path, "spill-0.tmp")));

    /* look-alikes around them, named for the dead pid or for us */
    long dp = (long)dead, me = (long)getpid();
    assert_int_equal(faketree_write(&scratch.ft, "memgov-notadir/spill-1.tmp", "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "memgov-12-/spill-1.tmp", "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "elsewhere/memgov.lock", "1\n"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "elsewhere/spill-1.tmp", "k"), 0);
    assert_int_equal(faketree_symlink(&scratch.ft, named(dp, "link"), "elsewhere"), 0);
    assert_int_equal(faketree_writef(&scratch.ft, named(dp, "extra/memgov.lock"), "%ld\n", dp), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "extra/spill-1.tmp"), "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "extra/keep.me"), "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "nolock/spill-2.tmp"), "k"), 0);
    /* a dead owner's sections (tier layer) go with its private directory */
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "nolock/sec-0000000000000001-a b"), "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "nolock/sec-manifest"), "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "nolock/sec-manifest.tmp"), "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "extra/sec-0000000000000002-b"), "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "extra/sec-manifest"), "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "extra/sections.list"), "k"), 0);
    /* the tier's quarantine, a reserved-prefix directory: its files go, and
     * it with them when nothing else is in it; a symlink so named is never
     * followed */
    assert_int_equal(faketree_write(&scratch.ft,
                                    named(dp, "nolock/sec-quarantine/sec-0000000000000004-d"), "k"),
                     0);
    assert_int_equal(faketree_write(&scratch.ft,
                                    named(dp, "nolock/sec-quarantine/sec-0000000000000004-d.1"),
                                    "k"),
                     0);
    assert_int_equal(faketree_write(&scratch.ft,
                                    named(dp, "extra/sec-quarantine/sec-0000000000000003-c"), "k"),
                     0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "extra/sec-quarantine/notes"), "k"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "elsewhere/sec-0000000000000005-e", "k"), 0);
    assert_int_equal(faketree_symlink(&scratch.ft, named(dp, "extra/sec-qlink"), "../elsewhere"),
                     0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "emptylock/memgov.lock"), ""), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(me, "starting/memgov.lock"), ""), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(me, "starting/spill-3.tmp"), "k"), 0);
    assert_int_equal(faketree_mkdir(&scratch.ft, named(me, "nolock2")), 0);
    assert_int_equal(faketree_write(&scratch.ft, named(dp, "file"), "k"), 0);
    assert_int_equal(faketree_mkdir(&scratch.ft, named(dp, "sub/x")), 0);
    assert_int_equal(faketree_writef(&scratch.ft, named(dp, "sub/memgov.lock"), "%ld\n", dp), 0);

    /* opening a private directory sweeps */
    mgov_spill_dir_t *d = NULL;
    assert_int_equal(mgov_spill_dir_open(NULL, &d), MGOV_OK);
    assert_false(exists(dead_path));                                        /* the dead owner's */
    assert_string_equal(sh_list(live_path, list, sizeof list), "memgov.lock,spill-0.tmp"); /* alive */
    assert_true(exists(in_scratch("memgov-notadir/spill-1.tmp")));
    assert_true(exists(in_scratch("memgov-12-/spill-1.tmp")));
    assert_true(S_ISLNK(mode_of(in_scratch(named(dp, "link")))));
    assert_string_equal(sh_list(in_scratch("elsewhere"), list, sizeof list),
                        "memgov.lock,sec-0000000000000005-e,spill-1.tmp");
    assert_string_equal(sh_list(in_scratch(named(dp, "extra")), list, sizeof list),
                        "keep.me,sec-qlink,sec-quarantine,sections.list");
    assert_string_equal(sh_list(in_scratch(named(dp, "extra/sec-quarantine")), list, sizeof list),
                        "notes");
    assert_false(exists(in_scratch(named(dp, "nolock"))));
    assert_false(exists(in_scratch(named(dp, "emptylock"))));
    assert_string_equal(sh_list(in_scratch(named(me, "starting")), list, sizeof list),
                        "memgov.lock,spill-3.tmp"); /* an owner starting up */
    assert_true(exists(in_scratch(named(me, "nolock2"))));
    assert_true(S_ISREG(mode_of(in_scratch(named(dp, "file")))));
    assert_string_equal(sh_list(in_scratch(named(dp, "sub")), list, sizeof list), "x");
    mgov_spill_dir_close(d);

    /* once the other owner dies too, the next open removes its directory */
    kill_and_reap(live);
    assert_int_equal(mgov_spill_dir_open(NULL, &d), MGOV_OK);
    assert_false(exists(live_path));
    mgov_spill_dir_close(d);

    const char *fakes[] = { "memgov-notadir", "memgov-12-", "elsewhere" };
    for (int i = 0; i < 3; i++)
        assert_int_equal(faketree_remove(&scratch.ft, fakes[i]), 0);
    const char *dead_fakes[] = { "link", "extra", "file", "sub" };
    for (int i = 0; i < 4; i++)
        assert_int_equal(faketree_remove(&scratch.ft, named(dp, dead_fakes[i])), 0);
    assert_int_equal(faketree_remove(&scratch.ft, named(me, "starting")), 0);
    assert_int_equal(faketree_remove(&scratch.ft, named(me, "nolock2")), 0);
}

/* ------------------------------------------------------------- governor */

static uint64_t stat_of(mgov_t *gov, int which)
{
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    return which == 0 ? s.spill_bytes : which == 1 ? s.spill_bytes_peak : s.spill_quota;
}

typedef struct get_job {
    mgov_t *gov;
    mgov_spill_dir_t *d;
    int rc;
} get_job_t;

static void *get_thread(void *arg)
{
    get_job_t *j = arg;
    j->rc = mgov_spill_dir_get(j->gov, &j->d);
    return NULL;
}

static void test_dir_get_private(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    assert_int_equal(stat_of(gov, 2), 0); /* no directory yet */
    assert_int_equal(sh_count_entries(scratch.ft.root), 0);

    get_job_t jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (get_job_t){ gov, NULL, -100 };
        assert_int_equal(pthread_create(&t[i], NULL, get_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].rc, MGOV_OK);
        assert_ptr_equal(jobs[i].d, jobs[0].d);
    }
    mgov_spill_dir_t *d = NULL;
    assert_int_equal(mgov_spill_dir_get(gov, &d), MGOV_OK);
    assert_ptr_equal(d, jobs[0].d);
    assert_int_equal(sh_count_entries(scratch.ft.root), 1); /* one private directory */
    assert_true(mgov_spill_dir_quota(d) > 0);
    assert_int_equal(stat_of(gov, 2), mgov_spill_dir_quota(d));

    /* the stats follow the bytes on disk */
    mgov_spill_file_t *a = small_file(d, 10000), *b = small_file(d, 20000);
    uint64_t sa = mgov_spill_file_stored_bytes(a), sb = mgov_spill_file_stored_bytes(b);
    assert_int_equal(stat_of(gov, 0), sa + sb);
    assert_int_equal(stat_of(gov, 1), sa + sb);
    assert_int_equal(mgov_spill_dir_used(d), sa + sb);
    mgov_spill_file_destroy(a);
    assert_int_equal(stat_of(gov, 0), sb);
    sh_check_dir(d);
    mgov_spill_file_destroy(b);
    assert_int_equal(stat_of(gov, 0), 0);
    sh_check_dir(d);
    assert_int_equal(stat_of(gov, 1), sa + sb); /* the peak stays */
    assert_int_equal(mgov_used(gov), 0);       /* writers' buffers went back */

    /* a file left alive: mgov_destroy removes it with the directory */
    small_file(d, 100);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_int_equal(sh_count_entries(scratch.ft.root), 0);

    mgov_spill_dir_t *none = (mgov_spill_dir_t *)&none;
    assert_int_equal(mgov_spill_dir_get(NULL, &none), MGOV_EINVAL);
    assert_null(none);
}

static void test_dir_get_configured(void **state)
{
    (void)state;
    char path[PATH_MAX];
    pf(path, sizeof path, "%s", in_scratch("govdir"));
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 64 * MiB;
    cfg.spill_dir = path;
    cfg.spill_quota = MiB;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_spill_dir_get(gov, NULL), MGOV_EINVAL);

    /* someone else holds it: EBUSY, and a later call tries again */
    mgov_spill_dir_t *other = open_at(path, 0, NULL);
    mgov_spill_dir_t *d = NULL;
    assert_int_equal(mgov_spill_dir_get(gov, &d), MGOV_EBUSY);
    assert_null(d);
    assert_int_equal(stat_of(gov, 2), 0);
    mgov_spill_dir_close(other);
    assert_int_equal(mgov_spill_dir_get(gov, &d), MGOV_OK);
    assert_string_equal(mgov_spill_dir_path(d), path);
    assert_int_equal(mgov_spill_dir_quota(d), MiB);
    assert_int_equal(stat_of(gov, 2), MiB);
    assert_lock_file(path, getpid());
    mgov_spill_file_t *f = small_file(d, 30000);
    assert_int_equal(stat_of(gov, 0), mgov_spill_file_stored_bytes(f));
    mgov_spill_file_destroy(f);
    sh_check_dir(d);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_int_equal(sh_count_entries(path), 0); /* lock file gone, directory kept */
    assert_int_equal(faketree_remove(&scratch.ft, "govdir"), 0);

    /* a path that cannot be a spill directory */
    assert_int_equal(faketree_write(&scratch.ft, "afile", "x"), 0);
    pf(path, sizeof path, "%s", in_scratch("afile"));
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_spill_dir_get(gov, &d), MGOV_EINVAL);
    assert_int_equal(mgov_spill_dir_get(gov, &d), MGOV_EINVAL);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    assert_int_equal(faketree_remove(&scratch.ft, "afile"), 0);
}

/* A memgov.lock hard-linked to a file elsewhere: taking the lock writes
 * our pid into it, so that file must never be the one written.  The name
 * is replaced by a lock of our own; the other file keeps its bytes. */
static void test_lock_hard_link(void **state)
{
    (void)state;
    assert_int_equal(faketree_write(&scratch.ft, "victim.txt", "victim content\n"), 0);
    assert_int_equal(faketree_mkdir(&scratch.ft, "hl"), 0);
    char victim[PATH_MAX], path[PATH_MAX];
    pf(victim, sizeof victim, "%s", in_scratch("victim.txt"));
    pf(path, sizeof path, "%s", in_scratch("hl"));
    assert_int_equal(link(victim, join(path, "memgov.lock")), 0);

    mgov_spill_dir_t *d = open_at(path, 0, NULL);
    char text[64] = { 0 };
    int fd = open(victim, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(read(fd, text, sizeof text - 1) >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    assert_string_equal(text, "victim content\n");
    assert_int_equal(st.st_nlink, 1); /* our name no longer points at it */
    assert_lock_file(path, getpid());
    mgov_spill_dir_close(d);
    assert_int_equal(sh_count_entries(path), 0);
    assert_int_equal(faketree_remove(&scratch.ft, "hl"), 0);
    assert_int_equal(faketree_remove(&scratch.ft, "victim.txt"), 0);
}

/* ------------------------------------------------------------------ check */

/* mgov__spill_dir_check passes a healthy directory and catches each kind of
 * damage (made by hand here, and undone before it is closed). */
static void test_dir_check(void **state)
{
    (void)state;
    assert_int_equal(mgov__spill_dir_check(NULL), MGOV_EINVAL);
    mgov_spill_dir_t *d = open_at(in_scratch("chk"), 200000, NULL);
    mgov_spill_file_t *a = small_file(d, 10000), *b = small_file(d, 20000);
    uint64_t used = mgov_spill_dir_used(d);
    assert_int_equal(used, mgov_spill_file_stored_bytes(a) + mgov_spill_file_stored_bytes(b));
    sh_check_dir(d);

    /* the file count disagrees with the list */
    atomic_fetch_add(&d->n_files, 1);
    assert_int_equal(mgov__spill_dir_check(d), MGOV_ECORRUPT);
    atomic_fetch_sub(&d->n_files, 1);
    /* fewer bytes counted than the files hold */
    atomic_store(&d->used, used - 1);
    assert_int_equal(mgov__spill_dir_check(d), MGOV_ECORRUPT);
    /* more than the quota, with nothing found at open to excuse it... */
    atomic_store(&d->used, d->quota + 1);
    assert_int_equal(mgov__spill_dir_check(d), MGOV_ECORRUPT);
    /* ...and with it (what kept files found at open may do) */
    atomic_store(&d->found, 1);
    assert_int_equal(mgov__spill_dir_check(d), MGOV_OK);
    atomic_store(&d->used, used);
    atomic_store(&d->found, 0);
    /* a broken link */
    mgov_spill_file_t *second = d->files->next;
    second->prev = NULL;
    assert_int_equal(mgov__spill_dir_check(d), MGOV_ECORRUPT);
    second->prev = d->files;
    /* bytes in flight count on top of the files (a writer between its
     * reservation and its write) */
    assert_int_equal(mgov__spill_dir_reserve(d, 5), MGOV_OK);
    sh_check_dir(d);
    mgov__spill_dir_unreserve(d, 5);

    sh_check_dir(d);
    mgov_spill_file_destroy(a);
    mgov_spill_file_destroy(b);
    sh_check_dir(d);
    mgov_spill_dir_close(d);
    assert_int_equal(faketree_remove(&scratch.ft, "chk"), 0);
}

static void test_standalone_with_gov(void **state)
{
    (void)state;
    /* a directory opened by hand with a governor feeds its disk gauge */
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_spill_dir_t *d = NULL;
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.gov = gov;
    cfg.quota = 100000;
    assert_int_equal(mgov_spill_dir_open(&cfg, &d), MGOV_OK);
    assert_int_equal(mgov_spill_dir_quota(d), 100000);
    mgov_spill_file_t *f = small_file(d, 40000);
    assert_int_equal(stat_of(gov, 0), mgov_spill_file_stored_bytes(f));
    assert_int_equal(mgov_spill_dir_used(d), mgov_spill_file_stored_bytes(f));
    mgov_spill_dir_close(d); /* with the file alive */
    assert_int_equal(stat_of(gov, 0), 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_private_dir),
        T(test_private_tmpdir_fallbacks),
        T(test_configured_dir),
        T(test_configured_crash_leftovers),
        T(test_configured_errors),
        T(test_lock_hard_link),
        T(test_stale_private_dirs),
        T(test_dir_get_private),
        T(test_dir_get_configured),
        T(test_standalone_with_gov),
        T(test_dir_check),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
