/* mix_plot.c - the picture of a run: gnuplot (Debian: gnuplot-nox) reads
 * the samples' TSV and draws each region's bytes stacked over time, the
 * process's RSS, the ceiling and the three pressure thresholds, with the
 * moments of spills and reloads, and the pressure level, marked above.  The script goes to
 * gnuplot's standard input.  Without gnuplot in PATH the TSV stays and a
 * note says so: the picture is a view, not a check.  Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mix.h"

extern char **environ;

/* The path of `prog` in PATH, or false. */
static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return false;
    char buf[4096];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        if (n && n + strlen(prog) + 2 <= sizeof buf) {
            memcpy(buf, p, n);
            buf[n] = '/';
            strcpy(buf + n + 1, prog);
            if (access(buf, X_OK) == 0)
                return true;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return false;
}

/* s as a gnuplot single-quoted string ('' stands for a quote). */
static void gp_string(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void script(mix_t *m, FILE *f)
{
    double mib = 1048576.0, ceil = (double)m->o.memory / mib;
    fprintf(f, "set terminal pngcairo noenhanced size 1280,720 font 'sans,10'\nset output ");
    gp_string(f, m->o.png);
    fprintf(f, "\nset datafile separator '\\t'\n"
               "set title 'memgov demo: vector search, time-series ingest, analytics and a "
               "cache under one %.0f MiB ceiling'\n"
               "set xlabel 'seconds'\nset ylabel 'MiB'\nset key outside right top\n"
               "set grid ytics\nset autoscale xfix\nset yrange [0:%.1f]\nM = %.1f\n"
               "set palette defined (0 'web-green', 1 'gold', 2 'dark-orange', 3 'red')\n"
               "set cbrange [0:3]\nunset colorbox\n",
               ceil, ceil * 1.22, mib);
    fprintf(f, "plot ");
    /* stacked: the sum of regions 0..i, drawn from the largest down */
    for (int i = MIX_NREG - 1; i >= 0; i--) {
        fprintf(f, "%s", i == MIX_NREG - 1 ? "" : ", \\\n     ");
        gp_string(f, m->o.tsv);
        fprintf(f, " skip 1 using 1:((");
        for (int j = 0; j <= i; j++)
            fprintf(f, "%s$%d", j ? "+" : "", 2 + j);
        fprintf(f, ")/M) with filledcurves x1 title '%s'",
                m->rname[i]);
    }
    fprintf(f, ", \\\n     ");
    gp_string(f, m->o.tsv);
    fprintf(f, " skip 1 using 1:($%d/M) with lines lw 2 lc rgb 'black' title 'RSS'",
            2 + MIX_NREG + 1);
    fprintf(f, ", \\\n     %.2f with lines lw 2 lc rgb 'red' title 'ceiling'", ceil);
    fprintf(f, ", \\\n     %.2f with lines dt 2 lc rgb 'orange' title 'moderate'", ceil * 0.70);
    fprintf(f, ", \\\n     %.2f with lines dt 2 lc rgb 'dark-orange' title 'high'", ceil * 0.85);
    fprintf(f, ", \\\n     %.2f with lines dt 2 lc rgb 'dark-red' title 'critical'", ceil * 0.95);
    fprintf(f, ", \\\n     ");
    gp_string(f, m->o.tsv);
    fprintf(f, " skip 1 using 1:($%d > 0 ? %.2f : 1/0):(0.4 + sqrt($%d) / 3) with points pt 7 "
               "ps variable lc rgb 'blue' title 'spills (size: how many)'", 2 + MIX_NREG + 3, ceil * 1.06, 2 + MIX_NREG + 3);
    fprintf(f, ", \\\n     ");
    gp_string(f, m->o.tsv);
    fprintf(f, " skip 1 using 1:($%d > 0 ? %.2f : 1/0):(0.4 + sqrt($%d) / 3) with points pt 9 "
               "ps variable lc rgb 'dark-green' title 'reloads'", 2 + MIX_NREG + 4, ceil * 1.12,
            2 + MIX_NREG + 4);
    fprintf(f, ", \\\n     ");
    gp_string(f, m->o.tsv);
    fprintf(f, " skip 1 using 1:(%.2f):%d with points pt 5 ps 0.5 lc palette "
               "title 'pressure level'\n",
            ceil * 1.18, 2 + MIX_NREG + 2);
}

void mix_plot(mix_t *m)
{
    if (!in_path("gnuplot")) {
        printf("picture: gnuplot is not installed (Debian package gnuplot-nox), so no %s;\n"
               "  the samples are in %s\n", m->o.png, m->o.tsv);
        return;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        mix_fail(m, "gnuplot: pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    /* posix_spawn, not fork: no atfork handlers (jemalloc's take every
     * arena's lock), and nothing of ours runs in the child */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    char *argv[] = { (char *)"gnuplot", NULL };
    pid_t pid;
    int e = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        close(fds[0]);
        close(fds[1]);
        mix_fail(m, "gnuplot: %s", strerror(e));
        return;
    }
    close(fds[0]);
    /* gnuplot may stop reading early (an error): its failure, not a SIGPIPE of ours */
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigaction(SIGPIPE, &ign, &old);
    FILE *f = fdopen(fds[1], "w");
    if (f) {
        script(m, f);
        fclose(f);
    } else {
        close(fds[1]);
    }
    sigaction(SIGPIPE, &old, NULL);
    int wst = 0;
    pid_t w;
    while ((w = waitpid(pid, &wst, 0)) < 0 && errno == EINTR)
        ;
    if (!f || w != pid || !WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
        mix_fail(m, "gnuplot could not draw %s from %s", m->o.png, m->o.tsv);
    else
        printf("picture: %s (samples: %s)\n", m->o.png, m->o.tsv);
}
