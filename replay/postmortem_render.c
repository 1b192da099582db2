/*
 * The post-mortem rendered from its JSON form (postmortem.h): the text summary, and one
 * self-contained HTML page: inline CSS, an inline SVG
 * timeline (a lane per node, incident intervals shaded, one mark per listed entry), the
 * posterior as bars when one was recorded, the evidence table, and the JSON form embedded
 * whole so the page carries its own proofs. Nothing is fetched. A small inline script counts
 * the marks the browser actually drew and writes the counts into #pm-selfcheck, next to the
 * counts the JSON form promises, so a test (or a reader) sees at once if they differ.
 */
#include "postmortem.h"

#include "pl_err.h"
#include "pl_text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- text ---- */

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* One line of what an entry says, for the text and the HTML table. */
static void summary(const cJSON *j, char *out, size_t n)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "body");
    const char *mark = str(j, "mark");
    if (s != NULL) {
        snprintf(out, n, "%s %s seq %.0f: %s%s%s%s%s class %s, cause %s, signal %s, level %.0f%s%s%s%s",
                 str(s, "incident"), str(s, "service"), num(s, "seq"), str(s, "event"),
                 strcmp(str(s, "action"), "none") ? " " : "",
                 strcmp(str(s, "action"), "none") ? str(s, "action") : "",
                 strcmp(str(s, "event"), "result") == 0 ? (num(s, "result") == 0 ? " ok" : " failed") : "",
                 ";", str(s, "class"), str(s, "cause"), str(s, "signal"), num(s, "level"),
                 str(s, "outcome")[0] ? ", outcome " : "", str(s, "outcome"),
                 str(s, "detail")[0] ? " - " : "", str(s, "detail"));
    } else if (strcmp(mark, "rejected") == 0) {
        snprintf(out, n, "%s rejected: %s", str(j, "kind"), str(j, "reason"));
    } else {
        char *t = b ? cJSON_PrintUnformatted(b) : NULL;
        snprintf(out, n, "%s %s", str(j, "kind"), t ? t : "");
        free(t);
    }
}

static void text_entries(const cJSON *arr, FILE *out)
{
    const cJSON *j;
    cJSON_ArrayForEach(j, arr)
    {
        char line[640];
        summary(j, line, sizeof(line));
        fprintf(out, "  %-6.0f %s  %-10s %-13s %s\n", num(j, "index"), str(j, "time"),
                str(j, "node")[0] ? str(j, "node") : "-", str(j, "mark"), line);
    }
}

void postmortem_text(const cJSON *doc, FILE *out)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "diagnosis");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(doc, "window");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(doc, "head");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
    char *nl = cJSON_PrintUnformatted(nodes);
    fprintf(out, "post-mortem of incident %s (service %s, nodes %s): %s%s%s\n",
            str(doc, "incident"), str(doc, "service"), nl ? nl : "[]", str(doc, "state"),
            str(doc, "outcome")[0] ? ", " : "", str(doc, "outcome"));
    free(nl);
    fprintf(out, "diagnosis   signal %s, class %s, cause %s, level %.0f; confidence %s\n",
            str(d, "signal"), str(d, "class"), str(d, "cause"), num(d, "level"),
            str(d, "confidence_note"));
    fprintf(out, "window      %s .. %s (ledger time, %.0f s before the first step)\n",
            str(w, "from"), str(w, "to"), num(w, "before_ms") / 1000);
    fprintf(out, "head        size %.0f, root %s, signed by %s\n", num(h, "size"),
            str(h, "root"), str(h, "public_key"));
    fprintf(out, "\nchain (the incident's own steps):\n");
    text_entries(cJSON_GetObjectItemCaseSensitive(doc, "chain"), out);
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(doc, "decisions");
    if (cJSON_GetArraySize(dec) == 0) {
        fprintf(out, "decisions   none recorded\n");
    } else {
        char *t = cJSON_PrintUnformatted(dec);
        fprintf(out, "decisions   at ledger index %s (listed below)\n", t ? t : "");
        free(t);
    }
    const cJSON *post = cJSON_GetObjectItemCaseSensitive(doc, "posterior");
    if (cJSON_IsNull(post) || post == NULL) {
        fprintf(out, "posterior   none recorded\n");
    } else {
        char *t = cJSON_PrintUnformatted(post);
        fprintf(out, "posterior   %s\n", t ? t : "");
        free(t);
    }
    fprintf(out, "\ncontributing factors in the window:\n");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, "factors");
    if (cJSON_GetArraySize(f) == 0)
        fprintf(out, "  none recorded\n");
    text_entries(f, out);
    if (num(doc, "dropped") > 0)
        fprintf(out, "(%.0f more entries of the window not listed)\n", num(doc, "dropped"));
    fprintf(out, "\nevery entry has an inclusion proof against the head: --json holds them, "
                 "`platelet postmortem --verify FILE` checks them\n");
}

