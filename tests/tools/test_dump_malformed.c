/* Bad input never crashes the dump reader and is always reported as FILE:LINE: what is wrong.
 *   - each .txt in tests/data/dumps/malformed: the file's first line says "# expect: LINE: TEXT"; reading it
 *     must fail at that line with a message containing TEXT.
 *   - the bundled real dumps cut at random places and mutated at random: each either reads (and then
 *     can be measured and analysed) or fails with a line inside the file. Meant for ASan + UBSan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>

#include "analyze.h"
#include "dump.h"

#define MALFORMED BH_SOURCE_DIR "/tests/data/dumps/malformed"
#define BUNDLED BH_SOURCE_DIR "/tests/data/dumps"

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t list_txt(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    *names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
            continue;
        *names = realloc(*names, (n + 1) * sizeof **names);
        (*names)[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(*names, n, sizeof **names, by_name);
    return n;
}

static void test_malformed_corpus(void **state)
{
    (void)state;
    char **names;
    size_t n = list_txt(MALFORMED, &names);
    assert_true(n >= 20);
    for (size_t i = 0; i < n; i++) {
        char path[4096], first[512] = "";
        snprintf(path, sizeof path, "%s/%s", MALFORMED, names[i]);
        FILE *fp = fopen(path, "r");
        assert_non_null(fp);
        assert_non_null(fgets(first, sizeof first, fp));
        fclose(fp);
        first[strcspn(first, "\n")] = '\0';
        unsigned long want_line;
        int text_at = 0;
        if (sscanf(first, "# expect: %lu: %n", &want_line, &text_at) != 1 || !text_at)
            fail_msg("%s: the first line must be '# expect: LINE: TEXT'", names[i]);
        const char *want_text = first + text_at;
        bh_dump_file f;
        bool ok = bh_dump_file_read(path, &f);
        if (ok)
            fail_msg("%s was read without an error", names[i]);
        if (f.error_line != want_line || !strstr(f.error, want_text))
            fail_msg("%s: wanted line %lu '%s', got line %lu '%s'", names[i], want_line, want_text, f.error_line, f.error);
        assert_int_equal(f.count, 0);
        bh_dump_file_free(&f);
        free(names[i]);
    }
    free(names);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static unsigned long count_lines(const char *s, size_t len)
{
    unsigned long n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n + (len && s[len - 1] != '\n');
}

/* One mutation of a dump's text: cut it, or change, delete, repeat or insert bytes or lines. */
static size_t mutate(char *out, const char *in, size_t len)
{
    size_t at = len ? rnd() % len : 0;
    switch (rnd() % 7) {
    case 0: /* cut anywhere */
        memcpy(out, in, at);
        return at;
    case 1: { /* a byte replaced by one MicroPython prints, or not */
        static const char bytes[] = ".=htTLDmx?:( \n0123456789abcdef";
        memcpy(out, in, len);
        if (len)
            out[at] = bytes[rnd() % (sizeof bytes - 1)];
        return len;
    }
    case 2: { /* a line deleted */
        const char *nl = memchr(in + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - in) + 1 : len;
        while (at > 0 && in[at - 1] != '\n')
            at--;
        memcpy(out, in, at);
        memcpy(out + at, in + end, len - end);
        return len - (end - at);
    }
    case 3: { /* a line repeated */
        while (at > 0 && in[at - 1] != '\n')
            at--;
        const char *nl = memchr(in + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - in) + 1 : len;
        memcpy(out, in, end);
        memcpy(out + end, in + at, end - at);
        memcpy(out + end + (end - at), in + end, len - end);
        return len + (end - at);
    }
    case 4: { /* a huge number somewhere */
        static const char big[] = "99999999999999999999";
        memcpy(out, in, at);
        memcpy(out + at, big, sizeof big - 1);
        memcpy(out + at + sizeof big - 1, in + at, len - at);
        return len + sizeof big - 1;
    }
    case 5: /* several bytes scrambled */
        memcpy(out, in, len);
        for (int k = 0; k < 8 && len; k++)
            out[rnd() % len] = (char)(rnd() & 0x7f);
        return len;
    default: /* a tail '=' put after a free block */
        memcpy(out, in, len);
        for (size_t i = at; i + 1 < len; i++)
            if (out[i] == '.' && out[i + 1] == '.') {
                out[i + 1] = '=';
                break;
            }
        return len;
    }
}

static void test_mutated_dumps_never_crash(void **state)
{
    (void)state;
    char **names;
    size_t n = list_txt(BUNDLED, &names);
    assert_true(n >= 3);
    size_t failures = 0, reads = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", BUNDLED, names[i]);
        size_t len;
        char *orig = slurp(path, &len);
        char *buf = malloc(2 * len + 64);
        for (int round = 0; round < 200; round++) {
            size_t m = mutate(buf, orig, len);
            char tmp[] = "/tmp/test_dump_mut_XXXXXX";
            int fd = mkstemp(tmp);
            assert_true(fd >= 0);
            assert_int_equal(write(fd, buf, m), (ssize_t)m);
            close(fd);
            bh_dump_file f;
            int saved = dup(2), devnull = open("/dev/null", O_WRONLY); /* the errors are expected: keep stderr quiet */
            dup2(devnull, 2);
            bool ok = bh_dump_file_read(tmp, &f);
            dup2(saved, 2);
            close(saved);
            close(devnull);
            if (ok) {
                reads++;
                for (size_t k = 0; k < f.count; k++) {
                    bh_dump_analysis an;
                    char why[200];
                    assert_true(bh_dump_analyse(&f.dumps[k], 4096, &an, why, sizeof why));
                    assert_true(an.fig.checked);
                }
            } else {
                failures++;
                assert_true(f.error_line >= 1);
                assert_true(f.error_line <= count_lines(buf, m) + 1);
                assert_true(f.error[0] != '\0');
            }
            bh_dump_file_free(&f);
            unlink(tmp);
        }
        free(buf);
        free(orig);
        free(names[i]);
    }
    free(names);
    print_message("%zu mutated dumps read, %zu refused with FILE:LINE\n", reads, failures);
    assert_true(failures > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_corpus),
        cmocka_unit_test(test_mutated_dumps_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
