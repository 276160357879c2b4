#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo scenario, inside the VM (tests/demo/run.sh): maquisd on seven
# relays and two endpoints, each in its own network namespace, all on one
# bridge:
#
#                           dm-sw: bridge br0
#      +---------+---------+---- ... ----+---------+-----------+-----------+
#     r1        r2        r3            r7         a           b
#  10.11.0.1 10.12.0.1 10.13.0.1     10.17.0.1  10.18.0.1   10.19.0.1
#                                               maq0         maq0
#                                               172.31.0.1   172.31.0.2
#
# Each host sits in its own /16, so path selection's diversity rule (no two
# hops in one /16) lets any relay follow any other; r1 and r2 are everyone's
# bootstrap list.  The demo walks a newcomer through gossip, `maquis circuit
# build` from a to b, what each hop knows, traffic while keys rotate, a
# tampered cell, teardown and a clean stop, printing each command line it
# runs before that command's output and only values it measured.
#
# Every wait is bounded; a step that does not do what it shows stops the
# demo with a message naming it and a non-zero exit.  Needs root, maquis.ko
# loaded, veth, bridge, iperf3, ping and script(1).
set -Eeuo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=$top/daemon:$top/tests/kmod:$PATH
RELAYS=(r1 r2 r3 r4 r5 r6 r7)
HOSTS=("${RELAYS[@]}" a b)
EPOCH_PARAM=/sys/module/maquis/parameters/epoch_secs
DEMO_EPOCH=5
tmp=$(mktemp -d /tmp/maquis-demo.XXXXXX)
declare -A pid ip host_of id_of started
epoch_was=

