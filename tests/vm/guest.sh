#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs as PID 1 inside the maquis test VM, after the initramfs (tests/vm/init)
# switched into the overlay of the host's root.  It makes sure the usual
# pseudo file systems are mounted (init mounts them with busybox, which is
# much cheaper on TCG than host binaries over 9p), loads the --insmod
# modules, runs the job's command in the repo and reports its exit status
# with marker lines that tests/vm/run.sh looks for, then powers off.
#
#   guest.sh JOB    JOB is a bash file written by run.sh that sets REPO, OUT,
#                   NONCE, SPLAT, INSMOD=(...) and CMD=(...)
#
# Builtins are used wherever a host binary would do, for the same reason.
set -uo pipefail

# Taint bits that mean the kernel went wrong: machine check (4), bad page
# (5), die/oops (7), warning (9), soft lockup (14).
BAD_TAINT=$(((1 << 4) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))

NONCE=none
SPLAT=
rc=125

finish() {
	local taint=0 line

	trap - EXIT
	# Splats that did not reach the console (e.g. a test lowered the
	# console loglevel); run.sh scans the console for them.
	if [[ -n $SPLAT ]]; then
		while IFS= read -r line; do
			[[ $line =~ $SPLAT ]] && echo "maquis-vm: dmesg: $line"
		done < <(dmesg 2>/dev/null)
	fi
	read -r taint </proc/sys/kernel/tainted
	if ((taint & BAD_TAINT)); then
		echo "maquis-vm: kernel tainted: $taint"
	fi
	echo "MAQUIS-VM-TAINT: $taint $NONCE"
	echo "MAQUIS-VM-EXIT: $rc $NONCE"
	busybox poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 60
}
trap finish EXIT

fail() {
	echo "maquis-vm: guest: $*"
	rc=125
	exit
}

declare -A mounted=()
mnt() {		# mnt TYPE DIR [OPTS] : mount unless already there
	local dev dir rest

	if ((${#mounted[@]} == 0)) && [[ -r /proc/self/mounts ]]; then
		while read -r dev dir rest; do
			mounted[$dir]=$dev
		done </proc/self/mounts
	fi
	[[ -n ${mounted[$2]:-} ]] && return
	mkdir -p "$2"
	mount -t "$1" ${3:+-o "$3"} "$1" "$2" || fail "cannot mount $1 on $2"
	mounted[$2]=$1
}

mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt devpts /dev/pts mode=0620,ptmxmode=0666
mnt tmpfs /dev/shm mode=1777
mnt debugfs /sys/kernel/debug
mnt tracefs /sys/kernel/tracing
mnt bpf /sys/fs/bpf mode=0700
mnt cgroup2 /sys/fs/cgroup
mnt tmpfs /tmp mode=1777
mnt tmpfs /run mode=0755
[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd

echo 1 >/proc/sys/kernel/panic_on_warn
echo 1 >/proc/sys/kernel/panic_on_oops
read -r v </proc/sys/kernel/panic_on_warn
[[ $v == 1 ]] || fail "panic_on_warn is off"

read -r v </sys/class/net/lo/flags
((v & 1)) || ip link set lo up || fail "cannot bring lo up"

# shellcheck source=/dev/null
. "$1" || fail "cannot read job $1"

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb MAQUIS_VM=1 MAQUIS_VM_OUT=$OUT
cd "$REPO" || fail "no $REPO"

for m in "${INSMOD[@]}"; do
	echo "maquis-vm: insmod $m"
	# insmod does not resolve dependencies (udp_tunnel, libchacha, ...)
	for d in $(modinfo -F depends "$m" | tr , ' '); do
		modprobe "$d" || fail "modprobe $d (needed by $m) failed"
	done
	insmod "$m" || fail "insmod $m failed"
done

read -r up _ </proc/uptime
echo "maquis-vm: running at ${up}s: ${CMD[*]}"
# A subshell, so that builtins such as "exit 3" work as commands too.
("${CMD[@]}") </dev/null
rc=$?
