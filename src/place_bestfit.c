/* Placement policy `bestfit`: the smallest free run that fits, the lowest-addressed among equals;
 * an exact fit ends the search at once.
 *
 * The search scans the ATB from the cursor (an ATB byte below which no block is free, as in the
 * micropython policy) to the end: O(n) per allocation. It skips eight ATB bytes (32 blocks), or one,
 * at a time when they are all free or all in use. It also notes the lowest free block it sees (first_free), which lets the
 * cursor move after every allocation: if the object went to the lowest free block, every block
 * below its end is in use; otherwise the cursor can move up to the lowest free block. */
#include "heap.h"

static void bf_reset(bh_heap *h)
{
    h->cursor = 0;
    h->pol.bestfit.first_free = BH_NO_BLOCK;
}

/* true if none of the four blocks of ATB byte b is free */
static inline bool byte_all_used(unsigned b)
{
    return ((b | (b >> 1)) & 0x55u) == 0x55u;
}

static size_t best_fit(const bh_heap *h, size_t nblocks, size_t *first_free_out)
{
    const uint8_t *atb = h->atb;
    size_t best = BH_NO_BLOCK, best_len = (size_t)-1, run = 0, first_free = BH_NO_BLOCK;
    size_t n = h->atb_bytes;
    for (size_t i = h->cursor; i < n; i++) {
        if ((i & 7u) == 0 && i + 8 <= n) {
            /* eight ATB bytes (32 blocks) at once when they are all in use or all free */
            uint64_t w;
            bh__load_store(&w, atb + i, sizeof w);
            if (run == 0 && ((w | (w >> 1)) & UINT64_C(0x5555555555555555)) == UINT64_C(0x5555555555555555)) {
                i += 7;
                continue;
            }
            if (w == 0) {
                if (run == 0 && first_free == BH_NO_BLOCK)
                    first_free = i * BH_BLOCKS_PER_ATB;
                run += 8 * BH_BLOCKS_PER_ATB;
                i += 7;
                continue;
            }
        }
        unsigned byte = atb[i];
        if (byte == 0) {
            if (run == 0 && first_free == BH_NO_BLOCK)
                first_free = i * BH_BLOCKS_PER_ATB;
            run += BH_BLOCKS_PER_ATB;
            continue;
        }
        if (byte_all_used(byte) && run == 0)
            continue;
        for (unsigned j = 0; j < BH_BLOCKS_PER_ATB; j++, byte >>= 2) {
            if ((byte & 3u) == BH_AT_FREE) {
                if (run == 0 && first_free == BH_NO_BLOCK)
                    first_free = i * BH_BLOCKS_PER_ATB + j;
                run++;
                continue;
            }
            if (run >= nblocks && run < best_len) {
                best = i * BH_BLOCKS_PER_ATB + j - run;
                best_len = run;
                if (run == nblocks)
                    goto done;
            }
            run = 0;
        }
    }
    if (run >= nblocks && run < best_len) /* the run that reaches the end of the pool */
        best = n * BH_BLOCKS_PER_ATB - run;
done:
    *first_free_out = first_free;
    return best;
}

static size_t bf_find(bh_heap *h, size_t nblocks, unsigned flags, uintptr_t site)
{
    (void)flags;
    (void)site;
    return best_fit(h, nblocks, &h->pol.bestfit.first_free);
}

static void bf_allocated(bh_heap *h, size_t block, size_t nblocks)
{
    size_t ff = h->pol.bestfit.first_free;
    if (ff == block) /* the lowest free block: every block below the new object's end is in use */
        h->cursor = (block + nblocks) / BH_BLOCKS_PER_ATB;
    else if (ff != BH_NO_BLOCK && ff / BH_BLOCKS_PER_ATB > h->cursor)
        h->cursor = ff / BH_BLOCKS_PER_ATB;
}

const struct bh_placement bh__placement_bestfit = {
    "bestfit", bf_reset, bf_find, bf_allocated, bh__ignore_growth, bh__cursor_lower, bh__cursor_reset,
    bh__cursor_holds, NULL, false, NULL,
};
