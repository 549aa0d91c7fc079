/* blockheap report: where the heap goes. What holds the blocks at the peak of live data (by Python
 * line, Python file, C site and size class), the program's phases, whether the main loop is steady
 * or growing, and how long each site's objects live. The analysis is tools/report.c. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "replay.h"
#include "report.h"
#include "util.h"

static const char report_help[] =
    "usage: blockheap report TRACE [--top N] [--points N] [--json] [-o REPORT.html]\n"
    "                        [--heap BYTES [replay options]]\n"
    "       blockheap report DUMPS [--json]\n"
    "\n"
    "DUMPS: a log of several micropython.mem_info(1) dumps (any file that is not a trace): used, free\n"
    "and largest free run over time, their trend, and a verdict: steady, growing (the lowest used\n"
    "figure of the second half of the log is above the first half's by 2%% of the heap or more) or\n"
    "fragmenting (the best largest free run fell that much with as much free).\n"
    "\n"
    "Where the heap of the traced program goes. TRACE is a heaptrace (plain or gzip, '-' for stdin).\n"
    "An object is live from its `a` to its `d` or `f`; it holds ceil(bytes / block) blocks.\n"
    "  1. at the peak of live data: the blocks held, grouped by Python line (pysite=), Python file,\n"
    "     C site (site=) and size class; the top N of each with blocks, share, bytes and objects\n"
    "     (every group's blocks add up to the peak exactly); without site fields, by size class only;\n"
    "  2. phases: start-up & compile (ends with the compiler's last allocation before the program's\n"
    "     first allocation with a Python line), imports & set-up, and the main loop (begins after the\n"
    "     compiler's last allocation and after the first allocation of the last Python file to\n"
    "     appear), the peak of each, and a timeline of live blocks;\n"
    "  3. steady or growing: the main loop is cut into 20 windows of equal allocations; the floor of\n"
    "     each (its lowest live blocks: what outlives the window's temporaries) gives the trend, in\n"
    "     blocks per 1000 allocations: least squares over all windows, and the median of the pairwise\n"
    "     slopes over the second half (robust to the program's own teardown at the end). Growing when,\n"
    "     over the second half, that slope and the highest floor both rise by at least 8 blocks and\n"
    "     2%% of the floor, at least 2 steps in 3 between windows do not go down, and no step falls by\n"
    "     as much (that is a program working in cycles: \"steady, in cycles\"); the groups whose\n"
    "     live blocks grew between the floors of the middle and the last window are listed (the one\n"
    "     before the last if the last drops by as much: the program's teardown);\n"
    "  4. lifetimes per C site and per Python line, in allocation events (allocations made between\n"
    "     an object's own and its death): p50, p90, max over the objects that died.\n"
    "\n"
    "  --top N             groups shown per table (default 10)\n"
    "  --points N          timeline points in the JSON (default 100)\n"
    "  --json              JSON instead of the text\n"
    "  -o FILE.html        also write the report as one self-contained HTML page (no network, no\n"
    "                      script): the live-blocks timeline stacked by the top Python lines (C sites\n"
    "                      without pysite=), the tables, the trend and the lifetimes\n"
    "  --heap BYTES        also replay the trace on the real library at this arena size; if it fails,\n"
    "                      the live objects just before the failing event are grouped as at the peak\n"
    "                      (the fullest moment of a completed replay needs the replay to report its\n"
    "                      collections; the peak of live data is its lower bound)\n"
    "%s"
    "\n"
    "Event numbers are 1-based (the trace's events, not counting header and comment lines).\n"
    "Exit status 0, or 1 if the --heap replay fails, 2 on bad input.\n"
    "\n"
    "JSON keys: trace, block_bytes, events, allocations, has_site, has_pysite, peak{blocks, bytes,\n"
    "max_bytes, objects, event, line, phase}, at_peak{event, line, blocks, bytes, objects, and for\n"
    "each of python_line, python_file, c_site, size_class: KEY_groups (how many) and KEY[] (the top N,\n"
    "each {name, blocks, share, bytes, objects})}, phases{compile_end_event, main_loop_start_event,\n"
    "last_compiler_event, last_new_file_event, list[{name, present, first_event, last_event,\n"
    "allocations, peak_blocks, peak_bytes, peak_event}]}, timeline[{first_event, last_event,\n"
    "allocations, live_min, live_max, live_end}], trend{judged, growing, cycles, verdict, allocations,\n"
    "slope_all_per_1000, slope_late_per_1000, growth_late_blocks, growth_from_event, growth_to_event,\n"
    "floors[{event, blocks}],\n"
    "growth{python_line[], python_file[], c_site[], size_class[] ({name, blocks, delta_blocks, bytes,\n"
    "objects})}}, lifetimes{c_site[], python_line[] ({name, allocations, died, live_at_end, p50, p90,\n"
    "max})}; with --heap: replay{heap_bytes, pool_blocks, policy, completed, collections, and on\n"
    "failure failed_event, failed_line, request_bytes, free_blocks, largest_free_blocks, failed_site,\n"
    "failed_pysite, at_failure{...as at_peak}}.\n";

typedef struct opts {
    const char *path;
    size_t top;
    size_t points;
    bool json;
    bool replay;
    const char *html;
} opts;

typedef struct replay_part {
    bool ran;
    bh_replay_result res;
    bool have_failure_snapshot;
    bh_report_snapshot at_failure;
    bool have_fullest_snapshot;
    bh_report_snapshot at_fullest;  /* a completed replay: where the heap held the most blocks */
    uint64_t fullest_blocks;
} replay_part;

