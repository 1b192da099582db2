#!/usr/bin/env bash
# Side-by-side benchmark of Platelet's gossip against HashiCorp Serf (issue 3), both on
# 127.0.0.1 with the same memberlist timing profile. For each cluster size it measures, over
# several repetitions, join convergence, failure detection after SIGKILL, graceful leave,
# event propagation, idle RSS and CPU per agent, and false positives, and prints both
# systems side by side with each Platelet/Serf ratio (median [min-max]). The measuring is
# done by bench/gossip_bench_run.py; this script installs Serf if it is missing, finds or
# builds the platelet binary, and makes sure every process started is killed by PID.
#
#   bench/gossip_vs_serf.sh [--sizes 5,10,20] [--reps 3] [--profile lan|local]
#                           [--fast-suspicion on|off|both] [--idle-s 10] [--poll-ms 50]
#                           [--platelet PATH] [--quick] [--keep] [--json-out FILE]
#                           [--platelet-only]
#   bench/gossip_vs_serf.sh --event-loss [--events 100] [--sizes 5] [--platelet PATH]
#
# --event-loss: instead, event delivery completeness: the seed sends --events user events
# 0.5 s apart, and every agent's missed events are counted 5 s after each and again 35 s
# after the last (Serf repairs missed events in its 30 s push-pull); about 2 minutes.
# --quick: N=5 only, one repetition, a 3 s idle window (about half a minute).
# The logs of a cluster with an anomaly (a timeout, a false positive, a join slower than
# 5 s once every agent answers) are kept in ${TMPDIR:-/tmp}/gossip_vs_serf.anomalies.
# Default (N=5,10,20 x 3 repetitions, LAN) takes about 7 minutes on 2 cores;
# --fast-suspicion both adds a second Platelet run per repetition (about 11 minutes).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

usage()
{
    sed -n '2,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

platelet=""
script=gossip_bench_run.py
pyargs=()
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage 0 ;;
    --platelet)
        platelet="$2"
        shift 2
        ;;
    --quick)
        pyargs+=(--sizes 5 --reps 1 --idle-s 3 --settle-s 1 --timeout-s 40)
        shift
        ;;
    --event-loss)
        script=gossip_bench_events.py
        shift
        ;;
    --keep | --platelet-only)
        pyargs+=("$1")
        shift
        ;;
    --sizes | --reps | --profile | --fast-suspicion | --idle-s | --settle-s | --poll-ms | \
        --timeout-s | --json-out | --events)
        [ $# -ge 2 ] || usage 2
        pyargs+=("$1" "$2")
        shift 2
        ;;
    *)
        echo "gossip_vs_serf: unknown argument: $1" >&2
        usage 2
        ;;
    esac
done

command -v python3 >/dev/null || { echo "gossip_vs_serf: python3 is needed" >&2; exit 1; }
if ! command -v serf >/dev/null; then
    "$root/scripts/deps.sh" serf
fi
serf="$(command -v serf)"

if [ -z "$platelet" ]; then
    if ! make -C "$root" build >&2; then
        echo "gossip_vs_serf: 'make build' failed; build platelet elsewhere and pass --platelet PATH" >&2
        exit 1
    fi
    platelet="$root/build/platelet"
fi
[ -x "$platelet" ] || { echo "gossip_vs_serf: no executable at $platelet" >&2; exit 1; }
platelet="$(cd "$(dirname "$platelet")" && pwd)/$(basename "$platelet")"

rundir="$(mktemp -d "${TMPDIR:-/tmp}/gossip_vs_serf.XXXXXX")"
pypid=""

# Kills the harness, then any agent it started that is still alive (PIDs from RUN/pids,
# each checked to still be one of our two binaries before it is signalled).
cleanup()
{
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$pypid" ] && kill -0 "$pypid" 2>/dev/null; then
        kill -TERM "$pypid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pypid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pypid" 2>/dev/null || true
    fi
    if [ -f "$rundir/pids" ]; then
        while read -r pid; do
            if [ -z "$pid" ] || [ ! -r "/proc/$pid/cmdline" ]; then
                continue
            fi
            exe="$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -d' ' -f1)"
            if [ "$exe" = "$serf" ] || [ "$exe" = "$platelet" ]; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$rundir/pids"
    fi
    if [ "${keep:-0}" = 1 ]; then
        echo "gossip_vs_serf: logs and results kept in $rundir" >&2
    else
        cp "$rundir/results.json" "${TMPDIR:-/tmp}/gossip_vs_serf.last.json" 2>/dev/null || true
        rm -rf "$rundir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

keep=0
for a in "${pyargs[@]+"${pyargs[@]}"}"; do
    [ "$a" = "--keep" ] && keep=1
done

echo "platelet: $platelet"
echo "serf:     $serf ($("$serf" version | head -1))"
echo "machine:  $(nproc) cores, $(uname -sr)"
python3 "$here/$script" --platelet "$platelet" --serf "$serf" --rundir "$rundir" \
    --anomaly-dir "${TMPDIR:-/tmp}/gossip_vs_serf.anomalies" "${pyargs[@]+"${pyargs[@]}"}" &
pypid=$!
wait "$pypid"
