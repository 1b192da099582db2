#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz_ledger_leaf, fuzz_snapshot, fuzz_pl_json, fuzz_heal_config,
fuzz_http_request, fuzz_ledger_proposal, fuzz_heal_record and fuzz_learn_record into tests/fuzz/corpus/<target>/ (libFuzzer grows the corpus from them).

usage: tests/fuzz/seeds.py    (from anywhere; rewrites only the files named here)

The msgpack below is the canonical form msgpack-c's packer writes (shortest integers and
headers), which the ledger's leaves demand; the Merkle root is RFC 6962's.
"""
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def mp(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if v >= 0:
            for lim, fmt, tag in ((0x80, ">B", b""), (0x100, ">B", b"\xcc"), (0x10000, ">H", b"\xcd"),
                                  (1 << 32, ">I", b"\xce"), (1 << 64, ">Q", b"\xcf")):
                if v < lim:
                    return tag + struct.pack(fmt, v)
        if v >= -32:
            return struct.pack(">b", v)
        for lim, fmt, tag in ((1 << 7, ">b", b"\xd0"), (1 << 15, ">h", b"\xd1"),
                              (1 << 31, ">i", b"\xd2"), (1 << 63, ">q", b"\xd3")):
            if v >= -lim:
                return tag + struct.pack(fmt, v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        n = len(b)
        head = bytes([0xa0 | n]) if n < 32 else b"\xd9" + bytes([n]) if n < 256 else b"\xda" + struct.pack(">H", n)
        return head + b
    if isinstance(v, bytes):
        n = len(v)
        head = b"\xc4" + bytes([n]) if n < 256 else b"\xc5" + struct.pack(">H", n) if n < 65536 else b"\xc6" + struct.pack(">I", n)
        return head + v
    if isinstance(v, list):
        n = len(v)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def leaf(index, term, time_ms, kind, body):
    return mp({"index": index, "term": term, "time_ms": time_ms, "kind": kind, "body": body})


def mth(hashes):
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def image(leaves):
    root = mth([hashlib.sha256(b"\x00" + x).digest() for x in leaves])
    return mp([root, leaves])


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


BODIES = [None, True, 7, -3, 2.5, "text", [1, "two", None], {"a": {"b": [1, 2, {"c": -1.5e300}]}},
          {"x": 18446744073709551615, "y": -9223372036854775808, "s": "\u00e9\u6f22"}]
leaves = [leaf(i, 1 + i // 3, 1763700000000 + i, "note" if i else "raft.config", b)
          for i, b in enumerate(BODIES)]
for i, x in enumerate(leaves):
    write("fuzz_ledger_leaf", f"leaf_{i}", x)

write("fuzz_snapshot", "chunk_9", bytes([0]) + mp(leaves))
write("fuzz_snapshot", "chunk_1", bytes([0]) + mp(leaves[:1]))
write("fuzz_snapshot", "chunk_0", bytes([0]) + mp([]))
config = mp([[1, 1], [2, 1], [3, 2]])
desc = mp(["ledger", len(leaves), mth([hashlib.sha256(b"\x00" + x).digest() for x in leaves])])
write("fuzz_snapshot", "desc", desc)
write("fuzz_snapshot", "raft_record", mp([len(leaves), 3, config, desc, len(leaves)]))
# a record from before snapshots had a body: the whole ledger as an image
write("fuzz_snapshot", "raft_record_v1", mp([len(leaves), 3, config, image(leaves)]))
frontier = [hashlib.sha256(b"\x00" + x).digest() for x in leaves[:1]]
root = frontier[0]
write("fuzz_snapshot", "store_value", mp({"index": 9, "root": root, "tree_size": 1,
                                          "frontier": frontier, "state": b"state bytes"}))

for i, b in enumerate(BODIES):
    write("fuzz_pl_json", f"json_{i}", json.dumps(b, ensure_ascii=False))
    write("fuzz_pl_json", f"msgpack_{i}", mp(b))
write("fuzz_pl_json", "escapes", '{"k":"\\u0000\\ud83d\\ude00\\t\\"\\\\/","n":[-0,0.0,1e-320,123456789012345678901]}')

with open(os.path.join(HERE, "..", "..", "deploy", "examples", "node-sample.json")) as f:
    write("fuzz_heal_config", "node-sample.json", f.read())
write("fuzz_heal_config", "every-field.json", json.dumps({"services": [{
    "name": "web", "type": "supervised", "command": "/bin/sh", "args": ["-c", "exec sleep 9"],
    "env": {"K": "V"}, "cwd": "/", "stop_signal": "SIGINT", "grace_ms": 500, "start_ms": 300,
    "restart": ["/bin/true"], "isolate": ["/bin/true"], "scale": ["/bin/true"],
    "state_repair": ["/bin/true"], "config_file": "/etc/hostname", "disk_path": "/tmp",
    "log": {"max_bytes": 65536, "keep": 2},
    "checks": [{"type": "http", "url": "http://127.0.0.1:1/h", "method": "GET", "status": 200,
                "timeout_ms": 100, "interval_ms": 200, "failures": 2, "successes": 1},
               {"type": "tcp", "address": "127.0.0.1:2"},
               {"type": "exec", "command": ["/bin/true"]}],
    "metrics": {"url": "http://127.0.0.1:1/m", "interval_ms": 500, "requests": "r_total",
                "errors": "e_total", "latency": "l_seconds"},
    "policy": {"thresholds": {"cpu": 0.5, "memory": 0.9, "latency_factor": 3, "error_rate": 0.1},
               "allowed_actions": ["restart", "isolate", "state_repair"], "restart_budget": 4,
               "requires_approval": True, "horizon_ms": 60000, "trend_window_ms": 10000,
               "trend_min_samples": 5, "trend_min_r2": 0.7}}],
    "webhooks": [{"url": "http://127.0.0.1:3/hook", "min_level": 3}]}))
write("fuzz_heal_config", "placement.json", json.dumps({"services": [{
    "name": "web", "command": "/bin/true",
    "placement": {"replicas": 1, "nodes": ["n1", "n2", "n3"], "lease_ms": 3000}}]}))
write("fuzz_heal_config", "placement-bad.json", json.dumps({"services": [{
    "name": "web", "command": "/bin/true",
    "placement": {"replicas": 2, "nodes": ["n1", "n1", ""], "lease_ms": 1}}]}))
write("fuzz_heal_config", "external.json", json.dumps({"services": [{
    "name": "db", "type": "external", "checks": [{"type": "tcp", "address": "127.0.0.1:5432"}]}]}))

H = "fuzz_http_request"
# The first byte picks the chunk size: 0x80 and above sends everything at once.
write(H, "get", b"\x80GET /v1/services?open=1&a=x%20y HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
write(H, "post_split", b"\x03POST /v1/propose HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"x\": 1}\n")
write(H, "pipelined", b"\x80GET /a HTTP/1.1\r\n\r\nGET /b?a=1 HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\n"
      b"Content-Length: 2\r\n\r\nhi")
write(H, "chunked", b"\x07POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"4\r\nabcd\r\n0\r\n\r\n")
write(H, "http10_close", b"\x80GET /old HTTP/1.0\r\n\r\nGET /never HTTP/1.1\r\n\r\n")
write(H, "too_big", b"\x80POST /big HTTP/1.1\r\nContent-Length: 4096\r\n\r\n" + b"z" * 4096)
write(H, "garbage_after", b"\x80GET /ok HTTP/1.1\r\n\r\n\x00\x01 not http\r\n\r\n")

P = "fuzz_ledger_proposal"


def proposal(t, kind, body_bytes):
    # {"t", "k", "b"} in this order; the body is given as bytes so refused ones can be too.
    return b"\x83" + mp("t") + mp(t) + mp("k") + mp(kind) + mp("b") + body_bytes


write(P, "note", proposal(1, "note", mp({"x": 1})))
write(P, "nested", proposal(1700000000000, "deploy.note", mp({"a": [1, None, True], "s": "caf\u00e9"})))
write(P, "kind_space", proposal(1, "my note", mp({})))
write(P, "kind_reserved", proposal(1, "raft.noop", mp({})))
write(P, "body_bin", proposal(1, "note", mp(b"ab")))
write(P, "body_float", proposal(1, "note", mp(0.5)))
# msgpack-c gives NULL for an empty string: the check once did pointer arithmetic on it.
write(P, "empty_strings", proposal(1, "note", mp({"": ""})))

R = "fuzz_heal_record"


def heal_record(t, base, sigs):
    # {"t", "base", "sigs"} in this order (node/swarm/swarm_heal_record.h).
    return b"\x83" + mp("t") + mp(t) + mp("base") + mp(base) + mp("sigs") + mp(sigs)


write(R, "empty", heal_record(1700000000000, [], []))
write(R, "one_sig", heal_record(1700000000000, [["web", 12, 1500, 40, 9]],
                                [["web:check:status", "web", 1700000000500]]))
write(R, "two_services", heal_record(5, [["web", 1, 2, 3, 4], ["db", 0, 0, 0, 0]],
                                     [["web:check:timeout", "web", 1], ["db:check:timeout", "db", 2]]))
write(R, "empty_name", heal_record(1, [], [["", "web", 1]]))
write(R, "wide_int", b"\x83" + mp("t") + b"\xcd\x00\x01" + mp("base") + mp([]) + mp("sigs") + mp([]))
L = "fuzz_learn_record"


def learn_record(index, term, sigs):
    # {"index", "term", "sigs"} in this order (node/swarm/swarm_learn_record.h).
    return b"\x83" + mp("index") + mp(index) + mp("term") + mp(term) + mp("sigs") + mp(sigs)


write(L, "empty", learn_record(0, 0, []))
write(L, "one", learn_record(42, 3, [["web", 3, 4, 2, 6, 9]]))
write(L, "two_services", learn_record(900, 7, [["web", 3, 4, 2, 6, 9], ["web", 2, 1, 1, 2, 1],
                                               ["db", 3, 4, 2, 10, 8]]))
write(L, "twice", learn_record(5, 1, [["web", 3, 4, 2, 6, 9], ["web", 3, 4, 2, 6, 1]]))
write(L, "action_zero", learn_record(5, 1, [["web", 3, 4, 2, 6, 0]]))
write(L, "wide_int", b"\x83" + mp("index") + b"\xcd\x00\x01" + mp("term") + mp(1) + mp("sigs") + mp([]))
# fuzz_chaos_scenario: every scenario of the library (tests/chaos/).
CHAOS = os.path.join(HERE, "..", "chaos")
for name in sorted(os.listdir(CHAOS)):
    if name.endswith(".json"):
        with open(os.path.join(CHAOS, name)) as f:
            write("fuzz_chaos_scenario", name, f.read())
