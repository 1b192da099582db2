#!/usr/bin/env bash
# Crash safety of the ledger: `platelet ledger append --batch N` prints one acknowledgement
# line per synced batch; we SIGKILL it at random moments mid-stream, then demand that
# `ledger check` passes and that the ledger holds at least every size that was acknowledged.
# Bounded: ROUNDS kills (default 12), each append given at most a few seconds.
# Usage: ledger_crash.sh path/to/platelet [seed]
set -u
P="$1"
SEED="${2:-${LEDGER_CRASH_SEED:-4242}}"
ROUNDS="${LEDGER_CRASH_ROUNDS:-12}"
RANDOM="$SEED"
T="$(mktemp -d "${TMPDIR:-/tmp}/ledger_crash.XXXXXX")"
trap 'rm -rf "$T"' EXIT
D="$T/data"
echo "ledger_crash: seed $SEED, $ROUNDS rounds (replay: $0 <platelet> $SEED)"

# 100,000 incident-like lines (~100 bytes each): far more than a round gets through.
awk 'BEGIN { for (i = 0; i < 100000; i++)
    printf "{\"node\":\"n%d\",\"signature\":\"svc-%d\",\"action\":\"restart\",\"seq\":%d}\n", i % 9, i % 4, i }' \
    >"$T/input"

status_size() { "$P" ledger status --data-dir "$D" --json | sed -n 's/^{"size":\([0-9]*\),.*/\1/p'; }

acked_max=0
kills=0
for ((round = 1; round <= ROUNDS; round++)); do
    batch=$((1 + RANDOM % 64))
    "$P" ledger append --data-dir "$D" --kind contain --batch "$batch" <"$T/input" >"$T/ack" 2>"$T/err" &
    pid=$!
    # Let it run 20..400 ms, then kill it without warning.
    delay_ms=$((20 + RANDOM % 380))
    sleep "$(printf '0.%03d' "$delay_ms")"
    if kill -9 "$pid" 2>/dev/null; then
        kills=$((kills + 1))
    fi
    wait "$pid" 2>/dev/null
    # Only complete acknowledgement lines count: the kill may cut the last one short.
    last=$(grep -E '^appended [0-9]+ size [0-9]+ root [0-9a-f]{64}$' "$T/ack" | tail -1 | awk '{print $4}')
    if [ -n "$last" ] && [ "$last" -gt "$acked_max" ]; then
        acked_max=$last
    fi
    if ! "$P" ledger check --data-dir "$D" >"$T/check" 2>&1; then
        echo "FAIL round $round (batch $batch, kill after ${delay_ms} ms): ledger check failed:" >&2
        cat "$T/check" >&2
        exit 1
    fi
    size=$(status_size)
    if [ -z "$size" ] || [ "$size" -lt "$acked_max" ]; then
        echo "FAIL round $round: size ${size:-?} < acknowledged $acked_max (an acknowledged batch was lost)" >&2
        exit 1
    fi
    echo "round $round: batch $batch, killed after ${delay_ms} ms; size $size >= acknowledged $acked_max; check ok"
done
if [ "$kills" -lt $((ROUNDS / 2)) ]; then
    echo "FAIL: only $kills of $ROUNDS appends were still running when killed; the test proved little" >&2
    exit 1
fi
if [ "$acked_max" -eq 0 ]; then
    echo "FAIL: nothing was ever acknowledged" >&2
    exit 1
fi
# The whole survived ledger exports and verifies offline.
"$P" audit export --data-dir "$D" -o "$T/trail.jsonl" 2>/dev/null && "$P" audit verify "$T/trail.jsonl" >/dev/null ||
    { echo "FAIL: export/verify of the crashed ledger" >&2; exit 1; }
echo "ledger_crash: $kills kills, final size $(status_size), all acknowledged batches kept"
