# Shared by the gossip tests: agents with fast gossip timings (the protocol is the same),
# started by name, and what one agent sees of another. Source it after lib.sh.
cat >"$TEST_DIR/fast.json" <<'JSON'
{"enable_faults": true,
 "gossip": {"probe_interval_ms": 200, "probe_timeout_ms": 100, "gossip_interval_ms": 50,
            "suspicion_mult": 3, "pushpull_interval_ms": 2000, "reap_dead_ms": 600000,
            "reap_left_ms": 600000}}
JSON

declare -A PORT PID
start_node() { # name [extra flags...]
    local name=$1
    shift
    PORT[$name]=$(free_port)
    spawn "$name" "$PLATELET" agent --config "$TEST_DIR/fast.json" --name "$name" \
        --bind "127.0.0.1:${PORT[$name]}" --data-dir "$TEST_DIR/$name" "$@"
    PID[$name]=$SPAWNED_PID
    wait_for 10 "$name API" test -S "$TEST_DIR/$name/api.sock"
}
api() { echo "unix:$TEST_DIR/$1/api.sock"; }
# status_of OBSERVER MEMBER: the member's status as OBSERVER sees it.
status_of() {
    "$PLATELET" members --api "$(api "$1")" --json |
        python3 -c 'import json,sys; print({m["name"]: m["status"] for m in json.load(sys.stdin)}.get(sys.argv[1], "none"))' "$2"
}
count_status() { # observer status
    "$PLATELET" members --api "$(api "$1")" --json |
        python3 -c 'import json,sys; print(sum(m["status"] == sys.argv[1] for m in json.load(sys.stdin)))' "$2"
}
sees() { [ "$(count_status "$1" "$2")" = "$3" ]; }
is_status() { [ "$(status_of "$1" "$2")" = "$3" ]; }

