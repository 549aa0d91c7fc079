/* Placement policies: the model-based random walk of test_walk.c (tests/lib/heapmodel.h: every
 * operation checked against a plain model, bh_check -- which verifies each policy's state against
 * the allocation table -- after every one; site tokens and BH_LONG_LIVED hints drawn at random) run
 * for every policy over several kinds of heap, then direct tests of what each policy promises.
 * BH_WALK_OPS / BH_WALK_SEED lengthen the walks or change their seed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#define HM_FAIL(...) fail_msg(__VA_ARGS__)
#include "heapmodel.h"
#include "testheap.h"


/* Every policy over: the default heap, a tiny one (full most of the time: the collection
 * triggers and both cursors at their limits), 32-byte blocks with a threshold, no finalisers and
 * no auto-collection (policy state across explicit collections only), and random configurations. */
static void test_walk_policies(void **state)
{
    (void)state;
    size_t ops = hm_env_or("BH_WALK_OPS", 15000);
    uint64_t seed = hm_env_or("BH_WALK_SEED", 1);
    for (unsigned policy = 0; policy < BH_POLICY_COUNT; policy++) {
        hm_params p;
        memset(&p, 0, sizeof p);
        p.policy = policy;
        p.arena_bytes = 32 * 1024;
        hm_walk(&p, seed + 1000 + policy, ops, NULL);
        p.arena_bytes = 3 * 1024;
        p.block_bytes = 16;
        hm_walk(&p, seed + 2000 + policy, ops, NULL);
        p.arena_bytes = 64 * 1024;
        p.block_bytes = 64;
        p.threshold_blocks = 50;
        hm_walk(&p, seed + 3000 + policy, ops / 2 + 1, NULL);
        memset(&p, 0, sizeof p);
        p.policy = policy;
        p.arena_bytes = 16 * 1024;
        p.without_finalisers = true;
        p.no_auto_collect = true;
        hm_walk(&p, seed + 4000 + policy, ops / 2 + 1, NULL);
        for (uint64_t k = 0; k < 4; k++) {
            hm_source s = {NULL, 0, 0, (seed + 5000 + policy * 8 + k) * 0x2545F4914F6CDD1Dull + 7, false};
            hm_params r = hm_draw_params(&s, 40 * 1024);
            r.policy = policy;
            hm_walk(&r, seed + 5000 + policy * 8 + k, ops / 4 + 1, NULL);
        }
    }
}

static test_heap *policy_heap(bh_policy p, size_t arena_bytes)
{
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = 16;
    c.policy = p;
    return th_new(arena_bytes, &c);
}

/* 16-byte blocks, collections only when the test makes them (so no early collection either) */
static test_heap *manual_heap(bh_policy p, size_t arena_bytes)
{
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = 16;
    c.no_auto_collect = true;
    c.policy = p;
    return th_new(arena_bytes, &c);
}

/* best fit takes the smallest hole that fits, first fit the first */
static void test_bestfit_smallest_hole(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        test_heap *t = policy_heap(pass ? BH_POLICY_BESTFIT : BH_POLICY_MICROPYTHON, 16384);
        void *a = bh_alloc(&t->h, 16 * 5, 0), *s1 = bh_alloc(&t->h, 16, 0);
        void *b = bh_alloc(&t->h, 16 * 2, 0), *s2 = bh_alloc(&t->h, 16, 0);
        assert_non_null(s1);
        assert_non_null(s2);
        bh_free(&t->h, a); /* a 5-block hole at 0, a 2-block hole at 6 */
        bh_free(&t->h, b);
        assert_true(bh_check(&t->h));
        void *c = bh_alloc(&t->h, 16 * 2, 0);
        assert_ptr_equal(c, pass ? b : a);
        assert_true(bh_check(&t->h));
        th_free(t);
    }
}

