#!/usr/bin/env bash
# What the swarm learns is replicated: three voters each supervise a sample service; crashes
# healed by restarts teach the swarm (a signature with posteriors and a drawn first action).
# `platelet strategies --json` is the same document on all three voters at the same applied
# index, and stays so after the leader is SIGKILLed, another crash is learned under the new
# leader, and the killed voter restarts and catches up. `strategies explain` shows one
# signature's posteriors. It fails if a voter draws differently (the choice not seeded from
# the entry alone), if the learning is not in the replicated state, or if the API is gone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

declare -A PORT SVC PID
for n in r1 r2 r3; do SVC[$n]=$(free_port); done
for n in r1 r2 r3; do
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local",
 $VOTER3,
 "services": [$(web_service "${SVC[$n]}" '"policy": {"allowed_actions": ["restart", "retry", "wait"]}')]}
JSON
done
start_voters r1 r2 r3

strategies() { "$PLATELET" strategies --api "unix:$(sock "$1")" --json; }
# learned NODE N: NODE's strategies hold lessons from at least N outcomes in all.
learned() { strategies "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if sum(s["outcomes"] for s in d["strategies"]) >= int(sys.argv[1]) else 1)' "$2"; }
# agree NODE...: the same strategies document, byte for byte, on every node.
agree() {
    local want got
    want=$(strategies "$1") || return 1
    for n in "$@"; do
        got=$(strategies "$n") || return 1
        [ "$got" = "$want" ] || return 1
    done
    echo "$want" >"$TEST_DIR/agreed.json"
}
crash() {
    wait_for 20 "$1's service healthy" healthy "$1"
    curl -s --max-time 2 "http://127.0.0.1:${SVC[$1]}/fault/crash" >/dev/null || true
}

crash r1
wait_for 20 "the first lesson in r1's strategies" learned r1 1
crash r2
for n in r1 r2 r3; do wait_for 20 "two lessons in $n's strategies" learned "$n" 2; done
wait_for 20 "one strategies document on all three voters" agree r1 r2 r3
python3 - "$TEST_DIR/agreed.json" <<'PY' || fail "strategies: $(cat "$TEST_DIR/agreed.json")"
import json, sys
d = json.load(open(sys.argv[1]))
s = [x for x in d["strategies"] if x["service"] == "web"]
assert s, d
for x in s:
    names = [a["action"] for a in x["actions"]]
    assert sorted(names) == ["restart", "wait"], names   # the candidates: allowed, no retry
    assert x["choice"] in names, x
    assert any(a["successes"] for a in x["actions"] if a["action"] == "restart"), x
PY
pass "crashes healed by restarts are learned; three voters show one strategies document"

sig=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["strategies"][0]["signature"])' "$TEST_DIR/agreed.json")
"$PLATELET" strategies explain "$sig" --api "unix:$(sock r3)" >"$TEST_DIR/explain.txt" ||
    fail "strategies explain $sig"
grep -q "^signature   $sig" "$TEST_DIR/explain.txt" && grep -qE "^restart +[01]\.[0-9]{3}  \[" "$TEST_DIR/explain.txt" ||
    fail "explain: $(cat "$TEST_DIR/explain.txt")"
expect_fail 1 "no signature .no/such/sig." "$PLATELET" strategies explain "no/such/sig" --api "unix:$(sock r3)"
pass "strategies explain shows a signature's posteriors per action"

leader=$(leader_of r1)
kill_leader "$leader" "${PID[$leader]}" r1 r2 r3
crash "${survivors[0]}"
for n in "${survivors[@]}"; do wait_for 20 "three lessons in $n's strategies" learned "$n" 3; done
start_node "$leader"
wait_for 10 "$leader API after restart" test -S "$(sock "$leader")"
wait_for 30 "one strategies document after the leader's SIGKILL" agree r1 r2 r3
learned "$leader" 3 || fail "the restarted $leader lost lessons"
pass "after the leader's SIGKILL and a lesson under the new leader, all three voters agree"
