/* The allocator's front end: alloc, free, realloc, size. Where to place an object is the
 * placement policy's business (place.c); when to collect is decided here, as MicroPython does:
 * before the request when the threshold is reached, else once when the request finds no room. */
#include "heap.h"

static bool can_auto_collect(const bh_heap *h)
{
    return h->cfg.collect != NULL && !h->cfg.no_auto_collect;
}

/* Marks blocks [block, block+nblocks) as one object and accounts for it. */
static void claim_object(bh_heap *h, size_t block, size_t nblocks)
{
    bh__set_kind(h, block, BH_AT_HEAD);
    for (size_t b = block + 1; b < block + nblocks; b++)
        bh__set_kind(h, b, BH_AT_TAIL);
    h->used_blocks += nblocks;
    h->objects++;
    h->allocated_since_collect += nblocks;
}

#ifdef BH_FAIL_INJECTION
/* Test builds only: the allocation numbered bh_fail_at (counting from 1 over all heaps) fails as if
 * there were no room; 0 disables. */
size_t bh_fail_at, bh_alloc_count;
#endif

static void *alloc_blocks(bh_heap *h, size_t nbytes, size_t nblocks, unsigned flags, uintptr_t site)
{
    /* As MicroPython: with auto-collect off, a request behaves as if it had already collected. */
    bool may_collect = can_auto_collect(h);
    bool collected = false;
#ifdef BH_STRESS_COLLECT
    /* Test builds only (like Lua's HARDMEMTESTS): a full collection before every allocation that is
     * allowed to collect, so that any object the host forgot to root dies at once. */
    if (may_collect) {
        bh__collect_for_alloc(h);
        collected = true;
    }
#endif
#ifdef BH_FAIL_INJECTION
    if (++bh_alloc_count == bh_fail_at) {
        bh__record_failure(h, nbytes, nblocks, collected, BH_VERDICT_NONE);
        return NULL;
    }
#endif
    if (may_collect && h->cfg.threshold_blocks != 0 && h->allocated_since_collect >= h->cfg.threshold_blocks) {
        bh__collect_for_alloc(h);
        collected = true;
    }
    /* adaptive may give a large object more blocks than it asked for (size classes, so that the
     * hole a dead one leaves fits the next one); if no run fits that, the request as asked */
    size_t exact = nblocks;
    if (h->place->size_class != NULL)
        nblocks = h->place->size_class(h, nblocks, site);
    size_t block;
    bool repaired = false;
    for (;;) {
        block = nblocks <= h->pool_blocks ? h->place->find(h, nblocks, flags, site) : BH_NO_BLOCK;
        if (block != BH_NO_BLOCK) {
            /* the policy's early-collection trigger (none for micropython) */
            if (may_collect && !collected && h->place->collect_first != NULL &&
                h->place->collect_first(h, block, nblocks)) {
                bh__collect_for_alloc(h);
                collected = true;
                continue;
            }
            /* never claim what the table says is in use, whatever a corrupted free-run tree says:
             * bh__index_verified rebuilds it from the table, and the search runs again (once) */
            if (!h->place->indexed || bh__index_verified(h, block, nblocks))
                break;
            if (!repaired) {
                repaired = true;
                continue;
            }
            block = BH_NO_BLOCK; /* a tree rebuilt from the table cannot get here */
        }
        if (nblocks != exact && (!may_collect || collected)) {
            nblocks = exact;
            continue;
        }
        if (!may_collect || collected) {
            bh__record_failure(h, nbytes, nblocks, collected, BH_VERDICT_NONE);
            return NULL;
        }
        bh__collect_for_alloc(h);
        collected = true;
    }
    claim_object(h, block, nblocks);
    h->place->allocated(h, block, nblocks);
    void *p = bh__ptr(h, block);
    memset(p, 0, nblocks << h->block_shift);
    if (flags & BH_FINALISER)
        bh__set_finaliser_bit(h, block, true);
    return p;
}

