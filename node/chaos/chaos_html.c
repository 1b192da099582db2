/*
 * The chaos report's HTML page (chaos.h): one file, inline SVG and CSS, nothing fetched.
 * Verdicts first; then the timeline, like Jepsen's performance plots: the nemeses' intervals
 * shaded over the workload's latency (log scale) with its errors on a strip above, a lane for
 * the council's leader and a lane per node with its incidents; then the healing table beside
 * Kubernetes' and systemd's defaults for the same faults. A script-free self-check counts
 * what was drawn into #chaos-selfcheck, so a test can compare it with the JSON.
 */
#include "chaos.h"

#include "pl_text.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 1100
#define LEFT 90
#define PW 980
#define LAT_TOP 40
#define LAT_H 220
#define LANE_H 26
#define OPS_DRAWN_MAX 30000

static const char *str(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s != NULL ? s : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *kind_color(const char *type)
{
    static const struct {
        const char *type, *color;
    } c[] = {{"kill", "#d62728"},  {"pause", "#9467bd"}, {"partition", "#ff7f0e"},
             {"loss", "#8c564b"},  {"delay", "#e377c2"}, {"service", "#17becf"}, {"clock", "#bcbd22"}, {"dependency", "#393b79"},
             {"duplicate", "#7b4173"}, {"disk_full", "#637939"},
             {"disk_stall", "#8c6d31"}};
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        if (strcmp(c[i].type, type) == 0)
            return c[i].color;
    return "#7f7f7f";
}

static const char *node_color(const char *node)
{
    static const char *const c[] = {"#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    int i = node[0] == 'n' && node[1] >= '1' && node[1] <= '9' ? node[1] - '1' : 6;
    return c[i];
}

static double xs(double t_ms, double span_ms) { return LEFT + PW * t_ms / span_ms; }

/* Latency in ms on a log scale from 1 ms to 5 s. */
static double ys(double ms)
{
    double v = ms < 1 ? 1 : ms > 5000 ? 5000 : ms;
    return LAT_TOP + LAT_H - LAT_H * log10(v) / log10(5000);
}

static void checks_html(const cJSON *report, FILE *out)
{
    fputs("<table class=\"checks\"><tr><th>check</th><th>verdict</th><th>evidence</th></tr>\n",
          out);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(report, "checks"))
    {
        bool holds = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "holds"));
        fprintf(out, "<tr class=\"%s\"><td>", holds ? "ok" : "bad");
        pl_html_escape(out, str(c, "name"));
        fprintf(out, "</td><td>%s</td><td>", holds ? "holds" : "FAILS");
        pl_html_escape(out, str(c, "evidence"));
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

/* Names in a JSON array of strings, joined by ", " ("none" when empty). */
static void names_html(const cJSON *arr, FILE *out)
{
    const cJSON *x;
    int k = 0;
    cJSON_ArrayForEach(x, arr)
    {
        fputs(k++ ? ", " : "", out);
        pl_html_escape(out, cJSON_IsString(x) ? x->valuestring : "?");
    }
    if (k == 0)
        fputs("none", out);
}

/* safety.placement's evidence: every overlap, and where the placed service ran when. */
static void placement_html(const cJSON *report, FILE *out)
{
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(report, "placement");
    if (pl == NULL)
        return;
    fputs("<h2>Placement</h2>\n<p>", out);
    pl_html_escape(out, str(pl, "service"));
    fprintf(out, " (replicas 1, lease %.1f s, margin %.1f s): %.0f samples. Two copies at "
                 "once:</p>\n<table class=\"placement\"><tr><th>from s</th><th>last seen s</th>"
                 "<th>at least s</th><th>nodes</th></tr>\n",
            num(pl, "lease_ms") / 1000, num(pl, "margin_ms") / 1000, num(pl, "samples"));
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(pl, "overlaps"))
    {
        bool past = num(x, "at_least_ms") > num(pl, "lease_ms") + num(pl, "margin_ms");
        fprintf(out, "<tr class=\"%s\"><td>%.1f</td><td>%.1f%s</td><td>%.1f</td><td>",
                past ? "bad" : "ok", num(x, "start_ms") / 1000, num(x, "last_ms") / 1000,
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "open_at_end")) ? " (at the end)"
                                                                                  : "",
                num(x, "at_least_ms") / 1000);
        names_html(cJSON_GetObjectItemCaseSensitive(x, "nodes"), out);
        fputs("</td></tr>\n", out);
    }
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pl, "overlaps")) == 0)
        fputs("<tr class=\"ok\"><td colspan=\"4\">never</td></tr>\n", out);
    fputs("</table>\n<table class=\"placement\"><tr><th>from s</th><th>running on</th>"
          "<th>its agent says so</th><th>answers /health</th></tr>\n", out);
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(report, "placement_copies"))
    {
        fprintf(out, "<tr><td>%.1f</td><td>", num(x, "t_ms") / 1000);
        names_html(cJSON_GetObjectItemCaseSensitive(x, "nodes"), out);
        fputs("</td><td>", out);
        names_html(cJSON_GetObjectItemCaseSensitive(x, "agent_says"), out);
        fputs("</td><td>", out);
        names_html(cJSON_GetObjectItemCaseSensitive(x, "answers"), out);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void timeline_svg(const cJSON *report, FILE *out, int counts[4])
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(report, "scenario");
    const cJSON *nem = cJSON_GetObjectItemCaseSensitive(report, "nemeses");
    const cJSON *wl = cJSON_GetObjectItemCaseSensitive(report, "workload");
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(wl, "ops");
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(report, "incidents");
    const cJSON *leaders = cJSON_GetObjectItemCaseSensitive(report, "leaders");
    int nodes = (int)num(sc, "nodes");
    if (nodes < 1 || nodes > 9)
        nodes = 1;
    double span = num(sc, "duration_ms");
    const cJSON *x;
    cJSON_ArrayForEach(x, nem) span = fmax(span, num(x, "end_ms"));
    cJSON_ArrayForEach(x, ops) span = fmax(span, cJSON_GetArrayItem(x, 0)->valuedouble);
    if (!(span > 0))
        span = 1000;
    span *= 1.02;
    double leader_y = LAT_TOP + LAT_H + 20, lanes_y = leader_y + LANE_H + 6;
    double height = lanes_y + nodes * LANE_H + 40;
    fprintf(out, "<svg id=\"chaos-timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                 "height=\"%.0f\" viewBox=\"0 0 %d %.0f\">\n", W, height, W, height);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n", W,
            height);
    /* Nemesis intervals, shaded over every panel. */
    double label_end[2] = {0, 0};
    cJSON_ArrayForEach(x, nem)
    {
        double a = xs(num(x, "start_ms"), span), b = xs(num(x, "end_ms"), span);
        fprintf(out, "<rect class=\"nemesis\" x=\"%.1f\" y=\"19\" width=\"%.1f\" height=\"%.0f\" "
                     "fill=\"%s\" fill-opacity=\"0.18\"><title>",
                a, fmax(b - a, 1), height - 48, kind_color(str(x, "type")));
        pl_html_escape(out, str(x, "label"));
        fputs(" on", out);
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(x, "targets"))
        {
            fputc(' ', out);
            pl_html_escape(out, t->valuestring != NULL ? t->valuestring : "");
        }
        fputs("</title></rect>\n", out);
        /* Labels on two rows; one that would overlap both rows' last is left to the title. */
        double width = 5.5 * (double)strlen(str(x, "label"));
        int row = a > label_end[0] ? 0 : a > label_end[1] ? 1 : -1;
        if (row >= 0) {
            fprintf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"%s\">", a + 1,
                    row ? 16 : 8, kind_color(str(x, "type")));
            pl_html_escape(out, str(x, "label"));
            fputs("</text>\n", out);
            label_end[row] = a + width + 4;
        }
        counts[0]++;
    }
    /* Axes. */
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", LEFT,
            LAT_TOP, LEFT, LAT_TOP + LAT_H);
    static const double ticks[] = {1, 10, 100, 1000, 5000};
    for (size_t i = 0; i < sizeof(ticks) / sizeof(ticks[0]); i++)
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%g ms</text>"
                     "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                LEFT - 4, ys(ticks[i]) + 3, ticks[i], LEFT, ys(ticks[i]), LEFT + PW, ys(ticks[i]));
    double step = span > 600000 ? 60000 : span > 120000 ? 30000 : span > 30000 ? 10000 : 5000;
    for (double t = 0; t < span; t += step)
        fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\">%.0f s"
                     "</text>\n", xs(t, span), height - 8, t / 1000);
    fprintf(out, "<text x=\"4\" y=\"%d\" font-size=\"11\">errors</text>\n", LAT_TOP - 8);
    fprintf(out, "<text x=\"4\" y=\"%d\" font-size=\"11\">latency</text>\n", LAT_TOP + 40);
    /* The workload: latency of answered operations, errors on the strip above. */
    int n = cJSON_GetArraySize(ops), stride = n > OPS_DRAWN_MAX ? n / OPS_DRAWN_MAX + 1 : 1, k = 0;
    cJSON_ArrayForEach(x, ops)
    {
        if (k++ % stride != 0)
            continue;
        double t = cJSON_GetArrayItem(x, 0)->valuedouble;
        int kind = cJSON_GetArrayItem(x, 1)->valueint;
        double lat = cJSON_GetArrayItem(x, 3)->valuedouble;
        int st = cJSON_GetArrayItem(x, 4)->valueint;
        if (st == 200) {
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" fill=\"%s\"/>\n",
                    xs(t, span), ys(lat), kind == 0 ? "#1f77b4" : "#2ca02c");
            counts[1]++;
        } else {
            fprintf(out, "<rect x=\"%.1f\" y=\"%d\" width=\"1.5\" height=\"10\" fill=\"%s\"/>\n",
                    xs(t, span), LAT_TOP - 18 + (kind ? 5 : 0), kind == 0 ? "#d62728" : "#ff9896");
            counts[2]++;
        }
    }
    /* The leader lane. */
    fprintf(out, "<text x=\"4\" y=\"%.0f\" font-size=\"11\">leader</text>\n", leader_y + 16);
    int nl = cJSON_GetArraySize(leaders);
    for (int i = 0; i < nl; i++) {
        const cJSON *l = cJSON_GetArrayItem(leaders, i);
        double a = num(l, "t_ms"), b = i + 1 < nl ? num(cJSON_GetArrayItem(leaders, i + 1), "t_ms")
                                                  : span / 1.02;
        fprintf(out, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                     "<title>%s, term %.0f</title></rect>\n",
                xs(a, span), leader_y, fmax(xs(b, span) - xs(a, span), 1), LANE_H - 6,
                node_color(str(l, "node")), str(l, "node"), num(l, "term"));
        fprintf(out, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" fill=\"#fff\">%s</text>\n",
                xs(a, span) + 2, leader_y + 14, str(l, "node"));
    }
    /* A lane per node with its incidents. */
    for (int i = 0; i < nodes; i++) {
        char name[8];
        snprintf(name, sizeof(name), "n%d", i + 1);
        double y = lanes_y + i * LANE_H;
        fprintf(out, "<text x=\"4\" y=\"%.0f\" font-size=\"11\">%s</text>"
                     "<line x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\" stroke=\"#ddd\"/>\n",
                y + 15, name, LEFT, y + LANE_H - 2, LEFT + PW, y + LANE_H - 2);
        cJSON_ArrayForEach(x, inc)
        {
            if (strcmp(str(x, "node"), name) != 0)
                continue;
            double a = num(x, "opened_ms"), b = num(x, "closed_ms");
            if (!isfinite(b))
                b = span / 1.02;
            bool healed = strcmp(str(x, "outcome"), "healed") == 0;
            fprintf(out, "<rect class=\"incident\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" "
                         "height=\"%d\" fill=\"%s\"><title>",
                    xs(a, span), y + 3, fmax(xs(b, span) - xs(a, span), 2), LANE_H - 9,
                    healed ? "#2ca02c" : "#ff7f0e");
            pl_html_escape(out, str(x, "service"));
            fputs(": ", out);
            pl_html_escape(out, str(x, "signal"));
            fputs(", ", out);
            pl_html_escape(out, str(x, "outcome"));
            fputs("</title></rect>\n", out);
            counts[3]++;
        }
    }
    fputs("</svg>\n", out);
}

