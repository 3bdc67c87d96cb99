/* spill/spill_records.c - the framing of records in spill files (see
 * spill/spill_records.h).  Stateless beyond each input; no locks.
 */
#include "spill/spill_records.h"

#include <string.h>

size_t mgov__leb_put(unsigned char *out, uint64_t v)
{
    size_t h = 0;
    do {
        out[h++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return h;
}

int mgov__rec_putv(mgov_spill_writer_t *w, size_t rec_size, const mgov__piece_t *pieces,
                   unsigned n)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += pieces[i].len;
    unsigned char rec[256];
    size_t h = rec_size ? 0 : mgov__leb_put(rec, total);
    if (h + total <= sizeof rec) { /* a small record: assembled, one write */
        for (unsigned i = 0; i < n; i++)
            if (pieces[i].len) {
                memcpy(rec + h, pieces[i].p, pieces[i].len);
                h += pieces[i].len;
            }
        return mgov_spill_write(w, rec, h);
    }
    int rc = h ? mgov_spill_write(w, rec, h) : MGOV_OK;
    for (unsigned i = 0; i < n && rc == MGOV_OK; i++)
        if (pieces[i].len)
            rc = mgov_spill_write(w, pieces[i].p, pieces[i].len);
    return rc;
}

void mgov__recin_init(mgov__recin_t *in, mgov_spill_reader_t *reader, size_t rec_size,
                      size_t max_len, unsigned char *carry)
{
    memset(in, 0, sizeof *in);
    in->reader = reader;
    in->rec_size = rec_size;
    in->max_len = max_len;
    in->carry = carry;
}

static int next_fixed(mgov__recin_t *in)
{
    size_t rs = in->rec_size;
    const void *p;
    if (!in->tail) {
        /* a window of whole records, straight from the reader's block */
        size_t got;
        int rc = mgov_spill_read_some(in->reader, SIZE_MAX, &p, &got);
        if (rc <= 0)
            return rc; /* the end, between records: clean */
        size_t whole = got / rs;
        in->tail = got % rs;
        if (in->tail) /* a record cut by the block's end: its start */
            memcpy(in->carry, (const unsigned char *)p + whole * rs, in->tail);
        if (whole) {
            in->rec = p;
            in->len = rs;
            in->win_left = whole - 1;
            return 1;
        }
    }
    /* the rest of a cut record, from the next block */
    size_t got;
    int rc = mgov_spill_read(in->reader, in->carry + in->tail, rs - in->tail, &got);
    if (rc < 0)
        return rc;
    if (got != rs - in->tail)
        return MGOV_ECORRUPT; /* the data ends inside a record */
    in->rec = in->carry;
    in->len = rs;
    in->tail = 0;
    return 1;
}

static int next_variable(mgov__recin_t *in)
{
    const void *p;
    uint32_t len = 0;
    for (unsigned shift = 0;; shift += 7) {
        int rc = mgov_spill_read_view(in->reader, 1, &p);
        if (rc == 0)
            return shift == 0 ? 0 : MGOV_ECORRUPT; /* clean only between records */
        if (rc < 0)
            return rc;
        unsigned char b = *(const unsigned char *)p;
        if (shift == 28 && (b & 0xf0))
            return MGOV_ECORRUPT; /* more than 32 bits */
        len |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    if (len > in->max_len)
        return MGOV_ECORRUPT;
    if (len) {
        int rc = mgov_spill_read_view(in->reader, len, &p);
        if (rc <= 0)
            return rc == 0 ? MGOV_ECORRUPT : rc;
        in->rec = p;
    } else {
        in->rec = (const unsigned char *)"";
    }
    in->len = len;
    return 1;
}

int mgov__recin_next(mgov__recin_t *in)
{
    if (in->rec_size) {
        if (mgov__recin_step(in))
            return 1;
        return next_fixed(in);
    }
    return next_variable(in);
}
