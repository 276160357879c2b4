#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# maquis end to end, in the spirit of WireGuard's netns.sh: five network
# namespaces in a line, a circuit through the three in the middle, real
# traffic through it, counters, drops, unloading under load, and a
# load/use/unload loop watched for slab growth.  Prints KTAP.
#
#   origin               r1              r2              r3             term
#  +------------+     +--------+      +--------+      +--------+     +------------+
#  | maq0       |     | maq0   |      | maq0   |      | maq0   |     | maq0       |
#  | 172.31.0.1 |     | relay  |      | relay  |      | relay  |     | 172.31.0.2 |
#  | fd31::1    |     |        |      |        |      |        |     | fd31::2    |
#  |     veth-r +-----+ veth-l |      |        |      |        |     |            |
#  |            |  1  | veth-r +------+ veth-l |      |        |     |            |
#  |            |     |        |  2   | veth-r +------+ veth-l |     |            |
#  |            |     |        |      |        |  3   | veth-r +-----+ veth-l     |
#  |     veth-x +--------------------------- 9 ----------------------+ veth-x     |
#  +------------+     +--------+      +--------+      +--------+  4  +------------+
#
#  link L (1..4): 10.0.L.1/24 (west end) -- 10.0.L.2/24 (east end)
#                 fd00:L::1/64            -- fd00:L::2/64
#  link 9 (origin -- term, for the load/unload loop): 10.0.9.1 -- 10.0.9.2
#
# The circuit is installed by maqtool (keys, bases, cids generated, each
# host's part installed over netlink in its namespace: no daemon yet), once
# over the IPv4 underlay and once over the IPv6 underlay.  maq0 routes
# 172.31.0.2/32 and fd31::2/128 into it at the origin, and the terminus
# sends the replies back along it.
#
# Needs root, maquis.ko loaded (or MAQ_KO naming it), veth, iperf3, ping,
# tc (clsact, matchall, gact).  MAQ_LEAK_ITERS sets the loop count (50).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
maqtool=$here/maqtool
KO=${MAQ_KO:-$top/kmod/maquis.ko}
ITERS=${MAQ_LEAK_ITERS:-50}
HOSTS=(origin r1 r2 r3 term)
RELAYS=(r1 r2 r3)
tmp=$(mktemp -d /tmp/maq-netns.XXXXXX)

# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"

n() { local h=$1; shift; ip netns exec "mq-$h" "$@"; }
mt() { local h=$1; shift; "$maqtool" -n "mq-$h" "$@"; }

cleanup() {
	local h

	set +e
	jobs -p | while read -r p; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for h in "${HOSTS[@]}"; do
		ip netns pids "mq-$h" 2>/dev/null | while read -r p; do kill "$p"; done
		ip netns del "mq-$h" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

ensure_module() {
	local d

	[[ -d /sys/module/maquis ]] && return 0
	for d in $(modinfo -F depends "$KO" | tr , ' '); do modprobe "$d"; done
	insmod "$KO"
}

port_of() {	# port_of HOST: the UDP port of its maq0
	local k v

	while IFS='=' read -r k v; do
		[[ $k == port ]] && { echo "$v"; return 0; }
	done < <(mt "$1" dev maq0)
	return 1
}

declare -A C D
# read_stats ID: C[host.counter] = that host's counters of circuit ID
# (none for "-"), D[host.counter] = its device counters.
read_stats() {
	local id=$1 h k v

	C=() D=()
	for h in "${HOSTS[@]}"; do
		[[ $id == - ]] ||
		while IFS='=' read -r k v; do C[$h.$k]=$v; done \
			< <(mt "$h" stats maq0 "$id")
		while IFS='=' read -r k v; do D[$h.$k]=$v; done \
			< <(mt "$h" stats maq0)
	done
}

show_stats() {
	local h

	log "$(printf '%-8s %9s %9s %8s %8s %8s %8s %8s' host cells-in cells-out bad-tag replay unkn-cid malform no-route)"
	for h in "${HOSTS[@]}"; do
		log "$(printf '%-8s %9s %9s %8s %8s %8s %8s %8s' "$h" \
			"${C[$h.cells-in]:-?}" "${C[$h.cells-out]:-?}" \
			"${C[$h.drop-bad-tag]:-?}" "${C[$h.drop-replay]:-?}" \
			"${D[$h.drop-unknown-cid]:-?}" "${D[$h.drop-malformed]:-?}" \
			"${C[$h.drop-no-route]:-?}")"
	done
}

# --- topology -------------------------------------------------------------

t_topology() {
	local i h batch

	modprobe veth
	ensure_module
	for h in "${HOSTS[@]}"; do
		ip netns add "mq-$h"
	done
	for i in 1 2 3 4; do
		ip link add veth-r netns "mq-${HOSTS[i - 1]}" type veth \
			peer name veth-l netns "mq-${HOSTS[i]}"
	done
	ip link add veth-x netns mq-origin type veth peer name veth-x netns mq-term
	for i in 0 1 2 3 4; do
		h=${HOSTS[i]}
		batch="link set lo up
link add maq0 type maquis
link set maq0 up"
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
		case $h in
		origin)
			batch+="
addr add 10.0.9.1/24 dev veth-x
link set veth-x up
addr add 172.31.0.1/32 dev maq0
addr add fd31::1/128 dev maq0 nodad
route add 172.31.0.2/32 dev maq0
route add fd31::2/128 dev maq0" ;;
		term)
			batch+="
