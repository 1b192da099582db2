#!/usr/bin/env bash
# The agent's lifecycle and the CLI's error handling, with real processes: bad flags and
# bad config files are refused with a line naming what is wrong (exit 2); a data dir in use
# is refused; the API answers on the Unix socket and on TCP (with a token); fault rules
# round-trip (--enable-faults); SIGTERM stops the agent cleanly.
source "$(dirname "$0")/lib.sh"

expect_fail 2 "unknown command 'nope'" "$PLATELET" nope
expect_fail 2 "unknown flag '--bogus'" "$PLATELET" agent --bogus
expect_fail 2 "data_dir is required" "$PLATELET" agent --name x
expect_fail 2 "profile: expected lan, local or wan" "$PLATELET" agent --data-dir "$TEST_DIR/x" --profile fast
expect_fail 2 "--bind: expected IP:PORT" "$PLATELET" agent --data-dir "$TEST_DIR/x" --bind nowhere
echo '{"name": "a", "bind": 7}' >"$TEST_DIR/bad-type.json"
expect_fail 2 "bad-type.json: bind: expected a string" "$PLATELET" agent --config "$TEST_DIR/bad-type.json"
printf '{"name": "a",\n "bind": }\n' >"$TEST_DIR/bad-json.json"
expect_fail 2 "bad-json.json:2:[0-9]+: not valid JSON" "$PLATELET" agent --config "$TEST_DIR/bad-json.json"
echo '{"nmae": "a"}' >"$TEST_DIR/typo.json"
expect_fail 2 "typo.json: nmae: unknown setting" "$PLATELET" agent --config "$TEST_DIR/typo.json"
expect_fail 2 "missing.json: cannot open" "$PLATELET" agent --config "$TEST_DIR/missing.json"
[ ! -e "$TEST_DIR/x" ] || fail "a refused start created its data dir"
pass "bad flags and config refused"

# Everything is checked before the data dir, its key or its socket exist; one line, exit 2.
x=(--data-dir "$TEST_DIR/x" --bind "127.0.0.1:$(free_port)")
expect_fail 2 "--api: expected IP:PORT \(an IP address, not a host name" "$PLATELET" agent "${x[@]}" --api localhost:8500
expect_fail 2 "--bind: expected IP:PORT" "$PLATELET" agent --data-dir "$TEST_DIR/x" --bind localhost:7946
expect_fail 2 "--bind: .*port from 1 to 65535\), got '127.0.0.1:0'" "$PLATELET" agent --data-dir "$TEST_DIR/x" --bind 127.0.0.1:0
expect_fail 2 "join: expected IP:PORT or dns:NAME\\[:PORT\\] with a port from 1 to 65535, got \"127.0.0.1:0\"" \
    "$PLATELET" agent "${x[@]}" --join 127.0.0.1:0
expect_fail 2 "--api: a TCP API needs a token file: make one with 'platelet token create" \
    "$PLATELET" agent "${x[@]}" --api "127.0.0.1:$(free_port)"
long="$TEST_DIR/$(printf 'd%.0s' $(seq 1 100))"
expect_fail 2 "--data-dir: '.*' is too long for its API socket" "$PLATELET" agent --data-dir "$long" \
    --bind "127.0.0.1:$(free_port)"
[ ! -e "$long" ] || fail "a data dir too long for its socket was created"
echo '{"name": "a", "name": "b"}' >"$TEST_DIR/dup.json"
expect_fail 2 "dup.json: name: given twice" "$PLATELET" agent "${x[@]}" --config "$TEST_DIR/dup.json"
echo '{"services": [{"name": "w", "command": "true", "checks": [{"type": "tcp", "address": "127.0.0.1:1", "type": "exec"}]}]}' >"$TEST_DIR/dup2.json"
expect_fail 2 "dup2.json: services\[0\].checks\[0\].type: given twice" "$PLATELET" agent "${x[@]}" --config "$TEST_DIR/dup2.json"
echo '{"services": [{"name": "w", "command": "  "}]}' >"$TEST_DIR/blank.json"
expect_fail 2 "blank.json: services\[0\].command: blank" "$PLATELET" agent "${x[@]}" --config "$TEST_DIR/blank.json"
echo '{"encrypt": "tooshort"}' >"$TEST_DIR/enc.json"
expect_fail 2 "enc.json: encrypt: not a base64-encoded 32-byte key" "$PLATELET" agent "${x[@]}" --config "$TEST_DIR/enc.json"
echo '{"raft": {"voter": true, "bind": "localhost:7947"}}' >"$TEST_DIR/raft.json"
expect_fail 2 "raft.json: raft.bind: expected IP:PORT" "$PLATELET" agent "${x[@]}" --config "$TEST_DIR/raft.json"
"$PLATELET" token create --scope operate --tokens "$TEST_DIR/loose.tokens" >/dev/null
chmod 644 "$TEST_DIR/loose.tokens"
expect_fail 2 "loose.tokens: readable or writable by group or others \(mode 644\); chmod 600 it" \
    "$PLATELET" agent "${x[@]}" --api "127.0.0.1:$(free_port)" --api-token-file "$TEST_DIR/loose.tokens"
