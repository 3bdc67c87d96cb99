/* cmd_info.c - `memgov info [--json]`: what memory this process may use
 * (RAM, cgroup limit, RSS), what a governor created with defaults would
 * do with it (budget, thresholds, spill directory), and which of the
 * kernel's memory pressure signals this machine offers (the files a
 * governor with MGOV_KERNEL_PRESSURE watches: present, readable, writable
 * for a PSI trigger), as text for people or as one JSON object.
 *
 * It creates no governor: everything comes from mgov_sysinfo_read,
 * mgov_default_budget and mgov_pressure_sources, the functions mgov_create
 * uses.  Sizes are shown
 * for people (mgov_size_format) and in exact bytes; a value the system did
 * not let us read is "unknown" (null in JSON).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memgov.h>

#include "cli.h"

typedef struct threshold {
    const char *name;
    double fraction;
    const char *meaning;
} threshold_t;

/* The defaults of mgov_config_t (governor.h): 0 means these. */
static const threshold_t thresholds[] = {
    { "moderate", 0.70, "consumers evict cold data" },
    { "high", 0.85, "consumers also spill to disk" },
    { "critical", 0.95, "ordinary requests refused; the rest is the spill reserve" },
};
#define N_THRESHOLDS (sizeof thresholds / sizeof thresholds[0])

typedef struct info {
    mgov_sysinfo_t sys;
    uint64_t budget;
    const char *budget_env;  /* MEMGOV_BUDGET when set and not empty */
    const char *budget_source;
    const char *tmpdir;      /* where the spill directory would go */
    bool tmpdir_from_env;
    mgov_pressure_source_info_t src[4]; /* the kernel's pressure signals */
    unsigned n_src;
} info_t;

void cmd_info_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov info [--json]\n"
            "\n"
            "Shows the memory this process may use and what a governor created\n"
            "with the defaults would do with it: physical RAM, the memory cgroup's\n"
            "limit and version, the process limit (the smaller of the two), the\n"
            "default budget (75%% of the process limit, or MEMGOV_BUDGET), the\n"
            "pressure thresholds in bytes, the spill directory, the current RSS,\n"
            "the kernel's memory pressure signals this machine offers (what a\n"
            "governor created with MGOV_KERNEL_PRESSURE would watch: systemd's\n"
            "$MEMORY_PRESSURE_WATCH, PSI files, the cgroup's memory.events; a PSI\n"
            "file that is writable takes a trigger, else its averages are read)\n"
            "and the library's version.\n"
            "\n"
            "Options:\n"
            "  -j, --json  print one JSON object instead of text\n"
            "  -h, --help  show this help and exit\n"
            "\n"
            "Exit status: 0 success, 1 MEMGOV_BUDGET is invalid, 2 bad usage.\n");
}

static uint64_t threshold_bytes(uint64_t budget, double fraction)
{
    return (uint64_t)((double)budget * fraction);
}

/* ------------------------------------------------------------------ text */

/* "15.5 GiB (16651653120 bytes)", or "unknown" for 0. */
static void text_size(const char *label, uint64_t bytes, const char *note)
{
    if (bytes == 0) {
        printf("  %-16s unknown%s%s\n", label, note ? "  " : "", note ? note : "");
        return;
    }
    char exact[48];
    snprintf(exact, sizeof exact, "(%" PRIu64 " bytes)", bytes);
    if (note != NULL)
        printf("  %-16s %-9s %-22s %s\n", label, cli_size(bytes).s, exact, note);
    else
        printf("  %-16s %-9s %s\n", label, cli_size(bytes).s, exact);
}

static void info_text(const info_t *in)
{
    const mgov_sysinfo_t *s = &in->sys;
    char note[160];

    printf("memgov %s (library %s)\n\n", MGOV_VERSION_STRING, mgov_version());

    printf("memory\n");
    text_size("RAM", s->ram, NULL);
    if (s->cgroup_version == 0) {
        printf("  %-16s none (not in a memory cgroup)\n", "cgroup limit");
    } else if (s->cgroup_limit == 0) {
        printf("  %-16s none (cgroup v%d, no limit)\n", "cgroup limit", s->cgroup_version);
    } else {
        snprintf(note, sizeof note, "cgroup v%d", s->cgroup_version);
        text_size("cgroup limit", s->cgroup_limit, note);
    }
    text_size("process limit", s->process_limit,
              s->process_limit == 0 ? NULL : "the smaller of RAM and the cgroup limit");
    text_size("RSS now", s->rss, NULL);

    printf("\ngovernor defaults\n");
    if (in->budget_env != NULL)
        snprintf(note, sizeof note, "%s=%s", in->budget_source, in->budget_env);
    else
        snprintf(note, sizeof note, "%s", in->budget_source);
    text_size("budget", in->budget, note);
    for (size_t i = 0; i < N_THRESHOLDS; i++) {
        char label[32];
        snprintf(label, sizeof label, "%-8s %3.0f%%", thresholds[i].name,
                 thresholds[i].fraction * 100.0);
        text_size(label, threshold_bytes(in->budget, thresholds[i].fraction),
                  thresholds[i].meaning);
    }
    printf("  %-16s private directory under %s (%s), created on first spill\n",
           "spill directory", in->tmpdir,
           in->tmpdir_from_env ? "$TMPDIR" : "$TMPDIR is not set: default /tmp");

    printf("\npressure sources (watched by a governor created with MGOV_KERNEL_PRESSURE)\n");
    for (unsigned i = 0; i < in->n_src && i < 4; i++) {
        const mgov_pressure_source_info_t *p = &in->src[i];
        if (!p->path[0]) {
            printf("  %-16s none: %s\n", p->kind, p->note);
            continue;
        }
        const char *how = !p->exists     ? "missing"
                          : !p->readable ? "present, not readable"
                          : p->writable  ? "readable, writable (a trigger can be set)"
                                         : "readable, not writable (read every interval)";
        printf("  %-16s %s: %s (%s)\n", p->kind, p->path, how, p->note);
    }
}

