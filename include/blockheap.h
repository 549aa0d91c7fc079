/*
 * blockheap: an embeddable garbage-collected block heap with MicroPython's heap model,
 * placement that resists fragmentation, and diagnostics that explain it.
 *
 * This header is the manual.
 *
 * ------------------------------------------------------------------------------------------------
 * THE MODEL
 * The caller gives the heap one contiguous arena. blockheap lays it out exactly as MicroPython's
 * gc_init does, so that an arena of N bytes here has the same pool as `micropython -X heapsize=N`:
 *
 *     [ATB: A bytes][gap: 1 byte][FTB: ceil(A/2) bytes] ... [pool: 4*A blocks, ending at the end]
 *
 *   - The pool is a row of fixed blocks of B bytes (a power of two, at least two machine words;
 *     default four words: 16 bytes on 32-bit, 32 on 64-bit).
 *   - The allocation table (ATB) has 2 bits per block: FREE, HEAD, TAIL, MARK (a head marked during
 *     a collection). An object is one HEAD followed by zero or more TAILs.
 *   - The gap byte stays zero, so a walk along the ATB never reads the FTB as tails.
 *   - The finaliser table (FTB) has 1 bit per block (omitted when `without_finalisers` is set).
 *   - A (ATB bytes) = floor((T - 1) * 8 / (12 + 32*B)) with finalisers, floor((T - 1) / (1 + 4*B))
 *     without, T being the arena size after its end is aligned down to B.
 *
 * PER-BLOCK OVERHEAD: 3 bits in the arena (2 ATB + 1 FTB), 2 bits without finalisers; plus the
 * gap byte and the rounding of A. Nothing else is stored per block or per object: the lifetime hint
 * and the site token are consumed by placement when the object is placed, not recorded. The control
 * structure `bh_heap` is fixed-size (see sizeof(bh_heap)) and may be static. Of it, the placement
 * policies' state is a union (`pol`), as large as its largest member: 1 word for bestfit; for
 * lifetime, firstfit_gc, adaptive and adaptive_o1 908 bytes on 32-bit, 936 on 64-bit (5 words, 5
 * counters, BH_SEG_SAMPLES 12-byte samples, the BH_SEG_SITES-byte site table, 4 bytes, and the
 * index's root: one word for the tree, BH_LIST_CLASSES + BH_LIST_WORDS words for adaptive_o1's
 * lists, 416 bytes), the same for any heap size. sizeof(bh_heap) is 1,340 bytes on 32-bit and
 * 1,776 on 64-bit with the default BH_LIST_CLASSES (100, for pools of up to 2^26 blocks); a port
 * whose pool is smaller may define it smaller (4 k - 4 classes cover pools of fewer than 2^k
 * blocks: 60 for fewer than 2^16, 168 bytes less). The free-run index costs
 * no arena space at all: its nodes live in the free blocks themselves (16 bytes in the first block
 * of every free run, and adaptive_o1's boundary tag, 4 bytes in its last), which is why those four
 * policies need blocks of at least 16 bytes and fewer than 2^26 pool blocks (bh_init refuses them
 * otherwise).
 *
 * ------------------------------------------------------------------------------------------------
 * COMPLEXITY (n = pool blocks, k = blocks of the object, m = blocks of marked objects)
 *   bh_init            O(A)     clears the tables
 *   bh_alloc           policy `micropython`: O(n) worst case (first-fit scan of the ATB from the
 *                      lowest-free cursor), O(k) to claim and zero the run; plus a collection when
 *                      the threshold or a failure triggers one. bestfit: O(n) always. lifetime,
 *                      firstfit_gc, adaptive: O(log r) (r = free runs <= n / 2: a descent of the
 *                      free-run tree, an AVL tree, so at most 1.44 log2(r) + 2 nodes, and one
 *                      root-to-node update), + O(BH_SEG_SAMPLES) when sampling, + O(k);
 *                      adaptive_o1: O(1) (a bitmap search, unlinking a run and linking what is
 *                      left), except when no size class above the request's and not the
 *                      wilderness holds it: then O(runs of the request's class), + O(k) and the
 *                      sampling; adaptive, adaptive_o1 and firstfit_gc may collect early (see
 *                      bh_policy).
 *   bh_free            O(k); lifetime, firstfit_gc, adaptive: + O(log r + BH_SEG_SAMPLES);
 *                      adaptive_o1: + O(1 + BH_SEG_SAMPLES)
 *   bh_realloc         O(k + growth) in place (+ O(log r) with the tree, O(1) with the lists);
 *                      O(alloc + k) when it moves
 *   bh_size            O(k)
 *   collection         mark O(roots + m * B / word); sweep O(n); each mark-stack overflow adds a
 *                      rescan O(n + m * B / word); lifetime, firstfit_gc, adaptive, adaptive_o1:
 *                      + O(n / 4 + r) to rebuild the free-run index (one pass over the ATB
 *                      bytes) + O(BH_SEG_SAMPLES)
 *   bh_largest_free    O(1) with the tree (lifetime, firstfit_gc, adaptive); adaptive_o1: O(runs
 *                      of the highest non-empty size class); else O(n)
 *   a failed allocation's record (bh_last_failure)   as bh_largest_free
 *   bh_info, bh_free_runs, bh_check, bh_dump_map   O(n)
 *
 * ------------------------------------------------------------------------------------------------
 * COLLECTION
 * A collection is:  bh_collect_start(h); bh_collect_roots(h, words, n) ...; bh_collect_end(h).
 *   - A root word marks an object only if it equals the address of a HEAD block of this heap.
 *     Interior pointers do not keep objects alive (as in MicroPython).
 *   - Marked objects are scanned conservatively, every machine word of every block, with an
 *     explicit mark stack (64 entries unless the config gives a larger one). When it overflows, the
 *     child is marked but not pushed; bh_collect_end then rescans the heap for marked objects and
 *     traces them again until no overflow remains. Correct for any stack size >= 1.
 *   - bh_collect_end runs the finaliser callback for every unreachable object allocated with
 *     BH_FINALISER, all of them, in address order, before any block is freed, with the heap locked
 *     (allocation returns NULL and frees are ignored inside a finaliser); then it frees every
 *     unmarked object and turns marks back into heads.
 * The heap collects by itself when an allocation finds no room (once per request, then retries),
 * or before an allocation when `threshold_blocks` blocks were allocated since the last collection,
 * but only if the config has a `collect` callback (the host scans its roots in it) and
 * `no_auto_collect` is false. As in MicroPython, a request that already collected because of the
 * threshold does not collect again when it finds no room.
 *
 * ------------------------------------------------------------------------------------------------
 * MISUSE: DEFINED BEHAVIOUR
 * Every misuse is ignored (the call has no effect on the heap), counted in bh_info.misuse, and
 * reported to the config's `misuse` hook if there is one (which may assert or log):
 *   BH_MISUSE_FOREIGN     free/realloc/size of a pointer outside the pool (including the arena's
 *                         own metadata); bh_size returns 0, bh_realloc returns NULL.
 *   BH_MISUSE_INTERIOR    a pointer inside the pool that is not the start of an object (not block
 *                         aligned, or a TAIL block).
 *   BH_MISUSE_FREED       a pointer to a FREE block: double free, or realloc/size after free. (If the
 *                         block was allocated again since, the pointer names the new object: no
 *                         allocator without per-object tags can tell; document your ownership.)
 *   BH_MISUSE_UNLOCK      bh_unlock without a matching bh_lock.
 *   BH_MISUSE_COLLECTING  bh_collect_start while a collection is under way, or bh_collect_roots /
 *                         bh_collect_end outside one, or any of the three from a finaliser (the
 *                         marks are final then, and the collection under way ends by itself).
 *                         A start is not counted: after an ignored second start, the next
 *                         bh_collect_end ends the collection under way, and roots given after it
 *                         are refused as misuse (their objects may have been freed). Pair each
 *                         start with exactly one end, and never nest collections.
 *   BH_MISUSE_LOCKED      bh_alloc/bh_realloc while the heap is locked (returns NULL; the failure is
 *                         recorded with verdict BH_VERDICT_LOCKED). bh_free while locked is not
 *                         misuse: as in MicroPython it is ignored and the object is left to the
 *                         next collection.
 * bh_free(NULL) and bh_size(NULL) are no-ops, not misuse.
 * Writing into a freed object (a use after free) is the host's memory error, not a call the heap
 * can refuse. With `micropython` and `bestfit` it changes nothing but the freed bytes. With
 * lifetime, firstfit_gc and adaptive it can corrupt the free-run tree those keep in free blocks,
 * with adaptive_o1 its free-run lists; then, by design: bh_check returns false; no access of the
 * index leaves the pool, and no write of it lands anywhere but in a free block; a walk along a
 * list stops after as many steps as there are runs; an allocation never returns blocks the
 * allocation table says are in use (it verifies the run it claims, O(k), and on a mismatch
 * rebuilds the index from the table, O(n), and searches again; a free or an allocation that finds
 * a neighbour's node or tag disagreeing with the table rebuilds it too); and placement may be
 * wrong, or an allocation fail that would have found room, until that rebuild or the next
 * collection (whose sweep rebuilds the index).
 */
