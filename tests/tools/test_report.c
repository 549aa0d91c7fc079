/* The analysis behind `blockheap report` (tools/report.c): the compiler-site rule, a tiny trace
 * worked by hand (zero-byte objects, a growing and a shrinking resize, an explicit free, an object
 * moved to another size class by r), and the constructed traces of
 * tests/data/report with their known answers (see make_traces.py there). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "report.h"
#include "trace.h"

#define DATA BH_SOURCE_DIR "/tests/data/report"

static void test_compiler_sites(void **state)
{
    (void)state;
    assert_true(bh_report_is_compiler_site("parser_alloc<push_result_rule<mp_parse"));
    assert_true(bh_report_is_compiler_site("mp_obj_new_fun_bc<mp_make_function_from_proto_fun<mp_compile"));
    assert_true(bh_report_is_compiler_site("scope_new<scope_new_and_link<compile_funcdef_helper"));
    assert_true(bh_report_is_compiler_site("vstr_init<mp_lexer_new<mp_lexer_new_from_fd"));
    /* a number parsed at run time, and loading a .mpy, are not compiling */
    assert_false(bh_report_is_compiler_site("mp_obj_int_new_mpz<mp_obj_new_int_from_str_len<mp_parse_num_integer"));
    assert_false(bh_report_is_compiler_site("mp_emit_glue_new_raw_code<load_raw_code<mp_raw_code_load"));
    assert_false(bh_report_is_compiler_site("mp_obj_new_float<mp_binary_op<mp_execute_bytecode"));
    assert_false(bh_report_is_compiler_site(""));
    assert_false(bh_report_is_compiler_site(NULL));
}

static const bh_report_group *find_group(const bh_report_snapshot *s, bh_report_by by, const char *name)
{
    for (size_t i = 0; i < s->ngroups[by]; i++)
        if (strcmp(s->groups[by][i].name, name) == 0)
            return &s->groups[by][i];
    return NULL;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_by_hand(void **state)
{
    (void)state;
    char path[] = "/tmp/bh_report_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "heaptrace 1\nblock 16\nword 4\n"
                     "a 1 0 site=s0 pysite=a.py:1\n"  /* 1: nothing */
                     "a 2 20 site=s1 pysite=a.py:2\n" /* 2: 2 blocks */
                     "a 3 16 site=s2 pysite=b.py:1\n" /* 3: 3 blocks */
                     "r 2 100\n"                      /* 4: 2 -> 7 blocks: 8 */
                     "a 4 33 site=s1 pysite=a.py:2\n" /* 5: 3 blocks: 11 (the peak) */
                     "f 3\n"                          /* 6: 10 */
                     "r 2 1\n"                        /* 7: 7 -> 1 block: 4 */
                     "d 1\n"                          /* 8: zero-byte object dies: 4 */
                     "a 5 48 site=s2\n"               /* 9: 3 blocks: 7 */
                     "d 4\n");                        /* 10: 4 */
    bh_trace t;
    assert_true(bh_trace_load(&t, path));
    unlink(path);
    bh_report r;
    assert_true(bh_report_build(&r, &t, 0, 4));
    assert_int_equal(r.peak_blocks, 11);
    assert_int_equal(r.peak_event, 4);
    assert_int_equal(r.at_peak.objects, 3);
    assert_int_equal(r.at_peak.bytes, 100 + 16 + 33);
    const bh_report_group *g = find_group(&r.at_peak, BH_BY_PYLINE, "a.py:2");
    assert_non_null(g);
    assert_int_equal(g->blocks, 10);
    assert_int_equal(g->objects, 2);
    g = find_group(&r.at_peak, BH_BY_PYFILE, "b.py");
    assert_non_null(g);
    assert_int_equal(g->blocks, 1);
    assert_null(find_group(&r.at_peak, BH_BY_PYLINE, "a.py:1")); /* zero bytes: not held */
    g = find_group(&r.at_peak, BH_BY_SIZE, "5-8 blocks (65-128 bytes)");
    assert_non_null(g);
    assert_int_equal(g->blocks, 7);
    /* after event 9 (0-based 8): object 2 (1 block, a.py:2), object 4 (3 blocks), object 5 (3 blocks, no pysite) */
    bh_report_snapshot s;
    assert_true(bh_report_snapshot_at(&r, 8, &s));
    assert_int_equal(s.blocks, 7);
    g = find_group(&s, BH_BY_PYLINE, "(no Python line)");
    assert_non_null(g);
    assert_int_equal(g->blocks, 3);
    g = find_group(&s, BH_BY_SITE, "s1");
    assert_non_null(g);
    assert_int_equal(g->blocks, 4);
    assert_int_equal(g->objects, 2);
    bh_report_snapshot_free(&s);
    /* lifetimes, in allocations after the object's own up to its death: object 1 (3: objects 2-4),
     * object 3 (1: object 4), object 4 (1: object 5) */
    for (size_t i = 0; i < r.nlife[0]; i++) {
        const bh_report_lifetime *L = &r.life[0][i];
        if (strcmp(L->name, "s1") == 0) {
            assert_int_equal(L->allocations, 2);
            assert_int_equal(L->died, 1);
            assert_int_equal(L->max, 1);
        } else if (strcmp(L->name, "s2") == 0) {
            assert_int_equal(L->allocations, 2);
            assert_int_equal(L->died, 1);
            assert_int_equal(L->p50, 1);
        } else if (strcmp(L->name, "s0") == 0) {
            assert_int_equal(L->died, 1);
            assert_int_equal(L->max, 3);
        }
    }
    /* a main loop this short is not judged */
    assert_false(r.trend.judged);
    assert_false(r.trend.growing);
    bh_report_free(&r);
    bh_trace_free(&t);
}

