#!/usr/bin/env bash
# InstallSnapshot in bounded chunks: three voters that compact after 16 entries (nothing
# trailing) and send snapshot bodies in chunks of 512 bytes. A voter is SIGKILLed while 600
# proposals commit (a ledger far larger than one chunk); restarted, it receives the ledger
# leaves it lacks chunk by chunk (the leader's messages to it delayed so the transfer takes
# seconds) and is SIGKILLed again mid-transfer: its ledger checks clean. Restarted once more
# it resumes from the leaves it holds, installs the snapshot, and ends with the leader's
# ledger size, root and swarm state hash. Throughout, the Raft core of the leader and of the
# follower holds only the snapshot's description and one chunk (raft status memory).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

CHUNK=512
declare -A PORT PID
lagger_behind $CHUNK s1 s2 s3
pass "leader $leader; $n1 proposals committed while $lagger was down ($size entries)"

# small_snapshot NODE: the core's snapshot memory is a description and a chunk or two.
small_snapshot() {
    local b
    b=$(field "$1" '["memory"]["snapshot_bytes"]')
    [ "$b" -le $((4 * CHUNK)) ] || fail "$1's Raft core holds $b snapshot bytes"
}
small_snapshot "$leader"

lagger_restart_slow
held=$(lsize)
kill -KILL "${PID[$lagger]}"
wait "${PID[$lagger]}" 2>/dev/null || true
[ "$held" -lt "$size" ] || fail "$lagger finished before it could be killed mid-transfer ($held)"
"$PLATELET" ledger check --data-dir "$TEST_DIR/$lagger" >"$TEST_DIR/check.out" 2>&1 ||
    fail "ledger check after kill -9 mid-transfer: $(cat "$TEST_DIR/check.out")"
pass "$lagger SIGKILLed mid-transfer holding $held of $size entries; its ledger checks clean"

"$PLATELET" fault clear --api "unix:$(sock "$leader")" >/dev/null
NODE_LOG=$lagger-again start_node "$lagger" --join "127.0.0.1:${PORT[$leader]}"
wait_for 10 "$lagger API after the second restart" test -S "$(sock "$lagger")"
wait_for 60 "all three ledgers equal" same_ledger "$size" s1 s2 s3
grep -q "snapshot installed" "$TEST_DIR/$lagger-again.log" ||
    fail "$lagger caught up without installing a snapshot"
again=$(received)
[ $((again + held)) -le "$size" ] ||
    fail "$lagger received $again leaves after holding $held of $size: it did not resume"
sent=$(field "$leader" '["snapshot_transfer"]["sent_bytes"]')
[ "$sent" -ge $((10 * CHUNK)) ] || fail "the leader sent only $sent bytes of snapshot chunks"
small_snapshot "$leader"
small_snapshot "$lagger"
wait_for 20 "the same swarm state hash on all three" same_state s1 s2 s3
pass "$lagger resumed ($again more leaves), installed; same root and state hash; $sent chunk bytes sent"

n2=$(propose_acked 20 after "$TEST_DIR/acked2.json" "$(sock "$leader")")
wait_for 20 "three ledgers equal after more proposals" same_ledger $((size + n2)) s1 s2 s3
acked_in_ledgers s1 s2 s3 -- before="$TEST_DIR/acked0.json" missed="$TEST_DIR/acked1.json" \
    after="$TEST_DIR/acked2.json" || fail "an acknowledged proposal is missing"
pass "$lagger applies what commits after; every acknowledged proposal is everywhere"
