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

/* The blocks in use among the 16 of ATB bytes atb4[0..3]: bit 2j set when block j is not free.
 * Assembled byte by byte so that block j is bit 2j on every byte order. */
static uint32_t used_mask16(const uint8_t *atb4)
{
    uint32_t w = (uint32_t)atb4[0] | (uint32_t)atb4[1] << 8 | (uint32_t)atb4[2] << 16 | (uint32_t)atb4[3] << 24;
    return (w | (w >> 1)) & 0x55555555u;
}

#define BH_ALL_USED16 0x55555555u

/* The first run of nblocks free blocks at or after the cursor (MicroPython's search). Sixteen
 * blocks at a time: a group with none free ends any run; for a request longer than a group, only the
 * free blocks at a group's low end (continuing a run) and at its high end (starting one) matter. The
 * rest, block by block within an ATB byte, four at a time where a byte is all free. */
static size_t mp_find(bh_heap *h, size_t nblocks, unsigned flags, uintptr_t site)
{
    (void)flags;
    (void)site;
    size_t run = 0;
    const uint8_t *atb = h->atb;
    for (size_t i = h->cursor; i < h->atb_bytes;) {
        if (i + 4 <= h->atb_bytes) {
            uint32_t used = used_mask16(atb + i);
            if (used == BH_ALL_USED16) {
                run = 0;
                i += 4;
                continue;
            }
            if (nblocks > 16) {
                size_t lead = used ? bh__lowest_bit(used) / 2 : 16;
                if (run + lead >= nblocks)
                    return i * BH_BLOCKS_PER_ATB - run;
                run = used ? 15 - bh__highest_bit(used) / 2 : run + 16;
                i += 4;
                continue;
            }
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
    bh__cursor_reset, bh__cursor_holds, NULL, false, NULL,
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
    case BH_POLICY_ADAPTIVE_O1:
        return &bh__placement_adaptive_o1;
    case BH_POLICY_MICROPYTHON:
    default:
        return &placement_micropython;
    }
}
