#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two origins meet at a rendezvous relay (PROTOCOL 9): each builds its own
# circuit to r, r joins the two, and a and b ping each other through it
# with the end-to-end layer on, while r learns nothing: it never hands a
# packet to its maq0, and what it opens is sealed end to end.  Then the
# attacks a rendezvous could try or suffer: it replays what it spliced (the
# far origin drops it as an e2e replay), packets too big for the e2e layer,
# one origin with e2e keys and one without (each refuses the other's
# data), and one circuit deleted at r (the other's data dropped, counted).
# Prints KTAP.
#
#      a                x                 r (rendezvous)         b
#  +------------+   +----------+   +-------------------+   +------------+
#  | maq0       |   | maq0     |   | maq0: joins       |   | maq0       |
#  | 10.77.0.1  |   | relay    |   | circuit 1 <-> 2,  |   | 10.77.0.2  |
#  | 10.77.1.1  |   |          |   | 3 <-> 4; no       |   | 10.77.1.2  |
#  |     veth-r +---+ veth-l   |   | address, no route |   |            |
#  |            | 1 |   veth-r +---+ veth-l    veth-r +---+ veth-l     |
#  +------------+   +----------+ 2 +-------------------+ 3 +------------+
#
#  link L: 10.9.L.1/24 (west) -- 10.9.L.2/24 (east)
#  circuit 1: a -> x -> r, circuit 2: b -> r, e2e keys at a and b
#  circuit 3: a -> x -> r with e2e keys, circuit 4: b -> r without
#  no route into any of them at r: it holds no inner address
#
# tests/kmod/rdvtool installs and joins the circuits (keys generated, no
# daemon) and plays the replaying rendezvous; tests/kmod/maqtool reads
# counters, captures and injects cells.
#
# Needs root, maquis.ko loaded (tests/kmod/run.sh in the VM), veth, ping,
# tcpdump; tests/kmod/rdvtool and maqtool built.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
maqtool=$here/maqtool
rdvtool=$here/rdvtool
HOSTS=(a x r b)
NSP=mqr-
PATTERN=6d617175697372656e64657a766f7573	# "maquisrendezvous"
tmp=

# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"

n() { local h=$1; shift; ip netns exec "$NSP$h" "$@"; }
mt() { local h=$1; shift; "$maqtool" -n "$NSP$h" "$@"; }

cleanup() {
	local h

	set +e
	jobs -p | while read -r p; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for h in "${HOSTS[@]}"; do
		ip netns pids "$NSP$h" 2>/dev/null | while read -r p; do kill "$p"; done
		ip netns del "$NSP$h" 2>/dev/null
	done
	[[ -n $tmp ]] && rm -rf "$tmp"
}

# cstat HOST ID NAME: one counter of circuit ID on HOST
cstat() {
	mt "$1" stats maq0 "$2" | sed -n "s/^$3=//p"
}

# rx HOST: packets HOST's maq0 handed to its stack
rx() {
	n "$1" cat /sys/class/net/maq0/statistics/rx_packets
}

# stat_at_least HOST ID NAME MIN
stat_at_least() {
	local v

	v=$(cstat "$1" "$2" "$3")
	[[ -n $v ]] && ((v >= $4))
}

t_topology() {
	local h

	modprobe veth
	for h in "${HOSTS[@]}"; do
		ip netns add "$NSP$h"
		ip -n "$NSP$h" -batch - <<-EOF
			link set lo up
			link add maq0 type maquis
			link set maq0 up
		EOF
	done
	ip link add veth-r netns "${NSP}a" type veth peer name veth-l netns "${NSP}x"
	ip link add veth-r netns "${NSP}x" type veth peer name veth-l netns "${NSP}r"
	ip link add veth-r netns "${NSP}r" type veth peer name veth-l netns "${NSP}b"
	ip -n "${NSP}a" -batch - <<-EOF
		addr add 10.9.1.1/24 dev veth-r
		link set veth-r up
		addr add 10.77.0.1/32 dev maq0
		addr add 10.77.1.1/32 dev maq0
		route add 10.77.0.2/32 dev maq0
		route add 10.77.1.2/32 dev maq0
	EOF
	ip -n "${NSP}x" -batch - <<-EOF
		addr add 10.9.1.2/24 dev veth-l
		link set veth-l up
		addr add 10.9.2.1/24 dev veth-r
		link set veth-r up
	EOF
	# the rendezvous: underlay only, nothing routed into maq0
	ip -n "${NSP}r" -batch - <<-EOF
		addr add 10.9.2.2/24 dev veth-l
		link set veth-l up
		addr add 10.9.3.1/24 dev veth-r
		link set veth-r up
	EOF
	ip -n "${NSP}b" -batch - <<-EOF
		addr add 10.9.3.2/24 dev veth-l
		link set veth-l up
		addr add 10.77.0.2/32 dev maq0
		addr add 10.77.1.2/32 dev maq0
		route add 10.77.0.1/32 dev maq0 mtu 1268
		route add 10.77.1.1/32 dev maq0
	EOF
	for h in a x r b; do
		n "$h" sysctl -qw net.ipv6.conf.maq0.disable_ipv6=1
	done
	PORT=$(mt b dev maq0 | sed -n 's/^port=//p')
	[[ $PORT -gt 0 ]]
	echo "$PORT" >"$tmp/port"
}

