/* mix_seg.c - the demo's time-series points and their segments.
 *
 * Point i of the stream is made from cli_mix64(i) alone, so any part of it
 * can be made again.  A segment is points encoded in order:
 *
 *   "MXSG"  u32 count  u32 payload bytes  | payload
 *   payload: per point, varint(zigzag(time - previous time)),
 *            varint(series), varint(zigzag(value))  (the first time's
 *            "previous" is 0)
 *
 * About 6 bytes a point instead of 16.  The decoder checks every length
 * against the bytes it was given: a damaged segment is an error, never a
 * read out of bounds.  No state, no locking.
 */
#include <string.h>

#include "mix.h"

#define SEG_MAGIC 0x4753584du /* "MXSG" little-endian */
#define SEG_HEADER 12u

void mix_point_make(uint64_t i, mix_point_t *p)
{
    uint64_t x = cli_mix64(i);
    p->time = 1700000000000u + i * 10 + (x & 7);
    p->series = (uint32_t)((x >> 8) % MIX_SERIES);
    p->value = (int32_t)((x >> 32) % 200001) - 100000;
}

size_t mix_seg_bound(size_t n)
{
    return SEG_HEADER + n * (10 + 5 + 5);
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static void put_u32(uint8_t *o, uint32_t v)
{
    memcpy(o, &v, 4);
}

static uint32_t get_u32(const uint8_t *i)
{
    uint32_t v;
    memcpy(&v, i, 4);
    return v;
}

size_t mix_seg_encode(const mix_point_t *pts, size_t n, uint8_t *out)
{
    uint8_t *o = out + SEG_HEADER;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        o = put_varint(o, zigzag((int64_t)(pts[i].time - prev)));
        o = put_varint(o, pts[i].series);
        o = put_varint(o, zigzag(pts[i].value));
        prev = pts[i].time;
    }
    put_u32(out, SEG_MAGIC);
    put_u32(out + 4, (uint32_t)n);
    put_u32(out + 8, (uint32_t)(o - out - SEG_HEADER));
    return (size_t)(o - out);
}

/* A varint from [*i, end): false when it runs past end or past 64 bits. */
static bool get_varint(const uint8_t **i, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*i >= end)
            return false;
        uint8_t b = *(*i)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

long mix_seg_decode(const uint8_t *in, size_t len, size_t *used, mix_point_t *pts, size_t cap)
{
    if (len < SEG_HEADER || get_u32(in) != SEG_MAGIC)
        return -1;
    uint32_t n = get_u32(in + 4), plen = get_u32(in + 8);
    if (n > cap || plen > len - SEG_HEADER)
        return -1;
    const uint8_t *i = in + SEG_HEADER, *end = i + plen;
    uint64_t prev = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t dt, series, value;
        if (!get_varint(&i, end, &dt) || !get_varint(&i, end, &series) ||
            !get_varint(&i, end, &value) || series >= MIX_SERIES)
            return -1;
        int64_t v = unzigzag(value);
        if (v < INT32_MIN || v > INT32_MAX)
            return -1;
        prev += (uint64_t)unzigzag(dt);
        pts[k].time = prev;
        pts[k].series = (uint32_t)series;
        pts[k].value = (int32_t)v;
    }
    if (i != end)
        return -1;
    *used = SEG_HEADER + plen;
    return (long)n;
}
