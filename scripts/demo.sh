#!/usr/bin/env bash
# `make demo`: shows Platelet for real, in two acts.
#  1. A swarm of five agents on loopback (three vote in the Raft council, two are members),
#     each supervising a sample service "web" that needs a shared dependency; a second
#     service "api" is placed (replicas 1) on the three voters. Real faults, each with what
#     the swarm did and how long it took: a crash and a hang that a node heals on its own;
#     SIGKILL of the node running "api" (it moves to another voter; the node comes back
#     and starts no second copy); the shared dependency down (every node holds its restart,
#     the leader commits one cluster incident, zero restarts fleet-wide, all recovered when
#     it returns); a rolling restart through the healer's decisions, one node at a time;
#     SIGKILL of the Raft leader (another is elected, the old one rejoins and catches up).
#     Every voter ends with the same ledger root and swarm state hash.
#  2. The verifiable ledger: a few hundred incident-like entries, status, an inclusion proof,
#     a consistency proof, an exported audit trail verified offline, and a tampered copy that
#     verify rejects, naming the edited line.
# Usage: scripts/demo.sh path/to/platelet
# Exit 0 only if every act's checks held; the swarm act gives up by itself past ~200 s.
set -u
P="${1:-build/platelet}"
# Absolute: the agents' configs live in a scratch folder, and a relative command in a config
# is relative to the config file's folder.
P="$(cd "$(dirname "$P")" && pwd)/$(basename "$P")"
if [ ! -x "$P" ]; then
    echo "demo: no platelet binary at '$P' (run 'make build' first)" >&2
    exit 2
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/platelet-demo.XXXXXX")"
AGENT_PIDS=()
DEP_PID=
cleanup() {
    [ -n "$DEP_PID" ] && kill "$DEP_PID" 2>/dev/null
    for pid in "${AGENT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${AGENT_PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$WORK|\$DEMO|g"; "$@"; }


# ---------------------------------------------------------------- act 1: the swarm

# N ports P such that P and P+1 are free on 127.0.0.1 (gossip and Raft).
free_ports() { python3 "$(dirname "$0")/free_ports.py" "$1"; }

# The whole swarm act gives up past this (seconds since the script began): the demo stops by
# itself even when something never happens.
ACT1_LIMIT=200
# wait_until SECONDS WHAT COMMAND...: polls every 0.2 s.
wait_until() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    [ $deadline -le $ACT1_LIMIT ] || deadline=$ACT1_LIMIT
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "demo: gave up after $((SECONDS - deadline + secs))s waiting for: $what" >&2
            return 1
        fi
        sleep 0.2
    done
}
now_ms() { date +%s%3N; }
# took T0: the time since T0 (from now_ms) in seconds, one decimal.
took() { local d=$(($(now_ms) - $1)); printf '%d.%d s' $((d / 1000)) $((d % 1000 / 100)); }

