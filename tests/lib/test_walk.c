/* A seeded random walk of alloc / free / realloc / collect / misuse / lock over random object
 * graphs, checked against a plain model after every operation. The model and the checks are in
 * heapmodel.h (shared with the API fuzzer, fuzz/fuzz_api.c); this file chooses the heaps.
 *
 * Environment: BH_WALK_OPS (operations per walk), BH_WALK_SEED (first seed), BH_WALK_LOG=1 (one
 * line per walk). Built with -DBH_STRESS_COLLECT -DBH_FAIL_INJECTION (make test-stress) the same
 * walks collect before every allocation and arm injected allocation failures; the model accounts
 * for both. Last, every layout of a tiny heap is visited and every operation applied to it. A
 * closing line gives the operations done in all walks and the transitions of the tiny heap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#define HM_FAIL(...) fail_msg(__VA_ARGS__)
#include "heapmodel.h"

static size_t total_ops, total_transitions;

static size_t walk_ops(size_t dflt) { return hm_env_or("BH_WALK_OPS", dflt); }
static uint64_t walk_seed(void) { return hm_env_or("BH_WALK_SEED", 1); }

static void walk(const hm_params *prm, uint64_t seed, size_t ops)
{
    hm_stats st;
    hm_walk(prm, seed, ops, &st);
    total_ops += st.ops;
    if (hm_env_or("BH_WALK_LOG", 0))
        printf("walk seed %llu arena %zu block %zu policy %u threshold %zu stack %zu%s%s: %zu ops, %zu allocs "
               "(%zu failed, %zu injected), %zu frees, %zu reallocs (%zu moved), %zu collections reclaiming %zu, "
               "%zu finalisers, %zu misuses, %zu deferred frees\n",
               (unsigned long long)seed, prm->arena_bytes, prm->block_bytes, prm->policy, prm->threshold_blocks,
               prm->mark_stack_entries, prm->without_finalisers ? " no-finalisers" : "",
               prm->no_auto_collect ? " no-auto-collect" : "", st.ops, st.allocs, st.alloc_failures,
               st.injected_failures, st.frees, st.reallocs, st.moves, st.collections,
               st.reclaimed, st.finalisers, st.misuses, st.deferred_frees);
}

static hm_params params(size_t arena_bytes, size_t block_bytes, unsigned policy)
{
    hm_params p;
    memset(&p, 0, sizeof p);
    p.arena_bytes = arena_bytes;
    p.block_bytes = block_bytes;
    p.policy = policy;
    return p;
}

/* MicroPython's defaults: 4-word blocks, finalisers, auto-collect when full. */
static void test_walk_default(void **state)
{
    (void)state;
    hm_params p = params(48 * 1024, 0, BH_POLICY_MICROPYTHON);
    walk(&p, walk_seed(), walk_ops(15000));
}

/* The smallest legal block, a one-entry mark stack (every child overflows: the rescan path), a
 * threshold, and an arena that starts off the block alignment. */
static void test_walk_small_blocks_tiny_mark_stack(void **state)
{
    (void)state;
    hm_params p = params(32 * 1024, 2 * sizeof(void *), BH_POLICY_MICROPYTHON);
    p.mark_stack_entries = 1;
    p.threshold_blocks = 40;
    p.arena_offset = 5;
    walk(&p, walk_seed() + 1, walk_ops(15000));
}

/* A heap a few objects fill: most allocations fail or collect first. */
static void test_walk_tiny_heap(void **state)
{
    (void)state;
    hm_params p = params(1536, 0, BH_POLICY_MICROPYTHON);
    walk(&p, walk_seed() + 2, walk_ops(15000));
}

/* gc.disable(): nothing is collected unless asked; no finaliser table. */
static void test_walk_no_auto_collect_no_finalisers(void **state)
{
    (void)state;
    hm_params p = params(16 * 1024, 8 * sizeof(void *), BH_POLICY_MICROPYTHON);
    p.no_auto_collect = true;
    p.without_finalisers = true;
    walk(&p, walk_seed() + 3, walk_ops(15000));
}

/* Every placement policy the library has, over the same kind of heap. */
static void test_walk_every_policy(void **state)
{
    (void)state;
    for (unsigned policy = 0; policy < BH_POLICY_COUNT; policy++) {
        hm_params p = params(24 * 1024, 0, policy);
        p.threshold_blocks = policy % 2 ? 100 : 0;
        walk(&p, walk_seed() + 10 + policy, walk_ops(15000) / 2 + 1);
    }
}

