/*
 * The healing commands: `platelet services`, `platelet service stop|start NAME`,
 * `platelet incidents`, `platelet incident ID` and `platelet approve ID`. Each asks a
 * running agent's API (heal_api.c).
 */
#include "api_client.h"
#include "pl_err.h"
#include "cli.h"
#include "commands.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>


static void print_services(const cJSON *doc)
{
    printf("%-16s %-10s %-9s %-8s %-7s %-9s %s\n", "SERVICE", "TYPE", "PROCESS", "PID", "HEALTHY",
           "RESTARTS", "INCIDENT / LAST CHECK");
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "services"))
    {
        const cJSON *checks = cJSON_GetObjectItemCaseSensitive(s, "checks");
        const cJSON *c0 = cJSON_GetArrayItem(checks, 0);
        const char *inc = json_str(s, "open_incident");
        printf("%-16s %-10s %-9s %-8.0f %-7s %-9.0f %s\n", json_str(s, "name"), json_str(s, "type"),
               json_str(s, "process"), json_num(s, "pid"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "healthy")) ? "yes" : "no",
               json_num(s, "restarts_in_window"),
               inc[0] ? inc : (c0 != NULL ? json_str(c0, "last_detail") : "-"));
    }
}

int cmd_services(int argc, char **argv)
{
    static const char cmd[] = "platelet services";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet services [--api A] [--json]", flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return api_client_run(cmd, api_client_addr(api), "GET", "/v1/services", NULL, json,
                          print_services);
}

static void print_service(const cJSON *s)
{
    printf("%s: process %s, healing %s\n", json_str(s, "name"), json_str(s, "process"),
           json_str(s, "healing"));
}

int cmd_service(int argc, char **argv)
{
    static const char cmd[] = "platelet service";
    static const char usage[] = "platelet service stop|start NAME [--api A] [--json]";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, usage, flags, argc, argv, 2, 2, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *verb = args.pos[0], *name = args.pos[1];
    if (strcmp(verb, "stop") != 0 && strcmp(verb, "start") != 0)
        return cli_fail(cmd, "'%s': expected stop or start (usage: %s)", verb, usage);
    if (strlen(name) > 63 || strpbrk(name, "/?#% ") != NULL)
        return cli_fail(cmd, "'%s' is not a service name", name);
    char path[128];
    snprintf(path, sizeof(path), "/v1/services/%s/%s", name, verb);
    return api_client_run(cmd, api_client_addr(api), "POST", path, "{}", json, print_service);
}

static void print_incident_row(const cJSON *i)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(i, "diagnosis");
    printf("%-34s %-12s %-16s %-8s %-16s %-19s %s\n", json_str(i, "id"), json_str(i, "service"),
           json_str(i, "state"), json_str(i, "outcome"), json_str(d, "class"), json_str(d, "cause"),
           json_str(d, "signal"));
}

static void print_incidents(const cJSON *doc)
{
    printf("%-34s %-12s %-16s %-8s %-16s %-19s %s\n", "ID", "SERVICE", "STATE", "OUTCOME",
           "CLASS", "CAUSE", "SIGNAL");
    const cJSON *i;
    cJSON_ArrayForEach(i, cJSON_GetObjectItemCaseSensitive(doc, "incidents"))
        print_incident_row(i);
}

/* --cluster: every node's incidents as the swarm's replicated state holds them. */
static void print_cluster_incidents(const cJSON *doc)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "state");
    printf("%-34s %-12s %-12s %-7s %-9s %-6s %s\n", "ID", "NODE", "SERVICE", "STATE", "OUTCOME",
           "LEVEL", "ACTIONS");
    const cJSON *i;
    cJSON_ArrayForEach(i, cJSON_GetObjectItemCaseSensitive(st, "incidents"))
        printf("%-34s %-12s %-12s %-7s %-9s %-6.0f %.0f\n", json_str(i, "id"), json_str(i, "node"),
               json_str(i, "service"), json_str(i, "state"), json_str(i, "outcome"),
               json_num(i, "level"), json_num(i, "actions"));
    /* One incident for a failure many nodes share (a dependency down, the network). */
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(st, "cluster_incidents");
    if (cJSON_GetArraySize(cl) == 0)
        return;
    printf("\ncluster incidents\n%-40s %-12s %-7s %-19s %-6s %s\n", "ID", "SERVICE", "STATE",
           "CAUSE", "NODES", "ESCALATED");
    cJSON_ArrayForEach(i, cl)
        printf("%-40s %-12s %-7s %-19s %2.0f/%-3.0f %s\n", json_str(i, "id"),
               json_str(i, "service"), json_str(i, "state"), json_str(i, "cause"),
               json_num(i, "nodes"), json_num(i, "members"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(i, "escalated")) ? "yes" : "no");
}

