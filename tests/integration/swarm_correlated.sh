#!/usr/bin/env bash
# Correlated failures (node/agent/swarm_correlate.c, the healing machine's rule 8): five
# agents, three of them the council's voters (c1-c3), each supervising the sample service
# "web", whose /health fails while a shared dependency (one more sample service, started
# here) does not accept connections. Stop the dependency: every node sees web's check fail
# with the same signature, holds its restart, the leader commits one cluster incident with
# root cause dependency_failure, escalated once; no node restarts web. Bring the dependency
# back: every node's incident closes as recovered, the cluster incident closes, and each
# web process is still the one started first.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

NODES="c1 c2 c3 c4 c5"
VOTERS="c1 c2 c3"
declare -A PORT SVC PID
for n in $NODES; do PORT[$n]=$(free_port); SVC[$n]=$(free_port); done
DEP=$(free_port)
HOOK=$(free_port)
# Every node sends its escalations (level swarm and up) to one receiver: the cluster's one
# escalation must arrive there once, and no node's own.
spawn hooks python3 "$(dirname "$0")/heal_hook_receiver.py" "$HOOK" "$TEST_DIR/hooks.jsonl" 110
wait_for 10 "the webhook receiver" python3 -c \
    "import socket; socket.create_connection(('127.0.0.1', $HOOK), 1)"
for n in $NODES; do
    raft=""
    case $n in c1 | c2 | c3)
        raft="$VOTER3," ;;
    esac
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local", $raft
 "correlate": {"share": 0.6, "window_ms": 20000, "min_nodes": 3},
 "gossip": {"retransmit_mult": 4, "pushpull_interval_ms": 3000},
 "webhooks": [{"url": "http://127.0.0.1:$HOOK/hook", "min_level": 3}],
 "services": [{"name": "web", "command": "$PLATELET",
   "args": ["sample-service", "--port", "${SVC[$n]}", "--depends", "127.0.0.1:$DEP"],
   "start_ms": 300, "grace_ms": 500,
   "checks": [{"type": "http", "url": "http://127.0.0.1:${SVC[$n]}/health",
               "interval_ms": 500, "timeout_ms": 400, "failures": 4}]}]}
JSON
done
spawn dep "$PLATELET" sample-service --port "$DEP"
DEP_PID=$SPAWNED_PID
start_node c1
for n in c2 c3 c4 c5; do start_node "$n" --join "127.0.0.1:${PORT[c1]}"; done
for n in $NODES; do wait_for 10 "$n API" test -S "$(sock $n)"; done
wait_for 20 "one leader agreed by the voters" one_leader $VOTERS
answers() { curl -s --max-time 1 -o /dev/null -f "http://127.0.0.1:${SVC[$1]}/health"; }
all_answer() { for n in $NODES; do answers "$n" || return 1; done; }
wait_for 20 "web answering on every node" all_answer
# started COUNT: every node started web exactly COUNT times so far.
starts() { grep -c "started service=web" "$TEST_DIR/$1.log"; }
for n in $NODES; do [ "$(starts $n)" = 1 ] || fail "$n started web $(starts $n) times"; done
pass "five agents, web answering on each, its dependency up"

