/* test_sort.c - the external sort (ops/sort.c, sort_buffer.c, sort_merge.c)
 * against a reference sort: fixed and variable records, many sizes, key
 * widths and budgets (down to 1 MiB: many runs, several merge passes),
 * stability, duplicates, -u and -r, every codec, records larger than an I/O
 * block; and its failure paths: quota hit, corrupted runs, injected
 * allocation failures, spills the governor asks for from another thread.
 * After every case the governor is back to zero and the spill directory
 * holds no file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault_helpers.h"
#include "gov_helpers.h"
#include "op_fixture.h"
#include "op_stress.h"
#include "memgov/sort.h"
#include "ops/sort_internal.h"
#include "memgov/spill.h"
#include "sys/fault.h"

/* ------------------------------------------------------------------ data */

/* A variable record as the reference sees it. */
typedef struct ref_rec {
    unsigned char *data;
    size_t len;
    uint64_t seq;
} ref_rec_t;

static bool ref_desc, ref_by_len;
static size_t ref_key_off, ref_key_size; /* fixed width */

static int bytes_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static int ref_cmp(const void *pa, const void *pb)
{
    const ref_rec_t *a = pa, *b = pb;
    int c;
    if (ref_key_size)
        c = memcmp(a->data + ref_key_off, b->data + ref_key_off, ref_key_size);
    else if (ref_by_len)
        c = (a->len > b->len) - (a->len < b->len);
    else
        c = bytes_cmp(a->data, a->len, b->data, b->len);
    if (ref_desc)
        c = -c;
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

static int len_cmp(void *ctx, const void *a, size_t al, const void *b, size_t bl)
{
    (void)a;
    (void)b;
    (*(unsigned long *)ctx)++;
    return (al > bl) - (al < bl);
}

/* ------------------------------------------------------------- fixtures */

/* ------------------------------------------------------------- the check */

typedef struct spec {
    uint64_t budget;
    size_t n;
    size_t rec_size, key_off, key_size; /* rec_size 0: variable */
    size_t min_len, max_len;            /* variable lengths */
    unsigned alphabet;                  /* byte values drawn from 0..alphabet-1 (0: 256) */
    unsigned flags;
    bool by_len;                        /* variable: the length-only comparator */
    mgov_codec_t codec;
    size_t block_size;
    uint64_t seed;
    bool squeeze; /* after finish, others hold every byte left of the budget */
} spec_t;

/* Takes every byte of the budget a grant can still get, in whatever
 * regions (no reclaim: nobody is asked for anything). */
static unsigned squeeze(mgov_t *gov, mgov_grant_t *g, unsigned max)
{
    unsigned n = 0;
    for (int region = 0; region < 16 && n < max; region++)
        for (uint64_t bytes = mgov_budget(gov); bytes >= 64 && n < max;) {
            mgov_grant_t one = MGOV_GRANT_INIT;
            int rc = mgov_try_reserve(gov, region, bytes, MGOV_NO_RECLAIM, &one);
            if (rc == MGOV_EINVAL)
                break; /* no such region */
            if (rc == MGOV_OK)
                g[n++] = one;
            else
                bytes /= 2;
        }
    return n;
}

static ref_rec_t *make_input(const spec_t *sp)
{
    uint64_t st = sp->seed | 1;
    ref_rec_t *in = calloc(sp->n ? sp->n : 1, sizeof *in);
    assert_non_null(in);
    unsigned alpha = sp->alphabet ? sp->alphabet : 256;
    for (size_t i = 0; i < sp->n; i++) {
        size_t len = sp->rec_size ? sp->rec_size
                                  : sp->min_len + of_rng(&st) % (sp->max_len - sp->min_len + 1);
        in[i].data = malloc(len ? len : 1);
        assert_non_null(in[i].data);
        in[i].len = len;
        in[i].seq = i;
        for (size_t j = 0; j < len; j++)
            in[i].data[j] = (unsigned char)(of_rng(&st) % alpha);
        /* stability is visible: the payload after the key carries i */
        if (sp->rec_size && sp->rec_size - (sp->key_off + sp->key_size) >= 8 &&
            sp->key_off == 0)
            memcpy(in[i].data + sp->key_size, &in[i].seq, 8);
    }
    return in;
}

static void free_input(ref_rec_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(in[i].data);
    free(in);
}

/* Sorts the input with memgov and with the reference; compares record by
 * record; returns the sort's stats. */
static mgov_sort_stats_t check_sort(mgov_t *gov, const spec_t *sp)
{
    ref_rec_t *in = make_input(sp);
    unsigned long calls = 0;
    mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
    cfg.gov = gov;
    cfg.record_size = sp->rec_size;
    cfg.key_offset = sp->key_off;
    cfg.key_size = sp->key_size;
    cfg.flags = sp->flags;
    cfg.spill.codec = sp->codec;
    cfg.spill.block_size = sp->block_size;
    if (sp->by_len) {
        cfg.cmp = len_cmp;
        cfg.cmp_ctx = &calls;
    }
    mgov_sort_t *s;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_OK);
    for (size_t i = 0; i < sp->n; i++) {
        assert_int_equal(mgov_sort_push(s, in[i].data, in[i].len), MGOV_OK);
        if ((i & 0xfff) == 0) /* its invariants, every so often */
            assert_int_equal(mgov__sort_check(s), MGOV_OK);
    }
    assert_int_equal(mgov__sort_check(s), MGOV_OK);
    assert_int_equal(mgov_sort_finish(s), MGOV_OK);
    assert_int_equal(mgov__sort_check(s), MGOV_OK);
    mgov_grant_t held[256];
    unsigned n_held = sp->squeeze ? squeeze(gov, held, 256) : 0;
    if (sp->squeeze)
        assert_true(mgov_used(gov) + 4096 > mgov_budget(gov));

    ref_desc = sp->flags & MGOV_SORT_DESCENDING;
    ref_by_len = sp->by_len;
    ref_key_off = sp->key_off;
    ref_key_size = sp->rec_size ? (sp->key_size ? sp->key_size : sp->rec_size) : 0;
    qsort(in, sp->n, sizeof *in, ref_cmp);

    size_t pos = 0;
    const void *rec;
    size_t len;
    int rc;
    for (size_t i = 0; i < sp->n; i++) {
        if ((sp->flags & MGOV_SORT_UNIQUE) && i > 0) {
            ref_rec_t a = in[i - 1], b = in[i];
            a.seq = b.seq = 0;
            if (ref_cmp(&a, &b) == 0)
                continue; /* a repeat: the first of the group came out */
        }
        rc = mgov_sort_next(s, &rec, &len);
        if (rc != 1)
            fail_msg("record %zu: next returned %d (%s)", pos, rc, mgov_strerror(rc));
        if (len != in[i].len || (len && memcmp(rec, in[i].data, len)))
            fail_msg("record %zu (input %llu) differs", pos, (unsigned long long)in[i].seq);
        pos++;
    }
    assert_int_equal(mgov_sort_next(s, &rec, &len), 0);
    assert_int_equal(mgov_sort_next(s, &rec, &len), 0);
    assert_int_equal(mgov__sort_check(s), MGOV_OK);
    for (unsigned i = 0; i < n_held; i++)
        mgov_grant_release(&held[i]);

    mgov_sort_stats_t st;
    assert_int_equal(mgov_sort_stats(s, &st), MGOV_OK);
    assert_int_equal(st.records_in, sp->n);
    assert_int_equal(st.records_out, pos);
    assert_true(st.memory_peak <= mgov_budget(gov));
    mgov_sort_destroy(s);
    free_input(in, sp->n);
    return st;
}

