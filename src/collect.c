/* The collector: mark from the host's roots, trace conservatively, finalise, sweep.
 *
 *   bh_collect_start   lock the heap (by `collecting`), reset the threshold count, mark the pinned
 *                      object of a moving realloc.
 *   bh_collect_roots   every root word that is the address of a HEAD block marks that object and
 *                      traces everything reachable from it (trace_from).
 *   bh_collect_end     1. recover from mark-stack overflow: rescan the heap for marked objects and
 *                         trace them again, until a pass ends without overflow;
 *                      2. finalise: call the host's finaliser for every unmarked object with its FTB
 *                         bit, in address order, all before anything is freed (the heap stays
 *                         locked, so a finaliser cannot allocate or free);
 *                      3. sweep: free every unmarked object, turn marks back into heads;
 *                      4. tell the placement policy, unlock.
 */
#include "heap.h"

/* A word marks an object only if it is exactly the address of an unmarked head. Returns the block
 * it marked, or BH_NO_BLOCK. */
static size_t mark_if_head(bh_heap *h, uintptr_t word)
{
    uintptr_t offset = word - (uintptr_t)h->pool; /* wraps to a huge value below the pool */
    if (offset >= ((uintptr_t)h->pool_blocks << h->block_shift) || (offset & (h->block_bytes - 1)) != 0)
        return BH_NO_BLOCK;
    size_t block = (size_t)(offset >> h->block_shift);
    if (bh__kind(h, block) != BH_AT_HEAD)
        return BH_NO_BLOCK;
    bh__set_kind(h, block, BH_AT_MARK);
    return block;
}

/* Scans the marked object at `block` and, depth first through the explicit stack, everything it
 * reaches. A child that finds the stack full stays marked but untraced, and the overflow flag
 * sends bh_collect_end back over the heap for it. */
static void trace_from(bh_heap *h, size_t block)
{
    size_t sp = 0;
    for (;;) {
        size_t nblocks = bh__object_blocks(h, block);
        const uint8_t *p = (const uint8_t *)bh__ptr(h, block);
        const uint8_t *end = p + (nblocks << h->block_shift);
        for (; p < end; p += sizeof(uintptr_t)) {
            uintptr_t word;
            bh__load_store(&word, p, sizeof word); /* any object type: read the bytes, not an lvalue */
            size_t child = mark_if_head(h, word);
            if (child == BH_NO_BLOCK)
                continue;
            if (sp < h->mark_stack_entries)
                h->mark_stack[sp++] = child;
            else
                h->mark_overflow = true;
        }
        if (sp == 0)
            return;
        block = h->mark_stack[--sp];
    }
}

void bh_collect_start(bh_heap *h)
{
    if (h->collecting) { /* includes a finaliser: the collection under way is finalising */
        bh__misuse(h, BH_MISUSE_COLLECTING, NULL);
        return;
    }
    h->collecting = true;
    h->mark_overflow = false;
    h->allocated_since_collect = 0;
    if (h->pinned) {
        size_t block = mark_if_head(h, (uintptr_t)h->pinned);
        if (block != BH_NO_BLOCK)
            trace_from(h, block);
    }
}

void bh_collect_roots(bh_heap *h, const void *const *words, size_t n)
{
    if (!h->collecting || h->finalising) {
        /* from a finaliser: the marks are final, and a root now would keep an object whose
         * finaliser has already run */
        bh__misuse(h, BH_MISUSE_COLLECTING, words);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t block = mark_if_head(h, (uintptr_t)words[i]);
        if (block != BH_NO_BLOCK)
            trace_from(h, block);
    }
}

static void recover_from_overflow(bh_heap *h)
{
    while (h->mark_overflow) {
        h->mark_overflow = false;
        for (size_t block = 0; block < h->pool_blocks; block++)
            if (bh__kind(h, block) == BH_AT_MARK)
                trace_from(h, block);
    }
}

static void run_finalisers(bh_heap *h)
{
    if (h->ftb == NULL || h->cfg.finalise == NULL)
        return;
    for (size_t i = 0; i < (h->pool_blocks + 7) / 8; i++) {
        if (h->ftb[i] == 0)
            continue; /* eight blocks without a finaliser at once */
        for (size_t block = i * 8; block < i * 8 + 8 && block < h->pool_blocks; block++)
            if (bh__finaliser_bit(h, block) && bh__kind(h, block) == BH_AT_HEAD)
                h->cfg.finalise(h->cfg.ctx, h, bh__ptr(h, block));
    }
}

static void sweep(bh_heap *h)
{
    bool freeing = false; /* inside an unmarked object: its tails go too */
    size_t freed_blocks = 0, freed_objects = 0;
    for (size_t block = 0; block < h->pool_blocks; block++) {
        switch (bh__kind(h, block)) {
        case BH_AT_HEAD:
            freeing = true;
            freed_objects++;
            bh__set_finaliser_bit(h, block, false);
            /* fall through */
        case BH_AT_TAIL:
            if (freeing) {
                bh__set_kind(h, block, BH_AT_FREE);
                freed_blocks++;
            }
            break;
        case BH_AT_MARK:
            bh__set_kind(h, block, BH_AT_HEAD);
            freeing = false;
            break;
        default:
            if (h->atb[block >> 2] == 0)
                block |= 3; /* the rest of an all-free ATB byte */
            break;
        }
    }
    h->used_blocks -= freed_blocks;
    h->objects -= freed_objects;
}

void bh_collect_end(bh_heap *h)
{
    if (!h->collecting || h->finalising) {
        /* from a finaliser, ending the collection would run the finalisers again, without bound */
        bh__misuse(h, BH_MISUSE_COLLECTING, NULL);
        return;
    }
    recover_from_overflow(h);
    h->finalising = true;
    run_finalisers(h);
    h->finalising = false;
    sweep(h);
    h->place->swept(h);
    h->collections++;
    h->collecting = false;
}

void bh_collect(bh_heap *h)
{
    if (h->cfg.collect) {
        h->cfg.collect(h->cfg.ctx, h);
        return;
    }
    bh_collect_start(h);
    bh_collect_end(h);
}

void bh__collect_for_alloc(bh_heap *h)
{
    h->cfg.collect(h->cfg.ctx, h);
}
