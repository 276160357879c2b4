#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Smoke test of the bench harness for `make check`: runs
# `tests/bench/run.sh --quick` into a temporary folder and checks that it
# produced its outputs and cleaned up after itself.  It checks nothing about
# speed.  Prints KTAP; exits 4 (skip) without root or BPF.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${MAQ_BENCH_SMOKE_TIMEOUT:-300}

echo "KTAP version 1"
skip() {
	echo "1..0 # SKIP $*"
	exit 4
}
[[ $(id -u) == 0 ]] || skip "needs root"
[[ -r /sys/kernel/btf/vmlinux ]] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
if command -v bpftool >/dev/null; then
	bpftool prog list >/dev/null 2>&1 || skip "BPF unavailable (bpftool prog list fails)"
fi
unshare -n true 2>/dev/null || skip "cannot create network namespaces"

out=$(mktemp -d /tmp/maq-bench-smoke.XXXXXX)
ipid=
trap '[[ -n $ipid ]] && kill -TERM "$ipid" 2>/dev/null; wait; rm -rf "$out"' EXIT

n=0 fail=0
check() {	# check NAME COMMAND...
	local name=$1

	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		fail=1
	fi
}

echo "1..12"
t0=$(date +%s)
timeout "$TIMEOUT" "$here/run.sh" --quick --out "$out/r" >"$out/run.log" 2>&1 &
pid=$!
wait "$pid"
rc=$?
sed 's/^/# /' "$out/run.log"
echo "# run.sh --quick: exit $rc after $(($(date +%s) - t0)) s"
r=$out/r

check "run.sh --quick exits 0" test "$rc" = 0

has_table() {
	grep -q '^| figure | maquis | baseline | ratio |$' "$r/results.md" &&
		grep -q 'Per-hop relay rate' "$r/results.md"
}
check "results.md has the table" has_table

# Every line "bench: NAME=NUMBER UNIT", and at least one.
well_formed() {
	[[ -s $r/bench.txt ]] || return 1
	! grep -v -E '^bench: [a-z0-9_]+=-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)? [^ ]+$' "$r/bench.txt" |
		grep -q .
}
check "bench.txt is one well-formed line per figure" well_formed

# The per-hop figures, positive (a zero means nothing went through).
perhop() {
	local f v

	for f in xdp_relay_fwd_rate xdp_relay_back_rate xdp_base_rate \
		 xdp_relay_fwd_ratio xdp_relay_fwd_goodput_1292; do
		v=$(sed -n "s/^bench: $f=\([^ ]*\) .*/\1/p" "$r/bench.txt")
		[[ -n $v ]] || { echo "# missing $f"; return 1; }
		python3 -c "import sys; sys.exit(not float('$v') > 0)" ||
			{ echo "# $f=$v"; return 1; }
	done
}
check "per-hop bench: lines present" perhop

scale() { grep -q '^bench: xdp_scale_1000_relay_fwd_rate=' "$r/bench.txt"; }
check "scale bench: lines present" scale

ctl() { grep -q '^bench: ctl_relay_setup_rate=' "$r/bench.txt"; }
check "control-plane bench: lines present" ctl

pngs() {
	local p

	for p in payload scale e2e; do
		[[ $(head -c 8 "$r/$p.png" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
			{ echo "# $p.png missing or not a PNG"; return 1; }
	done
}
check "gnuplot PNGs written" pngs

# Whatever is not measured says why, in the table too.
reasons() {
	local name

	! grep -v -E '^not-measured: [a-z0-9_]+: .+' "$r/not-measured.txt" | grep -q . || return 1
	grep -q 'vm_ctl_setup_rate' "$r/not-measured.txt" || return 1
	grep -q 'not measured: ' "$r/results.md"
}
check "unmeasured figures carry a reason" reasons

# The host's 3-hop maquis path (BPF-only relays): measured, or says why.
e2e() {
	grep -q '^bench: e2e_maquis_bpf_tcp=' "$r/bench.txt" ||
		grep -q '^not-measured: e2e_maquis_bpf_tcp: ' "$r/not-measured.txt" ||
		{ echo "# e2e_maquis_bpf_tcp neither measured nor explained"; return 1; }
	grep -q 'maquis with BPF-only relays' "$r/results.md"
}
check "e2e: maquis with BPF-only relays measured or explained" e2e

logs() { [[ -s $r/logs/perhop.log && -s $r/logs/e2e.log && -s $r/logs/tor.log ]]; }
check "raw logs kept" logs

# Nothing left behind by the run with temporary folder TMP and tag TAG:
# namespaces, processes, BPF pins, temporary files.
gone() {	# gone TMP TAG
	local tmp=$1 tag=$2 p

	[[ -n $tmp && ! -e $tmp ]] || { echo "# ${tmp:-tmpdir} still there"; return 1; }
	! ip netns list | grep -q "^mqb$tag-" || { echo "# namespaces left"; return 1; }
	[[ ! -e /sys/fs/bpf/maq-bench-$tag ]] || { echo "# BPF pins left"; return 1; }
	for p in /proc/[0-9]*; do
		[[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == *"$tmp/"* ]] &&
			{ echo "# process left: ${p#/proc/}"; return 1; }
	done
	return 0
}
clean() {
	gone "$(sed -n 's/^tmpdir=//p' "$r/info.txt")" \
		"$(sed -n 's/^tag=//p' "$r/info.txt")"
}
check "cleaned up (namespaces, processes, temp files)" clean

# The same when a run is interrupted in the middle of a step: TERM while
# e2e.sh has its namespaces up (iperf3 and the relays running in them).
interrupted() {
	local pid tmp i ns

	"$here/run.sh" --quick --no-deps --steps e2e --out "$out/i" \
		>"$out/interrupted.log" 2>&1 &
	pid=$! ipid=$!
	for ((i = 0; i < 600; i++)); do
		ip netns list | grep -q "^mqb$pid-" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	ns=$(ip netns list | grep -c "^mqb$pid-")
	tmp=$(sed -n 's/^tmpdir=//p' "$out/i/info.txt" 2>/dev/null)
	sleep 1
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# run.sh still running 30 s after TERM"
		kill -KILL "$pid"
		return 1
	fi
	wait "$pid"
	ipid=
	((ns > 0)) || { echo "# no namespace came up to interrupt"; return 1; }
	gone "$tmp" "$pid"
}
check "interrupted in a step: namespaces, processes, pins and temp files gone" interrupted

exit "$fail"
