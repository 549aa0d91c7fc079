/* Placement policies `lifetime`, `firstfit_gc` and `adaptive`: lifetime segregation and an
 * early-collection trigger (see bh_policy in blockheap.h).
 *
 * Where an object goes. Objects predicted to be long-lived go to the top end of the highest free
 * run that fits; all others go first fit from the bottom, exactly where the micropython policy
 * would place them. Both searches are O(log r) descents of the free-run tree (runtree.c), which
 * every allocation, free, shrink, growth and sweep keeps exact. Temporaries then fill and empty
 * the bottom while long-lived objects accumulate at the top, so a collection leaves one large free
 * run in the middle instead of holes between long-lived objects.
 *
 * adaptive_o1 only: a small object (NEW_SITE_SMALL_MAX blocks: 32 bytes, a float, a short tuple
 * or string, a function or raw-code object) of a site not learned yet is placed as long-lived, in
 * the top end of the hole it fits or of the wilderness. A site seen for the first time is mostly
 * a program being loaded: its constants, functions and compiled code, small and permanent, made
 * among the parse tree and the compiler's temporaries, which are large. At the bottom, first fit
 * interleaves them, and the permanent ones pin the region the parse tree leaves (bm_pidigits: its
 * bytecode and constants split the heap its big integers need). At the top they pack apart. A
 * small temporary guessed wrong costs one small hole, until its site is learned (its first sample
 * resolves at the next collection). Large objects of new sites stay at the bottom: they are often
 * buffers that grow in place (parse chunks, strings being built), which a top end would block.
 * Measured on the shared traces, before the trigger's rule for holes: adaptive_o1's mean 1.048 ->
 * 1.036 (bm_pidigits 1.201 -> 1.082, app_dashboard 1.042 -> 1.021, memoryview_gc 1.068 -> 1.010,
 * bm_fft 1.009 -> 1.034); with objects of 1 block only, 1.054 (app_dashboard 1.095); of up to 3
 * blocks, 1.038. Not for adaptive: its long-lived objects go to the top of the highest run, the
 * wilderness, ahead of every hole, and the guess breaks first fit's packing of the small programs
 * (1.047 -> 1.057, five programs worse than micropython).
 *
 * Adaptive only: a moving realloc (no site) goes to the top if the object was above the
 * wilderness (the top side), else first fit; and a request of SIZE_CLASS_MIN blocks or more from a
 * site already learned gets its size class (seg_size_class), so that the
 * holes large objects leave are reusable when their sizes creep up (bm_pidigits: big integers
 * grow a block every so often, and every hole a dead one left was one block too small for the
 * next).
 *
 * How a lifetime is predicted. BH_LONG_LIVED says so. Otherwise the site token indexes (by a
 * multiplicative hash) a table of BH_SEG_SITES saturating votes: positive means long-lived, negative
 * short-lived, 0 not learned yet (placed as short-lived: at the bottom, where first fit packs the
 * programs it already packs perfectly). The table learns online from sampled objects held in
 * BH_SEG_SAMPLES slots (head block, birth time, site index): the first object of a site not learned
 * yet (one pending sample per site), and otherwise one allocation every 1/32 of the previous
 * collection epoch. A sample that is freed (bh_free, or moved by realloc) votes "short"; at a
 * collection, a sample that was swept votes "short", one that survived at an age of at least
 * LEARN_AGE allocations (or half the previous epoch if shorter) votes "long", a younger survivor
 * waits for the next collection. Votes skip 0, so a learned site stays learned. Nothing is stored
 * per object: a sample is identified by its head block, which cannot be reused before the sample
 * is resolved (a free of it resolves it first, and a collection resolves it before anything new is
 * allocated).
 *
 * When to collect (firstfit_gc, adaptive). After each collection the largest free run is the
 * "wilderness" [wild_lo, wild_hi); allocations shrink it from either end. An allocation that would
 * take blocks from what is left of it collects first when the blocks allocated since the last
 * collection reach max(survivors / TRIGGER_DIV, wilderness / WILD_DIV, pool / FLOOR_DIV): the used
 * area grows only once the garbage already made has been reclaimed, and a heap with room to spare
 * collects less. Adaptive also collects to learn: when a sample of a site not learned yet is
 * LEARN_AGE allocations old, once pool / LEARN_DIV blocks were allocated since the last collection,
 * so that a new phase of the program is learned within an epoch instead of being placed by guess.
 * Both never collect before FREE_EIGHTHS/8 of the free blocks the last collection left were
 * allocated again (+1/8 per consecutive early collection that found the heap in a steady state,
 * the same blocks in use as the last one left, up to STEADY_MAX): on small programs the other
 * bounds alone collected every few dozen blocks, up to 8x as often as MicroPython, for nothing.
 * Under pressure, when the survivors of the last collection fill PRESSURE_EIGHTHS/8 of the pool or
 * more, that last bound and the floor are dropped and the others become survivors /
 * PRESSED_TRIGGER_DIV and wilderness / PRESSED_WILD_DIV: a heap with little room collects
 * before its wilderness is eaten into, whatever it costs in collections (the programs that first
 * fit packs keep more room than that between their peaks, and collect as before). Under pressure
 * an allocation that refills a hole collects first too, once FREE_EIGHTHS/8 of the free blocks the
 * last collection left are in use again (used - survivors: what explicit frees and moving reallocs
 * gave back counts as free). A learning collection waits while the wilderness left is below
 * pool / LEARN_WILD_DIV: the heap is nearly full and collects soon anyway.
 * (The constants were chosen on the shared traces; see bench/fragmentation.sh.)
 *
 * Complexity (r = free runs): find O(log r); allocated O(log r), + O(BH_SEG_SAMPLES) when it takes
 * a sample; released O(log r + BH_SEG_SAMPLES); collect_first O(1), O(BH_SEG_SAMPLES) while a new
 * site's sample is pending; swept O(n) (the tree is rebuilt in the sweep's wake) +
 * O(BH_SEG_SAMPLES); check O(n + BH_SEG_SITES + BH_SEG_SAMPLES^2). */
