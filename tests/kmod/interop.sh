#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A module endpoint and a userspace endpoint at the two ends of one
# circuit: maq0 of maquis.ko at one end, daemon/endpoint.c's TUN maq0 at
# the other, a module relay between them.  First the module end
# originates, then the userspace end does; each time ping and iperf3 run
# both ways, and the cells one end sent are the cells the other took, one
# for one, with no drop anywhere.  Prints KTAP.
#
#        km                    r1                    us
#  +---------------+     +------------+     +------------------+
#  | maq0 (module) |     | maq0       |     | maq0 (TUN,       |
#  | 172.31.0.1    |     | (module    |     |  daemon/endpoint)|
#  | fd31::1       |     |  relay)    |     | 172.31.0.2       |
#  |        veth-r +-----+ veth-l     |     | fd31::2          |
#  |               |  1  |     veth-r +-----+ veth-l           |
#  +---------------+     +------------+  2  +------------------+
#
#  link L (1, 2): 10.0.L.1/24 (west end) -- 10.0.L.2/24 (east end)
#
# tests/bpf/chain/maqchain builds each circuit from one plan (keys, bases,
# cids): the module nodes' parts over netlink (kmod:maq0), the userspace
# end as a forked endpoint in its namespace.
#
# Needs root, maquis.ko loaded (tests/kmod/run.sh in the VM), veth, TUN,
# iperf3, ping; tests/kmod/maqtool and tests/bpf/chain/maqchain built.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
maqtool=$here/maqtool
maqchain=$top/tests/bpf/chain/maqchain
HOSTS=(km r1 us)
NSP=mqi-
tmp=
CHAIN_PID=

# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"

n() { local h=$1; shift; ip netns exec "$NSP$h" "$@"; }
mt() { local h=$1; shift; "$maqtool" -n "$NSP$h" "$@"; }

chain_stop() {
	local i

	[[ -n $CHAIN_PID ]] || return 0
	# under errexit too (from down): a process already gone is fine
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
	for h in "${HOSTS[@]}"; do
		ip netns pids "$NSP$h" 2>/dev/null | while read -r p; do kill "$p"; done
		ip netns del "$NSP$h" 2>/dev/null
	done
	[[ -n $tmp ]] && rm -rf "$tmp"
}

t_topology() {
	modprobe veth
	[[ -d /sys/module/maquis ]]
	ip netns add "${NSP}km"
	ip netns add "${NSP}r1"
	ip netns add "${NSP}us"
	ip link add veth-r netns "${NSP}km" type veth peer name veth-l netns "${NSP}r1"
	ip link add veth-r netns "${NSP}r1" type veth peer name veth-l netns "${NSP}us"
	ip -n "${NSP}km" -batch - <<-EOF
		link set lo up
		link add maq0 type maquis
		link set maq0 up
		addr add 10.0.1.1/24 dev veth-r
		link set veth-r up
		addr add 172.31.0.1/32 dev maq0
		addr add fd31::1/128 dev maq0 nodad
		route add 172.31.0.2/32 dev maq0
		route add fd31::2/128 dev maq0
	EOF
	ip -n "${NSP}r1" -batch - <<-EOF
		link set lo up
		link add maq0 type maquis
		link set maq0 up
		addr add 10.0.1.2/24 dev veth-l
		link set veth-l up
		addr add 10.0.2.1/24 dev veth-r
		link set veth-r up
	EOF
	ip -n "${NSP}us" -batch - <<-EOF
		link set lo up
		addr add 10.0.2.2/24 dev veth-l
		link set veth-l up
	EOF
	PORT=$(mt km dev maq0 | sed -n 's/^port=//p')
	[[ $PORT -gt 0 && $(mt r1 dev maq0 | sed -n 's/^port=//p') == "$PORT" ]]
	echo "$PORT" >"$tmp/port"
}

# up ID ORIGIN: circuit ID with km (module) or us (userspace) originating
up() {
	local id=$1 orig=$2 r

	rm -f "$tmp/ready" "$tmp/origin.stats" "$tmp/terminus.stats"
	if [[ $orig == km ]]; then
		r=(--origin "${NSP}km,kmod:maq0,10.0.1.1"
		   --relay "${NSP}r1,10.0.1.2,10.0.2.1,kmod:maq0"
		   --terminus "${NSP}us,maq0,10.0.2.2"
		   --route 172.31.0.2/32 --route fd31::2/128
		   --back-route 172.31.0.1/32 --back-route fd31::1/128)
	else
		r=(--origin "${NSP}us,maq0,10.0.2.2"
		   --relay "${NSP}r1,10.0.2.1,10.0.1.2,kmod:maq0"
		   --terminus "${NSP}km,kmod:maq0,10.0.1.1"
		   --route 172.31.0.1/32 --route fd31::1/128
		   --back-route 172.31.0.2/32 --back-route fd31::2/128)
	fi
	"$maqchain" up --dir "$tmp" --port "$PORT" --id "$id" \
		--lifetime 3600 "${r[@]}" >"$tmp/up.out" 2>&1 &
	echo $! >"$tmp/chain.pid"
	wait_for 30 test -e "$tmp/ready" || { sed 's/^/# /' "$tmp/up.out"; return 1; }
	ip -n "${NSP}us" -batch - <<-EOF
		addr add 172.31.0.2/32 dev maq0
		addr add fd31::2/128 dev maq0 nodad
		route add 172.31.0.1/32 dev maq0
		route add fd31::1/128 dev maq0
	EOF
	[[ $(n us cat /sys/class/net/maq0/mtu) == $(n km cat /sys/class/net/maq0/mtu) ]]
	wait_for 20 n km ping -q -c 1 -W 1 172.31.0.2 >/dev/null 2>&1
}

