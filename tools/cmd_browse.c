/* blockheap browse: one self-contained HTML page to look at a heap and its history, from MicroPython
 * heap dumps (each dump reproduced in a real bh_heap) or from a trace replayed on the library. */
#include <stdlib.h>
#include <string.h>

#include "browse.h"
#include "commands.h"
#include "dump.h"
#include "replay.h"
#include "trace.h"
#include "util.h"

static const char usage_text[] =
    "usage: blockheap browse DUMP... [-o heap.html] [--title T]\n"
    "       blockheap browse TRACE --heap BYTES [--policy P] [options] [-o heap.html]\n"
    "\n"
    "Writes one HTML file (no network, nothing else needed) to open from disk: the heap as a grid of\n"
    "blocks, each object's offset, size and type on hover or click, the free-run histogram and the\n"
    "largest free run, and for several dumps or a trace a timeline of used, free and largest free run\n"
    "with a slider that shows the heap at each moment (a failed replay's failure is marked).\n"
    "\n"
    "DUMP: text with micropython.mem_info(1) or pyb.info(1) output (plain or gzip); every dump in\n"
    "every file, in order, is one moment of the timeline. TRACE: a heaptrace 1 file (recognised by\n"
    "its first line); it is replayed with an arena of BYTES and shown at up to 200 evenly spaced\n"
    "moments, the last one being the end or the failure.\n"
    "\n"
    "  -o, --output FILE   where to write the page (default heap.html; - for stdout)\n"
    "  --title T           the page's title (default: the file's name)\n"
    "  --snapshots N       at most N heaps in the page (default 200, at least 2)\n"
    "  --heap BYTES        a trace's arena (K and M suffixes)\n";

typedef struct browse_options {
    const char *output;
    const char *title;
    size_t max_snapshots;
    bool heap_given;
    bh_replay_config replay;
    unsigned jobs;
} browse_options;

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ---- dumps: every dump of every file, each area reproduced in a real heap */

static int browse_dumps(bh_browse *b, char **files, size_t nfiles, size_t *ndumps)
{
    uint64_t x = 0;
    for (size_t fi = 0; fi < nfiles; fi++) {
        bh_dump_file f;
        if (!bh_dump_file_read(files[fi], &f)) { /* FILE:LINE: already on stderr */
            bh_dump_file_free(&f);
            return BH_EXIT_BADINPUT;
        }
        int status = BH_EXIT_OK;
        for (size_t di = 0; di < f.count && status == BH_EXIT_OK; di++) {
            const bh_dump *d = &f.dumps[di];
            x++;
            bh_dump_heap *heaps = calloc(d->area_count, sizeof *heaps);
            bh_browse_area *areas = calloc(d->area_count, sizeof *areas);
            bh_info *infos = calloc(d->area_count, sizeof *infos);
            char (*addresses)[24] = calloc(d->area_count, sizeof *addresses);
            size_t loaded = 0;
            if (!heaps || !areas || !infos || !addresses) {
                fprintf(stderr, "blockheap browse: out of memory\n");
                status = BH_EXIT_FAIL;
            }
            for (; status == BH_EXIT_OK && loaded < d->area_count; loaded++) {
                const bh_dump_area *a = &d->areas[loaded];
                char why[256];
                if (!bh_dump_heap_load(&heaps[loaded], a, d->block_bytes, why, sizeof why)) {
                    bh_report_at(f.name, a->line, "cannot reproduce this heap area: %s", why);
                    status = BH_EXIT_BADINPUT;
                    break;
                }
                bh_dump_heap_info(&heaps[loaded], &infos[loaded]);
                if (a->address_present)
                    snprintf(addresses[loaded], sizeof addresses[loaded], "%llx", (unsigned long long)a->address);
                areas[loaded] = (bh_browse_area){
                    .heap = &heaps[loaded].heap, .letters = a->states, .nletters = a->blocks,
                    .address = a->address_present ? addresses[loaded] : NULL,
                    .blocks = heaps[loaded].blocks, .info = &infos[loaded]};
            }
            if (status == BH_EXIT_OK) {
                bh_browse_header_item header[BH_DUMP_FIELD_COUNT];
                size_t nheader = 0;
                for (int k = 0; k < BH_DUMP_FIELD_COUNT; k++)
                    if (d->header[k].present)
                        header[nheader++] = (bh_browse_header_item){bh_dump_field_name((bh_dump_field)k),
                                                                    d->header[k].value};
                char label[64];
                snprintf(label, sizeof label, "dump %llu", (unsigned long long)x);
                bh_browse_moment m = {
                    .x = x, .label = d->title ? d->title : label, .file = f.name, .line = d->line,
                    .header = header, .nheader = nheader,
                    .consistent = d->header_kind == BH_DUMP_HEADER_NONE ? -1 : d->consistent};
                /* the last dump is always shown, even when there are more dumps than snapshots */
                bool last = fi + 1 == nfiles && di + 1 == f.count;
                if (!bh_browse_add_snapshot(b, &m, areas, d->area_count, last)) {
                    fprintf(stderr, "blockheap browse: out of memory\n");
                    status = BH_EXIT_FAIL;
                }
            }
            for (size_t k = 0; k < loaded; k++)
                bh_dump_heap_free(&heaps[k]);
            free(heaps);
            free(areas);
            free(infos);
            free(addresses);
        }
        *ndumps += f.count;
        bh_dump_file_free(&f);
        if (status != BH_EXIT_OK)
            return status;
    }
    return BH_EXIT_OK;
}

