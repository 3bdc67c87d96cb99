/* memgov/spill.h - the spill directory and spill files.
 *
 * A spill directory holds the files memgov writes when data leaves RAM.
 * It is the configured path, or a private directory made under $TMPDIR
 * (/tmp when unset) with mode 0700.  A lock file in it (flock'ed for the
 * owner's lifetime, holding its pid) tells live directories from those a
 * crashed process left: at open, private directories of memgov processes
 * that no longer exist are removed; nothing else is ever touched.  Files are
 * made 0600 with O_EXCL|O_NOFOLLOW|O_CLOEXEC and unlinked when done.
 *
 * A disk quota bounds the bytes of all files of a directory (default: half
 * the free space of its file system at open).  Reaching it, or ENOSPC or
 * EDQUOT from the system, fails the write with MGOV_ENOSPC and removes the
 * partial file.  With a governor, bytes on disk show in mgov_stats
 * (spill_bytes, spill_bytes_peak, spill_quota) and I/O buffers are charged
 * to its spill-staging region.
 *
 * A spill file is a stream of bytes stored as checksummed blocks, each
 * optionally compressed (lz4, zstd); docs/spill.md gives the format.  A
 * reader bounds every length before it allocates: a bad magic, version,
 * checksum or length is MGOV_ECORRUPT, never a crash.
 *
 * Lifecycle: open a directory (or take the governor's with
 * mgov_spill_dir_get); create a writer, write, finish it into a file; open
 * readers on the file (several, one after another or at once); destroy the
 * file (unlinks it).  Every file must be destroyed before its directory is
 * closed.
 *
 * Thread safety: a directory may be used from many threads at once (file
 * creation and quota accounting are atomic); close it when no other thread
 * uses it.  A writer or reader is used by one thread at a time.  A finished
 * file may be read by several readers in different threads at once;
 * destroy it only when none is open.
 */
#ifndef MEMGOV_SPILL_H
#define MEMGOV_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memgov/common.h"
#include "memgov/governor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------- codecs */

/* XX(NAME, value, name): MGOV_CODEC_NAME and what mgov_codec_name says and
 * mgov_codec_parse reads, from this one list. */
#define MGOV_CODEC_MAP(XX)                                                                         \
    XX(NONE, 0, "none")                                                                            \
    XX(LZ4, 1, "lz4")                                                                              \
    XX(ZSTD, 2, "zstd")

typedef enum mgov_codec {
#define MGOV__CODEC_ENUM(name, value, str) MGOV_CODEC_##name = (value),
    MGOV_CODEC_MAP(MGOV__CODEC_ENUM)
#undef MGOV__CODEC_ENUM
} mgov_codec_t;

/* True when this build can write and read the codec (NONE always). */
MGOV_API bool mgov_codec_available(mgov_codec_t codec);
/* "none", "lz4", "zstd"; "unknown" otherwise. */
MGOV_API const char *mgov_codec_name(mgov_codec_t codec);
/* Parses a codec name.  MGOV_EINVAL for an unknown name, MGOV_ENOTSUP for a
 * known codec this build lacks (*out is set either way when known). */
MGOV_API int mgov_codec_parse(const char *name, mgov_codec_t *out);

/* -------------------------------------------------------------- directory */

typedef struct mgov_spill_dir mgov_spill_dir_t;

typedef struct mgov_spill_dir_config {
    const char *path;  /* NULL: a private directory under $TMPDIR (or /tmp) */
    uint64_t quota;    /* bytes on disk; 0 = half the file system's free space */
    mgov_t *gov;       /* optional: stats and buffer charges go to it */
} mgov_spill_dir_config_t;
#define MGOV_SPILL_DIR_CONFIG_INIT { 0 }

/* Opens (creating when missing, mode 0700) a spill directory and takes its
 * lock.  cfg may be NULL: a private directory, the default quota, no
 * governor.  A configured path that is already open (in another process,
 * or through another open in this one) is MGOV_EBUSY; one that is not a
 * directory, or is a symlink, or whose memgov.lock is not a regular file
 * (never waited on: a FIFO there is opened without blocking), is
 * MGOV_EINVAL.  Files a dead owner left in
 * it (this layer's temporary files only) are removed.  A private directory
 * is made as $TMPDIR/memgov-<pid>-<random>; stale private directories of
 * dead processes beside it are removed first.  With cfg->gov, bytes on disk
 * feed its spill_bytes stats and buffers are charged to it (spill_quota in
 * its stats is its own directory's: mgov_spill_dir_get).
 * Errors: MGOV_EINVAL, MGOV_EBUSY, MGOV_EIO (with errno kept), MGOV_ENOMEM. */
MGOV_API int mgov_spill_dir_open(const mgov_spill_dir_config_t *cfg, mgov_spill_dir_t **out);

/* Closes a directory: unlinks its lock file and, for a private directory,
 * the directory itself.  Files still alive are unlinked too and their
 * handles freed (they must not be used afterwards); writers and readers
 * must be gone before.  NULL is a no-op. */
