/* Where the heap goes: the analysis behind `blockheap report`, computed from a heaptrace alone.
 *
 * "Live" is the trace's own notion: an object is live from its `a` until its `d` or `f` (objects
 * never killed stay live to the end); it holds ceil(bytes / block) blocks of its current size (the
 * last `a` or `r`). Zero-byte objects hold nothing and are not counted. All event numbers in this
 * interface are 0-based indices into bh_trace.events; printers add 1.
 *
 * What it finds:
 *   - the peak of live data and, at it (or at any other event), the blocks held grouped by Python
 *     line, Python file, C site and size class (sums equal the live total exactly);
 *   - phases: start-up & compile / imports & set-up / main loop, and the peak of each;
 *   - a bounded timeline of live blocks;
 *   - the trend of the live floor over the main loop (blocks per 1000 allocations), the groups
 *     whose live blocks grow, and a verdict (steady / growing);
 *   - the lifetime (in allocation events) of each site's objects: p50, p90, max. */
#ifndef BH_TOOLS_REPORT_H
#define BH_TOOLS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace.h"

/* One group of objects: a Python line, a Python file, a C site or a size class. */
typedef struct bh_report_group {
    const char *name; /* points into the trace's or the report's tables */
    uint64_t blocks, bytes, objects;
    int64_t delta_blocks; /* growth tables only: blocks at the end minus blocks at the start */
} bh_report_group;

typedef enum bh_report_by { BH_BY_PYLINE = 0, BH_BY_PYFILE, BH_BY_SITE, BH_BY_SIZE, BH_BY_COUNT } bh_report_by;

/* "Python line", "Python file", "C site", "size class" */
const char *bh_report_by_title(bh_report_by by);
/* "python_line", "python_file", "c_site", "size_class" (JSON keys) */
const char *bh_report_by_key(bh_report_by by);

/* The live objects after one event, grouped four ways; each list sorted by blocks (then bytes,
 * objects, name), all groups with at least one object included. */
typedef struct bh_report_snapshot {
    size_t event; /* 0-based: the state after this event */
    uint64_t blocks, bytes, objects;
    bh_report_group *groups[BH_BY_COUNT];
    size_t ngroups[BH_BY_COUNT];
} bh_report_snapshot;

typedef struct bh_report_point {
    size_t first_event, last_event; /* the events this point covers, inclusive */
    uint64_t allocations;           /* `a` events up to last_event, inclusive */
    uint64_t live_min, live_max, live_end;
} bh_report_point;

typedef enum bh_report_phase_id {
    BH_PHASE_STARTUP = 0, /* start-up and compiling the program */
    BH_PHASE_IMPORT,      /* running the program's top level: imports (compiled from source), set-up */
    BH_PHASE_MAIN,        /* the main loop: no new Python file allocates, the compiler is silent */
    BH_PHASE_COUNT
} bh_report_phase_id;

typedef struct bh_report_phase {
    const char *name;
    bool present;                   /* false: the phase is empty */
    size_t first_event, last_event; /* inclusive */
    uint64_t allocations;
    uint64_t peak_blocks, peak_bytes;
    size_t peak_event;
} bh_report_phase;

/* The trend of the live floor over the main loop. */
#define BH_REPORT_WINDOWS 20
typedef struct bh_report_trend {
    bool judged;          /* false: the main loop is too short (see verdict) */
    uint64_t allocations; /* `a` events in the main loop */
    size_t nwindows;
    /* per window (equal shares of the main loop's allocations): the lowest live blocks and where */
    uint64_t floor[BH_REPORT_WINDOWS];
    size_t floor_event[BH_REPORT_WINDOWS];
    double slope_all;    /* blocks per 1000 allocations, least squares over all windows */
    double slope_late;   /* the same over the second half of the windows */
    int64_t growth_late; /* floor of the last window minus floor of the middle one */
    bool growing;
    bool cycles; /* the floor falls back in the second half: not a leak */
    /* growth per group between the floors of the middle window and growth_end_window (the last one,
     * or the one before it when the last is the program's teardown), most growth first */
    size_t growth_end_window;
    bh_report_group *growth[BH_BY_COUNT];
    size_t ngrowth[BH_BY_COUNT];
    char verdict[512]; /* "steady: ..." or "growing: possible leak at ..." */
} bh_report_trend;

/* Lifetimes of one site's objects, in allocation events: the number of allocations made after the
 * object's own and up to its death (d or f). */
