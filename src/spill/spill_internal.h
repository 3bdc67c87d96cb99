/* spill/spill_internal.h - internal: what the spill sources share: the
 * directory and file structures, quota accounting, buffer charging, the
 * codec contexts and the stale-file sweeps.  Not installed.
 *
 * Ownership
 *   A directory owns the list of its live files: a file is linked in when
 *   it is created on disk (by a writer) and unlinked when it is removed
 *   (file destroy, writer abort or failure, directory close).  A writer
 *   holds its file until finish hands it to the caller.  Readers borrow a
 *   finished file (its descriptor, with pread) and own nothing of it.
 *
 * Accounting
 *   dir->used is the sum over live files of f->disk plus the bytes of
 *   writes in flight and of the files kept by a layer above (spill_kept.h);
 *   it never exceeds dir->quota (reserved by CAS before each write, given
 *   back when a write fails or a file is removed), except by the bytes of
 *   kept files found on disk at open (dir->found), which are counted even
 *   over it.  mgov__spill_dir_check checks all this at rest.  The
 *   governor's spill gauge gets f->disk as it grows (after the write its
 *   reservation covers) and loses it when the file is removed (before the
 *   reservation is given back), so the gauge never exceeds the quota.
 *
 * Locking
 *   dir->mu guards the file list only; it is a leaf lock, never held across
 *   I/O or a governor call.  Everything else in a directory is immutable
 *   after open or atomic.  A file's fields are written by its writer before
 *   finish hands it out, and only read afterwards.
 */
#ifndef MGOV_SPILL_INTERNAL_H
#define MGOV_SPILL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "memgov/spill.h"
#include "spill/spill_costs.h"
#include "spill/spill_format.h"

/* The governor's layer-state slot of the spill directory (governor/hooks.h). */
#define MGOV__SPILL_SLOT 0

#define MGOV__SPILL_LOCK_NAME "memgov.lock"
#define MGOV__SPILL_PRIVATE_PREFIX "memgov-"

struct mgov_spill_dir {
    char *path;         /* as configured (trailing '/' removed) or base/name */
    int dirfd;          /* the directory itself (O_DIRECTORY|O_NOFOLLOW) */
    int lockfd;         /* memgov.lock, flock'ed LOCK_EX for our lifetime */
    int parentfd;       /* private directories: $TMPDIR, to rmdir at close */
    const char *name;   /* private directories: the last component of path */
    bool is_private;
    int sig_slot;       /* its slot in spill_signal.c's table, or -1 */
    mgov_t *gov;        /* optional */
    int region;         /* the governor's spill-staging region */
    uint64_t quota;

    /* written by every writer: on a line of its own */
    _Alignas(64) _Atomic uint64_t used;
    _Atomic uint64_t seq; /* the next file number */
    _Atomic unsigned n_files;
    _Atomic uint64_t found; /* bytes charged by mgov__spill_dir_charge_found */

    pthread_mutex_t mu; /* guards files */
    mgov_spill_file_t *files;
};

struct mgov_spill_file {
    mgov_spill_dir_t *dir;
    mgov_spill_file_t *prev, *next; /* dir->files, under dir->mu */
    int fd;                         /* O_RDWR: the writer writes, readers pread */
    uint64_t disk;                  /* bytes written, counted in dir->used */
    uint64_t raw_bytes;             /* set at finish */
    mgov_codec_t codec;
    uint32_t block_size;
    int64_t timeout_ns;             /* readers' buffer grants wait this long */
    size_t name_off;                /* path + name_off: the name in dir */
    char path[];                    /* dir->path + "/spill-<n>.tmp" */
};

/* ---------------------------------------------------------------- dir */

/* Reserves `bytes` of the quota (MGOV_ENOSPC when they do not fit). */
int mgov__spill_dir_reserve(mgov_spill_dir_t *dir, uint64_t bytes);
void mgov__spill_dir_unreserve(mgov_spill_dir_t *dir, uint64_t bytes);

