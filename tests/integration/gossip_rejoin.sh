#!/usr/bin/env bash
# The peers file: a seed agent (started with no --join) that is SIGKILLed and restarted
# finds its cluster again at once, from the members it knew; after a graceful leave it
# does not; a bad line in the file is skipped and named. Push-pull is set to ten minutes
# so that nothing but the peers file can bring the members back within the test.
source "$(dirname "$0")/lib.sh"

cat >"$TEST_DIR/slow_sync.json" <<'JSON'
{"gossip": {"probe_interval_ms": 200, "probe_timeout_ms": 100, "gossip_interval_ms": 50,
            "pushpull_interval_ms": 600000}}
JSON

declare -A PORT PID
for n in n1 n2 n3; do PORT[$n]=$(free_port); done
start_node() { # log-name node [extra flags...]
    local log=$1 name=$2
    shift 2
    spawn "$log" "$PLATELET" agent --config "$TEST_DIR/slow_sync.json" --name "$name" \
        --bind "127.0.0.1:${PORT[$name]}" --data-dir "$TEST_DIR/$name" "$@"
    PID[$name]=$SPAWNED_PID
    wait_for 10 "$name API" test -S "$TEST_DIR/$name/api.sock"
}
alive_seen_by() {
    "$PLATELET" members --api "unix:$TEST_DIR/$1/api.sock" --json |
        python3 -c 'import json,sys; print(sum(m["status"] == "alive" for m in json.load(sys.stdin)))'
}
sees() { [ "$(alive_seen_by "$1")" = "$2" ]; }
peers_list() { grep -q "^n2 127.0.0.1:${PORT[n2]}\$" "$1" && grep -q "^n3 127.0.0.1:${PORT[n3]}\$" "$1"; }

start_node n1 n1
start_node n2 n2 --join "127.0.0.1:${PORT[n1]}"
start_node n3 n3 --join "127.0.0.1:${PORT[n1]}"
for n in n1 n2 n3; do wait_for 20 "$n sees 3 alive" sees $n 3; done
wait_for 10 "n1's peers file names n2 and n3" peers_list "$TEST_DIR/n1/peers"
pass "the peers file names the other members"

kill -KILL "${PID[n1]}"
wait "${PID[n1]}" 2>/dev/null || true
start_node n1-restart n1
wait_for 10 "the restarted seed sees 3 alive" sees n1 3
grep -q "rejoining through 2 member(s) known before the last stop" "$TEST_DIR/n1-restart.log" ||
    fail "the restart did not say it rejoins through the peers file"
pass "a SIGKILLed seed restarted without --join rejoins its cluster"

stop_agent "${PID[n1]}" n1
[ ! -e "$TEST_DIR/n1/peers" ] || fail "the peers file is still there after a graceful leave"
api() { echo "unix:$TEST_DIR/$1/api.sock"; }
declare -A PROBES_BEFORE
for n in n2 n3; do PROBES_BEFORE[$n]=$(gossip_counter "$(api $n)" probes); done
start_node n1-after-leave n1
# A rejoin would start at once; give it ten probe rounds of n2 and n3 (two seconds at
# least), counted by them, in which n1 would have shown up alive to them as well.
for n in n2 n3; do
    wait_for 20 "$n probes ten more times" counter_at_least "$(api $n)" probes $((PROBES_BEFORE[$n] + 10))
done
sees n1 1 || fail "after a graceful leave n1 rejoined on its own (sees $(alive_seen_by n1) alive)"
for n in n2 n3; do
    sees $n 2 || fail "after a graceful leave $n sees n1 alive again"
done
! grep -q "rejoining through" "$TEST_DIR/n1-after-leave.log" ||
    fail "n1 tried to rejoin through a peers file after a graceful leave"
pass "after a graceful leave the agent does not rejoin by itself"

stop_agent "${PID[n1]}" n1
printf 'garbage\nn2 127.0.0.1:%s\n' "${PORT[n2]}" >"$TEST_DIR/n1/peers"
start_node n1-bad-line n1
wait_for 10 "n1 sees 3 alive through the good line" sees n1 3
grep -q "n1/peers:1: not \"NAME HOST:PORT\"; line skipped" "$TEST_DIR/n1-bad-line.log" ||
    fail "the bad line of the peers file was not named"
pass "a bad line in the peers file is named and skipped"
