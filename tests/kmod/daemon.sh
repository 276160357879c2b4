#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# maquisd end to end: seven relays and two endpoints, each in its own
# network namespace running maquisd from one bootstrap list; gossip builds
# every daemon's view, `maquis circuit build --hops 3` makes a circuit from
# endpoint a to endpoint b, ping and iperf3 run through maq0, each relay's
# own view shows only its neighbours, destroy leaves no state anywhere, and
# a daemon killed with SIGKILL and restarted reconciles with its kernel.
# Prints KTAP.
#
# The testbed (tests/kmod/testbed.sh) with seven relays and the two
# endpoints a (maq0 172.31.0.1) and b (172.31.0.2), each host in its own
# namespace tb-HOST and /16 on one bridge, r1 and r2 everyone's bootstrap
# list.  The daemons create maq0 themselves and add the kernel routes.
#
# Needs root, maquis.ko loaded, veth, bridge, iperf3, ping.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# key phases of 6 s instead of 120: every test below rotates keys
TB_NRELAYS=7 TB_ENDS="a b" TB_EPOCH=6

# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"
# shellcheck source=testbed.sh
. "$here/testbed.sh"

t_gossip() {
	# every relay and both endpoints (they announce an address)
	tb_converge 90
	log "every daemon knows all ${#TB_HOSTS[@]} descriptors"
	mq a relays | sed 's/^/# a: /'
	# b's descriptor announces the address circuits to b are built to
	mq a relays | grep -q "172.31.0.2/32"
}

CIRCUIT=
t_build() {
	local out

	out=$(mq a circuit build --hops 3 --to 172.31.0.2)
	echo "$out" | sed 's/^/# /'
	CIRCUIT=$(echo "$out" | cut -f1)
	[[ $CIRCUIT =~ ^[0-9]+$ ]]
	echo "$CIRCUIT" >"$TB/circuit"
	# the origin's kernel: one origin circuit with 4 hops
	[[ $(mq a circuit list | awk -F'\t' '$3 == "origin"' | wc -l) -eq 1 ]]
}

t_traffic() {
	local mbit

	n a ping -c 3 -W 2 -i 0.3 172.31.0.2 | sed 's/^/# /'
	n b iperf3 -s -1 -D -B 172.31.0.2 --logfile "$TB/iperf-s.log"
	sleep 0.5
	n a iperf3 -c 172.31.0.2 -t 3 -J >"$TB/iperf.json"
	mbit=$(python3 -c "import json;print(round(json.load(open('$TB/iperf.json'))['end']['sum_received']['bits_per_second']/1e6,2))")
	log "iperf3 through the circuit: $mbit Mbit/s"
	python3 -c "import sys;sys.exit(0 if float('$mbit') > 0 else 1)"
}

