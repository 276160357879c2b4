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
#                          md-sw: bridge br0
#      +-------+-------+-------+---+---+-------+-------+-------+-------+
#      |       |       |       |       |       |       |       |       |
#     r1      r2      r3      r4      r5      r6      r7       a       b
#  10.11.0.1 10.12.0.1   ...                        10.17.0.1 10.18.0.1 10.19.0.1
#                                                  maq0 172.31.0.1  172.31.0.2
#
# Every host sits in its own /16 of 10.0.0.0/8 (one L2 segment), so the
# path selection's diversity rule (no two hops in one /16) lets any relay
# follow any other.  r1 and r2 are the bootstrap list of everyone.  The
# daemons create maq0 themselves and add the kernel routes.
#
# Needs root, maquis.ko loaded, veth, bridge, iperf3, ping.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
maquisd=$top/daemon/maquisd
maquis=$top/daemon/maquis
RELAYS=(r1 r2 r3 r4 r5 r6 r7)
HOSTS=("${RELAYS[@]}" a b)
tmp=$(mktemp -d /tmp/maq-daemon.XXXXXX)
declare -A pid ip

ksft=$("$top/kmod/fetch-kernel.sh" source 2>/dev/null)/tools/testing/selftests
# shellcheck source=/dev/null
. "$ksft/kselftest/ktap_helpers.sh" || { echo "Bail out! no ktap_helpers.sh"; exit 1; }

log() { echo "# $*"; }
n() { local h=$1; shift; ip netns exec "md-$h" "$@"; }
# the CLI of host h, talking to h's daemon
mq() { local h=$1; shift; n "$h" "$maquis" --socket "$tmp/$h.sock" "$@"; }

cleanup() {
	local h

	set +e
	for h in "${HOSTS[@]}"; do
		[[ -n ${pid[$h]:-} ]] && kill -9 "${pid[$h]}" 2>/dev/null
	done
	jobs -p | while read -r p; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for h in "${HOSTS[@]}" sw; do
		ip netns pids "md-$h" 2>/dev/null | while read -r p; do kill -9 "$p"; done
		ip netns del "md-$h" 2>/dev/null
	done
	rm -rf "$tmp"
	echo 120 >/sys/module/maquis/parameters/epoch_secs
}
trap cleanup EXIT

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
}

# wait_for SECONDS COMMAND...: poll every 0.5 s until COMMAND succeeds.
wait_for() {
	local t=$1 i

	shift
	for ((i = 0; i < t * 2; i++)); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}

start_daemon() {
	local h=$1

	n "$h" "$maquisd" -c "$tmp/$h.conf" >>"$tmp/$h.log" 2>&1 &
	pid[$h]=$!
	wait_for 10 test -S "$tmp/$h.sock"
}

setup() {
	local i=0 h role

	modprobe veth 2>/dev/null
	# key phases of 6 s instead of 120: every test below rotates keys
	echo 6 >/sys/module/maquis/parameters/epoch_secs
	ip netns add md-sw
	ip -n md-sw link add br0 type bridge
	ip -n md-sw link set br0 up
	for h in "${HOSTS[@]}"; do
		i=$((i + 1))
		ip[$h]=10.$((10 + i)).0.1
		ip netns add "md-$h"
		ip -n "md-$h" link set lo up
		ip link add eth0 netns "md-$h" type veth peer name "p-$h" netns md-sw
		ip -n md-sw link set "p-$h" master br0 up
		ip -n "md-$h" addr add "${ip[$h]}/8" dev eth0
		ip -n "md-$h" link set eth0 up
		role=relay
		[[ $h == a || $h == b ]] && role=client
		mkdir -p "$tmp/$h"
		{
			echo "# $h"
			echo "role = $role"
			echo "listen = ${ip[$h]}:7720"
			echo "bootstrap = 10.11.0.1"
			echo "bootstrap = 10.12.0.1"
			echo "key-dir = $tmp/$h/keys"
			echo "control = $tmp/$h.sock"
			echo "lifetime = 600"
			echo "log-level = debug"
		} >"$tmp/$h.conf"
	done
	echo "address = 172.31.0.1/32" >>"$tmp/a.conf"
	echo "address = 172.31.0.2/32" >>"$tmp/b.conf"
	for h in "${HOSTS[@]}"; do
		start_daemon "$h" || { log "$h: maquisd did not start"; cat "$tmp/$h.log"; return 1; }
	done
}

