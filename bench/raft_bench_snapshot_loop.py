"""Does taking Raft snapshots stall an agent's event loop? Gossip probe round trips say.

usage: bench/raft_bench_snapshot_loop.py [--platelet BIN] [--entries N] [--threshold T]
                                         [--seconds S] [--dir DIR]

A lone voter v1 and a member m1 (profile local, probes every 50 ms) gossip on 127.0.0.1.
Probes go both ways; m1's probes of v1 are answered by v1's loop, so a loop that stalls
shows in m1's round trips. Phase idle: S seconds with nothing else. Phase load: 4 clients
send proposals to v1 until it holds N ledger entries (or 120 s). With --threshold T
(raft.snapshot_threshold) v1 snapshots every T entries (until the InstallSnapshot change
each an image of the whole ledger, since then the ledger's size and root), so during the
load the ledger is snapshotted N/T times at sizes up to N; T = 100000 (the default) and N
below it take none. Prints, for both phases, the p50 and p99 of m1's probe
round trips (from GET /v1/gossip/rtt, every sample taken in the phase), the probes that
failed, and how many snapshots v1 logged. Every process started here is killed by PID.
"""
import argparse
import http.client
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
PROCS = []


class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.path)


def call(sock, method, path, body=None):
    c = Unix(sock)
    try:
        c.request(method, path, body, {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait(what, fn, secs=20):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            if fn():
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))] if v else float("nan")


class Rtt:
    """Collects every new sample of m1's probe round trips while running."""

    def __init__(self, sock):
        self.sock, self.seen, self.samples, self.failures0 = sock, None, [], 0
        self.stop = threading.Event()

    def poll(self):
        d = json.loads(call(self.sock, "GET", "/v1/gossip/rtt")[1])
        n, arr = d["samples"], d["rtt_us"]
        if self.seen is not None and n > self.seen:
            self.samples += arr[-min(n - self.seen, len(arr)):]
        self.seen = n
        return d["probe_failures"]

    def run(self):
        while not self.stop.is_set():
            self.poll()
            time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--platelet", default=os.environ.get("PLATELET", os.path.join(HERE, "..", "build", "platelet")))
    ap.add_argument("--entries", type=int, default=20000)
    ap.add_argument("--threshold", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="platelet-snaploop.", dir=args.dir)
    ports = subprocess.run([sys.executable, os.path.join(HERE, "..", "scripts", "free_ports.py"),
                            "2", os.path.join(work, "ports")], check=True, capture_output=True,
                           text=True).stdout.split()
    gossip = {"probe_interval_ms": 50, "probe_timeout_ms": 25}
    cfg_v = {"profile": "local", "gossip": gossip,
             "raft": {"voter": True, "bootstrap_expect": 1, "snapshot_threshold": args.threshold}}
    cfg_m = {"profile": "local", "gossip": gossip}
    socks = {}
    try:
        for name, cfg, port, join in (("v1", cfg_v, ports[0], None), ("m1", cfg_m, ports[1], ports[0])):
            path = os.path.join(work, f"{name}.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            argv = [args.platelet, "agent", "--config", path, "--name", name, "--bind",
                    f"127.0.0.1:{port}", "--data-dir", os.path.join(work, name)]
            if join:
                argv += ["--join", f"127.0.0.1:{join}"]
            PROCS.append(subprocess.Popen(argv, stdout=open(os.path.join(work, f"{name}.log"), "w"),
                                          stderr=subprocess.STDOUT, start_new_session=True))
            socks[name] = os.path.join(work, name, "api.sock")
        wait("v1 commits", lambda: call(socks["v1"], "POST", "/v1/propose", b'{"kind":"note","body":{}}')[0] == 200)
        wait("m1 sees v1", lambda: sum(m["status"] == "alive" for m in json.loads(call(socks["m1"], "GET", "/v1/members")[1])) == 2)
        rtt = Rtt(socks["m1"])
        rtt.poll()
        f0 = rtt.poll()
        time.sleep(args.seconds)
        f1 = rtt.poll()
        idle = rtt.samples
        rtt.samples = []
        t = threading.Thread(target=rtt.run)
        t.start()
        stop_at = time.monotonic() + 120
        size = [0]

        def load():
            while time.monotonic() < stop_at and size[0] < args.entries:
                st, body = call(socks["v1"], "POST", "/v1/propose", b'{"kind":"note","body":{"x":"' + b"y" * 64 + b'"}}')
                if st == 200:
                    size[0] = max(size[0], json.loads(body)["index"])

        workers = [threading.Thread(target=load) for _ in range(4)]
        t0 = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        took = time.monotonic() - t0
        rtt.stop.set()
        t.join()
        f2 = rtt.poll()
        loaded = rtt.samples
        with open(os.path.join(work, "v1.log")) as f:
            taken = [line.split("snapshot taken ", 1)[1].strip() for line in f if "snapshot taken" in line]
        snaps = len(taken)
        print(f"binary {args.platelet}; threshold {args.threshold}; {size[0]} entries in {took:.1f} s; "
              f"{snaps} snapshots taken")
        print(f"  idle: m1's probes of v1 p50 {pct(idle, .5)} us, p99 {pct(idle, .99)} us "
              f"({len(idle)} samples, {f1 - f0} failed)")
        print(f"  load: m1's probes of v1 p50 {pct(loaded, .5)} us, p99 {pct(loaded, .99)} us "
              f"({len(loaded)} samples, {f2 - f1} failed); p99 loaded/idle "
              f"{pct(loaded, .99) / max(1, pct(idle, .99)):.2f}")
        for line in taken:
            print(f"  snapshot {line}")
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
