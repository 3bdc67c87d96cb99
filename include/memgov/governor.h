/* memgov/governor.h - the memory governor: one budget for the process,
 * shared by named regions, handed out as grants, defended by pressure
 * levels and reclaim.
 *
 * Lifecycle
 *   mgov_create() -> use from any number of threads -> mgov_destroy().
 *   Every grant must be released and every consumer unregistered before
 *   mgov_destroy(); what is still alive then is reported through the event
 *   callback (MGOV_EV_LEAKED_GRANTS, MGOV_EV_LEAKED_CONSUMER) and freed.
 *
 * Threading
 *   All functions taking an mgov_t* are thread-safe.  A grant
 *   (mgov_grant_t) is a plain value owned by its caller: one grant must not be
 *   used by two threads at once, different grants may.  A consumer handle may
 *   be used from any thread.
 *
 * Admission (when does a request of b bytes in region R fit)
 *   1. R.used + b <= R.limit (when R has a limit);
 *   2. used + b <= ceiling: critical x budget for ordinary requests, the
 *      whole budget for the spill-staging region and MGOV_URGENT requests
 *      (the top slice is the spill reserve: spilling can always progress);
 *   3. other regions' unused `reserved` bytes are not taken, unless the
 *      request is MGOV_REVOCABLE.  Bytes inside R's own reservation are
 *      guaranteed: they need only rules 1 and 2.
 *   Each counter that limits the request is checked and charged with one
 *   compare-and-swap, so usage never exceeds the budget (nor a region its
 *   limit) on any interleaving.
 *   A request that can never fit (b over R's limit, or over its ceiling)
 *   fails at once with MGOV_ELIMIT.
 *
 * Fairness
 *   Blocking requests wait in one FIFO queue.  While a request waits for the
 *   budget, later ordinary requests (blocking or not) do not overtake it:
 *   mgov_try_reserve fails with MGOV_EBUDGET and mgov_reserve queues behind
 *   it.  A request waiting only for its region's limit holds back only that
 *   region.  MGOV_URGENT and spill-staging requests are never held back.
 *
 * Callbacks
 *   Consumer callbacks and the event callback run with no governor lock held
 *   and may call back into the governor (reserve, resize, release, stats,
 *   unregister another consumer).  Reclaim runs in the thread that needs the
 *   memory; a thread that calls mgov_try_reserve/mgov_reserve while holding a
 *   lock its own callbacks take must pass MGOV_NO_RECLAIM, or it can
 *   deadlock.  From inside a callback, nested reclaim is skipped (a reclaim
 *   pass never waits for itself).
 */
#ifndef MEMGOV_GOVERNOR_H
#define MEMGOV_GOVERNOR_H

#include "memgov/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MGOV_MAX_REGIONS 16
#define MGOV_NAME_MAX 63                       /* region and consumer names, bytes */
/* 64 TiB.  Region byte counts are 48-bit; the 4x headroom keeps requests
 * in flight at the same moment from overflowing them. */
#define MGOV_BUDGET_MAX (((uint64_t)1 << 46) - 1)

typedef struct mgov mgov_t;
typedef struct mgov_consumer mgov_consumer_t;
struct mgov_event;

/* ------------------------------------------------------------------ config */

typedef struct mgov_region_config {
    const char *name;  /* 1..MGOV_NAME_MAX bytes of [A-Za-z0-9_.-], unique */
    uint64_t reserved; /* guaranteed to this region: others may borrow it only revocably */
    uint64_t limit;    /* hard cap for this region; 0 = none */
} mgov_region_config_t;

enum {
    MGOV_RSS_PRESSURE = 1u,    /* pressure = max(used, RSS) / budget */
    /* Listen to the kernel's memory pressure signals (systemd's
     * $MEMORY_PRESSURE_WATCH, PSI triggers on the cgroup's memory.pressure
     * or /proc/pressure/memory, cgroup v2 memory.events) in a watcher
     * thread; each signal reclaims and trims (docs/governor.md "Kernel
     * pressure").  A source that cannot be opened is skipped with an
     * MGOV_EV_PRESSURE_SOURCE event, never an error. */
    MGOV_KERNEL_PRESSURE = 2u,
    /* Run the rebalancer: lend limit from idle regions to regions whose
     * requests wait or are refused for their limit, and take it back when
     * the lender needs it (docs/governor.md "Rebalancing"). */
    MGOV_REBALANCE = 4u,
    /* With either of the two above (or MEMGOV_STATS in the environment) the
     * governor runs one thread of its own, from mgov_create to
     * mgov_destroy; reclaim passes it starts call consumers' ops in that
     * thread. */
    /* Track reservations even when no region has one at create, so
     * mgov_region_set may add some later at no extra cost then. */
    MGOV_RESERVATIONS = 8u,
};

