#!/bin/sh
# Disk: a file system filling up. The agent fits a least-squares line through the used
# bytes of the service's disk_path every second; when the fit says "full within the
# horizon" it opens a degradation incident and runs the operator's state_repair command
# (here: delete the file that grows), never a restart, which would free nothing.
#
# The spool sits on /dev/shm (a tmpfs anyone may write, quiet: nothing else on the machine
# writes there as a build or a test run writes to /tmp), so a steady 1 MiB/s is the whole
# trend and a few MiB show it; the 7-day horizon holds any tmpfs under 590 GiB at that rate.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_disk

if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
    SPOOL=$(mktemp -d /dev/shm/platelet-heal_disk.XXXXXX)
    EXTRA_DIRS=$SPOOL
else
    echo "note: no writable tmpfs at /dev/shm; the spool shares $WORK's busier file system"
    SPOOL=$WORK/spool
    mkdir -p "$SPOOL"
fi
cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "spooler", "command": "/bin/sh", "args": ["-c", "exec sleep 600"],
  "disk_path": "$SPOOL", "state_repair": ["/bin/sh", "-c", "rm -f '$SPOOL/fill'; touch '$WORK/repaired'"],
  "policy": {"allowed_actions": ["restart", "state_repair"], "horizon_ms": 604800000,
             "trend_window_ms": 10000, "trend_min_samples": 5, "trend_min_r2": 0.7}}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a running service" svc_is "s['healthy'] and s['disk']['total_bytes'] > 0"
pid1=$(svc_is "s['pid']")

# Write 256 KiB every 0.25 s (1 MiB/s; bounded: at most 64 chunks, 16 MiB) until the
# incident opens.
i=0
while ! inc_is "i['diagnosis']['signal'] == 'predict_disk'" >/dev/null; do
    [ $i -lt 64 ] || fail "no disk prediction after $i chunks of 256 KiB"
    dd if=/dev/zero bs=256K count=1 oflag=append conv=notrunc of="$SPOOL/fill" 2>/dev/null
    i=$((i + 1))
    sleep 0.25
done
id=$(inc_is "i['diagnosis']['signal'] == 'predict_disk'")
wait_for 20 "the disk incident healed" inc_is "i['id'] == '$id' and i['outcome'] == 'healed'"
[ -e "$WORK/repaired" ] || fail "the state_repair command did not run"
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "[e['action'] for e in d['timeline'] if e['kind'] == 'action'] == ['state_repair']" \
    <"$WORK/inc.json" >/dev/null || fail "expected only state_repair: $(cat "$WORK/inc.json")"
json "d['diagnosis']['cause'] == 'resource_exhaustion' and
      d['diagnosis']['evidence'][0]['metric'] == 'disk_eta_ms'" <"$WORK/inc.json" >/dev/null ||
    fail "evidence: $(cat "$WORK/inc.json")"
[ "$(svc_is "s['pid']")" = "$pid1" ] || fail "the service was restarted"
# The slope it saw is the test's own writing (at most 1 MiB/s, less when the machine is
# slow), not something else on the machine.
json "0.1 <= float(__import__('re').search(r'growing ([0-9.]+) MiB/s',
      d['diagnosis']['evidence'][0]['detail']).group(1)) <= 1.5" <"$WORK/inc.json" >/dev/null ||
    fail "the slope is not the test's 1 MiB/s: $(cat "$WORK/inc.json")"
echo "ok: disk filling ($i chunks of 256 KiB) -> $(json "d['diagnosis']['evidence'][0]['detail']" <"$WORK/inc.json") -> state_repair"
