/* test_spill_signal.c - mgov_spill_cleanup_from_signal
 * (src/spill/spill_signal.c): a process killed by SIGTERM while it spills,
 * whose handler calls it and then dies of the signal, leaves no spill file,
 * no lock and no private directory, and touches nothing else (a user's
 * file, a persistent section); directories already closed are not
 * touched; and under threads that open and close directories all the
 * time, the handler's table is never used on a directory being let go of
 * (a stress case, for TSan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gov_helpers.h"
#include "memgov/spill.h"
#include "spill_helpers.h"

static sh_scratch_t scratch;
static int report_fd = -1; /* the child's end of its pipe to the parent */

static int setup(void **state)
{
    (void)state;
    sh_scratch_init(&scratch);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh_scratch_fini(&scratch);
    return 0;
}

static const char *path_of(const char *rel)
{
    static char out[2][PATH_MAX];
    static int k;
    k ^= 1;
    int n = snprintf(out[k], sizeof out[k], "%s/%s", scratch.ft.root, rel);
    assert_true(n > 0 && (size_t)n < sizeof out[k]);
    return out[k];
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The handler a program that must die at once would install: clean, say
 * how many went (write(2) is async-signal-safe), die of the signal. */
static void on_term(int sig)
{
    unsigned n = mgov_spill_cleanup_from_signal();
    if (write(report_fd, &n, sizeof n) != (ssize_t)sizeof n)
        _exit(99);
    signal(sig, SIG_DFL);
    raise(sig);
}

static mgov_spill_dir_t *open_dir(const char *path)
{
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.path = path;
    mgov_spill_dir_t *d = NULL;
    return mgov_spill_dir_open(&cfg, &d) == MGOV_OK ? d : NULL;
}

/* Two finished files and a writer that keeps writing, in a private and in
 * a configured directory; the private one's path goes to the parent, then
 * the child writes until it is killed.  Exit codes say what failed. */
static void child(int fd)
{
    report_fd = fd;
    mgov_spill_dir_t *priv = open_dir(NULL), *conf = open_dir(path_of("conf"));
    if (!priv || !conf)
        _exit(10);
    static unsigned char data[64 << 10];
    mgov_spill_options_t o = MGOV_SPILL_OPTIONS_INIT;
    o.block_size = 16 << 10;
    mgov_spill_writer_t *w[2];
    mgov_spill_dir_t *dirs[2] = { priv, conf };
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            mgov_spill_writer_t *fw;
            mgov_spill_file_t *f;
            if (mgov_spill_writer_create(dirs[i], &o, &fw) != MGOV_OK ||
                mgov_spill_write(fw, data, sizeof data) != MGOV_OK ||
                mgov_spill_writer_finish(fw, &f) != MGOV_OK)
                _exit(11);
        }
        if (mgov_spill_writer_create(dirs[i], &o, &w[i]) != MGOV_OK)
            _exit(12);
    }
    /* a file kept under the tier's prefix in the private directory */
    char kept[PATH_MAX];
    snprintf(kept, sizeof kept, "%s/sec-0000000000000001-x", mgov_spill_dir_path(priv));
    int kfd = open(kept, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (kfd < 0)
        _exit(13);
    close(kfd);
    struct sigaction sa = { .sa_handler = on_term };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0)
        _exit(14);
    char path[PATH_MAX] = { 0 };
    snprintf(path, sizeof path, "%s", mgov_spill_dir_path(priv));
    if (write(fd, path, sizeof path) != (ssize_t)sizeof path)
        _exit(15);
    for (;;) /* killed midway through a write, sooner or later */
        for (int i = 0; i < 2; i++)
            if (mgov_spill_write(w[i], data, sizeof data) != MGOV_OK)
                _exit(16);
}

