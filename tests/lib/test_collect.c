/* The collector: conservative marking from exact head pointers, deep graphs through a tiny mark
 * stack, finalisers (all before any free, heap locked), misuse of the collection calls. */
#include "testheap.h"

static bh_config cfg16(void)
{
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = 16;
    return c;
}

static void test_reachable_kept_unreachable_reclaimed(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(8192, &c);
    void **root = bh_alloc(&t->h, 4 * sizeof(void *), 0);
    void **child = bh_alloc(&t->h, 64, 0);
    void *grandchild = bh_alloc(&t->h, 16, 0);
    void *garbage = bh_alloc(&t->h, 32, 0);
    void **garbage_parent = bh_alloc(&t->h, 16, 0); /* unreachable, points at child: no effect */
    void *by_interior = bh_alloc(&t->h, 48, 0);
    root[0] = child;
    child[3] = grandchild;                  /* any word of the object is scanned */
    root[1] = (uint8_t *)by_interior + 16;  /* interior pointer: does not keep it */
    garbage_parent[0] = child;
    th_root(t, root);
    bh_collect(&t->h);
    assert_int_equal(bh_size(&t->h, root), (4 * sizeof(void *) + 15) / 16 * 16);
    assert_int_equal(bh_size(&t->h, child), 64);
    assert_int_equal(bh_size(&t->h, grandchild), 16);
    assert_int_equal(bh_size(&t->h, garbage), 0);
    assert_int_equal(bh_size(&t->h, garbage_parent), 0);
    assert_int_equal(bh_size(&t->h, by_interior), 0);
    assert_int_equal(t->h.cursor, 0);       /* every collection resets the cursor */
    assert_int_equal(t->h.collections, 1);
    assert_true(bh_check(&t->h));
    /* roots that are not exact heads: interior, unaligned, foreign, NULL */
    t->nroots = 0;
    th_root(t, (uint8_t *)root + 8);
    th_root(t, (uint8_t *)child + 1);
    th_root(t, &t);
    th_root(t, NULL);
    bh_collect(&t->h);
    bh_info info;
    bh_info_get(&t->h, &info);
    assert_int_equal(info.objects, 0);
    assert_true(bh_check(&t->h));
    th_free(t);
}

/* A chain far longer than the mark stack, built so that every object points to the next: the
 * overflow recovery must still mark all of it. Also a wide fan-out with a 1-entry stack. */
static void test_deep_chain_overflows_tiny_stack(void **state)
{
    (void)state;
    size_t stack[2];
    bh_config c = cfg16();
    c.mark_stack = stack;
    c.mark_stack_entries = 2;
    test_heap *t = th_new(65536, &c);
    enum { N = 1500 };
    void **first = NULL, **prev = NULL;
    for (int i = 0; i < N; i++) {
        void **obj = bh_alloc(&t->h, 2 * sizeof(void *), 0);
        assert_non_null(obj);
        /* link backwards half the time so that a single address-order rescan is not enough */
        if (prev)
            prev[0] = obj;
        else
            first = obj;
        prev = obj;
        bh_alloc(&t->h, 16, 0); /* garbage between */
    }
    /* a fan-out node pointing to 3 of the chain objects, and wide objects */
    void **fan = bh_alloc(&t->h, 64, 0);
    for (int i = 0; i < 3; i++)
        fan[i] = first;
    th_root(t, first);
    th_root(t, fan);
    bh_collect(&t->h);
    bh_info info;
    bh_info_get(&t->h, &info);
    assert_int_equal(info.objects, N + 1);
    int n = 0;
    for (void **o = first; o; o = o[0])
        n++;
    assert_int_equal(n, N);
    assert_true(bh_check(&t->h));
    th_free(t);
}

/* A reversed chain (each object points to the one allocated before it) with the default stack. */
static void test_reverse_chain_default_stack(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(65536, &c);
    void **prev = NULL;
    for (int i = 0; i < 2000; i++) {
        void **obj = bh_alloc(&t->h, 16, 0);
        obj[0] = prev;
        /* a second pointer per object makes the stack fill */
        obj[1] = prev ? prev[0] : NULL;
        prev = obj;
    }
    th_root(t, prev);
    bh_collect(&t->h);
    bh_info info;
    bh_info_get(&t->h, &info);
    assert_int_equal(info.objects, 2000);
    th_free(t);
}