#ifndef BLOCKHEAP_H
#define BLOCKHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bh_heap bh_heap;

/* ---------------------------------------------------------------------------------------------- */
/* Configuration                                                                                 */

/* Placement policies. Each is documented where it is implemented (src/place_*.c) and here. */
typedef enum bh_policy {
    /* MicroPython's own, bit for bit: address-ordered first fit from a cursor below which no block
     * is free (moved up only after a 1-block allocation, down by frees and shrinks, to 0 by every
     * collection). No extra state. O(n) allocation. */
    BH_POLICY_MICROPYTHON = 0,
    /* Best fit (src/place_bestfit.c): the smallest free run that fits, the lowest-addressed of
     * equals; an exact fit ends the search. O(n) per allocation, always (first fit's O(n) is a
     * worst case): it scans the ATB from the cursor to the end, a whole byte at a time when it is
     * all free or all in use. The cursor (no free block below it) moves after every allocation,
     * from the lowest free block the search saw. State: 1 word. */
    BH_POLICY_BESTFIT,
    /* Lifetime segregation (src/place_segregated.c). Objects predicted to live long go to the top
     * end of the highest free run that fits; all others go first fit from the bottom, exactly
     * where `micropython` would place them (both found in the free-run tree, below). So
     * temporaries fill and empty the bottom while long-lived objects pile up at the top, and a
     * collection leaves one large free run in between rather than holes among long-lived objects.
     * Predicted long-lived: the BH_LONG_LIVED flag, or a site token (bh_alloc_site; 0: none)
     * learned as long-lived. Learning, online and in fixed memory: a table of BH_SEG_SITES
     * one-byte saturating votes, indexed by a hash of the token (0: not learned yet, placed at the
     * bottom), trained by up to BH_SEG_SAMPLES sampled objects at a time (the first object of a
     * site not learned yet, then one every 1/32 of the previous collection epoch). A sample votes
     * "short" when it is freed or when a collection finds it dead, "long" when a collection finds
     * it alive at an age of at least 128 allocations (or half the previous epoch if shorter);
     * a younger survivor waits for the next collection. Nothing is stored per object.
     * Both searches are descents of the free-run tree (src/runtree.c): an AVL tree of the maximal
     * free runs ordered by address, each node in its run's first free block (left, right, length,
     * and the longest run and height of its subtree: four 32-bit words), kept exact by every
     * allocation, free, shrink and growth, rebuilt after every sweep, and verified against the
     * ATB by bh_check. The lowest run that fits is exactly first fit's choice, and the highest,
     * a scan down from the top's.
     * Costs: allocation O(log r) (r = free runs) + O(k), and O(BH_SEG_SAMPLES) when it takes a
     * sample; bh_free O(k + log r + BH_SEG_SAMPLES); a collection + O(n / 4 + r) (the tree's
     * rebuild) + O(BH_SEG_SAMPLES); bh_largest_free O(1). Needs blocks of >= 16 bytes and at most
     * 2^26 - 1 pool blocks. State: sizeof(struct bh_seg_state), 496 bytes on 32-bit, 520 on 64-bit. */
    BH_POLICY_LIFETIME,
    /* `micropython`'s first fit (BH_LONG_LIVED objects from the top) plus the early-collection
     * trigger of BH_POLICY_ADAPTIVE, without learning: the trigger's effect alone. Costs as
     * BH_POLICY_LIFETIME, less the sampling. */
    BH_POLICY_FIRSTFIT_GC,
    /* BH_POLICY_LIFETIME plus collection timing (needs the config's `collect` callback and
     * auto-collect; else it is BH_POLICY_LIFETIME). After each collection the heap remembers its
     * largest free run (the "wilderness"). An allocation that would take blocks from what is left
     * of it first collects if, since the last collection, at least max(survivors / 8, wilderness /
     * 2, pool / 32, free * (4 + steady) / 8) blocks were allocated (survivors, wilderness, free =
     * pool - survivors: in blocks, right after the last collection; steady: 0..2, the number of
     * consecutive early collections that left exactly as many blocks in use as the one before, at
     * least pool / 16, reset by any other outcome). So garbage is reclaimed before the used area
     * grows, not after the heap is full; a heap with room to spare collects less, at most about
     * twice as often as collecting only when full, and less in a steady state, where collecting
     * early gains nothing. Under pressure (survivors >= 5/8 of the pool) the bound is max(survivors
     * / 64, wilderness / 16) instead: a heap with little room left collects before the garbage of
     * a few dozen allocations pushes survivors into its wilderness, at the price of more
     * collections (bench/fragmentation.sh reports them); and an allocation that refills a hole
     * (elsewhere than the wilderness) collects first too, once (pool - survivors) / 2 more blocks
     * are in use than the last collection left (in use, not allocated: blocks that explicit frees
     * and moving reallocs gave back are free space): the holes are then refilled among garbage a
     * collection would free, and the survivors placed there pepper them (at most one such
     * collection per half of the free space: about twice MicroPython's count where it collects
     * only when full).
     * A second trigger speeds up learning: when a sample of a site not learned yet is 128
     * allocations old and pool / 64 blocks were allocated since the last collection, collect (at
     * most one such collection per pool / 64 blocks allocated, only while new sites appear, and
     * not while what is left of the wilderness is below pool / 8: a heap that full collects soon
     * anyway). Each early collection costs a full collection; the marking work per allocated
     * block stays bounded (at least survivors / 64 blocks allocated between them).
     * Two placement rules of its own: a request of 64 blocks or more from a site already learned
     * (either way) gets its size class, the smallest multiple of g = 2^(floor(log2 blocks) - 2)
     * blocks or multiple of g plus one block that holds it (at most 1/4 more; bh_size says so; the exact size if no free run fits the class), so that the hole
     * a dead large object leaves fits the next one of its class even when the sizes creep up;
     * and a moving bh_realloc keeps the object on its side: from above the wilderness to the top
     * end of the highest run that fits. Costs otherwise as BH_POLICY_LIFETIME. */
    BH_POLICY_ADAPTIVE,
    /* BH_POLICY_ADAPTIVE (its learning, its collection timing, its size classes, its moving
     * realloc rule) with placement in bounded time (src/runlists.c): good fit from segregated free
     * lists, as in TLSF, instead of first fit from the tree. Every maximal free run but the
     * wilderness (the largest run the last collection left, which frees next to it extend) is on
     * the list of its size class: 1, 2 and 3 blocks, then four classes per power of two. A
     * request of k blocks takes the oldest run (the longest free) of the smallest non-empty class
     * whose every run holds k (found in a bitmap of BH_LIST_CLASSES bits; the list's head names
     * its last run, so this is O(1) with no more state): its bottom end, or its top end if
     * predicted long-lived. Only when no such class has a run does it take the wilderness, from
     * the bottom (top if long-lived); only when the wilderness is too small, a run of k's own
     * class that holds k (a scan of that class's list: the one step that is not O(1), just
     * before the heap would collect or fail). So holes are refilled by good fit before the used
     * area grows, and the wilderness splits by predicted lifetime as in adaptive.
     * One prediction of its own: an object of at most 2 blocks from a site not learned yet is
     * placed as long-lived (a program being loaded makes its small permanent objects, constants,
     * functions, code, among the large temporaries of its parse tree: apart, they do not pin the
     * region the parse tree leaves). Larger objects of new sites go to the bottom, as in adaptive.
     * On the shared traces it needs the least heap of all policies (1.025 the peak of live data
     * on average, against adaptive's 1.043: docs/placement.md), and no program more than under
     * micropython.
     * Costs: allocation O(1) as above, + O(k), + O(BH_SEG_SAMPLES) when sampling; bh_free O(k +
     * BH_SEG_SAMPLES) (a free merges with its free neighbours through their nodes and boundary
     * tags: each run's first block keeps its list links and length, its last block its first
     * block's number); a collection + O(n / 4 + r) to rebuild the lists; bh_largest_free
     * O(runs of the highest non-empty class). Same block-size and pool limits as
     * BH_POLICY_LIFETIME, and a pool whose size class is below BH_LIST_CLASSES. State:
     * sizeof(struct bh_seg_state), shared with the other segregating policies. */
    BH_POLICY_ADAPTIVE_O1,
    BH_POLICY_COUNT
} bh_policy;

