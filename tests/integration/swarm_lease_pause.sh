#!/usr/bin/env bash
# A paused agent's placed copy ends with its lease (the lease keeper of `platelet _exec`,
# node/cli/cmd_exec.c): three voters p1-p3, the sample service "web" placed (replicas 1) on
# them. SIGSTOP the agent running it: a stopped agent can stop nothing, so its keeper must
# stop the copy once the lease is not renewed; polling every node's web port, never two
# copies answer past lease_ms + a margin, and the paused node's copy is gone by then. The
# majority starts web elsewhere. SIGCONT: the returning agent takes the keeper's stop for no
# crash (no incident, no restart) and, once it holds the lease again and has learned where
# web went, it runs no copy of its own.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

VOTERS="p1 p2 p3"
LEASE_MS=1500
GRACE_MS=500
# The stop's grace (SIGTERM, then SIGKILL) and a poll round's own time (curl's 0.4 s).
MARGIN_MS=$((GRACE_MS + 500))
declare -A PORT SVC PID
for n in $VOTERS; do PORT[$n]=$(free_port); SVC[$n]=$(free_port); done
for n in $VOTERS; do
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local",
 $VOTER3,
 "services": [$(web_service "${SVC[$n]}" "\"grace_ms\": $GRACE_MS,
   \"placement\": {\"replicas\": 1, \"nodes\": [\"p1\", \"p2\", \"p3\"], \"lease_ms\": $LEASE_MS}")]}
JSON
done
start_node p1
for n in p2 p3; do start_node "$n" --join "127.0.0.1:${PORT[p1]}"; done
for n in $VOTERS; do wait_for 10 "$n API" test -S "$(sock $n)"; done
wait_for 20 "one leader agreed by the voters" one_leader $VOTERS

ANSWER_S=0.4
holder_answers() { local h; h=$(placed_on p1) && [ -n "$h" ] && [ "$(answering $VOTERS)" = "$h" ]; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }
# web_field NODE KEY: a field of web in NODE's GET /v1/services.
web_field() { "$PLATELET" status --api "unix:$(sock "$1")" --json | python3 -c '
import json, sys
print([s for s in json.load(sys.stdin)["services"]["services"] if s["name"] == "web"][0][sys.argv[1]])' "$2"; }

wait_for 20 "web placed and answering on exactly one voter" holder_answers
H=$(placed_on p1)
rest=$(for n in $VOTERS; do [ "$n" = "$H" ] || echo "$n"; done | tr '\n' ' ')
incidents0=$(web_field "$H" incidents)
starts0=$(web_field "$H" starts)
pass "web placed on $H and answering there only"

# 1. SIGSTOP the agent running web. Every poll round judges what answered from its start:
# past lease + margin, at most one copy, and never the paused node's.
kill -STOP "${PID[$H]}"
t_pause=$(now_ms)
gone_ms=""
moved=""
while :; do
    t=$(( $(now_ms) - t_pause ))
    a=$(answering $VOTERS)
    if [ "$t" -gt $((LEASE_MS + MARGIN_MS)) ]; then
        [ "$(echo "$a" | wc -w)" -le 1 ] || fail "two copies ($a) ${t} ms after $H's agent paused (lease ${LEASE_MS} ms)"
        [[ " $a " == *" $H "* ]] && fail "the paused $H's copy still answers ${t} ms after its agent paused (lease ${LEASE_MS} ms)"
    fi
    [ -z "$gone_ms" ] && [[ " $a " != *" $H "* ]] && gone_ms=$t
    if [ -n "$a" ] && [ "$a" != "$H" ] && [ "$(echo "$a" | wc -w)" -eq 1 ]; then
        moved=$a
        break
    fi
    [ "$t" -lt 30000 ] || fail "web never answered on the majority's side ${t} ms after the pause: '$a'"
    sleep 0.1
done
pass "$H's agent paused: its copy gone after ${gone_ms} ms (lease ${LEASE_MS} ms), web answers on $moved only"

# 2. SIGCONT: the agent learns web is on $moved and holds its lease again, and all along
# only $moved answers.
starts_before=$(grep -c "start service=web" "$TEST_DIR/$H.log" || true)
kill -CONT "${PID[$H]}"
settled() {
    placement "$H" | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = [x for x in d["placements"] if x["service"] == "web"]
l = [x for x in d["local"] if x["service"] == "web"][0]
age = d["majority_contact_age_ms"]
ok = (d["caught_up"] and age is not None and age <= int(sys.argv[1]) and p and
      p[0]["node"] == sys.argv[2] and not l["running"] and not l["wanted"] and
      l["why"] == "placed on " + sys.argv[2])
sys.exit(0 if ok else 1)' "$LEASE_MS" "$moved"
}
deadline=$((SECONDS + 20))
until settled; do
    a=$(answering $VOTERS)
    [ "$a" = "$moved" ] || fail "after SIGCONT of $H, web answers on '$a', not $moved alone"
    [ $SECONDS -lt $deadline ] || fail "$H never settled after SIGCONT: $(placement "$H")"
    sleep 0.1
done
a=$(answering $VOTERS)
[ "$a" = "$moved" ] || fail "$H settled but web answers on '$a', not $moved alone"
# The agent was stopped: only its keeper could have stopped the copy, and it says so in
# web's log (the agent copies the service's stderr there once it runs again).
grep -q "placement lease over" "$TEST_DIR/$H/heal/web.log" ||
    fail "no lease keeper stop in $H's web log: $(tail -n 5 "$TEST_DIR/$H/heal/web.log")"
# On waking, the agent meets either the copy's exit first (it takes the keeper's stop for a
# lease stop) or its placement tick (a lease lost; the copy's exit follows as a stop's).
grep -q "lease over: service=web stopped by its lease keeper\|stop service=web lease lost" "$TEST_DIR/$H.log" ||
    fail "$H's agent did not take the keeper's stop for a lease stop"
[ "$(grep -c "start service=web" "$TEST_DIR/$H.log" || true)" = "$starts_before" ] ||
    fail "$H started web again after SIGCONT"
[ "$(web_field "$H" incidents)" = "$incidents0" ] || fail "$H opened an incident for the keeper's stop"
[ "$(web_field "$H" starts)" = "$starts0" ] || fail "$H restarted web after the keeper's stop"
[ "$(web_field "$H" process)" = "down" ] || fail "$H's web is $(web_field "$H" process), not down"
pass "SIGCONT $H: it holds its lease again, knows web is on $moved, runs no copy, no incident"
