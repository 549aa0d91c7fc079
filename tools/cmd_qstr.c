/* `blockheap qstr FILE... [-o qstrdefs.h]`: turns micropython.qstr_info(1) output (also inside a
 * console log) into the Q(...) lines of a port's qstrdefsport.h, so that the strings a program
 * interns in RAM move into the firmware. The generator's rules, and where in MicroPython's sources
 * each comes from, are in docs/qstr-rules.md; the rule names (I1, G1, ...) below refer to it. */
#include "qstr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "util.h"

/* The longest Q( entry the parser keeps: no qstr is longer, even with 2 length bytes (G6). */
#define QSTR_ENTRY_MAX 65535u

/* ------------------------------------------------------------------------------------------------
 * rules of one string (G1-G7) */

static const char *const reason_text[BH_QSTR_N_REASONS] = {
    "is not valid UTF-8: makeqstrdata.py reads its input as UTF-8 text",
    "contains a line break: the generator reads one Q(...) per line, and only the whole strings "
    "\"\\n\" and \"\\r\\n\" have a spelling",
    "is too long: the generator stops at 256 bytes (65536 with MICROPY_QSTR_BYTES_IN_LEN=2)",
    "is a backslash escape spelled out, which the generator reads as a control character",
    "contains a double quote, which ends the C string literal the build wraps each Q(...) line in",
    "contains a trigraph (two question marks before one of = / ' ( ) ! < > -), an error under "
    "-Wall -Werror",
    "contains a NUL byte, which the C preprocessor warns about (an error under -Werror)",
    "contains an unpaired Unicode bidirectional control character, an error under -Werror since "
    "GCC 12 (-Wbidi-chars)",
    "has the same MP_QSTR_ name as another string, and the generator keeps only the first",
};

static const char *const reason_key[BH_QSTR_N_REASONS] = {
    "bad_utf8", "line_break", "too_long", "escape_lookalike", "double_quote", "trigraph", "nul",
    "bidi", "name_clash",
};

static int flag_index(unsigned flag)
{
    for (int i = 0; i < BH_QSTR_N_REASONS; i++)
        if (flag == 1u << i)
            return i;
    return -1;
}

const char *bh_qstr_reason(unsigned flag)
{
    int i = flag_index(flag);
    return i < 0 ? NULL : reason_text[i];
}

/* Strict UTF-8 (what Python's decoder accepts): the code point at *i, advancing *i; -1 if invalid. */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return (long)c;
    }
    size_t n;
    unsigned long cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 1, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (len - *i - 1 < n)
        return -1;
    for (size_t k = 1; k <= n; k++) {
        unsigned b = s[*i + k];
        if ((b & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *i += n + 1;
    return (long)cp;
}

static bool utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;)
        if (utf8_next((const unsigned char *)s, len, &i) < 0)
            return false;
    return true;
}

static bool is_newline_string(const char *s, size_t len)
{
    return (len == 1 && s[0] == '\n') || (len == 2 && s[0] == '\r' && s[1] == '\n');
}

static bool is_trigraph_char(char c)
{
    return c != '\0' && strchr("=/'()!<>-", c) != NULL;
}

/* G1, -Wbidi-chars=unpaired (GCC 12 and later): in one string literal, every embedding or override
 * (U+202A, U+202B, U+202D, U+202E) must be closed by a PDF (U+202C) and every isolate (U+2066-U+2068)
 * by a PDI (U+2069). A PDF closes the innermost open character only if that is an embedding or
 * override; a PDI closes the innermost open isolate and everything opened after it; other PDFs and
 * PDIs are ignored. Like the preprocessor's lexer, a backslash escapes the next byte, so a control
 * character right after one is not seen. */
static bool bidi_unpaired(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    char *stack = NULL; /* 'E' embedding or override, 'I' isolate */
    size_t depth = 0;
    bool unpaired = false;
    for (size_t i = 0; i < len && !unpaired;) {
        if (u[i] == '\\') {
            i += 2;
            continue;
        }
        bool bidi_block = u[i] == 0xe2 && len - i >= 3 && (u[i + 1] == 0x80 || u[i + 1] == 0x81) &&
                          (u[i + 2] & 0xc0) == 0x80; /* U+2000-U+207F */
        if (!bidi_block) {
            i++;
            continue;
        }
        unsigned cp = 0x2000u | ((u[i + 1] & 0x3fu) << 6) | (u[i + 2] & 0x3fu);
        i += 3;
        if ((cp >= 0x202a && cp <= 0x202e && cp != 0x202c) || (cp >= 0x2066 && cp <= 0x2068)) {
            if (!stack && !(stack = malloc(len / 3 + 1)))
                unpaired = true; /* out of memory: refuse, rather than write what may break */
            else
                stack[depth++] = cp >= 0x2066 ? 'I' : 'E';
        } else if (cp == 0x202c) {
            if (depth > 0 && stack[depth - 1] == 'E')
                depth--;
        } else if (cp == 0x2069) {
            for (size_t k = depth; k > 0; k--)
                if (stack[k - 1] == 'I') {
                    depth = k - 1;
                    break;
                }
        }
    }
    free(stack);
    return unpaired || depth > 0;
}

