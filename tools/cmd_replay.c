/* blockheap replay: run a heaptrace on the real library at one heap size (or, with --runs, at every
 * heap size of a table of measured runs, comparing pass/fail row by row). */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "replay.h"
#include "util.h"

static const char replay_help[] =
    "usage: blockheap replay TRACE --heap BYTES [options]\n"
    "       blockheap replay TRACE --runs RUNS.tsv [options]\n"
    "\n"
    "Runs the allocation trace TRACE (heaptrace 1, plain or gzip, '-' for stdin) on the real library\n"
    "with an arena of BYTES (K and M suffixes allowed): live objects are held in a root table outside\n"
    "the heap; collections are the library's own (on failure, at the threshold, at `c` lines).\n"
    "Exit status 0 if the trace completes, 1 if an allocation fails, 2 on bad input.\n"
    "\n"
    "  --heap BYTES        arena size\n"
    "  --map               print the heap map at the failure (or at the end)\n"
    "  --json              JSON instead of the table\n"
    "  --runs FILE.tsv     replay at every `heapsize` of a table (columns heapsize, pool_blocks,\n"
    "                      result = pass|fail: MicroPython's own runs) and report the rows that agree;\n"
    "                      exit status 0 only if all agree\n"
    "%s"
    "\n"
    "JSON keys: completed, heap_bytes, pool_blocks, block_bytes, policy, events, collections,\n"
    "peak_live_blocks, peak_live_bytes (of the run: up to the failure), trace_peak_live_blocks,\n"
    "tolerated, divergences, events_per_second, info{...}; on failure failed_event (1-based),\n"
    "failed_line, failed_kind, request_bytes, request_blocks, free_bytes, largest_free_bytes,\n"
    "verdict (\"fragmented\" or \"exhausted\"). With --runs: trace, rows, agree, disagree[{heap_bytes,\n"
    "pool_blocks, expected, got}].\n";

static void print_to_stdout(void *ctx, const char *s, size_t len)
{
    (void)ctx;
    fwrite(s, 1, len, stdout);
}

static const char *verdict_word(bh_verdict v)
{
    switch (v) {
    case BH_VERDICT_FRAGMENTED: return "fragmented";
    case BH_VERDICT_EXHAUSTED: return "exhausted";
    case BH_VERDICT_LOCKED: return "locked";
    case BH_VERDICT_IMMOVABLE: return "immovable";
    default: return "none";
    }
}

static void print_info_json(bh_json *j, const bh_info *in)
{
    bh_json_key(j, "info");
    bh_json_begin_object(j);
    bh_json_kv_u64(j, "total_bytes", in->total_bytes);
    bh_json_kv_u64(j, "used_bytes", in->used_bytes);
    bh_json_kv_u64(j, "free_bytes", in->free_bytes);
    bh_json_kv_u64(j, "used_blocks", in->used_blocks);
    bh_json_kv_u64(j, "free_blocks", in->free_blocks);
    bh_json_kv_u64(j, "objects", in->objects);
    bh_json_kv_u64(j, "one_block_objects", in->one_block_objects);
    bh_json_kv_u64(j, "two_block_objects", in->two_block_objects);
    bh_json_kv_u64(j, "largest_object_blocks", in->largest_object_blocks);
    bh_json_kv_u64(j, "largest_free_blocks", in->largest_free_blocks);
    bh_json_kv_u64(j, "free_runs", in->free_runs);
    bh_json_kv_u64(j, "largest_alloc_bytes", in->largest_alloc_bytes);
    bh_json_kv_u64(j, "collections", in->collections);
    bh_json_end_object(j);
}

