/*
 * The Prometheus text exposition format parser (version 0.0.4) and the histogram sums of
 * prom.h. Pure code: no I/O, no allocation, no clock, so it can be fuzzed and unit-tested
 * on its own and run on any scraped body.
 *
 * The grammar follows the format's documentation and the reference Go parser (expfmt):
 *
 *     line   = blank* ( "#" anything | sample )? blank*
 *     sample = name blank* ( "{" blank* labels? "}" )? blank* value ( blank+ timestamp )?
 *     labels = label ( blank* "," blank* label )* blank* ","? blank*
 *     label  = lname blank* "=" blank* '"' ( [^"\\\n] | "\\" ["\\n] )* '"'
 *
 * with names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, values a
 * decimal float or +Inf/-Inf/Inf/NaN (any case), and timestamps an integer in ms. The label
 * set handed to the callback is normalised: blanks and a trailing comma dropped, values
 * kept exactly as escaped in the input (`a="x\"y",b="z"`), so equal sets compare equal
 * with strcmp. Every error names the line number and what was expected.
 */
#include "prom.h"

#include "pl_assert.h"
#include "pl_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest numeric token we accept (a double in %.17g needs 24). */
#define NUMBER_MAX 64

struct cursor {
    const char *p;   /* next byte of the line */
    const char *end; /* end of the line (exclusive, before the '\n') */
};

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int is_name_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':';
}

static int is_name_char(char ch)
{
    return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

static int is_label_start(char ch)
{
    return is_name_start(ch) && ch != ':';
}

static int is_label_char(char ch)
{
    return is_name_char(ch) && ch != ':';
}

static void skip_blanks(struct cursor *c)
{
    while (c->p < c->end && is_blank(*c->p))
        c->p++;
}

/* Writes "line N: <msg> (near '<excerpt>')" into err. Always returns PL_EMALFORMED. */
static int fail(char *err, size_t err_size, size_t line_no, const struct cursor *c,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t err_size, size_t line_no, const struct cursor *c,
                const char *fmt, ...)
{
    if (err == NULL || err_size == 0)
        return PL_EMALFORMED;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c != NULL && c->p < c->end) {
        /* Show up to 24 printable bytes of where it went wrong. */
        char near[32];
        size_t n = 0;
        for (const char *q = c->p; q < c->end && n < 24; q++)
            near[n++] = (*q >= 0x20 && *q < 0x7f) ? *q : '?';
        near[n] = '\0';
        snprintf(err, err_size, "line %zu: %s (near '%s')", line_no, msg, near);
    } else {
        snprintf(err, err_size, "line %zu: %s", line_no, msg);
    }
    return PL_EMALFORMED;
}

/* Case-insensitive comparison of [p, p+n) with a lower-case word. */
static int word_eq(const char *p, size_t n, const char *word)
{
    if (strlen(word) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != word[i])
            return 0;
    }
    return 1;
}

/*
 * Parses the float token [p, p+n): decimal syntax or Inf/NaN. strtod alone would also take
 * hex floats, "infinity" and leading blanks, which the format does not allow.
 */
static int parse_float(const char *p, size_t n, double *out)
{
    if (n == 0 || n >= NUMBER_MAX)
        return PL_EMALFORMED;
    size_t i = 0;
    int negative = 0;
    if (p[0] == '+' || p[0] == '-') {
        negative = p[0] == '-';
        i = 1;
    }
    if (word_eq(p + i, n - i, "inf")) {
        *out = negative ? -INFINITY : INFINITY;
        return 0;
    }
    if (word_eq(p + i, n - i, "nan")) {
        *out = NAN;
        return 0;
    }
    size_t digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
        digits++;
    }
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return PL_EMALFORMED;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return PL_EMALFORMED;
    }
    if (i != n)
        return PL_EMALFORMED;
    char tmp[NUMBER_MAX];
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL); /* overflow gives +-HUGE_VAL, as Go's ParseFloat gives +-Inf */
    return 0;
}

/* An optional sign and 1..19 digits (fits an int64). */
static int check_timestamp(const char *p, size_t n)
{
    size_t i = 0;
    if (n > 0 && (p[0] == '+' || p[0] == '-'))
        i = 1;
    if (i == n || n - i > 19)
        return PL_EMALFORMED;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return PL_EMALFORMED;
    }
    return 0;
}

/* Appends [p, p+n) to the label buffer; PL_ETOOBIG when it would not fit with its NUL. */
static int labels_put(struct prom_sample *s, size_t *len, const char *p, size_t n)
{
    if (*len + n >= sizeof(s->labels))
        return PL_ETOOBIG;
    memcpy(s->labels + *len, p, n);
    *len += n;
    s->labels[*len] = '\0';
    return 0;
}

