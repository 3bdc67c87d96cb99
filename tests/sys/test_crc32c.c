/* test_crc32c.c - CRC-32C (src/sys/crc32c.c): the standard check value and
 * other known vectors, chaining, and the hardware path against the table
 * path on random data of every length up to 1000 bytes at every alignment,
 * and on long buffers that take the three-lane path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sys/crc32c.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)next_rand();
}

static void test_known_vectors(void **state)
{
    (void)state;
    assert_int_equal(mgov__crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(mgov__crc32c_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(mgov__crc32c(0, "", 0), 0);
    assert_int_equal(mgov__crc32c(0, NULL, 0), 0);

    /* RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xff, ascending, descending */
    unsigned char buf[32];
    memset(buf, 0, sizeof buf);
    assert_int_equal(mgov__crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(mgov__crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    assert_int_equal(mgov__crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    assert_int_equal(mgov__crc32c(0, buf, 32), 0x113FDB5Cu);
}

static void test_chaining(void **state)
{
    (void)state;
    unsigned char buf[70000];
    fill_random(buf, sizeof buf);
    uint32_t whole = mgov__crc32c(0, buf, sizeof buf);
    const size_t cuts[] = { 0, 1, 7, 8, 9, 255, 4096, 24575, 24576, 30000, 69999, 70000 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t c = cuts[i];
        assert_int_equal(mgov__crc32c(mgov__crc32c(0, buf, c), buf + c, sizeof buf - c), whole);
        assert_int_equal(mgov__crc32c_sw(mgov__crc32c_sw(0, buf, c), buf + c, sizeof buf - c),
                         whole);
    }
    assert_int_equal(mgov__crc32c(0, "1234", 4) != mgov__crc32c(0, "1243", 4), 1);
}

static void test_hw_matches_sw(void **state)
{
    (void)state;
    if (!mgov__crc32c_hw())
        printf("note: no SSE4.2 here: both paths are the table path\n");
    static unsigned char buf[1000 + 16];
    for (int round = 0; round < 4; round++) {
        fill_random(buf, sizeof buf);
        for (size_t off = 0; off < 16; off++)
            for (size_t n = 0; n <= 1000; n++) {
                uint32_t seed = (uint32_t)next_rand();
                assert_int_equal(mgov__crc32c(seed, buf + off, n), mgov__crc32c_sw(seed, buf + off, n));
            }
    }
}

static void test_long_buffers(void **state)
{
    (void)state;
    size_t cap = 200000;
    unsigned char *buf = malloc(cap + 8);
    assert_non_null(buf);
    fill_random(buf, cap + 8);
    /* around the lane sizes: 3 x 8 KiB and 3 x 256 bytes, plus the tails */
    const size_t lens[] = { 767, 768, 769, 24575, 24576, 24577, 24576 + 768, 24576 + 775,
                            49152 + 767, 100000, 199999, 200000 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        for (size_t off = 0; off < 8; off++)
            assert_int_equal(mgov__crc32c(0, buf + off, lens[i]), mgov__crc32c_sw(0, buf + off, lens[i]));
    for (int k = 0; k < 50; k++) {
        size_t n = (size_t)(next_rand() % cap), off = (size_t)(next_rand() % 8);
        uint32_t seed = (uint32_t)next_rand();
        assert_int_equal(mgov__crc32c(seed, buf + off, n), mgov__crc32c_sw(seed, buf + off, n));
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_hw_matches_sw),
        cmocka_unit_test(test_long_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
