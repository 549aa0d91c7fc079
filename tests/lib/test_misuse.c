/* Every misuse the header's MISUSE section names, each against its documented behaviour: the call
 * is ignored (the arena and the heap's state are byte-for-byte unchanged), counted in
 * bh_info.misuse, and reported to the config's misuse hook with its kind and pointer. Plus the
 * neighbours that are documented as not misuse (bh_free(NULL), a free while locked). */
#include "testheap.h"

/* ---- a heap with a misuse hook that records what it is told */

typedef struct misuse_log {
    size_t calls;
    bh_misuse what;
    const void *ptr;
} misuse_log;

static misuse_log mlog;

static void record_misuse(void *ctx, bh_heap *h, bh_misuse what, const void *ptr)
{
    (void)ctx;
    (void)h;
    mlog.calls++;
    mlog.what = what;
    mlog.ptr = ptr;
}

static test_heap *misuse_heap(size_t arena_bytes)
{
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = 16;
    c.misuse = record_misuse;
    memset(&mlog, 0, sizeof mlog);
    return th_new(arena_bytes, &c);
}

static size_t misuse_count(const test_heap *t)
{
    bh_info info;
    bh_info_get(&t->h, &info);
    return info.misuse;
}

/* The arena (tables and pool) and the heap's state, to prove a call had no effect. */
typedef struct snapshot {
    uint8_t *arena;
    size_t used_blocks, objects, cursor, collections;
    unsigned lock_depth;
    bool collecting;
} snapshot;

static snapshot take(const test_heap *t)
{
    snapshot s;
    s.arena = malloc(t->arena_bytes);
    assert_non_null(s.arena);
    memcpy(s.arena, t->arena, t->arena_bytes);
    s.used_blocks = t->h.used_blocks;
    s.objects = t->h.objects;
    s.cursor = t->h.cursor;
    s.collections = t->h.collections;
    s.lock_depth = t->h.lock_depth;
    s.collecting = t->h.collecting;
    return s;
}

static void assert_unchanged(const test_heap *t, snapshot *s)
{
    assert_memory_equal(s->arena, t->arena, t->arena_bytes);
    assert_int_equal(s->used_blocks, t->h.used_blocks);
    assert_int_equal(s->objects, t->h.objects);
    assert_int_equal(s->cursor, t->h.cursor);
    assert_int_equal(s->collections, t->h.collections);
    assert_int_equal(s->lock_depth, t->h.lock_depth);
    assert_int_equal(s->collecting, t->h.collecting);
    assert_true(bh_check(&t->h));
    free(s->arena);
}

/* free, realloc (to a larger, a smaller and zero size) and size of p: each must be refused as
 * `what`, with p reported, and change nothing. */
static void assert_refused_everywhere(test_heap *t, void *p, bh_misuse what)
{
    static const size_t realloc_sizes[] = {1, 100, 0};
    size_t before = misuse_count(t);
    snapshot s = take(t);

    mlog.calls = 0;
    bh_free(&t->h, p);
    assert_int_equal(mlog.calls, 1);
    assert_int_equal(mlog.what, what);
    assert_ptr_equal(mlog.ptr, p);

    for (size_t k = 0; k < sizeof realloc_sizes / sizeof realloc_sizes[0]; k++) {
        for (int move = 0; move < 2; move++) {
            mlog.calls = 0;
            assert_null(bh_realloc(&t->h, p, realloc_sizes[k], move));
            assert_int_equal(mlog.calls, 1);
            assert_int_equal(mlog.what, what);
            assert_ptr_equal(mlog.ptr, p);
        }
    }
    mlog.calls = 0;
    assert_int_equal(bh_size(&t->h, p), 0);
    assert_int_equal(mlog.calls, 1);
    assert_int_equal(mlog.what, what);

    assert_int_equal(misuse_count(t), before + 8);
    assert_unchanged(t, &s);
}

/* ---- pointers */

