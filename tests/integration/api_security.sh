#!/usr/bin/env bash
# Who may use the agent's API, with a real agent and curl: on TCP every route needs a token
# (401 without one or with a wrong one), every mutating route an operate token (403 with a
# read token); a foreign Host or Origin is refused (403) even with a good token; the Unix
# socket needs none; GET /v1/keys names keys by fingerprint and holds no key bytes; the
# fault API answers 403 unless the agent was started with --enable-faults.
source "$(dirname "$0")/lib.sh"

api_token
"$PLATELET" token create --scope read --tokens "$API_TOKENS" --out "$TEST_DIR/read.token"
READ=$(cat "$TEST_DIR/read.token")
WRONG=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
KEY=$(head -c 32 /dev/urandom | base64)
port=$(free_port)
api_port=$(free_port)
spawn n1 "$PLATELET" agent --name n1 --bind "127.0.0.1:$port" --data-dir "$TEST_DIR/n1" \
    --api "127.0.0.1:$api_port" --api-token-file "$API_TOKENS" --encrypt "$KEY"
URL="http://127.0.0.1:$api_port"
wait_for 10 "the TCP API" curl -sf -H "Authorization: Bearer $API_TOKEN" "$URL/v1/agent/self"

# status METHOD PATH [curl args...]: the HTTP status of one request (body {} unless given).
status() {
    local method=$1 path=$2 body=()
    shift 2
    [[ " $* " == *" --data-binary "* ]] || body=(--data-binary '{}')
    curl -s -o "$TEST_DIR/body" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
        "${body[@]}" "$@" "$URL$path"
}
expect() { # WANT METHOD PATH [curl args...]
    local want=$1 got
    shift
    got=$(status "$@")
    [ "$got" = "$want" ] || fail "$1 $2 ${*:3}: expected HTTP $want, got $got: $(cat "$TEST_DIR/body")"
}

# Every mutating route. The read token must not get through, so none of them runs: the
# agent is still up at the end (shutdown and leave are on the list).
MUTATING=(/v1/agent/shutdown /v1/leave /v1/fault /v1/join /v1/event /v1/state /v1/keys
    /v1/propose /v1/raft/transfer /v1/raft/snapshot /v1/raft/add-voter /v1/raft/remove /v1/incidents/x
    /v1/services/x/stop /v1/rollouts /v1/decisions/1/approve)
for path in "${MUTATING[@]}"; do
    expect 401 POST "$path"
    grep -q "needs a token" "$TEST_DIR/body" || fail "POST $path without a token: $(cat "$TEST_DIR/body")"
    expect 401 POST "$path" -H "Authorization: Bearer $WRONG"
    expect 401 POST "$path" -H "Authorization: Basic $(echo -n "u:$API_TOKEN" | base64 -w0)"
    expect 403 POST "$path" -H "Authorization: Bearer $READ"
    grep -q "needs an operate token" "$TEST_DIR/body" || fail "POST $path with a read token: $(cat "$TEST_DIR/body")"
done
curl -s -o /dev/null -D "$TEST_DIR/head" "$URL/v1/members"
grep -qi '^WWW-Authenticate: Bearer' "$TEST_DIR/head" || fail "a 401 without WWW-Authenticate"
for path in /v1/agent/self /v1/members /v1/keys /v1/raft/status /v1/services /v1/gossip/counters; do
    expect 401 GET "$path"
    expect 401 GET "$path" -H "Authorization: Bearer $WRONG"
    expect 200 GET "$path" -H "Authorization: Bearer $READ"
done
expect 200 POST /v1/state -H "Authorization: Bearer $API_TOKEN" --data-binary '{"key":"k","value":{"a":1}}'
pass "${#MUTATING[@]} mutating routes refused without a token, with a wrong one and with a read token"

# The request the issue found stopping the agent from any web page, and DNS rebinding.
expect 403 POST /v1/agent/shutdown -H 'Host: evil.example' -H 'Origin: http://evil.example' \
    -H 'Content-Type: text/plain'
