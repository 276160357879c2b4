# SPDX-License-Identifier: GPL-2.0
#
# mesh.sh part "rate" (issue "No centre to capture", participation on local
# terms): r9 gives at most 1 Mbit/s (relay-rate = 1Mbit, relay-burst = 20k
# in its maquisd.conf), and the datapath holds it.
#
#   show     r9's device reports the rate and burst it was configured
#            with; a sees r9 advertise 125 kB/s in its descriptor;
#            `maquis set` changes either at run time
#   udp      c -> a through r9 alone (circuit build --hops 1 --via r9),
#            iperf3 UDP offered at 5 Mbit/s: what a receives stays under
#            the limit (x 1.15, plus the burst spread over the run), and r9
#            counts rate drops
#   tcp      the same path, iperf3 TCP: under the limit too
#   xdp      the same through r9 with the kfunc XDP relay attached to its
#            eth0 (`maquis xdp attach`, generic: see daemon_xdp.sh): the
#            cells cross XDP, which charges the device's bucket, and the
#            limit holds there too (the program's rate counter moves)
#   free     c -> a through r8 alone (no limit), the same UDP offer: above
#            that bound, so the bound would catch a relay that ignored it
#   client   a relay turned client refuses a CREATE as a middle hop (r7
#            restarted with role = client; a still has its relay
#            descriptor), and is a relay again afterwards
#   port     a relay restarted on another port (listen = ...:7731) binds
#            that port and no other, announces it, and relays there; then
#            back on 7720 (tb_id and the later parts find relays by it)
#
# Throughputs are printed; none is a goal, only the limit must hold.
#
# The origin is c with keepalive = 0: end-to-end keepalives cross r9 like
# data (they must look like it), so on a saturated r9 most are dropped and
# liveness would replace the circuit mid-measurement, rightly, with one
# around r9.  Without keepalives an idle circuit's hops go after hop-idle,
# so each measurement builds its own circuit and destroys it.
#
# shellcheck shell=bash disable=SC2154

RATE_BPS=125000		# bytes/s, relay-rate = 1Mbit
RATE_BURST=20000	# bytes
RATE_SECS=6		# iperf3 -t
RATE_PORT=5301
RATE_BPFFS=$TB/rate-bpf	# bpffs for r9's XDP pins: ip netns exec hides /sys

mesh_conf r9 "relay-rate = 1Mbit"
mesh_conf r9 "relay-burst = 20k"
mesh_conf c "keepalive = 0"

# The highest receive rate, bits/s, that still holds the limit.
rate_bound() {
	echo $(((RATE_BPS * 8 * 115 / 100) + RATE_BURST * 8 / RATE_SECS))
}

# rate_build FROM RELAY TO: a circuit through RELAY alone; prints its id
rate_build() {
	local out id

	out=$(mq "$1" circuit build --hops 1 --via "$(tb_id "$2")" --to "${tb_inner[$3]}") ||
		{ log "build via $2: $out" >&2; return 1; }
	id=$(cut -f1 <<<"$out")
	[[ $id =~ ^[0-9]+$ ]] || { log "build via $2: $out" >&2; return 1; }
	echo "$id"
}

# rate_drop FROM ID: destroy a circuit rate_build made, if it is still
# there (its hops go by themselves after hop-idle without traffic: c sends
# no keepalives)
rate_drop() {
	mq "$1" circuit destroy "$2" >/dev/null 2>&1 || true
}

# rate_stat HOST NAME: HOST's maq0 counter NAME
rate_stat() {
	mq "$1" stats maq0 | awk -F'\t' -v k="$2" '$2 == k {print $3}'
}

