/*
 * `platelet raft status|transfer|add-voter|remove`, `platelet propose` and `platelet swarm
 * status`: the Raft council of a running agent and the swarm state it replicates (see
 * agent_raft.c).
 */
#include "api_client.h"
#include "pl_err.h"
#include "cli.h"
#include "commands.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_list(const char *label, const cJSON *arr)
{
    printf("%-14s", label);
    const cJSON *v;
    int first = 1;
    cJSON_ArrayForEach(v, arr)
    {
        printf("%s%s", first ? "" : ", ", cJSON_GetStringValue(v));
        first = 0;
    }
    printf("%s\n", first ? "-" : "");
}

static void print_status(const cJSON *doc)
{
    const cJSON *ledger = cJSON_GetObjectItemCaseSensitive(doc, "ledger");
    printf("%-14s%s\n", "node", json_str(doc, "id"));
    printf("%-14s%s\n", "role", json_str(doc, "role"));
    if (json_str(doc, "waiting")[0] != '\0')
        printf("%-14s%s\n", "waiting", json_str(doc, "waiting"));
    printf("%-14s%.0f\n", "term", json_num(doc, "term"));
    printf("%-14s%s\n", "leader", json_str(doc, "leader")[0] ? json_str(doc, "leader") : "(none)");
    printf("%-14s%.0f\n", "commit index", json_num(doc, "commit_index"));
    printf("%-14s%.0f\n", "last applied", json_num(doc, "last_applied"));
    print_list("voters", cJSON_GetObjectItemCaseSensitive(doc, "voters"));
    print_list("learners", cJSON_GetObjectItemCaseSensitive(doc, "learners"));
    printf("%-14s%.0f entries, root %s\n", "ledger", json_num(ledger, "size"), json_str(ledger, "root"));
}

static void print_done(const cJSON *doc)
{
    (void)doc;
    printf("done\n");
}

int cmd_raft(int argc, char **argv)
{
    static const char usage[] =
        "platelet raft status | transfer [--to NAME] | add-voter NAME | remove NAME [--api A] [--json]";
    const char *api = NULL, *to = NULL;
    bool json = false;
    struct cli_flag flags[] = {
        API_CLIENT_FLAG_API,
        API_CLIENT_FLAG_JSON,
        {"--to", CLI_STR, &to, "transfer: the member to hand leadership to", false, false},
        CLI_FLAGS_END,
    };
    struct cli_args args;
    int rc = cli_parse("platelet raft", usage, flags, argc, argv, 1, 2, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *op = args.pos[0];
    char cmd[48];
    snprintf(cmd, sizeof(cmd), "platelet raft %s", op);
    const char *addr = api_client_addr(api);
    if (strcmp(op, "status") == 0) {
        if (args.npos != 1)
            return cli_fail(cmd, "takes no argument");
        return api_client_run(cmd, addr, "GET", "/v1/raft/status", NULL, json, print_status);
    }
    const char *path = NULL, *name = NULL;
    if (strcmp(op, "transfer") == 0) {
        if (args.npos != 1)
            return cli_fail(cmd, "takes no argument (use --to NAME)");
        path = "/v1/raft/transfer";
        name = to;
    } else if (strcmp(op, "add-voter") == 0 || strcmp(op, "remove") == 0) {
        if (args.npos != 2)
            return cli_fail(cmd, "needs the member's name (usage: %s)", usage);
        path = strcmp(op, "remove") == 0 ? "/v1/raft/remove" : "/v1/raft/add-voter";
        name = args.pos[1];
    } else {
        return cli_fail("platelet raft", "unknown operation '%s' (usage: %s)", op, usage);
    }
    cJSON *body = cJSON_CreateObject();
    if (name != NULL)
        cJSON_AddStringToObject(body, "name", name);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    rc = api_client_run_timeout(cmd, addr, "POST", path, text, 40000, json, print_done);
    free(text);
    return rc;
}

static void print_committed(const cJSON *doc)
{
    printf("committed at index %.0f (ledger entry %.0f, term %.0f)\n", json_num(doc, "index"),
           json_num(doc, "ledger_index"), json_num(doc, "term"));
}

int cmd_propose(int argc, char **argv)
{
    static const char cmd[] = "platelet propose";
    const char *api = NULL, *kind = "note";
    bool json = false;
    struct cli_flag flags[] = {
        API_CLIENT_FLAG_API,
        API_CLIENT_FLAG_JSON,
        {"--kind", CLI_STR, &kind, "entry kind (default note)", false, false},
        CLI_FLAGS_END,
    };
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet propose [--kind K] [--api A] [--json] 'JSON'", flags, argc,
                       argv, 1, 1, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    cJSON *body = cJSON_Parse(args.pos[0]);
    if (body == NULL)
        return cli_fail(cmd, "the entry is not valid JSON: %s", args.pos[0]);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "kind", kind);
    cJSON_AddItemToObject(req, "body", body);
    char *text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    rc = api_client_run(cmd, api_client_addr(api), "POST", "/v1/propose", text, json,
                        print_committed);
    free(text);
    return rc;
}

static void print_swarm(const cJSON *doc)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "state");
    const cJSON *ledger = cJSON_GetObjectItemCaseSensitive(doc, "ledger");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(st, "counters");
    const cJSON *alarm = cJSON_GetObjectItemCaseSensitive(doc, "divergence");
    const char *healer = json_str(doc, "healer");
    printf("node          %s\n", json_str(doc, "node"));
    printf("healer        %s (term %.0f)\n", healer[0] ? healer : "-", json_num(doc, "term"));
    printf("ledger        size %.0f root %s\n", json_num(ledger, "size"), json_str(ledger, "root"));
    printf("state         index %.0f hash %s\n", json_num(st, "applied_index"),
           json_str(st, "state_hash"));
    printf("entries       %.0f applied, %.0f duplicates, %.0f foreign, %.0f rejected\n",
           json_num(c, "applied"), json_num(c, "duplicates"), json_num(c, "foreign"),
           json_num(c, "rejected"));
    printf("divergence    %s\n", json_num(alarm, "count") > 0 ? json_str(alarm, "last") : "none");
    const cJSON *council = cJSON_GetObjectItemCaseSensitive(doc, "council");
    if (council != NULL) {
        printf("council      ");
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(council, "voters"))
            printf(" %s", cJSON_GetStringValue(x) ? cJSON_GetStringValue(x) : "?");
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(council, "learners"))
            printf(" %s(learner)", cJSON_GetStringValue(x) ? cJSON_GetStringValue(x) : "?");
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(st, "council");
        printf("; autopilot %s, %.0f changes\n",
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(council, "autopilot")) ? "on" : "off",
               json_num(sc, "changes"));
    }
    printf("%-16s %-6s %-10s %-18s %s\n", "VOTER", "ALIVE", "LEDGER", "STATE HASH", "ROOT");
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "voters"))
        printf("%-16s %-6s %-10.0f %-18.16s %.16s\n", json_str(v, "name"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "alive")) ? "yes" : "no",
               json_num(v, "ledger_size"), json_str(v, "state_hash"), json_str(v, "root"));
}

int cmd_swarm(int argc, char **argv)
{
    static const char cmd[] = "platelet swarm";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet swarm status [--api A] [--json]", flags, argc, argv, 1, 1,
                       &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (strcmp(args.pos[0], "status") != 0)
        return cli_fail(cmd, "'%s': expected status", args.pos[0]);
    return api_client_run(cmd, api_client_addr(api), "GET", "/v1/swarm", NULL, json,
                          print_swarm);
}
