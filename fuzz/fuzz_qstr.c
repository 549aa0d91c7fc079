/* libFuzzer target: the qstr_info parser of `blockheap qstr` (tools/qstr.h) on any text a user may
 * paste, and the rules and writers behind it.
 *
 * The input is parsed as a whole text (quiet: no warnings); whatever it yields is decided and the
 * header fragment written (to /dev/null). Properties: a string the rules accept has a generator
 * identifier (it is UTF-8) and writes a value; decide() counts exactly the strings it left
 * unrefused; nothing crashes, leaks or reads out of bounds (ASan, UBSan). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "qstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
        abort();
    bh_qstr_set set;
    bh_qstr_set_init(&set);
    bh_qstr_parser p;
    bh_qstr_parser_init(&p, &set, "<fuzz>");
    p.quiet = true;
    bool ok = bh_qstr_parse_text(&p, (const char *)data, size) && bh_qstr_parser_end(&p);
    bh_qstr_parser_free(&p);
    if (ok) {
        unsigned len_bytes = size % 2 ? 2 : 1;
        size_t taken = bh_qstr_decide(&set, len_bytes), counted = 0;
        for (size_t i = 0; i < set.n; i++) {
            const bh_qstr_str *s = &set.strs[i];
            if (s->refused != 0)
                continue;
            counted++;
            char *ident = bh_qstr_ident(s->s, s->len);
            if (ident == NULL)
                abort(); /* accepted, so UTF-8: the generator names it */
            free(ident);
            bh_qstr_write_value(sink, s->s, s->len);
        }
        if (counted != taken)
            abort();
        bh_qstr_write_fragment(sink, &set, "<fuzz>");
    }
    bh_qstr_set_free(&set);
    return 0;
}
