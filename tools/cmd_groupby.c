/* cmd_groupby.c - `memgov groupby`: groups delimited text lines by key
 * fields and prints one line per group, the key fields then the aggregates
 * (count, sum, min, max, mean) in the order the command line gives them,
 * as `datamash -g` does.  The work is memgov's hash aggregation
 * (memgov/hashagg.h) under one governor: its groups are charged to the
 * budget, and when the budget is full it spills partitions of them to
 * disk and aggregates those at the end.  With --sorted, the groups go
 * through memgov's external sort (memgov/sort.h) on the way out.
 *
 * Data path (no allocation per line):
 *
 *   FILE... or stdin --read(2), 1 MiB blocks--> input.c --memchr--> line
 *     --cli_fields_split--> fields --> key: the key fields joined by SEP
 *                                      values: 3 per value field (below)
 *     --mgov_hashagg_push--> groups in RAM, partitions spilled
 *   mgov_hashagg_finish, mgov_hashagg_next --> a line per group
 *     --> output.c (two 1 MiB buffers, a writer thread) --> stdout
 *     or, with --sorted, --cli_sorted_push--> the sort (the aggregation is
 *        destroyed once drained, so the sort has the whole budget)
 *        --cli_sorted_out--> output.c --> stdout (cli_sorted.c)
 *
 * The key.  The key fields joined by SEP are the key's bytes: no field
 * holds SEP and their number is fixed, so distinct field tuples give
 * distinct keys, and the key is also the start of the printed line.
 *
 * Numbers (fields.h).  Every value field F is read as a long double, and
 * as an int64 when it is an integer; each row gives the operator four
 * values for F: the int64 (0 for a non-integer), the double, 1 when F is
 * not an integer (else 0), and the long double (its bytes).  F's
 * aggregates are a SUM_I64 of that flag (the group's count of
 * non-integers), and as its operations need: SUM_I64 and a long double
 * sum (sum, mean), MIN_I64 and MIN_F64, MAX_I64 and MAX_F64.  A group
 * whose count of non-integers is 0 prints the integer results, exact;
 * others print the floating ones.  So integers are summed exactly (the
 * operator keeps 128 bits and flags a sum that does not fit in 64), and
 * a single 2.5 makes that group's column a double, as in datamash.
 *
 * The long double sum is a user aggregate (ld_sum_udf): datamash reads
 * and adds numbers as long doubles, and a sum of doubles differs from its
 * result in the 14th digit in about 2% of groups of 2-decimal numbers
 * (cancellation: -0.97899999999999 for -0.979); as long doubles they
 * agree.  Keys are of variable length, which the operator aggregates row
 * by row anyway, so the user aggregate costs a call per row, not its
 * batching.  Means are sum / count in long double, the integer sum when
 * exact, printed "%.14Lg" as datamash does.  The operator takes 32 inputs
 * and 32 aggregates: at most 8 distinct value fields (plan_build says so).
 *
 * --sorted orders the groups by their key fields, field by field, each as
 * bytes (LC_ALL=C, a proper prefix first): the order of `LC_ALL=C sort
 * -t SEP -k1,1 -k2,2 ...` and of `datamash -s`.  The sort compares printed
 * lines with SEP below every other byte (cmp_fields), which is that order
 * since keys are distinct and come first.
 *
 * Exit status, as memgov sort: 0 success, 2 for any failure, bad usage
 * included (CLI_EXIT_TROUBLE).  Bad lines (a missing field, a value that
 * is not a number) stop the run with their file and line named, or with
 * --skip-bad are counted, skipped and reported at the end.
 *
 * Signals (signals.h), as memgov sort: SIGINT, SIGTERM and SIGHUP are
 * noted; the loops over lines and groups look at the flag, the clean-up
 * removes the spill files, and the process ends by the signal.  A closed
 * output pipe ends it quietly by SIGPIPE.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memgov.h>

#include "cli.h"
#include "cli_job.h"
#include "fields.h"
#include "input.h"
#include "output.h"
#include "progress.h"
#include "signals.h"

#define GB_IO_BUFFER ((size_t)1 << 20)
#define GB_MAX_LINE ((size_t)64 << 20)  /* the input buffer grows to this at most */
#define GB_MAX_KEY ((size_t)1 << 20)    /* the operator's max_key */
#define GB_MAX_FIELD 65536u
#define GB_INPUTS_PER_COL 4             /* int64, double, not-an-integer flag, long double */
#define GB_MAX_COLS (MGOV_HASHAGG_MAX_INPUTS / GB_INPUTS_PER_COL)
#define GB_OVERFLOWS_SHOWN 10           /* messages about sums out of 64 bits */
#define GB_EXCERPT 60                   /* bytes of a field quoted in a message */

typedef enum gb_kind { GB_COUNT, GB_SUM, GB_MIN, GB_MAX, GB_MEAN } gb_kind_t;

