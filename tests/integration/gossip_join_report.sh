#!/usr/bin/env bash
# `platelet join` reports how the join went: through an address where nothing listens it
# exits 1 naming the address and the reason (it exited 0 and nothing was logged), and the
# agent logs the failure; with one good address among bad ones it exits 0, says how many
# answered and lists the others; the retried --join list logs its failures too.
source "$(dirname "$0")/lib.sh"

declare -A PORT
for n in a1 a2; do PORT[$n]=$(free_port); done
closed=$(free_port) # nothing listens here
spawn a1 "$PLATELET" agent --name a1 --bind "127.0.0.1:${PORT[a1]}" --data-dir "$TEST_DIR/a1"
a1=$SPAWNED_PID
spawn a2 "$PLATELET" agent --name a2 --bind "127.0.0.1:${PORT[a2]}" --data-dir "$TEST_DIR/a2" \
    --join "127.0.0.1:$closed"
a2=$SPAWNED_PID
for n in a1 a2; do wait_for 10 "$n API" test -S "$TEST_DIR/$n/api.sock"; done
join() { "$PLATELET" join --api "unix:$TEST_DIR/a2/api.sock" "$@"; }

expect_fail 1 "^platelet join: could not join through any address: 127.0.0.1:$closed \(Connection refused\)$" \
    join "127.0.0.1:$closed"
grep -q "WARN .*join through 127.0.0.1:$closed failed: Connection refused" "$TEST_DIR/a2.log" ||
    fail "the agent did not log the failed join"
pass "a join that reaches no one exits 1 and is logged"

expect_fail 2 "addrs" join "not-an-address"
out=$(join "127.0.0.1:$closed" "127.0.0.1:${PORT[a1]}") || fail "a join with one good address failed"
[ "$out" = "joined through 1 of 2 address(es)
  127.0.0.1:$closed: Connection refused" ] || fail "join output: $out"
in_members() { "$PLATELET" members --api "unix:$TEST_DIR/a2/api.sock" | grep -q "^a1 "; }
wait_for 10 "a1 among a2's members" in_members
pass "a join with one good address of two exits 0 and lists the other"

stop_agent "$a2" a2
stop_agent "$a1" a1
pass "both agents stopped cleanly"
