/*
 * `platelet fault drop|delay|dup|partition|clock|clear|list`: run-time fault injection in a
 * running agent's transports and clocks (see fault.h).
 */
#include "api_client.h"
#include "pl_err.h"
#include "cli.h"
#include "commands.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_rules(const cJSON *doc)
{
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(doc, "rules");
    const cJSON *r;
    if (cJSON_GetArraySize(rules) == 0)
        printf("no fault rules\n");
    cJSON_ArrayForEach(r, rules)
    {
        const char *peer = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "peer"));
        const char *dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "direction"));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "partitioned")))
            printf("%-16s %-5s partitioned\n", peer, dir);
        else
            printf("%-16s %-5s drop %.2f delay %d ms (+%d jitter) dup %.2f (+%d ms)\n", peer, dir,
                   cJSON_GetObjectItemCaseSensitive(r, "drop_rate")->valuedouble,
                   (int)cJSON_GetObjectItemCaseSensitive(r, "delay_ms")->valuedouble,
                   (int)cJSON_GetObjectItemCaseSensitive(r, "jitter_ms")->valuedouble,
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "dup_rate")),
                   (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "dup_delay_ms")));
    }
    printf("dropped %.0f, delayed %.0f, duplicated %.0f\n",
           cJSON_GetObjectItemCaseSensitive(doc, "dropped")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(doc, "delayed")->valuedouble,
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "duplicated")));
    const cJSON *clock = cJSON_GetObjectItemCaseSensitive(doc, "clock_offset_ms");
    if (cJSON_IsNumber(clock) && clock->valuedouble != 0)
        printf("clock offset %+.0f ms\n", clock->valuedouble);
}

int cmd_fault(int argc, char **argv)
{
    static const char usage[] =
        "platelet fault drop|delay|dup|partition|clock|clear|list [--peer NAME] [--rate R] [--ms N] "
        "[--jitter-ms N] [--direction in|out|both] [--offset-ms N] [--api A] [--json]";
    if (argc < 1)
        return cli_fail("platelet fault", "missing action (usage: %s)", usage);
    const char *action = argv[0];
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "platelet fault %s", action);
    const char *peer = NULL, *api = NULL, *dir = NULL, *offset = NULL;
    double rate = -1;
    uint64_t ms = 0, jitter = 0;
    bool json = false;
    struct cli_flag flags[] = {
        {"--peer", CLI_STR, &peer, "member name, or * for all (default *)", false, false},
        {"--rate", CLI_DOUBLE, &rate, "drop (drop) or duplicate (dup) probability 0..1", false,
         false},
        {"--ms", CLI_U64, &ms, "added delay in ms (delay), or the copy's delay (dup)", false,
         false},
        {"--jitter-ms", CLI_U64, &jitter, "random extra delay up to N ms (delay)", false, false},
        {"--direction", CLI_STR, &dir, "in, out or both (default both)", false, false},
        {"--offset-ms", CLI_STR, &offset,
         "the agent's clock jumps to now + N ms, N may be negative (clock)", false, false},
        API_CLIENT_FLAG_API,
        API_CLIENT_FLAG_JSON,
        CLI_FLAGS_END,
    };
    struct cli_args args;
    int rc = cli_parse(cmd, usage, flags, argc - 1, argv + 1, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *addr = api_client_addr(api);
    if (strcmp(action, "list") == 0)
        return api_client_run(cmd, addr, "GET", "/v1/fault", NULL, json, print_rules);

    cJSON *body = cJSON_CreateObject();
    if (strcmp(action, "clock") == 0) {
        char *end = NULL;
        errno = 0;
        long long n = offset != NULL ? strtoll(offset, &end, 10) : 0;
        if (offset == NULL) {
            cJSON_Delete(body);
            return cli_fail(cmd, "--offset-ms is required");
        }
        if (offset[0] == '\0' || *end != '\0' || errno != 0) {
            cJSON_Delete(body);
            return cli_fail(cmd, "--offset-ms: '%s' is not a whole number of milliseconds",
                            offset);
        }
        cJSON_AddNumberToObject(body, "clock_offset_ms", (double)n);
        goto send;
    }
    cJSON_AddStringToObject(body, "action", action);
    if (peer != NULL)
        cJSON_AddStringToObject(body, "peer", peer);
    if (dir != NULL)
        cJSON_AddStringToObject(body, "direction", dir);
    if (strcmp(action, "drop") == 0 || strcmp(action, "dup") == 0) {
        if (rate < 0 || rate > 1) {
            cJSON_Delete(body);
            return cli_fail(cmd, "--rate between 0 and 1 is required");
        }
        cJSON_AddNumberToObject(body, "rate", rate);
        if (strcmp(action, "dup") == 0)
            cJSON_AddNumberToObject(body, "ms", (double)ms);
    } else if (strcmp(action, "delay") == 0) {
        if (!flags[2].seen) {
            cJSON_Delete(body);
            return cli_fail(cmd, "--ms is required");
        }
        cJSON_AddNumberToObject(body, "ms", (double)ms);
        cJSON_AddNumberToObject(body, "jitter_ms", (double)jitter);
    } else if (strcmp(action, "partition") != 0 && strcmp(action, "clear") != 0) {
        cJSON_Delete(body);
        return cli_fail("platelet fault", "unknown action '%s' (usage: %s)", action, usage);
    }
send:;
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    rc = api_client_run(cmd, addr, "POST", "/v1/fault", text, json, print_rules);
    free(text);
    return rc;
}
