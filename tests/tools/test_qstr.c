/* Tests of `blockheap qstr` (tools/cmd_qstr.c): the real sample, constructed cases for every rule
 * of docs/qstr-rules.md, the parser on console logs and malformed input.
 *
 * The checks of the produced Q(...) lines are written here again, from the rules as the doc states
 * them (not by calling the tool's own check), and the names of ASCII characters (G4) are read from
 * the doc's `qstr-names` table. */
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

#include "qstr.h"
#include "util.h"

#define SAMPLE BH_SOURCE_DIR "/tests/data/qstr/unix32_sensor_node.txt"
#define SAMPLE_PY BH_SOURCE_DIR "/tests/data/qstr/sensor_node.py"
#define SHARED_SAMPLE BH_SHARED_DIR "/dumps/qstr/unix32_sensor_node.txt"
#define RULES_DOC BH_SOURCE_DIR "/docs/qstr-rules.md"

typedef struct {
    const char *s;
    size_t len;
} bstr;
#define B(lit) {lit, sizeof(lit) - 1}

/* ------------------------------------------------------------------------------------------------
 * helpers */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap + 1);
            assert_non_null(nb);
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* the G4 names of the ASCII characters, as docs/qstr-rules.md lists them */
static char doc_names[128][32];
static bool doc_names_loaded;

static void load_doc_names(void)
{
    if (doc_names_loaded)
        return;
    size_t len;
    char *doc = slurp(RULES_DOC, &len);
    assert_non_null(doc);
    const char *block = strstr(doc, "```text qstr-names\n");
    assert_non_null(block);
    const char *end = strstr(block + 3, "```");
    assert_non_null(end);
    int rows = 0;
    for (const char *l = strchr(block, '\n') + 1; l < end;) {
        const char *nl = strchr(l, '\n');
        while (*l == ' ')
            l++;
        unsigned code;
        char c1[8], name[32];
        /* "0x2e  .     dot   makeqstrdata.py": the code, the character (a quoted space for 0x20), the name */
        if (strncmp(l, "0x", 2) == 0) {
            int used = 0;
            assert_int_equal(sscanf(l, "0x%x %n", &code, &used), 1);
            const char *p = l + used;
            if (strncmp(p, "' '", 3) == 0)
                p += 3;
            else {
                assert_int_equal(sscanf(p, "%7s", c1), 1);
                p += strlen(c1);
            }
            assert_int_equal(sscanf(p, "%31s", name), 1);
            assert_true(code < 128);
            snprintf(doc_names[code], sizeof doc_names[code], "%s", name);
            rows++;
        }
        l = nl + 1;
    }
    assert_true(rows >= 31); /* every ASCII punctuation character but ` */
    free(doc);
    doc_names_loaded = true;
}

/* ---- the independent checker (docs/qstr-rules.md) */

/* strict UTF-8, per the Unicode well-formed byte sequences table */
static bool chk_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (b <= 0x7f)
            need = 0;
        else if (b >= 0xc2 && b <= 0xdf)
            need = 1;
        else if (b == 0xe0)
            need = 2, lo = 0xa0;
        else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef)
            need = 2;
        else if (b == 0xed)
            need = 2, hi = 0x9f;
        else if (b == 0xf0)
            need = 3, lo = 0x90;
        else if (b >= 0xf1 && b <= 0xf3)
            need = 3;
        else if (b == 0xf4)
            need = 3, hi = 0x8f;
        else
            return false;
        if (n - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            unsigned char c = s[i + k];
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf))
                return false;
        }
        i += need + 1;
    }
    return true;
}

/* G1, -Wbidi-chars: the bidirectional controls left open at the end of a (strict UTF-8) literal */
static bool chk_bidi_open(const unsigned char *s, size_t n)
{
    char ctx[256] = ""; /* open controls, innermost last: 'e' embedding/override, 'i' isolate */
    for (size_t i = 0; i + 2 < n; i++) {
        if (s[i] == '\\') { /* escapes the next byte: a control there is not seen */
            i++;
            continue;
        }
        if (s[i] != 0xe2 || (s[i + 1] != 0x80 && s[i + 1] != 0x81))
            continue;
        unsigned cp = 0x2000u | ((s[i + 1] & 0x3fu) << 6) | (s[i + 2] & 0x3fu);
        size_t d = strlen(ctx);
        if (cp == 0x202a || cp == 0x202b || cp == 0x202d || cp == 0x202e || (cp >= 0x2066 && cp <= 0x2068)) {
            assert_true(d + 1 < sizeof ctx);
            ctx[d] = cp >= 0x2066 ? 'i' : 'e';
            ctx[d + 1] = '\0';
        } else if (cp == 0x202c && d > 0 && ctx[d - 1] == 'e') {
            ctx[d - 1] = '\0';
        } else if (cp == 0x2069 && strrchr(ctx, 'i')) {
            *strrchr(ctx, 'i') = '\0';
        }
    }
    return ctx[0] != '\0';
}

/* G1: the line wrapped in quotes must be one C string literal, with no trigraph, no NUL and no open
 * bidirectional control */