# install A_ID B_ID E2E NET: circuits a -> x -> r and b -> r, joined at r
install() {
	"$rdvtool" install --state "$tmp/state.$1" --e2e "$3" \
		--a-id "$1" --a-route "10.77.$4.2/32" \
		--a "${NSP}a,maq0,10.9.1.1" --a "${NSP}x,maq0,10.9.1.2,10.9.2.1" \
		--a "${NSP}r,maq0,10.9.2.2" \
		--b-id "$2" --b-route "10.77.$4.1/32" \
		--b "${NSP}b,maq0,10.9.3.2" --b "${NSP}r,maq0,10.9.3.1" \
		>"$tmp/install.$1"
	while read -r l; do log "$l"; done <"$tmp/install.$1"
	[[ $("$rdvtool" show "${NSP}r" maq0 "$1") == "join=$2" ]]
	[[ $("$rdvtool" show "${NSP}r" maq0 "$2") == "join=$1" ]]
	[[ $("$rdvtool" show "${NSP}a" maq0 "$1") == join=none ]]
}

t_install() {
	install 1 2 both 0
	# whatever reaches r's maq0 from now on, tcpdump writes down
	n r timeout 300 tcpdump -i maq0 -n -U -w "$tmp/r-maq0.pcap" \
		>"$tmp/tcpdump.log" 2>&1 &
	echo $! >"$tmp/tcpdump.pid"
	wait_for 10 grep -q listening "$tmp/tcpdump.log"
}

# ping FROM DST COUNT [ARGS]: log the summary; fails unless all came back
ping_ok() {
	local from=$1 dst=$2 count=$3 out

	shift 3
	out=$(n "$from" ping -q -c "$count" -i 0.2 -W 3 "$@" "$dst" 2>&1) || {
		log "$out"
		return 1
	}
	log "$from -> $dst: $(tail -2 <<<"$out" | head -1)"
}

t_ping() {
	# the first cells build nothing: the circuits are there already
	wait_for 15 n a ping -q -c 1 -W 1 10.77.0.2 >/dev/null 2>&1
	ping_ok a 10.77.0.2 10 -p "$PATTERN"
	ping_ok b 10.77.0.1 10 -p "$PATTERN"
}

# Every cell r took on one circuit went out on the other, r gave none to
# its maq0 (counter and capture), and nobody dropped anything.
t_rendezvous_blind() {
	local h id c try ok=0 seen

	for ((try = 0; try < 10; try++)); do
		[[ $(cstat r 1 cells-in) == "$(cstat r 2 cells-out)" &&
		   $(cstat r 2 cells-in) == "$(cstat r 1 cells-out)" &&
		   $(cstat a 1 cells-out) == "$(cstat r 1 cells-in)" &&
		   $(cstat b 2 cells-in) == "$(cstat r 2 cells-out)" ]] &&
			{ ok=1; break; }
		sleep 0.3
	done
	log "r: circuit 1 in $(cstat r 1 cells-in) out $(cstat r 1 cells-out), circuit 2 in $(cstat r 2 cells-in) out $(cstat r 2 cells-out)"
	((ok))
	(($(cstat r 1 cells-in) >= 11 && $(cstat r 2 cells-in) >= 10))
	[[ $(rx r) == 0 ]]
	# -U wrote every packet as it came
	seen=$(tcpdump -n -r "$tmp/r-maq0.pcap" 2>/dev/null | wc -l)
	log "r's maq0: rx_packets $(rx r), $seen packets captured"
	((seen == 0))
	for h in a b r; do
		for id in 1 2; do
			[[ $h == a && $id == 2 || $h == b && $id == 1 ]] && continue
			for c in bad-tag replay malformed no-route key-limit; do
				[[ $(cstat "$h" "$id" "drop-$c") == 0 ]]
			done
		done
	done
}

# r replays a cell it spliced, sealed anew with a fresh counter: b's
# circuit opens it and drops it as an e2e replay.
t_replay() {
	local replay rx_before

	mt r capture --dev veth-r --port "$(<"$tmp/port")" --dir out \
		--count 1 --timeout 20000 --ready "$tmp/cap.ready" \
		--out "$tmp/cap" >"$tmp/cap.log" 2>&1 &
	wait_for 10 test -e "$tmp/cap.ready"
	ping_ok a 10.77.0.2 2 -p "$PATTERN"
	wait
	"$rdvtool" replay --state "$tmp/state.1" --in "$tmp/cap" \
		--out "$tmp/cap.replay" --pattern "$PATTERN" >"$tmp/replay"
	while read -r l; do log "replay: $l"; done <"$tmp/replay"
	replay=$(cstat b 2 drop-replay)
	rx_before=$(rx b)
	mt r inject --dev veth-r --in "$tmp/cap.replay" >/dev/null
	wait_for 5 stat_at_least b 2 drop-replay $((replay + 1))
	[[ $(cstat b 2 drop-replay) == $((replay + 1)) ]]
	[[ $(cstat b 2 drop-bad-tag) == 0 ]]
	[[ $(rx b) == "$rx_before" ]]
	ping_ok a 10.77.0.2 2
}

