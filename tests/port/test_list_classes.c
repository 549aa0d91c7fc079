/* A port that builds the library with fewer size classes for adaptive_o1 (here BH_LIST_CLASSES 24,
 * which cover pools of fewer than 2^7 blocks: 4 k - 4 for 2^k): its state is smaller, bh_init
 * refuses a pool the classes do not cover (and accepts it for the other policies), and a pool they
 * cover passes the model-based random walk. Built with the library compiled the same way
 * (CMakeLists.txt: blockheap_lists24). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#define HM_FAIL(...) fail_msg(__VA_ARGS__)
#include "lib/heapmodel.h"

#if BH_LIST_CLASSES != 24
#error "built with BH_LIST_CLASSES 24"
#endif

static bool init_pool(bh_policy policy, size_t pool_blocks)
{
    size_t bytes = bh_arena_bytes_for(pool_blocks, 16, true);
    void *arena = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    assert_non_null(arena);
    bh_heap h;
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = 16;
    c.policy = policy;
    bool ok = bh_init(&h, arena, bytes, &c);
    if (ok) {
        assert_int_equal(h.pool_blocks, pool_blocks);
        assert_true(bh_check(&h));
    }
    free(arena);
    return ok;
}

static void test_pool_limit(void **state)
{
    (void)state;
    bh_heap h;
    assert_int_equal(sizeof h.pol.seg.index.lists.head, 24 * 4); /* 304 bytes less than the default */
    assert_true(init_pool(BH_POLICY_ADAPTIVE_O1, 124));
    assert_false(init_pool(BH_POLICY_ADAPTIVE_O1, 128)); /* a 128-block run would have class 24 */
    assert_true(init_pool(BH_POLICY_ADAPTIVE, 128));     /* the tree has no such limit */
    assert_true(init_pool(BH_POLICY_MICROPYTHON, 4096));
}

/* random configurations (threshold, finalisers, mark stack, auto-collection), 16-byte blocks, a
 * pool of 120 blocks */
static void test_walk_within_the_limit(void **state)
{
    (void)state;
    size_t ops = hm_env_or("BH_WALK_OPS", 15000);
    for (uint64_t k = 0; k < 4; k++) {
        hm_source s = {NULL, 0, 0, (k + 24) * 0x2545F4914F6CDD1Dull + 7, false};
        hm_params p = hm_draw_params(&s, 4096);
        p.policy = BH_POLICY_ADAPTIVE_O1;
        p.block_bytes = 16;
        p.arena_bytes = bh_arena_bytes_for(120, 16, !p.without_finalisers);
        hm_walk(&p, 24 + k, ops / 2 + 1, NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_limit),
        cmocka_unit_test(test_walk_within_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
