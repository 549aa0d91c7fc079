/* The replay on the real library: completion, failure reports and verdicts, what `d`, `f`, `r`
 * and `c` do, the host rules, edits, and margin and fragility on the bundled traces. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fragility.h"
#include "margin.h"
#include "replay.h"

#define DATA BH_SOURCE_DIR "/tests/data/traces"
#define EXAMPLES BH_SOURCE_DIR "/examples/traces"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static const char header[] = "heaptrace 1\nblock 16\nword 4\n";

/* Loads a trace from text (the header is prepended). */
static void load_text(bh_trace *t, const char *events)
{
    char path[] = "/tmp/bh_test_replay_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, header, sizeof header - 1), (ssize_t)(sizeof header - 1));
    assert_int_equal(write(fd, events, strlen(events)), (ssize_t)strlen(events));
    close(fd);
    assert_true(bh_trace_load(t, path));
    unlink(path);
}

/* Arena bytes of a pool of `blocks` 16-byte blocks, with finalisers (MicroPython's layout). */
static size_t arena_of(size_t blocks) { return bh_arena_bytes_for(blocks, 16, true); }

static bh_replay_result run(const bh_trace *t, size_t heap, const uint8_t *flags, const bh_trace_edit *edit)
{
    bh_replayer rp;
    bh_replayer_init(&rp);
    bh_replay_config cfg = {.heap_bytes = heap, .site_flags = flags, .edit = edit};
    bh_replay_result res;
    assert_true(bh_replay(&rp, t, &cfg, &res));
    assert_true(bh_check(&rp.heap));
    bh_replayer_free(&rp);
    return res;
}

static void test_small_trace_completes(void **state)
{
    (void)state;
    bh_trace t;
    assert_true(bh_trace_load(&t, DATA "/small.trace"));
    bh_replay_result r = run(&t, 1024, NULL, NULL);
    assert_true(r.completed);
    assert_int_equal(r.events, 9);
    assert_int_equal(r.pool_blocks, 60);
    assert_int_equal(r.collections, 1); /* the `c` line */
    assert_int_equal(r.peak_live_blocks, 10);
    /* after the c: object 10 (7 blocks) is live; 20 was dead and collected, 21 freed; then 22
     * (1 block) and d 10 (still allocated: no collection since) */
    assert_int_equal(r.info.used_blocks, 8);
    assert_int_equal(r.info.objects, 2);
    bh_trace_free(&t);
}

static void test_failure_exhausted(void **state)
{
    (void)state;
    bh_trace t;
    load_text(&t, "a 1 160\n# ten blocks, then ten more do not fit in twelve\na 2 160\n");
    bh_replay_result r = run(&t, arena_of(12), NULL, NULL);
    assert_false(r.completed);
    assert_int_equal(r.pool_blocks, 12);
    assert_int_equal(r.failed_event, 1);
    assert_int_equal(r.failed_line, 6);
    assert_int_equal(r.failed_kind, BH_EV_ALLOC);
    assert_int_equal(r.failed_obj, 1);
    assert_int_equal(r.failure.verdict, BH_VERDICT_EXHAUSTED);
    assert_int_equal(r.failure.request_bytes, 160);
    assert_int_equal(r.failure.free_blocks, 2);
    assert_true(r.failure.collected); /* the library collected once before giving up */
    assert_int_equal(r.collections, 1);
    bh_trace_free(&t);
}

static void test_failure_fragmented(void **state)
{
    (void)state;
    bh_trace t;
    load_text(&t, "a 1 64\na 2 64\na 3 64\nf 1\nf 3\na 4 96\n");
    bh_replay_result r = run(&t, arena_of(12), NULL, NULL);
    assert_false(r.completed);
    assert_int_equal(r.failed_event, 5);
    assert_int_equal(r.failure.verdict, BH_VERDICT_FRAGMENTED);
    assert_int_equal(r.failure.free_blocks, 8);
    assert_int_equal(r.failure.largest_free_blocks, 4);
    bh_trace_free(&t);
}

/* A dead object stays allocated until a collection; the collection the library makes when a
 * request finds no room reclaims it, and the request then succeeds. */
