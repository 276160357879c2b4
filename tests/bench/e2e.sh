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
#   maquis-bpf  the same circuit without the module, as tests/bpf/chain.sh
#            builds it: r1..r3 relay with the XDP program alone (pure-BPF
#            ChaCha20-Poly1305, native XDP on both veths, no socket), the
#            origin and the terminus are userspace endpoints on TUN devices
#            named maq0 (daemon/endpoint.c), all installed by
#            tests/bpf/chain/maqchain; runs on the host
#
#  origin          r1             r2             r3            term
#  veth-r --1-- veth-l veth-r --2-- veth-l veth-r --3-- veth-l veth-r --4-- veth-l
#  link L: 10.0.L.1/24 (west) -- 10.0.L.2/24 (east), as tests/kmod/netns.sh
#
# Figures (PREFIX defaults to e2e; PATH is plain, wg, maquis or maquis_bpf):
# PREFIX_PATH_tcp (Gb/s, receiver), PREFIX_PATH_rtt (ms, ping median, idle
# path), PREFIX_PATH_added_rtt (ms over plain), PREFIX_PATH_cpu (CPU
# seconds per GB received: the processes in the namespaces, iperf3 and
# kernel threads, see lib.sh cpu_snap), PREFIX_PATH_ratio (tcp over plain);
# unless --no-udp, PREFIX_PATH_udp (Gb/s received, iperf3 UDP at full speed,
# datagrams of the largest payload one cell carries: MAQ_INNER_MTU less
# the IPv4 and UDP headers, 1264 bytes) and PREFIX_PATH_udp_loss (% of the
# datagrams sent).
#
#   e2e.sh [--quick] [--time SECS] [--out DIR] [--wg auto|kernel|go|none]
#          [--prefix NAME] [--paths plain,wg,maquis,maquis-bpf] [--no-udp]
#
# Needs root, iproute2, iperf3, ping; wg needs wireguard-tools and the
# wireguard module or wireguard-go; maquis-bpf needs BPF with BTF, bpffs,
# TUN, ethtool and tests/bpf/chain/maqchain (built here if missing).
# Cleans up every namespace, process and pin it made, also on failure or
# interrupt.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

TIME=10 PINGS=20 OUT="" WG=auto PREFIX=e2e PATHS=plain,wg,maquis,maquis-bpf UDP=1
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) TIME=2 PINGS=5 ;;
	--time) TIME=$2; shift ;;
	--out) OUT=$2; shift ;;
	--wg) WG=$2; shift ;;
	--prefix) PREFIX=$2; shift ;;
	--paths) PATHS=$2; shift ;;
	--no-udp) UDP=0 ;;
	*) echo "usage: $0 [--quick] [--time SECS] [--out DIR] [--wg auto|kernel|go|none] [--prefix NAME] [--paths LIST] [--no-udp]" >&2
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
# the maquis-bpf path's control plane and relay pins (chain_stop)
MAQCHAIN=$top/tests/bpf/chain/maqchain
PINROOT=/sys/fs/bpf/maq-bench-$tag
CHAIN_PID=
CHAIN_PORT=7720

# The largest UDP payload one cell carries: the inner MTU from the wire
# format, less the IPv4 and UDP headers.
inner_mtu() {
	local e

	e=$(printf '#include <maquis/wire.h>\nMAQ_INNER_MTU\n' |
		cpp -P -I "$top/include" - 2>/dev/null | tail -1)
	[[ $e =~ ^[0-9()\ +*/-]+$ ]] && echo $((e))
}
INNER_MTU=$(inner_mtu)
UDP_LEN=$((${INNER_MTU:-0} - 28))

ns() { echo "mqb$tag-$1"; }
n() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

