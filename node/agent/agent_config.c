/*
 * Loading and checking the agent's JSON configuration (agent_config.h).
 */
#include "agent_config.h"

#include "pl_assert.h"
#include "pl_err.h"
#include "pl_text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
    pl_store_limits_default(&cfg->store_limits);
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

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * cJSON keeps every member of an object, and a lookup finds the first: {"name":"x",
 * "name":"y"} would silently mean "x". Finds a key given twice in one object anywhere in
 * the tree and writes its path into path[len..]; 1 when found, 0 when none, -ENOMEM.
 */
static int duplicate_key(const cJSON *node, char *path, size_t len, size_t size)
{
    int rc = 0;
    if (cJSON_IsObject(node)) {
        size_t n = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, node) n++;
        if (n > 1) {
            const char **names = malloc(n * sizeof(*names));
            if (names == NULL)
                return -ENOMEM;
            size_t i = 0;
            cJSON_ArrayForEach(c, node) names[i++] = c->string;
            qsort(names, n, sizeof(*names), cmp_names);
            for (i = 1; i < n && rc == 0; i++)
                if (strcmp(names[i - 1], names[i]) == 0) {
                    snprintf(path + len, size - len, "%s%s", len > 0 ? "." : "", names[i]);
                    rc = 1;
                }
            free(names);
            if (rc != 0)
                return rc;
        }
        cJSON_ArrayForEach(c, node)
        {
            int k = snprintf(path + len, size - len, "%s%s", len > 0 ? "." : "", c->string);
            size_t sub = PL_MIN(size - 1, len + (size_t)(k > 0 ? k : 0));
            if ((rc = duplicate_key(c, path, sub, size)) != 0)
                return rc;
        }
    } else if (cJSON_IsArray(node)) {
        const cJSON *c;
        int i = 0;
        cJSON_ArrayForEach(c, node)
        {
            int k = snprintf(path + len, size - len, "[%d]", i++);
            size_t sub = PL_MIN(size - 1, len + (size_t)(k > 0 ? k : 0));
            if ((rc = duplicate_key(c, path, sub, size)) != 0)
                return rc;
        }
    }
    path[len] = '\0';
    return 0;
}

/* A gossip key: base64 of exactly 32 bytes. */
static int key_ok(const char *b64)
{
    uint8_t key[64];
    size_t n = 0;
    int ok = pl_base64_decode(b64, strlen(b64), key, sizeof(key), &n) == 0 && n == 32;
    memset(key, 0, sizeof(key));
    return ok;
}

int agent_config_key_check(const char *b64) { return key_ok(b64) ? 0 : PL_EMALFORMED; }

int agent_config_addr_check(const char *addr)
{
    char host[AGENT_ADDR_MAX];
    int port;
    struct sockaddr_storage ss;
    if (pl_addr_split(addr, host, sizeof(host), &port) != 0 || port == 0 ||
        pl_addr_resolve(addr, &ss) != 0)
        return PL_EMALFORMED;
    return 0;
}

cJSON *config_parse_strict(const char *path, const char *text, size_t len, char *err,
                           size_t err_size)
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
        fail(err, err_size, "%s:%d:%d: %s", path, line, col,
             root == NULL ? "not valid JSON" : "expected a JSON object at the top");
        cJSON_Delete(root);
        return NULL;
    }
    char dup[256] = "";
    int drc = duplicate_key(root, dup, 0, sizeof(dup));
    if (drc != 0) {
        cJSON_Delete(root);
        if (drc < 0)
            fail(err, err_size, "%s: out of memory", path);
        else
            fail(err, err_size, "%s: %s: given twice in the same object", path, dup);
        return NULL;
    }
    return root;
}

