#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# maquisd with the module and the XDP relay (in the VM): the testbed of
# testbed.sh with three relays and two endpoints, datapath auto (the module
# is loaded, so module), the relays told `xdp = generic`.  Each relay's
# daemon must attach the kfunc variant (the module's crypto and circuit
# table) to its eth0 and report it in `maquis show`; a 3-hop circuit's
# cells must cross every relay by XDP (its counters), and SIGTERM must
# detach the program and remove its pins.  Then r2's daemon restarts with
# xdp-filter (xdp-tools) already on its eth0 in libxdp's dispatcher: it
# must join the dispatcher, relay a new circuit's cells by XDP from there,
# and leave xdp-filter running when it stops; libxdp's dispatcher object
# is tests/bpf/libxdp_dispatcher.bpf.o (see tests/bpf/libxdp.sh: Debian
# 12's is refused for the relay by this kernel), its bpffs the scratch
# one (LIBXDP_BPFFS).  Generic mode: native XDP_TX
# into a veth whose peer is a bridge port is not delivered here, which
# tests/bpf/chain.sh's back-to-back veths do not meet.  bpffs is mounted in
# the scratch folder: `ip netns exec` hides /sys/fs/bpf.  Prints KTAP.
#
# Needs root, maquis.ko, veth, bridge, BTF, iperf3, ping;
# tests/bpf/chain/maqchain built on the host (make -C tests/bpf/chain); the
# shared part xdp-tools, maquis built with libxdp and make -C tests/bpf.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
TB_NRELAYS=3 TB_ENDS="a b"
maqchain=$top/tests/bpf/chain/maqchain
PLAN=6

. "$top/tests/lib/ktap.sh"
. "$here/testbed.sh"

BPFFS=$TB/bpf
cleanup() {
	umount -l "$BPFFS" 2>/dev/null
	tb_cleanup
}
trap cleanup EXIT

tb_conf_extra() {
	if [[ $1 == r* ]]; then
		echo "xdp = generic"
		echo "xdp-pin-root = $BPFFS/tb-$1"
	fi
}

show() {	# show HOST KEY: the daemon's value of KEY in `maquis show`
	mq "$1" show 2>/dev/null | awk -F'\t' -v k="$2" '$1 == "maquisd" && $2 == k {print $3}'
}

xval() {	# xval RELAY COUNTER: its XDP program's counter (maqchain stats)
	"$maqchain" stats --ns "tb-$1" --pin-root "$BPFFS" --dev eth0 |
		awk -F= -v k="eth0.$2" '$1 == k {print $2}'
}

daemon_pid() {	# the daemon's own pid, not its shell's
	local p

	for p in $(ip netns pids "tb-$1"); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == maquisd ]] && echo "$p"
	done
}

t_attach() {
	local h

	for h in "${TB_HOSTS[@]}"; do
		[[ $(show "$h" datapath) == module ]]
	done
	for h in "${TB_RELAYS[@]}"; do
		[[ $(show "$h" xdp) == eth0 ]]
		[[ $(show "$h" xdp_variant) == kfunc ]]
		[[ $(show "$h" xdp_mode) == generic ]]
		n "$h" ip -d link show dev eth0 | grep -q 'prog/xdp id .* name maq_relay_kfunc'
	done
	for h in "${TB_ENDPOINTS[@]}"; do
		[[ $(show "$h" xdp) == - ]]
	done
	log "r1: $(mq r1 show 2>/dev/null | grep -E '^maquisd.(datapath|xdp)' | cut -f2- | tr -s '\t\n' ' ')"
}

CIRCUIT=
t_build() {
	local out

	tb_converge 60
	out=$(mq a circuit build --hops 3 --to 172.31.0.2)
	log "$out"
	CIRCUIT=$(echo "$out" | cut -f1)
	[[ $CIRCUIT =~ ^[0-9]+$ ]]
	echo "$CIRCUIT" >"$TB/circuit"
}

t_traffic() {
	local h cin cout

	n a ping -c 3 -W 2 -i 0.3 172.31.0.2 | sed 's/^/# /'
	n b iperf3 -s -1 -D -B 172.31.0.2 --logfile "$TB/iperf-s.log"
	sleep 0.5
	n a timeout 30 iperf3 -c 172.31.0.2 -t 2 >/dev/null
	for h in "${TB_RELAYS[@]}"; do
		cin=$(xval "$h" cells-in)
		cout=$(xval "$h" cells-out)
		log "$h: XDP (kfunc) cells-in $cin cells-out $cout"
		((cin > 500 && cout > 500))
	done
}

t_destroy() {
	local h

	log "$(mq a circuit destroy "$CIRCUIT")"
	for h in "${TB_RELAYS[@]}" b; do
		wait_for 15 bash -c "[[ -z \$(ip netns exec tb-$h '$maquis' --socket '$TB/$h.sock' circuit list 2>/dev/null) ]]"
	done
}

