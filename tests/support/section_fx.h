/* section_fx.h - the fixture of the section tests (tests/tier/): a scratch
 * TMPDIR, an event log and a governor whose spill directory is the
 * persistent "<scratch>/spill", so a test can list and damage its files;
 * plus the checks those tests share.
 *
 * Lifecycle: sfx_setup (cmocka setup: 64 MiB budget, default quota) ->
 * test -> sfx_teardown (disarms every fault first, removes the sections
 * left on disk, destroys the governor asserting no leak, removes the
 * scratch tree).  A test that remakes the governor (sfx_gov_make) destroys
 * the old one first.
 *
 * Threading: main thread only (cmocka assertions).
 */
#ifndef MGOV_TEST_SECTION_FX_H
#define MGOV_TEST_SECTION_FX_H

#include <stddef.h>
#include <stdint.h>

#include "gov_helpers.h"
#include "memgov/section.h"
#include "spill_helpers.h"
#include "sys/fault.h"

typedef struct sfx {
    sh_scratch_t scratch;
    char dir[4096];    /* the governor's spill directory */
    gh_evlog_t *log;   /* every event of the governor */
    mgov_t *gov;
} sfx_t;

int sfx_setup(void **state);
int sfx_teardown(void **state);

/* Makes f->gov with this budget and quota (0: defaults) on f->dir. */
void sfx_gov_make(sfx_t *f, uint64_t budget, uint64_t quota);
/* Opens a section; asserts success. */
mgov_section_t *sfx_open(sfx_t *f, const char *name, const mgov_section_config_t *cfg);
/* The section's bytes (through a pinned view) and length equal expect[0..n). */
void sfx_assert_content(mgov_section_t *s, const void *expect, size_t n);
/* The governor's spill_bytes. */
uint64_t sfx_spill_bytes(sfx_t *f);
/* Entries in the spill directory. */
int sfx_files(sfx_t *f);
/* The generation of section `name`'s file, from the listing (0: none). */
uint64_t sfx_generation(sfx_t *f, const char *name);
/* Flips the data byte at `off` of section `name`'s file of generation gen. */
void sfx_damage(sfx_t *f, const char *name, uint64_t gen, uint64_t off);
/* Arms `kind` to fail its n-th call (0-based) from now on, with err. */
void sfx_arm(mgov_fault_kind_t kind, long n, int err);
/* The files of the spill directory, sorted, as a string. */
void sfx_snapshot(sfx_t *f, char *buf, size_t cap);

#endif /* MGOV_TEST_SECTION_FX_H */