/* ---- HTML ---- */

#define W 1200
#define LEFT 150
#define PLOT (W - LEFT - 30)
#define TOP 34
#define LANE 46
#define LANES_MAX 64

/* The look of each mark: colour and shape (c circle, s square, t triangle, d diamond, x). */
static const struct {
    const char *kind, *colour;
    char shape;
} looks[] = {
    {"signal", "#d62728", 'c'},   {"diagnosis", "#9467bd", 'd'}, {"action", "#1f77b4", 't'},
    {"result", "#2ca02c", 'c'},   {"outcome", "#111111", 's'},   {"step", "#7f7f7f", 'c'},
    {"duplicate", "#c7c7c7", 'c'}, {"member", "#8c564b", 'd'},   {"incident", "#ff7f0e", 'c'},
    {"decision", "#17becf", 's'}, {"action_result", "#bcbd22", 't'},
    {"approval", "#e377c2", 's'}, {"placement", "#393b79", 's'}, {"config", "#637939", 'd'},
    {"rejected", "#ff0000", 'x'},
};

static void esc(FILE *out, const char *s) { pl_html_escape(out, s); }

struct lanes {
    const char *name[LANES_MAX];
    int n;
};

/* The lane of an entry: its node's, or the council's for entries that name no node. */
static int lane_of(struct lanes *l, const char *node)
{
    const char *name = node[0] ? node : "(council)";
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->name[i], name) == 0)
            return i;
    if (l->n == LANES_MAX)
        return LANES_MAX - 1; /* the last lane takes the rest */
    l->name[l->n] = name;
    return l->n++;
}

struct span {
    double from_ms, width_ms;
};

/* A time from the document, bounded to what RFC 3339 can show (the page is drawn from any
 * document, including one that does not verify). */
static double clamp_ms(double ms)
{
    return ms >= 0 && ms <= (double)LEDGER_TIME_MS_MAX ? ms : 0;
}

static double x_of(const struct span *s, double t)
{
    double f = (t - s->from_ms) / s->width_ms;
    if (f < 0)
        f = 0;
    if (f > 1)
        f = 1;
    return LEFT + f * PLOT;
}

static void mark_svg(FILE *out, const cJSON *j, double x, double y)
{
    const char *kind = str(j, "mark");
    size_t k = 0;
    while (k + 1 < sizeof(looks) / sizeof(looks[0]) && strcmp(looks[k].kind, kind) != 0)
        k++;
    const char *c = looks[k].colour;
    fprintf(out, "<g class=\"mark\" data-kind=\"");
    esc(out, kind);
    fprintf(out, "\" data-index=\"%.0f\"><title>#%.0f ", num(j, "index"), num(j, "index"));
    esc(out, kind);
    fputc(' ', out);
    esc(out, str(j, "time"));
    fputc(' ', out);
    esc(out, str(j, "kind"));
    fprintf(out, "</title>");
    switch (looks[k].shape) {
    case 'c': fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\"/>", x, y, c); break;
    case 's':
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"11\" height=\"11\" fill=\"%s\"/>",
                x - 5.5, y - 5.5, c);
        break;
    case 't':
        fprintf(out, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>", x,
                y - 7, x - 7, y + 6, x + 7, y + 6, c);
        break;
    case 'd':
        fprintf(out, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>",
                x, y - 7, x + 7, y, x, y + 7, x - 7, y, c);
        break;
    default:
        fprintf(out, "<path d=\"M%.1f %.1fl12 12m0 -12l-12 12\" stroke=\"%s\" "
                     "stroke-width=\"3\"/>", x - 6, y - 6, c);
    }
    fprintf(out, "</g>\n");
}

