/* Would a small change to the program break it at this heap size? (blockheap fragility)
 *
 * N variants of the trace, each one small realistic edit, seeded (variant i depends only on the
 * seed and i, so the first variants are the same whatever N):
 *   extra  - a new global: one small object (1 to 4 blocks) allocated at a random event, kept to
 *            the end
 *   grow   - a longer string: one allocation, picked at a random event, 1 to 4 blocks bigger (at
 *            its `a` and at every `r` of it)
 *   burst  - a short burst of temporaries at a random event: 2 to 8 objects of 1 to 3 blocks,
 *            allocated one after the other, then dead
 * Each variant is replayed at the heap (pass or fail) and its minimum heap is found by bisection
 * between the lower bound and a passing size (as MicroPython's own minimum-heap measurement does;
 * first fit being non-monotonic, a smaller size may pass too). */
#ifndef BH_TOOLS_FRAGILITY_H
#define BH_TOOLS_FRAGILITY_H

#include "replay.h"

typedef struct bh_fragility_config {
    bh_replay_config replay;   /* heap_bytes and edit are ignored */
    size_t heap_bytes;
    unsigned variants;
    uint64_t seed;
    unsigned jobs;
    bool progress;
} bh_fragility_config;

typedef struct bh_variant {
    bh_trace_edit edit;
    unsigned long line;        /* where the edit is: the line of its event (grow: of the object's a) */
    bool completed;            /* at the heap */
    bool min_found;            /* false: no size up to the search's cap completes */
    size_t min_heap_bytes;
} bh_variant;

typedef struct bh_fragility {
    size_t heap_bytes;
    bool base_completed;       /* the unedited trace at the heap */
    size_t base_min_heap_bytes;
    unsigned n, failed;
    unsigned failed_by_kind[4]; /* indexed by bh_edit_kind */
    unsigned count_by_kind[4];
    bh_variant *v;             /* n variants, freed by bh_fragility_free */
    size_t min_p50, min_p90, min_max, min_min; /* of the variants' minimum heaps (found ones) */
    unsigned min_unknown;      /* variants whose minimum was not found */
    double seconds;
    size_t runs;
} bh_fragility;

bool bh_fragility_run(const bh_trace *t, const bh_fragility_config *cfg, bh_fragility *out);
void bh_fragility_free(bh_fragility *f);
const char *bh_edit_kind_name(bh_edit_kind k);

/* The variant i of seed for trace t (exposed for tests: determinism). */
void bh_fragility_variant(const bh_trace *t, size_t block_bytes, uint64_t seed, unsigned i, bh_trace_edit *edit,
                          unsigned long *line);

#endif