int cmd_incidents(int argc, char **argv)
{
    static const char cmd[] = "platelet incidents";
    const char *api = NULL;
    bool json = false, open = false, cluster = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON,
                               {"--open", CLI_BOOL, &open, "only open incidents", false, false},
                               {"--cluster", CLI_BOOL, &cluster,
                                "every node's incidents, from the swarm's replicated state",
                                false, false},
                               CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet incidents [--api A] [--open | --cluster] [--json]", flags,
                       argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (open && cluster)
        return cli_fail(cmd, "give at most one of --open and --cluster");
    if (cluster)
        return api_client_run(cmd, api_client_addr(api), "GET", "/v1/swarm", NULL, json,
                              print_cluster_incidents);
    return api_client_run(cmd, api_client_addr(api), "GET",
                          open ? "/v1/incidents?open=1" : "/v1/incidents", NULL, json,
                          print_incidents);
}

static void print_incident(const cJSON *i)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(i, "diagnosis");
    printf("incident %s\n  service   %s on %s\n  state     %s %s (escalation level %.0f, %s)\n",
           json_str(i, "id"), json_str(i, "service"), json_str(i, "node"), json_str(i, "state"),
           json_str(i, "outcome"), json_num(i, "level"), json_str(i, "level_name"));
    printf("  diagnosis %s, cause %s (confidence %.2f), severity %.0f\n", json_str(d, "class"),
           json_str(d, "cause"), json_num(d, "confidence"), json_num(d, "severity"));
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(d, "evidence"))
    {
        char thr[48] = "";
        if (json_num(e, "threshold") != 0)
            snprintf(thr, sizeof(thr), " (threshold %g)", json_num(e, "threshold"));
        printf("  evidence  %s %s = %g%s: %s\n", json_str(e, "source"), json_str(e, "metric"),
               json_num(e, "value"), thr, json_str(e, "detail"));
    }
    printf("  timeline\n");
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(i, "timeline"))
    {
        const char *action = json_str(e, "action");
        printf("    %s  %-13s %-12s %-12s %s\n", json_str(e, "time"), json_str(e, "kind"),
               strcmp(action, "none") == 0 ? "" : action,
               json_num(e, "result") != 0 ? json_str(e, "result_name") : "", json_str(e, "detail"));
    }
}

/* `platelet incident ID`: one incident id, then one API call on /v1/incidents/ID followed
 * by suffix. */
static int incident_call(const char *cmd, const char *usage, const char *method,
                         const char *suffix, const char *body, void (*print)(const cJSON *),
                         int argc, char **argv)
{
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, usage, flags, argc, argv, 1, 1, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *id = args.pos[0];
    if (strlen(id) > 95 || strpbrk(id, "/?#% ") != NULL)
        return cli_fail(cmd, "'%s' is not an incident id", id);
    char path[160];
    snprintf(path, sizeof(path), "/v1/incidents/%s%s", id, suffix);
    return api_client_run(cmd, api_client_addr(api), method, path, body, json, print);
}

int cmd_incident(int argc, char **argv)
{
    return incident_call("platelet incident", "platelet incident ID [--api A] [--json]", "GET",
                         "", NULL, print_incident, argc, argv);
}

static void print_approved(const cJSON *doc)
{
    printf("approved %s\n", json_str(doc, "id"));
}

/* An incident's id, or a decision's number (its index): the healer's decisions that wait
 * past the blast radius are approved the same way. */
int cmd_approve(int argc, char **argv)
{
    static const char cmd[] = "platelet approve";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet approve INCIDENT|DECISION [--api A] [--json]", flags,
                       argc, argv, 1, 1, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *id = args.pos[0];
    bool decision = id[0] != '\0' && strspn(id, "0123456789") == strlen(id) && strlen(id) < 20;
    if (!decision && (strlen(id) > 95 || strpbrk(id, "/?#% ") != NULL))
        return cli_fail(cmd, "'%s' is not an incident id or a decision number", id);
    char path[160];
    snprintf(path, sizeof(path), "/v1/%s/%s/approve", decision ? "decisions" : "incidents", id);
    return api_client_run(cmd, api_client_addr(api), "POST", path, "{}", json, print_approved);
}
