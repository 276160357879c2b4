#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `maquis xdp attach|detach|show`, and the XDP parts of `maquis show` and
# `maquis stats`, on the host kernel: veths in two network namespaces of
# our own, the relay attached in generic then native mode, counters moved
# by datagrams from the peer namespace, somebody else's XDP program left
# alone, and a detach that leaves no program and no pin.  Prints KTAP.
#
#   ns A (mqcx<pid>-a)                       ns B (mqcx<pid>-b)
#   xa 10.77.0.1/24  <------ veth ------>    xb 10.77.0.2/24
#   xc.1, xd: a veth pair (a dot in a name: a colon in its pin directory)
#
# The CLI runs in A through nsenter --net, which keeps our /sys/fs/bpf
# (ip netns exec mounts a fresh /sys that hides it: tested as an error).
# Pins go under a private root, /sys/fs/bpf/maq-clixdp-<pid>.
#
# Needs root, BPF with BTF, bpffs, nsenter, python3; skips (exit 4)
# without them.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cli=$top/daemon/maquis
A=mqcx$$-a
B=mqcx$$-b
ROOT=/sys/fs/bpf/maq-clixdp-$$
NOSOCK=/nonexistent/maquisd.sock
tmp=

# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"

# m ARGS: the CLI in namespace A, our pin root, no daemon.
m() {
	nsenter --net="/run/netns/$A" "$cli" --pin-root "$ROOT" \
		--socket "$NOSOCK" "$@"
}

cleanup() {
	set +e
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	# the programs went with the veths; whatever pins a failure left
	[[ -d $ROOT ]] && rm -rf "$ROOT"
	[[ -n $tmp ]] && rm -rf "$tmp"
}

# The XDP program the kernel has on IFACE in A: "native|generic ID", or
# nothing.
kprog() {
	ip -j -n "$A" link show dev "$1" | python3 -c 'import json, sys
x = json.load(sys.stdin)[0].get("xdp")
if x:
	print({1: "native", 2: "generic"}.get(x["mode"], x["mode"]), x["prog"]["id"])'
}

# json FILE PYTHON-EXPR: assert EXPR over the parsed FILE as j.
json() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
ok = eval("(" + sys.argv[2] + ")")
if not ok:
	print("# false:", sys.argv[2]); print("#", json.dumps(j))
sys.exit(0 if ok else 1)' "$1" "$2"
}

t_topology() {
	ip netns add "$A"
	ip netns add "$B"
	ip -n "$A" link add xa type veth peer name xb netns "$B"
	ip -n "$A" link add xc.1 type veth peer name xd
	ip -n "$A" addr add 10.77.0.1/24 dev xa
	ip -n "$B" addr add 10.77.0.2/24 dev xb
	for d in xa xc.1 xd; do ip -n "$A" link set "$d" up; done
	ip -n "$B" link set xb up
}

t_attach_generic() {
	local out id

	out=$(m xdp attach xa --variant pure --mode generic)
	log "$out"
	IFS=$'\t' read -r -a f <<<"$out"
	[[ ${f[0]} == xa && ${f[1]} == attached && ${f[2]} == pure ]]
	[[ ${f[3]} == generic && ${f[5]} == - && ${f[6]} == 1 && ${f[7]} == 0 ]]
	id=${f[4]}
	[[ $(kprog xa) == "generic $id" ]]
	[[ -e $ROOT/xa/maq_stats && -e $ROOT/maq_circuits ]]
}

