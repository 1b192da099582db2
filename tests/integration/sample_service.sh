#!/usr/bin/env bash
# Integration test of `platelet sample-service`: real processes on loopback (port 0, the
# port read from the "listening on" line), driven with curl. Exercises /health, /work,
# /metrics and every fault: errors, slow, unhealthy, cpu, leak (and its simulated OOM
# kill), crash (exit and abort), hang, clear; then SIGTERM with a late answer in flight,
# and the command-line errors. Waits poll with deadlines; nothing sleeps a fixed time to
# let something happen.
set -u

BIN=${1:?usage: sample_service.sh PATH_TO_PLATELET}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pl-sample.XXXXXX")
PIDS=()
FAILS=0

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
ok() { echo "ok: $*"; }

# start NAME: runs a service, sets PID and PORT (and URL).
start() {
    local name=$1
    shift
    : >"$WORK/$name.out"
    "$BIN" sample-service --port 0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PID=$!
    PIDS+=("$PID")
    local deadline=$((SECONDS + 10))
    PORT=""
    while [ $SECONDS -lt $deadline ]; do
        PORT=$(sed -n 's/^sample-service listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$WORK/$name.out")
        [ -n "$PORT" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$PORT" ]; then
        echo "FATAL: $name did not print its listening line" >&2
        cat "$WORK/$name.err" >&2
        exit 1
    fi
    URL="http://127.0.0.1:$PORT"
}

# code PATH: prints the HTTP status of a GET (000 when no answer within 2 s).
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL$1"; }
body() { curl -s --max-time 2 "$URL$1"; }
# metric NAME_WITH_LABELS: its value from /metrics.
metric() { body /metrics | awk -v m="$1" '$1 == m { print $2 }'; }

# wait_exit PID SECONDS: waits for the process to end; sets ST to its exit status or
# "alive". (Not in a $(...) subshell: only this shell can wait for its children.)
wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            ST=alive
            return
        fi
        # A zombie still answers kill -0; wait reaps it below.
        if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "Z" ]; then
            break
        fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null
    ST=$?
}

# ---------------------------------------------------------------- the basics
start main
[ "$(code /health)" = 200 ] && [ "$(body /health)" = ok ] && ok "health 200 ok" || fail "health"
w=$(body /work)
case "$w" in "ok "*) ok "work answers" ;; *) fail "work answered '$w'" ;; esac
[ "$(code /nothing)" = 404 ] && ok "unknown path 404" || fail "unknown path"
[ "$(code '/work?iters=abc')" = 400 ] && ok "bad iters 400" || fail "bad iters"
[ "$(metric 'sample_requests_total{code="200"}')" = 1 ] && ok "request counted" || fail "requests_total"
[ "$(metric 'sample_request_duration_seconds_count')" = 1 ] &&
    [ "$(metric 'sample_request_duration_seconds_bucket{le="+Inf"}')" = 1 ] &&
    ok "latency histogram observed" || fail "histogram"
rss=$(metric process_resident_memory_bytes)
[ "${rss:-0}" -gt 1000000 ] && ok "rss $rss" || fail "rss '$rss'"
# /metrics parses as Prometheus text: every sample line is NAME[{...}] NUMBER.
bad=$(body /metrics | grep -v '^#' | grep -Ev '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfa]+$')
[ -z "$bad" ] && ok "metrics format" || fail "metrics lines: $bad"

# ---------------------------------------------------------------- errors
[ "$(code '/fault/errors?rate=2')" = 400 ] && [ "$(code '/fault/errors')" = 400 ] &&
    ok "errors: bad rate 400" || fail "errors bad rate"
[ "$(code '/fault/errors?rate=1')" = 200 ] || fail "errors rate=1"
n500=0
for _ in $(seq 10); do [ "$(code /work)" = 500 ] && n500=$((n500 + 1)); done
[ $n500 = 10 ] && ok "rate=1: 10 of 10 answers 500" || fail "rate=1 gave $n500 of 10"
[ "$(metric sample_errors_total)" = 10 ] && [ "$(metric 'sample_requests_total{code="500"}')" = 10 ] &&
    ok "errors counted" || fail "errors_total"
[ "$(code /health)" = 200 ] && ok "health stays 200 under errors" || fail "health under errors"
code '/fault/errors?rate=0.5' >/dev/null
n500=0; n200=0
for _ in $(seq 60); do
    case "$(code /work)" in 500) n500=$((n500 + 1)) ;; 200) n200=$((n200 + 1)) ;; esac
done
[ $n500 -gt 0 ] && [ $n200 -gt 0 ] && ok "rate=0.5: $n200 ok, $n500 errors" || fail "rate=0.5: $n200/$n500"
[ "$(code /fault/clear)" = 200 ] || fail "clear"
n500=0
for _ in $(seq 10); do [ "$(code /work)" = 500 ] && n500=$((n500 + 1)); done
[ $n500 = 0 ] && ok "clear: no more errors" || fail "errors after clear: $n500"