typedef struct mgov_config {
    uint64_t budget;                     /* bytes; 0 = mgov_default_budget() */
    double moderate, high, critical;     /* fractions; 0 = 0.70, 0.85, 0.95 */
    double hysteresis;                   /* fraction of the budget a level must fall
                                            below its threshold to leave; 0 = 0.02 */
    const mgov_region_config_t *regions; /* NULL = the four default regions */
    unsigned n_regions;                  /* 1..MGOV_MAX_REGIONS when regions != NULL */
    const char *spill_dir;               /* NULL = a private directory under $TMPDIR */
    uint64_t spill_quota;                /* bytes on disk; 0 = default */
    unsigned flags;                      /* MGOV_RSS_PRESSURE, ... */
    void (*on_event)(void *ctx, const struct mgov_event *ev);
    void *event_ctx;
    /* Added in 0.2 (appended, so older fields keep their offsets). */
    /* MGOV_KERNEL_PRESSURE: how often sources that cannot notify (PSI
     * averages where a trigger was refused, memory.events outside cgroupfs)
     * are read, in ms; 0 = 1000. */
    unsigned watch_interval_ms;
    /* MGOV_REBALANCE: the rebalancer's period in ms; 0 = 100. */
    unsigned rebalance_interval_ms;
    /* Added in 0.3 (appended): a budget shared by the processes of the host
     * (memgov/host.h, docs/host.md).  NULL: the budget is this process's
     * own.  A name is 1..MGOV_NAME_MAX bytes of [A-Za-z0-9_.-], not
     * starting with '.'. */
    const char *host;
    /* The shared budget, when this process creates it; 0 = 75% of the
     * memory the process may use (memgov/sysinfo.h).  Ignored on joining. */
    uint64_t host_budget;
    /* This process's share under host-wide pressure; 0 = 1, at most
     * MGOV_HOST_WEIGHT_MAX. */
    unsigned host_weight;
    /* Bytes of the shared budget no other member may lease away from this
     * one; 0 = none.  Refused (MGOV_EBUDGET) when the members' guarantees
     * would pass the shared budget. */
    uint64_t host_guarantee;
} mgov_config_t;
#define MGOV_CONFIG_INIT { 0 }

/* Creates a governor.  cfg may be NULL (all defaults); it is copied, strings
 * included, so it need not outlive the call.  Errors: MGOV_EINVAL (out NULL,
 * thresholds not 0 < moderate < high < critical <= 1, hysteresis outside
 * [0, 0.5), bad region names or duplicates, n_regions out of range, the sum
 * of `reserved` over the budget, a limit below its reservation, budget over
 * MGOV_BUDGET_MAX, MEMGOV_BUDGET unparsable), MGOV_ENOMEM. */
/* With cfg->host, it also creates or joins the host budget (memgov/host.h);
 * then also MGOV_ECORRUPT (a damaged budget others still use), MGOV_EIO
 * (a segment of that name that is not the user's own, or a system call that
 * failed), MGOV_EBUSY (MGOV_HOST_MAX_MEMBERS members already),
 * MGOV_EBUDGET (the guarantee does not fit), MGOV_ETIMEDOUT (its lock could
 * not be taken). */
MGOV_API int mgov_create(const mgov_config_t *cfg, mgov_t **out);

/* Destroys the governor.  Reports every grant and consumer still alive
 * through the event callback first, then frees everything, leaked consumers
 * included (their callbacks are not called).  Returns MGOV_OK when nothing
 * was alive, MGOV_ELEAKED when something was (the governor is destroyed
 * either way: unlike other destroys, it cannot be refused).  NULL: MGOV_OK.
 * No other thread may use gov, and no grant may be released, during or
 * after the call. */