printf 'operate short\n' >"$TEST_DIR/short.tokens"
chmod 600 "$TEST_DIR/short.tokens"
expect_fail 2 "short.tokens:1: the token is shorter than 32" \
    "$PLATELET" agent "${x[@]}" --api "127.0.0.1:$(free_port)" --api-token-file "$TEST_DIR/short.tokens"
printf 'admin %s\n' "$(printf 'a%.0s' $(seq 1 40))" >"$TEST_DIR/scope.tokens"
chmod 600 "$TEST_DIR/scope.tokens"
expect_fail 2 "scope.tokens:1: unknown scope 'admin'" \
    "$PLATELET" agent "${x[@]}" --api "127.0.0.1:$(free_port)" --api-token-file "$TEST_DIR/scope.tokens"
lines=$("$PLATELET" agent "${x[@]}" --config "$TEST_DIR/raft.json" 2>&1 | wc -l) || true
[ "$lines" = 1 ] || fail "a config error printed $lines lines, not one"
[ ! -e "$TEST_DIR/x" ] || fail "a refused start created its data dir"
pass "bad addresses, paths, config and token files refused before anything is created"

port=$(free_port)
api_port=$(free_port)
api_token
spawn n1 "$PLATELET" agent --name n1 --bind "127.0.0.1:$port" --data-dir "$TEST_DIR/n1" \
    --api "127.0.0.1:$api_port" --api-token-file "$API_TOKENS" --enable-faults
agent=$SPAWNED_PID
wait_for 10 "agent API socket" test -S "$TEST_DIR/n1/api.sock"
wait_for 10 "agent TCP API" curl -sf -H "Authorization: Bearer $API_TOKEN" \
    "http://127.0.0.1:$api_port/v1/agent/self"
self=$(curl -sf --unix-socket "$TEST_DIR/n1/api.sock" http://agent/v1/agent/self)
[ "$(json_get "$self" 'd["name"]')" = n1 ] || fail "self over the Unix socket: $self"
pass "API on the Unix socket and TCP"

expect_fail 1 "in use by another agent" "$PLATELET" agent --name n2 --data-dir "$TEST_DIR/n1" \
    --bind "127.0.0.1:$(free_port)"
pass "a second agent on the same data dir is refused"

export PLATELET_API="127.0.0.1:$api_port"
"$PLATELET" fault drop --peer n2 --rate 0.5 >/dev/null
"$PLATELET" fault partition --peer n3 --direction in >/dev/null
rules=$("$PLATELET" fault list --json)
[ "$(json_get "$rules" 'len(d["rules"])')" = 2 ] || fail "fault rules: $rules"
[ "$(json_get "$rules" '[r["peer"] for r in d["rules"] if r["partitioned"]][0]')" = n3 ] || fail "partition rule: $rules"
expect_fail 2 "--rate between 0 and 1" "$PLATELET" fault drop --peer n2 --rate 7
expect_fail 2 "unknown action 'explode'" "$PLATELET" fault explode
"$PLATELET" fault clear --peer n2 >/dev/null
rules=$("$PLATELET" fault list --json)
[ "$(json_get "$rules" 'len(d["rules"])')" = 1 ] || fail "clear one peer: $rules"
"$PLATELET" fault clear >/dev/null
[ "$(json_get "$("$PLATELET" fault list --json)" 'len(d["rules"])')" = 0 ] || fail "clear all"
pass "fault rules set, listed and cleared through the CLI"

expect_fail 1 "cannot reach the agent" "$PLATELET" fault list --api "127.0.0.1:$(free_port)"
expect_fail 2 "no agent address" env -u PLATELET_API "$PLATELET" fault list
pass "CLI errors for an unreachable or missing agent address"

stop_agent "$agent" agent
[ ! -e "$TEST_DIR/n1/api.sock" ] || fail "api.sock left behind after a clean stop"
pass "SIGTERM stops the agent cleanly"
