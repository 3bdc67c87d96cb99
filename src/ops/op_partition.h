/* ops/op_partition.h - internal: what the hash operators (aggregation and
 * join) share to split their data by hash: the hash of a key at each
 * recursion level, how many partitions a pass makes, the set of partition
 * files a pass writes, and the stack of files waiting for a pass.  Not
 * installed.
 *
 * Hash windows.  Each recursion level has its own hash function (XXH3
 * seeded by the level, sys/hash.h), so a partition that must be split
 * again spreads over fresh bits instead of bits its keys already share.
 * Within a level the 64 bits are used in fixed windows:
 *
 *    63          64-bits   47      32 31                      0
 *   [ partition ][ ...    ][ tag    ][ slot (table index) ... ]
 *
 * the partition from the top (mgov__part_of), a 16-bit tag that rejects
 * most mismatches without touching a row, and the slot bits from the
 * bottom.  A test hook makes every key hash alike, to walk the fallbacks
 * an operator needs when splitting does not shrink the data.
 *
 * Files.  A pass writes at most one file per partition (a writer opened at
 * the partition's first record, so files and buffers are bounded by the
 * fanout); finished files wait on a stack with their level and the size of
 * the file they came from, which is how a pass sees that splitting stopped
 * shrinking.
 *
 * Threading: one operator's thread.
 */
#ifndef MGOV_OPS_OP_PARTITION_H
#define MGOV_OPS_OP_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"
#include "spill/spill_records.h"
#include "sys/hash.h"

#define MGOV__PART_MIN_BITS 2   /* 4 partitions */
#define MGOV__PART_MAX_BITS 4   /* 16: large partitions, huge pages, few files */
#define MGOV__PART_MAX_LEVELS 6 /* deeper than this: the operator's fallback */

/* The hash of a key at recursion `level` (0 for the input). */
static inline uint64_t mgov__part_hash(const void *key, size_t len, unsigned level,
                                       bool constant)
{
    if (constant)
        return 0x9e3779b97f4a7c15ull; /* the test hook: every key alike */
    if (level == 0)
        return mgov__hash64(key, len);
    return mgov__hash64_seeded(key, len, 0x9e3779b97f4a7c15ull * level);
}

/* The partition of a hash among 2^bits. */
static inline unsigned mgov__part_of(uint64_t h, unsigned bits)
{
    return bits ? (unsigned)(h >> (64 - bits)) : 0;
}

/* The 16-bit tag of a hash (never overlaps the partition bits in use). */
static inline uint64_t mgov__part_tag(uint64_t h)
{
    return (h >> 32) & 0xffff;
}

/* Plans a hash operator's passes: returns how many partition bits a pass
 * uses (16 partitions, fewer only when the memory is tiny) and, unless the
 * caller chose a block size (block_given), sizes op's spill blocks so that
 * one open writer per partition takes at most about 1/32 of its memory
 * (16 KiB to 1 MiB), updating op's writer and reader costs.  Wide fan-out
 * with small blocks: one level of partitioning covers 16x the memory.  A
 * codec whose writers would take more than a quarter of the memory (zstd's
 * contexts under a few MiB) is dropped: the files are written raw. */
unsigned mgov__part_plan(mgov__op_t *op, bool block_given);

/* ------------------------------------------------------------- files */

typedef struct mgov__part_file {
    mgov_spill_file_t *file;
    uint64_t records;
    uint64_t bytes;        /* raw bytes of its records */
    uint64_t parent_bytes; /* raw bytes of the file it was split from; UINT64_MAX: input */
    unsigned level;        /* the level of the pass that will read it */
    unsigned side;         /* the operator's own tag (the join: build or probe) */
} mgov__part_file_t;

/* The partition files one pass writes, one per partition at most. */
typedef struct mgov__part_out {
    mgov__op_t *op;
    unsigned n;                /* partitions */
    size_t rec_size;           /* framing: > 0 fixed width */
    mgov_spill_writer_t **w;   /* NULL until the partition's first record */
    uint64_t *records, *bytes;
} mgov__part_out_t;

/* n partitions; nothing opened yet.  MGOV_ENOMEM. */
int mgov__part_out_init(mgov__part_out_t *po, mgov__op_t *op, unsigned n, size_t rec_size);
/* True when partition p has a writer (it has spilled in this pass). */
static inline bool mgov__part_out_open(const mgov__part_out_t *po, unsigned p)
{
    return po->w && po->w[p] != NULL;
}
/* Opens p's writer now (its buffers charged to spill staging, waiting as
 * the operator's spill options say).  The spill layer's errors. */
int mgov__part_out_begin(mgov__part_out_t *po, unsigned p);
/* Appends one record made of n pieces to p's file, opening it first if
 * needed. */
int mgov__part_putv(mgov__part_out_t *po, unsigned p, const mgov__piece_t *pieces, unsigned n);
/* The same for a record in two pieces (a key, then its states). */
static inline int mgov__part_put2(mgov__part_out_t *po, unsigned p, const void *a, size_t alen,
                                  const void *b, size_t blen)
{
    mgov__piece_t pc[2] = { { a, alen }, { b, blen } };
    return mgov__part_putv(po, p, pc, 2);
}
/* Finishes p's file into *out (records, bytes; level and parent left to
 * the caller).  With no writer open, *out is empty (file NULL). */
int mgov__part_finish(mgov__part_out_t *po, unsigned p, mgov__part_file_t *out);
/* Aborts every open writer (removing its file) and frees the set. */
void mgov__part_out_free(mgov__part_out_t *po);

/* Files waiting for a pass: a stack (deepest level first, so the files on
 * disk stay few). */
typedef struct mgov__part_stack {
    mgov__part_file_t *v;
    size_t n, cap;
} mgov__part_stack_t;

/* Pushes f; MGOV_ENOMEM leaves f the caller's. */
int mgov__part_stack_push(mgov__part_stack_t *st, const mgov__part_file_t *f);
/* Pops the top into *out; false when empty. */
bool mgov__part_stack_pop(mgov__part_stack_t *st, mgov__part_file_t *out);
/* Destroys every file still waiting and frees the stack. */
void mgov__part_stack_free(mgov__part_stack_t *st);

#endif /* MGOV_OPS_OP_PARTITION_H */
