#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: every maquis benchmark, its baselines, a results folder.
#
#   tests/bench/run.sh [--quick] [--out DIR] [--vm | --no-vm] [--cpu N]
#                      [--steps LIST] [--no-deps] [--vm-mem MB]
#
#   --quick     each measurement briefly (make check's smoke test): 0.2 s
#               per XDP figure, scale 10^3 and 10^4 circuits only (instead
#               of 10^3, 10^5, 10^6), 2 s iperf3, 3 s Tor download, no VM
#   --out DIR   results folder (default build/bench/<timestamp>)
#   --vm        also run the in-VM part (tests/vm/run.sh, vm.sh): plain
#               routing, kernel WireGuard, Tor and the maquis module's
#               3-hop circuit, the kfunc relay rate, the module's memory
#               per circuit, setup through maquisd.  Default: on without
#               --quick when QEMU is installed; --no-vm: off
#   --vm-mem MB guest memory for the VM part (default: tests/vm/run.sh's,
#               2048; at the peak, 10^6 module circuits and the 10^6-entry
#               BPF map, the guest uses about 1.1 GB of it)
#   --cpu N     CPU for the XDP measurements (default: the last one)
#   --steps L   comma-separated subset of: perhop,scale,e2e,tor,vm,ctl
#   --no-deps   do not install missing Debian packages
#
# Prints one progress line per step and every figure as it comes; writes
# DIR/results.md (table: figure, maquis, baseline, ratio), DIR/bench.txt
# (one "bench: NAME=VALUE UNIT" line per figure), DIR/not-measured.txt
# ("not-measured: NAME: REASON"), DIR/*.png (gnuplot), DIR/*.dat and
# DIR/logs/ (every step's full output, raw iperf3/ping/tor files in
# logs/raw*).  Figures that cannot be measured yet are listed as
# "not measured: <reason>", never guessed.
#
# Exit status: 0 when every step ran (figures may still be "not measured"
# for a stated reason), 1 if a step failed, 4 without root.  Every
# namespace, process and temporary file the steps make is removed on exit,
# also on failure or interrupt.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

QUICK=0 OUT= VM=auto CPU= STEPS=perhop,scale,e2e,tor,vm,ctl DEPS=1 VM_MEM=
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) QUICK=1 ;;
	--out) OUT=$2; shift ;;
	--vm) VM=1 ;;
	--no-vm) VM=0 ;;
	--cpu) CPU=$2; shift ;;
	--steps) STEPS=$2; shift ;;
	--no-deps) DEPS=0 ;;
	--vm-mem) VM_MEM=$2; shift ;;
	-h|--help) sed -n '4,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--quick] [--out DIR] [--vm|--no-vm] [--cpu N] [--steps LIST] [--no-deps] [--vm-mem MB]" >&2
	   exit 2 ;;
	esac
	shift
done
[[ -z $VM_MEM || $VM_MEM =~ ^[0-9]+$ ]] ||
	{ echo "bench: --vm-mem takes megabytes, not '$VM_MEM'" >&2; exit 2; }

if [[ $(id -u) != 0 ]]; then
	echo "bench: needs root (BPF, network namespaces, packages)" >&2
	exit 4
fi