/* The events during which the replay collected, found by watching the heap's collection count
 * after every event (the replay's observer). */
typedef struct collect_log {
    size_t *events, n, cap;
    size_t seen;
    bool oom;
} collect_log;

static void note_collections(void *ctx, const bh_heap *h, size_t event)
{
    collect_log *log = ctx;
    for (; log->seen < h->collections; log->seen++) {
        if (log->n == log->cap) {
            size_t cap = log->cap ? log->cap * 2 : 256;
            size_t *ne = realloc(log->events, cap * sizeof *ne);
            if (!ne) {
                log->oom = true;
                return;
            }
            log->events = ne;
            log->cap = cap;
        }
        if (log->n == 0 || log->events[log->n - 1] != event)
            log->events[log->n++] = event;
    }
}

/* ---- text */

static double share(uint64_t part, uint64_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0.0; }

static void print_groups_text(const bh_report_snapshot *s, bh_report_by by, size_t top)
{
    size_t n = s->ngroups[by];
    printf("  by %s (%zu group%s%s)\n", bh_report_by_title(by), n, n == 1 ? "" : "s", n > top ? ", top shown" : "");
    printf("      blocks   share      bytes  objects  %s\n", bh_report_by_title(by));
    uint64_t rest_blocks = 0, rest_bytes = 0, rest_objects = 0;
    for (size_t i = 0; i < n; i++) {
        const bh_report_group *g = &s->groups[by][i];
        if (i < top)
            printf("    %8llu  %5.1f%%  %9llu  %7llu  %s\n", (unsigned long long)g->blocks, share(g->blocks, s->blocks),
                   (unsigned long long)g->bytes, (unsigned long long)g->objects, g->name);
        else {
            rest_blocks += g->blocks;
            rest_bytes += g->bytes;
            rest_objects += g->objects;
        }
    }
    if (n > top)
        printf("    %8llu  %5.1f%%  %9llu  %7llu  (the other %zu)\n", (unsigned long long)rest_blocks,
               share(rest_blocks, s->blocks), (unsigned long long)rest_bytes, (unsigned long long)rest_objects,
               n - top);
}

static void print_snapshot_text(const bh_report *r, const bh_report_snapshot *s, size_t top)
{
    bool shown[BH_BY_COUNT] = {r->has_pysites, r->has_pysites, r->has_sites, true};
    if (r->has_pysites && s->ngroups[BH_BY_PYLINE] == 1 &&
        strcmp(s->groups[BH_BY_PYLINE][0].name, "(no Python line)") == 0) {
        printf("  by Python line: all of it was allocated with no Python line running (start-up, compiling)\n\n");
        shown[BH_BY_PYLINE] = shown[BH_BY_PYFILE] = false;
    }
    for (int k = 0; k < BH_BY_COUNT; k++)
        if (shown[k]) {
            print_groups_text(s, (bh_report_by)k, top);
            putchar('\n');
        }
    if (!r->has_sites && !r->has_pysites)
        printf("  (the trace has no site= or pysite= fields: by size class only)\n\n");
}

