/* Diagnostics: info, free-run histogram, largest free, failure verdicts, the walk, the self-check,
 * and the map printed byte for byte as MicroPython prints it (fixtures: real mem_info(1) dumps). */
#include "testheap.h"

static bh_config cfg16(void)
{
    bh_config c;
    memset(&c, 0, sizeof c);
    c.block_bytes = 16;
    return c;
}

/* Lays out objects of the given block counts in address order; negative counts are free runs. */
static void layout(test_heap *t, const int *runs, size_t n, void **objs)
{
    void *holes[256];
    size_t nholes = 0;
    for (size_t i = 0; i < n; i++) {
        void *p = bh_alloc(&t->h, (size_t)(runs[i] < 0 ? -runs[i] : runs[i]) * 16, 0);
        assert_non_null(p);
        if (runs[i] < 0)
            holes[nholes++] = p;
        else if (objs)
            objs[i] = p;
    }
    for (size_t i = 0; i < nholes; i++)
        bh_free(&t->h, holes[i]);
}

static void test_info_and_histogram(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(1024, &c); /* 60 blocks */
    static const int runs[] = {1, -1, 2, -3, 1, 1, -8, 5, 2, -2, 1};
    layout(t, runs, sizeof runs / sizeof runs[0], NULL);
    /* used 1+2+1+1+5+2+1 = 13; free 1+3+8+2 + the end's 33 = 47 */
    bh_info info;
    bh_info_get(&t->h, &info);
    assert_int_equal(info.pool_blocks, 60);
    assert_int_equal(info.total_bytes, 960);
    assert_int_equal(info.used_blocks, 13);
    assert_int_equal(info.free_blocks, 47);
    assert_int_equal(info.used_bytes, 208);
    assert_int_equal(info.objects, 7);
    assert_int_equal(info.one_block_objects, 4);
    assert_int_equal(info.two_block_objects, 2);
    assert_int_equal(info.largest_object_blocks, 5);
    assert_int_equal(info.largest_free_blocks, 33);
    assert_int_equal(info.free_runs, 5);
    assert_int_equal(info.largest_alloc_bytes, 33 * 16);
    assert_int_equal(bh_largest_free(&t->h), 33 * 16);
    size_t hist[4];
    assert_int_equal(bh_free_runs(&t->h, hist, 4), 5);
    assert_int_equal(hist[0], 1); /* 1 */
    assert_int_equal(hist[1], 2); /* 2..3: 3, 2 */
    assert_int_equal(hist[2], 0); /* 4..7 */
    assert_int_equal(hist[3], 2); /* >= 8: 8, 33 */
    assert_int_equal(bh_free_runs(&t->h, NULL, 0), 5);
    th_free(t);
}

static void test_failure_verdicts(void **state)
{
    (void)state;
    bh_config c = cfg16();
    c.no_auto_collect = true;
    test_heap *t = th_new(1024, &c); /* 60 blocks */
    bh_failure f;
    bh_last_failure(&t->h, &f);
    assert_int_equal(f.verdict, BH_VERDICT_NONE);
    /* 10 holes of 2 free blocks between 1-block objects, then 30 blocks in use */
    int runs[21];
    for (int i = 0; i < 20; i += 2) {
        runs[i] = 1;
        runs[i + 1] = -2;
    }
    runs[20] = 30;
    layout(t, runs, 21, NULL);
    assert_null(bh_alloc(&t->h, 3 * 16, 0));
    bh_last_failure(&t->h, &f);
    assert_int_equal(f.request_bytes, 48);
    assert_int_equal(f.request_blocks, 3);
    assert_int_equal(f.free_blocks, 20);
    assert_int_equal(f.free_bytes, 320);
    assert_int_equal(f.largest_free_blocks, 2);
    assert_false(f.collected);
    assert_int_equal(f.verdict, BH_VERDICT_FRAGMENTED);
    assert_string_equal(bh_verdict_name(f.verdict), "fragmented");
    assert_null(bh_alloc(&t->h, 21 * 16, 0));
    bh_last_failure(&t->h, &f);
    assert_int_equal(f.verdict, BH_VERDICT_EXHAUSTED);
    assert_int_equal(f.failures, 2);
    assert_int_equal(bh_verdict_for(3, 20, 2), BH_VERDICT_FRAGMENTED);
    assert_int_equal(bh_verdict_for(21, 20, 2), BH_VERDICT_EXHAUSTED);
    assert_int_equal(bh_verdict_for(2, 20, 2), BH_VERDICT_NONE);
    th_free(t);
}