/* ------------------------------------------------------------------ json */

/* "key": {"bytes": N, "human": "..."} or "key": null for 0. */
static void json_size(const char *key, uint64_t bytes, const char *sep)
{
    printf("  \"%s\": ", key);
    if (bytes == 0)
        printf("null");
    else
        printf("{\"bytes\": %" PRIu64 ", \"human\": \"%s\"}", bytes, cli_size(bytes).s);
    printf("%s\n", sep);
}

static void info_json(const info_t *in)
{
    const mgov_sysinfo_t *s = &in->sys;

    printf("{\n");
    printf("  \"version\": \"%s\",\n", MGOV_VERSION_STRING);
    printf("  \"library_version\": ");
    cli_json_string(stdout, mgov_version());
    printf(",\n");
    json_size("ram", s->ram, ",");
    printf("  \"cgroup\": {\"version\": ");
    if (s->cgroup_version == 0)
        printf("null");
    else
        printf("%d", s->cgroup_version);
    printf(", \"limit\": ");
    if (s->cgroup_limit == 0)
        printf("null");
    else
        printf("{\"bytes\": %" PRIu64 ", \"human\": \"%s\"}", s->cgroup_limit,
               cli_size(s->cgroup_limit).s);
    printf("},\n");
    json_size("process_limit", s->process_limit, ",");
    json_size("rss", s->rss, ",");
    printf("  \"page_size\": %" PRIu64 ",\n", s->page_size);

    printf("  \"budget\": {\"bytes\": %" PRIu64 ", \"human\": \"%s\", \"source\": ",
           in->budget, cli_size(in->budget).s);
    cli_json_string(stdout, in->budget_source);
    printf(", \"from_env\": %s", in->budget_env ? "true" : "false");
    if (in->budget_env != NULL) {
        printf(", \"env\": ");
        cli_json_string(stdout, in->budget_env);
    }
    printf("},\n");

    printf("  \"thresholds\": {");
    for (size_t i = 0; i < N_THRESHOLDS; i++) {
        uint64_t b = threshold_bytes(in->budget, thresholds[i].fraction);
        printf("%s\n    \"%s\": {\"fraction\": %.2f, \"bytes\": %" PRIu64 ", \"human\": \"%s\"}",
               i ? "," : "", thresholds[i].name, thresholds[i].fraction, b, cli_size(b).s);
    }
    printf("\n  },\n");

    printf("  \"spill_dir\": {\"path\": null, \"parent\": ");
    cli_json_string(stdout, in->tmpdir);
    printf(", \"parent_from_env\": %s, \"created\": \"on first spill\"},\n",
           in->tmpdir_from_env ? "true" : "false");

    printf("  \"pressure_sources\": [");
    for (unsigned i = 0; i < in->n_src && i < 4; i++) {
        const mgov_pressure_source_info_t *p = &in->src[i];
        printf("%s\n    {\"kind\": ", i ? "," : "");
        cli_json_string(stdout, p->kind);
        printf(", \"path\": ");
        if (p->path[0])
            cli_json_string(stdout, p->path);
        else
            printf("null");
        printf(", \"exists\": %s, \"readable\": %s, \"writable\": %s, \"note\": ",
               p->exists ? "true" : "false", p->readable ? "true" : "false",
               p->writable ? "true" : "false");
        cli_json_string(stdout, p->note);
        printf("}");
    }
    printf("\n  ]\n");
    printf("}\n");
}

/* ------------------------------------------------------------------ main */

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { "info", cmd_info_help };
    bool json = false;
    int c, rc;

    while ((c = cli_getopt(&cmd, argc, argv, ":jh", opts, &rc)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return rc;
        case 'j':
            json = true;
            break;
        }
    }
    if ((rc = cli_no_operands(&cmd, argc, argv)) != CLI_EXIT_OK)
        return rc;

    info_t in;
    memset(&in, 0, sizeof in);
    rc = mgov_sysinfo_read(&in.sys);
    if (rc != MGOV_OK)
        return cli_runtime_error("info", rc, "cannot read system memory information");
    /* what mgov_create would make of MEMGOV_BUDGET, checked as the tool
     * checks a budget: an unusable one is an error here too */
    if ((rc = cli_default_budget("info", CLI_EXIT_FAILURE, &in.budget, &in.budget_env)) !=
        CLI_EXIT_OK)
        return rc;
    if (in.budget_env != NULL)
        in.budget_source = "set by MEMGOV_BUDGET";
    else if (in.sys.process_limit != 0)
        in.budget_source = "75% of the process limit";
    else
        in.budget_source = "fallback: the process limit is unknown";

    if ((rc = mgov_pressure_sources(in.src, 4, &in.n_src)) != MGOV_OK)
        return cli_runtime_error("info", rc, "cannot list the pressure sources");

    const char *tmp = getenv("TMPDIR");
    in.tmpdir_from_env = tmp != NULL && tmp[0] != '\0';
    in.tmpdir = in.tmpdir_from_env ? tmp : "/tmp";

    if (json)
        info_json(&in);
    else
        info_text(&in);
    return CLI_EXIT_OK; /* the output is checked by main */
}