/* Allocation flags. */
#define BH_FINALISER  0x1u /* call the config's finalise callback when found unreachable */
#define BH_LONG_LIVED 0x2u /* the host expects the object to live long: a placement hint */

typedef void (*bh_collect_fn)(void *ctx, bh_heap *h);
typedef void (*bh_finalise_fn)(void *ctx, bh_heap *h, void *obj);

typedef enum bh_misuse {
    BH_MISUSE_FOREIGN = 0,
    BH_MISUSE_INTERIOR,
    BH_MISUSE_FREED,
    BH_MISUSE_UNLOCK,
    BH_MISUSE_COLLECTING,
    BH_MISUSE_LOCKED,
    BH_MISUSE_COUNT
} bh_misuse;
typedef void (*bh_misuse_fn)(void *ctx, bh_heap *h, bh_misuse what, const void *ptr);

/* A zero-initialised config is MicroPython's default: 4-word blocks, finalisers, policy
 * micropython, auto-collect (when `collect` is set), no threshold, 64-entry mark stack. */
typedef struct bh_config {
    size_t block_bytes;        /* 0: 4 * sizeof(void *); else a power of two >= 2 * sizeof(void *) */
    bool without_finalisers;   /* no FTB: 2 bits per block; BH_FINALISER is then ignored */
    bool no_auto_collect;      /* never collect by itself (MicroPython's gc.disable()) */
    bh_policy policy;
    size_t threshold_blocks;   /* 0: off; else collect before an allocation once this many blocks
                                  were allocated since the last collection (gc.threshold) */
    size_t *mark_stack;        /* NULL: the 64 entries inside bh_heap */
    size_t mark_stack_entries; /* entries of mark_stack (ignored when mark_stack is NULL) */
    bh_collect_fn collect;     /* host's full collection: start, roots, end */
    bh_finalise_fn finalise;   /* called for unreachable BH_FINALISER objects */
    bh_misuse_fn misuse;       /* optional: told of every misuse (see the top of this file) */
    void *ctx;                 /* passed to the three callbacks */
} bh_config;