/* ---- a trace: the replay, seen at evenly spaced moments and at its end */

typedef struct trace_view {
    bh_browse *b;
    const bh_trace *t;
    bool oom;
} trace_view;

/* The heap after event `event` (0-based) was applied: a timeline point and maybe a snapshot. This is
 * the replay observer: bh_browse decides which moments it keeps. */
static void observe_event(void *ctx, const bh_heap *h, size_t event)
{
    trace_view *v = ctx;
    uint64_t x = (uint64_t)event + 1; /* events run so far */
    bh_browse_area area = {.heap = h};
    if (bh_browse_wants_snapshot(v->b, x)) {
        char label[64];
        snprintf(label, sizeof label, "after event %llu", (unsigned long long)x);
        bh_browse_moment m = {.x = x, .label = label, .file = v->t->name,
                              .line = bh_trace_line(v->t, event), .consistent = -1};
        v->oom |= !bh_browse_add_snapshot(v->b, &m, &area, 1, false);
    } else if (bh_browse_wants_point(v->b, x)) {
        v->oom |= !bh_browse_add_point(v->b, x, &area, 1, false);
    }
}

static int browse_trace(bh_browse *b, const char *path, const browse_options *o, char *subtitle, size_t cap)
{
    bh_trace t;
    if (!bh_replay_load(&t, path, bh_stderr_is_tty())) /* FILE:LINE: already on stderr */
        return BH_EXIT_BADINPUT;
    bh_replayer rp;
    bh_replayer_init(&rp);
    int status = BH_EXIT_OK;
    trace_view v = {.b = b, .t = &t};
    bh_replay_result res;
    /* one run, observed after every event it applies (a failing event is not a moment the heap
     * reached); bh_browse keeps evenly spaced moments within its caps */
    bh_replay_config cfg = o->replay;
    cfg.observe = observe_event;
    cfg.observe_ctx = &v;
    if (!bh_replay(&rp, &t, &cfg, &res)) {
        fprintf(stderr, "%s: cannot replay: %s\n", path, res.error ? res.error : "?");
        status = BH_EXIT_BADINPUT;
        goto out;
    }
    if (v.oom) {
        fprintf(stderr, "blockheap browse: out of memory\n");
        status = BH_EXIT_FAIL;
        goto out;
    }
    /* the end, or the failure: the heap as the run left it */
    char label[96];
    uint64_t end_x = res.completed ? res.events : res.failed_event + 1;
    if (res.completed)
        snprintf(label, sizeof label, "end: %zu events run", res.events);
    else
        snprintf(label, sizeof label, "event %llu failed: %s of %zu bytes", (unsigned long long)end_x,
                 res.failed_kind == BH_EV_REALLOC ? "resize" : "allocation", res.failure.request_bytes);
    bh_browse_area area = {.heap = &rp.heap};
    bh_browse_moment m = {.x = end_x, .label = label, .file = t.name, .consistent = -1,
                          .line = res.completed ? 0 : res.failed_line,
                          .failure = res.completed ? NULL : &res.failure};
    bh_browse_trace info = {.file = t.name, .heap_bytes = res.heap_bytes,
                            .policy = bh_policy_to_name(o->replay.policy), .pool_blocks = res.pool_blocks,
                            .events = res.events, .completed = res.completed,
                            .collections = res.collections, .peak_live_blocks = res.peak_live_blocks};
    if (!bh_browse_add_snapshot(b, &m, &area, 1, true) || !bh_browse_set_trace(b, &info)) {
        fprintf(stderr, "blockheap browse: out of memory\n");
        status = BH_EXIT_FAIL;
        goto out;
    }
    char heap[32];
    int n = snprintf(subtitle, cap, "replayed on a %s heap (%zu blocks of %zu B), policy %s: ",
                     bh_fmt_bytes(heap, sizeof heap, res.heap_bytes), res.pool_blocks, res.block_bytes,
                     bh_policy_to_name(o->replay.policy));
    if (n > 0 && (size_t)n < cap) {
        if (res.completed)
            snprintf(subtitle + n, cap - (size_t)n, "completed, %zu events, %zu collections", res.events,
                     res.collections);
        else
            snprintf(subtitle + n, cap - (size_t)n, "failed at event %llu (line %lu), %s",
                     (unsigned long long)end_x, res.failed_line, bh_verdict_name(res.failure.verdict));
    }
out:
    bh_replayer_free(&rp);
    bh_trace_free(&t);
    return status;
}

