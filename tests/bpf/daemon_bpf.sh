#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# maquisd without the module, on the host kernel: the testbed of
# tests/kmod/testbed.sh (one network namespace a host on a bridge) with
# three relays and two endpoints, every daemon with datapath = user.  The
# relays attach the pure XDP relay (native) to their eth0 and install their
# hops into its pinned table; the endpoints carry their circuits in the
# userspace endpoint (a TUN maq0, UDP sockets).  Checks: what `maquis show`
# reports, gossip, a 3-hop circuit with ping and iperf3 through it, the
# relays' XDP counters (every cell relayed by XDP, none by a stack), key
# rotation under traffic with 3-second epochs, destroy leaving no table
# entry, SIGTERM detaching the program and removing the pins.  Prints KTAP.
#
# An XDP_TX into a veth is delivered only if the peer runs NAPI: the
# bridge's ports get GRO (as tests/bpf/chain.sh does).  bpffs is mounted
# in the scratch folder: `ip netns exec` hides /sys/fs/bpf, and every
# simulated host needs its own pins.
#
# Needs root, BPF with BTF, veth, bridge, TUN, iperf3, ping, ethtool;
# skips (exit 4) without them.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
TB_NRELAYS=3 TB_ENDS="a b"
maqchain=$here/chain/maqchain
PLAN=9

. "$top/tests/lib/ktap.sh"

skip_all() {
	ktap_print_header
	echo "1..0 # SKIP $1"
	exit 4
}

[[ $(id -u) == 0 ]] || skip_all "needs root"
for c in ip ethtool iperf3 ping python3; do
	command -v "$c" >/dev/null || skip_all "needs $c"
done
[[ -c /dev/net/tun ]] || skip_all "needs /dev/net/tun"
[[ -r /sys/kernel/btf/vmlinux ]] || skip_all "needs BTF"
[[ -d /sys/module/maquis ]] && skip_all "maquis.ko is loaded: this tests the host without it"
make -s -C "$top/daemon" >/dev/null && make -s -C "$here/chain" >/dev/null ||
	skip_all "build failed"

. "$top/tests/kmod/testbed.sh"

BPFFS=$TB/bpf
cleanup() {
	umount -l "$BPFFS" 2>/dev/null
	tb_cleanup
}
trap cleanup EXIT

tb_conf_extra() {
	echo "datapath = user"
	echo "epoch-secs = 3"
	if [[ $1 == r* ]]; then
		echo "xdp = generic"
		echo "xdp-pin-root = $BPFFS/tb-$1"
	fi
}

# show HOST KEY: the daemon's value of KEY in `maquis show`
show() {
	mq "$1" show 2>/dev/null | awk -F'\t' -v k="$2" '$1 == "maquisd" && $2 == k {print $3}'
}

# xstats RELAY: its XDP counters and table (maqchain stats)
xstats() {
	"$maqchain" stats --ns "tb-$1" --pin-root "$BPFFS" --dev eth0
}

xval() {	# xval RELAY KEY
	xstats "$1" | awk -F= -v k="$2" '$1 == k {print $2}'
}

t_start() {
	local h

	for h in "${TB_HOSTS[@]}"; do
		[[ $(show "$h" datapath) == user ]]
	done
	for h in "${TB_RELAYS[@]}"; do
		[[ $(show "$h" xdp) == eth0 ]]
		[[ $(show "$h" xdp_variant) == pure ]]
		[[ $(show "$h" xdp_mode) == generic ]]
		n "$h" ip link show dev eth0 | grep -q 'prog/xdp id'
		[[ -e $BPFFS/tb-$h/maq_circuits ]]
	done
	for h in "${TB_ENDPOINTS[@]}"; do
		[[ $(show "$h" xdp) == - ]]
		n "$h" ip link show dev maq0 | grep -q 'POINTOPOINT'
	done
	log "r1: $(mq r1 show 2>/dev/null | grep -E '^maquisd.(datapath|xdp)' | cut -f2- | tr -s '\t\n' ' ')"
}

t_gossip() {
	tb_converge 60
	mq a relays | grep -q "172.31.0.2/32"
}

CIRCUIT=
t_build() {
	local out h

	out=$(mq a circuit build --hops 3 --to 172.31.0.2)
	log "$out"
	CIRCUIT=$(echo "$out" | cut -f1)
	[[ $CIRCUIT =~ ^[0-9]+$ ]]
	echo "$CIRCUIT" >"$TB/circuit"
	[[ $(show a circuits) == 1 ]]
	[[ $(show b serving) == 1 ]]
	for h in "${TB_RELAYS[@]}"; do
		[[ $(show "$h" serving) == 1 ]]
		# one entry each way
		[[ $(xstats "$h" | grep -c '^hop\..*\.dir=') == 2 ]]
	done
	# the bridge's ports must take XDP_TX frames from the relays
	for h in "${TB_HOSTS[@]}"; do
		n sw ethtool -K "p-$h" gro on >/dev/null
	done
}

t_traffic() {
	local mbit

	n a ping -c 3 -W 2 -i 0.3 172.31.0.2 | sed 's/^/# /'
	n b iperf3 -s -1 -D -B 172.31.0.2 --logfile "$TB/iperf-s.log"
	sleep 0.5
	n a timeout 20 iperf3 -c 172.31.0.2 -t 3 -J >"$TB/iperf.json"
	mbit=$(python3 -c "import json;print(round(json.load(open('$TB/iperf.json'))['end']['sum_received']['bits_per_second']/1e6,2))")
	log "iperf3 through the circuit: $mbit Mbit/s"
	python3 -c "import sys;sys.exit(0 if float('$mbit') > 0 else 1)"
}