static void load_report(const char *name, bh_trace *t, bh_report *r)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DATA, name);
    assert_true(bh_trace_load(t, path));
    assert_true(bh_report_build(r, t, 0, 100));
}

static void test_steady(void **state)
{
    (void)state;
    bh_trace t;
    bh_report r;
    load_report("steady.trace.gz", &t, &r);
    assert_int_equal(r.peak_blocks, 103);
    assert_int_equal(r.peak_event + 1, 267);
    assert_true(r.compile_end_found);
    assert_int_equal(r.compile_end_event + 1, 8);
    assert_int_equal(r.main_start_event + 1, 15);
    assert_int_equal(bh_report_phase_of(&r, r.peak_event), BH_PHASE_MAIN);
    assert_true(r.trend.judged);
    assert_false(r.trend.growing);
    assert_true(strncmp(r.trend.verdict, "steady: ", 8) == 0);
    bh_report_free(&r);
    bh_trace_free(&t);
}

static void test_leak(void **state)
{
    (void)state;
    bh_trace t;
    bh_report r;
    load_report("leak.trace.gz", &t, &r);
    assert_int_equal(r.peak_blocks, 502);
    assert_true(r.trend.growing);
    assert_true(r.trend.ngrowth[BH_BY_PYLINE] > 0);
    assert_string_equal(r.trend.growth[BH_BY_PYLINE][0].name, "<stdin>:20");
    assert_int_equal(r.trend.growth[BH_BY_PYLINE][0].delta_blocks, 180);
    assert_string_equal(r.trend.growth[BH_BY_SITE][0].name, "mp_obj_new_dict<mp_execute_bytecode<fun_bc_call");
    /* 2 blocks per 10 iterations of 3.1 allocations */
    assert_true(r.trend.slope_late > 64.0 && r.trend.slope_late < 65.0);
    assert_true(strncmp(r.trend.verdict, "growing: possible leak at <stdin>:20 ", 37) == 0);
    bh_report_free(&r);
    bh_trace_free(&t);
}

