#!/usr/bin/env bash
# Disk full on a voter of three: r3's data directory is on a small tmpfs (mounted in a
# private mount namespace, so nothing outside the test sees it), and r3 leads the council
# under a steady proposal load through r1 and r2. The tmpfs is filled to the last byte.
# Then r3 hands leadership over (a leader below its reserve would refuse every proposal)
# and, as a follower, drops the appends it cannot write instead of stopping; it starts no
# election. r1 and r2 go on committing. When the space returns r3 catches up by itself:
# every acknowledged proposal is on all three voters at its acknowledged index, the ledger
# roots agree, and each voter's ledger checks clean after a graceful stop.
#
# Needs root and mount namespaces (disk_full_lib.sh); exits 77 (skipped) without them.
source "$(dirname "$0")/disk_full_lib.sh"
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

disk_mount
# r3's data dir is on the tmpfs; the link keeps the helpers' $TEST_DIR/r3 paths.
mkdir -p "$DISK/r3"
ln -s "$DISK/r3" "$TEST_DIR/r3"

council_configs
python3 - "$TEST_DIR/voter.json" "$TEST_DIR/r3.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["store"] = {"reserve_bytes": 4194304}
json.dump(cfg, open(sys.argv[2], "w"))
PY
NODES=(r1 r2 r3)
declare -A PORT PID
start_voters "${NODES[@]}"
leader=$(leader_of r1)
if [ "$leader" != r3 ]; then
    "$PLATELET" raft transfer --to r3 --api "unix:$(sock "$leader")" >/dev/null ||
        fail "cannot hand leadership from $leader to r3"
fi
r3_leads() { [ "$(leader_of r1)" = r3 ] && one_leader "${NODES[@]}"; }
wait_for 10 "r3 leading" r3_leads
pass "r3 leads; its data dir is on a 48 MiB tmpfs"

python3 "$(dirname "$0")/raft_propose.py" --seconds 14 --workers 4 10000000 full \
    "$(sock r1)" "$(sock r2)" >"$TEST_DIR/acked.json" &
LOAD_PID=$!
PIDS+=("$LOAD_PID")
sleep 2 # proposals commit before the disk fills: pacing, not a wait for an outcome

dd if=/dev/zero of="$DISK/fill" bs=1M 2>/dev/null || true
free=$(df --output=avail -B1 "$DISK" | tail -1 | tr -d ' ')
[ "$free" -lt 65536 ] || fail "the tmpfs still has $free bytes free after filling it"
pass "r3's disk is full ($free bytes free)"

other_leads() { one_leader r1 r2 && [ "$(leader_of r1)" != r3 ]; }
wait_for 10 "r3 handing leadership over" other_leads
grep -q "handing leadership over" "$TEST_DIR/r3.log" || fail "r3's log does not say why it handed over"
dropped() { [ "$(field r3 '["dropped_below_reserve"]')" -gt 0 ]; }
wait_for 10 "r3 dropping appends it cannot write" dropped
wait_for 10 "a proposal through r1 while r3's disk is full" \
    "$PLATELET" propose --api "unix:$(sock r1)" '{"while": "full"}'
kill -0 "${PID[r3]}" || fail "r3 died on a full disk"
# r3 cannot write the new term, so it drops the new leader's messages and learns it was
# deposed only when its own quorum check fails (an election timeout without a majority).
r3_deposed() { [ "$(field r3 '["role"]')" != leader ]; }
wait_for 10 "r3 stepping down from its old term" r3_deposed
pass "$(leader_of r1) leads; r3 runs on, dropping what it cannot write"

rm -f "$DISK/fill"
wait "$LOAD_PID" || fail "the proposal load failed"
acked=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_DIR/acked.json")
[ "$acked" -ge 50 ] || fail "only $acked proposals acknowledged"
top=$(python3 -c 'import json,sys; print(max(a["index"] for a in json.load(open(sys.argv[1]))))' "$TEST_DIR/acked.json")
wait_for 30 "r3 caught up: the voters' ledgers equal" same_ledger "$top" "${NODES[@]}"
[ "$(field r3 '["ledger_behind"]')" = False ] || fail "r3 still says its ledger is behind"
pass "space back: r3 caught up; $acked proposals acknowledged, ledgers agree"

for n in "${NODES[@]}"; do stop_agent "${PID[$n]}" "$n"; done
acked_in_ledgers "${NODES[@]}" -- full="$TEST_DIR/acked.json"
for n in "${NODES[@]}"; do
    "$PLATELET" ledger check --data-dir "$TEST_DIR/$n" >/dev/null || fail "$n's ledger does not check"
done
pass "every acknowledged proposal on every voter; every ledger checks clean"
