/* Reading MicroPython heap dumps (see dump.h for what is accepted) and reproducing them in a bh_heap.
 *
 * The reader is a line-at-a-time state machine. Each line is classified after any prefix (a
 * timestamp, a REPL prompt) by the MicroPython text it ends with or contains; anything unrecognised
 * is noise. A dump is built as its lines come; its block size and the meaning of its offsets need
 * all of its lines, so they are resolved, and the offsets checked, when the dump ends (at the next
 * dump or the end of the file). */
#include "dump.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---------------------------------------------------------------------------------------------- */
/* Names                                                                                          */

static const char *const field_names[BH_DUMP_FIELD_COUNT] = {
    [BH_DUMP_STACK] = "stack",
    [BH_DUMP_STACK_OUT_OF] = "stack out of",
    [BH_DUMP_MEM_TOTAL] = "mem total",
    [BH_DUMP_MEM_CURRENT] = "mem current",
    [BH_DUMP_MEM_PEAK] = "mem peak",
    [BH_DUMP_TOTAL] = "total",
    [BH_DUMP_USED] = "used",
    [BH_DUMP_FREE] = "free",
    [BH_DUMP_MAX_NEW_SPLIT] = "max new split",
    [BH_DUMP_ONE_BLOCKS] = "No. of 1-blocks",
    [BH_DUMP_TWO_BLOCKS] = "2-blocks",
    [BH_DUMP_MAX_BLK_SZ] = "max blk sz",
    [BH_DUMP_MAX_FREE_SZ] = "max free sz",
};

const char *bh_dump_field_name(bh_dump_field f)
{
    return (unsigned)f < BH_DUMP_FIELD_COUNT ? field_names[f] : "?";
}

const char *bh_dump_format_name(const bh_dump *d)
{
    const bh_dump_area *a = NULL;
    for (size_t i = 0; i < d->area_count && !a; i++)
        if (d->areas[i].offset_digits)
            a = &d->areas[i];
    if (!a)
        return "map of free lines only";
    if (a->offsets_absolute || a->t_tails)
        return "pre-v1.8.1 ('t' tails, address offsets)";
    return a->offset_digits >= 8 ? "v1.20+ (8-digit offsets)" : "v1.8.1-v1.19 (5-digit offsets)";
}

bool bh_dump_is_head(char state)
{
    return state == 'h' || state == 'm' || state == 'q' || (state >= 'A' && state <= 'Z');
}

/* Every character MicroPython prints in a map line ('t' is the pre-v1.8.1 tail). */
static bool is_map_char(char c)
{
    return c == '.' || c == '=' || c == 't' || bh_dump_is_head(c);
}

size_t bh_dump_object_blocks(const bh_dump_area *a, size_t block)
{
    if (block >= a->blocks || !bh_dump_is_head(a->states[block]))
        return 0;
    size_t end = block + 1;
    while (end < a->blocks && a->states[end] == '=')
        end++;
    return end - block;
}

/* ---------------------------------------------------------------------------------------------- */
/* Small text helpers                                                                             */

