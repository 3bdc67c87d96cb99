/* test_size.c - mgov_size_parse and mgov_size_format: every accepted form,
 * every rejection (with *out untouched), exact fractions and percentages,
 * and snprintf-like truncation of the formatter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "memgov/size.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define TiB ((uint64_t)1 << 40)
#define SENTINEL ((uint64_t)0xdeadbeefcafef00dULL)

static uint64_t parse_ok(const char *text, uint64_t base)
{
    uint64_t v = SENTINEL;
    int rc = mgov_size_parse(text, base, &v);
    if (rc != MGOV_OK)
        fail_msg("\"%s\" rejected (%d)", text, rc);
    return v;
}

static void expect_reject(const char *text, uint64_t base)
{
    uint64_t v = SENTINEL;
    int rc = mgov_size_parse(text, base, &v);
    if (rc != MGOV_EINVAL)
        fail_msg("\"%s\" gave %d (value %llu), want MGOV_EINVAL", text ? text : "(null)",
                 rc, (unsigned long long)v);
    assert_true(v == SENTINEL); /* untouched on error */
}

static void test_plain_bytes(void **state)
{
    (void)state;
    assert_true(parse_ok("0", 0) == 0);
    assert_true(parse_ok("4096", 0) == 4096);
    assert_true(parse_ok("007", 0) == 7);
    assert_true(parse_ok("4096B", 0) == 4096);
    assert_true(parse_ok("4096 b", 0) == 4096);
    assert_true(parse_ok("18446744073709551615", 0) == UINT64_MAX);
    assert_true(parse_ok("18446744073709551615B", 0) == UINT64_MAX);
    assert_true(parse_ok("1.9", 0) == 1); /* fractions of a byte round down */
}

static void test_units(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want;
    } cases[] = {
        {"64K", 64 * KiB},   {"64KB", 64 * KiB},   {"64KiB", 64 * KiB},
        {"256M", 256 * MiB}, {"256MB", 256 * MiB}, {"256MiB", 256 * MiB},
        {"3G", 3 * GiB},     {"3GB", 3 * GiB},     {"3GiB", 3 * GiB},
        {"2T", 2 * TiB},     {"2TB", 2 * TiB},     {"2TiB", 2 * TiB},
        {"64 K", 64 * KiB},  {"64   MiB", 64 * MiB}, {"1B", 1},
        {"16777215T", 16777215 * TiB},
        {"17179869183G", 17179869183 * GiB},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t got = parse_ok(cases[i].text, 0);
        if (got != cases[i].want)
            fail_msg("%s: got %llu want %llu", cases[i].text, (unsigned long long)got,
                     (unsigned long long)cases[i].want);
    }
}

