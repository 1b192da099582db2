#!/bin/sh
# External service: the agent does not start it, only checks it (tcp), and heals it with the
# operator's restart command. The test starts a sample service itself, the agent watches it,
# the test kills it; two refused connects later the agent runs the restart command (which
# starts a new one), sees the check pass again and closes the incident as healed.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_external

cat >"$WORK/start.sh" <<SH
#!/bin/sh
"$PLATELET" sample-service --port $SVC_PORT >>"$WORK/svc.out" 2>&1 &
echo \$! >"$WORK/svc.pid"
SH
chmod +x "$WORK/start.sh"
"$WORK/start.sh"
wait_for 10 "the external service" curl -sf --max-time 1 "$(sample_url /health)"

cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "ext", "type": "external", "restart": ["$WORK/start.sh"],
  "checks": [{"type": "tcp", "address": "127.0.0.1:$SVC_PORT", "interval_ms": 300,
              "timeout_ms": 500, "failures": 2}]}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy external service" svc_is "s['healthy'] and s['type'] == 'external'"
pid1=$(cat "$WORK/svc.pid")
kill -9 "$pid1"
wait_for 30 "a healed incident" inc_is "i['service'] == 'ext' and i['outcome'] == 'healed'"
id=$(inc_is "i['service'] == 'ext'")
pid2=$(cat "$WORK/svc.pid")
[ "$pid2" != "$pid1" ] || fail "the restart command did not run"
curl -sf --max-time 2 "$(sample_url /health)" >/dev/null || fail "not answering after the restart"
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "d['diagnosis']['evidence'][0]['source'] == 'check:tcp'" <"$WORK/inc.json" >/dev/null ||
    fail "the evidence does not name the tcp check"
json "any(e['kind'] == 'result' and e['action'] == 'restart' and e['result'] == 0
          for e in d['timeline'])" <"$WORK/inc.json" >/dev/null ||
    fail "the restart command's result is not recorded"
echo "ok: external service killed -> tcp check failed -> restart command -> healthy ($id)"
