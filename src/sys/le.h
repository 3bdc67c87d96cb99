/* sys/le.h - internal: little-endian encoding of the integers in memgov's
 * on-disk formats (spill files, section files, the manifest), so the files
 * mean the same on any host.  Stateless.
 */
#ifndef MGOV_SYS_LE_H
#define MGOV_SYS_LE_H

#include <stdint.h>

static inline void mgov__put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void mgov__put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void mgov__put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t mgov__get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t mgov__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t mgov__get_u64(const uint8_t *p)
{
    return (uint64_t)mgov__get_u32(p) | (uint64_t)mgov__get_u32(p + 4) << 32;
}

#endif /* MGOV_SYS_LE_H */
