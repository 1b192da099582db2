#!/usr/bin/env bash
# Integration test of `platelet postmortem` with the real binary on a real data dir: a ledger
# of hand-made swarm entries at chosen times (steps of two nodes' incidents, member events,
# notes, a decision, a Raft config change, a rejected entry, and context older than the
# window) gives the incident's chain and the factors of its window; every entry's proof in
# the JSON is checked here in Python against the head; `--verify` checks the JSON and refuses
# an edited one; the same post-mortem comes from an audit trail with proofs; a tampered trail
# is refused naming its line; an unknown incident and bad arguments are clear errors.
# Usage: postmortem_cli.sh path/to/platelet
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/postmortem_lib.sh"
pm_ledger

expect 0 "postmortem json" -- "$P" postmortem inc-web --data-dir "$D" --json
cp "$T/out" "$T/pm.json"
check "d['state'] == 'closed' and d['outcome'] == 'healed' and d['nodes'] == ['n1']" "state"
check "[e['index'] for e in d['chain']] == [4, 5, 7, 8, 11, 13]" "the chain's entries"
check "[e['mark'] for e in d['chain']] ==
       ['signal', 'diagnosis', 'action', 'duplicate', 'result', 'outcome']" "the chain's marks"
check "[(e['index'], e['mark']) for e in d['factors']] == [(2, 'member'), (3, 'incident'),
       (6, 'decision'), (9, 'config'), (10, 'rejected'), (12, 'incident')]" \
    "the factors of the window (not 0: too old, not 1: a note, not 14: after the close)"
check "d['diagnosis']['class'] == 'service_failure' and d['diagnosis']['cause'] == 'code_bug'
       and d['diagnosis']['confidence'] is None" "the diagnosis as the steps carry it"
check "d['decisions'] == [6] and d['posterior'] is None and d['posterior_note'] == 'none recorded'" \
    "the decision; no posterior recorded"
check "d['window']['from_ms'] == $T0 - 60000 and d['window']['to_ms'] == $T0 + 5000" "the window"
check "d['first_index'] == 4 and d['close_index'] == 13 and d['head']['size'] == 15" "indexes"
check "sum(d['marks'].values()) == len(d['chain']) + len(d['factors'])" "one mark per entry"

# Every proof, checked here with nothing but hashlib (RFC 9162 section 2.1.3.2).
python3 - "$T/pm.json" <<'PY' || fail "the proofs in the JSON do not verify"
import base64, hashlib, json, sys
d = json.load(open(sys.argv[1]))
size, root = d['head']['size'], bytes.fromhex(d['head']['root'])
H = lambda b: hashlib.sha256(b).digest()
n = 0
for e in d['chain'] + d['factors']:
    leaf = base64.b64decode(e['leaf'])
    h = H(b'\0' + leaf)
    assert h.hex() == e['leaf_hash'], e['index']
    fn, sn, r = e['index'], size - 1, h
    for p in map(bytes.fromhex, e['audit_path']):
        assert sn != 0
        if fn % 2 == 1 or fn == sn:
            r = H(b'\1' + p + r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1; sn >>= 1
        else:
            r = H(b'\1' + r + p)
        fn >>= 1; sn >>= 1
    assert sn == 0 and r == root, e['index']
    n += 1
assert n == 12, n
PY

expect 0 "verify" -- "$P" postmortem --verify "$T/pm.json"
grep -q "ok: 12 entries" "$T/out" || fail "verify: $(cat "$T/out")"
# The post-mortem edited (a result shown as another node's): --verify refuses, naming it.
python3 - "$T/pm.json" "$T/edited.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d['chain'][4]['body']['node'] = 'n9'
json.dump(d, open(sys.argv[2], 'w'))
PY
expect 1 "verify an edited post-mortem" -- "$P" postmortem --verify "$T/edited.json"
grep -q "entry 11" "$T/err" || fail "the refusal does not name entry 11: $(cat "$T/err")"

expect 0 "postmortem text and html" -- "$P" postmortem inc-web --data-dir "$D" --html "$T/pm.html"
grep -q "post-mortem of incident inc-web" "$T/out" || fail "text: $(head -3 "$T/out")"
grep -q "posterior   none recorded" "$T/out" || fail "text: the posterior line"
python3 - "$T/pm.html" "$T/pm.json" <<'PY' || fail "the HTML page"
import json, re, sys
h = open(sys.argv[1]).read()
d = json.load(open(sys.argv[2]))
assert not re.search(r'(src|href)=["\'](https?:)?//', h), 'the page fetches something'
drawn = {}
for k in re.findall(r'class="mark" data-kind="([a-z_]+)"', h):
    drawn[k] = drawn.get(k, 0) + 1
assert drawn == {k: v for k, v in d['marks'].items() if v}, drawn
assert h.count('class="interval target"') == 1 and 'data-expected=' in h
PY

# The same from an audit trail with proofs, far from the cluster.
expect 0 "export" -- "$P" audit export --data-dir "$D" --proofs -o "$T/trail.jsonl"
expect 0 "postmortem from the trail" -- "$P" postmortem inc-web --audit "$T/trail.jsonl" --json
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a != b)' \
    "$T/out" "$T/pm.json" || fail "the trail's post-mortem differs from the data dir's"
python3 - "$T/trail.jsonl" "$T/bad.jsonl" <<'PY'
import sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
l = bytearray(lines[6]); i = l.index(b'"term":') + 7; l[i] = ord('7')
lines[6] = bytes(l)
open(sys.argv[2], 'wb').write(b'\n'.join(lines))
PY
expect 1 "a tampered trail" -- "$P" postmortem inc-web --audit "$T/bad.jsonl"
grep -q "line 7" "$T/err" || fail "the refusal does not name line 7: $(cat "$T/err")"
expect 0 "export without proofs" -- "$P" audit export --data-dir "$D" -o "$T/noproofs.jsonl"
expect 2 "a trail without proofs" -- "$P" postmortem inc-web --audit "$T/noproofs.jsonl"
grep -q -- "--proofs" "$T/err" || fail "the refusal does not say how: $(cat "$T/err")"

# An open incident: its window runs to the end of the ledger.
step n2 inc-late 0 0 0 0 "" 0 0 2 "check failed" | append incident 7000
expect 0 "an open incident" -- "$P" postmortem inc-late --data-dir "$D" --json
check "d['state'] == 'open' and d['close_index'] is None and
       [e['index'] for e in d['factors']] == list(range(2, 15))" "open: from 60 s before to the end"

expect 1 "an unknown incident" -- "$P" postmortem inc-nope --data-dir "$D"
grep -q "inc-nope.*no step" "$T/err" || fail "unknown incident: $(cat "$T/err")"
expect 2 "no incident" -- "$P" postmortem --data-dir "$D"
expect 2 "no source" -- "$P" postmortem inc-web
expect 2 "two sources" -- "$P" postmortem inc-web --data-dir "$D" --audit "$T/trail.jsonl"
expect 2 "verify with more" -- "$P" postmortem inc-web --verify "$T/pm.json"
expect 1 "verify a non-post-mortem" -- "$P" postmortem --verify "$T/trail.jsonl"
expect 2 "a bad --time" -- "$P" ledger append --data-dir "$D" --time yesterday

cli_done "ok: chain, window factors, proofs checked in Python and by --verify, HTML marks, trail"
