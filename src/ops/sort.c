/* ops/sort.c - the external sort's lifecycle, its public entry points and
 * its consumer ops (see memgov/sort.h and ops/sort_internal.h).
 *
 * Invariants: s->failed is sticky: once set, every entry point returns it.
 * s->charged always equals s->grant.bytes.  The consumer is registered
 * for the whole life of the sort and unregistered before anything it reads
 * is freed.
 *
 * Locking: none of its own.  The consumer ops run in any thread and touch
 * atomics only: spill asks (the sorting thread spills at its next push),
 * usage reads the grant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc_internal.h"
#include "ops/sort_internal.h"
#include "spill/spill_internal.h"
#include "sys/fault.h"

#define SORT_MAX_RECORD_DEFAULT ((size_t)64 << 20)
#define SORT_BLOCK_MIN ((size_t)16 << 10)
#define SORT_BLOCK_MAX ((size_t)1 << 20)

static _Atomic unsigned sort_serial;

/* ------------------------------------------------------------ consumer ops */

static uint64_t sort_usage(void *ctx)
{
    mgov_sort_t *s = ctx;
    return atomic_load_explicit(&s->charged, memory_order_relaxed);
}

/* Asks: the records in RAM belong to the sorting thread, which writes them
 * out at its next push and then releases the grant (waking whoever waits). */
/* The sort whose grant this thread is growing now: a spill request made
 * by that growth's own reclaim asks for a run, not for the memory back. */
static _Thread_local const mgov_sort_t *growing;

static int sort_spill(void *ctx, uint64_t target, uint64_t *freed)
{
    (void)target;
    mgov_sort_t *s = ctx;
    if (atomic_load_explicit(&s->charged, memory_order_relaxed) > 0)
        atomic_store_explicit(&s->spill_asked, growing == s ? MGOV__SORT_ASKED_RUN
                                                            : MGOV__SORT_ASKED_MEMORY,
                              memory_order_relaxed);
    *freed = 0;
    return MGOV_OK;
}

static const mgov_consumer_ops_t sort_ops = {
    .usage = sort_usage,
    .spill = sort_spill,
};

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

/* Publishes the grant's size: to the consumer ops and to the stats. */
static void grant_changed(mgov_sort_t *s)
{
    uint64_t now = s->grant.gov ? s->grant.bytes : 0;
    atomic_store_explicit(&s->charged, now, memory_order_relaxed);
    s->st.memory = now;
    if (now > s->st.memory_peak)
        s->st.memory_peak = now;
}

int mgov__sort_charge(mgov_sort_t *s, uint64_t bytes)
{
    int rc = MGOV_OK;
    growing = s;
    if (s->grant.gov)
        rc = mgov_grant_resize(&s->grant, bytes);
    else if (bytes)
        rc = mgov_try_reserve(s->gov, s->region, bytes, MGOV_REVOCABLE, &s->grant);
    growing = NULL;
    if (rc == MGOV_OK && bytes == 0)
        mgov_grant_release(&s->grant);
    if (rc == MGOV_OK)
        grant_changed(s);
    return rc;
}

int mgov__sort_charge_wait(mgov_sort_t *s, uint64_t bytes)
{
    uint64_t have = s->grant.gov ? s->grant.bytes : 0;
    if (bytes <= have)
        return MGOV_OK;
    mgov_grant_t more = MGOV_GRANT_INIT;
    growing = s;
    int rc = mgov_reserve(s->gov, s->region, bytes - have, MGOV_REVOCABLE, s->timeout_ns, &more);
    growing = NULL;
    if (rc != MGOV_OK)
        return rc;
    if (!s->grant.gov)
        s->grant = more;
    else if ((rc = mgov_grant_merge(&s->grant, &more)) != MGOV_OK) {
        mgov_grant_release(&more);
        return rc;
    }
    grant_changed(s);
    return MGOV_OK;
}

static int fail(mgov_sort_t *s, int rc)
{
    if (rc < 0 && rc != MGOV_EINVAL && s->failed == MGOV_OK)
        s->failed = rc;
    return rc;
}

/* A power of two between 16 KiB and 1 MiB, about 1/64 of the memory the
 * sort may use: small budgets still merge many runs at once. */