/* the hint places from the top, everything else from the bottom */
static void test_lifetime_hint_goes_to_top(void **state)
{
    (void)state;
    for (int p = BH_POLICY_LIFETIME; p <= BH_POLICY_ADAPTIVE; p++) {
        test_heap *t = policy_heap((bh_policy)p, 16384);
        size_t n = t->h.pool_blocks;
        void *s = bh_alloc(&t->h, 16, 0);
        void *l = bh_alloc(&t->h, 3 * 16, BH_LONG_LIVED);
        void *l1 = bh_alloc(&t->h, 16, BH_LONG_LIVED);
        assert_int_equal(th_block(t, s), 0);
        assert_int_equal(th_block(t, l), n - 3);
        assert_int_equal(th_block(t, l1), n - 4);
        assert_true(bh_check(&t->h));
        bh_free(&t->h, l);
        assert_true(bh_check(&t->h));
        void *l2 = bh_alloc(&t->h, 2 * 16, BH_LONG_LIVED);
        assert_int_equal(th_block(t, l2), n - 2);
        assert_true(bh_check(&t->h));
        th_free(t);
    }
}

/* without hints: a site whose objects survive collections is learned as long-lived, one whose
 * objects die young stays at the bottom */
static void test_lifetime_learns_sites(void **state)
{
    (void)state;
    test_heap *t = policy_heap(BH_POLICY_LIFETIME, 65536);
    size_t n = t->h.pool_blocks;
    const uintptr_t keep = 0x1234, temp = 0x5678;
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 20; k++) {
            void *p = bh_alloc_site(&t->h, 16, 0, keep);
            assert_non_null(p);
            th_root(t, p);
            assert_non_null(bh_alloc_site(&t->h, 32, 0, temp));
        }
        bh_collect(&t->h);
        assert_true(bh_check(&t->h));
    }
    void *k = bh_alloc_site(&t->h, 16, 0, keep), *m = bh_alloc_site(&t->h, 16, 0, temp);
    assert_true(th_block(t, k) > n / 2);
    assert_true(th_block(t, m) < n / 2);
    th_free(t);
}

/* the adaptive trigger collects before the used area grows while garbage is pending (here: once
 * half of the wilderness is taken), so a stream of garbage stays in the lower part of the heap;
 * micropython fills the heap first */
static void test_adaptive_collects_early(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        test_heap *t = policy_heap(pass ? BH_POLICY_ADAPTIVE : BH_POLICY_MICROPYTHON, 65536);
        size_t n = t->h.pool_blocks, highest = 0;
        for (int i = 0; i < 2000; i++) {
            void *p = bh_alloc(&t->h, 16 * 4, 0);
            assert_non_null(p);
            if (th_block(t, p) > highest)
                highest = th_block(t, p);
            if (i % 64 == 0)
                assert_true(bh_check(&t->h));
        }
        if (pass)
            assert_true(highest < n / 2 + n / 16);
        else
            assert_true(highest > n - 8);
        assert_true(t->collect_calls > 0);
        th_free(t);
    }
}

/* Under pressure (what survives fills 5/8 of the pool or more) the trigger collects after every
 * survivors / 64 or wilderness / 16 blocks allocated into the wilderness; with the same garbage and
 * more room, only once half of the free blocks were allocated again. Both trigger policies share
 * it; neither needs site tokens for it. */
static size_t collections_making_garbage(bh_policy policy, unsigned kept_percent, size_t *expected)
{
    test_heap *t = policy_heap(policy, 65536);
    size_t n = t->h.pool_blocks, kept = 0;
    while (kept * 100 < n * kept_percent) {
        void *p = bh_alloc(&t->h, 16 * 16, 0);
        assert_non_null(p);
        th_root(t, p);
        kept += 16;
    }
    bh_collect(&t->h);
    size_t before = t->collect_calls;
    for (size_t i = 0; i < n / 4; i++) {
        assert_non_null(bh_alloc(&t->h, 16, 0));
        if (i % 64 == 0)
            assert_true(bh_check(&t->h));
    }
    size_t made = t->collect_calls - before;
    /* what is kept lies at the bottom: the wilderness is the rest, and each collection restores it */
    size_t wild = n - kept, every = kept / 64 > wild / 16 ? kept / 64 : wild / 16;
    *expected = (n / 4) / every;
    th_free(t);
    return made;
}

