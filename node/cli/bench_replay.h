/*
 * `platelet bench replay` (bench_replay.c): verified replay rate, --at-index from the
 * nearest state snapshot and post-mortem times on a built ledger. A row of the bench table
 * in cmd_bench.c.
 */
#ifndef PL_BENCH_REPLAY_H
#define PL_BENCH_REPLAY_H

int bench_replay(int argc, char **argv);

#endif
