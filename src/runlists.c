/* The free-run lists: the O(1) index of free runs of the policy adaptive_o1 (segregated fit, as in
 * TLSF, over the allocation table's runs).
 *
 * Every maximal run of free blocks but one is on the list of its size class; the one left out is
 * the wilderness [wild_lo, wild_hi) of struct bh_seg_state, the largest run the last collection
 * left, which allocations eat from either end and frees next to it extend (so it stays a maximal
 * run, or empty). A run keeps its list node in its first block and its first block's number in its
 * last block (a boundary tag), both free and so nobody's (an allocation zeroes its blocks):
 *
 *     first block: word 0  prev   first block of the previous run on the list; the list's first
 *                                 run (its newest) keeps its last run's (its oldest) here
 *                  word 1  next   first block of the next run on the list, or NIL
 *                  word 2  len    blocks in the run
 *     last block:  word 3  start  the run's first block (for a 1-block run, the same block)
 *
 * Size classes: runs of 1..3 blocks have a class each; above, each power of two is split in four:
 * class(len) = 4 (floor(log2 len) - 1) + the two bits below the top one. 100 classes cover the
 * 26-bit lengths (RUN_TREE_MAX_BLOCKS); a bitmap says which lists are not empty. A request of n
 * blocks searches from the smallest class whose every run holds n (n rounded up to its class's
 * upper edge), so the first non-empty class found gives a run at once: the list's oldest, its last
 * run, which its first names (a run is linked at the head when it is made). That is a good fit, not
 * the lowest address: see bh_policy for what it costs in heap. The oldest rather than the newest:
 * a run that has stayed free longest is more likely among objects that died together, and on the
 * shared traces it needs a little less heap with 16- and with 32-byte blocks (docs/placement.md).
 *
 *     find             O(1): a bitmap search of at most 4 words, else the wilderness; only when
 *                      both fail, the runs of the request's own class are scanned (those that are
 *                      shorter than its upper edge, which the rounded search skips): O(runs in it)
 *     take, give       O(1): unlink the run (and the neighbours a free merges with), link the rest
 *     largest          O(runs in the highest non-empty class), or O(1) when the wilderness is larger
 *     rebuild          O(n / 4 + r): one pass over the ATB bytes
 *     check            O(n + r)
 *
 * As with the free-run tree (runtree.c), the allocation table is the single source of truth, and a
 * host that writes into a freed object can corrupt the lists but never make the heap read outside
 * the pool, write into a block in use, or claim a run the table does not say is free
 * (bh__index_verified rebuilds the lists from the table instead); walks along a list are bounded by
 * the number of runs, so a corrupted list cannot loop. */
#include "heap.h"

enum { L_PREV = 0, L_NEXT = 1, L_LEN = 2, L_START = 3 };
#define NIL UINT32_MAX

/* ---- words: every access checked, as in runtree.c */

static uint32_t word(const bh_heap *h, uint32_t block, unsigned field)
{
    if (block >= h->pool_blocks)
        return field == L_LEN ? 0u : NIL;
    uint32_t v;
    bh__load_store(&v, h->pool + ((size_t)block << h->block_shift) + 4u * field, sizeof v);
    return v;
}

static void set_word(bh_heap *h, uint32_t block, unsigned field, uint32_t v)
{
    if (block < h->pool_blocks && bh__kind(h, block) == BH_AT_FREE)
        bh__load_store(h->pool + ((size_t)block << h->block_shift) + 4u * field, &v, sizeof v);
}

/* ---- size classes */

/* The class of a run of len >= 1 blocks. */
static unsigned class_of(uint32_t len)
{
    if (len < 4u)
        return len;
    unsigned top = bh__highest_bit(len);
    return 4u * (top - 1u) + ((len >> (top - 2u)) & 3u);
}

/* The smallest class whose runs all hold n >= 1 blocks: n rounded up to its class's upper edge. */
static unsigned class_holding(uint32_t n)
{
    unsigned c = class_of(n);
    if (n >= 4u) {
        unsigned top = bh__highest_bit(n);
        if (n & ((UINT32_C(1) << (top - 2u)) - 1u))
            c++; /* n is not its class's lowest length: a run of its class may be shorter */
    }
    return c;
}

