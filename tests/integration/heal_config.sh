#!/bin/sh
# Config errors stop the agent before it starts any service, with one line naming the file
# and the JSON path: unknown key, wrong type, missing command, bad URL, threshold out of
# range, unknown action, duplicate name.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_config

n=0
expect_error() {
    want=$1
    body=$2
    n=$((n + 1))
    printf '%s\n' "$body" >"$WORK/bad$n.json"
    if timeout 20 "$PLATELET" agent --config "$WORK/bad$n.json" --name bad \
        --data-dir "$WORK/data$n" --bind 127.0.0.1:$GOSSIP_PORT >"$WORK/out$n" 2>&1; then
        fail "config $n was accepted: $body"
    fi
    grep -qF "bad$n.json: $want" "$WORK/out$n" ||
        fail "config $n: expected '$want' in: $(cat "$WORK/out$n")"
    # Nothing was started: the service's port is free.
    if curl -s --max-time 1 "$(sample_url /health)" >/dev/null 2>&1; then
        fail "config $n: a service was started"
    fi
}

svc="\"command\": \"$PLATELET\", \"args\": [\"sample-service\", \"--port\", \"$SVC_PORT\"]"
expect_error "services[0].checks[0].intervall_ms: unknown setting" \
    "{\"services\": [{\"name\": \"web\", $svc, \"checks\": [{\"type\": \"tcp\",
      \"address\": \"127.0.0.1:$SVC_PORT\", \"intervall_ms\": 100}]}]}"
expect_error "services[0].grace_ms: expected an integer" \
    "{\"services\": [{\"name\": \"web\", $svc, \"grace_ms\": \"soon\"}]}"
expect_error "services[1].command: missing" \
    "{\"services\": [{\"name\": \"web\", $svc}, {\"name\": \"db\"}]}"
expect_error "services[0].checks[0].url: 'localhost:80/health' is not an http" \
    "{\"services\": [{\"name\": \"web\", $svc, \"checks\": [{\"type\": \"http\",
      \"url\": \"localhost:80/health\"}]}]}"
expect_error "services[0].policy.thresholds.cpu: out of range" \
    "{\"services\": [{\"name\": \"web\", $svc, \"policy\": {\"thresholds\": {\"cpu\": 1.5}}}]}"
expect_error "services[0].policy.allowed_actions[1]: expected one of" \
    "{\"services\": [{\"name\": \"web\", $svc, \"policy\": {\"allowed_actions\":
      [\"restart\", \"reboot\"]}}]}"
expect_error "services[1].name: 'web' is already services[0]" \
    "{\"services\": [{\"name\": \"web\", $svc}, {\"name\": \"web\", $svc}]}"
expect_error "webhooks[0].min_level: expected an integer from 1 to 5" \
    "{\"webhooks\": [{\"url\": \"http://127.0.0.1:1/x\", \"min_level\": 9}]}"
echo "ok: $n bad configs refused, each naming its JSON path"
