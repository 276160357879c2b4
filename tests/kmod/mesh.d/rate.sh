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
#   tcp      the same circuit, iperf3 TCP: under the limit too
#   free     c -> a through r8 alone (no limit), the same UDP offer: above
#            that bound, so the bound would catch a relay that ignored it
#   client   a relay turned client refuses a CREATE as a middle hop (r7
#            restarted with role = client; a still has its relay
#            descriptor), and is a relay again afterwards
#
# Throughputs are printed; none is a goal, only the limit must hold.
#
# The origin is c with keepalive = 0: end-to-end keepalives cross r9 like
# data (they must look like it), so on a saturated r9 most are dropped and
# liveness would replace the circuit mid-measurement, rightly, with one
# around r9.
#
# shellcheck shell=bash disable=SC2154

RATE_BPS=125000		# bytes/s, relay-rate = 1Mbit
RATE_BURST=20000	# bytes
RATE_SECS=6		# iperf3 -t
RATE_PORT=5301

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
		{ log "build via $1: $out"; return 1; }
	id=$(cut -f1 <<<"$out")
	[[ $id =~ ^[0-9]+$ ]] || { log "build via $1: $out"; return 1; }
	echo "$id"
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
		sleep 1
		out=$(n c timeout 60 iperf3 -c "${tb_inner[a]}" -p $RATE_PORT \
			-t $RATE_SECS --connect-timeout 5000 -J "$@" 2>&1) || out=
		wait "$spid" 2>/dev/null
		bps=$(python3 -c 'import json,sys
print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' \
			<<<"$out" 2>/dev/null) && { echo "$bps"; return 0; }
		kill "$spid" 2>/dev/null
		log "iperf3 $* attempt $try failed: $(tail -c 300 <<<"$out" | tr '\n' ' ')"
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
	! mq r9 set maq0 relay-burst 1000 2>/dev/null
	mq r9 set relay-rate "$RATE_BPS" relay-burst "$RATE_BURST"
	line=$(mq r9 show maq0 | awk -F'\t' '$1 == "maq0"')
	[[ $(cut -f6,7 <<<"$line") == "$RATE_BPS	$RATE_BURST" ]]
}

t_rate_udp() {
	local id bps d0 d1

	id=$(rate_build c r9 a)
	echo "$id" >"$TB/rate.r9"
	d0=$(rate_stat r9 drop-rate)
	bps=$(rate_iperf -u -b 5M -l 1200)
	d1=$(rate_stat r9 drop-rate)
	log "through r9: UDP offered 5 Mbit/s, received $bps bit/s; limit $((RATE_BPS * 8)) bit/s, bound $(rate_bound); r9 rate drops $d0 -> $d1"
	((bps > 0))
	((bps <= $(rate_bound)))
	((d1 > d0))
	# the circuit's own counters on r9 carry the drops too
	mq r9 circuit list maq0 | awk -F'\t' '$3 == "relay"' | cut -f2 |
		while read -r cid; do mq r9 circuit show "$cid" maq0; done |
		awk -F'\t' '$3 == "drop-rate" && $4 > 0 {f = 1} END {exit !f}'
}

t_rate_tcp() {
	local bps d0 d1

	[[ -s $TB/rate.r9 ]]
	d0=$(rate_stat r9 drop-rate)
	bps=$(rate_iperf)
	d1=$(rate_stat r9 drop-rate)
	log "through r9: TCP received $bps bit/s; limit $((RATE_BPS * 8)) bit/s, bound $(rate_bound); r9 rate drops $d0 -> $d1"
	((bps > 0))
	((bps <= $(rate_bound)))
}

t_rate_free() {
	local id bps d0 d1

	id=$(rate_build c r8 a)
	d0=$(rate_stat r9 drop-rate)
	bps=$(rate_iperf -u -b 5M -l 1200)
	d1=$(rate_stat r9 drop-rate)
	log "through r8 (no limit): UDP offered 5 Mbit/s, received $bps bit/s; bound for r9 $(rate_bound); r8 rate drops $(rate_stat r8 drop-rate)"
	mq c circuit destroy "$id" >/dev/null
	mq c circuit destroy "$(cat "$TB/rate.r9")" >/dev/null
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
	mq a circuit destroy "$id" >/dev/null
}

mesh_test "rate: r9 reports and advertises its configured limit" t_rate_show
mesh_test "rate: iperf3 UDP through r9 stays under 1 Mbit/s, r9 counts rate drops" t_rate_udp
mesh_test "rate: iperf3 TCP through r9 stays under 1 Mbit/s" t_rate_tcp
mesh_test "rate: the same offer through an unlimited relay exceeds that bound" t_rate_free
mesh_test "rate: a relay turned client refuses a CREATE as a middle hop" t_rate_client
