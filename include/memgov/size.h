/* memgov/size.h - parsing and formatting byte sizes for people.
 *
 * Accepted by mgov_size_parse (case-insensitive suffixes, optional spaces
 * between number and unit):
 *   "4096"          plain bytes
 *   "64K" "64KB" "64KiB"        binary kibibytes (x 1024)
 *   "256M" "256MB" "256MiB"     binary mebibytes
 *   "1.5G" "1.5GB" "1.5GiB"     fractions allowed; the result is rounded down
 *   "2T" "2TiB"                 tebibytes;  "B" alone means bytes
 *   "75%"           percent of a base the caller gives (for memgov: the memory
 *                   the process may use); 0% < value <= 100%
 * All units are powers of 1024: "MB" is a MiB, as in most database configs.
 * Rejected with MGOV_EINVAL: empty or NULL text, negative numbers, unknown
 * units, trailing garbage, NaN/inf, and any value that does not fit in 64 bits.
 *
 * Thread safety: every function here is thread-safe (no shared state).
 */
#ifndef MEMGOV_SIZE_H
#define MEMGOV_SIZE_H

#include "memgov/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parses `text` into *out (bytes).  `percent_base` is what "100%" means; a
 * percentage with percent_base == 0 is MGOV_EINVAL.  On error *out is left
 * untouched. */
MGOV_API int mgov_size_parse(const char *text, uint64_t percent_base, uint64_t *out);

/* Formats `bytes` for people into buf ("512 B", "1.50 KiB", "256 MiB",
 * "1.00 GiB" ...: three significant digits, rounded down, binary units).
 * Behaves like snprintf: returns the length the full text needs (excluding
 * the NUL) and writes at most cap bytes including the NUL; buf may be NULL
 * when cap is 0. */
MGOV_API size_t mgov_size_format(uint64_t bytes, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_SIZE_H */