/* An output column. */
typedef struct gb_op {
    gb_kind_t kind;
    unsigned field; /* 1-based; not for count */
    unsigned col;   /* its value field's index in the plan */
} gb_op_t;

/* A value field and the operator's aggregates over it (indexes, -1: none). */
typedef struct gb_col {
    unsigned field;
    bool sum, min, max; /* what its operations need; mean needs sum */
    int nonint, isum, lsum, imin, fmin, imax, fmax;
} gb_col_t;

typedef struct gb_plan {
    gb_col_t cols[GB_MAX_COLS];
    unsigned n_cols;
    mgov_agg_spec_t aggs[MGOV_HASHAGG_MAX_AGGS];
    unsigned n_aggs;
    int count;           /* COUNT's index, -1: none */
    unsigned max_field;  /* the largest field number a line must have */
} gb_plan_t;

typedef struct gb_opts {
    unsigned *keys;      /* key fields, 1-based, in output order */
    size_t n_keys;
    gb_op_t *ops;        /* output columns after the keys */
    size_t n_ops;
    unsigned char sep;
    cli_job_opts_t job;  /* --memory, --compress, --spill-dir, --spill-quota, --stats */
    bool skip_bad, sorted;
    char **files;        /* none: standard input */
    int n_files;
} gb_opts_t;

typedef enum gb_phase { GB_READ, GB_AGGREGATE } gb_phase_t; /* in CLI_STAGE_RUN */

typedef struct gb_job {
    const gb_opts_t *o;
    cli_job_t job;               /* governor, input, output, progress, --sorted */
    gb_plan_t plan;
    mgov_hashagg_t *agg;
    mgov_hashagg_stats_t agg_st; /* the aggregation's, kept when it is destroyed */
    gb_phase_t phase;
    cli_field_t *fields;         /* plan.max_field of them */
    mgov_value_t *values;        /* GB_INPUTS_PER_COL per value field */
    long double *lds;            /* a value field's long double, for ld_sum_udf */
    unsigned char *key;          /* GB_MAX_KEY bytes */
    char *line;                  /* an output line */
    size_t line_cap;
    uint64_t total_size;         /* of the inputs; 0 when one is not a regular file */
    uint64_t read_before;        /* bytes read from the inputs before this one */
    uint64_t skipped;            /* bad lines skipped (--skip-bad) */
    char first_bad[512];         /* the first one, worded */
    uint64_t overflows;          /* groups with an integer sum out of 64 bits */
    uint64_t groups;             /* written */
} gb_job_t;

/* ------------------------------------------------------------- messages */

/* An error of the aggregation, or past it of the sort, worded for people. */
static int agg_trouble(gb_job_t *j, int rc)
{
    return cli_job_op_trouble(&j->job, rc, "aggregation");
}

/* At most GB_EXCERPT bytes of p[0..len) for a message, NUL bytes written
 * \x00 (the other control characters are escaped by cli.c), "..." when
 * cut. */
static const char *excerpt(const void *p, size_t len, char *buf, size_t cap)
{
    const unsigned char *s = p;
    size_t n = 0;

    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        if (i == GB_EXCERPT) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (s[i] == '\0') {
            memcpy(buf + n, "\\x00", 4);
            n += 4;
        } else {
            buf[n++] = (char)s[i];
        }
    }
    buf[n] = '\0';
    return buf;
}

/* A line that cannot be aggregated: an error naming it, or with
 * --skip-bad counted (the first one kept for the final message).  Returns
 * CLI_EXIT_OK to go on, or the exit status. */
