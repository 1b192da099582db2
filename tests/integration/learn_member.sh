#!/usr/bin/env bash
# What the council learned reaches a member that is not a voter through gossip (the
# "strategies" record), and that member's own first local action follows it. Three voters
# (r1 runs the sample service, r2 and r3 none) and a member r4 running the same service.
# r1's scratch disk fills (the sample's /fault/scratch: /health answers 507; a restart does
# not help, the `cleanup` command does) until the council's choice for that signature is
# cleanup (the rules' first action is restart); an incident the node cannot heal is fixed by
# hand (stop, remove the file, start), a lesson that its restarts failed. Then r4's disk
# fills: its first action must be cleanup, which only the gossiped record can have told it
# (r4 applies no state and had no incident). Restarted with "policy": {"learning": false},
# r4 takes the rules' first action (restart) for the same fault, the record still at hand.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

declare -A PORT SVC PID
council_configs
for n in r1 r4; do
    SVC[$n]=$(free_port)
    mkdir -p "$TEST_DIR/$n-state"
done
# svc_config NODE RAFT [POLICY-FIELDS]: NODE's config with the web service that can clean up.
svc_config() {
    local st="$TEST_DIR/$1-state"
    cat >"$TEST_DIR/$1.json" <<JSON
{"profile": "local"$2,
 "services": [{"name": "web", "command": "$PLATELET",
   "args": ["sample-service", "--port", "${SVC[$1]}", "--state-dir", "$st"],
   "start_ms": 300, "verify_ms": 1000, "cleanup": ["rm", "-f", "$st/scratch/fill"],
   "checks": [{"type": "http", "url": "http://127.0.0.1:${SVC[$1]}/health", "interval_ms": 300,
               "timeout_ms": 300, "failures": 2}],
   "policy": {"allowed_actions": ["restart", "cleanup"], "restart_budget": 10,
              "restart_window_ms": 2000, "backoff_initial_ms": 500, "backoff_max_ms": 1000${3:-}}}]}
JSON
}
svc_config r1 ", $VOTER3"
svc_config r4 ""
start_voters r1 r2 r3
PORT[r4]=$(free_port)
start_node r4 --join "127.0.0.1:${PORT[r1]}"
wait_for 10 "r4 API" test -S "$(sock r4)"

api() { echo "unix:$(sock "$1")"; }
# newest_incident NODE: the newest incident's id (none: fails).
newest_incident() {
    "$PLATELET" incidents --api "$(api "$1")" --json | python3 -c '
import json, sys
x = json.load(sys.stdin)["incidents"]
sys.exit(1) if not x else print(max(x, key=lambda i: i.get("opened_ms", 0))["id"])'
}
# actions NODE ID: the actions incident ID took, in order, one a line.
actions() {
    "$PLATELET" incident "$2" --api "$(api "$1")" --json | python3 -c '
import json, sys
for e in json.load(sys.stdin).get("timeline", []):
    if e.get("kind") == "action": print(e["action"])'
}
# closed NODE ID: incident ID has an outcome.
closed() {
    "$PLATELET" incident "$2" --api "$(api "$1")" --json |
        python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("outcome") else 1)'
}
# restart_failed NODE ID: the incident tried restart twice, or once and then escalated (a
# new diagnosis can shorten the plan); either way a lesson that restart does not heal it.
escalated() {
    "$PLATELET" incident "$2" --api "$(api "$1")" --json | python3 -c '
import json, sys
sys.exit(0 if any(e.get("kind") == "escalated" for e in json.load(sys.stdin).get("timeline", [])) else 1)'
}
restart_failed() {
    local n
    n=$(actions "$1" "$2" | grep -c '^restart$' || true)
    [ "$n" -ge 2 ] || { [ "$n" -ge 1 ] && escalated "$1" "$2"; }
}
acted() { [ -n "$(actions "$1" "$2")" ]; }
new_incident() { local id; id=$(newest_incident "$1") && [ "$id" != "$2" ]; }
# operator_fix NODE: stop, remove the scratch file, start (the incident closes "stopped").
operator_fix() {
    "$PLATELET" service stop web --api "$(api "$1")" >/dev/null
    rm -f "$TEST_DIR/$1-state/scratch/fill"
    "$PLATELET" service start web --api "$(api "$1")" >/dev/null
}
# scratch NODE: fills NODE's scratch disk; waits for the incident it opens and its first
# action; sets INC and FIRST.
scratch() {
    local before
    before=$(newest_incident "$1" || echo none)
    wait_for 20 "$1's web healthy" healthy "$1"
    curl -s --max-time 2 "http://127.0.0.1:${SVC[$1]}/fault/scratch?mb=1" >/dev/null ||
        fail "$1: /fault/scratch"
    wait_for 15 "an incident on $1" new_incident "$1" "$before"
    INC=$(newest_incident "$1")
    wait_for 15 "$1's incident $INC acting" acted "$1" "$INC"
    FIRST=$(actions "$1" "$INC" | sed -n 1p) # sed reads it all: head could close the pipe on python (pipefail)
}
# choice NODE SIG: the council's next first action for SIG as NODE applied it.
choice() {
    "$PLATELET" strategies --api "$(api "$1")" --json | python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin)["strategies"] if x["signature"] == sys.argv[1]]
