/* fuzz_host_segment.c - libFuzzer target for what a member of a host
 * budget reads from the shared segment (src/host/): the slots and the
 * event ring, which any process of the user can scribble on.
 *
 * Governor A creates the host budget (a valid header, its own slot); the
 * input then overwrites every other slot and the event ring through a
 * second mapping, as a damaged or hostile writer would.  Then: the segment
 * is read from outside (mgov_host_read: the view's parser), A leases and
 * gives back (the room and fair-share sums over the damaged slots, the
 * asks), its agent ticks (the reaper frees the slots no process holds, the
 * repairs), a second governor B joins (claiming a slot among them) and
 * leases, and both leave.  Checked: no crash or sanitizer report; the view
 * never shows more members than slots; A and B always get a slot and can
 * lease once the damage is reaped; nothing is left once both are gone.
 *
 * Build: see fuzz/CMakeLists.txt (CC=clang cmake -S fuzz -B build-fuzz).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "host/host_layout.h"
#include "memgov/governor.h"
#include "memgov/host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUDGET ((uint64_t)8 << 20)

static mgov_t *join(const char *name)
{
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.host = name;
    cfg.host_budget = BUDGET;
    mgov_t *gov = NULL;
    if (mgov_create(&cfg, &gov) != MGOV_OK)
        abort();
    return gov;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[48], shm[96];
    snprintf(name, sizeof name, "fuzz-%d", (int)getpid());
    snprintf(shm, sizeof shm, "/memgov.%u.%s", (unsigned)geteuid(), name);
    mgov_t *a = join(name);

    int fd = shm_open(shm, O_RDWR, 0);
    if (fd < 0)
        abort();
    mgov__host_seg_t *s =
        mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED)
        abort();
    mgov_host_member_t me;
    if (mgov_host_member(a, &me) != MGOV_OK)
        abort();
    /* the input over every slot but A's, then over the ring and ev_seq */
    pthread_mutex_lock(&s->mutex);
    size_t off = 0;
    for (unsigned i = 0; i < MGOV__HOST_SLOTS && off < size; i++) {
        if (i == me.slot)
            continue;
        size_t n = size - off < sizeof s->slots[i] ? size - off : sizeof s->slots[i];
        memcpy(&s->slots[i], data + off, n);
        off += n;
    }
    if (off < size) {
        size_t n = size - off < sizeof s->events ? size - off : sizeof s->events;
        memcpy(s->events, data + off, n);
        off += n;
    }
    if (off + sizeof s->ev_seq <= size)
        memcpy(&s->ev_seq, data + off, sizeof s->ev_seq);
    pthread_mutex_unlock(&s->mutex);

    static mgov_host_view_t v;
    if (mgov_host_read(name, &v) == MGOV_OK && v.n_members > MGOV_HOST_MAX_MEMBERS)
        abort();
    mgov_grant_t g;
    if (mgov_try_reserve(a, 0, 1 << 20, MGOV_NO_RECLAIM, &g) == MGOV_OK)
        mgov_grant_release(&g);
    /* a tick of A's agent over the damage (repairs, asks); B's join then
     * takes back every slot no process holds */
    struct timespec ts = { 0, 15 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    mgov_t *b = join(name);
    if (mgov_try_reserve(b, 0, 1 << 20, MGOV_NO_RECLAIM, &g) != MGOV_OK)
        abort(); /* the dead slots' leases were taken back */
    mgov_grant_release(&g);
    (void)mgov_host_read(name, &v);
    munmap(s, sizeof *s);
    close(fd);
    mgov_destroy(b);
    mgov_destroy(a);
    if (mgov_host_read(name, &v) != MGOV_ENOTFOUND)
        abort();
    return 0;
}