addr add 10.0.9.2/24 dev veth-x
link set veth-x up
addr add 172.31.0.2/32 dev maq0
addr add fd31::2/128 dev maq0 nodad
route add 172.31.0.1/32 dev maq0
route add fd31::1/128 dev maq0" ;;
		esac
		ip -n "mq-$h" -batch - <<<"$batch"
	done
	for h in "${HOSTS[@]}"; do
		[[ $(port_of "$h") -gt 0 ]]
	done
	PORT=$(port_of r2)
	echo "$PORT" >"$tmp/port"
	log "maquis port $PORT"
}

# install ID FAMILY: the circuit origin -> r1 -> r2 -> r3 -> term
install() {
	local id=$1 fam=$2 a=() i

	for i in 1 2 3 4; do
		if [[ $fam == 4 ]]; then
			a+=("10.0.$i.1" "10.0.$i.2")
		else
			a+=("fd00:$i::1" "fd00:$i::2")
		fi
	done
	"$maqtool" install --id "$id" --lifetime 3600 \
		--origin "mq-origin,maq0,${a[0]}" \
		--relay "mq-r1,maq0,${a[1]},${a[2]}" \
		--relay "mq-r2,maq0,${a[3]},${a[4]}" \
		--relay "mq-r3,maq0,${a[5]},${a[6]}" \
		--terminus "mq-term,maq0,${a[7]}" \
		--route 172.31.0.2/32 --route fd31::2/128 \
		--back-route 172.31.0.1/32 --back-route fd31::1/128 \
		>"$tmp/circuit.$id"
	while read -r line; do log "$line"; done <"$tmp/circuit.$id"
	[[ $(grep -c cid= "$tmp/circuit.$id") == 8 ]]
	echo "$id" >"$tmp/current"
}

# reinstall ID FAMILY: remove every circuit everywhere, install ID
reinstall() {
	local h c

	for h in "${HOSTS[@]}"; do
		for c in $(mt "$h" circuits maq0 | sed -n 's/^id=\([0-9]*\) .*/\1/p'); do
			mt "$h" del maq0 "$c"
		done
	done
	install "$1" "$2"
}

t_install_v4() { install 1 4; }
t_install_v6() { reinstall 2 6; }

t_ping4() { n origin ping -q -c 3 -i 0.3 -W 3 172.31.0.2 | tail -2; }
t_ping6() { n origin ping -q -6 -c 3 -i 0.3 -W 3 fd31::2 | tail -2; }