MGOV_API int mgov_destroy(mgov_t *gov);

MGOV_API uint64_t mgov_budget(const mgov_t *gov); /* bytes; 0 for NULL */
MGOV_API uint64_t mgov_used(const mgov_t *gov);   /* bytes granted now; 0 for NULL */

/* Changes the budget at run time (thresholds keep their fractions).  Growing
 * wakes waiters; shrinking below current usage runs reclaim and admits no
 * ordinary request until usage is back under the new ceiling.  Requests that
 * can no longer ever fit fail with MGOV_ELIMIT, waiters included.  Errors:
 * MGOV_EINVAL (NULL, 0, over MGOV_BUDGET_MAX, or below the sum of regions'
 * reservations). */
MGOV_API int mgov_set_budget(mgov_t *gov, uint64_t bytes);

/* The configured spill directory, or NULL when the default applies.  Valid
 * until mgov_destroy. */
MGOV_API const char *mgov_spill_dir(const mgov_t *gov);
MGOV_API uint64_t mgov_spill_quota(const mgov_t *gov); /* configured; 0 = default */

/* ----------------------------------------------------------------- regions */

/* Default regions, in this order.  With cfg->regions the user names their
 * own, and the spill-staging role goes to the one named "spill_staging". */
enum {
    MGOV_REGION_GRAPH_STORAGE,
    MGOV_REGION_INDEX_BUFFERS,
    MGOV_REGION_EXECUTION_BUFFERS,
    MGOV_REGION_SPILL_STAGING
};

/* Changes a region's reservation and limit at run time (limit 0: none).
 * The new limit applies to every request admitted after the call; usage
 * above it (a shrink below what the region holds) is not taken away at
 * once: the call runs a reclaim pass on that region's consumers, and the
 * region admits nothing until it is back under the limit, which blocks no
 * other region.  A larger limit or a smaller reservation wakes waiters.
 * Requests that can no longer ever fit fail with MGOV_ELIMIT, waiters
 * included.  A reservation guarantees bytes once they are free; what other
 * regions borrowed revocably comes back by reclaim.  Changing a
 * reservation needs a governor that tracks them (one created with a
 * reservation or with MGOV_RESERVATIONS).  Each call is an MGOV_EV_REGION
 * event.  With MGOV_REBALANCE, the limit set here is the region's own:
 * what the rebalancer lent or borrowed is settled first.  Errors:
 * MGOV_EINVAL (NULL, bad region, limit below reserved, reservations over
 * the budget), MGOV_ENOTSUP (a reservation on a governor that does not
 * track them). */
MGOV_API int mgov_region_set(mgov_t *gov, int region, uint64_t reserved, uint64_t limit);

/* A region's reservation and limit in force now (the limit includes what
 * the rebalancer moved).  Either out may be NULL.  MGOV_EINVAL for bad
 * arguments. */
MGOV_API int mgov_region_get(const mgov_t *gov, int region, uint64_t *reserved,
                             uint64_t *limit);

/* Index of the region named `name`, or MGOV_ENOTFOUND (MGOV_EINVAL for NULL
 * arguments). */
MGOV_API int mgov_region_find(const mgov_t *gov, const char *name);
MGOV_API unsigned mgov_region_count(const mgov_t *gov);
/* The region's name, or NULL for an index out of range.  Valid until destroy. */
MGOV_API const char *mgov_region_name(const mgov_t *gov, int region);

/* ------------------------------------------------------------------ grants */

/* A reservation of bytes in one region.  Caller-owned: copy it, keep it in
 * your structs; release it exactly when the memory it stands for is gone.
 * Release is idempotent (it zeroes the grant).  Treat the fields as
 * read-only. */
typedef struct mgov_grant {
    mgov_t *gov;    /* NULL when empty or released */
    uint64_t bytes;
    int region;
    unsigned flags; /* the flags it was reserved with; used when it grows */
} mgov_grant_t;
#define MGOV_GRANT_INIT { 0 }

enum {
    MGOV_URGENT = 1u,     /* may use the headroom above the critical threshold */
    MGOV_REVOCABLE = 2u,  /* may borrow other regions' unused reservations */
    MGOV_NO_RECLAIM = 4u, /* fail fast: do not run reclaim on the way */
};