/* ------------------------------------------------------------------ cases */

static void test_fixed_many_shapes(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 64 * GH_MiB, 0);
    static const size_t sizes[] = { 0, 1, 2, 7, 100, 1000, 20000 };
    static const size_t keys[][3] = { /* rec, off, key */
        { 16, 0, 8 }, { 16, 0, 1 }, { 24, 0, 3 }, { 32, 0, 16 }, { 37, 0, 9 }, { 8, 0, 0 },
        { 20, 4, 2 }, { 1, 0, 1 },
    };
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            for (unsigned f = 0; f < 4; f++) {
                seed++;
                spec_t sp = { .n = sizes[a], .rec_size = keys[k][0], .key_off = keys[k][1],
                              .key_size = keys[k][2], .flags = f, .seed = seed,
                              .alphabet = (seed % 3) ? 0 : 4 };
                check_sort(e.gov, &sp);
            }
    of_close(&e);
}

static void test_variable_many_shapes(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 64 * GH_MiB, 0);
    static const size_t sizes[] = { 0, 1, 2, 50, 5000, 30000 };
    uint64_t seed = 100;
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (unsigned f = 0; f < 4; f++) {
            /* small alphabets with 0x00: prefixes and zero bytes matter */
            spec_t sp = { .n = sizes[a], .min_len = 0, .max_len = 20, .alphabet = 3,
                          .flags = f, .seed = ++seed };
            check_sort(e.gov, &sp);
            sp.alphabet = 0;
            sp.max_len = 300;
            sp.seed = ++seed;
            check_sort(e.gov, &sp);
        }
    of_close(&e);
}

