/* fields.h - delimited text as `memgov groupby` and `memgov join` read
 * and write it: a line split into fields at a one-byte separator or, as
 * join(1) splits it without -t, at runs of blanks; a field read strictly
 * as a number, and numbers written as GNU datamash 1.7 writes them.
 *
 * A field is a pointer into the line and a length: nothing is copied.  A
 * number is, with nothing around or inside it (no space, no base prefix,
 * no "inf" or "nan"):
 *
 *   [+-] digits [. digits] [(e|E) [+-] digits]      or   [+-] . digits [exponent]
 *
 * Without a point or an exponent, and within signed 64 bits, it is an
 * integer (CLI_NUM_INT: both *i and *ld are set); otherwise it is read as
 * a long double, as datamash reads every number (CLI_NUM_DOUBLE: *ld,
 * strtold's correctly rounded value); beyond the range of a double it is
 * CLI_NUM_RANGE.  The parser never reads past the field.
 *
 * Output: datamash prints every number with printf's "%.14Lg" from a long
 * double; cli_format_double and cli_format_ldouble do the same from a
 * double and a long double, cli_format_i64 prints an integer exactly
 * (the same text as datamash's below 10^14 in magnitude).
 */
#ifndef MEMGOV_TOOLS_FIELDS_H
#define MEMGOV_TOOLS_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_field {
    const unsigned char *p;
    size_t len;
} cli_field_t;

/* Splits line[0..len) at sep into fields f[0..max): returns how many the
 * line has, counted up to max (a line with more returns max; the last one
 * stored then runs to the next sep only).  An empty line has no field, as
 * for datamash and awk; any other line has one more than its seps. */
size_t cli_fields_split(const unsigned char *line, size_t len, unsigned char sep, cli_field_t *f,
                        size_t max);

/* A walk over a line's fields, one at a time, with no array: for lines of
 * any number of fields.  With a separator byte (0..255) the fields are
 * those of cli_fields_split.  With CLI_SEP_BLANKS they are join(1)'s
 * without -t (coreutils' xfields): blanks (space and tab) before the first
 * field are skipped, a run of blanks separates two fields, and a line that
 * ends with blanks has one more, empty, field after them; a line of blanks
 * only, or an empty one, has no field.
 *
 *   cli_fields_walk_init(&w, line, len, sep);
 *   while (cli_fields_walk_next(&w, &f)) ... f.p, f.len ...
 */
#define CLI_SEP_BLANKS 256

typedef struct cli_fields_walk {
    const unsigned char *line;
    size_t len;
    size_t at;   /* where the next field starts; > len: no field left */
    int sep;     /* a byte, or CLI_SEP_BLANKS */
} cli_fields_walk_t;

void cli_fields_walk_init(cli_fields_walk_t *w, const unsigned char *line, size_t len, int sep);
/* The next field into *f: true, or false when there is none left. */
bool cli_fields_walk_next(cli_fields_walk_t *w, cli_field_t *f);

typedef enum cli_num_kind {
    CLI_NUM_INT,    /* *i and *ld */
    CLI_NUM_DOUBLE, /* *ld */
    CLI_NUM_BAD,    /* not a number (an empty field included) */
    CLI_NUM_RANGE,  /* a number beyond the range of a double */
} cli_num_kind_t;

cli_num_kind_t cli_number_parse(const unsigned char *p, size_t len, int64_t *i, long double *ld);

#define CLI_NUM_TEXT 48 /* room for any number these write, NUL included */

/* Each writes the text and a NUL into buf (CLI_NUM_TEXT bytes) and
 * returns its length. */
size_t cli_format_i64(int64_t v, char *buf);
size_t cli_format_double(double v, char *buf);
size_t cli_format_ldouble(long double v, char *buf);

#endif /* MEMGOV_TOOLS_FIELDS_H */
