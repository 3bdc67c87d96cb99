/* test_meminfo.c - memory detection against fake /proc and /sys trees:
 * cgroup v2 (limit, "max", nested, path missing under the mount), cgroup v1
 * (limit, "unlimited", above RAM), hybrid hosts, no cgroup, unreadable and
 * garbage files, RSS from statm, the default budget and MEMGOV_BUDGET, the
 * cgroup v2 directory and what the kernel counts in it (memory.current,
 * memory.stat's anon, only when the process is alone in it) as the
 * governor's real memory, and a sanity check of the real /proc.
 *
 * Each test builds its own tree (setup) and restores the real roots and the
 * environment (teardown).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "faketree.h"
#include "memgov.h"
#include "memgov/size.h"
#include "memgov/sysinfo.h"
#include "sys/sys.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define SENTINEL ((uint64_t)0x5a5a5a5a5a5a5a5aULL)

/* Mount lines in /proc/self/mountinfo format. */
#define MI_ROOT "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
#define MI_PROC "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
#define MI_V2 "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - " \
              "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
#define MI_TMPFS "31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
#define MI_V1_CPU "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
#define MI_V1_MEM "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:15 - " \
                  "cgroup cgroup rw,memory\n"
#define MI_V2_UNIFIED "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"

#define V1_UNLIMITED "9223372036854771712\n"

static faketree_t *tree(void **state)
{
    return *state;
}

static int setup(void **state)
{
    faketree_t *ft = calloc(1, sizeof *ft);
    if (ft == NULL || faketree_create(ft, "memgov-meminfo-") < 0) {
        free(ft);
        return -1;
    }
    if (faketree_mkdir(ft, "proc/self") < 0 || faketree_mkdir(ft, "sys/fs/cgroup") < 0) {
        faketree_destroy(ft);
        free(ft);
        return -1;
    }
    char proc[PATH_MAX], sys[PATH_MAX];
    if (snprintf(proc, sizeof proc, "%s/proc", ft->root) >= (int)sizeof proc ||
        snprintf(sys, sizeof sys, "%s/sys", ft->root) >= (int)sizeof sys) {
        faketree_destroy(ft);
        free(ft);
        return -1;
    }
    mgov__sys_set_roots(proc, sys);
    unsetenv("MEMGOV_BUDGET");
    *state = ft;
    return 0;
}

static int teardown(void **state)
{
    faketree_t *ft = *state;
    mgov__sys_set_roots(NULL, NULL);
    unsetenv("MEMGOV_BUDGET");
    int rc = faketree_destroy(ft);
    free(ft);
    return rc;
}

static void put(void **state, const char *rel, const char *content)
{
    assert_int_equal(faketree_write(tree(state), rel, content), 0);
}

static void put_meminfo_kb(void **state, uint64_t kb)
{
    assert_int_equal(faketree_writef(tree(state), "proc/meminfo",
                                     "MemTotal:       %llu kB\n"
                                     "MemFree:        1234 kB\n"
                                     "MemAvailable:   5678 kB\n",
                                     (unsigned long long)kb),
                     0);
}

static mgov_sysinfo_t read_info(void)
{
    mgov_sysinfo_t info;
    memset(&info, 0xa5, sizeof info);
    assert_int_equal(mgov_sysinfo_read(&info), MGOV_OK);
    return info;
}

static uint64_t default_budget(void)
{
    uint64_t b = SENTINEL;
    assert_int_equal(mgov_default_budget(&b), MGOV_OK);
    return b;
}

/* A v2-only host: process in /app/job, cgroupfs at /sys/fs/cgroup. */
static void put_v2(void **state, const char *cgpath)
{
    char line[512];
    snprintf(line, sizeof line, "0::%s\n", cgpath);
    put(state, "proc/self/cgroup", line);
    put(state, "proc/self/mountinfo", MI_ROOT MI_PROC MI_V2);
}

/* A v1 host with the memory controller at /sys/fs/cgroup/memory. */
static void put_v1(void **state, const char *cgpath)
{
    char line[1024];
    snprintf(line, sizeof line,
             "12:pids:/\n5:cpu,cpuacct:/\n4:memory:%s\n1:name=systemd:/\n0::/\n", cgpath);
    put(state, "proc/self/cgroup", line);
    put(state, "proc/self/mountinfo", MI_ROOT MI_PROC MI_TMPFS MI_V1_CPU MI_V1_MEM);
}