static void print_result_json(const bh_trace *t, const bh_replay_config *cfg, const bh_replay_result *r)
{
    bh_json j;
    bh_json_init(&j, stdout);
    bh_json_begin_object(&j);
    bh_json_kv_string(&j, "trace", t->name);
    bh_json_kv_bool(&j, "completed", r->completed);
    bh_json_kv_u64(&j, "heap_bytes", r->heap_bytes);
    bh_json_kv_u64(&j, "pool_blocks", r->pool_blocks);
    bh_json_kv_u64(&j, "block_bytes", r->block_bytes);
    bh_json_kv_string(&j, "policy", bh_policy_to_name(cfg->policy));
    bh_json_kv_u64(&j, "threshold_blocks", cfg->threshold_blocks);
    if (cfg->oracle_long)
        bh_json_kv_u64(&j, "oracle_hints_age", cfg->oracle_age);
    bh_json_kv_u64(&j, "trace_events", t->nevents);
    bh_json_kv_u64(&j, "events", r->events);
    bh_json_kv_u64(&j, "collections", r->collections);
    bh_json_kv_u64(&j, "peak_live_blocks", r->peak_live_blocks);
    bh_json_kv_u64(&j, "peak_live_bytes", r->peak_live_bytes);
    bh_trace_peak whole;
    if (bh_trace_peak_live(t, r->block_bytes, &whole))
        bh_json_kv_u64(&j, "trace_peak_live_blocks", whole.blocks);
    bh_json_kv_u64(&j, "tolerated", r->tolerated);
    bh_json_kv_u64(&j, "divergences", r->divergences);
    if (r->divergences)
        bh_json_kv_u64(&j, "first_divergence_event", r->first_divergence + 1);
    bh_json_kv_double(&j, "seconds", r->seconds);
    bh_json_kv_double(&j, "events_per_second", r->seconds > 0 ? (double)r->events / r->seconds : 0);
    if (!r->completed) {
        bh_json_kv_u64(&j, "failed_event", r->failed_event + 1);
        bh_json_kv_u64(&j, "failed_line", r->failed_line);
        bh_json_key(&j, "failed_kind");
        char k[2] = {bh_trace_kind_letter(r->failed_kind), 0};
        bh_json_string(&j, k);
        bh_json_kv_u64(&j, "request_bytes", r->failure.request_bytes);
        bh_json_kv_u64(&j, "request_blocks", r->failure.request_blocks);
        bh_json_kv_u64(&j, "free_bytes", r->failure.free_bytes);
        bh_json_kv_u64(&j, "free_blocks", r->failure.free_blocks);
        bh_json_kv_u64(&j, "largest_free_bytes", r->failure.largest_free_bytes);
        bh_json_kv_u64(&j, "largest_free_blocks", r->failure.largest_free_blocks);
        bh_json_kv_bool(&j, "collected", r->failure.collected);
        bh_json_kv_string(&j, "verdict", verdict_word(r->failure.verdict));
        if (r->failed_obj < t->nobjects) {
            bh_json_kv_string(&j, "failed_site", bh_intern_name(&t->sites, t->site[r->failed_obj]));
            bh_json_kv_string(&j, "failed_pysite", bh_intern_name(&t->pysites, t->pysite[r->failed_obj]));
        }
    }
    print_info_json(&j, &r->info);
    bh_json_end_object(&j);
}

static void print_result_text(const bh_trace *t, const bh_replay_config *cfg, const bh_replay_result *r)
{
    char b1[32], b2[32];
    printf("trace        %s: %zu events (%zu a, %zu f, %zu r, %zu d, %zu c), block %u, word %u\n", t->name,
           t->nevents, t->counts[BH_EV_ALLOC], t->counts[BH_EV_FREE], t->counts[BH_EV_REALLOC],
           t->counts[BH_EV_DEAD], t->counts[BH_EV_COLLECT], t->block_bytes, t->word_bytes);
    printf("heap         %zu bytes: pool of %zu blocks of %zu bytes (%s), policy %s, finalisers %s, threshold ",
           r->heap_bytes, r->pool_blocks, r->block_bytes, bh_fmt_bytes(b1, sizeof b1, (uint64_t)r->pool_blocks * r->block_bytes),
           bh_policy_to_name(cfg->policy), cfg->without_finalisers ? "off" : "on");
    if (cfg->threshold_blocks)
        printf("%zu blocks\n", cfg->threshold_blocks);
    else
        printf("off\n");
    if (cfg->oracle_long)
        printf("oracle hints " BH_ORACLE_HINTS_FMT " (from the trace's future), no site tokens\n",
               (unsigned)cfg->oracle_age);
    if (r->completed) {
        printf("result       completed all %zu events\n", r->events);
    } else {
        const bh_failure *f = &r->failure;
        printf("result       FAILED at event %zu (line %lu): %s of %zu bytes (%zu blocks)%s\n", r->failed_event + 1,
               r->failed_line, r->failed_kind == BH_EV_REALLOC ? "growing realloc" : "allocation", f->request_bytes,
               f->request_blocks, r->failed_in_edit ? " [the edit's own]" : "");
        printf("             free %zu bytes (%zu blocks), largest free run %zu bytes (%zu blocks)%s: %s\n",
               f->free_bytes, f->free_blocks, f->largest_free_bytes, f->largest_free_blocks,
               f->collected ? " after a collection" : "", verdict_word(f->verdict));
        if (r->failed_obj < t->nobjects && (t->site[r->failed_obj] || t->pysite[r->failed_obj]))
            printf("             site %s, Python line %s\n", bh_intern_name(&t->sites, t->site[r->failed_obj]),
                   bh_intern_name(&t->pysites, t->pysite[r->failed_obj]));
    }
    printf("peak live    %llu blocks (%s), %llu bytes requested", (unsigned long long)r->peak_live_blocks,
           bh_fmt_bytes(b1, sizeof b1, r->peak_live_blocks * r->block_bytes), (unsigned long long)r->peak_live_bytes);
    bh_trace_peak whole;
    if (!r->completed && bh_trace_peak_live(t, r->block_bytes, &whole))
        printf(" up to the failure; the whole trace's is %llu blocks", (unsigned long long)whole.blocks);
    printf("\n");
    printf("collections  %zu\n", r->collections);
    if (r->tolerated)
        printf("tolerated    %zu failed allocations the program survives (a frame on the C stack instead)\n",
               r->tolerated);
    if (r->divergences)
        printf("note         %zu in-place-only growths had to move here, the first at event %zu (line %lu):\n"
               "             from there MicroPython itself would allocate differently from the trace\n",
               r->divergences, r->first_divergence + 1, bh_trace_line(t, r->first_divergence));
    const bh_info *in = &r->info;
    printf("final heap   used %zu / %zu bytes, %zu objects, largest free run %zu blocks (%s), %zu free runs\n",
           in->used_bytes, in->total_bytes, in->objects, in->largest_free_blocks,
           bh_fmt_bytes(b2, sizeof b2, (uint64_t)in->largest_free_blocks * in->block_bytes), in->free_runs);
    printf("speed        %zu events in %.3f s (%.1f M events/s)\n", r->events, r->seconds,
           r->seconds > 0 ? (double)r->events / r->seconds / 1e6 : 0.0);
}

