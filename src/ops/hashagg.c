/* ops/hashagg.c - the hash aggregation's lifecycle, input and output (see
 * memgov/hashagg.h and ops/hashagg_internal.h).
 *
 * Input.  Rows of fixed-width keys with built-in aggregates are gathered in
 * a batch of MGOV__HA_BATCH: their hashes are computed and their slots
 * prefetched together, then each is aggregated; the misses of one row
 * overlap those of the others, which is most of the speed of a large
 * table.  Other rows are aggregated one at a time (a user aggregate's
 * values may point into the caller's memory, valid during the push only).
 *
 * Work memory (one grant-backed buffer, made at the first push):
 *   [ batch keys | batch values | results | a state block | a record's carry
 *     | a batch of a file's records, laid out as rows (fixed keys) ]
 *
 * Output: the groups of the pass's partitions in RAM, partition by
 * partition (each freed once returned), then every file on the stack in
 * turn (hashagg_pass.c).
 *
 * Invariants: op.failed is sticky; the consumer is registered last at
 * create and unregistered first at destroy.
 * Locking: none (the base's consumer ops touch atomics only).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/hashagg_internal.h"
#include "sys/fault.h"

#define PROGRESS_GROUPS ((uint64_t)1 << 20)

static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

void mgov__hashagg_test_constant_hash(mgov_hashagg_t *h)
{
    h->const_hash = true;
}

static int check_config(const mgov_hashagg_config_t *cfg)
{
    if (!cfg || !cfg->gov || cfg->n_inputs > MGOV_HASHAGG_MAX_INPUTS)
        return MGOV_EINVAL;
    if (cfg->key_size > UINT32_MAX || cfg->max_key > UINT32_MAX / 2)
        return MGOV_EINVAL;
    return MGOV_OK;
}

int mgov_hashagg_create(const mgov_hashagg_config_t *cfg, mgov_hashagg_t **out)
{
    int rc = out ? check_config(cfg) : MGOV_EINVAL;
    if (out)
        *out = NULL;
    mgov_hashagg_t *h = rc == MGOV_OK ? mgov__calloc(1, sizeof *h) : NULL;
    if (rc == MGOV_OK && !h)
        rc = MGOV_ENOMEM;
    if (rc == MGOV_OK)
        rc = mgov__agg_layout(&h->lay, cfg->aggs, cfg->n_aggs, cfg->n_inputs);
    if (rc != MGOV_OK) {
        free(h);
        return rc;
    }
    mgov__op_config_t oc = {
        .gov = cfg->gov,
        .region = cfg->region,
        .name = cfg->name,
        .prefix = "hashagg",
        .priority = cfg->priority,
        .max_memory = cfg->max_memory,
        .timeout_ns = cfg->timeout_ns,
        .spill_dir = cfg->spill_dir,
        .spill = cfg->spill,
    };
    if ((rc = mgov__op_init(&h->op, &oc)) != MGOV_OK) {
        free(h);
        return rc;
    }
    h->key_size = cfg->key_size;
    h->max_key = cfg->key_size ? cfg->key_size
                 : cfg->max_key ? cfg->max_key : MGOV__HA_MAX_KEY_DEFAULT;
    h->n_inputs = cfg->n_inputs;
    h->state_off = (cfg->key_size + 7) & ~(size_t)7;
    h->row_size = h->state_off + h->lay.size;
    h->rec_fixed = cfg->key_size ? cfg->key_size + h->lay.size : 0;
    h->progress = cfg->progress;
    h->progress_ctx = cfg->progress_ctx;
    h->pass.bits_max = mgov__part_plan(&h->op, cfg->spill.block_size != 0);
    h->pass.bits = h->pass.bits_max;
    h->pass.n = 1u << h->pass.bits;
    h->pass.sides = 1;
    h->pass.rec_size = h->rec_fixed;
    h->st.partitions = h->pass.n;
    /* one open writer per partition and a reader stay possible beside the
     * groups: the spill of a pass can always start */
    uint64_t files = (uint64_t)h->pass.n * h->op.writer_cost + h->op.reader_cost;
    h->limit = h->op.mem > 2 * files ? h->op.mem - files : h->op.mem / 2;
    uint64_t step = h->op.mem / (8 * (uint64_t)h->pass.n);
    h->step = step < (64u << 10) ? (64u << 10) : step > (16u << 20) ? (16u << 20) : (size_t)step;

    rc = mgov__op_buf_init(&h->op, &h->work, 0);
    if (rc == MGOV_OK)
        rc = mgov__op_buf_init(&h->op, &h->cur, 0);
    if (rc == MGOV_OK)
        rc = mgov__op_buf_init(&h->op, &h->pend, 0);
    if (rc == MGOV_OK)
        rc = mgov__op_register(&h->op, &oc);
    if (rc != MGOV_OK) {
        free(h);
        return rc;
    }
    *out = h;
    return MGOV_OK;
}

