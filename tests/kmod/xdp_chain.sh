#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module's XDP fast path end to end: five network namespaces in a line,
# maquis.ko everywhere, the three relays running bpf/relay_kfunc.bpf.c on
# both veths (attached by the daemon's loader, daemon/xdp.c, which picks
# the kfunc variant because the module is loaded), the two ends module
# endpoints (maq0).  The circuit is installed once, over netlink, by
# maqtool: the XDP programs hold no state of their own.  Cells must cross
# every relay by XDP (its counters move with the module's circuit
# counters, the relay's UDP socket sees nothing), iperf3 must get through,
# XDP detached and re-attached under a running iperf3 (TCP, then UDP)
# moves the cells to the relays' sockets and back without breaking it
# (the loss or retransmits printed), and after a final detach the same
# circuit keeps working by the socket path.
# Prints KTAP.
#
#   origin               r1              r2              r3             term
#  +------------+     +--------+      +--------+      +--------+     +------------+
#  | maq0       |     | maq0   |      | maq0   |      | maq0   |     | maq0       |
#  | 172.31.0.1 |     | XDP    |      | XDP    |      | XDP    |     | 172.31.0.2 |
#  | fd31::1    |     | kfunc  |      | kfunc  |      | kfunc  |     | fd31::2    |
#  |     veth-r +-----+ veth-l |      |        |      |        |     |            |
#  |  (GRO on)  |  1  | veth-r +------+ veth-l |      |        |     |            |
#  |            |     |        |  2   | veth-r +------+ veth-l |     |            |
#  |            |     |        |      |        |  3   | veth-r +-----+ veth-l     |
#  +------------+     +--------+      +--------+      +--------+  4  | (GRO on)   |
#                                                                     +------------+
#
#  link L (1..4): 10.0.L.1/24 (west end) -- 10.0.L.2/24 (east end)
#
# GRO on the endpoints' veths turns NAPI on there, without which veth drops
# what XDP_TX or a redirect sends towards them.
#
# Needs root, maquis.ko loaded (tests/kmod/run.sh in the VM), BTF, veth,
# bpffs, iperf3, ping, ethtool; tests/kmod/maqtool and tests/bpf/chain/maqchain
# built on the host (make -C tests/kmod; make -C tests/bpf/chain).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
maqtool=$here/maqtool
maqchain=$top/tests/bpf/chain/maqchain
HOSTS=(origin r1 r2 r3 term)
RELAYS=(r1 r2 r3)
NSP=mqx-
BPFROOT=/sys/fs/bpf/maq-xchain-$$
ID=7
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
	rm -rf "$BPFROOT"
	[[ -n $tmp ]] && rm -rf "$tmp"
}

# udp_in HOST: UDP InDatagrams, which counts what encap sockets take too
udp_in() {
	n "$1" awk '/^Udp:/ { if (seen++) print $2 }' /proc/net/snmp
}

declare -A S
# snap: S[rK.xdp.COUNTER] (both veths), S[rK.circ.COUNTER] (the module's
# circuit counters), S[rK.udp] (datagrams the relay's UDP sockets took:
# the socket path's input), S[origin|term.circ.COUNTER].
snap() {
	local h k v

	S=()
	for h in "${RELAYS[@]}"; do
		while IFS='=' read -r k v; do
			k=${k#*.}
			[[ $v =~ ^[0-9]+$ ]] || continue
			S[$h.xdp.$k]=$(( ${S[$h.xdp.$k]:-0} + v ))
		done < <("$maqchain" stats --ns "$NSP$h" --pin-root "$BPFROOT" \
			--dev veth-l --dev veth-r)
		S[$h.udp]=$(udp_in "$h")
	done
	for h in "${HOSTS[@]}"; do
		while IFS='=' read -r k v; do
			S[$h.circ.$k]=$v
		done < <(mt "$h" stats maq0 "$ID")
	done
}

# --- topology -------------------------------------------------------------

t_topology() {
	local i h batch

	modprobe veth
	[[ -d /sys/module/maquis ]]
	for h in "${HOSTS[@]}"; do
		ip netns add "$NSP$h"
	done
	for i in 1 2 3 4; do
		ip link add veth-r netns "$NSP${HOSTS[i - 1]}" type veth \
			peer name veth-l netns "$NSP${HOSTS[i]}"
	done
	for i in 0 1 2 3 4; do
		h=${HOSTS[i]}
		batch="link set lo up
link add maq0 type maquis
link set maq0 up"
		((i < 4)) && batch+="
addr add 10.0.$((i + 1)).1/24 dev veth-r
link set veth-r up"
		((i > 0)) && batch+="
addr add 10.0.$i.2/24 dev veth-l
link set veth-l up"
		case $h in
		origin) batch+="
addr add 172.31.0.1/32 dev maq0
addr add fd31::1/128 dev maq0 nodad
route add 172.31.0.2/32 dev maq0
route add fd31::2/128 dev maq0" ;;
		term) batch+="
