/* Inspection: what the heap looks like, why an allocation failed, and whether every invariant
 * holds. Everything here reads the allocation table and changes nothing (but the failure record). */
#include "heap.h"

/* One pass over the table: objects and free runs, as MicroPython's gc_info counts them. */
typedef struct table_census {
    size_t used_blocks, free_blocks, objects;
    size_t one_block, two_block, largest_object;
    size_t largest_free, free_runs;
} table_census;

static void census(const bh_heap *h, table_census *c)
{
    memset(c, 0, sizeof *c);
    size_t object_len = 0, free_len = 0;
    for (size_t block = 0; block <= h->pool_blocks; block++) {
        /* block == pool_blocks reads the gap byte: FREE, which closes the last object */
        unsigned kind = block < h->pool_blocks ? bh__kind(h, block) : BH_AT_HEAD;
        if (kind != BH_AT_TAIL && object_len != 0) {
            c->objects++;
            c->one_block += object_len == 1;
            c->two_block += object_len == 2;
            if (object_len > c->largest_object)
                c->largest_object = object_len;
            object_len = 0;
        }
        if (kind != BH_AT_FREE && free_len != 0) {
            c->free_runs++;
            if (free_len > c->largest_free)
                c->largest_free = free_len;
            free_len = 0;
        }
        if (block == h->pool_blocks)
            break;
        if (kind == BH_AT_FREE) {
            /* a whole free ATB byte at once */
            if ((block & 3u) == 0 && h->atb[block >> 2] == 0 && block + 4 <= h->pool_blocks) {
                free_len += 4;
                c->free_blocks += 4;
                block += 3;
                continue;
            }
            free_len++;
            c->free_blocks++;
        } else {
            object_len++;
            c->used_blocks++;
        }
    }
}

void bh_info_get(const bh_heap *h, bh_info *info)
{
    table_census c;
    census(h, &c);
    memset(info, 0, sizeof *info);
    info->block_bytes = h->block_bytes;
    info->pool_blocks = h->pool_blocks;
    info->total_bytes = h->pool_blocks << h->block_shift;
    info->used_blocks = c.used_blocks;
    info->free_blocks = c.free_blocks;
    info->used_bytes = c.used_blocks << h->block_shift;
    info->free_bytes = c.free_blocks << h->block_shift;
    info->objects = c.objects;
    info->one_block_objects = c.one_block;
    info->two_block_objects = c.two_block;
    info->largest_object_blocks = c.largest_object;
    info->largest_free_blocks = c.largest_free;
    info->free_runs = c.free_runs;
    info->largest_alloc_bytes = c.largest_free << h->block_shift;
    info->collections = h->collections;
    for (unsigned i = 0; i < BH_MISUSE_COUNT; i++)
        info->misuse += h->misuse_counts[i];
}

size_t bh_largest_free(const bh_heap *h)
{
    if (h->place->indexed)
        return bh__index_largest(h) << h->block_shift; /* the tree's root, or the lists' */
    table_census c;
    census(h, &c);
    return c.largest_free << h->block_shift;
}


void bh_walk(const bh_heap *h, bh_walk_fn fn, void *ctx)
{
    size_t block = 0;
    while (block < h->pool_blocks) {
        size_t start = block;
        bool is_free = bh__kind(h, block) == BH_AT_FREE;
        if (is_free) {
            while (block < h->pool_blocks && bh__kind(h, block) == BH_AT_FREE)
                block++;
        } else {
            block += bh__object_blocks(h, block);
        }
        if (!fn(ctx, start, block - start, is_free, is_free ? NULL : bh__ptr(h, start)))
            return;
    }
}

struct histogram {
    size_t *hist;
    size_t nbuckets;
    size_t runs;
};

static bool count_run(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    (void)block;
    (void)obj;
    struct histogram *hg = ctx;
    if (!is_free)
        return true;
    hg->runs++;
    size_t bucket = 0;
    while (bucket + 1 < hg->nbuckets && (nblocks >> (bucket + 1)) != 0)
        bucket++;
    hg->hist[bucket]++;
    return true;
}

