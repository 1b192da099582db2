"""Load generator of the Raft vs etcd benchmark: N keep-alive connections, each sending one
64-byte write at a time (the next only after the previous answer), for a count of writes or
for a duration.

usage: raft_bench_load.py --system platelet|etcd --target HOST:PORT[,HOST:PORT..]
                          --conns N (--count N | --duration S) [--tag T]
It opens every connection, prints "ready", waits for a line on stdin (so several load
processes start together), runs, and prints one JSON object:
{"ok": n, "errors": n, "elapsed_s": s, "lat_us": [...], "cpu_s": s, "first_error": "..."}.
Platelet's API token, when the target needs one, comes in BENCH_API_TOKEN.
A write counts as ok only on HTTP 200. The run is bounded: by the count or the duration,
and every request by a 10 s timeout.
"""
import argparse
import asyncio
import json
import os
import resource
import sys
import time

from raft_bench_http import WRITERS, Conn


async def run(args):
    targets = []
    for t in args.target.split(","):
        host, _, port = t.rpartition(":")
        targets.append((host, int(port)))
    make = WRITERS[args.system]
    token = os.environ.get("BENCH_API_TOKEN")  # Platelet's API token, from raft_bench_run.py
    conns = [Conn(*targets[i % len(targets)], token=token) for i in range(args.conns)]
    await asyncio.gather(*(c.open() for c in conns))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    lat, state = [], {"ok": 0, "errors": 0, "seq": 0, "first_error": ""}
    start = time.perf_counter()
    stop_at = start + args.duration if args.duration else None

    async def worker(c):
        while True:
            if args.count is not None and state["seq"] >= args.count:
                return
            if stop_at is not None and time.perf_counter() >= stop_at:
                return
            seq = state["seq"]
            state["seq"] += 1
            method, path, body = make(seq, args.tag)
            t0 = time.perf_counter()
            try:
                status, resp = await c.request(method, path, body, timeout=10.0)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                status, resp = 0, repr(e).encode()
                c.close()
            if status == 200:
                lat.append(int((time.perf_counter() - t0) * 1e6))
                state["ok"] += 1
            else:
                state["errors"] += 1
                if not state["first_error"]:
                    state["first_error"] = f"{status} {resp[:200]!r}"
                await asyncio.sleep(0.01)

    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"ok": state["ok"], "errors": state["errors"], "elapsed_s": elapsed, "lat_us": lat,
            "cpu_s": ru.ru_utime + ru.ru_stime, "first_error": state["first_error"]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--system", required=True, choices=sorted(WRITERS))
    p.add_argument("--target", required=True)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--count", type=int)
    p.add_argument("--duration", type=float)
    p.add_argument("--tag", default="b")
    args = p.parse_args()
    if (args.count is None) == (args.duration is None):
        p.error("give exactly one of --count and --duration")
    if args.duration is not None and not 0 < args.duration <= 600:
        p.error("--duration must be in (0, 600]")
    json.dump(asyncio.run(run(args)), sys.stdout)


if __name__ == "__main__":
    main()