static void test_double_free(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    void *keep = bh_alloc(&t->h, 40, 0);
    void *p = bh_alloc(&t->h, 40, BH_FINALISER);
    void *after = bh_alloc(&t->h, 40, 0);
    bh_free(&t->h, p);
    assert_int_equal(misuse_count(t), 0);
    assert_refused_everywhere(t, p, BH_MISUSE_FREED); /* free, realloc and size after free */
    assert_int_equal(bh_size(&t->h, keep), 48);
    assert_int_equal(bh_size(&t->h, after), 48);
    th_free(t);
}

/* The documented limit: once the block is allocated again, the stale pointer names the new
 * object, and a second free frees that one. */
static void test_double_free_after_reuse_frees_the_new_object(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    void *p = bh_alloc(&t->h, 16, 0);
    bh_free(&t->h, p);
    void *q = bh_alloc(&t->h, 16, 0);
    assert_ptr_equal(q, p);
    bh_free(&t->h, p);
    assert_int_equal(misuse_count(t), 0);
    assert_int_equal(t->h.objects, 0);
    th_free(t);
}

static void test_interior_pointers(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    size_t b = t->h.block_bytes;
    uint8_t *p = bh_alloc(&t->h, 3 * b, BH_FINALISER);
    memset(p, 0x5A, 3 * b);
    assert_refused_everywhere(t, p + 1, BH_MISUSE_INTERIOR);         /* not block aligned */
    assert_refused_everywhere(t, p + b - 1, BH_MISUSE_INTERIOR);
    assert_refused_everywhere(t, p + b, BH_MISUSE_INTERIOR);         /* a TAIL block */
    assert_refused_everywhere(t, p + 2 * b, BH_MISUSE_INTERIOR);     /* the last TAIL */
    assert_int_equal(bh_size(&t->h, p), 3 * b);                      /* the object is intact */
    th_free(t);
}

static void test_foreign_pointers(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    int on_stack = 0;
    void *from_malloc = malloc(64);
    assert_non_null(from_malloc);
    (void)bh_alloc(&t->h, 16, 0);
    uint8_t *pool_end = t->h.pool + t->h.pool_blocks * t->h.block_bytes;
    assert_refused_everywhere(t, &on_stack, BH_MISUSE_FOREIGN);
    assert_refused_everywhere(t, from_malloc, BH_MISUSE_FOREIGN);
    assert_refused_everywhere(t, &t->h, BH_MISUSE_FOREIGN);          /* the control structure */
    assert_refused_everywhere(t, pool_end, BH_MISUSE_FOREIGN);       /* one past the pool */
    assert_refused_everywhere(t, (uint8_t *)t->arena + t->arena_bytes, BH_MISUSE_FOREIGN);
    free(from_malloc);
    th_free(t);
}

/* Every byte of the arena before the pool: the allocation table, the gap byte, the finaliser
 * table and the alignment padding. */
static void test_pointers_into_the_metadata(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(2048);
    (void)bh_alloc(&t->h, 16, BH_FINALISER);
    assert_true(t->h.atb == (uint8_t *)t->arena);
    for (uint8_t *q = t->h.atb; q < t->h.pool; q++)
        assert_refused_everywhere(t, q, BH_MISUSE_FOREIGN);
    assert_refused_everywhere(t, t->h.ftb, BH_MISUSE_FOREIGN);
    assert_refused_everywhere(t, t->h.atb + t->h.atb_bytes, BH_MISUSE_FOREIGN); /* the gap byte */
    th_free(t);
}

/* A free block that was never allocated, and the block after the last object. */
static void test_never_allocated_block(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    uint8_t *p = bh_alloc(&t->h, 16, 0);
    assert_refused_everywhere(t, p + t->h.block_bytes, BH_MISUSE_FREED);
    assert_refused_everywhere(t, t->h.pool + (t->h.pool_blocks - 1) * t->h.block_bytes, BH_MISUSE_FREED);
    th_free(t);
}

/* Not misuse: documented no-ops. */
static void test_null_is_not_misuse(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    snapshot s = take(t);
    bh_free(&t->h, NULL);
    assert_int_equal(bh_size(&t->h, NULL), 0);
    assert_int_equal(mlog.calls, 0);
    assert_int_equal(misuse_count(t), 0);
    assert_unchanged(t, &s);
    th_free(t);
}

