#!/usr/bin/env bash
# A Platelet cluster of N agents on one machine, each in its own network namespace with its
# own address, as on N hosts: what a multi-host deployment looks like, without the hosts.
#
#   deploy/netns-cluster.sh up N [--voters V] [--profile P] [--platelet BIN] [--prefix X] [--dir D]
#   deploy/netns-cluster.sh status [--prefix X] [--dir D]
#   deploy/netns-cluster.sh down [--prefix X] [--dir D]
#
# Needs root (ip netns, veth, bridge). The network: a namespace X-hub holds the bridge br0;
# each agent K (1..N) runs in namespace X-nK whose eth0 (10.77.0.(10+K)/24) is one end of a
# veth pair, the other end (vK) a port of br0. Nothing is added to the machine's own network
# namespace, so clusters with other prefixes (and the machine) are never in the way.
# Agent K is nK, gossip on 10.77.0.(10+K):7946 (Raft on 7947); the first V (default 3, at
# most N) are the council's voters (bootstrap_expect V). Every agent joins the voters by
# address (no DNS). Data dirs, logs, configs and PIDs live in the state dir (default
# ${TMPDIR:-/tmp}/platelet-netns-X); each agent's API is its Unix socket D/nK/api.sock:
#   platelet members --api unix:D/n1/api.sock
# `down` stops the agents it started (SIGTERM, then SIGKILL after 10 s, by their recorded
# PIDs) and deletes the namespaces; the state dir stays for the logs. An `up` that fails
# half way takes down what it made.
set -euo pipefail

SUBNET=10.77.0
GOSSIP_PORT=7946
die() {
    echo "netns-cluster: $*" >&2
    exit 1
}
usage() {
    sed -n '5,7p' "$0" | sed 's/^# *//' >&2
    exit 2
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
n=0
if [ "$cmd" = up ]; then
    n=${1:-}
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] ||
        die "up needs a number of agents from 1 to 200, got '${n}'"
    shift
fi
voters=3
profile=lan
prefix=${NETNS_PREFIX:-plt}
dir=""
platelet=${PLATELET:-}
while [ $# -gt 0 ]; do
    case "$1" in
    --voters) voters=${2:?--voters needs a number}; shift 2 ;;
    --profile) profile=${2:?--profile needs lan, local or wan}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a name}; shift 2 ;;
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --platelet) platelet=${2:?--platelet needs the binary}; shift 2 ;;
    *) die "unknown argument '$1'" ;;
    esac
done
# Namespace names become file names under /run/netns; interface names stay inside them.
[[ "$prefix" =~ ^[a-zA-Z0-9_.-]{1,32}$ ]] || die "--prefix: letters, digits, '.', '_', '-' (at most 32)"
dir=${dir:-${TMPDIR:-/tmp}/platelet-netns-$prefix}
hub="$prefix-hub"

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$cmd needs root (network namespaces, veth and a bridge)"
    command -v ip >/dev/null || die "needs ip(8) from iproute2"
}

addr_of() { echo "$SUBNET.$((10 + $1))"; }

# The agents this state dir knows, by number: the files D/nK.pid.
nodes() {
    local f
    for f in "$dir"/n*.pid; do
        [ -e "$f" ] || continue
        f=${f##*/n}
        echo "${f%.pid}"
    done | sort -n
}

down() {
    local k pid i ns
    for k in $(nodes); do
        pid=$(cat "$dir/n$k.pid")
        kill -TERM "$pid" 2>/dev/null || continue
    done
    for k in $(nodes); do
        pid=$(cat "$dir/n$k.pid")
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$dir/n$k.pid"
    done
    # The namespaces of this prefix: the nodes' and the hub (deleting one deletes its links).
    for ns in $(ip netns list | awk '{print $1}'); do
        case "$ns" in "$prefix"-n[0-9]* | "$hub") ip netns del "$ns" ;; esac
    done
}

