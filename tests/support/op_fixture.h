/* op_fixture.h - the fixture of the operator tests (tests/ops/): a scratch
 * TMPDIR for the governor's private spill directory, and looks into that
 * directory (its files, damaging one).
 *
 * Lifecycle: of_open (mkdtemp /tmp/mgov-test-<name>-<pid>-XXXXXX, TMPDIR
 * set to it, a governor with the budget and quota) -> test -> of_close
 * (asserts the governor counts nothing, the spill directory holds no file,
 * mgov_destroy is MGOV_OK, and the scratch directory is empty).
 *
 * Threading: main thread only (cmocka assertions, the environment).
 */
#ifndef MGOV_TEST_OP_FIXTURE_H
#define MGOV_TEST_OP_FIXTURE_H

#include <stdint.h>

#include "memgov/governor.h"

typedef struct of_env {
    char dir[256]; /* TMPDIR of the case */
    mgov_t *gov;
} of_env_t;

/* name tells the cases' directories apart; quota 0 is the default. */
void of_open(of_env_t *e, const char *name, uint64_t budget, uint64_t quota);
void of_close(of_env_t *e);

/* Files in the governor's spill directory other than its lock. */
unsigned of_spill_files(mgov_t *gov);
/* Paths of the spill files (spill-*.tmp) of the governor's directory. */
unsigned of_spill_paths(mgov_t *gov, char paths[][512], unsigned max);

typedef enum { OF_FLIP, OF_TRUNCATE } of_damage_t;
/* Flips a byte in the middle of the file, or cuts its last 100 bytes. */
void of_damage(const char *path, of_damage_t how);

#endif /* MGOV_TEST_OP_FIXTURE_H */
