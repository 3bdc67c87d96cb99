/* cmd_sort.c - `memgov sort`: sorts text lines, or fixed-width binary
 * records, by bytes under a memory budget and writes what
 * `LC_ALL=C sort` would (with -r, -u: `sort -r`, `sort -u`).  The work is
 * an external merge sort (memgov/sort.h) charged to one governor: when its
 * records fill the budget they go to disk as sorted runs, merged at the end.
 *
 * Data path (no allocation per line, no stdio per line):
 *
 *   FILE... or stdin --read(2), 1 MiB blocks--> input.c --memchr--> line
 *       --mgov_sort_push (copies it)--> the sort: records charged to the
 *                                       governor, runs spilled to disk
 *   mgov_sort_finish: the merge passes before the last
 *   mgov_sort_next --> output.c, two 1 MiB buffers: one filled here while
 *                      a writer thread write(2)s the other --> OUT or stdout
 *
 * The input buffer (1 MiB, or a 16th of a smaller budget) is charged to
 * the budget (input.h): it grows while a longer line is read, up to the
 * longest line the budget can hold (line_limit), making room by spilling
 * the sort (mgov_sort_spill).  The two output buffers (2 MiB) are the only
 * memory outside the budget besides the program.
 *
 * -o OUT may name one of the inputs, as with sort(1).  OUT is opened at the
 * start, created when missing but not truncated, so an unwritable OUT fails
 * before any work; it is truncated only after mgov_sort_finish, when every
 * input byte has been read.  A failure before that leaves an existing OUT
 * as it was, and removes an OUT this run created.
 *
 * Exit status, as sort(1): 0 success, 2 for any failure, bad usage
 * included (CLI_EXIT_TROUBLE; the rest of the tool uses 1 for run-time
 * failures).  Not supported: keys and fields (-k, -t), locales, numeric or
 * other orderings, merge-only (-m), check (-c).
 *
 * Signals (signals.h): SIGINT, SIGTERM and SIGHUP are caught; the loops
 * over records look at the flag, the run stops there, the clean-up
 * removes the spill files (and OUT when this run created it), and the
 * process ends by the signal.  A closed output pipe (EPIPE, SIGPIPE taken
 * over) ends it the same way, quietly, by SIGPIPE, as sort(1).  Only a
 * SIGKILL leaves spill files; the next memgov process to open a spill
 * directory beside them removes them (spill.h).
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
#include "input.h"
#include "output.h"
#include "progress.h"
#include "signals.h"

#define SORT_IO_BUFFER ((size_t)1 << 20)
#define SORT_MAX_LINE ((size_t)64 << 20)   /* mgov_sort's default max_record */
#define SORT_LINE_COST 36                  /* a line's charge besides its bytes (docs/sort.md) */
#define SORT_LINE_PAGES 3                  /* a page of each of the sort's buffers, rounded up */
#define SORT_LINE_SPARE ((uint64_t)128 << 10) /* spill buffers beside a long line, or 1/8 */
#define SORT_MAX_RECORD ((size_t)1 << 20)  /* --records LEN */
#define PROGRESS_EVERY ((uint64_t)1 << 20) /* bytes between looks at the clock */

typedef struct sort_opts {
    cli_job_opts_t job;      /* --memory, --compress, --spill-dir, --spill-quota, --stats */
    const char *out_path;    /* NULL or "-": standard output */
    unsigned flags;          /* MGOV_SORT_DESCENDING, MGOV_SORT_UNIQUE */
    size_t rec_len, key_len; /* rec_len 0: lines */
    char **files;            /* none: standard input */
    int n_files;
} sort_opts_t;

typedef struct sort_job {
    const sort_opts_t *o;
    cli_job_t job;           /* governor, input, output, progress */
    mgov_sort_t *sort;
    uint64_t total_size;     /* sum of the inputs' sizes; 0 when one is unknown */
    uint64_t read_before;    /* bytes read from the inputs before this one */
    uint64_t next_look;      /* byte count at which to look at the progress clock */
    int out_fd;
    bool out_created;        /* OUT did not exist: remove it on failure */
    size_t max_line;         /* the longest line taken: line_limit */
} sort_job_t;