static bool is_space(char c) { return c == ' ' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Matches pat at s: ' ' in pat matches any run of blanks (or none), '#' a decimal number (stored in
 * nums in order), anything else itself. Returns the characters matched, or -1. */
static long match_pattern(const char *s, const char *pat, uint64_t *nums, size_t *n_nums)
{
    const char *p = s;
    for (; *pat; pat++) {
        if (*pat == ' ') {
            while (is_space(*p))
                p++;
        } else if (*pat == '#') {
            const char *start = p;
            while (is_digit(*p))
                p++;
            uint64_t v;
            if (!bh_parse_u64(start, (size_t)(p - start), &v))
                return -1;
            nums[(*n_nums)++] = v;
        } else if (*p == *pat) {
            p++;
        } else {
            return -1;
        }
    }
    return (long)(p - s);
}

/* True if all of s is blank. */
static bool blank(const char *s)
{
    while (is_space(*s))
        s++;
    return *s == '\0';
}

/* pat must match the whole of s (trailing blanks allowed). */
static bool match_whole(const char *s, const char *pat, uint64_t *nums, size_t *n_nums)
{
    size_t n = *n_nums;
    long used = match_pattern(s, pat, nums, n_nums);
    if (used < 0 || !blank(s + used)) {
        *n_nums = n;
        return false;
    }
    return true;
}

/* The start of the word `suffix_pat` may begin at: the start of the line or after a non-alphanumeric
 * character (so that a prefix such as "[12:00:01] " or ">>> " is allowed but "xGC:" is not). */
static bool at_word_start(const char *line, const char *at)
{
    return at == line || !is_alnum(at[-1]);
}

/* ---------------------------------------------------------------------------------------------- */
/* Line classification                                                                            */

typedef enum line_kind {
    LINE_NOISE = 0,
    LINE_COMMENT,
    LINE_MEM,       /* mem: total=, current=, peak= */
    LINE_STACK,     /* stack: N [out of M] */
    LINE_GC_TOTAL,  /* GC: total: ..., used: ..., free: ... [, max new split: ...] */
    LINE_GC_BLOCKS, /* No. of 1-blocks: ..., 2-blocks: ..., max blk sz: ... [, max free sz: ...] */
    LINE_PYB_GC,    /* "GC:" alone: pyb.info's summary follows */
    LINE_LAYOUT,    /* GC memory layout; from ADDR: */
    LINE_MAP,       /* OFFSET: chars */
    LINE_SKIP,      /* (N lines all free) */
    LINE_BAD        /* MicroPython's words but malformed: an error inside a dump (see why) */
} line_kind;

typedef struct classified {
    line_kind kind;
    uint64_t nums[8];
    size_t n_nums;
    /* LINE_MAP */
    uint64_t offset;
    unsigned digits;
    const char *chars;
    size_t n_chars;
    size_t chars_column;   /* 1-based column of chars[0] */
    /* LINE_BAD (and a LINE_MAP with a character MicroPython never prints) */
    char why[160];
    bool bad_is_map;       /* LINE_BAD from a map-like line: only an error inside a map */
} classified;

/* A map line: "[0x]HEX: chars" at the end of the line, HEX being 5 to 8 digits at a word start.
 * Map characters contain no ':', so the offset's colon is the last one in the line. */
static bool classify_map(const char *line, size_t len, classified *c)
{
    const char *colon = NULL;
    for (size_t i = len; i-- > 0;)
        if (line[i] == ':') {
            colon = line + i;
            break;
        }
    if (!colon || (colon[1] != ' ' && colon[1] != '\0'))
        return false;
    const char *hex = colon;
    while (hex > line && hex_value(hex[-1]) >= 0)
        hex--;
    size_t digits = (size_t)(colon - hex);
    if (digits < 5 || digits > 8)
        return false;
    const char *word = hex;
    if (word - line >= 2 && word[-1] == 'x' && word[-2] == '0')
        word -= 2;
    if (!at_word_start(line, word))
        return false;
    uint64_t off = 0;
    for (const char *p = hex; p < colon; p++)
        off = off * 16 + (uint64_t)hex_value(*p);
    c->offset = off;
    c->digits = (unsigned)digits;
    c->chars = colon[1] ? colon + 2 : colon + 1;
    c->n_chars = (size_t)(line + len - c->chars);
    c->chars_column = (size_t)(c->chars - line) + 1;
    for (size_t i = 0; i < c->n_chars; i++) {
        if (!is_map_char(c->chars[i])) {
            c->kind = LINE_BAD;
            c->bad_is_map = true;
            if ((unsigned char)c->chars[i] >= 0x20 && (unsigned char)c->chars[i] < 0x7f)
                snprintf(c->why, sizeof c->why, "map line: '%c' at column %zu is not a block state "
                         "MicroPython prints (. = h m t or a type letter)", c->chars[i], c->chars_column + i);
            else
                snprintf(c->why, sizeof c->why, "map line: byte 0x%02x at column %zu is not a block "
                         "state MicroPython prints", (unsigned char)c->chars[i], c->chars_column + i);
            return true;
        }
    }
    c->kind = LINE_MAP;
    return true;
}

/* "(N lines all free)" at the end of the line. */
static bool classify_skip(const char *line, size_t len, classified *c)
{
    static const char tail[] = " lines all free)";
    size_t tl = sizeof tail - 1;
    if (len < tl + 2 || memcmp(line + len - tl, tail, tl) != 0)
        return false;
    const char *end = line + len - tl;
    const char *p = end;
    while (p > line && is_digit(p[-1]))
        p--;
    uint64_t n;
    if (p == line || p[-1] != '(' || !at_word_start(line, p - 1) || !bh_parse_u64(p, (size_t)(end - p), &n)) {
        c->kind = LINE_BAD;
        snprintf(c->why, sizeof c->why, "malformed '(N lines all free)' line");
        return true;
    }
    c->kind = LINE_SKIP;
    c->nums[0] = n;
    c->n_nums = 1;
    return true;
}

static void classify(const char *line, size_t len, classified *c)
{
    memset(c, 0, sizeof *c);
    const char *at;
    if (line[0] == '#') {
        c->kind = LINE_COMMENT;
        return;
    }
    if ((at = strstr(line, "GC memory layout; from"))) {
        const char *p = at + strlen("GC memory layout; from");
        while (is_space(*p))
            p++;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
            p += 2;
        uint64_t addr = 0;
        size_t digits = 0;
        while (hex_value(*p) >= 0 && digits < 17) {
            addr = addr * 16 + (uint64_t)hex_value(*p++);
            digits++;
        }
        if (digits == 0 || digits > 16 || *p != ':' || !blank(p + 1)) {
            c->kind = LINE_BAD;
            snprintf(c->why, sizeof c->why, "malformed 'GC memory layout; from ADDRESS:' line");
            return;
        }
        c->kind = LINE_LAYOUT;
        c->nums[0] = addr;
        c->n_nums = 1;
        return;
    }
    if ((at = strstr(line, "GC: total:"))) {
        if (!match_whole(at, "GC: total: #, used: #, free: #", c->nums, &c->n_nums) &&
            !match_whole(at, "GC: total: #, used: #, free: #, max new split: #", c->nums, &c->n_nums)) {
            c->kind = LINE_BAD;
            snprintf(c->why, sizeof c->why, "malformed GC line: expected 'GC: total: N, used: N, free: N' "
                     "(and optionally ', max new split: N')");
            return;
        }
        c->kind = LINE_GC_TOTAL;
        return;
    }
    if ((at = strstr(line, "No. of 1-blocks:"))) {
        if (!match_whole(at, "No. of 1-blocks: #, 2-blocks: #, max blk sz: #", c->nums, &c->n_nums) &&
            !match_whole(at, "No. of 1-blocks: #, 2-blocks: #, max blk sz: #, max free sz: #", c->nums, &c->n_nums)) {
            c->kind = LINE_BAD;
            snprintf(c->why, sizeof c->why, "malformed block-count line: expected 'No. of 1-blocks: N, "
                     "2-blocks: N, max blk sz: N' (and optionally ', max free sz: N')");
            return;
        }
        c->kind = LINE_GC_BLOCKS;
        return;
    }
    if ((at = strstr(line, "mem: total="))) {
        if (!match_whole(at, "mem: total=#, current=#, peak=#", c->nums, &c->n_nums)) {
            c->kind = LINE_BAD;
            snprintf(c->why, sizeof c->why, "malformed mem line: expected 'mem: total=N, current=N, peak=N'");
            return;
        }
        c->kind = LINE_MEM;
        return;
    }
    /* "stack:" is a common word: only the exact MicroPython line counts, anything else is noise */
    if ((at = strstr(line, "stack: ")) && at_word_start(line, at)) {
        if (match_whole(at, "stack: # out of #", c->nums, &c->n_nums) || match_whole(at, "stack: #", c->nums, &c->n_nums)) {
            c->kind = LINE_STACK;
            return;
        }
    }
    if (classify_skip(line, len, c))
        return;
    if (len >= 3 && strcmp(line + len - 3, "GC:") == 0 && at_word_start(line, line + len - 3)) {
        c->kind = LINE_PYB_GC;
        return;
    }
    if (classify_map(line, len, c))
        return;
    c->kind = LINE_NOISE;
}

/* pyb.info's three summary lines, each at the end of its line after blanks (or a prefix). */
static bool match_tail_numbers(const char *line, const char *pat, uint64_t *nums, size_t *n)
{
    for (const char *p = line; *p; p++) {
        if (p != line && !is_space(p[-1]))
            continue;
        size_t k = 0;
        if (match_whole(p, pat, nums, &k)) {
            *n = k;
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------------- */
/* The reader's state                                                                             */

typedef struct map_line {
    size_t block;          /* the area's block its first character is */
    uint64_t offset;       /* as printed */
    unsigned digits;
    unsigned long line;
} map_line;

/* An area being read. */
typedef struct area_builder {
    bh_dump_area a;
    size_t states_cap;
    map_line *lines;
    size_t n_lines, lines_cap;
    unsigned long short_line;  /* a printed line of fewer than 64 blocks: it must be the area's last */
    size_t short_len;
    bool last_was_skip;
    char prev_state;           /* the last block's state; 0 at the start */
    bool no_layout_line;
} area_builder;

typedef enum expect {
    EXPECT_NOTHING = 0,
    EXPECT_GC_BLOCKS,      /* after "GC: total:" */
    EXPECT_PYB_TOTAL,      /* after "GC:" alone: if the next line is not "N total", it was noise */
    EXPECT_PYB_USED_FREE,
    EXPECT_PYB_COUNTS
} expect;

typedef struct reader {
    bh_dump_file *out;
    size_t dumps_cap;
    bool in_dump;
    bh_dump cur;
    size_t notes_cap;
    area_builder *areas;
    size_t n_areas, areas_cap;
    bool area_open;
    expect expect;
    unsigned long expect_line;
    char *title;               /* the latest comment line, for the next dump */
    bool failed;
} reader;

static void fail(reader *r, unsigned long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(reader *r, unsigned long line, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    r->out->error_line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->out->error, sizeof r->out->error, fmt, ap);
    va_end(ap);
}

static void oom(reader *r, unsigned long line) { fail(r, line, "out of memory"); }

/* Grows *p (of *cap elements of size el) to hold at least need. */
static bool grow(void **p, size_t *cap, size_t need, size_t el)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * el);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static void add_note_to(bh_dump *d, size_t *cap, unsigned long line, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (!grow((void **)&d->notes, cap, d->note_count + 1, sizeof *d->notes))
        return;
    char *text = strdup(buf);
    if (!text)
        return;
    d->notes[d->note_count].line = line;
    d->notes[d->note_count].text = text;
    d->note_count++;
}

static void note(reader *r, unsigned long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(reader *r, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_note_to(&r->cur, &r->notes_cap, line, fmt, ap);
    va_end(ap);
}

static void dump_free(bh_dump *d)
{
    for (size_t i = 0; i < d->area_count; i++)
        free(d->areas[i].states);
    free(d->areas);
    for (size_t i = 0; i < d->note_count; i++)
        free(d->notes[i].text);
    free(d->notes);
    free(d->title);
    memset(d, 0, sizeof *d);
}

static void builders_free(reader *r)
{
    for (size_t i = 0; i < r->n_areas; i++) {
        free(r->areas[i].a.states);
        free(r->areas[i].lines);
    }
    r->n_areas = 0;
    r->area_open = false;
}

static void start_dump(reader *r, unsigned long line)
{
    memset(&r->cur, 0, sizeof r->cur);
    r->notes_cap = 0;
    r->cur.line = line;
    r->cur.end_line = line;
    r->cur.title = r->title;
    r->title = NULL;
    r->cur.consistent = true;
    r->in_dump = true;
}

/* The dump has its "GC: total" (or pyb.info "GC:") line. */
static bool cur_has_gc_header(const reader *r)
{
    return r->cur.header_line != 0;
}

static void open_area(reader *r, unsigned long line, bool address_present, uint64_t address)
{
    if (!grow((void **)&r->areas, &r->areas_cap, r->n_areas + 1, sizeof *r->areas)) {
        oom(r, line);
        return;
    }
    area_builder *b = &r->areas[r->n_areas++];
    memset(b, 0, sizeof *b);
    b->a.line = line;
    b->a.end_line = line;
    b->a.address_present = address_present;
    b->a.address = address;
    b->no_layout_line = !address_present;
    r->area_open = true;
    r->cur.end_line = line;
}

static size_t cur_blocks(const reader *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_areas; i++)
        n += r->areas[i].a.blocks;
    return n;
}

/* Appends n copies of state (or the chars) to the area, within BH_DUMP_MAX_BLOCKS for the dump. */
static bool area_reserve(reader *r, area_builder *b, size_t n, unsigned long line)
{
    if (n > BH_DUMP_MAX_BLOCKS || cur_blocks(r) + n > BH_DUMP_MAX_BLOCKS) {
        fail(r, line, "the dump would exceed %zu blocks: not a MicroPython heap this tool can hold",
             (size_t)BH_DUMP_MAX_BLOCKS);
        return false;
    }
    if (!grow((void **)&b->a.states, &b->states_cap, b->a.blocks + n + 1, 1)) {
        oom(r, line);
        return false;
    }
    return true;
}

/* A map line or a skip after a short line: the short line was cut. */
static bool check_not_after_short(reader *r, area_builder *b, unsigned long line)
{
    if (b->short_line) {
        fail(r, b->short_line, "map line has %zu blocks, but only the last line of a map can have fewer "
             "than %d, and the map goes on at line %lu: the line was cut", b->short_len,
             BH_DUMP_LINE_BLOCKS, line);
        return false;
    }
    return true;
}

/* The area a map line or a skip belongs to; opens one when a header had no layout line. */
static area_builder *area_for_map(reader *r, unsigned long line)
{
    if (!r->area_open) {
        open_area(r, line, false, 0);
        if (r->failed)
            return NULL;
    }
    return &r->areas[r->n_areas - 1];
}

static void on_map_line(reader *r, unsigned long line, const classified *c)
{
    area_builder *b = area_for_map(r, line);
    if (!b || !check_not_after_short(r, b, line))
        return;
    if (c->n_chars == 0) {
        fail(r, line, "map line without any block after its offset");
        return;
    }
    if (c->n_chars > BH_DUMP_LINE_BLOCKS) {
        fail(r, line, "map line has %zu blocks; MicroPython prints %d per line", c->n_chars, BH_DUMP_LINE_BLOCKS);
        return;
    }
    if (!area_reserve(r, b, c->n_chars, line))
        return;
    if (!grow((void **)&b->lines, &b->lines_cap, b->n_lines + 1, sizeof *b->lines)) {
        oom(r, line);
        return;
    }
    b->lines[b->n_lines++] = (map_line){b->a.blocks, c->offset, c->digits, line};
    for (size_t i = 0; i < c->n_chars; i++) {
        char s = c->chars[i];
        if (s == 't') {
            b->a.t_tails = true;
            s = '=';
        }
        if (s == '=' && (b->prev_state == 0 || b->prev_state == '.')) {
            fail(r, line, "tail block at column %zu follows %s: a tail must follow its object's head",
                 c->chars_column + i, b->prev_state ? "a free block" : "the start of the map");
            return;
        }
        b->a.states[b->a.blocks++] = s;
        b->prev_state = s;
    }
    b->a.states[b->a.blocks] = '\0';
    if (c->n_chars < BH_DUMP_LINE_BLOCKS) {
        b->short_line = line;
        b->short_len = c->n_chars;
    }
    b->last_was_skip = false;
    b->a.end_line = line;
    r->cur.end_line = line;
}

static void on_skip(reader *r, unsigned long line, uint64_t lines_free)
{
    area_builder *b = area_for_map(r, line);
    if (!b || !check_not_after_short(r, b, line))
        return;
    if (lines_free < 2) {
        fail(r, line, "'(%llu lines all free)': MicroPython abbreviates only 2 or more free lines",
             (unsigned long long)lines_free);
        return;
    }
    if (b->last_was_skip) {
        fail(r, line, "two '(N lines all free)' in a row: the map line between them is missing");
        return;
    }
    if (lines_free > BH_DUMP_MAX_BLOCKS / BH_DUMP_LINE_BLOCKS) {
        fail(r, line, "'(%llu lines all free)' is more than this tool can hold (%zu blocks)",
             (unsigned long long)lines_free, (size_t)BH_DUMP_MAX_BLOCKS);
        return;
    }
    size_t n = (size_t)lines_free * BH_DUMP_LINE_BLOCKS;
    if (!area_reserve(r, b, n, line))
        return;
    memset(b->a.states + b->a.blocks, '.', n);
    b->a.blocks += n;
    b->a.states[b->a.blocks] = '\0';
    b->prev_state = '.';
    b->last_was_skip = true;
    b->a.end_line = line;
    r->cur.end_line = line;
}

/* ---------------------------------------------------------------------------------------------- */
/* Ending a dump: block size, offsets, notes                                                      */

#define ADDRESS_OFFSET_MASK 0xfffffu /* pre-v1.8.1 offsets: the low 20 bits of the address */

/* The byte step between two printed lines, allowing the 20-bit wrap of pre-v1.8.1 offsets. */
static bool line_step(const map_line *a, const map_line *b, uint64_t *block_bytes)
{
    uint64_t db = b->block - a->block;
    uint64_t doff;
    if (b->offset >= a->offset)
        doff = b->offset - a->offset;
    else if (a->offset <= ADDRESS_OFFSET_MASK && b->offset <= ADDRESS_OFFSET_MASK)
        doff = b->offset + (ADDRESS_OFFSET_MASK + 1) - a->offset;
    else
        return false;
    if (db == 0 || doff % db != 0)
        return false;
    uint64_t bb = doff / db;
    if (!is_pow2(bb) || bb < 4 || bb > 65536)
        return false;
    *block_bytes = bb;
    return true;
}

/* The block size the most line pairs agree on (a missing line makes one pair look like a bigger
 * block size; the majority is right and the odd line is then reported by the offset check). */
static size_t block_bytes_from_offsets(reader *r)
{
    uint64_t cand[16];
    size_t votes[16], n_cand = 0;
    for (size_t i = 0; i < r->n_areas; i++) {
        const area_builder *b = &r->areas[i];
        for (size_t j = 1; j < b->n_lines; j++) {
            uint64_t bb;
            if (!line_step(&b->lines[j - 1], &b->lines[j], &bb))
                continue;
            size_t k = 0;
            while (k < n_cand && cand[k] != bb)
                k++;
            if (k == n_cand) {
                if (n_cand == 16)
                    continue;
                cand[n_cand] = bb;
                votes[n_cand++] = 0;
            }
            votes[k]++;
        }
    }
    size_t best = 0;
    for (size_t k = 1; k < n_cand; k++)
        if (votes[k] > votes[best])
            best = k;
    return n_cand ? (size_t)cand[best] : 0;
}

/* Checks every printed offset of an area against its block number and decides whether offsets count
 * from the pool (v1.8.1+) or are the low 20 bits of the block's address (up to v1.8.0). */
static void check_offsets(reader *r, area_builder *b, size_t block_bytes)
{
    if (b->n_lines == 0)
        return;
    const map_line *first = &b->lines[0];
    b->a.offset_digits = first->digits;
    uint64_t first_expected_rel = (uint64_t)first->block * block_bytes;
    bool absolute = false;
    if (first->offset != first_expected_rel) {
        uint64_t want = b->a.address_present ? ((b->a.address + first_expected_rel) & ADDRESS_OFFSET_MASK) : 0;
        if (b->a.address_present && first->digits == 5 && first->offset == want) {
            absolute = true;
        } else {
            char also[96] = "";
            if (b->a.address_present)
                snprintf(also, sizeof also, ", or %05llx (the low 20 bits of its address, before v1.8.1)",
                         (unsigned long long)want);
            fail(r, first->line, "first map line's offset is %0*llx, expected %0*llx (its block %zu x %zu bytes "
                 "from the pool's start)%s", (int)first->digits, (unsigned long long)first->offset,
                 (int)first->digits, (unsigned long long)first_expected_rel, first->block, block_bytes, also);
            return;
        }
    }
    b->a.offsets_absolute = absolute;
    for (size_t j = 1; j < b->n_lines; j++) {
        const map_line *l = &b->lines[j];
        uint64_t want = (uint64_t)l->block * block_bytes;
        if (absolute)
            want = (b->a.address + want) & ADDRESS_OFFSET_MASK;
        if (l->offset != want) {
            fail(r, l->line, "map line's offset is %0*llx where %0*llx follows from the lines before "
                 "(%zu-byte blocks): a line is missing, repeated or out of order", (int)l->digits,
                 (unsigned long long)l->offset, (int)l->digits, (unsigned long long)want, block_bytes);
            return;
        }
    }
}

static void finish_dump(reader *r)
{
    bh_dump *d = &r->cur;
    if (r->failed)
        return;
    if (r->expect == EXPECT_GC_BLOCKS) {
        fail(r, r->expect_line, "'GC: total' line is not followed by its ' No. of 1-blocks: ...' line: "
             "the dump is cut short");
        return;
    }
    if (r->expect == EXPECT_PYB_USED_FREE || r->expect == EXPECT_PYB_COUNTS) {
        fail(r, r->expect_line, "pyb.info's 'GC:' summary is incomplete: expected '  N total', '  N : N' "
             "and '  1=N 2=N m=N'");
        return;
    }
    r->expect = EXPECT_NOTHING;
    if (r->n_areas == 0) {
        fail(r, d->header_line ? d->header_line : d->line, "a GC header without a memory map after it "
             "(print micropython.mem_info(1), with the 1; or the dump was cut short)");
        return;
    }
    for (size_t i = 0; i < r->n_areas; i++) {
        if (r->areas[i].a.blocks == 0) {
            fail(r, r->areas[i].a.line, "'GC memory layout' without any map line after it: the dump is cut short");
            return;
        }
    }
    size_t blocks = cur_blocks(r);
    size_t bb = block_bytes_from_offsets(r);
    bh_dump_block_size_source from = BH_DUMP_BLOCK_SIZE_FROM_OFFSETS;
    const bh_dump_number *total = &d->header[BH_DUMP_TOTAL];
    const area_builder *last = &r->areas[r->n_areas - 1];
    /* offsets first: a missing or repeated line is then named exactly, before the totals disagree */
    for (size_t i = 0; bb && i < r->n_areas && !r->failed; i++)
        check_offsets(r, &r->areas[i], bb);
    if (r->failed)
        return;
    bool offsets_checked = bb != 0;
    if (total->present) {
        if (!bb && total->value % blocks == 0 && is_pow2(total->value / blocks) && total->value / blocks >= 4) {
            bb = (size_t)(total->value / blocks);
            from = BH_DUMP_BLOCK_SIZE_FROM_HEADER;
        }
        if (!bb) {
            fail(r, last->a.end_line, "the map has %zu blocks but the header (line %lu) says total: %llu bytes, "
                 "not a whole power-of-two number of bytes per block: the map is cut short or has lines "
                 "missing or extra", blocks, d->header_line, (unsigned long long)total->value);
            return;
        }
        if ((uint64_t)bb * blocks != total->value) {
            fail(r, last->a.end_line, "the map has %zu blocks of %zu bytes (%llu bytes) but the header (line %lu) "
                 "says total: %llu: the map is %s", blocks, bb, (unsigned long long)bb * blocks, d->header_line,
                 (unsigned long long)total->value,
                 (uint64_t)bb * blocks < total->value ? "cut short or has lines missing" : "longer than the heap");
            return;
        }
    }
    if (!bb) {
        /* a map of one printed line: its offset may still tell, after a leading "(N lines all free)" */
        for (size_t i = 0; i < r->n_areas && !bb; i++) {
            const area_builder *b = &r->areas[i];
            if (b->n_lines && b->lines[0].block && b->lines[0].offset % b->lines[0].block == 0 &&
                is_pow2(b->lines[0].offset / b->lines[0].block) && b->lines[0].offset / b->lines[0].block >= 4 &&
                b->lines[0].offset / b->lines[0].block <= 65536)
                bb = (size_t)(b->lines[0].offset / b->lines[0].block);
        }
    }
    if (!bb) {
        bb = 16;
        from = BH_DUMP_BLOCK_SIZE_ASSUMED;
        note(r, d->line, "block size assumed 16 bytes (a 32-bit port): a map of one line with no header "
             "does not show it");
    }
    d->block_bytes = bb;
    d->block_bytes_from = from;
    for (size_t i = 0; !offsets_checked && i < r->n_areas && !r->failed; i++)
        check_offsets(r, &r->areas[i], bb);
    if (r->failed)
        return;

    /* notes about what was read */
    for (size_t i = 0; i < r->n_areas; i++) {
        const area_builder *b = &r->areas[i];
        if (b->no_layout_line)
            note(r, b->a.line, "map without its 'GC memory layout; from ADDRESS:' line: the pool's address is unknown");
        if (b->a.blocks % 4)
            note(r, b->a.end_line, "the map has %zu blocks, not a multiple of 4 as every MicroPython pool is "
                 "(4 blocks per allocation-table byte): it was probably cut short; analysed as it is, with a "
                 "%zu-block guard object after it", b->a.blocks, 4 - b->a.blocks % 4);
    }
    if (r->n_areas > 1)
        note(r, d->line, "split heap: %zu areas", r->n_areas);
    const bh_dump_number *used = &d->header[BH_DUMP_USED], *freeb = &d->header[BH_DUMP_FREE];
    if (total->present && used->present && freeb->present && used->value + freeb->value != total->value)
        note(r, d->header_line, "the header's used + free (%llu + %llu) is not its total (%llu)",
             (unsigned long long)used->value, (unsigned long long)freeb->value, (unsigned long long)total->value);

    /* hand the areas over */
    d->areas = calloc(r->n_areas, sizeof *d->areas);
    if (!d->areas) {
        oom(r, d->line);
        return;
    }
    for (size_t i = 0; i < r->n_areas; i++) {
        d->areas[i] = r->areas[i].a;
        r->areas[i].a.states = NULL;
        free(r->areas[i].lines);
        r->areas[i].lines = NULL;
    }
    d->area_count = r->n_areas;
    d->blocks = blocks;
    r->n_areas = 0;
    r->area_open = false;
    if (!grow((void **)&r->out->dumps, &r->dumps_cap, r->out->count + 1, sizeof *r->out->dumps)) {
        oom(r, d->line);
        return;
    }
    r->out->dumps[r->out->count++] = *d;
    memset(d, 0, sizeof *d);
    r->in_dump = false;
}

/* ---------------------------------------------------------------------------------------------- */
/* Feeding lines                                                                                  */

static void set_header(reader *r, bh_dump_field f, uint64_t v)
{
    r->cur.header[f].present = true;
    r->cur.header[f].value = v;
}

/* A header line (mem, stack, GC) starts a new dump unless it continues the current dump's header. */
static void begin_header_line(reader *r, unsigned long line, bool continues)
{
    if (r->in_dump && !continues)
        finish_dump(r);
    if (r->failed)
        return;
    if (!r->in_dump)
        start_dump(r, line);
    r->cur.end_line = line;
}

/* Whether a "GC memory layout" section at address starts a new dump rather than another area of a
 * split heap: it does when the current dump already has an area at that address (the same heap,
 * printed again), or when its areas already make up the header's total. */
static bool layout_starts_new_dump(reader *r, uint64_t address)
{
    if (r->n_areas == 0)
        return false;
    for (size_t i = 0; i < r->n_areas; i++)
        if (r->areas[i].a.address_present && r->areas[i].a.address == address)
            return true;
    const bh_dump_number *total = &r->cur.header[BH_DUMP_TOTAL];
    if (total->present) {
        size_t bb = block_bytes_from_offsets(r);
        if (bb && (uint64_t)bb * cur_blocks(r) >= total->value)
            return true;
    }
    return false;
}

static void feed(reader *r, unsigned long line, char *s, size_t len)
{
    /* trailing blanks are not part of anything MicroPython prints */
    while (len > 0 && (is_space(s[len - 1]) || s[len - 1] == '\r'))
        len--;
    char saved = s[len];
    s[len] = '\0';

    /* pyb.info's summary lines are recognised only where they are expected */
    if (r->expect == EXPECT_PYB_TOTAL || r->expect == EXPECT_PYB_USED_FREE || r->expect == EXPECT_PYB_COUNTS) {
        uint64_t nums[4];
        size_t n = 0;
        if (r->expect == EXPECT_PYB_TOTAL) {
            r->expect = EXPECT_NOTHING;
            if (match_tail_numbers(s, "# total", nums, &n)) {
                begin_header_line(r, r->expect_line, false);
                if (!r->failed) {
                    r->cur.header_kind = BH_DUMP_HEADER_PYB_INFO;
                    r->cur.header_line = r->expect_line;
                    set_header(r, BH_DUMP_TOTAL, nums[0]);
                    r->cur.end_line = line;
                    r->expect = EXPECT_PYB_USED_FREE;
                }
                goto out;
            }
            /* "GC:" followed by anything else was not pyb.info: go on with this line as usual */
        } else if (r->expect == EXPECT_PYB_USED_FREE && match_tail_numbers(s, "# : #", nums, &n)) {
            set_header(r, BH_DUMP_USED, nums[0]);
            set_header(r, BH_DUMP_FREE, nums[1]);
            r->cur.end_line = line;
            r->expect = EXPECT_PYB_COUNTS;
            goto out;
        } else if (r->expect == EXPECT_PYB_COUNTS && match_tail_numbers(s, "1=# 2=# m=#", nums, &n)) {
            set_header(r, BH_DUMP_ONE_BLOCKS, nums[0]);
            set_header(r, BH_DUMP_TWO_BLOCKS, nums[1]);
            set_header(r, BH_DUMP_MAX_BLK_SZ, nums[2]);
            r->cur.end_line = line;
            r->expect = EXPECT_NOTHING;
            goto out;
        } else {
            fail(r, line, "pyb.info's 'GC:' summary (line %lu) is incomplete: expected %s", r->expect_line,
                 r->expect == EXPECT_PYB_USED_FREE ? "'  USED : FREE'" : "'  1=N 2=N m=N'");
            goto out;
        }
    }

    /* a NUL byte inside a line: judge the part before it, but never read past it silently */
    classified c;
    classify(s, strlen(s), &c);
    if (strlen(s) != len && c.kind != LINE_NOISE && c.kind != LINE_COMMENT) {
        fail(r, line, "NUL byte in a line of a dump");
        goto out;
    }
    if (r->expect == EXPECT_GC_BLOCKS && c.kind != LINE_GC_BLOCKS && c.kind != LINE_NOISE &&
        c.kind != LINE_COMMENT && c.kind != LINE_BAD) {
        fail(r, r->expect_line, "'GC: total' line is not followed by its ' No. of 1-blocks: ...' line "
             "(line %lu comes first)", line);
        goto out;
    }
    switch (c.kind) {
    case LINE_NOISE:
        break;
    case LINE_COMMENT: {
        const char *t = s;
        while (*t == '#' || is_space(*t))
            t++;
        if (*t) {
            free(r->title);
            r->title = strdup(t);
        }
        break;
    }
    case LINE_BAD:
        /* a map-like line with a bad character is noise outside a map, an error inside one */
        if (c.bad_is_map && !r->area_open)
            break;
        fail(r, line, "%s", c.why);
        break;
    case LINE_MEM:
        begin_header_line(r, line, false);
        if (r->failed)
            break;
        set_header(r, BH_DUMP_MEM_TOTAL, c.nums[0]);
        set_header(r, BH_DUMP_MEM_CURRENT, c.nums[1]);
        set_header(r, BH_DUMP_MEM_PEAK, c.nums[2]);
        break;
    case LINE_STACK:
        begin_header_line(r, line, r->in_dump && r->n_areas == 0 && !cur_has_gc_header(r) &&
                                       !r->cur.header[BH_DUMP_STACK].present);
        if (r->failed)
            break;
        set_header(r, BH_DUMP_STACK, c.nums[0]);
        if (c.n_nums > 1)
            set_header(r, BH_DUMP_STACK_OUT_OF, c.nums[1]);
        break;
    case LINE_GC_TOTAL:
        begin_header_line(r, line, r->in_dump && r->n_areas == 0 && r->cur.header_line == 0);
        if (r->failed)
            break;
        r->cur.header_kind = BH_DUMP_HEADER_MEM_INFO;
        r->cur.header_line = line;
        set_header(r, BH_DUMP_TOTAL, c.nums[0]);
        set_header(r, BH_DUMP_USED, c.nums[1]);
        set_header(r, BH_DUMP_FREE, c.nums[2]);
        if (c.n_nums > 3)
            set_header(r, BH_DUMP_MAX_NEW_SPLIT, c.nums[3]);
        r->expect = EXPECT_GC_BLOCKS;
        r->expect_line = line;
        break;
    case LINE_GC_BLOCKS:
        if (r->expect != EXPECT_GC_BLOCKS) {
            fail(r, line, "' No. of 1-blocks' line without the 'GC: total: ...' line before it");
            break;
        }
        r->expect = EXPECT_NOTHING;
        set_header(r, BH_DUMP_ONE_BLOCKS, c.nums[0]);
        set_header(r, BH_DUMP_TWO_BLOCKS, c.nums[1]);
        set_header(r, BH_DUMP_MAX_BLK_SZ, c.nums[2]);
        if (c.n_nums > 3)
            set_header(r, BH_DUMP_MAX_FREE_SZ, c.nums[3]);
        r->cur.end_line = line;
        break;
    case LINE_PYB_GC:
        r->expect = EXPECT_PYB_TOTAL;
        r->expect_line = line;
        break;
    case LINE_LAYOUT:
        if (r->in_dump && layout_starts_new_dump(r, c.nums[0]))
            finish_dump(r);
        if (r->failed)
            break;
        if (!r->in_dump)
            start_dump(r, line);
        open_area(r, line, true, c.nums[0]);
        break;
    case LINE_MAP:
        /* a map without a layout line printed again: offsets count from 0, so a second 0 is a new map */
        if (r->area_open && c.offset == 0 && r->areas[r->n_areas - 1].no_layout_line &&
            r->areas[r->n_areas - 1].n_lines > 0) {
            finish_dump(r);
            if (r->failed)
                break;
        }
        if (!r->area_open) {
            if (!r->in_dump) {
                /* a map with neither header nor layout line: only from its first line, offset 0 */
                if (c.offset != 0)
                    break;
                start_dump(r, line);
            } else if (!cur_has_gc_header(r)) {
                break;
            }
        }
        on_map_line(r, line, &c);
        break;
    case LINE_SKIP:
        if (!r->area_open && !(r->in_dump && cur_has_gc_header(r))) {
            fail(r, line, "'(N lines all free)' outside a memory map");
            break;
        }
        on_skip(r, line, c.nums[0]);
        break;
    }
out:
    s[len] = saved;
}

static void dump_note(bh_dump *d, size_t *cap, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void dump_note(bh_dump *d, size_t *cap, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_note_to(d, cap, line, fmt, ap);
    va_end(ap);
}

/* Compares every number the header printed with the library's figure for the map, and notes each
 * disagreement (clearing `consistent`). False only if the map cannot be loaded. */
static bool check_header(bh_dump *d, char *why, size_t why_cap)
{
    bh_dump_figures fig;
    if (!bh_dump_measure(d, &fig, why, why_cap))
        return false;
    const struct {
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
    /* Before v1.8.2 (whose header has no "max free sz"), gc_info counted an object only when the
     * block after it was free or a head, so the object ending in an area's last block was missed.
     * Recount as it did, to tell that case from a real disagreement. */
    uint64_t missed_one = 0, missed_two = 0, old_max = 0;
    for (size_t a = 0; a < d->area_count; a++) {
        const bh_dump_area *ar = &d->areas[a];
        for (size_t b = 0; b < ar->blocks; b++) {
            size_t n = bh_dump_object_blocks(ar, b);
            if (!n)
                continue;
            if (b + n == ar->blocks) {
                missed_one += n == 1;
                missed_two += n == 2;
            } else if (n > old_max) {
                old_max = n;
            }
        }
    }
    size_t notes_cap = d->note_count;
    bool all_old_miscounts = !d->header[BH_DUMP_MAX_FREE_SZ].present;
    size_t mismatches = 0;
    for (size_t k = 0; k < sizeof checks / sizeof checks[0]; k++) {
        const bh_dump_number *h = &d->header[checks[k].field];
        if (!h->present || h->value == checks[k].map)
            continue;
        mismatches++;
        d->consistent = false;
        dump_note(d, &notes_cap, d->header_line, "the header says %s: %llu, the map gives %llu",
                  bh_dump_field_name(checks[k].field), (unsigned long long)h->value,
                  (unsigned long long)checks[k].map);
        bool old_miscount = (checks[k].field == BH_DUMP_ONE_BLOCKS && h->value == checks[k].map - missed_one) ||
                            (checks[k].field == BH_DUMP_TWO_BLOCKS && h->value == checks[k].map - missed_two) ||
                            (checks[k].field == BH_DUMP_MAX_BLK_SZ && h->value == old_max);
        all_old_miscounts = all_old_miscounts && old_miscount;
    }
    if (mismatches && all_old_miscounts)
        dump_note(d, &notes_cap, d->header_line, "MicroPython before v1.8.2 did not count the object that ends "
                  "in the heap's last block: the header is wrong, the map is right");
    return true;
}

bool bh_dump_file_read(const char *path, bh_dump_file *f)
{
    memset(f, 0, sizeof *f);
    bh_lines lines;
    if (!bh_lines_open(&lines, path)) {
        snprintf(f->error, sizeof f->error, "cannot open");
        return false;
    }
    reader r = {.out = f};
    f->name = strdup(lines.name);
    if (!f->name)
        oom(&r, 0);
    char *text;
    while (!r.failed && (text = bh_lines_next(&lines)))
        feed(&r, lines.line, text, lines.len);
    unsigned long last_line = lines.line;
    if (!r.failed && lines.error)
        fail(&r, last_line + 1, "cannot read: %s", bh_lines_error(&lines));
    if (!r.failed && r.expect == EXPECT_PYB_TOTAL)
        r.expect = EXPECT_NOTHING; /* a final "GC:" was noise */
    if (!r.failed && r.in_dump)
        finish_dump(&r);
    if (!r.failed && f->count == 0)
        fail(&r, last_line ? last_line : 1, "no MicroPython heap dump found (the output of "
             "micropython.mem_info(1) or pyb.info(1))");
    bh_lines_close(&lines);
    builders_free(&r);
    free(r.areas);
    free(r.title);
    if (r.in_dump)
        dump_free(&r.cur);

    /* the header against the library's figures for the map */
    for (size_t i = 0; i < f->count && !r.failed; i++) {
        char why[200];
        if (!check_header(&f->dumps[i], why, sizeof why))
            fail(&r, f->dumps[i].line, "cannot reproduce this dump in a heap: %s", why);
    }
    if (r.failed) {
        bh_report_at(f->name ? f->name : path, f->error_line, "%s", f->error);
        for (size_t i = 0; i < f->count; i++)
            dump_free(&f->dumps[i]);
        free(f->dumps);
        f->dumps = NULL;
        f->count = 0;
        return false;
    }
    return true;
}

void bh_dump_file_free(bh_dump_file *f)
{
    for (size_t i = 0; i < f->count; i++)
        dump_free(&f->dumps[i]);
    free(f->dumps);
    free(f->name);
    f->dumps = NULL;
    f->name = NULL;
    f->count = 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Reproducing an area in a bh_heap                                                               */

/* Allocates `blocks` blocks that must land at `block`. Each allocation is made as one block and then
 * grown in place: a 1-block allocation moves policy micropython's cursor up to just after it, so the
 * next search starts there and the whole load is O(blocks); a direct multi-block allocation would
 * leave the cursor behind and make it O(blocks^2). */
static bool place(bh_dump_heap *dh, size_t block, size_t blocks, void **out, char *why, size_t cap)
{
    void *p = bh_alloc(&dh->heap, dh->block_bytes, 0);
    if (p && blocks > 1)
        p = bh_realloc(&dh->heap, p, blocks * dh->block_bytes, false);
    if (block == 0 && p)
        dh->block0 = p;
    if (!p || (unsigned char *)p != dh->block0 + block * dh->block_bytes) {
        snprintf(why, cap, "allocating %zu blocks for block %zu %s", blocks, block,
                 p ? "landed elsewhere: placement is not address-ordered" : "failed");
        return false;
    }
    if (bh_size(&dh->heap, p) != blocks * dh->block_bytes) {
        snprintf(why, cap, "the object at block %zu has %zu bytes, not %zu", block, bh_size(&dh->heap, p),
                 blocks * dh->block_bytes);
        return false;
    }
    *out = p;
    return true;
}

bool bh_dump_heap_load(bh_dump_heap *dh, const bh_dump_area *a, size_t block_bytes, char *why, size_t why_cap)
{
    memset(dh, 0, sizeof *dh);
    dh->block_bytes = block_bytes;
    dh->blocks = a->blocks;
    dh->pad_blocks = (4 - a->blocks % 4) % 4;
    size_t pool_blocks = a->blocks + dh->pad_blocks;
    if (a->blocks == 0 || !is_pow2(block_bytes)) {
        snprintf(why, why_cap, "an empty map or a block size that is not a power of two");
        return false;
    }
    size_t arena_bytes = bh_arena_bytes_for(pool_blocks, block_bytes, true);
    size_t align = block_bytes < sizeof(void *) ? sizeof(void *) : block_bytes;
    size_t alloc_bytes = (arena_bytes + align - 1) / align * align;
    dh->arena = aligned_alloc(align, alloc_bytes ? alloc_bytes : align);
    if (!dh->arena) {
        snprintf(why, why_cap, "out of memory for a %zu-byte arena", arena_bytes);
        return false;
    }
    bh_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.block_bytes = block_bytes;
    cfg.policy = BH_POLICY_MICROPYTHON;
    cfg.no_auto_collect = true; /* the dump's garbage stays, as in the dump */
    if (!bh_init(&dh->heap, dh->arena, arena_bytes, &cfg)) {
        snprintf(why, why_cap, "the library does not take %zu-byte blocks on this machine (it needs a power "
                 "of two of at least %zu)", block_bytes, 2 * sizeof(void *));
        bh_dump_heap_free(dh);
        return false;
    }
    bh_info info;
    bh_info_get(&dh->heap, &info);
    if (info.pool_blocks != pool_blocks) {
        snprintf(why, why_cap, "an arena of %zu bytes gave %zu blocks, not %zu", arena_bytes, info.pool_blocks,
                 pool_blocks);
        bh_dump_heap_free(dh);
        return false;
    }
    void **placeholders = malloc((a->blocks / 2 + 2) * sizeof *placeholders);
    size_t n_placeholders = 0;
    bool ok = placeholders != NULL;
    if (!ok)
        snprintf(why, why_cap, "out of memory");
    for (size_t b = 0; ok && b < a->blocks;) {
        size_t end = b + 1;
        char kind = a->states[b] == '.' ? '.' : '=';
        while (end < a->blocks && (kind == '.' ? a->states[end] == '.' : a->states[end] == '='))
            end++;
        void *p;
        ok = place(dh, b, end - b, &p, why, why_cap);
        if (ok && kind == '.')
            placeholders[n_placeholders++] = p;
        else if (ok && end - b > dh->largest_object_blocks)
            dh->largest_object_blocks = end - b; /* place() checked it with bh_size */
        b = end;
    }
    void *guard;
    if (ok && dh->pad_blocks)
        ok = place(dh, a->blocks, dh->pad_blocks, &guard, why, why_cap);
    for (size_t i = 0; ok && i < n_placeholders; i++)
        bh_free(&dh->heap, placeholders[i]);
    free(placeholders);
    if (ok && !bh_check(&dh->heap)) {
        snprintf(why, why_cap, "bh_check failed on the reproduced heap");
        ok = false;
    }
    if (!ok)
        bh_dump_heap_free(dh);
    return ok;
}

void bh_dump_heap_free(bh_dump_heap *dh)
{
    free(dh->arena);
    dh->arena = NULL;
    dh->block0 = NULL;
}

void *bh_dump_heap_block(const bh_dump_heap *dh, size_t block)
{
    return dh->block0 + block * dh->block_bytes;
}

void bh_dump_heap_info(const bh_dump_heap *dh, bh_info *info)
{
    bh_info_get(&dh->heap, info);
    if (!dh->pad_blocks)
        return;
    size_t pad = dh->pad_blocks, bb = dh->block_bytes;
    info->pool_blocks -= pad;
    info->total_bytes -= pad * bb;
    info->used_bytes -= pad * bb;
    info->used_blocks -= pad;
    info->objects -= 1;
    info->one_block_objects -= pad == 1;
    info->two_block_objects -= pad == 2;
    /* the guard (at most 3 blocks) may be the largest object */
    info->largest_object_blocks = dh->largest_object_blocks;
}

bool bh_dump_measure(const bh_dump *d, bh_dump_figures *fig, char *why, size_t why_cap)
{
    memset(fig, 0, sizeof *fig);
    fig->checked = true;
    for (size_t i = 0; i < d->area_count; i++) {
        bh_dump_heap dh;
        if (!bh_dump_heap_load(&dh, &d->areas[i], d->block_bytes, why, why_cap))
            return false;
        bh_info info;
        bh_dump_heap_info(&dh, &info);
        size_t hist[BH_DUMP_RUN_BUCKETS];
        bh_free_runs(&dh.heap, hist, BH_DUMP_RUN_BUCKETS);
        for (size_t k = 0; k < BH_DUMP_RUN_BUCKETS; k++)
            fig->run_hist[k] += hist[k];
        size_t largest_free = bh_largest_free(&dh.heap);
        if (largest_free > fig->largest_free_bytes)
            fig->largest_free_bytes = largest_free;
        fig->checked = fig->checked && bh_check(&dh.heap);
        bh_info *t = &fig->info;
        t->block_bytes = info.block_bytes;
        t->pool_blocks += info.pool_blocks;
        t->total_bytes += info.total_bytes;
        t->used_bytes += info.used_bytes;
        t->free_bytes += info.free_bytes;
        t->used_blocks += info.used_blocks;
        t->free_blocks += info.free_blocks;
        t->objects += info.objects;
        t->one_block_objects += info.one_block_objects;
        t->two_block_objects += info.two_block_objects;
        if (info.largest_object_blocks > t->largest_object_blocks)
            t->largest_object_blocks = info.largest_object_blocks;
        if (info.largest_free_blocks > t->largest_free_blocks)
            t->largest_free_blocks = info.largest_free_blocks;
        t->free_runs += info.free_runs;
        if (info.largest_alloc_bytes > t->largest_alloc_bytes)
            t->largest_alloc_bytes = info.largest_alloc_bytes;
        bh_dump_heap_free(&dh);
    }
    return true;
}