# ---------------------------------------------------------------- slow
[ "$(code '/fault/slow?ms=-1')" = 400 ] && ok "slow: bad ms 400" || fail "slow bad ms"
code '/fault/slow?ms=300' >/dev/null
t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 5 "$URL/work")
awk -v t="$t" 'BEGIN { exit !(t >= 0.3) }' && ok "slow: /work took ${t}s (>= 0.3)" || fail "slow: /work took $t"
# The late answer is a timer: the loop still serves /health while /work waits.
code '/fault/slow?ms=3000' >/dev/null
curl -s -o "$WORK/slow.body" --max-time 10 "$URL/work" &
slow_pid=$!
PIDS+=("$slow_pid")
h=$(code /health)
if [ "$h" = 200 ] && kill -0 "$slow_pid" 2>/dev/null; then
    ok "slow: health answers while /work is held"
else
    fail "slow: health=$h while /work held"
fi
wait "$slow_pid"
grep -q '^ok ' "$WORK/slow.body" && ok "slow: held /work answered" || fail "slow: held /work body"
over=$(metric 'sample_request_duration_seconds_bucket{le="2.5"}')
all=$(metric 'sample_request_duration_seconds_count')
[ "$over" -lt "$all" ] && ok "slow: the histogram saw the 3 s answer" || fail "histogram le=2.5 $over of $all"
code /fault/clear >/dev/null

# ---------------------------------------------------------------- unhealthy
code /fault/unhealthy >/dev/null
[ "$(code /health)" = 503 ] && ok "unhealthy: health 503" || fail "unhealthy"
code /fault/clear >/dev/null
[ "$(code /health)" = 200 ] && ok "clear: health 200" || fail "health after clear"

# ---------------------------------------------------------------- cpu
[ "$(code '/fault/cpu?percent=100')" = 400 ] && ok "cpu: bad percent 400" || fail "cpu bad percent"
cpu0=$(metric process_cpu_seconds_total)
code '/fault/cpu?percent=90' >/dev/null
deadline=$((SECONDS + 10))
burned=no
while [ $SECONDS -lt $deadline ]; do
    cpu=$(metric process_cpu_seconds_total)
    if awk -v a="$cpu0" -v b="$cpu" 'BEGIN { exit !(b - a >= 0.5) }'; then burned=yes; break; fi
    sleep 0.1
done
[ $burned = yes ] && ok "cpu: burned >= 0.5 s of CPU" || fail "cpu: $cpu0 -> $cpu"
[ "$(code /health)" = 200 ] && ok "cpu: still answers" || fail "cpu: health"
[ "$(metric 'sample_fault_active{fault="cpu"}')" = 1 ] || fail "cpu fault gauge"
code /fault/clear >/dev/null

# ---------------------------------------------------------------- leak
[ "$(code '/fault/leak')" = 400 ] && ok "leak: missing rate 400" || fail "leak bad"
rss0=$(metric process_resident_memory_bytes)
code '/fault/leak?mb_per_s=64' >/dev/null
deadline=$((SECONDS + 15))
grown=no
while [ $SECONDS -lt $deadline ]; do
    rss=$(metric process_resident_memory_bytes)
    leaked=$(metric sample_leaked_bytes)
    if [ $((rss - rss0)) -ge $((32 << 20)) ] && [ "$leaked" -ge $((32 << 20)) ]; then grown=yes; break; fi
    sleep 0.1
done
[ $grown = yes ] && ok "leak: rss grew $(((rss - rss0) >> 20)) MiB" || fail "leak: rss $rss0 -> $rss, leaked $leaked"
code /fault/clear >/dev/null
rss=$(metric process_resident_memory_bytes)
[ "$(metric sample_leaked_bytes)" = 0 ] && [ "$rss" -lt $((rss0 + (16 << 20))) ] &&
    ok "clear: leaked memory given back" || fail "leak clear: rss $rss"

# ---------------------------------------------------------------- SIGTERM with a late answer
code '/fault/slow?ms=30000' >/dev/null
curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/work" >"$WORK/term.code" &
term_curl=$!
PIDS+=("$term_curl")
deadline=$((SECONDS + 5))
while [ $SECONDS -lt $deadline ]; do
    [ "$(metric sample_held_requests)" = 1 ] && break
    sleep 0.05
done
[ "$(metric sample_held_requests)" = 1 ] || fail "the held request never arrived"
kill -TERM "$PID"
wait_exit "$PID" 10; st=$ST
[ "$st" = 0 ] && ok "SIGTERM: exit 0" || fail "SIGTERM exit '$st'"
wait "$term_curl"
[ "$(cat "$WORK/term.code")" = 503 ] && ok "SIGTERM: held /work answered 503" || fail "held /work got $(cat "$WORK/term.code")"

# ---------------------------------------------------------------- leak until the OOM kill
start oom
code '/fault/leak?mb_per_s=200&max_mb=24' >/dev/null
wait_exit "$PID" 15; st=$ST
[ "$st" = 137 ] && ok "leak max_mb: killed by SIGKILL (137)" || fail "leak max_mb: exit '$st'"
grep -q "OOM" "$WORK/oom.err" && ok "leak max_mb: said why" || fail "oom message"