NODES=(n1 n2 n3 n4 n5)
SUMMARY=()
VOTERS=(n1 n2 n3)
api() { echo "unix:$WORK/$1/api.sock"; }
# json_ok EXPR COMMAND...: EXPR (python, the document as d) holds for COMMAND's JSON.
json_ok() {
    local expr=$1
    shift
    "$@" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"
}
# json_get EXPR COMMAND...: prints EXPR of COMMAND's JSON.
json_get() {
    local expr=$1
    shift
    "$@" | python3 -c "import json,sys; d=json.load(sys.stdin); print($expr)"
}
idx() { echo $((${1#n} - 1)); } # n3 -> 2
members_alive() { json_ok 'sum(m["status"] == "alive" for m in d) == 5' "$P" members --api "$(api "$1")" --json; }
leader_of() { json_get 'd["leader"]' "$P" raft status --api "$(api "$1")" --json; }
# one_leader NODE...: every NODE names the same leader, one of them.
one_leader() {
    local first l n
    first=$(leader_of "$1") && [ -n "$first" ] || return 1
    for n in "$@"; do l=$(leader_of "$n") && [ "$l" = "$first" ] || return 1; done
    for n in "$@"; do [ "$n" = "$first" ] && return 0; done
    return 1
}
web_healthy() { json_ok '[s["healthy"] for s in d["services"] if s["name"] == "web"] == [True]' \
    "$P" services --api "$(api "$1")" --json; }
# healed_incident NODE SIGNAL: prints the id of a healed incident of web with that signal.
healed_incident() {
    "$P" incidents --api "$(api "$1")" --json | python3 -c '
import json, sys
for i in json.load(sys.stdin)["incidents"]:
    if i["service"] == "web" and i["diagnosis"]["signal"] == sys.argv[1] and i["outcome"] == "healed":
        print(i["id"]); sys.exit(0)
sys.exit(1)' "$2"
}
# placed_on NODE: the voter NODE's replicated state places "api" on.
placed_on() { json_get '([x["node"] for x in d["placements"] if x["service"] == "api"] + [""])[0]' \
    "$P" placement --api "$(api "$1")" --json; }
api_answers() { curl -s -f --max-time 1 -o /dev/null "http://127.0.0.1:${API_SVC[$(idx "$1")]}/health"; }
# answering NODE...: the nodes among NODE... where "api" answers.
answering() { local out="" n; for n in "$@"; do api_answers "$n" && out="$out $n"; done; echo "${out# }"; }
# only_on NODE LIVE...: "api" answers on NODE and on no other of LIVE, and every LIVE node's
# state places it on NODE.
only_on() {
    local want=$1 n
    shift
    [ "$(answering "$@")" = "$want" ] || return 1
    for n in "$@"; do [ "$(placed_on "$n")" = "$want" ] || return 1; done
}
# web_starts NODE: how many times NODE's agent started web (its log, kept across restarts).
web_starts() { grep -c "started service=web" "$WORK/$1.log"; }
ledger_line() { "$P" swarm status --api "$(api "$1")" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["ledger"]["size"], d["ledger"]["root"], d["state"]["state_hash"])'; }
# same_state NODE...: the same ledger size, root and swarm state hash on every NODE.
same_state() {
    local want n
    want=$(ledger_line "$1") || return 1
    for n in "$@"; do [ "$(ledger_line "$n")" = "$want" ] || return 1; done
}
show_ledgers() {
    local n
    for n in "$@"; do
        "$P" swarm status --api "$(api "$n")" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%s  ledger size %d  root %.16s...  state hash %.16s..." % (sys.argv[1], d["ledger"]["size"],
      d["ledger"]["root"], d["state"]["state_hash"]))' "$n"
    done
}

start_agent() { # NODE [AGENT-FLAGS...]; appends to NODE's log
    local n=$1 i
    i=$(idx "$n")
    shift
    "$P" agent --config "$WORK/$n.json" --name "$n" --bind "127.0.0.1:${PORTS[$i]}" \
        --data-dir "$WORK/$n" "$@" >>"$WORK/$n.log" 2>&1 &
    AGENT_PIDS[$i]=$!
}

# local_heal NODE N FAULT SIGNAL WHAT NOTE: injects /fault/FAULT into NODE's web (the Nth),
# waits for NODE to heal it on its own and shows the incident.
local_heal() {
    local n=$1 fault=$3 signal=$4 what=$5 note=$6 t0 id
    t0=$(now_ms)
    run curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${WEB_SVC[$(($2 - 1))]}/fault/$fault"
    wait_until 60 "$n to heal the $what" healed_incident "$n" "$signal" || return 1
    echo "healed by $n on its own in $(took "$t0")$note:"
    SUMMARY+=("$what of web on $n: healed by $n in $(took "$t0")")
    id=$(healed_incident "$n" "$signal")
    run "$P" incident "$id" --api "$(api "$n")"
}

# rejoin NODE PEER: restarts NODE's agent (it rejoins the members it knew) and waits until it
# caught up with the log, PEER sees every member alive and NODE's web is healthy.
rejoin() {
    local n=$1 peer=$2
    start_agent "$n"
    wait_until 20 "$n's API" test -S "$WORK/$n/api.sock" || return 1
    caught_up() { json_ok 'd["caught_up"]' "$P" placement --api "$(api "$n")" --json; }
    wait_until 30 "$n to catch up with the log" caught_up || return 1
    wait_until 30 "every member alive again" members_alive "$peer" || return 1
    wait_until 30 "$n's web to be healthy again" web_healthy "$n" || return 1
}
# elected_after NODE T0: the time from T0 (now_ms) to NODE's last "elected leader" log line.
elected_after() {
    python3 -c '
import datetime, sys
line = [l for l in open(sys.argv[1]) if "elected leader" in l][-1]
t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print("%d ms" % (int(t.timestamp() * 1000) - int(sys.argv[2])))' "$WORK/$1.log" "$2"
}

demo_swarm() {
    local n i t0
    printf '\n\033[1m######## Act 1: a swarm of five agents heals real faults\033[0m\n'
    read -r -a PORTS <<<"$(free_ports 5)"
    read -r -a WEB_SVC <<<"$(free_ports 5)"
    read -r -a API_SVC <<<"$(free_ports 3)"
    DEP_PORT=$(free_ports 1)

    section "1. Start a shared dependency and five agents (n1-n3 vote in the Raft council, n4-n5 are members)"
    "$P" sample-service --port "$DEP_PORT" >"$WORK/dep.log" 2>&1 &
    DEP_PID=$!
    echo "dependency: a sample service on 127.0.0.1:$DEP_PORT that every node's web needs (pid $DEP_PID)"
    for i in 0 1 2 3 4; do
        n=${NODES[$i]}
        local raft="" placed=""
        if [ $i -lt 3 ]; then
            raft='"raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 500, "heartbeat_ms": 50},'
            placed=",
  {\"name\": \"api\", \"command\": \"$P\", \"args\": [\"sample-service\", \"--port\", \"${API_SVC[$i]}\"],
   \"start_ms\": 300, \"grace_ms\": 500,
   \"checks\": [{\"type\": \"http\", \"url\": \"http://127.0.0.1:${API_SVC[$i]}/health\",
               \"interval_ms\": 300, \"timeout_ms\": 300}],
   \"placement\": {\"replicas\": 1, \"nodes\": [\"n1\", \"n2\", \"n3\"], \"lease_ms\": 2000}}"
        fi
        cat >"$WORK/$n.json" <<JSON
{"profile": "local", $raft
 "correlate": {"share": 0.6, "window_ms": 20000, "min_nodes": 3},
 "gossip": {"retransmit_mult": 4, "pushpull_interval_ms": 3000},
 "services": [
  {"name": "web", "command": "$P",
   "args": ["sample-service", "--port", "${WEB_SVC[$i]}", "--depends", "127.0.0.1:$DEP_PORT"],
   "start_ms": 300, "grace_ms": 500,
   "checks": [{"type": "http", "url": "http://127.0.0.1:${WEB_SVC[$i]}/health",
               "interval_ms": 500, "timeout_ms": 400, "failures": 4}]}$placed]}
JSON
        if [ $i = 0 ]; then start_agent "$n"; else start_agent "$n" --join "127.0.0.1:${PORTS[0]}"; fi
        printf '%s: %-6s gossip 127.0.0.1:%s, web on :%s%s (pid %s)\n' "$n" \
            "$([ $i -lt 3 ] && echo voter || echo member)" "${PORTS[$i]}" "${WEB_SVC[$i]}" \
            "$([ $i -lt 3 ] && echo ", may run api (on :${API_SVC[$i]})")" "${AGENT_PIDS[$i]}"
    done
    echo '"api" is placed: "placement": {"replicas": 1, "nodes": ["n1", "n2", "n3"]}, one copy in the swarm'
    for n in "${NODES[@]}"; do wait_until 20 "$n's API" test -S "$WORK/$n/api.sock" || return 1; done
    wait_until 30 "one leader agreed by the voters" one_leader "${VOTERS[@]}" || return 1
    for n in "${NODES[@]}"; do
        wait_until 30 "$n to see five alive members" members_alive "$n" || return 1
        wait_until 30 "$n's web to be healthy" web_healthy "$n" || return 1
    done
    holder_ok() { local h; h=$(placed_on n1) && [ -n "$h" ] && only_on "$h" "${VOTERS[@]}"; }
    wait_until 30 "api placed and answering on exactly one voter" holder_ok || return 1
    run "$P" members --api "$(api n1)"
    echo
    run "$P" raft status --api "$(api n1)"
    echo
    run "$P" placement --api "$(api n1)"

    section "2. Crash: n4's web exits with status 70"
    local_heal n4 4 crash exit "crash" "" || return 1

    section "3. Hang: n5's web stops answering (its event loop blocks)"
    local_heal n5 5 hang check "hang" " (4 failed checks 500 ms apart, then a restart)" || return 1

    section "4. A node dies: SIGKILL of the agent running the placed service \"api\""
    local H H2 hi rest=() was_leader
    H=$(placed_on n1)
    hi=$(idx "$H")
    for n in "${VOTERS[@]}"; do [ "$n" = "$H" ] || rest+=("$n"); done
    was_leader=$(leader_of "${rest[0]}")
    echo "api runs on $H; the council's leader is $was_leader"
    moved_off() { local h; h=$(placed_on "${rest[0]}") && [ -n "$h" ] && [ "$h" != "$H" ] && only_on "$h" "${rest[@]}"; }
    t0=$(now_ms)
    run kill -KILL "${AGENT_PIDS[$hi]}"
    wait "${AGENT_PIDS[$hi]}" 2>/dev/null
    wait_until 40 "api moved off the killed $H and answering elsewhere" moved_off || return 1
    H2=$(placed_on "${rest[0]}")
    echo "api answers on $H2 $(took "$t0") after the kill (gossip declared $H dead, the leader committed the move)"
    SUMMARY+=("SIGKILL of $H: api answering on $H2 in $(took "$t0"); one copy after $H came back")
    [ "$was_leader" = "$H" ] && echo "$H was also the leader: $(leader_of "${rest[0]}") leads now"
    run "$P" placement --api "$(api "$H2")"
    echo
    echo "restarting $H: it learns from the log that api runs on $H2 and starts no second copy"
    local starts_before
    starts_before=$(grep -c "start service=api" "$WORK/$H.log")
    rejoin "$H" "$H2" || return 1
    if [ "$(placed_on "$H")" != "$H2" ] || ! only_on "$H2" "${VOTERS[@]}" ||
        [ "$(grep -c "start service=api" "$WORK/$H.log")" != "$starts_before" ]; then
        echo "UNEXPECTED: api answers on '$(answering "${VOTERS[@]}")'; $H places it on '$(placed_on "$H")'"
        return 1
    fi
    echo "$H is back: api still answers on $H2 only"

    section "5. A shared dependency goes down: the same failure on every node"
    local before=() held_t id
    for i in 0 1 2 3 4; do before[$i]=$(web_starts "${NODES[$i]}"); done
    all_held() { for n in "${NODES[@]}"; do grep -q "restarts held for the cluster" "$WORK/$n.log" || return 1; done; }
    cluster_state() { # NODE STATE: exactly one cluster incident, for web, in STATE
        json_ok "len(d['state']['cluster_incidents']) == 1 and all(c['service'] == 'web' and c['state'] == '$2' and c['cause'] == 'dependency_failure' for c in d['state']['cluster_incidents'])" \
            "$P" incidents --cluster --api "$(api "$1")" --json; }
    voters_cluster() { for n in "${VOTERS[@]}"; do cluster_state "$n" "$1" || return 1; done; }
    t0=$(now_ms)
    run kill -TERM "$DEP_PID"
    wait "$DEP_PID" 2>/dev/null
    DEP_PID=
    echo "every web's /health now fails (its dependency refuses connections)"
    wait_until 30 "every node holding its restart for the cluster" all_held || return 1
    echo "all five nodes see web:check:status together and hold their restarts ($(took "$t0"))"
    wait_until 30 "one cluster incident open on every voter" voters_cluster open || return 1
    echo "the leader committed one cluster incident, root cause dependency_failure ($(took "$t0")):"
    run "$P" incidents --cluster --api "$(api n1)"
    echo "(each node's own incident opens after 4 failed checks, 2 s, with its restart already held back)"
    # The outage lasts longer than a restart would take (4 failed checks, 2 s): nobody restarts.
    local until_s=$((SECONDS + 6))
    while [ $SECONDS -lt $until_s ]; do sleep 0.5; done
    held_t=$(took "$t0")
    echo "after $held_t of outage, the dependency comes back"
    "$P" sample-service --port "$DEP_PORT" >>"$WORK/dep.log" 2>&1 &
    DEP_PID=$!
    recovered() { json_ok '[i for i in d["incidents"] if i["state"] != "closed"] == [] and any(i["outcome"] == "recovered" for i in d["incidents"])' \
        "$P" incidents --api "$(api "$1")" --json; }
    all_recovered() { for n in "${NODES[@]}"; do recovered "$n" || return 1; done; }
    wait_until 30 "every node's incident closed as recovered" all_recovered || return 1
    wait_until 30 "the cluster incident closed on every voter" voters_cluster closed || return 1
    local restarts=0
    for i in 0 1 2 3 4; do restarts=$((restarts + $(web_starts "${NODES[$i]}") - before[i])); done
    echo "every node's incident closed as recovered, the cluster incident closed ($(took "$t0") in all)"
    echo "web restarts fleet-wide during the outage: $restarts"
    run "$P" incidents --cluster --api "$(api n2)"
    id=$("$P" incidents --api "$(api n3)" --json | python3 -c '
import json, sys
print([i["id"] for i in json.load(sys.stdin)["incidents"] if i["outcome"] == "recovered"][-1])') || return 1
    echo "n3's own incident: its restart held back, healthy again once the dependency was:"
    run "$P" incident "$id" --api "$(api n3)"
    [ "$restarts" = 0 ] || { echo "UNEXPECTED: $restarts restarts"; return 1; }

    SUMMARY+=("dependency down 5 nodes: 1 cluster incident, $restarts restarts, all recovered ($held_t outage)")

    section "6. A rolling restart: the healer decides, one node at a time, and each node acts once"
    local R
    for i in 0 1 2 3 4; do before[$i]=$(web_starts "${NODES[$i]}"); done
    t0=$(now_ms)
    printf '$ %s\n' "platelet rollout restart web --max-unavailable 1 --api unix:\$DEMO/n3/api.sock"
    R=$(json_get 'd["rollout"]' "$P" rollout restart web --max-unavailable 1 --api "$(api n3)" --json) || return 1
    echo "rollout $R committed; the leader orders each step only once the previous node's web answered"
    rollout_done() { json_ok "[r['state'] for r in d['rollouts'] if r['index'] == $R] == ['done']" \
        "$P" decisions --api "$(api n1)" --json; }
    wait_until 60 "rollout $R done" rollout_done || return 1
    echo "rollout done in $(took "$t0"):"
    run "$P" decisions --api "$(api n1)"
    local once=0
    for i in 0 1 2 3 4; do [ $(($(web_starts "${NODES[$i]}") - before[i])) = 1 ] && once=$((once + 1)); done
    echo "nodes whose web restarted exactly once: $once of 5"
    [ "$once" = 5 ] || { echo "UNEXPECTED: not every node restarted web exactly once"; return 1; }
    SUMMARY+=("rolling restart of web on 5 nodes: each restarted once ($(took "$t0"))")

    section "7. The healer dies: SIGKILL of the Raft leader"
    local leader li newl survivors=() was_on
    leader=$(leader_of n1)
    li=$(idx "$leader")
    was_on=$(placed_on n1)
    for n in "${VOTERS[@]}"; do [ "$n" = "$leader" ] || survivors+=("$n"); done
    echo "the leader (the swarm's healer) is $leader; api runs on $was_on"
    new_leader() { local l; l=$(leader_of "${survivors[0]}") && [ -n "$l" ] && [ "$l" != "$leader" ] && one_leader "${survivors[@]}"; }
    t0=$(now_ms)
    run kill -KILL "${AGENT_PIDS[$li]}"
    wait "${AGENT_PIDS[$li]}" 2>/dev/null
    wait_until 20 "a new leader among ${survivors[*]}" new_leader || return 1
    newl=$(leader_of "${survivors[0]}")
    local el
    el=$(elected_after "$newl" "$t0")
    echo "$newl was elected $el after the kill (its log): the dead leader's connections closed, so the followers did not wait out the election timeout (500 ms)"
    SUMMARY+=("SIGKILL of the leader $leader: $newl elected $el after")
    if [ "$was_on" = "$leader" ]; then
        survivor_holds() { local h; h=$(placed_on "${survivors[0]}") && [ -n "$h" ] && [ "$h" != "$leader" ] && only_on "$h" "${survivors[@]}"; }
        wait_until 40 "api moved off the killed leader" survivor_holds || return 1
        echo "api ran on $leader too: it answers on $(placed_on "${survivors[0]}") $(took "$t0") after the kill"
    fi
    echo "restarting $leader: it rejoins and catches up from $newl"
    rejoin "$leader" "$newl" || return 1
    wait_until 30 "api answering on exactly one voter" holder_ok || return 1
    echo "$leader is back and caught up (the leader is $(leader_of n1)); api answers on $(placed_on n1) only"

    section "8. One replicated record: every voter holds the same ledger and swarm state"
    wait_until 30 "the same ledger and state on every voter" same_state "${VOTERS[@]}" || return 1
    show_ledgers "${VOTERS[@]}"
    run "$P" swarm status --api "$(api n3)"

    section "9. Stop: each agent leaves gracefully and stops its services"
    local rc=0
    for pid in "${AGENT_PIDS[@]}"; do kill -TERM "$pid"; done
    for pid in "${AGENT_PIDS[@]}"; do wait "$pid" || rc=1; done
    AGENT_PIDS=()
    kill -TERM "$DEP_PID" 2>/dev/null
    wait "$DEP_PID" 2>/dev/null
    DEP_PID=
    [ $rc = 0 ] || { echo "UNEXPECTED: an agent exited with an error"; return 1; }
    echo "all agents stopped"
    section "Act 1 in short"
    printf '  %s\n' "${SUMMARY[@]}"
}

# ---------------------------------------------------------------- act 2: the ledger

# One incident = detect -> contain -> decision -> outcome, as the healer would log them.
incident_lines() { # KIND FIRST COUNT
    local kind="$1" first="$2" count="$3" i node svc
    local services=(api db cache queue auth) actions=(restart drain rollback scale-out)
    for ((i = first; i < first + count; i++)); do
        node="n$((i % 9 + 1))"
        svc="${services[$((i % 5))]}"
        case "$kind" in
        detect) printf '{"incident":%d,"node":"%s","service":"%s","signal":"p95_latency_ms","value":%d,"baseline":%d}\n' \
            "$i" "$node" "$svc" $((400 + i * 7 % 300)) $((120 + i % 40)) ;;
        contain) printf '{"incident":%d,"node":"%s","service":"%s","local_action":"restart","budget_left":%d}\n' \
            "$i" "$node" "$svc" $((2 - i % 3)) ;;
        decision) printf '{"incident":%d,"node":"%s","service":"%s","class":"degradation","cause":"overload","confidence":0.%02d,"action":"%s"}\n' \
            "$i" "$node" "$svc" $((60 + i % 39)) "${actions[$((i % 4))]}" ;;
        outcome) printf '{"incident":%d,"node":"%s","service":"%s","healed":%s,"recovery_ms":%d}\n' \
            "$i" "$node" "$svc" "$([ $((i % 7)) = 0 ] && echo false || echo true)" $((800 + i * 37 % 4000)) ;;
        esac
    done
}

