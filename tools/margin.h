/* How much heap does a trace need, and how close to the edge is a given heap? (blockheap margin)
 *
 * Sizes are searched at the granularity at which the pool changes: one allocation-table byte, that
 * is 4 blocks; each pool size P is run at the smallest arena that gives it, bh_arena_bytes_for(P).
 *
 * First fit is not monotonic in the heap size: a trace may pass at some size and fail at a larger
 * one. So the search is:
 *   1. lower bound: the smallest arena whose pool holds the peak live blocks (and the largest
 *      single request); nothing smaller can pass.
 *   2. a passing size, by growing the pool 25% at a time from the lower bound, then bisection
 *      down to a fail -> pass transition T (what MicroPython's own min-heap bisection finds).
 *   3. every pool size in a window around T is run: below T down to `window` under the smallest
 *      passing size seen (or to the lower bound), and above T until `window` of consecutive passing
 *      sizes follows the last failing one.
 * min_heap is the smallest passing size among all sizes run (every size from checked_from up was
 * run); all_pass_from is the size from which every size up to checked_up_to passed.
 *
 * With a heap H, the margin of safety:
 *   margin_bytes: how much smaller the heap could be: H minus the smallest size S such that every
 *     pool size from S to H passes (negative when H itself fails: then it is H - all_pass_from,
 *     minus how much more heap the trace needs to be safe).
 *   peak_growth_blocks: how much the program's peak could grow: the largest k such that the trace
 *     plus one k-block object allocated first and never freed (a new global buffer) still completes
 *     at H, found by bisection on k (first fit being non-monotonic, a smaller k may fail; margin_bytes
 *     is the conservative figure). */
#ifndef BH_TOOLS_MARGIN_H
#define BH_TOOLS_MARGIN_H

#include "replay.h"

typedef struct bh_margin_config {
    bh_replay_config replay;   /* heap_bytes and edit are ignored */
    size_t heap_bytes;         /* 0: no margin of safety */
    size_t window_bytes;       /* 0: the default (BH_MARGIN_WINDOW_DEFAULT) */
    size_t max_runs;           /* 0: the default (20000): stop widening the window after this */
    unsigned jobs;
    bool progress;             /* a progress line on stderr */
} bh_margin_config;

#define BH_MARGIN_WINDOW_DEFAULT 8192

typedef struct bh_margin {
    bh_policy policy;
    size_t block_bytes;
    uint64_t peak_live_blocks, peak_live_bytes, largest_request_blocks;
    size_t lower_bound_bytes;          /* smallest arena whose pool holds peak_live_blocks */
    bool completes;                    /* false: no size up to checked_up_to completes */
    size_t bisect_min_bytes;           /* the transition bisection found */
    size_t min_heap_bytes, min_pool_blocks, collections_at_min;
    size_t all_pass_from_bytes, all_pass_pool_blocks;
    size_t checked_from_bytes, checked_up_to_bytes; /* every pool size in between was run */
    size_t failing_above_min;          /* sizes in (min_heap, all_pass_from) that fail */
    size_t runs;                       /* replays made */
    uint64_t events_replayed;
    double seconds;
    /* with a heap */
    bool have_heap;
    size_t heap_bytes, heap_pool_blocks;
    bool heap_passes;
    size_t heap_collections;
    long long margin_bytes;
    size_t safe_from_bytes;            /* every size from here to heap_bytes passes */
    bool heap_sampled;                 /* heap_bytes was far above the window: the sizes between
                                          checked_up_to and heap_bytes were sampled (64), not all run */
    uint64_t peak_growth_blocks;
} bh_margin;

/* false only if out of memory or the trace cannot run at all (message on stderr). */
bool bh_margin_search(const bh_trace *t, const bh_margin_config *cfg, bh_margin *out);

#endif
