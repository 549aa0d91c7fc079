/* The heap browser's data: snapshots of live heaps as JSON (docs/browse-data.md), and the page. */
#include "browse.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void bh_browse_init(bh_browse *b, size_t max_snapshots, size_t max_points)
{
    memset(b, 0, sizeof *b);
    /* at least 2, so that thinning (keep every other) always makes room */
    b->max_snaps = max_snapshots >= 2 ? max_snapshots : max_snapshots ? 2 : BH_BROWSE_MAX_SNAPSHOTS;
    b->max_points = max_points >= 2 ? max_points : max_points ? 2 : BH_BROWSE_MAX_POINTS;
    b->snap_stride = 1;
    b->point_stride = 1;
}

void bh_browse_free(bh_browse *b)
{
    for (size_t i = 0; i < b->nsnaps; i++)
        free(b->snaps[i].json);
    free(b->snaps);
    free(b->points);
    free(b->failure_file);
    free((char *)b->trace.file);
    free((char *)b->trace.policy);
    memset(b, 0, sizeof *b);
}

/* ---- sampling: multiples of a stride that doubles when the cap is reached */

static bool stride_wants(uint64_t x, uint64_t stride, size_t sampled, size_t cap)
{
    if (x % stride != 0)
        return false;
    return sampled < cap || x % (stride * 2) == 0;
}

bool bh_browse_wants_snapshot(const bh_browse *b, uint64_t x)
{
    return stride_wants(x, b->snap_stride, b->sampled_snaps, b->max_snaps);
}

bool bh_browse_wants_point(const bh_browse *b, uint64_t x)
{
    return stride_wants(x, b->point_stride, b->sampled_points, b->max_points);
}

/* Doubles the snapshot stride and drops the sampled snapshots it no longer wants. */
static void thin_snapshots(bh_browse *b)
{
    b->snap_stride *= 2;
    size_t kept = 0;
    b->sampled_snaps = 0;
    for (size_t i = 0; i < b->nsnaps; i++) {
        bh_browse_snapshot *s = &b->snaps[i];
        if (!s->forced && s->x % b->snap_stride != 0) {
            free(s->json);
            continue;
        }
        b->sampled_snaps += !s->forced;
        b->snaps[kept++] = *s;
    }
    b->nsnaps = kept;
}

static void thin_points(bh_browse *b)
{
    b->point_stride *= 2;
    size_t kept = 0;
    b->sampled_points = 0;
    for (size_t i = 0; i < b->npoints; i++) {
        bh_browse_point *p = &b->points[i];
        if (!p->forced && p->x % b->point_stride != 0)
            continue;
        b->sampled_points += !p->forced;
        b->points[kept++] = *p;
    }
    b->npoints = kept;
}

/* items with room for `need` elements of `size` bytes (the same block, or a larger one), or NULL
 * when out of memory (items is then unchanged). */
static void *grow(void *items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return items;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *n = realloc(items, ncap * size);
    if (n)
        *cap = ncap;
    return n;
}

/* ---- figures of the areas, from the library */

static void area_info(const bh_browse_area *area, bh_info *info)
{
    if (area->info)
        *info = *area->info;
    else
        bh_info_get(area->heap, info);
}

static size_t area_blocks(const bh_browse_area *area)
{
    return area->blocks ? area->blocks : area->heap->pool_blocks;
}

static void point_of(const bh_browse_area *areas, size_t nareas, bh_browse_point *p)
{
    p->used_bytes = p->free_bytes = p->largest_free_bytes = 0;
    for (size_t i = 0; i < nareas; i++) {
        bh_info info;
        area_info(&areas[i], &info);
        size_t largest = bh_largest_free(areas[i].heap);
        p->used_bytes += info.used_bytes;
        p->free_bytes += info.free_bytes;
        if (largest > p->largest_free_bytes)
            p->largest_free_bytes = largest;
    }
}

bool bh_browse_add_point(bh_browse *b, uint64_t x, const bh_browse_area *areas, size_t nareas, bool forced)
{
    if (b->npoints > 0 && b->points[b->npoints - 1].x == x) {
        /* the same moment again (a forced end at the last sampled x): the newer figures win */
        bh_browse_point *last = &b->points[b->npoints - 1];
        if (forced && !last->forced) {
            last->forced = true;
            b->sampled_points--;
        }
        point_of(areas, nareas, last);
        return true;
    }
    if (!forced) {
        if (!bh_browse_wants_point(b, x))
            return true;
        if (b->sampled_points >= b->max_points)
            thin_points(b);
    }
    bh_browse_point *points = grow(b->points, &b->points_cap, b->npoints + 1, sizeof *points);
    if (!points)
        return false;
    b->points = points;
    bh_browse_point *p = &b->points[b->npoints++];
    p->x = x;
    p->forced = forced;
    b->sampled_points += !forced;
    point_of(areas, nareas, p);
    return true;
}

