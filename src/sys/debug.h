/* sys/debug.h - internal: the checks only debug builds make.
 *
 * Built with MGOV_DEBUG (the CMake option MGOV_DEBUG, or the Debug build
 * type; scripts/test.sh turns it on in its ASan configuration):
 *   MGOV__ASSERT(cond)      prints file:line and the condition on stderr and
 *                           aborts when cond is false;
 *   mgov__assert_held(m)    aborts unless the mutex is held -- by someone:
 *                           a plain mutex cannot tell by whom, so the check
 *                           is that pthread_mutex_trylock fails with EBUSY
 *                           (SQLite's assert(sqlite3_mutex_held(...))).
 * Without MGOV_DEBUG both are nothing: the condition is not evaluated, and
 * the library never aborts in a release build (DESIGN.md).
 *
 * Every function whose name ends in _locked says its caller holds a lock;
 * it checks that lock first thing.  The tier's *_busy functions check the
 * section's busy mark instead (tier_internal.h).
 *
 * Thread safety: the checks are; they lock nothing they do not release.
 */
#ifndef MGOV_SYS_DEBUG_H
#define MGOV_SYS_DEBUG_H

#include <pthread.h>

/* What the macros call; defined in every build (they are never called
 * without MGOV_DEBUG). */
__attribute__((noreturn, cold)) void mgov__assert_fail(const char *file, int line,
                                                       const char *cond);
void mgov__assert_held_at(pthread_mutex_t *m, const char *file, int line);

#if defined(MGOV_DEBUG) && MGOV_DEBUG
#define MGOV__ASSERT(cond) ((cond) ? (void)0 : mgov__assert_fail(__FILE__, __LINE__, #cond))
#define mgov__assert_held(m) mgov__assert_held_at((m), __FILE__, __LINE__)
#else
/* sizeof: the operands count as used, and are not evaluated */
#define MGOV__ASSERT(cond) ((void)sizeof((cond) ? 1 : 0))
#define mgov__assert_held(m) ((void)sizeof(m))
#endif

#endif /* MGOV_SYS_DEBUG_H */
