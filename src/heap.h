/* Internal to the library: the allocation table's encoding, the placement interface, and the
 * functions the library's files share. Nothing here is part of the API. */
#ifndef BH_HEAP_INTERNAL_H
#define BH_HEAP_INTERNAL_H

#include "blockheap.h"

#include <string.h>

/* A fixed-size copy between an object's bytes and a variable: memcpy, which the library is built
 * with -ffreestanding (so -fno-builtin) would call out of line; the builtin is one load or store. */
#if defined(__GNUC__) || defined(__clang__)
#define bh__load_store(dst, src, n) __builtin_memcpy((dst), (src), (n))
#else
#define bh__load_store(dst, src, n) memcpy((dst), (src), (n))
#endif

/* ---- the allocation table: 2 bits per block, 4 blocks per byte, block b in bits 2*(b%4) of byte
 * b/4 (MicroPython's encoding, so a dump of ours and theirs mean the same). The byte after the
 * table (the gap) is always zero, so reading the kind of block pool_blocks gives FREE and every
 * "walk the tails" loop stops at the end of the pool without a bounds test. */
enum { BH_AT_FREE = 0, BH_AT_HEAD = 1, BH_AT_TAIL = 2, BH_AT_MARK = 3 };
#define BH_BLOCKS_PER_ATB 4u
#define BH_BLOCKS_PER_FTB 8u
#define BH_NO_BLOCK ((size_t)-1)

static inline unsigned bh__kind(const bh_heap *h, size_t block)
{
    return (h->atb[block >> 2] >> ((block & 3u) * 2u)) & 3u;
}

static inline void bh__set_kind(bh_heap *h, size_t block, unsigned kind)
{
    unsigned shift = (unsigned)(block & 3u) * 2u;
    uint8_t *byte = &h->atb[block >> 2];
    *byte = (uint8_t)((*byte & ~(3u << shift)) | (kind << shift));
}

static inline bool bh__finaliser_bit(const bh_heap *h, size_t block)
{
    return h->ftb != NULL && ((h->ftb[block >> 3] >> (block & 7u)) & 1u);
}

static inline void bh__set_finaliser_bit(bh_heap *h, size_t block, bool on)
{
    if (h->ftb == NULL)
        return;
    uint8_t bit = (uint8_t)(1u << (block & 7u));
    if (on)
        h->ftb[block >> 3] |= bit;
    else
        h->ftb[block >> 3] &= (uint8_t)~bit;
}

static inline void *bh__ptr(const bh_heap *h, size_t block)
{
    return h->pool + (block << h->block_shift);
}

/* Blocks of the object whose head is `block`: the head and the TAILs after it. O(k). */
static inline size_t bh__object_blocks(const bh_heap *h, size_t block)
{
    size_t n = 1;
    while (bh__kind(h, block + n) == BH_AT_TAIL)
        n++;
    return n;
}

/* Blocks for a request of nbytes; 0 for 0 bytes; never overflows. */
static inline size_t bh__blocks_for(const bh_heap *h, size_t nbytes)
{
    return (nbytes >> h->block_shift) + ((nbytes & (h->block_bytes - 1)) != 0);
}