static void print_timeline_text(const bh_report *r)
{
    /* at most 20 rows: merge the timeline's points */
    size_t rows = r->npoints < 20 ? r->npoints : 20;
    if (!rows)
        return;
    uint64_t top = r->peak_blocks ? r->peak_blocks : 1;
    printf("Timeline of live blocks (each row a share of the events; # = highest, . = lowest in the row)\n");
    printf("      events                 allocations   lowest  highest\n");
    for (size_t row = 0; row < rows; row++) {
        size_t a = row * r->npoints / rows, b = (row + 1) * r->npoints / rows;
        uint64_t lo = UINT64_MAX, hi = 0, allocs = 0;
        size_t first = r->timeline[a].first_event, last = r->timeline[b - 1].last_event;
        for (size_t p = a; p < b; p++) {
            if (r->timeline[p].live_min < lo)
                lo = r->timeline[p].live_min;
            if (r->timeline[p].live_max > hi)
                hi = r->timeline[p].live_max;
            allocs = r->timeline[p].allocations;
        }
        char bar[41];
        size_t nlo = (size_t)(lo * 40 / top), nhi = (size_t)((hi * 40 + top - 1) / top);
        if (nhi > 40)
            nhi = 40;
        for (size_t c = 0; c < 40; c++)
            bar[c] = c < nlo ? '.' : c < nhi ? '#' : ' ';
        bar[40] = 0;
        bh_report_phase_id ph = bh_report_phase_of(r, first);
        printf("  %9zu-%-9zu  %11llu  %7llu  %7llu  |%s| %s\n", first + 1, last + 1, (unsigned long long)allocs,
               (unsigned long long)lo, (unsigned long long)hi, bar,
               bh_report_phase_of(r, last) != ph ? "(phase changes)" : r->phases[ph].name);
    }
    putchar('\n');
}

static void print_growth_text(const bh_report_trend *tr, bh_report_by by, size_t top)
{
    size_t shown = 0;
    for (size_t i = 0; i < tr->ngrowth[by] && shown < top; i++)
        if (tr->growth[by][i].delta_blocks > 0) {
            if (!shown)
                printf("  grew, by %s:  blocks (from -> to)\n", bh_report_by_title(by));
            const bh_report_group *g = &tr->growth[by][i];
            printf("    %+8lld  (%llu -> %llu)  %s\n", (long long)g->delta_blocks,
                   (unsigned long long)((int64_t)g->blocks - g->delta_blocks), (unsigned long long)g->blocks, g->name);
            shown++;
        }
}

static void print_lifetimes_text(const bh_report *r, int which, size_t top)
{
    size_t n = r->nlife[which];
    printf("Lifetimes by %s, in allocation events (top %zu of %zu by allocations)\n",
           which == 0 ? "C site" : "Python line", n < top ? n : top, n);
    printf("      allocs      died  live@end       p50       p90       max  %s\n",
           which == 0 ? "C site" : "Python line");
    for (size_t i = 0; i < n && i < top; i++) {
        const bh_report_lifetime *L = &r->life[which][i];
        printf("  %8llu  %8llu  %8llu  ", (unsigned long long)L->allocations, (unsigned long long)L->died,
               (unsigned long long)L->live_at_end);
        if (L->died)
            printf("%8llu  %8llu  %8llu", (unsigned long long)L->p50, (unsigned long long)L->p90,
                   (unsigned long long)L->max);
        else
            printf("%8s  %8s  %8s", "-", "-", "-");
        printf("  %s\n", L->name);
    }
    putchar('\n');
}