/* The first class >= c whose list is not empty, or BH_LIST_CLASSES. */
static unsigned nonempty_from(const bh_heap *h, unsigned c)
{
    const struct bh_seg_state *s = &h->pol.seg;
    for (unsigned w = c / 32u; w < BH_LIST_WORDS; w++) {
        uint32_t bits = s->index.lists.nonempty[w];
        if (w == c / 32u)
            bits &= ~((UINT32_C(1) << (c % 32u)) - 1u);
        if (bits)
            return 32u * w + bh__lowest_bit(bits);
    }
    return BH_LIST_CLASSES;
}

/* ---- the lists */

/* Links the run at its list's head; the head's prev names the list's last run. */
static void link_run(bh_heap *h, uint32_t start, uint32_t len)
{
    struct bh_seg_state *s = &h->pol.seg;
    unsigned c = class_of(len);
    uint32_t first = s->index.lists.head[c];
    set_word(h, start, L_PREV, first == NIL ? start : word(h, first, L_PREV));
    set_word(h, start, L_NEXT, first);
    set_word(h, start, L_LEN, len);
    set_word(h, start + len - 1u, L_START, start);
    if (first != NIL)
        set_word(h, first, L_PREV, start);
    s->index.lists.head[c] = start;
    s->index.lists.nonempty[c / 32u] |= UINT32_C(1) << (c % 32u);
    s->runs++;
}

/* Takes the run off its list; false if the list does not hold it there (a corrupted list). */
static bool unlink_run(bh_heap *h, uint32_t start, uint32_t len)
{
    struct bh_seg_state *s = &h->pol.seg;
    unsigned c = class_of(len);
    if (c >= BH_LIST_CLASSES)
        return false;
    uint32_t head = s->index.lists.head[c];
    uint32_t prev = word(h, start, L_PREV), next = word(h, start, L_NEXT);
    if (head == NIL || (start != head && word(h, prev, L_NEXT) != start) ||
        (next != NIL ? word(h, next, L_PREV) != start : word(h, head, L_PREV) != start))
        return false; /* (the last run is the one the head names; the head, nobody's next) */
    if (start == head) {
        s->index.lists.head[c] = next;
        if (next != NIL)
            set_word(h, next, L_PREV, prev); /* the new head names the last run */
    } else {
        set_word(h, prev, L_NEXT, next);
        set_word(h, next != NIL ? next : head, L_PREV, prev); /* the last run: the head names it */
    }
    if (s->index.lists.head[c] == NIL)
        s->index.lists.nonempty[c / 32u] &= ~(UINT32_C(1) << (c % 32u));
    s->runs--;
    return true;
}

/* Links [start, end) if it is not empty. */
static void link_span(bh_heap *h, uint32_t start, uint32_t end)
{
    if (end > start)
        link_run(h, start, end - start);
}

/* The first block of a free run from its boundary tag, in block tag_at (the run's last block), if
 * the table agrees; else by walking the table down from block `below`, free and in the run (a
 * corrupted tag; or tag_at is not the run's last block, which only the middle of a run, taken by no
 * policy, gives). */
static uint32_t run_start(const bh_heap *h, uint32_t tag_at, uint32_t below)
{
    uint32_t start = word(h, tag_at, L_START);
    if (start <= below && (start == 0 || bh__kind(h, start - 1u) != BH_AT_FREE) &&
        bh__kind(h, start) == BH_AT_FREE)
        return start; /* (the tag's run is free at its start; the caller checks its length) */
    start = below;
    while (start > 0 && bh__kind(h, start - 1u) == BH_AT_FREE)
        start--;
    return start;
}

/* ---- what place_segregated.c and bh_init call */

bool bh__lists_cover(size_t pool_blocks)
{
    return pool_blocks <= RUN_TREE_MAX_BLOCKS && class_of((uint32_t)pool_blocks) < BH_LIST_CLASSES;
}