#include "heap.h"

enum {
    VOTE_MAX = 15,    /* site votes saturate at +-VOTE_MAX */
    LEARN_AGE = 128,  /* allocations: a survivor at least this old counts as long-lived (on the
                         shared traces a temporary dies within about 100 allocations) */
    TRIGGER_DIV = 8,  /* early collection after survivors / TRIGGER_DIV blocks allocated ... */
    WILD_DIV = 2,     /* ... or wilderness / WILD_DIV, or pool / FLOOR_DIV, whichever is most */
    FLOOR_DIV = 32,
    LEARN_DIV = 64,   /* learning collection: not before pool / LEARN_DIV blocks allocated */
    FREE_EIGHTHS = 4, /* ... and never before FREE_EIGHTHS/8 of the free blocks the last collection
                         left (pool - survivors): at most about twice as many collections as
                         collecting only when full (MicroPython) would make ... */
    STEADY_MAX = 2,   /* ... plus one eighth per consecutive early collection that found the heap
                         exactly as the one before left it (a steady state), up to STEADY_MAX */
    PRESSURE_EIGHTHS = 5, /* under pressure (survivors fill at least 5/8 of the pool) ... */
    PRESSED_TRIGGER_DIV = 64, /* ... the bounds are survivors / 64 and wilderness / 16 (survivors
                                 / 64 is then at least pool / 103: no floor needed) */
    PRESSED_WILD_DIV = 16,
    LEARN_WILD_DIV = 8, /* no learning collection once the wilderness left is below pool / 8 */
    NEW_SITE_SMALL_MAX = 2, /* adaptive_o1: objects of at most this many blocks from a site not
                               learned yet are placed as long-lived (see the header above) */
    SIZE_CLASS_MIN = 64,  /* adaptive: a learned site's objects of at least this many blocks ... */
    SIZE_CLASS_SHIFT = 2  /* ... get a multiple of g = 2^(floor(log2 blocks) - SIZE_CLASS_SHIFT),
                             or such a multiple + 1, whichever is smaller */
};
#define SLOT_FREE UINT32_MAX
#define NO_SITE ((size_t)-1)
#define UNKNOWN_BIT 0x80000000u /* in a sample's site: the site was not learned when sampled */

typedef enum { SEG_LIFETIME, SEG_FIRSTFIT_GC, SEG_ADAPTIVE } seg_kind;

static seg_kind kind_of(const bh_heap *h)
{
    switch (h->cfg.policy) {
    case BH_POLICY_FIRSTFIT_GC: return SEG_FIRSTFIT_GC;
    case BH_POLICY_ADAPTIVE:
    case BH_POLICY_ADAPTIVE_O1: return SEG_ADAPTIVE;
    default: return SEG_LIFETIME;
    }
}

