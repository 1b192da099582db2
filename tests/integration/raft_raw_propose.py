"""Proposes raw bytes to a Raft leader over its Raft transport, as a hostile or broken
member could, bypassing every check of the agent's API; waits until the leader answers each
one, and prints a JSON list of the answers: [{"id": ..., "err": ..., "index": ...}, ...].

usage: raft_raw_propose.py LEADER_RAFT_ADDR LEADER_NAME FROM_NAME FILE
FILE holds one proposal per line, its bytes in hex ("-" for none).
FROM_NAME must be a live gossip member (the leader accepts frames only from members it
knows of); the leader answers a sender outside the configuration once the entry commits.

The wire (raft/raft_wire.h, raft/raft_transport.h, no keyring): a frame is a 4-byte
big-endian length and 'P' 'R' 1 0 followed by the msgpack array
[version, type, from, to, term, body...] (version: RAFT_WIRE_VERSION in raft_wire.h); PROPOSE (8) carries [id, data(bin)] and
PROPOSE_RESULT (9) carries [id, err, index, term]. msgpack is hand-written here (a few
lines) so the test needs no Python package.
"""
import hashlib
import json
import os
import re
import socket
import struct
import sys
import time

PROPOSE, PROPOSE_RESULT = 8, 9


def wire_version():
    """RAFT_WIRE_VERSION as raft/raft_wire.h defines it, so a version bump reaches this test."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "raft", "raft_wire.h")) as f:
        m = re.search(r"^#define RAFT_WIRE_VERSION (\d+)", f.read(), re.M)
    if not m:
        sys.exit("raft_raw_propose: RAFT_WIRE_VERSION not found in raft/raft_wire.h")
    return int(m.group(1))


RAFT_WIRE_VERSION = wire_version()


def raft_id(name):
    v = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return v or 1


def mp_uint(v):
    if v < 0x80:
        return bytes([v])
    if v < 1 << 8:
        return b"\xcc" + struct.pack(">B", v)
    if v < 1 << 16:
        return b"\xcd" + struct.pack(">H", v)
    if v < 1 << 32:
        return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)


def mp_bin(b):
    if len(b) < 1 << 8:
        return b"\xc4" + struct.pack(">B", len(b)) + b
    if len(b) < 1 << 16:
        return b"\xc5" + struct.pack(">H", len(b)) + b
    return b"\xc6" + struct.pack(">I", len(b)) + b


def mp_read(b, i):
    """Reads one msgpack integer or array of them at b[i:]; returns (value, next index)."""
    c = b[i]
    if c < 0x80:
        return c, i + 1
    if c >= 0xe0:
        return c - 0x100, i + 1
    if 0x90 <= c <= 0x9f:
        out, i = [], i + 1
        for _ in range(c & 0x0f):
            v, i = mp_read(b, i)
            out.append(v)
        return out, i
    sizes = {0xcc: (1, ">B"), 0xcd: (2, ">H"), 0xce: (4, ">I"), 0xcf: (8, ">Q"),
             0xd0: (1, ">b"), 0xd1: (2, ">h"), 0xd2: (4, ">i"), 0xd3: (8, ">q")}
    if c in sizes:
        n, fmt = sizes[c]
        return struct.unpack(fmt, b[i + 1:i + 1 + n])[0], i + 1 + n
    raise ValueError(f"unexpected msgpack byte {c:#x}")


def main():
    addr, leader, sender = sys.argv[1], sys.argv[2], sys.argv[3]
    payloads = [l.strip().replace("-", "") for l in open(sys.argv[4]) if l.strip()]
    host, port = addr.rsplit(":", 1)
    frm, to = raft_id(sender), raft_id(leader)
    s = socket.create_connection((host, int(port)), timeout=5)
    for n, hexdata in enumerate(payloads, start=1):
        msg = b"\x97" + mp_uint(RAFT_WIRE_VERSION) + mp_uint(PROPOSE) + mp_uint(frm) + mp_uint(to) + mp_uint(0)
        msg += mp_uint(n) + mp_bin(bytes.fromhex(hexdata))
        payload = b"PR\x01\x00" + msg
        s.sendall(struct.pack(">I", len(payload)) + payload)
    answers, buf, deadline = {}, b"", time.monotonic() + 20
    while len(answers) < len(payloads) and time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            frame, buf = buf[4:4 + n], buf[4 + n:]
            if frame[:4] != b"PR\x01\x00":
                continue
            m, _ = mp_read(frame, 4)
            if m[1] == PROPOSE_RESULT:
                answers[m[5]] = {"id": m[5], "err": m[6], "index": m[7]}
    print(json.dumps([answers[k] for k in sorted(answers)]))


if __name__ == "__main__":
    main()
