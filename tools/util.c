#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

bool bh_lines_open(bh_lines *r, const char *path)
{
    memset(r, 0, sizeof *r);
    bool is_stdin = strcmp(path, "-") == 0;
    r->name = is_stdin ? "<stdin>" : path;
    /* gzdopen/gzopen read plain files transparently, so one reader serves both */
    gzFile gz = is_stdin ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path, "rb");
    if (!gz) {
        fprintf(stderr, "%s: cannot open: %s\n", r->name, errno ? strerror(errno) : "out of memory");
        return false;
    }
    r->gz = gz;
    r->cap = 256;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        fprintf(stderr, "%s: out of memory\n", r->name);
        gzclose(gz);
        r->gz = NULL;
        return false;
    }
    return true;
}

enum { BH_LINES_CHUNK = 1 << 16 };

/* Lines are cut out of decompressed chunks by hand (not gzgets), so that a NUL byte inside a line
 * neither truncates it nor shifts the line numbers after it. */
char *bh_lines_next(bh_lines *r)
{
    if (r->eof || r->error || !r->gz)
        return NULL;
    if (!r->chunk && !(r->chunk = malloc(BH_LINES_CHUNK))) {
        r->error = true;
        return NULL;
    }
    size_t len = 0;
    bool got_any = false;
    for (;;) {
        if (r->chunk_pos == r->chunk_len) {
            int n = gzread(r->gz, r->chunk, BH_LINES_CHUNK);
            if (n < 0) {
                r->error = true;
                return NULL;
            }
            r->chunk_pos = 0;
            r->chunk_len = (size_t)n;
            if (n == 0) {
                /* a truncated gzip stream also reads as 0 bytes: only gzerror tells it apart */
                int err = Z_OK;
                gzerror(r->gz, &err);
                if (err != Z_OK && err != Z_STREAM_END) {
                    r->error = true;
                    return NULL;
                }
                if (!got_any) {
                    r->eof = true;
                    return NULL;
                }
                break; /* last line without '\n' */
            }
        }
        const char *start = r->chunk + r->chunk_pos;
        size_t avail = r->chunk_len - r->chunk_pos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (len + take + 1 > r->cap) {
            size_t cap = r->cap;
            while (len + take + 1 > cap)
                cap *= 2;
            char *nb = realloc(r->buf, cap);
            if (!nb) {
                r->error = true;
                return NULL;
            }
            r->buf = nb;
            r->cap = cap;
        }
        memcpy(r->buf + len, start, take);
        len += take;
        got_any = true;
        r->chunk_pos += take + (nl != NULL);
        if (nl)
            break;
    }
    if (len > 0 && r->buf[len - 1] == '\r')
        len--;
    r->buf[len] = '\0';
    r->len = len;
    r->line++;
    return r->buf;
}

const char *bh_lines_error(const bh_lines *r)
{
    if (!r->error)
        return NULL;
    int err = Z_OK;
    const char *msg = r->gz ? gzerror(r->gz, &err) : "read error";
    return (msg && *msg) ? msg : "read error";
}

void bh_lines_close(bh_lines *r)
{
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
    free(r->chunk);
    r->gz = NULL;
    r->buf = NULL;
    r->chunk = NULL;
}

void bh_report_at(const char *file, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%lu: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool bh_cli_input_arg(const char *command, const char *arg, const char **path)
{
    if (arg[0] == '-' && arg[1] != '\0') {
        fprintf(stderr, "blockheap %s: unknown or incomplete option '%s' (see --help)\n", command, arg);
        return false;
    }
    if (*path) {
        fprintf(stderr, "blockheap %s: more than one trace given ('%s')\n", command, arg);
        return false;
    }
    *path = arg;
    return true;
}

bool bh_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool bh_parse_size(const char *s, uint64_t *out)
{
    size_t len = strlen(s);
    uint64_t mult = 1;
    if (len > 0 && (s[len - 1] == 'K' || s[len - 1] == 'k')) {
        mult = 1024;
        len--;
    } else if (len > 0 && (s[len - 1] == 'M' || s[len - 1] == 'm')) {
        mult = 1024 * 1024;
        len--;
    }
    uint64_t v;
    if (!bh_parse_u64(s, len, &v) || v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

/* ---- JSON */

void bh_json_init(bh_json *j, FILE *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
}

static void json_value_prefix(bh_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth])
        fputc(',', j->out);
    j->need_comma[j->depth] = true;
}

static void json_open(bh_json *j, char c)
{
    json_value_prefix(j);
    fputc(c, j->out);
    if (j->depth < 31)
        j->depth++;
    j->need_comma[j->depth] = false;
}

static void json_close(bh_json *j, char c)
{
    if (j->depth > 0)
        j->depth--;
    fputc(c, j->out);
    if (j->depth == 0)
        fputc('\n', j->out);
}

void bh_json_begin_object(bh_json *j) { json_open(j, '{'); }
void bh_json_end_object(bh_json *j) { json_close(j, '}'); }
void bh_json_begin_array(bh_json *j) { json_open(j, '['); }
void bh_json_end_array(bh_json *j) { json_close(j, ']'); }

static void json_escaped(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

void bh_json_key(bh_json *j, const char *key)
{
    json_value_prefix(j);
    json_escaped(j->out, key);
    fputc(':', j->out);
    j->after_key = true;
}

void bh_json_string(bh_json *j, const char *s)
{
    json_value_prefix(j);
    json_escaped(j->out, s);
}

void bh_json_u64(bh_json *j, uint64_t v)
{
    json_value_prefix(j);
    fprintf(j->out, "%llu", (unsigned long long)v);
}

void bh_json_i64(bh_json *j, int64_t v)
{
    json_value_prefix(j);
    fprintf(j->out, "%lld", (long long)v);
}

void bh_json_double(bh_json *j, double v)
{
    json_value_prefix(j);
    if (v != v || v > 1e300 || v < -1e300)
        fputs("null", j->out);
    else
        fprintf(j->out, "%.6g", v);
}

void bh_json_bool(bh_json *j, bool v)
{
    json_value_prefix(j);
    fputs(v ? "true" : "false", j->out);
}

void bh_json_null(bh_json *j)
{
    json_value_prefix(j);
    fputs("null", j->out);
}

void bh_json_kv_string(bh_json *j, const char *key, const char *s) { bh_json_key(j, key); bh_json_string(j, s); }
void bh_json_kv_u64(bh_json *j, const char *key, uint64_t v) { bh_json_key(j, key); bh_json_u64(j, v); }
void bh_json_kv_double(bh_json *j, const char *key, double v) { bh_json_key(j, key); bh_json_double(j, v); }
void bh_json_kv_bool(bh_json *j, const char *key, bool v) { bh_json_key(j, key); bh_json_bool(j, v); }

const char *bh_fmt_bytes(char *buf, size_t cap, uint64_t bytes)
{
    if (bytes < 1024)
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    else if (bytes < 1024 * 1024)
        snprintf(buf, cap, "%.1f KB", (double)bytes / 1024.0);
    else
        snprintf(buf, cap, "%.1f MB", (double)bytes / (1024.0 * 1024.0));
    return buf;
}
