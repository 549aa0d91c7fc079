/* libFuzzer target: the MicroPython heap-dump parser (tools/dump.h) on any bytes.
 *
 * The input is written to an in-memory file (plain or gzip, detected from the content) and read
 * with bh_dump_file_read; every dump it accepts is measured (each area rebuilt in a real bh_heap,
 * bh_check run on it) and its areas reproduced again, checking the reproduction block by block
 * against the parsed map. Nothing may crash, leak or read out of bounds (ASan, UBSan). The parser
 * reports malformed input on stderr: run with -close_fd_mask=2 (libFuzzer and the sanitizers keep
 * reporting on a copy of stderr). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[64];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd = memfd_create("bh-fuzz-dump", 0);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

/* The reproduced heap holds exactly the map: a head where the map has one, same object sizes. */
static void check_area(const bh_dump *d, const bh_dump_area *a)
{
    bh_dump_heap dh;
    char why[256];
    if (!bh_dump_heap_load(&dh, a, d->block_bytes, why, sizeof why))
        return; /* refused with a reason (e.g. a block size the library does not take) */
    if (!bh_check(&dh.heap))
        abort();
    for (size_t b = 0; b < a->blocks; b++) {
        size_t want = bh_dump_object_blocks(a, b);
        size_t got = bh_dump_is_head(a->states[b]) ? bh_size(&dh.heap, bh_dump_heap_block(&dh, b)) : 0;
        if (bh_dump_is_head(a->states[b]) && got != want * d->block_bytes)
            abort();
    }
    bh_dump_heap_free(&dh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    bh_dump_file f;
    if (bh_dump_file_read(path, &f)) {
        for (size_t i = 0; i < f.count; i++) {
            const bh_dump *d = &f.dumps[i];
            if (d->area_count == 0)
                abort(); /* documented: at least one */
            bh_dump_figures fig;
            char why[256];
            (void)bh_dump_measure(d, &fig, why, sizeof why);
            (void)bh_dump_format_name(d);
            for (size_t k = 0; k < d->area_count; k++)
                check_area(d, &d->areas[k]);
        }
    }
    bh_dump_file_free(&f);
    return 0;
}
