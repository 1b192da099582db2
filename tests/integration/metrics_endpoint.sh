#!/usr/bin/env bash
# GET /v1/metrics with a real Prometheus text parser (Debian's python3-prometheus-client):
# n1 is the one voter of its council and supervises a sample service; n2 is a member.
# A scrape over TCP with a `read` token parses, and every name follows Prometheus' naming
# rules (metrics_check.py names). Then the sample service crashes (its /fault/crash) and
# n2 is SIGKILLed: the counters move (incidents, actions, time to heal, commits, proposal
# latency, ledger entries, probes, suspicions, messages and bytes), n1 counts n2 dead, and
# every step of the incident is committed by the one-voter council (an answer proposing
# the next step from inside the Raft flush was lost once, and the outbox stalled). Every
# query of deploy/grafana/platelet.json names a metric the live scrape has, and the
# Prometheus example scrapes with `authorization: credentials_file`.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

SRC=${PLATELET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CHECK="$SRC/tests/integration/metrics_check.py"
api_token
"$PLATELET" token create --scope read --tokens "$API_TOKENS" --out "$TEST_DIR/read.token" >/dev/null
READ=$(cat "$TEST_DIR/read.token")

P1=$(free_port)
P2=$(free_port)
API=$(free_port)
SVC=$(free_port)
cat >"$TEST_DIR/n1.json" <<JSON
{"profile": "local",
 "raft": {"voter": true, "bootstrap_expect": 1, "election_timeout_ms": 500, "heartbeat_ms": 50},
 "services": [$(web_service "$SVC")]}
JSON
spawn n1 "$PLATELET" agent --config "$TEST_DIR/n1.json" --name n1 --bind "127.0.0.1:$P1" \
    --data-dir "$TEST_DIR/n1" --api "127.0.0.1:$API" --api-token-file "$API_TOKENS"
spawn n2 "$PLATELET" agent --profile local --name n2 --bind "127.0.0.1:$P2" \
    --data-dir "$TEST_DIR/n2" --join "127.0.0.1:$P1"
N2=$SPAWNED_PID

URL="http://127.0.0.1:$API/v1/metrics"
scrape() { curl -sf --max-time 5 -H "Authorization: Bearer $READ" -o "$1" "$URL"; }
alive_both() { [ "$("$PLATELET" members --api "unix:$(sock n1)" | grep -c alive)" -eq 2 ]; }
wait_for 10 "n1's API" scrape "$TEST_DIR/first.txt"
wait_for 20 "n1 leads its council" one_leader n1
wait_for 20 "the service healthy" healthy n1
wait_for 20 "n1 and n2 alive" alive_both
scrape "$TEST_DIR/before.txt" || fail "scrape"

# Over TCP the route wants a token like every other; a read token is enough.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL")
[ "$code" = 401 ] || fail "a scrape without a token got $code, want 401"
ctype=$(curl -s -o /dev/null -w '%{content_type}' --max-time 5 -H "Authorization: Bearer $READ" "$URL")
case "$ctype" in "text/plain; version=0.0.4"*) ;; *) fail "content type '$ctype'" ;; esac
python3 "$CHECK" names "$TEST_DIR/before.txt" || fail "the names in the scrape"
pass "a read token scrapes /v1/metrics; prometheus_client parses it; the names follow the rules"

# n2 must be heard from after the scrape above, or the received counters could not move
# if it is killed before it sends again (under load, it once sent nothing in between).
sample() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }
heard_since() {
    scrape "$TEST_DIR/heard.txt" &&
        python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) > float(sys.argv[1]) else 1)' \
            "$(sample "$TEST_DIR/before.txt" platelet_gossip_received_messages_total)" \
            "$(sample "$TEST_DIR/heard.txt" platelet_gossip_received_messages_total)"
}
wait_for 10 "a gossip message from n2 after the first scrape" heard_since

# The fault: the service crashes, n2 dies.
curl -s --max-time 2 "http://127.0.0.1:$SVC/fault/crash" >/dev/null || true
kill -KILL "$N2"
wait "$N2" 2>/dev/null || true
moved() { scrape "$TEST_DIR/after.txt" && python3 "$CHECK" moved "$TEST_DIR/before.txt" "$TEST_DIR/after.txt"; }
deadline=$((SECONDS + 30))
until moved >"$TEST_DIR/moved.out" 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "after 30 s, the metrics $(cat "$TEST_DIR/moved.out")"
    sleep 0.2
done
python3 "$CHECK" names "$TEST_DIR/after.txt" >/dev/null || fail "the names after the fault"
pass "after a crash and a death: incidents, actions, time to heal, commits, proposals, ledger, probes, suspicions, messages and bytes moved"

# The one-voter council committed every step of the incident: it is closed in the swarm.
"$PLATELET" swarm status --api "unix:$(sock n1)" --json | python3 -c '
import json, sys
inc = json.load(sys.stdin)["state"]["incidents"]
sys.exit(0 if len(inc) == 1 and inc[0]["state"] == "closed" and inc[0]["outcome"] == "healed" else 1)' ||
    fail "the incident is not closed in the one-voter council's swarm state"
pass "a one-voter council commits every step of the incident (none lost in the flush)"

python3 "$CHECK" grafana "$TEST_DIR/after.txt" "$SRC/deploy/grafana/platelet.json" ||
    fail "the Grafana dashboard"
python3 "$CHECK" prometheus "$SRC/deploy/prometheus/prometheus.yml" || fail "the Prometheus example"
pass "every Grafana query names a live metric; the scrape example uses a credentials_file"
