/* `blockheap report`'s analysis over every shared trace (every NAME.trace.gz in ../shared/traces): at the peak of
 * live data the blocks attributed to Python lines, to Python files, to C sites and to size classes
 * each add up to the peak live blocks exactly, and so do bytes and objects; the peak equals
 * minheap.tsv's peak_live_blocks and bh_trace_peak_live's (same event); the end of compiling found
 * from the data equals minheap.tsv's compile_phase_end_event where it gives one; the phases' peaks,
 * the timeline (and its stacked form) and the lifetimes are consistent with the whole.
 * Exits 77 (skipped) when ../shared is absent, as on a fresh clone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>

#include "report.h"
#include "trace.h"

#define TRACES BH_SHARED_DIR "/traces"
#define MINHEAP TRACES "/minheap.tsv"

typedef struct oracle {
    char program[64];
    uint64_t peak_live_blocks, peak_live_bytes;
    bool has_compile_end;
    uint64_t compile_end; /* 1-based event */
} oracle;

static oracle oracles[64];
static size_t noracles;

/* minheap.tsv: columns by name */
static void read_minheap(void)
{
    FILE *f = fopen(MINHEAP, "r");
    assert_non_null(f);
    char line[1024];
    int col_prog = -1, col_blocks = -1, col_bytes = -1, col_compile = -1;
    bool header = true;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *fields[32];
        int n = 0;
        char *p = line;
        while (n < 32) {
            fields[n++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = 0;
            p = tab + 1;
        }
        if (header) {
            for (int i = 0; i < n; i++) {
                if (strcmp(fields[i], "program") == 0)
                    col_prog = i;
                else if (strcmp(fields[i], "peak_live_blocks") == 0)
                    col_blocks = i;
                else if (strcmp(fields[i], "peak_live_bytes") == 0)
                    col_bytes = i;
                else if (strcmp(fields[i], "compile_phase_end_event") == 0)
                    col_compile = i;
            }
            assert_true(col_prog >= 0 && col_blocks >= 0 && col_bytes >= 0 && col_compile >= 0);
            header = false;
            continue;
        }
        if (n <= col_blocks || noracles == sizeof oracles / sizeof oracles[0])
            continue;
        oracle *o = &oracles[noracles++];
        snprintf(o->program, sizeof o->program, "%s", fields[col_prog]);
        o->peak_live_blocks = strtoull(fields[col_blocks], NULL, 10);
        o->peak_live_bytes = strtoull(fields[col_bytes], NULL, 10);
        o->has_compile_end = col_compile < n && fields[col_compile][0] != 0;
        if (o->has_compile_end)
            o->compile_end = strtoull(fields[col_compile], NULL, 10);
    }
    fclose(f);
    assert_true(noracles > 0);
}

static const oracle *find_oracle(const char *program)
{
    for (size_t i = 0; i < noracles; i++)
        if (strcmp(oracles[i].program, program) == 0)
            return &oracles[i];
    return NULL;
}

static void check_snapshot_sums(const char *name, const bh_report_snapshot *s)
{
    for (int k = 0; k < BH_BY_COUNT; k++) {
        uint64_t blocks = 0, bytes = 0, objects = 0;
        for (size_t i = 0; i < s->ngroups[k]; i++) {
            blocks += s->groups[k][i].blocks;
            bytes += s->groups[k][i].bytes;
            objects += s->groups[k][i].objects;
            if (i)
                assert_true(s->groups[k][i - 1].blocks >= s->groups[k][i].blocks);
        }
        if (blocks != s->blocks || bytes != s->bytes || objects != s->objects)
            fail_msg("%s: by %s: %llu blocks, %llu bytes, %llu objects attributed; live %llu, %llu, %llu", name,
                     bh_report_by_title((bh_report_by)k), (unsigned long long)blocks, (unsigned long long)bytes,
                     (unsigned long long)objects, (unsigned long long)s->blocks, (unsigned long long)s->bytes,
                     (unsigned long long)s->objects);
    }
}

