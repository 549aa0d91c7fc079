/* Allocation, free, realloc, size, locking, threshold and misuse, against MicroPython's rules. */
#include "testheap.h"

static bh_config cfg16(void)
{
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = 16;
    return c;
}

static void test_alloc_zeroed_aligned_first_fit(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(8192, &c);
    assert_null(bh_alloc(&t->h, 0, 0));
    uint8_t *a = bh_alloc(&t->h, 1, 0);
    uint8_t *b = bh_alloc(&t->h, 17, 0);
    uint8_t *d = bh_alloc(&t->h, 48, 0);
    assert_non_null(a);
    assert_ptr_equal(a, t->h.pool);             /* address-ordered: block 0 */
    assert_int_equal(th_block(t, b), 1);        /* then right after */
    assert_int_equal(th_block(t, d), 3);
    assert_int_equal(bh_size(&t->h, a), 16);
    assert_int_equal(bh_size(&t->h, b), 32);
    assert_int_equal(bh_size(&t->h, d), 48);
    assert_int_equal((uintptr_t)b % 16, 0);
    memset(b, 0xff, 32);
    bh_free(&t->h, b);
    uint8_t *e = bh_alloc(&t->h, 20, 0);        /* reuses the hole, zeroed */
    assert_ptr_equal(e, b);
    assert_true(th_all_zero(e, 32));
    uint8_t *f = bh_alloc(&t->h, 40, 0);        /* 3 blocks: no 3-block hole below, goes after d */
    assert_int_equal(th_block(t, f), 6);
    assert_true(bh_check(&t->h));
    th_free(t);
}

/* The lowest-free cursor: moves up only after 1-block allocations; a multi-block allocation takes
 * the lowest run even when a lower hole is too small. */
static void test_cursor_rules(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(8192, &c);
    void *p[12];
    for (int i = 0; i < 12; i++)
        p[i] = bh_alloc(&t->h, 16, 0);
    assert_int_equal(t->h.cursor, 3);   /* after block 11: (11+1)/4 */
    bh_free(&t->h, p[5]);
    assert_int_equal(t->h.cursor, 1);   /* down to block 5's ATB byte */
    assert_true(bh_check(&t->h));
    void *q = bh_alloc(&t->h, 32, 0);   /* 2 blocks: hole at 5 too small, goes to 12 */
    assert_int_equal(th_block(t, q), 12);
    assert_int_equal(t->h.cursor, 1);   /* unchanged by a 2-block allocation */
    void *r = bh_alloc(&t->h, 8, 0);
    assert_int_equal(th_block(t, r), 5);
    assert_int_equal(t->h.cursor, 1);   /* (5+1)/4 */
    assert_true(bh_check(&t->h));
    th_free(t);
}

static void test_realloc_rules(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(8192, &c);
    uint8_t *a = bh_alloc(&t->h, 64, BH_FINALISER);   /* blocks 0-3 */
    for (int i = 0; i < 64; i++)
        a[i] = (uint8_t)i;
    uint8_t *b = bh_alloc(&t->h, 16, 0);              /* block 4 */
    /* same block count: same pointer */
    assert_ptr_equal(bh_realloc(&t->h, a, 50, true), a);
    /* shrink in place: frees the surplus, cursor moves down to it */
    assert_ptr_equal(bh_realloc(&t->h, a, 20, true), a);
    assert_int_equal(bh_size(&t->h, a), 32);
    assert_int_equal(t->h.cursor, 0);
    /* grow in place into the freed blocks 2,3; added bytes zero */
    assert_ptr_equal(bh_realloc(&t->h, a, 64, false), a);
    assert_true(th_all_zero(a + 32, 32));
    for (int i = 0; i < 32; i++)
        assert_int_equal(a[i], i);
    /* cannot grow (b follows) and may not move: NULL, a unchanged, verdict immovable */
    assert_null(bh_realloc(&t->h, a, 80, false));
    bh_failure f;
    bh_last_failure(&t->h, &f);
    assert_int_equal(f.verdict, BH_VERDICT_IMMOVABLE);
    assert_int_equal(bh_size(&t->h, a), 64);
    /* move: contents kept, finaliser bit kept, old blocks freed */
    uint8_t *m = bh_realloc(&t->h, a, 100, true);
    assert_non_null(m);
    assert_ptr_not_equal(m, a);
    assert_int_equal(bh_size(&t->h, m), 112);
    for (int i = 0; i < 32; i++)
        assert_int_equal(m[i], i);
    assert_true(th_all_zero(m + 64, 48));
    assert_true(t->h.ftb[th_block(t, m) / 8] & (1u << (th_block(t, m) % 8)));
    assert_int_equal(bh_size(&t->h, a), 0);           /* a is free now: misuse FREED */
    /* NULL -> alloc; 0 -> free */
    void *n = bh_realloc(&t->h, NULL, 10, true);
    assert_non_null(n);
    assert_null(bh_realloc(&t->h, n, 0, true));
    assert_int_equal(bh_size(&t->h, n), 0);
    (void)b;
    assert_true(bh_check(&t->h));
    th_free(t);
}