/* ---- the command */

static int parse_args(int argc, char **argv, browse_options *o, char ***files, size_t *nfiles)
{
    memset(o, 0, sizeof *o);
    o->output = "heap.html";
    o->max_snapshots = BH_BROWSE_MAX_SNAPSHOTS + 1;
    o->replay.policy = BH_POLICY_MICROPYTHON;
    *files = calloc((size_t)argc, sizeof **files);
    *nfiles = 0;
    if (!*files)
        return BH_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            fputs(bh_replay_common_help, stdout);
            return -1;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has_value) {
            o->output = argv[++i];
        } else if (strcmp(a, "--title") == 0 && has_value) {
            o->title = argv[++i];
        } else if (strcmp(a, "--snapshots") == 0 && has_value) {
            uint64_t v;
            if (!bh_parse_u64(argv[i + 1], strlen(argv[i + 1]), &v) || v < 2 || v > 100000) {
                fprintf(stderr, "blockheap browse: --snapshots wants a number from 2 to 100000\n");
                return BH_EXIT_BADINPUT;
            }
            o->max_snapshots = (size_t)v;
            i++;
        } else if (strcmp(a, "--heap") == 0 && has_value) {
            uint64_t v;
            if (!bh_parse_size(argv[i + 1], &v) || v == 0 || v > SIZE_MAX / 2) {
                fprintf(stderr, "blockheap browse: bad --heap '%s'\n", argv[i + 1]);
                return BH_EXIT_BADINPUT;
            }
            o->replay.heap_bytes = (size_t)v;
            o->heap_given = true;
            i++;
        } else if (a[0] == '-' && a[1] != '\0') {
            /* the trace options replay, margin and fragility take (--policy, --block, ...) */
            int used = bh_replay_common_option(argc, argv, &i, &o->replay, &o->jobs, NULL);
            if (used < 0)
                return BH_EXIT_BADINPUT;
            if (used == 0) {
                fprintf(stderr, "blockheap browse: unknown option '%s' (or its value is missing)\n", a);
                return BH_EXIT_BADINPUT;
            }
        } else {
            (*files)[(*nfiles)++] = argv[i];
        }
    }
    if (*nfiles == 0) {
        fputs(usage_text, stderr);
        return BH_EXIT_BADINPUT;
    }
    return BH_EXIT_OK;
}

