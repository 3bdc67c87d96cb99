/* cmd_sections.h - what the two files of `memgov sections` share:
 * cmd_sections.c (the listing, --put, --get, --remove, the options) and
 * cmd_sections_quarantine.c (--quarantined, --restore, --discard, and what
 * the quarantine's events and a squatted name tell the user).
 *
 * Threading: the command's one thread; the event callback may run in the
 * section store's reaper thread too, but only quarantine events are
 * counted, and those come from the thread that opens the store or commits.
 */
#ifndef MEMGOV_TOOLS_CMD_SECTIONS_H
#define MEMGOV_TOOLS_CMD_SECTIONS_H

#include <limits.h>
#include <stdbool.h>

#include <memgov.h>

#define SECTIONS_CMD "sections"
#define SECTIONS_QUARANTINE "sec-quarantine" /* docs/section.md */

/* What the governor's MGOV_EV_QUARANTINED events said. */
typedef struct sections_notes {
    unsigned moved;            /* files moved into the quarantine */
    char failed[NAME_MAX + 1]; /* the first file that could not be moved, or "" */
    int failed_status;
} sections_notes_t;

/* The governor's on_event (ctx: a sections_notes_t). */
void sections_on_event(void *ctx, const mgov_event_t *ev);

/* One line on stderr when files were moved into DIR's quarantine (and
 * forgets them, so it is said once). */
void sections_notes_print(const char *dir, sections_notes_t *notes);

/* After a failure in DIR: a name the section store reserves, held by the
 * wrong kind of file (a directory or symlink squatting it), in words into
 * buf; NULL when none is found.  With `section`, that section's file
 * names too.  It only looks (lstat, readdir), after the fact. */
const char *sections_squatter(const char *dir, const char *section, char *buf, size_t cap);

/* The forms on the quarantine, with DIR's store open.  Exit statuses as the
 * rest of the command. */
int sections_quarantined(mgov_t *gov, const char *dir, bool json);
int sections_restore(mgov_t *gov, const char *dir, const char *file, const char *as_name);
int sections_discard(mgov_t *gov, const char *dir, const char *file);

/* A plain name inside the quarantine (CLI_EXIT_OK), or a usage error. */
int sections_file_check(const char *opt, const char *file);

#endif /* MEMGOV_TOOLS_CMD_SECTIONS_H */
