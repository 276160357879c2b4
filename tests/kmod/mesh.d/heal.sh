# SPDX-License-Identifier: GPL-2.0
#
# mesh.sh part "heal" (issue "No centre to capture", self-healing; issue
# "Robustness", a relay's namespace deleted mid-transfer): runs last, as
# it deletes a relay and turns another into a tamperer.
#
#   kill     a 3-relay circuit a -> b carries `ping -i 0.1` and an
#            iperf3 TCP stream at 200 kbit/s; its middle relay's namespace
#            is deleted.  The origin notices (keepalive, probes), replaces
#            the circuit around the dead relay and tears down the hop
#            before it (which logs the DESTROY and counts it); the hops
#            behind it, on live hosts, notice their upstream went silent,
#            remove themselves, log it and count it.  Prints the ping gap
#            and iperf3's stall (the recovery an application sees), the
#            daemon's own figures and when each neighbour let go; the goal
#            is 2 s, asserted only loosely (TCG).  iperf3 must complete,
#            with data received after the stall.  The relays of the new
#            circuit are credited in a's trust table.
#   tamper   a relay of the live circuit gets tests/kmod/tamper.bpf.o on
#            its eth0 egress (flips a bit in every data cell it sends):
#            the next hop sees cells fail authentication and blames it, a
#            detects it, replaces the circuit, avoids the relay in
#            `maquis relays`, and new circuits leave it out.
#
# The traffic stays well under r9's 1 Mbit/s (part "rate"), which counts
# cells both ways: the circuit may cross r9, and a relay that drops
# keepalives is rightly routed around, which is not what is measured here.
#
# shellcheck shell=bash disable=SC2154

HEAL_BOUND=20		# s: a generous bound on each recovery figure (TCG)
HEAL_GONE=45		# s: for the old circuit's hops (2 x hop-idle + slack)
HEAL_IPERF_SECS=20	# iperf3 -t: across the deletion and the switch
HEAL_IPERF_PORT=5302

# heal_path CIRCUIT: a's path of it, hex ids, one a line
heal_path() {
	mq a circuit show "$1" | awk -F'\t' '$3 == "maquisd.path" {print $4}' |
		tr ',' '\n'
}

# heal_host HEXID: the testbed host with that identity
heal_host() {
	local h

	for h in "${TB_HOSTS[@]}"; do
		[[ -s $TB/$h.pid || $h == a ]] || continue
		[[ $(cat "$TB/id.$h" 2>/dev/null) == "$1" ]] && { echo "$h"; return 0; }
	done
	return 1
}

# heal_ids: remember every host's identity as a sees it (by address
# alone: part "rate" moves a relay to another port)
heal_ids() {
	local h

	for h in "${TB_HOSTS[@]}"; do
		[[ -s $TB/id.$h ]] ||
			mq a relays | awk -F'\t' -v ip="${tb_ip[$h]}:" \
				'index($3, ip) == 1 {print $1}' >"$TB/id.$h"
	done
}

# heal_served HOST [PREV [NEXT]]: ids of the relay and terminus hops HOST
# serves (whose previous and next hop are the hosts PREV and NEXT)
heal_served() {
	mq "$1" circuit list |
		awk -F'\t' -v p="${2:+${tb_ip[${2:-}]}:}" -v n="${3:+${tb_ip[${3:-}]}:}" \
			'($3 == "relay" || $3 == "terminus") &&
			 (p == "" || index($4, p) == 1) &&
			 (n == "" || index($5, n) == 1) {print $2}' | sort
}

# heal_replaced OLD: the circuit a replaced OLD with, from a's log
heal_replaced() {
	sed -n "s/.*circuit $1: .* silent; replaced by \([0-9]*\) in .*/\1/p" "$TB/a.log" | tail -1
}

# heal_gap FILE: the longest time between two replies in `ping -D` output, ms
heal_gap() {
	awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (p && t - p > g) g = t - p; p = t }
		END { printf "%d\n", g }' "$1"
}

