/* ops/sort_buffer.c - the records an external sort holds in RAM, and the
 * runs it writes when they must leave (layout in ops/sort_internal.h).
 *
 * Invariants: need(n, data_used) <= charged at every return, where need is
 * what the records in RAM and the scratch to sort them take; pages beyond
 * what was ever touched since the last release are not resident.  A run is
 * added to s->runs only once its file is complete.
 *
 * Locking: none; the sorting thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc/alloc_internal.h"
#include "ops/sort_internal.h"
#include "sys/fault.h"

#define AREA_MAX ((size_t)1 << 40)
#define AREA_MIN ((size_t)1 << 20)

static size_t round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

/* Bytes charged for n records holding `data` bytes of (len, bytes) records. */
static uint64_t need_of(const mgov_sort_t *s, uint64_t n, uint64_t data)
{
    if (s->rec_size)
        return 2 * n * s->rec_size;
    return data + 2 * n * sizeof(mgov__sort_entry_t);
}

static mgov__sort_entry_t *scratch_entries(const mgov_sort_t *s)
{
    return (mgov__sort_entry_t *)(s->map + 2 * s->area);
}

int mgov__sort_buffer_init(mgov_sort_t *s)
{
    uint64_t mem = mgov_budget(s->gov);
    if (s->max_memory && s->max_memory < mem)
        mem = s->max_memory;
    size_t page = mgov__page_size();
    size_t area = mem > AREA_MAX ? AREA_MAX : round_up((size_t)mem, page);
    if (area < AREA_MIN)
        area = AREA_MIN;
    unsigned halves = s->rec_size ? 2 : 3;
    if (mgov__fault_now(MGOV_FAULT_ALLOC))
        return MGOV_ENOMEM;
    /* Address space only: pages become resident as records arrive.  A
     * system that refuses that much (strict overcommit) gets smaller areas. */
    for (;;) {
        void *p = mmap(NULL, area * halves, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            s->map = p;
            break;
        }
        if (area <= AREA_MIN)
            return MGOV_ENOMEM;
        area = round_up(area / 2, page);
    }
    s->area = area;
    s->map_size = area * halves;
    s->data = s->map;
    if (!s->rec_size) {
        s->entries = (mgov__sort_entry_t *)(s->map + area);
        s->entries_cap = area / sizeof(mgov__sort_entry_t);
    }
    return MGOV_OK;
}

void mgov__sort_buffer_free(mgov_sort_t *s)
{
    if (s->map)
        munmap(s->map, s->map_size);
    s->map = NULL;
}

void mgov__sort_buffer_release(mgov_sort_t *s)
{
    if (s->touched)
        for (size_t off = 0; off < s->map_size; off += s->area)
            madvise(s->map + off, s->touched, MADV_DONTNEED);
    s->touched = 0;
    s->n = 0;
    s->data_used = 0;
    mgov__sort_charge(s, s->last_cap); /* shrinking never fails */
}

/* Sorts the records in RAM; returns where they are, in order. */
static void sort_now(mgov_sort_t *s, const unsigned char **fixed, const mgov__sort_entry_t **ent)
{
    bool desc = s->flags & MGOV_SORT_DESCENDING;
    if (s->rec_size) {
        *fixed = mgov__sort_fixed(s->data, s->map + s->area, (size_t)s->n, s->rec_size,
                                  s->key_off, s->key_size, desc);
        *ent = NULL;
    } else {
        *fixed = NULL;
        *ent = s->cmp ? mgov__sort_entries_cmp(s->entries, scratch_entries(s), (size_t)s->n,
                                               s->cmp, s->cmp_ctx, desc)
                      : mgov__sort_entries_bytes(s->entries, scratch_entries(s), (size_t)s->n,
                                                 desc);
    }
}

void mgov__sort_buffer_sort_in_place(mgov_sort_t *s)
{
    sort_now(s, &s->out_fixed, &s->out_entries);
    s->out_pos = 0;
}