static void print_text(const bh_report *r, const opts *o, const replay_part *rp, const bh_replay_config *cfg)
{
    const bh_trace *t = r->trace;
    char b1[32];
    printf("blockheap report: %s\n", t->name);
    printf("trace       %zu events (%zu a, %zu f, %zu r, %zu d, %zu c), block %zu bytes; %s\n", t->nevents,
           t->counts[BH_EV_ALLOC], t->counts[BH_EV_FREE], t->counts[BH_EV_REALLOC], t->counts[BH_EV_DEAD],
           t->counts[BH_EV_COLLECT], r->block_bytes,
           r->has_sites && r->has_pysites ? "with C sites and Python lines"
           : r->has_sites                 ? "with C sites, no Python lines"
           : r->has_pysites               ? "with Python lines, no C sites"
                                          : "no site fields");
    if (!t->nevents) {
        printf("peak live   0 blocks: the trace has no events\n");
        return;
    }
    printf("peak live   %llu blocks (%s), %llu bytes requested, %llu objects: first at event %zu (line %lu), in "
           "the %s\n",
           (unsigned long long)r->peak_blocks, bh_fmt_bytes(b1, sizeof b1, r->peak_blocks * r->block_bytes),
           (unsigned long long)r->at_peak.bytes, (unsigned long long)r->at_peak.objects, r->peak_event + 1,
           t->nevents ? bh_trace_line(t, r->peak_event) : 0UL, r->phases[bh_report_phase_of(r, r->peak_event)].name);
    printf("verdict     %s\n", r->trend.verdict);
    if (rp->ran) {
        const bh_replay_result *res = &rp->res;
        printf("replay      heap %zu bytes (pool %zu blocks), policy %s%s: ", res->heap_bytes, res->pool_blocks,
               bh_policy_to_name(cfg->policy), cfg->oracle_long ? " with oracle hints" : "");
        if (res->completed)
            printf("completed, %zu collections\n", res->collections);
        else
            printf("FAILED at event %zu (line %lu): %s of %zu bytes, %zu blocks free, largest free run %zu\n",
                   res->failed_event + 1, res->failed_line,
                   res->failed_kind == BH_EV_REALLOC ? "growing realloc" : "allocation", res->failure.request_bytes,
                   res->failure.free_blocks, res->failure.largest_free_blocks);
    }
    putchar('\n');

    printf("At the peak of live data (after event %zu): %llu blocks held by %llu objects\n", r->peak_event + 1,
           (unsigned long long)r->at_peak.blocks, (unsigned long long)r->at_peak.objects);
    print_snapshot_text(r, &r->at_peak, o->top);

    if (rp->have_failure_snapshot) {
        printf("At the replay's failure (before event %zu): %llu blocks live, held by %llu objects\n",
               rp->res.failed_event + 1, (unsigned long long)rp->at_failure.blocks,
               (unsigned long long)rp->at_failure.objects);
        if (rp->res.failed_obj < r->trace->nobjects && (r->has_sites || r->has_pysites))
            printf("  the failing request: %zu bytes at %s (C site %s)\n\n", rp->res.failure.request_bytes,
                   bh_intern_name(&r->trace->pysites, r->trace->pysite[rp->res.failed_obj])[0]
                       ? bh_intern_name(&r->trace->pysites, r->trace->pysite[rp->res.failed_obj])
                       : "(no Python line)",
                   bh_intern_name(&r->trace->sites, r->trace->site[rp->res.failed_obj])[0]
                       ? bh_intern_name(&r->trace->sites, r->trace->site[rp->res.failed_obj])
                       : "(none)");
        print_snapshot_text(r, &rp->at_failure, o->top);
    } else if (rp->have_fullest_snapshot) {
        printf("At the replay's fullest moment (after event %zu): %llu blocks held, live or dead but not yet\n"
               "collected, by %llu objects\n",
               rp->at_fullest.event + 1, (unsigned long long)rp->fullest_blocks,
               (unsigned long long)rp->at_fullest.objects);
        print_snapshot_text(r, &rp->at_fullest, o->top);
    }

    printf("Phases\n");
    for (int p = 0; p < BH_PHASE_COUNT; p++) {
        const bh_report_phase *ph = &r->phases[p];
        if (!ph->present) {
            printf("  %-19s (none)\n", ph->name);
            continue;
        }
        printf("  %-19s events %zu-%zu, %llu allocations, peak %llu blocks at event %zu\n", ph->name,
               ph->first_event + 1, ph->last_event + 1, (unsigned long long)ph->allocations,
               (unsigned long long)ph->peak_blocks, ph->peak_event + 1);
    }
    if (r->compile_end_found)
        printf("  compiling the program ends at event %zu: the compiler's last allocation before the first\n"
               "  allocation %s\n",
               r->compile_end_event + 1, r->has_pysites ? "with a Python line" : "by the bytecode interpreter");
    else if (r->has_sites)
        printf("  no compiler allocation before the program starts: no start-up phase found\n");
    if (!r->has_sites && !r->has_pysites)
        printf("  the trace has no site fields, so no phase can be told apart: the whole trace is taken as the\n"
               "  main loop\n\n");
    else {
        printf("  the main loop begins at event %zu: after the compiler's last allocation", r->main_start_event + 1);
        if (r->have_compiler)
            printf(" (event %zu)", r->last_compiler_event + 1);
        else
            printf(" (none)");
        printf("\n  and the first allocation of the last Python file to appear");
        if (r->have_new_file)
            printf(" (event %zu)\n\n", r->last_new_file_event + 1);
        else
            printf(" (no Python lines)\n\n");
    }
    print_timeline_text(r);

    const bh_report_trend *tr = &r->trend;
    printf("Steady state or leak (main loop)\n");
    if (tr->judged) {
        printf("  floor of live blocks in each twentieth of the main loop's %llu allocations:\n   ",
               (unsigned long long)tr->allocations);
        for (size_t k = 0; k < tr->nwindows; k++)
            printf(" %llu", (unsigned long long)tr->floor[k]);
        printf("\n  trend: %+.2f blocks per 1000 allocations over the whole loop, %+.2f over its second half\n",
               tr->slope_all, tr->slope_late);
        size_t e = tr->growth_end_window, h = tr->nwindows / 2;
        printf("  floor at event %zu: %llu blocks; at event %zu: %llu blocks (%+lld)%s\n", tr->floor_event[h] + 1,
               (unsigned long long)tr->floor[h], tr->floor_event[e] + 1, (unsigned long long)tr->floor[e],
               (long long)tr->floor[e] - (long long)tr->floor[h],
               e + 1 < tr->nwindows ? "; the last window (the program's teardown) left out" : "");
        if (tr->growing && r->has_pysites)
            print_growth_text(tr, BH_BY_PYLINE, o->top < 5 ? o->top : 5);
        if (tr->growing && r->has_sites)
            print_growth_text(tr, BH_BY_SITE, o->top < 5 ? o->top : 5);
        if (tr->growing)
            print_growth_text(tr, BH_BY_SIZE, o->top < 5 ? o->top : 5);
    }
    printf("  verdict: %s\n\n", tr->verdict);

    if (r->has_sites)
        print_lifetimes_text(r, 0, o->top);
    if (r->has_pysites)
        print_lifetimes_text(r, 1, o->top);
}

