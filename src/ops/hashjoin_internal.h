/* ops/hashjoin_internal.h - internal: the state of a grace hash join,
 * shared by hashjoin.c (lifecycle, pushes, the output state machine),
 * hashjoin_table.c (build partitions: rows, chains, probing) and
 * hashjoin_pass.c (spilling, passes over spilled partition pairs, chunked
 * joins).  Not installed.
 *
 * A pass joins one build source and one probe source (the pushed rows at
 * level 0, or a spilled partition's pair of files at level L), split into
 * 2^bits partitions by the top bits of the level's hash
 * (ops/op_partition.h).  A build partition in RAM is a row store and an
 * array of buckets (the op_table slots, sized by mgov__slots_size), each the
 * head of a chain of rows:
 *
 *   row  [ u64 word | u32 key_len | u32 payload_len | key | payload | pad to 8 ]
 *        word: bit 63 "matched" (build-outer joins), bits 48..61 a salt of
 *        the key's hash, bits 0..47 the reference (offset / 8 + 1) of the
 *        next row in the bucket's chain, 0 at the end
 *
 * Rows are appended while the build side comes in and chained only when it
 * is all in (the seal, hashjoin_table.c), so a build costs no lookup.  A
 * spilled partition has two files, one per side, of records
 *
 *   [ u8 flags | key | payload ]   variable framing (spill_records.h); a
 *   variable key is preceded by its length in LEB128; flags bit 0: matched
 *
 * (the matched bit of a build row that was already matched, or of a probe
 * row a chunk matched: see hashjoin_pass.c).  The operator's buffers stay
 * within `limit`, its memory less two writers per partition and two
 * readers, so a spill can always open its files.
 *
 * Threading: one thread drives it; the consumer ops are the base's.
 */
#ifndef MGOV_OPS_HASHJOIN_INTERNAL_H
#define MGOV_OPS_HASHJOIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/hashjoin.h"
#include "ops/op.h"
#include "ops/op_partition.h"
#include "ops/op_table.h"

#define MGOV__HJ_MAX_KEY_DEFAULT ((size_t)1 << 20)
#define MGOV__HJ_MAX_PAYLOAD_DEFAULT ((size_t)16 << 20)
#define MGOV__HJ_ROW_HDR 16u
#define MGOV__HJ_MATCHED ((uint64_t)1 << 63)
#define MGOV__HJ_F_MATCHED 1u /* record flags */

enum { HJ_SIDE_BUILD = 0, HJ_SIDE_PROBE = 1, HJ_SIDE_CHUNKED = 2 };

/* The probe row being joined. */
typedef struct mgov__hj_cur {
    bool active;
    bool final;        /* its answer is complete here (not a chunk but the last) */
    bool matched;      /* a match was found in this pass or chunk */
    unsigned flags;    /* from its record */
    const unsigned char *key, *payload;
    size_t klen, plen;
    uint64_t hv;
    mgov__ptab_t *pt;
    uint64_t next;     /* the next matching build row (reference), once looked */
    bool looked;       /* the bucket lookup was made */
    bool done;         /* its matches are all out */
} mgov__hj_cur_t;

/* What the output state machine does next (hashjoin.c). */
enum {
    HJ_IDLE,      /* before probe_finish: waiting for a probe push */
    HJ_PROBE,     /* a pushed probe row's output */
    HJ_UNMATCHED, /* a pass's end: unmatched build rows of its RAM partitions */
    HJ_PAIRS,     /* the next spilled partition pair */
    HJ_FILE,      /* a pass over a pair: the probe file streams */
    HJ_CHUNK,     /* a pair that would not shrink: chunks */
    HJ_RADIX,     /* a pair that fits: joined in cache-sized parts */
    HJ_DONE,
};

#define MGOV__HJ_BATCH 256

/* Records of a spilled file read a batch at a time, copied (key then
 * payload each) so they stay put while their hashes are prefetched and a
 * probe row's output is pulled (hashjoin_pass.c). */