addr add 172.31.0.2/32 dev maq0
addr add fd31::2/128 dev maq0 nodad
route add 172.31.0.1/32 dev maq0
route add fd31::1/128 dev maq0" ;;
		esac
		ip -n "$NSP$h" -batch - <<<"$batch"
	done
	n origin ethtool -K veth-r gro on >/dev/null
	n term ethtool -K veth-l gro on >/dev/null
	PORT=$(mt r1 dev maq0 | sed -n 's/^port=//p')
	[[ $PORT -gt 0 ]]
	echo "$PORT" >"$tmp/port"
	log "maquis port $PORT"
}

# The loader on every relay veth: auto picks kfunc (the module is here),
# native on veth, serving maq0 of that namespace.
t_attach() {
	local h out d

	for h in "${RELAYS[@]}"; do
		out=$("$maqchain" attach --ns "$NSP$h" --pin-root "$BPFROOT" \
			--port "$PORT" --dev veth-l --dev veth-r)
		for d in veth-l veth-r; do
			grep -qx "$d.variant=kfunc" <<<"$out"
			grep -qx "$d.mode=native" <<<"$out"
			n "$h" ip -d link show dev "$d" | grep -q 'prog/xdp id .* name maq_relay_kfunc'
		done
		out=$("$maqchain" stats --ns "$NSP$h" --pin-root "$BPFROOT" --dev veth-l)
		grep -qx 'veth-l.maq-dev=maq0' <<<"$out"
		# no table of its own: circuits are the module's
		[[ ! -e $BPFROOT/$NSP$h/maq_circuits ]]
	done
}

t_install() {
	"$maqtool" install --id "$ID" --lifetime 3600 \
		--origin "${NSP}origin,maq0,10.0.1.1" \
		--relay "${NSP}r1,maq0,10.0.1.2,10.0.2.1" \
		--relay "${NSP}r2,maq0,10.0.2.2,10.0.3.1" \
		--relay "${NSP}r3,maq0,10.0.3.2,10.0.4.1" \
		--terminus "${NSP}term,maq0,10.0.4.2" \
		--route 172.31.0.2/32 --route fd31::2/128 \
		--back-route 172.31.0.1/32 --back-route fd31::1/128 \
		>"$tmp/circuit"
	[[ $(grep -c cid= "$tmp/circuit") == 8 ]]
	# The relays' first cells meet no neighbour entry: XDP passes them,
	# the socket path relays them and resolves the neighbours.
	wait_for 20 n origin ping -q -c 1 -W 1 172.31.0.2 >/dev/null 2>&1
}

# assert_xdp WHAT: since the last snap, every cell the relays relayed went
# by XDP (XDP in = XDP out = the module's circuit counters), none reached
# a relay's UDP socket, and the ends saw what the other sent.
assert_xdp() {
	local -A B
	local h key o_out t_out d_in d_out

	for key in "${!S[@]}"; do B[$key]=${S[$key]}; done
	snap
	o_out=$((${S[origin.circ.cells-out]} - ${B[origin.circ.cells-out]}))
	t_out=$((${S[term.circ.cells-out]} - ${B[term.circ.cells-out]}))
	log "$1: origin sent $o_out cells, terminus $t_out"
	((o_out > 0 && t_out > 0))
	for h in "${RELAYS[@]}"; do
		d_in=$((${S[$h.xdp.cells-in]} - ${B[$h.xdp.cells-in]}))
		d_out=$((${S[$h.xdp.cells-out]} - ${B[$h.xdp.cells-out]}))
		log "$h: xdp in +$d_in out +$d_out, module circuit in +$((${S[$h.circ.cells-in]} - ${B[$h.circ.cells-in]})) out +$((${S[$h.circ.cells-out]} - ${B[$h.circ.cells-out]})), udp sockets +$((${S[$h.udp]} - ${B[$h.udp]}))"
		((d_in == o_out + t_out && d_out == d_in))
		((${S[$h.circ.cells-out]} - ${B[$h.circ.cells-out]} == d_out))
		((${S[$h.circ.cells-in]} - ${B[$h.circ.cells-in]} == d_in))
		[[ ${S[$h.udp]} == "${B[$h.udp]}" ]]
		for key in bad-tag replay malformed no-route key-limit error; do
			[[ ${S[$h.xdp.$key]} == "${B[$h.xdp.$key]}" ]]
		done
	done
	((${S[term.circ.cells-in]} - ${B[term.circ.cells-in]} == o_out))
	((${S[origin.circ.cells-in]} - ${B[origin.circ.cells-in]} == t_out))
}