OUT=${OUT:-$top/build/bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/logs" || exit 1
OUT=$(cd "$OUT" && pwd)
: >"$OUT/bench.txt"
: >"$OUT/not-measured.txt"

# Everything temporary lives under one directory; e2e.sh names its
# namespaces after MAQ_BENCH_TAG, so the safety net below finds them.
TMPDIR=$(mktemp -d /tmp/maq-bench.XXXXXX) || exit 1
export TMPDIR
export MAQ_BENCH_TAG=$$
STEP_PID=
FAILED=0

cleanup() {
	local p ns

	set +e
	if [[ -n $STEP_PID ]]; then
		kill -TERM "$STEP_PID" 2>/dev/null
		wait "$STEP_PID" 2>/dev/null
	fi
	# Safety net, should a step have died without cleaning up: our
	# namespaces (with whatever runs in them), and processes started from
	# our temporary directory (tor -f $TMPDIR/...).
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^mqb$MAQ_BENCH_TAG-"); do
		ip netns pids "$ns" 2>/dev/null | while read -r p; do kill -9 "$p"; done
		ip netns del "$ns"
	done
	for p in /proc/[0-9]*; do
		[[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == *"$TMPDIR/"* ]] &&
			kill -9 "${p#/proc/}" 2>/dev/null
	done
	rm -f /var/run/wireguard/w[123][ew]"$MAQ_BENCH_TAG".sock
	# e2e.sh's relay pins (its maquis-bpf path)
	[[ -d /sys/fs/bpf/maq-bench-$MAQ_BENCH_TAG ]] &&
		rm -rf "/sys/fs/bpf/maq-bench-$MAQ_BENCH_TAG"
	rm -rf "$TMPDIR"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

T0=$(date +%s)
NSTEP=0 NSTEPS=$((2 + $(tr ',' '\n' <<<"$STEPS" | grep -c .)))
progress() {	# progress MESSAGE
	NSTEP=$((NSTEP + 1))
	printf '[bench %d/%d +%ss] %s\n' "$NSTEP" "$NSTEPS" $(($(date +%s) - T0)) "$*"
}

want() { [[ ,$STEPS, == *",$1,"* ]]; }

not_measured() {	# not_measured NAME REASON...
	local name=$1

	shift
	echo "not-measured: $name: $*" | tee -a "$OUT/not-measured.txt"
}

# step NAME FIGURE COMMAND...: run COMMAND, its output in logs/NAME.log;
# collect its figure lines.  If it skips (exit 4) or fails, FIGURE (the
# step's headline figure) is recorded as not measured, with the reason.
step() {
	local name=$1 figure=$2 log=$OUT/logs/$1.log rc why

	shift 2
	"$@" >"$log" 2>&1 </dev/null &
	STEP_PID=$!
	wait "$STEP_PID"
	rc=$?
	STEP_PID=
	tr -d '\r' <"$log" | grep -E '^bench: [^ ]+=[^ ]+ ' | sed 's/^.*\(bench: \)/\1/' |
		tee -a "$OUT/bench.txt" | sed 's/^/  /'
	tr -d '\r' <"$log" | grep -E '^not-measured: ' >>"$OUT/not-measured.txt"
	tr -d '\r' <"$log" | grep -E '^not-measured: ' | sed 's/^/  /'
	if ((rc == 4)); then
		why=$(tr -d '\r' <"$log" | grep -m1 -E '^SKIP' | sed 's/^SKIP:* *//')
		not_measured "$figure" "skipped: ${why:-see logs/$name.log}" >/dev/null
		echo "  $name: skipped: ${why:-see logs/$name.log}"
	elif ((rc != 0)); then
		why=$(tr -d '\r' <"$log" | grep -v -E '^(#|bench:|not-measured:)' | tail -1)
		not_measured "$figure" "step failed (exit $rc): ${why:-see logs/$name.log}" >/dev/null
		echo "  $name: FAILED (exit $rc), see $log"
		FAILED=1
	fi
	return 0
}

# --- packages and build ---------------------------------------------------

PKGS=(iperf3 iputils-ping iproute2 curl python3 tor wireguard-tools
      wireguard-go gnuplot-nox ethtool)
progress "packages and build"
{
	echo "date=$(date -Is)"
	echo "host=$(hostname)"
	echo "kernel=$(uname -r)"
	echo "cpus=$(nproc)"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "uptime_start=$(uptime)"
	echo "mode=$( ((QUICK)) && echo quick || echo full)"
	echo "tmpdir=$TMPDIR"
	echo "tag=$MAQ_BENCH_TAG"
} >"$OUT/info.txt"
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	if ((DEPS)) && command -v apt-get >/dev/null; then
		echo "  installing ${missing[*]}"
		{ apt-get update -qq &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}"; } \
			>"$OUT/logs/apt.log" 2>&1 ||
			echo "  could not install all of ${missing[*]} (logs/apt.log); going on without"
	else
		echo "  missing packages (not installed): ${missing[*]}"
	fi
fi
if ! make -C "$here" >"$OUT/logs/build.log" 2>&1; then
	echo "  build failed, see $OUT/logs/build.log"
	tail -5 "$OUT/logs/build.log" | sed 's/^/  /'
	not_measured xdp_relay_fwd_rate "build of tests/bench failed (logs/build.log)" >/dev/null
	want perhop && STEPS=${STEPS//perhop/}
	want scale && STEPS=${STEPS//scale/}
	FAILED=1
fi

q=()
((QUICK)) && q=(--quick)

# --- 1. per-hop rate ------------------------------------------------------

if want perhop; then
	progress "per-hop XDP relay rate (live frames through veth, one core, pure-BPF crypto)"
	step perhop xdp_relay_fwd_rate "$here/xdp_rate" "${q[@]}" --no-scale ${CPU:+--cpu "$CPU"}
fi

# --- 4. scale -------------------------------------------------------------

if want scale; then
	progress "scale: forward rate with $( ((QUICK)) && echo '10^3, 10^4' || echo '10^3, 10^5, 10^6') circuits"
	step scale xdp_scale "$here/xdp_rate" "${q[@]}" --no-perhop ${CPU:+--cpu "$CPU"}
fi

# --- 2. 3-hop end to end --------------------------------------------------

if want e2e; then
	progress "3-hop end to end on the host: plain routing, 3x WireGuard, maquis with BPF-only relays"
	step e2e e2e_plain_tcp "$here/e2e.sh" "${q[@]}" --out "$OUT/logs/raw"
	[[ -f $OUT/logs/raw/e2e-wg.impl ]] &&
		echo "wg_impl=$(sed 's/^go$/wireguard-go/; s/^kernel$/kernel module/' "$OUT/logs/raw/e2e-wg.impl")" >>"$OUT/info.txt"
fi

if want tor; then
	progress "Tor baseline: private network on loopback, 3 relays, SOCKS bulk download"
	step tor tor_tcp "$here/tor.sh" "${q[@]}" --out "$OUT/logs/raw"
fi

# --- VM: kernel WireGuard, and the module's figures later ----------------

if want vm; then
	progress "in the VM: 3-hop maquis module vs kernel WireGuard and Tor, kfunc relay, module memory, maquisd setup"
	if [[ $VM == auto ]]; then
		if ((QUICK)); then
			VM=0 why="quick mode skips the VM (run.sh --vm to include it)"
		elif [[ -x $top/tests/vm/run.sh ]] && command -v qemu-system-x86_64 >/dev/null; then
			VM=1
		else
			VM=0 why="no QEMU or tests/vm/run.sh"
		fi
	fi
	if ((VM)); then
		vmout=$top/build/vm/out/bench-$$
		mkdir -p "$vmout"
		step vm vm_e2e_plain_tcp "$top/tests/vm/run.sh" \
			--timeout "$( ((QUICK)) && echo 600 || echo 2400)" \
			${VM_MEM:+--mem "$VM_MEM"} -- \
			tests/bench/vm.sh "${q[@]}" --out "$vmout"
		mkdir -p "$OUT/logs/raw-vm"
		cp -r "$vmout/." "$OUT/logs/raw-vm/" 2>/dev/null
		rm -rf "$vmout"
	else
		for f in vm_e2e_plain_tcp vm_e2e_wg_tcp vm_e2e_maquis_tcp \
			 vm_tor_tcp vm_xdp_kfunc_fwd_rate vm_ctl_setup_rate; do
			not_measured "$f" "$why" | sed 's/^/  /'
		done
	fi
fi

# --- 3. control plane -----------------------------------------------------

if want ctl; then
	progress "control plane: CPU per circuit setup and role, vs a WireGuard-like handshake"
	step ctl ctl_relay_setup_rate "$here/ctl_rate.sh" "${q[@]}" ${CPU:+--cpu "$CPU"}
fi

# --- report ---------------------------------------------------------------

progress "report"
# the machine is shared: the load at the end says how busy it was meanwhile
{
	echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "uptime_end=$(uptime)"
	echo "seconds=$(($(date +%s) - T0))"
} >>"$OUT/info.txt"
if ! python3 "$here/report.py" "$OUT" >"$OUT/logs/report.log" 2>&1; then
	echo "  report failed, see $OUT/logs/report.log"
	FAILED=1
fi
grep -q '^Plots missing' "$OUT/results.md" 2>/dev/null &&
	grep '^Plots missing' "$OUT/results.md" | sed 's/^/  /'
echo
cat "$OUT/results.md" 2>/dev/null
echo
echo "results: $OUT ($(($(date +%s) - T0)) s)"
exit "$FAILED"