int agent_config_load_text(struct agent_config *cfg, const char *path, const char *text,
                           size_t len, char *err, size_t err_size)
{
    cJSON *root = config_parse_strict(path, text, len, err, err_size);
    if (root == NULL)
        return PL_ECONFIG;
    snprintf(cfg->source, sizeof(cfg->source), "%s", path);
    struct config_ctx c = {cfg->source, err, err_size};
    static const char *const known[] = {
        "name", "cluster", "bind", "advertise", "join", "data_dir", "api", "api_token_file",
        "enable_faults", "profile", "encrypt", "log_level", "log_json", "gossip", "raft",
        "services", "webhooks", "escalation", "retry_join", "store", "correlate", "autopilot",
        "blast_radius", NULL};
    int rc = config_check_keys(&c, root, "", known);
    if (rc == 0) rc = config_get_str(&c, root, "", "name", cfg->name, sizeof(cfg->name));
    if (rc == 0) rc = config_get_str(&c, root, "", "cluster", cfg->cluster, sizeof(cfg->cluster));
    if (rc == 0) rc = config_get_str(&c, root, "", "bind", cfg->bind, sizeof(cfg->bind));
    if (rc == 0) rc = config_get_str(&c, root, "", "advertise", cfg->advertise, sizeof(cfg->advertise));
    if (rc == 0) rc = config_get_str(&c, root, "", "data_dir", cfg->data_dir, sizeof(cfg->data_dir));
    if (rc == 0) rc = config_get_str(&c, root, "", "api", cfg->api, sizeof(cfg->api));
    if (rc == 0) rc = config_get_str(&c, root, "", "profile", cfg->profile, sizeof(cfg->profile));
    if (rc == 0) rc = config_get_str(&c, root, "", "api_token_file", cfg->api_token_file, sizeof(cfg->api_token_file));
    /* A relative token file is next to the config file, whichever folder the agent starts
     * in (as a service's relative command is). */
    const char *slash = strrchr(path, '/');
    if (rc == 0 && cfg->api_token_file[0] != '\0' && cfg->api_token_file[0] != '/' &&
        slash != NULL) {
        char joined[PATH_MAX * 2];
        snprintf(joined, sizeof(joined), "%.*s/%s", (int)(slash - path), path,
                 cfg->api_token_file);
        if (strlen(joined) >= sizeof(cfg->api_token_file))
            rc = fail(err, err_size, "%s: api_token_file: longer than %zu characters", path,
                      sizeof(cfg->api_token_file) - 1);
        else
            memcpy(cfg->api_token_file, joined, strlen(joined) + 1);
    }
    if (rc == 0) rc = config_get_bool(&c, root, "", "enable_faults", &cfg->enable_faults);
    if (rc == 0) rc = config_get_str(&c, root, "", "encrypt", cfg->encrypt, sizeof(cfg->encrypt));
    if (rc == 0 && cfg->encrypt[0] != '\0' && !key_ok(cfg->encrypt))
        rc = fail(err, err_size, "%s: encrypt: " AGENT_KEY_EXPECTED, path);
    if (rc == 0) rc = config_get_bool(&c, root, "", "log_json", &cfg->log_json);
    char level[16] = "";
    if (rc == 0) rc = config_get_str(&c, root, "", "log_level", level, sizeof(level));
    if (rc == 0 && level[0] != '\0' && pl_log_level_parse(level, &cfg->log_level) != 0)
        rc = fail(err, err_size, "%s: log_level: expected trace, debug, info, warn or error", path);
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(root, "store");
    if (rc == 0 && store != NULL && !cJSON_IsObject(store))
        rc = fail(err, err_size, "%s: store: expected an object", path);
    static const char *const store_keys[] = {"reserve_bytes", "block_cache_bytes",
                                             "write_buffer_bytes", "max_write_buffers", NULL};
    if (rc == 0 && store != NULL)
        rc = config_check_keys(&c, store, "store", store_keys);
    if (rc == 0 && store != NULL)
        rc = config_get_u64(&c, store, "store", "reserve_bytes", 0, UINT64_MAX / 2,
                            &cfg->store_reserve_bytes);
    uint64_t max_wb = cfg->store_limits.max_write_buffers;
    if (rc == 0 && store != NULL)
        rc = config_get_u64(&c, store, "store", "block_cache_bytes", 0, 1ull << 40,
                            &cfg->store_limits.block_cache_bytes);
    if (rc == 0 && store != NULL)
        rc = config_get_u64(&c, store, "store", "write_buffer_bytes", 64u << 10, 1ull << 30,
                            &cfg->store_limits.write_buffer_bytes);
    if (rc == 0 && store != NULL)
        rc = config_get_u64(&c, store, "store", "max_write_buffers", 2, 1024, &max_wb);
    cfg->store_limits.max_write_buffers = (uint32_t)max_wb;
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

/* Where a setting came from, for errors: "agent.json: api" or "--api". */
static const char *where(const struct agent_config *cfg, const char *key, const char *flag,
                         char *out, size_t out_size)
{
    if (strcmp(cfg->source, "flags") == 0)
        snprintf(out, out_size, "%s", flag);
    else
        snprintf(out, out_size, "%s: %s", cfg->source, key);
    return out;
}

static int addr_check(const struct agent_config *cfg, const char *key, const char *flag,
                      const char *value, char *err, size_t err_size)
{
    char w[PATH_MAX + 32];
    if (agent_config_addr_check(value) != 0)
        return fail(err, err_size, "%s: " AGENT_ADDR_EXPECTED ", got \"%s\"",
                    where(cfg, key, flag, w, sizeof(w)), value);
    return 0;
}

int agent_config_validate(struct agent_config *cfg, char *err, size_t err_size)
{
    char w[PATH_MAX + 32];
    if (cfg->data_dir[0] == '\0')
        return fail(err, err_size, "%s: data_dir is required (--data-dir DIR)", cfg->source);
    /* The API socket's path must fit sun_path, or it would be cut short and created
     * somewhere else; refuse before anything is created. */
    struct sockaddr_un un;
    size_t sock_len = strlen(cfg->data_dir) + strlen("/api.sock");
    if (sock_len >= sizeof(un.sun_path))
        return fail(err, err_size,
                    "%s: '%s' is too long for its API socket (DATA_DIR/api.sock would be %zu "
                    "characters; a Unix socket path holds %zu): use a shorter path",
                    where(cfg, "data_dir", "--data-dir", w, sizeof(w)), cfg->data_dir, sock_len,
                    sizeof(un.sun_path) - 1);
    if (cfg->name[0] == '\0')
        return fail(err, err_size, "%s: name must not be empty", cfg->source);
    int rc = addr_check(cfg, "bind", "--bind", cfg->bind, err, err_size);
    if (rc != 0)
        return rc;
    if (cfg->advertise[0] == '\0')
        snprintf(cfg->advertise, sizeof(cfg->advertise), "%s", cfg->bind);
    if ((rc = addr_check(cfg, "advertise", "--advertise", cfg->advertise, err, err_size)) != 0)
        return rc;
    if (cfg->api[0] != '\0' && (rc = addr_check(cfg, "api", "--api", cfg->api, err, err_size)) != 0)
        return rc;
    for (int i = 0; i < cfg->njoin; i++) {
        const char *j = cfg->join[i];
        char host[AGENT_ADDR_MAX];
        int port;
        if (agent_join_parse(j, host, sizeof(host), &port) >= 0 && port != 0)
            continue;
        if (strncmp(j, "dns:", 4) == 0)
            return fail(err, err_size, "%s: join: expected dns:NAME[:PORT] with a host name, got \"%s\"",
                        cfg->source, j);
        if (pl_addr_split(j, host, sizeof(host), &port) == 0 && port != 0 &&
            agent_config_addr_check(j) != 0)
            return fail(err, err_size, "%s: join: \"%s\" is not IP:PORT (to look the name up, "
                        "write dns:%s)", cfg->source, j, j);
        return fail(err, err_size, "%s: join: expected IP:PORT or dns:NAME[:PORT] with a port "
                    "from 1 to 65535, got \"%s\"", cfg->source, j);
    }
    if (strcmp(cfg->profile, "lan") != 0 && strcmp(cfg->profile, "local") != 0 &&
        strcmp(cfg->profile, "wan") != 0)
        return fail(err, err_size, "%s: profile: expected lan, local or wan, got \"%s\"",
                    cfg->source, cfg->profile);
    if (cfg->encrypt[0] != '\0' && !key_ok(cfg->encrypt))
        return fail(err, err_size, "%s: " AGENT_KEY_EXPECTED,
                    where(cfg, "encrypt", "--encrypt", w, sizeof(w)));
    if (cfg->api[0] != '\0' && cfg->api_token_file[0] == '\0')
        return fail(err, err_size,
                    "%s: a TCP API needs a token file: make one with 'platelet token create "
                    "--scope operate --tokens FILE --out CLIENT_FILE', then give --api-token-file "
                    "FILE (or \"api_token_file\" in the config); the Unix socket "
                    "DATA_DIR/api.sock needs none",
                    where(cfg, "api", "--api", w, sizeof(w)));
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
