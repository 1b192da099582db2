#!/usr/bin/env bash
# Swarm state snapshots against the live nodes, after a run with real faults: three voters
# take a state snapshot every 16 entries while notes are proposed, a sample service on r1
# crashes and is healed, r3 is SIGKILLed and restarted (it starts from its newest snapshot)
# and r2 is SIGSTOPped for a while. Then, on every node's data directory:
#  - every stored snapshot is usable and its state hash is the hash a full replay (no
#    snapshots) reaches at its index;
#  - the (ledger size, state hash) pairs the live nodes reported during the run are the full
#    replay's at those sizes;
#  - a replay at random indexes starts from the nearest snapshot at or before the index and
#    reaches the full replay's hash there;
#  - the post-mortem of the healed incident is the same from a snapshot as from index 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

EVERY=16
declare -A PORT PID
SVC=$(free_port)
for n in r1 r2 r3; do
    services=""
    [ "$n" = r1 ] && services=", \"services\": [$(web_service "$SVC")]"
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local",
 "raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 500, "heartbeat_ms": 50,
          "state_snapshot_every": $EVERY}$services}
JSON
done
start_voters r1 r2 r3

# sample NODE: appends NODE's live "size hash" to $TEST_DIR/live.txt.
sample() {
    swarm "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ledger"]["size"], d["state"]["state_hash"])' \
        >>"$TEST_DIR/live.txt" || fail "swarm status of $1"
}
healed() { "$PLATELET" incidents --api "unix:$(sock r1)" --json |
    python3 -c 'import json,sys; sys.exit(0 if any(i["outcome"] == "healed" for i in json.load(sys.stdin)["incidents"]) else 1)'; }
notes() { # COUNT TAG NODE...
    local count=$1 tag=$2
    shift 2
    local socks=()
    for n in "$@"; do socks+=("$(sock "$n")"); done
    python3 "$(dirname "$0")/raft_propose.py" --seconds 20 "$count" "$tag" "${socks[@]}" >/dev/null ||
        fail "proposing $tag"
}

notes 60 a r1 r2 r3
sample r2
wait_for 20 "r1's service healthy" healthy r1
curl -s --max-time 2 "http://127.0.0.1:$SVC/fault/crash" >/dev/null || true
wait_for 20 "r1 healed the crash" healed
notes 40 b r1 r2
sample r1

kill -KILL "${PID[r3]}"
wait "${PID[r3]}" 2>/dev/null || true
wait_for 20 "a leader among r1 r2" one_leader r1 r2
notes 50 c r1 r2
sample r2
start_node r3
wait_for 10 "r3 API after restart" test -S "$(sock r3)"
wait_for 20 "r3 starting from its snapshot" grep -q "state from its snapshot" "$TEST_DIR/r3.log"

kill -STOP "${PID[r2]}"
notes 40 d r1 r3
sample r3
kill -CONT "${PID[r2]}"
wait_for 30 "one state hash at one size" same_state r1 r2 r3
for n in r1 r2 r3; do sample "$n"; done
pass "a run with a crash healed, a voter SIGKILLed and restarted, a voter stopped"

ID=$("$PLATELET" incidents --api "unix:$(sock r1)" --json |
    python3 -c 'import json,sys; print([i["id"] for i in json.load(sys.stdin)["incidents"] if i["outcome"] == "healed"][0])')
for n in r1 r2 r3; do
    D="$TEST_DIR/$n"
    "$PLATELET" replay --data-dir "$D" --step --json --no-snapshots >"$TEST_DIR/$n.steps" ||
        fail "full replay of $n"
    "$PLATELET" replay snapshots --data-dir "$D" --json >"$TEST_DIR/$n.snaps" ||
        fail "snapshots of $n"
    python3 - "$TEST_DIR/$n.steps" "$TEST_DIR/$n.snaps" "$TEST_DIR/live.txt" "$EVERY" \
        >"$TEST_DIR/$n.at" <<'PY' || fail "$n: snapshots or live hashes differ from the full replay"
import json, random, sys
steps = [json.loads(l) for l in open(sys.argv[1])]
hash_at = {s["index"]: s["state_hash"] for s in steps}
snaps = json.load(open(sys.argv[2]))["snapshots"]
every = int(sys.argv[4])
size = len(steps)
bad = [s for s in snaps if not s["usable"]]
assert not bad, bad
# The live ledger may be past this copy's replay: only indexes it holds are compared. A
# snapshot is taken after a batch of entries, at least `every` after the one before.
held = [s for s in snaps if s["index"] <= size]
assert len(held) >= 5, (len(held), size)
gaps = [b["index"] - a["index"] for a, b in zip(held, held[1:])]
assert all(g >= every for g in gaps), gaps
for s in held:
    assert hash_at[s["index"]] == s["state_hash"], ("snapshot", s["index"])
live = [l.split() for l in open(sys.argv[3])]
checked = 0
for sz, h in live:
    if int(sz) in hash_at:
        assert hash_at[int(sz)] == h, ("live", sz)
        checked += 1
assert checked >= 3, live
# Random indexes for the replays from snapshots: "K expected_hash expected_snapshot".
rnd = random.Random(size)
for k in sorted(rnd.sample(range(1, size + 1), 6)):
    snap = max([s["index"] for s in held if s["index"] <= k], default=0)
    print(k, hash_at[k], snap)
print(f"{len(held)} snapshots and {checked} live hashes agree with the full replay", file=sys.stderr)
PY
    while read -r k want snap; do
        "$PLATELET" replay --data-dir "$D" --at-index "$k" --json >"$TEST_DIR/out" ||
            fail "$n: replay at $k"
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if (d["state_hash"], d["from_snapshot"], d["applied_index"]) == (sys.argv[2], int(sys.argv[3]), int(sys.argv[4])) else 1)' \
            "$TEST_DIR/out" "$want" "$snap" "$k" ||
            fail "$n: replay at $k from snapshot $snap: $(head -c 300 "$TEST_DIR/out")"
    done <"$TEST_DIR/$n.at"
done
pass "every snapshot and every live hash equal the full replay's; replays from snapshots agree"

D="$TEST_DIR/r2"
"$PLATELET" postmortem "$ID" --data-dir "$D" --json >"$TEST_DIR/pm.snap" || fail "postmortem"
"$PLATELET" postmortem "$ID" --data-dir "$D" --json --no-snapshots >"$TEST_DIR/pm.full" ||
    fail "postmortem --no-snapshots"
cmp -s "$TEST_DIR/pm.snap" "$TEST_DIR/pm.full" || fail "the post-mortem from a snapshot differs"
pass "the post-mortem of $ID is the same from a snapshot as from the first entry"