# Counters of both ends of circuit ID: C[km.X] from the module,
# C[us.X] from the userspace endpoint's stats file (ROLE of us).
declare -A C
counters() {
	local id=$1 role=$2 k v

	C=()
	while IFS='=' read -r k v; do C[km.$k]=$v; done < <(mt km stats maq0 "$id")
	while IFS='=' read -r k v; do
		[[ $k == circ.* ]] && C[us.${k#circ.}]=$v
	done <"$tmp/$role.stats"
}

# pings and cells ID ROLE: both ends ping each other in both families;
# what one end sent, the other took, cell for cell, nothing dropped.
pings() {
	local id=$1 role=$2 k try ok=0
	local -A B

	sleep 0.5
	counters "$id" "$role"
	for k in "${!C[@]}"; do B[$k]=${C[$k]}; done
	n km ping -q -c 5 -i 0.2 -W 3 172.31.0.2 | tail -1 | while read -r l; do log "km -> us: $l"; done
	n us ping -q -c 5 -i 0.2 -W 3 172.31.0.1 | tail -1 | while read -r l; do log "us -> km: $l"; done
	n km ping -q -6 -c 5 -i 0.2 -W 3 fd31::2 >/dev/null
	n us ping -q -6 -c 5 -i 0.2 -W 3 fd31::1 >/dev/null
	for ((try = 0; try < 10; try++)); do
		sleep 0.3
		counters "$id" "$role"
		ok=1
		(( ${C[km.cells-out]} - ${B[km.cells-out]} == ${C[us.cells-in]} - ${B[us.cells-in]} )) || ok=0
		(( ${C[us.cells-out]} - ${B[us.cells-out]} == ${C[km.cells-in]} - ${B[km.cells-in]} )) || ok=0
		((ok)) && break
	done
	log "module end: out +$((${C[km.cells-out]} - ${B[km.cells-out]})) in +$((${C[km.cells-in]} - ${B[km.cells-in]})); userspace end: out +$((${C[us.cells-out]} - ${B[us.cells-out]})) in +$((${C[us.cells-in]} - ${B[us.cells-in]}))"
	((ok))
	(( ${C[km.cells-out]} - ${B[km.cells-out]} >= 20 ))
	for k in bad-tag replay malformed no-route key-limit; do
		[[ ${C[km.drop-$k]} == 0 && ${C[us.drop-$k]} == 0 ]]
	done
	[[ $(mt r1 stats maq0 "$id" | sed -n 's/^drop-bad-tag=//p') == 0 ]]
}

# bulk FROM TO DST: iperf3 TCP from host FROM to DST on host TO
bulk() {
	local from=$1 to=$2 dst=$3 rc=0 out spid

	n "$to" timeout 60 iperf3 -s -1 -B "$dst" -p 5201 >"$tmp/iperf-s" 2>&1 &
	spid=$!
	sleep 1
	out=$(n "$from" timeout 60 iperf3 -c "$dst" -p 5201 -t 3 \
		--connect-timeout 5000 2>&1) || rc=$?
	wait "$spid" || true
	grep -E 'receiver$' <<<"$out" | while read -r l; do log "$from -> $to: $l"; done
	((rc == 0)) || { log "$out"; false; }
	grep -Eq 'receiver$' <<<"$out"
	if grep -Eq ' 0.00 bits/sec +receiver' <<<"$out"; then false; fi
}

down() {	# down ID: stop the endpoint, delete the module parts
	local h

	chain_stop
	for h in km r1; do mt "$h" del maq0 "$1"; done
	if n us ip link show maq0 >/dev/null 2>&1; then false; fi
}

# --- main -------------------------------------------------------------------

[[ $(id -u) == 0 ]] || skip_all "needs root"
[[ -d /sys/module/maquis ]] || skip_all "maquis.ko not loaded"
modprobe tun 2>/dev/null
[[ -c /dev/net/tun ]] || skip_all "no /dev/net/tun"
for tool in iperf3 ping ip; do
	command -v "$tool" >/dev/null || skip_all "no $tool"
done
[[ -x $maqtool ]] || skip_all "no $maqtool (make -C tests/kmod)"
[[ -x $maqchain ]] || skip_all "no $maqchain (make -C tests/bpf/chain)"
tmp=$(mktemp -d /tmp/maq-interop.XXXXXX)
trap cleanup EXIT

ktap_print_header
ktap_set_plan 11
if ! run "topology: module end, module relay, userspace end" t_topology; then
	for i in $(seq 10); do ktap_test_fail "no topology"; done
	ktap_finished
fi
PORT=$(<"$tmp/port")

if run "module origin, userspace terminus: up" up 1 km; then
	CHAIN_PID=$(<"$tmp/chain.pid")
	run "module origin: ping both ways, cell for cell" pings 1 terminus
	run "module origin: iperf3 module -> userspace" bulk km us 172.31.0.2
	run "module origin: iperf3 userspace -> module" bulk us km 172.31.0.1
	run "module origin: down" down 1
else
	CHAIN_PID=$(cat "$tmp/chain.pid" 2>/dev/null)
	chain_stop
	for i in 1 2 3 4; do ktap_test_fail "module origin: not up"; done
fi

if run "userspace origin, module terminus: up" up 2 us; then
	CHAIN_PID=$(<"$tmp/chain.pid")
	run "userspace origin: ping both ways, cell for cell" pings 2 origin
	run "userspace origin: iperf3 userspace -> module" bulk us km 172.31.0.1
	run "userspace origin: iperf3 module -> userspace" bulk km us 172.31.0.2
	run "userspace origin: down" down 2
else
	for i in 1 2 3 4; do ktap_test_fail "userspace origin: not up"; done
fi
ktap_finished
