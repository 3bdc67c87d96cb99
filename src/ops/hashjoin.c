/* ops/hashjoin.c - the hash join's lifecycle, pushes and output state
 * machine (see memgov/hashjoin.h and ops/hashjoin_internal.h).
 *
 *   build...  -> the level-0 pass's partitions (RAM or build files)
 *   probe     -> its output pulled by next (HJ_PROBE), or its partition's
 *                probe file
 *   probe_finish, next:
 *     HJ_UNMATCHED  unmatched build rows of the pass's RAM partitions
 *     HJ_PAIRS      the next spilled pair from the stack:
 *       HJ_FILE       a pass: its build file loaded, its probe file
 *                     streamed (then HJ_UNMATCHED for that pass)
 *       HJ_CHUNK      a chunked join
 *       HJ_RADIX      a pair that fits, joined in cache-sized parts
 *     HJ_DONE
 *
 * Invariants: op.failed is sticky; the consumer is registered last at
 * create and unregistered first at destroy; a pushed probe row is copied
 * (curbuf) because its output is pulled after the push returns.
 * Locking: none (the base's consumer ops touch atomics only).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/hashjoin_internal.h"
#include "sys/fault.h"

uint64_t mgov__hashjoin_test_radix_pairs(const mgov_hashjoin_t *j)
{
    return j->radix_pairs;
}

void mgov__hashjoin_test_constant_hash(mgov_hashjoin_t *j)
{
    j->const_hash = true;
}

int mgov_hashjoin_create(const mgov_hashjoin_config_t *cfg, mgov_hashjoin_t **out)
{
    if (!out)
        return MGOV_EINVAL;
    *out = NULL;
    if (!cfg || !cfg->gov || (unsigned)cfg->type > MGOV_JOIN_ANTI ||
        cfg->key_size > UINT32_MAX / 2 || cfg->max_key > UINT32_MAX / 2 ||
        cfg->max_payload > UINT32_MAX / 2)
        return MGOV_EINVAL;
    mgov_hashjoin_t *j = mgov__calloc(1, sizeof *j);
    if (!j)
        return MGOV_ENOMEM;
    mgov__op_config_t oc = {
        .gov = cfg->gov,
        .region = cfg->region,
        .name = cfg->name,
        .prefix = "hashjoin",
        .priority = cfg->priority,
        .max_memory = cfg->max_memory,
        .timeout_ns = cfg->timeout_ns,
        .spill_dir = cfg->spill_dir,
        .spill = cfg->spill,
    };
    int rc = mgov__op_init(&j->op, &oc);
    if (rc != MGOV_OK) {
        free(j);
        return rc;
    }
    j->type = cfg->type;
    j->key_size = cfg->key_size;
    j->max_key = cfg->key_size ? cfg->key_size
                 : cfg->max_key ? cfg->max_key : MGOV__HJ_MAX_KEY_DEFAULT;
    j->max_payload = cfg->max_payload ? cfg->max_payload : MGOV__HJ_MAX_PAYLOAD_DEFAULT;
    j->progress = cfg->progress;
    j->progress_ctx = cfg->progress_ctx;
    j->pass.bits_max = mgov__part_plan(&j->op, cfg->spill.block_size != 0);
    j->pass.bits = j->pass.bits_max;
    j->pass.n = 1u << j->pass.bits;
    j->pass.sides = 2; /* HJ_SIDE_BUILD, HJ_SIDE_PROBE */
    j->pass.rec_size = 0;
    j->st.partitions = j->pass.n;
    /* a writer per partition and side, and two readers, stay possible
     * beside the build rows: a spill can always open its files */
    uint64_t files = 2 * (uint64_t)j->pass.n * j->op.writer_cost + 2 * j->op.reader_cost;
    j->limit = j->op.mem > 2 * files ? j->op.mem - files : j->op.mem / 2;
    rc = mgov__op_buf_init(&j->op, &j->curbuf, 0);
    if (rc == MGOV_OK)
        rc = mgov__op_buf_init(&j->op, &j->pend, 0);
    if (rc == MGOV_OK)
        rc = mgov__op_buf_init(&j->op, &j->stage.buf, 0);
    if (rc == MGOV_OK)
        rc = mgov__op_register(&j->op, &oc);
    if (rc != MGOV_OK) {
        free(j);
        return rc;
    }
    j->state = HJ_IDLE;
    *out = j;
    return MGOV_OK;
}

