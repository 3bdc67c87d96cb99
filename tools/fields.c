/* fields.c - fields, strict numbers and datamash's number format (see
 * fields.h).
 *
 * The walk keeps one position: where the next field starts, or past the
 * end when none is left, so a line that ends with a separator (or, for
 * blanks, with a run of them) yields its last, empty, field before it
 * stops.
 *
 * Integers, the common case, are read here digit by digit with an overflow
 * check, without strtod.  Anything with a point or an exponent is checked
 * against the grammar first, then copied (a field is not NUL-terminated:
 * it may end where the input buffer ends) and read by strtold in the C
 * locale the tool runs in (it never calls setlocale), so the decimal point
 * is '.'.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

#define NUM_COPY 128 /* longer numbers are copied to the heap */

size_t cli_fields_split(const unsigned char *line, size_t len, unsigned char sep, cli_field_t *f,
                        size_t max)
{
    size_t n = 0;

    if (len == 0 || max == 0)
        return 0;
    for (;;) {
        const unsigned char *end = memchr(line, sep, len);
        size_t flen = end != NULL ? (size_t)(end - line) : len;
        f[n].p = line;
        f[n].len = flen;
        if (++n == max || end == NULL)
            return n;
        line += flen + 1;
        len -= flen + 1;
    }
}

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

void cli_fields_walk_init(cli_fields_walk_t *w, const unsigned char *line, size_t len, int sep)
{
    size_t at = 0;

    if (sep == CLI_SEP_BLANKS)
        while (at < len && is_blank(line[at]))
            at++;
    w->line = line;
    w->len = len;
    w->sep = sep;
    w->at = at < len ? at : len + 1; /* empty, or blanks only: no field */
}

bool cli_fields_walk_next(cli_fields_walk_t *w, cli_field_t *f)
{
    size_t at = w->at, end;

    if (at > w->len)
        return false;
    if (w->sep == CLI_SEP_BLANKS) {
        end = at;
        while (end < w->len && !is_blank(w->line[end]))
            end++;
    } else {
        const unsigned char *s = memchr(w->line + at, w->sep, w->len - at);
        end = s != NULL ? (size_t)(s - w->line) : w->len;
    }
    f->p = w->line + at;
    f->len = end - at;
    if (end == w->len) {
        w->at = w->len + 1;
    } else if (w->sep == CLI_SEP_BLANKS) {
        /* the run of blanks; at its end, if the line ends, one empty field */
        while (end < w->len && is_blank(w->line[end]))
            end++;
        w->at = end;
    } else {
        w->at = end + 1;
    }
    return true;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* The grammar of fields.h; *plain when it is digits with a sign at most. */
static bool number_syntax(const unsigned char *p, size_t len, bool *plain)
{
    size_t i = 0, digits = 0;

    *plain = true;
    if (i < len && (p[i] == '+' || p[i] == '-'))
        i++;
    while (i < len && is_digit(p[i]))
        i++, digits++;
    if (i < len && p[i] == '.') {
        *plain = false;
        i++;
        while (i < len && is_digit(p[i]))
            i++, digits++;
    }
    if (digits == 0)
        return false;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        size_t exp_digits = 0;
        *plain = false;
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        while (i < len && is_digit(p[i]))
            i++, exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    return i == len;
}

/* Digits with an optional sign, within int64_t. */
static bool parse_int(const unsigned char *p, size_t len, int64_t *out)
{
    bool neg = p[0] == '-';
    size_t i = (p[0] == '-' || p[0] == '+') ? 1 : 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;

    for (; i < len; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (limit - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v; /* 0 - 2^63 is INT64_MIN's bits */
    return true;
}

cli_num_kind_t cli_number_parse(const unsigned char *p, size_t len, int64_t *i, long double *ld)
{
    bool plain;

    if (!number_syntax(p, len, &plain))
        return CLI_NUM_BAD;
    if (plain && parse_int(p, len, i)) {
        *ld = (long double)*i; /* exact: a long double holds 64-bit integers on x86 */
        return CLI_NUM_INT;
    }

    char small[NUM_COPY], *text = small;
    if (len >= sizeof small && (text = malloc(len + 1)) == NULL)
        return CLI_NUM_RANGE; /* no memory to read a number this long: out of our range */
    memcpy(text, p, len);
    text[len] = '\0';
    long double v = strtold(text, NULL);
    if (text != small)
        free(text);
    /* beyond a double's range: out (underflow gives 0 or a denormal: kept) */
    if (isinf(v) || fabsl(v) > DBL_MAX)
        return CLI_NUM_RANGE;
    *ld = v;
    return CLI_NUM_DOUBLE;
}

size_t cli_format_i64(int64_t v, char *buf)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        tmp[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u != 0);
    if (v < 0)
        buf[len++] = '-';
    while (n > 0)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

size_t cli_format_double(double v, char *buf)
{
    int n = snprintf(buf, CLI_NUM_TEXT, "%.14g", v);
    return n > 0 ? (size_t)n : 0;
}

size_t cli_format_ldouble(long double v, char *buf)
{
    int n = snprintf(buf, CLI_NUM_TEXT, "%.14Lg", v);
    return n > 0 ? (size_t)n : 0;
}
