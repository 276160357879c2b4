#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Circuit setup end to end with the daemon, in the VM (vm.sh runs it; it
# needs maquis.ko): five maquisd, one per network namespace on one bridge,
#
#   origin (client)   r1 r2 r3 (relays)            term (relay, announces 172.31.5.1)
#   10.66.0.1         10.67.0.1 .. 10.69.0.1   10.70.0.1   bootstrap: r1
#
# (one L2 segment, /8, but every node in its own /16: path selection never
# puts two hops of one /16 on a circuit)
#
# each with its own config file (maquisd -c FILE), key directory and
# control socket.  Once gossip has spread the descriptors (the first build
# that succeeds, bounded), the origin builds circuits with
# `maquis circuit build --hops 3 --to 172.31.5.1` over its control socket
# and destroys each again, in a loop bounded in count and time.
#
# Figures (PREFIX defaults to vm_ctl):
#   PREFIX_setup_latency   ms, median wall time of `maquis circuit build`
#                          (includes starting the CLI: ~0.3 s per exec
#                          under TCG)
#   PREFIX_setup_ms        ms, median setup time the daemon reports
#                          (setup_ms in the reply), without the CLI
#   PREFIX_setup_rate      circuits built per second by the loop (build +
#                          destroy, one at a time)
#   PREFIX_gossip          s from start until the first build succeeded
#
# Until maquisd can do this (it is being written), every figure is
# "not measured" with what went wrong: a daemon that exits, a socket that
# never appears, the CLI refusing the command.
#
#   ctl_e2e.sh [--quick] [--out DIR] [--prefix NAME]
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

QUICK=0 OUT="" P=vm_ctl
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) QUICK=1 ;;
	--out) OUT=$2; shift ;;
	--prefix) P=$2; shift ;;
	*) echo "usage: $0 [--quick] [--out DIR] [--prefix NAME]" >&2; exit 2 ;;
	esac
	shift
done

BUILDS=$( ((QUICK)) && echo 3 || echo 20)
LOOP_SECS=$( ((QUICK)) && echo 30 || echo 90)
GOSSIP_SECS=$( ((QUICK)) && echo 30 || echo 60)
MAQUISD=$top/daemon/maquisd
MAQUIS=$top/daemon/maquis
NODES=(origin r1 r2 r3 term)
DEST=172.31.5.1

give_up() {	# give_up REASON...
	local f

	for f in setup_rate setup_latency setup_ms; do
		not_measured "${P}_$f" "$*"
	done
	exit 0
}

for t in "$MAQUISD" "$MAQUIS"; do
	[[ -x $t ]] || give_up "${t#"$top"/} is not built"
done
[[ -d /sys/module/maquis ]] || give_up "maquis.ko is not loaded"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/maq-ctl.XXXXXX") || exit 1
OUT=${OUT:-$tmp/out}
mkdir -p "$OUT"
NS=mqc$$
PIDS=()

