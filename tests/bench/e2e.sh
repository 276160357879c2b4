#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 3-hop end to end: iperf3 TCP and ping from an origin to a terminus across
# three relays in network namespaces, over
#
#   plain    the same veths, plain IP routing (forwarding on in r1..r3)
#   wg       three chained WireGuard tunnels origin=r1, r1=r2, r2=r3; r3
#            decrypts and routes in the clear to term, like a Tor exit
#            (kernel WireGuard if it can be had, else wireguard-go)
#   maquis   a maquis circuit origin -> r1 -> r2 -> r3 -> term through maq0,
#            installed by tests/kmod/maqtool (no daemon yet): needs
#            maquis.ko, so only in the VM (vm.sh, which run.sh starts)
#
#  origin          r1             r2             r3            term
#  veth-r --1-- veth-l veth-r --2-- veth-l veth-r --3-- veth-l veth-r --4-- veth-l
#  link L: 10.0.L.1/24 (west) -- 10.0.L.2/24 (east), as tests/kmod/netns.sh
#
# Figures (PREFIX defaults to e2e): PREFIX_<path>_tcp (Gb/s, receiver),
# PREFIX_<path>_rtt (ms, ping average, idle path), PREFIX_<path>_added_rtt
# (ms over plain), PREFIX_<path>_cpu (CPU seconds per GB received: the
# processes in the namespaces, iperf3 and kernel threads, see lib.sh
# cpu_snap), PREFIX_<path>_ratio (tcp over plain).
#
#   e2e.sh [--quick] [--time SECS] [--out DIR] [--wg auto|kernel|go|none]
#          [--prefix NAME] [--paths plain,wg,maquis]
#
# Needs root, iproute2, iperf3, ping; wg needs wireguard-tools and the
# wireguard module or wireguard-go.  Cleans up every namespace and process it
# made, also on failure or interrupt.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

TIME=10 PINGS=20 OUT="" WG=auto PREFIX=e2e PATHS=plain,wg,maquis
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) TIME=2 PINGS=5 ;;
	--time) TIME=$2; shift ;;
	--out) OUT=$2; shift ;;
	--wg) WG=$2; shift ;;
	--prefix) PREFIX=$2; shift ;;
	--paths) PATHS=$2; shift ;;
	*) echo "usage: $0 [--quick] [--time SECS] [--out DIR] [--wg auto|kernel|go|none] [--prefix NAME] [--paths LIST]" >&2
	   exit 2 ;;
	esac
	shift
done

if [[ $(id -u) != 0 ]]; then
	echo "SKIP: needs root"
	exit 4
fi
for t in ip iperf3 ping python3; do
	command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 4; }
done

# MAQ_BENCH_TAG (run.sh sets it) names the namespaces: mqb<tag>-<host>
tag=${MAQ_BENCH_TAG:-$$}
HOSTS=(origin r1 r2 r3 term)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/maq-bench-e2e.XXXXXX") || exit 1
OUT=${OUT:-$tmp/out}
mkdir -p "$OUT"
PIDS=()

ns() { echo "mqb$tag-$1"; }
n() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

