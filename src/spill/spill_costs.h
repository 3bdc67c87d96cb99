/* spill/spill_costs.h - internal: what spill files cost in memory, for the
 * layers that plan around them (the operators size their fan-in and fan-out
 * by these figures).  Not installed.
 *
 * Stateless; thread-safe.
 */
#ifndef MGOV_SPILL_COSTS_H
#define MGOV_SPILL_COSTS_H

#include <stddef.h>
#include <stdint.h>

#include "memgov/spill.h"

/* What a writer with these options, and a reader of a file with this codec
 * and block size, charge to the governor's spill-staging region (buffers
 * and the codec's context; a reader of a small file takes less).
 * block_size 0 is the default. */
uint64_t mgov__spill_writer_charge(mgov_codec_t codec, int level, size_t block_size);
uint64_t mgov__spill_reader_charge(mgov_codec_t codec, size_t block_size);

/* What an I/O buffer of n bytes takes (whole pages): the figure a reader's
 * gather buffer for an n-byte view is charged. */
size_t mgov__spill_buf_bytes(size_t n);

#endif /* MGOV_SPILL_COSTS_H */