/* Reserves `bytes` (0 is allowed: an empty live grant) in `region` without
 * waiting.  When the request does not fit it runs at most one bounded
 * reclaim pass (unless MGOV_NO_RECLAIM) and tries once more.
 * On success *out holds the grant.  On failure *out is an empty grant.
 * Errors: MGOV_EINVAL (NULL gov/out, bad region, unknown flags),
 * MGOV_ELIMIT (can never fit), MGOV_EBUDGET (does not fit now, or an earlier
 * waiter has precedence; see Fairness). */
MGOV_API int mgov_try_reserve(mgov_t *gov, int region, uint64_t bytes, unsigned flags,
                              mgov_grant_t *out);

/* Like mgov_try_reserve, but when the request does not fit it reclaims and
 * waits in FIFO order until it fits or `timeout_ns` passes (< 0: forever).
 * A timeout of 0 does not wait: it is exactly mgov_try_reserve (one
 * attempt, MGOV_EBUDGET when it does not fit), as 0 means "do not wait"
 * for every timeout in memgov.  Errors: as mgov_try_reserve, with
 * MGOV_ETIMEDOUT in place of MGOV_EBUDGET when it waited, and MGOV_ELIMIT
 * when a set_budget shrink makes the request impossible while it waits. */
MGOV_API int mgov_reserve(mgov_t *gov, int region, uint64_t bytes, unsigned flags,
                          int64_t timeout_ns, mgov_grant_t *out);

/* Grows or shrinks a live grant to new_bytes.  Shrinking never fails and
 * wakes waiters.  Growing follows the admission rule for the difference,
 * with the grant's own flags, like mgov_try_reserve; on failure the grant is
 * unchanged.  Errors: MGOV_EINVAL (NULL or released grant), MGOV_ELIMIT,
 * MGOV_EBUDGET. */
MGOV_API int mgov_grant_resize(mgov_grant_t *g, uint64_t new_bytes);

/* Moves `bytes` of g into a new grant *out (same governor, region, flags);
 * g keeps the rest.  Errors: MGOV_EINVAL (NULL, released grant, out == g, or
 * bytes > g->bytes). */
MGOV_API int mgov_grant_split(mgov_grant_t *g, uint64_t bytes, mgov_grant_t *out);

/* Moves all of `from` into `into`; `from` becomes empty (released).
 * Errors: MGOV_EINVAL (NULL, released, the same grant, different governors
 * or regions).  Flags of `into` are kept. */
MGOV_API int mgov_grant_merge(mgov_grant_t *into, mgov_grant_t *from);

/* Returns the grant's bytes to the budget and empties it.  Idempotent;
 * NULL and empty grants are ignored.  Never blocks on a reclaim; may wake
 * waiters. */
MGOV_API void mgov_grant_release(mgov_grant_t *g);

/* ---------------------------------------------------------------- pressure */

/* XX(NAME, value, name): MGOV_PRESSURE_NAME and what mgov_pressure_name
 * says, from this one list (as MGOV_STATUS_MAP in memgov/common.h). */
#define MGOV_PRESSURE_MAP(XX)                                                                      \
    XX(NORMAL, 0, "normal")                                                                        \
    XX(MODERATE, 1, "moderate")                                                                    \
    XX(HIGH, 2, "high")                                                                            \
    XX(CRITICAL, 3, "critical")

typedef enum {
#define MGOV__PRESSURE_ENUM(name, value, str) MGOV_PRESSURE_##name = (value),
    MGOV_PRESSURE_MAP(MGOV__PRESSURE_ENUM)
#undef MGOV__PRESSURE_ENUM
} mgov_pressure_t;

/* The current level (with MGOV_RSS_PRESSURE, RSS is sampled at most every
 * millisecond).  NORMAL for NULL. */
MGOV_API mgov_pressure_t mgov_pressure(const mgov_t *gov);
/* "normal", "moderate", "high", "critical"; "unknown" otherwise. */
MGOV_API const char *mgov_pressure_name(mgov_pressure_t level);

