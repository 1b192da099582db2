"""A voter far behind catches up by InstallSnapshot: bytes, time and peak memory.

usage: bench/raft_catchup.py [--platelet BIN] [--writes N] [--conns C] [--config JSON]
                             [--mid none|kill-follower|kill-leader|snapshot] [--mid-at F]
                             [--dir DIR] [--keep]

Starts a fresh 3-node Platelet council on 127.0.0.1 (heartbeat 100 ms, election timeout
1000 ms, the default snapshot settings: a snapshot every 100,000 applied entries, 10,000
kept behind it), SIGKILLs one follower, sends N 64-byte writes (default 100,000) to the
leader from C keep-alive clients, then restarts the follower and times it until its ledger
has the leader's size and root. Prints the snapshot bytes the leader sent for it, the leaves
the follower received that way, the time, the follower's peak RSS (VmHWM, from its start)
and the leader's peak RSS while the follower caught up (VmRSS sampled every 20 ms), with the
leader's RSS before it began. --config merges JSON into the agent's config (e.g.
'{"raft": {"snapshot_chunk_bytes": 65536}}'). Every process started here is killed by PID.

--mid disturbs the transfer once the follower has received F (--mid-at, default 0.4) of the
ledger's leaves: kill-follower SIGKILLs the follower and restarts it at once; kill-leader
SIGKILLs the leader (the follower then catches up from the one elected next, and the time
includes that election); snapshot makes 20 more writes and takes a snapshot on the leader
(POST /v1/raft/snapshot), so its snapshot index moves past the one being sent. A follower
that exits, or does not catch up within --timeout, fails the run with both ends' Raft status.
"""
import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import raft_bench_run as rb  # noqa: E402
from raft_bench_http import Conn, platelet_write  # noqa: E402
from raft_bench_mem import get_json, status_kb  # noqa: E402


async def raft_status(cl, i):
    return await get_json(cl, i, "/v1/raft/status") or {}


def brief(st):
    """The part of a /v1/raft/status that says where a transfer stands."""
    return {k: st.get(k) for k in ("role", "term", "leader", "commit", "applied", "last_index",
                                    "ledger", "snapshot_transfer", "snapshots")}


async def request(cl, i, method, path, body=b""):
    c = Conn(*cl.api(i))
    try:
        return await c.request(method, path, body, timeout=5.0)
    except Exception as e:  # a bench step reports what failed, it does not stop here
        return 0, repr(e).encode()
    finally:
        c.close()


async def disturb(args, cl, lead, lag):
    """The --mid action; returns the leader's index after it."""
    if args.mid == "kill-follower":
        cl.kill(lag)
        cl.procs[lag] = rb.spawn(cl.argv(lag), cl.logs[lag])
    elif args.mid == "kill-leader":
        cl.kill(lead)
        lead = await rb.wait_leader(cl, 30)
        if lead is None:
            raise RuntimeError("no new leader within 30 s after the leader was killed")
    elif args.mid == "snapshot":
        for k in range(20):
            await request(cl, lead, *platelet_write(k, "m"))
        st, body = await request(cl, lead, "POST", "/v1/raft/snapshot")
        if st != 202:
            raise RuntimeError(f"mid-transfer snapshot refused: {st} {body[:200]!r}")
    return lead