int mgov__sort_run_put(mgov_sort_t *s, mgov_spill_writer_t *w, const unsigned char *rec,
                       size_t len)
{
    if (s->rec_size)
        return mgov_spill_write(w, rec, len);
    unsigned char hdr[5];
    size_t h = 0;
    uint32_t v = (uint32_t)len;
    do {
        hdr[h++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    int rc = mgov_spill_write(w, hdr, h);
    return rc == MGOV_OK && len ? mgov_spill_write(w, rec, len) : rc;
}

/* Writes the sorted records (dropping repeats under MGOV_SORT_UNIQUE). */
static int write_sorted(mgov_sort_t *s, mgov_spill_writer_t *w, const unsigned char *fixed,
                        const mgov__sort_entry_t *ent, uint64_t *written)
{
    bool unique = s->flags & MGOV_SORT_UNIQUE;
    uint64_t n = s->n, out = 0;
    int rc = MGOV_OK;
    if (s->rec_size) {
        size_t rs = s->rec_size;
        if (!unique) {
            *written = n;
            return mgov_spill_write(w, fixed, (size_t)n * rs);
        }
        /* keep the first record of each group of equal ones, writing
         * the kept records in contiguous segments */
        uint64_t seg = 0;
        for (uint64_t i = 1; i < n && rc == MGOV_OK; i++) {
            if (mgov__sort_compare(s, fixed + (i - 1) * rs, rs, fixed + i * rs, rs))
                continue;
            rc = mgov_spill_write(w, fixed + seg * rs, (size_t)(i - seg) * rs);
            out += i - seg;
            seg = i + 1;
        }
        if (rc == MGOV_OK && seg < n) {
            rc = mgov_spill_write(w, fixed + seg * rs, (size_t)(n - seg) * rs);
            out += n - seg;
        }
        *written = out;
        return rc;
    }
    for (uint64_t i = 0; i < n && rc == MGOV_OK; i++) {
        /* sorted entries point all over the data: fetch ahead of the copy */
        if (i + 16 < n)
            __builtin_prefetch(ent[i + 16].rec);
        const unsigned char *d = mgov__sort_rec_data(ent[i].rec);
        size_t len = mgov__sort_rec_len(ent[i].rec);
        if (unique && i > 0) {
            const unsigned char *p = ent[i - 1].rec;
            if (mgov__sort_compare(s, mgov__sort_rec_data(p), mgov__sort_rec_len(p), d, len) == 0)
                continue;
        }
        rc = mgov__sort_run_put(s, w, d, len);
        out++;
    }
    *written = out;
    return rc;
}

/* Gives back the half (fixed) or entry array (variable) that does not hold
 * the sorted result: its pages and its share of the grant. */
static void drop_scratch(mgov_sort_t *s, const void *result)
{
    size_t bytes = s->rec_size ? (size_t)s->n * s->rec_size
                               : (size_t)s->n * sizeof(mgov__sort_entry_t);
    unsigned char *other;
    if (s->rec_size)
        other = result == (const void *)s->data ? s->map + s->area : s->data;
    else
        other = result == (const void *)s->entries ? (unsigned char *)scratch_entries(s)
                                                   : (unsigned char *)s->entries;
    madvise(other, round_up(bytes, mgov__page_size()), MADV_DONTNEED);
    uint64_t now = atomic_load_explicit(&s->charged, memory_order_relaxed);
    mgov__sort_charge(s, now > bytes ? now - bytes : 0);
}

static bool budget_error(int rc)
{
    return rc == MGOV_EBUDGET || rc == MGOV_ETIMEDOUT;
}

int mgov__sort_buffer_spill(mgov_sort_t *s, bool release)
{
    if (s->n == 0) {
        if (release)
            mgov__sort_buffer_release(s);
        return MGOV_OK;
    }
    if (s->n_runs == s->runs_cap) {
        unsigned cap = s->runs_cap ? s->runs_cap * 2 : 16;
        mgov_sort_run_t *r = mgov__malloc(cap * sizeof *r);
        if (!r)
            return MGOV_ENOMEM;
        if (s->n_runs)
            memcpy(r, s->runs, s->n_runs * sizeof *r);
        free(s->runs);
        s->runs = r;
        s->runs_cap = cap;
    }
    const unsigned char *fixed;
    const mgov__sort_entry_t *ent;
    sort_now(s, &fixed, &ent);

    mgov_spill_writer_t *w;
    int rc = mgov_spill_writer_create(s->dir, &s->spill, &w);
    if (budget_error(rc)) {
        /* The writer's buffers come from spill staging's headroom; when
         * that is taken, the sort scratch (no longer needed) makes room. */
        drop_scratch(s, fixed ? (const void *)fixed : (const void *)ent);
        rc = mgov_spill_writer_create(s->dir, &s->spill, &w);
    }
    if (rc != MGOV_OK)
        return rc;
    uint64_t written = 0;
    rc = write_sorted(s, w, fixed, ent, &written);
    mgov_spill_file_t *f = NULL;
    if (rc == MGOV_OK)
        rc = mgov_spill_writer_finish(w, &f);
    else
        mgov_spill_writer_abort(w);
    if (rc != MGOV_OK)
        return rc;
    s->runs[s->n_runs++] = (mgov_sort_run_t){ .file = f, .records = written };
    s->st.runs++;
    s->st.spilled_raw += mgov_spill_file_raw_bytes(f);
    s->st.spilled_stored += mgov_spill_file_stored_bytes(f);
    s->n = 0;
    s->data_used = 0;
    if (release)
        mgov__sort_buffer_release(s);
    mgov__sort_progress(s);
    return MGOV_OK;
}

/* Makes room for one more record of `bytes` (framing included): grows the
 * grant, or writes a run when it cannot grow. */
static int make_room(mgov_sort_t *s, size_t bytes)
{
    for (int round = 0;; round++) {
        uint64_t need = need_of(s, s->n + 1, s->data_used + bytes);
        uint64_t have = atomic_load_explicit(&s->charged, memory_order_relaxed) - s->last_cap;
        if (need <= have)
            return MGOV_OK;
        /* the grant stops where a run writer would no longer fit beside it */
        uint64_t budget = mgov_budget(s->gov);
        uint64_t cap = budget > s->writer_cost ? budget - s->writer_cost : 0;
        if (s->max_memory && s->max_memory < cap)
            cap = s->max_memory;
        cap = cap > s->last_cap ? cap - s->last_cap : 0;
        if (cap > s->area)
            cap = s->area;
        bool full = need > cap || (!s->rec_size && s->n + 1 > s->entries_cap);
        int rc = MGOV_ELIMIT;
        if (!full) {
            uint64_t want = round_up((size_t)need, (size_t)s->step);
            if (want > cap)
                want = cap;
            rc = mgov__sort_charge(s, want + s->last_cap);
            if (rc != MGOV_OK && want > need)
                rc = mgov__sort_charge(s, need + s->last_cap);
            if (rc == MGOV_OK)
                continue;
        }
        /* The grant cannot grow: the records in RAM become a run.  With
         * nothing in RAM, others hold the budget (the failed grow asked
         * them to spill): wait for what they give back. */
        if (s->n == 0 && rc == MGOV_EBUDGET && !full) {
            /* holding nothing while waiting: two waiting sorts must not
             * each keep part of what the other needs */
            mgov__sort_buffer_release(s);
            if ((rc = mgov__sort_charge_wait(s, need + s->last_cap)) != MGOV_OK)
                return rc;
            continue;
        }
        if (s->n == 0 || round > 0)
            return rc == MGOV_OK ? MGOV_ELIMIT : rc;
        if ((rc = mgov__sort_buffer_spill(s, false)) != MGOV_OK)
            return rc;
    }
}

int mgov__sort_buffer_push(mgov_sort_t *s, const void *rec, size_t len)
{
    if (atomic_load_explicit(&s->spill_asked, memory_order_relaxed)) {
        int asked = atomic_exchange_explicit(&s->spill_asked, MGOV__SORT_ASKED_NONE,
                                             memory_order_relaxed);
        s->st.spill_requests++;
        int rc = mgov__sort_buffer_spill(s, asked == MGOV__SORT_ASKED_MEMORY);
        if (rc != MGOV_OK)
            return rc;
    }
    size_t bytes = s->rec_size ? len : sizeof(uint32_t) + len;
    int rc = make_room(s, bytes);
    if (rc != MGOV_OK)
        return rc;
    if (s->rec_size) {
        memcpy(s->data + s->n * s->rec_size, rec, len);
        size_t t = (size_t)(s->n + 1) * s->rec_size;
        if (t > s->touched)
            s->touched = t;
    } else {
        unsigned char *p = s->data + s->data_used;
        uint32_t l32 = (uint32_t)len;
        memcpy(p, &l32, sizeof l32);
        if (len)
            memcpy(p + sizeof l32, rec, len);
        s->entries[s->n] = (mgov__sort_entry_t){ len ? mgov__sort_prefix(rec, len) : 0, p };
        s->data_used += bytes;
        size_t t = s->data_used;
        size_t te = (size_t)(s->n + 1) * sizeof(mgov__sort_entry_t);
        if (te > t)
            t = te;
        if (t > s->touched)
            s->touched = t;
    }
    s->n++;
    return MGOV_OK;
}
