#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The XDP relay next to somebody else's XDP program, through libxdp's
# dispatcher: xdp-filter (xdp-tools, a libxdp user) holds xa first, with
# port 9999 denied; `maquis xdp attach` must join its dispatcher in its
# mode, both programs must run on every frame (xdp-filter drops 9999, the
# relay counts the maquis port's datagrams and what xdp-filter passed on),
# a program after the relay must get what the relay passes on (XDP_PASS in
# its chain_call_actions), a second attach must replace the relay inside
# the dispatcher, show and
# xdp show must name the dispatcher, and `maquis xdp detach` must take only
# the relay out, xdp-filter still filtering.  Prints KTAP.
#
# Kernels since 6.13 (and 6.12.y) let a program that moves the packet's
# head or tail, as the relay does, replace only a function that may do so
# too; libxdp's dispatchers declare that only since mid-2025, not Debian
# 12's 1.3.1.  With such a dispatcher the attach must fail, saying why,
# and leave xdp-filter as it was; the rest runs with libxdp_dispatcher.bpf.o
# (LIBXDP_OBJECT_PATH), a dispatcher that declares it.
#
#   ns A (mqlx<pid>-a)                     ns B (mqlx<pid>-b)
#   xa 10.79.0.1/24  <----- veth ----->    xb 10.79.0.2/24
#
# The CLI and xdp-filter run in A through nsenter --net, keeping
# /sys/fs/bpf (libxdp pins its dispatcher there); the relay's pins go under
# /sys/fs/bpf/maq-libxdp-<pid>.  With maquis.ko loaded (in the VM:
# tests/vm/run.sh --insmod kmod/maquis.ko -- tests/bpf/libxdp.sh) the kfunc
# variant joins the dispatcher too.
#
# Skips (exit 4) without root, BTF, bpffs, xdp-tools or python3, when the
# CLI was built without libxdp's headers (libxdp-dev), and when the kernel
# refuses libxdp's dispatcher (it then falls back to a plain attach: a
# kernel or a security policy that refuses freplace programs).
set -u

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
top=$(cd "$here/../.." && pwd)
cli=$top/daemon/maquis
A=mqlx$$-a
B=mqlx$$-b
ROOT=/sys/fs/bpf/maq-libxdp-$$
NOSOCK=/nonexistent/maquisd.sock
DENY=9999
OPEN=9998
tmp=
filter_port=

# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"

# m ARGS: the CLI in namespace A, our pin root, no daemon.
m() {
	nsenter --net="/run/netns/$A" "$cli" --pin-root "$ROOT" \
		--socket "$NOSOCK" "$@"
}

# xf ARGS: xdp-filter in namespace A.
xf() { nsenter --net="/run/netns/$A" xdp-filter "$@"; }

cleanup() {
	set +e
	[[ -n $filter_port ]] && xdp-filter port -r "$DENY" >/dev/null 2>&1
	xf unload xa >/dev/null 2>&1
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	[[ -d $ROOT ]] && rm -rf "$ROOT"
	[[ -n $tmp ]] && rm -rf "$tmp"
}

# The program the kernel has on xa: "NAME ID MODE", or nothing.
kprog() {
	ip -j -n "$A" link show dev xa | python3 -c 'import json, sys
x = json.load(sys.stdin)[0].get("xdp")
if x:
	print(x["prog"]["name"], x["prog"]["id"],
	      {1: "native", 2: "generic"}.get(x["mode"], x["mode"]))'
}

# Names of the programs in xa's dispatcher, sorted, one line.
components() {
	nsenter --net="/run/netns/$A" xdp-loader status xa |
		awk '$1 == "=>" {print $3}' | sort | tr '\n' ' '
}

# json FILE PYTHON-EXPR: whether EXPR holds of FILE's JSON as j; the file
# goes to the log when not.
json() {
	python3 -c 'import json, sys
sys.exit(not eval("(" + sys.argv[2] + ")",
		 {"j": json.load(open(sys.argv[1]))}))' "$1" "$2" ||
		{ log "$(cat "$1")"; false; }
}

# counter NAME: the relay's counter on xa.
counter() {
	m --json stats | python3 -c 'import json, sys
print(json.load(sys.stdin)["xdp"]["xa"][sys.argv[1]])' "$1"
}

