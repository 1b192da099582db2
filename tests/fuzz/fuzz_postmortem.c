/*
 * libFuzzer target for what reads a post-mortem's JSON form from outside (replay/
 * postmortem.h): `platelet postmortem --verify FILE` and the renderers behind --html.
 *
 * Whatever the bytes, verifying and rendering must not crash, leak or trip a sanitizer; a
 * document that verifies has every entry checked (the count is the lists' length), and the
 * page rendered from any document is written whole.
 */
#include "pl_assert.h"
#include "postmortem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
    if (doc == NULL)
        return 0;
    char err[256];
    uint64_t n = 0;
    if (postmortem_verify(doc, &n, err, sizeof(err)) == 0)
        PL_ASSERT(n == (uint64_t)cJSON_GetArraySize(cJSON_GetObjectItem(doc, "chain")) +
                           (uint64_t)cJSON_GetArraySize(cJSON_GetObjectItem(doc, "factors")));
    FILE *sink = fopen("/dev/null", "w");
    if (sink != NULL) {
        PL_ASSERT(postmortem_html(doc, sink) == 0);
        postmortem_text(doc, sink);
        fclose(sink);
    }
    cJSON_Delete(doc);
    return 0;
}
