#!/usr/bin/env python3
"""The swarm's learning with real processes: one agent (a one-voter council, so every
incident step is committed and learned) supervises `platelet sample-service --state-dir`,
and this script breaks it N times at random with the faults a restart does not heal
(dependency, scratch, poison) and a crash (a restart heals it). For each incident:
the fault, the first action the node took, the outcome and the time from the fault to the
incident's close. Prints per fault type, for the first incidents and for the last 50, the
share whose first action was the fault's cure and the MTTR (mean, p50), then
`platelet strategies`.

With --policy both (the default), two agents run side by side, each with its own service
and the same faults from the same seed: "learned" (the learned first action taken) and
"rules" (the rules-only baseline: the service's `"policy": {"learning": false}`; its
incidents are still committed and learned, only the machine does not take the lesson).
--policy all adds a third, "restart" (restart-only: the policy allows restart and retry).

    bench/learn_real.py PLATELET [--incidents 110] [--seed 1] [--last 50] [--operator-s 60] [--pace-s 6] [--policy both|all|learned|rules|restart]

Timing figures on a shared machine; never an assertion. Figures go to docs/BENCHMARKS.md.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# Drift is left out: the agent hashes the config file and the rules answer it with
# config_sync already (learn_world.c covers a drift the agent cannot see).
CURE = {"crash": "restart", "dependency": "wait", "scratch": "cleanup", "poison": "state_repair"}


def free_ports(n):
    """n ports P with P and P+1 free (the agent's Raft listens on P+1), below the kernel's
    ephemeral range and reserved against parallel callers: scripts/free_ports.py. A bind(0)
    port once left P+1 to someone's outgoing connection ('address already in use')."""
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts",
                          "free_ports.py")
    out = subprocess.run([sys.executable, helper, str(n)], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    return [int(x) for x in out[:n]]


def get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


def cli(platelet, sock, *args):
    out = subprocess.run([platelet, *args, "--api", "unix:" + sock, "--json"], capture_output=True,
                         text=True, timeout=20)
    return json.loads(out.stdout) if out.returncode == 0 else None


def wait_for(what, fn, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise SystemExit(f"timed out after {seconds} s waiting for {what}")


def run_policy(a, policy, out):
    """One agent and its service through a.incidents faults; the rows go to out[policy]."""
    rnd = random.Random(a.seed)
    d = tempfile.mkdtemp(prefix=f"pl-learn-real-{policy}.")
    agent = None
    try:
        port, svc = free_ports(2)
        state = os.path.join(d, "state")
        os.makedirs(state)
        conf = os.path.join(state, "web.conf")
        with open(conf, "w") as f:
            f.write("mode=good\n")
        cfg = {
            "profile": "local",
            "raft": {"voter": True, "bootstrap_expect": 1, "election_timeout_ms": 500,
                     "heartbeat_ms": 50},
            "services": [{
                "name": "web", "command": a.platelet,
                "args": ["sample-service", "--port", str(svc), "--state-dir", state,
                         "--config", conf],
                "start_ms": 300, "verify_ms": 3000, "config_file": conf,
                "state_repair": ["rm", "-f", os.path.join(state, "cache")],
                "cleanup": ["rm", "-f", os.path.join(state, "scratch", "fill")],
                "policy": {"allowed_actions": ["restart", "retry"] if policy == "restart" else
                                              ["restart", "retry", "config_sync", "state_repair",
                                               "cleanup", "wait"],
                           "restart_budget": 3, "restart_window_ms": 10000,
                           "backoff_initial_ms": 2000, "backoff_max_ms": 20000,
                           "backoff_reset_ms": 5000, "learning": policy == "learned"},
                "checks": [{"type": "http", "url": f"http://127.0.0.1:{svc}/health",
                            "interval_ms": 300, "timeout_ms": 300, "failures": 2}]}]}
        with open(os.path.join(d, "agent.json"), "w") as f:
            json.dump(cfg, f)
        log = open(os.path.join(d, "agent.log"), "w")
        agent = subprocess.Popen([a.platelet, "agent", "--config", os.path.join(d, "agent.json"),
                                  "--name", "n1", "--bind", f"127.0.0.1:{port}", "--data-dir",
                                  os.path.join(d, "n1")], stdout=log, stderr=subprocess.STDOUT)
        sock = os.path.join(d, "n1", "api.sock")
        healthy = lambda: (cli(a.platelet, sock, "services") or {"services": [{}]})["services"][0].get("healthy")
        wait_for("the service healthy", healthy, 30)
        rows = out[policy] = []
        for i in range(a.incidents):
            fault = rnd.choice(sorted(CURE))
            closed_before = len([x for x in cli(a.platelet, sock, "incidents")["incidents"]
                                 if x.get("outcome")])
            wait_for("healthy before the fault", healthy, 120)
            # Faults arrive a pace after the service is healthy again: past the restart
            # budget's clean-running reset (5 s here), so one incident's crash-loop back-off
            # does not slow the next; the pause is the workload's, not a wait for a result.
            time.sleep(a.pace_s)
            t0 = time.monotonic()
            url = f"http://127.0.0.1:{svc}/fault/"
            url += {"crash": "crash", "scratch": "scratch?mb=1", "poison": "poison",
                    "dependency": f"dependency?s={rnd.randint(3, 8)}"}[fault]
            get(url)

            def closed():
                inc = cli(a.platelet, sock, "incidents")
                done = [x for x in (inc or {"incidents": []})["incidents"] if x.get("outcome")]
                return done if len(done) > closed_before else None
            done = None
            try:
                done = wait_for(f"incident {i} ({fault}) closed", closed, a.operator_s)
            except SystemExit:
                # Nobody healed it: an operator fixes it by hand (stop, fix, start), which
                # closes the incident "stopped" and teaches the swarm the actions failed.
                subprocess.run([a.platelet, "service", "stop", "web", "--api", "unix:" + sock],
                               capture_output=True, timeout=20)
                for name in ("cache", "dependency", os.path.join("scratch", "fill")):
                    try:
                        os.unlink(os.path.join(state, name))
                    except FileNotFoundError:
                        pass
                subprocess.run([a.platelet, "service", "start", "web", "--api", "unix:" + sock],
                               capture_output=True, timeout=20)
                done = wait_for(f"incident {i} ({fault}) closed by the operator", closed, 60)
            t1 = time.monotonic()
            newest = max(done, key=lambda x: x.get("opened_ms", 0))
            full = cli(a.platelet, sock, "incident", newest["id"]) or newest
            acts = [e["action"] for e in full.get("timeline", []) if e.get("kind") == "action"]
            rows.append({"fault": fault, "first": acts[0] if acts else "none",
                         "outcome": newest.get("outcome"), "s": t1 - t0})
            if rows[-1]["outcome"] == "stopped":
                wait_for("healthy after the operator", healthy, 60)
            print(f"{policy:7s} {i:3d} {fault:10s} first {rows[-1]['first']:12s} "
                  f"{rows[-1]['outcome']:9s} {rows[-1]['s']:6.1f} s", flush=True)
        out[policy + ":strategies"] = subprocess.run(
            [a.platelet, "strategies", "--api", "unix:" + sock], capture_output=True,
            text=True).stdout
    except SystemExit as e:
        print(f"{policy}: {e}", file=sys.stderr)
        print(open(os.path.join(d, "agent.log")).read()[-3000:], file=sys.stderr)
        out[policy + ":failed"] = str(e)
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
        shutil.rmtree(d, ignore_errors=True)


def table(rows, name):
    print(f"\n{name} ({len(rows)} incidents):")
    print(f"  {'fault':11s} {'n':>3s} {'first = cure':>12s} {'mttr s':>7s} {'p50 s':>6s}")
    for fault in sorted(CURE) + ["all"]:
        xs = [r for r in rows if fault in ("all", r["fault"])]
        if not xs:
            continue
        ts = sorted(r["s"] for r in xs)
        right = sum(r["first"] == CURE[r["fault"]] for r in xs)
        print(f"  {fault:11s} {len(xs):3d} {100 * right / len(xs):11.0f}% "
              f"{sum(ts) / len(ts):7.1f} {ts[len(ts) // 2]:6.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("platelet")
    ap.add_argument("--incidents", type=int, default=110)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--last", type=int, default=50)
    ap.add_argument("--pace-s", type=float, default=6,
                    help="seconds between the service being healthy and the next fault")
    ap.add_argument("--operator-s", type=float, default=60,
                    help="an incident still open after this long is fixed by hand")
    ap.add_argument("--policy", choices=("both", "all", "learned", "rules", "restart"),
                    default="both",
                    help="learned (the lesson taken first), rules (policy.learning false), "
                         "restart (restart-only: the policy allows restart and retry alone), "
                         "both (learned and rules) or all three side by side with the same faults")
    a = ap.parse_args()
    a.platelet = os.path.abspath(a.platelet)
    policies = {"both": ["learned", "rules"], "all": ["learned", "rules", "restart"]}.get(
        a.policy, [a.policy])
    out = {}
    # Side by side: each policy its own agent and service, the same seed's faults.
    threads = [threading.Thread(target=run_policy, args=(a, p, out)) for p in policies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in policies:
        rows = out.get(p, [])
        print(f"\n=== {p} ===")
        table(rows[:max(0, len(rows) - a.last)], "first incidents")
        table(rows[-a.last:], f"last {a.last}")
        print()
        print(out.get(p + ":strategies", ""))
    for p in policies:
        if p == "rules" or not out.get(p) or not out.get("rules"):
            continue
        last = {q: out[q][-a.last:] for q in (p, "rules")}
        print(f"{p} / rules-only MTTR over the last {a.last}, per fault:")
        for fault in sorted(CURE) + ["all"]:
            m = {q: [r["s"] for r in last[q] if fault in ("all", r["fault"])] for q in last}
            if m[p] and m["rules"]:
                print(f"  {fault:11s} {(sum(m[p]) / len(m[p])) / (sum(m['rules']) / len(m['rules'])):5.2f}")
    if any(p + ":failed" in out for p in policies):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
