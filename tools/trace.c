#include "trace.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---------------------------------------------------------------------------------------------- */
/* interned strings */

void bh_intern_init(bh_intern *t) { memset(t, 0, sizeof *t); }

static uint32_t intern_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a: short tokens, few distinct ones; simple is enough */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t *intern_slot(const bh_intern *t, const char *s, size_t len, uint32_t hash)
{
    uint32_t mask = t->nslots - 1;
    for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t id = t->slots[i];
        if (id == 0)
            return &t->slots[i];
        if (t->hashes[id - 1] == hash && t->lens[id - 1] == len && memcmp(t->names[id - 1], s, len) == 0)
            return &t->slots[i];
    }
}

static bool intern_grow(bh_intern *t)
{
    uint32_t nslots = t->nslots ? t->nslots * 2 : 64;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return false;
    uint32_t *old = t->slots;
    t->slots = slots;
    t->nslots = nslots;
    for (uint32_t id = 1; id <= t->count; id++)
        *intern_slot(t, t->names[id - 1], t->lens[id - 1], t->hashes[id - 1]) = id;
    free(old);
    return true;
}

uint32_t bh_intern_find(const bh_intern *t, const char *s, size_t len)
{
    if (t->nslots == 0 || len > UINT32_MAX)
        return 0;
    return *intern_slot(t, s, len, intern_hash(s, len));
}

uint32_t bh_intern_get(bh_intern *t, const char *s, size_t len)
{
    if (len > UINT32_MAX || (t->nslots == 0 && !intern_grow(t)))
        return 0;
    uint32_t hash = intern_hash(s, len);
    uint32_t *slot = intern_slot(t, s, len, hash);
    if (*slot)
        return *slot;
    if (t->count == UINT32_MAX - 1)
        return 0;
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        char **names = realloc(t->names, (size_t)cap * sizeof *names);
        if (names)
            t->names = names;
        uint32_t *hashes = realloc(t->hashes, (size_t)cap * sizeof *hashes);
        if (hashes)
            t->hashes = hashes;
        uint32_t *lens = realloc(t->lens, (size_t)cap * sizeof *lens);
        if (lens)
            t->lens = lens;
        if (!names || !hashes || !lens)
            return 0;
        t->cap = cap;
    }
    char *name = malloc(len + 1);
    if (!name)
        return 0;
    memcpy(name, s, len);
    name[len] = '\0';
    t->names[t->count] = name;
    t->hashes[t->count] = hash;
    t->lens[t->count] = (uint32_t)len;
    uint32_t id = ++t->count;
    *slot = id;
    /* keep the load under one half so probes stay short; if growing fails the table is only fuller */
    if ((uint64_t)t->count * 2 > t->nslots)
        (void)intern_grow(t);
    return id;
}

const char *bh_intern_name(const bh_intern *t, uint32_t id)
{
    if (id == 0 || id > t->count)
        return "";
    return t->names[id - 1];
}

void bh_intern_free(bh_intern *t)
{
    for (uint32_t i = 0; i < t->count; i++)
        free(t->names[i]);
    free(t->names);
    free(t->hashes);
    free(t->lens);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------------------------------------- */
/* streaming reader */

/* Per-object state, 2 bits per dense index. */
enum { BH_OBJ_LIVE = 1, BH_OBJ_DEAD = 2, BH_OBJ_FREED = 3 };

static unsigned obj_state(const bh_trace_reader *r, uint32_t obj)
{
    return (r->state[obj >> 2] >> ((obj & 3) * 2)) & 3u;
}

static void set_obj_state(bh_trace_reader *r, uint32_t obj, unsigned s)
{
    unsigned shift = (obj & 3) * 2;
    r->state[obj >> 2] = (uint8_t)((r->state[obj >> 2] & ~(3u << shift)) | (s << shift));
}

/* A whitespace-separated token of the current line. */
typedef struct token {
    const char *s;
    size_t len;
} token;

#define MAX_TOKENS 16

/* Splits line into at most MAX_TOKENS tokens; returns the count, or MAX_TOKENS + 1 if there are more. */
static size_t split(const char *line, token *tok)
{
    size_t n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return n;
        if (n == MAX_TOKENS)
            return MAX_TOKENS + 1;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        tok[n].s = start;
        tok[n].len = (size_t)(p - start);
        n++;
    }
}

