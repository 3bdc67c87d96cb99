/* sys/crc32c.h - internal: CRC-32C (Castagnoli), the checksum of every
 * spill file header, block and footer.
 *
 * Standard parameters: reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF, so mgov__crc32c(0, "123456789", 9) == 0xE3069283.
 * Chaining: mgov__crc32c(mgov__crc32c(0, a, na), b, nb) is the checksum of
 * a followed by b.
 *
 * The SSE4.2 crc32 instruction is used when the CPU has it (decided once),
 * table lookups (slicing by 8) otherwise.
 *
 * Thread safety: all functions are thread-safe.
 */
#ifndef MGOV_SYS_CRC32C_H
#define MGOV_SYS_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t mgov__crc32c(uint32_t crc, const void *p, size_t n);

/* The table implementation alone, for tests to compare against. */
uint32_t mgov__crc32c_sw(uint32_t crc, const void *p, size_t n);

/* True when mgov__crc32c uses the SSE4.2 instruction. */
bool mgov__crc32c_hw(void);

#endif /* MGOV_SYS_CRC32C_H */