/* Index of the lowest / highest set bit of x (x != 0). */
static inline unsigned bh__lowest_bit(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctz(x);
#else
    unsigned n = 0;
    while (!(x & 1u)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

static inline unsigned bh__highest_bit(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return 31u - (unsigned)__builtin_clz(x);
#else
    unsigned n = 31;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n--;
    }
    return n;
#endif
}

/* ---- placement: one table of functions per policy (src/place.c). The allocation table is the
 * single source of truth; a policy's state only speeds up or steers the search, and `check`
 * verifies it against the table. */
struct bh_placement {
    const char *name;
    void (*reset)(bh_heap *h);                 /* after init: the pool is all free */
    /* first block of a free run of nblocks to allocate, or BH_NO_BLOCK; the caller claims it */
    size_t (*find)(bh_heap *h, size_t nblocks, unsigned flags, uintptr_t site);
    void (*allocated)(bh_heap *h, size_t block, size_t nblocks); /* a new object was placed */
    void (*grown)(bh_heap *h, size_t block, size_t nblocks);     /* free blocks became tails */
    void (*released)(bh_heap *h, size_t block, size_t nblocks);  /* blocks became free */
    void (*swept)(bh_heap *h);                 /* a collection has freed what it found */
    bool (*check)(const bh_heap *h);
    /* Optional (NULL: never). Called with the run find() chose, before it is claimed, when the heap
     * may collect and has not collected for this request: true makes the heap collect first and
     * search again (the early-collection trigger). */
    bool (*collect_first)(bh_heap *h, size_t block, size_t nblocks);
    bool indexed; /* keeps the free-run tree (runtree.c): bh_largest_free reads it in O(1) */
    /* Optional (NULL: the request's own). The blocks to give a request of nblocks from site, at
     * least nblocks: a size class. The allocation falls back to nblocks if no run fits it. */
    size_t (*size_class)(const bh_heap *h, size_t nblocks, uintptr_t site);
};

const struct bh_placement *bh__placement(bh_policy policy);

/* The lowest-free cursor (h->cursor: an ATB byte below which no block is free) of micropython and
 * bestfit (place.c). */
void bh__cursor_lower(bh_heap *h, size_t block, size_t nblocks); /* blocks became free */
void bh__cursor_reset(bh_heap *h);                             /* the pool is all free, or swept */
bool bh__cursor_holds(const bh_heap *h);                       /* no free block below it */
void bh__ignore_growth(bh_heap *h, size_t block, size_t nblocks);
/* The free-run tree (runtree.c) of the policies lifetime, firstfit_gc and adaptive: an AVL tree
 * of the maximal free runs, by address, kept in their first blocks. */
#define RUN_TREE_MAX_BLOCKS ((UINT32_C(1) << 26) - 1) /* pool blocks it can index (26-bit lengths) */
#define RUN_TREE_MIN_BLOCK_BYTES 16u            /* a node: four 32-bit words */
#define RUN_TREE_MAX_HEIGHT 40u                 /* > the AVL bound for 2^25 runs */
void bh__runs_rebuild(bh_heap *h);                           /* from the ATB: O(n) */
size_t bh__runs_lowest_fit(const bh_heap *h, size_t nblocks);  /* first fit: O(log r) */
size_t bh__runs_highest_fit(const bh_heap *h, size_t nblocks); /* top end of the highest fit */
size_t bh__runs_largest(const bh_heap *h);                   /* blocks of the longest run: O(1) */
void bh__runs_take(bh_heap *h, size_t block, size_t nblocks); /* free blocks became used */
void bh__runs_give(bh_heap *h, size_t block, size_t nblocks); /* used blocks became free */
bool bh__runs_check(const bh_heap *h);
/* The free-run lists (runlists.c) of adaptive_o1: segregated by size class, all runs but the
 * wilderness. */
size_t bh__lists_find(const bh_heap *h, size_t nblocks, bool from_top); /* O(1) but near failure */
void bh__lists_take(bh_heap *h, size_t block, size_t nblocks);
void bh__lists_give(bh_heap *h, size_t block, size_t nblocks);
size_t bh__lists_largest(const bh_heap *h);
void bh__lists_rebuild(bh_heap *h); /* and sets the wilderness: the largest run */
bool bh__lists_check(const bh_heap *h);
bool bh__lists_cover(size_t pool_blocks); /* a run of every length up to pool_blocks has a class */
/* The index of an indexed policy (tree or lists; place_segregated.c). */
size_t bh__index_largest(const bh_heap *h);
void bh__index_rebuild(bh_heap *h);
/* True if blocks [block, block+nblocks) are free by the table; else rebuilds the index (a host
 * wrote into a freed block) and returns false. O(k), or O(n) when it rebuilds. */
bool bh__index_verified(bh_heap *h, size_t block, size_t nblocks);

extern const struct bh_placement bh__placement_bestfit;      /* place_bestfit.c */
extern const struct bh_placement bh__placement_lifetime;     /* place_segregated.c */
extern const struct bh_placement bh__placement_firstfit_gc;  /* place_segregated.c */
extern const struct bh_placement bh__placement_adaptive;     /* place_segregated.c */
extern const struct bh_placement bh__placement_adaptive_o1;  /* place_segregated.c */

/* ---- shared between files */
typedef void (*bh__run_fn)(bh_heap *h, void *ctx, size_t start, size_t nblocks);
void bh__each_free_run(bh_heap *h, bh__run_fn fn, void *ctx); /* maximal free runs, in order: O(n/4 + r) */
void bh__misuse(bh_heap *h, bh_misuse what, const void *ptr);
/* The head block p names, or BH_NO_BLOCK after reporting the misuse. */
size_t bh__head_of(bh_heap *h, const void *p);
/* Frees the object at head `block` (not locked-checked). O(k). */
void bh__free_object(bh_heap *h, size_t block);
/* A full collection triggered by the heap itself (through the host's callback). */
void bh__collect_for_alloc(bh_heap *h);
/* Records a failed request with its diagnosis. */
void bh__record_failure(bh_heap *h, size_t nbytes, size_t nblocks, bool collected, bh_verdict forced);

#endif