static bool tok_is(token t, const char *s) { return t.len == strlen(s) && memcmp(t.s, s, t.len) == 0; }

/* Printable excerpt of a token for messages. */
static int tok_len_for_msg(token t) { return t.len > 40 ? 40 : (int)t.len; }

static bool fail(bh_trace_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(bh_trace_reader *r, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bh_report_at(r->lines.name, r->lines.line ? r->lines.line : 1, "%s", msg);
    r->failed = true;
    return false;
}

/* Reads the next line; NULL at the end (r->failed set if that end is a read error). */
static char *next_line(bh_trace_reader *r)
{
    char *line = bh_lines_next(&r->lines);
    if (!line && !r->lines.error && r->lines.gz) {
        /* a gzip stream cut short reads as a clean end unless zlib is asked: a truncated trace
         * must not pass for a complete one */
        int err = Z_OK;
        gzerror((gzFile)r->lines.gz, &err);
        if (err != Z_OK && err != Z_STREAM_END) {
            bh_report_at(r->lines.name, r->lines.line + 1, "read error: %s",
                         err == Z_BUF_ERROR ? "the gzip stream ends early (truncated file)" : "corrupt gzip stream");
            r->failed = true;
            return NULL;
        }
    }
    if (!line) {
        if (r->lines.error) {
            const char *why = bh_lines_error(&r->lines);
            bh_report_at(r->lines.name, r->lines.line + 1, "read error: %s", why ? why : "unknown");
            r->failed = true;
        }
        return NULL;
    }
    if (strlen(line) != r->lines.len) {
        fail(r, "NUL byte in line");
        return NULL;
    }
    return line;
}

static bool is_comment_or_blank(const token *tok, size_t n) { return n == 0 || tok[0].s[0] == '#'; }

static bool parse_header_number(bh_trace_reader *r, const token *tok, size_t n, unsigned *out,
                                unsigned lo, unsigned hi)
{
    uint64_t v;
    if (n != 2)
        return fail(r, "'%.*s' needs exactly one number", tok_len_for_msg(tok[0]), tok[0].s);
    if (!bh_parse_u64(tok[1].s, tok[1].len, &v))
        return fail(r, "bad number '%.*s'", tok_len_for_msg(tok[1]), tok[1].s);
    if (v < lo || v > hi || (v & (v - 1)) != 0)
        return fail(r, "'%.*s %llu': must be a power of two from %u to %u", tok_len_for_msg(tok[0]), tok[0].s,
                    (unsigned long long)v, lo, hi);
    if (*out)
        return fail(r, "duplicate '%.*s' line", tok_len_for_msg(tok[0]), tok[0].s);
    *out = (unsigned)v;
    return true;
}

bool bh_trace_reader_open(bh_trace_reader *r, const char *path, bh_intern *sites, bh_intern *pysites)
{
    memset(r, 0, sizeof *r);
    if (sites && pysites) {
        r->sites = sites;
        r->pysites = pysites;
    } else {
        r->sites = malloc(sizeof *r->sites);
        r->pysites = malloc(sizeof *r->pysites);
        r->own_interns = true;
        if (!r->sites || !r->pysites) {
            fprintf(stderr, "%s: out of memory\n", path);
            r->failed = true;
            return false;
        }
        bh_intern_init(r->sites);
        bh_intern_init(r->pysites);
    }
    if (!bh_lines_open(&r->lines, path)) {
        r->failed = true;
        return false;
    }
    token tok[MAX_TOKENS];
    char *line = next_line(r);
    if (!line) {
        if (!r->failed)
            fail(r, "empty file: expected 'heaptrace 1'");
        return false;
    }
    size_t n = split(line, tok);
    if (n < 1 || !tok_is(tok[0], "heaptrace"))
        return fail(r, "not a heaptrace file: the first line must be 'heaptrace 1'");
    if (n != 2 || !tok_is(tok[1], "1"))
        return fail(r, "unsupported heaptrace version (this reader knows 'heaptrace 1')");
    /* the block and word lines come before the first event, after optional comments */
    while (r->block_bytes == 0 || r->word_bytes == 0) {
        line = next_line(r);
        if (!line) {
            if (!r->failed)
                fail(r, "missing '%s' line before the first event", r->block_bytes ? "word" : "block");
            return false;
        }
        n = split(line, tok);
        if (n > MAX_TOKENS)
            return fail(r, "too many fields");
        if (is_comment_or_blank(tok, n))
            continue;
        if (tok_is(tok[0], "block")) {
            if (!parse_header_number(r, tok, n, &r->block_bytes, 4, 1u << 20))
                return false;
        } else if (tok_is(tok[0], "word")) {
            if (!parse_header_number(r, tok, n, &r->word_bytes, 1, 16))
                return false;
        } else {
            return fail(r, "missing '%s' line before the first event", r->block_bytes ? "word" : "block");
        }
    }
    if (r->block_bytes < 2 * r->word_bytes)
        return fail(r, "block %u is less than two words of %u bytes", r->block_bytes, r->word_bytes);
    return true;
}

/* Dense index of id, or UINT32_MAX if no `a` gave it. */
static uint32_t lookup_id(const bh_trace_reader *r, uint64_t id)
{
    size_t lo = 0, hi = r->nruns;
    /* most events name recent objects: try the last run first */
    if (hi > 0 && id >= r->runs[hi - 1].first)
        lo = hi - 1;
    else {
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (r->runs[mid].first <= id)
                lo = mid;
            else
                hi = mid;
        }
    }
    if (r->nruns == 0 || id < r->runs[lo].first || id - r->runs[lo].first >= r->runs[lo].count)
        return UINT32_MAX;
    return r->runs[lo].obj + (uint32_t)(id - r->runs[lo].first);
}

