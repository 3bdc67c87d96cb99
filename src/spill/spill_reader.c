/* spill/spill_reader.c - reading a spill file back: every length bounded
 * before it is used, every checksum checked, the totals reconciled.
 *
 * Open reads the file header with the first block header (one pread) and
 * the footer (another), and checks them against each other and the file
 * size: size == 32 + 24 x blocks + stored_bytes + 24 + 40 exactly.  Only
 * then are buffers charged and allocated, sized by the block size the
 * header gives (at most max_block) and no larger than the file's totals, so
 * a small file gets small buffers.
 *
 * Each block is then one pread of its data plus the header of the block
 * after it (or the end marker):
 *
 *   stored:  [ data (stored_len) | next block header ]
 *   raw:     the decoded block (codec only; raw blocks are used in place)
 *
 * mgov_spill_read skips the buffer when a raw block fits whole in what the
 * caller still wants: one preadv puts its bytes there and the next header
 * in r->next, so large reads cost one copy (the kernel's) plus the check.
 *
 * A block header is checked before its data is read: checksum, reserved
 * bytes, sequence number, raw_len in 1..block_size and within the raw
 * bytes the footer still owes, stored_len == raw_len for a raw block and
 * 1..raw_len-1 for a compressed one and within the stored bytes still owed,
 * codec none or the file's.  The data's checksum is checked before it is
 * decoded, and a compressed block must decode to exactly raw_len bytes.
 * The end marker must come exactly when the footer's totals are reached.
 *
 * mgov_spill_read_view hands out pointers into the current block; a view
 * that spans blocks is gathered into a buffer of the reader, grown (and
 * charged) as needed up to max_block.
 *
 * Errors other than MGOV_EINVAL for a bad argument and budget refusals of
 * the gather buffer kill the reader: its status sticks.
 *
 * Locking: none; a reader is used by one thread at a time.  Readers of one
 * file share its descriptor through pread, which has no shared offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "governor/hooks.h"
#include "spill/spill_internal.h"
#include "sys/fault.h"
#include "sys/fileio.h"

#define BHDR MGOV__SPILL_BLOCK_HDR
#define DEFAULT_MAX_BLOCK MGOV__SPILL_MAX_BLOCK

struct mgov_spill_reader {
    int fd;
    bool own_fd;              /* opened with open_fd: ours to close */
    int status;               /* MGOV_OK, or what killed it */
    bool at_end;              /* the end marker was read and checked */
    mgov_t *gov;
    int region;
    int64_t timeout_ns;
    size_t max_block;
    uint64_t size;            /* of the file */
    mgov_codec_t codec;
    uint32_t block_size;
    mgov__spill_footer_t foot;

    unsigned char *stored;    /* stored_cap + BHDR */
    size_t stored_cap;
    unsigned char *raw;       /* codec only: raw_cap */
    size_t raw_cap;
    mgov__dctx_t *dctx;
    mgov_grant_t grant;       /* stored, raw, dctx */

    unsigned char *gather;    /* read_view across blocks */
    size_t gather_cap;
    mgov_grant_t gather_grant;

    unsigned char next[BHDR]; /* header of the block at `off` */
    uint64_t off;             /* where that block's data starts */
    const unsigned char *cur; /* the current block's bytes */
    size_t cur_len, cur_pos;
    uint64_t blocks, raw_read, stored_read; /* blocks taken so far */
};

static void reader_free(mgov_spill_reader_t *r)
{
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    mgov__dctx_free(r->dctx);
    mgov__spill_buf_free(r->stored, r->stored_cap + BHDR);
    mgov__spill_buf_free(r->raw, r->raw_cap);
    mgov__spill_buf_free(r->gather, r->gather_cap);
    mgov_grant_release(&r->grant);
    mgov_grant_release(&r->gather_grant);
    free(r);
}

static size_t min_size(uint64_t a, uint64_t b)
{
    return (size_t)(a < b ? a : b);
}

/* Checks the header, the first block header's place and the footer against
 * the file size; fills r->codec, block_size, foot, next, off. */
