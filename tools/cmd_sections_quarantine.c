/* cmd_sections_quarantine.c - `memgov sections DIR --quarantined [--json]`,
 * `--restore FILE [--as NAME]` and `--discard FILE`: the files DIR's
 * section store moved aside because its manifest did not account for
 * them (memgov/section.h, docs/section.md); and the words for what the
 * store's events and a squatted reserved name say.
 *
 * The library does the work (mgov_section_quarantine_foreach, _restore,
 * _discard); this file words the results.  It never deletes anything
 * itself, and --discard is the only form that deletes.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <memgov.h>

#include "cli.h"
#include "cmd_sections.h"

#define CMD SECTIONS_CMD

/* ------------------------------------------------------------ events */

void sections_on_event(void *ctx, const mgov_event_t *ev)
{
    sections_notes_t *n = ctx;
    if (ev->type != MGOV_EV_QUARANTINED)
        return;
    if (ev->status == MGOV_OK)
        n->moved++;
    else if (!n->failed[0] && ev->name) {
        snprintf(n->failed, sizeof n->failed, "%s", ev->name);
        n->failed_status = ev->status;
    }
}

void sections_notes_print(const char *dir, sections_notes_t *notes)
{
    if (notes->moved == 0)
        return;
    (void)cli_error(CMD, "%u file%s the manifest does not account for moved to '%s/%s' "
                    "(list: memgov sections %s --quarantined)", notes->moved,
                    notes->moved == 1 ? "" : "s", dir, SECTIONS_QUARANTINE, dir);
    notes->moved = 0;
}

/* ---------------------------------------------------------- squatters */

/* "sec-" + 16 hex digits + "-" + section. */
static bool file_of(const char *file, const char *section)
{
    if (strncmp(file, "sec-", 4) != 0 || strlen(file) < 21 || file[20] != '-')
        return false;
    for (int i = 4; i < 20; i++)
        if (!strchr("0123456789abcdef", file[i]))
            return false;
    return strcmp(file + 21, section) == 0;
}

/* The kind of file at DIR/name: 0 when nothing is there. */
static mode_t kind_at(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &sb) == 0 ? (sb.st_mode & S_IFMT) : 0;
}

const char *sections_squatter(const char *dir, const char *section, char *buf, size_t cap)
{
    mode_t k = kind_at(dir, SECTIONS_QUARANTINE);
    if (k && k != S_IFDIR) {
        snprintf(buf, cap, "'%s/%s' is not a directory (the quarantine's name: move it away)",
                 dir, SECTIONS_QUARANTINE);
        return buf;
    }
    k = kind_at(dir, "sec-manifest.tmp");
    if (k && k != S_IFREG) {
        snprintf(buf, cap, "'%s/sec-manifest.tmp' is not a regular file (move it away)", dir);
        return buf;
    }
    DIR *d = section ? opendir(dir) : NULL;
    const char *why = NULL;
    struct dirent *de;
    while (d && !why && (de = readdir(d)) != NULL) {
        k = file_of(de->d_name, section) ? kind_at(dir, de->d_name) : S_IFREG;
        if (k && k != S_IFREG) {
            snprintf(buf, cap, "'%s/%s' is not a regular file (a name of the section's files: "
                     "move it away)", dir, de->d_name);
            why = buf;
        }
    }
    if (d)
        closedir(d);
    return why;
}

/* ------------------------------------------------------------- listing */

typedef struct qentry {
    char file[NAME_MAX + 1];
    char name[MGOV_NAME_MAX + 1]; /* "" when the header does not check */
    bool has_header;
    uint64_t length, generation, disk_bytes;
    int status;
} qentry_t;

typedef struct qlisting {
    qentry_t *v;
    size_t n, cap;
    bool nomem;
} qlisting_t;

static void collect(void *arg, const mgov_section_quarantined_t *q)
{
    qlisting_t *l = arg;
    if (l->nomem)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        qentry_t *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            l->nomem = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    qentry_t *e = &l->v[l->n++];
    snprintf(e->file, sizeof e->file, "%s", q->file);
    snprintf(e->name, sizeof e->name, "%s", q->name ? q->name : "");
    e->has_header = q->name != NULL;
    e->length = q->length;
    e->generation = q->generation;
    e->disk_bytes = q->disk_bytes;
    e->status = q->status;
}

static const char *status_word(int status)
{
    return status == MGOV_OK ? "ok" : status == MGOV_ECORRUPT ? "corrupt" : "unreadable";
}

static void print_text(const char *dir, const qlisting_t *l)
{
    if (l->n == 0) {
        printf("nothing in the quarantine of '%s'\n", dir);
        return;
    }
    int wf = (int)strlen("file"), wn = (int)strlen("section");
    for (size_t i = 0; i < l->n; i++) {
        if ((int)strlen(l->v[i].file) > wf)
            wf = (int)strlen(l->v[i].file);
        if ((int)strlen(l->v[i].name) > wn)
            wn = (int)strlen(l->v[i].name);
    }
    printf("%-*s  %-*s  %10s  %10s  %s\n", wf, "file", wn, "section", "length", "disk",
           "status");
    for (size_t i = 0; i < l->n; i++) {
        const qentry_t *e = &l->v[i];
        printf("%-*s  %-*s  %10s  %10s  %s\n", wf, e->file, wn, e->has_header ? e->name : "-",
               e->has_header ? cli_size(e->length).s : "-", cli_size(e->disk_bytes).s,
               status_word(e->status));
    }
}