static bool add_object(bh_trace_reader *r, uint64_t id, uint32_t *obj)
{
    if (r->nobjects >= BH_TRACE_MAX_OBJECTS)
        return fail(r, "too many objects (the limit is %u)", (unsigned)BH_TRACE_MAX_OBJECTS);
    if (r->nruns > 0 && id == r->last_id + 1 && r->runs[r->nruns - 1].first + r->runs[r->nruns - 1].count == id) {
        r->runs[r->nruns - 1].count++;
    } else {
        if (r->nruns == r->runs_cap) {
            size_t cap = r->runs_cap ? r->runs_cap * 2 : 16;
            bh_trace_idrun *runs = realloc(r->runs, cap * sizeof *runs);
            if (!runs)
                return fail(r, "out of memory");
            r->runs = runs;
            r->runs_cap = cap;
        }
        r->runs[r->nruns++] = (bh_trace_idrun){.first = id, .obj = r->nobjects, .count = 1};
    }
    if ((size_t)r->nobjects / 4 + 1 > r->state_cap) {
        size_t cap = r->state_cap ? r->state_cap * 2 : 1024;
        uint8_t *state = realloc(r->state, cap);
        if (!state)
            return fail(r, "out of memory");
        memset(state + r->state_cap, 0, cap - r->state_cap);
        r->state = state;
        r->state_cap = cap;
    }
    r->last_id = id;
    *obj = r->nobjects++;
    set_obj_state(r, *obj, BH_OBJ_LIVE);
    return true;
}

static bool parse_id(bh_trace_reader *r, const token *tok, size_t n, uint64_t *id)
{
    if (n < 2)
        return fail(r, "'%c' needs an object ID", tok[0].s[0]);
    if (!bh_parse_u64(tok[1].s, tok[1].len, id))
        return fail(r, "bad ID '%.*s'", tok_len_for_msg(tok[1]), tok[1].s);
    if (*id == 0)
        return fail(r, "bad ID 0: IDs are positive");
    return true;
}

