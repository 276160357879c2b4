#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo scenario, inside the VM (tests/demo/run.sh):
#
#   origin ---- r1 ---- r2 ---- r3 ---- terminus      (veth, 10.0.L.0/24)
#   maq0 172.31.0.1                     maq0 172.31.0.2
#
# A 3-hop circuit is installed with the test helper maqtool (the daemon's
# 1-RTT setup is not there yet), then ping and iperf3 run through maq0 and
# each host's own view of the circuit is printed with the maquis CLI.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
maqtool=$top/tests/kmod/maqtool
maquis=$top/daemon/maquis
HOSTS=(origin r1 r2 r3 term)
tmp=$(mktemp -d)

cleanup() {
	local h
	set +e
	for h in "${HOSTS[@]}"; do
		ip netns pids "dm-$h" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "dm-$h" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

n() { local h=$1; shift; ip netns exec "dm-$h" "$@"; }
say() { printf '\n== %s\n' "$*"; }

say "topology: origin - r1 - r2 - r3 - terminus, one network namespace each"
modprobe veth
for h in "${HOSTS[@]}"; do
	ip netns add "dm-$h"
	ip -n "dm-$h" link set lo up
	ip -n "dm-$h" link add maq0 type maquis
	ip -n "dm-$h" link set maq0 up
done
for i in 1 2 3 4; do
	w=${HOSTS[i - 1]} e=${HOSTS[i]}
	ip link add veth-r netns "dm-$w" type veth peer name veth-l netns "dm-$e"
	ip -n "dm-$w" addr add "10.0.$i.1/24" dev veth-r
	ip -n "dm-$e" addr add "10.0.$i.2/24" dev veth-l
	ip -n "dm-$w" link set veth-r up
	ip -n "dm-$e" link set veth-l up
done
ip -n dm-origin addr add 172.31.0.1/32 dev maq0
ip -n dm-origin route add 172.31.0.2/32 dev maq0
ip -n dm-term addr add 172.31.0.2/32 dev maq0
ip -n dm-term route add 172.31.0.1/32 dev maq0

say "circuit: keys, counter bases and cids installed in each namespace"
"$maqtool" install --id 7 --lifetime 600 \
	--origin dm-origin,maq0,10.0.1.1 \
	--relay dm-r1,maq0,10.0.1.2,10.0.2.1 \
	--relay dm-r2,maq0,10.0.2.2,10.0.3.1 \
	--relay dm-r3,maq0,10.0.3.2,10.0.4.1 \
	--terminus dm-term,maq0,10.0.4.2 \
	--route 172.31.0.2/32 --back-route 172.31.0.1/32 | sed 's/^/   /'

say "ping 172.31.0.2 from the origin, through maq0 and three relays"
n origin ping -c 5 -i 0.2 -W 3 172.31.0.2 | tail -2

say "iperf3 TCP, 5 seconds, origin -> terminus through the circuit"
n term iperf3 -s -1 -B 172.31.0.2 >"$tmp/iperf-s" 2>&1 &
sleep 1
n origin iperf3 -c 172.31.0.2 -t 5 --connect-timeout 5000 | grep -E 'sender|receiver'
wait

say "what each host knows of the circuit (maquis circuit list, in its namespace)"
printf '   %-7s %-9s %-16s %-16s\n' host role previous next
for h in "${HOSTS[@]}"; do
	n "$h" "$maquis" circuit list |
		awk -F'\t' -v h="$h" '{printf "   %-7s %-9s %-16s %-16s\n", h, $3, $4, $5}'
done
echo "   Each relay sees only its two neighbours' addresses; only the origin"
echo "   and the terminus hold the inner addresses, and neither knows the other's"
echo "   underlay address."

say "a cell copied off the r1 -> r2 link, two bits flipped, sent again: r2 drops it"
before=$(n r2 "$maquis" stats maq0 | awk -F'\t' '$2 == "drop-bad-tag" {print $3}')
n r1 timeout 10 "$maqtool" capture --dev veth-r --port "$(n r2 "$maquis" show maq0 | head -1 | cut -f2)" \
	--dir out --count 1 --timeout 8000 --out "$tmp/cell" &
sleep 1
n origin ping -c 1 -W 2 172.31.0.2 >/dev/null || true
wait
# r2 has seen this cell: move its counter too (seq byte 6), or the replay
# window, checked first, would drop it before the tag is even computed.
n r1 "$maqtool" inject --dev veth-r --in "$tmp/cell" --flip 6.0 --flip 100.3 >/dev/null
sleep 0.5
after=$(n r2 "$maquis" stats maq0 | awk -F'\t' '$2 == "drop-bad-tag" {print $3}')
echo "   r2 drop-bad-tag: $before -> $after"

say "counters per host (cells in/out, drops)"
for h in "${HOSTS[@]}"; do
	printf '%-7s %s\n' "$h" "$(n "$h" "$maquis" stats maq0 |
		awk -F'\t' '$3 != 0 {printf "%s=%s ", $2, $3}')"
done
[[ $after -gt $before ]]
echo
echo "maquis demo: done"