# Keys rotate every 6 s (epoch_secs) while a ping runs: the daemons of
# every hop install each next epoch, no cell is lost or refused.
t_rotate() {
	local e0 e1 loss h bad id

	e0=$(mq a circuit show "$CIRCUIT" | awk -F'\t' '$3 == "maquisd.epoch" {print $4}')
	loss=$(n a ping -c 75 -i 0.2 -W 2 172.31.0.2 | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
	e1=$(mq a circuit show "$CIRCUIT" | awk -F'\t' '$3 == "maquisd.epoch" {print $4}')
	log "epoch $e0 -> $e1 in 15 s of ping, loss $loss%"
	[[ $loss == 0 ]]
	((e1 >= e0 + 2))
	for h in "${TB_HOSTS[@]}"; do
		for id in $(mq "$h" circuit list | cut -f2); do
			bad=$(mq "$h" circuit show "$id" | awk -F'\t' '$3 ~ /^drop-(bad-tag|replay|key-limit)$/ {s += $4} END {print s + 0}')
			[[ $bad == 0 ]] || {
				log "$h: circuit $id: $bad cells dropped"
				mq "$h" circuit show "$id" | grep drop- | sed 's/^/# /'
				return 1
			}
		done
	done
}

# The relays' own views: exactly three hold a hop, one a terminus (b), and
# none sees both endpoints.
t_views() {
	local h line relays=0 prev next

	for h in "${TB_RELAYS[@]}" b; do
		line=$(mq "$h" circuit list | awk -F'\t' '$3 == "relay" || $3 == "terminus"')
		[[ -n $line ]] || continue
		echo "$line" | sed "s/^/# $h: /"
		prev=$(echo "$line" | cut -f4)
		next=$(echo "$line" | cut -f5)
		if [[ $h == b ]]; then
			[[ $(echo "$line" | cut -f3) == terminus ]]
			[[ $prev != "${tb_ip[a]}:7720" ]]
			continue
		fi
		relays=$((relays + 1))
		[[ ! ($prev == "${tb_ip[a]}:7720" && $next == "${tb_ip[b]}:7720") ]]
	done
	[[ $relays -eq 3 ]]
	# the daemon's view of it at the origin
	mq a circuit show "$CIRCUIT" | sed 's/^/# a: /'
}

no_circuits() {
	local h

	for h in "${TB_HOSTS[@]}"; do
		[[ -z $(mq "$h" circuit list) ]] || return 1
	done
}

t_destroy() {
	mq a circuit destroy "$CIRCUIT"
	wait_for 15 no_circuits || {
		for h in "${TB_HOSTS[@]}"; do mq "$h" circuit list | sed "s/^/# $h left: /"; done
		return 1
	}
	log "no circuit left on any host"
	! n a ping -c 1 -W 1 172.31.0.2 >/dev/null || return 1
}

# Setup failures name what failed: an address nobody serves, a via that is
# not a relay, a relay whose daemon is gone (its predecessor times out).
t_failures() {
	local err r7 b r1id

	err=$(mq a circuit build --to 10.9.9.9 2>&1 >/dev/null) && return 1
	log "$err"
	[[ $err == *"no relay serves 10.9.9.9"* ]]
	b=$(tb_id b)
	err=$(mq a circuit build --hops 2 --via "$b" --to 172.31.0.2 2>&1 >/dev/null) && return 1
	log "$err"
	[[ $err == *"${b:0:8}"*"not a relay"* ]]
	r7=$(tb_id r7)
	[[ -n $r7 ]]
	r1id=$(tb_id r1)
	tb_kill r7
	local rc=0
	err=$(mq a circuit build --hops 2 --via "$r1id" --via "$r7" --to 172.31.0.2 2>&1 >/dev/null) || rc=$?
	tb_start r7
	log "$err"
	((rc == 1))
	[[ $err == *"hop 2 ($r7) did not answer hop 1 (timeout)"* ]]
	# nothing half-built stays anywhere
	wait_for 10 no_circuits
}

# SIGKILL a relay of a live circuit and restart it: it adopts its hop.
t_restart_relay() {
	local out id h victim=

	out=$(mq a circuit build --hops 3 --to 172.31.0.2)
	id=$(echo "$out" | cut -f1)
	for h in "${TB_RELAYS[@]}"; do
		if [[ -n $(mq "$h" circuit list) ]]; then victim=$h; break; fi
	done
	[[ -n $victim ]]
	log "killing the daemon of $victim (a relay of circuit $id)"
	tb_kill "$victim"
	# the kernel keeps forwarding without its daemon
	n a ping -c 2 -W 2 -i 0.3 172.31.0.2 >/dev/null
	tb_start "$victim"
	wait_for 10 grep -q "adopted relay hop" "$TB/$victim.log"
	grep "adopted" "$TB/$victim.log" | sed "s/^/# $victim: /"
	[[ $(mq "$victim" circuit list | wc -l) -eq 1 ]]
	n a ping -c 2 -W 2 -i 0.3 172.31.0.2 >/dev/null
	echo "$id" >"$TB/circuit2"
}

# SIGKILL the origin's daemon and restart it: it replaces the circuit it
# finds and tears the old one down; traffic goes on.
t_restart_origin() {
	local old new

	old=$(cat "$TB/circuit2")
	tb_kill a
	tb_start a
	wait_for 60 bash -c "ip netns exec tb-a '$maquis' --socket '$TB/a.sock' circuit list | awk -F'\t' '\$3 == \"origin\" && \$2 != $old' | grep -q ." ||
		{ tail -20 "$TB/a.log" | sed 's/^/# a: /'; return 1; }
	wait_for 20 bash -c "! ip netns exec tb-a '$maquis' --socket '$TB/a.sock' circuit list | awk -F'\t' '\$2 == $old' | grep -q ."
	new=$(mq a circuit list | awk -F'\t' '$3 == "origin" {print $2}')
	log "origin adopted circuit $old, replaced it with $new"
	n a ping -c 2 -W 2 -i 0.3 172.31.0.2 >/dev/null
}

t_stop() {
	local h p

	# all at once, as a shutdown would: then each must be gone
	for h in "${TB_HOSTS[@]}"; do
		kill -TERM "$(tb_pid "$h")"
	done
	for h in "${TB_HOSTS[@]}"; do
		p=$(tb_pid "$h")
		wait_for 10 bash -c "! kill -0 $p 2>/dev/null" || return 1
		: >"$TB/$h.pid"
		grep -q "stopping" "$TB/$h.log"
		[[ ! -e $TB/$h.sock ]]
	done
	no_circuits
	! grep -E "(^|: )error:" "$TB"/*.log || return 1
	# every DESTROY was answered: no hop's DESTROYED got lost
	! grep "no DESTROYED" "$TB"/*.log || return 1
}

ktap_print_header
ktap_set_plan 10
if [[ $(id -u) != 0 || ! -d /sys/module/maquis ]]; then
	for ((i = 0; i < 10; i++)); do ktap_test_skip "needs root and maquis.ko"; done
	ktap_finished
	exit 0
fi
if ! (set -e; tb_setup); then
	for ((i = 0; i < 10; i++)); do ktap_test_fail "setup failed"; done
	ktap_finished
	exit 1
fi
run "gossip: every daemon learns all 9 descriptors from 2 bootstrap peers" t_gossip
run "circuit build --hops 3 from a to b" t_build
CIRCUIT=$(cat "$TB/circuit" 2>/dev/null)
run "ping and iperf3 through maq0" t_traffic
run "keys rotate every epoch under traffic, nothing lost" t_rotate
run "each relay sees only its neighbours" t_views
run "destroy leaves no state on any hop" t_destroy
run "setup failures name the hop and the reason" t_failures
run "relay daemon SIGKILLed and restarted adopts its hop" t_restart_relay
run "origin daemon SIGKILLed and restarted replaces its circuit" t_restart_origin
run "SIGTERM: every daemon stops cleanly and leaves nothing" t_stop
ktap_finished
