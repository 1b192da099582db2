#!/bin/sh
# Hang: the sample service blocks its event loop; the process stays alive, so only the HTTP
# check can tell. After `failures` timeouts the agent restarts it (stop signal, grace period,
# SIGKILL since a hung loop never handles SIGTERM) and it is healthy again.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_hang

cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "web", "command": "$PLATELET",
  "args": ["sample-service", "--port", "$SVC_PORT"], "grace_ms": 500, "start_ms": 300,
  "checks": [{"type": "http", "url": "$(sample_url /health)", "interval_ms": 300,
              "timeout_ms": 400, "failures": 3}]}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy service" svc_is "s['healthy'] and s['pid'] > 0"
pid1=$(svc_is "s['pid']")

curl -s --max-time 2 "$(sample_url /fault/hang)" >/dev/null || true
wait_for 30 "a healed check incident" inc_is \
    "i['diagnosis']['signal'] == 'check' and i['outcome'] == 'healed'"
id=$(inc_is "i['diagnosis']['signal'] == 'check'")
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "d['diagnosis']['evidence'][0]['source'] == 'check:http' and \
      d['diagnosis']['evidence'][0]['value'] >= 3" <"$WORK/inc.json" >/dev/null ||
    fail "the evidence does not name the failed http check"
json "d['diagnosis']['class'] in ('service_failure', 'degradation')" <"$WORK/inc.json" \
    >/dev/null || fail "unexpected class"
json "any('SIGKILL' in e['detail'] for e in d['timeline'])" <"$WORK/inc.json" >/dev/null ||
    fail "the hung process should have needed SIGKILL after the grace period"
pid2=$(svc_is "s['pid']")
[ "$pid2" != "$pid1" ] || fail "the pid did not change"
if kill -0 "$pid1" 2>/dev/null; then fail "the hung process $pid1 is still there"; fi
curl -sf --max-time 2 "$(sample_url /health)" >/dev/null || fail "the new process does not answer"
echo "ok: hang -> check failed -> restarted (pid $pid1 -> $pid2), incident $id"
