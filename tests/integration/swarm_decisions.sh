#!/usr/bin/env bash
# The healer's decisions with real processes: three voters each supervise a sample service
# (through a shell that counts its starts in a file), with a blast radius of 50 % of the
# fleet per 10 minutes.
# 1. `platelet rollout restart web --max-unavailable 1` restarts r1, then r2, then r3, each
#    once and each only after the previous one answered; r2 and r3 are past the blast
#    radius, so each waits (not restarted) until `platelet approve`.
# 2. A second rollout with the leader (r3) SIGKILLed once r1's step is committed: a new
#    healer carries on from the committed state, r3 comes back, and every node's service is
#    restarted exactly once more (r3's also started once by its own relaunch).
# 3. Clients cannot forge the healer's kinds through /v1/propose.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"
source "$(dirname "$0")/decisions_lib.sh"

declare -A PORT SVC PID
for n in r1 r2 r3; do SVC[$n]=$(free_port); done
for n in r1 r2 r3; do
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local",
 $VOTER3,
 "blast_radius": {"max_in_flight": 2, "max_fleet_pct": 50, "window_ms": 600000},
 "services": [{"name": "web", "command": "/bin/sh",
   "args": ["-c", "echo start >>'$TEST_DIR/$n.starts'; exec \"\$0\" sample-service --port ${SVC[$n]}",
            "$PLATELET"], "start_ms": 300,
   "checks": [{"type": "http", "url": "http://127.0.0.1:${SVC[$n]}/health",
               "interval_ms": 200, "timeout_ms": 300}]}]}
JSON
done
start_voters r1 r2 r3

# step_id NODE ROLLOUT MEMBER STATE: prints the decision of MEMBER's step in ROLLOUT that is
# in STATE, as NODE sees it.
step_id() {
    decisions "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
ids = [x["index"] for x in d["decisions"]
       if x["rollout"] == int(sys.argv[1]) and x["node"] == sys.argv[2] and x["state"] == sys.argv[3]]
print(ids[0]) if ids else sys.exit(1)' "$2" "$3" "$4"
}
for n in r1 r2 r3; do
    wait_for 20 "$n's service healthy" healthy "$n"
    has_starts "$n" 1 || fail "$n's service started $(starts "$n") times before any rollout"
done
wait_for 20 "the blast radius committed" q r1 'd["policy"]["max_fleet_pct"] == 50'
wait_for 20 "all three alive in the swarm state" all_alive

# --- 1. a rolling restart, in order, gated by the blast radius --------------------------
out=$("$PLATELET" rollout restart web --max-unavailable 1 --api "unix:$(sock r2)" --json) ||
    fail "rollout: $out"
R1=$(json_get "$out" 'd["rollout"]')
wait_for 20 "r1 restarted by rollout $R1" has_starts r1 2
wait_for 20 "r1's step done" q r1 "[n['step'] for r in d['rollouts'] if r['index'] == $R1 for n in r['nodes']] == ['done', 'decided', 'todo']"
# r2 is the second node of three: 67 % > 50 %, so its order waits for an operator.
D2=$(step_id r1 "$R1" r2 waiting) || fail "r2's decision is not waiting: $(decisions r1)"
has_starts r2 1 && has_starts r3 1 || fail "a node acted on a waiting decision"
"$PLATELET" status --api "unix:$(sock r2)" >"$TEST_DIR/status.txt" || fail "platelet status"
grep -q "^decisions   0 pending, 1 waiting for approval, 1 rollout(s) running" "$TEST_DIR/status.txt" &&
    grep -q "^            $D2: restart web on r2 (platelet approve $D2)" "$TEST_DIR/status.txt" ||
    fail "platelet status: $(cat "$TEST_DIR/status.txt")"
expect_fail 1 "is done, not waiting for an approval" \
    "$PLATELET" approve "$(step_id r1 "$R1" r1 done)" --api "unix:$(sock r1)"
expect_fail 1 "no decision $R1" "$PLATELET" approve "$R1" --api "unix:$(sock r1)"
"$PLATELET" approve "$D2" --api "unix:$(sock r3)" >/dev/null || fail "approve $D2"
wait_for 20 "r2 restarted after the approval" has_starts r2 2
wait_for 20 "r3's decision waiting" step_id r1 "$R1" r3 waiting
has_starts r3 1 || fail "r3 acted on a waiting decision"
"$PLATELET" approve "$(step_id r1 "$R1" r3 waiting)" --api "unix:$(sock r1)" >/dev/null ||
    fail "approve r3's step"
