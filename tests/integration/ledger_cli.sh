#!/usr/bin/env bash
# Integration test of the ledger and audit CLI with the real binary on a real data dir:
# every command, bad input for each (one line on stderr, the right exit code, nothing
# changed), export + offline verify, and tamper detection naming the line.
# Usage: ledger_cli.sh path/to/platelet
. "$(dirname "$0")/cli_lib.sh"
D="$T/data"

has() { grep -q -- "$2" "$T/$1" || fail "$3: '$2' not in $1: $(head -c 300 "$T/$1")"; }
size_of() { "$P" ledger status --data-dir "$D" --json | sed -n 's/^{"size":\([0-9]*\),.*/\1/p'; }

# Incident-like bodies, with a comma and quotes in one field for the CSV.
gen() {
    local from="$1" n="$2" i
    for ((i = from; i < from + n; i++)); do
        printf '{"node":"n%d","signature":"svc-%d","action":"restart","detail":"exit code %d, \\"oom\\"","n":%d,"big":18446744073709551615}\n' \
            $((i % 7)) $((i % 5)) $((i % 3)) "$i"
    done
}

# ---- append, status, proof, consistency, check ----
gen 0 200 >"$T/in1"
expect 0 "append 200" -- "$P" ledger append --data-dir "$D" --kind detect <"$T/in1"
has out "^appended 200 size 200 root [0-9a-f]\{64\}$" "append output"
[ "$(stat -c %a "$D/node.key")" = 600 ] || fail "node.key mode is $(stat -c %a "$D/node.key")"
[ "$(stat -c %a "$D")" = 700 ] || fail "data dir mode is $(stat -c %a "$D")"
gen 200 100 >"$T/in2"
expect 0 "append 100 in batches" -- "$P" ledger append --data-dir "$D" --kind decision --batch 30 <"$T/in2"
[ "$(grep -c '^appended' "$T/out")" = 4 ] || fail "want 4 acknowledgement lines: $(cat "$T/out")"
has out "^appended 10 size 300 " "last batch"
expect 0 "append --json" -- "$P" ledger append --data-dir "$D" --json < <(printf '{"x":1}\n\n{"y":[1,2.5,null,true]}\n')
has out '^{"appended":2,"size":302,"root":"[0-9a-f]\{64\}"}$' "append --json"

expect 0 "status --json" -- "$P" ledger status --data-dir "$D" --json
has out '^{"size":302,"root":"[0-9a-f]\{64\}","head":{"size":302,"root":"[0-9a-f]\{64\}","time_ms":[0-9]*,"public_key":"[0-9a-f]\{64\}","signature":"[0-9a-f]\{128\}"}}$' "status shape"
root302=$(sed -n 's/^{"size":302,"root":"\([0-9a-f]*\)".*/\1/p' "$T/out")
pubkey=$(sed -n 's/.*"public_key":"\([0-9a-f]*\)".*/\1/p' "$T/out")
[ "$pubkey" = "$(tr -d '\n' <"$D/node.pub")" ] || fail "head key is not node.pub"
expect 0 "status text" -- "$P" ledger status --data-dir "$D"
has out "^size        302$" "status text"

expect 0 "proof" -- "$P" ledger proof --data-dir "$D" --index 17 --json
has out '^{"leaf_index":17,"tree_size":302,"leaf":"[A-Za-z0-9+/=]*","leaf_hash":"[0-9a-f]\{64\}","audit_path":\["[0-9a-f]\{64\}"\(,"[0-9a-f]\{64\}"\)\{8\}\],"root":"'"$root302"'"}$' "proof shape (9 hashes for 302 leaves)"
cp "$T/out" "$T/proof17.json"
expect 0 "proof --size" -- "$P" ledger proof --data-dir "$D" --index 0 --size 1 --json
has out '"tree_size":1,.*"audit_path":\[\]' "proof in a one-leaf tree"
expect 0 "consistency" -- "$P" ledger consistency --data-dir "$D" --from 100 --to 302 --json
has out '^{"first":100,"second":302,"first_root":"[0-9a-f]\{64\}","second_root":"'"$root302"'","proof":\["[0-9a-f]\{64\}"' "consistency shape"
cp "$T/out" "$T/cons.json"
expect 0 "consistency equal sizes" -- "$P" ledger consistency --data-dir "$D" --from 302 --json
has out '"proof":\[\]}' "empty proof for equal sizes"
expect 0 "check" -- "$P" ledger check --data-dir "$D"
has out "^ok: 302 entries" "check output"

