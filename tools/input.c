/* input.c - block reading of input files, split into lines or records (see
 * input.h for the buffer layout).
 *
 * Each fill moves the unconsumed tail to the front of the buffer and makes
 * one read(2) into the free space after it, so a 1 MiB buffer costs one
 * system call per MiB of a regular file and nothing per line.  `scanned`
 * remembers how far a line without '\n' has been searched, so a long line
 * read in many pieces is scanned once, not once per piece.  A read(2)
 * interrupted by a signal the command caught ends the input with EINTR.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"
#include "signals.h"

#define INPUT_MIN_CAP ((size_t)4 << 10)

int cli_input_init(cli_input_t *in, size_t cap, size_t max_line, mgov_t *gov)
{
    memset(in, 0, sizeof *in);
    in->fd = -1;
    in->cap = in->base_cap = cap < INPUT_MIN_CAP ? INPUT_MIN_CAP : cap;
    in->max_line = max_line;
    in->gov = gov;
    if (gov && mgov_try_reserve(gov, MGOV_REGION_EXECUTION_BUFFERS, in->cap, 0, &in->grant) !=
                   MGOV_OK)
        return CLI_INPUT_NO_ROOM;
    in->buf = malloc(in->cap);
    if (in->buf == NULL) {
        mgov_grant_release(&in->grant);
        return -1;
    }
    return 0;
}

void cli_input_free(cli_input_t *in)
{
    cli_input_close(in);
    free(in->buf);
    in->buf = NULL;
    mgov_grant_release(&in->grant);
}

/* Charges the buffer's growth to cap bytes: as it is, or after the room
 * callback gave memory back, as often as it can.  0, or -1. */
static int charge_growth(cli_input_t *in, size_t cap)
{
    if (in->gov == NULL)
        return 0;
    while (mgov_grant_resize(&in->grant, cap) != MGOV_OK) {
        int st = in->room != NULL ? in->room(in->room_ctx) : 0;
        if (st < 0)
            in->room_status = st;
        if (st != 1)
            return -1;
    }
    return 0;
}

/* After a long line: back to the first size, and its grant with it. */
static void shrink(cli_input_t *in)
{
    unsigned char *buf = realloc(in->buf, in->base_cap);
    if (buf == NULL)
        return; /* keep the larger one, still charged */
    in->buf = buf;
    in->cap = in->base_cap;
    if (in->gov != NULL)
        (void)mgov_grant_resize(&in->grant, in->cap); /* shrinking never fails */
}

const char *cli_input_label(const char *name, char *buf, size_t cap)
{
    if (name == NULL || strcmp(name, "-") == 0)
        return "standard input";
    snprintf(buf, cap, "'%s'", name);
    return buf;
}

int cli_inputs_size(char *const *files, int n, uint64_t *total, const char **failed)
{
    uint64_t sum = 0;
    bool known = true;

    for (int i = 0; i < (n ? n : 1); i++) {
        const char *name = n ? files[i] : "-";
        struct stat st;
        int rc = strcmp(name, "-") == 0 ? fstat(STDIN_FILENO, &st) : stat(name, &st);
        if (rc != 0) {
            *failed = name;
            return -1;
        }
        if (S_ISREG(st.st_mode))
            sum += (uint64_t)st.st_size;
        else
            known = false;
    }
    *total = known ? sum : 0;
    return 0;
}

int cli_input_open(cli_input_t *in, const char *name)
{
    cli_input_close(in);
    in->pos = in->end = in->scanned = 0;
    in->eof = false;
    in->err = 0;
    in->lines = in->bytes = in->size = 0;
    if (name == NULL || strcmp(name, "-") == 0) {
        in->name = "-";
        in->fd = STDIN_FILENO;
    } else {
        in->name = name;
        in->fd = open(name, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            in->err = errno;
            return CLI_INPUT_ERROR;
        }
    }
    struct stat st;
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        in->size = (uint64_t)st.st_size;
        (void)posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    return 0;
}

void cli_input_close(cli_input_t *in)
{
    if (in->fd > STDIN_FILENO)
        close(in->fd);
    in->fd = -1;
}

/* Makes room after the unconsumed bytes (moving them to the front, or
 * growing the buffer when they fill it) and reads once.  Sets eof at the
 * end of the file. */
static int fill(cli_input_t *in)
{
    size_t avail = in->end - in->pos;

    if (in->pos > 0) {
        if (avail > 0)
            memmove(in->buf, in->buf + in->pos, avail);
        in->pos = 0;
        in->end = avail;
    }
    if (in->cap > in->base_cap && in->end < in->base_cap / 2)
        shrink(in);
    if (in->end == in->cap) {
        /* one line fills the buffer: room for max_line + 1 bytes tells a
         * line that is too long from one that just fits */
        size_t limit = in->max_line + 1;
        size_t cap = in->cap > limit / 2 ? limit : in->cap * 2;
        if (cap > in->cap && charge_growth(in, cap) != 0)
            return CLI_INPUT_NO_ROOM;
        unsigned char *buf = cap > in->cap ? realloc(in->buf, cap) : NULL;
        if (buf == NULL) {
            if (in->gov != NULL)
                (void)mgov_grant_resize(&in->grant, in->cap);
            in->err = ENOMEM;
            return CLI_INPUT_ERROR;
        }
        in->buf = buf;
        in->cap = cap;
    }
    for (;;) {
        ssize_t n = read(in->fd, in->buf + in->end, in->cap - in->end);
        if (n > 0) {
            in->end += (size_t)n;
            in->bytes += (uint64_t)n;
            return 0;
        }
        if (n == 0) {
            in->eof = true;
            return 0;
        }
        /* a caught signal interrupts a read that waits (signals.h) */
        if (errno != EINTR || cli_signal_pending()) {
            in->err = errno;
            return CLI_INPUT_ERROR;
        }
    }
}

int cli_input_line(cli_input_t *in, const unsigned char **line, size_t *len)
{
    for (;;) {
        unsigned char *start = in->buf + in->pos;
        size_t avail = in->end - in->pos;

        if (avail > in->scanned) {
            unsigned char *nl = memchr(start + in->scanned, '\n', avail - in->scanned);
            if (nl != NULL) {
                *line = start;
                *len = (size_t)(nl - start);
                in->pos += *len + 1;
                in->scanned = 0;
                in->lines++;
                return 1;
            }
            in->scanned = avail;
        }
        if (avail > in->max_line)
            return CLI_INPUT_TOO_LONG;
        if (in->eof) {
            if (avail == 0)
                return 0;
            *line = start;
            *len = avail;
            in->pos = in->end;
            in->scanned = 0;
            in->lines++;
            return 1;
        }
        int rc = fill(in);
        if (rc < 0)
            return rc;
    }
}

int cli_input_record(cli_input_t *in, size_t size, const unsigned char **rec)
{
    for (;;) {
        size_t avail = in->end - in->pos;

        if (avail >= size) {
            *rec = in->buf + in->pos;
            in->pos += size;
            in->lines++;
            return 1;
        }
        if (in->eof)
            return avail == 0 ? 0 : CLI_INPUT_PARTIAL;
        int rc = fill(in);
        if (rc < 0)
            return rc;
    }
}
