#include "margin.h"

#include <stdlib.h>
#include <string.h>

/* ---- what is known about each pool size: a small open-addressing map pool -> outcome */

typedef struct outcome {
    size_t pool;       /* 0: empty slot */
    bool completed;
    size_t collections;
} outcome;

typedef struct search {
    const bh_trace *t;
    const bh_margin_config *cfg;
    bh_replay_config replay;
    size_t block;
    bool fin;
    outcome *map;
    size_t cap, count;
    bh_margin *out;
    bool oom;
} search;

static size_t hash_pool(size_t pool) { return (pool / 4) * 0x9E3779B97F4A7C15ull >> 7; }

static outcome *lookup(const search *s, size_t pool)
{
    size_t mask = s->cap - 1;
    for (size_t i = hash_pool(pool) & mask;; i = (i + 1) & mask)
        if (s->map[i].pool == pool || s->map[i].pool == 0)
            return &s->map[i];
}

static bool known(const search *s, size_t pool) { return s->cap && lookup(s, pool)->pool == pool; }
static const outcome *get(const search *s, size_t pool) { return lookup(s, pool); }

static bool store(search *s, size_t pool, bool completed, size_t collections)
{
    if ((s->count + 1) * 2 > s->cap) {
        outcome *old = s->map;
        size_t oldcap = s->cap;
        s->cap = oldcap ? oldcap * 2 : 1024;
        s->map = calloc(s->cap, sizeof *s->map);
        if (!s->map) {
            s->map = old;
            s->cap = oldcap;
            s->oom = true;
            return false;
        }
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].pool)
                *lookup(s, old[i].pool) = old[i];
        free(old);
    }
    outcome *o = lookup(s, pool);
    if (o->pool != pool)
        s->count++;
    *o = (outcome){pool, completed, collections};
    return true;
}

static size_t arena_for(const search *s, size_t pool) { return bh_arena_bytes_for(pool, s->block, s->fin); }
static size_t pool_for(const search *s, size_t bytes) { return bh_pool_blocks_for(bytes, s->block, s->fin); }
static size_t round4(size_t n) { return (n + 3) & ~(size_t)3; }

static void progress(const search *s, const char *what)
{
    if (s->cfg->progress)
        fprintf(stderr, "\r\033[Kmargin %s: %s, %zu runs", bh_policy_to_name(s->replay.policy), what, s->out->runs);
}

/* Runs every pool size of pools[0..n) not known yet, on all cores. */
static bool run_pools(search *s, const size_t *pools, size_t n)
{
    bh_size_run *runs = calloc(n ? n : 1, sizeof *runs);
    if (!runs) {
        s->oom = true;
        return false;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = known(s, pools[i]);
        for (size_t k = 0; k < m && !dup; k++)
            dup = runs[k].pool_blocks == pools[i];
        if (!dup)
            runs[m++] = (bh_size_run){.heap_bytes = arena_for(s, pools[i]), .pool_blocks = pools[i]};
    }
    bh_replay_sizes(s->t, &s->replay, runs, m, s->cfg->jobs);
    bool ok = true;
    for (size_t k = 0; k < m; k++) {
        /* the smallest arena for a pool gives exactly that pool; store under what it gave */
        ok = ok && store(s, runs[k].pool_blocks, runs[k].ran && runs[k].completed, runs[k].collections);
        s->out->events_replayed += s->t->nevents; /* an upper bound: failing runs stop early */
    }
    s->out->runs += m;
    free(runs);
    return ok && !s->oom;
}

static bool run_range(search *s, size_t from, size_t to) /* pools from..to inclusive, step 4 */
{
    size_t chunk[256];
    size_t n = 0;
    for (size_t p = from; p <= to; p += 4) {
        if (known(s, p))
            continue;
        chunk[n++] = p;
        if (n == sizeof chunk / sizeof chunk[0]) {
            if (!run_pools(s, chunk, n))
                return false;
            n = 0;
            progress(s, "scanning");
        }
    }
    return run_pools(s, chunk, n);
}

static bool passes(const search *s, size_t pool) { return known(s, pool) && get(s, pool)->completed; }

/* ---- peak growth: a k-block object allocated first and never freed */

typedef struct growth_job {
    const bh_trace *t;
    const bh_replay_config *cfg;
    size_t heap_bytes, block;
    const uint64_t *ks;
    bool *completed;
} growth_job;

static void run_growth(size_t i, bh_replayer *rp, void *arg)
{
    growth_job *g = arg;
    uint64_t bytes = g->ks[i] * g->block;
    bh_trace_edit edit = {.kind = BH_EDIT_EXTRA, .at = 0, .bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes};
    bh_replay_config cfg = *g->cfg;
    cfg.heap_bytes = g->heap_bytes;
    cfg.edit = &edit;
    bh_replay_result res;
    g->completed[i] = bh_replay(rp, g->t, &cfg, &res) && res.completed;
}

