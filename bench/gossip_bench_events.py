"""Event delivery completeness, Platelet beside Serf (bench/gossip_vs_serf.sh --event-loss).

User events spread by gossip alone: each node passes an event on a bounded number of times
(retransmit_mult * ceil(log10(n+1)) packets), so now and then a member is missed by all of
them. The question is what repairs that. This starts N agents of each system on 127.0.0.1
(same profile as the main benchmark), has the seed send `--events` user events `--gap-s`
apart, and counts, per agent, the events that arrived within `--quick-s` of being sent and
those that arrived at all before `--repair-s` after the last one (Serf's push-pull, every
30 s under LAN, also carries its recent events; a system without such a repair keeps a
missed event missed).

Arrival is observed as in gossip_bench_run.py: Serf through each agent's RPC `stream` of
user events (sent with Coalesce=false), Platelet through the millisecond stamps of each
agent's "event name=..." log lines.
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gossip_bench_msgpack as mp  # noqa: E402
import gossip_bench_run as gb  # noqa: E402


def serf_collect(agents, stop, ctx):
    """Streams user events from every agent; returns ({agent: {name: t}}, threads, conns)."""
    seen = {a.name: {} for a in agents}
    conns = []
    ready = threading.Barrier(len(agents) + 1, timeout=10)

    def run(agent):
        c = gb.serf_subscribe(agent, "stream", {"Type": "user"}, 600, ready, conns, ctx)
        if c is None:
            return
        try:
            while not stop.is_set():
                c.header()
                ev = mp.decode_from(c.read)
                if isinstance(ev, dict) and isinstance(ev.get("Name"), str):
                    seen[agent.name].setdefault(ev["Name"], time.time())
        except (OSError, EOFError, ValueError, RuntimeError):
            return

    threads = [threading.Thread(target=run, args=(a,), daemon=True) for a in agents]
    for t in threads:
        t.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        ctx.note("serf event streams not all ready")
    return seen, threads, conns


def platelet_collect(agents):
    seen = {}
    for a in agents:
        got = {}
        with open(a.log, errors="replace") as f:
            for line in f:
                m = gb.LOG_EVENT_RE.match(line)
                if m:
                    got.setdefault(m.group(2), gb.log_stamp(m.group(1)))
        seen[a.name] = got
    return seen


def run_system(ctx, system, n, args):
    base = os.path.join(args.rundir, "events-%s-n%d" % (system.name, n))
    os.makedirs(base, exist_ok=True)
    agents = []
    for i in range(n):
        name = "%s%02d" % ("s" if system.name == "serf" else "p", i)
        d = os.path.join(base, name)
        os.makedirs(d, exist_ok=True)
        agents.append(gb.Agent(name, ctx.ports.take(), ctx.ports.take(), d,
                               os.path.join(base, name + ".log")))
    clients = {}
    names = [a.name for a in agents]
    stop = threading.Event()
    conns = []
    try:
        seed = agents[0]
        seed.proc = ctx.procs.spawn(system.argv(seed, None), seed.log)
        gb.poll_until(system, [seed], clients, lambda v: seed.name in v, time.time() + 20,
                      0.02, [], set())
        for a in agents[1:]:
            a.proc = ctx.procs.spawn(system.argv(a, seed), a.log)
        full = lambda v: sum(1 for x in names if v.get(x) == "alive") == n  # noqa: E731
        done = gb.poll_until(system, agents, clients, full, time.time() + 60, 0.05, [],
                             set())
        if len(done) < n:
            raise RuntimeError("%s: join did not converge in 60 s" % system.name)
        time.sleep(2)
        if system.name == "serf":
            seen, _, conns = serf_collect(agents, stop, ctx)
        sent = {}
        for k in range(args.events):
            evname = "loss%03d" % k
            sent[evname] = time.time()
            system.event_send(clients[seed.name], evname, "x")
            time.sleep(args.gap_s)
        gb.log("%s: %d events sent; waiting %g s for repairs" % (system.name, args.events,
                                                                   args.repair_s))
        time.sleep(args.repair_s)
        if system.name != "serf":
            seen = platelet_collect(agents)
        stop.set()
        res = {"system": system.name, "n": n, "events": args.events, "per_agent": {}}
        quick_miss = late = never = 0
        for a in agents[1:]:
            got = seen.get(a.name, {})
            q = sum(1 for e, t0 in sent.items() if e not in got or got[e] - t0 > args.quick_s)
            nv = sum(1 for e in sent if e not in got)
            res["per_agent"][a.name] = {"missed_quick": q, "never": nv}
            quick_miss += q
            never += nv
            late += q - nv
        res["deliveries"] = args.events * (n - 1)
        res["missed_quick"] = quick_miss
        res["repaired_late"] = late
        res["never"] = never
        return res
    finally:
        stop.set()
        for c in conns:
            c.close()
        for c in clients.values():
            c.close()
        for a in agents:
            if a.proc is not None:
                ctx.procs.kill(a.proc)
        if not args.keep:
            subprocess.run(["rm", "-rf", base], check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platelet", required=True)
    ap.add_argument("--serf", required=True)
    ap.add_argument("--rundir", required=True)
    ap.add_argument("--sizes", default="5")
    ap.add_argument("--profile", choices=sorted(gb.PROFILES), default="lan")
    ap.add_argument("--events", type=int, default=100)
    ap.add_argument("--gap-s", type=float, default=0.5)
    ap.add_argument("--quick-s", type=float, default=5.0)
    ap.add_argument("--repair-s", type=float, default=35.0)
    ap.add_argument("--platelet-only", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args, _ = ap.parse_known_args()
    if not 1 <= args.events <= 1000:
        ap.error("--events must be 1..1000")

    def on_signal(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    procs = gb.Procs(os.path.join(args.rundir, "pids"))
    ctx = gb.Ctx(args, procs, gb.Ports())
    systems = [] if args.platelet_only else [gb.SerfSystem(args.serf, args.profile)]
    systems.append(gb.PlateletSystem(args.platelet, args.profile, True, args.rundir))
    rows = []
    try:
        for n in [int(x) for x in args.sizes.split(",") if x]:
            for s in systems:
                gb.log("event loss: %s N=%d" % (s.name, n))
                try:
                    rows.append(run_system(ctx, s, n, args))
                except RuntimeError as e:
                    ctx.note(str(e))
    except KeyboardInterrupt:
        gb.log("interrupted; killing our agents")
    finally:
        procs.kill_all()
    print()
    print("Event delivery: %d events from the seed, %g s apart, profile %s; a delivery is "
          "quick within %g s, late if it came before %g s after the last event"
          % (args.events, args.gap_s, args.profile, args.quick_s, args.repair_s))
    print("| system | N | deliveries | missed within %gs | of which repaired later | never |"
          % args.quick_s)
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %d | %d | %d | %d | %d |" % (r["system"], r["n"], r["deliveries"],
                                                   r["missed_quick"], r["repaired_late"],
                                                   r["never"]))
    for x in ctx.notes:
        print("  - " + x)
    return 0


if __name__ == "__main__":
    sys.exit(main())