/* ---- one snapshot as JSON */

/* The map as run-length text: each block's character ('.' free, '=' tail, the type letter or 'h'
 * at a head), a character followed by a decimal count when it repeats. Built from bh_walk. */
typedef struct map_writer {
    FILE *out;
    const bh_browse_area *area;
    size_t limit;                  /* blocks shown */
    char pending;
    size_t count;
    size_t largest_free_blocks;    /* from bh_info: the walk finds where the first such run is */
    size_t largest_free_at;
    bool largest_found;
} map_writer;

static void map_put(map_writer *w, char c, size_t n)
{
    if (n == 0)
        return;
    if (c == w->pending) {
        w->count += n;
        return;
    }
    if (w->count == 1)
        fputc(w->pending, w->out);
    else if (w->count > 1)
        fprintf(w->out, "%c%zu", w->pending, w->count);
    w->pending = c;
    w->count = n;
}

/* The letter a head shows: the dump's type letter when it printed one there, else 'h'. */
static char head_letter(const bh_browse_area *area, size_t block)
{
    if (!area->letters || block >= area->nletters)
        return 'h';
    char c = area->letters[block];
    bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    /* 't' is the old maps' tail: at a head the dump and the heap disagree; show a plain head */
    return letter && c != 't' ? c : 'h';
}

static bool map_piece(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    (void)obj;
    map_writer *w = ctx;
    if (block >= w->limit)
        return false;
    if (nblocks > w->limit - block)
        nblocks = w->limit - block;
    if (is_free) {
        if (!w->largest_found && nblocks == w->largest_free_blocks) {
            w->largest_found = true;
            w->largest_free_at = block;
        }
        map_put(w, '.', nblocks);
    } else {
        map_put(w, head_letter(w->area, block), 1);
        map_put(w, '=', nblocks - 1);
    }
    return true;
}

static void json_info(bh_json *j, const bh_info *info, size_t largest_free_bytes)
{
    bh_json_key(j, "info");
    bh_json_begin_object(j);
    bh_json_kv_u64(j, "block_bytes", info->block_bytes);
    bh_json_kv_u64(j, "pool_blocks", info->pool_blocks);
    bh_json_kv_u64(j, "total_bytes", info->total_bytes);
    bh_json_kv_u64(j, "used_bytes", info->used_bytes);
    bh_json_kv_u64(j, "free_bytes", info->free_bytes);
    bh_json_kv_u64(j, "used_blocks", info->used_blocks);
    bh_json_kv_u64(j, "free_blocks", info->free_blocks);
    bh_json_kv_u64(j, "objects", info->objects);
    bh_json_kv_u64(j, "one_block_objects", info->one_block_objects);
    bh_json_kv_u64(j, "two_block_objects", info->two_block_objects);
    bh_json_kv_u64(j, "largest_object_blocks", info->largest_object_blocks);
    bh_json_kv_u64(j, "largest_free_blocks", info->largest_free_blocks);
    bh_json_kv_u64(j, "largest_free_bytes", largest_free_bytes);
    bh_json_kv_u64(j, "free_runs", info->free_runs);
    bh_json_kv_u64(j, "collections", info->collections);
    bh_json_end_object(j);
}

static bool json_area(bh_json *j, const bh_browse_area *area)
{
    const bh_heap *h = area->heap;
    bh_info info;
    area_info(area, &info);
    size_t largest_free_bytes = bh_largest_free(h);
    /* one bucket per power of two up to the pool's size: the last holds the longest possible runs */
    size_t hist[64], nbuckets = 1;
    while (nbuckets < 64 && (info.pool_blocks >> nbuckets) != 0)
        nbuckets++;
    bh_free_runs(h, hist, nbuckets);

    char *map = NULL;
    size_t map_len = 0;
    FILE *mf = open_memstream(&map, &map_len);
    if (!mf)
        return false;
    map_writer w = {.out = mf, .area = area, .limit = area_blocks(area),
                    .largest_free_blocks = info.largest_free_blocks};
    bh_walk(h, map_piece, &w);
    map_put(&w, '\0', 1); /* flushes the last run; the NUL itself is never written */
    if (fclose(mf) != 0) {
        free(map);
        return false;
    }

    bh_json_begin_object(j);
    if (area->address)
        bh_json_kv_string(j, "address", area->address);
    bh_json_kv_u64(j, "block_bytes", info.block_bytes);
    bh_json_kv_u64(j, "pool_blocks", w.limit);
    json_info(j, &info, largest_free_bytes);
    bh_json_key(j, "free_run_hist");
    bh_json_begin_array(j);
    for (size_t i = 0; i < nbuckets; i++)
        bh_json_u64(j, hist[i]);
    bh_json_end_array(j);
    bh_json_key(j, "largest_free_at");
    bh_json_begin_array(j);
    bh_json_u64(j, w.largest_found ? w.largest_free_at : 0);
    bh_json_u64(j, w.largest_found ? w.largest_free_blocks : 0);
    bh_json_end_array(j);
    bh_json_kv_string(j, "map", map);
    bh_json_end_object(j);
    free(map);
    return true;
}