struct walk_log {
    size_t blocks[64], lens[64];
    bool free[64];
    size_t n, stop_after;
};

static bool log_run(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    struct walk_log *w = ctx;
    (void)obj;
    w->blocks[w->n] = block;
    w->lens[w->n] = nblocks;
    w->free[w->n] = is_free;
    w->n++;
    return w->n < w->stop_after;
}

static void test_walk(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(1024, &c);
    static const int runs[] = {2, -3, 1, 1};
    layout(t, runs, 4, NULL);
    struct walk_log w = {.stop_after = 64};
    bh_walk(&t->h, log_run, &w);
    assert_int_equal(w.n, 5);
    size_t want_block[] = {0, 2, 5, 6, 7}, want_len[] = {2, 3, 1, 1, 53};
    bool want_free[] = {false, true, false, false, true};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(w.blocks[i], want_block[i]);
        assert_int_equal(w.lens[i], want_len[i]);
        assert_int_equal(w.free[i], want_free[i]);
    }
    struct walk_log w2 = {.stop_after = 2};
    bh_walk(&t->h, log_run, &w2);
    assert_int_equal(w2.n, 2);
    th_free(t);
}

/* bh_check finds each kind of corruption. */
static void test_check_detects_corruption(void **state)
{
    (void)state;
    bh_config c = cfg16();
    test_heap *t = th_new(1024, &c);
    uint8_t *p = bh_alloc(&t->h, 32, BH_FINALISER); /* blocks 0,1 */
    bh_alloc(&t->h, 16, 0);                          /* block 2 */
    assert_true(bh_check(&t->h));
    uint8_t saved = t->h.atb[0];
    t->h.atb[0] = (uint8_t)(saved & ~3u);            /* head freed: tail after free */
    assert_false(bh_check(&t->h));
    t->h.atb[0] = saved;
    t->h.atb[t->h.atb_bytes] = 1;                    /* gap byte */
    assert_false(bh_check(&t->h));
    t->h.atb[t->h.atb_bytes] = 0;
    t->h.atb[0] |= 3;                                /* a mark outside a collection */
    assert_false(bh_check(&t->h));
    t->h.atb[0] = saved;
    t->h.used_blocks++;                              /* counters */
    assert_false(bh_check(&t->h));
    t->h.used_blocks--;
    t->h.ftb[0] |= 2;                                /* finaliser bit on a tail */
    assert_false(bh_check(&t->h));
    t->h.ftb[0] &= (uint8_t)~2u;
    t->h.cursor = 2;                                 /* free blocks below the cursor */
    assert_false(bh_check(&t->h));
    t->h.cursor = 0;
    assert_true(bh_check(&t->h));
    (void)p;
    th_free(t);
}

/* ---- the map, against real MicroPython output */

struct text {
    char *s;
    size_t len, cap;
};

static void append(void *ctx, const char *s, size_t len)
{
    struct text *tx = ctx;
    if (tx->len + len + 1 > tx->cap) {
        tx->cap = (tx->len + len + 1) * 2;
        tx->s = realloc(tx->s, tx->cap);
    }
    memcpy(tx->s + tx->len, s, len);
    tx->len += len;
    tx->s[tx->len] = 0;
}

struct letters {
    const char *map; /* one char per block */
    const uint8_t *pool;
};

static char letter_of(void *ctx, const void *obj, size_t blocks)
{
    (void)blocks;
    struct letters *l = ctx;
    return l->map[((const uint8_t *)obj - l->pool) / 16];
}