static int CLI_PRINTF(2, 3) bad_line(gb_job_t *j, const char *fmt, ...)
{
    char what[400], label[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (j->o->skip_bad && j->skipped++ > 0)
        return CLI_EXIT_OK;
    snprintf(j->first_bad, sizeof j->first_bad, "line %" PRIu64 " of %s: %s", j->job.in.lines,
             cli_input_label(j->job.in.name, label, sizeof label), what);
    if (j->o->skip_bad)
        return CLI_EXIT_OK;
    return cli_job_trouble(&j->job, "%s", j->first_bad);
}

/* ------------------------------------------------------------- progress */

static void progress_draw(gb_job_t *j, const mgov_hashagg_stats_t *st)
{
    uint64_t done = j->read_before + j->job.in.bytes;

    switch (j->phase) {
    case GB_READ:
        if (j->total_size != 0)
            cli_progress_show(&j->job.progress, "memgov groupby: read %s of %s (%.0f%%), %"
                              PRIu64 " rows, %" PRIu64 " partitions spilled", cli_size(done).s,
                              cli_size(j->total_size).s,
                              100.0 * (double)done / (double)j->total_size, st->rows_in,
                              st->partitions_spilled);
        else
            cli_progress_show(&j->job.progress, "memgov groupby: read %s, %" PRIu64 " rows, %"
                              PRIu64 " partitions spilled", cli_size(done).s, st->rows_in,
                              st->partitions_spilled);
        break;
    case GB_AGGREGATE:
        cli_progress_show(&j->job.progress, "memgov groupby: %" PRIu64 " rows, %" PRIu64
                          " groups out, %" PRIu64 " partitions spilled", st->rows_in,
                          st->groups_out, st->partitions_spilled);
        break;
    default:
        break;
    }
}

/* The aggregation's callback: after each spill and pass, and every so
 * often while it outputs. */
static void on_agg_progress(void *ctx, const mgov_hashagg_stats_t *st)
{
    gb_job_t *j = ctx;

    if (cli_progress_due(&j->job.progress))
        progress_draw(j, st);
}

/* Between lines or groups: looks at the clock every CLI_JOB_LOOK_EVERY + 1. */
static inline void progress_tick(gb_job_t *j, uint64_t n)
{
    if ((n & CLI_JOB_LOOK_EVERY) != 0 || !cli_progress_due(&j->job.progress))
        return;
    mgov_hashagg_stats_t st;
    mgov_hashagg_stats(j->agg, &st);
    progress_draw(j, &st);
}

/* ---------------------------------------------------------------- input */

/* The first field this job needs beyond a line's n fields: key fields
 * first, then value fields, in their order. */
static unsigned missing_field(const gb_job_t *j, size_t n)
{
    for (size_t i = 0; i < j->o->n_keys; i++)
        if (j->o->keys[i] > n)
            return j->o->keys[i];
    for (unsigned c = 0; c < j->plan.n_cols; c++)
        if (j->plan.cols[c].field > n)
            return j->plan.cols[c].field;
    return j->plan.max_field;
}

/* One line into the aggregation.  Returns CLI_EXIT_OK or an exit status. */
static int push_line(gb_job_t *j, const unsigned char *line, size_t len)
{
    const gb_opts_t *o = j->o;
    cli_field_t *f = j->fields;
    char text[GB_EXCERPT * 4 + 8];

    size_t n = cli_fields_split(line, len, o->sep, f, j->plan.max_field);
    if (n < j->plan.max_field)
        return bad_line(j, "field %u is missing (the line has %zu field%s)",
                        missing_field(j, n), n, n == 1 ? "" : "s");

    mgov_value_t *v = j->values;
    for (unsigned c = 0; c < j->plan.n_cols; c++, v += GB_INPUTS_PER_COL) {
        const cli_field_t *x = &f[j->plan.cols[c].field - 1];
        switch (cli_number_parse(x->p, x->len, &v[0].i64, &j->lds[c])) {
        case CLI_NUM_INT:
            v[2].i64 = 0;
            break;
        case CLI_NUM_DOUBLE:
            v[0].i64 = 0; /* the integer aggregates of this group will not be printed */
            v[2].i64 = 1;
            break;
        case CLI_NUM_BAD:
            return bad_line(j, "field %u is not a number: '%s'", j->plan.cols[c].field,
                            excerpt(x->p, x->len, text, sizeof text));
        case CLI_NUM_RANGE:
            return bad_line(j, "field %u is out of the range of a double: '%s'",
                            j->plan.cols[c].field, excerpt(x->p, x->len, text, sizeof text));
        }
        v[1].f64 = (double)j->lds[c];
        v[3].bytes.data = &j->lds[c];
        v[3].bytes.len = sizeof j->lds[c];
    }

    size_t klen = 0;
    for (size_t i = 0; i < o->n_keys; i++) {
        const cli_field_t *x = &f[o->keys[i] - 1];
        if (klen + x->len + (i > 0) > GB_MAX_KEY) {
            char label[300];
            return cli_job_trouble(&j->job, "line %" PRIu64 " of %s: its key fields are longer "
                                   "than %s, the longest key memgov groupby takes",
                                   j->job.in.lines,
                                   cli_input_label(j->job.in.name, label, sizeof label),
                                   cli_size(GB_MAX_KEY).s);
        }
        if (i > 0)
            j->key[klen++] = o->sep;
        if (x->len != 0)
            memcpy(j->key + klen, x->p, x->len);
        klen += x->len;
    }
    int st = mgov_hashagg_push(j->agg, j->key, klen, j->values);
    return st == MGOV_OK ? CLI_EXIT_OK : agg_trouble(j, st);
}

/* Reads one input into the aggregation. */
static int input_one(gb_job_t *j, const char *name)
{
    const unsigned char *line;
    size_t len;
    int rc;

    if ((rc = cli_job_input_open(&j->job, name)) != CLI_EXIT_OK)
        return rc;
    while ((rc = cli_input_line(&j->job.in, &line, &len)) == 1) {
        if ((rc = push_line(j, line, len)) != CLI_EXIT_OK)
            break;
        if (cli_signal_pending()) {
            rc = CLI_EXIT_TROUBLE;
            break;
        }
        progress_tick(j, j->job.in.lines);
    }
    j->read_before += j->job.in.bytes;
    j->job.in.bytes = 0; /* counted in read_before now */
    return cli_job_input_done(&j->job, rc, GB_MAX_LINE);
}

/* --------------------------------------------------------------- output */

/* A group whose integer sum of `field` does not fit in 64 bits: said on
 * stderr for the first few, counted for the exit status. */
static void overflow_report(gb_job_t *j, const mgov_hashagg_group_t *g, unsigned field,
                            const char *printed, bool *counted)
{
    char key[GB_EXCERPT * 4 + 8];

    if (!*counted) {
        *counted = true;
        j->overflows++;
    }
    if (j->overflows > GB_OVERFLOWS_SHOWN)
        return;
    cli_progress_clear(&j->job.progress);
    cli_error("groupby", "group '%s': the sum of field %u does not fit in 64 bits; printed "
              "as a double, %s", excerpt(g->key, g->key_len, key, sizeof key), field, printed);
}

/* ---------------------------------------------- the long double sum */

/* Its state is one long double, moved and spilled as plain bytes.  x86's
 * 80-bit long double leaves 6 of its 16 bytes unused: they are zeroed
 * after each store, so what goes to a spill file is defined. */
#if LDBL_MANT_DIG == 64
#define LD_USED 10 /* the x87 extended format */
#else
#define LD_USED sizeof(long double)
#endif

static void ld_store(void *state, long double v)
{
    memcpy(state, &v, sizeof v);
    memset((unsigned char *)state + LD_USED, 0, sizeof v - LD_USED);
}

static long double ld_load(const void *state)
{
    long double v;

    memcpy(&v, state, sizeof v);
    return v;
}

static void ld_init(void *ctx, void *state)
{
    (void)ctx;
    ld_store(state, 0.0L);
}

static void ld_update(void *ctx, void *state, const mgov_value_t *value)
{
    (void)ctx;
    ld_store(state, ld_load(state) + ld_load(value->bytes.data));
}

static void ld_merge(void *ctx, void *into, const void *from)
{
    (void)ctx;
    ld_store(into, ld_load(into) + ld_load(from));
}

static void ld_finalize(void *ctx, const void *state, mgov_value_t *out)
{
    (void)ctx;
    out->bytes.data = state;
    out->bytes.len = sizeof(long double);
}

static const mgov_agg_udf_t ld_sum_udf = {
    sizeof(long double), ld_init, ld_update, ld_merge, ld_finalize, NULL,
};

/* A group's result of ld_sum_udf. */
static long double ld_result(const mgov_value_t *v)
{
    return ld_load(v->bytes.data);
}

/* The group's line (without '\n') in j->line; returns its length. */
static size_t group_format(gb_job_t *j, const mgov_hashagg_group_t *g)
{
    const mgov_value_t *v = g->values;
    const gb_plan_t *pl = &j->plan;
    char *p = j->line;
    bool counted = false;

    if (g->key_len != 0)
        memcpy(p, g->key, g->key_len);
    p += g->key_len;
    for (size_t i = 0; i < j->o->n_ops; i++) {
        const gb_op_t *op = &j->o->ops[i];
        const gb_col_t *c = op->kind != GB_COUNT ? &pl->cols[op->col] : NULL;
        bool ints = c != NULL && v[c->nonint].i64 == 0;
        *p++ = (char)j->o->sep;
        switch (op->kind) {
        case GB_COUNT:
            p += cli_format_i64(v[pl->count].i64, p);
            break;
        case GB_SUM:
            if (ints && !(g->overflow >> c->isum & 1u)) {
                p += cli_format_i64(v[c->isum].i64, p);
            } else {
                char *start = p;
                p += cli_format_ldouble(ld_result(&v[c->lsum]), p);
                if (ints)
                    overflow_report(j, g, op->field, start, &counted);
            }
            break;
        case GB_MIN:
            p += ints ? cli_format_i64(v[c->imin].i64, p) : cli_format_double(v[c->fmin].f64, p);
            break;
        case GB_MAX:
            p += ints ? cli_format_i64(v[c->imax].i64, p) : cli_format_double(v[c->fmax].f64, p);
            break;
        case GB_MEAN: {
            long double sum = ints && !(g->overflow >> c->isum & 1u)
                              ? (long double)v[c->isum].i64 : ld_result(&v[c->lsum]);
            p += cli_format_ldouble(sum / (long double)v[pl->count].i64, p);
            break;
        }
        }
    }
    return (size_t)(p - j->line);
}

/* Every group of the aggregation to the output, or into the sort. */
static int groups_out(gb_job_t *j)
{
    mgov_hashagg_group_t g;
    int rc;

    while ((rc = mgov_hashagg_next(j->agg, &g)) == 1) {
        size_t need = g.key_len + j->o->n_ops * (1 + CLI_NUM_TEXT);
        if (need > j->line_cap) {
            char *line = realloc(j->line, need);
            if (line == NULL)
                return cli_job_trouble(&j->job, "out of memory for an output line of %zu bytes",
                                       need);
            j->line = line;
            j->line_cap = need;
        }
        size_t len = group_format(j, &g);
        if (j->job.sorted != NULL) {
            if ((rc = cli_sorted_push(&j->job, j->line, len)) != CLI_EXIT_OK)
                return rc;
        } else if (cli_output_line(&j->job.out, j->line, len) != 0) {
            return cli_job_output_trouble(&j->job, j->job.out.err);
        }
        j->groups++;
        if (cli_signal_pending())
            return CLI_EXIT_TROUBLE;
        progress_tick(j, j->groups);
    }
    return rc < 0 ? agg_trouble(j, rc) : CLI_EXIT_OK;
}

/* --sorted: the key fields one by one as bytes, a proper prefix first.
 * Keys are distinct and lead the line, so the lines differ within them;
 * with SEP ranked below every byte, a field that ends first sorts first. */
static int cmp_fields(void *ctx, const void *a, size_t a_len, const void *b, size_t b_len)
{
    const unsigned char sep = *(const unsigned char *)ctx;
    const unsigned char *x = a, *y = b;
    size_t n = a_len < b_len ? a_len : b_len, i = 0;

    while (i + 8 <= n && memcmp(x + i, y + i, 8) == 0)
        i += 8;
    while (i < n && x[i] == y[i])
        i++;
    if (i == n)
        return a_len < b_len ? -1 : a_len > b_len;
    if (x[i] == sep)
        return -1;
    if (y[i] == sep)
        return 1;
    return x[i] < y[i] ? -1 : 1;
}

/* ----------------------------------------------------------------- run */

static void print_stats(gb_job_t *j)
{
    const mgov_hashagg_stats_t *st = &j->agg_st;

    if (j->agg != NULL)
        mgov_hashagg_stats(j->agg, &j->agg_st);
    fprintf(stderr,
            "memgov groupby: stats: rows %" PRIu64 " in, %" PRIu64 " skipped; groups %" PRIu64
            " out; partitions spilled %" PRIu64 " (%u per level, levels %u, sort fallbacks %"
            PRIu64 "); spill requests %" PRIu64 "; spilled %" PRIu64 " raw, %" PRIu64
            " stored (%s); files %" PRIu64 "; memory peak %" PRIu64,
            st->rows_in, j->skipped, st->groups_out, st->partitions_spilled, st->partitions,
            st->levels, st->sort_fallbacks, st->spill_requests, st->spilled_raw,
            st->spilled_stored, mgov_codec_name(j->o->job.codec), st->files, st->memory_peak);
    cli_job_stats_end(&j->job);
}

/* The governor, the aggregation and (--sorted) the sort. */
/* The input buffer's room callback: a partition of groups goes to disk. */
static int make_room(void *ctx)
{
    gb_job_t *j = ctx;
    return mgov_hashagg_spill(j->agg);
}

static int operators_create(gb_job_t *j)
{
    const gb_opts_t *o = j->o;
    int rc;

    if ((rc = cli_job_gov_create(&j->job)) != CLI_EXIT_OK)
        return rc;
    mgov_hashagg_config_t acfg = MGOV_HASHAGG_CONFIG_INIT;
    acfg.gov = j->job.gov;
    acfg.name = "groupby";
    acfg.key_size = 0;
    acfg.max_key = GB_MAX_KEY;
    acfg.n_inputs = j->plan.n_cols * GB_INPUTS_PER_COL;
    acfg.aggs = j->plan.aggs;
    acfg.n_aggs = j->plan.n_aggs;
    acfg.timeout_ns = MGOV_HASHAGG_DEFAULT_TIMEOUT_NS;
    acfg.spill.codec = o->job.codec;
    acfg.progress = on_agg_progress;
    acfg.progress_ctx = j;
    errno = 0;
    int st = mgov_hashagg_create(&acfg, &j->agg);
    if (st != MGOV_OK)
        return cli_job_create_failed(&j->job, st, errno, "aggregation");
    if (!o->sorted)
        return CLI_EXIT_OK;
    return cli_sorted_create(&j->job, "groupby-sort", cmp_fields, (void *)&o->sep, 0, "groups");
}

static int gb_run(gb_job_t *j)
{
    const gb_opts_t *o = j->o;
    int rc, st;

    if ((rc = cli_job_inputs_size(&j->job, o->files, o->n_files, &j->total_size)) != CLI_EXIT_OK)
        return rc;
    j->fields = malloc(j->plan.max_field * sizeof *j->fields);
    j->values = calloc(j->plan.n_cols * GB_INPUTS_PER_COL + 1, sizeof *j->values);
    j->lds = calloc(j->plan.n_cols + 1, sizeof *j->lds);
    j->key = malloc(GB_MAX_KEY);
    if (j->fields == NULL || j->values == NULL || j->lds == NULL || j->key == NULL)
        return cli_job_trouble(&j->job, "out of memory");
    if ((rc = operators_create(j)) != CLI_EXIT_OK)
        return rc;

    if ((rc = cli_job_input_init(&j->job, GB_IO_BUFFER, 0, GB_MAX_LINE)) != CLI_EXIT_OK)
        return rc;
    j->job.in.room = make_room;
    j->job.in.room_ctx = j;
    for (int i = 0; i < (o->n_files ? o->n_files : 1); i++)
        if ((rc = input_one(j, o->n_files ? o->files[i] : "-")) != CLI_EXIT_OK)
            return rc;
    cli_input_free(&j->job.in);

    j->phase = GB_AGGREGATE;
    if ((st = mgov_hashagg_finish(j->agg)) != MGOV_OK)
        return agg_trouble(j, st);
    if (cli_signal_pending())
        return CLI_EXIT_TROUBLE;
    if (cli_output_init(&j->job.out, STDOUT_FILENO, GB_IO_BUFFER) != 0)
        return cli_job_trouble(&j->job, "out of memory for the output buffer");
    if ((rc = groups_out(j)) != CLI_EXIT_OK)
        return rc;
    if (j->job.sorted != NULL) {
        /* drained: its memory goes back to the budget before the sort merges */
        mgov_hashagg_stats(j->agg, &j->agg_st);
        mgov_hashagg_destroy(j->agg);
        j->agg = NULL;
        if ((rc = cli_sorted_out(&j->job, 0)) != CLI_EXIT_OK)
            return rc;
    }
    if (cli_output_flush(&j->job.out) != 0)
        return cli_job_output_trouble(&j->job, j->job.out.err);
    cli_progress_clear(&j->job.progress);

    if (j->overflows > GB_OVERFLOWS_SHOWN)
        cli_error("groupby", "%" PRIu64 " more group(s) with a sum that does not fit in 64 bits",
                  j->overflows - GB_OVERFLOWS_SHOWN);
    if (j->skipped != 0)
        cli_error("groupby", "skipped %" PRIu64 " bad line%s; the first: %s", j->skipped,
                  j->skipped == 1 ? "" : "s", j->first_bad);
    if (o->job.stats)
        print_stats(j);
    return j->overflows != 0 ? CLI_EXIT_TROUBLE : CLI_EXIT_OK;
}

/* Frees everything.  After a signal too: destroying the operators and the
 * governor removes the spill files and the private spill directory. */
static int gb_cleanup(gb_job_t *j, int rc)
{
    cli_progress_clear(&j->job.progress);
    if (rc != CLI_EXIT_OK && j->o->job.stats &&
        (j->agg != NULL || j->job.stage != CLI_STAGE_RUN) && j->overflows == 0 &&
        !cli_signal_pending())
        print_stats(j); /* how far it got */
    mgov_hashagg_destroy(j->agg);
    j->agg = NULL;
    (void)cli_job_io_free(&j->job); /* stdout: never closed here */
    rc = cli_job_destroy(&j->job, rc);
    free(j->fields);
    free(j->values);
    free(j->lds);
    free(j->key);
    free(j->line);
    return rc;
}

/* ------------------------------------------------------------- options */

void cmd_groupby_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov groupby -k FIELDS [OPERATION]... [OPTION]... [FILE]...\n"
            "\n"
            "Groups the lines of the FILEs (standard input when there is none, or for\n"
            "-) by their key fields and prints one line per group: the key fields, then\n"
            "the result of each operation in the order given, separated by SEP (a tab\n"
            "by default), as `datamash -g FIELDS` does.  The groups are charged to a\n"
            "memory budget; when it is full, partitions of them go to disk and are\n"
            "aggregated at the end, so any input is grouped within the budget.\n"
            "\n"
            "  -k, --key FIELDS        the key fields: field numbers from 1, separated by\n"
            "                          commas (1,3); a key field may be empty\n"
            "\n"
            "Operations (each may repeat; F is a field number):\n"
            "      --count             the number of lines in the group\n"
            "      --sum F             the sum of field F\n"
            "      --min F, --max F    the smallest, the largest value of field F\n"
            "      --mean F            the sum of field F over the count\n"
            "\n"
            "Numbers: an integer (decimal digits, an optional sign, within 64 bits) or\n"
            "a decimal number with a point or an exponent (2.5, -1e3), nothing around\n"
            "it.  Integers are summed exactly; a group with a non-integer in a field\n"
            "prints that field's results as doubles, with 14 significant digits, as\n"
            "datamash does.  A sum of integers that does not fit in 64 bits is\n"
            "printed as a double and is an error (exit 2).\n"
            "\n"
            "Options:\n"
            "  -t, --field-separator SEP  the field separator, one byte (default: tab)\n"
            "      --sorted            print the groups sorted by their key fields, each\n"
            "                          compared as bytes (the order of datamash -s)\n"
            "      --skip-bad          skip lines with a missing field or a value that is\n"
            "                          not a number, and say how many at the end\n"
            CLI_JOB_HELP_MEMORY
            CLI_JOB_HELP_SPILL
            "      --stats             print the aggregation's figures on standard error\n"
            "                          at the end (rows, groups, partitions spilled, bytes\n"
            "                          spilled, peak memory)\n"
            "  -h, --help              show this help and exit\n"
            "\n"
            "Progress: when standard error is a terminal and the job has run for more\n"
            "than a second, one line on it shows the rows read, the groups written\n"
            "and the partitions spilled; MEMGOV_PROGRESS=1 shows it always, 0 never.\n"
            "\n"
            CLI_JOB_HELP_ENV
            "\n"
            "Exit status, as memgov sort: 0 success, 2 any failure (bad usage, an\n"
            "input that cannot be read, a bad line without --skip-bad, a sum out of 64\n"
            "bits, no space to spill, an output that cannot be written).\n");
}

