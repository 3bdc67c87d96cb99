/* test_monitor.c - the governor's monitor thread (src/governor/monitor.c):
 * kernel pressure signals from every kind of source, fed from FIFOs, fake
 * files and fake /proc and /sys trees (as the sys tests do for cgroups);
 * a trigger the kernel refuses, falling back to reading the averages; a
 * host with no cgroup; reclaim triggered by a signal while usage is far
 * under the budget; mgov_pressure_signal; and the stats file (MEMGOV_STATS).
 *
 * Each case restores the real roots and the environment.  Sources that
 * cannot notify are read every 20 ms here (watch_interval_ms).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "faketree.h"
#include "gov_helpers.h"
#include "memgov.h"
#include "sys/sys.h"

#define MiB GH_MiB

#define MI_ROOT "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
#define MI_V2 "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - " \
              "cgroup2 cgroup2 rw\n"
#define CG "sys/fs/cgroup/app/job"
#define PSI_LINES(total) \
    "some avg10=0.00 avg60=0.00 avg300=0.00 total=" #total "\n" \
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"

typedef struct fx {
    faketree_t ft;
    gh_evlog_t *log;
    mgov_t *gov;
    gh_mock_t m;
    bool mock;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || faketree_create(&f->ft, "memgov-monitor-") < 0)
        return -1;
    f->log = gh_evlog_new();
    unsetenv("MEMORY_PRESSURE_WATCH");
    unsetenv("MEMORY_PRESSURE_WRITE");
    unsetenv("MEMGOV_STATS");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    if (f->mock)
        gh_mock_fini(&f->m);
    int rc = f->gov ? mgov_destroy(f->gov) : MGOV_OK;
    mgov__sys_set_roots(NULL, NULL);
    unsetenv("MEMORY_PRESSURE_WATCH");
    unsetenv("MEMORY_PRESSURE_WRITE");
    unsetenv("MEMGOV_STATS");
    unsetenv("MEMGOV_STATS_INTERVAL_MS");
    faketree_destroy(&f->ft);
    gh_evlog_free(f->log);
    free(f);
    return rc == MGOV_OK ? 0 : -1;
}

/* Fake roots: a cgroup v2 host (with_cgroup) or one with no cgroup at all. */
static void fake_roots(fx_t *f, bool with_cgroup)
{
    char proc[PATH_MAX + 8], sys[PATH_MAX + 8];
    snprintf(proc, sizeof proc, "%s/proc", f->ft.root);
    snprintf(sys, sizeof sys, "%s/sys", f->ft.root);
    assert_int_equal(faketree_mkdir(&f->ft, "proc/self"), 0);
    assert_int_equal(faketree_mkdir(&f->ft, "sys/fs/cgroup"), 0);
    if (with_cgroup) {
        assert_int_equal(faketree_write(&f->ft, "proc/self/cgroup", "0::/app/job\n"), 0);
        assert_int_equal(faketree_write(&f->ft, "proc/self/mountinfo", MI_ROOT MI_V2), 0);
        assert_int_equal(faketree_mkdir(&f->ft, CG), 0);
        assert_int_equal(faketree_write(&f->ft, CG "/memory.max", "max\n"), 0);
    } else {
        assert_int_equal(faketree_write(&f->ft, "proc/self/cgroup", ""), 0);
        assert_int_equal(faketree_write(&f->ft, "proc/self/mountinfo", MI_ROOT), 0);
    }
    mgov__sys_set_roots(proc, sys);
}

/* A governor of 1 GiB watching the kernel, with a consumer holding 8 MiB:
 * usage is far under every threshold. */
static void start(fx_t *f)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 1024 * MiB;
    cfg.flags = MGOV_KERNEL_PRESSURE;
    cfg.watch_interval_ms = 20;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = f->log;
    assert_int_equal(mgov_create(&cfg, &f->gov), MGOV_OK);
    gh_mock_init(&f->m, f->gov, "cache", 0, GH_HAS_ALL, NULL);
    gh_mock_hold(&f->m, 8 * MiB, 0);
    assert_int_equal(gh_mock_register(&f->m, 10, 0), MGOV_OK);
    f->mock = true;
}

static bool wait_signal(fx_t *f, const char *source, unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        gh_event_t ev;
        for (size_t k = 0; gh_evlog_nth(f->log, MGOV_EV_KERNEL_PRESSURE, k, &ev); k++)
            if (strcmp(ev.name, source) == 0)
                return true;
        gh_sleep_ms(1);
    }
    return false;
}

