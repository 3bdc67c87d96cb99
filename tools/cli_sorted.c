/* cli_sorted.c - the --sorted stage of memgov groupby and join (see
 * cli_job.h): the lines the operator makes are pushed into an external
 * sort instead of the output, and once the operator is drained (and
 * destroyed, so the merge has the whole budget) the sort's merge passes run
 * and its lines go to the output.
 *
 *   operator --cli_sorted_push--> j->sorted (stage RUN: runs may spill)
 *   cli_sorted_out: finish (stage SORT: merge passes)
 *     --mgov_sort_next--> output (stage WRITE)
 *
 * The stage says what the progress line shows and which operator a
 * failure names.  The sort's progress callback draws only past stage RUN:
 * before that the operator's line is on the screen.
 */
#include <inttypes.h>
#include <stdint.h>

#include <memgov.h>

#include "cli_job.h"
#include "signals.h"

static void progress_draw(cli_job_t *j, const mgov_sort_stats_t *st)
{
    if (j->stage == CLI_STAGE_SORT || st->phase == MGOV_SORT_PHASE_MERGE)
        cli_progress_show(&j->progress, "memgov %s: sorting %" PRIu64 " %s, merge pass %u (%"
                          PRIu64 " runs)", j->cmd, st->records_in, j->sorted_noun,
                          st->merge_passes + 1, st->runs);
    else if (j->stage == CLI_STAGE_WRITE)
        cli_progress_show(&j->progress, "memgov %s: writing %" PRIu64 " sorted %s, %.0f%%",
                          j->cmd, st->records_in, j->sorted_noun, st->records_in ? 100.0 *
                          (double)st->records_out / (double)st->records_in : 100.0);
}

/* The sort's callback: after each run and pass. */
static void on_progress(void *ctx, const mgov_sort_stats_t *st)
{
    cli_job_t *j = ctx;

    if (j->stage != CLI_STAGE_RUN && cli_progress_due(&j->progress))
        progress_draw(j, st);
}

int cli_sorted_create(cli_job_t *j, const char *name, mgov_sort_cmp_fn cmp, void *cmp_ctx,
                      size_t max_record, const char *noun)
{
    mgov_sort_config_t scfg = MGOV_SORT_CONFIG_INIT;
    scfg.gov = j->gov;
    scfg.name = name;
    scfg.cmp = cmp;
    scfg.cmp_ctx = cmp_ctx;
    scfg.max_record = max_record;
    scfg.timeout_ns = MGOV_SORT_DEFAULT_TIMEOUT_NS; /* it shares the budget with the operator */
    scfg.spill.codec = j->opts->codec;
    scfg.progress = on_progress;
    scfg.progress_ctx = j;
    j->sorted_noun = noun;
    int st = mgov_sort_create(&scfg, &j->sorted);
    if (st != MGOV_OK)
        return cli_job_trouble(j, "cannot create the sort: %s", mgov_strerror(st));
    return CLI_EXIT_OK;
}

int cli_sorted_push(cli_job_t *j, const void *line, size_t len)
{
    int st = mgov_sort_push(j->sorted, line, len);

    if (st == MGOV_OK)
        return CLI_EXIT_OK;
    j->stage = CLI_STAGE_SORT;
    return cli_job_op_trouble(j, st, "sort");
}

int cli_sorted_out(cli_job_t *j, size_t skip)
{
    const void *rec;
    size_t len;
    int st, rc;
    uint64_t n = 0;

    j->stage = CLI_STAGE_SORT;
    if ((st = mgov_sort_finish(j->sorted)) != MGOV_OK)
        return cli_job_op_trouble(j, st, "sort");
    if (cli_signal_pending()) /* caught during the merge passes */
        return CLI_EXIT_TROUBLE;
    j->stage = CLI_STAGE_WRITE;
    while ((rc = mgov_sort_next(j->sorted, &rec, &len)) == 1) {
        if (cli_output_line(&j->out, (const unsigned char *)rec + skip, len - skip) != 0)
            return cli_job_output_trouble(j, j->out.err);
        if (cli_signal_pending())
            return CLI_EXIT_TROUBLE;
        if ((++n & CLI_JOB_LOOK_EVERY) == 0 && cli_progress_due(&j->progress)) {
            mgov_sort_stats_t ss;
            mgov_sort_stats(j->sorted, &ss);
            progress_draw(j, &ss);
        }
    }
    return rc < 0 ? cli_job_op_trouble(j, rc, "sort") : CLI_EXIT_OK;
}