/* ---- JSON */

static void json_groups(bh_json *j, const char *key, const bh_report_group *g, size_t n, uint64_t total, size_t top,
                        bool delta)
{
    bh_json_key(j, key);
    bh_json_begin_array(j);
    for (size_t i = 0; i < n && i < top; i++) {
        bh_json_begin_object(j);
        bh_json_kv_string(j, "name", g[i].name);
        bh_json_kv_u64(j, "blocks", g[i].blocks);
        if (delta) {
            bh_json_key(j, "delta_blocks");
            bh_json_i64(j, g[i].delta_blocks);
        } else
            bh_json_kv_double(j, "share", share(g[i].blocks, total) / 100.0);
        bh_json_kv_u64(j, "bytes", g[i].bytes);
        bh_json_kv_u64(j, "objects", g[i].objects);
        bh_json_end_object(j);
    }
    bh_json_end_array(j);
}

static void json_snapshot(bh_json *j, const char *key, const bh_trace *t, const bh_report_snapshot *s, size_t top)
{
    bh_json_key(j, key);
    bh_json_begin_object(j);
    if (s->event != SIZE_MAX) {
        bh_json_kv_u64(j, "event", s->event + 1);
        bh_json_kv_u64(j, "line", bh_trace_line(t, s->event));
    }
    bh_json_kv_u64(j, "blocks", s->blocks);
    bh_json_kv_u64(j, "bytes", s->bytes);
    bh_json_kv_u64(j, "objects", s->objects);
    for (int k = 0; k < BH_BY_COUNT; k++) {
        char gk[32];
        snprintf(gk, sizeof gk, "%s_groups", bh_report_by_key((bh_report_by)k));
        bh_json_kv_u64(j, gk, s->ngroups[k]);
        json_groups(j, bh_report_by_key((bh_report_by)k), s->groups[k], s->ngroups[k], s->blocks, top, false);
    }
    bh_json_end_object(j);
}