/* ------------------------------------------------------------- messages */

/* An error of the sort (push, finish, next), worded for people: as the
 * other jobs' (cli_job_op_trouble), but for sort(1)'s users a damaged
 * file is a spilled run, and a wait for memory that timed out is a
 * failure of the sort, not of the budget. */
static int sort_trouble(sort_job_t *j, int rc)
{
    switch (rc) {
    case MGOV_ENOSPC:
    case MGOV_EIO:
    case MGOV_ELIMIT:
    case MGOV_EBUDGET:
        return cli_job_op_trouble(&j->job, rc, "sort");
    case MGOV_ECORRUPT:
        return cli_job_trouble(&j->job, "a spilled run reads back wrong: %s", mgov_strerror(rc));
    default:
        return cli_job_trouble(&j->job, "sort failed: %s", mgov_strerror(rc));
    }
}

/* ------------------------------------------------------------- progress */

static void progress_draw(sort_job_t *j, const mgov_sort_stats_t *st)
{
    uint64_t done = j->read_before + j->job.in.bytes;

    switch (st->phase) {
    case MGOV_SORT_PHASE_INPUT:
        if (j->total_size != 0)
            cli_progress_show(&j->job.progress, "memgov sort: read %s of %s (%.0f%%), %" PRIu64
                              " runs written", cli_size(done).s, cli_size(j->total_size).s,
                              100.0 * (double)done / (double)j->total_size, st->runs);
        else
            cli_progress_show(&j->job.progress, "memgov sort: read %s, %" PRIu64 " runs written",
                              cli_size(done).s, st->runs);
        break;
    case MGOV_SORT_PHASE_MERGE: {
        unsigned pass = st->merge_passes + 1;
        unsigned of = st->merge_passes_planned > pass ? st->merge_passes_planned : pass;
        cli_progress_show(&j->job.progress, "memgov sort: merge pass %u/%u (%" PRIu64 " runs)",
                          pass, of, st->runs);
        break;
    }
    case MGOV_SORT_PHASE_OUTPUT: {
        double pct = st->records_in ? 100.0 * (double)st->records_out / (double)st->records_in
                                    : 100.0;
        if (st->merge_passes_planned != 0)
            cli_progress_show(&j->job.progress, "memgov sort: merge pass %u/%u, writing %.0f%%",
                              st->merge_passes, st->merge_passes_planned, pct);
        else
            cli_progress_show(&j->job.progress, "memgov sort: writing %.0f%%", pct);
        break;
    }
    }
}

/* The sort's callback: after each run and pass, and every 64 MiB merged. */
static void on_sort_progress(void *ctx, const mgov_sort_stats_t *st)
{
    sort_job_t *j = ctx;

    if (cli_progress_due(&j->job.progress))
        progress_draw(j, st);
}

/* Between records: looks at the clock once per PROGRESS_EVERY bytes. */
static inline void progress_tick(sort_job_t *j, uint64_t bytes)
{
    if (bytes < j->next_look)
        return;
    j->next_look = bytes + PROGRESS_EVERY;
    if (cli_progress_due(&j->job.progress)) {
        mgov_sort_stats_t st;
        mgov_sort_stats(j->sort, &st);
        progress_draw(j, &st);
    }
}

/* ---------------------------------------------------------------- input */

/* The longest line the sort can hold under this governor.  Grants may
 * fill the budget up to the critical threshold (an ordinary grant's
 * ceiling), less what the program itself is charged.  A line is held
 * twice: while it is pushed, by the input buffer (charged too: input.h)
 * and by the sort, where it costs SORT_LINE_COST bytes more and a page for
 * each of its three buffers, beside a run's writer; while runs are merged,
 * by each of two readers, which keep room to gather the longest record,
 * beside a writer.  The spill buffers are kept in SORT_LINE_SPARE.  The
 * input buffer grows only to this, so a line that could never be sorted
 * is refused once that much of it is read, not after 64 MiB. */
