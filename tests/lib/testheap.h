/* Helpers shared by the library's tests: an aligned arena, a heap over it, and a root table the
 * collect callback marks from. */
#ifndef BH_TESTHEAP_H
#define BH_TESTHEAP_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blockheap.h"

#define TH_MAX_ROOTS 4096

typedef struct test_heap {
    bh_heap h;
    void *arena;
    size_t arena_bytes;
    void *roots[TH_MAX_ROOTS];
    size_t nroots;
    size_t collect_calls;
} test_heap;

static inline void th_collect(void *ctx, bh_heap *h)
{
    test_heap *t = ctx;
    t->collect_calls++;
    bh_collect_start(h);
    bh_collect_roots(h, (const void *const *)t->roots, t->nroots);
    bh_collect_end(h);
}

/* A heap of arena_bytes with the given config (block size etc.); collect marks from t->roots. */
static inline test_heap *th_new(size_t arena_bytes, const bh_config *cfg_in)
{
    test_heap *t = calloc(1, sizeof *t);
    assert_non_null(t);
    bh_config cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        memset(&cfg, 0, sizeof cfg);
    if (!cfg.collect)
        cfg.collect = th_collect;
    if (!cfg.ctx)
        cfg.ctx = t;
    t->arena_bytes = arena_bytes;
    t->arena = aligned_alloc(64, (arena_bytes + 63) & ~(size_t)63);
    assert_non_null(t->arena);
    memset(t->arena, 0xA5, arena_bytes); /* garbage: init must clear what it uses */
    assert_true(bh_init(&t->h, t->arena, arena_bytes, &cfg));
    assert_true(bh_check(&t->h));
    return t;
}

static inline void th_free(test_heap *t)
{
    free(t->arena);
    free(t);
}

static inline void th_root(test_heap *t, void *p)
{
    assert_true(t->nroots < TH_MAX_ROOTS);
    t->roots[t->nroots++] = p;
}

static inline size_t th_block(const test_heap *t, const void *p)
{
    return (size_t)((const uint8_t *)p - t->h.pool) / t->h.block_bytes;
}

static inline bool th_all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

#endif
