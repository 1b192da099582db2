#!/usr/bin/env bash
# `platelet chaos run --netns`: three agents, each in its own network namespace with its own
# address on a bridge, and the leader cut off by nftables in the namespaces
# (tests/chaos/netns_leader_partition.json). Every check must hold, and the report must show
# the kernel did the cutting: the nemesis's mechanism is nftables, the rules' counters
# dropped packets, the agents' own transport fault counters stayed 0, and the peers still
# lost the leader (it was seen down; another node led). After the run no namespace or link
# of it is left. Then: a leftover of a dead run (a namespace and a bridge named like ours,
# with no one holding its lock) is removed by the next run, and that run, SIGKILLed once
# its council formed, leaves nothing behind either (its guard removes the network). Without
# root --netns is refused with exit 2 naming root, and without nft naming nft.
# What breaks it: links cut in the transport instead, a namespace or bridge left after a
# run or a kill, a run that cannot reach its agents over the bridge, or a stale clean-up
# that misses a dead run's leftovers. Needs root: exit 77 (skipped) otherwise.
source "$(dirname "$0")/lib.sh"
SRC=${PLATELET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SCENARIO="$SRC/tests/chaos/netns_leader_partition.json"

[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (network namespaces, nftables)"; exit 77; }
export TMPDIR="$TEST_DIR/tmp"
mkdir -p "$TMPDIR"
ours() { { ls /run/netns 2>/dev/null; ls /sys/class/net; } | grep "^$1" || true; }

# Refusals: not root, no nft.
set +e
setpriv --reuid=65534 --regid=65534 --clear-groups "$PLATELET" chaos run "$SCENARIO" --netns \
    2>"$TEST_DIR/nonroot.err"
rc_user=$?
mkdir -p "$TEST_DIR/bin" && ln -s "$(command -v ip)" "$TEST_DIR/bin/ip"
PATH="$TEST_DIR/bin" "$PLATELET" chaos run "$SCENARIO" --netns 2>"$TEST_DIR/nonft.err"
rc_nft=$?
set -e
[ $rc_user = 2 ] && grep -q -- '--netns needs root' "$TEST_DIR/nonroot.err" ||
    fail "not root: exit $rc_user, $(cat "$TEST_DIR/nonroot.err")"
[ $rc_nft = 2 ] && grep -q -- '--netns needs nft(8)' "$TEST_DIR/nonft.err" ||
    fail "no nft: exit $rc_nft, $(cat "$TEST_DIR/nonft.err")"
pass "--netns refused without root and without nft (exit 2, naming what is missing)"

"$PLATELET" chaos run "$SCENARIO" --netns --json "$TEST_DIR/r.json" 2>"$TEST_DIR/run.log" ||
    fail "a check failed: $(grep -E 'FAILS|failed|--netns' "$TEST_DIR/run.log" | head -5)"
python3 - "$TEST_DIR/r.json" <<'PY' || fail "the report"
import ipaddress, json, sys
r = json.load(open(sys.argv[1]))
assert r["verdict"] == "pass", r["verdict"]
assert all(c["holds"] for c in r["checks"]), [c for c in r["checks"] if not c["holds"]]
net = r["network"]
assert net["mode"] == "netns", net
subnet = ipaddress.ip_network(net["subnet"])
addrs = [n["addr"] for n in net["nodes"]]
assert len(set(addrs)) == 3 and all(ipaddress.ip_address(a) in subnet for a in addrs), net
assert ipaddress.ip_address(net["gateway"]) in subnet and net["gateway"] not in addrs, net
(cut,) = r["nemeses"]
assert cut["mechanism"].startswith("kernel: nftables"), cut["mechanism"]
assert cut["errors"] == 0 and cut["kernel_dropped"] > 0, cut
# The kernel cut, not the agents: their transports dropped and held nothing.
tf = r["transport_faults"]
assert len(tf) == 3 and all(t["dropped"] == 0 and t["delayed"] == 0 for t in tf), tf
# ...and the peers lost the leader all the same.
(old,) = cut["targets"]
(h,) = [h for h in r["healing"] if h["fault"] == "partition"]
assert h["node"] == old and h["detect_ms"] is not None and h["success"], h
after = [l for l in r["leaders"] if cut["start_ms"] < l["t_ms"] < cut["end_ms"]]
assert after and after[0]["node"] != old, ("no other leader while cut off", old, r["leaders"])
print("ok: %s cut off by nftables (%d packets dropped by the kernel, 0 by the agents), "
      "seen down after %d ms, %s led meanwhile" % (old, cut["kernel_dropped"], h["detect_ms"],
                                                   after[0]["node"]))
print(net["bridge"])
PY
bridge=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["network"]["bridge"])' "$TEST_DIR/r.json")
[ -z "$(ours "$bridge")" ] || fail "left behind after the run: $(ours "$bridge")"
pass "every check holds; the leader was cut off by the kernel; nothing of $bridge is left"

# A dead run's leftovers (no one holds its lock), then a run killed with SIGKILL.
stale=$(printf 'plch%06x' $(( (RANDOM << 9 ^ RANDOM) & 0xffffff )))
ip netns add "${stale}n1"
ip link add "$stale" type bridge
"$PLATELET" chaos run "$SCENARIO" --netns 2>"$TEST_DIR/killed.log" &
PIDS+=($!)
harness=$!
wait_for 30 "the killed run's council" grep -q 'formed a council' "$TEST_DIR/killed.log"
grep -q 'removed 2 namespaces and links an earlier run left behind' "$TEST_DIR/killed.log" ||
    fail "the stale clean-up: $(head -3 "$TEST_DIR/killed.log")"
[ -z "$(ours "$stale")" ] || fail "the dead run's leftovers are still here: $(ours "$stale")"
pass "a dead run's namespace and bridge were removed by the next run"
bridge=$(sed -n 's/^chaos: --netns: bridge \(plch[0-9a-f]*\) .*/\1/p' "$TEST_DIR/killed.log")
[ -n "$bridge" ] && [ -n "$(ours "$bridge")" ] || fail "the killed run's network: $(head -3 "$TEST_DIR/killed.log")"
kill -KILL "$harness"
no_leftovers() { [ -z "$(ours "$bridge")" ]; }
wait_for 15 "the guard to remove $bridge's namespaces and links" no_leftovers
agents_gone() { ! ps -eo args | grep -q "^$PLATELET agent --config $TMPDIR/"; }
wait_for 15 "the killed run's agents to exit" agents_gone
pass "SIGKILL of the harness: its agents exit, its guard removes every namespace and link"
