#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The relay rate limit on a host without the module: maquisd with
# datapath = user, so a relay's hops live only in the pure XDP relay's
# table, and the only thing that can hold the limit is its maq_rate bucket
# (bpf/relay.bpf.c).  The testbed of tests/kmod/testbed.sh with two relays
# and two endpoints; r1 gives relay-rate = 1Mbit, relay-burst = 20k, r2
# nothing set.
#
#   start    r1's daemon wrote its figure into its pinned maq_rate (the
#            CLI reads it back) and announces 125 kB/s; r2 is unlimited
#   limited  iperf3 UDP a -> b through r1 alone, offered 5 Mbit/s: what b
#            receives stays under the limit (x 1.15, plus the burst spread
#            over the run); r1's XDP program counts rate drops
#   free     the same through r2: above that bound, so the bound would
#            catch a relay that ignored its limit
#   set      `maquis set relay-rate 2Mbit` on r1 (no module: the pinned
#            table alone) at run time: r1's daemon announces 250 kB/s,
#            a sees it; received between the two bounds
#
# Throughputs are printed; none is a goal, only the limit must hold.  The
# origin a runs with keepalive = 0: its keepalives would cross r1 like data
# and be dropped with it, and liveness would rightly replace the circuit
# mid-measurement.  bpffs is mounted in the scratch folder (ip netns exec
# hides /sys/fs/bpf).  Needs root, BPF with BTF, veth, bridge, TUN, iperf3,
# ethtool, python3, bpftool; skips (exit 4) without them.  Prints KTAP.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
TB_NRELAYS=2 TB_ENDS="a b"
PLAN=5
RATE_BPS=125000		# bytes/s, relay-rate = 1Mbit
RATE_BURST=20000	# bytes
RATE_SECS=5		# iperf3 -t
RATE_PORT=5302

. "$top/tests/lib/ktap.sh"

[[ $(id -u) == 0 ]] || skip_all "needs root"
for c in ip ethtool iperf3 python3 nsenter bpftool; do
	command -v "$c" >/dev/null || skip_all "needs $c"
done
[[ -c /dev/net/tun ]] || skip_all "needs /dev/net/tun"
[[ -r /sys/kernel/btf/vmlinux ]] || skip_all "needs BTF"
[[ -d /sys/module/maquis ]] && skip_all "maquis.ko is loaded: this tests the host without it"
make -s -C "$top/daemon" >/dev/null || skip_all "build failed"

. "$top/tests/kmod/testbed.sh"

BPFFS=$TB/bpf
trap 'umount -l "$BPFFS" 2>/dev/null; tb_cleanup' EXIT

tb_conf_extra() {
	echo "datapath = user"
	if [[ $1 == r* ]]; then
		echo "xdp = generic"
		echo "xdp-pin-root = $BPFFS/tb-$1"
	fi
	if [[ $1 == r1 ]]; then
		echo "relay-rate = 1Mbit"
		echo "relay-burst = 20k"
	fi
	[[ $1 == a ]] && echo "keepalive = 0"
}

# xcli RELAY ARGS...: the CLI in RELAY's namespace on its pins
xcli() {
	local h=$1

	shift
	nsenter --net="/run/netns/tb-$h" "$maquis" --pin-root "$BPFFS/tb-$h" "$@"
}

# xstat RELAY NAME: RELAY's XDP counter NAME
xstat() {
	xcli "$1" stats 2>/dev/null | awk -F'\t' -v k="$2" '$1 == "xdp" && $3 == k {print $4}'
}

# the relay's rate and burst in its pinned table, tab-separated
xrate() {
	python3 - "$BPFFS/tb-$1/maq_rate" <<'EOF'
import subprocess, sys, json
out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", sys.argv[1]],
		     capture_output=True, text=True, check=True).stdout
v = json.loads(out)[0]["formatted"]["value"]
print(f'{v["rate"]}\t{v["burst"]}')
EOF
}

# The highest receive rate, bits/s, that still holds a limit of $1 bytes/s.
bound() {
	echo $((($1 * 8 * 115 / 100) + RATE_BURST * 8 / RATE_SECS))
}

# build RELAY: a circuit a -> RELAY -> b; prints its id
build() {
	local id

	id=$(mq a relays | awk -F'\t' -v e="${tb_ip[$1]}:7720" '$3 == e {print $1}')
	[[ -n $id ]] || return 1
	mq a circuit build --hops 1 --via "$id" --to "${tb_inner[b]}" | cut -f1
}

