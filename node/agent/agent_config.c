/*
 * Loading and checking the agent's JSON configuration (agent_config.h).
 */
#include "agent_config.h"

#include "pl_err.h"
#include "pl_text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return PL_ECONFIG;
}

void agent_config_init(struct agent_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    if (gethostname(cfg->name, sizeof(cfg->name) - 1) != 0 || cfg->name[0] == '\0')
        snprintf(cfg->name, sizeof(cfg->name), "node");
    snprintf(cfg->cluster, sizeof(cfg->cluster), "platelet");
    snprintf(cfg->bind, sizeof(cfg->bind), "127.0.0.1:7946");
    snprintf(cfg->profile, sizeof(cfg->profile), "lan");
    snprintf(cfg->source, sizeof(cfg->source), "flags");
    cfg->log_level = PL_LOG_INFO;
    cfg->store_reserve_bytes = AGENT_STORE_RESERVE_DEFAULT;
    cfg->root = cJSON_CreateObject();
}

void agent_config_close(struct agent_config *cfg)
{
    cJSON_Delete(cfg->root);
    cfg->root = NULL;
}

int config_check_keys(const struct config_ctx *c, const cJSON *obj, const char *path,
                      const char *const *known)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        int ok = 0;
        for (const char *const *k = known; *k != NULL; k++)
            ok |= strcmp(*k, item->string) == 0;
        if (!ok)
            return fail(c->err, c->err_size, "%s: %s%s%s: unknown setting", c->source, path,
                        path[0] ? "." : "", item->string);
    }
    return 0;
}

#define KEYPATH "%s: %s%s%s"
#define KEYARGS(c, path, key) (c)->source, (path), (path)[0] ? "." : "", (key)

int config_get_u64(const struct config_ctx *c, const cJSON *obj, const char *path, const char *key,
                   uint64_t min, uint64_t max, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)min || d > (double)max)
        return fail(c->err, c->err_size,
                    KEYPATH ": expected an integer from %llu to %llu", KEYARGS(c, path, key),
                    (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)d;
    return 0;
}

int config_get_double(const struct config_ctx *c, const cJSON *obj, const char *path,
                      const char *key, double min, double max, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max)
        return fail(c->err, c->err_size, KEYPATH ": expected a number from %g to %g",
                    KEYARGS(c, path, key), min, max);
    *out = v->valuedouble;
    return 0;
}

int config_get_bool(const struct config_ctx *c, const cJSON *obj, const char *path, const char *key,
                    bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return 0;
    if (!cJSON_IsBool(v))
        return fail(c->err, c->err_size, KEYPATH ": expected true or false", KEYARGS(c, path, key));
    *out = cJSON_IsTrue(v);
    return 0;
}

int config_get_str(const struct config_ctx *c, const cJSON *obj, const char *path, const char *key,
                   char *out, size_t out_size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return 0;
    if (!cJSON_IsString(v))
        return fail(c->err, c->err_size, KEYPATH ": expected a string", KEYARGS(c, path, key));
    if (strlen(v->valuestring) >= out_size)
        return fail(c->err, c->err_size, KEYPATH ": longer than %zu characters",
                    KEYARGS(c, path, key), out_size - 1);
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

int agent_config_load_file(struct agent_config *cfg, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(err, err_size, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            if (cap >= (4u << 20)) {
                free(text);
                fclose(f);
                return fail(err, err_size, "%s: larger than 4 MiB", path);
            }
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(text, cap + 1);
            if (p == NULL) {
                free(text);
                fclose(f);
                return -ENOMEM;
            }
            text = p;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    text = text != NULL ? text : calloc(1, 1);
    if (text == NULL)
        return -ENOMEM;
    text[len] = '\0';
    int rc = agent_config_load_text(cfg, path, text, len, err, err_size);
    free(text);
    return rc;
}

/* "join" and "retry_join" (Consul's name; the same list: every entry is retried while no
 * other member is known) append to cfg->join; entries are checked by validate. */
static int join_list_load(struct agent_config *cfg, const cJSON *root, const char *key,
                          const char *path, char *err, size_t err_size)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, key);
    if (list == NULL)
        return 0;
    if (!cJSON_IsArray(list))
        return fail(err, err_size, "%s: %s: expected an array of \"IP:PORT\" or \"dns:NAME[:PORT]\"",
                    path, key);
    const cJSON *j;
    int i = 0;
    cJSON_ArrayForEach(j, list)
    {
        if (!cJSON_IsString(j) || strlen(j->valuestring) >= AGENT_ADDR_MAX)
            return fail(err, err_size, "%s: %s[%d]: expected an \"IP:PORT\" or \"dns:NAME[:PORT]\" string",
                        path, key, i);
        if (cfg->njoin >= AGENT_JOIN_MAX)
            return fail(err, err_size, "%s: %s: more than %d addresses in all", path, key,
                        AGENT_JOIN_MAX);
        snprintf(cfg->join[cfg->njoin++], AGENT_ADDR_MAX, "%s", j->valuestring);
        i++;
    }
    return 0;
}

