#!/usr/bin/env python3
"""Checks that a screenshot is not blank: png_check.py FILE WIDTH HEIGHT [--red].

Decodes the PNG with zlib and struct alone (RGB or RGBA, 8 bits), undoes the five row
filters, and samples every fourth pixel: the variance of their brightness and the number
of colours must show a drawn page, and with --red some clearly red mark must be there.
Exit status 1 with the reason otherwise. Used by the tests that render pages in headless
Chromium (postmortem_html.sh, chaos_short.sh).
"""
import struct
import sys
import zlib


def check(path, want_w, want_h, need_red):
    data = open(path, 'rb').read()
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
    assert (w, h) == (want_w, want_h) and depth == 8 and ctype in (2, 6), ihdr
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
    if need_red:
        assert any(r > 200 and g < 120 and b < 120 for r, g, b in colours), 'no red mark drawn'


if __name__ == "__main__":
    try:
        check(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), "--red" in sys.argv[4:])
    except (AssertionError, OSError, ValueError, IndexError, zlib.error, struct.error) as e:
        sys.exit("png_check: %s: %s" % (sys.argv[1] if len(sys.argv) > 1 else "?", e))
