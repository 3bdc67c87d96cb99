/* sys/hash.h - internal: the one 64-bit hash of the library.
 *
 * XXH3 (64 bits) from Debian's libxxhash-dev, compiled inline
 * (XXH_INLINE_ALL), so hashing a short key costs no call.  It is the hash
 * the hash operators partition and probe by; nothing is stored with it on
 * disk beyond the life of a process, so the seed may change between
 * versions.
 *
 * Its 64 bits are used in fixed windows (ops/op_partition.h): partition
 * bits per recursion level from the top, a tag and the slot bits from the
 * bottom; XXH3 mixes every input bit into every output bit, so keys that
 * differ only in their high or low bytes spread over both.
 *
 * Stateless; thread-safe.
 */
#ifndef MGOV_SYS_HASH_H
#define MGOV_SYS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* The hash of n bytes at p (p may be NULL when n is 0). */
static inline uint64_t mgov__hash64(const void *p, size_t n)
{
    return (uint64_t)XXH3_64bits(n ? p : "", n);
}

/* The hash of n bytes with a seed: an independent hash function per seed
 * (a fallback level that needs fresh bits). */
static inline uint64_t mgov__hash64_seeded(const void *p, size_t n, uint64_t seed)
{
    return (uint64_t)XXH3_64bits_withSeed(n ? p : "", n, (XXH64_hash_t)seed);
}

#endif /* MGOV_SYS_HASH_H */
