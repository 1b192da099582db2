/*
 * A parser for the Prometheus text exposition format (version 0.0.4) and the sums the
 * detectors need: counter deltas and quantiles from histogram buckets.
 */
#ifndef PL_PROM_H
#define PL_PROM_H

#include <stddef.h>

#define PROM_NAME_MAX 128
#define PROM_LABELS_MAX 256

struct prom_sample {
    char name[PROM_NAME_MAX];     /* metric name, e.g. "http_requests_total" */
    char labels[PROM_LABELS_MAX]; /* the raw label set without braces, "" when none */
    double value;
};

/*
 * Calls `cb` for every sample line (comments and TYPE/HELP lines skipped). `s->labels` is
 * normalised: blanks and a trailing comma dropped, values kept escaped as in the input
 * (`a="x\"y",b="z"`), so equal label sets compare equal with strcmp. Returns 0, or
 * PL_EMALFORMED with `err` naming the line number and what is wrong; a callback's
 * non-zero return stops parsing and is returned.
 */
int prom_parse(const char *text, size_t len,
               int (*cb)(const struct prom_sample *s, void *data), void *data, char *err,
               size_t err_size);

/* The value of label `key` in a raw label set (`le="0.5",code="200"`). 0 or PL_ENOTFOUND. */
int prom_label_get(const char *labels, const char *key, char *out, size_t out_size);

/*
 * The q-quantile (0..1) of a cumulative histogram given as n buckets sorted by upper
 * bound `le` (the last may be +Inf) with cumulative counts, linearly interpolated inside
 * the bucket as Prometheus' histogram_quantile() does. NAN when there are no observations.
 */
double prom_histogram_quantile(double q, const double *le, const double *cumulative, int n);

/* The increase of a counter between two scrapes; a counter that went down was reset (its
 * process restarted), so then all of `current` is new. NAN if either is NAN. */
double prom_counter_delta(double previous, double current);

#endif