/* Checks the directory's invariants (the file comment): its descriptors,
 * the file list against n_files, each file's links and name, used against
 * the live files' bytes and the quota.  At rest: a writer must not be
 * writing meanwhile (a file's byte count is its writer's).  MGOV_OK,
 * MGOV_ECORRUPT, MGOV_EINVAL (NULL).  For tests and debugging. */
int mgov__spill_dir_check(mgov_spill_dir_t *dir);

/* Creates a new empty file spill-<n>.tmp in dir and links it in.
 * MGOV_ENOMEM, MGOV_ENOSPC (ENOSPC/EDQUOT), MGOV_EIO (errno kept). */
int mgov__spill_file_create(mgov_spill_dir_t *dir, mgov_spill_file_t **out);
/* Unlinks the file, closes it, gives its bytes back and frees it. */
void mgov__spill_file_remove(mgov_spill_file_t *f);

/* Reserves `bytes` for buffers in `region` (mgov__region_spill of gov):
 * fail fast when timeout_ns is 0, else waiting.  No governor (or 0 bytes):
 * an empty grant. */
int mgov__spill_charge(mgov_t *gov, int region, uint64_t bytes, int64_t timeout_ns,
                       mgov_grant_t *out);

/* An I/O buffer of at least n bytes: whole pages of its own mapping (what
 * mgov__spill_buf_bytes(n) says it takes, the figure to charge), NULL when
 * the (fault-injectable) mapping fails.  Not from the C heap: a freed
 * buffer leaves the process at once, where malloc would keep it resident
 * past its grant (glibc's dynamic mmap threshold serves buffers of this
 * size from a heap it does not trim). */
void *mgov__spill_buf_alloc(size_t n);
/* Unmaps a buffer of mgov__spill_buf_alloc(n); p may be NULL. */
void mgov__spill_buf_free(void *p, size_t n);

/* ------------------------------------------------------------- stale */

/* True for "spill-<digits>.tmp". */
bool mgov__spill_tmp_name(const char *name);
/* Removes the regular files named spill-<digits>.tmp in the directory. */
void mgov__spill_tmp_remove(int dirfd);
/* Removes the private directories of dead processes in basefd. */
void mgov__spill_stale_sweep(int basefd);

/* spill_signal.c: lists an opened directory for
 * mgov_spill_cleanup_from_signal (sets dir->sig_slot, -1 when the table is
 * full), and takes it off again first thing at close (waiting while a
 * handler cleans it). */
void mgov__spill_signal_add(mgov_spill_dir_t *dir);
void mgov__spill_signal_remove(mgov_spill_dir_t *dir);

/* ------------------------------------------------------------- codecs */

typedef struct mgov__cctx mgov__cctx_t;
typedef struct mgov__dctx mgov__dctx_t;

/* MGOV_EINVAL for an unknown codec, MGOV_ENOTSUP for one not built in. */
int mgov__codec_check(mgov_codec_t codec);
/* Memory a compression / decompression context takes (an estimate to
 * charge; 0 for MGOV_CODEC_NONE). */
uint64_t mgov__cctx_bytes(mgov_codec_t codec, int level, size_t block_size);
uint64_t mgov__dctx_bytes(mgov_codec_t codec);
/* Contexts; NONE needs none (*out = NULL).  MGOV_ENOMEM. */
int mgov__cctx_new(mgov_codec_t codec, int level, size_t block_size, mgov__cctx_t **out);
void mgov__cctx_free(mgov__cctx_t *c);
int mgov__dctx_new(mgov_codec_t codec, mgov__dctx_t **out);
void mgov__dctx_free(mgov__dctx_t *d);
/* Compresses n bytes into at most cap; *out = 0 when they do not fit.
 * MGOV_ENOMEM (the codec could not allocate), MGOV_EIO (any other codec
 * error). */
int mgov__compress(mgov__cctx_t *c, const void *src, size_t n, void *dst, size_t cap,
                   size_t *out);
/* Decompresses n bytes into exactly raw_len; anything else (bad data, a
 * different size) is MGOV_ECORRUPT; MGOV_ENOMEM. */
int mgov__decompress(mgov__dctx_t *d, const void *src, size_t n, void *dst, size_t raw_len);

#endif /* MGOV_SPILL_INTERNAL_H */