# traffic: from B, 5 datagrams to each of $OPEN and $DENY on A and 5
# non-cells to the maquis port; prints "OPEN DENY", how many A's sockets
# received on the first two.
traffic() {
	ip netns exec "$A" python3 -c 'import socket, select, sys, time
s = []
for p in sys.argv[1:]:
	x = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	x.bind(("10.79.0.1", int(p)))
	s.append(x)
n = [0, 0]
print("ready", flush=True)
# until all 5 to the open port are in (the slow VM: up to 20 s), and a
# last second for any to the denied one, sent after each of them
end = time.time() + 20
while time.time() < end:
	r, _, _ = select.select(s, [], [], 0.2)
	for x in r:
		x.recv(2048)
		n[s.index(x)] += 1
	if n[0] >= 5:
		end = min(end, time.time() + 1)
print(n[0], n[1], flush=True)' "$OPEN" "$DENY" >"$tmp/recv" &
	local rpid=$!

	wait_for 5 grep -q ready "$tmp/recv"
	ip netns exec "$B" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5):
	for p in sys.argv[1:]:
		s.sendto(b"x" * 64, ("10.79.0.1", int(p)))' "$OPEN" "$DENY" 7720
	wait "$rpid"
	tail -1 "$tmp/recv"
}

t_topology() {
	ip netns add "$A"
	ip netns add "$B"
	ip -n "$A" link add xa type veth peer name xb netns "$B"
	ip -n "$A" addr add 10.79.0.1/24 dev xa
	ip -n "$B" addr add 10.79.0.2/24 dev xb
	ip -n "$A" link set xa up
	ip -n "$B" link set xb up
	ip -n "$A" link set lo up
	# B reaches A without ARP: t_after drops every frame after the relay
	ip -n "$B" neigh replace 10.79.0.1 dev xb nud permanent lladdr \
		"$(ip -n "$A" -j link show dev xa | python3 -c 'import json, sys
print(json.load(sys.stdin)[0]["address"])')"
}

# With the system's libxdp dispatcher: joined, or refused and said why.
t_system() {
	local out rc=0

	xf load -m skb xa
	[[ $(kprog) == xdp_dispatcher\ * ]]
	out=$(m xdp attach xa "${PURE[@]}" 2>&1) || rc=$?
	log "$(grep -v '^libbpf:' <<<"$out")"
	if ((rc == 0)); then
		log "this libxdp's dispatcher takes the relay"
		[[ $(components) == "maq_relay xdpfilt_alw_all " ]]
		m xdp detach xa >/dev/null
	else
		[[ $rc -eq 1 && $out == *"its slots do not say they may change packet data"* ]]
		[[ ! -e $ROOT ]]
	fi
	[[ $(components) == "xdpfilt_alw_all " ]]
	xf unload xa
	[[ -z $(kprog) ]]
}

t_filter() {
	local got

	[[ $(traffic) == "5 5" ]]
	xf load -m skb xa
	read -r -a got <<<"$(kprog)"
	log "xa: ${got[*]}: $(components)"
	[[ ${got[0]} == xdp_dispatcher && ${got[2]} == generic ]]
	xdp-filter port "$DENY"
	filter_port=1
	[[ $(traffic) == "5 0" ]]
}

t_join_mode() {
	local err rc=0

	err=$(m xdp attach xa "${PURE[@]}" --mode native 2>&1 >/dev/null) ||
		rc=$?
	log "$err"
	[[ $rc -eq 1 && $err == *"libxdp dispatcher "*" runs in generic mode"* ]]
	[[ $(components) == "xdpfilt_alw_all " && ! -e $ROOT/xa ]]
}

RELAY=
t_join() {
	local out disp

	out=$(m --json xdp attach xa "${PURE[@]}")
	log "$out"
	echo "$out" > "$tmp/a.json"
	read -r -a disp <<<"$(kprog)"
	[[ ${disp[0]} == xdp_dispatcher ]]
	json "$tmp/a.json" 'j["state"] == "attached" and j["variant"] == "pure"
		and j["mode"] == "generic" and j["other_prog_id"] is None
		and j["dispatcher_id"] == '"${disp[1]}"' and j["shared_with"] == 1'
	[[ $(components) == "maq_relay xdpfilt_alw_all " ]]
	RELAY=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["prog_id"])' "$tmp/a.json")
	echo "$RELAY" > "$tmp/relay"
	[[ -e $ROOT/xa/maq_stats ]]
}

t_both_run() {
	local pass

	pass=$(counter pass)
	# xdp-filter still drops 9999; the relay drops the 5 non-cells to its
	# port as malformed, and sees the 5 to $OPEN xdp-filter passed on
	[[ $(traffic) == "5 0" ]]
	[[ $(counter malformed) == 5 ]]
	(($(counter pass) >= pass + 5))
	ip netns exec "$B" ping -c 2 -W 2 -i 0.3 10.79.0.1 >/dev/null
}

