/* Tests of the heap-dump reader and loader (tools/dump.h) and of the analysis (tools/analyze.h).
 *
 * Maps are printed here with MicroPython's own algorithm (gc_dump_alloc_table, in each era's
 * variant) from known block states, with the header's numbers counted here from those states, so
 * the reader is checked against what MicroPython prints and not against itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "analyze.h"
#include "dump.h"
#include "util.h"

/* ------------------------------------------------------------------------------------------------
 * helpers: a growing string, temporary files, random maps, MicroPython's printing */

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof tmp);
    sb_put(b, tmp, (size_t)n);
}

static char *temp_path(const char *data, size_t len)
{
    char *path = strdup("/tmp/test_dump_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Reads text as a dump file; returns what bh_dump_file_read returned. */
static bool read_text(const char *text, bh_dump_file *f)
{
    char *path = temp_path(text, strlen(text));
    bool ok = bh_dump_file_read(path, f);
    unlink(path);
    free(path);
    return ok;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* n random block states: objects of 1..8 blocks (sometimes up to 100) with type letters, free runs
 * of 1..20 blocks (sometimes 130..300, so that whole free lines are abbreviated). */
static char *random_states(size_t n, uint64_t seed)
{
    static const char letters[] = "hhhhhhTLDSAFBMm";
    rng_state = seed * 2654435761u + 1;
    char *s = malloc(n + 1);
    assert_non_null(s);
    size_t b = 0;
    while (b < n) {
        size_t len;
        if (rnd() % 3 == 0) {
            len = rnd() % 10 == 0 ? 130 + rnd() % 170 : 1 + rnd() % 20;
            for (size_t i = 0; i < len && b < n; i++)
                s[b++] = '.';
        } else {
            len = rnd() % 12 == 0 ? 9 + rnd() % 92 : 1 + rnd() % 8;
            s[b++] = letters[rnd() % (sizeof letters - 1)];
            for (size_t i = 1; i < len && b < n; i++)
                s[b++] = '=';
        }
    }
    s[n] = '\0';
    return s;
}

typedef struct counts {
    size_t used, free, one, two, max_blk, max_free;
} counts;

/* gc_info's numbers for a map, counted here. */
static counts count_states(const char *s, size_t n)
{
    counts c = {0};
    for (size_t b = 0; b < n;) {
        size_t e = b + 1;
        if (s[b] == '.') {
            while (e < n && s[e] == '.')
                e++;
            c.free += e - b;
            if (e - b > c.max_free)
                c.max_free = e - b;
        } else {
            while (e < n && s[e] == '=')
                e++;
            c.used += e - b;
            c.one += e - b == 1;
            c.two += e - b == 2;
            if (e - b > c.max_blk)
                c.max_blk = e - b;
        }
        b = e;
    }
    return c;
}

typedef struct era {
    const char *name;
    int digits;          /* 5 or 8 */
    bool zero_x;         /* offsets printed "0x..." (some forks) */
    bool absolute;       /* pre-v1.8.1: low 20 bits of the address, 't' tails */
    bool max_free_sz;    /* header has "max free sz" (v1.8.2+) */
    size_t block_bytes;
    uint64_t address;
} era;

/* gc_dump_alloc_table as MicroPython prints it, after "GC memory layout; from ADDR:". */
static void print_map(strbuf *o, const char *s, size_t n, const era *e)
{
    for (size_t bl = 0; bl < n; bl++) {
        if (bl % 64 == 0) {
            size_t bl2 = bl;
            while (bl2 < n && s[bl2] == '.')
                bl2++;
            if (bl2 - bl >= 2 * 64) {
                sb_printf(o, "\n       (%zu lines all free)", (bl2 - bl) / 64);
                bl = bl2 & ~(size_t)63;
                if (bl >= n)
                    break;
            }
            uint64_t off = (uint64_t)bl * e->block_bytes;
            if (e->absolute)
                off = (e->address + off) & 0xfffff;
            sb_printf(o, "\n%s%0*llx: ", e->zero_x ? "0x" : "", e->digits, (unsigned long long)off);
        }
        char c = s[bl] == '=' && e->absolute ? 't' : s[bl];
        sb_put(o, &c, 1);
    }
    sb_put(o, "\n", 1);
}

/* A whole mem_info(1) dump of the states. */
static void print_dump(strbuf *o, const char *s, size_t n, const era *e)
{
    counts c = count_states(s, n);
    size_t bb = e->block_bytes;
    sb_printf(o, "stack: 2112 out of 8192\nGC: total: %zu, used: %zu, free: %zu\n", n * bb, c.used * bb, c.free * bb);
    sb_printf(o, " No. of 1-blocks: %zu, 2-blocks: %zu, max blk sz: %zu", c.one, c.two, c.max_blk);
    if (e->max_free_sz)
        sb_printf(o, ", max free sz: %zu", c.max_free);
    sb_printf(o, "\nGC memory layout; from %llx:", (unsigned long long)e->address);
    print_map(o, s, n, e);
}

static bool has_note(const bh_dump *d, const char *text)
{
    for (size_t i = 0; i < d->note_count; i++)
        if (strstr(d->notes[i].text, text))
            return true;
    return false;
}

static const era eras[] = {
    {"v1.20+", 8, false, false, true, 16, 0x565c77a0},
    {"v1.8.1-v1.19", 5, false, false, true, 16, 0x3ffeedc0},
    {"pre-v1.8.1", 5, false, true, false, 16, 0x200ff800}, /* offsets wrap past 0xfffff */
    {"0x offsets", 8, true, false, true, 16, 0x20001000},
    {"64-bit, 32-byte blocks", 8, false, false, true, 32, 0x7f0000001000},
};

/* ------------------------------------------------------------------------------------------------
 * the reader */

/* Every era, several random maps each (with free lines abbreviated mid-heap and at the end, and
 * short last lines): the states, block size and era come back, and the header agrees. */
static void test_every_era(void **state)
{
    (void)state;
    static const size_t sizes[] = {64, 700, 1000, 2372, 4000};
    for (size_t ei = 0; ei < sizeof eras / sizeof eras[0]; ei++) {
        const era *e = &eras[ei];
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            char *s = random_states(n, ei * 100 + si);
            if (si == 2)
                memset(s + n - 300, '.', 300); /* "(N lines all free)" at the end */
            strbuf text = {0};
            print_dump(&text, s, n, e);
            bh_dump_file f;
            assert_true(read_text(text.s, &f));
            assert_int_equal(f.count, 1);
            const bh_dump *d = &f.dumps[0];
            assert_int_equal(d->header_kind, BH_DUMP_HEADER_MEM_INFO);
            assert_int_equal(d->area_count, 1);
            assert_int_equal(d->block_bytes, e->block_bytes);
            assert_int_equal(d->block_bytes_from, n > 64 ? BH_DUMP_BLOCK_SIZE_FROM_OFFSETS : BH_DUMP_BLOCK_SIZE_FROM_HEADER);
            assert_int_equal(d->areas[0].blocks, n);
            assert_string_equal(d->areas[0].states, s);
            assert_true(d->areas[0].address_present);
            assert_true(d->areas[0].address == e->address);
            assert_int_equal(d->areas[0].offsets_absolute, e->absolute && (e->address & 0xfffff) != 0);
            assert_int_equal(d->areas[0].t_tails, e->absolute && strchr(s, '=') != NULL);
            assert_int_equal(d->areas[0].offset_digits, (unsigned)e->digits);
            assert_true(d->consistent);
            assert_int_equal(d->line, 1);
            bh_dump_file_free(&f);
            free(text.s);
            free(s);
        }
    }
}

/* The abbreviation of free lines at the start, in the middle, at the end, and before a final
 * partial line of free blocks. */
static void test_free_lines(void **state)
{
    (void)state;
    const era *e = &eras[0];
    struct {
        size_t n;
        size_t obj; /* one 1-block object at this block, the rest free */
    } cases[] = {{256, 200}, {640, 0}, {640, 639}, {660, 100}, {4096, 2000}, {256, 64}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = malloc(cases[i].n + 1);
        memset(s, '.', cases[i].n);
        s[cases[i].n] = '\0';
        s[cases[i].obj] = 'h';
        strbuf text = {0};
        print_dump(&text, s, cases[i].n, e);
        bh_dump_file f;
        assert_true(read_text(text.s, &f));
        assert_string_equal(f.dumps[0].areas[0].states, s);
        assert_true(f.dumps[0].consistent);
        bh_dump_file_free(&f);
        free(text.s);
        free(s);
    }
    /* a heap with nothing allocated prints no map line at all: only "(N lines all free)" */
    bh_dump_file f;
    assert_true(read_text("GC: total: 16384, used: 0, free: 16384\n No. of 1-blocks: 0, 2-blocks: 0, max blk sz: 0, "
                          "max free sz: 1024\nGC memory layout; from 1000:\n       (16 lines all free)\n", &f));
    assert_int_equal(f.dumps[0].areas[0].blocks, 1024);
    assert_int_equal(f.dumps[0].areas[0].offset_digits, 0);
    assert_true(f.dumps[0].consistent);
    bh_dump_file_free(&f);
}

/* The text around real dumps: REPL prompts and echo, soft reboots, "None", blank lines, and a
 * timestamp or log prefix before every line. */
static void test_noise_and_prefixes(void **state)
{
    (void)state;
    static const char *const prefixes[] = {"", "[12:00:01.123] ", "I (12345) app: ", "12:00:01.123 -> ", ">>> "};
    char *s = random_states(1000, 7);
    strbuf plain = {0};
    print_dump(&plain, s, 1000, &eras[1]);
    for (size_t pi = 0; pi < sizeof prefixes / sizeof prefixes[0]; pi++) {
        strbuf text = {0};
        sb_printf(&text, "MPY: soft reboot\nMicroPython v1.13 on 2020-09-02; ESP module with ESP8266\n"
                         "Type \"help()\" for more information.\n>>> import micropython\n>>> micropython.mem_info(1)\n");
        const char *p = plain.s;
        while (*p) {
            const char *nl = strchr(p, '\n');
            sb_printf(&text, "%s", prefixes[pi]);
            sb_put(&text, p, (size_t)(nl - p + 1));
            p = nl + 1;
        }
        sb_printf(&text, "None\n>>> \n\n");
        bh_dump_file f;
        assert_true(read_text(text.s, &f));
        assert_int_equal(f.count, 1);
        assert_int_equal(f.dumps[0].line, 6);
        assert_string_equal(f.dumps[0].areas[0].states, s);
        assert_true(f.dumps[0].consistent);
        bh_dump_file_free(&f);
        free(text.s);
    }
    free(plain.s);
    free(s);
}

/* A log of several dumps is a time series: each dump its own, in order, titled by the last comment
 * line before it; program output between them is noise. */
static void test_time_series(void **state)
{
    (void)state;
    strbuf text = {0};
    sb_printf(&text, "# a log\n#\n");
    char *states[3];
    for (int i = 0; i < 3; i++) {
        states[i] = random_states(640, 40 + (uint64_t)i);
        sb_printf(&text, "### dump number %d\nmem: total=%d, current=1, peak=2\n", i, 100 + i);
        print_dump(&text, states[i], 640, &eras[0]);
        sb_printf(&text, "program output %d: 12345 (True, 'x')\n", i);
    }
    bh_dump_file f;
    assert_true(read_text(text.s, &f));
    assert_int_equal(f.count, 3);
    for (int i = 0; i < 3; i++) {
        char title[32];
        snprintf(title, sizeof title, "dump number %d", i);
        assert_string_equal(f.dumps[i].title, title);
        assert_string_equal(f.dumps[i].areas[0].states, states[i]);
        assert_true(f.dumps[i].header[BH_DUMP_MEM_TOTAL].present);
        assert_int_equal(f.dumps[i].header[BH_DUMP_MEM_TOTAL].value, 100 + i);
        assert_true(f.dumps[i].consistent);
        if (i)
            assert_true(f.dumps[i].line > f.dumps[i - 1].end_line);
        free(states[i]);
    }
    bh_dump_file_free(&f);
    /* maps alone, printed again and again: each "GC memory layout" of the same pool is a new dump */
    free(text.s);
    text = (strbuf){0};
    for (int i = 0; i < 2; i++)
        sb_printf(&text, "GC memory layout; from 3ffcf2d0:\n00000: h=.hh.M..DB..h=.hh....\n");
    assert_true(read_text(text.s, &f));
    assert_int_equal(f.count, 2);
    bh_dump_file_free(&f);
    /* and so is a second bare map (no layout line) starting again at offset 0 */
    assert_true(read_text("00000: h=.h\n00000: hh..\n", &f));
    assert_int_equal(f.count, 2);
    bh_dump_file_free(&f);
    free(text.s);
}

/* pyb.info(1)'s summary (stmhal, 2015): its numbers by MicroPython's names. */
static void test_pyb_info(void **state)
{
    (void)state;
    char *s = random_states(1024, 3);
    counts c = count_states(s, 1024);
    strbuf text = {0};
    era e = eras[1];
    e.max_free_sz = false;
    sb_printf(&text, "ID=33002e00:0e473433:39373938\nS=168000000\nqstr:\n  n_pool=0\nGC:\n  %d total\n  %zu : %zu\n"
                     "  1=%zu 2=%zu m=%zu\nLFS free: 52224 bytes\nGC memory layout; from 20001e00:",
              1024 * 16, c.used * 16, c.free * 16, c.one, c.two, c.max_blk);
    print_map(&text, s, 1024, &e);
    bh_dump_file f;
    assert_true(read_text(text.s, &f));
    const bh_dump *d = &f.dumps[0];
    assert_int_equal(d->header_kind, BH_DUMP_HEADER_PYB_INFO);
    assert_int_equal(d->line, 5);
    assert_int_equal(d->header_line, 5);
    assert_int_equal(d->header[BH_DUMP_TOTAL].value, 16384);
    assert_int_equal(d->header[BH_DUMP_USED].value, c.used * 16);
    assert_int_equal(d->header[BH_DUMP_ONE_BLOCKS].value, c.one);
    assert_int_equal(d->header[BH_DUMP_MAX_BLK_SZ].value, c.max_blk);
    assert_false(d->header[BH_DUMP_MAX_FREE_SZ].present);
    assert_false(d->header[BH_DUMP_STACK].present);
    assert_true(d->consistent);
    bh_dump_file_free(&f);
    /* "GC:" that is not followed by "N total" is just text */
    assert_true(read_text("log: GC:\nsomething\nGC memory layout; from 1000:\n00000: h=..\n", &f));
    assert_int_equal(f.dumps[0].header_kind, BH_DUMP_HEADER_NONE);
    bh_dump_file_free(&f);
    free(text.s);
    free(s);
}

/* Header lines of every era: with and without "mem:", "stack: N" alone, "max new split", and the
 * block-count line without its leading space. */
static void test_header_variants(void **state)
{
    (void)state;
    bh_dump_file f;
    assert_true(read_text("mem: total=58159, current=14665, peak=48165\nstack: 736\n"
                          "GC: total: 1024, used: 48, free: 976, max new split: 8192\n"
                          "No. of 1-blocks: 1, 2-blocks: 1, max blk sz: 2, max free sz: 60\n"
                          "GC memory layout; from 1000:\n00000: h.h=............................................................\n",
                          &f));
    const bh_dump *d = &f.dumps[0];
    assert_int_equal(d->line, 1);
    assert_int_equal(d->header_line, 3);
    assert_int_equal(d->header[BH_DUMP_MEM_PEAK].value, 48165);
    assert_int_equal(d->header[BH_DUMP_STACK].value, 736);
    assert_false(d->header[BH_DUMP_STACK_OUT_OF].present);
    assert_int_equal(d->header[BH_DUMP_MAX_NEW_SPLIT].value, 8192);
    assert_int_equal(d->header[BH_DUMP_MAX_FREE_SZ].value, 60);
    assert_int_equal(d->block_bytes, 16);
    assert_int_equal(d->block_bytes_from, BH_DUMP_BLOCK_SIZE_FROM_HEADER);
    assert_true(d->consistent);
    assert_string_equal(bh_dump_field_name(BH_DUMP_ONE_BLOCKS), "No. of 1-blocks");
    assert_string_equal(bh_dump_field_name(BH_DUMP_MAX_FREE_SZ), "max free sz");
    bh_dump_file_free(&f);
}

/* A split heap: several "GC memory layout" sections after one header, whose total they share. */
static void test_split_heap(void **state)
{
    (void)state;
    char *a = random_states(1024, 11), *b = random_states(512, 12);
    memset(a + 100, '.', 200);
    counts ca = count_states(a, 1024), cb = count_states(b, 512);
    strbuf text = {0};
    sb_printf(&text, "GC: total: %d, used: %zu, free: %zu, max new split: 0\n No. of 1-blocks: %zu, 2-blocks: %zu, "
                     "max blk sz: %zu, max free sz: %zu\nGC memory layout; from 3ffc0000:",
              1536 * 16, (ca.used + cb.used) * 16, (ca.free + cb.free) * 16, ca.one + cb.one, ca.two + cb.two,
              ca.max_blk > cb.max_blk ? ca.max_blk : cb.max_blk, ca.max_free > cb.max_free ? ca.max_free : cb.max_free);
    print_map(&text, a, 1024, &eras[0]);
    sb_printf(&text, "GC memory layout; from 3f800000:");
    print_map(&text, b, 512, &eras[0]);
    bh_dump_file f;
    assert_true(read_text(text.s, &f));
    assert_int_equal(f.count, 1);
    const bh_dump *d = &f.dumps[0];
    assert_int_equal(d->area_count, 2);
    assert_int_equal(d->blocks, 1536);
    assert_string_equal(d->areas[0].states, a);
    assert_string_equal(d->areas[1].states, b);
    assert_true(d->areas[1].address == 0x3f800000);
    assert_true(d->consistent);
    assert_true(has_note(d, "split heap"));
    bh_dump_figures fig;
    char why[200];
    assert_true(bh_dump_measure(d, &fig, why, sizeof why));
    assert_int_equal(fig.info.pool_blocks, 1536);
    assert_int_equal(fig.info.largest_free_blocks, ca.max_free > cb.max_free ? ca.max_free : cb.max_free);
    bh_dump_file_free(&f);
    free(text.s);
    free(a);
    free(b);
}

/* Block size: from the offsets' step, from the header when one line cannot show it, else assumed. */
static void test_block_size(void **state)
{
    (void)state;
    bh_dump_file f;
    /* one line of 32 blocks and a header total of 1024 bytes: 32-byte blocks */
    assert_true(read_text("GC: total: 1024, used: 32, free: 992\n No. of 1-blocks: 1, 2-blocks: 0, max blk sz: 1, "
                          "max free sz: 31\nGC memory layout; from 7f001000:\n00000000: h...............................\n",
                          &f));
    assert_int_equal(f.dumps[0].block_bytes, 32);
    assert_int_equal(f.dumps[0].block_bytes_from, BH_DUMP_BLOCK_SIZE_FROM_HEADER);
    assert_true(f.dumps[0].consistent);
    bh_dump_file_free(&f);
    /* after a leading "(N lines all free)" the first line's offset tells */
    assert_true(read_text("GC memory layout; from 1000:\n       (2 lines all free)\n00001000: h...\n", &f));
    assert_int_equal(f.dumps[0].block_bytes, 32);
    assert_int_equal(f.dumps[0].areas[0].blocks, 132);
    bh_dump_file_free(&f);
    /* nothing tells: 16, said so */
    assert_true(read_text("GC memory layout; from 1000:\n00000: h=h.\n", &f));
    assert_int_equal(f.dumps[0].block_bytes, 16);
    assert_int_equal(f.dumps[0].block_bytes_from, BH_DUMP_BLOCK_SIZE_ASSUMED);
    assert_true(has_note(&f.dumps[0], "assumed"));
    bh_dump_file_free(&f);
}

/* A map whose block count is not a multiple of 4 (only a cut paste has one) is analysed as it is:
 * the guard object that pads the pool counts nowhere. Here every object is 1 block, so a 3-block
 * guard would be the largest object if it were counted. */
static void test_not_a_multiple_of_4(void **state)
{
    (void)state;
    bh_dump_file f;
    assert_true(read_text("GC memory layout; from 1000:\n00000: h.h.h....h....................h..\n", &f));
    const bh_dump *d = &f.dumps[0];
    assert_int_equal(d->areas[0].blocks, 33);
    assert_true(has_note(d, "not a multiple of 4"));
    bh_dump_figures fig;
    char why[200];
    assert_true(bh_dump_measure(d, &fig, why, sizeof why));
    assert_int_equal(fig.info.pool_blocks, 33);
    assert_int_equal(fig.info.total_bytes, 33 * 16);
    assert_int_equal(fig.info.used_blocks, 5);
    assert_int_equal(fig.info.free_blocks, 28);
    assert_int_equal(fig.info.objects, 5);
    assert_int_equal(fig.info.one_block_objects, 5);
    assert_int_equal(fig.info.two_block_objects, 0);
    assert_int_equal(fig.info.largest_object_blocks, 1);
    assert_int_equal(fig.info.largest_free_blocks, 20);
    assert_int_equal(fig.info.free_runs, 5);
    assert_true(fig.checked);
    bh_dump_file_free(&f);
}

/* A header that disagrees with a complete map is reported, not refused. */
static void test_header_disagrees(void **state)
{
    (void)state;
    char *s = random_states(1024, 5);
    counts c = count_states(s, 1024);
    strbuf text = {0};
    sb_printf(&text, "GC: total: 16384, used: %zu, free: %zu\n No. of 1-blocks: %zu, 2-blocks: %zu, max blk sz: %zu, "
                     "max free sz: %zu\nGC memory layout; from 1000:",
              c.used * 16, c.free * 16, c.one, c.two + 1, c.max_blk, c.max_free);
    print_map(&text, s, 1024, &eras[0]);
    bh_dump_file f;
    assert_true(read_text(text.s, &f));
    assert_false(f.dumps[0].consistent);
    assert_true(has_note(&f.dumps[0], "2-blocks"));
    assert_false(has_note(&f.dumps[0], "v1.8.2"));
    bh_dump_file_free(&f);
    free(text.s);
    free(s);
}

/* Before v1.8.2 an object ending in the last block was not counted: said so. */
static void test_pre_v1_8_2_count(void **state)
{
    (void)state;
    char *s = random_states(1024, 9);
    s[1022] = '.';
    s[1023] = 'h';
    counts c = count_states(s, 1024);
    strbuf text = {0};
    sb_printf(&text, "GC: total: 16384, used: %zu, free: %zu\nNo. of 1-blocks: %zu, 2-blocks: %zu, max blk sz: %zu\n"
                     "GC memory layout; from 200ff800:",
              c.used * 16, c.free * 16, c.one - 1, c.two, c.max_blk);
    print_map(&text, s, 1024, &eras[2]);
    bh_dump_file f;
    assert_true(read_text(text.s, &f));
    assert_false(f.dumps[0].consistent);
    assert_true(has_note(&f.dumps[0], "No. of 1-blocks"));
    assert_true(has_note(&f.dumps[0], "before v1.8.2"));
    assert_true(f.dumps[0].areas[0].offsets_absolute);
    bh_dump_file_free(&f);
    free(text.s);
    free(s);
}

static void test_gzip(void **state)
{
    (void)state;
    char *s = random_states(700, 21);
    strbuf text = {0};
    print_dump(&text, s, 700, &eras[0]);
    char path[] = "/tmp/test_dump_gz_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, text.s, (unsigned)text.len), (int)text.len);
    gzclose(gz);
    bh_dump_file f;
    assert_true(bh_dump_file_read(path, &f));
    assert_string_equal(f.dumps[0].areas[0].states, s);
    bh_dump_file_free(&f);
    unlink(path);
    free(text.s);
    free(s);
}

/* ------------------------------------------------------------------------------------------------
 * the loader: a real heap that is the map */

struct walk_check {
    const char *states;
    size_t blocks;
    size_t next;
    bool ok;
};

static bool check_walk(void *ctx, size_t block, size_t nblocks, bool is_free, const void *obj)
{
    (void)obj;
    struct walk_check *w = ctx;
    if (block >= w->blocks)
        return false; /* the guard */
    if (block != w->next || block + nblocks > w->blocks)
        w->ok = false;
    for (size_t b = block; b < block + nblocks && b < w->blocks; b++) {
        char s = w->states[b];
        bool want_free = s == '.';
        if (want_free != is_free || (!is_free && (b == block) != bh_dump_is_head(s)))
            w->ok = false;
    }
    if (is_free && block + nblocks < w->blocks && w->states[block + nblocks] == '.')
        w->ok = false; /* a free run the walk ends early */
    w->next = block + nblocks;
    return true;
}

static void test_load_is_the_map(void **state)
{
    (void)state;
    static const size_t sizes[] = {4, 64, 700, 1001, 4000, 16008};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t bbi = 0; bbi < 2; bbi++) {
            size_t bb = bbi ? 32 : 16;
            char *s = random_states(sizes[i], 70 + i);
            bh_dump_area a = {.blocks = sizes[i], .states = s};
            bh_dump_heap dh;
            char why[200];
            assert_true(bh_dump_heap_load(&dh, &a, bb, why, sizeof why));
            assert_true(bh_check(&dh.heap));
            assert_int_equal(dh.blocks, sizes[i]);
            assert_int_equal(dh.pad_blocks, (4 - sizes[i] % 4) % 4);
            struct walk_check w = {s, sizes[i], 0, true};
            bh_walk(&dh.heap, check_walk, &w);
            assert_true(w.ok);
            assert_int_equal(w.next, sizes[i]);
            counts c = count_states(s, sizes[i]);
            bh_info info;
            bh_dump_heap_info(&dh, &info);
            assert_int_equal(info.pool_blocks, sizes[i]);
            assert_int_equal(info.used_blocks, c.used);
            assert_int_equal(info.free_blocks, c.free);
            assert_int_equal(info.one_block_objects, c.one);
            assert_int_equal(info.two_block_objects, c.two);
            assert_int_equal(info.largest_object_blocks, c.max_blk);
            assert_int_equal(info.largest_free_blocks, c.max_free);
            assert_int_equal(bh_largest_free(&dh.heap), c.max_free * bb);
            assert_int_equal((char *)bh_dump_heap_block(&dh, 3) - (char *)bh_dump_heap_block(&dh, 0), 3 * bb);
            bh_dump_heap_free(&dh);
            free(s);
        }
    }
}

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
    char s = k->states[block];
    return s == 'h' ? 0 : s;
}

