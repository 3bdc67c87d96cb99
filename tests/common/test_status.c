/* test_status.c - status codes: every code of MGOV_STATUS_MAP has its own
 * message and name, unknown values get the fallbacks, codes are negative and
 * distinct, and the library's version matches the header's.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "memgov/common.h"

typedef struct {
    int code;
    const char *name;
    const char *msg;
} code_t;

static const code_t codes[] = {
#define XX(name, value, msg) { value, #name, msg },
    MGOV_STATUS_MAP(XX)
#undef XX
};
#define N_CODES (sizeof codes / sizeof codes[0])

static void test_every_code_has_message_and_name(void **state)
{
    (void)state;
    assert_int_equal(N_CODES, 16);
    for (size_t i = 0; i < N_CODES; i++) {
        assert_string_equal(mgov_strerror(codes[i].code), codes[i].msg);
        assert_string_equal(mgov_status_name(codes[i].code), codes[i].name);
        assert_string_not_equal(mgov_strerror(codes[i].code), "unknown status");
        assert_string_not_equal(mgov_status_name(codes[i].code), "UNKNOWN");
    }
}

static void test_known_values(void **state)
{
    (void)state;
    assert_string_equal(mgov_strerror(MGOV_OK), "success");
    assert_string_equal(mgov_status_name(MGOV_OK), "OK");
    assert_string_equal(mgov_status_name(MGOV_EBUDGET), "EBUDGET");
    assert_string_equal(mgov_strerror(MGOV_EBUDGET), "does not fit in the memory budget now");
    assert_string_equal(mgov_status_name(MGOV_ECANCELED), "ECANCELED");
    assert_string_equal(mgov_status_name(-13), "ECANCELED");
    assert_string_equal(mgov_strerror(MGOV_ELIMIT),
                        "can never fit: over a region's limit or the budget");
    assert_string_equal(mgov_status_name(MGOV_ENOTSUP), "ENOTSUP");
    assert_string_equal(mgov_status_name(MGOV_ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(mgov_status_name(-14), "EOVERFLOW");
    assert_string_equal(mgov_status_name(-15), "ELEAKED");
}

static void test_codes_negative_and_distinct(void **state)
{
    (void)state;
    assert_int_equal(MGOV_OK, 0);
    for (size_t i = 0; i < N_CODES; i++) {
        if (codes[i].code != MGOV_OK)
            assert_true(codes[i].code < 0);
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i].code, codes[j].code);
            assert_string_not_equal(codes[i].name, codes[j].name);
            assert_string_not_equal(codes[i].msg, codes[j].msg);
        }
    }
}

static void test_unknown_values(void **state)
{
    (void)state;
    const int unknown[] = { 1, 2, 14, -16, -100, 100, INT_MIN, INT_MAX, -1000000 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(mgov_strerror(unknown[i]), "unknown status");
        assert_string_equal(mgov_status_name(unknown[i]), "UNKNOWN");
    }
}

static void test_strings_are_static(void **state)
{
    (void)state;
    /* The same pointer every time: static strings, nothing to free. */
    assert_ptr_equal(mgov_strerror(MGOV_EIO), mgov_strerror(MGOV_EIO));
    assert_ptr_equal(mgov_status_name(MGOV_EIO), mgov_status_name(MGOV_EIO));
    assert_ptr_equal(mgov_version(), mgov_version());
}

static void test_version(void **state)
{
    (void)state;
    assert_non_null(mgov_version());
    assert_string_equal(mgov_version(), MGOV_VERSION_STRING);
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", MGOV_VERSION_MAJOR, MGOV_VERSION_MINOR,
             MGOV_VERSION_PATCH);
    assert_string_equal(mgov_version(), expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_message_and_name),
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_codes_negative_and_distinct),
        cmocka_unit_test(test_unknown_values),
        cmocka_unit_test(test_strings_are_static),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
