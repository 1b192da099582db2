"""Memory after load: a 3-node council takes N writes, then each node's RSS and where it goes.

usage: bench/raft_bench_mem.py [--platelet BIN] [--etcd BIN] [--writes N] [--conns C]
                               [--config JSON] [--dir DIR] [--keep]

Starts a fresh 3-node Platelet council on 127.0.0.1 (the Raft benchmark's config: heartbeat
100 ms, election timeout 1000 ms), sends N 64-byte writes (default 60,000, about what the
Raft benchmark's load leaves behind) from C keep-alive clients to the leader through the
same HTTP client as bench/raft_vs_etcd.sh, waits 2 s, then prints per node: VmRSS, RssAnon
(the process's own memory), RssFile (shared library and file pages), the [heap] and the
other anonymous mappings (glibc's malloc arenas, thread stacks) from /proc/PID/smaps, and
the agent's own account from GET /v1/store/memory (memtables, block cache, table readers,
the Raft log held in memory). --config merges JSON into the agent's config (e.g.
'{"store": {"block_cache_bytes": 1048576}}') to try other bounds. With --etcd the same load
runs against a fresh 3-node etcd cluster afterwards, never both at once. Figures are
medians over the three nodes. Every process started here is killed by PID when it ends.
"""
import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import raft_bench_run as rb  # noqa: E402
from raft_bench_http import Conn  # noqa: E402


def smaps(pid):
    """kB resident per kind: heap, other anonymous mappings, file-backed; and how many
    anonymous mappings of 64 MiB reserved address space (glibc arenas) exist."""
    out = {"heap": 0, "anon_other": 0, "file": 0, "arenas": 0}
    kind = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                path = parts[5] if len(parts) > 5 else ""
                kind = "heap" if path == "[heap]" else "file" if path.startswith("/") else "anon_other"
                # A glibc arena reserves 64 MiB (HEAP_MAX_SIZE) with only part of it mapped
                # readable; its pieces are anonymous and sum to 64 MiB.
                if kind == "anon_other" and hi - lo == 64 << 20:
                    out["arenas"] += 1
            elif parts[0] == "Rss:" and kind is not None:
                out[kind] += int(parts[1])
    return out


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


async def get_json(cl, i, path):
    c = Conn(*cl.api(i))
    try:
        st, body = await c.request("GET", path, timeout=2.0)
    except Exception:
        return None
    finally:
        c.close()
    return json.loads(body) if st == 200 else None


async def store_memory(cl, i):
    """The agent's account: RocksDB's and malloc's figures, and the Raft core's log and
    snapshot held in memory."""
    doc = await get_json(cl, i, "/v1/store/memory") or {}
    raft = await get_json(cl, i, "/v1/raft/status") or {}
    for k, v in (raft.get("memory") or {}).items():
        doc[f"raft_{k}"] = v
    return doc


async def run(system, args, workdir):
    cls = rb.SYSTEMS[system]
    binary = args.platelet if system == "platelet" else args.etcd
    cl = cls(binary, os.path.join(workdir, system), 100, 1000, f"mem-{os.getpid()}")
    if system == "platelet" and args.config:
        with open(cl.config) as f:
            cfg = json.load(f)
        for k, v in json.loads(args.config).items():
            cfg[k] = dict(cfg.get(k, {}), **v) if isinstance(v, dict) else v
        with open(cl.config, "w") as f:
            json.dump(cfg, f)
    res = {"system": system}
    try:
        cl.launch()
        lead = await rb.wait_leader(cl, 30)
        if lead is None:
            raise RuntimeError(f"{system}: no leader agreed within 30 s")
        await asyncio.sleep(1)
        res["idle_rss_mb"] = statistics.median(status_kb(p.pid, "VmRSS") for p in cl.procs) / 1024
        procs = min(2, args.conns)
        t0 = time.monotonic()
        r = await rb.load(system, cl.api(lead), args.conns, procs, count=args.writes // procs,
                          tag="m")
        res["writes_ok"] = r["ok"]
        res["load_s"] = time.monotonic() - t0
        await asyncio.sleep(2)
        rows = []
        for i, p in enumerate(cl.procs):
            row = {k: status_kb(p.pid, k) / 1024 for k in ("VmRSS", "RssAnon", "RssFile")}
            row.update({k: (v / 1024 if k != "arenas" else v) for k, v in smaps(p.pid).items()})
            if system == "platelet":
                row["store"] = await store_memory(cl, i)
            rows.append(row)
        res["nodes"] = rows
        for k in ("VmRSS", "RssAnon", "RssFile", "heap", "anon_other", "arenas"):
            res[k] = statistics.median(row[k] for row in rows)
    finally:
        cl.stop()
        if not args.keep:
            cl.drop_data()
    return res


def show(res):
    print(f"{res['system']}: {res['writes_ok']} writes in {res['load_s']:.1f} s; idle RSS "
          f"{res['idle_rss_mb']:.1f} MB; after the load (median of 3 nodes):")
    print(f"  VmRSS {res['VmRSS']:.1f} MB = RssAnon {res['RssAnon']:.1f} + RssFile "
          f"{res['RssFile']:.1f}; anonymous: [heap] {res['heap']:.1f}, other mappings "
          f"{res['anon_other']:.1f} ({res['arenas']} malloc arena(s))")
    for i, row in enumerate(res["nodes"]):
        st = row.get("store")
        if st:
            parts = ", ".join(f"{k} {v / 1048576:.1f}" for k, v in st.items()
                              if isinstance(v, (int, float)) and k.endswith("_bytes"))
            print(f"  node {i}: VmRSS {row['VmRSS']:.1f} MB; agent's account (MiB): {parts}")


async def main_async(args):
    workdir = tempfile.mkdtemp(prefix="platelet-mem.", dir=args.dir)
    try:
        out = [await run("platelet", args, workdir)]
        if args.etcd:
            out.append(await run("etcd", args, workdir))
    finally:
        rb.kill_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}", file=sys.stderr)
    for res in out:
        show(res)
    if args.etcd:
        p, e = out[0]["VmRSS"], out[1]["VmRSS"]
        print(f"Platelet/etcd VmRSS after load: {p / e:.2f} (goal <= 0.5)")
    if args.json:
        print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--platelet", default=os.environ.get("PLATELET", os.path.join(root, "build", "platelet")))
    ap.add_argument("--etcd", default=None, help="etcd binary: run the same load against etcd too")
    ap.add_argument("--writes", type=int, default=60000)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--config", default="", help="JSON merged into the agent's config")
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", action="store_true", help="also print every figure as JSON")
    args = ap.parse_args()
    import signal
    signal.signal(signal.SIGTERM, rb.on_signal)
    signal.signal(signal.SIGINT, rb.on_signal)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
