/* output.c - the writer thread and the slow paths of buffered output (see
 * output.h for the two buffers).
 *
 * Hand-over: the caller waits until the thread is idle (full == NULL), then
 * gives it buf as `full` and takes `spare` as its new buf.  So at most one
 * buffer is being written while the other fills, and the caller waits only
 * when it fills a buffer faster than the last one is written.  flush hands
 * over what is left and waits for idle, so after it returns every byte has
 * reached write(2) and fd may be closed.
 *
 * write(2) is retried on EINTR and after short writes; any other failure is
 * kept (thread_err, then err) and ends the output: later buffers are
 * dropped, every call fails.
 *
 * Signals (signals.h): the thread runs with every signal blocked, so they
 * interrupt the caller's thread instead.  A caller waiting for the thread
 * looks at cli_signal_pending() every WAIT_SLICE_NS and gives up (err
 * EINTR) when a signal came: the thread may be blocked for good in a
 * write(2) to a pipe nobody reads.  Such a thread is not joined by
 * cli_output_free; it ends with the process, which the signal ends.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "signals.h"

#define WAIT_SLICE_NS 50000000L /* 50 ms: how soon a waiting caller sees a signal */

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR && !cli_signal_pending())
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    cli_output_t *o = arg;

    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (o->full == NULL && !o->stop)
            pthread_cond_wait(&o->cond, &o->mu);
        if (o->full == NULL)
            break;
        unsigned char *p = o->full;
        size_t n = o->full_len;
        bool failed = o->thread_err != 0;
        pthread_mutex_unlock(&o->mu);
        int e = failed ? 0 : write_all(o->fd, p, n);
        pthread_mutex_lock(&o->mu);
        if (e != 0)
            o->thread_err = e;
        o->spare = p;
        o->full = NULL;
        pthread_cond_broadcast(&o->cond);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

int cli_output_init(cli_output_t *o, int fd, size_t cap)
{
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->cap = cap < 2 ? 2 : cap;
    o->buf = malloc(o->cap);
    o->spare = malloc(o->cap);
    if (o->buf == NULL || o->spare == NULL) {
        free(o->buf);
        free(o->spare);
        o->buf = o->spare = NULL;
        errno = ENOMEM;
        return -1;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cond, &attr);
    pthread_condattr_destroy(&attr);
    /* the thread inherits a mask that blocks every signal */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    o->threaded = pthread_create(&o->thread, NULL, writer_main, o) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

bool cli_output_free(cli_output_t *o)
{
    if (o->buf == NULL)
        return false;
    if (o->threaded) {
        pthread_mutex_lock(&o->mu);
        o->stop = true;
        pthread_cond_broadcast(&o->cond);
        bool busy = o->full != NULL;
        pthread_mutex_unlock(&o->mu);
        if (busy && cli_signal_pending())
            return true; /* maybe blocked in write(2) for good: left to the signal */
        pthread_join(o->thread, NULL);
        o->threaded = false;
    }
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->mu);
    free(o->buf);
    free(o->spare);
    o->buf = o->spare = NULL;
    o->len = 0;
    return false;
}

/* Waits until the thread has written what it was given; picks up its
 * error.  Returns 0, or -1 (err EINTR when a signal came first). */
static int wait_idle(cli_output_t *o)
{
    if (o->threaded) {
        pthread_mutex_lock(&o->mu);
        while (o->full != NULL && !cli_signal_pending()) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += WAIT_SLICE_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&o->cond, &o->mu, &until);
        }
        if (o->err == 0)
            o->err = o->full != NULL ? EINTR : o->thread_err;
        pthread_mutex_unlock(&o->mu);
    }
    return o->err != 0 ? -1 : 0;
}

/* Hands buf to the thread (or writes it here without one); buf is empty
 * afterwards. */
static int hand_over(cli_output_t *o)
{
    if (wait_idle(o) != 0)
        return -1;
    if (o->len == 0)
        return 0;
    o->bytes += o->len;
    if (!o->threaded) {
        o->err = write_all(o->fd, o->buf, o->len);
        o->len = 0;
        return o->err != 0 ? -1 : 0;
    }
    pthread_mutex_lock(&o->mu);
    o->full = o->buf;
    o->full_len = o->len;
    o->buf = o->spare;
    o->spare = NULL;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->mu);
    o->len = 0;
    return 0;
}

int cli_output_flush(cli_output_t *o)
{
    if (hand_over(o) != 0)
        return -1;
    return wait_idle(o);
}

int cli_output__put_slow(cli_output_t *o, const void *p, size_t n, int newline)
{
    if (hand_over(o) != 0)
        return -1;
    if (n + (size_t)(newline != 0) > o->cap) {
        /* too large to buffer: written from here, after what came before */
        if (wait_idle(o) != 0)
            return -1;
        o->bytes += n;
        if ((o->err = write_all(o->fd, p, n)) != 0)
            return -1;
    } else {
        memcpy(o->buf, p, n);
        o->len = n;
    }
    if (newline)
        o->buf[o->len++] = '\n';
    return 0;
}
