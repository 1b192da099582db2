#!/usr/bin/env bash
# Benchmark: restarts fleet-wide during a shared dependency's outage, with correlation and
# without it (issue 10: "fleet-wide restarts during a 60 s dependency outage, goal 0; a
# liveness-probe setup restarts every instance").
#
# Each run starts a fresh swarm on 127.0.0.1: five agents, three of them the council's
# voters, each supervising the sample service "web" whose /health fails while a shared
# dependency (one more sample service) refuses connections. Once web answers everywhere the
# dependency is stopped for OUTAGE seconds, then started again; the run ends when web
# answers everywhere again. It counts the starts of web beyond the first on every node (a
# restart is a stop and a start) and the cluster incidents the council committed.
# "without" sets correlate.enabled false: each node heals alone, as a liveness probe would.
#
#     bench/swarm_correlated_bench.sh build/platelet [OUTAGE_S] [RUNS]
#
# Defaults: 60 s, one run of each. Every process started here is killed by PID when the
# script ends, however it ends. Never a test assertion.
set -u
PLATELET=$(realpath "${1:?usage: $0 PATH-TO-platelet [OUTAGE_S] [RUNS]}")
OUTAGE=${2:-60}
RUNS=${3:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
FREE_PORTS="$HERE/../scripts/free_ports.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/platelet-corr-bench.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
NODES="c1 c2 c3 c4 c5"

wait_until() { # SECONDS COMMAND...: polls COMMAND until it succeeds; 1 on timeout
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

run() { # MODE (with|without) -> prints "restarts cluster_incidents"
    local mode=$1 dir="$WORK/$mode-$2" enabled=true
    [ "$mode" = without ] && enabled=false
    mkdir -p "$dir"
    declare -A PORT SVC
    local ports n
    ports=($(python3 "$FREE_PORTS" 11 "$dir/ports"))
    local i=0
    for n in $NODES; do PORT[$n]=${ports[$i]}; SVC[$n]=${ports[$((i + 1))]}; i=$((i + 2)); done
    local dep=${ports[10]}
    for n in $NODES; do
        local raft=""
        case $n in c1 | c2 | c3)
            raft='"raft": {"voter": true, "bootstrap_expect": 3, "election_timeout_ms": 500, "heartbeat_ms": 50},' ;;
        esac
        cat >"$dir/$n.json" <<JSON
{"profile": "local", $raft
 "correlate": {"enabled": $enabled, "share": 0.6, "window_ms": 20000, "min_nodes": 3},
 "gossip": {"retransmit_mult": 4, "pushpull_interval_ms": 3000},
 "services": [{"name": "web", "command": "$PLATELET",
   "args": ["sample-service", "--port", "${SVC[$n]}", "--depends", "127.0.0.1:$dep"],
   "start_ms": 300, "grace_ms": 500,
   "checks": [{"type": "http", "url": "http://127.0.0.1:${SVC[$n]}/health",
               "interval_ms": 500, "timeout_ms": 400, "failures": 4}]}]}
JSON
    done
    "$PLATELET" sample-service --port "$dep" >"$dir/dep.log" 2>&1 &
    local dep_pid=$!
    PIDS+=("$dep_pid")
    for n in $NODES; do
        local join=()
        [ "$n" = c1 ] || join=(--join "127.0.0.1:${PORT[c1]}")
        "$PLATELET" agent --config "$dir/$n.json" --name "$n" --bind "127.0.0.1:${PORT[$n]}" \
            --data-dir "$dir/$n" "${join[@]}" >"$dir/$n.log" 2>&1 &
        PIDS+=($!)
    done
    all_answer() { local m; for m in $NODES; do curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:${SVC[$m]}/health" || return 1; done; }
    leader() { "$PLATELET" raft status --api "unix:$dir/c1/api.sock" --json 2>/dev/null | grep -q '"leader":"c'; }
    wait_until 60 all_answer || { echo "web never answered everywhere" >&2; return 1; }
    wait_until 30 leader || { echo "no leader" >&2; return 1; }
    kill -TERM "$dep_pid"
    sleep "$OUTAGE" # the outage itself: its length is the benchmark's input, not a wait
    "$PLATELET" sample-service --port "$dep" >"$dir/dep2.log" 2>&1 &
    PIDS+=($!)
    wait_until 120 all_answer || { echo "web did not answer everywhere after the outage" >&2; return 1; }
    local starts=0
    for n in $NODES; do starts=$((starts + $(grep -c "started service=web" "$dir/$n.log") - 1)); done
    local clusters
    clusters=$("$PLATELET" incidents --cluster --api "unix:$dir/c1/api.sock" --json |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["state"]["cluster_incidents"]))')
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    PIDS=()
    echo "$starts $clusters"
}

echo "outage ${OUTAGE} s, 5 nodes (3 voters), check every 500 ms, 4 failures; default restart policy"
for mode in with without; do
    for r in $(seq 1 "$RUNS"); do
        out=$(run "$mode" "$r") || exit 1
        echo "correlation $mode run $r: restarts fleet-wide ${out%% *}, cluster incidents ${out##* }"
    done
done
