/* spill/codec.c - the compression codecs of spill blocks: their names, and
 * one-shot compression and decompression of a block over lz4 and zstd.
 *
 * A codec is built in when CMake found its library (MGOV_HAVE_LZ4,
 * MGOV_HAVE_ZSTD); without it the codec is "not supported", and files that
 * use it can be neither written nor read.
 *
 * Contexts are kept per writer (compression) and per reader
 * (decompression), never shared, so no locking: lz4 needs a state for
 * compression only (LZ4_compress_fast_extState), zstd a ZSTD_CCtx / DCtx.
 * Their memory comes from the fault-injectable allocator (zstd's through
 * its custom-allocator hook), and the writer or reader charges an estimate
 * of it to the governor with its buffers.
 *
 * Levels: zstd takes its own levels (0 = its default, 3), clamped to the
 * range the library supports.  lz4 has no levels: a negative level -n is
 * its "acceleration" n (faster, larger), anything else the default.
 *
 * zstd's experimental API (ZSTD_STATIC_LINKING_ONLY) gives the custom
 * allocator and the size estimates; Debian's libzstd exports those symbols.
 */
#include <stdlib.h>
#include <strings.h>

#include "spill/spill_internal.h"
#include "sys/fault.h"

#ifdef MGOV_HAVE_LZ4
#include <lz4.h>
#endif
#ifdef MGOV_HAVE_ZSTD
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>
#endif

struct mgov__cctx {
    mgov_codec_t codec;
    int level; /* zstd: the level; lz4: the acceleration */
    void *state;
};

struct mgov__dctx {
    mgov_codec_t codec;
    void *state;
};

static const char *const names[] = { /* from MGOV_CODEC_MAP (memgov/spill.h) */
#define XX(name, value, str) [MGOV_CODEC_##name] = str,
    MGOV_CODEC_MAP(XX)
#undef XX
};

bool mgov_codec_available(mgov_codec_t codec)
{
    switch (codec) {
    case MGOV_CODEC_NONE:
        return true;
#ifdef MGOV_HAVE_LZ4
    case MGOV_CODEC_LZ4:
        return true;
#endif
#ifdef MGOV_HAVE_ZSTD
    case MGOV_CODEC_ZSTD:
        return true;
#endif
    default:
        return false;
    }
}

const char *mgov_codec_name(mgov_codec_t codec)
{
    return (unsigned)codec < sizeof names / sizeof names[0] && names[codec] ? names[codec]
                                                                           : "unknown";
}

int mgov_codec_parse(const char *name, mgov_codec_t *out)
{
    if (!name || !out)
        return MGOV_EINVAL;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i] && strcasecmp(name, names[i]) == 0) {
            *out = (mgov_codec_t)i;
            return mgov_codec_available(*out) ? MGOV_OK : MGOV_ENOTSUP;
        }
    return MGOV_EINVAL;
}

int mgov__codec_check(mgov_codec_t codec)
{
    if ((unsigned)codec >= sizeof names / sizeof names[0] || !names[codec])
        return MGOV_EINVAL;
    return mgov_codec_available(codec) ? MGOV_OK : MGOV_ENOTSUP;
}

#ifdef MGOV_HAVE_ZSTD
static void *zstd_alloc(void *opaque, size_t n)
{
    (void)opaque;
    return mgov__malloc(n);
}