# Every cell the origin sent reached the terminus and back, through every
# relay, none dropped anywhere.
t_counters() {
	local id=$1 h try ok=0 o_out t_out c

	for h in "${HOSTS[@]}"; do
		mt "$h" reset maq0 "$id"
	done
	n origin ping -c 10 -i 0.2 -W 3 -q 172.31.0.2
	for ((try = 0; try < 10; try++)); do
		read_stats "$id"
		o_out=${C[origin.cells-out]} t_out=${C[term.cells-out]}
		ok=1
		[[ ${C[term.cells-in]} == "$o_out" ]] || ok=0
		[[ ${C[origin.cells-in]} == "$t_out" ]] || ok=0
		for h in "${RELAYS[@]}"; do
			[[ ${C[$h.cells-in]} == "${C[$h.cells-out]}" ]] || ok=0
			[[ ${C[$h.cells-in]} == $((o_out + t_out)) ]] || ok=0
		done
		((ok)) && break
		sleep 0.5
	done
	show_stats
	((ok))
	((o_out >= 10 && t_out >= 10))
	for h in "${HOSTS[@]}"; do
		for c in unknown-cid bad-tag replay malformed no-route key-limit; do
			[[ ${C[$h.drop-$c]} == 0 ]]
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
	while read -r line; do log "$line"; done <<<"$out"
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
}

t_iperf_udp() {
	local lost total

	iperf 172.31.0.2 -u -b 4M -l 1200
	read -r lost total < <(grep -E 'receiver$' <<<"$IPERF_OUT" |
		sed -nE 's|.* ([0-9]+)/([0-9]+) .*|\1 \2|p')
	log "udp: lost $lost of $total"
	[[ -n $total ]]
	((total > 0 && lost * 2 < total))
}

# --- drops ----------------------------------------------------------------

# r2 drops what arrives on veth-l (tc), while a capture there records the
# forward cells r1 sends it.  Once the filter is gone, those cells are new
# to r2 and can be injected, intact or damaged, from r1's side of the link.
t_capture() {
	local ready=$tmp/ready

	n r2 tc qdisc add dev veth-l clsact
	n r2 tc filter add dev veth-l ingress matchall action drop
	rm -f "$ready"
	mt r2 capture --dev veth-l --port "$PORT" --dir in --count 2 \
		--timeout 20000 --ready "$ready" --out "$tmp/cells" &
	for ((i = 0; i < 100; i++)); do
		[[ -e $ready ]] && break
		sleep 0.1
	done
	[[ -e $ready ]]
	n origin ping -c 3 -i 0.3 -W 1 -q 172.31.0.2 || true
	wait $!
	n r2 tc qdisc del dev veth-l clsact
	[[ -s $tmp/cells ]]
}

# inject_expect WHAT N INJECT-ARGS...: inject from r1 and want r2's WHAT
# drop counter (circuit or device) up by exactly N, nothing forwarded.
inject_expect() {
	local what=$1 want=$2 c0 d0 out0 r3in0 dc dd

	shift 2
	read_stats 1
	c0=${C[r2.drop-$what]} d0=${D[r2.drop-$what]}
	out0=${C[r2.cells-out]} r3in0=${C[r3.cells-in]}
	mt r1 inject --dev veth-r --in "$tmp/cells" "$@" >/dev/null
	sleep 0.5
	read_stats 1
	dc=$((${C[r2.drop-$what]} - c0)) dd=$((${D[r2.drop-$what]} - d0))
	log "$what: circuit +$dc, device +$dd (want +$want); r2 cells-out $out0 -> ${C[r2.cells-out]}"
	[[ $dc == "$want" || $dd == "$want" ]]
	[[ ${C[r2.cells-out]} == "$out0" && ${C[r3.cells-in]} == "$r3in0" ]]
}

t_bad_tag_body() { inject_expect bad-tag 1 --index 0 --flip 512.3; }

