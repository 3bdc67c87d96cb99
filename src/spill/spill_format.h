/* spill/spill_format.h - internal: the on-disk layout of a spill file, and
 * the functions that encode and check its fixed-size records.
 *
 * Every integer is little-endian, fixed width; docs/spill.md has the same
 * tables.  A file is
 *
 *   +--------+--------+---------+--------+---------+-----+--------+--------+
 *   | file   | block  | block 0 | block  | block 1 | ... | end    | footer |
 *   | header | header | data    | header | data    |     | marker |        |
 *   +--------+--------+---------+--------+---------+-----+--------+--------+
 *     32       24       stored_len                         24       40
 *
 * File header (32 bytes)
 *   0   8  magic        "MGOVSPL\0"
 *   8   2  version      1
 *   10  1  codec        0 none, 1 lz4, 2 zstd (the codec of compressed blocks)
 *   11  1  flags        0 (no flag is defined; anything else is corrupt)
 *   12  4  block_size   most raw bytes in one block, 4 KiB..64 MiB
 *   16  12 reserved     0
 *   28  4  crc32c       of bytes 0..27
 *
 * Block header (24 bytes), followed by stored_len bytes of data
 *   0   4  raw_len      1..block_size: the block's bytes once decoded
 *   4   4  stored_len   bytes that follow: == raw_len when stored raw,
 *                       1..raw_len-1 when compressed (compression that does
 *                       not shrink the block is not used), so never more
 *                       than the codec's bound
 *   8   1  codec        0: stored raw; else the file's codec
 *   9   3  reserved     0
 *   12  4  seq          the block's index in the file (low 32 bits)
 *   16  4  data_crc     crc32c of the stored bytes
 *   20  4  crc32c       of bytes 0..19
 *
 * End marker: a block header with raw_len 0, stored_len 0, codec 0, seq =
 * the block count, data_crc 0 (the crc32c of nothing), then
 *
 * Footer (40 bytes), the last bytes of the file
 *   0   8  magic        "MGOVEND\0"
 *   8   8  blocks       number of blocks
 *   16  8  raw_bytes    sum of raw_len
 *   24  8  stored_bytes sum of stored_len
 *   32  4  reserved     0
 *   36  4  crc32c       of bytes 0..35
 *
 * So a file's size is exactly 32 + 24 * blocks + stored_bytes + 24 + 40:
 * a reader checks that against the file before reading any block, and
 * every block against the totals still unread, so no length read from the
 * file can make it allocate more than the block size it accepted.
 *
 * Every byte of a file is covered by a checksum: a single changed byte is
 * always detected.
 */
#ifndef MGOV_SPILL_FORMAT_H
#define MGOV_SPILL_FORMAT_H

#include <stdint.h>
#include <string.h>

#include "memgov/common.h"
#include "sys/crc32c.h"
#include "sys/le.h"

#define MGOV__SPILL_MAGIC "MGOVSPL"  /* + its NUL: 8 bytes */
#define MGOV__SPILL_END_MAGIC "MGOVEND"
#define MGOV__SPILL_VERSION 1
#define MGOV__SPILL_FILE_HDR 32
#define MGOV__SPILL_BLOCK_HDR 24
#define MGOV__SPILL_FOOTER 40
#define MGOV__SPILL_MIN_BLOCK ((size_t)4 << 10)
#define MGOV__SPILL_MAX_BLOCK ((size_t)64 << 20)
#define MGOV__SPILL_DEFAULT_BLOCK ((size_t)1 << 20)
/* the smallest file: header, end marker, footer */
#define MGOV__SPILL_MIN_FILE (MGOV__SPILL_FILE_HDR + MGOV__SPILL_BLOCK_HDR + MGOV__SPILL_FOOTER)

typedef struct mgov__spill_fhdr {
    uint8_t codec;
    uint32_t block_size;
} mgov__spill_fhdr_t;

typedef struct mgov__spill_bhdr {
    uint32_t raw_len, stored_len, seq, data_crc;
    uint8_t codec;
} mgov__spill_bhdr_t;

