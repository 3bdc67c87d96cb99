/* spill_helpers.h - test helpers for the spill layer: a scratch directory
 * that stands in for $TMPDIR, directory listings, reproducible data, and
 * whole-file writes and read-backs with a mix of mgov_spill_read and
 * mgov_spill_read_view; and the fixture of the spill file tests
 * (tests/spill/test_codec.c, test_spill_writer.c, test_spill_reader.c,
 * test_spill_buf.c) with the checks they share.
 *
 * Lifecycle
 *   sh_scratch_init (makes /tmp/memgov-spill-test-XXXXXX, sets TMPDIR to
 *   it) -> tests -> sh_scratch_fini (restores TMPDIR, removes the tree).
 *   The file fixture: sh_file_setup (a scratch tree and the spill directory
 *   sh_dir at <scratch>/d, no governor, no quota) -> test -> sh_file_teardown
 *   (disarms every fault first, checks sh_dir's invariants and that it
 *   holds no file and no quota, closes and removes it, then the scratch
 *   tree).  A test that needs the
 *   directory with a governor or a quota takes it with sh_dir_with and
 *   gives it back with sh_dir_reopen before it ends.
 *
 * Threading
 *   The scratch and fixture functions change the environment and sh_dir:
 *   call them from the main thread with no other thread running.  The data
 *   and read-back helpers keep no state and may run in several threads at
 *   once; sh_read_back and sh_read_file use no cmocka assertion, so a
 *   worker thread can check a result and report it instead.  The other
 *   checks assert: main thread only.
 */
#ifndef MGOV_TEST_SPILL_HELPERS_H
#define MGOV_TEST_SPILL_HELPERS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faketree.h"
#include "memgov/governor.h"
#include "memgov/spill.h"

typedef struct sh_scratch {
    faketree_t ft;
    char *old_tmpdir; /* NULL: TMPDIR was unset */
} sh_scratch_t;

/* Creates the tree and points TMPDIR at it; asserts. */
void sh_scratch_init(sh_scratch_t *s);
/* Restores TMPDIR and removes the tree; asserts it was empty (every test
 * cleans up after itself). */
void sh_scratch_fini(sh_scratch_t *s);

/* Entries of a directory other than "." and ".."; -1 when it cannot be read. */
int sh_count_entries(const char *dir);
/* Entries of `dir` joined with ',' in sorted order, into buf. */
const char *sh_list(const char *dir, char *buf, size_t cap);

/* Reproducible bytes: random (incompressible) when `compressible` is false,
 * otherwise short runs of a small alphabet. */
void sh_fill(void *p, size_t n, uint64_t seed, bool compressible);
/* A small xorshift generator for tests. */
uint64_t sh_rand(uint64_t *state);

/* Writes `data` in pieces of at most `chunk` bytes (0: one call) and
 * finishes the file; asserts success. */
mgov_spill_file_t *sh_write_file(mgov_spill_dir_t *dir, const mgov_spill_options_t *opts,
                                 const void *data, size_t n, size_t chunk);

/* Reads the reader to its end with mgov_spill_read and mgov_spill_read_view
 * mixed (sizes drawn from `seed`, views up to `max_view` bytes, 0: no
 * views) and compares with `expect`.  Returns MGOV_OK when the data and
 * the end are right, the reader's error otherwise, or MGOV_ECANCELED for
 * wrong data.  Asserts nothing. */
int sh_read_back(mgov_spill_reader_t *r, const void *expect, size_t n, uint64_t seed,
                 size_t max_view);

/* ------------------------------------------------- the spill file fixture */

extern mgov_spill_dir_t *sh_dir; /* <scratch>/d; NULL while sh_dir_with has it */
extern char sh_dir_path[PATH_MAX];

/* cmocka setup and teardown of the spill file tests (see Lifecycle). */
int sh_file_setup(void **state);
int sh_file_teardown(void **state);
/* Closes sh_dir (one owner at a time) and opens its path again charged to
 * gov with `quota` bytes (0: the default); asserts. */
mgov_spill_dir_t *sh_dir_with(mgov_t *gov, uint64_t quota);
/* Closes d and opens sh_dir again as the fixture made it; asserts. */
void sh_dir_reopen(mgov_spill_dir_t *d);

/* mgov__spill_dir_check(d) is MGOV_OK: the directory's invariants hold (no
 * writer may be writing meanwhile).  sh_write_file, sh_assert_clean and the
 * fixture call it too. */
void sh_check_dir(mgov_spill_dir_t *d);
/* Nothing but the lock file in d, and nothing counted. */
void sh_assert_clean(mgov_spill_dir_t *d);
/* The governor uses `used_before` bytes again and counts no spill bytes. */
void sh_assert_gov_clean(mgov_t *gov, uint64_t used_before);

/* The codecs this build has, none first; returns how many (1 to 3). */
unsigned sh_codecs(mgov_codec_t out[3]);
/* The default options with `codec` and `block_size` (0: the default). */
mgov_spill_options_t sh_opts(mgov_codec_t codec, size_t block_size);
/* Opens a reader on f and reads it back (sh_read_back); asserts nothing. */
int sh_read_file(const mgov_spill_file_t *f, const void *expect, size_t n, uint64_t seed,
                 size_t max_view);
/* Opens a reader on fd (max_block 0: the default; gov may be NULL) and reads
 * it back; a reader that fails to open must leave its out-pointer NULL. */
int sh_read_fd(int fd, size_t max_block, mgov_t *gov, const void *expect, size_t n);
/* A memfd holding p[0, n); asserts. */
int sh_memfd_with(const void *p, size_t n);

#endif /* MGOV_TEST_SPILL_HELPERS_H */