/* ------------------------------------------------------------------ v2 */

static void test_v2_limit(void **state)
{
    put_meminfo_kb(state, 16 * MiB); /* 16 GiB */
    put_v2(state, "/app/job");
    put(state, "sys/fs/cgroup/app/job/memory.max", "2147483648\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.ram, 16 * GiB);
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 2 * GiB);
    assert_int_equal(i.process_limit, 2 * GiB);
    assert_int_equal(i.page_size, (uint64_t)sysconf(_SC_PAGESIZE));
    assert_int_equal(default_budget(), 3 * GiB / 2);
}

static void test_v2_max(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v2(state, "/app/job");
    put(state, "sys/fs/cgroup/app/job/memory.max", "max\n");
    put(state, "sys/fs/cgroup/app/memory.max", "max\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.process_limit, 16 * GiB);
    assert_int_equal(default_budget(), 12 * GiB);
}

static void test_v2_nested_parent_smaller(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v2(state, "/a/b/c");
    put(state, "sys/fs/cgroup/a/b/c/memory.max", "max\n");
    put(state, "sys/fs/cgroup/a/b/memory.max", "1073741824\n");
    put(state, "sys/fs/cgroup/a/memory.max", "4294967296\n");
    /* The mount root itself has no memory.max, as on a real host. */
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, GiB);
    assert_int_equal(i.process_limit, GiB);
}

static void test_v2_nested_child_smaller(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v2(state, "/a/b");
    put(state, "sys/fs/cgroup/a/b/memory.max", "104857600");  /* no newline */
    put(state, "sys/fs/cgroup/a/memory.max", "garbage\n");     /* skipped */
    put(state, "sys/fs/cgroup/memory.max", "209715200\n");     /* at the mount */
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 100 * MiB);
}

static void test_v2_limit_only_at_mount(void **state)
{
    /* The walk includes the mount point itself. */
    put_meminfo_kb(state, 16 * MiB);
    put_v2(state, "/a/b");
    put(state, "sys/fs/cgroup/memory.max", "536870912\n");
    assert_int_equal(faketree_mkdir(tree(state), "sys/fs/cgroup/a/b"), 0);
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 512 * MiB);
}

