# Helpers of the Raft integration tests (sourced after lib.sh): agents' status through
# `platelet raft status`, leader agreement, ledger agreement.
sock() { echo "$TEST_DIR/$1/api.sock"; }
# council_configs: $TEST_DIR/voter.json (a voter of a three-voter council with short
# timeouts), solo.json (the one voter of its own council) and member.json (not a voter).
council_configs() {
    local n
    for n in 3 1; do
        cat >"$TEST_DIR/$([ $n = 3 ] && echo voter || echo solo).json" <<JSON
{"profile": "local",
 "raft": {"voter": true, "bootstrap_expect": $n, "election_timeout_ms": 500, "heartbeat_ms": 50}}
JSON
    done
    echo '{"profile": "local"}' >"$TEST_DIR/member.json"
}
status() { "$PLATELET" raft status --api "unix:$(sock "$1")" --json; }
field() { status "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)$2)"; }
leader_of() { field "$1" '["leader"]'; }
one_leader() { # all given nodes agree on one leader that is among them
    local l first
    first=$(leader_of "$1") || return 1
    [ -n "$first" ] || return 1
    for n in "$@"; do
        l=$(leader_of "$n") || return 1
        [ "$l" = "$first" ] || return 1
    done
    [ "$(field "$first" '["role"]')" = leader ]
}
same_ledger() { # all nodes hold the same ledger size and root, and at least $1 entries
    local min=$1
    shift
    local want got
    want=$(status "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin)["ledger"]; print(d["size"], d["root"])') || return 1
    [ "${want%% *}" -ge "$min" ] || return 1
    for n in "$@"; do
        got=$(status "$n" | python3 -c 'import json,sys; d=json.load(sys.stdin)["ledger"]; print(d["size"], d["root"])') || return 1
        [ "$got" = "$want" ] || return 1
    done
}
# propose_acked COUNT TAG OUT SOCKET...: raft_propose.py's acknowledged proposals into OUT;
# prints how many.
propose_acked() {
    local count=$1 tag=$2 out=$3
    shift 3
    python3 "$(dirname "${BASH_SOURCE[0]}")/raft_propose.py" "$count" "$tag" "$@" >"$out"
    python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$out"
}
# kill_leader LEADER PID VOTER...: SIGKILLs the leader and waits until the other voters
# agree on a new one; sets `survivors`.
kill_leader() {
    local leader=$1 pid=$2
    shift 2
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    survivors=()
    for n in "$@"; do [ "$n" = "$leader" ] || survivors+=("$n"); done
    wait_for 20 "a new leader among ${survivors[*]}" one_leader "${survivors[@]}"
}
# acked_in_ledgers NODE... -- TAG=ACKED_FILE...: every proposal raft_propose.py acknowledged
# is in every node's exported ledger at the index it was acknowledged with.
acked_in_ledgers() {
    local nodes=()
    while [ "$1" != "--" ]; do nodes+=("$1"); shift; done
    shift
    for n in "${nodes[@]}"; do
        "$PLATELET" audit export --data-dir "$TEST_DIR/$n" -o "$TEST_DIR/$n.jsonl" >/dev/null
    done
    python3 - "$TEST_DIR" "${nodes[*]}" "$@" <<'PY'
import json, sys
d, nodes, pairs = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
acked = [(tag, a) for tag, f in (p.split("=", 1) for p in pairs) for a in json.load(open(f))]
for node in nodes:
    entries = {}
    with open(f"{d}/{node}.jsonl") as f:
        next(f)  # the header line
        for line in f:
            e = json.loads(line)
            entries[e["index"]] = e
    for tag, a in acked:
        e = entries.get(a["index"] - 1)
        body = e and e.get("body")
        if not body or body.get("tag") != tag or body.get("n") != a["n"]:
            sys.exit(f"{node}: acknowledged proposal {tag}/{a['n']} (index {a['index']}) missing; found {e}")
print(f"all {len(acked)} acknowledged proposals are in every ledger")
PY
}
# start_node NAME ARGS...: an agent with $TEST_DIR/NAME.json, gossip on ${PORT[NAME]} and its
# own data directory; its PID in ${PID[NAME]} (the caller declares PORT and PID). Its log is
# $TEST_DIR/NAME.log, or $TEST_DIR/$NODE_LOG.log with NODE_LOG set (`NODE_LOG=r1-again
# start_node r1`).
start_node() {
    local name=$1
    shift
    spawn "${NODE_LOG:-$name}" "$PLATELET" agent --config "$TEST_DIR/$name.json" --name "$name" \
        --bind "127.0.0.1:${PORT[$name]}" --data-dir "$TEST_DIR/$name" "$@"
    PID[$name]=$SPAWNED_PID
}
# VOTER3: the "raft" member of a config that makes a voter of a three-voter council with
# short timeouts.
VOTER3='"raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 500, "heartbeat_ms": 50}'
# web_service PORT [FIELDS]: the JSON of a service "web", the sample service on PORT with an
# HTTP check of its /health every 300 ms, plus FIELDS (more "key": value members).
web_service() {
    cat <<JSON
{"name": "web", "command": "$PLATELET", "args": ["sample-service", "--port", "$1"], "start_ms": 300,
   "checks": [{"type": "http", "url": "http://127.0.0.1:$1/health", "interval_ms": 300, "timeout_ms": 300}]${2:+,
   $2}}
JSON
}
# Placed "web" (the caller declares SVC: each node's web port). placement NODE: its
# GET /v1/placement; placed_on NODE: the node NODE's applied state places web on; answers
# NODE: web answers there within $ANSWER_S seconds (default 1); answering NODE...: prints
# the nodes among NODE... whose web answers.
placement() { "$PLATELET" placement --api "unix:$(sock "$1")" --json; }
placed_on() { placement "$1" | python3 -c '
import json, sys
p = [x for x in json.load(sys.stdin)["placements"] if x["service"] == "web"]
print(p[0]["node"] if p else "")'; }
answers() { curl -s --max-time "${ANSWER_S:-1}" -o /dev/null "http://127.0.0.1:${SVC[$1]}/health"; }
answering() { local out=""; for n in "$@"; do answers "$n" && out="$out $n"; done; echo "${out# }"; }
swarm() { "$PLATELET" swarm status --api "unix:$(sock "$1")" --json; }
# healthy NODE: the first service NODE supervises passes its checks.
healthy() { "$PLATELET" services --api "unix:$(sock "$1")" --json |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["services"][0]; sys.exit(0 if s["healthy"] else 1)'; }
# same_state NODE...: the same ledger size and state hash on every node.
same_state() {
    local want got
    want=$(swarm "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ledger"]["size"], d["state"]["state_hash"])') || return 1
    for n in "$@"; do
        got=$(swarm "$n" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ledger"]["size"], d["state"]["state_hash"])') || return 1
        [ "$got" = "$want" ] || return 1
    done
}
# start_voters NODE... [-- AGENT-FLAGS...]: starts each NODE as a voter with
# $TEST_DIR/NODE.json when it exists (else voter.json), its data in $TEST_DIR/NODE, joined
# through the first two nodes, plus AGENT-FLAGS; fills the caller's associative arrays PORT
# and PID, waits for every API socket and for one leader agreed by all.
start_voters() {
    local nodes=() flags=() n cfg
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do nodes+=("$1"); shift; done
    [ $# -gt 0 ] && shift && flags=("$@")
    for n in "${nodes[@]}"; do PORT[$n]=$(free_port); done
    for n in "${nodes[@]}"; do
        cfg="$TEST_DIR/voter.json"
        [ -f "$TEST_DIR/$n.json" ] && cfg="$TEST_DIR/$n.json"
        spawn "$n" "$PLATELET" agent --config "$cfg" --name "$n" \
            --bind "127.0.0.1:${PORT[$n]}" --data-dir "$TEST_DIR/$n" \
            --join "127.0.0.1:${PORT[${nodes[0]}]}" --join "127.0.0.1:${PORT[${nodes[1]}]}" \
            ${flags[@]+"${flags[@]}"}
        PID[$n]=$SPAWNED_PID
    done
    for n in "${nodes[@]}"; do wait_for 10 "$n API" test -S "$(sock "$n")"; done
    wait_for 20 "one leader agreed by the voters" one_leader "${nodes[@]}"
}
# lagger_setup NODE...: sets `leader` (the one all agree on), `lagger` (a voter that is not
# the leader), `others` (all but the lagger) and `n0`, the count of 20 proposals acknowledged
# and on every node's ledger ("before", in $TEST_DIR/acked0.json).
lagger_setup() {
    local n
    leader=$(leader_of "$1")
    for n in "$@"; do [ "$n" = "$leader" ] || lagger=$n; done
    others=()
    for n in "$@"; do [ "$n" = "$lagger" ] || others+=("$n"); done
    n0=$(propose_acked 20 before "$TEST_DIR/acked0.json" "$(sock "$leader")")
    wait_for 20 "ledgers equal" same_ledger "$n0" "$@"
}
# lagger_down COUNT MIN: SIGKILLs the lagger (lagger_setup) while COUNT proposals go through
# the others ("missed", in $TEST_DIR/acked1.json), at least MIN of them acknowledged; waits
# until the two ledgers are equal and sets n1 (acknowledged) and size (the leader's ledger).
lagger_down() {
    kill -KILL "${PID[$lagger]}"
    wait "${PID[$lagger]}" 2>/dev/null || true
    n1=$(propose_acked "$1" missed "$TEST_DIR/acked1.json" "$(sock "${others[0]}")" "$(sock "${others[1]}")")
    [ "$n1" -ge "$2" ] || fail "only $n1 of $1 proposals acknowledged by two voters"
    wait_for 30 "the two ledgers equal" same_ledger $((n0 + n1)) "${others[@]}"
    size=$(field "$leader" '["ledger"]["size"]')
}
# lagger_behind CHUNK NODE...: three voters NODE... that compact after 16 entries (nothing
# trailing), send snapshot bodies in CHUNK-byte chunks and take faults; lagger_setup, then
# lagger_down 600 580. The caller declares PORT and PID.
lagger_behind() {
    local chunk=$1 n
    shift
    for n in "$@"; do
        cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local", "enable_faults": true,
 "raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 500, "heartbeat_ms": 50,
          "snapshot_threshold": 16, "snapshot_trailing": 0, "snapshot_chunk_bytes": $chunk}}
JSON
    done
    start_voters "$@"
    lagger_setup "$@"
    lagger_down 600 580
}
# The lagger's ledger size and the leaves it received by snapshot since its last start.
lsize() { field "$lagger" '["ledger"]["size"]'; }
received() { field "$lagger" '["snapshot_transfer"]["received_leaves"]'; }
mid_transfer() { local r; r=$(received) && [ "$r" -gt 50 ]; }
# lagger_restart_slow: the leader delays its messages to the lagger by 40 ms (a snapshot
# transfer then takes seconds); the lagger restarts (log $TEST_DIR/$lagger-restart.log) and
# this waits until it has received some of the snapshot's leaves.
lagger_restart_slow() {
    "$PLATELET" fault delay --peer "$lagger" --ms 40 --api "unix:$(sock "$leader")" >/dev/null
    NODE_LOG=$lagger-restart start_node "$lagger" --join "127.0.0.1:${PORT[$leader]}"
    wait_for 10 "$lagger API after restart" test -S "$(sock "$lagger")"
    wait_for 60 "$lagger receiving the snapshot's leaves" mid_transfer
}
