/* blockheap margin: the smallest heap a trace needs, and the margin of safety of a heap size. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "margin.h"
#include "util.h"

static const char margin_help[] =
    "usage: blockheap margin TRACE [--heap BYTES] [--policy P|all] [options]\n"
    "\n"
    "How much heap the allocation trace TRACE needs on the real library:\n"
    "  lower bound     the smallest arena whose pool holds the peak live blocks: nothing smaller\n"
    "                  can run the trace\n"
    "  min heap        the smallest arena in which the trace completes, among every pool size run\n"
    "  all pass from   first fit is not monotonic: the size from which every size passes, up to the\n"
    "                  `checked up to` size\n"
    "Sizes are searched a pool step (4 blocks, one allocation-table byte) at a time: a bisection\n"
    "finds a fail->pass transition, then every pool size in a window around it is run, the window\n"
    "widened while failing sizes keep turning up near its top (or passing ones near its bottom).\n"
    "\n"
    "With --heap BYTES, the margin of safety of that heap:\n"
    "  margin          how much smaller the heap could be: BYTES minus the smallest size from which\n"
    "                  every size up to BYTES passes (negative if BYTES fails: the heap it lacks)\n"
    "  peak growth     how much the program's peak could grow: the largest object (in blocks),\n"
    "                  allocated first and kept for the whole run, with which BYTES still passes\n"
    "                  (by bisection; the margin is the conservative figure)\n"
    "\n"
    "  --heap BYTES        the heap to assess (K and M suffixes allowed)\n"
    "  --policy P|all      one policy, or every policy one after the other\n"
    "  --window BYTES      the run of consecutive passing sizes required above the last failure,\n"
    "                      and the scan below the smallest pass (default 8K)\n"
    "  --max-runs N        stop widening the window after N replays (default 20000)\n"
    "  --json              JSON instead of the table\n"
    "%s"
    "\n"
    "JSON: {trace, events, peak_live_bytes, policies: [one object per policy: policy,\n"
    "peak_live_blocks, lower_bound_bytes, completes, min_heap_bytes, min_pool_blocks,\n"
    "bisection_min_bytes, all_pass_from_bytes, checked_from_bytes, checked_up_to_bytes,\n"
    "failing_sizes_above_min, collections_at_min, runs, seconds; with --heap also heap_bytes,\n"
    "heap_pool_blocks, heap_passes, margin_bytes, safe_from_bytes, peak_growth_blocks,\n"
    "peak_growth_bytes, heap_sampled]}\n";

static void print_json(const bh_trace *t, const bh_margin *m, size_t n, uint32_t oracle_age)
{
    bh_json j;
    bh_json_init(&j, stdout);
    bh_json_begin_object(&j);
    bh_json_kv_string(&j, "trace", t->name);
    bh_json_kv_u64(&j, "events", t->nevents);
    bh_json_kv_u64(&j, "peak_live_bytes", n ? m[0].peak_live_bytes : 0);
    if (oracle_age)
        bh_json_kv_u64(&j, "oracle_hints_age", oracle_age);
    bh_json_key(&j, "policies");
    bh_json_begin_array(&j);
    for (size_t i = 0; i < n; i++) {
        const bh_margin *r = &m[i];
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "policy", bh_policy_to_name(r->policy));
        bh_json_kv_u64(&j, "block_bytes", r->block_bytes);
        bh_json_kv_u64(&j, "peak_live_blocks", r->peak_live_blocks);
        bh_json_kv_u64(&j, "lower_bound_bytes", r->lower_bound_bytes);
        bh_json_kv_bool(&j, "completes", r->completes);
        if (r->completes) {
            bh_json_kv_u64(&j, "min_heap_bytes", r->min_heap_bytes);
            bh_json_kv_u64(&j, "min_pool_blocks", r->min_pool_blocks);
            bh_json_kv_u64(&j, "bisection_min_bytes", r->bisect_min_bytes);
            bh_json_kv_u64(&j, "all_pass_from_bytes", r->all_pass_from_bytes);
            bh_json_kv_u64(&j, "collections_at_min", r->collections_at_min);
            bh_json_kv_u64(&j, "failing_sizes_above_min", r->failing_above_min);
        } else {
            bh_json_key(&j, "min_heap_bytes");
            bh_json_null(&j);
            bh_json_key(&j, "all_pass_from_bytes");
            bh_json_null(&j);
        }
        bh_json_kv_u64(&j, "checked_from_bytes", r->checked_from_bytes);
        bh_json_kv_u64(&j, "checked_up_to_bytes", r->checked_up_to_bytes);
        bh_json_kv_u64(&j, "runs", r->runs);
        bh_json_kv_double(&j, "seconds", r->seconds);
        if (r->have_heap) {
            bh_json_kv_u64(&j, "heap_bytes", r->heap_bytes);
            bh_json_kv_u64(&j, "heap_pool_blocks", r->heap_pool_blocks);
            bh_json_kv_bool(&j, "heap_passes", r->heap_passes);
            bh_json_kv_u64(&j, "heap_collections", r->heap_collections);
            bh_json_key(&j, "margin_bytes");
            bh_json_i64(&j, r->margin_bytes);
            bh_json_kv_u64(&j, "safe_from_bytes", r->safe_from_bytes);
            bh_json_kv_bool(&j, "heap_sampled", r->heap_sampled);
            if (r->heap_passes) {
                bh_json_kv_u64(&j, "peak_growth_blocks", r->peak_growth_blocks);
                bh_json_kv_u64(&j, "peak_growth_bytes", r->peak_growth_blocks * r->block_bytes);
            }
        }
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_end_object(&j);
}

static void print_text(const bh_trace *t, const bh_margin *m, size_t n, uint32_t oracle_age)
{
    char b1[32];
    if (n == 0)
        return;
    printf("trace          %s: %zu events; peak live %llu blocks of %zu bytes (%llu bytes requested)\n", t->name,
           t->nevents, (unsigned long long)m[0].peak_live_blocks, m[0].block_bytes,
           (unsigned long long)m[0].peak_live_bytes);
    for (size_t i = 0; i < n; i++) {
        const bh_margin *r = &m[i];
        printf("\npolicy         %s", bh_policy_to_name(r->policy));
        if (oracle_age)
            printf(", with oracle hints: " BH_ORACLE_HINTS_FMT, (unsigned)oracle_age);
        printf("\n");
        printf("lower bound    %zu bytes (%s): the pool that holds the peak live blocks\n", r->lower_bound_bytes,
               bh_fmt_bytes(b1, sizeof b1, r->lower_bound_bytes));
        if (!r->completes) {
            printf("min heap       none: no size up to %zu bytes completes\n", r->checked_up_to_bytes);
            continue;
        }
        printf("min heap       %zu bytes (%s, pool %zu blocks, %.2fx the peak), %zu collections\n", r->min_heap_bytes,
               bh_fmt_bytes(b1, sizeof b1, r->min_heap_bytes), r->min_pool_blocks,
               r->peak_live_blocks ? (double)r->min_pool_blocks / (double)r->peak_live_blocks : 0.0,
               r->collections_at_min);
        printf("all pass from  %zu bytes (%s)", r->all_pass_from_bytes, bh_fmt_bytes(b1, sizeof b1, r->all_pass_from_bytes));
        if (r->failing_above_min)
            printf("; %zu sizes between the minimum and it fail", r->failing_above_min);
        printf("\nchecked        every pool size from %zu to %zu bytes (bisection found %zu); %zu replays in %.1f s\n",
               r->checked_from_bytes, r->checked_up_to_bytes, r->bisect_min_bytes, r->runs, r->seconds);
        if (!r->have_heap)
            continue;
        printf("heap           %zu bytes (pool %zu blocks): %s", r->heap_bytes, r->heap_pool_blocks,
               r->heap_passes ? "passes" : "FAILS");
        if (r->heap_passes)
            printf(", %zu collections", r->heap_collections);
        printf("\n");
        if (r->heap_passes) {
            printf("margin         %lld bytes: every size from %zu bytes up to the heap passes%s\n", r->margin_bytes,
                   r->safe_from_bytes, r->heap_sampled ? " (sampled above the window)" : "");
            printf("peak growth    %llu blocks (%llu bytes): one object that large, kept for the whole run, still fits\n",
                   (unsigned long long)r->peak_growth_blocks,
                   (unsigned long long)(r->peak_growth_blocks * r->block_bytes));
        } else {
            printf("margin         %lld bytes: the heap lacks %lld bytes to reach the all-pass size\n",
                   r->margin_bytes, -r->margin_bytes);
        }
    }
}

int bh_cmd_margin(int argc, char **argv)
{
    bh_replay_cli o;
    bh_replay_cli_init(&o, true);
    bh_margin_config mc = {0};
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        int got = bh_replay_cli_option(&o, argc, argv, &i);
        if (got < 0)
            return BH_EXIT_BADINPUT;
        if (got > 0)
            continue;
        const char *a = argv[i];
        uint64_t v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf(margin_help, bh_replay_common_help);
            return BH_EXIT_OK;
        } else if ((strcmp(a, "--heap") == 0 || strcmp(a, "--window") == 0) && i + 1 < argc) {
            if (!bh_parse_size(argv[++i], &v) || v > ((uint64_t)1 << 40) || v == 0) {
                fprintf(stderr, "blockheap margin: bad %s '%s'\n", a, argv[i]);
                return BH_EXIT_BADINPUT;
            }
            if (a[2] == 'h')
                mc.heap_bytes = (size_t)v;
            else
                mc.window_bytes = (size_t)v;
        } else if (strcmp(a, "--max-runs") == 0 && i + 1 < argc) {
            if (!bh_parse_u64(argv[i + 1], strlen(argv[i + 1]), &v) || v == 0 || v > 10000000) {
                fprintf(stderr, "blockheap margin: bad --max-runs '%s'\n", argv[i + 1]);
                return BH_EXIT_BADINPUT;
            }
            mc.max_runs = (size_t)v;
            i++;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (!bh_cli_input_arg("margin", a, &path)) {
            return BH_EXIT_BADINPUT;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: blockheap margin TRACE [--heap BYTES] [--policy P|all] (see --help)\n");
        return BH_EXIT_BADINPUT;
    }
    bool tty = bh_stderr_is_tty();
    bh_trace t;
    if (!bh_replay_load(&t, path, tty))
        return BH_EXIT_BADINPUT;
    int status = BH_EXIT_OK;
    size_t npol = o.policy_all ? bh_policy_count() : 1;
    bh_margin *results = calloc(npol, sizeof *results);
    if (!results || !bh_replay_cli_prepare(&o, &t)) {
        fprintf(stderr, "blockheap margin: out of memory\n");
        status = BH_EXIT_FAIL;
        goto out;
    }
    mc.jobs = o.jobs;
    mc.progress = tty;
    for (size_t k = 0; k < npol; k++) {
        mc.replay = o.cfg;
        if (o.policy_all)
            mc.replay.policy = bh_policy_at(k);
        if (!bh_margin_search(&t, &mc, &results[k])) {
            status = BH_EXIT_FAIL;
            goto out;
        }
    }
    if (json)
        print_json(&t, results, npol, o.cfg.oracle_age);
    else
        print_text(&t, results, npol, o.cfg.oracle_age);
out:
    free(results);
    bh_replay_cli_free(&o);
    bh_trace_free(&t);
    return status;
}
