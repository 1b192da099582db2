/*
 * A writer of the Prometheus text exposition format (version 0.0.4), the other half of
 * prom.h: the agent's GET /v1/metrics is written with it, and prom_parse() reads it back
 * in the unit tests.
 *
 * A family is announced once (HELP and TYPE), then its samples follow. A histogram is
 * kept in struct prom_hist (fixed upper bounds, a count per bucket, the sum) and written
 * as cumulative `_bucket{le=...}` lines up to +Inf, then `_sum` and `_count`. The first
 * error (the buffer's hard maximum) sticks in `err`; later calls do nothing, so a caller
 * writes everything and checks once.
 */
#ifndef PL_PROM_WRITE_H
#define PL_PROM_WRITE_H

#include "pl_buf.h"

#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_HIST_BUCKETS_MAX 16

struct prom_writer {
    struct pl_buf buf;
    int err; /* the first append that failed: PL_ETOOBIG or -ENOMEM */
};

/* A histogram: `bounds` (ascending upper bounds, borrowed, must outlive it) and counts. */
struct prom_hist {
    const double *bounds;
    int n;                                 /* <= PROM_HIST_BUCKETS_MAX */
    uint64_t counts[PROM_HIST_BUCKETS_MAX + 1]; /* per bucket (not cumulative); [n]: above all */
    uint64_t count;
    double sum;
};

void prom_writer_init(struct prom_writer *w, size_t max_bytes);
void prom_writer_close(struct prom_writer *w);

/* "# HELP name help\n# TYPE name type\n" (type: counter, gauge, histogram). */
void prom_family(struct prom_writer *w, const char *name, const char *type, const char *help);

/* One sample. `labels` is a formatted label set without braces (`a="x",b="y"`; build it
 * with prom_label_escape for values from outside) or NULL/"" for none. */
void prom_sample(struct prom_writer *w, const char *name, const char *labels, double value);

/* The family line and one unlabelled sample, for the many single-value metrics. */
void prom_metric(struct prom_writer *w, const char *name, const char *type, const char *help,
                 double value);

/* Escapes a label value (backslash, double quote, newline) into out, truncating to fit. */
void prom_label_escape(const char *in, char *out, size_t out_size);

void prom_hist_init(struct prom_hist *h, const double *bounds, int n);
void prom_hist_observe(struct prom_hist *h, double v);
/* The samples of a histogram (the family line is the caller's). `labels` as above. */
void prom_hist_write(struct prom_writer *w, const char *name, const char *labels,
                     const struct prom_hist *h);

#endif