# An independent RFC 9162 verifier of the printed proofs, when python3 is on the machine.
if command -v python3 >/dev/null; then
    python3 - "$T/proof17.json" "$T/cons.json" <<'PY' || fail "python RFC 9162 verification"
import base64, hashlib, json, sys
H = lambda b: hashlib.sha256(b).digest()
p = json.load(open(sys.argv[1]))
r = H(b"\0" + base64.b64decode(p["leaf"]))
assert r.hex() == p["leaf_hash"]
fn, sn = p["leaf_index"], p["tree_size"] - 1
for h in map(bytes.fromhex, p["audit_path"]):
    assert sn != 0
    if fn & 1 or fn == sn:
        r = H(b"\1" + h + r)
        while not fn & 1 and fn != 0:
            fn >>= 1; sn >>= 1
    else:
        r = H(b"\1" + r + h)
    fn >>= 1; sn >>= 1
assert sn == 0 and r.hex() == p["root"], "inclusion"
c = json.load(open(sys.argv[2]))
path = [bytes.fromhex(x) for x in c["proof"]]
first, second = c["first"], c["second"]
if first & (first - 1) == 0:
    path = [bytes.fromhex(c["first_root"])] + path
fn, sn = first - 1, second - 1
while fn & 1:
    fn >>= 1; sn >>= 1
fr = sr = path[0]
for h in path[1:]:
    assert sn != 0
    if fn & 1 or fn == sn:
        fr = H(b"\1" + h + fr); sr = H(b"\1" + h + sr)
        while not fn & 1 and fn != 0:
            fn >>= 1; sn >>= 1
    else:
        sr = H(b"\1" + sr + h)
    fn >>= 1; sn >>= 1
assert sn == 0 and fr.hex() == c["first_root"] and sr.hex() == c["second_root"], "consistency"
PY
else
    echo "note: python3 not found; the independent RFC 9162 check of the printed proofs was skipped"
fi

# ---- bad input: one line on stderr, non-zero exit, nothing changed ----
printf '{"ok":1}\n{"ok":2}\n{"broken": }\n{"ok":4}\n' >"$T/bad"
expect 1 "malformed line" -- "$P" ledger append --data-dir "$D" <"$T/bad"
has err "line 3" "malformed line is named"
[ "$(size_of)" = 302 ] || fail "a malformed batch changed the size"
printf '{"a":1}\n{"a":2}\n{"a":3}\n[1,\n' >"$T/bad2"
expect 1 "malformed line in the second batch" -- "$P" ledger append --data-dir "$D" --batch 2 <"$T/bad2"
has err "line 4" "malformed line in batch 2 is named"
[ "$(size_of)" = 304 ] || fail "want the first batch (2 entries) appended, size $(size_of)"
expect 1 "integer too big" -- "$P" ledger append --data-dir "$D" < <(echo '{"n":18446744073709551616}')
has err "line 1: integer out of the 64-bit range" "range error"
expect 2 "bad kind" -- "$P" ledger append --data-dir "$D" --kind "two words" </dev/null
expect 2 "unknown flag" -- "$P" ledger append --data-dir "$D" --bogus </dev/null
expect 2 "missing --data-dir" -- "$P" ledger append </dev/null
expect 2 "unknown ledger command" -- "$P" ledger frobnicate
expect 2 "no ledger command" -- "$P" ledger
expect 1 "status of a missing dir" -- "$P" ledger status --data-dir "$T/missing"
has err "does not exist" "missing dir message"
[ ! -e "$T/missing" ] || fail "a read command created the data dir"
mkdir "$T/empty"
expect 1 "status of a dir without a database" -- "$P" ledger status --data-dir "$T/empty"
expect 1 "check of a missing dir" -- "$P" ledger check --data-dir "$T/missing"
expect 1 "proof index = size" -- "$P" ledger proof --data-dir "$D" --index 304
expect 1 "proof size too big" -- "$P" ledger proof --data-dir "$D" --index 1 --size 305
expect 2 "proof index not a number" -- "$P" ledger proof --data-dir "$D" --index -1
expect 2 "proof without --index" -- "$P" ledger proof --data-dir "$D"
expect 1 "consistency from 0" -- "$P" ledger consistency --data-dir "$D" --from 0
expect 1 "consistency from > to" -- "$P" ledger consistency --data-dir "$D" --from 5 --to 4
expect 1 "consistency past the end" -- "$P" ledger consistency --data-dir "$D" --from 5 --to 999
# A locked data dir: hold the lock with an append that waits on its stdin.
mkfifo "$T/fifo"
"$P" ledger append --data-dir "$D" <"$T/fifo" >"$T/holder.out" 2>&1 &
holder=$!
exec 3>"$T/fifo"
# Wait (bounded) until the holder has the database's LOCK file open.
for _ in $(seq 1 200); do
    ls -l "/proc/$holder/fd" 2>/dev/null | grep -q '/db/LOCK$' && break
    sleep 0.05
