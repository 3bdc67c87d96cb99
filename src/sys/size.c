/* sys/size.c - byte sizes for people: "1.5GiB", "256M", "75%" and back.
 *
 * Parsing is a strict hand-written scanner, not strtod: no locale, no
 * exponents, no NaN/inf, no signs, no whitespace except between the number
 * and its unit.  Grammar (units case-insensitive):
 *
 *     size  := digits [ "." digits ] " "* [ unit ]
 *     unit  := "B" | "K" | "KB" | "KiB" | ... "T" | "TB" | "TiB" | "%"
 *
 * Invariants:
 *   - Unit sizes are exact: the fraction of a unit is scaled by 2^(10*u)
 *     by repeated doubling of its decimal digits, so "1.5GiB" is exactly
 *     1610612736 and any fraction is rounded down, never up.  Only the first
 *     FRAC_DIGITS fractional digits are kept; that is still exact because
 *     k / 2^s (s <= 40) needs at most 40 decimals, so a dropped tail can
 *     never carry the product over an integer.
 *   - A percentage keeps PCT_DIGITS fractional digits (1e-8 of the base);
 *     "0% < p <= 100%" is checked on the full text, and a percentage too
 *     small to be represented (e.g. "0.0000001%") is rejected like "0%".
 *   - *out is written only on success.
 *
 * Formatting truncates as well (a size is never shown larger than it is):
 * 1023.99 KiB prints as "1023 KiB", UINT64_MAX as "15.9 EiB".
 *
 * No state, no locks.
 */
#include <stdio.h>
#include <string.h>

#include "memgov/size.h"

#define FRAC_DIGITS 48 /* >= 40 = the largest unit shift (TiB) */
#define PCT_DIGITS 6   /* percentages are held as parts per 10^8 */
#define PCT_SCALE 100000000u

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int equals_nocase(const char *a, const char *b)
{
    while (*a && *b) {
        if (to_lower(*a) != to_lower(*b))
            return 0;
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

/* The unit's shift in bits (0, 10, ... 40), -2 for "%", -1 if unknown.
 * An empty unit means bytes. */
static int unit_shift(const char *u)
{
    static const struct {
        const char *name;
        int shift;
    } units[] = {
        {"", 0},     {"b", 0},     {"k", 10},    {"kb", 10},  {"kib", 10},
        {"m", 20},   {"mb", 20},   {"mib", 20},  {"g", 30},   {"gb", 30},
        {"gib", 30}, {"t", 40},    {"tb", 40},   {"tib", 40}, {"%", -2},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (equals_nocase(u, units[i].name))
            return units[i].shift;
    }
    return -1;
}

/* floor(0.<digits> * 2^shift) for digits[0..n), exact.  Destroys digits. */
static uint64_t scale_fraction(unsigned char *digits, size_t n, int shift)
{
    uint64_t whole = 0;
    for (int s = 0; s < shift; s++) {
        unsigned carry = 0;
        for (size_t i = n; i-- > 0;) {
            unsigned d = digits[i] * 2u + carry;
            digits[i] = (unsigned char)(d % 10u);
            carry = d / 10u;
        }
        whole = whole * 2u + carry;
    }
    return whole;
}

/* floor(base * q / PCT_SCALE) without overflow; q <= PCT_SCALE. */
static uint64_t scale_percent(uint64_t base, uint64_t q)
{
    uint64_t hi = base / PCT_SCALE, lo = base % PCT_SCALE;
    return hi * q + lo * q / PCT_SCALE; /* lo * q < 10^16, hi * q <= base */
}

int mgov_size_parse(const char *text, uint64_t percent_base, uint64_t *out)
{
    if (text == NULL || out == NULL || !is_digit(*text))
        return MGOV_EINVAL;

    const char *p = text;
    uint64_t whole = 0;
    for (; is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (whole > (UINT64_MAX - d) / 10u)
            return MGOV_EINVAL;
        whole = whole * 10u + d;
    }

    unsigned char frac[FRAC_DIGITS];
    size_t nfrac = 0;          /* digits kept in frac */
    int frac_nonzero = 0;      /* any fractional digit, kept or not, is > 0 */
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return MGOV_EINVAL;
        for (; is_digit(*p); p++) {
            if (*p != '0')
                frac_nonzero = 1;
            if (nfrac < FRAC_DIGITS)
                frac[nfrac++] = (unsigned char)(*p - '0');
        }
    }
    while (*p == ' ')
        p++;
    if (*p == '\0' && p[-1] == ' ')
        return MGOV_EINVAL; /* "64 ": trailing space, no unit */

    int shift = unit_shift(p);
    if (shift == -1)
        return MGOV_EINVAL;

    if (shift == -2) {
        if (percent_base == 0 || whole > 100 || (whole == 100 && frac_nonzero))
            return MGOV_EINVAL;
        uint64_t q = whole * (PCT_SCALE / 100u);
        uint64_t place = PCT_SCALE / 100u;
        for (size_t i = 0; i < nfrac && i < PCT_DIGITS; i++) {
            place /= 10u;
            q += frac[i] * place;
        }
        if (q == 0)
            return MGOV_EINVAL; /* 0%, or below 1e-6 % */
        *out = scale_percent(percent_base, q);
        return MGOV_OK;
    }

    if (shift > 0 && whole > (UINT64_MAX >> shift))
        return MGOV_EINVAL;
    uint64_t bytes = whole << shift;
    uint64_t part = scale_fraction(frac, nfrac, shift); /* < 2^shift */
    if (bytes > UINT64_MAX - part)
        return MGOV_EINVAL;
    *out = bytes + part;
    return MGOV_OK;
}

/* floor(r * k / 2^b) exactly, for r < 2^b, b <= 60, k <= 100. */
static uint64_t muldiv_pow2(uint64_t r, uint64_t k, unsigned b)
{
    if (b < 32)
        return r * k >> b; /* r * k < 2^31 * 100 */
    uint64_t hi = r >> 32, lo = r & 0xffffffffu;
    /* r*k = hi*k*2^32 + lo*k; the low part's carry into 2^32 is all that
     * matters once the whole is divided by 2^b >= 2^32. */
    return (hi * k + (lo * k >> 32)) >> (b - 32);
}

size_t mgov_size_format(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;
    while (u < 6 && (bytes >> (10 * (u + 1))) != 0)
        u++;

    int n;
    if (u == 0) {
        n = snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    } else {
        unsigned b = 10 * u;
        uint64_t whole = bytes >> b;
        uint64_t rest = bytes & (((uint64_t)1 << b) - 1);
        if (whole >= 100)
            n = snprintf(buf, cap, "%llu %s", (unsigned long long)whole, names[u]);
        else if (whole >= 10)
            n = snprintf(buf, cap, "%llu.%01llu %s", (unsigned long long)whole,
                         (unsigned long long)muldiv_pow2(rest, 10, b), names[u]);
        else
            n = snprintf(buf, cap, "%llu.%02llu %s", (unsigned long long)whole,
                         (unsigned long long)muldiv_pow2(rest, 100, b), names[u]);
    }
    return n < 0 ? 0 : (size_t)n;
}
