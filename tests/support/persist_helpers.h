/* persist_helpers.h - the helpers of the tests of sections on disk across
 * governors, restarts and crashes (tests/tier/test_section_persist.c,
 * test_section_crash.c, test_section_file.c, test_section_manifest.c):
 * checks that work in the test process and in a forked child,
 * reproducible contents, governors on a persistent spill directory,
 * sections opened, filled and compared, listings, the exact contents of
 * the store directory, child processes, and the file edits that damage
 * what is on disk.
 *
 * Lifecycle
 *   ph_setup (cmocka setup: a fresh scratch directory that $TMPDIR points
 *   at; the persistent spill directory is ph_store = <scratch>/store, not
 *   made yet) -> test -> ph_teardown (disarms every fault first, removes
 *   the store, then the scratch tree, asserting nothing else is left).
 *
 * Children
 *   A child made with ph_fork_child reports a failed check on stderr and
 *   exits 3; it never returns into cmocka.  Every PH_CHECK and every helper
 *   here works in both, so a child runs the same helpers as the test.
 *
 * Threading: the test's main thread (or a child's) only.
 */
#ifndef MGOV_TEST_PERSIST_HELPERS_H
#define MGOV_TEST_PERSIST_HELPERS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memgov.h"
#include "spill_helpers.h"

#define PH_HDR ((size_t)4096) /* a section file's header */
#define PH_MANIFEST "sec-manifest"
#define PH_LOCKFILE "memgov.lock"
#define PH_QUARANTINE "sec-quarantine"

extern sh_scratch_t ph_scratch;
extern char ph_store[PATH_MAX]; /* the persistent spill directory */

int ph_setup(void **state);
int ph_teardown(void **state);

/* ------------------------------------------------------------ checking */

extern bool ph_in_child;             /* set in a child by ph_fork_child */
extern const char *ph_check_context; /* what is being checked, for messages */

/* Fails the test (cmocka) or the child (message on stderr, _exit(3)). */
__attribute__((format(printf, 3, 4), noreturn)) void ph_check_fail(const char *file, int line,
                                                                    const char *fmt, ...);

#define PH_CHECK(c)                                                                                \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ph_check_fail(__FILE__, __LINE__, "check failed: %s", #c);                             \
    } while (0)

#define PH_CHECK_RC(expr, want)                                                                    \
    do {                                                                                           \
        int rc_ = (expr), want_ = (want);                                                          \
        if (rc_ != want_)                                                                          \
            ph_check_fail(__FILE__, __LINE__, "%s = %s, expected %s", #expr,                       \
                          mgov_status_name(rc_), mgov_status_name(want_));                         \
    } while (0)

