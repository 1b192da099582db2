/*
 * What the swarm learned, as JSON (replay.h's replay_strategies_json): every signature with
 * its choice and, per candidate action, the posterior mean, its 90 % interval, the raw
 * counts and what the last choice drew. Everything comes from the replicated state, so two
 * voters at the same applied index answer the same bytes.
 */
#include "replay.h"

#include "heal_policy.h"
#include "swarm_learn_heal.h"

#include <stdio.h>
#include <string.h>

static double q16(uint32_t v)
{
    return (double)v / (double)SWARM_Q16_ONE;
}

cJSON *replay_strategy_json(const struct swarm_learn_sig *g)
{
    cJSON *o = cJSON_CreateObject();
    char name[256];
    swarm_learn_key_name(&g->key, name, sizeof(name));
    cJSON_AddStringToObject(o, "signature", name);
    cJSON_AddStringToObject(o, "service", g->key.service);
    cJSON_AddStringToObject(o, "class", heal_class_name((enum heal_class)g->key.cls));
    cJSON_AddStringToObject(o, "cause", heal_cause_name((enum heal_cause)g->key.cause));
    cJSON_AddStringToObject(o, "signal", heal_signal_name((enum heal_signal_kind)g->key.signal));
    cJSON_AddStringToObject(o, "feature", heal_feature_name((enum heal_feature)g->key.feature));
    cJSON_AddStringToObject(o, "choice",
                            g->choice ? heal_action_name((enum heal_action)g->choice) : "rules");
    cJSON_AddBoolToObject(o, "explored", g->explored);
    cJSON_AddStringToObject(o, "rules_first", heal_action_name((enum heal_action)g->rules_first));
    cJSON_AddNumberToObject(o, "outcomes", g->outcomes);
    cJSON_AddNumberToObject(o, "chosen_at_index", (double)g->choice_index);
    cJSON_AddNumberToObject(o, "chosen_at_term", (double)g->choice_term);
    cJSON *acts = cJSON_AddArrayToObject(o, "actions");
    for (int i = 0; i < SWARM_LEARN_ARMS; i++) {
        if (!(g->candidates & (1u << i)) || i >= HEAL_ACT_COUNT)
            continue;
        const struct swarm_learn_arm *a = &g->arms[i];
        uint32_t lo, hi;
        swarm_learn_interval(a, &lo, &hi);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "action", heal_action_name((enum heal_action)i));
        cJSON_AddNumberToObject(x, "mean", q16(swarm_learn_mean(a)));
        cJSON_AddNumberToObject(x, "low", q16(lo));
        cJSON_AddNumberToObject(x, "high", q16(hi));
        cJSON_AddNumberToObject(x, "alpha", q16(a->alpha));
        cJSON_AddNumberToObject(x, "beta", q16(a->beta));
        cJSON_AddNumberToObject(x, "successes", a->successes);
        cJSON_AddNumberToObject(x, "failures", a->failures);
        cJSON_AddNumberToObject(x, "drawn", q16(a->drawn));
        cJSON_AddItemToArray(acts, x);
    }
    return o;
}

cJSON *replay_strategies_json(const struct swarm_state *s)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "applied_index", (double)s->applied_index);
    cJSON_AddNumberToObject(doc, "evicted", (double)s->learn.evicted);
    cJSON *list = cJSON_AddArrayToObject(doc, "strategies");
    for (uint32_t i = 0; i < s->learn.nsigs; i++)
        cJSON_AddItemToArray(list, replay_strategy_json(&s->learn.sigs[i]));
    return doc;
}