/* adaptive_o1: the free-run lists (runlists.c) instead of the tree (runtree.c) */
static bool lists(const bh_heap *h)
{
    return h->cfg.policy == BH_POLICY_ADAPTIVE_O1;
}

static bool learns(const bh_heap *h)
{
    return kind_of(h) != SEG_FIRSTFIT_GC;
}

static size_t site_index(uintptr_t site)
{
    /* Fibonacci hashing of the token's 64 bits (on 32-bit hosts the token is 32 bits) */
    uint64_t x = (uint64_t)site * UINT64_C(0x9E3779B97F4A7C15);
    x ^= x >> 29;
    x *= UINT64_C(0xBF58476D1CE4E5B9);
    return (size_t)(x >> 40) & (BH_SEG_SITES - 1);
}

/* ---- the index: the free-run tree, or adaptive_o1's lists */

size_t bh__index_largest(const bh_heap *h)
{
    return lists(h) ? bh__lists_largest(h) : bh__runs_largest(h);
}

/* From the table; and the wilderness becomes the largest free run (the lowest of equals). */
void bh__index_rebuild(bh_heap *h)
{
    struct bh_seg_state *s = &h->pol.seg;
    if (lists(h)) {
        bh__lists_rebuild(h); /* (it finds the wilderness on its way) */
        return;
    }
    bh__runs_rebuild(h);
    size_t len = bh__runs_largest(h);
    s->wild_lo = len ? bh__runs_lowest_fit(h, len) : 0;
    s->wild_hi = s->wild_lo + len;
}

bool bh__index_verified(bh_heap *h, size_t block, size_t nblocks)
{
    if (block + nblocks <= h->pool_blocks) {
        size_t b = block;
        while (b < block + nblocks && bh__kind(h, b) == BH_AT_FREE)
            b++;
        if (b == block + nblocks)
            return true;
    }
    bh__index_rebuild(h); /* the index named blocks in use: a host wrote into a freed object */
    return false;
}

/* Whether blocks [block, block + nblocks) take from the wilderness [wild_lo, wild_hi). */
static bool takes_wilderness(const struct bh_seg_state *s, size_t block, size_t nblocks)
{
    return block < s->wild_hi && block + nblocks > s->wild_lo;
}

static void seg_reset(bh_heap *h)
{
    struct bh_seg_state *s = &h->pol.seg;
    memset(s, 0, sizeof *s);
    bh__index_rebuild(h); /* the wilderness: the whole pool */
    s->pending_hash = NO_SITE;
    s->epoch_len = 2 * BH_SEG_SAMPLES; /* until a real epoch has been seen: sample densely */
    for (unsigned k = 0; k < BH_SEG_SAMPLES; k++)
        s->samples[k].block = SLOT_FREE;
}

static size_t seg_find(bh_heap *h, size_t nblocks, unsigned flags, uintptr_t site)
{
    struct bh_seg_state *s = &h->pol.seg;
    bool is_long = (flags & BH_LONG_LIVED) != 0;
    s->pending_hash = NO_SITE;
    if (site != 0 && learns(h)) {
        size_t idx = site_index(site);
        s->pending_hash = idx;
        if (s->votes[idx] > 0) /* learned long-lived; a site not learned yet goes to the bottom */
            is_long = true;
        else if (s->votes[idx] == 0 && lists(h) && nblocks <= NEW_SITE_SMALL_MAX)
            is_long = true; /* adaptive_o1: a small object of a site not learned yet */
    }
    if (site == 0 && !is_long && h->pinned != NULL && kind_of(h) == SEG_ADAPTIVE) {
        /* a moving realloc (no site): the object stays on the side it came from; above the
         * wilderness is the top, where long-lived objects go */
        size_t old = bh__head_of(h, h->pinned);
        if (old != BH_NO_BLOCK && old >= s->wild_hi)
            is_long = true;
    }
    s->pending_long = is_long;
    if (lists(h))
        return bh__lists_find(h, nblocks, is_long);
    return is_long ? bh__runs_highest_fit(h, nblocks) : bh__runs_lowest_fit(h, nblocks);
}