# A program after the relay (priority 60, the relay's is libxdp's default
# 50): xdp-filter's deny-all object, loaded alone so its maps are empty,
# drops every frame.  What the relay passes on must reach it; what the
# relay drops itself (the non-cells to its port) must still be counted.
# xdp-loader embeds Debian's dispatcher, which cannot take the relay back
# when it rebuilds: it loads and unloads its program without the relay in.
t_after() {
	local mal id

	m xdp detach xa >/dev/null
	nsenter --net="/run/netns/$A" xdp-loader load -m skb -P 60 xa \
		"$XDPOBJ/xdpfilt_dny_all.o"
	m xdp attach xa "${PURE[@]}" >/dev/null
	[[ $(components) == "maq_relay xdpfilt_alw_all xdpfilt_dny_all " ]]
	mal=$(counter malformed)
	[[ $(traffic) == "0 0" ]]
	(($(counter malformed) == mal + 5))
	m xdp detach xa >/dev/null
	id=$(nsenter --net="/run/netns/$A" xdp-loader status xa |
		awk '$1 == "=>" && $3 == "xdpfilt_dny_all" {print $4}')
	nsenter --net="/run/netns/$A" xdp-loader unload xa -i "$id"
	m xdp attach xa "${PURE[@]}" | cut -f5 > "$tmp/relay"
	[[ $(components) == "maq_relay xdpfilt_alw_all " ]]
	[[ $(traffic) == "5 0" ]]
}

t_replace() {
	local out new t mal

	mal=$(counter malformed)
	out=$(m xdp attach xa "${PURE[@]}")
	log "$out"
	new=$(cut -f5 <<<"$out")
	[[ $(cut -f1-4 <<<"$out") == $'xa\tattached\tpure\tgeneric' ]]
	[[ $new != "$RELAY" ]]
	[[ $(components) == "maq_relay xdpfilt_alw_all " ]]
	nsenter --net="/run/netns/$A" xdp-loader status xa | grep -q " $new "
	# the counters are pinned: the new program counts on
	[[ $(counter malformed) == "$mal" ]]
	t=$(traffic)
	log "after the replacement: $t received on $OPEN, $DENY; $(counter malformed) malformed; $(components)"
	[[ $t == "5 0" ]]
	(($(counter malformed) == mal + 5))
	RELAY=$new
	echo "$RELAY" > "$tmp/relay"
}

t_show() {
	local disp

	read -r -a disp <<<"$(kprog)"
	m --json show > "$tmp/s.json" 2>/dev/null
	json "$tmp/s.json" '[(x["interface"], x["mode"], x["prog_id"],
			      x["dispatcher_id"]) for x in j["xdp"]] ==
		[("xa", "generic", '"$RELAY"', '"${disp[1]}"')]'
	m show 2>/dev/null | grep -q $'^xdp\txa\tattached\tpure\tgeneric\t'"$RELAY"$'\t'
	script -qec "nsenter --net=/run/netns/$A $cli --pin-root $ROOT --socket $NOSOCK xdp show xa" \
		/dev/null > "$tmp/table"
	grep -q "in libxdp dispatcher ${disp[1]}, with 1 other" "$tmp/table"
}

t_detach() {
	local out left disp

	out=$(m xdp detach xa)
	[[ $out == $'xa\t'"$RELAY"$'\t1' ]]
	[[ $(components) == "xdpfilt_alw_all " ]]
	[[ ! -e $ROOT ]]
	[[ $(m xdp show xa) == $'xa\tnot-attached\t-\t-\t0\t-\t0\t'* ]]
	# xdp-filter alone still filters
	[[ $(traffic) == "5 0" ]]
	left=$(kprog)
	[[ $left == xdp_dispatcher\ * ]]
	# nothing of ours left: the dispatcher is somebody else's
	out=$(m xdp detach xa 2>&1) && return 1
	read -r -a disp <<<"$left"
	[[ $out == *"XDP program ${disp[1]} is not maquis's: left alone"* ]]
	[[ $(kprog) == "$left" ]]
}

# With maquis.ko: the kfunc variant in the dispatcher, for a maquis device.
t_kfunc() {
	local out

	[[ -d /sys/module/maquis ]] || { log "maquis.ko not loaded"; exit 4; }
	ip -n "$A" link add maqx type maquis
	ip -n "$A" link set maqx up
	out=$(m xdp attach xa --variant kfunc --maq-dev maqx)
	log "$out"
	[[ $out == $'xa\tattached\tkfunc\tgeneric\t'*$'\tmaqx\t1\t0' ]]
	[[ $(components) == "maq_relay_kfunc xdpfilt_alw_all " ]]
	[[ $(traffic) == "5 0" ]]
	m xdp detach xa >/dev/null
	[[ $(components) == "xdpfilt_alw_all " && ! -e $ROOT ]]
}

