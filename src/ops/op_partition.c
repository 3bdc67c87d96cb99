/* ops/op_partition.c - partition files and the stack of files waiting for a
 * pass (see ops/op_partition.h).
 *
 * Invariants: a partition has at most one open writer; a file is on the
 * stack or the caller's, never both.
 * Locking: none; one operator's thread.
 */
#include "ops/op_partition.h"

#include <stdlib.h>
#include <string.h>

#include "spill/spill_costs.h"
#include "sys/fault.h"

#define BLOCK_MIN ((size_t)16 << 10)
#define BLOCK_MAX ((size_t)1 << 20)

unsigned mgov__part_plan(mgov__op_t *op, bool block_given)
{
    unsigned bits = MGOV__PART_MAX_BITS;
    while (bits > MGOV__PART_MIN_BITS && ((uint64_t)BLOCK_MIN << bits) * 32 > op->mem)
        bits--;
    if (!block_given) {
        size_t b = BLOCK_MIN;
        while (b < BLOCK_MAX && ((uint64_t)b << (bits + 1)) * 32 <= op->mem)
            b *= 2;
        op->spill.block_size = b;
    }
    size_t b = op->spill.block_size;
    uint64_t w = mgov__spill_writer_charge(op->spill.codec, op->spill.level, b);
    if (op->spill.codec != MGOV_CODEC_NONE && (w << bits) * 4 > op->mem) {
        /* the codec's contexts (zstd: ~300 KiB a writer) would take more
         * than a quarter of the memory with a writer per partition: the
         * partition files are written raw */
        op->spill.codec = MGOV_CODEC_NONE;
        w = mgov__spill_writer_charge(MGOV_CODEC_NONE, 0, b);
    }
    op->writer_cost = w;
    op->reader_cost = mgov__spill_reader_charge(op->spill.codec, b);
    return bits;
}

int mgov__part_out_init(mgov__part_out_t *po, mgov__op_t *op, unsigned n, size_t rec_size)
{
    memset(po, 0, sizeof *po);
    po->op = op;
    po->n = n;
    po->rec_size = rec_size;
    po->w = mgov__calloc(n, sizeof *po->w);
    po->records = mgov__calloc(n, sizeof *po->records);
    po->bytes = mgov__calloc(n, sizeof *po->bytes);
    if (!po->w || !po->records || !po->bytes) {
        mgov__part_out_free(po);
        return MGOV_ENOMEM;
    }
    return MGOV_OK;
}

int mgov__part_out_begin(mgov__part_out_t *po, unsigned p)
{
    if (po->w[p])
        return MGOV_OK;
    return mgov_spill_writer_create(po->op->dir, &po->op->spill, &po->w[p]);
}

int mgov__part_putv(mgov__part_out_t *po, unsigned p, const mgov__piece_t *pieces, unsigned n)
{
    int rc = mgov__part_out_begin(po, p);
    if (rc != MGOV_OK)
        return rc;
    if ((rc = mgov__rec_putv(po->w[p], po->rec_size, pieces, n)) != MGOV_OK)
        return rc;
    size_t len = 0;
    for (unsigned i = 0; i < n; i++)
        len += pieces[i].len;
    po->records[p]++;
    po->bytes[p] += len + mgov__rec_frame(po->rec_size, len);
    return MGOV_OK;
}

int mgov__part_finish(mgov__part_out_t *po, unsigned p, mgov__part_file_t *out)
{
    memset(out, 0, sizeof *out);
    if (!po->w || !po->w[p])
        return MGOV_OK;
    mgov_spill_writer_t *w = po->w[p];
    po->w[p] = NULL;
    int rc = mgov_spill_writer_finish(w, &out->file);
    if (rc != MGOV_OK)
        return rc;
    out->records = po->records[p];
    out->bytes = po->bytes[p];
    po->records[p] = po->bytes[p] = 0;
    return MGOV_OK;
}

void mgov__part_out_free(mgov__part_out_t *po)
{
    if (po->w)
        for (unsigned p = 0; p < po->n; p++)
            mgov_spill_writer_abort(po->w[p]);
    free(po->w);
    free(po->records);
    free(po->bytes);
    memset(po, 0, sizeof *po);
}

int mgov__part_stack_push(mgov__part_stack_t *st, const mgov__part_file_t *f)
{
    if (mgov__array_room(&st->v, st->n, &st->cap, sizeof *st->v, 16) != MGOV_OK)
        return MGOV_ENOMEM;
    st->v[st->n++] = *f;
    return MGOV_OK;
}

bool mgov__part_stack_pop(mgov__part_stack_t *st, mgov__part_file_t *out)
{
    if (!st->n)
        return false;
    *out = st->v[--st->n];
    return true;
}

void mgov__part_stack_free(mgov__part_stack_t *st)
{
    for (size_t i = 0; i < st->n; i++)
        mgov_spill_file_destroy(st->v[i].file);
    free(st->v);
    memset(st, 0, sizeof *st);
}