# (Other traffic may move cells-in too: what matters is that nothing was
# dropped, and that the next copy counts as a replay, see t_replay.)
t_intact_accepted() {
	local in0 r3in0 bad0 rep0

	read_stats 1
	in0=${C[r2.cells-in]} r3in0=${C[r3.cells-in]}
	bad0=${C[r2.drop-bad-tag]} rep0=${C[r2.drop-replay]}
	mt r1 inject --dev veth-r --in "$tmp/cells" --index 0 >/dev/null
	sleep 0.5
	read_stats 1
	log "r2 cells-in $in0 -> ${C[r2.cells-in]}, r3 cells-in $r3in0 -> ${C[r3.cells-in]}"
	((${C[r2.cells-in]} > in0 && ${C[r3.cells-in]} > r3in0))
	[[ ${C[r2.drop-bad-tag]} == "$bad0" && ${C[r2.drop-replay]} == "$rep0" ]]
}

t_replay() { inject_expect replay 1 --index 0; }
t_bad_tag_tag() { inject_expect bad-tag 1 --index 1 --flip 1430.0; }
t_bad_tag_seq() { inject_expect bad-tag 1 --index 1 --seq-add 4096; }

t_unknown_cid() {
	local d0

	inject_expect unknown-cid 1 --index 1 --set-cid 0x7ffffff1
	read_stats 1
	d0=${D[r2.drop-unknown-cid]}
	mt r1 send "10.0.2.2:$PORT" --cid 0x7ffffff2 --len 1436 >/dev/null
	sleep 0.5
	read_stats 1
	log "unknown-cid (plain datagram): device ${d0} -> ${D[r2.drop-unknown-cid]}"
	[[ ${D[r2.drop-unknown-cid]} == $((d0 + 1)) ]]
}