/* ---------------------------------------------------------------------------------------------- */
/* Diagnostics types                                                                             */

typedef enum bh_verdict {
    BH_VERDICT_NONE = 0,   /* no failure yet */
    BH_VERDICT_FRAGMENTED, /* enough free blocks in total, but no free run long enough */
    BH_VERDICT_EXHAUSTED,  /* not enough free blocks in total */
    BH_VERDICT_LOCKED,     /* the heap was locked */
    BH_VERDICT_IMMOVABLE   /* realloc could not grow in place and moving was not allowed */
} bh_verdict;

typedef struct bh_info {
    size_t block_bytes, pool_blocks;
    size_t total_bytes, used_bytes, free_bytes;  /* as mem_info prints them */
    size_t used_blocks, free_blocks;
    size_t objects;
    size_t one_block_objects, two_block_objects; /* "No. of 1-blocks", "2-blocks" */
    size_t largest_object_blocks;                /* "max blk sz" */
    size_t largest_free_blocks;                  /* "max free sz" */
    size_t free_runs;                            /* maximal runs of free blocks */
    size_t largest_alloc_bytes;                  /* largest request that succeeds now, no GC */
    size_t collections;                          /* since bh_init */
    size_t misuse;                               /* misuses ignored since bh_init */
} bh_info;

