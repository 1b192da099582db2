#!/usr/bin/env bash
# `make demo`: shows Platelet for real. Today that is the verifiable ledger (issue 2): a
# fresh ledger gets a few hundred incident-like entries, then status, an inclusion proof,
# a consistency proof, an exported audit trail verified offline, and a tampered copy that
# verify rejects, naming the edited line. Later issues add the healing cluster around it.
# Usage: scripts/demo.sh path/to/platelet
# Exit 0 only if the untouched trail verified and the tampered one was caught.
set -u
P="${1:-build/platelet}"
if [ ! -x "$P" ]; then
    echo "demo: no platelet binary at '$P' (run 'make build' first)" >&2
    exit 2
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/platelet-demo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$WORK|\$DEMO|g"; "$@"; }

# One incident = detect -> contain -> decision -> outcome, as the healer would log them.
incident_lines() { # KIND FIRST COUNT
    local kind="$1" first="$2" count="$3" i node svc
    local services=(api db cache queue auth) actions=(restart drain rollback scale-out)
    for ((i = first; i < first + count; i++)); do
        node="n$((i % 9 + 1))"
        svc="${services[$((i % 5))]}"
        case "$kind" in
        detect) printf '{"incident":%d,"node":"%s","service":"%s","signal":"p95_latency_ms","value":%d,"baseline":%d}\n' \
            "$i" "$node" "$svc" $((400 + i * 7 % 300)) $((120 + i % 40)) ;;
        contain) printf '{"incident":%d,"node":"%s","service":"%s","local_action":"restart","budget_left":%d}\n' \
            "$i" "$node" "$svc" $((2 - i % 3)) ;;
        decision) printf '{"incident":%d,"node":"%s","service":"%s","class":"degradation","cause":"overload","confidence":0.%02d,"action":"%s"}\n' \
            "$i" "$node" "$svc" $((60 + i % 39)) "${actions[$((i % 4))]}" ;;
        outcome) printf '{"incident":%d,"node":"%s","service":"%s","healed":%s,"recovery_ms":%d}\n' \
            "$i" "$node" "$svc" "$([ $((i % 7)) = 0 ] && echo false || echo true)" $((800 + i * 37 % 4000)) ;;
        esac
    done
}

demo_ledger() {
    local D="$WORK/node1" rc=0
    section "1. Append 300 incident entries (75 incidents x detect/contain/decision/outcome)"
    local wave kind
    for ((wave = 0; wave < 5; wave++)); do
        for kind in detect contain decision outcome; do
            incident_lines "$kind" $((wave * 15)) 15 | "$P" ledger append --data-dir "$D" --kind "$kind" >"$WORK/append.out" || return 1
        done
        printf 'wave %d: %s\n' "$wave" "$(cat "$WORK/append.out")"
    done

    section "2. Status: size, root and the signed tree head"
    run "$P" ledger status --data-dir "$D" || return 1
    run "$P" ledger status --data-dir "$D" --json >"$WORK/status.json" || return 1
    local size
    size=$(sed -n 's/^{"size":\([0-9]*\),.*/\1/p' "$WORK/status.json")

    section "3. Inclusion proof of entry 42 (RFC 6962 audit path)"
    run "$P" ledger proof --data-dir "$D" --index 42 || return 1

    section "4. Consistency proof: the tree at size 100 is a prefix of the tree at size $size"
    run "$P" ledger consistency --data-dir "$D" --from 100 --to "$size" || return 1

    section "5. Recompute everything from the leaves"
    run "$P" ledger check --data-dir "$D" || return 1

    section "6. Export the audit trail (with proofs) and verify it offline, without the data dir"
    run "$P" audit export --data-dir "$D" --proofs -o "$WORK/audit.jsonl" || return 1
    echo "first entry line:"
    sed -n 2p "$WORK/audit.jsonl" | cut -c1-200 | sed 's/$/.../'
    local pub
    pub=$(tr -d '\n' <"$D/node.pub")
    run "$P" audit verify "$WORK/audit.jsonl" --public-key "$pub"
    local verified=$?
    run "$P" audit export --data-dir "$D" --format csv -o "$WORK/audit.csv" || return 1
    head -3 "$WORK/audit.csv"

    section "7. Tamper: change the action of one decision in a copy, then verify again"
    # Entries 60w+30..60w+44 are wave w's decisions: entry 157 decides incident 37. Its line
    # is 157 + 2 (the header is line 1).
    sed '159s/"action":"[a-z-]*"/"action":"ignore"/' "$WORK/audit.jsonl" >"$WORK/tampered.jsonl"
    if cmp -s "$WORK/audit.jsonl" "$WORK/tampered.jsonl"; then
        echo "UNEXPECTED: the edit did not change the copy"
        return 1
    fi
    echo "line 159 before: $(sed -n 159p "$WORK/audit.jsonl" | grep -o '"incident":[0-9]*,.*"action":"[a-z-]*"')"
    echo "line 159 after:  $(sed -n 159p "$WORK/tampered.jsonl" | grep -o '"incident":[0-9]*,.*"action":"[a-z-]*"')"
    run "$P" audit verify "$WORK/tampered.jsonl" --public-key "$pub"
    local tampered=$?

    section "Result"
    if [ "$verified" = 0 ] && [ "$tampered" != 0 ]; then
        echo "the untouched trail verified; the edited entry was caught and its line named"
    else
        echo "UNEXPECTED: untouched verify exit $verified, tampered verify exit $tampered"
        rc=1
    fi
    return $rc
}

demo_ledger
