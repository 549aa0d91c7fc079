/* The analysis behind `blockheap report` (see report.h). */
#include "report.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCLASSES 33 /* size classes: 1, 2, 3-4, 5-8, ... blocks (a 32-bit BYTES fits) */

static const char *const by_titles[BH_BY_COUNT] = {"Python line", "Python file", "C site", "size class"};
static const char *const by_keys[BH_BY_COUNT] = {"python_line", "python_file", "c_site", "size_class"};

const char *bh_report_by_title(bh_report_by by) { return by < BH_BY_COUNT ? by_titles[by] : "?"; }
const char *bh_report_by_key(bh_report_by by) { return by < BH_BY_COUNT ? by_keys[by] : "?"; }

/* ---- compiler sites */

static bool element_is_compiler(const char *s, size_t n)
{
    static const char *const exact[] = {"mp_parse",     "mp_compile", "mp_compile_to_raw_code",
                                        "parser_alloc", "scope_new",  "scope_new_and_link"};
    static const char *const prefix[] = {"compile_",        "mp_lexer_",       "push_result_",   "mp_emit_bc_",
                                         "mp_emit_common_", "mp_emit_native_", "mp_emit_inline_"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strlen(exact[i]) == n && memcmp(exact[i], s, n) == 0)
            return true;
    for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++) {
        size_t m = strlen(prefix[i]);
        if (n >= m && memcmp(prefix[i], s, m) == 0)
            return true;
    }
    return false;
}