MGOV_API void mgov_spill_dir_close(mgov_spill_dir_t *dir);

/* The governor's directory: made on first call from its config (spill_dir,
 * spill_quota), closed by mgov_destroy.  Thread-safe.  Errors as open. */
MGOV_API int mgov_spill_dir_get(mgov_t *gov, mgov_spill_dir_t **out);

/* The directory's path (the library's copy), valid until it is closed;
 * NULL for NULL. */
MGOV_API const char *mgov_spill_dir_path(const mgov_spill_dir_t *dir);
MGOV_API uint64_t mgov_spill_dir_quota(const mgov_spill_dir_t *dir);
MGOV_API uint64_t mgov_spill_dir_used(const mgov_spill_dir_t *dir);  /* bytes on disk now */
MGOV_API unsigned mgov_spill_dir_files(const mgov_spill_dir_t *dir); /* files alive now */

/* Ending on a signal.  A process killed by a signal it does not catch
 * (SIGINT, SIGTERM, SIGHUP, SIGPIPE from `prog | head`) leaves its spill
 * files on disk: a private directory until the next memgov process on the
 * host sweeps it, a configured one until the next open of that directory.
 * Two ways to leave nothing:
 *   - the handler only sets a flag; the program's loops look at it, stop,
 *     destroy their operators and the governor (which remove every file
 *     and the private directory), and then the program ends by the signal
 *     (signal(sig, SIG_DFL); raise(sig)).  This is what `memgov sort` does
 *     (tools/signals.c), and the only way that also keeps the exit status
 *     and the program's own files right;
 *   - a handler that must end the process at once calls
 *     mgov_spill_cleanup_from_signal() first.
 *
 * mgov_spill_cleanup_from_signal: unlinks, in every spill directory this
 * process has open, the spill files (spill-<n>.tmp) and the lock file,
 * and in a private directory also the section files, then removes the
 * private directory.  Section files in a configured directory (persistent
 * sections) are never touched.  Returns how many files it removed.
 *
 * Async-signal-safe: no lock, no allocation, only system calls; errno is
 * preserved.  It is for a handler that then ends the process: files are
 * unlinked under writers and readers that may still be using them (their
 * data is gone; their calls fail or read what the descriptor still holds),
 * and a private directory is gone for new files, so nothing memgov does
 * with spill files succeeds afterwards.  A directory being opened or
 * closed at that moment, in another thread or in the one the signal
 * interrupted, may be skipped.  Calling it outside a handler is allowed
 * (the same effect).  A child made by fork() shares its parent's
 * directories: calling it there removes the parent's files. */
MGOV_API unsigned mgov_spill_cleanup_from_signal(void);

/* ------------------------------------------------------------------ files */

typedef struct mgov_spill_writer mgov_spill_writer_t;
typedef struct mgov_spill_reader mgov_spill_reader_t;
typedef struct mgov_spill_file mgov_spill_file_t;

typedef struct mgov_spill_options {
    mgov_codec_t codec;   /* MGOV_CODEC_NONE by default */
    int level;            /* codec level; 0 = the codec's default.  zstd: its
                             levels, clamped to what the library supports; lz4:
                             a negative level -n is acceleration n (faster,
                             larger), others are the default */
    size_t block_size;    /* raw bytes per block: 4 KiB..64 MiB; 0 = 1 MiB */
    int64_t timeout_ns;   /* how long buffer grants may wait; 0 = fail fast, <0 forever */
} mgov_spill_options_t;
#define MGOV_SPILL_OPTIONS_INIT { 0 }

/* Creates a new, empty spill file in dir and a writer for it; its buffers
 * (one block, two with a codec, plus the codec's context) are charged to
 * the governor's spill-staging region.  opts may be NULL.  Errors:
 * MGOV_EINVAL (bad block size, unknown codec), MGOV_ENOTSUP (codec not
 * built in), MGOV_EBUDGET/MGOV_ELIMIT/MGOV_ETIMEDOUT (buffers refused),
 * MGOV_ENOMEM, MGOV_ENOSPC (ENOSPC or EDQUOT creating the file), MGOV_EIO. */
MGOV_API int mgov_spill_writer_create(mgov_spill_dir_t *dir, const mgov_spill_options_t *opts,
                                      mgov_spill_writer_t **out);

/* Appends len bytes.  Full blocks are written as they fill.  On any error
 * the writer is dead: every later call fails with the same status; abort
 * or finish it to remove the file.  Errors: MGOV_ENOSPC (quota, ENOSPC,
 * EDQUOT), MGOV_EIO, MGOV_ENOMEM. */
MGOV_API int mgov_spill_write(mgov_spill_writer_t *w, const void *data, size_t len);

/* Writes the last block and the footer, frees the writer (always) and hands
 * back the finished file in *out.  On error (the writer's own, or the last
 * write's; MGOV_EINVAL when out is NULL) no file is left behind and *out
 * is NULL. */
