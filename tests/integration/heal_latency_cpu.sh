#!/bin/sh
# Latency and CPU: two sample services under one agent. "slow" learns a p95 baseline from
# its histogram, then every /work answers 150 ms late: p95 above 2x the EWMA baseline for the
# latency window -> a degradation incident with the p95 and the bound as evidence. "hot"
# burns 90 % of a core: CPU above the threshold for the resource window -> an incident
# (threshold 8 %: on a saturated test machine the burner may get only ~15 % of a core).
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_latency_cpu
HOT_PORT=$SVC2_PORT

cat >"$WORK/agent.json" <<JSON
{"services": [
  {"name": "slow", "command": "$PLATELET", "args": ["sample-service", "--port", "$SVC_PORT"],
   "checks": [{"type": "tcp", "address": "127.0.0.1:$SVC_PORT", "interval_ms": 500}],
   "metrics": {"url": "$(sample_url /metrics)", "interval_ms": 500,
               "requests": "sample_requests_total", "errors": "sample_errors_total",
               "latency": "sample_request_duration_seconds"},
   "policy": {"thresholds": {"latency_factor": 2}, "latency_window_ms": 2000,
              "latency_warmup": 4}},
  {"name": "hot", "command": "$PLATELET", "args": ["sample-service", "--port", "$HOT_PORT"],
   "checks": [{"type": "exec", "command": ["/bin/sh", "-c", "exit 0"], "interval_ms": 1000}],
   "policy": {"thresholds": {"cpu": 0.08}, "resource_window_ms": 3000}}]}
JSON
heal_agent "$WORK/agent.json"
svc() { services | json "(lambda s: $2)(next(x for x in d['services'] if x['name'] == '$1'))"; }
wait_for 20 "slow healthy" svc slow "s['healthy']"
wait_for 20 "hot healthy" svc hot "s['healthy']"

# A baseline: a few scrapes with traffic in between.
until=$(($(date +%s) + 4))
while [ "$(date +%s)" -lt $until ]; do load 10; done
wait_for 10 "a p95 baseline" svc slow "s['metrics']['p95_ms'] is not None"
if inc_is "i['service'] == 'slow'" >/dev/null; then fail "latency incident on normal traffic"; fi

curl -sf --max-time 2 "$(sample_url '/fault/slow?ms=150')" >/dev/null || fail "no slow fault"
deadline=$(($(date +%s) + 40))
until inc_is "i['service'] == 'slow' and i['diagnosis']['signal'] == 'latency'" >/dev/null; do
    [ "$(date +%s)" -lt $deadline ] || fail "no latency incident"
    load 3
done
id=$(inc_is "i['service'] == 'slow' and i['diagnosis']['signal'] == 'latency'")
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "(lambda e: e['metric'] == 'p95_ms' and e['value'] > 100 and e['value'] > e['threshold'])
      (d['diagnosis']['evidence'][0])" <"$WORK/inc.json" >/dev/null ||
    fail "latency evidence: $(cat "$WORK/inc.json")"
json "d['diagnosis']['class'] == 'degradation'" <"$WORK/inc.json" >/dev/null ||
    fail "not a degradation"

curl -sf --max-time 2 "http://127.0.0.1:$HOT_PORT/fault/cpu?percent=90" >/dev/null ||
    fail "no cpu fault"
wait_for 40 "a CPU incident" inc_is "i['service'] == 'hot' and i['diagnosis']['signal'] == 'cpu'"
cid=$(inc_is "i['service'] == 'hot' and i['diagnosis']['signal'] == 'cpu'")
"$PLATELET" incident "$cid" --api "$API" --json |
    json "(lambda e: e['metric'] == 'cpu' and e['value'] > 0.08 and e['threshold'] == 0.08)
          (d['diagnosis']['evidence'][0])" >/dev/null || fail "cpu evidence"
echo "ok: latency incident $id ($(json "d['diagnosis']['evidence'][0]['detail']" <"$WORK/inc.json")); cpu incident $cid"
