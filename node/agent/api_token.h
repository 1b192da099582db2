/*
 * API tokens: who may use the agent's TCP API, and for what.
 *
 * The agent reads them from its token file (`api_token_file`), one token per line with
 * its scope first; '#' starts a comment, blank lines are skipped:
 *
 *     # platelet API tokens
 *     operate 3f9c...64 hex digits...
 *     read    b71e...
 *
 * `read` may GET; `operate` may also change things (every other method). A token is 32 to
 * 128 characters of the RFC 6750 token alphabet (letters, digits, -._~+/ and trailing =);
 * `platelet token create` makes 64 hex digits from libsodium's generator. The file must
 * be readable by its owner only, like node.key.
 *
 * Only a hash of each token is kept in memory (BLAKE2b-256), and a presented token is
 * compared against every entry with sodium_memcmp, so neither its content nor which entry
 * it matched shows in the time an answer takes.
 */
#ifndef PL_API_TOKEN_H
#define PL_API_TOKEN_H

#include <stddef.h>
#include <stdint.h>

enum api_scope { API_SCOPE_NONE = 0, API_SCOPE_READ = 1, API_SCOPE_OPERATE = 2 };

#define API_TOKENS_MAX 64
#define API_TOKEN_MIN_CHARS 32
#define API_TOKEN_MAX_CHARS 128
#define API_TOKEN_FILE_MAX (64u << 10)
#define API_TOKEN_HASH_BYTES 32

struct api_tokens {
    int n;
    uint8_t hash[API_TOKENS_MAX][API_TOKEN_HASH_BYTES];
    enum api_scope scope[API_TOKENS_MAX];
};

/*
 * Parses a token file's text; `source` names it in errors ("api.tokens:3: ..."). 0, or
 * PL_ECONFIG with one line in err. Out-parameter untouched on failure.
 */
int api_tokens_parse(const char *source, const char *text, size_t len, struct api_tokens *out,
                     char *err, size_t err_size);

/*
 * Reads and parses `path`: refused when it is not a regular file, is readable or writable
 * by group or others, is larger than API_TOKEN_FILE_MAX or holds no token. The text read
 * is wiped before returning.
 */
int api_tokens_load(const char *path, struct api_tokens *out, char *err, size_t err_size);

/* Wipes the hashes. */
void api_tokens_clear(struct api_tokens *t);

/*
 * The scope of an `Authorization` header value ("Bearer TOKEN"); API_SCOPE_NONE when the
 * value is NULL, not a bearer token or not one of ours. Constant time in which entry
 * matched.
 */
enum api_scope api_tokens_check(const struct api_tokens *t, const char *authorization);

/* "read", "operate" (and "none"). */
const char *api_scope_name(enum api_scope scope);
/* 0 and *out, or PL_EMALFORMED for any other word. */
int api_scope_parse(const char *name, enum api_scope *out);

/*
 * Adds the line "SCOPE TOKEN" to the token file at `path`, creating it (mode 0600) when
 * absent; an existing file must pass api_tokens_load() first. The file is replaced whole
 * (pl_file.h). 0, or a negative code with one line in err.
 */
int api_tokens_append(const char *path, enum api_scope scope, const char *token, char *err,
                      size_t err_size);

/* Makes a fresh token: 64 hex digits from 32 random bytes, NUL-terminated. */
#define API_TOKEN_NEW_CHARS 64
void api_token_new(char out[API_TOKEN_NEW_CHARS + 1]);

/*
 * The token a client sends, from a token file: the first line that is not blank or a
 * comment, either "TOKEN" alone (what `token create --out` writes, and what Prometheus'
 * `credentials_file` reads) or "SCOPE TOKEN" (a line of the agent's own file). 0, or a
 * negative code with one line in err.
 */
int api_token_read_client(const char *path, char *out, size_t out_size, char *err,
                          size_t err_size);

#endif