static int check_lengths(const mgov_hashjoin_t *j, const void *key, size_t klen,
                         const void *payload, size_t plen)
{
    if ((!key && klen) || (!payload && plen) || plen > j->max_payload)
        return MGOV_EINVAL;
    return (j->key_size ? klen != j->key_size : klen > j->max_key) ? MGOV_EINVAL : MGOV_OK;
}

static int start(mgov_hashjoin_t *j)
{
    return j->pass.active ? MGOV_OK : mgov__hj_pass_begin(j, 0, UINT64_MAX, j->pass.bits_max);
}

int mgov_hashjoin_spill(mgov_hashjoin_t *j)
{
    if (!j)
        return MGOV_EINVAL;
    if (j->op.failed)
        return j->op.failed;
    if (j->probe_done)
        return MGOV_EINVAL;
    if (j->state != HJ_IDLE)
        return MGOV_EBUSY;
    (void)mgov__op_take_request(&j->op); /* answered by this one */
    int rc = mgov__hj_spill_largest(j);
    return rc < 0 ? mgov__op_fail(&j->op, rc) : rc;
}

int mgov_hashjoin_build(mgov_hashjoin_t *j, const void *key, size_t key_len, const void *payload,
                        size_t payload_len)
{
    if (!j)
        return MGOV_EINVAL;
    if (j->op.failed)
        return j->op.failed;
    if (j->build_done || check_lengths(j, key, key_len, payload, payload_len) != MGOV_OK)
        return MGOV_EINVAL;
    int rc = start(j);
    if (rc == MGOV_OK)
        rc = mgov__hj_take_request(j);
    if (rc == MGOV_OK)
        rc = mgov__hj_build_row_hv(j, mgov__hj_hash(j, key, key_len), key, key_len,
                                   payload, payload_len, 0);
    if (rc != MGOV_OK)
        return mgov__op_fail(&j->op, rc);
    j->st.build_rows++;
    return MGOV_OK;
}

#define BATCH 256

/* The checks of a batch call: MGOV_OK, the sticky failure, or MGOV_EINVAL
 * (bad arguments, variable keys, or the phase is not `probing`). */
static int batch_check(const mgov_hashjoin_t *j, const void *keys, const void *payloads,
                       size_t payload_size, size_t n, bool probing)
{
    if (!j || !j->key_size || (!keys && n) || (!payloads && payload_size && n) ||
        payload_size > j->max_payload)
        return MGOV_EINVAL;
    if (j->op.failed)
        return j->op.failed;
    return j->build_done != probing || j->probe_done ? MGOV_EINVAL : MGOV_OK;
}

int mgov_hashjoin_build_batch(mgov_hashjoin_t *j, const void *keys, const void *payloads,
                              size_t payload_size, size_t n)
{
    int rc = batch_check(j, keys, payloads, payload_size, n, false);
    if (rc != MGOV_OK)
        return rc;
    rc = start(j);
    uint64_t hv[BATCH];
    const unsigned char *k = keys, *p = payloads;
    for (size_t i = 0; i < n && rc == MGOV_OK; i += BATCH) {
        size_t m = n - i < BATCH ? n - i : BATCH;
        if ((rc = mgov__hj_take_request(j)) != MGOV_OK)
            break;
        mgov__hj_prefetch_batch(j, k + i * j->key_size, j->key_size, m, hv);
        for (size_t x = 0; x < m && rc == MGOV_OK; x++) {
            rc = mgov__hj_build_row_hv(j, hv[x], k + (i + x) * j->key_size, j->key_size,
                                       p ? p + (i + x) * payload_size : NULL, payload_size, 0);
            if (rc == MGOV_OK)
                j->st.build_rows++;
        }
    }
    return rc == MGOV_OK ? MGOV_OK : mgov__op_fail(&j->op, rc);
}