/* Tells the governor that the system is short of memory, as a kernel
 * pressure signal would (MGOV_KERNEL_PRESSURE): it reclaims, evicting then
 * spilling, an eighth of what it holds (at least 1 MiB) even when under
 * its budget, returns free heap pages to the system (malloc_trim, heaps),
 * and reports an MGOV_EV_KERNEL_PRESSURE event named `source` (NULL:
 * "user").  For programs that hear about pressure themselves (their own
 * event loop, a container runtime).  Returns the bytes the consumers
 * freed; 0 for NULL gov. */
MGOV_API uint64_t mgov_pressure_signal(mgov_t *gov, const char *source);

/* --------------------------------------------------------------- consumers */

typedef enum {
    MGOV_TIER_UNINITIALIZED,
    MGOV_TIER_IN_MEMORY,
    MGOV_TIER_ON_DISK
} mgov_tier_t;

/* "uninitialized", "in_memory", "on_disk"; "unknown" otherwise.  Static. */
MGOV_API const char *mgov_tier_name(mgov_tier_t tier);

/* What a consumer can do.  Any op may be NULL: not supported.  Every op is
 * called with no governor lock held and may re-enter the governor; ops of
 * one consumer may be called from several threads at once (a reclaim pass
 * and an explicit mgov_spill_consumer, say).  A consumer may release its
 * grants later than the callback returns (at its next safe point); waiters
 * are woken when it does.
 *
 * When ops run: from the moment mgov_consumer_register has listed the
 * consumer, which is before it returns (another thread's reclaim may pick
 * it at once), so ctx must be ready before the call; never when register
 * fails; never again once mgov_consumer_unregister has returned.
 *
 * The table can grow: `version` says which fields the caller's header had
 * (set MGOV_CONSUMER_OPS_VERSION; 0 is read as 1), and the library reads
 * only those, so a program built against an older header keeps working
 * with a newer library, and a newer program's extra ops are ignored by an
 * older library. */
#define MGOV_CONSUMER_OPS_VERSION 1
typedef struct mgov_consumer_ops {
    unsigned version; /* MGOV_CONSUMER_OPS_VERSION, or 0 */
    /* Bytes it holds in RAM now; for a spilled consumer, the bytes it would
     * hold once reloaded (used by mgov_reload_eligible). */
    uint64_t (*usage)(void *ctx);
    /* Drop cold data worth about `target` bytes; returns bytes freed. */
    uint64_t (*evict)(void *ctx, uint64_t target);
    /* Move data worth about `target` bytes to disk; *freed = bytes released.
     * Returns MGOV_OK or an error (reported in an event, reclaim goes on). */
    int (*spill)(void *ctx, uint64_t target, uint64_t *freed);
    /* Bring spilled data back into RAM; MGOV_OK or an error.  MGOV_ENOTSUP
     * means "stays on disk by policy" (mgov_reload_eligible skips it
     * silently); usage should then report 0. */
    int (*reload)(void *ctx);
    /* Where the data is now.  A consumer that says MGOV_TIER_ON_DISK is not
     * asked to spill (reclaim, mgov_spill_all, mgov_spill_consumer). */
    mgov_tier_t (*tier)(void *ctx);
} mgov_consumer_ops_t;

enum { MGOV_FORCE_RAM = 1u }; /* never spilled (evict still applies) */

/* Standard priorities, as in the seeds: lower is reclaimed first. */
#define MGOV_PRIORITY_SPILL_STAGING 10u
#define MGOV_PRIORITY_QUERY_CACHE 30u
#define MGOV_PRIORITY_EXECUTION_BUFFERS 40u
#define MGOV_PRIORITY_INDEX_BUFFERS 50u
#define MGOV_PRIORITY_IDLE_TRANSACTION 70u
#define MGOV_PRIORITY_GRAPH_STORAGE 100u
#define MGOV_PRIORITY_ACTIVE_TRANSACTION 200u

typedef struct mgov_consumer_config {
    const char *name;  /* 1..MGOV_NAME_MAX printable ASCII bytes, unique; copied */
    int region;        /* the region its memory is charged to */
    unsigned priority; /* lower is reclaimed first */
    unsigned flags;    /* MGOV_FORCE_RAM */
    const mgov_consumer_ops_t *ops; /* copied; must not be NULL */
    void *ctx;         /* passed to every op; owned by the caller */
} mgov_consumer_config_t;