int bh_cmd_browse(int argc, char **argv)
{
    browse_options o;
    char **files;
    size_t nfiles;
    int status = parse_args(argc, argv, &o, &files, &nfiles);
    if (status != BH_EXIT_OK) {
        free(files);
        return status < 0 ? BH_EXIT_OK : status;
    }
    int trace = bh_trace_sniff(files[0]);
    if (trace < 0) {
        free(files);
        return BH_EXIT_BADINPUT;
    }
    if (trace && (nfiles > 1 || !o.heap_given)) {
        fprintf(stderr, "blockheap browse: %s is a trace: give it alone, with --heap BYTES\n", files[0]);
        free(files);
        return BH_EXIT_BADINPUT;
    }
    if (!trace && o.heap_given) {
        fprintf(stderr, "blockheap browse: --heap is for a trace; %s is not one (its first line is not "
                        "'heaptrace 1')\n", files[0]);
        free(files);
        return BH_EXIT_BADINPUT;
    }

    bh_browse b;
    /* one place is kept for the last moment, which is always shown */
    bh_browse_init(&b, o.max_snapshots - 1, BH_BROWSE_MAX_POINTS);
    char subtitle[256] = "";
    size_t ndumps = 0;
    status = trace ? browse_trace(&b, files[0], &o, subtitle, sizeof subtitle)
                   : browse_dumps(&b, files, nfiles, &ndumps);
    if (status == BH_EXIT_OK && !trace)
        snprintf(subtitle, sizeof subtitle, "%zu dump%s from %zu file%s, %zu shown", ndumps,
                 ndumps == 1 ? "" : "s", nfiles, nfiles == 1 ? "" : "s", b.nsnaps);

    char title[256];
    if (o.title)
        snprintf(title, sizeof title, "%s", o.title);
    else if (nfiles == 1)
        snprintf(title, sizeof title, "%s", base_name(files[0]));
    else
        snprintf(title, sizeof title, "%s and %zu more", base_name(files[0]), nfiles - 1);
    bh_browse_meta meta = {.kind = trace ? "trace" : "dumps", .title = title, .subtitle = subtitle,
                           .x_label = trace ? "event" : "dump"};

    if (status == BH_EXIT_OK) {
        bool to_stdout = strcmp(o.output, "-") == 0;
        FILE *out = to_stdout ? stdout : fopen(o.output, "w");
        if (!out) {
            perror(o.output);
            status = BH_EXIT_FAIL;
        } else {
            bool ok = bh_browse_write_page(&b, &meta, out);
            long bytes = to_stdout ? -1 : ftell(out);
            ok = !ferror(out) && ok;
            if (!to_stdout)
                ok = fclose(out) == 0 && ok;
            else
                ok = fflush(out) == 0 && ok;
            if (!ok) {
                fprintf(stderr, "blockheap browse: cannot write %s\n", o.output);
                status = BH_EXIT_FAIL;
            } else {
                /* the figures a test compares with the page */
                char size[32];
                fprintf(to_stdout ? stderr : stdout, "%s: %zu snapshots, %zu blocks shown last, %s\n",
                        o.output, b.nsnaps, b.nsnaps ? b.snaps[b.nsnaps - 1].blocks : 0,
                        bytes >= 0 ? bh_fmt_bytes(size, sizeof size, (uint64_t)bytes) : "written");
            }
        }
    }
    bh_browse_free(&b);
    free(files);
    return status;
}