/* A number cell with its unit, `missing` when the record has no such number. */
static void num_cell(FILE *out, const cJSON *o, const char *key, const char *unit,
                     const char *missing)
{
    double v = num(o, key);
    if (isfinite(v))
        fprintf(out, "<td>%.0f%s</td>", v, unit);
    else
        fprintf(out, "<td>%s</td>", missing);
}

/* The disk nemeses: what each target did while its disk was full or frozen. */
static void disk_html(const cJSON *report, FILE *out)
{
    bool any = false;
    const cJSON *x, *e;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(report, "nemeses"))
    {
        const cJSON *disk = cJSON_GetObjectItemCaseSensitive(x, "disk");
        cJSON_ArrayForEach(e, disk)
        {
            if (!any)
                fputs("<h2>Disk faults</h2>\n<p>Per target, the proposals the workload sent "
                      "it during the fault and how they were answered, its log lines saying "
                      "\"no space\", the appends it dropped below its free-space reserve, and "
                      "(a stall) whether its API answered.</p>\n<table id=\"chaos-disk\"><tr>"
                      "<th>nemesis</th><th>node</th><th>at</th><th>sent</th>"
                      "<th>acknowledged</th><th>refused: no space</th><th>unanswered</th>"
                      "<th>log: no space</th><th>appends dropped</th><th>API answered</th>"
                      "</tr>\n", out);
            any = true;
            fputs("<tr><td>", out);
            pl_html_escape(out, str(x, "label"));
            fputs("</td><td>", out);
            pl_html_escape(out, e->string != NULL ? e->string : "");
            fprintf(out, "</td><td>%.1f s</td>", num(x, "start_ms") / 1000);
            num_cell(out, e, "proposals_sent", "", "-");
            num_cell(out, e, "proposals_acknowledged", "", "-");
            num_cell(out, e, "proposals_refused_no_space", "", "-");
            num_cell(out, e, "proposals_unanswered", "", "-");
            num_cell(out, e, "log_lines_no_space", "", "-");
            num_cell(out, e, "dropped_below_reserve", "", "-");
            const cJSON *api = cJSON_GetObjectItemCaseSensitive(e, "api_answered_while_frozen");
            fprintf(out, "<td>%s</td></tr>\n",
                    api == NULL ? "-" : cJSON_IsTrue(api) ? "yes" : "no");
        }
    }
    if (any)
        fputs("</table>\n", out);
}