static bool chk_cpp_literal(const char *line, size_t n)
{
    size_t wn = n + 2;
    char *w = malloc(wn);
    assert_non_null(w);
    w[0] = '"';
    memcpy(w + 1, line, n);
    w[wn - 1] = '"';
    size_t i = 1;
    while (i < wn && w[i] != '"')
        i += w[i] == '\\' ? 2 : 1;
    bool ok = i == wn - 1 && memchr(w, '\0', wn) == NULL &&
              !(chk_utf8((const unsigned char *)w, wn) && chk_bidi_open((const unsigned char *)w, wn));
    for (size_t k = 0; ok && k + 2 < wn; k++)
        if (w[k] == '?' && w[k + 1] == '?' && w[k + 2] && strchr("=/'()!<>-", w[k + 2]))
            ok = false;
    free(w);
    return ok;
}

/* G3: the value makeqstrdata.py reads from the text between Q( and ) */
static bstr chk_value(const char *content, size_t n)
{
    if (n == 2 && memcmp(content, "\\n", 2) == 0)
        return (bstr)B("\n");
    if (n == 4 && memcmp(content, "\\r\\n", 4) == 0)
        return (bstr)B("\r\n");
    return (bstr){content, n};
}

/* Does the generator take this produced line? NULL if so, else which rule it breaks. On success the
 * string it reads is in *value. */
static const char *chk_line(const char *line, size_t n, bstr *value)
{
    if (n < 3 || memcmp(line, "Q(", 2) != 0 || line[n - 1] != ')')
        return "G2: not Q(...)";
    if (memchr(line, '\n', n) || memchr(line, '\r', n))
        return "G2: line break";
    if (!chk_cpp_literal(line, n))
        return "G1: not one C string literal, or a trigraph";
    *value = chk_value(line + 2, n - 3);
    if (!chk_utf8((const unsigned char *)value->s, value->len))
        return "G7: not UTF-8";
    if (value->len >= 256)
        return "G6: too long";
    return NULL;
}

/* Would the generator take this string from some Q(...) line? (G1-G3, G6, G7; not G4) */
static bool chk_takes(const char *s, size_t len)
{
    if ((len == 1 && s[0] == '\n') || (len == 2 && s[0] == '\r' && s[1] == '\n'))
        return true; /* G3 spellings */
    if ((len == 2 && memcmp(s, "\\n", 2) == 0) || (len == 4 && memcmp(s, "\\r\\n", 4) == 0))
        return false; /* G3 would read it as a control string */
    char *line = malloc(len + 3);
    assert_non_null(line);
    memcpy(line, "Q(", 2);
    memcpy(line + 2, s, len);
    line[len + 2] = ')';
    bstr v;
    bool ok = chk_line(line, len + 3, &v) == NULL;
    free(line);
    return ok;
}

/* G4 with the doc's ASCII names; other characters by the tool's own table (its ASCII part is
 * checked against the doc in test_ident_matches_doc) */
static char *chk_ident(const char *s, size_t len)
{
    load_doc_names();
    size_t cap = len * 20 + 16, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t k = 1;
            while (i + k < len && ((unsigned char)s[i + k] & 0xc0) == 0x80)
                k++;
            char *id = bh_qstr_ident(s + i, k);
            assert_non_null(id);
            n += (size_t)snprintf(out + n, cap - n, "%s", id);
            free(id);
            i += k;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
            out[n++] = (char)c;
        else if (doc_names[c][0])
            n += (size_t)snprintf(out + n, cap - n, "_%s_", doc_names[c]);
        else
            n += (size_t)snprintf(out + n, cap - n, "_0x%02x_", c);
        out[n] = '\0';
        i++;
    }
    out[n] = '\0';
    return out;
}

/* ---- running the tool on a text */

typedef struct {
    bh_qstr_set set;
    char *out;
    size_t out_len;
    size_t taken;
    bool ok;
    unsigned long err_line;
    char err[256];
} run_t;

static void run_text(run_t *r, const char *text, size_t len, unsigned len_bytes)
{
    memset(r, 0, sizeof *r);
    bh_qstr_set_init(&r->set);
    bh_qstr_parser p;
    bh_qstr_parser_init(&p, &r->set, "test.txt");
    p.quiet = true;
    r->ok = bh_qstr_parse_text(&p, text, len);
    r->err_line = p.err_line;
    memcpy(r->err, p.err, sizeof r->err);
    bh_qstr_parser_free(&p);
    if (!r->ok)
        return;
    r->taken = bh_qstr_decide(&r->set, len_bytes);
    FILE *m = open_memstream(&r->out, &r->out_len);
    assert_non_null(m);
    bh_qstr_write_fragment(m, &r->set, "test.txt");
    fclose(m);
}

static void run_free(run_t *r)
{
    bh_qstr_set_free(&r->set);
    free(r->out);
}

static const bh_qstr_str *find_str(const bh_qstr_set *set, const char *s, size_t len)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->strs[i].len == len && memcmp(set->strs[i].s, s, len) == 0)
            return &set->strs[i];
    return NULL;
}

/* qstr_info(1) output for these strings: the header computed from them (I1, I3, I4), then the
 * entries with each LF of a string written as eol (I2, I5) and eol after each line */