static size_t line_limit(const sort_job_t *j)
{
    mgov_stats_t st;
    uint64_t room = mgov_budget(j->job.gov);

    if (mgov_stats(j->job.gov, &st) == MGOV_OK)
        room = (uint64_t)((double)room * st.critical);
    room = room > j->job.program.bytes ? room - j->job.program.bytes : 0;
    uint64_t fixed = SORT_LINE_COST + SORT_LINE_PAGES * 4096 +
                     (room / 8 > SORT_LINE_SPARE ? room / 8 : SORT_LINE_SPARE);
    room = room > fixed ? (room - fixed) / 2 : 0;
    return room < SORT_MAX_LINE ? (size_t)room : SORT_MAX_LINE;
}

/* The input buffer's room callback: the sort's records become a run and
 * its memory goes back, so a long line can be read. */
static int make_room(void *ctx)
{
    sort_job_t *j = ctx;
    return mgov_sort_spill(j->sort);
}

static int push_lines(sort_job_t *j)
{
    const unsigned char *line;
    size_t len;
    int rc;

    while ((rc = cli_input_line(&j->job.in, &line, &len)) == 1) {
        int st = mgov_sort_push(j->sort, line, len);
        if (st != MGOV_OK)
            return sort_trouble(j, st);
        if (cli_signal_pending())
            return CLI_EXIT_TROUBLE;
        progress_tick(j, j->job.in.bytes);
    }
    return rc;
}

static int push_records(sort_job_t *j)
{
    const unsigned char *rec;
    size_t size = j->o->rec_len;
    int rc;

    while ((rc = cli_input_record(&j->job.in, size, &rec)) == 1) {
        int st = mgov_sort_push(j->sort, rec, size);
        if (st != MGOV_OK)
            return sort_trouble(j, st);
        if (cli_signal_pending())
            return CLI_EXIT_TROUBLE;
        progress_tick(j, j->job.in.bytes);
    }
    return rc;
}

/* Reads one input into the sort.  Returns CLI_EXIT_OK or an exit status. */
static int input_one(sort_job_t *j, const char *name)
{
    char label[512];
    int rc;

    if ((rc = cli_job_input_open(&j->job, name)) != CLI_EXIT_OK)
        return rc;
    j->next_look = 0;
    /* > 0: the sort failed and said so; < 0: the input did */
    rc = j->o->rec_len ? push_records(j) : push_lines(j);
    if (rc == CLI_INPUT_TOO_LONG && j->max_line != SORT_MAX_LINE) {
        char from[160];
        cli_job_budget_source(&j->job, from, sizeof from);
        rc = cli_job_trouble(&j->job, "line %" PRIu64 " of %s is longer than %s, the longest the "
                             "budget (%s) can hold; memgov sort takes lines up to %s with a "
                             "larger budget", j->job.in.lines + 1,
                             cli_input_label(j->job.in.name, label, sizeof label),
                             cli_size(j->max_line).s, from, cli_size(SORT_MAX_LINE).s);
    } else if (rc == CLI_INPUT_PARTIAL) {
        rc = cli_job_trouble(&j->job, "%s is not a whole number of %zu-byte records: %zu "
                             "byte(s) left over",
                             cli_input_label(j->job.in.name, label, sizeof label), j->o->rec_len,
                             j->job.in.end - j->job.in.pos);
    }
    j->read_before += j->job.in.bytes;
    j->job.in.bytes = 0; /* counted in read_before now */
    return cli_job_input_done(&j->job, rc, SORT_MAX_LINE);
}

/* --------------------------------------------------------------- output */

/* Opens OUT without truncating it: it may be an input still to be read. */
static int output_open(sort_job_t *j)
{
    const char *path = j->o->out_path;

    j->out_fd = STDOUT_FILENO;
    if (path == NULL || strcmp(path, "-") == 0)
        return CLI_EXIT_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0)
        j->out_created = true;
    else if (errno == EEXIST)
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return cli_job_trouble(&j->job, "cannot write '%s': %s", path, strerror(errno));
    j->out_fd = fd;
    return CLI_EXIT_OK;
}