static void json_failure(bh_json *j, uint64_t x, const char *file, unsigned long line, const bh_failure *f)
{
    bh_json_begin_object(j);
    bh_json_kv_u64(j, "x", x);
    if (file)
        bh_json_kv_string(j, "file", file);
    if (line)
        bh_json_kv_u64(j, "line", line);
    bh_json_kv_u64(j, "request_bytes", f->request_bytes);
    bh_json_kv_u64(j, "request_blocks", f->request_blocks);
    bh_json_kv_u64(j, "free_bytes", f->free_bytes);
    bh_json_kv_u64(j, "largest_free_bytes", f->largest_free_bytes);
    bh_json_kv_bool(j, "collected", f->collected);
    bh_json_kv_string(j, "verdict", bh_verdict_name(f->verdict));
    bh_json_end_object(j);
}

static bool snapshot_json(const bh_browse_moment *m, const bh_browse_area *areas, size_t nareas,
                          bh_browse_snapshot *s)
{
    FILE *f = open_memstream(&s->json, &s->json_len);
    if (!f)
        return false;
    bh_json j;
    bh_json_init(&j, f);
    bh_json_begin_object(&j);
    bh_json_kv_u64(&j, "x", m->x);
    bh_json_kv_string(&j, "label", m->label ? m->label : "");
    if (m->file)
        bh_json_kv_string(&j, "file", m->file);
    if (m->line)
        bh_json_kv_u64(&j, "line", m->line);
    if (m->header && m->nheader) {
        bh_json_key(&j, "header");
        bh_json_begin_object(&j);
        for (size_t i = 0; i < m->nheader; i++)
            bh_json_kv_u64(&j, m->header[i].name, m->header[i].value);
        bh_json_end_object(&j);
    }
    if (m->consistent >= 0)
        bh_json_kv_bool(&j, "consistent", m->consistent != 0);
    if (m->failure) {
        bh_json_key(&j, "failure");
        json_failure(&j, m->x, m->file, m->line, m->failure);
    }
    bool ok = true;
    bh_json_key(&j, "areas");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < nareas && ok; i++)
        ok = json_area(&j, &areas[i]);
    bh_json_end_array(&j);
    bh_json_end_object(&j);
    if (fclose(f) != 0 || !ok) {
        free(s->json);
        s->json = NULL;
        return false;
    }
    s->blocks = 0;
    for (size_t i = 0; i < nareas; i++)
        s->blocks += area_blocks(&areas[i]);
    return true;
}

bool bh_browse_add_snapshot(bh_browse *b, const bh_browse_moment *m, const bh_browse_area *areas,
                            size_t nareas, bool forced)
{
    forced = forced || m->failure != NULL;
    bool replaces_last = forced && b->nsnaps > 0 && b->snaps[b->nsnaps - 1].x == m->x;
    if (!forced) {
        if (!bh_browse_wants_snapshot(b, m->x)) /* still a moment of the timeline */
            return bh_browse_add_point(b, m->x, areas, nareas, false);
        if (b->sampled_snaps >= b->max_snaps)
            thin_snapshots(b);
    }
    bh_browse_snapshot s = {.x = m->x, .forced = forced};
    if (!snapshot_json(m, areas, nareas, &s))
        return false;
    if (replaces_last) {
        bh_browse_snapshot *last = &b->snaps[b->nsnaps - 1];
        b->sampled_snaps -= !last->forced;
        free(last->json);
        *last = s;
    } else {
        bh_browse_snapshot *snaps = grow(b->snaps, &b->snaps_cap, b->nsnaps + 1, sizeof *snaps);
        if (!snaps) {
            free(s.json);
            return false;
        }
        b->snaps = snaps;
        b->snaps[b->nsnaps++] = s;
        b->sampled_snaps += !forced;
    }
    if (m->failure) {
        char *file = m->file ? strdup(m->file) : NULL;
        if (m->file && !file)
            return false;
        free(b->failure_file);
        b->failure_file = file;
        b->has_failure = true;
        b->failure_x = m->x;
        b->failure_line = m->line;
        b->failure = *m->failure;
    }
    /* the snapshot's moment is on the timeline: a sampled snapshot's x is a multiple of the point
     * stride too, as long as points are sampled at least as densely (their cap is larger) */
    return bh_browse_add_point(b, m->x, areas, nareas, forced);
}

