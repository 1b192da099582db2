#!/bin/sh
# The node-local healing demo: three agents on loopback, each supervising a sample service.
# It injects a crash on n1, a hang on n2 and an error burst on n3, prints each incident's
# timeline as it heals, and stops everything it started. Bounded: every wait has a
# deadline, the whole demo ends within about two minutes.
#
#   scripts/demo_heal.sh [PATH_TO_PLATELET]   (default: build/platelet)
set -eu

PLATELET=${1:-build/platelet}
case "$PLATELET" in /*) ;; *) PLATELET="$(pwd)/$PLATELET" ;; esac
[ -x "$PLATELET" ] || { echo "demo_heal: $PLATELET not found; run 'make build' first" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/platelet-demo-heal.XXXXXX")
PIDS=""

cleanup() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 60); do
        alive=0
        for pid in $PIDS; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in $PIDS; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

say() { printf '\n== %s\n' "$*"; }

# wait_until SECONDS CMD...: polls until CMD succeeds; fails the demo at the deadline.
wait_until() {
    deadline=$(($(date +%s) + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "demo_heal: timed out waiting" >&2; exit 1; }
        sleep 0.2
    done
}

json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

for i in 1 2 3; do
    svc=$((18180 + i))
    api=$((18190 + i))
    gossip=$((18170 + i))
    cat >"$WORK/n$i.json" <<JSON
{"services": [{"name": "shop", "command": "$PLATELET",
  "args": ["sample-service", "--port", "$svc"], "grace_ms": 1000, "start_ms": 300,
  "checks": [{"type": "http", "url": "http://127.0.0.1:$svc/health", "interval_ms": 500,
              "timeout_ms": 500, "failures": 3}],
  "metrics": {"url": "http://127.0.0.1:$svc/metrics", "interval_ms": 500,
              "requests": "sample_requests_total", "errors": "sample_errors_total",
              "latency": "sample_request_duration_seconds"},
  "policy": {"error_window_ms": 10000}}]}
JSON
    join=""
    [ $i = 1 ] || join="--join 127.0.0.1:18171"
    # shellcheck disable=SC2086
    "$PLATELET" agent --config "$WORK/n$i.json" --name "n$i" --data-dir "$WORK/d$i" \
        --bind 127.0.0.1:$gossip --api 127.0.0.1:$api $join >"$WORK/n$i.log" 2>&1 &
    PIDS="$PIDS $!"
done
say "three agents, each supervising a sample service"
for i in 1 2 3; do
    wait_until 30 sh -c "'$PLATELET' services --api 127.0.0.1:$((18190 + i)) --json |
        python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"services\"][0][\"healthy\"] else 1)'"
done
"$PLATELET" services --api 127.0.0.1:18191

healed() {
    "$PLATELET" incidents --api "$1" --json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(i["state"] == "closed" for i in d["incidents"]) else 1)'
}
show_last() {
    id=$("$PLATELET" incidents --api "$1" --json | json "d['incidents'][-1]['id']")
    "$PLATELET" incident "$id" --api "$1"
}

say "n1: crash (the sample service exits with status 70)"
curl -s --max-time 2 http://127.0.0.1:18181/fault/crash >/dev/null || true
wait_until 30 healed 127.0.0.1:18191
show_last 127.0.0.1:18191

say "n2: hang (the service's event loop blocks; only the HTTP check can tell)"
curl -s --max-time 2 http://127.0.0.1:18182/fault/hang >/dev/null || true
wait_until 40 healed 127.0.0.1:18192
show_last 127.0.0.1:18192

say "n3: error burst (20 % of /work answers 500)"
for _ in $(seq 1 40); do curl -s -o /dev/null --max-time 2 http://127.0.0.1:18183/work || true; done
curl -s --max-time 2 "http://127.0.0.1:18183/fault/errors?rate=0.2" >/dev/null
(for _ in $(seq 1 400); do curl -s -o /dev/null --max-time 2 http://127.0.0.1:18183/work || true; done) &
LOAD=$!
PIDS="$PIDS $LOAD"
wait_until 60 healed 127.0.0.1:18193
kill "$LOAD" 2>/dev/null || true
show_last 127.0.0.1:18193

say "all healthy again"
for i in 1 2 3; do "$PLATELET" services --api 127.0.0.1:$((18190 + i)) | tail -n 1; done
say "done; stopping the agents and their services"