/* A realloc that must move into a full heap collects; the object itself survives even though no
 * root names it (it is pinned, as the C stack pins it in MicroPython). */
static void test_realloc_move_survives_collection(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(1024, &c);  /* 60 blocks */
    uint8_t *keep = bh_alloc(&t->h, 16, 0);
    keep[0] = 42;
    th_root(t, bh_alloc(&t->h, 16, 0)); /* block 1: blocks growth of keep */
    for (int i = 0; i < 5; i++)        /* blocks 2-41: garbage */
        assert_non_null(bh_alloc(&t->h, 16 * 8, 0));
    assert_int_equal(t->collect_calls, 0);
    uint8_t *moved = bh_realloc(&t->h, keep, 16 * 20, true);
    assert_non_null(moved);
    assert_int_equal(moved[0], 42);
    assert_true(t->collect_calls >= 1);
    assert_true(bh_check(&t->h));
    th_free(t);
}

static void test_lock_nests_and_blocks_allocation(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(4096, &c);
    void *p = bh_alloc(&t->h, 32, 0);
    bh_lock(&t->h);
    bh_lock(&t->h);
    assert_true(bh_is_locked(&t->h));
    assert_null(bh_alloc(&t->h, 16, 0));
    bh_failure f;
    bh_last_failure(&t->h, &f);
    assert_int_equal(f.verdict, BH_VERDICT_LOCKED);
    assert_null(bh_realloc(&t->h, p, 200, true));
    bh_free(&t->h, p);                         /* ignored while locked */
    assert_int_equal(bh_size(&t->h, p), 32);
    assert_int_equal(t->h.deferred_frees, 1);
    bh_unlock(&t->h);
    assert_true(bh_is_locked(&t->h));
    bh_unlock(&t->h);
    assert_false(bh_is_locked(&t->h));
    assert_non_null(bh_alloc(&t->h, 16, 0));
    bh_unlock(&t->h);                          /* misuse: counted, ignored */
    assert_int_equal(t->h.misuse_counts[BH_MISUSE_UNLOCK], 1);
    assert_false(bh_is_locked(&t->h));
    assert_true(bh_check(&t->h));
    th_free(t);
}

struct misuse_log {
    bh_misuse last;
    const void *ptr;
    int calls;
};

static void log_misuse(void *ctx, bh_heap *h, bh_misuse what, const void *ptr)
{
    (void)h;
    struct misuse_log *log = ((test_heap *)ctx)->roots[TH_MAX_ROOTS - 1];
    log->last = what;
    log->ptr = ptr;
    log->calls++;
}

