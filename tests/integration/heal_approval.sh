#!/bin/sh
# Approval: a service whose policy requires approval for restarts. After a crash the
# incident waits (the process stays down) until `platelet approve ID`; then it is restarted
# and healed. A second service shows the other way out: no approval within its timeout ->
# escalation to a human (level 5) at a real webhook receiver; the incident stays open.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_approval
DIR=$(cd "$(dirname "$0")" && pwd)

python3 "$DIR/heal_hook_receiver.py" $HOOK_PORT "$WORK/hooks.jsonl" 120 &
PIDS="$PIDS $!"
wait_for 10 "the webhook receiver" python3 -c \
    "import socket; socket.create_connection(('127.0.0.1', $HOOK_PORT), 1)"

cat >"$WORK/agent.json" <<JSON
{"services": [
  {"name": "web", "command": "$PLATELET", "args": ["sample-service", "--port", "$SVC_PORT"],
   "start_ms": 300,
   "checks": [{"type": "http", "url": "$(sample_url /health)", "interval_ms": 300}],
   "policy": {"requires_approval": ["restart"], "approval_timeout_ms": 120000}},
  {"name": "batch", "command": "/bin/sh", "args": ["-c", "sleep 2; exit 1"],
   "policy": {"requires_approval": true, "approval_timeout_ms": 1500}}],
 "webhooks": [{"url": "http://127.0.0.1:$HOOK_PORT/hook", "min_level": 5}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a healthy service" svc_is "s['healthy'] and s['pid'] > 0"

curl -s --max-time 2 "$(sample_url /fault/crash)" >/dev/null || true
wait_for 20 "an incident waiting for approval" inc_is \
    "i['service'] == 'web' and i['state'] == 'waiting_approval'"
id=$(inc_is "i['service'] == 'web' and i['state'] == 'waiting_approval'")
# It must really wait: for 3 s the process stays down and the incident keeps waiting.
until=$(($(date +%s) + 3))
while [ "$(date +%s)" -lt $until ]; do
    svc_is "s['pid'] == 0 and not s['healthy'] and s['open_incident'] == '$id'" >/dev/null ||
        fail "the service was touched before approval"
    sleep 0.3
done
"$PLATELET" incident "$id" --api "$API" | grep -q "platelet approve $id" ||
    fail "the timeline does not say how to approve"
# Approving something that does not wait is refused.
if "$PLATELET" approve nosuch-incident --api "$API" 2>/dev/null; then
    fail "approving an unknown incident succeeded"
fi
"$PLATELET" approve "$id" --api "$API" | grep -q "approved $id" || fail "approve failed"
wait_for 20 "the approved incident healed" inc_is "i['id'] == '$id' and i['outcome'] == 'healed'"
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "[e['kind'] for e in d['timeline'] if e['kind'] in
       ('approval_wait', 'approved', 'action', 'healthy', 'closed')] ==
      ['approval_wait', 'approved', 'action', 'healthy', 'closed']" <"$WORK/inc.json" \
    >/dev/null || fail "timeline order: $(cat "$WORK/inc.json")"
curl -sf --max-time 2 "$(sample_url /health)" >/dev/null || fail "not answering after approval"

# The unattended one times out to a human.
wait_for 30 "an approval timeout escalation" grep -q '"approval timed out"' "$WORK/hooks.jsonl"
head -n 1 "$WORK/hooks.jsonl" |
    json "d['level'] == 5 and d['service'] == 'batch' and d['level_name'] == 'human'" \
    >/dev/null || fail "unexpected escalation: $(head -n 1 "$WORK/hooks.jsonl")"
# Escalation informs people; it does not end the incident: every action left needs an
# approval nobody gave, so it stays open at level 5, not closed as if something was done.
wait_for 10 "the timed-out incident open at level 5" inc_is \
    "i['service'] == 'batch' and i['state'] != 'closed' and i['level'] == 5"
# The webhook's answer is recorded in it.
wait_for 10 "the webhook's answer recorded" inc_is \
    "i['service'] == 'batch' and any(e['kind'] == 'result' and e['action'] == 'escalate' and
     e['result'] == 0 for e in i['timeline'])"
echo "ok: approval gate held until 'platelet approve $id'; unattended one escalated to level 5"