print(s[0]["choice"] if s else "")' "$2"
}
choice_is() { [ "$(choice "$1" "$2")" = "$3" ]; }
learned_once() { "$PLATELET" strategies --api "$(api "$1")" --json | python3 -c '
import json, sys; sys.exit(0 if any(x["outcomes"] for x in json.load(sys.stdin)["strategies"]) else 1)'; }
# member_takes NODE SIG ACTION ENABLED: NODE's web takes ACTION first for SIG from a gossiped
# record, with learning ENABLED (True or False).
member_takes() {
    "$PLATELET" services --api "$(api "$1")" --json | python3 -c '
import json, sys
l = json.load(sys.stdin)["services"][0]["learning"]
ok = l["source"] == "gossip" and str(l["enabled"]) == sys.argv[3] and \
    {"signature": sys.argv[1], "action": sys.argv[2]} in l["first_actions"]
sys.exit(0 if ok else 1)' "$2" "$3" "$4"
}

# The council learns, from r1's incidents, that cleanup heals a full scratch disk.
SIG=""
for round in 1 2 3 4 5 6; do
    scratch r1
    echo "round $round: r1's incident $INC began with $FIRST"
    if [ "$FIRST" = cleanup ]; then
        wait_for 15 "r1's incident $INC healed by cleanup" closed r1 "$INC"
    else
        wait_for 20 "r1's incident $INC failing to heal by restart" restart_failed r1 "$INC"
        operator_fix r1
        wait_for 15 "r1's incident $INC closed by the operator" closed r1 "$INC"
    fi
    if [ -z "$SIG" ]; then
        # The signature of a first incident on a fresh node: the one r4's will have.
        wait_for 10 "r1's first lesson" learned_once r1
        SIG=$("$PLATELET" strategies --api "$(api r1)" --json | python3 -c '
import json, sys; print(json.load(sys.stdin)["strategies"][0]["signature"])')
        echo "signature $SIG"
    fi
    [ "$(choice r1 "$SIG")" = cleanup ] && break
done
[ "$(choice r1 "$SIG")" = cleanup ] || fail "the council did not choose cleanup for $SIG"
for n in r2 r3; do wait_for 10 "$n applied the choice" choice_is "$n" "$SIG" cleanup; done
pass "the council learned cleanup first for $SIG"

# r4, a member that is not a voter, takes the gossiped table and acts on it.
wait_for 30 "r4 takes cleanup first for $SIG from the gossiped record" member_takes r4 "$SIG" cleanup True
scratch r4
[ "$FIRST" = cleanup ] || fail "r4's first action for a full scratch disk was $FIRST, not the learned cleanup"
wait_for 15 "r4's incident $INC healed" closed r4 "$INC"
pass "the member r4's first local action was the council's learned cleanup (gossiped record)"

# With learning off, the same member takes the rules' first action.
stop_agent "${PID[r4]}" r4
svc_config r4 "" ', "learning": false'
NODE_LOG=r4-off start_node r4 --join "127.0.0.1:${PORT[r1]}"
wait_for 10 "r4 API after restart" test -S "$(sock r4)"
wait_for 30 "r4 holds the gossiped record, learning off" member_takes r4 "$SIG" cleanup False
scratch r4
[ "$FIRST" = restart ] || fail "with learning off r4's first action was $FIRST, not the rules' restart"
operator_fix r4
wait_for 15 "r4's incident $INC closed by the operator" closed r4 "$INC"
pass "with policy.learning false the member took the rules' first action (restart)"
