/* The heap browser behind `blockheap browse`: snapshots of real heaps, written with the page
 * template (tools/page/browse.html) as one self-contained HTML file. The data contract is
 * docs/browse-data.md.
 *
 * Every figure comes from the library on a live bh_heap: the map from bh_walk, the numbers from
 * bh_info_get, bh_largest_free and bh_free_runs. Nothing here models the heap a second time.
 *
 * The number of snapshots (full maps) and of timeline points (numbers only) is bounded: sampled
 * moments are kept when their x is a multiple of a stride that doubles, dropping every other kept
 * moment, each time a cap is reached. So a run of any length leaves between cap/2 and cap evenly
 * spaced moments, in one pass, without knowing its length in advance. A forced moment (the end of
 * a run, a failure) is always kept. */
#ifndef BH_TOOLS_BROWSE_H
#define BH_TOOLS_BROWSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "blockheap.h"
#include "pages.h"

/* Where the data goes in the template. */
#define BH_BROWSE_PLACEHOLDER "@BLOCKHEAP_DATA@"

/* Default caps: sampled snapshots and points, one place each left for the forced last moment. */
#define BH_BROWSE_MAX_SNAPSHOTS 199
#define BH_BROWSE_MAX_POINTS 999

/* One heap area to show: a live heap and, for a dump, what the dump printed for each block. */
typedef struct bh_browse_area {
    const bh_heap *heap;
    const char *letters;   /* per block, the dump's map character (the type letter at a head), or
                              NULL: every object shows as 'h' */
    size_t nletters;       /* length of letters (blocks past it show as 'h') */
    const char *address;   /* the pool's address as the dump printed it, or NULL */
    size_t blocks;         /* blocks shown, from block 0; 0: the whole pool. Blocks past them are
                              not part of the map (the guard object of a reproduced dump). */
    const bh_info *info;   /* the figures to show (bh_dump_heap_info), or NULL: bh_info_get */
} bh_browse_area;

/* A number the dump's header printed, by MicroPython's name ("total", "max free sz", ...). */
typedef struct bh_browse_header_item {
    const char *name;
    uint64_t value;
} bh_browse_header_item;

/* One moment: a dump, or a point of a replay. */
typedef struct bh_browse_moment {
    uint64_t x;                 /* dump ordinal (1-based) or event number; increasing */
    const char *label;          /* "after gc.collect", "after event 1234"; NULL: "" */
    const char *file;           /* where it comes from, or NULL */
    unsigned long line;         /* 0: unknown */
    const bh_browse_header_item *header; /* the dump's own numbers, or NULL */
    size_t nheader;
    int consistent;             /* whether the header agrees with the map: 1, 0, or -1 unknown */
    const bh_failure *failure;  /* an allocation failed at this moment (from bh_last_failure), or NULL */
} bh_browse_moment;

typedef struct bh_browse_snapshot {
    uint64_t x;
    bool forced;
    size_t blocks;              /* pool blocks of all its areas */
    char *json;                 /* the snapshot object, ready to write */
    size_t json_len;
} bh_browse_snapshot;

typedef struct bh_browse_point {
    uint64_t x;
    bool forced;
    uint64_t used_bytes, free_bytes, largest_free_bytes;
} bh_browse_point;

/* The replay's parameters and outcome, shown by the page (see docs/browse-data.md). */
typedef struct bh_browse_trace {
    const char *file;
    uint64_t heap_bytes;
    const char *policy;
    uint64_t pool_blocks;
    uint64_t events;            /* events run (up to and including a failed one) */
    bool completed;
    uint64_t collections;
    uint64_t peak_live_blocks;  /* 0: not known */
} bh_browse_trace;

/* What the page says about the whole run. */
typedef struct bh_browse_meta {
    const char *kind;           /* "dumps" or "trace" */
    const char *title;
    const char *subtitle;
    const char *x_label;        /* "dump" or "event" */
} bh_browse_meta;

typedef struct bh_browse {
    bh_browse_snapshot *snaps;
    size_t nsnaps, snaps_cap, max_snaps, sampled_snaps;
    uint64_t snap_stride;
    bh_browse_point *points;
    size_t npoints, points_cap, max_points, sampled_points;
    uint64_t point_stride;
    /* the run's failure: the last moment recorded with one */
    bool has_failure;
    uint64_t failure_x;
    char *failure_file;
    unsigned long failure_line;
    bh_failure failure;
    /* a replay's parameters and outcome (strings owned) */
    bool has_trace;
    bh_browse_trace trace;
} bh_browse;

/* max_snapshots, max_points: caps on sampled moments (0: the defaults above). */
void bh_browse_init(bh_browse *b, size_t max_snapshots, size_t max_points);
void bh_browse_free(bh_browse *b);

/* Whether a sampled snapshot / timeline point at x would be kept now. Cheap: ask before doing the
 * work of building one. */
bool bh_browse_wants_snapshot(const bh_browse *b, uint64_t x);
bool bh_browse_wants_point(const bh_browse *b, uint64_t x);

/* Records the timeline figures of the areas at x (used and free add up over areas, the largest
 * free run is the largest of them). A sampled point (forced false) the stride does not want is
 * ignored. false if out of memory. */
bool bh_browse_add_point(bh_browse *b, uint64_t x, const bh_browse_area *areas, size_t nareas, bool forced);
/* Records a full snapshot (maps, figures, histogram) of the areas, and its timeline point. A sampled
 * snapshot (forced false) the stride does not want only gives its timeline point (if the point
 * stride wants it). A moment with a failure is always kept and becomes the run's failure. A forced
 * moment at the x of the last one replaces it. false if out of memory. */
bool bh_browse_add_snapshot(bh_browse *b, const bh_browse_moment *m, const bh_browse_area *areas,
                            size_t nareas, bool forced);

/* Records the replay's parameters and outcome (strings are copied). false if out of memory. */
bool bh_browse_set_trace(bh_browse *b, const bh_browse_trace *t);

/* Writes the page: the template with the JSON data in place of its placeholder. false (with a
 * message on stderr) if the template has no placeholder or out of memory; the caller checks the
 * stream for write errors. */
bool bh_browse_write_page(const bh_browse *b, const bh_browse_meta *meta, FILE *out);
/* Writes only the JSON data (what the page embeds). */
void bh_browse_write_json(const bh_browse *b, const bh_browse_meta *meta, FILE *out);

#endif
