/* fault_helpers.h - the teardown of test cases that arm faults
 * (sys/fault.h).  A failed assertion leaves a case at once, with whatever
 * it armed still armed; fh_disarm runs after every case and disarms every
 * kind, so one failure cannot make the cases after it fail too.  A group
 * teardown is not enough: it runs once, after the last case.
 *
 * Use FH_TEST(f) where cmocka_unit_test(f) would do; a case that has a
 * teardown of its own calls mgov__fault_disarm_all() first thing in it.
 *
 * Threading: main thread only, like every cmocka teardown.
 */
#ifndef MGOV_TEST_FAULT_HELPERS_H
#define MGOV_TEST_FAULT_HELPERS_H

/* cmocka teardown: mgov__fault_disarm_all(); always returns 0. */
int fh_disarm(void **state);

/* A test case with fh_disarm as its teardown (needs cmocka.h). */
#define FH_TEST(f) cmocka_unit_test_teardown(f, fh_disarm)

#endif /* MGOV_TEST_FAULT_HELPERS_H */