static bool parse_bytes(bh_trace_reader *r, const token *tok, size_t n, uint32_t *bytes)
{
    uint64_t v;
    if (n < 3)
        return fail(r, "'%c' needs a byte count", tok[0].s[0]);
    if (!bh_parse_u64(tok[2].s, tok[2].len, &v))
        return fail(r, "bad byte count '%.*s'", tok_len_for_msg(tok[2]), tok[2].s);
    if (v > BH_TRACE_MAX_BYTES)
        return fail(r, "byte count %llu too large (at most %u)", (unsigned long long)v, BH_TRACE_MAX_BYTES);
    *bytes = (uint32_t)v;
    return true;
}

/* The object an f/r/d line names, which must be live. */
static bool live_object(bh_trace_reader *r, uint64_t id, uint32_t *obj)
{
    *obj = lookup_id(r, id);
    if (*obj == UINT32_MAX)
        return fail(r, "ID %llu used before its 'a'", (unsigned long long)id);
    switch (obj_state(r, *obj)) {
    case BH_OBJ_DEAD: return fail(r, "ID %llu used after its 'd'", (unsigned long long)id);
    case BH_OBJ_FREED: return fail(r, "ID %llu used after its 'f'", (unsigned long long)id);
    default: return true;
    }
}

/* Fields after the fixed ones: key=value, unknown keys ignored. Only `a` gives meaning to any. */
static bool parse_fields(bh_trace_reader *r, const token *tok, size_t n, size_t from, bh_trace_event *ev)
{
    for (size_t i = from; i < n; i++) {
        const char *eq = memchr(tok[i].s, '=', tok[i].len);
        if (!eq || eq == tok[i].s)
            return fail(r, "unexpected field '%.*s' (expected key=value)", tok_len_for_msg(tok[i]), tok[i].s);
        size_t klen = (size_t)(eq - tok[i].s);
        const char *val = eq + 1;
        size_t vlen = tok[i].len - klen - 1;
        if (ev->kind != BH_EV_ALLOC)
            continue;
        if (klen == 3 && memcmp(tok[i].s, "fin", 3) == 0) {
            if (vlen != 1 || (val[0] != '0' && val[0] != '1'))
                return fail(r, "bad value '%.*s' for fin (0 or 1)", tok_len_for_msg(tok[i]), tok[i].s);
            ev->fin = val[0] == '1';
        } else if (klen == 4 && memcmp(tok[i].s, "site", 4) == 0 && vlen > 0) {
            if (!(ev->site = bh_intern_get(r->sites, val, vlen)))
                return fail(r, "out of memory");
        } else if (klen == 6 && memcmp(tok[i].s, "pysite", 6) == 0 && vlen > 0) {
            if (!(ev->pysite = bh_intern_get(r->pysites, val, vlen)))
                return fail(r, "out of memory");
        }
    }
    return true;
}

