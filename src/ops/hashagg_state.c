/* ops/hashagg_state.c - the aggregates' states: their layout in a row, and
 * init, update, merge and finalize.
 *
 *   COUNT        int64 rows
 *   SUM_I64      a 128-bit integer: exact whatever the order of the rows
 *                (2^64 rows of 2^63 cannot pass 2^127); finalize reports
 *                a result that does not fit in 64 bits
 *   SUM_F64      double
 *   MIN/MAX_I64  int64
 *   MIN/MAX_F64  double; NaN is replaced by any number, so NaNs are skipped
 *                unless every input is one (order-independent)
 *   USER         the udf's state_size bytes, rounded up to 8
 * Every group has at least one row, so a state starts from its first
 * value (no "empty" flag); a partial state written to a spill file is the
 * same bytes.
 *
 * Stateless; thread-safe on distinct states.
 */
#include <math.h>
#include <string.h>

#include "ops/hashagg_internal.h"


static size_t state_size(const mgov_agg_spec_t *s)
{
    switch (s->kind) {
    case MGOV_AGG_SUM_I64: return sizeof(mgov__i128);
    case MGOV_AGG_USER: return (s->udf->state_size + 7) & ~(size_t)7;
    default: return 8;
    }
}

int mgov__agg_layout(mgov__agg_layout_t *lay, const mgov_agg_spec_t *specs, unsigned n,
                     unsigned n_inputs)
{
    memset(lay, 0, sizeof *lay);
    if (n > MGOV_HASHAGG_MAX_AGGS || (n && !specs))
        return MGOV_EINVAL;
    lay->batchable = true;
    uint32_t off = 0;
    for (unsigned i = 0; i < n; i++) {
        mgov_agg_spec_t s = specs[i];
        if ((unsigned)s.kind > MGOV_AGG_USER)
            return MGOV_EINVAL;
        if (s.kind != MGOV_AGG_COUNT && s.input >= n_inputs)
            return MGOV_EINVAL;
        if (s.kind == MGOV_AGG_USER) {
            const mgov_agg_udf_t *u = s.udf;
            if (!u || !u->state_size || u->state_size > MGOV__HA_UDF_STATE_MAX || !u->init ||
                !u->update || !u->merge || !u->finalize)
                return MGOV_EINVAL;
            lay->udf[i] = *u;
            s.udf = &lay->udf[i];
            lay->batchable = false; /* its values may point at the caller's bytes */
        } else {
            s.udf = NULL;
        }
        lay->spec[i] = s;
        lay->off[i] = off;
        off += (uint32_t)state_size(&s);
    }
    lay->n = n;
    lay->size = off;
    return MGOV_OK;
}


void mgov__agg_init(const mgov__agg_layout_t *lay, unsigned char *st, const mgov_value_t *v)
{
    for (unsigned i = 0; i < lay->n; i++) {
        const mgov_agg_spec_t *s = &lay->spec[i];
        unsigned char *p = st + lay->off[i];
        switch (s->kind) {
        case MGOV_AGG_COUNT: *(int64_t *)p = 1; break;
        case MGOV_AGG_SUM_I64: mgov__st128(p, v[s->input].i64); break;
        case MGOV_AGG_SUM_F64:
        case MGOV_AGG_MIN_F64:
        case MGOV_AGG_MAX_F64: *(double *)p = v[s->input].f64; break;
        case MGOV_AGG_MIN_I64:
        case MGOV_AGG_MAX_I64: *(int64_t *)p = v[s->input].i64; break;
        case MGOV_AGG_USER:
            s->udf->init(s->udf->ctx, p);
            s->udf->update(s->udf->ctx, p, &v[s->input]);
            break;
        }
    }
}

void mgov__agg_merge(const mgov__agg_layout_t *lay, unsigned char *into,
                     const unsigned char *from)
{
    for (unsigned i = 0; i < lay->n; i++) {
        const mgov_agg_spec_t *s = &lay->spec[i];
        unsigned char *p = into + lay->off[i];
        const unsigned char *q = from + lay->off[i];
        switch (s->kind) {
        case MGOV_AGG_COUNT: *(int64_t *)p += *(const int64_t *)q; break;
        case MGOV_AGG_SUM_I64: mgov__st128(p, mgov__ld128(p) + mgov__ld128(q)); break;
        case MGOV_AGG_SUM_F64: *(double *)p += *(const double *)q; break;
        case MGOV_AGG_MIN_I64:
            if (*(const int64_t *)q < *(int64_t *)p)
                *(int64_t *)p = *(const int64_t *)q;
            break;
        case MGOV_AGG_MAX_I64:
            if (*(const int64_t *)q > *(int64_t *)p)
                *(int64_t *)p = *(const int64_t *)q;
            break;
        case MGOV_AGG_MIN_F64: mgov__f64_min((double *)p, *(const double *)q); break;
        case MGOV_AGG_MAX_F64: mgov__f64_max((double *)p, *(const double *)q); break;
        case MGOV_AGG_USER: s->udf->merge(s->udf->ctx, p, q); break;
        }
    }
}

uint32_t mgov__agg_finalize(const mgov__agg_layout_t *lay, const unsigned char *st,
                            mgov_value_t *out)
{
    uint32_t overflow = 0;
    for (unsigned i = 0; i < lay->n; i++) {
        const mgov_agg_spec_t *s = &lay->spec[i];
        const unsigned char *p = st + lay->off[i];
        switch (s->kind) {
        case MGOV_AGG_COUNT:
        case MGOV_AGG_MIN_I64:
        case MGOV_AGG_MAX_I64: out[i].i64 = *(const int64_t *)p; break;
        case MGOV_AGG_SUM_I64: {
            mgov__i128 v = mgov__ld128(p);
            if (v < INT64_MIN || v > INT64_MAX)
                overflow |= UINT32_C(1) << i;
            out[i].i64 = (int64_t)(uint64_t)v; /* the low 64 bits */
            break;
        }
        case MGOV_AGG_SUM_F64:
        case MGOV_AGG_MIN_F64:
        case MGOV_AGG_MAX_F64: out[i].f64 = *(const double *)p; break;
        case MGOV_AGG_USER: s->udf->finalize(s->udf->ctx, p, &out[i]); break;
        }
    }
    return overflow;
}
