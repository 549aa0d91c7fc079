/* `blockheap report -o FILE.html`: the report as one self-contained page. Same rules as the heap
 * browser's page (tools/page/browse.html): everything in the one file, no network, no fonts; the
 * colours and the table style follow it. No script: the timeline is inline SVG. */
#include <stdlib.h>
#include <string.h>

#include "pages.h"
#include "report.h"
#include "util.h"

#define STACK_GROUPS 8

static const char *const palette[STACK_GROUPS + 1] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                                      "#edc948", "#b07aa1", "#ff9da7", "#bab0ac"};

static void esc(FILE *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '&': fputs("&amp;", o); break;
        case '"': fputs("&quot;", o); break;
        default: fputc(*s, o);
        }
    }
}

/* A group's name, with line-break opportunities after each '<' of a C call chain and each '/'. */
static void esc_name(FILE *o, const char *s)
{
    for (; *s; s++) {
        char c[2] = {*s, 0};
        esc(o, c);
        if (*s == '<' || *s == '/')
            fputs("<wbr>", o);
    }
}

static const char page_head[] =
    "<!doctype html>\n"
    "<!-- written by `blockheap report -o`: self-contained, no network, no fonts, no script -->\n"
    "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>blockheap report</title>\n<style>\n";
/* after the shared stylesheet (tools/page/common.css): what only the report has */
static const char page_style[] =
    "  h2 { margin-top: 18px; }\n"
    "  h3 { font-size: 13px; margin: 12px 0 4px; }\n"
    "  main { padding: 0 16px 16px; max-width: 1200px; }\n"
    "  dl { margin: 8px 0; }\n"
    "  .verdict { background: var(--panel); border: 1px solid var(--line); padding: 6px 8px; }\n"
    "  .growing { border-color: var(--fail); color: var(--fail); }\n"
    "  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 8px 24px; }\n"
    "  th { text-align: left; color: var(--muted); font-weight: normal; border-bottom: 1px solid var(--line); }\n"
    "  td, th { padding: 1px 4px; white-space: nowrap; }\n"
    "  td.name { white-space: normal; }\n"
    "  td.bar { width: 22%; }\n"
    "  td.bar div { height: 10px; background: #8a97ad; }\n"
    "  .num { text-align: right; }\n"
    "  svg { display: block; width: 100%; height: auto; border: 1px solid var(--line); }\n"
    "  .legend { gap: 4px 12px; margin: 4px 0; }\n"
    "</style>\n</head>\n<body>\n";

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0; }

static void groups_table(FILE *o, const bh_report_snapshot *s, bh_report_by by, size_t top)
{
    fprintf(o,
            "<div><h3>by %s (%zu)</h3>\n<table><tr><th class=\"num\">blocks</th><th class=\"num\">share</th>"
            "<th></th><th class=\"num\">bytes</th><th class=\"num\">objects</th><th>%s</th></tr>\n",
            bh_report_by_title(by), s->ngroups[by], bh_report_by_title(by));
    uint64_t rb = 0, ry = 0, ro = 0;
    for (size_t i = 0; i < s->ngroups[by]; i++) {
        const bh_report_group *g = &s->groups[by][i];
        if (i >= top) {
            rb += g->blocks;
            ry += g->bytes;
            ro += g->objects;
            continue;
        }
        fprintf(
            o,
            "<tr><td class=\"num\">%llu</td><td class=\"num\">%.1f%%</td><td class=\"bar\"><div style=\"width:%.1f%%\">"
            "</div></td><td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"name\">",
            (unsigned long long)g->blocks, pct(g->blocks, s->blocks), pct(g->blocks, s->blocks),
            (unsigned long long)g->bytes, (unsigned long long)g->objects);
        esc_name(o, g->name);
        fputs("</td></tr>\n", o);
    }
    if (s->ngroups[by] > top)
        fprintf(
            o,
            "<tr><td class=\"num\">%llu</td><td class=\"num\">%.1f%%</td><td class=\"bar\"><div style=\"width:%.1f%%;"
            "background:#c5ccd8\"></div></td><td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"name\">"
            "(the other %zu)</td></tr>\n",
            (unsigned long long)rb, pct(rb, s->blocks), pct(rb, s->blocks), (unsigned long long)ry,
            (unsigned long long)ro, s->ngroups[by] - top);
    fputs("</table></div>\n", o);
}

static void snapshot_tables(FILE *o, const bh_report *r, const bh_report_snapshot *s, size_t top)
{
    bool shown[BH_BY_COUNT] = {r->has_pysites, r->has_pysites, r->has_sites, true};
    fputs("<div class=\"grid\">\n", o);
    for (int k = 0; k < BH_BY_COUNT; k++)
        if (shown[k])
            groups_table(o, s, (bh_report_by)k, top);
    fputs("</div>\n", o);
}

