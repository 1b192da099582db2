/*
 * `platelet status`: the one screen an operator reads first. It asks the agent for its
 * Raft view, its members, its services, its open incidents and the swarm's replicated
 * state, and prints this node, the council and its healer, members by status, services,
 * open incidents, the ledger's size and root and the state hash (or all of it as one JSON
 * document with --json).
 */
#include "api_client.h"
#include "cli.h"
#include "commands.h"
#include "pl_err.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *key, *path;
} parts[] = {
    {"raft", "/v1/raft/status"}, {"members", "/v1/members"}, {"services", "/v1/services"},
    {"open_incidents", "/v1/incidents?open=1"}, {"swarm", "/v1/swarm"},
};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

static void print_status(const cJSON *doc)
{
    const cJSON *raft = cJSON_GetObjectItemCaseSensitive(doc, "raft");
    const cJSON *swarm = cJSON_GetObjectItemCaseSensitive(doc, "swarm");
    const cJSON *ledger = cJSON_GetObjectItemCaseSensitive(raft, "ledger");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(swarm, "state");
    const cJSON *alarm = cJSON_GetObjectItemCaseSensitive(swarm, "divergence");
    printf("node        %s (%s, term %.0f)\n", json_str(raft, "id"), json_str(raft, "role"),
           json_num(raft, "term"));
    const char *leader = json_str(raft, "leader");
    printf("healer      %s\n", leader[0] ? leader : "none (no Raft leader known)");
    printf("council    ");
    const cJSON *v;
    const cJSON *voters = cJSON_GetObjectItemCaseSensitive(raft, "voters");
    cJSON_ArrayForEach(v, voters)
        printf(" %s", cJSON_GetStringValue(v));
    printf("%s\n", cJSON_GetArraySize(voters) == 0 ? " - (not a member of a council yet)" : "");
    if (json_str(raft, "waiting")[0])
        printf("            %s\n", json_str(raft, "waiting"));
    static const char *const st[] = {"alive", "suspect", "dead", "left"};
    int count[4] = {0};
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "members"))
        for (int i = 0; i < 4; i++)
            count[i] += strcmp(json_str(v, "status"), st[i]) == 0;
    printf("members     %d alive, %d suspect, %d dead, %d left\n", count[0], count[1], count[2],
           count[3]);
    const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "services"), "services");
    int n = 0, healthy = 0;
    cJSON_ArrayForEach(v, svcs)
    {
        n++;
        healthy += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "healthy"));
    }
    printf("services    %d of %d healthy\n", healthy, n);
    cJSON_ArrayForEach(v, svcs)
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "healthy")))
            printf("            %s: %s, %s\n", json_str(v, "name"), json_str(v, "process"),
                   json_str(v, "healing"));
    const cJSON *open = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "open_incidents"), "incidents");
    printf("incidents   %d open\n", cJSON_GetArraySize(open));
    cJSON_ArrayForEach(v, open)
        printf("            %s %s: %s, level %.0f\n", json_str(v, "id"), json_str(v, "service"),
               json_str(cJSON_GetObjectItemCaseSensitive(v, "diagnosis"), "summary"),
               json_num(v, "level"));
    /* The healer's decisions: what waits for an operator is what they must see here. */
    int pending = 0, waiting = 0, running = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(state, "decisions"))
    {
        pending += strcmp(json_str(v, "state"), "pending") == 0;
        waiting += strcmp(json_str(v, "state"), "waiting") == 0;
    }
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(state, "rollouts"))
        running += strcmp(json_str(v, "state"), "running") == 0;
    printf("decisions   %d pending, %d waiting for approval, %d rollout(s) running\n", pending,
           waiting, running);
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(state, "decisions"))
        if (strcmp(json_str(v, "state"), "waiting") == 0)
            printf("            %.0f: %s %s on %s (platelet approve %.0f)\n", json_num(v, "index"),
                   json_str(v, "op")[0] ? json_str(v, "op") : "action", json_str(v, "service"),
                   json_str(v, "node"), json_num(v, "index"));
    printf("ledger      size %.0f root %s\n", json_num(ledger, "size"), json_str(ledger, "root"));
    printf("state       index %.0f hash %s\n", json_num(state, "applied_index"),
           json_str(state, "state_hash"));
    if (json_num(alarm, "count") > 0)
        printf("DIVERGENCE  %s\n", json_str(alarm, "last"));
}

int cmd_status(int argc, char **argv)
{
    static const char cmd[] = "platelet status";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet status [--api A] [--json]", flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *addr = api_client_addr(api);
    cJSON *doc = cJSON_CreateObject();
    for (size_t i = 0; i < NPARTS && rc == 0; i++) {
        cJSON *part = NULL;
        rc = api_client_json(cmd, addr, "GET", parts[i].path, NULL, 0, &part);
        if (rc == 0)
            cJSON_AddItemToObject(doc, parts[i].key, part);
    }
    if (rc == 0) {
        if (json)
            api_client_print_json(doc, 0);
        else
            print_status(doc);
    }
    cJSON_Delete(doc);
    return rc;
}