cleanup() {
	local h p

	set +e
	chain_stop
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
	[[ -d $PINROOT ]] && rm -rf "$PINROOT"
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

# iperf_run HOOK PORT DST SRC BASE [CLIENT ARGS]: one iperf3 client run
# from origin to a one-shot server on term, BASE.json (the client's JSON),
# BASE.err and BASE.server the rest; HOOK (a function, or "") runs once the
# server listens, just before the client starts.
iperf_run() {
	local hook=$1 port=$2 dst=$3 src=$4 base=$5 spid rc

	shift 5
	n term timeout $((TIME + 30)) iperf3 -s -1 -B "$dst" -p "$port" \
		>"$base.server" 2>&1 &
	spid=$!
	PIDS+=("$spid")
	wait_until 5 bash -c "ip netns exec $(ns term) ss -Hltn 'sport = :$port' | grep -q ." ||
		true
	[[ -z $hook ]] || "$hook"
	n origin timeout $((TIME + 30)) iperf3 -c "$dst" ${src:+-B "$src"} \
		-p "$port" -t "$TIME" -J --connect-timeout 5000 "$@" \
		>"$base.json" 2>"$base.err"
	rc=$?
	((rc == 0)) || kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	return "$rc"
}

# iperf_sum JSON KEY...: the receiver's totals of an iperf3 client's JSON
iperf_sum() {
	python3 - "$@" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["end"]["sum_received"]
print(*(r[k] for k in sys.argv[2:]))
EOF
}

# measure PATH DST [SRC]: ping and iperf3 from origin to DST on term.
declare -A TCP RTT UDPR BYTES
measure() {
	local path=$1 dst=$2 src=${3:-} out rc=1 try pids b0 b1 bytes bps secs
	local base=$OUT/$PREFIX-$path.iperf

	out=$(n origin ping -c "$PINGS" -i 0.2 -W 2 ${src:+-I "$src"} "$dst" 2>&1)
	echo "$out" >"$OUT/$PREFIX-$path.ping"
	RTT[$path]=$(ping_median <<<"$out")
	if [[ -z ${RTT[$path]} ]]; then
		log "$path: ping failed: $(tail -2 <<<"$out" | tr '\n' ' ')"
		return 1
	fi
	# the CPU count starts with the server listening: its pid is in there
	snap0() {
		pids=$(for h in "${HOSTS[@]}"; do ip netns pids "$(ns "$h")"; done)
		b0=$(cpu_snap $pids)
	}
	for ((try = 0; try < 3; try++)); do
		iperf_run snap0 5201 "$dst" "$src" "$base"
		rc=$?
		b1=$(cpu_snap $pids)
		((rc == 0)) && break
		log "$path: iperf3 attempt $try failed (rc $rc)"
	done
	((rc == 0)) || return 1
	read -r bytes bps secs < <(iperf_sum "$base.json" bytes bits_per_second seconds) ||
		return 1
	# 6 decimals: in the VM some paths move a few Mb/s
	TCP[$path]=$(calc "$bps / 1e9" 6)
	fig "${PREFIX}_${path}_tcp" "${TCP[$path]}" Gb/s
	fig "${PREFIX}_${path}_rtt" "$(calc "${RTT[$path]}")" ms
	fig "${PREFIX}_${path}_cpu" "$(cpu_per_gb "$b0" "$b1" "$bytes")" CPU-s/GB
	if [[ $path != plain && -n ${TCP[plain]:-} ]]; then
		fig "${PREFIX}_${path}_added_rtt" "$(calc "${RTT[$path]} - ${RTT[plain]}")" ms
		fig "${PREFIX}_${path}_ratio" "$(calc "${TCP[$path]} / ${TCP[plain]}")" x
	fi
	log "$path: $(calc "$bps / 1e9") Gb/s over $secs s, ping median ${RTT[$path]} ms"
	BYTES[$path]=$bytes
	((UDP)) || return 0
	if [[ -z $INNER_MTU ]]; then
		not_measured "${PREFIX}_${path}_udp" "cannot read MAQ_INNER_MTU from include/maquis/wire.h (cpp)"
	else
		measure_udp "$path" "$dst" "$src" ||
			not_measured "${PREFIX}_${path}_udp" "iperf3 UDP failed, see $PREFIX-$path.udp.json"
	fi
	return 0
}

# measure_udp PATH DST [SRC]: iperf3 UDP from origin to DST as fast as the
# sender can, UDP_LEN-byte datagrams (one full cell each on maquis); the
# figure is what the receiver got, the loss says how much the path shed.
measure_udp() {
	local path=$1 dst=$2 src=${3:-} bytes bps loss
	local base=$OUT/$PREFIX-$path.udp

	iperf_run "" 5202 "$dst" "$src" "$base" -u -b 0 -l "$UDP_LEN" || return 1
	read -r bytes bps loss < <(iperf_sum "$base.json" bytes bits_per_second lost_percent) ||
		return 1
	((bytes > 0)) || return 1
	UDPR[$path]=$(calc "$bps / 1e9" 6)
	BYTES[$path]=$((BYTES[$path] + bytes))
	fig "${PREFIX}_${path}_udp" "${UDPR[$path]}" Gb/s
	fig "${PREFIX}_${path}_udp_loss" "$(calc "$loss" 2)" %
	if [[ $path != plain && -n ${UDPR[plain]:-} ]]; then
		fig "${PREFIX}_${path}_udp_ratio" "$(calc "${UDPR[$path]} / ${UDPR[plain]}")" x
	fi
	log "$path: UDP $UDP_LEN-byte datagrams: ${UDPR[$path]} Gb/s received, $(calc "$loss" 2)% lost"
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

# --- maquis with BPF-only relays -------------------------------------------

# chain_stop: the endpoints go with maqchain (it passes SIGTERM on and they
# remove their TUNs), then the relays' programs and pins.
chain_stop() {
	local i h

	if [[ -n $CHAIN_PID ]]; then
		kill "$CHAIN_PID" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$CHAIN_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$CHAIN_PID" 2>/dev/null
		wait "$CHAIN_PID" 2>/dev/null
		CHAIN_PID=
	fi
	[[ -d $PINROOT ]] || return 0
	for h in r1 r2 r3; do
		[[ -d $PINROOT/$(ns "$h") ]] &&
			"$MAQCHAIN" detach --ns "$(ns "$h")" --pin-root "$PINROOT" \
				--dev veth-l --dev veth-r >/dev/null 2>&1
	done
	rm -rf "$PINROOT"
}

# relay_cells: forward cells r3's XDP has relayed on the circuit (its
# hop counter of the cid it receives them on, link2.fwd-cid of maqchain)
relay_cells() {
	local cid

	cid=$(sed -n 's/^link2\.fwd-cid=//p' "$OUT/$PREFIX-maquis_bpf.circuit")
	[[ -n $cid ]] || return 1
	"$MAQCHAIN" stats --ns "$(ns r3)" --pin-root "$PINROOT" --dev veth-l |
		sed -n "s/^hop\.$cid\.cells=//p"
}

# What tests/bpf/chain.sh builds, on this script's namespaces: r1..r3
# relay in XDP only, the endpoints are maqchain's children in origin and
# term (so their CPU counts with the namespaces'), 172.31.0.1 and
# 172.31.0.2 on their TUNs.  The plain routes stay, but nothing on a relay
# listens on the cell port: a cell the XDP program did not relay dies
# there, and the count of relayed cells is checked against the bytes.
path_maquis_bpf() {
	local name=${PREFIX}_maquis_bpf_tcp a=() i h f mtu c0 c1 want

	for f in /sys/kernel/btf/vmlinux /dev/net/tun; do
		[[ -e $f ]] || { not_measured "$name" "no $f"; return 0; }
	done
	if ! mountpoint -q /sys/fs/bpf && ! mount -t bpf bpf /sys/fs/bpf 2>/dev/null; then
		not_measured "$name" "no bpffs at /sys/fs/bpf"
		return 0
	fi
	command -v ethtool >/dev/null || { not_measured "$name" "ethtool missing"; return 0; }
	if ! make -s -C "$top/tests/bpf/chain" >"$OUT/$PREFIX-maquis_bpf.build" 2>&1; then
		not_measured "$name" "build of tests/bpf/chain/maqchain failed: $(tail -1 "$OUT/$PREFIX-maquis_bpf.build")"
		return 0
	fi
	# XDP_TX or a redirect into a veth is delivered only if its peer runs
	# NAPI: the relays' veths have the program, the endpoints' get GRO.
	n origin ethtool -K veth-r gro on >/dev/null &&
	n term ethtool -K veth-l gro on >/dev/null ||
		{ not_measured "$name" "cannot turn GRO on at the endpoints' veths"; return 0; }
	for i in 1 2 3 4; do a+=("10.0.$i.1" "10.0.$i.2"); done
	mkdir -p "$tmp/chain"
	"$MAQCHAIN" up --dir "$tmp/chain" --pin-root "$PINROOT" \
		--port "$CHAIN_PORT" --id 1 --lifetime 3600 \
		--origin "$(ns origin),maq0,${a[0]}" \
		--relay "$(ns r1),${a[1]},${a[2]},veth-l+veth-r" \
		--relay "$(ns r2),${a[3]},${a[4]},veth-l+veth-r" \
		--relay "$(ns r3),${a[5]},${a[6]},veth-l+veth-r" \
		--terminus "$(ns term),maq0,${a[7]}" \
		--route 172.31.0.2/32 --back-route 172.31.0.1/32 \
		>"$OUT/$PREFIX-maquis_bpf.circuit" 2>&1 &
	CHAIN_PID=$!
	if ! wait_until 15 test -e "$tmp/chain/ready"; then
		not_measured "$name" "maqchain up failed: $(tail -1 "$OUT/$PREFIX-maquis_bpf.circuit")"
		chain_stop
		return 0
	fi
	log "maquis-bpf: relays $(grep -E '^relay[0-9]\.veth-.\.mode=' "$OUT/$PREFIX-maquis_bpf.circuit" | tr '\n' ' ')"
	n origin ip addr add 172.31.0.1/32 dev maq0 &&
	n origin ip route add 172.31.0.2/32 dev maq0 &&
	n term ip addr add 172.31.0.2/32 dev maq0 &&
	n term ip route add 172.31.0.1/32 dev maq0 ||
		{ not_measured "$name" "cannot address the endpoints' maq0"; chain_stop; return 0; }
	mtu=$(n origin cat /sys/class/net/maq0/mtu)
	if [[ $mtu != "$INNER_MTU" ]]; then
		log "maquis-bpf: maq0 MTU $mtu, wire.h says MAQ_INNER_MTU $INNER_MTU"
	fi
	# the first cells may find no neighbour yet
	wait_until 10 n origin ping -q -c 1 -W 1 172.31.0.2 >/dev/null 2>&1
	c0=$(relay_cells)
	if ! measure maquis_bpf 172.31.0.2 172.31.0.1; then
		not_measured "$name" "iperf3/ping through the BPF-relayed circuit failed"
		chain_stop
		return 0
	fi
	c1=$(relay_cells)
	want=$(((BYTES[maquis_bpf] + INNER_MTU - 1) / INNER_MTU))
	log "maquis-bpf: r3's XDP relayed $((c1 - c0)) forward cells for ${BYTES[maquis_bpf]} bytes received (at least $want)"
	for h in r1 r2 r3; do
		"$MAQCHAIN" stats --ns "$(ns "$h")" --pin-root "$PINROOT" \
			--dev veth-l --dev veth-r >"$OUT/$PREFIX-maquis_bpf.$h.stats" 2>&1
	done
	for h in origin terminus; do
		cp "$tmp/chain/$h.stats" "$OUT/$PREFIX-maquis_bpf.$h.stats" 2>/dev/null
	done
	# a figure the relays did not carry would be no maquis figure at all
	if [[ -z $c0 || -z $c1 ]] || ((c1 - c0 < want)); then
		echo "e2e: maquis-bpf: r3 relayed $((c1 - c0)) cells, fewer than the $want the received bytes need" >&2
		chain_stop
		return 1
	fi
	chain_stop
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
	maquis-bpf|maquis_bpf) path_maquis_bpf || exit 1 ;;
	*) echo "e2e: unknown path $p" >&2; exit 2 ;;
	esac
done
exit 0