static void healing_html(const cJSON *report, FILE *out)
{
    fputs("<h2>Healing, per injected fault</h2>\n<p>Detection: from the fault to the incident "
          "its node opened (service faults) or to the first poll that showed another node "
          "seeing it (node and network faults). Healthy: from the fault to the service's "
          "healthy check, or to the first poll after its end with the cluster whole.</p>\n"
          "<table><tr><th>fault</th><th>node</th><th>at</th><th>detected</th><th>healthy</th>"
          "<th>success</th><th>actions</th></tr>\n", out);
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(report, "healing"))
    {
        bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "success"));
        bool cut = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "superseded"));
        fprintf(out, "<tr class=\"%s\"><td>", ok ? "ok" : cut ? "cut" : "bad");
        pl_html_escape(out, str(h, "fault"));
        fputs("</td><td>", out);
        pl_html_escape(out, str(h, "node"));
        fprintf(out, "</td><td>%.1f s</td>", num(h, "fault_ms") / 1000);
        num_cell(out, h, "detect_ms", " ms", "not seen");
        num_cell(out, h, "healthy_ms", " ms", "not seen");
        fprintf(out, "<td>%s</td><td>", ok ? "yes" : cut ? "cut short by the next fault" : "no");
        pl_html_escape(out, str(h, "actions"));
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n<h2>The same faults under Kubernetes' and systemd's defaults</h2>\n"
          "<table><tr><th>fault</th><th>Kubernetes</th><th>systemd</th></tr>\n", out);
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(report, "reference"))
    {
        fputs("<tr><td>", out);
        pl_html_escape(out, str(h, "fault"));
        fputs("</td><td>", out);
        pl_html_escape(out, str(h, "kubernetes"));
        fputs("</td><td>", out);
        pl_html_escape(out, str(h, "systemd"));
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One run's figures for one kind of fault: count, successes, medians. */
static void fault_summary(const cJSON *healing, const char *fault, FILE *out)
{
    double det[512], hea[512];
    int n = 0, ok = 0, nd = 0, nh = 0, acts = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, healing)
    {
        if (strcmp(str(h, "fault"), fault) != 0)
            continue;
        n++;
        ok += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "success"));
        /* The actions taken: the list's items but a held restart. */
        const char *a = str(h, "actions");
        for (const char *p = a; *p != '\0';) {
            const char *comma = strstr(p, ", ");
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            acts += strncmp(p, "held", 4) != 0 && len > 0;
            p = comma != NULL ? comma + 2 : p + len;
        }
        if (isfinite(num(h, "detect_ms")) && nd < 512)
            det[nd++] = num(h, "detect_ms");
        if (isfinite(num(h, "healthy_ms")) && nh < 512)
            hea[nh++] = num(h, "healthy_ms");
    }
    qsort(det, (size_t)nd, sizeof(double), cmp_double);
    qsort(hea, (size_t)nh, sizeof(double), cmp_double);
    fprintf(out, "<td>%d of %d</td><td>%d</td>", ok, n, acts);
    if (nd > 0)
        fprintf(out, "<td>%.0f ms</td>", det[(nd - 1) / 2]);
    else
        fputs("<td>-</td>", out);
    if (nh > 0)
        fprintf(out, "<td>%.0f ms</td>", hea[(nh - 1) / 2]);
    else
        fputs("<td>-</td>", out);
}

