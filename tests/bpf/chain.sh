#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# maquis without the module, end to end on the host kernel: five network
# namespaces in a line, the three in the middle relaying with the XDP
# program alone (no socket, no module), the two ends userspace endpoints
# on TUN devices (daemon/endpoint.c).  Traffic through it, counters that
# show the cells never met a relay's stack, a tampered cell dropped by
# XDP, and a detach that leaves nothing behind.  Prints KTAP.
#
#   origin               r1              r2              r3             term
#  +------------+     +--------+      +--------+      +--------+     +------------+
#  | maq0 (TUN) |     |  XDP   |      |  XDP   |      |  XDP   |     | maq0 (TUN) |
#  | 172.31.0.1 |     | relay  |      | relay  |      | relay  |     | 172.31.0.2 |
#  | fd31::1    |     |        |      |        |      |        |     | fd31::2    |
#  |     veth-r +-----+ veth-l |      |        |      |        |     |            |
#  |  (GRO on)  |  1  | veth-r +------+ veth-l |      |        |     |            |
#  |            |     |        |  2   | veth-r +------+ veth-l |     |            |
#  |            |     |        |      |        |  3   | veth-r +-----+ veth-l     |
#  +------------+     +--------+      +--------+      +--------+  4  | (GRO on)   |
#                                                                     +------------+
#
#  link L (1..4): 10.0.L.1/24 (west end) -- 10.0.L.2/24 (east end)
#                 fd00:L::1/64            -- fd00:L::2/64
#
# tests/bpf/chain/maqchain plays the control plane: keys, bases and cids as
# tests/kmod/maqtool's install, XDP attached to both veths of every relay
# with the hop in its pinned table (daemon/xdp.c, pins under a private
# root, one directory a relay since bpffs is shared by the namespaces),
# and the two endpoints forked into their namespaces.  The circuit is
# built over the IPv4 underlay, then again over the IPv6 one.  Namespace
# names carry the script's pid (mqc<pid>-origin, ...): tests/kmod/netns.sh
# cleans up mq-* wherever it runs.
#
# An XDP_TX or redirect into a veth is delivered only if the peer runs
# NAPI: the relays' veths have the program, the endpoints' get GRO, which
# turns NAPI on without XDP (kernel >= 5.13).
#
# Needs root, BPF with BTF, veth, TUN, iperf3, ping, ethtool, ss; skips
# (exit 4) without them.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
maqchain=$here/chain/maqchain
HOSTS=(origin r1 r2 r3 term)
RELAYS=(r1 r2 r3)
PORT=7720
tmp=
BPFROOT=/sys/fs/bpf/maq-chain-$$
# namespace names of our own: other tests use mq-* and mqb-*
NSP=mqc$$-
CHAIN_PID=

ksft=$("$top/kmod/fetch-kernel.sh" source 2>/dev/null)/tools/testing/selftests
# The kernel's KTAP helpers; the build fetched linux-source-6.12 already.
# shellcheck source=/dev/null
. "$ksft/kselftest/ktap_helpers.sh" || { echo "Bail out! no ktap_helpers.sh"; exit 1; }

log() { echo "# $*"; }
logs() { local l; while read -r l; do log "$l"; done <<<"$1"; }
n() { local h=$1; shift; ip netns exec "$NSP$h" "$@"; }

skip_all() {	# skip_all REASON: nothing can run here
	echo "TAP version 13"
	echo "1..0 # SKIP $1"
	exit 4
}

chain_stop() {
	local i

	[[ -n $CHAIN_PID ]] || return 0
	kill "$CHAIN_PID" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$CHAIN_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$CHAIN_PID" 2>/dev/null || true
	wait "$CHAIN_PID" 2>/dev/null || true
	CHAIN_PID=
}