/* Heaps whose every parameter is drawn from the seed. */
static void test_walk_random_configs(void **state)
{
    (void)state;
    for (uint64_t k = 0; k < 8; k++) {
        hm_source s = {NULL, 0, 0, (walk_seed() + 100 + k) * 0x2545F4914F6CDD1Dull + 7, false};
        hm_params p = hm_draw_params(&s, 40 * 1024);
        walk(&p, walk_seed() + 100 + k, walk_ops(15000) / 4 + 1);
    }
}

/* ---- every state of a tiny heap (as o1heap's tests search the reachable states of a small heap)
 *
 * A heap of TINY blocks (policy micropython, 16-byte blocks, no auto-collect) is explored breadth
 * first from empty: from every layout reached (which blocks are free, heads and tails), every
 * allocation of 1..TINY blocks, every free, every realloc of every object to 1..TINY blocks with
 * and without moving, a collection that keeps all objects but one for each object, and one with no
 * roots. The model predicts each result from the layout alone (lowest fit; shrink, grow in place,
 * move or refuse), and the heap must match it (bh_walk), pass bh_check, zero new memory and keep
 * every other object's bytes. A layout is rebuilt through the API alone (objects and placeholders
 * allocated in address order, placeholders freed), so every state is one a host can reach.
 * BH_EXHAUSTIVE_BLOCKS (a multiple of 4, at most 16) sets TINY: 8 by default (1597 layouts, about
 * 100 thousand transitions); 12 in `make walk-long` (75025 layouts, 11.7 million transitions). */
enum { TINY_MAX = 16, TINY_BLOCK = 16, TINY_FILL = 0xEE };

typedef struct tiny_layout {
    uint8_t len[TINY_MAX]; /* blocks of the object whose head is here; 0: no head */
} tiny_layout;

typedef struct tiny_search {
    size_t n;
    bh_heap h;
    uint8_t *arena;
    size_t arena_bytes;
    uint32_t *seen;        /* open addressing: key + 1, 0 = empty */
    size_t seen_cap;
    uint32_t *queue;
    size_t queue_len, queue_cap, states, transitions;
} tiny_search;

static bool tiny_is_free(const tiny_search *ts, const tiny_layout *l, size_t block)
{
    for (size_t b = 0; b <= block; b++)
        if (l->len[b] && block < b + l->len[b])
            return false;
    (void)ts;
    return true;
}

/* The key: 2 bits per block (0 free, 1 head, 2 tail), as the allocation table. */
static uint32_t tiny_key(const tiny_search *ts, const tiny_layout *l)
{
    uint32_t key = 0;
    for (size_t b = 0; b < ts->n; b++)
        for (size_t k = 0; k < l->len[b]; k++)
            key |= (uint32_t)(k == 0 ? 1 : 2) << (2 * (b + k));
    return key;
}

static tiny_layout tiny_unkey(const tiny_search *ts, uint32_t key)
{
    tiny_layout l;
    memset(&l, 0, sizeof l);
    for (size_t b = 0; b < ts->n; b++)
        if (((key >> (2 * b)) & 3u) == 1) {
            size_t len = 1;
            while (b + len < ts->n && ((key >> (2 * (b + len))) & 3u) == 2)
                len++;
            l.len[b] = (uint8_t)len;
        }
    return l;
}

static bool tiny_visit(tiny_search *ts, uint32_t key)
{
    size_t i = (key * 2654435761u) & (ts->seen_cap - 1);
    while (ts->seen[i] != 0) {
        if (ts->seen[i] == key + 1)
            return false;
        i = (i + 1) & (ts->seen_cap - 1);
    }
    ts->seen[i] = key + 1;
    if (ts->queue_len == ts->queue_cap) {
        ts->queue_cap *= 2;
        ts->queue = realloc(ts->queue, ts->queue_cap * sizeof *ts->queue);
        assert_non_null(ts->queue);
    }
    ts->queue[ts->queue_len++] = key;
    ts->states++;
    return true;
}

static uint8_t *tiny_ptr(tiny_search *ts, size_t block) { return ts->h.pool + block * TINY_BLOCK; }