done
expect 1 "a second writer on a locked dir" -- "$P" ledger append --data-dir "$D" < <(echo '{}')
has err "locked by another process" "lock error"
has err "LOCK" "lock error names the lock"
expect 0 "status while locked (read-only)" -- "$P" ledger status --data-dir "$D" --json
exec 3>&-
wait "$holder" || fail "the lock holder failed: $(cat "$T/holder.out")"
n_before=$(size_of)
[ "$n_before" = 304 ] || fail "the refused writer changed the size to $n_before"

# ---- audit export / verify ----
expect 0 "export with proofs" -- "$P" audit export --data-dir "$D" --proofs -o "$T/trail.jsonl"
[ "$(wc -l <"$T/trail.jsonl")" = $((n_before + 1)) ] || fail "want header + $n_before lines"
head -1 "$T/trail.jsonl" | grep -q '^{"platelet_audit":1,"public_key":"'"$pubkey"'","head":{"size":'"$n_before"',' || fail "header shape"
sed -n 2p "$T/trail.jsonl" | grep -q '^{"index":0,"time":"[0-9-]*T[0-9:.]*Z","term":0,"kind":"detect","body":{"node":"n0","signature":"svc-0","action":"restart","detail":"exit code 0, \\"oom\\"","n":0,"big":18446744073709551615},"leaf":"[A-Za-z0-9+/=]*","leaf_hash":"[0-9a-f]\{64\}","audit_path":\[' || fail "entry line shape: $(sed -n 2p "$T/trail.jsonl" | head -c 300)"
expect 0 "verify with proofs" -- "$P" audit verify "$T/trail.jsonl"
has out "inclusion: $n_before audit paths verified" "verify output"
expect 0 "verify with the pinned key" -- "$P" audit verify "$T/trail.jsonl" --public-key "$pubkey"
expect 1 "verify with another key" -- "$P" audit verify "$T/trail.jsonl" --public-key "$(printf 'ab%.0s' $(seq 32))"
has err "line 1" "wrong key names the header"
expect 2 "verify with a malformed key" -- "$P" audit verify "$T/trail.jsonl" --public-key xyz
expect 0 "export without proofs" -- "$P" audit export --data-dir "$D" -o "$T/plain.jsonl"
expect 0 "verify without proofs (full range: root recomputed)" -- "$P" audit verify "$T/plain.jsonl"
has out "root recomputed from all" "root recomputation"
expect 0 "export a range" -- "$P" audit export --data-dir "$D" --from 10 --to 19
[ "$(wc -l <"$T/out")" = 11 ] || fail "range export: want 11 lines"
cp "$T/out" "$T/range.jsonl"
expect 0 "verify a range without proofs" -- "$P" audit verify "$T/range.jsonl"
has out "NOT checked" "a range without proofs says what it could not check"
expect 0 "export by time" -- "$P" audit export --data-dir "$D" --since 2000-01-01T00:00:00Z --until 9999-01-01T00:00:00Z --proofs
[ "$(wc -l <"$T/out")" = $((n_before + 1)) ] || fail "time filter: want all entries"
expect 0 "export by time (none)" -- "$P" audit export --data-dir "$D" --until 1000
[ "$(wc -l <"$T/out")" = 1 ] || fail "time filter: want no entries"
expect 0 "export csv" -- "$P" audit export --data-dir "$D" --format csv -o "$T/trail.csv"
head -1 "$T/trail.csv" | grep -qx 'index,time,term,kind,node,summary,leaf_hash' || fail "csv header"
sed -n 2p "$T/trail.csv" | grep -q '^0,[0-9-]*T[0-9:.]*Z,0,detect,n0,"{""node"":""n0"",.*""detail"":""exit code 0, \\""oom\\""""' || fail "csv quoting: $(sed -n 2p "$T/trail.csv")"
[ "$(wc -l <"$T/trail.csv")" = $((n_before + 1)) ] || fail "csv line count"

