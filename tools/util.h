/* Shared plumbing of the blockheap command: reading lines from a file (plain or gzip, or stdin),
 * reporting errors as FILE:LINE, and writing JSON. One implementation for every sub-command. */
#ifndef BH_TOOLS_UTIL_H
#define BH_TOOLS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of every sub-command. */
enum { BH_EXIT_OK = 0, BH_EXIT_FAIL = 1, BH_EXIT_BADINPUT = 2 };

/* ---- line reader: plain or gzip (detected by content), a path or "-" for stdin; streaming,
 * lines of any length; the '\n' (and a '\r' before it) are stripped; NUL bytes are kept in len. */
typedef struct bh_lines {
    const char *name;   /* the file's name as the user gave it ("<stdin>" for "-") */
    void *gz;           /* gzFile */
    char *buf;
    size_t cap;
    size_t len;         /* length of the current line */
    unsigned long line; /* 1-based number of the current line */
    bool eof;
    bool error;         /* a read error or corrupt gzip stream; see bh_lines_error() */
    char *chunk;        /* decompressed bytes not yet returned: chunk[chunk_pos .. chunk_len) */
    size_t chunk_pos, chunk_len;
} bh_lines;

/* false (and a message on stderr naming the file) if it cannot be opened. */
bool bh_lines_open(bh_lines *r, const char *path);
/* The next line, NUL-terminated, or NULL at the end or on error. A line may hold NUL bytes:
 * r->len is its true length, so callers that care compare strlen(line) with r->len. */
char *bh_lines_next(bh_lines *r);
const char *bh_lines_error(const bh_lines *r);
void bh_lines_close(bh_lines *r);

/* "FILE:LINE: message\n" on stderr. */
void bh_report_at(const char *file, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- command lines */
/* The end of a sub-command's option loop: arg is an option nobody took (an error), or the one input
 * file (a second is an error). Returns false after saying on stderr what is wrong. */
bool bh_cli_input_arg(const char *command, const char *arg, const char **path);

/* ---- numbers */
/* Parses a whole decimal unsigned number that fits in uint64_t; false otherwise. */
bool bh_parse_u64(const char *s, size_t len, uint64_t *out);
/* Parses a size with an optional K/M suffix (1024-based): "65536", "64K", "1M". */
bool bh_parse_size(const char *s, uint64_t *out);

/* ---- JSON writer: commas and escaping handled; nesting up to 32 levels. */
typedef struct bh_json {
    FILE *out;
    int depth;
    bool need_comma[32];
    bool after_key;
} bh_json;
void bh_json_init(bh_json *j, FILE *out);
void bh_json_begin_object(bh_json *j);
void bh_json_end_object(bh_json *j);
void bh_json_begin_array(bh_json *j);
void bh_json_end_array(bh_json *j);
void bh_json_key(bh_json *j, const char *key);
void bh_json_string(bh_json *j, const char *s);
void bh_json_u64(bh_json *j, uint64_t v);
void bh_json_i64(bh_json *j, int64_t v);
void bh_json_double(bh_json *j, double v);
void bh_json_bool(bh_json *j, bool v);
void bh_json_null(bh_json *j);
/* key + value in one call */
void bh_json_kv_string(bh_json *j, const char *key, const char *s);
void bh_json_kv_u64(bh_json *j, const char *key, uint64_t v);
void bh_json_kv_double(bh_json *j, const char *key, double v);
void bh_json_kv_bool(bh_json *j, const char *key, bool v);

/* Human-readable bytes: "512 B", "9.8 KB", "1.2 MB" (1024-based), into buf. */
const char *bh_fmt_bytes(char *buf, size_t cap, uint64_t bytes);

#endif