static void test_v2_path_missing_uses_mount(void **state)
{
    /* A container: /proc/self/cgroup shows the host path, but its own
     * cgroup is what is mounted at /sys/fs/cgroup. */
    put_meminfo_kb(state, 64 * MiB);
    put_v2(state, "/kubepods.slice/pod123.slice/cri-containerd-abc.scope");
    put(state, "sys/fs/cgroup/memory.max", "536870912\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 512 * MiB);
    assert_int_equal(i.process_limit, 512 * MiB);
    assert_int_equal(default_budget(), 384 * MiB);
}

static void test_v2_mount_root_stripped(void **state)
{
    /* mountinfo's 4th field is the mount's root within the hierarchy. */
    put_meminfo_kb(state, 16 * MiB);
    put(state, "proc/self/cgroup", "0::/outer/inner/job\n");
    put(state, "proc/self/mountinfo",
        MI_ROOT "30 22 0:26 /outer/inner /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    put(state, "sys/fs/cgroup/job/memory.max", "300000000\n");
    put(state, "sys/fs/cgroup/memory.max", "400000000\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 300000000);
}

static void test_v2_prefers_matching_mount(void **state)
{
    /* Two cgroup2 mounts: the first one's root does not hold our path. */
    put_meminfo_kb(state, 16 * MiB);
    put(state, "proc/self/cgroup", "0::/svc/job\n");
    put(state, "proc/self/mountinfo",
        MI_ROOT "30 22 0:26 /other /sys/fs/cgroup/other rw - cgroup2 cgroup2 rw\n"
                "31 22 0:26 / /sys/fs/cgroup/all rw - cgroup2 cgroup2 rw\n");
    put(state, "sys/fs/cgroup/other/memory.max", "1000\n");
    put(state, "sys/fs/cgroup/all/svc/job/memory.max", "700000000\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 700000000);
}

static void test_v2_escaped_mount_point(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put(state, "proc/self/cgroup", "0::/job\n");
    put(state, "proc/self/mountinfo",
        MI_ROOT "30 22 0:26 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n");
    put(state, "sys/fs/my cgroup/job/memory.max", "123456789\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 123456789);
}

static void test_v2_zero_is_no_limit(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v2(state, "/job");
    put(state, "sys/fs/cgroup/job/memory.max", "0\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.process_limit, 16 * GiB);
}

/* ------------------------------------------------------------------ v1 */

static void test_v1_limit(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v1(state, "/app");
    put(state, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "805306368\n");
    put(state, "sys/fs/cgroup/memory/memory.limit_in_bytes", V1_UNLIMITED);
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 1);
    assert_int_equal(i.cgroup_limit, 768 * MiB);
    assert_int_equal(i.process_limit, 768 * MiB);
    assert_int_equal(default_budget(), 576 * MiB);
}

static void test_v1_unlimited(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v1(state, "/app");
    put(state, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", V1_UNLIMITED);
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 1);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.process_limit, 16 * GiB);
}

static void test_v1_unlimited_ram_unknown(void **state)
{
    /* No meminfo: the v1 "unlimited" value still is not a limit. */
    put_v1(state, "/app");
    put(state, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", V1_UNLIMITED);
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.ram, 0);
    assert_int_equal(i.cgroup_version, 1);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.process_limit, 0);
    assert_int_equal(default_budget(), MGOV_FALLBACK_BUDGET);
}

static void test_v1_limit_above_ram(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v1(state, "/app");
    put(state, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "34359738368\n"); /* 32 GiB */
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 1);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.process_limit, 16 * GiB);

    /* Exactly RAM counts as no limit too; one byte less is a limit. */
    put(state, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "17179869184\n");
    assert_int_equal(read_info().cgroup_limit, 0);
    put(state, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "17179869183\n");
    assert_int_equal(read_info().cgroup_limit, 16 * GiB - 1);
}

static void test_v1_path_missing_uses_mount(void **state)
{
    /* This is what the build machine looks like: the process's v1 path is
     * not visible under the mount, which holds the root cgroup. */
    put_meminfo_kb(state, 24684096);
    put(state, "proc/self/cgroup",
        "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/cbe2c662e403\n1:cpu:/\n0::/\n");
    put(state, "proc/self/mountinfo",
        MI_ROOT MI_PROC MI_TMPFS MI_V1_CPU MI_V1_MEM MI_V2_UNIFIED);
    put(state, "sys/fs/cgroup/memory/memory.limit_in_bytes", V1_UNLIMITED);
    assert_int_equal(faketree_mkdir(tree(state), "sys/fs/cgroup/unified"), 0);
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.ram, 24684096 * KiB);
    assert_int_equal(i.cgroup_version, 1);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.process_limit, 24684096 * KiB);

    /* With a limit at the mount, it is found. */
    put(state, "sys/fs/cgroup/memory/memory.limit_in_bytes", "2147483648\n");
    assert_int_equal(read_info().cgroup_limit, 2 * GiB);
}