MGOV_API int mgov_spill_writer_finish(mgov_spill_writer_t *w, mgov_spill_file_t **out);

/* Frees the writer and removes its file.  NULL is a no-op. */
MGOV_API void mgov_spill_writer_abort(mgov_spill_writer_t *w);

/* Unlinks the file, gives its bytes back to the quota, frees the handle.
 * No reader may be open on it.  NULL is a no-op. */
MGOV_API void mgov_spill_file_destroy(mgov_spill_file_t *f);

MGOV_API uint64_t mgov_spill_file_raw_bytes(const mgov_spill_file_t *f);    /* bytes written */
MGOV_API uint64_t mgov_spill_file_stored_bytes(const mgov_spill_file_t *f); /* size on disk,
                                                                               headers too */
/* The file's path (the library's copy), valid until it is destroyed (or
 * its directory closed); NULL for NULL. */
MGOV_API const char *mgov_spill_file_path(const mgov_spill_file_t *f);

typedef struct mgov_spill_reader_config {
    mgov_t *gov;          /* mgov_spill_reader_open_fd only: charges the buffers to its
                             spill-staging region (a file's reader charges the
                             governor of the file's directory) */
    int64_t timeout_ns;   /* how long buffer grants may wait; 0 = fail fast, < 0 forever */
    size_t max_block;     /* refuse blocks larger than this; 0 = 64 MiB */
    size_t gather;        /* bytes of gather buffer to reserve at open, so views up to
                             this size never charge again; 0 = grown when needed */
} mgov_spill_reader_config_t;
#define MGOV_SPILL_READER_CONFIG_INIT { 0 }

/* Opens a reader at the start of a finished file.  Its buffers (no larger
 * than the file needs) are charged to the governor of the file's
 * directory, waiting up to cfg->timeout_ns; with cfg NULL, up to the
 * timeout_ns its writer had (a merge that probes how many readers fit
 * passes 0, so it never waits while holding the others).  The header and
 * footer are checked here.  Errors: MGOV_EINVAL (NULL file or out, a
 * max_block below 4 KiB), MGOV_ECORRUPT, MGOV_ENOTSUP (codec not built in),
 * MGOV_EIO, budget errors, MGOV_ENOMEM. */
MGOV_API int mgov_spill_reader_open(const mgov_spill_file_t *f,
                                    const mgov_spill_reader_config_t *cfg,
                                    mgov_spill_reader_t **out);

/* Opens a reader on any file in the spill format (a fresh reader of a file
 * found on disk, or bytes under test): a regular file read with pread from
 * offset 0 to its size now.  The fd is duplicated; the caller keeps its
 * own.  cfg may be NULL (no governor, fail fast).  A max_block below 4 KiB,
 * a bad fd or one that is not a regular file is MGOV_EINVAL.  Other errors
 * as above. */
MGOV_API int mgov_spill_reader_open_fd(int fd, const mgov_spill_reader_config_t *cfg,
                                       mgov_spill_reader_t **out);

/* Reads, one convention for every stream of memgov: a call returns 1 with
 * data, 0 at the end of the data (nothing read), or a negative error.
 * Errors: MGOV_ECORRUPT, MGOV_EIO, MGOV_ENOMEM, MGOV_EINVAL (bad
 * arguments); after an error other than MGOV_EINVAL or a refused gather
 * grant the reader is dead: every later call returns the same error. */

/* Copies up to n bytes into dst and sets *got; *got is less than n only at
 * the end of the data.  Returns 1 when *got > 0 (or n == 0), 0 at the end
 * (*got == 0). */
MGOV_API int mgov_spill_read(mgov_spill_reader_t *r, void *dst, size_t n, size_t *got);

/* Zero-copy read of exactly n bytes: *p points into the reader's buffer and
 * stays valid until the next call on r.  When the n bytes cross a block
 * boundary they are gathered into a buffer of the reader, grown (and
 * charged) as needed up to n unless reserved at open (cfg.gather); n above
 * max_block is MGOV_EINVAL.  Returns 1 (n == 0 always does), 0 at a clean
 * end of data with no byte left (the reader stays at the end), and
 * MGOV_ECORRUPT when some but fewer than n bytes are left.  MGOV_EINVAL
 * and a refused grant for the gather buffer (budget errors, MGOV_ENOMEM)
 * leave the reader as it was. */
MGOV_API int mgov_spill_read_view(mgov_spill_reader_t *r, size_t n, const void **p);

/* Zero-copy read of up to max bytes, never crossing a block: *p points
 * into the reader's block and stays valid until the next call on r.
 * Returns 1 with *got >= 1 (less than max at a block's end; max == 0
 * returns 1 with *got == 0), 0 at the end of the data.  Never allocates. */
MGOV_API int mgov_spill_read_some(mgov_spill_reader_t *r, size_t max, const void **p,
                                  size_t *got);

/* Frees the reader and its buffers.  NULL is a no-op. */
MGOV_API void mgov_spill_reader_close(mgov_spill_reader_t *r);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_SPILL_H */