demo_ledger() {
    local D="$WORK/node1" rc=0
    printf '\n\033[1m######## Act 2: the verifiable ledger\033[0m\n'
    section "1. Append 300 incident entries (75 incidents x detect/contain/decision/outcome)"
    local wave kind
    for ((wave = 0; wave < 5; wave++)); do
        for kind in detect contain decision outcome; do
            incident_lines "$kind" $((wave * 15)) 15 | "$P" ledger append --data-dir "$D" --kind "$kind" >"$WORK/append.out" || return 1
        done
        printf 'wave %d: %s\n' "$wave" "$(cat "$WORK/append.out")"
    done

    section "2. Status: size, root and the signed tree head"
    run "$P" ledger status --data-dir "$D" || return 1
    run "$P" ledger status --data-dir "$D" --json >"$WORK/status.json" || return 1
    local size
    size=$(sed -n 's/^{"size":\([0-9]*\),.*/\1/p' "$WORK/status.json")

    section "3. Inclusion proof of entry 42 (RFC 6962 audit path)"
    run "$P" ledger proof --data-dir "$D" --index 42 || return 1

    section "4. Consistency proof: the tree at size 100 is a prefix of the tree at size $size"
    run "$P" ledger consistency --data-dir "$D" --from 100 --to "$size" || return 1

    section "5. Recompute everything from the leaves"
    run "$P" ledger check --data-dir "$D" || return 1

    section "6. Export the audit trail (with proofs) and verify it offline, without the data dir"
    run "$P" audit export --data-dir "$D" --proofs -o "$WORK/audit.jsonl" || return 1
    echo "first entry line:"
    sed -n 2p "$WORK/audit.jsonl" | cut -c1-200 | sed 's/$/.../'
    local pub
    pub=$(tr -d '\n' <"$D/node.pub")
    run "$P" audit verify "$WORK/audit.jsonl" --public-key "$pub"
    local verified=$?
    run "$P" audit export --data-dir "$D" --format csv -o "$WORK/audit.csv" || return 1
    head -3 "$WORK/audit.csv"

    section "7. Tamper: change the action of one decision in a copy, then verify again"
    # Entries 60w+30..60w+44 are wave w's decisions: entry 157 decides incident 37. Its line
    # is 157 + 2 (the header is line 1).
    sed '159s/"action":"[a-z-]*"/"action":"ignore"/' "$WORK/audit.jsonl" >"$WORK/tampered.jsonl"
    if cmp -s "$WORK/audit.jsonl" "$WORK/tampered.jsonl"; then
        echo "UNEXPECTED: the edit did not change the copy"
        return 1
    fi
    echo "line 159 before: $(sed -n 159p "$WORK/audit.jsonl" | grep -o '"incident":[0-9]*,.*"action":"[a-z-]*"')"
    echo "line 159 after:  $(sed -n 159p "$WORK/tampered.jsonl" | grep -o '"incident":[0-9]*,.*"action":"[a-z-]*"')"
    run "$P" audit verify "$WORK/tampered.jsonl" --public-key "$pub"
    local tampered=$?

    section "Result"
    if [ "$verified" = 0 ] && [ "$tampered" != 0 ]; then
        echo "the untouched trail verified; the edited entry was caught and its line named"
    else
        echo "UNEXPECTED: untouched verify exit $verified, tampered verify exit $tampered"
        rc=1
    fi
    return $rc
}

cluster_rc=0
demo_swarm || cluster_rc=1
if [ $cluster_rc != 0 ]; then
    echo "demo: the swarm act failed; the agents' last log lines:" >&2
    for n in "${NODES[@]}"; do [ -f "$WORK/$n.log" ] && { echo "--- $n" >&2; tail -n 15 "$WORK/$n.log" >&2; }; done
fi
WORK_LEDGER_RC=0
demo_ledger || WORK_LEDGER_RC=1
exit $((cluster_rc | WORK_LEDGER_RC))
