/*
 * `platelet placement`: where the placed (`replicas: 1`) services run, as the swarm's
 * committed state has them, which members are fenced for flapping, and this node's own
 * placed services with why each runs here or not (see node/agent/placement.h).
 */
#include "api_client.h"
#include "cli.h"
#include "commands.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static void print_placement(const cJSON *doc)
{
    const cJSON *age = cJSON_GetObjectItemCaseSensitive(doc, "majority_contact_age_ms");
    printf("node          %s%s%s\n", json_str(doc, "node"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "healer")) ? " (healer)" : "",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "voter")) ? "" : " (not a voter)");
    printf("caught up     %s\n",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "caught_up")) ? "yes" : "no");
    if (cJSON_IsNumber(age))
        printf("majority      in touch %.0f ms ago\n", age->valuedouble);
    else
        printf("majority      never in touch\n");
    printf("%-20s %-16s %-16s %-8s %s\n", "SERVICE", "NODE", "FROM", "INDEX", "MOVES");
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "placements"))
        printf("%-20s %-16s %-16s %-8.0f %.0f\n", json_str(v, "service"), json_str(v, "node"),
               json_str(v, "prev")[0] ? json_str(v, "prev") : "-", json_num(v, "index"),
               json_num(v, "moves"));
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "declared"))
    {
        printf("declared      %s by", json_str(v, "service"));
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(v, "nodes"))
            printf(" %s (%s, load %.0f)", json_str(x, "node"), json_str(x, "member"),
                   json_num(x, "load"));
        printf("\n");
    }
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "fenced"))
        printf("fenced        %s (flapping) until %.0f\n", json_str(v, "node"),
               json_num(v, "until_ms"));
    const cJSON *local = cJSON_GetObjectItemCaseSensitive(doc, "local");
    if (cJSON_GetArraySize(local) > 0)
        printf("%-20s %-8s %s\n", "HERE", "RUNNING", "WHY");
    cJSON_ArrayForEach(v, local)
        printf("%-20s %-8s %s\n", json_str(v, "service"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "running")) ? "yes" : "no",
               json_str(v, "why"));
}

int cmd_placement(int argc, char **argv)
{
    static const char cmd[] = "platelet placement";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet placement [--api A] [--json]", flags, argc, argv, 0, 0,
                       &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return api_client_run(cmd, api_client_addr(api), "GET", "/v1/placement", NULL, json,
                          print_placement);
}