static void test_v1_mount_root_stripped(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put(state, "proc/self/cgroup", "7:cpuacct,memory:/docker/abc/sub\n");
    put(state, "proc/self/mountinfo",
        MI_ROOT "35 22 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - "
                "cgroup cgroup ro,cpuacct,memory\n");
    put(state, "sys/fs/cgroup/memory/sub/memory.limit_in_bytes", "1073741824\n");
    put(state, "sys/fs/cgroup/memory/memory.limit_in_bytes", "2147483648\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 1);
    assert_int_equal(i.cgroup_limit, GiB); /* v1: the cgroup's own file only */
}

static void test_v1_controller_token_exact(void **state)
{
    /* "memory_extra" is not "memory"; "memory" in a fstype-cgroup mount
     * without the option does not count either. */
    put_meminfo_kb(state, 16 * MiB);
    put(state, "proc/self/cgroup", "4:memory_extra:/app\n");
    put(state, "proc/self/mountinfo", MI_ROOT MI_TMPFS MI_V1_MEM);
    put(state, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "1073741824\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 0);
    assert_int_equal(i.cgroup_limit, 0);

    put(state, "proc/self/cgroup", "4:memory:/app\n");
    put(state, "proc/self/mountinfo",
        MI_ROOT "35 22 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memoryx\n");
    assert_int_equal(read_info().cgroup_version, 0);
}

static void test_hybrid_prefers_v2_with_memory_max(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put(state, "proc/self/cgroup", "4:memory:/app\n0::/app\n");
    put(state, "proc/self/mountinfo", MI_ROOT MI_TMPFS MI_V1_MEM MI_V2_UNIFIED);
    put(state, "sys/fs/cgroup/memory/app/memory.limit_in_bytes", "1073741824\n");
    put(state, "sys/fs/cgroup/unified/app/memory.max", "2147483648\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, 2 * GiB);

    /* Without memory.max in v2 (memory controller on v1), v1 is used. */
    assert_int_equal(faketree_remove(tree(state), "sys/fs/cgroup/unified/app/memory.max"), 0);
    i = read_info();
    assert_int_equal(i.cgroup_version, 1);
    assert_int_equal(i.cgroup_limit, GiB);
}

/* ------------------------------------------------------- none, unreadable */

static void test_no_cgroup(void **state)
{
    put_meminfo_kb(state, 8 * MiB);
    /* No /proc/self/cgroup at all. */
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.ram, 8 * GiB);
    assert_int_equal(i.cgroup_version, 0);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.process_limit, 8 * GiB);
    assert_int_equal(default_budget(), 6 * GiB);

    /* A cgroup file but no mountinfo. */
    put_v2(state, "/job");
    assert_int_equal(faketree_remove(tree(state), "proc/self/mountinfo"), 0);
    put(state, "sys/fs/cgroup/job/memory.max", "1000000\n");
    assert_int_equal(read_info().cgroup_version, 0);

    /* A mount but no memory.max anywhere. */
    put_v2(state, "/job");
    assert_int_equal(faketree_remove(tree(state), "sys/fs/cgroup/job/memory.max"), 0);
    i = read_info();
    assert_int_equal(i.cgroup_version, 0);
    assert_int_equal(i.cgroup_limit, 0);

    /* Only non-memory v1 controllers. */
    put(state, "proc/self/cgroup", "3:cpu:/x\n2:pids:/x\n");
    put(state, "proc/self/mountinfo", MI_ROOT MI_TMPFS MI_V1_CPU);
    assert_int_equal(read_info().cgroup_version, 0);
}

static void test_unreadable_files(void **state)
{
    /* Directories in place of files: open() works, read() fails. */
    faketree_t *ft = tree(state);
    assert_int_equal(faketree_mkdir(ft, "proc/meminfo"), 0);
    assert_int_equal(faketree_mkdir(ft, "proc/self/statm"), 0);
    put_v2(state, "/job");
    assert_int_equal(faketree_mkdir(ft, "sys/fs/cgroup/job/memory.max"), 0);
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.ram, 0);
    assert_int_equal(i.rss, 0);
    assert_int_equal(i.cgroup_version, 0);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.process_limit, 0);
    assert_int_equal(mgov_rss_now(), 0);
    assert_int_equal(default_budget(), MGOV_FALLBACK_BUDGET);

    /* The cgroup and mountinfo files themselves unreadable. */
    put(state, "sys/fs/cgroup/memory.max", "1000000\n");
    assert_int_equal(read_info().cgroup_limit, 1000000);
    assert_int_equal(faketree_remove(ft, "proc/self/cgroup"), 0);
    assert_int_equal(faketree_mkdir(ft, "proc/self/cgroup"), 0);
    assert_int_equal(read_info().cgroup_version, 0);
    assert_int_equal(faketree_remove(ft, "proc/self/cgroup"), 0);
    put_v2(state, "/job");
    assert_int_equal(faketree_remove(ft, "proc/self/mountinfo"), 0);
    assert_int_equal(faketree_mkdir(ft, "proc/self/mountinfo"), 0);
    assert_int_equal(read_info().cgroup_version, 0);
}

static void test_unreadable_v1_limit(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v1(state, "/app");
    assert_int_equal(faketree_mkdir(tree(state), "sys/fs/cgroup/memory/app/memory.limit_in_bytes"), 0);
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 0);
    assert_int_equal(i.process_limit, 16 * GiB);
}