# 1. The dependency goes down: the same failure on every node.
kill -TERM "$DEP_PID"
wait "$DEP_PID" 2>/dev/null || true
t0=$SECONDS
held() { grep -q "restarts held for the cluster" "$TEST_DIR/$1.log"; }
all_held() { for n in $NODES; do held "$n" || return 1; done; }
wait_for 20 "every node holding its restart for the cluster" all_held
L=$(leader_of c1)
cluster() { "$PLATELET" incidents --cluster --api "unix:$(sock "$1")" --json; }
# cluster_state NODE STATE: exactly one cluster incident, for web, in STATE.
cluster_state() { cluster "$1" | python3 -c '
import json, sys
c = json.load(sys.stdin)["state"]["cluster_incidents"]
ok = len(c) == 1 and c[0]["service"] == "web" and c[0]["state"] == sys.argv[1] and \
     c[0]["cause"] == "dependency_failure" and c[0]["escalated"] and c[0]["nodes"] >= 3
sys.exit(0 if ok else 1)' "$2"; }
all_cluster_state() { local s=$1; shift; for n in "$@"; do cluster_state "$n" "$s" || return 1; done; }
wait_for 20 "one cluster incident open (dependency_failure) on every voter" all_cluster_state open $VOTERS
grep -q "cluster incident .* escalated once for the cluster" "$TEST_DIR/$L.log" ||
    fail "the leader $L did not escalate the cluster incident"
escalations=$(cat "$TEST_DIR"/c?.log | grep -c "escalated once for the cluster")
[ "$escalations" = 1 ] || fail "the cluster incident escalated $escalations times"
wait_for 10 "the cluster's escalation at the webhook receiver" grep -q cluster_incident "$TEST_DIR/hooks.jsonl"
# Every node's own incident is open and held, not restarting.
phase_held() { "$PLATELET" incidents --open --api "unix:$(sock "$1")" --json | python3 -c '
import json, sys
inc = json.load(sys.stdin)["incidents"]
sys.exit(0 if len(inc) == 1 and inc[0]["service"] == "web" else 1)'; }
for n in $NODES; do wait_for 10 "$n's incident open" phase_held "$n"; done
# The outage lasts a while longer than a restart would take (checks every 500 ms, 4
# failures): still nobody restarts. Each check here is evidence only together with the
# final records below.
deadline=$((SECONDS + 6))
while [ $SECONDS -lt $deadline ]; do
    for n in $NODES; do [ "$(starts $n)" = 1 ] || fail "$n restarted web during the outage"; done
    sleep 0.5
done
"$PLATELET" incidents --cluster --api "unix:$(sock "$L")" | grep -q "^cluster incidents" ||
    fail "platelet incidents --cluster shows no cluster incident"
pass "dependency down: every node held its restart, one cluster incident (escalated once) ($((SECONDS - t0)) s)"

# 2. The dependency is back: incidents close as recovered, the cluster incident closes.
spawn dep2 "$PLATELET" sample-service --port "$DEP"
wait_for 20 "web answering on every node again" all_answer
closed_recovered() { "$PLATELET" incidents --api "unix:$(sock "$1")" --json | python3 -c '
import json, sys
inc = [i for i in json.load(sys.stdin)["incidents"] if i["service"] == "web"]
sys.exit(0 if inc and all(i["state"] == "closed" and i["outcome"] == "recovered" for i in inc) else 1)'; }
all_recovered() { for n in $NODES; do closed_recovered "$n" || return 1; done; }
wait_for 20 "every node's incident closed as recovered" all_recovered
wait_for 20 "the cluster incident closed on every voter" all_cluster_state closed $VOTERS
for n in $NODES; do [ "$(starts $n)" = 1 ] || fail "$n started web $(starts $n) times"; done
# No incident record holds a restart.
for n in $NODES; do
    "$PLATELET" incidents --api "unix:$(sock "$n")" --json | python3 -c '
import json, sys
for i in json.load(sys.stdin)["incidents"]:
    full = i
    for e in full.get("timeline", []):
        if e.get("kind") == "action" and e.get("action") == "restart":
            sys.exit("restart in " + i["id"])' || fail "$n recorded a restart"
done
wait_for 20 "the same ledger and state on every voter" same_state $VOTERS
# One webhook for the whole outage: the cluster incident's, and none of a node's own.
python3 - "$TEST_DIR/hooks.jsonl" <<'PY' || fail "webhooks: $(cat "$TEST_DIR/hooks.jsonl")"
import json, sys
hooks = [json.loads(l) for l in open(sys.argv[1])]
assert len(hooks) == 1, hooks
h = hooks[0]
assert h["cluster_incident"]["cause"] == "dependency_failure" and h["service"] == "web", h
PY
pass "dependency back: incidents recovered with zero restarts fleet-wide; the cluster incident closed"
