/* spill_helpers.h - test helpers for the spill layer: a scratch directory
 * that stands in for $TMPDIR, directory listings, reproducible data, and
 * whole-file writes and read-backs with a mix of mgov_spill_read and
 * mgov_spill_read_view.
 *
 * Lifecycle
 *   sh_scratch_init (makes /tmp/memgov-spill-test-XXXXXX, sets TMPDIR to
 *   it) -> tests -> sh_scratch_fini (restores TMPDIR, removes the tree).
 *
 * Threading
 *   The scratch functions change the environment: call them from the main
 *   thread with no other thread running.  The data and read-back helpers
 *   keep no state and may run in several threads at once; they use
 *   cmocka's assertions only when `strict` (sh_read_back) is set, so a
 *   worker thread can check a result and report it instead.
 */
#ifndef MGOV_TEST_SPILL_HELPERS_H
#define MGOV_TEST_SPILL_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faketree.h"
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

#endif /* MGOV_TEST_SPILL_HELPERS_H */
