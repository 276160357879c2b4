#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Debian's 6.12 kernel in QEMU (TCG), with the host's root file system
# as the guest's (read-only 9p + tmpfs overlay), run one command in the repo
# and return its exit status.  Fails if the kernel warned, oopsed, panicked
# or stalled, if the guest never reported an exit status, or on timeout.
#
# Usage: tests/vm/run.sh [options] -- COMMAND [ARGS...]
#   --timeout SECS   hard limit for the whole VM run (default 600)
#   --mem MB         guest memory (default 2048, or $MEM)
#   --smp N          guest CPUs (default 2)
#   --log FILE       also write the console to FILE
#   --insmod FILE    insmod FILE in the guest before COMMAND (repeatable)
#   --quiet          do not copy the console to stdout
# Environment: MAQUIS_VM_LOGLEVEL (console loglevel, default 5),
# MAQUIS_VM_TCG_THREAD (single, the default, or multi: see below).
#
# Exit status: COMMAND's, or 124 on timeout, 125 if the VM failed to report
# one (boot failure, crash), 126 if the console shows a kernel problem.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
vmdir=$repo/build/vm
outdir=$vmdir/out

# Kernel messages (timestamped console lines) that fail a run.
SPLAT='WARNING:|BUG:|Oops|Kernel panic|KFENCE:|general protection fault|UBSAN:|KASAN:|refcount_t:|list_add corruption|list_del corruption|RCU stall|rcu_sched self-detected stall|rcu: INFO:|detected stalls? on CPU|soft lockup|hard LOCKUP|blocked for more than|kernel BUG at|Unable to handle kernel|unreferenced object'
# Modules the initramfs needs to mount the host root (dependencies added).
INITRD_MODS=(netfs 9pnet 9pnet_virtio 9p overlay)

say() { echo "maquis-vm: $*" >&2; }
die() { say "$*"; exit 125; }

usage() {
	sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 125
}

timeout_s=600
mem=${MEM:-2048}
smp=2
log=
quiet=0
insmods=()
while (($#)); do
	case $1 in
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--smp) smp=${2:?}; shift 2 ;;
	--log) log=${2:?}; shift 2 ;;
	--insmod)
		m=$(realpath -e "${2:?}") || die "no module $2"
		insmods+=("$m")
		shift 2
		;;
	--quiet) quiet=1; shift ;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) say "unknown option $1"; usage ;;
	esac