typedef struct bh_failure {
    size_t request_bytes, request_blocks;
    size_t free_blocks, free_bytes;              /* at the moment of failure (after any collection) */
    size_t largest_free_blocks, largest_free_bytes;
    bool collected;                              /* a collection was made for this request */
    bh_verdict verdict;
    size_t failures;                             /* failed requests since bh_init */
} bh_failure;

/* ---------------------------------------------------------------------------------------------- */
/* The heap's control structure. Caller-allocated (static is fine); treat as opaque.             */

#define BH_MARK_STACK_DEFAULT 64
#define BH_SEG_SAMPLES 16 /* sampled objects per collection epoch (lifetime learning) */
#define BH_SEG_SITES 256  /* site-table entries (one byte each), a power of two */
#ifndef BH_LIST_CLASSES
#define BH_LIST_CLASSES 100 /* adaptive_o1's size classes: 4 per power of two up to 2^26 blocks */
#endif
#define BH_LIST_WORDS ((BH_LIST_CLASSES + 31) / 32)

struct bh_heap {
    uint8_t *atb;              /* allocation table, 2 bits per block */
    uint8_t *ftb;              /* finaliser table, 1 bit per block, or NULL */
    uint8_t *pool;             /* block 0 */
    size_t atb_bytes;          /* pool_blocks / 4 */
    size_t pool_blocks;
    size_t block_bytes;
    unsigned block_shift;      /* log2(block_bytes) */
    bh_config cfg;
    const struct bh_placement *place;
    size_t cursor;             /* policies micropython, bestfit: ATB byte below which no block is
                                  free */
    /* Placement policy state: only the selected policy's member is used (see bh_policy). Bytes
     * beyond `cursor`: bestfit 1 word; lifetime, firstfit_gc, adaptive: 5 words + 6 * 4 +
     * BH_SEG_SAMPLES * 12 + BH_SEG_SITES + 4 = 496 bytes on 32-bit, 520 on 64-bit (padded). */
    union {
        struct bh_bestfit_state {
            size_t first_free;     /* the lowest free block the last search saw (BH_NO_BLOCK: none) */
        } bestfit;
        struct bh_seg_state {
            uint32_t runs;         /* maximal free runs indexed: the tree's nodes, or the runs
                                      on the lists (all but the wilderness) */
            union {
                uint32_t run_root; /* the free-run tree's root (src/runtree.c): a block, or ~0 */
                struct {           /* adaptive_o1's free-run lists (src/runlists.c) */
                    uint32_t head[BH_LIST_CLASSES];  /* first run of each size class, or ~0 */
                    uint32_t nonempty[BH_LIST_WORDS]; /* bit c: head[c] is a run */
                } lists;
            } index;
            size_t wild_lo, wild_hi; /* the wilderness: what is left of the largest free run the
                                        last collection (or init) left; empty when wild_lo==wild_hi */
            size_t survivors;      /* blocks in use after the last collection */
            size_t wild_len;       /* blocks of the wilderness right after the last collection */
            size_t pending_hash;   /* site-table index of the request find() classified (or ~0) */
            uint32_t clock;        /* allocations since init (wraps harmlessly) */
            uint32_t epoch_start;  /* clock at the last collection */
            uint32_t epoch_len;    /* allocations in the previous epoch */
            uint32_t next_sample;  /* clock at which the next sample may be taken */
            struct bh_seg_sample {
                uint32_t block;    /* head block of the sampled object; UINT32_MAX: slot free */
                uint32_t birth;    /* clock at its allocation */
                uint32_t site;     /* site-table index; bit 31: the site was unknown */
            } samples[BH_SEG_SAMPLES];
            int8_t votes[BH_SEG_SITES]; /* >0 long-lived, <0 not, 0 not learned yet; +-15 */
            uint8_t pending_long;  /* find() placed the request from the top */
            uint8_t unknown_pending; /* samples of sites not learned yet (votes 0), unresolved */
            uint8_t early;         /* the collection under way was the early trigger's */
            uint8_t steady;        /* consecutive early collections in a steady state (0..2) */
        } seg;
    } pol;
    size_t deferred_frees;     /* bh_free calls ignored because the heap was locked */
    size_t used_blocks;        /* HEAD + TAIL (+ MARK) blocks */
    size_t objects;
    size_t allocated_since_collect; /* blocks, for the threshold */
    unsigned lock_depth;       /* bh_lock nesting; a collection locks the heap by `collecting` */
    bool collecting;
    bool finalising;           /* bh_collect_end is running the finalisers */
    bool mark_overflow;
    const void *pinned;        /* object kept alive across a collection bh_realloc triggers */
    size_t collections;
    size_t misuse_counts[BH_MISUSE_COUNT];
    bh_failure failure;
    size_t *mark_stack;
    size_t mark_stack_entries;
    size_t mark_stack_storage[BH_MARK_STACK_DEFAULT];
};

