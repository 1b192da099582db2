#!/usr/bin/env python3
"""The container image, the compose file and the Kubernetes manifests against the binary.

No Docker engine or cluster runs here, so this test reads deploy/container/Dockerfile,
deploy/container/compose.yaml and deploy/k8s/*.yaml, checks that they parse, and that
every image, port, path, user and flag in them agrees with the Dockerfile and with the
binary (`platelet agent --help`, `platelet version`). Then it runs each topology for real
on loopback with the manifests' own argument lists and config files: the five compose
services, and three StatefulSet pods with one DaemonSet pod. Only what a container
runtime would provide is substituted: environment references ($(POD_IP), ${KEY}), each
container's address (its IP and port become 127.0.0.1 and a free port; dns:NAME joins
become dns:localhost with the port of the first container that NAME names, so no query
leaves the machine) and the container's file system (mounted paths become folders of the
test). The agents must start, answer the image's HEALTHCHECK command, all see each other
alive, and the voters agree on one Raft leader; then every agent stops cleanly on SIGTERM.

usage: deploy_manifests.py PATH-TO-platelet
"""
import base64
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import yaml

PLATELET = os.path.abspath(sys.argv[1])
SRC = os.environ.get("PLATELET_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(SRC, "deploy")
TEST_DIR = tempfile.mkdtemp(prefix="platelet-deploy_manifests.")
PROCS = []  # (name, Popen, log path)


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def ok(what):
    print("ok: " + what, flush=True)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)


def wait_for(secs, what, pred):
    deadline = time.monotonic() + secs
    while True:
        try:
            if pred():
                return
        except (subprocess.SubprocessError, OSError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise Fail("timed out after %ds waiting for: %s" % (secs, what))
        time.sleep(0.1)


# --- the binary -----------------------------------------------------------------------

def help_flags(*cmd):
    out = run([PLATELET, *cmd, "--help"])
    check(out.returncode == 0, "platelet %s --help failed" % " ".join(cmd))
    return set(re.findall(r"^\s+(--[a-z][a-z0-9-]*)", out.stdout, re.M))


VERSION = run([PLATELET, "version"]).stdout.split()[-1]
IMAGE = "platelet:" + VERSION
AGENT_FLAGS = help_flags("agent")


def check_flags(argv, flags, where):
    for a in argv:
        if a.startswith("--"):
            check(a in flags, "%s: flag %s is not in the binary's --help" % (where, a))


def flag_value(argv, flag, where):
    vals = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]
    check(len(vals) == 1, "%s: expected one %s, got %s" % (where, flag, vals))
    return vals[0]


