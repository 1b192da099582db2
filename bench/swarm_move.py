#!/usr/bin/env python3
"""Benchmark: node SIGKILL -> its `replicas: 1` service answering on another node.

Each repetition starts a fresh swarm on 127.0.0.1: five agents, three of them the council's
voters, the sample service "web" placed on the three voters (each on its own port). Once web
answers on exactly one voter and every member is alive in the swarm state, the agent running
it is SIGKILLed (its service dies with it) and the clock runs until web answers HTTP 200 on
another voter: gossip's failure detection, the healer committing the dead member and the
move, the new node applying it and starting the process, and the process answering.

With --how partition the holder is cut off from every peer instead (platelet fault
partition): no connection reset or ICMP port unreachable tells gossip it is gone, as when a
machine loses power or its network; the old copy stops when its lease runs out.

A fresh swarm per repetition, since the same nodes killed over and over are fenced for
flapping (more than 3 deaths in 10 minutes) and would leave nowhere to move to.

    bench/swarm_move.py --platelet build/platelet --reps 10 --profile lan

Prints one line per repetition and the p50 and p99 (nearest rank) in seconds. Every process
started here is killed by PID when the run ends, however it ends. Never a test assertion.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# One registry of started processes, killed by PID however the run ends (shared with the
# Raft benchmark).
from raft_bench_run import PROCS, kill_all, on_signal

HERE = os.path.dirname(os.path.abspath(__file__))
FREE_PORTS = os.path.join(HERE, "..", "scripts", "free_ports.py")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port(used):
    return int(subprocess.check_output([sys.executable, FREE_PORTS, "1", used]).split()[0])


def wait_for(secs, what, fn):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {secs} s waiting for {what}")


def answers(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=0.5) as r:
            return r.status == 200
    except OSError:
        return False


class Swarm:
    def __init__(self, platelet, profile, lease_ms, workdir):
        self.platelet, self.dir = platelet, workdir
        used = os.path.join(workdir, "ports")
        self.names = ["p1", "p2", "p3", "p4", "p5"]
        self.voters = self.names[:3]
        self.port = {n: free_port(used) for n in self.names}
        self.svc = {n: free_port(used) for n in self.voters}
        self.pid = {}
        for n in self.names:
            cfg = {"profile": profile}
            if n in self.voters:
                cfg["raft"] = {"voter": True, "bootstrap_expect": 3}
                cfg["services"] = [{
                    "name": "web", "command": platelet,
                    "args": ["sample-service", "--port", str(self.svc[n])], "start_ms": 300,
                    "grace_ms": 500,
                    "checks": [{"type": "http", "url": f"http://127.0.0.1:{self.svc[n]}/health",
                                "interval_ms": 500, "timeout_ms": 300}],
                    "placement": {"replicas": 1, "nodes": self.voters, "lease_ms": lease_ms}}]
            with open(os.path.join(workdir, n + ".json"), "w") as f:
                json.dump(cfg, f)

    def start(self, n):
        argv = [self.platelet, "agent", "--config", os.path.join(self.dir, n + ".json"),
                "--name", n, "--bind", f"127.0.0.1:{self.port[n]}",
                "--data-dir", os.path.join(self.dir, n), "--enable-faults"]
        if n != "p1":
            argv += ["--join", f"127.0.0.1:{self.port['p1']}"]
        logf = open(os.path.join(self.dir, n + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=logf, stderr=logf, start_new_session=False)
        PROCS[p.pid] = p
        self.pid[n] = p.pid

    def api(self, n, *cmd):
        out = subprocess.check_output([self.platelet, *cmd, "--api",
                                       "unix:" + os.path.join(self.dir, n, "api.sock"),
                                       "--json"], stderr=subprocess.DEVNULL, timeout=5)
        return json.loads(out)

    def placed_on(self, n):
        p = [x for x in self.api(n, "placement")["placements"] if x["service"] == "web"]
        return p[0]["node"] if p else ""

    def settled(self):
        """web answers on exactly its holder, and every member is alive in the state."""
        h = self.placed_on("p1")
        if not h or [n for n in self.voters if answers(self.svc[n])] != [h]:
            return False
        members = {m["name"]: m["status"]
                   for m in self.api("p1", "swarm", "status")["state"]["members"]}
        return all(members.get(n) == "alive" for n in self.names)


def one_run(args, rep):
    workdir = tempfile.mkdtemp(prefix="platelet-swarm-move.")
    try:
        sw = Swarm(os.path.abspath(args.platelet), args.profile, args.lease_ms, workdir)
        for n in sw.names:
            sw.start(n)
        wait_for(60, "web placed, answering on its holder, every member alive", sw.settled)
        holder = sw.placed_on("p1")
        others = [n for n in sw.voters if n != holder]
        t0 = time.monotonic()
        if args.how == "kill":
            os.kill(sw.pid[holder], signal.SIGKILL)
        else:
            # Cut off from every peer, no ICMP to hurry gossip: a machine gone silent.
            subprocess.check_call([sw.platelet, "fault", "partition", "--peer", "*", "--api",
                                   "unix:" + os.path.join(workdir, holder, "api.sock")],
                                  stdout=subprocess.DEVNULL)
        deadline = t0 + args.timeout
        while time.monotonic() < deadline:
            if any(answers(sw.svc[n]) for n in others):
                break
            time.sleep(0.02)
        else:
            raise RuntimeError(f"web never answered elsewhere within {args.timeout} s")
        dt = time.monotonic() - t0
        where = [n for n in others if answers(sw.svc[n])]
        log(f"rep {rep}: {args.how} {holder}, web answered on {','.join(where)} after {dt:.2f} s")
        return dt
    finally:
        kill_all()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def nearest_rank(xs, q):
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(-(-q * len(xs) // 1)) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--platelet", required=True)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--profile", default="lan", choices=["lan", "local", "wan"])
    ap.add_argument("--lease-ms", type=int, default=5000)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--how", default="kill", choices=["kill", "partition"],
                    help="SIGKILL the holder's agent, or partition it from every peer")
    ap.add_argument("--keep", action="store_true", help="keep each run's folder")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    times = [one_run(args, r + 1) for r in range(args.reps)]
    print(json.dumps({"how": args.how, "profile": args.profile, "lease_ms": args.lease_ms, "reps": len(times),
                      "p50_s": round(nearest_rank(times, 0.5), 2),
                      "p99_s": round(nearest_rank(times, 0.99), 2),
                      "min_s": round(min(times), 2), "max_s": round(max(times), 2),
                      "mean_s": round(statistics.mean(times), 2)}))


if __name__ == "__main__":
    main()