typedef struct mgov__spill_footer {
    uint64_t blocks, raw_bytes, stored_bytes;
} mgov__spill_footer_t;

/* True when bytes [from, to) of p are all zero. */
static inline int mgov__spill_zero(const uint8_t *p, int from, int to)
{
    for (int i = from; i < to; i++)
        if (p[i])
            return 0;
    return 1;
}

static inline void mgov__spill_fhdr_encode(uint8_t *p, const mgov__spill_fhdr_t *h)
{
    memset(p, 0, MGOV__SPILL_FILE_HDR);
    memcpy(p, MGOV__SPILL_MAGIC, 8);
    mgov__put_u16(p + 8, MGOV__SPILL_VERSION);
    p[10] = h->codec;
    mgov__put_u32(p + 12, h->block_size);
    mgov__put_u32(p + 28, mgov__crc32c(0, p, 28));
}

/* MGOV_ECORRUPT for a bad magic, checksum, version, flag or reserved byte.
 * The codec and block size are the caller's to judge. */
static inline int mgov__spill_fhdr_decode(const uint8_t *p, mgov__spill_fhdr_t *h)
{
    if (memcmp(p, MGOV__SPILL_MAGIC, 8) != 0 || mgov__get_u32(p + 28) != mgov__crc32c(0, p, 28) ||
        mgov__get_u16(p + 8) != MGOV__SPILL_VERSION || p[11] != 0 || !mgov__spill_zero(p, 16, 28))
        return MGOV_ECORRUPT;
    h->codec = p[10];
    h->block_size = mgov__get_u32(p + 12);
    return MGOV_OK;
}

static inline void mgov__spill_bhdr_encode(uint8_t *p, const mgov__spill_bhdr_t *h)
{
    mgov__put_u32(p, h->raw_len);
    mgov__put_u32(p + 4, h->stored_len);
    p[8] = h->codec;
    p[9] = p[10] = p[11] = 0;
    mgov__put_u32(p + 12, h->seq);
    mgov__put_u32(p + 16, h->data_crc);
    mgov__put_u32(p + 20, mgov__crc32c(0, p, 20));
}

/* MGOV_ECORRUPT for a bad checksum or reserved byte; lengths are the
 * caller's to judge. */
static inline int mgov__spill_bhdr_decode(const uint8_t *p, mgov__spill_bhdr_t *h)
{
    if (mgov__get_u32(p + 20) != mgov__crc32c(0, p, 20) || !mgov__spill_zero(p, 9, 12))
        return MGOV_ECORRUPT;
    h->raw_len = mgov__get_u32(p);
    h->stored_len = mgov__get_u32(p + 4);
    h->codec = p[8];
    h->seq = mgov__get_u32(p + 12);
    h->data_crc = mgov__get_u32(p + 16);
    return MGOV_OK;
}

static inline void mgov__spill_footer_encode(uint8_t *p, const mgov__spill_footer_t *f)
{
    memcpy(p, MGOV__SPILL_END_MAGIC, 8);
    mgov__put_u64(p + 8, f->blocks);
    mgov__put_u64(p + 16, f->raw_bytes);
    mgov__put_u64(p + 24, f->stored_bytes);
    mgov__put_u32(p + 32, 0);
    mgov__put_u32(p + 36, mgov__crc32c(0, p, 36));
}

static inline int mgov__spill_footer_decode(const uint8_t *p, mgov__spill_footer_t *f)
{
    if (memcmp(p, MGOV__SPILL_END_MAGIC, 8) != 0 ||
        mgov__get_u32(p + 36) != mgov__crc32c(0, p, 36) || !mgov__spill_zero(p, 32, 36))
        return MGOV_ECORRUPT;
    f->blocks = mgov__get_u64(p + 8);
    f->raw_bytes = mgov__get_u64(p + 16);
    f->stored_bytes = mgov__get_u64(p + 24);
    return MGOV_OK;
}

#endif /* MGOV_SPILL_FORMAT_H */