/* A fresh heap in layout l, every object's bytes TINY_FILL. */
static void tiny_build(tiny_search *ts, const tiny_layout *l)
{
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = TINY_BLOCK;
    assert_true(bh_init(&ts->h, ts->arena, ts->arena_bytes, &c));
    assert_int_equal(ts->h.pool_blocks, ts->n);
    void *placeholders[TINY_MAX];
    size_t nplace = 0;
    for (size_t b = 0; b < ts->n;) {
        size_t len = l->len[b];
        if (len == 0)
            while (b + len < ts->n && l->len[b + len] == 0 && tiny_is_free(ts, l, b + len))
                len++;
        uint8_t *p = bh_alloc(&ts->h, len * TINY_BLOCK, 0);
        assert_ptr_equal(p, tiny_ptr(ts, b));
        if (l->len[b]) {
            memset(p, TINY_FILL, len * TINY_BLOCK);
        } else {
            memset(p, 0x5A, len * TINY_BLOCK); /* free memory holds old data: reuse must zero it */
            placeholders[nplace++] = p;
        }
        b += len;
    }
    for (size_t i = 0; i < nplace; i++)
        bh_free(&ts->h, placeholders[i]);
}

static size_t tiny_lowest_fit(const tiny_search *ts, const tiny_layout *l, size_t k)
{
    size_t run = 0;
    for (size_t b = 0; b < ts->n; b++) {
        run = tiny_is_free(ts, l, b) ? run + 1 : 0;
        if (run == k)
            return b + 1 - k;
    }
    return TINY_MAX;
}

struct tiny_cmp {
    const tiny_search *ts;
    const tiny_layout *want;
    bool ok;
};

static bool tiny_cmp_one(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    struct tiny_cmp *c = ctx;
    (void)obj;
    for (size_t b = block; b < block + nblocks; b++)
        if (is_free ? !tiny_is_free(c->ts, c->want, b) : (b == block ? c->want->len[b] != nblocks : c->want->len[b] != 0))
            c->ok = false;
    return c->ok;
}

/* The heap must be in `want`, every object but `skip` (its head block) still all TINY_FILL. */
static void tiny_expect(tiny_search *ts, const tiny_layout *want, size_t skip, const char *op, uint32_t from)
{
    struct tiny_cmp c = {ts, want, true};
    if (!bh_check(&ts->h))
        fail_msg("%s from layout %08x: bh_check failed", op, (unsigned)from);
    bh_walk(&ts->h, tiny_cmp_one, &c);
    if (!c.ok)
        fail_msg("%s from layout %08x: the heap is not the predicted %08x", op, (unsigned)from,
                 (unsigned)tiny_key(ts, want));
    for (size_t b = 0; b < ts->n; b++)
        if (want->len[b] && b != skip)
            for (size_t i = 0; i < want->len[b] * TINY_BLOCK; i++)
                if (tiny_ptr(ts, b)[i] != TINY_FILL)
                    fail_msg("%s from layout %08x: object at block %zu changed", op, (unsigned)from, b);
    ts->transitions++;
    tiny_visit(ts, tiny_key(ts, want));
}

