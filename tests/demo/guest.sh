#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo scenario, inside the VM (tests/demo/run.sh), on the maquisd
# testbed of tests/kmod/testbed.sh: nine relays r1..r9 and three endpoints
# a, b, c, each in its own network namespace "tb-HOST" running maquisd, all
# on one bridge, each host in its own /16 (so path selection may chain any
# relays), r1 and r2 everyone's bootstrap list.
#
# The demo walks through gossip, `maquis circuit build` from a to b, what
# each hop knows, traffic while keys rotate, a tampered cell, a service c
# reached through its alias and a rendezvous relay that learns neither end,
# a relay deleted under traffic and routed around, teardown and a clean
# stop.  It prints each command line it runs before that command's output,
# and only values it measured.
#
# Every wait is bounded; a step that does not do what it shows stops the
# demo with a message naming it and a non-zero exit.  Needs root, maquis.ko
# loaded, veth, bridge, iperf3, ping, python3 and script(1).

top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=$top/daemon:$top/tests/kmod:$PATH
# shellcheck source-path=SCRIPTDIR source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"
# shellcheck source-path=SCRIPTDIR source=../kmod/testbed.sh
. "$top/tests/kmod/testbed.sh"
set -Eeuo pipefail

EPOCH_PARAM=/sys/module/maquis/parameters/epoch_secs
DEMO_EPOCH=5
declare -A host_of id_of
for h in "${TB_HOSTS[@]}"; do
	host_of[${tb_ip[$h]}]=$h
done
epoch_was=

# The testbed's cleanup, quietly: not bash's "Killed" notices of the daemons'
# jobs, and not this script's ERR trap for what cleanup ignores.
trap 'trap - ERR; set +eE; exec 2>/dev/null; tb_cleanup' EXIT