int mgov_hashjoin_build_finish(mgov_hashjoin_t *j)
{
    if (!j)
        return MGOV_EINVAL;
    if (j->op.failed)
        return j->op.failed;
    if (j->build_done)
        return MGOV_EINVAL;
    int rc = start(j);
    if (rc != MGOV_OK)
        return mgov__op_fail(&j->op, rc);
    j->build_done = true;
    mgov__hj_seal_pass(j);
    mgov__hj_progress(j);
    return MGOV_OK;
}

int mgov_hashjoin_probe(mgov_hashjoin_t *j, const void *key, size_t key_len, const void *payload,
                        size_t payload_len)
{
    if (!j)
        return MGOV_EINVAL;
    if (j->op.failed)
        return j->op.failed;
    if (!j->build_done || j->probe_done ||
        check_lengths(j, key, key_len, payload, payload_len) != MGOV_OK)
        return MGOV_EINVAL;
    if (j->state != HJ_IDLE)
        return MGOV_EBUSY;
    int rc = mgov__hj_take_request(j);
    if (rc == MGOV_OK) /* the copy: its output is pulled after we return */
        rc = mgov__op_grow(&j->op, &j->curbuf, key_len + payload_len ? key_len + payload_len : 1,
                           2 * (key_len + payload_len), j->op.timeout_ns, 0);
    if (rc != MGOV_OK)
        return mgov__op_fail(&j->op, rc);
    unsigned char *k = j->curbuf.base;
    if (key_len)
        memcpy(k, key, key_len);
    if (payload_len)
        memcpy(k + key_len, payload, payload_len);
    rc = mgov__hj_probe_row_hv(j, mgov__hj_hash(j, k, key_len), k, key_len,
                               k + key_len, payload_len, 0);
    if (rc < 0)
        return mgov__op_fail(&j->op, rc);
    if (rc == 1)
        j->state = HJ_PROBE;
    j->st.probe_rows++;
    return MGOV_OK;
}

/* Makes the batch's next rows current until one has output to pull (1),
 * or the batch is over (0). */
static int batch_advance(mgov_hashjoin_t *j)
{
    size_t ks = j->key_size, ps = j->pb_psize;
    const unsigned char *keys = j->curbuf.base, *pays = keys + j->pb_n * ks;
    while (j->pb_i < j->pb_n) {
        size_t i = j->pb_i++;
        if (i % BATCH == 0) { /* the window after this one, while this one is joined */
            if (i == 0)
                mgov__hj_prefetch_hv(j, j->pb_hv, j->pb_n < BATCH ? j->pb_n : BATCH);
            size_t a = i + BATCH;
            if (a < j->pb_n)
                mgov__hj_prefetch_hv(j, j->pb_hv + a, j->pb_n - a < BATCH ? j->pb_n - a : BATCH);
        }
        int rc = mgov__hj_probe_row_hv(j, j->pb_hv[i], keys + i * ks, ks,
                                       ps ? pays + i * ps : NULL, ps, 0);
        if (rc != 0)
            return rc;
    }
    j->pb_n = j->pb_i = 0;
    return 0;
}

int mgov_hashjoin_probe_batch(mgov_hashjoin_t *j, const void *keys, const void *payloads,
                              size_t payload_size, size_t n)
{
    int rc = batch_check(j, keys, payloads, payload_size, n, true);
    if (rc != MGOV_OK)
        return rc;
    if (j->state != HJ_IDLE)
        return MGOV_EBUSY;
    rc = mgov__hj_take_request(j);
    /* the copy: keys, payloads, then the hashes (8-aligned) */
    size_t rows = n * (j->key_size + payload_size), at = (rows + 7) & ~(size_t)7;
    size_t need = at + n * sizeof(uint64_t);
    if (rc == MGOV_OK)
        rc = mgov__op_grow(&j->op, &j->curbuf, need ? need : 1, 0, j->op.timeout_ns, 0);
    if (rc != MGOV_OK)
        return mgov__op_fail(&j->op, rc);
    unsigned char *b = j->curbuf.base;
    if (n) {
        memcpy(b, keys, n * j->key_size);
        if (payload_size)
            memcpy(b + n * j->key_size, payloads, n * payload_size);
    }
    j->pb_hv = (uint64_t *)(void *)(b + at);
    j->pb_n = n;
    j->pb_i = 0;
    j->pb_psize = payload_size;
    for (size_t i = 0; i < n; i++) /* prefetched a window at a time, as they are joined */
        j->pb_hv[i] = mgov__part_hash(b + i * j->key_size, j->key_size, j->pass.level,
                                      j->const_hash);
    j->st.probe_rows += n;
    rc = batch_advance(j);
    if (rc < 0)
        return mgov__op_fail(&j->op, rc);
    if (rc == 1)
        j->state = HJ_PROBE;
    return MGOV_OK;
}