/* ---------------------------------------------------------------------------------------------- */
/* Arena and allocation                                                                          */

/* Lay the heap out over arena[0 .. arena_bytes). cfg may be NULL (all defaults). Returns false,
 * leaving h unusable, if the config is invalid or the arena holds no block. O(A). */
bool bh_init(bh_heap *h, void *arena, size_t arena_bytes, const bh_config *cfg);

/* Pool blocks an arena of arena_bytes gives (MicroPython's formula), for an arena whose start is
 * aligned to block_bytes. block_bytes 0 means the default. O(1). */
size_t bh_pool_blocks_for(size_t arena_bytes, size_t block_bytes, bool with_finalisers);
/* Smallest arena (aligned start) that gives at least pool_blocks blocks. O(1). */
size_t bh_arena_bytes_for(size_t pool_blocks, size_t block_bytes, bool with_finalisers);

/* Zeroed, block-aligned memory of at least nbytes, or NULL (nbytes 0, locked, or no room even after
 * the collection the heap may make). flags: BH_FINALISER | BH_LONG_LIVED. */
void *bh_alloc(bh_heap *h, size_t nbytes, unsigned flags);
/* As bh_alloc, with an allocation-site token (any value; equal values mean the same place in the
 * host, e.g. a return address) that a learning placement policy may use. */