static size_t seg_size_class(const bh_heap *h, size_t nblocks, uintptr_t site)
{
    /* Size classes for large objects of a learned site (a site not learned yet may be a one-off
     * whose rounding would be wasted for good): SIZE_CLASS_MIN blocks and more are rounded up to a
     * multiple of g = 2^(floor(log2 n) - SIZE_CLASS_SHIFT), or a multiple of g plus one block,
     * whichever is smaller, at most 1/4 more. A program whose large objects grow slowly
     * (bm_pidigits' big integers, one block more every so often) otherwise leaves holes each just
     * too small for the next one. */
    if (nblocks < SIZE_CLASS_MIN || nblocks > RUN_TREE_MAX_BLOCKS || site == 0 ||
        h->pol.seg.votes[site_index(site)] == 0)
        return nblocks; /* (more than the tree's limit never fits: left as asked) */
    size_t g = (size_t)1 << (bh__highest_bit((uint32_t)nblocks) - SIZE_CLASS_SHIFT);
    /* the classes are the multiples of g and the multiples of g plus one block: a power-of-two
     * buffer and one more block (a 1024-byte bytes object and its NUL: 65 blocks) keeps 65 blocks,
     * not 80 (app_dashboard 1.122 -> 1.094) */
    if (((nblocks - 1) & (g - 1)) == 0)
        return nblocks;
    return (nblocks + g - 1) & ~(g - 1);
}

static void take_sample(bh_heap *h, size_t block)
{
    struct bh_seg_state *s = &h->pol.seg;
    if (s->pending_hash == NO_SITE || block >= SLOT_FREE)
        return;
    /* a site never seen before is sampled at once (one pending sample per site); others at the
     * stride (clock before next_sample, modulo wrap, means not yet) */
    uint32_t site = (uint32_t)s->pending_hash;
    bool unknown = s->votes[site] == 0;
    if (unknown) {
        for (unsigned k = 0; k < BH_SEG_SAMPLES; k++)
            if (s->samples[k].block != SLOT_FREE && (s->samples[k].site & ~UNKNOWN_BIT) == site)
                return;
    } else if ((uint32_t)(s->clock - s->next_sample) > UINT32_MAX / 2) {
        return;
    }
    for (unsigned k = 0; k < BH_SEG_SAMPLES; k++) {
        if (s->samples[k].block == SLOT_FREE) {
            s->samples[k].block = (uint32_t)block;
            s->samples[k].birth = s->clock;
            s->samples[k].site = site | (unknown ? UNKNOWN_BIT : 0);
            s->unknown_pending += unknown;
            if (!unknown) {
                uint32_t stride = s->epoch_len / (2 * BH_SEG_SAMPLES);
                s->next_sample = s->clock + (stride ? stride : 1);
            }
            return;
        }
    }
}

/* Counts a vote for a site; the count skips 0, which means "not learned yet". */
static void vote(bh_heap *h, uint32_t slot_site, bool is_long)
{
    struct bh_seg_state *s = &h->pol.seg;
    int8_t *v = &s->votes[slot_site & ~UNKNOWN_BIT];
    if (slot_site & UNKNOWN_BIT)
        s->unknown_pending--;
    if (is_long)
        *v = (int8_t)(*v == -1 ? 1 : *v < VOTE_MAX ? *v + 1 : *v);
    else
        *v = (int8_t)(*v == 1 ? -1 : *v > -VOTE_MAX ? *v - 1 : *v);
}

static void seg_allocated(bh_heap *h, size_t block, size_t nblocks)
{
    struct bh_seg_state *s = &h->pol.seg;
    if (lists(h))
        bh__lists_take(h, block, nblocks); /* (the wilderness is theirs to shrink) */
    else
        bh__runs_take(h, block, nblocks);
    /* what the allocation took from the wilderness */
    if (!lists(h) && takes_wilderness(s, block, nblocks)) {
        if (s->pending_long) {
            s->wild_hi = block > s->wild_lo ? block : s->wild_lo;
        } else {
            s->wild_lo = block + nblocks < s->wild_hi ? block + nblocks : s->wild_hi;
        }
    }
    if (learns(h))
        take_sample(h, block);
    s->clock++;
    s->pending_hash = NO_SITE;
}

static void seg_grown(bh_heap *h, size_t block, size_t nblocks)
{
    struct bh_seg_state *s = &h->pol.seg;
    if (lists(h)) {
        bh__lists_take(h, block, nblocks);
        return;
    }
    bh__runs_take(h, block, nblocks);
    /* a realloc that grows into the wilderness from below */
    if (takes_wilderness(s, block, nblocks))
        s->wild_lo = block + nblocks < s->wild_hi ? block + nblocks : s->wild_hi;
}

