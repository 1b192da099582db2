#!/usr/bin/env bash
# Five real agents on loopback: they all see five alive; a SIGKILLed one is declared dead
# by every survivor; one that leaves shows as left; a user event reaches every live member.
# Then an encrypted cluster: an agent with the wrong key cannot join, and a full key
# rotation (install, use, remove) keeps every member joined.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/gossip_lib.sh"

start_node n1
for n in n2 n3 n4 n5; do
    start_node $n --join "127.0.0.1:${PORT[n1]}"
done
for n in n1 n2 n3 n4 n5; do
    wait_for 20 "$n sees 5 alive" sees $n alive 5
done
pass "five agents see five alive"

# n1 times its probes' round trips: some taken, all shorter than a probe period (an ack
# later than that ends no probe), and no more acks than probes.
rtt_sane() {
    curl -sf --unix-socket "$TEST_DIR/n1/api.sock" http://agent/v1/gossip/rtt |
        python3 -c 'import json,sys
d = json.load(sys.stdin); r = d["rtt_us"]
sys.exit(0 if d["samples"] >= 3 and len(r) == min(d["samples"], 1024) and all(0 < v < 200000 for v in r) and d["samples"] <= d["probes"] else 1)'
}
wait_for 10 "n1 times its probes" rtt_sane
pass "an agent keeps its probes' round trips"

kill -KILL "${PID[n5]}"
for n in n1 n2 n3 n4; do
    wait_for 30 "$n declares n5 dead" is_status $n n5 dead
done
pass "a SIGKILLed agent is declared dead by every survivor"

"$PLATELET" leave --api "$(api n4)" >/dev/null
rc=0
wait "${PID[n4]}" || rc=$?
[ $rc -eq 0 ] || fail "n4 exited $rc after leave"
for n in n1 n2 n3; do
    wait_for 20 "$n sees n4 left" is_status $n n4 left
done
pass "a member that leaves shows as left"

"$PLATELET" event --api "$(api n2)" deploy "v42" >/dev/null
has_event() {
    "$PLATELET" events --api "$(api "$1")" --json |
        python3 -c 'import json,sys; sys.exit(0 if any(e["name"] == "deploy" and e["payload"] == "v42" for e in json.load(sys.stdin)) else 1)'
}
for n in n1 n2 n3; do
    wait_for 20 "$n receives the event" has_event $n
done
count=$("$PLATELET" events --api "$(api n1)" --json | python3 -c 'import json,sys; print(sum(e["name"] == "deploy" for e in json.load(sys.stdin)))')
[ "$count" = 1 ] || fail "the event was delivered $count times on n1"
pass "a user event reaches every live member once"

state_seen() {
    "$PLATELET" state --api "$(api "$1")" --json |
        python3 -c 'import json,sys; sys.exit(0 if any(r["node"] == "n3" and r["key"] == "health" and r["value"] == {"ok": True} for r in json.load(sys.stdin)) else 1)'
}
"$PLATELET" state --api "$(api n3)" --set 'health={"ok":true}' >/dev/null
for n in n1 n2; do
    wait_for 20 "$n sees n3's state record" state_seen $n
done
pass "a state record reaches every member"

# A delay rule holds n1's traffic back but loses none of it.
"$PLATELET" fault delay --peer '*' --ms 150 --api "$(api n1)" >/dev/null
"$PLATELET" event --api "$(api n2)" delayed "held" >/dev/null
has_delayed() {
    "$PLATELET" events --api "$(api n1)" --json |
        python3 -c 'import json,sys; sys.exit(0 if any(e["name"] == "delayed" for e in json.load(sys.stdin)) else 1)'
}
wait_for 20 "n1 receives an event through its delay rule" has_delayed
delayed=$(gossip_counter "$(api n1)" fault_delayed)
[ "$delayed" -gt 0 ] || fail "the delay rule held nothing back"
sees n1 alive 3 || fail "a 150 ms delay made n1 lose members"
"$PLATELET" fault clear --api "$(api n1)" >/dev/null
pass "a delay rule holds packets back ($delayed so far) and loses none"

# A node that comes back under its name at another address is the same node, alive at the
# new address (a higher incarnation refutes its old death), not a conflict.
old_addr="127.0.0.1:${PORT[n5]}"
start_node n5 --join "127.0.0.1:${PORT[n1]}"
[ "127.0.0.1:${PORT[n5]}" != "$old_addr" ] || fail "n5 got the same port again"
addr_of() {
    "$PLATELET" members --api "$(api "$1")" --json |
        python3 -c 'import json,sys; print({m["name"]: m["addr"] for m in json.load(sys.stdin)}.get(sys.argv[1], ""))' "$2"
}
moved() { is_status "$1" n5 alive && [ "$(addr_of "$1" n5)" = "127.0.0.1:${PORT[n5]}" ]; }
for n in n1 n2 n3; do
    wait_for 20 "$n sees n5 alive at its new address" moved $n
