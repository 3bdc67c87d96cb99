/* cmd_sections.c - `memgov sections DIR [--json]`: the tiered sections kept
 * in a persistent spill directory; three maintenance forms,
 * `--put NAME FILE` (store FILE's bytes as a new section), `--get NAME`
 * (write a section's bytes to standard output) and `--remove NAME` (delete
 * a section's copy); and three on the quarantine, `--quarantined`,
 * `--restore FILE [--as NAME]`, `--discard FILE`
 * (cmd_sections_quarantine.c).
 *
 * Each form makes a governor whose spill directory is DIR (cfg.spill_dir),
 * lets the section store read DIR's manifest (the first
 * mgov_section_foreach), does its work and destroys the governor.  DIR must
 * already exist: opening a spill directory creates a missing one, so it is
 * checked with lstat first.
 *
 * Opening DIR takes its lock (memgov.lock): a directory another live
 * memgov process uses is refused (MGOV_EBUSY), and while this command runs
 * no other process can use DIR.  Like any opening of a spill directory it
 * also tidies what a crash left behind there: temporary spill files are
 * removed, and section files the manifest does not account for -- every
 * one when there is no manifest -- are moved into DIR/sec-quarantine, not
 * deleted (docs/section.md); the command says so on stderr, from the
 * store's events.  The listing changes nothing else.  It reports each
 * section's header check (done when the manifest is read); the data's
 * checksum is checked only when a section is read, which the listing does
 * not do.
 *
 * Exit: 0 success, 1 run-time failure (DIR missing or busy, a corrupt or
 * unreadable manifest, a section that exists or does not, I/O), 2 usage.
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
#include "cmd_sections.h"

#define CMD SECTIONS_CMD
#define MANIFEST_NAME "sec-manifest" /* docs/section.md */
/* The governor only does accounting here: nothing is held in RAM but
 * a byte or none (see put_section). */
#define SECTIONS_BUDGET ((uint64_t)16 << 20)

/* ----------------------------------------------------------- the directory */

/* DIR must exist and be a directory (not a link to one: spill directories
 * are opened without following links). */
static int dir_check(const char *dir)
{
    struct stat sb;

    if (dir[0] == '\0')
        return cli_usage_error(CMD, "DIR is empty");
    if (lstat(dir, &sb) != 0)
        return cli_error(CMD, "cannot use '%s': %s", dir, strerror(errno));
    if (S_ISLNK(sb.st_mode))
        return cli_error(CMD, "cannot use '%s': it is a symbolic link (spill directories are "
                         "opened without following links)", dir);
    if (!S_ISDIR(sb.st_mode))
        return cli_error(CMD, "cannot use '%s': not a directory", dir);
    return CLI_EXIT_OK;
}

/* Reports a failure to open DIR or read its manifest.  err: errno just
 * after the call, for MGOV_EIO.  The library does not say which step
 * failed: a file that could not be moved into the quarantine (its event),
 * a squatted reserved name and an unreadable manifest are told apart here,
 * the rest by cli_spill_dir_why (creating DIR's lock file, for one). */
static int dir_error(const char *dir, int status, int err, const sections_notes_t *notes)
{
    char buf[512], why[512];
    struct stat sb;

    if (notes->failed[0]) {
        const char *w = sections_squatter(dir, NULL, why, sizeof why);
        return cli_error(CMD, "cannot use '%s': cannot move '%s' into its quarantine: %s", dir,
                         notes->failed, w ? w : mgov_strerror(notes->failed_status));
    }
    switch (status) {
    case MGOV_EBUSY:
        return cli_runtime_error(CMD, status, "cannot use '%s': another live memgov process "
                                 "is using it", dir);
    case MGOV_ECORRUPT:
        snprintf(buf, sizeof buf, "%s/%s", dir, MANIFEST_NAME);
        if (lstat(buf, &sb) == 0 && !S_ISREG(sb.st_mode))
            return cli_error(CMD, "cannot read the sections manifest of '%s': '%s' is not a "
                             "regular file", dir, buf);
        return cli_runtime_error(CMD, status, "cannot read the sections manifest of '%s'", dir);
    case MGOV_EINVAL:
        return cli_error(CMD, "cannot use '%s': %s", dir,
                         cli_spill_dir_why(dir, status, err, buf, sizeof buf));
    case MGOV_EIO:
        if (err == 0)
            break;
        if (sections_squatter(dir, NULL, why, sizeof why))
            return cli_error(CMD, "cannot use '%s': %s", dir, why);
        snprintf(buf, sizeof buf, "%s/%s", dir, MANIFEST_NAME);
        if (lstat(buf, &sb) == 0 && access(buf, R_OK) != 0)
            return cli_error(CMD, "cannot read the sections manifest of '%s': %s", dir,
                             strerror(errno));
        return cli_error(CMD, "cannot use '%s': %s", dir,
                         cli_spill_dir_why(dir, status, err, buf, sizeof buf));
    default:
        break;
    }
    return cli_runtime_error(CMD, status, "cannot use '%s'", dir);
}

