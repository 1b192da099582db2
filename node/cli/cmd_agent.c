/*
 * `platelet agent`: runs a node. Flags override the JSON config file.
 */
#include "agent.h"
#include "pl_err.h"
#include "pl_text.h"
#include "cli.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

static int copy_flag(const char *cmd, const char *flag, const char *value, char *dst, size_t size)
{
    if (value == NULL)
        return 0;
    if (strlen(value) >= size)
        return cli_fail(cmd, "%s: longer than %zu characters", flag, size - 1);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

int cmd_agent(int argc, char **argv)
{
    static const char cmd[] = "platelet agent";
    const char *config = NULL, *name = NULL, *bind = NULL, *advertise = NULL, *data_dir = NULL;
    const char *api = NULL, *profile = NULL, *encrypt = NULL, *log_level = NULL, *cluster = NULL;
    const char *raft_bind = NULL, *token_file = NULL;
    bool log_json = false, enable_faults = false;
    struct cli_list join = {0};
    struct cli_flag flags[] = {
        {"--config", CLI_STR, &config, "JSON config file", false, false},
        {"--name", CLI_STR, &name, "node name (default: host name)", false, false},
        {"--cluster", CLI_STR, &cluster, "cluster name carried in every message", false, false},
        {"--bind", CLI_STR, &bind, "gossip HOST:PORT (default 127.0.0.1:7946)", false, false},
        {"--advertise", CLI_STR, &advertise, "HOST:PORT others dial (default: --bind)", false, false},
        {"--join", CLI_MULTI, &join, "IP:PORT or dns:NAME[:PORT] to join (repeatable; retried while alone)", false, false},
        {"--data-dir", CLI_STR, &data_dir, "data directory", false, false},
        {"--api", CLI_STR, &api, "also serve the API on TCP IP:PORT (needs --api-token-file)", false, false},
        {"--api-token-file", CLI_STR, &token_file, "who may use the TCP API (platelet token create)", false, false},
        {"--raft-bind", CLI_STR, &raft_bind,
         "Raft's IP:PORT for a voter (config raft.bind; default: the gossip address, port + 1)",
         false, false},
        {"--enable-faults", CLI_BOOL, &enable_faults, "allow fault injection through the API", false, false},
        {"--profile", CLI_STR, &profile, "timing profile: lan, local or wan", false, false},
        {"--encrypt", CLI_STR, &encrypt, "base64 32-byte gossip key", false, false},
        {"--log-level", CLI_STR, &log_level, "trace, debug, info, warn or error", false, false},
        {"--log-json", CLI_BOOL, &log_json, "log JSON lines", false, false},
        {NULL, 0, NULL, NULL, false, false},
    };
    struct cli_args args;
    int rc = cli_parse(cmd, "platelet agent [--config FILE] [flags]", flags, argc, argv, 0, 0, &args);
    if (rc != 0)
        return rc == 1 ? 0 : rc;

    /* Flag values are checked here, so an error names the flag, not the config file. */
    const struct {
        const char *flag;
        const char **value;
    } addrs[] = {{"--bind", &bind}, {"--advertise", &advertise}, {"--api", &api},
                 {"--raft-bind", &raft_bind}};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
        if (*addrs[i].value != NULL && agent_config_addr_check(*addrs[i].value) != 0)
            return cli_fail(cmd, "%s: " AGENT_ADDR_EXPECTED ", got '%s'", addrs[i].flag,
                            *addrs[i].value);
    if (encrypt != NULL && agent_config_key_check(encrypt) != 0)
        return cli_fail(cmd, "--encrypt: " AGENT_KEY_EXPECTED);

    struct agent_config cfg;
    agent_config_init(&cfg);
    char err[1024];
    if (config != NULL && (rc = agent_config_load_file(&cfg, config, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        agent_config_close(&cfg);
        return PL_EUSAGE;
    }
    if ((rc = copy_flag(cmd, "--name", name, cfg.name, sizeof(cfg.name))) != 0 ||
        (rc = copy_flag(cmd, "--cluster", cluster, cfg.cluster, sizeof(cfg.cluster))) != 0 ||
        (rc = copy_flag(cmd, "--bind", bind, cfg.bind, sizeof(cfg.bind))) != 0 ||
        (rc = copy_flag(cmd, "--advertise", advertise, cfg.advertise, sizeof(cfg.advertise))) != 0 ||
        (rc = copy_flag(cmd, "--data-dir", data_dir, cfg.data_dir, sizeof(cfg.data_dir))) != 0 ||
        (rc = copy_flag(cmd, "--api", api, cfg.api, sizeof(cfg.api))) != 0 ||
        (rc = copy_flag(cmd, "--raft-bind", raft_bind, cfg.raft_bind, sizeof(cfg.raft_bind))) != 0 ||
        (rc = copy_flag(cmd, "--profile", profile, cfg.profile, sizeof(cfg.profile))) != 0 ||
        (rc = copy_flag(cmd, "--encrypt", encrypt, cfg.encrypt, sizeof(cfg.encrypt))) != 0 ||
        (rc = copy_flag(cmd, "--api-token-file", token_file, cfg.api_token_file,
                        sizeof(cfg.api_token_file))) != 0) {
        agent_config_close(&cfg);
        return rc;
    }
    if (log_level != NULL && pl_log_level_parse(log_level, &cfg.log_level) != 0) {
        agent_config_close(&cfg);
        return cli_fail(cmd, "--log-level: expected trace, debug, info, warn or error, got '%s'",
                        log_level);
    }
    if (log_json)
        cfg.log_json = true;
    if (enable_faults)
        cfg.enable_faults = true;
    for (int i = 0; i < join.n; i++) {
        if (cfg.njoin >= AGENT_JOIN_MAX || strlen(join.items[i]) >= AGENT_ADDR_MAX) {
            agent_config_close(&cfg);
            return cli_fail(cmd, "--join: too many or too long addresses");
        }
        snprintf(cfg.join[cfg.njoin++], AGENT_ADDR_MAX, "%s", join.items[i]);
    }
    if ((rc = agent_config_validate(&cfg, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        agent_config_close(&cfg);
        return PL_EUSAGE;
    }
    rc = agent_run(&cfg, err, sizeof(err));
    agent_config_close(&cfg);
    if (rc == PL_ECONFIG) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return PL_EUSAGE;
    }
    return rc == 0 ? 0 : PL_ESTATE;
}