unsigned bh_qstr_check(const char *s, size_t len, unsigned len_bytes)
{
    if (is_newline_string(s, len)) /* G3: Q(\n) and Q(\r\n) */
        return 0;
    unsigned flags = 0;
    if (!utf8_valid(s, len)) /* G7 */
        flags |= BH_QSTR_BAD_UTF8;
    if (memchr(s, '\n', len) || memchr(s, '\r', len)) /* G2 */
        flags |= BH_QSTR_LINE_BREAK;
    if (len >= (len_bytes >= 2 ? 65536u : 256u)) /* G6 */
        flags |= BH_QSTR_TOO_LONG;
    if ((len == 2 && memcmp(s, "\\n", 2) == 0) || (len == 4 && memcmp(s, "\\r\\n", 4) == 0)) /* G3 */
        flags |= BH_QSTR_LOOKALIKE;
    /* G1: the CPP reads the line "Q(<s>)" wrapped in double quotes as one C string literal: a
     * backslash escapes the next character, an unescaped quote ends the literal early. The text
     * before <s> is "Q(" and after it ")", so only <s> can hold a quote or a backslash. */
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"') {
            flags |= BH_QSTR_QUOTE;
            break;
        }
    }
    /* G1: "null character(s) preserved in literal" */
    if (memchr(s, '\0', len))
        flags |= BH_QSTR_NUL;
    if (bidi_unpaired(s, len))
        flags |= BH_QSTR_BIDI;
    /* G1: trigraphs, also "??" at the end followed by the ')' of Q(...) */
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] == '?' && s[i + 1] == '?' && (i + 2 == len ? true : is_trigraph_char(s[i + 2]))) {
            flags |= BH_QSTR_TRIGRAPH;
            break;
        }
    }
    return flags;
}

void bh_qstr_write_value(FILE *out, const char *s, size_t len)
{
    if (len == 1 && s[0] == '\n')
        fputs("\\n", out);
    else if (len == 2 && s[0] == '\r' && s[1] == '\n')
        fputs("\\r\\n", out);
    else
        fwrite(s, 1, len, out);
}

