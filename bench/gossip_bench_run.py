"""Side-by-side benchmark of Platelet's gossip against HashiCorp Serf (issue 3).

bench/gossip_vs_serf.sh prepares the binaries and calls this. For each cluster size N and
repetition it starts N Serf agents, then N Platelet agents (the order alternates between
repetitions), all on 127.0.0.1 with memberlist's timing profile (LAN by default, Local with
--profile local): Serf through `-profile`, Platelet through `--profile` and a config file
that spells every timing setting out with the same values. On each cluster, in this order:

  join       the seed agent is started and answers its API; then the other N-1 are spawned
             back to back; time from that spawn until every agent lists N members alive.
  idle       after `--settle-s`, RSS (VmRSS) and CPU (utime+stime) of every agent over a
             quiet window of `--idle-s` seconds in which the harness sends nothing.
  event      the seed sends one user event; time until every agent has delivered it.
             Serf: the agent's RPC `stream` of user events (the feed event handlers get),
             sent with Coalesce=false so the agent does not hold it back. Platelet: the
             millisecond wall-clock stamp of the agent's own "event name=..." log line.
  failure    SIGKILL of the last agent; time until every survivor's member list shows it
             failed (Serf "failed", Platelet "dead").
  leave      the second-to-last agent is told to leave (Serf RPC `leave`, Platelet POST
             /v1/leave); time until every other survivor lists it "left".

Member lists are polled on every agent in parallel (one thread and one kept-open connection
per agent, every `--poll-ms`), through Serf's msgpack RPC and Platelet's HTTP API, so both
systems are observed the same way; a poll reports the time its answer arrived, so the
figures are late by at most one poll interval. False positives: any live agent that any
agent declared failed/dead during the run (counted from the agents' logs, which see every
declaration, and from the polls); a leaving agent seen as failed is counted apart.

All processes are ours: their PIDs go to RUN/pids (the shell's trap reads it), and each one
is killed by PID when its cluster is torn down. Only 127.0.0.1 is used; ports are chosen
free by binding port 0. Every wait has a deadline.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gossip_bench_msgpack as mp  # noqa: E402

HOST = "127.0.0.1"

# memberlist's profiles (facts/gossip.md section 1), as Platelet's config names them.
PROFILES = {
    "lan": dict(probe_interval_ms=1000, probe_timeout_ms=500, indirect_checks=3,
                suspicion_mult=4, suspicion_max_timeout_mult=6, gossip_interval_ms=200,
                gossip_nodes=3, retransmit_mult=4, pushpull_interval_ms=30000,
                awareness_max_multiplier=8, gossip_to_the_dead_ms=30000,
                tcp_timeout_ms=10000),
    "local": dict(probe_interval_ms=1000, probe_timeout_ms=200, indirect_checks=1,
                  suspicion_mult=3, suspicion_max_timeout_mult=6, gossip_interval_ms=100,
                  gossip_nodes=3, retransmit_mult=2, pushpull_interval_ms=15000,
                  awareness_max_multiplier=8, gossip_to_the_dead_ms=15000,
                  tcp_timeout_ms=1000),
}

METRICS = [  # key, label, unit
    ("join_s", "join convergence", "s"),
    ("join_up_s", "  of which after the last agent answered", "s"),
    ("event_s", "event propagation", "s"),
    ("detect_s", "failure detection", "s"),
    ("suspect_s", "  of which until the first suspicion", "s"),
    ("leave_s", "graceful leave", "s"),
    ("rss_mib", "idle RSS per agent", "MiB"),
    ("rss_anon_mib", "  of which anonymous (heap, stacks)", "MiB"),
    ("uss_mib", "  of which private to the agent (USS)", "MiB"),
    ("cpu_pct", "idle CPU per agent", "%"),
    ("false_failed", "false positives (live marked failed)", "count"),
]


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# ---------------------------------------------------------------------------------------
# Ports and processes


class Ports:
    """Hands out loopback ports free for both TCP and UDP, never the same one twice."""

    def __init__(self):
        self.used = set()

    def take(self):
        for _ in range(200):
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                t.bind((HOST, 0))
                port = t.getsockname()[1]
                u.bind((HOST, port))
            except OSError:
                continue
            finally:
                t.close()
                u.close()
            if port not in self.used:
                self.used.add(port)
                return port
        raise RuntimeError("no free port pair found")


class Procs:
    """Every process the benchmark starts; killed by PID, recorded in RUN/pids."""

    def __init__(self, pidfile):
        self.pidfile = pidfile
        self.live = {}

    def spawn(self, argv, logpath):
        f = open(logpath, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        f.close()
        self.live[p.pid] = p
        with open(self.pidfile, "a") as pf:
            pf.write("%d\n" % p.pid)
        return p

    def kill(self, p):
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.live.pop(p.pid, None)

    def kill_all(self):
        for p in list(self.live.values()):
            self.kill(p)


def proc_sample(pid):
    """(utime+stime in seconds, VmRSS KiB, RssAnon KiB, USS KiB) of a live process, or
    None. USS (unique set size) is Private_Clean + Private_Dirty from smaps_rollup: the
    pages no other process shares, so shared library text counts once per machine."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except OSError:
        return None
    uss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for m in re.finditer(r"^Private_(?:Clean|Dirty):\s+(\d+) kB", f.read(), re.M):
                uss += int(m.group(1))
    except OSError:
        pass
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    anon = re.search(r"^RssAnon:\s+(\d+) kB", status, re.M)
    return (ticks / os.sysconf("SC_CLK_TCK"), int(rss.group(1)) if rss else 0,
            int(anon.group(1)) if anon else 0, uss)


