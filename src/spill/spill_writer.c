/* spill/spill_writer.c - writing a spill file: blocks filled, compressed,
 * checksummed and written with one writev(2) each; then the end marker and
 * footer.  The format is in spill_format.h.
 *
 * Buffers.  raw holds the block being filled; with a codec, packed
 * receives its compressed form.  A block is written as three pieces in one
 * system call: its header (after the file header, for the first thing
 * written), its data, and after the last block the end marker and footer:
 *
 *   writev:  [ file hdr? | block hdr ]  [ data: raw, packed or the caller's ]
 *            [ end marker | footer ]?
 *
 * A write that brings a whole block of its own when none is being filled
 * is taken from the caller's memory as it is: no copy into raw.  A block
 * is compressed into at most raw_len - 1 bytes; when the codec cannot do
 * that, the block is stored raw, so packed never needs more than a block.
 * The buffers and the codec context are charged to the governor's
 * spill-staging region before they are allocated.
 *
 * Quota.  Each write reserves its exact size in the directory's quota
 * first; a write that fails gives the reservation back.  A failure of any
 * kind makes the writer dead: its status sticks, and finish or abort
 * remove the file.  ENOSPC and EDQUOT from the system are MGOV_ENOSPC like
 * the quota; other write errors as mgov__status_from_errno (errno kept).
 *
 * Locking: none; a writer is used by one thread at a time.  The directory's
 * file list and quota are thread-safe (spill_dir.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "governor/hooks.h"
#include "spill/spill_internal.h"
#include "sys/fault.h"
#include "sys/fileio.h"

#define HEAD_ROOM (MGOV__SPILL_FILE_HDR + MGOV__SPILL_BLOCK_HDR)
#define TAIL_ROOM (MGOV__SPILL_BLOCK_HDR + MGOV__SPILL_FOOTER)

struct mgov_spill_writer {
    mgov_spill_dir_t *dir;
    mgov_spill_file_t *file; /* NULL once handed out by finish */
    int status;              /* MGOV_OK, or the error that killed it */
    mgov_codec_t codec;
    size_t block_size;
    unsigned char *raw;      /* block_size: the block being filled */
    unsigned char *packed;   /* block_size: its compressed form (codec only) */
    size_t fill;             /* bytes in the current block */
    bool started;            /* the file header is on disk */
    mgov__cctx_t *cctx;
    mgov_grant_t grant;
    uint64_t blocks, raw_total, stored_total;
};

static void writer_free(mgov_spill_writer_t *w)
{
    if (w->file)
        mgov__spill_file_remove(w->file);
    mgov__cctx_free(w->cctx);
    mgov__spill_buf_free(w->raw, w->block_size);
    mgov__spill_buf_free(w->packed, w->block_size);
    mgov_grant_release(&w->grant); /* after the memory it covers is gone */
    free(w);
}

uint64_t mgov__spill_writer_charge(mgov_codec_t codec, int level, size_t block_size)
{
    size_t bs = block_size ? block_size : MGOV__SPILL_DEFAULT_BLOCK;
    return (uint64_t)mgov__spill_buf_bytes(bs) * (codec != MGOV_CODEC_NONE ? 2 : 1) +
           mgov__cctx_bytes(codec, level, bs);
}

int mgov_spill_writer_create(mgov_spill_dir_t *dir, const mgov_spill_options_t *opts,
                             mgov_spill_writer_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    const mgov_spill_options_t defaults = MGOV_SPILL_OPTIONS_INIT;
    if (!opts)
        opts = &defaults;
    size_t bs = opts->block_size ? opts->block_size : MGOV__SPILL_DEFAULT_BLOCK;
    if (!dir || bs < MGOV__SPILL_MIN_BLOCK || bs > MGOV__SPILL_MAX_BLOCK)
        return MGOV_EINVAL;
    int rc = mgov__codec_check(opts->codec);
    if (rc != MGOV_OK)
        return rc;

    mgov_grant_t grant;
    rc = mgov__spill_charge(dir->gov, dir->region,
                            mgov__spill_writer_charge(opts->codec, opts->level, bs),
                            opts->timeout_ns, &grant);
    if (rc != MGOV_OK)
        return rc;
    mgov_spill_writer_t *w = mgov__calloc(1, sizeof *w);
    if (!w) {
        mgov_grant_release(&grant);
        return MGOV_ENOMEM;
    }
    w->dir = dir;
    w->grant = grant;
    w->codec = opts->codec;
    w->block_size = bs;
    rc = MGOV_ENOMEM;
    if (!(w->raw = mgov__spill_buf_alloc(bs)) ||
        (w->codec && !(w->packed = mgov__spill_buf_alloc(bs))) ||
        (rc = mgov__cctx_new(w->codec, opts->level, bs, &w->cctx)) != MGOV_OK ||
        (rc = mgov__spill_file_create(dir, &w->file)) != MGOV_OK) {
        int err = errno;
        writer_free(w);
        errno = err;
        return rc;
    }
    w->file->codec = w->codec;
    w->file->block_size = (uint32_t)bs;
    w->file->timeout_ns = opts->timeout_ns;
    *out = w;
    return MGOV_OK;
}

/* Writes the iovecs (n bytes in all) with one writev, charged to the quota
 * first. */
