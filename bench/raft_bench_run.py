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
import shutil
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


def spawn(argv, logfile, stdin=None, stdout=None, env=None):
    p = subprocess.Popen(argv, stdin=stdin, stdout=stdout if stdout else logfile,
                         stderr=logfile, start_new_session=True, env=env)
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


def ephemeral_low():
    """The first port of the kernel's ephemeral range (outgoing connections' local ports)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(span=1):
    """A port p with p..p+span-1 free for TCP and UDP on 127.0.0.1, not handed out before,
    below the ephemeral range when that leaves room: a port in it can become some outgoing
    connection's while a SIGKILLed node is down, and its restart then cannot listen
    (bench/raft_catchup.py's follower once exited with "Address already in use")."""
    low = ephemeral_low()
    top = low if low > 12000 else 60000
    for _ in range(2000):
        p = random.randrange(10000, top - span)
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
    auth = ()  # extra Conn arguments: Platelet's API token

    def __init__(self, binary, workdir, hb_ms, et_ms, tag):
        self.binary, self.workdir, self.hb_ms, self.et_ms, self.tag = (
            binary, workdir, hb_ms, et_ms, tag)
        self.procs = [None, None, None]
        self.logs = []
        os.makedirs(workdir, exist_ok=True)

    def api(self, i):
        return ("127.0.0.1", self.api_ports[i]) + self.auth

    def alive(self):
        return [i for i in range(3) if self.procs[i] is not None and self.procs[i].poll() is None]

    def launch(self):
        for i in range(3):
            f = open(os.path.join(self.workdir, f"node{i}.log"), "ab")
            self.logs.append(f)
            self.procs[i] = spawn(self.argv(i), f)

    def rss_mb(self, field="VmRSS"):
        """Per live node: VmRSS (all resident pages, shared library text included) or
        RssAnon (private anonymous memory: heaps, stacks, arenas)."""
        out = []
        for i in self.alive():
            with open(f"/proc/{self.procs[i].pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
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

    def drop_data(self):
        """Removes the nodes' data directories (a repetition writes hundreds of MB); the
        logs stay."""
        for i in range(3):
            shutil.rmtree(os.path.join(self.workdir, f"{self.system[0]}{i}"), ignore_errors=True)

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
        # The TCP API takes a token (api_token.h); one operate token for the three nodes.
        self.tokens = os.path.join(self.workdir, "api.tokens")
        if not os.path.exists(self.tokens):
            subprocess.run([self.binary, "token", "create", "--scope", "operate", "--tokens",
                            self.tokens], check=True, stdout=subprocess.DEVNULL)
        with open(self.tokens) as f:
            self.auth = ([ln.split()[1] for ln in f if ln.strip() and ln[0] != "#"][0],)

    def argv(self, i):
        a = [self.binary, "agent", "--config", self.config, "--name", f"p{i}",
             "--bind", f"127.0.0.1:{self.gossip_ports[i]}",
             "--data-dir", os.path.join(self.workdir, f"p{i}"),
             "--api", f"127.0.0.1:{self.api_ports[i]}", "--api-token-file", self.tokens,
             "--log-level", "info"]
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
        env = dict(os.environ, BENCH_API_TOKEN=target[2]) if len(target) > 2 else None
        ps.append(spawn(argv, None, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env))
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


def machine_busy_s():
    """CPU seconds the whole machine spent busy since boot (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def proc_write_bytes(pids):
    """Bytes the processes caused to be written to storage (/proc/PID/io write_bytes)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/io") as f:
                for line in f:
                    if line.startswith("write_bytes:"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


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
    res = {"system": system, "hb_ms": hb, "et_ms": et, "rep": rep, "loadavg": loadavg()}
    try:
        wall0 = time.time()
        t0 = time.monotonic()
        cl.launch()
        t1 = await first_write(system, [cl.api(i) for i in range(3)], 30)
        if t1 is None:
            raise RuntimeError("no write succeeded within 30 s of launch")
        res["cold_start_s"] = t1 - t0
        if system == "platelet":
            res.update(platelet_phases(cl, wall0))
        lead = await wait_leader(cl, 20)
        if lead is None:
            raise RuntimeError("no leader agreed by all three nodes within 20 s")
        await asyncio.sleep(args.settle)
        res["rss_idle_mb"] = statistics.mean(cl.rss_mb())
        res["rss_anon_idle_mb"] = statistics.mean(cl.rss_mb("RssAnon"))
        res["rss_file_idle_mb"] = statistics.mean(cl.rss_mb("RssFile"))

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
            cpu0, busy0, wb0 = proc_cpu_s(pids), machine_busy_s(), proc_write_bytes(pids)
            r = await load(system, cl.api(lead), conns, min(args.load_procs, conns),
                           duration=args.duration, tag=f"t{conns}-")
            res[f"tput_{conns}"] = r["ok"] / r["elapsed_s"]
            res[f"tput_{conns}_p99_ms"] = pct(r["lat_us"], 0.99) / 1000
            res[f"tput_{conns}_errors"] = r["errors"]
            server = (proc_cpu_s(pids) - cpu0) / r["elapsed_s"]
            busy = (machine_busy_s() - busy0) / r["elapsed_s"]
            res[f"tput_{conns}_server_cpu"] = server
            res[f"tput_{conns}_disk_kb_per_write"] = (
                (proc_write_bytes(pids) - wb0) / 1024 / max(1, r["ok"]))
            res[f"tput_{conns}_client_cpu"] = r["client_cpu_s"] / r["elapsed_s"]
            res[f"tput_{conns}_other_cpu"] = max(0.0, busy - server - r["client_cpu_s"] / r["elapsed_s"])
            if r["errors"]:
                res[f"tput_{conns}_first_error"] = r["first_error"]
        res["rss_loaded_mb"] = statistics.mean(cl.rss_mb())
        res["rss_anon_loaded_mb"] = statistics.mean(cl.rss_mb("RssAnon"))

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
        if not args.keep_data:
            cl.drop_data()
    return res


def platelet_phases(cl, wall0):
    """Splits a Platelet cold start into phases from the nodes' info logs: all three agents
    started (store opened, sockets bound), the council bootstrapped (three voters seen by
    gossip), and how many gossip join retries it took."""
    import datetime
    started, boot, rejoins = [], [], 0
    for i in range(3):
        try:
            with open(os.path.join(cl.workdir, f"node{i}.log"), errors="replace") as f:
                text = f.read().splitlines()
        except OSError:
            continue
        for line in text:
            parts = line.split(" ", 1)
            try:
                t = datetime.datetime.strptime(parts[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp() - wall0
            except ValueError:
                continue
            if "mod=agent started" in line:
                started.append(t)
            elif "mod=raft bootstrapped" in line:
                boot.append(t)
            elif "joining again" in line:
                rejoins += 1
    out = {"cold_rejoins": rejoins}
    if len(started) == 3:
        out["cold_all_started_s"] = max(started)
        out["cold_first_started_s"] = min(started)
    if boot:
        out["cold_bootstrapped_s"] = min(boot)
    return out


STRACE_CALLS = "fdatasync,fsync,sync_file_range,write,writev,pwrite64,sendmsg,sendto,read,recvmsg"


def stop_tracer(tr):
    """Ends an strace started by spawn() (SIGINT lets it write its summary) and forgets it."""
    tr.send_signal(signal.SIGINT)
    try:
        tr.wait(timeout=10)
    except subprocess.TimeoutExpired:
        tr.kill()
        tr.wait(timeout=5)
    PROCS.pop(tr.pid, None)


async def strace_rep(args, system):
    """Counts the syscalls of the leader and of one follower per acknowledged write, with
    `strace -c -w -f`, during sequential writes and during a 16-client run. strace slows the
    traced processes; the counts, not the speed, are the point."""
    hb, et = args.timings[0]
    tag = f"{system}-strace"
    binary = args.platelet if system == "platelet" else args.etcd
    cl = SYSTEMS[system](binary, os.path.join(args.dir, tag), hb, et, f"bench-{tag}")
    out = {"system": system}
    try:
        cl.launch()
        if await first_write(system, [cl.api(i) for i in range(3)], 30) is None:
            raise RuntimeError("no write within 30 s")
        lead = await wait_leader(cl, 20)
        if lead is None:
            raise RuntimeError("no leader")
        follower = (lead + 1) % 3
        await asyncio.sleep(args.settle)
        for phase, conns, kw in (("seq", 1, {"count": args.strace_writes}),
                                 ("c16", 16, {"duration": args.duration})):
            files, tracers = {}, []
            for role, i in (("leader", lead), ("follower", follower)):
                files[role] = os.path.join(cl.workdir, f"strace-{phase}-{role}.txt")
                tracers.append(spawn(["strace", "-c", "-w", "-f", "-e", f"trace={STRACE_CALLS}",
                                      "-o", files[role], "-p", str(cl.procs[i].pid)],
                                     subprocess.DEVNULL))
            await asyncio.sleep(0.5)
            r = await load(system, cl.api(lead), conns, 1, tag=f"x{phase}", **kw)
            for tr in tracers:
                stop_tracer(tr)
            ok = max(1, r["ok"])
            out[f"{phase}_writes"] = r["ok"]
            for role, path in files.items():
                calls, secs = parse_strace(path)
                out[f"{phase}_{role}"] = {k: round(v / ok, 2) for k, v in sorted(calls.items())}
                out[f"{phase}_{role}_sync_ms_per_write"] = round(
                    1000 * sum(secs.get(k, 0) for k in ("fdatasync", "fsync", "sync_file_range")) / ok, 3)
        if system == "platelet":
            # Where a sequential write's time goes on the leader: a timed trace.
            path = os.path.join(cl.workdir, "strace-timeline-leader.txt")
            tr = spawn(["strace", "-f", "-tt", "-T", "-e", "trace=fdatasync,read,write",
                        "-o", path, "-p", str(cl.procs[lead].pid)], subprocess.DEVNULL)
            await asyncio.sleep(0.5)
            await load(system, cl.api(lead), 1, 1, tag="xtl", count=args.strace_writes)
            stop_tracer(tr)
            out["seq_leader_timeline_ms"] = platelet_timeline(path)
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        cl.stop()
        if not args.keep_data:
            cl.drop_data()
    return out


def platelet_timeline(path):
    """Median and p90 (ms) of the phases of a sequential write on a Platelet leader, from
    `strace -tt -T`: request read -> first fdatasync -> the fdatasyncs themselves -> the
    time between two of them (when there are two: the replication round trip) -> last
    fdatasync done to response written (waiting for a follower's ack, applying) -> next
    request read (the client's turn)."""
    def ts(line):
        h, m, sec = line.split()[1].split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)

    def dur(line):
        return float(line.rsplit("<", 1)[1].rstrip(">\n"))

    ev = []
    with open(path, errors="replace") as f:
        for line in f:
            if "unfinished" in line or "resumed" in line:
                continue
            try:
                if "POST /v1/propose" in line:
                    ev.append(("req", ts(line), 0.0))
                elif "fdatasync(" in line:
                    ev.append(("sync", ts(line), dur(line)))
                elif 'write(' in line and '"HTTP/1.1 200' in line:
                    ev.append(("resp", ts(line), 0.0))
            except (ValueError, IndexError):
                continue
    keys = ("to_first_sync", "syncs", "between_syncs", "last_sync_to_response", "client_turn",
            "total")
    phases = {k: [] for k in keys}
    n_syncs = []
    i, last_resp = 0, None
    while i < len(ev):
        if ev[i][0] != "req":
            i += 1
            continue
        j = i + 1
        syncs = []
        while j < len(ev) and ev[j][0] == "sync":
            syncs.append(ev[j])
            j += 1
        if j < len(ev) and ev[j][0] == "resp" and syncs:
            t_req, t_resp = ev[i][1], ev[j][1]
            n_syncs.append(len(syncs))
            phases["to_first_sync"].append(syncs[0][1] - t_req)
            phases["syncs"].append(sum(d for _, _, d in syncs))
            if len(syncs) == 2:
                phases["between_syncs"].append(syncs[1][1] - (syncs[0][1] + syncs[0][2]))
            phases["last_sync_to_response"].append(t_resp - (syncs[-1][1] + syncs[-1][2]))
            phases["total"].append(t_resp - t_req)
            if last_resp is not None:
                phases["client_turn"].append(t_req - last_resp)
            last_resp = t_resp
        i = j if j > i else i + 1
    out = {"writes": len(phases["total"]),
           "fdatasyncs_per_write": round(sum(n_syncs) / max(1, len(n_syncs)), 2)}
    for k, v in phases.items():
        if v:
            v.sort()
            out[k] = [round(1000 * v[len(v) // 2], 3), round(1000 * v[int(len(v) * 0.9)], 3)]
    return out


def parse_strace(path):
    calls, secs = {}, {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                    calls[parts[-1]] = int(parts[3])
                    secs[parts[-1]] = float(parts[1])
    except (OSError, ValueError, IndexError):
        pass
    return calls, secs


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
                ("rss_anon_idle_mb", "  of which private (RssAnon)", "MB", ""),
                ("rss_loaded_mb", "RSS per node after load", "MB", ""),
                ("rss_anon_loaded_mb", "  of which private (RssAnon)", "MB", "")]
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
        extra = []
        for s in ("platelet", "etcd"):
            rs = [r for r in results if r["system"] == s and (r["hb_ms"], r["et_ms"]) == (hb, et)]
            for c in args.conns:
                v = sorted(r[f"tput_{c}_server_cpu"] for r in rs if f"tput_{c}_server_cpu" in r)
                o = sorted(r[f"tput_{c}_other_cpu"] for r in rs if f"tput_{c}_other_cpu" in r)
                k = sorted(r[f"tput_{c}_client_cpu"] for r in rs if f"tput_{c}_client_cpu" in r)
                w = sorted(r[f"tput_{c}_disk_kb_per_write"] for r in rs
                           if f"tput_{c}_disk_kb_per_write" in r)
                if v:
                    extra.append(f"  {s} {c} clients: servers used {statistics.median(v):.2f} cores, "
                                 f"load generator {statistics.median(k):.2f}, other processes "
                                 f"on the machine {statistics.median(o):.2f}; the 3 nodes wrote "
                                 f"{statistics.median(w):.1f} KiB to disk per write (medians)")
        cold = [r for r in results if r["system"] == "platelet" and (r["hb_ms"], r["et_ms"]) == (hb, et)
                and "cold_bootstrapped_s" in r and "cold_all_started_s" in r]
        if cold:
            extra.append("  Platelet cold start phases (median): last agent started "
                         f"{statistics.median(r['cold_all_started_s'] for r in cold):.3f} s, "
                         f"council bootstrapped {statistics.median(r['cold_bootstrapped_s'] for r in cold):.3f} s, "
                         f"first write {statistics.median(r['cold_start_s'] for r in cold):.3f} s; "
                         f"gossip join retries {sum(r['cold_rejoins'] for r in cold)} in {len(cold)} runs")
        lines += extra
    loads = [r["loadavg"] for r in results if "loadavg" in r]
    if loads:
        lines.append(f"\nmachine load average (1 min) at the start of each run: median "
                     f"{statistics.median(loads):.1f}, range {min(loads):.1f}-{max(loads):.1f} "
                     f"on {os.cpu_count()} cores; benchmark processes at nice {args.nice}")
    failed = [r for r in results if "error" in r]
    for r in failed:
        lines.append(f"FAILED {r['system']} {r['hb_ms']}/{r['et_ms']} rep {r['rep']}: {r['error']}")
    return "\n".join(lines)


async def main_async(args):
    results = []
    started = time.monotonic()
    if args.strace:
        for system in ("platelet", "etcd"):
            d = await strace_rep(args, system)
            log(f"[{time.monotonic() - started:6.1f}s] strace {json.dumps(d)}")
            args.strace_results.append(d)
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
    p.add_argument("--keep-data", action="store_true",
                   help="keep every repetition's data directories (otherwise removed after it)")
    p.add_argument("--strace", action="store_true",
                   help="first count syscalls per write (strace -c) on a leader and a follower")
    p.add_argument("--strace-writes", type=int, default=500)
    p.add_argument("--nice", type=int, default=0,
                   help="run everything (both systems, load generator) at this nice value; "
                        "a negative one (root) shields the figures from other work on the machine")
    args = p.parse_args()
    args.conns = [int(c) for c in args.conns.split(",") if c]
    args.timings = [tuple(int(x) for x in t.split("/")) for t in args.timings.split(",") if t]
    args.strace_results = []
    if not 1 <= args.reps <= 20 or not 1 <= args.seq_writes <= 100000:
        p.error("--reps must be 1..20 and --seq-writes 1..100000")
    if args.nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by every process we start
        except PermissionError:
            log(f"raft_vs_etcd: cannot set nice {args.nice} (not root); running at the default")
            args.nice = 0
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        results = asyncio.run(main_async(args))
    finally:
        kill_all()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": results, "strace": args.strace_results}, f, indent=1)
    print(summarize(results, args))
    for d in args.strace_results:
        print(f"\nsyscalls per acknowledged write, {d['system']} (strace -c -w -f): "
              + json.dumps({k: v for k, v in d.items() if k != "system"}))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