size_t bh_free_runs(const bh_heap *h, size_t *hist, size_t nbuckets)
{
    size_t dummy = 0;
    struct histogram hg = {hist, nbuckets, 0};
    if (hist == NULL || nbuckets == 0) {
        hg.hist = &dummy;
        hg.nbuckets = 1;
    } else {
        memset(hist, 0, nbuckets * sizeof *hist);
    }
    bh_walk(h, count_run, &hg);
    return hg.runs;
}

/* ---- failures */

bh_verdict bh_verdict_for(size_t request_blocks, size_t free_blocks, size_t largest_free_blocks)
{
    if (largest_free_blocks >= request_blocks)
        return BH_VERDICT_NONE;
    return free_blocks >= request_blocks ? BH_VERDICT_FRAGMENTED : BH_VERDICT_EXHAUSTED;
}

const char *bh_verdict_name(bh_verdict v)
{
    switch (v) {
    case BH_VERDICT_FRAGMENTED: return "fragmented";
    case BH_VERDICT_EXHAUSTED: return "exhausted";
    case BH_VERDICT_LOCKED: return "locked";
    case BH_VERDICT_IMMOVABLE: return "immovable";
    default: return "none";
    }
}

void bh__record_failure(bh_heap *h, size_t nbytes, size_t nblocks, bool collected, bh_verdict forced)
{
    /* O(1) with the free-run tree; else one pass (the failed search has just made one anyway) */
    size_t largest;
    if (h->place->indexed) {
        largest = bh__index_largest(h);
    } else {
        table_census c;
        census(h, &c);
        largest = c.largest_free;
    }
    size_t free_blocks = h->pool_blocks - h->used_blocks;
    bh_failure *f = &h->failure;
    f->request_bytes = nbytes;
    f->request_blocks = nblocks;
    f->free_blocks = free_blocks;
    f->free_bytes = free_blocks << h->block_shift;
    f->largest_free_blocks = largest;
    f->largest_free_bytes = largest << h->block_shift;
    f->collected = collected;
    f->verdict = forced != BH_VERDICT_NONE ? forced : bh_verdict_for(nblocks, free_blocks, largest);
    if (f->verdict == BH_VERDICT_NONE) /* a run fits but the policy found none: call it fragmented */
        f->verdict = BH_VERDICT_FRAGMENTED;
    f->failures++;
}

void bh_last_failure(const bh_heap *h, bh_failure *f)
{
    *f = h->failure;
}

/* ---- the map, in MicroPython's mem_info(1) format (no stdio: our own number formatting) */

/* Output buffered a line at a time, flushed to the host's print function when full or asked. */
typedef struct out_line {
    char buf[96];
    size_t len;
    bh_print_fn print;
    void *ctx;
} out_line;

static void flush(out_line *o)
{
    if (o->len)
        o->print(o->ctx, o->buf, o->len);
    o->len = 0;
}

static void put_char(out_line *o, char ch)
{
    if (o->len == sizeof o->buf)
        flush(o);
    o->buf[o->len++] = ch;
}

static void put_str(out_line *o, const char *s)
{
    while (*s)
        put_char(o, *s++);
}

static void put_uint(out_line *o, uintptr_t v, unsigned base, unsigned min_digits)
{
    char digits[2 * sizeof(uintptr_t) * 4];
    unsigned n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0 && n < sizeof digits);
    while (n < min_digits && n < sizeof digits)
        digits[n++] = '0';
    while (n > 0)
        put_char(o, digits[--n]);
}

enum { MAP_BLOCKS_PER_LINE = 64 };

