# SPDX-License-Identifier: GPL-2.0
#
# mesh.sh part "alias" (PROTOCOL 9): c makes an alias and publishes it
# through introduction relays; a reaches it with `circuit build --to ALIAS`
# through a rendezvous relay (RP) of its choosing, then ping and iperf3 go
# to the alias address through maq0.  Then:
#
#   - from the ends' own state, the meeting's circuits (those ending at the
#     RP or an intro relay) pass through no intro relay, nor through the RP
#     but for c's intro circuits, built before a chose it (PROTOCOL 9.4);
#   - the RP and the intro relays hold neither a's nor c's underlay address
#     in any circuit (prev/next), and a capture of every circuit cell on the
#     RP and on the intro relays shows neither (gossip, cid 0 type 3, is
#     left out: endpoints gossip with relays whatever they do), save for an
#     end whose first hop that relay is on some circuit (logged: a first hop
#     knows its origin, PROTOCOL 9.6);
#   - the RP's two joined circuits have no end as a neighbour;
#   - no relay holds a circuit that touches both a and c;
#   - the RP joined two circuits and its maq0 delivered nothing, nor did any
#     other relay's;
#   - every relay's store holds the record, and no record holds the alias
#     key, the alias address or c's addresses in clear.
#
# shellcheck shell=bash

mesh_test "alias: refused for a malformed alias and one with no record" t_alias_errors
mesh_test "alias: c's alias published, its record in every relay's store" t_alias_publish
mesh_test "alias: a reaches c's alias through a rendezvous: ping and iperf3" t_alias_reach
mesh_test "alias: the RP and intro relays see neither a nor c (state, captures); stores blind" t_alias_blind
mesh_test "alias: c's intro circuits outlive the relays' hop-idle" t_alias_hold
mesh_test "alias: a hangs up, c stops serving: no relay keeps a hop of the meeting" t_alias_end

al_state=${TB:-/tmp}/alias

# Hex bytes " xx xx ..." of stdin, one line, for byte-aligned searching.
al_hex() { od -An -v -tx1 | tr -d '\n' | tr -s ' '; }

# An IPv4 address as " xx xx xx xx".
al_hex4() {
	local IFS=. b out=""

	for b in $1; do out+=$(printf ' %02x' "$b"); done
	echo "$out"
}

