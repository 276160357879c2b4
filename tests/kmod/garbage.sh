#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Random datagrams at a relay's maquis port while a circuit through it
# carries iperf3: the module must not crash, must count every datagram
# under the drop reason it deserves, and the circuit must keep working.
# Prints KTAP and the figures (sent per kind, counted per reason, Mbit/s).
#
#   origin                relay                  term
#  +------------+      +------------+         +------------+
#  | maq0       |      | maq0       |         | maq0       |
#  | 172.31.0.1 |      |            |         | 172.31.0.2 |
#  |     veth-r +------+ veth-l     |         |            |
#  |  10.0.1.1  |  1   | 10.0.1.2   |         |            |
#  +------------+      |     veth-r +---------+ veth-l     |
#                      |  10.0.2.1  |    2    | 10.0.2.2   |
#                      |     veth-g |         +------------+
#                      |  10.0.9.1  |
#                      +-----+------+
#                            | 9
#                      +-----+------+
#                      | veth-g     |  junk: tests/kmod/garbage sends
#                      | 10.0.9.2   |  the mix from here (see garbage.c)
#                      +------------+
#
# MAQ_GARBAGE sets the datagram count: 100000 by default, about a minute
# under TCG (1-2 thousand datagrams a second with the crypto of the
# tampered ones); MAQ_GARBAGE=1000000 for the full run.  MAQ_GARBAGE_SEED
# reproduces a mix.
#
# Needs root, maquis.ko loaded (or MAQ_KO naming it), veth, iperf3, ping.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
maqtool=$here/maqtool
garbage=$here/garbage
KO=${MAQ_KO:-$top/kmod/maquis.ko}
COUNT=${MAQ_GARBAGE:-100000}
SEED=${MAQ_GARBAGE_SEED:-0}
HOSTS=(origin relay term junk)
tmp=$(mktemp -d /tmp/maq-garbage.XXXXXX)
backlog=$(cat /proc/sys/net/core/netdev_max_backlog)

# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"

n() { local h=$1; shift; ip netns exec "mg-$h" "$@"; }
mt() { local h=$1; shift; "$maqtool" -n "mg-$h" "$@"; }

cleanup() {
	local h

	set +e
	touch "$tmp/stop"
	jobs -p | while read -r p; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for h in "${HOSTS[@]}"; do
		ip netns pids "mg-$h" 2>/dev/null | while read -r p; do kill "$p"; done
		ip netns del "mg-$h" 2>/dev/null
	done
	echo "$backlog" >/proc/sys/net/core/netdev_max_backlog
	rm -rf "$tmp"
}
trap cleanup EXIT

ensure_module() {
	local d

	[[ -d /sys/module/maquis ]] && return 0
	for d in $(modinfo -F depends "$KO" | tr , ' '); do modprobe "$d"; done
	insmod "$KO"
}

declare -A S
# stats PREFIX HOST [ID]: S[PREFIX.counter] = counters of HOST's device
# (or of circuit ID there).
stats() {
	local p=$1 h=$2 k v

	shift 2
	while IFS='=' read -r k v; do S[$p.$k]=$v; done < <(mt "$h" stats maq0 "$@")
}