static void print_to_strbuf(void *ctx, const char *s, size_t len) { sb_put(ctx, s, len); }

/* The library prints the reproduced heap as mem_info(1) does; reading that back gives the same map,
 * and its header (the library's own figures) agrees with it. */
static void test_library_map_round_trip(void **state)
{
    (void)state;
    for (uint64_t seed = 0; seed < 12; seed++) {
        size_t n = 64 * (1 + seed * 7) + 4 * (seed % 16);
        char *s = random_states(n, 500 + seed);
        bh_dump_area a = {.blocks = n, .states = s};
        bh_dump_heap dh;
        char why[200];
        assert_true(bh_dump_heap_load(&dh, &a, 16, why, sizeof why));
        strbuf text = {0};
        struct kind_ctx k = {&dh, s};
        bh_dump_map(&dh.heap, print_to_strbuf, &text, kind_from_map, &k);
        bh_dump_file f;
        assert_true(read_text(text.s, &f));
        assert_string_equal(f.dumps[0].areas[0].states, s);
        assert_true(f.dumps[0].consistent);
        bh_dump_file_free(&f);
        bh_dump_heap_free(&dh);
        free(text.s);
        free(s);
    }
}

/* ------------------------------------------------------------------------------------------------
 * the analysis, on a map worked out by hand:
 *
 *   blocks  0-9 free | 10 A (h, 1) | 11-20 free | 21-22 B (h, 2) | 23-52 free (30: the longest) |
 *   53-55 C (T, 3) | 56-59 free | 60, 61, 62, 63: D1-D4 (h, 1 each)
 *
 *   free 54 blocks in 4 runs; fragmentation 1 - 30/54.
 *   walls, by free blocks joined into a run longer than 30:
 *     1 object:  B joins 10 + 30 -> a run of 42 (A would join 20 -> 21: too short; C 34 -> 37)
 *     2 objects: A, B join 10 + 10 + 30 -> 53
 *     3 objects: A, B, C join 10 + 10 + 30 + 4 -> 60
 *   --need 40 blocks: fragmented; freeing B (2 blocks) makes 42.
 *   --need 60 blocks: fragmented; freeing A, B, C (6 blocks) makes 60.
 *   --need 100 blocks: exhausted; no room anywhere. */
