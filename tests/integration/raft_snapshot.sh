#!/usr/bin/env bash
# A voter that missed more than the log keeps is brought back by a snapshot: three voters
# that compact after 16 entries (nothing trailing), one SIGKILLed while 150 proposals commit,
# restarted: it installs the leader's snapshot (the ledger leaves it lacks, in chunks, then
# the root checked against the snapshot's), ends with the same size and root as the others
# and every acknowledged proposal, and keeps applying what commits after it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

cat >"$TEST_DIR/raft.json" <<'JSON'
{"profile": "local",
 "raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 500, "heartbeat_ms": 50,
          "snapshot_threshold": 16, "snapshot_trailing": 0}}
JSON

declare -A PORT PID
start_node() { # log-name node [extra flags]
    local log=$1 name=$2
    shift 2
    spawn "$log" "$PLATELET" agent --config "$TEST_DIR/raft.json" --name "$name" \
        --bind "127.0.0.1:${PORT[$name]}" --data-dir "$TEST_DIR/$name" "$@"
    PID[$name]=$SPAWNED_PID
}
for n in s1 s2 s3; do PORT[$n]=$(free_port); done
start_node s1 s1
start_node s2 s2 --join "127.0.0.1:${PORT[s1]}"
start_node s3 s3 --join "127.0.0.1:${PORT[s1]}"
for n in s1 s2 s3; do wait_for 10 "$n API" test -S "$(sock $n)"; done
wait_for 20 "one leader agreed by all" one_leader s1 s2 s3
lagger_setup s1 s2 s3
pass "leader $leader; $n0 proposals on all three; stopping $lagger"

lagger_down 150 140
pass "$n1 proposals committed while $lagger was down"

start_node "$lagger-restart" "$lagger"
wait_for 10 "$lagger API after restart" test -S "$(sock "$lagger")"
wait_for 30 "all three ledgers equal" same_ledger $((n0 + n1)) s1 s2 s3
grep -q "snapshot installed" "$TEST_DIR/$lagger-restart.log" ||
    fail "$lagger caught up without a snapshot (the log was not compacted?)"
pass "$lagger restored from a snapshot: ledgers equal ($(field s1 '["ledger"]["size"]') entries)"

n2=$(propose_acked 20 after "$TEST_DIR/acked2.json" "$(sock "$leader")")
wait_for 20 "three ledgers equal after more proposals" same_ledger $((n0 + n1 + n2)) s1 s2 s3
acked_in_ledgers s1 s2 s3 -- before="$TEST_DIR/acked0.json" missed="$TEST_DIR/acked1.json" \
    after="$TEST_DIR/acked2.json" || fail "an acknowledged proposal is missing"
pass "$lagger applies what commits after the restore; every acknowledged proposal is everywhere"

# POST /v1/raft/snapshot: a follower builds one now (off its loop) at its applied index. One
# more proposal before each ask, so the index is past any snapshot the threshold (16) took;
# a 409 (one being built, or nothing new since the last) asks again.
for try in 1 2 3 4 5; do
    propose_acked 1 one "$TEST_DIR/acked3.json" "$(sock "$leader")" >/dev/null
    size=$(field "$leader" '["ledger"]["size"]')
    wait_for 20 "three ledgers at $size" same_ledger "$size" s1 s2 s3
    code=$(curl -s -o "$TEST_DIR/snap.json" -w '%{http_code}' --unix-socket "$(sock "$lagger")" \
        -X POST http://localhost/v1/raft/snapshot)
    [ "$code" = 202 ] && break
    [ "$code" = 409 ] || fail "POST /v1/raft/snapshot: $code $(cat "$TEST_DIR/snap.json")"
done
[ "$code" = 202 ] || fail "POST /v1/raft/snapshot refused 5 times: $(cat "$TEST_DIR/snap.json")"
at=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["index"])' "$TEST_DIR/snap.json")
snapped() { [ "$(field "$lagger" '["snapshots"]["last_index"]')" = "$at" ]; }
wait_for 20 "$lagger's snapshot taken at $at" snapped
pass "$lagger took a snapshot on request at index $at"
