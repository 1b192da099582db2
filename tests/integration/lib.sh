# Shared helpers for the integration tests: real platelet processes on 127.0.0.1.
# Source it after setting PLATELET (the binary). Every process started through these
# helpers is killed by PID when the test exits; every wait polls with a deadline.

set -euo pipefail

PLATELET=${PLATELET:-${1:?usage: $0 PATH-TO-platelet}}
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/platelet-${TEST_NAME}.XXXXXX")
PIDS=()

cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    # Sanitizer builds: a report in any process's log fails the test.
    if grep -l "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$TEST_DIR"/*.log 2>/dev/null; then
        echo "FAIL: $TEST_NAME: a sanitizer report in the logs above" >&2
        rc=1
    fi
    if [ $rc -ne 0 ]; then
        echo "--- $TEST_NAME failed; logs in $TEST_DIR:" >&2
        for f in "$TEST_DIR"/*.log; do
            [ -f "$f" ] || continue
            echo "--- $f (last 30 lines)" >&2
            tail -n 30 "$f" >&2
        done
    elif [ -z "${PLATELET_TEST_KEEP:-}" ]; then
        rm -rf "$TEST_DIR"
    fi
    exit $rc
}
trap cleanup EXIT

fail() {
    echo "FAIL: $TEST_NAME: $*" >&2
    exit 1
}

pass() {
    echo "ok: $*"
}

# free_port: prints a port P on 127.0.0.1 such that P and P+1 are free for TCP and UDP
# right now (an agent's Raft transport listens on its gossip port + 1 by default); ports
# handed out earlier in this test are never handed out again.
USED_PORTS="$TEST_DIR/ports"
FREE_PORTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)/free_ports.py"
free_port() {
    python3 "$FREE_PORTS" 1 "$USED_PORTS"
}

# api_token: makes the test's API token once: $API_TOKENS (an operate token, the file an
# agent takes as --api-token-file) and $API_TOKEN (the token itself, exported as
# PLATELET_TOKEN so every CLI call reaches a TCP API). Call it in the test's own shell.
api_token() {
    API_TOKENS="$TEST_DIR/api.tokens"
    if [ ! -f "$API_TOKENS" ]; then
        "$PLATELET" token create --scope operate --tokens "$API_TOKENS" \
            --out "$TEST_DIR/client.token" || fail "cannot make an API token"
    fi
    API_TOKEN=$(cat "$TEST_DIR/client.token")
    export PLATELET_TOKEN="$API_TOKEN"
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    while ! "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            fail "timed out after ${secs}s waiting for: $what"
        fi
        sleep 0.1
    done
}

# spawn NAME COMMAND...: starts COMMAND in the background with its output in
# $TEST_DIR/NAME.log; sets SPAWNED_PID and remembers the PID for cleanup.
spawn() {
    local name=$1
    shift
    "$@" >"$TEST_DIR/$name.log" 2>&1 &
    SPAWNED_PID=$!
    PIDS+=("$SPAWNED_PID")
}

# stop_agent PID WHAT: SIGTERM (a graceful leave), then the process must exit 0.
stop_agent() {
    local rc=0
    kill -TERM "$1"
    wait "$1" || rc=$?
    [ $rc -eq 0 ] || fail "$2 exited $rc after SIGTERM"
}

# expect_fail CODE PATTERN COMMAND...: the command must exit with CODE and print PATTERN
# (an extended regex) on stderr.
expect_fail() {
    local code=$1 pattern=$2
    shift 2
    local out rc=0
    out=$("$@" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -eq "$code" ] || fail "expected exit $code from '$*', got $rc ($out)"
    echo "$out" | grep -Eq -- "$pattern" || fail "expected /$pattern/ from '$*', got: $out"
}

# gossip_counter API EXPR: a Python expression over an agent's gossip counters (`platelet
# counters`), e.g. `probes - probe_failures`.
gossip_counter() {
    "$PLATELET" counters --api "$1" --json |
        python3 -c 'import json,sys; print(eval(sys.argv[1], {}, json.load(sys.stdin)))' "$2"
}

# counter_at_least API EXPR MIN: for wait_for.
counter_at_least() {
    [ "$(gossip_counter "$1" "$2")" -ge "$3" ]
}

# json_get JSON PYTHON-EXPR: evaluates EXPR with the parsed document as `d`.
json_get() {
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
