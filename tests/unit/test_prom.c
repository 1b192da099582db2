/*
 * Unit tests of node/prom.c: the Prometheus text-format parser (good and malformed input,
 * with the line named in errors), label lookup with escapes, and the histogram quantile
 * checked against hand-computed values of Prometheus' histogram_quantile(); and the writer
 * of prom_write.h, whose output the parser reads back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_err.h"
#include "prom.h"
#include "prom_write.h"

#define MAX_SAMPLES 32

struct collected {
    struct prom_sample s[MAX_SAMPLES];
    int n;
    int stop_after; /* return 7 from the callback after this many; 0 = never */
};

static int collect_cb(const struct prom_sample *s, void *data)
{
    struct collected *c = data;
    if (c->n < MAX_SAMPLES)
        c->s[c->n] = *s;
    c->n++;
    if (c->stop_after > 0 && c->n >= c->stop_after)
        return 7;
    return 0;
}

static int parse(const char *text, struct collected *c, char *err, size_t err_size)
{
    memset(c, 0, sizeof(*c));
    return prom_parse(text, strlen(text), collect_cb, c, err, err_size);
}

static void test_parse_basic(void **state)
{
    (void)state;
    const char *text =
        "# HELP http_requests_total The total number of HTTP requests.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
        "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
        "\n"
        "  # a comment with leading blanks\n"
        "metric_without_timestamp_and_labels 12.47\n"
        "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
        "rpc_duration_seconds{quantile=\"0.5\"} 4.773e+03\n"
        "neg_inf -Inf\n"
        "not_a_number NaN\n"
        "lower_inf inf\n"
        "with_colon:sub_total 0.5\n"
        "blanks { a = \"1\" , b=\"2\", } 3\r\n"
        "last_no_newline .25";
    struct collected c;
    char err[256];
    assert_int_equal(parse(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 11);
    assert_string_equal(c.s[0].name, "http_requests_total");
    assert_string_equal(c.s[0].labels, "method=\"post\",code=\"200\"");
    assert_true(c.s[0].value == 1027);
    assert_true(c.s[1].value == 3);
    assert_string_equal(c.s[2].name, "metric_without_timestamp_and_labels");
    assert_string_equal(c.s[2].labels, "");
    assert_true(fabs(c.s[2].value - 12.47) < 1e-12);
    assert_true(isinf(c.s[3].value) && c.s[3].value > 0);
    assert_true(c.s[4].value == 4773);
    assert_true(isinf(c.s[5].value) && c.s[5].value < 0);
    assert_true(isnan(c.s[6].value));
    assert_true(isinf(c.s[7].value));
    assert_string_equal(c.s[8].name, "with_colon:sub_total");
    assert_string_equal(c.s[9].name, "blanks");
    assert_string_equal(c.s[9].labels, "a=\"1\",b=\"2\"");
    assert_true(c.s[9].value == 3);
    assert_true(c.s[10].value == 0.25);
}

static void test_parse_escapes(void **state)
{
    (void)state;
    const char *text = "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\","
                       "error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n";
    struct collected c;
    char err[256];
    assert_int_equal(parse(text, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 1);
    char v[64];
    assert_int_equal(prom_label_get(c.s[0].labels, "path", v, sizeof(v)), 0);
    assert_string_equal(v, "C:\\DIR\\FILE.TXT");
    assert_int_equal(prom_label_get(c.s[0].labels, "error", v, sizeof(v)), 0);
    assert_string_equal(v, "Cannot find file:\n\"FILE.TXT\"");
    assert_int_equal(prom_label_get(c.s[0].labels, "missing", v, sizeof(v)), PL_ENOTFOUND);
    assert_int_equal(prom_label_get(c.s[0].labels, "pat", v, sizeof(v)), PL_ENOTFOUND);
    char tiny[4];
    assert_int_equal(prom_label_get(c.s[0].labels, "path", tiny, sizeof(tiny)), PL_ETOOBIG);
}

static void test_label_get(void **state)
{
    (void)state;
    char v[32];
    assert_int_equal(prom_label_get("le=\"0.5\",code=\"200\"", "le", v, sizeof(v)), 0);
    assert_string_equal(v, "0.5");
    assert_int_equal(prom_label_get("le=\"0.5\",code=\"200\"", "code", v, sizeof(v)), 0);
    assert_string_equal(v, "200");
    /* Hand-written sets with blanks work too. */
    assert_int_equal(prom_label_get(" a = \"x\" , b=\"\"", "b", v, sizeof(v)), 0);
    assert_string_equal(v, "");
    assert_int_equal(prom_label_get("", "le", v, sizeof(v)), PL_ENOTFOUND);
    assert_int_equal(prom_label_get("le=0.5", "le", v, sizeof(v)), PL_EMALFORMED);
    assert_int_equal(prom_label_get("le=\"0.5", "le", v, sizeof(v)), PL_EMALFORMED);
}

struct bad_case {
    const char *text;
    const char *expect; /* a substring of the error */
};

static void test_parse_malformed(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"ok 1\nbad-name 1\n", "line 2: invalid character in metric name 'bad'"},
        {"ok 1\n\n9lives 1\n", "line 3: expected a metric name"},
        {"m\n", "line 1: missing value after 'm'"},
        {"m{}\n", "line 1: missing value after 'm'"},
        {"m abc\n", "line 1: value of 'm' is not a number (near 'abc')"},
        {"m 0x10\n", "not a number"},
        {"m 1e\n", "not a number"},
        {"m infinity\n", "not a number"},
        {"m 1 12x\n", "timestamp of 'm' is not an integer"},
        {"m 1 1.5\n", "timestamp"},
        {"m 1 2 3\n", "unexpected text after the timestamp"},
        {"m{a=\"1\"\n", "line 1: label set not closed"},
        {"m{a=\"1\" b=\"2\"} 3\n", "line 1: expected ',' or '}'"},
        {"m{a=\"1\",\n", "label set not closed"},
        {"m{a=\"1 2\n", "unterminated value of label 'a'"},
        {"m{a=1} 2\n", "expected '\"' to open the value of label 'a'"},
        {"m{a\"1\"} 2\n", "expected '=' after label name 'a'"},
        {"m{1a=\"x\"} 2\n", "expected a label name"},
        {"m{a:b=\"x\"} 2\n", "expected '='"},
        {"m{a=\"x\\t\"} 2\n", "bad escape"},
        {"m{a=\"x\",a=\"y\"} 2\n", "duplicate label name 'a'"},
        {"m{a=\"x\"}{b=\"y\"} 2\n", "not a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct collected c;
        char err[256];
        int rc = parse(cases[i].text, &c, err, sizeof(err));
        if (rc != PL_EMALFORMED || strstr(err, cases[i].expect) == NULL)
            fail_msg("case %zu '%s': rc=%d err='%s', expected '%s'", i, cases[i].text, rc, err,
                     cases[i].expect);
    }
}

static void test_parse_limits_and_nul(void **state)
{
    (void)state;
    char text[1024];
    struct collected c;
    char err[256];
    /* A name of exactly 127 bytes fits, 128 does not. */
    memset(text, 'n', 127);
    memcpy(text + 127, " 1\n", 4);
    assert_int_equal(parse(text, &c, err, sizeof(err)), 0);
    assert_int_equal(strlen(c.s[0].name), 127);
    memset(text, 'n', 128);
    memcpy(text + 128, " 1\n", 4);
    assert_int_equal(parse(text, &c, err, sizeof(err)), PL_EMALFORMED);
    assert_non_null(strstr(err, "metric name longer than 127"));

    /* A label set over 255 bytes. */
    int n = snprintf(text, sizeof(text), "m{a=\"");
    memset(text + n, 'v', 300);
    snprintf(text + n + 300, sizeof(text) - (size_t)n - 300, "\"} 1\n");
    assert_int_equal(parse(text, &c, err, sizeof(err)), PL_EMALFORMED);
    assert_non_null(strstr(err, "label set longer than 255"));

    /* NUL bytes inside a line are refused, with the line named. */
    static const char with_nul[] = "a 1\nb{x=\"1\0\"} 2\n";
    memset(&c, 0, sizeof(c));
    assert_int_equal(prom_parse(with_nul, sizeof(with_nul) - 1, collect_cb, &c, err, sizeof(err)),
                     PL_EMALFORMED);
    assert_non_null(strstr(err, "line 2: NUL byte"));
    assert_int_equal(c.n, 1);

    /* Length is honoured: a text not NUL-terminated at len parses only len bytes. */
    static const char partial[] = "a 1\nb 2\nc 3";
    memset(&c, 0, sizeof(c));
    assert_int_equal(prom_parse(partial, 7, collect_cb, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 2);

    /* Empty input and a NULL error buffer. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(prom_parse("", 0, collect_cb, &c, NULL, 0), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(prom_parse("x y", 3, collect_cb, &c, NULL, 0), PL_EMALFORMED);
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct collected c;
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    const char *text = "a 1\nb 2\nc 3\n";
    assert_int_equal(prom_parse(text, strlen(text), collect_cb, &c, NULL, 0), 7);
    assert_int_equal(c.n, 2);
}

static void test_quantile(void **state)
{
    (void)state;
    double le[] = {0.1, 0.5, 1, INFINITY};
    double cum[] = {10, 60, 90, 100};
    /* rank 50 falls in (0.1, 0.5] with 50 observations: 0.1 + 0.4 * 40/50. */
    assert_true(fabs(prom_histogram_quantile(0.5, le, cum, 4) - 0.42) < 1e-12);
    /* rank 95 falls in the +Inf bucket: the highest finite bound. */
    assert_true(prom_histogram_quantile(0.95, le, cum, 4) == 1.0);
    /* rank 5 falls in the first bucket, interpolated from 0. */
    assert_true(fabs(prom_histogram_quantile(0.05, le, cum, 4) - 0.05) < 1e-12);
    /* rank 90 is exactly the top of (0.5, 1]. */
    assert_true(fabs(prom_histogram_quantile(0.9, le, cum, 4) - 1.0) < 1e-12);
    assert_true(isinf(prom_histogram_quantile(1.5, le, cum, 4)));
    assert_true(isinf(prom_histogram_quantile(-0.5, le, cum, 4)));
    assert_true(isnan(prom_histogram_quantile(NAN, le, cum, 4)));

    double zero[] = {0, 0, 0, 0};
    assert_true(isnan(prom_histogram_quantile(0.5, le, zero, 4)));
    assert_true(isnan(prom_histogram_quantile(0.5, le, cum, 0)));
    double only_inf[] = {INFINITY};
    double one[] = {5};
    assert_true(isnan(prom_histogram_quantile(0.5, only_inf, one, 1)));

    /* Unsorted bounds are refused. */
    double unsorted[] = {0.5, 0.1, INFINITY};
    double c3[] = {1, 2, 3};
    assert_true(isnan(prom_histogram_quantile(0.5, unsorted, c3, 3)));

    /* A count that went down (a scrape raced an increment) is treated as monotonic. */
    double le3[] = {1, 2, INFINITY};
    double racy[] = {10, 8, 20};
    /* Counts are 10, 10, 20: rank 10 is in the first bucket, at its top. */
    assert_true(fabs(prom_histogram_quantile(0.5, le3, racy, 3) - 1.0) < 1e-12);

    /* Without a +Inf bucket the top bucket is interpolated too. */
    double le2[] = {1, 2};
    double c2[] = {0, 10};
    assert_true(fabs(prom_histogram_quantile(0.5, le2, c2, 2) - 1.5) < 1e-12);

    /* A first bound <= 0 is returned as is when the rank falls in it. */
    double leneg[] = {-1, 1, INFINITY};
    double cneg[] = {5, 10, 10};
    assert_true(prom_histogram_quantile(0.25, leneg, cneg, 3) == -1);
}

struct hist {
    double le[16];
    double cum[16];
    int n;
};

static int hist_cb(const struct prom_sample *s, void *data)
{
    struct hist *h = data;
    if (strcmp(s->name, "lat_bucket") != 0)
        return 0;
    char le[32];
    if (prom_label_get(s->labels, "le", le, sizeof(le)) != 0 || h->n >= 16)
        return -1;
    double v;
    if (strcmp(le, "+Inf") == 0)
        v = INFINITY;
    else
        v = strtod(le, NULL);
    h->le[h->n] = v;
    h->cum[h->n] = s->value;
    h->n++;
    return 0;
}

static void test_quantile_from_text(void **state)
{
    (void)state;
    const char *text = "# TYPE lat histogram\n"
                       "lat_bucket{le=\"0.005\"} 0\n"
                       "lat_bucket{le=\"0.01\"} 50\n"
                       "lat_bucket{le=\"0.1\"} 90\n"
                       "lat_bucket{le=\"+Inf\"} 100\n"
                       "lat_sum 3.2\n"
                       "lat_count 100\n";
    struct hist h = {0};
    assert_int_equal(prom_parse(text, strlen(text), hist_cb, &h, NULL, 0), 0);
    assert_int_equal(h.n, 4);
    /* p95: rank 95 is in +Inf, so the highest finite bound 0.1. p50: top of (0.005, 0.01]. */
    assert_true(fabs(prom_histogram_quantile(0.95, h.le, h.cum, h.n) - 0.1) < 1e-12);
    assert_true(fabs(prom_histogram_quantile(0.5, h.le, h.cum, h.n) - 0.01) < 1e-12);
    /* p70: rank 70 in (0.01, 0.1] with 40: 0.01 + 0.09 * 20/40. */
    assert_true(fabs(prom_histogram_quantile(0.7, h.le, h.cum, h.n) - 0.055) < 1e-12);
}

static void test_counter_delta(void **state)
{
    (void)state;
    assert_true(prom_counter_delta(10, 15) == 5);
    assert_true(prom_counter_delta(10, 10) == 0);
    assert_true(prom_counter_delta(100, 3) == 3); /* reset */
    assert_true(isnan(prom_counter_delta(NAN, 3)));
}

/* What the writer writes, the parser reads back: values, escaped labels, a histogram's
 * cumulative buckets with the quantile of what was observed. */
static void test_write_reads_back(void **state)
{
    (void)state;
    struct prom_writer w;
    prom_writer_init(&w, 1 << 16);
    prom_metric(&w, "x_total", "counter", "A counter.", 12345678901.0);
    prom_family(&w, "g", "gauge", "A gauge with labels.");
    char esc[64];
    prom_label_escape("a\"b\\c\nd", esc, sizeof(esc));
    assert_string_equal(esc, "a\\\"b\\\\c\\nd");
    char lab[128];
    snprintf(lab, sizeof(lab), "name=\"%s\"", esc);
    prom_sample(&w, "g", lab, 0.25);
    prom_sample(&w, "g", "name=\"inf\"", INFINITY);
    static const double bounds[] = {0.005, 0.01, 0.1};
    struct prom_hist h;
    prom_hist_init(&h, bounds, 3);
    for (int i = 0; i < 50; i++)
        prom_hist_observe(&h, 0.008);
    for (int i = 0; i < 40; i++)
        prom_hist_observe(&h, 0.05);
    for (int i = 0; i < 10; i++)
        prom_hist_observe(&h, 3);
    prom_family(&w, "lat_seconds", "histogram", "A histogram.");
    prom_hist_write(&w, "lat_seconds", "op=\"put\"", &h);
    assert_int_equal(w.err, 0);
    assert_non_null(strstr((const char *)w.buf.data, "# TYPE lat_seconds histogram\n"));
    assert_non_null(strstr((const char *)w.buf.data, "x_total 12345678901\n"));
    assert_non_null(strstr((const char *)w.buf.data, "lat_seconds_bucket{op=\"put\",le=\"0.005\"} 0\n"));

    struct collected c;
    char err[128] = "";
    memset(&c, 0, sizeof(c));
    assert_int_equal(prom_parse((const char *)w.buf.data, w.buf.len, collect_cb, &c, err,
                                sizeof(err)), 0);
    assert_int_equal(c.n, 1 + 2 + 4 + 2);
    assert_true(c.s[0].value == 12345678901.0);
    char v[64];
    assert_int_equal(prom_label_get(c.s[1].labels, "name", v, sizeof(v)), 0);
    assert_string_equal(v, "a\"b\\c\nd");
    assert_true(c.s[1].value == 0.25);
    assert_true(isinf(c.s[2].value));
    double le[4], cum[4];
    for (int i = 0; i < 4; i++) {
        assert_string_equal(c.s[3 + i].name, "lat_seconds_bucket");
        assert_int_equal(prom_label_get(c.s[3 + i].labels, "le", v, sizeof(v)), 0);
        le[i] = strtod(v, NULL);
        cum[i] = c.s[3 + i].value;
    }
    assert_true(le[0] == 0.005 && isinf(le[3]) && cum[3] == 100);
    assert_true(fabs(prom_histogram_quantile(0.7, le, cum, 4) - 0.055) < 1e-12);
    assert_string_equal(c.s[7].name, "lat_seconds_sum");
    assert_true(fabs(c.s[7].value - (50 * 0.008 + 40 * 0.05 + 30)) < 1e-9);
    assert_true(c.s[8].value == 100);
    prom_writer_close(&w);

    /* The buffer's maximum sticks as the error; nothing half-written follows it. */
    prom_writer_init(&w, 40);
    prom_metric(&w, "a_long_metric_name_total", "counter", "Too much for 40 bytes.", 1);
    assert_int_equal(w.err, PL_ETOOBIG);
    size_t len = w.buf.len;
    prom_sample(&w, "b", NULL, 2);
    assert_int_equal(w.buf.len, len);
    prom_writer_close(&w);
    /* Truncating an escape never leaves half of it. */
    prom_label_escape("ab\"", esc, 4);
    assert_string_equal(esc, "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_parse_escapes),
        cmocka_unit_test(test_label_get),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_limits_and_nul),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_quantile_from_text),
        cmocka_unit_test(test_counter_delta),
        cmocka_unit_test(test_write_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
