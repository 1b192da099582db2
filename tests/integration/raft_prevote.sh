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
        --bind "127.0.0.1:${PORT[$n]}" --data-dir "$TEST_DIR/$n" --join "127.0.0.1:${PORT[p1]}" --encrypt "$KEY"
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

"$PLATELET" fault partition --peer '*' --api "$(api "$follower")" >/dev/null
# Ten election timeouts alone: a node without PreVote would have raised its term ~10 times.
sleep 3
fterm=$(field "$follower" '["term"]')
[ "$fterm" = "$term" ] || fail "the isolated follower raised its term from $term to $fterm"
[ "$(field "$leader" '["role"]')" = leader ] || fail "the leader lost leadership during the partition"
"$PLATELET" propose --api "$(api "$leader")" '{"during":"partition"}' >/dev/null ||
    fail "the majority could not commit during the partition"
pass "isolated for 3 s: its term stayed $term and the majority kept committing"

"$PLATELET" fault clear --api "$(api "$follower")" >/dev/null
caught_up() {
    [ "$(field "$follower" '["commit_index"]')" = "$(field "$leader" '["commit_index"]')" ]
}
wait_for 20 "the follower catches up" caught_up
sleep 1
[ "$(field "$leader" '["role"]')" = leader ] || fail "the healed follower deposed the leader"
[ "$(field "$leader" '["term"]')" = "$term" ] || fail "the term changed after healing"
[ "$(field "$follower" '["leader"]')" = "$leader" ] || fail "the follower follows someone else"
pass "healed: the follower caught up and $leader is still leader in term $term"
