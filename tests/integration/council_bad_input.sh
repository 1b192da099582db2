#!/usr/bin/env bash
# One request must not stop the council. Three voters and a member m1: malformed proposals
# through the CLI and raw HTTP are refused with a message naming the field and never reach
# Raft; raw bytes proposed over the Raft transport (as a broken or hostile member could,
# past every API check) commit and are recorded on every voter as "raft.rejected" with the
# same reason. Throughout, every voter stays up, later proposals commit, all ledgers have
# the same root, and a voter that was stopped meanwhile comes back and catches up on the
# refused entries itself.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

council_configs

declare -A PORT PID
start_node() { # name config seed [flags...]
    local name=$1 cfg=$2 seed=$3
    shift 3
    spawn "$name" "$PLATELET" agent --config "$TEST_DIR/$cfg.json" --name "$name" \
        --bind "127.0.0.1:${PORT[$name]}" --data-dir "$TEST_DIR/$name" \
        --join "127.0.0.1:${PORT[$seed]}" "$@"
    PID[$name]=$SPAWNED_PID
}
for n in r1 r2 r3 m1; do PORT[$n]=$(free_port); done
API_PORT=$(free_port)
api_token
start_node r1 voter r2 --api "127.0.0.1:$API_PORT" --api-token-file "$API_TOKENS"
start_node r2 voter r1
start_node r3 voter r1
start_node m1 member r1
for n in r1 r2 r3 m1; do wait_for 10 "$n API" test -S "$(sock $n)"; done
wait_for 20 "one leader agreed by the voters" one_leader r1 r2 r3
propose() { "$PLATELET" propose --api "unix:$(sock "$1")" "${@:2}"; }
propose r1 '{"step": "before"}' >/dev/null || fail "a good proposal before the bad ones"
pass "leader $(leader_of r1); a good proposal committed"

# Every voter answers and all agree on a ledger of at least $1 entries.
council_up() {
    local min=$1
    for n in r1 r2 r3; do
        kill -0 "${PID[$n]}" 2>/dev/null || fail "voter $n stopped ($(tail -n 3 "$TEST_DIR/$n.log"))"
    done
    wait_for 20 "the three ledgers equal with >= $min entries" same_ledger "$min" r1 r2 r3
}

# --- the CLI: each refused with exit 2 and a message naming the field ----------------------
long_kind=$(printf 'k%.0s' $(seq 1 65))
for kind in "my note" "a,b" 'q"x' 'x\y' $'tab\there' $'new\nline' "" "$long_kind" \
    "raft.noop" "raft.rejected" "café"; do
    expect_fail 2 "^platelet propose: kind: " propose r1 --kind "$kind" '{"x": 1}'
done
big_body=$(python3 -c 'print("{\"s\": \"" + "x" * 70000 + "\"}")')
expect_fail 1 "^platelet propose: body: larger than 65536 bytes" propose r2 "$big_body"
# Through a member (a Raft client) the same check answers before anything is sent.
expect_fail 2 "^platelet propose: kind: byte 3 \(0x20\)" propose m1 --kind "my note" '{}'
council_up 2
pass "11 bad kinds and a body too big refused by the CLI; the council is up"

