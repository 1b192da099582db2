#!/usr/bin/env bash
# Services move off dead nodes (node/agent/placement.c): five agents, three of them the
# council's voters (p1-p3), the sample service "web" placed (replicas 1) on the three voters,
# each with its own port. It runs and answers on exactly one of them. SIGKILL that node: it
# runs and answers on another. The node comes back: it learns the placement from the log
# and starts no second copy. Partition the node running it from everyone: past its lease it
# stops, and at most one copy answers (the majority's, once gossip called it dead). Last, the
# node running it flaps (four deaths committed within ten minutes): it is fenced and web
# moves off it although it stays up.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/raft_lib.sh"

NODES="p1 p2 p3 p4 p5"
VOTERS="p1 p2 p3"
LEASE_MS=2000
declare -A PORT SVC PID
for n in $NODES; do PORT[$n]=$(free_port); SVC[$n]=$(free_port); done
for n in $NODES; do
    if [ "$n" = p4 ] || [ "$n" = p5 ]; then
        echo '{"profile": "local"}' >"$TEST_DIR/$n.json"
        continue
    fi
    cat >"$TEST_DIR/$n.json" <<JSON
{"profile": "local",
 $VOTER3,
 "services": [$(web_service "${SVC[$n]}" "\"grace_ms\": 500,
   \"placement\": {\"replicas\": 1, \"nodes\": [\"p1\", \"p2\", \"p3\"], \"lease_ms\": $LEASE_MS}")]}
JSON
done
start_node p1 --enable-faults
for n in p2 p3 p4 p5; do start_node "$n" --enable-faults --join "127.0.0.1:${PORT[p1]}"; done
for n in $NODES; do wait_for 10 "$n API" test -S "$(sock $n)"; done
wait_for 20 "one leader agreed by the voters" one_leader $VOTERS

# only_on NODE LIVE...: web answers on NODE and on no other of LIVE, and every LIVE voter's
# state places it on NODE.
only_on() {
    local want=$1
    shift
    [ "$(answering "$@")" = "$want" ] || return 1
    for n in "$@"; do [ "$(placed_on "$n")" = "$want" ] || return 1; done
}
holder_is_one_of() { local h; h=$(placed_on p1) && [ -n "$h" ] && only_on "$h" $VOTERS; }

wait_for 20 "web placed and answering on exactly one voter" holder_is_one_of
H=$(placed_on p1)
# A member that is no voter sees no placement of its own and runs nothing.
placement p4 | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if not d["voter"] and not d["local"] else 1)' ||
    fail "p4's placement view: $(placement p4)"
"$PLATELET" placement --api "unix:$(sock "$H")" | grep -q "^web .*yes .*placed here" ||
    fail "platelet placement on $H: $("$PLATELET" placement --api "unix:$(sock "$H")")"
# An operator cannot start a second copy by hand.
other=$(for n in $VOTERS; do [ "$n" = "$H" ] || { echo "$n"; break; }; done)
"$PLATELET" service start web --api "unix:$(sock "$other")" 2>"$TEST_DIR/start.err" &&
    fail "an operator started a second copy of web on $other"
grep -q "placed by the council" "$TEST_DIR/start.err" || fail "start refused with: $(cat "$TEST_DIR/start.err")"
# Where it is placed, an operator may stop it and start it again.
"$PLATELET" service stop web --api "unix:$(sock "$H")" >/dev/null || fail "operator stop on $H"
wait_for 10 "web stopped on $H" bash -c "! curl -s --max-time 1 -o /dev/null http://127.0.0.1:${SVC[$H]}/health"
"$PLATELET" service start web --api "unix:$(sock "$H")" >/dev/null || fail "operator start on $H"
wait_for 10 "web answering on $H again" only_on "$H" $VOTERS
# The healer's view: web declared by the three voters, all alive members (each voter's
# declaration reaches p1 by gossip: a record's broadcast goes out retransmit_mult x log(n)
# times and may miss p1, and then the next push-pull, at most 15 s later in the local
# profile, carries it; so the wait covers one push-pull interval).
declared_by_voters() {
    placement p1 | python3 -c '
import json, sys
d = {x["service"]: x["nodes"] for x in json.load(sys.stdin)["declared"]}
sys.exit(0 if sorted((n["node"], n["member"]) for n in d.get("web", [])) ==
         [("p1", "alive"), ("p2", "alive"), ("p3", "alive")] else 1)'
}
wait_for 20 "p1 to see web declared by p1, p2 and p3, all alive" declared_by_voters
pass "web placed on $H, answering there only; p4 (no voter) runs nothing; no manual second copy, but a stop and start where it is placed"

# 1. SIGKILL the node running it: web runs and answers on another voter.
kill -KILL "${PID[$H]}"
wait "${PID[$H]}" 2>/dev/null || true
rest=$(for n in $VOTERS; do [ "$n" = "$H" ] || echo "$n"; done | tr '\n' ' ')
moved_off() { local h; h=$(placed_on "${rest%% *}") && [ -n "$h" ] && [ "$h" != "$H" ] && only_on "$h" $rest; }
t0=$SECONDS
wait_for 30 "web moved off the killed $H and answering elsewhere" moved_off
H2=$(placed_on "${rest%% *}")
pass "SIGKILL $H: web runs and answers on $H2 ($((SECONDS - t0)) s)"

