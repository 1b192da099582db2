#!/usr/bin/env python3
"""Checks of the agent's GET /v1/metrics for metrics_endpoint.sh.

  metrics_check.py names SCRAPE            parses SCRAPE with Debian's python3-prometheus-client
                                           and checks every name against Prometheus' naming
                                           rules and that the families the issue asks for are
                                           there
  metrics_check.py moved BEFORE AFTER      exits 0 once every series in MOVED below grew from
                                           BEFORE to AFTER and the gauges in AFTER_GAUGES hold
                                           (prints what has not, for the wait's last try)
  metrics_check.py grafana SCRAPE DASH     every query of the Grafana dashboard DASH names only
                                           metrics SCRAPE has
  metrics_check.py prometheus SCRAPE YML   the Prometheus scrape example reads /v1/metrics with
                                           `authorization: credentials_file`
"""
import json
import re
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's package lives in the system interpreter's dist-packages; a python3 from
    # elsewhere (pyenv, a venv) first on PATH does not see it.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

# The families the issue asks for: members by status, probes, suspicions, messages and
# bytes; term, leader, commit and applied index, proposal latency; incidents open and by
# class, actions by type and result, time to heal; ledger size.
REQUIRED = {
    "platelet_gossip_members": "gauge",
    "platelet_gossip_probes_total": "counter",
    "platelet_gossip_probe_failures_total": "counter",
    "platelet_gossip_suspicions_total": "counter",
    "platelet_gossip_sent_messages_total": "counter",
    "platelet_gossip_received_messages_total": "counter",
    "platelet_gossip_sent_bytes_total": "counter",
    "platelet_gossip_received_bytes_total": "counter",
    "platelet_raft_term": "gauge",
    "platelet_raft_leader": "gauge",
    "platelet_raft_commit_index": "gauge",
    "platelet_raft_applied_index": "gauge",
    "platelet_raft_proposal_duration_seconds": "histogram",
    "platelet_heal_incidents_open": "gauge",
    "platelet_heal_incidents_total": "counter",
    "platelet_heal_actions_total": "counter",
    "platelet_heal_time_to_heal_seconds": "histogram",
    "platelet_ledger_entries": "gauge",
}
REQUIRED_LABELS = {
    "platelet_gossip_members": {"status"},
    "platelet_heal_incidents_open": {"class"},
    "platelet_heal_incidents_total": {"class"},
    "platelet_heal_actions_total": {"action", "result"},
}

# Series that must grow after the fault (a crashed service healed, a member killed).
MOVED = [
    'platelet_heal_incidents_total{class="transient"}',
    'platelet_heal_actions_total{action="restart",result="done"}',
    "platelet_heal_time_to_heal_seconds_count",
    'platelet_heal_service_starts_total{service="web"}',
    "platelet_raft_commit_index",
    "platelet_raft_applied_index",
    "platelet_raft_proposal_duration_seconds_count",
    "platelet_ledger_entries",
    "platelet_gossip_probes_total",
    "platelet_gossip_probe_failures_total",
    "platelet_gossip_suspicions_total",
    "platelet_gossip_deaths_declared_total",
    "platelet_gossip_sent_messages_total",
    "platelet_gossip_sent_bytes_total",
    "platelet_gossip_received_messages_total",
    "platelet_gossip_received_bytes_total",
]
AFTER_GAUGES = {
    'platelet_gossip_members{status="dead"}': 1,
    'platelet_gossip_members{status="alive"}': 1,
    "platelet_heal_outbox_steps": 0,
    'platelet_heal_incidents_open{class="transient"}': 0,
    'platelet_heal_service_healthy{service="web"}': 1,
}

NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # ':' is for recording rules only
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Units other than the base ones (Prometheus: seconds, bytes; ratios 0..1, not percent).
NOT_BASE_UNITS = {"ms", "msec", "millis", "milliseconds", "us", "usec", "microseconds",
                  "ns", "nanoseconds", "minutes", "hours", "days", "kb", "kib", "mb", "mib",
                  "gb", "gib", "kilobytes", "megabytes", "percent", "bits"}