/* The timeline, stacked. */
static bool timeline_svg(FILE *o, const bh_report *r)
{
    if (!r->npoints)
        return true;
    bh_report_by by = r->has_pysites ? BH_BY_PYLINE : r->has_sites ? BH_BY_SITE : BH_BY_SIZE;
    size_t k = STACK_GROUPS;
    const char **names;
    uint64_t *v;
    if (!bh_report_stack(r, by, &k, &names, &v))
        return false;
    const double W = 1000, H = 280, L = 56, R = 10, T = 10, B = 28;
    double top = (double)(r->peak_blocks ? r->peak_blocks : 1) * 1.05;
    double n = (double)(r->trace->nevents ? r->trace->nevents : 1);
#define X(ev) (L + (W - L - R) * ((double)(ev) + 1) / n)
#define Y(b) (T + (H - T - B) * (1 - (double)(b) / top))
    fprintf(o, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"live blocks over the run\">\n", W, H);
    /* axes and grid */
    for (int g = 0; g <= 4; g++) {
        double b = top / 1.05 * g / 4;
        fprintf(o,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eef0f4\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#667085\">%.0f</text>\n",
                L, W - R, Y(b), Y(b), L - 4, Y(b) + 4, b);
    }
    /* the stack: one polygon per group, from the bottom up (the others on top) */
    for (size_t i = 0; i <= k; i++) {
        fprintf(o, "<polygon fill=\"%s\" fill-opacity=\"0.85\" points=\"", palette[i < k ? i : STACK_GROUPS]);
        for (size_t p = 0; p < r->npoints; p++) {
            uint64_t cum = 0;
            for (size_t j = 0; j <= i; j++)
                cum += v[p * (k + 1) + j];
            fprintf(o, "%.1f,%.1f ", X(r->timeline[p].last_event), Y(cum));
        }
        for (size_t p = r->npoints; p-- > 0;) {
            uint64_t cum = 0;
            for (size_t j = 0; j < i; j++)
                cum += v[p * (k + 1) + j];
            fprintf(o, "%.1f,%.1f ", X(r->timeline[p].last_event), Y(cum));
        }
        fputs("\"><title>", o);
        esc(o, i < k ? names[i] : "all others");
        fputs("</title></polygon>\n", o);
    }
    /* the highest live blocks in each slice */
    fputs("<polyline fill=\"none\" stroke=\"#1d2330\" stroke-width=\"1\" points=\"", o);
    for (size_t p = 0; p < r->npoints; p++)
        fprintf(o, "%.1f,%.1f ", X(r->timeline[p].last_event), Y(r->timeline[p].live_max));
    fputs("\"><title>highest live blocks in each slice</title></polyline>\n", o);
    /* phase boundaries and the peak */
    for (int p = 1; p < BH_PHASE_COUNT; p++)
        if (r->phases[p].present && r->phases[p].first_event > 0) {
            double x = X(r->phases[p].first_event - 1);
            fprintf(
                o,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#667085\" stroke-dasharray=\"4 3\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#667085\">%s</text>\n",
                x, x, T, H - B, x + 3, T + 11 + 13.0 * (p - 1), r->phases[p].name);
        }
    fprintf(o,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#c62828\"><title>peak: %llu blocks at event %zu</title>"
            "</circle>\n",
            X(r->peak_event), Y(r->peak_blocks), (unsigned long long)r->peak_blocks, r->peak_event + 1);
    fprintf(o,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#667085\">event 1</text>"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#667085\">event %zu</text>\n",
            L, H - 8, W - R, H - 8, r->trace->nevents);
    fputs("</svg>\n<div class=\"legend\">", o);
    for (size_t i = 0; i <= k; i++) {
        fprintf(o, "<span><span class=\"swatch\" style=\"background:%s\"></span>", palette[i < k ? i : STACK_GROUPS]);
        esc(o, i < k ? names[i] : "all others");
        fputs("</span>", o);
    }
    fputs("<span>&mdash; highest in each slice; <span style=\"color:#c62828\">&#9679;</span> the peak</span></div>\n",
          o);
#undef X
#undef Y
    free(names);
    free(v);
    return true;
}