/* Without a hook the misuse is still ignored and counted. */
static void test_misuse_without_hook(void **state)
{
    (void)state;
    test_heap *t = th_new(4096, NULL);
    uint8_t *p = bh_alloc(&t->h, 64, 0);
    snapshot s = take(t);
    bh_free(&t->h, p + 1);
    bh_unlock(&t->h);
    bh_collect_end(&t->h);
    assert_int_equal(misuse_count(t), 3);
    assert_unchanged(t, &s);
    th_free(t);
}

/* ---- locking */

static void test_unlock_without_lock(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    snapshot s = take(t);
    bh_unlock(&t->h);
    assert_int_equal(mlog.calls, 1);
    assert_int_equal(mlog.what, BH_MISUSE_UNLOCK);
    assert_false(bh_is_locked(&t->h));
    assert_unchanged(t, &s);
    /* and one unlock too many after a balanced pair: the depth does not go below zero */
    bh_lock(&t->h);
    bh_lock(&t->h);
    bh_unlock(&t->h);
    bh_unlock(&t->h);
    bh_unlock(&t->h);
    assert_int_equal(misuse_count(t), 2);
    assert_false(bh_is_locked(&t->h));
    assert_non_null(bh_alloc(&t->h, 16, 0));
    th_free(t);
}

static void test_alloc_and_realloc_while_locked(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    uint8_t *p = bh_alloc(&t->h, 16, 0);
    bh_lock(&t->h);
    snapshot s = take(t);
    assert_null(bh_alloc(&t->h, 16, 0));
    assert_int_equal(mlog.what, BH_MISUSE_LOCKED);
    assert_null(bh_realloc(&t->h, p, 100, true));
    assert_int_equal(mlog.what, BH_MISUSE_LOCKED);
    assert_ptr_equal(mlog.ptr, p);
    assert_null(bh_realloc(&t->h, NULL, 16, true)); /* = bh_alloc */
    bh_failure f;
    bh_last_failure(&t->h, &f);
    assert_int_equal(f.verdict, BH_VERDICT_LOCKED);
    assert_int_equal(f.failures, 3);
    assert_int_equal(misuse_count(t), 3);
    assert_unchanged(t, &s);
    bh_unlock(&t->h);
    th_free(t);
}

/* Not misuse: a free while locked is ignored, and the next collection decides. */
static void test_free_while_locked_is_deferred(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    void *rooted = bh_alloc(&t->h, 16, 0);
    void *dropped = bh_alloc(&t->h, 16, 0);
    th_root(t, rooted);
    bh_lock(&t->h);
    snapshot s = take(t);
    bh_free(&t->h, rooted);
    bh_free(&t->h, dropped);
    assert_null(bh_realloc(&t->h, dropped, 0, true)); /* = bh_free: ignored too */
    assert_int_equal(mlog.calls, 0);
    assert_unchanged(t, &s);
    bh_unlock(&t->h);
    bh_collect(&t->h);
    assert_int_equal(bh_size(&t->h, rooted), t->h.block_bytes); /* reachable: kept */
    assert_int_equal(t->h.objects, 1);                           /* the other one reclaimed */
    assert_int_equal(misuse_count(t), 0);
    th_free(t);
}

/* ---- collection protocol */

static void test_collection_started_twice(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    void *x = bh_alloc(&t->h, 16, 0);
    void *y = bh_alloc(&t->h, 16, 0);
    const void *roots[] = {x};
    bh_collect_start(&t->h);
    snapshot s = take(t);
    bh_collect_start(&t->h);
    assert_int_equal(mlog.what, BH_MISUSE_COLLECTING);
    assert_unchanged(t, &s);
    bh_collect_roots(&t->h, roots, 1);
    bh_collect_end(&t->h);
    assert_false(bh_is_locked(&t->h));
    assert_int_equal(t->h.collections, 1);
    assert_int_equal(bh_size(&t->h, x), t->h.block_bytes);
    assert_int_equal(t->h.objects, 1); /* y reclaimed */
    (void)y;
    assert_int_equal(misuse_count(t), 1);
    th_free(t);
}