static char *make_dump(const bstr *strs, size_t n, const char *eol, size_t *len)
{
    char *buf = NULL;
    FILE *m = open_memstream(&buf, len);
    assert_non_null(m);
    size_t data = 0;
    for (size_t i = 0; i < n; i++)
        data += strs[i].len + 1;
    fprintf(m, "qstr pool: n_pool=1, n_qstr=%zu, n_str_data_bytes=%zu, n_total_bytes=%zu%s", n, data,
            data + 16 + 4 * n, eol);
    for (size_t i = 0; i < n; i++) {
        fputs("Q(", m);
        for (size_t k = 0; k < strs[i].len; k++) {
            if (strs[i].s[k] == '\n')
                fputs(eol, m);
            else
                fputc(strs[i].s[k], m);
        }
        fprintf(m, ")%s", eol);
    }
    fclose(m);
    return buf;
}

/* Checks a produced fragment against the rules: every line a comment, blank or a Q(...) line the
 * generator takes (G1-G3, G6, G7); no two Q(...) lines with one name (G4); every value one of the
 * strings found and not refused; and every string found either written or refused -- written iff
 * the rules take it and it is the first with its name. Returns the number of Q(...) lines. */
static size_t check_fragment(const run_t *r)
{
    size_t n_q = 0;
    char **names = calloc(r->set.n + 1, sizeof *names);
    assert_non_null(names);
    bool *written = calloc(r->set.n + 1, sizeof *written);
    assert_non_null(written);
    const char *p = r->out, *end = r->out + r->out_len;
    bool last_was_control_note = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        size_t n = (size_t)(nl - p);
        if (n == 0 || (n >= 2 && memcmp(p, "//", 2) == 0)) {
            /* comments: printable ASCII only, no trigraph, no splice (G1) */
            for (size_t k = 0; k < n; k++)
                assert_true(p[k] >= 0x20 && p[k] < 0x7f);
            assert_true(n == 0 || p[n - 1] != '\\');
            for (size_t k = 0; k + 1 < n; k++)
                assert_false(p[k] == '?' && p[k + 1] == '?');
            const char *note = strstr(p, "control characters");
            last_was_control_note = note && note < nl;
        } else {
            bstr v;
            const char *why = chk_line(p, n, &v);
            if (why)
                fail_msg("produced line breaks %s: %.*s", why, (int)n, p);
            const bh_qstr_str *e = find_str(&r->set, v.s, v.len);
            assert_non_null(e);
            assert_int_equal(e->refused, 0);
            size_t idx = (size_t)(e - r->set.strs);
            assert_false(written[idx]);
            written[idx] = true;
            /* raw control characters get a note above them */
            bool control = false;
            for (size_t k = 2; k + 1 < n; k++)
                control |= (unsigned char)p[k] < 0x20 || p[k] == 0x7f;
            assert_true(!control || last_was_control_note);
            char *id = chk_ident(v.s, v.len);
            for (size_t k = 0; k < n_q; k++)
                if (strcmp(names[k], id) == 0)
                    fail_msg("two Q(...) lines named MP_QSTR_%s", id);
            names[n_q++] = id;
            last_was_control_note = false;
        }
        p = nl + 1;
    }
    /* completeness, in the generator's order of the strings (bytewise) */
    size_t n_names = 0;
    char **taken_names = calloc(r->set.n + 1, sizeof *taken_names);
    assert_non_null(taken_names);
    for (size_t i = 0; i < r->set.n; i++) {
        const bh_qstr_str *e = &r->set.strs[i];
        bool want = chk_takes(e->s, e->len);
        if (want) {
            char *id = chk_ident(e->s, e->len);
            for (size_t k = 0; k < n_names && want; k++)
                if (strcmp(taken_names[k], id) == 0)
                    want = false;
            if (want)
                taken_names[n_names++] = id;
            else
                free(id);
        }
        if (want != written[i])
            fail_msg("string %zu (%.*s) %s but the rules say it %s", i, (int)e->len, e->s,
                     written[i] ? "was written" : "was not written", want ? "can be" : "cannot be");
        if (!want) {
            /* refused ones are listed: their quoted form is in the comment block */
            char *q = NULL;
            size_t ql = 0;
            FILE *m = open_memstream(&q, &ql);
            bh_qstr_write_quoted(m, e->s, e->len);
            fclose(m);
            char *line = malloc(ql + 4);
            snprintf(line, ql + 4, "// %s", q);
            assert_non_null(strstr(r->out, line));
            free(line);
            free(q);
            assert_true(e->refused != 0);
        }
    }
    for (size_t k = 0; k < n_names; k++)
        free(taken_names[k]);
    free(taken_names);
    for (size_t k = 0; k < n_q; k++)
        free(names[k]);
    free(names);
    free(written);
    return n_q;
}

/* ------------------------------------------------------------------------------------------------
 * the real sample */