expect 403 GET /v1/agent/self -H "Authorization: Bearer $API_TOKEN" -H 'Host: evil.example'
grep -q "DNS rebinding" "$TEST_DIR/body" || fail "Host refusal: $(cat "$TEST_DIR/body")"
expect 403 GET /v1/agent/self -H "Authorization: Bearer $API_TOKEN" -H "Host: evil.example:$api_port"
expect 403 GET /v1/agent/self -H "Authorization: Bearer $API_TOKEN" -H 'Origin: http://evil.example'
expect 403 GET /v1/agent/self -H "Authorization: Bearer $API_TOKEN" -H 'Origin: null'
expect 403 POST /v1/event -H "Authorization: Bearer $API_TOKEN" -H "Origin: http://127.0.0.1:9"
expect 200 GET /v1/agent/self -H "Authorization: Bearer $API_TOKEN" -H "Origin: http://127.0.0.1:$api_port"
expect 200 GET /v1/agent/self -H "Authorization: Bearer $API_TOKEN" -H "Host: localhost:$api_port"
expect 200 GET /v1/agent/self -H "Authorization: Bearer $API_TOKEN" -H "Host: [::1]:$api_port"
# Two Host headers (which one counts is how request smuggling starts): a bad request.
two_hosts=$(python3 - "$api_port" "$API_TOKEN" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(("GET /v1/agent/self HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n"
           "Authorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
print(s.recv(100).split(b"\r\n")[0].decode())
PY
)
[ "$two_hosts" = "HTTP/1.1 400 Bad Request" ] || fail "two Host headers: $two_hosts"
pass "a foreign Host or Origin is refused, our own is not"

# The Unix socket (mode 0600) needs no token; the CLI sends one on TCP.
[ "$(stat -c %a "$TEST_DIR/n1/api.sock")" = 600 ] || fail "api.sock is not 0600"
env -u PLATELET_TOKEN "$PLATELET" members --api "unix:$TEST_DIR/n1/api.sock" >/dev/null ||
    fail "the Unix socket asked for a token"
expect_fail 1 "needs a token" env -u PLATELET_TOKEN "$PLATELET" members --api "127.0.0.1:$api_port"
env -u PLATELET_TOKEN "$PLATELET" members --api "127.0.0.1:$api_port" --token-file "$TEST_DIR/read.token" >/dev/null ||
    fail "--token-file not sent"
"$PLATELET" members --api "127.0.0.1:$api_port" --token-file "$API_TOKENS" >/dev/null ||
    fail "--token-file with the agent's own file (SCOPE TOKEN lines)"
expect_fail 1 "needs an operate token" env PLATELET_TOKEN="$READ" "$PLATELET" leave --api "127.0.0.1:$api_port"
expect_fail 2 "--token-file: .*cannot open" "$PLATELET" members --api "127.0.0.1:$api_port" --token-file "$TEST_DIR/none"
pass "the Unix socket needs no token; the CLI sends --token-file or PLATELET_TOKEN on TCP"

# Key material never leaves the agent.
keys=$(curl -sf -H "Authorization: Bearer $READ" "$URL/v1/keys")
fp=$(python3 -c 'import base64,hashlib,sys; print(hashlib.sha256(base64.b64decode(sys.argv[1])).hexdigest()[:16])' "$KEY")
[ "$(json_get "$keys" '[k["fingerprint"] for k in d["keys"]]')" = "['$fp']" ] || fail "keys: $keys"
python3 - "$keys" "$KEY" <<'PY' || fail "GET /v1/keys holds key bytes: $keys"
import base64, sys
doc, key = sys.argv[1], base64.b64decode(sys.argv[2])
for form in (sys.argv[2], sys.argv[2].rstrip("="), key.hex(), base64.urlsafe_b64encode(key).decode().rstrip("=")):
    if form in doc or form[:12] in doc:
        sys.exit(1)
PY
"$PLATELET" keys list --api "unix:$TEST_DIR/n1/api.sock" | grep -q "^$fp " || fail "keys list shows no fingerprint"
"$PLATELET" keys list --api "unix:$TEST_DIR/n1/api.sock" | grep -qF "${KEY:0:12}" && fail "keys list shows the key"
pass "GET /v1/keys and keys list show the fingerprint $fp and no key bytes"

# The fault API is off by default, on TCP and on the Unix socket alike.
expect 403 GET /v1/fault -H "Authorization: Bearer $API_TOKEN"
grep -q -- "--enable-faults" "$TEST_DIR/body" || fail "the 403 does not say how to enable faults"
expect 403 POST /v1/fault -H "Authorization: Bearer $API_TOKEN" --data-binary '{"action":"partition"}'
expect_fail 1 "start it with --enable-faults" "$PLATELET" fault partition --api "unix:$TEST_DIR/n1/api.sock"
[ "$(json_get "$(curl -sf -H "Authorization: Bearer $READ" "$URL/v1/agent/self")" 'd["faults_enabled"]')" = False ] ||
    fail "faults_enabled is not false"
pass "the fault API answers 403 unless --enable-faults"

refused=$(json_get "$(curl -sf -H "Authorization: Bearer $READ" "$URL/v1/agent/self")" 'd["api_connections"]["refused_token"]')
[ "$refused" -gt 0 ] || fail "no refusal counted"
stop_agent "$SPAWNED_PID" n1
pass "the agent was never stopped by a refused request ($refused refused)"
