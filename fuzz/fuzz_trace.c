/* libFuzzer target: the heaptrace reader (tools/trace.h), both layers, on any bytes.
 *
 * The input is written to an in-memory file (the reader takes a path: plain or gzip is detected
 * from the content, so gzip-framed inputs reach zlib too) and read by the streaming reader, then
 * by bh_trace_load, whose result is measured (bh_trace_peak_live, bh_trace_line). Both layers must
 * agree on whether the trace is valid and on its events; nothing may crash, leak or read out of
 * bounds (ASan, UBSan). The reader reports malformed input on stderr: run with -close_fd_mask=2
 * (libFuzzer and the sanitizers keep reporting on a copy of stderr). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[64];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd = memfd_create("bh-fuzz-trace", 0);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

static void put_input(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    put_input(data, size);

    bh_trace_reader r;
    bh_trace_event ev;
    size_t streamed = 0;
    int status = -1;
    if (bh_trace_reader_open(&r, path, NULL, NULL)) {
        while ((status = bh_trace_reader_next(&r, &ev)) == 1)
            streamed++;
    }
    bh_trace_reader_close(&r);

    bh_trace t;
    bool loaded = bh_trace_load(&t, path);
    if (loaded != (status == 0))
        abort(); /* the two layers disagree on validity */
    if (loaded) {
        if (t.nevents != streamed)
            abort(); /* ... or on the number of events */
        size_t kinds = 0;
        for (int k = 0; k < 5; k++)
            kinds += t.counts[k];
        if (kinds != t.nevents)
            abort();
        bh_trace_peak peak;
        (void)bh_trace_peak_live(&t, 16, &peak);
        for (size_t i = 0; i < t.nevents; i++)
            (void)bh_trace_line(&t, i);
        bh_trace_free(&t);
    }
    return 0;
}