# ---------------------------------------------------------------------------------------
# Clients


class SerfRPC:
    """One connection to a Serf agent's msgpack RPC (handshake done)."""

    def __init__(self, port, timeout_s=2.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout_s)
        self.buf = bytearray()
        self.seq = 0
        self.call("handshake", {"Version": 1})

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("serf rpc closed")
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def send(self, command, body=None):
        seq = self.seq
        self.seq += 1
        data = mp.encode({"Command": command, "Seq": seq})
        if body is not None:
            data += mp.encode(body)
        self.sock.sendall(data)
        return seq

    def header(self):
        h = mp.decode_from(self.read)
        if not isinstance(h, dict):
            raise ValueError("serf rpc: bad header")
        if h.get("Error"):
            raise RuntimeError("serf rpc: %s" % h["Error"])
        return h

    def call(self, command, body=None, reply_body=False):
        seq = self.send(command, body)
        h = self.header()
        if h.get("Seq") != seq:
            raise ValueError("serf rpc: seq %r, expected %d" % (h.get("Seq"), seq))
        return mp.decode_from(self.read) if reply_body else None


def serf_subscribe(agent, command, args, timeout_s, ready, conns, ctx):
    """Opens an RPC connection to a Serf agent, starts a streaming `command` (stream,
    monitor) and waits at the `ready` barrier with the other agents' threads. Returns the
    connection, or None after noting why (and breaking the barrier for the others)."""
    try:
        c = SerfRPC(agent.api_port, timeout_s=timeout_s)
        conns.append(c)
        seq = c.send(command, args)
        if c.header().get("Seq") != seq:
            raise ValueError("%s: unexpected seq" % command)
    except (OSError, EOFError, ValueError, RuntimeError) as e:
        ctx.note("serf %s %s: %s" % (command, agent.name, e))
        ready.abort()
        return None
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        return None
    return c


