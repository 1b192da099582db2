#!/usr/bin/env bash
# Static linking study (issue 16): what linking RocksDB, libsodium and msgpack-c statically
# (Debian's archives; libuv and cJSON ship none, libcurl stays shared), with libstdc++ and
# libgcc static and --gc-sections, and then also LTO, does to an idle agent's RSS and to its
# start-up, against the default dynamic build. All three are Release builds of this tree.
#
# usage: bench/static_link_study.sh [--runs N] [--dir DIR] [--keep]
#   --runs N   agents started per build (default 5); figures are medians [min-max]
#   --dir DIR  where the three builds go (default $TMPDIR or /tmp; about 300 MB)
#   --keep     keep the builds
# Each run starts one agent (profile local, no peers, a fresh data dir), measures the time
# from the fork to the first answer of GET /v1/agent/self on its API socket, waits 2 s,
# reads VmRSS, RssFile and RssAnon from /proc/PID/status and stops it with SIGTERM.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
runs=5
parent=${TMPDIR:-/tmp}
keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift ;;
    --dir) parent=$2; shift ;;
    --keep) keep=1 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "static_link_study: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
WORK=$(mktemp -d "$parent/platelet-static.XXXXXX")
AGENT_PID=
cleanup() {
    [ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null || true
    [ "$keep" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

declare -A FLAGS=(
    [dynamic]=""
    [static]="-DPL_STATIC_LINK=ON"
    [static-lto]="-DPL_STATIC_LINK=ON -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON"
)
VARIANTS=(dynamic static static-lto)
for v in "${VARIANTS[@]}"; do
    echo "building $v ..." >&2
    # shellcheck disable=SC2086 # FLAGS holds separate words
    cmake -S "$ROOT" -B "$WORK/$v" -DCMAKE_BUILD_TYPE=Release ${FLAGS[$v]} >/dev/null
    cmake --build "$WORK/$v" -j2 --target platelet >/dev/null
done

# one_run BINARY: prints "startup_ms vmrss_kb rssfile_kb rssanon_kb"
one_run() {
    local bin=$1 dir
    dir=$(mktemp -d "$WORK/run.XXXXXX")
    local t0 t1
    t0=$(date +%s%N)
    local port
    port=$(python3 "$ROOT/scripts/free_ports.py" 1 "$WORK/ports")
    "$bin" agent --name s1 --bind "127.0.0.1:$port" --data-dir "$dir/d" --log-level warn \
        >"$dir/log" 2>&1 &
    AGENT_PID=$!
    local i
    for i in $(seq 1 2000); do # 5 ms polls: at most 10 s
        if curl -s --max-time 1 --unix-socket "$dir/d/api.sock" http://x/v1/agent/self >/dev/null 2>&1; then
            break
        fi
        sleep 0.005
    done
    t1=$(date +%s%N)
    [ "$i" -lt 2000 ] || { echo "static_link_study: $bin did not answer in 10 s" >&2; cat "$dir/log" >&2; exit 1; }
    sleep 2
    local st=/proc/$AGENT_PID/status
    echo "$(((t1 - t0) / 1000000)) $(awk '/^VmRSS:/ {print $2}' "$st") $(awk '/^RssFile:/ {print $2}' "$st") $(awk '/^RssAnon:/ {print $2}' "$st")"
    kill -TERM "$AGENT_PID"
    wait "$AGENT_PID" || true
    AGENT_PID=
}

summary() { # values...: median [min-max]
    python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.1f} [{min(v):.1f}-{max(v):.1f}]")' "$@"
}

printf "%-11s %10s %20s %20s %20s %20s\n" build "binary MB" "start-up ms" "VmRSS MiB" "RssFile MiB" "RssAnon MiB"
for v in "${VARIANTS[@]}"; do
    bin="$WORK/$v/platelet"
    s=() r=() f=() a=()
    for _ in $(seq 1 "$runs"); do
        read -r ms rss file anon < <(one_run "$bin")
        s+=("$ms"); r+=("$(echo "$rss" | awk '{print $1/1024}')")
        f+=("$(echo "$file" | awk '{print $1/1024}')"); a+=("$(echo "$anon" | awk '{print $1/1024}')")
    done
    printf "%-11s %10.1f %20s %20s %20s %20s\n" "$v" "$(stat -c %s "$bin" | awk '{print $1/1048576}')" \
        "$(summary "${s[@]}")" "$(summary "${r[@]}")" "$(summary "${f[@]}")" "$(summary "${a[@]}")"
done
echo "shared libraries of each build: $(for v in "${VARIANTS[@]}"; do printf '%s %s; ' "$v" "$(ldd "$WORK/$v/platelet" | wc -l)"; done)"
