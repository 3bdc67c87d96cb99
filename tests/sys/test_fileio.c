/* test_fileio.c - the file wrappers (src/sys/fileio.c): each does its
 * system call and reports errors as -errno with errno set; each fails with
 * the armed errno when its fault kind is armed (and then leaves the file
 * alone); a rename that never replaces what holds its target, and
 * mkdirat; vectored writes and reads (empty pieces, the end of the file in
 * the middle); writes and reads survive short transfers and EINTR (a pipe,
 * a slow reader and a 0.5 ms interval timer); ENOSPC from a real device
 * (/dev/full).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "faketree.h"
#include "fault_helpers.h"
#include "sys/fault.h"
#include "sys/fileio.h"

static faketree_t ft;

static int setup(void **state)
{
    (void)state;
    return faketree_create(&ft, "memgov-fileio-");
}

static int teardown(void **state)
{
    (void)state;
    mgov__fault_disarm_all();
    return faketree_destroy(&ft);
}

static char *path_of(const char *rel)
{
    static char buf[2][PATH_MAX];
    static int k;
    k ^= 1;
    strcpy(buf[k], faketree_path(&ft, rel));
    return buf[k];
}

static void test_open(void **state)
{
    (void)state;
    int fd = mgov__open(path_of("a"), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    close(fd);

    errno = 0;
    assert_int_equal(mgov__open(path_of("a"), O_RDWR | O_CREAT | O_EXCL, 0600), -EEXIST);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(mgov__open(path_of("missing/a"), O_RDONLY, 0), -ENOENT);

    int dfd = mgov__open(ft.root, O_RDONLY | O_DIRECTORY, 0);
    assert_true(dfd >= 0);
    fd = mgov__openat(dfd, "b", O_WRONLY | O_CREAT | O_NOFOLLOW, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink("b", path_of("link")), 0);
    assert_int_equal(mgov__openat(dfd, "link", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);

    /* injected: nothing is created */
    mgov__fault_arm(MGOV_FAULT_OPEN, 0, 1);
    errno = 0;
    assert_int_equal(mgov__openat(dfd, "c", O_WRONLY | O_CREAT, 0600), -EIO);
    assert_int_equal(errno, EIO);
    assert_int_equal(mgov__fault_hits(MGOV_FAULT_OPEN), 1);
    assert_int_equal(access(path_of("c"), F_OK), -1);
    mgov__fault_arm_errno(MGOV_FAULT_OPEN, 1, 1, EDQUOT);
    fd = mgov__open(path_of("c"), O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(mgov__open(path_of("d"), O_WRONLY | O_CREAT, 0600), -EDQUOT);
    fd = mgov__open(path_of("d"), O_WRONLY | O_CREAT, 0600); /* count spent */
    assert_true(fd >= 0);
    close(fd);
    close(dfd);
    mgov__fault_disarm_all();
}