cleanup() {
	local h p

	set +eE
	trap - ERR
	# not bash's "Killed" notices of the daemons' jobs
	exec 2>/dev/null
	for h in "${HOSTS[@]}"; do
		[[ -n ${pid[$h]:-} ]] && kill -9 "${pid[$h]}" 2>/dev/null
	done
	for h in "${HOSTS[@]}" sw; do
		for p in $(ip netns pids "dm-$h" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
		ip netns del "dm-$h" 2>/dev/null
	done
	wait 2>/dev/null
	[[ -n $epoch_was ]] && echo "$epoch_was" >"$EPOCH_PARAM"
	rm -rf "$tmp"
}
trap cleanup EXIT

# In a subshell ($(...), a pipeline) only fail: the main shell reports it.
die() {
	local h

	((BASHPID == $$)) || exit 1
	trap - ERR
	printf '\nmaquis demo: FAILED: %s\n' "$*"
	for h in "${HOSTS[@]}"; do
		[[ -s $tmp/$h.log ]] || continue
		echo "--- last lines of $h's maquisd log"
		tail -5 "$tmp/$h.log"
	done
	exit 1
}
trap 'die "line $LINENO: \"$BASH_COMMAND\" exited with status $?"' ERR

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$@"; }
# para TEXT...: prose, its words wrapped at 76 columns.
para() {
	local w words line=''

	read -ra words <<<"$*"
	for w in "${words[@]}"; do
		if [[ -n $line && $((${#line} + ${#w})) -ge 72 ]]; then
			printf '   %s\n' "$line"
			line=
		fi
		line+=${line:+ }$w
	done
	[[ -z $line ]] || printf '   %s\n' "$line"
}

# Sleeping without exec'ing sleep(1): every host binary run over 9p costs
# about 0.3 s under TCG, so the polling loops below use read's timeout.
mkfifo "$tmp/nap"
exec {napfd}<>"$tmp/nap"
nap() { read -r -t "$1" -u "$napfd" || true; }
now() { local t=${EPOCHREALTIME/./}; NOW=$((t / 1000)); }	# ms
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# n HOST CMD...: run CMD in HOST's namespace, its CLI talking to its daemon.
n() {
	local h=$1

	shift
	MAQUIS_SOCKET=$tmp/$h.sock ip netns exec "dm-$h" "$@"
}
# on HOST CMD...: the same, showing the command line first.
on() { printf '[%s] $ %s\n' "$1" "${*:2}"; n "$@"; }
# on_sh HOST 'CMD | FILTER': the same for a pipeline.
on_sh() { printf '[%s] $ %s\n' "$1" "$2"; n "$1" bash -c "$2"; }
# The daemon of HOST, from any namespace (the socket is a path).
mq() { maquis --socket "$tmp/$1.sock" "${@:2}"; }

# A value from `maquis circuit show` (tab-separated) of circuit $2 on $1.
circuit_field() { n "$1" maquis circuit show "$2" | awk -F'\t' -v k="$3" '$3 == k {print $4}'; }
# HOST's one circuit: "id role prev next", tab-separated; empty when none.
circuit_of() { n "$1" maquis circuit list | cut -f2-5; }
# An underlay address:port as the host that has it.
who() { echo "${host_of[${1%:*}]:-$1}"; }

# --- 1. topology ---------------------------------------------------------

setup_net() {
	local i=0 h

	modprobe veth
	modprobe bridge
	ip netns add dm-sw
	ip -n dm-sw link add br0 type bridge
	ip -n dm-sw link set br0 up
	for h in "${HOSTS[@]}"; do
		i=$((i + 1))
		ip[$h]=10.$((10 + i)).0.1
		host_of[${ip[$h]}]=$h
		ip netns add "dm-$h"
		ip -n "dm-$h" link set lo up
		ip link add eth0 netns "dm-$h" type veth peer name "p-$h" netns dm-sw
		ip -n dm-sw link set "p-$h" master br0 up
		ip -n "dm-$h" addr add "${ip[$h]}/8" dev eth0
		ip -n "dm-$h" link set eth0 up
	done
}

write_conf() {
	local h=$1 role=relay

	[[ $h == a || $h == b ]] && role=client
	mkdir -p "$tmp/$h"
	{
		echo "# $h: the daemon creates maq0 and the key files itself"
		echo "role = $role"
		echo "listen = ${ip[$h]}:7720"
		echo "bootstrap = ${ip[r1]}"
		echo "bootstrap = ${ip[r2]}"
		echo "key-dir = $tmp/$h/keys"
		echo "control = $tmp/$h.sock"
		echo "lifetime = 600"
		[[ $h == a ]] && echo "address = 172.31.0.1/32"
		[[ $h == b ]] && echo "address = 172.31.0.2/32"
		echo "log-level = info"
	} >"$tmp/$h.conf"
}

start_daemons() {
	local h i

	for h in "${HOSTS[@]}"; do
		# a simple command, so that $! is maquisd itself
		ip netns exec "dm-$h" maquisd -c "$tmp/$h.conf" >"$tmp/$h.log" 2>&1 &
		pid[$h]=$!
		now
		started[$h]=$NOW
	done
	for h in "${HOSTS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			[[ -S $tmp/$h.sock ]] && break
			kill -0 "${pid[$h]}" 2>/dev/null ||
				die "maquisd on $h exited: $(tail -3 "$tmp/$h.log")"
			nap 0.2
		done
		[[ -S $tmp/$h.sock ]] || die "maquisd on $h: no control socket after 10 s"
	done
}

say "1. Topology: 7 relays and 2 endpoints, one network namespace each"
setup_net
cat <<EOF
                             bridge br0 (namespace dm-sw)
     +----------+----------+---- ... ----+----------+------------+------------+
     r1         r2         r3            r7         a            b
     ${ip[r1]}  ${ip[r2]}  ${ip[r3]}     ${ip[r7]}  ${ip[a]}   ${ip[b]}
                                                    maq0         maq0
                                                    172.31.0.1   172.31.0.2
EOF
para "r4..r6 have 10.14.0.1 .. 10.16.0.1.  Relays carry circuits; a and b are" \
	"clients (they carry none) with an inner address each on maq0.  Each host" \
	"is in its own /16, so path selection may chain any relays."
para "[h] \$ CMD below is CMD run in h's namespace (ip netns exec dm-h CMD), the" \
	"maquis CLI talking to h's daemon (MAQUIS_SOCKET=$tmp/h.sock)."
for h in "${HOSTS[@]}"; do
	write_conf "$h"
done
echo
on r1 cat "$tmp/r1.conf"
echo
on a cat "$tmp/a.conf"
echo
para "The others differ only in their names and addresses, and b's" \
	"address is 172.31.0.2/32.  Starting maquisd on every host:"
printf '[%s] $ %s\n' h "maquisd -c $tmp/h.conf    (h = r1 .. r7, a, b)"
start_daemons

# --- 2. gossip -----------------------------------------------------------

say "2. Gossip: every daemon starts from its own descriptor and r1, r2"
want=${#HOSTS[@]}
declare -A known=() conv=()
left=$want
for ((round = 0; left > 0; round++)); do
	now
	t0=$NOW
	line=
	for h in "${HOSTS[@]}"; do
		if [[ -z ${conv[$h]:-} ]]; then
			mapfile -t rows < <(mq "$h" relays)
			known[$h]=${#rows[@]}
			now
			if ((known[$h] >= want)); then
				conv[$h]=$((NOW - started[$h]))
				left=$((left - 1))
			fi
		fi
		line+=$(printf ' %s:%d' "$h" "${known[$h]}")
	done
	now
	printf '   %5s s after start, descriptors known:%s\n' \
		"$(secs $((NOW - started[b])))" "$line"
	((left == 0)) && break
	((NOW - started[b] < 120000)) ||
		die "gossip: after 120 s, some daemons know fewer than $want descriptors:$line"
	# a round costs ~3 s in the VM at first: poll about every 2 s
	((NOW - t0 < 2000)) && nap "$(secs $((2000 - (NOW - t0))))"
done
para "Each daemon knew all $want descriptors (7 relays, a and b) this long after" \
	"its own start (as seen by this poll, every ~2 s):"
line=
for h in "${HOSTS[@]}"; do
	line+=$(printf '  %s %ss' "$h" "$(secs "${conv[$h]}")")
done
note "$line"
echo
on a maquis relays
mapfile -t rows < <(mq a relays)
for r in "${rows[@]}"; do
	IFS=$'\t' read -r rid _ raddr _ <<<"$r"
	id_of[$rid]=$(who "$raddr")
done
echo
on_sh a "maquis stats --daemon | grep -E '^(gossip\\.(sent|received)|desc\\.accepted)'"

# --- 3. circuit build ----------------------------------------------------

say "3. a builds a circuit of 3 relays to 172.31.0.2"
printf '[a] $ %s\n' "maquis circuit build --hops 3 --to 172.31.0.2"
# script(1) gives the CLI a terminal, so it prints what a user sees
out=$(n a script -qec "maquis circuit build --hops 3 --to 172.31.0.2" /dev/null) ||
	die "circuit build failed: $out"
out=${out//$'\r'/}
echo "$out"
re='^circuit ([0-9]+) to ([^:]+): ([0-9]+) hops \(([^)]*)\), set up in ([0-9]+) ms'
[[ $out =~ $re ]] || die "circuit build: unexpected output '$out'"
CIRCUIT=${BASH_REMATCH[1]}
setup_ms=${BASH_REMATCH[5]}
IFS=, read -ra path_ids <<<"${BASH_REMATCH[4]}"
PATH_HOSTS=()
for rid in "${path_ids[@]}"; do
	[[ -n ${id_of[$rid]:-} ]] || die "path: relay $rid is not in a's view"
	PATH_HOSTS+=("${id_of[$rid]}")
done
[[ ${#PATH_HOSTS[@]} == 4 && ${PATH_HOSTS[3]} == b ]] ||
	die "path ${PATH_HOSTS[*]}: want 3 relays and then b"
path_str="a -> ${PATH_HOSTS[0]} -> ${PATH_HOSTS[1]} -> ${PATH_HOSTS[2]} -> b"
para "Circuit $CIRCUIT: $path_str (the identities above, named by" \
	"their addresses in a's view), set up in $setup_ms ms.  Setup is one round" \
	"trip: one CREATE goes out, each relay peels its layer and passes the rest" \
	"on, one CREATED comes back.  b ends it: its descriptor announces" \
	"172.31.0.2/32."

# --- 4. what each host knows ---------------------------------------------

say "4. What each host knows of the circuit: its own kernel and daemon"
declare -A view=()
holders=()
for h in "${HOSTS[@]}"; do
	view[$h]=$(circuit_of "$h")
	[[ -n ${view[$h]} ]] && holders+=("$h")
done
[[ $(printf '%s\n' "${holders[@]}" | sort | xargs) == \
	"$(printf '%s\n' "${PATH_HOSTS[@]}" a | sort | xargs)" ]] ||
	die "hosts holding a circuit: ${holders[*]}, want a, ${PATH_HOSTS[*]}"
for h in "${PATH_HOSTS[@]:0:3}" b; do
	echo
	on "$h" maquis circuit list
done
mid=${PATH_HOSTS[1]}
IFS=$'\t' read -r mid_id _ <<<"${view[$mid]}"
echo
on "$mid" maquis circuit show "$mid_id"
echo
note "In names (addresses mapped to hosts by this script, not by the hosts):"
for h in "${PATH_HOSTS[@]:0:3}" b; do
	IFS=$'\t' read -r cid role prev next <<<"${view[$h]}"
	if [[ $role == terminus ]]; then
		note "$(printf '%-3s %-9s prev %-3s (%s)' "$h" "$role" "$(who "$prev")" "$prev")"
		[[ $(who "$prev") == "${PATH_HOSTS[2]}" ]] || die "b's previous hop is $prev"
		continue
	fi
	note "$(printf '%-3s %-9s prev %-3s (%s)  next %-3s (%s)' "$h" "$role" \
		"$(who "$prev")" "$prev" "$(who "$next")" "$next")"
	[[ $(who "$prev") == a && $(who "$next") == b ]] &&
		die "$h sees both a and b"
done
for h in "${PATH_HOSTS[@]:0:3}"; do
	[[ $(ip -n "dm-$h" route show) != *172.31.* ]] ||
		die "$h has a route to an inner address"
done
others=()
for h in "${RELAYS[@]}"; do
	[[ -z ${view[$h]} ]] && others+=("$h")
done
para "No relay sees both a and b: ${PATH_HOSTS[0]} knows a but not b," \
	"${PATH_HOSTS[2]} knows b but not a, ${PATH_HOSTS[1]} neither; b knows only" \
	"${PATH_HOSTS[2]}.  No relay has a route to 172.31.0.x (checked with ip route);" \
	"${others[*]} hold nothing of this circuit."

# --- 5. traffic, key rotation --------------------------------------------

say "5. Traffic through maq0, while the keys rotate"
printf '[a] $ %s\n' "ping -c 5 -i 0.2 -W 3 172.31.0.2"
out=$(n a ping -c 5 -i 0.2 -W 3 172.31.0.2) || die "ping through the circuit failed: $out"
echo "$out"
rtt=$(sed -n 's|^rtt .* = [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")
echo
n b iperf3 -s -1 -D -B 172.31.0.2 --logfile "$tmp/iperf-s.log" ||
	die "iperf3 server on b did not start"
printf '[b] $ %s\n' "iperf3 -s -1 -D -B 172.31.0.2"
nap 0.5
printf '[a] $ %s\n' "iperf3 -c 172.31.0.2 -t 5"
out=$(n a timeout 30 iperf3 -c 172.31.0.2 -t 5 --connect-timeout 5000) ||
	die "iperf3 through the circuit failed: $out"
echo "$out"
mbit=$(echo "$out" | awk '$NF == "receiver" {print $(NF - 2), $(NF - 1)}')
[[ -n $mbit ]] || die "iperf3: no receiver line"

# epoch and key phase of circuit $CIRCUIT at a: sets EPOCH, PHASE
epoch_at_a() {
	local js re='"phase":([0-9]+).*"maquisd":\{.*"epoch":([0-9]+)'

	js=$(n a maquis --json circuit show "$CIRCUIT")
	[[ $js =~ $re ]] || die "a: no key phase or epoch in: $js"
	PHASE=${BASH_REMATCH[1]} EPOCH=${BASH_REMATCH[2]}
}

epoch_was=$(<"$EPOCH_PARAM")
echo
para "Every epoch (epoch_secs, $epoch_was s by default) each hop's daemon" \
	"installs the circuit's next keys, then the origin's kernel flips the" \
	"key phase.  Here epochs last ${DEMO_EPOCH}s, so that a few pass during 12 s" \
	"of ping:"
printf '[vm] $ %s\n' "echo $DEMO_EPOCH > $EPOCH_PARAM"
echo "$DEMO_EPOCH" >"$EPOCH_PARAM"
epoch_at_a
e0=$EPOCH
printf '[a] $ %s &\n' "ping -c 60 -i 0.2 -W 3 -q 172.31.0.2"
n a ping -c 60 -i 0.2 -W 3 -q 172.31.0.2 >"$tmp/ping" 2>&1 &
pingpid=$!
now
tt0=$NOW
note "a's view, read about every 2 s (maquis --json circuit show $CIRCUIT):"
while kill -0 "$pingpid" 2>/dev/null; do
	now
	((NOW - tt0 < 30000)) || die "ping -c 60 -i 0.2 still running after 30 s"
	epoch_at_a
	note "$(printf '%5s s  epoch %u  key phase %u' "$(secs $((NOW - tt0)))" "$EPOCH" "$PHASE")"
	nap 2
done
wait "$pingpid" || die "ping during the rotation failed: $(<"$tmp/ping")"
now
rot_s=$(secs $((NOW - tt0)))
sed -n '/statistics/,$p' "$tmp/ping"
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$tmp/ping")
epoch_at_a
e1=$EPOCH
((e1 > e0)) || die "keys did not rotate: epoch $e0 -> $e1 at a"
line=
for h in a "${PATH_HOSTS[@]:0:3}" b; do
	IFS=$'\t' read -r cid _ <<<"${view[$h]}"
	st=$(n "$h" maquis circuit show "$cid")
	ep=$(awk -F'\t' '$3 == "maquisd.epoch" {print $4}' <<<"$st")
	bad=$(awk -F'\t' '$3 ~ /^drop-(bad-tag|replay|key-limit)$/ {s += $4} END {print s + 0}' <<<"$st")
	line+="  $h $ep/$bad"
	((bad == 0)) || die "$h refused $bad cells of circuit $cid during the rotation"
done
para "Epoch $e0 -> $e1 at a in $rot_s s, $loss% of the pings lost.  Every" \
	"hop's epoch / cells it refused (bad tag, replay, key limit):"
note "$line"
printf '[vm] $ %s\n' "echo $epoch_was > $EPOCH_PARAM"
echo "$epoch_was" >"$EPOCH_PARAM"

# --- 6. a tampered cell --------------------------------------------------

first=${PATH_HOSTS[0]} second=${PATH_HOSTS[1]}
say "6. A cell copied off the $first -> $second link, altered, sent again"
IFS=$'\t' read -r first_id _ <<<"${view[$first]}"
fwd_cid=$(n "$first" maquis --json circuit show "$first_id" |
	grep -o '"fwd_cid_out":[0-9]*' | cut -d: -f2)
[[ $fwd_cid =~ ^[1-9][0-9]*$ ]] || die "$first: no forward cid for circuit $first_id"
para "$first sends this circuit's cells to $second with cid $fwd_cid.  Capture" \
	"$first's outgoing cells while a pings b (maqtool is the tests' packet tool):"
rm -f "$tmp/ready"
cap_args=(--dev eth0 --port 7720 --dir out --count 6 --timeout 15000
	--ready "$tmp/ready" --out "$tmp/cells")
printf '[%s] $ %s &\n' "$first" "maqtool capture ${cap_args[*]}"
ip netns exec "dm-$first" maqtool capture "${cap_args[@]}" &
cap=$!
for ((i = 0; i < 50; i++)); do
	[[ -e $tmp/ready ]] && break
	nap 0.2
done
n a ping -c 3 -i 0.3 -W 3 -q 172.31.0.2 >/dev/null || die "ping for the capture failed"
wait "$cap" || die "capture on $first failed"
# the first captured frame carrying the circuit's forward cid (others go
# back to a, or are gossip with cid 0)
read -r -d '' -a B < <(od -An -v -tu1 "$tmp/cells") || true
k=0 off=0 index=
while ((off + 4 <= ${#B[@]})); do
	len=$((B[off] | B[off + 1] << 8 | B[off + 2] << 16 | B[off + 3] << 24))
	f=$((off + 4))
	if ((B[f + 12] == 8 && B[f + 13] == 0)); then
		p=$((f + 14 + (B[f + 14] & 15) * 4 + 8))
		cid=$((B[p] << 24 | B[p + 1] << 16 | B[p + 2] << 8 | B[p + 3]))
		if ((cid == fwd_cid)); then index=$k; break; fi
	fi
	off=$((f + len))
	k=$((k + 1))
done
[[ -n $index ]] || die "no cell with cid $fwd_cid among the captured frames"
bad0=$(n "$second" maquis stats maq0 | awk -F'\t' '$2 == "drop-bad-tag" {print $3}')
para "Frame $index has it.  Send it again with its counter moved 100 ahead (or" \
	"$second's replay window would drop it first) and one bit flipped in its body:"
on "$first" maqtool inject --dev eth0 --in "$tmp/cells" --index "$index" \
	--seq-add 100 --flip 100.3
for ((i = 0; i < 25; i++)); do
	bad1=$(n "$second" maquis stats maq0 | awk -F'\t' '$2 == "drop-bad-tag" {print $3}')
	((bad1 > bad0)) && break
	nap 0.2
done
((bad1 == bad0 + 1)) || die "$second: drop-bad-tag $bad0 -> $bad1, want one more"
echo
on "$second" maquis stats
echo
for ((i = 0; i < 25; i++)); do
	grep -q "cells failed authentication" "$tmp/$second.log" && break
	nap 0.2
done
on_sh "$second" "maquis stats --daemon | grep -E '^events\\.(tamper|replay)'"
echo
printf '[%s] %s\n' "$second" "its maquisd's log:"
grep "cells failed authentication" "$tmp/$second.log" ||
	die "$second's daemon did not log the tampered cell"
para "$second's kernel checked the cell's Poly1305 tag with its key for this hop, found" \
	"it wrong and dropped it (drop-bad-tag $bad0 -> $bad1): nothing past" \
	"$second saw it.  The circuit still works:"
on a ping -c 2 -i 0.3 -W 3 -q 172.31.0.2 || die "ping after the tampered cell failed"

# --- 7. teardown, stop ---------------------------------------------------

say "7. a destroys the circuit; then every daemon stops"
on a maquis circuit destroy "$CIRCUIT"
now
td0=$NOW
for ((i = 0; i < 30; i++)); do
	line=
	for h in a "${PATH_HOSTS[@]:0:3}" b; do
		[[ -z $(circuit_of "$h") ]] || line+=" $h"
	done
	[[ -z $line ]] && break
	nap 0.5
done
now
[[ -z $line ]] || die "circuit state left after 15 s on:$line"
for h in "${HOSTS[@]}"; do
	[[ -z $(circuit_of "$h") ]] || die "$h still holds a circuit"
done
para "No host's kernel holds a circuit any more (all 9 checked;" \
	"$(secs $((NOW - td0))) s after the destroy).  Each hop's daemon logged it:"
for h in "${PATH_HOSTS[@]:0:3}" b; do
	grep -h "destroyed by its origin" "$tmp/$h.log" | sed "s/^/   $h: /" ||
		die "$h's daemon did not log the destroy"
done
echo
on a ping -c 1 -W 1 172.31.0.2 && die "172.31.0.2 still answers after the destroy"
echo
line=
for h in "${HOSTS[@]}"; do
	line+=" ${pid[$h]}"
done
printf '[vm] $ kill -TERM%s    (the maquisd of r1 .. r7, a, b)\n' "$line"
now
ts0=$NOW
for h in "${HOSTS[@]}"; do
	kill -TERM "${pid[$h]}"
done
for h in "${HOSTS[@]}"; do
	for ((i = 0; i < 50; i++)); do
		kill -0 "${pid[$h]}" 2>/dev/null || break
		nap 0.2
	done
	kill -0 "${pid[$h]}" 2>/dev/null && die "maquisd on $h still runs 10 s after SIGTERM"
	rc=0
	wait "${pid[$h]}" || rc=$?
	((rc == 0)) || die "maquisd on $h exited with status $rc"
	pid[$h]=
	[[ ! -e $tmp/$h.sock ]] || die "maquisd on $h left its socket"
	grep -q "stopping" "$tmp/$h.log" || die "maquisd on $h did not log its stop"
done
now
errors=$(grep -H -E '(^|: )error:' "$tmp"/*.log || true)
[[ -z $errors ]] || die "errors in the daemons' logs: $errors"
para "All 9 daemons exited with status 0 within $(secs $((NOW - ts0))) s," \
	"control sockets removed, no error in any log.  a's log, whole:"
sed 's/^/   /' "$tmp/a.log"

slowest=0
for h in "${HOSTS[@]}"; do
	((conv[$h] > slowest)) && slowest=${conv[$h]}
done
say "Summary (measured in this run, under QEMU TCG: slow, not a benchmark)"
note "gossip:   every daemon knew all 9 descriptors within $(secs "$slowest") s" \
	"circuit:  $path_str, set up in $setup_ms ms" \
	"traffic:  ping rtt avg ${rtt:-?} ms, iperf3 $mbit through maq0" \
	"keys:     epoch $e0 -> $e1 at a in $rot_s s of ping, $loss% lost, no cell refused" \
	"tamper:   the altered cell dropped by $second (drop-bad-tag $bad0 -> $bad1)" \
	"teardown: no circuit left on any host, 9 daemons stopped cleanly"
echo
echo "maquis demo: done"
