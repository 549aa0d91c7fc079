/* Replaying a heaptrace on the real library.
 *
 * The replay holds the trace's live objects in a root table outside the heap. `a` allocates and
 * adds the object to the table, `d` removes it (it stays allocated until a collection finds it
 * unreachable), `f` frees it, `r` reallocates it (moving allowed), `c` collects. Every collection
 * is the library's own, triggered by the library (on failure, at the threshold) or by a `c` line;
 * the config's collect callback marks from the root table. Objects' memory stays zero (bh_alloc
 * zeroes it and the replay never writes into it), so marking is exactly root-table driven.
 *
 * One bh_replayer per thread; it keeps its buffers from run to run, so a search that replays the
 * same trace at many sizes allocates nothing per run. */
#ifndef BH_TOOLS_REPLAY_H
#define BH_TOOLS_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockheap.h"
#include "trace.h"

/* ---- policies by name */
size_t bh_policy_count(void);
bh_policy bh_policy_at(size_t i);
const char *bh_policy_to_name(bh_policy p);
bool bh_policy_from_name(const char *s, bh_policy *p);
/* "micropython, ..." for usage messages */
const char *bh_policy_names(void);

/* Which allocation-site token the replay gives the library (bh_alloc_site). */
typedef enum bh_site_mode {
    BH_SITES_BOTH = 0, /* C site and Python line: (site << 32) | pysite, their interned ids */
    BH_SITES_C,        /* the C call chain only (what a runtime gives cheaply: a return address) */
    BH_SITES_NONE      /* 0 */
} bh_site_mode;
bool bh_site_mode_from_name(const char *s, bh_site_mode *m);

/* ---- a small edit of the trace, applied on the fly (no copy of the trace) */
typedef enum bh_edit_kind {
    BH_EDIT_NONE = 0,
    BH_EDIT_EXTRA,   /* one extra object of `bytes`, allocated before event `at`, never freed */
    BH_EDIT_GROW,    /* object `obj` is `bytes` bigger at its `a` and at each of its `r` */
    BH_EDIT_BURST    /* before event `at`: `count` temporaries of burst_bytes[i], then all dead */
} bh_edit_kind;

#define BH_EDIT_BURST_MAX 8

typedef struct bh_trace_edit {
    bh_edit_kind kind;
    size_t at;          /* EXTRA, BURST: event index the edit goes before (nevents: at the end) */
    uint32_t obj;       /* GROW */
    uint32_t bytes;     /* EXTRA, GROW */
    uint32_t count;     /* BURST */
    uint32_t burst_bytes[BH_EDIT_BURST_MAX];
} bh_trace_edit;

/* ---- one replay */
typedef struct bh_replay_config {
    size_t heap_bytes;        /* the arena */
    size_t block_bytes;       /* 0: the trace's `block` */
    bh_policy policy;
    size_t threshold_blocks;  /* 0: off */
    bool without_finalisers;  /* default: finalisers on, as MicroPython's unix port */
    bh_site_mode sites;
    const bh_trace_edit *edit; /* NULL: the trace as it is */
    /* Host semantics of particular allocation sites, indexed by interned site id (NULL: none);
     * see bh_site_flags_build. */
    const uint8_t *site_flags;
    /* Lifetimes from the trace's future, indexed by object (NULL: off): 1 = the allocation carries
     * BH_LONG_LIVED. With it no site token is given, so what a policy learns plays no part: this is
     * what perfect host hints would give (see bh_oracle_long_lived), a bound, not a policy. */
    const uint8_t *oracle_long;
    uint32_t oracle_age;      /* --oracle-hints AGE (0: off); oracle_long is built with it */
    /* Called after each event of the trace that ran (event: its 0-based index), with the heap as
     * the event left it; NULL: none. For tools that watch the heap move (browse). */
    void (*observe)(void *observe_ctx, const bh_heap *h, size_t event);
    void *observe_ctx;
} bh_replay_config;

