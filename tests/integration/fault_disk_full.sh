#!/usr/bin/env bash
# Disk full: a lone voter a1 whose data directory is on a small tmpfs (mounted in a private
# mount namespace, so nothing outside the test sees it) supervises a sample service, and a
# member m1 gossips with it. The tmpfs is filled to the last byte. Then a1 keeps answering
# probes (m1's probes of it succeed and m1 never suspects it), keeps healing (a crash of
# its service is still restarted), refuses proposals with a clear error (exit 1, "no space")
# and logs its incident writes as refused, without crashing. When the space returns, it
# recovers by itself: proposals commit and incidents are written again. After a graceful
# stop, `platelet ledger check` finds its ledger clean.
source "$(dirname "$0")/disk_full_lib.sh"
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

disk_mount 'cp "$DISK/a1/db/LOG" "$TEST_DIR/a1-rocksdb-LOG.txt" 2>/dev/null'

declare -A PORT PID
PORT[a1]=$(free_port)
PORT[m1]=$(free_port)
SVC=$(free_port)
cat >"$TEST_DIR/a1.json" <<JSON
{"profile": "local",
 "store": {"reserve_bytes": 4194304},
 "raft": {"voter": true, "bootstrap_expect": 1, "election_timeout_ms": 500, "heartbeat_ms": 50},
 "services": [{"name": "web", "command": "$PLATELET",
   "args": ["sample-service", "--port", "$SVC"], "start_ms": 300,
   "checks": [{"type": "http", "url": "http://127.0.0.1:$SVC/health",
               "interval_ms": 300, "timeout_ms": 300}]}]}
JSON
echo '{"profile": "local"}' >"$TEST_DIR/m1.json"
spawn a1 "$PLATELET" agent --config "$TEST_DIR/a1.json" --name a1 \
    --bind "127.0.0.1:${PORT[a1]}" --data-dir "$DISK/a1"
PID[a1]=$SPAWNED_PID
spawn m1 "$PLATELET" agent --config "$TEST_DIR/m1.json" --name m1 \
    --bind "127.0.0.1:${PORT[m1]}" --data-dir "$TEST_DIR/m1" --join "127.0.0.1:${PORT[a1]}"
PID[m1]=$SPAWNED_PID
A1="unix:$DISK/a1/api.sock"
M1="unix:$(sock m1)"
propose() { "$PLATELET" propose --api "$A1" "$@"; }
svc() { "$PLATELET" services --api "$A1" --json |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["services"][0]; sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"; }
healed() { "$PLATELET" incidents --api "$A1" --json |
    python3 -c 'import json,sys; sys.exit(0 if sum(i["outcome"] == "healed" for i in json.load(sys.stdin)["incidents"]) >= int(sys.argv[1]) else 1)' "$1"; }
a1_alive_for_m1() { "$PLATELET" members --api "$M1" --json |
    python3 -c 'import json,sys; sys.exit(0 if any(m["name"] == "a1" and m["status"] == "alive" for m in json.load(sys.stdin)) else 1)'; }

wait_for 10 "a1's first proposal" propose '{"first": true}'
wait_for 20 "a1's service healthy" svc "s['healthy']"
wait_for 10 "m1 sees a1 alive" a1_alive_for_m1
pass "a1 commits, supervises a healthy service, and gossips with m1"

# Fill the tmpfs to its last byte.
dd if=/dev/zero of="$DISK/fill" bs=1M 2>/dev/null || true
free=$(df --output=avail -B1 "$DISK" | tail -1 | tr -d ' ')
[ "$free" -lt 65536 ] || fail "the tmpfs still has $free bytes free after filling it"
pass "the data directory's disk is full ($free bytes free)"

expect_fail 1 "no space" propose '{"while": "full"}'
kill -0 "${PID[a1]}" || fail "a1 died when a proposal met a full disk"
pass "a proposal on a full disk is refused with a clear error; a1 runs on"

# Gossip: m1's probes of a1 keep succeeding, and m1 never suspects a1.
base=$(gossip_counter "$M1" "probes")
wait_for 20 "ten more probes by m1" counter_at_least "$M1" "probes" $((base + 10))
a1_alive_for_m1 || fail "m1 does not see a1 alive while a1's disk is full"
grep -q "suspect name=a1" "$TEST_DIR/m1.log" && fail "m1 suspected a1 while a1's disk was full"
pass "a1 answers probes while its disk is full"

# Healing: a crash is still restarted; the incident's write is refused and says why.
starts=$("$PLATELET" services --api "$A1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"][0]["starts"])')
curl -s --max-time 2 "http://127.0.0.1:$SVC/fault/crash" >/dev/null || true
wait_for 20 "the crashed service restarted on a full disk" svc "s['healthy'] and s['starts'] > $starts"
wait_for 10 "a log line naming the refused incident write" grep -Eq "incident.*no space" "$TEST_DIR/a1.log"
kill -0 "${PID[a1]}" || fail "a1 died when an incident write met a full disk"
pass "a crash is healed on a full disk; the refused incident write is logged"

# Space returns: a1 recovers by itself.
rm -f "$DISK/fill"
wait_for 20 "a proposal after the space returned" propose '{"after": "space"}'
healed_before=$("$PLATELET" incidents --api "$A1" --json | python3 -c 'import json,sys; print(sum(i["outcome"] == "healed" for i in json.load(sys.stdin)["incidents"]))')
curl -s --max-time 2 "http://127.0.0.1:$SVC/fault/crash" >/dev/null || true
wait_for 20 "a healed incident written after the space returned" healed $((healed_before + 1))
pass "with space back, proposals commit and incidents are written again"

stop_agent "${PID[a1]}" a1
"$PLATELET" ledger check --data-dir "$DISK/a1" >/dev/null || fail "a1's ledger does not check after the disk-full episode"
pass "a1 stopped cleanly and its ledger checks"