bool bh_report_is_compiler_site(const char *site)
{
    if (!site)
        return false;
    const char *p = site;
    while (*p) {
        const char *e = strchr(p, '<');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (element_is_compiler(p, n))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

/* Does the chain run bytecode (used for the start of the program when there is no pysite=)? */
static bool site_runs_bytecode(const char *site)
{
    return site && (strstr(site, "mp_execute_bytecode") || strstr(site, "fun_bc_call"));
}

/* ---- size classes */

static unsigned size_class(uint64_t blocks)
{
    unsigned c = 0;
    while (c + 1 < NCLASSES && ((uint64_t)1 << c) < blocks)
        c++;
    return c; /* 1 -> 0, 2 -> 1, 3..4 -> 2, 5..8 -> 3, ... */
}

static uint64_t blocks_of(uint64_t bytes, size_t bb) { return (bytes + bb - 1) / bb; }

/* ---- the walker: the live set, event by event, with optional per-group totals */

typedef struct gtotal {
    uint64_t blocks, bytes, objects;
} gtotal;

typedef struct walker {
    const bh_trace *t;
    const bh_report *r;
    size_t bb;
    uint32_t *size; /* current bytes per object */
    uint8_t *alive; /* allocated and not yet d/f */
    uint64_t blocks, bytes, objects, allocs;
    size_t next; /* the next event to run */
    bool grouped;
    gtotal *g[BH_BY_COUNT];
    size_t ng[BH_BY_COUNT];
    /* "used" mode: a dead object keeps its blocks until the next collection (f frees at once) */
    bool used;
    uint32_t *pending;
    size_t npending, pending_cap;
} walker;

static void walker_free(walker *w)
{
    free(w->size);
    free(w->alive);
    for (int k = 0; k < BH_BY_COUNT; k++)
        free(w->g[k]);
    free(w->pending);
    memset(w, 0, sizeof *w);
}

static bool walker_init(walker *w, const bh_report *r, bool grouped)
{
    memset(w, 0, sizeof *w);
    w->t = r->trace;
    w->r = r;
    w->bb = r->block_bytes;
    size_t n = w->t->nobjects ? w->t->nobjects : 1;
    w->size = calloc(n, sizeof *w->size);
    w->alive = calloc(n, 1);
    if (!w->size || !w->alive) {
        walker_free(w);
        return false;
    }
    if (grouped) {
        w->grouped = true;
        w->ng[BH_BY_PYLINE] = (size_t)w->t->pysites.count + 1;
        w->ng[BH_BY_PYFILE] = (size_t)r->files.count + 1;
        w->ng[BH_BY_SITE] = (size_t)w->t->sites.count + 1;
        w->ng[BH_BY_SIZE] = NCLASSES;
        for (int k = 0; k < BH_BY_COUNT; k++)
            if (!(w->g[k] = calloc(w->ng[k], sizeof *w->g[k]))) {
                walker_free(w);
                return false;
            }
    }
    return true;
}

static size_t group_of(const walker *w, bh_report_by by, uint32_t obj)
{
    switch (by) {
    case BH_BY_PYLINE: return w->t->pysite[obj];
    case BH_BY_PYFILE: return w->r->file_of_pysite[w->t->pysite[obj]];
    case BH_BY_SITE: return w->t->site[obj];
    case BH_BY_SIZE: return size_class(blocks_of(w->size[obj], w->bb));
    default: return 0;
    }
}

/* Adds (sign > 0) or removes the contribution of a live object of nonzero size. */
static void contribute(walker *w, uint32_t obj, int sign)
{
    uint64_t bytes = w->size[obj];
    if (!bytes)
        return;
    uint64_t blocks = blocks_of(bytes, w->bb);
    if (sign > 0) {
        w->blocks += blocks;
        w->bytes += bytes;
        w->objects++;
    } else {
        w->blocks -= blocks;
        w->bytes -= bytes;
        w->objects--;
    }
    if (!w->grouped)
        return;
    for (int k = 0; k < BH_BY_COUNT; k++) {
        gtotal *g = &w->g[k][group_of(w, (bh_report_by)k, obj)];
        if (sign > 0) {
            g->blocks += blocks;
            g->bytes += bytes;
            g->objects++;
        } else {
            g->blocks -= blocks;
            g->bytes -= bytes;
            g->objects--;
        }
    }
}

/* Runs the next event; returns its kind. */
static bh_trace_kind walker_step(walker *w)
{
    bh_trace_packed e = w->t->events[w->next++];
    uint32_t obj = bh_packed_obj(e);
    bh_trace_kind k = bh_packed_kind(e);
    switch (k) {
    case BH_EV_ALLOC:
        w->allocs++;
        w->size[obj] = e.bytes;
        w->alive[obj] = 1;
        contribute(w, obj, +1);
        break;
    case BH_EV_REALLOC:
        if (w->alive[obj])
            contribute(w, obj, -1);
        w->size[obj] = e.bytes;
        if (w->alive[obj])
            contribute(w, obj, +1);
        break;
    case BH_EV_DEAD:
        if (w->used && w->alive[obj] && w->size[obj]) {
            /* it holds its blocks until a collection; the list has room (see walker_collect's caller) */
            w->pending[w->npending++] = obj;
            w->alive[obj] = 0;
            break;
        }
        /* fall through */
    case BH_EV_FREE:
        if (w->alive[obj])
            contribute(w, obj, -1);
        w->alive[obj] = 0;
        break;
    case BH_EV_COLLECT: break;
    }
    return k;
}

static bool take_snapshot(const walker *w, bh_report_snapshot *s);

/* used mode: a collection reclaims every dead object */
static void walker_collect(walker *w)
{
    for (size_t i = 0; i < w->npending; i++)
        contribute(w, w->pending[i], -1);
    w->npending = 0;
}

static bool walker_init_used(walker *w, const bh_report *r, bool grouped)
{
    if (!walker_init(w, r, grouped))
        return false;
    w->used = true;
    /* every object dies at most once: room for all of them */
    w->pending = malloc((r->trace->nobjects ? r->trace->nobjects : 1) * sizeof *w->pending);
    if (!w->pending) {
        walker_free(w);
        return false;
    }
    return true;
}

/* Runs event w->next in used mode, after the collections the replay made while running it. */
static void walker_step_used(walker *w, const size_t *collect_events, size_t ncollect, size_t *ci)
{
    bool collect = false;
    while (*ci < ncollect && collect_events[*ci] == w->next) {
        collect = true;
        ++*ci;
    }
    if (collect)
        walker_collect(w);
    walker_step(w);
}

bool bh_report_fullest(const bh_report *r, const size_t *collect_events, size_t ncollect, size_t last_event,
                       bh_report_snapshot *s, uint64_t *peak_used)
{
    const bh_trace *t = r->trace;
    memset(s, 0, sizeof *s);
    *peak_used = 0;
    for (size_t i = 1; i < ncollect; i++)
        if (collect_events[i] < collect_events[i - 1])
            return false;
    size_t end = t->nevents ? (last_event < t->nevents ? last_event : t->nevents - 1) : 0;
    walker w;
    if (!walker_init_used(&w, r, false))
        return false;
    size_t ci = 0, at = SIZE_MAX;
    uint64_t top = 0;
    bool any = false;
    while (t->nevents && w.next <= end) {
        size_t i = w.next;
        walker_step_used(&w, collect_events, ncollect, &ci);
        if (!any || w.blocks > top) {
            top = w.blocks;
            at = i;
            any = true;
        }
    }
    walker_free(&w);
    if (!walker_init_used(&w, r, true))
        return false;
    ci = 0;
    if (at != SIZE_MAX)
        while (w.next <= at)
            walker_step_used(&w, collect_events, ncollect, &ci);
    bool ok = take_snapshot(&w, s);
    walker_free(&w);
    *peak_used = top;
    return ok;
}

/* ---- snapshots */

static const char *group_name(const bh_report *r, bh_report_by by, size_t id)
{
    switch (by) {
    case BH_BY_PYLINE: return id ? bh_intern_name(&r->trace->pysites, (uint32_t)id) : "(no Python line)";
    case BH_BY_PYFILE: return id ? bh_intern_name(&r->files, (uint32_t)id) : "(no Python line)";
    case BH_BY_SITE: return id ? bh_intern_name(&r->trace->sites, (uint32_t)id) : "(no C site)";
    case BH_BY_SIZE: return id < r->nclasses ? r->class_names[id] : "?";
    default: return "?";
    }
}

static int cmp_group(const void *pa, const void *pb)
{
    const bh_report_group *a = pa, *b = pb;
    if (a->blocks != b->blocks)
        return a->blocks > b->blocks ? -1 : 1;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    if (a->objects != b->objects)
        return a->objects > b->objects ? -1 : 1;
    return strcmp(a->name, b->name);
}

static bool take_snapshot(const walker *w, bh_report_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->event = w->next ? w->next - 1 : SIZE_MAX;
    s->blocks = w->blocks;
    s->bytes = w->bytes;
    s->objects = w->objects;
    for (int k = 0; k < BH_BY_COUNT; k++) {
        size_t n = 0;
        for (size_t i = 0; i < w->ng[k]; i++)
            n += w->g[k][i].objects != 0;
        s->groups[k] = calloc(n ? n : 1, sizeof *s->groups[k]);
        if (!s->groups[k]) {
            bh_report_snapshot_free(s);
            return false;
        }
        for (size_t i = 0; i < w->ng[k]; i++)
            if (w->g[k][i].objects) {
                bh_report_group *g = &s->groups[k][s->ngroups[k]++];
                g->name = group_name(w->r, (bh_report_by)k, i);
                g->blocks = w->g[k][i].blocks;
                g->bytes = w->g[k][i].bytes;
                g->objects = w->g[k][i].objects;
            }
        qsort(s->groups[k], s->ngroups[k], sizeof *s->groups[k], cmp_group);
    }
    return true;
}

void bh_report_snapshot_free(bh_report_snapshot *s)
{
    for (int k = 0; k < BH_BY_COUNT; k++)
        free(s->groups[k]);
    memset(s, 0, sizeof *s);
}

bool bh_report_snapshot_at(const bh_report *r, size_t event, bh_report_snapshot *s)
{
    walker w;
    memset(s, 0, sizeof *s);
    if (!walker_init(&w, r, true))
        return false;
    if (event != SIZE_MAX)
        while (w.next <= event && w.next < r->trace->nevents)
            walker_step(&w);
    bool ok = take_snapshot(&w, s);
    walker_free(&w);
    return ok;
}

/* ---- the stacked timeline */

typedef struct id_blocks {
    size_t id;
    uint64_t blocks;
} id_blocks;

static int cmp_id_blocks(const void *pa, const void *pb)
{
    const id_blocks *a = pa, *b = pb;
    if (a->blocks != b->blocks)
        return a->blocks > b->blocks ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

bool bh_report_stack(const bh_report *r, bh_report_by by, size_t *k, const char ***names, uint64_t **values)
{
    *names = NULL;
    *values = NULL;
    walker w;
    id_blocks *top = NULL;
    size_t n = 0, kk = 0;
    /* pass 1: each group's area (blocks summed over the points' ends) */
    if (!walker_init(&w, r, true))
        return false;
    top = calloc(w.ng[by] ? w.ng[by] : 1, sizeof *top);
    if (!top)
        goto fail;
    for (size_t i = 0; i < w.ng[by]; i++)
        top[i].id = i;
    for (size_t p = 0; p < r->npoints; p++) {
        while (w.next <= r->timeline[p].last_event)
            walker_step(&w);
        for (size_t i = 0; i < w.ng[by]; i++)
            top[i].blocks += w.g[by][i].blocks;
    }
    for (size_t i = 0; i < w.ng[by]; i++)
        if (top[i].blocks)
            top[n++] = top[i];
    qsort(top, n, sizeof *top, cmp_id_blocks);
    if (*k > n)
        *k = n;
    kk = *k;
    *names = calloc(kk ? kk : 1, sizeof **names);
    *values = calloc((r->npoints ? r->npoints : 1) * (kk + 1), sizeof **values);
    if (!*names || !*values)
        goto fail;
    for (size_t i = 0; i < kk; i++)
        (*names)[i] = group_name(r, by, top[i].id);
    /* pass 2: the values */
    walker_free(&w);
    if (!walker_init(&w, r, true))
        goto fail;
    for (size_t p = 0; p < r->npoints; p++) {
        while (w.next <= r->timeline[p].last_event)
            walker_step(&w);
        uint64_t *v = *values + p * (kk + 1), sum = 0;
        for (size_t i = 0; i < kk; i++) {
            v[i] = w.g[by][top[i].id].blocks;
            sum += v[i];
        }
        v[kk] = w.blocks - sum;
    }
    free(top);
    walker_free(&w);
    return true;
fail:
    free(top);
    walker_free(&w);
    free(*names);
    free(*values);
    *names = NULL;
    *values = NULL;
    return false;
}

/* ---- lifetimes */

typedef struct life_rec {
    uint32_t group;
    uint32_t life;
} life_rec;

static int cmp_life_rec(const void *pa, const void *pb)
{
    const life_rec *a = pa, *b = pb;
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return (a->life > b->life) - (a->life < b->life);
}

static int cmp_lifetime(const void *pa, const void *pb)
{
    const bh_report_lifetime *a = pa, *b = pb;
    if (a->allocations != b->allocations)
        return a->allocations > b->allocations ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* nearest rank */
static uint64_t percentile(const life_rec *v, size_t n, unsigned pct)
{
    if (!n)
        return 0;
    size_t rank = (n * pct + 99) / 100;
    if (rank < 1)
        rank = 1;
    return v[rank - 1].life;
}

static bool build_lifetimes(bh_report *r, const uint32_t *life, int which)
{
    const bh_trace *t = r->trace;
    const uint32_t *gid = which == 0 ? t->site : t->pysite;
    size_t ng = (size_t)(which == 0 ? t->sites.count : t->pysites.count) + 1;
    life_rec *recs = malloc((t->nobjects ? t->nobjects : 1) * sizeof *recs);
    uint64_t *allocs = calloc(ng, sizeof *allocs), *alive = calloc(ng, sizeof *alive);
    bh_report_lifetime *out = calloc(ng, sizeof *out);
    if (!recs || !allocs || !alive || !out) {
        free(recs);
        free(allocs);
        free(alive);
        free(out);
        return false;
    }
    size_t nrec = 0;
    for (uint32_t o = 0; o < t->nobjects; o++) {
        uint32_t g = gid[o];
        allocs[g]++;
        if (life[o] == UINT32_MAX)
            alive[g]++;
        else
            recs[nrec++] = (life_rec){g, life[o]};
    }
    qsort(recs, nrec, sizeof *recs, cmp_life_rec);
    size_t nout = 0, i = 0;
    for (size_t g = 0; g < ng; g++) {
        if (!allocs[g])
            continue;
        size_t j = i;
        while (j < nrec && recs[j].group == g)
            j++;
        bh_report_lifetime *L = &out[nout++];
        L->name = which == 0 ? group_name(r, BH_BY_SITE, g) : group_name(r, BH_BY_PYLINE, g);
        L->allocations = allocs[g];
        L->died = j - i;
        L->live_at_end = alive[g];
        L->p50 = percentile(recs + i, j - i, 50);
        L->p90 = percentile(recs + i, j - i, 90);
        L->max = j > i ? recs[j - 1].life : 0;
        i = j;
    }
    qsort(out, nout, sizeof *out, cmp_lifetime);
    r->life[which] = out;
    r->nlife[which] = nout;
    free(recs);
    free(allocs);
    free(alive);
    return true;
}

/* ---- the trend */

/* least squares slope of y over x */
static double slope(const double *x, const double *y, size_t n)
{
    if (n < 2)
        return 0;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    return sxx > 0 ? sxy / sxx : 0;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Theil-Sen: the median of the slopes between every pair of points (robust to one outlier, such as
 * the program's own teardown in the last window) */
static double median_slope(const double *x, const double *y, size_t n)
{
    double s[BH_REPORT_WINDOWS * BH_REPORT_WINDOWS / 2];
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (x[j] != x[i] && m < sizeof s / sizeof s[0])
                s[m++] = (y[j] - y[i]) / (x[j] - x[i]);
    if (!m)
        return 0;
    qsort(s, m, sizeof s[0], cmp_double);
    return m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2;
}

static int cmp_growth(const void *pa, const void *pb)
{
    const bh_report_group *a = pa, *b = pb;
    if (a->delta_blocks != b->delta_blocks)
        return a->delta_blocks > b->delta_blocks ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* The growth per group between two snapshots: end minus start, groups that changed. */
static bool growth_between(const bh_report_snapshot *a, const bh_report_snapshot *b, bh_report_trend *tr)
{
    for (int k = 0; k < BH_BY_COUNT; k++) {
        size_t cap = a->ngroups[k] + b->ngroups[k];
        bh_report_group *out = calloc(cap ? cap : 1, sizeof *out);
        if (!out)
            return false;
        size_t n = 0;
        /* groups are few (hundreds to thousands): quadratic matching by name is fine for b's side
         * against a's; names are interned pointers, so compare pointers first */
        for (size_t i = 0; i < b->ngroups[k]; i++) {
            const bh_report_group *gb = &b->groups[k][i];
            const bh_report_group *ga = NULL;
            for (size_t j = 0; j < a->ngroups[k] && !ga; j++)
                if (a->groups[k][j].name == gb->name)
                    ga = &a->groups[k][j];
            int64_t d = (int64_t)gb->blocks - (int64_t)(ga ? ga->blocks : 0);
            if (d != 0) {
                out[n] = *gb;
                out[n].delta_blocks = d;
                n++;
            }
        }
        for (size_t j = 0; j < a->ngroups[k]; j++) {
            const bh_report_group *ga = &a->groups[k][j];
            bool found = false;
            for (size_t i = 0; i < b->ngroups[k] && !found; i++)
                found = b->groups[k][i].name == ga->name;
            if (!found) {
                out[n] = *ga;
                out[n].blocks = out[n].bytes = out[n].objects = 0;
                out[n].delta_blocks = -(int64_t)ga->blocks;
                n++;
            }
        }
        qsort(out, n, sizeof *out, cmp_growth);
        tr->growth[k] = out;
        tr->ngrowth[k] = n;
    }
    return true;
}

/* The smallest main loop judged, in allocations. */
#define MIN_MAIN_ALLOCS 400

static bool build_trend(bh_report *r)
{
    bh_report_trend *tr = &r->trend;
    const bh_report_phase *mp = &r->phases[BH_PHASE_MAIN];
    const bh_trace *t = r->trace;
    if (!mp->present || mp->allocations < MIN_MAIN_ALLOCS) {
        snprintf(tr->verdict, sizeof tr->verdict,
                 "not judged: the main loop has %llu allocations, fewer than the %d a trend needs",
                 (unsigned long long)(mp->present ? mp->allocations : 0), MIN_MAIN_ALLOCS);
        return true;
    }
    tr->allocations = mp->allocations;
    tr->nwindows = BH_REPORT_WINDOWS;
    walker w;
    if (!walker_init(&w, r, false))
        return false;
    while (w.next < mp->first_event)
        walker_step(&w);
    uint64_t a0 = w.allocs, M = mp->allocations;
    for (size_t k = 0; k < tr->nwindows; k++)
        tr->floor[k] = UINT64_MAX;
    while (w.next <= mp->last_event) {
        size_t i = w.next;
        walker_step(&w);
        /* the window of this event: by allocations made in the main loop before it ends */
        uint64_t done = w.allocs - a0; /* includes this event's own allocation */
        size_t k = done ? (size_t)((done - 1) * tr->nwindows / M) : 0;
        if (k >= tr->nwindows)
            k = tr->nwindows - 1;
        if (w.blocks < tr->floor[k]) {
            tr->floor[k] = w.blocks;
            tr->floor_event[k] = i;
        }
    }
    walker_free(&w);
    double x[BH_REPORT_WINDOWS], y[BH_REPORT_WINDOWS];
    for (size_t k = 0; k < tr->nwindows; k++) {
        x[k] = ((double)k + 0.5) * (double)M / (double)tr->nwindows / 1000.0;
        y[k] = (double)tr->floor[k];
    }
    size_t half = tr->nwindows / 2, last = tr->nwindows - 1;
    tr->slope_all = slope(x, y, tr->nwindows);
    tr->slope_late = median_slope(x + half, y + half, tr->nwindows - half);
    tr->growth_late = (int64_t)tr->floor[last] - (int64_t)tr->floor[half];
    tr->judged = true;

    /* growing: over the second half the floor rises by more than noise (at least 8 blocks and 2% of
     * the floor) by the robust fit and by its highest point after the middle, and most steps between
     * windows do not go down */
    double mean = 0;
    uint64_t late_lo = UINT64_MAX, late_hi = 0;
    for (size_t k = half; k < tr->nwindows; k++) {
        mean += y[k];
        if (tr->floor[k] < late_lo)
            late_lo = tr->floor[k];
        if (tr->floor[k] > late_hi)
            late_hi = tr->floor[k];
    }
    mean /= (double)(tr->nwindows - half);
    double fitted = tr->slope_late * (x[last] - x[half]);
    double need = mean * 0.02 > 8 ? mean * 0.02 : 8;
    /* a last window well below the one before it is the program's own teardown: left out of the
     * steps and of the growth measured per group */
    bool teardown = (double)tr->floor[last - 1] - (double)tr->floor[last] >= need;
    size_t end = teardown ? last - 1 : last;
    size_t ups = 0, steps = end - half;
    double fall = 0; /* the largest step down */
    for (size_t k = half; k < end; k++) {
        ups += tr->floor[k + 1] >= tr->floor[k];
        if ((double)tr->floor[k] - (double)tr->floor[k + 1] > fall)
            fall = (double)tr->floor[k] - (double)tr->floor[k + 1];
    }
    /* falling back by as much as the growth needs means cycles, not a leak */
    tr->cycles = fall >= need;
    tr->growing =
        fitted >= need && (double)late_hi - (double)tr->floor[half] >= need && ups * 3 >= steps * 2 && !tr->cycles;

    bh_report_snapshot a, b;
    tr->growth_end_window = end;
    if (!bh_report_snapshot_at(r, tr->floor_event[half], &a))
        return false;
    if (!bh_report_snapshot_at(r, tr->floor_event[tr->growth_end_window], &b)) {
        bh_report_snapshot_free(&a);
        return false;
    }
    bool ok = growth_between(&a, &b, tr);
    bh_report_snapshot_free(&a);
    bh_report_snapshot_free(&b);
    if (!ok)
        return false;

    if (tr->growing) {
        char where[320] = "";
        const bh_report_group *py = tr->ngrowth[BH_BY_PYLINE] ? &tr->growth[BH_BY_PYLINE][0] : NULL;
        const bh_report_group *cs = tr->ngrowth[BH_BY_SITE] ? &tr->growth[BH_BY_SITE][0] : NULL;
        if (py && py->delta_blocks > 0 && r->has_pysites && cs && cs->delta_blocks > 0 && r->has_sites)
            snprintf(where, sizeof where, "%s (+%lld blocks; C site %s)", py->name, (long long)py->delta_blocks,
                     cs->name);
        else if (py && py->delta_blocks > 0 && r->has_pysites)
            snprintf(where, sizeof where, "%s (+%lld blocks)", py->name, (long long)py->delta_blocks);
        else if (cs && cs->delta_blocks > 0 && r->has_sites)
            snprintf(where, sizeof where, "%s (+%lld blocks)", cs->name, (long long)cs->delta_blocks);
        else {
            const bh_report_group *sc = tr->ngrowth[BH_BY_SIZE] ? &tr->growth[BH_BY_SIZE][0] : NULL;
            snprintf(where, sizeof where, "size class %s (+%lld blocks; no site fields to say where)",
                     sc ? sc->name : "?", sc ? (long long)sc->delta_blocks : 0LL);
        }
        snprintf(tr->verdict, sizeof tr->verdict,
                 "growing: possible leak at %s; the live floor rises %+.2f blocks per 1000 allocations over the "
                 "second half of the main loop (%llu -> %llu blocks)",
                 where, tr->slope_late, (unsigned long long)tr->floor[half], (unsigned long long)late_hi);
    } else {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t k = half; k < (teardown ? last : tr->nwindows); k++) {
            if (tr->floor[k] < lo)
                lo = tr->floor[k];
            if (tr->floor[k] > hi)
                hi = tr->floor[k];
        }
        int n;
        if (tr->cycles)
            n = snprintf(tr->verdict, sizeof tr->verdict,
                         "steady, in cycles: over the second half of the main loop the live floor rises and falls "
                         "back (by up to %.0f blocks) within %llu..%llu blocks",
                         fall, (unsigned long long)lo, (unsigned long long)hi);
        else
            n = snprintf(tr->verdict, sizeof tr->verdict,
                         "steady: the live floor stays within %llu..%llu blocks over the second half of the main "
                         "loop (%+.2f blocks per 1000 allocations)",
                         (unsigned long long)lo, (unsigned long long)hi, tr->slope_late);
        if (teardown && n > 0 && (size_t)n < sizeof tr->verdict)
            n += snprintf(tr->verdict + n, sizeof tr->verdict - (size_t)n, " until it drops to %llu at the end",
                          (unsigned long long)tr->floor[last]);
        if (n > 0 && (size_t)n < sizeof tr->verdict && (double)tr->floor[half] - (double)tr->floor[0] >= need)
            snprintf(tr->verdict + n, sizeof tr->verdict - (size_t)n,
                     ", after rising from %llu blocks in the first half (warming up)",
                     (unsigned long long)tr->floor[0]);
    }
    (void)t;
    return true;
}

/* ---- build */

static const char *const phase_names[BH_PHASE_COUNT] = {"start-up & compile", "imports & set-up", "main loop"};

bh_report_phase_id bh_report_phase_of(const bh_report *r, size_t event)
{
    for (int p = BH_PHASE_COUNT - 1; p >= 0; p--)
        if (r->phases[p].present && event >= r->phases[p].first_event)
            return (bh_report_phase_id)p;
    return BH_PHASE_MAIN;
}

static bool make_class_names(bh_report *r)
{
    r->class_names = calloc(NCLASSES, sizeof *r->class_names);
    if (!r->class_names)
        return false;
    r->nclasses = NCLASSES;
    for (unsigned c = 0; c < NCLASSES; c++) {
        char buf[96];
        uint64_t hi = (uint64_t)1 << c, lo = c == 0 ? 1 : ((uint64_t)1 << (c - 1)) + 1;
        if (lo == hi)
            snprintf(buf, sizeof buf, "%llu block%s (%llu bytes or less)", (unsigned long long)lo, lo == 1 ? "" : "s",
                     (unsigned long long)(hi * r->block_bytes));
        else
            snprintf(buf, sizeof buf, "%llu-%llu blocks (%llu-%llu bytes)", (unsigned long long)lo,
                     (unsigned long long)hi, (unsigned long long)((lo - 1) * r->block_bytes + 1),
                     (unsigned long long)(hi * r->block_bytes));
        if (!(r->class_names[c] = strdup(buf)))
            return false;
    }
    return true;
}

static bool intern_files(bh_report *r)
{
    const bh_trace *t = r->trace;
    bh_intern_init(&r->files);
    r->file_of_pysite = calloc((size_t)t->pysites.count + 1, sizeof *r->file_of_pysite);
    if (!r->file_of_pysite)
        return false;
    for (uint32_t id = 1; id <= t->pysites.count; id++) {
        const char *name = bh_intern_name(&t->pysites, id);
        const char *colon = strrchr(name, ':');
        size_t n = colon ? (size_t)(colon - name) : strlen(name);
        if (!(r->file_of_pysite[id] = bh_intern_get(&r->files, name, n)))
            return false;
    }
    return true;
}

bool bh_report_build(bh_report *r, const bh_trace *t, size_t block_bytes, size_t timeline_points)
{
    memset(r, 0, sizeof *r);
    r->trace = t;
    r->block_bytes = block_bytes ? block_bytes : t->block_bytes;
    if (!r->block_bytes)
        r->block_bytes = 16;
    r->has_sites = t->sites.count > 0;
    r->has_pysites = t->pysites.count > 0;
    if (!make_class_names(r) || !intern_files(r))
        return false;

    bool ok = false;
    uint32_t *life = malloc((t->nobjects ? t->nobjects : 1) * sizeof *life);
    uint8_t *compiler = calloc((size_t)t->sites.count + 1, 1), *bytecode = calloc((size_t)t->sites.count + 1, 1);
    uint8_t *file_seen = calloc((size_t)r->files.count + 1, 1);
    size_t npoints = timeline_points ? timeline_points : 100;
    if (npoints > t->nevents)
        npoints = t->nevents;
    r->timeline = calloc(npoints ? npoints : 1, sizeof *r->timeline);
    walker w;
    bool have_walker = false;
    if (!life || !compiler || !bytecode || !file_seen || !r->timeline)
        goto out;
    for (uint32_t s = 1; s <= t->sites.count; s++) {
        compiler[s] = bh_report_is_compiler_site(bh_intern_name(&t->sites, s));
        bytecode[s] = site_runs_bytecode(bh_intern_name(&t->sites, s));
    }
    for (uint32_t o = 0; o < t->nobjects; o++)
        life[o] = UINT32_MAX;
    r->npoints = npoints;
    for (size_t p = 0; p < npoints; p++)
        r->timeline[p].live_min = UINT64_MAX;
    if (!walker_init(&w, r, false))
        goto out;
    have_walker = true;

    /* pass 1: the peak, the timeline, the phase markers, lifetimes */
    bool program_started = false;
    while (w.next < t->nevents) {
        size_t i = w.next;
        bh_trace_packed e = t->events[i];
        uint32_t obj = bh_packed_obj(e);
        bh_trace_kind k = walker_step(&w);
        if (k == BH_EV_ALLOC) {
            uint32_t site = t->site[obj], py = t->pysite[obj];
            if (!program_started && (r->has_pysites ? py != 0 : bytecode[site]))
                program_started = true;
            if (compiler[site]) {
                r->have_compiler = true;
                r->last_compiler_event = i;
                if (!program_started) {
                    r->compile_end_found = true;
                    r->compile_end_event = i;
                }
            }
            uint32_t f = r->file_of_pysite[py];
            if (f && !file_seen[f]) {
                file_seen[f] = 1;
                r->have_new_file = true;
                r->last_new_file_event = i;
            }
        } else if ((k == BH_EV_DEAD || k == BH_EV_FREE) && life[obj] == UINT32_MAX) {
            uint64_t l = w.allocs - obj - 1;
            life[obj] = l >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)l;
        }
        if (w.blocks > r->peak_blocks) {
            r->peak_blocks = w.blocks;
            r->peak_event = i;
        }
        if (w.bytes > r->peak_bytes)
            r->peak_bytes = w.bytes;
        size_t p = (size_t)((unsigned long long)i * npoints / t->nevents);
        bh_report_point *pt = &r->timeline[p];
        if (pt->live_min == UINT64_MAX)
            pt->first_event = i;
        pt->last_event = i;
        pt->allocations = w.allocs;
        pt->live_end = w.blocks;
        if (w.blocks < pt->live_min)
            pt->live_min = w.blocks;
        if (w.blocks > pt->live_max)
            pt->live_max = w.blocks;
    }
    r->allocations = w.allocs;

    /* phases: start-up & compile ends with the last compiler allocation before the program's first
     * allocation with a Python line; the main loop begins after the last of: that, the last
     * compiler allocation anywhere, the first allocation of the last Python file to appear */
    size_t main_start = 0;
    if (r->compile_end_found)
        main_start = r->compile_end_event + 1;
    if (r->have_compiler && r->last_compiler_event + 1 > main_start)
        main_start = r->last_compiler_event + 1;
    if (r->have_new_file && r->last_new_file_event + 1 > main_start)
        main_start = r->last_new_file_event + 1;
    r->main_start_event = main_start;
    size_t bounds[BH_PHASE_COUNT + 1] = {0, r->compile_end_found ? r->compile_end_event + 1 : 0, main_start,
                                         t->nevents};
    for (int p = 0; p < BH_PHASE_COUNT; p++) {
        bh_report_phase *ph = &r->phases[p];
        ph->name = phase_names[p];
        ph->present = bounds[p + 1] > bounds[p];
        ph->first_event = bounds[p];
        ph->last_event = ph->present ? bounds[p + 1] - 1 : bounds[p];
        ph->peak_event = ph->first_event;
    }
    /* pass 2: each phase's peak and allocations */
    walker_free(&w);
    have_walker = false;
    if (!walker_init(&w, r, false))
        goto out;
    have_walker = true;
    while (w.next < t->nevents) {
        size_t i = w.next;
        uint64_t before = w.allocs;
        walker_step(&w);
        bh_report_phase *ph = &r->phases[bh_report_phase_of(r, i)];
        ph->allocations += w.allocs - before;
        if (w.blocks > ph->peak_blocks) {
            ph->peak_blocks = w.blocks;
            ph->peak_bytes = w.bytes;
            ph->peak_event = i;
        }
    }

    if (!build_lifetimes(r, life, 0) || !build_lifetimes(r, life, 1))
        goto out;
    if (!bh_report_snapshot_at(r, t->nevents ? r->peak_event : SIZE_MAX, &r->at_peak))
        goto out;
    if (!build_trend(r))
        goto out;
    ok = true;
out:
    if (have_walker)
        walker_free(&w);
    free(life);
    free(compiler);
    free(bytecode);
    free(file_seen);
    return ok;
}

void bh_report_free(bh_report *r)
{
    bh_report_snapshot_free(&r->at_peak);
    for (int k = 0; k < BH_BY_COUNT; k++)
        free(r->trend.growth[k]);
    free(r->life[0]);
    free(r->life[1]);
    free(r->timeline);
    if (r->class_names)
        for (size_t c = 0; c < r->nclasses; c++)
            free(r->class_names[c]);
    free(r->class_names);
    free(r->file_of_pysite);
    bh_intern_free(&r->files);
    memset(r, 0, sizeof *r);
}
