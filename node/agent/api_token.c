/*
 * The token file, the bearer check and token making of api_token.h.
 */
#include "api_token.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_file.h"
#include "pl_text.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return PL_ECONFIG;
}

const char *api_scope_name(enum api_scope scope)
{
    switch (scope) {
    case API_SCOPE_READ: return "read";
    case API_SCOPE_OPERATE: return "operate";
    case API_SCOPE_NONE: break;
    }
    return "none";
}

int api_scope_parse(const char *name, enum api_scope *out)
{
    if (strcmp(name, "read") == 0)
        *out = API_SCOPE_READ;
    else if (strcmp(name, "operate") == 0)
        *out = API_SCOPE_OPERATE;
    else
        return PL_EMALFORMED;
    return 0;
}

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
static const char *token_problem(const char *p, size_t n)
{
    if (n < API_TOKEN_MIN_CHARS)
        return "is shorter than 32 characters (platelet token create makes one)";
    if (n > API_TOKEN_MAX_CHARS)
        return "is longer than 128 characters";
    size_t i = 0;
    while (i < n && (strchr("-._~+/", p[i]) != NULL || (p[i] >= 'a' && p[i] <= 'z') ||
                     (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9')) &&
           p[i] != '\0')
        i++;
    while (i < n && p[i] == '=')
        i++;
    return i == n ? NULL : "holds a character outside letters, digits and -._~+/=";
}

static void token_hash(const char *p, size_t n, uint8_t out[API_TOKEN_HASH_BYTES])
{
    crypto_generichash(out, API_TOKEN_HASH_BYTES, (const unsigned char *)p, n, NULL, 0);
}

/* Splits the line at *pp (up to '\n' or end) into at most `max` words separated by blanks
 * and moves *pp past it; returns how many there were (more than max counts as max + 1).
 * A '#' ends the line. */
static int line_words(const char **pp, const char *end, const char **w, size_t *wl, int max)
{
    const char *p = *pp;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    *pp = eol != NULL ? eol + 1 : end;
    end = eol != NULL ? eol : end;
    int n = 0;
    while (p < end && *p != '#') {
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
            continue;
        }
        const char *s = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#')
            p++;
        if (n < max) {
            w[n] = s;
            wl[n] = (size_t)(p - s);
        }
        if (++n > max)
            return n;
    }
    return n;
}

int api_tokens_parse(const char *source, const char *text, size_t len, struct api_tokens *out,
                     char *err, size_t err_size)
{
    struct api_tokens t;
    memset(&t, 0, sizeof(t));
    const char *p = text, *end = text + len;
    int rc = 0;
    for (int line = 1; p < end; line++) {
        const char *w[2];
        size_t wl[2];
        int nw = line_words(&p, end, w, wl, 2);
        if (nw == 0)
            continue;
        if (nw != 2) {
            rc = fail(err, err_size, "%s:%d: expected \"SCOPE TOKEN\" (SCOPE read or operate)",
                      source, line);
            goto done;
        }
        char scope_word[16];
        enum api_scope scope;
        snprintf(scope_word, sizeof(scope_word), "%.*s", (int)PL_MIN(wl[0], 15), w[0]);
        if (wl[0] > 15 || api_scope_parse(scope_word, &scope) != 0) {
            rc = fail(err, err_size, "%s:%d: unknown scope '%.*s' (expected read or operate)",
                      source, line, (int)PL_MIN(wl[0], 32), w[0]);
            goto done;
        }
        const char *why = token_problem(w[1], wl[1]);
        if (why != NULL) {
            rc = fail(err, err_size, "%s:%d: the token %s", source, line, why);
            goto done;
        }
        if (t.n >= API_TOKENS_MAX) {
            rc = fail(err, err_size, "%s:%d: more than %d tokens", source, line, API_TOKENS_MAX);
            goto done;
        }
        token_hash(w[1], wl[1], t.hash[t.n]);
        for (int i = 0; i < t.n; i++)
            if (sodium_memcmp(t.hash[i], t.hash[t.n], API_TOKEN_HASH_BYTES) == 0) {
                rc = fail(err, err_size, "%s:%d: the same token as an earlier line", source, line);
                goto done;
            }
        t.scope[t.n++] = scope;
    }
    if (t.n == 0) {
        rc = fail(err, err_size, "%s: holds no token (make one with: platelet token create "
                                 "--scope operate --tokens %s)", source, source);
        goto done;
    }
    *out = t;
done:
    sodium_memzero(&t, sizeof(t));
    return rc;
}

/* Reads a whole small file into sodium_malloc memory (wiped and freed by the caller with
 * sodium_free); checks the mode when `private_only`. */
static int read_secret_file(const char *path, bool private_only, char **text, size_t *len,
                            char *err, size_t err_size)
{
    if (sodium_init() < 0)
        return fail(err, err_size, "libsodium failed to initialise");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, err_size, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        rc = fail(err, err_size, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fail(err, err_size, "%s: not a regular file", path);
        goto done;
    }
    if (private_only && (st.st_mode & 077) != 0) {
        rc = fail(err, err_size, "%s: readable or writable by group or others (mode %03o); "
                                 "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
        goto done;
    }
    if ((size_t)st.st_size > API_TOKEN_FILE_MAX) {
        rc = fail(err, err_size, "%s: larger than %u bytes", path, API_TOKEN_FILE_MAX);
        goto done;
    }
    buf = sodium_malloc(API_TOKEN_FILE_MAX + 1);
    if (buf == NULL) {
        rc = -ENOMEM;
        fail(err, err_size, "%s: out of memory", path);
        goto done;
    }
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, API_TOKEN_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fail(err, err_size, "%s: cannot read: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > API_TOKEN_FILE_MAX) {
            rc = fail(err, err_size, "%s: larger than %u bytes", path, API_TOKEN_FILE_MAX);
            goto done;
        }
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    buf = NULL;
done:
    if (buf != NULL)
        sodium_free(buf); /* sodium_free wipes */
    close(fd);
    return rc;
}

int api_tokens_load(const char *path, struct api_tokens *out, char *err, size_t err_size)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_secret_file(path, true, &text, &len, err, err_size);
    if (rc != 0)
        return rc;
    rc = api_tokens_parse(path, text, len, out, err, err_size);
    sodium_free(text);
    return rc;
}

void api_tokens_clear(struct api_tokens *t) { sodium_memzero(t, sizeof(*t)); }

enum api_scope api_tokens_check(const struct api_tokens *t, const char *authorization)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return API_SCOPE_NONE;
    const char *p = authorization + 7;
    while (*p == ' ')
        p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (token_problem(p, n) != NULL)
        return API_SCOPE_NONE;
    uint8_t h[API_TOKEN_HASH_BYTES];
    token_hash(p, n, h);
    unsigned found = 0;
    for (int i = 0; i < t->n; i++) {
        /* Every entry is compared; the match only selects bits, never a branch. */
        unsigned eq = (unsigned)(sodium_memcmp(h, t->hash[i], API_TOKEN_HASH_BYTES) == 0);
        found |= (unsigned)t->scope[i] & (0u - eq);
    }
    sodium_memzero(h, sizeof(h));
    if (found & API_SCOPE_OPERATE)
        return API_SCOPE_OPERATE;
    return (found & API_SCOPE_READ) ? API_SCOPE_READ : API_SCOPE_NONE;
}