static uint64_t peak_growth(search *s, size_t heap_bytes, size_t pool)
{
    /* k = 0 passes (checked by the caller); k with peak + k > pool cannot */
    uint64_t lo = 0, hi = pool > s->out->peak_live_blocks ? pool - s->out->peak_live_blocks + 1 : 1;
    unsigned jobs = s->cfg->jobs ? s->cfg->jobs : 1;
    uint64_t ks[64];
    bool done[64];
    while (hi - lo > 1) {
        unsigned n = jobs;
        if (n > hi - lo - 1)
            n = (unsigned)(hi - lo - 1);
        if (n > 64)
            n = 64;
        for (unsigned j = 0; j < n; j++)
            ks[j] = lo + (hi - lo) * (j + 1) / (n + 1);
        growth_job g = {s->t, &s->replay, heap_bytes, s->block, ks, done};
        bh_parallel_for(n, jobs, run_growth, &g);
        s->out->runs += n;
        /* the first failing point bounds from above, the passing point before it from below */
        uint64_t new_lo = lo, new_hi = hi;
        for (unsigned j = 0; j < n; j++) {
            if (!done[j]) {
                new_hi = ks[j];
                break;
            }
            new_lo = ks[j];
        }
        lo = new_lo;
        hi = new_hi;
        progress(s, "peak growth");
    }
    return lo;
}

