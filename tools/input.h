/* input.h - reading a command's input files in large blocks: one file (or
 * standard input) at a time, read with read(2) into one buffer and handed
 * out as lines or fixed-width records that point into that buffer.
 *
 *   buf: [ consumed | pos .. unconsumed .. end | free space ... cap ]
 *
 * A line or record is returned as a pointer into buf, valid until the next
 * call; nothing is copied unless a line crosses the end of the buffer, when
 * its start is moved to the front and the rest read after it.  A line
 * longer than the buffer grows it (doubling) up to max_line, and once the
 * long line is consumed it shrinks back to its first size.  The buffer is
 * kept from file to file.
 *
 * With a governor, the buffer is memory like any other: a grant in
 * execution_buffers covers its size at all times, so a growing buffer
 * takes its room from the budget (a reclaim asks the operator to spill,
 * and the room callback, when set, makes it give memory back at once);
 * refused, the line is CLI_INPUT_NO_ROOM.  Not thread-safe: one reader per
 * thread.
 */
#ifndef MEMGOV_TOOLS_INPUT_H
#define MEMGOV_TOOLS_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memgov.h>

enum {
    CLI_INPUT_ERROR = -1,    /* open or read failed: errno in err */
    CLI_INPUT_TOO_LONG = -2, /* a line longer than max_line */
    CLI_INPUT_PARTIAL = -3,  /* the file ends inside a fixed-width record */
    CLI_INPUT_NO_ROOM = -4,  /* the budget refused the buffer room for a line */
};

typedef struct cli_input {
    unsigned char *buf;
    size_t cap;              /* bytes in buf */
    size_t max_line;         /* longest line returned, '\n' excluded */
    size_t pos, end;         /* unconsumed bytes: buf[pos .. end) */
    size_t scanned;          /* bytes after pos already known to hold no '\n' */
    const char *name;        /* as given; "-" is standard input */
    int fd;                  /* -1 when no file is open */
    bool eof;
    int err;                 /* errno of the failed open or read */
    uint64_t lines;          /* lines or records returned from this file */
    uint64_t bytes;          /* bytes read from this file */
    uint64_t size;           /* its size when it is a regular file, else 0 */
    mgov_t *gov;             /* charged to (NULL: not charged) */
    mgov_grant_t grant;      /* covers cap bytes */
    size_t base_cap;         /* cap at init, kept between long lines */
    /* Called when the budget refuses the buffer room to grow: gives memory
     * back now (the operator's spill: mgov_sort_spill, mgov_hashagg_spill,
     * mgov_hashjoin_spill): 1 when some went back (the growth is tried
     * again), 0 when it holds no more, or an MGOV_ error, kept in
     * room_status.  NULL: none. */
    int (*room)(void *ctx);
    void *room_ctx;
    int room_status;
} cli_input_t;

/* Allocates a buffer of cap bytes (at least 4 KiB), charged to gov unless
 * it is NULL.  Returns 0, CLI_INPUT_NO_ROOM when the budget cannot hold
 * it, or -1 with errno set. */
int cli_input_init(cli_input_t *in, size_t cap, size_t max_line, mgov_t *gov);
/* Frees the buffer and closes the file, if one is open. */
void cli_input_free(cli_input_t *in);

/* Opens `name` ("-" or NULL: standard input) for reading.  Returns 0, or
 * CLI_INPUT_ERROR with in->err set. */
int cli_input_open(cli_input_t *in, const char *name);
/* Closes the file (standard input is left open). */
void cli_input_close(cli_input_t *in);

/* The next line, without its '\n'; a last line without '\n' is a line.
 * Returns 1, 0 at the end of the file, or a CLI_INPUT_ code. */
int cli_input_line(cli_input_t *in, const unsigned char **line, size_t *len);

/* The next record of `size` bytes (size <= cap).  Returns 1, 0 at the end
 * of the file, CLI_INPUT_PARTIAL when it ends inside a record (then
 * in->end - in->pos bytes are left over), or CLI_INPUT_ERROR. */
int cli_input_record(cli_input_t *in, size_t size, const unsigned char **rec);

/* "'name'" (in buf), or "standard input" for "-" or NULL: how messages
 * name an input. */
const char *cli_input_label(const char *name, char *buf, size_t cap);

/* Looks at each of the n inputs (none: standard input; "-" is standard
 * input) before any is read, so a misspelt name fails before any work.
 * *total is the sum of their sizes when all are regular files, else 0.
 * Returns 0, or -1 with errno set and *failed the name that cannot be
 * looked at. */
int cli_inputs_size(char *const *files, int n, uint64_t *total, const char **failed);

/* Bytes read so far from this file. */
static inline uint64_t cli_input_bytes(const cli_input_t *in)
{
    return in->bytes;
}

#endif /* MEMGOV_TOOLS_INPUT_H */