expect 1 "export from beyond the end" -- "$P" audit export --data-dir "$D" --from 100000
expect 2 "export bad format" -- "$P" audit export --data-dir "$D" --format xml
expect 2 "export bad time" -- "$P" audit export --data-dir "$D" --since yesterday
expect 2 "export csv with proofs" -- "$P" audit export --data-dir "$D" --format csv --proofs
expect 1 "export of a missing dir" -- "$P" audit export --data-dir "$T/missing"
expect 1 "export to an unwritable path" -- "$P" audit export --data-dir "$D" -o "$T/missing/x.jsonl"
expect 1 "verify a missing file" -- "$P" audit verify "$T/nope.jsonl"
expect 2 "verify without a file" -- "$P" audit verify
echo "not json" >"$T/junk"
expect 1 "verify junk" -- "$P" audit verify "$T/junk"
has err "line 1" "junk names line 1"
: >"$T/emptyfile"
expect 1 "verify an empty file" -- "$P" audit verify "$T/emptyfile"

# ---- tampering: every kind of edit is caught and the line named ----
tamper() { # LINE SED-EXPR DESCRIPTION [FILE]
    local src="${4:-$T/trail.jsonl}"
    sed "$1$2" "$src" >"$T/t.jsonl"
    cmp -s "$T/t.jsonl" "$src" && { fail "tamper '$3' did not change the file"; return; }
    expect 1 "tamper: $3" -- "$P" audit verify "$T/t.jsonl"
    has err "line $1:" "tamper '$3' names line $1"
}
tamper 40 's/"action":"restart"/"action":"ignore"/' "body edited"
tamper 41 's/"term":0/"term":1/' "term edited"
tamper 42 's/"kind":"detect"/"kind":"decide"/' "kind edited"
tamper 43 's/T\([0-9][0-9]\):/T0\1:/' "time edited"
tamper 44 's/"n":42/"n":43/' "number in the body edited"
tamper 45 's/"leaf":"\(.\)/"leaf":"A\1/' "leaf bytes edited"
tamper 46 's/"audit_path":\["\(.\)/"audit_path":["f\1/' "proof hash edited"
tamper 47 's/},"leaf"/} ,"leaf"/' "whitespace added"
tamper 1 's/"count":[0-9]*/"count":5/' "header count edited"
tamper 1 's/"time_ms":\([0-9]\)/"time_ms":9\1/' "head time edited (signature)"
tamper 50 'd' "a line removed"
sed '60{h;d};61G' "$T/trail.jsonl" >"$T/t.jsonl"
expect 1 "tamper: two lines swapped" -- "$P" audit verify "$T/t.jsonl"
has err "line 60:" "swap names line 60"
# Without proofs, a body edit is still named by its line.
tamper 30 's/"action":"restart"/"action":"ignore"/' "body edited, no proofs" "$T/plain.jsonl"

# --json reports of a failure are one JSON document with the reason escaped.
sed '2s/"leaf":/"lea":/' "$T/trail.jsonl" >"$T/t.jsonl"
expect 1 "verify --json of a bad line" -- "$P" audit verify "$T/t.jsonl" --json
has out '^{"ok":false,"entries":0,.*"line":2,"reason":"entry has no \\"leaf\\" string"}$' "verify --json"
expect 0 "verify --json" -- "$P" audit verify "$T/trail.jsonl" --json
has out '^{"ok":true,"entries":'"$n_before"',"proofs_verified":'"$n_before"',' "verify --json ok"
expect 0 "check --json" -- "$P" ledger check --data-dir "$D" --json
has out '^{"ok":true,"size":'"$n_before"',' "check --json"

# The data dir still checks after all of that.
expect 0 "final check" -- "$P" ledger check --data-dir "$D"

cli_done "ledger_cli: all checks passed"