static void test_bundled_sample_is_the_shared_one(void **state)
{
    (void)state;
    size_t a_len, b_len;
    char *a = slurp(SAMPLE, &a_len);
    assert_non_null(a);
    char *b = slurp(SHARED_SAMPLE, &b_len);
    if (!b) {
        free(a);
        skip(); /* no ../shared: the bundled copy stands alone */
    }
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    free(a);
    free(b);
}

static void test_real_sample(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(SAMPLE, &len);
    assert_non_null(text);
    run_t r;
    run_text(&r, text, len, 1);
    assert_true(r.ok);
    /* the header's own numbers (I3, I4) match what was read */
    assert_int_equal(r.set.n_runs, 1);
    const bh_qstr_run *run = &r.set.runs[0];
    assert_int_equal(run->entries, run->n_qstr);
    assert_int_equal(r.set.entries, run->n_qstr);
    assert_int_equal(run->data_bytes, run->n_str_data_bytes);
    assert_int_equal(r.set.n, run->n_qstr); /* one run: no duplicates */

    /* the strings the program's source interns (string constants of at most 10 bytes, the default
     * MICROPY_ALLOC_PARSE_INTERN_STRING_LEN) are there exactly, escapes decoded */
    size_t py_len;
    char *py = slurp(SAMPLE_PY, &py_len);
    assert_non_null(py);
    const char *weird = strstr(py, "weird = {");
    assert_non_null(weird);
    int checked = 0;
    for (const char *q = strchr(weird, '\''); q && q < strchr(weird, '}'); q = strchr(q + 1, '\'')) {
        char val[64];
        size_t n = 0;
        const char *c = q + 1;
        for (; *c && *c != '\'' && n < sizeof val - 4; c++) {
            if (*c != '\\') {
                val[n++] = *c;
                continue;
            }
            c++;
            if (*c == 't')
                val[n++] = '\t';
            else if (*c == 'n')
                val[n++] = '\n';
            else if (*c == 'u') {
                unsigned cp;
                assert_int_equal(sscanf(c + 1, "%4x", &cp), 1);
                c += 4;
                if (cp < 0x80)
                    val[n++] = (char)cp;
                else if (cp < 0x800) {
                    val[n++] = (char)(0xc0 | (cp >> 6));
                    val[n++] = (char)(0x80 | (cp & 0x3f));
                } else {
                    val[n++] = (char)(0xe0 | (cp >> 12));
                    val[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    val[n++] = (char)(0x80 | (cp & 0x3f));
                }
            } else
                val[n++] = *c;
        }
        q = c; /* the closing quote */
        if (n <= 10) {
            if (!find_str(&r.set, val, n))
                fail_msg("string '%.*s' of sensor_node.py not read", (int)n, val);
            checked++;
        }
    }
    assert_true(checked >= 4);
    free(py);

    /* the fragment: each line against the rules, and every string the generator takes is in it */
    size_t n_q = check_fragment(&r);
    assert_int_equal(n_q, r.taken);
    assert_true(r.taken < r.set.n); /* the sample has strings the generator cannot take */
    run_free(&r);
    free(text);
}

/* ------------------------------------------------------------------------------------------------
 * constructed cases, one or more per rule */

typedef struct {
    bstr str;
    unsigned refused; /* the flags the rule gives */
    const char *rule;
} rule_case;

static const rule_case rule_cases[] = {
    {B("plain"), 0, "-"},
    {B("paren(s)"), 0, "G2: ( ) inside"},
    {B(")"), 0, "G2"},
    {B("(("), 0, "G2"},
    {B("Q(x)"), 0, "G2"},
    {B(""), 0, "G2: empty"},
    {B(" lead and trail "), 0, "G2: strip() only trims the line"},
    {B("tab\there"), 0, "G5: raw tab"},
    {B("esc\x1b[0m"), 0, "G5: raw control character"},
    {B("del\x7f"), 0, "G5: raw DEL"},
    {B("back\\slash"), 0, "G1: backslash"},
    {B("ends\\"), 0, "G1: backslash before the )"},
    {B("bs\\\"q"), 0, "G1: escaped quote"},
    {B("\\t"), 0, "G3: only \\n and \\r\\n are read specially"},
    {B("/* c */ // x"), 0, "G1: comments inside the literal"},
    {B("quote\"d"), BH_QSTR_QUOTE, "G1: quote"},
    {B("a\"b  c\"d"), BH_QSTR_QUOTE, "G1: quotes around spaces"},
    {B("\\\\\"x"), BH_QSTR_QUOTE, "G1: escaped backslash then quote"},
    {B("tri?\?=x"), BH_QSTR_TRIGRAPH, "G1: trigraph"},
    {B("end??"), BH_QSTR_TRIGRAPH, "G1: trigraph with the )"},
    {B("a??b"), 0, "G1: ?? that is no trigraph"},
    {B("q?x?"), 0, "G1"},
    {B("new\nline"), BH_QSTR_LINE_BREAK, "G2: LF"},
    {B("cr\rx"), BH_QSTR_LINE_BREAK, "G2: CR"},
    {B("\n"), 0, "G3: spelled \\n"},
    {B("\\n"), BH_QSTR_LOOKALIKE, "G3: backslash n"},
    {B("\\r\\n"), BH_QSTR_LOOKALIKE, "G3: backslash r backslash n"},
    {B("caf\xc3\xa9"), 0, "G5, G7: UTF-8"},
    {B("\xe2\x98\x83"), 0, "G7: 3 bytes"},
    {B("\xf0\x9f\x90\x8d"), 0, "G7: 4 bytes"},
    {B("x\xff"), BH_QSTR_BAD_UTF8, "G7: invalid byte"},
    {B("\xed\xa0\x80"), BH_QSTR_BAD_UTF8, "G7: surrogate"},
    {B("\xc0\xaf"), BH_QSTR_BAD_UTF8, "G7: overlong"},
    {B("\xf4\x90\x80\x80"), BH_QSTR_BAD_UTF8, "G7: beyond U+10FFFF"},
    {B("\xe2\x98"), BH_QSTR_BAD_UTF8, "G7: cut short"},
    {B("x\xff\"\n"), BH_QSTR_BAD_UTF8 | BH_QSTR_QUOTE | BH_QSTR_LINE_BREAK, "G1, G2, G7 at once"},
    {B("rlo\xe2\x80\xae"), BH_QSTR_BIDI, "G1: override left open"},
    {B("\xe2\x80\xaex\xe2\x80\xac"), 0, "G1: override closed by PDF"},
    {B("\xe2\x81\xa7x\xe2\x81\xa9"), 0, "G1: isolate closed by PDI"},
    {B("\xe2\x80\xaax\xe2\x81\xa9"), BH_QSTR_BIDI, "G1: a PDI does not close an embedding"},
    {B("\xe2\x81\xa6x\xe2\x80\xac"), BH_QSTR_BIDI, "G1: a PDF does not close an isolate"},
    {B("\xe2\x81\xa6\xe2\x80\xaax\xe2\x81\xa9"), 0, "G1: a PDI closes what follows its isolate"},
    {B("\xe2\x80\xac\xe2\x81\xa9\xe2\x80\x8e"), 0, "G1: stray PDF, PDI; LRM"},
    {B("\\\xe2\x80\xae"), 0, "G1: a backslash hides the override from the preprocessor"},
    {B("\\\\\xe2\x80\xae"), BH_QSTR_BIDI, "G1: an escaped backslash does not"},
    {B("a.b"), 0, "G4: keeps the name a_dot_b"},
    {B("a_dot_b"), BH_QSTR_NAME_CLASH, "G4: a_dot_b is taken"},
    {B("_eacute_"), 0, "G4: sorts first, keeps the name"},
    {B("\xc3\xa9"), BH_QSTR_NAME_CLASH, "G4: U+00E9 is _eacute_, taken"},
    {B("~"), 0, "G4: _tilde_"},
    {B("\xcb\x9c"), BH_QSTR_NAME_CLASH, "G4: U+02DC is HTML tilde too"},
    {B("_0x60_"), 0, "G4: sorts first, keeps the name"},
    {B("`"), BH_QSTR_NAME_CLASH, "G4: ` has no name, _0x60_ is taken"},
};

static void test_rule_cases(void **state)
{
    (void)state;
    size_t n = sizeof rule_cases / sizeof rule_cases[0];
    bstr strs[sizeof rule_cases / sizeof rule_cases[0] + 2];
    for (size_t i = 0; i < n; i++)
        strs[i] = rule_cases[i].str;
    /* G6: the longest string and one byte more */
    char long_ok[255], long_bad[256];
    memset(long_ok, 'a', sizeof long_ok);
    memset(long_bad, 'b', sizeof long_bad);
    strs[n] = (bstr){long_ok, sizeof long_ok};
    strs[n + 1] = (bstr){long_bad, sizeof long_bad};

    for (int eol = 0; eol < 2; eol++) { /* a unix log, and a board's cooked one (I5) */
        size_t len;
        char *text = make_dump(strs, n + 2, eol ? "\r\n" : "\n", &len);
        run_t r;
        run_text(&r, text, len, 1);
        if (!r.ok)
            fail_msg("parse: line %lu: %s", r.err_line, r.err);
        assert_int_equal(r.set.n, n + 2);
        assert_int_equal(r.set.runs[0].data_bytes, r.set.runs[0].n_str_data_bytes);
        for (size_t i = 0; i < n; i++) {
            const bh_qstr_str *e = find_str(&r.set, rule_cases[i].str.s, rule_cases[i].str.len);
            if (!e)
                fail_msg("case %zu (%s) not read back", i, rule_cases[i].rule);
            if (e->refused != rule_cases[i].refused)
                fail_msg("case %zu (%s): refused 0x%x, the rule says 0x%x", i, rule_cases[i].rule,
                         e->refused, rule_cases[i].refused);
        }
        assert_int_equal(find_str(&r.set, long_ok, sizeof long_ok)->refused, 0);
        assert_int_equal(find_str(&r.set, long_bad, sizeof long_bad)->refused, BH_QSTR_TOO_LONG);
        check_fragment(&r);
        /* the spelled newline is there as G3 spells it */
        assert_non_null(strstr(r.out, "\nQ(\\n)\n"));
        run_free(&r);

        /* G6 with MICROPY_QSTR_BYTES_IN_LEN=2 */
        run_text(&r, text, len, 2);
        assert_true(r.ok);
        assert_int_equal(find_str(&r.set, long_bad, sizeof long_bad)->refused, 0);
        run_free(&r);
        free(text);
    }
}

static void test_check_and_value(void **state)
{
    (void)state;
    /* every byte, every pair of bytes, and every byte around "??", as the independent checker says */
    for (int a = 0; a < 256; a++) {
        for (int b = -1; b < 256; b++) {
            char s2[3] = {(char)a, (char)b, 0};
            size_t len = b < 0 ? 1 : 2;
            unsigned f = bh_qstr_check(s2, len, 1);
            if ((f == 0) != chk_takes(s2, len))
                fail_msg("bytes %02x %02x: tool 0x%x, rules %d", a, b & 0xff, f, chk_takes(s2, len));
        }
        char pre[3] = {'?', '?', (char)a}, post[3] = {(char)a, '?', '?'};
        if ((bh_qstr_check(pre, 3, 1) == 0) != chk_takes(pre, 3))
            fail_msg("\"??\" + %02x disagrees", a);
        if ((bh_qstr_check(post, 3, 1) == 0) != chk_takes(post, 3))
            fail_msg("%02x + \"??\" disagrees", a);
    }
    /* every sequence of up to three bidirectional controls (and x) */
    static const char *const bidi[] = {"x", "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad",
                                       "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8",
                                       "\xe2\x81\xa9"};
    for (int a = 0; a < 10; a++)
        for (int b = 0; b < 10; b++)
            for (int c = 0; c < 10; c++) {
                char s3[16];
                int n = snprintf(s3, sizeof s3, "%s%s%s", bidi[a], bidi[b], bidi[c]);
                if ((bh_qstr_check(s3, (size_t)n, 1) == 0) != chk_takes(s3, (size_t)n))
                    fail_msg("bidi %d %d %d disagrees", a, b, c);
            }
    /* G3: the two control strings spelled, anything else as it is; read back by the rules */
    const bstr values[] = {B("\n"), B("\r\n"), B("x\ty"), B("\\")};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char *out = NULL;
        size_t out_len = 0;
        FILE *m = open_memstream(&out, &out_len);
        fputs("Q(", m);
        bh_qstr_write_value(m, values[i].s, values[i].len);
        fputs(")", m);
        fclose(m);
        bstr v;
        assert_null(chk_line(out, out_len, &v));
        assert_int_equal(v.len, values[i].len);
        assert_memory_equal(v.s, values[i].s, v.len);
        free(out);
    }
    assert_int_equal(bh_qstr_check("\r\n", 2, 1), 0);
    for (unsigned k = 0; k < BH_QSTR_N_REASONS; k++)
        assert_non_null(bh_qstr_reason(1u << k));
    assert_null(bh_qstr_reason(1u << BH_QSTR_N_REASONS));
}