static void print_json(const qlisting_t *l)
{
    printf("[");
    for (size_t i = 0; i < l->n; i++) {
        const qentry_t *e = &l->v[i];
        printf("%s\n  {\"file\": ", i ? "," : "");
        cli_json_string(stdout, e->file);
        printf(", \"name\": ");
        if (e->has_header) {
            cli_json_string(stdout, e->name);
            printf(", \"length\": {\"bytes\": %" PRIu64 ", \"human\": \"%s\"}, \"generation\": %"
                   PRIu64, e->length, cli_size(e->length).s, e->generation);
        } else {
            printf("null, \"length\": null, \"generation\": null");
        }
        printf(", \"disk\": {\"bytes\": %" PRIu64 ", \"human\": \"%s\"}, \"status\": \"%s\"}",
               e->disk_bytes, cli_size(e->disk_bytes).s, status_word(e->status));
    }
    printf("%s]\n", l->n ? "\n" : "");
}

int sections_quarantined(mgov_t *gov, const char *dir, bool json)
{
    qlisting_t l = { 0 };
    errno = 0;
    int rc = mgov_section_quarantine_foreach(gov, collect, &l);
    int ex = CLI_EXIT_OK;
    char buf[512];
    if (rc == MGOV_EIO && sections_squatter(dir, NULL, buf, sizeof buf))
        ex = cli_error(CMD, "cannot list the quarantine of '%s': %s", dir, buf);
    else if (rc != MGOV_OK)
        ex = cli_runtime_error(CMD, rc, "cannot list the quarantine of '%s'", dir);
    else if (l.nomem)
        ex = cli_runtime_error(CMD, MGOV_ENOMEM, "cannot list the quarantine of '%s'", dir);
    else if (json)
        print_json(&l);
    else
        print_text(dir, &l);
    free(l.v);
    return ex;
}

/* ------------------------------------------------------ restore, discard */

int sections_file_check(const char *opt, const char *file)
{
    if (!file[0] || strchr(file, '/') || !strcmp(file, ".") || !strcmp(file, "..") ||
        strlen(file) > NAME_MAX)
        return cli_usage_error(CMD, "%s: invalid file name '%s' (a name in the quarantine, as "
                               "--quarantined lists it)", opt, file);
    return CLI_EXIT_OK;
}

/* The section named in the header of quarantined `file`, into name. */
static void header_name(mgov_t *gov, const char *file, char *name, size_t cap)
{
    qlisting_t l = { 0 };
    snprintf(name, cap, "?");
    if (mgov_section_quarantine_foreach(gov, collect, &l) == MGOV_OK)
        for (size_t i = 0; i < l.n; i++)
            if (strcmp(l.v[i].file, file) == 0)
                snprintf(name, cap, "%s", l.v[i].name);
    free(l.v);
}

int sections_restore(mgov_t *gov, const char *dir, const char *file, const char *as_name)
{
    errno = 0;
    int rc = mgov_section_quarantine_restore(gov, file, as_name);
    char name[MGOV_NAME_MAX + 1], buf[512];
    switch (rc) {
    case MGOV_OK:
        return CLI_EXIT_OK;
    case MGOV_EINVAL: /* the file's name was checked: it is NAME's */
        return cli_usage_error(CMD, "invalid section name '%s' (1 to %d printable ASCII bytes, "
                               "no '/', no '..', not starting with '.')", as_name ? as_name : "",
                               MGOV_NAME_MAX);
    case MGOV_ENOTFOUND:
        return cli_runtime_error(CMD, rc, "no file '%s' in the quarantine of '%s'", file, dir);
    case MGOV_EEXIST:
        if (as_name)
            snprintf(name, sizeof name, "%s", as_name);
        else
            header_name(gov, file, name, sizeof name);
        return cli_error(CMD, "cannot restore '%s': section '%s' already exists in '%s' "
                         "(restore it under another name with --as NAME, or remove that one "
                         "first)", file, name, dir);
    case MGOV_ECORRUPT:
        return cli_runtime_error(CMD, rc, "cannot restore '%s' (it stays in the quarantine of "
                                 "'%s')", file, dir);
    default:
        if (rc == MGOV_EIO && sections_squatter(dir, as_name, buf, sizeof buf))
            return cli_error(CMD, "cannot restore '%s' in '%s': %s", file, dir, buf);
        return cli_runtime_error(CMD, rc, "cannot restore '%s' in '%s'", file, dir);
    }
}

int sections_discard(mgov_t *gov, const char *dir, const char *file)
{
    int rc = mgov_section_quarantine_discard(gov, file);
    if (rc == MGOV_ENOTFOUND)
        return cli_runtime_error(CMD, rc, "no file '%s' in the quarantine of '%s'", file, dir);
    if (rc != MGOV_OK)
        return cli_runtime_error(CMD, rc, "cannot discard '%s' from the quarantine of '%s'", file,
                                 dir);
    return CLI_EXIT_OK;
}
