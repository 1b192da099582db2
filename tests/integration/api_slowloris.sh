#!/usr/bin/env bash
# A bounded API under a slowloris: 400 connections, each sending one more header byte a
# second, against an agent whose descriptor limit is 256 (so at most 64 TCP connections).
# Throughout, an authenticated client is answered every time, both members keep seeing each
# other alive with no failed probe or suspicion, and the agent never runs short of
# descriptors; the slow connections are evicted at the limit or closed at the header
# timeout (10 s). Bounded: the attack lasts 14 s.
source "$(dirname "$0")/lib.sh"

api_token
cat >"$TEST_DIR/fast.json" <<'JSON'
{"gossip": {"probe_interval_ms": 200, "probe_timeout_ms": 100, "gossip_interval_ms": 50,
            "suspicion_mult": 3}}
JSON
p1=$(free_port)
p2=$(free_port)
api_port=$(free_port)
spawn n1 sh -c 'ulimit -n 256 && exec "$@"' sh "$PLATELET" agent --config "$TEST_DIR/fast.json" \
    --name n1 --bind "127.0.0.1:$p1" --data-dir "$TEST_DIR/n1" --api "127.0.0.1:$api_port" \
    --api-token-file "$API_TOKENS"
n1_pid=$SPAWNED_PID
spawn n2 "$PLATELET" agent --config "$TEST_DIR/fast.json" --name n2 --bind "127.0.0.1:$p2" \
    --data-dir "$TEST_DIR/n2" --join "127.0.0.1:$p1"
api() { echo "unix:$TEST_DIR/$1/api.sock"; }
alive_on() { # OBSERVER MEMBER
    "$PLATELET" members --api "$(api "$1")" --json |
        python3 -c 'import json,sys; sys.exit(0 if any(m["name"] == sys.argv[1] and m["status"] == "alive" for m in json.load(sys.stdin)) else 1)' "$2"
}
wait_for 20 "n2 sees n1 alive" alive_on n2 n1
wait_for 20 "n1 sees n2 alive" alive_on n1 n2
counters() { "$PLATELET" counters --api "$(api "$1")" --json; }
c1=$(counters n1)
c2=$(counters n2)
self=$(curl -sf -H "Authorization: Bearer $API_TOKEN" "http://127.0.0.1:$api_port/v1/agent/self")
[ "$(json_get "$self" 'd["api_connections"]["max"]')" = 64 ] ||
    fail "the connection limit is not a quarter of the descriptor limit: $self"

python3 "$(dirname "$0")/slowloris.py" 127.0.0.1 "$api_port" "$API_TOKEN" 400 14 \
    >"$TEST_DIR/slowloris.json" 2>"$TEST_DIR/slowloris.log" &
attack=$!
PIDS+=("$attack")
polls=0
while kill -0 "$attack" 2>/dev/null; do
    alive_on n2 n1 || fail "n2 lost n1 during the attack"
    alive_on n1 n2 || fail "n1 lost n2 during the attack"
    fds=$(ls "/proc/$n1_pid/fd" | wc -l)
    [ "$fds" -lt 230 ] || fail "n1 holds $fds descriptors of 256"
    polls=$((polls + 1))
    sleep 0.2
done
wait "$attack" || fail "the slowloris script failed: $(cat "$TEST_DIR/slowloris.log")"
r=$(cat "$TEST_DIR/slowloris.json")
echo "slowloris: $r ($polls membership polls)"
[ "$(json_get "$r" 'd["legit_failed"]')" = 0 ] || fail "the API did not answer every request: $r"
[ "$(json_get "$r" 'd["legit_ok"] >= 20')" = True ] || fail "too few answered requests: $r"
[ "$(json_get "$r" 'd["closed_by_server"] >= 300')" = True ] || fail "slow connections were kept: $r"
self=$(curl -sf -H "Authorization: Bearer $API_TOKEN" "http://127.0.0.1:$api_port/v1/agent/self")
conns=$(json_get "$self" 'd["api_connections"]')
[ "$(json_get "$self" 'd["api_connections"]["evicted"] > 0')" = True ] || fail "none evicted: $conns"
[ "$(json_get "$self" 'd["api_connections"]["timed_out"] > 0')" = True ] || fail "none timed out: $conns"
pass "the API answered every request through the attack ($conns)"

for n in n1 n2; do
    before=$([ $n = n1 ] && echo "$c1" || echo "$c2")
    after=$(counters $n)
    for k in probe_failures suspicions_raised deaths_declared; do
        [ "$(json_get "$before" "d[\"$k\"]")" = "$(json_get "$after" "d[\"$k\"]")" ] ||
            fail "$n: $k went from $(json_get "$before" "d[\"$k\"]") to $(json_get "$after" "d[\"$k\"]")"
    done
    [ "$(json_get "$after" 'd["probes"]')" -gt "$(json_get "$before" 'd["probes"]')" ] ||
        fail "$n sent no probes during the attack"
done
grep -qi "too many open files" "$TEST_DIR/n1.log" && fail "n1 ran out of descriptors"
pass "gossip probes unaffected: no failed probe, suspicion or death on either member"
