#!/bin/sh
# Disk: a file system filling up. The agent fits a least-squares line through the used
# bytes of the service's disk_path every second; when the fit says "full within the
# horizon" it opens a degradation incident and runs the operator's state_repair command
# (here: delete the file that grows), never a restart, which would free nothing.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_disk

mkdir -p "$WORK/spool"
cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "spooler", "command": "/bin/sh", "args": ["-c", "exec sleep 600"],
  "disk_path": "$WORK/spool", "state_repair": ["/bin/sh", "-c", "rm -f '$WORK/spool/fill'; touch '$WORK/repaired'"],
  "policy": {"allowed_actions": ["restart", "state_repair"], "horizon_ms": 604800000,
             "trend_window_ms": 10000, "trend_min_samples": 5, "trend_min_r2": 0.7}}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a running service" svc_is "s['healthy'] and s['disk']['total_bytes'] > 0"
pid1=$(svc_is "s['pid']")

# Write 32 MiB every 0.5 s (bounded: at most 40 chunks) until the incident opens; at that
# rate the growth dominates whatever else the machine writes.
i=0
while ! inc_is "i['diagnosis']['signal'] == 'predict_disk'" >/dev/null; do
    [ $i -lt 40 ] || fail "no disk prediction after $i chunks"
    dd if=/dev/zero bs=1M count=32 oflag=append conv=notrunc of="$WORK/spool/fill" 2>/dev/null
    sync "$WORK/spool/fill" 2>/dev/null || sync
    i=$((i + 1))
    sleep 0.5
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
echo "ok: disk filling -> $(json "d['diagnosis']['evidence'][0]['detail']" <"$WORK/inc.json") -> state_repair"