typedef struct mgov__hj_stage {
    mgov__gbuf_t buf;
    size_t used;
    unsigned n, i;                  /* records staged, the next one */
    bool more;                      /* the file has more records */
    size_t off[MGOV__HJ_BATCH];
    uint32_t klen[MGOV__HJ_BATCH], plen[MGOV__HJ_BATCH];
    uint8_t flags[MGOV__HJ_BATCH];
    uint64_t hv[MGOV__HJ_BATCH];
} mgov__hj_stage_t;

/* A chunked join's state (hashjoin_pass.c). */
typedef struct mgov__hj_chunk {
    mgov__part_file_t b, p;     /* the pair; p's file is replaced each chunk */
    mgov_spill_reader_t *br;    /* the build file, read chunk by chunk */
    mgov__recin_t bin;
    bool b_done;                /* the build file is exhausted */
    bool have_pend;             /* a build record read but not loaded (no room) */
    mgov_spill_reader_t *pr;    /* the probe file of this chunk */
    mgov__recin_t pin;
    mgov_spill_writer_t *pw;    /* the probe file for the next chunk (with flags) */
    uint64_t p_records, p_bytes;
    bool last;                  /* this chunk is the build file's last */
} mgov__hj_chunk_t;

/* A pair joined in cache-sized parts (hashjoin_radix.c). */
typedef struct mgov__hj_radix {
    unsigned bits;              /* 2^bits parts, by the top bits of the hash */
    mgov__gbuf_t build, probe;  /* the two stores, part after part */
    mgov__gbuf_t buckets;       /* the chains of the part being joined */
    uint64_t *words;            /* the arrays below and fill's, one allocation */
    uint64_t *boff, *poff;      /* part k: [off[k], off[k + 1]) of each store */
    uint64_t *end;              /* while a store is filled: each part's end */
    uint64_t *brows;            /* build rows per part */
    unsigned part;              /* the part being joined */
    int phase;                  /* 0: its probe rows; 1: its unmatched build rows */
    size_t at;                  /* where in the phase's store */
    bool opened;                /* the part's chains are made */
    mgov__ptab_t view;          /* the part's build rows, as a sealed partition */
} mgov__hj_radix_t;

struct mgov_hashjoin {
    mgov__op_t op;
    mgov_join_type_t type;
    size_t key_size;             /* 0: variable */
    size_t max_key, max_payload;
    uint64_t limit;
    bool const_hash;             /* test hook */
    bool build_done, probe_done;
    bool sealed;                 /* the pass's partitions in RAM are chained: no more rows */
    void (*progress)(void *ctx, const mgov_hashjoin_stats_t *st);
    void *progress_ctx;

    mgov__op_pass_t pass;        /* the pass running: partitions, their files per side */
    mgov__part_stack_t todo;     /* spilled pairs: the build file on top of its probe file */
    int state;                   /* HJ_* */
    mgov__hj_cur_t cur;
    mgov__gbuf_t curbuf;         /* a pushed probe row's copy, or a batch's */
    size_t pb_n, pb_i, pb_psize; /* a probe batch in curbuf: rows, the next, payload size */
    uint64_t *pb_hv;             /* its hashes (after its rows in curbuf) */
    mgov__gbuf_t pend;           /* chunked: the build record that did not fit */
    size_t pend_len;
    unsigned out_part;           /* HJ_UNMATCHED: where it is */
    size_t out_off;
    uint64_t out_row;
    int after_unmatched;         /* the state after HJ_UNMATCHED */
    mgov_spill_reader_t *pr;     /* HJ_FILE: the pass's probe file */
    mgov__part_file_t pfile;
    mgov__recin_t pin;
    mgov__hj_stage_t stage;
    mgov__hj_chunk_t chunk;
    mgov__hj_radix_t radix;
    uint64_t radix_pairs;        /* pairs joined in parts (tests read it) */