/* Site flags: what the host program does at an allocation site that the trace cannot say. */
#define BH_SITE_FALLIBLE 0x1u  /* a failed `a` here is not fatal: the host carries on without the
                                  object (MicroPython's m_new_*_maybe with a fallback, e.g. a
                                  function's frame going on the C stack instead: fun_bc_call) */
#define BH_SITE_IMMOVABLE 0x2u /* an `r` of an object allocated here is an in-place-only growth
                                  (m_renew_maybe, allow_move false: MicroPython's parser and qstr
                                  chunks). The trace recorded it as done; when the replayed heap
                                  cannot grow it in place, the host would have taken another path
                                  (kept the chunk, allocated a new one), so from there the trace is
                                  not what the host does at this heap size. The replay moves the
                                  object and counts a divergence. */

/* The host rules of MicroPython traces: fallible fun_bc_call (a frame goes on the C stack when
 * the heap has no room), in-place-only parser_alloc and qstr_from_strn_helper chunks. */
uint8_t *bh_site_flags_micropython(const bh_trace *t);

/* A table of flags per site id of t: `flag` for every site whose innermost function (the part of
 * the site token before the first '<') is one of names[0..n). Returns NULL if out of memory; the
 * caller frees it. Combine tables by OR-ing (pass `into` non-NULL to add to it). */
uint8_t *bh_site_flags_build(const bh_trace *t, uint8_t *into, const char *const *names, size_t n, uint8_t flag);

/* Per object of t: 1 if it lives at least min_age allocations (counted from its `a` to its first
 * `f` or `d`; an object never freed nor dead lives for ever), else 0. NULL if out of memory; the
 * caller frees it. */
uint8_t *bh_oracle_long_lived(const bh_trace *t, uint32_t min_age);
/* What the hints are, for the reports (printf format, the AGE as unsigned). */
#define BH_ORACLE_HINTS_FMT "BH_LONG_LIVED on every object that lives %u allocations or more"

typedef struct bh_replay_result {
    bool ran;                 /* false: the arena could not be set up (see `error`) */
    const char *error;
    bool completed;
    size_t heap_bytes, pool_blocks, block_bytes;
    size_t events;            /* events run, the failing one included */
    /* on failure */
    size_t failed_event;      /* 0-based index of the failing event */
    unsigned long failed_line;
    bh_trace_kind failed_kind;
    bool failed_in_edit;      /* the failing request was the edit's own */
    size_t tolerated;         /* failed allocations at BH_SITE_FALLIBLE sites the run went on from */
    size_t divergences;       /* in-place-only growths (BH_SITE_IMMOVABLE) that had to move */
    size_t first_divergence;  /* 0-based event of the first one (valid when divergences > 0) */
    uint32_t failed_obj;      /* dense index of the object (its site: t->site[failed_obj]) */
    bh_failure failure;       /* the library's diagnosis (bh_last_failure) */
    /* always */
    size_t collections;
    uint64_t peak_live_blocks, peak_live_bytes; /* objects allocated and not yet d/f */
    bh_info info;             /* final (at the failure, or at the end) */
    double seconds;
} bh_replay_result;

typedef struct bh_replayer {
    bh_heap heap;
    void *arena;
    size_t arena_cap, arena_align;
    /* the root table: roots[0..nroots) are the live objects' addresses; root_obj[i] is the object
     * in roots[i], slot_of[obj] its index there (for O(1) removal) */
    void **roots;
    uint32_t *root_obj;
    uint32_t *slot_of;
    uint32_t *size_of;        /* current bytes of each object */
    size_t nroots, objects_cap;
    size_t finalised;
} bh_replayer;

void bh_replayer_init(bh_replayer *rp);
void bh_replayer_free(bh_replayer *rp);
/* Runs t under cfg. Returns false only if it could not run (res->error says why). After it
 * returns, rp->heap is the heap as the replay left it (for bh_dump_map), until the next run. */
bool bh_replay(bh_replayer *rp, const bh_trace *t, const bh_replay_config *cfg, bh_replay_result *res);

/* ---- many independent replays on all cores */

/* Worker count for parallel runs: the online CPUs (at most 16), or BH_JOBS if set. */
unsigned bh_default_jobs(void);

/* Calls fn(i, rp, ctx) for i in [0, n) on `jobs` threads, each with its own replayer. */
typedef void (*bh_parallel_fn)(size_t i, bh_replayer *rp, void *ctx);
void bh_parallel_for(size_t n, unsigned jobs, bh_parallel_fn fn, void *ctx);

/* The pass/fail of one replay at each of n heap sizes (cfg->heap_bytes is ignored). */
typedef struct bh_size_run {
    size_t heap_bytes;
    bool ran, completed;
    size_t collections;
    size_t pool_blocks;
} bh_size_run;
void bh_replay_sizes(const bh_trace *t, const bh_replay_config *cfg, bh_size_run *runs, size_t n, unsigned jobs);

/* Seconds on a monotonic clock. */
double bh_now(void);


/* ---- command-line plumbing shared by replay, margin and fragility */

typedef struct bh_replay_cli {
    bh_replay_config cfg;
    unsigned jobs;
    bool allow_policy_all, policy_all; /* --policy all (margin) */
    bool host_micropython;             /* --host micropython (default) or none */
    uint8_t *site_flags;               /* built by bh_replay_cli_prepare */
    uint8_t *oracle_long;              /* built by bh_replay_cli_prepare when cfg.oracle_age > 0 */
} bh_replay_cli;

/* Defaults: policy micropython, the trace's block, no threshold, finalisers, host micropython. */
void bh_replay_cli_init(bh_replay_cli *o, bool allow_policy_all);
/* Options every replaying command takes: --policy P, --block B, --threshold BLOCKS,
 * --no-finalisers, --sites both|c|none, --host micropython|none, --oracle-hints AGE, --jobs N. Looks at argv[*i] (and
 * its value); returns 1 if it consumed it (advancing *i past the value), 0 if the option is not one
 * of these, -1 on a bad value (reported on stderr). */
int bh_replay_cli_option(bh_replay_cli *o, int argc, char **argv, int *i);
/* After the trace is loaded: builds the host's site rules (and the oracle's lifetimes) into o->cfg.
 * false if out of memory. */
bool bh_replay_cli_prepare(bh_replay_cli *o, const bh_trace *t);
void bh_replay_cli_free(bh_replay_cli *o);
/* Help text for those options. */
extern const char bh_replay_common_help[];
/* The same options without the struct (kept for the commands that use it): policy_all may be NULL
 * (then --policy all is refused). --host is accepted and ignored here: it needs the trace. */
int bh_replay_common_option(int argc, char **argv, int *i, bh_replay_config *cfg, unsigned *jobs,
                            bool *policy_all);

/* Loads a trace for a command, reporting malformed input (FILE:LINE:) itself. */
bool bh_replay_load(bh_trace *t, const char *path, bool progress);
/* Is stderr a terminal (progress lines are shown only then)? */
bool bh_stderr_is_tty(void);

#endif