# ---------------------------------------------------------------- crash
start crash
code /fault/crash >/dev/null
wait_exit "$PID" 10; st=$ST
[ "$st" = 70 ] && ok "crash: exit 70" || fail "crash: exit '$st'"
start abort
code '/fault/crash?how=abort' >/dev/null
wait_exit "$PID" 10; st=$ST
[ "$st" = 134 ] && ok "crash how=abort: SIGABRT (134)" || fail "abort: exit '$st'"

# ---------------------------------------------------------------- hang
start hang
[ "$(body /fault/hang)" = hanging ] && ok "hang: answered" || fail "hang answer"
deadline=$((SECONDS + 10))
hung=no
while [ $SECONDS -lt $deadline ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/health")" = 000 ] && { hung=yes; break; }
done
[ $hung = yes ] && ok "hang: /health no longer answers" || fail "hang: health still answers"
kill -TERM "$PID"
wait_exit "$PID" 1; st=$ST
[ "$st" = alive ] && ok "hang: SIGTERM is not handled (the loop is blocked)" || fail "hang: exited '$st' on SIGTERM"
kill -KILL "$PID"
wait_exit "$PID" 10; st=$ST
[ "$st" = 137 ] && ok "hang: SIGKILL ends it" || fail "hang: exit '$st' after SIGKILL"

# ---------------------------------------------------------------- faults a restart keeps
# (issue 11): drift, dependency, scratch and poison live in --state-dir, so a new process
# finds them; each has its own cure.
SD="$WORK/state"
mkdir -p "$SD"
echo "mode=good" >"$SD/web.conf"
start files --state-dir "$SD" --config "$SD/web.conf"
[ "$(code /fault/drift)" = 200 ] && [ "$(code /health)" = 500 ] && ok "drift: /health 500" || fail "drift"
kill -TERM "$PID"; wait_exit "$PID" 10
start files --state-dir "$SD" --config "$SD/web.conf"
[ "$(code /health)" = 500 ] && ok "drift: a restart does not heal it" || fail "drift healed by a restart"
echo "mode=good" >"$SD/web.conf"
[ "$(code /health)" = 200 ] && ok "drift: the known-good file back heals it" || fail "drift after config_sync"
[ "$(code '/fault/scratch?mb=2')" = 200 ] && [ "$(code /health)" = 507 ] && ok "scratch: /health 507" || fail "scratch"
[ "$(stat -c %s "$SD/scratch/fill")" = 2097152 ] || fail "scratch: not 2 MiB"
rm -f "$SD/scratch/"*
[ "$(code /health)" = 200 ] && ok "scratch: the cleanup heals it" || fail "scratch after cleanup"
[ "$(code /fault/poison)" = 200 ] && [ "$(code /health)" = 500 ] && ok "poison: /health 500, late" || fail "poison"
rm -f "$SD/cache"
[ "$(code /health)" = 200 ] && ok "poison: state_repair (the cache removed) heals it" || fail "poison after repair"
[ "$(code '/fault/dependency?s=30')" = 200 ] && [ "$(code /health)" = 503 ] && ok "dependency: /health 503" || fail "dependency"
before=$(cat "$SD/dependency")
kill -TERM "$PID"; wait_exit "$PID" 10
start files --state-dir "$SD" --config "$SD/web.conf"
[ "$(cat "$SD/dependency")" = $((before + 10)) ] && ok "dependency: a start while it is down adds 10 s" ||
    fail "dependency: $before -> $(cat "$SD/dependency")"
echo 1 >"$SD/dependency"  # the outage ends (a time long past)
[ "$(code /health)" = 200 ] && ok "dependency: healthy once it is back" || fail "dependency after the outage"
[ "$(code '/fault/dependency?s=0')" = 400 ] && ok "dependency: s=0 refused" || fail "dependency s=0"
kill -TERM "$PID"; wait_exit "$PID" 10
start nostate
[ "$(code /fault/poison)" = 400 ] && ok "poison without --state-dir: 400" || fail "poison without --state-dir"
kill -TERM "$PID"; wait_exit "$PID" 10

# ---------------------------------------------------------------- the command line
start taken
"$BIN" sample-service --port "$PORT" >/dev/null 2>"$WORK/taken.err"
st=$?
[ $st = 1 ] && grep -q "cannot listen" "$WORK/taken.err" && ok "port in use: exit 1" || fail "port in use: exit $st"
kill -TERM "$PID"
wait_exit "$PID" 10
[ "$ST" = 0 ] || fail "taken: SIGTERM exit '$ST'"
"$BIN" sample-service >/dev/null 2>&1; st=$?
[ $st = 2 ] && ok "missing --port: exit 2" || fail "missing --port: exit $st"
"$BIN" sample-service --port 70000 >/dev/null 2>&1; st=$?
[ $st = 2 ] && ok "--port 70000: exit 2" || fail "--port 70000: exit $st"
"$BIN" sample-service --port 0 --host not-an-ip >/dev/null 2>&1; st=$?
[ $st = 2 ] && ok "--host not-an-ip: exit 2" || fail "--host not-an-ip: exit $st"

if [ $FAILS -ne 0 ]; then
    echo "$FAILS check(s) failed"
    exit 1
fi
echo "all sample-service checks passed"