    mgov_hashjoin_stats_t st;
};

/* ---- hashjoin_table.c */
/* A row's parts. */
static inline unsigned char *mgov__hj_row(const mgov__ptab_t *pt, uint64_t ref)
{
    return pt->rows.base + (ref - 1) * 8;
}
uint64_t mgov__hj_row_word(const unsigned char *row);
/* Writes a build row at row (mgov__hj_row_bytes(klen, plen) bytes): its
 * word (matched bit and hv's salt, no next row), lengths, key, payload. */
void mgov__hj_row_put(unsigned char *row, uint64_t hv, const void *key, size_t klen,
                      const void *payload, size_t plen, bool matched);
void mgov__hj_row_set_word(unsigned char *row, uint64_t w);
void mgov__hj_row_parts(const unsigned char *row, const unsigned char **key, size_t *klen,
                        const unsigned char **payload, size_t *plen);
size_t mgov__hj_row_bytes(size_t klen, size_t plen);
/* Appends a build row to pt (before the seal), keeping pt's buckets
 * enough for its rows.  Refusals (budget, MGOV_ELIMIT past the limit) add
 * no row (the store or the buckets may have grown). */
int mgov__hj_add(mgov_hashjoin_t *j, mgov__ptab_t *pt, uint64_t hv, const void *key,
                 size_t klen, const void *payload, size_t plen, bool matched);
/* Chains pt's rows off its buckets (needs no memory: cannot fail). */
void mgov__hj_seal(mgov_hashjoin_t *j, mgov__ptab_t *pt);
/* Seals every partition of the pass in RAM; no row is added after. */
void mgov__hj_seal_pass(mgov_hashjoin_t *j);
/* The first row of hv's bucket in a sealed pt (reference), or 0 (none, or
 * none whose hash could be hv's). */
uint64_t mgov__hj_head(const mgov__ptab_t *pt, uint64_t hv);
/* The first row of key in a sealed pt (reference), or 0. */
uint64_t mgov__hj_find(const mgov__ptab_t *pt, uint64_t hv, const void *key, size_t klen);
/* The first row of key from reference ref on along its chain, or 0. */
uint64_t mgov__hj_match(const mgov__ptab_t *pt, uint64_t ref, uint64_t hv, const void *key,
                        size_t klen);
/* The next build row of pt never matched, from byte *off on (advanced
 * past it): 1 with it in *out (build side only), or 0 at pt's end. */
int mgov__hj_unmatched_in(const mgov__ptab_t *pt, size_t *off, mgov_hashjoin_row_t *out);
/* The reference after row in its chain (0 at the end). */
uint64_t mgov__hj_next_ref(const unsigned char *row);

/* ---- hashjoin_pass.c */
/* Whether unmatched build rows are output (build-outer and full joins). */
bool mgov__hj_needs_build_flags(const mgov_hashjoin_t *j);
/* Whether probe rows without a build row are output (or just dropped). */
bool mgov__hj_probe_side_output(const mgov_hashjoin_t *j);
/* A spill record's flags, key and payload; MGOV_ECORRUPT when it does not
 * hold together or breaks a bound. */
int mgov__hj_parse_record(const mgov_hashjoin_t *j, const unsigned char *rec, size_t len,
                          unsigned *flags, const unsigned char **key, size_t *klen,
                          const unsigned char **payload, size_t *plen);
/* Makes (key, payload) the current probe row, joined against pt; final:
 * its answer is complete there (not a chunk before the last). */
void mgov__hj_cur_set(mgov_hashjoin_t *j, mgov__ptab_t *pt, uint64_t hv, const void *key,
                      size_t klen, const void *payload, size_t plen, unsigned flags, bool final);
/* A key's hash at the pass's level. */
static inline uint64_t mgov__hj_hash(const mgov_hashjoin_t *j, const void *key, size_t klen)
{
    return mgov__part_hash(key, klen, j->pass.level, j->const_hash);
}
/* A build row into the pass (RAM, or its partition's file); hv is its
 * hash (mgov__hj_hash). */
