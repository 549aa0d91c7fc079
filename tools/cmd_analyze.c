/* blockheap analyze FILE... [--json] [--need BYTES] [--map] [--color]
 * Reads micropython.mem_info(1) / pyb.info(1) dumps (dump.h) and says, for each, what the heap looks
 * like and what is wrong with it (analyze.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "commands.h"
#include "dump.h"
#include "util.h"

static void usage(FILE *out)
{
    fputs("usage: blockheap analyze FILE... [--json] [--need BYTES] [--map] [--color]\n"
          "\n"
          "Reads the output of micropython.mem_info(1) (or pyb.info(1)) from FILE (a log, a forum paste;\n"
          "gzip is fine; - for stdin) and, for each dump in it, says: total, used and free memory, the\n"
          "largest free run (the largest allocation that succeeds now), the free runs, fragmentation,\n"
          "the objects by type and size, the 'walls' (the few small objects that split the free memory),\n"
          "and whether the header MicroPython printed agrees with its map. A log of several dumps is read\n"
          "as a time series.\n"
          "\n"
          "  --need BYTES  would an allocation of BYTES (K, M suffixes) succeed? If not: is the heap\n"
          "                fragmented or exhausted, and which objects stand in the way. The exit status\n"
          "                is 1 when it does not fit in a file's last dump.\n"
          "  --map         draw the heap map (coloured on a terminal; NO_COLOR turns colour off)\n"
          "  --color       colour the map even when stdout is not a terminal\n"
          "  --json        one JSON object per dump, one per line\n"
          "\n"
          "Exit status: 0, 1 (see --need), 2 for bad usage or a malformed or truncated dump\n"
          "(reported as FILE:LINE: what is wrong).\n",
          out);
}

/* "512 B" below 1 KB, else "9.8 KB". */
static const char *size_text(char *buf, size_t cap, uint64_t bytes)
{
    return bh_fmt_bytes(buf, cap, bytes);
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* A share as a percentage with one decimal that never rounds up to 100.0 unless it is 1. */
static double percent_down(double share)
{
    double p = 100.0 * share;
    return p > 99.9 && share < 1.0 ? 99.9 : p;
}

static const char *block_size_source(bh_dump_block_size_source s)
{
    switch (s) {
    case BH_DUMP_BLOCK_SIZE_FROM_OFFSETS: return "offsets";
    case BH_DUMP_BLOCK_SIZE_FROM_HEADER: return "header";
    default: return "assumed";
    }
}

static const char *header_kind_name(bh_dump_header_kind k)
{
    switch (k) {
    case BH_DUMP_HEADER_MEM_INFO: return "mem_info";
    case BH_DUMP_HEADER_PYB_INFO: return "pyb_info";
    default: return "none";
    }
}

/* "1", "2-3", "4-7", ... for free-run bucket i ([2^i, 2^(i+1)) blocks, the last open-ended). */
static void run_bucket_range(size_t i, size_t *lo, size_t *hi)
{
    *lo = (size_t)1 << i;
    *hi = i + 1 < BH_DUMP_RUN_BUCKETS ? ((size_t)1 << (i + 1)) - 1 : 0;
}

/* Object-size bucket i: 1, 2, 3-4, 5-8, ... ((2^(i-1), 2^i] blocks). */
static void size_bucket_range(size_t i, size_t *lo, size_t *hi)
{
    *lo = i == 0 ? 1 : ((size_t)1 << (i - 1)) + 1;
    *hi = (size_t)1 << i;
}

static void print_range(FILE *out, size_t lo, size_t hi)
{
    if (hi == 0)
        fprintf(out, "%zu+", lo);
    else if (lo == hi)
        fprintf(out, "%zu", lo);
    else
        fprintf(out, "%zu-%zu", lo, hi);
}

/* "the object at 0x..." / "the 3 objects at 0x..., 0x..., 0x..." */
static void print_objects(FILE *out, const bh_dump *d, const bh_wall *w)
{
    char where[64];
    if (w->count == 1) {
        fprintf(out, "the object at %s", bh_dump_where(where, sizeof where, d, w->area, w->objects[0].block));
        return;
    }
    fprintf(out, "the %zu objects at ", w->count);
    size_t shown = w->count < BH_ANALYSIS_MAX_WALL ? w->count : BH_ANALYSIS_MAX_WALL;
    for (size_t k = 0; k < shown; k++)
        fprintf(out, "%s%s", k ? ", " : "", bh_dump_where(where, sizeof where, d, w->area, w->objects[k].block));
    if (w->count > shown)
        fprintf(out, " and the %zu after them", w->count - shown);
}

/* ---------------------------------------------------------------------------------------------- */
/* The map on the terminal                                                                        */

static const char *type_colour(char type)
{
    switch (type) {
    case 'T': return "\033[33m";
    case 'L': return "\033[34m";
    case 'D': return "\033[35m";
    case 'S': return "\033[36m";
    case 'A': return "\033[32m";
    case 'F': return "\033[93m";
    case 'B': return "\033[94m";
    case 'M': return "\033[95m";
    case 'm': return "\033[1m";
    case 'h': return "\033[0m";
    default: return "\033[96m";
    }
}

/* Whether the object whose head is at `head` is one of the walls shown. */
static bool in_wall(const bh_dump_analysis *an, size_t area, size_t head)
{
    for (size_t k = 0; k < BH_ANALYSIS_MAX_WALL; k++) {
        const bh_wall *w = &an->walls[k];
        for (size_t i = 0; i < w->count && i < BH_ANALYSIS_MAX_WALL; i++)
            if (w->area == area && w->objects[i].block == head)
                return true;
    }
    return false;
}

static void print_map(FILE *out, const bh_dump *d, const bh_dump_analysis *an, bool colour)
{
    const size_t per_line = BH_DUMP_LINE_BLOCKS;
    size_t longest = an->fig.info.largest_free_blocks;
    fprintf(out, "  map: one character per %zu-byte block, %zu per line: '.' free, '=' tail, 'h' untyped head, "
            "letters: heads by type%s\n", d->block_bytes, per_line,
            colour ? "; \033[42m green \033[0m the largest free run, \033[41m red \033[0m the walls" : "");
    for (size_t ai = 0; ai < d->area_count; ai++) {
        const bh_dump_area *a = &d->areas[ai];
        char where[64];
        fprintf(out, "  area %zu of %zu at %s, %zu blocks:\n", ai + 1, d->area_count,
                bh_dump_where(where, sizeof where, d, ai, 0), a->blocks);
        int digits = a->offset_digits >= 8 ? 8 : 5;
        size_t run_lo = SIZE_MAX, run_hi = 0;
        if (an->largest_run_area == ai && longest) {
            run_lo = an->largest_run_block;
            run_hi = run_lo + longest;
        }
        size_t head = 0;
        for (size_t bl = 0; bl < a->blocks; bl += per_line) {
            /* abbreviate 2 or more free lines, as MicroPython does */
            size_t end = bl;
            while (end < a->blocks && a->states[end] == '.')
                end++;
            if (end - bl >= 2 * per_line) {
                size_t lines = (end - bl) / per_line;
                bool has_largest = run_lo < bl + lines * per_line && run_hi > bl;
                fprintf(out, "         (%zu lines all free)%s\n", lines, has_largest ? "  <- in the largest free run" : "");
                bl += lines * per_line;
                if (bl >= a->blocks)
                    break;
            }
            fprintf(out, "  %0*llx: ", digits, (unsigned long long)bl * d->block_bytes);
            const char *style = NULL;
            for (size_t b = bl; b < a->blocks && b < bl + per_line; b++) {
                char s = a->states[b];
                if (bh_dump_is_head(s))
                    head = b;
                if (colour) {
                    const char *want;
                    if (s == '.')
                        want = b >= run_lo && b < run_hi ? "\033[42;30m" : "\033[2m";
                    else if (in_wall(an, ai, head))
                        want = "\033[41;97m";
                    else
                        want = type_colour(a->states[head]);
                    if (want != style) {
                        fputs("\033[0m", out);
                        fputs(want, out);
                        style = want;
                    }
                }
                fputc(s, out);
            }
            if (colour)
                fputs("\033[0m", out);
            fputc('\n', out);
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Text                                                                                           */

static void print_text(FILE *out, const bh_dump_file *f, size_t index, const bh_dump_analysis *an, bool map,
                       bool colour)
{
    const bh_dump *d = &f->dumps[index];
    const bh_info *info = &an->fig.info;
    size_t bb = d->block_bytes;
    char b1[32], b2[32], where[64];

    fprintf(out, "%s:%lu: dump %zu of %zu", f->name, d->line, index + 1, f->count);
    if (d->title) /* a long comment (a source URL and its story) is cut; --json has all of it */
        fprintf(out, ": %.*s%s", 72, d->title, strlen(d->title) > 72 ? "..." : "");
    fputc('\n', out);
    fprintf(out, "  format:        %s, %s; %zu-byte blocks (from the %s)\n",
            d->header_kind == BH_DUMP_HEADER_MEM_INFO ? "micropython.mem_info(1)"
            : d->header_kind == BH_DUMP_HEADER_PYB_INFO ? "pyb.info(1)" : "map without a header",
            bh_dump_format_name(d), bb, block_size_source(d->block_bytes_from));
    fprintf(out, "  heap:          %zu bytes (%zu blocks) ", info->total_bytes, info->pool_blocks);
    if (d->area_count > 1)
        fprintf(out, "in %zu areas", d->area_count);
    else
        fprintf(out, "at %s", bh_dump_where(where, sizeof where, d, 0, 0));
    fprintf(out, ": used %zu (%.0f%%), free %zu (%.0f%%)\n", info->used_bytes,
            percent(info->used_bytes, info->total_bytes), info->free_bytes, percent(info->free_bytes, info->total_bytes));
    if (info->largest_free_blocks)
        fprintf(out, "  largest free:  %s (%zu blocks) at %s: the largest allocation that succeeds now\n",
                size_text(b1, sizeof b1, an->fig.largest_free_bytes), info->largest_free_blocks,
                bh_dump_where(where, sizeof where, d, an->largest_run_area, an->largest_run_block));
    else
        fprintf(out, "  largest free:  none: no block is free\n");
    fprintf(out, "  free runs:     %zu", info->free_runs);
    bool first = true;
    for (size_t i = 0; i < BH_DUMP_RUN_BUCKETS; i++) {
        if (!an->fig.run_hist[i])
            continue;
        size_t lo, hi;
        run_bucket_range(i, &lo, &hi);
        fputs(first ? "; by length in blocks: " : ", ", out);
        print_range(out, lo, hi);
        fprintf(out, ": %zu", an->fig.run_hist[i]);
        first = false;
    }
    fputc('\n', out);
    fprintf(out, "  fragmentation: %.1f%% of the free memory is outside the largest free run "
            "(1 - largest free run / free)\n", percent_down(an->fragmentation));
    fprintf(out, "  objects:       %zu in %s: %zu of 1 block, %zu of 2\n", info->objects,
            size_text(b1, sizeof b1, info->used_bytes), info->one_block_objects, info->two_block_objects);
    for (size_t i = 0; i < an->largest_count; i++)
        fprintf(out, "%s%zu blocks (%s) at %s", i ? ", " : "    largest:     ", an->largest[i].blocks,
                size_text(b1, sizeof b1, an->largest[i].blocks * bb),
                bh_dump_where(where, sizeof where, d, an->largest[i].area, an->largest[i].block));
    if (an->largest_count)
        fputc('\n', out);
    if (an->type_count) {
        fputs("    by type:     ", out);
        for (size_t i = 0; i < an->type_count; i++)
            fprintf(out, "%s%c %s %zu (%s)", i ? ", " : "", an->types[i].type, bh_dump_type_name(an->types[i].type),
                    an->types[i].objects, size_text(b1, sizeof b1, an->types[i].blocks * bb));
        fputc('\n', out);
        fputs("    by size:     ", out);
        first = true;
        for (size_t i = 0; i < BH_ANALYSIS_SIZE_BUCKETS; i++) {
            if (!an->size_objects[i])
                continue;
            size_t lo, hi;
            size_bucket_range(i, &lo, &hi);
            fputs(first ? "" : ", ", out);
            print_range(out, lo, hi);
            fprintf(out, " block%s: %zu (%s)", hi == 1 ? "" : "s", an->size_objects[i],
                    size_text(b1, sizeof b1, an->size_blocks[i] * bb));
            first = false;
        }
        fputc('\n', out);
    }
    /* a wall of more objects is shown only if it makes a longer run than the fewer-object one */
    first = true;
    size_t shown_run = info->largest_free_blocks;
    for (size_t k = 0; k < BH_ANALYSIS_MAX_WALL; k++) {
        const bh_wall *w = &an->walls[k];
        if (!w->count || w->run_blocks <= shown_run)
            continue;
        fputs(first ? "  walls:         freeing " : "                 freeing ", out);
        print_objects(out, d, w);
        fprintf(out, " (%s) would make a free run of %s (%zu blocks", size_text(b1, sizeof b1, w->freed_blocks * bb),
                size_text(b2, sizeof b2, w->run_blocks * bb), w->run_blocks);
        fprintf(out, first ? "; the longest now: %zu)\n" : ")\n", info->largest_free_blocks);
        shown_run = w->run_blocks;
        first = false;
    }
    if (first && info->free_blocks && info->largest_free_blocks < info->free_blocks)
        fputs("  walls:         none: freeing up to 3 neighbouring objects makes no longer free run\n", out);
    if (an->need_bytes) {
        fprintf(out, "  need:          %zu B (%zu blocks): ", an->need_bytes, an->need_blocks);
        if (an->need_fits) {
            fprintf(out, "fits (the largest free run is %s)\n", size_text(b1, sizeof b1, an->fig.largest_free_bytes));
        } else {
            fprintf(out, "does NOT fit, the heap is %s: ", bh_verdict_name(an->need_verdict));
            if (an->need_verdict == BH_VERDICT_EXHAUSTED)
                fprintf(out, "only %s is free in all\n", size_text(b1, sizeof b1, info->free_bytes));
            else
                fprintf(out, "%s is free in all, but the largest free run is %s\n",
                        size_text(b1, sizeof b1, info->free_bytes), size_text(b2, sizeof b2, an->fig.largest_free_bytes));
            const bh_wall *w = &an->need_room;
            if (w->count) {
                fputs("                 freeing ", out);
                print_objects(out, d, w);
                fprintf(out, " (%s) would make a %s free run: enough\n", size_text(b1, sizeof b1, w->freed_blocks * bb),
                        size_text(b2, sizeof b2, w->run_blocks * bb));
            }
        }
    }
    if (d->header_kind == BH_DUMP_HEADER_NONE) {
        fputs("  header:        none printed: nothing to check\n", out);
    } else if (d->consistent) {
        fputs("  header:        agrees with the map (", out);
        static const bh_dump_field checked[] = {BH_DUMP_TOTAL, BH_DUMP_USED, BH_DUMP_FREE, BH_DUMP_ONE_BLOCKS,
                                                BH_DUMP_TWO_BLOCKS, BH_DUMP_MAX_BLK_SZ, BH_DUMP_MAX_FREE_SZ};
        first = true;
        for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++)
            if (d->header[checked[i]].present) {
                fprintf(out, "%s%s", first ? "" : ", ", bh_dump_field_name(checked[i]));
                first = false;
            }
        fputs(")\n", out);
    } else {
        fputs("  header:        DISAGREES with the map (see the notes)\n", out);
    }
    for (size_t i = 0; i < d->note_count; i++) {
        fputs(i ? "                 " : "  notes:         ", out);
        if (d->notes[i].line)
            fprintf(out, "line %lu: ", d->notes[i].line);
        fprintf(out, "%s\n", d->notes[i].text);
    }
    if (!an->fig.checked)
        fputs("  WARNING:       bh_check failed on the reproduced heap\n", out);
    if (map)
        print_map(out, d, an, colour);
}

/* A line per dump when a file holds several: the time series at a glance. */
static void print_series(FILE *out, const bh_dump_file *f, const bh_dump_analysis *all)
{
    char b1[32], b2[32], b3[32];
    fprintf(out, "%s: %zu dumps in sequence:\n", f->name, f->count);
    fprintf(out, "  %6s  %10s  %10s  %13s  %6s  %s\n", "line", "used", "free", "largest free", "frag", "title");
    for (size_t i = 0; i < f->count; i++) {
        const bh_dump_analysis *an = &all[i];
        fprintf(out, "  %6lu  %10s  %10s  %13s  %5.1f%%  %s\n", f->dumps[i].line,
                size_text(b1, sizeof b1, an->fig.info.used_bytes), size_text(b2, sizeof b2, an->fig.info.free_bytes),
                size_text(b3, sizeof b3, an->fig.largest_free_bytes), percent_down(an->fragmentation),
                f->dumps[i].title ? f->dumps[i].title : "");
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* JSON                                                                                           */

static void json_object_ref(bh_json *j, const bh_dump *d, const bh_object_ref *o)
{
    char buf[64];
    bh_json_begin_object(j);
    bh_json_kv_u64(j, "area", o->area);
    bh_json_kv_u64(j, "block", o->block);
    bh_json_kv_u64(j, "offset", (uint64_t)o->block * d->block_bytes);
    bh_json_key(j, "address");
    if (d->areas[o->area].address_present) {
        snprintf(buf, sizeof buf, "0x%llx",
                 (unsigned long long)(d->areas[o->area].address + (uint64_t)o->block * d->block_bytes));
        bh_json_string(j, buf);
    } else {
        bh_json_null(j);
    }
    bh_json_kv_u64(j, "blocks", o->blocks);
    bh_json_kv_u64(j, "bytes", (uint64_t)o->blocks * d->block_bytes);
    char type[2] = {o->type, 0};
    bh_json_kv_string(j, "type", type);
    bh_json_end_object(j);
}

static void json_wall(bh_json *j, const bh_dump *d, const bh_wall *w)
{
    bh_json_begin_object(j);
    bh_json_kv_u64(j, "count", w->count);
    bh_json_key(j, "objects");
    bh_json_begin_array(j);
    for (size_t i = 0; i < w->count && i < BH_ANALYSIS_MAX_WALL; i++)
        json_object_ref(j, d, &w->objects[i]);
    bh_json_end_array(j);
    bh_json_kv_u64(j, "freed_bytes", (uint64_t)w->freed_blocks * d->block_bytes);
    bh_json_kv_u64(j, "run_area", w->area);
    bh_json_kv_u64(j, "run_block", w->run_block);
    bh_json_kv_u64(j, "run_blocks", w->run_blocks);
    bh_json_kv_u64(j, "run_bytes", (uint64_t)w->run_blocks * d->block_bytes);
    bh_json_end_object(j);
}

static void print_json(FILE *out, const bh_dump_file *f, size_t index, const bh_dump_analysis *an)
{
    const bh_dump *d = &f->dumps[index];
    const bh_info *info = &an->fig.info;
    bh_json j;
    bh_json_init(&j, out);
    bh_json_begin_object(&j);
    bh_json_kv_string(&j, "file", f->name);
    bh_json_kv_u64(&j, "line", d->line);
    bh_json_kv_u64(&j, "end_line", d->end_line);
    bh_json_key(&j, "title");
    if (d->title)
        bh_json_string(&j, d->title);
    else
        bh_json_null(&j);
    bh_json_kv_string(&j, "header_format", header_kind_name(d->header_kind));
    bh_json_kv_string(&j, "map_format", bh_dump_format_name(d));
    bh_json_kv_u64(&j, "block_bytes", d->block_bytes);
    bh_json_kv_string(&j, "block_bytes_from", block_size_source(d->block_bytes_from));
    bh_json_kv_u64(&j, "pool_blocks", info->pool_blocks);
    bh_json_kv_u64(&j, "total_bytes", info->total_bytes);
    bh_json_kv_u64(&j, "used_bytes", info->used_bytes);
    bh_json_kv_u64(&j, "free_bytes", info->free_bytes);
    bh_json_kv_u64(&j, "used_blocks", info->used_blocks);
    bh_json_kv_u64(&j, "free_blocks", info->free_blocks);
    bh_json_kv_u64(&j, "objects", info->objects);
    bh_json_kv_u64(&j, "one_block_objects", info->one_block_objects);
    bh_json_kv_u64(&j, "two_block_objects", info->two_block_objects);
    bh_json_kv_u64(&j, "largest_object_blocks", info->largest_object_blocks);
    bh_json_kv_u64(&j, "largest_free_blocks", info->largest_free_blocks);
    bh_json_kv_u64(&j, "largest_free_bytes", an->fig.largest_free_bytes);
    if (info->largest_free_blocks) {
        bh_json_kv_u64(&j, "largest_free_area", an->largest_run_area);
        bh_json_kv_u64(&j, "largest_free_block", an->largest_run_block);
    }
    bh_json_kv_u64(&j, "free_runs", info->free_runs);
    bh_json_key(&j, "free_run_histogram");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < BH_DUMP_RUN_BUCKETS; i++) {
        if (!an->fig.run_hist[i])
            continue;
        size_t lo, hi;
        run_bucket_range(i, &lo, &hi);
        bh_json_begin_object(&j);
        bh_json_kv_u64(&j, "min_blocks", lo);
        bh_json_key(&j, "max_blocks");
        if (hi)
            bh_json_u64(&j, hi);
        else
            bh_json_null(&j);
        bh_json_kv_u64(&j, "runs", an->fig.run_hist[i]);
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_kv_double(&j, "fragmentation", an->fragmentation);
    bh_json_kv_string(&j, "fragmentation_definition", "1 - largest_free_blocks / free_blocks");
    bh_json_key(&j, "objects_by_type");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < an->type_count; i++) {
        char type[2] = {an->types[i].type, 0};
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "type", type);
        bh_json_kv_string(&j, "name", bh_dump_type_name(an->types[i].type));
        bh_json_kv_u64(&j, "objects", an->types[i].objects);
        bh_json_kv_u64(&j, "blocks", an->types[i].blocks);
        bh_json_kv_u64(&j, "bytes", (uint64_t)an->types[i].blocks * d->block_bytes);
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_key(&j, "objects_by_size");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < BH_ANALYSIS_SIZE_BUCKETS; i++) {
        if (!an->size_objects[i])
            continue;
        size_t lo, hi;
        size_bucket_range(i, &lo, &hi);
        bh_json_begin_object(&j);
        bh_json_kv_u64(&j, "min_blocks", lo);
        bh_json_kv_u64(&j, "max_blocks", hi);
        bh_json_kv_u64(&j, "objects", an->size_objects[i]);
        bh_json_kv_u64(&j, "bytes", (uint64_t)an->size_blocks[i] * d->block_bytes);
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_key(&j, "largest_objects");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < an->largest_count; i++)
        json_object_ref(&j, d, &an->largest[i]);
    bh_json_end_array(&j);
    bh_json_key(&j, "walls");
    bh_json_begin_array(&j);
    for (size_t k = 0; k < BH_ANALYSIS_MAX_WALL; k++)
        if (an->walls[k].count)
            json_wall(&j, d, &an->walls[k]);
    bh_json_end_array(&j);
    if (an->need_bytes) {
        bh_json_key(&j, "need");
        bh_json_begin_object(&j);
        bh_json_kv_u64(&j, "bytes", an->need_bytes);
        bh_json_kv_u64(&j, "blocks", an->need_blocks);
        bh_json_kv_bool(&j, "fits", an->need_fits);
        bh_json_kv_string(&j, "verdict", bh_verdict_name(an->need_verdict));
        bh_json_key(&j, "room");
        if (an->need_room.count)
            json_wall(&j, d, &an->need_room);
        else
            bh_json_null(&j);
        bh_json_end_object(&j);
    }
    bh_json_key(&j, "areas");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < d->area_count; i++) {
        const bh_dump_area *a = &d->areas[i];
        char buf[32];
        bh_json_begin_object(&j);
        bh_json_kv_u64(&j, "line", a->line);
        bh_json_key(&j, "address");
        if (a->address_present) {
            snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)a->address);
            bh_json_string(&j, buf);
        } else {
            bh_json_null(&j);
        }
        bh_json_kv_u64(&j, "blocks", a->blocks);
        bh_json_kv_u64(&j, "offset_digits", a->offset_digits);
        bh_json_kv_bool(&j, "offsets_absolute", a->offsets_absolute);
        bh_json_kv_bool(&j, "t_tails", a->t_tails);
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_key(&j, "header");
    bh_json_begin_object(&j);
    for (int fi = 0; fi < BH_DUMP_FIELD_COUNT; fi++)
        if (d->header[fi].present)
            bh_json_kv_u64(&j, bh_dump_field_name((bh_dump_field)fi), d->header[fi].value);
    bh_json_end_object(&j);
    bh_json_kv_bool(&j, "consistent", d->consistent);
    bh_json_kv_bool(&j, "checked", an->fig.checked);
    bh_json_key(&j, "notes");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < d->note_count; i++) {
        bh_json_begin_object(&j);
        bh_json_kv_u64(&j, "line", d->notes[i].line);
        bh_json_kv_string(&j, "text", d->notes[i].text);
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_end_object(&j);
}

/* ---------------------------------------------------------------------------------------------- */

int bh_cmd_analyze(int argc, char **argv)
{
    bool json = false, map = false, force_colour = false;
    uint64_t need = 0;
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t n_files = 0;
    if (!files) {
        fputs("blockheap analyze: out of memory\n", stderr);
        return BH_EXIT_FAIL;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            free(files);
            return BH_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--map") == 0) {
            map = true;
        } else if (strcmp(a, "--color") == 0 || strcmp(a, "--colour") == 0) {
            force_colour = true;
        } else if (strcmp(a, "--need") == 0 || strncmp(a, "--need=", 7) == 0) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !bh_parse_size(v, &need) || need == 0 || need > (uint64_t)SIZE_MAX / 2) {
                fprintf(stderr, "blockheap analyze: --need wants a size in bytes above 0 (e.g. 4096 or 4K), not '%s'\n",
                        v ? v : "");
                free(files);
                return BH_EXIT_BADINPUT;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "blockheap analyze: unknown option '%s'\n", a);
            usage(stderr);
            free(files);
            return BH_EXIT_BADINPUT;
        } else {
            files[n_files++] = a;
        }
    }
    if (n_files == 0) {
        usage(stderr);
        free(files);
        return BH_EXIT_BADINPUT;
    }
    const char *no_colour = getenv("NO_COLOR");
    bool colour = force_colour || (isatty(STDOUT_FILENO) && !(no_colour && *no_colour));
    int status = BH_EXIT_OK;
    for (size_t fi = 0; fi < n_files; fi++) {
        bh_dump_file f;
        if (!bh_dump_file_read(files[fi], &f)) {
            bh_dump_file_free(&f);
            status = BH_EXIT_BADINPUT;
            continue;
        }
        bh_dump_analysis *all = calloc(f.count, sizeof *all);
        if (!all) {
            fprintf(stderr, "%s: out of memory\n", f.name);
            bh_dump_file_free(&f);
            status = BH_EXIT_BADINPUT;
            continue;
        }
        bool ok = true;
        for (size_t i = 0; i < f.count && ok; i++) {
            char why[200];
            if (!bh_dump_analyse(&f.dumps[i], (size_t)need, &all[i], why, sizeof why)) {
                bh_report_at(f.name, f.dumps[i].line, "cannot analyse this dump: %s", why);
                ok = false;
                break;
            }
            if (json)
                print_json(stdout, &f, i, &all[i]);
            else {
                if (i || fi)
                    fputc('\n', stdout);
                print_text(stdout, &f, i, &all[i], map, colour);
            }
        }
        if (ok && !json && f.count > 1) {
            fputc('\n', stdout);
            print_series(stdout, &f, all);
        }
        if (!ok)
            status = BH_EXIT_BADINPUT;
        else if (need && f.count && !all[f.count - 1].need_fits && status == BH_EXIT_OK)
            status = BH_EXIT_FAIL;
        free(all);
        bh_dump_file_free(&f);
    }
    free(files);
    fflush(stdout);
    return status;
}
