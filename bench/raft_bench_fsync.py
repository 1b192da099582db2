"""What one fdatasync costs on the benchmark's disk, for the Raft vs etcd diagnosis.

usage: raft_bench_fsync.py DIR [COUNT]
Writes COUNT records of 200 bytes into a file in DIR, each followed by fdatasync, in two
ways: appending (the file grows, so each fdatasync also commits the size change through the
file system's journal; this is how an append-only log such as RocksDB's WAL is written) and
overwriting a file preallocated and synced beforehand (the size does not change; this is
how etcd's WAL writes into its 64 MB preallocated segments). Prints p50/p90/p99 of each
in milliseconds as JSON. Bounded: COUNT is at most 10,000.
"""
import json
import os
import sys
import time


def run(path, count, prealloc):
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        if prealloc:
            os.posix_fallocate(fd, 0, count * 200 + 4096)
            os.fsync(fd)
        rec = b"r" * 199 + b"\n"
        lat = []
        for i in range(count):
            t0 = time.perf_counter()
            os.pwrite(fd, rec, i * 200)
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    n = len(lat)
    return {"p50_ms": round(lat[n // 2], 3), "p90_ms": round(lat[int(n * 0.9)], 3),
            "p99_ms": round(lat[min(n - 1, int(n * 0.99))], 3)}


def main():
    d = sys.argv[1]
    count = min(10000, int(sys.argv[2])) if len(sys.argv) > 2 else 1000
    out = {"count": count}
    for name, prealloc in (("append", False), ("overwrite_preallocated", True),
                           ("append_again", False)):
        out[name] = run(os.path.join(d, f"fsync-{name}.bin"), count, prealloc)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