/* Registers a consumer.  Errors: MGOV_EINVAL (NULL arguments, bad name,
 * region, flags), MGOV_EEXIST (name taken), MGOV_ENOMEM. */
MGOV_API int mgov_consumer_register(mgov_t *gov, const mgov_consumer_config_t *cfg,
                                    mgov_consumer_t **out);

/* Unregisters and frees the handle.  Returns only after every callback of
 * this consumer in flight in other threads has ended, so ctx may be freed
 * right after.  Called from inside one of its own callbacks, it waits for the
 * other threads' callbacks and returns; the handle is freed when the running
 * callback returns (the governor does not touch ctx after that).  NULL:
 * MGOV_OK, nothing done.  The handle must not be used after this call. */
MGOV_API int mgov_consumer_unregister(mgov_consumer_t *c);

/* Marks the consumer as recently used (least recently touched is reclaimed
 * first within a priority).  Cheap; NULL is ignored. */
MGOV_API void mgov_consumer_touch(mgov_consumer_t *c);

/* Turns MGOV_FORCE_RAM on or off.  MGOV_EINVAL for NULL. */
MGOV_API int mgov_consumer_set_force_ram(mgov_consumer_t *c, bool on);

/* The consumer's name (a copy the library owns), valid until the consumer
 * is unregistered; NULL for NULL. */
MGOV_API const char *mgov_consumer_name(const mgov_consumer_t *c);

/* Runs one reclaim pass now, asking consumers for `target_bytes`: at
 * MODERATE only evict, at HIGH or CRITICAL evict then spill; NORMAL does
 * nothing.  Victims: lowest priority first, least recently touched first
 * within a priority; each gives what it can before the next is asked.  If a
 * pass is already running, waits for it and returns its result.  Returns the
 * bytes the consumers reported freed. */
MGOV_API uint64_t mgov_reclaim(mgov_t *gov, uint64_t target_bytes, mgov_pressure_t level);

/* Spills every consumer that can spill and is not MGOV_FORCE_RAM, lowest
 * priority first.  Returns MGOV_OK, or the first error a consumer returned
 * (the others are still spilled). */
MGOV_API int mgov_spill_all(mgov_t *gov);

/* Spills the consumer named `name`.  Errors: MGOV_ENOTFOUND, MGOV_EBUSY
 * (MGOV_FORCE_RAM), MGOV_ENOTSUP (no spill op), or the consumer's error. */
MGOV_API int mgov_spill_consumer(mgov_t *gov, const char *name);

/* Reloads spilled consumers (tier ON_DISK, with a reload op), highest
 * priority first, stopping before used + the next one's usage would pass
 * target_fraction x budget.  A reload that fails is reported
 * (MGOV_EV_RELOAD_FAILED) and skipped.  Returns how many were reloaded. */
MGOV_API unsigned mgov_reload_eligible(mgov_t *gov, double target_fraction);

/* Calls fn for every registered consumer with its name, region, priority and
 * tier (NULL tier op: IN_MEMORY when usage > 0, else UNINITIALIZED).
 * Observability only: it moves nothing.  fn runs with no lock held. */
MGOV_API int mgov_consumer_foreach(mgov_t *gov,
                                   void (*fn)(void *arg, const char *name, int region,
                                              unsigned priority, mgov_tier_t tier),
                                   void *arg);

/* ------------------------------------------------------------------ events */

/* XX(NAME, value, name): MGOV_EV_NAME and what mgov_event_type_name says,
 * from this one list; above each, the fields its events carry. */
