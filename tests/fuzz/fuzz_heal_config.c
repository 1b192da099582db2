/*
 * libFuzzer target for the healing config (node/heal_config.c) on the agent's own path: the
 * bytes load as the agent's config file (agent_config_load_text), then heal_config_parse()
 * reads its `services` and `webhooks`. Any bytes are refused with one error that names the
 * file, or give a config that keeps every limit: counts within their maxima, every string
 * terminated inside its field, every argv NULL-terminated after its count. Freeing it leaves
 * nothing behind (LeakSanitizer). The format has no encoder, so there is no round trip; a
 * second parse of the same tree must agree with the first. Seeds: tests/fuzz/corpus/
 * fuzz_heal_config/ (the README's and deploy/ examples' service sections).
 */
#include "agent_config.h"
#include "pl_assert.h"
#include "heal_config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(field) PL_ASSERT(memchr((field), '\0', sizeof(field)) != NULL)

static void check_argv(const struct heal_argv *a)
{
    PL_ASSERT(a->n >= 0 && a->n <= HEAL_ARGV_MAX);
    for (int i = 0; i < a->n; i++)
        PL_ASSERT(a->v[i] != NULL);
    PL_ASSERT(a->v[a->n] == NULL);
}

static void check_service(const struct heal_service_cfg *s)
{
    TERMINATED(s->name);
    TERMINATED(s->cwd);
    TERMINATED(s->config_file);
    TERMINATED(s->disk_path);
    check_argv(&s->argv);
    check_argv(&s->env);
    check_argv(&s->restart_cmd);
    check_argv(&s->isolate_cmd);
    check_argv(&s->scale_cmd);
    check_argv(&s->state_repair_cmd);
    PL_ASSERT(s->nchecks >= 0 && s->nchecks <= HEAL_CHECKS_MAX);
    for (int i = 0; i < s->nchecks; i++) {
        const struct heal_check_cfg *k = &s->checks[i];
        TERMINATED(k->url);
        TERMINATED(k->method);
        TERMINATED(k->host);
        check_argv(&k->command);
        PL_ASSERT(k->failures >= 1 && k->successes >= 1 && k->interval_ms > 0);
    }
    TERMINATED(s->metrics.url);
    TERMINATED(s->metrics.requests);
    TERMINATED(s->metrics.errors);
    TERMINATED(s->metrics.latency);
}

static uint64_t fingerprint(const struct heal_config *c)
{
    uint64_t f = (uint64_t)c->nservices * 131 + (uint64_t)c->nwebhooks;
    for (int i = 0; i < c->nservices; i++)
        f = f * 31 + strlen(c->services[i].name) + (uint64_t)c->services[i].argv.n +
            (uint64_t)c->services[i].nchecks;
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_config acfg;
    agent_config_init(&acfg);
    char err[512] = "";
    if (agent_config_load_text(&acfg, "fuzz.json", (const char *)data, size, err, sizeof(err)) !=
        0) {
        agent_config_close(&acfg);
        return 0;
    }
    struct heal_config cfg, again;
    err[0] = '\0';
    int rc = heal_config_parse(acfg.root, acfg.source, &cfg, err, sizeof(err));
    char err2[512] = "";
    int rc2 = heal_config_parse(acfg.root, acfg.source, &again, err2, sizeof(err2));
    PL_ASSERT(rc == rc2);
    if (rc != 0) {
        PL_ASSERT(strncmp(err, "fuzz.json: ", 11) == 0 && err[11] != '\0');
        PL_ASSERT(strcmp(err, err2) == 0);
    } else {
        PL_ASSERT(cfg.nservices >= 0 && cfg.nservices <= HEAL_SERVICES_MAX);
        PL_ASSERT(cfg.nwebhooks >= 0 && cfg.nwebhooks <= HEAL_WEBHOOKS_MAX);
        for (int i = 0; i < cfg.nservices; i++)
            check_service(&cfg.services[i]);
        for (int i = 0; i < cfg.nwebhooks; i++) {
            TERMINATED(cfg.webhooks[i].url);
            PL_ASSERT(cfg.webhooks[i].min_level >= 1 && cfg.webhooks[i].min_level <= 5);
        }
        PL_ASSERT(fingerprint(&cfg) == fingerprint(&again));
        heal_config_free(&cfg);
        heal_config_free(&again);
    }
    agent_config_close(&acfg);
    return 0;
}