static void test_trigger_collects_more_under_pressure(void **state)
{
    (void)state;
    static const bh_policy triggers[] = {BH_POLICY_FIRSTFIT_GC, BH_POLICY_ADAPTIVE, BH_POLICY_ADAPTIVE_O1};
    for (unsigned k = 0; k < 3; k++) {
        size_t expected, unused;
        /* 70% kept: a collection every max(kept / 64, wilderness / 16) blocks */
        size_t pressed = collections_making_garbage(triggers[k], 70, &expected);
        assert_true(expected >= 10);
        assert_true(pressed + 1 >= expected && pressed <= expected + 1);
        /* 50% kept: not before half of the free half, n / 4 blocks, were allocated again */
        assert_true(collections_making_garbage(triggers[k], 50, &unused) == 0);
    }
}

/* Under pressure, allocations that refill holes (not the wilderness) also collect first, once half
 * of the free blocks the last collection left are in use again; without pressure they never do.
 * Blocks freed explicitly since are free space: they delay that collection. The heap: 4-block
 * objects up to 7/8 of the pool, every fourth dropped (4-block holes), the top eighth free (the
 * wilderness); then 1-block garbage, which fits the holes. */
static void test_trigger_collects_in_holes_under_pressure(void **state)
{
    (void)state;
    static const bh_policy triggers[] = {BH_POLICY_FIRSTFIT_GC, BH_POLICY_ADAPTIVE, BH_POLICY_ADAPTIVE_O1};
    for (unsigned k = 0; k < 3; k++) {
        /* mode 0: not under pressure; 1: under pressure; 2: under pressure, and every fourth
         * object refilling the holes is freed at once (its blocks are free space again) */
        for (int mode = 0; mode < 3; mode++) {
            test_heap *t = policy_heap(triggers[k], 65536);
            size_t n = t->h.pool_blocks, filled = mode ? n * 7 / 8 : n / 2, kept = 0;
            for (size_t used = 0; used + 4 <= filled; used += 4) {
                void *p = bh_alloc(&t->h, 64, 0);
                assert_non_null(p);
                th_root(t, p); /* all kept while filling: no early collection makes holes yet */
            }
            for (size_t i = 0; i < t->nroots; i++) {
                if (i % 4 == 3)
                    t->roots[i] = NULL;
                else
                    kept += 4;
            }
            bh_collect(&t->h);
            assert_int_equal(t->h.used_blocks, kept);
            assert_true(mode ? kept * 8 >= n * 5 : kept * 8 < n * 5);
            size_t holes = filled / 4 / 4 * 4; /* blocks in the dropped objects' holes */
            size_t at = (n - kept) * 4 / 8, first = 0, expected = 0, refilled = 0;
            size_t before = t->collect_calls;
            for (size_t i = 0; refilled + 4 < holes && !(mode && first); i++) {
                if (!expected && refilled >= at)
                    expected = i + 1; /* the allocation that finds `at` more blocks in use */
                void *p = bh_alloc(&t->h, 16, 0);
                assert_non_null(p);
                size_t b = th_block(t, p);
                assert_true(b < filled); /* in a hole, not in the wilderness */
                if (!first && t->collect_calls > before)
                    first = i + 1;
                if (mode == 2 && i % 4 == 3)
                    bh_free(&t->h, p);
                else
                    refilled++;
            }
            if (mode) {
                assert_int_equal(first, expected);
                /* freed blocks do not count as refilled: later than `at` allocations */
                if (mode == 2)
                    assert_true(first > at + 1);
                else
                    assert_int_equal(first, at + 1);
            } else {
                assert_int_equal(t->collect_calls, before);
            }
            assert_true(bh_check(&t->h));
            th_free(t);
        }
    }
}

/* Without hints or site tokens, and without auto-collection (so no early collection), lifetime,
 * firstfit_gc and adaptive place every object exactly where micropython does: first fit from the
 * bottom with the same cursor. Explicit collections keep it so. */