#define MGOV_EVENT_TYPE_MAP(XX)                                                                    \
    /* level changed: level, old_level, used */                                                    \
    XX(PRESSURE, 0, "pressure")                                                                    \
    /* a pass ended: bytes (asked), freed, duration_ns, level */                                   \
    XX(RECLAIM, 1, "reclaim")                                                                      \
    /* consumer evicted: name, region, bytes (asked), freed */                                     \
    XX(EVICTED, 2, "evicted")                                                                      \
    /* consumer spilled: name, region, bytes (asked), freed */                                     \
    XX(SPILLED, 3, "spilled")                                                                      \
    /* consumer's spill failed: name, region, status */                                            \
    XX(SPILL_FAILED, 4, "spill_failed")                                                            \
    /* consumer reloaded: name, region, bytes (its usage) */                                       \
    XX(RELOADED, 5, "reloaded")                                                                    \
    /* consumer's reload failed: name, region, status */                                           \
    XX(RELOAD_FAILED, 6, "reload_failed")                                                          \
    /* request refused: region, bytes, status */                                                   \
    XX(REFUSED, 7, "refused")                                                                      \
    /* request starts waiting: region, bytes */                                                    \
    XX(WAIT, 8, "wait")                                                                            \
    /* a waiting request was granted: region, bytes, duration_ns */                                \
    XX(WAITED, 9, "waited")                                                                        \
    /* a waiting request timed out: region, bytes, duration_ns */                                  \
    XX(TIMEOUT, 10, "timeout")                                                                     \
    /* at destroy: region, count (grants), bytes */                                                \
    XX(LEAKED_GRANTS, 11, "leaked_grants")                                                         \
    /* at destroy: name, region */                                                                 \
    XX(LEAKED_CONSUMER, 12, "leaked_consumer")                                                     \
    /* budget changed: bytes (new), used */                                                        \
    XX(BUDGET, 13, "budget")                                                                       \
    /* a tier override applied at open: name, region, count                                        \
     * (the mgov_section_override_t), bytes (length) */                                            \
    XX(OVERRIDE, 14, "override")                                                                   \
    /* at heap destroy: name (the heap), region, count (blocks), bytes */                          \
    XX(LEAKED_BLOCKS, 15, "leaked_blocks")                                                         \
    /* a kernel pressure signal: name (its source), bytes (asked), freed, used */                  \
    XX(KERNEL_PRESSURE, 16, "kernel_pressure")                                                     \
    /* a pressure source at create: name (source), status (MGOV_OK:                                \
     * watched; else why it was skipped), count (1 notifies, 0 is read                             \
     * every watch_interval_ms) */                                                                 \
    XX(PRESSURE_SOURCE, 17, "pressure_source")                                                     \
    /* mgov_region_set: region, count (reserved), bytes (limit), used                              \
     * (the region's bytes) */                                                                     \
    XX(REGION, 18, "region")                                                                       \
    /* the rebalancer moved limit: region (the borrower), name (the                                \
     * lender region), bytes (moved), count (1 lent, 0 given back), used                           \
     * (the borrower's bytes) */                                                                   \
    XX(REBALANCE, 19, "rebalance")                                                                 \
    /* the stats file (MEMGOV_STATS): name (its path), status (MGOV_OK:                            \
     * written from now on; else why not) */                                                       \
    XX(STATS_FILE, 20, "stats_file")                                                               \
    /* a section file moved into its spill directory's quarantine, not                             \
     * deleted (memgov/section.h): name (its name in the quarantine), bytes                        \
     * (its size), status MGOV_OK; or a move that failed: name (its name in                        \
     * the directory, where it stays), status (why) */                                             \
    XX(QUARANTINED, 21, "quarantined")

typedef enum mgov_event_type {
#define MGOV__EVENT_TYPE_ENUM(name, value, str) MGOV_EV_##name = (value),
    MGOV_EVENT_TYPE_MAP(MGOV__EVENT_TYPE_ENUM)
#undef MGOV__EVENT_TYPE_ENUM
} mgov_event_type_t;

typedef struct mgov_event {
    mgov_event_type_t type;
    uint64_t seq;            /* increases by one per event of this governor */
    uint64_t time_ns;        /* CLOCK_MONOTONIC */
    mgov_pressure_t level, old_level;
    int region;              /* -1 when not about one region */
    const char *region_name; /* NULL when region is -1 */
    const char *name;        /* consumer name, or NULL */
    uint64_t bytes, freed, used, count, duration_ns;
    int status;
} mgov_event_t;

/* The callback (cfg->on_event) may run in any thread, from several threads
 * at once, and in any order across threads (seq tells the order events were
 * made).  Strings in the event are valid only during the call. */
MGOV_API const char *mgov_event_type_name(mgov_event_type_t type);

/* Formats an event as one line for people ("pressure normal -> moderate
 * (used 70.1 MiB)", ...), snprintf-like. */