static int check_frame(mgov_spill_reader_t *r)
{
    unsigned char head[MGOV__SPILL_FILE_HDR + BHDR], tail[MGOV__SPILL_FOOTER];
    if (r->size < MGOV__SPILL_MIN_FILE)
        return MGOV_ECORRUPT;
    size_t got;
    if (mgov__pread_full(r->fd, head, sizeof head, 0, &got) != 0)
        return MGOV_EIO;
    if (got < sizeof head)
        return MGOV_ECORRUPT;
    mgov__spill_fhdr_t fh;
    if (mgov__spill_fhdr_decode(head, &fh) != MGOV_OK || fh.codec > MGOV_CODEC_ZSTD)
        return MGOV_ECORRUPT;
    if (fh.block_size < MGOV__SPILL_MIN_BLOCK || fh.block_size > r->max_block ||
        fh.block_size > MGOV__SPILL_MAX_BLOCK)
        return MGOV_ECORRUPT;
    if (mgov__pread_full(r->fd, tail, sizeof tail, (off_t)(r->size - sizeof tail), &got) != 0)
        return MGOV_EIO;
    if (got < sizeof tail)
        return MGOV_ECORRUPT;
    mgov__spill_footer_t *f = &r->foot;
    if (mgov__spill_footer_decode(tail, f) != MGOV_OK)
        return MGOV_ECORRUPT;
    /* size == header + block headers + stored bytes + end marker + footer,
     * each term bounded first so nothing overflows */
    uint64_t body = r->size - MGOV__SPILL_MIN_FILE;
    uint64_t min_blocks = f->raw_bytes / fh.block_size + (f->raw_bytes % fh.block_size != 0);
    if (f->blocks > body / BHDR || f->stored_bytes != body - f->blocks * BHDR ||
        f->stored_bytes > f->raw_bytes || f->raw_bytes < f->blocks || min_blocks > f->blocks)
        return MGOV_ECORRUPT;
    int rc = mgov__codec_check((mgov_codec_t)fh.codec);
    if (rc != MGOV_OK)
        return rc; /* MGOV_ENOTSUP: a codec this build lacks */
    r->codec = (mgov_codec_t)fh.codec;
    r->block_size = fh.block_size;
    memcpy(r->next, head + MGOV__SPILL_FILE_HDR, BHDR);
    r->off = sizeof head;
    return MGOV_OK;
}

/* The charge of buffers of these capacities. */
static uint64_t charge_of(mgov_codec_t codec, size_t stored_cap, size_t raw_cap)
{
    return mgov__spill_buf_bytes(stored_cap + BHDR) +
           (raw_cap ? mgov__spill_buf_bytes(raw_cap) : 0) + mgov__dctx_bytes(codec);
}

uint64_t mgov__spill_reader_charge(mgov_codec_t codec, size_t block_size)
{
    size_t bs = block_size ? block_size : MGOV__SPILL_DEFAULT_BLOCK;
    return charge_of(codec, bs, codec != MGOV_CODEC_NONE ? bs : 0);
}

static int gather_reserve(mgov_spill_reader_t *r, size_t n);