static void test_segregated_without_hints_is_first_fit(void **state)
{
    (void)state;
    for (int p = BH_POLICY_LIFETIME; p <= BH_POLICY_ADAPTIVE; p++) {
        test_heap *ref = manual_heap(BH_POLICY_MICROPYTHON, 8192);
        test_heap *t = manual_heap((bh_policy)p, 8192);
        void *live_ref[64] = {0}, *live[64] = {0};
        uint64_t r = 12345;
        for (int op = 0; op < 20000; op++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            unsigned k = (unsigned)(r >> 33) % 64;
            size_t bytes = 1 + (size_t)(r >> 45) % 200;
            if ((r >> 20) % 97 == 0) {
                /* a collection that keeps exactly the held objects */
                ref->nroots = t->nroots = 0;
                for (int i = 0; i < 64; i++)
                    if (live[i]) {
                        th_root(ref, live_ref[i]);
                        th_root(t, live[i]);
                    }
                th_collect(ref, &ref->h);
                th_collect(t, &t->h);
            } else if (live[k]) {
                bh_free(&ref->h, live_ref[k]);
                bh_free(&t->h, live[k]);
                live_ref[k] = live[k] = NULL;
            } else {
                live_ref[k] = bh_alloc(&ref->h, bytes, 0);
                live[k] = bh_alloc(&t->h, bytes, 0);
                assert_true((live_ref[k] == NULL) == (live[k] == NULL));
                if (live[k])
                    assert_int_equal(th_block(ref, live_ref[k]), th_block(t, live[k]));
            }
            if (op % 256 == 0)
                assert_true(bh_check(&t->h));
        }
        assert_true(bh_check(&t->h));
        th_free(ref);
        th_free(t);
    }
}

/* adaptive_o1 takes the oldest run of the class it picks: of three 4-block holes freed in the order
 * x3, x1, x2, a 4-block request gets x3's, the next x1's, the next x2's */
static void test_lists_take_the_oldest_run_of_a_class(void **state)
{
    (void)state;
    test_heap *t = manual_heap(BH_POLICY_ADAPTIVE_O1, 8192);
    void *x[4], *sep[4];
    for (int i = 0; i < 4; i++) {
        x[i] = bh_alloc(&t->h, 64, 0);
        sep[i] = bh_alloc(&t->h, 16, 0); /* kept: the holes stay apart, and off the wilderness */
        assert_non_null(x[i]);
        assert_non_null(sep[i]);
    }
    size_t at[4];
    for (int i = 0; i < 4; i++)
        at[i] = th_block(t, x[i]);
    static const int order[3] = {3, 1, 2};
    for (int k = 0; k < 3; k++)
        bh_free(&t->h, x[order[k]]);
    for (int k = 0; k < 3; k++) {
        void *p = bh_alloc(&t->h, 64, 0);
        assert_non_null(p);
        assert_int_equal(th_block(t, p), at[order[k]]);
        assert_true(bh_check(&t->h));
    }
    th_free(t);
}

/* adaptive_o1 places a small object (up to 2 blocks) of a site not learned yet as long-lived, at
 * the wilderness' top end; a larger one, and any object of a site learned short-lived, at its
 * bottom. adaptive does not guess: a new site's objects go first fit from the bottom. */
static void test_o1_new_small_site_goes_to_top(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        bool o1 = pass == 0;
        test_heap *t = manual_heap(o1 ? BH_POLICY_ADAPTIVE_O1 : BH_POLICY_ADAPTIVE, 8192);
        size_t n = t->h.pool_blocks;
        const uintptr_t small = 0x1111, big = 0x2222;
        void *a = bh_alloc_site(&t->h, 32, 0, small); /* 2 blocks, new site */
        void *b = bh_alloc_site(&t->h, 33, 0, big);   /* 3 blocks, new site */
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(th_block(t, a), o1 ? n - 2 : 0);
        assert_int_equal(th_block(t, b), o1 ? 0 : 2);
        bh_free(&t->h, a); /* a sample freed: its site votes short-lived */
        void *c = bh_alloc_site(&t->h, 16, 0, small);
        assert_non_null(c);
        assert_int_equal(th_block(t, c), o1 ? 3 : 0); /* learned: first fit from the bottom */
        assert_true(bh_check(&t->h));
        th_free(t);
    }
}

/* adaptive collects to learn: objects of a new site that stay alive are found long-lived at a
 * collection the heap makes by itself long before it is full, and the site's later objects go to
 * the top */