/* The callback order, and stability under it: equal lengths keep input order. */
static void test_variable_comparator_stable(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", GH_MiB, 0);
    for (unsigned f = 0; f < 4; f++) {
        spec_t sp = { .n = 40000, .min_len = 0, .max_len = 30, .by_len = true, .flags = f,
                      .seed = 7 + f };
        mgov_sort_stats_t st = check_sort(e.gov, &sp);
        assert_true(st.runs > 1); /* also merged under the callback */
    }
    of_close(&e);
}

/* 1 MiB of budget for ~32 MiB of records: many runs, several passes. */
static void test_tiny_budget_many_passes(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", GH_MiB, 0);
    spec_t sp = { .n = 2000000, .rec_size = 16, .key_size = 8, .seed = 42 };
    mgov_sort_stats_t st = check_sort(e.gov, &sp);
    assert_true(st.runs > 64);
    assert_true(st.merge_passes >= 2);
    assert_int_equal(st.merge_passes, st.merge_passes_planned);
    assert_true(st.memory_peak <= GH_MiB);

    spec_t v = { .n = 1000000, .min_len = 1, .max_len = 20, .alphabet = 26, .seed = 43 };
    st = check_sort(e.gov, &v);
    assert_true(st.merge_passes >= 2);
    of_close(&e);
}

/* Every run cut while pushing holds about what the sort's memory holds:
 * a spill request the sort's own run writer caused once survived the run
 * and cut the next one after a single record (a third of the runs). */
static void test_runs_are_full(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 4 * GH_MiB, 0);
    spec_t fixed = { .n = 2000000, .rec_size = 16, .key_size = 8, .seed = 44 };
    spec_t variable = { .n = 1000000, .min_len = 8, .max_len = 40, .seed = 45 };
    spec_t *specs[] = { &fixed, &variable };
    for (unsigned i = 0; i < 2; i++) {
        mgov_sort_stats_t st = check_sort(e.gov, specs[i]);
        assert_true(st.input_runs >= 4);
        assert_true(st.input_run_max <= 4 * GH_MiB);
        if (st.input_run_min * 2 < st.input_run_max)
            of_fail(&e, "spec %u: input runs from %" PRIu64 " to %" PRIu64 " bytes", i,
                    st.input_run_min, st.input_run_max);
    }
    of_close(&e);
}

/* Once finished, a merge needs no memory it did not take when it opened:
 * with every byte of the budget taken by others, variable records that
 * cross block boundaries all the time still come out (the reliability
 * review's sort_stress failure: a reader charged its gather room for a
 * record across blocks without waiting, and the drain failed with
 * MGOV_EBUDGET when others held the budget at that moment). */
static void test_merge_needs_nothing_more(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 2 * GH_MiB, 0);
    spec_t sp = { .n = 200000, .min_len = 1, .max_len = 200, .block_size = 4096, .seed = 46,
                  .squeeze = true };
    mgov_sort_stats_t st = check_sort(e.gov, &sp);
    assert_true(st.runs >= 4);
    assert_int_equal(st.merge_passes, st.merge_passes_planned);
    of_close(&e);
}

/* mgov_sort_spill: what the sort holds becomes a run at once and every
 * byte of its memory goes back; pushing goes on, the output is whole. */