/* Shades each incident seen in the listing, on its node's lane, first step to last. */
static void intervals_svg(FILE *out, const cJSON *doc, struct lanes *l, const struct span *s)
{
    static const char *const lists[] = {"chain", "factors"};
    struct {
        const char *node, *id;
        double from, to;
        bool closed;
    } iv[128];
    int n = 0;
    for (int li = 0; li < 2; li++) {
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(doc, lists[li]))
        {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step");
            if (st == NULL)
                continue;
            int k = 0;
            while (k < n && !(strcmp(iv[k].node, str(j, "node")) == 0 &&
                              strcmp(iv[k].id, str(st, "incident")) == 0))
                k++;
            double t = num(j, "time_ms");
            if (k == n) {
                if (n == (int)(sizeof(iv) / sizeof(iv[0])))
                    continue;
                iv[n].node = str(j, "node");
                iv[n].id = str(st, "incident");
                iv[n].from = iv[n].to = t;
                iv[n].closed = false;
                n++;
            }
            if (t < iv[k].from)
                iv[k].from = t;
            if (t > iv[k].to)
                iv[k].to = t;
            if (str(st, "outcome")[0] || strcmp(str(st, "event"), "closed") == 0)
                iv[k].closed = true;
        }
    }
    for (int k = 0; k < n; k++) {
        int lane = lane_of(l, iv[k].node);
        double x0 = x_of(s, iv[k].from);
        double x1 = iv[k].closed ? x_of(s, iv[k].to) : LEFT + PLOT;
        bool target = strcmp(iv[k].id, str(doc, "incident")) == 0;
        fprintf(out, "<rect class=\"interval%s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                     "height=\"%d\"><title>incident ", target ? " target" : "", x0 - 4,
                TOP + lane * LANE + 4, x1 - x0 + 8, LANE - 8);
        esc(out, iv[k].id);
        fprintf(out, "%s</title></rect>\n", iv[k].closed ? "" : " (open)");
    }
}

static void timeline_svg(FILE *out, const cJSON *doc)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(doc, "window");
    struct span s = {clamp_ms(num(w, "from_ms")), clamp_ms(num(w, "to_ms"))};
    s.width_ms = s.width_ms > s.from_ms + 1000 ? s.width_ms - s.from_ms : 1000;
    struct lanes l = {.n = 0};
    static const char *const lists[] = {"chain", "factors"};
    const cJSON *j;
    for (int li = 0; li < 2; li++)
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(doc, lists[li]))
            lane_of(&l, str(j, "node"));
    int height = TOP + (l.n ? l.n : 1) * LANE + 10;
    fprintf(out, "<svg id=\"pm-timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                 "height=\"%d\" viewBox=\"0 0 %d %d\">\n", W, height, W, height);
    for (int i = 0; i < l.n; i++) {
        fprintf(out, "<rect class=\"lane\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
                     "<text class=\"lname\" x=\"8\" y=\"%d\">", LEFT, TOP + i * LANE, PLOT,
                LANE, TOP + i * LANE + LANE / 2 + 5);
        esc(out, l.name[i]);
        fprintf(out, "</text>\n");
    }
    for (int t = 0; t <= 4; t++) {
        double x = LEFT + PLOT * t / 4.0;
        double ms = s.from_ms + s.width_ms * t / 4.0;
        char when[25];
        pl_time_format_rfc3339((uint64_t)clamp_ms(ms), when);
        fprintf(out, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                     "<text class=\"tlabel\" x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%.12s</text>\n",
                x, TOP - 4, x, height - 10, x, TOP - 10,
                t == 0 ? "start" : t == 4 ? "end" : "middle", when + 11);
    }
    intervals_svg(out, doc, &l, &s);
    for (int li = 0; li < 2; li++) {
        int i = 0;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(doc, lists[li]))
        {
            int lane = lane_of(&l, str(j, "node"));
            /* Entries close in time are staggered up and down so each stays visible. */
            double y = TOP + lane * LANE + LANE / 2.0 + ((i++ % 3) - 1) * 11;
            mark_svg(out, j, x_of(&s, num(j, "time_ms")), y);
        }
    }
    fprintf(out, "</svg>\n<p class=\"legend\">");
    for (size_t k = 0; k < sizeof(looks) / sizeof(looks[0]); k++)
        fprintf(out, "<span style=\"color:%s\">&#9632;</span> %s &nbsp; ", looks[k].colour,
                looks[k].kind);
    fprintf(out, "<span class=\"swatch\"></span> incident interval</p>\n");
}