static void test_adaptive_learns_without_filling_the_heap(void **state)
{
    (void)state;
    test_heap *t = policy_heap(BH_POLICY_ADAPTIVE, 65536);
    size_t n = t->h.pool_blocks;
    const uintptr_t keep = 0xABCD;
    size_t used_max = 0;
    void *last = NULL;
    for (int i = 0; i < 600; i++) {
        last = bh_alloc_site(&t->h, 16, 0, keep);
        assert_non_null(last);
        th_root(t, last);
        if (t->h.used_blocks > used_max)
            used_max = t->h.used_blocks;
    }
    assert_true(t->collect_calls > 0);
    assert_true(used_max < n / 4);
    assert_true(th_block(t, last) > n / 2); /* learned: placed from the top */
    assert_true(bh_check(&t->h));
    th_free(t);
}

/* ... but not in a heap that is nearly full anyway (what is left of the wilderness below pool / 8):
 * there it waits for the collection that comes soon, so as not to disturb the packing of a peak.
 * Half of the heap's objects kept, in holes of 16 blocks: the new site's objects fill the holes,
 * and only the learning trigger could collect. */
static size_t learning_collections(unsigned filled_percent)
{
    test_heap *t = policy_heap(BH_POLICY_ADAPTIVE, 65536);
    size_t n = t->h.pool_blocks;
    for (size_t used = 0; used * 100 < n * filled_percent; used += 16) {
        void *p = bh_alloc(&t->h, 16 * 16, 0);
        assert_non_null(p);
        th_root(t, p); /* all kept while filling: no early collection makes holes yet */
    }
    for (size_t k = 1; k < t->nroots; k += 2)
        t->roots[k] = NULL;
    bh_collect(&t->h);
    size_t before = t->collect_calls;
    for (int i = 0; i < 300; i++) {
        void *p = bh_alloc_site(&t->h, 16, 0, 0xABCD);
        assert_non_null(p);
        /* in a hole, until a collection has learned the site (long-lived: then from the top) */
        assert_true(th_block(t, p) < n * filled_percent / 100 || t->collect_calls > before);
        th_root(t, p);
    }
    assert_true(bh_check(&t->h));
    size_t made = t->collect_calls - before;
    th_free(t);
    return made;
}

static void test_adaptive_learns_later_in_a_full_heap(void **state)
{
    (void)state;
    assert_true(learning_collections(80) > 0); /* wilderness 20% of the pool */
    assert_int_equal(learning_collections(90), 0); /* wilderness 10% */
}

/* ---- the indexed policies' placement against the allocation table, searched by brute force */

/* One step of a random churn over CHURN_SLOTS objects, shared by the placement tests: 1 time in
 * 101 a collection that keeps two thirds of the live objects, else on a random slot: a free (39 in
 * 101) or a realloc (20 in 101) if it holds an object, an allocation if not. The step makes the
 * collection and the free itself; it leaves the realloc and the allocation (c->what) to the caller,
 * of c->bytes bytes, and returns the slot. */
enum { CHURN_SLOTS = 48, CHURN_DONE = 0, CHURN_REALLOC = 1, CHURN_ALLOC = 2 };
typedef struct churn {
    uint64_t r; /* the generator's state; its high bits draw the caller's choices too */
    size_t bytes;
    unsigned what;
} churn;

static unsigned churn_step(test_heap *t, void **live, churn *c)
{
    c->r = c->r * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t r = c->r;
    unsigned k = (unsigned)(r >> 33) % CHURN_SLOTS;
    c->bytes = 1 + (size_t)(r >> 45) % ((r >> 40) % 8 == 0 ? 1200 : 96);
    unsigned what = (unsigned)(r >> 20) % 101;
    c->what = CHURN_DONE;
    if (what == 0) {
        t->nroots = 0;
        for (int i = 0; i < CHURN_SLOTS; i++)
            if (live[i] && i % 3 != 0)
                th_root(t, live[i]);
            else
                live[i] = NULL; /* a third of them die */
        th_collect(t, &t->h);
    } else if (live[k] && what < 40) {
        bh_free(&t->h, live[k]);
        live[k] = NULL;
    } else if (live[k] && what < 60) {
        c->what = CHURN_REALLOC;
    } else if (!live[k]) {
        c->what = CHURN_ALLOC;
    }
    return k;
}

