/* The arena and its block table: MicroPython's layout, initialisation, locking, and the one place
 * where a pointer from the host is checked before the heap believes it. */
#include "heap.h"

/* Bytes of allocation table for an arena of `total` bytes (end already aligned to the block):
 * the largest A with  A (ATB) + 1 (gap) + A*4/8 (FTB) + A*4*B (pool) <= total, written as
 * MicroPython's gc_init computes it, so that the pools agree for every size. */
static size_t atb_bytes_for(size_t total, size_t block_bytes, bool with_finalisers)
{
    if (total < 1)
        return 0;
    if (with_finalisers) {
        /* (T-1)*8 / (8 + 8*4/8 + 8*4*B); the product is split to avoid overflowing size_t */
        size_t unit = 12 + 32 * block_bytes;
        size_t t = total - 1;
        return (t / unit) * 8 + ((t % unit) * 8) / unit;
    }
    return (total - 1) / (1 + 4 * block_bytes);
}

static bool valid_block_bytes(size_t b)
{
    return b >= 2 * sizeof(void *) && (b & (b - 1)) == 0 && b <= ((size_t)1 << 16);
}

size_t bh_pool_blocks_for(size_t arena_bytes, size_t block_bytes, bool with_finalisers)
{
    if (block_bytes == 0)
        block_bytes = 4 * sizeof(void *);
    if (!valid_block_bytes(block_bytes))
        return 0;
    size_t total = arena_bytes & ~(block_bytes - 1);
    return atb_bytes_for(total, block_bytes, with_finalisers) * BH_BLOCKS_PER_ATB;
}

size_t bh_arena_bytes_for(size_t pool_blocks, size_t block_bytes, bool with_finalisers)
{
    if (block_bytes == 0)
        block_bytes = 4 * sizeof(void *);
    if (!valid_block_bytes(block_bytes))
        return 0;
    size_t a = (pool_blocks + BH_BLOCKS_PER_ATB - 1) / BH_BLOCKS_PER_ATB;
    /* smallest T with atb_bytes_for(T) >= a, then rounded up to a whole block (the end is aligned
     * down); a closed form first, then a step to absorb the floor divisions */
    size_t unit = with_finalisers ? 12 + 32 * block_bytes : 8 * (1 + 4 * block_bytes);
    size_t t = (a / 8) * unit + ((a % 8) * unit + 7) / 8 + 1;
    t = (t + block_bytes - 1) & ~(block_bytes - 1);
    while (t > block_bytes && atb_bytes_for(t - block_bytes, block_bytes, with_finalisers) >= a)
        t -= block_bytes;
    while (atb_bytes_for(t, block_bytes, with_finalisers) < a)
        t += block_bytes;
    return t;
}

bool bh_init(bh_heap *h, void *arena, size_t arena_bytes, const bh_config *cfg)
{
    memset(h, 0, sizeof *h);
    if (cfg)
        h->cfg = *cfg;
    if (h->cfg.block_bytes == 0)
        h->cfg.block_bytes = 4 * sizeof(void *);
    if (!valid_block_bytes(h->cfg.block_bytes) || (unsigned)h->cfg.policy >= BH_POLICY_COUNT || arena == NULL)
        return false;
    if (h->cfg.mark_stack != NULL && h->cfg.mark_stack_entries == 0)
        return false;

    size_t b = h->cfg.block_bytes;
    h->block_bytes = b;
    while (((size_t)1 << h->block_shift) < b)
        h->block_shift++;

    uintptr_t start = (uintptr_t)arena;
    uintptr_t end = (start + arena_bytes) & ~(uintptr_t)(b - 1);
    if (end <= start)
        return false;
    bool with_finalisers = !h->cfg.without_finalisers;
    size_t atb_bytes = atb_bytes_for((size_t)(end - start), b, with_finalisers);
    if (atb_bytes == 0)
        return false;

    h->atb = (uint8_t *)arena;
    h->atb_bytes = atb_bytes;
    h->pool_blocks = atb_bytes * BH_BLOCKS_PER_ATB;
    h->ftb = with_finalisers ? h->atb + atb_bytes + 1 : NULL;
    h->pool = (uint8_t *)arena + ((end - start) - (h->pool_blocks << h->block_shift));
    /* clear the ATB, the gap byte and the FTB */
    memset(h->atb, 0, (size_t)(h->pool - h->atb));

    if (h->cfg.mark_stack) {
        h->mark_stack = h->cfg.mark_stack;
        h->mark_stack_entries = h->cfg.mark_stack_entries;
    } else {
        h->mark_stack = h->mark_stack_storage;
        h->mark_stack_entries = BH_MARK_STACK_DEFAULT;
    }
    h->place = bh__placement(h->cfg.policy);
    if (h->place->indexed && (b < RUN_TREE_MIN_BLOCK_BYTES || h->pool_blocks > RUN_TREE_MAX_BLOCKS))
        return false; /* the free-run tree needs 16-byte nodes and 26-bit run lengths */
    if (h->cfg.policy == BH_POLICY_ADAPTIVE_O1 && !bh__lists_cover(h->pool_blocks))
        return false; /* a port built with fewer BH_LIST_CLASSES than its pool needs */
    h->place->reset(h);
    return true;
}

