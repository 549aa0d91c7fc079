/* `blockheap report` on a log of several heap dumps (micropython.mem_info(1) printed over time):
 * is the heap steady, leaking, or fragmenting? Every figure is the library's, for each dump
 * reproduced in a real heap (bh_dump_measure); this file only puts them side by side.
 *
 * The verdict compares the halves of the series, which is robust to the saw-tooth of a program
 * that allocates and collects between dumps:
 *   growing      the lowest used figure of the second half is above the lowest of the first half by
 *                at least 2% of the heap (and at least 8 blocks): the floor rose;
 *   fragmenting  not growing, but the largest free run of the second half's best dump is below the
 *                first half's best by that margin, with as much free in total;
 *   steady       neither. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "report.h"
#include "util.h"

typedef struct dump_point {
    unsigned long line;
    const char *title;
    size_t total, used, free, largest_free;
} dump_point;

static void halves(const dump_point *p, size_t n, size_t *floor1, size_t *floor2, size_t *best1, size_t *best2,
                   size_t *free1, size_t *free2)
{
    size_t mid = n / 2;
    *floor1 = *floor2 = SIZE_MAX;
    *best1 = *best2 = *free1 = *free2 = 0;
    for (size_t i = 0; i < n; i++) {
        bool first = i < mid;
        size_t *fl = first ? floor1 : floor2, *be = first ? best1 : best2, *fr = first ? free1 : free2;
        if (p[i].used < *fl)
            *fl = p[i].used;
        if (p[i].largest_free > *be) {
            *be = p[i].largest_free;
            *fr = p[i].free;
        }
    }
}

/* Least-squares slope of y over the dump index. */
static double slope(const dump_point *p, size_t n, bool largest)
{
    if (n < 2)
        return 0;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)i, y = (double)(largest ? p[i].largest_free : p[i].used);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    double d = (double)n * sxx - sx * sx;
    return d == 0 ? 0 : ((double)n * sxy - sx * sy) / d;
}

int bh_report_dump_series(const char *path, bool json)
{
    bh_dump_file f;
    if (!bh_dump_file_read(path, &f)) { /* FILE:LINE: already on stderr */
        bh_dump_file_free(&f);
        return BH_EXIT_BADINPUT;
    }
    dump_point *p = calloc(f.count ? f.count : 1, sizeof *p);
    if (!p) {
        bh_dump_file_free(&f);
        fprintf(stderr, "blockheap report: out of memory\n");
        return BH_EXIT_FAIL;
    }
    size_t block = f.count ? f.dumps[0].block_bytes : 16;
    for (size_t i = 0; i < f.count; i++) {
        bh_dump_figures fig;
        char why[200];
        if (!bh_dump_measure(&f.dumps[i], &fig, why, sizeof why)) {
            bh_report_at(f.name, f.dumps[i].line, "%s", why);
            free(p);
            bh_dump_file_free(&f);
            return BH_EXIT_BADINPUT;
        }
        p[i] = (dump_point){f.dumps[i].line, f.dumps[i].title, fig.info.total_bytes, fig.info.used_bytes,
                            fig.info.free_bytes, fig.largest_free_bytes};
    }
    size_t n = f.count, total = n ? p[0].total : 0;
    size_t margin = total / 50 > 8 * block ? total / 50 : 8 * block;
    size_t floor1, floor2, best1, best2, free1, free2;
    halves(p, n, &floor1, &floor2, &best1, &best2, &free1, &free2);
    const char *verdict;
    char evidence[256];
    if (n < 3) {
        verdict = "too few dumps";
        snprintf(evidence, sizeof evidence, "%zu dump%s: a trend needs at least 3", n, n == 1 ? "" : "s");
    } else if (floor2 > floor1 + margin) {
        verdict = "growing";
        snprintf(evidence, sizeof evidence,
                 "the lowest used figure rose from %zu bytes (first half) to %zu (second half): possible leak",
                 floor1, floor2);
    } else if (best2 + margin < best1 && free2 + margin >= free1) {
        verdict = "fragmenting";
        snprintf(evidence, sizeof evidence,
                 "the largest free run fell from %zu to %zu bytes while as much was free (%zu, then %zu)", best1,
                 best2, free1, free2);
    } else {
        verdict = "steady";
        snprintf(evidence, sizeof evidence,
                 "the lowest used figure stays within %zu bytes of %zu, the largest free run within %zu bytes",
                 margin, floor1, margin);
    }
    if (json) {
        bh_json j;
        bh_json_init(&j, stdout);
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "file", f.name);
        bh_json_kv_u64(&j, "dumps", n);
        bh_json_key(&j, "series");
        bh_json_begin_array(&j);
        for (size_t i = 0; i < n; i++) {
            bh_json_begin_object(&j);
            bh_json_kv_u64(&j, "line", p[i].line);
            bh_json_kv_u64(&j, "total_bytes", p[i].total);
            bh_json_kv_u64(&j, "used_bytes", p[i].used);
            bh_json_kv_u64(&j, "free_bytes", p[i].free);
            bh_json_kv_u64(&j, "largest_free_bytes", p[i].largest_free);
            bh_json_end_object(&j);
        }
        bh_json_end_array(&j);
        bh_json_kv_double(&j, "used_bytes_per_dump", slope(p, n, false));
        bh_json_kv_double(&j, "largest_free_bytes_per_dump", slope(p, n, true));
        bh_json_kv_string(&j, "verdict", verdict);
        bh_json_kv_string(&j, "evidence", evidence);
        bh_json_end_object(&j);
    } else {
        printf("blockheap report: %s: %zu dumps of a %zu-byte heap, read as a time series\n\n", f.name, n, total);
        printf("%8s %10s %10s %14s  %s\n", "line", "used", "free", "largest free", "dump");
        for (size_t i = 0; i < n; i++)
            printf("%8lu %10zu %10zu %14zu  %s\n", p[i].line, p[i].used, p[i].free, p[i].largest_free,
                   p[i].title ? p[i].title : "");
        printf("\ntrend       used %+.0f bytes per dump, largest free run %+.0f bytes per dump (least squares)\n",
               slope(p, n, false), slope(p, n, true));
        printf("verdict     %s: %s\n", verdict, evidence);
    }
    free(p);
    bh_dump_file_free(&f);
    return BH_EXIT_OK;
}
