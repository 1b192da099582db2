#!/usr/bin/env bash
# The act-once record across a kill -9: three voters each run a service whose stop signal
# it ignores (so a stop lasts its whole grace). `platelet rollout stop slow` orders r1 to
# stop it; r1 writes its record, begins, and is SIGKILLed while the stop is under way (the
# service dies with it). Restarted, r1 finds the decision still pending and its record
# begun: it answers "interrupted" (the decision fails, the rollout halts) and never begins
# the stop again; its service runs, started once more by the relaunch only.
# Then a member that is not a voter (r4, which applies no state) acts on the decision naming
# it from the leader's gossiped record: `platelet rollout restart web` is skipped by the
# voters (no such service) and restarts r4's web once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"
source "$(dirname "$0")/decisions_lib.sh"

declare -A PORT SVC PID
PORT[r4]=$(free_port)
for n in r1 r2 r3 r4; do SVC[$n]=$(free_port); done
for n in r1 r2 r3; do
    # Signal 28 is SIGWINCH: ignored by default, so only the SIGKILL after grace_ms stops it.
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local",
 $VOTER3,
 "services": [{"name": "slow", "command": "/bin/sh",
   "args": ["-c", "echo start >>'$TEST_DIR/$n.starts'; exec \"\$0\" sample-service --port ${SVC[$n]}",
            "$PLATELET"], "start_ms": 300, "stop_signal": "28", "grace_ms": 60000}]}
JSON
done
cat >"$TEST_DIR/r4.json" <<JSON
{"profile": "local",
 "services": [{"name": "web", "command": "/bin/sh",
   "args": ["-c", "echo start >>'$TEST_DIR/r4.starts'; exec \"\$0\" sample-service --port ${SVC[r4]}",
            "$PLATELET"], "start_ms": 300,
   "checks": [{"type": "http", "url": "http://127.0.0.1:${SVC[r4]}/health",
               "interval_ms": 200, "timeout_ms": 300}]}]}
JSON
start_voters r1 r2 r3
start_node r4 --join "127.0.0.1:${PORT[r1]}"
wait_for 20 "r4 API" test -S "$(sock r4)"

wait_for 20 "all three alive in the swarm state" all_alive
r4_alive() { "$PLATELET" swarm status --api "unix:$(sock r1)" --json | python3 -c '
import json, sys
sys.exit(0 if {"name": "r4", "status": "alive"} in [{"name": x["name"], "status": x["status"]}
                for x in json.load(sys.stdin)["state"]["members"]] else 1)'; }
wait_for 20 "r4 alive in the swarm state" r4_alive
for n in r1 r2 r3 r4; do wait_for 10 "$n's service started" has_starts "$n" 1; done

out=$("$PLATELET" rollout stop slow --api "unix:$(sock r2)" --json) || fail "rollout: $out"
R=$(json_get "$out" 'd["rollout"]')
wait_for 20 "r1 began the stop" grep -q "mod=decisions decision [0-9]*: stop service=slow" "$TEST_DIR/r1.log"
D=$(grep -o "mod=decisions decision [0-9]*: stop" "$TEST_DIR/r1.log" | head -1 | grep -o "[0-9]*")
grep -q "decision $D stop service=slow result" "$TEST_DIR/r1.log" &&
    fail "the stop finished before the kill (its stop signal was not ignored?)"
kill -KILL "${PID[r1]}"
wait "${PID[r1]}" 2>/dev/null || true
NODE_LOG=r1-again start_node r1
wait_for 10 "r1 API after restart" test -S "$(sock r1)"
wait_for 20 "decision $D answered" q r2 "[x['state'] for x in d['decisions'] if x['index'] == $D] == ['failed']"
q r2 "[x['result'] for x in d['decisions'] if x['index'] == $D] == [-1015]" ||
    fail "decision $D's result: $(decisions r2)"
q r2 "[r['state'] for r in d['rollouts'] if r['index'] == $R] == ['halted']" ||
    fail "rollout $R did not halt: $(decisions r2)"
grep -q "decision $D stop service=slow result=PL_ESTATE interrupted by a restart" \
    "$TEST_DIR/r1-again.log" || fail "r1 did not answer 'interrupted'"
grep -q "mod=decisions decision $D: stop" "$TEST_DIR/r1-again.log" &&
    fail "r1 began decision $D again after its restart"
has_starts r1 2 || fail "r1's service started $(starts r1) times (want 2: launch, relaunch)"
running() { "$PLATELET" services --api "unix:$(sock r1)" --json |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["services"][0]; sys.exit(0 if s["process"] == "running" else 1)'; }
wait_for 10 "r1's service running after the relaunch" running
has_starts r2 1 && has_starts r3 1 || fail "r2 or r3 acted on a halted rollout"
"$PLATELET" decisions --api "unix:$(sock r3)" >"$TEST_DIR/decisions.txt" || fail "platelet decisions"
grep -q "rollout $R: stop slow, max unavailable 1, halted: r1=failed r2=todo r3=todo r4=todo" \
    "$TEST_DIR/decisions.txt" || fail "platelet decisions: $(cat "$TEST_DIR/decisions.txt")"
wait_for 10 "r1's act-once record dropped once the failure is committed" q r1 'd["act_records"] == 0'
pass "a decision begun before a kill -9 is answered 'interrupted' after the restart, never begun again"

# --- a member that is not a voter acts through the leader's gossiped decisions ----------
wait_for 20 "r4's web healthy" healthy r4
expect_fail 1 "not a voter" "$PLATELET" decisions --api "unix:$(sock r4)"
out=$("$PLATELET" rollout restart web --api "unix:$(sock r3)" --json) || fail "rollout: $out"
R=$(json_get "$out" 'd["rollout"]')
wait_for 30 "rollout $R done" q r2 "[r['state'] for r in d['rollouts'] if r['index'] == $R] == ['done']"
q r2 "([n['step'] for r in d['rollouts'] if r['index'] == $R for n in r['nodes']] ==
      ['skipped', 'skipped', 'skipped', 'done'])" || fail "rollout $R's steps: $(decisions r2)"
has_starts r4 2 || fail "r4's web started $(starts r4) times (want 2: launch, the rollout)"
grep -q "mod=decisions decision [0-9]* restart service=web result=ok" "$TEST_DIR/r4.log" ||
    fail "r4 did not say it restarted web"
pass "a member that is not a voter acts on its decision from the leader's gossip; the others skip"