static void test_dead_reclaimed_by_collection(void **state)
{
    (void)state;
    bh_trace t;
    load_text(&t, "a 1 128\nd 1\na 2 128\n");
    bh_replay_result r = run(&t, arena_of(12), NULL, NULL);
    assert_true(r.completed);
    assert_int_equal(r.collections, 1);
    assert_int_equal(r.peak_live_blocks, 8);
    bh_trace_free(&t);
    /* without the d the object is a root: the same request fails */
    load_text(&t, "a 1 128\na 2 128\n");
    r = run(&t, arena_of(12), NULL, NULL);
    assert_false(r.completed);
    assert_int_equal(r.failure.verdict, BH_VERDICT_EXHAUSTED);
    bh_trace_free(&t);
}

static void test_free_and_realloc(void **state)
{
    (void)state;
    bh_trace t;
    /* r grows 1 in place (2 -> 3 blocks: block 2 is free after f 2), then must move (to 6 blocks) */
    load_text(&t, "a 1 32\na 2 16\na 3 16\nf 2\nr 1 48\nr 1 96\nr 1 0\n");
    bh_replay_result r = run(&t, arena_of(12), NULL, NULL);
    assert_true(r.completed);
    assert_int_equal(r.collections, 0);
    assert_int_equal(r.info.used_blocks, 1); /* only object 3 is left */
    assert_int_equal(r.peak_live_blocks, 7);
    bh_trace_free(&t);
}

static void test_zero_byte_objects(void **state)
{
    (void)state;
    bh_trace t;
    load_text(&t, "a 1 0\nr 1 16\na 2 0\nf 2\nd 1\nc\n");
    bh_replay_result r = run(&t, 1024, NULL, NULL);
    assert_true(r.completed);
    assert_int_equal(r.info.objects, 0);
    assert_int_equal(r.collections, 1);
    bh_trace_free(&t);
}

/* MicroPython's rules for sites the trace cannot describe: a frame allocation that fails is not
 * fatal (fun_bc_call), an in-place-only parser growth that must move is a divergence. */
static void test_host_rules(void **state)
{
    (void)state;
    bh_trace t;
    load_text(&t, "a 1 112 site=x\na 2 160 site=fun_bc_call<mp_call\nf 2\na 3 16 site=parser_alloc<mp_parse\n"
                  "a 4 16 site=y\nr 3 48\n");
    uint8_t *flags = bh_site_flags_micropython(&t);
    assert_non_null(flags);
    bh_replay_result r = run(&t, arena_of(12), flags, NULL);
    assert_true(r.completed);
    assert_int_equal(r.tolerated, 1);
    assert_int_equal(r.divergences, 1);
    assert_int_equal(r.first_divergence, 5);
    r = run(&t, arena_of(12), NULL, NULL);
    assert_false(r.completed);
    assert_int_equal(r.failed_event, 1);
    free(flags);
    bh_trace_free(&t);
}

/* --oracle-hints: lifetimes from the trace's future, counted in allocations */
static void test_oracle_hints(void **state)
{
    (void)state;
    bh_trace t;
    load_text(&t, "a 1 16\na 2 16\na 3 16\nf 1\nd 2\n");
    static const struct { uint32_t age; uint8_t want[3]; } cases[] = {
        {2, {1, 1, 1}}, {3, {1, 0, 1}}, {4, {0, 0, 1}}, /* ages 3, 2 and for ever */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *is_long = bh_oracle_long_lived(&t, cases[c].age);
        assert_non_null(is_long);
        assert_memory_equal(is_long, cases[c].want, 3);
        free(is_long);
    }
    bh_trace_free(&t);

    /* In 12 blocks: a short object, then a long one, then 11 blocks. Placed from the bottom, the
     * long object splits the pool (1 + 10 free); hinted, it goes to the top and 11 fit. */
    load_text(&t, "a 1 16\na 2 16\nd 1\na 3 176\n");
    uint8_t *is_long = bh_oracle_long_lived(&t, 3);
    assert_non_null(is_long);
    for (int hinted = 0; hinted <= 1; hinted++) {
        bh_replayer rp;
        bh_replayer_init(&rp);
        bh_replay_config cfg = {.heap_bytes = arena_of(12), .policy = BH_POLICY_ADAPTIVE,
                                .oracle_long = hinted ? is_long : NULL, .oracle_age = 3};
        bh_replay_result r;
        assert_true(bh_replay(&rp, &t, &cfg, &r));
        assert_int_equal(r.pool_blocks, 12);
        assert_int_equal(r.completed, hinted);
        assert_true(bh_check(&rp.heap));
        bh_replayer_free(&rp);
    }
    free(is_long);
    bh_trace_free(&t);
}