static void test_startup_peak(void **state)
{
    (void)state;
    bh_trace t;
    bh_report r;
    load_report("startup_peak.trace.gz", &t, &r);
    assert_int_equal(r.peak_blocks, 542);
    assert_int_equal(r.peak_event + 1, 5);
    assert_int_equal(bh_report_phase_of(&r, r.peak_event), BH_PHASE_STARTUP);
    assert_string_equal(r.at_peak.groups[BH_BY_SITE][0].name, "parser_alloc<push_result_rule<mp_parse");
    assert_int_equal(r.at_peak.groups[BH_BY_SITE][0].blocks, 512);
    assert_int_equal(r.phases[BH_PHASE_MAIN].peak_blocks, 103);
    assert_false(r.trend.growing);
    bh_report_free(&r);
    bh_trace_free(&t);
}

static void test_nosites(void **state)
{
    (void)state;
    bh_trace t;
    bh_report r;
    load_report("nosites.trace.gz", &t, &r);
    assert_false(r.has_sites);
    assert_false(r.has_pysites);
    assert_int_equal(r.peak_blocks, 502);
    assert_false(r.compile_end_found);
    assert_int_equal(r.main_start_event, 0);
    assert_int_equal(r.at_peak.ngroups[BH_BY_SITE], 1);
    assert_int_equal(r.at_peak.groups[BH_BY_SITE][0].blocks, 502);
    assert_true(r.trend.growing);
    assert_string_equal(r.trend.growth[BH_BY_SIZE][0].name, "2 blocks (32 bytes or less)");
    bh_report_free(&r);
    bh_trace_free(&t);
}

/* The fullest moment of a replay, given its collections (what the replay would report through a
 * per-collection hook). */
static void test_fullest(void **state)
{
    (void)state;
    bh_trace t;
    bh_report r;
    load_report("steady.trace.gz", &t, &r);
    bh_report_snapshot s;
    uint64_t used;
    /* never collected: every allocation still holds its blocks at the end (the trace frees nothing):
     * 10106 blocks, make_traces.py's allocations summed */
    assert_true(bh_report_fullest(&r, NULL, 0, SIZE_MAX, &s, &used));
    assert_int_equal(used, 10106);
    assert_int_equal(s.blocks, 10106);
    /* first reached at the last allocation */
    assert_int_equal(bh_packed_kind(t.events[s.event]), BH_EV_ALLOC);
    for (size_t i = s.event + 1; i < t.nevents; i++)
        assert_int_not_equal(bh_packed_kind(t.events[i]), BH_EV_ALLOC);
    bh_report_snapshot_free(&s);
    /* collected before every event: the dead never outlive the next event, the fullest is the peak */
    size_t *every = malloc(t.nevents * sizeof *every);
    assert_non_null(every);
    for (size_t i = 0; i < t.nevents; i++)
        every[i] = i;
    assert_true(bh_report_fullest(&r, every, t.nevents, SIZE_MAX, &s, &used));
    assert_int_equal(used, r.peak_blocks);
    assert_int_equal(s.event, r.peak_event);
    for (int k = 0; k < BH_BY_COUNT; k++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < s.ngroups[k]; i++)
            sum += s.groups[k][i].blocks;
        assert_int_equal(sum, used);
    }
    bh_report_snapshot_free(&s);
    /* up to event 100 only, one collection at event 50: the fullest is before it or at event 100 */
    every[0] = 50;
    assert_true(bh_report_fullest(&r, every, 1, 99, &s, &used));
    assert_true(s.event <= 99);
    assert_true(used >= s.blocks && used == s.blocks);
    bh_report_snapshot_free(&s);
    /* not ascending: refused */
    every[0] = 9;
    every[1] = 3;
    assert_false(bh_report_fullest(&r, every, 2, SIZE_MAX, &s, &used));
    free(every);
    bh_report_free(&r);
    bh_trace_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compiler_sites), cmocka_unit_test(test_by_hand),      cmocka_unit_test(test_steady),
        cmocka_unit_test(test_leak),           cmocka_unit_test(test_startup_peak), cmocka_unit_test(test_nosites),
        cmocka_unit_test(test_fullest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