static void test_misuse_is_ignored_counted_reported(void **state)
{
    (void)state;
    bh_config c = cfg16();
    c.misuse = log_misuse;
    test_heap *t = th_new(4096, &c);
    struct misuse_log log = {0};
    t->roots[TH_MAX_ROOTS - 1] = &log; /* not a root: nroots stays below */
    uint8_t *p = bh_alloc(&t->h, 64, 0);
    uint8_t *q = bh_alloc(&t->h, 16, 0);
    int local;
    bh_free(&t->h, &local);                       /* foreign */
    assert_int_equal(log.last, BH_MISUSE_FOREIGN);
    bh_free(&t->h, t->h.atb);                     /* the heap's own metadata */
    assert_int_equal(log.last, BH_MISUSE_FOREIGN);
    bh_free(&t->h, p + 16);                       /* a tail */
    assert_int_equal(log.last, BH_MISUSE_INTERIOR);
    bh_free(&t->h, p + 3);                        /* unaligned */
    assert_int_equal(log.last, BH_MISUSE_INTERIOR);
    assert_null(bh_realloc(&t->h, p + 16, 200, true));
    assert_int_equal(bh_size(&t->h, p + 1), 0);
    assert_int_equal(bh_size(&t->h, p), 64);      /* p untouched by all that */
    bh_free(&t->h, q);
    bh_free(&t->h, q);                            /* double free */
    assert_int_equal(log.last, BH_MISUSE_FREED);
    assert_ptr_equal(log.ptr, q);
    assert_null(bh_realloc(&t->h, q, 64, true));  /* realloc after free */
    assert_int_equal(log.last, BH_MISUSE_FREED);
    bh_free(&t->h, NULL);                         /* not misuse */
    assert_int_equal(bh_size(&t->h, NULL), 0);
    bh_info info;
    bh_info_get(&t->h, &info);
    assert_int_equal(info.misuse, 8);
    assert_int_equal(log.calls, 8);
    assert_int_equal(info.objects, 1);
    assert_true(bh_check(&t->h));
    th_free(t);
}

/* gc.threshold: a collection before the allocation once the threshold is reached; a request
 * that collected for the threshold does not collect again on failure. */
static void test_threshold_collection(void **state)
{
    (void)state;
    bh_config c = cfg16();
    c.threshold_blocks = 10;
    test_heap *t = th_new(8192, &c);
    for (int i = 0; i < 10; i++)
        bh_alloc(&t->h, 16, 0);
    assert_int_equal(t->collect_calls, 0);
    bh_alloc(&t->h, 16, 0);                      /* 10 allocated: collect first */
    assert_int_equal(t->collect_calls, 1);
    assert_int_equal(t->h.allocated_since_collect, 1);
    bh_set_threshold(&t->h, 0);
    for (int i = 0; i < 30; i++)
        bh_alloc(&t->h, 16, 0);
    assert_int_equal(t->collect_calls, 1);
    /* threshold collects, then the request still does not fit: no second collection */
    bh_set_threshold(&t->h, 1);
    assert_null(bh_alloc(&t->h, 16 * 10000, 0));
    assert_int_equal(t->collect_calls, 2);
    bh_failure f;
    bh_last_failure(&t->h, &f);
    assert_true(f.collected);
    assert_int_equal(f.verdict, BH_VERDICT_EXHAUSTED);
    th_free(t);
}

static void test_collect_on_failure_then_retry(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(1024, &c);            /* 60 blocks */
    void *keep = bh_alloc(&t->h, 16 * 10, 0);
    th_root(t, keep);
    for (int i = 0; i < 10; i++)                /* 50 blocks asked, 50 free: fills the heap */
        assert_non_null(bh_alloc(&t->h, 16 * 5, 0));
    assert_int_equal(t->collect_calls, 0);
    assert_non_null(bh_alloc(&t->h, 16 * 5, 0)); /* no room: collects once, then fits */
    assert_int_equal(t->collect_calls, 1);
    void *p = bh_alloc(&t->h, 16 * 40, 0);      /* now fits (the garbage is gone) */
    assert_non_null(p);
    assert_int_equal(bh_size(&t->h, keep), 160);
    /* auto-collect off: no collection, NULL */
    t->h.cfg.no_auto_collect = true;
    assert_null(bh_alloc(&t->h, 16 * 40, 0));
    assert_int_equal(t->collect_calls, 1);
    th_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_zeroed_aligned_first_fit),
        cmocka_unit_test(test_cursor_rules),
        cmocka_unit_test(test_realloc_rules),
        cmocka_unit_test(test_realloc_move_survives_collection),
        cmocka_unit_test(test_lock_nests_and_blocks_allocation),
        cmocka_unit_test(test_misuse_is_ignored_counted_reported),
        cmocka_unit_test(test_threshold_collection),
        cmocka_unit_test(test_collect_on_failure_then_retry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