/* The PRESSURE_SOURCE event of a source, by its name's first word. */
static bool source_event(fx_t *f, const char *name, gh_event_t *out)
{
    size_t n = strlen(name);
    for (size_t k = 0; gh_evlog_nth(f->log, MGOV_EV_PRESSURE_SOURCE, k, out); k++)
        if (strncmp(out->name, name, n) == 0 && (out->name[n] == ' ' || !out->name[n]))
            return true;
    return false;
}

static void test_systemd_fifo(void **state)
{
    fx_t *f = *state;
    fake_roots(f, false);
    const char *fifo = faketree_path(&f->ft, "pressure.fifo");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", fifo);
    assert_int_equal(mkfifo(path, 0600), 0);
    setenv("MEMORY_PRESSURE_WATCH", path, 1);
    start(f);
    gh_event_t ev;
    assert_true(source_event(f, "systemd", &ev));
    assert_int_equal(ev.ev.status, MGOV_OK);
    assert_int_equal(ev.ev.count, 1); /* notifies */
    /* the service manager writes when the cgroup is under pressure */
    int fd = open(path, O_WRONLY | O_NONBLOCK);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd); /* its writer goes away: no hang-up for us */
    assert_true(wait_signal(f, "systemd", 3000));
    /* usage was far under the budget, and the consumer evicted all the same */
    assert_true(atomic_load(&f->m.n_evict) >= 1);
    assert_true(gh_mock_held(&f->m) < 8 * MiB);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(f->gov, &s), MGOV_OK);
    assert_true(s.kernel_signals >= 1);
    assert_true(gh_evlog_count(f->log, MGOV_EV_RECLAIM) >= 1);
    /* a second signal later is heard too */
    size_t before = gh_evlog_count(f->log, MGOV_EV_KERNEL_PRESSURE);
    gh_sleep_ms(60);
    fd = open(path, O_WRONLY | O_NONBLOCK);
    assert_int_equal(write(fd, "y", 1), 1);
    close(fd);
    for (int i = 0; i < 3000 && gh_evlog_count(f->log, MGOV_EV_KERNEL_PRESSURE) == before; i++)
        gh_sleep_ms(1);
    assert_true(gh_evlog_count(f->log, MGOV_EV_KERNEL_PRESSURE) > before);
}

static void test_systemd_off_and_missing(void **state)
{
    fx_t *f = *state;
    fake_roots(f, false);
    setenv("MEMORY_PRESSURE_WATCH", "/dev/null", 1);
    start(f);
    gh_event_t ev;
    assert_true(source_event(f, "systemd", &ev));
    assert_int_equal(ev.ev.status, MGOV_ENOTSUP);
    gh_mock_fini(&f->m);
    f->mock = false;
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    f->gov = NULL;
    gh_evlog_clear(f->log);
    setenv("MEMORY_PRESSURE_WATCH", faketree_path(&f->ft, "no-such-file"), 1);
    start(f);
    assert_true(source_event(f, "systemd", &ev));
    assert_int_equal(ev.ev.status, MGOV_ENOTFOUND);
}

static void test_psi_fake_file_read_every_interval(void **state)
{
    fx_t *f = *state;
    fake_roots(f, true);
    assert_int_equal(faketree_write(&f->ft, CG "/memory.pressure", PSI_LINES(1000)), 0);
    start(f);
    gh_event_t ev;
    /* a trigger written to a file that is not the kernel's means nothing:
     * it is read every interval instead */
    assert_true(source_event(f, "psi:cgroup", &ev));
    assert_int_equal(ev.ev.status, MGOV_OK);
    assert_int_equal(ev.ev.count, 0);
    gh_sleep_ms(100);
    assert_false(wait_signal(f, "psi:cgroup", 1)); /* no stall yet */
    /* 3 s of stall appear at once: far above 150 ms per 2 s */
    assert_int_equal(faketree_write(&f->ft, CG "/memory.pressure", PSI_LINES(3001000)), 0);
    assert_true(wait_signal(f, "psi:cgroup", 3000));
    assert_true(atomic_load(&f->m.n_evict) >= 1);
}

static void test_psi_refused_trigger_falls_back(void **state)
{
    fx_t *f = *state;
    if (access("/proc/pressure/memory", R_OK) != 0)
        skip(); /* no PSI on this kernel */
    /* a real PSI file, and a trigger every kernel refuses (a 100 ms window
     * is below the 500 ms minimum) */
    setenv("MEMORY_PRESSURE_WATCH", "/proc/pressure/memory", 1);
    /* "some 50000 100000" and its NUL */
    setenv("MEMORY_PRESSURE_WRITE", "c29tZSA1MDAwMCAxMDAwMDAA", 1);
    start(f);
    gh_event_t ev;
    assert_true(source_event(f, "systemd", &ev));
    assert_int_equal(ev.ev.status, MGOV_OK);
    assert_int_equal(ev.ev.count, 0); /* refused: the averages are read instead */
}