async def run(args, workdir):
    cl = rb.Platelet(args.platelet, os.path.join(workdir, "platelet"), 100, 1000,
                     f"catchup-{os.getpid()}")
    if args.config:
        with open(cl.config) as f:
            cfg = json.load(f)
        for k, v in json.loads(args.config).items():
            cfg[k] = dict(cfg.get(k, {}), **v) if isinstance(v, dict) else v
        with open(cl.config, "w") as f:
            json.dump(cfg, f)
    try:
        cl.launch()
        lead = await rb.wait_leader(cl, 30)
        if lead is None:
            raise RuntimeError("no leader agreed within 30 s")
        lag = (lead + 1) % 3
        cl.kill(lag)
        t0 = time.monotonic()
        r = await rb.load("platelet", cl.api(lead), args.conns, min(2, args.conns),
                          count=args.writes // min(2, args.conns), tag="c")
        load_s = time.monotonic() - t0
        st = await raft_status(cl, lead)
        size = st["ledger"]["size"]
        sent0 = st["snapshot_transfer"]["sent_bytes"]
        lead_pid = cl.procs[lead].pid
        lead_rss0 = status_kb(lead_pid, "VmRSS") / 1024
        cl.procs[lag] = rb.spawn(cl.argv(lag), cl.logs[lag])
        t0 = time.monotonic()
        lead_peak = lead_rss0
        done = None
        mid_s = None if args.mid != "none" else 0.0
        fs = {}
        while time.monotonic() - t0 < args.timeout:
            if cl.procs[lag].poll() is not None:
                with open(os.path.join(cl.workdir, f"node{lag}.log"), errors="replace") as f:
                    tail = "".join(f.readlines()[-3:])
                raise RuntimeError(f"the follower exited (code {cl.procs[lag].returncode}) "
                                   f"{time.monotonic() - t0:.1f} s into the catch-up; its "
                                   f"log ends:\n{tail}")
            lead_peak = max(lead_peak, status_kb(lead_pid, "VmRSS") / 1024)
            fs = await raft_status(cl, lag)
            led = fs.get("ledger") or {}
            got = (fs.get("snapshot_transfer") or {}).get("received_leaves", 0)
            if mid_s is None and got >= args.mid_at * size:
                mid_s = time.monotonic() - t0
                new = await disturb(args, cl, lead, lag)
                if new != lead:  # the new leader's counter began at its start
                    lead, lead_pid, sent0 = new, cl.procs[new].pid, 0
                size = (await raft_status(cl, lead))["ledger"]["size"]
                continue
            if led.get("size", 0) >= size:
                done = time.monotonic() - t0
                break
            await asyncio.sleep(0.02)
        if done is None:
            st = await raft_status(cl, lead)
            raise RuntimeError(f"the follower did not catch up within {args.timeout} s "
                               f"(disturbed at {mid_s} s); leader {json.dumps(brief(st))}; "
                               f"follower {json.dumps(brief(fs))}")
        # The same root as the leader's at that size (a member event may have come since).
        same = False
        for _ in range(100):
            st = await raft_status(cl, lead)
            fs = await raft_status(cl, lag)
            if fs["ledger"] == st["ledger"]:
                same = True
                break
            await asyncio.sleep(0.05)
        return {"writes_ok": r["ok"], "load_s": load_s, "ledger_size": size,
                "same_root": same, "mid": args.mid, "mid_s": mid_s,
                "catchup_s": done,
                "sent_bytes": st["snapshot_transfer"]["sent_bytes"] - sent0,
                "received_leaves": fs["snapshot_transfer"]["received_leaves"],
                "follower_append_ms": fs["snapshot_transfer"].get("append_ms", 0),
                "follower_state_ms": fs["snapshot_transfer"].get("state_ms", 0),
                "follower_peak_rss_mb": status_kb(cl.procs[lag].pid, "VmHWM") / 1024,
                "follower_core_snapshot_bytes": fs["memory"]["snapshot_bytes"],
                "leader_rss_before_mb": lead_rss0, "leader_peak_rss_mb": lead_peak,
                "leader_core_snapshot_bytes": st["memory"]["snapshot_bytes"]}
    finally:
        cl.stop()
        if not args.keep:
            cl.drop_data()


async def main_async(args):
    workdir = tempfile.mkdtemp(prefix="platelet-catchup.", dir=args.dir)
    try:
        res = await run(args, workdir)
    finally:
        rb.kill_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}", file=sys.stderr)
    print(f"{res['writes_ok']} writes in {res['load_s']:.1f} s while one voter was down; "
          f"ledger {res['ledger_size']} entries")
    if args.mid != "none":
        print(f"--mid {args.mid} at {res['mid_s']:.2f} s (the leaves received since the "
              f"follower's last start and the bytes from the leader at the end count below)")
    print(f"caught up in {res['catchup_s']:.2f} s (same root: {res['same_root']}): "
          f"{res['sent_bytes'] / 1048576:.1f} MiB of snapshot chunks, "
          f"{res['received_leaves']} leaves received by snapshot")
    print(f"the follower spent {res['follower_append_ms']:.0f} ms in synced ledger appends of "
          f"them and {res['follower_state_ms']:.0f} ms feeding them to the swarm state")
    print(f"follower peak RSS {res['follower_peak_rss_mb']:.1f} MB; leader RSS "
          f"{res['leader_rss_before_mb']:.1f} MB before, peak {res['leader_peak_rss_mb']:.1f} MB "
          f"during; Raft cores' snapshot bytes: leader {res['leader_core_snapshot_bytes']}, "
          f"follower {res['follower_core_snapshot_bytes']}")
    if args.json:
        print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--platelet", default=os.environ.get("PLATELET", os.path.join(root, "build", "platelet")))
    ap.add_argument("--writes", type=int, default=100000)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--config", default="", help="JSON merged into the agent's config")
    ap.add_argument("--mid", choices=("none", "kill-follower", "kill-leader", "snapshot"),
                    default="none", help="disturb the transfer once (see above)")
    ap.add_argument("--mid-at", type=float, default=0.4,
                    help="the share of the ledger's leaves received when --mid acts")
    ap.add_argument("--timeout", type=float, default=300.0)
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