int bh_trace_reader_next(bh_trace_reader *r, bh_trace_event *ev)
{
    if (r->failed)
        return -1;
    token tok[MAX_TOKENS];
    for (;;) {
        char *line = next_line(r);
        if (!line)
            return r->failed ? -1 : 0;
        size_t n = split(line, tok);
        if (n > MAX_TOKENS)
            return fail(r, "too many fields"), -1;
        if (is_comment_or_blank(tok, n))
            continue;
        memset(ev, 0, sizeof *ev);
        ev->line = r->lines.line;
        if (tok[0].len != 1) {
            if (tok_is(tok[0], "heaptrace") || tok_is(tok[0], "block") || tok_is(tok[0], "word"))
                return fail(r, "header line '%.*s' after the header", tok_len_for_msg(tok[0]), tok[0].s), -1;
            return fail(r, "unknown event '%.*s'", tok_len_for_msg(tok[0]), tok[0].s), -1;
        }
        uint64_t id = 0;
        uint32_t obj = 0;
        size_t fixed;
        switch (tok[0].s[0]) {
        case 'a':
            ev->kind = BH_EV_ALLOC;
            if (!parse_id(r, tok, n, &id) || !parse_bytes(r, tok, n, &ev->bytes))
                return -1;
            if (r->nobjects > 0 && id <= r->last_id) {
                if (lookup_id(r, id) != UINT32_MAX)
                    return fail(r, "duplicate 'a' for ID %llu", (unsigned long long)id), -1;
                return fail(r, "ID %llu allocated after ID %llu: IDs must increase", (unsigned long long)id,
                            (unsigned long long)r->last_id), -1;
            }
            fixed = 3;
            break;
        case 'f':
        case 'd':
            ev->kind = tok[0].s[0] == 'f' ? BH_EV_FREE : BH_EV_DEAD;
            if (!parse_id(r, tok, n, &id) || !live_object(r, id, &obj))
                return -1;
            fixed = 2;
            break;
        case 'r':
            ev->kind = BH_EV_REALLOC;
            if (!parse_id(r, tok, n, &id) || !parse_bytes(r, tok, n, &ev->bytes) || !live_object(r, id, &obj))
                return -1;
            fixed = 3;
            break;
        case 'c':
            ev->kind = BH_EV_COLLECT;
            fixed = 1;
            break;
        default:
            return fail(r, "unknown event '%c'", tok[0].s[0]), -1;
        }
        if (!parse_fields(r, tok, n, fixed, ev))
            return -1;
        /* the line is valid: commit its effect on the ID table */
        switch (ev->kind) {
        case BH_EV_ALLOC:
            if (!add_object(r, id, &obj))
                return -1;
            break;
        case BH_EV_FREE: set_obj_state(r, obj, BH_OBJ_FREED); break;
        case BH_EV_DEAD: set_obj_state(r, obj, BH_OBJ_DEAD); break;
        case BH_EV_REALLOC:
            if (ev->bytes == 0) /* gc_realloc(p, 0) frees p */
                set_obj_state(r, obj, BH_OBJ_FREED);
            break;
        case BH_EV_COLLECT: break;
        }
        ev->id = id;
        ev->obj = obj;
        if (r->first_event_line == 0)
            r->first_event_line = ev->line;
        r->events++;
        return 1;
    }
}

void bh_trace_reader_close(bh_trace_reader *r)
{
    bh_lines_close(&r->lines);
    free(r->runs);
    free(r->state);
    if (r->own_interns) {
        if (r->sites)
            bh_intern_free(r->sites);
        if (r->pysites)
            bh_intern_free(r->pysites);
        free(r->sites);
        free(r->pysites);
    }
    r->runs = NULL;
    r->state = NULL;
    r->sites = r->pysites = NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* the compact trace */

char bh_trace_kind_letter(bh_trace_kind k)
{
    static const char letters[] = "afrdc";
    return (unsigned)k < 5 ? letters[k] : '?';
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need)
        cap2 *= 2;
    void *np = realloc(*p, cap2 * elem);
    if (!np)
        return false;
    *p = np;
    *cap = cap2;
    return true;
}

bool bh_trace_load(bh_trace *t, const char *path)
{
    memset(t, 0, sizeof *t);
    bh_intern_init(&t->sites);
    bh_intern_init(&t->pysites);
    t->name = strdup(path);
    bh_trace_reader r;
    bool ok = t->name && bh_trace_reader_open(&r, path, &t->sites, &t->pysites);
    size_t events_cap = 0, objects_cap = 0, site_cap = 0;
    bh_trace_event ev;
    int got = 0;
    unsigned long expected_line = 0;
    if (ok) {
        t->block_bytes = r.block_bytes;
        t->word_bytes = r.word_bytes;
        while ((got = bh_trace_reader_next(&r, &ev)) == 1) {
            if (t->nevents == 0) {
                t->first_event_line = ev.line;
                expected_line = ev.line;
            }
            if (ev.line != expected_line) {
                /* comments or blank lines since the previous event */
                size_t skips_cap = t->skips_cap;
                if (!grow((void **)&t->skip_event, &t->skips_cap, t->nskips + 1, sizeof *t->skip_event) ||
                    !grow((void **)&t->skip_total, &skips_cap, t->nskips + 1, sizeof *t->skip_total)) {
                    fprintf(stderr, "%s: out of memory\n", path);
                    got = -1;
                    break;
                }
                unsigned long before = t->nskips ? t->skip_total[t->nskips - 1] : 0;
                t->skip_event[t->nskips] = (uint32_t)t->nevents;
                t->skip_total[t->nskips] = before + (ev.line - expected_line);
                t->nskips++;
            }
            expected_line = ev.line + 1;
            if (t->nevents >= UINT32_MAX ||
                !grow((void **)&t->events, &events_cap, t->nevents + 1, sizeof *t->events)) {
                fprintf(stderr, "%s: out of memory\n", path);
                got = -1;
                break;
            }
            uint32_t word = ((uint32_t)ev.kind << BH_PACK_KIND_SHIFT) | (ev.obj & BH_PACK_OBJ_MASK);
            if (ev.fin)
                word |= BH_PACK_FIN;
            t->events[t->nevents++] = (bh_trace_packed){.word = word, .bytes = ev.bytes};
            t->counts[ev.kind]++;
            if (ev.kind == BH_EV_ALLOC) {
                if (!grow((void **)&t->site, &objects_cap, (size_t)ev.obj + 1, sizeof *t->site) ||
                    !grow((void **)&t->pysite, &site_cap, (size_t)ev.obj + 1, sizeof *t->pysite)) {
                    fprintf(stderr, "%s: out of memory\n", path);
                    got = -1;
                    break;
                }
                t->site[ev.obj] = ev.site;
                t->pysite[ev.obj] = ev.pysite;
                t->nobjects = ev.obj + 1;
            }
        }
        ok = got == 0;
    }
    bh_trace_reader_close(&r);
    if (!ok) {
        bh_trace_free(t);
        return false;
    }
    return true;
}