static void test_missing_everything(void **state)
{
    (void)state;
    /* An empty fake /proc: everything 0, budget 1 GiB, no sysconf fallback. */
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.ram, 0);
    assert_int_equal(i.cgroup_limit, 0);
    assert_int_equal(i.cgroup_version, 0);
    assert_int_equal(i.process_limit, 0);
    assert_int_equal(i.rss, 0);
    assert_true(i.page_size > 0);
    assert_int_equal(default_budget(), MGOV_FALLBACK_BUDGET);

    /* Roots that do not exist at all behave the same. */
    mgov__sys_set_roots("/nonexistent/memgov/proc", "/nonexistent/memgov/sys");
    i = read_info();
    assert_int_equal(i.ram, 0);
    assert_int_equal(i.process_limit, 0);
    assert_int_equal(default_budget(), MGOV_FALLBACK_BUDGET);
}

static void test_meminfo_missing_cgroup_known(void **state)
{
    put_v2(state, "/job");
    put(state, "sys/fs/cgroup/job/memory.max", "1073741824\n");
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.ram, 0);
    assert_int_equal(i.cgroup_limit, GiB);
    assert_int_equal(i.process_limit, GiB);
    assert_int_equal(default_budget(), 768 * MiB);
}

/* ----------------------------------------------------------------- garbage */

static void test_garbage_memory_max(void **state)
{
    static const char *const bad[] = {
        "", "\n", "12abc\n", "-5\n", "+5\n", " 5\n", "0x10\n", "1.5\n", "maxx\n", "max max\n",
        "99999999999999999999999\n", "18446744073709551616\n", "5\n6\n", "max\n5\n",
        "\x01\x02\xff", "5 kB\n",
    };
    put_meminfo_kb(state, 16 * MiB);
    put_v2(state, "/job");
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        put(state, "sys/fs/cgroup/job/memory.max", bad[k]);
        mgov_sysinfo_t i = read_info();
        if (i.cgroup_version != 0 || i.cgroup_limit != 0)
            fail_msg("memory.max \"%s\": version %d limit %llu", bad[k], i.cgroup_version,
                     (unsigned long long)i.cgroup_limit);
        assert_int_equal(i.process_limit, 16 * GiB);
    }
    /* A value far larger than any buffer is garbage too. */
    char big[1000];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    put(state, "sys/fs/cgroup/job/memory.max", big);
    assert_int_equal(read_info().cgroup_version, 0);
    /* Surrounding whitespace of a valid value is fine. */
    put(state, "sys/fs/cgroup/job/memory.max", "4096 \n\n");
    assert_int_equal(read_info().cgroup_limit, 4096);
}

static void test_garbage_meminfo(void **state)
{
    static const char *const bad[] = {
        "",
        "MemTotal:\n",
        "MemTotal: lots kB\n",
        "MemTotal: 123\n",              /* no unit */
        "MemTotal: 123 MB\n",           /* wrong unit */
        "MemTotal: 123 kB trailing\n",
        "MemTotal: -123 kB\n",
        "MemTotal: 18446744073709551615 kB\n",  /* overflows when x1024 */
        "MemTotal: 99999999999999999999999 kB\n",
        "MemFree: 1000 kB\n",           /* no MemTotal */
        "memtotal: 1000 kB\n",
        "\x01\x02garbage\n",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        put(state, "proc/meminfo", bad[k]);
        mgov_sysinfo_t i = read_info();
        if (i.ram != 0)
            fail_msg("meminfo \"%s\": ram %llu", bad[k], (unsigned long long)i.ram);
        assert_int_equal(default_budget(), MGOV_FALLBACK_BUDGET);
    }
    /* MemTotal not first, no trailing newline, tabs: fine. */
    put(state, "proc/meminfo", "MemFree: 1 kB\nMemTotal:\t2048 kB");
    assert_int_equal(read_info().ram, 2 * MiB);
    /* A line far longer than the reader's buffer is skipped, not fatal. */
    size_t n = 20000;
    char *s = malloc(n + 64);
    assert_non_null(s);
    memset(s, 'x', n);
    strcpy(s + n, "\nMemTotal: 4 kB\n");
    put(state, "proc/meminfo", s);
    assert_int_equal(read_info().ram, 4 * KiB);
    /* ... also when the long line is the last one, without a newline. */
    strcpy(s, "MemTotal: 8 kB\n");
    memset(s + strlen(s), 'y', n);
    s[n] = '\0';
    put(state, "proc/meminfo", s);
    assert_int_equal(read_info().ram, 8 * KiB);
    /* The tail of a dropped line is dropped too, even when it looks like a
     * line of its own (pads around multiples of the reader's buffer). */
    static const size_t pads[] = {4094, 4095, 4096, 4097, 8190, 8191, 8192};
    for (size_t k = 0; k < sizeof pads / sizeof pads[0]; k++) {
        memset(s, 'x', pads[k]);
        strcpy(s + pads[k], "MemTotal: 99 kB\nMemTotal: 4 kB\n");
        put(state, "proc/meminfo", s);
        assert_int_equal(read_info().ram, 4 * KiB);
    }
    free(s);
}