static void test_spill_on_demand(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 64 * GH_MiB, 0);
    mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
    cfg.gov = e.gov;
    mgov_sort_t *s;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_OK);
    assert_int_equal(mgov_sort_spill(s), 0); /* holding nothing */
    char rec[16];
    for (unsigned i = 0; i < 2000; i++) {
        int n = snprintf(rec, sizeof rec, "%08x", (unsigned)of_mix(i));
        assert_int_equal(mgov_sort_push(s, rec, (size_t)n), MGOV_OK);
        if (i == 999) {
            assert_int_equal(mgov_sort_spill(s), 1);
            mgov_sort_stats_t st;
            assert_int_equal(mgov_sort_stats(s, &st), MGOV_OK);
            assert_int_equal(st.runs, 1);
            assert_int_equal(st.memory, 0);
            assert_int_equal(mgov_used(e.gov), 0);
            assert_int_equal(mgov_sort_spill(s), 0); /* nothing more: no run */
            assert_int_equal(mgov_sort_stats(s, &st), MGOV_OK);
            assert_int_equal(st.runs, 1);
        }
    }
    assert_int_equal(mgov_sort_finish(s), MGOV_OK);
    assert_int_equal(mgov_sort_spill(s), MGOV_EINVAL);
    const void *p;
    size_t len;
    unsigned count = 0;
    char prev[16] = "";
    while (mgov_sort_next(s, &p, &len) == 1) {
        assert_int_equal(len, 8);
        assert_true(memcmp(prev, p, 8) <= 0);
        memcpy(prev, p, 8);
        count++;
    }
    assert_int_equal(count, 2000);
    mgov_sort_destroy(s);
    assert_int_equal(mgov_sort_spill(NULL), MGOV_EINVAL);
    of_close(&e);
}

/* A budget as large as the data: no spill at all. */
static void test_large_budget_no_spill(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 256 * GH_MiB, 0);
    spec_t sp = { .n = 500000, .rec_size = 16, .key_size = 8, .seed = 5 };
    mgov_sort_stats_t st = check_sort(e.gov, &sp);
    assert_int_equal(st.runs, 0);
    assert_int_equal(st.spilled_raw, 0);
    assert_int_equal(st.merge_passes, 0);
    of_close(&e);
}

static void test_every_codec(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 2 * GH_MiB, 0);
    for (mgov_codec_t c = MGOV_CODEC_NONE; c <= MGOV_CODEC_ZSTD; c++) {
        spec_t sp = { .n = 200000, .rec_size = 24, .key_size = 8, .alphabet = 16,
                      .codec = c, .seed = 9 + c };
        if (!mgov_codec_available(c)) {
            mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
            mgov_sort_t *s;
            cfg.gov = e.gov;
            cfg.record_size = 8;
            cfg.spill.codec = c;
            assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_ENOTSUP);
            continue;
        }
        mgov_sort_stats_t st = check_sort(e.gov, &sp);
        assert_true(st.runs > 1);
        if (c != MGOV_CODEC_NONE)
            assert_true(st.spilled_stored < st.spilled_raw); /* 16 values a byte compress */
        spec_t v = { .n = 50000, .min_len = 0, .max_len = 100, .alphabet = 8, .codec = c,
                     .seed = 19 + c };
        check_sort(e.gov, &v);
    }
    of_close(&e);
}

/* Records larger than an I/O block (16 KiB) cross blocks in runs. */
static void test_record_larger_than_block(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 16 * GH_MiB, 0);
    spec_t sp = { .n = 120, .min_len = 0, .max_len = 400000, .alphabet = 2,
                  .block_size = 16 << 10, .seed = 77 };
    mgov_sort_stats_t st = check_sort(e.gov, &sp);
    assert_true(st.runs > 1);
    of_close(&e);
}

