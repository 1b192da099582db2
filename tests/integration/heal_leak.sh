#!/bin/sh
# Leak: the sample service leaks 15 MiB/s and kills itself (SIGKILL, as the OOM killer
# would) at 200 MiB. The agent samples its RSS every second; the least-squares trend
# predicts the limit within the horizon, and the agent restarts it first: a planned
# restart, no crash.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_leak

cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "web", "command": "$PLATELET",
  "args": ["sample-service", "--port", "$SVC_PORT"], "grace_ms": 1000, "start_ms": 300,
  "checks": [{"type": "http", "url": "$(sample_url /health)", "interval_ms": 500}],
  "policy": {"memory_limit_mb": 200, "horizon_ms": 30000, "trend_window_ms": 10000,
             "trend_min_samples": 5, "trend_min_r2": 0.6}}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy service" svc_is "s['healthy'] and s['pid'] > 0"
pid1=$(svc_is "s['pid']")
# A few seconds of a flat RSS: no prediction may fire on it.
sleep_until=$(($(date +%s) + 4))
while [ "$(date +%s)" -lt $sleep_until ]; do
    if inc_is "True" >/dev/null; then fail "an incident opened while nothing leaked"; fi
    sleep 0.5
done

curl -sf --max-time 2 "$(sample_url '/fault/leak?mb_per_s=15&max_mb=200')" >/dev/null ||
    fail "cannot switch on the leak"
wait_for 40 "a memory prediction incident" inc_is "i['diagnosis']['signal'] == 'predict_memory'"
id=$(inc_is "i['diagnosis']['signal'] == 'predict_memory'")
wait_for 30 "the prediction incident healed" inc_is "i['id'] == '$id' and i['outcome'] == 'healed'"
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "(lambda e: e['metric'] == 'memory_eta_ms' and 0 <= e['value'] < 30000)
      (d['diagnosis']['evidence'][0])" <"$WORK/inc.json" >/dev/null ||
    fail "the evidence does not show a time to exhaustion under the horizon"
json "d['diagnosis']['cause'] == 'resource_exhaustion'" <"$WORK/inc.json" >/dev/null ||
    fail "cause is not resource_exhaustion"
# Acted before the crash: the process never died on its own.
if inc_is "i['diagnosis']['signal'] == 'exit'" >/dev/null; then
    fail "the process died before the agent acted"
fi
svc_is "s['last_term_signal'] != 9 and s['starts'] == 2" >/dev/null ||
    fail "the old process was killed by its leak, not restarted by the agent"
pid2=$(svc_is "s['pid']")
[ "$pid2" != "$pid1" ] || fail "not restarted"
echo "ok: leak -> $(json "d['diagnosis']['evidence'][0]['detail']" <"$WORK/inc.json") -> restarted"
