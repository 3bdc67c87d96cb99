/* test_stats.c - snapshots: mgov_stats after a scripted sequence (used,
 * peaks, per-region counters, consumers, waiters), live grants through
 * split and merge, NULL arguments; mgov_stats_json (valid JSON, checked by a
 * small parser here and by python3 when available; keys and values;
 * snprintf semantics) and mgov_stats_prometheus (every line well-formed,
 * TYPE before samples, per-region labels, values; snprintf semantics).
 *
 * RSS comes from a fake /proc/self/statm so the text forms are
 * deterministic between calls.
 */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "faketree.h"
#include "gov_helpers.h"
#include "memgov/governor.h"
#include "sys/sys.h"

#define MiB GH_MiB
#define GRAPH MGOV_REGION_GRAPH_STORAGE
#define INDEX MGOV_REGION_INDEX_BUFFERS
#define EXEC MGOV_REGION_EXECUTION_BUFFERS
#define SPILL MGOV_REGION_SPILL_STAGING
#define RSS_PAGES 250

static faketree_t tree;
static uint64_t page;

static int group_setup(void **state)
{
    (void)state;
    if (faketree_create(&tree, "memgov-stats-") < 0)
        return -1;
    if (faketree_writef(&tree, "proc/self/statm", "1000 %d 0 0 0 0 0\n", RSS_PAGES) < 0)
        return -1;
    long ps = sysconf(_SC_PAGESIZE);
    page = ps > 0 ? (uint64_t)ps : 4096;
    char proc[PATH_MAX + 8];
    snprintf(proc, sizeof proc, "%s/proc", tree.root);
    mgov__sys_set_roots(proc, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mgov__sys_set_roots(NULL, NULL);
    return faketree_destroy(&tree);
}

static mgov_stats_t stats(const mgov_t *gov)
{
    mgov_stats_t s;
    memset(&s, 0xa5, sizeof s);
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    return s;
}

static const mgov_consumer_ops_t no_ops = { 0 };

/* The scripted state used by several tests.  Returns the grants to release. */
typedef struct {
    mgov_t *gov;
    mgov_grant_t g1, g2, g4, z;
    mgov_consumer_t *c1, *c2;
} script_t;

static void script_run(script_t *sc)
{
    sc->gov = gh_gov_new(100 * MiB, NULL);
    mgov_t *gov = sc->gov;
    sc->g1 = gh_take(gov, GRAPH, 10 * MiB, 0);
    sc->g2 = gh_take(gov, EXEC, 20 * MiB, 0);
    mgov_grant_t g3 = gh_take(gov, EXEC, 5 * MiB, 0);
    mgov_grant_release(&g3);
    sc->g4 = gh_take(gov, INDEX, 1 * MiB, 0);
    sc->z = gh_take(gov, SPILL, 0, 0);
    mgov_grant_t no = MGOV_GRANT_INIT;
    assert_int_equal(mgov_try_reserve(gov, EXEC, 200 * MiB, 0, &no), MGOV_ELIMIT);
    assert_int_equal(mgov_try_reserve(gov, EXEC, 80 * MiB, MGOV_NO_RECLAIM, &no), MGOV_EBUDGET);
    assert_int_equal(mgov_reserve(gov, EXEC, 70 * MiB, MGOV_NO_RECLAIM, 20 * 1000 * 1000, &no),
                     MGOV_ETIMEDOUT);
    mgov_consumer_config_t cc = { .name = "one", .region = EXEC, .ops = &no_ops };
    assert_int_equal(mgov_consumer_register(gov, &cc, &sc->c1), MGOV_OK);
    cc.name = "two";
    assert_int_equal(mgov_consumer_register(gov, &cc, &sc->c2), MGOV_OK);
}

static void script_end(script_t *sc)
{
    mgov_grant_release(&sc->g1);
    mgov_grant_release(&sc->g2);
    mgov_grant_release(&sc->g4);
    mgov_grant_release(&sc->z);
    assert_int_equal(mgov_consumer_unregister(sc->c1), MGOV_OK);
    assert_int_equal(mgov_consumer_unregister(sc->c2), MGOV_OK);
    assert_int_equal(mgov_destroy(sc->gov), MGOV_OK);
}

/* ------------------------------------------------------------ struct */

static void test_stats_after_script(void **state)
{
    (void)state;
    script_t sc;
    script_run(&sc);
    mgov_stats_t s = stats(sc.gov);
    assert_int_equal(s.budget, 100 * MiB);
    assert_int_equal(s.used, 31 * MiB);
    assert_int_equal(s.peak, 35 * MiB);
    assert_true(s.moderate == 0.70 && s.high == 0.85 && s.critical == 0.95);
    assert_true(s.hysteresis == 0.02);
    assert_int_equal(s.pressure, MGOV_PRESSURE_NORMAL);
    assert_int_equal(s.pressure_transitions, 0);
    assert_int_equal(s.reclaim_passes, 0);
    assert_int_equal(s.evictions, 0);
    assert_int_equal(s.rss, RSS_PAGES * page);
    assert_int_equal(s.rss_peak, RSS_PAGES * page);
    assert_int_equal(s.consumers, 2);
    assert_int_equal(s.waiters, 0);
    assert_int_equal(s.n_regions, 4);

    const mgov_region_stats_t *g = &s.regions[GRAPH], *i = &s.regions[INDEX],
                              *e = &s.regions[EXEC], *p = &s.regions[SPILL];
    assert_string_equal(g->name, "graph_storage");
    assert_string_equal(i->name, "index_buffers");
    assert_string_equal(e->name, "execution_buffers");
    assert_string_equal(p->name, "spill_staging");
    assert_int_equal(g->used, 10 * MiB);
    assert_int_equal(g->peak, 10 * MiB);
    assert_int_equal(g->live_grants, 1);
    assert_int_equal(g->refusals, 0);
    assert_int_equal(i->used, 1 * MiB);
    assert_int_equal(i->live_grants, 1);
    assert_int_equal(e->used, 20 * MiB);
    assert_int_equal(e->peak, 25 * MiB);
    assert_int_equal(e->live_grants, 1);
    assert_int_equal(e->refusals, 3); /* ELIMIT, EBUDGET, ETIMEDOUT */
    assert_int_equal(e->waits, 1);
    assert_int_equal(e->timeouts, 1);
    assert_true(e->wait_ns >= 20 * 1000 * 1000);
    assert_true(e->wait_ns < 5000ull * 1000 * 1000);
    assert_int_equal(e->reserved, 0);
    assert_int_equal(e->limit, 0);
    assert_int_equal(p->used, 0);
    assert_int_equal(p->peak, 0);
    assert_int_equal(p->live_grants, 1);
    uint64_t sum = 0;
    for (unsigned k = 0; k < s.n_regions; k++)
        sum += s.regions[k].used;
    assert_int_equal(sum, s.used);
    /* unused slots are zeroed */
    assert_int_equal(s.regions[4].used, 0);
    assert_int_equal(s.regions[4].name[0], '\0');
    script_end(&sc);
}

typedef struct {
    mgov_t *gov;
    int rc;
    mgov_grant_t g;
} waiter_t;

static void *waiter_main(void *arg)
{
    waiter_t *w = arg;
    w->rc = mgov_reserve(w->gov, EXEC, 70 * MiB, 0, 5000000000ll, &w->g);
    return NULL;
}

static void test_stats_waiters(void **state)
{
    (void)state;
    script_t sc;
    script_run(&sc);
    waiter_t w = { .gov = sc.gov };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
    /* waiting is announced (waits++) just after the request is queued */
    uint64_t seen = 0;
    mgov_stats_t during;
    for (int k = 0; k < 5000; k++) {
        during = stats(sc.gov);
        seen = during.waiters;
        if (seen == 1 && during.regions[EXEC].waits == 2)
            break;
        gh_sleep_ms(1);
    }
    mgov_grant_release(&sc.g2); /* 11 + 70 <= 95: the waiter gets in */
    pthread_join(t, NULL);
    assert_int_equal(seen, 1);
    assert_int_equal(during.waiters, 1);
    assert_int_equal(during.regions[EXEC].waits, 2);
    assert_int_equal(w.rc, MGOV_OK);
    mgov_stats_t s = stats(sc.gov);
    assert_int_equal(s.waiters, 0);
    assert_int_equal(s.used, 81 * MiB);
    assert_int_equal(s.peak, 81 * MiB);
    assert_int_equal(s.regions[EXEC].waits, 2);
    assert_int_equal(s.regions[EXEC].timeouts, 1);
    assert_int_equal(s.regions[EXEC].refusals, 3);
    assert_int_equal(s.regions[EXEC].peak, 70 * MiB);
    assert_int_equal(s.regions[EXEC].live_grants, 1);
    assert_int_equal(s.pressure, MGOV_PRESSURE_MODERATE);
    assert_int_equal(s.pressure_transitions, 1);
    mgov_grant_release(&w.g);
    script_end(&sc);
}

static void test_live_grants_split_merge(void **state)
{
    (void)state;
    mgov_t *gov = gh_gov_new(100 * MiB, NULL);
    mgov_grant_t g = gh_take(gov, EXEC, 10 * MiB, 0);
    mgov_grant_t h = MGOV_GRANT_INIT, z = MGOV_GRANT_INIT;
    assert_int_equal(stats(gov).regions[EXEC].live_grants, 1);

    assert_int_equal(mgov_grant_split(&g, 4 * MiB, &h), MGOV_OK);
    assert_int_equal(g.bytes, 6 * MiB);
    assert_int_equal(h.bytes, 4 * MiB);
    assert_int_equal(h.region, EXEC);
    assert_ptr_equal(h.gov, gov);
    mgov_stats_t s = stats(gov);
    assert_int_equal(s.regions[EXEC].live_grants, 2);
    assert_int_equal(s.regions[EXEC].used, 10 * MiB);
    assert_int_equal(s.used, 10 * MiB);

    assert_int_equal(mgov_grant_split(&g, 0, &z), MGOV_OK); /* an empty live grant */
    assert_int_equal(stats(gov).regions[EXEC].live_grants, 3);
    mgov_grant_release(&z);
    assert_int_equal(stats(gov).regions[EXEC].live_grants, 2);

    /* split errors change nothing */
    mgov_grant_t x = MGOV_GRANT_INIT;
    assert_int_equal(mgov_grant_split(&g, 6 * MiB + 1, &x), MGOV_EINVAL);
    assert_int_equal(mgov_grant_split(&g, 1, &g), MGOV_EINVAL);
    assert_int_equal(mgov_grant_split(&g, 1, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_grant_split(NULL, 1, &x), MGOV_EINVAL);
    assert_int_equal(mgov_grant_split(&x, 0, &z), MGOV_EINVAL); /* empty */
    assert_int_equal(stats(gov).regions[EXEC].live_grants, 2);
    assert_int_equal(g.bytes, 6 * MiB);

    /* merge */
    assert_int_equal(mgov_grant_merge(&g, &h), MGOV_OK);
    assert_int_equal(g.bytes, 10 * MiB);
    assert_null(h.gov);
    assert_int_equal(h.bytes, 0);
    s = stats(gov);
    assert_int_equal(s.regions[EXEC].live_grants, 1);
    assert_int_equal(s.regions[EXEC].used, 10 * MiB);

    /* merge errors */
    mgov_grant_t other = gh_take(gov, GRAPH, 1 * MiB, 0);
    assert_int_equal(mgov_grant_merge(&g, &other), MGOV_EINVAL); /* regions differ */
    assert_int_equal(mgov_grant_merge(&g, &g), MGOV_EINVAL);
    assert_int_equal(mgov_grant_merge(&g, &h), MGOV_EINVAL); /* released */
    assert_int_equal(mgov_grant_merge(&h, &g), MGOV_EINVAL);
    assert_int_equal(mgov_grant_merge(NULL, &g), MGOV_EINVAL);
    assert_int_equal(mgov_grant_merge(&g, NULL), MGOV_EINVAL);
    mgov_t *gov2 = gh_gov_new(100 * MiB, NULL);
    mgov_grant_t foreign = gh_take(gov2, EXEC, 1 * MiB, 0);
    assert_int_equal(mgov_grant_merge(&g, &foreign), MGOV_EINVAL); /* governors differ */
    assert_int_equal(stats(gov2).regions[EXEC].live_grants, 1);
    mgov_grant_release(&foreign);
    assert_int_equal(mgov_destroy(gov2), MGOV_OK);
    assert_int_equal(stats(gov).regions[EXEC].live_grants, 1);
    assert_int_equal(stats(gov).regions[GRAPH].live_grants, 1);

    /* split everything off */
    assert_int_equal(mgov_grant_split(&g, 10 * MiB, &h), MGOV_OK);
    assert_int_equal(g.bytes, 0);
    assert_int_equal(stats(gov).regions[EXEC].live_grants, 2);
    mgov_grant_release(&g);
    mgov_grant_release(&h);
    mgov_grant_release(&other);
    s = stats(gov);
    assert_int_equal(s.used, 0);
    for (unsigned k = 0; k < s.n_regions; k++) {
        assert_int_equal(s.regions[k].live_grants, 0);
        assert_int_equal(s.regions[k].used, 0);
    }
    assert_int_equal(s.peak, 11 * MiB);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

static void test_stats_null_and_custom(void **state)
{
    (void)state;
    mgov_stats_t s;
    assert_int_equal(mgov_stats(NULL, &s), MGOV_EINVAL);
    const mgov_region_config_t regions[3] = {
        { "a.b", 2 * MiB, 8 * MiB }, { "c-d", 0, 5 * MiB }, { "spill_staging", 1 * MiB, 0 }
    };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 50 * MiB;
    cfg.moderate = 0.5;
    cfg.high = 0.6;
    cfg.critical = 0.9;
    cfg.hysteresis = 0.05;
    cfg.regions = regions;
    cfg.n_regions = 3;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    assert_int_equal(mgov_stats(gov, NULL), MGOV_EINVAL);
    s = stats(gov);
    assert_int_equal(s.n_regions, 3);
    assert_string_equal(s.regions[0].name, "a.b");
    assert_int_equal(s.regions[0].reserved, 2 * MiB);
    assert_int_equal(s.regions[0].limit, 8 * MiB);
    assert_int_equal(s.regions[1].limit, 5 * MiB);
    assert_int_equal(s.regions[2].reserved, 1 * MiB);
    assert_true(s.moderate == 0.5 && s.high == 0.6 && s.critical == 0.9);
    assert_true(s.hysteresis == 0.05);
    assert_int_equal(s.used, 0);
    assert_int_equal(s.consumers, 0);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* -------------------------------------------------------- JSON checker */

typedef struct {
    const char *p;
    int depth;
} js_t;

static void js_ws(js_t *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static bool js_value(js_t *j);

static bool js_string(js_t *j)
{
    if (*j->p != '"')
        return false;
    j->p++;
    while (*j->p && *j->p != '"') {
        if ((unsigned char)*j->p < 0x20)
            return false;
        if (*j->p == '\\') {
            j->p++;
            if (*j->p == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (!isxdigit((unsigned char)j->p[k]))
                        return false;
                j->p += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", *j->p) || !*j->p)
                return false;
        }
        j->p++;
    }
    if (*j->p != '"')
        return false;
    j->p++;
    return true;
}

static bool js_number(js_t *j)
{
    const char *s = j->p;
    if (*j->p == '-')
        j->p++;
    if (*j->p == '0')
        j->p++;
    else if (*j->p >= '1' && *j->p <= '9')
        while (isdigit((unsigned char)*j->p))
            j->p++;
    else
        return false;
    if (*j->p == '.') {
        j->p++;
        if (!isdigit((unsigned char)*j->p))
            return false;
        while (isdigit((unsigned char)*j->p))
            j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!isdigit((unsigned char)*j->p))
            return false;
        while (isdigit((unsigned char)*j->p))
            j->p++;
    }
    return j->p > s;
}

static bool js_container(js_t *j, char open, char close, bool object)
{
    if (*j->p != open || ++j->depth > 64)
        return false;
    j->p++;
    js_ws(j);
    if (*j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        js_ws(j);
        if (object) {
            if (!js_string(j))
                return false;
            js_ws(j);
            if (*j->p++ != ':')
                return false;
        }
        if (!js_value(j))
            return false;
        js_ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p != close)
            return false;
        j->p++;
        j->depth--;
        return true;
    }
}

static bool js_value(js_t *j)
{
    js_ws(j);
    switch (*j->p) {
    case '{':
        return js_container(j, '{', '}', true);
    case '[':
        return js_container(j, '[', ']', false);
    case '"':
        return js_string(j);
    case 't':
        return strncmp(j->p, "true", 4) == 0 && (j->p += 4, true);
    case 'f':
        return strncmp(j->p, "false", 5) == 0 && (j->p += 5, true);
    case 'n':
        return strncmp(j->p, "null", 4) == 0 && (j->p += 4, true);
    default:
        return js_number(j);
    }
}

static bool json_valid(const char *text)
{
    js_t j = { text, 0 };
    if (*j.p != '{' || !js_value(&j))
        return false;
    js_ws(&j);
    return *j.p == '\0';
}

static void test_json_checker_itself(void **state)
{
    (void)state;
    assert_true(json_valid("{}"));
    assert_true(json_valid("{\"a\":[1,2.5,-3e2,{\"b\":\"x\\\"y\"}],\"c\":null,\"d\":true}"));
    assert_false(json_valid("{\"a\":1,}"));
    assert_false(json_valid("{\"a\":1"));
    assert_false(json_valid("{\"a\":01}"));
    assert_false(json_valid("{\"a\":\"x}"));
    assert_false(json_valid("{\"a\":1}}"));
    assert_false(json_valid("{a:1}"));
    assert_false(json_valid("{\"a\":[1 2]}"));
    assert_false(json_valid("{\"a\":nan}"));
}

/* python3's parser too, when there is one (exit status 0 = parsed). */
static int python_json_check(const char *text)
{
    if (system("python3 -c 'pass' >/dev/null 2>&1") != 0)
        return -1; /* not available */
    FILE *p = popen("python3 -c 'import json,sys; d=json.load(sys.stdin); "
                    "sys.exit(0 if isinstance(d, dict) else 1)'",
                    "w");
    if (!p)
        return -1;
    fputs(text, p);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static char *json_of(const mgov_t *gov, size_t *len)
{
    size_t need = mgov_stats_json(gov, NULL, 0);
    assert_true(need > 0);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    assert_int_equal(mgov_stats_json(gov, buf, need + 1), need);
    assert_int_equal(strlen(buf), need);
    *len = need;
    return buf;
}

static void test_json(void **state)
{
    (void)state;
    script_t sc;
    script_run(&sc);
    size_t len;
    char *js = json_of(sc.gov, &len);
    if (!json_valid(js))
        fail_msg("invalid JSON: %s", js);
    int py = python_json_check(js);
    if (py != -1)
        assert_int_equal(py, 0);

    char expect[512];
    const char *keys[] = {
        "{\"budget\":104857600,\"used\":32505856,\"peak\":36700160,",
        "\"thresholds\":{\"moderate\":0.7,\"high\":0.85,\"critical\":0.95,"
        "\"hysteresis\":0.02}",
        "\"pressure\":\"normal\"", "\"pressure_transitions\":0", "\"reclaim\":{\"passes\":0,",
        "\"consumers\":2,", "\"waiters\":0,", "\"regions\":[{\"name\":\"graph_storage\"",
        "{\"name\":\"execution_buffers\",\"used\":20971520,\"peak\":26214400,\"reserved\":0,"
        "\"limit\":0,\"live_grants\":1,\"refusals\":3,\"waits\":1,\"wait_ns\":",
        "\"timeouts\":1,", "{\"name\":\"spill_staging\",\"used\":0,\"peak\":0,",
        "\"spill_failures\":0", "\"reload_failures\":0", "\"evictions\":0",
        "\"spill\":{\"bytes\":0,\"peak\":0,\"quota\":0},",
    };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (!strstr(js, keys[k]))
            fail_msg("missing %s in %s", keys[k], js);
    snprintf(expect, sizeof expect, "\"rss\":%llu,\"rss_peak\":%llu,",
             (unsigned long long)(RSS_PAGES * page), (unsigned long long)(RSS_PAGES * page));
    assert_non_null(strstr(js, expect));
    assert_int_equal(js[len - 1], '}');
    assert_int_equal(js[len - 2], ']');
    free(js);
    script_end(&sc);
}

static void check_snprintf(size_t (*fn)(const mgov_t *, char *, size_t), const mgov_t *gov)
{
    size_t need = fn(gov, NULL, 0);
    assert_true(need > 10);
    char *full = malloc(need + 1);
    char *buf = malloc(need + 16);
    assert_non_null(full);
    assert_non_null(buf);
    assert_int_equal(fn(gov, full, need + 1), need);
    assert_int_equal(strlen(full), need);

    const size_t caps[] = { 1, 2, 7, 64, need / 2, need - 1, need };
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        size_t cap = caps[k];
        memset(buf, 'X', need + 16);
        assert_int_equal(fn(gov, buf, cap), need);
        assert_int_equal(buf[cap - 1], '\0');
        assert_int_equal(strlen(buf), cap - 1);
        assert_memory_equal(buf, full, cap - 1);
        assert_int_equal(buf[cap], 'X'); /* nothing written past cap */
    }
    /* a larger buffer than needed */
    memset(buf, 'X', need + 16);
    assert_int_equal(fn(gov, buf, need + 16), need);
    assert_string_equal(buf, full);
    /* cap 0 with a real buffer: untouched */
    memset(buf, 'X', 4);
    assert_int_equal(fn(gov, buf, 0), need);
    assert_int_equal(buf[0], 'X');
    free(full);
    free(buf);
}

static void test_json_snprintf(void **state)
{
    (void)state;
    script_t sc;
    script_run(&sc);
    check_snprintf(mgov_stats_json, sc.gov);
    char buf[16] = "keep";
    assert_int_equal(mgov_stats_json(NULL, buf, sizeof buf), 0);
    assert_int_equal(mgov_stats_json(NULL, NULL, 0), 0);
    script_end(&sc);
}

static void test_json_custom_regions_valid(void **state)
{
    (void)state;
    mgov_region_config_t regions[MGOV_MAX_REGIONS];
    char names[MGOV_MAX_REGIONS][MGOV_NAME_MAX + 1];
    for (int k = 0; k < MGOV_MAX_REGIONS; k++) {
        memset(names[k], 'a' + k, MGOV_NAME_MAX);
        names[k][MGOV_NAME_MAX] = '\0';
        names[k][0] = k % 2 ? '.' : '-';
        regions[k] = (mgov_region_config_t){ names[k], 1 * MiB, MGOV_BUDGET_MAX / 32 };
    }
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = MGOV_BUDGET_MAX;
    cfg.regions = regions;
    cfg.n_regions = MGOV_MAX_REGIONS;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    mgov_grant_t g = gh_take(gov, 15, MGOV_BUDGET_MAX / 64, 0);
    size_t len;
    char *js = json_of(gov, &len);
    if (!json_valid(js))
        fail_msg("invalid JSON: %s", js);
    assert_non_null(strstr(js, names[15]));
    free(js);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

/* ---------------------------------------------------------- Prometheus */

static bool metric_name_ok(const char *s, size_t n)
{
    if (n <= 7 || strncmp(s, "memgov_", 7) != 0)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!(islower((unsigned char)s[k]) || isdigit((unsigned char)s[k]) || s[k] == '_'))
            return false;
    return true;
}

static bool number_ok(const char *s)
{
    if (!isdigit((unsigned char)*s))
        return false;
    while (isdigit((unsigned char)*s))
        s++;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

/* Checks every line; returns the number of samples and of labelled ones. */
static void prom_check(const char *text, unsigned *samples, unsigned *labelled)
{
    char type_of[128] = "";
    bool help_seen = false;
    *samples = *labelled = 0;
    size_t len = strlen(text);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        size_t n = (size_t)(nl - p);
        char line[512];
        assert_true(n < sizeof line);
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            const char *name = line + 7, *sp = strchr(name, ' ');
            if (!sp || !metric_name_ok(name, (size_t)(sp - name)) || !sp[1])
                fail_msg("bad HELP line: %s", line);
            help_seen = true;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            const char *name = line + 7, *sp = strchr(name, ' ');
            if (!sp || !metric_name_ok(name, (size_t)(sp - name)) ||
                (strcmp(sp + 1, "gauge") != 0 && strcmp(sp + 1, "counter") != 0))
                fail_msg("bad TYPE line: %s", line);
            if (!help_seen)
                fail_msg("TYPE without HELP: %s", line);
            snprintf(type_of, sizeof type_of, "%.*s", (int)(sp - name), name);
            if (strcmp(sp + 1, "counter") == 0 && strstr(type_of, "_total") == NULL)
                fail_msg("counter not named _total: %s", line);
            help_seen = false;
            continue;
        }
        if (line[0] == '#')
            fail_msg("unknown comment: %s", line);
        /* a sample: name[{region="..."}] value */
        size_t nl_len = strcspn(line, "{ ");
        if (!metric_name_ok(line, nl_len))
            fail_msg("bad sample name: %s", line);
        if (strlen(type_of) != nl_len || strncmp(line, type_of, nl_len) != 0)
            fail_msg("sample without its TYPE: %s (last TYPE %s)", line, type_of);
        const char *q = line + nl_len;
        if (*q == '{') {
            if (strncmp(q, "{region=\"", 9) != 0)
                fail_msg("bad label: %s", line);
            q += 9;
            size_t vn = strspn(q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_.-");
            if (vn == 0 || strncmp(q + vn, "\"}", 2) != 0)
                fail_msg("bad label value: %s", line);
            q += vn + 2;
            (*labelled)++;
        }
        if (*q != ' ' || !number_ok(q + 1))
            fail_msg("bad value: %s", line);
        (*samples)++;
    }
}

static char *prom_of(const mgov_t *gov)
{
    size_t need = mgov_stats_prometheus(gov, NULL, 0);
    assert_true(need > 0);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    assert_int_equal(mgov_stats_prometheus(gov, buf, need + 1), need);
    assert_int_equal(strlen(buf), need);
    return buf;
}

static void test_prometheus(void **state)
{
    (void)state;
    script_t sc;
    script_run(&sc);
    char *text = prom_of(sc.gov);
    unsigned samples, labelled;
    prom_check(text, &samples, &labelled);
    /* nine per-region metrics and six of the regions' heaps, four regions */
    assert_int_equal(labelled, 15 * 4);
    assert_int_equal(samples, 29 + 15 * 4); /* twenty-nine global metrics */

    const char *lines[] = {
        "# TYPE memgov_used_bytes gauge\n",
        "\nmemgov_used_bytes 32505856\n",
        "\nmemgov_budget_bytes 104857600\n",
        "\nmemgov_peak_bytes 36700160\n",
        "\nmemgov_pressure_level 0\n",
        "\nmemgov_consumers 2\n",
        "\nmemgov_waiters 0\n",
        "# TYPE memgov_reclaim_passes_total counter\n",
        "# TYPE memgov_region_used_bytes gauge\n",
        "\nmemgov_region_used_bytes{region=\"execution_buffers\"} 20971520\n",
        "\nmemgov_region_used_bytes{region=\"graph_storage\"} 10485760\n",
        "\nmemgov_region_used_bytes{region=\"spill_staging\"} 0\n",
        "\nmemgov_region_peak_bytes{region=\"execution_buffers\"} 26214400\n",
        "\nmemgov_region_live_grants{region=\"spill_staging\"} 1\n",
        "\nmemgov_region_refusals_total{region=\"execution_buffers\"} 3\n",
        "\nmemgov_region_waits_total{region=\"execution_buffers\"} 1\n",
        "\nmemgov_region_timeouts_total{region=\"execution_buffers\"} 1\n",
        "\nmemgov_region_wait_seconds_total{region=\"execution_buffers\"} 0.",
        "\nmemgov_region_wait_seconds_total{region=\"index_buffers\"} 0.000000000\n",
    };
    for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++)
        if (!strstr(text, lines[k]))
            fail_msg("missing \"%s\"", lines[k]);
    char rss[128];
    snprintf(rss, sizeof rss, "\nmemgov_rss_bytes %llu\n",
             (unsigned long long)(RSS_PAGES * page));
    assert_non_null(strstr(text, rss));
    free(text);
    script_end(&sc);
}

static void test_prometheus_snprintf(void **state)
{
    (void)state;
    script_t sc;
    script_run(&sc);
    check_snprintf(mgov_stats_prometheus, sc.gov);
    assert_int_equal(mgov_stats_prometheus(NULL, NULL, 0), 0);
    char buf[8];
    assert_int_equal(mgov_stats_prometheus(NULL, buf, sizeof buf), 0);
    script_end(&sc);
}

static void test_prometheus_custom_regions(void **state)
{
    (void)state;
    const mgov_region_config_t regions[2] = { { "Hot.Tier-1", 0, 0 }, { "x", 0, 0 } };
    mgov_config_t cfg = MGOV_CONFIG_INIT;
    cfg.budget = 10 * MiB;
    cfg.regions = regions;
    cfg.n_regions = 2;
    mgov_t *gov = NULL;
    assert_int_equal(mgov_create(&cfg, &gov), MGOV_OK);
    mgov_grant_t g = gh_take(gov, 0, 3 * MiB, 0);
    char *text = prom_of(gov);
    unsigned samples, labelled;
    prom_check(text, &samples, &labelled);
    assert_int_equal(labelled, 15 * 2);
    assert_non_null(strstr(text, "\nmemgov_region_used_bytes{region=\"Hot.Tier-1\"} 3145728\n"));
    free(text);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_after_script),
        cmocka_unit_test(test_stats_waiters),
        cmocka_unit_test(test_live_grants_split_merge),
        cmocka_unit_test(test_stats_null_and_custom),
        cmocka_unit_test(test_json_checker_itself),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_snprintf),
        cmocka_unit_test(test_json_custom_regions_valid),
        cmocka_unit_test(test_prometheus),
        cmocka_unit_test(test_prometheus_snprintf),
        cmocka_unit_test(test_prometheus_custom_regions),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
