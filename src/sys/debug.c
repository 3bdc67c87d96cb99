/* sys/debug.c - what the debug checks of sys/debug.h do when one fails:
 * say where on stderr, and abort.  Only debug builds call these (the
 * library never prints or aborts otherwise).  No state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "sys/debug.h"

void mgov__assert_fail(const char *file, int line, const char *cond)
{
    fprintf(stderr, "memgov: %s:%d: debug check failed: %s\n", file, line, cond);
    abort();
}

void mgov__assert_held_at(pthread_mutex_t *m, const char *file, int line)
{
    int rc = pthread_mutex_trylock(m);
    if (rc == EBUSY)
        return; /* held, by someone: a plain mutex cannot say by whom */
    if (rc == 0)
        pthread_mutex_unlock(m);
    mgov__assert_fail(file, line, "the mutex is held (pthread_mutex_trylock took it)");
}