void *bh_alloc_site(bh_heap *h, size_t nbytes, unsigned flags, uintptr_t site);
/* Frees the object p points at (misuse: see top). Ignored while the heap is locked. O(k). */
void bh_free(bh_heap *h, void *p);
/* p NULL: bh_alloc(h, nbytes, 0). nbytes 0: bh_free(h, p), returns NULL. Same block count: p.
 * Fewer blocks: shrinks in place. More: grows in place if the blocks after it are free, else, if
 * allow_move, allocates anew (keeping the finaliser bit; this may collect, and p itself survives
 * that collection), copies and frees p; else NULL and p is unchanged. Added bytes are zero. */
void *bh_realloc(bh_heap *h, void *p, size_t nbytes, bool allow_move);
/* Usable bytes of the object p points at (its blocks * block size); 0 for NULL or misuse. */
size_t bh_size(bh_heap *h, const void *p);

void bh_lock(bh_heap *h);
void bh_unlock(bh_heap *h);
bool bh_is_locked(const bh_heap *h);
/* Changes the threshold (blocks; 0 = off) at run time. */
void bh_set_threshold(bh_heap *h, size_t threshold_blocks);

/* ---------------------------------------------------------------------------------------------- */
/* Collection                                                                                    */

void bh_collect_start(bh_heap *h);
void bh_collect_roots(bh_heap *h, const void *const *words, size_t n);
void bh_collect_end(bh_heap *h);
/* A full collection: the config's collect callback if set, else start + end with no roots (which
 * reclaims every object). */