t_topology() {
	local h

	[[ -x $maqtool && -x $garbage ]] || { log "build first: make -C tests/kmod"; return 1; }
	command -v iperf3 >/dev/null || { log "no iperf3"; return 4; }
	modprobe veth
	ensure_module
	for h in "${HOSTS[@]}"; do
		ip netns add "mg-$h"
	done
	ip link add veth-r netns mg-origin type veth peer name veth-l netns mg-relay
	ip link add veth-r netns mg-relay type veth peer name veth-l netns mg-term
	ip link add veth-g netns mg-relay type veth peer name veth-g netns mg-junk
	ip -n mg-origin -batch - <<-EOF
		link set lo up
		link add maq0 type maquis
		link set maq0 up
		addr add 10.0.1.1/24 dev veth-r
		link set veth-r up
		addr add 172.31.0.1/32 dev maq0
		route add 172.31.0.2/32 dev maq0
	EOF
	ip -n mg-relay -batch - <<-EOF
		link set lo up
		link add maq0 type maquis
		link set maq0 up
		addr add 10.0.1.2/24 dev veth-l
		link set veth-l up
		addr add 10.0.2.1/24 dev veth-r
		link set veth-r up
		addr add 10.0.9.1/24 dev veth-g
		link set veth-g up
	EOF
	ip -n mg-term -batch - <<-EOF
		link set lo up
		link add maq0 type maquis
		link set maq0 up
		addr add 10.0.2.2/24 dev veth-l
		link set veth-l up
		addr add 172.31.0.2/32 dev maq0
		route add 172.31.0.1/32 dev maq0
	EOF
	ip -n mg-junk -batch - <<-EOF
		link set lo up
		addr add 10.0.9.2/24 dev veth-g
		link set veth-g up
	EOF
	for h in origin relay term; do
		n "$h" sysctl -qw net.ipv6.conf.maq0.disable_ipv6=1
	done
	PORT=$(mt relay dev maq0 | sed -n 's/^port=//p')
	[[ $PORT -gt 0 ]]
	echo "$PORT" >"$tmp/port"
	log "relay's maquis port $PORT"
}

t_circuit() {
	"$maqtool" install --id 1 --lifetime 3600 \
		--origin mg-origin,maq0,10.0.1.1 \
		--relay mg-relay,maq0,10.0.1.2,10.0.2.1 \
		--terminus mg-term,maq0,10.0.2.2 \
		--route 172.31.0.2/32 --back-route 172.31.0.1/32 >"$tmp/circuit"
	while read -r line; do log "$line"; done <"$tmp/circuit"
	n origin ping -q -c 3 -i 0.3 -W 3 172.31.0.2 | tail -2
}

# Forward cells arriving at the relay, recorded for replays and tampering.
t_capture() {
	local ready=$tmp/ready port i

	port=$(<"$tmp/port")
	mt relay capture --dev veth-l --port "$port" --dir in --count 32 \
		--timeout 60000 --ready "$ready" --out "$tmp/cells" &
	for ((i = 0; i < 100; i++)); do
		[[ -e $ready ]] && break
		sleep 0.1
	done
	[[ -e $ready ]]
	n origin ping -q -c 40 -i 0.05 -W 2 172.31.0.2 | tail -2 || true
	wait $!
	[[ -s $tmp/cells ]]
}

# iperf3 runs, 3 s each, back to back until $tmp/stop appears (at most
# 100 of them); each leaves its output and exit status in $tmp/iperf.N.
iperf_loop() {
	local i

	for ((i = 0; i < 100; i++)); do
		[[ -e $tmp/stop ]] && break
		rc=0
		n origin timeout 60 iperf3 -c 172.31.0.2 -p 5201 -t 3 -f m \
			--connect-timeout 10000 >"$tmp/iperf.$i" 2>&1 || rc=$?
		echo "$rc" >"$tmp/iperf.$i.rc"
	done
}