heal_gone() {
	local h=$1 id

	shift
	for id; do
		heal_served "$h" | grep -qx "$id" && return 1
	done
	return 0
}

# heal_stat HOST NAME: the counter NAME of HOST's daemon
heal_stat() {
	mq "$1" stats --daemon | awk -F'\t' -v k="$2" '$1 == k {print $2}'
}

# heal_stall FILE: from iperf3 server output (-i 0.5), the longest run of
# intervals that received nothing, in ms, and the bytes received after it
heal_stall() {
	awk '/sender|receiver/ { next }
		/^\[ *[0-9]+\] +[0-9.]+-[0-9.]+ +sec +[0-9.]+ [KMG]?Bytes/ {
			split($3, t, "-")
			b = $5 * ($6 ~ /^K/ ? 1024 : $6 ~ /^M/ ? 1048576 : 1)
			if (b == 0) { run += t[2] - t[1]; if (run > g) { g = run; after = 0 } }
			else { run = 0; after += b }
		}
		END { printf "%d %d\n", g * 1000, after }' "$1"
}

# heal_rx FILE: intervals of iperf3 server output that received data
heal_rx() {
	grep -v -E 'sender|receiver' "$1" | grep -c -E 'sec +[0-9.]*[1-9][0-9.]* [KMG]?Bytes'
}

# heal_ms REGEX: the number captured by REGEX's group in a's last line
# about it
heal_ms() {
	sed -n "s/$1/\\1/p" "$TB/a.log" | tail -1
}

# heal_watch T0 HOST ID...: once HOST serves none of the hops ID (within
# HEAL_GONE s), "HOST SECONDS" since T0 ($EPOCHREALTIME); else "HOST never"
heal_watch() {
	local t0=$1 h=$2

	shift 2
	wait_for "$HEAL_GONE" heal_gone "$h" "$@" || { echo "$h never"; return 0; }
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v h="$h" \
		'BEGIN { printf "%s %.1f\n", h, b - a }'
}

heal_listening() {
	ip netns exec "tb-$1" ss -Hltn "sport = :$2" | grep -q .
}