static void check_trace(const char *file)
{
    char path[512], program[64];
    snprintf(path, sizeof path, "%s/%s", TRACES, file);
    snprintf(program, sizeof program, "%.*s", (int)(strlen(file) - strlen(".trace.gz")), file);
    bh_trace t;
    assert_true(bh_trace_load(&t, path));
    bh_trace_peak peak;
    assert_true(bh_trace_peak_live(&t, t.block_bytes, &peak));
    bh_report r;
    assert_true(bh_report_build(&r, &t, 0, 100));

    /* the peak */
    assert_int_equal(r.peak_blocks, peak.blocks);
    assert_int_equal(r.peak_event, peak.at_event);
    assert_int_equal(r.peak_bytes, peak.bytes);
    assert_int_equal(r.at_peak.blocks, r.peak_blocks);
    assert_int_equal(r.at_peak.event, r.peak_event);
    const oracle *o = find_oracle(program);
    if (o) {
        if (r.peak_blocks != o->peak_live_blocks)
            fail_msg("%s: peak %llu blocks, minheap.tsv says %llu", program, (unsigned long long)r.peak_blocks,
                     (unsigned long long)o->peak_live_blocks);
        assert_int_equal(r.peak_bytes, o->peak_live_bytes);
        if (o->has_compile_end) {
            assert_true(r.compile_end_found);
            if (r.compile_end_event + 1 != o->compile_end)
                fail_msg("%s: compiling ends at event %zu, minheap.tsv says %llu", program, r.compile_end_event + 1,
                         (unsigned long long)o->compile_end);
        }
    } else {
        print_message("%s: not in minheap.tsv (checked against bh_trace_peak_live only)\n", program);
    }
    /* every grouping adds up to the peak exactly */
    check_snapshot_sums(program, &r.at_peak);
    /* the site fields are on every allocation: nothing is "(none)" by C site */
    for (size_t i = 0; i < r.at_peak.ngroups[BH_BY_SITE]; i++)
        assert_string_not_equal(r.at_peak.groups[BH_BY_SITE][i].name, "(no C site)");

    /* phases: they cover the trace in order, the highest phase peak is the peak */
    uint64_t top = 0, allocs = 0;
    size_t next = 0;
    for (int p = 0; p < BH_PHASE_COUNT; p++) {
        const bh_report_phase *ph = &r.phases[p];
        if (!ph->present)
            continue;
        assert_int_equal(ph->first_event, next);
        next = ph->last_event + 1;
        allocs += ph->allocations;
        assert_true(ph->peak_blocks <= r.peak_blocks);
        if (ph->peak_blocks > top)
            top = ph->peak_blocks;
    }
    assert_int_equal(next, t.nevents);
    assert_int_equal(top, r.peak_blocks);
    assert_int_equal(allocs, t.counts[BH_EV_ALLOC]);
    assert_int_equal(r.phases[bh_report_phase_of(&r, r.peak_event)].peak_blocks, r.peak_blocks);
    /* the timeline covers every event and reaches the peak */
    uint64_t tl_max = 0;
    next = 0;
    for (size_t p = 0; p < r.npoints; p++) {
        assert_int_equal(r.timeline[p].first_event, next);
        next = r.timeline[p].last_event + 1;
        if (r.timeline[p].live_max > tl_max)
            tl_max = r.timeline[p].live_max;
    }
    assert_int_equal(next, t.nevents);
    assert_int_equal(tl_max, r.peak_blocks);
    /* the stacked timeline adds up to the live blocks at each point's end */
    for (int by = 0; by < BH_BY_COUNT; by++) {
        size_t k = 8;
        const char **names;
        uint64_t *v;
        assert_true(bh_report_stack(&r, (bh_report_by)by, &k, &names, &v));
        for (size_t p = 0; p < r.npoints; p++) {
            uint64_t sum = 0;
            for (size_t i = 0; i <= k; i++)
                sum += v[p * (k + 1) + i];
            assert_int_equal(sum, r.timeline[p].live_end);
        }
        free(names);
        free(v);
    }
    /* lifetimes account for every allocation */
    for (int w = 0; w < 2; w++) {
        uint64_t n = 0;
        for (size_t i = 0; i < r.nlife[w]; i++) {
            const bh_report_lifetime *L = &r.life[w][i];
            assert_int_equal(L->died + L->live_at_end, L->allocations);
            assert_true(L->p50 <= L->p90 && L->p90 <= L->max);
            n += L->allocations;
        }
        assert_int_equal(n, t.nobjects);
    }
    assert_true(r.trend.verdict[0] != 0);
    print_message("%-24s peak %5llu blocks at event %7zu (%s); compile ends %zu; main loop from %zu; %s\n", program,
                  (unsigned long long)r.peak_blocks, r.peak_event + 1,
                  r.phases[bh_report_phase_of(&r, r.peak_event)].name, r.compile_end_event + 1, r.main_start_event + 1,
                  r.trend.growing ? "growing" : "steady");
    bh_report_free(&r);
    bh_trace_free(&t);
}

static void test_every_shared_trace(void **state)
{
    (void)state;
    read_minheap();
    DIR *d = opendir(TRACES);
    assert_non_null(d);
    char *names[128];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 128) {
        size_t len = strlen(e->d_name);
        if (len > 9 && strcmp(e->d_name + len - 9, ".trace.gz") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    assert_true(n > 0);
    size_t with_oracle = 0;
    for (size_t i = 0; i < n; i++) {
        char program[64];
        snprintf(program, sizeof program, "%.*s", (int)(strlen(names[i]) - 9), names[i]);
        with_oracle += find_oracle(program) != NULL;
        check_trace(names[i]);
        free(names[i]);
    }
    /* every row of minheap.tsv has its trace */
    assert_int_equal(with_oracle, noracles);
}

int main(void)
{
    struct stat st;
    if (stat(TRACES, &st) != 0) {
        printf("skipped: ../shared absent (%s not found)\n", TRACES);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shared_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
