/*
 * libFuzzer target for the Prometheus text parser (node/prom.c).
 *
 * Any input must parse or fail with PL_EMALFORMED and a message naming a line, never
 * crash or read out of bounds. Every sample that parses is written back in the text
 * format and parsed again (decode -> encode -> decode), which must give the same name,
 * label set and value; every label of its set must be found by prom_label_get.
 */
#include "pl_assert.h"
#include "pl_err.h"
#include "prom.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int again_cb(const struct prom_sample *s, void *data)
{
    struct prom_sample *out = data;
    *out = *s;
    return 1;
}

static void format_value(double v, char *out, size_t size)
{
    if (isnan(v))
        snprintf(out, size, "NaN");
    else if (isinf(v))
        snprintf(out, size, "%sInf", v > 0 ? "+" : "-");
    else
        snprintf(out, size, "%.17g", v);
}

static int sample_cb(const struct prom_sample *s, void *data)
{
    (void)data;
    PL_ASSERT(s->name[0] != '\0');
    PL_ASSERT(strlen(s->name) < PROM_NAME_MAX);
    PL_ASSERT(strlen(s->labels) < PROM_LABELS_MAX);

    /* Every label name in the normalised set is found again. */
    const char *p = s->labels;
    while (*p != '\0') {
        const char *eq = strchr(p, '=');
        PL_ASSERT(eq != NULL && eq > p);
        char key[PROM_LABELS_MAX];
        memcpy(key, p, (size_t)(eq - p));
        key[eq - p] = '\0';
        char value[PROM_LABELS_MAX];
        PL_ASSERT(prom_label_get(s->labels, key, value, sizeof(value)) == 0);
        /* Skip to the end of the escaped value. */
        p = eq + 2;
        while (*p != '"') {
            if (*p == '\\')
                p++;
            p++;
        }
        p++;
        if (*p == ',')
            p++;
    }

    char line[PROM_NAME_MAX + PROM_LABELS_MAX + 64];
    char value[48];
    format_value(s->value, value, sizeof(value));
    int n = snprintf(line, sizeof(line), "%s{%s} %s\n", s->name, s->labels, value);
    PL_ASSERT(n > 0 && (size_t)n < sizeof(line));
    struct prom_sample again;
    char err[200];
    int rc = prom_parse(line, (size_t)n, again_cb, &again, err, sizeof(err));
    PL_ASSERT(rc == 1);
    PL_ASSERT(strcmp(again.name, s->name) == 0);
    PL_ASSERT(strcmp(again.labels, s->labels) == 0);
    PL_ASSERT((isnan(again.value) && isnan(s->value)) || again.value == s->value);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200];
    int rc = prom_parse((const char *)data, size, sample_cb, NULL, err, sizeof(err));
    PL_ASSERT(rc == 0 || rc == PL_EMALFORMED);
    if (rc == PL_EMALFORMED)
        PL_ASSERT(strncmp(err, "line ", 5) == 0);

    /* The quantile over whatever numbers the input holds: never crashes. */
    if (size >= 8 * 4) {
        double v[4];
        memcpy(v, data, sizeof(v));
        double le[2] = {v[0], v[1]};
        double cum[2] = {v[2], v[3]};
        (void)prom_histogram_quantile(0.95, le, cum, 2);
        (void)prom_histogram_quantile(v[0], le, cum, 2);
    }
    return 0;
}