static void seg_released(bh_heap *h, size_t block, size_t nblocks)
{
    struct bh_seg_state *s = &h->pol.seg;
    if (lists(h))
        bh__lists_give(h, block, nblocks);
    else
        bh__runs_give(h, block, nblocks);
    size_t last = block + nblocks - 1;
    for (unsigned k = 0; k < BH_SEG_SAMPLES; k++) {
        uint32_t b = s->samples[k].block;
        if (b != SLOT_FREE && b >= block && b <= last) {
            vote(h, s->samples[k].site, false); /* freed explicitly: a temporary */
            s->samples[k].block = SLOT_FREE;
        }
    }
}

static void seg_swept(bh_heap *h)
{
    struct bh_seg_state *s = &h->pol.seg;
    bh__index_rebuild(h);
    uint32_t epoch = s->clock - s->epoch_start;
    if (s->early) {
        /* an early collection that leaves exactly what the last one left: the program cycles
         * through the same garbage around a live set that does not grow, and collecting early
         * does not keep the used area from growing. (With next to nothing live, an early
         * collection is cheap and keeps a stream of garbage low: no relaxation.) */
        if (h->used_blocks == s->survivors && s->survivors >= h->pool_blocks / 16) {
            if (s->steady < STEADY_MAX)
                s->steady++;
        } else {
            s->steady = 0;
        }
        s->early = 0;
    }
    uint32_t min_age = s->epoch_len / 2 < LEARN_AGE ? s->epoch_len / 2 : LEARN_AGE;
    for (unsigned k = 0; k < BH_SEG_SAMPLES; k++) {
        uint32_t b = s->samples[k].block;
        if (b == SLOT_FREE)
            continue;
        if (bh__kind(h, b) == BH_AT_FREE) {
            vote(h, s->samples[k].site, false); /* died before this collection */
            s->samples[k].block = SLOT_FREE;
        } else if ((uint32_t)(s->clock - s->samples[k].birth) >= min_age) {
            vote(h, s->samples[k].site, true);  /* survived it, and is not just young */
            s->samples[k].block = SLOT_FREE;
        }
    }
    s->epoch_len = epoch > 2 * BH_SEG_SAMPLES ? epoch : 2 * BH_SEG_SAMPLES;
    s->epoch_start = s->clock;
    s->next_sample = s->clock;
    s->survivors = h->used_blocks;
    s->wild_len = s->wild_hi - s->wild_lo;
}

