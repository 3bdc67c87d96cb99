/* fuzz_size_parse.c - libFuzzer target for mgov_size_parse (sizes come from
 * users: MEMGOV_BUDGET, config files, the command line).
 *
 * The input bytes become a NUL-terminated string (an embedded NUL just ends
 * it early); the first 8 bytes, when present, also pick the percent base so
 * percentages are exercised with every kind of base.  Checked properties:
 * no crash or sanitizer report; *out is untouched on error; success implies
 * the text started with a digit; a percentage never exceeds its base; and
 * a parsed value always formats, with snprintf semantics at every cap.
 *
 * Build: clang -fsanitize=fuzzer,address -Iinclude -Isrc -D_GNU_SOURCE \
 *            fuzz/fuzz_size_parse.c src/sys/size.c -o /tmp/fz
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memgov/size.h"

#define SENTINEL ((uint64_t)0x0123456789abcdefULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t base = 0;
    if (size >= 8)
        memcpy(&base, data, 8);

    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    /* Twice: once with the bytes' base, once with base 0 (no percentages). */
    const uint64_t bases[2] = {base, 0};
    for (int k = 0; k < 2; k++) {
        uint64_t out = SENTINEL;
        int rc = mgov_size_parse(text, bases[k], &out);
        if (rc != MGOV_OK) {
            if (rc != MGOV_EINVAL || out != SENTINEL)
                abort();
            continue;
        }
        if (text[0] < '0' || text[0] > '9')
            abort();
        if (strchr(text, '%') != NULL && (bases[k] == 0 || out > bases[k]))
            abort();

        char buf[64];
        size_t n = mgov_size_format(out, buf, sizeof buf);
        if (n == 0 || n >= sizeof buf || strlen(buf) != n)
            abort();
        for (size_t cap = 0; cap <= n + 1; cap++) {
            char small[64];
            memset(small, 'x', sizeof small);
            if (mgov_size_format(out, cap ? small : NULL, cap) != n)
                abort();
            if (cap > 0 && (strlen(small) != (cap - 1 < n ? cap - 1 : n) ||
                            memcmp(small, buf, strlen(small)) != 0))
                abort();
        }
    }
    free(text);
    return 0;
}