static void test_ident_matches_doc(void **state)
{
    (void)state;
    load_doc_names();
    for (int c = 1; c < 128; c++) {
        char s[1] = {(char)c};
        char *id = bh_qstr_ident(s, 1);
        assert_non_null(id);
        char want[48];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
            snprintf(want, sizeof want, "%c", c);
        else if (doc_names[c][0])
            snprintf(want, sizeof want, "_%s_", doc_names[c]);
        else
            snprintf(want, sizeof want, "_0x%02x_", c);
        if (strcmp(id, want) != 0)
            fail_msg("0x%02x: tool names it %s, the doc %s", c, id, want);
        free(id);
    }
    /* the doc's examples: U+00E9 is eacute (HTML), a tab _0x09_; U+2603 has no HTML name */
    char *id = bh_qstr_ident("caf\xc3\xa9\t\xe2\x98\x83", 9);
    assert_string_equal(id, "caf_eacute__0x09__0x2603_");
    free(id);
    assert_null(bh_qstr_ident("\xff", 1));
}

/* the quoting of comments reads back to the bytes, and is safe in a // comment */
static void test_quoted_round_trip(void **state)
{
    (void)state;
    char all[256 + 6];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    memcpy(all + 256, "?\?/?\?", 5);
    size_t n = 261;
    char *q = NULL;
    size_t ql = 0;
    FILE *m = open_memstream(&q, &ql);
    bh_qstr_write_quoted(m, all, n);
    fclose(m);
    assert_true(ql >= 2 && q[0] == '"' && q[ql - 1] == '"');
    for (size_t i = 0; i < ql; i++)
        assert_true(q[i] >= 0x20 && q[i] < 0x7f);
    assert_null(strstr(q, "??"));
    /* decode C-style */
    char back[300];
    size_t bn = 0;
    for (size_t i = 1; i + 1 < ql; i++) {
        if (q[i] != '\\') {
            back[bn++] = q[i];
            continue;
        }
        char e = q[++i];
        if (e == 'x') {
            unsigned v;
            assert_int_equal(sscanf(q + i + 1, "%2x", &v), 1);
            back[bn++] = (char)v;
            i += 2;
        } else {
            back[bn++] = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
        }
    }
    assert_int_equal(bn, n);
    assert_memory_equal(back, all, n);
    free(q);
}