t_xdp() {
	local h out cin cout drops

	for h in "${TB_RELAYS[@]}"; do
		out=$(xstats "$h")
		cin=$(awk -F= '$1 == "eth0.cells-in" {print $2}' <<<"$out")
		cout=$(awk -F= '$1 == "eth0.cells-out" {print $2}' <<<"$out")
		drops=$(awk -F= '$1 ~ /^eth0\.(bad-tag|replay|malformed|key-limit|error)$/ {s += $2} END {print s + 0}' <<<"$out")
		log "$h: XDP cells-in $cin cells-out $cout drops $drops" \
		    "pass-ctl $(awk -F= '$1 == "eth0.pass-ctl" {print $2}' <<<"$out")"
		# iperf3 alone moves thousands of cells each way
		((cin > 1000 && cout == cin && drops == 0))
	done
}

t_rotate() {
	local e0 e1 loss

	e0=$(grep -c "circuit $CIRCUIT: epoch .* keys installed" "$TB/a.log" || true)
	loss=$(n a ping -c 50 -i 0.2 -W 2 172.31.0.2 | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
	e1=$(grep -c "circuit $CIRCUIT: epoch .* keys installed" "$TB/a.log" || true)
	log "origin: $e0 -> $e1 epochs installed in 10 s of ping, loss $loss%"
	grep -h "circuit $CIRCUIT: epoch" "$TB/a.log" | tail -1 | sed 's/^/# a: /'
	[[ $loss == 0 ]]
	((e1 >= e0 + 2))
	# every relay saw the new phases in its table and installed keys
	for h in "${TB_RELAYS[@]}"; do
		[[ $(xstats "$h" | awk -F= '$1 ~ /\.bad-tag$|\.replay$/ && $1 ~ /^hop/ {s += $2} END {print s + 0}') == 0 ]]
	done
}

no_entries() {
	local h

	for h in "${TB_RELAYS[@]}"; do
		xstats "$h" | grep -q '^hop\.' && return 1
	done
	[[ $(show a circuits) == 0 && $(show b serving) == 0 ]]
}

t_destroy() {
	log "$(mq a circuit destroy "$CIRCUIT")"
	wait_for 15 no_entries || {
		for h in "${TB_RELAYS[@]}"; do xstats "$h" | grep '^hop' | sed "s/^/# $h left: /"; done
		return 1
	}
	log "no table entry left on any relay"
	! n a ping -c 1 -W 1 172.31.0.2 >/dev/null || return 1
}

t_relay_ctl() {
	local h

	# DESTROY reached every relay as hop control through XDP_PASS
	for h in "${TB_RELAYS[@]}"; do
		grep -q "destroyed by its origin" "$TB/$h.log"
	done
	! grep "no DESTROYED" "$TB/a.log" || return 1
}

# The daemon's own pid: tb_pid is its shell's, which a signal does not pass on.
daemon_pid() {
	local p

	for p in $(ip netns pids "tb-$1"); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == maquisd ]] && echo "$p"
	done
}

t_stop() {
	local h p left pids=()

	for h in "${TB_HOSTS[@]}"; do
		p=$(daemon_pid "$h")
		[[ -n $p ]]
		pids+=("$p")
		kill -TERM "$p"
	done
	for p in "${pids[@]}"; do
		wait_for 10 bash -c "! kill -0 $p 2>/dev/null" || return 1
	done
	for h in "${TB_HOSTS[@]}"; do
		: >"$TB/$h.pid"
		grep -q "stopping" "$TB/$h.log"
	done
	for h in "${TB_RELAYS[@]}"; do
		grep -q "xdp: detached from eth0" "$TB/$h.log"
		! n "$h" ip link show dev eth0 | grep -q 'prog/xdp' || return 1
		left=$(find "$BPFFS/tb-$h" -mindepth 1 2>/dev/null || true)
		[[ -z $left ]] || { log "$h: pins left: $left"; return 1; }
	done
	for h in "${TB_ENDPOINTS[@]}"; do
		! n "$h" ip link show dev maq0 2>/dev/null || return 1
	done
	! grep -E "(^|: )error:" "$TB"/*.log || return 1
}

ktap_print_header
ktap_set_plan $PLAN
mkdir -p "$BPFFS"
if ! mount -t bpf bpf "$BPFFS" 2>/dev/null; then
	for ((i = 0; i < PLAN; i++)); do ktap_test_skip "cannot mount bpffs"; done
	ktap_finished
	exit 0
fi
if ! (set -e; tb_setup); then
	for h in "${TB_HOSTS[@]}"; do tail -3 "$TB/$h.log" | sed "s/^/# $h: /"; done
	for ((i = 0; i < PLAN; i++)); do ktap_test_fail "setup failed"; done
	ktap_finished
	exit 1
fi
run "every daemon runs the userspace datapath, relays with XDP attached" t_start
run "gossip: every daemon learns all 5 descriptors" t_gossip
run "circuit build --hops 3 from a to b: hops in the XDP tables" t_build
CIRCUIT=$(cat "$TB/circuit" 2>/dev/null)
run "ping and iperf3 through the TUN maq0" t_traffic
run "every cell relayed by XDP on every relay, nothing dropped" t_xdp
run "keys rotate every epoch under traffic, nothing lost" t_rotate
run "destroy leaves no entry in any relay's table" t_destroy
run "hop control reaches the relays past XDP" t_relay_ctl
run "SIGTERM: XDP detached, pins removed, TUNs gone" t_stop
ktap_finished