/* the free-run tree (src/runtree.c) */

typedef struct fit_search {
    size_t nblocks, lowest, highest, largest, free_blocks;
} fit_search;

static bool see_run(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    (void)obj;
    fit_search *f = ctx;
    if (!is_free)
        return true;
    f->free_blocks += nblocks;
    if (nblocks > f->largest)
        f->largest = nblocks;
    if (nblocks >= f->nblocks) {
        if (f->lowest == (size_t)-1)
            f->lowest = block;
        f->highest = block + nblocks - f->nblocks; /* the top end of the highest run that fits */
    }
    return true;
}

static fit_search brute_force(const bh_heap *h, size_t nblocks)
{
    fit_search f = {nblocks, (size_t)-1, (size_t)-1, 0, 0};
    bh_walk(h, see_run, &f);
    return f;
}

/* Every allocation lands where a scan of the table says (lowest fit, or the top end of the highest
 * fit for BH_LONG_LIVED), through frees, shrinks, in-place growths, moves and collections; the
 * largest free run (O(1) from the tree) and the failure record agree with the table. */
static void test_run_tree_places_as_the_table_says(void **state)
{
    (void)state;
    for (int p = BH_POLICY_LIFETIME; p <= BH_POLICY_ADAPTIVE; p++) {
        test_heap *t = manual_heap((bh_policy)p, 6144);
        void *live[CHURN_SLOTS] = {0};
        churn c = {777 + (uint64_t)p, 0, 0};
        size_t placed = 0, failed = 0, in_place = 0;
        for (int op = 0; op < 30000; op++) {
            unsigned k = churn_step(t, live, &c);
            size_t bytes = c.bytes;
            uint64_t r = c.r;
            if (c.what == CHURN_REALLOC) {
                size_t before = th_block(t, live[k]);
                size_t nb = (bytes + 15) / 16;
                fit_search f = brute_force(&t->h, nb); /* the old object is still in place */
                /* adaptive keeps a moved object on its side: from above the wilderness, the top */
                bool top = p == BH_POLICY_ADAPTIVE && before >= t->h.pol.seg.wild_hi;
                void *q = bh_realloc(&t->h, live[k], bytes, true);
                if (q && th_block(t, q) == before)
                    in_place++;
                else if (q)
                    assert_int_equal(th_block(t, q), top ? f.highest : f.lowest); /* moved: first fit */
                if (q)
                    live[k] = q;
            } else if (c.what == CHURN_ALLOC) {
                size_t nb = (bytes + 15) / 16;
                unsigned flags = (r >> 50) % 3 == 0 ? BH_LONG_LIVED : 0;
                fit_search f = brute_force(&t->h, nb);
                assert_int_equal(bh_largest_free(&t->h), f.largest * 16);
                live[k] = bh_alloc(&t->h, bytes, flags);
                if (f.lowest == (size_t)-1) {
                    assert_null(live[k]);
                    bh_failure fl;
                    bh_last_failure(&t->h, &fl);
                    assert_int_equal(fl.largest_free_blocks, f.largest);
                    assert_int_equal(fl.free_blocks, f.free_blocks);
                    failed++;
                } else {
                    assert_non_null(live[k]);
                    assert_int_equal(th_block(t, live[k]), flags ? f.highest : f.lowest);
                    placed++;
                }
            }
            assert_true(bh_check(&t->h));
        }
        assert_true(placed > 5000 && failed > 10 && in_place > 100);
        th_free(t);
    }
}

/* The tree's and the lists' nodes are 16 bytes: with 8-byte blocks (two words on a 32-bit host) the indexed
 * policies are refused, the others are not. */
static void test_run_tree_needs_16_byte_blocks(void **state)
{
    (void)state;
    void *arena = aligned_alloc(64, 4096);
    assert_non_null(arena);
    bh_heap h;
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = 2 * sizeof(void *);
    for (int p = 0; p < BH_POLICY_COUNT; p++) {
        c.policy = (bh_policy)p;
        bool indexed = p >= BH_POLICY_LIFETIME && p <= BH_POLICY_ADAPTIVE_O1;
        assert_int_equal(bh_init(&h, arena, 4096, &c), !(indexed && c.block_bytes < 16));
    }
    free(arena);
}

