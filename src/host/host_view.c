/* host/host_view.c - reading a host budget without joining it
 * (mgov_host_read, for `memgov host`), and the names of its events.
 *
 * The reader opens the segment read-write without creating it (the setup
 * lock needs a writable description), takes the setup lock so that the
 * segment cannot be replaced under it, checks the object and the header
 * as a member would, and copies the slots and the event ring under the
 * mutex.  It changes nothing but what a dead owner's lock recovery writes.
 *
 * Thread-safe; every call opens and closes its own descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host/host_layout.h"
#include "sys/fileio.h"
#include "sys/shm.h"
#include "sys/sys.h"

const char *mgov_host_event_name(mgov_host_event_type_t type)
{
    switch (type) {
#define MGOV__HOST_EVENT_NAME(name, value, str)                                                    \
    case MGOV_HOST_EV_##name:                                                                      \
        return str;
        MGOV_HOST_EVENT_MAP(MGOV__HOST_EVENT_NAME)
#undef MGOV__HOST_EVENT_NAME
    }
    return "unknown";
}

static void copy_locked(const mgov__host_seg_t *s, mgov_host_view_t *out)
{
    out->budget = s->budget;
    out->chunk = s->chunk;
    out->high = s->high_permille / 1000.0;
    for (unsigned i = 0; i < MGOV__HOST_SLOTS; i++) {
        const mgov__host_slot_t *sl = &s->slots[i];
        uint64_t leased = mgov__host_clamp(sl->leased, s->budget);
        out->leased = mgov__host_sat_add(out->leased, leased);
        if (sl->state != MGOV__SLOT_LIVE)
            continue;
        mgov_host_member_t *m = &out->members[out->n_members++];
        m->slot = i;
        m->gen = sl->gen;
        m->pid = sl->pid;
        memcpy(m->comm, sl->comm, sizeof sl->comm); /* comm[16] stays NUL */
        m->weight = sl->weight;
        m->guarantee = mgov__host_clamp(sl->guarantee, s->budget);
        m->leased = leased;
        m->used = mgov__host_clamp(sl->used, s->budget);
        m->want = mgov__host_clamp(sl->want, s->budget);
        m->ask = sl->ask_seq != sl->answer_seq ? mgov__host_clamp(sl->ask, s->budget) : 0;
        m->level = sl->level <= 3 ? (int)sl->level : 0;
        m->late = sl->late != 0;
        m->attached_at = sl->attached_at;
        out->used = mgov__host_sat_add(out->used, m->used);
    }
    out->ev_seq = s->ev_seq;
    uint64_t first = s->ev_seq > MGOV__HOST_EVENTS ? s->ev_seq - MGOV__HOST_EVENTS : 0;
    for (uint64_t q = first; q < s->ev_seq; q++) {
        const mgov__host_event_t *e = &s->events[q % MGOV__HOST_EVENTS];
        if (e->seq != q || e->type > MGOV_HOST_EV_RECOVERED)
            continue; /* damaged: skipped */
        out->events[out->n_events++] = (mgov_host_event_t){
            .seq = e->seq, .time_ns = e->time_ns, .type = (mgov_host_event_type_t)e->type,
            .slot = e->slot >= -1 && e->slot < (int)MGOV__HOST_SLOTS ? e->slot : -1,
            .pid = e->pid, .bytes = e->bytes };
    }
}

int mgov_host_read(const char *name, mgov_host_view_t *out)
{
    char shm[96];
    if (!out || mgov__host_shm_name(name, shm, sizeof shm) != MGOV_OK)
        return MGOV_EINVAL;
    memset(out, 0, sizeof *out);
    int fd = mgov__shm_open(shm, O_RDWR, 0);
    if (fd < 0)
        return fd == -ENOENT ? MGOV_ENOTFOUND : fd == -EACCES ? MGOV_EIO
                                                              : mgov__status_from_errno(fd);
    int rc = mgov__host_setup_lock(fd, 2000 * 1000 * 1000ull);
    if (rc != MGOV_OK) {
        close(fd);
        return rc;
    }
    off_t size;
    void *p = NULL;
    size_t len = mgov__page_round(sizeof(mgov__host_seg_t));
    if ((rc = mgov__host_fd_check(fd, &size)) == MGOV_OK) {
        if (size != (off_t)sizeof(mgov__host_seg_t))
            rc = size == 0 ? MGOV_ENOTFOUND : MGOV_ECORRUPT;
        else if ((rc = mgov__mmap(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &p)))
            rc = mgov__status_from_errno(rc);
        else
            rc = mgov__host_header_check(p);
    }
    if (rc == MGOV_OK) {
        bool recovered;
        if ((rc = mgov__host_mutex_lock(p, &recovered)) == MGOV_OK) {
            copy_locked(p, out);
            mgov__host_mutex_unlock(p);
        }
    }
    if (p)
        mgov__munmap(p, len);
    mgov__host_setup_unlock(fd);
    close(fd);
    return rc;
}