int agent_config_load_text(struct agent_config *cfg, const char *path, const char *text,
                           size_t len, char *err, size_t err_size)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root != NULL && end != text + len) {
        /* Only white space may follow the document. */
        const char *p = end;
        while (p < text + len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
            p++;
        if (p != text + len) {
            cJSON_Delete(root);
            root = NULL;
            end = p;
        }
    }
    if (root == NULL || !cJSON_IsObject(root)) {
        size_t off = end != NULL && end >= text ? (size_t)(end - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        cJSON_Delete(root);
        return fail(err, err_size, "%s:%d:%d: %s", path, line, col,
                    root == NULL ? "not valid JSON" : "expected a JSON object at the top");
    }
    snprintf(cfg->source, sizeof(cfg->source), "%s", path);
    struct config_ctx c = {cfg->source, err, err_size};
    static const char *const known[] = {
        "name", "cluster", "bind", "advertise", "join", "data_dir", "api", "enable_faults",
        "profile", "encrypt", "log_level", "log_json", "gossip", "raft", "services", "webhooks",
        "escalation", "retry_join", "store", NULL};
    int rc = config_check_keys(&c, root, "", known);
    if (rc == 0) rc = config_get_str(&c, root, "", "name", cfg->name, sizeof(cfg->name));
    if (rc == 0) rc = config_get_str(&c, root, "", "cluster", cfg->cluster, sizeof(cfg->cluster));
    if (rc == 0) rc = config_get_str(&c, root, "", "bind", cfg->bind, sizeof(cfg->bind));
    if (rc == 0) rc = config_get_str(&c, root, "", "advertise", cfg->advertise, sizeof(cfg->advertise));
    if (rc == 0) rc = config_get_str(&c, root, "", "data_dir", cfg->data_dir, sizeof(cfg->data_dir));
    if (rc == 0) rc = config_get_str(&c, root, "", "api", cfg->api, sizeof(cfg->api));
    if (rc == 0) rc = config_get_str(&c, root, "", "profile", cfg->profile, sizeof(cfg->profile));
    if (rc == 0) rc = config_get_bool(&c, root, "", "enable_faults", &cfg->enable_faults);
    if (rc == 0) rc = config_get_str(&c, root, "", "encrypt", cfg->encrypt, sizeof(cfg->encrypt));
    if (rc == 0) rc = config_get_bool(&c, root, "", "log_json", &cfg->log_json);
    char level[16] = "";
    if (rc == 0) rc = config_get_str(&c, root, "", "log_level", level, sizeof(level));
    if (rc == 0 && level[0] != '\0' && pl_log_level_parse(level, &cfg->log_level) != 0)
        rc = fail(err, err_size, "%s: log_level: expected trace, debug, info, warn or error", path);
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(root, "store");
    if (rc == 0 && store != NULL && !cJSON_IsObject(store))
        rc = fail(err, err_size, "%s: store: expected an object", path);
    static const char *const store_keys[] = {"reserve_bytes", NULL};
    if (rc == 0 && store != NULL)
        rc = config_check_keys(&c, store, "store", store_keys);
    if (rc == 0 && store != NULL)
        rc = config_get_u64(&c, store, "store", "reserve_bytes", 0, UINT64_MAX / 2,
                            &cfg->store_reserve_bytes);
    if (rc == 0)
        rc = join_list_load(cfg, root, "join", path, err, err_size);
    if (rc == 0)
        rc = join_list_load(cfg, root, "retry_join", path, err, err_size);
    if (rc != 0) {
        cJSON_Delete(root);
        return rc;
    }
    cJSON_Delete(cfg->root);
    cfg->root = root;
    return 0;
}

int agent_config_validate(struct agent_config *cfg, char *err, size_t err_size)
{
    char host[AGENT_ADDR_MAX];
    int port;
    if (cfg->data_dir[0] == '\0')
        return fail(err, err_size, "%s: data_dir is required (--data-dir DIR)", cfg->source);
    if (cfg->name[0] == '\0')
        return fail(err, err_size, "%s: name must not be empty", cfg->source);
    if (pl_addr_split(cfg->bind, host, sizeof(host), &port) != 0)
        return fail(err, err_size, "%s: bind: expected HOST:PORT, got \"%s\"", cfg->source, cfg->bind);
    if (cfg->advertise[0] == '\0')
        snprintf(cfg->advertise, sizeof(cfg->advertise), "%s", cfg->bind);
    if (pl_addr_split(cfg->advertise, host, sizeof(host), &port) != 0)
        return fail(err, err_size, "%s: advertise: expected HOST:PORT, got \"%s\"", cfg->source,
                    cfg->advertise);
    if (cfg->api[0] != '\0' && pl_addr_split(cfg->api, host, sizeof(host), &port) != 0)
        return fail(err, err_size, "%s: api: expected HOST:PORT, got \"%s\"", cfg->source, cfg->api);
    for (int i = 0; i < cfg->njoin; i++) {
        const char *j = cfg->join[i];
        if (agent_join_parse(j, host, sizeof(host), &port) >= 0)
            continue;
        if (strncmp(j, "dns:", 4) == 0)
            return fail(err, err_size, "%s: join: expected dns:NAME[:PORT] with a host name, got \"%s\"",
                        cfg->source, j);
        if (pl_addr_split(j, host, sizeof(host), &port) == 0)
            return fail(err, err_size, "%s: join: \"%s\" is not IP:PORT (to look the name up, "
                        "write dns:%s)", cfg->source, j, j);
        return fail(err, err_size, "%s: join: expected IP:PORT or dns:NAME[:PORT], got \"%s\"",
                    cfg->source, j);
    }
    if (strcmp(cfg->profile, "lan") != 0 && strcmp(cfg->profile, "local") != 0 &&
        strcmp(cfg->profile, "wan") != 0)
        return fail(err, err_size, "%s: profile: expected lan, local or wan, got \"%s\"",
                    cfg->source, cfg->profile);
    return 0;
}

/* A host name: dot-separated labels of letters, digits, '-' and '_' (as resolvers accept
 * them), 1-63 bytes each, 253 in all. */
static int host_name_ok(const char *name)
{
    size_t n = strlen(name), label = 0;
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

int agent_join_parse(const char *entry, char *host, size_t host_size, int *port)
{
    if (strncmp(entry, "dns:", 4) != 0) {
        struct sockaddr_storage sa;
        if (pl_addr_resolve(entry, &sa) != 0 || pl_addr_split(entry, host, host_size, port) != 0)
            return PL_ECONFIG;
        return AGENT_JOIN_IP;
    }
    const char *name = entry + 4;
    const char *colon = strchr(name, ':');
    size_t len = colon != NULL ? (size_t)(colon - name) : strlen(name);
    int p = AGENT_JOIN_DNS_PORT;
    if (colon != NULL) {
        char *end = NULL;
        errno = 0;
        long v = strtol(colon + 1, &end, 10);
        if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || v < 1 || v > 65535)
            return PL_ECONFIG;
        p = (int)v;
    }
    char buf[256];
    if (len == 0 || len >= host_size || len >= sizeof(buf))
        return PL_ECONFIG;
    memcpy(buf, name, len);
    buf[len] = '\0';
    if (!host_name_ok(buf))
        return PL_ECONFIG;
    memcpy(host, buf, len + 1);
    *port = p;
    return AGENT_JOIN_DNS;
}
