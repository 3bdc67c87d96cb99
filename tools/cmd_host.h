/* cmd_host.h - `memgov host` (cmd_host.c: the view; host_demo.c: --demo;
 * host_bench.c: --bench), for the command table in memgov.c.  Kept apart
 * from cli.h, which other commands' work also edits. */
#ifndef MEMGOV_TOOLS_CMD_HOST_H
#define MEMGOV_TOOLS_CMD_HOST_H

#include <stdint.h>
#include <stdio.h>

#include <memgov.h>

int cmd_host(int argc, char **argv);
void cmd_host_help(FILE *out);

/* `memgov host --demo`: workers share a budget, one is killed. */
int host_demo(unsigned workers, uint64_t budget, unsigned seconds);
/* `memgov host --bench`: reserve+release in 1, 2, 4 processes against a
 * local governor, and the time a death takes to be noticed. */
int host_bench(uint64_t pairs, unsigned rounds);

/* One view of the host NAME on stdout (members, totals); 0, or the
 * status of mgov_host_read. */
int host_show(const char *name);
/* One event as a line on stdout. */
void host_event_print(const mgov_host_event_t *e);

#endif /* MEMGOV_TOOLS_CMD_HOST_H */
