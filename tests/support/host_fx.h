/* host_fx.h - what the tests of host budgets share (host_fx.c): unique
 * names, the segment's file, views, and member processes run from the
 * test's own executable.  Threading: the test's main thread only.
 */
#ifndef MGOV_TEST_HOST_FX_H
#define MGOV_TEST_HOST_FX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "memgov.h"

#define MiB ((uint64_t)1 << 20)
#define MS 1000000ll
#define HFX_BUDGET (8 * MiB) /* the budget members create */

/* A host name no other test or run uses: "t<pid>-<n>". */
const char *hfx_name(void);
/* /dev/shm/memgov.<euid>.<name> into buf; whether it exists. */
void hfx_path(const char *name, char *buf, size_t cap);
bool hfx_exists(const char *name);
void hfx_sleep_ms(long ms);
int hfx_open_fds(void); /* descriptors open in this process now */
/* A governor on host `name` (created with host_budget): asserts it. */
mgov_t *hfx_gov(const char *name, uint64_t host_budget);
/* The host's view (asserts it can be read); a static buffer. */
mgov_host_view_t *hfx_view(const char *name);
/* Waits up to ms for fn(view, arg); false when it never held. */
bool hfx_eventually(const char *name, bool (*fn)(const mgov_host_view_t *, void *), void *arg,
                    long ms);
/* For hfx_eventually: an event of type (uintptr_t)arg in the ring; at
 * most (uintptr_t)arg members. */
bool hfx_has_event(const mgov_host_view_t *v, void *arg);
bool hfx_members_leq(const mgov_host_view_t *v, void *arg);
/* Reserves 7/8 of HFX_BUDGET within 3 s (only possible once every dead
 * member's lease is back) and releases it; fails the test otherwise. */
void hfx_take_most(mgov_t *gov, const char *what);

typedef struct {
    pid_t pid;
    FILE *from; /* its reports */
    int to;     /* its commands */
} hfx_member_t;

/* Starts a member (see host_fx.c for the modes; a and b: NULL = "0"). */
void hfx_member_start(hfx_member_t *m, const char *mode, const char *name, const char *a,
                      const char *b);
/* The same, the member being pid 1 of a new pid namespace; m->pid is its
 * parent there, and killing that kills the member.  Needs the right to
 * unshare(CLONE_NEWPID): hfx_can_unshare_pid says (root, no seccomp filter
 * against it). */
void hfx_member_start_ns(hfx_member_t *m, const char *mode, const char *name, const char *a,
                         const char *b);
bool hfx_can_unshare_pid(void);
/* Its next report line, without the newline (fails the test at EOF). */
char *hfx_member_line(hfx_member_t *m, char *buf, size_t cap);
void hfx_member_expect(hfx_member_t *m, const char *what);
void hfx_member_say(hfx_member_t *m, const char *cmd);
/* SIGKILL when kill_it (asserts it died of it), else closes its commands
 * and asserts a clean exit 0. */
void hfx_member_end(hfx_member_t *m, bool kill_it);
/* The member's main: argv is "member MODE NAME BUDGET A B". */
int hfx_member_main(int argc, char **argv);

#endif /* MGOV_TEST_HOST_FX_H */