static void print_json(const bh_report *r, const opts *o, const replay_part *rp, const bh_replay_config *cfg)
{
    const bh_trace *t = r->trace;
    bh_json j;
    bh_json_init(&j, stdout);
    bh_json_begin_object(&j);
    bh_json_kv_string(&j, "trace", t->name);
    bh_json_kv_u64(&j, "block_bytes", r->block_bytes);
    bh_json_kv_u64(&j, "events", t->nevents);
    bh_json_kv_u64(&j, "allocations", r->allocations);
    bh_json_kv_bool(&j, "has_site", r->has_sites);
    bh_json_kv_bool(&j, "has_pysite", r->has_pysites);

    bh_json_key(&j, "peak");
    bh_json_begin_object(&j);
    bh_json_kv_u64(&j, "blocks", r->peak_blocks);
    bh_json_kv_u64(&j, "bytes", r->at_peak.bytes);
    bh_json_kv_u64(&j, "max_bytes", r->peak_bytes);
    bh_json_kv_u64(&j, "objects", r->at_peak.objects);
    bh_json_kv_u64(&j, "event", t->nevents ? r->peak_event + 1 : 0);
    bh_json_kv_u64(&j, "line", t->nevents ? bh_trace_line(t, r->peak_event) : 0);
    bh_json_kv_string(&j, "phase", r->phases[bh_report_phase_of(r, r->peak_event)].name);
    bh_json_end_object(&j);
    json_snapshot(&j, "at_peak", t, &r->at_peak, o->top);

    bh_json_key(&j, "phases");
    bh_json_begin_object(&j);
    bh_json_key(&j, "compile_end_event");
    if (r->compile_end_found)
        bh_json_u64(&j, r->compile_end_event + 1);
    else
        bh_json_null(&j);
    bh_json_kv_u64(&j, "main_loop_start_event", r->main_start_event + 1);
    bh_json_key(&j, "last_compiler_event");
    if (r->have_compiler)
        bh_json_u64(&j, r->last_compiler_event + 1);
    else
        bh_json_null(&j);
    bh_json_key(&j, "last_new_file_event");
    if (r->have_new_file)
        bh_json_u64(&j, r->last_new_file_event + 1);
    else
        bh_json_null(&j);
    bh_json_key(&j, "list");
    bh_json_begin_array(&j);
    for (int p = 0; p < BH_PHASE_COUNT; p++) {
        const bh_report_phase *ph = &r->phases[p];
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "name", ph->name);
        bh_json_kv_bool(&j, "present", ph->present);
        if (ph->present) {
            bh_json_kv_u64(&j, "first_event", ph->first_event + 1);
            bh_json_kv_u64(&j, "last_event", ph->last_event + 1);
            bh_json_kv_u64(&j, "allocations", ph->allocations);
            bh_json_kv_u64(&j, "peak_blocks", ph->peak_blocks);
            bh_json_kv_u64(&j, "peak_bytes", ph->peak_bytes);
            bh_json_kv_u64(&j, "peak_event", ph->peak_event + 1);
        }
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_end_object(&j);

    bh_json_key(&j, "timeline");
    bh_json_begin_array(&j);
    for (size_t p = 0; p < r->npoints; p++) {
        const bh_report_point *pt = &r->timeline[p];
        bh_json_begin_object(&j);
        bh_json_kv_u64(&j, "first_event", pt->first_event + 1);
        bh_json_kv_u64(&j, "last_event", pt->last_event + 1);
        bh_json_kv_u64(&j, "allocations", pt->allocations);
        bh_json_kv_u64(&j, "live_min", pt->live_min);
        bh_json_kv_u64(&j, "live_max", pt->live_max);
        bh_json_kv_u64(&j, "live_end", pt->live_end);
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);

    const bh_report_trend *tr = &r->trend;
    bh_json_key(&j, "trend");
    bh_json_begin_object(&j);
    bh_json_kv_bool(&j, "judged", tr->judged);
    bh_json_kv_bool(&j, "growing", tr->growing);
    bh_json_kv_bool(&j, "cycles", tr->cycles);
    bh_json_kv_string(&j, "verdict", tr->verdict);
    if (tr->judged) {
        bh_json_kv_u64(&j, "allocations", tr->allocations);
        bh_json_kv_double(&j, "slope_all_per_1000", tr->slope_all);
        bh_json_kv_double(&j, "slope_late_per_1000", tr->slope_late);
        bh_json_key(&j, "growth_late_blocks");
        bh_json_i64(&j, tr->growth_late);
        bh_json_kv_u64(&j, "growth_from_event", tr->floor_event[tr->nwindows / 2] + 1);
        bh_json_kv_u64(&j, "growth_to_event", tr->floor_event[tr->growth_end_window] + 1);
        bh_json_key(&j, "floors");
        bh_json_begin_array(&j);
        for (size_t k = 0; k < tr->nwindows; k++) {
            bh_json_begin_object(&j);
            bh_json_kv_u64(&j, "event", tr->floor_event[k] + 1);
            bh_json_kv_u64(&j, "blocks", tr->floor[k]);
            bh_json_end_object(&j);
        }
        bh_json_end_array(&j);
        bh_json_key(&j, "growth");
        bh_json_begin_object(&j);
        for (int k = 0; k < BH_BY_COUNT; k++)
            json_groups(&j, bh_report_by_key((bh_report_by)k), tr->growth[k], tr->ngrowth[k], 0, o->top, true);
        bh_json_end_object(&j);
    }
    bh_json_end_object(&j);

    bh_json_key(&j, "lifetimes");
    bh_json_begin_object(&j);
    for (int w = 0; w < 2; w++) {
        bh_json_key(&j, w == 0 ? "c_site" : "python_line");
        bh_json_begin_array(&j);
        for (size_t i = 0; i < r->nlife[w] && i < o->top; i++) {
            const bh_report_lifetime *L = &r->life[w][i];
            bh_json_begin_object(&j);
            bh_json_kv_string(&j, "name", L->name);
            bh_json_kv_u64(&j, "allocations", L->allocations);
            bh_json_kv_u64(&j, "died", L->died);
            bh_json_kv_u64(&j, "live_at_end", L->live_at_end);
            bh_json_kv_u64(&j, "p50", L->p50);
            bh_json_kv_u64(&j, "p90", L->p90);
            bh_json_kv_u64(&j, "max", L->max);
            bh_json_end_object(&j);
        }
        bh_json_end_array(&j);
    }
    bh_json_end_object(&j);

    if (rp->ran) {
        const bh_replay_result *res = &rp->res;
        bh_json_key(&j, "replay");
        bh_json_begin_object(&j);
        bh_json_kv_u64(&j, "heap_bytes", res->heap_bytes);
        bh_json_kv_u64(&j, "pool_blocks", res->pool_blocks);
        bh_json_kv_string(&j, "policy", bh_policy_to_name(cfg->policy));
        bh_json_kv_bool(&j, "completed", res->completed);
        bh_json_kv_u64(&j, "collections", res->collections);
        if (!res->completed) {
            bh_json_kv_u64(&j, "failed_event", res->failed_event + 1);
            bh_json_kv_u64(&j, "failed_line", res->failed_line);
            bh_json_kv_u64(&j, "request_bytes", res->failure.request_bytes);
            bh_json_kv_u64(&j, "free_blocks", res->failure.free_blocks);
            bh_json_kv_u64(&j, "largest_free_blocks", res->failure.largest_free_blocks);
            if (res->failed_obj < t->nobjects) {
                bh_json_kv_string(&j, "failed_site", bh_intern_name(&t->sites, t->site[res->failed_obj]));
                bh_json_kv_string(&j, "failed_pysite", bh_intern_name(&t->pysites, t->pysite[res->failed_obj]));
            }
            if (rp->have_failure_snapshot)
                json_snapshot(&j, "at_failure", t, &rp->at_failure, o->top);
            if (rp->have_fullest_snapshot) {
                bh_json_kv_u64(&j, "fullest_blocks", rp->fullest_blocks);
                json_snapshot(&j, "at_fullest", t, &rp->at_fullest, o->top);
            }
        }
        bh_json_end_object(&j);
    }
    bh_json_end_object(&j);
    fputc('\n', stdout);
}

