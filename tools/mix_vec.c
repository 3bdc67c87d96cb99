/* mix_vec.c - the demo's vector search engine.
 *
 * The index: n_vectors float32 vectors of MIX_DIM dimensions, vector i made
 * from cli_mix64(i * MIX_DIM + j), split into shards, each a tiered section
 * in the vectors region.  The index is larger than the region's limit, so
 * it never fits at once: while it is built and while it is searched, the
 * governor spills the least recently pinned shards to make room, and the
 * queries reload the ones they need.
 *
 * A query is an exact top-k (squared L2) over every shard: shards in RAM
 * first, then the others, each reloaded and searched through a pinned view
 * (pinned, it cannot move).  A shard is read only from RAM, never through
 * the mapping of its file: a mapped file's pages would count in the
 * process's RSS without being charged to any region.  Every fourth query is
 * one of MIX_REFS whose answer was computed by brute force while the index
 * was made; it must come out the same, from a search or from the cache.
 *
 * Threading: build runs before the query threads start; the query threads
 * share only the sections (thread-safe) and atomic counters.
 */
#include <stdio.h>
#include <string.h>

#include "mix.h"
#include "signals.h"

#define REF_SEED ((uint64_t)1 << 40)
#define BUILD_CHUNK 2048u /* vectors per append */
#define MAX_SHARDS 512u

static inline float unit(uint64_t x)
{
    return (float)(x >> 40) / 16777216.0f - 0.5f;
}

static void vector_make(float *v, uint64_t id)
{
    for (unsigned j = 0; j < MIX_DIM; j++)
        v[j] = unit(cli_mix64(id * MIX_DIM + j));
}

void mix_vec_query(float *q, uint64_t seed)
{
    for (unsigned j = 0; j < MIX_DIM; j++)
        q[j] = unit(cli_mix64(((seed << 8) | j) ^ 0x5bd1e995u));
}

