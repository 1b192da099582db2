#!/usr/bin/env bash
# PreVote with real processes: a follower cut off from everyone (the agent's own fault
# injection, both directions, every peer) cannot win an election and, thanks to PreVote,
# does not even raise its term; once healed it rejoins without deposing the leader.
# The cluster runs encrypted, so Raft's frames go through the keyring's seal and open.
source "$(dirname "$0")/lib.sh"

cat >"$TEST_DIR/raft.json" <<'JSON'
{"profile": "local",
 "raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 300, "heartbeat_ms": 30}}
JSON
declare -A PORT
for n in p1 p2 p3; do PORT[$n]=$(free_port); done
KEY=$(head -c 32 /dev/urandom | base64)
for n in p1 p2 p3; do
    spawn "$n" "$PLATELET" agent --config "$TEST_DIR/raft.json" --name "$n" \
        --bind "127.0.0.1:${PORT[$n]}" --data-dir "$TEST_DIR/$n" --join "127.0.0.1:${PORT[p1]}" --encrypt "$KEY" \
        --enable-faults
done
api() { echo "unix:$TEST_DIR/$1/api.sock"; }
field() { "$PLATELET" raft status --api "$(api "$1")" --json | python3 -c "import json,sys; print(json.load(sys.stdin)$2)"; }
agreed() {
    local l
    l=$(field p1 '["leader"]') || return 1
    [ -n "$l" ] && [ "$(field p2 '["leader"]')" = "$l" ] && [ "$(field p3 '["leader"]')" = "$l" ]
}
for n in p1 p2 p3; do wait_for 10 "$n API" test -S "$TEST_DIR/$n/api.sock"; done
wait_for 20 "a leader agreed by all" agreed
leader=$(field p1 '["leader"]')
term=$(field "$leader" '["term"]')
for n in p1 p2 p3; do [ "$n" = "$leader" ] || follower=$n; done
"$PLATELET" propose --api "$(api "$leader")" '{"before":"partition"}' >/dev/null
pass "leader $leader in term $term; isolating follower $follower"

elections_before=$(field "$follower" '["stats"]["elections"]')
"$PLATELET" fault partition --peer '*' --api "$(api "$follower")" >/dev/null
# Wait until the follower has campaigned ten times (each election timeout it spends alone
# starts one): without PreVote each would have raised its term.
campaigned() { [ "$(field "$follower" '["stats"]["elections"]')" -ge $((elections_before + 10)) ]; }
wait_for 30 "the isolated follower campaigns ten times" campaigned
fterm=$(field "$follower" '["term"]')
[ "$fterm" = "$term" ] || fail "the isolated follower raised its term from $term to $fterm"
[ "$(field "$leader" '["role"]')" = leader ] || fail "the leader lost leadership during the partition"
[ "$(field "$leader" '["term"]')" = "$term" ] || fail "the leader's term changed during the partition"
"$PLATELET" propose --api "$(api "$leader")" '{"during":"partition"}' >/dev/null ||
    fail "the majority could not commit during the partition"
pass "isolated through ten campaigns: its term stayed $term and the majority kept committing"

"$PLATELET" fault clear --api "$(api "$follower")" >/dev/null
caught_up() {
    [ "$(field "$follower" '["commit_index"]')" = "$(field "$leader" '["commit_index"]')" ]
}
wait_for 20 "the follower catches up" caught_up
# Then watch the healed follower through at least five election timeouts (300-600 ms each)
# and ten rounds: in each, an entry the leader commits reaches it, and the leader, its term
# and the follower's leader are unchanged. A disruptive rejoin would show in some round.
still_led() {
    [ "$(field "$leader" '["role"]')" = leader ] || fail "the healed follower deposed the leader"
    [ "$(field "$leader" '["term"]')" = "$term" ] || fail "the term changed after healing"
    [ "$(field "$follower" '["term"]')" = "$term" ] || fail "the follower's term changed after healing"
    [ "$(field "$follower" '["leader"]')" = "$leader" ] || fail "the follower follows someone else"
}
watch_until=$(($(date +%s%N) / 1000000 + 3000))
rounds=0
while [ $rounds -lt 10 ] || [ $(($(date +%s%N) / 1000000)) -lt "$watch_until" ]; do
    "$PLATELET" propose --api "$(api "$leader")" "{\"after\":$rounds}" >/dev/null ||
        fail "the leader could not commit after healing (round $rounds)"
    wait_for 10 "the follower commits round $rounds" caught_up
    still_led
    rounds=$((rounds + 1))
done
pass "healed: the follower caught up, followed $leader for $rounds rounds, term still $term"