void bh_dump_map(const bh_heap *h, bh_print_fn print, void *ctx, bh_kind_fn kind, void *kind_ctx)
{
    bh_info info;
    bh_info_get(h, &info);
    out_line o = {{0}, 0, print, ctx};
    /* the two lines of MicroPython's gc_dump_info, then the map's */
    static const char *const labels[] = {"GC: total: ", ", used: ", ", free: ", "\n No. of 1-blocks: ",
                                         ", 2-blocks: ", ", max blk sz: ", ", max free sz: "};
    const size_t values[] = {info.total_bytes, info.used_bytes, info.free_bytes, info.one_block_objects,
                             info.two_block_objects, info.largest_object_blocks, info.largest_free_blocks};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        put_str(&o, labels[i]);
        put_uint(&o, values[i], 10, 1);
    }
    put_str(&o, "\n");
    put_str(&o, "GC memory layout; from ");
    put_uint(&o, (uintptr_t)h->pool, 16, 1);
    put_str(&o, ":");
    flush(&o);

    size_t n = h->pool_blocks;
    for (size_t block = 0; block < n; block++) {
        if (block % MAP_BLOCKS_PER_LINE == 0) {
            /* a free run covering two or more whole lines from here is abbreviated */
            size_t end = block;
            while (end < n && bh__kind(h, end) == BH_AT_FREE)
                end++;
            if (end - block >= 2 * MAP_BLOCKS_PER_LINE) {
                put_str(&o, "\n       (");
                put_uint(&o, (end - block) / MAP_BLOCKS_PER_LINE, 10, 1);
                put_str(&o, " lines all free)");
                flush(&o);
                block = end & ~(size_t)(MAP_BLOCKS_PER_LINE - 1);
                if (block >= n)
                    break;
            }
            flush(&o);
            put_str(&o, "\n");
            put_uint(&o, (uintptr_t)block << h->block_shift, 16, 8);
            put_str(&o, ": ");
        }
        char c;
        switch (bh__kind(h, block)) {
        case BH_AT_FREE: c = '.'; break;
        case BH_AT_TAIL: c = '='; break;
        case BH_AT_MARK: c = 'm'; break;
        default:
            c = kind ? kind(kind_ctx, bh__ptr(h, block), bh__object_blocks(h, block)) : 0;
            if (c == 0)
                c = 'h';
            break;
        }
        put_char(&o, c);
    }
    put_str(&o, "\n");
    flush(&o);
}

/* ---- the self-check: every invariant, verified against the allocation table
 *   I1  geometry: 4 blocks per ATB byte; the pool ends inside the arena, block-aligned; the FTB
 *       (if any) sits after the gap byte and before the pool.
 *   I2  the gap byte after the ATB is zero.
 *   I3  a TAIL follows a HEAD, MARK or TAIL, never a FREE block or the start of the pool.
 *   I4  MARK appears only while a collection is under way; the overflow and finalising flags only
 *       then too.
 *   I5  the counters used_blocks and objects equal the table's.
 *   I6  an FTB bit is set only on a head block (MARK counts as a head).
 *   I7  the placement policy's own invariants hold (e.g. micropython: no free block below the
 *       cursor; lifetime, firstfit_gc, adaptive: the free-run tree holds exactly the table's
 *       maximal free runs, in address order, with correct lengths, subtree maxima and heights,
 *       AVL-balanced).
 */
bool bh_check(const bh_heap *h)
{
    if (h->atb == NULL || h->pool_blocks != h->atb_bytes * BH_BLOCKS_PER_ATB || h->pool_blocks == 0)
        return false; /* I1 */
    if (((uintptr_t)h->pool & (h->block_bytes - 1)) != 0 || h->pool < h->atb + h->atb_bytes + 1)
        return false; /* I1 */
    if (h->ftb && (h->ftb != h->atb + h->atb_bytes + 1 || h->ftb + (h->pool_blocks + 7) / 8 > h->pool))
        return false; /* I1 */
    if (h->atb[h->atb_bytes] != 0)
        return false; /* I2 */
    if (!h->collecting && (h->mark_overflow || h->finalising))
        return false; /* I4 */
    size_t used = 0, objects = 0;
    unsigned prev = BH_AT_FREE;
    for (size_t block = 0; block < h->pool_blocks; block++) {
        unsigned k = bh__kind(h, block);
        if (k == BH_AT_TAIL && prev == BH_AT_FREE)
            return false; /* I3 */
        if (k == BH_AT_MARK && !h->collecting)
            return false; /* I4 */
        if (bh__finaliser_bit(h, block) && k != BH_AT_HEAD && k != BH_AT_MARK)
            return false; /* I6 */
        used += k != BH_AT_FREE;
        objects += k == BH_AT_HEAD || k == BH_AT_MARK;
        prev = k;
    }
    if (used != h->used_blocks || objects != h->objects)
        return false; /* I5 */
    return h->place->check(h); /* I7 */
}
