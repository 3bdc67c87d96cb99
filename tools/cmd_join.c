/* cmd_join.c - `memgov join`: joins the lines of two delimited text files
 * on a field and prints what join(1) prints for them (the join field, the
 * other fields of FILE1, then those of FILE2), but its inputs need not be
 * sorted and may be far larger than memory.  The work is memgov's grace
 * hash join (memgov/hashjoin.h) under one governor: one file is hashed
 * into the join (the build side), the other streams past it (the probe
 * side); when the budget is full, partitions go to disk and are joined at
 * the end.  With --sorted the output lines go through memgov's external
 * sort (memgov/sort.h) into join(1)'s order.
 *
 * Data path (no allocation per line):
 *
 *   build file --read(2), 1 MiB blocks--> input.c --memchr--> line
 *     --cli_fields_walk--> key (the join field) + payload (the others)
 *     --mgov_hashjoin_build--> partitions in RAM or spill files
 *   mgov_hashjoin_build_finish
 *   probe file --> line --> key + payload --mgov_hashjoin_probe-->
 *     mgov_hashjoin_next until 0 --> a line per row --> output.c --> stdout
 *   mgov_hashjoin_probe_finish, mgov_hashjoin_next until 0 (spilled
 *     partitions, unmatched build rows) --> output.c --> stdout
 *   or, with --sorted, each line --mgov_sort_push--> the sort (the join is
 *     destroyed once drained, so the sort's merge has the whole budget)
 *     --mgov_sort_next--> output.c --> stdout
 *
 * Rows.  A line's key is its join field's bytes (empty when the line has
 * fewer fields: join(1) takes a missing join field as empty, and empty
 * keys match each other); its payload is its other fields, in order, each
 * after the output separator, so a line with no other field has an empty
 * payload and one with an empty other field has the separator alone.  A
 * joined line is then key + FILE1's payload + FILE2's payload, and an
 * unpaired line key + its own payload: join(1)'s line without -o.  With
 * --sorted each payload starts with the line's number in its file (8
 * bytes), for the order below.
 *
 * Fields: with -t SEP, at every SEP (an empty line has none, "a," has
 * two), output separator SEP; without -t, join(1)'s blanks (fields.h):
 * leading blanks skipped, runs of blanks between fields, trailing blanks
 * make one last empty field, output separator a space.  -t '' takes the
 * whole line as the join field.
 *
 * Join types.  join(1) prints the pairs unless a -v is given, unpaired
 * lines of FILE N with -a N or -v N.  The library's types are seen from
 * the build and the probe sides; build_plan maps one onto the other:
 *
 *   printed            FILE1 builds             FILE2 builds
 *   pairs              INNER                    INNER
 *   pairs, U1          BUILD_OUTER              PROBE_OUTER
 *   pairs, U2          PROBE_OUTER              BUILD_OUTER
 *   pairs, U1, U2      FULL                     FULL
 *   U1                 BUILD_OUTER, pairs out   ANTI
 *   U2                 ANTI                     BUILD_OUTER, pairs out
 *   U1, U2             FULL, pairs out          FULL, pairs out
 *
 * ("pairs out": the join returns them and they are dropped: the library
 * has no join type returning only the unmatched build rows.)
 *
 * --sorted: by the key (bytes, a proper prefix first: LC_ALL=C's order,
 * as join(1) compares keys), then by the line number in FILE1, then in
 * FILE2.  That is the order join(1) writes for inputs sorted on their join
 * fields: key by key, and within a key, for each line of FILE1 in file
 * order each line of FILE2 in file order, unpaired lines in file order.
 * It is not the byte order of the output lines: within a key join(1)'s
 * cross product follows the files, not the bytes.
 *
 * Exit status, as memgov groupby: 0 success, 2 for any failure, bad usage
 * included (CLI_EXIT_TROUBLE).  Signals (signals.h) as memgov groupby: the
 * loops over lines and rows look at the flag, the clean-up removes the
 * spill files, and the process ends by the signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memgov.h>

#include "cli.h"
#include "cli_job.h"
#include "fields.h"
#include "input.h"
#include "output.h"
#include "progress.h"
#include "signals.h"

#define JN_IO_BUFFER ((size_t)1 << 20)
#define JN_MAX_LINE ((size_t)64 << 20)  /* the input buffer grows to this at most */
#define JN_LINENO 8                     /* --sorted: a payload's line number */
#define JN_MAX_PAYLOAD (JN_MAX_LINE + 1 + JN_LINENO)
#define JN_REC_HEAD 20                  /* --sorted: key length (4), FILE1's and FILE2's line */