# Beyond 1268 bytes nothing fits the e2e layer: dropped, counted, and the
# sender is told the MTU, after which fragments go through.  b's route
# says 1268 from the start, as the daemon sets it: the kernel's own echo
# replies cannot learn it (no ICMP error about an ICMP packet being sent).
t_too_big() {
	local before out

	before=$(cstat a 1 drop-malformed)
	out=$(n a ping -c 1 -W 2 -M do -s 1250 10.77.0.2 2>&1) && return 1
	log "$(grep -m1 -i -E 'mtu|frag' <<<"$out")"
	[[ $(cstat a 1 drop-malformed) == $((before + 1)) ]]
	# the reply may meet the same wall once on b's side
	out=$(n a ping -c 4 -i 0.3 -W 2 -s 1250 10.77.0.2 2>&1) || true
	log "$(grep -m1 received <<<"$out")"
	grep -Eq ' [1-4] received' <<<"$out" || {
		log "$out"
		log "a: $(n a ip route get 10.77.0.2 | tr '\n' ' ')"
		log "b: $(n b ip route get 10.77.0.1 | tr '\n' ' ')"
		log "a: 1 out $(cstat a 1 cells-out) in $(cstat a 1 cells-in) malformed $(cstat a 1 drop-malformed); b: 2 in $(cstat b 2 cells-in) out $(cstat b 2 cells-out) malformed $(cstat b 2 drop-malformed)"
		n b cat /proc/net/snmp | sed 's/^/# b /'
		return 1
	}
}

# Circuits 3 (a, e2e keys) and 4 (b, none): each origin refuses what the
# other sends, after r spliced it.
t_mismatch() {
	install 3 4 a 1
	if n a ping -q -c 2 -i 0.3 -W 2 10.77.1.2 >/dev/null 2>&1; then return 1; fi
	wait_for 5 stat_at_least b 4 drop-malformed 2
	if n b ping -q -c 2 -i 0.3 -W 2 10.77.1.1 >/dev/null 2>&1; then return 1; fi
	wait_for 5 stat_at_least a 3 drop-malformed 2
	log "b refused $(cstat b 4 drop-malformed) sealed, a $(cstat a 3 drop-malformed) unsealed; r spliced $(cstat r 4 cells-out) and $(cstat r 3 cells-out)"
	(($(cstat r 4 cells-out) >= 2 && $(cstat r 3 cells-out) >= 2))
	[[ $(rx r) == 0 ]]
}

# Circuit 2 deleted at r: circuit 1 stays joined to nothing, its data is
# dropped and counted there, never delivered.
t_delete() {
	mt r del maq0 2 >/dev/null
	[[ $("$rdvtool" show "${NSP}r" maq0 1) == join=0 ]]
	if n a ping -q -c 2 -i 0.3 -W 1 10.77.0.2 >/dev/null 2>&1; then return 1; fi
	wait_for 5 stat_at_least r 1 drop-no-route 2
	log "r dropped $(cstat r 1 drop-no-route) cells of circuit 1"
	[[ $(rx r) == 0 ]]
	# undone, circuit 1 is an ordinary terminus again
	"$rdvtool" join "${NSP}r" maq0 1 0 >/dev/null
	[[ $("$rdvtool" show "${NSP}r" maq0 1) == join=none ]]
}

# --- main -------------------------------------------------------------------

[[ $(id -u) == 0 ]] || skip_all "needs root"
[[ -d /sys/module/maquis ]] || skip_all "maquis.ko not loaded"
for tool in ping tcpdump; do
	command -v "$tool" >/dev/null || skip_all "no $tool"
done
[[ -x $maqtool && -x $rdvtool ]] || skip_all "no maqtool/rdvtool (make -C tests/kmod)"

tmp=$(mktemp -d /tmp/maq-rdv.XXXXXX)
trap cleanup EXIT

ktap_print_header
ktap_set_plan 8
if ! run "topology: a, relay x, rendezvous r, b" t_topology ||
   ! run "circuits 1 (a) and 2 (b) with e2e keys, joined at r" t_install; then
	for i in $(seq 6); do ktap_test_fail "no rendezvous"; done
	ktap_finished
fi
run "a and b ping each other through the rendezvous" t_ping
run "r spliced every cell, delivered none, nothing dropped" t_rendezvous_blind
run "r sees only e2e ciphertext; its replay is dropped at b" t_replay
run "packets beyond the e2e MTU dropped, counted, PMTU learnt" t_too_big
run "e2e at a only: each origin refuses the other's data" t_mismatch
run "circuit 2 deleted at r: circuit 1's data dropped there" t_delete
ktap_finished