static int reader_open(int fd, bool own_fd, uint64_t size, mgov_t *gov, int64_t timeout_ns,
                       size_t max_block, size_t gather, mgov_spill_reader_t **out)
{
    mgov_spill_reader_t *r = mgov__calloc(1, sizeof *r);
    if (!r) {
        if (own_fd)
            close(fd);
        return MGOV_ENOMEM;
    }
    r->fd = fd;
    r->own_fd = own_fd;
    r->gov = gov;
    r->region = gov ? mgov__region_spill(gov) : 0;
    r->timeout_ns = timeout_ns;
    r->max_block = max_block;
    r->size = size;
    int rc = check_frame(r);
    if (rc == MGOV_OK) {
        /* no block holds more than the block size or the file's totals */
        r->stored_cap = min_size(r->block_size, r->foot.stored_bytes);
        r->raw_cap = r->codec ? min_size(r->block_size, r->foot.raw_bytes) : 0;
        rc = mgov__spill_charge(gov, r->region, charge_of(r->codec, r->stored_cap, r->raw_cap),
                                timeout_ns, &r->grant);
    }
    if (rc == MGOV_OK) {
        rc = MGOV_ENOMEM;
        if ((r->stored = mgov__spill_buf_alloc(r->stored_cap + BHDR)) &&
            (!r->raw_cap || (r->raw = mgov__spill_buf_alloc(r->raw_cap))))
            rc = mgov__dctx_new(r->codec, &r->dctx);
    }
    if (rc == MGOV_OK && gather) /* views up to `gather` bytes never charge again */
        rc = gather_reserve(r, gather < r->max_block ? gather : r->max_block);
    if (rc != MGOV_OK) {
        int err = errno;
        reader_free(r);
        errno = err;
        return rc;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = r;
    return MGOV_OK;
}

int mgov_spill_reader_open(const mgov_spill_file_t *f, const mgov_spill_reader_config_t *cfg,
                           mgov_spill_reader_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    if (!f)
        return MGOV_EINVAL;
    int64_t timeout_ns = cfg ? cfg->timeout_ns : f->timeout_ns;
    size_t max_block = cfg && cfg->max_block ? cfg->max_block : DEFAULT_MAX_BLOCK;
    if (max_block < MGOV__SPILL_MIN_BLOCK)
        return MGOV_EINVAL;
    return reader_open(f->fd, false, f->disk, f->dir->gov, timeout_ns, max_block,
                       cfg ? cfg->gather : 0, out);
}

int mgov_spill_reader_open_fd(int fd, const mgov_spill_reader_config_t *cfg,
                              mgov_spill_reader_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    const mgov_spill_reader_config_t defaults = MGOV_SPILL_READER_CONFIG_INIT;
    if (!cfg)
        cfg = &defaults;
    size_t max_block = cfg->max_block ? cfg->max_block : DEFAULT_MAX_BLOCK;
    if (fd < 0 || max_block < MGOV__SPILL_MIN_BLOCK)
        return MGOV_EINVAL;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return MGOV_EIO;
    if (!S_ISREG(st.st_mode))
        return MGOV_EINVAL;
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return mgov__status_from_errno(errno);
    return reader_open(dup_fd, true, (uint64_t)st.st_size, cfg->gov, cfg->timeout_ns, max_block,
                       cfg->gather, out);
}

void mgov_spill_reader_close(mgov_spill_reader_t *r)
{
    if (r)
        reader_free(r);
}

/* ------------------------------------------------------------- blocks */

static int die(mgov_spill_reader_t *r, int rc)
{
    return r->status = rc;
}

/* Checks the header in r->next: MGOV_OK with *h the next block's header,
 * MGOV_ENOTFOUND at a clean end (the end marker, where the footer says),
 * or an error (the reader is then dead).  Nothing is read. */
static int block_header(mgov_spill_reader_t *r, mgov__spill_bhdr_t *h)
{
    if (r->at_end)
        return MGOV_ENOTFOUND;
    if (mgov__spill_bhdr_decode(r->next, h) != MGOV_OK || h->seq != (uint32_t)r->blocks)
        return die(r, MGOV_ECORRUPT);
    const mgov__spill_footer_t *f = &r->foot;
    if (h->raw_len == 0) { /* the end marker, exactly where the footer says */
        if (h->stored_len || h->codec || h->data_crc || r->blocks != f->blocks ||
            r->raw_read != f->raw_bytes || r->stored_read != f->stored_bytes ||
            r->off + MGOV__SPILL_FOOTER != r->size)
            return die(r, MGOV_ECORRUPT);
        r->at_end = true;
        return MGOV_ENOTFOUND;
    }
    bool packed = h->codec != MGOV_CODEC_NONE;
    if (r->blocks >= f->blocks || h->raw_len > r->block_size ||
        h->raw_len > f->raw_bytes - r->raw_read ||
        h->stored_len > f->stored_bytes - r->stored_read ||
        (packed ? h->codec != r->codec || h->stored_len == 0 || h->stored_len >= h->raw_len
                : h->stored_len != h->raw_len))
        return die(r, MGOV_ECORRUPT);
    /* so stored_len <= stored_cap and raw_len <= raw_cap: each is at most
     * block_size and what the footer still owes, and the caps are the
     * smaller of the two */
    return MGOV_OK;
}

/* After a block's bytes and the next header were read: the counters. */
static void block_done(mgov_spill_reader_t *r, const mgov__spill_bhdr_t *h)
{
    r->off += (uint64_t)h->stored_len + BHDR;
    r->blocks++;
    r->raw_read += h->raw_len;
    r->stored_read += h->stored_len;
}

/* Reads the block of header h and the header after it, in one pread, into
 * the reader's buffers: cur/cur_len are then the block's bytes. */
static int block_load(mgov_spill_reader_t *r, const mgov__spill_bhdr_t *h)
{
    size_t want = (size_t)h->stored_len + BHDR, got;
    if (mgov__pread_full(r->fd, r->stored, want, (off_t)r->off, &got) != 0)
        return die(r, MGOV_EIO);
    if (got < want || mgov__crc32c(0, r->stored, h->stored_len) != h->data_crc)
        return die(r, MGOV_ECORRUPT);
    if (h->codec != MGOV_CODEC_NONE) {
        int rc = mgov__decompress(r->dctx, r->stored, h->stored_len, r->raw, h->raw_len);
        if (rc != MGOV_OK)
            return die(r, rc);
        r->cur = r->raw;
    } else {
        r->cur = r->stored;
    }
    memcpy(r->next, r->stored + h->stored_len, BHDR);
    r->cur_len = h->raw_len;
    r->cur_pos = 0;
    block_done(r, h);
    return MGOV_OK;
}

/* A raw block the caller's buffer can take whole goes straight there, and
 * the next header into r->next, with one preadv: no copy. */
static int block_direct(mgov_spill_reader_t *r, const mgov__spill_bhdr_t *h, unsigned char *dst)
{
    struct iovec iov[2] = { { dst, h->stored_len }, { r->next, BHDR } };
    size_t want = (size_t)h->stored_len + BHDR, got;
    if (mgov__preadv_full(r->fd, iov, 2, (off_t)r->off, &got) != 0)
        return die(r, MGOV_EIO);
    if (got < want || mgov__crc32c(0, dst, h->stored_len) != h->data_crc)
        return die(r, MGOV_ECORRUPT);
    r->cur_len = r->cur_pos = 0;
    block_done(r, h);
    return MGOV_OK;
}

/* The next block into the reader's buffers (see block_header for the
 * statuses). */
static int next_block(mgov_spill_reader_t *r)
{
    mgov__spill_bhdr_t h;
    int rc = block_header(r, &h);
    return rc == MGOV_OK ? block_load(r, &h) : rc;
}

int mgov_spill_read(mgov_spill_reader_t *r, void *dst, size_t n, size_t *got)
{
    if (got)
        *got = 0;
    if (!r || !got || (!dst && n))
        return MGOV_EINVAL;
    if (r->status != MGOV_OK)
        return r->status;
    unsigned char *d = dst;
    size_t done = 0;
    while (done < n) {
        if (r->cur_pos == r->cur_len) {
            mgov__spill_bhdr_t h;
            int rc = block_header(r, &h);
            if (rc == MGOV_ENOTFOUND)
                break;
            if (rc == MGOV_OK && h.codec == MGOV_CODEC_NONE && h.raw_len <= n - done) {
                if ((rc = block_direct(r, &h, d + done)) != MGOV_OK)
                    return rc;
                done += h.raw_len;
                continue;
            }
            if (rc == MGOV_OK)
                rc = block_load(r, &h);
            if (rc != MGOV_OK)
                return rc;
        }
        size_t take = r->cur_len - r->cur_pos;
        if (take > n - done)
            take = n - done;
        memcpy(d + done, r->cur + r->cur_pos, take);
        r->cur_pos += take;
        done += take;
    }
    *got = done;
    return done || n == 0 ? 1 : 0;
}

/* Makes the gather buffer hold at least n bytes (n <= max_block). */
static int gather_reserve(mgov_spill_reader_t *r, size_t n)
{
    if (n <= r->gather_cap)
        return MGOV_OK;
    /* the first one as asked (a merge asks for its longest record at open:
     * doubling from 4 KiB would charge up to twice that for each reader),
     * later ones doubling */
    size_t cap = r->gather_cap ? r->gather_cap : n > 4096 ? n : 4096;
    while (cap < n)
        cap = cap > SIZE_MAX / 2 ? n : cap * 2;
    if (cap > r->max_block)
        cap = r->max_block; /* still >= n */
    size_t bytes = mgov__spill_buf_bytes(cap);
    uint64_t held = r->gather_cap ? mgov__spill_buf_bytes(r->gather_cap) : 0;
    mgov_grant_t more;
    int rc = mgov__spill_charge(r->gov, r->region, bytes - held, r->timeout_ns, &more);
    if (rc != MGOV_OK)
        return rc;
    unsigned char *p = mgov__spill_buf_alloc(cap);
    if (!p) {
        mgov_grant_release(&more);
        return MGOV_ENOMEM;
    }
    mgov__spill_buf_free(r->gather, r->gather_cap);
    r->gather = p;
    r->gather_cap = cap;
    if (more.gov && r->gather_grant.gov)
        mgov_grant_merge(&r->gather_grant, &more);
    else if (more.gov)
        r->gather_grant = more;
    return MGOV_OK;
}

int mgov_spill_read_view(mgov_spill_reader_t *r, size_t n, const void **p)
{
    if (p)
        *p = NULL;
    if (!r || !p || n > r->max_block)
        return MGOV_EINVAL;
    if (r->status != MGOV_OK)
        return r->status;
    if (n == 0) { /* always available, and no reason to read a block */
        *p = r->cur ? r->cur + r->cur_pos : r->stored;
        return 1;
    }
    if (r->cur_pos == r->cur_len) {
        int rc = next_block(r);
        if (rc != MGOV_OK)
            return rc == MGOV_ENOTFOUND ? 0 : rc; /* no byte left: the end */
    }
    size_t avail = r->cur_len - r->cur_pos;
    if (n <= avail) {
        *p = r->cur + r->cur_pos;
        r->cur_pos += n;
        return 1;
    }
    /* across blocks: a budget refusal here leaves the reader as it was */
    int rc = gather_reserve(r, n);
    if (rc != MGOV_OK)
        return rc;
    size_t done = 0;
    while (done < n) {
        if (r->cur_pos == r->cur_len) {
            rc = next_block(r);
            if (rc == MGOV_ENOTFOUND)
                return die(r, MGOV_ECORRUPT); /* the data ends inside the view */
            if (rc != MGOV_OK)
                return rc;
        }
        size_t take = r->cur_len - r->cur_pos;
        if (take > n - done)
            take = n - done;
        memcpy(r->gather + done, r->cur + r->cur_pos, take);
        r->cur_pos += take;
        done += take;
    }
    *p = r->gather;
    return 1;
}

int mgov_spill_read_some(mgov_spill_reader_t *r, size_t max, const void **p, size_t *got)
{
    if (p)
        *p = NULL;
    if (got)
        *got = 0;
    if (!r || !p || !got)
        return MGOV_EINVAL;
    if (r->status != MGOV_OK)
        return r->status;
    if (max == 0)
        return 1;
    if (r->cur_pos == r->cur_len) {
        int rc = next_block(r);
        if (rc != MGOV_OK)
            return rc == MGOV_ENOTFOUND ? 0 : rc; /* the end: *got stays 0 */
    }
    size_t avail = r->cur_len - r->cur_pos;
    *got = avail < max ? avail : max;
    *p = r->cur + r->cur_pos;
    r->cur_pos += *got;
    return 1;
}