/* The work buffer and the input's pass, at the first push (or finish). */
static int start(mgov_hashagg_t *h)
{
    if (h->pass.active || h->finished)
        return MGOV_OK;
    bool batch = h->key_size && h->lay.batchable;
    size_t bk = batch ? round16(MGOV__HA_BATCH * h->key_size) : 0;
    size_t bv = batch ? round16(MGOV__HA_BATCH * h->n_inputs * sizeof(mgov_value_t)) : 0;
    size_t res = round16(h->lay.n * sizeof(mgov_value_t));
    size_t tmp = round16(h->lay.size);
    size_t carry = round16(h->rec_fixed);
    size_t stage = h->key_size ? round16(MGOV__HA_BATCH * h->row_size) : 0;
    size_t total = bk + bv + res + tmp + carry + stage;
    int rc = mgov__op_grow(&h->op, &h->work, total ? total : 16, 0, h->op.timeout_ns, 0);
    if (rc != MGOV_OK)
        return rc;
    unsigned char *p = h->work.base;
    h->bkeys = batch ? p : NULL;
    h->bvals = batch ? (mgov_value_t *)(p + bk) : NULL;
    h->results = (mgov_value_t *)(p + bk + bv);
    h->tmp = p + bk + bv + res;
    h->carry = h->tmp + tmp;
    h->stage = h->key_size ? h->carry + carry : NULL;
    return mgov__op_pass_begin(&h->op, &h->pass, 0, UINT64_MAX, h->pass.bits_max);
}

/* Aggregates the batch (a spill request is honoured once per batch). */
static int flush_batch(mgov_hashagg_t *h)
{
    unsigned n = h->nb;
    h->nb = 0;
    int rc = mgov__ha_take_request(h);
    return rc == MGOV_OK ? mgov__ha_absorb_batch(h, h->bkeys, h->key_size,
                                                 (const unsigned char *)h->bvals,
                                                 h->n_inputs * sizeof(mgov_value_t), false, n)
                         : rc;
}

int mgov_hashagg_spill(mgov_hashagg_t *h)
{
    if (!h)
        return MGOV_EINVAL;
    if (h->op.failed)
        return h->op.failed;
    if (h->finished)
        return MGOV_EINVAL;
    (void)mgov__op_take_request(&h->op); /* answered by this one */
    int rc = mgov__ha_spill_largest(h);
    return rc < 0 ? mgov__op_fail(&h->op, rc) : rc;
}

int mgov_hashagg_push(mgov_hashagg_t *h, const void *key, size_t key_len,
                      const mgov_value_t *values)
{
    if (!h || (!key && key_len) || (h->n_inputs && !values))
        return MGOV_EINVAL;
    if (h->op.failed)
        return h->op.failed;
    if (h->finished || (h->key_size ? key_len != h->key_size : key_len > h->max_key))
        return MGOV_EINVAL;
    int rc = start(h);
    if (rc == MGOV_OK) {
        if (h->bkeys) {
            memcpy(h->bkeys + h->nb * h->key_size, key, h->key_size);
            if (h->n_inputs)
                memcpy(h->bvals + h->nb * h->n_inputs, values, h->n_inputs * sizeof *values);
            if (++h->nb == MGOV__HA_BATCH)
                rc = flush_batch(h);
        } else if ((rc = mgov__ha_take_request(h)) == MGOV_OK) {
            uint64_t hv = mgov__part_hash(key, key_len, 0, h->const_hash);
            rc = mgov__ha_absorb(h, key, key_len, hv, values, NULL);
        }
    }
    if (rc != MGOV_OK)
        return mgov__op_fail(&h->op, rc);
    h->st.rows_in++;
    return MGOV_OK;
}

int mgov_hashagg_push_batch(mgov_hashagg_t *h, const void *keys, const mgov_value_t *values,
                            size_t n)
{
    if (!h || (!keys && n) || (h->n_inputs && !values && n) || !h->key_size)
        return MGOV_EINVAL;
    if (h->op.failed)
        return h->op.failed;
    if (h->finished)
        return MGOV_EINVAL;
    if (!h->bkeys) { /* a user aggregate: one at a time */
        for (size_t i = 0; i < n; i++) {
            int rc = mgov_hashagg_push(h, (const unsigned char *)keys + i * h->key_size,
                                       h->key_size, values ? values + i * h->n_inputs : NULL);
            if (rc != MGOV_OK)
                return rc;
        }
        return MGOV_OK;
    }
    int rc = start(h);
    if (rc == MGOV_OK && h->nb) /* rows pushed one by one come first */
        rc = flush_batch(h);
    const unsigned char *k = keys;
    for (size_t i = 0; i < n && rc == MGOV_OK; i += MGOV__HA_BATCH) {
        unsigned m = n - i < MGOV__HA_BATCH ? (unsigned)(n - i) : MGOV__HA_BATCH;
        rc = mgov__ha_take_request(h);
        if (rc == MGOV_OK)
            rc = mgov__ha_absorb_batch(
                h, k + i * h->key_size, h->key_size,
                (const unsigned char *)(values ? values + i * h->n_inputs : h->bvals),
                h->n_inputs * sizeof(mgov_value_t), false, m);
        if (rc == MGOV_OK)
            h->st.rows_in += m;
    }
    return rc == MGOV_OK ? MGOV_OK : mgov__op_fail(&h->op, rc);
}

