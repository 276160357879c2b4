# SPDX-License-Identifier: GPL-2.0
#
# A maquisd testbed for the shell tests, sourced after tests/lib/ktap.sh:
# relays r1..rN and endpoints a, b, c..., each in its own network namespace
# "tb-HOST" running maquisd, all on one bridge:
#
#                         tb-sw: bridge br0
#      +------+------+---- ... ----+------+------+------+
#      |      |      |             |      |      |      |
#     r1     r2     r3     ...     rN     a      b      c
#  10.11.0.1 10.12.0.1           10.(10+N).0.1 ...
#                                 maq0: 172.31.0.1  .2    .3
#
# Every host sits in its own /16 of 10.0.0.0/8, so the path selection's
# diversity rule (no two hops in one /16) lets any relay follow any other.
# r1 and r2 are everyone's bootstrap list.  Needs root, maquis.ko, veth,
# bridge.
#
# Before tb_setup, a test may set TB_NRELAYS (9), TB_ENDS ("a b c"),
# TB_EPOCH (epoch_secs; default: left alone) and define tb_conf_extra HOST,
# whose output is appended to HOST's maquisd.conf.  Then:
#
#   tb_setup            make the namespaces, start every daemon (may run in
#                       a subshell: sourcing set an EXIT trap that cleans up)
#   tb_converge SECS    wait until every daemon knows every descriptor
#   n HOST CMD...       run CMD in HOST's namespace
#   mq HOST ARGS...     the CLI talking to HOST's daemon
#   tb_start HOST       (re)start HOST's daemon;  tb_pid HOST: its pid
#   tb_kill HOST [SIG]  signal HOST's daemon (KILL) and wait for it
#   tb_del HOST         kill everything in HOST's namespace, delete it
#   tb_id HOST          HOST's identity as `maquis relays` prints it (seen
#                       from a)
#   ${tb_ip[HOST]}      underlay address;  ${tb_inner[HOST]} maq0 address
#   $TB                 scratch folder: HOST.conf, HOST.log, HOST.sock
#
# shellcheck shell=bash

TB_NRELAYS=${TB_NRELAYS:-9}
TB_ENDS=${TB_ENDS:-a b c}
maquisd=$top/daemon/maquisd
maquis=$top/daemon/maquis
TB_RELAYS=()
for ((tb_i = 1; tb_i <= TB_NRELAYS; tb_i++)); do TB_RELAYS+=("r$tb_i"); done
read -r -a TB_ENDPOINTS <<<"$TB_ENDS"
TB_HOSTS=("${TB_RELAYS[@]}" "${TB_ENDPOINTS[@]}")
TB=$(mktemp -d /tmp/maq-tb.XXXXXX)
TB_EPOCH_WAS=$(cat /sys/module/maquis/parameters/epoch_secs 2>/dev/null)
declare -A tb_ip tb_inner

tb_i=0
for tb_h in "${TB_HOSTS[@]}"; do
	tb_i=$((tb_i + 1))
	tb_ip[$tb_h]=10.$((10 + tb_i)).0.1
done
tb_i=0
for tb_h in "${TB_ENDPOINTS[@]}"; do
	tb_i=$((tb_i + 1))
	tb_inner[$tb_h]=172.31.0.$tb_i
done

n() { local h=$1; shift; ip netns exec "tb-$h" "$@"; }
mq() { local h=$1; shift; n "$h" "$maquis" --socket "$TB/$h.sock" "$@"; }
tb_pid() { cat "$TB/$1.pid" 2>/dev/null; }

