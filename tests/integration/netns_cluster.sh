#!/usr/bin/env bash
# deploy/netns-cluster.sh as a multi-host cluster: five agents, each in its own network
# namespace with its own address on a bridge, joined by address (no DNS); three are the
# council's voters. Every agent sees all five alive at the others' namespace addresses;
# a member's proposal commits; then the leader is SIGKILLed: the four others see it dead,
# the two voters left elect a leader and the council still commits, with one ledger.
# `down` leaves no namespace behind (and runs on any exit, by trap). Needs root: exit 77
# (skipped) otherwise, or where the kernel refuses network namespaces.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (network namespaces)"; exit 77; }
PREFIX="pltt$$"
if ! ip netns add "$PREFIX-probe" 2>/dev/null; then
    echo "skipped: cannot create a network namespace here"
    exit 77
fi
ip netns del "$PREFIX-probe"
SRC=${PLATELET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NETNS=("$SRC/deploy/netns-cluster.sh")
ARGS=(--prefix "$PREFIX" --dir "$TEST_DIR")
# The trap tears the namespaces down before lib.sh's cleanup (which keeps the exit status).
trap 'rc=$?; set +e; "${NETNS[@]}" down "${ARGS[@]}" >/dev/null 2>&1 || true; (exit $rc); cleanup' EXIT

"${NETNS[@]}" up 5 "${ARGS[@]}" --platelet "$PLATELET" || fail "netns-cluster.sh up 5"
[ "$(ip netns list | grep -c "^$PREFIX-")" -eq 6 ] || fail "want 6 namespaces: $(ip netns list)"
ALL=(n1 n2 n3 n4 n5)

# sees NODE STATUS NAME...: NODE's member list has each NAME with STATUS, at its own
# namespace's address (10.77.0.(10+K)).
sees() {
    local node=$1 want=$2
    shift 2
    "$PLATELET" members --api "unix:$(sock "$node")" --json | python3 -c '
import json, sys
want, names = sys.argv[1], sys.argv[2:]
m = {x["name"]: x for x in json.load(sys.stdin)}
for n in names:
    x = m.get(n)
    if x is None or x["status"] != want or x["addr"] != "10.77.0.%d:7946" % (10 + int(n[1:])):
        sys.exit(1)' "$want" "$@"
}
for n in "${ALL[@]}"; do wait_for 20 "$n sees all five alive at their addresses" sees "$n" alive "${ALL[@]}"; done
wait_for 20 "one leader among the voters" one_leader n1 n2 n3
pass "five agents in five namespaces see each other alive; the council has a leader"

propose() { "$PLATELET" propose --api "unix:$(sock "$1")" "{\"from\": \"$1\", \"n\": $2}" >/dev/null; }
wait_for 10 "a member's proposal commits" propose n4 1
leader=$(leader_of n1)
size=$(field "$leader" '["ledger"]["size"]')

# The leader dies.
kill -KILL "$(cat "$TEST_DIR/$leader.pid")"
rest=()
for n in "${ALL[@]}"; do [ "$n" = "$leader" ] || rest+=("$n"); done
for n in "${rest[@]}"; do wait_for 30 "$n sees $leader dead" sees "$n" dead "$leader"; done
voters=()
for n in n1 n2 n3; do [ "$n" = "$leader" ] || voters+=("$n"); done
wait_for 20 "a new leader among ${voters[*]}" one_leader "${voters[@]}"
member=n5
wait_for 20 "a proposal commits without $leader" propose "$member" 2
wait_for 10 "the voters left hold one ledger" same_ledger $((size + 1)) "${voters[@]}"
"${NETNS[@]}" status "${ARGS[@]}" --platelet "$PLATELET" | grep -E "^$leader .* dead" >/dev/null ||
    fail "status does not show $leader dead"
pass "the leader ($leader) killed: the four others see it dead, the council commits on"

"${NETNS[@]}" down "${ARGS[@]}" >/dev/null || fail "netns-cluster.sh down"
[ "$(ip netns list | grep -c "^$PREFIX-" || true)" -eq 0 ] || fail "namespaces left: $(ip netns list)"
for n in "${rest[@]}"; do
    grep -q "exited" "$TEST_DIR/$n.log" || fail "$n did not stop cleanly"
done
pass "down stops the agents and deletes every namespace"