/* ---- main */

int bh_cmd_report(int argc, char **argv)
{
    opts o = {.top = 10, .points = 100};
    bh_replay_cli rc;
    bh_replay_cli_init(&rc, false);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf(report_help, bh_replay_common_help);
            return BH_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (strcmp(a, "--top") == 0 || strcmp(a, "--points") == 0) {
            if (i + 1 >= argc || !bh_parse_u64(argv[i + 1], strlen(argv[i + 1]), &v) || v < 1 || v > 100000) {
                fprintf(stderr, "blockheap report: %s needs a number from 1 to 100000\n", a);
                return BH_EXIT_BADINPUT;
            }
            i++;
            if (a[2] == 't')
                o.top = (size_t)v;
            else
                o.points = (size_t)v;
        } else if (strcmp(a, "--heap") == 0) {
            if (i + 1 >= argc || !bh_parse_size(argv[i + 1], &v) || v == 0 || v > SIZE_MAX / 2) {
                fprintf(stderr, "blockheap report: --heap needs a size in bytes (K and M suffixes allowed)\n");
                return BH_EXIT_BADINPUT;
            }
            i++;
            rc.cfg.heap_bytes = (size_t)v;
            o.replay = true;
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "blockheap report: -o needs a file name\n");
                return BH_EXIT_BADINPUT;
            }
            o.html = argv[++i];
        } else if (a[0] == '-' && a[1] != 0) {
            int got = bh_replay_cli_option(&rc, argc, argv, &i);
            if (got < 0)
                return BH_EXIT_BADINPUT;
            if (got == 0) {
                fprintf(stderr, "blockheap report: unknown option '%s' (see --help)\n", a);
                return BH_EXIT_BADINPUT;
            }
        } else if (!o.path) {
            o.path = a;
        } else {
            fprintf(stderr, "blockheap report: one trace only ('%s' is extra)\n", a);
            return BH_EXIT_BADINPUT;
        }
    }
    if (!o.path) {
        fprintf(stderr, "blockheap report: no trace given\n");
        fprintf(stderr, report_help, bh_replay_common_help);
        return BH_EXIT_BADINPUT;
    }

    int sniff = bh_trace_sniff(o.path);
    if (sniff < 0)
        return BH_EXIT_BADINPUT;
    if (sniff == 0) /* not a trace: a log of heap dumps */
        return bh_report_dump_series(o.path, o.json);

    bh_trace t;
    if (!bh_replay_load(&t, o.path, bh_stderr_is_tty())) {
        bh_trace_free(&t);
        return BH_EXIT_BADINPUT;
    }
    int status = BH_EXIT_OK;
    replay_part rp;
    memset(&rp, 0, sizeof rp);
    bh_report r;
    if (!bh_report_build(&r, &t, rc.cfg.block_bytes, o.points)) {
        fprintf(stderr, "blockheap report: out of memory\n");
        bh_report_free(&r);
        bh_trace_free(&t);
        return BH_EXIT_FAIL;
    }
    if (o.replay) {
        if (!bh_replay_cli_prepare(&rc, &t)) {
            fprintf(stderr, "blockheap report: out of memory\n");
            status = BH_EXIT_FAIL;
            goto done;
        }
        bh_replayer player;
        bh_replayer_init(&player);
        collect_log log = {0};
        rc.cfg.observe = note_collections;
        rc.cfg.observe_ctx = &log;
        rp.ran = bh_replay(&player, &t, &rc.cfg, &rp.res);
        bh_replayer_free(&player);
        if (rp.ran && rp.res.completed && !log.oom) {
            rp.have_fullest_snapshot =
                bh_report_fullest(&r, log.events, log.n, SIZE_MAX, &rp.at_fullest, &rp.fullest_blocks);
        }
        free(log.events);
        if (!rp.ran) {
            fprintf(stderr, "blockheap report: heap of %zu bytes: %s\n", rc.cfg.heap_bytes,
                    rp.res.error ? rp.res.error : "cannot run");
            status = BH_EXIT_BADINPUT;
            goto done;
        }
        if (!rp.res.completed) {
            status = BH_EXIT_FAIL;
            /* the live set just before the failing event */
            size_t before = rp.res.failed_event ? rp.res.failed_event - 1 : SIZE_MAX;
            if (!bh_report_snapshot_at(&r, before, &rp.at_failure)) {
                fprintf(stderr, "blockheap report: out of memory\n");
                goto done;
            }
            rp.have_failure_snapshot = true;
        }
    }
    if (o.html) {
        FILE *f = fopen(o.html, "w");
        bool written = f && bh_report_write_html(&r, f, o.top);
        if (f && fclose(f) != 0)
            written = false;
        if (!written) {
            fprintf(stderr, "blockheap report: cannot write %s\n", o.html);
            status = BH_EXIT_FAIL;
            goto done;
        }
    }
    if (o.json)
        print_json(&r, &o, &rp, &rc.cfg);
    else
        print_text(&r, &o, &rp, &rc.cfg);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "blockheap report: cannot write the output\n");
        status = BH_EXIT_FAIL;
    }
done:
    if (rp.have_failure_snapshot)
        bh_report_snapshot_free(&rp.at_failure);
    if (rp.have_fullest_snapshot)
        bh_report_snapshot_free(&rp.at_fullest);
    bh_replay_cli_free(&rc);
    bh_report_free(&r);
    bh_trace_free(&t);
    return status;
}
