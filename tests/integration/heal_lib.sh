# Shared helpers of the heal_*.sh integration tests (sourced, not run).
#
# Each test calls heal_setup NAME: a fresh work directory, five ports free right now from
# scripts/free_ports.py (SVC_PORT for the sample service, API_PORT for the agent's API,
# GOSSIP_PORT for gossip and Raft (the port after it), HOOK_PORT for a webhook receiver and
# SVC2_PORT for a second service, when the test wants them), and a trap that stops exactly
# the processes the test started (by PID) when it ends.

set -eu

PLATELET=${1:?usage: $0 PATH_TO_PLATELET}
PIDS=""
FREE_PORTS="$(cd "$(dirname "$0")/../../scripts" && pwd)/free_ports.py"

heal_setup() {
    NAME=$1
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/platelet-$NAME.XXXXXX")
    trap heal_cleanup EXIT INT TERM
    # shellcheck disable=SC2046 # five numbers, split on purpose
    set -- $(python3 "$FREE_PORTS" 5 "$WORK/ports")
    [ $# -eq 5 ] || fail "no free ports"
    SVC_PORT=$1
    API_PORT=$2
    GOSSIP_PORT=$3
    HOOK_PORT=$4
    SVC2_PORT=$5
    API=127.0.0.1:$API_PORT
}

heal_cleanup() {
    rc=$?
    # Processes a test started in the background record their pid in $WORK/*.pid.
    PIDS="$PIDS $(cat "$WORK"/*.pid 2>/dev/null || true)"
    for pid in $PIDS; do
        kill "$pid" 2>/dev/null || true
    done
    # Give the agent its graceful stop (it stops its services), then make sure.
    for _ in $(seq 1 50); do
        alive=0
        for pid in $PIDS; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in $PIDS; do
        kill -9 "$pid" 2>/dev/null || true
    done
    # Under -DPL_SANITIZE=ON a memory or UB error in the agent fails the test too.
    if [ -f "$WORK/agent.log" ] &&
        grep -q "ERROR: AddressSanitizer\|runtime error:" "$WORK/agent.log"; then
        echo "FAIL: sanitizer report in the agent's log" >&2
        rc=1
    fi
    if [ $rc != 0 ] && [ -f "$WORK/agent.log" ]; then
        echo "---- agent log (last 60 lines) ----"
        tail -n 60 "$WORK/agent.log"
    fi
    rm -rf "$WORK" ${EXTRA_DIRS:-}
    exit $rc
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# heal_agent CONFIG_FILE: starts an agent with that config; waits for its API. Its TCP API
# takes the token lib.sh's api_token would make (PLATELET_TOKEN for every CLI call).
heal_agent() {
    if [ ! -f "$WORK/api.tokens" ]; then
        "$PLATELET" token create --scope operate --tokens "$WORK/api.tokens" \
            --out "$WORK/client.token" || fail "cannot make an API token"
    fi
    PLATELET_TOKEN=$(cat "$WORK/client.token")
    export PLATELET_TOKEN
    "$PLATELET" agent --config "$1" --name "n-$NAME" --data-dir "$WORK/data" \
        --bind 127.0.0.1:$GOSSIP_PORT --api "$API" --api-token-file "$WORK/api.tokens" \
        >"$WORK/agent.log" 2>&1 &
    AGENT_PID=$!
    PIDS="$PIDS $AGENT_PID"
    wait_for 20 "the agent's API" "$PLATELET" services --api "$API" --json
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.2 s until it succeeds or time runs out.
wait_for() {
    secs=$1
    what=$2
    shift 2
    deadline=$(($(date +%s) + secs))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "no $what within ${secs} s"
        sleep 0.2
    done
}

# json EXPR: evaluates a Python expression over the JSON document on stdin (as `d`);
# prints the result, exits 1 when it is False/None or raises.
json() {
    python3 -c '
import json, sys
d = json.load(sys.stdin)
try:
    v = eval("(" + sys.argv[1] + "\n)")
except Exception:
    sys.exit(1)
if v is None or v is False:
    sys.exit(1)
print(v if not isinstance(v, (dict, list)) else json.dumps(v))
' "$1"
}

services() { "$PLATELET" services --api "$API" --json; }
incidents() { "$PLATELET" incidents --api "$API" --json; }

# svc_is EXPR: EXPR over the first service (`s`).
svc_is() { services | json "(lambda s: $1)(d['services'][0])"; }
# inc_is EXPR: true when some incident (`i`) satisfies EXPR; prints its id.
inc_is() { incidents | json "next((i['id'] for i in d['incidents'] if ($1)), None)"; }

sample_url() { echo "http://127.0.0.1:$SVC_PORT$1"; }

# load N [STOP_FILE]: N requests to /work, bounded by count and by curl's own timeout; fewer
# when STOP_FILE appears meanwhile.
load() {
    n=$1
    i=0
    # A second argument names a file whose appearance ends the load early.
    while [ $i -lt "$n" ] && { [ -z "${2:-}" ] || [ ! -e "$2" ]; }; do
        curl -s -o /dev/null --max-time 2 "$(sample_url /work)" || true
        i=$((i + 1))
    done
}
