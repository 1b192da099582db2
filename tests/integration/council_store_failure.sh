#!/usr/bin/env bash
# An agent that stops because something is wrong exits non-zero, so a supervisor sees it.
# A lone voter runs under a file size limit (SIGXFSZ ignored, so writes past it fail with
# EFBIG as on a full disk); proposals grow its RocksDB log until a write fails. The voter
# must stop with exit status 1 and a log line with RocksDB's reason. Started again without
# the limit, the synced Raft log rebuilds what the ledger missed and proposals commit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

council_configs
PORT=$(free_port)
start() { # [ulimit -f blocks]
    local limit=${1:-unlimited}
    spawn a1 bash -c 'trap "" XFSZ; ulimit -f "$1"; shift; exec "$@"' _ "$limit" \
        "$PLATELET" agent --config "$TEST_DIR/solo.json" --name a1 --bind "127.0.0.1:$PORT" \
        --data-dir "$TEST_DIR/a1"
    PID=$SPAWNED_PID
}
propose() { "$PLATELET" propose --api "unix:$(sock a1)" "$@"; }

start 512 # 512 KiB: the RocksDB write-ahead log (and a flushed 1 MiB memtable) passes it after some 10 notes of 30 KB
wait_for 10 "the first proposal" propose '{"first": true}'
body=$(python3 -c 'print("{\"s\": \"" + "x" * 30000 + "\"}")')
for i in $(seq 1 400); do
    propose "$body" >/dev/null 2>&1 || break
done
[ "$i" -lt 400 ] || fail "400 proposals of 30 KB fitted under a 512 KiB file size limit"
exited() { ! kill -0 "$PID" 2>/dev/null; }
wait_for 20 "the agent to stop after its store failed" exited
rc=0
wait "$PID" || rc=$?
[ "$rc" -eq 1 ] || fail "the agent stopped with exit status $rc after its store failed, not 1"
grep -q "ERROR.*mod=raft .*storage engine error: .*stopping the node" "$TEST_DIR/a1.log" ||
    fail "no error line naming the store failure"
grep -q "ERROR.*exited after an error" "$TEST_DIR/a1.log" || fail "no final error line"
pass "the store failed after $i proposals; the agent stopped with exit status 1"

mv "$TEST_DIR/a1.log" "$TEST_DIR/a1-failed.log"
start
wait_for 10 "a proposal after the restart" propose '{"after": "restart"}'
# One status read for both (the healer may commit a member event between two reads).
applied_all() { status a1 | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["ledger"]["size"] == d["commit_index"] else 1)'; }
wait_for 10 "the ledger holding every committed entry after the restart" applied_all
size=$(field a1 '["ledger"]["size"]')
stop_agent "$PID" a1
"$PLATELET" ledger check --data-dir "$TEST_DIR/a1" >/dev/null || fail "ledger check after the restart"
pass "restarted without the limit: $size entries, the ledger checks, exit 0 on SIGTERM"