static void test_roots_and_end_outside_a_collection(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    void *x = bh_alloc(&t->h, 16, 0);
    const void *roots[] = {x};
    snapshot s = take(t);
    bh_collect_roots(&t->h, roots, 1);
    assert_int_equal(mlog.what, BH_MISUSE_COLLECTING);
    bh_collect_end(&t->h);
    assert_int_equal(mlog.what, BH_MISUSE_COLLECTING);
    assert_int_equal(misuse_count(t), 2);
    assert_unchanged(t, &s);
    /* and after a complete collection, a second end */
    bh_collect_start(&t->h);
    bh_collect_roots(&t->h, roots, 1);
    bh_collect_end(&t->h);
    s = take(t);
    bh_collect_end(&t->h);
    assert_int_equal(misuse_count(t), 3);
    assert_unchanged(t, &s);
    th_free(t);
}

/* A collection started while one is under way (say, host code that collects, called from the
 * host's collect callback): the nested start is ignored, so the nested end is the end of the
 * collection under way, and the outer code's later roots are refused. Documented as a hazard: the
 * objects only those roots named are freed. */
static void test_nested_collection_ends_the_outer_one(void **state)
{
    (void)state;
    test_heap *t = misuse_heap(4096);
    void *x = bh_alloc(&t->h, 16, 0);
    void *y = bh_alloc(&t->h, 16, 0);
    const void *outer_roots[] = {x}, *inner_roots[] = {y};
    bh_collect_start(&t->h);
    bh_collect_start(&t->h);                 /* nested: misuse, ignored */
    bh_collect_roots(&t->h, inner_roots, 1);
    bh_collect_end(&t->h);                   /* ends the collection under way */
    assert_false(bh_is_locked(&t->h));
    assert_int_equal(t->h.collections, 1);
    snapshot s = take(t);
    bh_collect_roots(&t->h, outer_roots, 1); /* outside a collection now: misuse, ignored */
    bh_collect_end(&t->h);
    assert_unchanged(t, &s);
    assert_int_equal(t->h.misuse_counts[BH_MISUSE_COLLECTING], 3);
    assert_int_equal(bh_size(&t->h, y), t->h.block_bytes);
    assert_int_equal(t->h.objects, 1);       /* x was not rooted in time: freed */
    assert_true(bh_check(&t->h));
    th_free(t);
}

/* ---- finalisers */

typedef struct fin_ctx {
    test_heap *t;
    int calls, depth, max_depth;
    void *(*action)(struct fin_ctx *c, bh_heap *h, void *obj);
    void *other;           /* an object the action may touch */
    void *result;
} fin_ctx;

static void run_action(void *ctx, bh_heap *h, void *obj)
{
    fin_ctx *c = ctx;
    c->calls++;
    assert_true(bh_is_locked(h));
    if (++c->depth > c->max_depth)
        c->max_depth = c->depth;
    if (c->depth < 4 && c->calls < 100) /* a runaway re-entry must not overflow the stack */
        c->result = c->action(c, h, obj);
    c->depth--;
}

static void fin_collect(void *ctx, bh_heap *h)
{
    fin_ctx *c = ctx;
    bh_collect_start(h);
    bh_collect_roots(h, (const void *const *)c->t->roots, c->t->nroots);
    bh_collect_end(h);
}

static test_heap *finaliser_heap(fin_ctx *c)
{
    bh_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.misuse = record_misuse;
    cfg.finalise = run_action;
    cfg.collect = fin_collect;
    cfg.ctx = c;
    memset(&mlog, 0, sizeof mlog);
    c->t = th_new(4096, &cfg);
    return c->t;
}

static void *allocate_in_finaliser(fin_ctx *c, bh_heap *h, void *obj)
{
    (void)c;
    void *a = bh_alloc(h, 16, 0);
    void *r = bh_realloc(h, obj, 200, true);
    return a ? a : r;
}