static void test_empty_and_one(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 4 * GH_MiB, 0);
    for (size_t rs = 0; rs <= 16; rs += 16) {
        mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
        cfg.gov = e.gov;
        cfg.record_size = rs;
        mgov_sort_t *s;
        const void *rec;
        size_t len;
        assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_OK);
        assert_int_equal(mgov_sort_finish(s), MGOV_OK);
        assert_int_equal(mgov_sort_next(s, &rec, &len), 0);
        mgov_sort_destroy(s);

        assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_OK);
        assert_int_equal(mgov_sort_push(s, "0123456789abcdef", rs ? rs : 3), MGOV_OK);
        assert_int_equal(mgov_sort_finish(s), MGOV_OK);
        assert_int_equal(mgov_sort_next(s, &rec, &len), 1);
        assert_int_equal(len, rs ? rs : 3);
        assert_memory_equal(rec, "0123456789abcdef", len);
        assert_int_equal(mgov_sort_next(s, &rec, &len), 0);
        mgov_sort_destroy(s);
    }
    of_close(&e);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 4 * GH_MiB, 0);
    mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
    mgov_sort_t *s = (mgov_sort_t *)&cfg;
    assert_int_equal(mgov_sort_create(NULL, &s), MGOV_EINVAL);
    assert_int_equal(mgov_sort_create(&cfg, NULL), MGOV_EINVAL);
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_EINVAL); /* no governor */
    assert_null(s);
    cfg.gov = e.gov;
    cfg.record_size = 8;
    cfg.key_offset = 4;
    cfg.key_size = 5;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_EINVAL); /* key past the record */
    cfg.key_offset = 8;
    cfg.key_size = 0;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_EINVAL);
    cfg.key_offset = 0;
    cfg.cmp = len_cmp;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_EINVAL); /* cmp with fixed records */
    cfg.cmp = NULL;
    cfg.flags = 0x80;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_EINVAL);
    cfg.flags = 0;
    cfg.spill.codec = (mgov_codec_t)9;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_EINVAL);
    cfg.spill.codec = MGOV_CODEC_NONE;
    cfg.region = "no_such_region";
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_ENOTFOUND);
    cfg.region = NULL;
    cfg.name = "dup";
    mgov_sort_t *first;
    assert_int_equal(mgov_sort_create(&cfg, &first), MGOV_OK);
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_EEXIST);

    const void *rec;
    size_t len;
    assert_int_equal(mgov_sort_push(first, "1234567", 7), MGOV_EINVAL); /* wrong width */
    assert_int_equal(mgov_sort_push(first, NULL, 8), MGOV_EINVAL);
    assert_int_equal(mgov_sort_push(NULL, "12345678", 8), MGOV_EINVAL);
    assert_int_equal(mgov_sort_next(first, &rec, &len), MGOV_EINVAL); /* before finish */
    assert_int_equal(mgov_sort_push(first, "12345678", 8), MGOV_OK); /* EINVAL is not sticky */
    assert_int_equal(mgov_sort_finish(first), MGOV_OK);
    assert_int_equal(mgov_sort_finish(first), MGOV_EINVAL);
    assert_int_equal(mgov_sort_push(first, "12345678", 8), MGOV_EINVAL); /* after finish */
    assert_int_equal(mgov_sort_next(first, NULL, &len), MGOV_EINVAL);
    assert_int_equal(mgov_sort_stats(first, NULL), MGOV_EINVAL);
    mgov_sort_destroy(first);
    mgov_sort_destroy(NULL);

    cfg.name = NULL;
    cfg.record_size = 0;
    cfg.max_record = 10;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_OK);
    assert_int_equal(mgov_sort_push(s, "01234567890", 11), MGOV_EINVAL); /* over max_record */
    mgov_sort_destroy(s);
    of_close(&e);
}

/* A quota hit mid-run: MGOV_ENOSPC, sticky, and nothing left behind. */
static void test_quota_hit(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", GH_MiB, 0);
    mgov_spill_dir_config_t dc = MGOV_SPILL_DIR_CONFIG_INIT;
    char path[300];
    snprintf(path, sizeof path, "%s/own", e.dir);
    dc.path = path;
    dc.quota = 3 * GH_MiB;
    dc.gov = e.gov;
    mgov_spill_dir_t *dir;
    assert_int_equal(mgov_spill_dir_open(&dc, &dir), MGOV_OK);

    mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
    cfg.gov = e.gov;
    cfg.record_size = 16;
    cfg.spill_dir = dir;
    mgov_sort_t *s;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_OK);
    uint64_t st = 3, i = 0;
    int rc = MGOV_OK;
    for (; i < 1000000 && rc == MGOV_OK; i++) {
        uint64_t r[2] = { of_rng(&st), i };
        rc = mgov_sort_push(s, r, sizeof r);
    }
    assert_int_equal(rc, MGOV_ENOSPC);
    assert_true(i > 3 * GH_MiB / 16 / 2); /* some runs were written first */
    assert_int_equal(mgov_sort_push(s, "0123456789abcdef", 16), MGOV_ENOSPC); /* sticky */
    assert_int_equal(mgov_sort_finish(s), MGOV_ENOSPC);
    mgov_sort_destroy(s);
    assert_int_equal(mgov_spill_dir_used(dir), 0);
    assert_int_equal(mgov_spill_dir_files(dir), 0);
    mgov_spill_dir_close(dir);
    assert_int_equal(rmdir(path), 0); /* only the lock was in it, and it is gone */
    of_close(&e);
}

