/*
 * `platelet bench heal` (bench_heal.c): fault-to-healthy times for crash, hang and error
 * burst with the example config's settings, gossip probe round trips while 1,000 incidents
 * are written, and the agent's idle CPU and RSS while it watches ten services. A row of the
 * bench table in cmd_bench.c.
 */
#ifndef PL_BENCH_HEAL_H
#define PL_BENCH_HEAL_H

int bench_heal(int argc, char **argv);

#endif
