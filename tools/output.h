/* output.h - buffered writing to a file descriptor with write(2), by a
 * writer thread: the caller fills one large buffer while the thread writes
 * the other, so the cost of write(2) (copying into the page cache, or a
 * slow pipe) overlaps the caller's work instead of adding to it.
 *
 *   caller: fills buf --full--> hands it over, takes `spare` back
 *   thread: writes `full`, then it becomes `spare`
 *
 * The hot path (cli_output_line, cli_output_put) is inline: a bounds check
 * and a memcpy.  A record larger than the buffer is written straight from
 * the caller's memory once the thread is idle.  Without a thread
 * (pthread_create failed) everything is written in the caller's thread.
 *
 * Errors are sticky: after a failed write every call returns -1 and err
 * keeps the first errno.  One caller thread per output; the fields below
 * `mu` are shared with the writer thread and guarded by it.
 */
#ifndef MEMGOV_TOOLS_OUTPUT_H
#define MEMGOV_TOOLS_OUTPUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cli_output {
    int fd;
    unsigned char *buf;      /* being filled by the caller */
    size_t cap, len;         /* size of each buffer, bytes waiting in buf */
    uint64_t bytes;          /* bytes handed to writing so far */
    int err;                 /* errno of the first failed write, or 0 */
    bool threaded;
    pthread_t thread;

    pthread_mutex_t mu;
    pthread_cond_t cond;     /* full handed over, taken back, or stop */
    unsigned char *spare;    /* the other buffer, when the thread is idle */
    unsigned char *full;     /* being written by the thread, or NULL */
    size_t full_len;
    bool stop;
    int thread_err;
} cli_output_t;

/* Allocates two buffers of cap bytes for writing to fd and starts the
 * writer thread.  Returns 0, or -1 with errno set. */
int cli_output_init(cli_output_t *o, int fd, size_t cap);
/* Stops the thread (after what it is writing) and frees the buffers,
 * without flushing; fd stays open.  Safe on a zeroed or freed output.
 * With a signal pending (signals.h) a thread still writing is left to it,
 * and so are the buffers: then it returns true, and fd must not be closed
 * either (the thread may still be in write(2) on it). */
bool cli_output_free(cli_output_t *o);

/* Writes everything buffered and waits until it is written.  Returns 0, or
 * -1 with o->err set. */
int cli_output_flush(cli_output_t *o);
/* Appends n bytes, and a '\n' when newline is set.  Returns 0 or -1. */
int cli_output__put_slow(cli_output_t *o, const void *p, size_t n, int newline);

static inline int cli_output_put(cli_output_t *o, const void *p, size_t n)
{
    if (n < o->cap - o->len) {
        memcpy(o->buf + o->len, p, n);
        o->len += n;
        return 0;
    }
    return cli_output__put_slow(o, p, n, 0);
}

/* Appends n bytes and a '\n'. */
static inline int cli_output_line(cli_output_t *o, const void *p, size_t n)
{
    if (n < o->cap - o->len) {
        memcpy(o->buf + o->len, p, n);
        o->buf[o->len + n] = '\n';
        o->len += n + 1;
        return 0;
    }
    return cli_output__put_slow(o, p, n, 1);
}

#endif /* MEMGOV_TOOLS_OUTPUT_H */