static void zstd_free(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

static const ZSTD_customMem zstd_mem = { zstd_alloc, zstd_free, NULL };

static int zstd_level(int level)
{
    if (level == 0)
        return ZSTD_CLEVEL_DEFAULT;
    if (level < ZSTD_minCLevel())
        return ZSTD_minCLevel();
    return level > ZSTD_maxCLevel() ? ZSTD_maxCLevel() : level;
}
#endif

#ifdef MGOV_HAVE_LZ4
#define LZ4_STATE_ALIGN 64

static size_t lz4_state_bytes(void)
{
    size_t n = (size_t)LZ4_sizeofState();
    return (n + LZ4_STATE_ALIGN - 1) & ~(size_t)(LZ4_STATE_ALIGN - 1);
}
#endif

uint64_t mgov__cctx_bytes(mgov_codec_t codec, int level, size_t block_size)
{
    (void)level;
    (void)block_size;
    switch (codec) {
#ifdef MGOV_HAVE_LZ4
    case MGOV_CODEC_LZ4:
        return lz4_state_bytes();
#endif
#ifdef MGOV_HAVE_ZSTD
    case MGOV_CODEC_ZSTD:
        return ZSTD_estimateCCtxSize_usingCParams(
            ZSTD_getCParams(zstd_level(level), block_size, 0));
#endif
    default:
        return 0;
    }
}

uint64_t mgov__dctx_bytes(mgov_codec_t codec)
{
    switch (codec) {
#ifdef MGOV_HAVE_ZSTD
    case MGOV_CODEC_ZSTD:
        return ZSTD_estimateDCtxSize();
#endif
    default:
        return 0;
    }
}

int mgov__cctx_new(mgov_codec_t codec, int level, size_t block_size, mgov__cctx_t **out)
{
    (void)level;
    (void)block_size;
    *out = NULL;
    if (codec == MGOV_CODEC_NONE)
        return MGOV_OK;
    mgov__cctx_t *c = mgov__calloc(1, sizeof *c);
    if (!c)
        return MGOV_ENOMEM;
    c->codec = codec;
    switch (codec) {
#ifdef MGOV_HAVE_LZ4
    case MGOV_CODEC_LZ4:
        c->level = level < 0 ? -level : 1;
        c->state = mgov__aligned_alloc(LZ4_STATE_ALIGN, lz4_state_bytes());
        break;
#endif
#ifdef MGOV_HAVE_ZSTD
    case MGOV_CODEC_ZSTD:
        c->level = zstd_level(level);
        c->state = ZSTD_createCCtx_advanced(zstd_mem);
        break;
#endif
    default:
        break;
    }
    if (!c->state) {
        free(c);
        return MGOV_ENOMEM;
    }
    *out = c;
    return MGOV_OK;
}

void mgov__cctx_free(mgov__cctx_t *c)
{
    if (!c)
        return;
#ifdef MGOV_HAVE_ZSTD
    if (c->codec == MGOV_CODEC_ZSTD)
        ZSTD_freeCCtx(c->state);
    else
#endif
        free(c->state);
    free(c);
}

int mgov__dctx_new(mgov_codec_t codec, mgov__dctx_t **out)
{
    *out = NULL;
    if (codec == MGOV_CODEC_NONE)
        return MGOV_OK;
    mgov__dctx_t *d = mgov__calloc(1, sizeof *d);
    if (!d)
        return MGOV_ENOMEM;
    d->codec = codec;
#ifdef MGOV_HAVE_ZSTD
    if (codec == MGOV_CODEC_ZSTD && !(d->state = ZSTD_createDCtx_advanced(zstd_mem))) {
        free(d);
        return MGOV_ENOMEM;
    }
#endif
    *out = d;
    return MGOV_OK;
}

void mgov__dctx_free(mgov__dctx_t *d)
{
    if (!d)
        return;
#ifdef MGOV_HAVE_ZSTD
    if (d->codec == MGOV_CODEC_ZSTD)
        ZSTD_freeDCtx(d->state);
#endif
    free(d);
}

int mgov__compress(mgov__cctx_t *c, const void *src, size_t n, void *dst, size_t cap,
                   size_t *out)
{
    (void)src;
    (void)n;
    (void)dst;
    *out = 0;
    if (cap == 0)
        return MGOV_OK;
    switch (c->codec) {
#ifdef MGOV_HAVE_LZ4
    case MGOV_CODEC_LZ4: {
        /* 0 means "did not fit in cap" */
        int r = LZ4_compress_fast_extState(c->state, src, dst, (int)n, (int)cap, c->level);
        *out = r > 0 ? (size_t)r : 0;
        return MGOV_OK;
    }
#endif
#ifdef MGOV_HAVE_ZSTD
    case MGOV_CODEC_ZSTD: {
        size_t r = ZSTD_compressCCtx(c->state, dst, cap, src, n, c->level);
        if (!ZSTD_isError(r)) {
            *out = r;
            return MGOV_OK;
        }
        switch (ZSTD_getErrorCode(r)) {
        case ZSTD_error_dstSize_tooSmall:
            return MGOV_OK;
        case ZSTD_error_memory_allocation:
            return MGOV_ENOMEM;
        default:
            return MGOV_EIO;
        }
    }
#endif
    default:
        return MGOV_EINVAL;
    }
}

int mgov__decompress(mgov__dctx_t *d, const void *src, size_t n, void *dst, size_t raw_len)
{
    (void)src;
    (void)n;
    (void)dst;
    (void)raw_len;
    switch (d->codec) {
#ifdef MGOV_HAVE_LZ4
    case MGOV_CODEC_LZ4: {
        int r = LZ4_decompress_safe(src, dst, (int)n, (int)raw_len);
        return r >= 0 && (size_t)r == raw_len ? MGOV_OK : MGOV_ECORRUPT;
    }
#endif
#ifdef MGOV_HAVE_ZSTD
    case MGOV_CODEC_ZSTD: {
        size_t r = ZSTD_decompressDCtx(d->state, dst, raw_len, src, n);
        if (!ZSTD_isError(r))
            return r == raw_len ? MGOV_OK : MGOV_ECORRUPT;
        return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? MGOV_ENOMEM
                                                                    : MGOV_ECORRUPT;
    }
#endif
    default:
        return MGOV_ECORRUPT;
    }
}
