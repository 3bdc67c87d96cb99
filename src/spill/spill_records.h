/* spill/spill_records.h - internal: records in a spill file, the framing
 * every operator's runs and partitions share.
 *
 *   fixed width (rec_size > 0):  records back to back, rec_size bytes each
 *   variable length (rec_size 0): each record as its length in LEB128 (7
 *                                 bits a byte, low first, at most 5 bytes
 *                                 for the 32-bit lengths used) then its bytes
 *
 * Writing is mgov__rec_put.  Reading is a record input (mgov__recin_t) over
 * a spill reader: zero copy where it can be (a fixed-width record lies in
 * the reader's block; a variable one is a view), so a record stays valid
 * until the next call on the input.  Fixed-width records are taken as a
 * window of whole records from the current block; mgov__recin_step moves
 * inside that window without a call, the step a merge makes most often.  A
 * record cut by a block's end is assembled in `carry`.
 *
 * Errors: the reader's, and MGOV_ECORRUPT for a file that ends inside a
 * record or holds a length over max_len.  A clean end (no byte left) is
 * not an error.
 *
 * Threading: an input is used by one thread at a time, like its reader.
 */
#ifndef MGOV_SPILL_RECORDS_H
#define MGOV_SPILL_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/spill.h"

/* Bytes the framing adds to a record of len bytes. */
static inline size_t mgov__rec_frame(size_t rec_size, size_t len)
{
    if (rec_size)
        return 0;
    size_t n = 1;
    while (len >>= 7)
        n++;
    return n;
}

/* Writes v in LEB128 (7 bits a byte, low first) at out (10 bytes at most);
 * returns the bytes written. */
size_t mgov__leb_put(unsigned char *out, uint64_t v);

/* A piece of a record. */
typedef struct mgov__piece {
    const void *p;
    size_t len;
} mgov__piece_t;

/* Appends one record made of n pieces (a key, then its states, say),
 * framed as one record of their total length.  Fixed width: the total
 * must be rec_size (the caller's check); variable: at most UINT32_MAX.
 * The writer's errors. */
int mgov__rec_putv(mgov_spill_writer_t *w, size_t rec_size, const mgov__piece_t *pieces,
                   unsigned n);

/* One record of len bytes. */
static inline int mgov__rec_put(mgov_spill_writer_t *w, size_t rec_size, const void *rec,
                                size_t len)
{
    mgov__piece_t pc = { rec, len };
    return mgov__rec_putv(w, rec_size, &pc, 1);
}

typedef struct mgov__recin {
    mgov_spill_reader_t *reader; /* borrowed */
    size_t rec_size;             /* > 0: fixed width */
    size_t max_len;              /* variable: a longer record is MGOV_ECORRUPT */
    const unsigned char *rec;    /* the current record, valid until the next call */
    size_t len;
    size_t win_left;             /* fixed: whole records after rec in the window */
    unsigned char *carry;        /* fixed: rec_size bytes, the caller's */
    size_t tail;                 /* fixed: bytes of a cut record already in carry */
} mgov__recin_t;

/* An input over reader; carry (rec_size bytes) is needed for fixed width. */
void mgov__recin_init(mgov__recin_t *in, mgov_spill_reader_t *reader, size_t rec_size,
                      size_t max_len, unsigned char *carry);

/* The next record into in->rec, in->len: 1, 0 at a clean end, or an
 * error. */
int mgov__recin_next(mgov__recin_t *in);

/* Fixed width: the next record when it is in the current window (true), or
 * false when mgov__recin_next must be called. */
static inline bool mgov__recin_step(mgov__recin_t *in)
{
    if (!in->win_left)
        return false;
    in->rec += in->rec_size;
    in->win_left--;
    return true;
}

#endif /* MGOV_SPILL_RECORDS_H */