t_attach_native() {
	local old new

	old=$(kprog xa)
	m --json xdp attach xa --mode native "${PURE[@]}" > "$tmp/attach.json"
	json "$tmp/attach.json" 'j["interface"] == "xa" and j["mode"] == "native"
		and j["variant"] == "pure" and j["state"] == "attached"
		and j["maq_dev"] is None and j["pinned"] is True
		and j["other_prog_id"] is None'
	new=$(kprog xa)
	[[ $new == "native $(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["prog_id"])' "$tmp/attach.json")" ]]
	[[ ${new#* } != "${old#* }" ]]
	# a dotted name, auto mode (native on a veth)
	m xdp attach xc.1 "${PURE[@]}" >/dev/null
	[[ -e $ROOT/xc:1/maq_stats ]]
	[[ $(kprog xc.1) == native\ * ]]
}

t_xdp_show() {
	local line

	m --json xdp show > "$tmp/show.json"
	json "$tmp/show.json" 'sorted(x["interface"] for x in j) == ["xa", "xc.1"]
		and all(x["state"] == "attached" and x["mode"] == "native"
			and x["variant"] == "pure" and x["prog_id"] > 0 for x in j)'
	line=$(m xdp show xc.1)
	[[ $line == $'xc.1\tattached\tpure\tnative\t'* ]]
	line=$(m xdp show xd)
	[[ $line == $'xd\tnot-attached\t-\t-\t0\t-\t0\t0' ]]
	# the table, as on a terminal
	script -qec "nsenter --net=/run/netns/$A $cli --pin-root $ROOT xdp show" \
		/dev/null > "$tmp/table"
	grep -q 'INTERFACE.*STATE.*VARIANT.*MODE.*PROG-ID' "$tmp/table"
	grep -Eq '^  xc\.1 +attached +pure +native +[0-9]+ +- +yes' "$tmp/table"
}

t_show() {
	local err

	m --json show > "$tmp/s.json" 2>"$tmp/s.err"
	python3 -m json.tool "$tmp/s.json" >/dev/null
	json "$tmp/s.json" 'j["devices"] == '"$DEVS"' and j["maquisd"] is None
		and sorted((x["interface"], x["variant"], x["mode"])
			   for x in j["xdp"]) ==
		    [("xa", "pure", "native"), ("xc.1", "pure", "native")]'
	m show > "$tmp/s.tsv" 2>"$tmp/s.err"
	err=$(<"$tmp/s.err")
	[[ $MOD == 1 || $err == *"maquis module: not loaded"* ]]
	[[ $(grep -c $'^xdp\t' "$tmp/s.tsv") -eq 2 ]]
	grep -q $'^xdp\txa\tattached\tpure\tnative\t' "$tmp/s.tsv"
	# xd has no maquis program: no line
	! grep -q $'^xdp\txd\t' "$tmp/s.tsv" || return 1
}

# malformed of xa, from stats --json
malformed() {
	m --json stats > "$tmp/st.json" &&
	python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["xdp"]["xa"]["malformed"])' "$tmp/st.json"
}

malformed_is() { [[ $(malformed) == "$1" ]]; }

t_stats() {
	local names

	m --json stats > "$tmp/st.json"
	python3 -m json.tool "$tmp/st.json" >/dev/null
	names='["unknown-cid", "bad-tag", "replay", "malformed", "no-route",
		"key-limit", "rate", "cells-in", "bytes-in", "cells-out", "bytes-out",
		"pass", "pass-ctl", "error"]'
	json "$tmp/st.json" 'j["devices"] == '"$DEVS"'
		and sorted(j["xdp"]) == ["xa", "xc.1"]
		and all(list(c) == '"$names"' for c in j["xdp"].values())
		and all(type(v) is int for c in j["xdp"].values() for v in c.values())
		and j["xdp"]["xa"]["malformed"] == 0'
	# five 8-byte datagrams to the maquis port: no cell's length, so
	# malformed, exactly five (nobody else sends to 7720 here)
	ip netns exec "$B" python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5):
	s.sendto(b"notacell", ("10.77.0.1", 7720))'
	# a function, so that every poll reads the counter anew
	wait_for 5 malformed_is 5 || { log "malformed $(malformed)"; false; }
	sleep 0.3
	[[ $(malformed) == 5 ]]
	json "$tmp/st.json" 'j["xdp"]["xa"]["cells-in"] == 0
		and j["xdp"]["xa"]["pass"] > 0 and j["xdp"]["xa"]["error"] == 0'
	m stats > "$tmp/st.tsv" 2>/dev/null
	grep -q $'^xdp\txa\tmalformed\t5$' "$tmp/st.tsv"
	[[ $(grep -c $'^xdp\txc.1\t' "$tmp/st.tsv") -eq 14 ]]
}

