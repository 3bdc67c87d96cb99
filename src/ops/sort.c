/* ops/sort.c - the external sort's lifecycle and public entry points (see
 * memgov/sort.h and ops/sort_internal.h).  Being an operator (consumer ops,
 * sticky failure, growth marked as its own) is the base's (ops/op.c).
 *
 * Invariants: s->op.failed is sticky: once set, every entry point returns
 * it.  The consumer is registered last at create and unregistered first at
 * destroy, so no op runs while the sort is half made or half freed.
 *
 * Locking: none of its own (the base's consumer ops touch atomics only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/sort_internal.h"
#include "sys/fault.h"

#define SORT_MAX_RECORD_DEFAULT ((size_t)64 << 20)

/* ------------------------------------------------------------------ helpers */

void mgov__sort_progress(mgov_sort_t *s)
{
    if (!s->progress)
        return;
    mgov_sort_stats_t st;
    mgov_sort_stats(s, &st);
    s->progress(s->progress_ctx, &st);
}

int mgov__sort_compare(const mgov_sort_t *s, const unsigned char *a, size_t alen,
                       const unsigned char *b, size_t blen)
{
    int c;
    if (s->rec_size)
        c = memcmp(a + s->key_off, b + s->key_off, s->key_size);
    else if (s->cmp)
        c = s->cmp(s->cmp_ctx, a, alen, b, blen);
    else
        c = mgov__sort_bytes_cmp(a, alen, b, blen);
    return (s->flags & MGOV_SORT_DESCENDING) ? -(c > 0) + (c < 0) : c;
}

int mgov__sort_check(const mgov_sort_t *s)
{
    uint64_t caps = s->data.cap + s->aux.cap + s->aux2.cap + s->last.cap;
    if (atomic_load_explicit(&s->op.charged, memory_order_relaxed) != caps)
        return MGOV_ECORRUPT; /* every buffer publishes its grant */
    if (!s->finished && mgov__sort_buffer_need(s, s->n, s->data_used) >
                            s->data.cap + s->aux.cap + s->aux2.cap)
        return MGOV_ECORRUPT; /* records held beyond what is charged */
    if (s->data.grant.bytes != s->data.cap || s->aux.grant.bytes != s->aux.cap ||
        s->aux2.grant.bytes != s->aux2.cap || s->last.grant.bytes != s->last.cap)
        return MGOV_ECORRUPT;
    if (s->n_runs > s->runs_cap || s->last_len > s->last.cap)
        return MGOV_ECORRUPT;
    for (unsigned i = 0; i < s->n_runs; i++)
        if (!s->runs[i].file)
            return MGOV_ECORRUPT;
    return MGOV_OK;
}

static int check_config(const mgov_sort_config_t *cfg)
{
    if (!cfg->gov)
        return MGOV_EINVAL;
    if (cfg->record_size) {
        if (cfg->cmp || cfg->key_offset >= cfg->record_size ||
            cfg->key_size > cfg->record_size - cfg->key_offset)
            return MGOV_EINVAL;
    } else if (cfg->key_offset || cfg->key_size) {
        return MGOV_EINVAL;
    }
    if (cfg->max_record > UINT32_MAX)
        return MGOV_EINVAL;
    if (cfg->flags & ~(unsigned)(MGOV_SORT_DESCENDING | MGOV_SORT_UNIQUE))
        return MGOV_EINVAL;
    return MGOV_OK;
}

static mgov__op_config_t op_config(const mgov_sort_config_t *cfg)
{
    return (mgov__op_config_t){
        .gov = cfg->gov,
        .region = cfg->region,
        .name = cfg->name,
        .prefix = "sort",
        .priority = cfg->priority,
        .max_memory = cfg->max_memory,
        .timeout_ns = cfg->timeout_ns,
        .spill_dir = cfg->spill_dir,
        .spill = cfg->spill,
    };
}

/* ------------------------------------------------------------- public API */

int mgov_sort_create(const mgov_sort_config_t *cfg, mgov_sort_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    if (!cfg)
        return MGOV_EINVAL;
    int rc = check_config(cfg);
    if (rc != MGOV_OK)
        return rc;
    mgov_sort_t *s = mgov__calloc(1, sizeof *s);
    if (!s)
        return MGOV_ENOMEM;
    mgov__op_config_t oc = op_config(cfg);
    if ((rc = mgov__op_init(&s->op, &oc)) != MGOV_OK) {
        free(s);
        return rc;
    }
    s->flags = cfg->flags;
    s->rec_size = cfg->record_size;
    s->key_off = cfg->key_offset;
    s->key_size = cfg->record_size && !cfg->key_size ? cfg->record_size : cfg->key_size;
    s->cmp = cfg->cmp;
    s->cmp_ctx = cfg->cmp_ctx;
    s->max_record = cfg->record_size ? cfg->record_size
                    : cfg->max_record ? cfg->max_record : SORT_MAX_RECORD_DEFAULT;
    s->progress = cfg->progress;
    s->progress_ctx = cfg->progress_ctx;
    /* grow by ~1/32 of what may be used: few governor calls, little slack */
    uint64_t mem = s->op.mem;
    uint64_t step = mem / 32;
    if (step < (64u << 10))
        step = 64u << 10;
    if (step > (16u << 20))
        step = 16u << 20;
    s->step = step;

    if ((rc = mgov__sort_buffer_init(s)) == MGOV_OK &&
        (rc = mgov__op_register(&s->op, &oc)) == MGOV_OK) {
        *out = s;
        return MGOV_OK;
    }
    mgov__sort_buffer_free(s);
    free(s);
    return rc;
}

