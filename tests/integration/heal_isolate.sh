#!/bin/sh
# Isolate with retries: a degradation (20 % errors) on a service whose policy allows
# "isolate" (take it out of routing, Kubernetes' readiness semantics) with an operator's
# command that fails once and then works. The plan puts isolate before restart; the failed
# command is retried after a full-jitter delay, the retry succeeds, and no restart happens.
# The load stands in for a router: it stops sending once the service is isolated, as real
# traffic would, so the errors end with the isolation and not with a fixed request count
# (which, on a slow machine, outlasted the 30 s verify window and earned a restart).
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_isolate

cat >"$WORK/isolate.sh" <<SH
#!/bin/sh
if [ -e "$WORK/tried" ]; then touch "$WORK/isolated"; exit 0; fi
touch "$WORK/tried"
exit 1
SH
chmod +x "$WORK/isolate.sh"
cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "web", "command": "$PLATELET",
  "args": ["sample-service", "--port", "$SVC_PORT"], "start_ms": 300,
  "isolate": ["$WORK/isolate.sh"],
  "checks": [{"type": "http", "url": "$(sample_url /health)", "interval_ms": 300}],
  "metrics": {"url": "$(sample_url /metrics)", "interval_ms": 500,
              "requests": "sample_requests_total", "errors": "sample_requests_total{code=\"5*\"}"},
  "policy": {"allowed_actions": ["isolate", "restart", "retry"], "error_window_ms": 20000,
             "retry_max": 3, "retry_base_ms": 200, "retry_cap_ms": 1000}}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy service" svc_is "s['healthy']"
pid1=$(svc_is "s['pid']")
load 30
curl -sf --max-time 2 "$(sample_url '/fault/errors?rate=0.2')" >/dev/null || fail "no fault"
load 3000 "$WORK/isolated" &
echo $! >"$WORK/load.pid"
wait_for 60 "the isolation incident closed" inc_is \
    "i['diagnosis']['signal'] == 'error_rate' and i['state'] == 'closed'"
id=$(inc_is "i['diagnosis']['signal'] == 'error_rate'")
[ -e "$WORK/isolated" ] || fail "the isolate command never succeeded"
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "[(e['kind'], e['action']) for e in d['timeline']
       if e['kind'] in ('action', 'result', 'backoff')][:5] ==
      [('action', 'isolate'), ('result', 'isolate'), ('backoff', 'retry'),
       ('action', 'isolate'), ('result', 'isolate')]" <"$WORK/inc.json" >/dev/null ||
    fail "timeline: $(cat "$WORK/inc.json")"
json "[e['result'] for e in d['timeline'] if e['kind'] == 'result'][:2][0] != 0 and
      [e['result'] for e in d['timeline'] if e['kind'] == 'result'][1] == 0" \
    <"$WORK/inc.json" >/dev/null || fail "results should be: failed, then ok"
json "not any(e['action'] == 'restart' for e in d['timeline'])" <"$WORK/inc.json" \
    >/dev/null || fail "restarted although isolation worked"
[ "$(svc_is "s['pid']")" = "$pid1" ] || fail "the process was restarted"
echo "ok: isolate failed, retried after $(json "[e['detail'] for e in d['timeline'] if e['kind'] == 'backoff'][0]" <"$WORK/inc.json"), succeeded; no restart ($id)"
