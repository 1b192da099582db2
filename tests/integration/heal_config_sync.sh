#!/bin/sh
# Config drift: a service that only runs with a good config file. The agent keeps the file's
# known-good copy by SHA-256; someone breaks the file and the process dies; the diagnosis
# sees the drift (class config_drift), config_sync puts the known-good copy back, and the
# restart that follows holds.
. "$(dirname "$0")/heal_lib.sh"
heal_setup heal_config_sync

CONF="$WORK/app.conf"
echo "mode=good" >"$CONF"
cat >"$WORK/agent.json" <<JSON
{"services": [{"name": "app", "command": "/bin/sh",
  "args": ["-c", "grep -q mode=good '$CONF' || exit 78; exec sleep 600"],
  "config_file": "$CONF", "start_ms": 500}]}
JSON
heal_agent "$WORK/agent.json"
wait_for 20 "a running service with a known-good config" svc_is \
    "s['healthy'] and len(s['config_file']['known_good_sha256']) == 64"
good=$(sha256sum "$CONF" | cut -d' ' -f1)
svc_is "s['config_file']['known_good_sha256'] == '$good'" >/dev/null ||
    fail "the known-good hash is not the file's"
pid1=$(svc_is "s['pid']")

echo "mode=broken" >"$CONF"
wait_for 10 "the drift seen" svc_is "s['config_file']['drifted']"
kill "$pid1"
wait_for 30 "a healed config-drift incident" inc_is \
    "i['diagnosis']['class'] == 'config_drift' and i['outcome'] == 'healed'"
id=$(inc_is "i['diagnosis']['class'] == 'config_drift'")
[ "$(sha256sum "$CONF" | cut -d' ' -f1)" = "$good" ] || fail "the config file was not restored"
"$PLATELET" incident "$id" --api "$API" --json >"$WORK/inc.json"
json "[e['action'] for e in d['timeline'] if e['kind'] == 'action'][:2] ==
      ['config_sync', 'restart']" <"$WORK/inc.json" >/dev/null ||
    fail "config_sync did not come before the restart: $(cat "$WORK/inc.json")"
json "d['diagnosis']['cause'] == 'config_error'" <"$WORK/inc.json" >/dev/null ||
    fail "cause is not config_error"
svc_is "s['healthy'] and not s['config_file']['drifted']" >/dev/null || fail "not healthy again"
echo "ok: config drift -> config_sync to sha256 ${good%"${good#????????????}"} -> restart held ($id)"