t_heal_kill() {
	local out id path victim h k new gap before rx ping srv iperf t0
	local stall after detect switch total retr setup watch=() line hosts

	heal_ids
	declare -A was destroy0 silent0
	for h in "${TB_RELAYS[@]}" b; do
		was[$h]=$(heal_served "$h" | tr '\n' ' ')
		destroy0[$h]=$(heal_stat "$h" teardown.destroy.received)
		silent0[$h]=$(heal_stat "$h" live.hops.upstream-silent)
	done
	out=$(mq a circuit build --hops 3 --to "${tb_inner[b]}")
	log "built: $out"
	id=$(echo "$out" | cut -f1)
	[[ $id =~ ^[0-9]+$ ]]
	mapfile -t path < <(heal_path "$id")
	((${#path[@]} == 4))
	victim=$(heal_host "${path[1]}")
	[[ $victim == r* ]]
	# the circuit's hops on the other hosts: new since the build, between
	# the hosts of its path (other parts' circuits come and go meanwhile)
	declare -A mine
	hosts=(a)
	for k in 0 1 2 3; do hosts+=("$(heal_host "${path[$k]}")"); done
	for k in 0 2 3; do
		h=${hosts[k + 1]}
		mine[$h]=$(comm -13 <(tr ' ' '\n' <<<"${was[$h]}" | grep . | sort) \
			<(heal_served "$h" "${hosts[k]}" "${hosts[k + 2]:-}") | tr '\n' ' ')
		[[ -n ${mine[$h]} ]] || { log "$h serves no new hop from ${hosts[k]}"; return 1; }
	done
	log "path: $(for k in 0 1 2 3; do printf '%s ' "$(heal_host "${path[$k]}")"; done)(victim $victim)"
	# not through n(): $! must be the program's pid (ip netns exec execs it)
	ip netns exec tb-a ping -D -i 0.1 -W 1 -w 90 "${tb_inner[b]}" >"$TB/heal-ping" 2>&1 &
	ping=$!
	# shellcheck disable=SC2064
	trap "kill $ping 2>/dev/null || true" EXIT
	ip netns exec tb-b timeout $((HEAL_IPERF_SECS + 60)) iperf3 -s -1 -B "${tb_inner[b]}" \
		-p $HEAL_IPERF_PORT -i 0.5 --forceflush >"$TB/heal-iperf-s" 2>&1 &
	srv=$!
	# shellcheck disable=SC2064
	trap "kill $ping $srv 2>/dev/null || true" EXIT
	wait_for 10 heal_listening b $HEAL_IPERF_PORT
	ip netns exec tb-a timeout $((HEAL_IPERF_SECS + 50)) iperf3 -c "${tb_inner[b]}" \
		-p $HEAL_IPERF_PORT -t $HEAL_IPERF_SECS -b 200K -l 1000 -J \
		>"$TB/heal-iperf.json" 2>&1 &
	iperf=$!
	# shellcheck disable=SC2064
	trap "kill $ping $srv $iperf 2>/dev/null || true" EXIT
	# both flow before anything breaks
	wait_for 20 grep -q "bytes from" "$TB/heal-ping"
	wait_for 20 bash -c "(( \$(grep -c 'sec' '$TB/heal-iperf-s') >= 4 ))"
	(($(heal_rx "$TB/heal-iperf-s") >= 2)) ||
		{ sed 's/^/# iperf3: /' "$TB/heal-iperf-s"; return 1; }
	before=$(grep -c "bytes from" "$TB/heal-ping")
	log "deleting $victim's namespace after $before ping replies, iperf3 under way"
	t0=$EPOCHREALTIME
	tb_del "$victim"
	# the neighbours letting go, timed from now while the rest goes on
	: >"$TB/heal-gone"
	for k in 0 2 3; do
		h=$(heal_host "${path[$k]}")
		# shellcheck disable=SC2086
		heal_watch "$t0" "$h" ${mine[$h]} >>"$TB/heal-gone" &
		watch+=($!)
	done
	# shellcheck disable=SC2064
	trap "kill $ping $srv $iperf ${watch[*]} 2>/dev/null || true" EXIT
	wait_for 60 grep -q "circuit $id: .* silent; replaced by" "$TB/a.log" ||
		{ grep -E "circuit $id|silent|probing" "$TB/a.log" | tail -20 | sed 's/^/# a: /'; return 1; }
	new=$(heal_replaced "$id")
	grep -E "circuit $id: hop [0-9]+ \(" "$TB/a.log" | sed 's/^/# a: /'
	# the silent hop is the victim's, and the new path avoids it
	grep -q "circuit $id: hop 2 (${path[1]}) silent" "$TB/a.log"
	mapfile -t npath < <(heal_path "$new")
	log "new circuit $new: $(for k in "${npath[@]}"; do printf '%s ' "$(heal_host "$k")"; done)"
	((${#npath[@]} == 4))
	for k in "${npath[@]}"; do [[ $k != "${path[1]}" ]]; done
	# traffic flows again, then the gaps are what the applications saw
	rx=$(grep -c "bytes from" "$TB/heal-ping")
	wait_for 30 bash -c "(( \$(grep -c 'bytes from' '$TB/heal-ping') > $rx + 10 ))" ||
		{ tail -5 "$TB/heal-ping" | sed 's/^/# ping: /'; return 1; }
	kill "$ping" 2>/dev/null || true
	wait "$ping" 2>/dev/null || true
	wait "$iperf" || { tail -c 600 "$TB/heal-iperf.json" | sed 's/^/# iperf3: /'; return 1; }
	wait "$srv" || true
	gap=$(heal_gap "$TB/heal-ping")
	read -r stall after < <(heal_stall "$TB/heal-iperf-s")
	read -r rx retr < <(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["end"]
print(e["sum_received"]["bytes"], e["sum_sent"].get("retransmits", 0))' "$TB/heal-iperf.json")
	[[ $rx =~ ^[0-9]+$ && $stall =~ ^[0-9]+$ ]]
	detect=$(heal_ms ".*circuit $id: .* silent (no answer for \([0-9]*\) ms).*")
	switch=$(heal_ms ".*circuit $id: .* silent; replaced by [0-9]* in \([0-9]*\) ms.*")
	total=$(heal_ms ".*circuit $id: .* silent; replaced by .* (\([0-9]*\) ms after its last answer)")
	setup=$(heal_ms ".*circuit $new to .* up: [0-9]* hops, \([0-9]*\) ms")
	log "recovery: ping gap $gap ms; iperf3 TCP stalled $stall ms (0.5 s intervals), $rx bytes received, $((after / 1024)) KiB after the stall, $retr retransmits"
	log "recovery: a located the dead hop $detect ms after its last answer, its replacement was up $switch ms later (setup $setup ms): $total ms (goal 2000 ms, bound $((HEAL_BOUND * 1000)) ms)"
	((gap < HEAL_BOUND * 1000 && total < HEAL_BOUND * 1000))
	((stall < HEAL_BOUND * 1000 && after > 0))
	# the old circuit's hops on live hosts: gone, and each neighbour said
	# so in its log and its counters
	wait "${watch[@]}"
	for k in 0 2 3; do
		h=$(heal_host "${path[$k]}")
		line=$(grep "^$h " "$TB/heal-gone")
		[[ $line != *never ]] ||
			{ log "$h still serves ${mine[$h]}"; tail -5 "$TB/$h.log" | sed "s/^/# $h: /"; return 1; }
		log "$h (hop $((k + 1))) let go of ${mine[$h]}${line#* } s after the deletion"
	done
	h=$(heal_host "${path[0]}")
	for id in ${mine[$h]}; do
		grep "circuit $id destroyed by its origin" "$TB/$h.log" | sed "s/^/# $h: /"
		grep -q "circuit $id destroyed by its origin" "$TB/$h.log"
	done
	(($(heal_stat "$h" teardown.destroy.received) > ${destroy0[$h]}))
	for k in 2 3; do
		h=$(heal_host "${path[$k]}")
		for id in ${mine[$h]}; do
			grep "circuit $id: upstream silent" "$TB/$h.log" | sed "s/^/# $h: /"
			grep -q "circuit $id: upstream silent" "$TB/$h.log"
		done
		(($(heal_stat "$h" live.hops.upstream-silent) > ${silent0[$h]}))
	done
	# the new circuit's relays worked: a says so in its trust column
	for k in "${npath[@]:0:3}"; do
		mq a relays | awk -F'\t' -v i="$k" '$1 == i {print $10}' | grep -qx '[1-9][0-9]*'
	done
	mq a stats --daemon | grep -E '^live\.|^trust\.' | sed 's/^/# a: /'
	echo "$new" >"$TB/heal-circuit"
}

# heal_flipped HOST: the cells tamper.bpf.o flipped on HOST's eth0 so far
heal_flipped() {
	n "$1" tc -j filter show dev eth0 egress | python3 -c '
import json, subprocess, sys
def bt(*a):
	return json.loads(subprocess.check_output(["bpftool", "-j", *a]))
prog = [f["options"]["prog"]["id"] for f in json.load(sys.stdin)
	if f.get("options", {}).get("bpf_name", "").startswith("tamper")][0]
for m in bt("prog", "show", "id", str(prog))["map_ids"]:
	if bt("map", "show", "id", str(m))["name"] == "flipped":
		print(bt("map", "dump", "id", str(m))[0]["formatted"]["value"])'
}

# heal_trust HOST ID: "blamed avoided_for" of relay ID in HOST's view
heal_trust() {
	mq "$1" relays --json | python3 -c '
import json, sys
r = [x for x in json.load(sys.stdin) if x["id"] == sys.argv[1]]
print(r[0]["blamed"], r[0]["avoided_for"]) if r else print("0 0")' "$2"
}

heal_above() {
	(($(heal_stat "$1" "$2") > $3))
}

t_heal_tamper() {
	local id path x xid nxt new avoid blamed k out p tam0 tam flipped

	id=$(cat "$TB/heal-circuit")
	mapfile -t path < <(heal_path "$id")
	((${#path[@]} == 4))
	xid=${path[1]}
	x=$(heal_host "$xid")
	nxt=$(heal_host "${path[2]}")
	[[ $x == r* && $nxt == r* ]]
	tam0=$(heal_stat "$nxt" events.tamper)
	log "circuit $id: $x (hop 2) tampers from now, $nxt (hop 3) is next"
	# shellcheck disable=SC2064
	trap "n $x tc qdisc del dev eth0 clsact 2>/dev/null || true" EXIT
	n "$x" tc qdisc add dev eth0 clsact
	n "$x" tc filter add dev eth0 egress bpf da obj "$top/tests/kmod/tamper.bpf.o" sec tc
	n a ping -c 3 -i 0.2 -W 1 "${tb_inner[b]}" >/dev/null 2>&1 || true
	wait_for 60 grep -q "circuit $id: .* silent; replaced by" "$TB/a.log" ||
		{ grep -E "circuit $id|silent|probing|authentication" "$TB/a.log" | tail -20 | sed 's/^/# a: /'; return 1; }
	grep -E "circuit $id: |relay $xid avoided" "$TB/a.log" | sed 's/^/# a: /'
	new=$(heal_replaced "$id")
	log "a located the tamperer $(heal_ms ".*circuit $id: .* silent (no answer for \([0-9]*\) ms).*") ms after its last answer, replaced the circuit by $new $(heal_ms ".*circuit $id: .* silent; replaced by [0-9]* in \([0-9]*\) ms.*") ms later"
	# blamed: the tamperer answers no probe (its own answers are flipped)
	grep -q "circuit $id: hop 2 ($xid) silent" "$TB/a.log"
	read -r blamed avoid < <(heal_trust a "$xid")
	log "$x blamed $blamed times and avoided for $avoid s by a"
	((avoid > 0 && blamed >= 1))
	mq a relays | awk -F'\t' -v i="$xid" '$1 == i' | sed 's/^/# a relays: /'
	# the hook was at work, and the next hop saw its forward cells fail
	# and blamed it, on its own (nobody tells it)
	flipped=$(heal_flipped "$x")
	wait_for 10 heal_above "$nxt" events.tamper "$tam0"
	tam=$(heal_stat "$nxt" events.tamper)
	read -r blamed avoid < <(heal_trust "$nxt" "$xid")
	grep "failed authentication" "$TB/$nxt.log" | tail -3 | sed "s/^/# $nxt: /"
	log "$x flipped $flipped cells; $nxt: $((tam - tam0)) tamper events, blamed $x $blamed times, avoids it for $avoid s"
	((flipped > 0 && blamed >= 1))
	# the replacement and new circuits leave the tamperer out
	mapfile -t p < <(heal_path "$new")
	for k in "${p[@]}"; do [[ $k != "$xid" ]]; done
	for _ in 1 2 3; do
		out=$(mq a circuit build --hops 3 --to "${tb_inner[b]}")
		log "new circuit: $out"
		[[ $(echo "$out" | cut -f4) != *"$xid"* ]]
		mq a circuit destroy "$(echo "$out" | cut -f1)" >/dev/null
	done
	n a ping -c 3 -i 0.2 -W 2 "${tb_inner[b]}" >/dev/null
}

mesh_test "heal: a relay deleted mid-transfer is routed around, its neighbours drop and report the circuit" t_heal_kill
mesh_test "heal: a tampering relay is detected, routed around and avoided" t_heal_tamper