static void posterior_html(FILE *out, const cJSON *doc)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "posterior");
    fprintf(out, "<section><h2>Strategy posterior</h2>\n");
    if (p == NULL || cJSON_IsNull(p)) {
        fprintf(out, "<p>None recorded: no decision in the ledger carries a posterior.</p>"
                     "</section>\n");
        return;
    }
    /* An object of strategy -> probability is drawn as bars; anything else is shown as is. */
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, p) if (cJSON_IsNumber(it)) n++;
    if (!cJSON_IsObject(p) || n == 0) {
        char *t = cJSON_PrintUnformatted(p);
        fprintf(out, "<pre>");
        esc(out, t ? t : "");
        fprintf(out, "</pre></section>\n");
        free(t);
        return;
    }
    fprintf(out, "<svg id=\"pm-posterior\" xmlns=\"http://www.w3.org/2000/svg\" width=\"520\" "
                 "height=\"%d\">\n", n * 26 + 10);
    int i = 0;
    cJSON_ArrayForEach(it, p)
    {
        if (!cJSON_IsNumber(it))
            continue;
        double v = it->valuedouble < 0 ? 0 : it->valuedouble > 1 ? 1 : it->valuedouble;
        fprintf(out, "<text x=\"0\" y=\"%d\">", i * 26 + 20);
        esc(out, it->string);
        fprintf(out, "</text><rect class=\"bar\" x=\"160\" y=\"%d\" width=\"%.1f\" height=\"18\"/>"
                     "<text x=\"%.1f\" y=\"%d\">%.3f</text>\n", i * 26 + 6, v * 300,
                166 + v * 300, i * 26 + 20, it->valuedouble);
        i++;
    }
    fprintf(out, "</svg></section>\n");
}

static void table_rows(FILE *out, const cJSON *arr, const char *group)
{
    const cJSON *j;
    cJSON_ArrayForEach(j, arr)
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step");
        fprintf(out, "<tr class=\"%s\"><td>%.0f</td><td>", group, num(j, "index"));
        esc(out, str(j, "time"));
        fprintf(out, "</td><td>");
        esc(out, str(j, "node"));
        fprintf(out, "</td><td>");
        esc(out, str(j, "mark"));
        fprintf(out, "</td><td>");
        if (st != NULL) {
            fprintf(out, "seq %.0f: ", num(st, "seq"));
            esc(out, str(st, "event"));
            fprintf(out, " / ");
            esc(out, str(st, "action"));
            fprintf(out, " / result %.0f / %s, %s, %s / level %.0f ", num(st, "result"),
                    str(st, "class"), str(st, "cause"), str(st, "signal"), num(st, "level"));
            esc(out, str(st, "outcome"));
            fprintf(out, " ");
            esc(out, str(st, "detail"));
        } else {
            char *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "body"));
            esc(out, str(j, "kind"));
            fputc(' ', out);
            esc(out, t ? t : "");
            free(t);
            if (str(j, "reason")[0]) {
                fprintf(out, " (rejected: ");
                esc(out, str(j, "reason"));
                fputc(')', out);
            }
        }
        fprintf(out, "</td><td class=\"h\">%.16s&hellip;</td></tr>\n", str(j, "leaf_hash"));
    }
}

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}"
    "h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:22px 0 8px}"
    ".lane{fill:#f4f6f8;stroke:#dde2e6}.lname{font-size:13px;fill:#333}"
    ".tick{stroke:#ccc;stroke-dasharray:3 3}.tlabel{font-size:11px;fill:#666}"
    ".interval{fill:#ffbb78;opacity:.45}.interval.target{fill:#ff6b6b;opacity:.35}"
    ".bar{fill:#17becf}.swatch{display:inline-block;width:14px;height:10px;background:#ff6b6b;"
    "opacity:.5}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e5e5e5;"
    "padding:3px 6px;text-align:left;vertical-align:top;font-size:12px}tr.chain{background:#fff4f4}"
    ".h{font-family:monospace}.mono{font-family:monospace;word-break:break-all}"
    "#pm-selfcheck{font-family:monospace;padding:6px;border:1px solid #ccc}";