typedef struct jn_opts {
    uint64_t field[2];   /* the join field of FILE1, FILE2, from 1 */
    int sep;             /* a byte, or CLI_SEP_BLANKS */
    unsigned char osep;  /* the output separator */
    bool a[2], v[2];     /* -a N, -v N */
    int build;           /* 0: by size; 1 or 2 */
    cli_job_opts_t job;  /* --memory, --compress, --spill-dir, --spill-quota, --stats */
    bool sorted;
    const char *files[2];
} jn_opts_t;

typedef enum jn_phase { JN_BUILD, JN_PROBE, JN_REST } jn_phase_t; /* in CLI_STAGE_RUN */

typedef struct jn_job {
    const jn_opts_t *o;
    cli_job_t job;               /* governor, input, output, progress, --sorted */
    int bside;                   /* the build file: 0 (FILE1) or 1 (FILE2) */
    mgov_join_type_t type;
    bool drop_pairs;             /* the join returns pairs that are not printed */
    mgov_hashjoin_t *join;
    mgov_hashjoin_stats_t join_st; /* the join's, kept when it is destroyed */
    jn_phase_t phase;
    unsigned char *payload;      /* a line's payload */
    size_t payload_cap;
    unsigned char *rec;          /* --sorted: a record for the sort */
    size_t rec_cap;
    uint64_t size[2];            /* the files' sizes; UINT64_MAX when unknown */
    uint64_t lines_out;          /* written, or pushed into the sort */
} jn_job_t;

static const char *const type_names[] = {
    [MGOV_JOIN_INNER] = "inner", [MGOV_JOIN_PROBE_OUTER] = "probe-outer",
    [MGOV_JOIN_BUILD_OUTER] = "build-outer", [MGOV_JOIN_FULL] = "full",
    [MGOV_JOIN_SEMI] = "semi", [MGOV_JOIN_ANTI] = "anti",
};

/* ------------------------------------------------------------- messages */

/* An error of the join, or past it of the sort, worded for people. */
static int join_trouble(jn_job_t *j, int rc)
{
    return cli_job_op_trouble(&j->job, rc, "join");
}

/* ------------------------------------------------------------- progress */

static void progress_draw(jn_job_t *j, const mgov_hashjoin_stats_t *st)
{
    int side = j->phase == JN_BUILD ? j->bside : 1 - j->bside;
    uint64_t done = cli_input_bytes(&j->job.in), size = j->size[side];
    char label[300], read[160] = "";

    if (j->phase == JN_BUILD || j->phase == JN_PROBE) {
        if (size != UINT64_MAX && size != 0)
            snprintf(read, sizeof read, "read %s of %s (%.0f%%)", cli_size(done).s,
                     cli_size(size).s, 100.0 * (double)done / (double)size);
        else
            snprintf(read, sizeof read, "read %s", cli_size(done).s);
    }
    cli_input_label(j->o->files[side], label, sizeof label);
    switch (j->phase) {
    case JN_BUILD:
        cli_progress_show(&j->job.progress, "memgov join: building from %s: %s, %" PRIu64 " rows, %"
                          PRIu64 " partitions spilled", label, read, st->build_rows,
                          st->partitions_spilled);
        break;
    case JN_PROBE:
        cli_progress_show(&j->job.progress, "memgov join: probing with %s: %s, %" PRIu64 " rows, %"
                          PRIu64 " lines out, %" PRIu64 " partitions spilled", label, read,
                          st->probe_rows, j->lines_out, st->partitions_spilled);
        break;
    case JN_REST:
        cli_progress_show(&j->job.progress, "memgov join: joining spilled partitions: %" PRIu64
                          " lines out, %" PRIu64 " partitions spilled, level %u", j->lines_out,
                          st->partitions_spilled, st->levels);
        break;
    default:
        break;
    }
}