# --- raw HTTP on the TCP API ----------------------------------------------------------------
post() { # expected-status pattern body
    local out code
    out=$(curl -sS --noproxy '*' -o "$TEST_DIR/resp" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $API_TOKEN" --data-binary "$3" \
        "http://127.0.0.1:$API_PORT/v1/propose") || fail "curl failed for $3"
    code=$out
    [ "$code" = "$1" ] || fail "expected HTTP $1 for ${3:0:80}, got $code: $(cat "$TEST_DIR/resp")"
    grep -Eq -- "$2" "$TEST_DIR/resp" || fail "expected /$2/ for ${3:0:80}, got $(cat "$TEST_DIR/resp")"
}
post 400 '"kind: byte 3 \(0x20\)' '{"kind": "my note", "body": {}}'
post 400 '"kind: ' '{"kind": "a,b", "body": {"x": 1}}'
post 400 '"kind: ' '{"kind": 123, "body": {}}'
post 400 '"kind: ' '{"kind": null, "body": {}}'
post 400 '"kind: ' '{"kind": "", "body": {}}'
post 400 '"kind: ' '{"kind": "raft.config", "body": {}}'
post 400 '"kind: ' '{"kind": "\u00e9t\u00e9", "body": {}}'
post 400 '"kind: byte 4 \(0x09\)' '{"kind": "tab\tx", "body": {}}'
post 400 '"body: ' '{"kind": "note"}'
post 400 '"body: ' "{\"kind\": \"note\", \"body\": $(python3 -c 'print("[" * 30 + "]" * 30)')}"
post 413 '"body: larger than' "{\"kind\": \"note\", \"body\": \"$(python3 -c 'print("x" * 70000)')\"}"
post 400 'error' 'not json at all'
post 400 'error' '[1, 2, 3]'
council_up 2
pass "13 malformed requests over HTTP refused with 400/413 naming the field; the council is up"

# --- raw bytes through the Raft transport, past the API -------------------------------------
# Stop a follower first: it must later apply the refused entries while catching up.
leader=$(leader_of r1)
for n in r1 r2 r3; do [ "$n" != "$leader" ] && { down=$n; break; }; done
propose "$down" '{"step": "before the stop"}' >/dev/null || fail "a proposal through $down"
stop_agent "${PID[$down]}" "$down"
wait_for 20 "the leader sees $down gone" one_leader $(for n in r1 r2 r3; do [ "$n" != "$down" ] && echo "$n"; done)
leader=$(leader_of r1 2>/dev/null || leader_of r2)
m1_alive_at() { "$PLATELET" members --api "unix:$(sock "$1")" --json | grep -q '"name":"m1"[^}]*"status":"alive"'; }
wait_for 10 "m1 alive in the leader's view" m1_alive_at "$leader"
# (code, hex) pairs; the last is a valid proposal of kind raw.ok written by hand.
raw=$(python3 - <<'PY'
def s(x):
    b = x.encode()
    return bytes([0xa0 | len(b)]) + b
def prop(t, kind, body):
    return b"\x83" + s("t") + t + s("k") + kind + s("b") + body
cases = [
    ("proposal_shape", b""),
    ("proposal_shape", b"\xc1"),
    ("proposal_shape", bytes(range(256)) * 4),
    ("proposal_shape", b"\x93\x01\x02\x03"),
    ("proposal_shape", b"\x84" + s("t") + b"\x01" + s("k") + s("x") + s("b") + b"\x01" + s("z") + b"\x01"),
    ("kind_char", prop(b"\x01", s("my note"), b"\x80")),
    ("kind_char", prop(b"\x01", s("a,b"), b"\x80")),
    ("kind_empty", prop(b"\x01", s(""), b"\x80")),
    ("kind_reserved", prop(b"\x01", s("raft.noop"), b"\x80")),
    ("time_range", prop(b"\xcf" + (2**63).to_bytes(8, "big"), s("note"), b"\x80")),
    ("body_not_json", prop(b"\x01", s("note"), b"\xc4\x02ab")),
    ("body_not_json", prop(b"\x01", s("note"), b"\x81\x01\x02")),
    ("body_not_json", prop(b"\x01", s("note"), b"\xa2\xff\xfe")),
    ("body_noncanonical", prop(b"\x01", s("note"), b"\xcc\x05")),
    ("too_big", prop(b"\x01", s("note"), b"\xc6" + (70000).to_bytes(4, "big") + b"x" * 70000)),
    ("ok", prop(b"\x02", s("raw.ok"), b"\x81" + s("x") + b"\x01")),
]
for code, data in cases:
    print(code, data.hex() or "-")
PY
)
codes=($(echo "$raw" | cut -d' ' -f1))
echo "$raw" | cut -d' ' -f2 >"$TEST_DIR/raw.hex"
raft_port=$((PORT[$leader] + 1))
python3 "$(dirname "$0")/raft_raw_propose.py" "127.0.0.1:$raft_port" "$leader" m1 "$TEST_DIR/raw.hex" \
    >"$TEST_DIR/raw.json"
python3 - "$TEST_DIR/raw.json" "${#codes[@]}" <<'PY' || fail "raw proposals not all committed: $(cat "$TEST_DIR/raw.json")"
import json, sys
answers = json.load(open(sys.argv[1]))
assert len(answers) == int(sys.argv[2]), answers
assert all(a["err"] == 0 and a["index"] > 0 for a in answers), answers
PY
pass "${#codes[@]} raw proposals committed through the Raft transport"
up=()
for n in r1 r2 r3; do [ "$n" != "$down" ] && up+=("$n"); done
for n in "${up[@]}"; do
    kill -0 "${PID[$n]}" 2>/dev/null || fail "voter $n stopped ($(tail -n 3 "$TEST_DIR/$n.log"))"
done
propose "${up[0]}" '{"step": "after raw"}' >/dev/null || fail "a good proposal after the raw ones"
pass "the two voters up still commit"

# --- the stopped voter comes back and applies the same records -----------------------------
start_node "$down" voter "${up[0]}"
wait_for 10 "$down API after restart" test -S "$(sock "$down")"
# config, no-op, "before", "before the stop", the raw ones, "after raw"
before=$((2 + 2 + ${#codes[@]} + 1))
council_up "$before"
# Its proposal ids start afresh: the leader must not take them for repeats of the ids it
# placed for this voter's previous life (it answered with an old entry's index once).
out=$(propose "$down" '{"step": "after restart"}') || fail "a proposal through the restarted voter"
[[ "$out" =~ "committed at index "([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt "$before" ] ||
    fail "the restarted voter's proposal was answered with an old index: $out"
council_up $((before + 1))
pass "$down caught up; every ledger has the same root"

# Each ledger holds one raft.rejected record per refused raw entry, with its code, in
# order; the valid raw one as raw.ok; and no entry of a kind the API refused.
for n in r1 r2 r3; do
    "$PLATELET" audit export --data-dir "$TEST_DIR/$n" -o "$TEST_DIR/$n.jsonl" >/dev/null 2>&1 ||
        fail "audit export of $n (a refused record must be exportable)"
done
python3 - "$TEST_DIR" "${codes[*]}" <<'PY' || fail "the ledgers do not record the refused entries as expected"
import json, sys
d, want = sys.argv[1], sys.argv[2].split()
seen = {}
for n in ("r1", "r2", "r3"):
    lines = open(f"{d}/{n}.jsonl").read().splitlines()[1:]
    entries = [json.loads(l) for l in lines]
    got = [e["body"]["code"] if e["kind"] == "raft.rejected" else "ok"
           for e in entries if e["kind"] in ("raft.rejected", "raw.ok")]
    assert got == want, f"{n}: {got} != {want}"
    for e in entries:
        # member_event: the healer commits gossip's view of the members (swarm state).
        assert e["kind"] in ("note", "raw.ok", "raft.rejected", "raft.noop", "raft.config",
                             "member_event"), e["kind"]
        if e["kind"] == "raft.rejected":
            b = e["body"]
            assert len(b["sha256"]) == 64 and b["field"], b
            assert ("data" in b) == (b["bytes"] <= 512), b
    seen[n] = [(e["index"], e["kind"], json.dumps(e["body"], sort_keys=True)) for e in entries]
assert seen["r1"] == seen["r2"] == seen["r3"]
print(f"every ledger records the {len(want) - 1} refused entries alike")
PY
for n in r1 r2 r3; do
    grep -q "recorded as raft.rejected" "$TEST_DIR/$n.log" || fail "$n did not log the refused entries"
done
for n in r1 r2 r3 m1; do stop_agent "${PID[$n]}" "$n"; done
pass "refused entries recorded alike on every voter; all agents stopped cleanly"