static void test_edits(void **state)
{
    (void)state;
    bh_trace t;
    load_text(&t, "a 1 64\na 2 64\nd 1\nd 2\na 3 16\n");
    bh_trace_edit extra = {.kind = BH_EDIT_EXTRA, .at = 1, .bytes = 40};
    bh_replay_result r = run(&t, 1024, NULL, &extra);
    assert_true(r.completed);
    assert_int_equal(r.peak_live_blocks, 8 + 3);
    assert_int_equal(r.info.used_blocks, 4 + 4 + 3 + 1);
    bh_trace_edit grow = {.kind = BH_EDIT_GROW, .obj = 1, .bytes = 32};
    r = run(&t, 1024, NULL, &grow);
    assert_int_equal(r.peak_live_blocks, 10);
    bh_trace_edit burst = {.kind = BH_EDIT_BURST, .at = 2, .count = 3, .burst_bytes = {16, 32, 48}};
    r = run(&t, 1024, NULL, &burst);
    assert_int_equal(r.peak_live_blocks, 8 + 6);
    /* the burst's own allocation fails: reported as the edit's */
    r = run(&t, arena_of(12), NULL, &burst);
    assert_false(r.completed);
    assert_true(r.failed_in_edit);
    assert_int_equal(r.failed_event, 2);
    /* an edit at the very end */
    bh_trace_edit last = {.kind = BH_EDIT_EXTRA, .at = t.nevents, .bytes = 16};
    r = run(&t, 1024, NULL, &last);
    assert_true(r.completed);
    assert_int_equal(r.info.objects, 4);
    bh_trace_free(&t);
}

/* The bundled trace's minimum heap is MicroPython's own (../shared/traces/minheap.tsv: 2832). */
static void test_margin_dict_del(void **state)
{
    (void)state;
    bh_trace t;
    assert_true(bh_trace_load(&t, EXAMPLES "/dict_del.trace.gz"));
    uint8_t *flags = bh_site_flags_micropython(&t);
    bh_margin_config mc = {.replay = {.site_flags = flags}, .heap_bytes = 4096, .jobs = 2};
    bh_margin m;
    assert_true(bh_margin_search(&t, &mc, &m));
    assert_true(m.completes);
    assert_int_equal(m.peak_live_blocks, 172);
    assert_int_equal(m.lower_bound_bytes, 2832);
    assert_int_equal(m.min_heap_bytes, 2832);
    assert_int_equal(m.min_pool_blocks, 172);
    assert_int_equal(m.all_pass_from_bytes, 2832);
    assert_true(m.checked_up_to_bytes >= 2832 + 4096);
    assert_true(m.heap_passes);
    assert_int_equal(m.heap_pool_blocks, 248);
    assert_int_equal(m.margin_bytes, 4096 - 2832);
    assert_int_equal(m.peak_growth_blocks, 248 - 172);
    /* a heap that fails: the margin is what it lacks */
    mc.heap_bytes = 2000;
    assert_true(bh_margin_search(&t, &mc, &m));
    assert_false(m.heap_passes);
    assert_int_equal(m.margin_bytes, 2000 - 2832);
    free(flags);
    bh_trace_free(&t);
}

