#!/bin/sh
# Crash: the supervised sample service exits (status 70); the agent sees the exit at once,
# opens an incident, restarts it, and closes the incident as healed once the HTTP check
# passes again on the new process. Then the agent itself is SIGKILLed: its service dies
# with it (no unsupervised copy keeps the port), and the restarted agent starts a new one.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_crash

cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "web", "command": "$PLATELET",
  "args": ["sample-service", "--port", "$SVC_PORT"], "grace_ms": 1000, "start_ms": 300,
  "checks": [{"type": "http", "url": "$(sample_url /health)", "interval_ms": 300,
              "timeout_ms": 500, "failures": 2}]}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy service" svc_is "s['healthy'] and s['pid'] > 0"
pid1=$(svc_is "s['pid']")
kill -0 "$pid1" || fail "the service's pid $pid1 is not running"

curl -s --max-time 2 "$(sample_url /fault/crash)" >/dev/null || true
wait_for 20 "a healed crash incident" inc_is \
    "i['diagnosis']['signal'] == 'exit' and i['outcome'] == 'healed'"
id=$(inc_is "i['diagnosis']['signal'] == 'exit'")
pid2=$(svc_is "s['pid']")
[ "$pid2" != "$pid1" ] || fail "the pid did not change ($pid1)"
kill -0 "$pid2" || fail "the new pid $pid2 is not running"
svc_is "s['healthy'] and s['starts'] == 2" >/dev/null || fail "not healthy after the restart"
curl -sf --max-time 2 "$(sample_url /health)" >/dev/null || fail "the new process does not answer"

# The record has the whole story, in order, with the exit's evidence.
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "[e['kind'] for e in d['timeline']] [:2] == ['opened', 'diagnosed']" <"$WORK/inc.json" \
    >/dev/null || fail "timeline does not start with opened, diagnosed"
json "any(e['kind'] == 'action' and e['action'] == 'restart' for e in d['timeline'])" \
    <"$WORK/inc.json" >/dev/null || fail "no restart action recorded"
json "d['timeline'][-1]['kind'] == 'closed'" <"$WORK/inc.json" >/dev/null || fail "not closed"
json "d['diagnosis']['evidence'][0]['metric'] == 'exit_status' and \
      d['diagnosis']['evidence'][0]['value'] == 70" <"$WORK/inc.json" >/dev/null ||
    fail "the evidence does not name exit status 70"
json "0 < d['diagnosis']['confidence'] <= 1 and 1 <= d['diagnosis']['severity'] <= 5" \
    <"$WORK/inc.json" >/dev/null || fail "confidence or severity out of range"
"$PLATELET" incident "$id" --api "$API" | grep -q "healed" || fail "human view lacks the outcome"
# The output went to the rotating log in the data dir.
[ -s "$WORK/data/heal/web.log" ] || fail "no service log in the data dir"
echo "ok: crash -> restarted (pid $pid1 -> $pid2) and healthy, incident $id"

# gone PID: the process has exited (absent, or a zombie nobody has reaped yet).
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
kill -9 "$AGENT_PID"
wait_for 5 "end of the service (pid $pid2) with its SIGKILLed agent" gone "$pid2"
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy service under the restarted agent" svc_is "s['healthy'] and s['pid'] > 0"
pid3=$(svc_is "s['pid']")
[ "$pid3" != "$pid2" ] || fail "the restarted agent reports the old pid $pid2"
curl -sf --max-time 2 "$(sample_url /health)" >/dev/null || fail "the new service does not answer"
echo "ok: agent SIGKILLed -> its service (pid $pid2) ended; restarted agent runs pid $pid3"