class SerfSystem:
    name = "serf"
    failed_word = "failed"

    def __init__(self, binary, profile):
        self.binary = binary
        self.profile = profile

    def argv(self, agent, seed):
        a = [self.binary, "agent", "-node", agent.name, "-bind", "%s:%d" % (HOST, agent.port),
             "-rpc-addr", "%s:%d" % (HOST, agent.api_port), "-profile", self.profile,
             "-log-level", "info"]
        if seed is not None:
            a += ["-join", "%s:%d" % (HOST, seed.port)]
        return a

    def connect(self, agent):
        return SerfRPC(agent.api_port)

    def members(self, client):
        body = client.call("members", reply_body=True)
        view = {}
        for m in body.get("Members") or []:
            st = m.get("Status")
            view[m.get("Name")] = "failed" if st == "failed" else st
        return view

    def event_send(self, client, name, payload):
        client.call("event", {"Name": name, "Payload": payload.encode(), "Coalesce": False})

    def leave(self, agent):
        # The agent answers only after its leave completes; send and do not wait.
        c = SerfRPC(agent.api_port)
        c.send("leave")
        return c

    def event_watch(self, agents, evname, deadline, ctx):
        """Starts one RPC stream per agent; returns (start(), wait() -> {agent: t})."""
        arrivals = {}
        ready = threading.Barrier(len(agents) + 1, timeout=10)
        conns = []

        def run(agent):
            c = serf_subscribe(agent, "stream", {"Type": "user"},
                               max(1.0, deadline - time.time()), ready, conns, ctx)
            if c is None:
                return
            try:
                while time.time() < deadline:
                    c.header()
                    ev = mp.decode_from(c.read)
                    if isinstance(ev, dict) and ev.get("Name") == evname:
                        arrivals[agent.name] = time.time()
                        return
            except (OSError, EOFError, ValueError, RuntimeError):
                return

        threads = [threading.Thread(target=run, args=(a,), daemon=True) for a in agents]
        for t in threads:
            t.start()

        def start():
            try:
                ready.wait()
            except threading.BrokenBarrierError:
                ctx.note("serf event streams not all ready; measuring anyway")

        def wait():
            for t in threads:
                t.join(max(0.0, deadline - time.time()) + 1.0)
            for c in conns:
                c.close()
            return dict(arrivals)

        return start, wait

    def suspect_watch(self, agents, victim, ready_deadline, ctx):
        """Follows each agent's log through RPC `monitor` and notes when the first line
        saying a probe of victim failed (memberlist "Suspect X has failed") arrives. The
        agent's log stamps have whole seconds; the arrival time has microseconds."""
        times = []
        conns = []
        ready = threading.Barrier(len(agents) + 1, timeout=10)
        pat = "memberlist: Suspect %s has failed" % victim

        def run(agent):
            c = serf_subscribe(agent, "monitor", {"LogLevel": "INFO"}, 120, ready, conns, ctx)
            if c is None:
                return
            try:
                while True:
                    c.header()
                    body = mp.decode_from(c.read)
                    line = body.get("Log", "") if isinstance(body, dict) else ""
                    if pat in line:
                        times.append(time.time())
            except (OSError, EOFError, ValueError, RuntimeError):
                return

        threads = [threading.Thread(target=run, args=(a,), daemon=True) for a in agents]
        for t in threads:
            t.start()

        def start():
            try:
                ready.wait()
            except threading.BrokenBarrierError:
                ctx.note("serf monitor streams not all ready")

        def wait(t0):
            for c in conns:
                c.close()
            for t in threads:
                t.join(2.0)
            later = [t for t in times if t >= t0]
            return min(later) if later else None

        return start, wait

    def log_declarations(self, text):
        """[(kind, subject)] of failure/suspicion declarations in one agent's log."""
        out = [("failed", m) for m in re.findall(r"serf: EventMemberFailed: (\S+)", text)]
        out += [("suspect", m) for m in
                re.findall(r"memberlist: Suspect (\S+) has failed", text)]
        return out


class PlateletHTTP:
    def __init__(self, port, token, timeout_s=2.0):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
        self.token = token

    def close(self):
        self.conn.close()

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        headers["Authorization"] = "Bearer " + self.token
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status != 200:
            raise RuntimeError("platelet %s %s: HTTP %d %s" % (method, path, r.status, raw[:200]))
        return json.loads(raw) if raw else None


LOG_EVENT_RE = re.compile(r"^(\S+)Z INFO .*mod=gossip event name=(\S+) ")


