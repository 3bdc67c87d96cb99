/* fuzz_spill_reader.c - libFuzzer target for the spill file reader: spill
 * files come from disk, where anything can happen to them.
 *
 * The input is the file: it is written to a memfd and opened with
 * mgov_spill_reader_open_fd (max_block 1 MiB), then read to its end with
 * mgov_spill_read and mgov_spill_read_view mixed (sizes from a generator
 * seeded by the input's length, views up to 1.5 blocks of the default
 * sizes).  Checked properties: no crash, leak or sanitizer report; every
 * byte of a view is readable; views above max_block are MGOV_EINVAL and
 * no others; a reader never hands out more bytes than the file could hold
 * (one block per 25 bytes of it); at the end it stays at the end; after an
 * error it keeps failing with the same status; an input that opens has the
 * magic.
 *
 * Build: see fuzz/CMakeLists.txt (CC=clang cmake -S fuzz -B build-fuzz).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memgov/spill.h"

#define MAX_BLOCK ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz-spill", MFD_CLOEXEC)) < 0)
        abort();
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        abort();

    mgov_spill_reader_config_t cfg = MGOV_SPILL_READER_CONFIG_INIT;
    cfg.max_block = MAX_BLOCK;
    mgov_spill_reader_t *r = NULL;
    int rc = mgov_spill_reader_open_fd(fd, &cfg, &r);
    if (rc != MGOV_OK) {
        if (r != NULL || rc == MGOV_EINVAL)
            abort();
        return 0;
    }
    if (size < 8 || memcmp(data, "MGOVSPL", 8) != 0)
        abort();

    static unsigned char buf[MAX_BLOCK + 1];
    uint64_t s = size * 0x9e3779b97f4a7c15ull + 1, total = 0;
    for (int steps = 0; steps < 100000; steps++) {
        uint64_t v = next(&s);
        size_t n = (v & 3) == 0 ? (size_t)(v >> 8) % 16 : (size_t)(v >> 8) % (MAX_BLOCK + MAX_BLOCK / 2);
        if (v & 4) {
            const void *p = NULL;
            rc = mgov_spill_read_view(r, n, &p);
            if (rc == MGOV_EINVAL) {
                if (n <= MAX_BLOCK)
                    abort();
                continue;
            }
            if (rc == 1) {
                if (n && !p)
                    abort();
                if (n) /* touch every byte: ASan checks the view is real memory */
                    memcpy(buf, p, n);
                total += n;
                continue;
            }
            if (rc == 0) { /* at the end: stays there */
                size_t got = 1;
                if (mgov_spill_read(r, buf, 1, &got) != 0 || got != 0)
                    abort();
                break;
            }
        } else {
            if (n > sizeof buf)
                n = sizeof buf;
            size_t got = n + 1;
            rc = mgov_spill_read(r, buf, n, &got);
            if (rc == 0 || rc == 1) {
                if (got > n || (rc == 0) != (got == 0 && n > 0))
                    abort(); /* 0 says the end, and only the end */
                total += got;
                if (got < n) { /* at the end */
                    if (mgov_spill_read(r, buf, 1, &got) != 0 || got != 0)
                        abort();
                    break;
                }
                continue;
            }
        }
        /* an error: it sticks */
        size_t got;
        if (mgov_spill_read(r, buf, 1, &got) != rc)
            abort();
        break;
    }
    /* no more bytes than the file can hold: raw bytes are at most the
     * block size per block, and a block takes at least 25 bytes on disk */
    if (total > (uint64_t)(size / 25 + 1) * MAX_BLOCK)
        abort();
    mgov_spill_reader_close(r);
    return 0;
}
