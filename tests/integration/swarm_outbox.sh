#!/usr/bin/env bash
# What a node heals on its own reaches the swarm's replicated state through its outbox:
# three voters each supervise a sample service. A crash on r1 is healed locally at once and
# its incident's steps are committed: every voter's swarm state shows it closed "healed",
# at the same ledger size with the same state hash. Then the council loses its quorum
# (r2 and r3 SIGSTOPped), r1 heals a second crash locally, is SIGKILLed with the steps
# still in its outbox, and restarts: once the quorum is back, the second incident is in
# every voter's state too, each step applied once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

declare -A PORT SVC PID
for n in r1 r2 r3; do SVC[$n]=$(free_port); done
for n in r1 r2 r3; do
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local",
 $VOTER3,
 "services": [$(web_service "${SVC[$n]}")]}
JSON
done
start_voters r1 r2 r3

# in_swarm NODE N: NODE's swarm state holds N incidents of r1, all closed "healed".
in_swarm() {
    swarm "$1" | python3 -c '
import json, sys
inc = [i for i in json.load(sys.stdin)["state"]["incidents"] if i["node"] == "r1"]
sys.exit(0 if len(inc) == int(sys.argv[1]) and all(i["outcome"] == "healed" for i in inc) else 1)' "$2"
}
local_healed() { "$PLATELET" incidents --api "unix:$(sock r1)" --json |
    python3 -c 'import json,sys; sys.exit(0 if sum(i["outcome"] == "healed" for i in json.load(sys.stdin)["incidents"]) == int(sys.argv[1]) else 1)' "$1"; }

wait_for 20 "r1's service healthy" healthy r1
curl -s --max-time 2 "http://127.0.0.1:${SVC[r1]}/fault/crash" >/dev/null || true
wait_for 20 "r1 healed the crash locally" local_healed 1
for n in r1 r2 r3; do wait_for 20 "the incident in $n's swarm state" in_swarm "$n" 1; done
wait_for 20 "one state hash at one size" same_state r1 r2 r3
pass "a locally healed crash is committed: every voter holds it, same state hash"
# The healer commits gossip's view of the members: all three alive in every voter's state.
members_alive() { swarm "$1" | python3 -c '
import json, sys
m = {x["name"]: x["status"] for x in json.load(sys.stdin)["state"]["members"]}
sys.exit(0 if all(m.get(n) == "alive" for n in ("r1", "r2", "r3")) else 1)'; }
for n in r1 r2 r3; do wait_for 20 "the members in $n's swarm state" members_alive "$n"; done

# No quorum: r1 heals on its own and keeps the steps in its outbox.
kill -STOP "${PID[r2]}" "${PID[r3]}"
wait_for 20 "r1's service healthy" healthy r1
curl -s --max-time 2 "http://127.0.0.1:${SVC[r1]}/fault/crash" >/dev/null || true
wait_for 20 "r1 healed the second crash without a quorum" local_healed 2
in_swarm r1 1 || fail "the second incident was applied without a quorum"
wait_for 20 "the steps waiting in r1's outbox" grep -q "wait for the council" "$TEST_DIR/r1.log"
kill -KILL "${PID[r1]}"
wait "${PID[r1]}" 2>/dev/null || true
kill -CONT "${PID[r2]}" "${PID[r3]}"
start_node r1
wait_for 10 "r1 API after restart" test -S "$(sock r1)"
wait_for 10 "the restarted r1 finding the steps in its outbox" \
    grep -q "step(s) from the last run to send" "$TEST_DIR/r1.log"
for n in r1 r2 r3; do wait_for 30 "both incidents in $n's swarm state" in_swarm "$n" 2; done
wait_for 20 "one state hash at one size" same_state r1 r2 r3
for n in r1 r2 r3; do wait_for 20 "r1 alive again in $n's swarm state" members_alive "$n"; done
# Each step once: the swarm's step count of each incident equals its local timeline's.
"$PLATELET" incidents --api "unix:$(sock r1)" --json >"$TEST_DIR/local.json"
swarm r2 >"$TEST_DIR/swarm.json"
python3 - "$TEST_DIR/local.json" "$TEST_DIR/swarm.json" <<'PY' || fail "steps lost or doubled"
import json, sys
local = {i["id"]: i for i in json.load(open(sys.argv[1]))["incidents"] if i["outcome"] == "healed"}
swarm = {i["id"]: i for i in json.load(open(sys.argv[2]))["state"]["incidents"] if i["node"] == "r1"}
assert set(local) == set(swarm), (sorted(local), sorted(swarm))
for k, i in local.items():
    acts = sum(e["kind"] == "action" for e in i["timeline"])
    assert swarm[k]["actions"] == acts, (k, swarm[k], acts)
    assert swarm[k]["steps"] == len(i["timeline"]), (k, swarm[k]["steps"], len(i["timeline"]))
print("each step applied once")
PY
pass "steps kept across no quorum and SIGKILL were committed once the council was back"

# platelet status: the operator's first screen, from one node, in both forms.
"$PLATELET" status --api "unix:$(sock r2)" --json >"$TEST_DIR/status.json" || fail "status --json"
python3 - "$TEST_DIR/status.json" "$TEST_DIR/swarm.json" <<'PY' || fail "status disagrees: $(cat "$TEST_DIR/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["raft"]["id"] == "r2" and d["raft"]["leader"] in ("r1", "r2", "r3"), d["raft"]
assert sorted(m["name"] for m in d["members"] if m["status"] == "alive") == ["r1", "r2", "r3"]
assert d["services"]["services"][0]["name"] == "web"
assert d["swarm"]["ledger"]["size"] >= json.load(open(sys.argv[2]))["ledger"]["size"]
PY
"$PLATELET" status --api "unix:$(sock r2)" >"$TEST_DIR/status.txt" || fail "status"
grep -q "^healer      r[123]" "$TEST_DIR/status.txt" && grep -q "^members     3 alive" "$TEST_DIR/status.txt" ||
    fail "status screen: $(cat "$TEST_DIR/status.txt")"
pass "platelet status shows the node, its healer, the members and the ledger"