class PlateletSystem:
    failed_word = "dead"

    def __init__(self, binary, profile, fast_suspicion, rundir):
        self.binary = binary
        self.profile = profile
        self.fast = fast_suspicion
        self.name = "platelet" if fast_suspicion else "platelet-nofs"
        settings = dict(PROFILES[profile])
        settings["fast_suspicion"] = fast_suspicion
        self.config = os.path.join(rundir, "%s.json" % self.name)
        with open(self.config, "w") as f:
            json.dump({"gossip": settings}, f, indent=2)
        # The TCP API takes a token (api_token.h); one operate token for every agent.
        self.tokens = os.path.join(rundir, "%s.tokens" % self.name)
        if not os.path.exists(self.tokens):
            subprocess.run([binary, "token", "create", "--scope", "operate", "--tokens",
                            self.tokens], check=True, stdout=subprocess.DEVNULL)
        with open(self.tokens) as f:
            self.token = [ln.split()[1] for ln in f if ln.strip() and ln[0] != "#"][0]

    def argv(self, agent, seed):
        a = [self.binary, "agent", "--name", agent.name, "--bind", "%s:%d" % (HOST, agent.port),
             "--api", "%s:%d" % (HOST, agent.api_port), "--api-token-file", self.tokens,
             "--data-dir", agent.data_dir,
             "--profile", self.profile, "--config", self.config]
        if seed is not None:
            a += ["--join", "%s:%d" % (HOST, seed.port)]
        return a

    def connect(self, agent):
        c = PlateletHTTP(agent.api_port, self.token)
        c.request("GET", "/v1/members")
        return c

    def members(self, client):
        view = {}
        for m in client.request("GET", "/v1/members"):
            st = m.get("status")
            view[m.get("name")] = "failed" if st == "dead" else st
        return view

    def event_send(self, client, name, payload):
        client.request("POST", "/v1/event", {"name": name, "payload": payload})

    def leave(self, agent):
        c = PlateletHTTP(agent.api_port, self.token)
        c.request("POST", "/v1/leave", {})
        return c

    def event_watch(self, agents, evname, deadline, ctx):
        """Reads the agents' logs for the event's delivery line (millisecond stamps)."""

        def start():
            pass

        def wait():
            arrivals = {}
            while time.time() < deadline and len(arrivals) < len(agents):
                for a in agents:
                    if a.name in arrivals:
                        continue
                    with open(a.log, errors="replace") as f:
                        for line in f:
                            m = LOG_EVENT_RE.match(line)
                            if m and m.group(2) == evname:
                                arrivals[a.name] = log_stamp(m.group(1))
                                break
                time.sleep(0.05)
            return arrivals

        return start, wait

    def suspect_watch(self, agents, victim, ready_deadline, ctx):
        """The first "member suspect name=victim" line in the agents' logs (ms stamps)."""

        def start():
            pass

        def wait(t0):
            first = None
            pat = re.compile(r"^(\S+)Z WARN .*member suspect name=%s " % re.escape(victim))
            for a in agents:
                with open(a.log, errors="replace") as f:
                    for line in f:
                        m = pat.match(line)
                        if m:
                            t = log_stamp(m.group(1))
                            # The stamp is truncated to the millisecond.
                            if t >= t0 - 0.001 and (first is None or t < first):
                                first = t
            return max(first, t0) if first is not None else None

        return start, wait

    def log_declarations(self, text):
        out = [("failed", m) for m in re.findall(r"member dead name=(\S+)", text)]
        out += [("suspect", m) for m in re.findall(r"member suspect name=(\S+)", text)]
        return out


def log_stamp(text):
    dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


# ---------------------------------------------------------------------------------------
# One cluster


class Agent:
    def __init__(self, name, port, api_port, data_dir, log):
        self.name = name
        self.port = port
        self.api_port = api_port
        self.data_dir = data_dir
        self.log = log
        self.proc = None


class Ctx:
    def __init__(self, args, procs, ports):
        self.args = args
        self.procs = procs
        self.ports = ports
        self.notes = []

    def note(self, msg):
        self.notes.append(msg)
        log("note: " + msg)


def poll_until(system, agents, clients, cond, deadline, poll_s, must_live, seen_false,
               first_answer=None):
    """Polls every agent's member list in parallel until cond(view) holds on each.

    Returns {agent name: time the first satisfying answer arrived}. clients is a dict of
    kept-open connections per agent (filled in lazily). Any member in must_live seen as
    failed is added to seen_false as (observer, subject). first_answer, when given, gets the
    time of each agent's first answer."""
    done = {}
    lock = threading.Lock()

    def run(agent):
        while time.time() < deadline:
            t_next = time.time() + poll_s
            try:
                c = clients.get(agent.name)
                if c is None:
                    c = system.connect(agent)
                    clients[agent.name] = c
                view = system.members(c)
                now = time.time()
                if first_answer is not None and agent.name not in first_answer:
                    first_answer[agent.name] = now
                for subj in must_live:
                    if view.get(subj) == "failed":
                        with lock:
                            seen_false.add((agent.name, subj))
                if cond(view):
                    done[agent.name] = now
                    return
            except (OSError, EOFError, ValueError, RuntimeError, http.client.HTTPException):
                c = clients.pop(agent.name, None)
                if c is not None:
                    c.close()
            time.sleep(max(0.0, t_next - time.time()))

    threads = [threading.Thread(target=run, args=(a,), daemon=True) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.time()) + poll_s + 5.0)
    return done