int mgov_hashagg_finish(mgov_hashagg_t *h)
{
    if (!h)
        return MGOV_EINVAL;
    if (h->op.failed)
        return h->op.failed;
    if (h->finished)
        return MGOV_EINVAL;
    int rc = MGOV_OK;
    if (h->pass.active) {
        if (h->nb)
            rc = flush_batch(h);
        if (rc == MGOV_OK)
            rc = mgov__ha_pass_end(h);
    }
    h->finished = true;
    if (rc != MGOV_OK)
        return mgov__op_fail(&h->op, rc);
    h->out = h->pass.active ? HA_OUT_MEM : HA_OUT_NONE;
    h->out_part = 0;
    h->out_row = 0;
    h->out_off = 0;
    mgov__ha_progress(h);
    return MGOV_OK;
}

/* The next group of the pass's partitions in RAM: 1, or 0 when they are
 * all returned (and freed). */
static int next_in_ram(mgov_hashagg_t *h, mgov_hashagg_group_t *g)
{
    mgov__op_pass_t *ps = &h->pass;
    while (h->out_part < ps->n) {
        mgov__ptab_t *pt = &ps->parts[h->out_part];
        if (h->out_row < pt->nrows) {
            unsigned char *row = pt->rows.base + h->out_off;
            size_t klen;
            const unsigned char *key = mgov__ha_row_key(h, row, &klen);
            g->key = klen ? key : NULL;
            g->key_len = klen;
            g->overflow = mgov__agg_finalize(&h->lay, mgov__ha_row_states(h, row), h->results);
            g->values = h->results;
            h->out_off += mgov__ha_row_bytes(h, klen);
            h->out_row++;
            return 1;
        }
        /* the partition is out: its memory goes back (a group returned from
         * it stays valid until this call, and this call is the next) */
        mgov__ptab_free(pt);
        h->out_part++;
        h->out_row = 0;
        h->out_off = 0;
    }
    mgov__op_pass_free(&h->pass);
    return 0;
}

int mgov_hashagg_next(mgov_hashagg_t *h, mgov_hashagg_group_t *out)
{
    if (!h || !out)
        return MGOV_EINVAL;
    if (h->op.failed)
        return h->op.failed;
    if (!h->finished)
        return MGOV_EINVAL;
    for (;;) {
        int rc = 0;
        switch (h->out) {
        case HA_OUT_MEM:
            rc = next_in_ram(h, out);
            if (rc == 0)
                h->out = HA_OUT_NONE;
            break;
        case HA_OUT_SORT:
            rc = mgov__ha_sort_next(h, out);
            if (rc == 0) {
                mgov_sort_destroy(h->sort);
                h->sort = NULL;
                h->out = HA_OUT_NONE;
            }
            break;
        case HA_OUT_NONE:
            rc = mgov__ha_next_file(h);
            if (rc == 0)
                h->out = HA_OUT_DONE;
            if (rc >= 0)
                continue;
            break;
        default:
            return 0;
        }
        if (rc < 0)
            return mgov__op_fail(&h->op, rc);
        if (rc > 0) {
            h->st.groups_out++;
            if (++h->progress_groups >= PROGRESS_GROUPS) {
                h->progress_groups = 0;
                mgov__ha_progress(h);
            }
            return 1;
        }
    }
}

int mgov_hashagg_stats(const mgov_hashagg_t *h, mgov_hashagg_stats_t *out)
{
    if (!h || !out)
        return MGOV_EINVAL;
    *out = h->st;
    mgov__op_stats(&h->op, &out->spill_requests, &out->memory, &out->memory_peak);
    out->levels = h->pass.deepest;
    return MGOV_OK;
}

void mgov_hashagg_destroy(mgov_hashagg_t *h)
{
    if (!h)
        return;
    mgov__op_fini(&h->op); /* first, so no op runs while the state goes away */
    mgov_sort_destroy(h->sort);
    mgov__op_pass_free(&h->pass);
    mgov__part_stack_free(&h->todo);
    mgov__gbuf_free(&h->work);
    mgov__gbuf_free(&h->cur);
    mgov__gbuf_free(&h->pend);
    free(h);
}
