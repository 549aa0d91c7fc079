/* The heaptrace reader: events, ID mapping, interned sites, line numbers, gzip and plain alike,
 * and every case of the malformed corpus reported as FILE:LINE: with the expected message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>
#include <zlib.h>

#include "trace.h"

#define DATA BH_SOURCE_DIR "/tests/data/traces"
#define EXAMPLES BH_SOURCE_DIR "/examples/traces"

static void test_small_trace_events(void **state)
{
    (void)state;
    bh_trace_reader r;
    assert_true(bh_trace_reader_open(&r, DATA "/small.trace", NULL, NULL));
    assert_int_equal(r.block_bytes, 16);
    assert_int_equal(r.word_bytes, 4);
    bh_trace_event ev;
    const struct {
        bh_trace_kind kind;
        uint64_t id;
        uint32_t obj, bytes;
        bool fin;
        unsigned long line;
    } want[] = {
        {BH_EV_ALLOC, 10, 0, 24, false, 6}, {BH_EV_ALLOC, 20, 1, 40, true, 7}, {BH_EV_ALLOC, 21, 2, 0, false, 8},
        {BH_EV_REALLOC, 10, 0, 100, false, 10}, {BH_EV_DEAD, 20, 1, 0, false, 11}, {BH_EV_FREE, 21, 2, 0, false, 12},
        {BH_EV_COLLECT, 0, 0, 0, false, 13}, {BH_EV_ALLOC, 22, 3, 16, false, 14}, {BH_EV_DEAD, 10, 0, 0, false, 15},
    };
    uint32_t site_a = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(bh_trace_reader_next(&r, &ev), 1);
        assert_int_equal(ev.kind, want[i].kind);
        assert_int_equal(ev.id, want[i].id);
        assert_int_equal(ev.obj, want[i].obj);
        assert_int_equal(ev.bytes, want[i].bytes);
        assert_int_equal(ev.fin, want[i].fin);
        assert_int_equal(ev.line, want[i].line);
        if (i == 0) {
            site_a = ev.site;
            assert_string_equal(bh_intern_name(r.sites, ev.site), "f<g<h");
            assert_string_equal(bh_intern_name(r.pysites, ev.pysite), "<stdin>:1");
        }
        if (i == 1) /* same site, same id; unknown key colour= ignored */
            assert_int_equal(ev.site, site_a);
        if (i == 7) {
            assert_string_equal(bh_intern_name(r.sites, ev.site), "k");
            assert_string_equal(bh_intern_name(r.pysites, ev.pysite), "<stdin>:1");
        }
    }
    assert_int_equal(bh_trace_reader_next(&r, &ev), 0);
    assert_int_equal(r.sites->count, 2);
    assert_int_equal(r.pysites->count, 2);
    bh_trace_reader_close(&r);
}

static void test_small_trace_compact(void **state)
{
    (void)state;
    bh_trace t;
    assert_true(bh_trace_load(&t, DATA "/small.trace"));
    assert_int_equal(t.nevents, 9);
    assert_int_equal(t.nobjects, 4);
    assert_int_equal(t.counts[BH_EV_ALLOC], 4);
    assert_int_equal(t.counts[BH_EV_COLLECT], 1);
    /* line numbers survive the comment between events */
    const unsigned long lines[] = {6, 7, 8, 10, 11, 12, 13, 14, 15};
    for (size_t i = 0; i < 9; i++)
        assert_int_equal(bh_trace_line(&t, i), lines[i]);
    assert_true(bh_packed_fin(t.events[1]));
    assert_int_equal(bh_packed_kind(t.events[3]), BH_EV_REALLOC);
    assert_int_equal(t.events[3].bytes, 100);
    /* peak: 24 + 40 bytes (2 + 3 blocks), then 100 + 40 (7 + 3 blocks) = 10 blocks */
    bh_trace_peak peak;
    assert_true(bh_trace_peak_live(&t, 16, &peak));
    assert_int_equal(peak.blocks, 10);
    assert_int_equal(peak.bytes, 140);
    assert_int_equal(peak.at_event, 3);
    assert_int_equal(peak.largest_request_blocks, 7);
    bh_trace_free(&t);
}