/* The join's callback, after each spill and pass. */
static void on_join_progress(void *ctx, const mgov_hashjoin_stats_t *st)
{
    jn_job_t *j = ctx;

    if (j->job.stage == CLI_STAGE_RUN && cli_progress_due(&j->job.progress))
        progress_draw(j, st);
}

/* Between lines or rows: looks at the clock every CLI_JOB_LOOK_EVERY + 1. */
static inline void progress_tick(jn_job_t *j, uint64_t n)
{
    if ((n & CLI_JOB_LOOK_EVERY) != 0 || !cli_progress_due(&j->job.progress))
        return;
    mgov_hashjoin_stats_t st;
    mgov_hashjoin_stats(j->join, &st);
    progress_draw(j, &st);
}

/* ---------------------------------------------------------------- rows */

/* Splits a line of file `side` into its key (pointing into the line) and
 * its payload (in j->payload, *plen bytes): see the top of the file. */
static int line_split(jn_job_t *j, int side, const unsigned char *line, size_t len,
                      const unsigned char **key, size_t *klen, size_t *plen)
{
    const jn_opts_t *o = j->o;
    size_t need = len + 1 + JN_LINENO, p = 0;

    if (need > j->payload_cap) {
        size_t cap = j->payload_cap * 2 > need ? j->payload_cap * 2 : need;
        unsigned char *buf = realloc(j->payload, cap);
        if (buf == NULL)
            return cli_job_trouble(&j->job, "out of memory for a line of %zu bytes", len);
        j->payload = buf;
        j->payload_cap = cap;
    }
    unsigned char *pl = j->payload;
    if (o->sorted) {
        uint64_t n = j->job.in.lines;
        memcpy(pl, &n, JN_LINENO);
        p = JN_LINENO;
    }

    cli_fields_walk_t w;
    cli_field_t f;
    uint64_t i = 0, want = o->field[side] - 1;
    *key = line;
    *klen = 0; /* a missing join field is an empty key */
    cli_fields_walk_init(&w, line, len, o->sep);
    while (cli_fields_walk_next(&w, &f)) {
        if (i++ == want) {
            *key = f.p;
            *klen = f.len;
            if (o->sep != CLI_SEP_BLANKS) {
                /* the rest of the line is the other fields, each after SEP */
                size_t end = (size_t)(f.p - line) + f.len;
                memcpy(pl + p, line + end, len - end);
                p += len - end;
                break;
            }
            continue;
        }
        pl[p++] = o->osep;
        if (f.len != 0)
            memcpy(pl + p, f.p, f.len);
        p += f.len;
    }
    *plen = p;
    return CLI_EXIT_OK;
}

/* --sorted: the key, then FILE1's line number, then FILE2's (see the top
 * of the file).  A record is the key's length (4 bytes), the two line
 * numbers (8 each, 0 for a file without a line in it), then the line,
 * which starts with the key. */
static int cmp_join_order(void *ctx, const void *a, size_t a_len, const void *b, size_t b_len)
{
    const unsigned char *x = a, *y = b;
    uint32_t xk, yk;
    uint64_t xn, yn;

    (void)ctx;
    (void)a_len;
    (void)b_len;
    memcpy(&xk, x, 4);
    memcpy(&yk, y, 4);
    int c = memcmp(x + JN_REC_HEAD, y + JN_REC_HEAD, xk < yk ? xk : yk);
    if (c != 0)
        return c;
    if (xk != yk)
        return xk < yk ? -1 : 1;
    for (size_t at = 4; at < JN_REC_HEAD; at += 8) {
        memcpy(&xn, x + at, 8);
        memcpy(&yn, y + at, 8);
        if (xn != yn)
            return xn < yn ? -1 : 1;
    }
    return 0;
}