status() {
    local k ns pid state alive role
    printf '%-6s %-16s %-8s %-8s %-10s %s\n' NODE ADDRESS NETNS PROCESS RAFT MEMBERS_ALIVE
    for k in $(nodes); do
        ns="$prefix-n$k"
        pid=$(cat "$dir/n$k.pid")
        state=$(ip netns list | awk '{print $1}' | grep -qx "$ns" && echo yes || echo no)
        if kill -0 "$pid" 2>/dev/null; then
            alive=$("$platelet" members --api "unix:$dir/n$k/api.sock" 2>/dev/null | grep -cw alive || true)
            role=$("$platelet" raft status --api "unix:$dir/n$k/api.sock" --json 2>/dev/null |
                sed -n 's/.*"role":"\([a-z]*\)".*/\1/p')
            printf '%-6s %-16s %-8s %-8s %-10s %s\n' "n$k" "$(addr_of "$k"):$GOSSIP_PORT" "$state" \
                "$pid" "${role:--}" "${alive:-?}"
        else
            printf '%-6s %-16s %-8s %-8s %-10s %s\n' "n$k" "$(addr_of "$k"):$GOSSIP_PORT" "$state" \
                dead - -
        fi
    done
}

find_platelet() {
    if [ -z "$platelet" ]; then
        platelet=$(command -v platelet || true)
        [ -n "$platelet" ] || platelet="$(cd "$(dirname "$0")/.." && pwd)/build/platelet"
    fi
    [ -x "$platelet" ] || die "no platelet binary at '$platelet' (--platelet BIN or PLATELET=BIN)"
    platelet=$(cd "$(dirname "$platelet")" && pwd)/$(basename "$platelet")
}

up() {
    [ "$voters" -ge 1 ] 2>/dev/null || die "--voters needs a number >= 1"
    [ "$voters" -le "$n" ] || voters=$n
    case "$profile" in lan | local | wan) ;; *) die "--profile: lan, local or wan" ;; esac
    ip netns list | awk '{print $1}' | grep -qx "$hub" &&
        die "a cluster with prefix '$prefix' is up already (down first, or --prefix)"
    mkdir -p "$dir"
    [ -z "$(nodes)" ] || die "$dir holds agents of an earlier up (down first)"
    trap 'rc=$?; if [ $rc -ne 0 ]; then echo "netns-cluster: up failed; taking it down" >&2; down; fi' EXIT
    ip netns add "$hub"
    ip -n "$hub" link set lo up
    ip -n "$hub" link add br0 type bridge
    ip -n "$hub" link set br0 up
    local k ns a seeds=() i
    for ((k = 1; k <= voters; k++)); do seeds+=(--join "$(addr_of "$k"):$GOSSIP_PORT"); done
    cat >"$dir/voter.json" <<JSON
{"profile": "$profile", "raft": {"voter": true, "bootstrap_expect": $voters}}
JSON
    echo "{\"profile\": \"$profile\"}" >"$dir/member.json"
    for ((k = 1; k <= n; k++)); do
        ns="$prefix-n$k"
        a=$(addr_of "$k")
        ip netns add "$ns"
        ip -n "$hub" link add "v$k" type veth peer name eth0 netns "$ns"
        ip -n "$hub" link set "v$k" master br0 up
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "$a/24" dev eth0
        ip -n "$ns" link set eth0 up
        mkdir -p "$dir/n$k"
        local cfg=member.json
        [ "$k" -le "$voters" ] && cfg=voter.json
        # `ip netns exec` enters the namespace and execs the agent: $! is the agent's PID.
        ip netns exec "$ns" "$platelet" agent --config "$dir/$cfg" --name "n$k" \
            --bind "$a:$GOSSIP_PORT" --data-dir "$dir/n$k" "${seeds[@]}" \
            </dev/null >"$dir/n$k.log" 2>&1 &
        echo $! >"$dir/n$k.pid"
    done
    for ((k = 1; k <= n; k++)); do
        for ((i = 0; i < 100; i++)); do
            [ -S "$dir/n$k/api.sock" ] && break
            kill -0 "$(cat "$dir/n$k.pid")" 2>/dev/null ||
                die "agent n$k exited at start: $(tail -n 3 "$dir/n$k.log")"
            sleep 0.1
        done
        [ -S "$dir/n$k/api.sock" ] || die "agent n$k has no API after 10 s (log: $dir/n$k.log)"
    done
    trap - EXIT
    echo "netns-cluster: $n agents up ($voters voters), state in $dir"
    echo "  platelet members --api unix:$dir/n1/api.sock"
}

case "$cmd" in
up) need_root; find_platelet; up ;;
down) need_root; down; echo "netns-cluster: '$prefix' down (logs kept in $dir)" ;;
status) need_root; find_platelet; status ;;
-h | --help | help) usage ;;
*) die "unknown command '$cmd' (up N, status, down)" ;;
esac