/* A host that writes into freed objects corrupts the tree (or adaptive_o1's lists) the free blocks
 * hold. bh_check says so;
 * no allocation ever returns blocks in use (the live objects keep their bytes), nothing reads or
 * writes outside the pool (ASan), and a collection rebuilds the tree from the table. */
static void test_run_tree_survives_writes_into_freed_objects(void **state)
{
    (void)state;
    for (int p = BH_POLICY_LIFETIME; p <= BH_POLICY_ADAPTIVE_O1; p++) {
        test_heap *t = manual_heap((bh_policy)p, 8192);
        enum { N = 40 };
        uint8_t *live[N];
        size_t len[N];
        uint64_t r = 99 + (uint64_t)p;
        size_t failures = 0;
        for (int i = 0; i < N; i++) {
            len[i] = 16 * (1 + i % 5);
            live[i] = bh_alloc(&t->h, len[i], 0);
            assert_non_null(live[i]);
            memset(live[i], 0x40 + i, len[i]);
        }
        for (int round = 0; round < 3000; round++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            int k = (int)((r >> 33) % N);
            uint8_t *dead = live[k];
            bh_free(&t->h, dead);
            /* the use after free: garbage over the freed object (its first block is the tree node
             * if it starts a run), sometimes small numbers that look like block indices */
            size_t dead_len = (r >> 37) % 2 ? 16 : len[k]; /* its first block, or all of it */
            for (size_t b = 0; b < dead_len; b++)
                dead[b] = (uint8_t)((r >> 41) % 4 == 0 ? (r >> (b % 8)) & 7 : r >> (b * 3 % 56));
            len[k] = 16 * (1 + (r >> 50) % 6);
            live[k] = bh_alloc(&t->h, len[k], (r >> 45) % 3 == 0 ? BH_LONG_LIVED : 0);
            if (live[k] == NULL) {
                /* the corrupted tree may miss room (documented; with auto-collection the heap
                 * collects at once): a collection rebuilds it from the table, and there is room */
                failures++;
                t->nroots = 0;
                for (int i = 0; i < N; i++)
                    if (i != k)
                        th_root(t, live[i]);
                th_collect(t, &t->h);
                assert_true(bh_check(&t->h));
                live[k] = bh_alloc(&t->h, len[k], 0);
            }
            assert_non_null(live[k]);
            memset(live[k], 0x40 + k, len[k]);
            for (int i = 0; i < N; i++)
                for (size_t b = 0; b < len[i]; b++)
                    assert_int_equal(live[i][b], 0x40 + i); /* no object was handed out twice */
        }
        t->nroots = 0;
        for (int i = 0; i < N; i++)
            th_root(t, live[i]);
        th_collect(t, &t->h);
        assert_true(bh_check(&t->h)); /* the sweep rebuilt the tree from the table */
        assert_true(failures < 50); /* a corrupted tree misses room now and then (3-5 here), not always */
        th_free(t);
    }
}

/* adaptive_o1's free-run lists (src/runlists.c) */

/* The documented size class of a run of len blocks: 1..3 their own, then four per power of two. */
static unsigned list_class(size_t len)
{
    if (len < 4)
        return (unsigned)len;
    unsigned top = 0;
    while ((len >> (top + 1)) != 0)
        top++;
    return 4 * (top - 1) + (unsigned)((len >> (top - 2)) & 3);
}

typedef struct run_list {
    size_t n, start[512], len[512];
} run_list;

static bool list_run(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    (void)obj;
    run_list *l = ctx;
    if (is_free && l->n < 512) {
        l->start[l->n] = block;
        l->len[l->n++] = nblocks;
    }
    return true;
}

/* Every allocation takes a run of the smallest non-empty class whose every run holds it, leaving
 * the wilderness out; else the wilderness (its bottom, or its top for BH_LONG_LIVED); else a run of
 * the request's own class long enough; else fails, with a failure record that agrees with the
 * table. Through frees, shrinks, growths, moves and collections; bh_largest_free agrees too. */