static void test_write_read(void **state)
{
    (void)state;
    int fd = mgov__open(path_of("w"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(mgov__write_all(fd, "hello ", 6), 0);
    assert_int_equal(mgov__write_all(fd, "world", 5), 0);
    assert_int_equal(mgov__write_all(fd, NULL, 0), 0);
    assert_int_equal(mgov__pwrite_all(fd, "W", 1, 6), 0);
    assert_int_equal(mgov__pwrite_all(fd, "x", 1, -1), -EINVAL);

    char buf[32];
    size_t got = 99;
    assert_int_equal(mgov__pread_full(fd, buf, sizeof buf, 0, &got), 0);
    assert_int_equal(got, 11); /* short only at the end of the file */
    assert_memory_equal(buf, "hello World", 11);
    assert_int_equal(mgov__pread_full(fd, buf, 4, 20, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(mgov__pread_full(fd, buf, 4, -1, &got), -EINVAL);
    assert_int_equal(got, 0);
    assert_int_equal(lseek(fd, 6, SEEK_SET), 6);
    assert_int_equal(mgov__read_full(fd, buf, 3, &got), 0);
    assert_int_equal(got, 3);
    assert_memory_equal(buf, "Wor", 3);

    /* injected write: the file is untouched */
    mgov__fault_arm_errno(MGOV_FAULT_WRITE, 0, 2, ENOSPC);
    errno = 0;
    assert_int_equal(mgov__write_all(fd, "zzz", 3), -ENOSPC);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(mgov__pwrite_all(fd, "zzz", 3, 0), -ENOSPC);
    assert_int_equal(mgov__fault_hits(MGOV_FAULT_WRITE), 2);
    assert_int_equal(mgov__pread_full(fd, buf, sizeof buf, 0, &got), 0);
    assert_int_equal(got, 11);
    assert_memory_equal(buf, "hello World", 11);
    mgov__fault_arm_errno(MGOV_FAULT_WRITE, 0, 1, EDQUOT);
    assert_int_equal(mgov__write_all(fd, "z", 1), -EDQUOT);
    mgov__fault_arm(MGOV_FAULT_WRITE, 0, 1); /* back to the default errno */
    assert_int_equal(mgov__write_all(fd, "z", 1), -EIO);

    /* injected read */
    mgov__fault_arm(MGOV_FAULT_READ, 1, 1);
    assert_int_equal(mgov__pread_full(fd, buf, 5, 0, &got), 0);
    assert_int_equal(got, 5);
    got = 99;
    assert_int_equal(mgov__pread_full(fd, buf, 5, 0, &got), -EIO);
    assert_int_equal(got, 0);
    mgov__fault_arm_errno(MGOV_FAULT_READ, 0, 1, EINTR);
    assert_int_equal(mgov__read_full(fd, buf, 5, &got), -EINTR); /* injected: not retried */
    mgov__fault_disarm_all();

    /* real errors */
    assert_int_equal(mgov__write_all(-1, "x", 1), -EBADF);
    assert_int_equal(mgov__read_full(-1, buf, 1, &got), -EBADF);
    close(fd);
    int ro = mgov__open(path_of("w"), O_RDONLY, 0);
    assert_true(ro >= 0);
    assert_int_equal(mgov__write_all(ro, "x", 1), -EBADF);
    close(ro);
}

static void test_vectored(void **state)
{
    (void)state;
    int fd = mgov__open(path_of("v"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char a[] = "head-", b[] = "", c[] = "body-", d[] = "tail";
    struct iovec w[4] = { { a, 5 }, { b, 0 }, { c, 5 }, { d, 4 } };
    assert_int_equal(mgov__writev_all(fd, w, 4), 0);
    struct iovec none[1] = { { b, 0 } };
    assert_int_equal(mgov__writev_all(fd, none, 1), 0);

    char x[8], y[20];
    struct iovec r[2] = { { x, 8 }, { y, 20 } };
    size_t got = 99;
    assert_int_equal(mgov__preadv_full(fd, r, 2, 0, &got), 0);
    assert_int_equal(got, 14); /* the end of the file, inside the second iovec */
    assert_memory_equal(x, "head-bod", 8);
    assert_memory_equal(y, "y-tail", 6);
    assert_int_equal(r[1].iov_len, 20 - 6); /* consumed as it filled */
    struct iovec r2[2] = { { x, 3 }, { y, 3 } };
    assert_int_equal(mgov__preadv_full(fd, r2, 2, 10, &got), 0);
    assert_int_equal(got, 4);
    assert_memory_equal(x, "tai", 3);
    assert_int_equal(mgov__preadv_full(fd, r2, 2, -1, &got), -EINVAL);

    /* injected: nothing written, nothing read */
    mgov__fault_arm_errno(MGOV_FAULT_WRITE, 0, 1, EDQUOT);
    struct iovec w2[1] = { { a, 5 } };
    assert_int_equal(mgov__writev_all(fd, w2, 1), -EDQUOT);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, 14);
    mgov__fault_arm(MGOV_FAULT_READ, 0, 1);
    struct iovec r3[1] = { { x, 3 } };
    got = 99;
    assert_int_equal(mgov__preadv_full(fd, r3, 1, 0, &got), -EIO);
    assert_int_equal(got, 0);
    mgov__fault_disarm_all();
    assert_int_equal(mgov__writev_all(-1, w2, 1), -EBADF);
    close(fd);
}

static void test_dev_full(void **state)
{
    (void)state;
    int fd = mgov__open("/dev/full", O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0)
        skip();
    errno = 0;
    assert_int_equal(mgov__write_all(fd, "x", 1), -ENOSPC);
    assert_int_equal(errno, ENOSPC);
    close(fd);
}

/* ------------------------------------------- short transfers and EINTR */

#define PIPE_BYTES ((size_t)8 << 20)

static void on_alarm(int sig)
{
    (void)sig;
}

static void *slow_reader(void *arg)
{
    int fd = *(int *)arg;
    unsigned char *buf = malloc(PIPE_BYTES);
    size_t total = 0, got;
    int rounds = 0;
    while (total < PIPE_BYTES) {
        size_t want = (size_t)(1 + (rounds * 7919) % 100000);
        if (want > PIPE_BYTES - total)
            want = PIPE_BYTES - total;
        if (mgov__read_full(fd, buf + total, want, &got) != 0 || got == 0)
            break;
        total += got;
        if (++rounds % 32 == 0)
            usleep(200);
    }
    bool ok = total == PIPE_BYTES;
    for (size_t i = 0; ok && i < total; i++)
        ok = buf[i] == (unsigned char)(i * 131 + (i >> 12));
    free(buf);
    return ok ? (void *)1 : NULL;
}

static void test_short_writes_and_eintr(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    unsigned char *data = malloc(PIPE_BYTES);
    assert_non_null(data);
    for (size_t i = 0; i < PIPE_BYTES; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 12));

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: interrupted calls return */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
    struct itimerval it = { { 0, 500 }, { 0, 500 } }, off = { { 0, 0 }, { 0, 0 } };
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_reader, &p[0]), 0);
    int rc = mgov__write_all(p[1], data, PIPE_BYTES / 2);
    /* the other half in three pieces, vectored */
    struct iovec iov[3] = { { data + PIPE_BYTES / 2, 12345 },
                            { data + PIPE_BYTES / 2 + 12345, PIPE_BYTES / 4 },
                            { data + PIPE_BYTES / 2 + 12345 + PIPE_BYTES / 4,
                              PIPE_BYTES / 4 - 12345 } };
    if (rc == 0)
        rc = mgov__writev_all(p[1], iov, 3);
    void *ok;
    pthread_join(t, &ok);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_sa, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(ok);
    close(p[0]);
    close(p[1]);
    free(data);
}

/* -------------------------------------------------- fsync, rename, mmap */

static void test_fsync(void **state)
{
    (void)state;
    int fd = mgov__open(path_of("s"), O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(mgov__fsync(fd), 0);
    mgov__fault_arm_errno(MGOV_FAULT_FSYNC, 0, 1, EIO);
    assert_int_equal(mgov__fsync(fd), -EIO);
    assert_int_equal(mgov__fsync(fd), 0);
    close(fd);
    assert_int_equal(mgov__fsync(-1), -EBADF);
    mgov__fault_disarm_all();
}

static void test_rename(void **state)
{
    (void)state;
    assert_int_equal(faketree_write(&ft, "r1", "one"), 0);
    assert_int_equal(mgov__rename(path_of("r1"), path_of("r2")), 0);
    assert_int_equal(access(path_of("r1"), F_OK), -1);
    assert_int_equal(access(path_of("r2"), F_OK), 0);
    assert_int_equal(mgov__rename(path_of("r1"), path_of("r3")), -ENOENT);

    int dfd = open(ft.root, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    mgov__fault_arm_errno(MGOV_FAULT_RENAME, 0, 1, ENOSPC);
    assert_int_equal(mgov__renameat(dfd, "r2", dfd, "r3"), -ENOSPC);
    assert_int_equal(access(path_of("r2"), F_OK), 0); /* not moved */
    assert_int_equal(mgov__renameat(dfd, "r2", dfd, "r3"), 0);
    assert_int_equal(access(path_of("r3"), F_OK), 0);

    assert_int_equal(mgov__unlinkat(dfd, "r3", 0), 0);
    assert_int_equal(mgov__unlinkat(dfd, "r3", 0), -ENOENT);
    assert_int_equal(faketree_mkdir(&ft, "sub"), 0);
    assert_int_equal(mgov__unlinkat(dfd, "sub", 0), -EISDIR);
    assert_int_equal(mgov__unlinkat(dfd, "sub", AT_REMOVEDIR), 0);
    close(dfd);
    mgov__fault_disarm_all();
}

/* A move that never replaces: refused with EEXIST whatever holds the
 * target (file, directory, dangling symlink), both names left as they
 * were; a directory and a symlink move themselves (never followed). */
static void test_rename_noreplace(void **state)
{
    (void)state;
    int dfd = open(ft.root, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(faketree_write(&ft, "n1", "one"), 0);
    assert_int_equal(faketree_write(&ft, "n2", "two"), 0);
    assert_int_equal(faketree_mkdir(&ft, "taken-dir"), 0);
    assert_int_equal(faketree_symlink(&ft, "taken-link", "nowhere"), 0);
    const char *taken[] = { "n2", "taken-dir", "taken-link" };
    for (int i = 0; i < 3; i++) {
        errno = 0;
        assert_int_equal(mgov__renameat_noreplace(dfd, "n1", dfd, taken[i]), -EEXIST);
        assert_int_equal(errno, EEXIST);
    }
    char buf[8] = { 0 };
    int fd = open(path_of("n2"), O_RDONLY);
    assert_true(fd >= 0 && read(fd, buf, sizeof buf) == 3 && memcmp(buf, "two", 3) == 0);
    close(fd);
    assert_int_equal(mgov__renameat_noreplace(dfd, "n1", dfd, "n3"), 0);
    assert_int_equal(access(path_of("n1"), F_OK), -1);
    assert_int_equal(mgov__renameat_noreplace(dfd, "n1", dfd, "n4"), -ENOENT);
    assert_int_equal(faketree_mkdir(&ft, "sub"), 0);
    assert_int_equal(mgov__renameat_noreplace(dfd, "taken-dir", dfd, "sub/moved-dir"), 0);
    assert_int_equal(mgov__renameat_noreplace(dfd, "taken-link", dfd, "sub/moved-link"), 0);
    struct stat sb;
    assert_int_equal(lstat(path_of("sub/moved-link"), &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    mgov__fault_arm_errno(MGOV_FAULT_RENAME, 0, 1, EIO);
    assert_int_equal(mgov__renameat_noreplace(dfd, "n3", dfd, "n5"), -EIO);
    assert_int_equal(access(path_of("n3"), F_OK), 0); /* not moved */
    close(dfd);
}

static void test_mkdirat(void **state)
{
    (void)state;
    int dfd = open(ft.root, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(mgov__mkdirat(dfd, "mk-d", 0700), 0);
    assert_int_equal(mgov__mkdirat(dfd, "mk-d", 0700), -EEXIST);
    mgov__fault_arm_errno(MGOV_FAULT_MKDIR, 0, 1, ENOSPC);
    assert_int_equal(mgov__mkdirat(dfd, "mk-e", 0700), -ENOSPC);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(access(path_of("mk-e"), F_OK), -1); /* not made */
    assert_int_equal(mgov__mkdirat(dfd, "mk-e", 0700), 0);
    close(dfd);
}

static void test_mmap(void **state)
{
    (void)state;
    void *p = (void *)1;
    assert_int_equal(mgov__mmap(65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &p), 0);
    assert_non_null(p);
    memset(p, 0xab, 65536);
    assert_int_equal(mgov__munmap(p, 65536), 0);

    int fd = mgov__open(path_of("m"), O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    assert_int_equal(mgov__mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &p), 0);
    memcpy(p, "mapped", 6);
    assert_int_equal(mgov__munmap(p, 4096), 0);
    char buf[6];
    size_t got;
    assert_int_equal(mgov__pread_full(fd, buf, 6, 0, &got), 0);
    assert_memory_equal(buf, "mapped", 6);

    mgov__fault_arm_errno(MGOV_FAULT_MMAP, 0, 1, ENOMEM);
    p = (void *)1;
    assert_int_equal(mgov__mmap(4096, PROT_READ, MAP_SHARED, fd, 0, &p), -ENOMEM);
    assert_null(p);
    assert_int_equal(mgov__mmap(4096, PROT_READ, MAP_SHARED, -1, 0, &p), -EBADF);
    assert_null(p);
    close(fd);
    mgov__fault_disarm_all();
}

static void test_mremap(void **state)
{
    (void)state;
    void *p;
    assert_int_equal(mgov__mmap(8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &p), 0);
    memset(p, 0x5a, 8192);
    /* growing keeps the bytes, wherever the mapping lands */
    assert_int_equal(mgov__mremap(&p, 8192, 1 << 20), 0);
    const unsigned char *b = p;
    assert_int_equal(b[0], 0x5a);
    assert_int_equal(b[8191], 0x5a);
    assert_int_equal(b[8192], 0); /* new pages are zero */
    /* an injected failure leaves the old mapping in place */
    void *q = p;
    mgov__fault_arm(MGOV_FAULT_MMAP, 0, 1);
    assert_int_equal(mgov__mremap(&p, 1 << 20, 2 << 20), -EIO);
    mgov__fault_disarm_all();
    assert_ptr_equal(p, q);
    assert_int_equal(b[100], 0x5a);
    assert_int_equal(mgov__mremap(&p, 1 << 20, 4096), 0); /* shrinking */
    assert_int_equal(((unsigned char *)p)[4095], 0x5a);
    assert_int_equal(mgov__munmap(p, 4096), 0);
}

/* Pages of [p, p + len) resident now, by mincore(2); -1 if any is unmapped. */
static long resident_pages(void *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page;
    unsigned char *vec = malloc(n);
    assert_non_null(vec);
    long r = -1;
    if (mincore(p, len, vec) == 0) {
        r = 0;
        for (size_t i = 0; i < n; i++)
            r += vec[i] & 1;
    }
    free(vec);
    return r;
}

static void test_mmap_anon(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t sizes[] = { page, MGOV__HUGE_MIN - page, MGOV__HUGE_MIN, MGOV__HUGE_MIN + page,
                             (size_t)9 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (int populate = 0; populate < 2; populate++) {
            size_t len = sizes[i];
            void *p;
            assert_int_equal(mgov__mmap_anon(len, populate, &p), 0);
            assert_non_null(p);
            if (len >= MGOV__HUGE_MIN)
                assert_int_equal((uintptr_t)p % ((size_t)2 << 20), 0);
            /* all of it mapped, and no more: the over-mapping was trimmed */
            assert_true(resident_pages(p, len) >= 0);
            if (len >= MGOV__HUGE_MIN)
                assert_int_equal(resident_pages((char *)p + len, page), -1);
            if (populate)
                assert_int_equal(resident_pages(p, len), (long)(len / page));
            unsigned char *b = p;
            assert_int_equal(b[0], 0);
            assert_int_equal(b[len - 1], 0);
            memset(p, 0xa5, len);
            assert_int_equal(b[len / 2], 0xa5);
            assert_int_equal(mgov__munmap(p, len), 0);
        }
    }
    void *p = (void *)&p;
    mgov__fault_arm_errno(MGOV_FAULT_MMAP, 0, 1, ENOMEM);
    assert_int_equal(mgov__mmap_anon(MGOV__HUGE_MIN, 1, &p), -ENOMEM);
    mgov__fault_disarm_all();
    assert_null(p);
    assert_int_equal(mgov__mmap_anon(SIZE_MAX & ~(page - 1), 0, &p), -ENOMEM);
    assert_null(p);
}

static void test_fault_errno(void **state)
{
    (void)state;
    mgov__fault_arm(MGOV_FAULT_ALLOC, 0, 0);
    assert_int_equal(mgov__fault_errno(MGOV_FAULT_ALLOC), ENOMEM);
    for (int k = MGOV_FAULT_OPEN; k < MGOV_FAULT_KINDS; k++) {
        mgov__fault_arm((mgov_fault_kind_t)k, 0, 0);
        assert_int_equal(mgov__fault_errno((mgov_fault_kind_t)k), EIO);
        mgov__fault_arm_errno((mgov_fault_kind_t)k, 0, 0, EDQUOT);
        assert_int_equal(mgov__fault_errno((mgov_fault_kind_t)k), EDQUOT);
    }
    /* kinds are independent */
    mgov__fault_arm(MGOV_FAULT_READ, 0, -1);
    assert_false(mgov__fault_now(MGOV_FAULT_WRITE));
    assert_true(mgov__fault_now(MGOV_FAULT_READ));
    mgov__fault_disarm_all();
    assert_false(mgov__fault_now(MGOV_FAULT_READ));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_open),
        FH_TEST(test_write_read),
        FH_TEST(test_vectored),
        FH_TEST(test_dev_full),
        FH_TEST(test_short_writes_and_eintr),
        FH_TEST(test_fsync),
        FH_TEST(test_rename),
        FH_TEST(test_rename_noreplace),
        FH_TEST(test_mkdirat),
        FH_TEST(test_mmap),
        FH_TEST(test_mremap),
        FH_TEST(test_mmap_anon),
        FH_TEST(test_fault_errno),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