def flag_values(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


# --- the Dockerfile -------------------------------------------------------------------

def dockerfile_parse(path):
    """[(INSTRUCTION, text)] with continuations joined and comments dropped."""
    out, cur = [], ""
    for line in open(path):
        s = line.rstrip("\n")
        if not cur and (not s.strip() or s.lstrip().startswith("#")):
            continue
        if s.rstrip().endswith("\\"):
            cur += s.rstrip()[:-1] + " "
            continue
        cur += s
        instr, _, rest = cur.strip().partition(" ")
        out.append((instr.upper(), rest.strip()))
        cur = ""
    return out


def dockerfile_facts():
    path = os.path.join(DEPLOY, "container", "Dockerfile")
    ins = dockerfile_parse(path)
    froms = [i for i, (k, _) in enumerate(ins) if k == "FROM"]
    check(len(froms) >= 2, "Dockerfile: expected a multi-stage build, got %d FROM" % len(froms))
    for i in froms:
        base = ins[i][1].split()[0]
        check(re.fullmatch(r"debian:12(-slim)?", base), "Dockerfile: FROM %s is not Debian 12" % base)
    build = ins[froms[0]:froms[-1]]
    final = ins[froms[-1]:]
    f = {}
    for k, v in final:
        f.setdefault(k, []).append(v)
    for k in ("USER", "VOLUME", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD"):
        check(len(f.get(k, [])) == 1, "Dockerfile: the final stage needs one %s" % k)
    facts = {"path": path}
    facts["user"] = f["USER"][0]
    check(facts["user"] not in ("root", "0"), "Dockerfile: runs as root")
    runs = " ".join(f.get("RUN", []))
    m = re.search(r"useradd [^&]*--uid (\d+) [^&]*--gid (\S+)[^&]* %s\b" % facts["user"], runs)
    g = re.search(r"groupadd [^&]*--gid (\d+) %s\b" % facts["user"], runs)
    check(m and g, "Dockerfile: user %s is not made with a fixed --uid and --gid" % facts["user"])
    facts["uid"], facts["gid"] = int(m.group(1)), int(g.group(1))
    vol = f["VOLUME"][0]
    facts["volumes"] = json.loads(vol) if vol.startswith("[") else vol.split()
    check(facts["volumes"] == ["/var/lib/platelet"], "Dockerfile: VOLUME %s" % facts["volumes"])
    facts["expose"] = set(f["EXPOSE"][0].split())
    hc = f["HEALTHCHECK"][0]
    check(" CMD [" in " " + hc, "Dockerfile: HEALTHCHECK is not CMD [json]")
    facts["health"] = json.loads(hc[hc.index("CMD") + 3:].strip())
    facts["entrypoint"] = json.loads(f["ENTRYPOINT"][0])
    facts["cmd"] = json.loads(f["CMD"][0])
    check(facts["entrypoint"] == ["platelet", "agent"], "Dockerfile: ENTRYPOINT %s" % facts["entrypoint"])
    check_flags(facts["cmd"], AGENT_FLAGS, "Dockerfile CMD")
    # The image is the package: the build stage makes the .deb, the final one installs it.
    check(any(k == "RUN" and "cpack -G DEB" in v for k, v in build), "Dockerfile: no cpack in the build stage")
    check("/tmp/platelet_*.deb" in runs, "Dockerfile: the final stage does not install the package")
    for k, v in ins:
        if k == "COPY" and "--from=" not in v:
            for src in v.split()[:-1]:
                check(os.path.exists(os.path.join(SRC, src)), "Dockerfile: COPY %s: no such path" % src)
    ignore = open(os.path.join(DEPLOY, "container", "Dockerfile.dockerignore")).read().split()
    check("build" in ignore and ".git" in ignore, "Dockerfile.dockerignore must leave out build and .git")
    # The unit and the image run the same config file.
    unit = open(os.path.join(DEPLOY, "systemd", "platelet.service")).read()
    unit_config = re.search(r"^ExecStart=\S+ agent --config (\S+)", unit, re.M).group(1)
    check(flag_value(facts["cmd"], "--config", "Dockerfile CMD") == unit_config,
          "Dockerfile CMD's --config is not the unit's %s" % unit_config)
    # The health check is a real command with real flags, on the socket in the volume.
    health = facts["health"]
    check(health[0] == "platelet", "HEALTHCHECK does not run platelet: %s" % health)
    check_flags(health[2:], help_flags(health[1]), "HEALTHCHECK")
    api = flag_value(health, "--api", "HEALTHCHECK")
    check(api.startswith("unix:") and os.path.dirname(api[5:]) == facts["volumes"][0],
          "HEALTHCHECK --api %s is not the socket in %s" % (api, facts["volumes"][0]))
    ok("Dockerfile: Debian 12 stages, non-root %s (%d:%d), volume %s, ports %s, health check"
       % (facts["user"], facts["uid"], facts["gid"], facts["volumes"][0], " ".join(sorted(facts["expose"]))))
    return facts


def ports_of_bind(addr, df, where, raft):
    host, _, port = addr.rpartition(":")
    p = int(port)
    check("%d/tcp" % p in df["expose"] and "%d/udp" % p in df["expose"],
          "%s: gossip port %d (tcp and udp) is not EXPOSEd" % (where, p))
    if raft:  # Raft listens on the gossip port + 1 (the binary's default)
        check("%d/tcp" % (p + 1) in df["expose"], "%s: Raft port %d is not EXPOSEd" % (where, p + 1))
    return host, p


def read_config(text, where):
    try:
        return json.loads(text)
    except ValueError as e:
        raise Fail("%s: not JSON: %s" % (where, e))


# --- compose --------------------------------------------------------------------------

def compose_facts(df):
    cdir = os.path.join(DEPLOY, "container")
    doc = yaml.safe_load(open(os.path.join(cdir, "compose.yaml")))
    services = doc["services"]
    nets = doc.get("networks", {})
    declared_volumes = set((doc.get("volumes") or {}).keys())
    aliases = {}
    nodes = []
    for name, s in services.items():
        where = "compose.yaml: " + name
        check(s.get("image") == IMAGE, "%s: image %s, expected %s" % (where, s.get("image"), IMAGE))
        b = s.get("build") or {}
        dockerfile = os.path.normpath(os.path.join(cdir, b.get("context", "."), b.get("dockerfile", "Dockerfile")))
        check(dockerfile == df["path"], "%s: builds %s, not %s" % (where, dockerfile, df["path"]))
        check(os.path.normpath(os.path.join(cdir, b.get("context", "."))) == SRC,
              "%s: the build context is not the source tree" % where)
        argv = s["command"]
        check_flags(argv, AGENT_FLAGS, where)
        mounts = {}
        for v in s.get("volumes", []):
            parts = v.split(":")
            src, dst = parts[0], parts[1]
            if src.startswith("."):
                src = os.path.normpath(os.path.join(cdir, src))
                check(os.path.isfile(src), "%s: mounts %s, which does not exist" % (where, src))
            else:
                check(src in declared_volumes, "%s: volume %s is not declared" % (where, src))
            mounts[dst] = src
        check(df["volumes"][0] in mounts and not mounts[df["volumes"][0]].startswith("/"),
              "%s: no named volume at %s" % (where, df["volumes"][0]))
        config_path = flag_value(argv, "--config", where)
        check(config_path in mounts, "%s: --config %s is not mounted" % (where, config_path))
        config = read_config(open(mounts[config_path]).read(), mounts[config_path])
        check(config.get("data_dir") == df["volumes"][0], "%s: data_dir is not the volume" % where)
        voter = bool(config.get("raft", {}).get("voter"))
        (netname, net), = s["networks"].items()
        check(netname in nets, "%s: network %s is not declared" % (where, netname))
        ip = net["ipv4_address"]
        host, port = ports_of_bind(flag_value(argv, "--bind", where), df, where, voter)
        check(host == ip, "%s: binds %s, but its address is %s" % (where, host, ip))
        subnet = nets[netname]["ipam"]["config"][0]["subnet"]
        check(ip.startswith(subnet.rsplit(".", 1)[0] + "."), "%s: %s is outside %s" % (where, ip, subnet))
        for a in [name] + net.get("aliases", []):
            aliases.setdefault(a, []).append(name)
        nodes.append({"name": name, "argv": df["entrypoint"][1:] + argv, "config": config,
                      "config_path": config_path, "addr": "%s:%d" % (ip, port), "voter": voter,
                      "where": where})
    for n in nodes:
        for j in flag_values(n["argv"], "--join"):
            m = re.fullmatch(r"dns:([^:]+):(\d+)", j)
            check(m and m.group(1) in aliases, "%s: --join %s names no service or alias" % (n["where"], j))
            check("%s/tcp" % m.group(2) in df["expose"], "%s: --join port %s is not EXPOSEd" % (n["where"], m.group(2)))
    voters = [n for n in nodes if n["voter"]]
    check(len(voters) == 3 and len(nodes) == 5, "compose.yaml: expected 3 voters and 2 members")
    for v in voters:
        check(v["config"]["raft"].get("bootstrap_expect") == len(voters),
              "%s: bootstrap_expect is not %d" % (v["where"], len(voters)))
    ok("compose.yaml: 3 voters and 2 members, image %s, addresses, ports, mounts and flags agree" % IMAGE)
    return nodes, aliases


# --- Kubernetes ------------------------------------------------------------------------

def subset(a, b):
    return all(b.get(k) == v for k, v in a.items())


def k8s_facts(df):
    docs = {}
    for path in sorted(glob.glob(os.path.join(DEPLOY, "k8s", "*.yaml"))):
        for d in yaml.safe_load_all(open(path)):
            if d:
                check("apiVersion" in d and "metadata" in d, "%s: a document without apiVersion or metadata" % path)
                docs[(d["kind"], d["metadata"]["name"])] = d
    kinds = {k for k, _ in docs}
    for k in ("Service", "StatefulSet", "PodDisruptionBudget", "DaemonSet", "ConfigMap"):
        check(k in kinds, "deploy/k8s: no %s" % k)
    (sts,) = [d for (k, _), d in docs.items() if k == "StatefulSet"]
    (ds,) = [d for (k, _), d in docs.items() if k == "DaemonSet"]
    (pdb,) = [d for (k, _), d in docs.items() if k == "PodDisruptionBudget"]
    svc = docs.get(("Service", sts["spec"]["serviceName"]))
    check(svc is not None, "StatefulSet: serviceName %s has no Service" % sts["spec"]["serviceName"])
    check(svc["spec"].get("clusterIP") == "None", "Service %s is not headless" % svc["metadata"]["name"])
    check(svc["spec"].get("publishNotReadyAddresses") is True,
          "Service %s must publish not-ready voters (they find each other before any is ready)" % svc["metadata"]["name"])
    sts_labels = sts["spec"]["template"]["metadata"]["labels"]
    check(subset(svc["spec"]["selector"], sts_labels), "the headless Service does not select the voters")
    check(subset(pdb["spec"]["selector"]["matchLabels"], sts_labels), "the PodDisruptionBudget does not select the voters")
    replicas = sts["spec"]["replicas"]
    check(replicas == 3, "StatefulSet: %d replicas, expected 3" % replicas)
    check(replicas - pdb["spec"].get("maxUnavailable", replicas) >= replicas // 2 + 1,
          "the PodDisruptionBudget lets a disruption break the quorum")
    svc_ports = {(p["port"], p.get("protocol", "TCP")) for p in svc["spec"]["ports"]}
    for p, proto in svc_ports:
        check("%d/%s" % (p, proto.lower()) in df["expose"], "Service port %d/%s is not EXPOSEd" % (p, proto))
    secret_doc = open(os.path.join(SRC, "docs", "DEPLOY.md")).read() + open(os.path.join(DEPLOY, "k8s", "voters.yaml")).read()
    made = set(re.findall(r"kubectl create secret generic (\S+) --from-literal=(\w+)=", secret_doc))
    cms = {n: d for (k, n), d in docs.items() if k == "ConfigMap"}

    pods = []
    for w in (sts, ds):
        kind = w["kind"]
        spec = w["spec"]["template"]["spec"]
        where = "%s %s" % (kind, w["metadata"]["name"])
        check(subset(w["spec"]["selector"]["matchLabels"], w["spec"]["template"]["metadata"]["labels"]),
              "%s: its selector does not match its pods" % where)
        sc = spec.get("securityContext", {})
        check(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == df["uid"] and
              sc.get("runAsGroup") == df["gid"] and sc.get("fsGroup") == df["gid"],
              "%s: securityContext is not the image's user %d:%d" % (where, df["uid"], df["gid"]))
        (c,) = spec["containers"]
        check(c["image"] == IMAGE, "%s: image %s, expected %s" % (where, c["image"], IMAGE))
        check("command" not in c or c["command"] == df["entrypoint"], "%s: command overrides the ENTRYPOINT" % where)
        argv = c["args"]
        check_flags(argv, AGENT_FLAGS, where)
        env = {e["name"]: e for e in c.get("env", [])}
        for ref in re.findall(r"\$\((\w+)\)", " ".join(argv)):
            check(ref in env, "%s: $(%s) is not in env" % (where, ref))
        for e in env.values():
            sk = e.get("valueFrom", {}).get("secretKeyRef")
            if sk:
                check((sk["name"], sk["key"]) in made,
                      "%s: Secret %s key %s: no 'kubectl create secret generic' for it in the docs" % (where, sk["name"], sk["key"]))
        cports = {(p["containerPort"], p.get("protocol", "TCP")) for p in c["ports"]}
        for p, proto in cports:
            check("%d/%s" % (p, proto.lower()) in df["expose"], "%s: containerPort %d/%s is not EXPOSEd" % (where, p, proto))
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
        data = mounts.get(df["volumes"][0])
        check(data in claims or data in vols, "%s: nothing mounted at %s" % (where, df["volumes"][0]))
        config_path = flag_value(argv, "--config", where)
        cfg_vol = vols.get(mounts.get(os.path.dirname(config_path)), {}).get("configMap")
        check(cfg_vol is not None, "%s: --config %s is not on a ConfigMap volume" % (where, config_path))
        items = {i["path"]: i["key"] for i in cfg_vol.get("items", [])}
        key = items.get(os.path.basename(config_path))
        cm = cms.get(cfg_vol["name"])
        check(cm is not None and key in cm["data"], "%s: ConfigMap %s has no %s for %s" % (where, cfg_vol["name"], key, config_path))
        config = read_config(cm["data"][key], "ConfigMap %s %s" % (cfg_vol["name"], key))
        check(config.get("data_dir") == df["volumes"][0], "%s: data_dir is not %s" % (where, df["volumes"][0]))
        voter = bool(config.get("raft", {}).get("voter"))
        check(voter == (w is sts), "%s: the StatefulSet must run voters and the DaemonSet members" % where)
        if voter:
            check(config["raft"].get("bootstrap_expect") == replicas, "%s: bootstrap_expect is not %d" % (where, replicas))
        bind = flag_value(argv, "--bind", where)
        host, port = ports_of_bind(bind, df, where, voter)
        check((port, "TCP") in cports and (port, "UDP") in cports, "%s: gossip port %d is not a containerPort" % (where, port))
        if voter:
            check((port + 1, "TCP") in cports, "%s: Raft port %d is not a containerPort" % (where, port + 1))
        for j in config.get("retry_join", []) + config.get("join", []):
            m = re.fullmatch(r"dns:([^:]+):(\d+)", j)
            check(m and (m.group(1) == svc["metadata"]["name"] or m.group(1).startswith(svc["metadata"]["name"] + ".")),
                  "%s: joins %s, not the headless Service %s" % (where, j, svc["metadata"]["name"]))
            check((int(m.group(2)), "TCP") in svc_ports, "%s: join port %s is not a Service port" % (where, m.group(2)))
        for probe in ("readinessProbe", "livenessProbe"):
            check(c.get(probe, {}).get("exec", {}).get("command") == df["health"],
                  "%s: %s is not the image's HEALTHCHECK" % (where, probe))
        n = replicas if w is sts else 1
        for i in range(n):
            name = "%s-%d" % (w["metadata"]["name"], i) if w is sts else "node-a"
            fake_ip = "10.0.%d.%d" % (1 if w is sts else 2, i + 1)
            values = {"POD_NAME": name, "NODE_NAME": name, "POD_IP": fake_ip}
            pods.append({"name": name, "env": env, "values": values, "argv": df["entrypoint"][1:] + argv,
                         "config": config, "config_path": config_path, "voter": voter,
                         "addr": "%s:%d" % (fake_ip, port), "where": where})
    ok("deploy/k8s: headless Service, StatefulSet of %d voters, PodDisruptionBudget, DaemonSet, "
       "ConfigMap and Secret agree with the image and the binary" % replicas)
    return pods, svc["metadata"]["name"]


# --- running a topology on loopback -------------------------------------------------------

def free_port(used):
    out = run([sys.executable, os.path.join(SRC, "scripts", "free_ports.py"), "1", used])
    return int(out.stdout.split()[0])


def api(node, *cmd):
    out = run([PLATELET, *cmd, "--api", "unix:" + node["sock"], "--json"])
    if out.returncode != 0:
        raise ValueError(out.stderr)
    return json.loads(out.stdout)


def run_topology(label, nodes, names, key):
    """Starts every node with its manifest argv, mapped to loopback; checks; stops."""
    used = os.path.join(TEST_DIR, "ports")
    local = {}
    for n in nodes:
        n["port"] = free_port(used)
        local[n["addr"]] = "127.0.0.1:%d" % n["port"]

    def join_map(j):
        m = re.fullmatch(r"dns:([^:]+):(\d+)", j)
        if not m:
            return j
        first = [n for n in nodes if n["name"] in names(m.group(1))][0]
        return "dns:localhost:%d" % first["port"]

    for n in nodes:
        root = os.path.join(TEST_DIR, label, n["name"])
        data = root + n["config"]["data_dir"]
        os.makedirs(os.path.dirname(data), exist_ok=True)
        config = dict(n["config"], data_dir=data)
        for k in ("join", "retry_join"):
            if k in config:
                config[k] = [join_map(j) for j in config[k]]
        cfg_file = root + n["config_path"]
        os.makedirs(os.path.dirname(cfg_file), exist_ok=True)
        with open(cfg_file, "w") as f:
            json.dump(config, f)
        # What the runtime would fill in: Kubernetes' $(VAR) from the pod's env, compose's
        # ${VAR...} from the shell's environment; the gossip key is the Secret's.
        env = dict(n.get("values", {}), PLATELET_GOSSIP_KEY=key)

        def fill(m):
            check(m.group(1) in env, "%s: nothing to fill in for %s" % (n["where"], m.group(0)))
            return env[m.group(1)]
        argv = [re.sub(r"\$\((\w+)\)|\$\{(\w+)[^}]*\}",
                       lambda m: fill(re.match(r"\$[({](\w+)", m.group(0))), a) for a in n["argv"]]
        argv = [local.get(a, a) for a in argv]
        argv = [join_map(a) if a.startswith("dns:") else a for a in argv]
        argv = [cfg_file if a == n["config_path"] else a for a in argv]
        for a in argv:
            check(not re.search(r"\$[({]", a), "%s: %s left unsubstituted" % (n["where"], a))
        n["sock"] = os.path.join(data, "api.sock")
        log = os.path.join(TEST_DIR, "%s-%s.log" % (label, n["name"]))
        p = subprocess.Popen([PLATELET, *argv], stdout=open(log, "w"), stderr=subprocess.STDOUT)
        PROCS.append((n["name"], p, log))
        n["proc"], n["log"] = p, log
    health_dir = os.path.dirname(DF["health"][DF["health"].index("--api") + 1][5:])
    def listening(n):
        check(n["proc"].poll() is None, "%s %s exited %s: %s" % (
            label, n["name"], n["proc"].returncode, open(n["log"]).read().strip().splitlines()[-1:]))
        return os.path.exists(n["sock"])
    for n in nodes:
        wait_for(15, "%s %s's API" % (label, n["name"]), lambda: listening(n))
        data = os.path.dirname(n["sock"])
        health = [PLATELET] + [a.replace(health_dir, data) for a in DF["health"][1:]]
        wait_for(10, "%s %s's HEALTHCHECK" % (label, n["name"]), lambda: run(health).returncode == 0)
    for n in nodes:
        want = sorted(m["name"] for m in nodes)
        wait_for(30, "%s %s sees all %d alive" % (label, n["name"], len(nodes)),
                 lambda: sorted(m["name"] for m in api(n, "members") if m["status"] == "alive") == want)
    voters = [n for n in nodes if n["voter"]]

    def one_leader():
        leaders = {api(v, "raft", "status")["leader"] for v in voters}
        return len(leaders) == 1 and leaders.pop() in {v["name"] for v in voters}
    wait_for(30, "%s voters agree on one leader" % label, one_leader)
    ok("%s on loopback: %d agents started with the manifests' arguments, answered the health "
       "check, saw each other alive, and the %d voters elected one leader" % (label, len(nodes), len(voters)))
    for n in nodes:
        n["proc"].send_signal(signal.SIGTERM)
    for n in nodes:
        rc = n["proc"].wait(timeout=60)
        check(rc == 0, "%s %s exited %d after SIGTERM" % (label, n["name"], rc))
    ok("%s: every agent stopped cleanly on SIGTERM" % label)


def main():
    global DF
    rc = 0
    try:
        DF = dockerfile_facts()
        compose_nodes, aliases = compose_facts(DF)
        pods, svc_name = k8s_facts(DF)
        key = base64.b64encode(os.urandom(32)).decode()
        run_topology("compose", compose_nodes, lambda n: aliases.get(n, []), key)
        run_topology("k8s", pods, lambda n: [p["name"] for p in pods if p["voter"]] if n == svc_name else [], key)
    except Fail as e:
        print("FAIL: deploy_manifests: %s" % e, file=sys.stderr)
        rc = 1
    finally:
        for name, p, log in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        if rc != 0:
            for name, p, log in PROCS:
                print("--- %s (last 15 lines)" % log, file=sys.stderr)
                print("".join(open(log).readlines()[-15:]), file=sys.stderr)
            print("logs in " + TEST_DIR, file=sys.stderr)
        else:
            shutil.rmtree(TEST_DIR, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
