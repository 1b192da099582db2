#!/usr/bin/env bash
# Three real voters on loopback: a leader within a few election timeouts; 1,000 proposals;
# the leader SIGKILLed; a new leader; proposals continue; the old leader restarts and
# catches up; every node's ledger has the same size and root, and every acknowledged
# proposal is in every node's ledger at the index it was acknowledged with.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

cat >"$TEST_DIR/raft.json" <<'JSON'
{"profile": "local",
 "raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 500, "heartbeat_ms": 50}}
JSON

declare -A PORT PID
start_node() { # name [extra flags]
    local name=$1
    shift
    spawn "$name" "$PLATELET" agent --config "$TEST_DIR/raft.json" --name "$name" \
        --bind "127.0.0.1:${PORT[$name]}" --data-dir "$TEST_DIR/$name" "$@"
    PID[$name]=$SPAWNED_PID
}
sock() { echo "$TEST_DIR/$1/api.sock"; }
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

for n in r1 r2 r3; do PORT[$n]=$(free_port); done
# Start them in reverse order: joins are retried until the first member is up.
start_node r3 --join "127.0.0.1:${PORT[r1]}"
start_node r2 --join "127.0.0.1:${PORT[r1]}"
start_node r1
for n in r1 r2 r3; do wait_for 10 "$n API" test -S "$(sock $n)"; done
wait_for 20 "one leader agreed by all" one_leader r1 r2 r3
leader=$(leader_of r1)
pass "leader $leader elected"

python3 "$HERE/raft_propose.py" 1000 first "$(sock r1)" "$(sock r2)" "$(sock r3)" >"$TEST_DIR/acked1.json"
n1=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_DIR/acked1.json")
[ "$n1" -ge 990 ] || fail "only $n1 of 1000 proposals acknowledged with a stable leader"
pass "$n1 of 1000 proposals acknowledged"

kill -KILL "${PID[$leader]}"
wait "${PID[$leader]}" 2>/dev/null || true
survivors=()
for n in r1 r2 r3; do [ "$n" = "$leader" ] || survivors+=("$n"); done
wait_for 20 "a new leader among ${survivors[*]}" one_leader "${survivors[@]}"
new_leader=$(leader_of "${survivors[0]}")
[ "$new_leader" != "$leader" ] || fail "the killed leader is still named leader"
pass "new leader $new_leader after SIGKILL of $leader"

python3 "$HERE/raft_propose.py" 200 second "$(sock "${survivors[0]}")" "$(sock "${survivors[1]}")" >"$TEST_DIR/acked2.json"
n2=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_DIR/acked2.json")
[ "$n2" -ge 190 ] || fail "only $n2 of 200 proposals acknowledged after failover"
pass "$n2 of 200 proposals acknowledged after failover"

start_node "$leader"
wait_for 10 "$leader API after restart" test -S "$(sock "$leader")"
min=$((n1 + n2))
wait_for 30 "all three ledgers equal" same_ledger "$min" r1 r2 r3
pass "the old leader caught up: ledgers equal ($(field r1 '["ledger"]["size"]') entries)"

# Every acknowledged proposal is in every node's ledger, at its acknowledged index.
for n in r1 r2 r3; do
    "$PLATELET" audit export --data-dir "$TEST_DIR/$n" -o "$TEST_DIR/$n.jsonl" >/dev/null
done
python3 - "$TEST_DIR" <<'PY'
import json, sys
d = sys.argv[1]
acked = [("first", a) for a in json.load(open(f"{d}/acked1.json"))] + \
        [("second", a) for a in json.load(open(f"{d}/acked2.json"))]
for node in ("r1", "r2", "r3"):
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
print("every acknowledged proposal is in every ledger")
PY
pass "no acknowledged proposal is missing on any node"
