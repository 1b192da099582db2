"""What one fdatasync costs on the benchmark's disk, for the Raft vs etcd diagnosis.

usage: raft_bench_fsync.py DIR [COUNT]
Writes 200-byte records into files in DIR, each followed by fdatasync, in three ways:
  append              the file grows with every record, so each fdatasync also has to commit
                      the new file size through the file system's journal
  append_keep_size    the same into space reserved with fallocate(FALLOC_FL_KEEP_SIZE): the
                      blocks exist but the size still grows (how RocksDB preallocates its WAL)
  overwrite_prealloc  into a file whose size was set and synced beforehand: only data is
                      flushed (how etcd writes its WAL into 64 MB preallocated segments)
The modes take turns in rounds of 50 records, so a busy machine weighs on all three alike.
Prints p50/p90/p99 of each in milliseconds as JSON. Bounded: COUNT (per mode) <= 10,000.
"""
import ctypes
import ctypes.util
import json
import os
import sys
import time

FALLOC_FL_KEEP_SIZE = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]

REC = b"r" * 199 + b"\n"
ROUND = 50


def prepare(path, mode, count):
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    size = count * len(REC) + 4096
    if mode == "append_keep_size":
        if _libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size) != 0:
            raise OSError(ctypes.get_errno(), "fallocate")
    elif mode == "overwrite_prealloc":
        os.posix_fallocate(fd, 0, size)
    os.fsync(fd)
    return fd


def main():
    d = sys.argv[1]
    count = min(10000, int(sys.argv[2])) if len(sys.argv) > 2 else 1000
    modes = ("append", "append_keep_size", "overwrite_prealloc")
    fds = {m: prepare(os.path.join(d, f"fsync-{m}.bin"), m, count) for m in modes}
    lat = {m: [] for m in modes}
    try:
        for start in range(0, count, ROUND):
            for m in modes:
                for i in range(start, min(count, start + ROUND)):
                    t0 = time.perf_counter()
                    os.pwrite(fds[m], REC, i * len(REC))
                    os.fdatasync(fds[m])
                    lat[m].append((time.perf_counter() - t0) * 1000)
    finally:
        for m in modes:
            os.close(fds[m])
            os.unlink(os.path.join(d, f"fsync-{m}.bin"))
    out = {"count": count}
    for m, v in lat.items():
        v.sort()
        n = len(v)
        out[m] = {"p50_ms": round(v[n // 2], 3), "p90_ms": round(v[int(n * 0.9)], 3),
                  "p99_ms": round(v[min(n - 1, int(n * 0.99))], 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