int mgov__hj_build_row_hv(mgov_hashjoin_t *j, uint64_t hv, const void *key, size_t klen,
                          const void *payload, size_t plen, unsigned flags);
/* The first two stages of a batch: the hashes of n fixed keys (stride
 * kstride) at the pass's level into hv, their buckets prefetched, then the
 * rows those buckets name (sealed partitions only). */
void mgov__hj_prefetch_batch(mgov_hashjoin_t *j, const unsigned char *keys, size_t kstride,
                             size_t n, uint64_t *hv);
/* The two prefetch stages alone, for hashes already known. */
void mgov__hj_prefetch_hv(mgov_hashjoin_t *j, const uint64_t *hv, size_t n);
/* Honours a pending spill request (no probe row may be in progress). */
int mgov__hj_take_request(mgov_hashjoin_t *j);
/* Spills the largest build partition in RAM (no probe row may be in
 * progress): 1, 0 with none, or an error. */
int mgov__hj_spill_largest(mgov_hashjoin_t *j);
/* Routes a probe row: to its spilled partition's file (returns 0), or makes
 * it the current row (returns 1). */
int mgov__hj_probe_row_hv(mgov_hashjoin_t *j, uint64_t hv, const void *key, size_t klen,
                          const void *payload, size_t plen, unsigned flags);
/* The next output row of the current probe row: 1, or 0 when it has no
 * more (in a chunk that is not the last, its flags then go to the next
 * chunk's probe file). */
int mgov__hj_cur_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out);
/* Begins a pass at level over a source of in_bytes (UINT64_MAX: pushed),
 * 2^bits partitions wide. */
int mgov__hj_pass_begin(mgov_hashjoin_t *j, unsigned level, uint64_t in_bytes, unsigned bits);
/* Ends the pass's input: spilled partitions' pairs go on the stack. */
int mgov__hj_pass_end(mgov_hashjoin_t *j);
/* The next unmatched build row of the pass's RAM partitions (build-outer
 * joins; frees each partition once walked): 1, or 0 when all are out. */
int mgov__hj_unmatched_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out);
/* Pops the next pair and starts it: a pass (build file loaded, probe file
 * opened: HJ_FILE) or a chunked join (HJ_CHUNK).  0 when none is left. */
int mgov__hj_pair_start(mgov_hashjoin_t *j);
/* HJ_FILE: the next output row of the pass's probe file: 1, or 0 at its
 * end (the pass is then ended). */
int mgov__hj_file_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out);
/* HJ_CHUNK: the next output row of the chunked join: 1, or 0 at its end. */
int mgov__hj_chunk_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out);
void mgov__hj_chunk_free(mgov_hashjoin_t *j);
void mgov__hj_progress(mgov_hashjoin_t *j);

/* ---- hashjoin_radix.c */
/* Starts joining the pair (fb, fp) in parts when both fit in 3/4 of the
 * limit and the memory is granted now: 1 (the caller destroys both files;
 * the state is HJ_RADIX), 0 (stream the pair instead), or an error of the
 * files or of allocation. */
int mgov__hj_radix_begin(mgov_hashjoin_t *j, const mgov__part_file_t *fb,
                         const mgov__part_file_t *fp);
/* HJ_RADIX: the next output row: 1, or 0 when the pair is joined (its
 * memory then given back). */
int mgov__hj_radix_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out);
void mgov__hj_radix_free(mgov_hashjoin_t *j);

/* ---- test hook (tests only): every key hashes alike from now on */
void mgov__hashjoin_test_constant_hash(mgov_hashjoin_t *j);
/* Pairs joined in parts so far. */
uint64_t mgov__hashjoin_test_radix_pairs(const mgov_hashjoin_t *j);

#endif /* MGOV_OPS_HASHJOIN_INTERNAL_H */