done
(($#)) || usage
[[ $timeout_s =~ ^[0-9]+$ && $mem =~ ^[0-9]+$ && $smp =~ ^[0-9]+$ ]] ||
	die "--timeout, --mem and --smp take numbers"

# Debian packages behind the tools used here; installed when missing.
need_tools() {
	local -A pkg=([qemu-system-x86_64]=qemu-system-x86 [busybox]=busybox-static
		[depmod]=kmod [cpio]=cpio [xz]=xz-utils [timeout]=coreutils)
	local t missing=()

	for t in "${!pkg[@]}"; do
		command -v "$t" >/dev/null || missing+=("${pkg[$t]}")
	done
	((${#missing[@]})) || return 0
	[[ $(id -u) == 0 ]] || die "missing packages: ${missing[*]}"
	say "installing ${missing[*]}"
	{ apt-get install -y -qq "${missing[@]}" || { apt-get update -qq &&
		apt-get install -y -qq "${missing[@]}"; }; } >/dev/null ||
		die "cannot install ${missing[*]}"
}

# Build (once) an uncompressed busybox initramfs with the 9p/overlay modules.
build_initramfs() {	# build_initramfs KROOT KVER -> prints its path
	local kroot=$1 kver=$2 mdir=$1/lib/modules/$2 bb m m2 rest key img stage
	local -a order=()
	local -A dep=() seen=()

	bb=$(command -v busybox)
	if LC_ALL=C readelf -l "$bb" 2>/dev/null | grep -q 'program interpreter'; then
		die "$bb is not static: install busybox-static"
	fi

	while IFS=: read -r m rest; do
		m2=${m##*/}
		dep[${m2%.ko*}]="$m:$rest"
	done <"$mdir/modules.dep"
	visit() {
		local name=$1 path d
		[[ -n ${seen[$name]:-} ]] && return
		seen[$name]=1
		[[ -n ${dep[$name]:-} ]] || die "no module $name in $mdir"
		path=${dep[$name]%%:*}
		for d in ${dep[$name]#*:}; do
			d=${d##*/}
			visit "${d%.ko*}"
		done
		order+=("$path")
	}
	for m in "${INITRD_MODS[@]}"; do
		visit "$m"
	done

	img=$vmdir/initramfs-$kver.cpio
	key=$( {
		cat "$here/init"
		stat -L -c '%s %Y' "$bb"
		for m in "${order[@]}"; do
			stat -L -c "%n %s %Y" "$mdir/$m"
		done
	} | sha256sum)
	if [[ -s $img && $(cat "$img.key" 2>/dev/null) == "$key" ]]; then
		echo "$img"
		return
	fi

	say "building $img"
	stage=$(mktemp -d "$vmdir/stage.XXXXXX")
	# shellcheck disable=SC2064 # expand now: the locals are gone at exit
	trap "rm -rf '$stage' '$img.tmp'" EXIT
	mkdir -p "$stage"/{bin,dev,proc,sys,modules}
	cp "$bb" "$stage/bin/busybox"
	install -m 0755 "$here/init" "$stage/init"
	for m in "${order[@]}"; do
		xz -dc "$mdir/$m" >"$stage/modules/$(basename "$m" .xz)"
		basename "$m" .xz >>"$stage/modules/order"
	done
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$img.tmp"
	rm -rf "$stage"
	mv "$img.tmp" "$img"
	echo "$key" >"$img.key"
	echo "$img"
}

need_tools
# Paths travel on the kernel command line, which splits at blanks.
[[ $repo != *[[:space:]]* ]] || die "the repo path must not contain blanks"
mkdir -p "$vmdir" "$outdir"

kroot=$("$repo/kmod/fetch-kernel.sh" image) || die "cannot fetch the kernel image"
kernels=("$kroot"/boot/vmlinuz-*)
kernel=${kernels[0]}
[[ -f $kernel ]] || die "no vmlinuz in $kroot/boot"
kver=${kernel##*/vmlinuz-}

# Serialise cache updates between concurrent runs.
exec 9>"$vmdir/.lock"
flock 9
mdir=$kroot/lib/modules/$kver
if [[ ! -s $mdir/modules.dep || $mdir/modules.order -nt $mdir/modules.dep ]]; then
	say "depmod $kver"
	depmod -b "$kroot" "$kver"
fi
initrd=$(build_initramfs "$kroot" "$kver")
flock -u 9

rundir=$(mktemp -d "$vmdir/run.XXXXXX")
qpid=
fpid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	# timeout(1) passes the signal on to qemu.
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	[[ -z $fpid ]] || wait "$fpid" 2>/dev/null || true
	rm -rf "$rundir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
{
	printf 'REPO=%q\nOUT=%q\nNONCE=%q\nSPLAT=%q\n' "$repo" "$outdir" "$nonce" "$SPLAT"
	printf 'INSMOD=('
	for m in "${insmods[@]}"; do
		printf ' %q' "$m"
	done
	printf ' )\nCMD=('
	printf ' %q' "$@"
	printf ' )\n'
} >"$rundir/job"
console=${log:-$rundir/console.log}
: >"$console"

# shellcheck disable=SC2054 # commas belong to the options
# The lockup and stall detectors wait 120 s and 60 s, not 20 s: under TCG
# on a host shared with other VMs a vCPU goes unscheduled for tens of
# seconds (a 26 s "soft lockup" in clear_page while insmod read the module
# was seen with six VMs on two cores); a real lockup still panics.
cmdline=(
	console=ttyS0,115200 "loglevel=${MAQUIS_VM_LOGLEVEL:-5}" printk.time=1
	panic_on_warn=1 oops=panic panic=-1 softlockup_panic=1
	watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=60
	sysctl.kernel.panic_on_rcu_stall=1 kfence.sample_interval=100
	mitigations=off i8042.noaux i8042.nomux i8042.nopnp 8250.nr_uarts=1
	random.trust_cpu=on tsc=reliable no_timer_check edd=off
	maquisvm_repo="$repo" maquisvm_job="$rundir/job"
	maquisvm_mods="$kroot/lib/modules" maquisvm_out="$outdir"
	maquisvm_nonce="$nonce"
)
# One TCG thread runs both vCPUs in turn: with multi-threaded TCG, QEMU 7.2
# lets a vCPU run stale code while the other patches kernel text (static
# keys, tracepoints), and the guest dies of "Oops: int3" (once in ~40 boots,
# every time when flipping tracepoints in a loop).
# shellcheck disable=SC2054
qemu=(
	qemu-system-x86_64 -accel "tcg,thread=${MAQUIS_VM_TCG_THREAD:-single}" -cpu max -smp "$smp" -m "$mem"
	-nographic -nodefaults -no-user-config -no-reboot -serial stdio -bios qboot.rom
	-kernel "$kernel" -initrd "$initrd" -append "${cmdline[*]}"
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$outdir,mount_tag=vmout,security_model=none,multidevs=remap"
)

# The console, less carriage returns and terminal escapes, to the log and
# (unless --quiet) stdout.
filter() {
	sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' |
		if ((quiet)); then cat >>"$console"; else tee -a "$console"; fi
}

# Everything runs in the background so that the INT/TERM traps fire at once.
mkfifo "$rundir/fifo"
start=$(date +%s%N)
filter <"$rundir/fifo" &
fpid=$!
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null >"$rundir/fifo" 2>&1 &
qpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=
wait "$fpid" || true
fpid=
# The console may end in the middle of a line (e.g. "reboot: Power down").
if [[ -s $console && -n $(tail -c 1 "$console") ]]; then
	echo >>"$console"
	((quiet)) || echo
fi
ms=$((($(date +%s%N) - start) / 1000000))
elapsed=$((ms / 1000)).$(printf '%03d' $((ms % 1000)))

status=0
splats=$(grep -aE '\[ *[0-9]+\.[0-9]+\].*('"$SPLAT"')' "$console" | head -n 20 || true)
if [[ -n $splats ]]; then
	say "FAIL: kernel problem on the console:"
	while IFS= read -r line; do
		say "  $line"
	done <<<"$splats"
	status=126
fi
taint=$(grep -aoE "MAQUIS-VM-TAINT: [0-9]+ $nonce" "$console" | tail -n 1 | cut -d' ' -f2 || true)
if [[ -n $taint ]] && ((taint & ((1 << 4) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))); then
	say "FAIL: kernel tainted ($taint)"
	status=126
fi
rc=$(grep -aoE "MAQUIS-VM-EXIT: [0-9]+ $nonce" "$console" | tail -n 1 | cut -d' ' -f2 || true)
if ((qrc == 124 || qrc == 137)); then
	say "FAIL: timeout after ${timeout_s}s, VM killed"
	((status)) || status=124
elif [[ -z $rc ]]; then
	say "FAIL: no exit marker from the guest (qemu exit $qrc): boot failure or crash"
	((status)) || status=125
fi
((status)) || status=$rc
say "exit $status (command ${rc:-unknown}, ${elapsed}s)"
exit "$status"