/* ---- --runs: compare with a table of measured runs */

typedef struct measured_row {
    size_t heap_bytes, pool_blocks;
    bool pass;
    unsigned long line;
} measured_row;

/* Reads heapsize / pool_blocks / result rows; false (FILE:LINE:) on malformed input. */
static bool read_runs(const char *path, measured_row **rows_out, size_t *n_out)
{
    bh_lines in;
    if (!bh_lines_open(&in, path))
        return false;
    measured_row *rows = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    char *line;
    while (ok && (line = bh_lines_next(&in)) != NULL) {
        if (in.line == 1 && strncmp(line, "heapsize", 8) == 0)
            continue;
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *f[3];
        size_t nf = 0;
        for (char *p = line; nf < 3;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        uint64_t heap, pool;
        if (nf != 3 || !bh_parse_u64(f[0], strlen(f[0]), &heap) || !bh_parse_u64(f[1], strlen(f[1]), &pool) ||
            (strcmp(f[2], "pass") != 0 && strcmp(f[2], "fail") != 0)) {
            bh_report_at(in.name, in.line, "expected: heapsize<TAB>pool_blocks<TAB>pass|fail");
            ok = false;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 512;
            measured_row *nr = realloc(rows, cap * sizeof *rows);
            if (!nr) {
                ok = false;
                break;
            }
            rows = nr;
        }
        rows[n++] = (measured_row){(size_t)heap, (size_t)pool, strcmp(f[2], "pass") == 0, in.line};
    }
    if (ok && in.error) {
        bh_report_at(in.name, in.line + 1, "read error: %s", bh_lines_error(&in));
        ok = false;
    }
    bh_lines_close(&in);
    if (!ok) {
        free(rows);
        return false;
    }
    *rows_out = rows;
    *n_out = n;
    return true;
}

static int replay_runs(const bh_trace *t, const bh_replay_config *cfg, const char *runs_path, bool json,
                       unsigned jobs)
{
    measured_row *rows;
    size_t n;
    if (!read_runs(runs_path, &rows, &n))
        return BH_EXIT_BADINPUT;
    bh_size_run *runs = calloc(n ? n : 1, sizeof *runs);
    if (!runs) {
        free(rows);
        fprintf(stderr, "blockheap replay: out of memory\n");
        return BH_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++)
        runs[i].heap_bytes = rows[i].heap_bytes;
    double t0 = bh_now();
    bh_replay_sizes(t, cfg, runs, n, jobs);
    double secs = bh_now() - t0;
    size_t agree = 0, pool_mismatch = 0;
    for (size_t i = 0; i < n; i++) {
        if (runs[i].ran && runs[i].completed == rows[i].pass)
            agree++;
        if (runs[i].pool_blocks != rows[i].pool_blocks)
            pool_mismatch++;
    }
    if (json) {
        bh_json j;
        bh_json_init(&j, stdout);
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "trace", t->name);
        bh_json_kv_string(&j, "runs", runs_path);
        bh_json_kv_string(&j, "policy", bh_policy_to_name(cfg->policy));
        bh_json_kv_u64(&j, "rows", n);
        bh_json_kv_u64(&j, "agree", agree);
        bh_json_kv_u64(&j, "pool_mismatches", pool_mismatch);
        bh_json_kv_double(&j, "seconds", secs);
        bh_json_key(&j, "disagree");
        bh_json_begin_array(&j);
        for (size_t i = 0; i < n; i++) {
            if (runs[i].ran && runs[i].completed == rows[i].pass)
                continue;
            bh_json_begin_object(&j);
            bh_json_kv_u64(&j, "heap_bytes", rows[i].heap_bytes);
            bh_json_kv_u64(&j, "pool_blocks", runs[i].pool_blocks);
            bh_json_kv_string(&j, "expected", rows[i].pass ? "pass" : "fail");
            bh_json_kv_string(&j, "got", !runs[i].ran ? "error" : runs[i].completed ? "pass" : "fail");
            bh_json_end_object(&j);
        }
        bh_json_end_array(&j);
        bh_json_end_object(&j);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (runs[i].pool_blocks != rows[i].pool_blocks)
                printf("%s:%lu: heap %zu: pool %zu blocks here, %zu in the table\n", runs_path, rows[i].line,
                       rows[i].heap_bytes, runs[i].pool_blocks, rows[i].pool_blocks);
            if (runs[i].ran && runs[i].completed == rows[i].pass)
                continue;
            printf("%s:%lu: heap %zu (pool %zu): expected %s, got %s\n", runs_path, rows[i].line, rows[i].heap_bytes,
                   runs[i].pool_blocks, rows[i].pass ? "pass" : "fail",
                   !runs[i].ran ? "error" : runs[i].completed ? "pass" : "fail");
        }
        printf("%s: %zu of %zu rows agree (policy %s, %.1f s)\n", t->name, agree, n, bh_policy_to_name(cfg->policy),
               secs);
    }
    free(runs);
    free(rows);
    return agree == n ? BH_EXIT_OK : BH_EXIT_FAIL;
}

