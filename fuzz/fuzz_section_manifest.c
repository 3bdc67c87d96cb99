/* fuzz_section_manifest.c - libFuzzer target for what a restart reads from a
 * persistent spill directory: the sections manifest and a section file's
 * header.  Both come from disk, where anything can happen to them.
 *
 * The first byte picks the mode:
 *   even:     the rest is "sec-manifest";
 *   odd:      the rest is the file "sec-0000000000000001-a", and a valid
 *             manifest names it (generation 1, the length and crc32c its
 *             size and bytes imply), so the header checks are what is
 *             fuzzed;
 *   3 mod 4:  the rest is that file in the quarantine, with no manifest:
 *             it is listed (mgov_section_quarantine_foreach: the header
 *             read on its own, the data checked) and restored, then
 *             discarded if the restore refused it.
 * A governor then opens the directory; every section mgov_section_foreach
 * lists is opened, pinned (each byte of its view read), reloaded and
 * closed, then removed.  Checked properties: no crash, leak or sanitizer
 * report; open fails only with MGOV_ECORRUPT (or MGOV_EBUDGET for one too
 * big to load, which these sizes never are) for an unavailable section; an
 * opened section's length is what the listing said; a quarantined file is
 * listed ok exactly when its restore succeeds, and a refused one stays;
 * nothing else than the lock (and an empty quarantine) is left once every
 * section is removed and the governor destroyed.
 *
 * Build: see fuzz/CMakeLists.txt (CC=clang cmake -S fuzz -B build-fuzz).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memgov/section.h"
#include "sys/crc32c.h"
#include "sys/le.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];

static void write_file(const char *name, const void *p, size_t n)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n))
        abort();
    close(fd);
}

/* A manifest naming "a" at generation 1 with this length and crc. */
static void write_manifest_for(uint64_t length, uint32_t crc)
{
    uint8_t b[24 + 22 + 1 + 4] = "MGOVMANI";
    mgov__put_u32(b + 8, 1);
    mgov__put_u32(b + 12, 1);
    mgov__put_u64(b + 16, 2);
    mgov__put_u64(b + 24, 1);
    mgov__put_u64(b + 32, length);
    mgov__put_u32(b + 40, crc);
    b[44] = 0;
    b[45] = 1;
    b[46] = 'a';
    mgov__put_u32(b + 47, mgov__crc32c(0, b, 47));
    write_file("sec-manifest", b, sizeof b);
}

static void clear(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static void clear_dir(void)
{
    char q[PATH_MAX + 32];
    snprintf(q, sizeof q, "%s/sec-quarantine", dir);
    clear(q);
    rmdir(q);
    clear(dir);
}

typedef struct qseen {
    int n, status;
} qseen_t;

static void qcollect(void *arg, const mgov_section_quarantined_t *q)
{
    qseen_t *s = arg;
    if (q->status != MGOV_OK && q->status != MGOV_ECORRUPT && q->status != MGOV_EIO)
        abort();
    if ((q->name == NULL) != (q->generation == 0))
        abort();
    s->n++;
    s->status = q->status;
}

/* The file quarantined: listed once, restored exactly when it is listed
 * ok, else refused and left there, then discarded. */
static void quarantine_round(mgov_t *gov)
{
    qseen_t q = { 0, 0 };
    if (mgov_section_quarantine_foreach(gov, qcollect, &q) != MGOV_OK || q.n != 1)
        abort();
    int rc = mgov_section_quarantine_restore(gov, "sec-0000000000000001-a", NULL);
    if ((rc == MGOV_OK) != (q.status == MGOV_OK) || (rc != MGOV_OK && rc != MGOV_ECORRUPT))
        abort();
    if (rc != MGOV_OK &&
        mgov_section_quarantine_discard(gov, "sec-0000000000000001-a") != MGOV_OK)
        abort();
}

typedef struct seen {
    char names[16][MGOV_NAME_MAX + 1];
    uint64_t lengths[16];
    int status[16];
    int n;
} seen_t;

static void collect(void *arg, const mgov_section_info_t *in)
{
    seen_t *s = arg;
    if (s->n < 16) {
        snprintf(s->names[s->n], sizeof s->names[0], "%s", in->name);
        s->lengths[s->n] = in->length;
        s->status[s->n] = in->status;
        s->n++;
    }
}

/* The directory is made once, under $TMPDIR, and removed when the fuzzer
 * exits (libFuzzer ends with exit(), so atexit handlers run). */
static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

static void make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/memgov-fuzz-section-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        abort();
    atexit(remove_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        make_dir();
    if (size < 1 || size > (1u << 20))
        return 0;
    clear_dir();
    if ((data[0] & 3) == 3) {
        char q[PATH_MAX + 32];
        snprintf(q, sizeof q, "%s/sec-quarantine", dir);
        if (mkdir(q, 0700) != 0)
            abort();
        write_file("sec-quarantine/sec-0000000000000001-a", data + 1, size - 1);
    } else if (data[0] & 1) {
        const uint8_t *file = data + 1;
        size_t n = size - 1;
        uint64_t len = n > 4096 ? n - 4096 : 0;
        write_file("sec-0000000000000001-a", file, n);
        write_manifest_for(len, n > 4096 ? mgov__crc32c(0, file + 4096, len) : 0);
    } else {
        write_file("sec-manifest", data + 1, size - 1);
    }

    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 64u << 20;
    cfg.spill_dir = dir;
    cfg.spill_quota = 1u << 30;
    mgov_t *gov;
    if (mgov_create(&cfg, &gov) != MGOV_OK)
        abort();
    if ((data[0] & 3) == 3)
        quarantine_round(gov);
    seen_t seen = { .n = 0 };
    int rc = mgov_section_foreach(gov, collect, &seen);
    if (rc != MGOV_OK && rc != MGOV_ECORRUPT)
        abort();
    for (int i = 0; i < seen.n; i++) {
        mgov_section_t *s;
        rc = mgov_section_open(gov, seen.names[i], NULL, &s);
        if (rc != MGOV_OK) {
            if (rc != MGOV_ECORRUPT || seen.status[i] == MGOV_OK)
                abort();
        } else {
            if (mgov_section_length(s) != seen.lengths[i])
                abort();
            mgov_section_view_t v;
            if (mgov_section_pin(s, &v) == MGOV_OK) {
                volatile uint8_t sum = 0;
                for (size_t k = 0; k < v.len; k++)
                    sum ^= ((const uint8_t *)v.data)[k];
                (void)sum;
                mgov_section_unpin(s, &v);
            }
            mgov_section_reload(s, 0);
            if (mgov_section_close(s) != MGOV_OK)
                abort();
        }
        if (mgov_section_remove(gov, seen.names[i]) != MGOV_OK)
            abort();
    }
    if (mgov_destroy(gov) != MGOV_OK)
        abort();
    return 0;
}
