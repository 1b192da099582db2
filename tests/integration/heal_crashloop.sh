#!/bin/sh
# Crash loop: a service that dies 0.3 s after every start. Two restarts use the budget;
# then each start waits 200 ms doubling (Kubernetes' CrashLoopBackOff shape, scaled
# down); when the delay reaches its 800 ms cap the agent escalates, and a real HTTP
# receiver started here gets the incident as JSON. The agent keeps retrying at the cap.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_crashloop
DIR=$(cd "$(dirname "$0")" && pwd)

python3 "$DIR/heal_hook_receiver.py" $HOOK_PORT "$WORK/hooks.jsonl" 120 &
PIDS="$PIDS $!"
wait_for 10 "the webhook receiver" python3 -c \
    "import socket; socket.create_connection(('127.0.0.1', $HOOK_PORT), 1)"

cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "flaky", "command": "/bin/sh", "args": ["-c", "sleep 0.3; exit 3"],
  "start_ms": 1000,
  "policy": {"restart_budget": 2, "restart_window_ms": 60000, "backoff_initial_ms": 200,
             "backoff_max_ms": 800}}],
 "webhooks": [{"url": "http://127.0.0.1:$HOOK_PORT/hook", "min_level": 4}]}
JSON
heal_agent "$WORK/agent.json"

wait_for 40 "an escalation at the webhook receiver" grep -q '"escalation"' "$WORK/hooks.jsonl"
json_line() { head -n 1 "$WORK/hooks.jsonl" | json "$1"; }
json_line "d['level'] == 4 and d['level_name'] == 'operator' and d['service'] == 'flaky'" \
    >/dev/null || fail "unexpected escalation: $(head -n 1 "$WORK/hooks.jsonl")"
json_line "'back-off' in d['reason'] and d['incident']['node'] == 'n-$NAME'" >/dev/null ||
    fail "the escalation does not say why: $(head -n 1 "$WORK/hooks.jsonl")"
id=$(json_line "d['incident']['id']")

"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
# Back-off delays 200, 400, 800 ms, in that order, after two immediate restarts.
delays=$(json "[e['detail'].split('next start in ')[1] for e in d['timeline']
               if e['kind'] == 'backoff'][:3]" <"$WORK/inc.json")
[ "$delays" = '["200 ms", "400 ms", "800 ms"]' ] || fail "back-off delays were $delays"
json "[e['kind'] for e in d['timeline'] if e['kind'] in ('action', 'backoff')][:4] ==
      ['action', 'action', 'backoff', 'action']" <"$WORK/inc.json" >/dev/null ||
    fail "two restarts did not come before the back-off"
json "d['diagnosis']['signal'] == 'exit' and d['state'] == 'open'" <"$WORK/inc.json" \
    >/dev/null || fail "the crash-loop incident should stay open while it retries"
json "any(e['kind'] == 'escalated' and 'level 4' in e['detail'] for e in d['timeline'])" \
    <"$WORK/inc.json" >/dev/null || fail "the escalation is not in the timeline"
svc_is "s['crash_loop']" >/dev/null || fail "services does not show the crash loop"
# The delivery itself is recorded: the receiver's 200.
wait_for 10 "the webhook's answer in the timeline" sh -c "'$PLATELET' incident '$id' --api '$API' \
    --json | grep -q 'webhook http://127.0.0.1:$HOOK_PORT/hook answered 200'"
# Only level >= 4 reached this receiver: exactly one escalation so far.
[ "$(grep -c escalation "$WORK/hooks.jsonl")" = 1 ] || fail "more than one escalation posted"
echo "ok: crash loop -> back-off 200/400/800 ms -> escalation received (incident $id)"