/* ------------------------------------------------------------------------------------------------
 * the parser */

static bool set_has_exactly(const bh_qstr_set *set, const bstr *strs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!find_str(set, strs[i].s, strs[i].len))
            return false;
    for (size_t i = 0; i < set->n; i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strs[k].len == set->strs[i].len && memcmp(strs[k].s, set->strs[i].s, strs[k].len) == 0;
        if (!found)
            return false;
    }
    return true;
}

static void test_console_log(void **state)
{
    (void)state;
    const bstr run1[] = {B("alpha"), B("x)\ny"), B("shared"), B("a\nQ(b"), B("tail\n")};
    const bstr run2[] = {B("shared"), B("beta"), B("multi\nline"), B("alpha"), B("last)")};
    size_t l1, l2;
    char *d1 = make_dump(run1, 5, "\n", &l1);
    char *d2 = make_dump(run2, 5, "\r\n", &l2); /* from a board: cooked (I5) */
    char *log = NULL;
    size_t log_len = 0;
    FILE *m = open_memstream(&log, &log_len);
    fputs("MicroPython v1.23.0 on 2024-06-02; linux [GCC 12.2.0] version\n"
          "Use Ctrl-D to exit, Ctrl-E for paste mode\n"
          ">>> import micropython\n"
          ">>> micropython.qstr_info()\n"
          "qstr pool: n_pool=1, n_qstr=3, n_str_data_bytes=20, n_total_bytes=100\n"
          ">>> micropython.qstr_info(1)\n",
          m);
    fwrite(d1, 1, l1, m);
    fputs(">>> print('Q(not a qstr)')\nQ(not a qstr)\n>>> \n", m);
    fputs("OK", m); /* the raw REPL answers OK, then the output */
    fwrite(d2, 1, l2, m);
    fputs("\x04\x04>\n", m);
    fclose(m);

    run_t r;
    run_text(&r, log, log_len, 1);
    if (!r.ok)
        fail_msg("line %lu: %s", r.err_line, r.err);
    assert_int_equal(r.set.n_runs, 3);
    assert_int_equal(r.set.runs[0].entries, 0); /* qstr_info() without the argument */
    for (size_t i = 1; i < 3; i++) {
        assert_int_equal(r.set.runs[i].entries, r.set.runs[i].n_qstr);
        assert_int_equal(r.set.runs[i].data_bytes, r.set.runs[i].n_str_data_bytes);
    }
    assert_int_equal(r.set.entries, 10);
    assert_int_equal(r.set.ignored_lines, 1);
    const bstr all[] = {B("alpha"), B("x)\ny"), B("shared"), B("a\nQ(b"), B("tail\n"),
                        B("beta"), B("multi\nline"), B("last)")};
    assert_true(set_has_exactly(&r.set, all, sizeof all / sizeof all[0]));
    check_fragment(&r);
    run_free(&r);
    free(log);
    free(d1);
    free(d2);
}

