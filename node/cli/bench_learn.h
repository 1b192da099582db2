/*
 * `platelet bench learn` (bench_learn.c): restart-only, rules-only and learned healing side
 * by side through the real machine and swarm state in virtual time, on a training mix and
 * a held-out mix of faults whose working action is not always a restart. A row of the
 * bench table in cmd_bench.c.
 */
#ifndef PL_BENCH_LEARN_H
#define PL_BENCH_LEARN_H

int bench_learn(int argc, char **argv);

#endif
