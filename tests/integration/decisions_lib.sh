# Helpers of the healer's decision tests (sourced after lib.sh and raft_lib.sh): services
# whose wrapper counts their starts in $TEST_DIR/NODE.starts, and the /v1/decisions view.
starts() { [ -f "$TEST_DIR/$1.starts" ] && wc -l <"$TEST_DIR/$1.starts" || echo 0; }
has_starts() { [ "$(starts "$1")" -eq "$2" ]; }
decisions() { "$PLATELET" decisions --api "unix:$(sock "$1")" --json; }
# q NODE EXPR: a Python expression over NODE's /v1/decisions document (d); exit 0 if true.
q() {
    decisions "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if eval(sys.argv[1]) else 1)' "$2"
}
# all_alive: r1, r2 and r3 alive in r1's swarm state (a rollout takes the alive members).
all_alive() { "$PLATELET" swarm status --api "unix:$(sock r1)" --json | python3 -c '
import json, sys
m = {x["name"]: x["status"] for x in json.load(sys.stdin)["state"]["members"]}
sys.exit(0 if all(m.get(n) == "alive" for n in ("r1", "r2", "r3")) else 1)'; }
