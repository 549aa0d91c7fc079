#include "replay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------- */
/* policies: the library has no names for them, so the tools keep the table (one line per policy) */

static const struct {
    const char *name;
    bh_policy policy;
} policy_names[] = {
    {"micropython", BH_POLICY_MICROPYTHON},
    {"bestfit", BH_POLICY_BESTFIT},
    {"lifetime", BH_POLICY_LIFETIME},
    {"firstfit_gc", BH_POLICY_FIRSTFIT_GC},
    {"adaptive", BH_POLICY_ADAPTIVE},
    {"adaptive_o1", BH_POLICY_ADAPTIVE_O1},
};
#define NPOLICIES (sizeof policy_names / sizeof policy_names[0])

size_t bh_policy_count(void) { return NPOLICIES; }
bh_policy bh_policy_at(size_t i) { return policy_names[i < NPOLICIES ? i : 0].policy; }

const char *bh_policy_to_name(bh_policy p)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        if (policy_names[i].policy == p)
            return policy_names[i].name;
    return "?";
}

bool bh_policy_from_name(const char *s, bh_policy *p)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        if (strcmp(policy_names[i].name, s) == 0) {
            *p = policy_names[i].policy;
            return true;
        }
    return false;
}

const char *bh_policy_names(void)
{
    static char buf[256];
    if (!buf[0]) {
        for (size_t i = 0; i < NPOLICIES; i++) {
            if (i)
                strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
            strncat(buf, policy_names[i].name, sizeof buf - strlen(buf) - 1);
        }
    }
    return buf;
}

bool bh_site_mode_from_name(const char *s, bh_site_mode *m)
{
    if (strcmp(s, "both") == 0)
        *m = BH_SITES_BOTH;
    else if (strcmp(s, "c") == 0)
        *m = BH_SITES_C;
    else if (strcmp(s, "none") == 0)
        *m = BH_SITES_NONE;
    else
        return false;
    return true;
}

double bh_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------------------------------------- */
/* the replayer */

void bh_replayer_init(bh_replayer *rp) { memset(rp, 0, sizeof *rp); }

void bh_replayer_free(bh_replayer *rp)
{
    free(rp->arena);
    free(rp->roots);
    free(rp->root_obj);
    free(rp->slot_of);
    free(rp->size_of);
    memset(rp, 0, sizeof *rp);
}

static void collect_from_roots(void *ctx, bh_heap *h)
{
    bh_replayer *rp = ctx;
    bh_collect_start(h);
    bh_collect_roots(h, (const void *const *)rp->roots, rp->nroots);
    bh_collect_end(h);
}

static void count_finalised(void *ctx, bh_heap *h, void *obj)
{
    (void)h;
    (void)obj;
    ((bh_replayer *)ctx)->finalised++;
}

static bool reserve(bh_replayer *rp, size_t objects)
{
    if (objects <= rp->objects_cap)
        return true;
    void **roots = realloc(rp->roots, objects * sizeof *roots);
    if (roots)
        rp->roots = roots;
    uint32_t *root_obj = realloc(rp->root_obj, objects * sizeof *root_obj);
    if (root_obj)
        rp->root_obj = root_obj;
    uint32_t *slot_of = realloc(rp->slot_of, objects * sizeof *slot_of);
    if (slot_of)
        rp->slot_of = slot_of;
    uint32_t *size_of = realloc(rp->size_of, objects * sizeof *size_of);
    if (size_of)
        rp->size_of = size_of;
    if (!roots || !root_obj || !slot_of || !size_of)
        return false;
    rp->objects_cap = objects;
    return true;
}

static bool setup_arena(bh_replayer *rp, size_t bytes, size_t align)
{
    if (rp->arena && rp->arena_cap >= bytes && rp->arena_align == align)
        return true;
    free(rp->arena);
    rp->arena = NULL;
    rp->arena_cap = 0;
    void *p = NULL;
    /* malloc'd memory as MicroPython's unix port gets it for -X heapsize (16-aligned), aligned to
     * the block as well so the pool is what bh_pool_blocks_for predicts */
    if (posix_memalign(&p, align, bytes ? bytes : 1) != 0)
        return false;
    rp->arena = p;
    rp->arena_cap = bytes;
    rp->arena_align = align;
    return true;
}