# --- main -------------------------------------------------------------------

[[ $(id -u) == 0 ]] || skip_all "needs root"
[[ -r /sys/kernel/btf/vmlinux ]] || skip_all "kernel has no BTF"
[[ -d /sys/module/veth ]] || modprobe -q veth 2>/dev/null || true
for tool in ip nsenter python3 script xdp-filter xdp-loader; do
	command -v "$tool" >/dev/null || skip_all "no $tool (xdp-tools)"
done
[[ -x $cli ]] || { echo "Bail out! $cli not built (make userspace)"; exit 1; }
[[ -f $here/libxdp_dispatcher.bpf.o ]] ||
	{ echo "Bail out! no $here/libxdp_dispatcher.bpf.o (make -C tests/bpf)"; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null ||
	skip_all "no bpffs at /sys/fs/bpf"
XDPOBJ=$(dirname "$(ls /usr/lib/*/bpf/xdp-dispatcher.o /usr/lib/bpf/xdp-dispatcher.o 2>/dev/null | head -1)")
[[ -f $XDPOBJ/xdp-dispatcher.o ]] || skip_all "no xdp-dispatcher.o (libxdp1)"
PURE=()
[[ -d /sys/module/maquis ]] && PURE=(--variant pure)
tmp=$(mktemp -d /tmp/maq-libxdp.XXXXXX)
trap cleanup EXIT

# Whether this host can run the test at all, before the plan: libxdp in the
# CLI, and a dispatcher the kernel accepts.
(set -e; t_topology) || { echo "Bail out! no topology"; exit 1; }
xf load -m skb xa >/dev/null 2>&1
probe=$(kprog)
xf unload xa >/dev/null 2>&1
case $probe in
xdp_dispatcher\ *) ;;
"") skip_all "xdp-filter could not load on a veth" ;;
*) skip_all "libxdp's dispatcher refused by this kernel (xdp-filter fell back to a plain attach; xdp-loader load -v says why)" ;;
esac
ip -n "$A" link set xa xdpgeneric obj "$top/bpf/xdp_fwd.bpf.o" sec xdp 2>/dev/null ||
	skip_all "no $top/bpf/xdp_fwd.bpf.o (make bpf)"
err=$(m xdp attach xa "${PURE[@]}" 2>&1 >/dev/null)
ip -n "$A" link set xa xdpgeneric off
[[ $err == *"without libxdp"* ]] &&
	skip_all "maquis built without libxdp (libxdp-dev), or libxdp.so.1 missing"

ktap_print_header
NTESTS=10
ktap_set_plan $NTESTS
run "the system's libxdp dispatcher: the relay joins, or is refused and says why" \
	t_system
# from here on, for xdp-filter and maquis alike
# (xdp-filter looks for its own objects there too)
mkdir "$tmp/lx"
for o in "$XDPOBJ"/*.o; do
	ln -s "$o" "$tmp/lx/"
done
ln -sf "$here/libxdp_dispatcher.bpf.o" "$tmp/lx/xdp-dispatcher.o"
export LIBXDP_OBJECT_PATH=$tmp/lx
if ! run "xdp-filter in libxdp's dispatcher on xa, port $DENY denied" t_filter; then
	for ((i = 2; i < NTESTS; i++)); do ktap_test_fail "no xdp-filter"; done
	ktap_finished
fi
run "attach in the other mode than the dispatcher's: refused, said" t_join_mode
if run "attach joins the dispatcher: relay and xdp-filter, same mode" t_join; then
	RELAY=$(cat "$tmp/relay")
	run "both run: xdp-filter drops $DENY, the relay counts what it passed on" \
		t_both_run
	run "a program after the relay sees what it passes on (XDP_PASS chains)" \
		t_after
	RELAY=$(cat "$tmp/relay")
	run "attach again: the relay replaced inside the dispatcher" t_replace
	RELAY=$(cat "$tmp/relay")
	run "show, xdp show: mode, program and dispatcher" t_show
	run "xdp detach: the relay out, xdp-filter still filtering" t_detach
else
	for ((i = 0; i < 5; i++)); do ktap_test_fail "join failed"; done
fi
run "kfunc variant joins the dispatcher too" t_kfunc
ktap_finished