tb_cleanup() {
	local h

	set +e
	for h in "${TB_HOSTS[@]}"; do
		[[ -s $TB/$h.pid ]] && kill -9 "$(tb_pid "$h")" 2>/dev/null
	done
	jobs -p | while read -r p; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for h in "${TB_HOSTS[@]}" sw; do
		ip netns pids "tb-$h" 2>/dev/null | while read -r p; do kill -9 "$p"; done
		ip netns del "tb-$h" 2>/dev/null
	done
	if [[ ${MAQ_KEEP_LOGS:-} ]]; then
		mkdir -p "$MAQ_KEEP_LOGS"
		cp "$TB"/*.log "$MAQ_KEEP_LOGS"/ 2>/dev/null
	fi
	rm -rf "$TB"
	[[ -n $TB_EPOCH_WAS ]] &&
		echo "$TB_EPOCH_WAS" >/sys/module/maquis/parameters/epoch_secs
}

tb_start() {
	local h=$1

	rm -f "$TB/$h.sock"
	# not through n(): a function in the background is a subshell, whose
	# pid is not the daemon's; ip netns exec execs maquisd in place
	ip netns exec "tb-$h" "$maquisd" -c "$TB/$h.conf" >>"$TB/$h.log" 2>&1 &
	echo $! >"$TB/$h.pid"
	wait_for 10 test -S "$TB/$h.sock" ||
		{ log "$h: maquisd did not start"; tail -5 "$TB/$h.log" | sed "s/^/# $h: /"; return 1; }
}

tb_kill() {
	local h=$1 sig=${2:-KILL} p

	p=$(tb_pid "$h")
	[[ -n $p ]] || return 0
	kill "-$sig" "$p" 2>/dev/null
	wait_for 10 bash -c "! kill -0 $p 2>/dev/null" || return 1
	: >"$TB/$h.pid"
}

tb_del() {
	local h=$1

	ip netns pids "tb-$h" 2>/dev/null | while read -r p; do kill -9 "$p"; done
	: >"$TB/$h.pid"
	ip netns del "tb-$h"
}

tb_id() {
	mq a relays | awk -F'\t' -v e="${tb_ip[$1]}:7720" '$3 == e {print $1}'
}

tb_setup() {
	local h role

	modprobe veth 2>/dev/null
	[[ -n ${TB_EPOCH:-} ]] && echo "$TB_EPOCH" >/sys/module/maquis/parameters/epoch_secs
	ip netns add tb-sw
	ip -n tb-sw link add br0 type bridge
	ip -n tb-sw link set br0 up
	for h in "${TB_HOSTS[@]}"; do
		ip netns add "tb-$h"
		ip -n "tb-$h" link set lo up
		ip link add eth0 netns "tb-$h" type veth peer name "p-$h" netns tb-sw
		ip -n tb-sw link set "p-$h" master br0 up
		ip -n "tb-$h" addr add "${tb_ip[$h]}/8" dev eth0
		ip -n "tb-$h" link set eth0 up
		role=relay
		[[ -n ${tb_inner[$h]:-} ]] && role=client
		{
			echo "# $h"
			echo "role = $role"
			echo "listen = ${tb_ip[$h]}:7720"
			echo "bootstrap = ${tb_ip[r1]}"
			echo "bootstrap = ${tb_ip[r2]}"
			echo "key-dir = $TB/$h/keys"
			echo "control = $TB/$h.sock"
			echo "lifetime = 600"
			echo "log-level = debug"
			[[ -n ${tb_inner[$h]:-} ]] && echo "address = ${tb_inner[$h]}/32"
			if declare -F tb_conf_extra >/dev/null; then tb_conf_extra "$h"; fi
		} >"$TB/$h.conf"
		mkdir -p "$TB/$h"
	done
	for h in "${TB_HOSTS[@]}"; do
		tb_start "$h" || return 1
	done
}

trap tb_cleanup EXIT

tb_converge() {
	local t=$1 h want=${#TB_HOSTS[@]}

	for h in "${TB_HOSTS[@]}"; do
		[[ -s $TB/$h.pid ]] || continue
		wait_for "$t" bash -c "[[ \$(ip netns exec tb-$h '$maquis' --socket '$TB/$h.sock' relays | wc -l) -ge $want ]]" ||
			{ log "$h knows $(mq "$h" relays | wc -l) of $want descriptors"; return 1; }
	done
}
