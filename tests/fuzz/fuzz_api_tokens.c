/*
 * libFuzzer target for the API token file (api_token.h): any bytes either parse into 1 to
 * API_TOKENS_MAX entries or are refused with one line that names the source. The same bytes
 * as an Authorization header value never crash the check, and a file that parsed grants
 * nothing to a header that is not one of its tokens' bearer form.
 */
#include "api_token.h"
#include "pl_assert.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_tokens t;
    char err[512] = "";
    int rc = api_tokens_parse("fuzz.tokens", (const char *)data, size, &t, err, sizeof(err));
    if (rc != 0) {
        PL_ASSERT(strncmp(err, "fuzz.tokens", 11) == 0);
        PL_ASSERT(strchr(err, '\n') == NULL);
        memset(&t, 0, sizeof(t));
    } else {
        PL_ASSERT(t.n >= 1 && t.n <= API_TOKENS_MAX);
        for (int i = 0; i < t.n; i++)
            PL_ASSERT(t.scope[i] == API_SCOPE_READ || t.scope[i] == API_SCOPE_OPERATE);
    }
    char *header = malloc(size + 1);
    if (header == NULL)
        return 0;
    memcpy(header, data, size);
    header[size] = '\0';
    enum api_scope s = api_tokens_check(&t, header);
    /* Only "Bearer <one of our tokens>" gets anything; the raw file never does. */
    if (strncasecmp(header, "Bearer ", 7) != 0)
        PL_ASSERT(s == API_SCOPE_NONE);
    free(header);
    return 0;
}