static void test_psi_real_trigger(void **state)
{
    fx_t *f = *state;
    int fd = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK);
    if (fd < 0 || write(fd, "some 150000 2000000", 20) != 20) { /* with the NUL */
        if (fd >= 0)
            close(fd);
        skip(); /* this kernel or container refuses triggers */
    }
    close(fd);
    setenv("MEMORY_PRESSURE_WATCH", "/proc/pressure/memory", 1);
    start(f);
    gh_event_t ev;
    assert_true(source_event(f, "systemd", &ev));
    assert_int_equal(ev.ev.status, MGOV_OK);
    assert_int_equal(ev.ev.count, 1); /* a trigger: POLLPRI */
}

static void test_memory_events(void **state)
{
    fx_t *f = *state;
    fake_roots(f, true);
    assert_int_equal(faketree_write(&f->ft, CG "/memory.events",
                                    "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
                     0);
    start(f);
    gh_event_t ev;
    assert_true(source_event(f, "memory.events", &ev));
    assert_int_equal(ev.ev.status, MGOV_OK);
    assert_int_equal(ev.ev.count, 0); /* not cgroupfs: read every interval */
    /* psi:cgroup has no file here: skipped, not an error */
    assert_true(source_event(f, "psi:cgroup", &ev));
    assert_int_equal(ev.ev.status, MGOV_ENOTFOUND);
    gh_sleep_ms(60);
    assert_int_equal(gh_evlog_count(f->log, MGOV_EV_KERNEL_PRESSURE), 0);
    /* the cgroup went over memory.high three times */
    assert_int_equal(faketree_write(&f->ft, CG "/memory.events",
                                    "low 0\nhigh 3\nmax 0\noom 0\noom_kill 0\n"),
                     0);
    assert_true(wait_signal(f, "memory.events:high", 3000));
    /* an OOM kill is the gravest: named as such */
    assert_int_equal(faketree_write(&f->ft, CG "/memory.events",
                                    "low 0\nhigh 4\nmax 1\noom 1\noom_kill 1\n"),
                     0);
    assert_true(wait_signal(f, "memory.events:oom_kill", 3000));
}

static void test_no_cgroup(void **state)
{
    fx_t *f = *state;
    fake_roots(f, false); /* and no proc/pressure/memory in the fake /proc */
    start(f);
    gh_event_t ev;
    assert_true(source_event(f, "systemd", &ev));
    assert_int_equal(ev.ev.status, MGOV_ENOTFOUND);
    assert_true(source_event(f, "psi:system", &ev));
    assert_int_equal(ev.ev.status, MGOV_ENOTFOUND);
    assert_true(source_event(f, "memory.events", &ev));
    assert_int_equal(ev.ev.status, MGOV_ENOTFOUND);
    /* the governor works, and a signal from the program itself still acts */
    assert_true(mgov_pressure_signal(f->gov, "test") > 0);
    assert_true(wait_signal(f, "test", 1));
    assert_true(gh_mock_held(&f->m) < 8 * MiB);
}

static void test_pressure_signal_direct(void **state)
{
    fx_t *f = *state;
    mgov_config_t cfg = MGOV_CONFIG_INIT; /* no watcher: no thread */
    cfg.budget = 1024 * MiB;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = f->log;
    assert_int_equal(mgov_create(&cfg, &f->gov), MGOV_OK);
    gh_mock_init(&f->m, f->gov, "cache", 0, GH_HAS_ALL, NULL);
    gh_mock_hold(&f->m, 64 * MiB, 0);
    assert_int_equal(gh_mock_register(&f->m, 10, 0), MGOV_OK);
    f->mock = true;
    /* an eighth of what it holds: 8 MiB */
    assert_int_equal(mgov_pressure_signal(f->gov, NULL), 8 * MiB);
    gh_event_t ev;
    assert_true(gh_evlog_nth(f->log, MGOV_EV_KERNEL_PRESSURE, 0, &ev));
    assert_string_equal(ev.name, "user");
    assert_int_equal(ev.ev.bytes, 8 * MiB);
    assert_int_equal(ev.ev.freed, 8 * MiB);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(f->gov, &s), MGOV_OK);
    assert_int_equal(s.kernel_signals, 1);
    assert_true(s.malloc_trims >= 1);
    assert_int_equal(mgov_pressure_signal(NULL, "x"), 0);
    char line[256];
    mgov_event_format(&ev.ev, line, sizeof line);
    assert_non_null(strstr(line, "kernel pressure"));
}

