/*
 * `platelet chaos run --netns`: each agent in its own network namespace with
 * its own address on a bridge, so that partitions and loss are done by the
 * kernel (nftables in the agent's namespace) and not by the agents' transports.
 * Needs root, ip(8) and nft(8).
 *
 * The network of one run: a bridge in the machine's own namespace holds the
 * gateway address (the harness's side: it reaches the agents' APIs and sample
 * services over the bridge, and the services reach the harness's dependency
 * there); node i's namespace has an eth0 (one end of a veth pair, the other a
 * port of the bridge) with address .(11 + i) of the same /24.
 *
 * Names: every object is named from the run's id, "plch" and 6 random hex
 * digits not in use (the bridge; the veths' outer ends "<id>v<i>", the
 * namespaces "<id>n<i>"), so two runs, or a run and a test, never touch each
 * other's. Addresses: a /24 of 198.18.0.0/15 (RFC 2544's block for benchmarking
 * network devices, which no real network routes) that no route of the machine's
 * namespace overlaps, tried from a hash of the name, chosen and configured
 * under a lock file so two runs starting at once cannot take the same one.
 *
 * Clean-up, always: chaos_netns_down() on every way out of a run; a guard
 * process, forked before anything is made, does the same when the harness dies
 * without calling it (SIGINT, SIGKILL, a crash): the processes in the
 * namespaces end first, while the bridge still carries their connections' last
 * packets (an orphaned TCP socket whose FIN cannot be delivered keeps its
 * namespace alive for minutes), then the namespaces, then the bridge; and
 * chaos_netns_clean_stale() removes whatever a run whose harness and guard both
 * died left behind.
 *
 * Faults: one nftables table of the netdev family per nemesis and node, in the
 * node's namespace, with a chain on eth0's ingress hook and one on its egress
 * hook: "drop what comes from or goes to these peers' addresses", all of it (a
 * partition) or at random with `numgen random mod 10000 < N` (loss). Deleting
 * the table undoes exactly that nemesis. The netdev hooks, not inet
 * input/output, because a drop at the output hook fails the sender's sendto()
 * with EPERM, which no real network does; at egress the packet just vanishes.
 *
 * Call everything from the main thread (it forks).
 */
#ifndef PL_CHAOS_NETNS_H
#define PL_CHAOS_NETNS_H

#include "chaos_scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHAOS_NETNS_ID_MAX 16 /* interface names are at most 15 characters */
#define CHAOS_NETNS_ADDR_MAX 16

struct chaos_netns {
  char id[CHAOS_NETNS_ID_MAX]; /* "plch1a2b3c": the bridge, every name's prefix
                                */
  char subnet[24];             /* "198.18.37.0/24" */
  char gw[CHAOS_NETNS_ADDR_MAX]; /* the bridge's address: the harness's side */
  char addr[CHAOS_NODES_MAX][CHAOS_NETNS_ADDR_MAX];
  char ns[CHAOS_NODES_MAX][32];   /* namespace names */
  char path[CHAOS_NODES_MAX][64]; /* /run/netns/NAME, for setns() */
  uint64_t
      ino[CHAOS_NODES_MAX]; /* each namespace's inode: its processes' ns/net */
  int n;
  char ip[256], nft[256]; /* the tools, found on PATH */
  pid_t guard_pid;
  int guard_fd; /* the guard's pipe, -1 when none */
  int lock_fd;  /* the run's lock (see chaos_netns_clean_stale) */
};

/*
 * What --netns needs: root, ip(8) and nft(8) on PATH (their paths into nn). 0,
 * or PL_EUSAGE with one line in err naming what is missing.
 */
int chaos_netns_check(struct chaos_netns *nn, char *err, size_t err_size);

/*
 * Removes the namespaces, veths and bridges of runs whose harness and guard are
 * both gone: each run holds a lock (flock) on /run/platelet-chaos-netns/ID
 * while it lives, which works across PID namespaces, where a PID would not.
 * Returns how many objects it removed.
 */
int chaos_netns_clean_stale(const struct chaos_netns *nn);

/*
 * Makes a run's network for `n` nodes: a fresh run id and its lock, the guard,
 * the bridge with its address, the namespaces and their links, and checks
 * nftables answers inside one (the kernel may lack nf_tables). 0, or a negative
 * code with one line in err (what was made is removed).
 */
int chaos_netns_up(struct chaos_netns *nn, int n, char *err, size_t err_size);

/* Removes everything chaos_netns_up made and ends the guard. Safe to call
 * twice. */
void chaos_netns_down(struct chaos_netns *nn);

/*
 * Node i drops its packets from and to the nodes in `peers` (bit j: node j):
 * all of them with rate >= 1, else each at random with that probability.
 * `table` names the nemesis run's rules (letters, digits, '_'). 0, or a
 * negative code with nft's message in err.
 */
int chaos_netns_drop(const struct chaos_netns *nn, int i, const char *table,
                     uint32_t peers, double rate, char *err, size_t err_size);

/* Node i's table `table` goes (its rules with it); *dropped is how many packets
 * its rules dropped (NULL-able). 0, or a negative code. */
int chaos_netns_undrop(const struct chaos_netns *nn, int i, const char *table,
                       uint64_t *dropped);

/* The helpers chaos_disk.c shares: `name` on PATH into out (false: not found), and
 * argv[0] (a full path) run with argv, its stdout and stderr into out (NULL-able), 0 when
 * it exits 0, else PL_ESTATE (-errno when it cannot start). */
bool chaos_tool_find(const char *name, char *out, size_t size);
/* Forks a guard (chaos_netns.c's and chaos_disk.c's): in its own session, ignoring SIGINT
 * and SIGTERM, stdio on /dev/null, holding no descriptor of the harness's but `keep_fd`
 * (-1: none). Returns 1 in the harness (*pid_out the guard, *fd_out the pipe's write end:
 * write a byte and close it when done), 0 in the guard (*fd_out the read end: a read gives
 * the byte, or 0 when the harness died), or a negative code. */
int chaos_guard_fork(int keep_fd, pid_t *pid_out, int *fd_out);
int chaos_tool_run(char *const argv[], char *out, size_t size);

#endif
