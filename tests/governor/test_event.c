/* test_event.c - event type names and the one-line formatter: every type
 * named, unknown types, each type's text (exact, built from the same size
 * formatter), and snprintf semantics (full length returned, truncation,
 * cap 0 with a NULL buffer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov/governor.h"
#include "memgov/size.h"

static void test_type_names(void **state)
{
    (void)state;
    static const struct {
        mgov_event_type_t t;
        const char *name;
    } names[] = {
        { MGOV_EV_PRESSURE, "pressure" },
        { MGOV_EV_RECLAIM, "reclaim" },
        { MGOV_EV_EVICTED, "evicted" },
        { MGOV_EV_SPILLED, "spilled" },
        { MGOV_EV_SPILL_FAILED, "spill_failed" },
        { MGOV_EV_RELOADED, "reloaded" },
        { MGOV_EV_RELOAD_FAILED, "reload_failed" },
        { MGOV_EV_REFUSED, "refused" },
        { MGOV_EV_WAIT, "wait" },
        { MGOV_EV_WAITED, "waited" },
        { MGOV_EV_TIMEOUT, "timeout" },
        { MGOV_EV_LEAKED_GRANTS, "leaked_grants" },
        { MGOV_EV_LEAKED_CONSUMER, "leaked_consumer" },
        { MGOV_EV_BUDGET, "budget" },
        { MGOV_EV_OVERRIDE, "override" },
        { MGOV_EV_LEAKED_BLOCKS, "leaked_blocks" },
        { MGOV_EV_KERNEL_PRESSURE, "kernel_pressure" },
        { MGOV_EV_PRESSURE_SOURCE, "pressure_source" },
        { MGOV_EV_REGION, "region" },
        { MGOV_EV_REBALANCE, "rebalance" },
        { MGOV_EV_STATS_FILE, "stats_file" },
        { MGOV_EV_QUARANTINED, "quarantined" },
    };
    assert_int_equal(sizeof names / sizeof names[0], MGOV_EV_QUARANTINED + 1);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(mgov_event_type_name(names[i].t), names[i].name);
}

static void test_type_name_invalid(void **state)
{
    (void)state;
    assert_string_equal(mgov_event_type_name((mgov_event_type_t)(MGOV_EV_QUARANTINED + 1)),
                        "unknown");
    assert_string_equal(mgov_event_type_name((mgov_event_type_t)1000), "unknown");
    assert_string_equal(mgov_event_type_name((mgov_event_type_t)-1), "unknown");
}

static mgov_event_t base_event(mgov_event_type_t type)
{
    mgov_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.seq = 7;
    ev.region = 2;
    ev.region_name = "execution_buffers";
    ev.name = "sorter";
    ev.level = MGOV_PRESSURE_HIGH;
    ev.old_level = MGOV_PRESSURE_MODERATE;
    ev.bytes = 10 * GH_MiB;
    ev.freed = 4 * GH_MiB;
    ev.used = 70 * GH_MiB;
    ev.count = 3;
    ev.duration_ns = 2500000; /* 2.50 ms */
    ev.status = MGOV_EIO;
    return ev;
}

static const char *fmt(const mgov_event_t *ev, char *buf, size_t cap)
{
    size_t n = mgov_event_format(ev, buf, cap);
    assert_true(n < cap);
    assert_int_equal(strlen(buf), n);
    return buf;
}

static const char *size(uint64_t b, char *buf)
{
    mgov_size_format(b, buf, 32);
    return buf;
}

static void test_format_every_type(void **state)
{
    (void)state;
    char buf[512], expect[512], b[32], f[32], u[32];
    size(10 * GH_MiB, b);
    size(4 * GH_MiB, f);
    size(70 * GH_MiB, u);

    mgov_event_t ev = base_event(MGOV_EV_PRESSURE);
    snprintf(expect, sizeof expect, "pressure moderate -> high (used %s)", u);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_RECLAIM);
    snprintf(expect, sizeof expect, "reclaim at high: asked %s, freed %s in 2.50 ms (used %s)",
             b, f, u);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_EVICTED);
    snprintf(expect, sizeof expect, "evicted sorter (execution_buffers): asked %s, freed %s", b,
             f);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_SPILLED);
    snprintf(expect, sizeof expect, "spilled sorter (execution_buffers): asked %s, freed %s", b,
             f);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_SPILL_FAILED);
    assert_string_equal(fmt(&ev, buf, sizeof buf),
                        "spill failed for sorter (execution_buffers): input/output error");

    ev = base_event(MGOV_EV_RELOADED);
    snprintf(expect, sizeof expect, "reloaded sorter (execution_buffers): %s", b);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_RELOAD_FAILED);
    ev.status = MGOV_ENOSPC;
    assert_string_equal(fmt(&ev, buf, sizeof buf),
                        "reload failed for sorter (execution_buffers): "
                        "no space left (disk full or quota reached)");

    ev = base_event(MGOV_EV_REFUSED);
    ev.status = MGOV_EBUDGET;
    snprintf(expect, sizeof expect,
             "refused %s in execution_buffers: does not fit in the memory budget now", b);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_WAIT);
    snprintf(expect, sizeof expect, "waiting for %s in execution_buffers", b);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_WAITED);
    snprintf(expect, sizeof expect, "granted %s in execution_buffers after waiting 2.50 ms", b);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_TIMEOUT);
    snprintf(expect, sizeof expect,
             "timed out waiting for %s in execution_buffers after 2.50 ms", b);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_LEAKED_GRANTS);
    snprintf(expect, sizeof expect, "leaked 3 grant(s) holding %s in execution_buffers", b);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_LEAKED_CONSUMER);
    assert_string_equal(fmt(&ev, buf, sizeof buf), "leaked consumer sorter (execution_buffers)");

    ev = base_event(MGOV_EV_BUDGET);
    snprintf(expect, sizeof expect, "budget set to %s (used %s)", b, u);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_OVERRIDE);
    ev.count = 2;
    snprintf(expect, sizeof expect, "sorter: tier override force_ram applied at open (%s)", b);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);

    ev = base_event(MGOV_EV_QUARANTINED);
    ev.status = MGOV_OK;
    snprintf(expect, sizeof expect, "quarantined sorter (%s)", b);
    assert_string_equal(fmt(&ev, buf, sizeof buf), expect);
    ev.status = MGOV_EIO;
    assert_string_equal(fmt(&ev, buf, sizeof buf),
                        "could not quarantine sorter: input/output error");
}