bool bh_margin_search(const bh_trace *t, const bh_margin_config *cfg, bh_margin *out)
{
    double t0 = bh_now();
    memset(out, 0, sizeof *out);
    search s = {.t = t, .cfg = cfg, .replay = cfg->replay, .out = out};
    s.replay.edit = NULL;
    s.block = cfg->replay.block_bytes ? cfg->replay.block_bytes : t->block_bytes;
    s.fin = !cfg->replay.without_finalisers;
    out->policy = cfg->replay.policy;
    out->block_bytes = s.block;
    size_t window = round4((cfg->window_bytes ? cfg->window_bytes : BH_MARGIN_WINDOW_DEFAULT) / s.block);
    if (window < 4)
        window = 4;
    size_t max_runs = cfg->max_runs ? cfg->max_runs : 20000;

    bh_trace_peak peak;
    if (!bh_trace_peak_live(t, s.block, &peak)) {
        fprintf(stderr, "blockheap margin: out of memory\n");
        return false;
    }
    out->peak_live_blocks = peak.blocks;
    out->peak_live_bytes = peak.bytes;
    out->largest_request_blocks = peak.largest_request_blocks;
    out->lower_bound_bytes = bh_arena_bytes_for(peak.blocks ? peak.blocks : 1, s.block, s.fin);
    if (out->lower_bound_bytes == 0) {
        fprintf(stderr, "blockheap margin: block size %zu is not usable on this machine\n", s.block);
        return false;
    }
    uint64_t need = peak.blocks > peak.largest_request_blocks ? peak.blocks : peak.largest_request_blocks;
    size_t p_lb = round4(need ? (size_t)need : 4);

    /* 1. a passing size: grow 25% a step, `jobs` steps at once */
    size_t lo = 0, hi = 0; /* lo fails (0: none known), hi passes */
    size_t cap_pool = p_lb * 64 + 4096;
    unsigned jobs = cfg->jobs ? cfg->jobs : 1;
    size_t next = p_lb;
    while (!hi) {
        size_t batch[64];
        unsigned n = 0;
        for (; n < jobs && n < 64 && next <= cap_pool; n++) {
            batch[n] = next;
            next = round4(next + (next / 4 > 4 ? next / 4 : 4));
        }
        if (n == 0)
            break;
        if (!run_pools(&s, batch, n))
            goto oom;
        for (unsigned j = 0; j < n && !hi; j++) {
            if (passes(&s, batch[j]))
                hi = batch[j];
            else
                lo = batch[j];
        }
        progress(&s, "looking for a passing size");
    }
    if (!hi) {
        out->completes = false;
        out->checked_from_bytes = arena_for(&s, p_lb);
        out->checked_up_to_bytes = arena_for(&s, lo);
        goto done;
    }
    out->completes = true;

    /* 2. bisection to a fail -> pass transition, `jobs` points a round */
    if (lo == 0)
        lo = hi; /* the lower bound itself passed: nothing smaller can */
    while (hi - lo > 4) {
        size_t pts[64];
        unsigned n = 0;
        size_t steps = (hi - lo) / 4;
        unsigned k = jobs < 64 ? jobs : 64;
        if (k > steps - 1)
            k = (unsigned)(steps - 1);
        for (unsigned j = 0; j < k; j++)
            pts[n++] = lo + 4 * (steps * (j + 1) / (k + 1));
        if (!run_pools(&s, pts, n))
            goto oom;
        size_t new_lo = lo, new_hi = hi;
        for (unsigned j = 0; j < n; j++) {
            if (passes(&s, pts[j])) {
                new_hi = pts[j];
                break;
            }
            new_lo = pts[j];
        }
        lo = new_lo;
        hi = new_hi;
        progress(&s, "bisecting");
    }
    size_t tpool = hi;
    out->bisect_min_bytes = arena_for(&s, tpool);

    /* 3. every size in a window around the transition, widened while failures (or passes, below)
     * keep turning up near its edges */
    size_t bottom = tpool > p_lb + window ? tpool - window : p_lb;
    size_t top = tpool + window;
    if (!run_range(&s, bottom, top))
        goto oom;
    for (;;) {
        size_t last_fail = 0;
        for (size_t p = tpool; p <= top; p += 4)
            if (!passes(&s, p))
                last_fail = p;
        if (!last_fail || top - last_fail >= window || out->runs >= max_runs)
            break;
        size_t new_top = last_fail + window;
        if (!run_range(&s, top + 4, new_top))
            goto oom;
        top = new_top;
    }
    for (;;) {
        size_t first_pass = 0;
        for (size_t p = bottom; p <= tpool; p += 4)
            if (passes(&s, p)) {
                first_pass = p;
                break;
            }
        if (bottom <= p_lb || first_pass - bottom >= window || out->runs >= max_runs)
            break;
        size_t new_bottom = first_pass > p_lb + window ? first_pass - window : p_lb;
        if (!run_range(&s, new_bottom, bottom - 4))
            goto oom;
        bottom = new_bottom;
    }
    size_t min_pool = tpool;
    for (size_t p = bottom; p <= tpool; p += 4)
        if (passes(&s, p)) {
            min_pool = p;
            break;
        }
    size_t all_pass = top;
    while (all_pass - 4 >= bottom && passes(&s, all_pass - 4))
        all_pass -= 4;
    for (size_t p = min_pool; p < all_pass; p += 4)
        if (!passes(&s, p))
            out->failing_above_min++;
    out->min_pool_blocks = min_pool;
    out->min_heap_bytes = arena_for(&s, min_pool);
    out->collections_at_min = known(&s, min_pool) ? get(&s, min_pool)->collections : 0;
    out->all_pass_pool_blocks = all_pass;
    out->all_pass_from_bytes = arena_for(&s, all_pass);
    out->checked_from_bytes = arena_for(&s, bottom);
    out->checked_up_to_bytes = arena_for(&s, top);

    /* 4. the margin of safety of a given heap */
    if (cfg->heap_bytes) {
        out->have_heap = true;
        out->heap_bytes = cfg->heap_bytes;
        size_t hp = pool_for(&s, cfg->heap_bytes);
        out->heap_pool_blocks = hp;
        if (hp > top) {
            if (hp - top <= 4 * window) {
                if (!run_range(&s, top + 4, hp))
                    goto oom;
                top = hp;
                out->checked_up_to_bytes = arena_for(&s, top);
            } else {
                size_t pts[65];
                unsigned n = 0;
                for (unsigned j = 1; j <= 64; j++)
                    pts[n++] = round4(top + (hp - top) * j / 65);
                pts[n++] = hp;
                if (!run_pools(&s, pts, n))
                    goto oom;
                out->heap_sampled = true;
            }
        } else if (hp >= 4 && !known(&s, hp)) { /* below the window: run it and down to a failure */
            if (!run_pools(&s, &hp, 1))
                goto oom;
        }
        out->heap_passes = hp >= 4 && passes(&s, hp);
        out->heap_collections = known(&s, hp) ? get(&s, hp)->collections : 0;
        if (out->heap_passes) {
            /* walk down from the heap while sizes pass: through the sampled points when the heap
             * is far above the window, then size by size (running those not run yet) */
            size_t p = hp;
            while (p >= 8) {
                size_t q = p - 4;
                if (out->heap_sampled && q > top)
                    while (q > top && !known(&s, q))
                        q -= 4;
                if (!known(&s, q) && !run_pools(&s, &q, 1))
                    goto oom;
                if (!passes(&s, q))
                    break;
                p = q;
            }
            out->safe_from_bytes = arena_for(&s, p);
            out->margin_bytes = (long long)cfg->heap_bytes - (long long)out->safe_from_bytes;
            out->peak_growth_blocks = peak_growth(&s, cfg->heap_bytes, hp);
        } else {
            out->safe_from_bytes = out->all_pass_from_bytes;
            out->margin_bytes = (long long)cfg->heap_bytes - (long long)out->all_pass_from_bytes;
        }
    }
done:
    if (cfg->progress)
        fprintf(stderr, "\r\033[K");
    out->seconds = bh_now() - t0;
    free(s.map);
    return true;
oom:
    if (cfg->progress)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "blockheap margin: out of memory\n");
    free(s.map);
    return false;
}
