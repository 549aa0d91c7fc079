/* Speed on real programs: the shared traces replayed on the library, for every placement policy,
 * and the same events driven through glibc malloc as the reference, all in one run.
 *
 *   build/64/bench_trace_speed TRACE.trace.gz... [--room R] [--reps N] [--policy P]
 *
 * The library's side is the tools' own replay (bh_replay): the real heap, with its collections,
 * at a pool of R x the trace's peak live blocks (default 2: room enough that the time is mostly
 * placement's, as in a program that is not short of memory). glibc's side: `a` is calloc (the
 * library zeroes what it allocates), `f` and `d` are free (an object is freed when it dies: no
 * collector), `r` is realloc. Both sides keep their objects in a table indexed by object, and
 * neither parses anything while the clock runs. Reported per allocation (`a` line): an object's
 * allocation and its free together, which is what the synthetic benchmark calls a pair; the best
 * of N runs (default 3). --policy P: that policy's column only (for profiling). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "trace.h"

/* The trace's events through malloc; seconds, or a negative number if out of memory. Everything
 * it allocated is freed either way. */
static double malloc_replay(const bh_trace *t, void **obj)
{
    memset(obj, 0, (size_t)t->nobjects * sizeof *obj);
    double t0 = bh_now(), secs = -1;
    for (size_t i = 0; i < t->nevents; i++) {
        bh_trace_packed e = t->events[i];
        uint32_t o = bh_packed_obj(e);
        switch (bh_packed_kind(e)) {
        case BH_EV_ALLOC:
            obj[o] = e.bytes ? calloc(1, e.bytes) : NULL;
            if (e.bytes && !obj[o])
                goto out;
            break;
        case BH_EV_FREE:
        case BH_EV_DEAD:
            free(obj[o]);
            obj[o] = NULL;
            break;
        case BH_EV_REALLOC: {
            void *p = realloc(obj[o], e.bytes ? e.bytes : 1);
            if (!p)
                goto out;
            obj[o] = p;
            break;
        }
        default: break;
        }
    }
    secs = bh_now() - t0;
out:
    for (uint32_t o = 0; o < t->nobjects; o++)
        free(obj[o]);
    return secs;
}

int main(int argc, char **argv)
{
    double room = 2.0;
    int reps = 3, ntraces = 0;
    const char *only = NULL;
    const char **traces = calloc((size_t)argc, sizeof *traces);
    if (!traces)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--room") == 0 && i + 1 < argc)
            room = atof(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "bench_trace_speed: unknown option %s\n", argv[i]);
            return 2;
        } else
            traces[ntraces++] = argv[i];
    }
    if (ntraces == 0 || room < 1.0 || reps < 1) {
        fprintf(stderr, "usage: bench_trace_speed TRACE.trace.gz... [--room R >= 1] [--reps N >= 1] [--policy P]\n");
        return 2;
    }
    size_t npol = bh_policy_count();
    if (npol > BH_POLICY_COUNT)
        npol = BH_POLICY_COUNT;
    bh_policy only_policy = BH_POLICY_MICROPYTHON;
    if (only && !bh_policy_from_name(only, &only_policy)) {
        fprintf(stderr, "bench_trace_speed: unknown policy '%s' (known: %s)\n", only, bh_policy_names());
        return 2;
    }
    printf("ns per allocation (its allocation and its free), replaying each trace at a pool of %.2f x its peak "
           "live blocks; best of %d; in brackets: collections\n",
           room, reps);
    printf("%-22s %9s", "trace", "allocs");
    for (size_t p = 0; p < npol; p++)
        if (!only || bh_policy_at(p) == only_policy)
            printf(" %18s", bh_policy_to_name(bh_policy_at(p)));
    printf(" %12s\n", "glibc malloc");
    double log_sum[BH_POLICY_COUNT] = {0}; /* per policy: the sum of log(its time / glibc's) */
    int counted = 0;
    bh_replayer rp;
    bh_replayer_init(&rp);
    int status = 0;
    for (int k = 0; k < ntraces; k++) {
        bh_trace t;
        if (!bh_trace_load(&t, traces[k])) {
            status = 2; /* the reader said why, with the file and line */
            break;
        }
        bh_trace_peak peak;
        if (!bh_trace_peak_live(&t, t.block_bytes, &peak)) {
            fprintf(stderr, "bench_trace_speed: out of memory\n");
            bh_trace_free(&t);
            status = 1;
            break;
        }
        size_t pool = (size_t)((double)peak.blocks * room) + 1;
        size_t heap = bh_arena_bytes_for(pool, t.block_bytes, true);
        const char *base = strrchr(traces[k], '/');
        base = base ? base + 1 : traces[k];
        printf("%-22.*s %9u", (int)strcspn(base, "."), base, t.nobjects);
        double allocs = t.nobjects ? (double)t.nobjects : 1.0;
        void **obj = calloc(t.nobjects ? t.nobjects : 1, sizeof *obj);
        double glibc = 1e300;
        for (int r = 0; r < reps && obj; r++) {
            double s = malloc_replay(&t, obj);
            if (s >= 0 && s < glibc)
                glibc = s;
        }
        free(obj);
        uint8_t *flags = bh_site_flags_micropython(&t); /* the host rules (NULL: none, out of memory) */
        bool all_ran = glibc < 1e300;
        double ratio_log[BH_POLICY_COUNT] = {0};
        for (size_t p = 0; p < npol; p++) {
            if (only && bh_policy_at(p) != only_policy)
                continue;
            bh_replay_config cfg;
            memset(&cfg, 0, sizeof cfg);
            cfg.heap_bytes = heap;
            cfg.policy = bh_policy_at(p);
            cfg.site_flags = flags;
            double best = 1e300;
            bh_replay_result res;
            memset(&res, 0, sizeof res);
            for (int r = 0; r < reps; r++) {
                if (!bh_replay(&rp, &t, &cfg, &res) || !res.completed) {
                    best = -1;
                    break;
                }
                if (res.seconds < best)
                    best = res.seconds;
            }
            if (best < 0) {
                printf(" %18s", res.ran ? "fails" : "error");
                all_ran = false;
                continue;
            }
            double ns = best * 1e9 / allocs;
            printf(" %8.1f (%7zu)", ns, res.collections);
            ratio_log[p] = log(ns / (glibc * 1e9 / allocs));
        }
        free(flags);
        if (glibc < 1e300)
            printf(" %12.1f\n", glibc * 1e9 / allocs);
        else
            printf(" %12s\n", "error");
        if (all_ran) { /* a trace that fails somewhere is left out of the mean */
            counted++;
            for (size_t p = 0; p < npol; p++)
                log_sum[p] += ratio_log[p];
        }
        bh_trace_free(&t);
        fflush(stdout);
    }
    if (counted > 0) {
        printf("%-22s %9s", "geomean / glibc", "");
        for (size_t p = 0; p < npol; p++)
            if (!only || bh_policy_at(p) == only_policy)
                printf(" %17.2fx", exp(log_sum[p] / counted));
        printf(" %12s\n", "1");
    }
    bh_replayer_free(&rp);
    free(traces);
    return status;
}