static void test_format_key_words(void **state)
{
    (void)state;
    /* Independent of the exact wording above: each line names what matters. */
    char buf[512];
    mgov_event_t ev = base_event(MGOV_EV_PRESSURE);
    ev.old_level = MGOV_PRESSURE_NORMAL;
    ev.level = MGOV_PRESSURE_CRITICAL;
    fmt(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, "normal"));
    assert_non_null(strstr(buf, "critical"));
    assert_non_null(strstr(buf, "70.0 MiB"));

    ev = base_event(MGOV_EV_SPILL_FAILED);
    fmt(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, "sorter"));
    assert_non_null(strstr(buf, mgov_strerror(MGOV_EIO)));
}

static void test_format_missing_strings(void **state)
{
    (void)state;
    char buf[256];
    mgov_event_t ev = base_event(MGOV_EV_EVICTED);
    ev.name = NULL;
    ev.region = -1;
    ev.region_name = NULL;
    fmt(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, "evicted - (-)"));

    ev = base_event(MGOV_EV_WAIT);
    ev.region_name = NULL;
    fmt(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, " in -"));
}

static void test_format_unknown_type(void **state)
{
    (void)state;
    char buf[64];
    mgov_event_t ev = base_event((mgov_event_type_t)99);
    assert_string_equal(fmt(&ev, buf, sizeof buf), "event 99");
}

static void test_format_snprintf_semantics(void **state)
{
    (void)state;
    for (int t = MGOV_EV_PRESSURE; t <= MGOV_EV_OVERRIDE; t++) {
        mgov_event_t ev = base_event((mgov_event_type_t)t);
        char full[512];
        size_t need = mgov_event_format(&ev, NULL, 0);
        assert_true(need > 0);
        assert_int_equal(mgov_event_format(&ev, full, sizeof full), need);
        assert_int_equal(strlen(full), need);

        /* exact fit and one short */
        char exact[512];
        memset(exact, 'X', sizeof exact);
        assert_int_equal(mgov_event_format(&ev, exact, need + 1), need);
        assert_string_equal(exact, full);
        memset(exact, 'X', sizeof exact);
        assert_int_equal(mgov_event_format(&ev, exact, need), need);
        assert_int_equal(strlen(exact), need - 1);
        assert_memory_equal(exact, full, need - 1);

        /* a small cap: truncated, NUL-terminated, nothing written past it */
        char small[16];
        memset(small, 'X', sizeof small);
        assert_int_equal(mgov_event_format(&ev, small, 8), need);
        assert_int_equal(small[7], '\0');
        assert_memory_equal(small, full, 7);
        assert_int_equal(small[8], 'X');

        /* cap 1: only the NUL */
        small[0] = 'X';
        assert_int_equal(mgov_event_format(&ev, small, 1), need);
        assert_int_equal(small[0], '\0');
    }
}

static void test_format_null_event(void **state)
{
    (void)state;
    char buf[8] = "abc";
    assert_int_equal(mgov_event_format(NULL, buf, sizeof buf), 0);
    assert_int_equal(mgov_event_format(NULL, NULL, 0), 0);
}

static void test_real_events_format(void **state)
{
    (void)state;
    /* Events made by a governor format as well as hand-built ones. */
    gh_evlog_t *log = gh_evlog_new();
    mgov_t *gov = gh_gov_new(100 * GH_MiB, log);
    mgov_grant_t g = gh_take(gov, MGOV_REGION_EXECUTION_BUFFERS, 90 * GH_MiB, MGOV_NO_RECLAIM);
    assert_int_equal(mgov_set_budget(gov, 200 * GH_MiB), MGOV_OK);
    mgov_grant_release(&g);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);

    gh_event_t e;
    char buf[256];
    assert_true(gh_evlog_nth(log, MGOV_EV_PRESSURE, 0, &e));
    mgov_event_format(&e.ev, buf, sizeof buf);
    assert_string_equal(buf, "pressure normal -> high (used 90.0 MiB)");
    assert_true(gh_evlog_nth(log, MGOV_EV_BUDGET, 0, &e));
    mgov_event_format(&e.ev, buf, sizeof buf);
    assert_string_equal(buf, "budget set to 200 MiB (used 90.0 MiB)");
    gh_evlog_free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_type_name_invalid),
        cmocka_unit_test(test_format_every_type),
        cmocka_unit_test(test_format_key_words),
        cmocka_unit_test(test_format_missing_strings),
        cmocka_unit_test(test_format_unknown_type),
        cmocka_unit_test(test_format_snprintf_semantics),
        cmocka_unit_test(test_format_null_event),
        cmocka_unit_test(test_real_events_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
