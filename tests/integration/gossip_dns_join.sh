#!/usr/bin/env bash
# Join by DNS: `--join dns:NAME[:PORT]` and `retry_join` in config look NAME up through
# libuv's resolver (uv_getaddrinfo) at every attempt. The name is `localhost`, which
# /etc/hosts answers (127.0.0.1 and ::1): no query leaves the machine. An agent bound to
# IPv4 joins the IPv4 address only; an agent whose seed is not up yet looks the name up
# again at each retry and joins once the seed appears. Bad entries are refused by name.
source "$(dirname "$0")/lib.sh"

expect_fail 2 "join: expected dns:NAME\[:PORT\] with a host name, got \"dns:\"" \
    "$PLATELET" agent --data-dir "$TEST_DIR/x" --join dns:
expect_fail 2 "join: expected dns:NAME\[:PORT\] with a host name, got \"dns:localhost:99999\"" \
    "$PLATELET" agent --data-dir "$TEST_DIR/x" --join dns:localhost:99999
expect_fail 2 "join: expected dns:NAME\[:PORT\] with a host name, got \"dns:a b\"" \
    "$PLATELET" agent --data-dir "$TEST_DIR/x" --join "dns:a b"
expect_fail 2 "join: \"localhost:7946\" is not IP:PORT \(to look the name up, write dns:localhost:7946\)" \
    "$PLATELET" agent --data-dir "$TEST_DIR/x" --join localhost:7946
echo '{"retry_join": "dns:localhost"}' >"$TEST_DIR/bad-retry.json"
expect_fail 2 "bad-retry.json: retry_join: expected an array" \
    "$PLATELET" agent --data-dir "$TEST_DIR/x" --config "$TEST_DIR/bad-retry.json"
echo '{"retry_join": ["dns:local_host..x"]}' >"$TEST_DIR/bad-name.json"
expect_fail 2 "bad-name.json: join: expected dns:NAME\[:PORT\] with a host name, got \"dns:local_host..x\"" \
    "$PLATELET" agent --data-dir "$TEST_DIR/x" --config "$TEST_DIR/bad-name.json"
[ ! -e "$TEST_DIR/x" ] || fail "a refused start created its data dir"
pass "malformed join entries are refused, naming the entry"

declare -A PORT PID
for n in n1 n2 n3 n4; do PORT[$n]=$(free_port); done
start_node() { # node [extra flags...]
    local name=$1
    shift
    spawn "$name" "$PLATELET" agent --name "$name" --bind "127.0.0.1:${PORT[$name]}" \
        --data-dir "$TEST_DIR/$name" "$@"
    PID[$name]=$SPAWNED_PID
    wait_for 10 "$name API" test -S "$TEST_DIR/$name/api.sock"
}
alive_seen_by() {
    "$PLATELET" members --api "unix:$TEST_DIR/$1/api.sock" --json |
        python3 -c 'import json,sys; print(sorted(m["name"] for m in json.load(sys.stdin) if m["status"] == "alive"))'
}
sees() { [ "$(alive_seen_by "$1")" = "$2" ]; }

start_node n1
start_node n2 --join "dns:localhost:${PORT[n1]}"
wait_for 20 "n2 sees n1 and n2" sees n2 "['n1', 'n2']"
wait_for 20 "n1 sees n1 and n2" sees n1 "['n1', 'n2']"
grep -q "joining through dns:localhost:${PORT[n1]} addresses=1 first=127.0.0.1:${PORT[n1]}" \
    "$TEST_DIR/n2.log" || fail "n2 did not say it joined 127.0.0.1 (and only it) through localhost"
pass "--join dns:localhost:PORT joins the member at 127.0.0.1"

# n3's seed (n4) is not up: every retry looks the name up again, and finds n4 once it is.
echo "{\"retry_join\": [\"dns:localhost:${PORT[n4]}\"]}" >"$TEST_DIR/n3.json"
start_node n3 --config "$TEST_DIR/n3.json"
retried() { [ "$(grep -c "no other member known; joining again through 0 address(es) and 1 name(s)" "$TEST_DIR/n3.log")" -ge 2 ]; }
wait_for 20 "n3 retrying its dns: join" retried
sees n3 "['n3']" || fail "n3 joined something before its seed was up: $(alive_seen_by n3)"
start_node n4
wait_for 30 "n3 sees n3 and n4" sees n3 "['n3', 'n4']"
wait_for 20 "n4 sees n3 and n4" sees n4 "['n3', 'n4']"
pass "retry_join looks the name up again at each retry and joins once the seed is up"

for n in n1 n2 n3 n4; do stop_agent "${PID[$n]}" "$n"; done
pass "all four stop cleanly"
