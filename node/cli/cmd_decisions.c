/*
 * `platelet decisions` and `platelet rollout restart|stop|start SERVICE`: the healer's
 * cluster-wide decisions and an operator's rolling operation through the council (see
 * node/agent/swarm_actor.h). `platelet approve ID` (cmd_heal.c) approves a waiting
 * decision when ID is a number.
 */
#include "api_client.h"
#include "cli.h"
#include "commands.h"
#include "pl_err.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_decisions(const cJSON *doc)
{
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(doc, "policy");
    printf("blast radius  %.0f in flight, %.0f%% of the fleet per %.0f s\n",
           json_num(pol, "max_in_flight"), json_num(pol, "max_fleet_pct"),
           json_num(pol, "window_ms") / 1000);
    printf("%-8s %-6s %-16s %-12s %-8s %-8s %-8s %s\n", "ID", "TERM", "NODE", "SERVICE", "OP",
           "STATE", "ROLLOUT", "RESULT");
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(doc, "decisions"))
    {
        const char *op = json_str(d, "op");
        char rollout[24] = "-";
        if (json_num(d, "rollout") > 0)
            snprintf(rollout, sizeof(rollout), "%.0f", json_num(d, "rollout"));
        int result = (int)json_num(d, "result");
        printf("%-8.0f %-6.0f %-16s %-12s %-8s %-8s %-8s %s\n", json_num(d, "index"),
               json_num(d, "term"), json_str(d, "node"), json_str(d, "service"),
               op[0] ? op : "action", json_str(d, "state"), rollout,
               result != 0 ? pl_err_name(result) : "");
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "rollouts"))
    {
        printf("rollout %.0f: %s %s, max unavailable %.0f, %s:", json_num(r, "index"),
               json_str(r, "op"), json_str(r, "service"), json_num(r, "max_unavailable"),
               json_str(r, "state"));
        const cJSON *n;
        cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(r, "nodes"))
            printf(" %s=%s", json_str(n, "node"), json_str(n, "step"));
        printf("\n");
    }
}

int cmd_decisions(int argc, char **argv)
{
    static const char cmd[] = "platelet decisions";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet decisions [--api A] [--json]", flags, argc, argv, 0, 0,
                       &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return api_client_run(cmd, api_client_addr(api), "GET", "/v1/decisions", NULL, json,
                          print_decisions);
}

static void print_rollout(const cJSON *doc)
{
    printf("rollout %.0f committed (platelet decisions follows it)\n", json_num(doc, "rollout"));
}

int cmd_rollout(int argc, char **argv)
{
    static const char cmd[] = "platelet rollout";
    static const char usage[] =
        "platelet rollout restart|stop|start SERVICE [--max-unavailable N] [--api A] [--json]";
    const char *api = NULL;
    bool json = false;
    uint64_t max_unavailable = 1;
    struct cli_flag flags[] = {
        API_CLIENT_FLAG_API,
        API_CLIENT_FLAG_JSON,
        {"--max-unavailable", CLI_U64, &max_unavailable,
         "nodes acting at once (default 1)", false, false},
        CLI_FLAGS_END,
    };
    struct cli_args args;
    int rc = cli_parse(cmd, usage, flags, argc, argv, 2, 2, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *op = args.pos[0], *service = args.pos[1];
    if (strcmp(op, "restart") != 0 && strcmp(op, "stop") != 0 && strcmp(op, "start") != 0)
        return cli_fail(cmd, "'%s': expected restart, stop or start (usage: %s)", op, usage);
    if (strlen(service) > 63 || service[0] == '\0')
        return cli_fail(cmd, "'%s' is not a service name", service);
    if (max_unavailable < 1 || max_unavailable > 32)
        return cli_fail(cmd, "--max-unavailable: expected 1 to 32, got %llu",
                        (unsigned long long)max_unavailable);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "service", service);
    cJSON_AddStringToObject(body, "op", op);
    cJSON_AddNumberToObject(body, "max_unavailable", (double)max_unavailable);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    rc = api_client_run(cmd, api_client_addr(api), "POST", "/v1/rollouts", text, json,
                        print_rollout);
    free(text);
    return rc;
}
