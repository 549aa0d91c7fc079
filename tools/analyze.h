/* What a heap dump says: the figures of `blockheap analyze`, computed on the dump's areas reproduced in
 * real heaps (dump.h), so that a dump and a live heap are described by the same definitions. */
#ifndef BH_TOOLS_ANALYZE_H
#define BH_TOOLS_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>

#include "blockheap.h"
#include "dump.h"

#define BH_ANALYSIS_SIZE_BUCKETS 24 /* objects of 1, 2, 3-4, 5-8, ... (2^(i-1), 2^i] blocks */
#define BH_ANALYSIS_MAX_WALL 3      /* walls of 1, 2 and 3 objects are looked for */
#define BH_ANALYSIS_LARGEST 3       /* the largest objects listed */

/* One object of a dump: its head's area and block, its size (bh_size) and its map letter. */
typedef struct bh_object_ref {
    size_t area;
    size_t block;
    size_t blocks;
    char type;
} bh_object_ref;

/* Consecutive objects whose freeing would join the free runs around them into one run. */
typedef struct bh_wall {
    size_t count;                                /* objects; 0: none found */
    bh_object_ref objects[BH_ANALYSIS_MAX_WALL]; /* the first min(count, 3) of them */
    size_t freed_blocks;                         /* their blocks */
    size_t area, run_block, run_blocks;          /* the free run their freeing makes */
} bh_wall;

typedef struct bh_type_count {
    char type;      /* the map letter: 'h', 'm', 'T', ... */
    size_t objects;
    size_t blocks;
} bh_type_count;

typedef struct bh_dump_analysis {
    bh_dump_figures fig;            /* the library's figures (dump.h) */
    size_t largest_run_area;        /* where the (first) longest free run is */
    size_t largest_run_block;
    /* Fragmentation: 1 - largest free run / free blocks, i.e. the share of the free memory that the
     * largest possible allocation cannot use. 0 when the free memory is one run (however little
     * there is), towards 1 when it is scattered; it does not mix in how full the heap is, which
     * `--need` and the free total already say (exhaustion vs fragmentation). 0 with no free block. */
    double fragmentation;
    bh_type_count types[64];        /* by blocks, most first */
    size_t type_count;
    size_t size_objects[BH_ANALYSIS_SIZE_BUCKETS];
    size_t size_blocks[BH_ANALYSIS_SIZE_BUCKETS];
    bh_object_ref largest[BH_ANALYSIS_LARGEST];
    size_t largest_count;
    /* walls[k-1]: the k consecutive objects (k = 1..3) whose freeing joins the most free blocks
     * into a run longer than the longest free run now (ties: fewest bytes freed, lowest address);
     * count 0 when no k objects would make a longer run. */
    bh_wall walls[BH_ANALYSIS_MAX_WALL];
    /* the --need question (need_bytes 0: not asked) */
    size_t need_bytes, need_blocks;
    bool need_fits;
    bh_verdict need_verdict;        /* bh_verdict_for: BH_VERDICT_NONE when it fits */
    bh_wall need_room;              /* when it does not fit: the fewest bytes of consecutive objects
                                       whose freeing would make a run of need_blocks (count 0: none) */
} bh_dump_analysis;

/* Analyses d (need_bytes: an allocation to test, 0 for none). False (and `why`) if an area cannot be
 * reproduced in a heap. O(blocks). */
bool bh_dump_analyse(const bh_dump *d, size_t need_bytes, bh_dump_analysis *an, char *why, size_t why_cap);

/* What the map letter stands for: "tuple", "list", ..., "untyped" for 'h'. */
const char *bh_dump_type_name(char type);

/* Where a block is, for people: "0x3ffef0c0" when the pool's address is known, else "offset 0x00c40"
 * (prefixed "area 2 " in a split heap). */
const char *bh_dump_where(char *buf, size_t cap, const bh_dump *d, size_t area, size_t block);

#endif