static void test_bare_list(void **state)
{
    (void)state;
    const char text[] = "Q(one)\nQ(two)\n\nQ(three\nlines)\nQ(one)\n";
    run_t r;
    run_text(&r, text, sizeof text - 1, 1);
    assert_true(r.ok);
    assert_int_equal(r.set.n_runs, 0);
    const bstr all[] = {B("one"), B("two"), B("three\nlines")};
    assert_true(set_has_exactly(&r.set, all, 3));
    run_free(&r);
}

static void test_gzip_file(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(SAMPLE, &len);
    assert_non_null(text);
    char path[] = "/tmp/test_qstr_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, text, (unsigned)len), (int)len);
    gzclose(gz);

    bh_qstr_set a, b;
    bh_qstr_set_init(&a);
    bh_qstr_set_init(&b);
    bh_qstr_parser p;
    bh_qstr_parser_init(&p, &a, path);
    assert_true(bh_qstr_parse_file(&p, path));
    bh_qstr_parser_free(&p);
    bh_qstr_parser_init(&p, &b, "text");
    p.quiet = true;
    assert_true(bh_qstr_parse_text(&p, text, len));
    bh_qstr_parser_free(&p);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        assert_non_null(find_str(&b, a.strs[i].s, a.strs[i].len));
    bh_qstr_set_free(&a);
    bh_qstr_set_free(&b);
    unlink(path);
    free(text);
}

/* malformed input: the line each error names */
typedef struct {
    const char *what;
    const char *text; /* "@" marks the start of the line the error must name */
    size_t len;
} bad_case;
#define BAD(what, lit) {what, lit, sizeof(lit) - 1}