t_other_prog() {
	local obj=$top/bpf/xdp_fwd.bpf.o id err rc=0

	[[ -f $obj ]] || { log "no $obj (make bpf)"; exit 4; }
	ip -n "$A" link set dev xd xdpgeneric obj "$obj" sec xdp
	id=$(kprog xd)
	[[ $id == generic\ * ]]
	err=$(m xdp attach xd "${PURE[@]}" 2>&1 >/dev/null) || rc=$?
	log "$err"
	[[ $rc -eq 1 && $err == *"XDP program ${id#* } is not maquis's: left alone"* ]]
	[[ $(kprog xd) == "$id" && ! -e $ROOT/xd ]]
	rc=0
	err=$(m xdp detach xd 2>&1 >/dev/null) || rc=$?
	[[ $rc -eq 1 && $err == *"is not maquis's"* && $(kprog xd) == "$id" ]]
	[[ $(m xdp show xd) == $'xd\tnot-attached\t-\t-\t0\t-\t0\t'"${id#* }" ]]
	ip -n "$A" link set dev xd xdpgeneric off
}

t_netns_exec() {
	local err rc=0

	err=$(ip netns exec "$A" "$cli" --pin-root "$ROOT" xdp attach xd "${PURE[@]}" 2>&1) ||
		rc=$?
	log "$err"
	[[ $rc -eq 1 && $err == *"is not on bpffs"*"nsenter --net"* ]]
	[[ -z $(kprog xd) ]]
}

t_detach() {
	local out rc=0

	out=$(m xdp detach xa)
	[[ $out == $'xa\t'[0-9]*$'\t1' ]]
	[[ -z $(kprog xa) && ! -e $ROOT/xa ]]
	# the shared maps stay while another interface uses them
	[[ -e $ROOT/maq_circuits ]]
	m --json xdp detach xc.1 > "$tmp/d.json"
	json "$tmp/d.json" 'j["interface"] == "xc.1"
		and j["detached_prog_id"] > 0 and j["pins_removed"] is True'
	[[ -z $(kprog xc.1) && ! -e $ROOT ]]
	[[ $(m --json xdp show) == "[]" ]]
	m --json show > "$tmp/s.json" 2>/dev/null
	json "$tmp/s.json" 'j["xdp"] == []'
	m stats >/dev/null 2>"$tmp/err" || rc=$?
	if ((MOD)); then
		[[ $rc -eq 0 ]]
	else
		[[ $rc -eq 1 ]]
		grep -q "no XDP counters are pinned under $ROOT" "$tmp/err"
	fi
	# nothing left to detach: said, no error
	[[ $(m xdp detach xa) == $'xa\t0\t0' ]]
}

t_gone() {
	local rc=0

	m xdp attach xc.1 --mode generic "${PURE[@]}" >/dev/null
	ip -n "$A" link del xc.1
	[[ $(m xdp show) == $'xc.1\tno-interface\t-\t-\t0\t-\t1\t0' ]]
	[[ $(m xdp detach xc.1) == $'xc.1\t0\t1' ]]
	[[ ! -e $ROOT ]]
	m xdp detach xc.1 2>"$tmp/err" || rc=$?
	[[ $rc -eq 2 ]] && grep -q "no such device: 'xc.1'" "$tmp/err"
}