static inline void root_add(bh_replayer *rp, uint32_t obj, void *p)
{
    size_t slot = rp->nroots++;
    rp->roots[slot] = p;
    rp->root_obj[slot] = obj;
    rp->slot_of[obj] = (uint32_t)slot;
}

static inline void root_remove(bh_replayer *rp, uint32_t obj)
{
    size_t slot = rp->slot_of[obj];
    size_t last = --rp->nroots;
    if (slot != last) {
        uint32_t moved = rp->root_obj[last];
        rp->roots[slot] = rp->roots[last];
        rp->root_obj[slot] = moved;
        rp->slot_of[moved] = (uint32_t)slot;
    }
}

static inline uint64_t blocks_of(uint64_t bytes, unsigned shift, uint64_t mask)
{
    return (bytes >> shift) + ((bytes & mask) != 0);
}

typedef struct replay_run {
    bh_replayer *rp;
    bh_heap *h;
    unsigned shift;
    uint64_t mask;
    uint64_t live_blocks, live_bytes;
    bh_replay_result *res;
} replay_run;

static inline void account(replay_run *run, uint64_t old_bytes, uint64_t new_bytes)
{
    run->live_blocks += blocks_of(new_bytes, run->shift, run->mask);
    run->live_blocks -= blocks_of(old_bytes, run->shift, run->mask);
    run->live_bytes += new_bytes;
    run->live_bytes -= old_bytes;
    if (run->live_blocks > run->res->peak_live_blocks)
        run->res->peak_live_blocks = run->live_blocks;
    if (run->live_bytes > run->res->peak_live_bytes)
        run->res->peak_live_bytes = run->live_bytes;
}

/* Allocates an object that the trace does not have (an edit's); false if the heap has no room. */
static bool alloc_extra(replay_run *run, uint32_t obj, uint32_t bytes)
{
    void *p = bytes ? bh_alloc(run->h, bytes, 0) : NULL;
    if (bytes && !p)
        return false;
    root_add(run->rp, obj, p);
    run->rp->size_of[obj] = bytes;
    account(run, 0, bytes);
    return true;
}

static void drop_extra(replay_run *run, uint32_t obj)
{
    root_remove(run->rp, obj);
    account(run, run->rp->size_of[obj], 0);
    run->rp->size_of[obj] = 0;
}

/* The edit's insertion at event i; false if one of its allocations failed. */
static bool apply_edit(replay_run *run, const bh_trace *t, const bh_trace_edit *edit)
{
    uint32_t first = t->nobjects; /* the edit's objects come after the trace's */
    switch (edit->kind) {
    case BH_EDIT_EXTRA: return alloc_extra(run, first, edit->bytes);
    case BH_EDIT_BURST:
        for (uint32_t k = 0; k < edit->count && k < BH_EDIT_BURST_MAX; k++)
            if (!alloc_extra(run, first + k, edit->burst_bytes[k]))
                return false;
        for (uint32_t k = 0; k < edit->count && k < BH_EDIT_BURST_MAX; k++)
            drop_extra(run, first + k);
        return true;
    default: return true;
    }
}

static void fail_at(replay_run *run, const bh_trace *t, size_t i, bh_trace_kind kind, bool in_edit)
{
    bh_replay_result *res = run->res;
    res->completed = false;
    res->failed_event = i;
    res->failed_line = i < t->nevents ? bh_trace_line(t, i) : 0;
    res->failed_kind = kind;
    res->failed_in_edit = in_edit;
    res->failed_obj = in_edit || i >= t->nevents ? UINT32_MAX : bh_packed_obj(t->events[i]);
    res->events = i + 1;
    bh_last_failure(run->h, &res->failure);
}

