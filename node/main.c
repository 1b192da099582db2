/*
 * The `platelet` binary: one executable with subcommands, HashiCorp style
 * (`platelet agent`, `platelet members`, `platelet ledger status`, ...).
 */
#include "pl_err.h"
#include "cli.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

#ifndef PLATELET_VERSION
#define PLATELET_VERSION "0.1.0"
#endif

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"version", cmd_version, "print the version"},
    {"agent", cmd_agent, "run a node (the daemon)"},
    {"status", cmd_status, "one screen: this node, the council and healer, members, incidents, ledger"},
    {"strategies", cmd_strategies, "what the swarm learned heals each anomaly; explain SIGNATURE"},
    {"sample-service", cmd_sample_service, "run the sample HTTP service (with faults on request)"},
    {"fault", cmd_fault, "inject faults into a running agent's transports"},
    {"members", cmd_members, "list the cluster's members"},
    {"join", cmd_join, "join a cluster through one or more members"},
    {"leave", cmd_leave, "leave the cluster gracefully and stop the agent"},
    {"event", cmd_event, "send a user event to every member"},
    {"events", cmd_events, "list the user events this agent received"},
    {"state", cmd_state, "show (or publish) gossiped state records"},
    {"keys", cmd_keys, "manage the cluster's encryption keys"},
    {"counters", cmd_counters, "gossip packet and probe counters"},
    {"raft", cmd_raft, "the Raft council: status, transfer, add-voter, remove"},
    {"propose", cmd_propose, "append an entry through the Raft leader"},
    {"swarm", cmd_swarm, "the swarm's replicated state: healer, state hash, ledger per voter"},
    {"placement", cmd_placement, "where the placed (replicas 1) services run, fenced members"},
    {"ledger", cmd_ledger, "the Merkle ledger: append, status, proof, consistency, check"},
    {"audit", cmd_audit, "export the audit trail and verify it offline"},
    {"replay", cmd_replay, "the swarm's state at any index or time, diffs, entry by entry"},
    {"postmortem", cmd_postmortem, "one incident's chain with proofs: text, JSON or an HTML page"},
    {"bench", cmd_bench, "benchmarks (bench ledger, ...)"},
    {"services", cmd_services, "the supervised and checked services of an agent"},
    {"service", cmd_service, "stop or start one service (no healing while stopped)"},
    {"incidents", cmd_incidents, "healing incidents (--open for the open ones)"},
    {"incident", cmd_incident, "one incident with its diagnosis and timeline"},
    {"approve", cmd_approve, "approve an action that waits for a human (an incident's, or a decision's by its number)"},
    {"decisions", cmd_decisions, "the healer's cluster-wide decisions, rollouts and blast radius"},
    {"rollout", cmd_rollout, "restart, stop or start a service on every node, a few at a time"},
    {"token", cmd_token, "make an API token for the agent's TCP API"},
    {"chaos", cmd_chaos, "run a chaos scenario: nemeses, workload, checkers, report"},
    {"_exec", cmd_exec, NULL}, /* internal: how the agent starts supervised services */
};

int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return cli_fail("platelet version", "takes no arguments");
    printf("platelet %s\n", PLATELET_VERSION);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: platelet <command> [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].summary != NULL)
            fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'platelet <command> --help' shows a command's flags; 'platelet --version' "
               "the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* What most tools answer to: `platelet --version` and `-v` are `platelet version`. */
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)
        return cli_exit_code(cmd_version(argc - 2, argv + 2));
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return cli_exit_code(commands[i].run(argc - 2, argv + 2));
    }
    fprintf(stderr, "platelet: unknown command '%s' (see 'platelet --help')\n", argv[1]);
    return 2;
}
