/* `blockheap qstr`: micropython.qstr_info(1) output -> Q(...) lines for a port's qstrdefsport.h.
 *
 * The pieces a unit test calls: the parser (line by line, or a whole text), the rule check of one
 * string against MicroPython's qstr generator (docs/qstr-rules.md), the generator's identifier of a
 * string, and the writer of the header fragment. */
#ifndef BH_TOOLS_QSTR_H
#define BH_TOOLS_QSTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- why the generator cannot take a string: bit flags (docs/qstr-rules.md, rules G1-G7) */
enum {
    BH_QSTR_BAD_UTF8 = 1u << 0,   /* not strict UTF-8: makeqstrdata.py cannot decode the file (G7) */
    BH_QSTR_LINE_BREAK = 1u << 1, /* a CR or LF other than the whole string "\n" or "\r\n" (G2, G3) */
    BH_QSTR_TOO_LONG = 1u << 2,   /* UTF-8 length >= 256 (or 65536 with 2 length bytes) (G6) */
    BH_QSTR_LOOKALIKE = 1u << 3,  /* literally backslash-n or backslash-r-backslash-n (G3) */
    BH_QSTR_QUOTE = 1u << 4,      /* a '"' that ends the C string literal of the CPP step (G1) */
    BH_QSTR_TRIGRAPH = 1u << 5,   /* "??" + one of =/'()!<>- : -Wtrigraphs (G1) */
    BH_QSTR_NUL = 1u << 6,        /* a NUL byte: "null character(s) preserved in literal" (G1) */
    BH_QSTR_BIDI = 1u << 7,       /* an unpaired bidirectional control character: -Wbidi-chars (G1) */
    BH_QSTR_NAME_CLASH = 1u << 8, /* same MP_QSTR_ identifier as an earlier string (G4) */
};
#define BH_QSTR_N_REASONS 9

/* The reason of one flag, a short phrase ("contains a line break"); NULL for an unknown flag. */
const char *bh_qstr_reason(unsigned flag);

/* The flags (all but BH_QSTR_NAME_CLASH) of the rules the string breaks; 0 = the generator takes it.
 * len_bytes: MICROPY_QSTR_BYTES_IN_LEN of the target (1 by default, or 2). */
unsigned bh_qstr_check(const char *s, size_t len, unsigned len_bytes);

/* Writes the text between "Q(" and ")" for a string bh_qstr_check accepts: the string itself, or
 * "\n" / "\r\n" spelled with backslashes for the two strings the generator reads that way. */
void bh_qstr_write_value(FILE *out, const char *s, size_t len);

/* The generator's identifier of a (strict UTF-8) string, without the MP_QSTR_ prefix, as a malloc'd
 * NUL-terminated string; NULL when out of memory or when the string is not UTF-8. */
char *bh_qstr_ident(const char *s, size_t len);

/* Writes the bytes as a C-style quoted string safe inside a // comment: printable ASCII as is,
 * \\ \" \t \n \r, other bytes as \xNN, and no "??" (a trigraph in a comment may splice lines). */
void bh_qstr_write_quoted(FILE *out, const char *s, size_t len);

/* ---- the strings found */
typedef struct bh_qstr_str {
    char *s;
    size_t len;
    unsigned long line; /* line of the first Q( that held it */
    unsigned refused;   /* flags, set by bh_qstr_decide() */
    size_t clash_with;  /* for BH_QSTR_NAME_CLASH: index (after sorting) of the string that keeps the name */
} bh_qstr_str;

/* One qstr_info header ("run"): its numbers and what followed it. */
typedef struct bh_qstr_run {
    const char *file; /* the parser's file name (not copied) */
    unsigned long line;
    uint64_t n_pool, n_qstr, n_str_data_bytes, n_total_bytes;
    uint64_t entries;    /* Q(...) entries read after it */
    uint64_t data_bytes; /* sum of (length + 1) of those entries: n_str_data_bytes since MicroPython 1.20 */
} bh_qstr_run;

typedef struct bh_qstr_set {
    bh_qstr_str *strs; /* distinct strings, first-seen order until bh_qstr_decide() sorts them */
    size_t n, cap;
    size_t *slots; /* hash index: slot -> string index + 1 (0 = empty) */
    size_t n_slots;
    bh_qstr_run *runs;
    size_t n_runs, runs_cap;
    uint64_t entries;            /* Q(...) entries read, duplicates included */
    unsigned long ignored_lines; /* Q( lines outside any qstr_info block (each warned about) */
    bool oom;
} bh_qstr_set;

void bh_qstr_set_init(bh_qstr_set *set);
void bh_qstr_set_free(bh_qstr_set *set);
/* Adds a string unless present; false when out of memory. */
bool bh_qstr_set_add(bh_qstr_set *set, const char *s, size_t len, unsigned long line);

/* ---- the parser: feed it the lines of one file (without their '\n', nor a '\r' before it) */
typedef struct bh_qstr_parser {
    bh_qstr_set *set;
    const char *file;
    bool quiet;        /* no warnings on stderr */
    bool seen_text;    /* a non-blank line was seen */
    bool bare;         /* the file is a plain list of Q(...) lines (its first non-blank line is one) */
    bool in_block;     /* inside the Q(...) lines of a qstr_info header */
    uint64_t expected; /* n_qstr of that header */
    uint64_t got;
    bool pending; /* a Q( entry is open */
    char *entry;
    size_t entry_len, entry_cap;
    unsigned long entry_line;
    unsigned long closable_line; /* the last line after which the entry could have ended, or 0 */
    unsigned long last_line;
    /* the first error: its line and text (also reported on stderr unless quiet) */
    unsigned long err_line;
    char err[256];
} bh_qstr_parser;

void bh_qstr_parser_init(bh_qstr_parser *p, bh_qstr_set *set, const char *file);
/* false on malformed input (see p->err_line, p->err) or out of memory */
bool bh_qstr_parser_line(bh_qstr_parser *p, const char *line, size_t len, unsigned long lineno);
bool bh_qstr_parser_end(bh_qstr_parser *p);
void bh_qstr_parser_free(bh_qstr_parser *p);

/* A whole text, split into lines as the file reader does. */
bool bh_qstr_parse_text(bh_qstr_parser *p, const char *text, size_t len);
/* A file (plain or gzip, "-" for stdin); errors reported on stderr as FILE:LINE. */
bool bh_qstr_parse_file(bh_qstr_parser *p, const char *path);

/* Sorts the strings (bytewise) and marks the ones the generator cannot take; returns how many it
 * takes. */
size_t bh_qstr_decide(bh_qstr_set *set, unsigned len_bytes);

/* The header fragment: comment, one Q(...) line per string taken, then the refused strings in a
 * comment block with their reasons. source: the input's name, for the comment. */
void bh_qstr_write_fragment(FILE *out, const bh_qstr_set *set, const char *source);

#endif
