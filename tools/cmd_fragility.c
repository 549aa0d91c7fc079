/* blockheap fragility: would small edits of the program make it fail at this heap size? */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fragility.h"
#include "util.h"

static const char fragility_help[] =
    "usage: blockheap fragility TRACE --heap BYTES [--variants N] [--seed S] [options]\n"
    "\n"
    "Replays N variants of the allocation trace TRACE, each with one small realistic edit, at a heap\n"
    "of BYTES, and reports the fraction that fail and the distribution of their minimum heap:\n"
    "  extra   a new global: one object of 1 to 4 blocks allocated at a random point, kept to the end\n"
    "  grow    a longer string: one allocation 1 to 4 blocks bigger\n"
    "  burst   a short burst of 2 to 8 temporaries of 1 to 3 blocks at a random point\n"
    "The same seed gives the same variants (variant i depends only on the seed and i). Minimum heaps\n"
    "are found by bisection, the base trace's too.\n"
    "\n"
    "  --heap BYTES        the heap to assess (K and M suffixes allowed)\n"
    "  --variants N        number of variants (default 20)\n"
    "  --seed S            seed (default 1)\n"
    "  --json              JSON instead of the table\n"
    "%s"
    "\n"
    "JSON keys: trace, heap_bytes, policy, seed, variants, failed, fraction_failed, base_completed,\n"
    "base_min_heap_bytes, min_heap_bytes{min, p50, p90, max}, by_kind{extra, grow, burst: {variants,\n"
    "failed}}, details[{kind, event, line, bytes | object+bytes | burst_bytes[], completed,\n"
    "min_heap_bytes}], runs, seconds.\n";

static void edit_text(const bh_trace *t, const bh_variant *v, char *buf, size_t cap)
{
    const bh_trace_edit *e = &v->edit;
    switch (e->kind) {
    case BH_EDIT_EXTRA: snprintf(buf, cap, "extra %u-byte object kept from line %lu", e->bytes, v->line); break;
    case BH_EDIT_GROW: {
        const char *site = e->obj < t->nobjects ? bh_intern_name(&t->sites, t->site[e->obj]) : "";
        snprintf(buf, cap, "object of line %lu grown by %u bytes%s%.60s", v->line, e->bytes, *site ? " at " : "", site);
        break;
    }
    case BH_EDIT_BURST: {
        uint64_t total = 0;
        for (uint32_t k = 0; k < e->count; k++)
            total += e->burst_bytes[k];
        snprintf(buf, cap, "burst of %u temporaries (%llu bytes) at line %lu", e->count, (unsigned long long)total,
                 v->line);
        break;
    }
    default: snprintf(buf, cap, "none"); break;
    }
}

static void print_text(const bh_trace *t, const bh_fragility_config *cfg, const bh_fragility *f)
{
    char b1[32];
    printf("trace          %s: %zu events\n", t->name, t->nevents);
    printf("heap           %zu bytes (%s), policy %s; the trace as it is %s there, its minimum is %zu bytes\n",
           f->heap_bytes, bh_fmt_bytes(b1, sizeof b1, f->heap_bytes), bh_policy_to_name(cfg->replay.policy),
           f->base_completed ? "passes" : "FAILS", f->base_min_heap_bytes);
    if (cfg->replay.oracle_long)
        printf("oracle hints   " BH_ORACLE_HINTS_FMT "\n", (unsigned)cfg->replay.oracle_age);
    printf("variants       %u (seed %llu): %u extra, %u grow, %u burst\n", f->n, (unsigned long long)cfg->seed,
           f->count_by_kind[BH_EDIT_EXTRA], f->count_by_kind[BH_EDIT_GROW], f->count_by_kind[BH_EDIT_BURST]);
    printf("fail at heap   %u of %u (%.0f%%): %u extra, %u grow, %u burst\n", f->failed, f->n,
           f->n ? 100.0 * f->failed / f->n : 0.0, f->failed_by_kind[BH_EDIT_EXTRA], f->failed_by_kind[BH_EDIT_GROW],
           f->failed_by_kind[BH_EDIT_BURST]);
    if (f->n > f->min_unknown)
        printf("minimum heap   p50 %zu, p90 %zu, max %zu bytes (min %zu; the trace itself %zu)\n", f->min_p50,
               f->min_p90, f->min_max, f->min_min, f->base_min_heap_bytes);
    if (f->min_unknown)
        printf("               %u variants complete at no size searched\n", f->min_unknown);
    unsigned shown = 0;
    for (unsigned i = 0; i < f->n && shown < 10; i++) {
        if (f->v[i].completed)
            continue;
        if (shown++ == 0)
            printf("failing        ");
        else
            printf("               ");
        char desc[160];
        edit_text(t, &f->v[i], desc, sizeof desc);
        if (f->v[i].min_found && f->v[i].min_heap_bytes <= f->heap_bytes)
            printf("#%u %s (passes at %zu, the bisection minimum: first fit is not monotonic)\n", i, desc,
                   f->v[i].min_heap_bytes);
        else if (f->v[i].min_found)
            printf("#%u %s (needs %zu)\n", i, desc, f->v[i].min_heap_bytes);
        else
            printf("#%u %s (completes at no size searched)\n", i, desc);
    }
    printf("runs           %zu replays in %.1f s\n", f->runs, f->seconds);
}