static int output_trouble(sort_job_t *j, int err)
{
    /* EPIPE, when SIGPIPE is ours, is the end even for OUT (a FIFO) */
    if (j->out_fd == STDOUT_FILENO || cli_signal_epipe(err))
        return cli_job_output_trouble(&j->job, err);
    return cli_job_trouble(&j->job, "cannot write '%s': %s", j->o->out_path, strerror(err));
}

/* Called after finish: truncates OUT, then drains the sort into it. */
static int output_all(sort_job_t *j)
{
    struct stat st;

    if (j->out_fd != STDOUT_FILENO && fstat(j->out_fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size != 0 && ftruncate(j->out_fd, 0) != 0)
        return output_trouble(j, errno);
    if (cli_output_init(&j->job.out, j->out_fd, SORT_IO_BUFFER) != 0)
        return cli_job_trouble(&j->job, "out of memory for the output buffer");

    const void *rec;
    size_t len;
    int rc;
    j->next_look = 0;
    if (j->o->rec_len) {
        while ((rc = mgov_sort_next(j->sort, &rec, &len)) == 1) {
            if (cli_output_put(&j->job.out, rec, len) != 0)
                return output_trouble(j, j->job.out.err);
            if (cli_signal_pending())
                return CLI_EXIT_TROUBLE;
            progress_tick(j, j->job.out.bytes);
        }
    } else {
        while ((rc = mgov_sort_next(j->sort, &rec, &len)) == 1) {
            if (cli_output_line(&j->job.out, rec, len) != 0)
                return output_trouble(j, j->job.out.err);
            if (cli_signal_pending())
                return CLI_EXIT_TROUBLE;
            progress_tick(j, j->job.out.bytes);
        }
    }
    if (rc < 0)
        return sort_trouble(j, rc);
    if (cli_output_flush(&j->job.out) != 0)
        return output_trouble(j, j->job.out.err);
    if (j->out_fd != STDOUT_FILENO) {
        int fd = j->out_fd;
        j->out_fd = -1;
        if (close(fd) != 0)
            return output_trouble(j, errno);
    }
    return CLI_EXIT_OK;
}

/* ----------------------------------------------------------------- run */

static void print_stats(sort_job_t *j)
{
    mgov_sort_stats_t st;

    mgov_sort_stats(j->sort, &st);
    fprintf(stderr,
            "memgov sort: stats: records %" PRIu64 " in, %" PRIu64 " out; bytes %" PRIu64
            "; runs %" PRIu64 "; merge passes %u; spilled %" PRIu64 " raw, %" PRIu64
            " stored (%s); sort memory peak %" PRIu64,
            st.records_in, st.records_out, st.bytes_in, st.runs, st.merge_passes,
            st.spilled_raw, st.spilled_stored, mgov_codec_name(j->o->job.codec), st.memory_peak);
    cli_job_stats_end(&j->job);
}

static int sort_run(sort_job_t *j)
{
    const sort_opts_t *o = j->o;
    int rc;

    /* the inputs' sizes (for the percentage) and a first look at each, so
     * a misspelt name fails before any work */
    if ((rc = cli_job_inputs_size(&j->job, o->files, o->n_files, &j->total_size)) !=
        CLI_EXIT_OK)
        return rc;
    if ((rc = output_open(j)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_job_gov_create(&j->job)) != CLI_EXIT_OK)
        return rc;

    mgov_sort_config_t scfg = MGOV_SORT_CONFIG_INIT;
    scfg.gov = j->job.gov;
    scfg.name = "sort";
    scfg.timeout_ns = MGOV_SORT_DEFAULT_TIMEOUT_NS; /* memory others give back is waited for */
    scfg.record_size = o->rec_len;
    scfg.key_size = o->rec_len ? o->key_len : 0;
    scfg.max_record = o->rec_len ? 0 : SORT_MAX_LINE;
    scfg.flags = o->flags;
    scfg.spill.codec = o->job.codec;
    scfg.progress = on_sort_progress;
    scfg.progress_ctx = j;
    errno = 0;
    int st = mgov_sort_create(&scfg, &j->sort);
    if (st != MGOV_OK)
        return cli_job_create_failed(&j->job, st, errno, "sort");

    j->max_line = line_limit(j);
    if ((rc = cli_job_input_init(&j->job, SORT_IO_BUFFER, o->rec_len, j->max_line)) !=
        CLI_EXIT_OK)
        return rc;
    j->job.in.room = make_room;
    j->job.in.room_ctx = j;
    for (int i = 0; i < (o->n_files ? o->n_files : 1); i++)
        if ((rc = input_one(j, o->n_files ? o->files[i] : "-")) != CLI_EXIT_OK)
            return rc;
    cli_input_free(&j->job.in);

    if ((st = mgov_sort_finish(j->sort)) != MGOV_OK)
        return sort_trouble(j, st);
    if (cli_signal_pending()) /* caught during the merge passes */
        return CLI_EXIT_TROUBLE;
    if ((rc = output_all(j)) != CLI_EXIT_OK)
        return rc;
    cli_progress_clear(&j->job.progress);
    if (o->job.stats)
        print_stats(j);
    return CLI_EXIT_OK;
}

/* Frees everything; on failure removes an OUT this run created.  After a
 * signal too: destroying the sort and the governor removes the spill files
 * and the private spill directory. */
static int sort_cleanup(sort_job_t *j, int rc)
{
    cli_progress_clear(&j->job.progress);
    if (rc != CLI_EXIT_OK && j->o->job.stats && j->sort != NULL && !cli_signal_pending())
        print_stats(j); /* how far it got */
    bool abandoned = cli_job_io_free(&j->job);
    if (j->out_fd > STDOUT_FILENO && !abandoned) /* else the process's end closes it */
        close(j->out_fd);
    if (rc != CLI_EXIT_OK && j->out_created)
        unlink(j->o->out_path);
    mgov_sort_destroy(j->sort);
    j->sort = NULL;
    return cli_job_destroy(&j->job, rc);
}

/* ------------------------------------------------------------- options */

void cmd_sort_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov sort [OPTION]... [FILE]...\n"
            "\n"
            "Writes the lines of the FILEs, in order, sorted by bytes: the order of\n"
            "`LC_ALL=C sort`.  With no FILE, or when FILE is -, reads standard input.\n"
            "A last line without a newline is sorted as a line and written with one;\n"
            "lines may hold any bytes, NUL included, up to 64 MiB each and to what the\n"
            "budget can hold twice (416 KiB at 1M).  The sort runs under a memory\n"
            "governor: the records it holds and its input buffer are charged to the\n"
            "budget, and when the budget is full the records go to disk as sorted\n"
            "runs, merged at the end, so any input is sorted within the budget.\n"
            "\n"
            "Options:\n"
            CLI_JOB_HELP_MEMORY
            "  -o, --output OUT        write to OUT instead of standard output; OUT may\n"
            "                          be one of the inputs (it is replaced only once\n"
            "                          every input has been read)\n"
            "  -r, --reverse           largest first\n"
            "  -u, --unique            of equal lines (equal keys), write only the first\n"
            "      --records LEN[:KEYLEN]\n"
            "                          sort binary records of LEN bytes (at most 1 MiB)\n"
            "                          instead of lines, by their first KEYLEN bytes\n"
            "                          (default all) as unsigned bytes, equal keys in\n"
            "                          input order; each input's size must be a multiple\n"
            "                          of LEN; records are written back to back\n"
            "      --compress CODEC    compress spilled runs: none (default), lz4, zstd\n"
            "      --spill-dir DIR     spill runs to DIR, created when missing (default:\n"
            "                          a private directory under $TMPDIR, or /tmp)\n"
            CLI_JOB_HELP_QUOTA
            "      --stats             print the sort's figures on standard error at\n"
            "                          the end, or when it fails (records, runs, passes,\n"
            "                          bytes spilled, peak memory)\n"
            "  -h, --help              show this help and exit\n"
            "\n"
            "Progress: when standard error is a terminal and the sort has run for more\n"
            "than a second, one line on it shows the bytes read (and the percentage\n"
            "when the inputs are regular files), the runs written, then the merge\n"
            "passes and the output written; it is erased at the end.  MEMGOV_PROGRESS=1\n"
            "shows it even without a terminal and from the start, MEMGOV_PROGRESS=0\n"
            "never.\n"
            "\n"
            CLI_JOB_HELP_ENV
            "\n"
            "Exit status, as sort(1): 0 success, 2 any failure (bad usage, an input\n"
            "that cannot be read, an output that cannot be written, no space to spill).\n");
}

