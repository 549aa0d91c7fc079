/* The analysis behind `blockheap analyze`: see analyze.h. Every size comes from the library: the
 * figures from bh_dump_measure, the objects and free runs from bh_walk over the reproduced heap; the
 * map only gives each object its type letter. */
#include "analyze.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bh_dump_type_name(char type)
{
    switch (type) {
    case 'h': return "untyped";
    case 'm': return "marked";
    case 'T': return "tuple";
    case 'L': return "list";
    case 'D': return "dict";
    case 'S': return "str/bytes";
    case 'A': return "array";
    case 'F': return "float";
    case 'B': return "bytecode fn";
    case 'M': return "module";
    case 'Q': return "qstr pool";
    case 'q': return "qstr data";
    default: return "other";
    }
}

const char *bh_dump_where(char *buf, size_t cap, const bh_dump *d, size_t area, size_t block)
{
    const bh_dump_area *a = &d->areas[area];
    uint64_t offset = (uint64_t)block * d->block_bytes;
    if (a->address_present)
        snprintf(buf, cap, "0x%llx", (unsigned long long)(a->address + offset));
    else if (d->area_count > 1)
        snprintf(buf, cap, "area %zu offset 0x%05llx", area + 1, (unsigned long long)offset);
    else
        snprintf(buf, cap, "offset 0x%05llx", (unsigned long long)offset);
    return buf;
}

/* The objects of one area in address order, as bh_walk finds them in the reproduced heap, and the
 * free gaps around them (gap[i] before object i, gap[count] after the last). */
typedef struct area_objects {
    size_t count;
    size_t *head, *blocks, *gap;
    char *type;
} area_objects;

static void area_objects_free(area_objects *o)
{
    free(o->head);
    free(o->blocks);
    free(o->gap);
    free(o->type);
    memset(o, 0, sizeof *o);
}

struct walk_ctx {
    area_objects *o;
    const bh_dump_area *a;
    size_t free_run;
    bool bad;
    size_t bad_block;
};

static bool collect_object(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    struct walk_ctx *w = ctx;
    (void)obj;
    if (block >= w->a->blocks) /* the guard object past a map of a block count not a multiple of 4 */
        return false;
    if (is_free) {
        w->free_run += nblocks;
        return true;
    }
    if (!bh_dump_is_head(w->a->states[block])) {
        w->bad = true;
        w->bad_block = block;
        return false;
    }
    area_objects *o = w->o;
    o->head[o->count] = block;
    o->blocks[o->count] = nblocks;
    o->type[o->count] = w->a->states[block];
    o->gap[o->count] = w->free_run;
    o->count++;
    w->free_run = 0;
    return true;
}

static bool area_objects_read(area_objects *o, const bh_dump_area *a, const bh_dump_heap *dh, char *why, size_t cap)
{
    memset(o, 0, sizeof *o);
    size_t max = a->blocks + 1; /* objects <= blocks */
    o->head = malloc(max * sizeof *o->head);
    o->blocks = malloc(max * sizeof *o->blocks);
    o->gap = malloc((max + 1) * sizeof *o->gap);
    o->type = malloc(max);
    if (!o->head || !o->blocks || !o->gap || !o->type) {
        snprintf(why, cap, "out of memory");
        area_objects_free(o);
        return false;
    }
    struct walk_ctx w = {.o = o, .a = a};
    bh_walk(&dh->heap, collect_object, &w);
    if (w.bad) {
        snprintf(why, cap, "the reproduced heap has an object at block %zu where the map has no head", w.bad_block);
        area_objects_free(o);
        return false;
    }
    o->gap[o->count] = w.free_run;
    return true;
}

static size_t size_bucket(size_t blocks)
{
    size_t i = 0;
    while (i + 1 < BH_ANALYSIS_SIZE_BUCKETS && ((size_t)1 << i) < blocks)
        i++;
    return i;
}

static void set_wall(bh_wall *w, const area_objects *o, size_t area, size_t first, size_t count,
                     size_t freed, size_t run)
{
    w->count = count;
    for (size_t k = 0; k < count && k < BH_ANALYSIS_MAX_WALL; k++)
        w->objects[k] = (bh_object_ref){area, o->head[first + k], o->blocks[first + k], o->type[first + k]};
    w->freed_blocks = freed;
    w->area = area;
    w->run_block = o->head[first] - o->gap[first];
    w->run_blocks = run;
}

/* For k = 1..3, the window of k consecutive objects that joins the most free blocks (the gaps before,
 * between and after them) into a run longer than `longest`. One pass per k: O(objects). */
static void find_walls(bh_dump_analysis *an, const area_objects *o, size_t area, size_t longest)
{
    for (size_t k = 1; k <= BH_ANALYSIS_MAX_WALL && k <= o->count; k++) {
        bh_wall *best = &an->walls[k - 1];
        size_t joined = 0, freed = 0;
        for (size_t j = 0; j <= k; j++)
            joined += o->gap[j];
        for (size_t j = 0; j < k; j++)
            freed += o->blocks[j];
        for (size_t i = 0; i + k <= o->count; i++) {
            if (i > 0) { /* slide the window one object on */
                joined = joined - o->gap[i - 1] + o->gap[i + k];
                freed = freed - o->blocks[i - 1] + o->blocks[i + k - 1];
            }
            size_t run = joined + freed;
            if (run <= longest)
                continue;
            size_t best_joined = best->count ? best->run_blocks - best->freed_blocks : 0;
            if (!best->count || joined > best_joined || (joined == best_joined && freed < best->freed_blocks))
                set_wall(best, o, area, i, k, freed, run);
        }
    }
}