static void test_garbage_cgroup_and_mountinfo(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put(state, "sys/fs/cgroup/job/memory.max", "1048576\n");

    /* Junk lines around a good one are skipped. */
    put(state, "proc/self/cgroup",
        "garbage\n::\n0:\n0::\n0::relative\n:memory:/x\n\n\x01\x02\n0::/job\n");
    char *mi = malloc(16384);
    assert_non_null(mi);
    memset(mi, 'z', 9000); /* a line longer than the reader's buffer */
    mi[9000] = '\0';
    strcat(mi, "\nshort line\n1 2 3 4 5 6 7 no dash here\n"
               "1 2 3 / /sys/fs/cgroup rw - cgroup2\n" /* no super options */
               "\n" MI_V2);
    put(state, "proc/self/mountinfo", mi);
    mgov_sysinfo_t i = read_info();
    assert_int_equal(i.cgroup_version, 2);
    assert_int_equal(i.cgroup_limit, MiB);

    /* Entire garbage: nothing found, nothing crashes. */
    memset(mi, 0, 16384);
    for (size_t k = 0; k < 16383; k++)
        mi[k] = (char)("0:: /-\n\\"[k % 8]);
    put(state, "proc/self/cgroup", mi);
    put(state, "proc/self/mountinfo", mi);
    i = read_info();
    assert_int_equal(i.cgroup_version, 0);
    assert_int_equal(i.ram, 16 * GiB);
    free(mi);

    /* mountinfo with only the cgroup line, no newline at the end. */
    put(state, "proc/self/cgroup", "0::/job");
    put(state, "proc/self/mountinfo", "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw");
    assert_int_equal(read_info().cgroup_limit, MiB);
}

/* --------------------------------------------------------------------- rss */

static void test_rss_from_statm(void **state)
{
    uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
    put(state, "proc/self/statm", "10000 2500 300 4 0 600 0\n");
    assert_int_equal(mgov_rss_now(), 2500 * ps);
    assert_int_equal(read_info().rss, 2500 * ps);

    put(state, "proc/self/statm", "10000 7"); /* two fields, no newline */
    assert_int_equal(mgov_rss_now(), 7 * ps);

    static const char *const bad[] = {
        "", "10000\n", "10000 \n", "10000 x\n", "a 5\n", "10000  5\n", "10000 5x 3\n",
        "10000 99999999999999999999\n", "10000 18446744073709551615\n", "-1 -1\n",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        put(state, "proc/self/statm", bad[k]);
        if (mgov_rss_now() != 0)
            fail_msg("statm \"%s\" gave %llu", bad[k], (unsigned long long)mgov_rss_now());
    }
    assert_int_equal(faketree_remove(tree(state), "proc/self/statm"), 0);
    assert_int_equal(mgov_rss_now(), 0);
}

/* --------------------------------------------------------------- budget */

static void test_budget_default_75_percent(void **state)
{
    put_meminfo_kb(state, 1001); /* 1025024 bytes: 3/4 is exact integer math */
    assert_int_equal(default_budget(), 768768);
    put_meminfo_kb(state, 3);   /* 3072 bytes */
    assert_int_equal(default_budget(), 2304);
    /* Largest RAM that fits: no overflow in the 3/4. */
    put_meminfo_kb(state, UINT64_MAX / 1024);
    assert_int_equal(default_budget(), (UINT64_MAX / 1024 * 1024) / 4 * 3);
}