bool bh_replay(bh_replayer *rp, const bh_trace *t, const bh_replay_config *cfg, bh_replay_result *res)
{
    memset(res, 0, sizeof *res);
    double t0 = bh_now();
    size_t block = cfg->block_bytes ? cfg->block_bytes : t->block_bytes;
    res->heap_bytes = cfg->heap_bytes;
    res->block_bytes = block;
    if (!reserve(rp, (size_t)t->nobjects + BH_EDIT_BURST_MAX + 1)) {
        res->error = "out of memory for the root table";
        return false;
    }
    size_t align = block > 16 ? block : 16;
    if (!setup_arena(rp, cfg->heap_bytes, align)) {
        res->error = "cannot allocate the arena";
        return false;
    }
    bh_config hc = {
        .block_bytes = block,
        .without_finalisers = cfg->without_finalisers,
        .policy = cfg->policy,
        .threshold_blocks = cfg->threshold_blocks,
        .collect = collect_from_roots,
        .finalise = count_finalised,
        .ctx = rp,
    };
    rp->nroots = 0;
    rp->finalised = 0;
    bh_heap *h = &rp->heap;
    if (!bh_init(h, rp->arena, cfg->heap_bytes, &hc)) {
        res->error = "bh_init refused the arena (too small; a bad block size for this machine; or, for "
                     "lifetime, firstfit_gc, adaptive and adaptive_o1, blocks under 16 bytes or 2^26 blocks or more)";
        return false;
    }
    res->ran = true;
    res->pool_blocks = h->pool_blocks;

    unsigned shift = 0;
    while (((size_t)1 << shift) < block)
        shift++;
    replay_run run = {.rp = rp, .h = h, .shift = shift, .mask = block - 1, .res = res};
    const bh_trace_edit *edit = cfg->edit && cfg->edit->kind != BH_EDIT_NONE ? cfg->edit : NULL;
    size_t edit_at = edit && edit->kind != BH_EDIT_GROW ? edit->at : SIZE_MAX;
    uint32_t grow_obj = edit && edit->kind == BH_EDIT_GROW ? edit->obj : UINT32_MAX;
    const uint32_t *site = t->site, *pysite = t->pysite;
    const uint8_t *site_flags = cfg->site_flags;
    const uint8_t *oracle_long = cfg->oracle_long;
    bh_site_mode sites = cfg->sites;
    void **roots = rp->roots;
    uint32_t *slot_of = rp->slot_of, *size_of = rp->size_of;

    res->completed = true;
    size_t n = t->nevents;
    for (size_t i = 0; i < n; i++) {
        if (i == edit_at && !apply_edit(&run, t, edit)) {
            fail_at(&run, t, i, BH_EV_ALLOC, true);
            goto done;
        }
        bh_trace_packed e = t->events[i];
        uint32_t obj = bh_packed_obj(e);
        uint32_t bytes = e.bytes;
        if (obj == grow_obj && bytes > 0)
            bytes = bytes > UINT32_MAX - edit->bytes ? UINT32_MAX : bytes + edit->bytes;
        switch (bh_packed_kind(e)) {
        case BH_EV_ALLOC: {
            void *p = NULL;
            if (bytes) {
                uintptr_t token = 0;
                unsigned flags = bh_packed_fin(e) ? BH_FINALISER : 0;
                if (oracle_long)
                    flags |= oracle_long[obj] ? BH_LONG_LIVED : 0;
                else if (sites == BH_SITES_BOTH)
                    token = (uintptr_t)(((uint64_t)site[obj] << 32) | pysite[obj]);
                else if (sites == BH_SITES_C)
                    token = site[obj];
                p = bh_alloc_site(h, bytes, flags, token);
                if (!p && site_flags && (site_flags[site[obj]] & BH_SITE_FALLIBLE)) {
                    res->tolerated++; /* the host goes on without the object */
                    root_add(rp, obj, NULL);
                    size_of[obj] = 0;
                    break;
                }
                if (!p) {
                    fail_at(&run, t, i, BH_EV_ALLOC, false);
                    goto done;
                }
            }
            root_add(rp, obj, p);
            size_of[obj] = bytes;
            account(&run, 0, bytes);
            break;
        }
        case BH_EV_FREE:
            bh_free(h, roots[slot_of[obj]]);
            root_remove(rp, obj);
            account(&run, size_of[obj], 0);
            size_of[obj] = 0;
            break;
        case BH_EV_REALLOC: {
            void *p = roots[slot_of[obj]];
            void *np = bh_realloc(h, p, bytes, true);
            if (np != p && p && np && site_flags && (site_flags[site[obj]] & BH_SITE_IMMOVABLE) &&
                res->divergences++ == 0)
                res->first_divergence = i;
            if (bytes == 0) { /* gc_realloc(p, 0) frees p */
                root_remove(rp, obj);
            } else if (!np) {
                fail_at(&run, t, i, BH_EV_REALLOC, false);
                goto done;
            } else {
                roots[slot_of[obj]] = np;
            }
            account(&run, size_of[obj], bytes);
            size_of[obj] = bytes;
            break;
        }
        case BH_EV_DEAD:
            root_remove(rp, obj);
            account(&run, size_of[obj], 0);
            size_of[obj] = 0;
            break;
        case BH_EV_COLLECT: bh_collect(h); break;
        }
        if (cfg->observe)
            cfg->observe(cfg->observe_ctx, h, i);
    }
    if (edit_at == n && !apply_edit(&run, t, edit)) {
        fail_at(&run, t, n, BH_EV_ALLOC, true);
        goto done;
    }
    res->events = n;
done:
    bh_info_get(h, &res->info);
    res->collections = res->info.collections;
    res->seconds = bh_now() - t0;
    return true;
}