# How many descriptors host h's daemon holds.
known() { mq "$1" relays | wc -l; }

t_gossip() {
	local h want=${#HOSTS[@]}

	# every relay and both endpoints (they announce an address)
	for h in "${HOSTS[@]}"; do
		wait_for 90 bash -c "[[ \$(ip netns exec md-$h '$maquis' --socket '$tmp/$h.sock' relays | wc -l) -ge $want ]]" ||
			{ log "$h knows $(known "$h") of $want"; return 1; }
	done
	log "every daemon knows all $want descriptors"
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
	echo "$CIRCUIT" >"$tmp/circuit"
	# the origin's kernel: one origin circuit with 4 hops
	[[ $(mq a circuit list | awk -F'\t' '$3 == "origin"' | wc -l) -eq 1 ]]
}

t_traffic() {
	local mbit

	n a ping -c 3 -W 2 -i 0.3 172.31.0.2 | sed 's/^/# /'
	n b iperf3 -s -1 -D -B 172.31.0.2 --logfile "$tmp/iperf-s.log"
	sleep 0.5
	n a iperf3 -c 172.31.0.2 -t 3 -J >"$tmp/iperf.json"
	mbit=$(python3 -c "import json;print(round(json.load(open('$tmp/iperf.json'))['end']['sum_received']['bits_per_second']/1e6,2))")
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
	for h in "${HOSTS[@]}"; do
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

	for h in "${RELAYS[@]}" b; do
		line=$(mq "$h" circuit list | awk -F'\t' '$3 == "relay" || $3 == "terminus"')
		[[ -n $line ]] || continue
		echo "$line" | sed "s/^/# $h: /"
		prev=$(echo "$line" | cut -f4)
		next=$(echo "$line" | cut -f5)
		if [[ $h == b ]]; then
			[[ $(echo "$line" | cut -f3) == terminus ]]
			[[ $prev != "${ip[a]}:7720" ]]
			continue
		fi
		relays=$((relays + 1))
		[[ ! ($prev == "${ip[a]}:7720" && $next == "${ip[b]}:7720") ]]
	done
	[[ $relays -eq 3 ]]
	# the daemon's view of it at the origin
	mq a circuit show "$CIRCUIT" | sed 's/^/# a: /'
}

no_circuits() {
	local h

	for h in "${HOSTS[@]}"; do
		[[ -z $(mq "$h" circuit list) ]] || return 1
	done
}

t_destroy() {
	mq a circuit destroy "$CIRCUIT"
	wait_for 15 no_circuits || {
		for h in "${HOSTS[@]}"; do mq "$h" circuit list | sed "s/^/# $h left: /"; done
		return 1
	}
	log "no circuit left on any host"
	! n a ping -c 1 -W 1 172.31.0.2 >/dev/null
}

# Setup failures name what failed: an address nobody serves, a via that is
# not a relay, a relay whose daemon is gone (its predecessor times out).
t_failures() {
	local err r7 b r1id

	err=$(mq a circuit build --to 10.9.9.9 2>&1 >/dev/null) && return 1
	log "$err"
	[[ $err == *"no relay serves 10.9.9.9"* ]]
	b=$(mq a relays | awk -F'\t' '$3 == "'"${ip[b]}"':7720" {print $1}')
	err=$(mq a circuit build --hops 2 --via "$b" --to 172.31.0.2 2>&1 >/dev/null) && return 1
	log "$err"
	[[ $err == *"${b:0:8}"*"not a relay"* ]]
	r7=$(mq a relays | awk -F'\t' '$3 == "'"${ip[r7]}"':7720" {print $1}')
	[[ -n $r7 ]]
	r1id=$(mq a relays | awk -F'\t' '$3 == "'"${ip[r1]}"':7720" {print $1}')
	kill -9 "${pid[r7]}"
	wait_for 10 bash -c "! kill -0 ${pid[r7]} 2>/dev/null"
	local rc=0
	err=$(mq a circuit build --hops 2 --via "$r1id" --via "$r7" --to 172.31.0.2 2>&1 >/dev/null) || rc=$?
	start_daemon r7
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
	for h in "${RELAYS[@]}"; do
		if [[ -n $(mq "$h" circuit list) ]]; then victim=$h; break; fi
	done
	[[ -n $victim ]]
	log "killing the daemon of $victim (a relay of circuit $id)"
	kill -9 "${pid[$victim]}"
	wait "${pid[$victim]}" 2>/dev/null || true
	# the kernel keeps forwarding without its daemon
	n a ping -c 2 -W 2 -i 0.3 172.31.0.2 >/dev/null
	start_daemon "$victim"
	wait_for 10 grep -q "adopted relay hop" "$tmp/$victim.log"
	grep "adopted" "$tmp/$victim.log" | sed "s/^/# $victim: /"
	[[ $(mq "$victim" circuit list | wc -l) -eq 1 ]]
	n a ping -c 2 -W 2 -i 0.3 172.31.0.2 >/dev/null
	echo "$id" >"$tmp/circuit2"
}

# SIGKILL the origin's daemon and restart it: it replaces the circuit it
# finds and tears the old one down; traffic goes on.
t_restart_origin() {
	local old new

	old=$(cat "$tmp/circuit2")
	kill -9 "${pid[a]}"
	wait "${pid[a]}" 2>/dev/null || true
	start_daemon a
	wait_for 60 bash -c "ip netns exec md-a '$maquis' --socket '$tmp/a.sock' circuit list | awk -F'\t' '\$3 == \"origin\" && \$2 != $old' | grep -q ." ||
		{ tail -20 "$tmp/a.log" | sed 's/^/# a: /'; return 1; }
	wait_for 20 bash -c "! ip netns exec md-a '$maquis' --socket '$tmp/a.sock' circuit list | awk -F'\t' '\$2 == $old' | grep -q ."
	new=$(mq a circuit list | awk -F'\t' '$3 == "origin" {print $2}')
	log "origin adopted circuit $old, replaced it with $new"
	n a ping -c 2 -W 2 -i 0.3 172.31.0.2 >/dev/null
}

t_stop() {
	local h

	for h in "${HOSTS[@]}"; do
		kill -TERM "${pid[$h]}"
	done
	for h in "${HOSTS[@]}"; do
		wait_for 10 bash -c "! kill -0 ${pid[$h]} 2>/dev/null" || return 1
		grep -q "stopping" "$tmp/$h.log"
		pid[$h]=
		[[ ! -e $tmp/$h.sock ]]
	done
	no_circuits
	! grep -E "(^|: )error:" "$tmp"/*.log
	# every DESTROY was answered: no hop's DESTROYED got lost
	! grep "no DESTROYED" "$tmp"/*.log
}

ktap_print_header
ktap_set_plan 10
if [[ $(id -u) != 0 || ! -d /sys/module/maquis ]]; then
	for ((i = 0; i < 10; i++)); do ktap_test_skip "needs root and maquis.ko"; done
	ktap_finished
	exit 0
fi
if ! (set -e; setup); then
	for ((i = 0; i < 10; i++)); do ktap_test_fail "setup failed"; done
	ktap_finished
	exit 1
fi
# setup ran in a subshell: its pids and addresses are recomputed here
i=0
for h in "${HOSTS[@]}"; do
	i=$((i + 1))
	ip[$h]=10.$((10 + i)).0.1
	pid[$h]=$(ip netns pids "md-$h" | head -1)
done
run "gossip: every daemon learns all 9 descriptors from 2 bootstrap peers" t_gossip
run "circuit build --hops 3 from a to b" t_build
CIRCUIT=$(cat "$tmp/circuit" 2>/dev/null)
run "ping and iperf3 through maq0" t_traffic
run "keys rotate every epoch under traffic, nothing lost" t_rotate
run "each relay sees only its neighbours" t_views
run "destroy leaves no state on any hop" t_destroy
run "setup failures name the hop and the reason" t_failures
for h in "${HOSTS[@]}"; do pid[$h]=$(ip netns pids "md-$h" | head -1); done
run "relay daemon SIGKILLed and restarted adopts its hop" t_restart_relay
for h in "${HOSTS[@]}"; do pid[$h]=$(ip netns pids "md-$h" | head -1); done
run "origin daemon SIGKILLed and restarted replaces its circuit" t_restart_origin
for h in "${HOSTS[@]}"; do pid[$h]=$(ip netns pids "md-$h" | head -1); done
run "SIGTERM: every daemon stops cleanly and leaves nothing" t_stop
if [[ ${MAQ_KEEP_LOGS:-} ]]; then
	mkdir -p "$MAQ_KEEP_LOGS"
	cp "$tmp"/*.log "$MAQ_KEEP_LOGS"/
fi
ktap_finished