size_t bh__lists_find(const bh_heap *h, size_t nblocks, bool from_top)
{
    const struct bh_seg_state *s = &h->pol.seg;
    uint32_t n = (uint32_t)nblocks;
    unsigned c = class_holding(n);
    unsigned found = nonempty_from(h, c);
    if (found < BH_LIST_CLASSES) {
        uint32_t run = word(h, s->index.lists.head[found], L_PREV); /* the oldest run */
        return from_top ? (size_t)run + word(h, run, L_LEN) - nblocks : run;
    }
    if (s->wild_hi - s->wild_lo >= nblocks)
        return from_top ? s->wild_hi - nblocks : s->wild_lo;
    /* the heap is nearly out of room: a run of the request's own class that holds it */
    c = class_of(n);
    uint32_t run = c < BH_LIST_CLASSES ? s->index.lists.head[c] : NIL;
    for (uint32_t steps = 0; run != NIL && steps <= s->runs; steps++) {
        uint32_t len = word(h, run, L_LEN);
        if (len >= n)
            return from_top ? (size_t)run + len - nblocks : run;
        run = word(h, run, L_NEXT);
    }
    return BH_NO_BLOCK;
}

void bh__lists_take(bh_heap *h, size_t block, size_t nblocks)
{
    struct bh_seg_state *s = &h->pol.seg;
    uint32_t b = (uint32_t)block, e = (uint32_t)(block + nblocks);
    if (block >= s->wild_lo && block < s->wild_hi) {
        /* from the wilderness: from its bottom (first fit's side) or its top (long-lived) */
        if (b == s->wild_lo)
            s->wild_lo = e < s->wild_hi ? e : s->wild_hi;
        else if (e >= s->wild_hi)
            s->wild_hi = b;
        else { /* from its middle (no policy does this): the part below goes on a list */
            link_span(h, (uint32_t)s->wild_lo, b);
            s->wild_lo = e;
        }
        return;
    }
    /* the run the blocks came from: they start it (first fit's side, or a growth in place), end
     * it (the top end, for a long-lived object), or lie inside it (no policy does that) */
    uint32_t start = b;
    if (b > 0 && bh__kind(h, b - 1u) == BH_AT_FREE) /* the top end: the tag is in the run's last block */
        start = run_start(h, e == h->pool_blocks || bh__kind(h, e) != BH_AT_FREE ? e - 1u : b - 1u, b - 1u);
    uint32_t len = word(h, start, L_LEN), end = start + len;
    if (len == 0 || end < e || end > h->pool_blocks ||
        (end < h->pool_blocks && bh__kind(h, end) == BH_AT_FREE) || !unlink_run(h, start, len)) {
        bh__lists_rebuild(h); /* the lists disagree with the table (a host wrote into a freed block) */
        return;
    }
    link_span(h, start, b);
    link_span(h, e, end);
}

void bh__lists_give(bh_heap *h, size_t block, size_t nblocks)
{
    struct bh_seg_state *s = &h->pol.seg;
    uint32_t start = (uint32_t)block, end = (uint32_t)(block + nblocks);
    bool free_below = block > 0 && bh__kind(h, block - 1) == BH_AT_FREE;
    bool free_above = end < h->pool_blocks && bh__kind(h, end) == BH_AT_FREE;
    bool wild = s->wild_hi > s->wild_lo && (s->wild_hi == block || s->wild_lo == end);
    bool listed = true; /* the neighbours merged with are where the lists say */
    if (free_below) {
        if (wild && s->wild_hi == block) {
            start = (uint32_t)s->wild_lo; /* (the wilderness keeps no node nor tag) */
        } else {
            start = run_start(h, (uint32_t)block - 1u, (uint32_t)block - 1u);
            listed = word(h, start, L_LEN) == (uint32_t)block - start &&
                     unlink_run(h, start, (uint32_t)block - start);
        }
    }
    if (free_above && listed) {
        if (wild && s->wild_lo == end) {
            end = (uint32_t)s->wild_hi;
        } else {
            uint32_t above_len = word(h, end, L_LEN);
            listed = unlink_run(h, end, above_len);
            end += above_len;
        }
    }
    if (!listed || end > h->pool_blocks) {
        bh__lists_rebuild(h);
        return;
    }
    if (wild) { /* next to the wilderness: it grows */
        s->wild_lo = start;
        s->wild_hi = end;
        return;
    }
    link_run(h, start, end - start);
}

