#!/usr/bin/env bash
# `make demo`: shows Platelet for real, in two acts.
#  1. A three-node cluster on loopback: gossip membership, a Raft council electing a
#     healer, and on every node a supervised sample service. Real faults are injected (a
#     crash, a hang, an error burst) and each node heals its own service; every incident's
#     timeline is printed as it closes. Each incident's steps are committed through the
#     council into the swarm's replicated state (every node shows the same incidents and
#     state hash), and a note committed through Raft lands in every node's ledger with the
#     same root. The Raft leader is SIGKILLed: another is elected, a second
#     note commits, and the old leader restarts, rejoins and catches up to the same root.
#     Before that, a node running the placed service "db" (replicas 1) is SIGKILLed: db moves
#     to another node, and the killed node comes back without starting a second copy.
#  2. The verifiable ledger: a few hundred incident-like entries, status, an inclusion proof,
#     a consistency proof, an exported audit trail verified offline, and a tampered copy that
#     verify rejects, naming the edited line.
# Usage: scripts/demo.sh path/to/platelet
# Exit 0 only if the cluster healed every fault and the ledger act's checks held.
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
LOAD_PID=
cleanup() {
    [ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
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


# ---------------------------------------------------------------- act 1: the cluster

# N ports P such that P and P+1 are free on 127.0.0.1 (gossip and Raft).
free_ports() { python3 "$(dirname "$0")/free_ports.py" "$1"; }

# wait_until SECONDS WHAT COMMAND...: polls every 0.2 s.
wait_until() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "demo: gave up after ${secs}s waiting for: $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

api() { echo "unix:$WORK/$1/api.sock"; }
# jq-like checks with python: json_ok DOC-COMMAND EXPR (EXPR sees the document as d)
json_ok() {
    local expr=$1
    shift
    "$@" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"
}
members_alive() { json_ok 'sum(m["status"] == "alive" for m in d) == 3' "$P" members --api "$(api "$1")" --json; }
has_leader() { json_ok 'd["role"] in ("leader", "follower") and d["leader"] != ""' "$P" raft status --api "$(api "$1")" --json; }
svc_healthy() { json_ok 'all(s["healthy"] for s in d["services"] if s["name"] == "web")' "$P" services --api "$(api "$1")" --json; }
# healed_incident NODE SIGNAL: prints the id of a healed incident of that signal.
healed_incident() {
    "$P" incidents --api "$(api "$1")" --json | python3 -c '
import json, sys
for i in json.load(sys.stdin)["incidents"]:
    if i["diagnosis"]["signal"] == sys.argv[1] and i["outcome"] == "healed":
        print(i["id"]); sys.exit(0)
sys.exit(1)' "$2"
}

# Section 6: "db" is placed (replicas 1) on n1, n2 or n3; its node dies and it moves. Uses
# demo_cluster's ports, svc and db.
demo_placement() {
    local holder hi moved t0
    db_answers() { curl -s --max-time 1 -o /dev/null "http://127.0.0.1:${db[$1]}/health"; }
    db_holder() { "$P" placement --api "$(api "$1")" --json | python3 -c '
import json, sys
p = [x["node"] for x in json.load(sys.stdin)["placements"] if x["service"] == "db"]
print(p[0] if p else "")'; }
    placed() { [ -n "$(db_holder n1)" ] && db_answers $(($(db_holder n1 | tr -d n) - 1)); }
    section "6. A node dies: its placed service (replicas 1) moves to another node"
    wait_until 30 "db to be placed and answering" placed || return 1
    run "$P" placement --api "$(api n1)"
    holder=$(db_holder n1)
    hi=$((${holder#n} - 1))
    local others=()
    for n in n1 n2 n3; do [ "$n" = "$holder" ] || others+=("$n"); done
    moved_off() {
        local h
        h=$(db_holder "${others[0]}") && [ -n "$h" ] && [ "$h" != "$holder" ] && db_answers $((${h#n} - 1))
    }
    t0=$(date +%s%N)
    run kill -KILL "${AGENT_PIDS[$hi]}"
    wait "${AGENT_PIDS[$hi]}" 2>/dev/null
    wait_until 30 "db to answer on another node" moved_off || return 1
    moved=$(db_holder "${others[0]}")
    echo "db answers on $moved $(( ($(date +%s%N) - t0) / 1000000 )) ms after $holder was killed"
    run "$P" placement --api "$(api "$moved")"
    echo "restarting $holder: it learns from the log that db moved, and starts no second copy"
    "$P" agent --config "$WORK/$holder.json" --name "$holder" --bind "127.0.0.1:${ports[$hi]}" \
        --data-dir "$WORK/$holder" >>"$WORK/$holder.log" 2>&1 &
    AGENT_PIDS[$hi]=$!
    caught_up() { json_ok 'd["caught_up"]' "$P" placement --api "$(api "$holder")" --json; }
    wait_until 30 "$holder to catch up with the log" caught_up || return 1
    wait_until 30 "$holder's web service to be healthy again" svc_healthy "$holder" || return 1
    local copies=0
    for i in 0 1 2; do db_answers $i && copies=$((copies + 1)); done
    echo "db copies answering: $copies"
    [ "$copies" = 1 ] || { echo "demo: $copies copies of db" >&2; return 1; }
    run "$P" placement --api "$(api "$holder")"
}

demo_cluster() {
    local ports svc
    printf '\n\033[1m######## Act 1: a three-node cluster heals real faults\033[0m\n'
    read -r -a ports <<<"$(free_ports 3)"
    read -r -a svc <<<"$(free_ports 3)"
    read -r -a db <<<"$(free_ports 3)"
    section "1. Start three agents; each supervises a sample service and votes in the Raft council"
    local i n
    for i in 0 1 2; do
        n="n$((i + 1))"
        cat >"$WORK/$n.json" <<JSON
{"profile": "local",
 "raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 500, "heartbeat_ms": 50},
 "services": [{"name": "web", "command": "$P", "args": ["sample-service", "--port", "${svc[$i]}"],
   "grace_ms": 1000, "start_ms": 300,
   "checks": [{"type": "http", "url": "http://127.0.0.1:${svc[$i]}/health", "interval_ms": 300,
               "timeout_ms": 500, "failures": 2}],
   "metrics": {"url": "http://127.0.0.1:${svc[$i]}/metrics", "interval_ms": 500,
               "requests": "sample_requests_total", "errors": "sample_errors_total",
               "latency": "sample_request_duration_seconds"},
   "policy": {"thresholds": {"error_rate": 0.05}, "error_window_ms": 10000}},
  {"name": "db", "command": "$P", "args": ["sample-service", "--port", "${db[$i]}"],
   "grace_ms": 500, "start_ms": 300,
   "checks": [{"type": "http", "url": "http://127.0.0.1:${db[$i]}/health", "interval_ms": 300}],
   "placement": {"replicas": 1, "nodes": ["n1", "n2", "n3"], "lease_ms": 3000}}]}
JSON
        "$P" agent --config "$WORK/$n.json" --name "$n" --bind "127.0.0.1:${ports[$i]}" \
            --data-dir "$WORK/$n" --join "127.0.0.1:${ports[0]}" >"$WORK/$n.log" 2>&1 &
        AGENT_PIDS+=($!)
        echo "$n: gossip 127.0.0.1:${ports[$i]}, Raft 127.0.0.1:$((ports[i] + 1)), service 127.0.0.1:${svc[$i]} (pid $!)"
    done
    for n in n1 n2 n3; do
        wait_until 20 "$n's API" test -S "$WORK/$n/api.sock" || return 1
        wait_until 30 "$n to see three alive members" members_alive $n || return 1
        wait_until 30 "$n to know the Raft leader" has_leader $n || return 1
        wait_until 30 "$n's service to be healthy" svc_healthy $n || return 1
    done
    run "$P" members --api "$(api n1)"
    echo
    run "$P" raft status --api "$(api n1)"
    echo
    run "$P" services --api "$(api n1)"

    local id
    section "2. Crash: n1's service exits with status 70"
    run curl -s --max-time 2 "http://127.0.0.1:${svc[0]}/fault/crash" >/dev/null
    wait_until 60 "n1 to heal the crash" healed_incident n1 exit || return 1
    id=$(healed_incident n1 exit)
    run "$P" incident "$id" --api "$(api n1)"

    section "3. Hang: n2's service stops answering (its event loop blocks)"
    run curl -s --max-time 1 "http://127.0.0.1:${svc[1]}/fault/hang" >/dev/null
    wait_until 60 "n2 to heal the hang" healed_incident n2 check || return 1
    id=$(healed_incident n2 check)
    run "$P" incident "$id" --api "$(api n2)"

    section "4. Error burst: 30 % of n3's requests fail while traffic flows"
    run curl -s --max-time 2 "http://127.0.0.1:${svc[2]}/fault/errors?rate=0.3" >/dev/null
    (for _ in $(seq 1 3000); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${svc[2]}/work"; done) &
    LOAD_PID=$!
    wait_until 90 "n3 to heal the error burst" healed_incident n3 error_rate || return 1
    kill "$LOAD_PID" 2>/dev/null
    LOAD_PID=
    id=$(healed_incident n3 error_rate)
    run "$P" incident "$id" --api "$(api n3)"

    section "5. What each node healed on its own is committed: the swarm's replicated state"
    cluster_incidents() { json_ok 'sum(i["outcome"] == "healed" for i in d["state"]["incidents"]) >= 3' \
        "$P" swarm status --api "$(api "$1")" --json; }
    for n in n1 n2 n3; do wait_until 30 "$n's swarm state to hold the three incidents" cluster_incidents $n || return 1; done
    run "$P" incidents --cluster --api "$(api n1)"
    run "$P" swarm status --api "$(api n3)"
    run "$P" propose --api "$(api n2)" '{"demo": "three faults healed", "nodes": ["n1", "n2", "n3"]}'
    local want got
    same_root() {
        want=$("$P" raft status --api "$(api n1)" --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["ledger"]; print(d["size"], d["root"])')
        for n in n2 n3; do
            got=$("$P" raft status --api "$(api $n)" --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["ledger"]; print(d["size"], d["root"])')
            [ "$got" = "$want" ] || return 1
        done
    }
    wait_until 20 "the three ledgers to agree" same_root || return 1
    for n in n1 n2 n3; do
        "$P" raft status --api "$(api $n)" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%s  %-8s ledger size %d  root %s" % (d["id"], d["role"], d["ledger"]["size"], d["ledger"]["root"]))'
    done

    demo_placement || return 1

    section "7. The healer dies: SIGKILL of the Raft leader"
    local leader li t0 t1 newl
    leader=$("$P" raft status --api "$(api n1)" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
    li=$((${leader#n} - 1))
    survivors=()
    for n in n1 n2 n3; do [ "$n" = "$leader" ] || survivors+=("$n"); done
    new_leader() { # a leader other than the killed one, agreed by both survivors
        local a b
        a=$("$P" raft status --api "$(api "${survivors[0]}")" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
        b=$("$P" raft status --api "$(api "${survivors[1]}")" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
        [ -n "$a" ] && [ "$a" != "$leader" ] && [ "$a" = "$b" ]
    }
    t0=$(date +%s%N)
    run kill -KILL "${AGENT_PIDS[$li]}"
    wait "${AGENT_PIDS[$li]}" 2>/dev/null
    wait_until 20 "a new leader among ${survivors[*]}" new_leader || return 1
    newl=$("$P" raft status --api "$(api "${survivors[0]}")" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
    # When the new leader says it was elected (its log), against when the kill was sent.
    t1=$(python3 -c '
import datetime, sys
line = [l for l in open(sys.argv[1]) if "elected leader" in l][-1]
t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000))' "$WORK/$newl.log")
    echo "new leader $newl, elected $((t1 - t0 / 1000000)) ms after the kill: the dead leader's connections closed, so the followers did not wait out the election timeout (500 ms)"
    run "$P" propose --api "$(api "${survivors[0]}")" '{"demo": "written while the old healer is down"}'
    echo "restarting $leader: it rejoins the members it knew and catches up from the new leader"
    "$P" agent --config "$WORK/$leader.json" --name "$leader" --bind "127.0.0.1:${ports[$li]}" \
        --data-dir "$WORK/$leader" >>"$WORK/$leader.log" 2>&1 &
    AGENT_PIDS[$li]=$!
    wait_until 20 "$leader's API" test -S "$WORK/$leader/api.sock" || return 1
    wait_until 30 "the three ledgers to agree again" same_root || return 1
    for n in n1 n2 n3; do
        "$P" raft status --api "$(api $n)" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%s  %-8s ledger size %d  root %s" % (d["id"], d["role"], d["ledger"]["size"], d["ledger"]["root"]))'
    done
    wait_until 30 "$leader's service to be healthy again" svc_healthy "$leader" || return 1
    echo "$leader's supervised service ended with its agent and runs again under the new one"

    section "8. Stop: each agent leaves gracefully and stops its service"
    for pid in "${AGENT_PIDS[@]}"; do kill -TERM "$pid"; done
    for pid in "${AGENT_PIDS[@]}"; do wait "$pid"; done
    AGENT_PIDS=()
    echo "all agents stopped"
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
demo_cluster || cluster_rc=1
if [ $cluster_rc != 0 ]; then
    echo "demo: the cluster act failed; the agents' last log lines:" >&2
    for n in n1 n2 n3; do [ -f "$WORK/$n.log" ] && tail -n 15 "$WORK/$n.log" >&2; done
fi
WORK_LEDGER_RC=0
demo_ledger || WORK_LEDGER_RC=1
exit $((cluster_rc | WORK_LEDGER_RC))