# xdp-loader on HOST's eth0, libxdp's view: the programs in its dispatcher
components() {
	nsenter --net="/run/netns/tb-$1" env LIBXDP_BPFFS="$BPFFS" \
		LIBXDP_OBJECT_PATH="$TB/lx" xdp-loader status eth0 |
		awk '$1 == "=>" {print $3}' | sort | tr '\n' ' '
}

dispatched() { [[ $(show "$1" xdp_dispatcher) =~ ^[0-9]+$ ]]; }

t_shared() {
	local o out c cin cout

	command -v xdp-filter >/dev/null && command -v xdp-loader >/dev/null ||
		{ log "no xdp-tools"; exit 4; }
	[[ -f $top/tests/bpf/libxdp_dispatcher.bpf.o ]] ||
		{ log "no tests/bpf/libxdp_dispatcher.bpf.o"; exit 4; }
	# built with libxdp: it dlopen()s it by that name
	grep -q libxdp.so.1 "$maquisd" || { log "maquisd built without libxdp"; exit 4; }
	mkdir -p "$TB/lx"
	for o in "$(dirname "$(ls /usr/lib/*/bpf/xdp-dispatcher.o | head -1)")"/*.o; do
		ln -sf "$o" "$TB/lx/"
	done
	ln -sf "$top/tests/bpf/libxdp_dispatcher.bpf.o" "$TB/lx/xdp-dispatcher.o"
	export LIBXDP_BPFFS=$BPFFS LIBXDP_OBJECT_PATH=$TB/lx

	tb_kill r2 TERM
	nsenter --net=/run/netns/tb-r2 xdp-filter load -m skb eth0
	[[ $(components r2) == "xdpfilt_alw_all " ]]
	touch "$TB/shared"
	tb_start r2
	wait_for 10 dispatched r2
	log "r2: $(mq r2 show 2>/dev/null | grep -E '^maquisd.xdp' | cut -f2- | tr -s '\t\n' ' ')"
	[[ $(show r2 xdp_variant) == kfunc && $(show r2 xdp_mode) == generic ]]
	[[ $(components r2) == "maq_relay_kfunc xdpfilt_alw_all " ]]
	tb_converge 60
	out=$(mq a circuit build --hops 3 --to 172.31.0.2)
	log "$out"
	c=$(echo "$out" | cut -f1)
	[[ $c =~ ^[0-9]+$ ]]
	cin=$(xval r2 cells-in)
	n a ping -c 20 -W 2 -i 0.2 172.31.0.2 | tail -2 | sed 's/^/# /'
	cout=$(xval r2 cells-out)
	log "r2 in libxdp's dispatcher: XDP cells-in $cin -> $(xval r2 cells-in), cells-out $cout"
	(($(xval r2 cells-in) >= cin + 40 && cout >= 40))
	mq a circuit destroy "$c" >/dev/null
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
	done
	for h in "${TB_RELAYS[@]}"; do
		grep -q "xdp: detached from eth0" "$TB/$h.log"
		if [[ $h == r2 && -e $TB/shared ]]; then
			# out of the dispatcher, xdp-filter left running
			[[ $(components r2) == "xdpfilt_alw_all " ]]
		else
			! n "$h" ip link show dev eth0 | grep -q 'prog/xdp' || return 1
		fi
		left=$(find "$BPFFS/tb-$h" -mindepth 1 2>/dev/null || true)
		[[ -z $left ]] || { log "$h: pins left: $left"; return 1; }
	done
	! grep -E "(^|: )error:" "$TB"/*.log || return 1
}

ktap_print_header
ktap_set_plan $PLAN
if [[ $(id -u) != 0 || ! -d /sys/module/maquis || ! -x $maqchain ]]; then
	for ((i = 0; i < PLAN; i++)); do ktap_test_skip "needs root, maquis.ko and tests/bpf/chain/maqchain"; done
	ktap_finished
	exit 0
fi
mkdir -p "$BPFFS"
if ! mount -t bpf bpf "$BPFFS" 2>/dev/null || ! (set -e; tb_setup); then
	for h in "${TB_HOSTS[@]}"; do tail -3 "$TB/$h.log" 2>/dev/null | sed "s/^/# $h: /"; done
	for ((i = 0; i < PLAN; i++)); do ktap_test_fail "setup failed"; done
	ktap_finished
	exit 1
fi
run "module relays' daemons attach the kfunc XDP relay and report it" t_attach
run "circuit build --hops 3 from a to b" t_build
CIRCUIT=$(cat "$TB/circuit" 2>/dev/null)
run "ping and iperf3: every relay's cells cross XDP" t_traffic
run "destroy leaves no circuit" t_destroy
run "r2 restarted beside xdp-filter: joins libxdp's dispatcher, relays by XDP" \
	t_shared
run "SIGTERM: XDP detached (xdp-filter left on r2), pins removed" t_stop
ktap_finished
