/*
 * The Prometheus text format writer of prom_write.h. Pure: it appends to a bounded
 * buffer and reads no clock.
 */
#include "prom_write.h"

#include "pl_assert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_writer_init(struct prom_writer *w, size_t max_bytes)
{
    pl_buf_init(&w->buf, max_bytes);
    w->err = 0;
}

void prom_writer_close(struct prom_writer *w) { pl_buf_close(&w->buf); }

/* The format's spelling of a value: the shortest decimal that reads back as the same
 * double (bucket bounds stay "0.005", not "0.0050000000000000001"), +Inf, -Inf, NaN. */
static void value_text(double v, char *out, size_t n)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, n, "%.0f", v); /* counters and indexes: every digit, no exponent */
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

void prom_family(struct prom_writer *w, const char *name, const char *type, const char *help)
{
    PL_ASSERT(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
              strcmp(type, "histogram") == 0);
    if (w->err == 0)
        w->err = pl_buf_printf(&w->buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_sample(struct prom_writer *w, const char *name, const char *labels, double value)
{
    char v[40];
    value_text(value, v, sizeof(v));
    if (w->err != 0)
        return;
    if (labels != NULL && labels[0] != '\0')
        w->err = pl_buf_printf(&w->buf, "%s{%s} %s\n", name, labels, v);
    else
        w->err = pl_buf_printf(&w->buf, "%s %s\n", name, v);
}

void prom_metric(struct prom_writer *w, const char *name, const char *type, const char *help,
                 double value)
{
    prom_family(w, name, type, help);
    prom_sample(w, name, NULL, value);
}

void prom_label_escape(const char *in, char *out, size_t out_size)
{
    PL_ASSERT(out_size > 0);
    size_t o = 0;
    for (const char *p = in; *p != '\0'; p++) {
        const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t k = rep != NULL ? 2 : 1;
        if (o + k >= out_size)
            break; /* truncated, never half an escape */
        if (rep != NULL)
            memcpy(out + o, rep, 2);
        else
            out[o] = *p;
        o += k;
    }
    out[o] = '\0';
}

void prom_hist_init(struct prom_hist *h, const double *bounds, int n)
{
    PL_ASSERT(n >= 0 && n <= PROM_HIST_BUCKETS_MAX);
    for (int i = 1; i < n; i++)
        PL_ASSERT(bounds[i - 1] < bounds[i]);
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n = n;
}

void prom_hist_observe(struct prom_hist *h, double v)
{
    int b = 0;
    while (b < h->n && v > h->bounds[b])
        b++;
    h->counts[b]++;
    h->count++;
    h->sum += v;
}

void prom_hist_write(struct prom_writer *w, const char *name, const char *labels,
                     const struct prom_hist *h)
{
    char series[160], lab[320], le[40];
    const char *sep = labels != NULL && labels[0] != '\0' ? "," : "";
    const char *base = labels != NULL ? labels : "";
    snprintf(series, sizeof(series), "%s_bucket", name);
    uint64_t cumulative = 0;
    for (int i = 0; i <= h->n; i++) {
        cumulative += h->counts[i];
        value_text(i < h->n ? h->bounds[i] : INFINITY, le, sizeof(le));
        snprintf(lab, sizeof(lab), "%s%sle=\"%s\"", base, sep, le);
        prom_sample(w, series, lab, (double)cumulative);
    }
    PL_ALWAYS(cumulative == h->count);
    snprintf(series, sizeof(series), "%s_sum", name);
    prom_sample(w, series, labels, h->sum);
    snprintf(series, sizeof(series), "%s_count", name);
    prom_sample(w, series, labels, (double)h->count);
}