int bh_cmd_replay(int argc, char **argv)
{
    bh_replay_cli o;
    bh_replay_cli_init(&o, false);
    const char *path = NULL, *runs_path = NULL;
    bool json = false, map = false, have_heap = false;
    for (int i = 1; i < argc; i++) {
        int got = bh_replay_cli_option(&o, argc, argv, &i);
        if (got < 0)
            return BH_EXIT_BADINPUT;
        if (got > 0)
            continue;
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf(replay_help, bh_replay_common_help);
            return BH_EXIT_OK;
        } else if (strcmp(a, "--heap") == 0 && i + 1 < argc) {
            uint64_t v;
            if (!bh_parse_size(argv[++i], &v) || v > ((uint64_t)1 << 40)) {
                fprintf(stderr, "blockheap replay: bad --heap '%s'\n", argv[i]);
                return BH_EXIT_BADINPUT;
            }
            o.cfg.heap_bytes = (size_t)v;
            have_heap = true;
        } else if (strcmp(a, "--runs") == 0 && i + 1 < argc) {
            runs_path = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--map") == 0) {
            map = true;
        } else if (!bh_cli_input_arg("replay", a, &path)) {
            return BH_EXIT_BADINPUT;
        }
    }
    if (!path || (!have_heap && !runs_path)) {
        fprintf(stderr, "usage: blockheap replay TRACE --heap BYTES [options] (see --help)\n");
        return BH_EXIT_BADINPUT;
    }
    bh_trace t;
    if (!bh_replay_load(&t, path, bh_stderr_is_tty()))
        return BH_EXIT_BADINPUT;
    if (!bh_replay_cli_prepare(&o, &t)) {
        fprintf(stderr, "blockheap replay: out of memory\n");
        bh_trace_free(&t);
        return BH_EXIT_FAIL;
    }
    const bh_replay_config cfg = o.cfg;
    int status;
    if (runs_path) {
        status = replay_runs(&t, &cfg, runs_path, json, o.jobs);
    } else {
        bh_replayer rp;
        bh_replayer_init(&rp);
        bh_replay_result res;
        if (!bh_replay(&rp, &t, &cfg, &res)) {
            fprintf(stderr, "blockheap replay: heap of %zu bytes: %s\n", cfg.heap_bytes, res.error);
            status = BH_EXIT_BADINPUT;
        } else {
            if (json)
                print_result_json(&t, &cfg, &res);
            else
                print_result_text(&t, &cfg, &res);
            if (map) {
                /* the map goes after the JSON document when both are asked for */
                bh_dump_map(&rp.heap, print_to_stdout, NULL, NULL, NULL);
            }
            status = res.completed ? BH_EXIT_OK : BH_EXIT_FAIL;
        }
        bh_replayer_free(&rp);
    }
    bh_replay_cli_free(&o);
    bh_trace_free(&t);
    return status;
}