/* One field number, 1..GB_MAX_FIELD; opt names the option in messages. */
static int parse_field(const char *opt, const char *text, size_t len, unsigned *out)
{
    uint64_t v;

    if (!cli_decimal(text, len, &v) || v == 0 || v > GB_MAX_FIELD)
        return cli_usage_error("groupby", "invalid field '%.*s' for %s (a field number, 1 to "
                               "%u)", (int)len, text, opt, GB_MAX_FIELD);
    *out = (unsigned)v;
    return CLI_EXIT_OK;
}

/* -k FIELDS: "1", "2,1", field numbers separated by commas. */
static int parse_keys(const char *text, gb_opts_t *o)
{
    size_t n = 1;

    for (const char *p = text; *p != '\0'; p++)
        n += *p == ',';
    o->keys = malloc(n * sizeof *o->keys);
    if (o->keys == NULL)
        return cli_error("groupby", "out of memory"), CLI_EXIT_TROUBLE;
    for (const char *p = text;; p++) {
        size_t len = strcspn(p, ",");
        if (len == 0)
            return cli_usage_error("groupby", "invalid field list '%s' for -k (field numbers "
                                   "from 1, separated by commas: 1,3)", text);
        int rc = parse_field("-k", p, len, &o->keys[o->n_keys]);
        if (rc != CLI_EXIT_OK)
            return rc;
        o->n_keys++;
        p += len;
        if (*p == '\0')
            return CLI_EXIT_OK;
    }
}