struct fin_log {
    test_heap *t;
    void *seen[16];
    int n;
    bool freed_before_all_finalised;
    bool alloc_refused;
    size_t objects_at_each_call;
};

static void finalise(void *ctx, bh_heap *h, void *obj)
{
    test_heap *t = ctx;
    struct fin_log *log = t->roots[TH_MAX_ROOTS - 1];
    if (log->n == 0)
        log->objects_at_each_call = h->objects;
    if (h->objects != log->objects_at_each_call)
        log->freed_before_all_finalised = true;
    log->seen[log->n++] = obj;
    /* a finaliser that allocates gets NULL; one that frees is ignored */
    if (bh_alloc(h, 16, 0) == NULL)
        log->alloc_refused = true;
    bh_free(h, obj);
    bh_collect_start(h);   /* misuse: nested collection, ignored */
}

static void test_finalisers_all_before_free_and_locked(void **state)
{
    (void)state;
    bh_config c = cfg16();
    c.finalise = finalise;
    test_heap *t = th_new(8192, &c);
    struct fin_log log = {0};
    t->roots[TH_MAX_ROOTS - 1] = &log;
    void *f1 = bh_alloc(&t->h, 16, BH_FINALISER);
    void *plain = bh_alloc(&t->h, 16, 0);
    void *f2 = bh_alloc(&t->h, 48, BH_FINALISER);
    void *kept = bh_alloc(&t->h, 16, BH_FINALISER);
    th_root(t, kept);
    bh_collect(&t->h);
    assert_int_equal(log.n, 2);
    assert_ptr_equal(log.seen[0], f1);          /* address order */
    assert_ptr_equal(log.seen[1], f2);
    assert_false(log.freed_before_all_finalised);
    assert_true(log.alloc_refused);
    assert_int_equal(t->h.misuse_counts[BH_MISUSE_COLLECTING], 2);
    assert_int_equal(bh_size(&t->h, f1), 0);
    assert_int_equal(bh_size(&t->h, plain), 0);
    assert_int_equal(bh_size(&t->h, kept), 16);
    assert_false(bh_is_locked(&t->h));
    /* the finaliser bit went with the object: a new object there has none */
    void *again = bh_alloc(&t->h, 16, 0);
    assert_ptr_equal(again, f1);
    log.n = 0;
    t->nroots = 0;
    bh_collect(&t->h);
    assert_int_equal(log.n, 1);                 /* only `kept` */
    assert_ptr_equal(log.seen[0], kept);
    assert_true(bh_check(&t->h));
    th_free(t);
}

static void test_collection_call_misuse(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(4096, &c);
    void *p = bh_alloc(&t->h, 16, 0);
    void *roots[1] = {p};
    bh_collect_roots(&t->h, (const void *const *)roots, 1); /* outside a collection */
    bh_collect_end(&t->h);                                   /* outside a collection */
    assert_int_equal(t->h.misuse_counts[BH_MISUSE_COLLECTING], 2);
    assert_int_equal(bh_size(&t->h, p), 16);                 /* nothing happened */
    bh_collect_start(&t->h);
    assert_true(bh_is_locked(&t->h));
    assert_true(bh_check(&t->h));                            /* marks allowed now */
    bh_collect_roots(&t->h, (const void *const *)roots, 1);
    assert_true(bh_check(&t->h));
    bh_collect_end(&t->h);
    assert_false(bh_is_locked(&t->h));
    assert_int_equal(bh_size(&t->h, p), 16);
    assert_true(bh_check(&t->h));
    th_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reachable_kept_unreachable_reclaimed),
        cmocka_unit_test(test_deep_chain_overflows_tiny_stack),
        cmocka_unit_test(test_reverse_chain_default_stack),
        cmocka_unit_test(test_finalisers_all_before_free_and_locked),
        cmocka_unit_test(test_collection_call_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
