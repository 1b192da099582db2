#!/usr/bin/env bash
# The kill loop: three voters and two members (the deployed shape: compose and the k8s
# manifests run three voters and a DaemonSet of members) under a steady proposal load sent
# through all five agents' API sockets. Every few seconds a random agent is SIGKILLed and
# started again; the choice and the pauses come from one seed, printed so a failing run can
# be replayed. At most one agent is down at a time, so a quorum of the three voters always
# exists, and killing a member exercises the Raft client's path too (its in-flight
# proposals end unknown, never wrongly acknowledged). At the end every acknowledged
# proposal is on every voter at its acknowledged index, the voters' ledger roots agree,
# their swarm state hashes agree, no proposal is committed twice, and each voter's ledger
# checks clean after it stops.
#
# PLATELET_KILL_LOOP_SECONDS (default 60) runs it longer by hand;
# PLATELET_KILL_LOOP_SEED replays a run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

LOOP_SECONDS=${PLATELET_KILL_LOOP_SECONDS:-60}
SEED=${PLATELET_KILL_LOOP_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "kill loop: ${LOOP_SECONDS}s, seed $SEED (replay: PLATELET_KILL_LOOP_SEED=$SEED)"
RANDOM=$SEED

council_configs
NODES=(r1 r2 r3 m1 m2)
VOTERS=(r1 r2 r3)
declare -A PORT PID
for n in "${NODES[@]}"; do PORT[$n]=$(free_port); done
start_node() {
    local name=$1 cfg=voter
    [ "${name:0:1}" = m ] && cfg=member
    spawn "$name" "$PLATELET" agent --config "$TEST_DIR/$cfg.json" --name "$name" \
        --bind "127.0.0.1:${PORT[$name]}" --data-dir "$TEST_DIR/$name" \
        --join "127.0.0.1:${PORT[r1]}" --join "127.0.0.1:${PORT[r2]}"
    PID[$name]=$SPAWNED_PID
}
for n in "${NODES[@]}"; do start_node "$n"; done
for n in "${NODES[@]}"; do wait_for 10 "$n API" test -S "$(sock "$n")"; done
wait_for 20 "one leader agreed by the voters" one_leader "${VOTERS[@]}"
pass "leader $(leader_of r1) among ${VOTERS[*]}; members m1 m2"

# The load runs for the whole loop and a little past it, bounded in count and time.
SOCKS=()
for n in "${NODES[@]}"; do SOCKS+=("$(sock "$n")"); done
python3 "$(dirname "$0")/raft_propose.py" --seconds "$((LOOP_SECONDS + 5))" --workers 6 \
    10000000 kill "${SOCKS[@]}" >"$TEST_DIR/acked.json" &
LOAD_PID=$!
PIDS+=("$LOAD_PID")

kills=0
end=$((SECONDS + LOOP_SECONDS))
while [ $SECONDS -lt $end ]; do
    # A pause of 2 to 5 s between faults: pacing, not a wait for an outcome.
    pause_ms=$((2000 + RANDOM % 3000))
    sleep "$((pause_ms / 1000)).$(printf %03d $((pause_ms % 1000)))"
    victim=${NODES[$((RANDOM % ${#NODES[@]}))]}
    echo "t=${SECONDS}s: SIGKILL $victim (pid ${PID[$victim]})"
    kill -KILL "${PID[$victim]}"
    wait "${PID[$victim]}" 2>/dev/null || true
    cat "$TEST_DIR/$victim.log" >>"$TEST_DIR/$victim-earlier.txt"
    start_node "$victim"
    wait_for 10 "$victim API after restart" test -S "$(sock "$victim")"
    kills=$((kills + 1))
done
wait "$LOAD_PID" || fail "the proposal load failed"
acked=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_DIR/acked.json")
[ "$kills" -ge 3 ] || fail "only $kills kills in ${LOOP_SECONDS}s"
[ "$acked" -ge 100 ] || fail "only $acked proposals acknowledged under the kill loop"
pass "$kills agents SIGKILLed and restarted; $acked proposals acknowledged"

# Proposals after the loop commit: the council is live again.
wait_for 30 "a proposal after the loop" "$PLATELET" propose --api "unix:$(sock m1)" '{"after": "loop"}'
top=$(python3 -c 'import json,sys; print(max(a["index"] for a in json.load(open(sys.argv[1]))))' "$TEST_DIR/acked.json")
wait_for 60 "the voters' ledgers equal" same_ledger "$top" "${VOTERS[@]}"
pass "the voters' ledgers agree: $(field r1 '["ledger"]["size"]') entries, root $(field r1 '["ledger"]["root"]')"

swarm_of() { "$PLATELET" swarm status --api "unix:$(sock "$1")" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ledger"]["size"], d["ledger"]["root"], d["state"]["state_hash"])'; }
same_swarm() {
    local want got
    want=$(swarm_of "$1") || return 1
    for n in "$@"; do
        got=$(swarm_of "$n") || return 1
        [ "$got" = "$want" ] || return 1
    done
}
wait_for 30 "one swarm state hash at one ledger size" same_swarm "${VOTERS[@]}"
pass "the voters' swarm states agree: $(swarm_of r1)"

for n in "${NODES[@]}"; do stop_agent "${PID[$n]}" "$n"; done
acked_in_ledgers "${VOTERS[@]}" -- kill="$TEST_DIR/acked.json"
# A proposal is sent once and resent only after a "no leader" answer (nothing appended):
# none may be committed twice, acknowledged or not.
python3 - "$TEST_DIR/r1.jsonl" <<'PY' || fail "a proposal committed twice"
import collections, json, sys
seen = collections.Counter()
with open(sys.argv[1]) as f:
    next(f)
    for line in f:
        body = json.loads(line).get("body") or {}
        if body.get("tag") == "kill":
            seen[body["n"]] += 1
twice = sorted(n for n, c in seen.items() if c > 1)
sys.exit(f"committed more than once: {twice[:10]}" if twice else 0)
PY
for n in "${VOTERS[@]}"; do
    "$PLATELET" ledger check --data-dir "$TEST_DIR/$n" >/dev/null || fail "$n's ledger does not check"
done
pass "no acknowledged proposal lost; every voter's ledger checks clean (seed $SEED)"