static const char script[] =
    "(function(){var c={};var m=document.querySelectorAll('#pm-timeline .mark');"
    "for(var i=0;i<m.length;i++){var k=m[i].getAttribute('data-kind');c[k]=(c[k]||0)+1;}"
    "var el=document.getElementById('pm-selfcheck');"
    "var e=JSON.parse(el.getAttribute('data-expected'));var ok=true,k;"
    "for(k in e)if((c[k]||0)!==e[k])ok=false;for(k in c)if(e[k]!==c[k])ok=false;"
    "el.setAttribute('data-counted',JSON.stringify(c));"
    "el.setAttribute('data-ok',ok?'true':'false');"
    "el.textContent='self-check '+(ok?'ok':'MISMATCH')+': marks drawn '+JSON.stringify(c)+"
    "', marks in the JSON '+JSON.stringify(e);})();";

int postmortem_html(const cJSON *doc, FILE *out)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(doc, "head");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(doc, "window");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "diagnosis");
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<title>Post-mortem ");
    esc(out, str(doc, "incident"));
    fprintf(out, "</title><style>%s</style></head>\n<body>\n<h1>Post-mortem of incident ", css);
    esc(out, str(doc, "incident"));
    fprintf(out, "</h1>\n<p>Service <b>");
    esc(out, str(doc, "service"));
    fprintf(out, "</b>, %s", str(doc, "state"));
    if (str(doc, "outcome")[0]) {
        fprintf(out, " (");
        esc(out, str(doc, "outcome"));
        fprintf(out, ")");
    }
    fprintf(out, ". Window %s to %s (ledger time, %.0f s before the first step to the "
                 "close).</p>\n", str(w, "from"), str(w, "to"), num(w, "before_ms") / 1000);
    fprintf(out, "<section><h2>Diagnosis</h2><p>Signal <b>%s</b>, class <b>%s</b>, cause "
                 "<b>%s</b>, escalation level %.0f. Confidence: %s.</p>\n",
            str(d, "signal"), str(d, "class"), str(d, "cause"), num(d, "level"),
            str(d, "confidence_note"));
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(doc, "decisions");
    if (cJSON_GetArraySize(dec) == 0) {
        fprintf(out, "<p>Decisions: none recorded.</p>");
    } else {
        char *t = cJSON_PrintUnformatted(dec);
        fprintf(out, "<p>Decisions at ledger index %s (in the evidence table).</p>", t ? t : "");
        free(t);
    }
    fprintf(out, "</section>\n<section><h2>Timeline</h2>\n");
    timeline_svg(out, doc);
    fprintf(out, "</section>\n");
    posterior_html(out, doc);
    fprintf(out, "<section><h2>Evidence</h2><table><tr><th>index</th><th>time</th><th>node</th>"
                 "<th>mark</th><th>what</th><th>leaf hash</th></tr>\n");
    table_rows(out, cJSON_GetObjectItemCaseSensitive(doc, "chain"), "chain");
    table_rows(out, cJSON_GetObjectItemCaseSensitive(doc, "factors"), "factor");
    fprintf(out, "</table></section>\n<section><h2>Verification</h2><p>Every entry above has an "
                 "RFC 6962 inclusion proof against the signed head of size %.0f, root "
                 "<span class=\"mono\">%s</span>, signed by <span class=\"mono\">%s</span>; "
                 "they are in the JSON embedded in this page (<code>#pm-data</code>), which "
                 "<code>platelet postmortem --verify</code> checks.</p>\n",
            num(h, "size"), str(h, "root"), str(h, "public_key"));
    fprintf(out, "<div id=\"pm-selfcheck\" data-expected='{");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "marks"), *it;
    bool first = true;
    cJSON_ArrayForEach(it, m)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble == 0)
            continue;
        fprintf(out, "%s\"", first ? "" : ",");
        esc(out, it->string);
        fprintf(out, "\":%.0f", it->valuedouble);
        first = false;
    }
    fprintf(out, "}'>self-check not run (scripts are off)</div></section>\n");
    /* The JSON form, whole; '<' is written as \u003c so no string can end the script. */
    char *t = cJSON_PrintUnformatted(doc);
    if (t == NULL)
        return -ENOMEM;
    fprintf(out, "<script type=\"application/json\" id=\"pm-data\">");
    for (const char *p = t; *p; p++) {
        if (*p == '<')
            fputs("\\u003c", out);
        else
            fputc(*p, out);
    }
    free(t);
    fprintf(out, "</script>\n<script>%s</script>\n</body></html>\n", script);
    return ferror(out) ? -EIO : 0;
}