static size_t auto_block(uint64_t mem)
{
    size_t b = SORT_BLOCK_MIN;
    while (b < SORT_BLOCK_MAX && (uint64_t)b * 2 * 64 <= mem)
        b *= 2;
    return b;
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
    if (!mgov_codec_available(cfg->spill.codec))
        return (unsigned)cfg->spill.codec > MGOV_CODEC_ZSTD ? MGOV_EINVAL : MGOV_ENOTSUP;
    return MGOV_OK;
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
    int region;
    if ((rc = mgov__alloc_region(cfg->gov, cfg->region, &region)) != MGOV_OK)
        return rc;

    mgov_sort_t *s = mgov__calloc(1, sizeof *s);
    if (!s)
        return MGOV_ENOMEM;
    s->gov = cfg->gov;
    s->region = region;
    s->flags = cfg->flags;
    s->rec_size = cfg->record_size;
    s->key_off = cfg->key_offset;
    s->key_size = cfg->record_size && !cfg->key_size ? cfg->record_size : cfg->key_size;
    s->cmp = cfg->cmp;
    s->cmp_ctx = cfg->cmp_ctx;
    s->max_record = cfg->record_size ? cfg->record_size
                    : cfg->max_record ? cfg->max_record : SORT_MAX_RECORD_DEFAULT;
    s->max_memory = cfg->max_memory;
    s->timeout_ns = cfg->timeout_ns ? cfg->timeout_ns : (int64_t)10 * 1000000000;
    s->spill = cfg->spill;
    if (!s->spill.timeout_ns) /* run buffers wait like records do */
        s->spill.timeout_ns = s->timeout_ns;
    s->progress = cfg->progress;
    s->progress_ctx = cfg->progress_ctx;

    uint64_t mem = mgov_budget(cfg->gov);
    if (s->max_memory && s->max_memory < mem)
        mem = s->max_memory;
    if (!s->spill.block_size)
        s->spill.block_size = auto_block(mem);
    /* grow by ~1/32 of what may be used: few governor calls, little slack */
    s->step = mem / 32 < (64u << 10) ? (64u << 10) : mem / 32 > (16u << 20) ? (16u << 20) : mem / 32;

    s->writer_cost = mgov__spill_writer_charge(s->spill.codec, s->spill.level, s->spill.block_size);
    s->reader_cost = mgov__spill_reader_charge(s->spill.codec, s->spill.block_size);

    s->dir = cfg->spill_dir;
    if (!s->dir && (rc = mgov_spill_dir_get(cfg->gov, &s->dir)) != MGOV_OK)
        goto fail;
    if ((rc = mgov__sort_buffer_init(s)) != MGOV_OK)
        goto fail;

    char name[MGOV_NAME_MAX + 1];
    if (cfg->name)
        snprintf(name, sizeof name, "%s", cfg->name);
    else
        snprintf(name, sizeof name, "sort-%u", atomic_fetch_add(&sort_serial, 1) + 1);
    mgov_consumer_config_t cc = {
        .name = name,
        .region = region,
        .priority = cfg->priority ? cfg->priority : MGOV_PRIORITY_EXECUTION_BUFFERS,
        .ops = &sort_ops,
        .ctx = s,
    };
    if ((rc = mgov_consumer_register(cfg->gov, &cc, &s->consumer)) != MGOV_OK)
        goto fail;
    *out = s;
    return MGOV_OK;
fail:
    mgov__sort_buffer_free(s);
    free(s);
    return rc;
}

int mgov_sort_push(mgov_sort_t *s, const void *rec, size_t len)
{
    if (!s || (!rec && len))
        return MGOV_EINVAL;
    if (s->failed)
        return s->failed;
    if (s->finished || (s->rec_size && len != s->rec_size) || len > s->max_record)
        return MGOV_EINVAL;
    int rc = mgov__sort_buffer_push(s, rec, len);
    if (rc != MGOV_OK)
        return fail(s, rc);
    s->st.records_in++;
    s->st.bytes_in += len;
    if (len > s->longest)
        s->longest = len;
    return MGOV_OK;
}

int mgov_sort_finish(mgov_sort_t *s)
{
    if (!s)
        return MGOV_EINVAL;
    if (s->failed)
        return s->failed;
    if (s->finished)
        return MGOV_EINVAL;
    s->finished = true;
    int rc = MGOV_OK;
    /* everything still in RAM: sort it there, unless the governor wants
     * the memory back (a run asked for by the sort's own growth is moot) */
    if (s->n_runs == 0 && atomic_load(&s->spill_asked) != MGOV__SORT_ASKED_MEMORY) {
        mgov__sort_buffer_sort_in_place(s);
        s->st.phase = MGOV_SORT_PHASE_OUTPUT;
    } else {
        rc = mgov__sort_merge_prepare(s);
    }
    if (rc == MGOV_OK)
        mgov__sort_progress(s);
    return rc == MGOV_OK ? MGOV_OK : fail(s, rc);
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
    if (len > s->last_cap) {
        size_t cap = len < 64 ? 64 : len;
        uint64_t others = s->grant.gov ? s->grant.bytes - s->last_cap : 0;
        int rc = mgov__sort_charge(s, others + cap);
        if (rc != MGOV_OK)
            return rc;
        unsigned char *p = mgov__malloc(cap);
        if (!p) {
            mgov__sort_charge(s, others + s->last_cap);
            return MGOV_ENOMEM;
        }
        free(s->last);
        s->last = p;
        s->last_cap = cap;
    }
    if (len)
        memcpy(s->last, rec, len);
    s->last_len = len;
    s->have_last = true;
    return MGOV_OK;
}

int mgov_sort_next(mgov_sort_t *s, const void **rec, size_t *len)
{
    if (!s || !rec || !len)
        return MGOV_EINVAL;
    if (s->failed)
        return s->failed;
    if (!s->finished)
        return MGOV_EINVAL;
    for (;;) {
        const unsigned char *r;
        size_t n;
        int rc = next_raw(s, &r, &n);
        if (rc <= 0)
            return rc < 0 ? fail(s, rc) : 0;
        if (s->flags & MGOV_SORT_UNIQUE) {
            if (s->have_last && mgov__sort_compare(s, s->last, s->last_len, r, n) == 0)
                continue;
            if ((rc = remember(s, r, n)) != MGOV_OK)
                return fail(s, rc);
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
    return MGOV_OK;
}

void mgov_sort_destroy(mgov_sort_t *s)
{
    if (!s)
        return;
    /* first, so no op runs while the state goes away */
    if (s->consumer)
        mgov_consumer_unregister(s->consumer);
    mgov__sort_merge_close(&s->merge);
    mgov__sort_runs_destroy(s);
    mgov__sort_buffer_free(s);
    free(s->last);
    mgov_grant_release(&s->grant);
    free(s);
}