static void test_case_insensitive(void **state)
{
    (void)state;
    const char *forms[] = {"1k", "1K", "1kb", "1Kb", "1kB", "1KB", "1kib", "1KIB", "1KiB", "1kIb"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        assert_true(parse_ok(forms[i], 0) == KiB);
    assert_true(parse_ok("1gib", 0) == GiB);
    assert_true(parse_ok("1mB", 0) == MiB);
    assert_true(parse_ok("1tIb", 0) == TiB);
    assert_true(parse_ok("5b", 0) == 5);
}

static void test_fractions(void **state)
{
    (void)state;
    assert_true(parse_ok("1.5GiB", 0) == 1610612736u);
    assert_true(parse_ok("1.5G", 0) == 3 * GiB / 2);
    assert_true(parse_ok("0.5K", 0) == 512);
    assert_true(parse_ok("0.25 MiB", 0) == 256 * KiB);
    assert_true(parse_ok("1.0001K", 0) == 1024); /* 1024.1024 rounds down */
    assert_true(parse_ok("0.1K", 0) == 102);     /* 102.4 */
    assert_true(parse_ok("0.999K", 0) == 1022);  /* 1022.976 */
    assert_true(parse_ok("2.75T", 0) == 11 * TiB / 4);
    /* One byte below a whole unit, however many nines: never rounds up. */
    assert_true(parse_ok("0.99999999999999999999999999999999999999999999999999999999K", 0) ==
                1023);
    /* The exact value 1023.5 -> 1023; beyond 48 digits is irrelevant. */
    assert_true(parse_ok("0.99951171875K", 0) == 1023);
    assert_true(parse_ok("0.999511718750000000000000000000000000000000000000000001K", 0) ==
                1023);
    /* Largest fraction that still fits. */
    assert_true(parse_ok("15.99999999999999999999999999T", 0) == 16 * TiB - 1);
}

static void test_percent(void **state)
{
    (void)state;
    assert_true(parse_ok("75%", 4 * GiB) == 3 * GiB);
    assert_true(parse_ok("100%", 4 * GiB) == 4 * GiB);
    assert_true(parse_ok("100.000%", 12345) == 12345);
    assert_true(parse_ok("50 %", 1001) == 500); /* rounds down */
    assert_true(parse_ok("1%", 100) == 1);
    assert_true(parse_ok("1%", 99) == 0);
    assert_true(parse_ok("12.5%", 800) == 100);
    assert_true(parse_ok("0.000001%", 100000000) == 1);
    assert_true(parse_ok("100%", UINT64_MAX) == UINT64_MAX);
    assert_true(parse_ok("50%", UINT64_MAX) == UINT64_MAX / 2);
    assert_true(parse_ok("99.9%", 1000) == 999);
}

static void test_rejections(void **state)
{
    (void)state;
    const char *bad[] = {
        "", " ", "  ", "-1", "+1", "12X", "1.5.5", "1e999", "1e3", "nan", "NaN", "inf",
        "infinity", "0x10", "18446744073709551616", "99999999999999999999999",
        "17179869184GiB", "16777216T", "18446744073709551615K", " 1", "1 ", "1K ", "1 K B",
        "1KiBB", "1Ki", "1P", "1.", ".5", "1.K", "K", "%", "1%%", "1,5G", "1_000",
        "1\n", "1\t", "\t1", "1.5.G", "1-", "--1", "1 2",
        "1.5GiB\x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(bad[i], 1000);
    expect_reject(NULL, 1000);
    /* out == NULL */
    assert_int_equal(mgov_size_parse("1", 0, NULL), MGOV_EINVAL);
}

static void test_percent_rejections(void **state)
{
    (void)state;
    expect_reject("0%", 1000);
    expect_reject("0.0%", 1000);
    expect_reject("0.0000001%", 1000); /* below the resolution: like 0% */
    expect_reject("101%", 1000);
    expect_reject("100.0001%", 1000);
    expect_reject("100.00000000000000001%", 1000);
    expect_reject("1000%", 1000);
    expect_reject("99999999999999999999999%", 1000);
    expect_reject("5%", 0);
    expect_reject("100%", 0);
    expect_reject("-5%", 1000);
}

static void expect_format(uint64_t bytes, const char *want)
{
    char buf[64];
    memset(buf, 'x', sizeof buf);
    size_t n = mgov_size_format(bytes, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format(void **state)
{
    (void)state;
    expect_format(0, "0 B");
    expect_format(1, "1 B");
    expect_format(512, "512 B");
    expect_format(1023, "1023 B");
    expect_format(1024, "1.00 KiB");
    expect_format(1536, "1.50 KiB");
    expect_format(1535, "1.49 KiB"); /* rounded down */
    expect_format(10 * KiB, "10.0 KiB");
    expect_format(100 * KiB, "100 KiB");
    expect_format(MiB - 1, "1023 KiB");
    expect_format(256 * MiB, "256 MiB");
    expect_format(GiB, "1.00 GiB");
    expect_format(1610612736u, "1.50 GiB");
    expect_format(10 * GiB, "10.0 GiB");
    expect_format(10 * GiB + 900 * MiB, "10.8 GiB");
    expect_format(TiB, "1.00 TiB");
    expect_format(TiB + 10995116277u, "1.00 TiB"); /* just below 1.01 TiB */
    expect_format(TiB + 10995116278u, "1.01 TiB"); /* just at it */
    expect_format(TiB << 10, "1.00 PiB");
    expect_format(TiB << 20, "1.00 EiB");
    expect_format((TiB << 20) * 15 + (TiB << 19), "15.5 EiB");
    expect_format(UINT64_MAX, "15.9 EiB");
}

static void test_format_truncation(void **state)
{
    (void)state;
    /* cap 0 with NULL buf: just the length. */
    assert_int_equal(mgov_size_format(10 * GiB, NULL, 0), strlen("10.0 GiB"));
    assert_int_equal(mgov_size_format(0, NULL, 0), strlen("0 B"));
    assert_int_equal(mgov_size_format(UINT64_MAX, NULL, 0), strlen("15.9 EiB"));

    char buf[16];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(mgov_size_format(10 * GiB, buf, 0), 8);
    assert_true(buf[0] == 'x'); /* cap 0 writes nothing */

    memset(buf, 'x', sizeof buf);
    assert_int_equal(mgov_size_format(10 * GiB, buf, 1), 8);
    assert_string_equal(buf, "");
    assert_true(buf[1] == 'x');

    memset(buf, 'x', sizeof buf);
    assert_int_equal(mgov_size_format(10 * GiB, buf, 5), 8);
    assert_string_equal(buf, "10.0");
    assert_true(buf[5] == 'x');

    memset(buf, 'x', sizeof buf);
    assert_int_equal(mgov_size_format(10 * GiB, buf, 8), 8);
    assert_string_equal(buf, "10.0 Gi"); /* one short: NUL takes the last byte */

    memset(buf, 'x', sizeof buf);
    assert_int_equal(mgov_size_format(10 * GiB, buf, 9), 8);
    assert_string_equal(buf, "10.0 GiB");
}

static void test_round_trip(void **state)
{
    (void)state;
    /* What the formatter prints parses back to at most the original value
     * (up to TiB: the parser takes no PiB/EiB). */
    const uint64_t values[] = {0,       1,       1023,     1024,        1536,       MiB - 1,
                               MiB + 1, 3 * GiB, 10 * GiB, 7 * TiB + 5, 1000 * TiB};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[32];
        mgov_size_format(values[i], buf, sizeof buf);
        uint64_t back = parse_ok(buf, 0);
        assert_true(back <= values[i]);
        assert_true(back >= values[i] - values[i] / 100); /* 3 digits: within 1% */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_bytes),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_fractions),
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_percent_rejections),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_truncation),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