typedef enum { FLIP, TRUNCATE, HUGE_LENGTH } damage_t;

/* Replaces the content of the run at path with a valid spill file (right
 * magic, checksums and footer) whose only record claims 4 GiB - 1 bytes. */
static void plant_huge_length(const char *scratch, const char *path)
{
    char where[300];
    snprintf(where, sizeof where, "%s/craft", scratch);
    mgov_spill_dir_config_t dc = MGOV_SPILL_DIR_CONFIG_INIT; /* no governor: no budget */
    dc.path = where;
    mgov_spill_dir_t *d;
    assert_int_equal(mgov_spill_dir_open(&dc, &d), MGOV_OK);
    mgov_spill_writer_t *w;
    assert_int_equal(mgov_spill_writer_create(d, NULL, &w), MGOV_OK);
    const unsigned char leb[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 'x' };
    assert_int_equal(mgov_spill_write(w, leb, sizeof leb), MGOV_OK);
    mgov_spill_file_t *f;
    assert_int_equal(mgov_spill_writer_finish(w, &f), MGOV_OK);
    int in = open(mgov_spill_file_path(f), O_RDONLY);
    int out = open(path, O_WRONLY | O_TRUNC);
    assert_true(in >= 0 && out >= 0);
    char buf[4096];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
    mgov_spill_file_destroy(f);
    mgov_spill_dir_close(d);
    assert_int_equal(rmdir(where), 0);
}

/* A damaged run: MGOV_ECORRUPT from finish or next, never wrong output. */
static void corrupt_case(damage_t how, size_t rec_size)
{
    of_env_t e;
    of_open(&e, "sort", GH_MiB, 0);
    mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
    cfg.gov = e.gov;
    cfg.record_size = rec_size;
    mgov_sort_t *s;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_OK);
    uint64_t st = 11;
    for (uint64_t i = 0; i < 200000; i++) {
        uint64_t r[2] = { of_rng(&st), i };
        assert_int_equal(mgov_sort_push(s, r, rec_size ? rec_size : 1 + i % 16), MGOV_OK);
    }
    char paths[64][512];
    unsigned n = of_spill_paths(e.gov, paths, 64);
    assert_true(n >= 2);
    if (how == HUGE_LENGTH)
        plant_huge_length(e.dir, paths[n / 2]);
    else
        of_damage(paths[n / 2], how == FLIP ? OF_FLIP : OF_TRUNCATE);
    int rc = mgov_sort_finish(s);
    const void *rec;
    size_t len;
    if (rc == MGOV_OK)
        while ((rc = mgov_sort_next(s, &rec, &len)) == 1)
            ;
    assert_int_equal(rc, MGOV_ECORRUPT);
    assert_int_equal(mgov_sort_next(s, &rec, &len), MGOV_ECORRUPT);
    mgov_sort_destroy(s);
    of_close(&e);
}

static void test_corrupt_run(void **state)
{
    (void)state;
    corrupt_case(FLIP, 16);
    corrupt_case(TRUNCATE, 16);
    corrupt_case(FLIP, 0);
    corrupt_case(TRUNCATE, 0);
    corrupt_case(HUGE_LENGTH, 0); /* checked against max_record before reading */
}

