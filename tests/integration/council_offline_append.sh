#!/usr/bin/env bash
# `platelet ledger append --data-dir D` refuses a council member's data dir (its ledger is
# Raft's state machine), says why and what to do, and leaves the ledger as it was; the
# member still starts. A ledger written outside Raft before the agent first ran is named
# at start, with the way to recover.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

council_configs
start() { # name
    PORT=$(free_port)
    spawn "$1" "$PLATELET" agent --config "$TEST_DIR/solo.json" --name "$1" \
        --bind "127.0.0.1:$PORT" --data-dir "$TEST_DIR/$1"
    PID=$SPAWNED_PID
}
D="$TEST_DIR/a1"
start a1
wait_for 10 "a first proposal" "$PLATELET" propose --api "unix:$(sock a1)" '{"n": 1}'
stop_agent "$PID" a1
before=$("$PLATELET" ledger status --data-dir "$D" --json)

echo '{"offline": true}' >"$TEST_DIR/line.jsonl"
expect_fail 1 "council member's data dir: its ledger is written by Raft alone.*platelet propose --api unix:$D/api.sock" \
    "$PLATELET" ledger append --data-dir "$D" <"$TEST_DIR/line.jsonl"
[ "$("$PLATELET" ledger status --data-dir "$D" --json)" = "$before" ] ||
    fail "the refused append changed the ledger"
pass "ledger append refused on a council member's data dir; the ledger is unchanged"

start a1
wait_for 10 "a proposal after the refused append" "$PLATELET" propose --api "unix:$(sock a1)" '{"n": 2}'
stop_agent "$PID" a1
pass "the member starts and commits after the refused append"

# A data dir whose ledger was written before Raft ever ran there (as ledger append did to
# council members before it refused them): the agent names the cause and the way back.
"$PLATELET" ledger append --data-dir "$TEST_DIR/b1" <"$TEST_DIR/line.jsonl" >/dev/null ||
    fail "ledger append on a fresh data dir"
start b1
rc=0
wait "$PID" || rc=$?
[ "$rc" -eq 1 ] || fail "the agent started on a ledger longer than its Raft log (exit $rc)"
grep -q "the ledger holds 1 entries but the Raft log ends at 0: entries were written outside Raft.*audit export --data-dir $TEST_DIR/b1.*start with an empty one" \
    "$TEST_DIR/b1.log" || fail "no hint at start: $(tail -n 2 "$TEST_DIR/b1.log")"
pass "a ledger written outside Raft is named at start, with the way to recover"