t_malformed() {
	local d0 len lens=(0 1 12 100 1435 1437 1500 3000)

	read_stats 1
	d0=${D[r2.drop-malformed]}
	for len in "${lens[@]}"; do
		mt r1 send "10.0.2.2:$PORT" --len "$len" --cid 0x01020304 >/dev/null
	done
	mt r1 send "10.0.2.2:$PORT" --len 100 --cid 0 >/dev/null
	inject_expect malformed 1 --index 1 --truncate 1000
	read_stats 1
	log "malformed: device $d0 -> ${D[r2.drop-malformed]} (want +$((${#lens[@]} + 2)))"
	[[ ${D[r2.drop-malformed]} == $((d0 + ${#lens[@]} + 2)) ]]
}

t_still_works() {
	t_ping4
	t_ping6
}

# The MTU is B - H - 4 = 1292: packets of exactly that size cross, larger
# ones are refused with DF and fragmented without.
t_mtu() {
	[[ $(n origin cat /sys/class/net/maq0/mtu) == 1292 ]]
	n origin ping -q -c 2 -W 3 -M 'do' -s 1264 172.31.0.2 | tail -2
	n origin ping -q -6 -c 2 -W 3 -M 'do' -s 1244 fd31::2 | tail -2
	! n origin ping -q -c 1 -W 2 -M 'do' -s 1265 172.31.0.2 >/dev/null 2>&1 || return 1
	n origin ping -q -c 2 -W 3 -s 3000 172.31.0.2 | tail -2
	n origin ping -q -6 -c 2 -W 3 -s 3000 fd31::2 | tail -2
}

# A relay's circuit deleted under a ping flood: its cells become unknown.
t_del_under_load() {
	local id u0

	id=$(<"$tmp/current")
	read_stats "$id"
	u0=${D[r2.drop-unknown-cid]}
	n origin timeout 20 ping -f -w 4 -q 172.31.0.2 >"$tmp/flood2" 2>&1 &
	sleep 1.5
	mt r2 del maq0 "$id"
	wait $! || true
	read_stats -
	while read -r line; do log "ping: $line"; done < <(tail -2 "$tmp/flood2")
	log "r2 unknown-cid $u0 -> ${D[r2.drop-unknown-cid]}"
	((${D[r2.drop-unknown-cid]} > u0))
}

# A relay's whole device deleted under a ping flood, then a new one.
t_linkdel_under_load() {
	reinstall 3 6
	n origin ping -q -c 2 -W 3 172.31.0.2 | tail -1
	n origin timeout 20 ping -f -w 4 -q 172.31.0.2 >"$tmp/flood3" 2>&1 &
	sleep 1.5
	ip -n mq-r3 link del maq0
	wait $! || true
	while read -r line; do log "ping: $line"; done < <(tail -2 "$tmp/flood3")
	ip -n mq-r3 -batch - <<-EOF
		link add maq0 type maquis
		link set maq0 up
	EOF
	reinstall 4 6
	n origin ping -q -c 2 -W 3 172.31.0.2 | tail -1
}

# --- unloading ------------------------------------------------------------

t_rmmod_under_load() {
	local pf pi rc

	n origin timeout 30 ping -f -w 8 -q 172.31.0.2 >"$tmp/flood" 2>&1 &
	pf=$!
	n term timeout 30 iperf3 -s -1 -B 172.31.0.2 -p 5202 >/dev/null 2>&1 &
	sleep 1
	n origin timeout 30 iperf3 -c 172.31.0.2 -p 5202 -t 8 -u -b 4M -l 1200 \
		--connect-timeout 5000 >"$tmp/iperf-load" 2>&1 &
	pi=$!
	sleep 3
	read_stats "$(<"$tmp/current")"
	show_stats
	((${C[origin.cells-out]} > 0))
	rc=0
	rmmod maquis || rc=$?
	log "rmmod under load: $rc"
	wait $pf $pi 2>/dev/null || true
	wait 2>/dev/null || true
	[[ ! -d /sys/module/maquis ]]
	! n origin ip link show maq0 >/dev/null 2>&1 || return 1
	! n term ip link show maq0 >/dev/null 2>&1 || return 1
	while read -r line; do log "ping: $line"; done < <(tail -3 "$tmp/flood")
	((rc == 0))
}

# Objects of every slab cache, after dropping what can be dropped and
# flushing the per-CPU slabs so that the counts are exact.
slab_snapshot() {
	local f name active size rest

	sync
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null
	done
	sleep 1
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null
	done
	while read -r name active _ size rest; do
		[[ $name == slabinfo || $name == '#' ]] && continue
		echo "$name $active $size"
	done </proc/slabinfo >"$1"
	while read -r name active rest; do
		if [[ $name == Slab: ]]; then echo "$active"; fi
	done </proc/meminfo >"$1.total"
}

use_once() {
	ensure_module || return 1
	ip -n mq-origin -batch - <<-EOF || return 1
		link add maq0 type maquis
		link set maq0 up
		addr add 172.31.0.1/32 dev maq0
		route add 172.31.0.2/32 dev maq0
	EOF
	ip -n mq-term -batch - <<-EOF || return 1
		link add maq0 type maquis
		link set maq0 up
		addr add 172.31.0.2/32 dev maq0
		route add 172.31.0.1/32 dev maq0
	EOF
	"$maqtool" install --id 7 --lifetime 600 --origin mq-origin,maq0,10.0.9.1 \
		--terminus mq-term,maq0,10.0.9.2 --route 172.31.0.2/32 \
		--back-route 172.31.0.1/32 >/dev/null || return 1
	n origin ping -c 2 -i 0.2 -W 2 -q 172.31.0.2 >/dev/null || { rmmod maquis; return 1; }
	rmmod maquis
}

# Leak check.  Exact counts still move with unrelated kernel activity
# (9p, exec, dentries, a burst of kmalloc-8 now and then), so one
# difference proves little.  A leak grows with the iterations, noise does
# not: the loop is measured in two halves and a cache fails only when it
# grew by at least one object per iteration in *both* halves.  The total
# (Slab: in /proc/meminfo) may move by 1 MiB over the whole loop.
t_load_loop() {
	local i fails=0 half=$((ITERS / 2)) name a sz d1 d2 bad=0 t0 t2
	local -A s0=() s1=()

	[[ -d /sys/module/maquis ]] && rmmod maquis
	for i in 1 2; do use_once; done	# warm up caches
	slab_snapshot "$tmp/slab.0"
	for ((i = 0; i < half; i++)); do
		use_once || fails=$((fails + 1))
	done
	slab_snapshot "$tmp/slab.1"
	for ((i = half; i < ITERS; i++)); do
		use_once || fails=$((fails + 1))
	done
	slab_snapshot "$tmp/slab.2"
	t0=$(<"$tmp/slab.0.total") t2=$(<"$tmp/slab.2.total")
	while read -r name a sz; do s0[$name]=$a; done <"$tmp/slab.0"
	while read -r name a sz; do s1[$name]=$a; done <"$tmp/slab.1"
	log "load/use/unload x$ITERS: $fails failed iterations"
	log "Slab: before ${t0} kB, after ${t2} kB, delta $((t2 - t0)) kB (tolerance 1024 kB)"
	log "caches that grew over the loop (objects: first half + second half, object size):"
	while read -r name a sz; do
		d1=$((${s1[$name]:-0} - ${s0[$name]:-0}))
		d2=$((a - ${s1[$name]:-0}))
		((d1 + d2 > 0)) || continue
		echo "$((d1 + d2)) $name $d1 $d2 $sz"
	done <"$tmp/slab.2" | sort -rn | head -15 >"$tmp/slab.grew"
	while read -r _ name d1 d2 sz; do
		log "  $name +$d1 +$d2 x $sz B"
		if ((half > 0 && d1 >= half && d2 >= half)); then
			log "  ^ one object per iteration or more in both halves: leak"
			bad=1
		fi
	done <"$tmp/slab.grew"
	((fails == 0))
	((bad == 0))
	((t2 - t0 <= 1024))
}

ktap_print_header
NTESTS=28
ktap_set_plan $NTESTS
if [[ $(id -u) != 0 || ! -x $maqtool ]]; then
	for ((i = 0; i < NTESTS; i++)); do ktap_test_skip "needs root and maqtool"; done
	ktap_finished
fi

if run "topology: 5 namespaces, veth links, maq0 everywhere" t_topology; then
	PORT=$(<"$tmp/port")
	run "v4 underlay: install a 3-relay circuit" t_install_v4
	run "v4 underlay: ping inner IPv4" t_ping4
	run "v4 underlay: ping inner IPv6" t_ping6
	run "v4 underlay: cell counters consistent on every hop" t_counters 1
	if run "drops: capture forward cells between r1 and r2" t_capture; then
		run "drops: body bit flipped -> bad-tag at r2, not forwarded" t_bad_tag_body
		run "drops: the intact cell is then accepted and forwarded" t_intact_accepted
		run "drops: replayed cell -> replay at r2" t_replay
		run "drops: tag bit flipped -> bad-tag" t_bad_tag_tag
		run "drops: seq changed -> bad-tag" t_bad_tag_seq
	else
		for ((i = 0; i < 5; i++)); do ktap_test_fail "drops: no captured cells"; done
	fi
	run "drops: unknown cid -> unknown-cid" t_unknown_cid
	run "drops: truncated and oversized datagrams -> malformed" t_malformed
	run "drops: circuit still carries traffic" t_still_works
	run "v4 underlay: iperf3 TCP, inner IPv4" t_iperf_tcp
	run "v4 underlay: iperf3 UDP, inner IPv4" t_iperf_udp
	run "v4 underlay: iperf3 TCP, inner IPv6" t_iperf_tcp6
	run "v6 underlay: reinstall the circuit over fd00:*" t_install_v6
	run "v6 underlay: ping inner IPv4" t_ping4
	run "v6 underlay: ping inner IPv6" t_ping6
	run "v6 underlay: cell counters consistent on every hop" t_counters 2
	run "v6 underlay: iperf3 TCP, inner IPv4" t_iperf_tcp
	run "v6 underlay: iperf3 UDP, inner IPv4" t_iperf_udp
	run "MTU 1292: full-size packets cross, bigger ones fragment" t_mtu
	run "circuit deleted on a relay under a ping flood" t_del_under_load
	run "relay device deleted under a ping flood, then replaced" t_linkdel_under_load
	run "rmmod under ping flood and iperf3" t_rmmod_under_load
	run "load/use/unload x$ITERS, slab counts" t_load_loop
else
	for ((i = 1; i < NTESTS; i++)); do ktap_test_fail "no topology"; done
fi
ktap_finished
