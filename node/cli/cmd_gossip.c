/*
 * The membership commands: `platelet members`, `join`, `leave`, `event`, `events`,
 * `state`, `keys`, `counters`. Each talks to a running agent's API (see agent_gossip.c).
 */
#include "api_client.h"
#include "pl_err.h"
#include "cli.h"
#include "commands.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void print_members(const cJSON *doc)
{
    const cJSON *m;
    printf("%-20s %-22s %-8s %s\n", "NAME", "ADDRESS", "STATUS", "TAGS");
    cJSON_ArrayForEach(m, doc)
    {
        char tags[256] = "";
        size_t off = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(m, "tags"))
        {
            int n = snprintf(tags + off, sizeof(tags) - off, "%s%s=%s", off ? "," : "", t->string,
                             cJSON_GetStringValue(t));
            if (n < 0 || (size_t)n >= sizeof(tags) - off)
                break;
            off += (size_t)n;
        }
        printf("%-20s %-22s %-8s %s\n", json_str(m, "name"), json_str(m, "addr"),
               json_str(m, "status"), tags);
    }
}

int cmd_members(int argc, char **argv)
{
    static const char cmd[] = "platelet members";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet members [--api A] [--json]", flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return api_client_run(cmd, api_client_addr(api), "GET", "/v1/members", NULL, json,
                           print_members);
}

static void print_join(const cJSON *doc)
{
    printf("joined through %.0f of %.0f address(es)\n", json_num(doc, "joined"),
           json_num(doc, "tried"));
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(doc, "failed"))
        printf("  %s: %s\n", json_str(f, "addr"), json_str(f, "error"));
}

int cmd_join(int argc, char **argv)
{
    static const char cmd[] = "platelet join";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet join HOST:PORT... [--api A]", flags, argc, argv, 1,
                       CLI_POS_MAX, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    cJSON *body = cJSON_CreateObject();
    cJSON *addrs = cJSON_AddArrayToObject(body, "addrs");
    for (int i = 0; i < args.npos; i++)
        cJSON_AddItemToArray(addrs, cJSON_CreateString(args.pos[i]));
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    /* The agent answers once each exchange has ended, within its gossip tcp_timeout_ms
     * (at most 600 s); a join that reached no one is an error (exit 1). */
    rc = api_client_run_timeout(cmd, api_client_addr(api), "POST", "/v1/join", text, 610000, json,
                                print_join);
    free(text);
    return rc;
}

static void print_leave(const cJSON *doc)
{
    (void)doc;
    printf("leaving the cluster; the agent stops once the others know\n");
}

int cmd_leave(int argc, char **argv)
{
    static const char cmd[] = "platelet leave";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet leave [--api A]", flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return api_client_run(cmd, api_client_addr(api), "POST", "/v1/leave", "{}", json, print_leave);
}

static void print_event(const cJSON *doc)
{
    printf("event sent at lamport time %.0f\n", json_num(doc, "ltime"));
}

int cmd_event(int argc, char **argv)
{
    static const char cmd[] = "platelet event";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet event NAME [PAYLOAD] [--api A]", flags, argc, argv, 1, 2,
                       &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", args.pos[0]);
    cJSON_AddStringToObject(body, "payload", args.npos > 1 ? args.pos[1] : "");
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    rc = api_client_run(cmd, api_client_addr(api), "POST", "/v1/event", text, json, print_event);
    free(text);
    return rc;
}

static void print_events(const cJSON *doc)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, doc)
        printf("%6.0f %-16s %-16s %s\n", json_num(e, "ltime"), json_str(e, "origin"),
               json_str(e, "name"), json_str(e, "payload"));
}

int cmd_events(int argc, char **argv)
{
    static const char cmd[] = "platelet events";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet events [--api A] [--json]", flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return api_client_run(cmd, api_client_addr(api), "GET", "/v1/events", NULL, json, print_events);
}

static void print_state(const cJSON *doc)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, doc)
    {
        char *v = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, "value"));
        printf("%-16s %-20s v%-6.0f %s\n", json_str(r, "node"), json_str(r, "key"),
               json_num(r, "version"), v != NULL ? v : "");
        free(v);
    }
}

int cmd_state(int argc, char **argv)
{
    static const char cmd[] = "platelet state";
    const char *api = NULL, *set = NULL;
    bool json = false;
    struct cli_flag flags[] = {
        API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON,
        {"--set", CLI_STR, &set, "publish our record KEY=JSON", false, false},
        CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet state [--set KEY=JSON] [--api A] [--json]", flags, argc,
                       argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (set == NULL)
        return api_client_run(cmd, api_client_addr(api), "GET", "/v1/state", NULL, json,
                               print_state);
    const char *eq = strchr(set, '=');
    cJSON *value = eq != NULL ? cJSON_Parse(eq + 1) : NULL;
    if (eq == NULL || eq == set || value == NULL) {
        cJSON_Delete(value);
        return cli_fail(cmd, "--set: expected KEY=JSON, e.g. health='{\"ok\":true}'");
    }
    cJSON *body = cJSON_CreateObject();
    char key[128];
    snprintf(key, sizeof(key), "%.*s", (int)(eq - set), set);
    cJSON_AddStringToObject(body, "key", key);
    cJSON_AddItemToObject(body, "value", value);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    rc = api_client_run(cmd, api_client_addr(api), "POST", "/v1/state", text, true, NULL);
    free(text);
    return rc;
}

static void print_keys(const cJSON *doc)
{
    const cJSON *k;
    int members = (int)json_num(doc, "members");
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(doc, "keys"))
        printf("%s  %d/%d members%s\n", json_str(k, "fingerprint"),
               (int)json_num(k, "members_with_key"), members,
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "primary")) ? "  (primary)" : "");
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "keys")) == 0)
        printf("encryption is off (no keys)\n");
}

int cmd_keys(int argc, char **argv)
{
    static const char usage[] = "platelet keys list | install KEY | use KEY | remove KEY [--api A] [--json]";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse("platelet keys", usage, flags, argc, argv, 1, 2, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *op = args.pos[0];
    char cmd[48];
    snprintf(cmd, sizeof(cmd), "platelet keys %s", op);
    if (strcmp(op, "list") == 0) {
        if (args.npos != 1)
            return cli_fail(cmd, "takes no key (usage: %s)", usage);
        return api_client_run(cmd, api_client_addr(api), "GET", "/v1/keys", NULL, json, print_keys);
    }
    if (strcmp(op, "install") != 0 && strcmp(op, "use") != 0 && strcmp(op, "remove") != 0)
        return cli_fail("platelet keys", "unknown operation '%s' (usage: %s)", op, usage);
    if (args.npos != 2)
        return cli_fail(cmd, "needs the base64 key (usage: %s)", usage);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "op", op);
    cJSON_AddStringToObject(body, "key", args.pos[1]);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    rc = api_client_run(cmd, api_client_addr(api), "POST", "/v1/keys", text, json, print_keys);
    free(text);
    return rc;
}

static void print_counters(const cJSON *doc)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, doc)
        printf("%-22s %.0f\n", c->string, c->valuedouble);
}

int cmd_counters(int argc, char **argv)
{
    static const char cmd[] = "platelet counters";
    const char *api = NULL;
    bool json = false;
    struct cli_flag flags[] = {API_CLIENT_FLAG_API, API_CLIENT_FLAG_JSON, CLI_FLAGS_END};
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet counters [--api A] [--json]", flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return api_client_run(cmd, api_client_addr(api), "GET", "/v1/gossip/counters", NULL, json,
                          print_counters);
}