# In a subshell ($(...), a pipeline) only fail: the main shell reports it.
die() {
	local h

	((BASHPID == $$)) || exit 1
	trap - ERR
	printf '\nmaquis demo: FAILED: %s\n' "$*"
	for h in "${TB_HOSTS[@]}"; do
		[[ -s $TB/$h.log ]] || continue
		echo "--- last lines of $h's maquisd log"
		tail -5 "$TB/$h.log"
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
mkfifo "$TB/nap"
exec {napfd}<>"$TB/nap"
nap() { read -r -t "$1" -u "$napfd" || true; }
now() { local t=${EPOCHREALTIME/./}; NOW=$((t / 1000)); }	# ms
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# nd HOST CMD...: CMD in HOST's namespace, its CLI talking to its daemon.
nd() { MAQUIS_SOCKET=$TB/$1.sock n "$@"; }
# on HOST CMD...: the same, showing the command line first.
on() { printf '[%s] $ %s\n' "$1" "${*:2}"; nd "$@"; }
# on_sh HOST 'CMD | FILTER': the same for a pipeline.
on_sh() { printf '[%s] $ %s\n' "$1" "$2"; nd "$1" bash -c "$2"; }
# on_tty HOST 'CMD': the same with a terminal (script(1)), so that the CLI
# prints what a user sees; its output is also left in $OUT.
on_tty() {
	printf '[%s] $ %s\n' "$1" "$2"
	OUT=$(nd "$1" script -qec "$2" /dev/null) || die "$1: '$2' failed: $OUT"
	OUT=${OUT//$'\r'/}
	echo "$OUT"
}
# The daemon of HOST, from any namespace (the socket is a path): one exec.
ask() { maquis --socket "$TB/$1.sock" "${@:2}"; }

# HOST's circuits: "id role prev next" a line, tab-separated.
circuits_of() { nd "$1" maquis circuit list | cut -f2-5; }
# An underlay address:port as the host that has it.
who() { echo "${host_of[${1%:*}]:-$1}"; }
# The host of relay identities (as `maquis relays` prints them), one a line.
hosts_of() {
	local id

	for id in "$@"; do
		[[ -n ${id_of[$id]:-} ]] || die "relay $id is not in a's view"
		echo "${id_of[$id]}"
	done
}
# A "path" field (ids, comma-separated) as host names, " -> "-separated.
path_names() {
	local ids

	IFS=, read -ra ids <<<"$1"
	hosts_of "${ids[@]}" | paste -sd' ' | sed 's/ / -> /g'
}
# wait_log SECS FILE REGEX: until FILE has a line matching REGEX.
wait_log() {
	local i

	for ((i = 0; i < $1 * 4; i++)); do
		grep -qE "$3" "$2" && return 0
		nap 0.25
	done
	return 1
}
# ping_gap FILE: the longest time between two replies of `ping -D`, in ms,
# and the times (ping -D stamps) of the replies around it.
ping_gap() {
	awk -F'[][]' '/bytes from/ { t = $2 * 1000
			if (p && t - p > g) { g = t - p; a = $2; b = p0 } p = t; p0 = $2 }
		END { printf "%d %s %s\n", g, b, a }' "$1"
}

# --- 1. topology ---------------------------------------------------------

say "1. Topology: 9 relays and 3 endpoints, one network namespace each"
cat <<EOF
                              bridge br0 (namespace tb-sw)
     +----------+----------+---- ... ----+----------+----------+----------+
     r1         r2         r3            r9         a          b          c
     ${tb_ip[r1]}  ${tb_ip[r2]}  ${tb_ip[r3]}     ${tb_ip[r9]}  ${tb_ip[a]}  ${tb_ip[b]}  ${tb_ip[c]}
                                                    maq0       maq0       maq0
                                                    ${tb_inner[a]} ${tb_inner[b]} ${tb_inner[c]}
EOF
para "The testbed of the daemon tests (tests/kmod/testbed.sh).  Relays carry" \
	"circuits; a, b and c are clients (they carry none) with an inner address" \
	"each on maq0.  Each host is in its own /16, so path selection may chain" \
	"any relays."
para "[h] \$ CMD below is CMD run in h's namespace (ip netns exec tb-h CMD), the" \
	"maquis CLI talking to h's daemon (MAQUIS_SOCKET=$TB/h.sock)."
now
ts0=$NOW
tb_setup || die "the testbed did not start"
now
up=$NOW
echo
on r1 cat "$TB/r1.conf"
echo
on a cat "$TB/a.conf"
echo
para "The others differ only in their names and addresses.  Every daemon was" \
	"started in turn ($(secs $((up - ts0))) s for all 12):"
printf '[%s] $ %s\n' h "maquisd -c $TB/h.conf    (h = r1 .. r9, a, b, c)"

# --- 2. gossip -----------------------------------------------------------

say "2. Gossip: every daemon starts from its own descriptor and r1, r2"
want=${#TB_HOSTS[@]}
declare -A known=() conv=()
left=$want
for ((round = 0; left > 0; round++)); do
	now
	t0=$NOW
	line=
	for h in "${TB_HOSTS[@]}"; do
		if [[ -z ${conv[$h]:-} ]]; then
			mapfile -t rows < <(ask "$h" relays)
			known[$h]=${#rows[@]}
			now
			if ((known[$h] >= want)); then
				conv[$h]=$((NOW - up))
				left=$((left - 1))
			fi
		fi
		line+=$(printf ' %s:%d' "$h" "${known[$h]}")
	done
	now
	printf '   %5s s, descriptors known:%s\n' "$(secs $((NOW - up)))" "$line"
	((left == 0)) && break
	((NOW - up < 120000)) ||
		die "gossip: after 120 s, some daemons know fewer than $want descriptors:$line"
	# a round costs a few seconds in the VM at first: poll about every 2 s
	((NOW - t0 < 2000)) && nap "$(secs $((2000 - (NOW - t0))))"
done
para "Each daemon knew all $want descriptors (9 relays, a, b and c) this long" \
	"after the last daemon started (as seen by this poll):"
line=
for h in "${TB_HOSTS[@]}"; do
	line+=$(printf ' %s %ss' "$h" "$(secs "${conv[$h]}")")
done
note "$line"
echo
on a maquis relays
mapfile -t rows < <(ask a relays)
for r in "${rows[@]}"; do
	IFS=$'\t' read -r rid _ raddr _ <<<"$r"
	id_of[$rid]=$(who "$raddr")
done
echo
on_sh a "maquis stats --daemon | grep -E '^(gossip\\.(sent|received)|desc\\.accepted)'"

# --- 3. circuit build ----------------------------------------------------

say "3. a builds a circuit of 3 relays to ${tb_inner[b]}"
on_tty a "maquis circuit build --hops 3 --to ${tb_inner[b]}"
re='^circuit ([0-9]+) to ([^:]+): ([0-9]+) hops \(([^)]*)\), set up in ([0-9]+) ms'
[[ $OUT =~ $re ]] || die "circuit build: unexpected output '$OUT'"
CIRCUIT=${BASH_REMATCH[1]}
setup_ms=${BASH_REMATCH[5]}
IFS=, read -ra path_ids <<<"${BASH_REMATCH[4]}"
mapfile -t PATH_HOSTS < <(hosts_of "${path_ids[@]}")
[[ ${#PATH_HOSTS[@]} == 4 && ${PATH_HOSTS[3]} == b ]] ||
	die "path ${PATH_HOSTS[*]}: want 3 relays and then b"
path_str="a -> ${PATH_HOSTS[0]} -> ${PATH_HOSTS[1]} -> ${PATH_HOSTS[2]} -> b"
para "Circuit $CIRCUIT: $path_str (the identities above, named by" \
	"their addresses in a's view), set up in $setup_ms ms.  Setup is one round" \
	"trip: one CREATE goes out, each relay peels its layer and passes the rest" \
	"on, one CREATED comes back.  b ends it: its descriptor announces" \
	"${tb_inner[b]}/32."

# --- 4. what each host knows ---------------------------------------------

say "4. What each host knows of the circuit: its own kernel and daemon"
declare -A view=()
holders=()
for h in "${TB_HOSTS[@]}"; do
	view[$h]=$(circuits_of "$h")
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
	[[ $(ip -n "tb-$h" route show) != *172.31.* ]] ||
		die "$h has a route to an inner address"
done
others=()
for h in "${TB_RELAYS[@]}"; do
	[[ -z ${view[$h]} ]] && others+=("$h")
done
para "No relay sees both a and b: ${PATH_HOSTS[0]} knows a but not b," \
	"${PATH_HOSTS[2]} knows b but not a, ${PATH_HOSTS[1]} neither; b knows only" \
	"${PATH_HOSTS[2]}.  No relay has a route to 172.31.0.x (checked with ip route);" \
	"${others[*]} hold nothing of this circuit."

# --- 5. traffic, key rotation --------------------------------------------

say "5. Traffic through maq0, while the keys rotate"
printf '[a] $ %s\n' "ping -c 5 -i 0.2 -W 3 ${tb_inner[b]}"
out=$(n a ping -c 5 -i 0.2 -W 3 "${tb_inner[b]}") || die "ping through the circuit failed: $out"
echo "$out"
rtt=$(sed -n 's|^rtt .* = [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")
echo
n b iperf3 -s -1 -D -B "${tb_inner[b]}" --logfile "$TB/iperf-s.log" ||
	die "iperf3 server on b did not start"
printf '[b] $ %s\n' "iperf3 -s -1 -D -B ${tb_inner[b]}"
nap 0.5
printf '[a] $ %s\n' "iperf3 -c ${tb_inner[b]} -t 5"
out=$(n a timeout 30 iperf3 -c "${tb_inner[b]}" -t 5 --connect-timeout 5000) ||
	die "iperf3 through the circuit failed: $out"
echo "$out"
mbit=$(echo "$out" | awk '$NF == "receiver" {print $(NF - 2), $(NF - 1)}')
[[ -n $mbit ]] || die "iperf3: no receiver line"

# epoch and key phase of circuit $CIRCUIT at a: sets EPOCH, PHASE
epoch_at_a() {
	local js re='"phase":([0-9]+).*"maquisd":\{.*"epoch":([0-9]+)'

	js=$(nd a maquis --json circuit show "$CIRCUIT")
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
printf '[a] $ %s &\n' "ping -c 60 -i 0.2 -W 3 -q ${tb_inner[b]}"
n a ping -c 60 -i 0.2 -W 3 -q "${tb_inner[b]}" >"$TB/ping" 2>&1 &
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
wait "$pingpid" || die "ping during the rotation failed: $(<"$TB/ping")"
now
rot_s=$(secs $((NOW - tt0)))
sed -n '/statistics/,$p' "$TB/ping"
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$TB/ping")
epoch_at_a
e1=$EPOCH
((e1 > e0)) || die "keys did not rotate: epoch $e0 -> $e1 at a"
line=
for h in a "${PATH_HOSTS[@]:0:3}" b; do
	IFS=$'\t' read -r cid _ <<<"${view[$h]}"
	st=$(nd "$h" maquis circuit show "$cid")
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
fwd_cid=$(nd "$first" maquis --json circuit show "$first_id" |
	grep -o '"fwd_cid_out":[0-9]*' | cut -d: -f2)
[[ $fwd_cid =~ ^[1-9][0-9]*$ ]] || die "$first: no forward cid for circuit $first_id"
para "$first sends this circuit's cells to $second with cid $fwd_cid.  Capture" \
	"$first's outgoing cells while a pings b (maqtool is the tests' packet tool):"
rm -f "$TB/ready"
cap_args=(--dev eth0 --port 7720 --dir out --count 6 --timeout 15000
	--ready "$TB/ready" --out "$TB/cells")
printf '[%s] $ %s &\n' "$first" "maqtool capture ${cap_args[*]}"
n "$first" maqtool capture "${cap_args[@]}" &
cap=$!
for ((i = 0; i < 50; i++)); do
	[[ -e $TB/ready ]] && break
	nap 0.2
done
n a ping -c 3 -i 0.3 -W 3 -q "${tb_inner[b]}" >/dev/null || die "ping for the capture failed"
wait "$cap" || die "capture on $first failed"
# the first captured frame carrying the circuit's forward cid (others go
# back to a, or are gossip with cid 0)
read -r -d '' -a B < <(od -An -v -tu1 "$TB/cells") || true
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
bad0=$(nd "$second" maquis stats maq0 | awk -F'\t' '$2 == "drop-bad-tag" {print $3}')
para "Frame $index has it.  Send it again with its counter moved 100 ahead (or" \
	"$second's replay window would drop it first) and one bit flipped in its body:"
on "$first" maqtool inject --dev eth0 --in "$TB/cells" --index "$index" \
	--seq-add 100 --flip 100.3
for ((i = 0; i < 25; i++)); do
	bad1=$(nd "$second" maquis stats maq0 | awk -F'\t' '$2 == "drop-bad-tag" {print $3}')
	((bad1 > bad0)) && break
	nap 0.2
done
((bad1 == bad0 + 1)) || die "$second: drop-bad-tag $bad0 -> $bad1, want one more"
echo
on "$second" maquis stats
echo
wait_log 5 "$TB/$second.log" "cells failed authentication" || true
on_sh "$second" "maquis stats --daemon | grep -E '^events\\.(tamper|replay)'"
echo
printf '[%s] %s\n' "$second" "its maquisd's log:"
grep "cells failed authentication" "$TB/$second.log" ||
	die "$second's daemon did not log the tampered cell"
para "$second's kernel checked the cell's Poly1305 tag with its key for this hop, found" \
	"it wrong and dropped it (drop-bad-tag $bad0 -> $bad1): nothing past" \
	"$second saw it.  The circuit still works:"
on a ping -c 2 -i 0.3 -W 3 -q "${tb_inner[b]}" || die "ping after the tampered cell failed"

# --- 7. an alias, a rendezvous -------------------------------------------

say "7. c offers a service under an alias; a reaches it through a rendezvous"
para "An alias is the name of a key only c holds, and its address (in fd00::/8)" \
	"is derived from it.  c keeps circuits to a few introduction relays and" \
	"publishes a sealed record of them through gossip; a asks c, through one" \
	"of them, to meet at a rendezvous relay a chose, which joins a's circuit" \
	"to c's.  Neither a nor c learns the other's address, nor does any relay."
on_tty c "maquis alias new svc"
re='^alias ([a-z2-7]{52}) \(svc\), address ([0-9a-f:]+)'
[[ $OUT =~ $re ]] || die "alias new: unexpected output '$OUT'"
ALIAS=${BASH_REMATCH[1]} AADDR=${BASH_REMATCH[2]}
[[ $AADDR == fd* ]] || die "alias address $AADDR is not in fd00::/8"
on_tty c "maquis alias publish svc"
now
tp0=$NOW
for ((i = 0; i < 120; i++)); do
	IFS=$'\t' read -r _ _ _ _ _ nintro intros < <(ask c alias list) || true
	[[ ${nintro:-0} == 3 ]] && break
	nap 0.5
done
now
[[ ${nintro:-0} == 3 ]] || die "alias publish: ${nintro:-0} of 3 intro points after 60 s"
echo
on_tty c "maquis alias list"
IFS=, read -ra ips <<<"$intros"
intro_hosts=()
for x in "${ips[@]}"; do
	intro_hosts+=("$(hosts_of "${x%%:*}")")
done
para "Three intro points up and the record out $(secs $((NOW - tp0))) s after" \
	"the publish: ${intro_hosts[*]} (named by this script)."
# gossip spreads the record: every relay's store and a's
now
tp0=$NOW
for h in "${TB_RELAYS[@]}" a; do
	for ((i = 0; i < 80; i++)); do
		[[ -n $(ask "$h" alias list --records) ]] && break
		nap 0.5
	done
	[[ -n $(ask "$h" alias list --records) ]] ||
		die "no alias record reached $h's store within 40 s"
done
now
echo
on_sh a "maquis alias list --records | cut -c1-72"
para "The record was in every relay's store and in a's $(secs $((NOW - tp0))) s" \
	"later.  It is sealed: blinded under a key of the day, it shows neither the" \
	"alias nor c's addresses (tests/kmod/mesh.d/alias.sh checks the bytes)."
echo
on_tty a "maquis circuit build --to $ALIAS"
re='^circuit ([0-9]+) to ([^ ]+): ([0-9]+) hops \(([^)]*)\), set up in ([0-9]+) ms'
[[ $OUT =~ $re ]] || die "circuit build --to ALIAS: unexpected output '$OUT'"
ACIRC=${BASH_REMATCH[1]} ato=${BASH_REMATCH[2]} asetup=${BASH_REMATCH[5]}
apath=${BASH_REMATCH[4]}
[[ $ato == "$AADDR/128" ]] || die "the alias circuit goes to $ato, not $AADDR/128"
RP=$(hosts_of "${apath##*,}")
[[ $RP == r* ]] || die "the rendezvous host $RP is no relay"
para "Circuit $ACIRC: a -> $(path_names "$apath"), set up in $asetup ms;" \
	"$RP is the rendezvous relay.  c was told to meet there:"
grep -E "alias svc: introduced, meeting at" "$TB/c.log" | tail -1 | sed 's/^/   c: /' ||
	die "c's daemon did not log the introduction"
rp_rx0=$(n "$RP" cat /sys/class/net/maq0/statistics/rx_packets)
echo
on a ping -6 -c 5 -i 0.2 -W 5 "$AADDR" || die "ping to the alias address failed"
echo
n c iperf3 -s -1 -D -B "$AADDR" --logfile "$TB/iperf-c.log" ||
	die "iperf3 server on c did not start"
printf '[c] $ %s\n' "iperf3 -s -1 -D -B $AADDR"
nap 0.5
printf '[a] $ %s\n' "iperf3 -6 -c $AADDR -t 3"
out=$(n a timeout 30 iperf3 -6 -c "$AADDR" -t 3 --connect-timeout 5000) ||
	die "iperf3 to the alias failed: $out"
echo "$out"
ambit=$(echo "$out" | awk '$NF == "receiver" {print $(NF - 2), $(NF - 1)}')
[[ -n $ambit ]] || die "iperf3 to the alias: no receiver line"

echo
para "What the rendezvous relay $RP holds, from its own kernel and daemon:"
on "$RP" maquis circuit list
mapfile -t joins < <(nd "$RP" maquis --json circuit list | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c.get("join"):
        print(c["id"], c["join"])')
((${#joins[@]} == 2)) || die "$RP: ${#joins[@]} joined circuits, want 2: ${joins[*]}"
read -r j1 j2 <<<"${joins[0]}"
echo
on_tty "$RP" "maquis circuit show $j1"
echo
on_sh "$RP" "grep -E 'rendezvous( point|: circuits)' $TB/$RP.log"
grep -qE "rendezvous: circuits ($j1 and $j2|$j2 and $j1) joined" "$TB/$RP.log" ||
	die "$RP's daemon did not log joining $j1 and $j2"
declare -A rp_prev=()
nrp=0
rp_seen=()
while IFS=$'\t' read -r cid _ prev next; do
	for x in "$prev" "$next"; do
		[[ $x == "${tb_ip[a]}:"* || $x == "${tb_ip[c]}:"* ]] || continue
		[[ $cid == "$j1" || $cid == "$j2" ]] &&
			die "$RP's joined circuit $cid has $x (an end) as a neighbour"
		rp_seen+=("circuit $cid, $([[ $x == "$prev" ]] && echo prev || echo next) $(who "$x") ($x)")
	done
	rp_prev[$cid]=$(who "$prev")
	nrp=$((nrp + 1))
done < <(circuits_of "$RP")
# what RP routes into maq0, against every address a and c have there
rp_routes=$(ip -n "tb-$RP" -6 route show dev maq0 | cut -d' ' -f1)
ends=$(for h in a c; do ip -n "tb-$h" addr show dev maq0; done |
	awk '$1 ~ /^inet/ {sub(/\/.*/, "", $2); print $2}')
[[ -n $ends ]] || die "no address on a's and c's maq0"
for x in $rp_routes; do
	grep -qxF "$x" <<<"$ends" && die "$RP routes $x, an address of a or c"
done
[[ $(ip -n "tb-$RP" route show) != *172.31.* ]] ||
	die "$RP has a route to an inner address of a, b or c"
echo
on_sh "$RP" "ip route show; ip -6 route show"
rp_rx1=$(n "$RP" cat /sys/class/net/maq0/statistics/rx_packets)
((rp_rx1 == rp_rx0)) || die "$RP's maq0 received $((rp_rx1 - rp_rx0)) packets"
echo
if ((${#rp_seen[@]} == 0)); then
	seen="Neither a (${tb_ip[a]}) nor c (${tb_ip[c]}) is a neighbour on any of its $nrp circuits"
else
	seen="Neither a (${tb_ip[a]}) nor c (${tb_ip[c]}) is a neighbour on these two"
fi
para "$RP joined circuits $j1 (from ${rp_prev[$j1]}) and $j2 (from" \
	"${rp_prev[$j2]}): each carries on the other's cells.  $seen" \
	"(names mapped by this script).  Its maq0 routes only the" \
	"throwaway addresses the two circuits claimed ($(wc -w <<<"$rp_routes")," \
	"random): none of them the alias or any address of a or c (checked" \
	"against \`ip addr\` on both), and its maq0 received $((rp_rx1 - rp_rx0))" \
	"packets during the ping and iperf3: the traffic went through $RP, not to" \
	"it.  The end-to-end layer between a and c is sealed under a key $RP" \
	"never had."
if ((${#rp_seen[@]})); then
	echo
	para "NOTE: $RP is also the first hop of another circuit of an end's own" \
		"(${rp_seen[*]}): as any first hop, it sees that end's address" \
		"there.  Nothing in its state ties that circuit to the meeting," \
		"only timing could: the alias service does not keep the rendezvous" \
		"off the ends' other circuits in this build (tests/kmod/mesh.d/alias.sh" \
		"requires it: 'the RP and intro relays see neither a nor c')."
fi

# --- 8. a relay dies under traffic ---------------------------------------

# a's circuit to b now: step 3's, or what a's liveness replaced it with
# (a false alarm under TCG's load can do that before the relay dies)
HC=$CIRCUIT
earlier=()
for ((i = 0; i < 20; i++)); do
	x=$(grep -E "circuit $HC: .* silent; replaced by [0-9]+ " "$TB/a.log" | tail -1) || true
	[[ -n $x ]] || break
	earlier+=("$x")
	HC=$(sed -n 's/.* silent; replaced by \([0-9]*\) in .*/\1/p' <<<"$x")
done
hpath=$(nd a maquis circuit show "$HC" | awk -F'\t' '$3 == "maquisd.path" {print $4}')
IFS=, read -ra hids <<<"$hpath"
mapfile -t HP < <(hosts_of "${hids[@]}")
[[ ${#HP[@]} == 4 && ${HP[3]} == b ]] || die "a's circuit $HC to b goes ${HP[*]}"
hstr="a -> $(path_names "$hpath")"
victim=${HP[1]}
say "8. $victim, the middle relay of circuit $HC, disappears under traffic"
if ((${#earlier[@]})); then
	para "a's liveness already replaced circuit $CIRCUIT earlier in this run;" \
		"its log:"
	printf '   %s\n' "${earlier[@]}"
fi
para "Circuit $HC ($hstr) carries a's traffic to b.  a's daemon checks it" \
	"end to end with keepalives shaped like data cells; relays drop a hop" \
	"whose upstream went silent.  Ping every 50 ms, then delete $victim's" \
	"network namespace, its daemon and its kernel state with it, as if the" \
	"host were unplugged:"
# the circuit's hops on the hosts that stay, by their neighbours (the
# youngest, should two circuits share both)
declare -A old_id=()
for k in 0 2 3; do
	h=${HP[$k]}
	prev=a
	((k)) && prev=${HP[$((k - 1))]}
	nxt=-
	((k < 3)) && nxt=${tb_ip[${HP[$((k + 1))]}]}:7720
	old_id[$h]=$(nd "$h" maquis circuit list | awk -F'\t' -v p="${tb_ip[$prev]}:7720" \
		-v n="$nxt" '$4 == p && $5 == n {print $6, $2}' | sort -n | head -1 | cut -d' ' -f2)
	[[ -n ${old_id[$h]} ]] || die "$h holds no hop of circuit $HC"
done
printf '[a] $ %s &\n' "ping -D -i 0.05 -W 1 -w 60 ${tb_inner[b]} > ping.log"
# not through n(): a function in the background is a subshell, whose pid
# is not ping's; ip netns exec execs ping in place
ip netns exec tb-a ping -D -i 0.05 -W 1 -w 60 "${tb_inner[b]}" >"$TB/heal-ping" 2>&1 &
hping=$!
wait_log 20 "$TB/heal-ping" "bytes from" || die "no ping reply over circuit $HC"
nap 2
before=$(grep -c "bytes from" "$TB/heal-ping")
printf '[vm] $ %s\n' "ip netns pids tb-$victim | xargs kill -9; ip netns del tb-$victim"
alog0=$(wc -l <"$TB/a.log")
tail -n +$((alog0 + 1)) -F "$TB/a.log" >"$TB/a.tail" 2>/dev/null &
atail=$!
# no "Killed" notice of its job: it is never waited for
disown "$(tb_pid "$victim")"
tb_del "$victim"
repl_re="circuit $HC: (.*) silent; replaced by ([0-9]+) in ([0-9]+) ms \(([0-9]+) ms after"
wait_log 60 "$TB/a.tail" "$repl_re" ||
	die "a did not replace circuit $HC within 60 s of $victim's end"
rx=$(grep -c "bytes from" "$TB/heal-ping")
for ((i = 0; i < 120; i++)); do
	(($(grep -c "bytes from" "$TB/heal-ping") > rx + 20)) && break
	nap 0.25
done
(($(grep -c "bytes from" "$TB/heal-ping") > rx + 20)) ||
	die "ping does not flow again: $(tail -3 "$TB/heal-ping")"
kill -INT "$hping"
wait "$hping" || true
kill "$atail"
wait "$atail" 2>/dev/null || true
[[ $(grep -E "$repl_re" "$TB/a.tail" | tail -1) =~ $repl_re ]]
silent=${BASH_REMATCH[1]} NEW=${BASH_REMATCH[2]}
repl_ms=${BASH_REMATCH[3]} since_ms=${BASH_REMATCH[4]}
[[ $silent == "hop 2 (${hids[1]})" ]] || die "a found $silent silent, not hop 2 ($victim)"
read -r gap g0 g1 < <(ping_gap "$TB/heal-ping")
echo
printf '[a] its maquisd'"'"'s log from the delete on (circuits %s, %s; trust):\n' \
	"$HC" "$ACIRC"
grep -E "circuit ($HC|$ACIRC): |relay [0-9a-f]+ avoided" "$TB/a.tail" | sed 's/^/   /'
echo
printf '[a] ping.log, around the longest gap:\n'
grep -F -B1 "[$g1]" "$TB/heal-ping" | sed 's/^/   /'
sed -n '/statistics/,$p' "$TB/heal-ping"
echo
on_tty a "maquis circuit show $NEW"
re='to [^ ]+ over [0-9]+ hops: ([0-9a-f,]+)'
[[ $OUT =~ $re ]] || die "circuit show $NEW: no path"
npath=${BASH_REMATCH[1]}
new_str="a -> $(path_names "$npath")"
[[ $new_str != *"$victim"* ]] || die "the new circuit $NEW goes through $victim"
para "$before replies before the delete; replies stopped, and came back" \
	"$(secs "$gap") s later (the longest gap in ping's own timestamps:" \
	"$g0 -> $g1).  a's daemon: $silent silent, circuit $NEW built in" \
	"$repl_ms ms, $since_ms ms after the old circuit's last answer.  The new" \
	"path avoids $victim: $new_str."

echo
para "The old circuit's hops on live hosts go too: a tore down the hop" \
	"before $victim (${HP[0]}); the hops behind it (${HP[2]}, b) saw no cell" \
	"from upstream for their hop-idle time and removed themselves, each on" \
	"its own:"
now
tg0=$NOW
for ((i = 0; i < 180; i++)); do
	line=
	for h in "${HP[0]}" "${HP[2]}" b; do
		held=$(circuits_of "$h" | cut -f1)
		grep -qx "${old_id[$h]}" <<<"$held" && line+=" $h"
	done
	[[ -z $line ]] && break
	nap 0.25
done
now
[[ -z $line ]] || die "the old circuit's hops still on:$line after 45 s"
h=${HP[0]}
grep -h "circuit ${old_id[$h]} destroyed by its origin" "$TB/$h.log" | sed "s/^/   $h: /" ||
	die "$h's daemon did not log the destroy"
for h in "${HP[2]}" b; do
	grep -h "circuit ${old_id[$h]}: upstream silent" "$TB/$h.log" | sed "s/^/   $h: /" ||
		die "$h's daemon did not report its silent upstream"
done
para "(all gone $(secs $((NOW - tg0))) s after the ping ended)"
echo
on_sh a "maquis stats --daemon | grep -E '^(live|trust)\\.'"
st=$(ask a stats --daemon)
false_alarms=$(awk -F'\t' '$1 == "live.probes.all-answered" {print $2}' <<<"$st")
((false_alarms == 0)) ||
	para "$false_alarms of a's probes in this run found every hop alive:" \
		"keepalive answers that came late under TCG's load, not lost."
echo
on_tty a "maquis relays"

# --- 9. teardown, stop ---------------------------------------------------

say "9. a destroys its circuits; then every daemon stops"
mapfile -t mine < <(nd a maquis circuit list | awk -F'\t' '$3 == "origin" {print $2}')
((${#mine[@]})) || die "a holds no circuit of its own"
for cid in "${mine[@]}"; do
	on a maquis circuit destroy "$cid"
done
now
td0=$NOW
for ((i = 0; i < 60; i++)); do
	[[ -z $(circuits_of a)$(circuits_of b) ]] && break
	nap 0.25
done
now
[[ -z $(circuits_of a) ]] || die "a still holds circuits 15 s after destroying them"
[[ -z $(circuits_of b) ]] || die "b still holds circuit $(circuits_of b | cut -f1) 15 s after a destroyed its"
para "Neither a nor b holds a circuit any more ($(secs $((NOW - td0))) s after" \
	"the destroy).  c still holds $(circuits_of c | grep -c .) circuits of its" \
	"own: the service stays published until c stops."
echo
alive=()
line=
for h in "${TB_HOSTS[@]}"; do
	[[ -s $TB/$h.pid ]] || continue
	alive+=("$h")
	line+=" $(tb_pid "$h")"
done
printf '[vm] $ kill -TERM%s    (the maquisd of %s)\n' "$line" "${alive[*]}"
now
ts0=$NOW
for h in "${alive[@]}"; do
	kill -TERM "$(tb_pid "$h")"
done
for h in "${alive[@]}"; do
	p=$(tb_pid "$h")
	for ((i = 0; i < 50; i++)); do
		kill -0 "$p" 2>/dev/null || break
		nap 0.2
	done
	kill -0 "$p" 2>/dev/null && die "maquisd on $h still runs 10 s after SIGTERM"
	rc=0
	wait "$p" || rc=$?
	((rc == 0)) || die "maquisd on $h exited with status $rc"
	: >"$TB/$h.pid"
	[[ ! -e $TB/$h.sock ]] || die "maquisd on $h left its socket"
	grep -q "stopping" "$TB/$h.log" || die "maquisd on $h did not log its stop"
done
now
errors=$(grep -H -E '(^|: )error:' "$TB"/*.log || true)
[[ -z $errors ]] || die "errors in the daemons' logs: $errors"
para "All ${#alive[@]} daemons exited with status 0 within $(secs $((NOW - ts0))) s," \
	"control sockets removed, no error in any log."

slowest=0
for h in "${TB_HOSTS[@]}"; do
	((conv[$h] > slowest)) && slowest=${conv[$h]}
done
say "Summary (measured in this run, under QEMU TCG: slow, not a benchmark)"
note "gossip:   every daemon knew all 12 descriptors within $(secs "$slowest") s" \
	"circuit:  $path_str, set up in $setup_ms ms" \
	"traffic:  ping rtt avg ${rtt:-?} ms, iperf3 $mbit through maq0" \
	"keys:     epoch $e0 -> $e1 at a in $rot_s s of ping, $loss% lost, no cell refused" \
	"tamper:   the altered cell dropped by $second (drop-bad-tag $bad0 -> $bad1)" \
	"alias:    a -> $(path_names "$apath") joined to c's circuit at $RP, iperf3 $ambit;" \
	"          $RP's neighbours on them: relays only" \
	"heal:     $victim deleted: ping gap $(secs "$gap") s, replaced by a in $repl_ms ms;" \
	"          new path $new_str" \
	"teardown: a's circuits gone, ${#alive[@]} daemons stopped cleanly"
echo
echo "maquis demo: done"
