/*
 * `platelet strategies [--json]`: what the swarm learned, per anomaly signature, the action
 * its next incident starts with (GET /v1/strategies; every voter at the same applied index
 * answers the same document). `platelet strategies explain SIGNATURE`: one signature's
 * posterior mean and 90 % interval per action, its counts and what the last choice drew.
 */
#include "api_client.h"
#include "cli.h"
#include "commands.h"
#include "pl_err.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static void print_strategies(const cJSON *doc)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "strategies");
    printf("applied index %.0f, %d signatures\n", json_num(doc, "applied_index"),
           cJSON_GetArraySize(list));
    if (cJSON_GetArraySize(list) == 0) {
        printf("nothing learned yet: incidents teach the swarm when they close\n");
        return;
    }
    printf("%-56s %-13s %-13s %s\n", "SIGNATURE", "FIRST ACTION", "RULES' FIRST", "OUTCOMES");
    const cJSON *g;
    cJSON_ArrayForEach(g, list)
    {
        printf("%-56s %-13s %-13s %.0f%s\n", json_str(g, "signature"), json_str(g, "choice"),
               json_str(g, "rules_first"), json_num(g, "outcomes"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "explored")) ? " (exploring)"
                                                                               : "");
    }
}

static void print_explain(const cJSON *g)
{
    printf("signature   %s\n", json_str(g, "signature"));
    printf("            service %s, class %s, cause %s, signal %s, feature %s\n",
           json_str(g, "service"), json_str(g, "class"), json_str(g, "cause"),
           json_str(g, "signal"), json_str(g, "feature"));
    printf("next first  %s%s (the rules say %s), drawn at index %.0f, term %.0f\n",
           json_str(g, "choice"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "explored")) ? ", exploring" : "",
           json_str(g, "rules_first"), json_num(g, "chosen_at_index"),
           json_num(g, "chosen_at_term"));
    printf("outcomes    %.0f\n", json_num(g, "outcomes"));
    printf("%-14s %6s  %-15s %9s %9s %7s\n", "ACTION", "MEAN", "90% INTERVAL", "SUCCESSES",
           "FAILURES", "DRAWN");
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(g, "actions"))
    {
        printf("%-14s %6.3f  [%.3f, %.3f]  %9.0f %9.0f %7.3f\n", json_str(a, "action"),
               json_num(a, "mean"), json_num(a, "low"), json_num(a, "high"),
               json_num(a, "successes"), json_num(a, "failures"), json_num(a, "drawn"));
    }
}

int cmd_strategies(int argc, char **argv)
{
    static const char cmd[] = "platelet strategies";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet strategies [explain SIGNATURE] [--api A] [--json]", flags,
                       argc, argv, 0, 2, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (args.npos == 0)
        return api_client_run(cmd, api_client_addr(api), "GET", "/v1/strategies", NULL, json,
                              print_strategies);
    if (strcmp(args.pos[0], "explain") != 0 || args.npos != 2)
        return cli_fail(cmd, "expected no words, or: explain SIGNATURE");
    cJSON *doc = NULL;
    rc = api_client_json(cmd, api_client_addr(api), "GET", "/v1/strategies", NULL, 0, &doc);
    if (rc != 0)
        return rc;
    const cJSON *g, *found = NULL;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(doc, "strategies"))
        if (strcmp(json_str(g, "signature"), args.pos[1]) == 0)
            found = g;
    if (found == NULL) {
        cJSON_Delete(doc);
        fprintf(stderr, "%s: no signature '%s' (platelet strategies lists them)\n", cmd,
                args.pos[1]);
        return PL_ENOTFOUND;
    }
    if (json)
        api_client_print_json(found, 1);
    else
        print_explain(found);
    cJSON_Delete(doc);
    return 0;
}