void bh_collect(bh_heap *h);

/* ---------------------------------------------------------------------------------------------- */
/* Diagnostics                                                                                   */

void bh_info_get(const bh_heap *h, bh_info *info);
/* Bytes of the largest allocation that would succeed now without a collection. O(1) for the
 * policies with the free-run tree (lifetime, firstfit_gc, adaptive), O(runs of the highest
 * non-empty size class) for adaptive_o1, O(n) for the others. */
size_t bh_largest_free(const bh_heap *h);
/* hist[i] = number of maximal free runs of length in [2^i, 2^(i+1)) blocks; the last bucket takes
 * all longer runs. Returns the number of free runs. */
size_t bh_free_runs(const bh_heap *h, size_t *hist, size_t nbuckets);
/* The most recent failed allocation (verdict BH_VERDICT_NONE if none). */
void bh_last_failure(const bh_heap *h, bh_failure *f);
/* Verdict for a request of request_blocks given the free total and the largest free run. */
bh_verdict bh_verdict_for(size_t request_blocks, size_t free_blocks, size_t largest_free_blocks);
const char *bh_verdict_name(bh_verdict v);

typedef void (*bh_print_fn)(void *ctx, const char *s, size_t len);
/* Returns the type letter for the object at obj (T, L, D, S, A, F, B, M, ...), or 0 for 'h'. */
typedef char (*bh_kind_fn)(void *ctx, const void *obj, size_t blocks);
/* Prints, exactly as MicroPython's micropython.mem_info(1) after its stack line:
 *   GC: total: %u, used: %u, free: %u
 *    No. of 1-blocks: %u, 2-blocks: %u, max blk sz: %u, max free sz: %u
 *   GC memory layout; from %p:
 *   00000000: h=Sh==...
 *          (N lines all free)
 * kind may be NULL. The pool address prints as MicroPython's %p does (lowercase hex, no 0x). */
void bh_dump_map(const bh_heap *h, bh_print_fn print, void *ctx, bh_kind_fn kind, void *kind_ctx);

/* Calls fn for every maximal free run and every object, in address order: block index, length in
 * blocks, whether it is a free run, and the object's address (NULL for a free run). Stops early when
 * fn returns false. O(n). The heap must not change during the walk. */
typedef bool (*bh_walk_fn)(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj);
void bh_walk(const bh_heap *h, bh_walk_fn fn, void *ctx);

/* Verifies every invariant (see src/inspect.c); false at the first violation. O(n). */
bool bh_check(const bh_heap *h);

#ifdef __cplusplus
}
#endif
#endif