/* ---------------------------------------------------------------- listing */

typedef struct entry {
    char name[MGOV_NAME_MAX + 1];
    mgov_tier_t tier;
    mgov_section_override_t override;
    int status;
    uint64_t length, disk_bytes, generation;
} entry_t;

typedef struct listing {
    entry_t *v;
    size_t n, cap;
    bool nomem;
} listing_t;

static void collect(void *arg, const mgov_section_info_t *info)
{
    listing_t *l = arg;

    if (l->nomem)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        entry_t *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            l->nomem = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    entry_t *e = &l->v[l->n++];
    snprintf(e->name, sizeof e->name, "%s", info->name);
    e->tier = info->tier;
    e->override = info->override;
    e->status = info->status;
    e->length = info->length;
    e->disk_bytes = info->disk_bytes;
    e->generation = info->generation;
}

static const char *status_word(int status)
{
    return status == MGOV_OK ? "ok" : status == MGOV_ECORRUPT ? "corrupt" : "unavailable";
}

static void print_text(const char *dir, const listing_t *l)
{
    if (l->n == 0) {
        printf("no sections in '%s'\n", dir);
        return;
    }
    int w = (int)strlen("name");
    for (size_t i = 0; i < l->n; i++)
        if ((int)strlen(l->v[i].name) > w)
            w = (int)strlen(l->v[i].name);
    printf("%-*s  %-13s  %10s  %10s  %10s  %s\n", w, "name", "tier", "length", "generation",
           "disk", "status");
    for (size_t i = 0; i < l->n; i++) {
        const entry_t *e = &l->v[i];
        printf("%-*s  %-13s  %10s  %10" PRIu64 "  %10s  %s\n", w, e->name, mgov_tier_name(e->tier),
               cli_size(e->length).s, e->generation, cli_size(e->disk_bytes).s,
               status_word(e->status));
    }
}

static void print_json(const listing_t *l)
{
    printf("[");
    for (size_t i = 0; i < l->n; i++) {
        const entry_t *e = &l->v[i];
        printf("%s\n  {\"name\": ", i ? "," : "");
        cli_json_string(stdout, e->name);
        printf(", \"tier\": \"%s\", \"override\": \"%s\", \"length\": {\"bytes\": %" PRIu64
               ", \"human\": \"%s\"}, \"generation\": %" PRIu64 ", \"disk\": {\"bytes\": %" PRIu64
               ", \"human\": \"%s\"}, \"status\": \"%s\"}",
               mgov_tier_name(e->tier), mgov_section_override_name(e->override), e->length,
               cli_size(e->length).s, e->generation, e->disk_bytes, cli_size(e->disk_bytes).s,
               status_word(e->status));
    }
    printf("%s]\n", l->n ? "\n" : "");
}

static void ignore(void *arg, const mgov_section_info_t *info)
{
    (void)arg;
    (void)info;
}

/* Opens DIR's store (the lock, the manifest, the quarantine's moves) by
 * listing it once, and says what was moved aside. */
static int dir_open(mgov_t *gov, const char *dir, sections_notes_t *notes)
{
    errno = 0;
    int rc = mgov_section_foreach(gov, ignore, NULL);
    if (rc != MGOV_OK)
        return dir_error(dir, rc, errno, notes);
    sections_notes_print(dir, notes);
    return CLI_EXIT_OK;
}

static int list_sections(mgov_t *gov, const char *dir, bool json, sections_notes_t *notes)
{
    listing_t l = { 0 };

    errno = 0;
    int rc = mgov_section_foreach(gov, collect, &l);
    if (rc != MGOV_OK) {
        free(l.v);
        return dir_error(dir, rc, errno, notes);
    }
    sections_notes_print(dir, notes);
    if (l.nomem) {
        free(l.v);
        return cli_runtime_error(CMD, MGOV_ENOMEM, "cannot list the sections of '%s'", dir);
    }
    if (json)
        print_json(&l);
    else
        print_text(dir, &l);
    free(l.v);
    return CLI_EXIT_OK; /* the output is checked by main */
}

