/* test_psrc.c - the kernel pressure sources one by one (src/sys/psrc.c):
 * base64 of $MEMORY_PRESSURE_WRITE, a systemd socket (the peer writes,
 * then leaves), PSI averages read every interval (the stall rate against
 * the trigger's), memory.events counters (which one grew), garbage files,
 * and mgov_pressure_sources for `memgov info`.  Fake files under a fake
 * tree; the real /proc only where noted.
 */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "faketree.h"
#include "memgov/sysinfo.h"
#include "sys/psrc.h"
#include "sys/sys.h"

static faketree_t ft;

static int setup(void **state)
{
    (void)state;
    unsetenv("MEMORY_PRESSURE_WATCH");
    unsetenv("MEMORY_PRESSURE_WRITE");
    return faketree_create(&ft, "memgov-psrc-");
}

static int teardown(void **state)
{
    (void)state;
    mgov__sys_set_roots(NULL, NULL);
    unsetenv("MEMORY_PRESSURE_WATCH");
    unsetenv("MEMORY_PRESSURE_WRITE");
    return faketree_destroy(&ft);
}

typedef struct seen {
    char name[8][48];
    int status[8];
    bool notifies[8];
    int n;
} seen_t;

static void record(void *arg, const char *name, const char *path, int status, bool notifies)
{
    (void)path;
    seen_t *s = arg;
    snprintf(s->name[s->n], sizeof s->name[0], "%s", name);
    s->status[s->n] = status;
    s->notifies[s->n++] = notifies;
}

static void test_base64(void **state)
{
    (void)state;
    unsigned char out[64];
    assert_int_equal(mgov__base64_decode("", out, sizeof out), 0);
    assert_int_equal(mgov__base64_decode("YQ==", out, sizeof out), 1);
    assert_memory_equal(out, "a", 1);
    assert_int_equal(mgov__base64_decode("c29tZSAyMDAwMDAgMjAwMDAwMAA=", out, sizeof out), 20);
    assert_memory_equal(out, "some 200000 2000000", 20);
    assert_int_equal(mgov__base64_decode("YWJj", out, sizeof out), 3);
    assert_int_equal(mgov__base64_decode("Y*==", out, sizeof out), -1);
    assert_int_equal(mgov__base64_decode("YQ==YQ", out, sizeof out), -1); /* after padding */
    assert_int_equal(mgov__base64_decode("YQ===", out, sizeof out), -1);
    assert_int_equal(mgov__base64_decode("YWJj", out, 2), -1); /* does not fit */
}

static void test_socket(void **state)
{
    (void)state;
    const char *path = faketree_path(&ft, "pressure.sock");
    char sock_path[PATH_MAX];
    snprintf(sock_path, sizeof sock_path, "%s", path);
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(sock_path) >= sizeof sa.sun_path)
        skip();
    strcpy(sa.sun_path, sock_path);
    assert_int_equal(bind(srv, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(srv, 1), 0);
    setenv("MEMORY_PRESSURE_WATCH", sock_path, 1);
    setenv("MEMORY_PRESSURE_WRITE", "aGVsbG8=", 1); /* "hello", sent on connect */
    mgov__psrc_t src[MGOV__PSRC_MAX];
    seen_t seen = { 0 };
    unsigned n = mgov__psrc_open_all(src, NULL, record, &seen);
    assert_true(n >= 1);
    assert_string_equal(seen.name[0], "systemd");
    assert_int_equal(seen.status[0], 0);
    assert_true(seen.notifies[0]);
    int peer = accept(srv, NULL, NULL);
    char got[8] = { 0 };
    assert_int_equal(read(peer, got, 5), 5);
    assert_string_equal(got, "hello");
    short events;
    int fd = mgov__psrc_pollfd(&src[0], &events);
    assert_true(fd >= 0);
    assert_int_equal(events, POLLIN);
    assert_int_equal(write(peer, "p", 1), 1);
    struct pollfd pfd = { fd, events, 0 };
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_int_equal(mgov__psrc_ready(&src[0], pfd.revents), 1);
    assert_string_equal(src[0].last, "systemd");
    close(peer); /* the service manager went away: the source is dropped */
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_int_equal(mgov__psrc_ready(&src[0], pfd.revents), -1);
    assert_true(src[0].gone);
    assert_int_equal(mgov__psrc_pollfd(&src[0], &events), -1);
    for (unsigned i = 0; i < n; i++)
        mgov__psrc_close(&src[i]);
    close(srv);
}