# udp: iperf3 UDP at 5 Mbit/s from a to b for RATE_SECS; prints what b
# received, bits/s
udp() {
	local out spid

	n b timeout 40 iperf3 -s -1 -B "${tb_inner[b]}" -p $RATE_PORT >/dev/null 2>&1 &
	spid=$!
	sleep 0.5
	out=$(n a timeout 40 iperf3 -c "${tb_inner[b]}" -p $RATE_PORT -u -b 5M -l 1200 \
		-t $RATE_SECS --connect-timeout 5000 -J 2>&1) || out=
	wait "$spid" 2>/dev/null
	python3 -c 'import json,sys
print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' <<<"$out"
}

t_start() {
	local r1 r2

	mkdir -p "$BPFFS"
	mount -t bpf bpf "$BPFFS"
	# not under errexit: its modprobe fails on a kernel without modules
	tb_setup || return 1
	tb_converge 60
	r1=$(xrate r1)
	r2=$(xrate r2)
	log "pinned maq_rate: r1 $r1, r2 $r2 (bytes/s, burst)"
	[[ $r1 == "$RATE_BPS	$RATE_BURST" ]]
	[[ $(cut -f1 <<<"$r2") == 0 ]]
	grep -q "relaying at most 125 kB/s" "$TB/r1.log"
	[[ $(mq a relays | awk -F'\t' -v e="${tb_ip[r1]}:7720" '$3 == e {print $6}') == 125 ]]
	# the bridge's ports must take XDP_TX frames from the relays
	for h in "${TB_HOSTS[@]}"; do
		n sw ethtool -K "p-$h" gro on >/dev/null
	done
}

CIRCUIT=
t_limited() {
	local bps x0 x1 c0 c1

	CIRCUIT=$(build r1)
	[[ $CIRCUIT =~ ^[0-9]+$ ]]
	echo "$CIRCUIT" >"$TB/circuit"
	x0=$(xstat r1 rate)
	c0=$(xstat r1 cells-out)
	bps=$(udp)
	x1=$(xstat r1 rate)
	c1=$(xstat r1 cells-out)
	log "through r1 (pure XDP, 1 Mbit/s): UDP offered 5 Mbit/s, received $bps bit/s; bound $(bound $RATE_BPS); XDP cells-out $c0 -> $c1, rate drops $x0 -> $x1"
	((bps > 0))
	((bps <= $(bound $RATE_BPS)))
	((x1 > x0))
	# what went out is what the bucket allowed, give or take the burst
	(((c1 - c0) * 1436 <= RATE_BPS * (RATE_SECS + 3) + RATE_BURST))
}

t_free() {
	local id bps

	mq a circuit destroy "$(cat "$TB/circuit")" >/dev/null
	id=$(build r2)
	[[ $id =~ ^[0-9]+$ ]]
	bps=$(udp)
	log "through r2 (unlimited): received $bps bit/s; r2 rate drops $(xstat r2 rate)"
	mq a circuit destroy "$id" >/dev/null
	[[ $(xstat r2 rate) == 0 ]]
	((bps > $(bound $RATE_BPS)))
}

t_set() {
	local id bps

	xcli r1 set relay-rate 2Mbit
	[[ $(xrate r1) == "250000	$RATE_BURST" ]]
	if xcli r1 set relay-burst 100 2>/dev/null; then return 1; fi
	# r1's daemon sees what it enforces now and announces it
	SECONDS=0
	wait_for 40 bash -c "[[ \$(ip netns exec tb-a '$maquis' --socket '$TB/a.sock' relays | awk -F'\t' '\$3 == \"${tb_ip[r1]}:7720\" {print \$6}') == 250 ]]" ||
		{ log "a still sees r1 at: $(mq a relays | awk -F'\t' -v e="${tb_ip[r1]}:7720" '$3 == e {print $6}') kB/s"; return 1; }
	log "a sees r1 announce 250 kB/s $SECONDS s after the set"
	grep -q "relaying at most 250 kB/s.* now (set from outside): announcing 250 kB/s" "$TB/r1.log"
	id=$(build r1)
	[[ $id =~ ^[0-9]+$ ]]
	bps=$(udp)
	log "through r1 set to 2 Mbit/s at run time: received $bps bit/s; bounds $(bound $RATE_BPS) .. $(bound 250000)"
	mq a circuit destroy "$id" >/dev/null
	((bps <= $(bound 250000)))
	((bps > $(bound $RATE_BPS)))
}

t_errors() {
	[[ -s $TB/r1.log && -s $TB/a.log ]]
	! grep -E "(^|: )error:" "$TB"/*.log || return 1
}

ktap_print_header
ktap_set_plan $PLAN
run "r1 applied relay-rate to its pinned XDP table and announces it" t_start
run "iperf3 UDP through r1 (pure XDP) stays under 1 Mbit/s, XDP counts rate drops" t_limited
run "the same through the unlimited r2 exceeds that bound" t_free
run "maquis set relay-rate on a module-less relay reaches the program and the announcement" t_set
run "no daemon logged an error" t_errors
ktap_finished
