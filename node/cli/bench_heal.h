/*
 * `platelet bench heal` (bench_heal.c): fault-to-healthy times for crash and hang with the
 * default policy, and the agent's idle CPU and RSS while it watches ten services. A row of
 * the bench table in cmd_bench.c.
 */
#ifndef PL_BENCH_HEAL_H
#define PL_BENCH_HEAL_H

int bench_heal(int argc, char **argv);

#endif
