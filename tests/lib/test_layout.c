/* The arena layout must give exactly MicroPython's pool for every arena size, so that a heap size
 * here means what `micropython -X heapsize=N` means. */
#include "testheap.h"

/* The reference formula (shared/reference/micropython-gc.md), written independently of the
 * library: A = floor((T-1)*8 / (8 + 4 + 32*B)) with finalisers, floor((T-1)/(1+4B)) without. */
static size_t reference_pool_blocks(uint64_t arena, uint64_t b, bool fin)
{
    uint64_t t = arena - arena % b;
    if (t < 1)
        return 0;
    uint64_t a = fin ? (t - 1) * 8 / (8 + 4 + 32 * b) : (t - 1) / (1 + 4 * b);
    return (size_t)(4 * a);
}

static void test_reference_table(void **state)
{
    (void)state;
    /* worked values of the reference, B = 16, finalisers on */
    assert_int_equal(bh_pool_blocks_for(1024, 16, true), 60);
    assert_int_equal(bh_pool_blocks_for(8192, 16, true), 500);
    assert_int_equal(bh_pool_blocks_for(65536, 16, true), 4000);
    assert_int_equal(bh_pool_blocks_for(262144, 16, true), 16008);
    /* MicroPython's own runs (shared/traces/mp_runs/bm_float.tsv): heapsize -> pool */
    assert_int_equal(bh_pool_blocks_for(992, 16, true), 60);
    assert_int_equal(bh_pool_blocks_for(263056, 16, true), 16064);
    assert_int_equal(bh_pool_blocks_for(432512, 16, true), 26412);
}

static void test_every_size_64_to_1mib(void **state)
{
    (void)state;
    static const size_t block_sizes[] = {16, 32};
    for (size_t i = 0; i < 2; i++) {
        size_t b = block_sizes[i];
        for (int fin = 0; fin <= 1; fin++) {
            for (size_t arena = 64; arena <= (size_t)1 << 20; arena++) {
                size_t want = reference_pool_blocks(arena, b, fin);
                size_t got = bh_pool_blocks_for(arena, b, fin);
                if (got != want)
                    fail_msg("arena %zu B=%zu fin=%d: pool %zu, MicroPython %zu", arena, b, fin, got, want);
            }
        }
    }
}

/* bh_arena_bytes_for is the inverse: the smallest arena giving at least that pool. */
static void test_arena_bytes_for_is_smallest(void **state)
{
    (void)state;
    for (size_t b = 16; b <= 32; b *= 2) {
        for (size_t pool = 4; pool <= 20000; pool += 4) {
            size_t arena = bh_arena_bytes_for(pool, b, true);
            assert_true(bh_pool_blocks_for(arena, b, true) >= pool);
            assert_true(bh_pool_blocks_for(arena - 1, b, true) < pool);
        }
    }
}

/* bh_init over real memory: the pool ends at the arena's (aligned) end, tables sit before it,
 * and sizes agree with bh_pool_blocks_for, also for an arena whose start is not aligned. */
static void test_init_over_memory(void **state)
{
    (void)state;
    static const size_t sizes[] = {1024, 8192, 65536, 5000, 12345};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t b = 16; b <= 32; b *= 2) {
            if (b < 2 * sizeof(void *))
                continue;
            bh_config cfg = {0};
            cfg.block_bytes = b;
            uint8_t *mem = aligned_alloc(64, (sizes[i] + 64 + 63) & ~(size_t)63);
            bh_heap h;
            assert_true(bh_init(&h, mem, sizes[i], &cfg));
            assert_int_equal(h.pool_blocks, bh_pool_blocks_for(sizes[i], b, true));
            assert_ptr_equal(h.pool + h.pool_blocks * b, mem + (sizes[i] & ~(b - 1)));
            assert_true(bh_check(&h));
            /* unaligned start: the end is aligned down, as gc_init does */
            assert_true(bh_init(&h, mem + 3, sizes[i], &cfg));
            assert_int_equal(((uintptr_t)h.pool) % b, 0);
            assert_true(h.pool + h.pool_blocks * b <= mem + 3 + sizes[i]);
            assert_true(bh_check(&h));
            free(mem);
        }
    }
}

static void test_init_rejects(void **state)
{
    (void)state;
    uint8_t mem[256];
    bh_heap h;
    bh_config cfg = {0};
    cfg.block_bytes = 24; /* not a power of two */
    assert_false(bh_init(&h, mem, sizeof mem, &cfg));
    cfg.block_bytes = sizeof(void *); /* one word */
    assert_false(bh_init(&h, mem, sizeof mem, &cfg));
    cfg.block_bytes = 0;
    assert_false(bh_init(&h, mem, 8, &cfg)); /* no room for a block */
    assert_false(bh_init(&h, NULL, 4096, &cfg));
    cfg.policy = BH_POLICY_COUNT;
    assert_false(bh_init(&h, mem, sizeof mem, &cfg));
}

static void test_without_finalisers(void **state)
{
    (void)state;
    bh_config cfg = {0};
    cfg.without_finalisers = true;
    cfg.block_bytes = 16;
    uint8_t *mem = aligned_alloc(16, 8192);
    bh_heap h;
    assert_true(bh_init(&h, mem, 8192, &cfg));
    assert_null(h.ftb);
    assert_int_equal(h.pool_blocks, 4 * ((8192 - 1) / (1 + 4 * 16)));
    void *p = bh_alloc(&h, 10, BH_FINALISER); /* flag ignored without an FTB */
    assert_non_null(p);
    assert_true(bh_check(&h));
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_table),
        cmocka_unit_test(test_every_size_64_to_1mib),
        cmocka_unit_test(test_arena_bytes_for_is_smallest),
        cmocka_unit_test(test_init_over_memory),
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_without_finalisers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
