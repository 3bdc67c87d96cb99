/* cmd_top.h - `memgov top` (cmd_top.c), for the command table in memgov.c.
 * Kept apart from cli.h, which other commands' work also edits. */
#ifndef MEMGOV_TOOLS_CMD_TOP_H
#define MEMGOV_TOOLS_CMD_TOP_H

#include <stdio.h>

int cmd_top(int argc, char **argv);
void cmd_top_help(FILE *out);

#endif /* MEMGOV_TOOLS_CMD_TOP_H */