#define PH_CHECK_U64(a, b)                                                                         \
    do {                                                                                           \
        uint64_t a_ = (a), b_ = (b);                                                               \
        if (a_ != b_)                                                                              \
            ph_check_fail(__FILE__, __LINE__, "%s = %llu, expected %s = %llu", #a,                 \
                          (unsigned long long)a_, #b, (unsigned long long)b_);                     \
    } while (0)

/* snprintf that must not truncate */
__attribute__((format(printf, 3, 4))) void ph_pf(char *out, size_t cap, const char *fmt, ...);
/* Seconds on the monotonic clock. */
double ph_now_s(void);

/* ------------------------------------------------------------- contents */

typedef struct ph_blob {
    uint8_t *p;
    size_t n;
} ph_blob_t;

/* n bytes of seed's data (sh_fill, incompressible). */
ph_blob_t ph_blob_new(size_t n, uint64_t seed);
/* A copy of b with `len` bytes of seed's data written at off (growing it). */
ph_blob_t ph_blob_patch(const ph_blob_t *b, size_t off, size_t len, uint64_t seed);
void ph_blob_free(ph_blob_t *b);

/* ------------------------------------------------------------ governors */

/* A governor of 256 MiB on spill_dir (NULL: a private directory). */
mgov_t *ph_gov_at(const char *spill_dir);
/* ph_gov_at(ph_store). */
mgov_t *ph_gov_open(void);
/* mgov_destroy, which must be MGOV_OK (nothing leaked). */
void ph_gov_close(mgov_t *gov);

/* The MGOV_EV_QUARANTINED events of a governor (the first 64 kept). */
typedef struct ph_events {
    unsigned n;      /* events seen, any status */
    unsigned failed; /* of them, with a status other than MGOV_OK */
    char names[64][NAME_MAX + 1];
    uint64_t bytes[64];
    int status[64];
} ph_events_t;
/* ph_gov_open, recording its quarantine events into ev (zeroed here). */
mgov_t *ph_gov_events(ph_events_t *ev);

/* ------------------------------------------------------------- sections */

/* Opens `name` (cfg NULL: the defaults); it must open in `tier`. */
mgov_section_t *ph_sec_open_cfg(mgov_t *gov, const char *name, mgov_tier_t tier,
                                const mgov_section_config_t *cfg);
mgov_section_t *ph_sec_open(mgov_t *gov, const char *name, mgov_tier_t tier);
/* Opened ForceDisk: every write is a new generation of its file (an Auto
 * section would come back to RAM to be written). */
mgov_section_t *ph_sec_open_disk(mgov_t *gov, const char *name, mgov_tier_t tier);
void ph_sec_close(mgov_section_t *s);
/* The section's bytes are exactly data[0, n). */
bool ph_sec_equals(mgov_section_t *s, const void *data, size_t n);
/* ph_sec_equals(s, b), or the check fails. */
void ph_sec_expect(mgov_section_t *s, const ph_blob_t *b);
/* Opens a new section, writes b in RAM (two appends), spills it, closes it. */
void ph_sec_put(mgov_t *gov, const char *name, const ph_blob_t *b);

/* -------------------------------------------------------------- listing */

typedef struct ph_listing {
    unsigned n;
    char names[64][MGOV_NAME_MAX + 1];
    mgov_section_info_t info[64]; /* info[i].name points at names[i] */
} ph_listing_t;

/* mgov_section_foreach callback that appends to a ph_listing_t. */
void ph_listing_cb(void *arg, const mgov_section_info_t *info);
/* The governor's sections into l; they must come in name order. */
void ph_sec_list(mgov_t *gov, ph_listing_t *l);
/* The entry of `name`, or NULL. */
const mgov_section_info_t *ph_listing_find(const ph_listing_t *l, const char *name);
/* The file name of a section's generation: sec-<gen, 16 hex digits>-<name>. */
void ph_secfile_name(char *out, size_t cap, const char *name, uint64_t gen);
/* ph_store + "/" + file. */
void ph_store_path(char *out, size_t cap, const char *file);

/* ----------------------------------------------------------- quarantine */

typedef struct ph_qlisting {
    unsigned n;
    char files[64][NAME_MAX + 1];
    char names[64][MGOV_NAME_MAX + 1];
    mgov_section_quarantined_t q[64]; /* q[i].file -> files[i], .name -> names[i] or NULL */
} ph_qlisting_t;

/* mgov_section_quarantine_foreach into l (MGOV_OK); they must come in file
 * name order. */
void ph_qlist(mgov_t *gov, ph_qlisting_t *l);
/* The entry of `file`, or NULL. */
const mgov_section_quarantined_t *ph_qlisting_find(const ph_qlisting_t *l, const char *file);
/* ph_store + "/sec-quarantine/" + file. */
void ph_quarantine_path(char *out, size_t cap, const char *file);
/* Entries (of any type) in the store's quarantine directory; 0 without one. */
unsigned ph_quarantine_entries(void);

/* The store directory holds exactly: memgov.lock (optional), the manifest
 * (required when need_manifest), one file per listed section with a file,
 * named for its generation, and the names in `extra` (NULL-terminated).
 * A stray file fails at once, or with `stray` set, is counted (the first
 * one's name goes to stray) and the count returned. */
int ph_dir_check_strays(const ph_listing_t *l, bool need_manifest, const char *const *extra,
                        char *stray, size_t stray_cap);
void ph_dir_check(const ph_listing_t *l, bool need_manifest, const char *const *extra);

/* ------------------------------------------------------------ processes */

/* fork (streams flushed first); in the child, ph_in_child is set. */
pid_t ph_fork_child(void);
/* waitpid through EINTR; the status. */
int ph_wait_child(pid_t pid);
/* The child exited with 0, or the check fails. */
void ph_expect_exit0(int status);
/* Runs fn(arg) in a child that must exit 0 within `seconds`: a call that
 * blocks (an open of a FIFO, say) fails the test instead of hanging it. */
void ph_run_child_within(void (*fn)(void *arg), void *arg, unsigned seconds);

/* ----------------------------------------------------------- file edits */

/* Flips bit 5 of the byte at `at`. */
void ph_flip_byte(const char *path, off_t at);
/* The whole file into buf, which must be larger; its length. */
size_t ph_read_file(const char *path, uint8_t *buf, size_t cap);
/* Replaces the file with data[0, n) (mode 0600 when new). */
void ph_write_file(const char *path, const void *data, size_t n);
/* Something is at path (lstat). */
bool ph_exists(const char *path);
/* Writes v (little-endian) at `at` in the manifest at path and makes its
 * crc32c right again: a manifest that checks, with a crafted number. */
void ph_manifest_set_u64(const char *path, size_t at, uint64_t v);

#endif /* MGOV_TEST_PERSIST_HELPERS_H */
