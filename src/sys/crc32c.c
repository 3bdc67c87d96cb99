/* sys/crc32c.c - CRC-32C in software and with SSE4.2 (see crc32c.h).
 *
 * Both paths work on the raw register (no pre- or post-inversion; the public
 * function adds them), so they can be mixed and compared.
 *
 * Software: slicing by 8.  table[0] is the classic byte-at-a-time table;
 * table[k][b] is the register change of byte b followed by k zero bytes, so
 * eight bytes are folded with eight independent lookups.
 *
 * Hardware: the crc32 instruction takes 8 bytes per call but has a latency
 * of 3 cycles and a throughput of 1, so one dependent chain runs at a third
 * of its speed.  Long inputs are cut into three equal lanes computed in
 * parallel and then joined: the register is linear over GF(2), so
 *
 *     crc(A || B) = shift(crc(A), |B|) ^ crc0(B)
 *
 * where crc0 starts from 0 and shift(r, n) is the register after n zero
 * bytes.  shift for a fixed n is itself linear in r: four 256-entry tables,
 * one per byte of r, built once from table[0].  Two lane lengths (8 KiB and
 * 256 bytes) keep the join cost small for both large and medium buffers.
 *
 * Initialisation (tables, CPU check) runs once under pthread_once; after it
 * everything is read-only.
 */
#include <pthread.h>
#include <string.h>

#include "sys/crc32c.h"

#define POLY 0x82f63b78u

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_HW 1
#include <nmmintrin.h>
#endif

static uint32_t table[8][256];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool use_hw;

static uint32_t sw_update(uint32_t c, const unsigned char *p, size_t n)
{
    while (n > 0 && ((uintptr_t)p & 7)) {
        c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        n--;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
            table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
#endif
    while (n-- > 0)
        c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#ifdef HAVE_HW
#define LONG_LANE 8192
#define SHORT_LANE 256

static uint32_t shift_long[4][256], shift_short[4][256];

/* shift tables for `len` zero bytes: column i is the register after len
 * zero bytes starting from 1 << i. */
static void shift_build(uint32_t tab[4][256], size_t len)
{
    uint32_t col[32];
    for (int i = 0; i < 32; i++) {
        uint32_t c = (uint32_t)1 << i;
        for (size_t k = 0; k < len; k++)
            c = table[0][c & 0xff] ^ (c >> 8);
        col[i] = c;
    }
    for (int k = 0; k < 4; k++)
        for (unsigned b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int j = 0; j < 8; j++)
                if (b & (1u << j))
                    v ^= col[8 * k + j];
            tab[k][b] = v;
        }
}

static inline uint32_t shift(const uint32_t tab[4][256], uint32_t c)
{
    return tab[0][c & 0xff] ^ tab[1][(c >> 8) & 0xff] ^ tab[2][(c >> 16) & 0xff] ^
           tab[3][c >> 24];
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Three lanes of `lane` bytes each, joined; p is 8-byte aligned. */
__attribute__((target("sse4.2"))) static inline uint64_t
hw_lanes(uint64_t c0, const unsigned char **pp, size_t *np, size_t lane,
         const uint32_t tab[4][256])
{
    const unsigned char *p = *pp;
    size_t n = *np;
    while (n >= 3 * lane) {
        uint64_t c1 = 0, c2 = 0;
        const unsigned char *end = p + lane;
        do {
            c0 = _mm_crc32_u64(c0, load64(p));
            c1 = _mm_crc32_u64(c1, load64(p + lane));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * lane));
            p += 8;
        } while (p < end);
        c0 = shift(tab, (uint32_t)c0) ^ (uint32_t)c1;
        c0 = shift(tab, (uint32_t)c0) ^ (uint32_t)c2;
        p += 2 * lane;
        n -= 3 * lane;
    }
    *pp = p;
    *np = n;
    return c0;
}

__attribute__((target("sse4.2"))) static uint32_t hw_update(uint32_t c, const unsigned char *p,
                                                             size_t n)
{
    while (n > 0 && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8(c, *p++);
        n--;
    }
    uint64_t c0 = c;
    c0 = hw_lanes(c0, &p, &n, LONG_LANE, shift_long);
    c0 = hw_lanes(c0, &p, &n, SHORT_LANE, shift_short);
    while (n >= 8) {
        c0 = _mm_crc32_u64(c0, load64(p));
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c0;
    while (n-- > 0)
        c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif /* HAVE_HW */

static void init(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (c & 1 ? POLY : 0);
        table[0][b] = c;
    }
    for (unsigned b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
#ifdef HAVE_HW
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        shift_build(shift_long, LONG_LANE);
        shift_build(shift_short, SHORT_LANE);
        use_hw = true;
    }
#endif
}

uint32_t mgov__crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&once, init);
#ifdef HAVE_HW
    if (use_hw)
        return ~hw_update(~crc, p, n);
#endif
    return ~sw_update(~crc, p, n);
}

uint32_t mgov__crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&once, init);
    return ~sw_update(~crc, p, n);
}

bool mgov__crc32c_hw(void)
{
    pthread_once(&once, init);
    return use_hw;
}