/* The consecutive objects of fewest blocks whose freeing makes a run of at least need blocks.
 * Two pointers: the shortest window from each first object ends no earlier than the one before. */
static void find_room(bh_dump_analysis *an, const area_objects *o, size_t area, size_t need)
{
    size_t j = 0, run = o->gap[0], freed = 0; /* window [i, j): run = gaps i..j + objects i..j-1 */
    for (size_t i = 0; i < o->count; i++) {
        if (j < i) {
            j = i;
            run = o->gap[i];
            freed = 0;
        }
        while (run < need && j < o->count) {
            run += o->blocks[j] + o->gap[j + 1];
            freed += o->blocks[j];
            j++;
        }
        if (run < need)
            break;
        bh_wall *best = &an->need_room;
        if (j > i && (!best->count || freed < best->freed_blocks))
            set_wall(best, o, area, i, j - i, freed, run);
        /* drop object i and the gap before it */
        if (j > i) {
            run -= o->gap[i] + o->blocks[i];
            freed -= o->blocks[i];
        }
    }
}

static int by_blocks_desc(const void *pa, const void *pb)
{
    const bh_type_count *a = pa, *b = pb;
    if (a->blocks != b->blocks)
        return a->blocks < b->blocks ? 1 : -1;
    return (a->type > b->type) - (a->type < b->type);
}

bool bh_dump_analyse(const bh_dump *d, size_t need_bytes, bh_dump_analysis *an, char *why, size_t why_cap)
{
    memset(an, 0, sizeof *an);
    if (!bh_dump_measure(d, &an->fig, why, why_cap))
        return false;
    const bh_info *info = &an->fig.info;
    size_t longest = info->largest_free_blocks;
    an->fragmentation = info->free_blocks ? 1.0 - (double)longest / (double)info->free_blocks : 0.0;
    an->largest_run_area = SIZE_MAX;
    an->need_bytes = need_bytes;
    if (need_bytes) {
        an->need_blocks = (need_bytes + d->block_bytes - 1) / d->block_bytes;
        an->need_verdict = bh_verdict_for(an->need_blocks, info->free_blocks, longest);
        an->need_fits = an->need_verdict == BH_VERDICT_NONE;
    }
    size_t type_objects[256] = {0}, type_blocks[256] = {0};
    for (size_t ai = 0; ai < d->area_count; ai++) {
        const bh_dump_area *a = &d->areas[ai];
        bh_dump_heap dh;
        if (!bh_dump_heap_load(&dh, a, d->block_bytes, why, why_cap))
            return false;
        area_objects o;
        bool ok = area_objects_read(&o, a, &dh, why, why_cap);
        bh_dump_heap_free(&dh);
        if (!ok)
            return false;
        for (size_t i = 0; i < o.count; i++) {
            unsigned char t = (unsigned char)o.type[i];
            type_objects[t]++;
            type_blocks[t] += o.blocks[i];
            size_t sb = size_bucket(o.blocks[i]);
            an->size_objects[sb]++;
            an->size_blocks[sb] += o.blocks[i];
            /* keep the largest few, largest first, lowest address first among equals */
            bh_object_ref ref = {ai, o.head[i], o.blocks[i], o.type[i]};
            size_t at = an->largest_count;
            while (at > 0 && an->largest[at - 1].blocks < ref.blocks)
                at--;
            if (at < BH_ANALYSIS_LARGEST) {
                size_t last = an->largest_count < BH_ANALYSIS_LARGEST ? an->largest_count : BH_ANALYSIS_LARGEST - 1;
                memmove(&an->largest[at + 1], &an->largest[at], (last - at) * sizeof ref);
                an->largest[at] = ref;
                if (an->largest_count < BH_ANALYSIS_LARGEST)
                    an->largest_count++;
            }
        }
        /* where the longest free run is: the first gap of the library's length */
        for (size_t i = 0; i <= o.count && an->largest_run_area == SIZE_MAX && longest; i++) {
            if (o.gap[i] == longest) {
                an->largest_run_area = ai;
                an->largest_run_block = i < o.count ? o.head[i] - o.gap[i] : a->blocks - o.gap[i];
            }
        }
        find_walls(an, &o, ai, longest);
        if (need_bytes && !an->need_fits)
            find_room(an, &o, ai, an->need_blocks);
        area_objects_free(&o);
    }
    if (longest && an->largest_run_area == SIZE_MAX) {
        snprintf(why, why_cap, "the map has no free run of %zu blocks, the library's longest", longest);
        return false;
    }
    for (size_t t = 0; t < 256; t++) {
        if (!type_objects[t] || an->type_count == sizeof an->types / sizeof an->types[0])
            continue;
        an->types[an->type_count++] = (bh_type_count){(char)t, type_objects[t], type_blocks[t]};
    }
    qsort(an->types, an->type_count, sizeof an->types[0], by_blocks_desc);
    return true;
}
