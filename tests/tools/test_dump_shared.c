/* Every real dump in ../shared/dumps: it parses; the library's figures for its map equal every number
 * its header printed (total, used, free, 1-blocks, 2-blocks, max blk sz, max free sz), or the
 * disagreement is reported (only the known pre-v1.8.2 case); and the library prints each v1.20+ map
 * back byte for byte as MicroPython did. The copies bundled in tests/data/dumps are the shared ones.
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

#include "dump.h"
#include "util.h"

#define SHARED_DUMPS BH_SHARED_DIR "/dumps"
#define BUNDLED_DUMPS BH_SOURCE_DIR "/tests/data/dumps"
/* the one dump whose header MicroPython got wrong (see shared/dumps/README.md) */
#define KNOWN_BAD_HEADER "mp_issue2057_2016_oldformat.txt"

typedef struct name_list {
    char **names;
    size_t count;
} name_list;

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The *.txt files of dir, sorted. */
static bool list_txt(const char *dir, name_list *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0)
            continue;
        out->names = realloc(out->names, (out->count + 1) * sizeof *out->names);
        out->names[out->count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(out->names, out->count, sizeof *out->names, by_name);
    return true;
}

static void list_free(name_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
}

static void test_every_shared_dump(void **state)
{
    (void)state;
    name_list files;
    assert_true(list_txt(SHARED_DUMPS, &files));
    assert_true(files.count >= 10);
    size_t dumps = 0, with_max_free = 0;
    for (size_t i = 0; i < files.count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", SHARED_DUMPS, files.names[i]);
        bh_dump_file f;
        bool ok = bh_dump_file_read(path, &f);
        if (!ok)
            print_error("%s does not parse: %lu: %s\n", files.names[i], f.error_line, f.error);
        assert_true(ok);
        assert_true(f.count >= 1);
        for (size_t k = 0; k < f.count; k++) {
            const bh_dump *d = &f.dumps[k];
            bh_dump_figures fig;
            char why[200];
            assert_true(bh_dump_measure(d, &fig, why, sizeof why));
            assert_true(fig.checked);
            dumps++;
            struct {
                bh_dump_field field;
                uint64_t map;
            } checks[] = {
                {BH_DUMP_TOTAL, fig.info.total_bytes},
                {BH_DUMP_USED, fig.info.used_bytes},
                {BH_DUMP_FREE, fig.info.free_bytes},
                {BH_DUMP_ONE_BLOCKS, fig.info.one_block_objects},
                {BH_DUMP_TWO_BLOCKS, fig.info.two_block_objects},
                {BH_DUMP_MAX_BLK_SZ, fig.info.largest_object_blocks},
                {BH_DUMP_MAX_FREE_SZ, fig.info.largest_free_blocks},
            };
            size_t disagree = 0;
            for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++) {
                const bh_dump_number *h = &d->header[checks[c].field];
                if (h->present && h->value != checks[c].map) {
                    print_message("%s:%lu: header %s %llu, map %llu\n", files.names[i], d->line,
                                  bh_dump_field_name(checks[c].field), (unsigned long long)h->value,
                                  (unsigned long long)checks[c].map);
                    disagree++;
                }
            }
            /* the "done when" of the issue, said on its own: the largest free run is max free sz */
            if (d->header[BH_DUMP_MAX_FREE_SZ].present) {
                assert_int_equal(fig.info.largest_free_blocks, d->header[BH_DUMP_MAX_FREE_SZ].value);
                assert_int_equal(fig.largest_free_bytes, d->header[BH_DUMP_MAX_FREE_SZ].value * d->block_bytes);
                with_max_free++;
            }
            assert_int_equal(d->consistent, disagree == 0);
            if (strcmp(files.names[i], KNOWN_BAD_HEADER) == 0) {
                /* one 1-block object more in the map than the header counted: MicroPython's own bug */
                assert_int_equal(disagree, 1);
                assert_int_equal(d->header[BH_DUMP_ONE_BLOCKS].value + 1, fig.info.one_block_objects);
                bool explained = false;
                for (size_t n = 0; n < d->note_count; n++)
                    explained = explained || strstr(d->notes[n].text, "before v1.8.2") != NULL;
                assert_true(explained);
            } else {
                assert_int_equal(disagree, 0);
            }
        }
        bh_dump_file_free(&f);
    }
    print_message("%zu files, %zu dumps, %zu with max free sz: all equal to the library's largest free run\n",
                  files.count, dumps, with_max_free);
    assert_true(dumps >= 20);
    list_free(&files);
}

/* ---- the library prints a v1.20+ map exactly as MicroPython did */