# An IPv6 address as " xx xx ..." (16 bytes).
al_hex6() {
	local a=$1 head tail g out="" i n
	local -a h=() t=()

	head=${a%%::*}
	tail=
	[[ $a == *::* ]] && tail=${a##*::}
	IFS=: read -r -a h <<<"$head"
	[[ -n $tail ]] && IFS=: read -r -a t <<<"$tail"
	n=0
	[[ $a == *::* ]] && n=$((8 - ${#h[@]} - ${#t[@]}))
	for g in "${h[@]}"; do out+=$(printf ' %02x %02x' $((16#$g >> 8)) $((16#$g & 255))); done
	for ((i = 0; i < n; i++)); do out+=' 00 00'; done
	for g in "${t[@]}"; do out+=$(printf ' %02x %02x' $((16#$g >> 8)) $((16#$g & 255))); done
	echo "$out"
}

# What HOST's daemon said about aliases and circuits, on a failure.
al_diag() {
	grep -E "alias|intro|rendezvous|circuit|CREATE" "$TB/$1.log" | tail -"${2:-25}" | sed "s/^/# $1: /"
}

# The relay host whose identity (id16, as `maquis relays` prints) is $1.
al_host() {
	local h

	for h in "${TB_RELAYS[@]}"; do
		[[ $(tb_id "$h") == "$1" ]] && { echo "$h"; return 0; }
	done
	return 1
}

t_alias_errors() {
	local out

	if out=$(mq a circuit build --to bbbb 2>&1); then
		log "a non-alias was taken: $out"; return 1
	fi
	log "bbbb: $out"
	grep -q "relay\|address" <<<"$out"
	# 52 'a' is the zero key: not an alias, which the CLI says itself
	out=$(mq a circuit build --to "$(printf 'a%.0s' {1..52})" 2>&1) && return 1
	log "52 a: $out"
	grep -q "not a valid alias: not an Ed25519 public key" <<<"$out"
	# and so does the daemon, asked directly on its socket
	out=$(n a python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"build\nto=" + b"a" * 52 + b"\n\n")
r = b""
while not r.endswith(b"\n\n"):
    b = s.recv(4096)
    if not b:
        break
    r += b
print(r.decode().strip().replace("\n", " "))' "$TB/a.sock")
	log "maquisd: $out"
	grep -q "errno=22 message='a\{52\}' is not a valid alias: not an Ed25519 public key" <<<"$out"
}

t_alias_publish() {
	local line alias addr h n out

	mkdir -p "$al_state"
	line=$(mq c alias new svc)
	read -r alias _ addr <<<"$line"
	[[ ${#alias} == 52 && $addr == fd* ]] || { log "alias new said: $line"; return 1; }
	# the key is in key-dir, private, and nowhere in what was printed
	[[ $(stat -c %a "$TB/c/keys/alias-svc.key") == 600 ]]
	! grep -qF "$(cat "$TB/c/keys/alias-svc.key")" <<<"$line" || return 1
	echo "$alias" >"$al_state/alias"
	echo "$addr" >"$al_state/addr"
	# not published yet: the record is what is missing
	out=$(mq a circuit build --to "$alias" 2>&1) && return 1
	log "before publish: $out"
	grep -q "no record" <<<"$out"
	mq c alias publish svc
	# every intro point up, and in the record published last
	wait_for 60 bash -c "[[ \$(ip netns exec tb-c '$maquis' --socket '$TB/c.sock' alias list | cut -f6,8) == 3$'\t'3 ]]" ||
		{ mq c alias list; al_diag c 40; return 1; }
	mq c alias list | cut -f7 | tr , '\n' | cut -d: -f1 >"$al_state/intros"
	# c builds nothing else before a meets it: these are the intro circuits
	mq c circuit list | awk -F'\t' '$3 == "origin" {print $2}' | sort >"$al_state/c.intro-circuits"
	date +%s >"$al_state/c.intro-since"
	log "alias $alias at $addr, intro points $(tr '\n' ' ' <"$al_state/intros")"
	for h in "${TB_RELAYS[@]}" a; do
		wait_for 40 bash -c "[[ \$(ip netns exec tb-$h '$maquis' --socket '$TB/$h.sock' alias list --records | wc -l) -ge 1 ]]" ||
			{ log "$h holds no record"; return 1; }
	done
	# a holds c's last record (its intro points are what a leaves out)
	mq c alias list --records | cut -f1 >"$al_state/c.records"
	wait_for 40 bash -c "ip netns exec tb-a '$maquis' --socket '$TB/a.sock' alias list --records | cut -f1 | grep -qxFf '$al_state/c.records'" ||
		{ log "a lacks c's last record"; return 1; }
	n=$(mq r5 alias list --records | wc -l)
	log "every relay holds the record ($n on r5: today's, and tomorrow's late in the day)"
}

t_alias_reach() {
	local alias addr out circ path rp h pids=() before after

	alias=$(cat "$al_state/alias")
	addr=$(cat "$al_state/addr")
	for h in "${TB_RELAYS[@]}"; do
		n "$h" cat /sys/class/net/maq0/statistics/rx_packets >"$al_state/$h.rx0"
		# every cell but gossip (cid 0, type 3)
		n "$h" tcpdump -nn -i eth0 -s 64 -U -w "$al_state/$h.pcap" \
			'udp port 7720 and not (udp[8:4] = 0 and udp[12] = 3)' \
			>/dev/null 2>&1 &
		pids+=($!)
	done
	echo "${pids[*]}" >"$al_state/tcpdump.pids"
	sleep 2
	SECONDS=0
	out=$(mq a circuit build --to "$alias") || { al_diag a; al_diag c; return 1; }
	log "a: $out (${SECONDS} s)"
	read -r circ to _ path _ <<<"$out"
	[[ $to == "$addr/128" ]]
	echo "$circ" >"$al_state/circuit"
	rp=$(al_host "${path##*,}")
	echo "$rp" >"$al_state/rp"
	log "rendezvous relay $rp (path $path)"
	n a ping -6 -c 3 -W 5 "$addr" | sed 's/^/# /'
	n c iperf3 -s -1 -B "$addr" >/dev/null 2>&1 &
	sleep 1
	n a timeout 30 iperf3 -6 -c "$addr" -t 3 -f m | grep -E 'sender|receiver' | sed 's/^/# /'
	# the RP joined the two circuits, the service side counted it
	mq "$rp" alias list | grep -q . || true
	# the RP's joined pair, as it holds it now (t_alias_blind reads it)
	out=$(mq "$rp" --json circuit list)
	grep -o '"prev":"[^"]*","next":"[^"]*","age":[0-9]*,"lifetime":[0-9]*,"phase":[0-9]*,"routes":\[[^]]*\],"join":[1-9][0-9]*' <<<"$out" |
		grep -o '"prev":"[^"]*"' >"$al_state/rp.joined" || true
	[[ $(wc -l <"$al_state/rp.joined") -ge 2 ]] ||
		{ log "RP $rp: no joined pair: $out"; return 1; }
	# nothing came out of any relay's maq0
	for h in "${TB_RELAYS[@]}"; do
		before=$(cat "$al_state/$h.rx0")
		after=$(n "$h" cat /sys/class/net/maq0/statistics/rx_packets)
		[[ $before == "$after" ]] || { log "$h maq0 delivered $((after - before))"; return 1; }
	done
	sleep 1
	kill "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
}

# The origin circuits of end $1, one line each: id, then the path (hex16
# identities, comma-separated), from that end's own daemon.
al_paths() {
	local e=$1 id

	for id in $(mq "$e" circuit list | awk -F'\t' '$3 == "origin" {print $2}'); do
		printf '%s\t%s\n' "$id" "$(mq "$e" circuit show "$id" |
			awk -F'\t' '$3 == "maquisd.path" {print $4}')"
	done
}

t_alias_blind() {
	local alias addr rp rpid h id e ip path hop last pk hx ahex chex cin cells
	local -a hops
	local -A meet entry

	alias=$(cat "$al_state/alias")
	addr=$(cat "$al_state/addr")
	rp=$(cat "$al_state/rp")
	rpid=$(tb_id "$rp")
	meet[$rpid]=$rp
	while read -r id; do meet[$id]=$(al_host "$id"); done <"$al_state/intros"
	# From the ends' own state: the meeting's circuits (those ending at
	# the RP or an intro relay) pass through no intro relay, and the RP
	# only when c built them to its intro relays before a chose the RP.
	# A meeting relay that is an end's first hop on any circuit knows that
	# end as every first hop does (PROTOCOL 9.6): it is not searched for
	# that end below.
	for e in a c; do
		while IFS=$'\t' read -r id path; do
			IFS=, read -r -a hops <<<"$path"
			last=${hops[-1]}
			for hop in "${hops[@]:0:${#hops[@]}-1}"; do
				[[ -n ${meet[$hop]:-} && -n ${meet[$last]:-} ]] || continue
				[[ $e == c && $hop == "$rpid" && $last != "$rpid" ]] && continue
				log "$e's circuit $id ($path) passes through ${meet[$hop]}"
				return 1
			done
			if [[ -n ${meet[${hops[0]}]:-} && ${#hops[@]} -gt 1 ]]; then
				entry[${meet[${hops[0]}]}:$e]=$id
				log "${meet[${hops[0]}]} is $e's first hop on circuit $id ($path)"
			fi
		done < <(al_paths "$e")
	done
	# the joined pair at the RP (as t_alias_reach saw it): neither
	# circuit next to an end
	if grep -qE "\"(${tb_ip[a]//./\\.}|${tb_ip[c]//./\\.}):" "$al_state/rp.joined"; then
		log "a joined circuit at $rp is next to an end:"; cat "$al_state/rp.joined"; return 1
	fi
	# the RP and the intro relays: neither end in their circuits nor
	# captures, but for an end they are first hop of (above)
	for h in "${meet[@]}"; do
		mq "$h" circuit list | cut -f4,5 >"$al_state/$h.peers"
		cells=$(tcpdump -nn -r "$al_state/$h.pcap" 2>/dev/null | wc -l)
		[[ $cells -gt 0 ]] || { log "$h: empty capture"; return 1; }
		for e in a c; do
			[[ -z ${entry[$h:$e]:-} ]] || continue
			ip=${tb_ip[$e]//./\\.}
			if grep -qE "(^|[^0-9])$ip:" "$al_state/$h.peers"; then
				log "$h sees $e:"; cat "$al_state/$h.peers"; return 1
			fi
			if tcpdump -nn -r "$al_state/$h.pcap" 2>/dev/null |
			   grep -qE "(^|[^0-9])$ip\.7720"; then
				log "$h's capture shows $e"; return 1
			fi
		done
		log "$h: $(wc -l <"$al_state/$h.peers") circuits, $cells cells captured, no end of the meeting"
	done
	# no relay holds a circuit with a at one side and c at the other
	for h in "${TB_RELAYS[@]}"; do
		if mq "$h" circuit list | cut -f4,5 |
		   grep -E "${tb_ip[a]//./\\.}:" | grep -qE "${tb_ip[c]//./\\.}:"; then
			log "$h links a and c"; return 1
		fi
	done
	# the stores: no alias key, alias address or c's address in clear
	pk=$(printf '%s====' "${alias^^}" | base32 -d 2>/dev/null | al_hex)
	[[ $(wc -w <<<"$pk") == 32 ]]
	ahex=$(al_hex6 "$addr")
	[[ $(wc -w <<<"$ahex") == 16 ]]
	chex=$(al_hex4 "${tb_ip[c]}")
	cin=$(al_hex4 "${tb_inner[c]}")
	for h in "${TB_RELAYS[@]}"; do
		hx=$(mq "$h" alias list --records | cut -f1 | while read -r r; do
			base64 -d <<<"$r" | al_hex; echo; done)
		[[ -n $hx ]]
		for k in "${pk:0:24}" "$ahex" "$chex" "$cin"; do
			if grep -qF -- "$k" <<<"$hx"; then
				log "$h's store shows '$k'"; return 1
			fi
		done
	done
}

# Intro circuits wait idle for INTRODUCEs: they must outlive the relays'
# hop-idle (10 s), even when c runs with keepalive = 0 (the rate part asks
# for it), or the alias goes dark until they are rebuilt.
t_alias_hold() {
	local since left ka id missing=0

	since=$(cat "$al_state/c.intro-since")
	left=$((since + 15 - $(date +%s)))
	((left <= 0)) || sleep "$left"
	ka=$(awk -F' = ' '$1 == "keepalive" {print $2}' "$TB/c.conf")
	[[ -s $al_state/c.intro-circuits ]]
	while read -r id; do
		mq c circuit list | awk -F'\t' '$3 == "origin" {print $2}' | grep -qx "$id" ||
			{ log "intro circuit $id is gone"; missing=$((missing + 1)); }
	done <"$al_state/c.intro-circuits"
	log "c (keepalive ${ka:-default}): $(wc -l <"$al_state/c.intro-circuits") intro circuits, $missing gone after $(($(date +%s) - since)) s"
	((missing == 0)) || { al_diag c 30; return 1; }
	mq c alias list | cut -f6 | grep -qx 3
}

# The parts after this one find the relays as they were: a destroys its
# rendezvous circuit, c restarts (SIGTERM tears its circuits down, and an
# alias is served only once `alias publish` is asked again).
t_alias_end() {
	local circ h

	circ=$(cat "$al_state/circuit")
	mq a circuit destroy "$circ" >/dev/null 2>&1 || log "a's circuit $circ was gone already"
	tb_kill c TERM
	tb_start c
	if mq c alias list | cut -f4 | grep -qx 1; then
		log "c publishes after a restart:"; mq c alias list; return 1
	fi
	SECONDS=0
	for h in "${TB_RELAYS[@]}"; do
		wait_for 40 bash -c "[[ -z \$(ip netns exec tb-$h '$maquis' --socket '$TB/$h.sock' circuit list | awk -F'\t' '\$3 == \"relay\" || \$3 == \"terminus\"') ]]" ||
			{ log "$h still holds:"; mq "$h" circuit list | sed 's/^/# /'; return 1; }
	done
	log "no relay holds a hop $SECONDS s after; c back with its alias unpublished"
	tb_converge 60
}