/* Eight partial sums: fast, and the same order every time. */
float mix_vec_dist(const float *a, const float *b)
{
    float s[8] = { 0 };
    for (unsigned j = 0; j < MIX_DIM; j += 8)
        for (unsigned k = 0; k < 8; k++) {
            float d = a[j + k] - b[j + k];
            s[k] += d * d;
        }
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static inline bool better(float d, uint32_t id, float d2, uint32_t id2)
{
    return d < d2 || (d == d2 && id < id2);
}

static void topk_add(mix_topk_t *t, float d, uint32_t id)
{
    if (t->n == MIX_K && !better(d, id, t->dist[MIX_K - 1], t->id[MIX_K - 1]))
        return;
    unsigned i = t->n < MIX_K ? t->n++ : MIX_K - 1;
    while (i > 0 && better(d, id, t->dist[i - 1], t->id[i - 1])) {
        t->dist[i] = t->dist[i - 1];
        t->id[i] = t->id[i - 1];
        i--;
    }
    t->dist[i] = d;
    t->id[i] = id;
}

static void shard_name(char *buf, size_t cap, unsigned i)
{
    snprintf(buf, cap, "vec-shard-%03u", i);
}

/* Appends with retries: the budget may be short for a while (others hold
 * it and are being asked to give some back). */
static int append_retry(mix_t *m, mgov_section_t *s, const void *data, size_t len)
{
    int rc;
    for (int tries = 0; tries < 20; tries++) {
        rc = mgov_section_append(s, data, len);
        if (rc != MGOV_EBUDGET && rc != MGOV_ETIMEDOUT && rc != MGOV_EBUSY)
            return rc;
        atomic_fetch_add_explicit(&m->vec.reload_waits, 1, memory_order_relaxed);
    }
    return rc;
}

int mix_vec_build(mix_vec_t *v, mix_t *m)
{
    v->m = m;
    int rc = mix_heap(m, m->reg[MIX_R_VEC], "vec-heap", &v->heap);
    if (rc != MGOV_OK)
        return rc;
    uint64_t nv = m->o.index_bytes / (MIX_DIM * sizeof(float));
    if (nv < 64)
        nv = 64;
    if (nv > UINT32_MAX)
        nv = UINT32_MAX;
    /* a shard at most an eighth of the region's limit: two query threads
     * pinning one each and a third being reloaded always fit */
    uint64_t shards = (m->o.index_bytes * 8 + m->limit[MIX_R_VEC] - 1) / m->limit[MIX_R_VEC];
    shards = shards < 8 ? 8 : shards > MAX_SHARDS ? MAX_SHARDS : shards;
    v->n_vectors = (uint32_t)nv;
    v->per_shard = (uint32_t)((nv + shards - 1) / shards);
    v->n_shards = (unsigned)((nv + v->per_shard - 1) / v->per_shard);

    v->shards = mgov_heap_calloc(v->heap, v->n_shards, sizeof *v->shards);
    float *chunk = mgov_heap_malloc(v->heap, (size_t)BUILD_CHUNK * MIX_DIM * sizeof(float));
    if (!v->shards || !chunk) {
        mgov_heap_free(v->heap, chunk);
        return mgov_heap_last_error(v->heap);
    }
    float refq[MIX_REFS][MIX_DIM];
    for (unsigned r = 0; r < MIX_REFS; r++) {
        mix_vec_query(refq[r], REF_SEED + r);
        v->ref[r].n = 0;
    }
    mgov_section_config_t sc = MGOV_SECTION_CONFIG_INIT;
    sc.region = mgov_region_name(m->gov, m->reg[MIX_R_VEC]);
    sc.priority = MGOV_PRIORITY_INDEX_BUFFERS;
    sc.pin_wait_ns = 0;                 /* the governor skips a pinned shard */
    sc.timeout_ns = MIX_WAIT_NS;
    char name[32];
    uint32_t id = 0;
    for (unsigned s = 0; s < v->n_shards && rc == MGOV_OK; s++) {
        if (cli_signal_pending()) {
            rc = MGOV_ECANCELED;
            break;
        }
        shard_name(name, sizeof name, s);
        if ((rc = mgov_section_open(m->gov, name, &sc, &v->shards[s])) != MGOV_OK)
            break;
        uint32_t end = id + v->per_shard < v->n_vectors ? id + v->per_shard : v->n_vectors;
        while (id < end && rc == MGOV_OK) {
            uint32_t n = end - id < BUILD_CHUNK ? end - id : BUILD_CHUNK;
            for (uint32_t i = 0; i < n; i++) {
                float *vec = chunk + (size_t)i * MIX_DIM;
                vector_make(vec, id + i);
                for (unsigned r = 0; r < MIX_REFS; r++)
                    topk_add(&v->ref[r], mix_vec_dist(refq[r], vec), id + i);
            }
            rc = append_retry(m, v->shards[s], chunk, (size_t)n * MIX_DIM * sizeof(float));
            id += n;
        }
    }
    mgov_heap_free(v->heap, chunk);
    return rc;
}

/* An exact top-k over every shard; false after a failure (reported) or
 * when the engines stop. */
static bool search(mix_vec_t *v, const float *q, mix_topk_t *out)
{
    bool done[MAX_SHARDS] = { false };
    unsigned left = v->n_shards;
    out->n = 0;
    for (int pass = 0; pass < 2 && left; pass++) {
        for (unsigned s = 0; s < v->n_shards; s++) {
            if (done[s] || (pass == 0 && mgov_section_tier(v->shards[s]) == MGOV_TIER_ON_DISK))
                continue;
            mgov_section_view_t view;
            int rc = mix_pin_ram(v->m, v->shards[s], &view, true, &v->reloads, &v->reload_waits);
            if (rc == MGOV_ECANCELED)
                return false; /* stopping: the query is dropped, not counted */
            if (rc != MGOV_OK) {
                mix_fail(v->m, "vector search: shard %u: %s", s, mgov_strerror(rc));
                return false;
            }
            const float *vec = view.data;
            uint32_t n = (uint32_t)(view.len / (MIX_DIM * sizeof(float)));
            uint32_t base = s * v->per_shard;
            for (uint32_t i = 0; i < n; i++, vec += MIX_DIM)
                topk_add(out, mix_vec_dist(q, vec), base + i);
            mgov_section_unpin(v->shards[s], &view);
            atomic_fetch_add_explicit(&v->scanned, n, memory_order_relaxed);
            done[s] = true;
            left--;
        }
    }
    return true;
}

static void check_ref(mix_vec_t *v, unsigned r, const mix_topk_t *got, const char *how)
{
    atomic_fetch_add_explicit(&v->checked, 1, memory_order_relaxed);
    const mix_topk_t *want = &v->ref[r];
    if (got->n != want->n || memcmp(got->id, want->id, sizeof got->id[0] * got->n) != 0 ||
        memcmp(got->dist, want->dist, sizeof got->dist[0] * got->n) != 0)
        mix_fail(v->m, "vector search: reference query %u (%s) differs from brute force", r, how);
}

static void *query_thread(void *arg)
{
    mix_vec_t *v = arg;
    static _Atomic unsigned next_thread;
    uint64_t rng = cli_mix64(1000 + atomic_fetch_add(&next_thread, 1));
    float q[MIX_DIM];
    mix_topk_t res;
    for (uint64_t n = 0; !atomic_load(&v->m->stop); n++) {
        rng = cli_mix64(rng);
        bool is_ref = n % 4 == 0;
        unsigned r = (unsigned)(rng % MIX_REFS);
        /* a skewed mix: a few popular queries the cache serves, many rare */
        uint64_t seed = is_ref ? REF_SEED + r : (rng >> 8) % ((rng & 1) ? 64 : 4096);
        if (mix_cache_get(&v->m->cache, seed, &res)) {
            atomic_fetch_add_explicit(&v->cache_hits, 1, memory_order_relaxed);
        } else {
            mix_vec_query(q, seed);
            if (!search(v, q, &res))
                break;
            mix_cache_put(&v->m->cache, seed, &res);
        }
        if (is_ref)
            check_ref(v, r, &res, "search or cache");
        atomic_fetch_add_explicit(&v->queries, 1, memory_order_relaxed);
    }
    return mix_thread_exit(v->m);
}

int mix_vec_start(mix_vec_t *v)
{
    for (unsigned i = 0; i < MIX_QUERY_THREADS; i++) {
        int rc = mix_thread(v->m, &v->threads[i], query_thread, v);
        if (rc != MGOV_OK)
            return rc;
        v->n_threads++;
    }
    return MGOV_OK;
}

void mix_vec_join(mix_vec_t *v)
{
    for (unsigned i = 0; i < v->n_threads; i++)
        pthread_join(v->threads[i], NULL);
    v->n_threads = 0;
}

/* Closes every shard and removes its file. */
void mix_vec_close(mix_vec_t *v)
{
    char name[32];
    for (unsigned s = 0; v->shards && s < v->n_shards; s++) {
        if (!v->shards[s])
            continue;
        int rc = mgov_section_close(v->shards[s]);
        if (rc != MGOV_OK)
            mix_fail(v->m, "closing vector shard %u: %s", s, mgov_strerror(rc));
        shard_name(name, sizeof name, s);
        rc = mgov_section_remove(v->m->gov, name);
        if (rc != MGOV_OK && rc != MGOV_ENOTFOUND)
            mix_fail(v->m, "removing vector shard %u: %s", s, mgov_strerror(rc));
    }
    if (v->shards)
        mgov_heap_free(v->heap, v->shards);
    v->shards = NULL;
}
