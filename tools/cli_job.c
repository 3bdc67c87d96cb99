/* cli_job.c - the job of memgov sort, groupby and join (see cli_job.h):
 * its options, its start, its messages, its governor and inputs, its end.
 *
 * The wording lives here once so the three commands fail alike: a test
 * that checks one command's message checks the others' too.  Nothing here
 * knows an operator's type; the commands pass in what differs (the
 * operator's name, the longest line they take).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <memgov.h>

#include "cli_job.h"
#include "signals.h"

int cli_job_option(const char *cmd, int c, const char *arg, cli_job_opts_t *o)
{
    int rc = CLI_EXIT_OK;

    switch (c) {
    case CLI_OPT_MEMORY:
        if ((rc = cli_parse_budget(cmd, "--memory", arg, &o->budget)) == CLI_EXIT_OK)
            o->budget_text = arg;
        break;
    case CLI_OPT_COMPRESS:
        rc = cli_parse_codec(cmd, CLI_EXIT_TROUBLE, arg, &o->codec);
        break;
    case CLI_OPT_SPILL_DIR:
        rc = cli_parse_dir(cmd, "--spill-dir", arg, &o->spill_dir);
        break;
    case CLI_OPT_SPILL_QUOTA:
        rc = cli_parse_size(cmd, "--spill-quota", arg, 0, 1, MGOV_BUDGET_MAX, &o->spill_quota);
        break;
    case CLI_OPT_STATS:
        o->stats = true;
        break;
    }
    return rc;
}

void cli_job_start(cli_job_t *j, const char *cmd, const cli_job_opts_t *o)
{
    j->cmd = cmd;
    j->opts = o;
    j->in.fd = -1;
    j->t0_ns = cli_now_ns();
    cli_progress_init(&j->progress);
    cli_signals_catch();
}

/* ------------------------------------------------------------ messages */

int cli_job_trouble(cli_job_t *j, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    cli_progress_clear(&j->progress);
    if (cli_signal_pending())
        return CLI_EXIT_TROUBLE; /* what failed did because of it: the signal ends us */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_error(j->cmd, "%s", msg);
    return CLI_EXIT_TROUBLE;
}

void cli_job_budget_source(const cli_job_t *j, char *buf, size_t cap)
{
    cli_budget_source(buf, cap, "--memory", j->opts->budget_text, j->budget_env,
                      mgov_budget(j->gov));
}

int cli_job_op_trouble(cli_job_t *j, int rc, const char *op)
{
    if (j->stage != CLI_STAGE_RUN)
        op = "sort";
    switch (rc) {
    case MGOV_ENOSPC:
        return cli_job_trouble(j, "spill failed: no space (quota or disk full)");
    case MGOV_EIO:
        return cli_job_trouble(j, "spill failed: %s", mgov_strerror(rc));
    case MGOV_ECORRUPT:
        return cli_job_trouble(j, "a spill file reads back wrong: %s", mgov_strerror(rc));
    case MGOV_ELIMIT:
    case MGOV_EBUDGET:
    case MGOV_ETIMEDOUT: {
        char from[160];
        cli_job_budget_source(j, from, sizeof from);
        return cli_job_trouble(j, "the budget (%s) is too small for this %s: %s", from, op,
                               mgov_strerror(rc));
    }
    default:
        return cli_job_trouble(j, "the %s failed: %s", op, mgov_strerror(rc));
    }
}

int cli_job_output_trouble(cli_job_t *j, int err)
{
    if (cli_signal_epipe(err)) /* the reader is gone: the end, as for sort(1) */
        return CLI_EXIT_TROUBLE;
    return cli_job_trouble(j, "cannot write to standard output: %s", strerror(err));
}

/* ---------------------------------------------------- governor, inputs */

int cli_job_gov_create(cli_job_t *j)
{
    const cli_job_opts_t *o = j->opts;
    int rc;

    mgov_config_t gcfg = MGOV_CONFIG_INIT;
    gcfg.budget = o->budget;
    if (gcfg.budget == 0 && (rc = cli_default_budget(j->cmd, CLI_EXIT_TROUBLE, &gcfg.budget,
                                                     &j->budget_env)) != CLI_EXIT_OK)
        return rc;
    gcfg.spill_dir = o->spill_dir;
    gcfg.spill_quota = o->spill_quota;
    int st = mgov_create(&gcfg, &j->gov);
    if (st != MGOV_OK)
        return cli_job_trouble(j, "cannot create the governor: %s", mgov_strerror(st));
    cli_charge_program(j->gov, &j->program);
    return CLI_EXIT_OK;
}