bool bh_browse_set_trace(bh_browse *b, const bh_browse_trace *t)
{
    char *file = strdup(t->file ? t->file : "");
    char *policy = strdup(t->policy ? t->policy : "");
    if (!file || !policy) {
        free(file);
        free(policy);
        return false;
    }
    free((char *)b->trace.file);
    free((char *)b->trace.policy);
    b->trace = *t;
    b->trace.file = file;
    b->trace.policy = policy;
    b->has_trace = true;
    return true;
}

/* ---- the page */

/* bh_json has no raw value: this does what its value prefix does (a comma unless right after a
 * key or first in its container), then writes text as it is. */
static void json_raw_value(bh_json *j, const char *text, size_t len)
{
    if (j->after_key)
        j->after_key = false;
    else if (j->need_comma[j->depth])
        fputc(',', j->out);
    j->need_comma[j->depth] = true;
    fwrite(text, 1, len, j->out);
}

void bh_browse_write_json(const bh_browse *b, const bh_browse_meta *meta, FILE *out)
{
    bh_json j;
    bh_json_init(&j, out);
    bh_json_begin_object(&j);
    bh_json_kv_string(&j, "format", "blockheap-browse");
    bh_json_kv_u64(&j, "version", 1);
    bh_json_kv_string(&j, "kind", meta->kind);
    bh_json_kv_string(&j, "title", meta->title ? meta->title : "");
    bh_json_kv_string(&j, "subtitle", meta->subtitle ? meta->subtitle : "");
    bh_json_kv_string(&j, "x_label", meta->x_label);
    if (b->has_trace) {
        const bh_browse_trace *t = &b->trace;
        bh_json_key(&j, "trace");
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "file", t->file);
        bh_json_kv_u64(&j, "heap_bytes", t->heap_bytes);
        bh_json_kv_string(&j, "policy", t->policy);
        bh_json_kv_u64(&j, "pool_blocks", t->pool_blocks);
        bh_json_kv_u64(&j, "events", t->events);
        bh_json_kv_bool(&j, "completed", t->completed);
        bh_json_kv_u64(&j, "collections", t->collections);
        if (t->peak_live_blocks)
            bh_json_kv_u64(&j, "peak_live_blocks", t->peak_live_blocks);
        bh_json_end_object(&j);
    }
    bh_json_key(&j, "failure");
    if (b->has_failure)
        json_failure(&j, b->failure_x, b->failure_file, b->failure_line, &b->failure);
    else
        bh_json_null(&j);
    bh_json_key(&j, "series");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < b->npoints; i++) {
        const bh_browse_point *p = &b->points[i];
        bh_json_begin_array(&j);
        bh_json_u64(&j, p->x);
        bh_json_u64(&j, p->used_bytes);
        bh_json_u64(&j, p->free_bytes);
        bh_json_u64(&j, p->largest_free_bytes);
        bh_json_end_array(&j);
    }
    bh_json_end_array(&j);
    bh_json_key(&j, "snapshots");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < b->nsnaps; i++)
        json_raw_value(&j, b->snaps[i].json, b->snaps[i].json_len);
    bh_json_end_array(&j);
    bh_json_end_object(&j);
}

bool bh_browse_write_page(const bh_browse *b, const bh_browse_meta *meta, FILE *out)
{
    const char *page = (const char *)bh_browse_template;
    size_t len = bh_browse_template_len, plen = strlen(BH_BROWSE_PLACEHOLDER), at = 0;
    while (at + plen <= len && memcmp(page + at, BH_BROWSE_PLACEHOLDER, plen) != 0)
        at++;
    if (at + plen > len) {
        fprintf(stderr, "blockheap browse: the page template has no %s\n", BH_BROWSE_PLACEHOLDER);
        return false;
    }
    char *json = NULL;
    size_t json_len = 0;
    FILE *jf = open_memstream(&json, &json_len);
    if (!jf) {
        fprintf(stderr, "blockheap browse: out of memory\n");
        return false;
    }
    bh_browse_write_json(b, meta, jf);
    if (fclose(jf) != 0) {
        free(json);
        fprintf(stderr, "blockheap browse: out of memory\n");
        return false;
    }
    fwrite(page, 1, at, out);
    /* Inside <script>, "</script>" or "<!--" in a string (a file name, a dump's label) would end or
     * derail the element: '<' only occurs inside JSON strings, where \u003c means the same. */
    for (size_t i = 0; i < json_len; i++) {
        if (json[i] == '<')
            fputs("\\u003c", out);
        else
            fputc(json[i], out);
    }
    fwrite(page + at + plen, 1, len - at - plen, out);
    free(json);
    return true;
}
