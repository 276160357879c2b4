#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the VM test bench: proves that tests/vm/run.sh passes what
# should pass and fails what should fail.  Each case boots the VM once;
# output is KTAP.  Console logs are kept in build/vm/selftest/.
#
# Usage: tests/vm/selftest.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
run=$here/run.sh
logdir=$repo/build/vm/selftest
outdir=$repo/build/vm/out

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$logdir"

NCASES=7
n=0
pass=0
fail=0

diag() {	# diag FILE : print FILE as KTAP diagnostics
	sed 's/^/# /' "$1"
}

# vmcase NAME WANT REASON CHECK [run.sh ARGS...]
#   WANT is the runner's expected exit status, or "nonzero"; REASON is an
#   extended regex its stderr must match (empty: anything); CHECK is a
#   function that must succeed afterwards ("-": none).
vmcase() {
	local name=$1 want=$2 reason=$3 check=$4 rc=0 t0 ok=1
	local log=$logdir/$name.log err=$tmp/$name.err

	shift 4
	n=$((n + 1))
	t0=$SECONDS
	"$run" --quiet --log "$log" "$@" 2>"$err" || rc=$?
	echo "# $name: run.sh exit $rc after $((SECONDS - t0))s, want $want"
	diag "$err"
	case $want in
	nonzero) ((rc != 0)) || ok=0 ;;
	*) ((rc == want)) || ok=0 ;;
	esac
	if [[ -n $reason ]] && ! grep -qE "$reason" "$err"; then
		echo "# $name: stderr does not match /$reason/"
		ok=0
	fi
	if [[ $check != - ]] && ! "$check"; then
		echo "# $name: $check failed"
		ok=0
	fi
	if ((ok)); then
		pass=$((pass + 1))
		echo "ok $n $name"
	else
		fail=$((fail + 1))
		echo "# last console lines ($log):"
		tail -n 40 "$log" | sed 's/^/#   /'
		echo "not ok $n $name"
	fi
}

echo "KTAP version 1"
echo "1..$NCASES"

vmcase guest_true 0 'exit 0 \(command 0' - -- true
vmcase guest_false nonzero 'exit 1 \(command 1' - -- false
vmcase exit_status 3 'exit 3 \(command 3' - -- sh -c 'exit 3'

# The guest sees the host's tools and the 6.12 modules, can write anywhere
# (tmpfs overlay), starts in the repo and leaves results in build/vm/out.
stamp=selftest-$$-$RANDOM
stamp_ok() {
	[[ $(cat "$outdir/$stamp" 2>/dev/null) == ok ]]
}
rm -f "$outdir/$stamp"
# shellcheck disable=SC2016 # expanded by the guest's bash
vmcase host_root 0 '' stamp_ok -- bash -c '
	set -ex
	for t in bash ip modprobe busybox; do command -v $t; done
	[[ $(cat /proc/sys/kernel/panic_on_warn) == 1 ]]
	modprobe veth
	ip link add vm0 type veth peer name vm1
	ip link set vm0 up
	ip link del vm0
	echo scratch >/usr/maquis-vm-selftest
	[[ $PWD == "$1" ]]
	echo ok >"$MAQUIS_VM_OUT/$2"' _ "$repo" "$stamp"
rm -f "$outdir/$stamp"

# A kernel splat that does not panic is still caught on the console.
vmcase console_splat 126 'BUG: maquis-vm selftest' - -- \
	sh -c 'echo "BUG: maquis-vm selftest, not a real one" >/dev/kmsg'

# A WARN in a module panics the guest (panic_on_warn) and fails the run.
wlog=$tmp/warn-build.log
if make -C "$here/warn" >"$wlog" 2>&1; then
	vmcase warn_module 126 'WARNING:.*maquis_vm_warn' - \
		--insmod "$here/warn/maquis_vm_warn.ko" -- true
else
	n=$((n + 1))
	fail=$((fail + 1))
	diag "$wlog"
	echo "not ok $n warn_module"
fi

vmcase timeout 124 'timeout after 20s' - --timeout 20 -- sleep 1000

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
((fail == 0 && n == NCASES))
