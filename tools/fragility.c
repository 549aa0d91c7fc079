#include "fragility.h"

#include <stdlib.h>
#include <string.h>

const char *bh_edit_kind_name(bh_edit_kind k)
{
    switch (k) {
    case BH_EDIT_EXTRA: return "extra";
    case BH_EDIT_GROW: return "grow";
    case BH_EDIT_BURST: return "burst";
    default: return "none";
    }
}

/* splitmix64: tiny, good enough to pick edits, and the same on every machine */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *state, uint64_t n) { return n ? next_random(state) % n : 0; }

void bh_fragility_variant(const bh_trace *t, size_t block_bytes, uint64_t seed, unsigned i, bh_trace_edit *edit,
                          unsigned long *line)
{
    uint64_t state = seed ^ ((uint64_t)(i + 1) * 0xD1B54A32D192ED03ull);
    next_random(&state);
    memset(edit, 0, sizeof *edit);
    size_t n = t->nevents;
    uint32_t b = (uint32_t)block_bytes;
    unsigned kind = (unsigned)below(&state, 3);
    if (kind == 1 && t->counts[BH_EV_ALLOC] > 0) {
        /* the first allocation of a non-empty object at or after a random event (wrapping) */
        size_t start = (size_t)below(&state, n);
        for (size_t k = 0; k < n; k++) {
            size_t e = (start + k) % n;
            if (bh_packed_kind(t->events[e]) == BH_EV_ALLOC && t->events[e].bytes > 0) {
                edit->kind = BH_EDIT_GROW;
                edit->obj = bh_packed_obj(t->events[e]);
                edit->bytes = b * (uint32_t)(1 + below(&state, 4));
                edit->at = e;
                *line = bh_trace_line(t, e);
                return;
            }
        }
        kind = 0; /* no object to grow */
    }
    if (kind == 2) {
        edit->kind = BH_EDIT_BURST;
        edit->at = (size_t)below(&state, n + 1);
        edit->count = (uint32_t)(2 + below(&state, 7));
        for (uint32_t k = 0; k < edit->count; k++)
            edit->burst_bytes[k] = (uint32_t)(1 + below(&state, 3 * (uint64_t)b));
    } else {
        edit->kind = BH_EDIT_EXTRA;
        edit->at = (size_t)below(&state, n + 1);
        edit->bytes = (uint32_t)(1 + below(&state, 4 * (uint64_t)b));
    }
    *line = edit->at < n ? bh_trace_line(t, edit->at) : (n ? bh_trace_line(t, n - 1) + 1 : 0);
}

/* ---- minimum heap of one variant, by bisection (runs in one worker) */

typedef struct frag_ctx {
    const bh_trace *t;
    const bh_fragility_config *cfg;
    size_t block;
    bool fin;
    size_t p_lb, p_start;      /* lower bound pool and the base's transition */
    bh_fragility *out;
    size_t *runs_per_variant;
} frag_ctx;

static bool run_at(bh_replayer *rp, const frag_ctx *c, const bh_trace_edit *edit, size_t heap_bytes)
{
    bh_replay_config cfg = c->cfg->replay;
    cfg.heap_bytes = heap_bytes;
    cfg.edit = edit;
    bh_replay_result res;
    return bh_replay(rp, c->t, &cfg, &res) && res.completed;
}

static size_t round4(size_t n) { return (n + 3) & ~(size_t)3; }

/* Smallest pool of a fail -> pass transition found by bisection, or 0 if nothing up to the cap
 * passes. lo_pool fails (or is 0). */
