#!/usr/bin/env bash
# The post-mortem's HTML page in a real browser: headless Chromium (Debian's `chromium`)
# renders the page `platelet postmortem --html` wrote for the test ledger of
# postmortem_lib.sh, with no network; the screenshot (PNG, decoded here with zlib and
# struct) must not be blank, and the counts of marks the page's own script found in the
# drawn timeline (--dump-dom) must equal the JSON form's. Exit 77 (skipped) when chromium is
# not installed: scripts/deps.sh installs it.
# Usage: postmortem_html.sh path/to/platelet
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/postmortem_lib.sh"
. "$(dirname "$0")/chromium_lib.sh"
chromium_find
pm_ledger
expect 0 "postmortem" -- "$P" postmortem inc-web --data-dir "$D" --json --html "$T/pm.html"
cp "$T/out" "$T/pm.json"

chromium_run "$T" dom "$T/pm.html" --dump-dom >"$T/dom.html" || fail "chromium --dump-dom: $(tail -3 "$T/chromium-dom.err")"
chromium_run "$T" shot "$T/pm.html" --screenshot="$T/shot.png" --window-size=1280,900 >/dev/null ||
    fail "chromium --screenshot: $(tail -3 "$T/chromium-shot.err")"

python3 - "$T/dom.html" "$T/pm.json" <<'PY' || fail "the page's self-check"
import html, json, re, sys
dom = open(sys.argv[1]).read()
d = json.load(open(sys.argv[2]))
m = re.search(r'<div id="pm-selfcheck"[^>]*>', dom)
assert m, 'no #pm-selfcheck in the rendered page'
attrs = dict(re.findall(r'([a-z-]+)="([^"]*)"', m.group(0)))
assert 'data-counted' in attrs, 'the page script did not run: ' + m.group(0)
counted = json.loads(html.unescape(attrs['data-counted']))
want = {k: v for k, v in d['marks'].items() if v}
assert counted == want, (counted, want)
assert attrs.get('data-ok') == 'true', attrs
PY

python3 "$(dirname "$0")/png_check.py" "$T/shot.png" 1280 900 --red || fail "the screenshot"

cli_done "ok: chromium rendered the post-mortem; screenshot not blank; self-check counts equal the JSON's"