int mgov_hashjoin_probe_finish(mgov_hashjoin_t *j)
{
    if (!j)
        return MGOV_EINVAL;
    if (j->op.failed)
        return j->op.failed;
    if (!j->build_done || j->probe_done)
        return MGOV_EINVAL;
    if (j->state != HJ_IDLE)
        return MGOV_EBUSY;
    j->probe_done = true;
    int rc = mgov__hj_pass_end(j);
    if (rc != MGOV_OK)
        return mgov__op_fail(&j->op, rc);
    j->state = HJ_UNMATCHED;
    mgov__hj_progress(j);
    return MGOV_OK;
}

int mgov_hashjoin_next(mgov_hashjoin_t *j, mgov_hashjoin_row_t *out)
{
    if (!j || !out)
        return MGOV_EINVAL;
    if (j->op.failed)
        return j->op.failed;
    if (!j->build_done)
        return MGOV_EINVAL;
    for (;;) {
        int rc;
        switch (j->state) {
        case HJ_PROBE:
            rc = mgov__hj_cur_next(j, out);
            if (rc == 0 && j->pb_n && (rc = batch_advance(j)) > 0)
                continue; /* the batch's next row has output */
            if (rc == 0)
                j->state = HJ_IDLE;
            break;
        case HJ_UNMATCHED: rc = mgov__hj_unmatched_next(j, out); break;
        case HJ_FILE: rc = mgov__hj_file_next(j, out); break;
        case HJ_CHUNK: rc = mgov__hj_chunk_next(j, out); break;
        case HJ_RADIX: rc = mgov__hj_radix_next(j, out); break;
        case HJ_PAIRS: /* sets the state of the pair it starts */
            if ((rc = mgov__hj_pair_start(j)) > 0)
                continue;
            break;
        default: /* HJ_IDLE, HJ_DONE */
            return 0;
        }
        if (rc == 0 && j->state != HJ_PROBE && j->state != HJ_IDLE) {
            /* that state is over: the one after it */
            j->state = j->state == HJ_FILE ? HJ_UNMATCHED
                       : j->state == HJ_PAIRS ? HJ_DONE : HJ_PAIRS;
            continue;
        }
        if (rc < 0)
            return mgov__op_fail(&j->op, rc);
        if (rc > 0)
            j->st.rows_out++;
        return rc;
    }
}

int mgov_hashjoin_stats(const mgov_hashjoin_t *j, mgov_hashjoin_stats_t *out)
{
    if (!j || !out)
        return MGOV_EINVAL;
    *out = j->st;
    mgov__op_stats(&j->op, &out->spill_requests, &out->memory, &out->memory_peak);
    out->levels = j->pass.deepest;
    return MGOV_OK;
}

void mgov_hashjoin_destroy(mgov_hashjoin_t *j)
{
    if (!j)
        return;
    mgov__op_fini(&j->op); /* first, so no op runs while the state goes away */
    mgov__hj_chunk_free(j);
    mgov__hj_radix_free(j);
    mgov_spill_reader_close(j->pr);
    mgov_spill_file_destroy(j->pfile.file);
    mgov__op_pass_free(&j->pass);
    mgov__part_stack_free(&j->todo);
    mgov__gbuf_free(&j->curbuf);
    mgov__gbuf_free(&j->pend);
    mgov__gbuf_free(&j->stage.buf);
    free(j);
}
