/*
 * Placement of `replicas: 1` services (swarm.h): the flapping fence and the healer's pure
 * choice of a node. The leader calls swarm_place_next() with what gossip tells it (who
 * declares the service, their load) and proposes the guarded move it returns; apply
 * (swarm.c) checks the move again against the committed state, so a stale choice is
 * rejected and recorded, never acted on.
 */
#include "swarm.h"

#include "pl_err.h"

#include <stdio.h>
#include <string.h>

bool swarm_member_fenced(const struct swarm_member *m, uint64_t now_ms)
{
    return m->fenced_until_ms != 0 && now_ms < m->fenced_until_ms;
}

/* Alive in the committed state and not fenced: may hold a placed service. */
static bool eligible(const struct swarm_state *s, const char *node, uint64_t now_ms)
{
    const struct swarm_member *m = swarm_member_find(s, node);
    return m != NULL && m->status == SWARM_MEMBER_ALIVE && !swarm_member_fenced(m, now_ms);
}

static int place(const struct swarm_state *s, const char *service,
                 const struct swarm_candidate *cands, uint32_t ncands, uint64_t now_ms,
                 bool holder_declines, struct swarm_placement_body *out, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    const struct swarm_placement *p = swarm_placement_find(s, service);
    if (p != NULL && eligible(s, p->node, now_ms) && !holder_declines) {
        *why = "placed on an eligible member";
        return PL_ENOTFOUND;
    }
    const struct swarm_candidate *best = NULL;
    for (uint32_t i = 0; i < ncands; i++) {
        const struct swarm_candidate *c = &cands[i];
        if ((p != NULL && strcmp(c->node, p->node) == 0) || !eligible(s, c->node, now_ms))
            continue;
        if (best == NULL || c->load < best->load ||
            (c->load == best->load && strcmp(c->node, best->node) < 0))
            best = c;
    }
    if (best == NULL) {
        *why = ncands == 0 ? "no member declares it" : "no declaring member is alive and unfenced";
        return PL_ENOTFOUND;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->service, sizeof(out->service), "%s", service);
    snprintf(out->node, sizeof(out->node), "%s", best->node);
    snprintf(out->prev, sizeof(out->prev), "%s", p != NULL ? p->node : "");
    *why = p == NULL                     ? "not placed yet"
           : eligible(s, p->node, now_ms) ? "its member no longer declares it"
                                          : "its member is dead, left or fenced";
    return 0;
}

int swarm_place_next(const struct swarm_state *s, const char *service,
                     const struct swarm_candidate *cands, uint32_t ncands, uint64_t now_ms,
                     struct swarm_placement_body *out, const char **why)
{
    return place(s, service, cands, ncands, now_ms, false, out, why);
}

int swarm_place_away(const struct swarm_state *s, const char *service,
                     const struct swarm_candidate *cands, uint32_t ncands, uint64_t now_ms,
                     struct swarm_placement_body *out, const char **why)
{
    const struct swarm_placement *p = swarm_placement_find(s, service);
    if (p == NULL)
        return place(s, service, cands, ncands, now_ms, false, out, why);
    return place(s, service, cands, ncands, now_ms, true, out, why);
}
