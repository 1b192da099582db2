/*
 * The "decisions" gossip record of swarm_record.h: written by the leader, read by members
 * that are not voters.
 */
#include "swarm_record.h"

#include "pl_err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void swarm_record_from_state(const struct swarm_state *s, uint64_t term, struct swarm_record *out)
{
    memset(out, 0, sizeof(*out));
    out->term = term;
    for (uint32_t i = 0; i < s->ndecisions && out->n < SWARM_RECORD_MAX; i++)
        if (s->decisions[i].state == SWARM_DECISION_PENDING)
            out->d[out->n++] = s->decisions[i];
}

char *swarm_record_encode(const struct swarm_record *r)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "term", (double)r->term);
    cJSON *list = cJSON_AddArrayToObject(doc, "decisions");
    for (uint32_t i = 0; list != NULL && i < r->n && i < SWARM_RECORD_MAX; i++) {
        const struct swarm_decision *d = &r->d[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "id", (double)d->index);
        cJSON_AddNumberToObject(x, "term", (double)d->term);
        cJSON_AddStringToObject(x, "node", d->node);
        cJSON_AddStringToObject(x, "service", d->service);
        cJSON_AddNumberToObject(x, "op", d->action);
        cJSON_AddItemToArray(list, x);
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

/* An integer member within [0, max] (exact in a double: max <= 2^53). */
static int get_uint(const cJSON *o, const char *key, double max, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return PL_EMALFORMED;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int get_name(const cJSON *o, const char *key, char *out, size_t size)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    if (s == NULL || s[0] == '\0' || strlen(s) >= size)
        return PL_EMALFORMED;
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

#define UINT_EXACT_MAX 9007199254740992.0 /* 2^53 */

int swarm_record_parse(const char *text, size_t len, struct swarm_record *out)
{
    if (len > SWARM_RECORD_BYTES_MAX)
        return PL_ETOOBIG;
    cJSON *doc = cJSON_ParseWithLength(text, len);
    struct swarm_record *r = calloc(1, sizeof(*r));
    int rc = doc != NULL && cJSON_IsObject(doc) && r != NULL ? 0 : PL_EMALFORMED;
    if (r == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = get_uint(doc, "term", UINT_EXACT_MAX, &r->term);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "decisions");
    if (rc == 0 && (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > SWARM_RECORD_MAX))
        rc = PL_EMALFORMED;
    const cJSON *x;
    const cJSON *items = rc == 0 ? list : NULL;
    cJSON_ArrayForEach(x, items)
    {
        struct swarm_decision *d = &r->d[r->n++];
        uint64_t op = 0;
        d->state = SWARM_DECISION_PENDING;
        if (!cJSON_IsObject(x) || get_uint(x, "id", UINT_EXACT_MAX, &d->index) != 0 ||
            d->index == 0 || get_uint(x, "term", UINT_EXACT_MAX, &d->term) != 0 ||
            get_uint(x, "op", 255, &op) != 0 ||
            get_name(x, "node", d->node, sizeof(d->node)) != 0 ||
            get_name(x, "service", d->service, sizeof(d->service)) != 0) {
            rc = PL_EMALFORMED;
            break;
        }
        d->action = (uint8_t)op;
    }
    if (rc == 0)
        *out = *r;
    free(r);
    cJSON_Delete(doc);
    return rc;
}
