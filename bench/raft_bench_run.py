"""Orchestrator of the Raft vs etcd benchmark (called by bench/raft_vs_etcd.sh).

For each timing pair (heartbeat/election ms) and each repetition it starts a fresh 3-node
Platelet council and a fresh 3-node etcd cluster on 127.0.0.1 (one after the other, never
both at once), and measures on each:
  cold start   launch of the three processes -> first successful write (HTTP 200)
  idle RSS     VmRSS per node once a leader is agreed and the cluster has idled a moment
  latency      one keep-alive client, sequential 64-byte writes to the leader, p50 and p99
  throughput   C keep-alive clients writing to the leader for D seconds (writes/s)
  failover     SIGKILL of the leader -> next successful write through a survivor
Every write goes through the same small HTTP client (raft_bench_http.py): Platelet's
POST /v1/propose and etcd's v3 gateway POST /v3/kv/put. Every wait has a deadline and every
process started here is killed by PID when the run ends, however it ends.
"""
import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time

from raft_bench_http import WRITERS, Conn

HERE = os.path.dirname(os.path.abspath(__file__))
PROCS = {}  # pid -> Popen: everything this run started and has not reaped yet


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def kill_all():
    for pid, p in list(PROCS.items()):
        if p.poll() is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        PROCS.pop(pid, None)


def on_signal(signum, _frame):
    kill_all()
    sys.exit(128 + signum)


def spawn(argv, logfile, stdin=None, stdout=None):
    p = subprocess.Popen(argv, stdin=stdin, stdout=stdout if stdout else logfile,
                         stderr=logfile, start_new_session=True)
    PROCS[p.pid] = p
    return p


def reap(p, grace_s=5.0):
    """SIGTERM, then SIGKILL after grace_s."""
    if p.poll() is None:
        try:
            p.terminate()
            p.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    PROCS.pop(p.pid, None)


# --- ports --------------------------------------------------------------------------------

TAKEN = set()


