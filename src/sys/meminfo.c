/* sys/meminfo.c - how much memory this process may use (RAM, cgroup v1/v2
 * limit), how much it uses now (RSS), and the default budget derived from
 * them.
 *
 * Sources, all below two roots that tests can move (mgov__sys_set_roots):
 *
 *     <proc>/meminfo            MemTotal in kB              -> ram
 *     <proc>/self/statm         2nd field, in pages         -> rss
 *     <proc>/self/cgroup        "0::/path" (v2), "N:...memory...:/path" (v1)
 *     <proc>/self/mountinfo     where that hierarchy is mounted: point M,
 *                               root R (4th field); a leading "/sys" of M
 *                               is replaced by the sys root
 *     M + (path - R)            the cgroup directory, or M itself when that
 *                               does not exist (a container sees the host's
 *                               path but has its own cgroup mounted at M)
 *       v2: memory.max          "max" or bytes, smallest from dir up to M
 *       v1: memory.limit_in_bytes   bytes; >= RAM (or >= 2^62 when RAM is
 *                               unknown) means no limit
 *
 * Invariants:
 *   - Never crashes or fails on garbage: every file is read with a bounded
 *     buffer (or line by line, dropping lines that do not fit), numbers are
 *     parsed strictly, and a file that does not parse counts as unreadable,
 *     i.e. its field is 0.
 *   - v2 wins when the process has a v2 path with at least one readable
 *     memory.max; else v1; cgroup_version 0 means no limit file was found.
 *   - Only the real "/proc" falls back to sysconf() for RAM, so fake trees
 *     can play "RAM unknown".
 *
 * Locking: none.  The roots are process-wide and written only by
 * mgov__sys_set_roots, which must not run concurrently with anything here;
 * everything else uses the stack or a per-call heap block.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memgov/size.h"
#include "sys/sys.h"

#define DEFAULT_PROC_ROOT "/proc"
#define DEFAULT_SYS_ROOT "/sys"
#define LINE_CAP 4096      /* longer lines (e.g. overlay mounts) are skipped */
#define VALUE_CAP 128      /* a single number in a file, plus slack */
#define V1_UNLIMITED_FLOOR ((uint64_t)1 << 62) /* v1 "no limit" is ~2^63 */

static char proc_root[PATH_MAX] = DEFAULT_PROC_ROOT;
static char sys_root[PATH_MAX] = DEFAULT_SYS_ROOT;
static int roots_valid = 1; /* 0 after a root too long to copy: read nothing */

static void set_root(char *dst, const char *src, const char *dflt)
{
    if (src == NULL)
        src = dflt;
    size_t n = strlen(src);
    if (n >= PATH_MAX) {
        roots_valid = 0;
        dst[0] = '\0';
        return;
    }
    memcpy(dst, src, n + 1);
}

void mgov__sys_set_roots(const char *proc, const char *sys)
{
    roots_valid = 1;
    set_root(proc_root, proc, DEFAULT_PROC_ROOT);
    set_root(sys_root, sys, DEFAULT_SYS_ROOT);
}

/* ------------------------------------------------------------------ files */