t_ping() {
	snap
	n origin ping -q -c 10 -i 0.2 -W 3 172.31.0.2 | tail -2 | while read -r l; do log "$l"; done
	n origin ping -q -6 -c 5 -i 0.2 -W 3 fd31::2 >/dev/null
	sleep 0.5
	assert_xdp ping
}

t_iperf() {
	local rc=0 out spid

	snap
	n term timeout 60 iperf3 -s -1 -B 172.31.0.2 -p 5201 >"$tmp/iperf-s" 2>&1 &
	spid=$!
	sleep 1
	out=$(n origin timeout 60 iperf3 -c 172.31.0.2 -p 5201 -t 3 \
		--connect-timeout 5000 2>&1) || rc=$?
	wait "$spid" || true
	grep -E 'sender$|receiver$' <<<"$out" | while read -r l; do log "$l"; done
	((rc == 0)) || { log "$out"; false; }
	grep -Eq 'receiver$' <<<"$out"
	if grep -Eq ' 0.00 bits/sec +receiver' <<<"$out"; then false; fi
	sleep 0.5
	assert_xdp iperf3
}

# attach_all / detach_all: the loader on every relay veth, or off them.
attach_all() {
	local h

	for h in "${RELAYS[@]}"; do
		"$maqchain" attach --ns "$NSP$h" --pin-root "$BPFROOT" \
			--port "$PORT" --dev veth-l --dev veth-r >/dev/null
	done
}

detach_all() {
	local h

	for h in "${RELAYS[@]}"; do
		"$maqchain" detach --ns "$NSP$h" --pin-root "$BPFROOT" \
			--dev veth-l --dev veth-r
	done
}

# since T0: seconds from $EPOCHREALTIME T0 to now
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# fwd_mark: the forward cells the origin has sent and the terminus taken.
fwd_mark() {
	local o t

	o=$(mt origin stats maq0 "$ID" | sed -n 's/^cells-out=//p')
	t=$(mt term stats maq0 "$ID" | sed -n 's/^cells-in=//p')
	echo "$o $t"
}

# fwd_log WHAT MARK0 MARK1: forward cells sent and not taken in between
# (the cells in flight at either end blur it by a few).
fwd_log() {
	local o0 t0 o1 t1

	read -r o0 t0 <<<"$2"
	read -r o1 t1 <<<"$3"
	log "$1: origin sent $((o1 - o0)) forward cells, terminus took $((t1 - t0)), $((o1 - o0 - t1 + t0)) missing"
}

# What the veths and the XDP programs counted, when cells went missing.
xdp_diag() {
	local h d

	for h in "${HOSTS[@]}"; do
		for d in veth-l veth-r; do
			n "$h" ip -s link show dev "$d" 2>/dev/null | sed "s/^/# $h $d: /"
			n "$h" ethtool -S "$d" 2>/dev/null | grep -v ': 0$' | sed "s/^/# $h $d: /"
		done
	done
	for h in "${RELAYS[@]}"; do
		"$maqchain" stats --ns "$NSP$h" --pin-root "$BPFROOT" \
			--dev veth-l --dev veth-r | tr '\n' ' ' | sed "s/^/# $h: /"
		echo
	done
}