static void tiny_expand(tiny_search *ts, uint32_t key)
{
    const tiny_layout l = tiny_unkey(ts, key);
    for (size_t k = 1; k <= ts->n; k++) { /* allocate */
        tiny_build(ts, &l);
        tiny_layout want = l;
        size_t at = tiny_lowest_fit(ts, &l, k);
        uint8_t *p = bh_alloc(&ts->h, k * TINY_BLOCK - (k % 3), 0);
        if (at == TINY_MAX) {
            if (p != NULL)
                fail_msg("alloc %zu from layout %08x: no room, yet it succeeded", k, (unsigned)key);
        } else {
            if (p != tiny_ptr(ts, at))
                fail_msg("alloc %zu from layout %08x: not at the lowest fit %zu", k, (unsigned)key, at);
            bool zero = true;
            for (size_t i = 0; i < k * TINY_BLOCK; i++)
                zero = zero && p[i] == 0;
            if (!zero)
                fail_msg("alloc %zu from layout %08x: not zeroed", k, (unsigned)key);
            want.len[at] = (uint8_t)k;
        }
        tiny_expect(ts, &want, at, "alloc", key);
    }
    for (size_t b = 0; b < ts->n; b++) {
        if (!l.len[b])
            continue;
        tiny_build(ts, &l); /* free */
        tiny_layout want = l;
        want.len[b] = 0;
        bh_free(&ts->h, tiny_ptr(ts, b));
        tiny_expect(ts, &want, TINY_MAX, "free", key);
        for (size_t k = 1; k <= ts->n; k++) { /* realloc */
            for (int move = 0; move < 2; move++) {
                tiny_build(ts, &l);
                want = l;
                size_t len = l.len[b], at = b;
                bool in_place = k <= len;
                if (!in_place && b + k <= ts->n) {
                    in_place = true;
                    for (size_t x = b + len; x < b + k; x++)
                        in_place = in_place && tiny_is_free(ts, &l, x);
                }
                if (!in_place)
                    at = move ? tiny_lowest_fit(ts, &l, k) : TINY_MAX;
                uint8_t *p = bh_realloc(&ts->h, tiny_ptr(ts, b), k * TINY_BLOCK, move);
                if (at == TINY_MAX) {
                    if (p != NULL)
                        fail_msg("realloc %zu->%zu (move %d) from layout %08x: predicted NULL", len, k, move,
                                 (unsigned)key);
                    tiny_expect(ts, &want, TINY_MAX, "failed realloc", key);
                    continue;
                }
                if (p != tiny_ptr(ts, at))
                    fail_msg("realloc %zu->%zu (move %d) from layout %08x: at block %zu, predicted %zu", len, k,
                             move, (unsigned)key, (size_t)(p ? (p - ts->h.pool) / TINY_BLOCK : 999), at);
                size_t kept = (k < len ? k : len) * TINY_BLOCK;
                for (size_t i = 0; i < k * TINY_BLOCK; i++)
                    if (p[i] != (i < kept ? TINY_FILL : 0))
                        fail_msg("realloc %zu->%zu from layout %08x: byte %zu", len, k, (unsigned)key, i);
                want.len[b] = 0;
                want.len[at] = (uint8_t)k;
                tiny_expect(ts, &want, at, "realloc", key);
            }
        }
        tiny_build(ts, &l); /* collect, every object rooted but this one */
        const void *roots[TINY_MAX];
        size_t nroots = 0;
        for (size_t r = 0; r < ts->n; r++)
            if (l.len[r] && r != b)
                roots[nroots++] = tiny_ptr(ts, r);
        bh_collect_start(&ts->h);
        bh_collect_roots(&ts->h, roots, nroots);
        bh_collect_end(&ts->h);
        want = l;
        want.len[b] = 0;
        tiny_expect(ts, &want, TINY_MAX, "collect", key);
    }
    tiny_build(ts, &l); /* collect without roots */
    bh_collect(&ts->h);
    tiny_layout empty;
    memset(&empty, 0, sizeof empty);
    tiny_expect(ts, &empty, TINY_MAX, "collect without roots", key);
}

static void test_every_state_of_a_tiny_heap(void **state)
{
    (void)state;
    tiny_search ts;
    memset(&ts, 0, sizeof ts);
    ts.n = hm_env_or("BH_EXHAUSTIVE_BLOCKS", 8);
    if (ts.n < 4 || ts.n > TINY_MAX || ts.n % 4)
        fail_msg("BH_EXHAUSTIVE_BLOCKS must be 4, 8, 12 or 16");
    ts.arena_bytes = bh_arena_bytes_for(ts.n, TINY_BLOCK, true);
    ts.arena = aligned_alloc(64, (ts.arena_bytes + 63) & ~(size_t)63);
    ts.seen_cap = (size_t)1 << (ts.n <= 12 ? 18 : 23);
    ts.seen = calloc(ts.seen_cap, sizeof *ts.seen);
    ts.queue_cap = 1024;
    ts.queue = malloc(ts.queue_cap * sizeof *ts.queue);
    assert_true(ts.arena && ts.seen && ts.queue);
    tiny_visit(&ts, 0);
    for (size_t next = 0; next < ts.queue_len; next++)
        tiny_expand(&ts, ts.queue[next]);
    /* every layout of n blocks is reachable: Fibonacci(2n + 1) of them */
    size_t a = 0, b = 1;
    for (size_t i = 0; i < 2 * ts.n + 1; i++) {
        size_t c = a + b;
        a = b;
        b = c;
    }
    if (ts.states != a)
        fail_msg("%zu layouts of %zu blocks reached, %zu exist", ts.states, ts.n, a);
    total_transitions += ts.transitions;
    if (hm_env_or("BH_WALK_LOG", 0))
        printf("tiny heap of %zu blocks: %zu layouts, %zu transitions checked\n", ts.n, ts.states,
               ts.transitions);
    free(ts.arena);
    free(ts.seen);
    free(ts.queue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_default),
        cmocka_unit_test(test_walk_small_blocks_tiny_mark_stack),
        cmocka_unit_test(test_walk_tiny_heap),
        cmocka_unit_test(test_walk_no_auto_collect_no_finalisers),
        cmocka_unit_test(test_walk_every_policy),
        cmocka_unit_test(test_walk_random_configs),
        cmocka_unit_test(test_every_state_of_a_tiny_heap),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    printf("walk: %zu operations checked against the model; tiny heap: %zu transitions\n", total_ops,
           total_transitions);
    return failed;
}