# rate_iperf ARGS...: iperf3 from c to a's inner address for RATE_SECS;
# prints what a received, bits/s
rate_iperf() {
	local try out bps spid

	for ((try = 0; try < 2; try++)); do
		n a timeout 60 iperf3 -s -1 -B "${tb_inner[a]}" -p $RATE_PORT \
			>/dev/null 2>&1 &
		spid=$!
		wait_for 20 bash -c "ip netns exec tb-a ss -Hltn | grep -q ':$RATE_PORT '" || true
		out=$(n c timeout 60 iperf3 -c "${tb_inner[a]}" -p $RATE_PORT \
			-t $RATE_SECS --connect-timeout 5000 -J "$@" 2>&1) || out=
		wait "$spid" 2>/dev/null || true
		bps=$(python3 -c 'import json,sys
print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' \
			<<<"$out" 2>/dev/null) && { echo "$bps"; return 0; }
		kill "$spid" 2>/dev/null || true
		log "iperf3 $* attempt $try failed: $(tail -c 300 <<<"$out" | tr '\n' ' ')" >&2
	done
	return 1
}

t_rate_show() {
	local line bw

	line=$(mq r9 show maq0 | awk -F'\t' '$1 == "maq0"')
	log "r9: $line"
	[[ $(cut -f6 <<<"$line") == "$RATE_BPS" ]]
	[[ $(cut -f7 <<<"$line") == "$RATE_BURST" ]]
	bw=$(mq a relays | awk -F'\t' -v e="${tb_ip[r9]}:7720" '$3 == e {print $6}')
	log "r9 advertises $bw kB/s"
	[[ $bw == $((RATE_BPS / 1000)) ]]
	# at run time: maquis set, one part at a time, and back
	mq r9 set maq0 relay-rate 2Mbit
	line=$(mq r9 show maq0 | awk -F'\t' '$1 == "maq0"')
	[[ $(cut -f6,7 <<<"$line") == "250000	$RATE_BURST" ]]
	if mq r9 set maq0 relay-burst 1000 2>/dev/null; then return 1; fi
	# r9's daemon announces what the module now enforces
	rate_seen 250 || return 1
	mq r9 set relay-rate "$RATE_BPS" relay-burst "$RATE_BURST"
	line=$(mq r9 show maq0 | awk -F'\t' '$1 == "maq0"')
	[[ $(cut -f6,7 <<<"$line") == "$RATE_BPS	$RATE_BURST" ]]
	rate_seen $((RATE_BPS / 1000))
}

# rate_seen KBPS: a sees r9 announce KBPS kB/s within 60 s (5 s and gossip)
rate_seen() {
	SECONDS=0
	wait_for 60 bash -c "[[ \$(ip netns exec tb-a '$maquis' --socket '$TB/a.sock' relays | awk -F'\t' '\$3 == \"${tb_ip[r9]}:7720\" {print \$6}') == $1 ]]" ||
		{ log "a still sees r9 at $(mq a relays | awk -F'\t' -v e="${tb_ip[r9]}:7720" '$3 == e {print $6}') kB/s, not $1"; return 1; }
	log "a sees r9 announce $1 kB/s $SECONDS s after the set"
}

t_rate_udp() {
	local id bps d0 d1 cdrops

	id=$(rate_build c r9 a)
	d0=$(rate_stat r9 drop-rate)
	bps=$(rate_iperf -u -b 5M -l 1200)
	d1=$(rate_stat r9 drop-rate)
	log "through r9: UDP offered 5 Mbit/s, received $bps bit/s; limit $((RATE_BPS * 8)) bit/s, bound $(rate_bound); r9 rate drops $d0 -> $d1"
	# the circuit's own counters on r9 carry the drops too
	cdrops=$(mq r9 circuit list maq0 | awk -F'\t' '$3 == "relay"' | cut -f2 |
		while read -r cid; do mq r9 circuit show "$cid" maq0; done |
		awk -F'\t' '$3 == "drop-rate" {s += $4} END {print s + 0}')
	rate_drop c "$id"
	((bps > 0))
	((bps <= $(rate_bound)))
	((d1 > d0))
	((cdrops > 0 && cdrops <= d1 - d0))
}

t_rate_tcp() {
	local id bps d0 d1

	id=$(rate_build c r9 a)
	d0=$(rate_stat r9 drop-rate)
	bps=$(rate_iperf)
	d1=$(rate_stat r9 drop-rate)
	rate_drop c "$id"
	log "through r9: TCP received $bps bit/s; limit $((RATE_BPS * 8)) bit/s, bound $(rate_bound); r9 rate drops $d0 -> $d1"
	((bps > 0))
	((bps <= $(rate_bound)))
}

# the CLI in r9's network namespace, keeping our mounts (bpffs)
rate_xcli() {
	nsenter --net=/run/netns/tb-r9 "$maquis" --pin-root "$RATE_BPFFS" "$@"
}

# rate_xstat NAME: the counter NAME of r9's XDP program
rate_xstat() {
	rate_xcli stats 2>/dev/null | awk -F'\t' -v k="$1" '$1 == "xdp" && $3 == k {print $4}'
}

rate_xdp_off() {
	rate_xcli xdp detach eth0 >/dev/null 2>&1
	umount -l "$RATE_BPFFS" 2>/dev/null
}

t_rate_xdp() {
	local id bps d0 d1 x0 x1 c0 c1

	mkdir -p "$RATE_BPFFS"
	mount -t bpf bpf "$RATE_BPFFS"
	trap rate_xdp_off EXIT
	rate_xcli xdp attach eth0 --variant kfunc --mode generic >/dev/null
	id=$(rate_build c r9 a)
	d0=$(rate_stat r9 drop-rate)
	x0=$(rate_xstat rate)
	c0=$(rate_xstat cells-in)
	bps=$(rate_iperf -u -b 5M -l 1200)
	d1=$(rate_stat r9 drop-rate)
	x1=$(rate_xstat rate)
	c1=$(rate_xstat cells-in)
	rate_drop c "$id"
	log "through r9 by XDP (kfunc): UDP offered 5 Mbit/s, received $bps bit/s; bound $(rate_bound); XDP cells-in $c0 -> $c1, XDP rate drops $x0 -> $x1, device rate drops $d0 -> $d1"
	((bps > 0))
	((bps <= $(rate_bound)))
	# relayed by XDP, and dropped there for the rate
	((c1 - c0 > 500))
	((x1 > x0))
	((d1 - d0 >= x1 - x0))
}

t_rate_free() {
	local id bps d0 d1

	id=$(rate_build c r8 a)
	d0=$(rate_stat r9 drop-rate)
	bps=$(rate_iperf -u -b 5M -l 1200)
	d1=$(rate_stat r9 drop-rate)
	log "through r8 (no limit): UDP offered 5 Mbit/s, received $bps bit/s; bound for r9 $(rate_bound); r8 rate drops $(rate_stat r8 drop-rate)"
	rate_drop c "$id"
	((d1 == d0))
	((bps > $(rate_bound)))
}

# rate_role HOST ROLE: restart HOST's daemon with that role
rate_role() {
	tb_kill "$1"
	sed -i "s/^role = .*/role = $2/" "$TB/$1.conf"
	tb_start "$1"
}

t_rate_client() {
	local out rc=0 id refused served

	id=$(tb_id r7)
	[[ -n $id ]]
	rate_role r7 client
	out=$(mq a circuit build --hops 1 --via "$id" --to "${tb_inner[c]}" 2>&1) || rc=$?
	refused=$(mq r7 stats --daemon | awk -F'\t' '$1 == "setup.create.no-capacity" {print $2}')
	served=$(mq r7 circuit list maq0 | awk -F'\t' '$3 == "relay"' | wc -l)
	log "via r7 as a client: exit $rc: $out; r7 refused $refused CREATE(s) for no capacity, serves $served relay hop(s)"
	rate_role r7 relay
	((rc != 0))
	((refused >= 1))
	((served == 0))
	# a relay again: the same build goes through
	id=$(rate_build a r7 c)
	rate_drop a "$id"
}

# rate_port HOST PORT: restart HOST listening on PORT; wait until every
# endpoint knows (they are the origins of the later parts' circuits)
rate_port() {
	local e

	tb_kill "$1"
	sed -i "s/^listen = .*/listen = ${tb_ip[$1]}:$2/" "$TB/$1.conf"
	tb_start "$1"
	for e in "${TB_ENDPOINTS[@]}"; do
		wait_for 90 bash -c "ip netns exec tb-$e '$maquis' --socket '$TB/$e.sock' relays 2>/dev/null | cut -f3 | grep -qx '${tb_ip[$1]}:$2'" ||
			{ log "$e does not see $1 at :$2" >&2; return 1; }
	done
}

t_rate_port() {
	local id cid socks cells

	id=$(tb_id r6)
	[[ -n $id ]]
	SECONDS=0
	rate_port r6 7731
	log "a, b and c see r6 at ${tb_ip[r6]}:7731 after $SECONDS s"
	[[ $(mq r6 show maq0 | awk -F'\t' '$1 == "maq0" {print $2}') == 7731 ]]
	socks=$(n r6 ss -Hlun | awk '{print $4}' | sort | tr '\n' ' ')
	log "r6 UDP sockets: $socks"
	grep -q ':7731 ' <<<"$socks"
	if grep -q ':7720 ' <<<"$socks"; then return 1; fi
	# a circuit a -> r6 -> c, and traffic through it
	cid=$(mq a circuit build --hops 1 --via "$id" --to "${tb_inner[c]}" | cut -f1)
	[[ $cid =~ ^[0-9]+$ ]]
	n a ping -c 3 -W 2 -i 0.3 "${tb_inner[c]}" >/dev/null
	cells=$(mq r6 circuit list maq0 | awk -F'\t' '$3 == "relay"' | cut -f2 |
		while read -r c; do mq r6 circuit show "$c" maq0; done |
		awk -F'\t' '$3 == "cells-in" {s += $4} END {print s + 0}')
	log "r6 relayed $cells cells on :7731"
	((cells >= 6))
	rate_drop a "$cid"
	SECONDS=0
	rate_port r6 7720
	log "and back at :7720 after $SECONDS s"
}

mesh_test "rate: r9 reports and advertises its configured limit, and what maquis set changes" t_rate_show
mesh_test "rate: iperf3 UDP through r9 stays under 1 Mbit/s, r9 counts rate drops" t_rate_udp
mesh_test "rate: iperf3 TCP through r9 stays under 1 Mbit/s" t_rate_tcp
mesh_test "rate: with the XDP relay attached to r9 the limit holds there too" t_rate_xdp
mesh_test "rate: the same offer through an unlimited relay exceeds that bound" t_rate_free
mesh_test "rate: a relay turned client refuses a CREATE as a middle hop" t_rate_client
mesh_test "rate: a relay configured on another port listens, announces and relays there" t_rate_port