static void test_budget_env(void **state)
{
    put_meminfo_kb(state, 16 * MiB);
    put_v2(state, "/job");
    put(state, "sys/fs/cgroup/job/memory.max", "4294967296\n"); /* 4 GiB */

    setenv("MEMGOV_BUDGET", "256MiB", 1);
    assert_int_equal(default_budget(), 256 * MiB);
    setenv("MEMGOV_BUDGET", "50%", 1);
    assert_int_equal(default_budget(), 2 * GiB); /* of the process limit */
    setenv("MEMGOV_BUDGET", "100%", 1);
    assert_int_equal(default_budget(), 4 * GiB);
    setenv("MEMGOV_BUDGET", "32GiB", 1); /* above the limit: the user knows */
    assert_int_equal(default_budget(), 32 * GiB);

    static const char *const bad[] = {"lots", "0", "0%", "0B", "", "-1G", "150%", "1e9", "12X"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        setenv("MEMGOV_BUDGET", bad[k], 1);
        uint64_t b = SENTINEL;
        if (mgov_default_budget(&b) != MGOV_EINVAL)
            fail_msg("MEMGOV_BUDGET=\"%s\" accepted", bad[k]);
        assert_true(b == SENTINEL);
    }

    unsetenv("MEMGOV_BUDGET");
    assert_int_equal(default_budget(), 3 * GiB);
}

static void test_budget_env_percent_unknown_limit(void **state)
{
    (void)state; /* empty fake tree: the process limit is unknown */
    setenv("MEMGOV_BUDGET", "50%", 1);
    assert_int_equal(default_budget(), MGOV_FALLBACK_BUDGET / 2);
    setenv("MEMGOV_BUDGET", "1GiB", 1);
    assert_int_equal(default_budget(), GiB);
}

static void test_null_args(void **state)
{
    (void)state;
    assert_int_equal(mgov_sysinfo_read(NULL), MGOV_EINVAL);
    assert_int_equal(mgov_default_budget(NULL), MGOV_EINVAL);
}

/* ------------------------------------------------------------ real /proc */

static void test_real_proc(void **state)
{
    (void)state;
    mgov__sys_set_roots(NULL, NULL);
    mgov_sysinfo_t i = read_info();
    assert_true(i.ram > 0);
    assert_true(i.rss > 0);
    assert_true(i.page_size > 0);
    assert_true(i.process_limit > 0 && i.process_limit <= i.ram);
    assert_true(i.cgroup_version >= 0 && i.cgroup_version <= 2);
    assert_true(i.rss < i.ram);
    assert_true(mgov_rss_now() > 0);
    uint64_t b = default_budget();
    assert_true(b > 0 && b <= i.process_limit);

    char r[32], l[32], s[32];
    mgov_size_format(i.ram, r, sizeof r);
    mgov_size_format(i.process_limit, l, sizeof l);
    mgov_size_format(i.rss, s, sizeof s);
    print_message("real: ram %s, cgroup v%d limit %llu, process limit %s, rss %s\n", r,
                  i.cgroup_version, (unsigned long long)i.cgroup_limit, l, s);
}

/* ---------------------------------------------- what the kernel counts */

static void test_cgroup_v2_dir_and_memory(void **state)
{
    put_v2(state, "/app/job");
    put(state, "sys/fs/cgroup/app/job/memory.max", "max\n");
    char *dir = mgov__cgroup_v2_dir();
    assert_non_null(dir);
    assert_non_null(strstr(dir, "/sys/fs/cgroup/app/job"));
    put(state, "sys/fs/cgroup/app/job/memory.current", "123456789\n");
    put(state, "sys/fs/cgroup/app/job/memory.stat",
        "anonymous 1\nanon 1000000\nfile 2000000\nanon_thp 0\n");
    char procs[64];
    /* alone in the cgroup: it is ours to read */
    snprintf(procs, sizeof procs, "%ld\n", (long)getpid());
    put(state, "sys/fs/cgroup/app/job/cgroup.procs", procs);
    mgov__cgroup_mem_t m;
    assert_int_equal(mgov__cgroup_mem_read(dir, &m), 0);
    assert_true(m.owned);
    assert_int_equal(m.current, 123456789);
    assert_int_equal(m.anon, 1000000);
    /* shared with another process: not ours */
    snprintf(procs, sizeof procs, "%ld\n1\n", (long)getpid());
    put(state, "sys/fs/cgroup/app/job/cgroup.procs", procs);
    assert_int_equal(mgov__cgroup_mem_read(dir, &m), -1);
    assert_false(m.owned);
    assert_int_equal(m.current, 0);
    /* ours, but the files are garbage: zeros */
    snprintf(procs, sizeof procs, "%ld\n", (long)getpid());
    put(state, "sys/fs/cgroup/app/job/cgroup.procs", procs);
    put(state, "sys/fs/cgroup/app/job/memory.current", "lots\n");
    put(state, "sys/fs/cgroup/app/job/memory.stat", "anon x\n");
    assert_int_equal(mgov__cgroup_mem_read(dir, &m), 0);
    assert_int_equal(m.current, 0);
    assert_int_equal(m.anon, 0);
    free(dir);
    assert_int_equal(mgov__cgroup_mem_read(NULL, &m), -1);
}

