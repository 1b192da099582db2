"""Does anything stall a follower's event loop? Gossip probe round trips say (issue 16).

usage: bench/loop_stall_bench.py [--platelet BIN] [--rounds R] [--phase-s S] [--ledger N]
                                 [--incidents K] [--stored M] [--services N] [--fifo PRIO]
                                 [--json FILE] [--dir DIR]

Three voters on 127.0.0.1 (profile local, probes every 20 ms so the round trips sample the
loops 50 times a second): v1 and v2, and f, the agent under test, kept a follower (a
leadership that lands on f is transferred away). f also watches N external services
through TCP checks (every 100 ms, one failure) on listeners this script holds.

Set-up: the checks' listeners close together for 300 ms, then open until every service is
healthy and no incident open, again and again until f has opened M incidents (stored in its RocksDB by the incident writer, each also a swarm entry through
Raft), then 4 clients propose notes to v1 until the ledger holds N entries. Snapshots by
threshold are off (raft.snapshot_threshold 100000000); f takes them only when asked.

Then R rounds, each: idle S s; "incidents": such pulses until K/R more incidents are
opened (each pulse one incident per service, opened, escalated and closed; at most 60 s); idle S s; "snapshot": S s of back-to-back snapshots of f's whole ledger
(POST /v1/raft/snapshot, one note proposed between two so each has a new index); idle S s;
"stored": S s of GET /v1/incidents?open=1 on f every 50 ms with the M+ incidents stored;
idle S s; "appends": S s of 4 clients proposing notes to the leader, so f appends, persists
(fsync) and applies a stream of Raft entries.
Between phases the script waits until every check is healthy and no incident is open (not
counted in any phase). The figure: f's own probe round trips (GET /v1/gossip/rtt, timed in
its gossip shell) in each phase, p50 and p99 pooled over the rounds and the p99 of each
round, and the ratio of each load phase's p99 to the idle phases' p99. The idle phases
sit between the load phases so other load on a shared machine weighs on both alike.

--fifo PRIO runs the three agents under SCHED_FIFO (chrt -f PRIO; root), so compilers and
tests of others on the machine do not preempt their loops. Every process started here is
killed by PID; every loop is bounded in count and time.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from raft_bench_snapshot_loop import call, pct, wait  # noqa: E402

PROCS = []
FLIP_PERIOD_S = 0.3
POLL_S = 0.2


def jget(sock, path):
    st, body = call(sock, "GET", path)
    if st != 200:
        raise OSError(f"GET {path}: {st} {body[:200]!r}")
    return json.loads(body)


class Flipper:
    """The services' listeners (accepting on a thread); pulse() closes them all once."""

    def __init__(self, n, deadline):
        self.socks = [self.listen(0) for _ in range(n)]
        self.ports = [s.getsockname()[1] for s in self.socks]
        self.down = threading.Event()
        self.stop = threading.Event()
        self.deadline = deadline
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    @staticmethod
    def listen(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(128)
        s.setblocking(False)
        return s

    def run(self):
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            if self.down.is_set():
                for s in self.socks:
                    s.close()
                time.sleep(FLIP_PERIOD_S)
                self.socks = [self.listen(p) for p in self.ports]
                self.down.clear()
            for s in self.socks:
                try:
                    s.accept()[0].close()
                except OSError:
                    pass
            time.sleep(0.01)
        for s in self.socks:
            s.close()

    def pulse(self, sock):
        """Every check fails once (FLIP_PERIOD_S down), then f calms down again: each
        service opens, escalates and closes one incident."""
        self.down.set()
        wait("the listeners back", lambda: not self.down.is_set(), 10)
        wait("f calm after a pulse", lambda: calm(sock), 60)


class Rtt:
    """f's own probe round trips since the last take (its ring keeps the last 1024)."""

    def __init__(self, sock):
        self.sock = sock
        d = jget(sock, "/v1/gossip/rtt")
        self.seen, self.probes, self.failures = d["samples"], d["probes"], d["probe_failures"]

    def take(self, into):
        d = jget(self.sock, "/v1/gossip/rtt")
        fresh = d["samples"] - self.seen
        into["missed"] += max(0, fresh - len(d["rtt_us"]))
        if fresh > 0:
            into["us"] += d["rtt_us"][-min(fresh, len(d["rtt_us"])):]
        into["probes"] += d["probes"] - self.probes
        into["failures"] += d["probe_failures"] - self.failures
        self.seen, self.probes, self.failures = d["samples"], d["probes"], d["probe_failures"]


def opened(sock):
    return sum(s.get("incidents", 0) for s in jget(sock, "/v1/services")["services"])


def calm(sock):
    svcs = jget(sock, "/v1/services")["services"]
    return all(s.get("healthy") for s in svcs) and jget(sock, "/v1/incidents?open=1")["count"] == 0


def status(sock):
    return jget(sock, "/v1/raft/status")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--platelet", default=os.environ.get("PLATELET", os.path.join(HERE, "..", "build", "platelet")))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--phase-s", type=float, default=4)
    ap.add_argument("--ledger", type=int, default=100000)
    ap.add_argument("--incidents", type=int, default=1000)
    ap.add_argument("--stored", type=int, default=10000)
    ap.add_argument("--services", type=int, default=60)
    ap.add_argument("--fifo", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    if not 1 <= args.services <= 64:
        sys.exit("--services: 1..64 (an agent watches at most 64)")
    t_start = time.monotonic()
    work = tempfile.mkdtemp(prefix="platelet-loopstall.", dir=args.dir)
    flip = Flipper(args.services, t_start + 3 * 3600)
    ports = subprocess.run([sys.executable, os.path.join(HERE, "..", "scripts", "free_ports.py"),
                            "3", os.path.join(work, "ports")], check=True, capture_output=True,
                           text=True).stdout.split()
    gossip = {"probe_interval_ms": 20, "probe_timeout_ms": 15}
    raft = {"voter": True, "bootstrap_expect": 3, "election_timeout_ms": 1000, "heartbeat_ms": 100,
            "snapshot_threshold": 100000000}
    svcs = [{"name": f"flip{i}", "type": "external",
             "checks": [{"type": "tcp", "address": f"127.0.0.1:{p}", "interval_ms": 100,
                         "timeout_ms": 100, "failures": 1, "successes": 1}]}
            for i, p in enumerate(flip.ports)]
    socks, names = {}, ("v1", "v2", "f")
    load1 = os.getloadavg()
    try:
        for name, port in zip(names, ports):
            cfg = {"profile": "local", "gossip": gossip, "raft": raft}
            if name == "f":
                cfg.update(services=svcs, webhooks=[])
            path = os.path.join(work, f"{name}.json")
            with open(path, "w") as fh:
                json.dump(cfg, fh)
            argv = [args.platelet, "agent", "--config", path, "--name", name, "--bind",
                    f"127.0.0.1:{port}", "--data-dir", os.path.join(work, name),
                    "--join", f"127.0.0.1:{ports[0]}", "--join", f"127.0.0.1:{ports[1]}"]
            if args.fifo:
                argv = ["chrt", "-f", str(args.fifo)] + argv
            PROCS.append(subprocess.Popen(argv, stdout=open(os.path.join(work, f"{name}.log"), "w"),
                                          stderr=subprocess.STDOUT, start_new_session=True))
            socks[name] = os.path.join(work, name, "api.sock")

        def leader():
            ls = {status(socks[n])["leader"] for n in names}
            return ls.pop() if len(ls) == 1 and None not in ls and "" not in ls else None

        wait("one leader agreed by the voters", leader, 30)

        def follower():
            if leader() == "f":
                call(socks["f"], "POST", "/v1/raft/transfer", b'{"name":"v1"}')
                return False
            return leader() is not None and status(socks["f"])["role"] == "follower"

        wait("f a follower", follower, 30)
        lead = socks[leader()]
        wait("f's checks healthy", lambda: calm(socks["f"]), 30)
        print(f"cluster up; leader {leader()}; {args.services} services on f", file=sys.stderr, flush=True)

        # Set-up 1: M incidents stored on f.
        t0 = time.monotonic()
        while opened(socks["f"]) < args.stored and time.monotonic() < t0 + 1800:
            flip.pulse(socks["f"])
        stored = opened(socks["f"])
        print(f"{stored} incidents opened on f in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        wait("f calm after the set-up's incidents", lambda: calm(socks["f"]), 60)

        # Set-up 2: the ledger to N entries.
        size = [status(lead)["ledger"]["size"]]
        stop_at = time.monotonic() + 1800
        body = b'{"kind":"note","body":{"x":"' + b"y" * 64 + b'"}}'

        def fill():
            while time.monotonic() < stop_at and size[0] < args.ledger:
                try:
                    st, b = call(lead, "POST", "/v1/propose", body)
                except OSError:
                    continue
                if st == 200:
                    size[0] = max(size[0], json.loads(b)["ledger_index"] + 1)

        t0 = time.monotonic()
        workers = [threading.Thread(target=fill) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wait("f applied the ledger", lambda: status(socks["f"])["ledger"]["size"] >= size[0], 120)
        print(f"ledger {size[0]} entries in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)

        rtt = Rtt(socks["f"])
        phases = {p: [] for p in ("idle", "incidents", "snapshot", "stored", "appends")}

        def run_phase(kind, r, until_fn, step=None):
            ph = {"round": r, "us": [], "missed": 0, "probes": 0, "failures": 0, "t0": time.monotonic()}
            rtt.take({"us": [], "missed": 0, "probes": 0, "failures": 0})  # drop what came before
            ph["la"] = os.getloadavg()[0]
            next_poll = time.monotonic() + POLL_S
            while not until_fn(ph):
                if step is not None:
                    step(ph)
                else:
                    time.sleep(0.05)
                if time.monotonic() >= next_poll:
                    rtt.take(ph)
                    next_poll = time.monotonic() + POLL_S
            rtt.take(ph)
            ph["s"] = time.monotonic() - ph["t0"]
            phases[kind].append(ph)
            return ph

        def timed(s):
            return lambda ph: time.monotonic() >= ph["t0"] + s

        def idle(r):
            run_phase("idle", r, timed(args.phase_s))
            wait("f calm", lambda: calm(socks["f"]), 60)

        snap_state = {}

        def snap_step(ph):
            st = status(socks["f"])
            s = st["snapshots"]
            if s["building"] or snap_state.get("want", -1) > s["taken"]:
                time.sleep(0.02)
                return
            if snap_state.get("applied", 0) >= st["last_applied"]:
                call(lead, "POST", "/v1/propose", b'{"kind":"note","body":{}}')
                time.sleep(0.02)
                return
            code, b = call(socks["f"], "POST", "/v1/raft/snapshot")
            if code == 202:
                snap_state["want"] = s["taken"] + 1
                snap_state["applied"] = json.loads(b)["index"]
                ph["snapshots"] = ph.get("snapshots", 0) + 1
            time.sleep(0.02)

        def stored_step(ph):
            jget(socks["f"], "/v1/incidents?open=1")
            ph["gets"] = ph.get("gets", 0) + 1
            time.sleep(0.05)

        def appends(r):
            stop, done = threading.Event(), [0]

            def propose():
                while not stop.is_set():
                    try:
                        st, _ = call(lead, "POST", "/v1/propose", body)
                    except OSError:
                        continue
                    done[0] += st == 200

            ws = [threading.Thread(target=propose) for _ in range(4)]
            for w in ws:
                w.start()
            ph = run_phase("appends", r, timed(args.phase_s))
            stop.set()
            for w in ws:
                w.join()
            ph["appends"] = done[0]

        per_round = args.incidents // args.rounds
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
            idle(r)
            base = opened(socks["f"])
            ph = run_phase("incidents", r,
                           lambda ph: opened(socks["f"]) - base >= per_round or time.monotonic() > ph["t0"] + 60,
                           lambda ph: flip.pulse(socks["f"]))
            ph["incidents"] = opened(socks["f"]) - base
            wait("f calm", lambda: calm(socks["f"]), 60)
            idle(r)
            ph = run_phase("snapshot", r, lambda ph: time.monotonic() >= ph["t0"] + args.phase_s
                           and not status(socks["f"])["snapshots"]["building"]
                           or time.monotonic() > ph["t0"] + 120, snap_step)
            ph["taken"] = status(socks["f"])["snapshots"]
            wait("f's snapshot taken", lambda: not status(socks["f"])["snapshots"]["building"], 60)
            idle(r)
            run_phase("stored", r, timed(args.phase_s), stored_step)
            idle(r)
            appends(r)
        load2 = os.getloadavg()

        idle_p99 = pct([u for ph in phases["idle"] for u in ph["us"]], .99)
        out = {"ledger": size[0], "stored_incidents": opened(socks["f"]), "services": args.services,
               "rounds": args.rounds, "phase_s": args.phase_s, "fifo": args.fifo,
               "loadavg_start": load1, "loadavg_end": load2, "phases": {}}
        print(f"binary {args.platelet}; ledger {size[0]} entries; {out['stored_incidents']} incidents "
              f"stored; {args.rounds} rounds; load average {load1[0]:.1f} at the start, "
              f"{load2[0]:.1f} at the end")
        print("phase      samples  probes/s fail  p50 us  p99 us  p99/idle  p99 per round (us)  load avg")
        for kind, lst in phases.items():
            us = [u for ph in lst for u in ph["us"]]
            secs = sum(ph["s"] for ph in lst)
            rounds = [pct(ph["us"], .99) for ph in lst]
            row = {"samples": len(us), "missed": sum(ph["missed"] for ph in lst),
                   "seconds": secs, "probes": sum(ph["probes"] for ph in lst),
                   "failures": sum(ph["failures"] for ph in lst), "p50_us": pct(us, .5),
                   "p99_us": pct(us, .99), "p99_ratio": pct(us, .99) / idle_p99,
                   "p99_rounds_us": rounds, "loadavg": [ph["la"] for ph in lst],
                   "extra": {k: [ph.get(k) for ph in lst]
                             for k in ("incidents", "snapshots", "gets", "appends")}}
            out["phases"][kind] = row
            print(f"{kind:<10} {len(us):>7} {row['probes'] / secs:>9.1f} {row['failures']:>4} "
                  f"{row['p50_us']:>7.0f} {row['p99_us']:>7.0f} {row['p99_ratio']:>9.2f}  "
                  f"{' '.join(f'{x:.0f}' for x in rounds):<19} "
                  f"{min(row['loadavg']):.1f}-{max(row['loadavg']):.1f}")
        for kind in ("incidents", "snapshot", "stored", "appends"):
            print(f"  {kind}: {out['phases'][kind]['extra']}")
        # Since InstallSnapshot streams the ledger's leaves a snapshot is the ledger's size and
        # root, taken on the loop in O(1): no build to time any more, only a count.
        with open(os.path.join(work, "f.log")) as fh:
            taken = sum(1 for ln in fh if "snapshot taken" in ln)
        out["snapshots_taken"] = taken
        print(f"  f's snapshots taken: {taken}")
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(out, fh, indent=1)
    finally:
        flip.stop.set()
        for p in PROCS:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        if os.environ.get("KEEP"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
