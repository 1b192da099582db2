#!/bin/sh
# The example config (deploy/examples/node-sample.json) works as shipped, whichever folder
# the agent starts in: its relative command is relative to the config file. The copy keeps
# the file's place relative to the binary (deploy/examples/ and build/ side by side) and
# changes only the sample's port, so the test needs no fixed port; the agent starts in /.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_example
SRC=${PLATELET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

mkdir -p "$WORK/tree/deploy/examples" "$WORK/tree/build"
ln -s "$PLATELET" "$WORK/tree/build/platelet"
sed "s/18080/$SVC_PORT/g" "$SRC/deploy/examples/node-sample.json" \
    >"$WORK/tree/deploy/examples/node-sample.json"
# Its TCP API takes the tokens in api.tokens next to it (made as the README says).
"$PLATELET" token create --scope operate --tokens "$WORK/tree/deploy/examples/api.tokens" \
    --out "$WORK/client.token" || fail "cannot make an API token"
PLATELET_TOKEN=$(cat "$WORK/client.token")
export PLATELET_TOKEN
grep -q '"command": "\.\./\.\./build/platelet"' "$WORK/tree/deploy/examples/node-sample.json" ||
    fail "the example's command is no longer relative to the file"

(cd / && exec "$PLATELET" agent --config "$WORK/tree/deploy/examples/node-sample.json" \
    --name "n-$NAME" --data-dir "$WORK/data" --bind 127.0.0.1:$GOSSIP_PORT --api "$API" \
    >"$WORK/agent.log" 2>&1) &
PIDS="$PIDS $!"
wait_for 20 "the agent's API" "$PLATELET" services --api "$API" --json
wait_for 20 "the example's service healthy" svc_is "s['healthy'] and s['pid'] > 0"
curl -sf --max-time 2 "$(sample_url /health)" >/dev/null || fail "the sample does not answer"
if grep -q "cannot start" "$WORK/agent.log"; then fail "a start failed: $(cat "$WORK/agent.log")"; fi
echo "ok: the example config starts its service with the agent in /"