static void test_finaliser_that_allocates(void **state)
{
    (void)state;
    fin_ctx c = {0};
    c.action = allocate_in_finaliser;
    test_heap *t = finaliser_heap(&c);
    (void)bh_alloc(&t->h, 16, BH_FINALISER);
    bh_collect(&t->h);
    assert_int_equal(c.calls, 1);
    assert_null(c.result);                   /* both refused */
    assert_int_equal(mlog.what, BH_MISUSE_LOCKED);
    assert_int_equal(misuse_count(t), 2);
    bh_failure f;
    bh_last_failure(&t->h, &f);
    assert_int_equal(f.verdict, BH_VERDICT_LOCKED);
    assert_int_equal(t->h.objects, 0);       /* the collection still completed */
    assert_false(bh_is_locked(&t->h));
    assert_non_null(bh_alloc(&t->h, 16, 0)); /* and the heap works after it */
    th_free(t);
}

static void *free_in_finaliser(fin_ctx *c, bh_heap *h, void *obj)
{
    bh_free(h, obj);       /* itself: ignored, the sweep frees it */
    bh_free(h, c->other);  /* a reachable object: ignored, it must survive */
    return NULL;
}

static void test_finaliser_that_frees(void **state)
{
    (void)state;
    fin_ctx c = {0};
    c.action = free_in_finaliser;
    test_heap *t = finaliser_heap(&c);
    (void)bh_alloc(&t->h, 16, BH_FINALISER);
    c.other = bh_alloc(&t->h, 48, 0);
    memset(c.other, 0x77, 48);
    th_root(t, c.other);
    bh_collect(&t->h);
    assert_int_equal(c.calls, 1);
    assert_int_equal(misuse_count(t), 0);    /* a free while locked is not misuse */
    assert_int_equal(t->h.objects, 1);
    assert_int_equal(bh_size(&t->h, c.other), (48 + t->h.block_bytes - 1) / t->h.block_bytes * t->h.block_bytes);
    uint8_t want[48];
    memset(want, 0x77, sizeof want);
    assert_memory_equal(c.other, want, sizeof want);
    assert_true(bh_check(&t->h));
    th_free(t);
}

static void *collect_in_finaliser(fin_ctx *c, bh_heap *h, void *obj)
{
    (void)c;
    (void)obj;
    bh_collect(h); /* through the host's callback: start, roots, end */
    return NULL;
}

/* A finaliser that collects: start, roots and end are each misuse and ignored. The end must not
 * end the collection under way from inside its own finalisers: that ran them again, re-entering
 * without bound (found by this test; fixed in src/collect.c with the `finalising` flag). */
static void test_finaliser_that_collects(void **state)
{
    (void)state;
    fin_ctx c = {0};
    c.action = collect_in_finaliser;
    test_heap *t = finaliser_heap(&c);
    (void)bh_alloc(&t->h, 16, BH_FINALISER);
    (void)bh_alloc(&t->h, 16, BH_FINALISER);
    bh_collect(&t->h);
    assert_int_equal(c.max_depth, 1);       /* no finaliser ran inside another */
    assert_int_equal(c.calls, 2);           /* each once */
    assert_int_equal(t->h.misuse_counts[BH_MISUSE_COLLECTING], 6); /* 3 per finaliser */
    assert_int_equal(t->h.collections, 1);
    assert_int_equal(t->h.objects, 0);
    assert_false(bh_is_locked(&t->h));
    assert_true(bh_check(&t->h));
    th_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_free),
        cmocka_unit_test(test_double_free_after_reuse_frees_the_new_object),
        cmocka_unit_test(test_interior_pointers),
        cmocka_unit_test(test_foreign_pointers),
        cmocka_unit_test(test_pointers_into_the_metadata),
        cmocka_unit_test(test_never_allocated_block),
        cmocka_unit_test(test_null_is_not_misuse),
        cmocka_unit_test(test_misuse_without_hook),
        cmocka_unit_test(test_unlock_without_lock),
        cmocka_unit_test(test_alloc_and_realloc_while_locked),
        cmocka_unit_test(test_free_while_locked_is_deferred),
        cmocka_unit_test(test_collection_started_twice),
        cmocka_unit_test(test_roots_and_end_outside_a_collection),
        cmocka_unit_test(test_nested_collection_ends_the_outer_one),
        cmocka_unit_test(test_finaliser_that_allocates),
        cmocka_unit_test(test_finaliser_that_frees),
        cmocka_unit_test(test_finaliser_that_collects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