/* --compare: each kind of fault under Platelet's policy and under restart-only. */
static void compare_html(const cJSON *report, FILE *out)
{
    const cJSON *cmp = cJSON_GetObjectItemCaseSensitive(report, "compare");
    if (!cJSON_IsObject(cmp))
        return;
    const cJSON *mine = cJSON_GetObjectItemCaseSensitive(report, "healing");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(cmp, "healing");
    fprintf(out, "<h2>Beside a restart-only policy (the same scenario and seed; its run: %s)"
                 "</h2>\n<table><tr><th>fault</th><th>Platelet: healed</th><th>actions</th>"
                 "<th>detected (median)</th><th>healthy (median)</th><th>restart-only: healed"
                 "</th><th>actions</th><th>detected (median)</th><th>healthy (median)</th>"
                 "</tr>\n",
            strcmp(str(cmp, "verdict"), "pass") == 0 ? "every check holds" : "a check fails");
    const char *seen[64];
    int nseen = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, mine)
    {
        const char *f = str(h, "fault");
        bool dup = false;
        for (int i = 0; i < nseen; i++)
            dup |= strcmp(seen[i], f) == 0;
        if (dup || nseen >= 64)
            continue;
        seen[nseen++] = f;
        fputs("<tr><td>", out);
        pl_html_escape(out, f);
        fputs("</td>", out);
        fault_summary(mine, f, out);
        fault_summary(base, f, out);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

int chaos_html_write(const cJSON *report, FILE *out)
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(report, "scenario");
    bool pass = strcmp(str(report, "verdict"), "pass") == 0;
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>chaos: ", out);
    pl_html_escape(out, str(sc, "name"));
    fputs("</title>\n<style>body{font-family:sans-serif;margin:20px;color:#222}"
          "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;"
          "padding:3px 8px;font-size:13px;text-align:left}tr.ok td:nth-child(2){color:#2ca02c}"
          "tr.bad{background:#fde0e0}.verdict{font-size:22px;padding:8px 14px;display:inline-block;"
          "color:#fff}.pass{background:#2ca02c}.fail{background:#d62728}</style></head><body>\n",
          out);
    fputs("<h1>Chaos run: ", out);
    pl_html_escape(out, str(sc, "name"));
    fprintf(out, "</h1>\n<div class=\"verdict %s\" id=\"chaos-verdict\">%s</div>\n",
            pass ? "pass" : "fail", pass ? "every check holds" : "a check fails");
    fputs("<p>", out);
    pl_html_escape(out, str(sc, "description"));
    const char *cluster = str(report, "cluster");
    fprintf(out, "</p>\n<p>%.0f nodes%s%s%s, %.0f voters, %.0f s, %s schedule, seed %.0f; started ",
            num(sc, "nodes"), cluster[0] ? " (" : "", cluster, cluster[0] ? ")" : "",
            num(sc, "voters"), num(sc, "duration_ms") / 1000,
            str(sc, "schedule"), num(report, "seed"));
    pl_html_escape(out, str(report, "started"));
    fprintf(out, "; %.1f s wall, harness CPU %.1f %%.</p>\n", num(report, "wall_s"),
            100 * num(report, "harness_cpu_fraction"));
    if (str(report, "error")[0] != '\0') {
        fputs("<p><b>The run failed: ", out);
        pl_html_escape(out, str(report, "error"));
        fputs("</b></p>\n", out);
    }
    checks_html(report, out);
    fputs("<h2>Timeline</h2>\n<p>Shaded: the nemeses. Dots: answered proposals (blue) and "
          "/work requests (green) by latency; red ticks on the top strip: errors. Leader lane: "
          "the council's leader as polled. Node lanes: incidents (green healed, orange "
          "not).</p>\n", out);
    int counts[4] = {0, 0, 0, 0};
    timeline_svg(report, out, counts);
    healing_html(report, out);
    disk_html(report, out);
    placement_html(report, out);
    compare_html(report, out);
    fprintf(out, "<p id=\"chaos-selfcheck\">drawn: %d nemeses, %d answered operations, %d "
                 "errors, %d incidents</p>\n</body></html>\n",
            counts[0], counts[1], counts[2], counts[3]);
    return ferror(out) ? -5 : 0;
}
