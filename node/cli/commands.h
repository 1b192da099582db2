/*
 * The subcommands of the `platelet` binary. Each takes the words after its name and
 * returns 0, PL_EUSAGE (exit 2) or another negative code (exit 1); it prints its own
 * error line. One line per command here and one row in main.c's table.
 */
#ifndef PL_COMMANDS_H
#define PL_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_sample_service(int argc, char **argv);
int cmd_exec(int argc, char **argv); /* internal: `platelet _exec` (cmd_exec.c) */
int cmd_fault(int argc, char **argv);
int cmd_members(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_leave(int argc, char **argv);
int cmd_event(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_counters(int argc, char **argv);
int cmd_raft(int argc, char **argv);
int cmd_propose(int argc, char **argv);
int cmd_swarm(int argc, char **argv);
int cmd_placement(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_postmortem(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_services(int argc, char **argv);
int cmd_service(int argc, char **argv);
int cmd_incidents(int argc, char **argv);
int cmd_incident(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_chaos(int argc, char **argv); /* node/chaos/chaos_run.c */
int cmd_decisions(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_strategies(int argc, char **argv);

#endif
