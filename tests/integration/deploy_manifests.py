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

The TCP API, for Prometheus: every agent's --api port must be EXPOSEd (and a containerPort
named api in Kubernetes), its --api-token-file must be what the one-shot copy (the compose
service api-tokens, the pods' init container) writes from the Secret or host file, and the
scrape configs in deploy/prometheus/ must pick exactly those ports. On loopback, the token
files go through the same copy command, each agent's /v1/metrics answers the read token the
docs make for Prometheus (and 401 without it), and in Kubernetes' case the Secret file as
kubelet leaves it under fsGroup (mode 0440) is first shown to be refused by the agent.

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
import urllib.error
import urllib.request

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
    check("**/*.tokens" in ignore and "**/*.token" in ignore,
          "Dockerfile.dockerignore must leave out API token files (**/*.tokens, **/*.token)")
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


def api_of(argv, df, where, host):
    """The --api address: on the agent's own address, EXPOSEd; and the token file."""
    addr = flag_value(argv, "--api", where)
    h, _, port = addr.rpartition(":")
    check(h == host, "%s: --api %s is not on the agent's address %s" % (where, addr, host))
    check("%s/tcp" % port in df["expose"], "%s: API port %s is not EXPOSEd" % (where, port))
    token_file = flag_value(argv, "--api-token-file", where)
    check(token_file.startswith("/"), "%s: --api-token-file %s is not absolute" % (where, token_file))
    return int(port), token_file


def scrape_job(path):
    doc = yaml.safe_load(open(path))
    jobs = [j for j in doc["scrape_configs"] if j.get("metrics_path") == "/v1/metrics"]
    check(len(jobs) == 1, "%s: expected one job with metrics_path /v1/metrics" % path)
    cred = (jobs[0].get("authorization") or {}).get("credentials_file")
    check(cred, "%s: the job has no authorization: credentials_file (the API wants a token)" % path)
    return jobs[0], cred


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
    compose_text = open(os.path.join(cdir, "compose.yaml")).read()
    aliases = {}
    nodes = []
    copies = {}  # one-shot services (an entrypoint of their own): name -> facts

    def mounts_of(s, where):
        mounts = {}
        for v in s.get("volumes", []):
            parts = v.split(":")
            src, dst = parts[0], parts[1]
            if src.startswith("."):
                src = os.path.normpath(os.path.join(cdir, src))
                rel = os.path.relpath(src, SRC)
                # A secret the operator makes is not in the tree; the file must say how.
                check(os.path.isfile(src) or re.search(r"--tokens %s\b" % re.escape(rel), compose_text),
                      "%s: mounts %s, which does not exist (nor does compose.yaml make it)" % (where, src))
            else:
                check(src in declared_volumes, "%s: volume %s is not declared" % (where, src))
            mounts[dst] = (src, parts[2:] == ["ro"])
        return mounts

    for name, s in services.items():
        where = "compose.yaml: " + name
        check(s.get("image") == IMAGE, "%s: image %s, expected %s" % (where, s.get("image"), IMAGE))
        b = s.get("build") or {}
        dockerfile = os.path.normpath(os.path.join(cdir, b.get("context", "."), b.get("dockerfile", "Dockerfile")))
        check(dockerfile == df["path"], "%s: builds %s, not %s" % (where, dockerfile, df["path"]))
        check(os.path.normpath(os.path.join(cdir, b.get("context", "."))) == SRC,
              "%s: the build context is not the source tree" % where)
        if "entrypoint" in s:
            # The token copy: as root (the host file is yours, not uid 999's), into a volume
            # owned by the image's user, mode 0600; the agents' --api-token-file is its target.
            ep = s["entrypoint"]
            check(len(ep) == 9 and ep[:7] == ["install", "-o", str(df["uid"]), "-g", str(df["gid"]), "-m", "0600"],
                  "%s: expected install -o %d -g %d -m 0600 SRC DST, got %s" % (where, df["uid"], df["gid"], ep))
            check(str(s.get("user", "")).split(":")[0] in ("0", "root"), "%s: must run as root to read your file" % where)
            mounts = mounts_of(s, where)
            src_m = mounts.get(ep[7])
            check(src_m and src_m[0].startswith("/") and src_m[1], "%s: %s is not a read-only host file" % (where, ep[7]))
            dst_m = mounts.get(os.path.dirname(ep[8]))
            check(dst_m and dst_m[0] in declared_volumes and not dst_m[1],
                  "%s: %s is not in a writable named volume" % (where, ep[8]))
            copies[name] = {"argv": ep, "src": ep[7], "dst": ep[8], "host_file": src_m[0],
                            "volume": dst_m[0]}
            continue
        argv = s["command"]
        check_flags(argv, AGENT_FLAGS, where)
        mounts = {d: v[0] for d, v in mounts_of(s, where).items()}
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
        api_port, token_file = api_of(argv, df, where, ip)
        tok_vol = mounts.get(os.path.dirname(token_file))
        deps = s.get("depends_on") or {}
        for cname, c in copies.items():
            if c["volume"] == tok_vol and c["dst"] == token_file:
                check((deps.get(cname) or {}).get("condition") == "service_completed_successfully",
                      "%s: does not wait for %s to complete" % (where, cname))
                copy = c
                break
        else:
            raise Fail("%s: --api-token-file %s is not what a token copy service writes" % (where, token_file))
        for a in [name] + net.get("aliases", []):
            aliases.setdefault(a, []).append(name)
        nodes.append({"name": name, "argv": df["entrypoint"][1:] + argv, "config": config,
                      "config_path": config_path, "addr": "%s:%d" % (ip, port), "voter": voter,
                      "where": where, "api_addr": "%s:%d" % (ip, api_port), "token_file": token_file,
                      "copy": {"argv": copy["argv"], "src": copy["src"], "dst": copy["dst"],
                               "src_mode": 0o600, "as_root": True}})
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
    # Prometheus' static targets are the agents' API addresses, all of them.
    ppath = os.path.join(DEPLOY, "prometheus", "compose.yml")
    job, cred = scrape_job(ppath)
    targets = {t for sc in job.get("static_configs", []) for t in sc["targets"]}
    want = {n["api_addr"] for n in nodes}
    check(targets == want, "%s: targets %s, but the agents serve the API at %s" % (ppath, sorted(targets), sorted(want)))
    ptext = open(ppath).read()
    (c,) = copies.values()
    token_out = re.search(r"--tokens %s\s+\\?\s*#?\s*--out (\S+)" % re.escape(os.path.relpath(c["host_file"], SRC)), compose_text)
    check(token_out, "compose.yaml: no 'platelet token create --scope read --tokens ... --out ...' for Prometheus")
    check(re.search(r"--scope read --tokens", compose_text), "compose.yaml: Prometheus' token is not a read token")
    check("%s:%s:ro" % (token_out.group(1), cred) in ptext,
          "%s: does not mount %s at its credentials_file %s" % (ppath, token_out.group(1), cred))
    (netname,) = nets
    check("--network %s_%s " % (doc["name"], netname) in ptext,
          "%s: Prometheus is not run on the compose network %s_%s" % (ppath, doc["name"], netname))
    ok("compose: API on %s, tokens copied by %s to %s, Prometheus scrapes exactly those with %s"
       % (" ".join(sorted(want)), " ".join(copies), nodes[0]["token_file"], cred))
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
    made = set(re.findall(r"kubectl create secret generic (\S+) --from-(?:literal|file)=([\w.]+)=", secret_doc))
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
        # The TCP API: on the pod IP like gossip, a containerPort named api, and a token file
        # the init container copies out of the Secret (owner-only, which a Secret volume
        # under fsGroup cannot be).
        api_port, token_file = api_of(argv, df, where, flag_value(argv, "--bind", where).rpartition(":")[0])
        check(("api", api_port, "TCP") in {(p.get("name"), p["containerPort"], p.get("protocol", "TCP")) for p in c["ports"]},
              "%s: API port %d is not the containerPort named api" % (where, api_port))
        inits = spec.get("initContainers", [])
        check(len(inits) == 1, "%s: expected one init container (the token copy)" % where)
        ic = inits[0]
        check(ic["image"] == IMAGE, "%s: init container image %s, expected %s" % (where, ic["image"], IMAGE))
        check(ic.get("securityContext") == c.get("securityContext"),
              "%s: the init container's securityContext is not the agent's" % where)
        cmd = ic.get("command", [])
        check(len(cmd) == 5 and cmd[:3] == ["install", "-m", "0600"] and cmd[4] == token_file,
              "%s: init container: expected install -m 0600 SECRET %s, got %s" % (where, token_file, cmd))
        imounts = {m["mountPath"]: m for m in ic["volumeMounts"]}
        sm = imounts.get(os.path.dirname(cmd[3]))
        sec = vols.get(sm["name"] if sm else None, {}).get("secret")
        check(sec is not None, "%s: init container: %s is not on a Secret volume" % (where, cmd[3]))
        sitems = {i["path"]: i["key"] for i in sec.get("items", [])}
        skey = sitems.get(os.path.basename(cmd[3]), os.path.basename(cmd[3]))
        check((sec["secretName"], skey) in made,
              "%s: Secret %s key %s: no 'kubectl create secret generic' for it in the docs" % (where, sec["secretName"], skey))
        dm = imounts.get(os.path.dirname(token_file))
        check(dm and not dm.get("readOnly") and "emptyDir" in vols.get(dm["name"], {}),
              "%s: init container: %s is not on a writable emptyDir" % (where, token_file))
        check(mounts.get(os.path.dirname(token_file)) == dm["name"],
              "%s: the agent does not mount the init container's %s" % (where, os.path.dirname(token_file)))
        # What kubelet makes of the Secret's mode: fsGroup adds group read (kubernetes#57923).
        secret_mode = sec.get("defaultMode", 0o644) | (0o440 if sc.get("fsGroup") is not None else 0)
        copy = {"argv": cmd, "src": cmd[3], "dst": token_file, "src_mode": secret_mode, "as_root": False}
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
                         "addr": "%s:%d" % (fake_ip, port), "where": where,
                         "api_addr": "%s:%d" % (fake_ip, api_port), "token_file": token_file, "copy": copy})
    ok("deploy/k8s: headless Service, StatefulSet of %d voters, PodDisruptionBudget, DaemonSet, "
       "ConfigMap and Secret agree with the image and the binary" % replicas)
    # Prometheus' pod discovery keeps exactly the containerPorts named api.
    ppath = os.path.join(DEPLOY, "prometheus", "kubernetes.yml")
    job, cred = scrape_job(ppath)
    check([sd.get("role") for sd in job.get("kubernetes_sd_configs", [])] == ["pod"],
          "%s: expected kubernetes_sd_configs with role pod" % ppath)
    for w in (sts, ds):
        tmpl = w["spec"]["template"]
        kept = set()
        for c in tmpl["spec"]["containers"] + tmpl["spec"].get("initContainers", []):
            for p in c.get("ports", []):
                meta = {"__meta_kubernetes_pod_container_port_name": p.get("name", ""),
                        "__meta_kubernetes_pod_container_port_number": str(p["containerPort"]),
                        "__meta_kubernetes_pod_container_port_protocol": p.get("protocol", "TCP"),
                        "__meta_kubernetes_pod_container_name": c["name"]}
                for k, v in tmpl["metadata"].get("labels", {}).items():
                    meta["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k)] = v
                keep = True
                for r in job.get("relabel_configs", []):
                    if r.get("action") in ("keep", "drop"):
                        val = r.get("separator", ";").join(meta.get(l, "") for l in r["source_labels"])
                        hit = re.fullmatch(r.get("regex", "(.*)"), val) is not None
                        keep = keep and (hit if r["action"] == "keep" else not hit)
                if keep:
                    kept.add((p["containerPort"], p.get("protocol", "TCP")))
        api_port = int(flag_value(tmpl["spec"]["containers"][0]["args"], "--api", w["kind"]).rpartition(":")[2])
        check(kept == {(api_port, "TCP")}, "%s: Prometheus would scrape %s of %s %s, expected only the API port %d"
              % (ppath, sorted(kept), w["kind"], w["metadata"]["name"], api_port))
    ptext = open(ppath).read()
    check(re.search(r"platelet token create --scope read --tokens (\S+) --out (\S+)", ptext),
          "%s: does not say how to make Prometheus' read token" % ppath)
    m = re.search(r"create secret generic \S+ --from-file=([\w.]+)=", ptext)
    check(m and m.group(1) == os.path.basename(cred),
          "%s: the Secret for Prometheus' token is not mounted as its credentials_file %s" % (ppath, cred))
    ok("deploy/k8s: API port %d on every pod, token copied by the init container to %s, Prometheus keeps exactly that port"
       % (int(pods[0]["api_addr"].rpartition(":")[2]), pods[0]["token_file"]))
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


def http_get(addr, path, token=None):
    req = urllib.request.Request("http://%s%s" % (addr, path))
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def run_topology(label, nodes, names, key):
    """Starts every node with its manifest argv, mapped to loopback; checks; stops."""
    used = os.path.join(TEST_DIR, "ports")
    local = {}
    for n in nodes:
        n["port"] = free_port(used)
        local[n["addr"]] = "127.0.0.1:%d" % n["port"]
        n["api_port"] = free_port(used)
        local[n["api_addr"]] = "127.0.0.1:%d" % n["api_port"]
    # The tokens as the docs make them: the agents' file with Prometheus' read token.
    tokens = os.path.join(TEST_DIR, label + "-api.tokens")
    prom_token = os.path.join(TEST_DIR, label + "-prometheus.token")
    out = run([PLATELET, "token", "create", "--scope", "read", "--tokens", tokens, "--out", prom_token])
    check(out.returncode == 0, "platelet token create: %s" % out.stderr.strip())

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
        cp = n["copy"]
        paths = {n["config_path"], n["token_file"], cp["src"], cp["dst"]}
        argv = [root + a if a in paths else a for a in argv]
        for a in argv:
            check(not re.search(r"\$[({]", a), "%s: %s left unsubstituted" % (n["where"], a))
        # The runtime's part: the Secret (or your host file) at its mount, the empty volume.
        os.makedirs(os.path.dirname(root + cp["src"]), exist_ok=True)
        os.makedirs(os.path.dirname(root + cp["dst"]), exist_ok=True)
        shutil.copyfile(tokens, root + cp["src"])
        os.chmod(root + cp["src"], cp["src_mode"])
        if cp["src_mode"] & 0o077 and n is nodes[0]:
            # Why the copy exists: the agent refuses the Secret's file as it is mounted.
            bad = [root + cp["src"] if a == root + n["token_file"] else a for a in argv]
            out = run([PLATELET, *bad])
            check(out.returncode != 0 and "readable or writable by group or others" in out.stderr + out.stdout,
                  "%s: the agent did not refuse the Secret's file of mode %03o: rc %d %s"
                  % (n["where"], cp["src_mode"], out.returncode, (out.stderr + out.stdout).strip()[-300:]))
        copy_argv = [root + a if a in paths else a for a in cp["argv"]]
        if cp["as_root"] and os.geteuid() != 0:  # as root it chowns to the image's user
            i = copy_argv.index("-o")
            del copy_argv[i:i + 4]
        out = run(copy_argv)
        check(out.returncode == 0, "%s: the token copy %s failed: %s" % (n["where"], copy_argv, out.stderr.strip()))
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
    # What Prometheus does: GET /v1/metrics on each API address with the read token.
    prom = open(prom_token).read().strip()
    for n in nodes:
        addr = "127.0.0.1:%d" % n["api_port"]
        status, body = http_get(addr, "/v1/metrics", prom)
        check(status == 200 and "platelet_build_info" in body,
              "%s %s: GET /v1/metrics with the read token: %d %s" % (label, n["name"], status, body[:200]))
    status, _ = http_get("127.0.0.1:%d" % nodes[0]["api_port"], "/v1/metrics")
    check(status == 401, "%s %s: GET /v1/metrics without a token answered %d, expected 401" % (label, nodes[0]["name"], status))
    ok("%s: every agent's TCP API serves /v1/metrics to Prometheus' read token, 401 without" % label)
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
