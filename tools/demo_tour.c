/* demo_tour.c - `memgov demo --tour [--budget SIZE] [--quiet]`: a short, scripted
 * workload that drives one governor through every pressure level and back,
 * printing each governor event as it happens, and checks itself.  The
 * parts are listed in demo.h; this file reads the options, makes the
 * governor with the demo's regions (limits on index_buffers and
 * execution_buffers), starts the consumers, runs the script, prints the
 * table of regions while the last workload is in place, and ends: every
 * consumer gone, nothing granted, mgov_destroy MGOV_OK.  A failed check
 * makes it exit 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

#define DEFAULT_BUDGET ((uint64_t)64 << 20)

void demo_tour_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov demo --tour [--budget SIZE] [--quiet]\n"
            "\n"
            "Runs a short scripted workload against one governor and prints every\n"
            "event as it happens: a query cache that evicts, an index that is a real\n"
            "section (a sixteenth of the budget, written with a known pattern) which\n"
            "the governor spills to a file in a private spill directory under $TMPDIR\n"
            "and reloads, and queries whose execution buffers push pressure through\n"
            "normal, moderate, high and critical and back; a pinned view of the index\n"
            "that makes the governor skip its spill, an urgent request, refusals, a\n"
            "request that waits in a second thread and is woken; then an arena and a\n"
            "buffer pool that charge real memory to the budget, with a writer that\n"
            "waits for buffers.  It ends with a table of regions from mgov_stats.\n"
            "The cache and the queries hold grants, not real memory.  The demo checks\n"
            "its own invariants (usage within the budget, every level visited, the\n"
            "index's bytes intact after every move, nothing left at the end).\n"
            "\n"
            "Options:\n"
            "  -b, --budget SIZE  the governor's budget (default 64M); a size such as\n"
            "                     256M or 1.5G, or a percentage of the memory this\n"
            "                     process may use; at least 1M\n"
            "  -q, --quiet        print only the final table\n"
            "  -h, --help         show this help and exit\n"
            "\n"
            "Exit status: 0 success, 1 a check failed or the governor failed,\n"
            "2 bad usage.\n");
}

/* The demo's state (static: large, and the callbacks may outlive a frame)
 * for `budget`, its mutexes made. */
static demo_t *demo_init(uint64_t budget, bool quiet)
{
    static demo_t demo;
    demo_t *d = &demo;

    memset(d, 0, sizeof *d);
    d->quiet = quiet;
    d->budget = budget;
    d->unit = budget / 64;
    d->exec_limit = 60 * d->unit;
    d->index_limit = 32 * d->unit;
    d->index_bytes = 4 * d->unit;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cond, NULL);
    pthread_mutex_init(&d->cache.mu, NULL);
    d->cache.demo = d;
    atomic_init(&d->exec.bytes, 0);
    d->level_seen[MGOV_PRESSURE_NORMAL] = true;
    return d;
}

/* The governor: the default regions, two of them with limits, and the
 * demo's event callback. */
static int governor_create(demo_t *d)
{
    const mgov_region_config_t regions[] = {
        { .name = "graph_storage" },
        { .name = "index_buffers", .limit = d->index_limit },
        { .name = "execution_buffers", .limit = d->exec_limit },
        { .name = "spill_staging" },
    };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = d->budget;
    cfg.regions = regions;
    cfg.n_regions = 4;
    cfg.on_event = demo_on_event;
    cfg.event_ctx = d;

    d->t0_ns = cli_now_ns();
    mgov_t *gov;
    int rc = mgov_create(&cfg, &gov);
    if (rc != MGOV_OK)
        return rc;
    d->gov = gov;
    d->r_graph = mgov_region_find(gov, "graph_storage");
    d->r_index = mgov_region_find(gov, "index_buffers");
    d->r_exec = mgov_region_find(gov, "execution_buffers");
    return MGOV_OK;
}

/* Runs the script and prints the final table while its last workload is
 * still in place. */
static void demo_run(demo_t *d)
{
    mgov_stats_t st;

    mgov_stats(d->gov, &st);
    demo_print_header(d, &st);
    if (demo_consumers_start(d) != MGOV_OK)
        return;
    demo_print_consumers(d);
    demo_script_run(d);

    int rc = mgov_stats(d->gov, &st);
    if (rc != MGOV_OK) {
        cli_runtime_error("demo", rc, "mgov_stats");
        d->failures++;
        return;
    }
    if (!d->quiet)
        printf("\n");
    demo_print_table(&st);
}

/* Releases everything, destroys the governor and gives the verdict. */
static int demo_end(demo_t *d)
{
    demo_consumers_stop(d);
    demo_check_released(d);

    mgov_t *gov = d->gov;
    d->gov = NULL;
    int rc = mgov_destroy(gov);
    if (rc != MGOV_OK)
        demo_fail(d, "mgov_destroy: %s", mgov_strerror(rc));
    demo_check_visits(d);
    demo_print_verdict(d, rc);

    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->cache.mu);
    if (d->failures != 0)
        return cli_error("demo", "%u check(s) failed", d->failures);
    return CLI_EXIT_OK; /* the output is checked by main */
}

int demo_tour(int argc, char **argv)
{
    static const struct option opts[] = {
        { "budget", required_argument, NULL, 'b' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "demo --tour", demo_tour_help };
    uint64_t budget = DEFAULT_BUDGET;
    bool quiet = false;
    int c, rc;

    while ((c = cli_getopt(&cmd, argc, argv, ":b:qh", opts, &rc)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return rc;
        case 'b':
            if ((rc = cli_parse_budget("demo", "--budget", optarg, &budget)) != CLI_EXIT_OK)
                return rc;
            break;
        case 'q':
            quiet = true;
            break;
        }
    }
    if ((rc = cli_no_operands(&cmd, argc, argv)) != CLI_EXIT_OK)
        return rc;

    demo_t *d = demo_init(budget, quiet);
    rc = governor_create(d);
    if (rc != MGOV_OK)
        return cli_runtime_error("demo", rc, "mgov_create");
    demo_run(d);
    return demo_end(d);
}