/* ------------------------------------------------------------ maintenance */

/* Reads all of `path` ("-": standard input) into a malloc'ed buffer. */
static int read_whole(const char *path, uint8_t **out, size_t *len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_error(CMD, "cannot read '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    int err = b ? 0 : ENOMEM;
    while (err == 0) {
        if (n == cap) {
            uint8_t *nb = cap <= SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
            if (nb == NULL) {
                err = ENOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, b + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            err = errno;
        else if (got == 0)
            break;
        else
            n += (size_t)got;
    }
    if (!is_stdin)
        close(fd);
    if (err != 0) {
        free(b);
        return cli_error(CMD, "cannot read '%s': %s", is_stdin ? "standard input" : path,
                         strerror(err));
    }
    *out = b;
    *len = n;
    return CLI_EXIT_OK;
}

/* The name's errors are the only MGOV_EINVAL left once DIR is open. */
static int name_error(const char *name)
{
    return cli_usage_error(CMD, "invalid section name '%s' (1 to %d printable ASCII bytes, "
                           "no '/', no '..', not starting with '.')", name, MGOV_NAME_MAX);
}

/* Writes FILE's bytes as the new section NAME, and spills it: it is then
 * in DIR's manifest, as one generation.  An existing section is refused
 * (remove it first), so what is in DIR is always whole: the old section,
 * or none, or the new one. */
static int put_section(mgov_t *gov, const char *dir, const char *name, const char *file)
{
    /* max_ram 1: a write longer than a byte goes straight to a new
     * generation of the section's file, never through RAM. */
    mgov_section_config_t scfg = MGOV_SECTION_CONFIG_INIT;
    scfg.override = MGOV_SECTION_AUTO;
    scfg.max_ram = 1;
    mgov_section_t *s;
    int rc = mgov_section_open(gov, name, &scfg, &s);
    if (rc == MGOV_EINVAL)
        return name_error(name);
    if (rc == MGOV_ECORRUPT)
        return cli_runtime_error(CMD, rc, "section '%s' in '%s' exists and is unavailable "
                                 "(remove it with --remove)", name, dir);
    if (rc != MGOV_OK)
        return cli_runtime_error(CMD, rc, "cannot open section '%s' in '%s'", name, dir);
    if (mgov_section_tier(s) != MGOV_TIER_UNINITIALIZED) {
        mgov_section_close(s);
        return cli_error(CMD, "section '%s' already exists in '%s' (remove it first: "
                         "--remove %s)", name, dir, name);
    }

    uint8_t *data = NULL;
    size_t len = 0;
    int ex = read_whole(file, &data, &len);
    if (ex == CLI_EXIT_OK) {
        if (len > 0) {
            rc = mgov_section_append(s, data, len);
        } else { /* an empty section is kept only once written: write, then empty it */
            rc = mgov_section_resize(s, 1);
            if (rc == MGOV_OK)
                rc = mgov_section_truncate(s, 0);
        }
        if (rc == MGOV_OK)
            rc = mgov_section_spill(s, 0); /* nothing to do when it went straight to disk */
        char why[512];
        if (rc == MGOV_EIO && sections_squatter(dir, name, why, sizeof why))
            ex = cli_error(CMD, "cannot write section '%s' in '%s': %s", name, dir, why);
        else if (rc != MGOV_OK)
            ex = cli_runtime_error(CMD, rc, "cannot write section '%s' in '%s'", name, dir);
        else if (mgov_section_tier(s) != MGOV_TIER_ON_DISK)
            ex = cli_error(CMD, "section '%s' in '%s' was written but is not on disk (%s)",
                           name, dir, mgov_tier_name(mgov_section_tier(s)));
    }
    free(data);
    rc = mgov_section_close(s);
    if (rc != MGOV_OK && ex == CLI_EXIT_OK)
        ex = cli_runtime_error(CMD, rc, "cannot close section '%s'", name);
    return ex;
}

/* Writes the section NAME's bytes to standard output, through a pinned
 * view of its mapped file (the first read checks the data's crc32c). */
static int get_section(mgov_t *gov, const char *dir, const char *name)
{
    mgov_section_t *s;
    int rc = mgov_section_open(gov, name, NULL, &s);
    if (rc == MGOV_EINVAL)
        return name_error(name);
    if (rc != MGOV_OK)
        return cli_runtime_error(CMD, rc, "cannot open section '%s' in '%s'", name, dir);
    if (mgov_section_tier(s) == MGOV_TIER_UNINITIALIZED) {
        mgov_section_close(s);
        return cli_runtime_error(CMD, MGOV_ENOTFOUND, "no section '%s' in '%s'", name, dir);
    }
    mgov_section_view_t v;
    int ex = CLI_EXIT_OK;
    rc = mgov_section_pin(s, &v);
    if (rc != MGOV_OK) {
        ex = cli_runtime_error(CMD, rc, "cannot read section '%s' in '%s'", name, dir);
    } else {
        if ((v.len != 0 && fwrite(v.data, 1, v.len, stdout) != v.len) || fflush(stdout) != 0)
            ex = cli_error(CMD, "cannot write to standard output: %s", strerror(errno));
        mgov_section_unpin(s, &v);
    }
    rc = mgov_section_close(s);
    if (rc != MGOV_OK && ex == CLI_EXIT_OK)
        ex = cli_runtime_error(CMD, rc, "cannot close section '%s'", name);
    return ex;
}

static int remove_section(mgov_t *gov, const char *dir, const char *name)
{
    int rc = mgov_section_remove(gov, name);
    char why[512];
    if (rc == MGOV_EINVAL)
        return name_error(name);
    if (rc == MGOV_ENOTFOUND)
        return cli_runtime_error(CMD, rc, "no section '%s' in '%s'", name, dir);
    if (rc == MGOV_EIO && sections_squatter(dir, NULL, why, sizeof why))
        return cli_error(CMD, "cannot remove section '%s' from '%s': %s", name, dir, why);
    if (rc != MGOV_OK)
        return cli_runtime_error(CMD, rc, "cannot remove section '%s' from '%s'", name, dir);
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- main */

void cmd_sections_help(FILE *out)
{
    fprintf(out,
            "Usage: memgov sections DIR [--json]\n"
            "       memgov sections DIR --put NAME FILE\n"
            "       memgov sections DIR --get NAME\n"
            "       memgov sections DIR --remove NAME\n"
            "       memgov sections DIR --quarantined [--json]\n"
            "       memgov sections DIR --restore FILE [--as NAME]\n"
            "       memgov sections DIR --discard FILE\n"
            "\n"
            "Lists the tiered sections kept in the persistent spill directory DIR\n"
            "(the spill_dir of the governors that wrote them): for each, its name,\n"
            "tier, length, the generation of its file, the file's size on disk and\n"
            "its status (\"ok\", or \"corrupt\" when its file failed the header check;\n"
            "the data's checksum is checked only when a section is read).  DIR must\n"
            "exist and no other memgov process may be using it.  Opening DIR, as any\n"
            "memgov process does, removes temporary spill files a crash left, and\n"
            "moves section files the manifest does not account for (all of them when\n"
            "it is missing) into DIR/sec-quarantine, saying so on stderr: nothing is\n"
            "deleted but a generation superseded by a healthy newer one.\n"
            "\n"
            "Options:\n"
            "  -j, --json         print one JSON array, an object per section (or per\n"
            "                     quarantined file, with --quarantined)\n"
            "      --put NAME     store the bytes of FILE (\"-\": standard input) as the\n"
            "                     new section NAME, written to disk as one generation;\n"
            "                     a section NAME that exists is refused (remove it first)\n"
            "      --get NAME     write the bytes of section NAME to standard output\n"
            "                     (its data checksum is verified first)\n"
            "      --remove NAME  delete the section NAME's file and manifest entry\n"
            "      --quarantined  list the files in DIR's quarantine: file, the section\n"
            "                     its header names, length, size on disk, status (\"ok\":\n"
            "                     header and data check; \"corrupt\"; \"unreadable\")\n"
            "      --restore FILE make the quarantined FILE a section again, under a\n"
            "                     new generation; a section of its name that exists is\n"
            "                     refused, as is a damaged FILE\n"
            "      --as NAME      with --restore: as the section NAME\n"
            "      --discard FILE delete the quarantined FILE for good\n"
            "  -h, --help         show this help and exit\n"
            "\n"
            "Exit status: 0 success, 1 a run-time failure (DIR missing, busy or\n"
            "unreadable, a corrupt manifest, no such section or file, one that\n"
            "exists, a damaged file to restore), 2 bad usage.\n");
}

int cmd_sections(int argc, char **argv)
{
    enum { OPT_PUT = 0x100, OPT_GET, OPT_REMOVE, OPT_QUARANTINED, OPT_RESTORE, OPT_AS,
           OPT_DISCARD };
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "put", required_argument, NULL, OPT_PUT },
        { "get", required_argument, NULL, OPT_GET },
        { "remove", required_argument, NULL, OPT_REMOVE },
        { "quarantined", no_argument, NULL, OPT_QUARANTINED },
        { "restore", required_argument, NULL, OPT_RESTORE },
        { "as", required_argument, NULL, OPT_AS },
        { "discard", required_argument, NULL, OPT_DISCARD },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const cli_cmd_t cmd = { CMD, cmd_sections_help };
    bool json = false, quarantined = false;
    const char *put = NULL, *get = NULL, *remove_name = NULL, *restore = NULL, *as_name = NULL,
               *discard = NULL;
    int c, status;

    while ((c = cli_getopt(&cmd, argc, argv, ":jh", opts, &status)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return status;
        case 'j':
            json = true;
            break;
        case OPT_PUT:
            put = optarg;
            break;
        case OPT_GET:
            get = optarg;
            break;
        case OPT_REMOVE:
            remove_name = optarg;
            break;
        case OPT_QUARANTINED:
            quarantined = true;
            break;
        case OPT_RESTORE:
            restore = optarg;
            break;
        case OPT_AS:
            as_name = optarg;
            break;
        case OPT_DISCARD:
            discard = optarg;
            break;
        }
    }
    int n_actions = (put != NULL) + (get != NULL) + (remove_name != NULL) + quarantined +
                    (restore != NULL) + (discard != NULL);
    if (n_actions > 1)
        return cli_usage_error(CMD, "--put, --get, --remove, --quarantined, --restore and "
                               "--discard cannot be used together");
    if (json && n_actions > 0 && !quarantined)
        return cli_usage_error(CMD, "--json applies to the listings only");
    if (as_name != NULL && restore == NULL)
        return cli_usage_error(CMD, "--as goes with --restore only");
    if (optind >= argc)
        return cli_usage_error(CMD, "missing the spill directory DIR");
    const char *dir = argv[optind++];
    const char *file = NULL;
    if (put != NULL) {
        if (optind >= argc)
            return cli_usage_error(CMD, "--put %s needs a FILE after DIR", put);
        file = argv[optind++];
    }
    if ((status = cli_no_operands(&cmd, argc, argv)) != CLI_EXIT_OK)
        return status;
    if (restore != NULL && (status = sections_file_check("--restore", restore)) != CLI_EXIT_OK)
        return status;
    if (discard != NULL && (status = sections_file_check("--discard", discard)) != CLI_EXIT_OK)
        return status;

    int ex = dir_check(dir);
    if (ex != CLI_EXIT_OK)
        return ex;

    sections_notes_t notes = { 0 };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = SECTIONS_BUDGET;
    cfg.spill_dir = dir;
    cfg.on_event = sections_on_event;
    cfg.event_ctx = &notes;
    mgov_t *gov;
    int rc = mgov_create(&cfg, &gov);
    if (rc != MGOV_OK)
        return cli_runtime_error(CMD, rc, "cannot create a governor");

    if (n_actions == 0) {
        ex = list_sections(gov, dir, json, &notes);
    } else {
        ex = dir_open(gov, dir, &notes);
        if (ex == CLI_EXIT_OK) {
            if (put != NULL)
                ex = put_section(gov, dir, put, file);
            else if (get != NULL)
                ex = get_section(gov, dir, get);
            else if (remove_name != NULL)
                ex = remove_section(gov, dir, remove_name);
            else if (quarantined)
                ex = sections_quarantined(gov, dir, json);
            else if (restore != NULL)
                ex = sections_restore(gov, dir, restore, as_name);
            else
                ex = sections_discard(gov, dir, discard);
            sections_notes_print(dir, &notes); /* a commit that moved a squatter aside */
        }
    }

    rc = mgov_destroy(gov);
    if (rc != MGOV_OK && ex == CLI_EXIT_OK)
        ex = cli_runtime_error(CMD, rc, "mgov_destroy");
    return ex;
}
