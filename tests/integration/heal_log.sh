#!/bin/sh
# Output capture: a supervised service's stdout and stderr go to <data-dir>/heal/<name>.log,
# rotated at log.max_bytes with log.keep older generations; no file grows past the limit and
# the newest output is in the current file.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_log

cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "chatty", "command": "/bin/sh",
  "args": ["-c", "i=0; while [ \$i -lt 3000 ]; do echo \"line \$i of the rotation test\"; echo \"err \$i\" >&2; i=\$((i + 1)); done; echo last-line; exec sleep 600"],
  "log": {"max_bytes": 4096, "keep": 2}}]}
JSON
heal_agent "$WORK/agent.json"
LOGS="$WORK/data/heal"
wait_for 30 "the last line in the current log" grep -q last-line "$LOGS/chatty.log"
[ -f "$LOGS/chatty.log.1" ] && [ -f "$LOGS/chatty.log.2" ] || fail "no rotated generations"
[ ! -e "$LOGS/chatty.log.3" ] || fail "more generations kept than log.keep"
for f in "$LOGS"/chatty.log*; do
    size=$(wc -c <"$f")
    [ "$size" -le 4096 ] || fail "$f is $size bytes, over max_bytes"
done
grep -q "^err " "$LOGS"/chatty.log* || fail "stderr was not captured"
if inc_is "True" >/dev/null; then fail "an incident opened for a healthy service"; fi
echo "ok: output captured and rotated at 4096 bytes, 2 generations kept"