size_t bh__lists_largest(const bh_heap *h)
{
    const struct bh_seg_state *s = &h->pol.seg;
    size_t largest = s->wild_hi - s->wild_lo;
    for (unsigned w = BH_LIST_WORDS; w-- > 0;) {
        uint32_t bits = s->index.lists.nonempty[w];
        if (!bits)
            continue;
        unsigned c = 32u * w + bh__highest_bit(bits);
        uint32_t run = s->index.lists.head[c];
        for (uint32_t steps = 0; run != NIL && steps <= s->runs; steps++) {
            uint32_t len = word(h, run, L_LEN);
            if (len > largest)
                largest = len;
            run = word(h, run, L_NEXT);
        }
        break;
    }
    return largest;
}

/* Every run on its list as the pass over the ATB finds it, but the largest so far (the lowest of
 * equals), which is the wilderness until a larger one comes and it goes on its list. */
static void list_or_wild(bh_heap *h, void *ctx, size_t start, size_t len)
{
    (void)ctx;
    struct bh_seg_state *s = &h->pol.seg;
    if (len > s->wild_hi - s->wild_lo) {
        link_span(h, (uint32_t)s->wild_lo, (uint32_t)s->wild_hi);
        s->wild_lo = start;
        s->wild_hi = start + len;
    } else {
        link_run(h, (uint32_t)start, (uint32_t)len);
    }
}

void bh__lists_rebuild(bh_heap *h)
{
    struct bh_seg_state *s = &h->pol.seg;
    for (unsigned c = 0; c < BH_LIST_CLASSES; c++)
        s->index.lists.head[c] = NIL;
    memset(s->index.lists.nonempty, 0, sizeof s->index.lists.nonempty);
    s->runs = 0;
    s->wild_lo = s->wild_hi = 0;
    bh__each_free_run(h, list_or_wild, NULL);
}

bool bh__lists_check(const bh_heap *h)
{
    const struct bh_seg_state *s = &h->pol.seg;
    if (s->wild_lo > s->wild_hi || s->wild_hi > h->pool_blocks)
        return false;
    /* the wilderness: a maximal free run, or empty */
    if (s->wild_hi > s->wild_lo) {
        for (size_t b = s->wild_lo; b < s->wild_hi; b++)
            if (bh__kind(h, b) != BH_AT_FREE)
                return false;
        if ((s->wild_lo > 0 && bh__kind(h, s->wild_lo - 1) == BH_AT_FREE) ||
            (s->wild_hi < h->pool_blocks && bh__kind(h, s->wild_hi) == BH_AT_FREE))
            return false;
    }
    /* every list: doubly linked, its runs maximal, tagged, of its class */
    size_t listed = 0, listed_blocks = 0;
    for (unsigned c = 0; c < BH_LIST_CLASSES; c++) {
        uint32_t head = s->index.lists.head[c], run = head, prev = NIL;
        bool marked = (s->index.lists.nonempty[c / 32u] >> (c % 32u)) & 1u;
        if (marked != (run != NIL))
            return false;
        while (run != NIL) {
            if (run >= h->pool_blocks || listed++ > h->pool_blocks)
                return false;
            uint32_t len = word(h, run, L_LEN);
            if (len == 0 || len > h->pool_blocks - run || class_of(len) != c ||
                (run != head && word(h, run, L_PREV) != prev))
                return false;
            if (word(h, run + len - 1u, L_START) != run)
                return false;
            for (uint32_t b = run; b < run + len; b++)
                if (bh__kind(h, b) != BH_AT_FREE)
                    return false;
            if ((run > 0 && bh__kind(h, run - 1u) == BH_AT_FREE) ||
                (run + len < h->pool_blocks && bh__kind(h, run + len) == BH_AT_FREE))
                return false;
            listed_blocks += len;
            prev = run;
            run = word(h, run, L_NEXT);
        }
        if (head != NIL && word(h, head, L_PREV) != prev)
            return false; /* the head names the last run */
    }
    /* the runs are distinct maximal runs; covering every free block but the wilderness's, they are
     * all of them */
    return listed == s->runs &&
           listed_blocks + (s->wild_hi - s->wild_lo) == h->pool_blocks - h->used_blocks;
}