void bh__misuse(bh_heap *h, bh_misuse what, const void *ptr)
{
    h->misuse_counts[what]++;
    if (h->cfg.misuse)
        h->cfg.misuse(h->cfg.ctx, h, what, ptr);
}

size_t bh__head_of(bh_heap *h, const void *p)
{
    uintptr_t base = (uintptr_t)h->pool;
    uintptr_t addr = (uintptr_t)p;
    if (addr < base || addr - base >= ((uintptr_t)h->pool_blocks << h->block_shift)) {
        bh__misuse(h, BH_MISUSE_FOREIGN, p);
        return BH_NO_BLOCK;
    }
    uintptr_t offset = addr - base;
    if (offset & (h->block_bytes - 1)) {
        bh__misuse(h, BH_MISUSE_INTERIOR, p);
        return BH_NO_BLOCK;
    }
    size_t block = (size_t)(offset >> h->block_shift);
    switch (bh__kind(h, block)) {
    case BH_AT_HEAD:
    case BH_AT_MARK:
        return block;
    case BH_AT_TAIL:
        bh__misuse(h, BH_MISUSE_INTERIOR, p);
        return BH_NO_BLOCK;
    default:
        bh__misuse(h, BH_MISUSE_FREED, p);
        return BH_NO_BLOCK;
    }
}

void bh_lock(bh_heap *h)
{
    h->lock_depth++;
}

void bh_unlock(bh_heap *h)
{
    if (h->lock_depth == 0) {
        bh__misuse(h, BH_MISUSE_UNLOCK, NULL);
        return;
    }
    h->lock_depth--;
}

bool bh_is_locked(const bh_heap *h)
{
    return h->lock_depth > 0 || h->collecting;
}

void bh_set_threshold(bh_heap *h, size_t threshold_blocks)
{
    h->cfg.threshold_blocks = threshold_blocks;
}

/* Calls fn for every maximal run of free blocks, in address order: one pass over the ATB, a whole
 * byte at a time where four blocks are free. O(n / 4 + r). (The free-run indexes' rebuild.) */
void bh__each_free_run(bh_heap *h, bh__run_fn fn, void *ctx)
{
    size_t start = 0, len = 0;
    for (size_t i = 0; i <= h->atb_bytes; i++) {
        /* past the table, a used block: the end closes the last run */
        unsigned byte = i < h->atb_bytes ? h->atb[i] : (unsigned)BH_AT_HEAD;
        if (byte == 0) {
            if (len == 0)
                start = i * BH_BLOCKS_PER_ATB;
            len += BH_BLOCKS_PER_ATB;
            continue;
        }
        for (unsigned j = 0; j < BH_BLOCKS_PER_ATB; j++, byte >>= 2) {
            if ((byte & 3u) == BH_AT_FREE) {
                if (len++ == 0)
                    start = i * BH_BLOCKS_PER_ATB + j;
                continue;
            }
            if (len != 0)
                fn(h, ctx, start, len);
            len = 0;
            if (i == h->atb_bytes)
                return;
        }
    }
}