void bh_qstr_write_quoted(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\\': fputs("\\\\", out); break;
        case '"': fputs("\\\"", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        case '?':
            /* never two '?' in a row: "??/" in a comment would splice the next line in */
            fputs(i > 0 && s[i - 1] == '?' ? "\\?" : "?", out);
            break;
        default:
            if (c < 0x20 || c >= 0x7f)
                fprintf(out, "\\x%02x", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

/* ---- G4: the identifier makeqstrdata.py gives a string */

/* names of ASCII characters the generator adds to the HTML ones (docs/qstr-rules.md, G4) */
static const char *ascii_name(unsigned long c)
{
    switch (c) {
    case '-': return "hyphen";
    case ' ': return "space";
    case '\'': return "squot";
    case ',': return "comma";
    case '.': return "dot";
    case ':': return "colon";
    case ';': return "semicolon";
    case '/': return "slash";
    case '%': return "percent";
    case '#': return "hash";
    case '(': return "paren_open";
    case ')': return "paren_close";
    case '[': return "bracket_open";
    case ']': return "bracket_close";
    case '{': return "brace_open";
    case '}': return "brace_close";
    case '*': return "star";
    case '!': return "bang";
    case '\\': return "backslash";
    case '+': return "plus";
    case '$': return "dollar";
    case '=': return "equals";
    case '?': return "question";
    case '@': return "at_sign";
    case '^': return "caret";
    case '|': return "pipe";
    case '~': return "tilde";
    default: return NULL;
    }
}

/* The HTML 4.01 character entity names (Python's html.entities.codepoint2name), which the generator
 * uses for every other character that has one; sorted by code point. */
static const struct {
    unsigned short cp;
    const char *name;
} html_names[] = {
    {34, "quot"}, {38, "amp"}, {60, "lt"}, {62, "gt"}, {160, "nbsp"}, {161, "iexcl"}, {162, "cent"},
    {163, "pound"}, {164, "curren"}, {165, "yen"}, {166, "brvbar"}, {167, "sect"}, {168, "uml"},
    {169, "copy"}, {170, "ordf"}, {171, "laquo"}, {172, "not"}, {173, "shy"}, {174, "reg"},
    {175, "macr"}, {176, "deg"}, {177, "plusmn"}, {178, "sup2"}, {179, "sup3"}, {180, "acute"},
    {181, "micro"}, {182, "para"}, {183, "middot"}, {184, "cedil"}, {185, "sup1"}, {186, "ordm"},
    {187, "raquo"}, {188, "frac14"}, {189, "frac12"}, {190, "frac34"}, {191, "iquest"},
    {192, "Agrave"}, {193, "Aacute"}, {194, "Acirc"}, {195, "Atilde"}, {196, "Auml"}, {197, "Aring"},
    {198, "AElig"}, {199, "Ccedil"}, {200, "Egrave"}, {201, "Eacute"}, {202, "Ecirc"}, {203, "Euml"},
    {204, "Igrave"}, {205, "Iacute"}, {206, "Icirc"}, {207, "Iuml"}, {208, "ETH"}, {209, "Ntilde"},
    {210, "Ograve"}, {211, "Oacute"}, {212, "Ocirc"}, {213, "Otilde"}, {214, "Ouml"}, {215, "times"},
    {216, "Oslash"}, {217, "Ugrave"}, {218, "Uacute"}, {219, "Ucirc"}, {220, "Uuml"}, {221, "Yacute"},
    {222, "THORN"}, {223, "szlig"}, {224, "agrave"}, {225, "aacute"}, {226, "acirc"}, {227, "atilde"},
    {228, "auml"}, {229, "aring"}, {230, "aelig"}, {231, "ccedil"}, {232, "egrave"}, {233, "eacute"},
    {234, "ecirc"}, {235, "euml"}, {236, "igrave"}, {237, "iacute"}, {238, "icirc"}, {239, "iuml"},
    {240, "eth"}, {241, "ntilde"}, {242, "ograve"}, {243, "oacute"}, {244, "ocirc"}, {245, "otilde"},
    {246, "ouml"}, {247, "divide"}, {248, "oslash"}, {249, "ugrave"}, {250, "uacute"}, {251, "ucirc"},
    {252, "uuml"}, {253, "yacute"}, {254, "thorn"}, {255, "yuml"}, {338, "OElig"}, {339, "oelig"},
    {352, "Scaron"}, {353, "scaron"}, {376, "Yuml"}, {402, "fnof"}, {710, "circ"}, {732, "tilde"},
    {913, "Alpha"}, {914, "Beta"}, {915, "Gamma"}, {916, "Delta"}, {917, "Epsilon"}, {918, "Zeta"},
    {919, "Eta"}, {920, "Theta"}, {921, "Iota"}, {922, "Kappa"}, {923, "Lambda"}, {924, "Mu"},
    {925, "Nu"}, {926, "Xi"}, {927, "Omicron"}, {928, "Pi"}, {929, "Rho"}, {931, "Sigma"},
    {932, "Tau"}, {933, "Upsilon"}, {934, "Phi"}, {935, "Chi"}, {936, "Psi"}, {937, "Omega"},
    {945, "alpha"}, {946, "beta"}, {947, "gamma"}, {948, "delta"}, {949, "epsilon"}, {950, "zeta"},
    {951, "eta"}, {952, "theta"}, {953, "iota"}, {954, "kappa"}, {955, "lambda"}, {956, "mu"},
    {957, "nu"}, {958, "xi"}, {959, "omicron"}, {960, "pi"}, {961, "rho"}, {962, "sigmaf"},
    {963, "sigma"}, {964, "tau"}, {965, "upsilon"}, {966, "phi"}, {967, "chi"}, {968, "psi"},
    {969, "omega"}, {977, "thetasym"}, {978, "upsih"}, {982, "piv"}, {8194, "ensp"}, {8195, "emsp"},
    {8201, "thinsp"}, {8204, "zwnj"}, {8205, "zwj"}, {8206, "lrm"}, {8207, "rlm"}, {8211, "ndash"},
    {8212, "mdash"}, {8216, "lsquo"}, {8217, "rsquo"}, {8218, "sbquo"}, {8220, "ldquo"},
    {8221, "rdquo"}, {8222, "bdquo"}, {8224, "dagger"}, {8225, "Dagger"}, {8226, "bull"},
    {8230, "hellip"}, {8240, "permil"}, {8242, "prime"}, {8243, "Prime"}, {8249, "lsaquo"},
    {8250, "rsaquo"}, {8254, "oline"}, {8260, "frasl"}, {8364, "euro"}, {8465, "image"},
    {8472, "weierp"}, {8476, "real"}, {8482, "trade"}, {8501, "alefsym"}, {8592, "larr"},
    {8593, "uarr"}, {8594, "rarr"}, {8595, "darr"}, {8596, "harr"}, {8629, "crarr"}, {8656, "lArr"},
    {8657, "uArr"}, {8658, "rArr"}, {8659, "dArr"}, {8660, "hArr"}, {8704, "forall"}, {8706, "part"},
    {8707, "exist"}, {8709, "empty"}, {8711, "nabla"}, {8712, "isin"}, {8713, "notin"}, {8715, "ni"},
    {8719, "prod"}, {8721, "sum"}, {8722, "minus"}, {8727, "lowast"}, {8730, "radic"}, {8733, "prop"},
    {8734, "infin"}, {8736, "ang"}, {8743, "and"}, {8744, "or"}, {8745, "cap"}, {8746, "cup"},
    {8747, "int"}, {8756, "there4"}, {8764, "sim"}, {8773, "cong"}, {8776, "asymp"}, {8800, "ne"},
    {8801, "equiv"}, {8804, "le"}, {8805, "ge"}, {8834, "sub"}, {8835, "sup"}, {8836, "nsub"},
    {8838, "sube"}, {8839, "supe"}, {8853, "oplus"}, {8855, "otimes"}, {8869, "perp"}, {8901, "sdot"},
    {8968, "lceil"}, {8969, "rceil"}, {8970, "lfloor"}, {8971, "rfloor"}, {9001, "lang"},
    {9002, "rang"}, {9674, "loz"}, {9824, "spades"}, {9827, "clubs"}, {9829, "hearts"},
    {9830, "diams"},
};

static const char *html_name(unsigned long cp)
{
    size_t lo = 0, hi = sizeof html_names / sizeof html_names[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (html_names[mid].cp == cp)
            return html_names[mid].name;
        if (html_names[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len <= n) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len <= n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

char *bh_qstr_ident(const char *s, size_t len)
{
    strbuf b = {0};
    sb_add(&b, "", 0);
    for (size_t i = 0; i < len;) {
        long cp = utf8_next((const unsigned char *)s, len, &i);
        if (cp < 0) {
            free(b.p);
            return NULL;
        }
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_') {
            char c = (char)cp;
            sb_add(&b, &c, 1);
            continue;
        }
        const char *name = ascii_name((unsigned long)cp);
        if (!name)
            name = html_name((unsigned long)cp);
        char hex[24];
        if (!name) {
            snprintf(hex, sizeof hex, "0x%02lx", (unsigned long)cp);
            name = hex;
        }
        sb_add(&b, "_", 1);
        sb_add(&b, name, strlen(name));
        sb_add(&b, "_", 1);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ------------------------------------------------------------------------------------------------
 * the set of strings */

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void bh_qstr_set_init(bh_qstr_set *set)
{
    memset(set, 0, sizeof *set);
}

void bh_qstr_set_free(bh_qstr_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->strs[i].s);
    free(set->strs);
    free(set->slots);
    free(set->runs);
    memset(set, 0, sizeof *set);
}

static bool set_reindex(bh_qstr_set *set, size_t n_slots)
{
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < set->n; i++) {
        size_t k = (size_t)(hash_bytes(set->strs[i].s, set->strs[i].len) & (n_slots - 1));
        while (slots[k])
            k = (k + 1) & (n_slots - 1);
        slots[k] = i + 1;
    }
    free(set->slots);
    set->slots = slots;
    set->n_slots = n_slots;
    return true;
}

bool bh_qstr_set_add(bh_qstr_set *set, const char *s, size_t len, unsigned long line)
{
    if (set->oom)
        return false;
    if ((set->n + 1) * 2 > set->n_slots && !set_reindex(set, set->n_slots ? set->n_slots * 2 : 64)) {
        set->oom = true;
        return false;
    }
    size_t k = (size_t)(hash_bytes(s, len) & (set->n_slots - 1));
    while (set->slots[k]) {
        const bh_qstr_str *e = &set->strs[set->slots[k] - 1];
        if (e->len == len && memcmp(e->s, s, len) == 0)
            return true; /* already there: a later run, or a duplicate */
        k = (k + 1) & (set->n_slots - 1);
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        bh_qstr_str *ns = realloc(set->strs, cap * sizeof *ns);
        if (!ns) {
            set->oom = true;
            return false;
        }
        set->strs = ns;
        set->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        set->oom = true;
        return false;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    set->strs[set->n] = (bh_qstr_str){.s = copy, .len = len, .line = line, .clash_with = SIZE_MAX};
    set->slots[k] = ++set->n;
    return true;
}

/* ------------------------------------------------------------------------------------------------
 * the parser (docs/qstr-rules.md, I1-I5) */

static const char HEADER_KEY[] = "qstr pool:";

void bh_qstr_parser_init(bh_qstr_parser *p, bh_qstr_set *set, const char *file)
{
    memset(p, 0, sizeof *p);
    p->set = set;
    p->file = file;
}

void bh_qstr_parser_free(bh_qstr_parser *p)
{
    free(p->entry);
    p->entry = NULL;
    p->entry_len = p->entry_cap = 0;
    p->pending = false;
}

static bool fail(bh_qstr_parser *p, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(bh_qstr_parser *p, unsigned long line, const char *fmt, ...)
{
    if (p->err_line)
        return false;
    p->err_line = line ? line : 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    if (!p->quiet)
        bh_report_at(p->file, p->err_line, "%s", p->err);
    return false;
}

static bool oom(bh_qstr_parser *p)
{
    p->set->oom = true;
    return fail(p, p->last_line, "out of memory");
}

static bool entry_add(bh_qstr_parser *p, const char *s, size_t n)
{
    if (n > QSTR_ENTRY_MAX || p->entry_len > QSTR_ENTRY_MAX - n)
        return fail(p, p->entry_line,
                    "the Q( entry that starts here runs past %u bytes, longer than any qstr: "
                    "its closing ')' is missing",
                    QSTR_ENTRY_MAX);
    if (p->entry_cap - p->entry_len <= n) {
        size_t cap = p->entry_cap ? p->entry_cap : 128;
        while (cap - p->entry_len <= n)
            cap *= 2;
        char *ne = realloc(p->entry, cap);
        if (!ne)
            return oom(p);
        p->entry = ne;
        p->entry_cap = cap;
    }
    memcpy(p->entry + p->entry_len, s, n);
    p->entry_len += n;
    return true;
}

static bool entry_open(bh_qstr_parser *p, const char *line, size_t len, unsigned long lineno)
{
    p->pending = true;
    p->entry_len = 0;
    p->entry_line = lineno;
    p->closable_line = 0;
    if (!entry_add(p, line + 2, len - 2))
        return false;
    if (line[len - 1] == ')')
        p->closable_line = lineno;
    return true;
}

static bool entry_closable(const bh_qstr_parser *p)
{
    return p->entry_len > 0 && p->entry[p->entry_len - 1] == ')';
}

/* I2: a continuation line of the pending entry */
static bool entry_continue(bh_qstr_parser *p, const char *line, size_t len, unsigned long lineno)
{
    if (!entry_add(p, "\n", 1) || !entry_add(p, line, len))
        return false;
    if (entry_closable(p))
        p->closable_line = lineno;
    return true;
}

static bool entry_close(bh_qstr_parser *p)
{
    p->pending = false;
    size_t len = p->entry_len - 1; /* without the closing ')' */
    if (!bh_qstr_set_add(p->set, p->entry ? p->entry : "", len, p->entry_line))
        return oom(p);
    p->set->entries++;
    if (p->in_block) {
        bh_qstr_run *r = &p->set->runs[p->set->n_runs - 1];
        r->entries++;
        r->data_bytes += len + 1;
        if (++p->got == p->expected)
            p->in_block = false;
    }
    return true;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static const char *find_text(const char *s, size_t len, const char *what)
{
    size_t n = strlen(what);
    for (size_t i = 0; i + n <= len; i++)
        if (s[i] == what[0] && memcmp(s + i, what, n) == 0)
            return s + i;
    return NULL;
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return false;
    return true;
}

/* I1: "qstr pool: n_pool=%u, n_qstr=%u, n_str_data_bytes=%u, n_total_bytes=%u", then the line ends */
static bool parse_header(const char *h, size_t len, uint64_t v[4])
{
    static const char *const keys[4] = {"qstr pool: n_pool=", ", n_qstr=", ", n_str_data_bytes=",
                                        ", n_total_bytes="};
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        size_t kl = strlen(keys[k]);
        if (len - i < kl || memcmp(h + i, keys[k], kl) != 0)
            return false;
        i += kl;
        size_t j = i;
        while (j < len && h[j] >= '0' && h[j] <= '9')
            j++;
        if (!bh_parse_u64(h + i, j - i, &v[k]))
            return false;
        i = j;
    }
    return is_blank(h + i, len - i);
}

static bool cut_short(bh_qstr_parser *p, unsigned long line, uint64_t entries, bool at_end)
{
    const bh_qstr_run *r = &p->set->runs[p->set->n_runs - 1];
    return fail(p, line,
                "the qstr_info(1) output at line %lu announced n_qstr=%llu, but %s %llu Q(...) entries",
                r->line, (unsigned long long)r->n_qstr,
                at_end ? "the input ends after" : "this line comes after only", (unsigned long long)entries);
}

/* The pending entry never ends with ')'. If it did at some line, the Q(...) lines stopped after that
 * line (cut short, or other output); otherwise its ')' is missing. */
static bool unterminated(bh_qstr_parser *p, const char *before)
{
    if (p->closable_line) {
        if (p->in_block)
            return cut_short(p, p->closable_line + 1, p->got + 1, false);
        return fail(p, p->closable_line + 1, "not a Q(...) line, in a file that starts as a list of Q(...) "
                                             "lines");
    }
    return fail(p, p->entry_line, "the Q( entry that starts here has no closing ')' before %s", before);
}

bool bh_qstr_parser_line(bh_qstr_parser *p, const char *line, size_t len, unsigned long lineno)
{
    if (p->err_line || p->set->oom)
        return false;
    p->last_line = lineno;
    bool has_nul = memchr(line, '\0', len) != NULL;
    bool starts_q = starts_with(line, len, "Q(");
    bool header_start = starts_with(line, len, HEADER_KEY);
    bool blank = is_blank(line, len);

    if (p->pending) {
        if (has_nul)
            return fail(p, lineno, "NUL byte inside a Q(...) entry (qstr_info never prints one)");
        bool last = p->in_block && p->got + 1 >= p->expected;
        if (entry_closable(p) && (starts_q || header_start || last || (!p->in_block && blank))) {
            if (!entry_close(p))
                return false;
            /* and the line starts afresh below */
        } else if (header_start) {
            return unterminated(p, "the next qstr_info header");
        } else {
            /* I2: the string holds a line break, qstr_info printed it as is */
            return entry_continue(p, line, len, lineno);
        }
    }

    if (p->in_block) {
        if (starts_q) {
            if (has_nul)
                return fail(p, lineno, "NUL byte inside a Q(...) entry (qstr_info never prints one)");
            return entry_open(p, line, len, lineno);
        }
        if (p->got > 0)
            return cut_short(p, lineno, p->got, false);
        /* no Q( right after the header: qstr_info() ran without its argument, header only */
        p->in_block = false;
    }

    if (has_nul) {
        if (p->bare)
            return fail(p, lineno, "NUL byte in a list of Q(...) lines");
        return true; /* binary noise in a console log */
    }

    const char *h = find_text(line, len, HEADER_KEY);
    if (h) {
        uint64_t v[4];
        if (!parse_header(h, len - (size_t)(h - line), v))
            return fail(p, lineno, "malformed qstr_info header: expected \"qstr pool: n_pool=N, n_qstr=N, "
                                   "n_str_data_bytes=N, n_total_bytes=N\"");
        bh_qstr_set *set = p->set;
        if (set->n_runs == set->runs_cap) {
            size_t cap = set->runs_cap ? set->runs_cap * 2 : 8;
            bh_qstr_run *nr = realloc(set->runs, cap * sizeof *nr);
            if (!nr)
                return oom(p);
            set->runs = nr;
            set->runs_cap = cap;
        }
        set->runs[set->n_runs++] = (bh_qstr_run){.file = p->file, .line = lineno, .n_pool = v[0],
                                                  .n_qstr = v[1], .n_str_data_bytes = v[2],
                                                  .n_total_bytes = v[3]};
        p->seen_text = true;
        p->in_block = v[1] > 0;
        p->expected = v[1];
        p->got = 0;
        return true;
    }

    if (starts_q) {
        if (p->bare || !p->seen_text) {
            p->bare = true;
            p->seen_text = true;
            return entry_open(p, line, len, lineno);
        }
        if (p->set->ignored_lines++ < 5 && !p->quiet)
            bh_report_at(p->file, lineno,
                         "warning: Q(...) line outside the n_qstr entries of a qstr_info(1) output: ignored");
        return true;
    }

    if (!blank) {
        if (p->bare)
            return fail(p, lineno, "not a Q(...) line, in a file that starts as a list of Q(...) lines");
        p->seen_text = true;
    }
    return true;
}

bool bh_qstr_parser_end(bh_qstr_parser *p)
{
    if (p->err_line || p->set->oom)
        return false;
    if (p->pending) {
        if (!entry_closable(p))
            return unterminated(p, "the end");
        if (!entry_close(p))
            return false;
    }
    if (p->in_block) {
        if (p->got > 0)
            return cut_short(p, p->last_line, p->got, true);
        p->in_block = false;
    }
    if (p->set->n_runs == 0 && p->set->entries == 0)
        return fail(p, p->last_line,
                    "no qstr_info output: no \"qstr pool:\" header and no Q(...) entry%s",
                    p->set->ignored_lines ? " that could be read" : "");
    return true;
}

bool bh_qstr_parse_text(bh_qstr_parser *p, const char *text, size_t len)
{
    unsigned long lineno = 0;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - i;
        if (nl && n > 0 && text[end - 1] == '\r')
            n--;
        if (!bh_qstr_parser_line(p, text + i, n, ++lineno))
            return false;
        i = nl ? end + 1 : len;
    }
    return bh_qstr_parser_end(p);
}

bool bh_qstr_parse_file(bh_qstr_parser *p, const char *path)
{
    bh_lines r;
    if (!bh_lines_open(&r, path))
        return false;
    p->file = r.name;
    const char *line;
    bool ok = true;
    while (ok && (line = bh_lines_next(&r)))
        ok = bh_qstr_parser_line(p, line, r.len, r.line);
    if (ok && r.error) {
        fprintf(stderr, "%s: %s\n", r.name, bh_lines_error(&r));
        ok = false;
    }
    if (ok)
        ok = bh_qstr_parser_end(p);
    bh_lines_close(&r);
    return ok;
}

/* ------------------------------------------------------------------------------------------------
 * decisions and the fragment */

static int cmp_str(const void *a, const void *b)
{
    const bh_qstr_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

size_t bh_qstr_decide(bh_qstr_set *set, unsigned len_bytes)
{
    if (set->n > 1)
        qsort(set->strs, set->n, sizeof *set->strs, cmp_str);
    if (set->n && !set_reindex(set, set->n_slots)) /* the order changed */
        set->oom = true;

    /* G4: names of the strings taken so far, an open-addressing table of string indexes + 1 */
    size_t n_slots = 64;
    while (n_slots < set->n * 2 + 2)
        n_slots *= 2;
    size_t *slots = calloc(n_slots, sizeof *slots);
    char **idents = calloc(set->n ? set->n : 1, sizeof *idents);
    if (!slots || !idents)
        set->oom = true;

    size_t taken = 0;
    for (size_t i = 0; i < set->n; i++) {
        bh_qstr_str *e = &set->strs[i];
        e->clash_with = SIZE_MAX;
        e->refused = bh_qstr_check(e->s, e->len, len_bytes);
        if (e->refused)
            continue;
        if (slots && idents && (idents[i] = bh_qstr_ident(e->s, e->len))) {
            size_t k = (size_t)(hash_bytes(idents[i], strlen(idents[i])) & (n_slots - 1));
            while (slots[k] && strcmp(idents[slots[k] - 1], idents[i]) != 0)
                k = (k + 1) & (n_slots - 1);
            if (slots[k]) {
                e->refused = BH_QSTR_NAME_CLASH;
                e->clash_with = slots[k] - 1;
                continue;
            }
            slots[k] = i + 1;
        } else {
            set->oom = true;
        }
        taken++;
    }
    if (idents)
        for (size_t i = 0; i < set->n; i++)
            free(idents[i]);
    free(idents);
    free(slots);
    return taken;
}

void bh_qstr_write_fragment(FILE *out, const bh_qstr_set *set, const char *source)
{
    size_t taken = 0;
    for (size_t i = 0; i < set->n; i++)
        taken += set->strs[i].refused == 0;
    fputs("// Q(...) lines for a MicroPython port's qstrdefsport.h: the strings that\n"
          "// micropython.qstr_info(1) listed in RAM, to build into the firmware instead.\n"
          "// Written by `blockheap qstr` from ", out);
    bh_qstr_write_quoted(out, source, strlen(source));
    fprintf(out, ".\n// %zu strings found, %zu written, %zu refused%s.\n", set->n, taken, set->n - taken,
            set->n - taken ? " (listed at the end, with the reason)" : "");
    for (size_t i = 0; i < set->n; i++) {
        const bh_qstr_str *e = &set->strs[i];
        if (e->refused)
            continue;
        bool control = false;
        for (size_t k = 0; k < e->len && !is_newline_string(e->s, e->len); k++)
            control |= (unsigned char)e->s[k] < 0x20 || e->s[k] == 0x7f;
        if (control) {
            /* G5: the generator has no spelling for them, so they stay raw: warn whoever edits */
            fputs("// the next line holds control characters as they are (keep them): ", out);
            bh_qstr_write_quoted(out, e->s, e->len);
            fputc('\n', out);
        }
        fputs("Q(", out);
        bh_qstr_write_value(out, e->s, e->len);
        fputs(")\n", out);
    }
    if (taken == set->n)
        return;
    fprintf(out,
            "\n// Refused: MicroPython's qstr generator cannot take these %zu strings; they stay in RAM.\n",
            set->n - taken);
    for (size_t i = 0; i < set->n; i++) {
        const bh_qstr_str *e = &set->strs[i];
        if (!e->refused)
            continue;
        fputs("// ", out);
        bh_qstr_write_quoted(out, e->s, e->len);
        const char *sep = ": ";
        for (int k = 0; k < BH_QSTR_N_REASONS; k++) {
            if (!(e->refused & (1u << k)))
                continue;
            fprintf(out, "%s%s", sep, reason_text[k]);
            if ((1u << k) == BH_QSTR_NAME_CLASH && e->clash_with < set->n) {
                fputs(" (", out);
                bh_qstr_write_quoted(out, set->strs[e->clash_with].s, set->strs[e->clash_with].len);
                fputs(")", out);
            }
            sep = "; and ";
        }
        fputc('\n', out);
    }
}

/* ------------------------------------------------------------------------------------------------
 * the command */

static void usage(FILE *out)
{
    fputs("usage: blockheap qstr FILE... [-o qstrdefs.h] [--json] [--len-bytes 1|2]\n"
          "\n"
          "Reads the output of micropython.qstr_info(1) -- on its own, or inside a console log with\n"
          "REPL prompts, other output and several runs -- and writes one Q(...) line per interned\n"
          "string that MicroPython's qstr generator accepts, for the port's qstrdefsport.h. Strings\n"
          "it cannot take are listed in a comment block with the reason. FILE may be gzip, or - for\n"
          "stdin.\n"
          "\n"
          "  -o FILE         write the Q(...) lines there (default: stdout); the summary then goes\n"
          "                  to stdout, otherwise to stderr\n"
          "  --json          the summary as JSON\n"
          "  --len-bytes N   MICROPY_QSTR_BYTES_IN_LEN of the firmware (default 1: at most 255 bytes)\n",
          out);
}

static void summary_text(FILE *out, const bh_qstr_set *set, char *const *files, size_t n_files,
                         const char *output, size_t taken)
{
    fputs("blockheap qstr:", out);
    for (size_t i = 0; i < n_files; i++)
        fprintf(out, " %s", files[i]);
    fputc('\n', out);
    fprintf(out, "  qstr_info runs:     %zu\n", set->n_runs);
    fprintf(out, "  strings found:      %zu (%llu Q(...) entries read", set->n,
            (unsigned long long)set->entries);
    if (set->ignored_lines)
        fprintf(out, "; %lu Q(...) lines outside a qstr_info output ignored", set->ignored_lines);
    fputs(")\n", out);
    if (set->n_runs) {
        const bh_qstr_run *r = &set->runs[set->n_runs - 1];
        fprintf(out, "  RAM the pools use:  %llu bytes (n_total_bytes of the last run, %s:%lu: %llu pools, "
                     "%llu strings)\n",
                (unsigned long long)r->n_total_bytes, r->file, r->line, (unsigned long long)r->n_pool,
                (unsigned long long)r->n_qstr);
        size_t dumped = 0, match = 0;
        const bh_qstr_run *last = NULL;
        for (size_t i = 0; i < set->n_runs; i++) {
            if (set->runs[i].entries == 0)
                continue;
            dumped++;
            match += set->runs[i].data_bytes == set->runs[i].n_str_data_bytes;
            last = &set->runs[i];
        }
        if (last) {
            fprintf(out, "  string bytes:       %llu read (length + 1 each), n_str_data_bytes=%llu",
                    (unsigned long long)last->data_bytes, (unsigned long long)last->n_str_data_bytes);
            if (dumped > 1)
                fprintf(out, "; %zu of %zu runs match", match, dumped);
            fputs(match == dumped ? "\n"
                                  : " (MicroPython before 1.20 counts differently, or the log altered "
                                    "strings, e.g. CR LF line ends)\n",
                  out);
        } else {
            fputs("  note:               no run listed its strings: call micropython.qstr_info(1), with the "
                  "argument\n",
                  out);
        }
    } else {
        fputs("  RAM the pools use:  unknown (no \"qstr pool:\" header in the input)\n", out);
    }
    fprintf(out, "  strings written:    %zu -> %s\n", taken, output);
    fprintf(out, "  strings refused:    %zu\n", set->n - taken);
    for (int k = 0; k < BH_QSTR_N_REASONS; k++) {
        size_t c = 0;
        for (size_t i = 0; i < set->n; i++)
            c += (set->strs[i].refused >> k) & 1u;
        if (c)
            fprintf(out, "    %5zu %s\n", c, reason_text[k]);
    }
}

static void summary_json(FILE *out, const bh_qstr_set *set, char *const *files, size_t n_files,
                         const char *output, size_t taken)
{
    bh_json j;
    bh_json_init(&j, out);
    bh_json_begin_object(&j);
    bh_json_key(&j, "files");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < n_files; i++)
        bh_json_string(&j, files[i]);
    bh_json_end_array(&j);
    bh_json_key(&j, "runs");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < set->n_runs; i++) {
        const bh_qstr_run *r = &set->runs[i];
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "file", r->file);
        bh_json_kv_u64(&j, "line", r->line);
        bh_json_kv_u64(&j, "n_pool", r->n_pool);
        bh_json_kv_u64(&j, "n_qstr", r->n_qstr);
        bh_json_kv_u64(&j, "n_str_data_bytes", r->n_str_data_bytes);
        bh_json_kv_u64(&j, "n_total_bytes", r->n_total_bytes);
        bh_json_kv_u64(&j, "entries", r->entries);
        bh_json_kv_u64(&j, "string_bytes", r->data_bytes);
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_key(&j, "n_total_bytes");
    if (set->n_runs)
        bh_json_u64(&j, set->runs[set->n_runs - 1].n_total_bytes);
    else
        bh_json_null(&j);
    bh_json_kv_u64(&j, "entries", set->entries);
    bh_json_kv_u64(&j, "ignored_lines", set->ignored_lines);
    bh_json_kv_u64(&j, "strings_found", set->n);
    bh_json_kv_u64(&j, "strings_written", taken);
    bh_json_kv_u64(&j, "strings_refused", set->n - taken);
    bh_json_kv_string(&j, "output", output);
    bh_json_key(&j, "refused");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < set->n; i++) {
        const bh_qstr_str *e = &set->strs[i];
        if (!e->refused)
            continue;
        char *q = NULL;
        size_t qlen = 0;
        FILE *m = open_memstream(&q, &qlen);
        if (m) {
            bh_qstr_write_quoted(m, e->s, e->len);
            fclose(m);
        }
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "quoted", q ? q : "");
        bh_json_kv_u64(&j, "line", e->line);
        bh_json_key(&j, "reasons");
        bh_json_begin_array(&j);
        for (int k = 0; k < BH_QSTR_N_REASONS; k++)
            if (e->refused & (1u << k))
                bh_json_string(&j, reason_key[k]);
        bh_json_end_array(&j);
        bh_json_end_object(&j);
        free(q);
    }
    bh_json_end_array(&j);
    bh_json_end_object(&j);
}

int bh_cmd_qstr(int argc, char **argv)
{
    const char *output = NULL;
    bool json = false;
    unsigned len_bytes = 1;
    char **files = calloc((size_t)(argc > 0 ? argc : 1), sizeof *files);
    size_t n_files = 0;
    if (!files) {
        fputs("blockheap qstr: out of memory\n", stderr);
        return BH_EXIT_FAIL;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(files);
            return BH_EXIT_OK;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "blockheap qstr: %s needs a file name\n", a);
                goto bad_usage;
            }
            output = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--len-bytes") == 0) {
            if (i + 1 >= argc || (strcmp(argv[i + 1], "1") != 0 && strcmp(argv[i + 1], "2") != 0)) {
                fprintf(stderr, "blockheap qstr: --len-bytes takes 1 or 2\n");
                goto bad_usage;
            }
            len_bytes = (unsigned)(argv[++i][0] - '0');
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "blockheap qstr: unknown option '%s'\n", a);
            goto bad_usage;
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (n_files == 0) {
        fputs("blockheap qstr: no input FILE\n", stderr);
        goto bad_usage;
    }

    bh_qstr_set set;
    bh_qstr_set_init(&set);
    int status = BH_EXIT_OK;
    for (size_t i = 0; i < n_files && status == BH_EXIT_OK; i++) {
        bh_qstr_parser p;
        bh_qstr_parser_init(&p, &set, files[i]);
        if (!bh_qstr_parse_file(&p, files[i]))
            status = set.oom ? BH_EXIT_FAIL : BH_EXIT_BADINPUT;
        bh_qstr_parser_free(&p);
    }
    size_t taken = 0;
    if (status == BH_EXIT_OK) {
        taken = bh_qstr_decide(&set, len_bytes);
        if (set.oom) {
            fputs("blockheap qstr: out of memory\n", stderr);
            status = BH_EXIT_FAIL;
        }
    }
    if (status == BH_EXIT_OK) {
        bool to_stdout = !output || strcmp(output, "-") == 0;
        FILE *out = to_stdout ? stdout : fopen(output, "w");
        if (!out) {
            fprintf(stderr, "%s: cannot write: %s\n", output, strerror(errno));
            status = BH_EXIT_FAIL;
        } else {
            char *source = NULL;
            size_t source_len = 0;
            FILE *m = open_memstream(&source, &source_len);
            if (m) {
                for (size_t i = 0; i < n_files; i++)
                    fprintf(m, "%s%s", i ? ", " : "", strcmp(files[i], "-") == 0 ? "<stdin>" : files[i]);
                fclose(m);
            }
            bh_qstr_write_fragment(out, &set, source ? source : "");
            free(source);
            bool werr = ferror(out) != 0;
            if (to_stdout)
                werr |= fflush(out) != 0;
            else
                werr |= fclose(out) != 0;
            if (werr) {
                fprintf(stderr, "%s: write error\n", to_stdout ? "<stdout>" : output);
                status = BH_EXIT_FAIL;
            } else {
                FILE *sum = to_stdout ? stderr : stdout;
                const char *shown = to_stdout ? "<stdout>" : output;
                if (json)
                    summary_json(sum, &set, files, n_files, shown, taken);
                else
                    summary_text(sum, &set, files, n_files, shown, taken);
            }
        }
    }
    bh_qstr_set_free(&set);
    free(files);
    return status;

bad_usage:
    usage(stderr);
    free(files);
    return BH_EXIT_BADINPUT;
}