void *bh_alloc_site(bh_heap *h, size_t nbytes, unsigned flags, uintptr_t site)
{
    if (nbytes == 0)
        return NULL;
    size_t nblocks = bh__blocks_for(h, nbytes);
    if (bh_is_locked(h)) {
        bh__misuse(h, BH_MISUSE_LOCKED, NULL);
        bh__record_failure(h, nbytes, nblocks, false, BH_VERDICT_LOCKED);
        return NULL;
    }
    return alloc_blocks(h, nbytes, nblocks, flags, site);
}

void *bh_alloc(bh_heap *h, size_t nbytes, unsigned flags)
{
    return bh_alloc_site(h, nbytes, flags, 0);
}

void bh__free_object(bh_heap *h, size_t block)
{
    size_t nblocks = bh__object_blocks(h, block);
    bh__set_finaliser_bit(h, block, false);
    for (size_t b = block; b < block + nblocks; b++)
        bh__set_kind(h, b, BH_AT_FREE);
    h->used_blocks -= nblocks;
    h->objects--;
    h->place->released(h, block, nblocks);
}

void bh_free(bh_heap *h, void *p)
{
    if (p == NULL)
        return;
    size_t block = bh__head_of(h, p);
    if (block == BH_NO_BLOCK)
        return;
    if (bh_is_locked(h)) {
        /* MicroPython: freeing is an optimisation; the next collection reclaims the object */
        h->deferred_frees++;
        return;
    }
    bh__free_object(h, block);
}

size_t bh_size(bh_heap *h, const void *p)
{
    if (p == NULL)
        return 0;
    size_t block = bh__head_of(h, p);
    if (block == BH_NO_BLOCK)
        return 0;
    return bh__object_blocks(h, block) << h->block_shift;
}

void *bh_realloc(bh_heap *h, void *p, size_t nbytes, bool allow_move)
{
    if (p == NULL)
        return bh_alloc(h, nbytes, 0);
    if (nbytes == 0) {
        bh_free(h, p);
        return NULL;
    }
    size_t block = bh__head_of(h, p);
    if (block == BH_NO_BLOCK)
        return NULL;
    size_t new_blocks = bh__blocks_for(h, nbytes);
    if (bh_is_locked(h)) {
        bh__misuse(h, BH_MISUSE_LOCKED, p);
        bh__record_failure(h, nbytes, new_blocks, false, BH_VERDICT_LOCKED);
        return NULL;
    }

    /* The object's blocks, then the free blocks after it, counted only as far as the request needs
     * (MicroPython's rule: it decides between shrink, grow in place and move). */
    size_t nblocks = bh__object_blocks(h, block);
    size_t free_after = 0;
    while (nblocks + free_after < new_blocks && block + nblocks + free_after < h->pool_blocks &&
           bh__kind(h, block + nblocks + free_after) == BH_AT_FREE)
        free_after++;

    if (new_blocks == nblocks)
        return p;
    if (new_blocks < nblocks) {
        for (size_t b = block + new_blocks; b < block + nblocks; b++)
            bh__set_kind(h, b, BH_AT_FREE);
        h->used_blocks -= nblocks - new_blocks;
        h->place->released(h, block + new_blocks, nblocks - new_blocks);
        return p;
    }
    if (new_blocks <= nblocks + free_after) {
        for (size_t b = block + nblocks; b < block + new_blocks; b++)
            bh__set_kind(h, b, BH_AT_TAIL);
        h->used_blocks += new_blocks - nblocks;
        h->place->grown(h, block + nblocks, new_blocks - nblocks);
        memset((uint8_t *)p + (nblocks << h->block_shift), 0, (new_blocks - nblocks) << h->block_shift);
        return p;
    }
    if (!allow_move) {
        bh__record_failure(h, nbytes, new_blocks, false, BH_VERDICT_IMMOVABLE);
        return NULL;
    }
    /* Move. The allocation may collect; p is pinned so that it survives even if the host's roots
     * do not name it (in MicroPython it is on the C stack). */
    unsigned flags = bh__finaliser_bit(h, block) ? BH_FINALISER : 0;
    h->pinned = p;
    void *moved = alloc_blocks(h, nbytes, new_blocks, flags, 0);
    h->pinned = NULL;
    if (moved == NULL)
        return NULL;
    memcpy(moved, p, nblocks << h->block_shift);
    bh__free_object(h, block);
    return moved;
}