int mgov_sort_push(mgov_sort_t *s, const void *rec, size_t len)
{
    if (!s || (!rec && len))
        return MGOV_EINVAL;
    if (s->op.failed)
        return s->op.failed;
    if (s->finished || (s->rec_size && len != s->rec_size) || len > s->max_record)
        return MGOV_EINVAL;
    int rc = mgov__sort_buffer_push(s, rec, len);
    if (rc != MGOV_OK)
        return mgov__op_fail(&s->op, rc);
    s->st.records_in++;
    s->st.bytes_in += len;
    if (len > s->longest)
        s->longest = len;
    return MGOV_OK;
}

int mgov_sort_spill(mgov_sort_t *s)
{
    if (!s)
        return MGOV_EINVAL;
    if (s->op.failed)
        return s->op.failed;
    if (s->finished)
        return MGOV_EINVAL;
    /* a pending request of either kind is answered by this one */
    (void)mgov__op_take_request(&s->op);
    if (mgov__op_charged(&s->op) == 0)
        return 0;
    int rc = mgov__sort_buffer_spill(s, true);
    return rc == MGOV_OK ? 1 : mgov__op_fail(&s->op, rc);
}

int mgov_sort_finish(mgov_sort_t *s)
{
    if (!s)
        return MGOV_EINVAL;
    if (s->op.failed)
        return s->op.failed;
    if (s->finished)
        return MGOV_EINVAL;
    s->finished = true;
    int rc = MGOV_OK;
    /* everything still in RAM: sort it there, unless the governor wants
     * the memory back (a run asked for by the sort's own growth is moot) */
    if (s->n_runs == 0 && mgov__op_take_request(&s->op) != MGOV__OP_ASKED_MEMORY) {
        mgov__sort_buffer_sort_in_place(s);
        s->st.phase = MGOV_SORT_PHASE_OUTPUT;
    } else {
        rc = mgov__sort_merge_prepare(s);
    }
    if (rc == MGOV_OK)
        mgov__sort_progress(s);
    return rc == MGOV_OK ? MGOV_OK : mgov__op_fail(&s->op, rc);
}

/* The next record before UNIQUE filtering. */
static int next_raw(mgov_sort_t *s, const unsigned char **rec, size_t *len)
{
    if (s->n_runs)
        return mgov__sort_merge_next(s, rec, len);
    if (s->out_pos >= s->n)
        return 0;
    if (s->rec_size) {
        *rec = s->out_fixed + s->out_pos * s->rec_size;
        *len = s->rec_size;
    } else {
        const unsigned char *r = s->out_entries[s->out_pos].rec;
        *rec = mgov__sort_rec_data(r);
        *len = mgov__sort_rec_len(r);
    }
    s->out_pos++;
    return 1;
}

/* Keeps a copy of the record just returned, for MGOV_SORT_UNIQUE (the
 * merge may overwrite the original before the next call compares). */
static int remember(mgov_sort_t *s, const unsigned char *rec, size_t len)
{
    int rc = mgov__op_grow(&s->op, &s->last, len ? len : 1, len < 64 ? 64 : len, 0, 0);
    if (rc != MGOV_OK)
        return rc;
    if (len)
        memcpy(s->last.base, rec, len);
    s->last_len = len;
    s->have_last = true;
    return MGOV_OK;
}

int mgov_sort_next(mgov_sort_t *s, const void **rec, size_t *len)
{
    if (!s || !rec || !len)
        return MGOV_EINVAL;
    if (s->op.failed)
        return s->op.failed;
    if (!s->finished)
        return MGOV_EINVAL;
    for (;;) {
        const unsigned char *r;
        size_t n;
        int rc = next_raw(s, &r, &n);
        if (rc <= 0)
            return rc < 0 ? mgov__op_fail(&s->op, rc) : 0;
        if (s->flags & MGOV_SORT_UNIQUE) {
            if (s->have_last && mgov__sort_compare(s, s->last.base, s->last_len, r, n) == 0)
                continue;
            if ((rc = remember(s, r, n)) != MGOV_OK)
                return mgov__op_fail(&s->op, rc);
        }
        s->st.records_out++;
        *rec = r;
        *len = n;
        return 1;
    }
}

int mgov_sort_stats(const mgov_sort_t *s, mgov_sort_stats_t *out)
{
    if (!s || !out)
        return MGOV_EINVAL;
    *out = s->st;
    mgov__op_stats(&s->op, &out->spill_requests, &out->memory, &out->memory_peak);
    return MGOV_OK;
}

void mgov_sort_destroy(mgov_sort_t *s)
{
    if (!s)
        return;
    mgov__op_fini(&s->op); /* first, so no op runs while the state goes away */
    mgov__sort_merge_close(&s->merge);
    mgov__sort_runs_destroy(s);
    mgov__sort_buffer_free(s);
    mgov__gbuf_free(&s->last);
    free(s);
}