def run_cluster(ctx, system, n, rep):
    args = ctx.args
    tag = "%s-n%d-r%d" % (system.name, n, rep)
    base = os.path.join(args.rundir, tag)
    os.makedirs(base, exist_ok=True)
    agents = []
    for i in range(n):
        name = "%s%02d" % ("s" if system.name == "serf" else "p", i)
        d = os.path.join(base, name)
        os.makedirs(d, exist_ok=True)
        agents.append(Agent(name, ctx.ports.take(), ctx.ports.take(), d,
                            os.path.join(base, name + ".log")))
    res = {"n": n, "rep": rep, "system": system.name}
    clients = {}
    seen_false = set()
    names = [a.name for a in agents]
    poll_s = args.poll_ms / 1000.0
    try:
        # Join: seed first, then the rest back to back.
        seed = agents[0]
        seed.proc = ctx.procs.spawn(system.argv(seed, None), seed.log)
        ready = poll_until(system, [seed], clients, lambda v: seed.name in v,
                           time.time() + 20, 0.02, [], seen_false)
        if seed.name not in ready:
            raise RuntimeError("%s: seed agent did not answer within 20 s" % tag)
        t0 = time.time()
        for a in agents[1:]:
            a.proc = ctx.procs.spawn(system.argv(a, seed), a.log)
        full = lambda v: sum(1 for x in names if v.get(x) == "alive") == n  # noqa: E731
        up = {}
        done = poll_until(system, agents, clients, full, t0 + args.timeout_s, poll_s,
                          names, seen_false, up)
        res["join_s"] = max(done.values()) - t0 if len(done) == n else None
        # The same, counted from the moment the last agent first answered its API: the
        # protocol's share without process start-up.
        up_last = max(t for name, t in up.items() if name != seed.name) if n > 1 else t0
        res["join_up_s"] = max(0.0, max(done.values()) - up_last) if len(done) == n else None
        if res["join_s"] is None:
            ctx.note("%s: join did not converge in %d s (%d/%d agents saw all)"
                     % (tag, args.timeout_s, len(done), n))
            return res

        # Idle footprint.
        time.sleep(args.settle_s)
        before = {a.name: proc_sample(a.proc.pid) for a in agents}
        time.sleep(args.idle_s)
        after = {a.name: proc_sample(a.proc.pid) for a in agents}
        cpu, rss, anon, uss = [], [], [], []
        for a in agents:
            if before[a.name] and after[a.name]:
                cpu.append((after[a.name][0] - before[a.name][0]) / args.idle_s * 100.0)
                rss.append(after[a.name][1] / 1024.0)
                anon.append(after[a.name][2] / 1024.0)
                uss.append(after[a.name][3] / 1024.0)
        res["cpu_pct"] = statistics.mean(cpu) if cpu else None
        res["rss_mib"] = statistics.mean(rss) if rss else None
        res["rss_mib_max"] = max(rss) if rss else None
        res["rss_anon_mib"] = statistics.mean(anon) if anon else None
        res["uss_mib"] = statistics.mean(uss) if uss else None

        # Event from the seed to everyone.
        evname = "bench%d" % rep
        deadline = time.time() + args.timeout_s
        start, wait = system.event_watch(agents, evname, deadline, ctx)
        start()
        t0 = time.time()
        system.event_send(clients[seed.name], evname, "payload-%s" % tag)
        arr = wait()
        res["event_s"] = max(0.0, max(arr.values()) - t0) if len(arr) == n else None
        if res["event_s"] is None:
            ctx.note("%s: event reached %d/%d agents in %d s" % (tag, len(arr), n,
                                                                  args.timeout_s))

        # Failure detection: SIGKILL the last agent.
        victim = agents[-1]
        survivors = agents[:-1]
        live_names = [a.name for a in survivors]
        c = clients.pop(victim.name, None)
        if c is not None:
            c.close()
        start, wait = system.suspect_watch(survivors, victim.name, time.time() + 10, ctx)
        start()
        t0 = time.time()
        os.kill(victim.proc.pid, signal.SIGKILL)
        done = poll_until(system, survivors, clients, lambda v: v.get(victim.name) == "failed",
                          t0 + args.timeout_s, poll_s, live_names, seen_false)
        ctx.procs.kill(victim.proc)
        first = wait(t0)
        res["suspect_s"] = first - t0 if first is not None else None
        res["detect_s"] = max(done.values()) - t0 if len(done) == len(survivors) else None
        if res["detect_s"] is None:
            ctx.note("%s: failure seen by %d/%d survivors in %d s"
                     % (tag, len(done), len(survivors), args.timeout_s))

        # Graceful leave of the second-to-last agent.
        leaver = agents[-2]
        others = agents[:-2]
        other_names = [a.name for a in others]
        c = clients.pop(leaver.name, None)
        if c is not None:
            c.close()
        t0 = time.time()
        lc = system.leave(leaver)
        left_as_failed = set()
        done = poll_until(system, others, clients, lambda v: v.get(leaver.name) == "left",
                          t0 + args.timeout_s, poll_s, other_names + [leaver.name],
                          left_as_failed)
        lc.close()
        seen_false |= {x for x in left_as_failed if x[1] != leaver.name}
        res["leave_seen_failed_polls"] = len([x for x in left_as_failed
                                              if x[1] == leaver.name])
        res["leave_s"] = max(done.values()) - t0 if len(done) == len(others) else None
        if res["leave_s"] is None:
            ctx.note("%s: leave seen by %d/%d in %d s" % (tag, len(done), len(others),
                                                          args.timeout_s))
        return res
    finally:
        for c in clients.values():
            c.close()
        # Declarations in the logs up to now (teardown kills everyone; not counted).
        false_failed, false_suspect, leave_failed, victim_seen = 0, 0, 0, 0
        victim_name = agents[-1].name
        leaver_name = agents[-2].name if n >= 3 else None
        for a in agents:
            try:
                with open(a.log, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            for kind, subj in system.log_declarations(text):
                if subj == victim_name and kind == "failed":
                    victim_seen += 1
                if subj == victim_name or subj == a.name:
                    continue
                if subj == leaver_name and "leave_s" in res:
                    if kind == "failed":
                        leave_failed += 1
                    continue
                if kind == "failed":
                    false_failed += 1
                else:
                    false_suspect += 1
        for a in agents:
            if a.proc is not None:
                ctx.procs.kill(a.proc)
        # The log count is only trusted if the same patterns found the victim's death: a
        # changed log format must not read as "no false positives".
        if res.get("detect_s") is not None and victim_seen == 0:
            ctx.note("%s: no agent's log declared the killed agent failed: the log patterns "
                     "no longer match, so the false-positive count is from polls only" % tag)
            res["fp_logs_unreliable"] = True
        res["false_failed"] = max(false_failed, len(seen_false))
        res["false_suspect"] = false_suspect
        res["leave_seen_failed"] = leave_failed
        if res["false_failed"] or leave_failed:
            ctx.note("%s: false failed=%d (polls saw %s), leaver seen failed=%d"
                     % (tag, false_failed, sorted(seen_false), leave_failed))
        anomaly = (res["false_failed"] or leave_failed or (res.get("join_up_s") or 0) > 5.0
                   or any(res.get(k, 0) is None for k, _, _ in METRICS))
        if anomaly and args.anomaly_dir and not args.keep:
            os.makedirs(args.anomaly_dir, exist_ok=True)
            dest = os.path.join(args.anomaly_dir, "%s-%d" % (tag, int(time.time())))
            subprocess.run(["mv", base, dest], check=False)
            ctx.note("%s: an anomaly; its logs are kept in %s" % (tag, dest))
        elif not args.keep:
            subprocess.run(["rm", "-rf", base], check=False)


# ---------------------------------------------------------------------------------------
# Report


def summarize(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals), len(values) - len(vals)


def fmt_cell(s, unit):
    if s is None:
        return "timeout"
    med, lo, hi, missing = s
    digits = 0 if unit == "count" else (1 if unit in ("MiB", "%") else 2)
    if unit == "%":
        digits = 2
    f = "%%.%df" % digits
    if lo == hi:
        text = f % med
    else:
        text = (f + " [" + f + "-" + f + "]") % (med, lo, hi)
    if missing:
        text += " (%d timed out)" % missing
    return text


def report(results, systems, sizes, args):
    lines = []
    names = [s.name for s in systems]
    plats = [x for x in names if x != "serf"]
    ratios = plats if "serf" in names else []
    head = ["N", "metric"] + (["serf"] if "serf" in names else []) + plats
    head += ["%s/serf" % p for p in ratios]
    rows = []
    for n in sizes:
        for key, label, unit in METRICS:
            cells = {}
            for s in names:
                vals = [r.get(key) for r in results if r["system"] == s and r["n"] == n]
                if not vals:
                    cells[s] = ("no run", None)
                elif key == "false_failed":
                    tot = sum(v for v in vals if v is not None)
                    cells[s] = ("%d in %d runs" % (tot, len(vals)), tot)
                else:
                    sm = summarize(vals) if vals else None
                    cells[s] = (fmt_cell(sm, unit), sm[0] if sm else None)
            row = [str(n), "%s (%s)" % (label, unit)]
            row += [cells[s][0] for s in names]
            for p in ratios:
                a, b = cells[p][1], cells["serf"][1]
                if key == "false_failed":
                    row.append("-")
                elif a is None or b is None or b == 0:
                    row.append("n/a")
                else:
                    row.append("%.2fx" % (a / b))
            rows.append(row)
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    lines.append(sep)
    for r in rows:
        lines.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platelet", required=True)
    ap.add_argument("--serf", required=True)
    ap.add_argument("--rundir", required=True)
    ap.add_argument("--sizes", default="5,10,20")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="lan")
    ap.add_argument("--fast-suspicion", choices=["on", "off", "both"], default="on")
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--settle-s", type=float, default=2.0)
    ap.add_argument("--poll-ms", type=float, default=50.0)
    ap.add_argument("--timeout-s", type=int, default=60)
    ap.add_argument("--json-out")
    ap.add_argument("--keep", action="store_true", help="keep agent logs and data dirs")
    ap.add_argument("--anomaly-dir", help="where to keep the logs of clusters with a "
                    "timeout, a false positive or a join slower than 5 s once all answer")
    ap.add_argument("--platelet-only", action="store_true", help="skip Serf (debugging)")
    args = ap.parse_args()

    sizes = [int(x) for x in args.sizes.split(",") if x]
    if any(n < 3 for n in sizes):
        ap.error("every size must be at least 3 (one is killed, one leaves)")
    if args.reps < 1:
        ap.error("--reps must be at least 1")

    def on_signal(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    procs = Procs(os.path.join(args.rundir, "pids"))
    ctx = Ctx(args, procs, Ports())
    systems = [] if args.platelet_only else [SerfSystem(args.serf, args.profile)]
    if args.fast_suspicion in ("on", "both"):
        systems.append(PlateletSystem(args.platelet, args.profile, True, args.rundir))
    if args.fast_suspicion in ("off", "both"):
        systems.append(PlateletSystem(args.platelet, args.profile, False, args.rundir))

    results = []
    started = time.time()
    load_start = os.getloadavg()
    try:
        for n in sizes:
            for rep in range(args.reps):
                order = systems if rep % 2 == 0 else list(reversed(systems))
                for s in order:
                    log("N=%d rep %d/%d: %s" % (n, rep + 1, args.reps, s.name))
                    try:
                        r = run_cluster(ctx, s, n, rep)
                    except RuntimeError as e:
                        ctx.note(str(e))
                        r = {"n": n, "rep": rep, "system": s.name, "error": str(e)}
                    results.append(r)
                    log("  " + ", ".join("%s=%s" % (k, ("%.3f" % v) if isinstance(v, float)
                                                     else v)
                                          for k, v in r.items()
                                          if k not in ("n", "rep", "system")))
                    time.sleep(0.5)
    except KeyboardInterrupt:
        log("interrupted; killing our agents")
    finally:
        procs.kill_all()

    elapsed = time.time() - started
    load_end = os.getloadavg()
    table = report(results, systems, sizes, args)
    print()
    print("Gossip vs Serf: profile %s, %d repetition(s), median [min-max]; poll %g ms; "
          "idle window %g s; %.0f s in all" % (args.profile, args.reps, args.poll_ms,
                                               args.idle_s, elapsed))
    print("Load average (1/5/15 min) at the start %.1f/%.1f/%.1f, at the end %.1f/%.1f/%.1f "
          "on %d cores" % (load_start + load_end + (os.cpu_count(),)))
    print(table)
    if ctx.notes:
        print("\nNotes:")
        for x in ctx.notes:
            print("  - " + x)
    out = {"args": vars(args), "results": results, "notes": ctx.notes, "table": table,
           "elapsed_s": elapsed, "loadavg_start": load_start, "loadavg_end": load_end}
    with open(os.path.join(args.rundir, "results.json"), "w") as f:
        json.dump(out, f, indent=1)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
