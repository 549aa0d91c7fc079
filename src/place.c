/* Placement policies: where a new object goes. Each policy is a table of functions (heap.h);
 * the allocation table stays the single source of truth, a policy only steers the search. */
#include "heap.h"

/* ---- micropython: address-ordered first fit from a cursor, bit for bit MicroPython's gc_alloc.
 *
 * The cursor is an ATB byte index (a group of 4 blocks) below which no block is free. The search
 * takes the first run of n free blocks at or after 4*cursor, which, by that invariant, is the
 * lowest-addressed run in the heap that fits. The cursor moves up only after a 1-block allocation
 * (then every block up to and including the new one is in use), down to the freed block's ATB byte
 * on a free or shrink, and to 0 after a collection. */

bool bh__atb_word_all_in_use(const uint8_t *atb4)
{
    uint32_t word;
    memcpy(&word, atb4, sizeof word);
    return (~(word | (word >> 1)) & 0x55555555u) == 0; /* every 2-bit field has a bit set */
}

size_t bh__first_fit_up(const bh_heap *h, size_t nblocks)
{
    size_t run = 0;
    const uint8_t *atb = h->atb;
    for (size_t i = h->cursor; i < h->atb_bytes;) {
        if (run == 0 && i + 4 <= h->atb_bytes && bh__atb_word_all_in_use(atb + i)) {
            i += 4; /* sixteen used blocks at once: a full heap is mostly this */
            continue;
        }
        unsigned byte = atb[i];
        if (byte == 0 && run + BH_BLOCKS_PER_ATB < nblocks) {
            run += BH_BLOCKS_PER_ATB; /* four free blocks at once */
            i++;
            continue;
        }
        for (unsigned j = 0; j < BH_BLOCKS_PER_ATB; j++, byte >>= 2) {
            if ((byte & 3u) != BH_AT_FREE) {
                run = 0;
            } else if (++run >= nblocks) {
                return i * BH_BLOCKS_PER_ATB + j + 1 - nblocks;
            }
        }
        i++;
    }
    return BH_NO_BLOCK;
}

static size_t mp_find(bh_heap *h, size_t nblocks, unsigned flags, uintptr_t site)
{
    (void)flags;
    (void)site;
    return bh__first_fit_up(h, nblocks);
}

static void mp_allocated(bh_heap *h, size_t block, size_t nblocks)
{
    if (nblocks == 1)
        h->cursor = (block + 1) / BH_BLOCKS_PER_ATB;
}

void bh__ignore_growth(bh_heap *h, size_t block, size_t nblocks)
{
    (void)h;
    (void)block;
    (void)nblocks;
}

void bh__cursor_lower(bh_heap *h, size_t block, size_t nblocks)
{
    (void)nblocks;
    if (block / BH_BLOCKS_PER_ATB < h->cursor)
        h->cursor = block / BH_BLOCKS_PER_ATB;
}

void bh__cursor_reset(bh_heap *h)
{
    h->cursor = 0;
}

bool bh__cursor_holds(const bh_heap *h)
{
    if (h->cursor > h->atb_bytes)
        return false;
    for (size_t b = 0; b < h->cursor * BH_BLOCKS_PER_ATB; b++)
        if (bh__kind(h, b) == BH_AT_FREE)
            return false;
    return true;
}

static const struct bh_placement placement_micropython = {
    "micropython", bh__cursor_reset, mp_find, mp_allocated, bh__ignore_growth, bh__cursor_lower,
    bh__cursor_reset, bh__cursor_holds, NULL,
};

const struct bh_placement *bh__placement(bh_policy policy)
{
    switch (policy) {
    case BH_POLICY_BESTFIT:
        return &bh__placement_bestfit;
    case BH_POLICY_LIFETIME:
        return &bh__placement_lifetime;
    case BH_POLICY_FIRSTFIT_GC:
        return &bh__placement_firstfit_gc;
    case BH_POLICY_ADAPTIVE:
        return &bh__placement_adaptive;
    case BH_POLICY_MICROPYTHON:
    default:
        return &placement_micropython;
    }
}
