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
B=$(command -v chromium || command -v chromium-browser) || {
    echo "SKIP: chromium is not installed (scripts/deps.sh installs it); the page was not rendered"
    exit 77
}
pm_ledger
expect 0 "postmortem" -- "$P" postmortem inc-web --data-dir "$D" --json --html "$T/pm.html"
cp "$T/out" "$T/pm.json"

# chromium RUN_NAME ARGS...: one headless run with its own empty profile and nothing
# fetched; the timeout bounds a browser that hangs.
chromium_run() {
    local name="$1"; shift
    mkdir -p "$T/profile-$name"
    timeout 30 "$B" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$T/profile-$name" "$@" "file://$T/pm.html" 2>"$T/chromium-$name.err"
}
chromium_run dom --dump-dom >"$T/dom.html" || fail "chromium --dump-dom: $(tail -3 "$T/chromium-dom.err")"
chromium_run shot --screenshot="$T/shot.png" --window-size=1280,900 >/dev/null ||
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

python3 - "$T/shot.png" <<'PY' || fail "the screenshot"
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, ihdr = 8, [], None
while pos < len(data):
    n, typ = struct.unpack('>I4s', data[pos:pos + 8])
    if typ == b'IHDR':
        ihdr = struct.unpack('>IIBBBBB', data[pos + 8:pos + 8 + n])
    elif typ == b'IDAT':
        idat.append(data[pos + 8:pos + 8 + n])
    pos += 12 + n
w, h, depth, ctype = ihdr[:4]
assert (w, h) == (1280, 900) and depth == 8 and ctype in (2, 6), ihdr
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(b''.join(idat)), w * bpp
prev, colours, total, total2 = bytearray(stride), set(), 0, 0
for y in range(h):  # PNG's five row filters undone (RFC 2083 section 6)
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride) if f else ():
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp * 4):  # every fourth pixel
        px = bytes(line[x:x + 3])
        colours.add(px)
        v = sum(px)
        total += v
        total2 += v * v
    prev = line
n = h * len(range(0, stride, bpp * 4))
var = total2 / n - (total / n) ** 2
assert var > 500 and len(colours) > 20, 'blank-looking screenshot: variance %.0f, %d colours' % (var, len(colours))
# The incident interval's shade and the signal's red are on the page.
assert any(r > 200 and g < 120 and b < 120 for r, g, b in colours), 'no red mark drawn'
PY

cli_done "ok: chromium rendered the post-mortem; screenshot not blank; self-check counts equal the JSON's"