wait_for 20 "rollout $R1 done" q r2 "[r['state'] for r in d['rollouts'] if r['index'] == $R1] == ['done']"
for n in r1 r2 r3; do has_starts "$n" 2 || fail "$n's service started $(starts "$n") times"; done
# In order, each decided only after the previous one's answer was committed.
decisions r3 | python3 -c '
import json, sys
d = json.load(sys.stdin)
steps = sorted((x for x in d["decisions"] if x["rollout"] == int(sys.argv[1])), key=lambda x: x["index"])
assert [x["node"] for x in steps] == ["r1", "r2", "r3"], steps
assert all(x["state"] == "done" for x in steps), steps
for a, b in zip(steps, steps[1:]):
    assert b["index"] > a["result_index"], (a, b)' "$R1" || fail "rollout out of order: $(decisions r3)"
pass "a rolling restart restarts each node once, in order, and waits for approvals past the blast radius"

# --- 2. the leader SIGKILLed mid-rollout --------------------------------------------------
# r3, the last in the rollout's order, leads (so the kill comes before its own step).
if [ "$(leader_of r1)" != r3 ]; then
    "$PLATELET" raft transfer --to r3 --api "unix:$(sock "$(leader_of r1)")" >/dev/null ||
        fail "transfer to r3"
fi
wait_for 20 "r3 leads" test "$(leader_of r1)" = r3
wait_for 20 "r3 leads, agreed" one_leader r1 r2 r3
out=$("$PLATELET" rollout restart web --api "unix:$(sock r3)" --json) || fail "rollout: $out"
R2=$(json_get "$out" 'd["rollout"]')
# Every step of this rollout is past the blast radius (all three touched in the window):
# an operator approves each as it comes.
approve_waiting() {
    local id
    for id in $(decisions r1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(str(x["index"]) for x in d["decisions"]
               if x["rollout"] == int(sys.argv[1]) and x["state"] == "waiting"))' "$R2"); do
        "$PLATELET" approve "$id" --api "unix:$(sock r1)" >/dev/null 2>&1 || true
    done
}
r1_decided() { approve_waiting; q r1 "[n['step'] for r in d['rollouts'] if r['index'] == $R2 for n in r['nodes']][0] != 'todo'"; }
wait_for 20 "r1's step of rollout $R2 committed" r1_decided
kill -KILL "${PID[r3]}"
wait "${PID[r3]}" 2>/dev/null || true
wait_for 20 "a new leader among r1 r2" one_leader r1 r2
spawn r3-again "$PLATELET" agent --config "$TEST_DIR/r3.json" --name r3 \
    --bind "127.0.0.1:${PORT[r3]}" --data-dir "$TEST_DIR/r3"
wait_for 10 "r3 API after restart" test -S "$(sock r3)"
rollout_done() {
    approve_waiting
    q r1 "[r['state'] for r in d['rollouts'] if r['index'] == $R2] == ['done']"
}
wait_for 30 "rollout $R2 done after the leader's kill" rollout_done
has_starts r1 3 && has_starts r2 3 || fail "starts: r1 $(starts r1), r2 $(starts r2) (want 3 each)"
# r3: its first launch, rollout $R1, its relaunch after the kill, rollout $R2.
wait_for 10 "r3's four starts" has_starts r3 4
decisions r2 | python3 -c '
import json, sys
d = json.load(sys.stdin)
steps = [x for x in d["decisions"] if x["rollout"] == int(sys.argv[1])]
done = sorted(x["node"] for x in steps if x["state"] == "done")
assert done == ["r1", "r2", "r3"], steps
assert all(x["state"] in ("done", "refused") for x in steps), steps' "$R2" ||
    fail "rollout $R2's decisions: $(decisions r2)"
# Once the state shows every step answered, the voters drop their act-once records.
for n in r1 r2 r3; do wait_for 10 "$n's act-once records dropped" q "$n" 'd["act_records"] == 0'; done
pass "with the leader SIGKILLed mid-rollout each restart happened exactly once"

# --- 3. the healer's kinds are not for clients ----------------------------------------------
for kind in decision action_result approval placement policy rollout; do
    expect_fail 2 "kind: \"$kind\" entries are the healer's own" \
        "$PLATELET" propose --kind "$kind" '{}' --api "unix:$(sock r1)"
done
pass "/v1/propose refuses the healer's kinds, naming the kind"