/* Reads the first dump of a bundled real mem_info(1) output: the "GC:" lines and the map (text
 * from "GC memory layout" on, with the address line), and the per-block characters. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static void check_dump_fixture(const char *path)
{
    char *file = read_file(path);
    char *gc = strstr(file, "GC: total: ");
    assert_non_null(gc);
    unsigned total;
    assert_int_equal(sscanf(gc, "GC: total: %u", &total), 1);
    char *layout_line = strstr(gc, "GC memory layout; from ");
    assert_non_null(layout_line);
    char *map_start = strchr(layout_line, '\n') + 1;
    /* the expected text: from "GC:" to the end of the map (the first line that is neither a map
     * line nor an abbreviation) */
    size_t pool_blocks = total / 16;
    char *blocks = malloc(pool_blocks + 1);
    memset(blocks, '.', pool_blocks);
    blocks[pool_blocks] = 0;
    char *line = map_start, *end_of_map = map_start;
    while (*line) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        unsigned offset;
        if (len > 10 && line[8] == ':' && sscanf(line, "%8x:", &offset) == 1) {
            size_t b = offset / 16;
            for (size_t i = 10; i < len; i++)
                blocks[b++] = line[i];
        } else if (strncmp(line, "       (", 8) != 0) {
            break;
        }
        end_of_map = nl ? nl + 1 : line + len;
        line = end_of_map;
    }
    /* rebuild the layout on a real heap: objects and free runs in address order */
    bh_config c = cfg16();
    test_heap *t = th_new(bh_arena_bytes_for(pool_blocks, 16, true), &c);
    assert_int_equal(t->h.pool_blocks, pool_blocks);
    int runs[8192];
    size_t nruns = 0;
    for (size_t b = 0; b < pool_blocks;) {
        size_t e = b + 1;
        if (blocks[b] == '.') {
            while (e < pool_blocks && blocks[e] == '.')
                e++;
            if (e == pool_blocks)
                break; /* the free end needs no placeholder */
            runs[nruns++] = -(int)(e - b);
        } else {
            while (e < pool_blocks && blocks[e] == '=')
                e++;
            runs[nruns++] = (int)(e - b);
        }
        assert_true(nruns < 8192);
        b = e;
    }
    layout(t, runs, nruns, NULL);
    struct letters l = {blocks, t->h.pool};
    struct text out = {0};
    bh_dump_map(&t->h, append, &out, letter_of, &l);
    /* the address differs from run to run: compare around it */
    char *ours_layout = strstr(out.s, "GC memory layout; from ");
    assert_non_null(ours_layout);
    size_t head_len = (size_t)(layout_line - gc);
    if (strncmp(out.s, gc, head_len) != 0)
        fail_msg("header differs:\nours:\n%.*s\ntheirs:\n%.*s", (int)(ours_layout - out.s), out.s, (int)head_len, gc);
    char *ours_map = strchr(ours_layout, '\n') + 1;
    size_t map_len = (size_t)(end_of_map - map_start);
    if (strlen(ours_map) != map_len || strncmp(ours_map, map_start, map_len) != 0)
        fail_msg("map differs:\nours:\n%s\ntheirs:\n%.*s", ours_map, (int)map_len, map_start);
    free(out.s);
    free(blocks);
    free(file);
    th_free(t);
}

static void test_dump_matches_micropython_pystone(void **state)
{
    (void)state;
    check_dump_fixture(BH_SOURCE_DIR "/tests/data/lib/pystone_start.txt");
}

static void test_dump_matches_micropython_hexiom(void **state)
{
    (void)state;
    check_dump_fixture(BH_SOURCE_DIR "/tests/data/lib/hexiom_after_run.txt");
}

/* Edge cases of the abbreviation rule on a constructed heap: a free run of exactly 2 lines from a
 * line start, one of 1 line (not abbreviated), a free end that is a whole number of lines. */
static void test_dump_abbreviation_rules(void **state)
{
    (void)state;
    bh_config c = cfg16();
    size_t pool = 64 * 6;
    test_heap *t = th_new(bh_arena_bytes_for(pool, 16, true), &c);
    assert_int_equal(t->h.pool_blocks, pool);
    static const int runs[] = {1, -63, -64, 1, -63, 1, -63};
    layout(t, runs, sizeof runs / sizeof runs[0], NULL);
    struct text out = {0};
    bh_dump_map(&t->h, append, &out, NULL, NULL);
    char *map = strchr(strstr(out.s, "GC memory layout; from "), '\n') + 1;
    const char *want =
        "00000000: h...............................................................\n"
        "00000400: ................................................................\n"
        "00000800: h...............................................................\n"
        "00000c00: h...............................................................\n"
        "       (2 lines all free)\n";
    assert_string_equal(map, want);
    free(out.s);
    th_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_and_histogram),
        cmocka_unit_test(test_failure_verdicts),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_check_detects_corruption),
        cmocka_unit_test(test_dump_matches_micropython_pystone),
        cmocka_unit_test(test_dump_matches_micropython_hexiom),
        cmocka_unit_test(test_dump_abbreviation_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