static int emit(mgov_spill_writer_t *w, struct iovec *iov, int cnt, size_t n)
{
    int rc = mgov__spill_dir_reserve(w->dir, n);
    if (rc != MGOV_OK)
        return rc;
    int e = mgov__writev_all(w->file->fd, iov, cnt);
    if (e != 0) {
        mgov__spill_dir_unreserve(w->dir, n);
        errno = -e;
        return mgov__status_from_errno(e);
    }
    w->file->disk += n;
    mgov__spill_disk_add(w->dir->gov, (int64_t)n);
    return MGOV_OK;
}

/* Writes a block of the n raw bytes at src (none: no block) and, when
 * `last`, the end marker and the footer after it; the file header goes
 * before the first thing written.  src is w->raw or the caller's memory. */
static int put_block(mgov_spill_writer_t *w, const unsigned char *src, size_t n, bool last)
{
    const unsigned char *data = src;
    size_t stored = n;
    uint8_t bcodec = MGOV_CODEC_NONE;
    if (n && w->codec != MGOV_CODEC_NONE) {
        size_t got;
        int rc = mgov__compress(w->cctx, src, n, w->packed, n - 1, &got);
        if (rc != MGOV_OK)
            return rc;
        if (got) {
            data = w->packed;
            stored = got;
            bcodec = (uint8_t)w->codec;
        }
    }
    unsigned char head[HEAD_ROOM], tail[TAIL_ROOM];
    unsigned char *hp = head + HEAD_ROOM, *tp = tail;
    uint64_t blocks = w->blocks;
    if (n) {
        hp -= MGOV__SPILL_BLOCK_HDR;
        mgov__spill_bhdr_t h = { .raw_len = (uint32_t)n,
                                 .stored_len = (uint32_t)stored,
                                 .seq = (uint32_t)blocks,
                                 .data_crc = mgov__crc32c(0, data, stored),
                                 .codec = bcodec };
        mgov__spill_bhdr_encode(hp, &h);
        blocks++;
    }
    if (!w->started) {
        hp -= MGOV__SPILL_FILE_HDR;
        mgov__spill_fhdr_t fh = { .codec = (uint8_t)w->codec,
                                  .block_size = (uint32_t)w->block_size };
        mgov__spill_fhdr_encode(hp, &fh);
    }
    if (last) {
        mgov__spill_bhdr_t m = { .seq = (uint32_t)blocks };
        mgov__spill_bhdr_encode(tp, &m);
        tp += MGOV__SPILL_BLOCK_HDR;
        mgov__spill_footer_t f = { .blocks = blocks,
                                   .raw_bytes = w->raw_total + n,
                                   .stored_bytes = w->stored_total + stored };
        mgov__spill_footer_encode(tp, &f);
        tp += MGOV__SPILL_FOOTER;
    }
    size_t hn = (size_t)(head + HEAD_ROOM - hp), tn = (size_t)(tp - tail);
    if (hn + stored + tn == 0)
        return MGOV_OK;
    struct iovec iov[3] = { { hp, hn }, { (void *)data, stored }, { tail, tn } };
    int rc = emit(w, iov, 3, hn + stored + tn);
    if (rc != MGOV_OK)
        return rc;
    w->started = true;
    w->blocks = blocks;
    w->raw_total += n;
    w->stored_total += stored;
    return MGOV_OK;
}

int mgov_spill_write(mgov_spill_writer_t *w, const void *data, size_t len)
{
    if (!w || (!data && len))
        return MGOV_EINVAL;
    if (w->status != MGOV_OK)
        return w->status;
    const unsigned char *p = data;
    size_t bs = w->block_size;
    while (len) {
        int rc = MGOV_OK;
        if (w->fill == 0 && len >= bs) { /* a whole block of the caller's: no copy */
            rc = put_block(w, p, bs, false);
            p += bs;
            len -= bs;
        } else {
            size_t take = bs - w->fill < len ? bs - w->fill : len;
            memcpy(w->raw + w->fill, p, take);
            w->fill += take;
            p += take;
            len -= take;
            if (w->fill == bs) {
                rc = put_block(w, w->raw, bs, false);
                w->fill = 0;
            }
        }
        if (rc != MGOV_OK)
            return w->status = rc;
    }
    return MGOV_OK;
}

int mgov_spill_writer_finish(mgov_spill_writer_t *w, mgov_spill_file_t **out)
{
    if (out)
        *out = NULL;
    if (!w)
        return MGOV_EINVAL;
    int rc = w->status;
    if (rc == MGOV_OK && !out)
        rc = MGOV_EINVAL;
    if (rc == MGOV_OK)
        rc = put_block(w, w->raw, w->fill, true);
    if (rc == MGOV_OK) {
        w->file->raw_bytes = w->raw_total;
        *out = w->file;
        w->file = NULL;
    }
    int err = errno;
    writer_free(w);
    errno = err;
    return rc;
}

void mgov_spill_writer_abort(mgov_spill_writer_t *w)
{
    if (w)
        writer_free(w);
}

void mgov_spill_file_destroy(mgov_spill_file_t *f)
{
    if (f)
        mgov__spill_file_remove(f);
}

uint64_t mgov_spill_file_raw_bytes(const mgov_spill_file_t *f)
{
    return f ? f->raw_bytes : 0;
}

uint64_t mgov_spill_file_stored_bytes(const mgov_spill_file_t *f)
{
    return f ? f->disk : 0;
}

const char *mgov_spill_file_path(const mgov_spill_file_t *f)
{
    return f ? f->path : NULL;
}
