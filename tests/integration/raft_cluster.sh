#!/usr/bin/env bash
# Three real voters on loopback: a leader within a few election timeouts; 1,000 proposals;
# the leader SIGKILLed; a new leader; proposals continue; the old leader restarts and
# catches up; every node's ledger has the same size and root, and every acknowledged
# proposal is in every node's ledger at the index it was acknowledged with.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

council_configs

declare -A PORT PID
start_node() { # name [extra flags]
    local name=$1
    shift
    spawn "$name" "$PLATELET" agent --config "$TEST_DIR/voter.json" --name "$name" \
        --bind "127.0.0.1:${PORT[$name]}" --data-dir "$TEST_DIR/$name" "$@"
    PID[$name]=$SPAWNED_PID
}
for n in r1 r2 r3; do PORT[$n]=$(free_port); done
# Start them in reverse order: joins are retried until the first member is up.
start_node r3 --join "127.0.0.1:${PORT[r1]}"
start_node r2 --join "127.0.0.1:${PORT[r1]}"
start_node r1
for n in r1 r2 r3; do wait_for 10 "$n API" test -S "$(sock $n)"; done
wait_for 20 "one leader agreed by all" one_leader r1 r2 r3
leader=$(leader_of r1)
pass "leader $leader elected"

n1=$(propose_acked 1000 first "$TEST_DIR/acked1.json" "$(sock r1)" "$(sock r2)" "$(sock r3)")
[ "$n1" -ge 990 ] || fail "only $n1 of 1000 proposals acknowledged with a stable leader"
pass "$n1 of 1000 proposals acknowledged"

kill_leader "$leader" "${PID[$leader]}" r1 r2 r3
new_leader=$(leader_of "${survivors[0]}")
[ "$new_leader" != "$leader" ] || fail "the killed leader is still named leader"
pass "new leader $new_leader after SIGKILL of $leader"

n2=$(propose_acked 200 second "$TEST_DIR/acked2.json" "$(sock "${survivors[0]}")" "$(sock "${survivors[1]}")")
[ "$n2" -ge 190 ] || fail "only $n2 of 200 proposals acknowledged after failover"
pass "$n2 of 200 proposals acknowledged after failover"

start_node "$leader"
wait_for 10 "$leader API after restart" test -S "$(sock "$leader")"
min=$((n1 + n2))
wait_for 30 "all three ledgers equal" same_ledger "$min" r1 r2 r3
pass "the old leader caught up: ledgers equal ($(field r1 '["ledger"]["size"]') entries)"

# Every acknowledged proposal is in every node's ledger, at its acknowledged index.
acked_in_ledgers r1 r2 r3 -- first="$TEST_DIR/acked1.json" second="$TEST_DIR/acked2.json"
pass "no acknowledged proposal is missing on any node"