static void test_lists_place_as_the_table_says(void **state)
{
    (void)state;
    test_heap *t = manual_heap(BH_POLICY_ADAPTIVE_O1, 6144);
    void *live[CHURN_SLOTS] = {0};
    churn ch = {4242, 0, 0};
    size_t by_class = 0, from_wild = 0, own_class = 0, failed = 0;
    for (int op = 0; op < 30000; op++) {
        unsigned k = churn_step(t, live, &ch);
        if (ch.what == CHURN_REALLOC) {
            void *q = bh_realloc(&t->h, live[k], ch.bytes, true);
            if (q)
                live[k] = q;
        } else if (ch.what == CHURN_ALLOC) {
            size_t bytes = ch.bytes, nb = (bytes + 15) / 16;
            unsigned flags = (ch.r >> 50) % 3 == 0 ? BH_LONG_LIVED : 0;
            run_list l = {0};
            bh_walk(&t->h, list_run, &l);
            size_t wlo = t->h.pol.seg.wild_lo, whi = t->h.pol.seg.wild_hi;
            size_t largest = 0, free_blocks = 0;
            bool wild_is_a_run = wlo == whi;
            unsigned want = list_class(nb) + (nb >= 4 && list_class(nb) == list_class(nb - 1)), best = 1000;
            for (size_t i = 0; i < l.n; i++) {
                largest = l.len[i] > largest ? l.len[i] : largest;
                free_blocks += l.len[i];
                if (l.start[i] == wlo && l.len[i] == whi - wlo) {
                    wild_is_a_run = true;
                    continue;
                }
                unsigned c = list_class(l.len[i]);
                if (c >= want && c < best)
                    best = c;
            }
            assert_true(wild_is_a_run); /* the wilderness is a maximal free run, or empty */
            assert_int_equal(bh_largest_free(&t->h), largest * 16);
            live[k] = bh_alloc(&t->h, bytes, flags);
            if (!live[k]) {
                bh_failure fl;
                bh_last_failure(&t->h, &fl);
                assert_int_equal(fl.largest_free_blocks, largest);
                assert_int_equal(fl.free_blocks, free_blocks);
                assert_true(largest < nb); /* it fails only if nothing fits */
                failed++;
                continue;
            }
            size_t at = th_block(t, live[k]), run = (size_t)-1;
            for (size_t i = 0; i < l.n; i++)
                if (at >= l.start[i] && at < l.start[i] + l.len[i])
                    run = i;
            assert_true(run != (size_t)-1);
            size_t rs = l.start[run], rl = l.len[run];
            assert_int_equal(at, flags ? rs + rl - nb : rs); /* its bottom, or its top end */
            if (best < 1000) {
                assert_true(rs != wlo || wlo == whi);
                assert_int_equal(list_class(rl), best);
                by_class++;
            } else if (whi - wlo >= nb) {
                assert_int_equal(rs, wlo);
                from_wild++;
            } else {
                assert_int_equal(list_class(rl), list_class(nb));
                own_class++;
            }
        }
        assert_true(bh_check(&t->h));
    }
    /* every rule was exercised */
    assert_true(by_class > 3000 && from_wild > 100 && own_class > 0 && failed > 10);
    th_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_policies),
        cmocka_unit_test(test_bestfit_smallest_hole),
        cmocka_unit_test(test_lifetime_hint_goes_to_top),
        cmocka_unit_test(test_lifetime_learns_sites),
        cmocka_unit_test(test_adaptive_collects_early),
        cmocka_unit_test(test_trigger_collects_more_under_pressure),
        cmocka_unit_test(test_trigger_collects_in_holes_under_pressure),
        cmocka_unit_test(test_segregated_without_hints_is_first_fit),
        cmocka_unit_test(test_adaptive_learns_without_filling_the_heap),
        cmocka_unit_test(test_adaptive_learns_later_in_a_full_heap),
        cmocka_unit_test(test_run_tree_places_as_the_table_says),
        cmocka_unit_test(test_run_tree_needs_16_byte_blocks),
        cmocka_unit_test(test_run_tree_survives_writes_into_freed_objects),
        cmocka_unit_test(test_lists_place_as_the_table_says),
        cmocka_unit_test(test_o1_new_small_site_goes_to_top),
        cmocka_unit_test(test_lists_take_the_oldest_run_of_a_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
