#!/usr/bin/env bash
# Clock jumps: three voters under a steady proposal load through all three API sockets.
# The leader's clock jumps 30 s forwards and then 30 s back (`platelet fault clock`), then a
# follower's does the same; the wall clock takes both steps, the monotonic one only the
# forward one (pl_clock.h). At the end nothing committed has changed order: every
# acknowledged proposal is on every voter at the index it was acknowledged with, none is
# committed twice, the ledger roots agree and every ledger checks clean; gossip declared
# nobody dead and every agent sees the other two alive. The proposals' own times show that
# the jumps were taken (some 30 s ahead, some 30 s behind).
#
# What breaks it: a timeout measured on the wall clock (a jump back would stretch it), a
# core that assumes entry times only grow, a suspicion that expires because the clock
# jumped, or a leader that keeps leading on a stale lease after its clock jumped.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

council_configs
NODES=(r1 r2 r3)
declare -A PORT PID
start_voters "${NODES[@]}" -- --enable-faults
leader=$(leader_of r1)
follower=r1
[ "$leader" != r1 ] || follower=r2
pass "leader $leader; the follower to jump: $follower"

expect_fail 2 "not a whole number" "$PLATELET" fault clock --offset-ms 3.5 --api "unix:$(sock r1)"
expect_fail 2 "within a year" "$PLATELET" fault clock --offset-ms 99999999999999 \
    --api "unix:$(sock r1)"

SOCKS=()
for n in "${NODES[@]}"; do SOCKS+=("$(sock "$n")"); done
python3 "$(dirname "$0")/raft_propose.py" --seconds 20 --workers 4 10000000 clock "${SOCKS[@]}" \
    >"$TEST_DIR/acked.json" &
LOAD_PID=$!
PIDS+=("$LOAD_PID")

offset_of() {
    "$PLATELET" fault list --api "unix:$(sock "$1")" --json |
        python3 -c 'import json,sys; print(int(json.load(sys.stdin)["clock_offset_ms"]))'
}
jump() { # NODE OFFSET_MS: the node's clock jumps; its fault list shows the offset
    "$PLATELET" fault clock --offset-ms "$2" --api "unix:$(sock "$1")" >/dev/null ||
        fail "cannot set $1's clock offset to $2"
    [ "$(offset_of "$1")" = "$2" ] || fail "$1's fault list does not show offset $2"
    echo "t=${SECONDS}s: $1's clock offset ${2} ms"
    # Its failure detector goes on: a probe timer measured on the wall clock would wait
    # out the step back.
    local probes
    probes=$(gossip_counter "unix:$(sock "$1")" probes)
    wait_for 5 "$1 probing after its clock jumped" \
        counter_at_least "unix:$(sock "$1")" probes "$((probes + 3))"
}
# Proposals commit before the first jump (a pause for pacing, not a wait for an outcome),
# and between the jumps while each waits for the node's probes.
sleep 2
jump "$leader" 30000
jump "$leader" -30000
jump "$follower" 30000
jump "$follower" -30000
"$PLATELET" fault clear --api "unix:$(sock "$leader")" >/dev/null
"$PLATELET" fault clear --api "unix:$(sock "$follower")" >/dev/null
[ "$(offset_of "$leader")" = 0 ] || fail "fault clear left $leader's clock offset"

wait "$LOAD_PID" || fail "the proposal load failed"
acked=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_DIR/acked.json")
[ "$acked" -ge 50 ] || fail "only $acked proposals acknowledged across the clock jumps"
pass "$acked proposals acknowledged across the jumps"

wait_for 20 "a proposal after the jumps" "$PLATELET" propose --api "unix:$(sock r1)" '{"after": "jumps"}'
top=$(python3 -c 'import json,sys; print(max(a["index"] for a in json.load(open(sys.argv[1]))))' "$TEST_DIR/acked.json")
wait_for 20 "the voters' ledgers equal" same_ledger "$top" "${NODES[@]}"
pass "the voters' ledgers agree: $(field r1 '["ledger"]["size"]') entries"

# Gossip declared nobody dead, and everyone sees the other two alive.
for n in "${NODES[@]}"; do
    deaths=$(gossip_counter "unix:$(sock "$n")" deaths_declared)
    [ "$deaths" = 0 ] || fail "$n's gossip declared $deaths death(s) after clock jumps"
    alive=$("$PLATELET" members --api "unix:$(sock "$n")" --json |
        python3 -c 'import json,sys; print(sum(m["status"] == "alive" for m in json.load(sys.stdin)))')
    [ "$alive" = 3 ] || fail "$n sees $alive members alive, not 3"
done
pass "no death declared; every agent sees three alive"

for n in "${NODES[@]}"; do stop_agent "${PID[$n]}" "$n"; done
acked_in_ledgers "${NODES[@]}" -- clock="$TEST_DIR/acked.json"
python3 - "$TEST_DIR/r1.jsonl" <<'PY' || fail "the ledger's entries"
import collections, datetime, json, sys
seen, times = collections.Counter(), []
with open(sys.argv[1]) as f:
    next(f)
    for line in f:
        e = json.loads(line)
        body = e.get("body") or {}
        if body.get("tag") == "clock":
            seen[body["n"]] += 1
            t = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
            times.append(int(t.timestamp() * 1000))
twice = sorted(n for n, c in seen.items() if c > 1)
if twice:
    sys.exit(f"committed more than once: {twice[:10]}")
# Each jump shows as a step of about 30 s between consecutive entries' times.
steps = [b - a for a, b in zip(times, times[1:])]
if max(steps) < 25000 or min(steps) > -25000:
    sys.exit(f"the entries' times show no 30 s jump either way (steps {min(steps)}..{max(steps)} ms)")
PY
for n in "${NODES[@]}"; do
    "$PLATELET" ledger check --data-dir "$TEST_DIR/$n" >/dev/null || fail "$n's ledger does not check"
done
pass "every acknowledged proposal committed once at its index; ledgers check clean"