static size_t bisect_min(bh_replayer *rp, const frag_ctx *c, const bh_trace_edit *edit, size_t *runs)
{
    size_t lo = c->p_lb >= 4 ? c->p_lb - 4 : 0, hi = c->p_start;
    size_t cap = c->p_lb * 64 + 4096;
    for (;;) {
        ++*runs;
        if (run_at(rp, c, edit, bh_arena_bytes_for(hi, c->block, c->fin)))
            break;
        lo = hi;
        hi = round4(hi + (hi / 16 > 4 ? hi / 16 : 4));
        if (hi > cap)
            return 0;
    }
    while (hi - lo > 4) {
        size_t mid = lo + 4 * (((hi - lo) / 4) / 2);
        ++*runs;
        if (mid >= 4 && run_at(rp, c, edit, bh_arena_bytes_for(mid, c->block, c->fin)))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static void run_variant(size_t i, bh_replayer *rp, void *arg)
{
    frag_ctx *c = arg;
    bh_variant *v = &c->out->v[i];
    size_t runs = 1;
    v->completed = run_at(rp, c, &v->edit, c->cfg->heap_bytes);
    size_t pool = bisect_min(rp, c, &v->edit, &runs);
    v->min_found = pool != 0;
    v->min_heap_bytes = pool ? bh_arena_bytes_for(pool, c->block, c->fin) : 0;
    c->runs_per_variant[i] = runs;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static size_t quantile(const size_t *sorted, size_t n, unsigned pct)
{
    size_t rank = (n * pct + 99) / 100; /* nearest rank */
    return sorted[rank ? rank - 1 : 0];
}

bool bh_fragility_run(const bh_trace *t, const bh_fragility_config *cfg, bh_fragility *out)
{
    double t0 = bh_now();
    memset(out, 0, sizeof *out);
    out->heap_bytes = cfg->heap_bytes;
    out->n = cfg->variants;
    frag_ctx c = {.t = t, .cfg = cfg, .out = out};
    c.block = cfg->replay.block_bytes ? cfg->replay.block_bytes : t->block_bytes;
    c.fin = !cfg->replay.without_finalisers;
    bh_trace_peak peak;
    out->v = calloc(cfg->variants ? cfg->variants : 1, sizeof *out->v);
    c.runs_per_variant = calloc(cfg->variants ? cfg->variants : 1, sizeof *c.runs_per_variant);
    size_t *mins = calloc(cfg->variants ? cfg->variants : 1, sizeof *mins);
    if (!out->v || !c.runs_per_variant || !mins || !bh_trace_peak_live(t, c.block, &peak)) {
        fprintf(stderr, "blockheap fragility: out of memory\n");
        free(c.runs_per_variant);
        free(mins);
        return false;
    }
    uint64_t need = peak.blocks > peak.largest_request_blocks ? peak.blocks : peak.largest_request_blocks;
    c.p_lb = round4(need ? (size_t)need : 4);

    /* the unedited trace: at the heap, and its own minimum (the variants' searches start there) */
    bh_replayer rp;
    bh_replayer_init(&rp);
    size_t runs = 1;
    bh_trace_edit none = {.kind = BH_EDIT_NONE};
    out->base_completed = run_at(&rp, &c, &none, cfg->heap_bytes);
    c.p_start = c.p_lb;
    size_t base_pool = bisect_min(&rp, &c, &none, &runs);
    bh_replayer_free(&rp);
    out->base_min_heap_bytes = base_pool ? bh_arena_bytes_for(base_pool, c.block, c.fin) : 0;
    c.p_start = base_pool ? base_pool : c.p_lb;

    for (unsigned i = 0; i < cfg->variants; i++)
        bh_fragility_variant(t, c.block, cfg->seed, i, &out->v[i].edit, &out->v[i].line);
    if (cfg->progress)
        fprintf(stderr, "fragility: %u variants ...", cfg->variants);
    bh_parallel_for(cfg->variants, cfg->jobs ? cfg->jobs : 1, run_variant, &c);
    if (cfg->progress)
        fprintf(stderr, "\r\033[K");

    size_t nmins = 0;
    for (unsigned i = 0; i < cfg->variants; i++) {
        bh_variant *v = &out->v[i];
        runs += c.runs_per_variant[i];
        out->count_by_kind[v->edit.kind]++;
        if (!v->completed) {
            out->failed++;
            out->failed_by_kind[v->edit.kind]++;
        }
        if (v->min_found)
            mins[nmins++] = v->min_heap_bytes;
        else
            out->min_unknown++;
    }
    if (nmins) {
        qsort(mins, nmins, sizeof *mins, cmp_size);
        out->min_min = mins[0];
        out->min_p50 = quantile(mins, nmins, 50);
        out->min_p90 = quantile(mins, nmins, 90);
        out->min_max = mins[nmins - 1];
    }
    out->runs = runs;
    free(mins);
    free(c.runs_per_variant);
    out->seconds = bh_now() - t0;
    return true;
}

void bh_fragility_free(bh_fragility *f)
{
    free(f->v);
    f->v = NULL;
}