/* The governor asks the sort to spill from another thread while it runs. */
static void test_spill_asked_by_governor(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", 256 * GH_MiB, 0);
    mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
    cfg.gov = e.gov;
    cfg.record_size = 16;
    cfg.key_size = 8;
    cfg.name = "sorter";
    mgov_sort_t *s;
    assert_int_equal(mgov_sort_create(&cfg, &s), MGOV_OK);
    op_asker_t a = { .gov = e.gov, .consumer = "sorter", .pause_ms = 1 };
    assert_int_equal(op_asker_start(&a), 0);
    uint64_t st = 5;
    const uint64_t n = 400000;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r[2] = { __builtin_bswap64(of_rng(&st) % 1000), i };
        assert_int_equal(mgov_sort_push(s, r, sizeof r), MGOV_OK);
        if (i % 50000 == 0)
            gh_sleep_ms(3); /* let the asker in */
    }
    op_asker_stop(&a);
    assert_int_equal(mgov_sort_finish(s), MGOV_OK);
    mgov_sort_stats_t ss;
    mgov_sort_stats(s, &ss);
    assert_true(ss.spill_requests > 0);
    assert_true(ss.runs > 0);
    /* keys ascend; equal keys in input order (the payload) */
    uint64_t prev_key = 0, prev_seq = 0, count = 0;
    const void *rec;
    size_t len;
    while (mgov_sort_next(s, &rec, &len) == 1) {
        uint64_t r[2];
        memcpy(r, rec, sizeof r);
        uint64_t key = __builtin_bswap64(r[0]);
        assert_true(key > prev_key || (key == prev_key && (count == 0 || r[1] > prev_seq)));
        prev_key = key;
        prev_seq = r[1];
        count++;
    }
    assert_int_equal(count, n);
    mgov_sort_destroy(s);
    of_close(&e);
}

/* Every allocation point fails once in turn: a clean error, nothing left. */
static void test_alloc_failures(void **state)
{
    (void)state;
    of_env_t e;
    of_open(&e, "sort", GH_MiB, 0);
    for (int vary = 0; vary < 2; vary++) {
        bool done = false;
        for (long k = 0; !done && k < 10000; k++) {
            mgov_sort_config_t cfg = MGOV_SORT_CONFIG_INIT;
            cfg.gov = e.gov;
            cfg.record_size = vary ? 0 : 16;
            mgov_sort_t *s = NULL;
            mgov__fault_arm(MGOV_FAULT_ALLOC, k, 1);
            int rc = mgov_sort_create(&cfg, &s);
            uint64_t st = 99;
            for (uint64_t i = 0; rc == MGOV_OK && i < 60000; i++) {
                uint64_t r[2] = { of_rng(&st), i };
                rc = mgov_sort_push(s, r, vary ? 1 + i % 16 : 16);
            }
            if (rc == MGOV_OK)
                rc = mgov_sort_finish(s);
            const void *rec;
            size_t len;
            uint64_t out = 0;
            if (rc == MGOV_OK)
                while ((rc = mgov_sort_next(s, &rec, &len)) == 1)
                    out++;
            done = mgov__fault_hits(MGOV_FAULT_ALLOC) == 0;
            mgov__fault_disarm_all();
            /* a clean ENOMEM, or (a failure the library works around, such
             * as the best-effort scan for stale spill directories) the
             * whole output */
            if (rc == 0)
                assert_int_equal(out, 60000);
            else
                assert_int_equal(rc, MGOV_ENOMEM);
            mgov_sort_destroy(s);
            assert_int_equal(mgov_used(e.gov), 0);
            assert_int_equal(of_spill_files(e.gov), 0);
        }
        assert_true(done);
    }
    of_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FH_TEST(test_fixed_many_shapes),
        FH_TEST(test_variable_many_shapes),
        FH_TEST(test_variable_comparator_stable),
        FH_TEST(test_tiny_budget_many_passes),
        FH_TEST(test_runs_are_full),
        FH_TEST(test_merge_needs_nothing_more),
        FH_TEST(test_spill_on_demand),
        FH_TEST(test_large_budget_no_spill),
        FH_TEST(test_every_codec),
        FH_TEST(test_record_larger_than_block),
        FH_TEST(test_empty_and_one),
        FH_TEST(test_bad_arguments),
        FH_TEST(test_quota_hit),
        FH_TEST(test_corrupt_run),
        FH_TEST(test_spill_asked_by_governor),
        FH_TEST(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