uint8_t *bh_site_flags_build(const bh_trace *t, uint8_t *into, const char *const *names, size_t n, uint8_t flag)
{
    uint8_t *flags = into ? into : calloc((size_t)t->sites.count + 1, 1);
    if (!flags)
        return NULL;
    for (uint32_t id = 1; id <= t->sites.count; id++) {
        const char *name = bh_intern_name(&t->sites, id);
        size_t len = strcspn(name, "<");
        for (size_t k = 0; k < n; k++)
            if (strlen(names[k]) == len && strncmp(names[k], name, len) == 0)
                flags[id] |= flag;
    }
    return flags;
}

uint8_t *bh_site_flags_micropython(const bh_trace *t)
{
    /* py/objfun.c fun_bc_call: m_new_obj_var_maybe, and alloca when it returns NULL */
    static const char *const fallible[] = {"fun_bc_call"};
    /* py/parse.c parser_alloc and py/qstr.c qstr_from_strn: m_renew_maybe(..., false) */
    static const char *const immovable[] = {"parser_alloc", "qstr_from_strn_helper"};
    uint8_t *flags = bh_site_flags_build(t, NULL, fallible, 1, BH_SITE_FALLIBLE);
    if (flags)
        bh_site_flags_build(t, flags, immovable, 2, BH_SITE_IMMOVABLE);
    return flags;
}

uint8_t *bh_oracle_long_lived(const bh_trace *t, uint32_t min_age)
{
    /* one pass: each object's birth (in allocations), then the verdict at its first f or d */
    enum { UNDECIDED = 2 };
    size_t n = (size_t)t->nobjects + 1;
    uint32_t *born = malloc(n * sizeof *born);
    uint8_t *is_long = malloc(n);
    if (!born || !is_long) {
        free(born);
        free(is_long);
        return NULL;
    }
    memset(is_long, UNDECIDED, n);
    uint32_t allocations = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        bh_trace_packed e = t->events[i];
        uint32_t obj = bh_packed_obj(e);
        if (obj >= n)
            continue;
        bh_trace_kind kind = bh_packed_kind(e);
        if (kind == BH_EV_ALLOC)
            born[obj] = allocations++;
        else if ((kind == BH_EV_FREE || kind == BH_EV_DEAD) && is_long[obj] == UNDECIDED)
            is_long[obj] = allocations - born[obj] >= min_age;
    }
    for (size_t k = 0; k < n; k++)
        is_long[k] = is_long[k] != 0; /* never freed nor dead: lives for ever */
    free(born);
    return is_long;
}

/* ---------------------------------------------------------------------------------------------- */
/* parallel runs */

unsigned bh_default_jobs(void)
{
    const char *env = getenv("BH_JOBS");
    uint64_t v;
    if (env && bh_parse_u64(env, strlen(env), &v) && v >= 1 && v <= 64)
        return (unsigned)v;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 16)
        n = 16;
    return (unsigned)n;
}

typedef struct parallel_state {
    pthread_mutex_t lock;
    size_t next, n;
    bh_parallel_fn fn;
    void *ctx;
} parallel_state;

static void *parallel_worker(void *arg)
{
    parallel_state *st = arg;
    bh_replayer rp;
    bh_replayer_init(&rp);
    for (;;) {
        pthread_mutex_lock(&st->lock);
        size_t i = st->next < st->n ? st->next++ : SIZE_MAX;
        pthread_mutex_unlock(&st->lock);
        if (i == SIZE_MAX)
            break;
        st->fn(i, &rp, st->ctx);
    }
    bh_replayer_free(&rp);
    return NULL;
}

