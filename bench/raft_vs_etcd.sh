#!/usr/bin/env bash
# Platelet's Raft council against etcd, side by side in one run (issue 4).
#
# Installs Debian's etcd-server and etcd-client if etcd is missing, then, for each timing
# pair (heartbeat/election timeout: etcd's defaults 100/1000 ms and a fast 50/300 pair) and
# each repetition, runs a fresh 3-node Platelet council and a fresh 3-node etcd cluster on
# 127.0.0.1, one after the other, and reports median [min-max] and the Platelet/etcd ratio of:
# cold start to first write, leader failover (SIGKILL to next write), sequential write
# latency p50/p99 (64-byte writes, one keep-alive HTTP client), throughput with 16 and 64
# concurrent keep-alive clients, and RSS. The work is done by bench/raft_bench_run.py.
#
# usage: bench/raft_vs_etcd.sh [--quick] [--reps N] [--platelet BIN] [--dir DIR] [--keep]
#   --quick      1 repetition, 300 sequential writes, 3 s of 16 clients (a smoke run)
#   --reps N     repetitions per system and timing pair (default 3)
#   --platelet   the platelet binary (default: $PLATELET, else build/platelet, built by
#                `make build` if missing)
#   --dir DIR    parent of the work directory (data dirs of both systems; default $TMPDIR or
#                /tmp); both systems' data dirs are on the same disk
#   --keep       keep the work directory (logs, every repetition's data dirs, results.json;
#                about 1 GB per repetition); without it a repetition's data dirs are removed
#                as soon as it ends
#   --strace     first count syscalls per write (strace -c) on each system's leader and a
#                follower (fdatasync per commit, writes, sends), a diagnosis, not a timing
#   --nice N     run both systems and the load generator at nice N (negative needs root):
#                shields the figures from other work on a shared machine
#   -- ARGS      pass ARGS on to bench/raft_bench_run.py (e.g. -- --timings 100/1000)
# The default run takes about 8 minutes on a 2-core machine.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
reps=3
quick=0
keep=0
platelet=${PLATELET:-}
parent=${TMPDIR:-/tmp}
extra=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --reps) reps=$2; shift ;;
    --platelet) platelet=$2; shift ;;
    --dir) parent=$2; shift ;;
    --keep) keep=1; extra+=(--keep-data) ;;
    --strace) extra+=(--strace) ;;
    --nice) extra+=(--nice "$2"); shift ;;
    --) shift; extra+=("$@"); break ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "raft_vs_etcd: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if ! command -v etcd >/dev/null 2>&1; then
    "$ROOT/scripts/deps.sh" etcd-server etcd-client
fi
etcd_bin=$(command -v etcd)

if [ -z "$platelet" ]; then
    platelet=$ROOT/build/platelet
    [ -x "$platelet" ] || make -C "$ROOT" build
fi
[ -x "$platelet" ] || { echo "raft_vs_etcd: $platelet is not executable" >&2; exit 1; }

work=$(mktemp -d "$parent/raft_vs_etcd.XXXXXX")
runner_pid=
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
    # The runner kills every process it started on SIGTERM; give it a moment, then make sure.
    if [ -n "$runner_pid" ] && kill -0 "$runner_pid" 2>/dev/null; then
        kill -TERM "$runner_pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$runner_pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$runner_pid" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then
        echo "raft_vs_etcd: work directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ "$quick" = 1 ]; then
    extra=(--reps 1 --seq-writes 300 --duration 3 --conns 16 --strace-writes 100 "${extra[@]}")
else
    extra=(--reps "$reps" "${extra[@]}")
fi

echo "Platelet: $platelet (built $(date -u -r "$platelet" +%FT%TZ); checkout HEAD $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "etcd:     $etcd_bin ($("$etcd_bin" --version | head -1))"
echo "machine:  $(nproc) cores, $(uname -r); work dir $work ($(df --output=source "$work" | tail -1))"
python3 "$ROOT/bench/raft_bench_run.py" --platelet "$platelet" --etcd "$etcd_bin" --dir "$work" \
    --json "$work/results.json" "${extra[@]}" &
runner_pid=$!
rc=0
wait "$runner_pid" || rc=$?
runner_pid=
exit "$rc"
