#!/bin/sh
# Error rate: 20 % of /work answers turn 500. The agent scrapes /metrics every 500 ms,
# the error rate over its window crosses the policy's 5 %, and a degradation incident opens
# with the evidence (the rate, the threshold, how many of how many requests failed).
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_errors

cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "web", "command": "$PLATELET",
  "args": ["sample-service", "--port", "$SVC_PORT"], "grace_ms": 1000, "start_ms": 300,
  "checks": [{"type": "http", "url": "$(sample_url /health)", "interval_ms": 500}],
  "metrics": {"url": "$(sample_url /metrics)", "interval_ms": 500,
              "requests": "sample_requests_total", "errors": "sample_errors_total",
              "latency": "sample_request_duration_seconds"},
  "policy": {"thresholds": {"error_rate": 0.05}, "error_window_ms": 20000}}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy service" svc_is "s['healthy'] and s['pid'] > 0"

# Healthy traffic first: no incident may open from it.
load 60
wait_for 10 "scraped metrics" svc_is "s['metrics']['requests_total'] >= 60"
if inc_is "True" >/dev/null; then fail "an incident opened on healthy traffic"; fi

curl -sf --max-time 2 "$(sample_url '/fault/errors?rate=0.2')" >/dev/null ||
    fail "cannot switch on the error fault"
load 600 &
LOAD_PID=$!
PIDS="$PIDS $LOAD_PID"
wait_for 60 "an error-rate incident" inc_is "i['diagnosis']['signal'] == 'error_rate'"
id=$(inc_is "i['diagnosis']['signal'] == 'error_rate'")
kill "$LOAD_PID" 2>/dev/null || true
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "d['diagnosis']['class'] == 'degradation'" <"$WORK/inc.json" >/dev/null ||
    fail "not a degradation"
json "(lambda e: e['source'] == 'metric' and e['metric'] == 'error_rate' and
       e['value'] > 0.05 and e['threshold'] == 0.05 and 'requests failed' in e['detail'])
      (d['diagnosis']['evidence'][0])" <"$WORK/inc.json" >/dev/null ||
    fail "the evidence does not show the error rate: $(cat "$WORK/inc.json")"
json "d['diagnosis']['signature']['class'] == 'degradation' and
      d['diagnosis']['signature']['service'] == 'web'" <"$WORK/inc.json" >/dev/null ||
    fail "no anomaly signature"
# The default policy restarts (the fault lives in the process) and it heals.
wait_for 30 "the incident healed" inc_is "i['id'] == '$id' and i['outcome'] == 'healed'"
echo "ok: 20 % errors -> degradation incident $id: $(json "d['diagnosis']['evidence'][0]['detail']" <"$WORK/inc.json")"