int api_tokens_append(const char *path, enum api_scope scope, const char *token, char *err,
                      size_t err_size)
{
    static const char header[] = "# platelet API tokens: one \"SCOPE TOKEN\" per line, SCOPE read "
                                 "or operate. Keep this file mode 0600.\n";
    char *text = NULL, *out = NULL;
    size_t len = 0;
    int rc;
    if (access(path, F_OK) == 0) {
        struct api_tokens check;
        rc = api_tokens_load(path, &check, err, err_size);
        api_tokens_clear(&check);
        if (rc != 0)
            return rc;
        if ((rc = read_secret_file(path, true, &text, &len, err, err_size)) != 0)
            return rc;
    } else if (errno != ENOENT) {
        return fail(err, err_size, "%s: %s", path, strerror(errno));
    }
    size_t line_len = strlen(api_scope_name(scope)) + 1 + strlen(token) + 1;
    size_t cap = (text != NULL ? len + 1 : sizeof(header)) + line_len + 1;
    out = sodium_malloc(cap);
    if (out == NULL) {
        rc = fail(err, err_size, "%s: out of memory", path);
        goto done;
    }
    int n = snprintf(out, cap, "%s%s%s %s\n", text != NULL ? text : header,
                     text != NULL && len > 0 && text[len - 1] != '\n' ? "\n" : "",
                     api_scope_name(scope), token);
    rc = pl_file_write_atomic(path, out, (size_t)n, 0600);
    if (rc != 0)
        fail(err, err_size, "%s: cannot write: %s", path, strerror(-rc));
done:
    if (out != NULL)
        sodium_free(out);
    if (text != NULL)
        sodium_free(text);
    return rc;
}

void api_token_new(char out[API_TOKEN_NEW_CHARS + 1])
{
    uint8_t raw[API_TOKEN_NEW_CHARS / 2];
    randombytes_buf(raw, sizeof(raw));
    pl_hex_encode(raw, sizeof(raw), out);
    sodium_memzero(raw, sizeof(raw));
}

int api_token_read_client(const char *path, char *out, size_t out_size, char *err,
                          size_t err_size)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_secret_file(path, false, &text, &len, err, err_size);
    if (rc != 0)
        return rc;
    const char *p = text, *end = text + len;
    rc = fail(err, err_size, "%s: holds no token", path);
    for (int line = 1; p < end; line++) {
        const char *w[2];
        size_t wl[2];
        int nw = line_words(&p, end, w, wl, 2);
        if (nw == 0)
            continue;
        if (nw > 2) {
            rc = fail(err, err_size, "%s:%d: expected TOKEN or \"SCOPE TOKEN\"", path, line);
            break;
        }
        const char *tok = w[nw - 1];
        size_t tl = wl[nw - 1];
        const char *why = token_problem(tok, tl);
        if (why != NULL) {
            rc = fail(err, err_size, "%s:%d: the token %s", path, line, why);
            break;
        }
        if (tl + 1 > out_size) {
            rc = fail(err, err_size, "%s:%d: the token is too long", path, line);
            break;
        }
        memcpy(out, tok, tl);
        out[tl] = '\0';
        rc = 0;
        break;
    }
    sodium_free(text);
    return rc;
}
