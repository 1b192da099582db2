#!/usr/bin/env bash
# `platelet chaos run --cluster`: three voters this test starts itself (each supervising a
# sample service, fault API on), and a scenario run against them through their API sockets:
# a minority partition, a paused follower, a clock jump and a service crash. Every check must
# hold, the report must name the agents by their own names and say it attached; kill and a
# service nemesis without --services are refused with the reason (exit 2), before anything
# is done. The agents must still run afterwards with no fault rule left.
# What breaks it: the harness not reaching agents it did not start (names, voters, data
# folders from /v1/agent/self), a nemesis not undone at its end, or a check that fails.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

declare -A PORT SVC PID
for n in c1 c2 c3; do SVC[$n]=$(free_port); done
for n in c1 c2 c3; do
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local",
 $VOTER3,
 "services": [{"name": "sample", "command": "$PLATELET", "args": ["sample-service", "--port", "${SVC[$n]}"],
   "checks": [{"type": "http", "url": "http://127.0.0.1:${SVC[$n]}/health", "interval_ms": 1000,
               "timeout_ms": 500, "failures": 3}],
   "policy": {"restart_budget": 100}}],
 "webhooks": []}
JSON
done
start_voters c1 c2 c3 -- --enable-faults
APIS="unix:$(sock c1),unix:$(sock c2),unix:$(sock c3)"
SVCS="127.0.0.1:${SVC[c1]},127.0.0.1:${SVC[c2]},127.0.0.1:${SVC[c3]}"

cat >"$TEST_DIR/s.json" <<'JSON'
{"name": "attached", "nodes": 3, "voters": 3, "duration_s": 24, "control_s": 3, "seed": 9,
 "liveness_s": 30, "workload": {"clients": 2, "proposals_per_s": 20, "http_per_s": 10},
 "nemeses": [
   {"type": "partition", "label": "minority", "mode": "majority_minority", "at_s": 4, "duration_s": 5},
   {"type": "pause", "label": "pause a follower", "target": "follower", "at_s": 10, "duration_s": 4},
   {"type": "clock", "label": "n2 +30 s", "offset_ms": 30000, "target": "n2", "at_s": 15, "duration_s": 3},
   {"type": "service", "label": "crash", "fault": "crash", "target": "n3", "at_s": 19, "duration_s": 4}]}
JSON
"$PLATELET" chaos run "$TEST_DIR/s.json" --cluster "$APIS" --services "$SVCS" \
    --json "$TEST_DIR/r.json" 2>"$TEST_DIR/run.log" ||
    fail "a check failed against the attached cluster: $(grep -E 'FAILS|failed|cluster' "$TEST_DIR/run.log" | head -5)"
python3 - "$TEST_DIR/r.json" <<'PY' || fail "the report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["verdict"] == "pass" and r["cluster"] == "attached (--cluster)", (r["verdict"], r["cluster"])
assert all(c["holds"] for c in r["checks"]), r["checks"]
leaders = [c for c in r["checks"] if c["name"] == "safety.leaders"][0]
assert "polls" in leaders["evidence"], leaders
assert [n["errors"] for n in r["nemeses"]] == [0, 0, 0, 0], r["nemeses"]
assert r["nemeses"][2]["targets"] == ["c2"] and r["nemeses"][3]["targets"] == ["c3"], r["nemeses"]
crash = [h for h in r["healing"] if h["fault"] == "service:crash"]
assert len(crash) == 1 and crash[0]["success"] and crash[0]["node"] == "c3", crash
acked = r["workload"]["proposals"]["acknowledged"]
assert acked >= 100, acked
print("ok: report: attached to c1-c3, %d acknowledged proposals, the crash on c3 healed" % acked)
PY
for n in c1 c2 c3; do
    rules=$("$PLATELET" fault list --api "unix:$(sock $n)" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["rules"]), d.get("clock_offset_ms", 0))')
    [ "$rules" = "0 0" ] || fail "$n kept fault rules or a clock offset after the run: $rules"
done
pass "every agent runs on with no fault rule and its clock right"

echo '{"name": "k", "nodes": 3, "nemeses": [{"type": "kill", "at_s": 9}]}' >"$TEST_DIR/k.json"
expect_fail 2 'nemeses\[0\] \(kill\): kill needs to restart its agents' \
    "$PLATELET" chaos run "$TEST_DIR/k.json" --cluster "$APIS"
echo '{"name": "s", "nodes": 3, "nemeses": [{"type": "service", "fault": "hang", "at_s": 9}]}' >"$TEST_DIR/sv.json"
expect_fail 2 'a service nemesis needs --services' "$PLATELET" chaos run "$TEST_DIR/sv.json" --cluster "$APIS"
expect_fail 2 '--cluster: 2 agents, but the scenario has 3 nodes' \
    "$PLATELET" chaos run "$TEST_DIR/s.json" --cluster "unix:$(sock c1),unix:$(sock c2)"
pass "what an attached cluster cannot do is refused with the reason"