/* A governor (64 MiB) writing its stats file into dir every interval_ms;
 * *ev is the event that named the file (asserted MGOV_OK).  Its config. */
static mgov_config_t stats_gov(fx_t *f, const char *dir, const char *interval_ms,
                               gh_event_t *ev)
{
    setenv("MEMGOV_STATS", dir, 1);
    setenv("MEMGOV_STATS_INTERVAL_MS", interval_ms, 1);
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 64 * MiB;
    cfg.on_event = gh_evlog_cb;
    cfg.event_ctx = f->log;
    assert_int_equal(mgov_create(&cfg, &f->gov), MGOV_OK);
    assert_true(gh_evlog_nth(f->log, MGOV_EV_STATS_FILE, 0, ev));
    assert_int_equal(ev->ev.status, MGOV_OK);
    return cfg;
}

static void test_stats_file(void **state)
{
    fx_t *f = *state;
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/stats", f->ft.root);
    gh_event_t ev;
    mgov_config_t cfg = stats_gov(f, dir, "20", &ev);
    char path[PATH_MAX + 1];
    snprintf(path, sizeof path, "%s", ev.name);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    int found = 0;
    for (int i = 0; i < 3000 && !found; i++) {
        found = stat(path, &st) == 0;
        if (!found)
            gh_sleep_ms(1);
    }
    assert_true(found);
    assert_int_equal(st.st_mode & 0777, 0600);
    mgov_grant_t g = gh_take(f->gov, 0, 5 * MiB, 0);
    char buf[16384] = { 0 };
    char want[64];
    snprintf(want, sizeof want, "\"used\":%llu,", (unsigned long long)(5 * MiB));
    bool seen = false;
    for (int i = 0; i < 3000 && !seen; i++) {
        FILE *fp = fopen(path, "r");
        if (fp) {
            size_t n = fread(buf, 1, sizeof buf - 1, fp);
            buf[n] = '\0';
            fclose(fp);
            seen = strstr(buf, want) != NULL;
        }
        if (!seen)
            gh_sleep_ms(1);
    }
    assert_true(seen);
    char pid[32];
    snprintf(pid, sizeof pid, "{\"pid\":%ld,", (long)getpid());
    assert_non_null(strstr(buf, pid));
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    f->gov = NULL;
    assert_int_equal(stat(path, &st), -1); /* removed at destroy */

    /* a directory open to others is refused: no file, an event says why */
    assert_int_equal(chmod(dir, 0755), 0);
    gh_evlog_clear(f->log);
    assert_int_equal(mgov_create(&cfg, &f->gov), MGOV_OK);
    assert_true(gh_evlog_nth(f->log, MGOV_EV_STATS_FILE, 0, &ev));
    assert_int_equal(ev.ev.status, MGOV_EBUSY);
}

/* The stats file's temporary name is made afresh: a hard link planted
 * under it (to a file elsewhere) is unlinked, never truncated and written. */
static void test_stats_tmp_hard_link(void **state)
{
    fx_t *f = *state;
    char dir[PATH_MAX + 8], victim[PATH_MAX + 16], name[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/stats", f->ft.root);
    snprintf(victim, sizeof victim, "%s/victim.txt", f->ft.root);
    assert_int_equal(mkdir(dir, 0700), 0);
    FILE *fp = fopen(victim, "w");
    assert_non_null(fp);
    fputs("victim content\n", fp);
    fclose(fp);
    for (unsigned serial = 0; serial < 200; serial++) { /* whatever serial it gets */
        snprintf(name, sizeof name, "%s/.%ld-%u.json.tmp", dir, (long)getpid(), serial);
        assert_int_equal(link(victim, name), 0);
    }
    gh_event_t ev;
    (void)stats_gov(f, dir, "10", &ev);
    struct stat st;
    bool found = false;
    for (int i = 0; i < 3000 && !found; i++) {
        found = stat(ev.name, &st) == 0 && st.st_size > 0;
        if (!found)
            gh_sleep_ms(1);
    }
    assert_true(found);
    assert_int_equal(mgov_destroy(f->gov), MGOV_OK);
    f->gov = NULL;
    char text[64] = { 0 };
    fp = fopen(victim, "r");
    assert_non_null(fp);
    assert_true(fread(text, 1, sizeof text - 1, fp) > 0);
    fclose(fp);
    assert_string_equal(text, "victim content\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_systemd_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_systemd_off_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psi_fake_file_read_every_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psi_refused_trigger_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psi_real_trigger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cgroup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pressure_signal_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_tmp_hard_link, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