# The kfunc variant, where maquis.ko is loaded (in the VM:
# tests/vm/run.sh --insmod kmod/maquis.ko -- tests/bpf/cli_xdp.sh).
t_kfunc() {
	local out err rc=0 port

	[[ -d /sys/module/maquis ]] || { log "maquis.ko not loaded"; exit 4; }
	ip -n "$A" link add maqx type maquis
	ip -n "$A" link set maqx up
	# on xa (xd went with xc.1 in t_gone); auto takes kfunc here, for maq0
	# by default: there is none
	err=$(m xdp attach xa 2>&1 >/dev/null) || rc=$?
	log "$err"
	[[ $rc -eq 1 && $err == *"kfunc variant: no device 'maq0'"* ]]
	rc=0
	err=$(m xdp attach xa --maq-dev lo 2>&1 >/dev/null) || rc=$?
	[[ $rc -eq 1 && $err == *"lo is not a maquis device"* ]]
	[[ -z $(kprog xa) && ! -e $ROOT ]]
	out=$(m xdp attach xa --maq-dev maqx --mode generic)
	log "$out"
	[[ $out == $'xa\tattached\tkfunc\tgeneric\t'*$'\tmaqx\t1\t0' ]]
	[[ $(kprog xa) == generic\ * ]]
	port=$(m --json show | python3 -c 'import json, sys
j = json.load(sys.stdin)
print([d["port"] for d in j["devices"] if d["device"] == "maqx"][0])')
	rc=0
	err=$(m xdp attach xa --maq-dev maqx --port $((port + 1)) 2>&1) || rc=$?
	[[ $rc -eq 1 && $err == *"maqx listens on $port"* ]]
	m --json show > "$tmp/k.json"
	json "$tmp/k.json" '[(x["interface"], x["variant"], x["maq_dev"])
			    for x in j["xdp"]] == [("xa", "kfunc", "maqx")]
		and "maqx" in [d["device"] for d in j["devices"]]'
	m --json stats > "$tmp/k.json"
	json "$tmp/k.json" '"maqx" in [d["device"] for d in j["devices"]]
		and list(j["xdp"]) == ["xa"]'
	[[ $(m xdp detach xa) == $'xa\t'[0-9]*$'\t1' ]]
	[[ -z $(kprog xa) && ! -e $ROOT ]]
}

# --- main -------------------------------------------------------------------

[[ $(id -u) == 0 ]] || skip_all "needs root"
[[ -r /sys/kernel/btf/vmlinux ]] || skip_all "kernel has no BTF"
[[ -d /sys/module/veth ]] || modprobe -q veth 2>/dev/null || true
for tool in ip nsenter python3 script; do
	command -v "$tool" >/dev/null || skip_all "no $tool"
done
[[ -x $cli ]] || { echo "Bail out! $cli not built (make userspace)"; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null ||
	skip_all "no bpffs at /sys/fs/bpf"
# With maquis.ko loaded auto means kfunc: the pure variant is asked for, and
# show and stats list devices (none in A until t_kfunc).
MOD=0 PURE=() DEVS=None
[[ -d /sys/module/maquis ]] && MOD=1 PURE=(--variant pure) DEVS=[]
tmp=$(mktemp -d /tmp/maq-clixdp.XXXXXX)
trap cleanup EXIT

ktap_print_header
NTESTS=11
ktap_set_plan $NTESTS

if ! run "topology: two namespaces, veths" t_topology; then
	for ((i = 1; i < NTESTS; i++)); do ktap_test_fail "no topology"; done
	ktap_finished
fi
if run "xdp attach --mode generic: record printed, program on xa, pins" \
	t_attach_generic; then
	run "xdp attach --mode native --json: replaced in native mode; a dotted name" \
		t_attach_native
	run "xdp show: both attached (JSON, TSV, table), xd not attached" t_xdp_show
	run "show without module or daemon: an XDP line per attached interface" t_show
	run "stats --json: per-reason counters of each interface, 5 malformed" t_stats
else
	for ((i = 0; i < 4; i++)); do ktap_test_fail "attach failed"; done
fi
run "somebody else's XDP program: attach and detach leave it alone" t_other_prog
run "ip netns exec: refused, naming bpffs and nsenter" t_netns_exec
run "xdp detach: no program, no pins, nothing in show and stats" t_detach
run "xdp detach after the interface is gone removes its pins" t_gone
run "kfunc variant: maquis device and its port, in show and stats" t_kfunc
ktap_finished