def port_free(port, udp=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(span=1):
    """A port p with p..p+span-1 free for TCP and UDP on 127.0.0.1, not handed out before."""
    for _ in range(2000):
        p = random.randrange(20000, 60000 - span)
        ports = range(p, p + span)
        if any(q in TAKEN for q in ports):
            continue
        if all(port_free(q) and port_free(q, udp=True) for q in ports):
            TAKEN.update(ports)
            return p
    raise RuntimeError("no free port found")


# --- the two systems -----------------------------------------------------------------------

class Cluster:
    system = ""

    def __init__(self, binary, workdir, hb_ms, et_ms, tag):
        self.binary, self.workdir, self.hb_ms, self.et_ms, self.tag = (
            binary, workdir, hb_ms, et_ms, tag)
        self.procs = [None, None, None]
        self.logs = []
        os.makedirs(workdir, exist_ok=True)

    def api(self, i):
        return ("127.0.0.1", self.api_ports[i])

    def alive(self):
        return [i for i in range(3) if self.procs[i] is not None and self.procs[i].poll() is None]

    def launch(self):
        for i in range(3):
            f = open(os.path.join(self.workdir, f"node{i}.log"), "ab")
            self.logs.append(f)
            self.procs[i] = spawn(self.argv(i), f)

    def rss_mb(self):
        out = []
        for i in self.alive():
            with open(f"/proc/{self.procs[i].pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out.append(int(line.split()[1]) / 1024.0)
        return out

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait(timeout=5)
        PROCS.pop(self.procs[i].pid, None)

    def stop(self):
        for i in self.alive():
            reap(self.procs[i])
        for f in self.logs:
            f.close()

    async def leader(self):
        """The index of the node every live node names leader, or None."""
        views = []
        for i in self.alive():
            try:
                views.append((i, await self.view(i)))
            except Exception:
                return None
        if not views:
            return None
        leaders = {v[1] for _, v in views}
        if len(leaders) != 1 or None in leaders:
            return None
        for i, (me, lead) in views:
            if me == lead:
                return i
        return None


class Platelet(Cluster):
    system = "platelet"

    def __init__(self, *a):
        super().__init__(*a)
        self.gossip_ports = [free_port(2) for _ in range(3)]  # gossip p, Raft p+1
        self.api_ports = [free_port() for _ in range(3)]
        cfg = {"profile": "local",
               "raft": {"voter": True, "bootstrap_expect": 3,
                        "election_timeout_ms": self.et_ms, "heartbeat_ms": self.hb_ms}}
        self.config = os.path.join(self.workdir, "platelet.json")
        with open(self.config, "w") as f:
            json.dump(cfg, f)

    def argv(self, i):
        a = [self.binary, "agent", "--config", self.config, "--name", f"p{i}",
             "--bind", f"127.0.0.1:{self.gossip_ports[i]}",
             "--data-dir", os.path.join(self.workdir, f"p{i}"),
             "--api", f"127.0.0.1:{self.api_ports[i]}", "--log-level", "warn"]
        if i > 0:
            a += ["--join", f"127.0.0.1:{self.gossip_ports[0]}"]
        return a

    async def view(self, i):
        c = Conn(*self.api(i))
        try:
            st, body = await c.request("GET", "/v1/raft/status", timeout=2.0)
        finally:
            c.close()
        d = json.loads(body)
        return (f"p{i}", d.get("leader") or None)


class Etcd(Cluster):
    system = "etcd"

    def __init__(self, *a):
        super().__init__(*a)
        self.peer_ports = [free_port() for _ in range(3)]
        self.api_ports = [free_port() for _ in range(3)]
        self.ids = [None, None, None]

    def argv(self, i):
        cluster = ",".join(f"e{j}=http://127.0.0.1:{self.peer_ports[j]}" for j in range(3))
        return [self.binary, "--name", f"e{i}", "--data-dir", os.path.join(self.workdir, f"e{i}"),
                "--listen-client-urls", f"http://127.0.0.1:{self.api_ports[i]}",
                "--advertise-client-urls", f"http://127.0.0.1:{self.api_ports[i]}",
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.tag,
                "--heartbeat-interval", str(self.hb_ms), "--election-timeout", str(self.et_ms),
                "--logger", "zap", "--log-level", "warn"]

    async def view(self, i):
        c = Conn(*self.api(i))
        try:
            st, body = await c.request("POST", "/v3/maintenance/status", b"{}", timeout=2.0)
        finally:
            c.close()
        d = json.loads(body)
        lead = d.get("leader")
        return (d["header"]["member_id"], lead if lead not in (None, "0") else None)


SYSTEMS = {"platelet": Platelet, "etcd": Etcd}


# --- measurements --------------------------------------------------------------------------

async def first_write(system, targets, deadline_s):
    """Monotonic time of the first HTTP 200 write through any of targets, or None.

    A new attempt starts every 10 ms per target (at most 100 in flight per target, each
    given up after 1 s), so a request stuck on a dead leader does not hide a later success.
    """
    make = WRITERS[system]
    done = asyncio.Event()
    result = {}
    inflight = {t: 0 for t in targets}
    tasks = set()
    seq = [0]

    async def attempt(t):
        c = Conn(*t)
        try:
            await c.open(timeout=1.0)
            method, path, body = make(seq[0], "probe")
            seq[0] += 1
            st, _ = await c.request(method, path, body, timeout=1.0)
            if st == 200 and not done.is_set():
                result["t"] = time.monotonic()
                done.set()
        except Exception:
            pass
        finally:
            c.close()
            inflight[t] -= 1

    end = time.monotonic() + deadline_s
    while not done.is_set() and time.monotonic() < end:
        for t in targets:
            if inflight[t] < 100:
                inflight[t] += 1
                task = asyncio.ensure_future(attempt(t))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        try:
            await asyncio.wait_for(done.wait(), 0.01)
        except asyncio.TimeoutError:
            pass
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return result.get("t")


async def wait_leader(cl, deadline_s):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        i = await cl.leader()
        if i is not None:
            return i
        await asyncio.sleep(0.05)
    return None


async def load(system, target, conns, procs, count=None, duration=None, tag="b"):
    """Runs raft_bench_load.py in `procs` processes, conns split among them; merged result."""
    per = [conns // procs + (1 if k < conns % procs else 0) for k in range(procs)]
    per = [n for n in per if n > 0]
    ps = []
    for k, n in enumerate(per):
        argv = [sys.executable, os.path.join(HERE, "raft_bench_load.py"), "--system", system,
                "--target", f"{target[0]}:{target[1]}", "--conns", str(n), "--tag", f"{tag}{k}"]
        argv += ["--count", str(count)] if count is not None else ["--duration", str(duration)]
        ps.append(spawn(argv, None, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
    loop = asyncio.get_running_loop()
    budget = 30 + (duration or 0) + (count or 0) * 0.05
    try:
        for p in ps:  # each prints "ready" once its connections are open
            line = await asyncio.wait_for(loop.run_in_executor(None, p.stdout.readline), 30)
            if line.strip() != b"ready":
                raise RuntimeError(f"load generator did not start: {line!r}")
        for p in ps:
            p.stdin.write(b"go\n")
            p.stdin.flush()
        outs = []
        for p in ps:
            out = await asyncio.wait_for(loop.run_in_executor(None, p.stdout.read), budget)
            outs.append(json.loads(out))
    finally:
        for p in ps:
            reap(p, 1.0)
    lat = sorted(x for o in outs for x in o["lat_us"])
    return {"ok": sum(o["ok"] for o in outs), "errors": sum(o["errors"] for o in outs),
            "elapsed_s": max(o["elapsed_s"] for o in outs), "lat_us": lat,
            "client_cpu_s": sum(o["cpu_s"] for o in outs),
            "first_error": next((o["first_error"] for o in outs if o["first_error"]), "")}


def pct(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def proc_cpu_s(pids):
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tck
        except (OSError, IndexError, ValueError):
            pass
    return total


async def one_rep(args, system, hb, et, rep):
    tag = f"{system}-{hb}-{et}-{rep}"
    binary = args.platelet if system == "platelet" else args.etcd
    cl = SYSTEMS[system](binary, os.path.join(args.dir, tag), hb, et, f"bench-{tag}")
    res = {"system": system, "hb_ms": hb, "et_ms": et, "rep": rep}
    try:
        t0 = time.monotonic()
        cl.launch()
        t1 = await first_write(system, [cl.api(i) for i in range(3)], 30)
        if t1 is None:
            raise RuntimeError("no write succeeded within 30 s of launch")
        res["cold_start_s"] = t1 - t0
        lead = await wait_leader(cl, 20)
        if lead is None:
            raise RuntimeError("no leader agreed by all three nodes within 20 s")
        await asyncio.sleep(args.settle)
        res["rss_idle_mb"] = statistics.mean(cl.rss_mb())

        lead = await wait_leader(cl, 20)
        r = await load(system, cl.api(lead), 1, 1, count=args.seq_writes, tag="s")
        if r["ok"] < args.seq_writes * 0.99:
            raise RuntimeError(f"sequential: only {r['ok']}/{args.seq_writes} ok; {r['first_error']}")
        res["lat_p50_ms"] = pct(r["lat_us"], 0.50) / 1000
        res["lat_p99_ms"] = pct(r["lat_us"], 0.99) / 1000
        res["seq_errors"] = r["errors"]

        for conns in args.conns:
            lead = await wait_leader(cl, 20)
            pids = [p.pid for p in cl.procs]
            cpu0 = proc_cpu_s(pids)
            r = await load(system, cl.api(lead), conns, min(args.load_procs, conns),
                           duration=args.duration, tag=f"t{conns}-")
            res[f"tput_{conns}"] = r["ok"] / r["elapsed_s"]
            res[f"tput_{conns}_p99_ms"] = pct(r["lat_us"], 0.99) / 1000
            res[f"tput_{conns}_errors"] = r["errors"]
            res[f"tput_{conns}_server_cpu"] = (proc_cpu_s(pids) - cpu0) / r["elapsed_s"]
            res[f"tput_{conns}_client_cpu"] = r["client_cpu_s"] / r["elapsed_s"]
            if r["errors"]:
                res[f"tput_{conns}_first_error"] = r["first_error"]
        res["rss_loaded_mb"] = statistics.mean(cl.rss_mb())

        lead = await wait_leader(cl, 20)
        if lead is None:
            raise RuntimeError("no leader before the failover test")
        survivors = [i for i in range(3) if i != lead]
        await asyncio.sleep(args.settle)
        t0 = time.monotonic()
        cl.kill(lead)
        t1 = await first_write(system, [cl.api(i) for i in survivors], 30)
        if t1 is None:
            raise RuntimeError("no write succeeded within 30 s of the leader's SIGKILL")
        res["failover_s"] = t1 - t0
    except Exception as e:  # recorded and reported; the other repetitions go on
        res["error"] = f"{type(e).__name__}: {e}"
    finally:
        cl.stop()
    return res


# --- the report ----------------------------------------------------------------------------

def summarize(results, args):
    """Text table: median [min-max] per system, the Platelet/etcd ratio and the goal."""
    metrics = [("cold_start_s", "cold start -> first write", "s", "P < 0.6 s"),
               ("failover_s", "failover (SIGKILL -> write)", "s", "P <= E"),
               ("lat_p50_ms", "sequential latency p50", "ms", "P <= E"),
               ("lat_p99_ms", "sequential latency p99", "ms", "P <= E")]
    for c in args.conns:
        metrics.append((f"tput_{c}", f"throughput, {c} clients", "w/s", "P >= 2E"))
    metrics += [("rss_idle_mb", "idle RSS per node", "MB", "P <= E/5"),
                ("rss_loaded_mb", "RSS per node after load", "MB", "")]
    lines = []
    for hb, et in args.timings:
        lines.append(f"\nheartbeat {hb} ms, election timeout {et} ms "
                     f"({args.reps} repetitions each; median [min-max])")
        lines.append(f"{'metric':30} {'Platelet':>24} {'etcd':>24} {'P/E':>6}  goal")
        for key, label, unit, goal in metrics:
            cells, med = [], {}
            for s in ("platelet", "etcd"):
                vals = sorted(r[key] for r in results
                              if r["system"] == s and r["hb_ms"] == hb and r["et_ms"] == et
                              and key in r)
                if vals:
                    med[s] = statistics.median(vals)
                    fmt = "{:.0f}" if unit == "w/s" else "{:.3f}" if unit in ("s", "ms") else "{:.1f}"
                    cells.append(f"{fmt.format(med[s])} [{fmt.format(vals[0])}-{fmt.format(vals[-1])}] "
                                 f"{unit}")
                else:
                    cells.append("n/a")
            ratio = (f"{med['platelet'] / med['etcd']:.2f}"
                     if len(med) == 2 and med["etcd"] > 0 else "n/a")
            verdict = ""
            if len(med) == 2 and goal:
                p, e = med["platelet"], med["etcd"]
                ok = {"P < 0.6 s": p < 0.6, "P <= E": p <= e, "P >= 2E": p >= 2 * e,
                      "P <= E/5": p <= e / 5}[goal]
                verdict = "met" if ok else "MISSED"
            lines.append(f"{label:30} {cells[0]:>24} {cells[1]:>24} {ratio:>6}  {goal} {verdict}")
    failed = [r for r in results if "error" in r]
    for r in failed:
        lines.append(f"FAILED {r['system']} {r['hb_ms']}/{r['et_ms']} rep {r['rep']}: {r['error']}")
    return "\n".join(lines)


async def main_async(args):
    results = []
    started = time.monotonic()
    for hb, et in args.timings:
        for rep in range(args.reps):
            for system in ("platelet", "etcd"):
                r = await one_rep(args, system, hb, et, rep)
                results.append(r)
                brief = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                log(f"[{time.monotonic() - started:6.1f}s] {json.dumps(brief)}")
    return results


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--platelet", required=True)
    p.add_argument("--etcd", required=True)
    p.add_argument("--dir", required=True, help="work directory (data dirs, logs)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seq-writes", type=int, default=2000)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--conns", default="16,64")
    p.add_argument("--load-procs", type=int, default=2)
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument("--timings", default="100/1000,50/300")
    p.add_argument("--json", help="also write every repetition's figures here")
    args = p.parse_args()
    args.conns = [int(c) for c in args.conns.split(",") if c]
    args.timings = [tuple(int(x) for x in t.split("/")) for t in args.timings.split(",") if t]
    if not 1 <= args.reps <= 20 or not 1 <= args.seq_writes <= 100000:
        p.error("--reps must be 1..20 and --seq-writes 1..100000")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        results = asyncio.run(main_async(args))
    finally:
        kill_all()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(summarize(results, args))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