static void print_json(const bh_trace *t, const bh_fragility_config *cfg, const bh_fragility *f)
{
    bh_json j;
    bh_json_init(&j, stdout);
    bh_json_begin_object(&j);
    bh_json_kv_string(&j, "trace", t->name);
    bh_json_kv_u64(&j, "heap_bytes", f->heap_bytes);
    bh_json_kv_string(&j, "policy", bh_policy_to_name(cfg->replay.policy));
    bh_json_kv_u64(&j, "seed", cfg->seed);
    bh_json_kv_u64(&j, "variants", f->n);
    bh_json_kv_u64(&j, "failed", f->failed);
    bh_json_kv_double(&j, "fraction_failed", f->n ? (double)f->failed / f->n : 0.0);
    bh_json_kv_bool(&j, "base_completed", f->base_completed);
    bh_json_kv_u64(&j, "base_min_heap_bytes", f->base_min_heap_bytes);
    bh_json_key(&j, "min_heap_bytes");
    bh_json_begin_object(&j);
    bh_json_kv_u64(&j, "min", f->min_min);
    bh_json_kv_u64(&j, "p50", f->min_p50);
    bh_json_kv_u64(&j, "p90", f->min_p90);
    bh_json_kv_u64(&j, "max", f->min_max);
    bh_json_kv_u64(&j, "not_found", f->min_unknown);
    bh_json_end_object(&j);
    bh_json_key(&j, "by_kind");
    bh_json_begin_object(&j);
    for (int k = BH_EDIT_EXTRA; k <= BH_EDIT_BURST; k++) {
        bh_json_key(&j, bh_edit_kind_name((bh_edit_kind)k));
        bh_json_begin_object(&j);
        bh_json_kv_u64(&j, "variants", f->count_by_kind[k]);
        bh_json_kv_u64(&j, "failed", f->failed_by_kind[k]);
        bh_json_end_object(&j);
    }
    bh_json_end_object(&j);
    bh_json_key(&j, "details");
    bh_json_begin_array(&j);
    for (unsigned i = 0; i < f->n; i++) {
        const bh_variant *v = &f->v[i];
        bh_json_begin_object(&j);
        bh_json_kv_string(&j, "kind", bh_edit_kind_name(v->edit.kind));
        bh_json_kv_u64(&j, "event", v->edit.at + 1);
        bh_json_kv_u64(&j, "line", v->line);
        if (v->edit.kind == BH_EDIT_BURST) {
            bh_json_key(&j, "burst_bytes");
            bh_json_begin_array(&j);
            for (uint32_t k = 0; k < v->edit.count; k++)
                bh_json_u64(&j, v->edit.burst_bytes[k]);
            bh_json_end_array(&j);
        } else {
            bh_json_kv_u64(&j, "bytes", v->edit.bytes);
        }
        bh_json_kv_bool(&j, "completed", v->completed);
        if (v->min_found)
            bh_json_kv_u64(&j, "min_heap_bytes", v->min_heap_bytes);
        else {
            bh_json_key(&j, "min_heap_bytes");
            bh_json_null(&j);
        }
        bh_json_end_object(&j);
    }
    bh_json_end_array(&j);
    bh_json_kv_u64(&j, "runs", f->runs);
    bh_json_kv_double(&j, "seconds", f->seconds);
    bh_json_end_object(&j);
}

int bh_cmd_fragility(int argc, char **argv)
{
    bh_replay_cli o;
    bh_replay_cli_init(&o, false);
    bh_fragility_config fc = {.variants = 20, .seed = 1};
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
            printf(fragility_help, bh_replay_common_help);
            return BH_EXIT_OK;
        } else if (strcmp(a, "--heap") == 0 && i + 1 < argc) {
            if (!bh_parse_size(argv[++i], &v) || v == 0 || v > ((uint64_t)1 << 40)) {
                fprintf(stderr, "blockheap fragility: bad --heap '%s'\n", argv[i]);
                return BH_EXIT_BADINPUT;
            }
            fc.heap_bytes = (size_t)v;
        } else if (strcmp(a, "--variants") == 0 && i + 1 < argc) {
            if (!bh_parse_u64(argv[i + 1], strlen(argv[i + 1]), &v) || v == 0 || v > 100000) {
                fprintf(stderr, "blockheap fragility: bad --variants '%s' (1 to 100000)\n", argv[i + 1]);
                return BH_EXIT_BADINPUT;
            }
            fc.variants = (unsigned)v;
            i++;
        } else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            if (!bh_parse_u64(argv[i + 1], strlen(argv[i + 1]), &v)) {
                fprintf(stderr, "blockheap fragility: bad --seed '%s'\n", argv[i + 1]);
                return BH_EXIT_BADINPUT;
            }
            fc.seed = v;
            i++;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (!bh_cli_input_arg("fragility", a, &path)) {
            return BH_EXIT_BADINPUT;
        }
    }
    if (!path || !fc.heap_bytes) {
        fprintf(stderr, "usage: blockheap fragility TRACE --heap BYTES [--variants N] [--seed S] (see --help)\n");
        return BH_EXIT_BADINPUT;
    }
    bool tty = bh_stderr_is_tty();
    bh_trace t;
    if (!bh_replay_load(&t, path, tty))
        return BH_EXIT_BADINPUT;
    int status = BH_EXIT_OK;
    bh_fragility f = {0};
    if (!bh_replay_cli_prepare(&o, &t)) {
        fprintf(stderr, "blockheap fragility: out of memory\n");
        status = BH_EXIT_FAIL;
        goto out;
    }
    fc.replay = o.cfg;
    fc.jobs = o.jobs;
    fc.progress = tty;
    if (!bh_fragility_run(&t, &fc, &f)) {
        status = BH_EXIT_FAIL;
        goto out;
    }
    if (json)
        print_json(&t, &fc, &f);
    else
        print_text(&t, &fc, &f);
out:
    bh_fragility_free(&f);
    bh_replay_cli_free(&o);
    bh_trace_free(&t);
    return status;
}