int cli_job_create_failed(cli_job_t *j, int st, int err, const char *what)
{
    const char *codec = mgov_codec_name(j->opts->codec);

    if (st == MGOV_ENOTSUP)
        return cli_job_trouble(j, "this build of memgov has no %s support (--compress %s)", codec,
                               codec);
    if (st == MGOV_EINVAL || st == MGOV_EBUSY || st == MGOV_EIO) {
        /* the spill directory is opened by the first operator; on MGOV_EIO err says why */
        cli_progress_clear(&j->progress);
        return cli_spill_dir_error(j->cmd, CLI_EXIT_TROUBLE, j->opts->spill_dir, st, err);
    }
    return cli_job_trouble(j, "cannot create the %s: %s", what, mgov_strerror(st));
}

int cli_job_unreadable(cli_job_t *j, const char *name, int err)
{
    char label[512];

    return cli_job_trouble(j, "cannot read %s: %s", cli_input_label(name, label, sizeof label),
                           strerror(err));
}

int cli_job_inputs_size(cli_job_t *j, char *const *files, int n, uint64_t *total)
{
    const char *failed = NULL;

    if (cli_inputs_size(files, n, total, &failed) != 0)
        return cli_job_unreadable(j, failed, errno);
    return CLI_EXIT_OK;
}

int cli_job_input_init(cli_job_t *j, size_t io_buffer, size_t min_cap, size_t max_line)
{
    uint64_t share = mgov_budget(j->gov) / 16;
    size_t cap = io_buffer < share ? io_buffer : (size_t)share;

    if (cap < min_cap)
        cap = min_cap;
    int rc = cli_input_init(&j->in, cap, max_line, j->gov);
    if (rc == CLI_INPUT_NO_ROOM) {
        char from[160];
        cli_job_budget_source(j, from, sizeof from);
        return cli_job_trouble(j, "the budget (%s) cannot hold the %s input buffer", from,
                               cli_size(cap).s);
    }
    if (rc != 0)
        return cli_job_trouble(j, "out of memory for the input buffer");
    return CLI_EXIT_OK;
}

int cli_job_input_open(cli_job_t *j, const char *name)
{
    if (cli_input_open(&j->in, name) != 0)
        return cli_job_unreadable(j, name, j->in.err);
    return CLI_EXIT_OK;
}

int cli_job_input_done(cli_job_t *j, int rc, size_t max_line)
{
    char label[512];

    if (rc == CLI_INPUT_ERROR)
        rc = cli_job_unreadable(j, j->in.name, j->in.err);
    else if (rc == CLI_INPUT_TOO_LONG)
        rc = cli_job_trouble(j, "line %" PRIu64 " of %s is longer than %s, the longest memgov %s "
                             "takes", j->in.lines + 1,
                             cli_input_label(j->in.name, label, sizeof label),
                             cli_size(max_line).s, j->cmd);
    else if (rc == CLI_INPUT_NO_ROOM && j->in.room_status != MGOV_OK)
        rc = cli_job_trouble(j, "cannot make room for line %" PRIu64 " of %s: %s",
                             j->in.lines + 1, cli_input_label(j->in.name, label, sizeof label),
                             mgov_strerror(j->in.room_status));
    else if (rc == CLI_INPUT_NO_ROOM) {
        char from[160];
        cli_job_budget_source(j, from, sizeof from);
        rc = cli_job_trouble(j, "line %" PRIu64 " of %s does not fit in the memory left: the "
                             "input buffer cannot grow past %s within the budget (%s)",
                             j->in.lines + 1, cli_input_label(j->in.name, label, sizeof label),
                             cli_size(j->in.cap).s, from);
    }
    cli_input_close(&j->in);
    return rc;
}

/* ------------------------------------------------------------- the end */

void cli_job_stats_end(const cli_job_t *j)
{
    if (j->sorted != NULL) {
        mgov_sort_stats_t ss;
        mgov_sort_stats(j->sorted, &ss);
        fprintf(stderr, "; sort runs %" PRIu64 "; sort spilled %" PRIu64 " stored; sort memory "
                "peak %" PRIu64, ss.runs, ss.spilled_stored, ss.memory_peak);
    }
    fprintf(stderr, "; budget %" PRIu64 "; peak rss %" PRIu64 "; seconds %.3f\n",
            mgov_budget(j->gov), cli_peak_rss(), cli_secs(j->t0_ns, cli_now_ns()));
}

bool cli_job_io_free(cli_job_t *j)
{
    cli_input_free(&j->in);
    return cli_output_free(&j->out);
}

int cli_job_destroy(cli_job_t *j, int rc)
{
    mgov_sort_destroy(j->sorted);
    j->sorted = NULL;
    if (j->gov != NULL) {
        mgov_grant_release(&j->program);
        int st = mgov_destroy(j->gov);
        j->gov = NULL;
        if (st != MGOV_OK && rc == CLI_EXIT_OK)
            rc = cli_job_trouble(j, "the governor reports memory still granted at the end: %s",
                                 mgov_strerror(st));
    }
    return rc;
}
