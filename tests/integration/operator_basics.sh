#!/usr/bin/env bash
# What a new operator tries first, with real processes: the version flags, a lone agent
# stopping at once, `raft status` right after starting agents in the background, voters
# that say whom they wait for, and Raft on a port of one's choosing.
source "$(dirname "$0")/lib.sh"

want="platelet $("$PLATELET" version | cut -d' ' -f2)"
[ "$("$PLATELET" --version)" = "$want" ] || fail "--version: $("$PLATELET" --version 2>&1)"
[ "$("$PLATELET" -v)" = "$want" ] || fail "-v: $("$PLATELET" -v 2>&1)"
expect_fail 2 "takes no arguments" "$PLATELET" --version extra
"$PLATELET" --help | grep -q -- "--version" || fail "--help does not mention --version"
pass "platelet --version and -v print the version"

# A lone agent stops at once: its leave waited 3 s for broadcasts nobody could receive.
# Timed by the agent's own log clock, from "stopping" to "left the cluster".
PORT=$(free_port)
spawn lone "$PLATELET" agent --name lone --bind "127.0.0.1:$PORT" --data-dir "$TEST_DIR/lone"
lone=$SPAWNED_PID
wait_for 10 "the lone agent's API" test -S "$TEST_DIR/lone/api.sock"
stop_agent "$lone" "the lone agent"
ms=$(python3 - "$TEST_DIR/lone.log" <<'PY'
import re, sys
from datetime import datetime
t = {}
for line in open(sys.argv[1]):
    for key in ("mod=agent stopping", "left the cluster"):
        if key in line:
            t[key] = datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
print(int((t["left the cluster"] - t["mod=agent stopping"]).total_seconds() * 1000))
PY
)
[ "$ms" -lt 1500 ] || fail "the lone agent took $ms ms to leave (it waited for broadcasts nobody could receive)"
pass "a lone agent leaves in $ms ms"

# The README's first steps: agents started in the background, then `raft status` at once.
# The command waits for the agent's socket (up to 2 s) instead of failing to connect.
source "$(dirname "$0")/raft_lib.sh"
council_configs
spawn quick "$PLATELET" agent --config "$TEST_DIR/solo.json" --name quick \
    --bind "127.0.0.1:$(free_port)" --data-dir "$TEST_DIR/quick"
quick=$SPAWNED_PID
"$PLATELET" raft status --api "unix:$TEST_DIR/quick/api.sock" >"$TEST_DIR/quick.status" ||
    fail "raft status right after starting the agent"
grep -q "^node  *quick$" "$TEST_DIR/quick.status" || fail "raft status: $(cat "$TEST_DIR/quick.status")"
stop_agent "$quick" "the quick agent"
start=$SECONDS
expect_fail 1 "cannot reach the agent at .*Couldn't connect to server \(is it running\? tried for 2 s\)" \
    "$PLATELET" raft status --api "unix:$TEST_DIR/quick/api.sock"
[ $((SECONDS - start)) -le 10 ] || fail "a missing agent took more than 10 s to report"
pass "raft status right after an agent starts in the background; a missing agent is named"

# Two voters of three wait for the third and say so, naming the ones they see; the third
# arrives and the council forms.
declare -A VPORT VPID
for n in w1 w2 w3; do VPORT[$n]=$(free_port); done
start_voter() { # name [flags...]
    local name=$1
    shift
    spawn "$name" "$PLATELET" agent --config "$TEST_DIR/voter.json" --name "$name" \
        --bind "127.0.0.1:${VPORT[$name]}" --data-dir "$TEST_DIR/$name" \
        --join "127.0.0.1:${VPORT[w1]}" "$@"
    VPID[$name]=$SPAWNED_PID
}
start_voter w1
start_voter w2
for n in w1 w2; do
    wait_for 10 "$n says whom it waits for" grep -q \
        "waiting for 3 voters to bootstrap the council (raft.bootstrap_expect): 2 alive so far (w1, w2); 1 more must start" \
        "$TEST_DIR/$n.log"
done
[ "$(field w1 '["role"]')" = none ] || fail "w1 is in a council of two"
"$PLATELET" raft status --api "unix:$(sock w1)" | grep -q "^waiting .*2 alive so far (w1, w2)" ||
    fail "raft status does not say what w1 waits for: $("$PLATELET" raft status --api "unix:$(sock w1)")"
pass "two voters of three say they wait for one more, naming the two"
# The third listens for Raft on a port of its own choosing (--raft-bind), not gossip + 1:
# the others learn it through gossip.
expect_fail 2 "--raft-bind: expected IP:PORT" "$PLATELET" agent --data-dir "$TEST_DIR/x" \
    --raft-bind nowhere
expect_fail 2 "--raft-bind: expected IP:PORT" "$PLATELET" agent --data-dir "$TEST_DIR/x" \
    --raft-bind 127.0.0.1:0
"$PLATELET" agent --help | grep -q -- "--raft-bind .*port + 1" || fail "--help does not explain --raft-bind"
RAFT_PORT=$(free_port)
start_voter w3 --raft-bind "127.0.0.1:$RAFT_PORT"
wait_for 20 "the council of three" one_leader w1 w2 w3
grep -q "mod=raft started addr=127.0.0.1:$RAFT_PORT " "$TEST_DIR/w3.log" || fail "w3 not on its --raft-bind"
if (exec 3<>"/dev/tcp/127.0.0.1/$((VPORT[w3] + 1))") 2>/dev/null; then
    fail "w3 listens on gossip + 1 as well"
fi
"$PLATELET" propose --api "unix:$(sock w3)" '{"via": "w3"}' >/dev/null || fail "a proposal through w3"
for n in w1 w2 w3; do stop_agent "${VPID[$n]}" "$n"; done
pass "the third voter arrives on its --raft-bind port and the council forms"