/* "LEN" or "LEN:KEYLEN", each a strict decimal count. */
static int parse_records(const char *text, size_t *len, size_t *key)
{
    const char *colon = strchr(text, ':');
    size_t n = colon != NULL ? (size_t)(colon - text) : strlen(text);
    uint64_t l = 0, k = 0;

    bool ok = cli_decimal(text, n, &l);
    if (colon == NULL)
        k = l;
    else if (ok)
        ok = cli_decimal(colon + 1, strlen(colon + 1), &k);
    if (!ok)
        return cli_usage_error("sort", "invalid --records '%s' (expected LEN or LEN:KEYLEN, "
                               "e.g. 16:8)", text);
    if (l == 0 || l > SORT_MAX_RECORD)
        return cli_usage_error("sort", "--records %s: LEN must be 1 to %zu", text,
                               SORT_MAX_RECORD);
    if (k == 0 || k > l)
        return cli_usage_error("sort", "--records %s: KEYLEN must be 1 to LEN", text);
    *len = (size_t)l;
    *key = (size_t)k;
    return CLI_EXIT_OK;
}

int cmd_sort(int argc, char **argv)
{
    enum { OPT_RECORDS = CLI_OPT_JOB_END };
    static const struct option opts[] = {
        CLI_JOB_LONGOPTS,
        { "output", required_argument, NULL, 'o' },
        { "reverse", no_argument, NULL, 'r' },
        { "unique", no_argument, NULL, 'u' },
        { "records", required_argument, NULL, OPT_RECORDS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "sort", cmd_sort_help };
    sort_opts_t o;
    int c, rc;

    memset(&o, 0, sizeof o);
    o.job.codec = MGOV_CODEC_NONE;
    while ((c = cli_getopt(&cmd, argc, argv, ":o:ruh", opts, &rc)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return rc;
        case 'o':
            o.out_path = optarg;
            break;
        case 'r':
            o.flags |= MGOV_SORT_DESCENDING;
            break;
        case 'u':
            o.flags |= MGOV_SORT_UNIQUE;
            break;
        case OPT_RECORDS:
            if ((rc = parse_records(optarg, &o.rec_len, &o.key_len)) != CLI_EXIT_OK)
                return rc;
            break;
        default: /* --memory, --compress, --spill-dir, --spill-quota, --stats */
            if ((rc = cli_job_option("sort", c, optarg, &o.job)) != CLI_EXIT_OK)
                return rc;
            break;
        }
    }
    if (o.out_path != NULL && o.out_path[0] == '\0')
        return cli_usage_error("sort", "-o needs a file name");
    o.files = argv + optind;
    o.n_files = argc - optind;

    sort_job_t job;
    memset(&job, 0, sizeof job);
    job.o = &o;
    job.out_fd = -1;
    cli_job_start(&job.job, "sort", &o.job);
    rc = sort_run(&job);
    rc = sort_cleanup(&job, rc);
    cli_signal_exit(); /* by the signal, when one came: 128 + signo */
    return rc;
}