/* The operator's inputs and aggregates for the operations (see the top of
 * the file), or a usage error when they do not fit in its limits. */
static int plan_build(gb_opts_t *o, gb_plan_t *pl)
{
    memset(pl, 0, sizeof *pl);
    pl->count = -1;
    for (size_t i = 0; i < o->n_keys; i++)
        if (o->keys[i] > pl->max_field)
            pl->max_field = o->keys[i];
    bool count = false;
    for (size_t i = 0; i < o->n_ops; i++) {
        gb_op_t *op = &o->ops[i];
        if (op->kind == GB_COUNT || op->kind == GB_MEAN)
            count = true;
        if (op->kind == GB_COUNT)
            continue;
        unsigned c = 0;
        while (c < pl->n_cols && pl->cols[c].field != op->field)
            c++;
        if (c == pl->n_cols) {
            if (c == GB_MAX_COLS)
                return cli_usage_error("groupby", "too many value fields: at most %u different "
                                       "fields in --sum, --min, --max and --mean", GB_MAX_COLS);
            pl->cols[c].field = op->field;
            pl->n_cols++;
        }
        op->col = c;
        pl->cols[c].sum |= op->kind == GB_SUM || op->kind == GB_MEAN;
        pl->cols[c].min |= op->kind == GB_MIN;
        pl->cols[c].max |= op->kind == GB_MAX;
        if (op->field > pl->max_field)
            pl->max_field = op->field;
    }

    unsigned need = count;
    for (unsigned c = 0; c < pl->n_cols; c++)
        need += 1 + 2u * (pl->cols[c].sum + pl->cols[c].min + pl->cols[c].max);
    if (need > MGOV_HASHAGG_MAX_AGGS)
        return cli_usage_error("groupby", "too many operations: these need %u of the %u "
                               "aggregates the operator takes (each value field takes 1, and "
                               "2 for its sum or mean, 2 for its min, 2 for its max)", need,
                               MGOV_HASHAGG_MAX_AGGS);

    mgov_agg_spec_t *a = pl->aggs;
#define GB_ADD(kind_, input_) (a[pl->n_aggs] = (mgov_agg_spec_t){ (kind_), (input_), NULL }, \
                               (int)pl->n_aggs++)
    if (count)
        pl->count = GB_ADD(MGOV_AGG_COUNT, 0);
    for (unsigned c = 0; c < pl->n_cols; c++) {
        gb_col_t *col = &pl->cols[c];
        unsigned in = c * GB_INPUTS_PER_COL; /* int64, double, not-an-integer, long double */
        col->isum = col->lsum = col->imin = col->fmin = col->imax = col->fmax = -1;
        col->nonint = GB_ADD(MGOV_AGG_SUM_I64, in + 2);
        if (col->sum) {
            col->isum = GB_ADD(MGOV_AGG_SUM_I64, in);
            col->lsum = GB_ADD(MGOV_AGG_USER, in + 3);
            pl->aggs[col->lsum].udf = &ld_sum_udf;
        }
        if (col->min) {
            col->imin = GB_ADD(MGOV_AGG_MIN_I64, in);
            col->fmin = GB_ADD(MGOV_AGG_MIN_F64, in + 1);
        }
        if (col->max) {
            col->imax = GB_ADD(MGOV_AGG_MAX_I64, in);
            col->fmax = GB_ADD(MGOV_AGG_MAX_F64, in + 1);
        }
    }