static void fake_v2(void)
{
    char proc[PATH_MAX + 8], sys[PATH_MAX + 8];
    snprintf(proc, sizeof proc, "%s/proc", ft.root);
    snprintf(sys, sizeof sys, "%s/sys", ft.root);
    assert_int_equal(faketree_write(&ft, "proc/self/cgroup", "0::/job\n"), 0);
    assert_int_equal(faketree_write(&ft, "proc/self/mountinfo",
                                    "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"),
                     0);
    assert_int_equal(faketree_mkdir(&ft, "sys/fs/cgroup/job"), 0);
    mgov__sys_set_roots(proc, sys);
}

static void test_psi_averages(void **state)
{
    (void)state;
    fake_v2();
    assert_int_equal(faketree_write(&ft, "sys/fs/cgroup/job/memory.pressure",
                                    "some avg10=1.00 avg60=0.00 avg300=0.00 total=500\n"
                                    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
                     0);
    char *dir = mgov__cgroup_v2_dir();
    assert_non_null(dir);
    mgov__psrc_t src[MGOV__PSRC_MAX];
    seen_t seen = { 0 };
    unsigned n = mgov__psrc_open_all(src, dir, record, &seen);
    assert_int_equal(n, 1); /* psi; systemd not set, memory.events missing */
    assert_string_equal(seen.name[1], "psi:cgroup");
    assert_false(seen.notifies[1]);
    mgov__psrc_t *p = &src[0];
    uint64_t t0 = p->total_at_ns;
    /* 1 s later, 50 ms more stall: 5% < 7.5%, no signal */
    assert_int_equal(faketree_write(&ft, "sys/fs/cgroup/job/memory.pressure",
                                    "some avg10=1.00 avg60=0.00 avg300=0.00 total=50500\n"),
                     0);
    assert_int_equal(mgov__psrc_check(p, t0 + 1000000000ull), 0);
    /* 1 s later, 100 ms more: 10%, a signal */
    assert_int_equal(faketree_write(&ft, "sys/fs/cgroup/job/memory.pressure",
                                    "some avg10=1.00 avg60=0.00 avg300=0.00 total=150500\n"),
                     0);
    assert_int_equal(mgov__psrc_check(p, t0 + 2000000000ull), 1);
    assert_string_equal(p->last, "psi:cgroup");
    /* garbage for a while is no signal and no crash */
    assert_int_equal(faketree_write(&ft, "sys/fs/cgroup/job/memory.pressure", "full x\n"), 0);
    assert_int_equal(mgov__psrc_check(p, t0 + 3000000000ull), 0);
    for (unsigned i = 0; i < n; i++)
        mgov__psrc_close(&src[i]);
    free(dir);
}

static void test_memory_events_garbage(void **state)
{
    (void)state;
    fake_v2();
    assert_int_equal(faketree_write(&ft, "sys/fs/cgroup/job/memory.events", "nonsense\n"), 0);
    char *dir = mgov__cgroup_v2_dir();
    mgov__psrc_t src[MGOV__PSRC_MAX];
    seen_t seen = { 0 };
    unsigned n = mgov__psrc_open_all(src, dir, record, &seen);
    assert_int_equal(n, 0);
    assert_string_equal(seen.name[2], "memory.events");
    assert_int_equal(seen.status[2], MGOV_ECORRUPT);
    assert_string_equal(seen.name[1], "psi:cgroup");
    assert_int_equal(seen.status[1], MGOV_ENOTFOUND);
    free(dir);
}

static void test_sources_info(void **state)
{
    (void)state;
    fake_v2();
    assert_int_equal(faketree_write(&ft, "sys/fs/cgroup/job/memory.pressure", "x\n"), 0);
    mgov_pressure_source_info_t info[4];
    unsigned n = 0;
    assert_int_equal(mgov_pressure_sources(info, 4, &n), MGOV_OK);
    assert_int_equal(n, 4);
    assert_string_equal(info[0].kind, "systemd");
    assert_false(info[0].exists);
    assert_string_equal(info[1].kind, "psi:cgroup");
    assert_true(info[1].exists);
    assert_true(info[1].readable);
    assert_string_equal(info[2].kind, "psi:system");
    assert_false(info[2].exists); /* the fake /proc has no pressure/ */
    assert_string_equal(info[3].kind, "memory.events");
    assert_false(info[3].exists);
    assert_int_equal(mgov_pressure_sources(info, 1, &n), MGOV_OK);
    assert_int_equal(n, 4);
    assert_int_equal(mgov_pressure_sources(NULL, 1, &n), MGOV_EINVAL);
    assert_int_equal(mgov_pressure_sources(info, 1, NULL), MGOV_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_base64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psi_averages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_events_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sources_info, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