cleanup() {
	local h p

	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for h in "${HOSTS[@]}"; do
		ip netns pids "$(ns "$h")" 2>/dev/null | while read -r p; do
			kill "$p" 2>/dev/null
		done
	done
	sleep 0.2
	for h in "${HOSTS[@]}"; do
		ip netns pids "$(ns "$h")" 2>/dev/null | while read -r p; do
			kill -9 "$p" 2>/dev/null
		done
		ip netns del "$(ns "$h")" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -f /var/run/wireguard/w[123][ew]"$tag".sock
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- topology -------------------------------------------------------------

topology() {
	local i h batch l

	for h in "${HOSTS[@]}"; do
		ip netns add "$(ns "$h")" || return 1
	done
	for i in 1 2 3 4; do
		ip link add veth-r netns "$(ns "${HOSTS[i - 1]}")" type veth \
			peer name veth-l netns "$(ns "${HOSTS[i]}")" || return 1
	done
	for i in 0 1 2 3 4; do
		h=${HOSTS[i]}
		batch="link set lo up"
		if ((i < 4)); then
			batch+="
addr add 10.0.$((i + 1)).1/24 dev veth-r
link set veth-r up"
		fi
		if ((i > 0)); then
			batch+="
addr add 10.0.$i.2/24 dev veth-l
link set veth-l up"
		fi
		# plain routes to the links that are not our own
		for l in 1 2 3 4; do
			if ((l > i + 1)); then
				batch+="
route add 10.0.$l.0/24 via 10.0.$((i + 1)).2"
			elif ((l < i)); then
				batch+="
route add 10.0.$l.0/24 via 10.0.$i.1"
			fi
		done
		ip -n "$(ns "$h")" -batch - <<<"$batch" || return 1
		n "$h" sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 ||
			return 1
	done
	# the terminus answers on an extra address per overlay (see below)
	n term ip addr add 172.30.0.2/32 dev veth-l
	n term ip route add 172.30.0.1/32 via 10.0.4.1
}

# --- measuring ------------------------------------------------------------

# measure PATH DST [SRC]: ping and iperf3 from origin to DST on term.
declare -A TCP RTT
measure() {
	local path=$1 dst=$2 src=${3:-} out rc=1 try spid pids b0 b1 bytes bps secs

	out=$(n origin ping -q -c "$PINGS" -i 0.2 -W 2 ${src:+-I "$src"} "$dst" 2>&1)
	echo "$out" >"$OUT/$PREFIX-$path.ping"
	RTT[$path]=$(ping_avg <<<"$out")
	if [[ -z ${RTT[$path]} ]]; then
		log "$path: ping failed: $(tail -2 <<<"$out" | tr '\n' ' ')"
		return 1
	fi
	for ((try = 0; try < 3; try++)); do
		n term timeout $((TIME + 30)) iperf3 -s -1 -B "$dst" -p 5201 \
			>"$OUT/$PREFIX-$path.iperf-server" 2>&1 &
		spid=$!
		PIDS+=("$spid")
		wait_until 5 bash -c "ip netns exec $(ns term) ss -Hltn 'sport = :5201' | grep -q ." ||
			true
		pids=$(for h in "${HOSTS[@]}"; do ip netns pids "$(ns "$h")"; done)
		b0=$(cpu_snap $pids)
		n origin timeout $((TIME + 30)) iperf3 -c "$dst" ${src:+-B "$src"} \
			-p 5201 -t "$TIME" -J --connect-timeout 5000 \
			>"$OUT/$PREFIX-$path.iperf.json" 2>&1
		rc=$?
		((rc == 0)) || kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		b1=$(cpu_snap $pids)
		((rc == 0)) && break
		log "$path: iperf3 attempt $try failed (rc $rc)"
	done
	((rc == 0)) || return 1
	read -r bytes bps secs < <(python3 - "$OUT/$PREFIX-$path.iperf.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["end"]["sum_received"]
print(r["bytes"], r["bits_per_second"], r["seconds"])
EOF
	) || return 1
	TCP[$path]=$(calc "$bps / 1e9")
	fig "${PREFIX}_${path}_tcp" "${TCP[$path]}" Gb/s
	fig "${PREFIX}_${path}_rtt" "$(calc "${RTT[$path]}")" ms
	fig "${PREFIX}_${path}_cpu" "$(cpu_per_gb "$b0" "$b1" "$bytes")" CPU-s/GB
	if [[ $path != plain && -n ${TCP[plain]:-} ]]; then
		fig "${PREFIX}_${path}_added_rtt" "$(calc "${RTT[$path]} - ${RTT[plain]}")" ms
		fig "${PREFIX}_${path}_ratio" "$(calc "${TCP[$path]} / ${TCP[plain]}")" x
	fi
	log "$path: $(calc "$bps / 1e9") Gb/s over $secs s, ping avg ${RTT[$path]} ms"
}

# --- plain ----------------------------------------------------------------

path_plain() {
	measure plain 10.0.4.2 ||
		not_measured "${PREFIX}_plain_tcp" "iperf3/ping through the routed veths failed"
}

# --- WireGuard ------------------------------------------------------------

# wg_up IMPL: tunnel i (1..3) joins host i-1 (its interface w<i>e<tag>,
# facing east) and host i (w<i>w<tag>, facing west) over link i.  Every
# interface has one peer: westward ones allow the origin's 172.30.0.1,
# eastward ones the terminus's 172.30.0.2, so each relay decrypts, routes
# and re-encrypts.
wg_up() {
	local impl=$1 i h ifc side key pub=() priv=() port

	for i in 1 2 3; do
		for side in e w; do
			key=$(wg genkey) || return 1
			priv+=("$key")
			pub+=("$(wg pubkey <<<"$key")")
		done
	done
	for i in 1 2 3; do
		port=$((51820 + i))
		for side in e w; do
			if [[ $side == e ]]; then h=${HOSTS[i - 1]}; else h=${HOSTS[i]}; fi
			ifc=w$i$side$tag
			if [[ $impl == kernel ]]; then
				n "$h" ip link add "$ifc" type wireguard || return 1
			else
				WG_PROCESS_FOREGROUND=1 ip netns exec "$(ns "$h")" \
					wireguard-go -f "$ifc" >"$OUT/$PREFIX-wg-$ifc.log" 2>&1 &
				PIDS+=("$!")
				wait_until 10 test -S "/var/run/wireguard/$ifc.sock" || return 1
			fi
		done
		# key index: tunnel i east side 2(i-1), west side 2(i-1)+1
		local ke=$((2 * (i - 1))) kw=$((2 * (i - 1) + 1))
		n "${HOSTS[i - 1]}" wg set "w${i}e$tag" listen-port "$port" \
			private-key <(echo "${priv[ke]}") \
			peer "${pub[kw]}" endpoint "10.0.$i.2:$port" \
			allowed-ips 172.30.0.2/32 || return 1
		n "${HOSTS[i]}" wg set "w${i}w$tag" listen-port "$port" \
			private-key <(echo "${priv[kw]}") \
			peer "${pub[ke]}" endpoint "10.0.$i.1:$port" \
			allowed-ips 172.30.0.1/32 || return 1
		n "${HOSTS[i - 1]}" ip link set "w${i}e$tag" up || return 1
		n "${HOSTS[i]}" ip link set "w${i}w$tag" up || return 1
	done
	n origin ip addr add 172.30.0.1/32 dev "w1e$tag" &&
	n origin ip route add 172.30.0.2/32 dev "w1e$tag" &&
	n r1 ip route add 172.30.0.1/32 dev "w1w$tag" &&
	n r1 ip route add 172.30.0.2/32 dev "w2e$tag" &&
	n r2 ip route add 172.30.0.1/32 dev "w2w$tag" &&
	n r2 ip route add 172.30.0.2/32 dev "w3e$tag" &&
	n r3 ip route add 172.30.0.1/32 dev "w3w$tag" &&
	n r3 ip route add 172.30.0.2/32 via 10.0.4.2
}

path_wg() {
	local impl=$WG name=${PREFIX}_wg_tcp

	if [[ $impl == none ]]; then
		not_measured "$name" "WireGuard disabled (--wg none)"
		return 0
	fi
	if ! command -v wg >/dev/null; then
		not_measured "$name" "wireguard-tools (wg) not installed"
		return 0
	fi
	if [[ $impl == auto ]]; then
		if modprobe wireguard 2>/dev/null ||
		   n origin ip link add wgprobe type wireguard 2>/dev/null; then
			n origin ip link del wgprobe 2>/dev/null
			impl=kernel
		elif command -v wireguard-go >/dev/null; then
			impl=go
		else
			not_measured "$name" "no wireguard module and no wireguard-go"
			return 0
		fi
	fi
	log "WireGuard: $impl"
	echo "$impl" >"$OUT/$PREFIX-wg.impl"
	if ! wg_up "$impl"; then
		not_measured "$name" "could not set up the WireGuard ($impl) tunnels"
		return 0
	fi
	for i in 1 2 3; do
		n "${HOSTS[i - 1]}" wg show "w${i}e$tag" >>"$OUT/$PREFIX-wg.show" 2>&1
	done
	measure wg 172.30.0.2 172.30.0.1 ||
		not_measured "$name" "iperf3/ping through the WireGuard ($impl) tunnels failed"
}

# --- maquis ---------------------------------------------------------------

# The maquis circuit, installed by maqtool (no daemon yet) as
# tests/kmod/netns.sh's install() does: maq0 everywhere, 172.31.0.1 at the
# origin, 172.31.0.2 at the terminus, circuit origin -> r1 -> r2 -> r3 ->
# term over the IPv4 underlay.  Needs the module: in the VM only.
path_maquis() {
	local name=${PREFIX}_maquis_tcp maqtool=$top/tests/kmod/maqtool h i a=()

	# In the VM, load the module as tests/kmod/netns.sh does; never on the host.
	if [[ ! -d /sys/module/maquis && ${MAQUIS_VM:-0} == 1 && -f $top/kmod/maquis.ko ]]; then
		for d in $(modinfo -F depends "$top/kmod/maquis.ko" 2>/dev/null | tr , ' '); do
			modprobe "$d"
		done
		insmod "$top/kmod/maquis.ko" 2>>"$OUT/$PREFIX-maquis.insmod" ||
			log "insmod kmod/maquis.ko failed: $(tail -1 "$OUT/$PREFIX-maquis.insmod")"
	fi
	if [[ ! -d /sys/module/maquis ]]; then
		if [[ ${MAQUIS_VM:-0} == 1 ]]; then
			not_measured "$name" "kmod/maquis.ko not built or does not load"
		else
			not_measured "$name" "needs maquis.ko, the host cannot load modules (VM figures: run.sh --vm)"
		fi
		return 0
	fi
	if [[ ! -x $maqtool ]]; then
		not_measured "$name" "tests/kmod/maqtool not built"
		return 0
	fi
	for h in "${HOSTS[@]}"; do
		n "$h" ip link add maq0 type maquis && n "$h" ip link set maq0 up ||
			{ not_measured "$name" "cannot create maq0"; return 0; }
	done
	n origin ip addr add 172.31.0.1/32 dev maq0
	n origin ip route add 172.31.0.2/32 dev maq0
	n term ip addr add 172.31.0.2/32 dev maq0
	n term ip route add 172.31.0.1/32 dev maq0
	for i in 1 2 3 4; do a+=("10.0.$i.1" "10.0.$i.2"); done
	if ! "$maqtool" install --id 1 --lifetime 3600 \
		--origin "$(ns origin),maq0,${a[0]}" \
		--relay "$(ns r1),maq0,${a[1]},${a[2]}" \
		--relay "$(ns r2),maq0,${a[3]},${a[4]}" \
		--relay "$(ns r3),maq0,${a[5]},${a[6]}" \
		--terminus "$(ns term),maq0,${a[7]}" \
		--route 172.31.0.2/32 --back-route 172.31.0.1/32 \
		>"$OUT/$PREFIX-maquis.circuit" 2>&1; then
		not_measured "$name" "maqtool install failed: $(tail -1 "$OUT/$PREFIX-maquis.circuit")"
		return 0
	fi
	measure maquis 172.31.0.2 172.31.0.1 ||
		not_measured "$name" "iperf3/ping through the maquis circuit failed"
}

# --- main -----------------------------------------------------------------

log "e2e: ${TIME}s iperf3 TCP, $PINGS pings, paths $PATHS, kernel $(uname -r)"
if ! topology; then
	echo "e2e: cannot build the namespaces" >&2
	exit 1
fi
log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for p in ${PATHS//,/ }; do
	case $p in
	plain) path_plain ;;
	wg) path_wg ;;
	maquis) path_maquis ;;
	*) echo "e2e: unknown path $p" >&2; exit 2 ;;
	esac
done
exit 0
