#!/usr/bin/env bash
# InstallSnapshot while the council moves on (issue 12's open risk: one catch-up never
# finished). Three voters compact after 16 entries (nothing trailing) and send snapshot
# bodies in 512-byte chunks. A voter SIGKILLed while 600 proposals commit is restarted and
# receives the leaves it lacks, slowly (the leader's messages to it delayed). Mid-transfer,
# 40 more proposals commit, so the leader takes newer snapshots and the transfer moves to
# them; then the leader is SIGKILLed, still mid-transfer. The lagger must catch up from the
# next leader; with the old leader back, all three hold the same ledger and swarm state and
# every acknowledged proposal.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

declare -A PORT PID
lagger_behind 512 m1 m2 m3
snap1=$(field "$leader" '["snapshots"]["last_index"]')
pass "leader $leader; $n1 proposals committed while $lagger was down ($size entries, snapshot at $snap1)"

lagger_restart_slow

# The leader moves on: newer snapshots replace the one being sent.
n2=$(propose_acked 40 during "$TEST_DIR/acked2.json" "$(sock "$leader")")
[ "$n2" -ge 38 ] || fail "only $n2 of 40 proposals acknowledged during the transfer"
snap2=$(field "$leader" '["snapshots"]["last_index"]')
held=$(lsize)
[ "$snap2" -gt "$snap1" ] || fail "the leader took no newer snapshot ($snap1, then $snap2)"
[ "$held" -lt "$snap1" ] || fail "$lagger finished before the snapshot moved ($held of $snap1)"
pass "the leader's snapshot moved from $snap1 to $snap2 while $lagger held $held leaves"

# The sender dies mid-transfer.
old=$leader
held2=$(lsize)
[ "$held2" -lt "$snap2" ] || fail "$lagger finished before the leader was killed ($held2 of $snap2)"
kill_leader "$old" "${PID[$old]}" m1 m2 m3
new=$(leader_of "${survivors[0]}") || new=""
[ -n "$new" ] || fail "no leader right after $old was killed"
[ "$new" != "$lagger" ] || fail "$lagger, still behind, became the leader"
pass "leader $old SIGKILLed with $lagger holding $held2 of $snap2 leaves; $new leads"

want=$(field "$new" '["ledger"]["size"]')
wait_for 60 "$lagger catching up from $new" same_ledger "$want" "$new" "$lagger"
grep -q "snapshot installed" "$TEST_DIR/$lagger-restart.log" ||
    fail "$lagger caught up without installing a snapshot"
NODE_LOG=$old-again start_node "$old" --join "127.0.0.1:${PORT[$new]}"
wait_for 10 "$old API after restart" test -S "$(sock "$old")"
n3=$(propose_acked 20 after "$TEST_DIR/acked3.json" "$(sock "$new")")
wait_for 60 "all three ledgers equal" same_ledger $((want + n3)) m1 m2 m3
wait_for 20 "the same swarm state hash on all three" same_state m1 m2 m3
acked_in_ledgers m1 m2 m3 -- before="$TEST_DIR/acked0.json" missed="$TEST_DIR/acked1.json" \
    during="$TEST_DIR/acked2.json" after="$TEST_DIR/acked3.json" ||
    fail "an acknowledged proposal is missing"
pass "$lagger caught up from $new; with $old back all three agree and hold every acknowledged proposal"