bool bh_report_write_html(const bh_report *r, FILE *o, size_t top)
{
    const bh_trace *t = r->trace;
    char b1[32];
    fputs(page_head, o);
    fwrite(bh_page_common_css, 1, bh_page_common_css_len, o);
    fputs(page_style, o);
    fputs("<header><h1>Where the heap goes: ", o);
    esc(o, t->name);
    fprintf(o, "</h1><p id=\"subtitle\">%zu events, %llu allocations, block %zu bytes; %s</p></header>\n<main>\n",
            t->nevents, (unsigned long long)r->allocations, r->block_bytes,
            r->has_sites && r->has_pysites ? "with C sites and Python lines"
            : r->has_sites                 ? "with C sites, no Python lines"
            : r->has_pysites               ? "with Python lines, no C sites"
                                           : "no site fields");
    const bh_report_trend *tr = &r->trend;
    fprintf(o,
            "<dl><dt>peak live</dt><dd>%llu blocks (%s), %llu bytes requested, %llu objects, first at event %zu "
            "(line %lu), in the %s</dd>\n",
            (unsigned long long)r->peak_blocks, bh_fmt_bytes(b1, sizeof b1, r->peak_blocks * r->block_bytes),
            (unsigned long long)r->at_peak.bytes, (unsigned long long)r->at_peak.objects, r->peak_event + 1,
            t->nevents ? bh_trace_line(t, r->peak_event) : 0UL, r->phases[bh_report_phase_of(r, r->peak_event)].name);
    for (int p = 0; p < BH_PHASE_COUNT; p++) {
        const bh_report_phase *ph = &r->phases[p];
        fprintf(o, "<dt>%s</dt><dd>", ph->name);
        if (ph->present)
            fprintf(o, "events %zu&ndash;%zu, %llu allocations, peak %llu blocks at event %zu", ph->first_event + 1,
                    ph->last_event + 1, (unsigned long long)ph->allocations, (unsigned long long)ph->peak_blocks,
                    ph->peak_event + 1);
        else
            fputs("(none)", o);
        fputs("</dd>\n", o);
    }
    fputs("</dl>\n", o);
    fprintf(o, "<p class=\"verdict%s\">", tr->growing ? " growing" : "");
    esc(o, tr->verdict);
    fputs("</p>\n<h2>Live blocks over the run</h2>\n", o);
    if (!timeline_svg(o, r))
        return false;

    fprintf(o, "<h2>At the peak of live data (after event %zu): %llu blocks, %llu objects</h2>\n", r->peak_event + 1,
            (unsigned long long)r->at_peak.blocks, (unsigned long long)r->at_peak.objects);
    snapshot_tables(o, r, &r->at_peak, top);

    fputs("<h2>Steady state or leak: the main loop</h2>\n", o);
    if (tr->judged) {
        fputs("<table style=\"width:auto\"><tr><th>window</th>", o);
        for (size_t w = 0; w < tr->nwindows; w++)
            fprintf(o, "<th class=\"num\">%zu</th>", w + 1);
        fputs("</tr><tr><td>floor (blocks)</td>", o);
        for (size_t w = 0; w < tr->nwindows; w++)
            fprintf(o, "<td class=\"num\">%llu</td>", (unsigned long long)tr->floor[w]);
        fprintf(o,
                "</tr></table>\n<p>trend %+.2f blocks per 1000 allocations over the whole loop, %+.2f over its "
                "second half</p>\n",
                tr->slope_all, tr->slope_late);
        if (tr->growing && r->has_pysites && tr->ngrowth[BH_BY_PYLINE]) {
            fputs("<table style=\"width:auto\"><tr><th class=\"num\">grew (blocks)</th><th>Python line</th></tr>\n", o);
            for (size_t i = 0; i < tr->ngrowth[BH_BY_PYLINE] && i < top; i++)
                if (tr->growth[BH_BY_PYLINE][i].delta_blocks > 0) {
                    fprintf(o, "<tr><td class=\"num\">%+lld</td><td class=\"name\">",
                            (long long)tr->growth[BH_BY_PYLINE][i].delta_blocks);
                    esc_name(o, tr->growth[BH_BY_PYLINE][i].name);
                    fputs("</td></tr>\n", o);
                }
            fputs("</table>\n", o);
        }
    }
    fprintf(o, "<p class=\"verdict%s\">", tr->growing ? " growing" : "");
    esc(o, tr->verdict);
    fputs("</p>\n", o);

    for (int w = 0; w < 2; w++) {
        if (w == 0 ? !r->has_sites : !r->has_pysites)
            continue;
        fprintf(o,
                "<h2>Lifetimes by %s, in allocation events</h2>\n<table><tr><th class=\"num\">allocations</th>"
                "<th class=\"num\">died</th><th class=\"num\">live at end</th><th class=\"num\">p50</th>"
                "<th class=\"num\">p90</th><th class=\"num\">max</th><th>%s</th></tr>\n",
                w == 0 ? "C site" : "Python line", w == 0 ? "C site" : "Python line");
        for (size_t i = 0; i < r->nlife[w] && i < top; i++) {
            const bh_report_lifetime *L = &r->life[w][i];
            fprintf(o, "<tr><td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td>",
                    (unsigned long long)L->allocations, (unsigned long long)L->died,
                    (unsigned long long)L->live_at_end);
            if (L->died)
                fprintf(o, "<td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td>",
                        (unsigned long long)L->p50, (unsigned long long)L->p90, (unsigned long long)L->max);
            else
                fputs("<td class=\"num\">-</td><td class=\"num\">-</td><td class=\"num\">-</td>", o);
            fputs("<td class=\"name\">", o);
            esc_name(o, L->name);
            fputs("</td></tr>\n", o);
        }
        fputs("</table>\n", o);
    }
    fputs("</main>\n</body>\n</html>\n", o);
    return !ferror(o);
}
