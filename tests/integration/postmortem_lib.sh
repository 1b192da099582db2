# Shared by postmortem_cli.sh and postmortem_html.sh, sourced with the binary's path as $1
# after cli_lib.sh: `check`, `append`, `step`, and `pm_ledger`, which writes the test ledger
# into $D (leaf indexes in the comments; event kinds 0 opened, 1 diagnosed, 2 action,
# 3 result, 9 closed): steps of inc-web on n1 and inc-db on n2, member events, a note, a
# decision, a Raft config change, a rejected entry, and context before and after the window.
D="$T/data"

check() { # EXPR over the JSON document in $T/out (as d), DESCRIPTION
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' \
        "$T/out" "$1" || fail "$2: $(head -c 600 "$T/out")"
}
T0=1700000000000 # ledger time of the first step of inc-web
append() { # KIND TIME_OFFSET_MS
    "$P" ledger append --data-dir "$D" --kind "$1" --time $((T0 + $2)) >/dev/null ||
        fail "append $1"
}
step() { # node id seq event action result outcome class cause signal detail
    printf '{"node":"%s","id":"%s","seq":%d,"service":"web","event":%d,"action":%d,"result":%d,"level":1,"cls":%d,"cause":%d,"signal":%d,"outcome":"%s","t_ms":%d,"detail":"%s"}\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$8" "$9" "${10}" "$7" "$T0" "${11}"
}
pm_ledger() {
    echo '{"node":"n3","event":"dead","inc":1}' | append member_event -90000          # 0: too old
    echo '{"text":"deploy web 1.2"}' | append note -30000                             # 1: not listed
    echo '{"node":"n2","event":"dead","inc":1}' | append member_event -20000          # 2
    step n2 inc-db 0 0 0 0 "" 0 0 1 "db exited" | append incident -10000             # 3: another
    step n1 inc-web 0 0 0 0 "" 0 0 1 "exit 137" | append incident 0                  # 4: first step
    step n1 inc-web 1 1 0 0 "" 3 7 1 "fourth exit in 5 min" | append incident 1000    # 5
    echo '{"node":"n1","service":"web","action":1,"incident":"inc-web","reason":"restart","rollout":0}' |
        append decision 1500                                                          # 6
    { step n1 inc-web 2 2 1 0 "" 3 7 1 "restart"; step n1 inc-web 2 2 1 0 "" 3 7 1 "restart"; } |
        append incident 2000                                                          # 7, 8 (dup)
    echo '{"servers":[{"id":"0000000000000001","role":"voter"}]}' | append raft.config 2500  # 9
    echo '{"node":"n1"}' | append incident 3000                                       # 10: rejected
    step n1 inc-web 3 3 1 0 "" 3 7 1 "restarted" | append incident 4000              # 11
    step n2 inc-db 1 9 0 0 failed 0 0 1 "gave up" | append incident 4500             # 12
    step n1 inc-web 4 9 0 0 healed 3 7 1 "healthy" | append incident 5000            # 13: close
    echo '{"node":"n2","event":"alive","inc":2}' | append member_event 6000           # 14: after
}