/* Is the label name [p, p+n) already in the normalised set built so far? */
static int labels_have(const char *labels, const char *p, size_t n)
{
    const char *q = labels;
    while (*q != '\0') {
        const char *eq = strchr(q, '=');
        if (eq == NULL)
            return 0;
        if ((size_t)(eq - q) == n && memcmp(q, p, n) == 0)
            return 1;
        /* Skip the quoted value: eq+1 is '"'. */
        q = eq + 2;
        while (*q != '\0' && *q != '"') {
            if (*q == '\\' && q[1] != '\0')
                q++;
            q++;
        }
        if (*q == '"')
            q++;
        if (*q == ',')
            q++;
    }
    return 0;
}

static int parse_labels(struct cursor *c, struct prom_sample *s, size_t line_no, char *err,
                        size_t err_size)
{
    size_t len = 0;
    s->labels[0] = '\0';
    c->p++; /* '{' */
    skip_blanks(c);
    while (c->p < c->end && *c->p != '}') {
        const char *name = c->p;
        if (!is_label_start(*c->p))
            return fail(err, err_size, line_no, c, "expected a label name or '}'");
        while (c->p < c->end && is_label_char(*c->p))
            c->p++;
        size_t name_len = (size_t)(c->p - name);
        if (labels_have(s->labels, name, name_len))
            return fail(err, err_size, line_no, c, "duplicate label name '%.*s'",
                        (int)PL_MIN(name_len, 64), name);
        skip_blanks(c);
        if (c->p >= c->end || *c->p != '=')
            return fail(err, err_size, line_no, c, "expected '=' after label name '%.*s'",
                        (int)PL_MIN(name_len, 64), name);
        c->p++;
        skip_blanks(c);
        if (c->p >= c->end || *c->p != '"')
            return fail(err, err_size, line_no, c, "expected '\"' to open the value of label '%.*s'",
                        (int)PL_MIN(name_len, 64), name);
        const char *value = c->p; /* includes the opening quote */
        c->p++;
        for (;;) {
            if (c->p >= c->end)
                return fail(err, err_size, line_no, NULL,
                            "unterminated value of label '%.*s'", (int)PL_MIN(name_len, 64),
                            name);
            char ch = *c->p;
            if (ch == '"')
                break;
            if (ch == '\0')
                return fail(err, err_size, line_no, c, "NUL byte in a label value");
            if (ch == '\\') {
                if (c->p + 1 >= c->end || (c->p[1] != '\\' && c->p[1] != '"' && c->p[1] != 'n'))
                    return fail(err, err_size, line_no, c,
                                "bad escape in a label value (only \\\\, \\\" and \\n)");
                c->p++;
            }
            c->p++;
        }
        c->p++; /* closing quote */
        if ((len > 0 && labels_put(s, &len, ",", 1) != 0) ||
            labels_put(s, &len, name, name_len) != 0 || labels_put(s, &len, "=", 1) != 0 ||
            labels_put(s, &len, value, (size_t)(c->p - value)) != 0)
            return fail(err, err_size, line_no, NULL, "label set longer than %zu bytes",
                        sizeof(s->labels) - 1);
        skip_blanks(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            skip_blanks(c);
        } else if (c->p < c->end && *c->p != '}') {
            return fail(err, err_size, line_no, c, "expected ',' or '}' after a label value");
        }
    }
    if (c->p >= c->end)
        return fail(err, err_size, line_no, NULL, "label set not closed with '}'");
    c->p++; /* '}' */
    return 0;
}

static int parse_sample_line(struct cursor *c, struct prom_sample *s, size_t line_no, char *err,
                             size_t err_size)
{
    const char *name = c->p;
    if (!is_name_start(*c->p))
        return fail(err, err_size, line_no, c, "expected a metric name");
    while (c->p < c->end && is_name_char(*c->p))
        c->p++;
    size_t name_len = (size_t)(c->p - name);
    if (name_len >= sizeof(s->name))
        return fail(err, err_size, line_no, NULL, "metric name longer than %zu bytes",
                    sizeof(s->name) - 1);
    memcpy(s->name, name, name_len);
    s->name[name_len] = '\0';
    s->labels[0] = '\0';

    skip_blanks(c);
    if (c->p < c->end && *c->p == '{') {
        int rc = parse_labels(c, s, line_no, err, err_size);
        if (rc != 0)
            return rc;
        skip_blanks(c);
    } else if (c->p == name + name_len && c->p < c->end) {
        /* Something glued to the name that is neither a blank nor '{'. */
        return fail(err, err_size, line_no, c, "invalid character in metric name '%s'", s->name);
    }

    const char *value = c->p;
    while (c->p < c->end && !is_blank(*c->p))
        c->p++;
    if (c->p == value)
        return fail(err, err_size, line_no, NULL, "missing value after '%s'", s->name);
    struct cursor at_value = {value, c->end};
    if (parse_float(value, (size_t)(c->p - value), &s->value) != 0)
        return fail(err, err_size, line_no, &at_value, "value of '%s' is not a number", s->name);

    skip_blanks(c);
    if (c->p < c->end) {
        const char *ts = c->p;
        while (c->p < c->end && !is_blank(*c->p))
            c->p++;
        struct cursor at_ts = {ts, c->end};
        if (check_timestamp(ts, (size_t)(c->p - ts)) != 0)
            return fail(err, err_size, line_no, &at_ts,
                        "timestamp of '%s' is not an integer of milliseconds", s->name);
        skip_blanks(c);
        if (c->p < c->end)
            return fail(err, err_size, line_no, c, "unexpected text after the timestamp");
    }
    return 0;
}