MGOV_API size_t mgov_event_format(const mgov_event_t *ev, char *buf, size_t cap);

/* ------------------------------------------------------------------- stats */

typedef struct mgov_region_stats {
    char name[MGOV_NAME_MAX + 1];
    uint64_t used, peak, reserved, limit;
    uint64_t live_grants;
    uint64_t refusals;    /* requests refused (EBUDGET, ELIMIT, ETIMEDOUT) */
    uint64_t waits;       /* requests that had to wait */
    uint64_t wait_ns;     /* total time spent waiting */
    uint64_t timeouts;
} mgov_region_stats_t;

/* The heaps of one region, added up (memgov/heap.h, mgov_heap_stats_t). */
typedef struct mgov_region_heap_stats {
    uint64_t heaps;     /* heaps charging the region */
    uint64_t allocated; /* usable bytes of their blocks alive */
    uint64_t charged;   /* bytes they hold of the region: allocated + slack */
    uint64_t resident;  /* bytes their allocator holds from the system */
    uint64_t dirty;     /* of those, free pages not yet returned */
    uint64_t mallocs, frees;
} mgov_region_heap_stats_t;

typedef struct mgov_stats {
    uint64_t budget, used, peak;
    double moderate, high, critical, hysteresis;
    mgov_pressure_t pressure;
    uint64_t pressure_transitions;
    uint64_t reclaim_passes, reclaim_asked, reclaim_freed;
    uint64_t malloc_trims;    /* heap given back after passes that freed >= budget/16 */
    uint64_t evictions, spills, spill_failures, reloads, reload_failures;
    uint64_t rss, rss_peak;   /* bytes; sampled at the call */
    uint64_t consumers;       /* registered now */
    uint64_t waiters;         /* requests waiting now */
    uint64_t spill_bytes;     /* bytes in spill files on disk now (spill.h) */
    uint64_t spill_bytes_peak;
    uint64_t spill_quota;     /* quota in force; 0 until the spill directory is made */
    unsigned n_regions;
    mgov_region_stats_t regions[MGOV_MAX_REGIONS];

    /* Added in 0.2, appended: every field above keeps its offset (the
     * struct grew: programs built against 0.1's header must be rebuilt). */
    /* The process's memory as the kernel counts it: memory.current of the
     * cgroup v2 the process owns (is alone in), else RSS. */
    uint64_t real;
    uint64_t untracked;       /* real - used (0 when used is larger): outside the governor */
    uint64_t cgroup_current;  /* memory.current of the owned cgroup v2; 0 otherwise */
    uint64_t cgroup_anon;     /* its memory.stat "anon"; 0 otherwise */
    uint64_t kernel_signals;  /* kernel pressure signals (and mgov_pressure_signal calls) */
    uint64_t rebalance_moves; /* limit moves the rebalancer made */
    uint64_t heaps;           /* heaps alive */
    /* Per region (same index as regions[]): its heaps added up. */
    mgov_region_heap_stats_t heap[MGOV_MAX_REGIONS];
    /* Section files moved into the quarantine (memgov/section.h), since
     * create: each is an MGOV_EV_QUARANTINED event too. */
    uint64_t sections_quarantined;
} mgov_stats_t;

/* A snapshot.  Event counters (refusals, waits, reclaim...) only grow and
 * are read once each; `used` and the regions' bytes are re-read until two
 * reads agree (bounded), so with no grant changing concurrently the regions
 * sum to `used` exactly.  RSS is sampled during the call.  Errors:
 * MGOV_EINVAL for NULL. */
MGOV_API int mgov_stats(const mgov_t *gov, mgov_stats_t *out);

/* The snapshot as one JSON object, snprintf-like: returns the length the
 * whole text needs (excluding the NUL), writes at most cap bytes including
 * the NUL.  0 for a NULL governor. */
MGOV_API size_t mgov_stats_json(const mgov_t *gov, char *buf, size_t cap);

/* The snapshot in Prometheus' text exposition format (metric names
 * memgov_..., per-region metrics labelled region="name"), snprintf-like. */
MGOV_API size_t mgov_stats_prometheus(const mgov_t *gov, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* MEMGOV_GOVERNOR_H */