static void test_handler_leaves_nothing(void **state)
{
    (void)state;
    assert_int_equal(faketree_mkdir(&scratch.ft, "conf"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "conf/notes.txt", "mine\n"), 0);
    assert_int_equal(faketree_write(&scratch.ft, "conf/sec-0000000000000001-kept", "data\n"), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child(p[1]);
    }
    close(p[1]);
    char priv[PATH_MAX];
    ssize_t got = read(p[0], priv, sizeof priv);
    if (got != (ssize_t)sizeof priv) {
        int status;
        waitpid(pid, &status, 0);
        fail_msg("the child failed before the signal: status %d", status);
    }
    assert_true(exists(priv));
    usleep(20000); /* some writing */
    assert_int_equal(kill(pid, SIGTERM), 0);
    unsigned removed = 0;
    assert_int_equal(read(p[0], &removed, sizeof removed), (ssize_t)sizeof removed);
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

    /* private: 2 files, the writer's, the kept file, the lock; configured:
     * 2 files, the writer's, the lock (and the writer may have had none
     * yet if it was still buffering: at least the others) */
    assert_true(removed >= 9 && removed <= 10);
    assert_false(exists(priv));
    char list[1024];
    assert_string_equal(sh_list(path_of("conf"), list, sizeof list),
                        "notes.txt,sec-0000000000000001-kept");
    assert_int_equal(faketree_remove(&scratch.ft, "conf"), 0);
}

/* Only directories open now: a closed one is no longer in the table, and
 * a call outside a handler (allowed) cleans an open one, which its owner
 * can still close. */
static void test_only_open_directories(void **state)
{
    (void)state;
    assert_int_equal(faketree_mkdir(&scratch.ft, "a"), 0);
    mgov_spill_dir_t *d = open_dir(path_of("a"));
    assert_non_null(d);
    mgov_spill_dir_close(d);
    assert_int_equal(faketree_write(&scratch.ft, "a/spill-7.tmp", "x"), 0);
    assert_int_equal(mgov_spill_cleanup_from_signal(), 0);
    assert_true(exists(path_of("a/spill-7.tmp")));

    d = open_dir(path_of("a")); /* removes the leftover itself */
    assert_non_null(d);
    assert_false(exists(path_of("a/spill-7.tmp")));
    static unsigned char data[4096];
    mgov_spill_file_t *f = sh_write_file(d, NULL, data, sizeof data, 0);
    errno = 1234;
    assert_int_equal(mgov_spill_cleanup_from_signal(), 2); /* the file and the lock */
    assert_int_equal(errno, 1234);
    assert_int_equal(sh_count_entries(path_of("a")), 0);
    mgov_spill_file_destroy(f); /* its name is gone already: fine */
    mgov_spill_dir_close(d);
    assert_int_equal(faketree_remove(&scratch.ft, "a"), 0);
}

/* --------------------------------------------------------------- stress */

static atomic_bool stop;

/* Opens a private directory, writes a file, closes, `*rounds` times; a
 * file creation may fail once the cleaner took the directory away. */
static void *opener(void *arg)
{
    const unsigned long *rounds = arg;
    static unsigned char data[8192];
    for (unsigned long r = 0; r < *rounds; r++) {
        mgov_spill_dir_t *d = open_dir(NULL);
        if (!d)
            return (void *)1;
        mgov_spill_writer_t *w;
        mgov_spill_file_t *f;
        if (mgov_spill_writer_create(d, NULL, &w) == MGOV_OK) {
            if (mgov_spill_write(w, data, sizeof data) == MGOV_OK &&
                mgov_spill_writer_finish(w, &f) == MGOV_OK)
                mgov_spill_file_destroy(f);
            else
                mgov_spill_writer_abort(w);
        }
        mgov_spill_dir_close(d);
    }
    return NULL;
}

static void *cleaner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        mgov_spill_cleanup_from_signal();
    return NULL;
}

static void test_stress_open_close_clean(void **state)
{
    (void)state;
    atomic_store(&stop, false);
    unsigned long rounds = gh_stress_ops(500);
    pthread_t t[3];
    assert_int_equal(pthread_create(&t[2], NULL, cleaner, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, opener, &rounds), 0);
    void *rc[3];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], &rc[i]), 0);
    atomic_store(&stop, true);
    assert_int_equal(pthread_join(t[2], &rc[2]), 0);
    assert_null(rc[0]);
    assert_null(rc[1]);
    assert_int_equal(sh_count_entries(scratch.ft.root), 0); /* no private directory left */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_handler_leaves_nothing),
        T(test_only_open_directories),
        T(test_stress_open_close_clean),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