done
pass "a node back under its name at a new address is the same node, alive there"

# --- encryption ---
K1=$(head -c 32 /dev/urandom | base64)
K2=$(head -c 32 /dev/urandom | base64)
BAD=$(head -c 32 /dev/urandom | base64)
expect_fail 2 "--encrypt: not a base64-encoded 32-byte key" "$PLATELET" agent --data-dir "$TEST_DIR/badkey" \
    --bind "127.0.0.1:$(free_port)" --encrypt "tooshort"
start_node e1 --encrypt "$K1"
for n in e2 e3; do
    start_node $n --encrypt "$K1" --join "127.0.0.1:${PORT[e1]}"
done
for n in e1 e2 e3; do
    wait_for 20 "$n sees 3 alive" sees $n alive 3
done
start_node eX --encrypt "$BAD" --join "127.0.0.1:${PORT[e1]}"
start_node eP --join "127.0.0.1:${PORT[e1]}"
# An agent that knows nobody retries its join with a doubling wait (50 ms, 100 ms, ...):
# five retries logged by each means six joins tried and refused over about 1.5 s.
retried() { [ "$(grep -c 'no other member known; joining again' "$TEST_DIR/$1.log")" -ge 5 ]; }
wait_for 20 "the agent with the wrong key retries its join five times" retried eX
wait_for 20 "the agent with no key retries its join five times" retried eP
for n in e1 e2 e3; do
    sees $n alive 3 || fail "$n let an agent with the wrong key or no key join"
done
sees eX alive 1 || fail "the agent with the wrong key sees others"
sees eP alive 1 || fail "the agent with no key sees others"
unauth=$(gossip_counter "$(api e1)" rx_unauthenticated)
[ "$unauth" -gt 0 ] || fail "e1 counted no unauthenticated packets"
pass "agents with a wrong key or no key cannot join an encrypted cluster ($unauth packets refused)"

"$PLATELET" keys install "$K2" --api "$(api e1)" >/dev/null
# The API names keys by fingerprint only: the first 8 bytes of SHA-256(key), in hex.
fp() { python3 -c 'import base64,hashlib,sys; print(hashlib.sha256(base64.b64decode(sys.argv[1])).hexdigest()[:16])' "$1"; }
holders() { "$PLATELET" keys list --api "$(api e2)" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(max([k["members_with_key"] for k in d["keys"] if k["fingerprint"] == sys.argv[1]] or [0]))' "$(fp "$1")"; }
holders_are() { [ "$(holders "$1")" = "$2" ]; }
wait_for 20 "every member holds the new key" holders_are "$K2" 3
"$PLATELET" keys use "$K2" --api "$(api e2)" >/dev/null
primary_on() { "$PLATELET" keys list --api "$(api "$1")" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(k["primary"] and k["fingerprint"] == sys.argv[1] for k in d["keys"]) else 1)' "$(fp "$2")"; }
for n in e1 e2 e3; do
    wait_for 20 "$n uses the new key" primary_on $n "$K2"
done
"$PLATELET" keys remove "$K1" --api "$(api e3)" >/dev/null
gone_on() { "$PLATELET" keys list --api "$(api "$1")" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d["keys"]) == 1 else 1)'; }
for n in e1 e2 e3; do
    wait_for 20 "$n dropped the old key" gone_on $n
done
expect_fail 1 "the primary key cannot be removed" "$PLATELET" keys remove "$K2" --api "$(api e1)"
# With only the new key left anywhere, each member must get ten more probes answered (two
# seconds of probing at least) and still see everyone alive, nobody declared dead.
declare -A OK_BEFORE DEATHS_BEFORE
for n in e1 e2 e3; do
    OK_BEFORE[$n]=$(gossip_counter "$(api $n)" "probes - probe_failures")
    DEATHS_BEFORE[$n]=$(gossip_counter "$(api $n)" deaths_declared)
done
for n in e1 e2 e3; do
    wait_for 20 "$n gets ten probes answered with the new key alone" \
        counter_at_least "$(api $n)" "probes - probe_failures" $((OK_BEFORE[$n] + 10))
done
for n in e1 e2 e3; do
    sees $n alive 3 || fail "$n lost a member after the rotation"
    [ "$(gossip_counter "$(api $n)" deaths_declared)" = "${DEATHS_BEFORE[$n]}" ] ||
        fail "$n declared a member dead after the rotation"
done
pass "a key rotation keeps every member joined"