cleanup() {
	local p n

	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for n in "${NODES[@]}" hub; do
		ip netns pids "$NS-$n" 2>/dev/null | while read -r p; do kill -9 "$p"; done
		ip netns del "$NS-$n" 2>/dev/null
	done
	for n in "${NODES[@]}"; do
		[[ -f $tmp/$n/log ]] && cp "$tmp/$n/log" "$OUT/ctl-$n.log"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the network ------------------------------------------------------------

ip netns add "$NS-hub" || give_up "cannot create network namespaces"
ip -n "$NS-hub" link add br0 type bridge &&
	ip -n "$NS-hub" link set br0 up || give_up "cannot create a bridge"
for i in "${!NODES[@]}"; do
	n=${NODES[$i]}
	ip netns add "$NS-$n" &&
	ip -n "$NS-$n" link set lo up &&
	ip -n "$NS-$n" link add eth0 type veth peer name "p$i" netns "$NS-hub" &&
	ip -n "$NS-hub" link set "p$i" master br0 up &&
	ip -n "$NS-$n" addr add "10.$((66 + i)).0.1/8" dev eth0 &&
	ip -n "$NS-$n" link set eth0 up || give_up "cannot set up namespace $n"
done

# --- the daemons ------------------------------------------------------------

sock() { echo "$tmp/$1/ctl.sock"; }

for i in "${!NODES[@]}"; do
	n=${NODES[$i]}
	mkdir -p "$tmp/$n/keys"
	chmod 700 "$tmp/$n" "$tmp/$n/keys"
	{
		echo "listen = 10.$((66 + i)).0.1"
		[[ $n != r1 ]] && echo "bootstrap = 10.67.0.1"
		echo "role = $([[ $n == origin ]] && echo client || echo relay)"
		echo "key-dir = $tmp/$n/keys"
		echo "interface = maq0"
		echo "control = $(sock "$n")"
		echo "hops = 3"
		echo "log-level = info"
		[[ $n == term ]] && echo "address = $DEST/32"
		[[ $n == origin ]] && echo "address = 172.31.1.1/32"
	} >"$tmp/$n/maquisd.conf"
	cp "$tmp/$n/maquisd.conf" "$OUT/ctl-$n.conf"
	ip netns exec "$NS-$n" "$MAQUISD" -c "$tmp/$n/maquisd.conf" \
		>"$tmp/$n/log" 2>&1 </dev/null &
	PIDS+=($!)
done

# Each daemon must stay up and open its control socket (20 s at most).
last_words() { tail -1 "$tmp/$1/log" 2>/dev/null | tr -d '\r'; }
for i in "${!NODES[@]}"; do
	n=${NODES[$i]}
	for ((k = 0; k < 200; k++)); do
		[[ -S $(sock "$n") ]] && break
		kill -0 "${PIDS[$i]}" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
		wait "${PIDS[$i]}"
		give_up "maquisd ($n) exited with $?: $(last_words "$n")"
	fi
	[[ -S $(sock "$n") ]] ||
		give_up "maquisd ($n) has no control socket after 20 s: $(last_words "$n")"
done
log "5 daemons up"

cli() {	# cli NODE ARGS...: the CLI against NODE's daemon
	local n=$1

	shift
	MAQUIS_SOCKET=$(sock "$n") ip netns exec "$NS-$n" \
		timeout 30 "$MAQUIS" "$@"
}

# A number from `maquis --json circuit build`: {"id":7,...,"setup_ms":12}
value() {	# value KEY <OUTPUT
	sed -nE "s/.*\"$1\":([0-9.]+).*/\\1/p" | head -1
}

build() {	# build: one circuit; sets ID, WALL (s), SETUP_MS; 0 on success
	local t0 t1 out

	t0=$(now)
	out=$(cli origin --json circuit build --hops 3 --to "$DEST" 2>&1)
	local rc=$?
	t1=$(now)
	echo "$out" >>"$OUT/ctl-builds.log"
	LAST=$(echo "$out" | tail -1)
	((rc == 0)) || return 1
	ID=$(echo "$out" | value id)
	SETUP_MS=$(echo "$out" | value setup_ms)
	WALL=$(calc "$t1 - $t0" 6)
	[[ -n $ID ]] || { LAST="no circuit id in: $LAST"; return 1; }
	return 0
}

# --- gossip: until the first circuit builds ---------------------------------

t_start=$(now)
deadline=$(($(date +%s) + GOSSIP_SECS))
ok=0
while (($(date +%s) < deadline)); do
	if build; then
		ok=1
		break
	fi
	for i in "${!NODES[@]}"; do
		kill -0 "${PIDS[$i]}" 2>/dev/null ||
			give_up "maquisd (${NODES[$i]}) died: $(last_words "${NODES[$i]}")"
	done
	sleep 1
done
((ok)) || give_up "no circuit built within ${GOSSIP_SECS}s: ${LAST:-nothing}"
fig "${P}_gossip" "$(calc "$(now) - $t_start" 1)" s
cli origin circuit destroy "$ID" >>"$OUT/ctl-builds.log" 2>&1 ||
	give_up "circuit destroy $ID failed: $(cli origin circuit destroy "$ID" 2>&1 | tail -1)"

# --- the loop -----------------------------------------------------------------

walls=() setups=()
t0=$(now)
end=$(($(date +%s) + LOOP_SECS))
for ((k = 0; k < BUILDS && $(date +%s) < end; k++)); do
	build || give_up "build $((k + 1)) failed: $LAST"
	walls+=("$WALL")
	[[ -n $SETUP_MS ]] && setups+=("$SETUP_MS")
	cli origin circuit destroy "$ID" >>"$OUT/ctl-builds.log" 2>&1 ||
		give_up "circuit destroy $ID failed"
done
t1=$(now)
log "${#walls[@]} circuits built and destroyed in $(calc "$t1 - $t0" 2) s"
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
fig "${P}_setup_rate" "$(calc "${#walls[@]} / ($t1 - $t0)")" setups/s
fig "${P}_setup_latency" "$(calc "$(median "${walls[@]}") * 1000" 1)" ms
if ((${#setups[@]})); then
	fig "${P}_setup_ms" "$(median "${setups[@]}")" ms
else
	not_measured "${P}_setup_ms" "the build reply carries no setup_ms"
fi
exit 0
