/*
 * The agent's configuration: a JSON file (--config) and flags for the common settings,
 * flags winning. Modules read their own sections (gossip, raft, services) from `root`
 * with the helpers below, which name the file and the key path in every error:
 *
 *     agent.json: gossip.probe_interval_ms: expected a positive integer, got "fast"
 */
#ifndef PL_AGENT_CONFIG_H
#define PL_AGENT_CONFIG_H

#include "pl_log.h"
#include "pl_store.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define AGENT_JOIN_MAX 32
#define AGENT_ADDR_MAX 128
#define AGENT_NAME_MAX 64

struct agent_config {
    char name[AGENT_NAME_MAX];       /* the node's stable id; default: the host name */
    char cluster[AGENT_NAME_MAX];    /* carried in every message; default "platelet" */
    char bind[AGENT_ADDR_MAX];       /* gossip HOST:PORT; default 127.0.0.1:7946 */
    char advertise[AGENT_ADDR_MAX];  /* what others dial; default: bind */
    /* "IP:PORT" or "dns:NAME[:PORT]" (every A/AAAA record of NAME, looked up at each
     * attempt); --join, then the file's "join" and "retry_join" */
    char join[AGENT_JOIN_MAX][AGENT_ADDR_MAX];
    int njoin;
    char data_dir[PATH_MAX];         /* required */
    char api[AGENT_ADDR_MAX];        /* TCP API IP:PORT; "" for the Unix socket only */
    char api_token_file[PATH_MAX];   /* who may use the TCP API (api_token.h); needed with api;
                                      * in a config file, relative to the file's folder */
    char raft_bind[AGENT_ADDR_MAX];  /* --raft-bind, over raft.bind; "" for those defaults */
    bool enable_faults;              /* the fault-injection API (/v1/fault); off by default */
    char profile[16];                /* lan (default), local, wan */
    char encrypt[128];               /* base64 32-byte key; "" for none */
    enum pl_log_level log_level;
    bool log_json;
    /* store.reserve_bytes: writes are refused while the data dir has less free (pl_store.h) */
    uint64_t store_reserve_bytes;
    struct pl_store_limits store_limits; /* store.block_cache_bytes, ... (pl_store.h) */
    char source[PATH_MAX];           /* the config file, or "flags" */
    cJSON *root;                     /* the whole file (an empty object without one); owned */
};

#define AGENT_STORE_RESERVE_DEFAULT (32ull << 20)

/* Fills defaults. */
void agent_config_init(struct agent_config *cfg);
void agent_config_close(struct agent_config *cfg);
/* Reads a JSON config file; errors go to `err` (one line naming file and key). */
int agent_config_load_file(struct agent_config *cfg, const char *path, char *err, size_t err_size);
/* The same for a config already in memory; `source` names it in errors. */
int agent_config_load_text(struct agent_config *cfg, const char *source, const char *text,
                           size_t len, char *err, size_t err_size);
/* Checks the merged config without touching the disk: addresses are IP:PORT with a port
 * from 1 to 65535, the data dir is given and short enough for its API socket, the profile
 * is known, a TCP API has a token file. */
int agent_config_validate(struct agent_config *cfg, char *err, size_t err_size);

/* The port of "dns:NAME" without one: the default gossip port. */
#define AGENT_JOIN_DNS_PORT 7946
enum agent_join_kind { AGENT_JOIN_IP = 0, AGENT_JOIN_DNS = 1 };
/* Reads one join entry: a numeric "IP:PORT" / "[IPv6]:PORT" (returns AGENT_JOIN_IP) or
 * "dns:NAME[:PORT]" with a host name (returns AGENT_JOIN_DNS, `host` set to NAME); port
 * in *port. PL_ECONFIG for anything else, "name.example:7946" included. */
int agent_join_parse(const char *entry, char *host, size_t host_size, int *port);
/* An address the agent binds or dials: an IP literal (no name to resolve, so nothing can
 * point it elsewhere later) and a port from 1 to 65535 (port 0 would be advertised).
 * 0 or PL_EMALFORMED; AGENT_ADDR_EXPECTED says so in errors. */
int agent_config_addr_check(const char *addr);
#define AGENT_ADDR_EXPECTED \
    "expected IP:PORT (an IP address, not a host name, and a port from 1 to 65535)"
/* A gossip key: base64 of 32 bytes. 0 or PL_EMALFORMED. */
int agent_config_key_check(const char *b64);
#define AGENT_KEY_EXPECTED \
    "not a base64-encoded 32-byte key (make one with: head -c 32 /dev/urandom | base64)"


/*
 * Typed reads of `obj[key]` for module sections. Each returns 0 and leaves *out untouched
 * when the key is absent, 0 and sets *out when present and valid, PL_ECONFIG with `err`
 * filled ("<source>: <path>.<key>: expected ...") otherwise. `path` is the section's name
 * for messages ("gossip", "services[2].checks[0]").
 */
struct config_ctx {
    const char *source;
    char *err;
    size_t err_size;
};
int config_get_u64(const struct config_ctx *c, const cJSON *obj, const char *path, const char *key,
                   uint64_t min, uint64_t max, uint64_t *out);
int config_get_double(const struct config_ctx *c, const cJSON *obj, const char *path,
                      const char *key, double min, double max, double *out);
int config_get_bool(const struct config_ctx *c, const cJSON *obj, const char *path, const char *key,
                    bool *out);
int config_get_str(const struct config_ctx *c, const cJSON *obj, const char *path, const char *key,
                   char *out, size_t out_size);
/*
 * Parses `text` as one JSON object with nothing but white space after it and no key given
 * twice in any object; NULL with `err` naming `path` and the line and column, or the
 * repeated key's path, otherwise. The caller deletes the result.
 */
cJSON *config_parse_strict(const char *path, const char *text, size_t len, char *err,
                           size_t err_size);
/* Fails for keys of `obj` not in the NULL-terminated `known` list (catches typos). */
int config_check_keys(const struct config_ctx *c, const cJSON *obj, const char *path,
                      const char *const *known);

#endif