TIME_WORDS = {"duration", "latency", "time", "delay", "age", "uptime", "elapsed"}
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created", "_info")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def declared(text):
    """The TYPE and HELP lines: {name: type}, {name: help}, in the order written."""
    types, helps = {}, {}
    for line in text.splitlines():
        m = re.match(r"^# (TYPE|HELP) (\S+) ?(.*)$", line)
        if not m:
            continue
        kind, name, rest = m.groups()
        table = types if kind == "TYPE" else helps
        if name in table:
            fail(f"{kind} of {name} written twice")
        table[name] = rest
    return types, helps


def series(text):
    """{'name{a="x",b="y"}': value} with labels sorted, parsed by prometheus_client."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            lab = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            key = f"{s.name}{{{lab}}}" if lab else s.name
            if key in out:
                fail(f"series {key} written twice")
            out[key] = s.value
    return out


def norm(key):
    """A series key as series() spells it (labels sorted)."""
    m = re.match(r"^([^{]+)(?:\{(.*)\})?$", key)
    name, lab = m.group(1), m.group(2)
    if not lab:
        return name
    pairs = sorted(re.findall(r'(\w+)="([^"]*)"', lab))
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"


def check_names(text):
    types, helps = declared(text)
    fams = list(text_string_to_metric_families(text))  # raises on a malformed line
    if not fams:
        fail("no metrics")
    for name, typ in types.items():
        words = name.split("_")
        if not NAME_RE.match(name):
            fail(f"{name}: not a valid metric name (snake_case, no colons)")
        if name != name.lower():
            fail(f"{name}: not snake_case")
        if not name.startswith("platelet_"):
            fail(f"{name}: no platelet_ prefix")
        if typ not in ("counter", "gauge", "histogram"):
            fail(f"{name}: type {typ}")
        if typ == "counter" and not name.endswith("_total"):
            fail(f"{name}: a counter's name must end in _total")
        if typ != "counter" and name.endswith("_total"):
            fail(f"{name}: only counters end in _total")
        if name.endswith(SUFFIXES[:3]) or name.endswith("_created"):
            fail(f"{name}: ends in a suffix reserved for histogram and counter series")
        if name.endswith("_info") and typ != "gauge":
            fail(f"{name}: an _info metric is a gauge")
        bad = NOT_BASE_UNITS.intersection(words)
        if bad:
            fail(f"{name}: unit {bad.pop()} is not a base unit (seconds, bytes)")
        base = name[: -len("_total")] if name.endswith("_total") else name
        for unit in ("seconds", "bytes"):
            if unit in words and not base.endswith("_" + unit):
                fail(f"{name}: the unit {unit} must come last (before _total)")
        if TIME_WORDS.intersection(words) and not base.endswith("_seconds"):
            fail(f"{name}: a time needs its unit: _seconds")
        if not helps.get(name):
            fail(f"{name}: no HELP text")
    if set(helps) != set(types):
        fail(f"HELP without TYPE or the other way: {set(helps) ^ set(types)}")
    # Every sample belongs to a declared family; label names are valid, `le` on buckets only.
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m:
            fail(f"sample line not as the format spells it: {line!r}")
        name, labels = m.group(1), m.group(3) or ""
        fam = name
        if fam not in types:
            for suf in ("_bucket", "_sum", "_count"):
                if name.endswith(suf) and types.get(name[: -len(suf)]) == "histogram":
                    fam = name[: -len(suf)]
        if fam not in types:
            fail(f"sample {name} of no declared family")
        for lname in re.findall(r'(\w+)="', labels):
            if not LABEL_RE.match(lname) or lname.startswith("__"):
                fail(f"{name}: label name {lname}")
            if lname == "le" and not name.endswith("_bucket"):
                fail(f"{name}: label le outside a histogram bucket")
    for name, typ in REQUIRED.items():
        if types.get(name) != typ:
            fail(f"{name}: missing or not a {typ} (have {types.get(name)})")
    for fam in fams:
        full = fam.name + "_total" if fam.type == "counter" else fam.name
        for need in REQUIRED_LABELS.get(full, ()):
            if not all(need in s.labels for s in fam.samples):
                fail(f"{full}: a sample without the label {need}")
    print(f"{len(types)} families, {sum(len(f.samples) for f in fams)} samples: names follow "
          "the rules; every family asked for is there")


def check_moved(before_text, after_text):
    before, after = series(before_text), series(after_text)
    missing = []
    for key in MOVED:
        k = norm(key)
        if k not in before or k not in after:
            fail(f"{key}: not in both scrapes")
        if not after[k] > before[k]:
            missing.append(f"{key} {before[k]} -> {after[k]}")
    for key, want in AFTER_GAUGES.items():
        k = norm(key)
        if after.get(k) != want:
            missing.append(f"{key} is {after.get(k)}, want {want}")
    if missing:
        print("not yet: " + "; ".join(missing))
        sys.exit(1)
    print(f"{len(MOVED)} counters and gauges moved after the fault")


def queries(node, out):
    """Every Prometheus query string in a dashboard: each `expr`, and the query of each
    templating variable of type "query" (a datasource variable's query is a plugin id)."""
    if isinstance(node, dict):
        if node.get("type") == "query" and "query" in node:
            q = node["query"]
            out.append(q if isinstance(q, str) else q.get("query", ""))
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                out.append(v)
            elif k != "query":
                queries(v, out)
    elif isinstance(node, list):
        for v in node:
            queries(v, out)
    return out


def check_grafana(text, dash_path):
    names = {re.match(r"^[^{]+", k).group(0) for k in series(text)}
    with open(dash_path) as f:
        dash = json.load(f)
    for key in ("title", "uid", "panels", "schemaVersion"):
        if key not in dash:
            fail(f"{dash_path}: no {key}")
    qs = [q for q in queries(dash, []) if q]
    if len(qs) < 10:
        fail(f"{dash_path}: only {len(qs)} queries")
    used = set()
    for q in qs:
        found = re.findall(r"\b(platelet_[a-z0-9_]+)", q)
        if not found:
            fail(f"{dash_path}: a query names no platelet metric: {q}")
        for n in found:
            if n not in names:
                fail(f"{dash_path}: {q!r} names {n}, which the live scrape does not have")
            used.add(n)
    for p in dash["panels"]:
        if p.get("type") != "row" and not p.get("targets"):
            fail(f"{dash_path}: panel {p.get('title')!r} has no query")
    for fam in REQUIRED:
        if not any(u == fam or u.startswith(fam + "_") for u in used):
            fail(f"{dash_path}: charts nothing of {fam}")
    print(f"{len(qs)} dashboard queries name {len(used)} metrics, all in the live scrape")


def check_prometheus(yml_path):
    import yaml
    with open(yml_path) as f:
        doc = yaml.safe_load(f)
    jobs = [j for j in doc.get("scrape_configs", []) if j.get("metrics_path") == "/v1/metrics"]
    if not jobs:
        fail(f"{yml_path}: no scrape job with metrics_path /v1/metrics")
    for j in jobs:
        if "credentials_file" not in (j.get("authorization") or {}):
            fail(f"{yml_path}: job {j.get('job_name')} has no authorization: credentials_file")
        if "bearer_token" in j or "bearer_token_file" in j:
            fail(f"{yml_path}: job {j.get('job_name')} uses the deprecated bearer_token")
    print(f"{yml_path}: {len(jobs)} job(s) scrape /v1/metrics with a credentials_file")


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    cmd = sys.argv[1]
    read = lambda p: open(p).read()
    if cmd == "names":
        check_names(read(sys.argv[2]))
    elif cmd == "moved":
        check_moved(read(sys.argv[2]), read(sys.argv[3]))
    elif cmd == "grafana":
        check_grafana(read(sys.argv[2]), sys.argv[3])
    elif cmd == "prometheus":
        check_prometheus(sys.argv[2])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
