/*
 * The gossip shell: drives the pure gossip core (gossip/gossip.h) with libuv UDP for
 * probes and gossip, TCP for push-pull and large payloads, the agent's fault table on
 * every packet, and the keyring from --encrypt and the data directory. It serves the
 * membership API (/v1/members, /v1/join, /v1/leave, /v1/event, /v1/state, /v1/keys,
 * /v1/gossip/counters, /v1/gossip/rtt: our probes' round trips) and tells other modules
 * about member changes.
 */
#ifndef PL_AGENT_GOSSIP_H
#define PL_AGENT_GOSSIP_H

#include "agent.h"
#include "gossip.h"

extern const struct agent_module agent_gossip_module;

/* Checks the `gossip` section of the config without starting anything (agent start runs
 * it before it creates the data dir). 0, or PL_ECONFIG with one line in err. */
int agent_gossip_config_check(const struct agent_config *cfg, char *err, size_t err_size);

struct agent_gossip;

/* Member changes, for modules that follow membership (Raft finds its voters so). */
typedef void (*agent_gossip_member_cb)(void *data, const struct gossip_out *change);
int agent_gossip_subscribe(struct agent_gossip *ag, agent_gossip_member_cb cb, void *data);

/* The core, for read-only queries (members, state records). */
const struct gossip *agent_gossip_core(const struct agent_gossip *ag);

/* What a reader last saw of every member's record `key`: by gossip slot, the member and
 * the record's version (a record is replaced only by a higher version). Zero it to start. */
struct agent_gossip_seen_slot {
    bool has;
    uint64_t version;
    char name[GOSSIP_NAME_MAX];
};
struct agent_gossip_seen {
    bool valid;
    uint32_t n;
    struct agent_gossip_seen_slot *v;
};
/* Whether any member's record `key` appeared, was replaced or went away since the last
 * call with `seen` (true on the first); notes what it saw. A reader that parses records
 * every tick parses them again only when this says so. */
bool agent_gossip_records_changed(struct agent_gossip_seen *seen, const struct gossip *g,
                                  const char *key);
void agent_gossip_seen_free(struct agent_gossip_seen *seen);

/* Publishes one of our state records (a JSON text value by convention). */
int agent_gossip_state_set(struct agent_gossip *ag, const char *key, const char *json);

/* Publishes one of our state records as raw bytes (a binary record with its own codec). */
int agent_gossip_state_set_bytes(struct agent_gossip *ag, const char *key, const uint8_t *p,
                                 size_t len);

/* Sets one of our tags (gossiped key/value metadata) and announces the change. */
int agent_gossip_tag_set(struct agent_gossip *ag, const char *key, const char *value);

struct prom_writer;
/* Writes the gossip metrics of GET /v1/metrics (agent_metrics.h). */
void agent_gossip_metrics(struct agent_gossip *ag, struct prom_writer *w);

/* The keyring (shared with the Raft transport, which seals with the same keys). */
const struct gossip_keyring *agent_gossip_keyring(const struct agent_gossip *ag);

#endif
