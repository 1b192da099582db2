#!/usr/bin/env bash
# The chaos harness's disk nemeses. `platelet chaos run tests/chaos/disk_full_voter.json` gives
# each of three agents a tmpfs of its own for its data dir (in the harness's private mount
# namespace) and fills the leader's, then a follower's, to the last byte under a proposal load:
# every check must hold (exit 0), the report must name the disk_full nemesis and its tmpfs, show
# each fill left the file system with no byte free, and show the full voter refused: proposals
# to it answered 507 (no space), its log saying "no space", appends it dropped below its
# reserve; the page's disk table says the same. Nothing of the run stays mounted here. Then
# disk_stall: a run whose leader's ext4 data dir (a loop device) is frozen is SIGKILLed while
# the agent is blocked in the kernel on its frozen disk; its guard must thaw it, so the agents
# die with the harness and their loop devices go. Without root a disk scenario exits 2 naming
# the nemesis. What breaks it: a disk that is not full, a full voter that accepts or loses
# proposals, a check that fails, mounts that leak out of the run, or a frozen file system left
# behind. Needs root and mount namespaces: exit 77 (skipped) otherwise.
source "$(dirname "$0")/lib.sh"
SRC=${PLATELET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SCENARIO="$SRC/tests/chaos/disk_full_voter.json"

[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (a tmpfs per agent's data dir)"; exit 77; }
unshare --mount --propagation private true 2>/dev/null ||
    { echo "skipped: no mount namespaces here (unshare --mount failed)"; exit 77; }
export TMPDIR="$TEST_DIR/tmp"
mkdir -p "$TMPDIR"

# Not root: refused before anything starts, naming the nemesis.
if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$PLATELET" 2>/dev/null; then
    set +e
    setpriv --reuid=65534 --regid=65534 --clear-groups "$PLATELET" chaos run "$SCENARIO" \
        2>"$TEST_DIR/nonroot.err"
    rc=$?
    set -e
    [ $rc = 2 ] && grep -q 'nemeses\[0\] (disk_full, fill the leader.s disk) needs root' \
        "$TEST_DIR/nonroot.err" || fail "not root: exit $rc, $(cat "$TEST_DIR/nonroot.err")"
    pass "not root: exit 2 naming the disk_full nemesis"
fi

"$PLATELET" chaos run "$SCENARIO" --json "$TEST_DIR/r.json" --html "$TEST_DIR/r.html" \
    2>"$TEST_DIR/run.log" ||
    fail "disk_full_voter: a check failed:" \
        "$(grep -E 'FAILS|failed|data dir' "$TEST_DIR/run.log" | head -5)"
pass "disk_full_voter: every check holds ($(tail -1 "$TEST_DIR/run.log"))"
! grep -q "$TMPDIR" /proc/self/mountinfo ||
    fail "a mount of the run is seen outside it: $(grep "$TMPDIR" /proc/self/mountinfo)"
[ -z "$(ls "$TMPDIR")" ] || fail "the scratch folder was left behind: $(ls "$TMPDIR")"
pass "nothing of the run is mounted here; the scratch folder is removed"

python3 - "$TEST_DIR/r.json" "$TEST_DIR/r.html" <<'PY' || fail "the report"
import json, re, sys
r = json.load(open(sys.argv[1]))
page = open(sys.argv[2]).read()
assert r["verdict"] == "pass", r["verdict"]
for c in r["checks"]:
    assert c["holds"], c
names = {c["name"] for c in r["checks"]}
assert {"liveness", "safety.ledgers", "safety.acknowledged", "safety.leaders",
        "safety.converged", "healing.nodes"} <= names, names
assert [n["label"] for n in r["nemeses"]] == ["fill the leader's disk", "fill a follower's disk"]
refused = 0
for n in r["nemeses"]:
    assert n["type"] == "disk_full" and "tmpfs" in n["mechanism"] and n["errors"] == 0, n
    (node,) = n["targets"]
    assert any(a.startswith(node + "'s data dir filled") and a.endswith(" 0 bytes left")
               for a in n["actions"]), n["actions"]
    assert any(a == node + "'s filler deleted" for a in n["actions"]), n["actions"]
    d = n["disk"][node]
    # The full voter said no: to the proposals sent to it, in its log, to the appends.
    assert d["proposals_refused_no_space"] > 0 and d["log_lines_no_space"] > 0, d
    assert d["dropped_below_reserve"] > 0, d
    refused += d["proposals_refused_no_space"]
# The first fill hit the leader: another node led after it.
first = r["nemeses"][0]
after = [l for l in r["leaders"] if first["start_ms"] < l["t_ms"] < first["end_ms"]]
assert after and after[0]["node"] != first["targets"][0], ("no other leader", r["leaders"])
# The page's disk table: a row per nemesis and target, the refusals as in the JSON.
table = re.search(r'<table id="chaos-disk">(.*?)</table>', page, re.S)
assert table, "no disk table on the page"
rows = re.findall(r"<tr><td>[^<]*</td><td>(n\d)</td><td>[^<]*</td><td>\d+</td><td>\d+</td>"
                  r"<td>(\d+)</td>", table.group(1))
assert [(n, int(k)) for n, k in rows] == [
    (m["targets"][0], m["disk"][m["targets"][0]]["proposals_refused_no_space"])
    for m in r["nemeses"]], rows
p = r["workload"]["proposals"]
assert p["acknowledged"] >= 100, p
print("ok: report: %d proposals refused for no space, %d acknowledged, none lost; %s led "
      "while %s was full" % (refused, p["acknowledged"], after[0]["node"], first["targets"][0]))
PY

# disk_stall: the harness SIGKILLed while an agent is blocked on its frozen disk.
cat >"$TEST_DIR/stall.json" <<'JSON'
{"name": "stall-kill", "nodes": 3, "voters": 3, "duration_s": 40, "seed": 4, "control_s": 2,
 "liveness_s": 10, "workload": {"clients": 2, "proposals_per_s": 20, "http_per_s": 0},
 "nemeses": [{"type": "disk_stall", "label": "stall the leader", "target": "leader",
              "at_s": 2, "duration_s": 30}]}
JSON
"$PLATELET" chaos run "$TEST_DIR/stall.json" 2>"$TEST_DIR/stall.log" &
HPID=$!
PIDS+=("$HPID")
wait_for 30 "the stall to start" grep -q "stall the leader starts" "$TEST_DIR/stall.log"
agents() { pgrep -P "$HPID" -f "platelet agent" 2>/dev/null || true; }
mapfile -t AGENTS < <(agents)
[ "${#AGENTS[@]}" = 3 ] || fail "not three agents under the harness: ${AGENTS[*]}"
blocked() {
    # Any of its threads: the Raft log writer's thread waits for the disk, not the loop.
    for p in "${AGENTS[@]}"; do
        for t in "/proc/$p/task/"*/stat; do
            [ "$(awk '{print $3}' "$t" 2>/dev/null)" = D ] && return 0
        done
    done
    return 1
}
wait_for 10 "an agent blocked in the kernel on its frozen disk (state D)" blocked
pass "the leader's ext4 data dir is frozen: its agent blocks in the kernel"
kill -KILL "$HPID"
gone() { for p in "${AGENTS[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
loops() { losetup -a | grep -F "$TMPDIR" || true; }
deadline=$((SECONDS + 20))
while ! gone && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
if ! gone; then
    # Leave no frozen file system behind on this machine, whatever the verdict.
    for p in "${AGENTS[@]}"; do
        for d in "$TMPDIR"/platelet-chaos.*/n*/data; do
            nsenter -t "$p" -m fsfreeze -u "$d" 2>/dev/null || true
        done
    done
    fail "agents still alive after the harness was killed: the guard did not thaw their disks"
fi
wait_for 10 "the run's loop devices released" test -z "$(loops)"
pass "SIGKILLed mid-stall: the guard thawed the disk, the agents ended, no loop device is left"
