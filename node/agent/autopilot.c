/*
 * Autopilot's choice (autopilot.h): remove a long-dead voter if a majority of the
 * configured size stays, else fill the council up from healthy candidates.
 */
#include "autopilot.h"

#include "agent_config.h"
#include "pl_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int autopilot_cfg_parse(const cJSON *root, const char *source, struct autopilot_cfg *out,
                        char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    out->voters = 3;
    out->dead_after_ms = 10000;
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "autopilot");
    if (sec == NULL)
        return 0;
    struct config_ctx c = {source, err, err_size};
    if (!cJSON_IsObject(sec)) {
        snprintf(err, err_size, "%s: autopilot: expected an object", source);
        return PL_ECONFIG;
    }
    static const char *const known[] = {"voters", "dead_after_ms", NULL};
    uint64_t voters = out->voters;
    int rc = config_check_keys(&c, sec, "autopilot", known);
    if (rc == 0)
        rc = config_get_u64(&c, sec, "autopilot", "voters", 3, 5, &voters);
    if (rc == 0 && voters != 3 && voters != 5) {
        snprintf(err, err_size, "%s: autopilot.voters: expected 3 or 5", source);
        rc = PL_ECONFIG;
    }
    if (rc == 0)
        rc = config_get_u64(&c, sec, "autopilot", "dead_after_ms", 1000, 24 * 3600 * 1000ull,
                            &out->dead_after_ms);
    out->voters = (uint32_t)voters;
    out->enabled = rc == 0;
    return rc;
}

/* The first by name among those `ok` accepts, so every leader picks the same one. */
static int first_by_name(const struct autopilot_server *v, int n,
                         bool (*ok)(const struct autopilot_server *))
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (ok(&v[i]) && (best < 0 || strcmp(v[i].name, v[best].name) < 0))
            best = i;
    return best;
}

static bool healthy_learner(const struct autopilot_server *s)
{
    return s->in_config && !s->voter && s->alive && s->may_vote;
}

static bool candidate(const struct autopilot_server *s)
{
    return !s->in_config && s->alive && s->may_vote;
}

void autopilot_decide(const struct autopilot_cfg *cfg, const struct autopilot_server *v, int n,
                      uint64_t now_ms, struct autopilot_action *out)
{
    memset(out, 0, sizeof(*out));
    out->server = -1;
    if (!cfg->enabled)
        return;
    uint32_t voters = 0, alive = 0;
    for (int i = 0; i < n; i++) {
        voters += v[i].in_config && v[i].voter;
        alive += v[i].in_config && v[i].voter && v[i].alive;
    }
    out->voters = voters;
    uint32_t majority = cfg->voters / 2 + 1;
    /* Without a live quorum of the council as it is, no change could commit: none is made. */
    if (alive < voters / 2 + 1)
        return;
    /* 1. A voter (or learner) dead longer than dead_after_ms goes, oldest death first,
     *    unless fewer than a majority of the configured size would be left. */
    int dead = -1;
    for (int i = 0; i < n; i++) {
        const struct autopilot_server *s = &v[i];
        if (!s->in_config || s->alive || s->self || s->dead_since_ms == 0 ||
            now_ms < s->dead_since_ms + cfg->dead_after_ms)
            continue;
        if (s->voter && voters - 1 < majority)
            continue;
        if (dead < 0 || s->dead_since_ms < v[dead].dead_since_ms ||
            (s->dead_since_ms == v[dead].dead_since_ms && strcmp(s->name, v[dead].name) < 0))
            dead = i;
    }
    if (dead >= 0) {
        out->op = AUTOPILOT_REMOVE;
        out->server = dead;
        out->voters = voters - (v[dead].voter ? 1 : 0);
        snprintf(out->reason, sizeof(out->reason), "%s dead for %" PRIu64 " ms (dead_after_ms %"
                 PRIu64 ")", v[dead].voter ? "voter" : "learner", now_ms - v[dead].dead_since_ms,
                 cfg->dead_after_ms);
        return;
    }
    if (voters >= cfg->voters)
        return;
    /* 2. Fewer voters than configured: promote a caught-up learner, or add a candidate. */
    int l = first_by_name(v, n, healthy_learner);
    if (l >= 0) {
        out->op = AUTOPILOT_PROMOTE;
        out->server = l;
        out->voters = voters + 1;
        snprintf(out->reason, sizeof(out->reason), "%u voters of %u: the learner becomes a voter",
                 voters, cfg->voters);
        return;
    }
    int c = first_by_name(v, n, candidate);
    if (c >= 0) {
        out->op = AUTOPILOT_ADD_LEARNER;
        out->server = c;
        snprintf(out->reason, sizeof(out->reason), "%u voters of %u: a healthy member joins as a "
                 "learner", voters, cfg->voters);
    }
}