static void test_cgroup_v2_dir_none(void **state)
{
    put_v1(state, "/job");
    assert_null(mgov__cgroup_v2_dir());
    put(state, "proc/self/cgroup", "garbage\n");
    assert_null(mgov__cgroup_v2_dir());
}

/* the governor's real memory and untracked part, from the fake tree */
static void test_stats_real_memory(void **state)
{
    put_v2(state, "/app/job");
    put(state, "sys/fs/cgroup/app/job/memory.max", "max\n");
    put(state, "sys/fs/cgroup/app/job/memory.current", "50000000\n");
    put(state, "sys/fs/cgroup/app/job/memory.stat", "anon 40000000\n");
    char procs[64];
    snprintf(procs, sizeof procs, "%ld\n", (long)getpid());
    put(state, "sys/fs/cgroup/app/job/cgroup.procs", procs);
    put(state, "proc/self/statm", "1000 2000 0 0 0 0 0\n");
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 100 * MiB;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    mgov_grant_t g = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, 0, 10000000, 0, &g), MGOV_OK);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.rss, 2000 * (uint64_t)sysconf(_SC_PAGESIZE));
    assert_int_equal(s.cgroup_current, 50000000);
    assert_int_equal(s.cgroup_anon, 40000000);
    assert_int_equal(s.real, 50000000);
    assert_int_equal(s.untracked, 40000000);
    /* not alone in the cgroup: RSS is the real memory */
    snprintf(procs, sizeof procs, "%ld\n99999\n", (long)getpid());
    put(state, "sys/fs/cgroup/app/job/cgroup.procs", procs);
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.cgroup_current, 0);
    assert_int_equal(s.real, s.rss);
    assert_int_equal(s.untracked, s.rss > 10000000 ? s.rss - 10000000 : 0);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_v2_limit),
        T(test_v2_max),
        T(test_v2_nested_parent_smaller),
        T(test_v2_nested_child_smaller),
        T(test_v2_limit_only_at_mount),
        T(test_v2_path_missing_uses_mount),
        T(test_v2_mount_root_stripped),
        T(test_v2_prefers_matching_mount),
        T(test_v2_escaped_mount_point),
        T(test_v2_zero_is_no_limit),
        T(test_v1_limit),
        T(test_v1_unlimited),
        T(test_v1_unlimited_ram_unknown),
        T(test_v1_limit_above_ram),
        T(test_v1_path_missing_uses_mount),
        T(test_v1_mount_root_stripped),
        T(test_v1_controller_token_exact),
        T(test_hybrid_prefers_v2_with_memory_max),
        T(test_no_cgroup),
        T(test_unreadable_files),
        T(test_unreadable_v1_limit),
        T(test_missing_everything),
        T(test_meminfo_missing_cgroup_known),
        T(test_garbage_memory_max),
        T(test_garbage_meminfo),
        T(test_garbage_cgroup_and_mountinfo),
        T(test_rss_from_statm),
        T(test_budget_default_75_percent),
        T(test_budget_env),
        T(test_budget_env_percent_unknown_limit),
        T(test_null_args),
        T(test_real_proc),
        T(test_cgroup_v2_dir_and_memory),
        T(test_cgroup_v2_dir_none),
        T(test_stats_real_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