void bh_trace_free(bh_trace *t)
{
    free(t->name);
    free(t->events);
    free(t->site);
    free(t->pysite);
    free(t->skip_event);
    free(t->skip_total);
    bh_intern_free(&t->sites);
    bh_intern_free(&t->pysites);
    memset(t, 0, sizeof *t);
}

unsigned long bh_trace_line(const bh_trace *t, size_t i)
{
    /* the last skip entry at or before event i */
    size_t lo = 0, hi = t->nskips;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->skip_event[mid] <= i)
            lo = mid + 1;
        else
            hi = mid;
    }
    unsigned long skipped = lo ? t->skip_total[lo - 1] : 0;
    return t->first_event_line + (unsigned long)i + skipped;
}

bool bh_trace_peak_live(const bh_trace *t, size_t block_bytes, bh_trace_peak *peak)
{
    memset(peak, 0, sizeof *peak);
    uint32_t *size = calloc(t->nobjects ? t->nobjects : 1, sizeof *size);
    if (!size)
        return false;
    uint64_t blocks = 0, bytes = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        bh_trace_packed e = t->events[i];
        uint32_t obj = bh_packed_obj(e);
        switch (bh_packed_kind(e)) {
        case BH_EV_ALLOC:
        case BH_EV_REALLOC: {
            uint64_t old = size[obj], now = e.bytes;
            blocks -= (old + block_bytes - 1) / block_bytes;
            bytes -= old;
            blocks += (now + block_bytes - 1) / block_bytes;
            bytes += now;
            size[obj] = e.bytes;
            uint64_t req = (now + block_bytes - 1) / block_bytes;
            if (req > peak->largest_request_blocks)
                peak->largest_request_blocks = req;
            break;
        }
        case BH_EV_FREE:
        case BH_EV_DEAD:
            blocks -= (size[obj] + block_bytes - 1) / block_bytes;
            bytes -= size[obj];
            size[obj] = 0;
            break;
        case BH_EV_COLLECT: break;
        }
        if (blocks > peak->blocks) {
            peak->blocks = blocks;
            peak->at_event = i;
        }
        if (bytes > peak->bytes)
            peak->bytes = bytes;
    }
    free(size);
    return true;
}

int bh_trace_sniff(const char *path)
{
    if (strcmp(path, "-") == 0)
        return 1; /* standard input cannot be read twice: taken as a trace */
    bh_lines r;
    if (!bh_lines_open(&r, path))
        return -1;
    const char *first = bh_lines_next(&r);
    int trace = first && strncmp(first, "heaptrace", 9) == 0;
    if (!first && r.error) {
        fprintf(stderr, "%s: %s\n", r.name, bh_lines_error(&r));
        trace = -1;
    }
    bh_lines_close(&r);
    return trace;
}
