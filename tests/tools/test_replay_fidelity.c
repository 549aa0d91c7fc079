/* Fidelity: `replay --policy micropython --heap N` against every row of every
 * ../shared/traces/mp_runs/NAME.tsv (MicroPython itself, run at each heap size: pass or fail).
 *
 * Every row must agree, except on the four traces below whose traces are known not to be what an
 * unforced MicroPython does at these sizes; for them the agreement must not fall below what it is
 * (the causes are in the closing note of the replay work and in `blockheap replay --help`):
 *   - bm_fft, app_logger, app_dashboard: the recording's forced collections let parser chunks grow
 *     in place (m_renew_maybe, no move) where an unforced heap cannot, at every heap size (the
 *     replay counts these as divergences); from there MicroPython allocates differently from the
 *     trace, and the rows in the chaotic range (pass/fail alternating size by size) disagree.
 *   - bm_pidigits: no divergence of that kind; the 18 rows are the transition range, where
 *     MicroPython needs up to ~2.4 KB more than the replay.
 * Under sanitizers only every 10th row of the fully agreeing traces is run (speed).
 * Exit 77 (skipped) when ../shared is absent. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static const struct {
    const char *name;
    size_t agree_at_least;
} known[] = {
    {"bm_fft", 288}, {"bm_pidigits", 418}, {"app_logger", 570}, {"app_dashboard", 640},
};

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void)
{
    const char *runs_dir = BH_SHARED_DIR "/traces/mp_runs";
    DIR *d = opendir(runs_dir);
    if (!d) {
        printf("skipped: %s not found (the shared data is not beside this checkout)\n", runs_dir);
        return 77;
    }
    char *names[256];
    size_t nnames = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nnames < 256) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tsv") == 0)
            names[nnames++] = strndup(e->d_name, len - 4);
    }
    closedir(d);
    qsort(names, nnames, sizeof *names, by_name);
    int status = 0;
    size_t total_rows = 0, total_agree = 0;
    double t0 = bh_now();
    for (size_t k = 0; k < nnames; k++) {
        size_t floor_agree = SIZE_MAX;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            if (strcmp(known[j].name, names[k]) == 0)
                floor_agree = known[j].agree_at_least;
        if (SANITIZED && floor_agree != SIZE_MAX) {
            printf("%-24s skipped under sanitizers\n", names[k]);
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.tsv", runs_dir, names[k]);
        FILE *fp = fopen(path, "r");
        if (!fp) {
            printf("%s: cannot open\n", path);
            return 1;
        }
        size_t cap = 1024, n = 0, row = 0;
        bh_size_run *runs = calloc(cap, sizeof *runs);
        bool *want = calloc(cap, sizeof *want);
        size_t *pools = calloc(cap, sizeof *pools);
        char line[256];
        while (fgets(line, sizeof line, fp)) {
            size_t heap, pool;
            char res[8];
            if (sscanf(line, "%zu %zu %7s", &heap, &pool, res) != 3)
                continue;
            if (SANITIZED && row++ % 10 != 0)
                continue;
            if (n == cap) {
                cap *= 2;
                runs = realloc(runs, cap * sizeof *runs);
                want = realloc(want, cap * sizeof *want);
                pools = realloc(pools, cap * sizeof *pools);
            }
            runs[n] = (bh_size_run){.heap_bytes = heap};
            pools[n] = pool;
            want[n++] = strcmp(res, "pass") == 0;
        }
        fclose(fp);
        snprintf(path, sizeof path, "%s/traces/%s.trace.gz", BH_SHARED_DIR, names[k]);
        bh_trace t;
        if (!bh_trace_load(&t, path)) {
            printf("%s: cannot load\n", path);
            return 1;
        }
        uint8_t *flags = bh_site_flags_micropython(&t);
        bh_replay_config cfg = {.policy = BH_POLICY_MICROPYTHON, .site_flags = flags};
        double t1 = bh_now();
        bh_replay_sizes(&t, &cfg, runs, n, bh_default_jobs());
        size_t agree = 0, pool_mismatch = 0;
        for (size_t i = 0; i < n; i++) {
            agree += runs[i].ran && runs[i].completed == want[i];
            pool_mismatch += runs[i].pool_blocks != pools[i];
        }
        bool ok = pool_mismatch == 0 && (floor_agree == SIZE_MAX ? agree == n : agree >= floor_agree);
        printf("%-24s %4zu / %4zu rows agree%s%s  (%.1f s)\n", names[k], agree, n,
               floor_agree != SIZE_MAX ? " (known trace divergence)" : "", ok ? "" : "  <-- REGRESSION",
               bh_now() - t1);
        if (pool_mismatch)
            printf("%-24s %zu rows give another pool than MicroPython's layout\n", "", pool_mismatch);
        if (!ok) {
            status = 1;
            for (size_t i = 0; i < n; i++)
                if (!runs[i].ran || runs[i].completed != want[i])
                    printf("    heap %zu: MicroPython %s, replay %s\n", runs[i].heap_bytes, want[i] ? "pass" : "fail",
                           runs[i].completed ? "pass" : "fail");
        }
        total_rows += n;
        total_agree += agree;
        free(flags);
        bh_trace_free(&t);
        free(runs);
        free(want);
        free(pools);
    }
    printf("all traces: %zu / %zu rows agree (%.1f s)\n", total_agree, total_rows, bh_now() - t0);
    for (size_t k = 0; k < nnames; k++)
        free(names[k]);
    return status;
}
