/* test_stress.c - spill files under contention (src/spill/): four threads
 * write, read back and destroy files at once in one directory whose quota
 * holds only a few of them, charged to one governor.  Writes that find the
 * quota full fail with MGOV_ENOSPC and leave nothing; every file that was
 * finished reads back intact, also while the others write; the quota is
 * never exceeded; at the end the directory, the governor's grants and its
 * disk gauge are all back at zero.  Built for TSan too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "gov_helpers.h"
#include "memgov.h"
#include "spill_helpers.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define THREADS 4
#ifdef MGOV_SANITIZED
#define ROUNDS 150
#else
#define ROUNDS 600
#endif
#define MAX_DATA (48 * KiB)
#define HELD 2 /* files a thread keeps alive before destroying the oldest */

static sh_scratch_t scratch;

typedef struct worker {
    mgov_spill_dir_t *dir;
    unsigned id;
    unsigned char *data; /* MAX_DATA, this thread's pattern */
    /* results, read after join */
    unsigned finished, nospace, failures, over_quota;
    int first_error;
} worker_t;

typedef struct held {
    mgov_spill_file_t *f;
    size_t n;
    uint64_t seed;
} held_t;

static void record(worker_t *w, int rc)
{
    w->failures++;
    if (!w->first_error)
        w->first_error = rc;
}

static int read_back(worker_t *w, const held_t *h)
{
    mgov_spill_reader_t *r = NULL;
    int rc = mgov_spill_reader_open(h->f, NULL, &r);
    if (rc != MGOV_OK)
        return rc;
    rc = sh_read_back(r, w->data, h->n, h->seed, 9 * KiB);
    mgov_spill_reader_close(r);
    return rc;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    uint64_t st = 0x1234567 + w->id * 7919;
    held_t held[HELD] = { { 0 } };
    unsigned nheld = 0;
    mgov_codec_t codecs[3];
    unsigned nc = 0;
    for (int c = 0; c <= MGOV_CODEC_ZSTD; c++)
        if (mgov_codec_available((mgov_codec_t)c))
            codecs[nc++] = (mgov_codec_t)c;

    for (int round = 0; round < ROUNDS; round++) {
        mgov_spill_options_t o = MGOV_SPILL_OPTIONS_INIT;
        o.codec = codecs[sh_rand(&st) % nc];
        o.block_size = (sh_rand(&st) & 1) ? 4 * KiB : 16 * KiB;
        size_t n = (size_t)(sh_rand(&st) % MAX_DATA);
        mgov_spill_writer_t *wr = NULL;
        int rc = mgov_spill_writer_create(w->dir, &o, &wr);
        if (rc != MGOV_OK) {
            record(w, rc);
            continue;
        }
        size_t done = 0;
        while (done < n && rc == MGOV_OK) {
            size_t take = 1 + (size_t)(sh_rand(&st) % 9000);
            if (take > n - done)
                take = n - done;
            rc = mgov_spill_write(wr, w->data + done, take);
            done += take;
        }
        if (mgov_spill_dir_used(w->dir) > mgov_spill_dir_quota(w->dir))
            w->over_quota++;
        mgov_spill_file_t *f = NULL;
        int frc = mgov_spill_writer_finish(wr, &f);
        if (rc == MGOV_OK)
            rc = frc;
        if (rc == MGOV_ENOSPC) {
            w->nospace++;
            continue;
        }
        if (rc != MGOV_OK) {
            record(w, rc);
            continue;
        }
        w->finished++;
        held_t h = { f, n, sh_rand(&st) };
        if ((rc = read_back(w, &h)) != MGOV_OK)
            record(w, rc);
        if (nheld == HELD) { /* read the oldest again, then let it go */
            if ((rc = read_back(w, &held[0])) != MGOV_OK)
                record(w, rc);
            mgov_spill_file_destroy(held[0].f);
            memmove(held, held + 1, sizeof held[0] * (HELD - 1));
            nheld--;
        }
        held[nheld++] = h;
    }
    for (unsigned i = 0; i < nheld; i++)
        mgov_spill_file_destroy(held[i].f);
    return NULL;
}

static void test_concurrent_writers_tight_quota(void **state)
{
    (void)state;
    sh_scratch_init(&scratch);
    mgov_t *gov = gh_gov_new(64 * MiB, NULL);
    mgov_spill_dir_t *dir = NULL;
    mgov_spill_dir_config_t cfg = MGOV_SPILL_DIR_CONFIG_INIT;
    cfg.gov = gov;
    cfg.quota = 4 * MAX_DATA; /* the threads would hold up to 12 files */
    assert_int_equal(mgov_spill_dir_open(&cfg, &dir), MGOV_OK);

    worker_t w[THREADS];
    pthread_t t[THREADS];
    unsigned char *data = malloc(MAX_DATA);
    sh_fill(data, MAX_DATA / 2, 99, true); /* half compresses, half does not */
    sh_fill(data + MAX_DATA / 2, MAX_DATA / 2, 98, false);
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (worker_t){ .dir = dir, .id = i, .data = data };
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    unsigned finished = 0, nospace = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failures)
            fail_msg("thread %u: %u failures, first %s", i, w[i].failures,
                     mgov_status_name(w[i].first_error));
        assert_int_equal(w[i].over_quota, 0);
        finished += w[i].finished;
        nospace += w[i].nospace;
    }
    print_message("%u files finished, %u refused for space\n", finished, nospace);
    assert_true(finished > 0);
    assert_true(nospace > 0); /* the quota was tight enough to matter */
    sh_check_dir(dir);

    assert_int_equal(mgov_spill_dir_files(dir), 0);
    assert_int_equal(mgov_spill_dir_used(dir), 0);
    assert_int_equal(mgov_used(gov), 0);
    mgov_stats_t s;
    assert_int_equal(mgov_stats(gov, &s), MGOV_OK);
    assert_int_equal(s.spill_bytes, 0);
    assert_true(s.spill_bytes_peak > 0 && s.spill_bytes_peak <= cfg.quota);
    char list[256];
    assert_string_equal(sh_list(mgov_spill_dir_path(dir), list, sizeof list), "memgov.lock");
    mgov_spill_dir_close(dir);
    assert_int_equal(mgov_destroy(gov), MGOV_OK);
    free(data);
    sh_scratch_fini(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_writers_tight_quota),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