struct kind_ctx {
    const bh_dump_heap *dh;
    const char *states;
};

static char kind_from_map(void *ctx, const void *obj, size_t blocks)
{
    (void)blocks;
    struct kind_ctx *k = ctx;
    size_t block = (size_t)((const unsigned char *)obj - (const unsigned char *)bh_dump_heap_block(k->dh, 0)) /
                   k->dh->block_bytes;
    return k->states[block] == 'h' ? 0 : k->states[block];
}

typedef struct text {
    char *s;
    size_t len;
} text;

static void append(void *ctx, const char *s, size_t len)
{
    text *t = ctx;
    t->s = realloc(t->s, t->len + len + 1);
    memcpy(t->s + t->len, s, len);
    t->len += len;
    t->s[t->len] = '\0';
}

static void test_library_prints_the_same_map(void **state)
{
    (void)state;
    name_list files;
    assert_true(list_txt(SHARED_DUMPS, &files));
    size_t compared = 0;
    for (size_t i = 0; i < files.count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", SHARED_DUMPS, files.names[i]);
        bh_dump_file f;
        assert_true(bh_dump_file_read(path, &f));
        /* the file's lines, to compare with */
        bh_lines r;
        assert_true(bh_lines_open(&r, path));
        char **lines = NULL;
        size_t n_lines = 0;
        char *l;
        while ((l = bh_lines_next(&r))) {
            lines = realloc(lines, (n_lines + 1) * sizeof *lines);
            lines[n_lines++] = strdup(l);
        }
        bh_lines_close(&r);
        for (size_t k = 0; k < f.count; k++) {
            const bh_dump *d = &f.dumps[k];
            if (d->area_count != 1 || d->areas[0].offset_digits != 8 || d->header_kind != BH_DUMP_HEADER_MEM_INFO)
                continue;
            bh_dump_heap dh;
            char why[200];
            assert_true(bh_dump_heap_load(&dh, &d->areas[0], d->block_bytes, why, sizeof why));
            text out = {0};
            struct kind_ctx kc = {&dh, d->areas[0].states};
            bh_dump_map(&dh.heap, append, &out, kind_from_map, &kc);
            /* MicroPython's lines from "GC: total" to the end of the map, the address line aside */
            char *p = out.s;
            for (unsigned long ln = d->header_line; ln <= d->areas[0].end_line; ln++) {
                char *nl = strchr(p, '\n');
                assert_non_null(nl);
                *nl = '\0';
                const char *orig = lines[ln - 1];
                if (strncmp(orig, "GC memory layout; from ", 23) == 0)
                    assert_int_equal(strncmp(p, "GC memory layout; from ", 23), 0);
                else if (strcmp(p, orig) != 0)
                    fail_msg("%s:%lu: MicroPython printed\n  %s\nthe library prints\n  %s", files.names[i], ln, orig, p);
                p = nl + 1;
            }
            assert_string_equal(p, "");
            compared++;
            free(out.s);
            bh_dump_heap_free(&dh);
        }
        for (size_t n = 0; n < n_lines; n++)
            free(lines[n]);
        free(lines);
        bh_dump_file_free(&f);
    }
    assert_true(compared >= 16);
    list_free(&files);
}

/* The real dumps bundled for a fresh clone are the shared ones, unchanged. */
static void test_bundled_copies_are_the_shared_ones(void **state)
{
    (void)state;
    name_list bundled;
    assert_true(list_txt(BUNDLED_DUMPS, &bundled));
    assert_true(bundled.count >= 3);
    for (size_t i = 0; i < bundled.count; i++) {
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/%s", BUNDLED_DUMPS, bundled.names[i]);
        snprintf(b, sizeof b, "%s/%s", SHARED_DUMPS, bundled.names[i]);
        FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
        assert_non_null(fa);
        if (!fb)
            fail_msg("%s is bundled but not in %s", bundled.names[i], SHARED_DUMPS);
        int ca, cb;
        do {
            ca = fgetc(fa);
            cb = fgetc(fb);
        } while (ca == cb && ca != EOF);
        if (ca != cb)
            fail_msg("tests/data/dumps/%s differs from the shared copy", bundled.names[i]);
        fclose(fa);
        fclose(fb);
    }
    list_free(&bundled);
}

int main(void)
{
    DIR *d = opendir(SHARED_DUMPS);
    if (!d) {
        printf("skipped: ../shared absent (%s not found)\n", SHARED_DUMPS);
        return 77;
    }
    closedir(d);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shared_dump),
        cmocka_unit_test(test_library_prints_the_same_map),
        cmocka_unit_test(test_bundled_copies_are_the_shared_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