/* One row of the join to the output, or into the sort; the pairs of a
 * join with drop_pairs are skipped. */
static int row_out(jn_job_t *j, const mgov_hashjoin_row_t *r)
{
    const unsigned char *part[2] = { NULL, NULL };
    size_t len[2] = { 0, 0 };
    uint64_t lineno[2] = { 0, 0 };
    int b = j->bside, p = 1 - j->bside;

    if (r->has_build && r->has_probe && j->drop_pairs)
        return CLI_EXIT_OK;
    if (r->has_build) {
        part[b] = r->build;
        len[b] = r->build_len;
    }
    if (r->has_probe) {
        part[p] = r->probe;
        len[p] = r->probe_len;
    }
    if (j->o->sorted) {
        for (int s = 0; s < 2; s++) {
            if (part[s] == NULL)
                continue;
            memcpy(&lineno[s], part[s], JN_LINENO);
            part[s] += JN_LINENO;
            len[s] -= JN_LINENO;
        }
    }

    if (j->job.sorted == NULL) {
        int rc = 0;
        if (r->key_len != 0)
            rc |= cli_output_put(&j->job.out, r->key, r->key_len);
        if (len[0] != 0)
            rc |= cli_output_put(&j->job.out, part[0], len[0]);
        rc |= cli_output_line(&j->job.out, len[1] != 0 ? part[1] : (const unsigned char *)"",
                              len[1]);
        if (rc != 0)
            return cli_job_output_trouble(&j->job, j->job.out.err);
    } else {
        size_t need = JN_REC_HEAD + r->key_len + len[0] + len[1];
        if (need > j->rec_cap) {
            size_t cap = j->rec_cap * 2 > need ? j->rec_cap * 2 : need;
            unsigned char *buf = realloc(j->rec, cap);
            if (buf == NULL)
                return cli_job_trouble(&j->job, "out of memory for an output line of %zu bytes",
                                       need);
            j->rec = buf;
            j->rec_cap = cap;
        }
        uint32_t klen = (uint32_t)r->key_len;
        unsigned char *q = j->rec;
        memcpy(q, &klen, 4);
        memcpy(q + 4, &lineno[0], 8);
        memcpy(q + 12, &lineno[1], 8);
        q += JN_REC_HEAD;
        if (r->key_len != 0)
            memcpy(q, r->key, r->key_len);
        q += r->key_len;
        for (int s = 0; s < 2; s++) {
            if (len[s] != 0)
                memcpy(q, part[s], len[s]);
            q += len[s];
        }
        int rc = cli_sorted_push(&j->job, j->rec, need);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    j->lines_out++;
    if (cli_signal_pending())
        return CLI_EXIT_TROUBLE;
    progress_tick(j, j->lines_out);
    return CLI_EXIT_OK;
}

/* Pulls the join's rows until next returns 0.  Pairs that are dropped
 * are not lines: the signal is looked at here too. */
static int rows_drain(jn_job_t *j)
{
    mgov_hashjoin_row_t r;
    uint64_t n = 0;
    int st, rc;

    while ((st = mgov_hashjoin_next(j->join, &r)) == 1) {
        if ((rc = row_out(j, &r)) != CLI_EXIT_OK)
            return rc;
        if ((++n & CLI_JOB_LOOK_EVERY) == 0 && cli_signal_pending())
            return CLI_EXIT_TROUBLE;
    }
    return st < 0 ? join_trouble(j, st) : CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- input */

/* Reads file `side` into the join: as build rows in JN_BUILD, as probe
 * rows (each drained) in JN_PROBE. */
static int input_side(jn_job_t *j, int side)
{
    const char *name = j->o->files[side];
    const unsigned char *line, *key = NULL;
    size_t len, klen = 0, plen = 0;
    int rc, st;

    if ((rc = cli_job_input_open(&j->job, name)) != CLI_EXIT_OK)
        return rc;
    while ((rc = cli_input_line(&j->job.in, &line, &len)) == 1) {
        if ((rc = line_split(j, side, line, len, &key, &klen, &plen)) != CLI_EXIT_OK)
            break;
        if (j->phase == JN_BUILD) {
            st = mgov_hashjoin_build(j->join, key, klen, j->payload, plen);
        } else {
            st = mgov_hashjoin_probe(j->join, key, klen, j->payload, plen);
            if (st == MGOV_OK && (rc = rows_drain(j)) != CLI_EXIT_OK)
                break;
        }
        if (st != MGOV_OK) {
            rc = join_trouble(j, st);
            break;
        }
        if (cli_signal_pending()) {
            rc = CLI_EXIT_TROUBLE;
            break;
        }
        progress_tick(j, j->job.in.lines);
    }
    return cli_job_input_done(&j->job, rc, JN_MAX_LINE);
}

/* ----------------------------------------------------------------- plan */

/* The build side and the join type for the options (the table at the top
 * of the file). */
static void plan_build(jn_job_t *j)
{
    const jn_opts_t *o = j->o;

    if (o->build != 0)
        j->bside = o->build - 1;
    else /* the smaller file; one of unknown size (a pipe) counts as the larger */
        j->bside = j->size[1] < j->size[0] ? 1 : 0;
    bool pairs = !o->v[0] && !o->v[1];
    bool unpaired[2] = { o->a[0] || o->v[0], o->a[1] || o->v[1] };
    bool ub = unpaired[j->bside], up = unpaired[1 - j->bside];
    if (ub)
        j->type = up ? MGOV_JOIN_FULL : MGOV_JOIN_BUILD_OUTER;
    else if (pairs)
        j->type = up ? MGOV_JOIN_PROBE_OUTER : MGOV_JOIN_INNER;
    else
        j->type = MGOV_JOIN_ANTI; /* unpaired probe lines only */
    j->drop_pairs = !pairs && ub;
}

/* Looks at both inputs before any is read: each must exist, and a regular
 * file must open for reading, so a misspelt or unreadable FILE2 fails
 * before FILE1 is built.  Records their sizes, UINT64_MAX for standard
 * input (even a redirected file) and pipes: they count as large. */
/* The input buffer's room callback: a partition of build rows goes to
 * disk (lines are read between probes, never while one is drained). */
static int make_room(void *ctx)
{
    jn_job_t *j = ctx;
    return mgov_hashjoin_spill(j->join);
}

static int inputs_look(jn_job_t *j)
{
    for (int s = 0; s < 2; s++) {
        const char *name = j->o->files[s];
        struct stat sb;
        bool in = strcmp(name, "-") == 0;
        j->size[s] = UINT64_MAX;
        if ((in ? fstat(STDIN_FILENO, &sb) : stat(name, &sb)) != 0)
            return cli_job_unreadable(&j->job, name, errno);
        if (S_ISDIR(sb.st_mode))
            return cli_job_unreadable(&j->job, name, EISDIR);
        if (!S_ISREG(sb.st_mode) || in)
            continue;
        j->size[s] = (uint64_t)sb.st_size;
        int fd = open(name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return cli_job_unreadable(&j->job, name, errno);
        close(fd);
    }
    return CLI_EXIT_OK;
}

/* ----------------------------------------------------------------- run */

static void print_stats(jn_job_t *j)
{
    const mgov_hashjoin_stats_t *st = &j->join_st;
    char label[300];

    if (j->join != NULL)
        mgov_hashjoin_stats(j->join, &j->join_st);
    fprintf(stderr,
            "memgov join: stats: build FILE%d %s (%s join%s); rows %" PRIu64 " build, %" PRIu64
            " probe; rows out %" PRIu64 ", lines out %" PRIu64 "; partitions spilled %" PRIu64
            " (%u per level, levels %u, chunked %" PRIu64 " in %" PRIu64 " chunks); spill "
            "requests %" PRIu64 "; spilled %" PRIu64 " raw, %" PRIu64 " stored (%s); files %"
            PRIu64 "; memory peak %" PRIu64,
            j->bside + 1, cli_input_label(j->o->files[j->bside], label, sizeof label),
            type_names[j->type], j->drop_pairs ? ", pairs dropped" : "", st->build_rows,
            st->probe_rows, st->rows_out, j->lines_out, st->partitions_spilled, st->partitions,
            st->levels, st->chunked, st->chunks, st->spill_requests, st->spilled_raw,
            st->spilled_stored, mgov_codec_name(j->o->job.codec), st->files, st->memory_peak);
    cli_job_stats_end(&j->job);
}

/* The governor, the join and (--sorted) the sort. */
static int operators_create(jn_job_t *j)
{
    const jn_opts_t *o = j->o;
    int rc;

    if ((rc = cli_job_gov_create(&j->job)) != CLI_EXIT_OK)
        return rc;
    mgov_hashjoin_config_t jcfg = MGOV_HASHJOIN_CONFIG_INIT;
    jcfg.gov = j->job.gov;
    jcfg.name = "join";
    jcfg.type = j->type;
    jcfg.key_size = 0;
    jcfg.max_key = JN_MAX_LINE;
    jcfg.max_payload = JN_MAX_PAYLOAD;
    jcfg.timeout_ns = MGOV_HASHJOIN_DEFAULT_TIMEOUT_NS;
    jcfg.spill.codec = o->job.codec;
    jcfg.progress = on_join_progress;
    jcfg.progress_ctx = j;
    errno = 0;
    int st = mgov_hashjoin_create(&jcfg, &j->join);
    if (st != MGOV_OK)
        return cli_job_create_failed(&j->job, st, errno, "join");
    if (!o->sorted)
        return CLI_EXIT_OK;
    return cli_sorted_create(&j->job, "join-sort", cmp_join_order, NULL,
                             JN_REC_HEAD + 2 * JN_MAX_PAYLOAD + JN_MAX_LINE, "lines");
}

static int jn_run(jn_job_t *j)
{
    int rc, st;

    if ((rc = inputs_look(j)) != CLI_EXIT_OK)
        return rc;
    plan_build(j);
    if ((rc = operators_create(j)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_job_input_init(&j->job, JN_IO_BUFFER, 0, JN_MAX_LINE)) != CLI_EXIT_OK)
        return rc;
    j->job.in.room = make_room;
    j->job.in.room_ctx = j;
    if (cli_output_init(&j->job.out, STDOUT_FILENO, JN_IO_BUFFER) != 0)
        return cli_job_trouble(&j->job, "out of memory for the output buffer");

    j->phase = JN_BUILD;
    if ((rc = input_side(j, j->bside)) != CLI_EXIT_OK)
        return rc;
    if ((st = mgov_hashjoin_build_finish(j->join)) != MGOV_OK)
        return join_trouble(j, st);
    j->phase = JN_PROBE;
    if ((rc = input_side(j, 1 - j->bside)) != CLI_EXIT_OK)
        return rc;
    cli_input_free(&j->job.in);
    j->phase = JN_REST;
    if ((st = mgov_hashjoin_probe_finish(j->join)) != MGOV_OK)
        return join_trouble(j, st);
    if ((rc = rows_drain(j)) != CLI_EXIT_OK)
        return rc;

    if (j->job.sorted != NULL) {
        /* drained: its memory goes back to the budget before the sort merges */
        mgov_hashjoin_stats(j->join, &j->join_st);
        mgov_hashjoin_destroy(j->join);
        j->join = NULL;
        if ((rc = cli_sorted_out(&j->job, JN_REC_HEAD)) != CLI_EXIT_OK)
            return rc;
    }
    if (cli_output_flush(&j->job.out) != 0)
        return cli_job_output_trouble(&j->job, j->job.out.err);
    cli_progress_clear(&j->job.progress);
    if (j->o->job.stats)
        print_stats(j);
    return CLI_EXIT_OK;
}

/* Frees everything.  After a signal too: destroying the operators and the
 * governor removes the spill files and the private spill directory. */
static int jn_cleanup(jn_job_t *j, int rc)
{
    cli_progress_clear(&j->job.progress);
    if (rc != CLI_EXIT_OK && j->o->job.stats &&
        (j->join != NULL || j->job.stage != CLI_STAGE_RUN) && !cli_signal_pending())
        print_stats(j); /* how far it got */
    mgov_hashjoin_destroy(j->join);
    j->join = NULL;
    (void)cli_job_io_free(&j->job); /* stdout: never closed here */
    rc = cli_job_destroy(&j->job, rc);
    free(j->payload);
    free(j->rec);
    return rc;
}

/* ------------------------------------------------------------- options */

void cmd_join_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov join [OPTION]... FILE1 FILE2\n"
            "\n"
            "For each pair of lines of FILE1 and FILE2 with identical join fields,\n"
            "prints a line: the join field, the other fields of FILE1, then the other\n"
            "fields of FILE2, as join(1) does.  The inputs need not be sorted and may\n"
            "be larger than memory: one file (the build side) is hashed into a join\n"
            "charged to a memory budget, the other streams past it, and partitions go\n"
            "to disk when the budget is full.  One FILE may be - (standard input).\n"
            "The output comes in no particular order unless --sorted is given.\n"
            "\n"
            "  -1 FIELD                join on this field of FILE1 (default 1)\n"
            "  -2 FIELD                join on this field of FILE2 (default 1)\n"
            "  -j FIELD                the same as -1 FIELD -2 FIELD\n"
            "  -t SEP                  the field separator, one byte, also written between\n"
            "                          output fields; -t '' joins on whole lines, -t '\\0'\n"
            "                          is NUL (default: fields are separated by runs of\n"
            "                          blanks, leading blanks ignored, and written with\n"
            "                          one space, as join(1) does)\n"
            "  -a FILENUM              also print the unpaired lines of file FILENUM (1\n"
            "                          or 2); may be given for both\n"
            "  -v FILENUM              print only the unpaired lines of file FILENUM, not\n"
            "                          the pairs\n"
            "\n"
            "A line without the join field has an empty one; empty join fields match\n"
            "each other.  Fields are compared as bytes.\n"
            "\n"
            "Options:\n"
            "      --sorted            print the lines in join(1)'s order: by join field\n"
            "                          (bytes, LC_ALL=C), then by line in FILE1, then in\n"
            "                          FILE2, so the output equals that of LC_ALL=C join\n"
            "                          on the inputs sorted on their join fields\n"
            "      --build FILENUM     hash file FILENUM and stream the other past it\n"
            "                          (default: the smaller file; standard input and\n"
            "                          pipes count as larger than any file)\n"
            CLI_JOB_HELP_MEMORY
            CLI_JOB_HELP_SPILL
            "      --stats             print the join's figures on standard error at the\n"
            "                          end (rows, partitions spilled, bytes spilled, peak\n"
            "                          memory)\n"
            "  -h, --help              show this help and exit\n"
            "\n"
            "Progress: when standard error is a terminal and the job has run for more\n"
            "than a second, one line on it shows the bytes read, the lines written and\n"
            "the partitions spilled; MEMGOV_PROGRESS=1 shows it always, 0 never.\n"
            "\n"
            CLI_JOB_HELP_ENV
            "\n"
            "Exit status, as memgov sort: 0 success, 2 any failure (bad usage, an\n"
            "input that cannot be read, no space to spill, an output that cannot be\n"
            "written).\n");
}

/* A field number for -1, -2, -j: decimal digits, from 1. */
static int parse_field(const char *opt, const char *text, uint64_t *out)
{
    uint64_t v;

    if (!cli_decimal(text, strlen(text), &v) || v == 0)
        return cli_usage_error("join", "invalid field number '%s' for %s (a number from 1)",
                               text, opt);
    *out = v;
    return CLI_EXIT_OK;
}

/* A file number for -a, -v, --build: 1 or 2.  Returns 0 or 1 in *out. */
static int parse_filenum(const char *opt, const char *text, int *out)
{
    if (strcmp(text, "1") != 0 && strcmp(text, "2") != 0)
        return cli_usage_error("join", "invalid file number '%s' for %s (1 or 2)", text, opt);
    *out = text[0] - '1';
    return CLI_EXIT_OK;
}

/* Returns CLI_EXIT_OK to run the join, else the exit status; *done is set
 * when the options ended the command (--help, bad usage). */
static int parse_options(int argc, char **argv, jn_opts_t *o, bool *done)
{
    enum { OPT_SORTED = CLI_OPT_JOB_END, OPT_BUILD };
    static const struct option opts[] = {
        { "field-separator", required_argument, NULL, 't' },
        CLI_JOB_LONGOPTS,
        { "sorted", no_argument, NULL, OPT_SORTED },
        { "build", required_argument, NULL, OPT_BUILD },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "join", cmd_join_help };
    int c, rc, n;

    o->field[0] = o->field[1] = 1;
    o->sep = CLI_SEP_BLANKS;
    o->osep = ' ';
    o->job.codec = MGOV_CODEC_NONE;
    *done = true;
    while ((c = cli_getopt(&cmd, argc, argv, ":1:2:j:t:a:v:h", opts, &rc)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return rc; /* --help (CLI_EXIT_OK) or a bad option */
        case '1':
        case '2':
            if ((rc = parse_field(c == '1' ? "-1" : "-2", optarg, &o->field[c - '1'])) !=
                CLI_EXIT_OK)
                return rc;
            break;
        case 'j':
            if ((rc = parse_field("-j", optarg, &o->field[0])) != CLI_EXIT_OK)
                return rc;
            o->field[1] = o->field[0];
            break;
        case 't':
            /* as join(1): '' (or a newline) is the whole line, "\0" is NUL */
            if (optarg[0] == '\0' || strcmp(optarg, "\n") == 0)
                o->sep = '\n';
            else if (strcmp(optarg, "\\0") == 0)
                o->sep = '\0';
            else if (optarg[1] == '\0')
                o->sep = (unsigned char)optarg[0];
            else
                return cli_usage_error("join", "invalid separator '%s' for -t (one byte, '' "
                                       "for the whole line, or '\\0')", optarg);
            o->osep = (unsigned char)o->sep;
            break;
        case 'a':
        case 'v':
            if ((rc = parse_filenum(c == 'a' ? "-a" : "-v", optarg, &n)) != CLI_EXIT_OK)
                return rc;
            (c == 'a' ? o->a : o->v)[n] = true;
            break;
        case OPT_BUILD:
            if ((rc = parse_filenum("--build", optarg, &n)) != CLI_EXIT_OK)
                return rc;
            o->build = n + 1;
            break;
        case OPT_SORTED:
            o->sorted = true;
            break;
        default: /* --memory, --compress, --spill-dir, --spill-quota, --stats */
            if ((rc = cli_job_option("join", c, optarg, &o->job)) != CLI_EXIT_OK)
                return rc;
            break;
        }
    }
    if (argc - optind == 0)
        return cli_usage_error("join", "missing operands FILE1 FILE2");
    if (argc - optind == 1)
        return cli_usage_error("join", "missing operand FILE2 after '%s'", argv[optind]);
    if (argc - optind > 2)
        return cli_usage_error("join", "extra operand '%s'", argv[optind + 2]);
    o->files[0] = argv[optind];
    o->files[1] = argv[optind + 1];
    if (strcmp(o->files[0], "-") == 0 && strcmp(o->files[1], "-") == 0)
        return cli_usage_error("join", "FILE1 and FILE2 cannot both be standard input");
    *done = false;
    return CLI_EXIT_OK;
}

int cmd_join(int argc, char **argv)
{
    jn_opts_t o;
    jn_job_t job;
    bool done;
    int rc;

    memset(&o, 0, sizeof o);
    memset(&job, 0, sizeof job);
    job.o = &o;
    rc = parse_options(argc, argv, &o, &done);
    if (done)
        return rc;

    cli_job_start(&job.job, "join", &o.job);
    rc = jn_run(&job);
    rc = jn_cleanup(&job, rc);
    cli_signal_exit(); /* by the signal, when one came: 128 + signo */
    return rc;
}