/* The same trace, gzip-compressed, reads to the same events. */
static void test_gzip_equals_plain(void **state)
{
    (void)state;
    char path[] = "/tmp/bh_test_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    FILE *in = fopen(DATA "/small.trace", "rb");
    assert_non_null(in);
    gzFile out = gzopen(path, "wb");
    assert_non_null(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(gzwrite(out, buf, (unsigned)n), (int)n);
    fclose(in);
    gzclose(out);
    bh_trace a, b;
    assert_true(bh_trace_load(&a, DATA "/small.trace"));
    assert_true(bh_trace_load(&b, path));
    assert_int_equal(a.nevents, b.nevents);
    assert_memory_equal(a.events, b.events, a.nevents * sizeof *a.events);
    assert_memory_equal(a.site, b.site, a.nobjects * sizeof *a.site);
    bh_trace_free(&a);
    bh_trace_free(&b);
    unlink(path);
}

/* A real trace (bundled): its counts and its peak, as ../shared/traces/minheap.tsv gives them. */
static void test_bundled_dict_del(void **state)
{
    (void)state;
    bh_trace t;
    assert_true(bh_trace_load(&t, EXAMPLES "/dict_del.trace.gz"));
    assert_int_equal(t.nevents, 28646);
    assert_int_equal(t.counts[BH_EV_ALLOC], 11744);
    assert_int_equal(t.counts[BH_EV_FREE], 999);
    assert_int_equal(t.counts[BH_EV_REALLOC], 5225);
    assert_int_equal(t.counts[BH_EV_DEAD], 10678);
    assert_int_equal(bh_trace_line(&t, 0), 4);
    assert_int_equal(bh_trace_line(&t, t.nevents - 1), 28649);
    bh_trace_peak peak;
    assert_true(bh_trace_peak_live(&t, 16, &peak));
    assert_int_equal(peak.blocks, 172);
    assert_int_equal(peak.bytes, 2599);
    assert_true(t.sites.count > 10);
    assert_true(bh_intern_find(&t.sites, "mp_map_init<mp_obj_dict_init<mp_init", 36) != 0);
    bh_trace_free(&t);
}

/* Non-consecutive IDs map to dense indices; a lookup of an ID between runs is "before its a". */
static void test_sparse_ids(void **state)
{
    (void)state;
    char path[] = "/tmp/bh_test_ids_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "heaptrace 1\nblock 16\nword 4\na 5 1\na 6 1\na 100 1\na 101 1\nd 6\nf 100\nd 7\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    bh_trace_reader r;
    assert_true(bh_trace_reader_open(&r, path, NULL, NULL));
    bh_trace_event ev;
    uint32_t objs[6];
    for (int i = 0; i < 6; i++) {
        assert_int_equal(bh_trace_reader_next(&r, &ev), 1);
        objs[i] = ev.obj;
    }
    assert_int_equal(objs[3], 3);
    assert_int_equal(objs[4], 1); /* d 6 */
    assert_int_equal(objs[5], 2); /* f 100 */
    fflush(stderr);
    int saved = dup(2), devnull = open("/dev/null", 1);
    dup2(devnull, 2);
    int got = bh_trace_reader_next(&r, &ev); /* d 7: never allocated */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    assert_int_equal(got, -1);
    bh_trace_reader_close(&r);
    unlink(path);
}

/* ---- the malformed corpus */

/* Loads path with stderr captured into msg; returns whether it loaded. */
static bool load_capturing(const char *path, char *msg, size_t cap)
{
    char tmp[] = "/tmp/bh_test_stderr_XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    bh_trace t;
    bool ok = bh_trace_load(&t, path);
    if (ok)
        bh_trace_free(&t);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, msg, cap - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(tmp);
    return ok;
}

static void test_malformed_corpus(void **state)
{
    (void)state;
    FILE *list = fopen(DATA "/malformed/expect.tsv", "r");
    assert_non_null(list);
    char row[1024];
    int cases = 0;
    while (fgets(row, sizeof row, list)) {
        if (row[0] == '#' || row[0] == '\n')
            continue;
        row[strcspn(row, "\n")] = '\0';
        char *file = strtok(row, "\t"), *line = strtok(NULL, "\t"), *text = strtok(NULL, "\t");
        assert_non_null(text);
        char path[4096], msg[4096], prefix[4200];
        snprintf(path, sizeof path, "%s/malformed/%s", DATA, file);
        bool ok = load_capturing(path, msg, sizeof msg);
        if (ok || !strstr(msg, text))
            fail_msg("%s: expected a failure mentioning '%s', got: %s", file, text, msg);
        if (strcmp(line, "*") == 0)
            snprintf(prefix, sizeof prefix, "%s:", path);
        else
            snprintf(prefix, sizeof prefix, "%s:%s: ", path, line);
        if (strncmp(msg, prefix, strlen(prefix)) != 0)
            fail_msg("%s: expected the message to start with '%s', got: %s", file, prefix, msg);
        cases++;
    }
    fclose(list);
    assert_true(cases >= 15);
}

/* Cuts and byte flips of a real trace either load or fail with FILE:LINE:, never crash (ASan). */
static void test_mutated_traces(void **state)
{
    (void)state;
    bh_trace t;
    assert_true(bh_trace_load(&t, EXAMPLES "/dict_del.trace.gz"));
    bh_trace_free(&t);
    gzFile in = gzopen(EXAMPLES "/dict_del.trace.gz", "rb");
    assert_non_null(in);
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    int n;
    while ((n = gzread(in, text + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)n;
        if (len == cap)
            text = realloc(text, cap *= 2);
    }
    gzclose(in);
    const size_t keep = len < 20000 ? len : 20000; /* a prefix keeps the test quick */
    uint64_t seed = 12345;
    char path[] = "/tmp/bh_test_mut_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char junk[] = " \n0123456789afrdcx=#\t-\0\xff";
    for (int round = 0; round < 200; round++) {
        char *copy = malloc(keep);
        memcpy(copy, text, keep);
        size_t cut = keep;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if (round % 4 == 0)
            cut = (size_t)(seed >> 33) % keep;
        for (int k = 0; k < 1 + round % 5; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(seed >> 33) % keep;
            copy[at] = junk[(seed >> 20) % (sizeof junk - 1)];
        }
        FILE *fp = fopen(path, "wb");
        fwrite(copy, 1, cut, fp);
        fclose(fp);
        char msg[4096];
        if (!load_capturing(path, msg, sizeof msg)) {
            char prefix[256];
            snprintf(prefix, sizeof prefix, "%s:", path);
            if (strncmp(msg, prefix, strlen(prefix)) != 0)
                fail_msg("round %d: no FILE:LINE: in '%s'", round, msg);
        }
        free(copy);
    }
    free(text);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_trace_events), cmocka_unit_test(test_small_trace_compact),
        cmocka_unit_test(test_gzip_equals_plain),  cmocka_unit_test(test_bundled_dict_del),
        cmocka_unit_test(test_sparse_ids),         cmocka_unit_test(test_malformed_corpus),
        cmocka_unit_test(test_mutated_traces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
