"""Where a RocksDB node's write volume goes: reads the write-ahead logs of a Platelet data
directory and sums, per column family, the puts, deletes and their bytes. For the Raft vs
etcd diagnosis (bench/raft_vs_etcd.sh --keep leaves the data directories behind).

usage: raft_bench_wal.py DATA_DIR
Column family names are taken from the newest OPTIONS file, in its order, which is the order
they were created in (their ids). Only the record types a WriteBatch of Platelet uses are
decoded; anything else ends the parse of that batch, and is counted as "unparsed".
Read-only, and bounded by the size of the files.
"""
import glob
import json
import os
import re
import struct
import sys

BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def varint(b, i):
    shift = v = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def records(path):
    """The logical records (WriteBatch bytes) of one WAL file (legacy record format)."""
    with open(path, "rb") as f:
        data = f.read()
    buf = b""
    off = 0
    while off + 7 <= len(data):
        left = BLOCK - off % BLOCK
        if left < 7:
            off += left
            continue
        _crc, length, rtype = struct.unpack_from("<IHB", data, off)
        if rtype == 0 and length == 0:
            off += left  # zero padding to the end of the block
            continue
        payload = data[off + 7: off + 7 + length]
        off += 7 + length
        if rtype == FULL:
            yield payload
        elif rtype == FIRST:
            buf = payload
        elif rtype == MIDDLE:
            buf += payload
        elif rtype == LAST:
            yield buf + payload
            buf = b""
        else:
            return  # recyclable or unknown record types: not written by our options


def main():
    d = sys.argv[1]
    db = os.path.join(d, "db") if os.path.isdir(os.path.join(d, "db")) else d
    opts = sorted(glob.glob(os.path.join(db, "OPTIONS-*")))
    names = re.findall(r'\[CFOptions "([^"]+)"\]', open(opts[-1]).read()) if opts else []
    stats, batches, unparsed, wal_bytes = {}, 0, 0, 0
    for path in sorted(glob.glob(os.path.join(db, "*.log"))):
        wal_bytes += os.path.getsize(path)
        for rec in records(path):
            batches += 1
            i = 12  # sequence (8) and count (4)
            try:
                while i < len(rec):
                    tag = rec[i]
                    i += 1
                    cf = 0
                    if tag in (0x4, 0x5, 0x6):  # column-family value, deletion, merge
                        cf, i = varint(rec, i)
                        kind = {0x4: "del", 0x5: "put", 0x6: "merge"}[tag]
                    elif tag in (0x0, 0x1, 0x2):  # default family: deletion, value, merge
                        kind = {0x0: "del", 0x1: "put", 0x2: "merge"}[tag]
                    else:
                        unparsed += 1
                        break
                    klen, i = varint(rec, i)
                    i += klen
                    vlen = 0
                    if kind != "del":
                        vlen, i = varint(rec, i)
                        i += vlen
                    name = names[cf] if cf < len(names) else f"cf{cf}"
                    s = stats.setdefault(name, {"put": 0, "del": 0, "merge": 0, "key_bytes": 0,
                                                "value_bytes": 0})
                    s[kind] += 1
                    s["key_bytes"] += klen
                    s["value_bytes"] += vlen
            except IndexError:
                unparsed += 1
    print(json.dumps({"wal_bytes": wal_bytes, "batches": batches, "unparsed": unparsed,
                      "families": stats}, indent=1))


if __name__ == "__main__":
    main()