# 2. The killed node returns: it learns the placement first and starts no second copy.
start_node "$H" --enable-faults
wait_for 10 "$H API after restart" test -S "$(sock "$H")"
caught_up() { placement "$H" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["caught_up"] else 1)'; }
wait_for 20 "$H caught up with the log" caught_up
[ "$(placed_on "$H")" = "$H2" ] || fail "$H's state places web on $(placed_on "$H"), not $H2"
# (spawn wrote a fresh log for the new run)
grep -q "start service=web" "$TEST_DIR/$H.log" && fail "$H started web after it returned"
only_on "$H2" $VOTERS || fail "not exactly one copy after $H returned: $(answering $VOTERS)"
# Still one copy a moment later (checked once more after gossip settled: members alive).
members_alive() { "$PLATELET" swarm status --api "unix:$(sock "$1")" --json | python3 -c '
import json, sys
m = {x["name"]: x["status"] for x in json.load(sys.stdin)["state"]["members"]}
sys.exit(0 if all(m.get(n) == "alive" for n in sys.argv[1:]) else 1)' $NODES; }
wait_for 20 "every member alive again in the swarm state" members_alive "$H2"
only_on "$H2" $VOTERS || fail "a second copy after $H returned: $(answering $VOTERS)"
pass "$H returned: it learned web is on $H2 and started no second copy"

# 3. Partition the node running it from everyone: past the lease at most one copy answers.
"$PLATELET" fault partition --peer '*' --api "unix:$(sock "$H2")" >/dev/null || fail "partition $H2"
t0=$SECONDS
lease_over() { placement "$H2" | python3 -c '
import json, sys
d = json.load(sys.stdin); age = d["majority_contact_age_ms"]
sys.exit(0 if age is None or age > int(sys.argv[1]) else 1)' "$LEASE_MS"; }
wait_for 20 "$H2's lease over (no majority)" lease_over
# From here on never two copies: poll until the majority's copy answers.
others=$(for n in $VOTERS; do [ "$n" = "$H2" ] || echo "$n"; done | tr '\n' ' ')
moved_again() {
    local a
    a=$(answering $VOTERS)
    [ "$(echo "$a" | wc -w)" -le 1 ] || { echo "TWO COPIES: $a" >"$TEST_DIR/two"; return 1; }
    local h
    h=$(placed_on "${others%% *}") && [ -n "$h" ] && [ "$h" != "$H2" ] && [ "$a" = "$h" ]
}
deadline=$((SECONDS + 30))
until moved_again; do
    [ -f "$TEST_DIR/two" ] && { sleep 0.5; answering $VOTERS | grep -q ' ' && fail "$(cat "$TEST_DIR/two") past $H2's lease"; rm -f "$TEST_DIR/two"; }
    [ $SECONDS -lt $deadline ] || fail "web never answered on the majority's side: $(answering $VOTERS)"
    sleep 0.1
done
answers "$H2" && fail "the partitioned $H2 still answers past its lease"
grep -q "stop service=web lease lost" "$TEST_DIR/$H2.log" || fail "$H2 did not log its lease loss"
pass "partitioned $H2 stopped web past its ${LEASE_MS} ms lease; it answers on $(placed_on "${others%% *}") only ($((SECONDS - t0)) s)"
"$PLATELET" fault clear --api "unix:$(sock "$H2")" >/dev/null || true

# 4. Fence a flapping node: four deaths within ten minutes (member events committed through
# the council, as the healer commits gossip's verdicts) fence the node running web, though
# it is alive: web moves off it, and `platelet placement` names it fenced.
wait_for 20 "every member alive again after the partition" members_alive "${others%% *}"
H3=$(placed_on "${others%% *}")
inc=$("$PLATELET" swarm status --api "unix:$(sock p1)" --json | python3 -c '
import json, sys
print([m["incarnation"] for m in json.load(sys.stdin)["state"]["members"] if m["name"] == sys.argv[1]][0])' "$H3")
for k in 1 2 3 4; do
    for ev in dead alive; do
        inc=$((inc + 1))
        "$PLATELET" propose --kind member_event --api "unix:$(sock p1)" \
            "{\"node\": \"$H3\", \"event\": \"$ev\", \"inc\": $inc}" >/dev/null ||
            fail "propose member_event $ev of $H3"
    done
done
fenced() { placement "$1" | python3 -c 'import json,sys; sys.exit(0 if [f for f in json.load(sys.stdin)["fenced"] if f["node"] == sys.argv[1]] else 1)' "$H3"; }
wait_for 10 "$H3 fenced for flapping" fenced p1
moved_off_fenced() { local h; h=$(placed_on p1) && [ -n "$h" ] && [ "$h" != "$H3" ] && only_on "$h" $VOTERS; }
wait_for 20 "web moved off the fenced $H3" moved_off_fenced
"$PLATELET" placement --api "unix:$(sock p1)" | grep -q "^fenced .*$H3 (flapping)" ||
    fail "platelet placement does not name $H3 fenced: $("$PLATELET" placement --api "unix:$(sock p1)")"
pass "$H3 flapped (4 deaths in 10 min): fenced, web moved to $(placed_on p1) while $H3 stays up"