static void test_fragility_deterministic(void **state)
{
    (void)state;
    bh_trace t;
    assert_true(bh_trace_load(&t, EXAMPLES "/dict_del.trace.gz"));
    bh_fragility_config fc = {.heap_bytes = 2832, .variants = SANITIZED ? 4 : 12, .seed = 7, .jobs = 2};
    bh_fragility a, b;
    assert_true(bh_fragility_run(&t, &fc, &a));
    assert_true(bh_fragility_run(&t, &fc, &b));
    assert_int_equal(a.n, fc.variants);
    assert_int_equal(a.failed, b.failed);
    assert_int_equal(a.min_p50, b.min_p50);
    assert_int_equal(a.min_max, b.min_max);
    for (unsigned i = 0; i < a.n; i++) {
        assert_memory_equal(&a.v[i].edit, &b.v[i].edit, sizeof a.v[i].edit);
        assert_int_equal(a.v[i].completed, b.v[i].completed);
        assert_int_equal(a.v[i].min_heap_bytes, b.v[i].min_heap_bytes);
        /* no variant needs less than the unedited trace's peak */
        assert_true(a.v[i].min_heap_bytes >= 2832);
    }
    assert_true(a.base_completed);
    assert_int_equal(a.base_min_heap_bytes, 2832);
    /* variant i does not depend on how many are asked for; another seed gives other variants */
    bh_trace_edit e1, e2;
    unsigned long l1, l2;
    bh_fragility_variant(&t, 16, 7, 3, &e1, &l1);
    assert_memory_equal(&e1, &a.v[3].edit, sizeof e1);
    bh_fragility_variant(&t, 16, 8, 3, &e2, &l2);
    assert_true(memcmp(&e1, &e2, sizeof e1) != 0);
    bh_fragility_free(&a);
    bh_fragility_free(&b);
    bh_trace_free(&t);
}

/* Every row of MicroPython's own runs of the bundled traces agrees (the full check over
 * ../shared is test_replay_fidelity). */
static void check_runs(const char *trace, const char *tsv, unsigned every)
{
    bh_trace t;
    assert_true(bh_trace_load(&t, trace));
    uint8_t *flags = bh_site_flags_micropython(&t);
    FILE *fp = fopen(tsv, "r");
    assert_non_null(fp);
    char line[256];
    bh_size_run runs[1024];
    bool want[1024];
    size_t n = 0, row = 0;
    while (fgets(line, sizeof line, fp) && n < 1024) {
        size_t heap, pool;
        char res[8];
        if (sscanf(line, "%zu %zu %7s", &heap, &pool, res) != 3 || row++ % every != 0)
            continue;
        runs[n] = (bh_size_run){.heap_bytes = heap};
        want[n++] = strcmp(res, "pass") == 0;
    }
    fclose(fp);
    bh_replay_config cfg = {.site_flags = flags};
    bh_replay_sizes(&t, &cfg, runs, n, 2);
    for (size_t i = 0; i < n; i++)
        if (!runs[i].ran || runs[i].completed != want[i])
            fail_msg("%s: heap %zu: MicroPython %s, replay %s", trace, runs[i].heap_bytes, want[i] ? "passes" : "fails",
                     runs[i].completed ? "passes" : "fails");
    assert_true(n > 0);
    free(flags);
    bh_trace_free(&t);
}

static void test_bundled_runs_agree(void **state)
{
    (void)state;
    check_runs(EXAMPLES "/dict_del.trace.gz", EXAMPLES "/dict_del.mp_runs.tsv", SANITIZED ? 5 : 1);
    check_runs(EXAMPLES "/bm_fannkuch.trace.gz", EXAMPLES "/bm_fannkuch.mp_runs.tsv", SANITIZED ? 25 : 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_trace_completes),
        cmocka_unit_test(test_failure_exhausted),
        cmocka_unit_test(test_failure_fragmented),
        cmocka_unit_test(test_dead_reclaimed_by_collection),
        cmocka_unit_test(test_free_and_realloc),
        cmocka_unit_test(test_zero_byte_objects),
        cmocka_unit_test(test_host_rules),
        cmocka_unit_test(test_oracle_hints),
        cmocka_unit_test(test_edits),
        cmocka_unit_test(test_margin_dict_del),
        cmocka_unit_test(test_fragility_deterministic),
        cmocka_unit_test(test_bundled_runs_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