#define HAND_MAP "..........h..........h=..............................T==....hhhh"

static void test_analysis_by_hand(void **state)
{
    (void)state;
    assert_int_equal(strlen(HAND_MAP), 64);
    bh_dump_file f;
    assert_true(read_text("GC memory layout; from 20000000:\n00000: " HAND_MAP "\n", &f));
    const bh_dump *d = &f.dumps[0];
    bh_dump_analysis an;
    char why[200];
    assert_true(bh_dump_analyse(d, 40 * 16, &an, why, sizeof why));
    assert_int_equal(an.fig.info.free_blocks, 54);
    assert_int_equal(an.fig.info.largest_free_blocks, 30);
    assert_int_equal(an.fig.info.free_runs, 4);
    assert_int_equal(an.fig.run_hist[1], 0);
    assert_int_equal(an.fig.run_hist[2], 1); /* 4-7: the 4 */
    assert_int_equal(an.fig.run_hist[3], 2); /* 8-15: the two 10s */
    assert_int_equal(an.fig.run_hist[4], 1); /* 16-31: the 30 */
    assert_true(an.fragmentation > 1.0 - 30.0 / 54.0 - 1e-9 && an.fragmentation < 1.0 - 30.0 / 54.0 + 1e-9);
    assert_int_equal(an.largest_run_block, 23);
    assert_int_equal(an.walls[0].count, 1);
    assert_int_equal(an.walls[0].objects[0].block, 21);
    assert_int_equal(an.walls[0].freed_blocks, 2);
    assert_int_equal(an.walls[0].run_blocks, 42);
    assert_int_equal(an.walls[0].run_block, 11);
    assert_int_equal(an.walls[1].count, 2);
    assert_int_equal(an.walls[1].objects[0].block, 10);
    assert_int_equal(an.walls[1].run_blocks, 53);
    assert_int_equal(an.walls[1].run_block, 0);
    assert_int_equal(an.walls[2].count, 3);
    assert_int_equal(an.walls[2].objects[2].block, 53);
    assert_int_equal(an.walls[2].freed_blocks, 6);
    assert_int_equal(an.walls[2].run_blocks, 60);
    assert_int_equal(an.need_blocks, 40);
    assert_false(an.need_fits);
    assert_int_equal(an.need_verdict, BH_VERDICT_FRAGMENTED);
    assert_int_equal(an.need_room.count, 1);
    assert_int_equal(an.need_room.objects[0].block, 21);
    assert_int_equal(an.need_room.run_blocks, 42);
    /* objects: h 6 (7 blocks), T 1 (3 blocks); sizes 1: 5, 2: 1, 3-4: 1 */
    assert_int_equal(an.type_count, 2);
    assert_int_equal(an.types[0].type, 'h');
    assert_int_equal(an.types[0].objects, 6);
    assert_int_equal(an.types[0].blocks, 7);
    assert_int_equal(an.types[1].type, 'T');
    assert_int_equal(an.size_objects[0], 5);
    assert_int_equal(an.size_objects[1], 1);
    assert_int_equal(an.size_objects[2], 1);
    assert_int_equal(an.largest[0].block, 53);
    char where[64];
    assert_string_equal(bh_dump_where(where, sizeof where, d, 0, 53), "0x20000350");

    assert_true(bh_dump_analyse(d, 60 * 16, &an, why, sizeof why));
    assert_int_equal(an.need_room.count, 3);
    assert_int_equal(an.need_room.freed_blocks, 6);
    assert_int_equal(an.need_room.run_blocks, 60);

    assert_true(bh_dump_analyse(d, 100 * 16, &an, why, sizeof why));
    assert_int_equal(an.need_verdict, BH_VERDICT_EXHAUSTED);
    assert_int_equal(an.need_room.count, 0);

    assert_true(bh_dump_analyse(d, 30 * 16, &an, why, sizeof why));
    assert_true(an.need_fits);
    assert_int_equal(an.need_verdict, BH_VERDICT_NONE);
    bh_dump_file_free(&f);
}

