#!/usr/bin/env bash
# The agent's fault rules on its real gossip transport, two agents on loopback:
#  - `platelet fault dup --rate 1 --direction out` on n1 delivers each of its datagrams
#    twice: n2 receives about twice the packets n1's core sent (n2 hears from no one else),
#    and the duplicates are counted in the fault status and in /v1/metrics.
#  - `platelet fault partition --peer n2` on n1 alone: n2 declares n1 dead, which it does
#    only if n1 also drops the gossip TCP connections n2 opens (TCP pings, push-pulls).
# What breaks it: a dup rule that counts without sending the copy, or sends nothing; fault
# rules that miss incoming gossip TCP.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/gossip_lib.sh"

fault_count() { # node field
    json_get "$("$PLATELET" fault list --api "$(api "$1")" --json)" "int(d['$2'])"
}
dup_at_least() { [ "$(fault_count n1 duplicated)" -ge "$1" ]; }

start_node n1
start_node n2 --join "127.0.0.1:${PORT[n1]}"
wait_for 20 "n1 and n2 see each other alive" is_status n2 n1 alive
wait_for 20 "n1 sees n2 alive" is_status n1 n2 alive

# --- dup: every datagram n1 sends arrives twice --------------------------------------
"$PLATELET" fault dup --rate 1 --direction out --api "$(api n1)" >/dev/null
tx0=$(gossip_counter "$(api n1)" tx_packets)
rx0=$(gossip_counter "$(api n2)" rx_packets)
d0=$(fault_count n1 duplicated)
wait_for 30 "n1 duplicates 60 datagrams" dup_at_least $((d0 + 60))
rx1=$(gossip_counter "$(api n2)" rx_packets)
tx1=$(gossip_counter "$(api n1)" tx_packets)
# n2's window lies inside n1's, so without the copies n2 could count at most n1's packets
# (and a push-pull or two over TCP, which rx_packets counts as well); with them, about
# twice (1.5x measured; 1.3x asked).
sent=$((tx1 - tx0)) got=$((rx1 - rx0))
[ $((got * 10)) -ge $((sent * 13)) ] ||
    fail "n1 sent $sent datagrams with a dup rule, n2 received only $got"
"$PLATELET" fault clear --api "$(api n1)" >/dev/null
metric=$(curl -sf --unix-socket "$TEST_DIR/n1/api.sock" http://agent/v1/metrics |
    sed -n 's/^platelet_fault_injected_total{effect="duplicated"} //p')
[ "${metric%.*}" -ge 60 ] || fail "/v1/metrics counts $metric duplicated"
pass "dup: n1 sent $sent datagrams, n2 received $got; $metric duplicates in /v1/metrics"

# --- a one-sided partition holds for incoming gossip TCP too --------------------------
# Only n1 cuts n2 off. n2's probes then fall back to a TCP ping, and its push-pulls go over
# TCP as well; n1 accepts those connections (the kernel does), and must drop them by the
# sender the request names, or n2 goes on seeing n1 alive through them.
"$PLATELET" fault partition --peer n2 --api "$(api n1)" >/dev/null
tcp0=$(gossip_counter "$(api n2)" tcp_pings)
wait_for 30 "n2 stops seeing n1 alive (its TCP pings refused)" is_status n2 n1 dead
[ "$(gossip_counter "$(api n2)" tcp_pings)" -gt "$tcp0" ] || fail "n2 tried no TCP ping"
"$PLATELET" fault clear --api "$(api n1)" >/dev/null
wait_for 30 "n2 sees n1 alive again" is_status n2 n1 alive
pass "a partition set on n1 alone cuts n2's TCP pings and push-pulls to n1 too"
