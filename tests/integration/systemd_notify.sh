#!/usr/bin/env bash
# The agent under systemd's notify protocol, with a real datagram socket standing in for
# systemd (notify_listener.py): READY=1 once it listens, WATCHDOG=1 at half of
# WATCHDOG_USEC, STOPPING=1 on SIGTERM, in that order; an abstract socket name; a watchdog
# meant for another pid is left alone; a bad NOTIFY_SOCKET is named and ignored; supervised
# services do not inherit the variables. Then `systemd-analyze verify` must accept
# deploy/systemd/platelet.service without a word (it warns and still exits 0 on unknown
# keys, so any output fails the test).
source "$(dirname "$0")/lib.sh"
SRC=${PLATELET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
LISTENER="$SRC/tests/integration/notify_listener.py"

# A listener's log holds the datagrams received so far, one a line, after its own
# "listening"; these read it.
has_line() { grep -q "$2" "$1"; }
count_lines() { grep -c "$2" "$1" || true; }
at_least() { [ "$(count_lines "$1" "$2")" -ge "$3" ]; }

# --- 1: a socket path, a watchdog of 100 ms, a supervised service -------------------------
sock="$TEST_DIR/notify.sock"
spawn listener1 python3 "$LISTENER" "$sock"
listener=$SPAWNED_PID
wait_for 10 "the notify listener" has_line "$TEST_DIR/listener1.log" '^listening$'

cat >"$TEST_DIR/svc.json" <<EOF
{"services": [{"name": "envdump", "type": "supervised", "command": "/bin/sh",
  "args": ["-c", "echo \"notify=\${NOTIFY_SOCKET-unset} watchdog=\${WATCHDOG_USEC-unset}\" >$TEST_DIR/env.txt; exec sleep 300"]}]}
EOF
port=$(free_port)
spawn n1 env NOTIFY_SOCKET="$sock" WATCHDOG_USEC=100000 "$PLATELET" agent --name n1 \
    --bind "127.0.0.1:$port" --data-dir "$TEST_DIR/n1" --config "$TEST_DIR/svc.json"
agent=$SPAWNED_PID
wait_for 10 "READY=1" has_line "$TEST_DIR/listener1.log" '^READY=1|STATUS=running: name=n1'
# READY promises a listening agent: the API answers at once, without a wait.
curl -sf --max-time 2 --unix-socket "$TEST_DIR/n1/api.sock" http://agent/v1/members >/dev/null ||
    fail "READY=1 arrived but the API did not answer"
grep -q "told systemd we are ready socket=$sock watchdog_ms=50" "$TEST_DIR/n1.log" ||
    fail "the ready log line does not name the socket and a 50 ms watchdog"
pass "READY=1 once the agent listens"

wait_for 10 "three WATCHDOG=1" at_least "$TEST_DIR/listener1.log" '^WATCHDOG=1$' 3
pass "WATCHDOG=1 from the loop at half of WATCHDOG_USEC"

wait_for 10 "the supervised service's environment" test -s "$TEST_DIR/env.txt"
[ "$(cat "$TEST_DIR/env.txt")" = "notify=unset watchdog=unset" ] ||
    fail "a supervised service inherited systemd's variables: $(cat "$TEST_DIR/env.txt")"
pass "supervised services do not inherit NOTIFY_SOCKET or WATCHDOG_USEC"

stop_agent "$agent" "agent n1"
wait_for 10 "STOPPING=1" has_line "$TEST_DIR/listener1.log" '^STOPPING=1'
# The order: READY first, every WATCHDOG after it, STOPPING after the first WATCHDOG.
order=$(grep -n '^READY=1\|^WATCHDOG=1\|^STOPPING=1' "$TEST_DIR/listener1.log" | cut -d= -f1)
ready_at=$(grep -n '^READY=1' "$TEST_DIR/listener1.log" | head -1 | cut -d: -f1)
first_wd=$(grep -n '^WATCHDOG=1' "$TEST_DIR/listener1.log" | head -1 | cut -d: -f1)
stop_at=$(grep -n '^STOPPING=1' "$TEST_DIR/listener1.log" | head -1 | cut -d: -f1)
[ "$(count_lines "$TEST_DIR/listener1.log" '^READY=1')" -eq 1 ] || fail "READY=1 sent more than once"
[ "$ready_at" -lt "$first_wd" ] && [ "$first_wd" -lt "$stop_at" ] ||
    fail "expected READY, WATCHDOG, STOPPING in that order, got: $order"
pass "READY=1, WATCHDOG=1, STOPPING=1 arrive in that order"

# --- 2: an abstract socket; WATCHDOG_PID names another process -----------------------
abstract="@platelet-test-$$-$RANDOM"
spawn listener2 python3 "$LISTENER" "$abstract"
wait_for 10 "the abstract notify listener" has_line "$TEST_DIR/listener2.log" '^listening$'
spawn n2 env NOTIFY_SOCKET="$abstract" WATCHDOG_USEC=100000 WATCHDOG_PID=1 "$PLATELET" agent \
    --name n2 --bind "127.0.0.1:$(free_port)" --data-dir "$TEST_DIR/n2"
agent=$SPAWNED_PID
wait_for 10 "READY=1 on the abstract socket" has_line "$TEST_DIR/listener2.log" '^READY=1'
grep -q "watchdog=off (WATCHDOG_PID=1 is another process)" "$TEST_DIR/n2.log" ||
    fail "a watchdog meant for pid 1 was not refused with its reason"
stop_agent "$agent" "agent n2"
wait_for 10 "STOPPING=1 on the abstract socket" has_line "$TEST_DIR/listener2.log" '^STOPPING=1'
! has_line "$TEST_DIR/listener2.log" '^WATCHDOG=1' || fail "pinged a watchdog meant for pid 1"
pass "an abstract socket; a watchdog meant for another pid is left alone"

# --- 3: a NOTIFY_SOCKET that is no socket address is named and ignored ----------------
spawn n3 env NOTIFY_SOCKET=relative/notify.sock "$PLATELET" agent --name n3 \
    --bind "127.0.0.1:$(free_port)" --data-dir "$TEST_DIR/n3"
agent=$SPAWNED_PID
wait_for 10 "agent n3's API" test -S "$TEST_DIR/n3/api.sock"
grep -q 'NOTIFY_SOCKET="relative/notify.sock" ignored: expected an absolute path' "$TEST_DIR/n3.log" ||
    fail "a relative NOTIFY_SOCKET was not named in the log"
stop_agent "$agent" "agent n3"
pass "a malformed NOTIFY_SOCKET is named and ignored"

# --- 4: systemd-analyze verify --------------------------------------------------------
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze is not installed; the unit file was not verified"
    exit 0
fi
# verify insists that ExecStart's program exists, so the copy names the binary under
# test instead of /usr/bin/platelet; nothing else changes. --man=no: man(1) would look
# for the page in this machine's manual, where no package installed it (deb_package.sh
# verifies the unit as installed, man page and all).
mkdir -p "$TEST_DIR/unit"
binary=$(readlink -f "$PLATELET")
sed "s|^ExecStart=/usr/bin/platelet |ExecStart=$binary |" "$SRC/deploy/systemd/platelet.service" \
    >"$TEST_DIR/unit/platelet.service"
grep -q "^ExecStart=$binary agent --config /etc/platelet/agent.json$" "$TEST_DIR/unit/platelet.service" ||
    fail "the unit's ExecStart is not /usr/bin/platelet agent --config /etc/platelet/agent.json"
out=$(systemd-analyze verify --man=no "$TEST_DIR/unit/platelet.service" 2>&1) ||
    fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
for key in Type=notify Restart=on-failure WatchdogSec= ProtectSystem=strict \
    StateDirectory=platelet NoNewPrivileges=yes User=platelet KillMode=mixed; do
    grep -q "^$key" "$TEST_DIR/unit/platelet.service" || fail "the unit lacks $key"
done
pass "systemd-analyze verify accepts deploy/systemd/platelet.service"