/* The walls and the room found by the linear searches are the best of all windows (brute force). */
static void test_walls_are_optimal(void **state)
{
    (void)state;
    for (uint64_t seed = 0; seed < 20; seed++) {
        size_t n = 256 + 64 * seed;
        char *s = random_states(n, 900 + seed);
        bh_dump_file f;
        strbuf text = {0};
        sb_printf(&text, "GC memory layout; from 1000:");
        print_map(&text, s, n, &eras[0]);
        assert_true(read_text(text.s, &f));
        counts c = count_states(s, n);
        size_t need = c.max_free + 1 + seed * 3;
        bh_dump_analysis an;
        char why[200];
        assert_true(bh_dump_analyse(&f.dumps[0], need * 16, &an, why, sizeof why));
        /* objects and gaps, counted here */
        size_t heads[4096], sizes[4096], gaps[4097], m = 0, run = 0;
        for (size_t b = 0; b < n;) {
            if (s[b] == '.') {
                run++;
                b++;
                continue;
            }
            size_t e = b + 1;
            while (e < n && s[e] == '=')
                e++;
            heads[m] = b;
            sizes[m] = e - b;
            gaps[m++] = run;
            run = 0;
            b = e;
        }
        gaps[m] = run;
        for (size_t k = 1; k <= 3; k++) {
            size_t best_joined = 0, best_freed = 0;
            bool found = false;
            for (size_t i = 0; i + k <= m; i++) {
                size_t joined = 0, freed = 0;
                for (size_t j = i; j <= i + k; j++)
                    joined += gaps[j];
                for (size_t j = i; j < i + k; j++)
                    freed += sizes[j];
                if (joined + freed <= c.max_free)
                    continue;
                if (!found || joined > best_joined || (joined == best_joined && freed < best_freed)) {
                    best_joined = joined;
                    best_freed = freed;
                    found = true;
                }
            }
            assert_int_equal(an.walls[k - 1].count, found ? k : 0);
            if (found) {
                assert_int_equal(an.walls[k - 1].freed_blocks, best_freed);
                assert_int_equal(an.walls[k - 1].run_blocks, best_joined + best_freed);
            }
        }
        size_t best_room = SIZE_MAX;
        for (size_t i = 0; i < m; i++) {
            size_t joined = gaps[i], freed = 0;
            for (size_t j = i; j < m; j++) {
                freed += sizes[j];
                joined += gaps[j + 1];
                if (joined + freed >= need) {
                    if (freed < best_room)
                        best_room = freed;
                    break;
                }
            }
        }
        if (best_room == SIZE_MAX)
            assert_int_equal(an.need_room.count, 0);
        else
            assert_int_equal(an.need_room.freed_blocks, best_room);
        (void)heads;
        bh_dump_file_free(&f);
        free(text.s);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_era),
        cmocka_unit_test(test_free_lines),
        cmocka_unit_test(test_noise_and_prefixes),
        cmocka_unit_test(test_time_series),
        cmocka_unit_test(test_pyb_info),
        cmocka_unit_test(test_header_variants),
        cmocka_unit_test(test_split_heap),
        cmocka_unit_test(test_block_size),
        cmocka_unit_test(test_not_a_multiple_of_4),
        cmocka_unit_test(test_header_disagrees),
        cmocka_unit_test(test_pre_v1_8_2_count),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_load_is_the_map),
        cmocka_unit_test(test_library_map_round_trip),
        cmocka_unit_test(test_analysis_by_hand),
        cmocka_unit_test(test_walls_are_optimal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
