#!/usr/bin/env bash
# A member that is not a voter proposes through the council as a Raft client (DESIGN.md
# roles): three voters and one member m1 that runs no Raft core and does not listen for
# Raft. Proposals through m1 are answered with their committed index and land in every
# voter's ledger; after the leader is SIGKILLed, m1 finds the new leader through gossip and
# its proposals commit again; no acknowledged proposal is missing anywhere.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

council_configs

declare -A PORT PID
for n in r1 r2 r3 m1; do PORT[$n]=$(free_port); done
for n in r1 r2 r3 m1; do
    cfg=voter
    [ "$n" = m1 ] && cfg=member
    spawn "$n" "$PLATELET" agent --config "$TEST_DIR/$cfg.json" --name "$n" \
        --bind "127.0.0.1:${PORT[$n]}" --data-dir "$TEST_DIR/$n" --join "127.0.0.1:${PORT[r1]}"
    PID[$n]=$SPAWNED_PID
done
for n in r1 r2 r3 m1; do wait_for 10 "$n API" test -S "$(sock $n)"; done
wait_for 20 "one leader agreed by the voters" one_leader r1 r2 r3
leader=$(leader_of r1)
grep -q "proposals go to the council's leader as a client" "$TEST_DIR/m1.log" ||
    fail "m1 did not start as a Raft client"
pass "leader $leader; m1 is a client"

# m1's Raft port (gossip + 1) is not listened on: a client only dials.
if (exec 3<>"/dev/tcp/127.0.0.1/$((PORT[m1] + 1))") 2>/dev/null; then
    fail "m1 listens on its Raft port"
fi

wait_for 10 "m1's first proposal" "$PLATELET" propose --api "unix:$(sock m1)" '{"first": true}'
n1=$(propose_acked 200 client "$TEST_DIR/acked1.json" "$(sock m1)")
[ "$n1" -ge 198 ] || fail "only $n1 of 200 proposals through the client acknowledged"
pass "$n1 of 200 proposals through m1 acknowledged"

kill_leader "$leader" "${PID[$leader]}" r1 r2 r3
# Until gossip carries the new leader's record, a proposal may go to the dead one and end
# in a timeout (outcome unknown); one must commit within a few seconds.
wait_for 20 "a proposal through m1 after the failover" \
    "$PLATELET" propose --api "unix:$(sock m1)" '{"after": "failover"}'
n2=$(propose_acked 100 failover "$TEST_DIR/acked2.json" "$(sock m1)")
[ "$n2" -ge 98 ] || fail "only $n2 of 100 proposals through the client acknowledged after failover"
pass "$n2 of 100 proposals through m1 acknowledged under the new leader $(leader_of "${survivors[0]}")"

wait_for 20 "the survivors' ledgers equal" same_ledger $((n1 + n2)) "${survivors[@]}"
acked_in_ledgers "${survivors[@]}" -- client="$TEST_DIR/acked1.json" failover="$TEST_DIR/acked2.json"
pass "no proposal acknowledged to the client is missing on any voter"

# m1 is not a voter: it applies nothing, so its own ledger stays empty.
[ "$(field m1 '["ledger"]["size"]')" = 0 ] || fail "the client's own ledger is not empty"
pass "the client applied nothing itself"