int prom_parse(const char *text, size_t len, int (*cb)(const struct prom_sample *s, void *data),
               void *data, char *err, size_t err_size)
{
    PL_ASSERT(cb != NULL);
    PL_ASSERT(text != NULL || len == 0);
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    const char *p = text;
    const char *end = text + len;
    size_t line_no = 0;
    while (p < end) {
        line_no++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl != NULL ? nl : end;
        /* Tolerate CRLF line ends. */
        if (line_end > p && line_end[-1] == '\r')
            line_end--;
        struct cursor c = {p, line_end};
        p = nl != NULL ? nl + 1 : end;

        skip_blanks(&c);
        if (c.p == c.end || *c.p == '#')
            continue;
        if (memchr(c.p, '\0', (size_t)(c.end - c.p)) != NULL)
            return fail(err, err_size, line_no, NULL, "NUL byte in a sample line");
        struct prom_sample s;
        int rc = parse_sample_line(&c, &s, line_no, err, err_size);
        if (rc != 0)
            return rc;
        rc = cb(&s, data);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int unescape_value(const char *p, char *out, size_t out_size, const char **after)
{
    size_t o = 0;
    for (;;) {
        char ch = *p;
        if (ch == '\0')
            return PL_EMALFORMED;
        if (ch == '"')
            break;
        if (ch == '\\') {
            p++;
            if (*p == 'n')
                ch = '\n';
            else if (*p == '\\' || *p == '"')
                ch = *p;
            else
                return PL_EMALFORMED;
        }
        if (out != NULL) {
            if (o + 1 >= out_size)
                return PL_ETOOBIG;
            out[o] = ch;
        }
        o++;
        p++;
    }
    if (out != NULL)
        out[o] = '\0';
    *after = p + 1;
    return 0;
}

int prom_label_get(const char *labels, const char *key, char *out, size_t out_size)
{
    PL_ASSERT(labels != NULL && key != NULL);
    size_t klen = strlen(key);
    const char *p = labels;
    for (;;) {
        while (is_blank(*p) || *p == ',')
            p++;
        if (*p == '\0')
            return PL_ENOTFOUND;
        const char *name = p;
        while (is_label_char(*p))
            p++;
        size_t name_len = (size_t)(p - name);
        while (is_blank(*p))
            p++;
        if (name_len == 0 || *p != '=')
            return PL_EMALFORMED;
        p++;
        while (is_blank(*p))
            p++;
        if (*p != '"')
            return PL_EMALFORMED;
        p++;
        int match = name_len == klen && memcmp(name, key, klen) == 0;
        const char *after;
        int rc = unescape_value(p, match ? out : NULL, out_size, &after);
        if (rc != 0)
            return rc;
        if (match)
            return 0;
        p = after;
    }
}

double prom_histogram_quantile(double q, const double *le, const double *cumulative, int n)
{
    if (n <= 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    /* Bounds must increase; counts are made monotonic (a scrape can race increments, and
     * Prometheus' ensureMonotonic does the same). */
    double total = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(le[i]) || isnan(cumulative[i]) || cumulative[i] < 0)
            return NAN;
        if (i > 0 && !(le[i] > le[i - 1]))
            return NAN;
        total = PL_MAX(total, cumulative[i]);
    }
    if (total <= 0)
        return NAN;
    int top_is_inf = isinf(le[n - 1]) && le[n - 1] > 0;
    if (top_is_inf && n < 2)
        return NAN;
    double rank = q * total;
    double running = 0; /* the monotonic count of the bucket before b */
    double prev_count = 0;
    int b = 0;
    for (b = 0; b < n; b++) {
        running = PL_MAX(running, cumulative[b]);
        if (running >= rank)
            break;
        prev_count = running;
    }
    if (b >= n) /* only rounding can get here */
        b = n - 1;
    if (top_is_inf && b == n - 1)
        return le[n - 2];
    if (b == 0 && le[0] <= 0)
        return le[0];
    double start = b > 0 ? le[b - 1] : 0;
    double end = le[b];
    double count = running - (b > 0 ? prev_count : 0);
    double r = rank - (b > 0 ? prev_count : 0);
    if (count <= 0)
        return end;
    return start + (end - start) * (r / count);
}

double prom_counter_delta(double previous, double current)
{
    if (isnan(previous) || isnan(current))
        return NAN;
    /* A counter that went down was reset (the process restarted): all of it is new. */
    if (current < previous)
        return current;
    return current - previous;
}
