#!/usr/bin/env bash
# What a new operator tries first, with real processes: the version flags.
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