t_garbage() {
	local port fwd back out d line rc mbit runs=0 k want ipid
	local -A G
	local reasons=(unknown-cid bad-tag replay malformed no-route key-limit)

	port=$(<"$tmp/port")
	line=$(mt relay circuit maq0 1)
	fwd=$(sed -n 's/.*fwd-cid-in=\([0-9]*\).*/\1/p' <<<"$line")
	back=$(sed -n 's/.*back-cid-in=\([0-9]*\).*/\1/p' <<<"$line")
	[[ -n $fwd && -n $back ]]
	echo 100000 >/proc/sys/net/core/netdev_max_backlog

	stats d0 relay
	stats c0 relay 1
	stats t0 term 1
	n term timeout 900 iperf3 -s -B 172.31.0.2 -p 5201 >"$tmp/iperf-s" 2>&1 &
	sleep 1
	rm -f "$tmp/stop"
	iperf_loop &
	ipid=$!
	log "sending $COUNT datagrams (MAQ_GARBAGE; 1000000 for the full run)"
	out=$(n junk "$garbage" --to "10.0.9.1:$port" --cells "$tmp/cells" \
		--fwd-cid "$fwd" --avoid "$back" --count "$COUNT" --seed "$SEED")
	touch "$tmp/stop"
	wait "$ipid"
	sleep 1
	while IFS='=' read -r k d; do G[$k]=$d; done <<<"$out"
	stats d1 relay
	stats c1 relay 1
	stats t1 term 1

	log "seed ${G[seed]} (MAQ_GARBAGE_SEED), ${G[cells]} captured cells"
	log "sent ${G[sent]} in ${G[secs]} s (${G[rate]}/s):" \
	    "len ${G[len]} trunc ${G[trunc]} randcid ${G[randcid]}" \
	    "cid0 ${G[cid0]} replay ${G[replay]} tamper ${G[tamper]} flip ${G[flip]}"
	declare -A D
	local sum=0
	for k in "${reasons[@]}"; do
		D[$k]=$((${S[d1.drop-$k]} - ${S[d0.drop-$k]}))
	done
	for k in cells-in ctl-up; do
		D[$k]=$((${S[d1.$k]} - ${S[d0.$k]}))
	done
	for k in "${reasons[@]}"; do
		sum=$((sum + D[$k]))
		log "$(printf 'counted drop-%-12s %8d' "$k" "${D[$k]}")"
	done
	local circ_in=$((${S[c1.cells-in]} - ${S[c0.cells-in]}))
	local term_in=$((${S[t1.cells-in]} - ${S[t0.cells-in]}))
	local cid0=$((D[cells-in] - circ_in - D[unknown-cid] - D[bad-tag] - D[replay] - D[key-limit]))
	log "counted drops $sum + cid-0 cells $cid0 (cell-ntf: ${D[ctl-up]}," \
	    "the rest rate-limited) = $((sum + cid0)) of ${G[sent]} sent"
	log "circuit: relay cells-in +$circ_in, terminus cells-in +$term_in"

	for ((k = 0; k < 100; k++)); do
		[[ -e $tmp/iperf.$k.rc ]] || break
		runs=$((runs + 1))
		rc=$(<"$tmp/iperf.$k.rc")
		mbit=$(sed -nE 's|.* ([0-9.]+) Mbits/sec.*receiver$|\1|p' "$tmp/iperf.$k")
		log "iperf3 run $k: exit $rc, ${mbit:-?} Mbit/s"
		if [[ $rc != 0 || -z $mbit ]] || ! awk -v m="$mbit" 'BEGIN { exit !(m > 0) }'; then
			while read -r line; do log "  $line"; done <"$tmp/iperf.$k"
			return 1
		fi
	done
	((runs > 0))

	if ((sum + cid0 != ${G[sent]})); then
		log "unaccounted: softnet $(awk '{ d += strtonum("0x" $2) } END { print d }' /proc/net/softnet_stat) dropped;" \
		    "relay $(n relay nstat -az IpReasmFails UdpInErrors UdpInCsumErrors | tail -n +2 | tr -s ' \n' ' ')"
	fi
	want=$((${G[len]} + ${G[trunc]}))
	[[ ${D[malformed]} == "$want" ]]
	[[ ${D[unknown-cid]} == "${G[randcid]}" ]]
	((D[replay] >= ${G[replay]} && D[bad-tag] >= ${G[tamper]}))
	((D[replay] + D[bad-tag] + D[key-limit] == ${G[replay]} + ${G[tamper]} + ${G[flip]}))
	[[ ${D[no-route]} == 0 ]]
	[[ $cid0 == "${G[cid0]}" ]]
	((D[ctl-up] <= ${G[cid0]}))
	((sum + cid0 == ${G[sent]}))
	((circ_in > 0 && term_in > 0))
}

# After all that, the circuit still carries a ping end to end and the relay
# drops nothing of it.
t_still_works() {
	local k

	stats d0 relay
	n origin ping -q -c 5 -i 0.2 -W 3 172.31.0.2 | tail -2
	stats d1 relay
	for k in unknown-cid bad-tag replay malformed no-route key-limit; do
		[[ ${S[d1.drop-$k]} == "${S[d0.drop-$k]}" ]]
	done
}

ktap_print_header
ktap_set_plan 5
run topology t_topology || { ktap_finished; exit; }
run circuit t_circuit
run capture t_capture
run garbage t_garbage
run still_works t_still_works
ktap_finished
