/*
 * Hex, base64 and RFC 3339 helpers of pl_text.h. Base64 is libsodium's constant-time
 * codec; the rest is small enough to write here.
 */
#include "pl_text.h"

#include "pl_err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void pl_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pl_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len)
{
    if (in_len != 2 * out_len)
        return PL_EMALFORMED;
    for (size_t i = 0; i < out_len; i++) {
        int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return PL_EMALFORMED;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

size_t pl_base64_len(size_t n) { return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL); }

void pl_base64_encode(const uint8_t *in, size_t n, char *out)
{
    sodium_bin2base64(out, pl_base64_len(n), in, n, sodium_base64_VARIANT_ORIGINAL);
}

int pl_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, out_cap, in, in_len, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != in + in_len)
        return PL_EMALFORMED;
    *out_len = n;
    return 0;
}

void pl_time_format_rfc3339(uint64_t ms, char out[25])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[20];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 25, "%s.%03uZ", base, (unsigned)(ms % 1000));
}

int pl_time_parse(const char *text, uint64_t *ms_out)
{
    size_t len = strlen(text);
    if (len == 0)
        return PL_EMALFORMED;
    int all_digits = 1;
    for (size_t i = 0; i < len; i++)
        all_digits &= isdigit((unsigned char)text[i]) != 0;
    if (all_digits) {
        if (len > 19)
            return PL_EMALFORMED;
        *ms_out = strtoull(text, NULL, 10);
        return 0;
    }
    struct tm tm = {0};
    int consumed = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 || consumed != 19)
        return PL_EMALFORMED;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
        return PL_EMALFORMED;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *p = text + consumed;
    uint64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (uint64_t)(*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return PL_EMALFORMED;
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    long offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om, n = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
            return PL_EMALFORMED;
        offset_s = sign * (oh * 3600L + om * 60L);
        p += 6;
    } else {
        return PL_EMALFORMED;
    }
    if (*p != '\0')
        return PL_EMALFORMED;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t - offset_s < 0)
        return PL_EMALFORMED;
    *ms_out = (uint64_t)(t - offset_s) * 1000 + frac_ms;
    return 0;
}

int pl_addr_split(const char *addr, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr)
        return PL_EMALFORMED;
    const char *h = addr;
    size_t hlen = (size_t)(colon - addr);
    if (h[0] == '[') {
        if (hlen < 2 || h[hlen - 1] != ']')
            return PL_EMALFORMED;
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= host_size)
        return PL_EMALFORMED;
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535)
        return PL_EMALFORMED;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

int pl_addr_resolve(const char *addr, struct sockaddr_storage *out)
{
    char host[64];
    int port;
    if (pl_addr_split(addr, host, sizeof(host), &port) != 0)
        return PL_EMALFORMED;
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return PL_EMALFORMED;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. Rejects overlongs and surrogates. */
size_t pl_utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void pl_html_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}