typedef struct bh_report_lifetime {
    const char *name;
    uint64_t allocations; /* objects allocated here (zero-byte ones included) */
    uint64_t died;        /* of them, killed by d or f */
    uint64_t live_at_end;
    uint64_t p50, p90, max; /* over the objects that died */
} bh_report_lifetime;

typedef struct bh_report {
    const bh_trace *trace;
    size_t block_bytes;
    uint64_t allocations; /* `a` events */
    bool has_sites, has_pysites;
    /* the peak of live data (first reached) */
    uint64_t peak_blocks, peak_bytes;
    size_t peak_event;
    bh_report_snapshot at_peak;
    /* phases */
    bool compile_end_found;
    size_t compile_end_event; /* last allocation by the compiler before the first allocation with
                                 a Python line (or, without pysite=, before the first allocation
                                 by the bytecode interpreter) */
    bool have_new_file, have_compiler;
    size_t last_new_file_event; /* first allocation of the last Python file to appear (if any) */
    size_t last_compiler_event; /* last allocation by a compiler site (if any) */
    size_t main_start_event;    /* first event of the main loop */
    bh_report_phase phases[BH_PHASE_COUNT];
    /* timeline */
    bh_report_point *timeline;
    size_t npoints;
    /* steady or leak */
    bh_report_trend trend;
    /* lifetimes, sorted by allocations (most first) */
    bh_report_lifetime *life[2]; /* [0] by C site, [1] by Python line */
    size_t nlife[2];
    /* internal */
    bh_intern files;          /* Python file names */
    uint32_t *file_of_pysite; /* per pysite id */
    char **class_names;
    size_t nclasses;
} bh_report;

/* Analyses t with blocks of block_bytes (0: the trace's). timeline_points: the most timeline points
 * (0: 100). false if out of memory (the report is still safe to free). */
bool bh_report_build(bh_report *r, const bh_trace *t, size_t block_bytes, size_t timeline_points);
/* The live objects after event `event` (0-based; SIZE_MAX: before any event), grouped. false if out
 * of memory. Free with bh_report_snapshot_free. */
bool bh_report_snapshot_at(const bh_report *r, size_t event, bh_report_snapshot *s);
void bh_report_snapshot_free(bh_report_snapshot *s);
void bh_report_free(bh_report *r);

/* The fullest moment of a replay, from the trace and the replay's collections: an object holds its
 * blocks from its `a` until its `f`, or until the first collection after its `d`. collect_events:
 * the 0-based events during which the replay collected (before that event's own request: an
 * allocation that found no room, the threshold, or a `c`), ascending. Looks at events up to
 * last_event (SIZE_MAX: all; a failed replay: its failing event - 1). *s: the blocks held (live and
 * dead-but-not-yet-collected) at the first event where they are most, grouped as at the peak;
 * *peak_used: that total. false if out of memory or the events are not ascending.
 *
 * The replay does not report its collections yet: this needs a hook in bh_replay_config, e.g.
 *     void (*on_collect)(void *ctx, size_t event); void *on_collect_ctx;
 * called once per collection with the index of the event being run. */
bool bh_report_fullest(const bh_report *r, const size_t *collect_events, size_t ncollect, size_t last_event,
                       bh_report_snapshot *s, uint64_t *peak_used);

/* Live blocks over the timeline, stacked by the k groups of `by` that hold the most over it (blocks
 * summed over the points):
 * names[0..k) (k may come back smaller), and values[p * (k + 1) + i] the blocks group i holds after
 * the last event of timeline point p, with i = k for all the others. false if out of memory; the
 * caller frees *names and *values. */
bool bh_report_stack(const bh_report *r, bh_report_by by, size_t *k, const char ***names, uint64_t **values);

/* The report as one self-contained HTML page (no network, no script needed): the summary, the
 * timeline stacked by the top Python lines (C sites without pysite=, size classes without either),
 * the groups at the peak, the phases, the trend and the lifetimes. false on a write error. */
bool bh_report_write_html(const bh_report *r, FILE *out, size_t top);

/* Is this C site token the compiler's (parser, lexer, compiler, emitter)? */
bool bh_report_is_compiler_site(const char *site);
/* The phase an event is in. */
bh_report_phase_id bh_report_phase_of(const bh_report *r, size_t event);

/* `report` on a file of heap dumps instead of a trace (report_dumps.c): used, free and largest free
 * run over the dumps, their trend, and a verdict (steady / growing / fragmenting). Exit status. */
int bh_report_dump_series(const char *path, bool json);

#endif