static const bad_case bad_cases[] = {
    BAD("header with a bad number",
        "hello\n@qstr pool: n_pool=1, n_qstr=x, n_str_data_bytes=3, n_total_bytes=9\n"),
    BAD("header cut short", "@qstr pool: n_pool=1, n_qstr=2\nQ(a)\n"),
    BAD("header with junk after it",
        "@qstr pool: n_pool=1, n_qstr=1, n_str_data_bytes=2, n_total_bytes=9 and more\nQ(a)\n"),
    BAD("number too big",
        "@qstr pool: n_pool=99999999999999999999999, n_qstr=1, n_str_data_bytes=2, n_total_bytes=9\n"),
    BAD("block cut by a new header",
        "qstr pool: n_pool=1, n_qstr=3, n_str_data_bytes=6, n_total_bytes=99\nQ(a)\nQ(b)\n"
        "@qstr pool: n_pool=1, n_qstr=1, n_str_data_bytes=2, n_total_bytes=99\nQ(c)\n"),
    BAD("input ends in a block",
        "qstr pool: n_pool=1, n_qstr=3, n_str_data_bytes=6, n_total_bytes=99\nQ(a)\n@Q(b)"),
    BAD("other output after a cut-short run",
        "qstr pool: n_pool=1, n_qstr=3, n_str_data_bytes=6, n_total_bytes=99\nQ(a)\nQ(b)\n@>>> \n"),
    BAD("other output, then the next run",
        "qstr pool: n_pool=1, n_qstr=3, n_str_data_bytes=6, n_total_bytes=99\nQ(a)\nQ(b)\n@junk\n"
        "qstr pool: n_pool=1, n_qstr=1, n_str_data_bytes=2, n_total_bytes=99\nQ(c)\n"),
    BAD("entry never closed",
        "qstr pool: n_pool=1, n_qstr=2, n_str_data_bytes=6, n_total_bytes=99\nQ(a)\n@Q(b\nc\n"),
    BAD("NUL in an entry", "qstr pool: n_pool=1, n_qstr=1, n_str_data_bytes=6, n_total_bytes=99\n@Q(a\0b)\n"),
    BAD("junk in a bare list", "Q(a)\n\n@hello\n"),
    BAD("no output at all", "@just a log\n"),
    BAD("empty input", "@"),
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const char *t = bad_cases[i].text;
        const char *at = memchr(t, '@', bad_cases[i].len);
        assert_non_null(at);
        unsigned long want = 1;
        for (const char *c = t; c < at; c++)
            want += *c == '\n';
        char buf[512];
        size_t len = 0;
        for (size_t k = 0; k < bad_cases[i].len; k++)
            if (t + k != at)
                buf[len++] = t[k];
        run_t r;
        run_text(&r, buf, len, 1);
        if (r.ok)
            fail_msg("%s: accepted", bad_cases[i].what);
        if (r.err_line != want)
            fail_msg("%s: error at line %lu (%s), expected line %lu", bad_cases[i].what, r.err_line, r.err,
                     want);
        assert_true(r.err[0] != '\0');
        run_free(&r);
    }

    /* an entry longer than any qstr */
    size_t big = 70000;
    char *text = malloc(big + 100);
    assert_non_null(text);
    int h = snprintf(text, 100, "qstr pool: n_pool=1, n_qstr=1, n_str_data_bytes=2, n_total_bytes=9\nQ(");
    memset(text + h, 'x', big);
    run_t r;
    run_text(&r, text, (size_t)h + big, 1);
    assert_false(r.ok);
    assert_int_equal(r.err_line, 2);
    run_free(&r);
    free(text);
}

/* Random mixes of the pieces of qstr_info output: never a crash, and when the parse succeeds the
 * runs hold no more entries than their headers announced. */
static void test_never_crashes(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "Q(", ")", "Q()", "qstr pool: n_pool=1, n_qstr=2, n_str_data_bytes=3, n_total_bytes=4",
        "qstr pool: n_pool=1, n_qstr=0, n_str_data_bytes=0, n_total_bytes=4", "qstr pool:", "\t", "x",
        "\"", "\\", "?\?", "\r", "\n", "\n", "\n", ">>> ", "\xff", "\xc3\xa9", "\0", "\xe2\x80\xae",
        "\xe2\x80\xac", "\xe2\x81\xa6", "\xe2\x81\xa9",
    };
    unsigned long seed = 12345;
    char buf[600];
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = 0;
        int n = (int)(seed % 40);
        for (int k = 0; k < n; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t pi = (size_t)((seed >> 33) % (sizeof pieces / sizeof pieces[0]));
            size_t pl = pieces[pi][0] ? strlen(pieces[pi]) : 1;
            if (len + pl >= sizeof buf)
                break;
            memcpy(buf + len, pieces[pi], pl);
            len += pl;
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        run_t r;
        run_text(&r, buf, len, 1 + (unsigned)(seed >> 63));
        if (r.ok) {
            for (size_t i = 0; i < r.set.n_runs; i++)
                assert_true(r.set.runs[i].entries <= r.set.runs[i].n_qstr);
            check_fragment(&r);
        } else {
            assert_true(r.err_line >= 1);
        }
        run_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundled_sample_is_the_shared_one),
        cmocka_unit_test(test_real_sample),
        cmocka_unit_test(test_rule_cases),
        cmocka_unit_test(test_check_and_value),
        cmocka_unit_test(test_ident_matches_doc),
        cmocka_unit_test(test_quoted_round_trip),
        cmocka_unit_test(test_console_log),
        cmocka_unit_test(test_bare_list),
        cmocka_unit_test(test_gzip_file),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