# t_detach_under_load [IPERF3 ARGS]: a 25 s iperf3 through the chain; 2 s
# in, XDP comes off every relay, 2 s later it goes back on (each of the
# two takes seconds under TCG, hence the long run).  While off,
# the relays' sockets carry the cells; once back on, XDP carries them all
# again; iperf3 completes.  Prints UDP loss or TCP retransmits: the cells
# in flight across each switch are what may be lost.
t_detach_under_load() {
	local -A U
	local h key out spid cpid rc=0 d line lost total retr t0 m0 m1 m2 m3 m4

	n term timeout 60 iperf3 -s -1 -B 172.31.0.2 -p 5203 >"$tmp/iperf-s" 2>&1 &
	spid=$!
	sleep 1
	n origin timeout 60 iperf3 -c 172.31.0.2 -p 5203 -t 25 \
		--connect-timeout 5000 "$@" >"$tmp/iperf-c" 2>&1 &
	cpid=$!
	sleep 2
	m0=$(fwd_mark)
	t0=$EPOCHREALTIME
	detach_all
	log "XDP detached from the 6 relay veths in $(since "$t0") s"
	m1=$(fwd_mark)
	for h in "${RELAYS[@]}"; do U[$h]=$(udp_in "$h"); done
	sleep 2
	for h in "${RELAYS[@]}"; do
		d=$(($(udp_in "$h") - ${U[$h]}))
		log "$h, XDP off: its UDP sockets took $d datagrams in 2 s"
		((d >= 10))
	done
	m2=$(fwd_mark)
	t0=$EPOCHREALTIME
	attach_all
	log "XDP attached again in $(since "$t0") s"
	m3=$(fwd_mark)
	sleep 0.5
	snap
	for key in "${!S[@]}"; do U[$key]=${S[$key]}; done
	sleep 2
	snap
	for h in "${RELAYS[@]}"; do
		d=$((${S[$h.xdp.cells-in]} - ${U[$h.xdp.cells-in]}))
		log "$h, XDP on again: xdp in +$d, udp sockets +$((${S[$h.udp]} - ${U[$h.udp]}))"
		((d > 0)) || { xdp_diag; false; }
		[[ ${S[$h.udp]} == "${U[$h.udp]}" ]]
	done
	m4=$(fwd_mark)
	fwd_log "detaching" "$m0" "$m1"
	fwd_log "detached" "$m1" "$m2"
	fwd_log "attaching" "$m2" "$m3"
	fwd_log "attached" "$m3" "$m4"
	# still running: both switches happened under traffic
	kill -0 "$cpid"
	wait "$cpid" || rc=$?
	wait "$spid" || true
	out=$(<"$tmp/iperf-c")
	grep -E 'sender$|receiver$' <<<"$out" | while read -r line; do log "$line"; done
	((rc == 0)) || { log "$out"; false; }
	line=$(grep -E 'receiver$' <<<"$out")
	[[ -n $line ]]
	if grep -Eq ' 0.00 bits/sec' <<<"$line"; then false; fi
	if [[ " $* " == *" -u "* ]]; then
		read -r lost total < <(sed -nE 's|.* ([0-9]+)/([0-9]+) .*|\1 \2|p' <<<"$line")
		log "udp: lost $lost of $total across detach and re-attach"
		[[ -n $total ]]
		((total > 0 && lost * 2 < total))
	else
		retr=$(grep -E 'sender$' <<<"$out" | awk '{print $(NF - 1)}')
		log "tcp: $retr retransmits across detach and re-attach"
		[[ $retr =~ ^[0-9]+$ ]]
	fi
}

# Detach everywhere: no program, no pin; the circuit is the module's, so
# it keeps working, now through the relays' sockets.
t_detach() {
	local -A B
	local h d now

	for h in "${RELAYS[@]}"; do
		"$maqchain" detach --ns "$NSP$h" --pin-root "$BPFROOT" \
			--dev veth-l --dev veth-r
		for d in veth-l veth-r; do
			if n "$h" ip -d link show dev "$d" | grep -q 'prog/xdp'; then
				false
			fi
		done
		[[ ! -e $BPFROOT/$NSP$h ]]
	done
	for h in "${RELAYS[@]}"; do B[$h]=$(udp_in "$h"); done
	n origin ping -q -c 3 -i 0.3 -W 3 172.31.0.2 >/dev/null
	# three requests and three replies through each relay's socket
	for h in "${RELAYS[@]}"; do
		now=$(udp_in "$h")
		log "$h: udp sockets took ${B[$h]} -> $now"
		((now >= ${B[$h]} + 6))
	done
}

# --- main -------------------------------------------------------------------

[[ $(id -u) == 0 ]] || skip_all "needs root"
[[ -d /sys/module/maquis ]] || skip_all "maquis.ko not loaded"
[[ -r /sys/kernel/btf/maquis ]] || skip_all "maquis.ko has no BTF"
for tool in iperf3 ping ethtool ip; do
	command -v "$tool" >/dev/null || skip_all "no $tool"
done
[[ -x $maqtool ]] || skip_all "no $maqtool (make -C tests/kmod)"
[[ -x $maqchain ]] || skip_all "no $maqchain (make -C tests/bpf/chain)"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || skip_all "no bpffs"
tmp=$(mktemp -d /tmp/maq-xchain.XXXXXX)
trap cleanup EXIT

ktap_print_header
ktap_set_plan 8
if run "topology: 5 namespaces, maq0 in each" t_topology; then
	PORT=$(<"$tmp/port")
	run "attach: loader picks kfunc, native, on every relay veth" t_attach
	if run "install: one circuit over netlink, nowhere else" t_install; then
		run "ping: every cell through every relay's XDP, none to its socket" t_ping
		run "iperf3 TCP through three kfunc XDP relays" t_iperf
		run "iperf3 TCP: XDP detached and re-attached under it" \
			t_detach_under_load
		run "iperf3 UDP: XDP detached and re-attached under it" \
			t_detach_under_load -u -b 4M -l 1200
	else
		ktap_test_fail "ping: no circuit"
		ktap_test_fail "iperf3: no circuit"
		ktap_test_fail "iperf3 TCP under detach: no circuit"
		ktap_test_fail "iperf3 UDP under detach: no circuit"
	fi
	run "detach: nothing attached or pinned, the socket path carries on" t_detach
else
	for i in 1 2 3 4 5 6 7; do ktap_test_fail "no topology"; done
fi
ktap_finished