void bh_parallel_for(size_t n, unsigned jobs, bh_parallel_fn fn, void *ctx)
{
    parallel_state st = {.next = 0, .n = n, .fn = fn, .ctx = ctx};
    pthread_mutex_init(&st.lock, NULL);
    if (jobs > n)
        jobs = (unsigned)n;
    if (jobs > 64)
        jobs = 64;
    pthread_t tid[64];
    unsigned started = 0;
    for (unsigned k = 1; k < jobs; k++) /* the calling thread is worker 0 */
        if (pthread_create(&tid[started], NULL, parallel_worker, &st) == 0)
            started++;
    parallel_worker(&st);
    for (unsigned k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    pthread_mutex_destroy(&st.lock);
}

typedef struct sizes_ctx {
    const bh_trace *t;
    const bh_replay_config *cfg;
    bh_size_run *runs;
} sizes_ctx;

static void run_one_size(size_t i, bh_replayer *rp, void *arg)
{
    sizes_ctx *c = arg;
    bh_replay_config cfg = *c->cfg;
    cfg.heap_bytes = c->runs[i].heap_bytes;
    bh_replay_result res;
    c->runs[i].ran = bh_replay(rp, c->t, &cfg, &res);
    c->runs[i].completed = c->runs[i].ran && res.completed;
    c->runs[i].collections = res.collections;
    c->runs[i].pool_blocks = res.pool_blocks;
}

void bh_replay_sizes(const bh_trace *t, const bh_replay_config *cfg, bh_size_run *runs, size_t n, unsigned jobs)
{
    sizes_ctx c = {.t = t, .cfg = cfg, .runs = runs};
    bh_parallel_for(n, jobs, run_one_size, &c);
}

/* ---------------------------------------------------------------------------------------------- */
/* command-line plumbing */

const char bh_replay_common_help[] =
    "  --policy P          placement policy (default micropython)\n"
    "  --block B           block size in bytes (default: the trace's `block` line)\n"
    "  --threshold BLOCKS  collect before an allocation once BLOCKS were allocated since the last\n"
    "                      collection (gc.threshold; default off)\n"
    "  --no-finalisers     lay the heap out without a finaliser table\n"
    "  --sites MODE        site token given to the library: both (C site and Python line, default),\n"
    "                      c (C call chain only) or none\n"
    "  --host H            what the traced program does where the trace cannot say: micropython\n"
    "                      (default: a failed fun_bc_call frame allocation is not fatal, the frame\n"
    "                      goes on the C stack; in-place-only growths of parser and qstr chunks that\n"
    "                      must move here are counted as divergences from the trace) or none\n"
    "  --oracle-hints AGE  not a policy but a bound (not in browse): every allocation whose object\n"
    "                      will live at least AGE allocations (the trace knows) carries\n"
    "                      BH_LONG_LIVED, and no site token is given; what perfect host hints would\n"
    "                      give the policy\n"
    "  --jobs N            worker threads (default: the CPUs; env BH_JOBS)\n";

static const char *option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "blockheap %s: %s needs a value\n", argv[0], argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

void bh_replay_cli_init(bh_replay_cli *o, bool allow_policy_all)
{
    memset(o, 0, sizeof *o);
    o->cfg.policy = BH_POLICY_MICROPYTHON;
    o->jobs = bh_default_jobs();
    o->allow_policy_all = allow_policy_all;
    o->host_micropython = true;
}

int bh_replay_cli_option(bh_replay_cli *o, int argc, char **argv, int *i)
{
    bh_replay_config *cfg = &o->cfg;
    const char *opt = argv[*i];
    const char *v;
    uint64_t n;
    if (strcmp(opt, "--policy") == 0) {
        if (!(v = option_value(argc, argv, i)))
            return -1;
        o->policy_all = false;
        if (o->allow_policy_all && strcmp(v, "all") == 0) {
            o->policy_all = true;
            return 1;
        }
        if (!bh_policy_from_name(v, &cfg->policy)) {
            fprintf(stderr, "blockheap %s: unknown policy '%s' (known: %s%s)\n", argv[0], v, bh_policy_names(),
                    o->allow_policy_all ? ", all" : "");
            return -1;
        }
        return 1;
    }
    if (strcmp(opt, "--block") == 0) {
        if (!(v = option_value(argc, argv, i)))
            return -1;
        if (!bh_parse_size(v, &n) || n < 4 || n > (1u << 20) || (n & (n - 1)) != 0) {
            fprintf(stderr, "blockheap %s: bad --block '%s' (a power of two)\n", argv[0], v);
            return -1;
        }
        cfg->block_bytes = (size_t)n;
        return 1;
    }
    if (strcmp(opt, "--threshold") == 0) {
        if (!(v = option_value(argc, argv, i)))
            return -1;
        if (!bh_parse_u64(v, strlen(v), &n) || n > SIZE_MAX / 2) {
            fprintf(stderr, "blockheap %s: bad --threshold '%s' (blocks)\n", argv[0], v);
            return -1;
        }
        cfg->threshold_blocks = (size_t)n;
        return 1;
    }
    if (strcmp(opt, "--no-finalisers") == 0) {
        cfg->without_finalisers = true;
        return 1;
    }
    if (strcmp(opt, "--sites") == 0) {
        if (!(v = option_value(argc, argv, i)))
            return -1;
        if (!bh_site_mode_from_name(v, &cfg->sites)) {
            fprintf(stderr, "blockheap %s: bad --sites '%s' (both, c or none)\n", argv[0], v);
            return -1;
        }
        return 1;
    }
    if (strcmp(opt, "--oracle-hints") == 0) {
        if (!(v = option_value(argc, argv, i)))
            return -1;
        if (!bh_parse_u64(v, strlen(v), &n) || n == 0 || n > UINT32_MAX) {
            fprintf(stderr, "blockheap %s: bad --oracle-hints '%s' (allocations, at least 1)\n", argv[0], v);
            return -1;
        }
        cfg->oracle_age = (uint32_t)n;
        return 1;
    }
    if (strcmp(opt, "--host") == 0) {
        if (!(v = option_value(argc, argv, i)))
            return -1;
        if (strcmp(v, "micropython") == 0)
            o->host_micropython = true;
        else if (strcmp(v, "none") == 0)
            o->host_micropython = false;
        else {
            fprintf(stderr, "blockheap %s: bad --host '%s' (micropython or none)\n", argv[0], v);
            return -1;
        }
        return 1;
    }
    if (strcmp(opt, "--jobs") == 0) {
        if (!(v = option_value(argc, argv, i)))
            return -1;
        if (!bh_parse_u64(v, strlen(v), &n) || n < 1 || n > 64) {
            fprintf(stderr, "blockheap %s: bad --jobs '%s' (1 to 64)\n", argv[0], v);
            return -1;
        }
        o->jobs = (unsigned)n;
        return 1;
    }
    return 0;
}

int bh_replay_common_option(int argc, char **argv, int *i, bh_replay_config *cfg, unsigned *jobs,
                            bool *policy_all)
{
    bh_replay_cli o;
    bh_replay_cli_init(&o, policy_all != NULL);
    o.cfg = *cfg;
    o.jobs = *jobs;
    if (strcmp(argv[*i], "--oracle-hints") == 0) { /* needs the trace, which this variant has not */
        fprintf(stderr, "blockheap %s: --oracle-hints is not taken here (replay, margin, fragility, report)\n",
                argv[0]);
        return -1;
    }
    int got = bh_replay_cli_option(&o, argc, argv, i);
    if (got > 0) {
        *cfg = o.cfg;
        *jobs = o.jobs;
        if (policy_all)
            *policy_all = o.policy_all;
    }
    return got;
}

bool bh_replay_cli_prepare(bh_replay_cli *o, const bh_trace *t)
{
    if (o->cfg.oracle_age > 0) {
        o->oracle_long = bh_oracle_long_lived(t, o->cfg.oracle_age);
        o->cfg.oracle_long = o->oracle_long;
        if (!o->oracle_long)
            return false;
    }
    if (!o->host_micropython)
        return true;
    o->site_flags = bh_site_flags_micropython(t);
    o->cfg.site_flags = o->site_flags;
    return o->site_flags != NULL;
}

void bh_replay_cli_free(bh_replay_cli *o)
{
    free(o->site_flags);
    o->site_flags = NULL;
    o->cfg.site_flags = NULL;
    free(o->oracle_long);
    o->oracle_long = NULL;
    o->cfg.oracle_long = NULL;
}

bool bh_stderr_is_tty(void) { return isatty(STDERR_FILENO) == 1; }

bool bh_replay_load(bh_trace *t, const char *path, bool progress)
{
    if (progress)
        fprintf(stderr, "reading %s ...", path);
    bool ok = bh_trace_load(t, path);
    if (progress)
        fprintf(stderr, "\r\033[K");
    return ok;
}