#undef GB_ADD
    return CLI_EXIT_OK;
}

/* Returns CLI_EXIT_OK to run the command, else the exit status; *help is
 * set when --help was shown (CLI_EXIT_OK, and nothing more to do). */
static int parse_options(int argc, char **argv, gb_opts_t *o, bool *help)
{
    enum { OPT_COUNT = CLI_OPT_JOB_END, OPT_SUM, OPT_MIN, OPT_MAX, OPT_MEAN, OPT_SKIP_BAD,
           OPT_SORTED };
    static const struct option opts[] = {
        { "key", required_argument, NULL, 'k' },
        { "field-separator", required_argument, NULL, 't' },
        { "count", no_argument, NULL, OPT_COUNT },
        { "sum", required_argument, NULL, OPT_SUM },
        { "min", required_argument, NULL, OPT_MIN },
        { "max", required_argument, NULL, OPT_MAX },
        { "mean", required_argument, NULL, OPT_MEAN },
        CLI_JOB_LONGOPTS,
        { "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
        { "sorted", no_argument, NULL, OPT_SORTED },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "groupby", cmd_groupby_help };
    const char *keys = NULL;
    int c, rc;

    o->sep = '\t';
    o->job.codec = MGOV_CODEC_NONE;
    o->ops = calloc((size_t)argc, sizeof *o->ops); /* at most one per argument */
    if (o->ops == NULL)
        return cli_error("groupby", "out of memory"), CLI_EXIT_TROUBLE;
    while ((c = cli_getopt(&cmd, argc, argv, ":k:t:h", opts, &rc)) != CLI_OPT_END) {
        gb_op_t *op = &o->ops[o->n_ops];
        switch (c) {
        case CLI_OPT_EXIT:
            *help = rc == CLI_EXIT_OK;
            return rc;
        case 'k':
            if (keys != NULL)
                return cli_usage_error("groupby", "-k given twice ('%s', then '%s'): list "
                                       "every key field in one -k", keys, optarg);
            keys = optarg;
            if ((rc = parse_keys(optarg, o)) != CLI_EXIT_OK)
                return rc;
            break;
        case 't':
            if (strlen(optarg) != 1 || optarg[0] == '\n')
                return cli_usage_error("groupby", "invalid separator '%s' for -t (one byte, "
                                       "not a newline)", optarg);
            o->sep = (unsigned char)optarg[0];
            break;
        case OPT_COUNT:
            op->kind = GB_COUNT;
            o->n_ops++;
            break;
        case OPT_SUM:
        case OPT_MIN:
        case OPT_MAX:
        case OPT_MEAN: {
            static const char *const names[] = { "--sum", "--min", "--max", "--mean" };
            static const gb_kind_t kinds[] = { GB_SUM, GB_MIN, GB_MAX, GB_MEAN };
            op->kind = kinds[c - OPT_SUM];
            if ((rc = parse_field(names[c - OPT_SUM], optarg, strlen(optarg), &op->field)) !=
                CLI_EXIT_OK)
                return rc;
            o->n_ops++;
            break;
        }
        case OPT_SKIP_BAD:
            o->skip_bad = true;
            break;
        case OPT_SORTED:
            o->sorted = true;
            break;
        default: /* --memory, --compress, --spill-dir, --spill-quota, --stats */
            if ((rc = cli_job_option("groupby", c, optarg, &o->job)) != CLI_EXIT_OK)
                return rc;
            break;
        }
    }
    if (keys == NULL)
        return cli_usage_error("groupby", "missing -k FIELDS (the key fields, e.g. -k 1,2)");
    o->files = argv + optind;
    o->n_files = argc - optind;
    return CLI_EXIT_OK;
}

int cmd_groupby(int argc, char **argv)
{
    gb_opts_t o;
    gb_job_t job;
    bool help = false;
    int rc;

    memset(&o, 0, sizeof o);
    memset(&job, 0, sizeof job);
    job.o = &o;
    rc = parse_options(argc, argv, &o, &help);
    if (rc == CLI_EXIT_OK && !help)
        rc = plan_build(&o, &job.plan);
    if (rc != CLI_EXIT_OK || help) {
        free(o.keys);
        free(o.ops);
        return rc;
    }

    cli_job_start(&job.job, "groupby", &o.job);
    rc = gb_run(&job);
    rc = gb_cleanup(&job, rc);
    free(o.keys);
    free(o.ops);
    cli_signal_exit(); /* by the signal, when one came: 128 + signo */
    return rc;
}