cleanup() {
	local h

	set +e
	chain_stop
	jobs -p | while read -r p; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for h in "${RELAYS[@]}"; do
		[[ -d $BPFROOT/$NSP$h ]] &&
			"$maqchain" detach --ns "$NSP$h" --pin-root "$BPFROOT" \
				--dev veth-l --dev veth-r >/dev/null 2>&1
	done
	for h in "${HOSTS[@]}" lt; do
		ip netns pids "$NSP$h" 2>/dev/null | while read -r p; do kill "$p"; done
		ip netns del "$NSP$h" 2>/dev/null
	done
	# whatever the detach left (t_detach checks that it leaves nothing)
	[[ -d $BPFROOT ]] && rm -rf "$BPFROOT"
	[[ -n $tmp ]] && rm -rf "$tmp"
}

# run NAME FUNCTION [ARGS]: one KTAP test.  FUNCTION runs in a subshell
# with errexit, so every failing [[ ]] fails the test at the line that says
# why; exit 4 skips it.
run() {
	local name=$1 rc

	shift
	(
		set -eE -o pipefail
		trap 'echo "# FAILED at line $LINENO: $BASH_COMMAND"' ERR
		"$@"
	)
	rc=$?
	if ((rc == 4)); then
		ktap_test_skip "$name"
	elif ((rc == 0)); then
		ktap_test_pass "$name"
	else
		ktap_test_fail "$name"
	fi
	return "$rc"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s, at most SECONDS.
wait_for() {
	local i max=$(($1 * 10))

	shift
	for ((i = 0; i < max; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

declare -A S
# read_kv PREFIX FILE/-: S[PREFIX.key]=value for every key=value line
read_kv() {
	local p=$1 k v

	while IFS='=' read -r k v; do
		[[ -n $k ]] && S[$p.$k]=$v
	done
}

# read_stats: S[origin|term.{dev,circ}.counter], S[rK.DEV.counter] (XDP
# per interface), S[rK.hop.CID.field], S[rK.udp.*] (the relay's own UDP
# stack counters, both families).
read_stats() {
	local h u

	S=()
	read_kv origin <"$tmp/origin.stats"
	read_kv term <"$tmp/terminus.stats"
	for h in "${RELAYS[@]}"; do
		read_kv "$h" < <("$maqchain" stats --ns "$NSP$h" \
			--pin-root "$BPFROOT" --dev veth-l --dev veth-r)
		# Udp: InDatagrams NoPorts InErrors ... (second Udp: line)
		u=$(n "$h" awk '/^Udp:/ { if (seen++) print $2 + $3 + $4 }' /proc/net/snmp)
		S[$h.udp.in]=$u
		u=$(n "$h" awk '/^Udp6(InDatagrams|NoPorts|InErrors)/ { s += $2 } END { print s + 0 }' /proc/net/snmp6)
		S[$h.udp6.in]=$u
	done
}

# fwd_cid K / back_cid K: the cids relay K (1..3) receives on
fwd_cid() { echo "${C[link$(($1 - 1)).fwd-cid]}"; }
back_cid() { echo "${C[link$1.back-cid]}"; }

show_stats() {
	local h k=0 f b

	log "$(printf '%-8s %9s %9s %8s %8s %8s %8s' host cells-in cells-out bad-tag replay pass no-route)"
	for h in origin term; do
		log "$(printf '%-8s %9s %9s %8s %8s %8s %8s' "$h" \
			"${S[$h.circ.cells-in]:-?}" "${S[$h.circ.cells-out]:-?}" \
			"${S[$h.circ.drop-bad-tag]:-?}" "${S[$h.circ.drop-replay]:-?}" \
			- "${S[$h.dev.drop-no-route]:-?}")"
	done
	for h in "${RELAYS[@]}"; do
		k=$((k + 1)) f=$(fwd_cid $k) b=$(back_cid $k)
		log "$(printf '%-8s %9s %9s %8s %8s %8s %8s' "$h/xdp" \
			"$((${S[$h.veth-l.cells-in]} + ${S[$h.veth-r.cells-in]}))" \
			"$((${S[$h.veth-l.cells-out]} + ${S[$h.veth-r.cells-out]}))" \
			"$((${S[$h.veth-l.bad-tag]} + ${S[$h.veth-r.bad-tag]}))" \
			"$((${S[$h.veth-l.replay]} + ${S[$h.veth-r.replay]}))" \
			"$((${S[$h.veth-l.pass]} + ${S[$h.veth-r.pass]}))" \
			"$((${S[$h.veth-l.no-route]} + ${S[$h.veth-r.no-route]}))")"
		log "         hop fwd $f: ${S[$h.hop.$f.cells]:-?} cells, back $b: ${S[$h.hop.$b.cells]:-?} cells"
	done
}

# --- topology -------------------------------------------------------------

t_topology() {
	local i h batch

	modprobe veth 2>/dev/null || true
	for h in "${HOSTS[@]}"; do
		ip netns add "$NSP$h"
	done
	for i in 1 2 3 4; do
		ip link add veth-r netns "$NSP${HOSTS[i - 1]}" type veth \
			peer name veth-l netns "$NSP${HOSTS[i]}"
	done
	for i in 0 1 2 3 4; do
		h=${HOSTS[i]}
		batch="link set lo up"
		if ((i < 4)); then
			batch+="
addr add 10.0.$((i + 1)).1/24 dev veth-r
addr add fd00:$((i + 1))::1/64 dev veth-r nodad
link set veth-r up"
		fi
		if ((i > 0)); then
			batch+="
addr add 10.0.$i.2/24 dev veth-l
addr add fd00:$i::2/64 dev veth-l nodad
link set veth-l up"
		fi
		ip -n "$NSP$h" -batch - <<<"$batch"
	done
	n origin ethtool -K veth-r gro on >/dev/null
	n term ethtool -K veth-l gro on >/dev/null
	mkdir -p "$BPFROOT"
}

# up FAMILY: start maqchain over that underlay, configure both maq0
up() {
	local fam=$1 a=() i k v

	for i in 1 2 3 4; do
		if [[ $fam == 4 ]]; then
			a+=("10.0.$i.1" "10.0.$i.2")
		else
			a+=("fd00:$i::1" "fd00:$i::2")
		fi
	done
	rm -f "$tmp/ready" "$tmp/origin.stats" "$tmp/terminus.stats"
	"$maqchain" up --dir "$tmp" --pin-root "$BPFROOT" --port "$PORT" \
		--id "$fam" --lifetime 3600 \
		--origin "${NSP}origin,maq0,${a[0]}" \
		--relay "${NSP}r1,${a[1]},${a[2]},veth-l+veth-r" \
		--relay "${NSP}r2,${a[3]},${a[4]},veth-l+veth-r" \
		--relay "${NSP}r3,${a[5]},${a[6]},veth-l+veth-r" \
		--terminus "${NSP}term,maq0,${a[7]}" \
		--route 172.31.0.2/32 --route fd31::2/128 \
		--back-route 172.31.0.1/32 --back-route fd31::1/128 \
		>"$tmp/up.out" 2>&1 &
	echo $! >"$tmp/chain.pid"
	wait_for 15 test -e "$tmp/ready" || { cat "$tmp/up.out" | sed 's/^/# /'; return 1; }
	while read -r line; do log "$line"; done <"$tmp/up.out"
	grep -q '^relay1.veth-l.mode=' "$tmp/up.out"
	ip -n "${NSP}origin" -batch - <<-EOF
		addr add 172.31.0.1/32 dev maq0
		addr add fd31::1/128 dev maq0 nodad
		route add 172.31.0.2/32 dev maq0
		route add fd31::2/128 dev maq0
	EOF
	ip -n "${NSP}term" -batch - <<-EOF
		addr add 172.31.0.2/32 dev maq0
		addr add fd31::2/128 dev maq0 nodad
		route add 172.31.0.1/32 dev maq0
		route add fd31::1/128 dev maq0
	EOF
	[[ $(n origin cat /sys/class/net/maq0/mtu) == 1292 ]]
	[[ $(n term cat /sys/class/net/maq0/mtu) == 1292 ]]
}

declare -A C
load_circuit() {	# load_circuit FAMILY
	local k v

	C=()
	while IFS='=' read -r k v; do C[$k]=$v; done <"$tmp/up.out"
	if [[ $1 == 4 ]]; then
		C[origin.addr]=10.0.1.1 C[term.addr]=10.0.4.2
	else
		C[origin.addr]=fd00:1::1 C[term.addr]=fd00:4::2
	fi
}

# Every relay veth runs maq_relay (natively, veth supports it), and no
# relay has a socket of any kind: nothing there could take a cell but XDP.
t_attached() {
	local h d out

	for h in "${RELAYS[@]}"; do
		for d in veth-l veth-r; do
			out=$(n "$h" ip -d link show dev "$d")
			grep -q 'prog/xdp id' <<<"$out"
			[[ ${C[relay${h#r}.$d.mode]} == native ]]
		done
		[[ -z $(n "$h" ss -Haupn) ]]
		[[ -e $BPFROOT/$NSP$h/maq_circuits && -e $BPFROOT/$NSP$h/veth-l/maq_stats ]]
	done
	# the loader asked for the neighbours of every hop (maq_xdp_prime):
	# nothing else in r1 would have talked to the origin yet
	wait_for 3 eval 'n r1 ip neigh show "${C[origin.addr]}" dev veth-l | grep -Eq "REACHABLE|STALE|DELAY|PROBE"'
	wait_for 3 eval 'n r3 ip neigh show "${C[term.addr]}" dev veth-r | grep -Eq "REACHABLE|STALE|DELAY|PROBE"'
	[[ $(n r1 sysctl -n net.ipv4.conf.lo.forwarding) == 1 ]]
	[[ $(n r1 sysctl -n net.ipv6.conf.lo.forwarding) == 1 ]]
	[[ $(n r1 sysctl -n net.ipv4.conf.all.forwarding) == 0 ]]
}

# The first cells may find no neighbour entry yet: wait for a ping to
# cross before measuring.
t_ping4() {
	wait_for 10 n origin ping -q -c 1 -W 1 172.31.0.2 >/dev/null 2>&1
	n origin ping -q -c 3 -i 0.3 -W 3 172.31.0.2 >"$tmp/ping"
	while read -r line; do log "$line"; done < <(tail -2 "$tmp/ping")
}

t_ping6() {
	wait_for 10 n origin ping -q -6 -c 1 -W 1 fd31::2 >/dev/null 2>&1
	n origin ping -q -6 -c 3 -i 0.3 -W 3 fd31::2 >"$tmp/ping"
	while read -r line; do log "$line"; done < <(tail -2 "$tmp/ping")
}

# Over a burst of pings, every cell the origin sent went through the
# forward entry of every relay and reached the terminus, and back; each
# relay's XDP counted them in and out; the relays' UDP stacks saw none.
t_counters() {
	local -A B
	local h k f b try ok=0 o_out t_out key

	# the endpoints write their counters every 200 ms: let them catch up
	sleep 0.5
	read_stats
	for key in "${!S[@]}"; do B[$key]=${S[$key]}; done
	n origin ping -q -c 10 -i 0.1 -W 3 172.31.0.2 >/dev/null
	n origin ping -q -6 -c 10 -i 0.1 -W 3 fd31::2 >/dev/null
	for ((try = 0; try < 10; try++)); do
		sleep 0.3
		read_stats
		o_out=$((${S[origin.circ.cells-out]} - ${B[origin.circ.cells-out]}))
		t_out=$((${S[term.circ.cells-out]} - ${B[term.circ.cells-out]}))
		ok=1
		(($(( ${S[term.circ.cells-in]} - ${B[term.circ.cells-in]} )) == o_out)) || ok=0
		(($(( ${S[origin.circ.cells-in]} - ${B[origin.circ.cells-in]} )) == t_out)) || ok=0
		k=0
		for h in "${RELAYS[@]}"; do
			k=$((k + 1)) f=$(fwd_cid $k) b=$(back_cid $k)
			(($(( ${S[$h.hop.$f.cells]} - ${B[$h.hop.$f.cells]} )) == o_out)) || ok=0
			(($(( ${S[$h.hop.$b.cells]} - ${B[$h.hop.$b.cells]} )) == t_out)) || ok=0
		done
		((ok)) && break
	done
	show_stats
	if ((!ok)); then
		k=0
		for h in "${RELAYS[@]}"; do
			k=$((k + 1)) f=$(fwd_cid $k) b=$(back_cid $k)
			log "$h: fwd +$(( ${S[$h.hop.$f.cells]} - ${B[$h.hop.$f.cells]} )) back +$(( ${S[$h.hop.$b.cells]} - ${B[$h.hop.$b.cells]} ))"
		done
		log "origin in +$(( ${S[origin.circ.cells-in]} - ${B[origin.circ.cells-in]} )), terminus in +$(( ${S[term.circ.cells-in]} - ${B[term.circ.cells-in]} ))"
	fi
	log "this burst: origin sent $o_out cells, terminus $t_out"
	((ok))
	((o_out >= 20 && t_out >= 20))
	for h in "${RELAYS[@]}"; do
		# all in by XDP, all out by XDP, none left to the stack
		[[ $(( ${S[$h.veth-l.cells-in]} + ${S[$h.veth-r.cells-in]} -
		       ${B[$h.veth-l.cells-in]} - ${B[$h.veth-r.cells-in]} )) == $((o_out + t_out)) ]]
		[[ $(( ${S[$h.veth-l.cells-out]} + ${S[$h.veth-r.cells-out]} -
		       ${B[$h.veth-l.cells-out]} - ${B[$h.veth-r.cells-out]} )) == $((o_out + t_out)) ]]
		for key in bad-tag replay malformed no-route key-limit unknown-cid error; do
			[[ ${S[$h.veth-l.$key]} == "${B[$h.veth-l.$key]}" ]]
			[[ ${S[$h.veth-r.$key]} == "${B[$h.veth-r.$key]}" ]]
		done
		[[ ${S[$h.udp.in]} == "${B[$h.udp.in]}" && ${S[$h.udp6.in]} == "${B[$h.udp6.in]}" ]]
	done
	for h in origin term; do
		for key in unknown-cid bad-tag replay malformed key-limit; do
			[[ ${S[$h.circ.drop-$key]} == 0 && ${S[$h.dev.drop-$key]} == 0 ]]
		done
	done
}

# iperf DST [ARGS]: a short iperf3 run from origin to term
iperf() {
	local dst=$1 try rc out spid

	shift
	for ((try = 0; try < 3; try++)); do
		n term timeout 40 iperf3 -s -1 -B "$dst" -p 5201 >"$tmp/iperf-s" 2>&1 &
		spid=$!
		sleep 1
		rc=0
		out=$(n origin timeout 40 iperf3 -c "$dst" -p 5201 -t 3 \
			--connect-timeout 5000 "$@" 2>&1) || rc=$?
		((rc == 0)) || kill "$spid" 2>/dev/null
		wait "$spid" || true
		((rc == 0)) && break
		log "iperf3 attempt $try: $out"
	done
	while read -r line; do log "$line"; done < <(grep -E 'sender$|receiver$' <<<"$out")
	((rc == 0))
	IPERF_OUT=$out
}

t_iperf_tcp() {
	iperf 172.31.0.2
	grep -Eq 'receiver$' <<<"$IPERF_OUT"
	! grep -Eq ' 0.00 bits/sec +receiver' <<<"$IPERF_OUT" || return 1
}

t_iperf_tcp6() {
	iperf fd31::2
	grep -Eq 'receiver$' <<<"$IPERF_OUT"
	! grep -Eq ' 0.00 bits/sec +receiver' <<<"$IPERF_OUT" || return 1
}

t_iperf_udp() {
	local lost total

	iperf 172.31.0.2 -u -b 50M -l 1200
	read -r lost total < <(grep -E 'receiver$' <<<"$IPERF_OUT" |
		sed -nE 's|.* ([0-9]+)/([0-9]+) .*|\1 \2|p')
	log "udp: lost $lost of $total"
	[[ -n $total ]]
	((total > 0 && lost * 10 < total))
}

# --- a tampered cell -------------------------------------------------------

# A forward cell as the origin's stack sends it on link 1, recorded while
# r1 has no neighbour entry for r2: its XDP then passes the cell to the
# stack (no-route) without opening it or moving the window, so the cell
# is still new to r1 and the attacker can play with it.
t_capture() {
	local ready=$tmp/cap.ready mac nr0 f rn0

	read_stats
	nr0=${S[r1.veth-l.no-route]}
	f=$(fwd_cid 1)
	rn0=${S[r1.hop.$f.replay-next]}
	mac=$(n r2 cat /sys/class/net/veth-l/address)
	n r1 ip neigh del 10.0.2.2 dev veth-r
	rm -f "$ready" "$tmp/cells"
	"$maqchain" capture --ns "${NSP}origin" --dev veth-r --port "$PORT" \
		--count 1 --timeout 10000 --ready "$ready" --out "$tmp/cells" \
		>/dev/null &
	wait_for 5 test -e "$ready"
	n origin ping -q -c 1 -W 1 172.31.0.2 >/dev/null || true
	wait $! || true
	n r1 ip neigh replace 10.0.2.2 lladdr "$mac" dev veth-r nud reachable
	[[ -s $tmp/cells ]]
	read_stats
	log "r1: no-route $nr0 -> ${S[r1.veth-l.no-route]}, window $rn0 -> ${S[r1.hop.$f.replay-next]}"
	((${S[r1.veth-l.no-route]} > nr0))
	[[ ${S[r1.hop.$f.replay-next]} == "$rn0" ]]
}

# inject ARGS: send the recorded cell out of the origin on link 1 again
inject() {
	"$maqchain" inject --ns "${NSP}origin" --dev veth-r --in "$tmp/cells" "$@" >/dev/null
}

# inject_expect WHAT FLIP: inject the recorded cell with bit FLIP (BYTE.BIT
# of the cell) flipped, or intact for -, and want r1's XDP to drop it with
# counter WHAT, on the interface and the hop, and nothing to go on.
inject_expect() {
	local what=$1 flip=$2 f c0 h0 out0 r2in0

	read_stats
	f=$(fwd_cid 1)
	c0=${S[r1.veth-l.$what]} h0=${S[r1.hop.$f.$what]}
	out0=${S[r1.veth-r.cells-out]} r2in0=${S[r2.veth-l.cells-in]}
	if [[ $flip == - ]]; then
		inject
	else
		inject --flip "$flip"
	fi
	wait_for 3 eval '"$maqchain" stats --ns "${NSP}r1" --pin-root "$BPFROOT" \
		--dev veth-l | grep -qx "veth-l.$what=$((c0 + 1))"' || true
	read_stats
	log "$what at r1: veth-l $c0 -> ${S[r1.veth-l.$what]}, hop $h0 -> ${S[r1.hop.$f.$what]}; r1 out $out0 -> ${S[r1.veth-r.cells-out]}"
	[[ ${S[r1.veth-l.$what]} == $((c0 + 1)) && ${S[r1.hop.$f.$what]} == $((h0 + 1)) ]]
	[[ ${S[r1.veth-r.cells-out]} == "$out0" && ${S[r2.veth-l.cells-in]} == "$r2in0" ]]
}

t_bad_tag_body() { inject_expect bad-tag 700.3; }
t_bad_tag_tag() { inject_expect bad-tag 1430.5; }
# bit 62 of seq: a fresh counter, so the window lets it through to the tag
t_bad_tag_seq() { inject_expect bad-tag 4.6; }

# The untouched cell is new to r1: relayed, and the terminus takes it.
t_intact_accepted() {
	local f out0 r2in0 tin0 bad0

	read_stats
	f=$(fwd_cid 1)
	out0=${S[r1.hop.$f.cells]} r2in0=${S[r2.veth-l.cells-in]}
	tin0=${S[term.circ.cells-in]} bad0=${S[r1.veth-l.bad-tag]}
	inject
	wait_for 3 eval '(( $(sed -n "s/^circ.cells-in=//p" "$tmp/terminus.stats") > tin0 ))' || true
	read_stats
	log "r1 hop cells $out0 -> ${S[r1.hop.$f.cells]}, r2 in $r2in0 -> ${S[r2.veth-l.cells-in]}, terminus in $tin0 -> ${S[term.circ.cells-in]}"
	[[ ${S[r1.hop.$f.cells]} == $((out0 + 1)) ]]
	[[ ${S[r2.veth-l.cells-in]} == $((r2in0 + 1)) ]]
	[[ ${S[term.circ.cells-in]} == $((tin0 + 1)) ]]
	[[ ${S[r1.veth-l.bad-tag]} == "$bad0" ]]
}

t_replay() { inject_expect replay -; }

# --- the IPv6 underlay, reusing the pins ------------------------------------

map_id() {	# map_id RELAY: id of its pinned hop table
	bpftool map show pinned "$BPFROOT/$NSP$1/maq_circuits" | sed -nE 's/^([0-9]+):.*/\1/p'
}

t_restart_v6() {
	local h
	local -A before

	for h in "${RELAYS[@]}"; do before[$h]=$(map_id "$h"); done
	chain_stop
	! n origin ip link show maq0 >/dev/null 2>&1 || return 1
	up 6
	CHAIN_PID=$(<"$tmp/chain.pid")
	for h in "${RELAYS[@]}"; do
		log "$h: hop table map ${before[$h]} -> $(map_id "$h")"
		[[ $(map_id "$h") == "${before[$h]}" ]]
	done
}

# --- detach -----------------------------------------------------------------

t_detach() {
	local h d ids=() id

	for h in "${RELAYS[@]}"; do
		for d in veth-l veth-r; do
			ids+=("$(n "$h" ip -d link show dev "$d" |
				sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p')")
		done
	done
	chain_stop
	for h in "${RELAYS[@]}"; do
		"$maqchain" detach --ns "$NSP$h" --pin-root "$BPFROOT" \
			--dev veth-l --dev veth-r
	done
	for h in "${RELAYS[@]}"; do
		for d in veth-l veth-r; do
			! n "$h" ip -d link show dev "$d" | grep -q 'prog/xdp' || return 1
		done
		[[ ! -e $BPFROOT/$NSP$h ]]
	done
	[[ -z $(ls -A "$BPFROOT") ]]
	log "programs were: ${ids[*]}"
	for id in "${ids[@]}"; do
		[[ -n $id ]]
		! bpftool prog show id "$id" >/dev/null 2>&1 || return 1
	done
	# the endpoints took their TUN devices along
	! n origin ip link show maq0 >/dev/null 2>&1 || return 1
	! n term ip link show maq0 >/dev/null 2>&1 || return 1
}

# The loader on its own: generic mode on request, a dotted interface name
# (bpffs takes no dot: pinned under a colon), somebody else's program
# neither replaced nor detached, and the pins of an interface that went
# away removed all the same.
t_loader() {
	local ns=${NSP}lt out

	ip netns add "$ns"
	ip -n "$ns" link add name lt.a type veth peer name lt.b
	ip -n "$ns" link set lt.a up
	ip -n "$ns" link set lt.b up
	out=$("$maqchain" attach --ns "$ns" --pin-root "$BPFROOT" --mode generic --dev lt.a)
	logs "$out"
	grep -qx 'lt.a.mode=generic' <<<"$out"
	out=$(ip -n "$ns" -d link show dev lt.a)
	grep -q ' xdpgeneric ' <<<"$out"
	grep -q 'prog/xdp id .* name maq_relay ' <<<"$out"
	[[ -e $BPFROOT/$ns/lt:a/maq_stats && -e $BPFROOT/$ns/maq_circuits ]]
	# again, in auto mode: it stays generic, replaced in place
	out=$("$maqchain" attach --ns "$ns" --pin-root "$BPFROOT" --dev lt.a)
	grep -qx 'lt.a.mode=generic' <<<"$out"

	ip netns exec "$ns" ip link set dev lt.b xdp obj "$top/bpf/xdp_fwd.bpf.o" sec xdp
	out=$("$maqchain" attach --ns "$ns" --pin-root "$BPFROOT" --dev lt.b) && false
	logs "$out"
	grep -q '^lt.b.error=Device or resource busy' <<<"$out"
	[[ ! -e $BPFROOT/$ns/lt:b ]]
	! "$maqchain" detach --ns "$ns" --pin-root "$BPFROOT" --dev lt.b 2>/dev/null || return 1
	ip -n "$ns" -d link show dev lt.b | grep -q 'name maq_xdp_fwd'

	ip -n "$ns" link del lt.a
	[[ -e $BPFROOT/$ns/lt:a/maq_stats ]]
	"$maqchain" detach --ns "$ns" --pin-root "$BPFROOT" --dev lt.a
	[[ ! -e $BPFROOT/$ns ]]
	ip netns del "$ns"
}

# --- main -------------------------------------------------------------------

[[ $(id -u) == 0 ]] || skip_all "needs root"
[[ -r /sys/kernel/btf/vmlinux ]] || skip_all "kernel has no BTF"
[[ -c /dev/net/tun ]] || skip_all "no /dev/net/tun"
for tool in iperf3 ping ethtool ss ip bpftool; do
	command -v "$tool" >/dev/null || skip_all "no $tool"
done
bpftool prog show >/dev/null 2>&1 || skip_all "no BPF (bpftool prog show fails)"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null ||
	skip_all "no bpffs at /sys/fs/bpf"
tmp=$(mktemp -d /tmp/maq-chain.XXXXXX)
trap cleanup EXIT
make -s -C "$here/chain" >"$tmp/build.log" 2>&1 || {
	sed 's/^/# /' "$tmp/build.log"
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 build tests/bpf/chain"
	exit 1
}

ktap_print_header
NTESTS=26
ktap_set_plan $NTESTS

if ! run "topology: 5 namespaces, veth links" t_topology; then
	for ((i = 1; i < NTESTS; i++)); do ktap_test_fail "no topology"; done
	ktap_finished
fi

if run "v4 underlay: XDP relays and userspace endpoints up" up 4; then
	CHAIN_PID=$(<"$tmp/chain.pid")
	load_circuit 4
	run "v4 underlay: maq_relay on every relay veth, native, no sockets" t_attached
	run "v4 underlay: ping inner IPv4" t_ping4
	run "v4 underlay: ping inner IPv6" t_ping6
	run "v4 underlay: every cell through every relay's XDP, none to its stack" t_counters
	if run "tamper: record a forward cell on link 1" t_capture; then
		run "tamper: body bit flipped -> bad-tag at r1's XDP" t_bad_tag_body
		run "tamper: tag bit flipped -> bad-tag at r1's XDP" t_bad_tag_tag
		run "tamper: seq bit flipped -> bad-tag at r1's XDP" t_bad_tag_seq
		run "tamper: the intact cell is relayed and delivered" t_intact_accepted
		run "tamper: the intact cell again -> replay at r1's XDP" t_replay
	else
		for ((i = 0; i < 5; i++)); do ktap_test_fail "tamper: no recorded cell"; done
	fi
	run "v4 underlay: still carries traffic" t_ping4
	run "v4 underlay: iperf3 TCP, inner IPv4" t_iperf_tcp
	run "v4 underlay: iperf3 UDP, inner IPv4" t_iperf_udp
	run "v4 underlay: iperf3 TCP, inner IPv6" t_iperf_tcp6
else
	CHAIN_PID=$(cat "$tmp/chain.pid" 2>/dev/null)
	for ((i = 0; i < 14; i++)); do ktap_test_fail "v4 underlay: not up"; done
fi

if run "v6 underlay: restart on fd00:*, pinned hop tables reused" t_restart_v6; then
	CHAIN_PID=$(<"$tmp/chain.pid")
	load_circuit 6
	run "v6 underlay: maq_relay on every relay veth, native, no sockets" t_attached
	run "v6 underlay: ping inner IPv4" t_ping4
	run "v6 underlay: ping inner IPv6" t_ping6
	run "v6 underlay: every cell through every relay's XDP, none to its stack" t_counters
	run "v6 underlay: iperf3 TCP, inner IPv4" t_iperf_tcp
	run "v6 underlay: iperf3 UDP, inner IPv4" t_iperf_udp
	run "v6 underlay: iperf3 TCP, inner IPv6" t_iperf_tcp6
else
	CHAIN_PID=$(cat "$tmp/chain.pid" 2>/dev/null)
	for ((i = 0; i < 7; i++)); do ktap_test_fail "v6 underlay: not up"; done
fi
run "detach: no program attached, nothing pinned, programs freed" t_detach
CHAIN_PID=
run "loader: generic mode, dotted name, foreign program kept, gone interface unpinned" t_loader
ktap_finished