static bool seg_collect_first(bh_heap *h, size_t block, size_t nblocks)
{
    struct bh_seg_state *s = &h->pol.seg;
    if (kind_of(h) == SEG_LIFETIME)
        return false;
    if (s->unknown_pending != 0 && h->allocated_since_collect >= h->pool_blocks / LEARN_DIV &&
        s->wild_hi - s->wild_lo >= h->pool_blocks / LEARN_WILD_DIV) {
        /* learning: a new site's sample is old enough to tell; collect rather than keep placing
         * its objects by guess. Not once the heap is nearly full (little wilderness left): a
         * collection comes soon anyway, and one now would only disturb the packing of a peak
         * (bm_hexiom's is in its compile phase, where first fit packs it exactly) */
        for (unsigned k = 0; k < BH_SEG_SAMPLES; k++)
            if ((s->samples[k].site & UNKNOWN_BIT) && s->samples[k].block != SLOT_FREE &&
                (uint32_t)(s->clock - s->samples[k].birth) >= LEARN_AGE)
                return true;
    }
    bool pressed = s->survivors * 8 >= h->pool_blocks * PRESSURE_EIGHTHS;
    size_t free_left = h->pool_blocks - s->survivors; /* the free blocks the last collection left */
    /* what counts toward the bound: blocks allocated since the last collection (the garbage a
     * stretch of allocations may have left), or, for a hole, blocks in use above what it left */
    size_t need, spent = h->allocated_since_collect;
    if (!takes_wilderness(s, block, nblocks)) {
        /* reuses a hole: no growth of the used area. But under pressure, once half the free
         * blocks the last collection left are in use again: the holes are being filled with new
         * objects among the garbage that a collection would have made room for, and the
         * survivors among them pepper the holes until no run is left for a large request
         * (app_logger 1.195 -> 1.095, app_dashboard 1.021 -> 1.006 at the minimum heap). A
         * collection at most every half of the free space: about twice MicroPython's count, at
         * most, where it collects only when full. In use again, not allocated: the blocks that
         * explicit frees and moving reallocs gave back are free space too (a program that has
         * just freed its parse tree has room, not garbage: memoryview_gc 1.068 -> 1.010,
         * bm_pidigits 1.082 -> 1.058 under adaptive_o1) */
        if (!pressed)
            return false;
        need = free_left * FREE_EIGHTHS / 8;
        spent = h->used_blocks > s->survivors ? h->used_blocks - s->survivors : 0;
    } else {
        /* enough allocated since the last collection to be worth one: an eighth of what survived
         * it, half the wilderness it left (a heap with plenty of room collects less), and 1/32 of
         * the pool (an almost empty heap, at start-up, does not collect every few blocks) */
        need = s->survivors / (pressed ? PRESSED_TRIGGER_DIV : TRIGGER_DIV);
        size_t wild_need = s->wild_len / (pressed ? PRESSED_WILD_DIV : WILD_DIV);
        if (need < wild_need)
            need = wild_need;
        if (!pressed) {
            /* and a part of the free space the last collection left: a collection every few
             * blocks in a heap with plenty of free room (in holes, not in the wilderness) reclaims
             * what first fit would have reused anyway; more of it while the heap is in a steady
             * state. Not under pressure: with little room, the garbage of a few dozen allocations,
             * left in place, peppers the wilderness with the survivors placed among it, and the
             * pieces are what the next large request lacks (app_logger 1.230 -> 1.150,
             * app_dashboard 1.094 -> 1.037 at the minimum heap); the programs that first fit
             * already packs leave more room than that between their peaks */
            size_t floor_need = h->pool_blocks / FLOOR_DIV;
            size_t free_need = free_left * (FREE_EIGHTHS + s->steady) / 8;
            if (need < floor_need)
                need = floor_need;
            if (need < free_need)
                need = free_need;
        }
    }
    s->early = spent >= need && spent > 0;
    return s->early;
}

static bool seg_check(const bh_heap *h)
{
    const struct bh_seg_state *s = &h->pol.seg;
    if (!(lists(h) ? bh__lists_check(h) : bh__runs_check(h)))
        return false;
    if (s->wild_lo > s->wild_hi || s->wild_hi > h->pool_blocks || s->wild_len > h->pool_blocks ||
        s->survivors > h->pool_blocks)
        return false;
    for (unsigned k = 0; k < BH_SEG_SITES; k++)
        if (s->votes[k] > VOTE_MAX || s->votes[k] < -VOTE_MAX)
            return false;
    unsigned unknown = 0;
    for (unsigned k = 0; k < BH_SEG_SAMPLES; k++) {
        uint32_t b = s->samples[k].block;
        if (b == SLOT_FREE)
            continue;
        if (!learns(h) || b >= h->pool_blocks || (s->samples[k].site & ~UNKNOWN_BIT) >= BH_SEG_SITES)
            return false;
        unknown += (s->samples[k].site & UNKNOWN_BIT) != 0;
        unsigned kind = bh__kind(h, b);
        if (kind != BH_AT_HEAD && kind != BH_AT_MARK)
            return false; /* a sample is a live head: freeing it resolves it */
        for (unsigned m = k + 1; m < BH_SEG_SAMPLES; m++)
            if (s->samples[m].block == b)
                return false; /* one slot per object */
    }
    return unknown == s->unknown_pending;
}

const struct bh_placement bh__placement_lifetime = {
    "lifetime", seg_reset, seg_find, seg_allocated, seg_grown, seg_released, seg_swept, seg_check,
    NULL, true, NULL,
};
const struct bh_placement bh__placement_firstfit_gc = {
    "firstfit_gc", seg_reset, seg_find, seg_allocated, seg_grown, seg_released, seg_swept, seg_check,
    seg_collect_first, true, NULL,
};
const struct bh_placement bh__placement_adaptive = {
    "adaptive", seg_reset, seg_find, seg_allocated, seg_grown, seg_released, seg_swept, seg_check,
    seg_collect_first, true, seg_size_class,
};
const struct bh_placement bh__placement_adaptive_o1 = {
    "adaptive_o1", seg_reset, seg_find, seg_allocated, seg_grown, seg_released, seg_swept, seg_check,
    seg_collect_first, true, seg_size_class,
};