/* out = a + b; -1 when it does not fit. */
static int path_join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s%s", a, b);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int open_ro(const char *path)
{
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

static ssize_t read_retry(int fd, char *buf, size_t n)
{
    ssize_t r;
    do {
        r = read(fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* Reads the whole of a small file into buf (NUL-terminated).  Returns its
 * length, or -1 when it cannot be opened or read, or is cap bytes or more. */
static ssize_t read_small_file(const char *path, char *buf, size_t cap)
{
    int fd = open_ro(path);
    if (fd < 0)
        return -1;
    size_t len = 0;
    ssize_t r = 0;
    while (len < cap - 1 && (r = read_retry(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    if (r >= 0 && len == cap - 1) {
        char extra;
        r = read_retry(fd, &extra, 1) == 0 ? 0 : -1; /* more data: too big */
    }
    close(fd);
    if (r < 0)
        return -1;
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Line-by-line reading with one bounded buffer. */
typedef struct line_reader {
    int fd;
    int failed;   /* a read error: the file counts as unreadable */
    size_t start; /* first byte of the next line in buf */
    size_t len;   /* bytes in buf */
    char buf[LINE_CAP];
} line_reader_t;

static int line_reader_open(line_reader_t *lr, const char *path)
{
    lr->fd = open_ro(path);
    lr->failed = 0;
    lr->start = lr->len = 0;
    return lr->fd < 0 ? -1 : 0;
}

static void line_reader_close(line_reader_t *lr)
{
    if (lr->fd >= 0)
        close(lr->fd);
    lr->fd = -1;
}

/* The next line without its '\n', NUL-terminated, valid until the next
 * call; NULL at the end or on error (then lr->failed is set). */
static char *line_reader_next(line_reader_t *lr)
{
    int skipping = 0; /* inside a line too long for buf */
    for (;;) {
        char *nl = memchr(lr->buf + lr->start, '\n', lr->len - lr->start);
        if (nl != NULL) {
            char *line = lr->buf + lr->start;
            *nl = '\0';
            lr->start = (size_t)(nl - lr->buf) + 1;
            if (!skipping)
                return line;
            skipping = 0;
            continue;
        }
        /* No full line left: move the partial one to the front, read more. */
        memmove(lr->buf, lr->buf + lr->start, lr->len - lr->start);
        lr->len -= lr->start;
        lr->start = 0;
        if (lr->len == sizeof lr->buf - 1) {
            skipping = 1; /* drop this line's bytes, keep looking for '\n' */
            lr->len = 0;
        }
        ssize_t r = read_retry(lr->fd, lr->buf + lr->len, sizeof lr->buf - 1 - lr->len);
        if (r < 0) {
            lr->failed = 1;
            return NULL;
        }
        if (r == 0) {
            if (lr->len == 0 || skipping)
                return NULL;
            lr->buf[lr->len] = '\0'; /* last line without a newline */
            lr->start = lr->len = 0;
            return lr->buf;
        }
        lr->len += (size_t)r;
    }
}

/* ---------------------------------------------------------------- numbers */

/* Parses decimal digits at *s (at least one) into *out, advancing *s.
 * -1 on no digits or overflow. */
static int parse_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return -1;
        v = v * 10u + d;
    }
    *s = p;
    *out = v;
    return 0;
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    return p;
}

/* A file holding one number (or "max" when max_ok): 0 on success with *out
 * set (UINT64_MAX for "max"), -1 when unreadable or not exactly that. */
static int read_u64_file(const char *path, int max_ok, uint64_t *out)
{
    char buf[VALUE_CAP];
    if (read_small_file(path, buf, sizeof buf) < 0)
        return -1;
    const char *p = buf;
    uint64_t v;
    if (max_ok && strncmp(p, "max", 3) == 0) {
        p += 3;
        v = UINT64_MAX;
    } else if (parse_u64(&p, &v) < 0) {
        return -1;
    }
    if (*skip_blanks(p) != '\0')
        return -1;
    *out = v;
    return 0;
}

/* -------------------------------------------------------------------- RAM */

static uint64_t read_ram(void)
{
    uint64_t kb = 0;
    int found = 0;
    char path[PATH_MAX];
    line_reader_t lr;
    if (roots_valid && path_join(path, sizeof path, proc_root, "/meminfo") == 0 &&
        line_reader_open(&lr, path) == 0) {
        char *line;
        while (!found && (line = line_reader_next(&lr)) != NULL) {
            if (strncmp(line, "MemTotal:", 9) != 0)
                continue;
            const char *p = skip_blanks(line + 9);
            if (parse_u64(&p, &kb) == 0) {
                p = skip_blanks(p);
                if (strncmp(p, "kB", 2) == 0 && *skip_blanks(p + 2) == '\0' &&
                    kb <= UINT64_MAX / 1024u)
                    found = 1;
            }
            break; /* only the first MemTotal line counts */
        }
        line_reader_close(&lr);
    }
    if (found)
        return kb * 1024u;

    if (roots_valid && strcmp(proc_root, DEFAULT_PROC_ROOT) == 0) {
        long pages = sysconf(_SC_PHYS_PAGES);
        uint64_t ps = (uint64_t)mgov__page_size();
        if (pages > 0 && (uint64_t)pages <= UINT64_MAX / ps)
            return (uint64_t)pages * ps;
    }
    return 0;
}

/* -------------------------------------------------------------------- RSS */

static uint64_t read_rss(void)
{
    char path[PATH_MAX], buf[256];
    uint64_t size, resident, ps = (uint64_t)mgov__page_size();
    if (!roots_valid || path_join(path, sizeof path, proc_root, "/self/statm") < 0 ||
        read_small_file(path, buf, sizeof buf) < 0)
        return 0;
    const char *p = buf;
    if (parse_u64(&p, &size) < 0 || *p != ' ')
        return 0;
    p++;
    if (parse_u64(&p, &resident) < 0 || (*p != ' ' && *p != '\n' && *p != '\0'))
        return 0;
    if (resident > UINT64_MAX / ps)
        return 0;
    return resident * ps;
}

/* ----------------------------------------------------------------- cgroup */

/* One hierarchy: the process's path in it and where it is mounted. */
typedef struct hier {
    int have_path;
    int have_mount;
    int mount_matches;    /* the mount's root is a prefix of path */
    char path[PATH_MAX];  /* from /proc/self/cgroup */
    char mount[PATH_MAX]; /* mount point, already under the sys root */
    char root[PATH_MAX];  /* mount root (4th field of mountinfo) */
} hier_t;

typedef struct cg_scratch {
    hier_t v2, v1;
    char dir[PATH_MAX];
    char file[PATH_MAX];
    line_reader_t lr;
} cg_scratch_t;

/* Is `list` (comma-separated) holding the token `name`? */
static int has_token(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static void parse_self_cgroup(cg_scratch_t *cg)
{
    char path[PATH_MAX];
    if (path_join(path, sizeof path, proc_root, "/self/cgroup") < 0 ||
        line_reader_open(&cg->lr, path) < 0)
        return;
    char *line;
    while ((line = line_reader_next(&cg->lr)) != NULL) {
        /* id:controllers:path; the path itself may contain ':' */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c1 == line || c2[1] != '/')
            continue;
        *c1 = *c2 = '\0';
        const char *id = line, *ctrl = c1 + 1, *cpath = c2 + 1;
        hier_t *h = NULL;
        if (strcmp(id, "0") == 0 && *ctrl == '\0')
            h = &cg->v2;
        else if (has_token(ctrl, "memory"))
            h = &cg->v1;
        if (h && !h->have_path && copy_str(h->path, sizeof h->path, cpath) == 0)
            h->have_path = 1;
    }
    if (cg->lr.failed)
        cg->v1.have_path = cg->v2.have_path = 0;
    line_reader_close(&cg->lr);
}

/* Decodes mountinfo's octal escapes ("\040" is a space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* Is `root` a path prefix of `path` ("/" prefixes everything; "/a" prefixes
 * "/a" and "/a/b" but not "/ab")?  Returns the remainder or NULL. */
static const char *strip_root(const char *path, const char *root)
{
    if (strcmp(root, "/") == 0)
        return path;
    size_t n = strlen(root);
    if (strncmp(path, root, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return NULL;
    return path + n;
}

static void consider_mount(hier_t *h, const char *root, const char *point)
{
    int matches = h->have_path && strip_root(h->path, root) != NULL;
    if (h->have_mount && (h->mount_matches || !matches))
        return; /* keep the first mount, unless a later one fits the path */
    char mapped[PATH_MAX];
    if (strcmp(point, "/sys") == 0 || strncmp(point, "/sys/", 5) == 0) {
        if (path_join(mapped, sizeof mapped, sys_root, point + 4) < 0)
            return;
    } else if (copy_str(mapped, sizeof mapped, point) < 0) {
        return;
    }
    if (copy_str(h->root, sizeof h->root, root) < 0)
        return;
    memcpy(h->mount, mapped, strlen(mapped) + 1);
    h->have_mount = 1;
    h->mount_matches = matches;
}

static void parse_mountinfo(cg_scratch_t *cg)
{
    char path[PATH_MAX];
    if (path_join(path, sizeof path, proc_root, "/self/mountinfo") < 0 ||
        line_reader_open(&cg->lr, path) < 0)
        return;
    char *line;
    while ((line = line_reader_next(&cg->lr)) != NULL) {
        /* id parent maj:min root point options [optional...] - type source super */
        char *f[6], *save = NULL, *tok;
        int n = 0;
        for (tok = strtok_r(line, " ", &save); tok && n < 6; tok = strtok_r(NULL, " ", &save))
            f[n++] = tok;
        if (n < 6)
            continue;
        while (tok && strcmp(tok, "-") != 0)
            tok = strtok_r(NULL, " ", &save);
        char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
        char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
        char *super = source ? strtok_r(NULL, " ", &save) : NULL;
        if (!super)
            continue;
        unescape(f[3]);
        unescape(f[4]);
        if (strcmp(fstype, "cgroup2") == 0)
            consider_mount(&cg->v2, f[3], f[4]);
        else if (strcmp(fstype, "cgroup") == 0 && has_token(super, "memory"))
            consider_mount(&cg->v1, f[3], f[4]);
    }
    if (cg->lr.failed)
        cg->v1.have_mount = cg->v2.have_mount = 0;
    line_reader_close(&cg->lr);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Sets cg->dir to the hierarchy's cgroup directory; -1 if there is none. */
static int cgroup_dir(cg_scratch_t *cg, const hier_t *h)
{
    if (!h->have_path || !h->have_mount)
        return -1;
    const char *rel = strip_root(h->path, h->root);
    if (rel != NULL && path_join(cg->dir, sizeof cg->dir, h->mount, rel) == 0) {
        size_t n = strlen(cg->dir), m = strlen(h->mount);
        while (n > m && cg->dir[n - 1] == '/')
            cg->dir[--n] = '\0';
        if (is_dir(cg->dir))
            return 0;
    }
    return copy_str(cg->dir, sizeof cg->dir, h->mount);
}

/* v2: the smallest memory.max from the cgroup dir up to the mount point.
 * Returns 1 when at least one file was readable (*limit is 0 if all said
 * "max"), 0 when none was. */
static int read_v2_limit(cg_scratch_t *cg, uint64_t *limit)
{
    if (cgroup_dir(cg, &cg->v2) < 0)
        return 0;
    size_t floor_len = strlen(cg->v2.mount);
    uint64_t best = UINT64_MAX;
    int found = 0;
    for (;;) {
        uint64_t v;
        if (path_join(cg->file, sizeof cg->file, cg->dir, "/memory.max") == 0 &&
            read_u64_file(cg->file, 1, &v) == 0) {
            found = 1;
            if (v != 0 && v < best)
                best = v;
        }
        char *slash = strrchr(cg->dir, '/');
        if (strlen(cg->dir) <= floor_len || slash == NULL || (size_t)(slash - cg->dir) < floor_len)
            break;
        *slash = '\0';
    }
    *limit = best == UINT64_MAX ? 0 : best;
    return found;
}

/* v1: memory.limit_in_bytes in the cgroup dir.  Same return as v2. */
static int read_v1_limit(cg_scratch_t *cg, uint64_t ram, uint64_t *limit)
{
    uint64_t v;
    if (cgroup_dir(cg, &cg->v1) < 0 ||
        path_join(cg->file, sizeof cg->file, cg->dir, "/memory.limit_in_bytes") < 0 ||
        read_u64_file(cg->file, 0, &v) < 0)
        return 0;
    if (v >= V1_UNLIMITED_FLOOR || (ram != 0 && v >= ram))
        v = 0;
    *limit = v;
    return 1;
}

static void read_cgroup(uint64_t ram, uint64_t *limit, int *version)
{
    *limit = 0;
    *version = 0;
    if (!roots_valid)
        return;
    cg_scratch_t *cg = calloc(1, sizeof *cg);
    if (cg == NULL)
        return; /* counts as unreadable */
    parse_self_cgroup(cg);
    if (cg->v1.have_path || cg->v2.have_path)
        parse_mountinfo(cg);
    if (read_v2_limit(cg, limit))
        *version = 2;
    else if (read_v1_limit(cg, ram, limit))
        *version = 1;
    free(cg);
}

/* The process's cgroup v2 directory (malloc'd), or NULL. */
char *mgov__cgroup_v2_dir(void)
{
    if (!roots_valid)
        return NULL;
    cg_scratch_t *cg = calloc(1, sizeof *cg);
    if (cg == NULL)
        return NULL;
    char *dir = NULL;
    parse_self_cgroup(cg);
    if (cg->v2.have_path) {
        parse_mountinfo(cg);
        if (cgroup_dir(cg, &cg->v2) == 0)
            dir = strdup(cg->dir);
    }
    free(cg);
    return dir;
}

/* "key value" lines of memory.stat: the value of `key`, or -1. */
static int stat_value(const char *path, const char *key, uint64_t *out)
{
    line_reader_t lr;
    if (line_reader_open(&lr, path) < 0)
        return -1;
    size_t n = strlen(key);
    int rc = -1;
    char *line;
    while ((line = line_reader_next(&lr)) != NULL) {
        if (strncmp(line, key, n) != 0 || line[n] != ' ')
            continue;
        const char *p = line + n + 1;
        if (parse_u64(&p, out) == 0 && *skip_blanks(p) == '\0')
            rc = 0;
        break;
    }
    line_reader_close(&lr);
    return rc;
}

/* Is this process alone in the cgroup (cgroup.procs lists only its pid)? */
static int cgroup_owned(const char *dir)
{
    char path[PATH_MAX];
    line_reader_t lr;
    if (path_join(path, sizeof path, dir, "/cgroup.procs") < 0 ||
        line_reader_open(&lr, path) < 0)
        return 0;
    uint64_t me = (uint64_t)getpid();
    int mine = 0, others = 0;
    char *line;
    while ((line = line_reader_next(&lr)) != NULL) {
        const char *p = line;
        uint64_t pid;
        if (parse_u64(&p, &pid) < 0)
            continue;
        if (pid == me)
            mine = 1;
        else
            others = 1;
    }
    int failed = lr.failed;
    line_reader_close(&lr);
    return !failed && mine && !others;
}

int mgov__cgroup_mem_read(const char *dir, mgov__cgroup_mem_t *out)
{
    memset(out, 0, sizeof *out);
    char path[PATH_MAX];
    if (!dir || !cgroup_owned(dir))
        return -1;
    out->owned = 1;
    if (path_join(path, sizeof path, dir, "/memory.current") == 0)
        read_u64_file(path, 0, &out->current);
    if (path_join(path, sizeof path, dir, "/memory.stat") == 0)
        stat_value(path, "anon", &out->anon);
    return 0;
}

const char *mgov__proc_root(void)
{
    return roots_valid ? proc_root : NULL;
}

/* ----------------------------------------------------------------- public */

static void fill_limits(mgov_sysinfo_t *info)
{
    info->page_size = (uint64_t)mgov__page_size();
    info->ram = read_ram();
    read_cgroup(info->ram, &info->cgroup_limit, &info->cgroup_version);
    uint64_t lim = info->ram;
    if (info->cgroup_limit != 0 && (lim == 0 || info->cgroup_limit < lim))
        lim = info->cgroup_limit;
    info->process_limit = lim;
}

int mgov_sysinfo_read(mgov_sysinfo_t *out)
{
    if (out == NULL)
        return MGOV_EINVAL;
    mgov_sysinfo_t info = {0};
    fill_limits(&info);
    info.rss = read_rss();
    *out = info;
    return MGOV_OK;
}

uint64_t mgov_rss_now(void)
{
    return read_rss();
}

int mgov_default_budget(uint64_t *out)
{
    if (out == NULL)
        return MGOV_EINVAL;
    mgov_sysinfo_t info = {0};
    fill_limits(&info);

    const char *env = getenv("MEMGOV_BUDGET");
    if (env != NULL) {
        uint64_t base = info.process_limit ? info.process_limit : MGOV_FALLBACK_BUDGET;
        uint64_t v;
        if (mgov_size_parse(env, base, &v) != MGOV_OK || v == 0)
            return MGOV_EINVAL;
        *out = v;
        return MGOV_OK;
    }
    if (info.process_limit == 0) {
        *out = MGOV_FALLBACK_BUDGET;
        return MGOV_OK;
    }
    /* MGOV_DEFAULT_BUDGET_FRACTION (3/4) in exact integer arithmetic. */
    uint64_t pl = info.process_limit;
    uint64_t budget = pl / 4u * 3u + pl % 4u * 3u / 4u;
    *out = budget ? budget : pl; /* a 1-byte limit: never return 0 */
    return MGOV_OK;
}
