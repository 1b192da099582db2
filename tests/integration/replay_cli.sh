#!/usr/bin/env bash
# Integration test of `platelet replay` with the real binary on a real data dir: a ledger of
# swarm entries (members, incident steps with a resent duplicate, a foreign note, a
# placement, a decision, a malformed body) is replayed whole, at an index, at a time, entry
# by entry and as a diff; the same state hash comes back from an exported audit trail, a
# tampered trail is refused naming its line, a trail that does not start at 0 is refused,
# and bad arguments exit 2 with one line.
# Usage: replay_cli.sh path/to/platelet
. "$(dirname "$0")/cli_lib.sh"
D="$T/data"

# check EXPR: a Python expression over the JSON document in $T/out (as d).
check() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' \
        "$T/out" "$1" || fail "$2: $(head -c 400 "$T/out")"
}
append() { "$P" ledger append --data-dir "$D" --kind "$1" >/dev/null || fail "append $1"; }
step() { # node id seq event action outcome
    printf '{"node":"%s","id":"%s","seq":%d,"service":"web","event":%d,"action":%d,"result":0,"level":1,"cls":3,"cause":7,"signal":1,"outcome":"%s","t_ms":1700000000000,"detail":"step %d"}\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$3"
}

printf '%s\n' '{"node":"n1","event":"alive","inc":1}' '{"node":"n2","event":"alive","inc":1}' |
    append member_event                                              # 1, 2
{ step n1 inc-1 0 0 0 ""; step n1 inc-1 3 2 1 ""; step n1 inc-1 3 2 1 ""; } |
    append incident                                                  # 3, 4, 5 (a repeat)
echo '{"text":"a note"}' | append note                              # 6
echo '{"node":"n2","event":"dead","inc":1}' | append member_event   # 7
echo '{"service":"db","node":"n1","prev":""}' | append placement           # 8
echo '{"node":"n1","service":"db","action":1,"incident":"","reason":"n2 is dead","rollout":0}' |
    append decision                                                  # 9
{ step n1 inc-1 5 9 0 healed; echo '{"node":"n1"}'; } | append incident   # 10, 11 (malformed)

expect 0 "replay whole" -- "$P" replay --data-dir "$D" --json
check "d['applied_index'] == 11 and d['counters'] == {'applied': 8, 'duplicates': 1, 'foreign': 1,
       'rejected': 1, 'last_rejection': d['counters']['last_rejection']}" "counters"
check "'canonical' in d['counters']['last_rejection']" "the rejection says why"
check "[(m['name'], m['status']) for m in d['members']] == [('n1', 'alive'), ('n2', 'dead')]" \
    "members"
check "[(i['id'], i['state'], i['outcome'], i['actions']) for i in d['incidents']] ==
       [('inc-1', 'closed', 'healed', 1)]" "the incident, its repeat applied once"
check "d['placements'][0]['node'] == 'n1' and d['decisions'][0]['index'] == 9 and
       d['decisions'][0]['state'] == 'pending'" "placement and decision"
hash_all=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state_hash"])' "$T/out")

expect 0 "replay at index 4" -- "$P" replay --data-dir "$D" --at-index 4 --json
check "d['applied_index'] == 4 and d['members'][1]['status'] == 'alive' and
       d['incidents'][0]['state'] == 'open'" "the state after 4 entries"

# At a time: the time of entry 7 keeps n2 dead; one millisecond before it, alive.
expect 0 "replay step json" -- "$P" replay --data-dir "$D" --step --json
t7=$(sed -n 7p "$T/out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["time"])')
[ "$(wc -l <"$T/out")" = 11 ] || fail "--step printed $(wc -l <"$T/out") lines, want 11"
sed -n 5p "$T/out" | grep -q '"outcome":"duplicate"' || fail "entry 5 is not the duplicate"
expect 0 "replay at time" -- "$P" replay --data-dir "$D" --at-time "$t7" --json
check "d['applied_index'] >= 7 and d['members'][1]['status'] == 'dead'" "at the time of entry 7"

expect 0 "diff" -- "$P" replay diff --data-dir "$D" --from 3 --to 7 --json
check "[e['index'] for e in d['entries']] == [4, 5, 6, 7] and d['from']['applied_index'] == 3
       and d['to']['applied_index'] == 7 and d['from']['state_hash'] != d['to']['state_hash']" \
    "diff entry by entry"

# The same state from a verified audit trail, far from the cluster.
expect 0 "export" -- "$P" audit export --data-dir "$D" -o "$T/trail.jsonl"
expect 0 "replay the trail" -- "$P" replay --audit "$T/trail.jsonl" --json
check "d['state_hash'] == '$hash_all'" "the trail's state hash equals the data dir's"

# One flipped byte in line 5 (an entry): refused, naming the line.
python3 - "$T/trail.jsonl" "$T/bad.jsonl" <<'PY'
import sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
l = bytearray(lines[4]); i = l.index(b'"term":') + 7; l[i] = ord('7') if l[i] != ord('7') else ord('8')
lines[4] = bytes(l)
open(sys.argv[2], 'wb').write(b'\n'.join(lines))
PY
expect 1 "a tampered trail" -- "$P" replay --audit "$T/bad.jsonl"
grep -q "line 5" "$T/err" || fail "the refusal does not name line 5: $(cat "$T/err")"

expect 0 "export from 3" -- "$P" audit export --data-dir "$D" --from 3 -o "$T/part.jsonl"
expect 1 "a trail that starts at 3" -- "$P" replay --audit "$T/part.jsonl"
grep -q "index 0" "$T/err" || fail "the refusal does not say why: $(cat "$T/err")"

# Bad arguments: exit 2, one line, nothing read.
expect 2 "no source" -- "$P" replay
expect 2 "two sources" -- "$P" replay --data-dir "$D" --audit "$T/trail.jsonl"
expect 2 "index and time" -- "$P" replay --data-dir "$D" --at-index 1 --at-time 5
expect 2 "a bad time" -- "$P" replay --data-dir "$D" --at-time yesterday
expect 2 "--from without --step" -- "$P" replay --data-dir "$D" --from 2
expect 1 "past the end" -- "$P" replay --data-dir "$D" --at-index 99
expect 1 "a missing data dir" -- "$P" replay --data-dir "$T/nope"

cli_done "ok: replay whole, at an index and a time, step, diff; the trail gives the same hash"
