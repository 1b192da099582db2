#!/bin/sh
# Overlapping faults on one service, as a new user meets them in the first minute: a crash;
# then, as soon as /health answers again (before the agent's own check has seen the new
# process healthy), a hang; then an error burst. Each must be healed by a restart of its own:
# the hang must not be taken for a note on the crash's incident and left hung. start_ms
# (2 s before the agent first checks a new process) makes the window of the first minute
# wide enough to hit every time: the hang lands while the crash's restart is being verified.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_overlap

cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "web", "command": "$PLATELET",
  "args": ["sample-service", "--port", "$SVC_PORT"], "grace_ms": 5000, "start_ms": 2000,
  "verify_ms": 30000,
  "checks": [{"type": "http", "url": "$(sample_url /health)", "interval_ms": 1000,
              "timeout_ms": 500, "failures": 3, "kill_grace_ms": 300}],
  "metrics": {"url": "$(sample_url /metrics)", "interval_ms": 500,
              "requests": "sample_requests_total", "errors": "sample_errors_total",
              "latency": "sample_request_duration_seconds"},
  "policy": {"thresholds": {"error_rate": 0.05}, "error_window_ms": 5000,
             "error_min_requests": 20}}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy service" svc_is "s['healthy'] and s['pid'] > 0"
pid0=$(svc_is "s['pid']")

# 1. Crash; the hang comes the moment the new process answers.
curl -s --max-time 2 "$(sample_url /fault/crash)" >/dev/null || true
wait_for 20 "a new process answering" sh -c \
    "curl -sf --max-time 1 $(sample_url /health) && [ \"\$($PLATELET services --api $API --json |
     python3 -c 'import json,sys; print(json.load(sys.stdin)[\"services\"][0][\"pid\"])')\" != $pid0 ]"
pid1=$(svc_is "s['pid']")
curl -s --max-time 2 "$(sample_url /fault/hang)" >/dev/null || true

# 2. The hung process must go: replaced by a new one that answers, within the check's
# detection (3 x 1 s) plus the kill grace and a start; 30 s leaves room for a slow machine.
wait_for 30 "the hung process replaced" svc_is "s['pid'] not in (0, $pid1) and s['healthy']"
if kill -0 "$pid1" 2>/dev/null; then fail "the hung process $pid1 is still there"; fi
curl -sf --max-time 2 "$(sample_url /health)" >/dev/null || fail "the new process does not answer"
pid2=$(svc_is "s['pid']")
# Both faults are accounted for, and none is left open.
all_closed() { incidents | json "all(i['state'] == 'closed' for i in d['incidents'])"; }
wait_for 30 "every incident closed" all_closed
incidents >"$WORK/incs.json"
json "any(e['kind'] == 'action' and 'grace' in e['detail'] and '300 ms' in e['detail']
          for i in d['incidents'] for e in i['timeline'])" <"$WORK/incs.json" >/dev/null ||
    fail "the hung process was not stopped with the check's kill grace: $(cat "$WORK/incs.json")"

# 3. An error burst on the same service: an error-rate incident, healed by a restart.
curl -sf --max-time 2 "$(sample_url '/fault/errors?rate=1')" >/dev/null ||
    fail "cannot switch on the error fault"
load 200 &
LOAD_PID=$!
PIDS="$PIDS $LOAD_PID"
wait_for 40 "a healed error-rate incident" inc_is \
    "i['diagnosis']['signal'] == 'error_rate' and i['outcome'] == 'healed'"
kill "$LOAD_PID" 2>/dev/null || true
pid3=$(svc_is "s['pid']")
[ "$pid3" != "$pid2" ] || fail "the error burst did not restart the service"
curl -sf --max-time 2 "$(sample_url /health)" >/dev/null || fail "not answering at the end"
all_healed() { incidents | json "all(i['outcome'] == 'healed' for i in d['incidents'])"; }
wait_for 30 "every incident healed" all_healed

# 4. An operator stop is not a failure: the process goes, no incident opens for its exit
# (the machine decides in the same step that handles the exit), until it is started again.
n_before=$(incidents | json "len(d['incidents'])")
"$PLATELET" service stop web --api "$API" | grep -q "web: process" || fail "service stop failed"
wait_for 20 "the stopped process gone" svc_is "s['pid'] == 0 and s['process'] == 'down'"
[ "$(incidents | json "len(d['incidents'])")" = "$n_before" ] ||
    fail "stopping the service opened an incident: $(incidents)"
svc_is "s['healing'] == 'idle' and s['open_incident'] is None" >/dev/null ||
    fail "a stopped service is being healed: $(services)"
if "$PLATELET" service restart web --api "$API" 2>/dev/null; then fail "a bad verb was accepted"; fi
"$PLATELET" service start web --api "$API" >/dev/null || fail "service start failed"
wait_for 20 "the service back" svc_is "s['healthy'] and s['pid'] > 0"
echo "ok: crash, hang right after, error burst: each healed (pids $pid0 $pid1 $pid2 $pid3);" \
    "operator stop and start"

